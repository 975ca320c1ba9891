"""Lemma 3 (S-L3: theta > 0 under A3) and Lemma 4 (S-L4: the gradient-sign condition).

What is checked:

- S-L3 on data where A3 holds by construction (:func:`invariants.strategies.a3_datasets`):
  theta > 0 with a passing certificate (upper-bound witness, facet lower
  bound); the simplex closed form against Qhull (or the interval formula for
  d = 2) and against the construction's own closed form; the lower bound
  sampled over random directions perpendicular to ubar; extra support vectors
  (Qhull path).  Where the support vectors do not span R^d (collinear,
  underdetermined, points in a subspace) theta = 0 is detected, with a
  witness, and ``require_a3`` refuses.  On any separable data the certificate
  passes, whatever the path.
- S-L4 for both losses: the sign condition at drawn w with ``<w, ubar> >= 0``
  and ``||w_perp|| = K * factor``, factor in [1, 1e6], ``||w||`` up to ~1e12;
  and a deterministic targeted search for the largest failing
  ``||w_perp||`` (K_emp), asserted <= K and recorded as an observation
  (how loose the printed K is).
- :func:`perp_gradient_sign` against a 60-digit mpmath reference up to
  ``||w|| = 1e13``.
- Meta-tests of the strategy (``@pytest.mark.meta``): it keeps its promises.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from invariants import strategies as S
from invariants.core.data import make_dataset, unit_norm_slack
from invariants.core.lemma4 import l4_empirical_threshold, lemma4_threshold, perp_gradient_sign
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin, perp
from invariants.core.rounding import EPS
from invariants.core.theta import (
    check_theta_certificate,
    h_support,
    rank_tolerance,
    require_a3,
    theta,
)
from invariants.errors import AssumptionError
from invariants.statements import Slack
from properties.claims import lemmas34 as lc

mp.mp.dps = 60


def _rng(seed: int) -> np.random.Generator:
    """A generator for directions, independent of the data's ``default_rng(seed)``.

    The data strategies draw ubar first from ``default_rng(seed)``; directions
    drawn from the same stream (Hypothesis shrinks both seeds to 0) would be
    parallel to ubar, with no perpendicular part to speak of.
    """
    return np.random.default_rng([seed, 0x5EED])


def _unit_perp(rng: np.random.Generator, ubar: np.ndarray) -> np.ndarray:
    """A random unit vector perpendicular to ubar (redrawn if nearly parallel)."""
    while True:
        xi = perp(rng.standard_normal(ubar.size), ubar)
        nx = float(np.linalg.norm(xi))
        if nx > 1e-3:
            return xi / nx


# --- meta-tests of the strategy -------------------------------------------------------------------


@pytest.mark.meta
@given(A=S.a3_datasets(extra=(0, 2)))
def test_a3_datasets_keep_their_promises(A: S.A3Data) -> None:
    """Meta: a3_datasets keeps its promises: A3, the stated ubar/gamma/support, theta > 0.

    ubar and gamma are compared with max_margin's.  The construction puts the
    support vectors on the margin to rounding (``|<ubar, z_i> - gamma| <= 4 (d + 2) eps``,
    asserted).  Tolerance (first order): ``u = ubar / gamma`` solves
    ``Z_S u = 1`` on the d simplex support vectors; for max_margin's answer
    ``u^ = ubar^ / gamma^`` the residual is ``Z_S u^ - 1 = (m_S - gamma^) / gamma^``, and
    the stored rows differ from the exact construction by ``||E||_2 <= sqrt(d) eps max||z_i||``
    plus the margins' own rounding ``(d + 2) eps max||z_i||``.  So
    ``||u^ - u|| <= ||Z_S^{-1}|| (||m_S - gamma^|| + (sqrt(d) + d + 2) eps max||z_i||) / gamma``
    and ``||ubar^ - ubar|| <= 2 gamma ||u^ - u||``, gamma likewise relatively;
    twice that is allowed (first order).
    """
    z, d, n = A.z, A.d, A.n
    assert A.drawn.family == "a3"
    assert np.all(np.linalg.norm(A.data.x, axis=1) <= 1.0 + unit_norm_slack(d))
    assert A.drawn.margin_lower_bound >= 0.02
    assert n >= d + A.extra and 2 <= d <= 6
    assert np.all(A.lam > 0) and abs(float(A.lam.sum()) - 1.0) <= 4 * EPS
    assert np.max(np.abs(z[A.support] @ A.ubar - A.gamma)) <= 4 * (d + 2) * EPS
    mm = max_margin(A.data)
    np.testing.assert_array_equal(mm.support, A.support)
    zs = z[A.simplex]
    inv_norm = 1.0 / float(np.linalg.svd(zs, compute_uv=False)[-1])
    resid = float(np.linalg.norm(mm.margins[A.simplex] - mm.gamma))
    zmax = float(np.max(np.linalg.norm(z, axis=1)))
    tol = 4 * inv_norm * (resid + (math.sqrt(d) + d + 2) * EPS * zmax)
    assert np.linalg.norm(mm.ubar - A.ubar) <= tol
    assert abs(mm.gamma - A.gamma) <= tol * A.gamma
    # KKT of the construction itself: gamma ubar = sum lam_i z_i (to rounding).
    assert np.linalg.norm(A.lam @ zs - A.gamma * A.ubar) <= 4 * (d + 2) * EPS
    # A3: the support vectors span R^d, clearly.
    sv = np.linalg.svd(z[A.support], compute_uv=False)
    assert sv.size == d and sv[-1] > 100 * rank_tolerance(z[A.support])
    # Non-support points are clear of the margin.
    off = np.setdiff1d(np.arange(n), A.support)
    assert np.all(mm.margins[off] >= A.gamma + S.A3_GAP * max(A.gamma, 0.05) * (1 - 1e-9))
    th = theta(A.data, mm)
    assert th.a3 and th.value > 0
    if A.theta is not None:
        assert th.method == "simplex"
        # Closed-form agreement: the vertices as stored differ from the construction's by
        # (d + 2) eps rho (rounding and projection) plus rho ||d ubar|| (the tilted
        # projection); a facet distance moves by at most (1 + cond(B)) times that (see
        # properties.claims.lemmas34.theta_forward_tolerance), plus theta's own forward error.
        rho = lc.support_radius(z, mm)
        shift = (d + 2) * EPS * rho + rho * float(np.linalg.norm(mm.ubar - A.ubar))
        allowed = lc.theta_forward_tolerance(z, mm, th) + 8 * shift * (1 + th.cond)
        assert abs(th.value - A.theta) <= allowed, (th.value, A.theta, allowed)


@pytest.mark.meta
def test_a3_datasets_validate_arguments() -> None:
    """Meta: a3_datasets refuses invalid arguments when the strategy is built."""
    for kwargs in ({"d": 1}, {"d": (3, 2)}, {"n": 0}, {"min_margin": 1e-4}, {"min_margin": 0.6}):
        with pytest.raises(InvalidArgument):
            S.a3_datasets(**kwargs)
    with pytest.raises(ValueError, match="build_a3"):
        S.build_a3(np.random.default_rng(0), 2, 3, 0.1)


# --- S-L3 ----------------------------------------------------------------------------------------


@given(A=S.a3_datasets(extra=(0, 3)), data=st.data())
def test_s_l3_theta_positive_and_certified(A: S.A3Data, data, record_slack) -> None:
    """S-L3: under A3 theta > 0, certified, a sampled lower bound, and h(xi) = theta.

    The certificate (upper-bound witness xi with ``h(xi) = theta``; every facet a
    valid inequality through its vertices, none nearer than theta) is checked
    by :func:`properties.claims.lemmas34.check_s_l3`.  Then ``h(xi) >= theta - tol``
    over 256 random unit directions perpendicular to ubar (the tolerance is
    rounding only: theta is a minimum).
    """
    mm = max_margin(A.data)
    th = theta(A.data, mm)
    certified = lc.check_s_l3(A.z, mm, th)
    assert th.method == ("simplex" if A.extra == 0 else ("interval" if A.d == 2 else "hull"))
    # At the certificate direction h equals theta (tolerance: the certificate's own).
    gap = abs(h_support(th.xi, A.z, mm.support) - th.value)
    assert gap <= lc.theta_forward_tolerance(A.z, mm, th)
    seed = data.draw(S.seeds(), label="direction seed")
    dirs = _rng(seed).standard_normal((256, A.d))
    sampled = lc.check_s_l3_sampled(A.z, mm, th, dirs)
    # Facet normals are directions too: h at each is its offset, >= theta.
    normals = lc.check_s_l3_sampled(A.z, mm, th, th.facet_normals())
    record_slack(lc.worst(certified, sampled, normals))


@given(A=S.a3_datasets(d=(2, 6)))
def test_s_l3_simplex_closed_form_agrees_with_qhull(A: S.A3Data, record_slack) -> None:
    """S-L3: the simplex closed form agrees with scipy's ConvexHull (interval formula for d = 2).

    Both use the same projected points, so only their rounding differs: the
    simplex value's forward error ``8 d eps ||B||_F (1 + cond(B))`` plus 16
    Qhull distance-rounding units (``properties.claims.lemmas34.theta_forward_tolerance``
    of each path, summed).
    """
    mm = max_margin(A.data)
    th_s = theta(A.data, mm, method="simplex")
    th_h = theta(A.data, mm, method="interval" if A.d == 2 else "hull")
    for th in (th_s, th_h):
        check_theta_certificate(A.z, mm, th)
    allowed = lc.theta_forward_tolerance(A.z, mm, th_s) + lc.theta_forward_tolerance(A.z, mm, th_h)
    diff = abs(th_s.value - th_h.value)
    assert diff <= allowed, (th_s.value, th_h.value, allowed)
    # Exercised: two independent theta computations compared within their forward errors.
    record_slack(
        Slack("S-L3", diff / allowed, f"|simplex - hull| = {diff:.2e}, d = {A.d}", exercised=True)
    )


@st.composite
def subspace_data(draw):
    """Separable data whose points all lie in a k-dimensional subspace, k < d (A3 fails)."""
    d = draw(st.integers(2, 6), label="d")
    k = draw(st.integers(1, d - 1), label="subspace dimension")
    n = draw(st.integers(1, 20), label="n")
    rng = np.random.default_rng(draw(S.seeds(), label="seed"))
    basis, _ = np.linalg.qr(rng.standard_normal((d, k)))
    u = basis[:, 0]
    g = 0.05 + 0.9 * rng.random(n)
    coef = rng.standard_normal((n, k - 1)) if k > 1 else np.zeros((n, 0))
    q = coef @ basis[:, 1:].T if k > 1 else np.zeros((n, d))
    nq = np.linalg.norm(q, axis=1)
    scale = np.sqrt(1 - g**2) * rng.random(n) * (1 - 1e-9) / np.where(nq > 0, nq, 1.0)
    z = g[:, None] * u + scale[:, None] * q
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    return make_dataset(y[:, None] * z, y)


@given(
    data=st.one_of(
        S.datasets(d=(2, 6), family=["collinear", "underdetermined"]).map(lambda dd: dd.data),
        subspace_data(),
    )
)
def test_s_l3_rank_deficient_support_gives_theta_zero(data, record_slack) -> None:
    """S-L3 needs A3: when the support vectors do not span R^d, theta = 0 is detected.

    Collinear data, fewer points than dimensions, and points in a subspace:
    ``theta()`` reports the rank-deficient path, ``a3 = False``, value 0.0, and
    a unit ``xi perp ubar`` orthogonal to every support vector (certified);
    ``require_a3`` raises AssumptionError saying A3 fails and what to do.
    """
    mm = max_margin(data)
    th = theta(data, mm)
    record_slack(lc.check_s_l3_rank_deficient(data.z, mm, th))
    with pytest.raises(AssumptionError, match="A3 fails"):
        require_a3(th)
    with pytest.raises(AssumptionError, match="a3_datasets"):
        require_a3(data, mm)
    assert lemma4_threshold(EXPONENTIAL, data.n, th.value) == math.inf


@given(dd=S.datasets(d=(1, 6)))
def test_s_l3_certificate_on_any_separable_data(dd: S.DrawnData, record_slack) -> None:
    """S-L3: on arbitrary separable data every path's answer passes its certificate.

    Random data often have fewer than d support vectors (about a third at n = 20,
    d = 5; docs/numerics.md, "The max-margin certificate"); then A3 fails and
    theta = 0 must be reported, never a positive number.  Where A3 holds
    theta >= 0 (the origin is the dual barycentre of the projected support
    vectors).
    """
    mm = max_margin(dd.data)
    th = theta(dd.data, mm)
    cert = check_theta_certificate(dd.data.z, mm, th)
    if th.method == "d=1":
        assert th.value == math.inf and th.a3
        return
    if not th.a3:  # the certificate has checked the witness xi: h(xi) = 0 to rounding
        assert th.value == 0.0 and th.method == "rank-deficient"
    else:
        assert th.value >= -lc.theta_forward_tolerance(dd.data.z, mm, th)
    # Exercised: the certificate's residuals are asserted on every drawn data set.
    record_slack(Slack("S-L3", cert.worst_ratio, f"{dd.family}: {th.method}", exercised=True))


def test_s_l3_d1_is_vacuous() -> None:
    """S-L3 / S-L4 for d = 1: ubar^perp = {0}, theta = +inf, K = 0, every sign margin is 0."""
    data = make_dataset(np.array([[0.5], [-0.8]]), np.array([1.0, -1.0]))
    mm = max_margin(data)
    th = require_a3(data, mm)
    assert th.value == math.inf and th.method == "d=1" and th.a3
    check_theta_certificate(data.z, mm, th)
    assert lemma4_threshold(EXPONENTIAL, 2, th.value) == 0.0
    assert perp_gradient_sign(np.array([1e13]), data.z, mm.ubar, EXPONENTIAL) == 0.0
    search = l4_empirical_threshold(data.z, mm, th, LOGISTIC)
    assert search.K_emp == 0.0 and search.witness_w is None


def test_lemma4_threshold_as_printed() -> None:
    """S-L4: K = (1 + ln n)/theta (exp), 2n/(e theta) (logistic), as STATEMENTS.md prints."""
    assert lemma4_threshold(EXPONENTIAL, 10, 0.5) == pytest.approx((1 + math.log(10)) / 0.5)
    assert lemma4_threshold(LOGISTIC, 10, 0.5) == pytest.approx(20 / (math.e * 0.5))
    assert lemma4_threshold("logistic", 1, 2.0) == pytest.approx(1 / math.e)
    assert lemma4_threshold(EXPONENTIAL, 5, 0.0) == math.inf
    with pytest.raises(ValueError):
        lemma4_threshold(EXPONENTIAL, 0, 1.0)


# --- perp_gradient_sign against mpmath ------------------------------------------------------------


def _mp_sign_margin(w: np.ndarray, z: np.ndarray, ubar: np.ndarray, loss_name: str):
    """(log N - log P, sum_neg |l'|, sum_pos |l'|, N, P) at 60 digits, from the floats w, z, ubar.

    ``w_perp = w - <w, ubar> ubar / ||ubar||^2`` exactly; ``m_i = <w, z_i>`` exactly.
    """
    wm = [mp.mpf(float(v)) for v in w]
    um = [mp.mpf(float(v)) for v in ubar]
    uu = mp.fsum(v * v for v in um)
    wu = mp.fsum(a * b for a, b in zip(wm, um, strict=True))
    wp = [a - wu * b / uu for a, b in zip(wm, um, strict=True)]
    N = P = SN = SP = mp.mpf(0)
    for zi in z:
        zm = [mp.mpf(float(v)) for v in zi]
        m = mp.fsum(a * b for a, b in zip(wm, zm, strict=True))
        c = mp.fsum(a * b for a, b in zip(wp, zm, strict=True))
        lp = mp.exp(-m) if loss_name == "exponential" else 1 / (1 + mp.exp(m))
        if c < 0:
            N += lp * -c
            SN += lp
        elif c > 0:
            P += lp * c
            SP += lp
    return N, P, SN, SP


@given(
    A=S.a3_datasets(n=(2, 12), d=(2, 5)),
    loss=S.losses(),
    log_a=st.floats(-2, 13),
    log_r=st.floats(-3, 4),
    data=st.data(),
)
def test_perp_gradient_sign_matches_mpmath(A: S.A3Data, loss, log_a, log_r, data) -> None:
    """S-L4 (the measuring instrument): the log-domain sign margin against 60-digit mpmath.

    w = a ubar + r xi with ``a`` up to 1e13.  Allowed error (derivation):
    each ``c_i = <w_perp, z_i>`` carries an absolute error
    ``e_c = 4 (d + 2) eps ||w|| rho`` (perp's output and the dot product), so
    ``|d log N| <= e_c sum_{c<0} |l'_i| / N`` and likewise for P; the
    exponents are exact to ``~ 8 eps |m_i - m_min|`` (double-double margins);
    and the final log-sum-exps add a few eps.  Where the reference margin
    exceeds the allowance the signs must agree.
    """
    z, d = A.z, A.d
    mm = max_margin(A.data)
    seed = data.draw(S.seeds(), label="xi seed")
    xi = _unit_perp(_rng(seed), mm.ubar)
    w = 10.0**log_a * mm.ubar + 10.0**log_r * xi
    got = perp_gradient_sign(w, z, mm.ubar, loss)
    if np.linalg.norm(perp(w, mm.ubar)) <= 4 * (d + 2) * EPS * np.linalg.norm(w):
        assert got == 0.0  # w_perp below the resolution of float64: w parallel to ubar
        return
    N, P, SN, SP = _mp_sign_margin(w, z, mm.ubar, loss.name)
    if N == 0 and P == 0:
        assert got == 0.0
        return
    if P == 0 or N == 0:
        assert got == (math.inf if P == 0 else -math.inf)
        return
    ref = float(mp.log(N) - mp.log(P))
    e_c = 4 * (d + 2) * EPS * float(np.linalg.norm(w)) * lc.support_radius(z, mm)
    m = z @ w
    spread = float(np.max(m) - np.min(m))
    allowed = e_c * float(SN / N + SP / P) + 8 * EPS * spread + 16 * EPS * (1 + abs(ref))
    assert abs(got - ref) <= allowed, (got, ref, allowed)
    if abs(ref) > allowed:
        assert (got > 0) == (ref > 0)


def test_perp_gradient_sign_conventions() -> None:
    """S-L4: w_perp = 0 gives 0.0 (equality), one-sided sums +-inf; no NaN or warning at 1e300."""
    z = np.array([[0.5, 0.3], [0.5, -0.3]])
    ubar = np.array([1.0, 0.0])
    assert perp_gradient_sign(np.array([7.0, 0.0]), z, ubar, EXPONENTIAL) == 0.0
    zp = np.array([[0.5, 0.3], [0.6, 0.2]])  # every c_i > 0 for w_perp = +e_2
    assert perp_gradient_sign(np.array([1.0, 1.0]), zp, ubar, LOGISTIC) == -math.inf
    assert perp_gradient_sign(np.array([1.0, -1.0]), zp, ubar, LOGISTIC) == math.inf
    for loss in (EXPONENTIAL, LOGISTIC):
        for a in (0.0, 1e13, 1e300, -1e300):
            v = perp_gradient_sign(np.array([a, max(1.0, abs(a) * 1e-10)]), z, ubar, loss)
            assert not math.isnan(v)
        # Below the resolution of perp (||w_perp|| <= 4 (d + 2) eps ||w||): parallel, 0.0.
        assert perp_gradient_sign(np.array([1e300, 1.0]), z, ubar, loss) == 0.0


# --- S-L4 ----------------------------------------------------------------------------------------


def _directions(th, z: np.ndarray) -> np.ndarray:
    """Adversarial unit directions in ubar^perp (rows, both signs): theta's minimiser, the
    facet normals, the projected points and their mean."""
    basis = np.asarray(th.basis)
    pz = (z @ basis) @ basis.T
    v = np.vstack([th.xi[None, :], th.facet_normals(), pz, pz.mean(axis=0, keepdims=True)])
    v = v[np.linalg.norm(v, axis=1) > 1e-12]
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    return np.vstack([v, -v])


@given(
    A=S.a3_datasets(),
    loss=S.losses(),
    log_factor=st.floats(0.0, 6.0),
    a_kind=st.sampled_from(["zero", "drawn"]),
    log_a=st.floats(-3.0, 12.0),
    data=st.data(),
)
def test_s_l4_sign_condition_beyond_K(
    A: S.A3Data, loss, log_factor, a_kind, log_a, data, record_slack
) -> None:
    """S-L4: ``<w, ubar> >= 0`` and ``||w_perp|| >= K`` imply ``<w_perp, grad R(w)> >= 0``.

    One drawn ``w = a ubar + K factor xi`` (factor log-uniform in [1, 1e6], a = 0
    or log-uniform in [1e-3, 1e12], xi random or adversarial), then a sweep over
    the adversarial directions (theta's minimiser, facet normals, projected
    points, both signs) x a in {0, 1, 1e4, 1e12} x factor in {1, 10, 1e3}, from
    the very threshold on.  Slack ``P/N``
    (:func:`properties.claims.lemmas34.check_s_l4_sign`).
    """
    mm = max_margin(A.data)
    th = require_a3(A.data, mm)
    K = lemma4_threshold(loss, A.n, th.value)
    dirs = _directions(th, A.z)
    pick = data.draw(st.integers(-1, dirs.shape[0] - 1), label="direction (-1: random)")
    if pick < 0:
        xi = _unit_perp(_rng(data.draw(S.seeds(), label="direction seed")), mm.ubar)
    else:
        xi = dirs[pick]
    a = 0.0 if a_kind == "zero" else 10.0**log_a
    w = a * mm.ubar + K * 10.0**log_factor * xi
    slacks = [lc.check_s_l4_sign(w, A.z, mm.ubar, loss, K)]
    for xi in dirs:
        for a in (0.0, 1.0, 1e4, 1e12):
            for factor in (1.0, 10.0, 1e3):
                w = a * mm.ubar + K * factor * xi
                slacks.append(lc.check_s_l4_sign(w, A.z, mm.ubar, loss, K))
    record_slack(lc.worst(*slacks))


@given(A=S.a3_datasets(n=(2, 25)))
def test_s_l4_targeted_search_stays_below_K(A: S.A3Data, record_slack, record_observation) -> None:
    """S-L4: the targeted search finds no failing w with ``<w, ubar> >= 0`` beyond K (both losses).

    :func:`invariants.core.lemma4.l4_empirical_threshold` searches directions
    (theta's minimiser, facet normals, projected points, random), a from 0 to
    the a -> inf limit, and r up to 30 K, then polishes the best by
    Nelder-Mead; its witness is re-checked.  Records K, K_emp and K/K_emp.
    """
    mm = max_margin(A.data)
    th = require_a3(A.data, mm)
    slacks = []
    for loss in (EXPONENTIAL, LOGISTIC):
        search = l4_empirical_threshold(A.z, mm, th, loss)
        slacks.append(lc.check_s_l4_search(search, A.z, mm, loss))
        assert search.witness_w is not None  # small ||w_perp|| always fails somewhere
        record_observation(
            "lemma4_threshold",
            "S-L4",
            {
                "K": search.K,
                "K_emp": search.K_emp,
                "ratio": search.ratio,
                "n": A.n,
                "d": A.d,
                "theta": th.value,
                "gamma": mm.gamma,
                "witness_a": search.witness_a,
                "loss_is_logistic": float(loss is LOGISTIC),
            },
        )
    record_slack(lc.worst(*slacks))
