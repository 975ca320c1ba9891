"""The records of a gradient-flow run: its checkpoints, step log, work and the path itself.

Plain frozen dataclasses, filled by the driver (:func:`invariants.dynamics.flow.gradient_flow`)
and read by the claim checks; the stated errors they carry are computed in
:mod:`invariants.dynamics.quadrature` (``log_time_error``) and
:mod:`invariants.dynamics.reference` (``perp_error``).

Statements served: S-EQ1, S-EQ2, S-INV, S-T2 (the quantities recorded for them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import network as net
from ..core.bounds import frobenius_sq
from ..core.losses import Loss


@dataclass(frozen=True)
class Checkpoint:
    """One recorded point of the path, with the error budget spent to reach it."""

    s: float
    weights: net.Weights
    log_risk: float
    log_time: float  # log of physical time t (-inf at t = 0; corrected_log_time)
    log_grad_norm: float
    local_error: float  # sum of per-step local error bounds on W (2-norm)
    drift_bound: np.ndarray  # per k < L: bound on ||I_k(W) - I_k(W(0))||_F
    steps: int
    # Bound on |log_time - log t_exact| (see quadrature.log_time_errors); filled when the
    # trajectory is assembled, so NaN only on a checkpoint built by hand.
    log_time_error: float = np.nan
    # Estimated ||w_perp - w_perp,exact|| / ||w_perp,exact|| (the part of w_prod orthogonal
    # to ubar), from reference.with_perp_error; NaN until that is called.
    perp_error: float = np.nan
    kappa_time: float = np.nan  # running max of the dt/ds sensitivity (for log_time_error)


@dataclass(frozen=True)
class StepLog:
    """Per accepted step: clock value, ``log R``, and the S-EQ1 rate.

    ``log_rate = log(rho ||grad R|| / R)`` is ``-d log R / ds`` of the exact flow;
    ``risk_allowance`` is the per-step bound on how far the computed ``log R``
    may sit from the exact one (local error times ``||grad log R||`` plus
    rounding); ``rate_allowance`` bounds, per step, how much the S-EQ1 rate
    integrated at the computed points may differ from the rate along the exact
    flow line through the step's start: the step's integral times
    ``expm1(kappa e)`` with ``kappa`` a bound on ``||grad log rate||``
    (:func:`invariants.dynamics.flow.sensitivities`) and ``e`` the local error bound.
    """

    s: np.ndarray
    log_risk: np.ndarray
    log_rate: np.ndarray
    log_dtds: np.ndarray
    risk_allowance: np.ndarray
    rate_allowance: np.ndarray


@dataclass(frozen=True)
class Work:
    """Work done by the integrator."""

    steps: int  # accepted steps on the returned path
    nfev: int
    njev: int
    cpu_seconds: float
    discarded_steps: int = 0  # steps of intervals redone after a solver failure


@dataclass(frozen=True)
class Trajectory:
    """A guarded gradient-flow path (S-EQ1, S-EQ2, S-INV, ...).

    Every checkpoint passed the guards; ``stop_reason`` says why it ended.
    """

    z: np.ndarray
    loss: Loss
    clock: str
    method: str
    rtol: float
    atol: float
    initial: net.Weights
    checkpoints: tuple[Checkpoint, ...]
    steps: StepLog
    work: Work
    stop_reason: str
    max_drift_rel: float  # measured max relative eq. 2 drift over every step
    escalations: tuple[tuple[int, float], ...] = ()  # (step, rtol) when the tolerance rose
    failures: tuple[
        tuple[float, str, float, str], ...
    ] = ()  # intervals redone: (s, solver, rtol, why)

    @property
    def final(self) -> Checkpoint:
        return self.checkpoints[-1]

    def column(self, name: str) -> np.ndarray:
        return np.array([getattr(c, name) for c in self.checkpoints])

    def max_frobenius(self) -> np.ndarray:
        """``max_k ||W_k||_F`` at every checkpoint."""
        return np.array([np.sqrt(np.max(frobenius_sq(c.weights))) for c in self.checkpoints])

    def wprod_norm(self) -> np.ndarray:
        """``||w_prod||`` at every checkpoint."""
        return np.array([np.linalg.norm(net.end_to_end(c.weights)) for c in self.checkpoints])
