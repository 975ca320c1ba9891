"""The hard-margin SVM through the origin (Notation: gamma, ubar, S).

gamma, ubar and the support set enter S-L3, S-L4, S-T2, S-T4 and S-FIG1a, so
they are checked here on their own:

- every answer of :func:`max_margin` carries an optimality certificate whose
  residuals are <= 1e-12 (relative);
- gamma agrees with an independent SLSQP solve of ``min ||u||^2 s.t. Zu >= 1``
  to a tolerance derived from SLSQP's ``ftol``;
- closed forms (n = 1, two points, symmetric cones, collinear points, d = 1,
  duplicated points, more than d support vectors) and invariances (rotation,
  exact power-of-two scaling, permutation, adding a point);
- negative controls (``@pytest.mark.meta``): planted wrong answers must fail
  :func:`check_certificate`;
- :func:`sin_angle` against a 50-digit mpmath reference, and the NUMERICS.md
  fact that ``1 - cos`` rounds to 0 once ``||w|| > 1e8``.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize

from invariants.data import make_dataset, separability_certificate
from invariants.errors import (
    CertificateError,
    DataError,
    NonFiniteError,
    NonSeparableError,
    ShapeError,
)
from invariants.maxmargin import (
    MaxMargin,
    check_certificate,
    max_margin,
    perp,
    rounding_floor,
    sin_angle,
)

EPS = float(np.finfo(np.float64).eps)
TOL = 1e-12  # certificate tolerance (max_margin's default)

# SLSQP stops when the change of f = ||u||^2 = 1/gamma^2 between iterates, the
# gradient of the Lagrangian and the summed constraint violation are all below
# ftol.  A violation delta <= ftol makes u/(1 - delta) feasible, so gamma_slsqp
# overestimates gamma by at most ~ftol (relative); an error |f - f*| ~ ftol
# (superlinear convergence: the last change bounds the error) moves gamma by
# ftol gamma^2 / 2 <= ftol / 2.  Sum: 1.5 ftol; we allow 10 ftol because the
# step-size test is a heuristic, not a bound.  Measured: <= 1.4 ftol (3000 cases).
SLSQP_FTOL = 1e-12
SLSQP_RTOL = 10 * SLSQP_FTOL


# --- local strategies -------------------------------------------------------------------------


def unit(v: np.ndarray) -> np.ndarray:
    """v / ||v||, or e_1 when v is (nearly) zero."""
    nrm = float(np.linalg.norm(v))
    if nrm < 1e-3:
        e = np.zeros_like(v)
        e[0] = 1.0
        return e
    return v / nrm


@st.composite
def unit_vectors(draw: st.DrawFn, d: int) -> np.ndarray:
    return unit(draw(arrays(np.float64, d, elements=st.floats(-1, 1))))


@st.composite
def separable_sets(draw: st.DrawFn, max_n: int = 40, max_d: int = 8):
    """(dataset, planted ubar, planted margin).

    Each z_i = a_i ubar + (perpendicular part) with ``a_i >= margin`` and
    ``||z_i|| <= 1``; some points sit exactly at ``a_i = margin`` (ties, often
    more than d of them: affinely dependent support vectors), some rows are
    duplicated, labels are random.
    """
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(1, max_n))
    ubar = draw(unit_vectors(d))
    margin = draw(st.floats(0.05, 0.95))
    t = draw(arrays(np.float64, n, elements=st.floats(0, 1)))
    on_margin = draw(arrays(np.bool_, n))
    a = np.where(on_margin, margin, margin + (1.0 - margin) * t)
    v = draw(arrays(np.float64, (n, d), elements=st.floats(-1, 1)))
    v = v - np.outer(v @ ubar, ubar)
    v = v - np.outer(v @ ubar, ubar)  # twice: v may be nearly parallel to ubar
    nv = np.linalg.norm(v, axis=1)
    r = draw(arrays(np.float64, n, elements=st.floats(0, 1)))
    radius = r * np.sqrt(np.maximum(1.0 - a * a, 0.0))
    scale = np.divide(radius, nv, out=np.zeros(n), where=nv > 1e-12)
    z = a[:, None] * ubar + scale[:, None] * v
    # ||z_i|| <= 1 up to the rounding that make_dataset allows
    z = z / np.maximum(1.0, np.linalg.norm(z, axis=1))[:, None]
    n_dup = draw(st.integers(0, min(n, 5)))
    z = np.vstack([z, z[:n_dup]])
    y = draw(arrays(np.float64, z.shape[0], elements=st.sampled_from([-1.0, 1.0])))
    return make_dataset(y[:, None] * z, y), ubar, margin


@st.composite
def orthogonal_matrices(draw: st.DrawFn, d: int) -> np.ndarray:
    a = draw(arrays(np.float64, (d, d), elements=st.floats(-1, 1)))
    q, r = np.linalg.qr(a + 3.0 * np.eye(d))  # well conditioned: Q is orthogonal to ~eps
    return q * np.sign(np.diag(r))


# --- helpers --------------------------------------------------------------------------------


def assert_valid(mm: MaxMargin, z: np.ndarray) -> None:
    """Everything a MaxMargin promises, checked from scratch."""
    n, d = z.shape
    cert = check_certificate(z, mm.ubar, mm.gamma, mm.dual, TOL)
    assert cert.max_residual <= TOL
    assert mm.certificate.max_residual <= TOL
    for value in mm.certificate.as_dict().values():
        assert abs(value) <= TOL
    assert mm.ubar.shape == (d,) and mm.dual.shape == (n,) and mm.margins.shape == (n,)
    np.testing.assert_array_equal(mm.margins, z @ mm.ubar)
    assert np.all(mm.dual >= 0.0)
    assert abs(mm.dual.sum() - 1.0) <= TOL
    assert np.all(np.diff(mm.support) > 0)  # sorted, unique
    off = np.setdiff1d(np.arange(n), mm.support)
    assert np.all(mm.dual[off] == 0.0)
    assert np.all(mm.margins >= mm.gamma * (1.0 - TOL))
    rmax = float(np.max(np.linalg.norm(z, axis=1)))
    np.testing.assert_allclose(
        mm.margins[mm.support], mm.gamma, rtol=TOL, atol=4 * (d + 2) * EPS * rmax
    )


def direction_bound(mm: MaxMargin, z: np.ndarray) -> float:
    """Certified bound on ||ubar - ubar_true||.

    For a unit u with ``min_i <u, z_i> >= gamma_true (1 - delta)``,
    ``<u, p*> >= gamma_true (1 - delta)`` (p* is in the hull), so
    ``||u - ubar_true||^2 = 2 - 2 <u, ubar_true> <= 2 delta``.  The certificate
    gives ``delta <= |gap| + infeas + unit_norm`` plus the rounding of the margins.
    """
    c = mm.certificate
    d = z.shape[1]
    rounding = 4 * (d + 2) * EPS * float(np.max(np.linalg.norm(z, axis=1))) / mm.gamma
    delta = abs(c.duality_gap_rel) + c.primal_infeas + c.unit_norm + rounding
    return math.sqrt(2.0 * delta)


def slsqp_gamma(z: np.ndarray) -> tuple[float, float] | None:
    """(gamma from SLSQP's optimum, certified lower bound min_i <u, z_i>/||u||).

    Independent of NNLS: started from twice the separability LP's direction
    (strictly feasible; started exactly on the constraints, at a degenerate
    vertex with more active constraints than dimensions, SLSQP's line search
    can fail at once).  Duplicated rows are removed first (gamma does not
    change): SLSQP's QP subproblem fails on repeated constraints ("Positive
    directional derivative for linesearch").  Returns None if SLSQP still
    reports failure (measured: 0 in 3000 generated cases).
    """
    z = np.unique(z, axis=0)
    sep = separability_certificate(z)
    for start in (2.0, 4.0):
        res = minimize(
            lambda u: float(u @ u),
            start * sep.direction / sep.margin,
            jac=lambda u: 2.0 * u,
            method="SLSQP",
            constraints=[{"type": "ineq", "fun": lambda u: z @ u - 1.0, "jac": lambda u: z}],
            options={"ftol": SLSQP_FTOL, "maxiter": 1000},
        )
        if res.success:
            nrm = float(np.linalg.norm(res.x))
            return 1.0 / nrm, float(np.min(z @ res.x)) / nrm
    return None


def two_point_min_norm(z1: np.ndarray, z2: np.ndarray) -> tuple[np.ndarray, float]:
    """Closest point to 0 on the segment [z1, z2], and its parameter t."""
    e = z2 - z1
    ee = float(e @ e)
    t = 0.0 if ee == 0.0 else min(1.0, max(0.0, -float(z1 @ e) / ee))
    return z1 + t * e, t


# --- certificate and independent solver -----------------------------------------------------------


@given(separable_sets())
def test_answer_passes_its_certificate(case) -> None:
    ds, ubar_planted, _ = case
    mm = max_margin(ds)
    assert_valid(mm, ds.z)
    # Weak duality against the planted direction: it cannot beat the optimum.
    planted = float(np.min(ds.z @ ubar_planted))
    assert mm.gamma >= planted * (1.0 - TOL) - 4 * (ds.d + 2) * EPS
    # The dataset and its z array give the same answer.
    other = max_margin(np.array(ds.z))
    assert other.gamma == mm.gamma
    np.testing.assert_array_equal(other.ubar, mm.ubar)


@given(separable_sets())
def test_gamma_agrees_with_slsqp(case) -> None:
    ds, _, _ = case
    mm = max_margin(ds)
    reference = slsqp_gamma(np.array(ds.z))
    if reference is None:  # the reference solver failed; nothing to compare
        event("SLSQP failed")
        return
    g_slsqp, g_lower = reference
    assert abs(g_slsqp - mm.gamma) <= SLSQP_RTOL * mm.gamma
    # Any feasible direction's margin is a lower bound on gamma (rigorous).
    assert mm.gamma >= g_lower * (1.0 - TOL) - 4 * (ds.d + 2) * EPS


@given(separable_sets(max_d=6), st.data())
def test_rotation_equivariance(case, data) -> None:
    ds, _, _ = case
    q = data.draw(orthogonal_matrices(ds.d))
    mm = max_margin(ds)
    zq = ds.z @ q.T  # rows q z_i
    mq = max_margin(zq)
    assert abs(mq.gamma - mm.gamma) <= (4 * TOL + 8 * ds.d * EPS) * mm.gamma
    bound = direction_bound(mm, ds.z) + direction_bound(mq, zq) + 8 * ds.d * EPS
    assert np.linalg.norm(mq.ubar - q @ mm.ubar) <= bound


@given(separable_sets(), st.integers(-600, 600))
def test_power_of_two_scaling_is_exact(case, k: int) -> None:
    ds, _, _ = case
    zk = np.ldexp(ds.z, k)
    assume(np.array_equal(np.ldexp(zk, -k), ds.z))  # no subnormal underflow
    mm = max_margin(ds)
    ms = max_margin(zk)
    assert ms.gamma == math.ldexp(mm.gamma, k)
    np.testing.assert_array_equal(ms.ubar, mm.ubar)
    np.testing.assert_array_equal(ms.dual, mm.dual)
    np.testing.assert_array_equal(ms.support, mm.support)


@given(separable_sets(), st.randoms(use_true_random=False))
def test_permutation_invariance(case, rnd) -> None:
    ds, _, _ = case
    perm = np.array(rnd.sample(range(ds.n), ds.n))
    mm = max_margin(ds)
    mp_ = max_margin(ds.z[perm])
    assert abs(mp_.gamma - mm.gamma) <= 4 * TOL * mm.gamma
    bound = direction_bound(mm, ds.z) + direction_bound(mp_, ds.z[perm])
    assert np.linalg.norm(mp_.ubar - mm.ubar) <= bound
    # The support sets agree except on points whose margin lies within the
    # direction's certified uncertainty of gamma (ill-conditioned data, e.g.
    # near-duplicate support vectors, make S itself ill-determined).
    differ = np.setxor1d(perm[mp_.support], mm.support)
    band = bound * np.linalg.norm(ds.z[differ], axis=1) + 4 * TOL * mm.gamma
    assert np.all(np.abs(mm.margins[differ] - mm.gamma) <= band)


@given(separable_sets(max_d=6), st.data())
def test_adding_a_point(case, data) -> None:
    """A new point never raises gamma; one on the far side of the margin changes nothing."""
    ds, _, _ = case
    mm = max_margin(ds)
    d = ds.d
    # (a) an arbitrary point in the unit ball
    z_new = data.draw(unit_vectors(d)) * data.draw(st.floats(0.0, 1.0))
    z_add = np.vstack([ds.z, z_new])
    try:
        m_add = max_margin(z_add)
    except NonSeparableError:
        pass  # gamma = 0 <= gamma
    except CertificateError:
        # Allowed only below float64's floor: the new margin is tiny relative to the data.
        m_add = max_margin(z_add, tol=1e-6)
        assert rounding_floor(z_add, m_add.gamma) > TOL / 100
        assert m_add.gamma <= mm.gamma * (1.0 + 4e-6)
    else:
        assert m_add.gamma <= mm.gamma * (1.0 + 4 * TOL)
    # (b) a point with <ubar, z> > gamma: same answer
    w = data.draw(unit_vectors(d))
    w = w - (w @ mm.ubar) * mm.ubar
    h = data.draw(st.floats(1.01, 2.0)) * mm.gamma
    z_far = h * mm.ubar + data.draw(st.floats(0.0, 1.0)) * w
    m_far = max_margin(np.vstack([ds.z, z_far]))
    assert abs(m_far.gamma - mm.gamma) <= 4 * TOL * mm.gamma
    z_all = np.vstack([ds.z, z_far])
    bound = direction_bound(mm, ds.z) + direction_bound(m_far, z_all)
    assert np.linalg.norm(m_far.ubar - mm.ubar) <= bound
    assert ds.n not in m_far.support


# --- closed forms ------------------------------------------------------------------------------


@given(st.integers(1, 8).flatmap(unit_vectors), st.floats(1e-3, 1.0))
def test_single_point(u: np.ndarray, r: float) -> None:
    z = (r * u)[None, :]
    mm = max_margin(z)
    assert_valid(mm, z)
    assert mm.gamma == pytest.approx(np.linalg.norm(z[0]), rel=4 * EPS)
    np.testing.assert_allclose(mm.ubar, z[0] / np.linalg.norm(z[0]), rtol=0, atol=4 * EPS)
    np.testing.assert_array_equal(mm.support, [0])
    np.testing.assert_array_equal(mm.dual, [1.0])


@given(st.integers(1, 8).flatmap(lambda d: st.tuples(unit_vectors(d), unit_vectors(d))), st.data())
def test_two_points(pair, data) -> None:
    u1, u2 = pair
    z1 = u1 * data.draw(st.floats(0.05, 1.0))
    z2 = u2 * data.draw(st.floats(0.05, 1.0))
    p, t = two_point_min_norm(z1, z2)
    assume(np.linalg.norm(p) > 0.05)
    z = np.vstack([z1, z2])
    mm = max_margin(z)
    assert_valid(mm, z)
    # The closed form itself carries rounding ~ eps / (1 - cos angle(z1, z2)); 1e-10 covers it
    # at the separation assumed above.
    assert mm.gamma == pytest.approx(np.linalg.norm(p), rel=1e-10)
    np.testing.assert_allclose(mm.ubar, p / np.linalg.norm(p), atol=1e-10)
    if 0.0 < t < 1.0 and np.linalg.norm(z1 - z2) > 0.05:  # interior point: unique weights
        np.testing.assert_allclose(mm.dual, [1.0 - t, t], atol=1e-10)


def test_two_orthogonal_points_in_high_dimension() -> None:
    """n < d: two orthogonal points of norm a in R^5 -> midpoint, gamma = a / sqrt(2)."""
    a = 0.6
    z = np.zeros((2, 5))
    z[0, 1] = z[1, 3] = a
    mm = max_margin(z)
    assert_valid(mm, z)
    assert mm.gamma == pytest.approx(a / math.sqrt(2.0), rel=4 * EPS)
    np.testing.assert_allclose(mm.ubar, [0, 1 / math.sqrt(2), 0, 1 / math.sqrt(2), 0], atol=4 * EPS)
    np.testing.assert_allclose(mm.dual, [0.5, 0.5], atol=4 * EPS)


@given(st.integers(3, 9), st.floats(0.05, 0.95), st.data())
def test_symmetric_cone(k: int, c: float, data) -> None:
    """k points evenly spaced on a circle of height c about an axis (d = 3).

    The hull's nearest point is the circle's centre: ubar = axis, gamma = c,
    all k points are support vectors (k > d of them when k >= 4: dual not unique).
    """
    q = data.draw(orthogonal_matrices(3))
    th = 2 * np.pi * np.arange(k) / k
    s = math.sqrt(1 - c * c) * data.draw(st.floats(0.1, 1.0))
    z = np.column_stack([np.full(k, c), s * np.cos(th), s * np.sin(th)]) @ q.T
    mm = max_margin(z)
    assert_valid(mm, z)
    assert mm.gamma == pytest.approx(c, rel=1e-13)
    np.testing.assert_allclose(mm.ubar, q[:, 0], atol=1e-13)
    np.testing.assert_array_equal(mm.support, np.arange(k))


def test_more_support_vectors_than_dimensions() -> None:
    """Four points on the line x = 0.3 in R^2 (affinely dependent support)."""
    z = np.array([[0.3, 0.1], [0.3, -0.1], [0.3, 0.5], [0.3, -0.7], [0.9, 0.0]])
    mm = max_margin(z)
    assert_valid(mm, z)
    assert mm.gamma == pytest.approx(0.3, rel=4 * EPS)
    np.testing.assert_allclose(mm.ubar, [1.0, 0.0], atol=4 * EPS)
    np.testing.assert_array_equal(mm.support, [0, 1, 2, 3])
    assert mm.dual[4] == 0.0


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(0.01, 1.0)), st.booleans())
def test_one_dimension(a: np.ndarray, negative: bool) -> None:
    sign = -1.0 if negative else 1.0
    z = sign * a[:, None]
    mm = max_margin(z)
    assert_valid(mm, z)
    assert mm.gamma == pytest.approx(a.min(), rel=4 * EPS)
    np.testing.assert_array_equal(mm.ubar, [sign])
    # S = argmin, up to the support tolerance (a few ulps of the largest |z_i|)
    s_tol = 4 * 3 * EPS * a.max()
    assert set(np.flatnonzero(a == a.min())) <= set(mm.support)
    assert set(mm.support) <= set(np.flatnonzero(a <= a.min() + s_tol))


@given(
    st.integers(1, 8).flatmap(unit_vectors),
    arrays(np.float64, st.integers(1, 10), elements=st.floats(0.01, 1.0)),
)
def test_collinear_points(v: np.ndarray, a: np.ndarray) -> None:
    z = np.outer(a, v)
    mm = max_margin(z)
    assert_valid(mm, z)
    assert mm.gamma == pytest.approx(a.min(), rel=8 * EPS)
    np.testing.assert_allclose(mm.ubar, v, atol=4 * EPS)
    assert set(np.flatnonzero(a == a.min())) <= set(mm.support)


@given(separable_sets(max_n=10), st.integers(2, 4))
def test_duplicating_every_point_changes_nothing(case, copies: int) -> None:
    ds, _, _ = case
    mm = max_margin(ds)
    z_rep = np.tile(ds.z, (copies, 1))
    mr = max_margin(z_rep)
    assert_valid(mr, z_rep)
    assert abs(mr.gamma - mm.gamma) <= 4 * TOL * mm.gamma
    bound = direction_bound(mm, ds.z) + direction_bound(mr, z_rep)
    assert np.linalg.norm(mr.ubar - mm.ubar) <= bound


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "z",
    [
        np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]) / 2,  # XOR
        np.array([[0.5, 0.0], [0.0, 0.0]]),  # contains z = 0
        np.array([[0.3], [-0.2]]),  # d = 1, opposite signs
    ],
)
def test_non_separable_input_raises_with_certificate(z: np.ndarray) -> None:
    with pytest.raises(NonSeparableError, match="max_margin again") as info:
        max_margin(z)
    lam = info.value.certificate
    assert np.all(lam >= 0) and abs(lam.sum() - 1) <= 4 * EPS
    assert np.linalg.norm(z.T @ lam) <= 1e-12
    ds = make_dataset(z, np.ones(z.shape[0]), require_separable=False)
    with pytest.raises(NonSeparableError):
        max_margin(ds)


def test_bad_inputs() -> None:
    with pytest.raises(ShapeError, match=r"\(n, 1\)"):
        max_margin(np.array([0.1, 0.2]))
    with pytest.raises(NonFiniteError, match=r"z\[1, 0\]"):
        max_margin(np.array([[0.1, 0.2], [np.nan, 0.1]]))
    with pytest.raises(ValueError, match="tol"):
        max_margin(np.array([[0.1, 0.2]]), tol=0.0)
    z = np.array([[0.5, 0.1]])
    with pytest.raises(ShapeError, match="ubar"):
        check_certificate(z, np.ones(3), 0.5, np.ones(1))
    with pytest.raises(ShapeError, match="dual"):
        check_certificate(z, np.ones(2), 0.5, np.ones(2))
    with pytest.raises(CertificateError, match="gamma"):
        check_certificate(z, np.array([1.0, 0.0]), -0.5, np.ones(1))
    with pytest.raises(CertificateError, match="not finite"):
        check_certificate(z, np.array([np.nan, 0.0]), 0.5, np.ones(1))


# --- negative controls --------------------------------------------------------------------------


@pytest.mark.meta
@given(separable_sets(), st.data())
def test_planted_wrong_answers_fail_the_certificate(case, data) -> None:
    """The checker is not vacuous: wrong (ubar, gamma, dual) triples are rejected.

    Resolution: a passing certificate bounds ``||u - ubar|| <= sqrt(2 delta)``
    with ``delta <= |gap| + infeas + unit_norm <= 3 tol`` (see
    :func:`direction_bound`), i.e. ~2.4e-6 at tol = 1e-12.  Directions closer
    than that to ubar may legitimately pass (and do, when support vectors
    nearly coincide); every planted direction here is farther, by construction.
    """
    ds, _, _ = case
    z = np.array(ds.z)
    n = ds.n
    mm = max_margin(ds)
    check_certificate(z, mm.ubar, mm.gamma, mm.dual, TOL)  # the truth passes
    uniform = np.full(n, 1.0 / n)
    resolution = 4 * math.sqrt(6 * TOL)  # 1e-5, with a factor 4 to spare

    def must_fail(u: np.ndarray, gamma: float, dual: np.ndarray) -> None:
        with pytest.raises(CertificateError, match="certificate failed"):
            check_certificate(z, u, gamma, dual, TOL)

    # (a) the normalised mean of the z_i: separating, but not optimal
    mean = unit(z.mean(axis=0))
    if np.min(z @ mean) > 0 and np.linalg.norm(mean - mm.ubar) > resolution:
        for dual in (uniform, mm.dual):
            must_fail(mean, float(np.min(z @ mean)), dual)
    # (b) ubar perturbed in a perpendicular direction, beyond the resolution
    if ds.d > 1:
        w = perp(data.draw(unit_vectors(ds.d)), mm.ubar)
        assume(np.linalg.norm(w) > 1e-3)
        for size in (1e-3, 2 * resolution):
            u = unit(mm.ubar + size * unit(w))
            for dual in (uniform, mm.dual):
                must_fail(u, float(np.min(z @ u)), dual)
    # (c) the right direction with a wrong gamma or an invalid dual
    must_fail(mm.ubar, mm.gamma * (1 + 1e-9), mm.dual)
    bad = mm.dual.copy()
    bad[np.argmax(bad)] *= 1 + 1e-9  # sum != 1
    must_fail(mm.ubar, mm.gamma, bad)
    # (d) a non-unit ubar
    must_fail(mm.ubar * (1 + 1e-9), mm.gamma, mm.dual)


@pytest.mark.meta
def test_negative_dual_fails_the_certificate() -> None:
    """A signed combination can hit gamma ubar exactly; only dual feasibility catches it."""
    z = np.array([[0.5, 0.2], [0.5, -0.2], [0.5, 0.6]])
    mm = max_margin(z)
    dual = np.array([1.5, 0.0, -0.5])  # Z^T dual = (0.5, 0) = gamma ubar, sum 1
    np.testing.assert_allclose(z.T @ dual, mm.gamma * mm.ubar, atol=1e-15)
    with pytest.raises(CertificateError, match="dual_feas"):
        check_certificate(z, mm.ubar, mm.gamma, dual, TOL)


# --- directions -------------------------------------------------------------------------------


def sin_reference(w: np.ndarray, u: np.ndarray) -> float:
    """||w - <w,u>u/||u||^2|| / ||w|| at 50 digits from the exact float inputs."""
    with mp.workdps(50):
        wm = [mp.mpf(float(c)) for c in w]
        um = [mp.mpf(float(c)) for c in u]
        uu = mp.fsum(c * c for c in um)
        proj = mp.fsum(a * b for a, b in zip(wm, um, strict=True)) / uu
        pm = [a - proj * b for a, b in zip(wm, um, strict=True)]
        return float(mp.sqrt(mp.fsum(c * c for c in pm)) / mp.sqrt(mp.fsum(c * c for c in wm)))


@given(
    st.integers(1, 8).flatmap(lambda d: st.tuples(unit_vectors(d), unit_vectors(d))),
    st.floats(-1e15, 1e15),
    st.floats(-10, 10),
)
def test_sin_angle_matches_mpmath(pair, a: float, b: float) -> None:
    """Absolute error <= 4 (d + 2) eps: the rounding floor of <w, ubar> in float64."""
    u, v = pair
    w = a * u + b * v
    assume(np.any(w != 0))
    d = u.size
    s = sin_angle(w, u)
    assert 0.0 <= s <= 1.0
    assert abs(s - sin_reference(w, u)) <= 4 * (d + 2) * EPS


@given(st.integers(2, 8), st.integers(0, 7), st.floats(1.0, 1e15), st.data())
def test_sin_angle_is_relatively_exact_for_an_exact_ubar(d, j, a, data) -> None:
    """ubar = e_j exactly: sin has full relative accuracy at any ||w||."""
    j = j % d
    u = np.zeros(d)
    u[j] = 1.0
    v = data.draw(arrays(np.float64, d, elements=st.floats(-1, 1)))
    v[j] = 0.0
    assume(np.any(v != 0))
    w = v.copy()
    w[j] = a
    exact = sin_reference(w, u)
    assert sin_angle(w, u) == pytest.approx(exact, rel=8 * EPS)


def test_one_minus_cos_rounds_to_zero_beyond_1e8() -> None:
    """NUMERICS.md: measure directions with the sine, never with 1 - cos."""
    u = np.array([1.0, 0.0, 0.0])
    for a in (1e8, 1e10, 1e13):
        w = np.array([a, 1.0, 0.0])
        one_minus_cos = 1.0 - float(w @ u) / float(np.linalg.norm(w))
        assert one_minus_cos == 0.0
        assert sin_angle(w, u) == pytest.approx(1.0 / math.hypot(a, 1.0), rel=4 * EPS)
    w = np.array([1e7, 1.0, 0.0])  # below the threshold 1 - cos is still resolved
    assert 1.0 - float(w @ u) / float(np.linalg.norm(w)) > 0.0


@given(
    st.integers(1, 8).flatmap(
        lambda d: st.tuples(unit_vectors(d), arrays(np.float64, (3, d), elements=st.floats(-1, 1)))
    ),
    st.integers(-1000, 1000),
)
def test_sin_angle_batches_and_scales(case, k: int) -> None:
    u, w = case
    assume(np.all(np.any(w != 0, axis=1)))
    s = sin_angle(w, u)
    assert isinstance(s, np.ndarray) and s.shape == (3,)
    d = u.size
    for row, value in zip(w, s, strict=True):  # 1-D and 2-D paths may round differently
        assert abs(sin_angle(row, u) - value) <= 4 * (d + 2) * EPS
    # power-of-two scaling is exact (no overflow for ||w|| up to 1e300), barring underflow
    wk = np.ldexp(w, k)
    if np.array_equal(np.ldexp(wk, -k), w):
        np.testing.assert_array_equal(sin_angle(wk, u), s)
    # perp really is perpendicular, to the accuracy of its own size
    wp = perp(w, u)
    for row, prow in zip(w, wp, strict=True):
        e = -int(np.frexp(np.max(np.abs(row)))[1])  # exact rescaling to unit size
        rs, ps = np.ldexp(row, e), np.ldexp(prow, e)
        lim = 4 * (d + 2) * EPS * (np.linalg.norm(ps) + EPS * np.linalg.norm(rs))
        # A subnormal result has absolute resolution 2^-1074 per component
        # whatever its size, and keeps that error when rescaled by 2^e.
        lim += 4 * (d + 2) * float(np.ldexp(np.finfo(float).smallest_subnormal, e))
        assert abs(float(ps @ u)) <= lim


def test_sin_angle_errors() -> None:
    u = np.array([1.0, 0.0])
    with pytest.raises(DataError, match="zero vector"):
        sin_angle(np.zeros(2), u)
    with pytest.raises(DataError, match="zero vector"):
        sin_angle(np.array([1.0, 1.0]), np.zeros(2))
    with pytest.raises(ShapeError, match="ubar"):
        sin_angle(np.ones(3), u)
    with pytest.raises(NonFiniteError):
        sin_angle(np.array([np.inf, 0.0]), u)
    assert sin_angle(np.array([3.0, 0.0]), u) == 0.0
    assert sin_angle(np.array([0.0, -2.0]), u) == 1.0
