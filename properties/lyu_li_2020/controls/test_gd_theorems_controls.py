"""Negative controls of the gradient-descent stem: each check fails on a planted bug.

One small fixed problem (depth 2, a start past t0 with ``u0 = 3``); every control runs the
check the property runs, on a run or a trace with one bug, and asserts that it raises.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from invariants.core import smoothed_gd as sgd
from invariants.dynamics import gd_scaled
from properties.lyu_li_2020.claims import gd_theorems

pytestmark = pytest.mark.meta

STEPS = 60


def _problem(depth: int = 2, u0: float = 3.0):
    rng = np.random.default_rng(7)
    direction = np.array([1.0, 0.0, 0.0])
    z = np.column_stack([rng.uniform(0.2, 1.0, 6), rng.normal(0, 0.5, (6, 2))])
    dims = [3, *([3] * (depth - 1)), 1]
    W0 = gd_scaled.start_past_t0(z, direction, dims, rng, tilt=0.8, noise=0.3, u0=u0)
    ref = gd_theorems.reference_at(z, W0)
    return z, W0, ref


@pytest.fixture(scope="module")
def honest():
    z, W0, ref = _problem()
    return gd_theorems.ghat_trace(
        gd_scaled.scaled_gradient_descent(z, W0, STEPS, lambda u, _t: ref.log_step_bound(u))
    )


@pytest.fixture(scope="module")
def too_large():
    """S5 violated: a constant step ``eta = 1e4 H^D(Lsum(t0))`` (also LL-NEG's S5 case)."""
    z, W0, ref = _problem()
    log_eta = math.log(1e4) + ref.log_step_bound(ref.u0)
    return gd_theorems.ghat_trace(
        gd_scaled.scaled_gradient_descent(z, W0, STEPS, lambda _u, _t: log_eta)
    )


def test_honest_run_passes(honest):
    """LL-T4.2, LL-LE.1, LL-LE.7, LL-EQ6: the controls' problem passes every check unplanted."""
    assert all(s.exercised for s in gd_theorems.check_all(honest))


def test_step_far_above_h_breaks_t4_2(too_large):
    """LL-T4.2 (and LL-NEG, S5): a step 1e4 times H^D lets ghat or the loss rise."""
    with pytest.raises(AssertionError, match=r"LL-T4\.2"):
        gd_theorems.check_ll_t4_2(too_large)


def test_step_far_above_h_breaks_le_7(too_large):
    """LL-LE.7: the same step breaks (P1)-(P4) (the derived smoothness bound of (P3) first)."""
    with pytest.raises(AssertionError, match=r"LL-LE\.7"):
        gd_theorems.check_ll_le_7(too_large)


def test_step_far_above_h_breaks_strict_form(too_large):
    """LL-T4.2 (2): the quantitative strict increase fails above H^D."""
    with pytest.raises(AssertionError, match=r"LL-T4\.2"):
        gd_theorems.check_ll_t4_2_strict(too_large)


def _replant(tr: gd_theorems.GhatTrace, sign: float) -> gd_theorems.GhatTrace:
    """Rebuild ``log ghat`` with phi's integral of sign ``sign`` (-1 is right: ``log u -
    u0/u``)."""
    log_g = np.array(
        [math.log(s.u) + sign * tr.ref.u0 / s.u - tr.ref.order * s.log_rho for s in tr.states]
    )
    return dataclasses.replace(tr, log_ghat=log_g)


def test_wrong_sign_of_phis_integral_breaks_le_1(honest, monkeypatch):
    """LL-LE.1: phi with the integral's sign flipped (``log u + u0/u``) puts ghat above gtil
    and disagrees with phi's definition."""
    monkeypatch.setattr(sgd, "phi", lambda u, u0, lam=0.0: math.log(u) + (1 + lam) * u0 / u)
    with pytest.raises(AssertionError, match=r"LL-LE\.1"):
        gd_theorems.check_ll_le_1(honest)


def test_wrong_sign_of_phis_integral_breaks_t4_2(honest):
    """LL-T4.2: with ``phi = log u + u0/u`` the planted ghat falls along the honest run."""
    with pytest.raises(AssertionError, match=r"LL-T4\.2"):
        gd_theorems.check_ll_t4_2(_replant(honest, +1.0))


def test_broken_euler_breaks_eq6(honest):
    """LL-EQ6: a gradient with one coordinate off by 1% breaks <theta, -g> = p nu/Lsum."""
    bad = honest.euler * 1.01
    with pytest.raises(AssertionError, match=r"LL-EQ6"):
        gd_theorems.check_ll_eq6_gd(dataclasses.replace(honest, euler=bad))


def test_dropped_descent_breaks_le_7_p3(honest):
    """LL-LE.7 (P3): a step that never moved (theta(t+1) = theta(t) recorded with the honest
    step sizes) promises a fall of the loss that did not happen."""
    run = honest.run
    frozen = dataclasses.replace(run, theta=np.repeat(run.theta[:1], run.theta.shape[0], axis=0))
    frozen = dataclasses.replace(frozen, gradient=np.repeat(run.gradient[:1], run.steps, axis=0))
    with pytest.raises(AssertionError, match=r"LL-LE\.7"):
        gd_theorems.check_ll_le_7(gd_theorems.ghat_trace(frozen))


# --- certified verdicts (ball arithmetic) --------------------------------------------------

#: The fraction of H^D of the tiny steps below: the float iterate then moves by a few ulps
#: per step (measured: 4.7e-15 per coordinate on this problem), so the planted ``log ghat``
#: falls by ~1e-15 per step (float: 0.9e-15 to 1.3e-15; in balls 1.0e-15 at every sampled
#: step) against the float check's rounding allowance of 4.5e-13, while the balls' radii
#: stay below 1e-35.
TINY_FRACTION = 1e-12


@pytest.fixture(scope="module")
def tiny_steps():
    z, W0, ref = _problem()
    log_f = math.log(TINY_FRACTION)
    return gd_theorems.ghat_trace(
        gd_scaled.scaled_gradient_descent(z, W0, 8, lambda u, _t: log_f + ref.log_step_bound(u))
    )


def test_honest_certificates_are_true(honest):
    """LL-T4.2, LL-LE.1: on the honest run every sampled step is proved in balls."""
    certs = gd_theorems.certify_trace(honest)
    assert certs["LL-T4.2"].decided is True and certs["LL-LE.1"].decided is True
    assert certs["LL-T4.2"].points >= 5


def test_wrong_sign_of_phi_passes_the_float_check_at_tiny_steps(tiny_steps, monkeypatch):
    """LL-T4.2 (1): with phi's integral of the wrong sign (``log ghat = log u + u0/u - p log
    rho``) the planted ghat falls in exact arithmetic at t0 (``u = u0`` there, so its change
    is ``-p Delta log rho < 0``), but at steps of 1e-15 H^D the fall is below the float
    check's rounding allowance: the float check passes, ball arithmetic decides the planted
    form FALSE at the sampled steps (and the true form TRUE), and the consistency
    requirement fails."""
    from invariants.certify import smoothed

    planted = _replant(tiny_steps, +1.0)
    assert np.any(tiny_steps.run.theta[1] != tiny_steps.run.theta[0])  # the run moved
    gd_theorems.check_ll_t4_2(planted)  # the float check misses the planted sign ...
    assert gd_theorems.certify_trace(tiny_steps)["LL-T4.2"].decided is True
    true_form = smoothed.log_smoothed

    def wrong(point, u0, order):
        return true_form(point, -u0, order)

    monkeypatch.setattr(smoothed, "log_smoothed", wrong)
    allow = gd_theorems.step_allowance(tiny_steps)
    for t in gd_theorems.certified_steps(tiny_steps):
        cert = gd_theorems.certify_step(tiny_steps, t)["LL-T4.2"]
        assert cert.decided is False, (t, cert)  # ... which balls refute at every step
        assert -cert.lower < allow[t]  # by less than the float allowance
    with pytest.raises(AssertionError, match=r"LL-T4\.2: the float check held"):
        gd_theorems.certify_trace(tiny_steps)


def test_mean_risk_in_place_of_the_sum_is_decided_false(honest, monkeypatch):
    """LL-LE.1: ``u`` read from the mean risk ``Lsum/n`` (``u + log n``) puts gtil above gbar
    (``u + log n > q_min`` unless every margin is equal): FALSE in balls at the sampled
    steps, and the certified check fails."""
    import dataclasses as dc

    from flint import arb

    from invariants.certify import smoothed

    true_point = smoothed.exp_point

    def mean(layers, data):
        pt = true_point(layers, data)
        log_n = arb(data.n).log()
        return dc.replace(pt, gap=pt.gap - log_n, u=pt.u + log_n)

    monkeypatch.setattr(smoothed, "exp_point", mean)
    cert = gd_theorems.certify_step(honest, honest.t0)["LL-LE.1"]
    assert cert.decided is False, cert
    with pytest.raises(AssertionError, match=r"LL-LE\.1: the float check held"):
        gd_theorems.certify_trace(honest)
