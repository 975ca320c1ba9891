"""Hypothesis strategies for the property suite: data sets, architectures, initialisations.

Use ``from invariants import strategies`` and ``strategies.<name>``; this package
re-exports the whole public API (:data:`__all__`) from its modules, one concern each:

- :mod:`~invariants.strategies.arguments`: argument validation; an invalid argument
  raises :class:`hypothesis.errors.InvalidArgument` when a strategy is built, not when it
  is drawn from.
- :mod:`~invariants.strategies.primitives`: seeds, log-uniform scales and random unit
  vectors, shared by the modules below.
- :mod:`~invariants.strategies.data`: separable data sets with a certified margin
  (:func:`datasets`, :class:`DrawnData`, :data:`FAMILIES`).
- :mod:`~invariants.strategies.networks`: architectures, losses, initialisations
  ``W(0)`` with their A2 status, and whole problems (:func:`architectures`,
  :func:`losses`, :func:`initialisations`, :func:`problems`).
- :mod:`~invariants.strategies.a3`: data where A3 holds by construction, with ubar,
  gamma and theta known (:func:`a3_datasets`, :func:`build_a3`).

Everything random is drawn through Hypothesis (bulk arrays from a generator seeded by a
drawn seed).  Each module says what it promises and how the promise is certified.

Statements served: the paper's Notation and Assumptions for every property test; A2,
S-A2a and S-A2b (the initialisation kinds); S-FIG2 (equal-Frobenius initialisation);
S-L2a, S-L2b and S-C1 (balanced initialisations); S-L3 and S-L4 (A3 data).
"""

from __future__ import annotations

from ..core.a2 import A2_RTOL, A2_VIOLATION_MARGIN
from .a3 import A3_GAP, A3_MIN_SPREAD, A3_MIN_WEIGHT, A3Data, a3_datasets, build_a3
from .arguments import IntRange
from .data import FAMILIES, DrawnData, datasets
from .networks import (
    A2_KINDS,
    INIT_KINDS,
    Init,
    Problem,
    architectures,
    initialisations,
    losses,
    problems,
)
from .primitives import seeds

__all__ = [
    "A2_KINDS",
    "A2_RTOL",
    "A2_VIOLATION_MARGIN",
    "A3_GAP",
    "A3_MIN_SPREAD",
    "A3_MIN_WEIGHT",
    "FAMILIES",
    "INIT_KINDS",
    "A3Data",
    "DrawnData",
    "Init",
    "IntRange",
    "Problem",
    "a3_datasets",
    "architectures",
    "build_a3",
    "datasets",
    "initialisations",
    "losses",
    "problems",
    "seeds",
]
