"""The certificate of assumption A2 (``R(W(0)) < R(0)`` and a non-zero gradient).

:func:`invariants.core.network.satisfies_a2` compares the computed log-risks with a
relative tolerance; this module decides when that comparison *certifies* A2 despite
rounding (a clear decrease of ``log R``, or a Taylor bound with Lagrange remainder when
``w_prod`` is below the resolution of ``log R``), and when A2 is clearly violated.
The initialisation strategies (:mod:`invariants.strategies`) deliver only what these
functions certify.  Serves A2, S-A2a and S-A2b.
"""

from __future__ import annotations

import math

import numpy as np

from .losses import Loss
from .network import Weights, a2_residuals, end_to_end
from .rounding import EPS

#: ``rtol`` handed to :func:`invariants.core.network.satisfies_a2` for every kind.
#:
#: Why not 0: for ``zero_first`` (S-A2a) ``w_prod = 0`` exactly, so
#: ``R(W(0)) = R(0)`` exactly, but the log-domain evaluation
#: ``logsumexp(log loss(0) 1_n) - log n`` rounds twice: ``fl(a + fl(log n)) - fl(log n)``
#: with ``a = log loss(0)`` (0 for exp, -0.367 for logistic) errs by at most
#: ``(|a| + log n) u + |a| u`` (u = eps/2), i.e. < 2.5 eps for n <= 60 and
#: < 8 eps for n <= e^15.  The same few ulps arise when ``w_prod`` is tiny
#: (deep networks at scale 1e-2 have ``||w_prod|| ~ 1e-12``): the true decrease
#: ``~ ||w_prod|| gamma`` is then below the resolution of log R, and A2 is
#: certified by a Taylor bound instead (:func:`taylor_certifies_a2`).  8 eps is
#: also the threshold of :func:`invariants.core.network.require_a2`, so every init
#: flagged True here passes ``require_a2``.
A2_RTOL = 8 * EPS


#: ``a2_violating`` inits that break the risk half of A2 do so by at least this
#: much in log-risk: ``log R(W(0)) - log R(0) >= 1e-6``, far above rounding.
A2_VIOLATION_MARGIN = 1e-6


# A computed log-risk decrease at least this large certifies R(W(0)) < R(0):
# the rounding of log R is a few eps (see A2_RTOL), 1e-12 is ~5000 eps.
A2_CLEAR_DECREASE = 1e-12


def curvature_bound(loss: Loss, radius: float) -> float:
    """``sup_{|m| <= radius} loss''(m)`` for the paper's losses.

    Logistic: ``loss'' <= beta = 1/4`` everywhere (A4).  Exponential:
    ``loss'' = exp(-m)`` is decreasing, so the sup is at ``-radius``.  The
    factor 1.01 covers the rounding of ``exp``.
    """
    if loss.beta is not None:
        return 1.01 * float(loss.beta)
    return 1.01 * float(max(loss.d2(-radius), loss.d2(0.0)))


def taylor_certifies_a2(weights: Weights, z: np.ndarray, loss: Loss) -> bool:
    """Certify ``R(W) < R(0)`` without evaluating R: Taylor with Lagrange remainder.

    For each i, ``loss(m_i) - loss(0) = loss'(0) m_i + loss''(xi_i) m_i^2 / 2``
    with ``|xi_i| <= |m_i| <= ||w|| ||z_i||``, so
    ``R(w) - R(0) <= loss'(0) <w, mean z> + (B/2) ||w||^2 mean ||z_i||^2``
    with B from :func:`curvature_bound`.  This stays decisive when ``w_prod``
    is far below the resolution of ``log R`` (deep networks at small scale).

    Rounding is charged against the first-order term: ``w_prod`` as computed
    differs from the exact product of the stored matrices by at most
    ``~L dmax eps prod_k ||W_k||_F`` and ``<w, mean z>`` errs by ``~d eps ||w||``;
    we demand a first-order term 100x above both (and 1.01x the remainder).
    """
    w = end_to_end(weights)
    nw = float(np.linalg.norm(w))
    if nw == 0.0:
        return False
    L = len(weights)
    dmax = max(max(W.shape) for W in weights)
    prod_norms = math.prod(float(np.linalg.norm(W)) for W in weights)
    err_w = 2 * L * dmax * EPS * prod_norms
    first = float(w @ z.mean(axis=0))  # <w, mean z>
    if first <= 100 * (err_w + (z.shape[1] + 2) * EPS * nw):
        return False
    radius = (nw + err_w) * float(np.max(np.linalg.norm(z, axis=1)))
    second = (
        0.5
        * curvature_bound(loss, radius)
        * (nw + err_w) ** 2
        * float(np.mean(np.sum(z * z, axis=1)))
    )
    return -float(loss.d1(0.0)) * (first - err_w) > 1.01 * second


def certifies_a2(weights: Weights, z: np.ndarray, loss: Loss) -> bool:
    """A2 holds mathematically *and* the flag (rtol = A2_RTOL) will say so."""
    log_g, excess = a2_residuals(weights, z, loss)
    if not np.isfinite(log_g) or excess > A2_RTOL:
        return False
    return excess <= -A2_CLEAR_DECREASE or taylor_certifies_a2(weights, z, loss)


def clearly_violates_a2(weights: Weights, z: np.ndarray, loss: Loss) -> bool:
    """Zero gradient, or ``log R(W) - log R(0) >= A2_VIOLATION_MARGIN``."""
    log_g, excess = a2_residuals(weights, z, loss)
    return (not np.isfinite(log_g)) or excess >= A2_VIOLATION_MARGIN
