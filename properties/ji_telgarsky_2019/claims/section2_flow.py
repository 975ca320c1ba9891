"""Assertions of the Section 2 statements along one gradient-flow trajectory.

Each ``check_*`` function takes a :class:`~invariants.dynamics.flow.Trajectory`,
asserts its statement at every checkpoint with a tolerance derived from the
trajectory's own error budget and from rounding, and returns the worst slack
``observed / allowed`` (<= 1 means the statement held).  The property tests
and the negative-control meta-tests call the same functions, so a meta-test
exercises exactly the assertion code the suite runs.

Error budget (see :mod:`invariants.dynamics.flow`): ``Checkpoint.drift_bound[k]``
bounds ``||I_k(W) - I_k(W(0))||_F`` for the eq. 2 invariant, derived from the
solver's accepted-step local error bounds.  Every bound of Lemma 2 is proved
from eq. 2 and eq. 3 alone, so each use of eq. 2 in a proof is charged
``drift_bound`` and each use of eq. 3 (a trace of eq. 2) is charged
``sqrt(d_k) drift_bound``, since ``|tr M| <= sqrt(rank) ||M||_F``.
"""

from __future__ import annotations

import functools

import numpy as np

from invariants.core import bounds
from invariants.core import network as net
from invariants.core.rounding import EPS, TINY, deficit_rounding, slack_ratio, wedin
from invariants.dynamics import flow, quadrature, records
from invariants.statements import Slack
from properties.ji_telgarsky_2019.claims import (
    alignment_slack,
    certified,
    deficit_bound_exercised,
    run_checks,
)


def _eq2_charge(c: flow.Checkpoint, shapes) -> np.ndarray:
    """Per k < L: ``(1 + sqrt(d_k)) drift_bound_k``, the cost of using eq. 2 and eq. 3 once."""
    dk = np.array([shapes[k][0] for k in range(len(shapes) - 1)])
    return (1 + np.sqrt(dk)) * c.drift_bound


def _defined(tr: flow.Trajectory) -> list[flow.Checkpoint]:
    """Checkpoints where no layer is zero.

    S-L2b, S-C1 and S-L2c divide by ``||W_k||`` and use singular vectors, which
    are undefined for a zero layer (``W_1(0) = 0`` in S-A2a); there the
    statements are vacuous, and they are asserted at every other checkpoint.
    """
    return [c for c in tr.checkpoints if not bounds.has_zero_layer(c.weights)]


# --- S-EQ1 -------------------------------------------------------------------------------


def eq1_allowance(st: records.StepLog, lam: np.ndarray, lam_err: np.ndarray) -> np.ndarray:
    """S-EQ1's allowed ``|log R(s) - log R(0) + Lambda(s)|`` at every logged step.

    The quadrature's error bound ``lam_err``, plus the accumulated per-step allowances of
    the computed path (``risk_allowance``, ``rate_allowance``; see :func:`check_s_eq1`),
    plus ``4 eps |Lambda|`` for the subtractions forming the residual.
    """
    return (
        lam_err
        + np.cumsum(st.risk_allowance)
        + np.cumsum(st.rate_allowance)
        + 4 * EPS * np.abs(lam)
    )


