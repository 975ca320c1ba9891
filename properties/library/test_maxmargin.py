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
- :func:`sin_angle` against a 50-digit mpmath reference, and the fact that
  ``1 - cos`` rounds to 0 once ``||w|| > 1e8`` (docs/numerics.md, "Measuring directions");
- the solver's less-travelled paths, each forced directly: NNLS failing (patched
  to raise, to return zeros, or to return a wrong point) and the cold start,
  Wolfe's major and minor cycles from wrong corrals, and the contracts of the
  private pieces (``_affine_min_norm``, ``_primal_on_support``, ``_fit_dual``,
  ``_best_candidate``); the documented API contracts of the certificate, of
  :class:`MaxMargin` and of :func:`perp` / :func:`sin_angle` (found missing by
  mutation testing: ``reports/mutation.md``).
"""

from __future__ import annotations

import math
from unittest import mock

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import minimize

from invariants.core import maxmargin as mm_module
from invariants.core.data import make_dataset, scale_by_power_of_two, separability_certificate
from invariants.core.maxmargin import (
    MaxMargin,
    check_certificate,
    max_margin,
    perp,
    rounding_floor,
    sin_angle,
)
from invariants.core.rounding import EPS, TINY
from invariants.errors import (
    CertificateError,
    DataError,
    NonFiniteError,
    NonSeparableError,
    ShapeError,
)
from properties.helpers import TOL, assert_valid, unit

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
    """Directions are measured with the sine, never with 1 - cos.

    docs/numerics.md, "Measuring directions".
    """
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


# --- the solver's less-travelled paths ------------------------------------------------------------
#
# Found by mutation testing (reports/mutation.md): these paths never ran on the data above
# (NNLS always succeeds and hands Wolfe the right support), so each is forced here directly.


def certified_tol(zs: np.ndarray, gamma_s: float) -> float:
    """The tolerance max_margin demands of its own answer: tol, floored by float64's floor."""
    return max(TOL, rounding_floor(zs, gamma_s))


def scaled(mm: MaxMargin, z: np.ndarray) -> tuple[np.ndarray, float]:
    """``(z 2^-k, gamma 2^-k)``: the power-of-two-scaled data the solver works on (exact)."""
    zs, k = scale_by_power_of_two(np.array(z))
    return zs, math.ldexp(mm.gamma, -k)


def assert_same_answer(got: MaxMargin, ref: MaxMargin, z: np.ndarray) -> None:
    """Two certified answers: each gamma is within |gap| + infeas <= 2 TOL of the true margin."""
    assert abs(got.gamma - ref.gamma) <= 4 * TOL * ref.gamma
    bound = direction_bound(ref, z) + direction_bound(got, z)
    assert np.linalg.norm(got.ubar - ref.ubar) <= bound


def fake_nnls(mode: str, calls: list[int]):
    """Stand-in for scipy's nnls: fails (``raise``), returns 0, or returns a wrong point."""

    def nnls(e: np.ndarray, f: np.ndarray, maxiter: int | None = None):
        calls.append(e.shape[1])
        if mode == "raise":
            raise RuntimeError("too many iterations (planted NNLS failure)")
        lam = np.zeros(e.shape[1])
        if mode == "wrong":  # all weight on the longest column z_i: a feasible, wrong point
            lam[int(np.argmax(np.linalg.norm(e[:-1], axis=0)))] = 1.0
        return lam, float(np.linalg.norm(e @ lam - f))

    return nnls


@given(separable_sets(max_n=15, max_d=6), st.sampled_from(["raise", "zeros", "wrong"]))
def test_nnls_failure_still_gives_the_certified_answer(case, mode: str) -> None:
    """Notation (gamma, ubar, S): the answer does not depend on NNLS succeeding.

    ``raise``: scipy's nnls raises RuntimeError (its iteration cap) both in the warm
    start and in ``_fit_dual``; ``zeros``: it returns lam = 0.  Either way max_margin
    must take the cold start (Wolfe from the shortest z_i, adding points by major
    cycles) and certify without the NNLS dual.  ``wrong``: all weight on the longest
    z_i, a wrong warm start that Wolfe's cycles must repair, and a wrong fitted dual
    that ``_best_candidate`` must reject.
    """
    ds, _, _ = case
    ref = max_margin(ds)
    calls: list[int] = []
    with mock.patch.object(mm_module, "nnls", fake_nnls(mode, calls)):
        got = max_margin(ds)
    assert calls  # the planted NNLS was the one used
    assert_valid(got, ds.z)
    assert_same_answer(got, ref, ds.z)


def test_zero_min_norm_point_raises_certificate_error() -> None:
    """A minimum-norm point of 0 (margin below float64's resolution) is reported, not divided by."""
    z = np.array([[0.5, 0.1], [0.4, -0.3]])

    def wolfe_to_zero(zs, corral, w, max_iter):
        return corral, w, np.zeros(zs.shape[1])

    with (
        mock.patch.object(mm_module, "_wolfe", wolfe_to_zero),
        pytest.raises(CertificateError, match="came out as 0"),
    ):
        max_margin(z)


