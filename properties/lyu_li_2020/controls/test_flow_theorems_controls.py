"""Negative controls of the flow theorems: each check must fail on a planted bug or a broken
dynamic (LL-T4.1 on linear and ReLU networks, LL-LB.6, LL-T4.3, LL-LC.9, LL-LC.11, LL-TA.9, LL-DL3).

Two small fixed problems (deterministic seeds) are integrated once each; every control
plants one bug into the record of a run, or into one function the check calls, and asserts
that the same check the property runs raises.  The honest runs pass every check first.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from invariants.core import margin_rates as mr
from invariants.core import network as net
from invariants.core.data import make_dataset
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.dynamics import flow, relu_flow
from properties.lyu_li_2020.claims import flow_theorems

pytestmark = pytest.mark.meta

#: The seed of the ReLU controls' problem (6 points in 3 dimensions, depth 3, width 3).
RELU_SEED = 10


def fixed_problem(seed: int, n: int, d: int, widths: list[int]):
    """Separable data in the unit ball (margin about ``0.2 / 1.25`` along a random unit
    ``u``) and Gaussian layers of scale 0.3, the last flipped so the mean margin is
    positive (A2 holds; asserted)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    x = rng.normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.where(x @ u >= 0, 1.0, -1.0)
    x = (x + 0.2 * y[:, None] * u) / 1.25
    data = make_dataset(x, y)
    dims = [d, *widths, 1]
    W = [rng.normal(size=(dims[k + 1], dims[k])) * 0.3 for k in range(len(dims) - 1)]
    if float(np.mean(data.z @ net.end_to_end(tuple(W)))) < 0:
        W[-1] = -W[-1]
    assert net.satisfies_a2(tuple(W), data.z, EXPONENTIAL)
    return data, W


@pytest.fixture(scope="module")
def depth3() -> tuple[flow.Trajectory, float]:
    data, W = fixed_problem(2, 12, 3, [3, 3])
    return flow_theorems.long_flow(data.z, W, EXPONENTIAL), max_margin(data).gamma


@pytest.fixture(scope="module")
def run3(depth3) -> flow_theorems.FlowRun:
    return flow_theorems.flow_run(*depth3)


@pytest.fixture(scope="module")
def run4() -> flow_theorems.FlowRun:
    data, W = fixed_problem(4, 3, 2, [2, 2, 2])
    return flow_theorems.flow_run(
        flow_theorems.long_flow(data.z, W, EXPONENTIAL), max_margin(data).gamma
    )


def test_honest_runs_pass_every_check(run3, run4):
    """The controls below mean something only if the unbroken runs pass: LL-T4.1, LL-LB.6,
    LL-T4.3, LL-LC.9, LL-LC.11, LL-TA.9, LL-DL3, each exercised."""
    for run in (run3, run4):
        slacks = [
            flow_theorems.check_ll_t4_1(run),
            flow_theorems.check_ll_lb_6(run),
            flow_theorems.check_ll_t4_3(run)[0],
            flow_theorems.check_ll_lc_9(run),
            flow_theorems.check_ll_lc_11(run),
            flow_theorems.check_ll_ta_9(run)[0],
            flow_theorems.check_ll_dl3(run)[0],
        ]
        assert all(s.exercised for s in slacks), [s.statement for s in slacks if not s.exercised]


def test_t4_1_fails_on_gradient_ascent(depth3):
    """LL-T4.1: the flow's path traversed backwards is the path of gradient ascent
    (``dtheta/dt = +grad Lsum``); along it gtil falls after t0 and the check must fail."""
    tr, gamma_svm = depth3
    ascent = dataclasses.replace(tr, checkpoints=tr.checkpoints[::-1])
    with pytest.raises(AssertionError, match=r"LL-T4\.1: log gtil fell"):
        flow_theorems.check_ll_t4_1(flow_theorems.flow_run(ascent, gamma_svm))


def test_lb_6_fails_with_the_mean_clock(run3):
    """LL-LB.6: the physical time taken in the mean convention (``t_R = n t``, the first
    paper's clock, not converted to the summed loss) must break the lemma's bound."""
    mean = dataclasses.replace(run3, log_t=run3.log_t + math.log(run3.n))
    with pytest.raises(AssertionError, match=r"LL-LB\.6"):
        flow_theorems.check_ll_lb_6(mean)


def test_t4_3_fails_with_b0_for_b1(run3):
    """LL-T4.3: the upper rate with ``B0 = p^{-p/2} max ||x_i||`` (the sphere's largest
    margin) in place of ``B1`` (its largest margin gradient, p times larger) must fail."""
    b0 = run3.order ** (-run3.order / 2) * run3.xmax
    with pytest.raises(AssertionError, match=r"LL-T4\.3"):
        flow_theorems.check_ll_t4_3(run3, b1=b0)


@pytest.fixture
def beta_minus_two(monkeypatch):
    """Plant ``beta^{-2}`` where ``beta^{-2} - 1`` belongs (the ``- 1`` forgotten)."""
    honest = flow_theorems.deficits
    monkeypatch.setattr(flow_theorems, "deficits", lambda run, idx: honest(run, idx) + 1.0)


def test_lc_9_fails_without_the_minus_one(run3, beta_minus_two):
    """LL-LC.9: integrating ``beta^{-2}`` instead of ``beta^{-2} - 1`` must fail."""
    with pytest.raises(AssertionError, match=r"LL-LC\.9"):
        flow_theorems.check_ll_lc_9(run3)


def test_lc_9_fails_with_half_the_right_side(run3):
    """LL-LC.9: the right side halved (``1/(2p)`` for ``1/p``) must fail: the bound is
    nearly attained where the weights sit on one support vector."""
    with pytest.raises(AssertionError, match=r"LL-LC\.9"):
        flow_theorems.check_ll_lc_9(run3, factor=0.5)


