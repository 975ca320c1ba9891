"""The quantities of Lemma 2 and the right-hand sides of its bounds.

Each function is a small pure function of the layer matrices; the statement
it serves is named in its docstring.  Signs of singular vectors are arbitrary,
so every alignment is compared in absolute value.
"""

from __future__ import annotations

import numpy as np

from .network import Weights, end_to_end


def gram_difference(weights: Weights, k: int) -> np.ndarray:
    """``W_k W_k^T - W_{k+1}^T W_{k+1}`` (``d_k x d_k``), 1-based k < L (S-EQ2).

    At ``t = 0`` this is ``A_{k,k+1}``; S-EQ2 says it is constant in time.
    """
    Wk, Wk1 = weights[k - 1], weights[k]
    return Wk @ Wk.T - Wk1.T @ Wk1


def balance_matrices(weights: Weights) -> list[np.ndarray]:
    """``A_{k,k+1}`` for k = 1..L-1 when ``weights`` is the initialisation (S-L2a, S-EQ2)."""
    return [gram_difference(weights, k) for k in range(1, len(weights))]


def frobenius_sq(weights: Weights) -> np.ndarray:
    """``||W_k||_F^2`` for every layer (S-EQ3)."""
    return np.array([float(np.vdot(W, W)) for W in weights])


def frobenius_differences(weights: Weights) -> np.ndarray:
    """``||W_{k+1}||_F^2 - ||W_k||_F^2`` for k = 1..L-1; S-EQ3 says each is constant."""
    return np.diff(frobenius_sq(weights))


def singular_values(W: np.ndarray) -> np.ndarray:
    """Singular values of one layer, descending."""
    return np.linalg.svd(W, compute_uv=False)


def rank_deficit(W: np.ndarray) -> float:
    """``||W||_F^2 - ||W||_2^2`` computed as ``sum_{i>=2} sigma_i^2`` (S-L2a).

    The subtraction would cancel catastrophically once ``W`` is nearly rank
    one; the tail sum is accurate to ``O(eps sigma_1 sigma_2)``.
    """
    s = singular_values(W)
    return float(np.sum(s[1:] ** 2))


def spectral_ratio(W: np.ndarray) -> float:
    """``||W||_2 / ||W||_F`` (S-FIG1b, S-FIG2); 0 for the zero matrix."""
    s = singular_values(W)
    f = float(np.sqrt(np.sum(s**2)))
    return float(s[0] / f) if f > 0 else 0.0


