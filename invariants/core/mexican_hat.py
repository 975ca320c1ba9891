"""The Mexican hat of Absil, Mahony and Andrews (2005) and the homogeneous margin built on it.

Statements served: LL-TI.1 (the counterexample: the margin grows, the direction winds
forever), LL-ERR (item 6: which exponent makes the curve ``psi = 0`` invariant).

**The hat.**  In polar coordinates ``(r, phi)`` of the plane, with ``a := 1/(1 - r^2)``
(so ``r^2 = 1 - 1/a``; ``a`` runs from 1 at the centre to infinity at the unit circle),
``E := e^{-a}``, ``psi := phi - a`` and the *coefficient*

    ``A_k(r) := 4 r^4 / (4 r^4 + (1 - r^2)^k)``,   ``k = 4`` (Absil) or ``k = 3``,

the hat is ``f = E (1 - A_k sin psi)`` for ``r < 1`` and ``f = 0`` for ``r >= 1``.  It is
positive inside the disc (``A_k < 1``), and every derivative is ``E`` times an algebraic
function of ``(r, psi)``, so everything here is computed *divided by E* (the "scaled"
forms): nothing underflows when ``a`` reaches hundreds (``E`` itself underflows at
``a ~ 745``).

**The polar gradient** (``E' = -a' E``, ``a' = da/dr = 2 r a^2``, ``dpsi/dr = -a'``)::

    f_r / E   = -a' (1 - A sin psi - A cos psi) - A' sin psi,
    f_phi / E = -A cos psi,
    A'        = (16 r^3 eps^k + 8 k r^5 eps^(k-1)) / (4 r^4 + eps^k)^2,   eps = 1 - r^2.

``1 - A sin psi - A cos psi`` is formed as ``(1 - A) - A sin psi + 2 A sin^2(psi/2)``, with
``1 - A = eps^k / (4 r^4 + eps^k)``, so nothing cancels near ``psi = 0``.

**The homogeneous margin** on ``theta = (u, v, z)`` in R^3 is ``h(theta) := rho^p (1 -
f(u/rho, v/rho))``, ``rho = ||theta||``: p-homogeneous, smooth away from 0, and ``h/rho^p
= 1 - f <= 1`` with equality exactly on the equator ``z = 0``.

**The reduced dynamics** (derived; LL-TI.1).  With every margin ``q_i = h`` and the
exponential loss, ``grad Lsum / Lsum = -grad h``, so in the scaled clock ``tau`` (rates
divided by Lsum) ``d theta/d tau = grad h``.  Split radially and tangentially, with
``g := 1 - f`` on the unit sphere S^2: ``d log rho/d tau = p rho^{p-2} g`` (Euler) and
``d theta_hat/d tau = rho^{p-2} grad_S g``.  In the clock ``ds = rho^{p-2} d tau`` the
direction follows the Riemannian gradient flow of ``-f`` on S^2 and ``d log rho^p/ds =
p^2 g``.  In the chart ``y = (u_hat, v_hat)`` of a hemisphere, the tangential gradient of
``F(x) = f(x_1, x_2)`` is ``(I - x x^T) (grad f, 0)``, whose chart part is ``(I - y y^T)
grad f``: the planar gradient with its *radial* component multiplied by ``1 - r^2``.  So::

    dr/ds = -(1 - r^2) f_r,   dphi/ds = -f_phi / r^2,   da/ds = a' dr/ds,
    dpsi/ds = dphi/ds - da/ds,
    |d theta_hat/ds|^2 = (1 - r^2) f_r^2 + f_phi^2 / r^2.

(Absil's planar flow has the same equations without the factor ``1 - r^2``.)  On
``psi = 0``: ``dpsi/ds / E = A/r^2 - (1 - r^2) a'^2 (1 - A) = 4 r^2 (1 - eps^{k-3}) /
(4 r^4 + eps^k)``: zero for ``k = 3`` and ``4 r^4 / (4 r^4 + eps^4) = A_4 > 0`` for
``k = 4``.  The curve ``psi = 0`` is invariant for the sphere dynamics with the exponent
3, not with Absil's 4 (for the planar flow it is the other way round).

Path time ``sigma`` (arc length of ``theta_hat``) divides every rate by the speed; the
factor E cancels, so :func:`path_field` is E-free.  ``log rho^p`` grows like ``int
e^{a}``; it is carried as ``lam := log log rho^p`` (needs ``rho^p > 1``), with
``d lam/d sigma = p^2 g e^{a - lam} / (|d theta_hat/ds| / E)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from .homogeneous import MarginModel

#: The exponents of the coefficient: Absil's 4 and the 3 that the sphere dynamics needs.
EXPONENTS = (3, 4)


def coefficient(r: float, k: int) -> float:
    """``A_k(r) = 4 r^4 / (4 r^4 + (1 - r^2)^k)`` (LL-TI.1)."""
    eps = 1.0 - r * r
    return 4.0 * r**4 / (4.0 * r**4 + eps**k)


def coefficient_complement(r: float, k: int) -> float:
    """``1 - A_k(r) = (1 - r^2)^k / (4 r^4 + (1 - r^2)^k)``, without cancellation (LL-TI.1)."""
    eps = 1.0 - r * r
    return eps**k / (4.0 * r**4 + eps**k)


def coefficient_derivative(r: float, k: int) -> float:
    """``dA_k/dr = (16 r^3 eps^k + 8 k r^5 eps^(k-1)) / (4 r^4 + eps^k)^2``, ``eps = 1 - r^2``
    (LL-TI.1)."""
    eps = 1.0 - r * r
    den = 4.0 * r**4 + eps**k
    return (16.0 * r**3 * eps**k + 8.0 * k * r**5 * eps ** (k - 1)) / den**2


def radius_of(a: float) -> float:
    """``r = sqrt(1 - 1/a)`` for ``a = 1/(1 - r^2) >= 1`` (LL-TI.1)."""
    return float(np.sqrt(1.0 - 1.0 / a))


def log_hat(a: float, psi: float, k: int) -> float:
    """``log f = -a + log(1 - A_k sin psi)`` at ``a = 1/(1 - r^2)``, ``psi = phi - a``
    (LL-TI.1): finite where ``f`` itself underflows."""
    r = radius_of(a)
    return -a + float(np.log1p(-coefficient(r, k) * np.sin(psi)))


def hat(r: float, phi: float, k: int, *, sin_term: bool = True) -> float:
    """Absil's Mexican hat ``f(r, phi)`` (0 for ``r >= 1``; LL-TI.1).

    ``sin_term=False`` drops the oscillating factor (``f = e^{-1/(1-r^2)}``, radially
    symmetric): the planted hat of the controls, whose flow converges in direction.
    """
    if r >= 1.0:
        return 0.0
    a = 1.0 / (1.0 - r * r)
    if not sin_term:
        return float(np.exp(-a))
    return float(np.exp(-a) * (1.0 - coefficient(r, k) * np.sin(phi - a)))


def _angle_terms(psi: float, chi: float | None) -> tuple[float, float, float]:
    """``(sin psi, cos psi, sin psi + cos psi - 1)`` without cancellation (LL-TI.1).

    Near ``psi = 0``: ``sin psi + cos psi - 1 = sin psi - 2 sin^2(psi/2)``.  Near the valley
    ``psi = pi/2`` the state is ``chi = psi - pi/2`` (given), and ``sin psi = cos chi``,
    ``cos psi = -sin chi``, ``sin psi + cos psi - 1 = -2 sin^2(chi/2) - sin chi``.
    """
    if chi is None:
        s, c = float(np.sin(psi)), float(np.cos(psi))
        return s, c, s - 2.0 * float(np.sin(0.5 * psi)) ** 2
    s, c = float(np.cos(chi)), -float(np.sin(chi))
    return s, c, -2.0 * float(np.sin(0.5 * chi)) ** 2 + c


def scaled_polar_gradient(
    a: float, psi: float, k: int, *, sin_term: bool = True, chi: float | None = None
) -> tuple[float, float]:
    """``(f_r / E, f_phi / E)`` at ``a = 1/(1 - r^2)``, ``psi = phi - a`` (LL-TI.1).

    The formulas of the module docstring; ``chi = psi - pi/2``, when given, replaces
    ``psi`` (accurate near the valley).  ``sin_term=False`` is the planted hat ``f = E``
    (``f_r / E = -a'``, ``f_phi = 0``).
    """
    r = radius_of(a)
    da = 2.0 * r * a * a
    if not sin_term:
        return -da, 0.0
    A = coefficient(r, k)
    s, c, excess = _angle_terms(psi, chi)
    bracket = coefficient_complement(r, k) - A * excess
    return -da * bracket - coefficient_derivative(r, k) * s, -A * c


@dataclass(frozen=True)
class SphereRates:
    """The reduced dynamics on S^2 in the clock s, divided by ``E = e^{-a}`` (LL-TI.1)."""

    da: float
    dpsi: float
    dphi: float
    speed: float


def sphere_rates(
    a: float, psi: float, k: int, *, sin_term: bool = True, chi: float | None = None
) -> SphereRates:
    """``da/ds, dpsi/ds, dphi/ds`` and ``|d theta_hat/ds|``, all divided by E (LL-TI.1).

    The Riemannian gradient flow of ``-f`` on the sphere read in the chart ``(r, phi)``:
    ``dr/ds = -(1 - r^2) f_r``, ``dphi/ds = -f_phi / r^2`` (module docstring).
    """
    r = radius_of(a)
    eps = 1.0 / a
    fr, fphi = scaled_polar_gradient(a, psi, k, sin_term=sin_term, chi=chi)
    dr = -eps * fr
    dphi = -fphi / (r * r)
    da = 2.0 * r * a * a * dr
    speed = float(np.sqrt(eps * fr * fr + fphi * fphi / (r * r)))
    return SphereRates(da=da, dpsi=dphi - da, dphi=dphi, speed=speed)


def psi_rate_on_curve(r: float, k: int) -> float:
    """``dpsi/ds / E`` on ``psi = 0`` in closed form, ``4 r^2 (1 - eps^{k-3}) / (4 r^4 +
    eps^k)`` with ``eps = 1 - r^2`` (LL-TI.1, LL-ERR item 6): 0 for k = 3, ``A_4 > 0`` for
    k = 4."""
    eps = 1.0 - r * r
    return 4.0 * r * r * (1.0 - eps ** (k - 3)) / (4.0 * r**4 + eps**k)


# --- the homogeneous margin -----------------------------------------------------------------


def hat_gradient(y: np.ndarray, k: int, *, sin_term: bool = True) -> tuple[float, np.ndarray]:
    """``f`` and its planar gradient at a point ``y`` of the open unit disc (LL-TI.1).

    ``grad f = f_r y/r + (f_phi / r) (-y_2, y_1)/r``; both vanish (to underflow) as
    ``r -> 1``, and ``f = 0``, ``grad f = 0`` for ``r >= 1``.
    """
    y = np.asarray(y, dtype=np.float64)
    r = float(np.hypot(y[0], y[1]))
    if r >= 1.0:
        return 0.0, np.zeros(2)
    phi = float(np.arctan2(y[1], y[0]))
    f = hat(r, phi, k, sin_term=sin_term)
    if r == 0.0:
        return f, np.zeros(2)  # f is flat at the centre: A_k = O(r^4), f_r = O(r)
    a = 1.0 / (1.0 - r * r)
    E = float(np.exp(-a))
    fr, fphi = scaled_polar_gradient(a, phi - a, k, sin_term=sin_term)
    radial, angular = y / r, np.array([-y[1], y[0]]) / r
    return f, E * (fr * radial + (fphi / r) * angular)


def homogeneous_margin(
    theta: np.ndarray, p: int, k: int, *, sin_term: bool = True
) -> tuple[float, np.ndarray]:
    """``h(theta) = rho^p (1 - f(u/rho, v/rho))`` and its gradient (LL-TI.1).

    With ``y = (u, v)/rho`` and ``P`` the projection on the first two coordinates,
    ``d y/d theta = (P - y theta_hat^T)/rho``, so ``grad h = p rho^{p-2} theta (1 - f) -
    rho^{p-1} (P^T grad f - theta_hat <y, grad f>)``; ``<theta, grad h> = p h`` (Euler).
    """
    theta = np.asarray(theta, dtype=np.float64)
    rho = float(np.linalg.norm(theta))
    theta_hat = theta / rho
    y = theta_hat[:2]
    f, gf = hat_gradient(y, k, sin_term=sin_term)
    lifted = np.array([gf[0], gf[1], 0.0]) - theta_hat * float(y @ gf)
    grad = p * rho ** (p - 2) * theta * (1.0 - f) - rho ** (p - 1) * lifted
    return rho**p * (1.0 - f), grad


def hat_margin_model(
    theta: np.ndarray, n: int, p: int, k: int, *, sin_term: bool = True
) -> MarginModel:
    """The model of Theorem I.1: every one of the ``n`` margins is ``h(theta)`` (LL-TI.1)."""
    h, grad = homogeneous_margin(theta, p, k, sin_term=sin_term)
    theta = np.asarray(theta, dtype=np.float64)
    return MarginModel(theta, np.full(n, h), np.tile(grad, (n, 1)), p)


def sphere_point(a: float, phi: float, upper: bool = True) -> np.ndarray:
    """The unit vector ``(r cos phi, r sin phi, +-sqrt(1 - r^2))`` at ``a = 1/(1 - r^2)``
    (LL-TI.1)."""
    r = radius_of(a)
    z = float(np.sqrt(1.0 / a))
    return np.array([r * np.cos(phi), r * np.sin(phi), z if upper else -z])


# --- the reduced dynamics in path time ----------------------------------------------------------


def log_hat_chi(a: float, chi: float, k: int) -> float:
    """``log f`` at ``a`` and ``chi = psi - pi/2``: ``-a + log(1 - A cos chi)``, formed as
    ``log((1 - A) + A (1 - cos chi))`` (LL-TI.1)."""
    r = radius_of(a)
    A = coefficient(r, k)
    return -a + float(
        np.log(coefficient_complement(r, k) + 2.0 * A * float(np.sin(0.5 * chi)) ** 2)
    )


def path_field(k: int, *, sin_term: bool = True) -> Callable[[float, np.ndarray], np.ndarray]:
    """The reduced flow in path time sigma, state ``(a, chi)`` with ``chi = psi - pi/2``
    (LL-TI.1): ``d(a, chi)/d sigma = (da, dpsi)/speed`` (:func:`sphere_rates`; E cancels).

    ``chi`` and not ``psi`` is the state because the flow settles in the valley ``chi ~
    -1/(4 a^3)``, where ``psi`` would carry only ``a^{-3}/ulp`` significant digits.
    ``phi = a + psi`` is not integrated (no rate depends on it).
    """

    def field(_sigma: float, state: np.ndarray) -> np.ndarray:
        a, chi = float(state[0]), float(state[1])
        psi = chi + 0.5 * np.pi
        use_chi = None if abs(psi) < abs(chi) else chi
        rates = sphere_rates(a, psi, k, sin_term=sin_term, chi=use_chi)
        return np.array([rates.da, rates.dpsi]) / rates.speed

    return field


@dataclass(frozen=True)
class ReducedRun:
    """Saved states of one reduced run (LL-TI.1): path times, ``a``, ``chi = psi - pi/2``."""

    sigma: np.ndarray
    a: np.ndarray
    chi: np.ndarray
    k: int
    sin_term: bool
    rtol: float
    nfev: int

    @property
    def psi(self) -> np.ndarray:
        """``psi = phi - a``."""
        return self.chi + 0.5 * np.pi

    @property
    def phi(self) -> np.ndarray:
        """The polar angle ``phi = a + psi`` (constant ``a(0) + psi(0)`` without sin term)."""
        if not self.sin_term:
            return np.full_like(self.a, self.a[0] + self.psi[0])
        return self.a + self.psi

    def log_hat(self) -> np.ndarray:
        """``log f`` at every saved state (``-a`` for the planted hat without sin term)."""
        if not self.sin_term:
            return -self.a
        return np.array([log_hat_chi(a, c, self.k) for a, c in zip(self.a, self.chi, strict=True)])


def reduced_flow(
    a0: float,
    k: int,
    sigma_end: float,
    *,
    psi0: float = 0.0,
    saves: int = 200,
    rtol: float = 1e-8,
    sin_term: bool = True,
    a_max: float = 1e4,
) -> ReducedRun:
    """Integrate :func:`path_field` from ``(a0, psi0)`` over path length ``sigma_end``
    (LL-TI.1), or until ``a`` reaches ``a_max`` (``1 - r^2 = 1/a_max``: the direction has
    reached the equator; the flow of the hat without sin term gets there in finite path
    length and stops, so its run ends at that event).

    BDF (implicit): ``psi`` relaxes at a rate ``~ 4 a^3`` per radian of ``phi`` near the
    unit circle (the curve ``psi = 0`` is repelling there, the valley of the hat ``psi ~
    pi/2`` attracting), so the system is stiff.  ``atol = rtol``: both components are O(1)
    to O(a) numbers, and ``chi`` is O(1) until it settles.
    """
    grid = np.linspace(0.0, sigma_end, saves + 1)

    def at_equator(_sigma: float, state: np.ndarray) -> float:
        return float(state[0]) - a_max

    at_equator.terminal = True  # type: ignore[attr-defined]
    sol = solve_ivp(
        path_field(k, sin_term=sin_term),
        (0.0, sigma_end),
        np.array([a0, psi0 - 0.5 * np.pi]),
        method="BDF",
        t_eval=grid,
        rtol=rtol,
        atol=rtol,
        events=at_equator,
    )
    if sol.status < 0:
        raise RuntimeError(f"LL-TI.1: the reduced flow failed: {sol.message}")
    return ReducedRun(sol.t, sol.y[0], sol.y[1], k, sin_term, rtol, int(sol.nfev))
