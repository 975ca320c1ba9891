"""Hypothesis strategies for the property suite: data sets, architectures, initialisations.

Style after ``data-apis/array-api-tests`` (``hypothesis_helpers``): small
composable ``@st.composite`` functions, arguments validated eagerly (an invalid
argument raises :class:`hypothesis.errors.InvalidArgument` when the strategy is
built, not when it is drawn from).

Everything random is drawn through Hypothesis.  Bulk arrays come from
``np.random.default_rng(seed)`` with ``seed`` drawn by Hypothesis (cheap for
n = 60 points, and it shrinks well enough: seed, sizes and scales all shrink);
no generator is seeded from outside.

What is promised, and how it is certified:

* :func:`datasets` -- every drawn data set satisfies the Notation section of
  STATEMENTS.md (``||x_i|| <= 1``, labels in {-1, +1}) and is separable with
  max margin ``gamma >= margin_lower_bound >= min_margin``.  The data are
  *built* around a unit witness ``u`` with ``<u, z_i> >= t + 1e-12`` for a
  drawn target ``t``; :func:`invariants.core.data.certified_margin` re-derives a rigorous lower
  bound ``min_i <u, z_i> / ||u||`` (minus the rounding of the dot products)
  and the strategy checks it is ``>= t`` before returning.
* :func:`initialisations` -- the kinds that promise A2 (S-A2a and the random
  inits) deliver it, certified either by a clear decrease of the log-risk or
  by a Taylor bound (see :func:`invariants.core.a2.taylor_certifies_a2`); the ``a2_violating``
  kind breaks A2 clearly (zero gradient, or ``R(W(0)) >= R(0) (1 + 1e-6)``).
  The flag ``Init.satisfies_a2`` is computed with
  :func:`invariants.core.network.satisfies_a2` at ``rtol =`` :data:`A2_RTOL`.

Statements served: the Notation and Assumptions of STATEMENTS.md for every
S-... property test; A2, S-A2a and S-A2b directly (initialisation kinds); the
equal-Frobenius initialisation of S-FIG2 (Fig. 2b); balanced initialisations
(``A_{k,k+1} = 0``, so ``D = 0``) for S-L2a/S-L2b/S-C1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from .core.a2 import A2_RTOL, A2_VIOLATION_MARGIN, certifies_a2, clearly_violates_a2
from .core.data import Dataset, certified_margin, make_dataset
from .core.losses import EXPONENTIAL, LOGISTIC, Loss, get_loss
from .core.network import (
    Weights,
    a2_residuals,
    as_weights,
    end_to_end,
    layer_shapes,
    satisfies_a2,
    suffix_vectors,
)

__all__ = [
    "A2_KINDS",
    "A2_RTOL",
    "A2_VIOLATION_MARGIN",
    "FAMILIES",
    "INIT_KINDS",
    "DrawnData",
    "Init",
    "Problem",
    "a3_datasets",
    "architectures",
    "datasets",
    "initialisations",
    "losses",
    "problems",
    "seeds",
]


#: Data-set families drawn by :func:`datasets`.
FAMILIES: tuple[str, ...] = (
    "generic",
    "duplicates",
    "sphere",
    "collinear",
    "single",
    "underdetermined",
)

#: Initialisation kinds drawn by :func:`initialisations`.
INIT_KINDS: tuple[str, ...] = (
    "zero_first",
    "small_gaussian",
    "balanced",
    "equal_frobenius",
    "a2_violating",
)

#: The kinds that promise A2 (every kind but ``a2_violating``).
A2_KINDS: tuple[str, ...] = tuple(k for k in INIT_KINDS if k != "a2_violating")


# Data are built with margins >= t + _MARGIN_BUFFER so that the certified bound
# (which subtracts ~(d + 2) eps of rounding) still clears the target t.
_MARGIN_BUFFER = 1e-12

# Points that are not meant to lie on the unit sphere stay this far inside it,
# so that no rounding can push them out.
_INSIDE = 1.0 - 1e-9

_MAX_SEED = 2**32 - 1

IntRange = int | tuple[int, int]


# --- argument validation ----------------------------------------------------------------


def _int_range(value: IntRange, name: str, minimum: int) -> tuple[int, int]:
    """``value`` as an inclusive ``(lo, hi)`` with ``minimum <= lo <= hi``."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be an int or a (lo, hi) pair of ints")
    if isinstance(value, int):
        lo = hi = value
    else:
        try:
            lo, hi = value
        except (TypeError, ValueError):
            raise InvalidArgument(
                f"{name}={value!r} must be an int or a (lo, hi) pair of ints"
            ) from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)):
        raise InvalidArgument(f"{name}={value!r} must hold ints")
    if not minimum <= lo <= hi:
        raise InvalidArgument(f"{name}={value!r} needs {minimum} <= lo <= hi")
    return int(lo), int(hi)