@given(separable_sets(max_n=15, max_d=6), st.data())
def test_wolfe_from_a_wrong_corral_reaches_the_certified_answer(case, data) -> None:
    """Notation (gamma, ubar, S): Wolfe's major and minor cycles repair any start.

    Started from one point (major cycles must add the support), from every point or
    a random subset with random weights (minor cycles must drop the non-support
    points: their affine weights turn negative), ``_wolfe`` returns a corral and a
    probability vector w with x = Z_C^T w, and the rest of the pipeline
    (``_best_candidate``, then the certificate at max_margin's own tolerance)
    certifies the same answer as max_margin.
    """
    ds, _, _ = case
    ref = max_margin(ds)
    zs, gs = scaled(ref, ds.z)
    n, d = zs.shape
    start = data.draw(st.sampled_from(["one point", "every point", "subset"]), label="start")
    if start == "one point":
        corral = [data.draw(st.integers(0, n - 1), label="start point")]
    elif start == "every point":
        corral = list(range(n))
    else:
        chosen = data.draw(st.sets(st.integers(0, n - 1), min_size=1), label="start corral")
        corral = sorted(chosen)
    raw = data.draw(
        arrays(np.float64, len(corral), elements=st.floats(0.01, 1.0)), label="start weights"
    )
    out, w, x = mm_module._wolfe(zs, corral, raw / raw.sum(), max_iter=5 * (n + d) + 10)
    k = len(out)
    assert len(set(out)) == k == w.size and all(0 <= i < n for i in out)
    # w >= 0, not > 0: when the iteration cap binds right after a major cycle, the point
    # it added is still in the corral with weight 0.  (Observed from the 'every point'
    # start on data with more than d + 1 support ties: there the rounding of x makes a
    # tie look violating, the minor cycle drops it again at theta = 0, and Wolfe cycles
    # until max_iter.  The answer is still right; max_margin's NNLS start avoids it.)
    assert np.all(w >= 0.0)
    # sum(alpha) = 1 - fl(sum beta) + fl(sum beta): two recursive sums of k terms of total
    # size sum|w| = 1 (Higham (4.4)), each in error by at most (k - 1) eps; one more eps
    # for the final division of a renormalisation.
    assert abs(float(w.sum()) - 1.0) <= 2 * (k + 1) * EPS
    # x is a_0 + M beta (or Z_C^T w itself after a drop); both are the same convex
    # combination.  Dot products of k + 1 terms of size <= rmax (Higham (3.2)), M's
    # entries a_i - a_0 rounded (eps 2 rmax |beta_i|), alpha_0 = 1 - sum beta rounded
    # (k eps): at most (3 k + 4) eps rmax per component <= 4 (k + 2) eps rmax.
    rmax = float(np.max(np.linalg.norm(zs, axis=1)))
    lim_x = 4 * (k + 2) * EPS * rmax
    assert np.max(np.abs(x - zs[out].T @ w)) <= lim_x
    # x is in the hull, so ||x|| >= gamma (weak duality; the certified gamma is within
    # 2 TOL of the true one).
    assert np.linalg.norm(x) >= gs * (1.0 - 2 * TOL) - math.sqrt(d) * lim_x
    ubar, gamma, dual = mm_module._best_candidate(zs, out, w, x)
    check_certificate(zs, ubar, gamma, dual, certified_tol(zs, gamma))
    assert abs(gamma - gs) <= 4 * TOL * gs


def test_wolfe_drops_a_duplicate_that_enters_with_zero_weight() -> None:
    """The 'denominator 0' case of the minor cycle: w_i = alpha_i = 0 (an exact duplicate).

    A point enters the corral with weight 0 (as after a major cycle); as an exact
    duplicate of a corral point its affine weight is 0 too (lstsq's minimum-norm
    solution gives a zero column coefficient 0), so w_i - alpha_i = 0: the point must
    leave at theta = 0, without a division by zero.
    """
    z = np.array([[0.5, 0.25], [0.5, -0.25], [0.5, 0.25], [0.75, 0.0]])  # row 2 = row 0
    with np.errstate(divide="raise", invalid="raise"):
        corral, w, x = mm_module._wolfe(z, [0, 1, 2], np.array([0.5, 0.5, 0.0]), max_iter=20)
    assert corral == [0, 1]
    # The segment's midpoint (0.5, 0): the numbers are exact in binary, and lstsq's
    # answer carries a few eps of rounding at most.
    np.testing.assert_allclose(w, [0.5, 0.5], rtol=0, atol=8 * EPS)
    np.testing.assert_allclose(x, [0.5, 0.0], rtol=0, atol=8 * EPS)


def hypot_norm(v: np.ndarray) -> float:
    """Euclidean (Frobenius) norm without overflow or underflow of the squares."""
    return math.hypot(*np.ravel(v))


