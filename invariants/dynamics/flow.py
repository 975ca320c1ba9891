"""Gradient flow ``dW/dt = -grad R(W)`` integrated far into the asymptotic regime.

Raw time cannot get there: ``t`` grows like ``exp(margin)`` (the risk, about
``exp(-margin)``, falls roughly like ``1/t``) and leaves the float64 range once the margin
passes about 709.  The flow is integrated under a positive time change
``ds = c(W) dt`` instead, computed in log-domain, which leaves the path
unchanged (S-INV).  Writing ``c = ||grad R|| / rho(W)`` the field becomes

    dW/ds = -rho(W) * g_hat(W),       g_hat = grad R / ||grad R||,

with one of three clocks:

- ``"lognorm"``   ``rho = sqrt(1 + ||W||^2)``, so ``s ~ log ||W||``;
- ``"arclength"`` ``rho = 1``, so ``s`` is arc length;
- ``"risk"``      ``rho = R / ||grad R||``, so ``s = log R(W(0)) - log R(W)``.

The flow is stiff (stiffness grows like ``||w_prod|| / gamma``), so it is
integrated with an implicit solver and the analytic Jacobian built from
:func:`invariants.core.network.scaled_hessian`.  **BDF at rtol 1e-10 is the default,
chosen by measurement** (issue 12): on six problems, against Radau at rtol 1e-12, its
``w_perp`` error up to ``||w_prod|| = 1e9`` was 2e-8 to 2.5e-7: 6 to 380 times below
LSODA's at about the same CPU time, 1.3 to 10 times below Radau's at a fraction of it;
rtol 1e-11 changed it by at most 1.8x either way (not in proportion to rtol).  The
tables, with those behind :data:`LATE_WPROD` and ``reference.STATED_PERP_BANDS``, are in
``docs/numerics.md`` (section "Gradient flow: solver choice and error budget").  Every
checkpoint carries ``log_time_error`` (always; :mod:`invariants.dynamics.quadrature`)
and ``perp_error`` (from :func:`invariants.dynamics.reference.with_perp_error`, against
a tighter Radau run).

**The error budget.**  Each accepted step's local error ``e_n`` is bounded from the
solver's acceptance test (:func:`local_error_bound`); ``local_error`` is their running
sum.  The exact flow keeps ``I_k = W_{k+1}^T W_{k+1} - W_k W_k^T`` and never raises
``log R``, so along the computed path ``I_k`` moves only through the local errors, by at
most ``sum_n 2 (||W_k|| + ||W_{k+1}||) e_n + 2 e_n^2`` plus the rounding of the
measurement (S-EQ2, :func:`check_eq2_drift`), and ``log R`` rises across a step by at
most ``||grad log R|| e_n`` plus the rounding of two evaluations of ``log R`` (S-EQ1,
:func:`check_risk_rise`).  A step that exceeds either bound raises, with the path so far
attached.  The derivation is in the same section of ``docs/numerics.md``.

This module holds the field (:class:`FieldEval`, :func:`evaluate`, :class:`Field`), the
per-step guard and the driver (:func:`gradient_flow`); the guard's allowances are in
:mod:`invariants.dynamics.budget`, the records of a run in
:mod:`invariants.dynamics.records`, the time quadrature in
:mod:`invariants.dynamics.quadrature`, the reference run in
:mod:`invariants.dynamics.reference`.

Statements served: S-EQ1, S-EQ2, S-EQ3, S-L2a/b/c, S-C1, S-INV, S-L1, S-T1.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.integrate import BDF, LSODA, Radau

from ..core import network as net
from ..core.bounds import frobenius_sq
from ..core.losses import Loss
from ..errors import (
    CriticalPointError,
    InvariantDriftError,
    RiskIncreaseError,
    SolverDegradedError,
)
from .budget import (  # the guard's allowances (flow.<name> stays patchable)
    check_direction,
    check_eq2_drift,
    check_risk_rise,
    eq2_drift,
    eq2_invariants,
    eq2_rounding,
    evaluation_rounding,
    local_error_bound,
    risk_rise_allowance,
    sensitivities,
)
from .quadrature import log_exp_trapezoid, with_log_time_error
from .records import Checkpoint, StepLog, Trajectory, Work  # flow.Checkpoint, flow.Trajectory

CLOCKS = ("lognorm", "arclength", "risk")
#: ``||w_prod||`` at which a default run switches from BDF to LSODA (``late_wprod``).
#: Measured (issue 18, benchmarks/bench_accuracy.py): a switch at 1e9 made the largest
#: ``w_perp`` error of the decade 1e9..1e10 100 times what BDF reaches there; BDF to 1e11
#: bought nothing above 1e10 and cost 1-2 s
#: (docs/numerics.md, "Gradient flow: solver choice and error budget").
#: Above the switch :func:`~invariants.dynamics.reference.with_perp_error` has no reference.
LATE_WPROD = 1e10
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
    weights: net.Weights,
    z: np.ndarray,
    loss: Loss,
    clock: str,
    *,
    with_risk: bool = True,
    theta: np.ndarray | None = None,
) -> FieldEval:
    """Evaluate risk, gradient direction and clock factor at ``W`` (S-EQ1).

    ``with_risk=False`` skips ``log R`` (returned as NaN) where the field does
    not need it.  ``theta``: ``flatten(weights)`` when the caller already has it
    (the solver's state), saving a copy on the hot path.
    """
    grad = net.layer_gradients(weights, z, loss)
    flat = net.flatten(grad.layers)
    direction = flat / math.sqrt(float(flat @ flat))  # np.linalg.norm's sum, no wrapper
    lr = net.log_risk(weights, z, loss) if (with_risk or clock == "risk") else np.nan
    if clock == "lognorm":
        if theta is None:
            theta = net.flatten(weights)
        log_rho = 0.5 * math.log1p(float(theta @ theta))
    elif clock == "arclength":
        log_rho = 0.0
    elif clock == "risk":
        log_rho = lr - grad.log_norm
    else:
        raise ValueError(f"unknown clock {clock!r}; choose one of {CLOCKS}")
    return FieldEval(lr, grad.log_norm, float(log_rho), direction, grad)


class Field:
    """The time-changed field ``f(y) = -rho g_hat`` over ``y = vec W``, and its Jacobian."""

    def __init__(self, shapes, z: np.ndarray, loss: Loss, clock: str) -> None:
        self.shapes, self.z, self.loss, self.clock = shapes, z, loss, clock
        self.nfev = 0
        self.njev = 0
        self._known: tuple[bytes, FieldEval] | None = None

    def remember(self, y: np.ndarray, fe: FieldEval) -> None:
        """Keep the guard's full evaluation at an accepted state ``y`` for :meth:`jac`.

        BDF re-evaluates its Jacobian at the current accepted state, which the guard
        has just evaluated (with ``log R``): that evaluation is reused, bit for bit.
        """
        self._known = (y.tobytes(), fe)

    def weights(self, y: np.ndarray) -> net.Weights:
        return net.unflatten(y, self.shapes)

    def __call__(self, s: float, y: np.ndarray) -> np.ndarray:
        self.nfev += 1
        fe = evaluate(self.weights(y), self.z, self.loss, self.clock, with_risk=False, theta=y)
        return -math.exp(fe.log_rho) * fe.direction

    def jac(self, s: float, y: np.ndarray) -> np.ndarray:
        """``J = -rho (I - g g^T) H~ / ||G~|| - g (grad rho)^T``.

        ``H~`` is the Hessian at the gradient's scale (:func:`net.scaled_hessian`);
        the derivative of the scale itself is parallel to ``g`` and is removed
        by the projection.
        """
        self.njev += 1
        W = self.weights(y)
        known = self._known
        if known is not None and known[0] == y.tobytes():
            fe = known[1]
        else:
            fe = evaluate(W, self.z, self.loss, self.clock, with_risk=self.clock == "risk", theta=y)
        G = fe.grad
        flat = net.flatten(G.layers)
        gn = math.sqrt(float(flat @ flat))
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


def grad_log_risk_bound(old: FieldEval, new: FieldEval) -> float:
    """``||grad log R|| = ||grad R|| / R``, the larger of a step's two ends (S-EQ1).

    Capped at ``exp(709)``: beyond it the allowance is vacuous anyway -- only a
    broken field, as in the negative controls, gets there.
    """
    x = max(new.log_grad_norm - new.log_risk, old.log_grad_norm - old.log_risk)
    return float(np.exp(min(x, 709.0)))


def gradient_flow(
    z: np.ndarray,
    initial: Sequence[np.ndarray],
    loss: Loss,
    *,
    clock: str = "lognorm",
    method: str = "BDF",
    late_method: str | None = "LSODA",
    late_wprod: float = LATE_WPROD,
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
    and no tolerance can be met: the floor of double precision.

    ``method`` integrates until ``||w_prod|| >= late_wprod``, ``late_method`` after that
    (None: ``method`` throughout).  BDF's advantage is the accuracy of ``w_perp`` up to
    :data:`LATE_WPROD`, not speed (to ``||w_prod|| = 1e12`` at depth 4, BDF throughout
    took 3.1 s and LSODA throughout 1.0 s, benchmarks/bench_flow.py); above it LSODA's
    error and the float64 floor's are of one order (``reference.STATED_PERP_BANDS``).

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
    for name in (method, late_method):
        if name is not None and name not in SOLVERS:
            raise ValueError(f"unknown method {name!r}; choose one of {sorted(SOLVERS)}")
    z = np.asarray(z, dtype=np.float64)
    W0 = net.as_weights(initial, d=z.shape[1])
    if check_a2:
        net.require_a2(W0, z, loss)
    if checkpoints is not None:
        s_max = np.inf  # explicit checkpoints are the stopping rule
    cpu0 = time.process_time()
    field_ = Field([W.shape for W in W0], z, loss, clock)
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
        if (
            late_method is not None
            and live["method"] == method
            and np.linalg.norm(net.end_to_end(records[-1].weights)) >= late_wprod
        ):
            live["method"], live["solver"] = late_method, None
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
    by a stiffness ``~||w_prod|| / gamma`` (the module docstring); with the current
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
            failure = _advance(live["solver"], guard, s1, max_steps, partial, field_)
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


def _advance(solver, guard, s1, max_steps, partial, field_: Field | None = None) -> str | None:
    """Step ``solver`` until it reaches ``s1``; return why it failed, or None.

    ``field_``: the solver's field, handed the guard's evaluation at each accepted
    state (:meth:`Field.remember`).
    """
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
        if field_ is not None:
            field_.remember(solver.y, guard.last)
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
        # Constants of the run, kept so that each step does not recompute them.
        self.zmax = float(np.max(np.linalg.norm(z, axis=1)))
        self.sq0 = frobenius_sq(W0)
        self.then = eq2_invariants(W0)
        self.last_rounding = evaluation_rounding(W0, z, sq=self.sq0, zmax=self.zmax)
        self.log = {
            "s": [0.0],
            "log_risk": [self.last.log_risk],
            "log_rate": [self._rate(self.last)],
            "log_dtds": [self.last.log_rho - self.last.log_grad_norm],
            "risk_allowance": [self.last_rounding],
            "rate_allowance": [0.0],
        }
        self.last_kappa, self.kappa_time = sensitivities(W0, z, loss, clock, self.last)

    _SCALARS = (
        "local_error",
        "n_steps",
        "max_drift_rel",
        "last",
        "last_rounding",
        "last_kappa",
        "kappa_time",
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
        nn = frobenius_sq(W)
        norms = np.sqrt(np.maximum(nn, frobenius_sq(Wold)))
        self.drift_budget += 2 * (norms[:-1] + norms[1:]) * e + 2 * e * e

        fe = evaluate(W, self.z, self.loss, self.clock, theta=y_new)
        # Critical-point guard (S-A2b): a reversal of g_hat within one step.
        check_direction(
            self.last.direction, fe.direction, self.n_steps, s_new, fe.log_risk, partial
        )
        rounding = evaluation_rounding(W, self.z, sq=nn, zmax=self.zmax)
        # S-EQ1 guard: log R may rise across a step only through the local error
        # (first order in e, with ||grad log R|| the larger of the two ends).
        grad_log_r = grad_log_risk_bound(self.last, fe)
        allowance = risk_rise_allowance(grad_log_r, e, self.last_rounding, rounding)
        if self.enforce:
            check_risk_rise(
                fe.log_risk - self.last.log_risk, allowance, self.n_steps, s_new, partial
            )
        # S-EQ2 guard.
        drift = eq2_drift(self.W0, W, then=self.then)
        bound = self.drift_budget + eq2_rounding(self.W0, W, sq=nn, sq0=self.sq0)
        if self.enforce:
            check_eq2_drift(drift, bound, self.n_steps, s_new, partial)
        if drift.size:
            self.max_drift_rel = max(self.max_drift_rel, float(np.max(drift / (nn[:-1] + nn[1:]))))
        self.log["s"].append(s_new)
        self.log["log_risk"].append(fe.log_risk)
        self.log["log_rate"].append(self._rate(fe))
        self.log["log_dtds"].append(fe.log_rho - fe.log_grad_norm)
        self.log["risk_allowance"].append(grad_log_r * e + rounding)
        kappa, kappa_time = sensitivities(W, self.z, self.loss, self.clock, fe)
        self.kappa_time = max(self.kappa_time, kappa_time)
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

    def checkpoint(self, s: float, y: np.ndarray) -> Checkpoint:
        W = tuple(M.copy() for M in net.unflatten(y, self.shapes))
        return Checkpoint(
            s=float(s),
            weights=W,
            log_risk=self.last.log_risk,
            log_time=np.nan,  # filled from the step log (with_log_time_error)
            log_grad_norm=self.last.log_grad_norm,
            local_error=self.local_error,
            drift_bound=self.drift_budget + eq2_rounding(self.W0, W),
            steps=self.n_steps,
            kappa_time=self.kappa_time,
        )

    def trajectory(self, method, records, field_, reason, cpu) -> Trajectory:
        steps = StepLog(**{k: np.array(v) for k, v in self.log.items()})
        return Trajectory(
            z=self.z,
            loss=self.loss,
            clock=self.clock,
            method=method,
            rtol=self.rtol,
            atol=self.atol,
            initial=self.W0,
            checkpoints=with_log_time_error(records, steps),
            steps=steps,
            work=Work(self.n_steps, field_.nfev, field_.njev, cpu, self.discarded_steps),
            stop_reason=reason,
            max_drift_rel=self.max_drift_rel,
            escalations=tuple(self.escalations),
            failures=tuple(self.failures),
        )
