"""The error budget of the gradient flow's guard: the allowances each accepted step is
checked against (S-EQ1, S-EQ2), and the checks that raise when a step exceeds them.

:class:`invariants.dynamics.flow.Field` integrates; the guard in
:mod:`invariants.dynamics.flow` calls these per accepted step.  The derivation of each
allowance is in its docstring and in ``docs/numerics.md`` (section "Gradient flow:
solver choice and error budget").
"""

from __future__ import annotations

import math

import numpy as np

from ..core import network as net
from ..core.bounds import frobenius_sq
from ..core.losses import Loss
from ..core.rounding import EPS, gamma, log_risk_rounding, rounding_count
from ..errors import CriticalPointError, InvariantDriftError, RiskIncreaseError


def eq2_invariants(weights: net.Weights) -> list[np.ndarray]:
    """``I_k = W_{k+1}^T W_{k+1} - W_k W_k^T`` for k < L (S-EQ2)."""
    return [
        weights[k + 1].T @ weights[k + 1] - weights[k] @ weights[k].T
        for k in range(len(weights) - 1)
    ]


def eq2_drift(
    initial: net.Weights, weights: net.Weights, *, then: list[np.ndarray] | None = None
) -> np.ndarray:
    """``||I_k(W) - I_k(W(0))||_F`` for k < L, ``I_k = W_{k+1}^T W_{k+1} - W_k W_k^T`` (S-EQ2).

    ``then``: :func:`eq2_invariants` of ``initial``, when the caller keeps it (the guard).
    """
    if then is None:
        then = eq2_invariants(initial)
    out = []
    for now, was in zip(eq2_invariants(weights), then, strict=True):
        v = (now - was).ravel()
        out.append(math.sqrt(float(v @ v)))  # np.linalg.norm's sum, without its wrapper
    return np.array(out)


def eq2_rounding(
    initial: net.Weights,
    weights: net.Weights,
    *,
    sq: np.ndarray | None = None,
    sq0: np.ndarray | None = None,
) -> np.ndarray:
    """Rounding bound of :func:`eq2_drift`'s own evaluation.

    Each Gram product ``A^T A`` with inner dimension ``m`` has entrywise error
    ``<= gamma_m |A|^T |A|``, hence Frobenius error ``<= gamma_m ||A||_F^2``
    (:func:`~invariants.core.rounding.gamma`); two of them at each time, plus the
    subtractions (``+3`` in m), at ``t`` and at 0.  ``sq``, ``sq0``: the
    :func:`~invariants.core.bounds.frobenius_sq` of ``weights`` and ``initial`` when the
    caller has them.
    """
    sq = frobenius_sq(weights) if sq is None else sq
    sq0 = frobenius_sq(initial) if sq0 is None else sq0
    out = []
    for k in range(len(weights) - 1):
        m = max(weights[k].shape[1], weights[k + 1].shape[0]) + 3
        gm = gamma(m)
        tot = 0.0
        for x in (sq, sq0):
            tot += gm * (float(x[k]) + float(x[k + 1]))
        out.append(tot)
    return np.array(out)


def sensitivities(
    weights: net.Weights, z: np.ndarray, loss: Loss, clock: str, fe
) -> tuple[float, float]:
    """Bounds on the log-gradients of the S-EQ1 rate and of the clock ``dt/ds`` (S-EQ1, S-INV).

    ``grad log ||grad R|| = Hess R grad R / ||grad R||^2``, at most
    ``h = ||Hess R||_2 / ||grad R||`` (:func:`invariants.core.network.hessian_norm_bound`);
    ``||grad log R|| = ||grad R|| / R``; ``||grad log rho|| = ||W|| / rho^2 <= 1``
    for the lognorm clock, 0 for arc length.  Hence, with ``r`` that ``||grad log rho||``:

    - rate ``rho ||grad R|| / R``: ``r + h + ||grad log R||`` (0 for the risk clock,
      where the rate is identically 1);
    - ``dt/ds = rho / ||grad R||``: ``r + h`` (lognorm, arc length), and for the risk
      clock (``dt/ds = R / ||grad R||^2``) ``||grad log R|| + 2 h``.

    One Hessian bound serves both (it is the per-step guard's most expensive part).
    """
    g = fe.grad
    gn_scaled = np.exp(fe.log_grad_norm - g.log_scale)
    h = net.hessian_norm_bound(weights, z, loss, g.log_scale, products=g.products) / gn_scaled
    # ||grad log R|| = exp(log ||grad R|| - log R); above exp(709) the bound is vacuous (inf).
    x = fe.log_grad_norm - fe.log_risk
    grad_log_r = float(np.exp(x)) if x < 709.0 else np.inf
    if clock == "risk":
        return 0.0, grad_log_r + 2 * h
    r = 1.0 if clock == "lognorm" else 0.0
    return r + h + grad_log_r, r + h


