"""Gradient flow ``dW/dt = -grad R(W)`` integrated far into the asymptotic regime.

Raw time cannot get there: ``t`` grows like ``exp(margin)`` and overflows
(NUMERICS.md).  The flow is integrated under a positive time change
``ds = c(W) dt`` instead, computed in log-domain, which leaves the path
unchanged (S-INV).  Writing ``c = ||grad R|| / rho(W)`` the field becomes

    dW/ds = -rho(W) * g_hat(W),       g_hat = grad R / ||grad R||,

with one of three clocks:

- ``"lognorm"``   ``rho = sqrt(1 + ||W||^2)``, so ``s ~ log ||W||``;
- ``"arclength"`` ``rho = 1``, so ``s`` is arc length;
- ``"risk"``      ``rho = R / ||grad R||``, so ``s = log R(W(0)) - log R(W)``.

The flow is stiff (stiffness grows like ``||w_prod|| / gamma``), so it is
integrated with an implicit solver (Radau by default, LSODA on request) and
the analytic Jacobian built from :func:`invariants.network.scaled_hessian`.

**The error budget.**  scipy's solvers accept a step only when the weighted
RMS norm of their local error estimate is ``<= 1``, with weights
``atol + rtol * max(|y_old|, |y_new|)``.  Hence each accepted step's local
error satisfies ``||e||_2 <= sqrt(N) * max_i(atol + rtol * max(|y_i|))``
(Cauchy-Schwarz on the RMS norm), to which one rounding of the state,
``eps * ||y||_2``, is added.  The recorded ``local_error`` is the running sum
of these per-step bounds over the W-components.

The guards convert that budget into bounds on quantities the exact flow keeps
(S-EQ1, S-EQ2).  The exact flow preserves ``I_k = W_{k+1}^T W_{k+1} - W_k W_k^T``,
so along the numerical path ``I_k`` can only move through local errors, never
through their propagation:

    ||I_k(W_n) - I_k(W_0)||_F <= sum_n 2 (||W_k|| + ||W_{k+1}||) e_n + 2 e_n^2
                                 + rounding of the measurement,

and likewise ``log R`` can rise across a step by at most
``||grad log R|| e_n`` plus the rounding of two evaluations of ``log R``.
A step that exceeds either bound raises, with the path so far attached.

Statements served: S-EQ1, S-EQ2, S-EQ3, S-L2a/b/c, S-C1, S-INV, S-L1, S-T1.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.integrate import BDF, LSODA, Radau

from . import network as net
from .errors import (
    CriticalPointError,
    InvariantDriftError,
    RiskIncreaseError,
    SolverDegradedError,
)
from .losses import Loss

EPS = float(np.finfo(float).eps)
CLOCKS = ("lognorm", "arclength", "risk")
SOLVERS = {"Radau": Radau, "LSODA": LSODA, "BDF": BDF}


# --- the field ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldEval:
    """Everything evaluated at one point ``W`` of the path, in log-domain."""

    log_risk: float
    log_grad_norm: float  # log ||grad R(W)||
    log_rho: float  # log of the clock factor rho(W)
    direction: np.ndarray  # g_hat = grad R / ||grad R||, flattened
    grad: net.ScaledGradient


def evaluate(
    weights: net.Weights, z: np.ndarray, loss: Loss, clock: str, *, with_risk: bool = True
) -> FieldEval:
    """Evaluate risk, gradient direction and clock factor at ``W`` (S-EQ1).

    ``with_risk=False`` skips ``log R`` (returned as NaN) where the field does
    not need it.
    """
    grad = net.layer_gradients(weights, z, loss)
    flat = net.flatten(grad.layers)
    direction = flat / np.linalg.norm(flat)
    lr = net.log_risk(weights, z, loss) if (with_risk or clock == "risk") else np.nan
    if clock == "lognorm":
        log_rho = 0.5 * np.log1p(float(np.vdot(theta := net.flatten(weights), theta)))
    elif clock == "arclength":
        log_rho = 0.0
    elif clock == "risk":
        log_rho = lr - grad.log_norm
    else:
        raise ValueError(f"unknown clock {clock!r}; choose one of {CLOCKS}")
    return FieldEval(lr, grad.log_norm, float(log_rho), direction, grad)


class _Field:
    """The time-changed field ``f(y) = -rho g_hat`` over ``y = vec W``, and its Jacobian."""

    def __init__(self, shapes, z: np.ndarray, loss: Loss, clock: str) -> None:
        self.shapes, self.z, self.loss, self.clock = shapes, z, loss, clock
        self.nfev = 0
        self.njev = 0

    def weights(self, y: np.ndarray) -> net.Weights:
        return net.unflatten(y, self.shapes)

    def __call__(self, s: float, y: np.ndarray) -> np.ndarray:
        self.nfev += 1
        fe = evaluate(self.weights(y), self.z, self.loss, self.clock, with_risk=False)
        return -np.exp(fe.log_rho) * fe.direction

    def jac(self, s: float, y: np.ndarray) -> np.ndarray:
        """``J = -rho (I - g g^T) H~ / ||G~|| - g (grad rho)^T``.

        ``H~`` is the Hessian at the gradient's scale (:func:`net.scaled_hessian`);
        the derivative of the scale itself is parallel to ``g`` and is removed
        by the projection.
        """
        self.njev += 1
        W = self.weights(y)
        fe = evaluate(W, self.z, self.loss, self.clock, with_risk=self.clock == "risk")
        G = fe.grad
        gn = np.linalg.norm(net.flatten(G.layers))
        H = net.scaled_hessian(W, self.z, self.loss, G.log_scale) / gn
        g = fe.direction
        rho = np.exp(fe.log_rho)
        J = -rho * (H - np.outer(g, g @ H))
        if self.clock == "lognorm":
            J -= np.outer(g, y / rho)
        elif self.clock == "risk":
            grad_log_r = np.exp(fe.log_grad_norm - fe.log_risk) * g
            J -= np.outer(g, rho * (grad_log_r - H @ g))
        return J


# --- the trajectory -----------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """One recorded point of the path, with the error budget spent to reach it."""

    s: float
    weights: net.Weights
    log_risk: float
    log_time: float  # log of physical time t (-inf at t = 0)
    log_grad_norm: float
    local_error: float  # sum of per-step local error bounds on W (2-norm)
    drift_bound: np.ndarray  # per k < L: bound on ||I_k(W) - I_k(W(0))||_F
    steps: int


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
    (:func:`rate_sensitivity`) and ``e`` the local error bound.
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


def frobenius_sq(weights: net.Weights) -> np.ndarray:
    return np.array([float(np.vdot(W, W)) for W in weights])


def eq2_drift(initial: net.Weights, weights: net.Weights) -> np.ndarray:
    """``||I_k(W) - I_k(W(0))||_F`` for k < L, ``I_k = W_{k+1}^T W_{k+1} - W_k W_k^T`` (S-EQ2)."""
    out = []
    for k in range(len(weights) - 1):
        now = weights[k + 1].T @ weights[k + 1] - weights[k] @ weights[k].T
        then = initial[k + 1].T @ initial[k + 1] - initial[k] @ initial[k].T
        out.append(float(np.linalg.norm(now - then)))
    return np.array(out)


def eq2_rounding(initial: net.Weights, weights: net.Weights) -> np.ndarray:
    """Rounding bound of :func:`eq2_drift`'s own evaluation.

    Each Gram product ``A^T A`` with inner dimension ``m`` has entrywise error
    ``<= gamma_m |A|^T |A|``, hence Frobenius error ``<= gamma_m ||A||_F^2``
    (``gamma_m = m eps / (1 - m eps)``); two of them at each time, plus the
    subtractions (``+3`` in m), at ``t`` and at 0.
    """
    out = []
    for k in range(len(weights) - 1):
        m = max(weights[k].shape[1], weights[k + 1].shape[0]) + 3
        gm = m * EPS / (1 - m * EPS)
        tot = 0.0
        for W in (weights, initial):
            tot += gm * (float(np.vdot(W[k], W[k])) + float(np.vdot(W[k + 1], W[k + 1])))
        out.append(tot)
    return np.array(out)


def rate_sensitivity(weights: net.Weights, z: np.ndarray, loss: Loss, clock: str, fe) -> float:
    """A bound on ``||grad_W log(rho ||grad R|| / R)||``, the S-EQ1 rate's log-gradient.

    ``grad log ||grad R|| = Hess R grad R / ||grad R||^2``, at most
    ``||Hess R||_2 / ||grad R||`` (:func:`invariants.network.hessian_norm_bound`);
    ``||grad log R|| = ||grad R|| / R``; ``||grad log rho|| = ||W|| / rho^2 <= 1``
    for the lognorm clock, 0 for arc length.  For the risk clock the rate is
    identically 1, so the bound is 0.
    """
    if clock == "risk":
        return 0.0
    g = fe.grad
    gn_scaled = np.exp(fe.log_grad_norm - g.log_scale)
    h = net.hessian_norm_bound(weights, z, loss, g.log_scale) / gn_scaled
    # ||grad log R|| = exp(log ||grad R|| - log R); above exp(709) the bound is vacuous (inf).
    x = fe.log_grad_norm - fe.log_risk
    grad_log_r = float(np.exp(x)) if x < 709.0 else np.inf
    return (1.0 if clock == "lognorm" else 0.0) + h + grad_log_r


def log_risk_rounding(weights: net.Weights, z: np.ndarray, log_risk: float) -> float:
    """Rounding bound on one evaluation of ``log R(W)``.

    The margins ``<w_prod, z_i>`` come from ``L`` matrix-vector products and a
    dot product: forward error ``<= gamma_{(L+1) m} prod ||W_k||_F ||z_i||`` with
    ``m`` the largest dimension.  ``d log R / d m_i`` lies in [-1, 0] (a
    weighted mean of ``loss'/loss``, each in [-1, 0] for both losses), so the
    margin error passes to ``log R`` unamplified; logsumexp adds a few ulps of
    ``|log R|``.
    """
    m = max(max(W.shape) for W in weights)
    L = len(weights)
    scale = float(np.prod([np.linalg.norm(W) for W in weights])) * float(
        np.max(np.linalg.norm(z, axis=1))
    )
    return (L + 1) * m * EPS * scale + 4 * EPS * (abs(log_risk) + 1.0)


def local_error_bound(y_old: np.ndarray, y_new: np.ndarray, rtol: float, atol: float) -> float:
    """2-norm bound on one accepted step's local error, from the acceptance test.

    scipy accepts a step when ``rms(e / (atol + rtol max(|y_old|, |y_new|))) <= 1``,
    so ``||e||_2 <= sqrt(N) max_i(atol + rtol max(|y_old_i|, |y_new_i|))``; the
    final rounding of the state adds ``eps ||y_new||_2``.
    """
    scale = atol + rtol * np.maximum(np.abs(y_old), np.abs(y_new))
    return float(np.sqrt(y_new.size) * np.max(scale)) + EPS * float(np.linalg.norm(y_new))


def gradient_flow(
    z: np.ndarray,
    initial: Sequence[np.ndarray],
    loss: Loss,
    *,
    clock: str = "lognorm",
    method: str = "LSODA",
    rtol: float = 1e-10,
    atol: float = 1e-12,
    ds: float = 0.25,
    checkpoints: Sequence[float] | None = None,
    max_frobenius: float = 1e3,
    max_wprod: float = 1e12,
    s_max: float = 1e6,
    max_steps: int = 50_000,
    max_rtol: float = 1e-6,
    floor_wprod: float = 1e11,
    floor_stiffness: float = 1e12,
    check_a2: bool = True,
    enforce_guards: bool = True,
    stop_when: Callable[[Checkpoint], bool] | None = None,
) -> Trajectory:
    """Integrate gradient flow from ``initial`` under ``clock`` (S-EQ1, S-EQ2, S-INV).

    Checkpoints are recorded at ``s = 0, ds, 2 ds, ...`` (or exactly at the
    given ``checkpoints`` clock values, each reached by integrating to it, never
    by interpolation) until ``max_k ||W_k||_F >= max_frobenius``,
    ``||w_prod|| >= max_wprod`` or ``s >= s_max``.

    If the solver fails once ``||w_prod|| >= floor_wprod`` or the stiffness
    proxy ``||w_prod|| / gamma_t >= floor_stiffness`` (:func:`at_float64_floor`),
    the path so far is returned with ``stop_reason = "float64_floor"``: there the part of
    ``w_prod`` orthogonal to ubar (of order one) is within a few hundred ulps
    of ``||w_prod||``, the field is rounding noise amplified by the stiffness,
    and no tolerance can be met (NUMERICS.md, the floor of double precision).

    Raises :class:`~invariants.errors.AssumptionError` if A2 fails (unless
    ``check_a2=False``, for negative controls), and a
    :class:`~invariants.errors.TrajectoryError` subclass, carrying the path
    so far, if a guard trips.  ``enforce_guards=False`` records the budgets but
    lets a wrong path through: only for negative controls, which must show the
    property checks catching what the guards would have stopped.
    ``stop_when(checkpoint)`` returning True ends the run there
    (``stop_reason = "stop_when"``), e.g. once a direction is certified.
    """
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; choose one of {CLOCKS}")
    if method not in SOLVERS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(SOLVERS)}")
    z = np.asarray(z, dtype=np.float64)
    W0 = net.as_weights(initial, d=z.shape[1])
    if check_a2:
        net.require_a2(W0, z, loss)
    if checkpoints is not None:
        s_max = np.inf  # explicit checkpoints are the stopping rule
    cpu0 = time.process_time()
    field_ = _Field([W.shape for W in W0], z, loss, clock)
    guard = _Guard(W0, z, loss, clock, rtol, atol, enforce_guards)
    y = net.flatten(W0)
    records = [guard.checkpoint(0.0, y)]
    targets = None if checkpoints is None else [float(c) for c in checkpoints]
    j, reason = 0, "s_max"
    s = grid = 0.0
    live: dict = {"solver": None, "method": method}

    def partial(why: str) -> Trajectory:
        return guard.trajectory(live["method"], records, field_, why, time.process_time() - cpu0)

    while True:
        if targets is not None:
            if j >= len(targets):
                reason = "checkpoints"
                break
            s_next = targets[j]
        else:
            s_next = grid + ds
        if s_next > s_max:
            break
        s_bound = s_next if targets is not None else s_max
        if targets is not None:
            live["solver"] = None  # land on each explicit checkpoint exactly
        try:
            at_floor = at_float64_floor(records[-1].weights, z, floor_wprod, floor_stiffness)
            s, y = _segment(
                field_, guard, live, s, y, s_next, s_bound, max_steps, max_rtol, partial, at_floor
            )
        except (SolverDegradedError, RiskIncreaseError, InvariantDriftError, CriticalPointError):
            if not at_float64_floor(records[-1].weights, z, floor_wprod, floor_stiffness):
                raise
            reason = "float64_floor"
            break
        grid = s_next
        records.append(guard.checkpoint(s, y))
        j += 1
        Wn = records[-1].weights
        if np.sqrt(np.max(frobenius_sq(Wn))) >= max_frobenius:
            reason = "max_frobenius"
            break
        if np.linalg.norm(net.end_to_end(Wn)) >= max_wprod:
            reason = "max_wprod"
            break
        if stop_when is not None and stop_when(records[-1]):
            reason = "stop_when"
            break
    return partial(reason)


FALLBACKS = ("LSODA", "BDF", "Radau")


def at_float64_floor(
    weights: net.Weights, z: np.ndarray, floor_wprod: float, floor_stiffness: float
) -> bool:
    """Whether the path has reached the float64 floor of this arithmetic.

    The field's rounding noise is ``~eps ||w_prod||`` in the margins, amplified
    by a stiffness ``~||w_prod|| / gamma`` (NUMERICS.md); with the current
    normalised margin ``gamma_t = min_i <w_prod, z_i> / ||w_prod||`` standing in
    for gamma, the proxy is ``||w_prod||^2 / min_i <w_prod, z_i>``.  Small-margin
    data reach the floor at a smaller ``||w_prod||``.
    """
    w = net.end_to_end(weights)
    wn = float(np.linalg.norm(w))
    if wn >= floor_wprod:
        return True
    m = float(np.min(z @ w))
    return m > 0 and wn * wn / m >= floor_stiffness


def _segment(field_, guard, live, s0, y0, s1, s_bound, max_steps, max_rtol, partial, at_floor):
    """Integrate one checkpoint interval; on failure switch solver, then loosen tolerance.

    Returns ``(s_end, y_end)``.  With ``s_bound > s1`` (uniform grid) the live
    solver of ``live`` keeps running across checkpoints, and the checkpoint is
    its first accepted step at or beyond ``s1``: no restart, no interpolation.
    With ``s_bound == s1`` (explicit checkpoints) it lands on ``s1`` exactly.

    Two failure modes are seen on this problem.  (1) LSODA's stiffness
    detection can miss a switch and crawl in its explicit Adams mode at the
    stability limit ``h ~ 1/|lambda|`` (a stall: more than ``SEGMENT_STEPS``
    steps in one interval), where BDF or Radau pass in tens of steps; the
    reverse also happens.  So a stalled or failed interval is redone from its
    start with the next solver of :data:`FALLBACKS`.  (2) Near the float64
    floor the field itself is noisy: margins of size ``||w_prod||`` carry
    absolute rounding ``~eps ||w_prod||``, which the stiff Jacobian (``~||w_prod||
    / gamma``) turns into relative noise in ``f`` above a tight ``rtol``.  When
    every solver has failed, the interval is redone at ten times the
    tolerance, up to ``max_rtol``.  The error budget follows the tolerance
    actually used, so every guard and bound stays valid.  The first solver that
    succeeds is kept for the following intervals.  ``at_floor``: the interval
    starts at the float64 floor: every solver is tried once, but the tolerance
    is not loosened (that only buys noise), and the failure raises.
    """
    order = [live["method"]] + [m for m in FALLBACKS if m != live["method"]]
    while True:
        for name in order:
            snapshot = guard.snapshot()
            if live.get("solver") is None or live["method"] != name:
                live["solver"] = SOLVERS[name](
                    field_, s0, y0, s_bound, rtol=guard.rtol, atol=guard.atol, jac=field_.jac
                )
                live["method"] = name
            failure = _advance(live["solver"], guard, s1, max_steps, partial)
            if failure is None:
                return float(live["solver"].t), live["solver"].y.copy()
            live["solver"] = None
            guard.restore(snapshot)
            guard.failures.append((s0, name, guard.rtol, failure))
        if at_floor or guard.rtol * 10 > max_rtol:
            wnorm = float(np.linalg.norm(net.end_to_end(field_.weights(y0))))
            last = guard.failures[-1][3]
            kind = type(guard.guard_error) if last.startswith("guard:") else SolverDegradedError
            raise kind(
                f"every solver failed on [{s0:.6g}, {s1:.6g}] (||w_prod|| = {wnorm:.3g} at its "
                f"start) even at rtol={guard.rtol:.0e}: "
                f"{guard.failures[-1][3]}",
                partial(f"failed: {guard.failures[-1][3]}"),
            )
        guard.escalate()


SEGMENT_STEPS = 1000


def _advance(solver, guard, s1, max_steps, partial) -> str | None:
    """Step ``solver`` until it reaches ``s1``; return why it failed, or None."""
    start = guard.n_steps
    while solver.t < s1:
        if solver.status != "running":
            return f"solver {solver.status} at s={solver.t:.6g} before s={s1:.6g}"
        y_old, s_old = solver.y.copy(), float(solver.t)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            msg = solver.step()
        if solver.status == "failed" or caught or not np.all(np.isfinite(solver.y)):
            return msg or (str(caught[0].message) if caught else "non-finite state")
        try:
            guard.step(s_old, float(solver.t), y_old, solver.y.copy(), partial)
        except (RiskIncreaseError, InvariantDriftError, CriticalPointError) as exc:
            # The solver accepted a step its own error estimate did not cover
            # (seen near the float64 floor, where the field is noise).  The
            # interval is redone like any other failure; if every solver and
            # tolerance fails, the guard's verdict is what is raised.
            guard.guard_error = exc
            return f"guard: {exc}"
        if guard.n_steps - start > SEGMENT_STEPS:
            return f"stalled: {SEGMENT_STEPS} steps without reaching s={s1:.6g}"
        if guard.n_steps > max_steps:
            raise SolverDegradedError(
                f"step budget {max_steps} exhausted at s={solver.t:.6g}: the solver stalled "
                "(typically at the float64 floor, ||w_prod|| ~ 1e12-1e13)",
                partial("max_steps"),
            )
    return None


class _Guard:
    """Running error budget, the per-step guards and the step log (module docstring)."""

    def __init__(self, W0, z, loss, clock, rtol, atol, enforce=True) -> None:
        self.enforce = enforce
        self.W0, self.z, self.loss, self.clock = W0, z, loss, clock
        self.rtol, self.atol = rtol, atol
        self.escalations: list[tuple[int, float]] = []  # (step, new rtol)
        self.failures: list[tuple[float, str, float, str]] = []  # (s, solver, rtol, why)
        self.discarded_steps = 0  # accepted steps of intervals that were redone
        self.guard_error: Exception | None = None
        self.shapes = [W.shape for W in W0]
        self.local_error = 0.0
        self.drift_budget = np.zeros(len(W0) - 1)
        self.n_steps = 0
        self.max_drift_rel = 0.0
        self.last = evaluate(W0, z, loss, clock)
        self.last_rounding = log_risk_rounding(W0, z, self.last.log_risk)
        self.log_time = -np.inf
        self.log = {
            "s": [0.0],
            "log_risk": [self.last.log_risk],
            "log_rate": [self._rate(self.last)],
            "log_dtds": [self.last.log_rho - self.last.log_grad_norm],
            "risk_allowance": [self.last_rounding],
            "rate_allowance": [0.0],
        }
        self.last_kappa = rate_sensitivity(W0, z, loss, clock, self.last)

    _SCALARS = (
        "local_error",
        "n_steps",
        "max_drift_rel",
        "last",
        "last_rounding",
        "log_time",
        "last_kappa",
    )

    def snapshot(self) -> tuple:
        """Cheap state copy for rolling back a failed interval (logs are only appended to)."""
        scalars = {k: getattr(self, k) for k in self._SCALARS}
        return scalars, self.drift_budget.copy(), {k: len(v) for k, v in self.log.items()}

    def restore(self, snap: tuple) -> None:
        scalars, drift_budget, lengths = snap
        self.discarded_steps += self.n_steps - scalars["n_steps"]
        for k, v in scalars.items():
            setattr(self, k, v)
        self.drift_budget = drift_budget
        for k, n in lengths.items():
            del self.log[k][n:]

    def escalate(self) -> None:
        """Loosen the tolerance tenfold (see :func:`_segment`)."""
        self.rtol *= 10
        self.atol *= 10
        self.escalations.append((self.n_steps, self.rtol))

    @staticmethod
    def _rate(fe: FieldEval) -> float:
        return fe.log_rho + fe.log_grad_norm - fe.log_risk

    def step(self, s_old, s_new, y_old, y_new, partial) -> None:
        self.n_steps += 1
        e = local_error_bound(y_old, y_new, self.rtol, self.atol)
        self.local_error += e
        W = net.unflatten(y_new, self.shapes)
        Wold = net.unflatten(y_old, self.shapes)
        norms = np.sqrt(np.maximum(frobenius_sq(W), frobenius_sq(Wold)))
        self.drift_budget += 2 * (norms[:-1] + norms[1:]) * e + 2 * e * e

        fe = evaluate(W, self.z, self.loss, self.clock)
        # Critical-point guard.  Under a valid time change the unit field g_hat
        # varies continuously along the path; a reversal (<g_old, g_new> < 0)
        # within one accepted step means the step crossed a zero of grad R,
        # which the exact flow reaches only as t -> inf (S-A2b): beyond it the
        # normalised field traces a different path, so stop here.
        if float(self.last.direction @ fe.direction) < 0:
            raise CriticalPointError(
                f"the gradient direction reversed within step {self.n_steps} at s={s_new:.6g} "
                f"(log R = {fe.log_risk:.6g}): the path reached a critical point of R, where "
                "the flow needs infinite time. Check A2 (grad R(W(0)) != 0, R(W(0)) <= R(0)).",
                partial("critical point"),
            )
        rounding = log_risk_rounding(W, self.z, fe.log_risk)
        # S-EQ1 guard: log R may rise across a step only through the local error
        # (first order in e, with ||grad log R|| the larger of the two ends).
        # (Capped at exp(709): beyond it the allowance is vacuous anyway -- only
        # a broken field, as in the negative controls, gets there.)
        grad_log_r = float(
            np.exp(
                min(
                    max(
                        fe.log_grad_norm - fe.log_risk, self.last.log_grad_norm - self.last.log_risk
                    ),
                    709.0,
                )
            )
        )
        allowance = grad_log_r * e + rounding + self.last_rounding
        rise = fe.log_risk - self.last.log_risk
        if rise > allowance and self.enforce:
            raise RiskIncreaseError(
                f"log R rose by {rise:.3e} in one step (allowed {allowance:.3e} by the local error "
                f"bound) at step {self.n_steps}, s={s_new:.6g}: the path is wrong (S-EQ1)",
                partial("risk increase"),
            )
        # S-EQ2 guard.
        drift = eq2_drift(self.W0, W)
        bound = self.drift_budget + eq2_rounding(self.W0, W)
        if np.any(drift > bound) and self.enforce:
            k = int(np.argmax(drift - bound))
            raise InvariantDriftError(
                f"eq. 2 invariant I_{k + 1} drifted by {drift[k]:.3e} > bound {bound[k]:.3e} at "
                f"step {self.n_steps}, s={s_new:.6g}: the path is wrong (S-EQ2)",
                partial("invariant drift"),
            )
        if drift.size:
            nn = frobenius_sq(W)
            self.max_drift_rel = max(self.max_drift_rel, float(np.max(drift / (nn[:-1] + nn[1:]))))
        self._advance_time(s_old, s_new, fe)
        self.log["s"].append(s_new)
        self.log["log_risk"].append(fe.log_risk)
        self.log["log_rate"].append(self._rate(fe))
        self.log["log_dtds"].append(fe.log_rho - fe.log_grad_norm)
        self.log["risk_allowance"].append(grad_log_r * e + rounding)
        kappa = rate_sensitivity(W, self.z, self.loss, self.clock, fe)
        log_piece = log_exp_trapezoid(s_new - s_old, self._rate(self.last), self._rate(fe))
        # Where kappa e is large the bound is vacuous (inf): the rate is too
        # sensitive there for the solver's certified accuracy to pin it down.
        x = max(kappa, self.last_kappa) * e
        log_allow = log_piece + np.log(np.expm1(x)) if 0 < x < 700 else -np.inf
        if x >= 700 or log_allow > 700:
            allow = np.inf
        else:
            allow = float(np.exp(log_allow))
        self.log["rate_allowance"].append(allow)
        self.last, self.last_rounding, self.last_kappa = fe, rounding, kappa

    def _advance_time(self, s_old: float, s_new: float, fe: FieldEval) -> None:
        """Physical time, ``dt/ds = rho / ||grad R||``, by the exponential trapezoid rule.

        Exact when ``log(dt/ds)`` is linear in s over the step; accumulated with
        ``logaddexp`` so that ``t ~ exp(1e12)`` is represented by its log.
        """
        a = self.last.log_rho - self.last.log_grad_norm
        b = fe.log_rho - fe.log_grad_norm
        self.log_time = float(np.logaddexp(self.log_time, log_exp_trapezoid(s_new - s_old, a, b)))

    def checkpoint(self, s: float, y: np.ndarray) -> Checkpoint:
        W = tuple(M.copy() for M in net.unflatten(y, self.shapes))
        return Checkpoint(
            s=float(s),
            weights=W,
            log_risk=self.last.log_risk,
            log_time=self.log_time,
            log_grad_norm=self.last.log_grad_norm,
            local_error=self.local_error,
            drift_bound=self.drift_budget + eq2_rounding(self.W0, W),
            steps=self.n_steps,
        )

    def trajectory(self, method, records, field_, reason, cpu) -> Trajectory:
        return Trajectory(
            z=self.z,
            loss=self.loss,
            clock=self.clock,
            method=method,
            rtol=self.rtol,
            atol=self.atol,
            initial=self.W0,
            checkpoints=tuple(records),
            steps=StepLog(**{k: np.array(v) for k, v in self.log.items()}),
            work=Work(self.n_steps, field_.nfev, field_.njev, cpu, self.discarded_steps),
            stop_reason=reason,
            max_drift_rel=self.max_drift_rel,
            escalations=tuple(self.escalations),
            failures=tuple(self.failures),
        )


def log_exp_trapezoid(h: float, a: float, b: float) -> float:
    """``log int_0^h exp(a + (b - a) s / h) ds``, stably (``-inf`` for h = 0)."""
    if h <= 0:
        return -np.inf
    hi, delta = max(a, b), abs(b - a)
    if delta < 1e-8:
        return float(np.log(h) + 0.5 * (a + b) - delta**2 / 24)  # series of log((1-e^-d)/d) + d/2
    return float(hi + np.log(h) + np.log(-np.expm1(-delta)) - np.log(delta))


def _monotone_bound(h: float, a: float, b: float) -> float:
    """``log(h |exp(b) - exp(a)|)``: the rule's error on a step where the integrand is monotone.

    A monotone integrand's integral and the exponential trapezoid value both lie
    in ``[h min, h max]`` of the endpoint values.
    """
    hi, lo = max(a, b), min(a, b)
    if h <= 0 or hi == lo:
        return -np.inf
    return float(np.log(h) + hi + np.log(-np.expm1(lo - hi)))


def _pieces(s: np.ndarray, log_f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step ``log`` integrals, and per step ``log`` of a bound on their error.

    The exponential trapezoid rule is applied on each accepted step.  Errors:
    for a pair of steps of comparable length (ratio <= 2) the fine rule is
    compared with the same rule over the pair (Richardson: for a second-order
    rule the fine error is about a third of the difference, so the difference
    itself is a conservative bound), charged half to each step.  Richardson
    needs comparable steps: for an unbalanced pair (the solver's first steps
    grow a thousandfold) and for a last unpaired step, the monotone bound of
    :func:`_monotone_bound` is used instead.
    """
    n = s.size - 1
    h = np.diff(s)
    piece = np.array([log_exp_trapezoid(h[i], log_f[i], log_f[i + 1]) for i in range(n)])
    err = np.array([_monotone_bound(h[i], log_f[i], log_f[i + 1]) for i in range(n)])
    for i in range(0, n - 1, 2):
        if max(h[i], h[i + 1]) > 2 * min(h[i], h[i + 1]):
            continue
        fine = np.logaddexp(piece[i], piece[i + 1])
        coarse = log_exp_trapezoid(h[i] + h[i + 1], log_f[i], log_f[i + 2])
        hi, lo = max(fine, coarse), min(fine, coarse)
        e = hi + np.log(-np.expm1(lo - hi)) if hi > lo else -np.inf
        err[i] = err[i + 1] = e - np.log(2.0)
    return piece, err


def log_integral(s: np.ndarray, log_f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log int_0^{s_j} exp(log_f) ds`` at every node, and ``log`` of its error bound."""
    piece, err = _pieces(s, log_f)
    val = np.concatenate([[-np.inf], np.logaddexp.accumulate(piece)]) if piece.size else [-np.inf]
    bnd = np.concatenate([[-np.inf], np.logaddexp.accumulate(err)]) if err.size else [-np.inf]
    return np.asarray(val), np.asarray(bnd)


def log_time_integral(steps: StepLog) -> tuple[np.ndarray, np.ndarray]:
    """``log t`` at every logged step, ``t = int rho / ||grad R|| ds``, and its error (S-INV)."""
    return log_integral(steps.s, steps.log_dtds)


def risk_decrease_integral(steps: StepLog) -> tuple[np.ndarray, np.ndarray]:
    """``Lambda(s_j) = int_0^{s_j} rho ||grad R|| / R ds`` at every step, and its error (S-EQ1).

    Linear scale: ``Lambda = -(log R(s) - log R(0))`` for the exact flow, of
    the order of the margins (up to ~1e12).  Only a broken field (a negative
    control) pushes it past the float range; it is then +inf, with no warning.
    """
    val, err = log_integral(steps.s, steps.log_rate)
    return _exp_or_inf(val), _exp_or_inf(err)


def _exp_or_inf(x: np.ndarray) -> np.ndarray:
    """``exp(x)``, +inf above the float range instead of an overflow warning."""
    x = np.asarray(x, dtype=float)
    return np.where(x > 709.0, np.inf, np.exp(np.minimum(x, 709.0)))
