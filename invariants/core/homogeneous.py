"""Homogeneous models trained on a summed loss: margins, the smoothed margin and nu.

A model ``Phi(theta; x)`` is *p-homogeneous* when ``Phi(c theta; x) = c^p Phi(theta; x)``
for ``c > 0``.  The depth-L linear network and the bias-free ReLU network with L weight
layers both are, with ``p = L``.  Everything here reads one parameter point through a
:class:`MarginModel`: the flat parameters ``theta``, the margins ``q_i = y_i Phi(theta;
x_i)``, their gradients (the rows of ``jacobian``) and the order ``p``.

Conventions (the summed loss, not the first paper's mean risk ``R = Lsum / n``):

* ``Lsum(theta) = sum_i loss(q_i)``, kept as ``log Lsum`` (:func:`log_loss_sum`);
* ``Q = loss^{-1}(Lsum)``, the smoothed minimum margin (:func:`smoothed_min_margin`):
  ``-LSE(-q)`` for the exponential loss, ``-log(expm1(Lsum))`` for the logistic loss;
* ``gbar = q_min / rho^p`` (normalised margin) and ``gtil = Q / rho^p`` (smoothed
  normalised margin), with ``rho = ||theta||``;
* ``nu = sum_i (-loss'(q_i)) q_i``, and the Euler identity ``<theta, -grad Lsum> = p nu``.

Every rate is returned divided by ``Lsum`` (the *scaled* forms), so nothing underflows
when the margins reach 1e12: ``dual_weights`` are ``-loss'(q_i) / Lsum`` (a softmax of
``-q`` for the exponential loss), ``scaled_gradient`` is ``grad Lsum / Lsum``.  Dividing
every rate by the same positive number is a change of clock, which leaves the path and
every inequality between rates unchanged.

Statements served: LL-EQ1, LL-SW, LL-LA.5, LL-EQ6, LL-EQ7, LL-S5.ID, LL-L5.1 (and every
later statement that reads these objects).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .losses import Loss, softplus

#: Below ``log Lsum = -20``, ``log(expm1(Lsum)/Lsum) = Lsum/2 + Lsum^2/24 + ...`` is taken
#: as ``Lsum/2``: the dropped terms are below ``e^{-40}/24 < 2e-19`` absolute.
_SERIES_BELOW = -20.0


@dataclass(frozen=True)
class MarginModel:
    """A homogeneous model at one parameter point (LL-EQ1).

    ``theta``: the flat parameters (``D``); ``q``: the margins ``y_i Phi(theta; x_i)``
    (``n``); ``jacobian``: row i is ``grad_theta q_i`` (``n x D``); ``order``: the
    homogeneity order ``p``.
    """

    theta: np.ndarray
    q: np.ndarray
    jacobian: np.ndarray
    order: int

    @property
    def rho(self) -> float:
        """``||theta||_2``."""
        return float(np.linalg.norm(self.theta))


# --- models ---------------------------------------------------------------------------------


def linear_network_margins(weights: Sequence[np.ndarray], z: np.ndarray) -> MarginModel:
    """The depth-L linear network ``q_i = <w_prod, z_i>`` with ``p = L`` (LL-EQ1).

    ``grad_{W_k} q_i = s_k (P_k z_i)^T`` with ``s_k^T = W_L ... W_{k+1}`` and
    ``P_k = W_{k-1} ... W_1``; parameters flattened layer by layer, row-major.
    """
    from .network import end_to_end, prefix_products, suffix_vectors

    weights = tuple(np.asarray(W, dtype=np.float64) for W in weights)
    P, s = prefix_products(weights), suffix_vectors(weights)
    blocks = [
        (s[k][None, :, None] * (z @ P[k].T)[:, None, :]).reshape(z.shape[0], -1)
        for k in range(len(weights))
    ]
    theta = np.concatenate([W.ravel() for W in weights])
    return MarginModel(theta, z @ end_to_end(weights), np.hstack(blocks), len(weights))


def relu_network_margins(
    weights: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray
) -> MarginModel:
    """The bias-free ReLU network ``Phi = W_L relu(W_{L-1} ... relu(W_1 x))`` with one
    output, ``q_i = y_i Phi(theta; x_i)`` and ``p = L`` (LL-EQ1).

    Gradients by backpropagation per example with ``relu'(0) := 0``: with the activation
    pattern frozen, ``Phi`` is a degree-L homogeneous polynomial equal to ``Phi`` at
    ``theta``, so the Euler identity holds for this selection exactly.
    """
    weights = tuple(np.asarray(W, dtype=np.float64) for W in weights)
    if weights[-1].shape[0] != 1:
        raise ValueError(f"the output layer must have one row; got shape {weights[-1].shape}")
    H, A = [np.asarray(x, dtype=np.float64)], []
    for k, W in enumerate(weights):
        A.append(H[-1] @ W.T)
        H.append(np.maximum(A[-1], 0.0) if k < len(weights) - 1 else A[-1])
    q = np.asarray(y, dtype=np.float64) * H[-1][:, 0]
    delta = np.asarray(y, dtype=np.float64)[:, None]  # d q_i / d A_L
    blocks: list[np.ndarray] = []
    for k in range(len(weights) - 1, -1, -1):
        blocks.append((delta[:, :, None] * H[k][:, None, :]).reshape(len(q), -1))
        if k:
            delta = (delta @ weights[k]) * (A[k - 1] > 0.0)
    theta = np.concatenate([W.ravel() for W in weights])
    return MarginModel(theta, q, np.hstack(blocks[::-1]), len(weights))


# --- the summed loss and its smoothed margin ----------------------------------------------


def _logsumexp(a: np.ndarray) -> float:
    amax = float(np.max(a))
    return amax + float(np.log(np.sum(np.exp(a - amax))))


def log_loss_sum(q: np.ndarray, loss: Loss) -> float:
    """``log Lsum = log sum_i loss(q_i)``, finite for every finite margin (LL-SW)."""
    return _logsumexp(loss.log_value(q))


def log_expm1_ratio(log_value: float) -> float:
    """``log(expm1(x)/x)`` at ``x = exp(log_value)``, without underflow (LL-LA.5).

    ``Lsum/2`` below ``log Lsum = -20`` (:data:`_SERIES_BELOW`), else
    ``x + log(-expm1(-x)) - log x``, in which nothing overflows for any ``x > 0``.
    """
    if log_value < _SERIES_BELOW:
        return 0.5 * float(np.exp(log_value))
    x = float(np.exp(log_value))
    return x + float(np.log(-np.expm1(-x))) - log_value


def smoothed_min_margin(q: np.ndarray, loss: Loss) -> float:
    """``Q = loss^{-1}(Lsum)``, the smoothed minimum margin (LL-SW, LL-LA.5).

    Exponential loss: ``-LSE(-q)``.  Logistic loss: ``-log(expm1(Lsum)) = -log Lsum -
    log(expm1(Lsum)/Lsum)``.  ``Q > 0`` exactly when ``Lsum < loss(0)``.
    """
    if loss.name == "exponential":
        return -_logsumexp(-np.asarray(q, dtype=np.float64))
    if loss.name == "logistic":
        log_l = log_loss_sum(q, loss)
        return -log_l - log_expm1_ratio(log_l)
    raise ValueError(f"no inverse of the loss {loss.name!r}: exponential and logistic only")


def sandwich_gap(q: np.ndarray, loss: Loss) -> float:
    """``q_min - Q = rho^p (gbar - gtil)``, computed without cancellation (LL-SW, LL-LA.5).

    Exponential: ``LSE_i(-(q_i - q_min))``, in ``[0, log n]``.  Logistic:
    ``LSE_i(log loss(q_i) + q_min) + log(expm1(Lsum)/Lsum)``, in ``[0, log n + Lsum]``;
    ``log loss(q) + q_min`` is ``-(q - q_min) + r(q)`` with ``r(q) = log loss(q) + q``, the
    small remainder of the logistic loss's asymptote.
    """
    q = np.asarray(q, dtype=np.float64)
    q_min = float(q.min())
    shifted = -(q - q_min)
    if loss.name == "exponential":
        return _logsumexp(shifted)
    if loss.name == "logistic":
        return _logsumexp(shifted + logistic_remainder(q)) + log_expm1_ratio(log_loss_sum(q, loss))
    raise ValueError(f"no sandwich for the loss {loss.name!r}: exponential and logistic only")


def logistic_remainder(q: np.ndarray) -> np.ndarray:
    """``r(q) = log log(1 + e^{-q}) + q``: ``-e^{-q}/2`` beyond 30, else direct (LL-LA.5)."""
    q = np.asarray(q, dtype=np.float64)
    near = np.minimum(q, 30.0)
    direct = np.log(softplus(-near)) + near  # softplus: no overflow at q < -709
    return np.where(q > 30.0, -0.5 * np.exp(-np.maximum(q, 30.0)), direct)


def normalized_margin(q: np.ndarray, rho: float, order: int) -> float:
    """``gbar = q_min / rho^p`` (the normalised margin; LL-SW)."""
    return float(np.min(q)) / rho**order


def smoothed_margin(q: np.ndarray, rho: float, order: int, loss: Loss) -> float:
    """``gtil = Q / rho^p`` (the smoothed normalised margin; LL-SW, LL-T4.1)."""
    return smoothed_min_margin(q, loss) / rho**order


# --- rates, divided by Lsum ----------------------------------------------------------------


def dual_weights(q: np.ndarray, loss: Loss) -> np.ndarray:
    """``-loss'(q_i) / Lsum`` (LL-EQ6): a softmax of ``-q`` for the exponential loss."""
    q = np.asarray(q, dtype=np.float64)
    return np.exp(loss.log_neg_d1(q) - log_loss_sum(q, loss))


