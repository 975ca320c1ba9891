"""The max-margin problem (P) of a homogeneous model and its (approximate) KKT points.

For a p-homogeneous model with margins ``q_i(theta)``::

    (P)   minimise (1/2) ||theta||^2   subject to   q_i(theta) >= 1 for every i.

* **Rescaling** (LL-P (a)).  If ``q_min > 0``, ``theta~ = theta / q_min^{1/p}`` is feasible
  (``q_i(theta~) = q_i / q_min`` by homogeneity) and ``||theta~||^2 = rho^2 q_min^{-2/p} =
  gbar^{-2/p}``.  ``grad q_i`` is (p-1)-homogeneous, so ``grad q_i(theta~) = q_min^{-(p-1)/p}
  grad q_i(theta)`` (:func:`rescaled`).
* **Residuals** (LL-P (b, c)).  With multipliers ``lam >= 0`` and ``h_i = grad q_i``: the
  stationarity residual ``||theta - sum_i lam_i h_i||`` (:func:`stationarity_residual`) and
  the complementarity ``lam_i (q_i - 1)``, per constraint and summed (:func:`complementarity`).
* **The proof's multipliers** (LL-LC.8): ``lam_i = rho q_min^{1-2/p} (-loss'(q_i)) /
  ||d theta/dt||`` with ``d theta/dt = -grad Lsum``; dividing ``-loss'`` and the velocity by
  the same ``Lsum`` leaves ``lam`` unchanged, so they are formed from the scaled rates of
  :mod:`invariants.core.homogeneous` (:func:`proof_multipliers`).  Then
  ``theta~ - sum lam_i h_i(theta~) = q_min^{-1/p} (theta - rho v_hat)`` with ``v_hat`` the
  unit velocity, whence ``||.|| = gbar^{-1/p} sqrt(2 (1 - beta))`` exactly
  (:func:`eps_identity`, formed from the tangential velocity).
* **Optimal multipliers** (LL-T4.4, LL-LC.8): ``eps* = min_{lam >= 0} ||theta~ - J~^T lam||``
  by NNLS, with its own certificate (:func:`optimal_multipliers`).
* **Deep linear networks** (LL-DL1): the closed-form KKT point
  ``W_k = gamma^{-1/p} u_k u_{k-1}^T`` and its multipliers ``gamma^{-2/p} dual``
  (:func:`linear_kkt_point`, :func:`linear_kkt_multipliers`).
* **Tangent kernel** (LL-C4.5): the hard-margin SVM through the origin over the rows of the
  Jacobian (:func:`tangent_kernel_svm`, reusing :func:`invariants.core.maxmargin.max_margin`).

Statements served: LL-P, LL-LC.8, LL-T4.4, LL-C4.5, LL-DL1, LL-DL2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from .homogeneous import MarginModel, dual_weights, radial_tangential
from .losses import Loss
from .maxmargin import MaxMargin, max_margin

# --- (P): rescaling and residuals ------------------------------------------------------------


def rescaled(model: MarginModel) -> MarginModel:
    """The model at ``theta~ = theta / q_min^{1/p}`` (LL-P (a)), by homogeneity.

    ``q(theta~) = q / q_min`` (so ``min = 1``) and ``grad q_i(theta~) = grad q_i(theta) /
    q_min^{(p-1)/p}``; needs ``q_min > 0``.
    """
    q_min = float(np.min(model.q))
    if not q_min > 0.0:
        raise ValueError(f"theta~ needs q_min > 0; got q_min = {q_min!r}")
    c = q_min ** (1.0 / model.order)
    return MarginModel(
        model.theta / c, model.q / q_min, model.jacobian / c ** (model.order - 1), model.order
    )


def stationarity_residual(model: MarginModel, lam: np.ndarray) -> float:
    """``||theta - sum_i lam_i grad q_i(theta)||`` (LL-P (b, c), LL-LC.8)."""
    return float(np.linalg.norm(model.theta - np.asarray(lam, dtype=np.float64) @ model.jacobian))


def complementarity(model: MarginModel, lam: np.ndarray) -> tuple[float, float]:
    """``(max_i lam_i (q_i - 1), sum_i lam_i (q_i - 1))`` (LL-P (c): per constraint, summed)."""
    terms = np.asarray(lam, dtype=np.float64) * (model.q - 1.0)
    return float(np.max(terms)), float(np.sum(terms))


# --- the proof's multipliers (Lemma C.8) ------------------------------------------------------


@dataclass(frozen=True)
class ProofMultipliers:
    """The LL-LC.8 construction at one state ``theta`` (all rates divided by ``Lsum``).

    ``lam``: the multipliers (for ``theta~``); ``velocity``: ``-grad Lsum / Lsum``;
    ``beta``: ``<theta_hat, v_hat>``; ``tangential``: ``||u|| / ||v||``, the unit velocity's
    tangential part; ``kappa``: ``|| |J|^T w || / ||J^T w||`` (``w`` the scaled dual weights),
    the cancellation in the velocity, which enters the rounding allowances.
    """

    lam: np.ndarray
    velocity: np.ndarray
    beta: float
    tangential: float
    kappa: float


def proof_multipliers(model: MarginModel, loss: Loss) -> ProofMultipliers:
    """``lam_i = rho q_min^{1-2/p} (-loss'(q_i)) / ||grad Lsum||`` (LL-LC.8).

    Numerator and denominator are both divided by ``Lsum``: ``w = -loss'(q)/Lsum`` are the
    dual weights and ``v = J^T w = -grad Lsum / Lsum``.
    """
    w = dual_weights(model.q, loss)
    v = w @ model.jacobian
    speed = float(np.linalg.norm(v))
    p = model.order
    q_min = float(np.min(model.q))
    lam = model.rho * q_min ** (1.0 - 2.0 / p) * w / speed
    radial, u = radial_tangential(model.theta, v)
    kappa = float(np.linalg.norm(w @ np.abs(model.jacobian))) / speed
    return ProofMultipliers(lam, v, radial / speed, float(np.linalg.norm(u)) / speed, kappa)


def eps_identity(model: MarginModel, beta: float, tangential: float) -> float:
    """``gbar^{-1/p} sqrt(2 (1 - beta))`` formed without cancellation (LL-LC.8).

    With ``v_hat = beta theta_hat + u_hat`` and ``||u_hat||^2 = 1 - beta^2``,
    ``2 (1 - beta) = 2 ||u_hat||^2 / (1 + beta)``; and ``gbar^{-1/p} = rho / q_min^{1/p} =
    ||theta~||``.
    """
    q_min = float(np.min(model.q))
    return model.rho / q_min ** (1.0 / model.order) * tangential * np.sqrt(2.0 / (1.0 + beta))


def delta_bound(model: MarginModel, loss: Loss) -> float:
    """The per-constraint complementarity bound of LL-LC.8 at ``theta``.

    ``lam_i (q_i(theta~) - 1) = gbar^{-2/p} r_i (q_i - q_min) / (p nu_ratio q_min)`` with
    ``r_i = -loss'(q_i) / -loss'(q_min)`` after ``||grad Lsum|| >= p nu / rho`` (Euler and
    Cauchy-Schwarz) and ``nu >= -loss'(q_min) q_min`` (every term of nu is >= 0 when q > 0).
    Exponential loss: ``r_i = e^{-(q_i - q_min)}`` and ``x e^{-x} <= 1/e`` give
    ``gbar^{-2/p} / (e p q_min)``.  Logistic loss: ``-loss'(q) = 1 / (1 + e^q)``, so
    ``r_i <= e^{-(q_i - q_min)} (1 + e^{-q_min})`` and the bound gains ``1 + e^{-q_min}``
    (derived here; the paper states the exponential case).
    """
    q_min = float(np.min(model.q))
    p = model.order
    gbar = q_min / model.rho**p
    factor = 1.0 if loss.name == "exponential" else 1.0 + float(np.exp(-q_min))
    return gbar ** (-2.0 / p) * factor / (np.e * p * q_min)


# --- optimal multipliers by NNLS --------------------------------------------------------------


@dataclass(frozen=True)
class OptimalMultipliers:
    """``eps* = min_{lam >= 0} ||theta - J^T lam||`` with a certified bracket (LL-T4.4).

    ``lam``: the NNLS solution (exactly non-negative); ``upper``: ``||theta - J^T lam||`` at
    it, attained by a feasible ``lam``, so ``eps* <= upper`` (up to the rounding of one
    residual); ``lower``: a certified lower bound (see :func:`optimal_multipliers`);
    ``gap = upper - lower >= 0``.
    """

    lam: np.ndarray
    upper: float
    lower: float

    @property
    def gap(self) -> float:
        """``upper - lower``: how far the NNLS answer may be from the true optimum."""
        return self.upper - self.lower


def optimal_multipliers(model: MarginModel) -> OptimalMultipliers:
    """``min_{lam >= 0} ||theta - J^T lam||`` by ``scipy.optimize.nnls`` (LL-T4.4, LL-LC.8).

    The certificate (weak duality).  For any ``v`` and any ``lam' >= 0``,
    ``||theta - J^T lam'|| ||v|| >= <theta, v> - lam'.(J v) >= <theta, v> - c sum(lam')``
    with ``c = max(0, max_i <h_i, v>)``.  A minimiser does at least as well as ``lam' = 0``,
    so ``||J^T lam'|| <= 2 ||theta||``; Euler (``<theta, h_i> = p q_i >= p q_min``) gives
    ``p q_min sum(lam') <= <theta, J^T lam'> <= 2 ||theta||^2``.  Taking ``v = r``, the NNLS
    residual, ``eps* >= (<theta, r> - c 2 ||theta||^2 / (p q_min)) / ||r||``; at an exact
    NNLS optimum ``J r <= 0`` and ``lam.(J r) = 0``, so the bound equals ``||r||``.  Needs
    ``q_min > 0``.
    """
    lam, _ = nnls(model.jacobian.T, model.theta)
    r = model.theta - lam @ model.jacobian
    upper = float(np.linalg.norm(r))
    if upper == 0.0:
        return OptimalMultipliers(lam, 0.0, 0.0)
    c = max(0.0, float(np.max(model.jacobian @ r)))
    budget = 2.0 * float(model.theta @ model.theta) / (model.order * float(np.min(model.q)))
    lower = max(0.0, (float(model.theta @ r) - c * budget) / upper)
    return OptimalMultipliers(lam, upper, min(lower, upper))


# --- deep linear networks: the closed-form KKT point (LL-DL1) ------------------------------


def linear_kkt_point(mm: MaxMargin, units: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``W_k = gamma^{-1/p} u_k u_{k-1}^T`` with ``u_0 = ubar``, ``u_p = [1]`` (LL-DL1).

    ``units`` are the hidden unit vectors ``u_1 .. u_{p-1}`` (their lengths are the widths).
    Then ``w_prod = ubar / gamma`` and ``q_i = <ubar, z_i> / gamma >= 1``, with equality on
    the support vectors.
    """
    u = [np.asarray(mm.ubar, dtype=np.float64), *(np.asarray(v, np.float64) for v in units)]
    u.append(np.ones(1))
    p = len(u) - 1
    scale = mm.gamma ** (-1.0 / p)
    return [scale * np.outer(u[k], u[k - 1]) for k in range(1, p + 1)]


def linear_kkt_multipliers(mm: MaxMargin, order: int) -> np.ndarray:
    """``lam_i = gamma^{-2/p} dual_i`` (LL-DL1 (d)); ``dual`` sums to 1 with
    ``Z^T dual = gamma ubar`` (:class:`invariants.core.maxmargin.MaxMargin`).

    Derivation: block k of ``sum_i lam_i grad_{W_k} q_i`` at the point of
    :func:`linear_kkt_point` is ``gamma^{-(p-1)/p} u_k u_{k-1}^T sum_i lam_i <ubar, z_i>``
    for ``k >= 2`` and ``gamma^{-(p-1)/p} u_1 (sum_i lam_i z_i)^T`` for ``k = 1``; with
    ``sum lam_i z_i = gamma^{1-2/p} ubar`` and ``<ubar, z_i> = gamma`` on the support both equal
    ``gamma^{-1/p} u_k u_{k-1}^T = W_k``.
    """
    return mm.gamma ** (-2.0 / order) * np.asarray(mm.dual, dtype=np.float64)


def optimal_linear_margin(gamma: float, order: int) -> float:
    """``gbar* = gamma p^{-p/2}``, the optimum of (P)'s normalised margin (LL-DL1 (c))."""
    return gamma * order ** (-order / 2.0)


# --- the tangent-kernel SVM (LL-C4.5) ----------------------------------------------------------


def tangent_kernel_svm(model: MarginModel) -> MaxMargin:
    """The hard-margin SVM through the origin on the features ``h_i = grad q_i(theta)`` (LL-C4.5).

    ``(Q): min (1/2)||w||^2 s.t. <w, h_i> >= 1``; its solution is ``ubar_Q / gamma_Q`` of
    :func:`invariants.core.maxmargin.max_margin` on the rows of the Jacobian (the labels are
    inside ``q_i``), certified by that solver.  At a KKT point ``theta*`` of (P) it is
    ``theta* / p`` (Euler: ``<theta*/p, h_i> = q_i(theta*)``; stationarity and complementarity
    carry over with multipliers ``lam / p``), so ``ubar_Q = theta* / ||theta*||``.
    """
    return max_margin(model.jacobian)
