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

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

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


def frobenius(W: np.ndarray) -> float:
    """``||W||_F``, the same floats as ``np.linalg.norm(W)``: ``sqrt`` of the BLAS dot of the
    raveled entries with themselves (numpy's own 2-norm of a raveled real array), without
    ``norm``'s argument handling (a third of a GD step's Python overhead went there)."""
    v = W.ravel(order="K")
    return math.sqrt(v.dot(v))


def in_ball(weights: net.Weights, radius: float) -> bool:
    """``W in B(R)``: every ``||W_k||_F <= R``."""
    return all(frobenius(W) <= radius for W in weights)


def max_frobenius(weights: net.Weights) -> float:
    """``max_k ||W_k||_F``."""
    return max(frobenius(W) for W in weights)


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

    @cached_property
    def layer_norms(self) -> np.ndarray:
        """``||W_k(t)||_F``, shape (T+1, L), computed once per trajectory (:func:`layer_norms`)."""
        return layer_norms(self.weights)


def layer_norms(weights: Sequence[net.Weights]) -> np.ndarray:
    """``||W_k(t)||_F`` for every iterate and layer, shape (T+1, L): :func:`frobenius`, the
    same floats as ``np.linalg.norm``.  The checks read every norm of a run several times."""
    return np.array([[frobenius(M) for M in W] for W in weights]).reshape(len(weights), -1)


def _gradient(weights: net.Weights, z: np.ndarray, loss: Loss) -> tuple[net.Weights, float]:
    g = net.layer_gradients(weights, z, loss)
    scale = np.exp(g.log_scale)
    return tuple(scale * G for G in g.layers), float(np.exp(g.log_norm))


GradientFn = Callable[[net.Weights, np.ndarray, Loss], tuple[net.Weights, float]]


class _Layout:
    """Where each layer lives in a flat row of ``T`` stacked parameter vectors.

    ``stacks(a)`` views an array of shape ``(T, N)`` as the per-layer stacks
    ``(T, d_k, d_{k-1})``; ``rows(a)`` as ``(T, size_k)``.  No copies: the records of a
    run are written once into preallocated rows (one allocation per record, not per step).
    """

    def __init__(self, weights: net.Weights):
        self.shapes = [M.shape for M in weights]
        self.sizes = [M.size for M in weights]
        self.offsets = np.cumsum([0, *self.sizes]).tolist()
        self.size = self.offsets[-1]

    def _slices(self):
        return zip(self.offsets, self.offsets[1:], self.shapes, strict=False)

    def stacks(self, a: np.ndarray) -> list[np.ndarray]:
        return [a[:, i:j].reshape(a.shape[0], *shape) for i, j, shape in self._slices()]

    def rows(self, a: np.ndarray) -> list[np.ndarray]:
        return [a[:, i:j] for i, j, _ in self._slices()]


def accumulators(G: list[np.ndarray], eta: np.ndarray) -> tuple[list[np.ndarray], ...]:
    """S-EQ29's ``P_k(t)``, ``Q_k(t)`` for t = 0..T from the stacked gradients ``G[k]``.

    ``P_k(t+1) = P_k(t) + eta_t^2 (G_k G_k^T)``, in that order, as a running sum
    (``np.cumsum`` adds sequentially) of one stacked product per layer: the same
    floats as the step-by-step sum.
    """
    e2 = (eta * eta)[:, None, None]
    P, Q = [], []
    for Gk in G:
        Gt = Gk.transpose(0, 2, 1)
        for acc, term in ((P, Gk @ Gt), (Q, Gt @ Gk)):
            out = np.zeros((eta.size + 1, *term.shape[1:]))
            np.cumsum(e2 * term, axis=0, out=out[1:])
            acc.append(out)
    return P, Q


def log_risks(W: list[np.ndarray], z: np.ndarray, loss: Loss) -> np.ndarray:
    """``log R(W(t))`` (S-EQ1) for the stacked iterates ``W[k]`` (shape ``(T+1, d_k, d_{k-1})``).

    :func:`invariants.core.network.log_risk` on every iterate at once: the chain
    ``w_prod = W_1^T ... W_L^T`` as stacked vector-matrix products, the margins as
    stacked matrix-vector products (numpy's stacked ``matmul`` calls the same BLAS
    kernel per item as the single product) and ``logsumexp`` along each row.
    """
    v = W[-1][:, 0, :]
    for M in W[-2::-1]:
        v = (v[:, None, :] @ M)[:, 0, :]
    a = loss.log_value(np.matmul(z, v[:, :, None])[:, :, 0])
    amax = np.max(a, axis=1)
    return amax + np.log(np.sum(np.exp(a - amax[:, None]), axis=1)) - float(np.log(z.shape[0]))


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
    gradient: GradientFn | None = None,
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

    Cost: the loop does only what the next step needs (gradient, update, the
    radius's ball test) and writes into preallocated rows; the risk and the S-EQ29
    accumulators, which no step reads, are computed after it over all steps at once
    (:func:`log_risks`, :func:`accumulators`), with the same floats as step by step.
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
    # Lemma 5 needs R >= 1: the radius is clamped at 1 whatever radius0 says.
    R = max(1.0, max_frobenius(W), radius0 or 0.0)
    lay = _Layout(W)
    theta = np.empty((steps + 1, lay.size))  # theta[t] = flatten(W(t))
    theta[0] = net.flatten(W)
    grads = np.empty((steps, lay.size))  # dR/dW(t), unscaled
    scaled = np.empty(lay.size)  # the scaled layer gradients of the current step
    scaled_layers = tuple(M[0] for M in lay.stacks(scaled[None, :]))
    update = np.empty(lay.size)
    etas, radii, gnorm = np.empty(steps), np.empty(steps), np.empty(steps)
    gsq = np.empty((steps, L))
    W_stack, G_rows = lay.stacks(theta), lay.rows(grads)
    Ws = [tuple(M[0] for M in W_stack)]
    e, e_radius = None, None
    with np.errstate(under="ignore"):  # loss' underflows to 0 far out: the right answer
        for t in range(steps):
            Wt = Ws[t]
            if gradient is None:  # _gradient, written into the row
                log_scale, _, log_norm = net.layer_gradients_into(Wt, z, loss, scaled_layers)
                np.multiply(scaled, np.exp(log_scale), out=grads[t])
                gn = float(np.exp(log_norm))
            else:
                G, gn = gradient(Wt, z, loss)
                grads[t] = np.concatenate([np.ravel(Gk) for Gk in G])
            new = tuple([M[t + 1] for M in W_stack])
            if rule == "fixed":
                e = float(eta)
                R = max_frobenius(Wt)
                np.subtract(theta[t], np.multiply(grads[t], e, out=update), out=theta[t + 1])
            else:
                while True:
                    if R != e_radius:
                        e, e_radius = a5_step(R, L, step_loss), R
                    np.subtract(theta[t], np.multiply(grads[t], e, out=update), out=theta[t + 1])
                    if rule == "A5-frozen" or in_ball(new, R):
                        break
                    R *= grow
            etas[t], radii[t], gnorm[t] = e, R, gn
            gsq[t] = [v.dot(v) for v in [row[t] for row in G_rows]]
            Ws.append(new)
    P, Q = accumulators(lay.stacks(grads), etas)
    return GDTrajectory(
        z=z,
        loss=loss,
        rule=rule,
        weights=tuple(Ws),
        eta=etas,
        radius=radii,
        log_risk=log_risks(W_stack, z, loss),
        grad_norm=gnorm,
        grad_sq_layers=gsq,
        P=tuple(zip(*P, strict=True)),
        Q=tuple(zip(*Q, strict=True)),
    )
