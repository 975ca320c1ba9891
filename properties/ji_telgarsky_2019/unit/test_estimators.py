"""Every estimator of the suite on synthetic data whose answer is known exactly.

Slopes, offsets, thresholds, quadrature values and their error bars are what the
report's measured laws and several checks rest on; an estimator that is off by a sign,
a window or a factor would still produce plausible numbers on real runs.  Here each
one is fed a planted answer: a power law ``c x^-1`` (slope -1), a two-point data set
whose Soudry offset and Lemma 4 boundary have closed forms, integrands whose integrals
are elementary, a step function for a resolution rule.  Each tolerance is derived next
to its assertion; the meta-tests at the bottom apply the same assertions to planted
bugs (a window off by one point, a Richardson bound off by a factor 2) and see them fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import erfi

from invariants import relu
from invariants.core import lemma4, limits
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.core.rounding import EPS
from invariants.core.theta import theta
from invariants.dynamics import quadrature, records, reference
from properties.ji_telgarsky_2019.claims import fig2, section2_limits

# --- a planted two-point problem -------------------------------------------------------------

GAMMA, P, Q, ANGLE = 0.3, 0.6, 0.2, 0.4


def two_point_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``z_1 = gamma u + p v``, ``z_2 = gamma u - q v`` (u, v orthonormal; both support vectors).

    The max-margin direction is u (the min-norm point of the segment is ``gamma u``),
    with dual weights ``(q, p) / (p + q)``.
    """
    u = np.array([math.cos(ANGLE), math.sin(ANGLE)])
    v = np.array([-u[1], u[0]])
    return np.array([GAMMA * u + P * v, GAMMA * u - Q * v]), u, v


# --- decay slopes and the last decade ---------------------------------------------------------

#: ``x_k = 10^(k/6)``, k = 0..24: four decades, six points per decade.  ``10^(k/6)``
#: for k a multiple of 6 is an exact power of ten, so the last decade starts exactly at
#: ``x_18 = 1000 = x_24 / 10`` and holds seven points (k = 18..24, both ends included).
X = 10.0 ** (np.arange(25) / 6.0)


def slope_tolerance(lx: np.ndarray, ly: np.ndarray) -> float:
    """Bound on the error of a least-squares slope from rounding in its data.

    The slope is ``sum (x_i - xbar) y_i / sum (x_i - xbar)^2``; residuals ``r_i`` of the
    data change it by at most ``max|r| sum|x_i - xbar| / sum (x_i - xbar)^2``.  ``log10``
    of an exactly represented value errs by <= 2 eps of the result (plus ``eps`` absolute),
    and polyfit's scaled QR solve adds a few eps of ``max |ly|``: ``r <= 16 eps (max|ly| + 1)``.
    """
    dx = lx - lx.mean()
    return 16 * EPS * (float(np.max(np.abs(ly))) + 1) * float(np.sum(np.abs(dx)) / np.sum(dx**2))


def assert_slope_of_power_law(decay_slope: Callable) -> None:
    """``y = 3 x^-1`` over the last decade, ``y = x^3`` before it: slope -1 on 7 points."""
    y = np.where(X >= 1000.0, 3.0 / X, X**3 * 3e-12)
    slope, points = decay_slope(X, y)
    keep = X >= 1000.0
    tol = slope_tolerance(np.log10(X[keep]), np.log10(y[keep]))
    assert points == 7, f"the last decade of x holds 7 points (k = 18..24), got {points}"
    assert abs(slope + 1) <= tol, f"slope {slope!r} of 3 x^-1 is not -1 (tol {tol:.1e})"


def test_decay_slope_recovers_a_power_law_over_the_last_decade():
    """S-T2, S-FIG1b: the measured laws' slope is the exponent of a planted power law, over
    exactly the last decade (earlier points follow x^3 and must not enter)."""
    assert_slope_of_power_law(limits.decay_slope)


