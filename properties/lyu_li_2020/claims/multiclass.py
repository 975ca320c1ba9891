"""Multi-class cross-entropy on the bias-free ReLU digits network (LL-F, LL-FIG1).

The network is :mod:`invariants.relu`'s (``x -> W_L relu(... relu(W_1 x))``, no biases,
``p = L`` weight layers), small so the budget holds: a stratified subset of
:data:`N_DIGITS` digits, hidden width :data:`WIDTH`, depth 2 or 3.  The loss is the summed
cross-entropy of :mod:`invariants.core.multiclass`, and every rate is divided by ``Lsum``
(the step ``theta -= alpha g`` with ``g = grad Lsum / Lsum`` is the paper's loss-based
learning rate ``eta = alpha / Lsum``; a constant step ``eta`` is ``theta -= eta Lsum g``).

One run per ``(seed, depth)`` (:func:`digits_run`, cached): GD with the loss-based step
:data:`FIT_ALPHA` from PyTorch's default initialisation until ``Lsum < log 2`` (the fit,
(M4)), then from that state two runs of :data:`POST_STEPS` steps with the same first step,
the loss-based one (``alpha`` = :data:`ALPHA`) and the constant one (``eta = ALPHA /
Lsum(fit)``).  LL-F is checked at their states; LL-FIG1 compares the two.

The tolerances (each derived beside its check) share :func:`log_domain_error`, the
rounding of any log-domain quantity computed from the pair margins.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from invariants import relu
from invariants.core import multiclass as mc
from invariants.core.rounding import EPS, gamma_unit, slack_ratio
from invariants.statements import Slack

N_DIGITS = 200
WIDTH = 32
DEPTHS = (2, 3)
SEEDS = (0, 1, 2, 3)
#: The fit's loss-based step (measured: 280-460 steps to ``Lsum < log 2`` at depth 2-3).
FIT_ALPHA = 0.2
FIT_MAX_STEPS = 4000
#: The post-fit loss-based step, and the number of post-fit steps of each run.
ALPHA = 0.01
POST_STEPS = 300
#: Windows of a post-fit run compared by LL-FIG1.
WINDOWS = 5


# --- the network at one point ---------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """The digits network at one parameter point, with what LL-F's checks read.

    ``theta``/``g``: the flat parameters and ``grad Lsum / Lsum`` (layers, then biases if
    any); ``s``: pair margins; ``abs_products[k] = <|W_k|, |D_k|^T |H_{k-1}|>`` with ``D_k``
    the scaled backprop signal (the rounding scale of the Euler identity); ``dims``: the
    widths ``(d_0, ..., d_L)``.
    """

    theta: np.ndarray
    g: np.ndarray
    s: np.ndarray
    log_loss: float
    order: int
    abs_products: np.ndarray
    dims: tuple[int, ...]
    weights: tuple[np.ndarray, ...]

    @property
    def n(self) -> int:
        return int(self.s.shape[0])

    @property
    def n_classes(self) -> int:
        return int(self.s.shape[1]) + 1


def evaluate(
    weights: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    biases: Sequence[np.ndarray] | None = None,
) -> Point:
    """Forward, the scaled logit gradient (:func:`mc.logit_gradient_over_loss`) and backprop.

    ``biases`` (one vector per layer) make the network inhomogeneous: only for controls.
    """
    weights = tuple(np.asarray(W, dtype=np.float64) for W in weights)
    H = [np.asarray(X, dtype=np.float64)]
    A = []
    for k, W in enumerate(weights):
        a = H[-1] @ W.T + (biases[k] if biases is not None else 0.0)
        A.append(a)
        if k < len(weights) - 1:
            H.append(np.maximum(a, 0.0))
    D = mc.logit_gradient_over_loss(A[-1], y)
    L = len(weights)
    G: list[np.ndarray] = [np.empty(0)] * L
    Gb: list[np.ndarray] = [np.empty(0)] * L
    T = np.zeros(L)
    for k in range(L - 1, -1, -1):
        G[k] = D.T @ H[k]
        Gb[k] = D.sum(axis=0)
        T[k] = float(np.vdot(np.abs(weights[k]), np.abs(D).T @ np.abs(H[k])))
        if k:
            D = (D @ weights[k]) * (A[k - 1] > 0.0)
    blocks = [W.ravel() for W in weights] + (list(biases) if biases is not None else [])
    grads = [M.ravel() for M in G] + (Gb if biases is not None else [])
    s = mc.pair_margins(A[-1], y)
    dims = (weights[0].shape[1], *(W.shape[0] for W in weights))
    return Point(
        theta=np.concatenate(blocks),
        g=np.concatenate(grads),
        s=s,
        log_loss=mc.log_cross_entropy_sum(s),
        order=L,
        abs_products=T,
        dims=dims,
        weights=weights,
    )


# --- the runs -------------------------------------------------------------------------------


class Schedule:
    """A step rule ``theta -= alpha g`` (``g = grad Lsum / Lsum``): :meth:`alpha` from the
    current and the starting ``log Lsum``; :meth:`rejects` says whether a step that did
    not lower ``Lsum`` is undone (the adaptive rule), :meth:`feedback` updates the rule."""

    def alpha(self, log_l: float, log_l0: float) -> float:
        raise NotImplementedError

    def rejects(self) -> bool:
        return False

    def feedback(self, success: bool) -> None:
        return None


@dataclass
class Constant(Schedule):
    """``eta = alpha0 / Lsum(start)``: a constant step, the loss-based one's first step."""

    alpha0: float

    def alpha(self, log_l: float, log_l0: float) -> float:
        return self.alpha0 * float(np.exp(log_l - log_l0))