def _choices(value: str | Sequence[str] | None, allowed: tuple[str, ...], name: str) -> tuple:
    """Normalise a single name / list of names / None (= all) and validate it."""
    if value is None:
        chosen = allowed
    elif isinstance(value, str):
        chosen = (value,)
    else:
        chosen = tuple(value)
    if not chosen:
        raise InvalidArgument(f"{name} must name at least one of {allowed}")
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise InvalidArgument(f"unknown {name} {unknown}; valid: {allowed}")
    return tuple(dict.fromkeys(chosen))  # de-duplicated, order kept


def _scale_range(scale: tuple[float, float]) -> tuple[float, float]:
    """``scale`` as floats with ``0 < lo <= hi < inf``."""
    try:
        lo, hi = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise InvalidArgument(f"scale={scale!r} must be a (lo, hi) pair of floats") from None
    if not (0.0 < lo <= hi < math.inf):
        raise InvalidArgument(f"scale={scale!r} needs 0 < lo <= hi < inf")
    return lo, hi


def _log_uniform(lo: float, hi: float, frac: float) -> float:
    """``lo (hi/lo)^frac``: a log-uniform value that shrinks (frac -> 0) to ``lo``."""
    return float(lo * (hi / lo) ** frac) if hi > lo else float(lo)


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``np.random.default_rng``: every 32-bit integer, shrinking to 0."""
    return st.integers(0, _MAX_SEED)


# --- data sets --------------------------------------------------------------------------


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


def _unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    """A uniformly random unit vector in R^dim (never zero)."""
    while True:
        v = rng.standard_normal(dim)
        nv = float(np.linalg.norm(v))
        if nv > 1e-3:
            return v / nv


def _perp_units(rng: np.random.Generator, u: np.ndarray, n: int) -> np.ndarray:
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
    u = _unit(rng, d)
    g = _margins(rng, n, d, t, _INSIDE)
    r = np.sqrt(np.maximum(0.0, 1.0 - g**2)) * rng.random(n) * _INSIDE
    z = g[:, None] * u[None, :] + r[:, None] * _perp_units(rng, u, n)
    return z, u


def _build_duplicates(rng: np.random.Generator, n: int, d: int, t: float):
    """Generic points, ``n_unique < n`` of them, repeated to n rows (exact copies of z_i)."""
    n_unique = int(rng.integers(1, n))  # 1 .. n-1
    z_u, u = _build_generic(rng, n_unique, d, t)
    idx = np.concatenate([np.arange(n_unique), rng.integers(0, n_unique, n - n_unique)])
    return z_u[rng.permutation(idx)], u


def _build_sphere(rng: np.random.Generator, n: int, d: int, t: float):
    """Points on the unit sphere: ``g_i u + sqrt(1 - g_i^2) q_i``, then normalised."""
    u = _unit(rng, d)
    if d == 1:
        return np.tile(u, (n, 1)), u  # u = +-1 exactly: the only unit points with margin > 0
    g = _margins(rng, n, d, t, 1.0)
    r = np.sqrt(np.maximum(0.0, 1.0 - g**2))
    z = g[:, None] * u[None, :] + r[:, None] * _perp_units(rng, u, n)
    return z / np.linalg.norm(z, axis=1, keepdims=True), u


def _build_collinear(rng: np.random.Generator, n: int, d: int, t: float):
    """All points on one ray: ``z_i = c_i a`` with ``c_i in [t, 1)``, rank(Z) = 1."""
    a = _unit(rng, d)
    c = _margins(rng, n, d, t, _INSIDE)
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
    t = _log_uniform(min_margin, max(0.5, min_margin), frac)
    seed = draw(seeds(), label="data seed")
    rng = np.random.default_rng(seed)
    z, u = _BUILDERS[family](rng, nn, dd, t + _MARGIN_BUFFER)
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
    see :func:`invariants.core.data.certified_margin` and the witness.  Serves the Notation and
    Assumptions of STATEMENTS.md; ``sphere``/``underdetermined`` feed the
    max-margin statements (S-T2, S-L3, S-L4).
    """
    nr = _int_range(n, "n", 1)
    dr = _int_range(d, "d", 1)
    if isinstance(min_margin, bool) or not isinstance(min_margin, int | float):
        raise InvalidArgument(f"min_margin={min_margin!r} must be a float")
    if not 1e-8 <= float(min_margin) <= 0.9:
        # Below 1e-8 the separability LP of make_dataset (threshold 1e-9) cannot
        # certify the data; above 0.9 the unit ball leaves little room.
        raise InvalidArgument(f"min_margin={min_margin!r} must lie in [1e-8, 0.9]")
    available = _available_families(nr, dr)
    chosen = _choices(family, FAMILIES, "family")
    missing = [f for f in chosen if f not in available]
    if family is None:
        chosen = available
    elif missing:
        raise InvalidArgument(f"families {missing} are impossible with n={nr}, d={dr}")
    return _datasets(nr, dr, float(min_margin), chosen)


