"""Unit properties of :mod:`invariants.certify`: exact balls, the network in balls, the verdicts.

The balls must contain the exact values; the float library's results must lie within
their own derived rounding allowances of those balls (the float allowances are tested
here against an enclosure, not against another float computation); a known-true and a
known-false inequality about floats are decided correctly; and the far regime
(``exp(-1e12)``) is an ordinary ball.
"""

from __future__ import annotations

import numpy as np
import pytest
from flint import arb
from hypothesis import given, settings
from hypothesis import strategies as st

from invariants.certify import balls, geometry, spectral, steps
from invariants.certify import network as bn
from invariants.core import network as net
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin, perp
from invariants.core.rounding import EPS
from invariants.core.theta import theta, theta_forward_tolerance
from invariants.dynamics import flow, gd
from invariants.report.records import SlackRecorder, TestRecord
from invariants.report.statement_table import statement_rows, statement_status
from invariants.report.summary import certified_cell
from invariants.statements import Slack
from properties.ji_telgarsky_2019.claims import certified, section2_flow, section3_gd
from properties.ji_telgarsky_2019.claims.section3_smoothness import full_gradient, l5_rounding
from properties.ji_telgarsky_2019.problems import a2_equal_frobenius_init, small_data


@pytest.fixture(scope="module")
def run():
    """A small honest A5 run (depth 3, logistic), shared by the tests below."""
    data = small_data(seed=5)
    W0 = a2_equal_frobenius_init(data.z, [4, 3], seed=6, norm=1.2)
    return gd.gradient_descent(data.z, W0, LOGISTIC, 60)


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_a_float_is_an_exact_ball(x):
    """Every finite float64 becomes a ball of radius 0 whose midpoint is the float."""
    b = balls.ball_matrix(np.array([[x]])).entries()[0]
    assert b.rad() == 0
    assert b.mid() == arb(x)
    assert balls.lower(b) <= x <= balls.upper(b)


@settings(max_examples=30)
@given(
    st.lists(
        st.integers(-4, 4),
        min_size=12,
        max_size=12,
    )
)
def test_integer_networks_are_multiplied_exactly(values):
    """Small-integer layers: the float end-to-end vector is exact, and the ball equals it
    with radius 0 (the ball product of exact inputs is exact when no rounding is needed)."""
    v = np.array(values, dtype=float)
    W = (v[:6].reshape(2, 3), v[6:10].reshape(2, 2), v[10:12].reshape(1, 2))
    with balls.working_precision():
        w = bn.end_to_end(bn.ball_weights(W)).entries()
    exact = net.end_to_end(W)
    assert [x.rad() for x in w] == [0] * 3
    assert [float(x.mid()) for x in w] == exact.tolist()


def test_the_risk_and_gradient_balls_lie_within_the_float_allowances(run):
    """At every 10th iterate the float ``R(W(t))`` is within :func:`risk_rounding` of the
    ball, and the float gradient within :func:`l5_rounding` (both derived float bounds)."""
    tol = section3_gd.risk_rounding(run)
    zb = balls.ball_matrix(run.z)
    for t in range(0, run.steps + 1, 10):
        W = run.weights[t]
        with balls.working_precision():
            Wb = bn.ball_weights(W)
            r = bn.risk(Wb, zb, LOGISTIC)
            G = bn.layer_gradients(Wb, zb, LOGISTIC)
            g_float = net.unflatten(full_gradient(W, run.z, LOGISTIC), [M.shape for M in W])
            diff = bn.squared_norm(bn.difference(G, bn.ball_weights(g_float)))
        assert r.rad() < 1e-30 * float(r.mid())
        assert abs(float(r.mid()) - float(np.exp(run.log_risk[t]))) <= tol[t]
        radius = max(1.0, gd.max_frobenius(W))
        assert balls.upper(diff) <= l5_rounding(W, run.z, LOGISTIC, radius) ** 2


def _log_form_allowance(value: float) -> float:
    """The float log forms' error: a few roundings of their own size (``4 eps |value|``, the
    exponential's ``-m`` is exact) plus the logistic series' dropped ``t^2`` term (< 1e-26)
    and ``4 eps`` absolute for the ``log1p``/``log`` of an order-one argument."""
    return 4 * EPS * (abs(value) + 1.0) + 1e-26


@pytest.mark.parametrize("m", [1e12, -1e12, 0.0, 37.5])
def test_losses_in_the_far_regime_are_ordinary_balls(m):
    """``loss(1e12)``: ``exp(-1e12)`` underflows in float64 but is a positive ball here whose
    log encloses the float log-domain value (exact for the exponential loss, within the
    series' ``1e-26`` for the logistic); at ``m = -1e12`` the losses are huge, not inf."""
    with balls.working_precision():
        for loss in (EXPONENTIAL, LOGISTIC):
            v = bn.loss_value(loss, arb(m))
            assert v > 0
            log_float = float(loss.log_value(m))
            assert abs(v.log() - arb(log_float)) < _log_form_allowance(log_float)
            d1 = bn.loss_d1(loss, arb(m))
            assert d1 < 0
            log_d1 = float(loss.log_neg_d1(m))
            assert abs((-d1).log() - arb(log_d1)) < _log_form_allowance(log_d1)