@dataclass
class LossBased(Schedule):
    """``eta = alpha / Lsum`` with the paper's adaptive ``alpha`` (App. K.1): times
    ``2^{1/5}`` after a step that lowers ``Lsum``; else the step is undone and ``alpha``
    divided by ``2^{1/10}``."""

    alpha0: float
    grow: float = 2.0 ** (1 / 5)
    shrink: float = 2.0 ** (1 / 10)

    def __post_init__(self) -> None:
        self.current = self.alpha0

    def alpha(self, log_l: float, log_l0: float) -> float:
        return self.current

    def rejects(self) -> bool:
        return True

    def feedback(self, success: bool) -> None:
        self.current *= self.grow if success else 1.0 / self.shrink


@dataclass(frozen=True)
class Run:
    """A full-batch GD run: per step (rejected steps repeat the state), ``log Lsum``,
    ``q_min``, ``gbar_mh`` and the weights."""

    log_loss: np.ndarray
    q_min: np.ndarray
    gbar_mh: np.ndarray
    weights: tuple[tuple[np.ndarray, ...], ...]


def _step(W: tuple[np.ndarray, ...], g: np.ndarray, alpha: float) -> tuple[np.ndarray, ...]:
    sizes = np.cumsum([M.size for M in W])[:-1]
    return tuple(M - alpha * G.reshape(M.shape) for M, G in zip(W, np.split(g, sizes), strict=True))


def gd_run(
    weights: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray, steps: int, schedule: Schedule
) -> Run:
    """``steps`` full-batch GD steps (a rejected step counts: one gradient each) from
    ``weights``."""
    W = tuple(np.array(M, dtype=np.float64) for M in weights)
    pt = evaluate(W, X, y)
    log_l0 = pt.log_loss
    logs, qs, gm, Ws = [], [], [], []

    def record() -> None:
        q = float(mc.multiclass_margins(pt.s).min())
        logs.append(pt.log_loss)
        qs.append(q)
        gm.append(mc.multi_homogeneous_margin(q, W))
        Ws.append(W)

    record()
    for _ in range(steps):
        W_new = _step(W, pt.g, schedule.alpha(pt.log_loss, log_l0))
        pt_new = evaluate(W_new, X, y)
        success = pt_new.log_loss < pt.log_loss
        schedule.feedback(success)
        if success or not schedule.rejects():
            W, pt = W_new, pt_new
        record()
    return Run(np.array(logs), np.array(qs), np.array(gm), tuple(Ws))


