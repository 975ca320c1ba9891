"""The max-margin problem (P) and its KKT points, on deep linear and bias-free ReLU networks.

Statements: LL-P, LL-LC.8, LL-T4.4, LL-C4.5, LL-DL1, LL-DL2.

One gradient flow per drawn problem serves LL-P, LL-LC.8 (at every saved state from t0 on),
LL-T4.4, LL-DL2 and LL-C4.5 (trends from t0 to the end).  LL-DL1 and the exact form of
LL-C4.5 are checked at a constructed KKT point.  Along bias-free ReLU flows (the
teacher-student problems of the flow_theorems stem, and one fixed data set with several
initialisations), LL-LC.8 at every state past t0 and LL-T4.4 as a trend; the fixed data set
also records that the ReLU runs' limits differ (observation relu_kkt_multiplicity).  The
tolerances are derived in :mod:`properties.lyu_li_2020.claims.kkt`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import kkt as core_kkt
from invariants.core.data import make_dataset
from invariants.core.losses import EXPONENTIAL, get_loss
from invariants.core.maxmargin import max_margin
from invariants.core.theta import theta
from invariants.dynamics import flow, relu_flow
from properties.lyu_li_2020.claims import flow_theorems, kkt

#: The flows stop at ``||w_prod|| = 1e6``: far past t0 (the margins reach ~1e6 gamma), and
#: about 0.3 s per run at depth <= 4 (measured), so one run per example fits the budget.
MAX_WPROD = 1e4

#: Margin floor of the drawn data: the max-margin solver's certificate needs ``gamma >~ 1e-3
#: max ||z_i||`` (maxmargin.rounding_floor); 0.05 keeps the runs short (t0 comes early).
MIN_MARGIN = 0.05


def run(problem: strategies.Problem) -> tuple[list, flow.Trajectory]:
    """Integrate the flow and keep the states from t0 on."""
    tr = flow.gradient_flow(
        problem.z, problem.weights, problem.loss, max_wprod=MAX_WPROD, max_frobenius=np.inf
    )
    return kkt.states_from_t0(tr), tr


@given(
    problem=strategies.problems(
        kinds=strategies.A2_KINDS,
        depth=(2, 4),
        width=(1, 4),
        n=(2, 8),
        d=(2, 4),
        min_margin=MIN_MARGIN,
    )
)
def test_kkt_statements_along_flow(problem: strategies.Problem, record_slack, record_observation):
    """LL-P, LL-LC.8 at every state from t0 on; LL-T4.4, LL-DL2 and LL-C4.5 as trends.
    LL-P and LL-LC.8's delta bound also in ball arithmetic at sampled states (a FALSE
    certificate fails the test)."""
    states, tr = run(problem)
    note(
        f"family={problem.drawn.family} n={problem.drawn.n} d={problem.drawn.d} "
        f"widths={problem.widths} loss={problem.loss.name} init={problem.init.name} "
        f"states past t0={len(states)} stop={tr.stop_reason}"
    )
    mm = max_margin(problem.drawn.data)
    slacks = kkt.check_run(states, problem.z, problem.loss, mm, certify=True)
    for slack in slacks:
        record_slack(slack)
    t44 = next(s for s in slacks if s.statement == "LL-T4.4")
    record_observation(
        "kkt_residual_decay",
        "LL-T4.4",
        {
            "decay_ratio": t44.measures["decay_ratio"],
            "eps_end": t44.measures["eps_end"],
            "log_rho_growth": t44.measures["log_rho_growth"],
            "depth": float(len(problem.weights)),
        },
    )


@st.composite
def kkt_points(draw):
    """A data set, a depth p in 2..5 and hidden unit vectors ``u_1 .. u_{p-1}`` (LL-DL1)."""
    drawn = draw(strategies.datasets(n=(1, 12), d=(1, 5), min_margin=MIN_MARGIN), label="data")
    depth = draw(st.integers(2, 5), label="depth")
    widths = draw(st.lists(st.integers(1, 4), min_size=depth - 1, max_size=depth - 1))
    rng = np.random.default_rng(draw(strategies.seeds(), label="seed"))
    units = [rng.standard_normal(w) for w in widths]
    return drawn, [u / np.linalg.norm(u) for u in units]


@given(point=kkt_points())
def test_constructed_kkt_point(point, record_slack):
    """LL-DL1 and LL-C4.5 at ``W_k = gamma^{-1/p} u_k u_{k-1}^T``: stationarity with
    ``gamma^{-2/p} dual``, complementarity, balance, ``gbar = gamma p^{-p/2}``, and the
    tangent-kernel SVM parallel to theta*."""
    drawn, units = point
    note(f"family={drawn.family} n={drawn.n} d={drawn.d} widths={[u.size for u in units]}")
    mm = max_margin(drawn.data)
    record_slack(kkt.check_ll_dl1(drawn.data.z, mm, units))
    record_slack(kkt.check_ll_c4_5(drawn.data.z, mm, units))


#: Half the profile's examples for the A3-violating runs: the test records one observation
#: (and re-checks LL-DL2, which the main flow test covers with the full count); a full count
#: of flows here would take the stem past its time budget (measured: ~0.8 s per example).
HALF_THE_EXAMPLES = max(1, settings.default.max_examples // 2)


@settings(max_examples=HALF_THE_EXAMPLES)
@given(
    problem=strategies.problems(
        kinds=strategies.A2_KINDS,
        family=["underdetermined", "collinear"],
        depth=(2, 4),
        width=(1, 4),
        n=(2, 6),
        d=(3, 6),
        min_margin=MIN_MARGIN,
    )
)
def test_dl2_without_a3(problem: strategies.Problem, record_slack, record_observation):
    """LL-DL2 where the papers meet: on data violating the first paper's A3 (support vectors
    not spanning R^d, so its theta = 0 and its Theorem 2 does not apply), the direction of
    w_prod still converges to ubar."""
    data = problem.drawn.data
    mm = max_margin(data)
    th = theta(data, mm)
    assert not th.a3 and th.value == 0.0, (
        f"the drawn data were meant to violate A3: a3={th.a3}, theta={th.value}"
    )
    states, _ = run(problem)
    note(f"family={problem.drawn.family} n={data.n} d={data.d} widths={problem.widths}")
    trace = kkt.kkt_trace(states, problem.z, problem.loss, mm)
    slack = kkt.check_ll_dl2(trace, unique_dual=kkt.dual_is_unique(problem.z, mm))
    record_slack(slack)
    if not slack.exercised:
        return  # the direction was at rounding level already at t0: no trend to show
    record_observation(
        "dl2_without_a3",
        "LL-DL2",
        {
            "a3": 0.0,
            "theta": th.value,
            "sin_t0": float(trace.sin_prod[0]),
            "sin_end": float(trace.sin_prod[-1]),
            "decay_ratio": slack.measures["decay_ratio"],
            "log10_wprod_end": float(np.log10(MAX_WPROD)),
        },
    )


# --- bias-free ReLU networks --------------------------------------------------------------------

#: One case per loss, each with a third of the profile's examples: one ReLU run to S = 1e3
#: is 0.15 to 0.5 s of CPU, nearly all of it the integration (the per-state LL-LC.8 checks
#: and residuals add about 10%; measured), and half the examples per loss took 15.8 s under
#: the report profile with the multiplicity test, past this stem's ReLU budget (~15 s).  The
#: same problems drive the ReLU test of the flow_theorems stem with half the examples.
RELU_THIRD = max(1, settings.default.max_examples // 3)


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@settings(max_examples=RELU_THIRD)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(4, 12),
    d=st.integers(2, 4),
    depth=st.integers(2, 3),
    width=st.integers(2, 4),
)
def test_kkt_along_relu_flow(loss: str, seed, n, d, depth, width, record_slack, record_observation):
    """LL-LC.8 at every state from t0 on and LL-T4.4 (the residuals fall) along the flow of a
    bias-free ReLU network (the teacher-student problems of the flow_theorems stem); runs cut
    in a sliding mode are measured, not asserted, and count as not exercised."""
    problem = relu_flow.teacher_student_problem(seed, n, d, depth, width, get_loss(loss))
    assume(problem is not None)
    x, y, weights = problem
    tr = flow_theorems.relu_long_flow(x, y, weights, get_loss(loss))
    models = kkt.relu_states_from_t0(tr)
    slid = tr.stop_reason == "max_crossings"
    note(
        f"n={n} d={d} depth={depth} width={width} loss={loss} stop={tr.stop_reason} "
        f"states past t0={len(models)} pattern_steps={tr.pattern_changes}"
    )
    slacks = kkt.check_relu_run(models, get_loss(loss), slid=slid)
    for slack in slacks:
        record_slack(slack)
    t44 = next(s for s in slacks if s.statement == "LL-T4.4")
    record_observation(
        "relu_kkt_residual_decay",
        "LL-T4.4",
        {
            "decay_ratio": t44.measures["decay_ratio"],
            "eps_end": t44.measures["eps_end"],
            "slid": t44.measures["slid"],
            "depth": float(depth),
        },
    )


#: The one data set of the multiplicity test: 8 unit-norm points in R^3 labelled by a unit
#: direction, kept where the margin is at least 0.3 (so a linear network separates them too).
MULTIPLICITY_DATA_SEED = 2

#: Seeds of the ReLU initialisations (width 3, depth 2) and of the linear ones (width 3,
#: depth 2).  Three ReLU runs to S = 1e5 (MULTIPLICITY_MAX_S) and two linear runs to
#: ||w_prod|| = 1e4 take about 2 s of CPU (measured); on this data set none of the ReLU
#: runs slides.  Measured final gbar: 0.1625, 0.1740, 0.1746 (ReLU), each having risen by
#: at most 2e-3 relative over its last decade of S.
RELU_SEEDS = (100, 102, 107)
LINEAR_SEEDS = (200, 201)

#: The ReLU runs of the multiplicity test go to S = 1e5, two decades past the other ReLU
#: runs: at S = 1e3 some runs were still rising by 20% per decade (measured), which would
#: blur a spread of limits with slow convergence.
MULTIPLICITY_MAX_S = 1e5


def multiplicity_data() -> tuple[np.ndarray, np.ndarray]:
    """The fixed data set of :func:`test_relu_kkt_multiplicity` (LL-T4.4)."""
    rng = np.random.default_rng(MULTIPLICITY_DATA_SEED)
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    x = rng.normal(size=(48, 3))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x = x[np.abs(x @ u) >= 0.3][:8]
    return x, np.sign(x @ u)


def relu_start(x: np.ndarray, y: np.ndarray, seed: int, width: int, loss) -> tuple:
    """A separating depth-2 ReLU initialisation past t0 (LL-T4.4): Gaussian first layer, the
    output layer by least squares on the hidden features, redrawn until every margin is
    positive, then scaled past t0 (:func:`invariants.dynamics.relu_flow.scale_past_threshold`)."""
    rng = np.random.default_rng(seed)
    while True:
        W1 = rng.normal(size=(width, x.shape[1]))
        H = np.maximum(x @ W1.T, 0.0)
        W2 = np.linalg.lstsq(H, y, rcond=None)[0][None, :]
        if np.all(y * (H @ W2[0]) > 0):
            return relu_flow.scale_past_threshold([W1, W2], x, y, loss)


def test_relu_kkt_multiplicity(record_slack, record_observation):
    """LL-T4.4 (the limits are KKT directions, not global optima): on one data set, ReLU runs
    from several initialisations each have falling KKT residuals (LL-T4.4, LL-LC.8 at every
    state), yet end at normalised margins that spread more than the linear network's runs on
    the same data are from their common limit gamma p^{-p/2}, and more than each run's own
    rise over its last decade of S (observation relu_kkt_multiplicity)."""
    loss = get_loss("exponential")
    x, y = multiplicity_data()
    relu_gbar, relu_rise = [], []
    for seed in RELU_SEEDS:
        start = relu_start(x, y, seed, 3, loss)
        tr = relu_flow.relu_flow(
            x, y, start, loss, max_s=MULTIPLICITY_MAX_S, max_tau=80.0, max_steps=2000
        )
        models = kkt.relu_states_from_t0(tr)
        relu_rise.append(kkt.late_rise(models, loss))
        for slack in kkt.check_relu_run(models, loss, slid=tr.stop_reason == "max_crossings"):
            record_slack(slack)
        last = models[-1]
        relu_gbar.append(float(np.min(last.q)) / last.rho**last.order)
    data = make_dataset(y[:, None] * x, y)
    mm = max_margin(data)
    linear_gbar = []
    for seed in LINEAR_SEEDS:
        rng = np.random.default_rng(seed)
        W0 = [0.5 * rng.normal(size=(3, 3)), 0.5 * rng.normal(size=(1, 3))]
        if float(np.mean(data.z @ (W0[1] @ W0[0])[0])) < 0:
            W0[1] = -W0[1]
        states, _ = run_linear(data.z, W0, loss)
        last = kkt.linear_model(states[-1], data.z)
        linear_gbar.append(float(np.min(last.q)) / last.rho**last.order)
    values = kkt.check_global_limit(
        relu_gbar, relu_rise, linear_gbar, core_kkt.optimal_linear_margin(mm.gamma, 2)
    )
    record_observation("relu_kkt_multiplicity", "LL-T4.4", values)


def run_linear(z: np.ndarray, weights: list, loss) -> tuple[list, flow.Trajectory]:
    """The linear flow of :func:`run` from given weights (LL-T4.4)."""
    tr = flow.gradient_flow(z, weights, loss, max_wprod=MAX_WPROD, max_frobenius=np.inf)
    return kkt.states_from_t0(tr), tr


def test_t4_4_judges_the_best_multipliers_not_the_proofs():
    """LL-T4.4 on the drawn example where the proof's multipliers rise in a transient (two
    nearly parallel points, depth 2): ``eps`` ends above its t0 value while ``eps*`` (the best
    non-negative multipliers) falls throughout, and the check, which asserts ``eps*``,
    holds and is exercised."""
    z = np.array([[-0.40440706, -0.45391835], [-0.49310635, -0.53869576]])
    weights = [np.array([[0.00469591, 0.00610333]]), np.array([[-0.01056213]])]
    states, _ = run_linear(z, weights, EXPONENTIAL)
    trace = kkt.kkt_trace(states, z, EXPONENTIAL, max_margin(z))
    assert trace.eps[-1] > trace.eps[0]  # the transient this example was kept for
    assert np.all(np.diff(trace.eps_star) < 0)
    assert kkt.check_ll_t4_4(trace).exercised
