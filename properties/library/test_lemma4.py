"""Unit properties of :mod:`invariants.core.lemma4`: the threshold K as printed, and the
log-domain sign margin of ``<w_perp, grad R(w)>`` against a 60-digit mpmath reference
(the instrument S-L4 is measured with; the claim is in
``properties/ji_telgarsky_2019/test_lemma3_4.py``).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from invariants import strategies as S
from invariants.core.lemma4 import lemma4_threshold, perp_gradient_sign
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin, perp
from invariants.core.rounding import EPS
from invariants.core.theta import support_radius
from properties.helpers import perp_rng, unit_perp

mp.mp.dps = 60


def test_lemma4_threshold_as_printed() -> None:
    """S-L4: K = (1 + ln n)/theta (exp), 2n/(e theta) (logistic), as the paper prints."""
    assert lemma4_threshold(EXPONENTIAL, 10, 0.5) == pytest.approx((1 + math.log(10)) / 0.5)
    assert lemma4_threshold(LOGISTIC, 10, 0.5) == pytest.approx(20 / (math.e * 0.5))
    assert lemma4_threshold("logistic", 1, 2.0) == pytest.approx(1 / math.e)
    assert lemma4_threshold(EXPONENTIAL, 5, 0.0) == math.inf
    with pytest.raises(ValueError):
        lemma4_threshold(EXPONENTIAL, 0, 1.0)


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
    xi = unit_perp(perp_rng(seed), mm.ubar)
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
    e_c = 4 * (d + 2) * EPS * float(np.linalg.norm(w)) * support_radius(z, mm)
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