def evaluation_rounding(
    weights: net.Weights,
    z: np.ndarray,
    *,
    sq: np.ndarray | None = None,
    zmax: float | None = None,
) -> float:
    """Rounding bound on one evaluation of ``log R(W)`` (S-EQ1's allowance in the guard).

    :func:`invariants.core.rounding.log_risk_rounding` with the a-priori margin bound
    ``big = prod_k ||W_k||_F max_i ||z_i||`` and the operation count of
    :func:`~invariants.core.rounding.rounding_count`.  ``sq`` (the
    :func:`~invariants.core.bounds.frobenius_sq` of ``weights``) and ``zmax`` (``max_i
    ||z_i||``): when the caller has them (the guard, once per step).
    """
    n = z.shape[0]
    norms = [np.linalg.norm(W) for W in weights] if sq is None else np.sqrt(sq)
    if zmax is None:
        zmax = float(np.max(np.linalg.norm(z, axis=1)))
    big = float(np.prod(norms)) * zmax
    return log_risk_rounding(big, n, rounding_count(weights, n))


def local_error_bound(y_old: np.ndarray, y_new: np.ndarray, rtol: float, atol: float) -> float:
    """2-norm bound on one accepted step's local error, from the acceptance test.

    scipy accepts a step when ``rms(e / (atol + rtol max(|y_old|, |y_new|))) <= 1``,
    so ``||e||_2 <= sqrt(N) max_i(atol + rtol max(|y_old_i|, |y_new_i|))``; the
    final rounding of the state adds ``eps ||y_new||_2``.  Those are Radau's weights;
    BDF weighs by ``|y_new|`` alone and LSODA takes a max norm with weights from
    ``|y_old|``: both smaller weights or a stronger norm, so the same bound holds.  ``e``
    is the solver's local error *estimate* (library/test_flow_guards.py recomputes BDF's
    on the flow's steps); the true local error agrees with it to leading order.
    """
    scale = atol + rtol * np.maximum(np.abs(y_old), np.abs(y_new))
    return float(np.sqrt(y_new.size) * np.max(scale)) + EPS * float(np.linalg.norm(y_new))


# --- the per-step guards (pure: each raises with the path so far, or returns) -----------------


def check_direction(
    old: np.ndarray, new: np.ndarray, step: int, s: float, log_risk: float, partial
) -> None:
    """Critical-point guard: raise if the unit field reversed within one step (S-A2b).

    Under a valid time change ``g_hat`` varies continuously along the path; a
    reversal (``<g_old, g_new> < 0``) within one accepted step means the step crossed
    a zero of ``grad R``, which the exact flow reaches only as ``t -> inf``: beyond it
    the normalised field traces a different path.  ``partial(why)`` builds the path
    so far.
    """
    if float(old @ new) < 0:
        raise CriticalPointError(
            f"the gradient direction reversed within step {step} at s={s:.6g} "
            f"(log R = {log_risk:.6g}): the path reached a critical point of R, where "
            "the flow needs infinite time. Check A2 (grad R(W(0)) != 0, R(W(0)) <= R(0)).",
            partial("critical point"),
        )


def risk_rise_allowance(
    grad_log_r: float, e: float, rounding_old: float, rounding_new: float
) -> float:
    """How far ``log R`` may rise across one step: ``||grad log R|| e`` plus two roundings (S-EQ1).

    First order in the local error bound ``e`` (:func:`local_error_bound`), plus the
    rounding of the two evaluations of ``log R`` (:func:`evaluation_rounding`).
    """
    return grad_log_r * e + rounding_new + rounding_old


def check_risk_rise(rise: float, allowance: float, step: int, s: float, partial) -> None:
    """S-EQ1 guard: raise :class:`RiskIncreaseError` if ``rise > allowance`` (equality passes)."""
    if rise > allowance:
        raise RiskIncreaseError(
            f"log R rose by {rise:.3e} in one step (allowed {allowance:.3e} by the local error "
            f"bound) at step {step}, s={s:.6g}: the path is wrong (S-EQ1)",
            partial("risk increase"),
        )


def check_eq2_drift(drift: np.ndarray, bound: np.ndarray, step: int, s: float, partial) -> None:
    """S-EQ2 guard: raise :class:`InvariantDriftError` if any ``drift_k > bound_k``.

    The message names the invariant that exceeds its bound the most (equality passes).
    """
    if np.any(drift > bound):
        k = int(np.argmax(drift - bound))
        raise InvariantDriftError(
            f"eq. 2 invariant I_{k + 1} drifted by {drift[k]:.3e} > bound {bound[k]:.3e} at "
            f"step {step}, s={s:.6g}: the path is wrong (S-EQ2)",
            partial("invariant drift"),
        )