def check_s_eq1(tr: flow.Trajectory) -> Slack:
    """S-EQ1: ``dR/dt = -||grad R||^2``, so log R never rises and integrates its rate.

    Under the clock ``ds = c dt`` the identity reads
    ``log R(s) - log R(0) = -int_0^s rho ||grad R|| / R ds``.  The integral is
    evaluated by the composite exponential trapezoid rule over the accepted
    steps, with the error bound of :func:`invariants.dynamics.quadrature.log_integral`
    (per pair of steps, the difference from the rule over the pair, summed in
    absolute value so that errors of opposite sign cannot cancel).
    The computed path differs from an exact flow line by its local errors,
    which move ``log R`` by at most ``||grad log R|| e_n`` per step
    (``StepLog.risk_allowance``) and move the integrated rate off the exact
    flow line's by at most ``StepLog.rate_allowance``; both are summed.
    The latter is a rigorous first-order bound and becomes vacuous (infinite)
    deep in the asymptotic regime, where ``||grad log rate|| e_n`` exceeds 1:
    the integral identity is asserted wherever its allowance is finite, and
    the detail says how far along the path that was.  Also asserted: ``log R`` never rises
    across a step by more than the two steps' allowances, and the layer
    gradients' squared norms add up to ``||grad R||^2``.
    """
    st = tr.steps
    rise = np.diff(st.log_risk)
    allowed_rise = st.risk_allowance[1:] + st.risk_allowance[:-1]
    worst_rise = float(np.max(rise - allowed_rise)) if rise.size else -np.inf
    assert worst_rise <= 0, f"S-EQ1: log R rose by {worst_rise:.3e} beyond its allowance"
    lam, lam_err = quadrature.risk_decrease_integral(st)
    residual = np.abs(st.log_risk - st.log_risk[0] + lam)
    allowed = eq1_allowance(st, lam, lam_err)
    finite = np.isfinite(allowed)
    ratios = np.divide(
        residual,
        np.maximum(allowed, TINY),
        out=np.zeros_like(residual),
        where=finite,
    )
    j = int(np.argmax(ratios))
    assert residual[j] <= allowed[j], (
        f"S-EQ1: log R(s) - log R(0) = {st.log_risk[j] - st.log_risk[0]:.6e} but "
        f"-int rate ds = {-lam[j]:.6e} at s = {st.s[j]:.4g} (residual {residual[j]:.3e} > "
        f"allowed {allowed[j]:.3e})"
    )
    for c in tr.checkpoints:
        g = net.layer_gradients(c.weights, tr.z, tr.loss)
        per_layer = sum(float(np.vdot(G, G)) for G in g.layers)
        total = float(np.vdot(net.flatten(g.layers), net.flatten(g.layers)))
        assert abs(per_layer - total) <= 4 * EPS * total * len(g.layers)
    reach = int(np.sum(finite)) - 1
    # Exercised: somewhere the integrated rate is larger than the identity's allowance,
    # so a flow that lost or gained risk at the wrong rate would have shown.
    return Slack(
        "S-EQ1",
        float(ratios[j]),
        f"integral identity asserted over {reach}/{st.s.size - 1} steps "
        f"(to log R = {st.log_risk[reach]:.4g})",
        exercised=bool(np.any(finite & (np.abs(lam) > allowed))),
    )


# --- S-EQ2 / S-EQ3 ------------------------------------------------------------------------


def check_s_eq2(tr: flow.Trajectory) -> Slack:
    """S-EQ2: ``W_{k+1}^T W_{k+1} - W_k W_k^T`` is constant along the flow.

    Allowed drift: the checkpoint's ``drift_bound`` (local errors through the
    invariant's Lipschitz bound, plus the measurement's own rounding).
    """
    if len(tr.initial) == 1:
        return Slack("S-EQ2", None, "depth 1: no layer pairs", exercised=False)
    worst, moved = 0.0, False
    grams0 = [W.T @ W for W in tr.initial[1:]]
    for c in tr.checkpoints:
        drift = flow.eq2_drift(tr.initial, c.weights)
        # Exercised: a Gram matrix of the invariant moved by more than the allowed drift,
        # so a dynamic that broke eq. 2 by the size of that motion would have shown.
        moved |= any(
            float(np.linalg.norm(W.T @ W - g0)) > bk
            for W, g0, bk in zip(c.weights[1:], grams0, c.drift_bound, strict=True)
        )
        for k, (dk, bk) in enumerate(zip(drift, c.drift_bound, strict=True)):
            assert dk <= bk, (
                f"S-EQ2: I_{k + 1} drifted by {dk:.3e} > allowed {bk:.3e} at s = {c.s:.4g} "
                f"(||W_k||_F^2 = {np.vdot(c.weights[k], c.weights[k]):.3e})"
            )
            worst = max(worst, slack_ratio(dk, bk))
    return Slack("S-EQ2", worst, f"max relative drift {tr.max_drift_rel:.3e}", exercised=moved)


