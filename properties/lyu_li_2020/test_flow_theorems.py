"""The second paper's gradient-flow theorems along one deep-linear flow per example.

Statements: LL-T4.1, LL-LB.6, LL-T4.3, LL-LC.9, LL-LC.11, LL-TA.9, LL-DL3.

Each drawn problem (separable data, depth 2..4, an A2 initialisation) is integrated once to
``||w_prod|| = 1e8`` (:func:`~properties.lyu_li_2020.claims.flow_theorems.long_flow`) and
every statement is asserted on that one trajectory; a failure names every statement that
failed on the example.  Every run passes ``t0`` (the first paper's Theorem 1 sends the loss
to 0), so every example can exercise every statement; the checks count the ones that did
not.  The tolerances are derived in :mod:`properties.lyu_li_2020.claims.flow_theorems`.

LL-T4.1 is also asserted along the flow of a bias-free ReLU network (one output, depth 2..3)
from a teacher-student problem scaled past t0
(:func:`invariants.dynamics.relu_flow.teacher_student_problem`), run to ``S = 1e3``.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from invariants import strategies
from invariants.core.losses import get_loss
from invariants.core.maxmargin import max_margin
from invariants.dynamics import relu_flow
from properties.helpers import collect
from properties.lyu_li_2020.claims import flow_theorems

# One case per loss, each with half the profile's examples, so the halves run side by side
# under xdist (as the first paper's flow properties do).
HALF_THE_EXAMPLES = max(1, settings.default.max_examples // 2)


def problems(loss: str):
    """Depth 2..4 (depth 1 has no layers to align, and p = 1 makes the log factors of
    LL-T4.3 and LL-DL3 vanish), widths 1..4, up to 20 points in up to 5 dimensions."""
    return strategies.problems(
        kinds=strategies.A2_KINDS, loss=loss, depth=(2, 4), n=(2, 20), d=(2, 5), width=(1, 4)
    )


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@settings(max_examples=HALF_THE_EXAMPLES)
@given(data=st.data())
def test_flow_theorems_along_one_flow(loss: str, data, record_slack, record_observation):
    """LL-T4.1, LL-LB.6, LL-T4.3, LL-LC.9, LL-LC.11, LL-TA.9 and LL-DL3
    on one gradient flow, with the laws loss_rate, norm_rate, kkt_window, dl3_ratio and the
    observation alignment_and_margin."""
    problem = data.draw(problems(loss), label="problem")
    tr = flow_theorems.long_flow(problem.z, problem.weights, problem.loss)
    run = flow_theorems.flow_run(tr, max_margin(problem.drawn.data).gamma)
    note(
        f"n={problem.drawn.n} d={problem.drawn.d} widths={problem.widths} loss={loss} "
        f"init={problem.init.name} stop={tr.stop_reason} steps={tr.work.steps} t0={run.j0}"
    )
    checks = {
        "LL-T4.1": lambda: (flow_theorems.check_ll_t4_1(run), []),
        "LL-T4.3": lambda: flow_theorems.check_ll_t4_3(run),
        "LL-LC.9": lambda: (flow_theorems.check_ll_lc_9(run), []),
        "LL-LC.11": lambda: (flow_theorems.check_ll_lc_11(run), []),
        "LL-TA.9": lambda: flow_theorems.check_ll_ta_9(run),
        "LL-DL3": lambda: flow_theorems.check_ll_dl3(run),
    }
    checks["LL-LB.6"] = lambda: (flow_theorems.check_ll_lb_6(run), [])
    done, failures = collect(checks)
    for slack, observations in done.values():
        record_slack(slack)
        for observation in observations:
            record_observation(*observation)
    meeting = flow_theorems.alignment_and_margin(run)
    if meeting is not None:
        record_observation(*meeting)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@settings(max_examples=HALF_THE_EXAMPLES)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(4, 12),
    d=st.integers(2, 4),
    depth=st.integers(2, 3),
    width=st.integers(2, 4),
)
def test_relu_flow_smoothed_margin(loss: str, seed, n, d, depth, width, record_slack):
    """LL-T4.1 along the gradient flow of a bias-free ReLU network (one output, depth 2..3),
    started past t0: log gtil never falls across a single-pattern step beyond its allowance,
    the sandwich gap stays in [0, log n (+ Lsum)], rho and 1/Lsum grow."""
    problem = relu_flow.teacher_student_problem(seed, n, d, depth, width, get_loss(loss))
    assume(problem is not None)
    x, y, weights = problem
    tr = flow_theorems.relu_long_flow(x, y, weights, get_loss(loss))
    run = flow_theorems.relu_run(tr)
    note(
        f"n={n} d={d} depth={depth} width={width} loss={loss} stop={tr.stop_reason} "
        f"steps={len(tr.local_error)} pattern_steps={tr.pattern_changes} t0={run.j0}"
    )
    record_slack(flow_theorems.check_ll_t4_1_relu(run))
