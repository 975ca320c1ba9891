"""Appendix A: S-A2a (a zero first layer satisfies A2) and the S-A2b counterexample
(a depth-2 start from which flow and GD head to a saddle), as checks and runs.
"""

from __future__ import annotations

import math

import numpy as np

from invariants.core import limits
from invariants.core import network as net
from invariants.core.losses import EXPONENTIAL
from invariants.core.rounding import EPS
from invariants.dynamics import flow, gd
from invariants.statements import Slack


def a2a_tolerance(n: int, d: int, weights) -> float:
    """Relative rounding of the computed ``||dR/dW_1||_F`` at ``W_1 = 0`` (S-A2a):
    ``(n + d + 2 L w) eps``, w the widest layer dimension (the mean of n points, a d-term
    norm, and the suffix product of L layers, ``2 w`` per layer)."""
    return (n + d + 2 * len(weights) * max(max(w.shape) for w in weights)) * EPS


def check_s_a2a(weights, z: np.ndarray, loss, gamma: float) -> Slack:
    """S-A2a at ``W_1 = 0``: A2 holds, ``R(W(0)) = R(0)``, and the gradient lower bound.

    ``R(W(0)) = R(0)`` exactly (``w_prod = 0``), and
    ``||dR/dW_1||_F = ||W_L...W_2|| ||grad R(0)||`` with ``grad R(0) = loss'(0)
    mean_i z_i``; ``<mean z, ubar> >= gamma`` gives the lower bound
    ``||dR/dW_1||_F >= |loss'(0)| gamma ||W_L...W_2||`` > 0.  Rounding: the
    computed norm errs relatively by at most ``(n + d + 2 L w) eps``.
    Returns the slack against what was asserted (the bound less its rounding allowance).
    """
    a = net.suffix_vectors(weights)[0]
    assert net.satisfies_a2(weights, z, loss), "S-A2a: A2 failed at W_1 = 0"
    log_r0 = float(np.log(loss.value(0.0)))
    assert math.isclose(net.log_risk(weights, z, loss), log_r0, abs_tol=8 * EPS), (
        "S-A2a: R(W(0)) != R(0)"
    )
    log_obs = limits.layer1_gradient_log_norm(weights, z, loss)
    bound = abs(float(loss.d1(0.0))) * gamma * float(np.linalg.norm(a))
    n, d = z.shape
    tol = a2a_tolerance(n, d, weights)
    assert bound > 0 and math.exp(log_obs) >= bound * (1 - tol), (
        f"S-A2a: ||dR/dW_1||_F = {math.exp(log_obs):.6g} < |loss'(0)| gamma ||W_L...W_2|| = "
        f"{bound:.6g} (or the bound is 0)"
    )
    # Exercised: the lower bound is asserted > 0 above, so a vanishing gradient fails it.
    return Slack(
        "S-A2a",
        bound * (1 - tol) / math.exp(log_obs),
        "lower bound / ||dR/dW_1||_F",
        exercised=True,
    )


def a2b_weights(c: float) -> tuple[np.ndarray, np.ndarray]:
    """``w1(0) = c``, ``w2(0) = -c`` (S-A2b)."""
    return np.array([[c]]), np.array([[-c]])


def a2b_gd(c: float, eta: float, steps: int) -> gd.GDTrajectory:
    """GD on the counterexample (A2 is violated on purpose: ``check_a2=False``)."""
    return gd.gradient_descent(
        A2B_Z, a2b_weights(c), EXPONENTIAL, steps, rule="fixed", eta=eta, check_a2=False
    )


def a2b_saddle_clock(c: float) -> float:
    """Clock value s* at which the lognorm-clock path of S-A2b reaches the saddle W = 0.

    On the line ``w1 = -w2 = w`` the unit field points straight at 0 and
    ``rho = sqrt(1 + ||W||^2)``, so ``d||W||/ds = -sqrt(1 + ||W||^2)``:
    ``asinh ||W(s)|| = asinh ||W(0)|| - s``, with ``||W(0)|| = sqrt(2) |c|``.
    The exact flow needs infinite physical time to get there.
    """
    return math.asinh(math.sqrt(2.0) * abs(c))