def test_decay_slope_window_zeros_and_degenerate_cases():
    """``decades`` widens the window; y <= 0 points are dropped; < 2 points or one x: NaN."""
    y = 5.0 * X**-2.0
    slope, points = limits.decay_slope(X, y, decades=2.0)
    assert points == 13
    assert abs(slope + 2) <= slope_tolerance(np.log10(X[12:]), np.log10(y[12:]))
    y0 = y.copy()
    y0[20] = 0.0  # rounded to zero: dropped, the law is unchanged
    slope0, points0 = limits.decay_slope(X, y0)
    assert points0 == 6 and abs(slope0 + 2) <= 1e-12
    assert math.isnan(limits.decay_slope(X, np.where(X < X[-1], 0.0, 1.0))[0])
    assert math.isnan(limits.decay_slope(np.ones(4), np.arange(1.0, 5.0))[0])


def test_decade_before_finds_the_start_of_the_last_decade():
    """S-T2, S-FIG1a: index of the last point ``<= norms[-1] / 10`` (inclusive), zeros skipped;
    with less than a decade, the first nonzero point."""
    assert limits.decade_before(X) == 18
    assert limits.decade_before(X * (1 + 1e-15)) == 18  # a common factor changes nothing
    norms = np.concatenate([[0.0, 0.0], X[20:]])  # less than a decade after the zeros
    assert limits.decade_before(norms) == 2


def test_alignment_gap_law_on_planted_layers():
    """S-FIG1b: ``1 - ||W||_2 / ||W||_F`` of ``diag(F, c)`` is ``c^2 / (F' (F' + F))``,
    ``F' = sqrt(F^2 + c^2)``, computed to full relative accuracy even far below eps, and its
    log-log slope against ``F'`` over a decade is -2 up to the ``c^2 / F^2`` correction."""
    c = 1.0
    F = np.geomspace(1e9, 1e10, 7)
    gaps = np.array([section2_limits.alignment_gaps([np.diag([f, c])])[0] for f in F])
    fro = np.sqrt(F**2 + c**2)
    exact = c**2 / (fro * (fro + F))
    # rank_deficit (c^2, exact) over F'(F' + F): a handful of roundings, each u relative.
    assert np.all(np.abs(gaps - exact) <= 8 * EPS * exact)
    assert np.all(gaps < EPS / 100)  # where 1 - sigma/F would have been 0
    slope, points = limits.decay_slope(fro, gaps)
    # d log(gap) / d log F' = -2 + O(c^2 / F^2), below 1e-17 on this range.
    tol = slope_tolerance(np.log10(fro), np.log10(gaps)) + 1e-17
    assert points == 7 and abs(slope + 2) <= tol


def test_alignment_gap_law_needs_a_resolved_gap():
    """S-FIG1b: the law's slope is reported only where the gap stays 100x above the
    deficit's rounding over F^2 over the whole last decade; one point at 99x suppresses it."""
    F = np.geomspace(1e2, 1e4, 13)  # two decades; the last one starts at index 6
    gaps = 0.5 / F**2
    rounding = np.full(F.size, 1e-5)  # gap / (rounding / F^2) = 5e4: resolved
    slope = section2_limits.alignment_gap_law(F, gaps, rounding)
    assert slope is not None
    assert abs(slope + 2) <= slope_tolerance(np.log10(F[6:]), np.log10(gaps[6:]))
    noisy = rounding.copy()
    noisy[6] = gaps[6] * F[6] ** 2 / 99  # the decade's first point: only 99x above
    assert section2_limits.alignment_gap_law(F, gaps, noisy) is None
    noisy_before = rounding.copy()
    noisy_before[5] = gaps[5] * F[5] ** 2  # before the decade: irrelevant
    assert section2_limits.alignment_gap_law(F, gaps, noisy_before) == slope


# --- Soudry's offset, S-L1's floor ------------------------------------------------------------


