"""Multi-class cross-entropy on a homogeneous model: pair margins, the loss, nu (LL-F).

A C-class model outputs logits ``Phi_c(theta; x)``.  For example i with label ``y_i`` the
*pair margins* are ``s_ij = Phi_{y_i} - Phi_j`` for the ``C - 1`` classes ``j != y_i``
(:func:`pair_margins`, an ``n x (C-1)`` array); the multi-class margin is
``q_i = min_j s_ij`` and ``q_min = min_i q_i``.

Everything here is a function of the pair margins alone (no network), in the summed
convention and the log domain:

* the soft margins ``qs_i = -log sum_{j != y_i} e^{-s_ij}`` (:func:`soft_margins`), with
  ``q_i - log(C-1) <= qs_i <= q_i`` (a log-sum-exp of ``C-1`` terms lies between its
  largest term and that plus ``log(C-1)``);
* the cross-entropy as a sum ``Lsum = sum_i log(1 + sum_{j != y_i} e^{-s_ij})
  = sum_i loss_log(qs_i)``: a sum of *binary logistic* losses at the soft margins, so
  ``log Lsum``, ``Q = loss_log^{-1}(Lsum) = -log(expm1(Lsum))`` and the binary
  sandwich come from :mod:`invariants.core.homogeneous` with the logistic loss;
* the pair weights ``pi_ij = e^{-s_ij} / (1 + sum_k e^{-s_ik})`` (the softmax
  probability of the wrong class j), returned divided by ``Lsum`` like every rate of
  :mod:`invariants.core.homogeneous` (:func:`pair_weights_over_loss`);
* ``nu = sum_i sum_{j != y_i} pi_ij s_ij`` (:func:`nu_over_loss`): for a p-homogeneous
  model ``<theta, -grad Lsum> = p nu`` (the gradient of ``Lsum`` in the logits is
  ``softmax - onehot``, whose inner product with the logits is ``-sum pi_ij s_ij``, and
  Euler's identity gives ``<theta, grad Phi_c> = p Phi_c``).

**The floor of nu (LL-F), derived.**  ``sum_j pi_ij = e^{-qs_i} / (1 + e^{-qs_i}) =
-loss_log'(qs_i)`` and ``s_ij >= q_i >= qs_i``, so with every ``s_ij > 0`` (true once
``Lsum < log 2``: each ``loss_log(qs_i) < log 2`` gives ``qs_i > 0``)
``nu >= sum_i (-loss_log'(qs_i)) qs_i``, the binary logistic nu at the soft margins.
Writing ``loss_log = e^{-f}``, ``f'(q) q`` is non-decreasing and every ``qs_i >= Q``
(``loss_log(qs_i) <= Lsum = loss_log(Q)``), so that is at least
``sum_i loss_log(qs_i) f'(Q) Q = Lsum f'(Q) Q = (-loss_log'(Q)) Q = (1 - e^{-Lsum}) Q``
(``e^Q = 1/(e^Lsum - 1)`` gives ``-loss_log'(Q) = 1/(1 + e^Q) = 1 - e^{-Lsum}``).
Divided by ``Lsum``: :func:`nu_floor_over_loss`.

**The sandwich (LL-F), derived.**  ``Q <= qs_min <= q_min`` (each ``qs_i >= Q`` as
above), and ``Lsum <= n loss_log(qs_min) <= n e^{-qs_min}`` with
``log(expm1(Lsum)/Lsum) <= Lsum`` give ``Q >= qs_min - log n - Lsum >= q_min - log(C-1)
- log n - Lsum``: ``0 <= q_min - Q <= log(C-1) + log n + Lsum``
(:func:`sandwich_gap`, :func:`sandwich_width`); dividing by ``rho^p`` gives
``gbar - (log(C-1) + log n + Lsum)/rho^p <= gtil <= gbar``.

**The rate of the smoothed margin (LL-F), derived** (as Lemma 5.1 for two classes).  For
a velocity ``v`` (the flow's ``-grad Lsum``, here in the clock divided by ``Lsum``:
``v = -g`` with ``g = grad Lsum / Lsum``): ``grad Q = -g / f'(Q)``, so
``d log Q = -<g, v> / (f'(Q) Q)``; ``V = d log rho = <theta, v> / rho^2``; ``T =
||(I - theta_hat theta_hat^T) v||^2 / rho^2``; ``d log gtil = d log Q - p V``.  On the
flow, Euler gives ``rho^2 V = p nu/Lsum`` and Pythagoras ``||g||^2 = rho^2 V^2 + rho^2
T``, hence the exact gap

    d log gtil - p T / V = ||g||^2 (1 / (f'(Q) Q) - Lsum / nu) >= 0

by the floor of nu (:func:`log_margin_rate`).

Statements served: LL-F (and LL-FIG1 reads :func:`multi_homogeneous_margin`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import homogeneous
from .losses import LOGISTIC, softplus


def pair_margins(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``s_ij = Phi_{y_i} - Phi_j`` for the ``C - 1`` classes ``j != y_i`` (LL-F).

    Returns an ``n x (C-1)`` array, the wrong classes in increasing order per row.
    """
    logits = np.asarray(logits, dtype=np.float64)
    n, C = logits.shape
    y = np.asarray(y, dtype=np.int64)
    rows = np.arange(n)
    others = np.array([[c for c in range(C) if c != yi] for yi in y], dtype=np.int64)
    return logits[rows, y][:, None] - logits[rows[:, None], others]


