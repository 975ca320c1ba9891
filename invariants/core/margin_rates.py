"""Rates of the second paper's flow theorems: physical time in the sum convention, the
integral G of the loss-rate lemma in the log domain, and fitted exponents.

Conventions are those of :mod:`invariants.core.homogeneous` (the summed loss
``Lsum = n R``, ``S = log(1/Lsum)``, the smoothed margin ``Q`` and ``gtil = Q / rho^p``).

* **Time.**  The first paper's flow is ``dW/dt_R = -grad R = -grad Lsum / n``, so the
  physical time of the summed loss is ``t = t_R / n`` (:func:`log_time_sum`), and the
  elapsed time ``t - t0`` is formed in the log domain (:func:`log_elapsed`).
* **G.**  With ``a = 2 - 2/p`` and the exponential loss's ``g(x) = x``, the lemma's
  ``G(1/Lsum) = int_{S0}^{S} e^s s^{-a} ds`` (substitute ``u = e^s``).  The integrand is
  log-convex (``(s - a log s)'' = a / s^2 >= 0``), hence convex, so on every piece of a
  grid the midpoint rule is a lower bound and the trapezoid rule an upper bound of its
  integral: :func:`log_g_bracket` returns ``log`` of both, a rigorous bracket up to the
  rounding of the sums (a few ulps of the log).  The logistic loss's integrand
  ``e^s g'(s)^2 g(s)^{-a}`` is log-convex too (:func:`log_g_integrand` proves it), so the
  same bracket serves it.
* **Fits.**  :func:`fit_slope` is ordinary least squares with the slope's standard error.

Statements served: LL-LB.6 (G and the time), LL-T4.3 (G's two-sided form, the fitted
exponents), LL-DL3 (the ratio to the limit), LL-LC.9 / LL-TA.9 (``beta^{-2} - 1`` and the
KKT residual eps), LL-LC.11 (the linear network's sphere constant B1), LL-T4.1 (the
gradient of ``log gtil``, which carries the integrator's error to ``gtil``).
"""

from __future__ import annotations

import math

import numpy as np

from .homogeneous import MarginModel, scaled_gradient, smoothed_min_margin
from .losses import Loss

#: Width of the fine uniform grid of :func:`log_g_bracket` (in ``s``).  On a piece of
#: length ``h`` the trapezoid and midpoint values of a log-convex integrand differ by
#: about ``h^2 (phi'^2 + phi'') / 8`` relative (``phi = s - a log s``, ``phi' <= 1`` for
#: ``s >= a``): 5e-5 at ``h = 0.02``.  It sets the bracket's width, never its validity.
G_FINE_STEP = 0.02
#: The fine grid covers the last ``G_FINE_SPAN`` units of ``s`` below ``S``; below them the
#: integrand is at most ``e^{-G_FINE_SPAN} (S / s)^a`` times its value at ``S``, so a
#: coarse geometric grid (ratio :data:`G_GEOMETRIC_RATIO`) bounds that part just as
#: rigorously with a wider, but relatively negligible, bracket.
G_FINE_SPAN = 60.0
G_GEOMETRIC_RATIO = 1.01


def log_time_sum(log_time_mean: float | np.ndarray, n: int) -> float | np.ndarray:
    """``log t = log t_R - log n``: the physical time of the summed loss (LL-LB.6, LL-T4.3).

    ``dtheta/dt = -grad Lsum`` and ``dtheta/dt_R = -grad R = -grad Lsum / n`` trace the
    same path with ``t_R = n t``.
    """
    return log_time_mean - math.log(n)


def log_elapsed(log_t: float, log_t0: float) -> float:
    """``log(t - t0)`` for ``t > t0 >= 0`` without cancellation (``-inf`` if ``t <= t0``)."""
    if log_t <= log_t0:
        return -math.inf
    if log_t0 == -math.inf:
        return log_t
    return log_t + math.log(-math.expm1(log_t0 - log_t))


def _logsumexp(a: np.ndarray) -> float:
    if a.size == 0:
        return -math.inf
    m = float(np.max(a))
    return m + float(np.log(np.sum(np.exp(a - m))))


def g_grid(s0: float, s1: float) -> np.ndarray:
    """The nodes of :func:`log_g_bracket` on ``[s0, s1]`` (``0 < s0 < s1``): a geometric
    grid from ``s0`` (fine where ``s^{-a}`` varies fast) joined with a uniform grid of step
    :data:`G_FINE_STEP` on the last :data:`G_FINE_SPAN` units."""
    k = math.ceil(math.log(s1 / s0) / math.log(G_GEOMETRIC_RATIO))
    geometric = s0 * G_GEOMETRIC_RATIO ** np.arange(k + 1)
    lo = max(s0, s1 - G_FINE_SPAN)
    fine = np.linspace(lo, s1, math.ceil((s1 - lo) / G_FINE_STEP) + 1)
    nodes = np.unique(np.concatenate([geometric[geometric < s1], fine, [s0, s1]]))
    return nodes[(nodes >= s0) & (nodes <= s1)]