@dataclass(frozen=True)
class DigitsRun:
    """The fit and the two post-fit runs of one ``(seed, depth)``."""

    X: np.ndarray
    y: np.ndarray
    fit_steps: int
    loss_based: Run
    constant: Run


def fit(
    weights: Sequence[np.ndarray], X: np.ndarray, y: np.ndarray
) -> tuple[tuple[np.ndarray, ...], int]:
    """Loss-based GD (:data:`FIT_ALPHA`) until ``Lsum < log 2``; ``(weights, steps)``."""
    W = tuple(np.array(M, dtype=np.float64) for M in weights)
    for step in range(FIT_MAX_STEPS):
        pt = evaluate(W, X, y)
        if pt.log_loss < np.log(np.log(2.0)):
            return W, step
        W = _step(W, pt.g, FIT_ALPHA)
    raise RuntimeError(f"no fit (Lsum < log 2) within {FIT_MAX_STEPS} steps")


@functools.cache
def digits_run(seed: int, depth: int) -> DigitsRun:
    """The cached fit and post-fit runs of ``(seed, depth)`` (deterministic in both)."""
    data = relu.load_digits(N_DIGITS, seed=seed)
    widths = (data.X.shape[1], *([WIDTH] * (depth - 1)), 10)
    W0 = relu.init_weights("default", widths, seed)
    W, steps = fit(W0, data.X, data.y)
    return DigitsRun(
        data.X,
        data.y,
        steps,
        gd_run(W, data.X, data.y, POST_STEPS, LossBased(ALPHA)),
        gd_run(W, data.X, data.y, POST_STEPS, Constant(ALPHA)),
    )


# --- rounding ---------------------------------------------------------------------------------


def log_domain_error(pt: Point) -> float:
    """Absolute error bound of any log-domain quantity computed from the pair margins (LL-F):
    ``qs_i``, ``log Lsum``, ``Q``, ``log pi_ij``.

    A log-sum-exp of m terms ``a`` computed as ``max + log(sum exp(a - max))`` errs by at
    most ``(m + 4) eps (2 max|a| + 1) + eps |LSE|``: each shifted exponent errs by
    ``eps |a_j - max| <= 2 eps max|a|`` (relative error of its exponential, plus ``eps``),
    the sum by ``gamma_m``, the log by ``eps``.  ``qs`` is an LSE of ``C - 1`` terms,
    ``log Lsum`` one of ``n`` terms of ``log loss_log(qs_i)`` (which adds ``eps``-relative
    terms), and ``Q``, ``log pi_ij`` are ``log Lsum`` plus ``eps``-accurate corrections, so
    with ``M = max|s| + |log Lsum| + 1`` every one errs by at most ``3 (n + C + 8) eps M``.
    """
    M = float(np.max(np.abs(pt.s))) + abs(pt.log_loss) + 1.0
    return 3.0 * (pt.n + pt.n_classes + 8) * EPS * M


def nu_relative_error(pt: Point) -> float:
    """Relative error bound of ``nu / Lsum`` (LL-F): each weight ``exp(log pi_ij - log
    Lsum)`` errs relatively by at most twice :func:`log_domain_error`, the sum of ``n (C-1)``
    non-negative products (past the fit every ``s_ij > 0``) by ``gamma_{n C}``."""
    return 2.0 * log_domain_error(pt) + gamma_unit(pt.n * pt.n_classes)


