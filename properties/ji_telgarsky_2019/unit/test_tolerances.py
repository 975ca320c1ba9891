"""Every tolerance formula of the suite, pinned to its documented expression.

A check that passes with its tolerance would usually also pass with a looser one, so
outcome tests cannot catch a factor 2 creeping into an allowance.  Here each formula
is evaluated on inputs whose norms, singular values and margins are known exactly
(diagonal matrices, Pythagorean triples, powers of two), and compared with the
documented expression computed by hand from those known numbers, not by calling the
code under test again.  Where the expression is a rational function of EPS the
reference is exact (:class:`fractions.Fraction`) and rounded once.

Comparison (:func:`assert_pinned`): the code and the reference each round at most
``ops`` times, every rounding relative ``u = eps / 2`` of a positive sum or product, so
they agree to ``ops eps`` relative.  ``ops = 16`` is used throughout (every formula
here has fewer than 16 floating operations on the value's path); any change of a
constant in a formula (a factor 2, ``d + 2`` for ``d + 3`` with d <= 10) moves the
value by at least 8 %, eleven orders of magnitude above that.  The negative control
:func:`test_pin_rejects_a_perturbed_formula` shows the comparison failing on such
perturbations.
"""

from __future__ import annotations

import math
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from invariants import relu
from invariants.core import a2, data, maxmargin, theta
from invariants.core import network as net
from invariants.core import rounding as rd
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.dynamics import flow, gd, reference
from invariants.errors import CertificateError
from properties.ji_telgarsky_2019.claims import (
    alignment_slack,
    appendix_a,
    fig2,
    lemma3_4,
    section2_flow,
    section2_limits,
    section3_gd,
    section3_limits,
    section3_smoothness,
)

E = Fraction(2) ** -52  # the exact machine epsilon of float64
OPS = 16


def assert_pinned(actual: float, expected: float | Fraction, what: str, ops: int = OPS) -> None:
    """``actual`` equals the documented ``expected`` to ``ops eps`` relative (module docstring)."""
    exp = float(expected)
    assert abs(actual - exp) <= ops * rd.EPS * abs(exp), (
        f"{what}: {actual!r} != documented {exp!r} (relative difference "
        f"{abs(actual - exp) / abs(exp):.3e})"
    )


# --- a planted max-margin problem with a known answer ----------------------------------------

GAMMA, P, Q, ANGLE = 0.3, 0.6, 0.2, 0.4


def two_point_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``z_1 = gamma u + p v``, ``z_2 = gamma u - q v``: ubar = u, gamma, dual (q, p)/(p + q).

    The max-margin direction of two points is the min-norm point of their segment;
    both have the component gamma along u and the segment crosses the u axis
    (p, q > 0), so the min-norm point is ``gamma u`` with convex weights ``(q, p) / (p + q)``.
    """
    u = np.array([math.cos(ANGLE), math.sin(ANGLE)])
    v = np.array([-u[1], u[0]])
    return np.array([GAMMA * u + P * v, GAMMA * u - Q * v]), u, v


# --- machine constants, gamma, slack ------------------------------------------------------------


def test_machine_constants_are_float64s():
    """EPS = 2^-52, UNIT_ROUNDOFF = 2^-53, TINY = 2^-1022 (the smallest normal)."""
    assert rd.EPS == 2.0**-52
    assert rd.UNIT_ROUNDOFF == 2.0**-53
    assert rd.TINY == 2.0**-1022


@pytest.mark.parametrize("m", [1, 7, 1000, 10**9])
def test_gamma_is_higham_with_eps_and_with_u(m):
    """gamma(m) = m eps / (1 - m eps); gamma_unit(m) = m u / (1 - m u), u = eps / 2."""
    assert_pinned(rd.gamma(m), m * E / (1 - m * E), f"gamma({m})", ops=4)
    u = E / 2
    assert_pinned(rd.gamma_unit(m), m * u / (1 - m * u), f"gamma_unit({m})", ops=4)


def test_slack_ratio_cases():
    """observed / allowed; a zero allowance is met only by a non-positive observation."""
    assert rd.slack_ratio(1.0, 4.0) == 0.25
    assert rd.slack_ratio(-1.0, 4.0) == -0.25
    assert rd.slack_ratio(0.0, 0.0) == 0.0
    assert rd.slack_ratio(-3.0, 0.0) == 0.0
    assert rd.slack_ratio(1e-300, 0.0) == math.inf
    assert rd.slack_ratio(1.0, -1.0) == math.inf


# --- SVD rounding: svd_error, deficit_rounding, wedin, rank_tolerance ---------------------------

# Singular values 3 and 1 exactly, shape (2, 3): LAPACK returns a diagonal's values exactly.
W31 = np.array([[3.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_svd_error_deficit_and_wedin_on_known_singular_values():
    """svd_error = 4 max(m, n) eps ||W||_2; deficit = sum_{i>=2} (2 s_i d + d^2);
    wedin = d / gap.
    """
    delta = 4 * 3 * E * 3
    assert_pinned(rd.svd_error(W31), delta, "svd_error")
    assert_pinned(rd.deficit_rounding(W31), 2 * 1 * delta + delta**2, "deficit_rounding")
    assert_pinned(rd.wedin(W31), delta / (3 - 1), "wedin")
    column = np.array([[0.0], [2.0], [0.0]])  # one singular value: the gap is sigma_1 itself
    assert_pinned(rd.wedin(column), 4 * 3 * E * 2 / 2, "wedin of a column")
    assert rd.deficit_rounding(column) == 0.0  # no tail to round


def test_wedin_is_capped_at_one_and_is_one_without_gap():
    """A repeated top singular value has no defined vector: the bound is 1 (any sine)."""
    assert rd.wedin(np.eye(3)) == 1.0
    assert rd.wedin(np.diag([1.0, 1.0 - 2.0**-50])) == 1.0  # delta = 8 eps > gap = 4 eps


def test_rank_tolerance_formula():
    """A3's rank test: ``8 max(|S|, d) eps ||Z_S||_2``."""
    Z = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert_pinned(theta.rank_tolerance(Z), 8 * 3 * E * 2, "rank_tolerance")


