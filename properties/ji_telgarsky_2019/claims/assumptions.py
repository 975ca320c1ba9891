"""What breaks when an assumption A1-A5 is dropped: one predicate per assumption.

Each predicate runs a problem that *violates* the assumption and says whether a
statement that depends on it fails there.  It is written so that the same
predicate, run with the assumption restored (the ``loss``, ``sign``, ``rule`` or data
argument), says no: that is what makes the found counterexample evidence that the
assumption matters, and not that the statement could not be observed at all.  The
controls (``controls/test_assumptions_controls.py``) check exactly that.

- A1 (loss -> 0 at +inf): :func:`a1_stalls` (S-T1).
- A2 (``R(W(0)) <= R(0)``, ``grad != 0``): :func:`a2_keeps_risk` (S-T1, S-A2b).
- A3 (the support vectors span R^d): :func:`a3_witness` (S-L4).
- A4 (loss' Lipschitz and bounded): :func:`a4_breaks_l5` (S-L5).
- A5 (the step rule): :func:`a5_breaks_eq4` (S-EQ4).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from invariants.core import lemma4, network, theta
from invariants.core.data import make_dataset
from invariants.core.losses import EXPONENTIAL, LOGISTIC, Loss
from invariants.core.maxmargin import max_margin
from invariants.dynamics import gd
from properties.ji_telgarsky_2019.claims import section2_limits, section3_gd
from properties.ji_telgarsky_2019.claims.section3_smoothness import check_s_l5


def fails(check: Callable, *args) -> bool:
    """Whether ``check(*args)`` raises the AssertionError of a violated statement."""
    try:
        check(*args)
    except AssertionError:
        return True
    return False


# --- A1 -----------------------------------------------------------------------------------------

A1_STEPS = 50


def shifted_logistic(c: float) -> Loss:
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


def a1_run(z: np.ndarray, loss: Loss) -> np.ndarray:
    """``log R(W(t))`` of A1_STEPS GD steps (step 1) from ``w = 0``, depth 1."""
    W0 = [np.zeros((1, z.shape[1]))]
    return gd.gradient_descent(
        z, W0, loss, A1_STEPS, rule="fixed", eta=1.0, check_a2=False
    ).log_risk


def a1_stalls(z: np.ndarray, c: float, loss: Loss | None = None) -> bool:
    """S-T1 needs A1: under ``loss`` (default the shifted logistic) R never falls below c,
    while the same steps under the logistic loss (A1 holds) take it below c.

    ``R >= c`` for every W when every loss value exceeds c, so the first half is what
    the violated assumption implies; the second half shows that within these steps the
    risk *would* have gone below c, so the floor is the assumption's doing and not a
    run too short to show anything.  With ``loss = LOGISTIC`` the first half fails.
    """
    violating = shifted_logistic(c) if loss is None else loss
    floor = math.log(c)
    return bool(np.min(a1_run(z, violating)) >= floor and a1_run(z, LOGISTIC)[-1] < floor)


# --- A2 -----------------------------------------------------------------------------------------

A2_STEPS = 100


def a2_keeps_risk(c: float, sign: float = -1.0) -> bool:
    """GD from ``w1 = c``, ``w2 = sign c`` (``sign = -1``: A2 violated): ``log R >= 0`` for
    A2_STEPS steps and S-T1's reach fails.  With ``sign = +1`` (A2 holds) the risk falls
    below 1 at once, and the predicate says no.
    """
    eta = 0.5 * math.exp(-c * c)
    start = [np.array([[c]]), np.array([[sign * c]])]
    tr = gd.gradient_descent(
        np.array([[1.0]]), start, EXPONENTIAL, A2_STEPS, rule="fixed", eta=eta, check_a2=False
    )
    wprod = abs(float(tr.weights[-1][0][0, 0] * tr.weights[-1][1][0, 0]))
    reach = fails(section2_limits.check_reach, float(tr.log_risk[-1]), wprod)
    return bool(np.min(tr.log_risk) >= 0) and reach


# --- A3 -----------------------------------------------------------------------------------------

A3_RADII = (1e3, 1e6)


def a3_witness(z: np.ndarray) -> tuple[np.ndarray, float] | None:
    """A ``w`` with ``<w, ubar> >= 0`` and ``||w_perp|| = r`` in A3_RADII where Lemma 4's
    sign condition fails, or None.

    ``w = 1e3 r ubar + r xi`` with ``xi`` theta's minimiser, flipped to point at the
    data.  Without A3 ``xi`` is orthogonal to every support vector (theta = 0, K =
    inf) and the far points pull ``w_perp`` back: a witness.  With A3, and both radii
    beyond K, Lemma 4 says no witness exists.
    """
    mm = max_margin(z)
    xi = np.asarray(theta.theta(z, mm).xi, dtype=float)
    c = z @ xi
    if not np.any(np.abs(c) > 1e-9):
        return None
    if np.max(c) <= 1e-9:
        xi = -xi
    for r in A3_RADII:
        w = 1e3 * r * np.asarray(mm.ubar) + r * xi
        if lemma4.perp_gradient_sign(w, z, mm.ubar, LOGISTIC) < 0:
            return w, r
    return None


# --- A4 -----------------------------------------------------------------------------------------


def a4_breaks_l5(
    R: float, W: network.Weights, V: network.Weights, loss: Loss = EXPONENTIAL
) -> bool:
    """S-L5 needs A4: Lemma 5's ``beta(R)``, computed for ``loss`` *as if* it had A4's
    constants (beta = 1/4, G = 1), is exceeded at the pair ``W, V`` on one point z = 1.

    The exponential loss has ``loss'' = exp(-m)``, unbounded at negative margins; with
    the logistic loss (which has A4 with exactly those constants) the predicate is the
    plain check of S-L5 and says no.
    """
    as_if_a4 = dataclasses.replace(loss, beta=0.25, G=1.0, satisfies_a4=True)
    z = make_dataset(np.array([[1.0]]), np.array([1.0])).z
    return fails(check_s_l5, z, W, V, as_if_a4, R)


# --- A5 -----------------------------------------------------------------------------------------

A5_STEPS = 5


def a5_start(z: np.ndarray, depth: int) -> list[np.ndarray] | None:
    """Width-1 layers of 0.9, the last flipped if needed for A2; None if A2 cannot hold."""
    shapes = network.layer_shapes(z.shape[1], [1] * (depth - 1))
    W0 = [np.full(s, 0.9) for s in shapes]
    if not network.satisfies_a2(tuple(W0), z, LOGISTIC):
        W0[-1] = -W0[-1]
    return W0 if network.satisfies_a2(tuple(W0), z, LOGISTIC) else None


def a5_breaks_eq4(z: np.ndarray, depth: int, eta: float | None) -> bool:
    """S-EQ4 needs A5: A5_STEPS steps of the constant step ``eta`` break the descent
    inequality (or diverge outright).  ``eta = None`` runs A5's own step rule on the
    same start, and the predicate says no.
    """
    W0 = a5_start(z, depth)
    if W0 is None:
        return False
    rule = {"rule": "A5"} if eta is None else {"rule": "fixed", "eta": eta}
    with np.errstate(over="ignore"):
        tr = gd.gradient_descent(z, W0, LOGISTIC, A5_STEPS, **rule)
    if not np.all(np.isfinite(tr.log_risk)):
        return True  # diverged outright: eq. 4 fails at the first non-finite step
    return fails(section3_gd.check_s_eq4, tr)