def affine_min_norm_failures(a: np.ndarray, alpha: np.ndarray, p: np.ndarray) -> list[str]:
    """Which parts of ``_affine_min_norm``'s contract ``(alpha, p)`` breaks, to rounding.

    Contract: ``sum alpha = 1``, ``a^T alpha = p``, ``p`` orthogonal to every ``a_i - a_0``.
    """
    k, d = a.shape
    out = []
    size = 1.0 + float(np.abs(alpha).sum())
    amax = float(np.max(np.abs(a)))
    # alpha_0 = 1 - fl(sum beta) and the sum of alpha: two recursive sums of k terms.
    if abs(float(alpha.sum()) - 1.0) > 2 * k * EPS * size:
        out.append("sum alpha != 1")
    # p = a_0 + M beta and a^T alpha: the same combination evaluated two ways, each a
    # (k+1)-term dot product of terms <= sum|alpha| amax, plus the rounding of M's
    # entries and of alpha_0: <= 4 (k + 1) eps (1 + sum|alpha|) amax per component.
    if np.max(np.abs(a.T @ alpha - p)) > 4 * (k + 1) * EPS * size * amax:
        out.append("a^T alpha != p")
    if k > 1:
        m = a[1:] - a[0]
        mnorm = hypot_norm(m)
        beta = alpha[1:]
        # SVD least squares is backward stable: beta is the exact solution for M + dM,
        # a_0 + da with ||dM|| <= c_{d,k} eps ||M|| (Higham, Accuracy and Stability,
        # Thm 20.3; c_{m,n} ~ m n, here d (k - 1) <= d k, doubled for the refinement
        # step), so ||M^T r|| <= 2 d k eps ||M|| (||r|| + ||M|| ||beta|| + ||a_0||); the
        # evaluation of M @ p adds d eps ||M|| ||p||.  Factor 2 for the two terms' sum.
        lim = (
            4 * d * k * EPS * mnorm * (hypot_norm(p) + mnorm * hypot_norm(beta) + hypot_norm(a[0]))
        )
        if np.max(np.abs(m @ p)) > lim:
            out.append("p not orthogonal to a_i - a_0")
    return out


@given(st.integers(1, 6), st.data())
def test_affine_min_norm_contract(d: int, data) -> None:
    """Notation (gamma = ||p*||): the affine minimum-norm point Wolfe's cycles rely on."""
    k = data.draw(st.integers(1, d + 1), label="k (rows)")
    a = data.draw(arrays(np.float64, (k, d), elements=st.floats(-1, 1)), label="rows a")
    assume(np.any(a != 0))
    # max_margin calls it on power-of-two-scaled rows (max |z_ij| in [1/2, 1)), so
    # scale as it does (exact). Unscaled subnormal rows are outside that domain: the
    # stress profile found a = 5e-324 e_1 plus zero rows, where LAPACK's SVD returns
    # p = -2 a_0 instead of 0 (every relative error bound assumes no underflow).
    a, _ = scale_by_power_of_two(a)
    alpha, p = mm_module._affine_min_norm(a)
    assert alpha.shape == (k,) and p.shape == (d,)
    assert affine_min_norm_failures(a, alpha, p) == []


@pytest.mark.meta
def test_affine_min_norm_check_rejects_planted_errors() -> None:
    """The contract check is not vacuous: each planted error is caught by its clause."""
    a = np.array([[0.5, 0.25, 0.0], [0.25, -0.5, 0.125], [0.75, 0.0, 0.5]])
    alpha, p = mm_module._affine_min_norm(a)
    assert affine_min_norm_failures(a, alpha, p) == []
    # alpha (1 + 1e-9): sums to 1 + 1e-9 and no longer reproduces p
    assert "sum alpha != 1" in affine_min_norm_failures(a, alpha * (1 + 1e-9), p)
    # p moved along a_1 - a_0 (and alpha moved with it): affine, but not the minimum norm
    shift = np.array([-1e-6, 1e-6, 0.0])
    moved = affine_min_norm_failures(a, alpha + shift, p + 1e-6 * (a[1] - a[0]))
    assert moved == ["p not orthogonal to a_i - a_0"]
    # p moved off the combination a^T alpha
    assert "a^T alpha != p" in affine_min_norm_failures(a, alpha, p + 1e-9)


@given(st.integers(1, 6), st.data())
def test_primal_on_support_solves_the_equalities(d: int, data) -> None:
    """Notation (ubar = u / ||u||): ``<u, z_i> = 1`` on the support rows, backward stably.

    ``lstsq`` (SVD) is backward stable: the computed u solves (Z_C + dZ) u = 1 with
    ||dZ|| <= c eps ||Z_C|| (c ~ k d, Higham Thm 20.3; doubled for the refinement step),
    so |<u, z_i> - 1| <= 2 k d eps ||Z_C|| ||u||, plus d eps ||z_i|| ||u|| for evaluating
    <u, z_i>.
    """
    k = data.draw(st.integers(1, d), label="k (rows)")
    zc = data.draw(arrays(np.float64, (k, d), elements=st.floats(-1, 1)), label="rows z_C")
    # The library solves on support rows of power-of-two-scaled data (||z_i|| >= gamma_s),
    # never near float64's range limits: keep u = O(1/|z|) far from overflow.
    assume(np.all(np.max(np.abs(zc), axis=1) >= 1e-100))
    s = np.linalg.svd(zc, compute_uv=False)
    assume(s[-1] > 1e-6 * s[0])  # full row rank, so that the equalities are consistent
    u = mm_module._primal_on_support(zc)
    lim = (2 * k * d + d) * EPS * np.linalg.norm(zc) * np.linalg.norm(u)
    assert np.max(np.abs(zc @ u - 1.0)) <= lim