def test_distance_rounding_is_qhulls_distround():
    """``eps (D maxsumcoord 1.01 + maxabs)``: D = 2, maxsumcoord = 3, maxabs = 2."""
    pts = np.array([[1.0, -2.0], [0.5, 0.5]])
    assert_pinned(rd.distance_rounding(pts), E * (2 * 3 * Fraction(101, 100) + 2), "distround")


def test_log_risk_rounding_and_rounding_count():
    """``gamma(M) big + eps (8 (big + 2) + n + 4 log n + 8)``; M = 2 sum dims + n + 16."""
    big, n, M = 37.5, 12, 90
    expected = M * E / (1 - M * E) * Fraction(big) + E * (
        8 * (Fraction(big) + 2) + n + 4 * Fraction(math.log(n)) + 8
    )
    assert_pinned(rd.log_risk_rounding(big, n, M), expected, "log_risk_rounding")
    W = [np.zeros((3, 2)), np.zeros((4, 3)), np.zeros((1, 4))]
    assert rd.rounding_count(W, 5) == 2 * (2 + 3 + 4 + 1) + 5 + 16


# --- data, max-margin, theta, A2 ---------------------------------------------------------------


def test_unit_norm_slack_and_certified_margin():
    """``(d + 3) eps``; certified margin ``min_i <u, z_i> / ||u|| - (d + 2) eps``."""
    assert_pinned(data.unit_norm_slack(8), 11 * E, "unit_norm_slack")
    z = np.array([[0.6, 0.8], [1.0, 0.0]])
    u = np.array([3.0, 4.0])  # margins 5 and 3, ||u|| = 5: min margin / ||u|| = 3/5
    assert_pinned(data.certified_margin(z, u), Fraction(3, 5) - 4 * E, "certified_margin", ops=2)
    assert data.LP_FEASIBILITY_TOL == 1e-9


def test_max_margin_rounding_floor():
    """``4 (d + 2) eps max ||z_i|| / gamma``: max norm 1, gamma 1/4."""
    z = np.array([[0.6, 0.8], [0.0, 0.5]])
    assert_pinned(maxmargin.rounding_floor(z, 0.25), 4 * 4 * E * 1 * 4, "rounding_floor")


def test_max_margin_certificate_threshold_is_tol():
    """check_certificate passes iff every residual <= tol.

    The planted exact answer with its dual scaled by ``1 + 1e-10`` has dual_feas,
    kkt_stationarity and duality_gap_rel all ``1e-10`` to within 2e-17 (the rest 0), so it
    passes at tol = 1.5e-10 and fails at 6e-11 and at the default 1e-12; a comparison
    against ``2 tol`` or ``tol / 2`` would flip one of the two.
    """
    z, u, _ = two_point_problem()
    dual = np.array([Q, P]) / (P + Q)
    cert = maxmargin.check_certificate(z, u, GAMMA, dual)
    assert cert.max_residual <= 1e-15  # the planted answer is exact to rounding
    off = dual * (1 + 1e-10)
    assert maxmargin.check_certificate(z, u, GAMMA, off, tol=1.5e-10).max_residual <= 1.5e-10
    for tol in (6e-11, 1e-12):
        with pytest.raises(CertificateError):
            maxmargin.check_certificate(z, u, GAMMA, off, tol=tol)


def test_support_tolerance_formula_and_use():
    """``max(tol gamma, 4 (d + 2) eps rmax)``; in max_margin (default tol 1e-12, the data
    already at unit scale, so s_tol = 3e-13 here) a third point planted at margin
    ``gamma + 3e-12`` (10 s_tol) is not in S, one at ``gamma + 3e-14`` (s_tol / 10) is."""
    assert_pinned(maxmargin.support_tolerance(1e-12, 0.5, 3, 1.0), Fraction(1, 2) * 1e-12, "tol")
    assert_pinned(maxmargin.support_tolerance(1e-16, 0.5, 3, 1.0), 4 * 5 * E, "floor", ops=2)
    z, u, v = two_point_problem()
    for excess, in_support in ((3e-12, False), (3e-14, True)):
        third = (GAMMA + excess) * u + 0.1 * v
        mm = maxmargin.max_margin(np.vstack([z, third]))
        assert (2 in mm.support) == in_support, (excess, mm.support, mm.margins - mm.gamma)