def test_soudry_offset_closed_form_on_two_support_vectors():
    """``<p, z_i> + c = -log alpha_i`` on S: with ``alpha = (q, p) / (p + q)`` the offset is
    ``p = log(p / q) / (p + q) v`` (the normalisation of alpha cancels)."""
    z, u, v = two_point_problem()
    mm = max_margin(z)
    got = limits.soudry_offset(z, mm)
    expected = math.log(P / Q) / (P + Q) * v
    # A 2x2 solve (cond ~ 3) of data rounded to eps, then one basis product: 64 eps.
    assert np.linalg.norm(got - expected) <= 64 * EPS * np.linalg.norm(expected)
    assert limits.offset_error(7.0 * u + expected, u, expected) <= 64 * EPS
    assert abs(limits.offset_error(7.0 * u + 2 * expected, u, expected) - 1.0) <= 64 * EPS


def test_loss_inverse_and_layer1_gradient_on_known_values():
    """S-L1: ``loss^{-1}`` inverts both losses; depth 1, one point: ``log ||grad R|| =
    -<w, z> + log ||z||`` for the exponential loss."""
    for x in (0.5, 3.0, 40.0):
        assert abs(limits.loss_inverse_from_log(EXPONENTIAL, -x) - x) == 0.0
        v = math.log(math.log1p(math.exp(-x)))  # log of the logistic loss at x
        # expm1(exp(v)) recovers exp(-x) to a few eps relative: x to a few eps absolute.
        assert abs(limits.loss_inverse_from_log(LOGISTIC, v) - x) <= 8 * EPS * (x + 1)
    w, z = np.array([[1.5, -0.5]]), np.array([[0.6, 0.8]])
    got = limits.layer1_gradient_log_norm((w,), z, EXPONENTIAL)
    assert abs(got - (-(0.9 - 0.4) + 0.0)) <= 8 * EPS


def test_l1_gradient_floor_formula():
    """S-L1: ``log gamma - log n - log R + min(log f(m1), log f(R^L))``, ``f(x) = x |loss'(x)|``;
    exponential loss: ``log f(x) = log x - x``, ``m1 = -log R(W(1))``."""
    gamma, n, radius, depth, log_r1 = 0.2, 5, 2.0, 3, -1.5
    m1, hi = 1.5, 8.0
    expected = math.log(gamma / (n * radius)) + min(math.log(m1) - m1, math.log(hi) - hi)
    got = limits.l1_gradient_floor(EXPONENTIAL, n, gamma, radius, depth, log_r1)
    assert abs(got - expected) <= 16 * EPS * (abs(expected) + 8)
    assert limits.l1_gradient_floor(EXPONENTIAL, n, gamma, radius, depth, 0.0) == -math.inf


# --- Lemma 4: the threshold, the sign, the empirical threshold -------------------------------


def test_lemma4_threshold_as_printed():
    """S-L4: ``K = (1 + ln n) / theta`` (exponential), ``2 n / (e theta)`` (logistic)."""
    assert (
        abs(lemma4.lemma4_threshold(EXPONENTIAL, 7, 0.25) - (1 + math.log(7)) * 4) <= 4 * EPS * 12
    )
    assert abs(lemma4.lemma4_threshold(LOGISTIC, 7, 0.25) - 56 / math.e) <= 4 * EPS * 21
    assert lemma4.lemma4_threshold(EXPONENTIAL, 7, 0.0) == math.inf
    assert lemma4.lemma4_threshold(LOGISTIC, 7, math.inf) == 0.0


def test_perp_gradient_sign_closed_form():
    """S-L4: on the two-point data with ``w = a u + r v`` (exponential loss) the margin is
    ``log N - log P = log(q / p) + r (p + q)``, independent of a, even at ``a = 1e12``.

    Accuracy (the function's docstring): ``(d + 2) eps ||w|| / min|c_i|`` from ``w_perp``
    plus a few eps of the exponent differences, ``r (p + q) + |log(p/q)|``.
    """
    z, u, v = two_point_problem()
    for a, r in ((0.0, 0.5), (3.0, 2.0), (1e12, 1.0)):
        got = lemma4.perp_gradient_sign(a * u + r * v, z, u, EXPONENTIAL)
        expected = math.log(Q / P) + r * (P + Q)
        w_norm = math.hypot(a, r)
        tol = 4 * EPS * w_norm / (r * Q) + 8 * EPS * (r * (P + Q) + math.log(P / Q))
        assert abs(got - expected) <= tol, (a, r, got, expected, tol)


