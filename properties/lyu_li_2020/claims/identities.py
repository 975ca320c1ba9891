"""The identities and pointwise bounds of Sections 3-5 and App. G, at one parameter point.

Statements: LL-EQ1, LL-SW, LL-LA.5, LL-EQ6, LL-EQ7, LL-S5.ID, LL-L5.1, LL-EQ5.

Every check reads one :class:`State` (a homogeneous network at one parameter point, its
data and its loss) and returns a :class:`~invariants.statements.Slack`; the tests call them
at every checkpoint of a gradient flow and at random points, and combine the per-state
slacks with :func:`combine`.  All rates are in the *scaled clock* (divided by ``Lsum``, see
:mod:`invariants.core.homogeneous`): with ``G = grad Lsum / Lsum``, ``n1 = nu / Lsum`` and
``a = (-loss'(Q)) Q / Lsum``, the flow's velocity is ``-G`` in that clock.

Rounding (every tolerance below is a sum of such terms, derived beside its check):

* ``m = rounding_count(W, n)`` (:func:`invariants.core.rounding.rounding_count`) counts the
  inner dimensions of every product chain of a margin or a Jacobian entry (and the sums over
  the data), so each computed ``q_i`` or ``grad q_i`` entry errs by at most ``gamma(m)``
  times the same quantity of the *absolute network* (Higham's componentwise bound for a
  product of matrices: the inner dimensions add).  The absolute network's margins are
  bounded by ``B_i = prod_k ||W_k||_F ||x_i||``
  (:func:`invariants.core.homogeneous.margin_magnitudes`), and by Euler's identity for it
  ``sum_j |theta_j| |grad q_i|_j <= p B_i``.
* A weighted sum of ``n`` terms adds ``gamma(n)``; a dot product over the ``D`` parameters
  ``gamma(D)``; a few scalar operations ``gamma(k)`` for small ``k``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from invariants.core import homogeneous as hom
from invariants.core.losses import Loss
from invariants.core.rounding import EPS, gamma, rounding_count, slack_ratio
from invariants.statements import Slack

#: ``sup_q |d(q f'(q))/dq|`` for ``f = -log loss``, the Lipschitz constant of LL-EQ7's
#: floor ``Q f'(Q)`` in ``Q``: 1 for the exponential loss.  Logistic loss, derived: with
#: ``x = e^{-q}``, ``f'(q) = x / ((1 + x) log(1 + x))`` lies in ``[1/(1 + x), 1]`` (by
#: ``x/(1 + x) <= log(1 + x) <= x``), and ``f''(q) = x (x - log(1 + x)) / ((1 + x)^2
#: log(1 + x)^2) >= 0``.  For ``q >= 0`` (``x <= 1``), ``x - log(1 + x) <= x^2/2`` gives
#: ``f'' <= x/2`` and ``q f'' <= q e^{-q}/2 <= 1/(2e)``.  For ``q < 0`` (``x > 1``),
#: ``x - log(1 + x) < x`` gives ``f'' < 1/log(1 + x)^2`` and ``|q| f'' < log x /
#: log(1 + x)^2 < 1/log(1 + x) < 1/log 2``.  So ``|(q f')'| = |f' + q f''| <= 1 + 1/log 2
#: = 2.4427``, which covers both cases (the sampled maximum on a grid of 2e6 points on
#: ``[-50, 60]`` is 1.053).
FLOOR_LIPSCHITZ = 1.0 + 1.0 / math.log(2.0)


@dataclass(frozen=True)
class State:
    """A homogeneous network at one parameter point (LL-EQ1): its layers, the data it reads
    (``x``: the inputs ``z_i = y_i x_i`` of the linear network, the ``x_i`` of the ReLU
    network), the margins' model and the loss.  ``build(weights)`` rebuilds the model at
    other layers (the scaling of LL-EQ1(a))."""

    weights: tuple[np.ndarray, ...]
    x: np.ndarray
    model: hom.MarginModel
    loss: Loss
    build: Callable[[Sequence[np.ndarray]], hom.MarginModel]

    @property
    def n(self) -> int:
        return int(self.model.q.size)

    @property
    def size(self) -> int:
        return int(self.model.theta.size)

    @property
    def m(self) -> int:
        return rounding_count(self.weights, self.n)


def linear_state(weights: Sequence[np.ndarray], z: np.ndarray, loss: Loss) -> State:
    """The deep linear network (``p = L``) at ``weights`` on ``z`` (LL-EQ1)."""
    weights = tuple(np.asarray(W, dtype=np.float64) for W in weights)
    z = np.asarray(z, dtype=np.float64)

    def build(ws: Sequence[np.ndarray]) -> hom.MarginModel:
        return hom.linear_network_margins(ws, z)

    return State(weights, z, build(weights), loss, build)


def relu_state(weights: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray, loss: Loss) -> State:
    """The bias-free ReLU network (``p`` = number of layers) at ``weights`` (LL-EQ1)."""
    weights = tuple(np.asarray(W, dtype=np.float64) for W in weights)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def build(ws: Sequence[np.ndarray]) -> hom.MarginModel:
        return hom.relu_network_margins(ws, x, y)

    return State(weights, x, build(weights), loss, build)


def combine(statement: str, slacks: Sequence[Slack]) -> Slack:
    """The worst of one statement's per-state slacks: the largest ratio, exercised when any
    state was, the measures of the worst exercised state (every check's record)."""
    mine = [s for s in slacks if s.statement == statement]
    if not mine:
        return Slack(statement, None, "no state checked", exercised=False)
    pool = [s for s in mine if s.exercised] or mine
    rated = [s for s in pool if s.ratio is not None]
    worst = max(rated, key=lambda s: s.ratio) if rated else pool[0]
    exercised = sum(s.exercised for s in mine)
    return Slack(
        statement,
        worst.ratio,
        f"{exercised}/{len(mine)} states exercised; worst: {worst.detail}",
        exercised=exercised > 0,
        measures=worst.measures,
    )


# --- LL-EQ1 --------------------------------------------------------------------------------


def euler_tolerance(state: State) -> np.ndarray:
    """Per example, the allowed ``|<theta, grad q_i> - p q_i|`` (LL-EQ1(b)).

    ``grad q_i`` errs entrywise by ``gamma(m)`` of the absolute network's gradient and the
    dot product with ``theta`` adds ``gamma(D)``: ``gamma(m + D) p B_i`` (Euler for the
    absolute network).  ``p q_i`` errs by ``gamma(m) B_i`` times ``p`` plus one
    multiplication: ``gamma(m + 1) p B_i``.
    """
    p = state.model.order
    B = hom.margin_magnitudes(state.weights, state.x)
    return (gamma(state.m + state.size) + gamma(state.m + 1)) * p * B


def check_ll_eq1(state: State, c: float) -> Slack:
    """LL-EQ1: Euler ``<theta, grad q_i> = p q_i`` per example, and ``grad q_i(c theta) =
    c^{p-1} grad q_i(theta)`` per example and layer, to rounding.

    Scaling tolerance per example i and layer k, in the l1 norm of the block: the model at
    ``fl(c W)`` (each weight off by a relative ``u``, so each degree-(p-1) entry by
    ``gamma(p)``) is computed to ``gamma(m)``; ``c^{p-1} grad q_i(theta)`` to ``gamma(m)``
    plus ``gamma(p + 1)`` for the power and the product: altogether
    ``c^{p-1} (gamma(m + p) + gamma(m) + gamma(p + 1)) A_ik`` with ``A_ik``
    (:func:`~invariants.core.homogeneous.layer_gradient_magnitudes`) bounding the block's l1
    norm in the absolute network.  (A ReLU pattern is unchanged by ``c > 0`` in exact
    arithmetic; a rounding flip needs a pre-activation within ``gamma(m)`` of 0.)
    """
    model, p = state.model, state.model.order
    lhs, rhs = model.jacobian @ model.theta, p * model.q
    tol = euler_tolerance(state)
    resid = np.abs(lhs - rhs)
    i = int(np.argmax(resid / np.maximum(tol, np.finfo(float).tiny)))
    assert resid[i] <= tol[i], (
        f"LL-EQ1(b): <theta, grad q_{i}> = {lhs[i]:.17g} but p q_{i} = {rhs[i]:.17g} "
        f"(p = {p}; residual {resid[i]:.3e} > allowed {tol[i]:.3e})"
    )
    scaled = state.build([c * W for W in state.weights])
    cp = c ** (p - 1)
    A = hom.layer_gradient_magnitudes(state.weights, state.x)
    tol_a = cp * (gamma(state.m + p) + gamma(state.m) + gamma(p + 1)) * A
    slices = hom.layer_slices([W.shape for W in state.weights])
    diff = np.abs(scaled.jacobian - cp * model.jacobian)
    resid_a = np.stack([diff[:, sl].sum(axis=1) for sl in slices], axis=1)
    ratio_a = float(np.max(resid_a / np.maximum(tol_a, np.finfo(float).tiny)))
    ik = np.unravel_index(int(np.argmax(resid_a - tol_a)), resid_a.shape)
    assert np.all(resid_a <= tol_a), (
        f"LL-EQ1(a): ||grad q_i(c theta) - c^(p-1) grad q_i(theta)||_1 on layer {ik[1] + 1} "
        f"of example {ik[0]} is {resid_a[ik]:.3e} > allowed {tol_a[ik]:.3e} (c = {c:.6g}, p = {p})"
    )
    # Exercised: an order off by one changes p q_i by |q_i|; some example shows that.
    exercised = bool(np.any(np.abs(model.q) > 2 * tol))
    ratio = max(slack_ratio(float(resid[i]), float(tol[i])), ratio_a)
    return Slack(
        "LL-EQ1",
        ratio,
        f"p = {p}, n = {state.n}, D = {state.size}, c = {c:.4g}; worst Euler residual "
        f"{resid[i]:.2e} of allowed {tol[i]:.2e} (|q_i| = {abs(model.q[i]):.3g})",
        exercised=exercised,
    )


# --- LL-EQ6 --------------------------------------------------------------------------------


def eq6_tolerance(state: State, weights_sum: float | None = None) -> tuple[float, np.ndarray]:
    """The allowed ``|<theta, -G> - p n1|`` and, per layer, ``|<W_k, -G_k> - n1|`` (LL-EQ6).

    Both sides use the same computed dual weights ``w_i = -loss'(q_i)/Lsum`` (the identity
    holds for any weights, so their own rounding does not enter).  ``G = -(w @ J)`` adds
    ``gamma(n)`` to the Jacobian's ``gamma(m)`` and the dot product with ``theta``
    (``theta_k``) ``gamma(D)`` (``gamma(D_k)``): ``gamma(m + n + D) p sum_i w_i B_i``;
    ``p n1 = p w @ q`` errs by ``gamma(m + n + 1) p sum_i w_i B_i``.  Per layer the same
    with ``p = 1`` (each layer enters every margin linearly).
    """
    model, p, n, m = state.model, state.model.order, state.n, state.m
    w = hom.dual_weights(model.q, state.loss)
    wB = float(w @ hom.margin_magnitudes(state.weights, state.x))
    total = (gamma(m + n + state.size) + gamma(m + n + 1)) * p * wB
    per_layer = np.array([(gamma(m + n + W.size) + gamma(m + n + 1)) * wB for W in state.weights])
    return total, per_layer


def check_ll_eq6(state: State) -> Slack:
    """LL-EQ6 pointwise: ``(1/2) d rho^2/dt = <theta, -grad Lsum> = p nu`` and, per layer,
    ``(1/2) d||W_k||_F^2/dt = <W_k, -dLsum/dW_k> = nu``, in the scaled clock, to the
    rounding of :func:`eq6_tolerance`."""
    model, p = state.model, state.model.order
    G = hom.scaled_gradient(model, state.loss)
    n1 = hom.nu_over_loss(model.q, state.loss)
    tol, tol_k = eq6_tolerance(state)
    radial = float(model.theta @ -G)
    resid = abs(radial - p * n1)
    assert resid <= tol, (
        f"LL-EQ6: <theta, -grad Lsum>/Lsum = {radial:.17g} but p nu/Lsum = {p * n1:.17g} "
        f"(p = {p}; residual {resid:.3e} > allowed {tol:.3e})"
    )
    slices = hom.layer_slices([W.shape for W in state.weights])
    layer = np.array([float(model.theta[sl] @ -G[sl]) for sl in slices])
    resid_k = np.abs(layer - n1)
    k = int(np.argmax(resid_k - tol_k))
    assert np.all(resid_k <= tol_k), (
        f"LL-EQ6(a): <W_{k + 1}, -dLsum/dW_{k + 1}>/Lsum = {layer[k]:.17g} but nu/Lsum = "
        f"{n1:.17g} (residual {resid_k[k]:.3e} > allowed {tol_k[k]:.3e})"
    )
    ratio = max(slack_ratio(resid, tol), float(np.max(resid_k / np.maximum(tol_k, 1e-300))))
    # Exercised: a wrong order, or a layer missing from the sum, moves the right side by
    # |n1|, more than both tolerances.
    return Slack(
        "LL-EQ6",
        ratio,
        f"p = {p}, nu/Lsum = {n1:.4g}, residual {resid:.2e} of allowed {tol:.2e}",
        exercised=bool(abs(n1) > 2 * max(tol, float(np.max(tol_k)))),
    )


def check_ll_eq6_gd(state: State, h: float) -> Slack:
    """LL-EQ6(b): one GD step ``theta' = theta - eta grad Lsum`` changes ``rho^2`` by
    exactly ``2 eta p nu + eta^2 ||grad Lsum||^2``.  Divided through by ``Lsum^2`` with the
    step in the scaled clock ``h = eta Lsum`` (so ``theta' = theta - h G``), it reads
    ``rho'^2 - rho^2 = 2 h p n1 + h^2 ||G||^2``: the step is taken here, in floats.

    Tolerance, term by term: each ``theta'_j = fl(theta_j - fl(h G_j))`` is off the exact
    ``theta_j - h G_j`` by ``e_j <= gamma(3) (h |G_j| + |theta'_j|)``, moving
    ``||theta'||^2`` by ``<= (2 + gamma(3)) sum_j |theta'_j| e_j``; the two squared norms
    err by ``gamma(D)`` each and their difference by ``u``; on the right, ``-<theta, G>``
    is ``p n1`` to :func:`eq6_tolerance` (times ``2h``), and its evaluation errs by
    ``gamma(4) (2 h p |n1|) + gamma(D + 4) h^2 ||G||^2``.
    """
    model, p = state.model, state.model.order
    G = hom.scaled_gradient(model, state.loss)
    n1 = hom.nu_over_loss(model.q, state.loss)
    theta = model.theta
    new = theta - h * G
    lhs = float(new @ new) - float(theta @ theta)
    gg = float(G @ G)
    rhs = 2 * h * p * n1 + h * h * gg
    e = gamma(3) * (h * np.abs(G) + np.abs(new))
    tol_eq6, _ = eq6_tolerance(state)
    tol = (
        (2 + gamma(3)) * float(np.abs(new) @ e)
        + gamma(state.size) * (float(new @ new) + float(theta @ theta))
        + EPS * abs(lhs)
        + 2 * h * tol_eq6
        + gamma(4) * 2 * h * p * abs(n1)
        + gamma(state.size + 4) * h * h * gg
    )
    resid = abs(lhs - rhs)
    assert resid <= tol, (
        f"LL-EQ6(b): rho'^2 - rho^2 = {lhs:.17g} but 2 h p nu/Lsum + h^2 ||G||^2 = {rhs:.17g} "
        f"(h = eta Lsum = {h:.4g}, p = {p}; residual {resid:.3e} > allowed {tol:.3e})"
    )
    return Slack(
        "LL-EQ6",
        slack_ratio(resid, tol),
        f"GD step h = {h:.3g}: rho^2 change {lhs:.4g}, 2 h p nu/Lsum = {2 * h * p * n1:.4g}, "
        f"h^2||G||^2 = {h * h * gg:.4g}, residual {resid:.2e} of allowed {tol:.2e}",
        # Exercised: an order off by one moves the right side by 2 h |n1|.
        exercised=bool(2 * h * abs(n1) > 2 * tol),
    )


# --- LL-S5.ID ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """The scaled velocity ``v = -G`` split into its radial speed ``r = <theta_hat, v>`` and
    tangential part ``u`` (LL-S5.ID), with ``n1 = nu/Lsum`` and the tolerances of the split
    (``tol_split``: ``|r^2 + ||u||^2 - ||v||^2|``; ``tol_radial``: ``|r - p n1/rho|``)."""

    vv: float
    r: float
    uu: float
    n1: float
    rho: float
    tol_split: float
    tol_radial: float


def split(state: State) -> Split:
    """The radial/tangential split of the scaled velocity and its rounding (LL-S5.ID).

    ``tol_split = 12 gamma(D + 4) ||v||^2``: the computed ``theta_hat`` has norm
    ``1 +- gamma(D + 2)``, which moves ``r^2 + ||u||^2`` off ``||v||^2`` by
    ``<= 2 gamma(D + 2) r^2 + 2 gamma(D + 2) ||v||^2``; ``r`` errs by ``gamma(D + 2) ||v||``
    (``2 |r| gamma(D + 2) ||v||`` on ``r^2``); each ``u_j = v_j - r theta_hat_j`` by
    ``gamma(2) (|v_j| + |r theta_hat_j|)`` (``<= 4 gamma(2) ||v||^2`` on ``||u||^2``); the
    three squared norms by ``gamma(D)`` of ``||v||^2`` each: 12 terms of at most
    ``gamma(D + 4) ||v||^2``.  ``tol_radial``: ``r`` against ``<theta, v>/rho`` (``2 gamma(D
    + 2) ||v||``), ``<theta, v>`` against ``p n1`` (:func:`eq6_tolerance` over ``rho``), and
    ``p n1 / rho`` itself (``gamma(3) p |n1| / rho``).
    """
    model, p = state.model, state.model.order
    v = -hom.scaled_gradient(model, state.loss)
    n1 = hom.nu_over_loss(model.q, state.loss)
    rho = model.rho
    r, u = hom.radial_tangential(model.theta, v)
    vv = float(v @ v)
    D = state.size
    tol_eq6, _ = eq6_tolerance(state)
    return Split(
        vv=vv,
        r=r,
        uu=float(u @ u),
        n1=n1,
        rho=rho,
        tol_split=12 * gamma(D + 4) * vv,
        tol_radial=tol_eq6 / rho + 2 * gamma(D + 2) * np.sqrt(vv) + gamma(3) * p * abs(n1) / rho,
    )


def identity_residual(s: Split, p: int) -> tuple[float, float]:
    """``||v||^2 - (p n1/rho)^2 - ||u||^2`` and its allowance (LL-S5.ID(c) times ``p n1``):
    the split's tolerance, ``(p n1/rho)^2 - r^2 <= tol_radial (2 |r| + tol_radial)``, and
    ``gamma(4)`` of the three terms for their evaluation."""
    radial = p * s.n1 / s.rho
    resid = s.vv - radial * radial - s.uu
    tol = (
        s.tol_split
        + s.tol_radial * (2 * abs(s.r) + s.tol_radial)
        + gamma(4) * (s.vv + radial * radial + s.uu)
    )
    return resid, tol


def check_ll_s5_id(state: State) -> Slack:
    """LL-S5.ID: ``||v||^2 = r^2 + ||u||^2`` with ``r = <theta_hat, v> = (1/rho)(1/2)
    d rho^2/dt = p n1/rho``, hence (c) ``-(dLsum/dt)/((1/2) d rho^2/dt) = V + T/V``, checked
    multiplied by ``p n1`` (scaled clock: ``||v||^2 = (p n1/rho)^2 + ||u||^2``).  Part (a),
    ``dLsum/dt = -||d theta/dt||^2``, is the chain rule along the flow (the first paper's
    S-EQ1 in the sum convention) and is not re-checked here."""
    p = state.model.order
    s = split(state)
    r1 = abs(s.r * s.r + s.uu - s.vv)
    assert r1 <= s.tol_split, (
        f"LL-S5.ID(b): r^2 + ||u||^2 = {s.r * s.r + s.uu:.17g} but ||v||^2 = {s.vv:.17g} "
        f"(residual {r1:.3e} > allowed {s.tol_split:.3e})"
    )
    r2 = abs(s.r - p * s.n1 / s.rho)
    assert r2 <= s.tol_radial, (
        f"LL-S5.ID(b): radial speed <theta_hat, v> = {s.r:.17g} but p nu/(rho Lsum) = "
        f"{p * s.n1 / s.rho:.17g} (residual {r2:.3e} > allowed {s.tol_radial:.3e})"
    )
    r3, tol3 = identity_residual(s, p)
    assert abs(r3) <= tol3, (
        f"LL-S5.ID(c): ||v||^2 - (p nu/(rho Lsum))^2 - ||u||^2 = {r3:.3e} beyond {tol3:.3e}"
    )
    ratio = max(slack_ratio(r1, s.tol_split), slack_ratio(r2, s.tol_radial))
    ratio = max(ratio, slack_ratio(abs(r3), tol3))
    return Slack(
        "LL-S5.ID",
        ratio,
        f"||v||^2 = {s.vv:.4g} = r^2 {s.r * s.r:.4g} + ||u||^2 {s.uu:.4g}",
        # Exercised: both parts of the split are above the identity's allowance, so a wrong
        # radial speed (or a dropped part) would show.
        exercised=bool(min(s.r * s.r, s.uu) > tol3),
        measures={"tangential_share": s.uu / s.vv if s.vv > 0 else 0.0},
    )


# --- LL-SW and LL-LA.5 ---------------------------------------------------------------------


def sandwich_tolerance(q: np.ndarray, loss: Loss) -> float:
    """Absolute rounding of :func:`~invariants.core.homogeneous.sandwich_gap` (LL-SW,
    LL-LA.5).

    Exponential: ``LSE_i(-(q_i - q_min))`` has its largest term ``e^0 = 1`` exactly; each
    shifted exponent errs by ``u |q_i - q_min|``, moving its term by at most ``u/e``
    (``x e^{-x} <= 1/e``): ``n u`` relative on a sum ``>= 1``; the exps and the sum add
    ``gamma(n + 1)``, the log ``eps log n``: ``gamma(2n + 1) + eps log n``.
    Logistic, in addition: each remainder ``r(q_i) = log log(1 + e^{-q_i}) + q_i`` is
    formed with a cancellation of size ``min(|q_i|, 30)`` (``r`` is tiny above 30) and
    rounds to ``4 eps (1 + min(|q_i|, 30) + |log loss(q_i)|)``; ``log(expm1(Lsum)/Lsum)``
    to ``4 eps (1 + Lsum + 2 |log Lsum|)``.
    """
    q = np.asarray(q, dtype=np.float64)
    n = q.size
    tol = gamma(2 * n + 1) + EPS * np.log(n)
    if loss.name == "logistic":
        log_l = hom.log_loss_sum(q, loss)
        per = 1 + np.minimum(np.abs(q), 30.0) + np.abs(loss.log_value(q))
        tol += 4 * EPS * float(np.max(per)) + 4 * EPS * (1 + np.exp(log_l) + 2 * abs(log_l))
    return float(tol)


def smoothed_margin_tolerance(q: np.ndarray, loss: Loss) -> float:
    """Absolute rounding of ``Q`` (:func:`~invariants.core.homogeneous.smoothed_min_margin`;
    LL-SW, LL-LA.5, LL-EQ7): the log-sum-exp of :func:`sandwich_tolerance`, plus the
    addition of ``q_min`` (``eps |Q|`` and ``eps |q_min|``); the logistic form adds the
    rounding of ``log Lsum``'s terms, ``4 eps`` of their largest magnitude."""
    q = np.asarray(q, dtype=np.float64)
    tol = sandwich_tolerance(q, loss) + 2 * EPS * (abs(float(np.min(q))) + 1)
    Q = hom.smoothed_min_margin(q, loss)
    tol += 2 * EPS * abs(Q)
    if loss.name == "logistic":
        tol += 4 * EPS * float(np.max(np.abs(loss.log_value(q))))
    return float(tol)


def _check_sandwich(sid: str, q: np.ndarray, Q: float, loss: Loss) -> Slack:
    q = np.asarray(q, dtype=np.float64)
    n, q_min = q.size, float(np.min(q))
    log_l = hom.log_loss_sum(q, loss)
    upper = float(np.log(n)) + (float(np.exp(log_l)) if loss.name == "logistic" else 0.0)
    gap = hom.sandwich_gap(q, loss)
    tol = sandwich_tolerance(q, loss)
    assert -tol <= gap <= upper + tol, (
        f"{sid}: rho^p (gbar - gtil) = {gap:.17g} outside [0, {upper:.17g}] (tolerance {tol:.2e})"
    )
    # The smoothed margin the suite uses (Q = gtil rho^p) must give the same gap.
    gap_q = q_min - Q
    tol_q = tol + smoothed_margin_tolerance(q, loss) + EPS * (abs(q_min) + abs(Q))
    assert -tol_q <= gap_q <= upper + tol_q and abs(gap_q - gap) <= tol_q, (
        f"{sid}: q_min - Q = {gap_q:.17g} (Q = {Q:.17g}, q_min = {q_min:.17g}) but the "
        f"sandwich is [0, {upper:.6g}] and the direct gap {gap:.17g} (tolerance {tol_q:.2e})"
    )
    ratio = slack_ratio(max(gap_q, gap), upper + tol_q)
    return Slack(
        sid,
        ratio,
        f"n = {n}, gap q_min - Q = {gap_q:.6g} in [0, {upper:.6g}]",
        exercised=True,
        measures={"gap_over_bound": gap / upper if upper > 0 else 0.0},
    )


def check_ll_sw(q: np.ndarray, Q: float, loss: Loss) -> Slack:
    """LL-SW (exponential loss): ``gbar - log(n)/rho^p <= gtil <= gbar``, that is
    ``0 <= q_min - Q <= log n``; the gap computed without cancellation
    (:func:`~invariants.core.homogeneous.sandwich_gap`) and from the suite's ``Q`` (which a
    smoothed margin of the mean risk, ``Q + log n``, fails).  Holds at every point."""
    if loss.name != "exponential":
        raise ValueError("LL-SW is the exponential loss's sandwich; LL-LA.5 is the logistic")
    return _check_sandwich("LL-SW", q, Q, loss)


def check_ll_la5(q: np.ndarray, Q: float, loss: Loss) -> Slack:
    """LL-LA.5 (logistic loss): ``Q <= q_min <= loss^{-1}(Lsum/n)``, checked in the derived
    form ``0 <= q_min - Q <= log n + Lsum`` (``(e^a - 1)/(e^{a/n} - 1) <= n e^a``).  Both
    hold at every point; the statement assumes ``Lsum < log 2`` (B4), so only such points
    count as exercised."""
    if loss.name != "logistic":
        raise ValueError("LL-LA.5 is checked on the logistic loss here; LL-SW is the exponential")
    slack = _check_sandwich("LL-LA.5", q, Q, loss)
    below = hom.log_loss_sum(q, loss) < float(np.log(np.log(2.0)))
    return Slack(
        slack.statement, slack.ratio, slack.detail, exercised=below, measures=slack.measures
    )


# --- LL-EQ7 --------------------------------------------------------------------------------


def nu_tolerance(q: np.ndarray, loss: Loss) -> float:
    """Absolute rounding of ``n1 = nu/Lsum = sum_i w_i q_i`` (LL-EQ7).

    Each ``w_i = exp(log(-loss'(q_i)) - log Lsum)`` has an exponent off by at most
    ``E = gamma(2n + 4) + 2 eps (max_i |q_i| + |log Lsum| + 1)`` (each log form to a few
    eps of its magnitude, ``log Lsum`` to its log-sum-exp rounding): relative error
    ``expm1(E)``; the sum adds ``gamma(n)``: ``(expm1(E) (1 + gamma(n)) + gamma(n))
    sum_i w_i |q_i|``.  This grows like ``eps |q|^2``: at margins near 1e8 it is order one.
    """
    q = np.asarray(q, dtype=np.float64)
    n = q.size
    log_l = hom.log_loss_sum(q, loss)
    E = gamma(2 * n + 4) + 2 * EPS * (float(np.max(np.abs(q))) + abs(log_l) + 1)
    w = hom.dual_weights(q, loss)
    return float((np.expm1(E) * (1 + gamma(n)) + gamma(n)) * (w @ np.abs(q)))


def floor_tolerance(q: np.ndarray, loss: Loss) -> float:
    """Absolute rounding of ``a = (-loss'(Q)) Q / Lsum = Q f'(Q)`` (LL-EQ7's floor).

    Exponential: ``a = Q`` exactly in the code (``f' = 1``), so ``Q``'s rounding
    (:func:`smoothed_margin_tolerance`).  Logistic: ``FLOOR_LIPSCHITZ`` times that, plus
    ``f'(Q)``'s own rounding, an exponent off by ``4 eps (|Q| + 2)``, times ``|Q|``.
    """
    dQ = smoothed_margin_tolerance(q, loss)
    if loss.name == "exponential":
        return dQ
    Q = hom.smoothed_min_margin(q, loss)
    return FLOOR_LIPSCHITZ * dQ + float(np.expm1(4 * EPS * (abs(Q) + 2))) * abs(Q)


def check_ll_eq7(q: np.ndarray, loss: Loss) -> Slack:
    """LL-EQ7: ``nu >= (-loss'(Q)) Q`` (divided by ``Lsum``: ``n1 >= a``); for the
    exponential loss also the two steps ``nu >= Lsum q_min >= Lsum log(1/Lsum)``.  Holds at
    every point (``f'(q) q`` increases on all of R for both losses); exercised where the
    floor is positive beyond its rounding (``Q > 0``: below the threshold).

    Ratio: ``a / (n1 + tol)``, ``<= 1`` when the bound holds; measure ``tightness =
    n1 / a`` (``>= 1``, tends to 1 as rho grows).
    """
    q = np.asarray(q, dtype=np.float64)
    n1 = hom.nu_over_loss(q, loss)
    a = hom.eq7_floor_over_loss(q, loss)
    tol = nu_tolerance(q, loss) + floor_tolerance(q, loss)
    assert a <= n1 + tol, (
        f"LL-EQ7: nu/Lsum = {n1:.17g} below (-loss'(Q)) Q / Lsum = {a:.17g} (tolerance {tol:.2e})"
    )
    ratio = slack_ratio(a, n1 + tol) if a > 0 else None
    detail = f"nu/Lsum = {n1:.6g} >= (-l'(Q)) Q/Lsum = {a:.6g}"
    if loss.name == "exponential":
        q_min, Q = float(np.min(q)), hom.smoothed_min_margin(q, loss)
        tol1 = nu_tolerance(q, loss)
        assert q_min <= n1 + tol1, (
            f"LL-EQ7 (first step): nu/Lsum = {n1:.17g} below q_min = {q_min:.17g} "
            f"(tolerance {tol1:.2e})"
        )
        tol2 = smoothed_margin_tolerance(q, loss)
        assert Q <= q_min + tol2, (
            f"LL-EQ7 (second step): q_min = {q_min:.17g} below log(1/Lsum) = {Q:.17g} "
            f"(tolerance {tol2:.2e})"
        )
        if q_min > 0:
            ratio = max(ratio or 0.0, slack_ratio(q_min, n1 + tol1))
        detail += f" (q_min = {q_min:.6g})"
    return Slack(
        "LL-EQ7",
        ratio,
        detail,
        exercised=bool(a > tol),
        measures={"tightness": n1 / a} if a > tol else {},
    )


# --- LL-L5.1 -------------------------------------------------------------------------------


def check_ll_l51(state: State) -> Slack:
    """LL-L5.1, pointwise past t0 in the scaled clock.

    With ``G = grad Lsum/Lsum``, ``n1 = nu/Lsum``, ``a = (-loss'(Q)) Q/Lsum`` and the split
    ``||G||^2 = r^2 + ||u||^2``: ``dQ/dt = ||grad Lsum||^2 / (-loss'(Q))`` and ``d log rho/dt
    = p nu / rho^2`` give ``(1/Lsum) d log gtil/dt = ||G||^2/a - p^2 n1/rho^2``, and
    ``V = Lsum p n1/rho^2``, ``T = Lsum^2 ||u||^2/rho^2`` give ``(1/Lsum) p T/V =
    ||u||^2/n1``.  Asserted: ``V > 0``; the exact gap ``||G||^2/a - p^2 n1/rho^2 - ||u||^2/n1
    = ||G||^2 (1/a - 1/n1)`` (its residual is LL-S5.ID(c)'s over ``n1``, plus ``gamma(6)``
    of the terms); and the inequality ``||G||^2 (1/a - 1/n1) >= 0`` to LL-EQ7's tolerance
    carried through ``(n1 - a)/(a n1)``.  Only states with ``a > 0`` (past t0) are asserted.
    """
    p, loss = state.model.order, state.loss
    q = state.model.q
    a = hom.eq7_floor_over_loss(q, loss)
    if not a > 0:
        return Slack("LL-L5.1", None, "before t0 (Q <= 0)", exercised=False)
    s = split(state)
    n1, gg = s.n1, s.vv
    tol7 = nu_tolerance(q, loss) + floor_tolerance(q, loss)
    assert n1 > 0, f"LL-L5.1: d log rho/dt = p nu/rho^2 is not positive (nu/Lsum = {n1:.3e})"
    rate = gg / a - p * p * n1 / s.rho**2
    bound = s.uu / n1
    gap = gg * (1 / a - 1 / n1)
    _, tol3 = identity_residual(s, p)
    tol_id = tol3 / n1 + gamma(6) * (gg / a + p * p * n1 / s.rho**2 + bound + gg / n1)
    resid = abs((rate - bound) - gap)
    assert resid <= tol_id, (
        f"LL-L5.1 (gap identity): d log gtil/dt - p T/V = {rate - bound:.17g} but "
        f"||G||^2 (1/a - 1/nu) = {gap:.17g} (scaled; residual {resid:.3e} > {tol_id:.3e})"
    )
    tol_in = gg * tol7 / (a * n1) + gamma(4) * gg * (1 / a + 1 / n1)
    assert gap >= -tol_in, (
        f"LL-L5.1: d log gtil/dt - p T/V = {gap:.17g} < 0 beyond {tol_in:.2e} (nu/Lsum = "
        f"{n1:.17g}, (-l'(Q)) Q/Lsum = {a:.17g})"
    )
    ratio = max(slack_ratio(resid, tol_id), slack_ratio(bound, rate + tol_in))
    return Slack(
        "LL-L5.1",
        ratio,
        f"(1/Lsum) d log gtil/dt = {rate:.4g} >= (1/Lsum) p T/V = {bound:.4g}",
        exercised=True,
        measures={"gap_share": gap / rate if rate > 0 else 0.0},
    )


# --- LL-EQ5 --------------------------------------------------------------------------------


def check_ll_eq5(state: State) -> Slack:
    """LL-EQ5, layer by layer (every ``k_j = 1``), pointwise past t0 in the scaled clock.

    ``gtil_mh = Q / prod_k rho_k`` with ``rho_k = ||W_k||_F``; ``d log rho_k/dt = nu/rho_k^2``
    (LL-EQ6(a)), so ``(1/Lsum) d log gtil_mh/dt = ||G||^2/a - sum_k n1/rho_k^2`` and the
    bound ``sum_k (d log rho_k/dt)^{-1} ||dW_hat_k/dt||^2`` is ``Lsum sum_k ||u_k||^2/n1``
    (``u_k`` the part of ``-G_k`` orthogonal to ``W_k``).  With ``||G_k||^2 = r_k^2 +
    ||u_k||^2`` and ``r_k = n1/rho_k`` the gap is again ``||G||^2 (1/a - 1/n1)``.  Tolerance:
    per layer the split of :func:`split` (``D_k`` in place of ``D``, ``p = 1``), summed, over
    ``n1``; the inequality as in :func:`check_ll_l51`.
    """
    loss, q = state.loss, state.model.q
    a = hom.eq7_floor_over_loss(q, loss)
    if not a > 0:
        return Slack("LL-EQ5", None, "before t0 (Q <= 0)", exercised=False)
    model = state.model
    v = -hom.scaled_gradient(model, loss)
    n1 = hom.nu_over_loss(q, loss)
    _, tol_k = eq6_tolerance(state)
    gg = float(v @ v)
    rate, bound, tol_res = gg / a, 0.0, gamma(state.size) * gg
    for k, sl in enumerate(hom.layer_slices([W.shape for W in state.weights])):
        Dk = sl.stop - sl.start
        rho_k = float(np.linalg.norm(model.theta[sl]))
        r_k, u_k = hom.radial_tangential(model.theta[sl], v[sl])
        vv_k, uu_k = float(v[sl] @ v[sl]), float(u_k @ u_k)
        t_split = 12 * gamma(Dk + 4) * vv_k
        t_rad = tol_k[k] / rho_k + 2 * gamma(Dk + 2) * np.sqrt(vv_k) + gamma(3) * abs(n1) / rho_k
        rate -= n1 / rho_k**2
        bound += uu_k / n1
        tol_res += t_split + t_rad * (2 * abs(r_k) + t_rad) + gamma(4) * vv_k
    gap = gg * (1 / a - 1 / n1)
    tol_id = tol_res / n1 + gamma(2 * len(state.weights) + 6) * (
        gg / a + abs(rate) + bound + gg / n1
    )
    resid = abs((rate - bound) - gap)
    assert resid <= tol_id, (
        f"LL-EQ5 (gap identity): d log gtil_mh/dt - sum_k (..) = {rate - bound:.17g} but "
        f"||G||^2 (1/a - 1/nu) = {gap:.17g} (scaled; residual {resid:.3e} > {tol_id:.3e})"
    )
    tol7 = nu_tolerance(q, loss) + floor_tolerance(q, loss)
    tol_in = gg * tol7 / (a * n1) + gamma(4) * gg * (1 / a + 1 / n1)
    assert gap >= -tol_in, (
        f"LL-EQ5: d log gtil_mh/dt falls below its bound by {-gap:.3e} (beyond {tol_in:.2e})"
    )
    return Slack(
        "LL-EQ5",
        max(slack_ratio(resid, tol_id), slack_ratio(bound, rate + tol_in)),
        f"(1/Lsum) d log gtil_mh/dt = {rate:.4g} >= {bound:.4g}",
        exercised=True,
    )


# --- all at one state ----------------------------------------------------------------------

STATEMENTS = ("LL-EQ1", "LL-SW", "LL-LA.5", "LL-EQ6", "LL-EQ7", "LL-S5.ID", "LL-L5.1", "LL-EQ5")


def checks_at(state: State, c: float) -> dict[str, Callable[[], Slack]]:
    """Every check of this stem at one state, as thunks (for
    :func:`properties.helpers.collect`): LL-SW or LL-LA.5 by the loss."""
    q = state.model.q
    Q = hom.smoothed_min_margin(q, state.loss)
    sandwich = (
        ("LL-SW", check_ll_sw)
        if state.loss.name == "exponential"
        else (
            "LL-LA.5",
            check_ll_la5,
        )
    )
    return {
        "LL-EQ1": lambda: check_ll_eq1(state, c),
        sandwich[0]: lambda: sandwich[1](q, Q, state.loss),
        "LL-EQ6": lambda: check_ll_eq6(state),
        "LL-EQ7": lambda: check_ll_eq7(q, state.loss),
        "LL-S5.ID": lambda: check_ll_s5_id(state),
        "LL-L5.1": lambda: check_ll_l51(state),
        "LL-EQ5": lambda: check_ll_eq5(state),
    }


# --- certificates (ball arithmetic, python-flint) ------------------------------------------

#: The statements certified at sampled checkpoints of a deep linear flow.
CERTIFIED = ("LL-SW", "LL-LA.5", "LL-EQ7", "LL-L5.1")


def certify_linear_state(weights: Sequence[np.ndarray], z: np.ndarray, loss: Loss) -> dict:
    """Ball-arithmetic verdicts at the float layers of a deep linear network (LL-SW,
    LL-LA.5, LL-EQ7, LL-L5.1): exact margins ``q_i`` in balls from the layers, then

    * LL-SW / LL-LA.5: ``Q <= q_j`` for every j (so ``Q <= q_min``) and
      ``q_{j*} - Q <= log n`` (``+ Lsum`` logistic) at the float argmin ``j*`` (so
      ``q_min - Q`` is at most that);
    * LL-EQ7: ``nu - (-loss'(Q)) Q >= 0``, and for the exponential loss
      ``nu - Lsum q_{j*} >= 0`` (as ``q_{j*} >= q_min``, this proves the first step);
    * LL-L5.1: ``(-loss'(Q)) Q > 0`` (past t0) and ``nu - (-loss'(Q)) Q >= 0``, whose
      product with ``||grad Lsum||^2 / (a nu) >= 0`` is the exact gap: the gap's sign.

    Returns a :class:`~invariants.certify.balls.Certificate` per statement (LL-L5.1 only
    past t0, where it is asserted)."""
    from invariants.certify import balls

    out = balls.refine(
        lambda: _certify_linear_state(weights, z, loss),
        lambda verdicts: any(c.decided is None for c in verdicts.values()),
    )
    return out


def _certify_linear_state(weights: Sequence[np.ndarray], z: np.ndarray, loss: Loss) -> dict:
    """:func:`certify_linear_state` at the enclosing working precision (at least
    :data:`~invariants.certify.balls.PREC`; ``refine`` recomputes an undecided verdict at
    4 PREC bits).

    Identical rows of ``z`` have identical margins: each distinct row's margin is enclosed
    once and counted with its multiplicity, so a tie between copies is exact.  For the
    exponential loss everything is written relative to the float argmin's margin ``q*``
    without cancellation: ``d_u = q_u - q*``, ``S = sum_u c_u e^{-d_u} - 1`` (``Lsum =
    e^{-q*} (1 + S)``), so ``q* - Q = log1p(S)``; the sandwich is ``d_u + log1p(S) >= 0``
    and ``n - 1 - S = sum_{u != *} c_u (-expm1(-d_u)) >= 0``; eq. 7's first step is
    ``(nu - Lsum q*) e^{q*} = sum_{u != *} c_u e^{-d_u} d_u >= 0`` and its floor
    ``(nu - Lsum Q) e^{q*} / (1 + S) = sum_u c_u e^{-d_u} d_u / (1 + S) + log1p(S) >= 0``;
    past t0 means ``Q = q* - log1p(S) > 0``.  (An all-equal margin vector, e.g. a zero first
    layer, then decides the equality cases exactly instead of leaving a ball around 0.)
    """
    from flint import arb

    from invariants.certify import balls, network

    rows, counts = np.unique(np.asarray(z, dtype=np.float64), axis=0, return_counts=True)
    with balls.working_precision():
        w = network.end_to_end(network.ball_weights(weights))
        q = network.margins(w, balls.ball_matrix(rows))
        n = int(counts.sum())
        # The argmin of the enclosed margins' midpoints (not of the float margins, whose
        # rounding can misorder two margins that differ by less than it): every ``d_u``
        # then has a non-negative midpoint, so the rewrite below never proves a false
        # "gap > log n" from a misordered near-tie.
        star = int(np.argmin([float(x.mid()) for x in q]))
        others = [u for u in range(len(q)) if u != star]
        out: dict = {}
        if loss.name == "exponential":
            d = {u: q[u] - q[star] for u in others}
            e = {u: (-d[u]).exp() for u in others}
            S = arb(int(counts[star]) - 1) + sum((int(counts[u]) * e[u] for u in others), arb(0))
            gap = S.log1p()
            lower = [balls.nonnegative(gap, "q* - Q")]
            lower += [balls.nonnegative(d[u] + gap, f"q_{u} - Q") for u in others]
            spare = sum((int(counts[u]) * -((-d[u]).expm1()) for u in others), arb(0))
            upper = balls.nonnegative(spare, "log n - (q_min - Q)")
            out["LL-SW"] = balls.combine([*lower, upper])
            first = sum((int(counts[u]) * e[u] * d[u] for u in others), arb(0))
            floor_margin = first / (1 + S) + gap
            eq7 = [
                balls.nonnegative(floor_margin, "nu - (-l'(Q)) Q"),
                balls.nonnegative(first, "nu - Lsum q_min"),
            ]
            out["LL-EQ7"] = balls.combine(eq7)
            Q = q[star] - gap
            if float(Q.mid()) > 0:
                out["LL-L5.1"] = balls.combine(
                    [balls.nonnegative(Q, "(-l'(Q)) Q", strict=True), eq7[0]]
                )
            return out
        ell = [int(c) * network.loss_value(loss, x) for c, x in zip(counts, q, strict=True)]
        Lsum = sum(ell, arb(0))
        Q = -Lsum.expm1().log()
        lower = balls.combine([balls.nonnegative(x - Q, f"q_{i} - Q") for i, x in enumerate(q)])
        upper = balls.nonnegative(arb(n).log() + Lsum - (q[star] - Q), "log n + Lsum - (q_min - Q)")
        out["LL-LA.5"] = balls.combine([lower, upper])
        nu = sum(
            (int(c) * -network.loss_d1(loss, x) * x for c, x in zip(counts, q, strict=True)),
            arb(0),
        )
        floor = -network.loss_d1(loss, Q) * Q
        eq7 = [balls.nonnegative(nu - floor, "nu - (-l'(Q)) Q")]
        out["LL-EQ7"] = balls.combine(eq7)
        if float(floor.mid()) > 0:
            out["LL-L5.1"] = balls.combine(
                [balls.nonnegative(floor, "(-l'(Q)) Q", strict=True), eq7[0]]
            )
    return out


def require_consistent(statement: str, certificate) -> None:
    """A FALSE certificate where the float check held is a failure of the suite (the float
    check is then contradicted by a proof; LL-SW, LL-LA.5, LL-EQ7, LL-L5.1)."""
    assert certificate.decided is not False, (
        f"{statement}: the float check held but ball arithmetic proves it false at "
        f"{certificate.witness} (exact margin in [{certificate.lower:.6e}, "
        f"{certificate.upper:.6e}])"
    )


def certify_path(states: Sequence[Sequence[np.ndarray]], z: np.ndarray, loss: Loss) -> dict:
    """The verdicts of :func:`certify_linear_state` at sampled layers of one run (the first,
    the last and :data:`~invariants.certify.steps.SAMPLED_BETWEEN` between), combined per
    statement, each required consistent with the float checks (LL-SW, LL-LA.5, LL-EQ7,
    LL-L5.1)."""
    from invariants.certify import balls, steps

    per: dict[str, list] = {}
    for i in steps.sample_steps(len(states)):
        for sid, cert in certify_linear_state(states[i], z, loss).items():
            per.setdefault(sid, []).append(
                dataclasses.replace(
                    cert, witness=f"state {i}: {cert.witness}" if cert.witness else ""
                )
            )
    out = {sid: balls.combine(certs) for sid, certs in per.items()}
    for sid, cert in out.items():
        require_consistent(sid, cert)
    return out