def multiclass_margins(s: np.ndarray) -> np.ndarray:
    """``q_i = min_{j != y_i} s_ij`` (LL-F)."""
    return np.min(np.asarray(s, dtype=np.float64), axis=1)


def soft_margins(s: np.ndarray) -> np.ndarray:
    """``qs_i = -log sum_{j != y_i} e^{-s_ij}``, in ``[q_i - log(C-1), q_i]`` (LL-F)."""
    s = np.asarray(s, dtype=np.float64)
    q = s.min(axis=1)
    return q - np.log(np.sum(np.exp(-(s - q[:, None])), axis=1))


def log_cross_entropy_sum(s: np.ndarray) -> float:
    """``log Lsum``, ``Lsum = sum_i log(1 + sum_{j != y_i} e^{-s_ij})`` (LL-F)."""
    return homogeneous.log_loss_sum(soft_margins(s), LOGISTIC)


def smoothed_min_margin(s: np.ndarray) -> float:
    """``Q = loss_log^{-1}(Lsum) = -log(expm1(Lsum))`` (LL-F); ``> 0`` iff ``Lsum < log 2``."""
    return homogeneous.smoothed_min_margin(soft_margins(s), LOGISTIC)


def sandwich_gap(s: np.ndarray) -> float:
    """``q_min - Q = rho^p (gbar - gtil)`` (LL-F): ``(q_min - qs_min) + (qs_min - Q)``, the
    second part without cancellation (:func:`homogeneous.sandwich_gap`, logistic loss)."""
    qs = soft_margins(s)
    return float(multiclass_margins(s).min() - qs.min()) + homogeneous.sandwich_gap(qs, LOGISTIC)


def sandwich_width(n_classes: int, n: int, log_loss: float) -> float:
    """``log(C-1) + log n + Lsum``, the width of the LL-F sandwich in margin units."""
    return float(np.log(n_classes - 1) + np.log(n) + np.exp(log_loss))


def pair_weights_over_loss(s: np.ndarray) -> np.ndarray:
    """``pi_ij / Lsum`` (LL-F), from ``log pi_ij = -s_ij - softplus(-qs_i)``; never overflows."""
    s = np.asarray(s, dtype=np.float64)
    qs = soft_margins(s)
    log_l = homogeneous.log_loss_sum(qs, LOGISTIC)
    return np.exp(-s - softplus(-qs)[:, None] - log_l)


def nu_over_loss(s: np.ndarray) -> float:
    """``nu / Lsum = sum_ij (pi_ij / Lsum) s_ij`` (LL-F; ``<theta, -grad Lsum> = p nu``)."""
    s = np.asarray(s, dtype=np.float64)
    return float(np.sum(pair_weights_over_loss(s) * s))


def nu_floor_over_loss(s: np.ndarray) -> float:
    """``(1 - e^{-Lsum}) Q / Lsum = f'(Q) Q`` (LL-F's lower bound on ``nu / Lsum``)."""
    return homogeneous.eq7_floor_over_loss(soft_margins(s), LOGISTIC)


def logit_gradient_over_loss(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``d Lsum / d logits`` divided by ``Lsum`` (LL-F): ``pi_ij / Lsum`` at the wrong
    classes and ``-sum_j pi_ij / Lsum`` at the label (``softmax - onehot``, scaled)."""
    logits = np.asarray(logits, dtype=np.float64)
    n, C = logits.shape
    y = np.asarray(y, dtype=np.int64)
    w = pair_weights_over_loss(pair_margins(logits, y))
    out = np.zeros((n, C))
    mask = np.ones((n, C), dtype=bool)
    mask[np.arange(n), y] = False
    out[mask] = w.ravel()
    out[np.arange(n), y] = -w.sum(axis=1)
    return out


def log_margin_rate(
    theta: np.ndarray, g: np.ndarray, v: np.ndarray, order: int, s: np.ndarray
) -> tuple[float, float]:
    """``(d log gtil/dtau, p T / V)`` for the velocity ``v`` at ``theta`` (LL-F).

    ``g = grad Lsum / Lsum`` and ``tau`` the clock whose rates are divided by ``Lsum``;
    ``d log gtil/dtau = -<g, v> / (f'(Q) Q) - p V`` with ``V = <theta, v>/rho^2`` and
    ``T = ||u||^2 / rho^2``, ``u`` the tangential part of ``v`` (module docstring).
    """
    rho = float(np.linalg.norm(theta))
    radial, u = homogeneous.radial_tangential(theta, v)
    V = radial / rho
    T = float(u @ u) / rho**2
    rate = -float(g @ v) / nu_floor_over_loss(s) - order * V
    return rate, order * T / V


def multi_homogeneous_margin(q_min: float, weights: Sequence[np.ndarray]) -> float:
    """``gbar_mh = q_min / prod_k ||W_k||_F`` (eq. 4 with every ``k_j = 1``; LL-FIG1)."""
    log_norms = sum(float(np.log(np.linalg.norm(W))) for W in weights)
    return float(np.sign(q_min) * np.exp(np.log(abs(q_min)) - log_norms)) if q_min else 0.0
