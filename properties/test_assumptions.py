"""Each assumption A1-A5 violated on purpose, with a minimal counterexample shrunk by Hypothesis.

For every assumption, ``hypothesis.find`` searches a family of problems that
violate it for one where a statement that depends on it fails, and shrinks
it.  The shrunk counterexample is recorded as the observation
``assumption: Ak`` (its numbers go into the report) and re-checked: the
statement must fail on it.  These are negative controls of the statements
named in each docstring, so they are marked ``meta``.

- A1 (loss -> 0 at +inf): a logistic loss shifted by 0.1 never lets the risk
  go to 0 (S-T1).
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

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import find, settings
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import lemma4 as l4
from invariants.core import limits
from invariants.core import network as net
from invariants.core import theta as th
from invariants.core.data import make_dataset
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin, perp
from invariants.dynamics import gd
from properties.claims import section2_limits as lc
from properties.claims import section3 as gc

pytestmark = pytest.mark.meta

FIND = settings(max_examples=200, derandomize=True, database=None)


def _fails(check, *args) -> bool:
    try:
        check(*args)
    except AssertionError:
        return True
    return False


# --- A1 -----------------------------------------------------------------------------------------


def shifted_logistic(c: float):
    """``log(1 + exp(-m)) + c``: loss' < 0 as A1 asks, but the loss tends to c, not 0."""
    base = LOGISTIC

    def log_value(m):
        return np.logaddexp(base.log_value_fn(m), math.log(c))

    return dataclasses.replace(
        base,
        name=f"logistic+{c:g}",
        value_fn=lambda m: base.value_fn(m) + c,
        log_value_fn=log_value,
    )


@st.composite
def a1_problems(draw):
    drawn = draw(strategies.datasets(n=(1, 8), d=(1, 3), min_margin=0.1), label="data")
    c = draw(st.floats(1e-3, 1.0), label="loss offset c")
    return drawn.data.z, c


def _a1_breaks_t1(example) -> bool:
    z, c = example
    loss = shifted_logistic(c)
    W0 = [np.zeros((1, z.shape[1]))]
    tr = gd.gradient_descent(z, W0, loss, 50, rule="fixed", eta=1.0, check_a2=False)
    wp = limits.wprod_path([tr.weights[-1]])
    return _fails(lc.check_reach, float(tr.log_risk[-1]), float(np.linalg.norm(wp[-1])))


def test_a1_violated_risk_stays_away_from_zero(record_observation):
    """S-T1 needs A1: with a loss tending to c > 0 the risk cannot go to 0."""
    z, c = find(a1_problems(), _a1_breaks_t1, settings=FIND)
    assert _a1_breaks_t1((z, c))
    record_observation(
        "assumption: A1", "S-T1", {"n": z.shape[0], "d": z.shape[1], "loss offset c": c}
    )


# --- A2 -----------------------------------------------------------------------------------------


def _a2_keeps_risk(c: float) -> bool:
    """GD from ``w1 = c = -w2`` (A2 violated): log R never drops below 0 in 100 steps."""
    eta = 0.5 * math.exp(-c * c)
    tr = gd.gradient_descent(
        np.array([[1.0]]),
        [np.array([[c]]), np.array([[-c]])],
        EXPONENTIAL,
        100,
        rule="fixed",
        eta=eta,
        check_a2=False,
    )
    return bool(np.min(tr.log_risk) >= 0) and _fails(
        lc.check_reach, float(tr.log_risk[-1]), abs(float(tr.weights[-1][0][0, 0]) ** 2)
    )


def test_a2_violated_the_risk_never_goes_to_zero(record_observation):
    """S-T1, S-A2b: without A2 (w1 = -w2) GD keeps R >= 1; the shrunk start is recorded."""
    c = find(st.floats(1e-3, 1.5), _a2_keeps_risk, settings=FIND)
    assert _a2_keeps_risk(c)
    record_observation("assumption: A2", "S-A2b", {"c = w1(0) = -w2(0)": c})


# --- A3 -----------------------------------------------------------------------------------------


def _a3_witness(drawn):
    """If A3 fails: a w with <w, ubar> >= 0 and huge ||w_perp|| failing Lemma 4's sign."""
    z = drawn.data.z
    mm = max_margin(drawn.data)
    t = th.theta(z, mm)
    if t.a3:
        return None
    xi = np.asarray(t.xi, dtype=float)  # orthogonal to every support vector
    c = z @ xi
    if not np.any(np.abs(c) > 1e-9):
        return None
    if np.max(c) <= 1e-9:
        xi = -xi
    for r in (1e3, 1e6):
        w = 1e3 * r * np.asarray(mm.ubar) + r * xi
        if l4.perp_gradient_sign(w, z, mm.ubar, LOGISTIC) < 0:
            return w, r
    return None