def test_theta_tolerances_simplex_path():
    """Simplex path: ``8 d eps ||B||_F (1 + max|offset|) + 2 (d + 2) eps rho``; the forward
    tolerance adds ``8 d eps ||B||_F (1 + cond(B))``, ``||B||_F^2 = sum points^2 + d``."""
    z, _, _ = two_point_problem()
    mm = maxmargin.max_margin(z)
    th = theta.theta(z, mm)
    assert th.method == "simplex"
    d = 2
    rho = max(math.hypot(GAMMA, P), math.hypot(GAMMA, Q))
    bnorm = math.sqrt(float(np.sum(np.asarray(th.points) ** 2)) + d)
    base = 8 * d * rd.EPS * bnorm * (1 + float(np.max(np.abs(th.offsets))))
    base += 2 * (d + 2) * rd.EPS * rho
    assert_pinned(theta.theta_tolerance(z, mm, th), base, "theta_tolerance")
    fwd = base + 8 * d * rd.EPS * bnorm * (1 + th.cond)
    assert_pinned(theta.theta_forward_tolerance(z, mm, th), fwd, "theta_forward_tolerance")
    assert_pinned(theta.support_radius(z, mm), rho, "support_radius", ops=4)
    # The KKT barycentre check: gamma |kkt_stationarity| + 2 (n + d + 2) eps rho (n = 2 points);
    # '3 (n + d + 2)' (sampled mutant theta.check_theta_certificate 166) fails it.
    kkt = theta.check_theta_certificate(z, mm, th).tolerances["kkt_barycentre"]
    stationarity = mm.gamma * abs(mm.certificate.kkt_stationarity)
    assert_pinned(kkt, stationarity + 2 * (2 + d + 2) * rd.EPS * rho, "kkt_barycentre")


def test_a2_constants_and_curvature_bound():
    """A2_RTOL = 8 eps; clear decrease 1e-12; violation margin 1e-6; sup loss'' times 1.01."""
    assert a2.A2_RTOL == 8 * 2.0**-52
    assert a2.A2_CLEAR_DECREASE == 1e-12
    assert a2.A2_VIOLATION_MARGIN == 1e-6
    assert_pinned(a2.curvature_bound(LOGISTIC, 5.0), Fraction(101, 100) / 4, "logistic", ops=2)
    assert_pinned(a2.curvature_bound(EXPONENTIAL, 2.0), 1.01 * math.exp(2.0), "exponential")
    assert_pinned(a2.curvature_bound(EXPONENTIAL, 0.0), 1.01, "exponential at 0")


# --- the flow's allowances ----------------------------------------------------------------------


def test_reference_run_tolerances(monkeypatch: pytest.MonkeyPatch):
    """:func:`reference.reference_wprod` integrates at ``rtol_ref = max(min(rtol / factor, 1e-12),
    1e-13)`` and ``atol * rtol_ref / rtol`` (the run's atol scaled as its rtol): read off the
    call to scipy's solve_ivp (a spy that passes it through).  Negative control: ``atol /
    rtol_ref / rtol`` (sampled mutant reference.reference_wprod 55: atol 1e10 here) fails it."""
    import scipy.integrate

    seen: list[dict] = []
    real = scipy.integrate.solve_ivp

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.integrate, "solve_ivp", spy)
    z = np.array([[0.6, 0.2], [0.5, -0.3]])
    tr = flow.gradient_flow(
        z,
        (np.array([[0.3, -0.2]]), np.array([[0.5]])),
        LOGISTIC,
        ds=0.5,
        s_max=1.0,
        rtol=1e-9,
        atol=1e-11,
    )
    reference.reference_wprod(tr, factor=100.0)
    # rtol / factor = 1e-11 is clamped to 1e-12
    assert (seen[-1]["rtol"], seen[-1]["atol"]) == (1e-12, 1e-11 * 1e-12 / 1e-9)


def longdouble_perp(weights: tuple[np.ndarray, ...], ubar: np.ndarray) -> np.ndarray:
    """``w_perp`` of the product of ``weights`` in ``np.longdouble``: the product, then two
    projection passes with ``ubar`` as given (the float64 evaluation's reference)."""
    u = np.asarray(ubar, dtype=np.longdouble)
    v = np.asarray(weights[-1][0], dtype=np.longdouble)
    for W in weights[-2::-1]:
        v = np.asarray(W, dtype=np.longdouble).T @ v
    p = v - (v @ u) * u
    return p - (p @ u) * u


