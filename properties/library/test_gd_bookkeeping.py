"""Bookkeeping of the GD step rule A5 and of the flow's trajectory record.

GD (:func:`invariants.dynamics.gd.gradient_descent`): each rule of the step rule's radius
and step size has its own assertion, replayed independently from the recorded iterates
with :mod:`invariants.core.network`'s gradient and the A5 formula written out here:

- ``R_t`` never shrinks (``R_{-1}`` is the start ``max(1, max_k ||W_k(0)||_F, radius0)``);
- ``R_t = R_{t-1}`` when the step at ``R_{t-1}`` lands in ``B(R_{t-1})``;
- otherwise ``R_t = R_{t-1} grow^k`` with ``k`` the first power whose step lands;
- ``eta_t = min{1 / (2 L^2 R_t^(2L-2) (beta + G)), 1}`` and
  ``W(t+1) = W(t) - eta_t grad R(W(t))``;
- the records ``log_risk``, ``grad_norm``, ``grad_sq_layers``, ``P``, ``Q`` equal their
  definitions; and the step rule's own thresholds (``R >= 1``, the cap ``eta <= 1``,
  the closed ball) at one ulp either side.

Three runs on one tiny problem exercise every branch: ``grow = 2`` (one growth, then
the radius is kept), ``grow = 1 + 2^-10`` (a growth of about 12 powers at every step)
and ``radius0 = 0.5`` (clamped to 1).

Flow (:func:`invariants.dynamics.flow.gradient_flow`): every recorded quantity of a
checkpoint and of the step log against its definition, recomputed from the accepted
states (read by a spy on the budget function, which sees each accepted step's two ends);
``perp_error`` (NaN until :func:`~invariants.dynamics.reference.with_perp_error`) is
library/test_flow_accuracy.py's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from invariants.core import network as net
from invariants.core.data import make_dataset
from invariants.core.losses import EXPONENTIAL, LOGISTIC, Loss
from invariants.core.rounding import EPS, gamma, rounding_count
from invariants.dynamics import flow, gd
from invariants.errors import AssumptionError

UP, DOWN = np.inf, -np.inf


def tiny_problem(scale: float = 1.0) -> tuple[np.ndarray, net.Weights]:
    """Four points in the plane, a depth-2 network of width 2 with A2, layers times ``scale``."""
    x = np.array([[0.6, 0.2], [0.5, -0.3], [-0.4, -0.5], [-0.7, 0.1]])
    z = make_dataset(x, np.array([1.0, 1.0, -1.0, -1.0])).z
    W = (scale * np.array([[0.3, -0.2], [0.1, 0.4]]), scale * np.array([[0.5, 0.3]]))
    assert net.satisfies_a2(W, z, LOGISTIC)
    return z, W


def gradient(weights: net.Weights, z: np.ndarray) -> net.Weights:
    """``dR/dW_k`` by :func:`invariants.core.network.layer_gradients`, unscaled."""
    g = net.layer_gradients(weights, z, LOGISTIC)
    return tuple(np.exp(g.log_scale) * G for G in g.layers)


def a5(radius: float, depth: int, loss: Loss) -> float:
    """A5 written out: ``min{1 / (2 L^2 R^(2L-2) (beta + G)), 1}``."""
    return min(1.0 / (2.0 * depth**2 * radius ** (2 * depth - 2) * (loss.beta + loss.G)), 1.0)


def lands(weights: net.Weights, G: net.Weights, radius: float, depth: int) -> bool:
    """Whether the A5 step at ``radius`` lands in ``B(radius)`` (every ``||W_k||_F <= R``)."""
    eta = a5(radius, depth, LOGISTIC)
    return all(np.linalg.norm(W - eta * Gk) <= radius for W, Gk in zip(weights, G, strict=True))


# Start weights' scale: max_k ||W_k(0)||_F is then just above 1 (1.00016).
NEAR_ONE = 1 / 0.583
RUNS = {
    "grow2": dict(scale=NEAR_ONE, grow=2.0, radius0=None, steps=40),
    "grow-fine": dict(scale=NEAR_ONE, grow=1 + 2.0**-10, radius0=None, steps=20),
    "clamped": dict(scale=1.0, grow=2.0, radius0=0.5, steps=40),
}


def gd_run(name: str) -> tuple[gd.GDTrajectory, float, float]:
    """The A5 run ``name`` of :data:`RUNS`, its starting radius and its growth factor."""
    p = RUNS[name]
    z, W = tiny_problem(p["scale"])
    tr = gd.gradient_descent(z, W, LOGISTIC, p["steps"], grow=p["grow"], radius0=p["radius0"])
    start = max(1.0, max(float(np.linalg.norm(M)) for M in W), p["radius0"] or 0.0)
    return tr, start, p["grow"]


def previous_radii(tr: gd.GDTrajectory, start: float) -> np.ndarray:
    """``R_{t-1}`` for each step t (``R_{-1}`` the start)."""
    return np.concatenate([[start], tr.radius[:-1]])


@pytest.mark.parametrize("name", RUNS)
def test_radius_never_shrinks(name: str) -> None:
    """S-EQ4's step rule A5: ``R_t >= R_{t-1}`` at every step, from the clamped start."""
    tr, start, _ = gd_run(name)
    assert start >= 1.0
    assert np.all(tr.radius >= previous_radii(tr, start))