# --- architectures -------------------------------------------------------------------------


def architectures(
    d: int, *, depth: IntRange = (1, 6), width: IntRange = (1, 8)
) -> st.SearchStrategy[list[int]]:
    """Hidden widths ``[d_1, ..., d_{L-1}]`` of a depth-L network on R^d.

    ``L`` is drawn in ``depth`` and each hidden width in ``width`` (ints or
    inclusive ranges); ``layer_shapes(d, widths)`` gives the L layer shapes
    (``d_0 = d``, ``d_L = 1``).  Shrinks to depth ``depth[0]`` and the smallest
    widths.  (Notation: the network of depth L.)
    """
    if isinstance(d, bool) or not isinstance(d, int | np.integer) or d < 1:
        raise InvalidArgument(f"d={d!r} must be an int >= 1")
    lo, hi = _int_range(depth, "depth", 1)
    wr = _int_range(width, "width", 1)
    return _architectures((lo, hi), wr)


@st.composite
def _architectures(draw, depth: tuple[int, int], width: tuple[int, int]) -> list[int]:
    L = draw(st.integers(*depth), label="depth L")
    return [draw(st.integers(*width), label=f"d_{k}") for k in range(1, L)]


# --- initialisations -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Init:
    """An initialisation ``W(0)`` with its A2 status.

    ``name`` is one of :data:`INIT_KINDS`; ``satisfies_a2`` is
    :func:`invariants.core.network.satisfies_a2` at ``rtol =`` :data:`A2_RTOL`;
    ``description`` says how it was built (variant, scale actually used).
    """

    name: str
    weights: Weights
    satisfies_a2: bool
    description: str

    @property
    def depth(self) -> int:
        """L, the number of layers."""
        return len(self.weights)


def _gaussian(rng: np.random.Generator, shapes, s: float) -> list[np.ndarray]:
    """iid ``N(0, s^2 / fan_in)`` entries, ``fan_in = d_{k-1}``."""
    return [rng.standard_normal(shape) * (s / math.sqrt(shape[1])) for shape in shapes]


def _orient(weights: list[np.ndarray], z: np.ndarray, sign: float) -> list[np.ndarray] | None:
    """Flip W_L so that ``sign <w_prod, mean z> > 0``; None if it is exactly 0.

    Negating W_L negates ``w_prod`` exactly (no rounding).
    """
    c = float(end_to_end(tuple(weights)) @ z.mean(axis=0))
    if c == 0.0 or not np.isfinite(c):
        return None
    if sign * c < 0:
        weights = [*weights[:-1], -weights[-1]]
    return weights


# Each builder returns (weights, description) or None (then the example is rejected).
# ``z`` are the rows z_i; ``s`` the drawn scale.
_SHRINK_TRIES = 6  # scale, scale/10, ..., scale/1e5


def _init_zero_first(rng, z, shapes, loss, s, draw):
    """S-A2a: ``W_1(0) = 0``; W_2..W_L iid N(0, s^2/fan_in) with nonzero product.

    Then ``w_prod = 0`` exactly, ``R(W(0)) = R(0)``, and
    ``dR/dW_1 = (W_L ... W_2)^T grad R(0)^T`` with ``grad R(0) = loss'(0) mean(z) != 0``
    (separable data: ``<ubar, mean z> >= gamma > 0``), so A2 holds.  L = 1 is
    the zero initialisation, which also satisfies A2.
    """
    for _ in range(_SHRINK_TRIES):
        ws = _gaussian(rng, shapes, s)
        ws[0] = np.zeros(shapes[0])
        W = as_weights(ws)
        log_g, excess = a2_residuals(W, z, loss)
        # w_prod = 0 exactly, so R(W(0)) = R(0) exactly: only rounding (< A2_RTOL) remains.
        if np.any(suffix_vectors(W)[0] != 0.0) and np.isfinite(log_g) and excess <= A2_RTOL:
            return W, f"W_1 = 0, W_2..W_L iid N(0, {s:.3g}^2/fan_in)"
    return None


