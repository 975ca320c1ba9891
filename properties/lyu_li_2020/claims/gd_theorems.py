"""Gradient descent (exponential loss, deep linear networks): LL-T4.2, LL-LE.1, LL-LE.7,
and the exact GD form of LL-EQ6 along the same runs.

One run (:func:`invariants.dynamics.gd_scaled.scaled_gradient_descent`) is read once into
a :class:`GhatTrace` (every state's ``u = log(1/Lsum)``, ``log rho``, ``log ghat`` and their
rounding) and every check reads the trace.  The reference state ``t0`` is the first saved
state with ``u >= admissible_u0(lambda)`` (3/2 at ``lambda = 0``): ``Lsum(t0) < 1`` as the
paper asks, and ``r`` falls on ``(0, Lsum(t0)]`` so that phi has its closed form
(:mod:`invariants.core.smoothed_gd`).  ``lambda = 0`` throughout.

**Derivation of the monotonicity** (what the checks assert, derived here for ``lambda = 0``
and the constant ``C_eta^D``).  Write ``s = eta Lsum``, ``g = grad Lsum / Lsum`` and
``g_perp`` its part orthogonal to ``theta``.  (P2) is the exact identity ``rho(t+a)^2 -
rho(t)^2 = 2 a s p nu/Lsum + a^2 s^2 ||g||^2`` (Euler: ``<theta, -g> = p nu/Lsum``).  (P3) is
the descent lemma with ``||Hess Lsum|| <= C_eta^D kappa(Lsum)`` on the segment and ``eta <=
H^D``: ``Lsum(t+a) <= Lsum(t) (1 - a s (1 - a mu/2) ||g||^2)``.  phi is convex (``phi' =
-r`` rises), so ``phi(t+a) - phi(t) >= r(Lsum) (Lsum(t) - Lsum(t+a)) >= (1 + 2 mu)(1 - a
mu/2) a s ||g||^2 / u``.  With ``log(1+x) <= x``, ``p^2 nu / rho^2 = (p nu/rho)^2/nu``,
``(p nu/(rho Lsum))^2 = ||g||^2 - ||g_perp||^2`` and ``nu/Lsum >= q_min >= u`` (LL-EQ7):

    ``log ghat(t+a) - log ghat(t) >= a s ||g_perp||^2 / u + a s ||g||^2 [(3/2 mu - mu^2) / u
    - (p/2) a s / rho^2]``

and the bracket is ``>= 0`` because ``H^D Lsum <= 2 mu rho^2 / (p u)`` whenever ``u >= p
gtil^{2/p} / (2 C_eta^D)``, which is at most ``1/(2p)`` (``gtil <= B0 = p^{-p/2} zmax``,
``B1^2 = p^{2-p} zmax^2``), below ``u0 >= 3/2``.  So (P4) and T4.2 (1) hold, and strictly
unless ``g_perp = 0`` (the direction is still): T4.2 (2) in the quantitative form
``Delta log ghat >= s ||g_perp||^2 / u``.

**Tolerances** (all derived, :mod:`invariants.core.smoothed_gd`): a margin ``q_i`` computed
through the chain errs by ``<= gamma(m) c_i``, ``c_i = |z_i|^T |W_1|^T ... |W_L|^T`` (the
chain of absolute values), ``m`` = :func:`invariants.core.rounding.rounding_count`; ``u``
by that plus the log-sum-exp's rounding; ``log ghat`` by
:func:`~invariants.core.smoothed_gd.log_ghat_rounding`; and every comparison between
``theta(t)`` and the stored next iterate adds the effect of the update's own rounding
(:func:`~invariants.core.smoothed_gd.update_rounding`) through ``||grad log ghat|| <= (1 +
u0/u) B1 rho^{p-1} / u + p / rho``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from invariants.core import homogeneous as hom
from invariants.core import network as net
from invariants.core import smoothed_gd as sgd
from invariants.core.losses import EXPONENTIAL
from invariants.core.rounding import EPS, gamma, rounding_count, slack_ratio
from invariants.dynamics import gd_scaled
from invariants.dynamics.gd_scaled import ScaledRun
from invariants.statements import Slack

#: The fractions of a step at which LL-LE.7 is checked.
ALPHAS = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class StateRead:
    """One parameter point read for the checks: ``u``, its rounding ``du``, ``log rho``,
    ``q_min`` and its rounding ``dq`` (LL-T4.2)."""

    u: float
    du: float
    log_rho: float
    rho: float
    q_min: float
    dq: float
    n_z: int


def read_state(theta: np.ndarray, shapes, z: np.ndarray, m: int) -> StateRead:
    """``u``, ``log rho``, ``q_min`` at ``theta`` with their derived rounding (LL-T4.2)."""
    W = net.unflatten(theta, shapes)
    q = z @ net.end_to_end(W)
    c = np.abs(z) @ net.end_to_end(tuple(np.abs(M) for M in W))  # the chain of |.|
    log_l = hom.log_loss_sum(q, EXPONENTIAL)
    cmax = float(np.max(c))
    rho = float(np.linalg.norm(theta))
    return StateRead(
        u=-log_l,
        du=sgd.log_loss_rounding(cmax, log_l, z.shape[0], m),
        log_rho=math.log(rho),
        rho=rho,
        q_min=float(np.min(q)),
        dq=gamma(m) * cmax,
        n_z=z.shape[0],
    )


@dataclass(frozen=True)
class GhatTrace:
    """A run read once: the states, the reference ``t0`` and per-step quantities (LL-T4.2).

    ``t0`` is an index of ``run``; ``log_ghat[t]``/``tol[t]`` for every state (``-inf``
    where ``u <= 0``); ``g_norm``, ``g_perp``, ``nu`` (``nu/Lsum``) and ``euler``
    (``<theta, -g>``) at every step's start.
    """

    run: ScaledRun
    ref: sgd.Reference
    t0: int
    m: int
    states: tuple[StateRead, ...]
    log_ghat: np.ndarray
    tol: np.ndarray
    g_norm: np.ndarray
    g_perp: np.ndarray
    nu: np.ndarray
    euler: np.ndarray
    euler_tol: np.ndarray
    b1: float


def reference_at(z: np.ndarray, weights) -> sgd.Reference:
    """The reference state t0 of LL-T4.2 at the start ``weights`` on data ``z``: its
    ``u0 = log(1/Lsum)``, ``log rho``, order and ``max ||z_i||``."""
    depth = len(weights)
    theta0 = np.concatenate([M.ravel() for M in weights])
    q0 = z @ net.end_to_end(weights)
    return sgd.Reference(
        -gd_scaled.log_loss_of_scale(q0, 0.0, depth),
        math.log(float(np.linalg.norm(theta0))),
        depth,
        float(np.max(np.linalg.norm(z, axis=1))),
    )


def ghat_trace(run: ScaledRun, lam: float = 0.0) -> GhatTrace:
    """Read ``run`` once (LL-T4.2, LL-LE.1, LL-LE.7); raises ``ValueError`` if no state has
    ``u >= admissible_u0(lam)``."""
    z, p = run.z, run.order
    m = rounding_count(run.weights(0), z.shape[0])
    D = run.theta.shape[1]
    states = tuple(read_state(th, run.shapes, z, m) for th in run.theta)
    first = [t for t, s in enumerate(states) if s.u >= sgd.admissible_u0(lam)]
    if not first:
        raise ValueError("no state of the run is past t0 (u >= 3/2)")
    t0 = first[0]
    s0 = states[t0]
    zmax = float(np.max(np.linalg.norm(z, axis=1)))
    ref = sgd.Reference(s0.u, s0.log_rho, p, zmax, lam)
    log_g, tol = np.empty(len(states)), np.empty(len(states))
    for t, st in enumerate(states):
        if st.u <= 0:
            log_g[t], tol[t] = -math.inf, 0.0
            continue
        log_g[t] = math.log(st.u) - (1.0 + lam) * ref.u0 / st.u - p * st.log_rho
        tol[t] = sgd.log_ghat_rounding(st.u, st.du, st.log_rho, p, D, ref.u0, s0.du)
    T = run.steps
    g_norm, g_perp, nu = np.empty(T), np.empty(T), np.empty(T)
    euler, euler_tol = np.empty(T), np.empty(T)
    with np.errstate(under="ignore"):
        for t in range(T):
            W = run.weights(t)
            g = run.gradient[t]
            th = run.theta[t]
            q = z @ net.end_to_end(W)
            c = np.abs(z) @ net.end_to_end(tuple(np.abs(M) for M in W))
            w = hom.dual_weights(q, EXPONENTIAL)
            _, perp = hom.radial_tangential(th, g)
            g_norm[t] = float(np.linalg.norm(g))
            g_perp[t] = float(np.linalg.norm(perp))
            nu[t] = float(w @ q)
            euler[t] = -float(th @ g)
            # <theta, -g> = p nu/Lsum to rounding: each gradient entry errs by gamma(m) of
            # its chain of |.|, whose theta-weighted sum is <= p c_i (one per layer); the
            # dot adds gamma(D) sum |theta_j||g_j|; nu/Lsum's weights and margins add
            # gamma(m) c_i + gamma(n + 4) |q_i| (softmax and dot).
            euler_tol[t] = (
                gamma(m) * p * float(w @ c)
                + gamma(D) * float(np.abs(th) @ np.abs(g))
                + p * (gamma(m) * float(w @ c) + gamma(z.shape[0] + 4) * float(w @ np.abs(q)))
            )
    b1, _ = sgd.sphere_constants(p, zmax)
    return GhatTrace(run, ref, t0, m, states, log_g, tol, g_norm, g_perp, nu, euler, euler_tol, b1)


def _update_effect(tr: GhatTrace, st: StateRead, step_norm: float) -> float:
    """How far the update's rounding can move ``log ghat`` (module docstring)."""
    delta = sgd.update_rounding(st.rho, step_norm)
    p, u = tr.ref.order, max(st.u, sgd.admissible_u0(tr.ref.lam))
    grad = (1.0 + tr.ref.u0 / u) * tr.b1 * st.rho ** (p - 1) / u + p / st.rho
    return grad * delta


