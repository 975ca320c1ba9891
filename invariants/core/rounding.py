"""The numerical vocabulary of the suite: machine constants and rounding-error bounds.

Every tolerance of a check is built from these (defined here once, cited by the
statement checks of ``properties/ji_telgarsky_2019/claims`` and by the library):

- :data:`EPS` (machine epsilon of float64, ``2^-52``) and :data:`UNIT_ROUNDOFF`
  (``EPS / 2``, round to nearest);
- :func:`gamma_unit`: Higham's ``gamma_m = m u / (1 - m u)``, the relative error
  bound of an m-term sum or dot product in any order (Higham, *Accuracy and
  Stability of Numerical Algorithms*, Lemma 3.1), and :func:`gamma`, the same with
  ``eps = 2u`` in place of ``u``;
- :func:`svd_error`, :func:`deficit_rounding`, :func:`wedin`: the rounding of the
  computed singular values, of the rank deficit ``sum_{i>=2} sigma_i^2`` (S-L2a) and
  of the top singular vectors (Wedin's theorem; S-L2b, S-L2c, S-C1);
- :func:`distance_rounding`: Qhull's bound on a point-to-facet distance (S-L3);
- :func:`two_sum`, :func:`two_prod`: error-free transformations (Knuth, Dekker /
  Veltkamp), the bricks of the double-double margins of Lemma 4 (S-L4);
- :func:`log_risk_rounding`, :func:`rounding_count`: the rounding of one evaluation of
  ``log R(W)`` (S-EQ1's allowance in the flow's guard, the gradient checks);
- :func:`perp_rounding_bound`: the rounding of a computed ``w_perp``, the part of the
  end-to-end product orthogonal to ubar (S-T2's reference, S-FIG1a's resolution);
- :func:`slack_ratio`: ``observed / allowed`` with ``0 / 0 = 0``, the ratio every
  :class:`~invariants.statements.Slack` records.

numpy only; imports nothing else of the project.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EPS = float(np.finfo(np.float64).eps)
UNIT_ROUNDOFF = EPS / 2
TINY = float(np.finfo(np.float64).tiny)  # smallest positive normal float64

_SPLIT = 134217729.0  # 2^27 + 1, Veltkamp's splitter for float64


def gamma(m: int) -> float:
    """``gamma_m = m eps / (1 - m eps)``: Higham's bound on the relative error of an m-term
    sum or dot product, any summation order, taken with ``eps = 2u`` in place of the unit
    roundoff ``u`` (a factor-2 margin; ``m eps < 1``).  The checks of the linear network
    use this one; :func:`gamma_unit` is the bound itself."""
    return m * EPS / (1.0 - m * EPS)


def gamma_unit(m: int) -> float:
    """Higham's ``gamma_m = m u / (1 - m u)`` with the unit roundoff ``u = eps / 2``
    (Lemma 3.1): the exact bound, used by the ReLU experiment's balancedness (S-FIG2)."""
    return m * UNIT_ROUNDOFF / (1.0 - m * UNIT_ROUNDOFF)


def slack_ratio(observed: float, allowed: float) -> float:
    """``observed / allowed``; a zero allowance is met only by a non-positive observation."""
    if allowed > 0:
        return observed / allowed
    return 0.0 if observed <= 0 else np.inf


def svd_error(W: np.ndarray) -> float:
    """Absolute error bound on each computed singular value of ``W`` (S-L2a, S-L2b, S-C1).

    LAPACK's SVD is backward stable: ``|sigma_hat_i - sigma_i| <= p(m, n) eps ||W||_2``
    with ``p`` a modest function of the dimensions; ``p = 4 max(m, n)`` is
    taken here (the usual ``O(max(m, n))`` of the Golub-Kahan bidiagonalisation).
    """
    return 4 * max(W.shape) * EPS * float(np.linalg.norm(W, 2))


def deficit_rounding(W: np.ndarray) -> float:
    """Rounding bound of the rank deficit ``sum_{i>=2} sigma_i^2`` (S-L2a).

    Each computed ``sigma_i`` errs by at most ``delta =`` :func:`svd_error`, so each
    square by ``2 sigma_i delta + delta^2``.
    """
    s = np.linalg.svd(W, compute_uv=False)
    delta = svd_error(W)
    tail = s[1:]
    return float(np.sum(2 * tail * delta + delta**2))


def wedin(W: np.ndarray) -> float:
    """Rounding bound on the sine between computed and exact top singular vectors.

    Wedin's theorem: ``sin angle <= ||E|| / gap`` for a perturbation ``E``; the
    backward error of the SVD is ``E ~`` :func:`svd_error`.  Capped at 1 (S-L2b, S-L2c).
    """
    s = np.linalg.svd(W, compute_uv=False)
    gap = s[0] - (s[1] if s.size > 1 else 0.0)
    return 1.0 if gap <= 0 else min(1.0, svd_error(W) / gap)