def eq3_tolerance(c: flow.Checkpoint, sq: np.ndarray, k: int) -> float:
    """S-EQ3's allowed drift of ``||W_{k+1}||_F^2 - ||W_k||_F^2`` (0-based k) at ``c``.

    ``sqrt(d_k) drift_bound_k`` (the trace of a d_k x d_k matrix is at most ``sqrt(d_k)``
    times its Frobenius norm) plus ``m eps (sq_k + sq_{k+1})``, ``m`` the larger layer's
    entry count + 2: the squared norms' own rounding (``gamma_m``), ``sq`` their sums at
    ``c`` and at 0.
    """
    dk = c.weights[k].shape[0]
    m = max(c.weights[k].size, c.weights[k + 1].size) + 2
    return float(np.sqrt(dk) * c.drift_bound[k] + m * EPS * (sq[k] + sq[k + 1]))


def check_s_eq3(tr: flow.Trajectory) -> Slack:
    """S-EQ3: ``||W_{k+1}||_F^2 - ||W_k||_F^2`` is constant along the flow.

    It is the trace of eq. 2, so its drift is at most ``sqrt(d_k)`` times the
    eq. 2 drift bound; the Frobenius norms' own rounding is ``gamma_m`` of each.
    """
    if len(tr.initial) == 1:
        return Slack("S-EQ3", None, "depth 1: no layer pairs", exercised=False)
    f0 = bounds.frobenius_differences(tr.initial)
    sq0 = bounds.frobenius_sq(tr.initial)
    worst, moved = 0.0, False
    for c in tr.checkpoints:
        f = bounds.frobenius_differences(c.weights)
        sq = bounds.frobenius_sq(c.weights) + bounds.frobenius_sq(tr.initial)
        for k in range(f.size):
            allowed = eq3_tolerance(c, sq, k)
            obs = abs(f[k] - f0[k])
            assert obs <= allowed, (
                f"S-EQ3: ||W_{k + 2}||_F^2 - ||W_{k + 1}||_F^2 moved by {obs:.3e} > {allowed:.3e} "
                f"at s = {c.s:.4g}"
            )
            worst = max(worst, slack_ratio(obs, allowed))
            # Exercised: a squared norm of the pair moved by more than the allowance.
            moved |= bool(np.max(np.abs(sq[k : k + 2] - 2 * sq0[k : k + 2])) > allowed)
    return Slack("S-EQ3", worst, exercised=moved)


# --- S-L2a / S-L2b ------------------------------------------------------------------------


def l2a_tolerances(c: flow.Checkpoint, shapes) -> np.ndarray:
    """Per layer k, S-L2a's tolerance: ``sum_{j>=k} (1 + sqrt(d_j)) drift_bound_j`` (the
    eq. 2 / eq. 3 uses of eq. 8, see :func:`check_s_l2a`) plus ``deficit_rounding(W_k)``."""
    charge = _eq2_charge(c, shapes)
    tail = np.concatenate([np.cumsum(charge[::-1])[::-1], [0.0]])  # sum_{j>=k}
    return np.array([tail[k] + deficit_rounding(W) for k, W in enumerate(c.weights)])