def _u_effect(tr: GhatTrace, st: StateRead, step_norm: float) -> float:
    """How far the update's rounding can move ``u``: ``B1 rho^{p-1} ||delta||``."""
    return tr.b1 * st.rho ** (tr.ref.order - 1) * sgd.update_rounding(st.rho, step_norm)


def step_allowance(tr: GhatTrace) -> np.ndarray:
    """The rounding allowance of ``log ghat(t+1) - log ghat(t)`` for every step (LL-T4.2)."""
    run = tr.run
    out = np.empty(run.steps)
    for t in range(run.steps):
        step = run.scaled_step[t] * tr.g_norm[t]
        out[t] = tr.tol[t] + tr.tol[t + 1] + _update_effect(tr, tr.states[t + 1], step)
    return out


def check_ll_t4_2(tr: GhatTrace) -> Slack:
    """LL-T4.2 (1): ``log ghat(t+1) >= log ghat(t)`` at every step from t0, to rounding;
    and (3)'s trend (:func:`t4_2_trend`) in its measures.

    Slack: the largest fall of ``log ghat`` over its allowance (0 when it never fell).
    Exercised: some step from t0 moved ``log ghat`` by more than its allowance.
    """
    allow = step_allowance(tr)
    d = np.diff(tr.log_ghat)[tr.t0 :]
    allow = allow[tr.t0 :]
    u = np.array([s.u for s in tr.states])
    fell = np.flatnonzero(
        u[tr.t0 + 1 :] < tr.ref.u0 - np.array([s.du for s in tr.states])[tr.t0 + 1 :]
    )
    assert fell.size == 0, (
        f"LL-T4.2: the loss rose above Lsum(t0) at step {tr.t0 + int(fell[0])}: "
        f"u = {u[tr.t0 + 1 + fell[0]]:.6g} < u0 = {tr.ref.u0:.6g}"
    )
    excess = -d - allow
    t = int(np.argmax(excess))
    assert excess[t] <= 0, (
        f"LL-T4.2: log ghat fell by {-d[t]:.3e} > allowance {allow[t]:.3e} at step "
        f"{tr.t0 + t} (u = {u[tr.t0 + t]:.6g}, u0 = {tr.ref.u0:.6g}, log eta = "
        f"{tr.run.log_eta[tr.t0 + t]:.6g}, log H^D = {tr.ref.log_step_bound(u[tr.t0 + t]):.6g})"
    )
    moved = d > allow
    worst = max(0.0, float(np.max(-d / allow)))
    return Slack(
        "LL-T4.2",
        worst,
        "fall of log ghat / rounding allowance",
        exercised=bool(moved.any()),
        measures={
            "steps_moved": float(moved.sum()),
            "steps": float(d.size),
            "log_ghat_gain": float(tr.log_ghat[-1] - tr.log_ghat[tr.t0]),
            **t4_2_trend(tr),
        },
    )