def test_perp_rounding_bound_formula_and_a_measured_rounding():
    """``(L m + d + 4) unit`` (S-T2, S-FIG1a); and it bounds, relative to ``||w_prod||``, the
    float64 rounding of ``w_perp`` (``end_to_end`` then ``perp``) measured against a longdouble
    evaluation of the same product and passes, on 200 seeded draws (depth 1-4, widths 1-5, d
    2-6; half of them aligned rank-one layers plus noise, the regime the bound is stated for,
    half plain Gaussian layers; ubar random or within 1e-6 of the product's direction).  The
    reference's own rounding, the same bound in ``u_x = np.finfo(np.longdouble).eps``, is
    ``u_x / eps`` of the float64 one (2^-11 on x86), so it counts as exact."""
    assert_pinned(rd.perp_rounding_bound(3, 5, 4), (3 * 5 + 4 + 4) * E, "perp_rounding_bound")
    assert_pinned(rd.perp_rounding_bound(1, 2, 2, unit=0.5), 4.0, "perp_rounding_bound unit")
    if float(np.finfo(np.longdouble).eps) >= rd.EPS:
        pytest.skip("np.longdouble is float64 on this platform: no extended reference")
    rng = np.random.default_rng(2019)
    ratios = []
    for i in range(200):
        d = int(rng.integers(2, 7))
        shapes = net.layer_shapes(d, [int(k) for k in rng.integers(1, 6, rng.integers(0, 4))])
        dirs = [rng.standard_normal(k) for k in [d] + [s[0] for s in shapes]]
        dirs = [a / np.linalg.norm(a) for a in dirs]
        layers = [rng.standard_normal(s) for s in shapes]
        if i % 2 == 0:
            layers = [
                rng.uniform(1, 100) * np.outer(dirs[k + 1], dirs[k]) + 1e-3 * M
                for k, M in enumerate(layers)
            ]
        W = net.as_weights(layers, d=d)
        u = rng.standard_normal(d) if i % 4 < 2 else dirs[0] + 1e-6 * rng.standard_normal(d)
        u /= np.linalg.norm(u)
        w = net.end_to_end(W)
        err = np.linalg.norm(np.asarray(maxmargin.perp(w[None, :], u)[0] - longdouble_perp(W, u)))
        bound = rd.perp_rounding_bound(len(W), max(max(M.shape) for M in W), d)
        ratios.append(float(err) / (bound * float(np.linalg.norm(w))))
    assert max(ratios) <= 1.0, f"w_perp rounding above the bound: {max(ratios):.3g} of it"
    # Power (negative control): the worst draw measured 0.13 of the bound (Gaussian layers;
    # aligned ones 0.035), so a bound 20 times smaller would fail here.
    assert max(ratios) > 0.05, f"the bound is {1 / max(ratios):.3g} times the worst rounding"


def test_local_error_bound_from_the_acceptance_test():
    """``sqrt(N) max_i (atol + rtol max(|y_old_i|, |y_new_i|)) + eps ||y_new||``."""
    y_old, y_new = np.array([1.0, -3.0]), np.array([2.0, 1.0])
    rtol, atol = 1e-6, 1e-9
    expected = math.sqrt(2) * (atol + rtol * 3) + rd.EPS * math.sqrt(5)
    assert_pinned(flow.local_error_bound(y_old, y_new, rtol, atol), expected, "local_error")


def test_eq2_rounding_and_evaluation_rounding():
    """eq2: ``gamma(m + 3)`` times both layers' squared norms, at t and at 0, m the Gram's
    inner dimension; evaluation: log_risk_rounding(prod ||W_k||_F max ||z_i||, n, count)."""
    W0 = (np.array([[3.0, 4.0]]), np.array([[2.0]]))  # ||W_1||^2 = 25, ||W_2||^2 = 4
    W1 = (np.array([[6.0, 8.0]]), np.array([[1.0]]))  # 100, 1
    m = max(2, 1) + 3
    g = m * E / (1 - m * E)
    assert_pinned(flow.eq2_rounding(W0, W1)[0], g * (100 + 1 + 25 + 4), "eq2_rounding")
    z = np.array([[0.6, 0.8], [0.0, -0.5]])
    count = 2 * (2 + 1 + 1) + 2 + 16
    expected = rd.log_risk_rounding(10.0 * 1.0 * 1.0, 2, count)
    assert_pinned(flow.evaluation_rounding(W1, z), expected, "evaluation_rounding")


# --- Section 2 claims --------------------------------------------------------------------------


def test_l2b_tolerance_formula():
    """``2 sum_{j>=k} (1 + sqrt(d_j)) drift_j / ||W_{k+1}||_2^2 + 2 (wedin_k + wedin_{k+1})``."""
    weights = (np.diag([2.0, 1.0]), np.diag([4.0, 1.0]), np.array([[5.0, 0.0]]))
    drift = np.array([1e-10, 3e-10])
    c = SimpleNamespace(weights=weights, drift_bound=drift)
    shapes = [W.shape for W in weights]
    w = [4 * 2 * E * 2 / 1, 4 * 2 * E * 4 / 3]  # svd_error / gap for the two square layers
    charge = [(1 + math.sqrt(2)) * 1e-10, (1 + math.sqrt(2)) * 3e-10]
    exp0 = 2 * (charge[0] + charge[1]) / 16 + 2 * float(w[0] + w[1])
    assert_pinned(section2_flow.l2b_tolerance(c, shapes, 0), exp0, "l2b_tolerance k=0")
    w2 = 4 * 2 * E * 5 / 5  # a (1, 2) row: its only singular value is its gap
    exp1 = 2 * charge[1] / 25 + 2 * float(w[1] + w2)
    assert_pinned(section2_flow.l2b_tolerance(c, shapes, 1), exp1, "l2b_tolerance k=1")


