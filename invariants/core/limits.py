"""Where the flow goes: the quantities of the limit statements (S-T1, S-T2, S-L1, Fig. 1).

Small pure functions over a path of weights.  Theorems 1 and 2 are limit
statements with no rate; a finite run can only show them through quantities
that are certified at every point (the Lemma 2 bounds, which decay like
``1/||W_k||_F^2``) and through decay laws measured over the last decade of
``||w_prod||``.  The laws are observations, not theorems of the paper
(docs/numerics.md, "Asymptotic laws seen").

Also here: the prediction of Soudry et al. (2018) for the limit offset of the
perpendicular part of ``w_prod`` (beyond the paper), and a computable
``eps(R)`` of Lemma 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import AssumptionError
from . import bounds
from . import network as net
from .losses import Loss
from .maxmargin import MaxMargin, perp, perp_basis, sin_angle

__all__ = [
    "decade_before",
    "decay_slope",
    "l1_gradient_floor",
    "layer1_gradient_log_norm",
    "loss_inverse_from_log",
    "path_sines",
    "soudry_offset",
    "top_right_singular_vector",
    "wprod_path",
]


def wprod_path(path: Sequence[net.Weights]) -> np.ndarray:
    """``w_prod`` at every point of a path, as an (m, d) array (S-T1, S-T2)."""
    return np.array([net.end_to_end(W) for W in path])


def path_sines(w: np.ndarray, ubar: np.ndarray) -> np.ndarray:
    """``sin angle(w_i, ubar)`` per row; NaN where ``w_i = 0`` (no direction; S-T2)."""
    w = np.asarray(w, dtype=float)
    out = np.full(w.shape[0], np.nan)
    nz = np.any(w != 0, axis=1)
    if np.any(nz):
        out[nz] = sin_angle(w[nz], ubar)
    return out


def top_right_singular_vector(W1: np.ndarray) -> np.ndarray:
    """``v_1``, the first right singular vector of ``W_1`` (sign arbitrary; S-T2)."""
    return bounds.top_singular_vectors(W1)[1]


def decade_before(norms: np.ndarray) -> int:
    """Index of the last point with ``0 < norms <= norms[-1] / 10``, else the first nonzero one.

    The last decade of a growing quantity (``||w_prod||``) runs from this index
    to the end (S-T2, S-FIG1a, S-FIG1b).  Zero norms (``w_prod = 0`` at an
    S-A2a start) are skipped: a direction is undefined there.
    """
    norms = np.asarray(norms, dtype=float)
    idx = np.flatnonzero((norms <= norms[-1] / 10.0) & (norms > 0))
    return int(idx[-1]) if idx.size else int(np.flatnonzero(norms > 0)[0])


def decay_slope(x: np.ndarray, y: np.ndarray, decades: float = 1.0) -> tuple[float, int]:
    """Least-squares slope of ``log10 y`` against ``log10 x`` over the last ``decades`` of x.

    Returns ``(slope, points)``.  Points with ``y <= 0`` (rounded to zero) are
    dropped; fewer than two points give NaN.  Serves the measured laws of
    S-T2 (angle decay) and S-FIG1b (alignment-gap decay).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = (x >= x[-1] / 10.0**decades) & (y > 0) & (x > 0)
    if np.count_nonzero(keep) < 2:
        return float("nan"), int(np.count_nonzero(keep))
    lx, ly = np.log10(x[keep]), np.log10(y[keep])
    if np.ptp(lx) == 0:
        return float("nan"), int(lx.size)
    slope = np.polyfit(lx, ly, 1)[0]
    return float(slope), int(lx.size)


def soudry_offset(z: np.ndarray, mm: MaxMargin) -> np.ndarray:
    """The predicted limit of ``w_perp`` (beyond the paper; Soudry et al. 2018, Thm. 3).

    For depth 1 and the exponential-tailed losses, ``w(t) = ubar log(t)/gamma
    + w~ + o(1)`` with, for every support vector i,
    ``(1/n) exp(-<w~, z_i>) = alpha_i`` where ``ubar / gamma = sum_i alpha_i z_i``
    (the SVM dual).  Matching ``dw/dt ~ ubar / (gamma t)`` against
    ``(1/n) sum_i exp(-<w, z_i>) z_i`` gives exactly that.  The perpendicular
    part ``p = w~_perp`` is then fixed by ``<p, z_i> + c = -log(alpha_i)`` for
    i in S, with one free constant c (the part along ubar, a shift of the
    clock), and the dual's normalisation does not matter.  With |S| = d
    affinely independent support vectors of positive dual weight (A3,
    generic) this d x d system is square and nonsingular.

    The same equations fix the limit of the perpendicular part of a deep
    network's ``w_prod`` if the perpendicular gradient must vanish faster than
    the parallel one, which is what the suite measures (an observation).
    """
    z = np.asarray(z, dtype=float)
    d = z.shape[1]
    S = np.asarray(mm.support)
    if d < 2:
        return np.zeros(d)
    alpha = np.asarray(mm.dual)[S]
    if S.size != d or np.any(alpha <= 0):
        raise AssumptionError(
            f"Soudry's offset needs exactly d = {d} support vectors with positive dual "
            f"weights (A3, generic data); got {S.size} support vectors, dual weights "
            f"{alpha.tolist()}. Use data where A3 holds by construction (strategies.a3_datasets)."
        )
    B = perp_basis(mm.ubar)
    A = np.column_stack([z[S] @ B, np.ones(d)])
    sol = np.linalg.solve(A, -np.log(alpha))
    return B @ sol[:-1]