def check_ll_t4_2_strict(tr: GhatTrace) -> Slack:
    """LL-T4.2 (2), derived quantitative form: ``Delta log ghat >= s ||g_perp||^2 / u`` at
    every step from t0 (so ghat rises strictly unless the direction is still).

    Slack: ``(s ||g_perp||^2/u - allowance) / Delta log ghat``.  Exercised: some step's
    bound exceeds the allowance.
    """
    allow = step_allowance(tr)[tr.t0 :]
    d = np.diff(tr.log_ghat)[tr.t0 :]
    u = np.array([s.u for s in tr.states])[tr.t0 : -1]
    s = tr.run.scaled_step[tr.t0 :]
    bound = s * tr.g_perp[tr.t0 :] ** 2 / u
    excess = bound - allow - d
    t = int(np.argmax(excess))
    assert excess[t] <= 0, (
        f"LL-T4.2(2): at step {tr.t0 + t}, log ghat rose by {d[t]:.6e} < s||g_perp||^2/u = "
        f"{bound[t]:.6e} (allowance {allow[t]:.3e})"
    )
    promised = bound - allow
    ok = d > 0
    worst = float(np.max(promised[ok] / d[ok], initial=0.0))
    return Slack(
        "LL-T4.2",
        max(worst, 0.0),
        "(s ||g_perp||^2/u - rounding) / rise of log ghat",
        exercised=bool(np.any(promised > 0)),
    )