def floor_relative_error(pt: Point) -> float:
    """Relative error bound of ``f'(Q) Q`` (LL-F): ``Q`` errs by ``delta =``
    :func:`log_domain_error` ``+ eps |Q|``, so ``Q`` relatively by ``delta / Q``; ``log f'``
    has derivative in ``[-1, 0]`` for the logistic loss, so ``f'(Q)`` errs relatively by
    ``delta`` (doubled for the exponential) plus 8 eps for the evaluations."""
    Q = mc.smoothed_min_margin(pt.s)
    delta = log_domain_error(pt) + EPS * abs(Q)
    return delta / max(Q, EPS) + 2.0 * delta + 8.0 * EPS


def euler_tolerance(pt: Point) -> float:
    """The rounding allowance of ``<theta, -g> = p nu / Lsum`` (LL-F), derived.

    With ``D_m`` the computed backprop signal at layer m and ``T_m = <|W_m|, |D_m|^T
    |H_{m-1}|>`` (:attr:`Point.abs_products`), the chain of :mod:`invariants.relu`'s
    module docstring gives ``|<W_k, G_k> - <W_{k+1}, G_{k+1}>| <= (gamma_n +
    gamma_{d_{k-1}}) T_k + (gamma_n + gamma_{d_{k+1}}) T_{k+1}`` (the ReLU masks are
    exact), and ``|<W_L, G_L> - <D_L, A_L>| <= (gamma_n + gamma_{d_{L-1}}) T_L``.  So each
    layer's ``<W_k, G_k>`` is within ``sum_m (2 gamma_n + gamma_{d_{m-1}} + gamma_{d_{m+1}})
    T_m`` of ``<D_L, A_L>`` (``d_{L+1} := 0``); summing p layers multiplies by p.  The
    computed inner products add ``(gamma_{N_k} + gamma_L) T_k`` each (``N_k`` entries; the
    sum over layers).  ``<D_L, A_L> = -sum pi_ij s_ij / Lsum`` holds exactly for the same
    computed weights up to the label entry ``-sum_j pi_ij/Lsum`` (``gamma_C``), the
    differences ``s_ij`` (``eps``) and the final sum (``gamma_{nC}``), all times
    ``sum |D_L||A_L| <= T_L``.  Doubled for the second-order terms.
    """
    T, d, n, p = pt.abs_products, pt.dims, pt.n, pt.order
    chain = sum(
        (2 * gamma_unit(n) + gamma_unit(d[m]) + (gamma_unit(d[m + 2]) if m + 2 < len(d) else 0.0))
        * T[m]
        for m in range(p)
    )
    dots = sum((gamma_unit(d[m] * d[m + 1]) + gamma_unit(p)) * T[m] for m in range(p))
    nu_side = (gamma_unit(pt.n_classes) + gamma_unit(n * pt.n_classes) + EPS) * T[-1]
    return 2.0 * (p * chain + dots + p * nu_side)


# --- LL-F -------------------------------------------------------------------------------------


def past_fit(pt: Point) -> bool:
    """``Lsum < log 2`` (M4): ``Q > 0`` and every ``s_ij > 0``."""
    return bool(pt.log_loss < np.log(np.log(2.0)))


def check_ll_f_euler(pt: Point) -> Slack:
    """LL-F: ``<theta, -grad Lsum> = p nu`` (divided by ``Lsum``) within
    :func:`euler_tolerance`.  Exercised when ``p nu / Lsum`` exceeds the allowance (a
    wrong order, a bias or a wrong gradient would show)."""
    lhs = -float(pt.theta @ pt.g)
    rhs = pt.order * mc.nu_over_loss(pt.s)
    tol = euler_tolerance(pt)
    err = abs(lhs - rhs)
    assert err <= tol, (
        f"LL-F Euler: <theta, -grad Lsum>/Lsum = {lhs:.12e} but p nu/Lsum = {rhs:.12e} "
        f"(p = {pt.order}): |difference| {err:.3e} > allowed {tol:.3e}"
    )
    return Slack("LL-F", slack_ratio(err, tol), "Euler", exercised=bool(abs(rhs) > tol))


