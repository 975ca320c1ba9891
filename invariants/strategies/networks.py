"""Networks and whole problems: architectures, losses, initialisations W(0), problems.

- :func:`architectures`: hidden widths of a depth-L network on R^d (the paper's network
  of depth L, ``d_0 = d``, ``d_L = 1``).
- :func:`losses`: the paper's exponential and logistic losses.
- :func:`initialisations`: ``W(0)`` of one of :data:`INIT_KINDS`, as an :class:`Init`
  with its A2 status.  The kinds that promise A2 (:data:`A2_KINDS`: ``zero_first``,
  ``small_gaussian``, ``balanced``, ``equal_frobenius``) deliver it, certified either by a
  clear decrease of the log-risk or by a Taylor bound (see
  :func:`invariants.core.a2.taylor_certifies_a2`); the ``a2_violating`` kind breaks A2
  clearly (zero gradient, or ``R(W(0)) >= R(0) (1 + 1e-6)``).  The flag
  ``Init.satisfies_a2`` is computed with :func:`invariants.core.network.satisfies_a2` at
  ``rtol =`` :data:`A2_RTOL`.
- :func:`problems`: a whole :class:`Problem` (data from
  :func:`invariants.strategies.data.datasets`, widths, loss, initialisation).

Statements served: A2, S-A2a and S-A2b directly (the initialisation kinds); the
equal-Frobenius initialisation of S-FIG2 (Fig. 2b); balanced initialisations
(``A_{k,k+1} = 0``, so ``D = 0``) for S-L2a/S-L2b/S-C1; and every property test that
draws a whole problem.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..core.a2 import A2_RTOL, certifies_a2, clearly_violates_a2
from ..core.data import Dataset
from ..core.losses import EXPONENTIAL, LOGISTIC, Loss, get_loss
from ..core.network import (
    Weights,
    a2_residuals,
    as_weights,
    end_to_end,
    layer_shapes,
    satisfies_a2,
    suffix_vectors,
)
from .arguments import IntRange, choices, int_range, scale_range
from .data import DrawnData, OnDrawnData, datasets
from .primitives import log_uniform, seeds, unit_vector

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
    lo, hi = int_range(depth, "depth", 1)
    wr = int_range(width, "width", 1)
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
    us = [unit_vector(rng, dim) for dim in dims[:-1]] + [np.array([sign_out])]
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
    s = log_uniform(scale[0], scale[1], frac)
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
    chosen = choices(kinds, INIT_KINDS, "kinds")
    return _initialisations(data, tuple(int(w) for w in widths), loss, chosen, scale_range(scale))


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


@dataclass(frozen=True, eq=False)
class Problem(OnDrawnData):
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
    int_range(depth, "depth", 1)
    int_range(width, "width", 1)
    loss_st = losses([loss] if isinstance(loss, str) else loss)
    chosen = choices(kinds, INIT_KINDS, "kinds")
    return _problems(data_st, depth, width, loss_st, chosen, scale_range(scale))