def t4_2_trend(tr: GhatTrace) -> dict[str, float]:
    """LL-T4.2 (3), a trend: ``Lsum`` falls and ``rho`` grows at every step (asserted), and
    ``|gtil - ghat| / gtil = 1 - e^{-u0/u}`` shrinks; returns the reach (``u_end/u0``, the
    growth of ``log rho``, the ratio of the relative gaps end/start)."""
    u = np.array([s.u for s in tr.states])[tr.t0 :]
    du = np.array([s.du for s in tr.states])[tr.t0 :]
    lr = np.array([s.log_rho for s in tr.states])[tr.t0 :]
    bad = np.flatnonzero(u[1:] + du[1:] + du[:-1] < u[:-1])
    assert bad.size == 0, f"LL-T4.2(3): Lsum rose at step {tr.t0 + int(bad[0])}"
    badr = np.flatnonzero(lr[1:] + 4 * EPS * (1 + np.abs(lr[1:])) < lr[:-1])
    assert badr.size == 0, f"LL-T4.2(3): rho fell at step {tr.t0 + int(badr[0])}"
    gap0, gap1 = -math.expm1(-tr.ref.u0 / u[0]), -math.expm1(-tr.ref.u0 / u[-1])
    return {
        "u_growth": float(u[-1] / u[0]),
        "log_rho_growth": float(lr[-1] - lr[0]),
        "gap_ratio": gap1 / gap0,
    }