def test_eq1_eq3_l2a_allowances():
    """S-EQ1: ``lam_err + cumsum(risk_allowance) + cumsum(rate_allowance) + 4 eps |Lambda|``;
    S-EQ3: ``sqrt(d_k) drift_k + (max size + 2) eps (sq_k + sq_{k+1})``; S-L2a:
    ``sum_{j>=k} (1 + sqrt(d_j)) drift_j + deficit_rounding(W_k)``."""
    st = SimpleNamespace(
        risk_allowance=np.array([1e-9, 2e-9]), rate_allowance=np.array([0.0, 4e-9])
    )
    got = section2_flow.eq1_allowance(st, np.array([0.0, -3.0]), np.array([1e-12, 5e-12]))
    assert_pinned(got[0], 1e-12 + 1e-9, "eq1_allowance[0]")
    assert_pinned(got[1], 5e-12 + 3e-9 + 4e-9 + 4 * 3 * E, "eq1_allowance[1]")
    weights = (np.diag([2.0, 1.0]), np.diag([4.0, 1.0]), np.array([[5.0, 0.0]]))
    c = SimpleNamespace(weights=weights, drift_bound=np.array([1e-10, 3e-10]))
    sq = np.array([5.0, 17.0, 25.0])
    expected = math.sqrt(2) * 3e-10 + (4 + 2) * E * (17 + 25)
    assert_pinned(section2_flow.eq3_tolerance(c, sq, 1), expected, "eq3_tolerance")
    shapes = [W.shape for W in weights]
    charge = [(1 + math.sqrt(2)) * 1e-10, (1 + math.sqrt(2)) * 3e-10]
    delta = [4 * 2 * E * 2, 4 * 2 * E * 4]  # svd_error of the two square layers
    dr = [2 * 1 * d + d**2 for d in delta]
    tols = section2_flow.l2a_tolerances(c, shapes)
    assert_pinned(tols[0], charge[0] + charge[1] + float(dr[0]), "l2a_tolerances[0]")
    assert_pinned(tols[1], charge[1] + float(dr[1]), "l2a_tolerances[1]")
    assert tols[2] == 0.0


def test_c1_rounding_tolerance():
    """S-C1: ``(L + 2) m eps + wedin(W_1) + sum_{k>=2} wedin(W_k) + sum_{k<L} wedin(W_k)``."""
    weights = (np.diag([2.0, 1.0]), np.diag([4.0, 1.0]), np.array([[5.0, 0.0]]))
    tr = SimpleNamespace(initial=weights)
    c = SimpleNamespace(weights=weights, drift_bound=np.array([0.0, 0.0]))
    w = [4 * 2 * E * 2 / 1, 4 * 2 * E * 4 / 3, 4 * 2 * E * 5 / 5]
    expected = (3 + 2) * 2 * E + w[0] + (w[1] + w[2]) + (w[0] + w[1])
    assert_pinned(section2_flow.c1_terms(tr, c)[3], expected, "c1_terms tol")


def test_alignment_slack_formula():
    """Worst ``(1 - al^2) / (1 - lb + tol)`` over positive bounds; fails below ``lb - tol``."""
    al, lb, tol = np.array([0.9, 0.5]), np.array([0.5, -1.0]), np.array([0.1, 0.0])
    ratio, exercised = alignment_slack("S-X", al, lb, tol, "")
    assert_pinned(ratio, (1 - 0.81) / (1 - 0.5 + 0.1), "slack")
    assert exercised  # the first bound, 0.5 - 0.1, is above 0
    with pytest.raises(AssertionError, match="S-X"):
        alignment_slack("S-X", np.array([0.6]), np.array([0.5]), np.array([0.1]), "")


def test_fig1_and_l1_allowances():
    """S-FIG1a: ``2 (L w + d + 4) eps`` (twice ``perp_rounding_bound``) and the loosest rtol; S-L1:
    ``(n + d + 2) eps (|log R| + |log g| + log n + 1)``; S-T2: the decade shrink 10^-1/2 and
    the sine floor ``8 (d + 2) eps``; S-T1: ``(L + 2 d_max) eps``."""
    deep = SimpleNamespace(initial=[np.zeros((5, 3)), np.zeros((4, 5)), np.zeros((1, 4))])
    assert_pinned(section2_limits.fig1a_floor(deep), 2 * (3 * 5 + 3 + 4) * E, "fig1a_floor")
    runs = [
        SimpleNamespace(rtol=1e-10, escalations=[(3.0, 1e-9)]),
        SimpleNamespace(rtol=1e-11, escalations=[]),
    ]
    assert section2_limits.integrator_floor(*runs) == 1e-9
    expected = (7 + 3 + 2) * rd.EPS * (40.0 + 12.5 + math.log(7) + 1)
    assert_pinned(section2_limits.l1_log_tolerance(7, 3, -40.0, 12.5), expected, "l1_log_tolerance")
    assert_pinned(section2_limits.DECADE_SHRINK, 1 / math.sqrt(10), "DECADE_SHRINK", ops=2)
    assert_pinned(section2_limits.sine_floor(3), 8 * 5 * E, "sine_floor", ops=2)
    assert_pinned(section2_limits.t1_power_rounding(4, 7), 18 * E, "t1_power_rounding", ops=2)
    assert section2_limits.Decay(1.0, 1 / math.sqrt(10), math.nan).ratio == pytest.approx(
        1.0, rel=4e-16
    )
    assert section2_limits.Decay(0.0, 0.0, math.nan).ratio == 0.0


# --- Section 3 claims --------------------------------------------------------------------------


def gd_stub() -> SimpleNamespace:
    """Two GD iterates of a depth-2 network with exactly known norms (no dynamics needed)."""
    W0 = (np.array([[3.0, 4.0]]), np.array([[2.0]]))
    W1 = (np.array([[6.0, 8.0]]), np.array([[1.0]]))
    zero = (np.zeros((2, 2)), np.zeros((1, 1)))
    return SimpleNamespace(
        initial=W0,
        weights=(W0, W1),
        z=np.array([[0.6, 0.8], [0.0, -0.5]]),
        log_risk=np.array([-1.0, -2.0]),
        eta=np.array([0.5]),
        steps=1,
        grad_sq_layers=np.array([[9.0, 16.0]]),
        P=(zero, zero),
        Q=(zero, zero),
    )