#: ``s* = log(1 / log 2)``: the logistic ``g(s) = -log(expm1(e^{-s}))`` is positive exactly
#: for ``s > s*`` (``Lsum < log 2``, past t0), where its G is defined (LL-LB.6).
LOGISTIC_S_STAR = -math.log(math.log(2.0))


def _log_expm1_ratio(log_x: np.ndarray) -> np.ndarray:
    """``log(expm1(x)/x)`` at ``x = e^{log_x}``, ``x <= 1`` (the vector form of
    :func:`invariants.core.homogeneous.log_expm1_ratio`: ``x/2`` below ``log x = -20``,
    where the dropped ``x^2/24`` is below ``2e-19``)."""
    x = np.exp(log_x)
    with np.errstate(divide="ignore"):
        direct = x + np.log(-np.expm1(-np.maximum(x, 1e-300))) - log_x
    return np.where(log_x < -20.0, 0.5 * x, direct)


def log_g_integrand(s: np.ndarray, order: int, loss_name: str = "exponential") -> np.ndarray:
    """``log(e^s g'(s)^2 / g(s)^a)`` with ``a = 2 - 2/p``: LL-LB.6's integrand in
    ``s = log u`` (``G(x) = int g'(log u)^2 / g(log u)^a du``, ``du = e^s ds``).

    ``g = f^{-1}`` with ``f = -log loss``, i.e. ``g(s) = loss^{-1}(e^{-s})``.  Exponential:
    ``g(s) = s``, ``g' = 1``.  Logistic: ``g(s) = -log(expm1(w))`` with ``w = e^{-s}``,
    written ``s - log(expm1(w)/w)``; ``g'(s) = w / (1 - e^{-w})``, whose log is
    ``w - log(expm1(w)/w)``; nothing underflows at any ``s``.  Requires ``g(s) > 0``
    (``s > 0``; logistic ``s >`` :data:`LOGISTIC_S_STAR`).

    **Log-convex for both losses**, so :func:`log_g_bracket`'s midpoint/trapezoid bracket is
    rigorous.  Exponential: ``(s - a log s)'' = a / s^2 >= 0``.  Logistic: the three terms
    of ``s + 2 log g'(s) - a log g(s)`` are each convex.  (i) ``s``.  (ii) ``log g' =
    psi(w) = w/2 + log(w/2) - log sinh(w/2)``; since ``d/ds = -w d/dw``, ``(log g')'' =
    (w d/dw)^2 psi``, which with ``u = w/2`` is ``u - u coth u + u^2 / sinh^2 u = (u /
    sinh^2 u)(sinh^2 u - sinh u cosh u + u) = (u / sinh^2 u)(e^{-2u} - 1 + 2u) / 2 >= 0``.
    (iii) ``g'' = -w d/dw (w / (1 - e^{-w})) < 0`` (``(1 - e^{-w})/w = int_0^1 e^{-wt} dt``
    decreases in ``w``), so ``g`` is concave and positive, ``log g`` concave, and ``-a log g``
    convex (``a >= 0``).
    """
    s = np.asarray(s, dtype=np.float64)
    a = 2.0 - 2.0 / order
    if loss_name == "exponential":
        return s - a * np.log(s)
    if loss_name == "logistic":
        r = _log_expm1_ratio(-s)
        return s + 2.0 * (np.exp(-s) - r) - a * np.log(s - r)
    raise ValueError(f"no G for the loss {loss_name!r}: exponential and logistic only")


def log_g_bracket(
    s0: float, s1: float, order: int, loss_name: str = "exponential"
) -> tuple[float, float]:
    """``(lower, upper)`` bounds of ``log G = log int_{s0}^{s1} e^s g'(s)^2 g(s)^{-(2 - 2/p)}
    ds`` (LL-LB.6, LL-T4.3; :func:`log_g_integrand`, ``g(s) = s`` for the exponential loss):
    the midpoint and trapezoid sums of a convex integrand (module docstring), in the log
    domain, so nothing overflows at ``s1 ~ 1e12``.  ``(-inf, -inf)`` when ``s1 <= s0``.
    Requires ``g(s0) > 0``: ``s0 > 0`` (exponential), ``s0 >`` :data:`LOGISTIC_S_STAR`
    (logistic).
    """
    if s1 <= s0:
        return -math.inf, -math.inf
    floor = LOGISTIC_S_STAR if loss_name == "logistic" else 0.0
    if s0 <= floor:
        raise ValueError(f"G needs g(s0) > 0, s0 = log(1/Lsum(t0)) > {floor:.6g}; got {s0}")
    s = g_grid(s0, s1)
    phi = log_g_integrand(s, order, loss_name)
    h = np.diff(s)
    mid = 0.5 * (s[1:] + s[:-1])
    lower = _logsumexp(np.log(h) + log_g_integrand(mid, order, loss_name))
    upper = _logsumexp(np.log(h) + np.logaddexp(phi[1:], phi[:-1]) - math.log(2.0))
    return lower, upper


