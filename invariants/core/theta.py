"""theta of Lemma 3 (S-L3) and the gradient-sign condition of Lemma 4 (S-L4).

Definitions (STATEMENTS.md).  With ``(ubar, gamma, S)`` the max-margin
solution of the rows z_i::

    theta := min_{||xi|| = 1, xi perp ubar}  h(xi),    h(xi) := max_{i in S} <xi, z_i>.

For ``xi perp ubar``, ``<xi, z_i> = <xi, p_i>`` with ``p_i = z_i - gamma ubar``
the projection of a support vector on ``ubar^perp``; ``h`` is the support
function of ``conv{p_i : i in S}``.  The KKT conditions of the max-margin
problem give ``sum_{i in S} dual_i p_i = 0``: the origin is the dual-weighted
barycentre of the projected support vectors, so ``h >= 0`` and theta is the
distance from the origin to the nearest facet of that hull (the largest ball
about 0 inside it).  theta > 0 iff the hull has the origin in its interior
relative to ``ubar^perp``; S-L3 says that holds almost surely under A3 (the
support vectors span R^d).

:func:`theta` computes it

* in closed form when the hull is a simplex (exactly d affinely independent
  support vectors, the generic case): barycentric coordinates
  ``lambda(x) = B^{-1} [x; 1]`` with ``B = [[p_1 .. p_d], [1 .. 1]]``; the facet
  opposite vertex j is ``lambda_j = 0`` and lies at distance
  ``lambda_j(0) / ||grad lambda_j||`` from the origin;
* with ``scipy.spatial.ConvexHull`` (Qhull) when there are more support
  vectors and ``d - 1 >= 2``; as an interval when ``d - 1 = 1``;
* as exactly 0 when the support vectors do not span R^d (A3 fails), with a
  witness direction orthogonal to all of them;
* as ``+inf`` when d = 1 (``ubar^perp = {0}``: no unit xi exists and Lemma 4
  is vacuous).

Every answer carries what :func:`check_theta_certificate` needs to verify it
from the data alone: an upper-bound witness ``xi`` with ``h(xi) = theta`` and
a lower-bound certificate (the facets, each a valid inequality for every
projected support vector, passing through its vertices, none nearer to the
origin than theta; for the simplex the barycentric identity ``B lambda = [0; 1]``,
``lambda >= 0``).

Lemma 4: :func:`lemma4_threshold` is the printed threshold K;
:func:`perp_gradient_sign` decides the sign of ``<w_perp, grad R(w)>`` in the
log domain (exact for ``||w||`` up to 1e13 and beyond: no overflow, no
cancellation of the huge common part of the margins); and
:func:`l4_empirical_threshold` searches, deterministically, for the largest
``||w_perp||`` at which the sign condition fails with ``<w, ubar> >= 0``: an
empirical threshold ``K_emp`` to set against K.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.spatial import ConvexHull, QhullError

from ..errors import AssumptionError, CertificateError, DataError, NonFiniteError, ShapeError
from .data import Dataset
from .losses import EXPONENTIAL, LOGISTIC, Loss, get_loss
from .maxmargin import MaxMargin, max_margin, perp

__all__ = [
    "METHODS",
    "L4Search",
    "Theta",
    "ThetaCertificate",
    "check_theta_certificate",
    "h_support",
    "l4_empirical_threshold",
    "lemma4_threshold",
    "perp_basis",
    "perp_gradient_sign",
    "rank_tolerance",
    "require_a3",
    "theta",
    "theta_tolerance",
]

EPS = float(np.finfo(np.float64).eps)

#: What :func:`theta` can report in ``Theta.method``.
METHODS: tuple[str, ...] = ("simplex", "hull", "interval", "rank-deficient", "d=1")


# --- small helpers ------------------------------------------------------------------------------


def _as_z(data_or_z: Dataset | np.ndarray) -> np.ndarray:
    if isinstance(data_or_z, Dataset):
        return np.asarray(data_or_z.z, dtype=np.float64)
    z = np.asarray(data_or_z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ShapeError(
            f"z has shape {z.shape}; theta needs a Dataset or an (n, d) array of rows "
            "z_i = y_i x_i."
        )
    if not np.all(np.isfinite(z)):
        raise NonFiniteError("z contains NaN or inf; theta needs finite data.")
    return z


def perp_basis(ubar: np.ndarray) -> np.ndarray:
    """An orthonormal basis of ``ubar^perp``: the (d, d-1) matrix U with ``U^T ubar = 0``.

    The last d-1 columns of the complete Householder QR of ``ubar`` (LAPACK
    ``geqrf``/``orgqr``): orthonormal and orthogonal to ubar to ``~ d eps``.
    For d = 1 the result is (1, 0).
    """
    u = np.asarray(ubar, dtype=np.float64).reshape(-1, 1)
    q, _ = np.linalg.qr(u, mode="complete")
    return np.ascontiguousarray(q[:, 1:])


def h_support(xi: np.ndarray, z: np.ndarray, support: np.ndarray) -> float:
    """``h(xi) = max_{i in S} <xi, z_i>`` (S-L3): the support function of the support vectors."""
    z = np.asarray(z, dtype=np.float64)
    return float(np.max(z[np.asarray(support, dtype=np.intp)] @ np.asarray(xi, dtype=np.float64)))


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.setflags(write=False)


# --- theta ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Theta:
    """theta of Lemma 3 (S-L3) with its certificate data (arrays read-only; compared by identity).

    Attributes
    ----------
    value
        theta: 0.0 when A3 fails, ``+inf`` when d = 1.
    xi
        (d,) unit vector perpendicular to ubar attaining the minimum:
        ``h(xi) = value``.  In the rank-deficient case a unit vector in
        ``ubar^perp`` orthogonal to every support vector (``h(xi) = 0``); for
        d = 1 the zero vector (no unit vector is perpendicular to ubar).
    support
        Row indices S used (``mm.support``).
    method
        One of :data:`METHODS`.
    a3
        Whether A3 holds: the support vectors span R^d (rank test, see
        :func:`theta`).  True for d = 1 (one nonzero support vector spans R).
    reason
        A sentence saying what was computed and, when theta is not a positive
        number, why and what to do.
    basis
        (d, d-1) orthonormal basis U of ``ubar^perp`` (:func:`perp_basis`);
        all the coordinates below are in it.
    points
        (|S|, d-1) coordinates ``U^T z_i`` of the projected support vectors.
    normals, offsets
        Facets of the projected hull: unit outward normals (m, d-1) and their
        distances from the origin (m,); the hull is ``{x : normals @ x <= offsets}``.
    facet_vertices
        (m, k) row indices (into z) of each facet's vertices.
    barycentric
        Simplex path: ``lambda(0) = B^{-1} [0; 1]`` (d,), the origin's
        barycentric coordinates (equal to the renormalised dual weights); else None.
    cond
        Simplex path: the 2-norm condition number of B; else NaN.
    rank, rank_tol, sigma_min
        Numerical rank of ``Z_S``, the tolerance used, and the smallest
        singular value (of the d that a full-rank ``Z_S`` has; 0 if |S| < d).
    """

    value: float
    xi: np.ndarray
    support: np.ndarray
    method: str
    a3: bool
    reason: str
    basis: np.ndarray = field(repr=False)
    points: np.ndarray = field(repr=False)
    normals: np.ndarray = field(repr=False)
    offsets: np.ndarray = field(repr=False)
    facet_vertices: np.ndarray = field(repr=False)
    barycentric: np.ndarray | None = field(default=None, repr=False)
    cond: float = math.nan
    rank: int = 0
    rank_tol: float = 0.0
    sigma_min: float = 0.0

    def facet_normals(self) -> np.ndarray:
        """The facet normals as unit vectors of R^d (rows), perpendicular to ubar."""
        return self.normals @ self.basis.T


def rank_tolerance(z_s: np.ndarray) -> float:
    """Threshold below which a singular value of ``Z_S`` counts as 0 (the A3 rank test).

    ``8 max(|S|, d) eps ||Z_S||_2``.  Two rounding effects are charged:
    LAPACK's SVD is backward stable, so each computed singular value is off by
    at most ``~ 4 max(|S|, d) eps ||Z_S||_2`` (the usual bidiagonalisation
    bound, as in ``properties.flow_checks.svd_error``); and data that are rank
    deficient in exact arithmetic (collinear points, points in a subspace)
    are stored with entrywise relative rounding ``<= eps/2``, i.e.
    ``||dZ||_2 <= ||dZ||_F <= sqrt(|S| d) (eps/2) max|z_ij| <= max(|S|, d) eps ||Z_S||_2 / 2``,
    which moves singular values by as much.  Together below
    ``4.5 max(|S|, d) eps ||Z_S||_2``; 8 leaves room for the rounding of
    computed data (e.g. ``c_i * a``).  A genuinely spanning support has
    ``sigma_min`` of order the data's scale times its conditioning, far above
    (about 1e-14 for unit-scale data).
    """
    k, d = z_s.shape
    return 8.0 * max(k, d) * EPS * float(np.linalg.norm(z_s, 2))


def _rank_deficient(
    z: np.ndarray, mm: MaxMargin, support: np.ndarray, basis: np.ndarray, sv, vt, rank, tol
) -> Theta:
    d = z.shape[1]
    v = vt[-1] if sv.size < d else vt[np.argmin(sv)]  # vt is (d, d): full_matrices
    xi = perp(v, mm.ubar)
    xi = xi / np.linalg.norm(xi)
    sigma_min = 0.0 if sv.size < d else float(sv.min())
    pts = z[support] @ basis
    reason = (
        f"A3 fails: the {support.size} support vector(s) S = {support.tolist()} span only a "
        f"{rank}-dimensional subspace of R^{d} (numerical rank {rank} < d = {d}; smallest "
        f"singular value {sigma_min:.3e} <= tolerance {tol:.3e}), so some unit xi perpendicular "
        "to ubar is orthogonal to every support vector and theta = 0. Lemma 4 (S-L4) and "
        "Theorem 2 need A3: use data whose support vectors span R^d (e.g. "
        "invariants.strategies.a3_datasets), or perturb the data (A3 holds almost surely for "
        "data drawn from a density, S-L3)."
    )
    empty = np.zeros((0, d - 1))
    th = Theta(
        value=0.0,
        xi=xi,
        support=support,
        method="rank-deficient",
        a3=False,
        reason=reason,
        basis=basis,
        points=pts,
        normals=empty,
        offsets=np.zeros(0),
        facet_vertices=np.zeros((0, 0), dtype=np.intp),
        rank=int(rank),
        rank_tol=float(tol),
        sigma_min=sigma_min,
    )
    _readonly(xi, pts, th.normals, th.offsets, th.facet_vertices)
    return th


def _simplex(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Facets of the simplex with vertices ``pts`` (d, d-1): normals, offsets, lambda0, B, cond.

    ``B = [[p_1 .. p_d], [1 .. 1]]``; rows of ``X = B^{-1}`` are the affine
    functionals ``lambda_j(x) = g_j . x + c_j`` (``g_j`` the first d-1
    entries, ``c_j = lambda_j(0)`` the last).  The facet opposite vertex j is
    ``lambda_j = 0``; ``lambda_j`` decreases outwards, so the outward unit
    normal is ``-g_j / ||g_j||`` and the facet's distance from the origin is
    ``c_j / ||g_j||`` (negative if the origin is outside).  Check of the sign:
    for a vertex i != j, ``g_j . p_i = -c_j``, so ``<-g_j/||g_j||, p_i> = c_j/||g_j||``:
    the support function in that direction is the distance.
    """
    d = pts.shape[0]
    b = np.vstack([pts.T, np.ones((1, d))])
    x = np.linalg.inv(b)
    g = x[:, :-1]
    c = x[:, -1]
    gn = np.linalg.norm(g, axis=1)
    normals = -g / gn[:, None]
    offsets = c / gn
    return normals, offsets, c.copy(), b, float(np.linalg.cond(b))