def test_risk_rounding_formula():
    """``R(t) ((L + 1) m eps prod ||W_k||_F max ||z_i|| + (n + 4) eps)``, m the widest dim."""
    tr = gd_stub()
    L, m, n = 2, 2, 2
    got = section3_gd.risk_rounding(tr)
    for t, scale in ((0, 5.0 * 2.0), (1, 10.0 * 1.0)):
        expected = math.exp(tr.log_risk[t]) * ((L + 1) * m * rd.EPS * scale + (n + 4) * rd.EPS)
        assert_pinned(got[t], expected, f"risk_rounding[{t}]")


def test_eq29_rounding_bound_formula():
    """S-EQ29: ``c = 2 (m + 4) eps`` with m the pair's inner dimension; at t the bound is
    ``c (F_k^2 + F_{k+1}^2)(0) + sum_{tau < t} c (F^2(tau + 1) + eta^2 (G_k^2 + G_{k+1}^2))
    + c (F^2)(t)`` (module docstring of claims/section3.py)."""
    tr = gd_stub()
    _, allowed = section3_gd.eq29_residuals(tr)
    c = 2 * (max(2, 1) + 4) * E
    assert_pinned(allowed[0, 0], c * 29 + c * 29, "eq29 bound at 0")
    assert_pinned(allowed[1, 0], c * 29 + c * 101 + c * Fraction(1, 4) * 25 + c * 101, "at 1")


def test_eq27_eq37_l8b_l8c_tolerances():
    """S-EQ27 ``4 eps (F' + F + 1)``; S-EQ37 ``8 eps`` of four squared norms plus ``eps`` of the
    pair's squared norms summed over the steps; S-L8b twice the
    two Wedin sines; S-L8c ``(L + 2) m eps + 2 sum_k wedin_k``."""
    assert_pinned(section3_gd.eq27_tolerance(np.array(3.0), np.array(2.0)), 4 * E * 6, "eq27")
    got = section3_gd.eq37_tolerance(np.array([1.0, 5.0, 6.0]), np.array([2.0, 7.0, 8.0]), 1.0, 2.0)
    want = 8 * E * np.array([6.0, 15.0, 17.0]) + E * np.array([0.0, 12.0, 26.0])
    for t in range(3):
        assert_pinned(got[t], want[t], f"eq37 at step {t}")
    W = (np.diag([2.0, 1.0]), np.diag([4.0, 1.0]), np.array([[5.0, 0.0]]))
    w = [4 * 2 * E * 2 / 1, 4 * 2 * E * 4 / 3, 4 * 2 * E * 5 / 5]
    assert_pinned(section3_gd.l8b_tolerance(W, 0), 2 * (w[0] + w[1]), "l8b_tolerance")
    assert_pinned(section3_gd.l8c_tolerance(W), (3 + 2) * 2 * E + 2 * sum(w), "l8c_tolerance")


def test_t4_allowances():
    """S-T4: ``8 eps (|log_thr| + log n + 1)`` and ``growth + 4 d eps (Phi_t + Phi_{t+1})``."""
    got = section3_limits.t4_sign_tolerance(-2.0, 7)
    assert_pinned(got, 8 * rd.EPS * (2.0 + math.log(7) + 1), "t4_sign_tolerance")
    assert_pinned(
        section3_limits.t4_engine_allowance(1e-3, 3, 2.0, 6.0), 1e-3 + 4 * 3 * E * 8, "engine"
    )


def test_eq30_tolerances_and_norm_change_scales():
    """S-EQ30: ``(t + 2) eps b_t`` and that plus ``2 rho_0 + 2 rho_t + 2 sum_{1..t} rho``;
    S-L7 / S-T3:
    ``U = sum eta_t ||G_k(t)||``, ``r = ((stop - start) + 2 (size_k + 1)) eps max_t F_k``."""
    b, rho = np.array([0.0, 1.0, 3.0]), np.array([1e-16, 2e-16, 4e-16])
    tol_sum, tol = section3_gd.eq30_tolerances(b, rho)
    assert_pinned(tol_sum[2], 4 * E * 3, "eq30 sum tolerance")
    assert_pinned(tol[2], 4 * E * 3 + 2e-16 + 8e-16 + 2 * (2e-16 + 4e-16), "eq30 tolerance")
    assert_pinned(tol[1], 3 * E * 1 + 2e-16 + 4e-16 + 2 * 2e-16, "eq30 tolerance at t = 1")
    assert tol_sum[0] == 0.0
    U, r = section3_gd.norm_change_scales(gd_stub(), 0, 0, 1)
    assert_pinned(U, 0.5 * 3.0, "U")
    assert_pinned(r, (1 + 2 * (2 + 1)) * E * 10, "r")


def test_perp_and_a2a_allowances():
    """S-L4: ``4 (d + 2) eps ||w||``; S-A2a: ``(n + d + 2 L w) eps``."""
    w = np.array([3.0, 0.0, 4.0])
    assert_pinned(lemma3_4.perp_rounding(w), 4 * 5 * E * 5, "perp_rounding")
    weights = [np.zeros((4, 3)), np.zeros((1, 4))]
    assert_pinned(appendix_a.a2a_tolerance(6, 3, weights), (6 + 3 + 2 * 2 * 4) * E, "a2a")


