"""theta of Lemma 3 (S-L3), with its certificate.

Lemma 4 (S-L4), which uses theta, is in :mod:`invariants.core.lemma4`.

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

"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from ..errors import AssumptionError, CertificateError, DataError
from .data import Dataset, as_rows, readonly
from .maxmargin import MaxMargin, max_margin, perp, perp_basis
from .rounding import EPS, distance_rounding

__all__ = [
    "METHODS",
    "Theta",
    "ThetaCertificate",
    "check_theta_certificate",
    "h_support",
    "rank_tolerance",
    "require_a3",
    "theta",
    "theta_tolerance",
]


#: What :func:`theta` can report in ``Theta.method``.
METHODS: tuple[str, ...] = ("simplex", "hull", "interval", "rank-deficient", "d=1")


# --- small helpers ------------------------------------------------------------------------------


def h_support(xi: np.ndarray, z: np.ndarray, support: np.ndarray) -> float:
    """``h(xi) = max_{i in S} <xi, z_i>`` (S-L3): the support function of the support vectors."""
    z = np.asarray(z, dtype=np.float64)
    return float(np.max(z[np.asarray(support, dtype=np.intp)] @ np.asarray(xi, dtype=np.float64)))


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
    bound, as in ``invariants.core.rounding.svd_error``); and data that are rank
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
    readonly(xi, pts, th.normals, th.offsets, th.facet_vertices)
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
    z = as_rows(data_or_z)
    if mm is None:
        mm = max_margin(z)
    d = z.shape[1]
    if method not in ("auto", "simplex", "hull", "interval"):
        raise ValueError(f"method={method!r}; use 'auto', 'simplex', 'hull' or 'interval'.")
    support = np.array(mm.support, dtype=np.intp)
    readonly(support)
    basis = perp_basis(mm.ubar)
    readonly(basis)
    if d == 1:
        xi = np.zeros(1)
        empty = np.zeros((0, 0))
        readonly(xi, empty)
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
            readonly(a)
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
        return 16.0 * distance_rounding(th.points) + recheck
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
    z = as_rows(z)
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


def support_radius(z: np.ndarray, mm: MaxMargin) -> float:
    """``rho = max_{i in S} ||z_i||``, the length scale of every rounding bound here."""
    s = np.asarray(mm.support, dtype=np.intp)
    return float(np.max(np.linalg.norm(np.asarray(z)[s], axis=1)))


def theta_forward_tolerance(z: np.ndarray, mm: MaxMargin, th: Theta) -> float:
    """Bound on ``|theta_computed - theta_exact|`` for the given ``(z, ubar, S)``.

    Simplex path: the computed ``B^{-1}`` is, row by row, the exact inverse of
    a matrix whose columns (the vertices) are moved by ``<= 8 d eps ||B||_F``
    (backward stability, see :func:`invariants.core.theta.theta_tolerance`).  Moving
    the vertices of a facet by delta moves its distance from the origin by at
    most ``delta (1 + diam / width)``: delta at the vertices, plus the tilt
    ``delta / width`` of the hyperplane times the lever arm ``<= diam``; and
    ``diam / width <= cond(B)``.  So ``8 d eps ||B||_F (1 + cond(B))``, plus
    the facet-offset tolerance itself.  Hull / interval paths: 16 Qhull
    distance-rounding units (:func:`invariants.core.theta.distance_rounding`), as in the
    certificate.  Both plus ``2 (d + 2) eps rho`` for a recomputed
    ``<xi, z_i>``.
    """
    d = np.asarray(z).shape[1]
    base = theta_tolerance(z, mm, th)
    if th.method == "simplex":
        bnorm = math.sqrt(float(np.sum(np.asarray(th.points) ** 2)) + d)
        return base + 8.0 * d * EPS * bnorm * (1.0 + th.cond)
    if th.method in ("hull", "interval"):
        return base + 16.0 * distance_rounding(np.asarray(th.points))
    return base