def distance_rounding(pts: np.ndarray) -> float:
    """Qhull's own bound on the rounding of a point-to-facet distance (``qh_distround``).

    ``eps (D * maxsumcoord * 1.01 + maxabs)`` with D the dimension,
    ``maxsumcoord`` the largest sum of |coordinates| of a point and
    ``maxabs`` the largest |coordinate| (Qhull, geom2.c).  Serves S-L3.
    """
    dim = pts.shape[1]
    maxsum = float(np.max(np.sum(np.abs(pts), axis=1)))
    maxabs = float(np.max(np.abs(pts)))
    return EPS * (dim * maxsum * 1.01 + maxabs)


def two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error-free product (Dekker/Veltkamp): ``a b = p + e`` exactly (no over/underflow)."""
    p = a * b
    ca = _SPLIT * a
    ah = ca - (ca - a)
    al = a - ah
    cb = _SPLIT * b
    bh = cb - (cb - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


def two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error-free sum (Knuth): ``a + b = s + e`` exactly."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def log_risk_rounding(big: float, n: int, M: int) -> float:
    """Bound on ``|fl(log R) - log R|`` when ``prod_j nu_j zmax <= big``.

    Margins err by ``<= gamma(M) big`` and pass to ``log R`` unamplified
    (``sum_i |d log R / d m_i| = sum_i |loss'_i| / (n R) <= 1`` as ``|loss'| <= loss``).
    ``a_i = log loss(m_i)`` is exact (exponential) or within a few ulps of
    ``1 + |a_i|`` (logistic; test_losses measures < 5 ulp), ``|a_i| <= big + 1``;
    logsumexp forms ``a_i - a_max`` (``<= 2 eps max|a|`` each, passed through exp),
    a sum of n terms (``gamma(n)``), a log (``eps log n``) and two additions
    (``eps (|a_max| + 2 log n)``).  Total ``<= gamma(M) big + eps (8 (big + 2) + n + 4 log n + 8)``.
    """
    return gamma(M) * big + EPS * (8 * (big + 2) + n + 4 * math.log(n) + 8)


def rounding_count(W: Sequence[np.ndarray], n: int) -> int:
    """The ``m`` of every ``gamma(m)`` below: all inner dimensions of every product met.

    A chain ``W_L ... W_1 z_i`` has inner dimensions ``d_{L-1}, ..., d_1, d_0`` and
    the sums over data points add ``n``; doubling covers the two chains (suffix
    and prefix) that meet in one gradient entry, ``+ 16`` the scalar operations.
    """
    dims = [W[0].shape[1]] + [w.shape[0] for w in W]
    return 2 * sum(dims) + n + 16


def perp_rounding_bound(depth: int, width: int, dim: int, unit: float = EPS) -> float:
    """``(L m + d + 4) unit``: the rounding of a computed ``w_perp`` relative to ``||w_prod||``
    (S-T2, S-FIG1a).

    ``w_perp = P w_prod`` with ``P = I - ubar ubar^T`` (unit ``ubar``), for ``L = depth``
    layers of width at most ``m = width`` in dimension ``d = dim``; ``unit`` is the machine
    epsilon of the arithmetic (``EPS`` for float64, ``np.finfo(np.longdouble).eps`` for an
    extended evaluation).  Counted, as :func:`gamma` is, with ``eps = 2u`` per rounding (a
    factor 2 over the unit roundoff ``u``):

    - the product (:func:`~invariants.core.network.end_to_end`, ``L - 1`` vector-matrix
      products of inner dimension ``<= m``): Higham's ``gamma_{(L-1) m}`` relative to the
      product of the layers' absolute values, which is of the size of ``||w_prod||`` for
      aligned layers (the regime where ``w_perp`` is measured); ``L m`` is charged;
    - the projection, two Gram-Schmidt passes (:func:`~invariants.core.maxmargin.perp`,
      whose power-of-two scaling is exact).  First pass ``p = w - <w, ubar> ubar``: the
      ``d``-term dot product errs by ``<= d eps ||w||``, but that error lies along ubar and
      the second pass removes it; the two roundings of the update (the product
      ``<w, ubar> ubar_i``, the difference) leave ``<= 2 eps ||w||``.  Second pass on ``p``
      (``||p|| <= ||w||``): nothing removes its errors, ``d eps ||p||`` from the dot product
      and ``2 eps ||p||`` from the update.  Together ``(d + 4) eps ||w||``.

    ``d + 2`` is the count of one pass (the perpendicular part's accuracy that
    :func:`~invariants.core.maxmargin.perp` documents when ``w`` is nearly parallel to
    ubar, so that ``||p|| << ||w||``); it is not a bound for every ``w``: when ``w`` is far
    from ubar the second pass rounds as much as the first, hence ``d + 4``.  The
    normalisation of ``ubar`` inside ``perp`` (one division per entry, a direction error
    ``<= u``) moves ``w_perp`` by ``<= 2 u ||w|| = eps ||w||``, inside the factor-2 margin
    of counting in ``eps``.
    """
    return (depth * width + dim + 4) * unit