def nu_over_loss(q: np.ndarray, loss: Loss) -> float:
    """``nu / Lsum = sum_i (-loss'(q_i)/Lsum) q_i`` (LL-EQ6, LL-EQ7)."""
    return float(dual_weights(q, loss) @ np.asarray(q, dtype=np.float64))


def eq7_floor_over_loss(q: np.ndarray, loss: Loss) -> float:
    """``(-loss'(Q)) Q / Lsum = f'(Q) Q`` with ``f = -log loss`` (LL-EQ7's lower bound).

    Uses ``Lsum = loss(Q)``: exponential ``Q``; logistic ``Q e^{log(-loss'(Q)) - log loss(Q)}``.
    """
    Q = smoothed_min_margin(q, loss)
    return Q * float(np.exp(loss.log_neg_d1(Q) - loss.log_value(Q)))


def scaled_gradient(model: MarginModel, loss: Loss) -> np.ndarray:
    """``grad Lsum / Lsum = -J^T (-loss'(q) / Lsum)`` (LL-EQ6, LL-S5.ID, LL-L5.1)."""
    return -(dual_weights(model.q, loss) @ model.jacobian)


def radial_tangential(theta: np.ndarray, velocity: np.ndarray) -> tuple[float, np.ndarray]:
    """``(<theta_hat, v>, u)`` with ``u = (I - theta_hat theta_hat^T) v``, the radial speed
    and the tangential velocity (LL-S5.ID), ``u`` formed by projection (no cancellation
    of ``||v||^2 - <theta_hat, v>^2``)."""
    theta_hat = theta / np.linalg.norm(theta)
    radial = float(theta_hat @ velocity)
    return radial, velocity - radial * theta_hat