def check_s_l2a(tr: flow.Trajectory) -> Slack:
    """S-L2a: ``||W_k||_F^2 - ||W_k||_2^2 <= D``, and the sharper eq. 8 per layer.

    Tolerance: eq. 8 uses eq. 2 for every pair ``j >= k`` and eq. 3 once for
    ``||W_k||_F^2 - ||W_L||_F^2``, so it is charged ``(1 + sqrt(d_j))
    drift_bound_j`` for ``j >= k``; the computed deficit carries
    :func:`deficit_rounding`.  The worst slack is reported against eq. 8,
    which is never larger than D.
    """
    Dv = bounds.D(tr.initial)
    e8 = bounds.eq8_bounds(tr.initial)
    shapes = [W.shape for W in tr.initial]
    worst, exercised = 0.0, False
    for c in tr.checkpoints:
        tols = l2a_tolerances(c, shapes)
        for k, W in enumerate(c.weights):
            deficit = bounds.rank_deficit(W)
            tol = tols[k]
            assert deficit <= e8[k] + tol, (
                f"S-L2a (eq. 8): layer {k + 1} deficit {deficit:.6e} > bound {e8[k]:.6e} "
                f"+ tol {tol:.2e} at s = {c.s:.4g}"
            )
            assert deficit <= Dv + tol, (
                f"S-L2a: layer {k + 1} deficit {deficit:.6e} > D = {Dv:.6e} + tol {tol:.2e}"
            )
            worst = max(worst, slack_ratio(deficit, e8[k] + tol))
            exercised |= deficit_bound_exercised(W, e8[k] + tol)
    slack = Slack("S-L2a", worst, f"D = {Dv:.4g}", exercised=exercised)
    return certified.certified_slack(slack, certified.certify_flow_deficits(tr, l2a_tolerances))


def l2b_tolerance(c: flow.Checkpoint, shapes, k: int) -> float:
    """Tolerance on ``<v_{k+1}, u_k>^2`` for S-L2b at checkpoint ``c``, 0-based k.

    The proof bounds ``v^T W_k W_k^T v`` through eq. 2 for the pair (k, k+1)
    and the rank deficit of layer k (eq. 8, which uses every pair ``j >= k``):
    charge ``2 (1 + sqrt(d_j)) drift_bound_j`` over ``j >= k``, divided by
    ``||W_{k+1}||_2^2``.  The computed inner product of singular vectors is off
    by at most the two Wedin sines, and its square by twice that.
    """
    charge = _eq2_charge(c, shapes)
    s1 = bounds.singular_values(c.weights[k + 1])[0]
    drift_part = 2 * float(np.sum(charge[k:])) / s1**2
    return drift_part + 2 * (wedin(c.weights[k]) + wedin(c.weights[k + 1]))


def check_s_l2b(tr: flow.Trajectory) -> Slack:
    """S-L2b: ``<v_{k+1}, u_k>^2 >= 1 - (D + ||W_{k+1}(0)||_2^2 + ||W_k(0)||_2^2) / s^2``.

    Here ``s = ||W_{k+1}||_2``.

    Reports the worst ``(1 - observed) / (1 - bound)``, the fraction of the
    permitted misalignment actually used.
    """
    shapes = [W.shape for W in tr.initial]
    worst, exercised = 0.0, False
    for c in _defined(tr):
        lb = bounds.l2b_lower_bounds(tr.initial, c.weights)
        al = bounds.alignment(c.weights)
        tol = np.array([l2b_tolerance(c, shapes, k) for k in range(al.size)])
        ratio, positive = alignment_slack("S-L2b", al, lb, tol, f"at s = {c.s:.4g}")
        worst, exercised = max(worst, ratio), exercised or positive
    # Exercised: some bound above 0 (alignment_slack); a bound <= 0 holds for any weights.
    return Slack("S-L2b", worst, exercised=exercised)


# --- S-C1 / S-L2c -------------------------------------------------------------------------