def test_ta_9_fails_without_the_minus_one(run3, beta_minus_two):
    """LL-TA.9: ``beta`` recovered from ``beta^{-2}`` instead of ``beta^{-2} - 1`` makes the
    smallest eps of some window exceed its bound."""
    with pytest.raises(AssertionError, match=r"LL-TA\.9"):
        flow_theorems.check_ll_ta_9(run3)


def test_lc_11_fails_with_a_b1_too_small(run4):
    """LL-LC.11: ``B1 = p^{1-p} max ||x_i||`` (Maclaurin's exponent doubled: 16 times too
    small at depth 4) must fail."""
    p = run4.order
    assert p == 4
    with pytest.raises(AssertionError, match=r"LL-LC\.11"):
        flow_theorems.check_ll_lc_11(run4, b1=p ** (1 - p) * run4.xmax)
    assert mr.linear_b1(p, run4.xmax) == pytest.approx(16 * p ** (1 - p) * run4.xmax)


def test_dl3_fails_with_the_mean_clock(run3):
    """LL-DL3: the mean convention's time (``n`` times the summed-loss time) puts the ratio
    at ``n``, not 1, and the trend must fail."""
    mean = dataclasses.replace(run3, log_t=run3.log_t + math.log(run3.n))
    with pytest.raises(AssertionError, match="LL-DL3"):
        flow_theorems.check_ll_dl3(mean)


def test_dl3_fails_with_a_wrong_margin(run3):
    """LL-DL3: the limit with the max margin doubled (``p gamma^{2/p}`` off by ``2^{2/p}``)
    must fail."""
    with pytest.raises(AssertionError, match="LL-DL3"):
        flow_theorems.check_ll_dl3(run3, gamma_svm=2 * run3.gamma_svm)


# --- LL-T4.1 on the bias-free ReLU network ----------------------------------------------------


@pytest.fixture(scope="module")
def relu_traj() -> relu_flow.ReluTrajectory:
    """A depth-3 ReLU flow (seed fixed; it reaches ``S = 1e3`` in about 100 steps, two of
    them across a pattern change)."""
    problem = relu_flow.teacher_student_problem(RELU_SEED, 6, 3, 3, 3, EXPONENTIAL)
    assert problem is not None
    return flow_theorems.relu_long_flow(*problem, EXPONENTIAL)


def test_relu_honest_run_passes(relu_traj):
    """LL-T4.1 (ReLU): the unbroken run passes, exercised, with its single-pattern steps."""
    slack = flow_theorems.check_ll_t4_1_relu(flow_theorems.relu_run(relu_traj))
    assert slack.exercised and relu_traj.stop_reason == "max_s"


def test_relu_t4_1_fails_on_gradient_ascent(relu_traj):
    """LL-T4.1 (ReLU): the path traversed backwards (gradient ascent, each step's error and
    pattern flag carried with it) lowers gtil after t0, and the check must fail."""
    tr = relu_traj
    ascent = dataclasses.replace(
        tr,
        tau=tr.tau[-1] - tr.tau[::-1],
        states=tr.states[::-1],
        local_error=tr.local_error[::-1],
        estimate=tr.estimate[::-1],
        crossed=tr.crossed[::-1],
    )
    with pytest.raises(AssertionError, match=r"LL-T4\.1 \(ReLU\): log gtil fell"):
        flow_theorems.check_ll_t4_1_relu(flow_theorems.relu_run(ascent))


def test_relu_t4_1_fails_with_a_wrong_field(monkeypatch):
    """LL-T4.1 (ReLU): a planted bug in the field -- uniform dual weights ``1/n`` in place
    of ``-loss'(q_i) / Lsum``, i.e. the ascent of the mean margin, not the descent of
    ``Lsum`` -- neglects the smallest margins, and along its path gtil falls: the check must
    fail within 80 steps."""

    def uniform(model, loss):
        return -(np.full(len(model.q), 1.0 / len(model.q)) @ model.jacobian)

    problem = relu_flow.teacher_student_problem(RELU_SEED, 6, 3, 3, 3, EXPONENTIAL)
    assert problem is not None
    monkeypatch.setattr(relu_flow.hm, "scaled_gradient", uniform)
    tr = relu_flow.relu_flow(*problem, EXPONENTIAL, max_s=flow_theorems.RELU_MAX_S, max_steps=80)
    monkeypatch.undo()
    with pytest.raises(AssertionError, match=r"LL-T4\.1 \(ReLU\): log gtil fell"):
        flow_theorems.check_ll_t4_1_relu(flow_theorems.relu_run(tr))


# --- LL-LB.6 for the logistic loss ------------------------------------------------------------


@pytest.fixture(scope="module")
def run3_logistic() -> flow_theorems.FlowRun:
    data, W = fixed_problem(2, 12, 3, [3, 3])
    return flow_theorems.flow_run(
        flow_theorems.long_flow(data.z, W, LOGISTIC), max_margin(data).gamma
    )


def test_lb_6_logistic_honest_then_fails_with_the_mean_clock(run3_logistic):
    """LL-LB.6 (logistic loss, G with ``g(s) = -log(expm1(e^{-s}))``): the honest run passes,
    exercised; with the mean convention's time (``n t``) the bound must fail."""
    assert flow_theorems.check_ll_lb_6(run3_logistic).exercised
    mean = dataclasses.replace(run3_logistic, log_t=run3_logistic.log_t + math.log(run3_logistic.n))
    with pytest.raises(AssertionError, match=r"LL-LB\.6"):
        flow_theorems.check_ll_lb_6(mean)