def test_known_true_and_known_false_inequalities_are_decided():
    """The float 0.1 lies above 1/10 and the float 0.3 below 3/10 (their binary roundings):
    TRUE and FALSE with margins of ~5.6e-18 and ~-1.1e-17; a ball straddling 0 is undecided."""
    with balls.working_precision():
        above = balls.nonnegative(arb(0.1) - arb(1) / 10)
        below = balls.nonnegative(arb(0.3) - arb(3) / 10)
        straddle = balls.nonnegative(arb(0, 1e-3), "here")
    assert above.decided is True and 5e-18 < above.lower <= above.upper < 6e-18
    assert below.decided is False and -1.2e-17 < below.lower <= below.upper < -1.1e-17
    assert straddle.decided is None and straddle.witness == "here"
    assert not straddle.certified


def test_identities_and_combination():
    """An identity is TRUE when every residual ball contains 0, FALSE when one excludes it;
    combining: FALSE beats undecided beats TRUE, margins of the worst point, points summed."""
    with balls.working_precision():
        held = balls.zero([arb(0), arb(0, 1e-30)])
        broken = balls.zero([arb(0), arb(1e-20)], "pair 1")
        open_ = balls.nonnegative(arb(0, 1.0), "open")
        ok = balls.nonnegative(arb(2))
    assert held.decided is True and held.upper == pytest.approx(1e-30, rel=1e-6)
    assert broken.decided is False and broken.witness == "pair 1 entry 1"
    assert balls.combine([ok, held]).decided is True
    assert balls.combine([ok, open_]).decided is None
    both = balls.combine([ok, open_, broken])
    assert both.decided is False and both.witness == broken.witness and both.points == 3
    assert balls.combine([ok, open_]).lower == open_.lower


@given(st.integers(0, 3000), st.lists(st.integers(-5, 3005), max_size=3), st.integers(0, 6))
def test_sampled_steps_hold_the_first_last_and_worst(count, worst, between):
    """:func:`sample_steps`: first, last and every in-range worst index, at most
    ``between + 2 + len(worst)`` indices, all in range, sorted and distinct."""
    idx = steps.sample_steps(count, worst, between)
    if count == 0:
        assert idx == []
        return
    assert idx[0] == 0 and idx[-1] == count - 1
    assert all(w in idx for w in worst if 0 <= w < count)
    assert len(idx) <= between + 2 + len(worst)
    assert idx == sorted(set(idx)) and all(0 <= i < count for i in idx)


def test_every_sampled_step_of_an_honest_run_is_certified(run):
    """The certified GD verdicts of an honest A5 run are all TRUE, with positive margins for
    the inequalities and residual radii below 1e-30 for the identity."""
    certs = certified.certify_gd_run(run)
    assert set(certs) == set(certified.GD_STATEMENTS)
    for sid, c in certs.items():
        assert c.decided is True, (sid, c)
        assert c.points >= 3
        if sid == "S-EQ29":
            assert c.upper < 1e-30
        else:
            assert c.lower > 0