def check_ll_le_1(tr: GhatTrace, samples: int = 4) -> Slack:
    """LL-LE.1: at every state from t0, ``ghat < gtil <= gbar`` and ``log gbar - log ghat
    <= u0/u + log(1 + log n / u)`` ((b) in quantitative form, which tends to 0); at
    ``samples`` states spread over the run, phi from its definition (quadrature, no
    monotonicity assumed) equals the closed form and ``ghat/gtil >= 1 - u0/u``.
    """
    ref, n = tr.ref, tr.run.z.shape[0]
    worst = 0.0
    for t in range(tr.t0, len(tr.states)):
        st = tr.states[t]
        if st.u < ref.u0:
            continue
        # gtil <= gbar  <=>  u <= q_min  (same rho^p); rounding du + dq.
        allowed = st.du + st.dq
        assert st.u - st.q_min <= allowed, (
            f"LL-LE.1: gtil > gbar at state {t}: u = {st.u:.17g} > q_min = {st.q_min:.17g}"
        )
        # (b): log(q_min/u) + u0/u <= u0/u + log1p(log n/u), i.e. q_min <= u + log n.
        assert st.q_min - st.u <= math.log(n) + allowed, (
            f"LL-LE.1(b): q_min - u = {st.q_min - st.u:.6g} > log n = {math.log(n):.6g}"
        )
        worst = max(worst, slack_ratio(st.q_min - st.u, math.log(n) + allowed))
    picks = sorted(
        {
            tr.t0 + round(k * (len(tr.states) - 1 - tr.t0) / max(samples - 1, 1))
            for k in range(samples)
        }
    )
    worst_phi = 0.0
    for t in picks:
        st = tr.states[t]
        if st.u < ref.u0:
            continue
        value, err = sgd.phi_by_quadrature(st.u, ref.u0, ref.lam)
        closed = sgd.phi(st.u, ref.u0, ref.lam)
        allowed = err + 4 * EPS * (abs(closed) + abs(value))
        assert abs(value - closed) <= allowed, (
            f"LL-LE.1: phi by quadrature {value:.17g} != closed form {closed:.17g} at u = "
            f"{st.u:.6g} (u0 = {ref.u0:.6g}; allowance {allowed:.3e})"
        )
        worst_phi = max(worst_phi, slack_ratio(abs(value - closed), allowed))
        # ghat < gtil strictly, and ghat/gtil >= 1 - (1+lambda) u0/u, from the quadrature.
        log_ratio = value - math.log(st.u)
        assert log_ratio < 0, f"LL-LE.1: ghat >= gtil at u = {st.u:.6g} (phi - log u = {log_ratio})"
        floor = math.log1p(-(1 + ref.lam) * ref.u0 / st.u) if ref.u0 < st.u else -math.inf
        assert log_ratio >= floor - err, (
            f"LL-LE.1: ghat/gtil = {math.exp(log_ratio):.6g} < 1 - u0/u at u = {st.u:.6g}"
        )
    return Slack(
        "LL-LE.1",
        max(worst, worst_phi),
        "(q_min - u)/log n, and |phi_quad - phi_closed| / its error",
        exercised=True,
        measures={"gap_end": float(tr.states[-1].q_min - tr.states[-1].u)},
    )


