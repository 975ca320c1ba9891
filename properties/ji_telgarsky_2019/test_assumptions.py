"""Each assumption A1-A5 violated on purpose, with a minimal counterexample shrunk by Hypothesis.

For every assumption, ``hypothesis.find`` searches a family of problems that
violate it for one where a statement that depends on it fails, and shrinks
it.  The predicates are in :mod:`properties.ji_telgarsky_2019.claims.assumptions`;
each says no when its assumption is restored (the controls,
``controls/test_assumptions_controls.py``).  The shrunk counterexample is recorded
as the observation ``assumption: Ak`` (its numbers go into the report) and
re-checked.  These are negative controls of the statements named in each docstring,
so they are marked ``meta``.

- A1 (loss -> 0 at +inf): a logistic loss shifted by c never lets the risk below
  c, where the plain logistic loss goes below c in the same steps (S-T1).
- A2 (``R(W(0)) <= R(0)``, ``grad != 0``): the ``w1 = -w2`` start of S-A2b keeps
  ``R >= 1`` under GD (S-T1, S-A2b).
- A3 (support vectors span): theta = 0, and the sign condition of Lemma 4
  fails at arbitrarily large ``||w_perp||`` (S-L4).
- A4 (loss' Lipschitz and bounded): with the exponential loss the smoothness
  constant beta(R) of Lemma 5, computed as if A4 held, is exceeded (S-L5).
- A5 (the step rule): a constant step far above ``1/beta(R)`` makes the risk
  rise, breaking the descent inequality (S-EQ4).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import find, settings
from hypothesis import strategies as st

from invariants import strategies
from invariants.core.losses import LOGISTIC
from invariants.core.maxmargin import max_margin, perp
from invariants.dynamics import gd
from properties.ji_telgarsky_2019.claims import assumptions

pytestmark = pytest.mark.meta

FIND = settings(max_examples=200, derandomize=True, database=None)


@st.composite
def a1_problems(draw):
    drawn = draw(strategies.datasets(n=(1, 8), d=(1, 3), min_margin=0.1), label="data")
    c = draw(st.floats(1e-3, 1.0), label="loss offset c")
    return drawn.data.z, c


def test_a1_violated_risk_stays_away_from_zero(record_observation):
    """S-T1 needs A1: with a loss tending to c > 0 the risk cannot go to 0."""
    z, c = find(a1_problems(), lambda zc: assumptions.a1_stalls(*zc), settings=FIND)
    assert assumptions.a1_stalls(z, c)
    record_observation(
        "assumption: A1", "S-T1", {"n": z.shape[0], "d": z.shape[1], "loss offset c": c}
    )


def test_a2_violated_the_risk_never_goes_to_zero(record_observation):
    """S-T1, S-A2b: without A2 (w1 = -w2) GD keeps R >= 1; the shrunk start is recorded."""
    c = find(st.floats(1e-3, 1.5), assumptions.a2_keeps_risk, settings=FIND)
    assert assumptions.a2_keeps_risk(c)
    record_observation("assumption: A2", "S-A2b", {"c = w1(0) = -w2(0)": c})


def test_a3_violated_lemma4_has_no_threshold(record_observation):
    """S-L4 needs A3: with theta = 0 the sign condition fails at ||w_perp|| = 1e6 and beyond."""
    drawn = find(
        strategies.datasets(n=(2, 8), d=(2, 4), min_margin=0.1),
        lambda dd: assumptions.a3_witness(dd.data.z) is not None,
        settings=FIND,
    )
    w, r = assumptions.a3_witness(drawn.data.z)
    mm = max_margin(drawn.data)
    assert np.linalg.norm(perp(w, mm.ubar)) >= 0.99 * r
    record_observation(
        "assumption: A3",
        "S-L4",
        {"n": drawn.n, "d": drawn.d, "support vectors": len(mm.support), "||w_perp||": r},
    )


@st.composite
def a4_pairs(draw):
    """Scalar L = 2 chains in B(R) at a negative margin, and a nearby point."""
    R = draw(st.floats(1.0, 3.0), label="R")
    m = draw(st.floats(0.1, 0.999), label="|w1| / R")
    delta = 10.0 ** draw(st.floats(-6, -3), label="log10 step")
    W = (np.array([[-m * R]]), np.array([[m * R]]))
    V = (np.array([[-m * R + delta]]), W[1])
    return R, W, V


def test_a4_violated_exponential_loss_breaks_lemma5(record_observation):
    """S-L5 needs A4: the exponential loss's gradient outruns beta(R) at a misclassified point."""
    R, W, V = find(a4_pairs(), lambda rwv: assumptions.a4_breaks_l5(*rwv), settings=FIND)
    assert assumptions.a4_breaks_l5(R, W, V)
    record_observation(
        "assumption: A4", "S-L5", {"R": R, "margin w1 w2": float(W[0][0, 0] * W[1][0, 0])}
    )


@st.composite
def a5_runs(draw):
    drawn = draw(strategies.datasets(n=(1, 6), d=(1, 3), min_margin=0.1), label="data")
    depth = draw(st.integers(2, 3), label="depth")
    eta = 10.0 ** draw(st.floats(0.0, 2.0), label="log10 eta")
    return drawn, depth, eta


def test_a5_violated_a_large_step_breaks_descent(record_observation):
    """S-EQ4 needs A5: a constant step far above 1/beta(R) makes the risk rise."""
    drawn, depth, eta = find(
        a5_runs(), lambda x: assumptions.a5_breaks_eq4(x[0].data.z, x[1], x[2]), settings=FIND
    )
    assert assumptions.a5_breaks_eq4(drawn.data.z, depth, eta)
    beta = gd.beta_of_radius(max(1.0, 0.9 * math.sqrt(drawn.d)), depth, LOGISTIC)
    record_observation(
        "assumption: A5",
        "S-EQ4",
        {"n": drawn.n, "d": drawn.d, "depth": depth, "eta": eta, "eta * beta(R)": eta * beta},
    )