def c1_terms(tr: flow.Trajectory, c: flow.Checkpoint) -> tuple[float, float, float, float]:
    """``(observed, bound_measured, bound_apriori, tol)`` of S-C1 at one checkpoint.

    ``observed = |<w_prod / prod ||W_k||_F, v_1>|``; ``bound_measured`` uses the
    measured alignments, ``bound_apriori`` their S-L2b lower bounds (so it
    depends only on D, W(0) and the current norms).  D is enlarged by the
    eq. 8 tolerance, since S-C1 is derived from S-L2a.  ``tol`` covers the
    rounding of the observed value: the product and the norms (relative
    ``(L + 2) m eps``) and the computed ``v_1`` (Wedin), plus the measured
    alignments' Wedin sines.
    """
    shapes = [W.shape for W in tr.initial]
    W = c.weights
    L = len(W)
    charge = _eq2_charge(c, shapes)
    Deff = bounds.D(tr.initial) + float(np.sum(charge)) + max(deficit_rounding(M) for M in W)
    observed = bounds.product_alignment(W)
    b_meas = bounds.c1_lower_bound(W, Deff)
    lb = bounds.l2b_lower_bounds(tr.initial, W, d_value=Deff)
    tols = [l2b_tolerance(c, shapes, k) for k in range(L - 1)]
    apriori_align = np.sqrt(np.clip(lb - np.array(tols), 0.0, 1.0)) if L > 1 else np.array([])
    b_apriori = bounds.c1_lower_bound(W, Deff, align=apriori_align)
    m = max(max(M.shape) for M in W)
    tol = (
        (L + 2) * m * EPS
        + wedin(W[0])
        + sum(wedin(M) for M in W[1:])
        + sum(wedin(M) for M in W[:-1])
    )
    return observed, b_meas, b_apriori, tol


def check_s_c1(tr: flow.Trajectory) -> Slack:
    """S-C1: ``|<w_prod / prod ||W_k||_F, v_1>| >= prod |<v_{k+1}, u_k>| - (prod (1 + e_k) - 1)``.

    Asserted with the measured alignments and with their S-L2b lower bounds.
    Reports the worst ``(1 - observed) / (1 - bound)`` over non-vacuous bounds.
    """
    worst, exercised = 0.0, False
    for c in _defined(tr):
        obs, b_meas, b_apr, tol = c1_terms(tr, c)
        # (At depth 1 the observed value is identically 1: nothing to exercise.)
        exercised |= len(c.weights) > 1 and b_meas - tol > 0
        for name, b in (("measured alignments", b_meas), ("S-L2b alignments", b_apr)):
            assert obs >= b - tol, (
                f"S-C1 ({name}): |<w/prod F, v_1>| = {obs:.12f} < bound {b:.12f} - tol {tol:.2e} "
                f"at s = {c.s:.4g}"
            )
        if b_meas > 0:
            worst = max(worst, slack_ratio(1 - obs, 1 - b_meas + tol))
    # Exercised: the bound minus its tolerance is above 0 somewhere; |<.,.>| >= 0 always.
    slack = Slack("S-C1", worst, exercised=exercised)
    return certified.certified_slack(slack, certified.certify_flow_c1(tr, l2a_tolerances))


