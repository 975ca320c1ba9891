"""Gradient descent on deep linear networks, with the paper's step rule A5.

``W(t+1) = W(t) - eta_t grad R(W(t))`` with, under A5,
``eta_t = min{1 / beta(R_t), 1}`` and ``beta(R) = 2 L^2 R^(2L-2) (beta + G)``
(Lemma 5), where ``W(t) in B(R_t) = {W : ||W_k||_F <= R_t for all k}`` and
``R_{t+1} = R_t`` whenever the step lands inside ``B(R_t)``.  The line search
of the paper: starting from ``R_{t-1}``, grow ``R_t`` until the step it
prescribes lands inside ``B(R_t)``; ``R_t`` never shrinks.

The trajectory records, at every step, ``eta_t``, ``R_t``, ``log R(W(t))``,
``||grad R(W(t))||``, every ``W_k(t)``, and the accumulators of S-EQ29,
``P_k(t) = sum_{tau<t} eta_tau^2 G_k G_k^T`` and
``Q_k(t) = sum_{tau<t} eta_tau^2 G_k^T G_k`` (``G_k = dR/dW_k`` at step tau).

Statements served: S-L5, S-EQ4, S-L6, S-L7, S-EQ27, S-EQ29, S-EQ30, S-EQ37,
S-L8a/b/c, S-T3, S-T4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core import network as net
from ..core.losses import Loss
from ..errors import AssumptionError


def beta_of_radius(radius: float, depth: int, loss: Loss) -> float:
    """``beta(R) = 2 L^2 R^(2L-2) (beta + G)``, Lemma 5's smoothness on ``B(R)``, R >= 1 (S-L5)."""
    if radius < 1:
        raise ValueError(
            f"Lemma 5's beta(R) holds for R >= 1 only (got R = {radius:g}); use max(1, R)"
        )
    if loss.beta is None or loss.G is None:
        raise AssumptionError(
            f"the {loss.name} loss does not satisfy A4 (loss' is not Lipschitz and bounded), so "
            "Lemma 5's beta(R) and the step rule A5 are undefined; use the logistic loss, or pass "
            "allow_a4_violation=True for a negative control"
        )
    return 2.0 * depth**2 * radius ** (2 * depth - 2) * (loss.beta + loss.G)


def a5_step(radius: float, depth: int, loss: Loss) -> float:
    """``eta = min{1/beta(R), 1}`` (A5)."""
    return min(1.0 / beta_of_radius(radius, depth, loss), 1.0)


def in_ball(weights: net.Weights, radius: float) -> bool:
    """``W in B(R)``: every ``||W_k||_F <= R``."""
    return all(float(np.linalg.norm(W)) <= radius for W in weights)


def max_frobenius(weights: net.Weights) -> float:
    """``max_k ||W_k||_F``."""
    return max(float(np.linalg.norm(W)) for W in weights)


@dataclass(frozen=True)
class GDTrajectory:
    """Every iterate of one GD run, with its step sizes, radii and accumulators.

    ``weights[t]`` is ``W(t)`` for t = 0..T; ``eta[t]``, ``radius[t]``,
    ``grad_norm[t]`` belong to the step from t to t+1 (length T);
    ``log_risk[t]`` is ``log R(W(t))`` (length T+1); ``P[t][k]``, ``Q[t][k]``
    are the accumulators *before* step t (length T+1, ``P[0] = 0``).
    """

    z: np.ndarray
    loss: Loss
    rule: str
    weights: tuple[net.Weights, ...]
    eta: np.ndarray
    radius: np.ndarray
    log_risk: np.ndarray
    grad_norm: np.ndarray
    grad_sq_layers: np.ndarray  # (T, L): ||G_k||_F^2 at each step
    P: tuple[tuple[np.ndarray, ...], ...]
    Q: tuple[tuple[np.ndarray, ...], ...]

    @property
    def steps(self) -> int:
        return self.eta.size

    @property
    def initial(self) -> net.Weights:
        return self.weights[0]