#: The failure boundary of the planted problem: the sign margin ``log(q/p) + r (p + q)``
#: (direction +v) is negative exactly for ``r < log(p/q) / (p + q)``, at every a >= 0.
R_STAR = math.log(P / Q) / (P + Q)


def test_l4_empirical_threshold_finds_the_planted_boundary():
    """S-L4: K_emp is the largest failing ``||w_perp||``: here exactly ``log(p/q) / (p + q)``.

    The search refines the last sign change to relative 1e-10 and returns the failing
    end; the re-check may nudge r down by factors ``1 - 1e-9`` while the exact sign
    disagrees at the boundary, where the margin's rounding (~1e-15) is below one nudge:
    so ``R* (1 - 1e-8) <= K_emp <= R*`` (ten nudges of room).
    """
    z, _, _ = two_point_problem()
    mm = max_margin(z)
    th = theta(z, mm)
    res = lemma4.l4_empirical_threshold(z, mm, th, EXPONENTIAL)
    assert R_STAR * (1 - 1e-8) <= res.K_emp <= R_STAR * (1 + 4 * EPS), (res.K_emp, R_STAR)
    assert res.witness_sign < 0
    assert res.K == lemma4.lemma4_threshold(EXPONENTIAL, 2, th.value)
    assert not res.exceeded  # Lemma 4 holds: K_emp < K


# --- the flow's quadratures -------------------------------------------------------------------


def test_log_exp_trapezoid_is_exact_for_log_linear_integrands():
    """``log int_0^h exp(a + (b - a) s / h) ds = log(h (e^b - e^a) / (b - a))``; the series
    branch (``|b - a| < 1e-8``) errs by ``O(delta^4)`` < 1e-33 there."""
    for h, a, b in ((0.5, -2.0, 3.0), (2.0, 10.0, -30.0), (1e-3, 700.0, 701.0)):
        hi, lo = max(a, b), min(a, b)
        exact = math.log(h) + hi + math.log(-math.expm1(lo - hi)) - math.log(hi - lo)
        # Four logs/expm1 and three additions, each eps of its operand: 8 eps of the sum.
        assert abs(quadrature.log_exp_trapezoid(h, a, b) - exact) <= 8 * EPS * (abs(exact) + hi)
    # Series branch: ``log h + (a + b) / 2 + log(sinh(d/2) / (d/2)) = ... + d^2 / 24 + O(d^4)``.
    # With h = 1 and a = -b the leading terms vanish, so the d^2 / 24 term is the answer.
    d = 5e-9  # below the branch point 1e-8
    got = quadrature.log_exp_trapezoid(1.0, -d / 2, d / 2)
    assert abs(got - d**2 / 24) <= 1e-3 * d**2 / 24, (got, d**2 / 24)
    assert quadrature.log_exp_trapezoid(0.0, 1.0, 2.0) == -math.inf


def test_log_integral_is_exact_for_log_linear_integrands_on_any_steps():
    """S-EQ1's quadrature: the rule is exact for ``exp(a + b s)`` whatever the steps."""
    s = np.concatenate([[0.0], np.cumsum([0.1, 0.3, 0.05, 1.0, 0.2])])
    a, b = -2.0, 3.0
    val, _ = quadrature.log_integral(s, a + b * s)
    exact = np.log(np.expm1(b * s[1:]) / b) + a
    assert np.all(np.abs(val[1:] - exact) <= 16 * EPS * (np.abs(exact) + 2))
    assert val[0] == -math.inf


