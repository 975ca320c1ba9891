"""Controls for the assumption predicates (:mod:`properties.ji_telgarsky_2019.claims.assumptions`):
each says no when its assumption is restored.

A predicate that said yes whatever the problem would make every "Ak is needed"
counterexample of ``test_assumptions.py`` worthless.  (The first version of the A1
predicate was such a case: it asked S-T1's reach of a 50-step run, which no 50-step
run meets, with or without A1.)
"""

from __future__ import annotations

import numpy as np
import pytest

from invariants.core.data import make_dataset
from invariants.core.losses import LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.core.theta import require_a3
from properties.ji_telgarsky_2019.claims import assumptions

pytestmark = pytest.mark.meta

#: Two points whose support vectors span R^2 (A3): ubar = e_1, gamma = 0.5, theta = 0.3.
A3_DATA = make_dataset(np.array([[0.5, 0.3], [0.5, -0.3], [0.9, 0.0]]), np.ones(3))


def test_a1_predicate_says_no_for_a_loss_with_a1():
    """S-T1: with the logistic loss itself (A1 holds) the risk goes below c: no stall."""
    z = A3_DATA.z
    assert assumptions.a1_stalls(z, 0.1)  # the violated case, on the same data
    assert not assumptions.a1_stalls(z, 0.1, loss=LOGISTIC)


def test_a2_predicate_says_no_from_an_a2_start():
    """S-A2b: from ``w1 = w2 = c`` (A2 holds) the risk falls below 1: the predicate says no."""
    assert assumptions.a2_keeps_risk(0.5)
    assert not assumptions.a2_keeps_risk(0.5, sign=+1.0)


def test_a3_predicate_finds_no_witness_under_a3():
    """S-L4: on data with A3 and both radii beyond K, Lemma 4 holds: no witness."""
    mm = max_margin(A3_DATA)
    th = require_a3(A3_DATA, mm)
    assert th.value > 0
    assert assumptions.a3_witness(A3_DATA.z) is None


def test_a4_predicate_says_no_for_the_logistic_loss():
    """S-L5: the same misclassified pair, with a loss that has A4: Lemma 5 holds."""
    R = 2.0
    W = (np.array([[-0.99 * R]]), np.array([[0.99 * R]]))
    V = (np.array([[-0.99 * R + 1e-5]]), W[1])
    assert assumptions.a4_breaks_l5(R, W, V)
    assert not assumptions.a4_breaks_l5(R, W, V, loss=LOGISTIC)


def test_a5_predicate_says_no_under_the_a5_step():
    """S-EQ4: the same start, with A5's step rule instead of a large constant step."""
    z = A3_DATA.z
    assert assumptions.a5_breaks_eq4(z, 2, 100.0)
    assert not assumptions.a5_breaks_eq4(z, 2, None)
