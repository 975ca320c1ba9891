"""Negative controls of the kkt stem: each check must fail on a planted bug, a broken dynamic
or a construction that is not a KKT point (LL-P, LL-LC.8, LL-T4.4, LL-C4.5, LL-DL1, LL-DL2).

The fixed problem: 6 points in R^3 with margin >= 0.2 around a fixed direction, a depth-3
linear network, the exponential loss, one gradient flow to ``||w_prod|| = 1e4``; and one
bias-free ReLU flow (a teacher-student problem) for LL-LC.8, LL-T4.4 and the multiplicity
check on ReLU networks.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from invariants.core import kkt as core_kkt
from invariants.core.data import make_dataset
from invariants.core.losses import EXPONENTIAL
from invariants.core.maxmargin import max_margin
from invariants.dynamics import flow, relu_flow
from properties.lyu_li_2020.claims import flow_theorems, kkt

pytestmark = pytest.mark.meta


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(20200101)
    u = np.array([0.6, 0.0, 0.8])
    x = rng.standard_normal((6, 3))
    x -= np.outer(x @ u, u)
    x = 0.5 * x / np.linalg.norm(x, axis=1, keepdims=True) + np.outer(0.3 + 0.3 * rng.random(6), u)
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0])
    data = make_dataset(y[:, None] * x, y)
    mm = max_margin(data)
    units = [np.array([0.6, 0.8]), np.array([1.0, 0.0, 0.0])]
    W0 = [0.3 * rng.standard_normal((2, 3)), 0.3 * rng.standard_normal((3, 2))]
    W0.append(0.3 * rng.standard_normal((1, 3)))
    if (data.z @ (W0[2] @ W0[1] @ W0[0])[0]).mean() < 0:
        W0[2] = -W0[2]
    tr = flow.gradient_flow(data.z, W0, EXPONENTIAL, max_wprod=1e4, max_frobenius=np.inf)
    states = kkt.states_from_t0(tr)
    return data, mm, units, states


def test_honest_problem_passes(problem):
    """The controls are meaningful only if the honest problem passes every check."""
    data, mm, units, states = problem
    assert len(states) >= 5
    kkt.check_run(states, data.z, EXPONENTIAL, mm)
    kkt.check_ll_dl1(data.z, mm, units)
    kkt.check_ll_c4_5(data.z, mm, units)


def test_ll_p_fails_with_wrong_order_in_theta_tilde(problem, monkeypatch):
    """LL-P: theta~ = theta / q_min^{1/(p+1)} (the wrong order) breaks the norm identity."""
    data, _, _, states = problem

    def wrong(model):
        c = float(np.min(model.q)) ** (1.0 / (model.order + 1))
        return dataclasses.replace(model, theta=model.theta / c, q=model.q / float(np.min(model.q)))

    monkeypatch.setattr(core_kkt, "rescaled", wrong)
    with pytest.raises(AssertionError, match=r"LL-P"):
        kkt.check_ll_p(kkt.linear_model(states[-1], data.z))


def test_ll_lc_8_fails_with_one_minus_beta(problem, monkeypatch):
    """LL-LC.8: the eps identity written with 1 - beta instead of sqrt(2 (1 - beta)) fails."""
    data, _, _, states = problem

    def wrong(model, beta, tangential):
        q_min = float(np.min(model.q))
        return model.rho / q_min ** (1.0 / model.order) * (1.0 - beta)

    monkeypatch.setattr(core_kkt, "eps_identity", wrong)
    with pytest.raises(AssertionError, match=r"LL-LC\.8"):
        kkt.check_ll_lc_8(kkt.linear_model(states[0], data.z), EXPONENTIAL)


def test_ll_lc_8_fails_with_multipliers_missing_rho(problem, monkeypatch):
    """LL-LC.8: multipliers without the factor rho (a wrong scaling) break the eps identity."""
    data, _, _, states = problem
    honest = core_kkt.proof_multipliers

    def wrong(model, loss):
        pm = honest(model, loss)
        return dataclasses.replace(pm, lam=pm.lam / model.rho)

    monkeypatch.setattr(core_kkt, "proof_multipliers", wrong)
    with pytest.raises(AssertionError, match=r"LL-LC\.8"):
        kkt.check_ll_lc_8(kkt.linear_model(states[-1], data.z), EXPONENTIAL)


def test_ll_t4_4_fails_on_gradient_ascent(problem):
    """LL-T4.4: the path run backwards (gradient ascent from the last state) raises the KKT
    residuals instead of shrinking them."""
    data, mm, _, states = problem
    trace = kkt.kkt_trace(states[::-1], data.z, EXPONENTIAL, mm)
    with pytest.raises(AssertionError, match=r"LL-T4\.4"):
        kkt.check_ll_t4_4(trace)


def test_ll_t4_4_fails_on_a_frozen_run(problem):
    """LL-T4.4: a run that never moves past t0 (every state the t0 state) shows no decay."""
    data, mm, _, states = problem
    trace = kkt.kkt_trace([states[0]] * 4, data.z, EXPONENTIAL, mm)
    with pytest.raises(AssertionError, match=r"LL-T4\.4"):
        kkt.check_ll_t4_4(trace)


def test_ll_dl2_fails_on_gradient_ascent(problem):
    """LL-DL2: backwards, the direction leaves ubar and the margins fall from their optima."""
    data, mm, _, states = problem
    trace = kkt.kkt_trace(states[::-1], data.z, EXPONENTIAL, mm)
    with pytest.raises(AssertionError, match=r"LL-DL2"):
        kkt.check_ll_dl2(trace, unique_dual=kkt.dual_is_unique(data.z, mm))


def test_ll_dl2_fails_on_a_frozen_run(problem):
    """LL-DL2: a frozen run does not approach ubar."""
    data, mm, _, states = problem
    trace = kkt.kkt_trace([states[0]] * 4, data.z, EXPONENTIAL, mm)
    with pytest.raises(AssertionError, match=r"LL-DL2"):
        kkt.check_ll_dl2(trace, unique_dual=False)


def test_ll_dl1_fails_without_gamma_power(problem, monkeypatch):
    """LL-DL1: multipliers ``dual`` (missing the factor gamma^{-2/p}) break stationarity."""
    data, mm, units, _ = problem
    monkeypatch.setattr(
        core_kkt, "linear_kkt_multipliers", lambda mm, order: np.asarray(mm.dual, np.float64)
    )
    with pytest.raises(AssertionError, match=r"LL-DL1"):
        kkt.check_ll_dl1(data.z, mm, units)


def test_ll_dl1_fails_at_a_non_max_margin_direction(problem):
    """LL-DL1: the same construction around a direction that is not ubar is not a KKT point:
    stationarity (and the margin) fail."""
    data, mm, units, _ = problem
    tilted = mm.ubar + 0.05 * np.array([0.0, 1.0, 0.0])
    fake = dataclasses.replace(mm, ubar=tilted / np.linalg.norm(tilted))
    with pytest.raises(AssertionError, match=r"LL-DL1"):
        kkt.check_ll_dl1(data.z, fake, units)


def test_ll_c4_5_fails_without_the_labels(problem, monkeypatch):
    """LL-C4.5: a tangent kernel built from grad Phi without the labels y_i (features
    ``|grad q_i|`` sign-stripped) is not the kernel of (Q): its SVM is not parallel to theta*."""
    data, mm, units, _ = problem

    def wrong(model):
        return max_margin(np.abs(model.jacobian))

    monkeypatch.setattr(core_kkt, "tangent_kernel_svm", wrong)
    with pytest.raises(AssertionError, match=r"LL-C4\.5"):
        kkt.check_ll_c4_5(data.z, mm, units)


def test_ll_c4_5_trend_fails_on_gradient_ascent(problem):
    """LL-C4.5 (along a run): backwards, the tangent-kernel SVM drifts away from theta."""
    data, _, _, states = problem
    with pytest.raises(AssertionError, match=r"LL-C4\.5"):
        kkt.check_ll_c4_5_along(states[-1], states[0], data.z)


# --- bias-free ReLU networks -------------------------------------------------------------------


@pytest.fixture(scope="module")
def relu_problem():
    """One ReLU run (teacher-student seed 0: n = 8, d = 3, depth 2, width 3, exponential
    loss; 17 steps across a pattern change, no sliding mode) to S = 1e3, its states past t0."""
    x, y, weights = relu_flow.teacher_student_problem(0, 8, 3, 2, 3, EXPONENTIAL)
    tr = flow_theorems.relu_long_flow(x, y, weights, EXPONENTIAL)
    assert tr.stop_reason == "max_s"
    return kkt.relu_states_from_t0(tr)


def test_honest_relu_run_passes(relu_problem):
    """The ReLU controls are meaningful only if the honest run passes LL-LC.8 and LL-T4.4."""
    slacks = kkt.check_relu_run(relu_problem, EXPONENTIAL, slid=False)
    assert all(s.exercised for s in slacks)


def test_ll_lc_8_relu_fails_with_wrong_power_of_q_min(relu_problem, monkeypatch):
    """LL-LC.8 on ReLU states: the proof's multipliers with q_min^{1-1/p} for q_min^{1-2/p}
    (a planted wrong formula) break the eps identity."""
    honest = core_kkt.proof_multipliers

    def wrong(model, loss):
        pm = honest(model, loss)
        q_min = float(np.min(model.q))
        return dataclasses.replace(pm, lam=pm.lam * q_min ** (1.0 / model.order))

    monkeypatch.setattr(core_kkt, "proof_multipliers", wrong)
    with pytest.raises(AssertionError, match=r"LL-LC\.8"):
        kkt.check_ll_lc_8(relu_problem[-1], EXPONENTIAL)


def test_ll_lc_8_relu_fails_with_multipliers_from_other_rows(relu_problem, monkeypatch):
    """LL-LC.8 on ReLU states: multipliers formed from a velocity whose Jacobian is not the
    model's (every row scaled by its own margin, a planted bug in the backward pass) break
    the identity, which ties lam to the same rows that theta~ is compared with."""
    honest = core_kkt.proof_multipliers

    def wrong(model, loss):
        bent = dataclasses.replace(model, jacobian=model.jacobian * model.q[:, None])
        return honest(bent, loss)

    monkeypatch.setattr(core_kkt, "proof_multipliers", wrong)
    with pytest.raises(AssertionError, match=r"LL-LC\.8"):
        kkt.check_ll_lc_8(relu_problem[-1], EXPONENTIAL)


def test_ll_t4_4_relu_fails_on_gradient_ascent(relu_problem):
    """LL-T4.4 on ReLU: the run backwards raises the KKT residuals."""
    with pytest.raises(AssertionError, match=r"LL-T4\.4"):
        kkt.check_ll_t4_4_relu(relu_problem[::-1], EXPONENTIAL, slid=False)


def test_ll_t4_4_relu_fails_on_a_frozen_run(relu_problem):
    """LL-T4.4 on ReLU: a run that never moves past t0 shows no decay."""
    with pytest.raises(AssertionError, match=r"LL-T4\.4"):
        kkt.check_ll_t4_4_relu([relu_problem[0]] * 4, EXPONENTIAL, slid=False)


def test_global_limit_fails_on_runs_sharing_one_limit(problem, relu_problem):
    """LL-T4.4 (multiplicity): the check fails for runs that share one limit -- the linear
    network's (its last two states from t0 on, gbar* from the max-margin solver) passed as
    the 'ReLU' side, and one ReLU run passed three times."""
    data, mm, _, states = problem
    models = [kkt.linear_model(w, data.z) for w in states[-2:]]
    lin = [float(np.min(m.q)) / m.rho**m.order for m in models]
    star = core_kkt.optimal_linear_margin(mm.gamma, len(states[-1]))
    with pytest.raises(AssertionError, match=r"LL-T4\.4 \(multiplicity\)"):
        kkt.check_global_limit(lin, [0.0, 0.0], lin, star)
    last = relu_problem[-1]
    g = float(np.min(last.q)) / last.rho**last.order
    rise = kkt.late_rise(relu_problem, EXPONENTIAL)
    with pytest.raises(AssertionError, match=r"LL-T4\.4 \(multiplicity\)"):
        kkt.check_global_limit([g] * 3, [rise] * 3, lin, star)


# --- certified verdicts (ball arithmetic) --------------------------------------------------

#: The planted relative error of gbar in control (c): one part in 2^49 (1.8e-15), so the
#: objective ``(1/2) gbar^{-2/p}`` is off by ``(2/p) 2^-49`` (1.2e-15 at p = 3), below LL-P's
#: float allowance ``2 gamma(D + 2) + 16 eps`` (about 9e-15 at D = 15) and ~1e20 times the
#: balls' radii.
PLANTED = 2.0**-49


def test_honest_certificates_are_true(problem):
    """LL-P, LL-LC.8: on the honest flow every sampled state is proved in balls, and
    check_run attaches the certificates."""
    data, mm, _units, states = problem
    slacks = kkt.check_run(states, data.z, EXPONENTIAL, mm, certify=True)
    certs = {s.statement: s.certificate for s in slacks if s.certificate is not None}
    assert set(certs) == {"LL-P", "LL-LC.8"}
    assert all(c.decided is True and c.points >= 5 for c in certs.values()), certs


def test_ll_p_with_gbar_off_by_an_ulp_passes_the_float_check(problem, monkeypatch):
    """LL-P: gbar planted with a relative error of 2^-49 passes the float check of
    ``(1/2)||theta~||^2 = (1/2) gbar^{-2/p}`` through its rounding allowance at every state,
    while ball arithmetic excludes 0 from the identity's residual (FALSE) and the certified
    run fails."""
    from invariants.core import homogeneous as hom

    data, _mm, _units, states = problem
    true_float, true_ball = hom.normalized_margin, kkt.ball_normalized_margin
    monkeypatch.setattr(
        hom, "normalized_margin", lambda q, r, p: true_float(q, r, p) * (1 + PLANTED)
    )
    for w in states:
        kkt.check_ll_p(kkt.linear_model(w, data.z))  # the float check passes ...
    monkeypatch.setattr(
        kkt, "ball_normalized_margin", lambda q, r, p: true_ball(q, r, p) * (1 + PLANTED)
    )
    cert = kkt.certify_state(states[-1], data.z, EXPONENTIAL)["LL-P"]
    assert cert.decided is False, cert  # ... ball arithmetic refutes it
    with pytest.raises(AssertionError, match=r"LL-P: the float check held"):
        kkt.certify_states(states, data.z, EXPONENTIAL)


def test_ll_lc_8_with_a_quarter_of_the_delta_bound_is_decided_false(problem, monkeypatch):
    """LL-LC.8: the delta bound with ``1/(4 e p q_min)`` in place of ``1/(e p q_min)`` is
    exceeded by the proof's multipliers at some sampled state: FALSE in balls (the float
    check with the same constant fails too), and the certified run fails."""
    data, _mm, _units, states = problem
    true_bound = kkt.ball_delta_bound
    monkeypatch.setattr(
        kkt, "ball_delta_bound", lambda g, q, p, loss: true_bound(g, q, p, loss) / 4
    )
    with pytest.raises(AssertionError, match=r"LL-LC\.8: the float check held"):
        kkt.certify_states(states, data.z, EXPONENTIAL)