def assert_richardson_bound(log_integral: Callable) -> None:
    """The stated error of a smooth integrand, on equal steps, is 3x the true error.

    For a second-order rule the fine error over a pair is ``e``, the coarse ``4e``; the
    stated bound is the difference, ``3e`` (charged half to each step), so
    ``bound / error -> 3``; the next term of the error expansion makes it
    ``3 (1 + O(h^2))``.  With h = 1/32 and derivatives of order one, ``|ratio/3 - 1| <= h^2``.
    """
    N = 32
    s = np.linspace(0.0, 1.0, N + 1)
    val, err = log_integral(s, 2 * np.log1p(s))  # f = (1 + s)^2
    true = abs(math.exp(val[-1]) - 7.0 / 3.0)
    ratio = math.exp(err[-1]) / true
    assert abs(ratio / 3 - 1) <= (1 / N) ** 2, f"Richardson bound / true error = {ratio:.5f}"


def test_log_integral_error_bar_is_the_richardson_estimate():
    """S-EQ1: the quadrature's error bar on a smooth integrand is 3x its true error."""
    assert_richardson_bound(quadrature.log_integral)


def test_log_integral_error_bar_on_unbalanced_steps_is_the_monotone_bound():
    """Steps of length ratio > 2 (and a last unpaired step) are charged ``h |f(b) - f(a)|``."""
    s = np.array([0.0, 0.1, 1.0])
    lf = np.array([0.0, 1.0, 2.0])
    _, err = quadrature.log_integral(s, lf)
    expected = 0.1 * (math.e - 1) + 0.9 * (math.e**2 - math.e)
    assert abs(math.exp(err[-1]) - expected) <= 16 * EPS * expected


def test_corrected_log_time_on_a_quadratic_exponent():
    """S-INV: ``log t = log int_0^s exp(q)`` for ``q = s^2 / 2 + 0.3 s`` (an erfi integral);
    the corrected rule's error is one order (h^2) below the correction it applies, and the
    stated quadrature error (the correction's size) bounds it.  Linear q: no correction."""
    N = 10
    s = np.linspace(0.0, 2.0, N + 1)
    q = 0.5 * s**2 + 0.3 * s
    zero = np.zeros_like(s)
    steps = records.StepLog(s, zero, zero, q, zero, zero)
    log_t, gap = quadrature.corrected_log_time(steps)
    c = 1 / math.sqrt(2)
    exact = np.log(
        math.exp(-0.045) * math.sqrt(math.pi / 2) * (erfi((s[1:] + 0.3) * c) - erfi(0.3 * c))
    )
    err = np.abs(log_t[1:] - exact)
    h = 2.0 / N
    assert np.all(err <= h**2 * gap[1:]), np.max(err / gap[1:])
    lin = records.StepLog(s, zero, zero, 0.7 * s - 1.0, zero, zero)
    log_t, gap = quadrature.corrected_log_time(lin)
    assert np.all(gap == 0.0)
    exact_lin = np.log(np.expm1(0.7 * s[1:]) / 0.7) - 1.0
    assert np.all(np.abs(log_t[1:] - exact_lin) <= 32 * EPS * (np.abs(exact_lin) + 1))


def test_log_time_errors_add_the_path_term():
    """S-INV: the stated error at a checkpoint is the quadrature gap plus ``kappa E``."""
    s = np.linspace(0.0, 2.0, 11)
    zero = np.zeros_like(s)
    steps = records.StepLog(s, zero, zero, 0.5 * s**2, zero, zero)
    _, gap = quadrature.corrected_log_time(steps)
    cps = [SimpleNamespace(steps=4, kappa_time=3.0, local_error=1e-9)]
    assert quadrature.log_time_errors(cps, steps)[0] == gap[4] + 3e-9


