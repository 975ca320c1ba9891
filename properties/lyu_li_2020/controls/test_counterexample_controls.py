"""Controls of the counterexample stem: each check fails on a planted bug, and each LL-NEG
predicate says no when its assumption is restored."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from invariants.core import mexican_hat as mh
from invariants.core.homogeneous import linear_network_margins, smoothed_min_margin
from invariants.core.losses import EXPONENTIAL
from properties.lyu_li_2020.claims import counterexample

pytestmark = pytest.mark.meta

PROBLEM = counterexample.HatProblem(0.5, 3, 2, 3, 3.0, 30.0)

#: Two points, both on the positive side of u = e_1 (margins 0.5 and 0.3).
Z = np.array([[0.5, 0.2], [0.3, -0.4]])
U = np.array([1.0, 0.0])


def test_ti1_fails_when_the_hat_has_no_sin_term():
    """LL-TI.1: the hat without its sin term is radially symmetric: the direction goes
    straight to the equator and stops (converges), so the winding check fails."""
    planted = dataclasses.replace(PROBLEM, sin_term=False)
    run = counterexample.run_hat(planted)
    with pytest.raises(AssertionError, match="direction converges"):
        counterexample.check_ll_ti_1(run, planted)


def test_ti1_fails_when_the_margin_falls():
    """LL-TI.1: a run played backwards (the hat climbed: log f rises) fails the margin check."""
    run = counterexample.run_hat(PROBLEM)
    backwards = dataclasses.replace(run, a=run.a[::-1], chi=run.chi[::-1])
    with pytest.raises(AssertionError, match="log f rose"):
        counterexample.check_ll_ti_1(backwards, PROBLEM)


def test_err6_fails_for_the_planar_flow():
    """LL-ERR (item 6): for Absil's planar flow (no factor 1 - r^2) the roles swap -- k = 4
    keeps psi = 0 and k = 3 drifts -- so the sphere's verdict fails there."""
    with pytest.raises(AssertionError, match="k = 3 drifts"):
        counterexample.check_ll_err_6(sphere=False)
    assert all(
        counterexample.psi_drift(r2, 4, sphere=False) == 0 for r2 in counterexample.SAMPLE_R2
    )


def test_err1_fails_when_the_gap_is_taken_from_the_largest_margin():
    """LL-ERR (items 1-2): a planted sandwich that measures from the largest margin,
    ``q_max - Q``, exceeds ``log n`` once the margins spread: the check fails."""
    model = linear_network_margins([np.array([[3.0, 0.0]]), np.array([[3.0]])], Z)
    counterexample.check_ll_err_1(model, EXPONENTIAL)  # the real gap passes

    def from_max(q: np.ndarray, loss) -> float:
        return float(np.max(q)) - smoothed_min_margin(q, loss)

    with pytest.raises(AssertionError, match="LL-ERR 1"):
        counterexample.check_ll_err_1(model, EXPONENTIAL, gap_fn=from_max)


def test_err3_fails_before_the_threshold():
    """LL-ERR (item 3): the rate form needs t0 (it is the smoothed margin's monotonicity);
    three points classified
    with margin 1 have ``Lsum = 3/e > 1`` (A4 violated): ``log(1/Lsum) < 0`` flips the
    derived bound's sign while ``d log rho/dt > 0``, and the check fails."""
    z = np.array([[0.5, 0.2], [0.5, -0.3], [0.5, 0.0]])
    model = linear_network_margins([np.array([[np.sqrt(2.0), 0.0]]), np.array([[np.sqrt(2.0)]])], z)
    with pytest.raises(AssertionError, match="LL-ERR 3"):
        counterexample.check_ll_err_3(model, EXPONENTIAL)


def test_neg_a4_predicate_says_no_past_the_threshold():
    """LL-NEG (not A4): every point classified and ``Lsum < 1``: gtil > 0, the predicate says no."""
    bad = linear_network_margins([np.array([[-1.0, 0.0]]), np.array([[1.0]])], Z)
    good = linear_network_margins([np.array([[3.0, 0.0]]), np.array([[3.0]])], Z)
    assert counterexample.a4_gtil_nonpositive(bad, EXPONENTIAL)
    assert not counterexample.a4_gtil_nonpositive(good, EXPONENTIAL)


def test_neg_a2_predicate_says_no_without_bias():
    """LL-NEG (not A2): the same network with bias 0 (homogeneous): Euler and eq. 6 hold."""
    W = [np.array([[1.0, 0.3]]), np.array([[1.2]])]
    x, y = Z, np.ones(2)
    assert counterexample.a2_breaks_euler(
        counterexample.biased_linear_margins(W, 0.4, x, y), EXPONENTIAL
    )
    assert not counterexample.a2_breaks_euler(
        counterexample.biased_linear_margins(W, 0.0, x, y), EXPONENTIAL
    )


def test_neg_s5_predicate_says_no_for_a_small_step():
    """LL-NEG (not S5): from the same start past t0, a small step (below H) never lets Lsum
    rise nor gtil fall (two points at an obtuse angle, the start tilted towards one)."""
    z = np.array([[0.2, 0.6], [0.2, -0.6]])
    W0 = [3.0 * np.array([[1.0, 0.3]]), np.array([[3.0]])]
    assert counterexample.s5_first_rise(z, W0, 10.0, 30) == (0, "Lsum")
    assert counterexample.s5_first_rise(z, W0, 1e-3, 30) is None


def test_neg_gbar_predicate_says_no_for_one_point():
    """LL-NEG (gbar not monotone): with one point gbar = gtil, so gbar cannot fall while
    gtil rises: the predicate says no."""
    z = Z[:1]
    assert counterexample.gbar_falls_while_gtil_rises(z, [np.array([[2.0, 1.0]])], 0.1, 200) is None


def test_ti1_reduction_fails_for_the_planar_field():
    """LL-TI.1: Absil's planar field (the radial speed without the factor 1 - r^2) is not
    the tangential gradient of h: the reduction check fails on it."""

    def planar(a: float, psi: float, k: int) -> mh.SphereRates:
        r = mh.radius_of(a)
        fr, fphi = mh.scaled_polar_gradient(a, psi, k)
        dphi = -fphi / (r * r)
        da = 2.0 * r * a * a * (-fr)
        return mh.SphereRates(da=da, dpsi=dphi - da, dphi=dphi, speed=1.0)

    counterexample.check_ll_ti_1_reduction(1.6, 0.3, 3, 2)  # the sphere's field passes
    with pytest.raises(AssertionError, match="reduced field misses"):
        counterexample.check_ll_ti_1_reduction(1.6, 0.3, 3, 2, rates_fn=planar)