def _init_small_gaussian(rng, z, shapes, loss, s, draw):
    """iid ``N(0, s^2/fan_in)`` entries; W_L's sign makes ``<w_prod, mean z> > 0``.

    To first order ``R(+-w) = R(0) -+ |loss'(0)| <w, mean z>``, so the chosen
    sign lowers the risk unless the second-order term wins (large w, data
    spread across w); then the whole network is shrunk by 10 and redrawn, at
    most 5 times, before the example is rejected.
    """
    for _ in range(_SHRINK_TRIES):
        ws = _orient(_gaussian(rng, shapes, s), z, +1.0)
        if ws is not None and certifies_a2(W := as_weights(ws), z, loss):
            return W, f"iid N(0, {s:.3g}^2/fan_in), sign of W_L chosen for A2"
        s /= 10.0
    return None


def _balanced_layers(rng, shapes, c: float, sign_out: float) -> list[np.ndarray]:
    """``W_k = c u_k u_{k-1}^T`` with random unit ``u_0..u_{L-1}`` and ``u_L = [sign_out]``."""
    dims = [shapes[0][1]] + [r for r, _ in shapes]
    us = [_unit(rng, dim) for dim in dims[:-1]] + [np.array([sign_out])]
    return [np.outer(c * us[k + 1], us[k]) for k in range(len(shapes))]


def _init_balanced(rng, z, shapes, loss, s, draw):
    """Exactly balanced: ``A_{k,k+1} = 0`` for all k (so D = 0, S-L2a/S-L2b).

    ``d_L = 1`` forces a rank-one chain: ``W_k = c u_k u_{k-1}^T`` with unit
    ``u_k`` (``u_L = [+-1]``) and a common ``c > 0``.  Then
    ``W_k W_k^T = c^2 ||u_{k-1}||^2 u_k u_k^T`` and
    ``W_{k+1}^T W_{k+1} = c^2 ||u_{k+1}||^2 u_k u_k^T`` agree up to the rounding
    of the unit vectors' norms and of the outer products: a few ulps times
    ``c^2`` (bound derived in the meta-tests).  ``w_prod = +-c^L u_0``; the sign
    ``u_L`` is chosen so ``<w_prod, mean z> > 0``, c shrinks by 10 if needed.
    """
    zbar = z.mean(axis=0)
    for _ in range(_SHRINK_TRIES):
        ws = _balanced_layers(rng, shapes, s, 1.0)
        c0 = float(end_to_end(tuple(ws)) @ zbar)
        if c0 < 0:  # regenerate the same chain with u_L = [-1]: an exact sign flip of W_L
            ws = [*ws[:-1], -ws[-1]]
        if c0 != 0.0 and certifies_a2(W := as_weights(ws), z, loss):
            return W, f"balanced rank-one chain, c = {s:.3g}, sign of u_L chosen for A2"
        s /= 10.0
    return None


def _init_equal_frobenius(rng, z, shapes, loss, s, draw):
    """Paper Fig. 2b (S-FIG2): Gaussian layers each rescaled to ``||W_k||_F = s``.

    Sign of W_L chosen for A2 as in ``small_gaussian``; on failure every layer
    is shrunk by the same factor 10 (norms stay equal).
    """
    for _ in range(_SHRINK_TRIES):
        ws = [G * (s / float(np.linalg.norm(G))) for G in _gaussian(rng, shapes, 1.0)]
        ws = _orient(ws, z, +1.0)
        if ws is not None and certifies_a2(W := as_weights(ws), z, loss):
            return W, f"Gaussian layers rescaled to ||W_k||_F = {s:.3g}, sign chosen for A2"
        s /= 10.0
    return None


def _a2_violating_variants(shapes) -> tuple[str, ...]:
    out = ["risk_above_zero"]
    if len(shapes) >= 2:
        out.append("zero_gradient")
    if len(shapes) == 2 and shapes[0] == (1, 1):
        out.append("mirror")
    return tuple(out)


