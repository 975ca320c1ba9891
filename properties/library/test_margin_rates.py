"""Properties of :mod:`invariants.core.margin_rates` (LL-LB.6, LL-T4.3, LL-LC.11).

* The bracket of ``log G`` contains the integral computed by mpmath at 30 digits, and is
  narrow (its width is the trapezoid-minus-midpoint gap, about ``h^2 / 8`` relative on the
  fine grid: below ``1e-3`` with room to spare); at ``p = 1`` the integral is
  ``e^S - e^{S0}`` in closed form; far out (``S ~ 1e10``) it matches the asymptotic
  expansion ``e^S S^{-a} (1 + a/S + O(S^-2))``.
* ``B1 = p^{1-p/2} max ||x_i||`` bounds ``||grad q_i||`` on the unit sphere and is attained
  by balanced, aligned, rank-one layers.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from invariants.core import homogeneous as hm
from invariants.core import margin_rates as mr
from invariants.core.rounding import EPS

#: The bracket's rounding: a log-sum-exp of at most ~1e4 terms, each a few ulps of
#: ``|s| + a |log s|`` (<= 100 here), so ``1e4 * 8 * 100 * eps`` bounds it generously.
BRACKET_ROUNDING = 1e4 * 8 * 100 * EPS


@given(
    s0=st.floats(0.05, 5.0),
    width=st.floats(0.01, 40.0),
    order=st.integers(1, 5),
)
def test_g_bracket_contains_the_integral(s0: float, width: float, order: int):
    """LL-LB.6: midpoint <= G <= trapezoid for the log-convex integrand, and narrow."""
    s1 = s0 + width
    a = 2.0 - 2.0 / order
    mp.mp.dps = 30
    exact = float(mp.log(mp.quad(lambda s: mp.exp(s) * s ** (-a), [s0, (s0 + s1) / 2, s1])))
    lo, hi = mr.log_g_bracket(s0, s1, order)
    assert lo - BRACKET_ROUNDING <= exact <= hi + BRACKET_ROUNDING, (lo, exact, hi)
    assert hi - lo < 1e-3, (lo, hi)


@given(s0=st.floats(0.01, 10.0), width=st.floats(1e-3, 600.0))
def test_g_bracket_at_order_one_is_the_exponential(s0: float, width: float):
    """LL-LB.6 at ``p = 1``: ``G = e^S - e^{S0}`` (the integrand is ``e^s``)."""
    s1 = s0 + width
    exact = s1 + math.log(-math.expm1(s0 - s1))
    lo, hi = mr.log_g_bracket(s0, s1, 1)
    assert lo - BRACKET_ROUNDING * (1 + s1) <= exact <= hi + BRACKET_ROUNDING * (1 + s1)


@given(log10_s=st.floats(6.0, 11.0), order=st.integers(2, 5))
def test_g_bracket_far_out_matches_the_expansion(log10_s: float, order: int):
    """LL-T4.3: ``log G = S - a log S + log(1 + a/S) + O(S^-2)`` for ``S >> S0``; the
    bracket's rounding there is a few ulps of ``S`` per term (``S <= 1e11``)."""
    S = 10.0**log10_s
    a = 2.0 - 2.0 / order
    expansion = S - a * math.log(S) + math.log1p(a / S)
    lo, hi = mr.log_g_bracket(1.0, S, order)
    slack = 1e4 * 8 * S * EPS + 10 / S**2
    assert lo - slack <= expansion <= hi + slack, (lo, expansion, hi)


@given(
    order=st.integers(1, 5),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_b1_bounds_the_margin_gradients_on_the_sphere(order: int, d: int, seed: int):
    """LL-LC.11: ``||grad q_i(theta_hat)|| <= B1 ||z_i||`` at random unit parameters, with
    equality at balanced aligned rank-one layers along ``z``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(3, d))
    widths = [d, *rng.integers(1, 4, size=order - 1).tolist(), 1]
    W = [rng.normal(size=(widths[k + 1], widths[k])) for k in range(order)]
    rho = math.sqrt(sum(float(np.sum(w * w)) for w in W))
    W = [w / rho for w in W]
    m = hm.linear_network_margins(W, z)
    norms = np.linalg.norm(m.jacobian, axis=1)
    b1 = np.array([mr.linear_b1(order, float(np.linalg.norm(zi))) for zi in z])
    assert np.all(norms <= b1 * (1 + 64 * EPS * order * d)), (norms, b1)
    # attained: W_k = p^{-1/2} u_k u_{k-1}^T with u_0 = z_0 / ||z_0||, unit u_k, u_L = 1
    u = [z[0] / np.linalg.norm(z[0])]
    for k in range(1, order):
        v = rng.normal(size=widths[k])
        u.append(v / np.linalg.norm(v))
    u.append(np.ones(1))
    A = [np.outer(u[k + 1], u[k]) / math.sqrt(order) for k in range(order)]
    top = float(np.linalg.norm(hm.linear_network_margins(A, z).jacobian[0]))
    assert math.isclose(top, b1[0], rel_tol=64 * EPS * order * d), (top, b1[0])


@given(
    s0=st.floats(mr.LOGISTIC_S_STAR + 0.01, 5.0),
    width=st.floats(0.01, 40.0),
    order=st.integers(1, 5),
)
def test_logistic_g_bracket_contains_the_integral(s0: float, width: float, order: int):
    """LL-LB.6 (logistic loss): midpoint <= G <= trapezoid for the log-convex integrand
    ``e^s g'(s)^2 g(s)^{-a}`` with ``g(s) = -log(expm1(e^{-s}))``, against mpmath at 30
    digits."""
    s1 = s0 + width
    a = 2.0 - 2.0 / order
    mp.mp.dps = 30

    def integrand(s):
        w = mp.exp(-s)
        return mp.exp(s) * (w / (1 - mp.exp(-w))) ** 2 * (-mp.log(mp.expm1(w))) ** (-a)

    exact = float(mp.log(mp.quad(integrand, [s0, (s0 + s1) / 2, s1])))
    lo, hi = mr.log_g_bracket(s0, s1, order, "logistic")
    assert lo - BRACKET_ROUNDING <= exact <= hi + BRACKET_ROUNDING, (lo, exact, hi)


@given(s=st.floats(mr.LOGISTIC_S_STAR + 1e-3, 700.0), order=st.integers(1, 5))
def test_logistic_g_integrand_is_log_convex(s: float, order: int):
    """LL-LB.6: the second difference of ``log_g_integrand`` (logistic) is non-negative up to
    its rounding (four evaluations of a few ulps of ``|s| + a |log g| + 1`` each, over
    ``h^2``)."""
    h = min(1e-2, (s - mr.LOGISTIC_S_STAR) / 2)
    v = mr.log_g_integrand(np.array([s - h, s, s + h]), order, "logistic")
    second = float(v[0] - 2 * v[1] + v[2])
    scale = float(np.max(np.abs(v))) + 1.0
    assert second >= -16 * EPS * scale, (second, h)