@given(separable_sets(max_n=15, max_d=6), st.data())
def test_best_candidate_repairs_wrong_weights_and_an_inaccurate_p(case, data) -> None:
    """Notation (gamma, ubar, dual): each candidate of ``_best_candidate`` earns its place.

    (a) Wrong convex weights on the right support: the NNLS-fitted dual
    (``_fit_dual``) must give a certified answer; ``_fit_dual`` alone returns a
    probability vector that certifies with the true (ubar, gamma).  (b) A minimum-norm
    point p off by 1e-4 gamma (an inaccurate Wolfe point): the primal candidate
    (``_primal_on_support``) must give the certified direction.
    """
    ds, _, _ = case
    ref = max_margin(ds)
    zs, gs = scaled(ref, ds.z)
    n, d = zs.shape
    corral = [int(i) for i in ref.support]
    k = len(corral)
    raw = data.draw(arrays(np.float64, k, elements=st.floats(0.01, 1.0)), label="wrong weights")
    ubar, gamma, dual = mm_module._best_candidate(zs, corral, raw / raw.sum(), gs * ref.ubar)
    check_certificate(zs, ubar, gamma, dual, certified_tol(zs, gamma))
    assert abs(gamma - gs) <= 4 * TOL * gs
    mu = mm_module._fit_dual(zs[corral], ref.ubar, gs)
    assert mu is not None and np.all(mu >= 0.0)
    assert abs(float(mu.sum()) - 1.0) <= 2 * k * EPS  # mu / sum(mu): k-term sums
    fitted = np.zeros(n)
    fitted[corral] = mu
    check_certificate(zs, ref.ubar, gs, fitted, certified_tol(zs, gs))
    # (b) needs a well-conditioned support: the primal direction is a backward-stable
    # solve, so its forward error is ~ 4 (d + 2) eps cond(Z_C) (along the badly
    # determined direction), which the stationarity check sees; below 1e-12 only when
    # cond(Z_C) <= 1e-12 / (4 (d + 2) eps).  (For ill-conditioned supports the accurate
    # p of Wolfe's algorithm is what certifies: the p-direction candidate.)
    sv = np.linalg.svd(np.unique(zs[corral], axis=0), compute_uv=False)
    well_conditioned = sv[0] <= sv[-1] * TOL / (4 * (d + 2) * EPS)
    event(f"support well conditioned: {well_conditioned}")
    if d > 1 and well_conditioned:
        r = perp(data.draw(unit_vectors(d), label="error direction"), ref.ubar)
        assume(np.linalg.norm(r) > 1e-3)
        p_bad = gs * ref.ubar + 1e-4 * gs * unit(r)
        ubar, gamma, dual = mm_module._best_candidate(zs, corral, ref.dual[corral], p_bad)
        check_certificate(zs, ubar, gamma, dual, certified_tol(zs, gamma))
        assert abs(gamma - gs) <= 4 * TOL * gs


@pytest.mark.meta
def test_best_candidate_without_its_repairs_fails() -> None:
    """Negative controls: without the NNLS fit, or without the primal candidate, the
    planted defects of the test above are not repaired and the certificate fails."""
    z = np.array([[0.3, 0.1], [0.3, -0.1], [0.3, 0.5], [0.3, -0.7], [0.9, 0.0]])
    ref = max_margin(z)
    zs, gs = scaled(ref, z)
    corral = [0, 1, 2, 3]
    # Uniform weights: Z_C^T w = (0.3, -0.05) 2^-k, not gamma ubar = (0.3, 0) 2^-k.
    uniform = np.full(4, 0.25)
    with mock.patch.object(mm_module, "_fit_dual", lambda zc, ubar, gamma: None):
        ubar, gamma, dual = mm_module._best_candidate(zs, corral, uniform, gs * ref.ubar)
    with pytest.raises(CertificateError, match="certificate failed"):
        check_certificate(zs, ubar, gamma, dual, TOL)
    # p off by 1e-4 gamma: the p-direction's margins drop by ~1e-4 relative.
    p_bad = gs * (ref.ubar + np.array([0.0, 1e-4]))
    with mock.patch.object(mm_module, "_primal_on_support", lambda zc: np.zeros(zc.shape[1])):
        ubar, gamma, dual = mm_module._best_candidate(zs, corral, ref.dual[corral], p_bad)
    with pytest.raises(CertificateError, match="certificate failed"):
        check_certificate(zs, ubar, gamma, dual, TOL)


# --- API contracts: certificate, MaxMargin, support set -------------------------------------------


def residual_formulas(z, ubar, gamma, dual) -> dict[str, float]:
    """The residuals as MaxMarginCertificate's docstring defines them, evaluated afresh."""
    m = z @ ubar
    p = z.T @ dual
    return {
        "duality_gap_rel": (float(np.linalg.norm(p)) - float(m.min())) / gamma,
        "primal_infeas": max(0.0, gamma - float(m.min())) / gamma,
        "kkt_stationarity": float(np.linalg.norm(p - gamma * ubar)) / gamma,
        "complementary_slackness": float(np.max(dual * np.abs(m - gamma))) / gamma,
        "dual_feas": max(float(np.max(np.maximum(-dual, 0.0))), abs(float(dual.sum()) - 1.0)),
        "unit_norm": abs(float(np.linalg.norm(ubar)) - 1.0),
    }