def test_perp_errors_on_known_perpendicular_parts():
    """S-T2's error estimate: ``||P w - P w_ref|| / max(||P w_ref||, 1)``, ``P = I - ubar ubar^T``:
    parallel differences do not count; below ``||P w_ref|| = 1`` the error is absolute."""
    ubar = np.array([1.0, 0.0])
    cps = [SimpleNamespace(weights=(np.array([[5.0, 2.0]]),)) for _ in range(2)]
    tr = SimpleNamespace(checkpoints=cps)
    ref = np.array([[7.0, 2.5], [-3.0, 1.5]])
    assert np.array_equal(reference.perp_errors(tr, ubar, ref), np.array([0.5 / 2.5, 0.5 / 1.5]))
    small = np.array([[9.0, 2.5], [9.0, 2.25]]) - np.array([[0.0, 2.0], [0.0, 2.0]])
    assert np.array_equal(reference.perp_errors(tr, ubar, small), np.array([1.5, 1.75]))


# --- S-FIG1a: interpolation error and decade resolution --------------------------------------


def test_q_interp_error_is_exact_for_a_quadratic():
    """S-FIG1a: the remainder ``(at - x_j)(x_{j+1} - at) / 2 |q''|`` with ``q''`` from second
    divided differences equals the true interpolation error of a quadratic; 0 for a line
    and at a checkpoint."""
    x = np.array([0.0, 0.5, 1.25, 2.0, 3.0])
    q = np.column_stack([x**2 - x, 0.5 * x**2])
    at = 1.6
    interp = np.array([np.interp(at, x, q[:, j]) for j in range(2)])
    true = float(np.linalg.norm(interp - np.array([at**2 - at, 0.5 * at**2])))
    got = section2_limits.q_interp_error(x, q, at)
    assert abs(got - true) <= 64 * EPS * true, (got, true)
    assert section2_limits.q_interp_error(x, np.column_stack([3 * x + 1, -x]), at) <= 64 * EPS
    assert section2_limits.q_interp_error(x, q, 1.25) == 0.0


def test_latest_resolved_decade_on_a_planted_step():
    """S-FIG1a: D is resolved (D >= 2E) up to x = 10 and not after; on [0, 20] the rule
    steps back from 20 by half decades to the first end whose start ``end - ln 10 <= 10``."""
    dec = math.log(10.0)

    def D(x: float) -> float:
        return 1.0 if x <= 10.0 else 0.9  # a step at x = 10

    def E(x: float) -> float:
        return 0.5  # resolved iff D >= 2 E = 1, i.e. x <= 10

    end = section2_limits.latest_resolved_decade(0.0, 20.0, D, E)
    k = math.ceil((20.0 - dec - 10.0) / (0.5 * dec))  # half-decade steps back to x <= 10
    assert end == pytest.approx(20.0 - k * 0.5 * dec, abs=1e-12)
    assert end - dec <= 10.0 < end - dec + 0.5 * dec
    assert section2_limits.latest_resolved_decade(0.0, 20.0, lambda x: 0.0, E) is None
    assert section2_limits.latest_resolved_decade(0.0, 1.0, D, E) is None  # no decade fits


# --- Fig. 2: the random-matrix threshold, seed statistics -------------------------------------


def test_fig2_thresholds_and_ratios():
    """S-FIG2: ``1/sqrt(m) + 1/sqrt(n)`` + 3 sd of the init's ratio, NaN for the classifier;
    the floor ``1/sqrt(min)``; ``||W||_2 / ||W||_F`` of ``diag(3, 4)`` is 4/5."""
    assert relu.gaussian_ratio((16, 4)) == 0.25 + 0.5
    assert relu.floor_ratio(np.zeros((9, 4))) == 0.5
    assert abs(relu.spectral_ratio(np.diag([3.0, 4.0])) - 0.8) <= 4 * EPS
    widths = (4, 3, 2)
    run = SimpleNamespace(init="default", widths=widths, shapes=[(3, 4), (2, 3)])
    _, sd = relu.init_ratio_spread("default", widths)
    thr = fig2.fig2_thresholds(run)
    assert thr[0] == relu.gaussian_ratio((3, 4)) + 3.0 * sd[0]
    assert math.isnan(thr[1])