def _init_a2_violating(rng, z, shapes, loss, s, draw):
    """Breaks A2 on purpose (``satisfies_a2`` False).  Variants (drawn):

    - ``"risk_above_zero"``: Gaussian layers with ``<w_prod, mean z> < 0``; by
      convexity ``R(w) >= R(0) + loss'(0) <w, mean z> > R(0)``.  The network is
      grown by 2 per layer until ``log R(W(0)) - log R(0) >= A2_VIOLATION_MARGIN``.
    - ``"zero_gradient"`` (L >= 2): two or more layers are 0, so every
      ``dR/dW_k`` has a zero factor: ``grad R(W(0)) = 0`` exactly (and ``R = R(0)``).
    - ``"mirror"`` (S-A2b; L = 2, d = 1, width 1): ``W_2 = -sign(z) W_1^T``,
      the paper's ``w_1 = -w_2`` example (for data with z > 0), grown until
      the risk excess is clear.  Gradient flow keeps ``w_1 = -+w_2`` and the
      risk never drops below ``R(0)``.
    """
    variant = draw(st.sampled_from(_a2_violating_variants(shapes)), label="a2_violating variant")
    L = len(shapes)
    if variant == "zero_gradient":
        k = draw(st.integers(2, L), label="number of zero layers")
        zero = set(rng.choice(L, size=k, replace=False).tolist())
        ws = _gaussian(rng, shapes, s)
        for j in zero:
            ws[j] = np.zeros(shapes[j])
        return as_weights(ws), f"zero_gradient: layers {sorted(j + 1 for j in zero)} are 0"
    if variant == "mirror":
        a = s * (1.0 if rng.random() < 0.5 else -1.0)
        sz = 1.0 if float(z.mean()) > 0 else -1.0
        ws = [np.array([[a]]), np.array([[-sz * a]])]
        desc = "mirror (S-A2b): W_2 = -sign(z) W_1^T"
    else:
        ws = None
        while ws is None:  # <w, mean z> = 0 exactly has probability 0
            ws = _orient(_gaussian(rng, shapes, s), z, -1.0)
        desc = "risk_above_zero: <w_prod, mean z> < 0"
    factor = 1.0
    for _ in range(200):  # each pass multiplies w_prod by 2^L >= 2
        W = as_weights(ws)
        if clearly_violates_a2(W, z, loss):
            return W, f"{desc}, initial scale {s:.3g} grown by {factor:g} per layer"
        ws = [2.0 * M for M in ws]
        factor *= 2.0
    return None


_INIT_BUILDERS: dict[str, Callable] = {
    "zero_first": _init_zero_first,
    "small_gaussian": _init_small_gaussian,
    "balanced": _init_balanced,
    "equal_frobenius": _init_equal_frobenius,
    "a2_violating": _init_a2_violating,
}


@st.composite
def _initialisations(
    draw,
    data: Dataset,
    widths: tuple[int, ...],
    loss: Loss,
    kinds: tuple[str, ...],
    scale: tuple[float, float],
) -> Init:
    shapes = layer_shapes(data.d, widths)
    kind = draw(st.sampled_from(kinds), label="init kind")
    frac = draw(st.floats(0.0, 1.0), label="init scale (log-fraction)")
    s = _log_uniform(scale[0], scale[1], frac)
    rng = np.random.default_rng(draw(seeds(), label="init seed"))
    built = _INIT_BUILDERS[kind](rng, data.z, shapes, loss, s, draw)
    assume(built is not None)  # only when every retry failed; rare (see the meta-tests)
    weights, description = built
    flag = satisfies_a2(weights, data.z, loss, rtol=A2_RTOL)
    promised = kind != "a2_violating"
    if flag != promised:  # the builders check this already; a failure is a bug here
        raise AssertionError(f"{kind}: satisfies_a2 = {flag}, promised {promised}")
    return Init(name=kind, weights=weights, satisfies_a2=flag, description=description)


def initialisations(
    data: Dataset | DrawnData,
    widths: Sequence[int],
    loss: Loss | str,
    *,
    kinds: str | Sequence[str] | None = None,
    scale: tuple[float, float] = (1e-2, 1.0),
) -> st.SearchStrategy[Init]:
    """Initialisations ``W(0)`` for data on R^d and the given hidden widths.

    ``kinds`` (one name, a list, or None for all of :data:`INIT_KINDS`; drawn
    with ``st.sampled_from``, shrinking towards ``"zero_first"``):

    - ``"zero_first"`` (Appendix A, S-A2a): ``W_1 = 0``, the rest Gaussian.
    - ``"small_gaussian"``: iid ``N(0, s^2/fan_in)``, sign of W_L fixed for A2.
    - ``"balanced"``: rank-one chain ``c u_k u_{k-1}^T``, ``A_{k,k+1} = 0`` to rounding.
    - ``"equal_frobenius"`` (Fig. 2b, S-FIG2): every ``||W_k||_F = s``, sign fixed for A2.
    - ``"a2_violating"``: A2 broken (risk above R(0), zero gradient, or the
      S-A2b mirror); ``satisfies_a2`` is False.

    ``s`` is drawn log-uniformly in ``scale = (lo, hi)`` (shrinks to lo).  The
    A2 kinds may shrink s by powers of 10 to secure A2; ``a2_violating`` may
    grow it to make the violation clear.  ``description`` records the scale
    actually used.  Every kind but ``a2_violating`` has
    ``satisfies_a2 = True`` (A2 certified, see module docstring).
    """
    if isinstance(data, DrawnData):
        data = data.data
    if not isinstance(data, Dataset):
        raise InvalidArgument(f"data must be a Dataset or DrawnData, got {type(data).__name__}")
    try:
        layer_shapes(data.d, widths)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    loss = get_loss(loss) if isinstance(loss, str) else loss
    chosen = _choices(kinds, INIT_KINDS, "kinds")
    return _initialisations(data, tuple(int(w) for w in widths), loss, chosen, _scale_range(scale))