def check_s_l2c(tr: flow.Trajectory, min_frobenius: float = 100.0) -> Slack:
    """S-L2c: ``max_k ||W_k||_F -> inf`` forces ``|<w_prod / prod ||W_k||_F, v_1>| -> 1``.

    A limit cannot be reached in finite time; what is asserted is its
    quantitative content along the run: (i) the run reached
    ``max_k ||W_k||_F >= min_frobenius``, or the float64 floor of ``||w_prod||``
    first (at depth 6, ``100^6 = 1e12`` is the floor itself); (ii) at every checkpoint the gap
    ``1 - |<w_prod / prod F, v_1>|`` is below the a-priori S-C1 bound, which
    depends only on D, W(0) and the norms and tends to 0 as they grow; (iii)
    the gap at the end is no larger than when ``max_k ||W_k||_F`` first
    reached a tenth of its final value (up to the rounding tolerance).
    """
    F = tr.max_frobenius()
    assert F[-1] >= min_frobenius or tr.stop_reason in ("float64_floor", "max_wprod"), (
        f"S-L2c: the run stopped ({tr.stop_reason}) at max ||W_k||_F = {F[-1]:.3g} "
        f"< {min_frobenius:g}; the statement needs the norms to grow"
    )
    gaps, worst, exercised = [], 0.0, False
    for c in _defined(tr):
        obs, _, b_apr, tol = c1_terms(tr, c)
        exercised |= len(c.weights) > 1 and b_apr - tol > 0
        gap = 1 - obs
        assert gap <= 1 - b_apr + tol, (
            f"S-L2c: gap {gap:.3e} exceeds the a-priori bound {1 - b_apr:.3e} at s = {c.s:.4g}"
        )
        gaps.append((gap, tol))
        if b_apr > 0:
            worst = max(worst, slack_ratio(gap, 1 - b_apr + tol))
    Fd = np.array([np.sqrt(np.max(bounds.frobenius_sq(c.weights))) for c in _defined(tr)])
    j = int(np.argmax(Fd >= Fd[-1] / 10))
    (g_end, t_end), (g_mid, t_mid) = gaps[-1], gaps[j]
    assert g_end <= g_mid + t_end + t_mid, (
        f"S-L2c: the alignment gap grew from {g_mid:.3e} (max F = {Fd[j]:.3g}) to {g_end:.3e} "
        f"(max F = {F[-1]:.3g})"
    )
    # Exercised: the a-priori bound was above its tolerance somewhere (a gap could exceed it).
    return Slack(
        "S-L2c", worst, f"final gap {g_end:.3e} at max F = {F[-1]:.3g}", exercised=exercised
    )


# --- S-INV ----------------------------------------------------------------------------------


def path_distance(a: flow.Trajectory, b: flow.Trajectory) -> np.ndarray:
    """``||W_a - W_b|| / ||W_a||`` at corresponding checkpoints (flattened 2-norm)."""
    assert len(a.checkpoints) == len(b.checkpoints), (
        f"S-INV: runs stopped at different checkpoints ({len(a.checkpoints)} with "
        f"{a.clock}/{a.stop_reason}, {len(b.checkpoints)} with {b.clock}/{b.stop_reason})"
    )
    out = []
    for ca, cb in zip(a.checkpoints, b.checkpoints, strict=True):
        wa, wb = net.flatten(ca.weights), net.flatten(cb.weights)
        diff, scale = float(np.linalg.norm(wa - wb)), float(np.linalg.norm(wa))
        out.append(0.0 if diff == 0 else diff / max(scale, TINY))
    return np.array(out)


def stated_time_error(tr: flow.Trajectory) -> np.ndarray:
    """The run's own bound on ``|log t - log t_exact|`` at each checkpoint after the first.

    ``Checkpoint.log_time_error`` (:func:`invariants.dynamics.quadrature.log_time_errors`):
    the size of the curvature correction of the quadrature plus ``kappa E``, the shift
    of ``log(dt/ds)`` the path's accumulated local-error bound ``E`` can cause.
    """
    return np.array([c.log_time_error for c in tr.checkpoints[1:]])


def _time_gap(a: flow.Trajectory, b: flow.Trajectory) -> np.ndarray:
    """``|log t_a - log t_b|`` at corresponding checkpoints after the first."""
    ta, tb = a.column("log_time")[1:], b.column("log_time")[1:]
    return np.abs(ta - tb)