def _gradient(weights: net.Weights, z: np.ndarray, loss: Loss) -> tuple[net.Weights, float]:
    g = net.layer_gradients(weights, z, loss)
    scale = np.exp(g.log_scale)
    return tuple(scale * G for G in g.layers), float(np.exp(g.log_norm))


def gradient_descent(
    z: np.ndarray,
    initial: Sequence[np.ndarray],
    loss: Loss,
    steps: int,
    *,
    rule: str = "A5",
    eta: float | None = None,
    radius0: float | None = None,
    grow: float = 2.0,
    allow_a4_violation: bool = False,
    check_a2: bool = True,
    gradient=None,
) -> GDTrajectory:
    """Run ``steps`` GD steps from ``initial`` (S-EQ4, S-EQ27, S-EQ29, ...).

    ``rule="A5"``: the paper's step rule with the line search that multiplies
    ``R_t`` by ``grow`` until the step lands in ``B(R_t)``.  ``rule="fixed"``:
    the constant step ``eta`` (a comparison and a negative control); its
    recorded radius is ``max_k ||W_k(t)||_F``.  ``rule="A5-frozen"`` is a
    deliberately broken A5 that never grows R (a negative control).
    ``gradient`` replaces the layer-gradient function (planted bugs).

    A5 needs A4; with the exponential loss it raises
    :class:`~invariants.errors.AssumptionError` unless
    ``allow_a4_violation=True``, which then uses the logistic constants
    ``beta = 1/4, G = 1`` as if they held.
    """
    z = np.asarray(z, dtype=np.float64)
    W = net.as_weights(initial, d=z.shape[1])
    if check_a2:
        net.require_a2(W, z, loss)
    if rule not in ("A5", "fixed", "A5-frozen"):
        raise ValueError(f"unknown rule {rule!r}; choose 'A5', 'fixed' or 'A5-frozen'")
    if rule == "fixed" and (eta is None or eta <= 0):
        raise ValueError("rule='fixed' needs a positive eta")
    L = len(W)
    step_loss = loss
    if rule != "fixed" and not loss.satisfies_a4:
        if not allow_a4_violation:
            beta_of_radius(1.0, L, loss)  # raises the explanatory AssumptionError
        step_loss = Loss(**{**loss.__dict__, "beta": 0.25, "G": 1.0})
    grad_fn = gradient or _gradient
    # Lemma 5 needs R >= 1: the radius is clamped at 1 whatever radius0 says.
    R = max(1.0, max_frobenius(W), radius0 or 0.0)
    Ws, etas, radii, logr, gnorm, gsq = [W], [], [], [net.log_risk(W, z, loss)], [], []
    P = [tuple(np.zeros((M.shape[0], M.shape[0])) for M in W)]
    Q = [tuple(np.zeros((M.shape[1], M.shape[1])) for M in W)]
    for _ in range(steps):
        G, gn = grad_fn(W, z, loss)
        if rule == "fixed":
            e = float(eta)
            R = max_frobenius(W)
            new = tuple(M - e * Gk for M, Gk in zip(W, G, strict=True))
        else:
            while True:
                e = a5_step(R, L, step_loss)
                new = tuple(M - e * Gk for M, Gk in zip(W, G, strict=True))
                if rule == "A5-frozen" or in_ball(new, R):
                    break
                R *= grow
        e2 = e * e
        P.append(tuple(p + e2 * (Gk @ Gk.T) for p, Gk in zip(P[-1], G, strict=True)))
        Q.append(tuple(q + e2 * (Gk.T @ Gk) for q, Gk in zip(Q[-1], G, strict=True)))
        etas.append(e)
        radii.append(R)
        gnorm.append(gn)
        gsq.append([float(np.vdot(Gk, Gk)) for Gk in G])
        W = new
        Ws.append(W)
        logr.append(net.log_risk(W, z, loss))
    return GDTrajectory(
        z=z,
        loss=loss,
        rule=rule,
        weights=tuple(Ws),
        eta=np.array(etas),
        radius=np.array(radii),
        log_risk=np.array(logr),
        grad_norm=np.array(gnorm),
        grad_sq_layers=np.array(gsq).reshape(len(etas), L),
        P=tuple(P),
        Q=tuple(Q),
    )