# --- losses and whole problems ----------------------------------------------------------------


def losses(names: Sequence[str] | None = None) -> st.SearchStrategy[Loss]:
    """The paper's losses (exponential, logistic), or those named; shrinks to exponential."""
    if names is None:
        return st.sampled_from((EXPONENTIAL, LOGISTIC))
    try:
        chosen = tuple(get_loss(nm) for nm in names)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    if not chosen:
        raise InvalidArgument("names must name at least one loss")
    return st.sampled_from(chosen)


class _OnDrawnData:
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


@dataclass(frozen=True, eq=False)
class Problem(_OnDrawnData):
    """One drawn problem: data, architecture, loss and initialisation."""

    drawn: DrawnData
    widths: tuple[int, ...]
    loss: Loss
    init: Init

    @property
    def weights(self) -> Weights:
        """``W(0)``."""
        return self.init.weights

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """Layer shapes ``(d_k, d_{k-1})``."""
        return layer_shapes(self.drawn.d, self.widths)


@st.composite
def _problems(draw, data_st, depth, width, loss_st, kinds, scale) -> Problem:
    drawn = draw(data_st, label="data")
    widths = draw(architectures(drawn.d, depth=depth, width=width), label="hidden widths")
    loss = draw(loss_st, label="loss")
    init = draw(initialisations(drawn, widths, loss, kinds=kinds, scale=scale), label="init")
    return Problem(drawn=drawn, widths=tuple(widths), loss=loss, init=init)


def problems(
    *,
    n: IntRange = (1, 60),
    d: IntRange = (1, 8),
    min_margin: float = 1e-3,
    family: str | Sequence[str] | None = None,
    depth: IntRange = (1, 6),
    width: IntRange = (1, 8),
    loss: str | Sequence[str] | None = None,
    kinds: str | Sequence[str] | None = None,
    scale: tuple[float, float] = (1e-2, 1.0),
) -> st.SearchStrategy[Problem]:
    """A whole problem ``(data, widths, loss, init)`` for the property tests.

    Arguments are those of :func:`datasets`, :func:`architectures`,
    :func:`losses` (``loss``: one name, a list, or None for both) and
    :func:`initialisations`; all are validated here, eagerly.  For the
    statements that assume A2, pass ``kinds=A2_KINDS``.
    """
    data_st = datasets(n=n, d=d, min_margin=min_margin, family=family)
    _int_range(depth, "depth", 1)
    _int_range(width, "width", 1)
    loss_st = losses([loss] if isinstance(loss, str) else loss)
    chosen = _choices(kinds, INIT_KINDS, "kinds")
    return _problems(data_st, depth, width, loss_st, chosen, _scale_range(scale))


# --- data where A3 holds by construction (S-L3, S-L4) ------------------------------------------

#: Non-support points of :func:`a3_datasets` have margin at least ``gamma + A3_GAP``
#: times ``max(gamma, 0.05)``: a clear gap, far above the max-margin solver's support
#: tolerance (``~4 (d + 2) eps``), so the designed support set is the computed one.
A3_GAP = 0.1

#: Barycentric weights of the simplex support vectors are ``>= A3_MIN_WEIGHT / d`` before
#: normalisation's rescaling (``lambda_i = (A3_MIN_WEIGHT + U(0, 1)) / sum``).
A3_MIN_WEIGHT = 0.2

#: The ``d - 1`` free simplex vertices are redrawn until their perpendicular parts have
#: ``sigma_min / sigma_max >= A3_MIN_SPREAD`` (no nearly flat simplex, so theta is not tiny).
A3_MIN_SPREAD = 0.05


