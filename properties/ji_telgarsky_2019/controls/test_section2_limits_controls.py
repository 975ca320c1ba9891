"""Negative controls for the limit statements: each check must fail on a broken run.

The checks of :mod:`properties.ji_telgarsky_2019.claims.section2_limits` pass on every honest long
run
(``properties/ji_telgarsky_2019/test_section2_limits.py``).  Here each is shown failing on a
planted bug
or a violated assumption:

* a wrong ubar (a separating, non-optimal direction) breaks S-T2;
* a loss derivative clamped from below (every point pulls equally at large
  margins, so the implicit bias is lost) breaks S-T2 and S-FIG1a;
* forgotten weight decay keeps the norms bounded: S-T1 and S-FIG1b fail;
* A2 violated (S-A2b, ``w1 = -w2``) breaks S-T1 and S-L1, under flow and GD;
* non-separable data: the path runs into a critical point, the risk stays
  away from 0, and S-T1 fails.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from invariants.core import limits
from invariants.core import network as net
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.dynamics import flow
from invariants.errors import CriticalPointError, TrajectoryError
from properties.ji_telgarsky_2019.claims import section2_limits
from properties.ji_telgarsky_2019.claims.appendix_a import a2b_flow, a2b_gd

pytestmark = pytest.mark.meta


@pytest.fixture(scope="module")
def fig1():
    """The honest Fig. 1 problem: data, max margin, a depth-1 and a depth-3 run."""
    data = section2_limits.figure1_data()
    mm = max_margin(data)
    rng = np.random.default_rng(3)
    deep0 = [0.5 * rng.normal(size=s) for s in [(3, 2), (3, 3), (1, 3)]]
    if not net.satisfies_a2(tuple(deep0), data.z, LOGISTIC):
        deep0[-1] = -deep0[-1]
    shallow = section2_limits.long_flow(data.z, [np.zeros((1, 2))], LOGISTIC)
    deep = section2_limits.long_flow(data.z, deep0, LOGISTIC)
    return data, mm, shallow, deep, deep0


def test_honest_runs_pass(fig1):
    """The controls mean something only if the unbroken runs pass every limit check."""
    _data, mm, shallow, deep, _ = fig1
    for tr in (shallow, deep):
        section2_limits.check_s_t1(tr)
        section2_limits.check_s_t2(tr, mm)
        section2_limits.check_s_fig1b(tr)
        section2_limits.check_s_l1(tr, mm)
    section2_limits.check_s_fig1a(shallow, deep, mm.ubar)


def test_s_t2_fails_on_a_non_optimal_separator(fig1):
    """S-T2: measured against a separating but non-max-margin direction, the sine plateaus."""
    data, mm, _shallow, deep, _ = fig1
    rot = 0.05  # radians: still separating (every margin stays positive), not optimal
    c, s = np.cos(rot), np.sin(rot)
    wrong = np.array([c * mm.ubar[0] - s * mm.ubar[1], s * mm.ubar[0] + c * mm.ubar[1]])
    assert np.min(data.z @ wrong) > 0
    bad = dataclasses.replace(mm, ubar=wrong)
    with pytest.raises(AssertionError, match="S-T2"):
        section2_limits.check_s_t2(deep, bad)


def _clamped_derivative(loss):
    """Plant: ``|loss'|`` clamped from below at 1e-8 "to avoid underflow".

    Once every margin is large, every point then pulls with the same weight,
    so the flow heads for the mean of the z_i instead of ubar: the implicit
    bias is gone.  (The loss values are untouched, so the S-EQ1 guard would
    object; the control runs with guards off to reach the check.)
    """
    floor = np.log(1e-8)
    return dataclasses.replace(
        loss, log_neg_d1_fn=lambda m: np.maximum(loss.log_neg_d1_fn(m), floor)
    )


def test_s_t2_and_s_fig1a_fail_on_a_clamped_loss_derivative(fig1):
    """S-T2, S-FIG1a: a depth-1 flow with a clamped loss derivative converges elsewhere."""
    data, mm, _shallow, deep, _ = fig1
    biased = _broken_run(
        data.z,
        [np.zeros((1, 2))],
        _clamped_derivative(LOGISTIC),
        max_frobenius=np.inf,
        max_wprod=1e10,
        ds=0.1,
    )
    assert np.linalg.norm(limits.wprod_path([biased.final.weights])) > 1e3
    with pytest.raises(AssertionError, match="S-T2"):
        section2_limits.check_s_t2(biased, mm)
    with pytest.raises(AssertionError, match="S-FIG1a"):
        section2_limits.check_s_fig1a(biased, deep, mm.ubar)


def _weight_decay(monkeypatch, lam: float) -> None:
    """Plant: the gradient carries a forgotten L2 penalty ``lam W_k`` (weight decay)."""
    real = net.layer_gradients

    def buggy(weights, z, loss):
        g = real(weights, z, loss)
        k = np.exp(-g.log_scale)
        layers = tuple(G + lam * k * W for G, W in zip(g.layers, weights, strict=True))
        sq = sum(float(np.vdot(G, G)) for G in layers)
        return net.ScaledGradient(g.log_scale, g.g, layers, g.log_scale + 0.5 * np.log(sq))

    monkeypatch.setattr(net, "layer_gradients", buggy)


def _broken_run(z, weights, loss, **kw) -> flow.Trajectory:
    """Run a broken flow; if it stops on a guard or a critical point, keep the partial path."""
    try:
        return flow.gradient_flow(z, weights, loss, enforce_guards=False, **kw)
    except TrajectoryError as exc:
        assert exc.partial is not None
        return exc.partial


def test_s_t1_and_s_fig1b_fail_with_weight_decay(fig1, monkeypatch):
    """S-T1, S-FIG1b: with weight decay the norms stay bounded and the risk stays positive."""
    data, _mm, _shallow, _deep, deep0 = fig1
    _weight_decay(monkeypatch, 1e-2)
    tr = _broken_run(
        data.z, deep0, LOGISTIC, max_frobenius=np.inf, max_wprod=1e12, ds=0.1, s_max=30.0
    )
    with pytest.raises(AssertionError, match="S-T1"):
        section2_limits.check_s_t1(tr)
    with pytest.raises(AssertionError, match="S-FIG1b"):
        section2_limits.check_s_fig1b(tr)


def test_s_t1_and_s_l1_fail_when_a2_fails_flow():
    """S-T1, S-L1: the S-A2b flow (A2 violated) never lowers the risk below R(0) = 1."""
    tr = a2b_flow(0.7)
    with pytest.raises(AssertionError, match="S-T1"):
        section2_limits.check_s_t1(tr)
    mm = max_margin(np.array([[1.0]]))
    with pytest.raises(AssertionError, match="S-L1"):
        section2_limits.check_s_l1(tr, mm)


def test_s_t1_reach_fails_when_a2_fails_gd():
    """S-T1 (its risk and reach parts, as used for GD): S-A2b under GD keeps log R >= 0."""
    tr = a2b_gd(0.7, 0.1, 500)
    wp = limits.wprod_path(tr.weights)
    with pytest.raises(AssertionError, match="S-T1"):
        section2_limits.check_reach(float(tr.log_risk[-1]), float(np.linalg.norm(wp[-1])))


def test_non_separable_data_stop_at_a_critical_point():
    """S-T1: on non-separable data the flow runs into the minimiser; the risk stays above 0."""
    # z_1 = 1, z_2 = -0.5: no w separates both; R(w) = (exp(-w) + exp(w/2))/2 is
    # smallest at w* = ln(2)/1.5 = 0.46, where R = 0.94.  A2 holds at w = 0.3.
    z = np.array([[1.0], [-0.5]])
    with pytest.raises(CriticalPointError) as info:
        flow.gradient_flow(z, [np.array([[0.3]])], EXPONENTIAL, max_frobenius=1e3)
    partial = info.value.partial
    assert partial is not None and len(partial.checkpoints) >= 1
    with pytest.raises(AssertionError, match="S-T1"):
        section2_limits.check_s_t1(partial)