@given(separable_sets(max_n=10, max_d=5), st.data())
def test_certificate_residuals_are_their_formulas_and_scale_free(case, data) -> None:
    """Notation: the certificate's residuals on an arbitrary triple (ubar, gamma, dual).

    Each equals its documented formula, ``max_residual`` is the largest absolute one,
    and all are invariant under ``z -> c z, gamma -> c gamma`` for any c > 0 (not only
    powers of two).
    """
    ds, _, _ = case
    z = np.array(ds.z)
    n, d = z.shape
    ubar = data.draw(arrays(np.float64, d, elements=st.floats(-1, 1)), label="ubar")
    gamma = data.draw(st.floats(1e-2, 10.0), label="gamma")
    dual = data.draw(arrays(np.float64, n, elements=st.floats(-1, 1)), label="dual")
    c = data.draw(st.floats(1e-3, 1e3), label="scale c")
    cert = check_certificate(z, ubar, gamma, dual, tol=1e300)
    got = cert.as_dict()
    assert cert.max_residual == max(abs(v) for v in got.values())
    # Rounding: every residual is built from sums / dot products / norms of at most
    # n + d terms (Higham (3.2)), whose sizes are bounded by
    # s = (sum|dual| rmax + ||ubar|| rmax) / gamma + 1 + ||ubar|| + sum|dual|; the
    # library also evaluates on 2^-k z (exact).  So each differs from a fresh
    # evaluation by <= 2 (n + d + 2) eps s; the scaled copy c z carries one more
    # rounding (eps per entry), hence 4 (n + d + 2) eps s for the invariance.
    rmax = float(np.max(np.linalg.norm(z, axis=1)))
    sd, su = float(np.abs(dual).sum()), float(np.linalg.norm(ubar))
    s = (sd * rmax + su * rmax) / gamma + 1.0 + su + sd
    lim = 2 * (n + d + 2) * EPS * s
    for name, value in residual_formulas(z, ubar, gamma, dual).items():
        assert abs(got[name] - value) <= lim, name
    scaled_cert = check_certificate(c * z, ubar, c * gamma, dual, tol=1e300).as_dict()
    for name, value in got.items():
        assert abs(scaled_cert[name] - value) <= 2 * lim, name
    # Planted near-misses of the true answer break several conditions by the same
    # first-order amount delta (|gap| = stationarity = unit_norm = delta for ubar
    # (1 + delta); gap, stationarity, dual_feas for dual (1 + delta)), so which residual
    # is largest is decided by rounding: max_residual must still be the largest one.
    mm = max_margin(ds)
    delta = data.draw(st.floats(1e-9, 1e-3), label="delta")
    for triple in (
        (mm.ubar * (1 + delta), mm.gamma, mm.dual),
        (mm.ubar, mm.gamma, mm.dual * (1 + delta)),
        (mm.ubar, mm.gamma * (1 + delta), mm.dual),
    ):
        near = check_certificate(z, *triple, tol=1e300)
        assert near.max_residual == max(abs(v) for v in near.as_dict().values())


def test_certificate_tolerance_contract() -> None:
    """The default tol (1e-12) rejects a planted wrong answer; a residual equal to tol passes."""
    z = np.array([[0.5, 0.2], [0.5, -0.2], [0.5, 0.6]])
    mm = max_margin(z)
    check_certificate(z, mm.ubar, mm.gamma, mm.dual)  # the truth passes the default
    wrong = mm.gamma * (1 + 1e-9)  # residuals ~1e-9, far above the default tol
    with pytest.raises(CertificateError, match="certificate failed"):
        check_certificate(z, mm.ubar, wrong, mm.dual)
    r = check_certificate(z, mm.ubar, wrong, mm.dual, tol=1.0).max_residual
    assert r > 0.0
    assert check_certificate(z, mm.ubar, wrong, mm.dual, tol=r).max_residual == r  # <= tol
    with pytest.raises(CertificateError, match="certificate failed"):
        check_certificate(z, mm.ubar, wrong, mm.dual, tol=float(np.nextafter(r, 0.0)))


def test_certificate_and_solver_validation() -> None:
    z = np.array([[0.5, 0.1]])
    u = np.array([1.0, 0.0])
    for gamma in (0.0, -0.5, math.inf, math.nan):
        with pytest.raises(CertificateError, match="not a positive finite number"):
            check_certificate(z, u, gamma, np.ones(1))
    with pytest.raises(CertificateError, match=r"ubar\[0\] = nan"):
        check_certificate(z, np.array([np.nan, np.nan]), 0.5, np.ones(1))
    with pytest.raises(CertificateError, match=r"dual\[0\] = inf"):
        check_certificate(np.vstack([z, z]), u, 0.5, np.array([np.inf, np.inf]))
    with pytest.raises(ShapeError, match="n >= 1"):
        max_margin(np.zeros((0, 2)))
    with pytest.raises(ShapeError, match="n >= 1"):
        check_certificate(np.zeros((0, 2)), u, 0.5, np.zeros(0))
    for w in (np.array(1.0), np.ones((2, 2, 2))):
        with pytest.raises(ShapeError, match=r"\(d,\) or \(m, d\)"):
            perp(w, u)
        with pytest.raises(ShapeError, match=r"\(d,\) or \(m, d\)"):
            sin_angle(w, u)


def test_max_margin_arrays_are_read_only() -> None:
    """MaxMargin's docstring: immutable, its arrays read-only."""
    mm = max_margin(np.array([[0.5, 0.2], [0.5, -0.2], [0.75, 0.6]]))
    for name in ("ubar", "dual", "margins", "support"):
        arr = getattr(mm, name)
        assert not arr.flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0


