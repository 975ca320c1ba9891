"""Gradient descent on the summed exponential loss, stepped in the scaled clock.

``theta(t+1) = theta(t) - eta(t) grad Lsum(theta(t))`` for a deep linear network, written
as ``theta(t+1) = theta(t) - s(t) g(t)`` with ``g = grad Lsum / Lsum``
(:func:`invariants.core.homogeneous.scaled_gradient`, of order one) and the *scaled step*
``s = eta Lsum``.  The step rule gives ``log eta`` from ``u = log(1/Lsum)`` and ``s`` is
``exp(log eta - u)``: the steps the GD theorem allows are ``eta ~ 1/(Lsum polylog)``, which
overflow float64 once ``Lsum < 1e-308``, while ``s`` stays of order ``1/polylog``.  This is
why the theorem's runs use this small loop rather than :mod:`invariants.dynamics.gd` (mean
risk, a step ``eta_R`` stored as a float, the A5 rule).

Sum convention: ``eta`` here is the paper's step on ``Lsum`` (``eta_R = n eta`` on the mean).

Statements served: LL-T4.2, LL-LE.1, LL-LE.7 (the runs they are checked on), LL-NEG (a
step far above the bound).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..core import homogeneous as hom
from ..core import network as net
from ..core.losses import EXPONENTIAL

#: ``log(eta Lsum)`` beyond which a run is taken as diverged and stopped (``e^{50}``: the
#: step is then ``5e21`` times the size of the scaled gradient).
_DIVERGED = 50.0

#: A step rule: ``(u, step index) -> log eta``.
StepRule = Callable[[float, int], float]


@dataclass(frozen=True)
class ScaledRun:
    """Every iterate of one run: ``theta[t]`` (T+1, D), ``u[t] = log(1/Lsum)`` (T+1),
    ``log_eta[t]`` and ``scaled_step[t] = eta Lsum`` (T), ``gradient[t] = grad Lsum / Lsum``
    at ``theta[t]`` (T, D); ``shapes`` the layer shapes, ``z`` the data ``y_i x_i``."""

    z: np.ndarray
    shapes: tuple[tuple[int, int], ...]
    theta: np.ndarray
    u: np.ndarray
    log_eta: np.ndarray
    scaled_step: np.ndarray
    gradient: np.ndarray

    @property
    def order(self) -> int:
        """``p = L``."""
        return len(self.shapes)

    @property
    def steps(self) -> int:
        return self.log_eta.size

    def weights(self, t: int) -> net.Weights:
        """``W(t)``."""
        return net.unflatten(self.theta[t], self.shapes)


def margins_at(theta: np.ndarray, shapes: Sequence[tuple[int, int]], z: np.ndarray) -> np.ndarray:
    """``q_i = <w_prod, z_i>`` at the flat parameters ``theta``."""
    return z @ net.end_to_end(net.unflatten(theta, shapes))


def scaled_gradient_descent(
    z: np.ndarray, initial: Sequence[np.ndarray], steps: int, rule: StepRule
) -> ScaledRun:
    """``steps`` GD steps on ``Lsum = sum_i exp(-q_i)`` with ``log eta = rule(u, t)``."""
    z = np.asarray(z, dtype=np.float64)
    W = tuple(np.asarray(M, dtype=np.float64) for M in initial)
    shapes = tuple(M.shape for M in W)
    theta = np.empty((steps + 1, sum(M.size for M in W)))
    theta[0] = net.flatten(W)
    u = np.empty(steps + 1)
    log_eta, s = np.empty(steps), np.empty(steps)
    grads = np.empty((steps, theta.shape[1]))
    with np.errstate(under="ignore"):  # exp(-q) of far examples underflows: weight 0, exact
        for t in range(steps + 1):
            model = hom.linear_network_margins(net.unflatten(theta[t], shapes), z)
            u[t] = -hom.log_loss_sum(model.q, EXPONENTIAL)
            if t == steps:
                break
            grads[t] = hom.scaled_gradient(model, EXPONENTIAL)
            log_eta[t] = rule(float(u[t]), t)
            if log_eta[t] - u[t] > _DIVERGED:  # a diverging run (a step far above the
                steps = t  # bound): stop before the scaled step overflows
                break
            s[t] = math.exp(log_eta[t] - u[t])
            theta[t + 1] = theta[t] - s[t] * grads[t]
    T = steps
    return ScaledRun(z, shapes, theta[: T + 1], u[: T + 1], log_eta[:T], s[:T], grads[:T])


def log_loss_of_scale(q: np.ndarray, log_c: float, order: int) -> float:
    """``log Lsum(c theta) = log sum_i exp(-c^p q_i)`` at ``c = e^{log_c}``, stably."""
    m = math.exp(order * log_c) * np.asarray(q, dtype=np.float64)
    return -float(m.min()) + math.log(float(np.sum(np.exp(-(m - m.min())))))


def start_past_t0(
    z: np.ndarray,
    direction: np.ndarray,
    dims: Sequence[int],
    rng: np.random.Generator,
    *,
    tilt: float,
    noise: float,
    u0: float,
) -> tuple[np.ndarray, ...]:
    """A start ``W(0)`` of a linear network with layer sizes ``dims = (d, d_1, ..., 1)``
    whose loss is ``Lsum = e^{-u0}`` (so it is past t0 whenever ``u0 > 0``).

    A rank-one chain ``a_k a_{k-1}^T`` (unit ``a_k``, ``a_0`` = ``direction`` tilted by a
    random vector of norm ``tilt``, ``a_L = 1``) plus iid noise of size ``noise``; while some
    margin is ``<= 0`` tilt and noise are halved (at zero both the product is
    ``direction``, whose margins are positive by assumption), then the layers are scaled by
    a common ``c`` found by bisection in ``log c`` so that ``log Lsum = -u0`` to 1e-12.
    """
    z = np.asarray(z, dtype=np.float64)
    L = len(dims) - 1
    unit = [rng.standard_normal(k) for k in dims[1:-1]]
    unit = [v / np.linalg.norm(v) for v in unit]
    tilt_v = rng.standard_normal(dims[0])
    tilt_v /= np.linalg.norm(tilt_v)
    gauss = [rng.standard_normal((dims[k + 1], dims[k])) for k in range(L)]
    for _ in range(60):
        a0 = direction + tilt * tilt_v
        if np.linalg.norm(a0) <= 0.5 * np.linalg.norm(direction):  # tilted back to ~0
            tilt /= 2
            continue
        chain = [a0 / np.linalg.norm(a0), *unit, np.ones(1)]
        W = [np.outer(chain[k + 1], chain[k]) + noise * gauss[k] for k in range(L)]
        q = z @ net.end_to_end(tuple(W))
        if q.min() > 0:
            break
        tilt, noise = tilt / 2, noise / 2
    else:  # pragma: no cover - the direction's margins are positive
        raise ValueError("the direction does not separate the data")
    lo, hi = -50.0, 50.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if -log_loss_of_scale(q, mid, L) < u0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    c = math.exp(hi)
    return tuple(c * M for M in W)