def fake_runs(rises: list[float]) -> list[SimpleNamespace]:
    """Seeds whose last layer's ratio rises by ``rises`` (first layer: +0.1 each)."""
    return [
        SimpleNamespace(
            init="default",
            widths=(4, 3, 2),
            shapes=[(3, 4), (2, 3)],
            ratios=np.array([[0.5, 0.6], [0.6, 0.6 + r]]),
            risk=np.array([2.0, 0.5 + r]),
            floors=np.array([0.5, 1 / math.sqrt(2)]),
        )
        for r in rises
    ]


def test_classifier_rise_is_mean_against_three_standard_errors():
    """S-FIG2: mean rise over seeds against ``RISE_T = 3`` standard errors ``sd / sqrt(k)``
    (``ddof = 1``): rises 0.1, 0.2, 0.3 give mean 0.2, se 0.1 / sqrt(3), slack 3 se / mean;
    rises 0, 0.1, 0.2 (mean 0.1 < 3 se = 0.173) fail."""
    runs = fake_runs([0.1, 0.2, 0.3])
    values, mean, se = fig2.spread_values(runs)
    assert abs(mean[1] - 0.2) <= 4 * EPS and abs(se[1] - 0.1 / math.sqrt(3)) <= 8 * EPS
    assert abs(values["rise_sd_2"] - 0.1) <= 8 * EPS
    assert values["risk_end_max"] == 0.8
    slack = fig2.check_classifier_rise(runs)
    assert abs(slack.ratio - 3 * (0.1 / math.sqrt(3)) / 0.2) <= 16 * EPS
    with pytest.raises(AssertionError, match="standard"):
        fig2.check_classifier_rise(fake_runs([0.0, 0.1, 0.2]))


def test_relu_relative_drift_and_growth():
    """S-FIG2: ``|D(T) - D(0)| / (F_k^2 + F_{k+1}^2)(T)`` and ``|F^2(T) - F^2(0)| / F^2(T)``."""
    run = SimpleNamespace(fro_sq=np.array([[4.0, 9.0], [8.0, 10.0]]))
    assert relu.relative_drift(run)[0] == abs((10.0 - 8.0) - (9.0 - 4.0)) / 18.0
    assert np.array_equal(relu.relative_growth(run), np.array([0.5, 0.1]))


# --- the assertions themselves catch planted bugs --------------------------------------------


def window_off_by_one(x: np.ndarray, y: np.ndarray, decades: float = 1.0) -> tuple[float, int]:
    """decay_slope with an exclusive window start (``>`` for ``>=``): one point short."""
    keep = (x > x[-1] / 10.0**decades) & (y > 0)
    return float(np.polyfit(np.log10(x[keep]), np.log10(y[keep]), 1)[0]), int(keep.sum())


def window_one_too_many(x: np.ndarray, y: np.ndarray, decades: float = 1.0) -> tuple[float, int]:
    """decay_slope whose window reaches one point before the decade (the x^3 regime)."""
    j = int(np.flatnonzero(x >= x[-1] / 10.0**decades)[0]) - 1
    return float(np.polyfit(np.log10(x[j:]), np.log10(y[j:]), 1)[0]), int(x.size - j)


def richardson_doubled(s: np.ndarray, log_f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log_integral with the Richardson bound charged in full to each step (a factor 2)."""
    val, err = quadrature.log_integral(s, log_f)
    return val, err + math.log(2.0)


@pytest.mark.meta
@pytest.mark.parametrize("bug", [window_off_by_one, window_one_too_many])
def test_slope_assertion_rejects_a_shifted_window(bug):
    """Negative control: a window one point short or one point long fails the slope check."""
    with pytest.raises(AssertionError):
        assert_slope_of_power_law(bug)


@pytest.mark.meta
def test_richardson_assertion_rejects_a_factor_two():
    """Negative control: an error bar twice the documented one fails (ratio 6, not 3)."""
    with pytest.raises(AssertionError, match="Richardson"):
        assert_richardson_bound(richardson_doubled)