def test_the_report_counts_certified_examples_and_shows_the_worst_margin():
    """Recorder -> test entry -> statement row -> tables: 'k of n (m pts)' with the worst
    certified margin; a refuted certificate makes the statement *violated* with its witness;
    an undecided one counts in n, never in k."""
    rec = SlackRecorder()
    proved = balls.Certificate(True, 0.25, 0.26, 4)
    tighter = balls.Certificate(True, 0.01, 0.02, 3)
    open_ = balls.Certificate(None, -1e-3, 1e-3, 2, "step 7")
    for c in (proved, tighter, open_, None):
        rec(Slack("S-EQ4", 0.5, exercised=True, certificate=c))
    entry = TestRecord("t.py::test_x", "passed", 0.1, ["S-EQ4"], list(rec.worst.values()))
    rows, _ = statement_rows([entry.to_entry()])
    c = rows["S-EQ4"]["certified"]
    assert (c["examples"], c["proved"], c["undecided"], c["points"]) == (3, 2, 1, 9)
    assert c["worst_margin"] == 0.01 and c["witness"] == "step 7"
    assert certified_cell(rows["S-EQ4"]) == "2 of 3 (9 pts)"
    assert statement_status(rows["S-EQ4"], has_errata=False) == "held"
    rec(
        Slack(
            "S-EQ4", 0.5, exercised=True, certificate=balls.Certificate(False, -2.0, -1.0, 1, "s")
        )
    )
    entry = TestRecord("t.py::test_x", "passed", 0.1, ["S-EQ4"], list(rec.worst.values()))
    rows, _ = statement_rows([entry.to_entry()])
    assert rows["S-EQ4"]["certified"]["refuted"] == 1
    assert statement_status(rows["S-EQ4"], has_errata=False) == "violated"


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_the_max_margin_theta_and_the_sign_condition_are_enclosed(seed):
    """At the float data (simplex-path seeds of :func:`small_data`): the weak-duality
    enclosure holds the float gamma (its certificate promises 1e-12 relative), theta's
    ball holds the float theta within its forward tolerance, and the perpendicular
    gradient's sign at
    ``w = ubar + 1.5 K xi`` is proved; the same ``w`` with ``-ubar`` breaks a premise:
    undecided, not FALSE."""
    data = small_data(seed=seed, n=12, d=3 + seed % 3)
    mm = max_margin(data)
    th = theta(data.z, mm)
    assert th.method == "simplex"
    enc = geometry.max_margin_enclosure(data.z, mm.ubar, mm.dual)
    assert balls.lower(enc.lo) <= mm.gamma * (1 + 1e-12)
    assert mm.gamma * (1 - 1e-12) <= balls.upper(enc.hi)
    assert balls.upper(enc.direction_radius) < 1e-6  # sqrt of the gap: ~1e-8 measured
    bound = geometry.theta_lower_bound(data.z, mm.ubar, th.support)
    tol = theta_forward_tolerance(data.z, mm, th)
    assert abs(float(bound.mid()) - th.value) <= tol + float(bound.rad())
    assert certified.certify_s_l3(data.z, mm, th).decided is True
    n = data.z.shape[0]
    K = 2 * n / (np.e * th.value)
    xi = perp(np.ones(data.z.shape[1]), mm.ubar)
    w = mm.ubar + 1.5 * K * xi / np.linalg.norm(xi)
    assert certified.certify_s_l4(w, data.z, mm.ubar, LOGISTIC, K).decided is True
    flipped = certified.certify_s_l4(w - 2 * mm.ubar * (w @ mm.ubar), data.z, mm.ubar, LOGISTIC, K)
    assert flipped.decided is None


def test_singular_values_are_enclosed_around_the_float_svd():
    """sigma_1^2 of random layers (and of a near rank-one one) lies in its ball within the
    float SVD's backward error (``8 eps max(shape) sigma_1^2``), the ball's radius is of that
    order, and the deficit of a vector is 0."""
    rng = np.random.default_rng(11)
    for shape in [(5, 3), (3, 5), (10, 10), (30, 20)]:
        W = rng.standard_normal(shape)
        s1 = float(np.linalg.svd(W, compute_uv=False)[0])
        ball = spectral.spectral_norm_squared(W)
        allowance = 8 * EPS * max(shape) * s1**2
        assert abs(float(ball.mid()) - s1**2) <= allowance + float(ball.rad())
        assert float(ball.rad()) <= allowance
    v = rng.standard_normal((1, 6))
    assert balls.upper(abs(spectral.rank_deficit(v))) <= 8 * EPS * 6 * float(np.vdot(v, v))


def test_top_singular_vectors_are_enclosed_around_the_float_svd():
    """The enclosed top singular vectors of random layers lie within their radius (plus the
    float SVD's Wedin error, ``8 eps max(shape) / gap``) of numpy's, up to sign; radii are
    below 1e-13 at these sizes; a 1 x n layer's left vector is exactly [1]."""
    rng = np.random.default_rng(12)
    for shape in [(5, 3), (3, 5), (1, 4), (4, 1), (10, 10), (30, 20)]:
        W = rng.standard_normal(shape)
        U, s, Vt = np.linalg.svd(W)
        gap = (s[0] - s[1]) / s[0] if s.size > 1 else 1.0
        for side, ref in (("right", Vt[0]), ("left", U[:, 0])):
            sv = spectral.top_singular_vector(W, side)
            x = np.array([float(e.mid()) for e in sv.x.entries()])
            allowed = float(sv.radius.mid()) + float(sv.radius.rad()) + 8 * EPS * max(shape) / gap
            assert min(np.linalg.norm(x - ref), np.linalg.norm(x + ref)) <= allowed
            assert float(sv.radius.mid()) < 1e-13
    assert spectral.top_singular_vector(np.ones((1, 4)), "left").radius == 0


def test_flow_certificates_hold_on_a_small_flow():
    """The sampled checkpoints of a depth-3 flow: the rank-deficit bounds and the
    quantitative alignment bound (both its clauses) are proved, with positive margins."""
    data = small_data(seed=3)
    W0 = a2_equal_frobenius_init(data.z, [4, 3], seed=2, norm=1.0)
    tr = flow.gradient_flow(data.z, W0, LOGISTIC, max_frobenius=30.0)
    for c in (
        certified.certify_flow_deficits(tr, section2_flow.l2a_tolerances),
        certified.certify_flow_c1(tr, section2_flow.l2a_tolerances),
    ):
        assert c.decided is True and c.lower > 0, c
        assert c.points == len(certified.sample_checkpoints(len(tr.checkpoints), [0]))
