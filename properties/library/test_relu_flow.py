"""Properties of :mod:`invariants.dynamics.relu_flow` (LL-T4.1's ReLU trajectories).

* **The step's error budget against a tighter integration.**  On drawn teacher-student
  problems, for sampled accepted steps that kept one activation pattern, the flow is
  re-integrated from the step's start over the same clock interval at rtol 1e-12; the
  computed end differs from the tight end by at most the step's ``local_error`` plus the
  tight run's own summed budget.  This is what LL-T4.1's step check relies on.
* **Pattern flags.**  A step not flagged ``crossed`` starts and ends in one activation
  pattern.
* **The clock.**  Along the run ``tau`` increases, ``||dtheta/dtau|| = rho`` (the field is
  ``rho`` times a unit vector, up to rounding), and ``log rho`` rises by at most the
  elapsed ``tau`` (``dlog rho/dtau <= 1``) plus the steps' errors.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from invariants.core.losses import get_loss
from invariants.dynamics import relu_flow

#: Each example is one run to ``S = 1e3`` plus up to :data:`SAMPLED_STEPS` tight
#: re-integrations (about 0.5 s), so a quarter of the profile's examples.
QUARTER_THE_EXAMPLES = max(2, settings.default.max_examples // 4)
SAMPLED_STEPS = 6
TIGHT_RTOL = 1e-12


def problems():
    return st.tuples(
        st.integers(0, 2**32 - 1),
        st.integers(4, 10),
        st.integers(2, 4),
        st.integers(2, 3),
        st.integers(2, 4),
        st.sampled_from(["exponential", "logistic"]),
    )


@settings(max_examples=QUARTER_THE_EXAMPLES)
@given(problem=problems())
def test_step_error_within_budget(problem):
    """LL-T4.1: a single-pattern step's end is within its ``local_error`` of the exact
    flow from its start (the tight run), and the pattern flags and the clock hold."""
    seed, n, d, depth, width, loss_name = problem
    loss = get_loss(loss_name)
    drawn = relu_flow.teacher_student_problem(seed, n, d, depth, width, loss)
    assume(drawn is not None)
    x, y, weights = drawn
    tr = relu_flow.relu_flow(x, y, weights, loss, max_s=1e3)
    steps = len(tr.local_error)
    assert steps > 0 and np.all(np.diff(tr.tau) > 0)
    rho = np.linalg.norm(tr.states, axis=1)
    # dlog rho/dtau <= 1: over a step, log rho rises by at most h plus the end's error
    # relative to rho (first order).
    rise = np.diff(np.log(rho)) - np.diff(tr.tau)
    assert np.all(rise <= tr.local_error / rho[1:] + 1e-14), float(np.max(rise))
    for j in range(steps):
        if not tr.crossed[j]:
            assert relu_flow.activation_pattern(tr.weights(j), x) == (
                relu_flow.activation_pattern(tr.weights(j + 1), x)
            )
    smooth = np.flatnonzero(~tr.crossed)
    for j in smooth[:: max(1, smooth.size // SAMPLED_STEPS)][:SAMPLED_STEPS]:
        h = float(tr.tau[j + 1] - tr.tau[j])
        tight = relu_flow.relu_flow(
            x,
            y,
            tr.weights(j),
            loss,
            max_s=math.inf,
            max_tau=h,
            max_crossings=10**6,
            rtol=TIGHT_RTOL,
            atol=TIGHT_RTOL * 1e-3,
        )
        assert tight.stop_reason == "max_tau", tight.stop_reason
        assert math.isclose(tight.tau[-1], h, rel_tol=1e-12)
        gap = float(np.linalg.norm(tr.states[j + 1] - tight.states[-1]))
        allowed = float(tr.local_error[j] + np.sum(tight.local_error))
        assert gap <= allowed, f"step {j}: ||computed - tight|| = {gap:.3e} > {allowed:.3e}"


def test_unit_field_is_a_unit_descent_direction():
    """LL-T4.1: ``unit_field`` has norm 1 and lowers ``Lsum`` (a positive inner product with
    ``-grad Lsum``, i.e. with ``theta`` by Euler past t0)."""
    drawn = relu_flow.teacher_student_problem(10, 6, 3, 3, 3, get_loss("exponential"))
    assert drawn is not None
    x, y, weights = drawn
    theta = np.concatenate([W.ravel() for W in weights])
    f = relu_flow.unit_field(theta, [W.shape for W in weights], x, y, get_loss("exponential"))
    assert abs(float(np.linalg.norm(f)) - 1.0) <= 1e-14
    assert float(theta @ f) > 0