@pytest.mark.parametrize("name", RUNS)
def test_radius_kept_when_the_step_lands(name: str) -> None:
    """A5: where the step at ``R_{t-1}`` lands in ``B(R_{t-1})``, ``R_t = R_{t-1}`` exactly."""
    tr, start, _ = gd_run(name)
    kept = 0
    for t, r_prev in enumerate(previous_radii(tr, start)):
        W, G = tr.weights[t], gradient(tr.weights[t], tr.z)
        if lands(W, G, r_prev, len(W)):
            assert tr.radius[t] == r_prev, t
            kept += 1
    assert kept > 0 or name == "grow-fine"


@pytest.mark.parametrize("name", RUNS)
def test_radius_grows_minimally_when_needed(name: str) -> None:
    """A5's line search: where the step at ``R_{t-1}`` leaves the ball, ``R_t = R_{t-1} grow^k``
    (``k`` repeated multiplications, as the search does) with ``k >= 1`` the first power
    whose step lands; every smaller power's step leaves its ball."""
    tr, start, grow = gd_run(name)
    grown = []
    for t, r_prev in enumerate(previous_radii(tr, start)):
        W, G = tr.weights[t], gradient(tr.weights[t], tr.z)
        r, k = r_prev, 0
        while not lands(W, G, r, len(W)):
            r, k = r * grow, k + 1
        assert tr.radius[t] == r, (t, k)
        if k:
            grown.append(k)
    assert grown and (name != "grow-fine" or max(grown) >= 2)


@pytest.mark.parametrize("name", RUNS)
def test_eta_and_the_update_follow_a5(name: str) -> None:
    """S-EQ4: ``eta_t = A5(R_t)`` (written out here) and ``W(t+1) = W(t) - eta_t grad R(W(t))``,
    exactly: the same float operations in the same order as the run."""
    tr, _, _ = gd_run(name)
    L = len(tr.initial)
    for t in range(tr.steps):
        assert tr.eta[t] == a5(tr.radius[t], L, LOGISTIC) == gd.a5_step(tr.radius[t], L, LOGISTIC)
        G = gradient(tr.weights[t], tr.z)
        for Wn, W, Gk in zip(tr.weights[t + 1], tr.weights[t], G, strict=True):
            assert np.array_equal(Wn, W - tr.eta[t] * Gk), t


def log_risk_logistic(weights: net.Weights, z: np.ndarray) -> float:
    """``log((1/n) sum_i log(1 + exp(-<w_prod, z_i>)))`` with ``w_prod`` by a matrix chain."""
    w = np.linalg.multi_dot([*weights[::-1], np.eye(z.shape[1])])[0]
    return float(np.log(np.mean(np.logaddexp(0.0, -(z @ w)))))


def risk_tolerance(weights: net.Weights, z: np.ndarray) -> float:
    """Two independent evaluations of ``log R`` differ by at most twice the rounding bound of
    one (:func:`invariants.dynamics.flow.evaluation_rounding`: the margins' product chain,
    the sum over n points and the log, which the plain formula shares)."""
    return 2 * flow.evaluation_rounding(weights, z)