def test_l5_rounding_formula():
    """``2 sqrt(L) R^(L-1) [G (n + d + 2 L m + 8) eps + beta (L m + d) eps R^L]`` (logistic)."""
    weights = (np.zeros((3, 2)), np.zeros((1, 3)))
    z = np.zeros((5, 2))
    L, m, n, d, R = 2, 3, 5, 2, 4.0
    per = 1 * (n + d + 2 * L * m + 8) * E + Fraction(1, 4) * (L * m + d) * E * Fraction(R) ** L
    expected = 2 * Fraction(math.sqrt(L)) * Fraction(R) ** (L - 1) * per
    assert_pinned(section3_smoothness.l5_rounding(weights, z, LOGISTIC, R), expected, "l5_rounding")


def test_beta_of_radius_and_a5_step():
    """S-L5 / A5: ``beta(R) = 2 L^2 R^(2L - 2) (beta + G)``; ``eta = min(1 / beta(R), 1)``."""
    assert_pinned(gd.beta_of_radius(3.0, 2, LOGISTIC), 2 * 4 * 9 * Fraction(5, 4), "beta(R)")
    assert_pinned(gd.a5_step(3.0, 2, LOGISTIC), 1 / (2 * 4 * 9 * Fraction(5, 4)), "A5 step")
    assert gd.a5_step(1.0, 1, LOGISTIC) == 0.4  # 1 / (2 * 1.25)


def test_l5_ratio_allowance():
    """S-L5: allowed ratio ``(1 + (rho_W + rho_V) / (beta(R) ||W - V||)) (1 + (p + 2) eps)``."""
    W = (np.array([[0.5, 0.0], [0.0, 0.25]]), np.array([[1.0, 0.5]]))
    V = (np.array([[0.5, 0.0], [0.0, -0.25]]), np.array([[1.0, 0.5]]))  # ||W - V|| = 1/2
    z = np.array([[0.6, 0.8], [1.0, 0.0]])
    R = 2.0
    rho = section3_smoothness.l5_rounding(W, z, LOGISTIC, R) + section3_smoothness.l5_rounding(
        V, z, LOGISTIC, R
    )
    b = 2 * 4 * 4 * 1.25  # beta(R) = 2 L^2 R^2 (1/4 + 1)
    expected = (1 + rho / (b * 0.5)) * (1 + (6 + 2) * rd.EPS)
    assert_pinned(section3_smoothness.l5_ratio(z, W, V, LOGISTIC, R)[1], expected, "l5 allowance")


def test_exit_time_bound_formula():
    """S-L6 (Lemma 6's constants): ``delta = log 2 - R - 16 eps log 2``,
    ``eps_g = delta gamma |loss'(R^L)| / (|loss'(0)| R)``, and
    ``T* = t + (R (1 + 16 eps) - loss(R^L)) / (eps_g^2 / (2 beta(R)) - rho) + 1``."""
    t, risk, R, L, gamma, rho = 5, 0.25, 1.5, 2, 0.3, 1e-12
    eb = section3_smoothness.exit_time_bound(t, math.log(risk), R, L, LOGISTIC, gamma, rho)
    delta = math.log(2) - risk - 16 * rd.EPS * math.log(2)
    top = R**L
    eps_g = delta * gamma * (1 / (1 + math.exp(top))) / (0.5 * R)
    beta = 2 * L**2 * R ** (2 * L - 2) * 1.25
    T = (
        t
        + (risk * (1 + 16 * rd.EPS) - math.log1p(math.exp(-top))) / (eps_g**2 / (2 * beta) - rho)
        + 1
    )
    assert_pinned(eb.delta, delta, "delta")
    # eps_g is formed in the log domain: its log errs by a few eps times |log eps_g| (~4),
    # i.e. <= 16 eps relative; T* squares it (32 eps) and adds a few roundings.
    assert_pinned(eb.eps_grad, eps_g, "eps_grad")
    assert_pinned(eb.bound, T, "T*", ops=48)
    assert (
        section3_smoothness.exit_time_bound(
            0, math.log(math.log(2)), R, L, LOGISTIC, gamma, rho
        ).bound
        == math.inf
    )


def test_l6_rounding_formula():
    """S-L6: ``sqrt(L) R^(L-1) G (eps sqrt(L) R + eta l5_rounding)`` (logistic, G = 1)."""
    weights = (np.zeros((3, 2)), np.zeros((1, 3)))
    z = np.zeros((5, 2))
    R, eta = 4.0, 0.125
    l5 = section3_smoothness.l5_rounding(weights, z, LOGISTIC, R)  # pinned above
    expected = math.sqrt(2) * R * (rd.EPS * math.sqrt(2) * R + eta * l5)
    assert_pinned(
        section3_smoothness.l6_rounding(z, weights, LOGISTIC, R, eta), expected, "l6_rounding"
    )


# --- Fig. 2 (ReLU) ------------------------------------------------------------------------------


