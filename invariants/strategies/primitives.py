"""Shared primitives of the strategies: seeds, log-uniform scales, random unit vectors.

Everything random is drawn through Hypothesis.  Bulk arrays come from
``np.random.default_rng(seed)`` with ``seed`` drawn by :func:`seeds` (cheap for n = 60
points, and it shrinks well enough: seed, sizes and scales all shrink); no generator is
seeded from outside.  Scales are drawn as a fraction in ``[0, 1]`` and mapped
log-uniformly (:func:`log_uniform`), so they shrink to the low end.

The data sets (:mod:`~invariants.strategies.data`), the A3 data
(:mod:`~invariants.strategies.a3`) and the balanced initialisation
(:mod:`~invariants.strategies.networks`) build their points and layers from
:func:`unit_vector` and :func:`perp_units`.  Serves no statement directly.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

#: Data are built with margins ``>= t + MARGIN_BUFFER`` so that the certified bound
#: (which subtracts ~(d + 2) eps of rounding) still clears the target t.
MARGIN_BUFFER = 1e-12

#: Points that are not meant to lie on the unit sphere stay this far inside it,
#: so that no rounding can push them out.
INSIDE = 1.0 - 1e-9

_MAX_SEED = 2**32 - 1


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``np.random.default_rng``: every 32-bit integer, shrinking to 0."""
    return st.integers(0, _MAX_SEED)


def log_uniform(lo: float, hi: float, frac: float) -> float:
    """``lo (hi/lo)^frac``: a log-uniform value that shrinks (frac -> 0) to ``lo``."""
    return float(lo * (hi / lo) ** frac) if hi > lo else float(lo)


def unit_vector(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A uniformly random unit vector in R^dim (never zero)."""
    while True:
        v = rng.standard_normal(dim)
        nv = float(np.linalg.norm(v))
        if nv > 1e-3:
            return v / nv


def perp_units(rng: np.random.Generator, u: np.ndarray, n: int) -> np.ndarray:
    """n random unit vectors orthogonal to the unit vector u (rows); zeros if d = 1."""
    d = u.size
    if d == 1:
        return np.zeros((n, 1))
    q = rng.standard_normal((n, d))
    q -= np.outer(q @ u, u)
    nq = np.linalg.norm(q, axis=1)
    bad = nq < 1e-3  # (probability ~0) redraw degenerate rows deterministically
    while np.any(bad):
        r = rng.standard_normal((int(bad.sum()), d))
        r -= np.outer(r @ u, u)
        q[bad] = r
        nq = np.linalg.norm(q, axis=1)
        bad = nq < 1e-3
    return q / nq[:, None]
