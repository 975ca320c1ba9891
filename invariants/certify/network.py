"""A deep linear network in ball arithmetic, mirroring :mod:`invariants.core.network`.

``W = (W_1, ..., W_L)`` with ``W_k`` of shape ``(d_k, d_{k-1})`` and ``d_L = 1``; the
end-to-end vector ``w = (W_L ... W_1)^T``, the margins ``z @ w``, the risk
``R(W) = (1/n) sum_i loss(<w, z_i>)`` and the layer gradients
``dR/dW_k = s_k (P_k grad R(w))^T`` with ``P_k = W_{k-1} ... W_1`` and
``s_k^T = W_L ... W_{k+1}``.  Nothing is rescaled: Arb's exponents are unbounded, so
``exp(-1e12)`` is an ordinary ball and the far regime needs no log-domain.

Every function takes ball matrices (:func:`.balls.ball_matrix`) and must be called
inside :func:`.balls.working_precision`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from flint import arb, arb_mat

from ..core.losses import Loss
from .balls import ball_matrix, fro2

BallWeights = tuple[arb_mat, ...]


def ball_weights(weights: Sequence[np.ndarray]) -> BallWeights:
    """The exact balls of a network's float layers."""
    return tuple(ball_matrix(W) for W in weights)


def loss_value(loss: Loss, m: arb) -> arb:
    """``loss(m)``: ``log(1 + exp(-m))`` (logistic) or ``exp(-m)`` (exponential)."""
    if loss.name == "logistic":
        return (-m).exp().log1p()
    if loss.name == "exponential":
        return (-m).exp()
    raise ValueError(f"no ball form for the {loss.name} loss; valid: logistic, exponential")


def loss_d1(loss: Loss, m: arb) -> arb:
    """``loss'(m)``: ``-1 / (1 + exp(m))`` (logistic) or ``-exp(-m)`` (exponential)."""
    if loss.name == "logistic":
        return -1 / (1 + m.exp())
    if loss.name == "exponential":
        return -((-m).exp())
    raise ValueError(f"no ball form for the {loss.name} loss; valid: logistic, exponential")


def prefix_products(weights: BallWeights) -> list[arb_mat]:
    """``P_k = W_{k-1} ... W_1`` for k = 1..L, ``P_1 = I``."""
    d = weights[0].ncols()
    P = [arb_mat(d, d, [1 if i == j else 0 for i in range(d) for j in range(d)])]
    for W in weights[:-1]:
        P.append(W * P[-1])
    return P


def suffix_vectors(weights: BallWeights) -> list[arb_mat]:
    """``s_k`` (columns) with ``s_k^T = W_L ... W_{k+1}``, ``s_L = [1]``."""
    s = [arb_mat(1, 1, [1])]
    for W in weights[:0:-1]:
        s.append(W.transpose() * s[-1])
    return s[::-1]


def end_to_end(weights: BallWeights) -> arb_mat:
    """``w = (W_L ... W_1)^T`` as a column."""
    v = weights[-1].transpose()
    for W in weights[-2::-1]:
        v = W.transpose() * v
    return v


def margins(w: arb_mat, z: arb_mat) -> list[arb]:
    """``<w, z_i>`` for every row ``z_i``."""
    return list((z * w).entries())


def risk_vec(w: arb_mat, z: arb_mat, loss: Loss) -> arb:
    """``R(w) = (1/n) sum_i loss(<w, z_i>)``."""
    m = margins(w, z)
    return sum((loss_value(loss, x) for x in m), arb(0)) / len(m)


def risk(weights: BallWeights, z: arb_mat, loss: Loss) -> arb:
    """``R(W)``: the risk of the end-to-end vector."""
    return risk_vec(end_to_end(weights), z, loss)


def gradient_vec(w: arb_mat, z: arb_mat, loss: Loss) -> arb_mat:
    """``grad R(w) = (1/n) sum_i loss'(<w, z_i>) z_i`` as a column."""
    m = margins(w, z)
    d1 = arb_mat(len(m), 1, [loss_d1(loss, x) / len(m) for x in m])
    return z.transpose() * d1


def layer_gradients(weights: BallWeights, z: arb_mat, loss: Loss) -> BallWeights:
    """``dR/dW_k = s_k (P_k grad R(w))^T`` for every layer."""
    P = prefix_products(weights)
    s = suffix_vectors(weights)
    g = gradient_vec(end_to_end(weights), z, loss)
    return tuple(s[k] * (P[k] * g).transpose() for k in range(len(weights)))


def squared_norm(layers: BallWeights) -> arb:
    """``sum_k ||M_k||_F^2``: the squared norm over all layers."""
    return sum((fro2(M) for M in layers), arb(0))


def difference(a: BallWeights, b: BallWeights) -> BallWeights:
    """``a - b`` layer by layer."""
    return tuple(x - y for x, y in zip(a, b, strict=True))
