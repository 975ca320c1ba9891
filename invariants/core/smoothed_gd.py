"""Gradient descent's smoothed margin ``ghat`` and its step bound, in the log domain.

The objects of the gradient-descent theorem of Lyu & Li (exponential loss, summed loss
``Lsum``; LL-T4.2, LL-LE.1, LL-LE.7).  Everything is a function of
``u = log(1/Lsum)`` (never of ``Lsum`` itself, which underflows below 1e-308) and of the
reference state ``t0`` through ``u0 = log(1/Lsum(t0))``.

**Definitions** (the paper's, with the lost displays reconstructed; ``x`` is a loss value,
``u = log(1/x)``):

* ``mu(x) = u0 / (2u)`` (non-decreasing in ``x``, ``1/2`` at ``Lsum(t0)``);
* ``r(w) = (1 + 2(1 + lambda) mu(w)) / (w log(1/w))``, with ``lambda >= 0``; the checks use
  ``lambda = 0``, the strictest admissible value (a smaller ``r`` makes ghat's increase
  smaller, so a pass at 0 is a pass for every ``lambda >= 0``);
* ``phi'(x) = -sup_{w in [x, Lsum(t0)]} r(w)`` and
  ``phi(x) = log log(1/x) + int_0^x (phi'(w) + 1/(w log(1/w))) dw``;
* ``ghat = e^{phi(Lsum)} / rho^p`` (and ``gtil = u / rho^p``).

**Closed form** (derived here).  In ``v = log(1/w)``, ``r(w) = e^v f(v)`` with
``f(v) = 1/v + (1+lambda) u0 / v^2``, and
``d(e^v f(v))/dv = e^v (v^2 + ((1+lambda) u0 - 1) v - 2 (1+lambda) u0) / v^3``.  The
quadratic has one positive root, so ``e^v f`` first falls then rises in ``v`` (``r`` is
quasi-convex): the running sup over ``v' in [u0, v]`` is the larger endpoint value.  At
``v = u0`` the quadratic is ``u0 ((2+lambda) u0 - 3 - 2 lambda)``, non-negative when
``u0 >= (3 + 2 lambda)/(2 + lambda)`` (3/2 at ``lambda = 0``); then ``e^v f`` rises on
``[u0, inf)``, ``r`` falls in ``w``, the sup is ``r(x)`` itself and

    ``phi(x) = log u - int_u^inf (1+lambda) u0 / v^2 dv = log u - (1+lambda) u0 / u``

(``dw = -w dv``; the integrand ``phi' + 1/(w log 1/w)`` is ``-(1+lambda) u0/(w u^2)``).
Hence ``log ghat = log gtil - (1+lambda) u0/u`` and ``ghat/gtil = e^{-(1+lambda) u0/u} >= 1
- (1+lambda) u0/u`` (LL-LE.1).  :func:`phi_by_quadrature` evaluates the definition without
the monotonicity assumption, for the cross-check.

**Step bound** (derived sufficient constants).  ``kappa(x) = x u^{2-2/p}`` for ``u >= 2 -
2/p``, capped at ``kappa_max = e^{(2-2/p)(log(2-2/p) - 1)}`` (its maximum) above;
``H^D(x) = mu(x) / (C_eta^D kappa(x))`` with ``C_eta^D = (B1^2 + rho(t0)^{-p} B2)
ghat(t0)^{-(2-2/p)}`` and, for a depth-p linear network on data ``z_i``, the sphere
constants ``B1 = p^{1-p/2} max||z_i||`` (Maclaurin) and ``B2 = (p-1)(p-2)^{-(p-2)/2}
max||z_i||`` (``0^0 = 1``; ``B2 = 0`` at ``p = 1``).  Why it suffices:
``||Hess Lsum|| <= sum_i e^{-q_i} (||grad q_i||^2 + ||Hess q_i||) <= Lsum rho^{2p-2} (B1^2 +
B2 rho^{-p})`` by homogeneity, and ``rho^{2p-2} = (u/gtil)^{2-2/p}``; with ``gtil >= ghat(t0)``
and ``rho >= rho(t0)`` along the run this is ``<= C_eta^D kappa(Lsum)``.

Statements served: LL-T4.2, LL-LE.1, LL-LE.7 (and LL-NEG's step-size case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .margin_rates import linear_b1
from .rounding import EPS, gamma


def admissible_u0(lam: float = 0.0) -> float:
    """The smallest ``u0 = log(1/Lsum(t0))`` at which ``r`` falls on ``(0, Lsum(t0)]``:
    ``(3 + 2 lambda)/(2 + lambda)`` (3/2 at ``lambda = 0``), where the closed form of phi
    holds (LL-T4.2, module docstring)."""
    return (3.0 + 2.0 * lam) / (2.0 + lam)


def mu(u: float, u0: float) -> float:
    """``mu(x) = u0 / (2u)`` with ``u = log(1/x)`` (LL-T4.2, reconstructed choice)."""
    return u0 / (2.0 * u)


def phi(u: float, u0: float, lam: float = 0.0) -> float:
    """``phi(Lsum) = log u - (1+lambda) u0/u``, the closed form (LL-T4.2, LL-LE.1).

    Valid for ``u >= u0 >= admissible_u0(lam)``; raises ``ValueError`` outside.
    """
    if u0 < admissible_u0(lam) or u < u0 * (1.0 - 4.0 * EPS):
        raise ValueError(
            f"phi's closed form needs u >= u0 >= {admissible_u0(lam):g}; got u={u:g}, u0={u0:g}"
        )
    return math.log(u) - (1.0 + lam) * u0 / u


def phi_by_quadrature(u: float, u0: float, lam: float = 0.0) -> tuple[float, float]:
    """``phi`` from its definition, for any ``u >= u0 > 0``: ``(value, error bound)`` (LL-LE.1).

    ``phi = log u - int_u^inf (e^{-v} rbar(e^{-v}) - 1/v) dv`` with the running sup
    ``e^{-v} rbar(e^{-v}) = max(e^{u0 - v} f(u0), f(v))``, ``f(v) = 1/v + (1+lambda) u0/v^2``
    (the sup of a quasi-convex function over ``[u0, v]`` is at an endpoint; module
    docstring).  Integrated by ``scipy.integrate.quad`` on ``[u, inf)``; the error bound
    is quad's estimate plus the rounding of the sum.
    """
    from scipy import integrate

    a = (1.0 + lam) * u0

    def integrand(v: float) -> float:
        f_v = 1.0 / v + a / v**2
        f_0 = math.exp(u0 - v) * (1.0 / u0 + a / u0**2)
        return max(f_0, f_v) - 1.0 / v

    value, err = integrate.quad(integrand, u, math.inf, epsabs=1e-14, epsrel=1e-12, limit=200)
    result = math.log(u) - value
    return result, err + 4.0 * EPS * (abs(math.log(u)) + abs(value))


def log_smoothed_margin(u: float, log_rho: float, order: int) -> float:
    """``log gtil = log u - p log rho`` (exponential loss; LL-LE.1)."""
    return math.log(u) - order * log_rho


def log_ghat(u: float, log_rho: float, order: int, u0: float, lam: float = 0.0) -> float:
    """``log ghat = phi(Lsum) - p log rho`` (LL-T4.2, LL-LE.1, LL-LE.7)."""
    return phi(u, u0, lam) - order * log_rho


# --- the step bound ------------------------------------------------------------------------


def kappa_exponent(order: int) -> float:
    """``2 - 2/p``, the power of ``log(1/x)`` in kappa (LL-T4.2)."""
    return 2.0 - 2.0 / order


def log_kappa(u: float, order: int) -> float:
    """``log kappa(x)``: ``-u + (2-2/p) log u`` for ``u >= 2 - 2/p``, else ``log kappa_max =
    (2-2/p)(log(2-2/p) - 1)`` (0 at ``p = 1``) (LL-T4.2)."""
    a = kappa_exponent(order)
    if a == 0.0:
        return -u if u >= 0.0 else 0.0
    if u >= a:
        return -u + a * math.log(u)
    return a * (math.log(a) - 1.0)


def sphere_constants(order: int, zmax: float) -> tuple[float, float]:
    """``(B1, B2)`` of a depth-p linear network on data of norm ``<= zmax`` (LL-T4.2).

    ``B1 = sup_{||theta||=1} ||grad q_i|| = p^{1-p/2} zmax``
    (:func:`invariants.core.margin_rates.linear_b1`, by Maclaurin).
    ``B2 = sup ||Hess q_i||_op <= (p-1)(p-2)^{-(p-2)/2} zmax``: the Hessian's
    form in a unit direction ``Delta`` is ``2 sum_{j<k}`` of chains with ``Delta_j,
    Delta_k`` in place of ``W_j, W_k``, bounded by ``2 sum_{j<k} |Delta_j||Delta_k|``
    (``<= p - 1``) times the largest product of the other ``p - 2`` norms
    (``<= (p-2)^{-(p-2)/2}``, AM-GM).
    """
    b1 = linear_b1(order, zmax)
    if order == 1:
        return b1, 0.0
    b2 = (order - 1) * (float(order - 2) ** (-(order - 2) / 2.0) if order > 2 else 1.0) * zmax
    return b1, b2


@dataclass(frozen=True)
class Reference:
    """The reference state t0 of the GD theorem and the constants it fixes (LL-T4.2).

    ``u0 = log(1/Lsum(t0))``, ``log_rho0 = log rho(t0)``, ``order = p``, ``zmax =
    max||z_i||``, ``lam`` (lambda, 0 by default).  ``log_c`` is ``log C_eta^D``.
    """

    u0: float
    log_rho0: float
    order: int
    zmax: float
    lam: float = 0.0

    @property
    def log_ghat0(self) -> float:
        """``log ghat(t0) = log u0 - (1+lambda) - p log rho(t0)``."""
        return log_ghat(self.u0, self.log_rho0, self.order, self.u0, self.lam)

    @property
    def log_c(self) -> float:
        """``log C_eta^D = log(B1^2 + rho(t0)^{-p} B2) - (2-2/p) log ghat(t0)``."""
        b1, b2 = sphere_constants(self.order, self.zmax)
        return (
            math.log(b1 * b1 + math.exp(-self.order * self.log_rho0) * b2)
            - kappa_exponent(self.order) * self.log_ghat0
        )

    def log_step_bound(self, u: float) -> float:
        """``log H^D(Lsum) = log mu - log C_eta^D - log kappa`` at ``u = log(1/Lsum)``."""
        return math.log(mu(u, self.u0)) - self.log_c - log_kappa(u, self.order)

    def log_scaled_step_bound(self, u: float) -> float:
        """``log(H^D(Lsum) Lsum) = log H^D - u``: the bound on the step in the scaled clock."""
        return self.log_step_bound(u) - u


# --- rounding ------------------------------------------------------------------------------


def log_loss_rounding(q_abs_max: float, log_loss: float, n: int, m: int) -> float:
    """Bound on ``|fl(log Lsum) - log Lsum|`` from margins computed with inner dimension count
    ``m`` and ``|q_i| <= q_abs_max`` (LL-T4.2, LL-LE.7).

    Margins err by ``<= gamma(m) q_abs_max`` and pass to ``log Lsum`` unamplified (its
    gradient in ``q`` is a probability vector); the log-sum-exp adds ``eps (8 (q_abs_max +
    2) + n + 4 log n + 8)`` (:func:`invariants.core.rounding.log_risk_rounding`'s count,
    whose ``a_i`` are the exact ``-q_i`` here) and its final addition ``eps |log Lsum|``.
    """
    return (
        gamma(m) * q_abs_max
        + EPS * (8.0 * (q_abs_max + 2.0) + n + 4.0 * math.log(max(n, 1)) + 8.0)
        + EPS * abs(log_loss)
    )


def log_ghat_rounding(
    u: float, du: float, log_rho: float, order: int, dim: int, u0: float, du0: float
) -> float:
    """Bound on ``|fl(log ghat) - log ghat|`` given ``|fl(u) - u| <= du`` (LL-T4.2).

    ``log u``: ``du/u + eps |log u|``; ``u0/u``: ``(u0/u)(du0/u0 + du/u + 3 eps)``;
    ``p log rho``: ``rho`` is the root of a sum of ``dim`` squares (relative error
    ``gamma(dim + 2)``) then a log and a product (``2 eps p |log rho|``); the two
    subtractions ``2 eps`` times the magnitudes summed.
    """
    x = u0 / u
    return (
        du / u
        + EPS * abs(math.log(u))
        + x * (du0 / u0 + du / u + 3.0 * EPS)
        + order * (gamma(dim + 2) + 2.0 * EPS * abs(log_rho))
        + 2.0 * EPS * (abs(math.log(u)) + x + order * abs(log_rho))
    )


def update_rounding(theta_norm: float, step_norm: float) -> float:
    """Bound on ``||fl(theta - s g) - (theta - s g)||``: ``eps (||theta'|| + ||s g||)(1+eps)``,
    one rounding per entry of the product and of the difference (LL-T4.2)."""
    return EPS * (theta_norm + step_norm) * (1.0 + EPS)


def r_values(u: np.ndarray, u0: float, lam: float = 0.0) -> np.ndarray:
    """``log r(e^{-u}) = u - log u + log(1 + (1+lambda) u0/u)`` (LL-T4.2): for the unit test
    of the closed form's monotonicity."""
    u = np.asarray(u, dtype=np.float64)
    return u - np.log(u) + np.log1p((1.0 + lam) * u0 / u)