def a2b_flow(c: float, fraction: float = 0.95, points: int = 40) -> flow.Trajectory:
    """The S-A2b flow up to ``fraction`` of the way (in s) to the saddle."""
    s_star = a2b_saddle_clock(c)
    marks = np.linspace(0.0, fraction * s_star, points + 1)[1:]
    return flow.gradient_flow(A2B_Z, a2b_weights(c), EXPONENTIAL, checkpoints=marks, check_a2=False)


#: The counterexample: L = 2, scalar input z = 1, exponential loss, R = exp(-w1 w2).
A2B_Z = np.array([[1.0]])


def check_s_a2b_gd(tr: gd.GDTrajectory) -> Slack:
    """S-A2b (GD) on a run from ``(c, -c)``: ``w1 = -w2`` bit for bit and ``R >= 1``.

    One GD step maps ``(w, -w)`` to ``((1 - eta R) w, -(1 - eta R) w)``: the two
    coordinates are computed by the same operations up to sign, so the symmetry
    holds exactly and ``log R = w^2 >= 0`` exactly (no tolerance).

    An exact identity has no finite allowance, so no slack (``None``).  Exercised: the
    run moved (``w1`` changed), so a step that broke the symmetry would have shown.
    """
    w1 = np.array([W[0][0, 0] for W in tr.weights])
    w2 = np.array([W[1][0, 0] for W in tr.weights])
    assert np.array_equal(w1, -w2), "S-A2b: GD broke the symmetry w1 = -w2"
    assert np.min(tr.log_risk) >= 0.0, f"S-A2b: log R fell to {np.min(tr.log_risk):.3g} < 0"
    return Slack(
        "S-A2b",
        None,
        f"exact: min log R = {np.min(tr.log_risk):.3g} (>= 0, no tolerance)",
        exercised=bool(np.any(w1 != w1[0])),
    )


def check_s_a2b_flow(tr: flow.Trajectory, c: float) -> Slack:
    """S-A2b (flow): the path from ``(c, -c)`` stays on ``w1 = -w2``, follows the closed
    form ``||W(s)|| = sinh(s* - s)`` (:func:`a2b_saddle_clock`) and keeps ``R >= 1``.

    Tolerance: the run's accumulated local-error bound ``Checkpoint.local_error``
    plus the final rounding ``4 eps (|w1| + |w2| + 1)``; ``log R = -w1 w2`` must be
    ``>= 0`` up to its rounding (a few eps of ``w^2``).
    """
    s_star = a2b_saddle_clock(c)
    worst, moved = 0.0, False
    start = math.hypot(float(tr.initial[0][0, 0]), float(tr.initial[1][0, 0]))
    for cp in tr.checkpoints:
        w1, w2 = float(cp.weights[0][0, 0]), float(cp.weights[1][0, 0])
        allowed = cp.local_error + 4 * EPS * (abs(w1) + abs(w2) + 1)
        norm_err = abs(math.hypot(w1, w2) - math.sinh(s_star - cp.s))
        assert abs(w1 + w2) <= allowed, f"S-A2b: w1 + w2 = {w1 + w2:.3e} at s = {cp.s:.4g}"
        assert norm_err <= allowed, f"S-A2b: ||W|| off the closed form by {norm_err:.3e}"
        assert cp.log_risk >= -4 * EPS * w1 * w1, f"S-A2b: log R = {cp.log_risk:.3e} < 0"
        worst = max(worst, abs(w1 + w2) / allowed, norm_err / allowed)
        # Exercised: ||W|| moved from its start by more than the allowance.
        moved |= abs(math.hypot(w1, w2) - start) > allowed
    assert tr.final.log_time > 0, "the run should pass t = 1 on its way to the saddle"
    return Slack(
        "S-A2b", worst, f"to s = 0.95 s*, t = exp({tr.final.log_time:.3g})", exercised=moved
    )