def theta(
    data_or_z: Dataset | np.ndarray, mm: MaxMargin | None = None, *, method: str = "auto"
) -> Theta:
    """theta of Lemma 3 (S-L3) for the rows z_i, with its certificate data.

    ``mm`` is the max-margin solution (computed with
    :func:`~invariants.core.maxmargin.max_margin` if None); its ``ubar`` and
    ``support`` define the problem.  ``method``: ``"auto"`` (simplex when
    ``|S| = d``, interval when d = 2, hull otherwise) or one of ``"simplex"``,
    ``"hull"``, ``"interval"`` to force a path (for cross-checks; a path that
    does not apply raises :class:`DataError`).

    A3 rank test: ``Z_S`` (|S| x d) has full rank d iff its smallest singular
    value exceeds :func:`rank_tolerance` (derived from rounding, see there).
    The support spans R^d iff the projected support vectors affinely span
    ``ubar^perp`` (``z_i = gamma ubar + p_i`` with gamma > 0), and because the
    origin is their barycentre that is the same as spanning it linearly.  When
    the rank is short theta is exactly 0 (``value = 0.0``, ``a3 = False``) and
    ``xi`` is the unit vector of ``ubar^perp`` closest to the null space of
    ``Z_S`` (the right singular vector of the smallest singular value,
    projected): ``h(xi) ~ 0``.

    Coordinates in ``ubar^perp`` are ``U^T z_i`` with U from :func:`perp_basis`
    (no subtraction of ``gamma ubar`` is needed: ``U^T ubar = 0``).

    Even with A3, theta can be 0 for non-generic data (a support vector with
    zero dual weight can put the origin on the hull's boundary); ``reason``
    then says so.  theta < 0 means the origin is outside the projected hull:
    ``ubar`` is not the max-margin direction of these support vectors.
    """
    z = _as_z(data_or_z)
    if mm is None:
        mm = max_margin(z)
    d = z.shape[1]
    if method not in ("auto", "simplex", "hull", "interval"):
        raise ValueError(f"method={method!r}; use 'auto', 'simplex', 'hull' or 'interval'.")
    support = np.array(mm.support, dtype=np.intp)
    _readonly(support)
    basis = perp_basis(mm.ubar)
    _readonly(basis)
    if d == 1:
        xi = np.zeros(1)
        empty = np.zeros((0, 0))
        _readonly(xi, empty)
        return Theta(
            value=math.inf,
            xi=xi,
            support=support,
            method="d=1",
            a3=True,
            reason=(
                "d = 1: ubar^perp = {0} contains no unit vector, so the minimum over an empty "
                "set is +inf; every w has w_perp = 0 and Lemma 4 (S-L4) holds vacuously. A3 "
                "holds (a nonzero support vector spans R)."
            ),
            basis=basis,
            points=np.zeros((support.size, 0)),
            normals=empty,
            offsets=np.zeros(0),
            facet_vertices=np.zeros((0, 0), dtype=np.intp),
            rank=1,
        )

    z_s = z[support]
    _, sv, vt = np.linalg.svd(z_s, full_matrices=True)
    tol = rank_tolerance(z_s)
    rank = int(np.sum(sv > tol))
    if rank < d:
        return _rank_deficient(z, mm, support, basis, sv, vt, rank, tol)
    sigma_min = float(sv.min())

    pts = z_s @ basis  # (|S|, d-1)
    k = support.size
    if method == "auto":
        method = "simplex" if k == d else ("interval" if d == 2 else "hull")
    barycentric = None
    cond = math.nan
    if method == "simplex":
        if k != d:
            raise DataError(f"method='simplex' needs exactly d = {d} support vectors; |S| = {k}.")
        normals, offsets, barycentric, _, cond = _simplex(pts)
        facet_vertices = np.array(
            [[support[i] for i in range(d) if i != j] for j in range(d)], dtype=np.intp
        ).reshape(d, d - 1)
    elif method == "interval":
        if d != 2:
            raise DataError(f"method='interval' needs d = 2 (ubar^perp a line); d = {d}.")
        col = pts[:, 0]
        hi, lo = int(np.argmax(col)), int(np.argmin(col))
        normals = np.array([[1.0], [-1.0]])
        offsets = np.array([col[hi], -col[lo]])
        facet_vertices = np.array([[support[hi]], [support[lo]]], dtype=np.intp)
    else:  # hull
        if d < 3:
            raise DataError(f"method='hull' needs d - 1 >= 2 (Qhull works in 2+ dims); d = {d}.")
        try:
            hull = ConvexHull(pts)
        except QhullError as exc:
            raise CertificateError(
                f"Qhull failed on the {k} projected support vectors in R^{d - 1} although "
                f"Z_S has full rank (sigma_min = {sigma_min:.3e}): the hull is nearly flat. "
                f"Qhull said: {str(exc).splitlines()[0] if str(exc) else exc!r}. Rescale or "
                "perturb the data."
            ) from None
        normals = np.array(hull.equations[:, :-1])
        offsets = -np.array(hull.equations[:, -1])
        facet_vertices = support[hull.simplices]

    j = int(np.argmin(offsets))
    value = float(offsets[j])
    xi = basis @ normals[j]
    xi = xi / np.linalg.norm(xi)
    if value > 0:
        reason = (
            f"theta = {value:.6g} > 0 ({method} path over |S| = {k} support vectors in R^{d}): "
            "A3 holds and the origin is interior to the projected hull."
        )
    elif value == 0 or value > -1e-12:
        reason = (
            f"A3 holds (rank {rank} = d) but theta = {value:.3g} (to rounding 0): the origin lies "
            "on the boundary of the hull of the projected support vectors (a support vector "
            "with zero dual weight, non-generic data). Lemma 3's 'almost surely' excludes such "
            "data; perturb them."
        )
    else:
        reason = (
            f"theta = {value:.3g} < 0: the origin is outside the hull of the projected support "
            "vectors, so ubar is not the max-margin direction of these support vectors. "
            "Recompute ubar with max_margin()."
        )
    for a in (xi, pts, normals, offsets, facet_vertices, barycentric):
        if a is not None:
            _readonly(a)
    return Theta(
        value=value,
        xi=xi,
        support=support,
        method=method,
        a3=True,
        reason=reason,
        basis=basis,
        points=pts,
        normals=normals,
        offsets=offsets,
        facet_vertices=facet_vertices,
        barycentric=barycentric,
        cond=cond,
        rank=rank,
        rank_tol=tol,
        sigma_min=sigma_min,
    )


