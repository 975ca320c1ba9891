"""Data sets: separable data in the unit ball, drawn by family, with a certified margin.

:func:`datasets` draws a :class:`DrawnData`: a validated data set
(:func:`invariants.core.data.make_dataset`) of one of :data:`FAMILIES`, with the target
margin it was built around and a witness that certifies it.

What is promised, and how it is certified: every drawn data set satisfies the paper's
Notation (``||x_i|| <= 1``, labels in {-1, +1}) and is separable with max margin
``gamma >= margin_lower_bound >= min_margin``.  The data are *built* around a unit
witness ``u`` with ``<u, z_i> >= t + 1e-12`` for a drawn target ``t``;
:func:`invariants.core.data.certified_margin` re-derives a rigorous lower bound
``min_i <u, z_i> / ||u||`` (minus the rounding of the dot products) and the strategy
checks it is ``>= t`` before returning.

Statements served: the paper's Notation (data in the unit ball, labels +-1, separable)
for every property test that draws data; ``sphere`` and ``underdetermined`` feed the
max-margin statements (S-T2, S-L3, S-L4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..core.data import Dataset, certified_margin, make_dataset
from .arguments import IntRange, choices, float_value, int_range
from .primitives import INSIDE, MARGIN_BUFFER, log_uniform, perp_units, seeds, unit_vector

#: Data-set families drawn by :func:`datasets`.
FAMILIES: tuple[str, ...] = (
    "generic",
    "duplicates",
    "sphere",
    "collinear",
    "single",
    "underdetermined",
)


@dataclass(frozen=True, eq=False)
class DrawnData:
    """A drawn :class:`~invariants.core.data.Dataset` with what the strategy promises about it.

    Attributes
    ----------
    data
        The validated data set (built with :func:`invariants.core.data.make_dataset`).
    family
        One of :data:`FAMILIES`.
    margin_lower_bound
        The drawn target margin ``t``: the max margin satisfies
        ``gamma >= t >= min_margin``.
    witness
        A (numerically) unit vector ``u`` certifying it:
        ``certified_margin(data.z, witness) >= margin_lower_bound``.
    """

    data: Dataset
    family: str
    margin_lower_bound: float
    witness: np.ndarray

    @property
    def n(self) -> int:
        """Number of points."""
        return self.data.n

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.data.d

    def __repr__(self) -> str:
        return (
            f"DrawnData(family={self.family!r}, n={self.n}, d={self.d}, "
            f"margin_lower_bound={self.margin_lower_bound!r}, "
            f"witness={self.witness.tolist()!r}, x={self.data.x.tolist()!r}, "
            f"y={self.data.y.tolist()!r})"
        )


class OnDrawnData:
    """The data views of a record that holds a :class:`DrawnData` as ``drawn``."""

    drawn: DrawnData

    @property
    def data(self) -> Dataset:
        """The data set."""
        return self.drawn.data

    @property
    def z(self) -> np.ndarray:
        """Rows ``z_i = y_i x_i``."""
        return self.drawn.data.z

    @property
    def n(self) -> int:
        """Number of points."""
        return self.drawn.n

    @property
    def d(self) -> int:
        """Input dimension."""
        return self.drawn.d


def _margins(rng: np.random.Generator, n: int, d: int, t: float, top: float) -> np.ndarray:
    """Margins ``g_i in [t, top]``, biased towards t, with at least one equal to t.

    About half the time a random subset of up to ``min(n, d)`` points is put
    exactly on the margin ``t`` (several support vectors, A3-like).  More than
    d points on one hyperplane would be a degenerate, non-generic configuration.
    """
    g = t + (top - t) * rng.random(n) ** 2
    g[rng.integers(n)] = t
    if rng.random() < 0.5:
        k = int(rng.integers(1, min(n, d) + 1))
        g[rng.choice(n, size=k, replace=False)] = t
    return g


def _build_generic(rng: np.random.Generator, n: int, d: int, t: float):
    """``z_i = g_i u + r_i q_i`` with ``g_i >= t``, ``q_i perp u``, inside the unit ball."""
    u = unit_vector(rng, d)
    g = _margins(rng, n, d, t, INSIDE)
    r = np.sqrt(np.maximum(0.0, 1.0 - g**2)) * rng.random(n) * INSIDE
    z = g[:, None] * u[None, :] + r[:, None] * perp_units(rng, u, n)
    return z, u


def _build_duplicates(rng: np.random.Generator, n: int, d: int, t: float):
    """Generic points, ``n_unique < n`` of them, repeated to n rows (exact copies of z_i)."""
    n_unique = int(rng.integers(1, n))  # 1 .. n-1
    z_u, u = _build_generic(rng, n_unique, d, t)
    idx = np.concatenate([np.arange(n_unique), rng.integers(0, n_unique, n - n_unique)])
    return z_u[rng.permutation(idx)], u


def _build_sphere(rng: np.random.Generator, n: int, d: int, t: float):
    """Points on the unit sphere: ``g_i u + sqrt(1 - g_i^2) q_i``, then normalised."""
    u = unit_vector(rng, d)
    if d == 1:
        return np.tile(u, (n, 1)), u  # u = +-1 exactly: the only unit points with margin > 0
    g = _margins(rng, n, d, t, 1.0)
    r = np.sqrt(np.maximum(0.0, 1.0 - g**2))
    z = g[:, None] * u[None, :] + r[:, None] * perp_units(rng, u, n)
    return z / np.linalg.norm(z, axis=1, keepdims=True), u


def _build_collinear(rng: np.random.Generator, n: int, d: int, t: float):
    """All points on one ray: ``z_i = c_i a`` with ``c_i in [t, 1)``, rank(Z) = 1."""
    a = unit_vector(rng, d)
    c = _margins(rng, n, d, t, INSIDE)
    return c[:, None] * a[None, :], a


_BUILDERS: dict[str, Callable] = {
    "generic": _build_generic,
    "duplicates": _build_duplicates,
    "sphere": _build_sphere,
    "collinear": _build_collinear,
    "single": _build_generic,
    "underdetermined": _build_generic,
}


def _available_families(n: tuple[int, int], d: tuple[int, int]) -> tuple[str, ...]:
    ok = {
        "generic": True,
        "duplicates": n[1] >= 2,
        "sphere": True,
        "collinear": True,
        "single": n[0] <= 1,
        "underdetermined": d[1] >= max(2, n[0] + 1),
    }
    return tuple(f for f in FAMILIES if ok[f])


@st.composite
def _sizes(draw, family: str, n: tuple[int, int], d: tuple[int, int]) -> tuple[int, int]:
    """``(n, d)`` within the ranges and the family's constraints."""
    if family == "underdetermined":
        dd = draw(st.integers(max(d[0], 2, n[0] + 1), d[1]), label="d")
        return draw(st.integers(n[0], min(n[1], dd - 1)), label="n"), dd
    dd = draw(st.integers(*d), label="d")
    if family == "single":
        return 1, dd
    if family == "duplicates":
        return draw(st.integers(max(n[0], 2), n[1]), label="n"), dd
    return draw(st.integers(*n), label="n"), dd


