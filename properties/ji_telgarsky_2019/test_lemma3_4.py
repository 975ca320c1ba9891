"""Lemma 3 (S-L3: theta > 0 under A3) and Lemma 4 (S-L4: the gradient-sign condition).

What is checked:

- S-L3 on data where A3 holds by construction (:func:`invariants.strategies.a3_datasets`):
  theta > 0 with a passing certificate (upper-bound witness, facet lower
  bound); the lower bound
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
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from invariants import strategies as S
from invariants.core.data import make_dataset
from invariants.core.lemma4 import l4_empirical_threshold, lemma4_threshold
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.core.theta import (
    check_theta_certificate,
    h_support,
    require_a3,
    theta,
    theta_forward_tolerance,
)
from invariants.errors import AssumptionError
from invariants.statements import Slack
from properties.helpers import perp_rng, unit_perp
from properties.ji_telgarsky_2019.claims import lemma3_4

# --- S-L3 ----------------------------------------------------------------------------------------


@given(A=S.a3_datasets(extra=(0, 3)), data=st.data())
def test_s_l3_theta_positive_and_certified(A: S.A3Data, data, record_slack) -> None:
    """S-L3: under A3 theta > 0, certified, a sampled lower bound, and h(xi) = theta.

    The certificate (upper-bound witness xi with ``h(xi) = theta``; every facet a
    valid inequality through its vertices, none nearer than theta) is checked
    by :func:`properties.ji_telgarsky_2019.claims.lemma3_4.check_s_l3`.  Then ``h(xi) >= theta -
    tol``
    over 256 random unit directions perpendicular to ubar (the tolerance is
    rounding only: theta is a minimum).
    """
    mm = max_margin(A.data)
    th = theta(A.data, mm)
    certified = lemma3_4.check_s_l3(A.z, mm, th)
    assert th.method == ("simplex" if A.extra == 0 else ("interval" if A.d == 2 else "hull"))
    # At the certificate direction h equals theta (tolerance: the certificate's own).
    gap = abs(h_support(th.xi, A.z, mm.support) - th.value)
    assert gap <= theta_forward_tolerance(A.z, mm, th)
    seed = data.draw(S.seeds(), label="direction seed")
    dirs = perp_rng(seed).standard_normal((256, A.d))
    sampled = lemma3_4.check_s_l3_sampled(A.z, mm, th, dirs)
    # Facet normals are directions too: h at each is its offset, >= theta.
    normals = lemma3_4.check_s_l3_sampled(A.z, mm, th, th.facet_normals())
    record_slack(lemma3_4.worst(certified, sampled, normals))


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
    record_slack(lemma3_4.check_s_l3_rank_deficient(data.z, mm, th))
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
        assert th.value >= -theta_forward_tolerance(dd.data.z, mm, th)
    # Exercised: the certificate's residuals are asserted on every drawn data set.
    record_slack(Slack("S-L3", cert.worst_ratio, f"{dd.family}: {th.method}", exercised=True))


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
    (:func:`properties.ji_telgarsky_2019.claims.lemma3_4.check_s_l4_sign`).
    """
    mm = max_margin(A.data)
    th = require_a3(A.data, mm)
    K = lemma4_threshold(loss, A.n, th.value)
    dirs = _directions(th, A.z)
    pick = data.draw(st.integers(-1, dirs.shape[0] - 1), label="direction (-1: random)")
    if pick < 0:
        xi = unit_perp(perp_rng(data.draw(S.seeds(), label="direction seed")), mm.ubar)
    else:
        xi = dirs[pick]
    a = 0.0 if a_kind == "zero" else 10.0**log_a
    w = a * mm.ubar + K * 10.0**log_factor * xi
    slacks = [lemma3_4.check_s_l4_sign(w, A.z, mm.ubar, loss, K)]
    for xi in dirs:
        for a in (0.0, 1.0, 1e4, 1e12):
            for factor in (1.0, 10.0, 1e3):
                w = a * mm.ubar + K * factor * xi
                slacks.append(lemma3_4.check_s_l4_sign(w, A.z, mm.ubar, loss, K))
    record_slack(lemma3_4.worst(*slacks))


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
        slacks.append(lemma3_4.check_s_l4_search(search, A.z, mm, loss))
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
    record_slack(lemma3_4.worst(*slacks))
