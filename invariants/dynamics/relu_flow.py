"""Gradient flow of a bias-free ReLU network with one output on the summed loss (LL-T4.1).

The flow ``dtheta/dt = -grad Lsum(theta)`` is integrated along its path only, in the clock
``tau`` with ``dtheta/dtau = -rho grad Lsum / ||grad Lsum||`` (:func:`unit_field` times
``rho``): a positive rescaling of the velocity is a change of clock, so the path, and every
path-only claim (LL-T4.1's monotonicity of ``gtil``, the sandwich gap), are unchanged.  In
this clock ``||dtheta/dtau|| = rho``, so ``dlog rho/dtau <= 1``: ``tau`` advances at least
as fast as ``log rho``, and nothing in the field depends on the size of ``Lsum`` (the
gradient is the scaled one of :func:`invariants.core.homogeneous.scaled_gradient`), so
nothing underflows as the margins grow.

The integrator is an embedded implicit Runge-Kutta pair, scipy's ``Radau`` (Radau IIA of
order 5 with its embedded error estimate; Jacobian by finite differences), driven one
accepted step at a time.  **Why not an explicit pair.**  The field is stiff, increasingly
so as the margins grow: the dual weights are a softmax of the margins, which move by
``rho^{p-1}`` per unit of ``theta``, so the field's Lipschitz constant in ``tau`` grows
like ``S = log(1/Lsum)``.  Dormand-Prince 5(4) (``method="RK45"``, kept for the library
test and for comparison) is held to steps of about ``3 / S`` by stability, whatever its
tolerance (measured on six drawn problems: 2000 steps reached only ``S`` of a few hundred,
at rtol 1e-6 as at 1e-9), while Radau reaches ``S = 1e4`` in 200 to 350 steps at rtol 1e-8.

Every step keeps

* ``local_error``: the 2-norm bound on the step's local error estimate implied by the
  acceptance test (:func:`invariants.dynamics.budget.local_error_bound`, the same budget as
  the linear flow's, whose weights are Radau's); for ``RK45`` also the estimate itself
  (``estimate``, ``||h sum_i E_i K_i||``; nan for Radau, whose estimate scipy does not
  keep).  Like the linear flow's, it is an estimate of the true local error to leading
  order -- for a *smooth* field;
* ``crossed``: whether any field evaluation of the step (every stage, rejected attempts
  and finite-difference Jacobians included, and the state it starts from) saw a different
  activation pattern.  The field of a ReLU network is smooth (a polynomial in ``theta``
  composed with the loss) only while the pattern is fixed; across a pattern change its
  gradient jumps, the error estimate is not an estimate of anything, and a check must not
  treat it as a bound there.  Equal patterns at every evaluation do not prove the exact
  path stayed in one region (it could cut a corner between them); what the suite claims on
  such a step is the same first-order estimate as for the linear flow, tested against a
  tighter integration in ``properties/library/test_relu_flow.py``.

Statements served: LL-T4.1 (the ReLU trajectories it is checked along, and a generator of
starting points past t0), LL-EQ1 (the model).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.integrate import RK45, Radau

from invariants.core import homogeneous as hm
from invariants.core.losses import Loss
from invariants.core.network import unflatten
from invariants.dynamics.budget import local_error_bound

#: Default tolerances of the stepper.  rtol 1e-8 keeps ``||grad log gtil|| e`` (the
#: allowance of LL-T4.1's step check) near 1e-8 relative, below a typical step's change
#: of ``log gtil`` (measured: over 98% of the steps of six drawn runs move ``log gtil`` by
#: more), at 200 to 350 Radau steps from ``t0`` to ``S = 1e4``.
RTOL = 1e-8
ATOL = 1e-11

#: Stop after this many steps that saw a pattern change.  Some flows reach a face of an
#: activation region and slide along it (a pre-activation held at 0 by a field that points
#: into the face from both sides: a Filippov sliding mode).  The computed field is then
#: discontinuous at every step, the stepper chatters across the face with ever smaller
#: steps (measured: 1500 to 1700 crossing steps in 2000, one run ending in scipy's "step
#: size less than spacing"), and no step there carries an error estimate; the run is cut.
#: Runs that do not slide reached ``S = 1e3`` with 0 to 42 crossing steps (measured on 16
#: drawn problems; 5 of them slid and were cut here).
MAX_CROSSINGS = 100


def activation_pattern(weights: Sequence[np.ndarray], x: np.ndarray) -> bytes:
    """The signs ``A_k > 0`` of every hidden pre-activation at every input, packed (LL-EQ1):
    the region of parameter space on which the network is one polynomial in ``theta``."""
    h = np.asarray(x, dtype=np.float64)
    bits = []
    for W in weights[:-1]:
        a = h @ W.T
        bits.append(a > 0.0)
        h = np.maximum(a, 0.0)
    return np.packbits(np.concatenate([b.ravel() for b in bits])).tobytes() if bits else b""


def unit_field(
    theta: np.ndarray, shapes: Sequence[tuple[int, int]], x: np.ndarray, y: np.ndarray, loss: Loss
) -> np.ndarray:
    """``-grad Lsum / ||grad Lsum||`` at ``theta`` (the flow's direction; LL-T4.1), from
    the scaled gradient, so it is the same at every size of ``Lsum``."""
    model = hm.relu_network_margins(unflatten(theta, shapes), x, y)
    g = hm.scaled_gradient(model, loss)
    return -g / np.linalg.norm(g)


@dataclass(frozen=True)
class ReluTrajectory:
    """The accepted states of one run (module docstring): ``states[0]`` is the start,
    ``states[j + 1]`` the end of step ``j``; per step ``local_error``, ``estimate`` and
    ``crossed``; ``tau`` the clock at each state; ``stop_reason``."""

    x: np.ndarray
    y: np.ndarray
    loss: Loss
    shapes: tuple
    tau: np.ndarray
    states: np.ndarray
    local_error: np.ndarray
    estimate: np.ndarray
    crossed: np.ndarray
    stop_reason: str
    evaluations: int

    def weights(self, j: int) -> tuple:
        """The layers at state ``j``."""
        return unflatten(self.states[j], self.shapes)

    @property
    def pattern_changes(self) -> int:
        """The number of steps that saw more than one activation pattern."""
        return int(np.sum(self.crossed))


def relu_flow(
    x: np.ndarray,
    y: np.ndarray,
    weights: Sequence[np.ndarray],
    loss: Loss,
    *,
    max_s: float,
    max_tau: float = 40.0,
    max_steps: int = 800,
    max_crossings: int = MAX_CROSSINGS,
    rtol: float = RTOL,
    atol: float = ATOL,
    method: str = "Radau",
) -> ReluTrajectory:
    """Integrate the flow (module docstring) from ``weights`` until ``S = log(1/Lsum)``
    reaches ``max_s``, or ``tau`` reaches ``max_tau``, or ``max_steps`` steps, or
    ``max_crossings`` steps saw a pattern change (:data:`MAX_CROSSINGS`; LL-T4.1)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    weights = tuple(np.asarray(W, dtype=np.float64) for W in weights)
    shapes = tuple(W.shape for W in weights)
    theta0 = np.concatenate([W.ravel() for W in weights])
    seen: list[bytes] = []

    def fun(_tau: float, theta: np.ndarray) -> np.ndarray:
        W = unflatten(theta, shapes)
        seen.append(activation_pattern(W, x))
        return float(np.linalg.norm(theta)) * unit_field(theta, shapes, x, y, loss)

    stepper = {"RK45": RK45, "Radau": Radau}[method]
    solver = stepper(fun, 0.0, theta0, max_tau, rtol=rtol, atol=atol)
    last = activation_pattern(weights, x)
    tau, states, errs, ests, crossed = [0.0], [theta0.copy()], [], [], []
    stop = "max_steps"
    evaluations = 0
    while len(errs) < max_steps:
        mark = len(seen)
        message = solver.step()
        if solver.status == "failed":
            stop = f"solver failed: {message}"
            break
        h = solver.t - solver.t_old
        y_old, y_new = states[-1], solver.y.copy()
        ests.append(
            float(np.linalg.norm(h * (solver.K.T @ solver.E))) if method == "RK45" else math.nan
        )
        errs.append(local_error_bound(y_old, y_new, rtol, atol))
        step_patterns = set(seen[mark:]) | {last}
        crossed.append(len(step_patterns) > 1)
        last = seen[-1]
        tau.append(float(solver.t))
        states.append(y_new)
        evaluations += len(seen) - mark
        del seen[:]
        q = hm.relu_network_margins(unflatten(y_new, shapes), x, y).q
        if -hm.log_loss_sum(q, loss) >= max_s:
            stop = "max_s"
            break
        if sum(crossed) >= max_crossings:
            stop = "max_crossings"
            break
        if solver.status == "finished":
            stop = "max_tau"
            break
    return ReluTrajectory(
        x=x,
        y=y,
        loss=loss,
        shapes=shapes,
        tau=np.array(tau),
        states=np.array(states),
        local_error=np.array(errs),
        estimate=np.array(ests),
        crossed=np.array(crossed, dtype=bool),
        stop_reason=stop,
        evaluations=evaluations,
    )


def scale_past_threshold(
    weights: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray, loss: Loss, margin: float = 1.0
) -> tuple:
    """Scale every layer by one factor so that the smallest margin is ``m = log n + margin``
    (t0's condition ``Lsum < loss(0)`` with room; LL-T4.1); needs every margin positive.
    The sum of ``n`` losses at margins ``>= m`` is at most ``n loss(m) <= n e^{-m} =
    e^{-margin}`` for both losses (``log(1 + u) <= u``), below ``loss(0)`` (1, or ``log 2``
    ``> e^{-1}``) for ``margin >= 1``."""
    weights = tuple(np.asarray(W, dtype=np.float64) for W in weights)
    q = hm.relu_network_margins(weights, x, y).q
    if not np.all(q > 0):
        raise ValueError("scale_past_threshold needs every margin positive")
    target = math.log(len(q)) + margin
    c = (target / float(np.min(q))) ** (1.0 / len(weights))
    return tuple(c * W for W in weights)


def teacher_student_problem(
    seed: int, n: int, d: int, depth: int, width: int, loss: Loss
) -> tuple[np.ndarray, np.ndarray, tuple] | None:
    """A bias-free ReLU problem already past t0 (LL-T4.1), or None.

    A Gaussian teacher net labels ``3n`` Gaussian inputs; the ``n`` first with
    ``|Phi| >= 0.2 max |Phi|`` are kept (no point on the teacher's boundary); the student is
    the teacher plus 10% noise (so its direction is not the flow's limit and ``gtil`` has
    room to rise), kept only if it separates the data; then scaled past t0
    (:func:`scale_past_threshold`).  Drawn from a numpy seed (the problem is a deterministic
    function of the drawn integers).
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3 * n, d))
    dims = [d] + [width] * (depth - 1) + [1]
    teacher = [rng.normal(size=(dims[k + 1], dims[k])) for k in range(depth)]
    phi = hm.relu_network_margins(teacher, x, np.ones(3 * n)).q
    keep = np.abs(phi) >= 0.2 * np.max(np.abs(phi))
    if np.sum(keep) < n:
        return None
    x, y = x[keep][:n], np.sign(phi[keep][:n])
    student = [
        W + 0.1 * np.linalg.norm(W) / np.sqrt(W.size) * rng.normal(size=W.shape) for W in teacher
    ]
    if not np.all(hm.relu_network_margins(student, x, y).q > 0):
        return None
    return x, y, scale_past_threshold(student, x, y, loss)