def check_ll_le_7(tr: GhatTrace, alphas: tuple[float, ...] = ALPHAS) -> Slack:
    """LL-LE.7 at ``alpha`` of every step from t0: (P1) ``gtil(t+a) > ghat(t0)``, (P2) lower
    side ``rho(t+a)^2 - rho(t)^2 >= 2 a s p nu/Lsum``, (P3) ``u(t) - u(t+a) <= log(1 - a s (1 -
    a mu/2) ||g||^2)``, (P4) ``log ghat(t+a) >= log ghat(t)``, each to its rounding.

    Slack: the worst over the four of ``bound-minus-rounding / observed`` ((P2), (P3)) and
    ``fall / allowance`` ((P1), (P4)).  Exercised: (P3)'s promised fall exceeds its
    rounding at some step (so the step moved the loss measurably).
    """
    run, ref, p = tr.run, tr.ref, tr.ref.order
    D = run.theta.shape[1]
    parts = dict.fromkeys(("P1", "P2", "P3", "P4"), 0.0)
    exercised = False
    for t in range(tr.t0, run.steps):
        st = tr.states[t]
        th, g, s = run.theta[t], run.gradient[t], float(run.scaled_step[t])
        mu_t = sgd.mu(st.u, ref.u0)
        for a in alphas:
            if a == 1.0:
                th_a, st_a = run.theta[t + 1], tr.states[t + 1]
            else:
                th_a = th - (a * s) * g
                st_a = read_state(th_a, run.shapes, run.z, tr.m)
            step = a * s * tr.g_norm[t]
            # (P1)
            log_gtil = math.log(st_a.u) - p * st_a.log_rho if st_a.u > 0 else -math.inf
            tol1 = (
                st_a.du / max(st_a.u, EPS)
                + p * (gamma(D + 2) + 2 * EPS * abs(st_a.log_rho))
                + tr.tol[tr.t0]
                + _update_effect(tr, st_a, step)
            )
            assert log_gtil > ref.log_ghat0 - tol1, (
                f"LL-LE.7(P1): gtil(t+{a}) <= ghat(t0) at step {t}: log gtil = {log_gtil:.6g}, "
                f"log ghat(t0) = {ref.log_ghat0:.6g}"
            )
            parts["P1"] = max(parts["P1"], slack_ratio(ref.log_ghat0 - log_gtil, tol1))
            # (P2), lower side: (theta_a - theta).(theta_a + theta) >= 2 a s p nu/Lsum.
            diff, summ = th_a - th, th_a + th
            grow = float(diff @ summ)
            tol2 = (gamma(D) + 3 * EPS) * float(np.linalg.norm(diff) * np.linalg.norm(summ))
            tol2 += 2 * st_a.rho * sgd.update_rounding(st_a.rho, step)
            lower = 2 * a * s * p * tr.nu[t]
            tol2 += 2 * a * s * tr.euler_tol[t] + 4 * EPS * lower
            assert grow >= lower - tol2, (
                f"LL-LE.7(P2): rho^2 grew by {grow:.6e} < 2 a s p nu/Lsum = {lower:.6e} at step "
                f"{t}, alpha {a} (allowance {tol2:.3e})"
            )
            parts["P2"] = max(parts["P2"], slack_ratio(lower - tol2, grow) if grow > 0 else 0.0)
            # (P3): u(t) - u(t+a) <= log1p(-a s (1 - a mu/2) ||g||^2).
            x = a * s * (1 - a * mu_t / 2) * tr.g_norm[t] ** 2
            assert x < 1, (
                f"LL-LE.7(P3): the descent bound promises a fall of {x:.3g} >= the whole loss at "
                f"step {t}, alpha {a}: the step is outside the derived bound H^D"
            )
            rhs = math.log1p(-x)
            tol3 = st.du + st_a.du + 4 * EPS * abs(rhs) + _u_effect(tr, st_a, step)
            drop = st_a.u - st.u
            assert st.u - st_a.u <= rhs + tol3, (
                f"LL-LE.7(P3): u rose by {drop:.6e} < {-rhs:.6e} (the promised fall of log Lsum) "
                f"at step {t}, alpha {a} (allowance {tol3:.3e})"
            )
            promised = -rhs - tol3
            if promised > 0:
                exercised = True
                parts["P3"] = max(parts["P3"], slack_ratio(promised, drop))
            # (P4)
            if st_a.u > 0:
                lg_a = math.log(st_a.u) - (1 + ref.lam) * ref.u0 / st_a.u - p * st_a.log_rho
            else:
                lg_a = -math.inf
            tol_a = sgd.log_ghat_rounding(
                max(st_a.u, EPS), st_a.du, st_a.log_rho, p, D, ref.u0, tr.states[tr.t0].du
            )
            tol4 = tr.tol[t] + tol_a + _update_effect(tr, st_a, step)
            fall = tr.log_ghat[t] - lg_a
            assert fall <= tol4, (
                f"LL-LE.7(P4): log ghat fell by {fall:.3e} > {tol4:.3e} at step {t}, alpha {a}"
            )
            parts["P4"] = max(parts["P4"], slack_ratio(fall, tol4) if fall > 0 else 0.0)
    # (P2)'s lower side is nearly an identity (it drops only a^2 s^2 ||g||^2), so its
    # slack is close to 1 by nature; each part's worst is in the measures.
    return Slack(
        "LL-LE.7",
        max(parts.values()),
        "worst of (P1)-(P4)",
        exercised=exercised,
        measures={f"worst_{k}": v for k, v in parts.items()},
    )