def top_singular_vectors(W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(u, v, s)``: first left / right singular vectors and all singular values."""
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return U[:, 0], Vt[0], s


def alignment(weights: Weights) -> np.ndarray:
    """``|<v_{k+1}, u_k>|`` for k = 1..L-1 (S-L2b, S-T1)."""
    uv = [top_singular_vectors(W) for W in weights]
    return np.array([abs(float(uv[k + 1][1] @ uv[k][0])) for k in range(len(weights) - 1)])


def D(initial: Weights) -> float:
    """``D = max_k ||W_k(0)||_F^2 - ||W_L(0)||_F^2 + sum_k ||A_{k,k+1}||_2`` (S-L2a)."""
    f = frobenius_sq(initial)
    a = sum(float(np.linalg.norm(A, 2)) for A in balance_matrices(initial))
    return float(np.max(f) - f[-1] + a)


def eq8_bounds(initial: Weights) -> np.ndarray:
    """Per-layer bound of eq. 8 (the sharper form of S-L2a).

    ``||W_k(0)||_F^2 - ||W_L(0)||_F^2 + sum_{j=k}^{L-1} ||A_{j,j+1}||_2``.
    """
    f = frobenius_sq(initial)
    a = np.array([float(np.linalg.norm(A, 2)) for A in balance_matrices(initial)] + [0.0])
    tail = np.cumsum(a[::-1])[::-1]  # tail[k-1] = sum_{j=k}^{L-1} a_j (1-based)
    return f - f[-1] + tail


def l2b_lower_bounds(
    initial: Weights, weights: Weights, d_value: float | None = None
) -> np.ndarray:
    """Right-hand side of S-L2b for k = 1..L-1.

    ``1 - (D + ||W_{k+1}(0)||_2^2 + ||W_k(0)||_2^2) / ||W_{k+1}||_2^2``, a lower
    bound on ``<v_{k+1}, u_k>^2``.  ``d_value`` replaces D (S-L8b uses
    ``D + 3 R(W(0))``).
    """
    dv = D(initial) if d_value is None else d_value
    s0 = np.array([singular_values(W)[0] for W in initial])
    s = np.array([singular_values(W)[0] for W in weights])
    num = dv + s0[1:] ** 2 + s0[:-1] ** 2
    den = s[1:] ** 2
    # A zero layer makes the bound vacuous (-inf), not a division warning.
    return 1.0 - np.divide(num, den, out=np.full(num.shape, np.inf), where=den > 0)


def has_zero_layer(weights: Weights) -> bool:
    """Whether some ``W_k = 0``; the normalised quantities of Lemma 2 are then undefined."""
    return bool(np.any(frobenius_sq(weights) == 0))


def product_alignment(weights: Weights) -> float:
    """``|<w_prod / prod_k ||W_k||_F, v_1>|`` (S-L2c, S-C1, S-T1); NaN if a layer is zero."""
    if has_zero_layer(weights):
        return float("nan")
    w = end_to_end(weights)
    f = np.sqrt(frobenius_sq(weights))
    _, v1, _ = top_singular_vectors(weights[0])
    # Divide layer by layer: prod_k ||W_k||_F overflows nowhere near the float64 floor,
    # but the quotient is formed in log-domain anyway to stay exact in scale.
    scale = np.exp(-np.sum(np.log(f)))
    return abs(float(w @ v1)) * float(scale)


def c1_lower_bound(weights: Weights, d_value: float, align: np.ndarray | None = None) -> float:
    """Right-hand side of S-C1.

    ``prod_{k<L} |<v_{k+1}, u_k>| - (prod_k (1 + e_k) - 1)`` with
    ``e_k = sqrt(2 d_value) / ||W_k||_F``.  ``align`` gives the alignments to
    use (measured ones, or the S-L2b lower bounds); by default the measured
    ones.
    """
    if has_zero_layer(weights):
        return float("-inf")  # a zero layer makes the bound vacuous (S-A2a starts)
    a = alignment(weights) if align is None else np.asarray(align)
    f = np.sqrt(frobenius_sq(weights))
    e = np.sqrt(2.0 * max(d_value, 0.0)) / f
    return float(np.prod(a) - np.expm1(np.sum(np.log1p(e))))


def log_risk_floor(weights: Weights, loss) -> float:
    """``log loss(prod_k ||W_k||_F)``: a lower bound on ``log R(W)`` for data with ``||z_i|| <= 1``.

    Every margin is ``<w_prod, z_i> <= ||w_prod|| <= prod_k ||W_k||_2 <= prod_k ||W_k||_F``
    and the loss is decreasing, so ``R(W) >= loss(prod_k ||W_k||_F)`` for *any* weights.
    Read backwards it is why a risk going to 0 forces the norms to infinity (S-L7,
    S-T3): ``prod_k ||W_k||_F >= loss^{-1}(R(W))``.  In the log domain, finite for
    every norm (``loss.log_value``).
    """
    return float(
        log_risk_floor_of_norms(np.array([float(np.linalg.norm(W)) for W in weights]), loss)
    )


def log_risk_floor_of_norms(norms: np.ndarray, loss) -> np.ndarray:
    """:func:`log_risk_floor` from the layer norms along the last axis (many iterates at once).

    ``log loss(prod_k norms_k)``, with the product 0 when a norm is 0 (S-L7, S-T3).
    """
    product = np.where(np.all(norms > 0, axis=-1), np.prod(norms, axis=-1), 0.0)
    return loss.log_value(product)


def norm_from_risk(log_risk: float, loss) -> float:
    """``loss^{-1}(R)``: the smallest ``prod_k ||W_k||_F`` a risk of ``R`` allows (S-L7, S-T3).

    Bisection on the decreasing ``loss.log_value`` (both losses are strictly
    decreasing); 0 when ``R >= loss(0)``.  A reach: how large the norms must be.
    """
    if log_risk >= float(loss.log_value(0.0)):
        return 0.0
    lo, hi = 0.0, 1.0
    while float(loss.log_value(hi)) > log_risk:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if float(loss.log_value(mid)) > log_risk:
            lo = mid
        else:
            hi = mid
    return hi