def log_lb6_rate(order: int, gtil0: float) -> float:
    """``log(p^2 gtil(t0)^{2/p})``, the rate of the loss-rate lemma (LL-LB.6)."""
    return 2.0 * math.log(order) + (2.0 / order) * math.log(gtil0)


def log_upper_rate(order: int, b1: float, gtil0: float) -> float:
    """``log(B1^2 gtil(t0)^{-(2 - 2/p)})``: the upper rate of LL-T4.3 made explicit.

    ``d(1/Lsum)/dt = ||grad Lsum||^2 / Lsum^2`` with ``||grad Lsum|| <= sum_i (-loss'(q_i))
    B1 rho^{p-1} <= Lsum B1 rho^{p-1}`` (``-loss' <= loss`` for both losses) and
    ``rho^p = Q / gtil <= S / gtil(t0)`` after t0 (LL-T4.1 and ``Q <= S``), so
    ``G(1/Lsum(t)) <= B1^2 gtil(t0)^{-(2-2/p)} (t - t0)``.
    """
    return 2.0 * math.log(b1) - (2.0 - 2.0 / order) * math.log(gtil0)


def linear_b1(order: int, xmax: float) -> float:
    """``B1 = p^{1 - p/2} max_i ||x_i||``: the largest ``||grad q_i||`` on the unit sphere
    of a depth-p linear network (LL-LC.11).

    ``||grad_{W_k} q_i|| = ||s_k|| ||P_k z_i|| <= prod_{j != k} ||W_j|| ||z_i||`` and, at
    ``rho = 1``, ``sum_k prod_{j != k} ||W_j||^2 <= p (1/p)^{p-1}`` (Maclaurin), so
    ``||grad q_i|| <= p^{1/2} p^{-(p-1)/2} ||z_i|| = p^{1-p/2} ||z_i||``.
    """
    return order ** (1.0 - order / 2.0) * xmax


def local_b1(model: MarginModel) -> float:
    """``max_i ||grad q_i(theta_hat)|| = max_i ||grad q_i(theta)|| / rho^{p-1}`` (LL-LC.11)."""
    return float(np.max(np.linalg.norm(model.jacobian, axis=1))) / model.rho ** (model.order - 1)


def log_f_prime(Q: float, loss: Loss) -> float:
    """``log f'(Q) = log(-loss'(Q)) - log loss(Q)`` with ``f = -log loss`` (LL-T4.1)."""
    return float(loss.log_neg_d1(Q) - loss.log_value(Q))


def grad_log_gtil(model: MarginModel, loss: Loss) -> np.ndarray:
    """``grad log gtil = grad Q / Q - p theta / rho^2`` (LL-T4.1), ``Q > 0``.

    ``Q = loss^{-1}(Lsum)`` gives ``grad Q = grad Lsum / loss'(Q) = -(grad Lsum / Lsum) /
    f'(Q)`` (as ``Lsum = loss(Q)``), written with the scaled gradient: nothing underflows.
    """
    Q = smoothed_min_margin(model.q, loss)
    grad_q = -scaled_gradient(model, loss) / math.exp(log_f_prime(Q, loss))
    return grad_q / Q - model.order * model.theta / model.rho**2


def beta_deficit(radial: float, tangential: np.ndarray) -> float:
    """``beta^{-2} - 1 = ||u||^2 / ||v||^2`` (LL-LC.9): ``beta = ||v|| / ||v + u||`` with the
    radial speed ``||v||`` and the tangential velocity ``u``, in any clock."""
    return float(tangential @ tangential) / radial**2


def kkt_eps(gbar: float, order: int, beta: float) -> float:
    """``eps = gbar^{-1/p} sqrt(2 (1 - beta))``: the stationarity residual of
    ``theta / q_min^{1/p}`` with the proof's multipliers (LL-LC.8, LL-TA.9)."""
    return gbar ** (-1.0 / order) * math.sqrt(max(0.0, 2.0 * (1.0 - beta)))


def fit_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of ``y`` on ``x`` and its standard error (LL-T4.3, LL-TA.9,
    LL-DL3); ``(nan, nan)`` with fewer than three points or no spread in ``x``."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 3 or float(np.ptp(x)) == 0.0:
        return math.nan, math.nan
    xc = x - x.mean()
    slope = float(xc @ (y - y.mean()) / (xc @ xc))
    resid = y - y.mean() - slope * xc
    stderr = math.sqrt(float(resid @ resid) / (x.size - 2) / float(xc @ xc))
    return slope, stderr
