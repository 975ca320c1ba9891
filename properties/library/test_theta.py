"""Unit properties of :mod:`invariants.core.theta`: theta (S-L3) computed two ways, and d = 1.

The claim S-L3 itself (theta > 0 under A3, certified, sampled) is checked in
``properties/ji_telgarsky_2019/test_lemma3_4.py``; here the instrument: the simplex closed form
against scipy's Qhull (or the interval formula for d = 2), and the degenerate
dimension d = 1.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given

from invariants import strategies as S
from invariants.core.data import make_dataset
from invariants.core.lemma4 import l4_empirical_threshold, lemma4_threshold, perp_gradient_sign
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.core.theta import (
    check_theta_certificate,
    require_a3,
    theta,
    theta_forward_tolerance,
)
from invariants.statements import Slack


@given(A=S.a3_datasets(d=(2, 6)))
def test_s_l3_simplex_closed_form_agrees_with_qhull(A: S.A3Data, record_slack) -> None:
    """S-L3: the simplex closed form agrees with scipy's ConvexHull (interval formula for d = 2).

    Both use the same projected points, so only their rounding differs: the
    simplex value's forward error ``8 d eps ||B||_F (1 + cond(B))`` plus 16
    Qhull distance-rounding units (``invariants.core.theta.theta_forward_tolerance``
    of each path, summed).
    """
    mm = max_margin(A.data)
    th_s = theta(A.data, mm, method="simplex")
    th_h = theta(A.data, mm, method="interval" if A.d == 2 else "hull")
    for th in (th_s, th_h):
        check_theta_certificate(A.z, mm, th)
    allowed = theta_forward_tolerance(A.z, mm, th_s) + theta_forward_tolerance(A.z, mm, th_h)
    diff = abs(th_s.value - th_h.value)
    assert diff <= allowed, (th_s.value, th_h.value, allowed)
    # Exercised: two independent theta computations compared within their forward errors.
    record_slack(
        Slack("S-L3", diff / allowed, f"|simplex - hull| = {diff:.2e}, d = {A.d}", exercised=True)
    )


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