def grad_norm_tolerance(weights: net.Weights, z: np.ndarray, norm: float) -> float:
    """The recorded ``exp(log_scale + log(sq) / 2)`` against the 2-norm of the unscaled layers.

    The exponent carries ``<= eps (|log_scale| + |log sq| / 2 + 2)`` absolute rounding,
    relative in the result after ``exp`` (plus its own ulp); the norm of ``N`` entries
    ``(N / 2 + 1) eps`` and the rescaling of each entry one ulp more.
    """
    g = net.layer_gradients(weights, z, LOGISTIC)
    sq = sum(float(np.vdot(G, G)) for G in g.layers)
    n = sum(G.size for G in g.layers)
    return EPS * (abs(g.log_scale) + abs(np.log(sq)) / 2 + 3 + n / 2 + 2) * norm


@pytest.mark.parametrize("name", RUNS)
def test_recorded_risk_and_gradient(name: str) -> None:
    """S-EQ4: ``log_risk[t]``, ``grad_norm[t]`` and ``grad_sq_layers[t]`` are ``log R(W(t))``,
    ``||grad R(W(t))||`` and ``||dR/dW_k||_F^2`` (tolerances in the helpers above)."""
    tr, _, _ = gd_run(name)
    assert tr.log_risk.size == tr.steps + 1 and tr.grad_sq_layers.shape == (tr.steps, 2)
    for t, W in enumerate(tr.weights):
        assert abs(tr.log_risk[t] - log_risk_logistic(W, tr.z)) <= risk_tolerance(W, tr.z), t
        if t == tr.steps:
            break
        G = gradient(W, tr.z)
        gn = float(np.linalg.norm(net.flatten(G)))
        assert abs(tr.grad_norm[t] - gn) <= grad_norm_tolerance(W, tr.z, gn), t
        assert np.array_equal(tr.grad_sq_layers[t], [np.vdot(Gk, Gk) for Gk in G]), t