@dataclass(frozen=True, eq=False)
class A3Data(_OnDrawnData):
    """A drawn data set where A3 holds by construction, with its max-margin solution known.

    Attributes
    ----------
    drawn
        The :class:`DrawnData` (family ``"a3"``; ``witness = ubar``).
    ubar, gamma
        The max-margin direction and margin, exact for the construction
        (the stored z_i are its float64 rounding).
    lam
        (d,) barycentric weights of the d simplex support vectors
        (``sum lam_i z_i = gamma ubar``); they are the dual weights.
    simplex
        (d,) row indices of those support vectors, in the order of ``lam``.
    support
        Sorted row indices of every support vector (``simplex`` plus the
        ``extra`` ones placed exactly on the margin).
    extra
        Number of extra support vectors (0: the support is exactly the simplex).
    theta
        theta of Lemma 3 in closed form (``min_j lam_j dist(q_j, aff{q_i : i != j})``,
        computed from the construction's perpendicular parts ``q_i``) when
        ``extra == 0``; None otherwise (the hull is then not a simplex).
    q
        (|support|, d) perpendicular parts ``q_i = z_i - gamma ubar`` of the
        support vectors as constructed (before rounding), rows in ``support`` order.
    """

    drawn: DrawnData
    ubar: np.ndarray
    gamma: float
    lam: np.ndarray
    simplex: np.ndarray
    support: np.ndarray
    extra: int
    theta: float | None
    q: np.ndarray

    def __repr__(self) -> str:
        return (
            f"A3Data(n={self.n}, d={self.d}, gamma={self.gamma!r}, extra={self.extra}, "
            f"theta={self.theta!r}, lam={self.lam.tolist()!r}, simplex={self.simplex.tolist()!r}, "
            f"ubar={self.ubar.tolist()!r}, drawn={self.drawn!r})"
        )


def _affine_distance(point: np.ndarray, others: np.ndarray) -> float:
    """Distance from ``point`` to the affine hull of the rows of ``others`` (least squares)."""
    base = others[0]
    if others.shape[0] == 1:
        return float(np.linalg.norm(point - base))
    m = (others[1:] - base).T
    coef = np.linalg.lstsq(m, point - base, rcond=None)[0]
    return float(np.linalg.norm(point - base - m @ coef))


def build_a3(
    rng: np.random.Generator,
    n: int,
    d: int,
    gamma: float,
    *,
    extra: int = 0,
    spread: float = 1.0,
) -> A3Data:
    """Build A3 data from a generator (the body of :func:`a3_datasets`, usable with a fixed seed).

    ``n >= d + extra``, ``d >= 2``, ``0 < gamma <= 0.5`` (plus the 1e-12 buffer
    :func:`a3_datasets` adds so that ``min_margin = 0.5`` certifies), ``spread in (0, 1]`` (the
    largest perpendicular part of a support vector is ``spread sqrt(1 - gamma^2)``).
    See :func:`a3_datasets` for the construction and why it is correct.
    """
    if d < 2 or n < d + extra or not 0 < gamma <= 0.5 + _MARGIN_BUFFER or not 0 < spread <= 1:
        raise ValueError(
            f"build_a3: need d >= 2, n >= d + extra, 0 < gamma <= 0.5; got {n, d, gamma}"
        )
    ubar = _unit(rng, d)
    lam = A3_MIN_WEIGHT + rng.random(d)
    lam = lam / lam.sum()
    for _ in range(1000):
        free = _perp_units(rng, ubar, d - 1) * (0.3 + 0.7 * rng.random(d - 1))[:, None]
        sv = np.linalg.svd(free, compute_uv=False)
        if sv[-1] >= A3_MIN_SPREAD * sv[0]:
            break
    last = -(lam[:-1] @ free) / lam[-1]
    q = np.vstack([free, last[None, :]])
    if extra:
        q = np.vstack([q, _perp_units(rng, ubar, extra) * rng.random(extra)[:, None]])
    q = q * (
        spread * math.sqrt(1.0 - gamma**2) * _INSIDE / float(np.max(np.linalg.norm(q, axis=1)))
    )
    # Second Gram-Schmidt pass: _perp_units' single pass leaves a ubar-component of
    # ~eps |q_raw| / |q_perp| (up to ~1e-14 when the raw draw is nearly parallel to
    # ubar); after this one it is ~eps |q|, so every support margin is gamma to ~(d+2) eps.
    q = q - np.outer(q @ ubar, ubar)
    z_sup = gamma * ubar[None, :] + q
    n_off = n - d - extra
    g = (
        gamma
        + A3_GAP * max(gamma, 0.05)
        + (_INSIDE - gamma - A3_GAP * max(gamma, 0.05)) * rng.random(n_off)
    )
    r = np.sqrt(np.maximum(0.0, 1.0 - g**2)) * rng.random(n_off) * _INSIDE
    z_off = g[:, None] * ubar[None, :] + r[:, None] * _perp_units(rng, ubar, n_off)
    z = np.vstack([z_sup, z_off])
    order = rng.permutation(n)  # row order[k] of the output is row k of z... inverted below
    inv = np.argsort(order)
    z = z[order]
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    data = make_dataset(y[:, None] * z, y)
    simplex = inv[:d].astype(np.intp)
    support_rows = inv[: d + extra]
    srt = np.argsort(support_rows)
    support = support_rows[srt].astype(np.intp)
    q_sorted = q[srt]
    theta = None
    if extra == 0:
        theta = min(
            float(lam[j]) * _affine_distance(q[j], np.delete(q, j, axis=0)) for j in range(d)
        )
    lb = certified_margin(data.z, ubar)
    for a in (ubar, lam, simplex, support, q_sorted):
        a.setflags(write=False)
    drawn = DrawnData(data=data, family="a3", margin_lower_bound=lb, witness=ubar)
    return A3Data(drawn, ubar, float(gamma), lam, simplex, support, int(extra), theta, q_sorted)


