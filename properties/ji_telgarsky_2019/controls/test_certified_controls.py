"""Negative controls of the certified verdicts
(``properties/ji_telgarsky_2019/claims/certified.py``).

(a) Planted bugs the float checks miss *only through their rounding allowance*: the
    violation is real in exact arithmetic but smaller than what float64 can resolve, so
    the float check passes; ball arithmetic, with radii ~1e-38, decides it FALSE.
(b) Planted wrong constants, far from any allowance, decided FALSE.

Why the planted bugs are *statements* and not bugs in the dynamics: a certificate is
about the exact step from the float iterate, with its own gradient in balls, so a bug in
the float gradient changes which iterates are visited but leaves every certificate at
them TRUE.  What certification adds is the removal of the allowance: a statement false
by less than the allowance passes the float check and fails the certified one.
"""

from __future__ import annotations

import numpy as np
import pytest

from invariants.certify import balls, steps
from invariants.core.losses import LOGISTIC
from invariants.dynamics import gd
from properties.ji_telgarsky_2019.claims import certified, section3_gd
from properties.ji_telgarsky_2019.problems import a2_equal_frobenius_init, small_data

pytestmark = pytest.mark.meta

#: The tiny constant step of the runs of control (a): small enough that the second-order
#: terms of a step (``~ eta^2 ||g||^2 ~ 1.6e-16``) fall under the float checks' rounding
#: allowances (measured on this run: the risk's 8.6e-15 per iterate, the Gram identity's
#: 2.8e-14), yet are ~1e20 times the balls' radii.  At 1e-7 the printed S-EQ29 residual
#: (2.4e-14 after 8 steps) was within 15% of its allowance: too close to be a fixed control.
TINY_STEP = 3e-8


@pytest.fixture(scope="module")
def data():
    return small_data(seed=7)


@pytest.fixture(scope="module")
def tiny_step_run(data):
    """A depth-3 run with the constant step :data:`TINY_STEP` (8 steps)."""
    W0 = a2_equal_frobenius_init(data.z, [4, 3], seed=8, norm=1.5)
    return gd.gradient_descent(data.z, W0, LOGISTIC, 8, rule="fixed", eta=TINY_STEP)


@pytest.fixture(scope="module")
def a5_run(data):
    """A depth-3 A5 run (200 steps) from a start of norm 1.5."""
    W0 = a2_equal_frobenius_init(data.z, [4, 3], seed=8, norm=1.5)
    return gd.gradient_descent(data.z, W0, LOGISTIC, 200)


def test_printed_balancedness_signs_pass_the_float_check_at_a_tiny_step(tiny_step_run):
    """S-EQ29 / S-ERR: the printed signs (``+P_k - Q_{k+1}``) differ from the derived ones by
    ``2 (Q_{k+1} - P_k)``: after 8 steps of size 3e-8 the float residual of the printed form
    is 2.3e-15 against a rounding bound of 2.8e-14, so its float check passes; the
    certified one-step residual (1.3e-16, radius < 1e-30) excludes 0 at the first step:
    FALSE (the derived form stays TRUE)."""
    res_p, allowed = section3_gd.eq29_residuals(tiny_step_run, printed=True)
    assert np.all(res_p <= allowed)  # the float check misses the wrong signs ...
    assert np.max(res_p) > 0  # ... which are there, below the allowance
    step = steps.gd_step(tiny_step_run.weights[0], tiny_step_run.z, LOGISTIC, TINY_STEP)
    printed = balls.zero(steps.balancedness_residual(step, 0, sign=-1.0))
    derived = balls.zero(steps.balancedness_residual(step, 0))
    assert printed.decided is False
    assert derived.decided is True and derived.upper < 1e-30
    with pytest.raises(AssertionError, match="S-EQ29"):
        certified.require_consistent("S-EQ29", printed)


def test_first_order_descent_passes_the_float_check_at_a_tiny_step(tiny_step_run):
    """S-EQ4 with the constant 1 in place of 1/2: ``R(W') <= R(W) - eta ||g||^2`` is false
    in exact arithmetic by the step's second-order term (the loss is strictly convex along
    the step), by 1.2e-17 here against S-EQ4's allowance of 1.7e-14: the float comparison
    passes every step; ball arithmetic decides it FALSE at every sampled step and the true
    form TRUE."""
    tr = tiny_step_run
    R = np.exp(tr.log_risk)
    tol = section3_gd.risk_rounding(tr)
    excess = (R[1:] - R[:-1]) + 1.0 * tr.eta * tr.grad_norm**2 - (tol[1:] + tol[:-1])
    assert np.all(excess <= 0)  # the float check with constant 1 passes
    for t in steps.sample_steps(tr.steps):
        step = steps.gd_step(tr.weights[t], tr.z, LOGISTIC, float(tr.eta[t]))
        wrong = balls.nonnegative(steps.descent_margin(step, factor=1.0))
        right = balls.nonnegative(steps.descent_margin(step))
        assert wrong.decided is False, (t, wrong)
        assert -wrong.lower < float(tol[t])  # the violation is below the float allowance
        assert right.decided is True


def test_descent_with_a_doubled_step_constant_is_decided_false(a5_run):
    """S-EQ4 with ``2 eta`` in place of ``eta / 2`` (a promised decrease four times what a
    step can give): FALSE at every sampled step of an A5 run; the true form TRUE."""
    for t in steps.sample_steps(a5_run.steps):
        step = steps.gd_step(a5_run.weights[t], a5_run.z, LOGISTIC, float(a5_run.eta[t]))
        assert balls.nonnegative(steps.descent_margin(step, factor=2.0)).decided is False
    assert certified.certify_gd_run(a5_run)["S-EQ4"].decided is True


def test_norms_that_never_grow_are_decided_false(a5_run):
    """S-EQ27 with the bound 0 in place of 1 (no layer's norm grows in a step): FALSE at
    some sampled step of a run whose norms grow; the true bound TRUE."""
    verdicts = []
    for t in steps.sample_steps(a5_run.steps):
        step = steps.gd_step(a5_run.weights[t], a5_run.z, LOGISTIC, float(a5_run.eta[t]))
        margins = steps.norm_growth_margins(step, bound=0.0)
        verdicts.append(balls.combine([balls.nonnegative(m) for m in margins]).decided)
    assert False in verdicts
    assert certified.certify_gd_run(a5_run)["S-EQ27"].decided is True


def test_a_smoothness_constant_with_exponent_l_minus_1_is_decided_false():
    """S-L5 with ``R^(L-1)`` in place of ``R^(2L-2)``: on a scalar chain at margin 0 with every
    layer on the boundary (L = 6, R = 4) the planted constant is short by ``R^(L-1) = 1024``
    against the true constant's slack of ~360: FALSE; the true constant TRUE."""
    L, R, delta = 6, 4.0, 1e-4
    z = np.array([[1.0, 0.0]])  # one unit point; W_1 is orthogonal to it: margin 0
    W = (np.array([[0.0, R]]), *(np.array([[R]]) for _ in range(L - 1)))
    V = (np.array([[delta * R, R]]) / np.hypot(delta, 1.0), *W[1:])
    assert gd.in_ball(W, R) and gd.in_ball(V, R)
    true = certified.certify_s_l5(z, W, V, LOGISTIC, R)
    assert true.decided is True
    planted = steps.smoothness_constant(R, L, LOGISTIC) / (4.0 ** (L - 1))
    wrong = balls.nonnegative(steps.lipschitz_margin(W, V, z, LOGISTIC, planted))
    assert wrong.decided is False