@pytest.mark.parametrize("name", RUNS)
def test_accumulators_p_and_q(name: str) -> None:
    """S-EQ29's accumulators: ``P_k(t) = sum_{tau<t} eta_tau^2 G_k G_k^T``,
    ``Q_k(t) = sum_{tau<t} eta_tau^2 G_k^T G_k``, ``P(0) = Q(0) = 0``.

    Recomputed in one ``einsum`` per layer and checkpoint (another summation order):
    each computation is within ``gamma(t + m + 2)`` (``m`` the inner dimension, the
    ``eta^2`` product and the sum over ``t`` steps) of the exact sum of absolute terms
    entrywise, so the two differ by at most twice that.
    """
    tr, _, _ = gd_run(name)
    Gs = [gradient(W, tr.z) for W in tr.weights[:-1]]
    e2 = tr.eta**2
    for t in (0, 1, tr.steps // 2, tr.steps):
        for k in range(len(tr.initial)):
            Gk = np.array([G[k] for G in Gs[:t]]).reshape(t, *tr.initial[k].shape)
            for rec, spec, m in (
                (tr.P[t][k], "t,tij,tlj->il", Gk.shape[2]),
                (tr.Q[t][k], "t,tji,tjl->il", Gk.shape[1]),
            ):
                want = np.einsum(spec, e2[:t], Gk, Gk)
                tol = 2 * gamma(t + m + 2) * np.einsum(spec, e2[:t], np.abs(Gk), np.abs(Gk))
                assert rec.shape == want.shape and np.all(np.abs(rec - want) <= tol), (t, k)


# --- the step rule's thresholds -----------------------------------------------------------


def loss_with(beta: float, G: float) -> Loss:
    """The logistic loss with other A4 constants (as gd does for its negative controls)."""
    return Loss(**{**LOGISTIC.__dict__, "beta": beta, "G": G})


def test_beta_of_radius_needs_r_at_least_one() -> None:
    """S-L5: Lemma 5's ``beta(R)`` is defined at ``R = 1`` and raises one ulp below; without A4
    (exponential loss) it raises AssumptionError."""
    assert gd.beta_of_radius(1.0, 2, LOGISTIC) == 2.0 * 4 * 1.25
    with pytest.raises(ValueError, match=r"holds for R >= 1 only"):
        gd.beta_of_radius(ulp(1.0, DOWN), 2, LOGISTIC)
    with pytest.raises(AssumptionError, match=r"does not satisfy A4"):
        gd.beta_of_radius(1.0, 2, EXPONENTIAL)


def ulp(x: float, toward: float) -> float:
    """The float next to ``x`` toward ``toward``."""
    return float(np.nextafter(x, toward))


def test_a5_cap_at_beta_one() -> None:
    """A5's ``min{1/beta(R), 1}`` at ``beta(R) = 1`` exactly (depth 2, ``beta + G = 1/8``):
    1 there, 1 where ``beta(R)`` is one ulp below 1 (the cap binds), ``1/beta < 1`` above."""
    exact = loss_with(1 / 16, 1 / 16)
    assert gd.beta_of_radius(1.0, 2, exact) == 1.0 and gd.a5_step(1.0, 2, exact) == 1.0
    below = loss_with(1 / 16, ulp(1 / 8, DOWN) - 1 / 16)  # beta + G one ulp below 1/8, exactly
    assert gd.beta_of_radius(1.0, 2, below) == ulp(1.0, DOWN) and gd.a5_step(1.0, 2, below) == 1.0
    b = gd.beta_of_radius(ulp(1.0, UP), 2, exact)
    assert b > 1.0 and gd.a5_step(ulp(1.0, UP), 2, exact) == 1.0 / b < 1.0


def test_ball_is_closed() -> None:
    """``B(R)`` is closed: ``||W||_F = 5`` is in ``B(5)``, not in the ball one ulp smaller."""
    W = (np.array([[3.0, 4.0]]), np.array([[1.0]]))
    assert gd.in_ball(W, 5.0) and not gd.in_ball(W, ulp(5.0, DOWN))


def test_fixed_rule_needs_a_positive_step_and_records_the_norm() -> None:
    """The comparison rule ``fixed``: ``eta = 0`` raises, the smallest positive float runs; its
    recorded radius is ``max_k ||W_k(t)||_F`` (the same LAPACK norm: exact)."""
    z, W = tiny_problem()
    with pytest.raises(ValueError, match=r"needs a positive eta"):
        gd.gradient_descent(z, W, LOGISTIC, 1, rule="fixed", eta=0.0)
    tiny = gd.gradient_descent(z, W, LOGISTIC, 1, rule="fixed", eta=ulp(0.0, UP))
    assert tiny.eta[0] == ulp(0.0, UP)
    tr = gd.gradient_descent(z, W, LOGISTIC, 5, rule="fixed", eta=0.5)
    for t in range(tr.steps):
        assert tr.radius[t] == max(float(np.linalg.norm(M)) for M in tr.weights[t]), t
        G = gradient(tr.weights[t], z)
        assert all(
            np.array_equal(Wn, M - 0.5 * Gk)
            for Wn, M, Gk in zip(tr.weights[t + 1], tr.weights[t], G, strict=True)
        )


# --- the flow's record ----------------------------------------------------------------------


def spy(monkeypatch: pytest.MonkeyPatch, name: str, calls: list) -> Callable:
    """Replace ``flow.<name>`` by a recording wrapper; return the real function."""
    real: Callable = getattr(flow, name)

    def wrapper(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(flow, name, wrapper)
    return real


def log_rho(weights: net.Weights) -> float:
    """The lognorm clock ``log sqrt(1 + ||W||^2)``."""
    return 0.5 * float(np.log1p(sum(float(np.linalg.norm(M)) ** 2 for M in weights)))


def exp_linear_integral(h: float, a: float, b: float) -> float:
    """``int_0^h exp(a + (b - a) s / h) ds = h e^a expm1(b - a) / (b - a)`` (``h e^a`` at a = b)."""
    d = b - a
    return h * float(np.exp(a)) * (float(np.expm1(d)) / d if d else 1.0)


def check_step_allowances(tr: flow.Trajectory, states: list, errs: list) -> None:
    """The step log's two allowances and the checkpoints' ``kappa_time``, from their definitions.

    With ``fe_i = flow.evaluate(W_i)`` (the module's own evaluation: these are records of
    what the guard computed, so the inputs are the same floats), ``e_i`` the step's budget
    and ``kappa_i, tau_i = flow.sensitivities(W_i)``:

    - ``risk_allowance[0] = rounding(W_0)``, ``risk_allowance[i] = g_i e_i + rounding(W_i)``
      with ``g_i = max`` over the step's two ends of ``exp(log ||grad R|| - log R)``: exact;
    - ``rate_allowance[0] = 0``, ``rate_allowance[i] = I_i expm1(max(kappa_i, kappa_{i-1}) e_i)``
      with ``I_i`` the integral of ``exp`` of the linear interpolation of the logged rates
      (closed form above).  The flow sums ``log h + max + log(-expm1(-delta)) - log delta
      + log(expm1(x))`` and exponentiates: the absolute rounding of that sum, ``eps`` times
      the sum of the magnitudes of its terms (and one more ulp per operation, 8), is its
      relative error; the closed form's own ulps (8) are added;
    - ``kappa_time`` of a checkpoint is the running max of ``tau_i`` up to its step: exact.
    """
    z, loss, clock = tr.z, tr.loss, tr.clock
    fes = [flow.evaluate(W, z, loss, clock) for W in states]
    sens = [flow.sensitivities(W, z, loss, clock, fe) for W, fe in zip(states, fes, strict=True)]
    ra, qa, s, rate = (
        tr.steps.risk_allowance,
        tr.steps.rate_allowance,
        tr.steps.s,
        tr.steps.log_rate,
    )
    assert ra[0] == flow.evaluation_rounding(states[0], z) and qa[0] == 0.0
    for i in range(1, len(states)):
        g = max(float(np.exp(fe.log_grad_norm - fe.log_risk)) for fe in fes[i - 1 : i + 1])
        assert ra[i] == g * errs[i - 1] + flow.evaluation_rounding(states[i], z), i
        h, a, b = s[i] - s[i - 1], rate[i - 1], rate[i]
        x = max(sens[i][0], sens[i - 1][0]) * errs[i - 1]
        want = exp_linear_integral(h, a, b) * float(np.expm1(x))
        terms = abs(np.log(h)) + max(abs(a), abs(b)) + abs(np.log(abs(b - a) or 1.0))
        tol = EPS * (terms + abs(np.log(-np.expm1(-abs(b - a)) or 1.0)) + abs(np.log(x)) + 16)
        assert abs(qa[i] - want) <= tol * want, i
    tau = np.maximum.accumulate([t for _, t in sens])
    for c in tr.checkpoints:
        assert c.kappa_time == tau[c.steps]


def check_log_time(tr: flow.Trajectory) -> None:
    """S-INV: each checkpoint's ``log_time`` is within its ``log_time_error`` of the plain rule.

    ``t_plain(s_j) = sum_i int exp(linear interpolation of q = log dt/ds)`` over the logged
    steps, summed here in linear scale with the closed form :func:`exp_linear_integral`
    (the flow works in log-domain and adds a curvature correction).  The stated error is
    that correction's size plus the path's share ``kappa_time * local_error`` (asserted to
    be part of it), so ``|log_time - log t_plain| <= log_time_error`` up to rounding: each
    closed-form term within ``(|q| + 8) eps`` relative, the sum of positive terms ``n eps``.
    """
    s, q = tr.steps.s, tr.steps.log_dtds
    pieces = [exp_linear_integral(s[i + 1] - s[i], q[i], q[i + 1]) for i in range(s.size - 1)]
    t_plain = np.concatenate([[0.0], np.cumsum(pieces)])
    assert tr.checkpoints[0].log_time == -np.inf
    for c in tr.checkpoints[1:]:
        assert c.log_time_error >= c.kappa_time * c.local_error
        rnd = (float(np.max(np.abs(q[: c.steps + 1]))) + 8 + c.steps) * EPS
        assert abs(c.log_time - np.log(t_plain[c.steps])) <= c.log_time_error + rnd


def test_flow_records_equal_their_definitions(monkeypatch: pytest.MonkeyPatch) -> None:
    """S-EQ1, S-EQ2: every recorded field of the checkpoints and the step log, recomputed.

    Per accepted step i (its states read by a spy on the budget function, its clock value
    by a spy on the direction guard): ``s``; ``log R`` (plain formula, tolerance
    :func:`risk_tolerance`); ``log(dt/ds) = log rho - log ||grad R||`` and the S-EQ1 rate
    ``log rho + log ||grad R|| - log R``, each within the sum of its parts' tolerances
    (``log ||grad R||``: the gradient norm's relative tolerance; ``log rho``: the squared
    norm of ``N`` entries by two routes, each within ``gamma(N)`` relative, through
    ``log1p`` and the halving, ``gamma(N) + 2 eps``).  ``max_drift_rel``: the squared
    layer norms by two routes (``2 gamma(m)``, ``m`` the largest layer) and the division.

    Per checkpoint: its state, ``s``, ``log_risk``, ``log_grad_norm``; ``local_error``
    (the per-step budgets summed: ``i`` positive terms in another order, within ``i eps``);
    ``drift_bound`` (the per-step increments ``2 (n_k + n_{k+1}) e + 2 e^2`` with LAPACK
    norms, ``8 eps`` each as in test_flow_guards, plus the sums, plus ``eq2_rounding``);
    ``max_frobenius()`` (two routes to one norm: ``(m + 2) eps``); ``wprod_norm()`` (the
    chain ``W_L ... W_1`` by multi_dot: both within ``gamma`` of the inner dimensions
    times the chain of absolute values); the step log's allowances and ``kappa_time``
    (:func:`check_step_allowances`); ``log_time`` and ``log_time_error``
    (:func:`check_log_time`).
    """
    calls: list = []
    clocks: list = []
    budget = spy(monkeypatch, "local_error_bound", calls)
    spy(monkeypatch, "check_direction", clocks)
    z, W0 = tiny_problem()
    shapes = [M.shape for M in W0]
    N, m = sum(M.size for M in W0), max(M.size for M in W0)
    tr = flow.gradient_flow(z, W0, LOGISTIC, ds=0.25, s_max=1.0)
    n = tr.work.steps
    assert len(calls) == len(clocks) == n and tr.steps.s.size == n + 1
    assert len(tr.checkpoints) == 5 and tr.failures == ()
    assert tr.steps.s[0] == 0.0 and np.array_equal(tr.steps.s[1:], [c[3] for c in clocks])
    states = [W0] + [net.unflatten(c[1], shapes) for c in calls]
    errs = [budget(*c) for c in calls]
    drift_rel, tol_rel = 0.0, 0.0
    for i, W in enumerate(states):
        lr = log_risk_logistic(W, z)
        gn = float(np.linalg.norm(net.flatten(gradient(W, z))))
        tol_g = grad_norm_tolerance(W, z, gn) / gn
        tol_r, tol_rho = risk_tolerance(W, z), gamma(N) + 2 * EPS
        assert abs(tr.steps.log_risk[i] - lr) <= tol_r, i
        assert abs(tr.steps.log_dtds[i] - (log_rho(W) - np.log(gn))) <= tol_g + tol_rho, i
        rate = log_rho(W) + np.log(gn) - lr
        assert abs(tr.steps.log_rate[i] - rate) <= tol_g + tol_r + tol_rho, i
        if i:
            nn = np.array([np.linalg.norm(M) ** 2 for M in W])
            r = float(np.max(flow.eq2_drift(W0, W) / (nn[:-1] + nn[1:])))
            if r > drift_rel:
                drift_rel, tol_rel = r, (2 * gamma(m) + 2 * EPS) * r
    assert abs(tr.max_drift_rel - drift_rel) <= tol_rel
    check_step_allowances(tr, states, errs)
    check_log_time(tr)
    fro, wn = tr.max_frobenius(), tr.wprod_norm()
    for j, c in enumerate(tr.checkpoints):
        W = states[c.steps]
        assert all(np.array_equal(a, b) for a, b in zip(c.weights, W, strict=True)), j
        assert c.s == tr.steps.s[c.steps] and (j > 0 or c.steps == 0)
        assert abs(c.log_risk - log_risk_logistic(W, z)) <= risk_tolerance(W, z), j
        gn = float(np.linalg.norm(net.flatten(gradient(W, z))))
        assert abs(c.log_grad_norm - np.log(gn)) <= grad_norm_tolerance(W, z, gn) / gn, j
        total = float(np.sum(errs[: c.steps]))
        assert abs(c.local_error - total) <= c.steps * EPS * total, j
        inc = np.zeros(len(W0) - 1)
        for i in range(c.steps):
            nrm = np.maximum(*([np.linalg.norm(M) for M in states[k]] for k in (i, i + 1)))
            inc += 2 * (nrm[:-1] + nrm[1:]) * errs[i] + 2 * errs[i] ** 2
        want = inc + flow.eq2_rounding(W0, W)
        assert np.all(np.abs(c.drift_bound - want) <= (8 + c.steps) * EPS * want), j
        norms = [float(np.linalg.norm(M)) for M in W]
        assert abs(fro[j] - max(norms)) <= (m + 2) * EPS * max(norms), j
        chain = np.linalg.multi_dot([*W[::-1], np.eye(z.shape[1])])[0]
        absolute = np.linalg.multi_dot([*(np.abs(M) for M in W[::-1]), np.eye(z.shape[1])])[0]
        tol_w = 2 * gamma(rounding_count(W, 1)) * float(np.linalg.norm(absolute))
        assert abs(wn[j] - np.linalg.norm(chain)) <= tol_w, j