@st.composite
def _datasets(
    draw, n: tuple[int, int], d: tuple[int, int], min_margin: float, families: tuple[str, ...]
) -> DrawnData:
    family = draw(st.sampled_from(families), label="family")
    nn, dd = draw(_sizes(family, n, d), label="sizes (n, d)")
    frac = draw(st.floats(0.0, 1.0), label="target margin (log-fraction)")
    t = log_uniform(min_margin, max(0.5, min_margin), frac)
    seed = draw(seeds(), label="data seed")
    rng = np.random.default_rng(seed)
    z, u = _BUILDERS[family](rng, nn, dd, t + MARGIN_BUFFER)
    y = rng.choice(np.array([-1.0, 1.0]), size=nn)
    # Labels are independent per row, so a repeated z_i appears as (x_i, y_i) or (-x_i, -y_i).
    x = y[:, None] * z  # multiplying by +-1 is exact, so y x reproduces z bit for bit
    data = make_dataset(x, y)
    # Internal consistency: a failure here is a bug of this module, never of the suite.
    lb = certified_margin(data.z, u)
    if not lb >= t:
        raise AssertionError(f"{family}: certified margin {lb!r} < target {t!r}")
    witness = np.array(u, dtype=np.float64)
    witness.setflags(write=False)
    return DrawnData(data=data, family=family, margin_lower_bound=t, witness=witness)


def datasets(
    *,
    n: IntRange = (1, 60),
    d: IntRange = (1, 8),
    min_margin: float = 1e-3,
    family: str | Sequence[str] | None = None,
) -> st.SearchStrategy[DrawnData]:
    """Separable data sets in the unit ball, as :class:`DrawnData`.

    Parameters
    ----------
    n, d
        Number of points and input dimension: an int or an inclusive
        ``(lo, hi)`` range.
    min_margin
        Lower bound on every drawn max margin gamma, in ``[1e-8, 0.9]``.  The
        target margin ``t`` is drawn log-uniformly in
        ``[min_margin, max(0.5, min_margin)]`` and shrinks to ``min_margin``.
    family
        One family name, a list of them, or None for every family the ranges
        allow (drawn with ``st.sampled_from``; shrinks towards ``"generic"``):

        - ``"generic"``: a random unit witness u; ``z_i = g_i u + r_i q_i`` with
          ``g_i >= t`` (biased towards t; often several points exactly on the
          margin), ``q_i perp u`` and ``||z_i|| < 1``; random labels, ``x_i = y_i z_i``.
        - ``"duplicates"``: generic points, ``n_unique < n`` of them, repeated
          (identical rows of z; n >= 2).
        - ``"sphere"``: every ``||x_i|| = 1`` to rounding (``g_i u +
          sqrt(1 - g_i^2) q_i``, then normalised; the margin survives because
          normalising changes it by a few ulps, well inside the 1e-12 buffer).
        - ``"collinear"``: ``z_i = c_i a`` with ``c_i in [t, 1)`` on one ray
          through the origin (rank-1 Z; then ``ubar = a``, ``gamma = min c_i``).
        - ``"single"``: n = 1.
        - ``"underdetermined"``: n < d (needs d >= 2).

    Every data set is separable with ``gamma >= margin_lower_bound >= min_margin``:
    see :func:`invariants.core.data.certified_margin` and the witness.  Serves the paper's
    Notation (data in the unit ball, labels +-1, separable); ``sphere``/``underdetermined``
    feed the max-margin statements (S-T2, S-L3, S-L4).
    """
    nr = int_range(n, "n", 1)
    dr = int_range(d, "d", 1)
    margin = float_value(min_margin, "min_margin")
    if not 1e-8 <= margin <= 0.9:
        # Below 1e-8 the separability LP of make_dataset (threshold 1e-9) cannot
        # certify the data; above 0.9 the unit ball leaves little room.
        raise InvalidArgument(f"min_margin={min_margin!r} must lie in [1e-8, 0.9]")
    available = _available_families(nr, dr)
    chosen = choices(family, FAMILIES, "family")
    missing = [f for f in chosen if f not in available]
    if family is None:
        chosen = available
    elif missing:
        raise InvalidArgument(f"families {missing} are impossible with n={nr}, d={dr}")
    return _datasets(nr, dr, margin, chosen)
