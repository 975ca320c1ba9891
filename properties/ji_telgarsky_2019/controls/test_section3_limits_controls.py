"""Negative control for Theorem 4 along GD (S-T4): a sign bug in ``loss'`` breaks the
engine of the proof that ``properties/ji_telgarsky_2019/test_section3_limits.py`` asserts
on honest runs (:func:`properties.ji_telgarsky_2019.claims.section3_limits.check_s_t4`).
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import find, settings

from invariants import strategies
from invariants.core import lemma4 as l4
from invariants.core import theta as th
from invariants.core.losses import LOGISTIC, logistic_log_neg_d1
from invariants.core.maxmargin import max_margin
from invariants.dynamics import gd
from properties.ji_telgarsky_2019.claims.section3_limits import check_s_t4
from properties.ji_telgarsky_2019.problems import perp_heavy_start

pytestmark = pytest.mark.meta


def test_s_t4_catches_a_wrong_sign_loss_derivative():
    """S-T4 control: GD with ``loss'`` evaluated at ``-m`` (a sign bug) breaks the Lemma 4 engine.

    With ``|loss'(-m)| = sigmoid(m)`` the far points pull hardest, so the
    first layer's perpendicular part grows where Lemma 4 says it cannot.
    Hypothesis searches depth-1 starts beyond K for a run the check rejects.
    """
    bug = dataclasses.replace(LOGISTIC, log_neg_d1_fn=lambda m: logistic_log_neg_d1(-m))

    def buggy_gradient(weights, z, loss):
        return gd._gradient(weights, z, bug)

    def caught(a3) -> bool:
        z = a3.drawn.data.z
        mm = max_margin(a3.drawn.data)
        t = th.theta(z, mm)
        K = l4.lemma4_threshold(LOGISTIC, z.shape[0], t.value)
        W0 = perp_heavy_start(z, mm, t.value, [], 1.5)
        tr = gd.gradient_descent(z, W0, LOGISTIC, 300, gradient=buggy_gradient)
        try:
            check_s_t4(tr, mm, K)
        except AssertionError:
            return True
        return False

    witness = find(
        strategies.a3_datasets(n=(2, 12), d=(2, 4), min_margin=0.05),
        caught,
        settings=settings(max_examples=50, derandomize=True, database=None),
    )
    assert caught(witness)