def require_a3(data_or_z: Dataset | np.ndarray | Theta, mm: MaxMargin | None = None) -> Theta:
    """The :class:`Theta` of the data if A3 holds and theta > 0; :class:`AssumptionError` otherwise.

    Accepts data (theta is computed) or an existing :class:`Theta`.  d = 1
    passes (theta = +inf, Lemma 4 vacuous).
    """
    th = data_or_z if isinstance(data_or_z, Theta) else theta(data_or_z, mm)
    if not th.a3 or not th.value > 0:
        raise AssumptionError(f"S-L3 / A3: {th.reason}")
    return th


# --- certificate -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ThetaCertificate:
    """Residuals of :func:`check_theta_certificate`, their tolerances, and the worst ratio.

    ``worst_ratio = max residual / tolerance`` (<= 1 means every check held);
    a tolerance of 0 (combinatorial checks) counts a nonzero residual as inf.
    """

    residuals: dict[str, float]
    tolerances: dict[str, float]
    worst_ratio: float
    worst: str


def _distround(pts: np.ndarray) -> float:
    """Qhull's own bound on the rounding of a point-to-facet distance (``qh_distround``).

    ``eps (D * maxsumcoord * 1.01 + maxabs)`` with D the dimension,
    ``maxsumcoord`` the largest sum of |coordinates| of a point and
    ``maxabs`` the largest |coordinate| (Qhull, geom2.c).
    """
    dim = pts.shape[1]
    maxsum = float(np.max(np.sum(np.abs(pts), axis=1)))
    maxabs = float(np.max(np.abs(pts)))
    return EPS * (dim * maxsum * 1.01 + maxabs)