def test_a3_violated_lemma4_has_no_threshold(record_observation):
    """S-L4 needs A3: with theta = 0 the sign condition fails at ||w_perp|| = 1e6 and beyond."""
    drawn = find(
        strategies.datasets(n=(2, 8), d=(2, 4), min_margin=0.1),
        lambda dd: _a3_witness(dd) is not None,
        settings=FIND,
    )
    w, r = _a3_witness(drawn)
    mm = max_margin(drawn.data)
    assert np.linalg.norm(perp(w, mm.ubar)) >= 0.99 * r
    record_observation(
        "assumption: A3",
        "S-L4",
        {"n": drawn.n, "d": drawn.d, "support vectors": len(mm.support), "||w_perp||": r},
    )


# --- A4 -----------------------------------------------------------------------------------------


@st.composite
def a4_pairs(draw):
    """Scalar L = 2 chains in B(R) at a negative margin, and a nearby point."""
    R = draw(st.floats(1.0, 3.0), label="R")
    m = draw(st.floats(0.1, 0.999), label="|w1| / R")
    delta = 10.0 ** draw(st.floats(-6, -3), label="log10 step")
    W = (np.array([[-m * R]]), np.array([[m * R]]))
    V = (np.array([[-m * R + delta]]), W[1])
    return R, W, V


def _a4_breaks_l5(example) -> bool:
    from properties.claims.smoothness import check_s_l5

    R, W, V = example
    as_if_a4 = dataclasses.replace(EXPONENTIAL, beta=0.25, G=1.0, satisfies_a4=True)
    z = make_dataset(np.array([[1.0]]), np.array([1.0])).z
    return _fails(check_s_l5, z, W, V, as_if_a4, R)


def test_a4_violated_exponential_loss_breaks_lemma5(record_observation):
    """S-L5 needs A4: the exponential loss's gradient outruns beta(R) at a misclassified point."""
    R, W, V = find(a4_pairs(), _a4_breaks_l5, settings=FIND)
    assert _a4_breaks_l5((R, W, V))
    record_observation(
        "assumption: A4", "S-L5", {"R": R, "margin w1 w2": float(W[0][0, 0] * W[1][0, 0])}
    )


# --- A5 -----------------------------------------------------------------------------------------


@st.composite
def a5_runs(draw):
    drawn = draw(strategies.datasets(n=(1, 6), d=(1, 3), min_margin=0.1), label="data")
    depth = draw(st.integers(2, 3), label="depth")
    eta = 10.0 ** draw(st.floats(0.0, 2.0), label="log10 eta")
    return drawn, depth, eta


def _a5_breaks_eq4(example) -> bool:
    drawn, depth, eta = example
    z = drawn.data.z
    shapes = net.layer_shapes(z.shape[1], [1] * (depth - 1))
    W0 = [np.full(s, 0.9) for s in shapes]
    if not net.satisfies_a2(tuple(W0), z, LOGISTIC):
        W0[-1] = -W0[-1]
    if not net.satisfies_a2(tuple(W0), z, LOGISTIC):
        return False
    with np.errstate(over="ignore"):
        tr = gd.gradient_descent(z, W0, LOGISTIC, 5, rule="fixed", eta=eta)
    if not np.all(np.isfinite(tr.log_risk)):
        return True  # diverged outright: eq. 4 fails at the first non-finite step
    return _fails(gc.check_s_eq4, tr)


def test_a5_violated_a_large_step_breaks_descent(record_observation):
    """S-EQ4 needs A5: a constant step far above 1/beta(R) makes the risk rise."""
    drawn, depth, eta = find(a5_runs(), _a5_breaks_eq4, settings=FIND)
    assert _a5_breaks_eq4((drawn, depth, eta))
    beta = gd.beta_of_radius(max(1.0, 0.9 * math.sqrt(drawn.d)), depth, LOGISTIC)
    record_observation(
        "assumption: A5",
        "S-EQ4",
        {"n": drawn.n, "d": drawn.d, "depth": depth, "eta": eta, "eta * beta(R)": eta * beta},
    )