@given(st.floats(1e-3, 5e-3), st.floats(0.25, 0.5, exclude_max=True))
def test_a_point_just_off_the_margin_is_not_a_support_vector(g: float, h: float) -> None:
    """Notation (S = {i : <ubar, z_i> = gamma}): a margin of gamma (1 + 1e-9) is not a tie.

    z_1, z_2 = (g, +-h) give ubar = e_1, gamma = g; z_3 = (g (1 + 1e-9), 0) lies beyond
    the margin by 1e-9 g.  The data are scaled by exactly 2 (max |z_ij| = h in
    [1/4, 1/2)), where the support tolerance is max(tol 2g, 4 (d + 2) eps rmax_s) <=
    max(1e-14, 3.6e-15), while z_3 sits 2e-9 g >= 2e-12 beyond (and the margins carry
    rounding ~eps): it must not be in S.  z_1, z_2 must.
    """
    z = np.array([[g, h], [g, -h], [g * (1 + 1e-9), 0.0]])
    mm = max_margin(z)
    assert mm.gamma == pytest.approx(g, rel=certified_tol(2 * z, 2 * g))
    np.testing.assert_array_equal(mm.support, [0, 1])


def test_every_point_with_positive_dual_is_in_the_support() -> None:
    """MaxMargin.support: 'plus every point with a positive dual weight', even off the margin.

    A certified dual may carry a weight of rounding size on a non-support point (here
    1e-14 on z_3, whose margin is 1.5 gamma: its complementary-slackness and
    stationarity residuals are ~1e-14, far below tol); S must still include it.
    """
    z = np.array([[0.5, 0.25], [0.5, -0.25], [0.75, 0.0]])
    real = mm_module._best_candidate

    def tiny_weight_off_the_margin(zs, corral, w, p):
        ubar, gamma, dual = real(zs, corral, w, p)
        dual = dual.copy()
        dual[2] += 1e-14
        dual[0] -= 1e-14
        return ubar, gamma, dual

    with mock.patch.object(mm_module, "_best_candidate", tiny_weight_off_the_margin):
        mm = max_margin(z)
    assert mm.dual[2] > 0.0 and mm.margins[2] > 1.4 * mm.gamma
    np.testing.assert_array_equal(mm.support, [0, 1, 2])


@given(separable_sets(max_n=10, max_d=5))
def test_float32_input_is_computed_in_float64(case) -> None:
    """The docstrings promise float64 work: float32 input gives its float64 cast's answer."""
    ds, _, _ = case
    z32 = np.array(ds.z, dtype=np.float32)
    z64 = z32.astype(np.float64)
    assume(np.all(np.any(z32 != 0, axis=1)))
    try:
        want = max_margin(z64)
    except (NonSeparableError, CertificateError):
        event("float32 rounding made the data uncertifiable")
        return  # the float32 rounding can destroy separability or the margin; not the point
    got = max_margin(z32)
    assert got.gamma == want.gamma
    np.testing.assert_array_equal(got.ubar, want.ubar)
    u32, d32 = want.ubar.astype(np.float32), want.dual.astype(np.float32)
    a = check_certificate(z32, u32, np.float32(want.gamma), d32, tol=1e300).as_dict()
    b = check_certificate(
        z64,
        u32.astype(np.float64),
        float(np.float32(want.gamma)),
        d32.astype(np.float64),
        tol=1e300,
    ).as_dict()
    assert a == b
    w32 = z32[0]
    assert perp(w32, u32).dtype == np.float64
    np.testing.assert_array_equal(perp(w32, u32), perp(z64[0], u32.astype(np.float64)))
    assert sin_angle(w32, u32) == sin_angle(z64[0], u32.astype(np.float64))


# --- perp and sin_angle: scale, the length of ubar, the clamp -------------------------------------