def check_ll_f_nu_floor(pt: Point, floor: Callable[[np.ndarray], float] | None = None) -> Slack:
    """LL-F: ``nu >= (1 - e^{-Lsum}) loss_log^{-1}(Lsum)`` past the fit (divided by ``Lsum``).

    Allowed: the rounding of both sides (:func:`nu_relative_error`,
    :func:`floor_relative_error`).  Exercised past the fit (``Q > 0``: the floor is
    positive).  ``floor`` replaces :func:`mc.nu_floor_over_loss` (controls only).
    """
    nu = mc.nu_over_loss(pt.s)
    lo = (floor or mc.nu_floor_over_loss)(pt.s)
    tol = nu_relative_error(pt) * abs(nu) + floor_relative_error(pt) * abs(lo)
    assert nu >= lo - tol, (
        f"LL-F: nu/Lsum = {nu:.12e} < floor (1 - e^-Lsum) Q/Lsum = {lo:.12e} - tol {tol:.2e} "
        f"(log Lsum = {pt.log_loss:.6g})"
    )
    return Slack("LL-F", slack_ratio(lo, nu + tol), "nu floor", exercised=past_fit(pt) and lo > tol)


def check_ll_f_sandwich(
    pt: Point, width: Callable[[int, int, float], float] = mc.sandwich_width
) -> Slack:
    """LL-F: ``0 <= q_min - Q <= log(C-1) + log n + Lsum`` (``rho^p (gbar - gtil)``).

    Allowed: twice :func:`log_domain_error` (``qs_min`` and ``Q``'s part), ``eps (|q_min| +
    |qs_min|)`` for the subtraction of the two minima, and ``4 eps`` of the width.
    Exercised past the fit (where ``gtil`` is the paper's smoothed margin).  ``width``
    replaces :func:`mc.sandwich_width` (controls only).
    """
    gap = mc.sandwich_gap(pt.s)
    w = width(pt.n_classes, pt.n, pt.log_loss)
    q_min = float(mc.multiclass_margins(pt.s).min())
    tol = 2 * log_domain_error(pt) + 2 * EPS * abs(q_min) + 4 * EPS * w
    assert -tol <= gap <= w + tol, (
        f"LL-F sandwich: q_min - Q = {gap:.12g} outside [0, {w:.12g}] +- {tol:.2e} "
        f"(C = {pt.n_classes}, n = {pt.n}, log Lsum = {pt.log_loss:.6g})"
    )
    return Slack(
        "LL-F",
        slack_ratio(gap, w + tol),
        "sandwich",
        exercised=past_fit(pt),
        measures={"sandwich_fill": gap / w},
    )


def check_ll_f_rate(pt: Point, velocity: np.ndarray | None = None) -> Slack:
    """LL-F: ``d log gtil/dt >= p T / V`` for the flow's velocity at ``pt`` (scaled clock).

    ``(rate, pT/V)`` from :func:`mc.log_margin_rate` with ``v = -g`` (or ``velocity``, for
    controls).  Their difference is ``||g||^2 (1/(f'(Q) Q) - Lsum/nu)`` when Euler holds
    (:mod:`invariants.core.multiclass`); with the Euler residual ``e`` relative to ``p
    nu/Lsum`` the identity moves by at most ``|e| (a + c)`` (``a = -<g, v>/(f'(Q) Q)``, ``c
    = pT/V``), and the rounding of ``a``, ``b = pV``, ``c`` is ``floor_relative_error`` plus
    ``4 (D + 8) eps`` of ``a + b + c`` (norms and inner products of D entries, the
    tangential projection's error ``2 (D + 4) eps (b + c)``).  Doubled.  Exercised past the
    fit with ``V > 0``.
    """
    v = -pt.g if velocity is None else velocity
    rate, bound = mc.log_margin_rate(pt.theta, pt.g, v, pt.order, pt.s)
    a = -float(pt.g @ v) / mc.nu_floor_over_loss(pt.s)
    b = a - rate
    e_rel = euler_tolerance(pt) / (pt.order * mc.nu_over_loss(pt.s))
    kappa = e_rel + floor_relative_error(pt) + 4 * (pt.theta.size + 8) * EPS
    tol = 2 * kappa * (abs(a) + abs(b) + abs(bound))
    assert rate >= bound - tol, (
        f"LL-F: d log gtil/dt = {rate:.12e} < p T/V = {bound:.12e} - tol {tol:.2e} "
        f"(log Lsum = {pt.log_loss:.6g})"
    )
    return Slack(
        "LL-F",
        slack_ratio(bound, rate + tol),
        "d log gtil/dt >= pT/V",
        exercised=past_fit(pt) and bound - rate + tol < rate,
    )