def theta_tolerance(z: np.ndarray, mm: MaxMargin, th: Theta) -> float:
    """Absolute tolerance on facet residuals and on ``|h(xi) - theta|``, by path.

    With ``rho = max_{i in S} ||z_i||`` and ``(d + 2) eps rho`` the rounding
    of one recomputed ``<n, U^T z_i>`` (a d-term dot product, twice):

    * simplex: each row ``x_j`` of the computed ``B^{-1}`` (LU, partial
      pivoting) is backward stable: ``|x_j B - e_j| <= c d eps ||x_j|| ||B||``.
      The residual of vertex i on facet j is ``(x_j B - e_j)_i / ||g_j||`` and
      ``||x_j|| <= ||g_j|| + |c_j|``, so it is at most
      ``c d eps ||B||_F (1 + |offset_j|)``; c = 8 (growth factor of partial
      pivoting ~1 for these small, well-scaled B).  No condition number
      enters: the facet passes through the vertices to rounding, whatever
      cond(B) is (it enters the *sign* of lambda, see the certificate).
    * hull / interval: 16 times Qhull's distance-rounding bound
      (:func:`_distround`): Qhull merges facets whose non-convexity is within a
      few of these units, so its reported hyperplanes may sit that far from a
      vertex (16 covers the merge thresholds of the default options).
    * rank-deficient: ``th.rank_tol`` (``|<xi, z_i>| <= sigma_min(Z_S)`` up to
      the SVD's backward error, both inside :func:`rank_tolerance`).
    """
    d = z.shape[1]
    s = np.asarray(mm.support, dtype=np.intp)
    rho = float(np.max(np.linalg.norm(z[s], axis=1)))
    recheck = 2.0 * (d + 2) * EPS * rho
    if th.method == "simplex":
        bnorm = math.sqrt(float(np.sum(th.points**2)) + d)
        return 8.0 * d * EPS * bnorm * (1.0 + float(np.max(np.abs(th.offsets)))) + recheck
    if th.method in ("hull", "interval"):
        return 16.0 * _distround(th.points) + recheck
    return th.rank_tol + recheck


def check_theta_certificate(z: np.ndarray | Dataset, mm: MaxMargin, th: Theta) -> ThetaCertificate:
    """Verify a :class:`Theta` against the data and the max-margin solution ``mm`` (S-L3).

    Everything is recomputed from ``z``, ``mm.ubar`` and ``mm.support``; of
    ``th`` only the claimed value, the witness ``xi``, the basis and the
    facets (normals, offsets, vertex row indices) are used.

    Checks (tolerances in :func:`theta_tolerance`, derivations there):

    * basis: ``U^T U = I`` and ``U^T ubar = 0`` to ``4 d eps`` (Householder QR);
      ``xi`` unit (``(d + 3) eps``) and perpendicular to ubar (``4 d eps``).
    * (a) upper bound: ``h(xi) = max_{i in S} <xi, z_i>`` equals the value.
    * (b) lower bound (facet paths): every projected support vector satisfies
      every facet inequality ``<n_k, U^T z_i> <= offset_k``; each facet's
      vertices are support vectors lying on it; normals are unit; no facet is
      nearer the origin than the value; the facets close up (hull: every
      ridge in exactly two facets; simplex: the facets are the d vertex
      subsets of size d - 1).  Then the hull equals the intersection of the
      half-spaces, which contains the ball of radius ``value`` about 0, so
      ``h(xi) >= value`` for every unit xi perpendicular to ubar.
    * simplex path: ``B lambda = [0; 1]`` to ``8 d eps ||B||_F ||lambda||``
      (backward stability of the solve) and ``lambda >= 0`` to
      ``8 d eps cond(B) ||lambda||`` (forward error of lambda): the origin is
      in the simplex.
    * KKT: the dual-weighted barycentre ``sum_S dual_i U^T z_i`` is 0 to
      ``gamma * kkt_stationarity + 2 (n + d + 2) eps rho`` (the max-margin
      certificate's stationarity residual, plus rounding).
    * rank-deficient path: value is exactly 0 and ``|<xi, z_i>| <= tol`` for every
      support vector (xi orthogonal to all of them, so ``h(xi) = 0``).
    * d = 1: the value is +inf; nothing else to check.

    Returns the :class:`ThetaCertificate`; raises :class:`CertificateError`
    naming every failing residual otherwise.
    """
    z = _as_z(z)
    n, d = z.shape
    if th.method == "d=1":
        if d != 1 or th.value != math.inf:
            raise CertificateError(
                f"theta certificate: method 'd=1' with d = {d}, value {th.value}"
            )
        return ThetaCertificate({}, {}, 0.0, "")
    s = np.asarray(mm.support, dtype=np.intp)
    ubar = np.asarray(mm.ubar, dtype=np.float64)
    u = np.asarray(th.basis, dtype=np.float64)
    if u.shape != (d, d - 1):
        raise CertificateError(f"theta certificate: basis shape {u.shape}, expected {(d, d - 1)}")
    rho = float(np.max(np.linalg.norm(z[s], axis=1)))
    tol = theta_tolerance(z, mm, th)
    res: dict[str, float] = {}
    tols: dict[str, float] = {}

    def put(name: str, value: float, allowed: float) -> None:
        res[name] = float(value)
        tols[name] = float(allowed)

    put("basis_orthonormal", np.max(np.abs(u.T @ u - np.eye(d - 1))), 4 * d * EPS)
    put("basis_perp_ubar", np.max(np.abs(u.T @ ubar)), 4 * d * EPS)
    xi = np.asarray(th.xi, dtype=np.float64)
    put("xi_unit", abs(float(np.linalg.norm(xi)) - 1.0), (d + 3) * EPS)
    put("xi_perp_ubar", abs(float(xi @ ubar)), 4 * d * EPS)
    h = h_support(xi, z, s)
    put("witness_gap", abs(h - th.value), tol)
    bary = u.T @ (z[s].T @ np.asarray(mm.dual, dtype=np.float64)[s])
    put(
        "kkt_barycentre",
        float(np.linalg.norm(bary)),
        mm.gamma * abs(mm.certificate.kkt_stationarity) + 2 * (n + d + 2) * EPS * rho,
    )

    if th.method == "rank-deficient":
        put("value_is_zero", abs(th.value), 0.0)
        put("null_witness", float(np.max(np.abs(z[s] @ xi))), tol)
    else:
        pts = z[s] @ u
        normals = np.asarray(th.normals, dtype=np.float64)
        offsets = np.asarray(th.offsets, dtype=np.float64)
        fv = np.asarray(th.facet_vertices, dtype=np.intp)
        if normals.ndim != 2 or normals.shape[0] == 0 or normals.shape[1] != d - 1:
            raise CertificateError(f"theta certificate: no usable facets ({normals.shape})")
        put("normal_unit", np.max(np.abs(np.linalg.norm(normals, axis=1) - 1.0)), 4 * d * EPS)
        put("facet_violation", max(0.0, float(np.max(pts @ normals.T - offsets))), tol)
        in_s = np.isin(fv, s)
        put("facet_vertex_not_support", float(np.sum(~in_s)), 0.0)
        on = np.einsum("kvj,kj->kv", z[fv] @ u, normals) - offsets[:, None]
        put("facet_vertex_offset", float(np.max(np.abs(on))), tol)
        put("value_above_nearest_facet", max(0.0, th.value - float(np.min(offsets))), tol)
        if th.method == "hull":
            ridges = Counter(
                frozenset(r)
                for row in fv.tolist()
                for r in itertools.combinations(sorted(row), len(row) - 1)
            )
            put("open_ridges", float(sum(1 for c in ridges.values() if c != 2)), 0.0)
        elif th.method == "simplex":
            sets = {frozenset(row) for row in fv.tolist()}
            expected = {frozenset(set(s.tolist()) - {i}) for i in s.tolist()}
            put("facets_not_simplex", float(len(sets ^ expected)), 0.0)
            lam = np.asarray(th.barycentric, dtype=np.float64)
            b = np.vstack([pts.T, np.ones((1, d))])
            ln = float(np.linalg.norm(lam))
            bnorm = float(np.linalg.norm(b))
            rhs = np.zeros(d)
            rhs[-1] = 1.0
            put(
                "barycentric_residual",
                float(np.max(np.abs(b @ lam - rhs))),
                8 * d * EPS * bnorm * ln,
            )
            put(
                "barycentric_negative",
                max(0.0, -float(np.min(lam))),
                8 * d * EPS * float(np.linalg.cond(b)) * ln,
            )
        elif th.method == "interval":
            col = pts[:, 0]
            put(
                "interval_ends",
                float(np.max(np.abs(np.sort(offsets) - np.sort([col.max(), -col.min()])))),
                tol,
            )

    ratios = {
        k: (res[k] / tols[k] if tols[k] > 0 else (0.0 if res[k] == 0 else math.inf)) for k in res
    }
    worst = max(ratios, key=lambda k: ratios[k])
    failing = [k for k, r in ratios.items() if not r <= 1.0]
    if failing:
        listing = ", ".join(f"{k}={res[k]:.3e} (allowed {tols[k]:.3e})" for k in failing)
        raise CertificateError(
            f"theta certificate failed ({th.method} path, value {th.value!r}): {listing}. The "
            "Theta does not belong to these data and this max-margin solution (wrong support "
            "set, wrong ubar, or a wrong facet computation); recompute it with theta(z, mm)."
        )
    return ThetaCertificate(res, tols, float(ratios[worst]), worst)