def perp_reference(w: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``w - <w, u> u / ||u||^2`` at 50 digits from the exact float inputs."""
    with mp.workdps(50):
        wm = [mp.mpf(float(c)) for c in w]
        um = [mp.mpf(float(c)) for c in u]
        proj = mp.fsum(a * b for a, b in zip(wm, um, strict=True)) / mp.fsum(c * c for c in um)
        return np.array([float(a - proj * b) for a, b in zip(wm, um, strict=True)])


@given(
    st.integers(1, 8).flatmap(
        lambda d: st.tuples(
            unit_vectors(d),
            arrays(np.float64, (4, d), elements=st.floats(-1, 1)),
            arrays(np.int64, 4, elements=st.integers(-990, 990)),
        )
    ),
    st.integers(-20, 20),
)
def test_perp_at_any_scale(case, j: int) -> None:
    """perp(w, u) = w - <w, u> u for rows of any size (2^-990 .. 2^990, one batch).

    Error: normalising u and the two Gram-Schmidt passes each cost a d-term dot
    product and an axpy at unit scale: <= 4 (d + 2) eps ||w|| per component; a
    subnormal output component has absolute resolution 2^-1074 whatever its size.
    Scaling a row by 2^j scales its perp by 2^j exactly (per-row power-of-two
    scaling), barring subnormals.
    """
    u, v, ks = case
    d = u.size
    w = np.ldexp(v, ks[:, None])
    assume(np.all(np.any(w != 0, axis=1)))  # sin_angle of a zero row raises
    wp = perp(w, u)
    tiny = float(np.finfo(np.float64).smallest_subnormal)
    for row, prow in zip(w, wp, strict=True):
        lim = 4 * (d + 2) * (EPS * hypot_norm(row) + tiny)
        assert np.max(np.abs(prow - perp_reference(row, u))) <= lim
    # sin_angle scales each row on its own too: a batch of rows 2^+-990 apart gives the
    # row-wise values (the 1-D and 2-D paths may round differently: 4 (d + 2) eps).
    s = sin_angle(w, u)
    for row, value in zip(w, s, strict=True):
        if np.any(row != 0):
            assert abs(sin_angle(row, u) - value) <= 4 * (d + 2) * EPS
    wj = np.ldexp(w, j)
    pj = perp(wj, u)
    normal = TINY
    exact = np.array_equal(np.ldexp(wj, -j), w) and all(
        np.all((x == 0) | (np.abs(x) >= normal)) for x in (w, wj, wp, pj)
    )
    if exact:
        np.testing.assert_array_equal(pj, np.ldexp(wp, j))


@given(
    st.integers(1, 8).flatmap(
        lambda d: st.tuples(unit_vectors(d), arrays(np.float64, d, elements=st.floats(-1, 1)))
    ),
    st.floats(1e-3, 1e3),
)
def test_perp_and_sin_angle_ignore_the_length_of_ubar(case, c: float) -> None:
    """ubar is normalised first: u and c u (c > 0) give the same answers, to rounding.

    Both are within 4 (d + 2) eps ||w|| of the same exact projection (see
    test_perp_at_any_scale), and the sines within 4 (d + 2) eps of the same sine.
    """
    u, w = case
    assume(np.any(w != 0))
    d = u.size
    lim = 4 * (d + 2) * EPS
    assert np.max(np.abs(perp(w, c * u) - perp(w, u))) <= 2 * lim * hypot_norm(w)
    assert abs(sin_angle(w, c * u) - sin_angle(w, u)) <= 2 * lim


def test_perp_and_sin_angle_at_the_ends_of_the_range() -> None:
    """Rows near the largest float (<w, u> itself would overflow unscaled) and near 1e-300."""
    u = np.array([1.0, 1.0]) / math.sqrt(2.0)
    w = np.array([[1.5e308, 1.5e308], [1.5e308, -1.5e308], [1e-300, -3e-300]])
    wp = perp(w, u)
    for row, prow in zip(w, wp, strict=True):
        # 4 (d + 2) eps ||w|| (see test_perp_at_any_scale), ||w|| evaluated without overflow
        lim = 16 * EPS * hypot_norm(row / 2.0) * 2.0
        assert np.all(np.isfinite(prow))
        assert np.max(np.abs(prow - perp_reference(row, u))) <= lim
    s = sin_angle(w, u)
    assert s[0] <= 16 * EPS and s[1] == pytest.approx(1.0, abs=16 * EPS)
    for row, value in zip(w, s, strict=True):
        assert abs(sin_angle(row, u) - value) <= 16 * EPS
    # d = 8, w parallel to u with entries 1.7e308: <w, u> = 4.8e308 even at half scale
    u8 = np.ones(8) / math.sqrt(8.0)
    w8 = np.full(8, 1.7e308)
    p8 = perp(w8, u8)
    assert np.all(np.isfinite(p8))
    assert np.max(np.abs(p8)) <= 4 * 10 * EPS * hypot_norm(w8 / 16.0) * 16.0
    assert sin_angle(w8, u8) <= 4 * 10 * EPS


@given(
    st.integers(2, 8).flatmap(
        lambda d: st.tuples(unit_vectors(d), arrays(np.float64, d, elements=st.floats(-1, 1)))
    ),
    st.floats(1e6, 1e12),
)
def test_perp_is_orthogonal_relative_to_its_own_size(case, a: float) -> None:
    """perp's docstring: after the second pass the component along ubar is O(eps ||w_perp||).

    For w = a u + v (v perpendicular, ||v|| = 1, a up to 1e12) one pass leaves
    ~eps ||w|| = eps a along u, far above eps ||w_perp||.  The second pass is a d-term
    dot product and an axpy on the first pass's result (norm <= ||w_perp|| + (d + 2)
    eps ||w||): its residue is <= (d + 2) eps (||w_perp|| + (d + 2) eps ||w||); factor 4
    for the normalisation of u.
    """
    u, v = case
    d = u.size
    v = perp(v, u)
    assume(np.linalg.norm(v) > 1e-3)
    w = a * u + v / np.linalg.norm(v)
    wp = perp(w, u)
    lim = 4 * (d + 2) * EPS * (np.linalg.norm(wp) + (d + 2) * EPS * np.linalg.norm(w))
    assert abs(float(wp @ u)) <= lim


# Orthogonal pairs (w, u) for which ||perp(w)|| / ||w|| rounds to 1 + 2^-52 before the clamp
# (found by a search over random pairs on the dev machine; about 1 pair in 100 does).
ROUNDS_ABOVE_ONE = [
    ([-0.298964279853052, -0.1435061476010335], [-0.4327391387448244, 0.9015191832669938]),
    (
        [0.4523067406119402, 0.33516217489181654, 0.6359377471210325],
        [0.23982182490157983, 0.7780453381619827, -0.580629782275489],
    ),
    (
        [
            -1.5181163972851965,
            -0.3613512194048225,
            0.24215110542463344,
            -0.22384080309017487,
            1.4909546165859615,
        ],
        [
            0.45541252113354325,
            0.36462521624349814,
            0.591321059007514,
            -0.3898315477676906,
            0.397515605748317,
        ],
    ),
]


@pytest.mark.parametrize(("w", "u"), ROUNDS_ABOVE_ONE)
def test_sin_angle_is_at_most_one_and_a_float(w: list[float], u: list[float]) -> None:
    """sin_angle's docstring: a value in [0, 1]; a (d,) w gives a Python float."""
    w_arr, u_arr = np.array(w), np.array(u)
    s = sin_angle(w_arr, u_arr)
    assert type(s) is float
    assert 0.0 <= s <= 1.0
    batch = sin_angle(np.vstack([w_arr, 3.0 * w_arr]), u_arr)
    assert isinstance(batch, np.ndarray) and np.all(batch <= 1.0)
    assert type(sin_angle(1.0 - 1e-3 * w_arr, u_arr)) is float