@st.composite
def _a3_datasets(draw, n, d, min_margin, extra) -> A3Data:
    dd = draw(st.integers(*d), label="d")
    k = draw(st.integers(*extra), label="extra support vectors")
    nn = draw(st.integers(max(n[0], dd + k), max(n[1], dd + k)), label="n")
    frac = draw(st.floats(0.0, 1.0), label="gamma (log-fraction)")
    gamma = _log_uniform(min_margin, max(0.5, min_margin), frac) + _MARGIN_BUFFER
    # Capped at 0.5, but never below min_margin + buffer: at min_margin = 0.5 (the top of
    # the documented range) a cap at 0.5 left the certified margin ~1e-15 short of 0.5.
    gamma = min(gamma, max(0.5, min_margin + _MARGIN_BUFFER))
    spread = draw(st.floats(0.2, 1.0), label="spread of the support vectors")
    seed = draw(seeds(), label="data seed")
    out = build_a3(np.random.default_rng(seed), nn, dd, gamma, extra=k, spread=spread)
    # Internal consistency: a failure here is a bug of this module, never of the suite.
    if not out.drawn.margin_lower_bound >= min_margin:
        raise AssertionError(
            f"a3: certified margin {out.drawn.margin_lower_bound!r} < {min_margin}"
        )
    return out


def a3_datasets(
    *,
    n: IntRange = (2, 30),
    d: IntRange = (2, 6),
    min_margin: float = 0.02,
    extra: IntRange = 0,
) -> st.SearchStrategy[A3Data]:
    """Data where A3 holds by construction and ubar, gamma, theta are known (S-L3, S-L4).

    Construction (:func:`build_a3`): a random unit ubar; gamma log-uniform in
    ``[min_margin, 0.5]``; barycentric weights ``lam_i > 0`` bounded away from 0
    (:data:`A3_MIN_WEIGHT`); ``d - 1`` random ``q_i perp ubar`` (not nearly
    flat: :data:`A3_MIN_SPREAD`) and ``q_d = -(sum_{i<d} lam_i q_i) / lam_d``, so
    ``sum lam_i q_i = 0``; all scaled so ``||z_i|| < 1`` for the support vectors
    ``z_i = gamma ubar + q_i``.  ``extra`` more support vectors may be put
    exactly on the margin (``gamma ubar + q``, any ``q perp ubar``).  The other
    points have margin ``>= gamma + A3_GAP max(gamma, 0.05)`` (a clear gap) and
    norm < 1.  Rows are shuffled, labels random, ``x = y z`` (exact).

    Why (ubar, gamma) is the max-margin solution (KKT): ``gamma ubar = sum lam_i z_i``
    lies in ``conv{z_i}`` and every ``<ubar, z_i> >= gamma``, so
    ``gamma <= min_{p in conv} ||p|| <= ||gamma ubar|| = gamma`` and gamma ubar is
    the minimum-norm point.  A3 holds: the d simplex vertices ``q_i`` are
    affinely independent in ``ubar^perp`` (the free ones are linearly
    independent; the matrix taking them to the edge vectors is
    ``I + 1 mu^T`` with ``det = 1 + sum mu > 0``), so the ``z_i`` span R^d.
    theta (no extras) is ``min_j lam_j h_j`` with ``h_j`` the distance of ``q_j``
    from the opposite facet: the origin's barycentric coordinates are the
    ``lam_j``, and a barycentric coordinate is the ratio of heights above that
    facet.

    ``n`` is raised to ``d + extra`` when the drawn n is smaller.  Shrinks
    towards small n, d, gamma = min_margin, and seed 0.
    """
    nr = _int_range(n, "n", 1)
    dr = _int_range(d, "d", 2)
    er = _int_range(extra, "extra", 0)
    if isinstance(min_margin, bool) or not isinstance(min_margin, int | float):
        raise InvalidArgument(f"min_margin={min_margin!r} must be a float")
    if not 1e-3 <= float(min_margin) <= 0.5:
        # Below ~1e-3 the max-margin certificate (1e-12, relative) meets the rounding floor.
        raise InvalidArgument(f"min_margin={min_margin!r} must lie in [1e-3, 0.5]")
    return _a3_datasets(nr, dr, float(min_margin), er)