# --- Lemma 4 -------------------------------------------------------------------------------------


def _loss(loss: Loss | str) -> Loss:
    return get_loss(loss) if isinstance(loss, str) else loss


def lemma4_threshold(loss: Loss | str, n: int, theta_value: float) -> float:
    """K of Lemma 4 (S-L4) as printed in STATEMENTS.md.

    ``K = (1 + ln n) / theta`` for the exponential loss and ``K = 2 n / (e theta)``
    for the logistic loss.  ``theta = +inf`` (d = 1) gives 0.0 (the lemma is
    vacuous); ``theta <= 0`` (A3 fails) gives ``+inf`` (the lemma says nothing).
    Other losses raise ValueError: the lemma covers only these two.
    """
    loss = _loss(loss)
    if n < 1:
        raise ValueError(f"n = {n}; it must be >= 1.")
    t = float(theta_value)
    if math.isnan(t):
        raise ValueError("theta is NaN.")
    if t <= 0:
        return math.inf
    if loss.name == EXPONENTIAL.name:
        return (1.0 + math.log(n)) / t
    if loss.name == LOGISTIC.name:
        return 2.0 * n / (math.e * t)
    raise ValueError(f"Lemma 4 covers only the exponential and logistic losses, not {loss.name!r}.")


_SPLIT = 134217729.0  # 2^27 + 1, Veltkamp's splitter for float64