@pytest.mark.parametrize(
    ("z", "gamma", "expected"),
    [
        # rows of norms 5, 1, sqrt 2 (exact 5 = sqrt(9 + 16)); d = 2; n = 3 != d
        (np.array([[3.0, 4.0], [0.0, 1.0], [1.0, 1.0]]), 0.5, 4 * 4 * EPS * 5.0 / 0.5),
        # norms 7 = sqrt(4 + 9 + 36) and 1; d = 3; n = 2
        (np.array([[2.0, 3.0, 6.0], [1.0, 0.0, 0.0]]), 0.25, 4 * 5 * EPS * 7.0 / 0.25),
        # d = 1, a negative entry
        (np.array([[-2.0], [0.5]]), 0.5, 4 * 3 * EPS * 2.0 / 0.5),
    ],
)
def test_rounding_floor_formula(z: np.ndarray, gamma: float, expected: float) -> None:
    """rounding_floor = 4 (d + 2) eps max_i ||z_i|| / gamma (every operation exact here)."""
    assert rounding_floor(z, gamma) == expected


def _nearly_active_triple(gamma: float, angle: float, t: tuple, delta: float) -> np.ndarray:
    """Two support vectors ``gamma ubar + t_i v`` and a third point at margin ``gamma (1 + delta)``.

    In d = 2 the three lie (nearly) on the margin line, so they are affinely
    dependent: the exact answer has dual weights on the first two only.
    """
    ubar = np.array([math.cos(angle), math.sin(angle)])
    v = np.array([-ubar[1], ubar[0]])
    return np.array(
        [
            gamma * ubar + t[0] * v,
            gamma * ubar - t[1] * v,
            gamma * (1.0 + delta) * ubar + t[2] * v,
        ]
    )


@given(
    gamma=st.floats(-3.0, -1.0).map(lambda e: 10.0**e),
    angle=st.floats(0.0, 2 * math.pi),
    t=st.tuples(st.floats(0.3, 0.9), st.floats(0.3, 0.9), st.floats(0.3, 0.9)),
    delta=st.floats(-13.0, -9.0).map(lambda e: 10.0**e),
)
def test_best_candidate_ignores_a_nearly_active_zero_weight_point(gamma, angle, t, delta) -> None:
    """Notation (ubar, gamma, dual): Wolfe may end with a zero-weight, nearly active point.

    Regression (stress profile, via S-A2a's data): with ``z_3`` at margin
    ``gamma (1 + 1e-11)`` in Wolfe's corral at weight 0, the support
    equalities ``<u, z_i> = 1`` on all three are inconsistent and their
    least-squares compromise tilted ubar: residual 8e-12 against the
    rounding floor 3.5e-12.  Complementary slackness asks for equality only
    where the dual is positive, so ``_best_candidate`` must certify at the
    floor (:func:`rounding_floor`, derived there) and so must ``max_margin``.
    Negative control: the whole-corral primal direction alone (the old
    behaviour) misses the floor on the recorded case.
    """
    z = _nearly_active_triple(gamma, angle, t, delta)
    zs, _ = scale_by_power_of_two(z)
    w = np.array([t[1], t[0], 0.0]) / (t[0] + t[1])  # the exact convex weights, z_3 at 0
    ubar, g, dual = mm_module._best_candidate(zs, [0, 1, 2], w, zs.T @ w)
    residual = mm_module._residuals(zs, ubar, g, dual).max_residual
    assert residual <= rounding_floor(zs, g), (
        f"_best_candidate: residual {residual:.3e} > floor {rounding_floor(zs, g):.3e} "
        f"(gamma={gamma!r}, angle={angle!r}, t={t!r}, delta={delta!r})"
    )
    max_margin(z)  # raises CertificateError if the public answer misses max(1e-12, floor)


def test_whole_corral_direction_misses_the_floor_on_the_recorded_case() -> None:
    """Control for the property above: the old candidate (all corral rows as equalities) fails."""
    z = _nearly_active_triple(1.9e-3, 0.7, (0.6, 0.5, 0.4), 2e-10)
    zs, _ = scale_by_power_of_two(z)
    u = mm_module._primal_on_support(zs)
    g = 1.0 / float(np.linalg.norm(u))
    w = np.array([0.5, 0.6, 0.0]) / 1.1
    residual = mm_module._residuals(zs, u * g, g, w).max_residual
    assert residual > rounding_floor(zs, g)
