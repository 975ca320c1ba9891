"""Appendix A: A2 from a zero first layer (S-A2a) and A2 is needed (S-A2b).

S-A2b is also the suite's negative control for S-T1: on the ``w1 = -w2``
counterexample the same checks that pass on every A2 run must fail
(``properties/controls/test_section2_limits_controls.py``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import network as net
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from properties.claims.appendix_a import (
    a2b_flow,
    a2b_gd,
    check_s_a2a,
    check_s_a2b_flow,
    check_s_a2b_gd,
)


@given(data=st.data())
def test_s_a2a_zero_first_layer_satisfies_a2(data, record_slack):
    """S-A2a: ``W_1(0) = 0`` with ``W_L(0)...W_2(0) != 0`` satisfies A2, with a quantitative margin.

    The checks and their rounding allowance: :func:`check_s_a2a`.
    """
    drawn = data.draw(strategies.datasets(n=(1, 30), d=(1, 6)), label="data")
    loss = data.draw(strategies.losses(), label="loss")
    widths = data.draw(
        strategies.architectures(drawn.d, depth=(2, 5), width=(1, 6)), label="hidden widths"
    )
    seed = data.draw(strategies.seeds(), label="layer seed")
    rng = np.random.default_rng(seed)
    shapes = net.layer_shapes(drawn.d, widths)
    rest = [rng.standard_normal(s) for s in shapes[1:]]
    a = net.suffix_vectors((np.zeros(shapes[0]), *rest))[0]
    if not np.linalg.norm(a) > 0:  # the hypothesis of S-A2a: W_L ... W_2 != 0
        rest[-1] = np.abs(rest[-1]) + 1.0
        rest[:-1] = [np.eye(*s) + 0.0 for s in shapes[1:-1]]
    weights = (np.zeros(shapes[0]), *rest)
    gamma = max_margin(drawn.data).gamma
    record_slack(check_s_a2a(weights, drawn.data.z, loss, gamma))


@pytest.mark.meta
def test_s_a2a_controls_each_hypothesis_is_needed():
    """S-A2a controls: drop either hypothesis and the check fails.

    * ``W_L...W_2 = 0`` (two zero layers; the statement requires ``!= 0``):
      every ``dR/dW_k`` has a zero factor, the gradient vanishes, A2 fails.
    * Data whose mean is 0 (``z`` and ``-z``: not separable, so no gamma > 0
      exists; gamma is passed as the value a separable set would need):
      ``grad R(0) = loss'(0) mean z = 0`` and A2 fails although
      ``W_L...W_2 != 0``.
    """
    z = np.array([[0.6, 0.2], [0.5, -0.3], [0.4, 0.4]])  # separable: <(1, 0), z_i> >= 0.4
    rng = np.random.default_rng(0)
    ok = (np.zeros((3, 2)), rng.standard_normal((2, 3)), np.array([[1.0, -0.5]]))
    for loss in (EXPONENTIAL, LOGISTIC):
        gamma = max_margin(z).gamma
        check_s_a2a(ok, z, loss, gamma)  # the control's baseline: the statement holds here
        zero_product = (ok[0], np.zeros((2, 3)), ok[2])
        with pytest.raises(AssertionError, match="S-A2a"):
            check_s_a2a(zero_product, z, loss, gamma)
        mirrored = np.vstack([z, -z])
        with pytest.raises(AssertionError, match="S-A2a"):
            check_s_a2a(ok, mirrored, loss, gamma)


# --- S-A2b ---------------------------------------------------------------------------------


@st.composite
def _a2b_start(draw) -> tuple[float, float]:
    """``(c, eta)`` with ``eta R(W(0)) = eta exp(c^2) <= 1/2``: each step shrinks |w|.

    With ``eta R > 2`` GD on this problem diverges (``|1 - eta R| > 1``), which
    is a step-size failure, not the statement.
    """
    c = draw(st.floats(0.05, 1.5) | st.floats(-1.5, -0.05), label="c = w1(0) = -w2(0)")
    eta = draw(st.floats(1e-3, 0.5 * math.exp(-c * c)), label="eta")
    return c, eta


@given(start=_a2b_start())
def test_s_a2b_gd_never_lowers_the_risk_below_one(start, record_slack):
    """S-A2b (GD): ``w1 = -w2`` is kept exactly and ``R >= 1`` at every step.

    One GD step maps ``(w, -w)`` to ``((1 - eta R) w, -(1 - eta R) w)``: the
    two coordinates are computed by the same operations up to sign, so the
    symmetry holds bit for bit and ``log R = w^2 >= 0`` exactly.
    """
    c, eta = start
    record_slack(check_s_a2b_gd(a2b_gd(c, eta, 300)))


@pytest.mark.parametrize("c", [0.3, 0.7, -1.2])
def test_s_a2b_flow_heads_to_the_saddle(c, record_slack):
    """S-A2b (flow): the path stays on ``w1 = -w2``, follows the closed form and keeps ``R >= 1``.

    Closed form (lognorm clock): ``||W(s)|| = sinh(s* - s)`` (see
    :func:`a2b_saddle_clock`).  The computed path may deviate by its own
    accumulated local-error bound ``Checkpoint.local_error`` plus the final
    rounding; ``w1 + w2`` is held to the same bound, and ``log R = -w1 w2``
    must be ``>= 0`` up to its rounding (a few eps of ``w^2``).
    """
    record_slack(check_s_a2b_flow(a2b_flow(c), c))