def test_fig2_ratio_rounding_and_relu_bounds():
    """S-FIG2: ``8 max(m, n) eps (r0 + r1)``; logits ``sum_k gamma_u(d_{k-1}) max |X||W|^T``;
    cross-entropy ``(n + C + 8) eps (max|z| + |loss| + 1)``."""
    shapes = [(128, 64), (10, 128)]
    got = fig2.ratio_rounding(shapes, np.array([0.2, 0.5]), np.array([0.3, 0.25]))
    assert_pinned(got[0], 8 * 128 * E * Fraction(1, 2), "ratio_rounding[0]")
    assert_pinned(got[1], 8 * 128 * E * Fraction(3, 4), "ratio_rounding[1]")
    X = np.array([[1.0, -2.0]])
    W = [np.array([[1.0, 1.0], [0.5, -1.0], [0.0, 2.0]]), np.array([[1.0, -1.0, 2.0]])]
    # |X| |W_1|^T = [3, 2.5, 4]; times |W_2|^T = 3 + 2.5 + 8 = 13.5
    u = E / 2
    g = 2 * u / (1 - 2 * u) + 3 * u / (1 - 3 * u)
    assert_pinned(relu.forward_abs_bound(W, X), g * Fraction(27, 2), "forward_abs_bound")
    z = np.array([[1.0, -7.0, 2.0], [0.0, 0.0, 0.0]])
    assert_pinned(relu.cross_entropy_rounding(z, 1.5), (2 + 3 + 8) * E * 9.5, "ce_rounding")


def test_homogeneity_allowance_formula():
    """S-FIG2: ``(g_B + g_{d_{k-1}}) T_k + (g_B + g_{d_{k+1}}) T_{k+1} + g_{N_k} (1 + g_B) T_k
    + g_{N_{k+1}} (1 + g_B) T_{k+1}``, ``g_m = m u / (1 - m u)``."""

    def g(m: int) -> Fraction:
        return m * (E / 2) / (1 - m * (E / 2))

    shapes = [(3, 2), (4, 3), (1, 4)]
    T = np.array([[2.0, 0.5, 1.0]])
    got = fig2.homogeneity_allowance(shapes, 8, T, 1)[0]
    expected = (g(8) + g(3)) * Fraction(1, 2) + (g(8) + g(1)) * 1
    expected += g(12) * (1 + g(8)) * Fraction(1, 2) + g(4) * (1 + g(8)) * 1
    assert_pinned(got, expected, "homogeneity_allowance")


def test_relu_balance_rounding_bound_formula():
    """S-FIG2 balancedness (relu.balance_residuals), one step of a (2, 3), (1, 2) network:
    per step ``2 eta chain + eps (3 (F_k^2 + F_{k+1}^2)(t+1) + eta^2 (G_k^2 + G_{k+1}^2))
    + (g_N + 3 eps) eta^2 G^2 (each layer) + eps |S|``, accumulated times ``1 + (t + 1) eps``,
    plus the measurement ``g_N (F^2(t) + F^2(0))`` per layer ``+ eps (|D(t)| + |D(0)| + |drift|)``.
    """

    def g(m: int) -> Fraction:
        return m * (E / 2) / (1 - m * (E / 2))

    eta, B = 0.5, 4
    run = SimpleNamespace(
        fro_sq=np.array([[3.0, 1.0], [4.0, 2.5]]),
        grad_sq=np.array([[2.0, 6.0]]),
        abs_products=np.array([[8.0, 4.0]]),
        eta=eta,
        shapes=[(2, 3), (1, 2)],
        steps=1,
        batch=B,
    )
    _, allowed, drift = relu.balance_residuals(run)
    e = Fraction(eta)
    first = 2 * e * ((g(B) + g(3)) * 8 + (g(B) + g(1)) * 4)
    S1 = e**2 * (6 - 2)
    update = E * (3 * (Fraction(4) + Fraction(5, 2)) + e**2 * (2 + 6))
    sums = (g(6) + 3 * E) * e**2 * 2 + (g(2) + 3 * E) * e**2 * 6
    acc = (first + update + sums + E * S1) * (1 + 2 * E)
    D0, D1 = Fraction(1) - 3, Fraction(5, 2) - 4
    measure1 = g(6) * (4 + 3) + g(2) * (Fraction(5, 2) + 1) + E * (abs(D1) + abs(D0) + abs(D1 - D0))
    measure0 = g(6) * (3 + 3) + g(2) * (1 + 1) + E * (abs(D0) + abs(D0))
    assert drift[1, 0] == float(D1 - D0)
    assert_pinned(allowed[0, 0], measure0, "balance bound at step 0")
    assert_pinned(allowed[1, 0], acc + measure1, "balance bound at step 1")


# --- the comparison itself -------------------------------------------------------------------


@pytest.mark.meta
@pytest.mark.parametrize(
    "perturbed",
    [
        lambda: 2 * rd.gamma(10),  # a factor 2
        lambda: 11 * rd.EPS / (1 - 11 * rd.EPS),  # an off-by-one in m
        lambda: 10 * rd.UNIT_ROUNDOFF / (1 - 10 * rd.UNIT_ROUNDOFF),  # u for eps
    ],
)
def test_pin_rejects_a_perturbed_formula(perturbed):
    """Negative control: gamma(10) perturbed as a bug would perturb it is not 'pinned'."""
    with pytest.raises(AssertionError, match="documented"):
        assert_pinned(perturbed(), 10 * E / (1 - 10 * E), "gamma(10)")
