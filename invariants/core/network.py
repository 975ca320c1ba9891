"""Deep linear networks: end-to-end product, risk and its derivatives.

A network of depth L is a tuple ``W = (W_1, ..., W_L)`` with
``W_k in R^{d_k x d_{k-1}}``, ``d_0 = d`` and ``d_L = 1``.  The end-to-end
predictor is ``w_prod = (W_L ... W_1)^T in R^d`` and the risk is
``R(W) = (1/n) sum_i loss(<w_prod, z_i>)``.

Everything that can overflow is kept in log-domain.  In the asymptotic regime
the margins reach ``1e12`` and ``loss'`` underflows to 0 in float64, so the
gradient is returned *scaled*: ``dR/dW_k = exp(log_scale) * G_k`` with the
scaled ``G_k`` of order one (the largest per-example weight is exactly 1).
The same scale is used for the Hessian, so that normalised directions and
their Jacobians are computed without ever forming ``exp(-1e12)``.

Statements served: S-EQ1 (the risk and its gradient), S-EQ2/S-EQ3 (the
layer gradients whose structure conserves the invariants), A2 (the check of
the initialisation).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ArchitectureError, AssumptionError
from .losses import Loss
from .rounding import EPS

Weights = tuple[np.ndarray, ...]


# --- shapes -----------------------------------------------------------------------------


def layer_shapes(d: int, widths: Sequence[int]) -> list[tuple[int, int]]:
    """Shapes ``(d_k, d_{k-1})`` of a depth ``len(widths) + 1`` network on R^d.

    ``widths`` are the hidden widths ``d_1, ..., d_{L-1}``; ``d_L = 1``.
    """
    if d < 1:
        raise ArchitectureError(f"input dimension d={d} must be >= 1")
    dims = [int(d), *(int(w) for w in widths), 1]
    if any(w < 1 for w in dims):
        raise ArchitectureError(f"every width must be >= 1, got d_0..d_L = {dims}")
    return [(dims[k + 1], dims[k]) for k in range(len(dims) - 1)]


def as_weights(weights: Sequence[np.ndarray], d: int | None = None) -> Weights:
    """Validate and freeze a list of layer matrices into a :data:`Weights` tuple.

    Raises :class:`ArchitectureError` for depth 0, a non-2-D layer, layers that
    do not chain, an output layer with more than one row, non-finite entries,
    or an input dimension different from ``d``.
    """
    if len(weights) == 0:
        raise ArchitectureError(
            "depth L = 0: a network needs at least one layer; pass [W_1, ..., W_L] with W_L of "
            "shape (1, d_{L-1})"
        )
    out = []
    for k, W in enumerate(weights, start=1):
        W = np.array(W, dtype=np.float64)
        if W.ndim != 2:
            raise ArchitectureError(f"W_{k} must be a 2-D matrix (d_k, d_k-1); got shape {W.shape}")
        if not np.all(np.isfinite(W)):
            raise ArchitectureError(f"W_{k} contains NaN or inf; re-initialise the network")
        out.append(W)
    for k in range(1, len(out)):
        if out[k].shape[1] != out[k - 1].shape[0]:
            raise ArchitectureError(
                f"layers do not chain: W_{k + 1} has {out[k].shape[1]} columns but W_{k} has "
                f"{out[k - 1].shape[0]} rows"
            )
    if out[-1].shape[0] != 1:
        raise ArchitectureError(
            f"the output layer W_L must have one row (d_L = 1); got shape {out[-1].shape}"
        )
    if d is not None and out[0].shape[1] != d:
        raise ArchitectureError(f"W_1 has {out[0].shape[1]} columns but the data have d = {d}")
    return tuple(out)


def flatten(weights: Weights) -> np.ndarray:
    """Concatenate ``vec(W_1), ..., vec(W_L)`` (row-major) into one vector."""
    return np.concatenate([W.ravel() for W in weights])


def unflatten(theta: np.ndarray, shapes: Sequence[tuple[int, int]]) -> Weights:
    """Inverse of :func:`flatten` for the given layer shapes (views, no copy)."""
    out, i = [], 0
    for r, c in shapes:
        out.append(theta[i : i + r * c].reshape(r, c))
        i += r * c
    return tuple(out)


# --- products ---------------------------------------------------------------------------


def prefix_products(weights: Weights) -> list[np.ndarray]:
    """``P_k = W_{k-1} ... W_1`` (``d_{k-1} x d``) for k = 1..L, with ``P_1 = I``."""
    P = [_identity(weights[0].shape[1])]
    for W in weights[:-1]:
        P.append(W.dot(P[-1]))  # ndarray.dot: the same BLAS call as @, less dispatch
    return P


@functools.cache
def _identity(d: int) -> np.ndarray:
    """``np.eye(d)``, made once per d and read-only (it is shared by every call)."""
    eye = np.eye(d)
    eye.flags.writeable = False
    return eye


@functools.cache
def _log_count(n: int) -> np.float64:
    """``np.log(n)``, made once per n (the same float)."""
    return np.log(n)


def suffix_vectors(weights: Weights) -> list[np.ndarray]:
    """``s_k`` with ``s_k^T = W_L ... W_{k+1}`` (length ``d_k``) for k = 1..L, ``s_L = [1]``."""
    s = [np.ones(1)]
    for W in weights[:0:-1]:
        s.append(W.T.dot(s[-1]))
    return s[::-1]


def end_to_end(weights: Weights) -> np.ndarray:
    """``w_prod = (W_L ... W_1)^T`` (S-L2c, S-T1, S-T2)."""
    v = weights[-1][0]
    for W in weights[-2::-1]:
        v = W.T @ v
    return v


# --- the risk on a vector -------------------------------------------------------------------


def logsumexp(a: np.ndarray) -> float:
    """``log sum_i exp(a_i)`` for finite ``a``, shifted by the max (no overflow).

    Hand-written: scipy's general version costs ~100 us per call, which
    dominated the flow's per-step work.
    """
    amax = float(np.max(a))
    return amax + float(np.log(np.sum(np.exp(a - amax))))


def log_risk_vec(w: np.ndarray, z: np.ndarray, loss: Loss) -> float:
    """``log R(w) = log((1/n) sum_i loss(<w, z_i>))``, exact in log-domain (S-EQ1)."""
    return logsumexp(loss.log_value(z @ w)) - float(np.log(z.shape[0]))


def scaled_gradient_vec(w: np.ndarray, z: np.ndarray, loss: Loss) -> tuple[float, np.ndarray]:
    """``grad R(w) = exp(log_scale) * g`` with ``g`` of order one.

    ``g = -sum_i exp(a_i - max_j a_j) z_i`` where ``a_i = log|loss'(<w, z_i>)|``;
    ``log_scale = max_j a_j - log n``.  Serves S-EQ1, S-L4.
    """
    a = loss.log_neg_d1(z.dot(w))
    amax = float(a.max())
    g = -(np.exp(a - amax).dot(z))
    return amax - _log_count(z.shape[0]), g


def scaled_hessian_vec(w: np.ndarray, z: np.ndarray, loss: Loss, log_scale: float) -> np.ndarray:
    """``Hess R(w) * exp(-log_scale)``: ``(1/n) sum_i loss''(m_i) z_i z_i^T``, rescaled.

    The rescaling uses the gradient's scale so that Jacobians of normalised
    fields stay finite far into the asymptotic regime.
    """
    b = loss.log_d2(z @ w) - np.log(z.shape[0]) - log_scale
    return (z * np.exp(b)[:, None]).T @ z


# --- the network risk ---------------------------------------------------------------------------


def log_risk(weights: Weights, z: np.ndarray, loss: Loss) -> float:
    """``log R(W)`` of the network (S-EQ1)."""
    return log_risk_vec(end_to_end(weights), z, loss)


@dataclass(frozen=True)
class ScaledGradient:
    """``dR/dW_k = exp(log_scale) * layers[k-1]``; ``g`` is the scaled ``grad R(w_prod)``.

    ``log_norm`` is ``log ||grad R(W)||`` over all layers (S-EQ1).  ``products``:
    the prefix products and suffix vectors it was built from, for
    :func:`hessian_norm_bound` at the same point (None when built elsewhere).
    """

    log_scale: float
    g: np.ndarray
    layers: Weights
    log_norm: float
    products: tuple[list[np.ndarray], list[np.ndarray]] | None = field(
        default=None, repr=False, compare=False
    )


def layer_gradients(weights: Weights, z: np.ndarray, loss: Loss) -> ScaledGradient:
    """All layer gradients in closed form (S-EQ1, S-EQ2).

    ``dR/dW_k = s_k (P_k grad R(w_prod))^T``, the rank-one matrix of the
    Notation section, with ``s_k^T = W_L ... W_{k+1}`` and
    ``P_k = W_{k-1} ... W_1``.  Computed by :func:`layer_gradients_into`.
    """
    layers = tuple(np.empty(W.shape) for W in weights)
    log_scale, g, log_norm = layer_gradients_into(weights, z, loss, layers)
    return ScaledGradient(log_scale, g, layers, log_norm)


def layer_gradients_into(
    weights: Weights, z: np.ndarray, loss: Loss, out: Sequence[np.ndarray]
) -> tuple[float, np.ndarray, float]:
    """:func:`layer_gradients` written into the preallocated ``out[k]`` (shapes of the layers).

    Returns ``(log_scale, g, log_norm)`` as in :class:`ScaledGradient`.  The one
    implementation of the layer gradients: gradient descent calls it every step with
    rows of its record as ``out`` (no allocation per layer and step).
    """
    P = prefix_products(weights)
    s = suffix_vectors(weights)
    log_scale, g = scaled_gradient_vec(weights[-1][0].dot(P[-1]), z, loss)
    sq = 0
    for k, G in enumerate(out):
        # np.outer(s_k, P_k g): one product per entry, as np.outer's own multiply
        np.multiply.outer(s[k], P[k].dot(g), out=G)
        sq += float(np.vdot(G, G))
    log_norm = log_scale + 0.5 * np.log(sq) if sq > 0 else -np.inf
    return log_scale, g, float(log_norm)


def scaled_hessian(weights: Weights, z: np.ndarray, loss: Loss, log_scale: float) -> np.ndarray:
    """The full Hessian of R over ``flatten(W)``, times ``exp(-log_scale)``.

    ``Hess R = J^T Hess r J + sum_j (grad r)_j Hess (w_prod)_j`` where ``J`` is
    the Jacobian of ``w_prod`` in the parameters.  The second term couples
    layers ``k < l`` through
    ``d^2 <w_prod, g> / d(W_l)_{ab} d(W_k)_{ce} = s_l[a] M_{lk}[b, c] (P_k g)[e]``
    with ``M_{lk} = W_{l-1} ... W_{k+1}``.  Used for the implicit integrator's
    Jacobian and checked against finite differences of the gradient.
    """
    L = len(weights)
    P = prefix_products(weights)
    s = suffix_vectors(weights)
    w = weights[-1][0] @ P[-1]
    _, g = _gradient_at_scale(w, z, loss, log_scale)
    Hr = scaled_hessian_vec(w, z, loss, log_scale)
    # J: column (k, a, b) is s_k[a] * P_k[b, :]
    J = np.concatenate([(s[k][:, None, None] * P[k][None]).reshape(-1, w.size) for k in range(L)]).T
    H = J.T @ Hr @ J
    offsets = np.cumsum([0] + [W.size for W in weights])
    Pg = [P[k] @ g for k in range(L)]
    for k in range(L):
        M = np.eye(weights[k].shape[0])  # M_{lk} for l = k + 1
        for l in range(k + 1, L):
            if l > k + 1:
                M = weights[l - 1] @ M
            # s_l[a] M[b, c] Pg_k[e], broadcast (einsum's per-call cost dominated the Jacobian)
            block = ((s[l][:, None, None, None] * M[None, :, :, None]) * Pg[k]).reshape(
                weights[l].size, weights[k].size
            )
            H[offsets[l] : offsets[l + 1], offsets[k] : offsets[k + 1]] += block
            H[offsets[k] : offsets[k + 1], offsets[l] : offsets[l + 1]] += block.T
    return H


def hessian_norm_bound(
    weights: Weights,
    z: np.ndarray,
    loss: Loss,
    log_scale: float,
    *,
    products: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
) -> float:
    """An upper bound on ``||Hess R||_2 * exp(-log_scale)``, without forming the Hessian.

    With the structure of :func:`scaled_hessian`: ``||J^T Hr J||_2 <= tr(Hr)
    ||J||_F^2`` (Hr is positive semidefinite) with ``||J||_F^2 = sum_k
    ||s_k||^2 ||P_k||_F^2``, and each cross block (l, k) has norm at most
    ``||s_l|| ||M_lk||_F ||P_k g||`` and appears twice.  Serves the S-EQ1
    error budget of the flow (the sensitivity of its rate to local errors).
    ``products``: :attr:`ScaledGradient.products` of these weights, if at hand.
    """
    L = len(weights)
    if products is None:
        P, s = prefix_products(weights), suffix_vectors(weights)
    else:
        P, s = products
    w = weights[-1][0] @ P[-1]
    _, g = _gradient_at_scale(w, z, loss, log_scale)
    b = loss.log_d2(z @ w) - math.log(z.shape[0]) - log_scale
    tr_hr = float(np.exp(b) @ np.einsum("ij,ij->i", z, z))
    s_sq = [float(v @ v) for v in s]
    jf2 = sum(s_sq[k] * _sq(P[k]) for k in range(L))
    total = tr_hr * jf2
    s_norm = [math.sqrt(x) for x in s_sq]
    for k in range(L):
        pg = math.sqrt(_sq(P[k] @ g))
        M = None  # M_{lk}; for l = k + 1 the identity, of norm sqrt(d_k)
        for l in range(k + 1, L):
            if M is None:
                m_norm = math.sqrt(weights[k].shape[0])
                M = weights[l] if l + 1 < L else None  # M_{l+1,k}, formed only if used
            else:
                m_norm = math.sqrt(_sq(M))
                M = weights[l] @ M if l + 1 < L else None
            total += 2 * s_norm[l] * m_norm * pg
    return total


def _sq(A: np.ndarray) -> float:
    """``||A||_F^2`` (``np.linalg.norm``'s own sum, without its wrapper)."""
    v = A.ravel()
    return float(v @ v)


def _gradient_at_scale(w: np.ndarray, z: np.ndarray, loss: Loss, log_scale: float):
    a = loss.log_neg_d1(z @ w) - np.log(z.shape[0]) - log_scale
    return log_scale, -(np.exp(a) @ z)


# --- assumption A2 ------------------------------------------------------------------------


def a2_residuals(weights: Weights, z: np.ndarray, loss: Loss) -> tuple[float, float]:
    """The two halves of A2: ``(log ||grad R(W(0))||, log R(W(0)) - log loss(0))``.

    A2 holds iff the first is finite and the second is ``<= 0`` (S-A2a, S-A2b).
    """
    grad = layer_gradients(weights, z, loss)
    excess = log_risk(weights, z, loss) - float(loss.log_value(0.0))
    return grad.log_norm, excess


def satisfies_a2(weights: Weights, z: np.ndarray, loss: Loss, *, rtol: float = 0.0) -> bool:
    """Whether A2 holds: ``grad R(W(0)) != 0`` and ``R(W(0)) <= R(0)``.

    ``rtol`` lets ``R(W(0))`` exceed ``R(0)`` by a relative rounding margin
    (used when ``W(0)`` is chosen to make the two equal, as in S-A2a).
    """
    log_g, excess = a2_residuals(weights, z, loss)
    return bool(np.isfinite(log_g) and excess <= rtol)


def require_a2(weights: Weights, z: np.ndarray, loss: Loss) -> None:
    """Raise :class:`AssumptionError` if the initialisation breaks A2."""
    log_g, excess = a2_residuals(weights, z, loss)
    if not np.isfinite(log_g):
        raise AssumptionError(
            "A2 fails: grad R(W(0)) = 0, so gradient flow never moves (e.g. two or more layers are "
            "zero). Initialise at most W_1 to zero, or draw a small random initialisation."
        )
    # R(W(0)) = R(0) exactly is allowed (S-A2a); its evaluation carries a few ulps of rounding.
    if excess > 8 * EPS:
        raise AssumptionError(
            f"A2 fails: R(W(0)) exceeds R(0) = loss(0) (log ratio {excess:.3g} > 0). Flip the sign "
            "of W_L or shrink the initialisation so the network starts no worse than zero."
        )
