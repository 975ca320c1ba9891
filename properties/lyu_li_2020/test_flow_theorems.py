"""The second paper's gradient-flow theorems along one deep-linear flow per example.

Statements: LL-T4.1, LL-LB.6, LL-T4.3, LL-LC.9, LL-LC.11, LL-TA.9, LL-DL3.

Each drawn problem (separable data, depth 2..4, an A2 initialisation) is integrated once to
``||w_prod|| = 1e8`` (:func:`~properties.lyu_li_2020.claims.flow_theorems.long_flow`) and
every statement is asserted on that one trajectory; a failure names every statement that
failed on the example.  Every run passes ``t0`` (the first paper's Theorem 1 sends the loss
to 0), so every example can exercise every statement; the checks count the ones that did
not.  The tolerances are derived in :mod:`properties.lyu_li_2020.claims.flow_theorems`.
"""

from __future__ import annotations

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from invariants import strategies
from invariants.core.maxmargin import max_margin
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
    """LL-T4.1, LL-LB.6 (exponential loss), LL-T4.3, LL-LC.9, LL-LC.11, LL-TA.9 and LL-DL3
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
    if loss == "exponential":
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