def loss_inverse_from_log(loss: Loss, log_value: float) -> float:
    """``loss^{-1}(exp(log_value))``: the margin at which the loss equals the value (S-L1).

    Exponential: ``-log_value``.  Logistic: ``loss(x) = log1p(exp(-x)) = v``
    gives ``x = -log(expm1(v))``.  Both are decreasing in the value.
    """
    if loss.name == "exponential":
        return -float(log_value)
    if loss.name == "logistic":
        v = math.exp(log_value)
        return -math.log(math.expm1(v)) if v < 700 else -v
    raise ValueError(f"no inverse for loss {loss.name!r}")


def layer1_gradient_log_norm(weights: net.Weights, z: np.ndarray, loss: Loss) -> float:
    """``log ||dR/dW_1||_F``, from the rank-one form ``a g^T`` (S-L1).

    ``dR/dW_1 = (W_L ... W_2)^T grad R(w_prod)^T``, so its Frobenius norm is
    ``||W_L ... W_2|| ||grad R(w_prod)||``; formed in log-domain with the
    scaled gradient of :func:`invariants.core.network.scaled_gradient_vec`, not
    from :func:`invariants.core.network.layer_gradients`, so that the check is
    independent of the integrator's gradient.
    """
    a = net.suffix_vectors(weights)[0]
    log_scale, g = net.scaled_gradient_vec(net.end_to_end(weights), z, loss)
    na, ng = float(np.linalg.norm(a)), float(np.linalg.norm(g))
    if na == 0 or ng == 0:
        return float("-inf")
    return math.log(na) + math.log(ng) + log_scale


def l1_gradient_floor(
    loss: Loss, n: int, gamma: float, radius: float, depth: int, log_risk_1: float
) -> float:
    """``log eps(R)`` of Lemma 1, made explicit (S-L1).

    For W in B(R) with ``R(W) <= R(W(1)) < loss(0)``:

    * ``dR/dW_1 = a g^T`` with ``a = (W_L...W_2)^T``, ``g = grad R(w_prod)``, so
      ``||dR/dW_1||_F = ||a|| ||g||``;
    * ``w_prod = W_1^T a`` gives ``||a|| >= ||w_prod|| / ||W_1||_2 >= ||w_prod|| / R``;
    * ``||g|| >= -<g, ubar> = (1/n) sum_i |loss'(m_i)| <z_i, ubar>
      >= (gamma/n) |loss'(min_i m_i)| >= (gamma/n) |loss'(||w_prod||)|``
      (|loss'| decreases; ``min_i m_i <= ||w_prod||`` as ``||z_i|| <= 1``);
    * so ``||dR/dW_1||_F >= (gamma / (n R)) f(||w_prod||)`` with
      ``f(x) = x |loss'(x)|``, and ``log f`` is concave for both losses, so over
      ``m1 <= ||w_prod|| <= R^L`` it is smallest at an end;
    * ``m1 = loss^{-1}(R(W(1))) > 0`` by Jensen: ``loss(||w||) <= loss(mean m_i)
      <= R(w)``; ``||w_prod|| <= prod_k ||W_k||_2 <= R^L``.

    ``log_risk_1`` is any upper bound on ``log R(W(1))`` (R is monotone, so
    the risk at a checkpoint with ``t <= 1`` will do).  Returns ``-inf`` when
    ``m1 <= 0`` (A2 at equality: the bound is then vacuous).
    """
    m1 = loss_inverse_from_log(loss, log_risk_1)
    if not m1 > 0:
        return float("-inf")
    log_hi = depth * math.log(radius)

    def log_f(log_x: float) -> float:
        if log_x > 700:  # x |loss'(x)| <= x exp(-x + log 2) underflows in every format
            return float("-inf")
        return log_x + float(loss.log_neg_d1(math.exp(log_x)))

    lo = min(log_f(math.log(m1)), log_f(log_hi)) if m1 <= math.exp(min(log_hi, 700)) else -np.inf
    return math.log(gamma) - math.log(n) - math.log(radius) + lo


def direction_sine(a: np.ndarray, b: np.ndarray) -> float:
    """``sin angle(a, b)`` of two nonzero vectors, from the perpendicular part (S-FIG1a)."""
    return float(sin_angle(np.asarray(a, dtype=float), np.asarray(b, dtype=float)))


def offset_error(w: np.ndarray, ubar: np.ndarray, predicted: np.ndarray) -> float:
    """``||w_perp - p|| / ||p||``: distance of w's perpendicular part from Soudry's offset."""
    p = np.asarray(predicted, dtype=float)
    return float(np.linalg.norm(perp(w, ubar) - p) / np.linalg.norm(p))