def _two_prod(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _two_sum(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error-free sum (Knuth): ``a + b = s + e`` exactly."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, e


def _margins_dd(z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``z @ w`` as a double-double ``hi + lo`` (Ogita-Rump-Oishi Dot2), scaled safely.

    The result is as accurate as if computed in twice the working precision:
    ``|hi + lo - <z_i, w>| <= eps^2 |<z_i, w>| + gamma_{2d}^2 sum_j |z_ij w_j|``
    (Ogita, Rump & Oishi 2005, Prop. 5.5 / Thm. 5.3), ``~ 1e-31 * ||w||``.
    ``w`` is scaled by a power of two first (exact) so that the splitting
    cannot overflow; the result is scaled back exactly.
    """
    big = float(np.max(np.abs(w)))
    k = int(np.frexp(big)[1]) if big > 0 else 0
    ws = np.ldexp(w, -k)
    p, s = _two_prod(z[:, 0], np.full(z.shape[0], ws[0]))
    for j in range(1, z.shape[1]):
        h, r = _two_prod(z[:, j], np.full(z.shape[0], ws[j]))
        p, q = _two_sum(p, h)
        s = s + (q + r)
    hi = p + s
    lo = s - (hi - p)
    return np.ldexp(hi, k), np.ldexp(lo, k)


def _lse(t: np.ndarray, axis: int = -1) -> np.ndarray:
    """``log sum exp`` over ``axis`` with -inf entries allowed; all -inf gives -inf, no warnings."""
    mx = np.max(t, axis=axis, keepdims=True)
    safe = np.where(np.isfinite(mx), mx, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(t - safe), axis=axis, keepdims=True)) + safe
    out = np.where(np.isfinite(mx), out, mx)
    return np.squeeze(out, axis=axis)


def _shifted_log_neg_d1(loss: Loss, dm: np.ndarray, m: np.ndarray, shift: float) -> np.ndarray:
    """``log|loss'(m_i)| + shift``, accurate when the margins share a huge common part.

    ``dm = m - shift`` is supplied accurately (double-double difference).
    Exponential: ``log|loss'(m)| = -m``, so the value is ``-dm`` (exact).
    Logistic: ``log|loss'(m)| = -softplus(m)``; with ``shift = m_min >= 0`` every
    ``m >= 0`` and ``softplus(m) = m + log1p(exp(-m))``, so the value is
    ``-dm - log1p(exp(-m))``; with ``shift = 0`` the Loss's own log form is
    used.  Any other loss: its log form (then accurate to the rounding of m).
    """
    if loss.name == EXPONENTIAL.name:
        return -dm
    if loss.name == LOGISTIC.name and shift > 0:
        return -dm - np.log1p(np.exp(-m))
    return np.asarray(loss.log_neg_d1(m), dtype=np.float64) + shift


def perp_gradient_sign(w: np.ndarray, z: np.ndarray, ubar: np.ndarray, loss: Loss | str) -> float:
    """Log-domain sign margin of ``<w_perp, grad R(w)>`` (S-L4); >= 0 iff the sign condition holds.

    ``grad R(w) = (1/n) sum_i loss'(m_i) z_i`` with ``m_i = <w, z_i>`` and
    ``loss' < 0``.  With ``c_i = <w_perp, z_i>``::

        n <w_perp, grad R(w)> = N - P,
        N = sum_{c_i < 0} |loss'(m_i)| |c_i|,   P = sum_{c_i > 0} |loss'(m_i)| |c_i|,

    so the condition ``<w_perp, grad R> >= 0`` is ``log N >= log P``.  Returned:
    ``log N - log P = LSE_{c_i<0}(log|loss'(m_i)| + log|c_i|) - LSE_{c_i>0}(...)``.

    Conventions: ``+inf`` when no ``c_i > 0`` but some ``c_i < 0`` (strictly
    positive product); ``-inf`` when no ``c_i < 0`` but some ``c_i > 0``;
    ``0.0`` when every ``c_i = 0`` (``w_perp = 0``, in particular d = 1: the
    product is exactly 0 and the condition holds with equality), and also when
    ``||w_perp|| <= 4 (d + 2) eps ||w||``: below that, the computed ``w_perp``
    is the rounding residue of removing ``<w, ubar> ubar`` (see
    :func:`~invariants.core.maxmargin.perp`), its direction is noise, and ``w`` is
    parallel to ubar as far as float64 can tell.  NaN is never returned;
    non-finite input raises :class:`NonFiniteError`.

    Accuracy (no overflow for any finite w).  The margins are formed in
    double-double (:func:`_margins_dd`) and shifted by the smallest one, so
    the exponents ``log|loss'(m_i)|`` are accurate to ``~ eps |m_i - m_min|``
    rather than ``eps |m_i|`` (at ``||w|| = 1e13`` a plain dot product would
    err by ~1e-2 in every exponent).  ``w_perp`` is :func:`~invariants.core.maxmargin.perp`
    (two Gram-Schmidt passes), so each ``c_i`` carries an absolute error
    ``~ (d + 2) eps ||w|| ||z_i||``: the returned value is exact to about
    ``max_i (d + 2) eps ||w|| ||z_i|| / |c_i|`` plus a few eps times the
    largest exponent difference — about 1e-5 at ``||w|| = 1e13`` with
    ``|c_i| ~ 1``, far below any sign margin the tests rely on.
    """
    loss = _loss(loss)
    z = _as_z(z)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (z.shape[1],):
        raise ShapeError(f"w has shape {w.shape}; it must be ({z.shape[1]},) to match z.")
    if not np.all(np.isfinite(w)):
        raise NonFiniteError("w contains NaN or inf; the sign condition is undefined.")
    wp = perp(w, ubar)
    d = w.size
    big = float(np.max(np.abs(w)))
    if big > 0:  # norms at unit scale (exact power-of-two scaling): no overflow
        k = int(np.frexp(big)[1])
        if np.linalg.norm(np.ldexp(wp, -k)) <= 4 * (d + 2) * EPS * np.linalg.norm(np.ldexp(w, -k)):
            return 0.0
    c = z @ wp
    neg, pos = c < 0, c > 0
    if not neg.any() and not pos.any():
        return 0.0
    if not pos.any():
        return math.inf
    if not neg.any():
        return -math.inf
    hi, lo = _margins_dd(z, w)
    k = int(np.argmin(hi))
    dm = (hi - hi[k]) + (lo - lo[k])
    m = hi + lo
    shift = float(m[k])
    if loss.name == LOGISTIC.name and not shift > 0:
        shift = 0.0
    t = _shifted_log_neg_d1(loss, dm, m, shift)
    logc = np.log(np.where(c != 0, np.abs(c), 1.0))
    terms = t + logc
    return float(_lse(terms[neg]) - _lse(terms[pos]))


# --- the empirical threshold -----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class L4Search:
    """Result of :func:`l4_empirical_threshold` (S-L4); compared by identity.

    Attributes
    ----------
    K
        The printed threshold (:func:`lemma4_threshold`).
    K_emp
        ``||w_perp||`` of the witness: the largest failing ``||w_perp||`` the
        search found (0.0 if it found no failure at all).
    ratio
        ``K / K_emp`` (inf if K_emp = 0): how loose K is on these data.
    witness_a, witness_r, witness_xi, witness_w
        The witness ``w = a ubar + r xi`` (``a >= 0``, ``xi`` unit perp ubar),
        None when nothing failed.
    witness_sign
        :func:`perp_gradient_sign` at the witness (< 0), re-checked.
    r_max
        The top of the r range searched (``r_span[1] * K``); a witness at
        ``r_max`` means the failure region reaches at least that far.
    a_limit
        The largest a on the grid: large enough that only the support vectors
        matter (the ``a -> inf`` limit), to float64 accuracy.
    evaluations
        Number of (a, r, xi) sign evaluations made.
    loss
        The loss's name.
    source
        Which candidate family the witness came from.
    """

    K: float
    K_emp: float
    ratio: float
    witness_a: float | None
    witness_r: float | None
    witness_xi: np.ndarray | None
    witness_w: np.ndarray | None
    witness_sign: float | None
    r_max: float
    a_limit: float
    evaluations: int
    loss: str
    source: str

    @property
    def exceeded(self) -> bool:
        """True when a failure was found at ``||w_perp|| > K`` (Lemma 4 violated)."""
        return self.K_emp > self.K


class _Evaluator:
    """Vectorised sign margin for ``w = a ubar + r xi`` (same formula as perp_gradient_sign).

    For ``xi perp ubar`` (unit), ``m_i = a g_i + r s_i`` with ``g = Z ubar`` and
    ``s_i = <xi, z_i>``, and ``c_i = r s_i``; the factor ``log r`` is common to
    both sides and cancels, so the margin is
    ``LSE_{s<0}(log|loss'(m_i)| + log|s_i|) - LSE_{s>0}(...)``.  Used for the
    search only (magnitudes there stay below ~1e9, where plain float64 margins
    are accurate to ~1e-7); witnesses are re-checked with :func:`perp_gradient_sign`.
    """

    def __init__(self, z: np.ndarray, ubar: np.ndarray, basis: np.ndarray, loss: Loss) -> None:
        self.z = z
        self.g = z @ ubar
        self.zb = z @ basis  # coordinates of z_i in ubar^perp
        self.loss = loss
        self.count = 0

    def s_of(self, v: np.ndarray) -> np.ndarray:
        """``s = <xi, z_i>`` for directions given by basis coordinates v (..., D), normalised."""
        v = v / np.linalg.norm(v, axis=-1, keepdims=True)
        return v @ self.zb.T

    def margin(self, a: np.ndarray, r: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Sign margins for broadcastable a (...), r (...), s (..., n)."""
        a = np.asarray(a, dtype=np.float64)[..., None]
        r = np.asarray(r, dtype=np.float64)[..., None]
        m = a * self.g + r * s
        with np.errstate(under="ignore"):  # the Loss's own log-domain form, without overhead
            tt = self.loss.log_neg_d1_fn(m) + np.log(np.where(s != 0, np.abs(s), 1.0))
        both = _lse(np.stack([np.where(s < 0, tt, -np.inf), np.where(s > 0, tt, -np.inf)]))
        ln, lp = both[0], both[1]
        self.count += int(np.prod(tt.shape[:-1]))
        with np.errstate(invalid="ignore"):
            out = ln - lp
        return np.where(np.isneginf(ln) & np.isneginf(lp), 0.0, out)

    def last_failure(
        self, a: float, s: np.ndarray, r_grid: np.ndarray, rtol: float = 1e-10
    ) -> float:
        """The largest r with a failing sign (last sign change, refined), or 0.0.

        The grid is scanned for the last failing point; if the next grid point
        holds, the bracket is subdivided into 16 log-spaced points, again and
        again (vectorised), until its ends differ by a factor ``<= 1 + rtol``.
        The failing end of the final bracket is returned, so the value fails.
        A failure at the top of the grid returns the top.
        """
        f = self.margin(np.full(r_grid.size, a), r_grid, s[None, :])
        fail = np.flatnonzero(f < 0)
        if fail.size == 0:
            return 0.0
        j = int(fail[-1])
        if j == r_grid.size - 1:
            return float(r_grid[-1])
        lo, hi = float(r_grid[j]), float(r_grid[j + 1])
        for _ in range(40):
            if hi <= lo * (1.0 + rtol):
                break
            grid = np.exp(np.linspace(math.log(lo), math.log(hi), 18)[1:-1])
            f = self.margin(np.full(grid.size, a), grid, s[None, :])
            fail = np.flatnonzero(f < 0)
            if fail.size:
                k = int(fail[-1])
                lo = float(grid[k])
                hi = float(grid[k + 1]) if k + 1 < grid.size else hi
            else:
                hi = float(grid[0])
        return lo


def _candidate_directions(
    z: np.ndarray, basis: np.ndarray, th: Theta, n_random: int, seed: int
) -> tuple[np.ndarray, list[str]]:
    """Directions in basis coordinates (rows), both signs, with a label for each family."""
    dim = basis.shape[1]
    rows: list[np.ndarray] = []
    labels: list[str] = []

    def add(v: np.ndarray, label: str) -> None:
        v = np.asarray(v, dtype=np.float64).reshape(-1, dim)
        nv = np.linalg.norm(v, axis=1)
        keep = nv > 1e-12
        for row in v[keep] / nv[keep, None]:
            rows.extend([row, -row])
            labels.extend([label, label])

    if th.value > 0 and np.isfinite(th.value):
        add(basis.T @ th.xi, "theta minimiser")
    if th.normals.size:
        add(th.normals, "facet normals")
    pz = z @ basis
    add(pz[th.support], "projected support vectors")
    add(np.delete(pz, th.support, axis=0), "projected points")
    add(pz.mean(axis=0), "projected mean")
    rng = np.random.default_rng(seed)
    add(rng.standard_normal((n_random, dim)), "random")
    return np.array(rows), labels


def l4_empirical_threshold(
    z: np.ndarray | Dataset,
    mm: MaxMargin,
    th: Theta,
    loss: Loss | str,
    *,
    n_random: int = 32,
    seed: int = 0,
    r_span: tuple[float, float] = (1e-4, 30.0),
    n_r: int = 40,
    n_a: int = 14,
    refine: int = 3,
    maxfev: int = 100,
) -> L4Search:
    """Deterministic targeted search for the largest failing ``||w_perp||`` (S-L4): K_emp.

    Parametrisation ``w = a ubar + r xi``, ``a >= 0``, ``xi`` unit in
    ``ubar^perp``, so ``<w, ubar> = a >= 0`` and ``||w_perp|| = r``.

    1. Directions (both signs): the theta minimiser and the other facet
       normals of ``th``, the projected support vectors, the other projected
       points, their mean, and ``n_random`` random directions (fixed seed).
    2. a on ``{0} U`` a log grid of ``n_a`` values from ``1e-2 / max_i <ubar, z_i>`` to
       ``a_limit = (745 + 2 r_max max|<xi, z_i>|) / gap``, where gap is the
       smallest margin excess ``<ubar, z_i> - gamma`` of a non-support point
       (gamma if there is none): at ``a_limit`` every non-support term is below
       ``exp(-745)`` relative to the support terms, i.e. the ``a -> inf`` limit
       in which only the support vectors matter, attained in float64.
    3. r on a log grid of ``n_r`` values over ``r_span`` times K (well beyond K);
       the last sign change is refined by repeated 16-point subdivision of
       the bracket in ``log r`` (a vectorised bisection) to relative 1e-10.
    4. The ``2 refine`` directions with the largest failing r are rescored
       with ``a`` maximised over a 4x finer a-grid (the failure region can
       have several maxima in a, e.g. at 0 and near the limit) and the sign
       change interpolated in ``log r``; the ``refine`` best are polished by
       Nelder-Mead over ``xi ~ U v`` (``maxfev`` evaluations each), a staying
       maximised inside the objective.  Finally a is refined by a bounded
       scalar search on ``log a`` between the neighbouring grid values.
    5. The best witness is rebuilt as a float vector w and re-checked with
       :func:`perp_gradient_sign` (it must fail; r is nudged down to the
       failing side if rounding at the boundary disagrees).

    Everything is deterministic (fixed seed, no wall-clock limits).  d = 1 is
    vacuous (no perpendicular direction): K_emp = 0.
    """
    loss = _loss(loss)
    z = _as_z(z)
    n, d = z.shape
    K = lemma4_threshold(loss, n, th.value)
    if d == 1 or not (th.value > 0 and math.isfinite(th.value)):
        return L4Search(
            K, 0.0, math.inf, None, None, None, None, None, 0.0, 0.0, 0, loss.name, "none"
        )
    basis = np.asarray(th.basis, dtype=np.float64)
    ubar = np.asarray(mm.ubar, dtype=np.float64)
    ev = _Evaluator(z, ubar, basis, loss)
    dirs, labels = _candidate_directions(z, basis, th, n_random, seed)
    s_all = ev.s_of(dirs)  # (m, n)

    r_grid = K * np.geomspace(r_span[0], r_span[1], n_r)
    r_max = float(r_grid[-1])
    g = ev.g
    off = np.setdiff1d(np.arange(n), th.support)
    gap = float(np.min(g[off] - mm.gamma)) if off.size else mm.gamma
    gap = max(gap, mm.gamma * 1e-6)
    a_lo = 1e-2 / float(np.max(g))
    smax = float(np.max(np.linalg.norm(ev.zb, axis=1)))  # >= every |<xi, z_i>|
    a_limit = (745.0 + 2.0 * r_max * smax) / gap
    a_grid = np.concatenate([[0.0], np.geomspace(a_lo, a_limit, n_a)])

    # Grid: f[a, dir, r]; last failing r per (a, dir).
    best_r = np.zeros((a_grid.size, dirs.shape[0]))
    for ia, a in enumerate(a_grid):
        f = ev.margin(np.full((dirs.shape[0], r_grid.size), a), r_grid[None, :], s_all[:, None, :])
        fail = f < 0
        any_fail = fail.any(axis=1)
        last = np.where(any_fail, r_grid.size - 1 - np.argmax(fail[:, ::-1], axis=1), -1)
        best_r[ia] = np.where(last >= 0, r_grid[np.maximum(last, 0)], 0.0)

    # The failure region can have several maxima in a (e.g. at a = 0 and near the
    # a -> inf limit), so from here on a is scanned, for each direction, over a
    # fine grid, and the sign change of the best a is interpolated in log r.
    a_fine = np.concatenate([[0.0], np.geomspace(a_lo, a_limit, 4 * n_a)])
    coarse = K * np.geomspace(r_span[0], r_span[1], 24)
    log_coarse = np.log(coarse)

    def best_over_a(s: np.ndarray) -> tuple[float, float]:
        """(log of the estimated last failing r, its a), maximised over the fine a-grid."""
        f = ev.margin(a_fine[:, None], coarse[None, :], s[None, None, :])
        fail = f < 0
        last = coarse.size - 1 - np.argmax(fail[:, ::-1], axis=1)
        est = np.full(a_fine.size, -np.inf)
        top = fail.any(axis=1) & (last == coarse.size - 1)
        est[top] = log_coarse[-1]
        mid = fail.any(axis=1) & (last < coarse.size - 1)
        rows = np.flatnonzero(mid)
        jj = last[rows]
        f0, f1 = f[rows, jj], f[rows, jj + 1]  # f0 < 0 <= f1: linear interpolation
        frac = np.where(np.isfinite(f1 - f0) & (f1 > f0), -f0 / (f1 - f0), 0.0)
        est[rows] = log_coarse[jj] + np.clip(frac, 0.0, 1.0) * (log_coarse[jj + 1] - log_coarse[jj])
        i = int(np.argmax(est))
        return float(est[i]), float(a_fine[i])

    def objective(v: np.ndarray) -> float:
        if not np.linalg.norm(v) > 0:
            return 50.0
        est, _ = best_over_a(ev.s_of(v))
        return -(est - math.log(K)) if np.isfinite(est) else 50.0

    # Candidates: the ``2 refine`` directions with the largest failing r on the grid,
    # rescored with the fine a-scan; the best ``refine`` are polished by Nelder-Mead
    # over xi (a stays maximised inside the objective).
    per_dir = best_r.max(axis=0)
    cands: list[tuple[float, np.ndarray, str]] = []
    for k in np.argsort(per_dir)[::-1][: 2 * refine]:
        if per_dir[k] <= 0:
            break
        cands.append((-objective(dirs[k]), dirs[k], labels[k]))
    if not cands:
        return L4Search(
            K,
            0.0,
            math.inf,
            None,
            None,
            None,
            None,
            None,
            r_max,
            a_limit,
            ev.count,
            loss.name,
            "none",
        )
    cands.sort(key=lambda c: -c[0])
    polished: list[tuple[float, np.ndarray, str]] = list(cands)
    if d - 1 >= 2:  # for d = 2 the only directions are +-xi, already candidates
        for _, v0, label in cands[:refine]:
            simplex = [v0] + [v0 + 0.25 * e for e in np.eye(v0.size)]
            res = minimize(
                objective,
                v0,
                method="Nelder-Mead",
                options={
                    "initial_simplex": np.array(simplex),
                    "maxfev": maxfev,
                    "xatol": 1e-6,
                    "fatol": 1e-9,
                },
            )
            nv = float(np.linalg.norm(res.x))
            if np.isfinite(nv) and nv > 0:
                polished.append((-float(res.fun), res.x / nv, f"{label} + Nelder-Mead"))
    polished.sort(key=lambda c: -c[0])

    # Final: refine a around the best fine-grid value (golden section on log a over
    # the neighbouring grid cells) and r to relative 1e-10.
    _, v, label = polished[0]
    sv = ev.s_of(v)
    _, a0 = best_over_a(sv)
    k0 = int(np.searchsorted(a_fine, a0))
    lo_a, hi_a = a_fine[max(k0 - 1, 0)], a_fine[min(k0 + 1, a_fine.size - 1)]
    best = (ev.last_failure(a0, sv, r_grid), a0)
    if lo_a > 0:
        res1 = minimize_scalar(
            lambda t: -ev.last_failure(math.exp(t), sv, r_grid, rtol=1e-8),
            bounds=(math.log(lo_a), math.log(hi_a)),
            method="bounded",
            options={"xatol": 1e-6},
        )
        a1 = math.exp(float(res1.x))
        r1 = ev.last_failure(a1, sv, r_grid)
        if r1 > best[0]:
            best = (r1, a1)
    r, a = best
    xi = basis @ v
    xi = xi / np.linalg.norm(xi)
    # xi is perpendicular to ubar only to ~d eps, so with a = 0 the computed
    # <w, ubar> could be -1e-17: a is raised to 8 (d + 2) eps r, which makes
    # <w, ubar> >= 0 in float64 and changes the margins by ~1e-15 r.
    a = max(a, 8.0 * (d + 2) * EPS * r)
    for _ in range(200):
        w = a * ubar + r * xi
        sign = perp_gradient_sign(w, z, ubar, loss)
        if sign < 0 and float(w @ ubar) >= 0:
            break
        r *= 1.0 - 1e-9
    else:
        raise CertificateError(
            f"l4_empirical_threshold: the witness (a={a}, r={r}) does not fail when re-checked; "
            "the vectorised and exact sign evaluations disagree. Report this bug."
        )
    k_emp = float(np.linalg.norm(perp(w, ubar)))
    _readonly(xi, w)
    return L4Search(
        K=K,
        K_emp=k_emp,
        ratio=K / k_emp if k_emp > 0 else math.inf,
        witness_a=float(a),
        witness_r=float(r),
        witness_xi=xi,
        witness_w=w,
        witness_sign=float(sign),
        r_max=r_max,
        a_limit=float(a_limit),
        evaluations=ev.count,
        loss=loss.name,
        source=label,
    )