def check_ll_f(pt: Point) -> list[Slack]:
    """Every LL-F check at one point: Euler, the floor of nu, the sandwich, the rate."""
    return [
        check_ll_f_euler(pt),
        check_ll_f_nu_floor(pt),
        check_ll_f_sandwich(pt),
        check_ll_f_rate(pt),
    ]


# --- LL-FIG1 ----------------------------------------------------------------------------------


def window_means(values: np.ndarray, windows: int = WINDOWS) -> np.ndarray:
    """Means of ``values`` over ``windows`` consecutive equal windows (the last one longer)."""
    return np.array([float(np.mean(w)) for w in np.array_split(values, windows)])


def check_ll_fig1(loss_run: Run, const_run: Run) -> Slack:
    """LL-FIG1 (a trend): after the fit, ``gbar_mh`` does not decrease on average (the last
    window's mean is at least the first's, in both runs), and at equal step counts the
    loss-based step ends with a smaller ``Lsum`` and a larger ``gbar_mh`` than the constant
    step with the same first step.  No tolerance: the margins compared differ by far more
    than their rounding (``measures`` has the numbers).  Exercised when both runs start past
    the fit and the loss-based run moved ``gbar_mh``.
    """
    for name, run in (("loss-based", loss_run), ("constant", const_run)):
        m = window_means(run.gbar_mh)
        assert m[-1] >= m[0], (
            f"LL-FIG1: {name} step: gbar_mh fell on average, window means {m.tolist()}"
        )
    assert loss_run.log_loss[-1] < const_run.log_loss[-1], (
        f"LL-FIG1: log Lsum after {loss_run.log_loss.size - 1} steps: loss-based "
        f"{loss_run.log_loss[-1]:.6g} not below constant {const_run.log_loss[-1]:.6g}"
    )
    assert loss_run.gbar_mh[-1] > const_run.gbar_mh[-1], (
        f"LL-FIG1: gbar_mh after {loss_run.gbar_mh.size - 1} steps: loss-based "
        f"{loss_run.gbar_mh[-1]:.6g} not above constant {const_run.gbar_mh[-1]:.6g}"
    )
    fitted = bool(loss_run.log_loss[0] < np.log(np.log(2.0)))
    moved = bool(abs(loss_run.gbar_mh[-1] - loss_run.gbar_mh[0]) > 1e3 * EPS * loss_run.gbar_mh[0])
    return Slack(
        "LL-FIG1",
        None,
        "trend",
        exercised=fitted and moved,
        measures=fig1_values(loss_run, const_run),
    )


def fig1_values(loss_run: Run, const_run: Run) -> dict[str, float]:
    """The ``fig1_margin_growth`` observation (LL-FIG1)."""
    return {
        "gbar_mh_start": float(loss_run.gbar_mh[0]),
        "gbar_mh_end_loss_based": float(loss_run.gbar_mh[-1]),
        "gbar_mh_end_constant": float(const_run.gbar_mh[-1]),
        "log_loss_start": float(loss_run.log_loss[0]),
        "log_loss_end_loss_based": float(loss_run.log_loss[-1]),
        "log_loss_end_constant": float(const_run.log_loss[-1]),
        "margin_gain_ratio": float(
            (loss_run.gbar_mh[-1] - loss_run.gbar_mh[0])
            / max(const_run.gbar_mh[-1] - const_run.gbar_mh[0], EPS)
        ),
    }