def check_ll_eq6_gd(tr: GhatTrace) -> Slack:
    """LL-EQ6 in its exact GD form along the run: ``<theta, -grad Lsum> = p nu`` (scaled:
    ``<theta, -g> = p nu/Lsum``) at every step's start, so that ``rho(t+1)^2 - rho(t)^2 =
    2 eta p nu + eta^2 ||grad Lsum||^2``.  Exercised when ``p nu/Lsum`` exceeds the
    allowance."""
    p = tr.ref.order
    err = np.abs(tr.euler - p * tr.nu)
    t = int(np.argmax(err - tr.euler_tol))
    assert err[t] <= tr.euler_tol[t], (
        f"LL-EQ6: <theta, -g> = {tr.euler[t]:.17g} != p nu/Lsum = {p * tr.nu[t]:.17g} at step "
        f"{t} (allowance {tr.euler_tol[t]:.3e})"
    )
    return Slack(
        "LL-EQ6",
        float(np.max(err / tr.euler_tol)),
        "|<theta,-g> - p nu/Lsum| / rounding",
        exercised=bool(np.any(p * tr.nu > tr.euler_tol)),
    )


def check_all(tr: GhatTrace) -> list[Slack]:
    """Every check of this stem on one trace."""
    return [
        check_ll_t4_2(tr),
        check_ll_t4_2_strict(tr),
        check_ll_le_1(tr),
        check_ll_le_7(tr),
        check_ll_eq6_gd(tr),
    ]


# --- certificates (ball arithmetic, python-flint) ------------------------------------------

#: The statements certified at sampled steps of a GD run.
CERTIFIED = ("LL-T4.2", "LL-LE.1")


def certified_steps(tr: GhatTrace) -> list[int]:
    """The steps from t0 certified: t0, the last, the float check's tightest step (the
    largest fall of ``log ghat`` over its allowance, else the smallest rise) and
    :data:`~invariants.certify.steps.SAMPLED_BETWEEN` between (LL-T4.2, LL-LE.1)."""
    from invariants.certify import steps

    d = np.diff(tr.log_ghat)[tr.t0 :]
    allow = step_allowance(tr)[tr.t0 :]
    tight = int(np.argmax(-d / allow)) if d.size else 0
    return [tr.t0 + i for i in steps.sample_steps(d.size, worst=(tight,))]


def certify_step(tr: GhatTrace, t: int, data=None) -> dict:
    """Ball-arithmetic verdicts at step ``t >= t0`` of the run (LL-T4.2 (1), LL-LE.1).

    The exact scaled step ``theta' = theta(t) - s(t) grad Lsum / Lsum`` from the float
    iterate with the run's float ``s(t) = eta Lsum`` (:mod:`invariants.certify.smoothed`);
    ``u0`` is the exact ``log(1/Lsum)`` at the float ``theta(t0)``.  Decided:

    * LL-T4.2: ``u0 >= 3/2`` (phi's closed form holds), ``u(theta') >= u(theta(t))`` (the
      loss falls in the exact step, so ``theta'`` stays in the closed form's range) and
      ``log ghat(theta') - log ghat(theta(t)) >= 0``, ``log ghat = log u - u0/u - p log
      rho``.  That the float ``theta(t)`` itself is past t0 (``u(theta(t)) >= u0``) is the
      float check's (to its allowance): the float run is not an exact chain of steps, and
      at steps below the update's rounding its exact ``u`` may sit ulps below ``u0``;
    * LL-LE.1 at ``theta(t)``: ``ghat < gtil`` (``u0/u > 0``), ``gtil <= gbar`` (``u <=
      q_j`` for every j, i.e. ``d_j + log1p(S) >= 0``), (b) ``q_min - u <= log n`` (``n - 1
      - S >= 0``, as ``q_min <= q*``), and ``ghat/gtil >= 1 - u0/u`` (``expm1(-x) + x >= 0``
      at ``x = u0/u``).

    Returns a :class:`~invariants.certify.balls.Certificate` per statement, each one point.
    """
    from invariants.certify import balls, smoothed

    data = data if data is not None else smoothed.distinct_rows(tr.run.z)
    return balls.refine(
        lambda: _certify_step(tr, t, data),
        lambda verdicts: any(c.decided is None for c in verdicts.values()),
    )