def check_s_inv(
    z: np.ndarray,
    initial,
    loss,
    *,
    rtol: float = 1e-8,
    max_frobenius: float = 30.0,
    second_clock: str = "risk",
    runner=flow.gradient_flow,
) -> Slack:
    """S-INV: a time change ``ds = c(W) dt`` changes the clock, not the path.

    Clock A is ``lognorm``; clock B (``risk``: ``s = log R(0) - log R``) is
    integrated to exactly the risk levels A's checkpoints reached, so that both
    runs must land on the same points of the same curve, at the same physical
    time ``t``.  Tolerance, by tolerance proportionality: each clock is also
    run at 100 times the tolerance, and the difference between its two runs
    bounds the error of the accurate one (which is ~1/100 of that difference
    if the error scales with the tolerance; the factor is generous because
    LSODA's tolerance proportionality is imperfect).  A's error enters twice:
    once in its own points and once in
    the risk levels handed to B, which move B's target along the curve by at
    most the same distance (``|d log R / d arclength| = ||grad log R||``).
    Physical time is compared as ``log t``, allowed the same run-to-run
    differences plus each fine run's stated ``log t`` error (:func:`stated_time_error`).
    ``runner`` is the integrator under test (a meta-test plants bugs in it).
    """
    kw = dict(max_frobenius=max_frobenius, ds=0.5)
    a_fine = runner(z, initial, loss, rtol=rtol, atol=rtol * 1e-2, **kw)
    a_coarse = runner(
        z,
        initial,
        loss,
        rtol=100 * rtol,
        atol=rtol,
        checkpoints=[c.s for c in a_fine.checkpoints[1:]],
        max_frobenius=np.inf,
    )
    levels = [a_fine.checkpoints[0].log_risk - c.log_risk for c in a_fine.checkpoints[1:]]
    b_fine = runner(
        z,
        initial,
        loss,
        rtol=rtol,
        atol=rtol * 1e-2,
        clock=second_clock,
        checkpoints=levels,
        max_frobenius=np.inf,
        max_wprod=np.inf,
    )
    b_coarse = runner(
        z,
        initial,
        loss,
        rtol=100 * rtol,
        atol=rtol,
        clock=second_clock,
        checkpoints=levels,
        max_frobenius=np.inf,
        max_wprod=np.inf,
    )
    err_a = path_distance(a_fine, a_coarse)
    err_b = path_distance(b_fine, b_coarse)
    dist = path_distance(a_fine, b_fine)
    allowed = 2 * err_a + err_b + 8 * EPS
    j = int(np.argmax(dist - allowed))
    assert dist[j] <= allowed[j], (
        f"S-INV: clocks lognorm and {second_clock} disagree on the path by {dist[j]:.3e} "
        f"(relative) at checkpoint {j}, allowed {allowed[j]:.3e}"
    )
    tgap = _time_gap(a_fine, b_fine)
    tallowed = (
        2 * _time_gap(a_fine, a_coarse)
        + _time_gap(b_fine, b_coarse)
        + stated_time_error(a_fine)
        + stated_time_error(b_fine)
        + 1e-12
    )
    k = int(np.argmax(tgap - tallowed))
    assert tgap[k] <= tallowed[k], (
        f"S-INV: physical time differs between clocks: |log t_A - log t_B| = {tgap[k]:.3e} > "
        f"allowed {tallowed[k]:.3e} at checkpoint {k + 1}"
    )
    ratio = max(float(np.max(dist / allowed)), float(np.max(tgap / tallowed)))
    # Exercised: the path moved away from its start by more than the allowance, so two
    # clocks that followed different paths by that much would have been told apart.
    w0 = net.flatten(a_fine.checkpoints[0].weights)
    moved = [
        float(np.linalg.norm(net.flatten(c.weights) - w0))
        / max(float(np.linalg.norm(net.flatten(c.weights))), TINY)
        for c in a_fine.checkpoints
    ]
    return Slack(
        "S-INV",
        ratio,
        f"path ratio {np.max(dist / allowed):.3g}, time ratio {np.max(tgap / tallowed):.3g}",
        exercised=bool(np.any(np.array(moved) > allowed)),
    )


MAX_FROBENIUS = 100.0


CHECKS = {
    "S-EQ1": check_s_eq1,
    "S-EQ2": check_s_eq2,
    "S-EQ3": check_s_eq3,
    "S-L2a": check_s_l2a,
    "S-L2b": check_s_l2b,
    "S-C1": check_s_c1,
    "S-L2c": functools.partial(check_s_l2c, min_frobenius=MAX_FROBENIUS),
}


def check_all(tr: flow.Trajectory) -> list[Slack]:
    """Every Section 2 trajectory check on one path (:func:`run_checks`)."""
    return run_checks(CHECKS, tr)