# --- layers and rounding magnitudes (the identities stem) ----------------------------------


def layer_slices(shapes: Sequence[tuple[int, ...]]) -> list[slice]:
    """The slice of the flat ``theta`` (and of each Jacobian row) holding layer ``k``
    (LL-EQ6(a), LL-EQ5): layers in order, each flattened row-major."""
    out, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(slice(start, start + size))
        start += size
    return out


def margin_magnitudes(weights: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """``B_i = prod_k ||W_k||_F ||x_i||``, a bound on the margin of the *absolute* network
    ``|W_L| D_{L-1} ... D_1 |W_1| |x_i|`` (LL-EQ1's rounding scale).

    Every ``D_k`` is a 0/1 diagonal matrix (an activation pattern; the identity for the
    linear network), so ``|| D_k ||_2 <= 1`` and ``|| |W| ||_2 <= || |W| ||_F = ||W||_F``.
    The absolute network is the polynomial of the margin with every coefficient replaced
    by its absolute value, so it bounds the rounding of every product chain of ``q_i`` and
    ``grad q_i`` (Higham's componentwise bound), and by Euler's identity for it
    ``sum_j |theta_j| |grad q_i|_j <= p B_i``.
    """
    prod = float(np.prod([np.linalg.norm(W) for W in weights]))
    return prod * np.linalg.norm(np.asarray(x, dtype=np.float64), axis=1)


def layer_gradient_magnitudes(weights: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """``A_ik = sqrt(d_k d_{k-1}) prod_{l != k} ||W_l||_F ||x_i||`` (shape ``n x L``), a bound
    on ``sum_{j in layer k} |grad q_i|_j`` of the absolute network (LL-EQ1(a)'s rounding
    scale): the block is ``|s_k| (|P_k| |x_i|)^T`` and ``||a||_1 <= sqrt(dim) ||a||_2``."""
    norms = np.array([np.linalg.norm(W) for W in weights])
    xn = np.linalg.norm(np.asarray(x, dtype=np.float64), axis=1)
    cols = []
    for k, W in enumerate(weights):
        others = float(np.prod(np.delete(norms, k)))
        cols.append(np.sqrt(W.shape[0] * W.shape[1]) * others * xn)
    return np.stack(cols, axis=1)