def _certify_step(tr: GhatTrace, t: int, data) -> dict:
    """:func:`certify_step` at the enclosing working precision (LL-T4.2, LL-LE.1)."""
    import dataclasses

    from flint import arb

    from invariants.certify import balls, smoothed

    run, p = tr.run, tr.ref.order
    where = f"step {t}"
    with balls.working_precision():
        u0 = smoothed.point_at(run.weights(tr.t0), data).u
        step = smoothed.scaled_step(run.weights(t), data, float(run.scaled_step[t]))
        a, b = step.before, step.after
        t42 = [balls.nonnegative(u0 - arb(3) / 2, "u0 - 3/2")]
        t42.append(balls.nonnegative(b.u - a.u, "u(t+1) - u(t)"))
        rise = smoothed.log_smoothed(b, u0, p) - smoothed.log_smoothed(a, u0, p)
        t42.append(balls.nonnegative(rise, "log ghat(t+1) - log ghat(t)"))
        x = u0 / a.u
        le1 = [balls.nonnegative(x, "log gtil - log ghat", strict=True)]
        le1 += [balls.nonnegative(dj + a.gap, f"q_{j} - u") for j, dj in enumerate(a.d)]
        spare = sum(
            (
                c * -((-dj).expm1())
                for j, (c, dj) in enumerate(zip(data.counts, a.d, strict=True))
                if j != a.star
            ),
            arb(0),
        )
        le1.append(balls.nonnegative(spare, "log n - (q_min - u)"))
        le1.append(balls.nonnegative((-x).expm1() + x, "ghat/gtil - (1 - u0/u)"))
    out = {}
    for sid, certs in (("LL-T4.2", t42), ("LL-LE.1", le1)):
        c = balls.combine(certs)
        out[sid] = dataclasses.replace(
            c, points=1, witness=f"{where}: {c.witness}" if c.witness else ""
        )
    return out


def certify_trace(tr: GhatTrace) -> dict:
    """The verdicts of :func:`certify_step` at :func:`certified_steps`, combined per
    statement and required consistent with the float checks (LL-T4.2, LL-LE.1): a FALSE
    certificate fails with both verdicts and the witness."""
    from invariants.certify import balls, smoothed

    data = smoothed.distinct_rows(tr.run.z)
    per: dict[str, list] = {}
    for t in certified_steps(tr):
        for sid, cert in certify_step(tr, t, data).items():
            per.setdefault(sid, []).append(cert)
    out = {sid: balls.combine(certs) for sid, certs in per.items()}
    for sid, cert in out.items():
        require_consistent(sid, cert)
    return out


def require_consistent(statement: str, certificate) -> None:
    """A FALSE certificate where the float check held is a failure of the suite (LL-T4.2,
    LL-LE.1): the float check is then contradicted by a proof."""
    assert certificate.decided is not False, (
        f"{statement}: the float check held but ball arithmetic proves it false at "
        f"{certificate.witness} (exact margin in [{certificate.lower:.6e}, "
        f"{certificate.upper:.6e}])"
    )


def check_all_certified(tr: GhatTrace) -> list[Slack]:
    """:func:`check_all` with the certificates of :func:`certify_trace` attached to the
    Slacks of LL-T4.2 (1) and LL-LE.1 (the float checks run first: a float failure is
    reported as such)."""
    import dataclasses

    slacks = check_all(tr)
    certs = certify_trace(tr)
    out = []
    for i, sl in enumerate(slacks):
        if (i == 0 and sl.statement == "LL-T4.2") or sl.statement == "LL-LE.1":
            sl = dataclasses.replace(sl, certificate=certs[sl.statement])
        out.append(sl)
    return out
