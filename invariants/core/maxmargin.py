"""Hard-margin SVM through the origin (no bias), with an optimality certificate.

For rows z_i of Z (n x d)::

    gamma = max_{||u|| = 1} min_i <u, z_i> = min_{p in conv{z_i}} ||p||,   ubar = p*/||p*||

(the paper's notation).  The two problems are each other's duals; the
minimum-norm point ``p* = Z^T mu`` of the convex hull carries the dual weights
``mu`` (``mu >= 0``, ``sum mu = 1``), positive only on support vectors
``S = {i : <ubar, z_i> = gamma}``.

:func:`max_margin` never returns an answer it has not certified: the final
``(ubar, gamma, dual)`` must pass :func:`check_certificate` (every relative
residual <= ``tol``, default 1e-12) or :class:`CertificateError` is raised.

What a passing certificate proves.  For any unit u and any probability vector
mu, weak duality gives ``min_i <u, z_i> <= gamma_true <= ||Z^T mu||``; so the
duality gap bounds the error of gamma relatively by ``gap + infeasibility``.
The direction is determined less sharply (an objective gap delta moves the
argument by ``sqrt(2 delta)``): ``||ubar - ubar_true|| <= sqrt(2 (gap + infeas))``
~ 1.4e-6 in the worst case allowed by tol = 1e-12, although the measured
errors are at rounding level (~1e-15) on every test case.

Statements served: the paper's notation (gamma, ubar, S) used by
S-L3, S-L4, S-T2, S-T4 and S-FIG1a; :func:`sin_angle` is the direction
measure, never ``1 - cos`` (docs/numerics.md, "Measuring directions").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls

from ..errors import CertificateError, DataError, NonFiniteError, NonSeparableError, ShapeError
from .data import (
    Dataset,
    non_separable_message,
    scale_by_power_of_two,
    separability_certificate,
)
from .rounding import EPS

__all__ = [
    "MaxMargin",
    "MaxMarginCertificate",
    "check_certificate",
    "max_margin",
    "perp",
    "perp_basis",
    "rounding_floor",
    "sin_angle",
    "support_tolerance",
]


# --- certificate ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaxMarginCertificate:
    """Residuals of the optimality conditions of ``(ubar, gamma, dual)``.

    All are relative to gamma where a scale is needed, and all are 0 in exact
    arithmetic at the optimum.  With ``m_i = <ubar, z_i>``:

    - ``duality_gap_rel = (||Z^T dual|| - min_i m_i) / gamma`` (signed; weak
      duality makes it >= 0 up to rounding, its absolute value is checked);
    - ``primal_infeas = max(0, gamma - min_i m_i) / gamma``;
    - ``kkt_stationarity = ||Z^T dual - gamma ubar|| / gamma``;
    - ``complementary_slackness = max_i dual_i |m_i - gamma| / gamma``;
    - ``dual_feas = max(max_i max(0, -dual_i), |sum(dual) - 1|)``;
    - ``unit_norm = | ||ubar|| - 1 |``;
    - ``max_residual``: the largest of the above (``|duality_gap_rel|``).
    """

    duality_gap_rel: float
    primal_infeas: float
    kkt_stationarity: float
    complementary_slackness: float
    dual_feas: float
    unit_norm: float
    max_residual: float

    def as_dict(self) -> dict[str, float]:
        """The residuals by name."""
        return {
            "duality_gap_rel": self.duality_gap_rel,
            "primal_infeas": self.primal_infeas,
            "kkt_stationarity": self.kkt_stationarity,
            "complementary_slackness": self.complementary_slackness,
            "dual_feas": self.dual_feas,
            "unit_norm": self.unit_norm,
        }


def _check_tol(tol: float) -> float:
    tol = float(tol)
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol = {tol!r}; it must be a finite number > 0 (default 1e-12).")
    return tol


def _as_z(data: Dataset | np.ndarray) -> np.ndarray:
    if isinstance(data, Dataset):
        return np.asarray(data.z, dtype=np.float64)
    z = np.asarray(data, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        hint = " Reshape to (n, 1) for scalar inputs." if z.ndim == 1 else ""
        raise ShapeError(
            f"z has shape {z.shape}; max_margin needs a Dataset or a 2-D array (n, d) of rows "
            f"z_i = y_i x_i with n >= 1 and d >= 1.{hint}"
        )
    bad = ~np.isfinite(z)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise NonFiniteError(
            f"z[{i}, {j}] = {z[i, j]}: the data must be finite; remove point {i} or repair it."
        )
    return z


def rounding_floor(z: np.ndarray, gamma: float) -> float:
    """``4 (d + 2) eps max_i ||z_i|| / gamma``: the relative accuracy float64 allows.

    Margins ``<ubar, z_i>`` of even the correctly rounded ubar carry an
    absolute rounding error of about ``(d + 2) eps ||z_i||`` (rounding of ubar,
    plus a d-term dot product), i.e. a relative error ``~ eps max||z_i|| / gamma``.
    A certificate tolerance below this floor cannot be met; the default 1e-12
    needs ``gamma >~ 1e-3 max||z_i||``.
    """
    z = np.asarray(z, dtype=np.float64)
    d = z.shape[1]
    return 4.0 * (d + 2) * EPS * float(np.max(np.linalg.norm(z, axis=1))) / float(gamma)


def _residuals(
    z: np.ndarray, ubar: np.ndarray, gamma: float, dual: np.ndarray
) -> MaxMarginCertificate:
    """The certificate's residuals, without validation or raising (see the class doc)."""
    margins = z @ ubar
    m_min = float(margins.min())
    p = z.T @ dual
    gap = (float(np.linalg.norm(p)) - m_min) / gamma
    infeas = max(0.0, gamma - m_min) / gamma
    stat = float(np.linalg.norm(p - gamma * ubar)) / gamma
    cs = float(np.max(dual * np.abs(margins - gamma))) / gamma
    dfeas = max(float(np.max(np.maximum(-dual, 0.0))), abs(float(dual.sum()) - 1.0))
    unit = abs(float(np.linalg.norm(ubar)) - 1.0)
    worst = max(abs(gap), infeas, stat, cs, dfeas, unit)
    return MaxMarginCertificate(gap, infeas, stat, cs, dfeas, unit, worst)


def check_certificate(
    z: np.ndarray,
    ubar: np.ndarray,
    gamma: float,
    dual: np.ndarray,
    tol: float = 1e-12,
) -> MaxMarginCertificate:
    """Check that ``(ubar, gamma, dual)`` is the max-margin solution of rows ``z``.

    Returns the :class:`MaxMarginCertificate` when every residual is
    ``<= tol``; raises :class:`CertificateError` naming the failing residuals
    otherwise (also when gamma is not a positive finite number or an input is
    non-finite).  Shapes inconsistent with ``z`` raise :class:`ShapeError`.
    This is the checker :func:`max_margin` applies to its own answer.
    """
    tol = _check_tol(tol)
    z = _as_z(z)
    n, d = z.shape
    ubar = np.asarray(ubar, dtype=np.float64)
    dual = np.asarray(dual, dtype=np.float64)
    if ubar.shape != (d,):
        raise ShapeError(f"ubar has shape {ubar.shape}; it must be ({d},) to match z {z.shape}.")
    if dual.shape != (n,):
        raise ShapeError(f"dual has shape {dual.shape}; it must be ({n},) to match z {z.shape}.")
    gamma = float(gamma)
    if not (np.isfinite(gamma) and gamma > 0):
        raise CertificateError(
            f"gamma = {gamma!r} is not a positive finite number, so it cannot be the margin of "
            "separable data. Do not use this answer; recompute it with max_margin()."
        )
    for name, arr in (("ubar", ubar), ("dual", dual)):
        if not np.all(np.isfinite(arr)):
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise CertificateError(
                f"{name}[{i}] = {arr[i]} is not finite; the answer is invalid. Do not use it; "
                "recompute it with max_margin()."
            )

    # Every residual is invariant under z -> 2^-k z, gamma -> 2^-k gamma (exact).
    z, k_scale = scale_by_power_of_two(z)
    gamma_in, gamma = gamma, float(np.ldexp(gamma, -k_scale))
    cert = _residuals(z, ubar, gamma, dual)
    worst = cert.max_residual
    if not worst <= tol:
        failing = {k: v for k, v in cert.as_dict().items() if abs(v) > tol}
        listing = ", ".join(f"{k}={v:.3e}" for k, v in cert.as_dict().items())
        m_min_in = float(np.ldexp(float(np.min(z @ ubar)), k_scale))
        floor = rounding_floor(z, gamma)
        floor_note = (
            f" The rounding floor of float64 for these data, 4 (d + 2) eps max||z_i|| / gamma = "
            f"{floor:.1e}, is {'above' if floor > tol else 'close to'} tol: the margin is tiny "
            f"relative to the data, so no float64 answer can do much better; pass "
            f"tol >= {100 * floor:.0e} if that accuracy suffices."
            if floor > tol / 100
            else ""
        )
        raise CertificateError(
            f"max-margin certificate failed (tol={tol:.1e}): "
            + ", ".join(f"{k}={v:.3e} > tol" for k, v in failing.items())
            + f". All residuals: {listing}. gamma={gamma_in!r}, min_i <ubar, z_i> = "
            f"{m_min_in!r}, "
            f"n={n}, d={d}. The answer is not the max-margin solution to the required accuracy: "
            "do not use it. If it came from max_margin(), the data are probably nearly "
            "degenerate (gamma tiny relative to max ||z_i||, or nearly affinely dependent "
            "support vectors); rescale or deduplicate the data, or pass a looser tol if that "
            "accuracy suffices." + floor_note
        )
    return cert


# --- solver ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MaxMargin:
    """The certified max-margin solution (immutable; its arrays are read-only).

    ``eq=False``: instances compare by identity (array fields make field-wise
    ``==`` ambiguous); compare ``gamma`` / ``ubar`` explicitly.

    Attributes
    ----------
    ubar
        (d,) unit max-margin direction.
    gamma
        The margin ``min_i <ubar, z_i>`` (= distance from 0 to conv{z_i}).
    support
        Sorted indices of S: points whose margin is within the support
        tolerance of gamma (see :func:`max_margin`), plus every point with a
        positive dual weight.
    dual
        (n,) convex weights of the minimum-norm point: ``dual >= 0``,
        ``sum = 1``, ``Z^T dual = gamma ubar``, zero off the support.  Unique
        when the support vectors are affinely independent; otherwise one valid
        choice.
    certificate
        The :class:`MaxMarginCertificate` that the answer passed.
    margins
        (n,) ``Z ubar``.
    """

    ubar: np.ndarray
    gamma: float
    support: np.ndarray
    dual: np.ndarray
    certificate: MaxMarginCertificate
    margins: np.ndarray


def _affine_min_norm(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-norm point of the affine hull of the rows of ``a`` (k x d).

    Writes ``p = a_0 + sum_{i>=1} beta_i (a_i - a_0)`` and solves the least
    squares problem ``min ||a_0 + M beta||`` (M = columns ``a_i - a_0``) by
    ``lstsq`` (SVD; minimum-norm beta if the rows are affinely dependent),
    with one step of iterative refinement.  Returns the affine weights alpha
    (``sum alpha = 1``, ``a^T alpha = p``) and p.
    """
    k = a.shape[0]
    if k == 1:
        return np.ones(1), a[0].copy()
    ref = a[0]
    m = (a[1:] - ref).T
    beta = np.linalg.lstsq(m, -ref, rcond=None)[0]
    p = ref + m @ beta
    beta = beta + np.linalg.lstsq(m, -p, rcond=None)[0]
    p = ref + m @ beta
    alpha = np.concatenate([[1.0 - beta.sum()], beta])
    return alpha, p


def _primal_on_support(zc: np.ndarray) -> np.ndarray:
    """``u = argmin ||u|| s.t. <u, z_i> = 1`` on the support rows ``zc``, by SVD least squares.

    This is the LDP primal restricted to the support (``u = ubar / gamma``).
    Solving the equalities directly is backward stable: each
    ``|<u, z_i> - 1| <~ eps ||z_i|| ||u||``, i.e. the support margins agree to
    ``eps max||z_i|| / gamma`` relatively, the best float64 allows.  Reading
    ubar off the minimum-norm point ``p`` instead would do worse: p carries an
    absolute error ``~ eps max||z_i||`` across the affine hull, so ubar has a
    relative error ``eps max||z_i|| / gamma`` and the margins one of
    ``eps max||z_i||^2 / gamma^2``, which fails a 1e-12 certificate once gamma
    is below ~1e-2.  One step of iterative refinement.
    """
    ones = np.ones(zc.shape[0])
    u = np.linalg.lstsq(zc, ones, rcond=None)[0]
    u = u + np.linalg.lstsq(zc, ones - zc @ u, rcond=None)[0]
    return u


def _fit_dual(zc: np.ndarray, ubar: np.ndarray, gamma: float) -> np.ndarray | None:
    """Convex weights mu >= 0 with ``zc^T mu ~ gamma ubar``, by NNLS (normalised to sum 1).

    Rows are scaled so both conditions are relative: ``[zc^T / gamma; 1^T] mu ~ [ubar; 1]``.
    """
    k, d = zc.shape
    e = np.vstack([zc.T / gamma, np.ones((1, k))])
    f = np.concatenate([ubar, [1.0]])
    try:
        mu = nnls(e, f, maxiter=50 * (k + d + 1))[0]
    except RuntimeError:
        return None
    s = float(mu.sum())
    return mu / s if s > 0 else None


def _best_candidate(
    zs: np.ndarray, corral: list[int], w: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, float, np.ndarray]:
    """Pick the best certified (ubar, gamma, dual) from the re-solved candidates.

    Directions: from the LDP primal on the support (:func:`_primal_on_support`,
    backward-stable margins) and from the minimum-norm point p (accurate
    direction when the support is ill-conditioned, e.g. near-duplicate
    support vectors: there the primal solve's error ``cond * eps`` lies along
    the badly determined direction).  Duals: Wolfe's affine weights, and the
    NNLS fit of the weights to each direction.  All combinations are scored
    by the certificate's largest residual; the best is returned (and then
    checked against tol by the caller).

    Each is tried on the whole corral and, when Wolfe left points of weight 0
    in it, on its positive-weight part too.  Complementary slackness asks for
    ``<u, z_i> = 1`` only where the dual is positive; a zero-weight point that
    is merely *nearly* active (margin ``gamma (1 + 1e-11)``, say) makes the
    equalities inconsistent, and their least-squares compromise tilts ubar by
    far more than rounding (found by the stress profile: a certificate
    residual of 8e-12 where the correctly rounded answer has 1.5e-14).
    """
    n = zs.shape[0]
    w = w / w.sum()
    positive = w > 0
    subsets = [(list(corral), w)]
    if 0 < int(positive.sum()) < len(corral):
        subsets.append(([c for c, keep in zip(corral, positive, strict=True) if keep], w[positive]))
    npn = float(np.linalg.norm(p))
    best: tuple[float, np.ndarray, float, np.ndarray] | None = None
    for members, wolfe_weights in subsets:
        zc = zs[members]
        directions = []
        u = _primal_on_support(zc)
        nu = float(np.linalg.norm(u))
        if np.isfinite(nu) and nu > 0:
            directions.append((u / nu, 1.0 / nu))
        directions.append((p / npn, npn))
        for ubar, gamma in directions:
            ubar = ubar / np.linalg.norm(ubar)
            weights = [wolfe_weights / wolfe_weights.sum()]
            fitted = _fit_dual(zc, ubar, gamma)
            if fitted is not None:
                weights.append(fitted)
            for wc in weights:
                dual = np.zeros(n)
                dual[members] = wc
                score = _residuals(zs, ubar, gamma, dual).max_residual
                if best is None or score < best[0]:
                    best = (score, ubar, gamma, dual)
    if best is None:  # unreachable: the p-direction candidate always exists
        raise CertificateError("max_margin: no candidate solution to certify; report this bug.")
    return best[1], best[2], best[3]


def _wolfe(
    z: np.ndarray, corral: list[int], w: np.ndarray, max_iter: int
) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Wolfe's minimum-norm-point algorithm, started from a warm corral.

    ``corral`` indexes rows of z with weights ``w > 0`` (sum 1).  Minor cycles
    move to the affine minimum-norm point of the corral, dropping points whose
    weight would turn negative; a major cycle adds the most violating point
    ``argmin_i <x, z_i>`` while ``<x, z_j> < ||x||^2 - slack``.  Started from
    the NNLS solution the loop normally ends at once, having only replaced
    the NNLS point by the exactly re-solved affine minimum-norm point of the
    support set.
    """
    d = z.shape[1]
    rmax = float(np.max(np.linalg.norm(z, axis=1)))
    x = z[corral].T @ w
    for _ in range(max_iter):
        for _minor in range(len(corral) + 1):
            alpha, y = _affine_min_norm(z[corral])
            if np.all(alpha > 0):
                w, x = alpha, y
                break
            neg = np.flatnonzero(alpha <= 0)
            # A point with zero weight in both w and alpha (duplicated support
            # vectors) has denominator 0: it leaves the corral at theta = 0.
            denom = w[neg] - alpha[neg]
            ratios = np.where(denom > 0, w[neg] / np.where(denom > 0, denom, 1.0), 0.0)
            kill = neg[int(np.argmin(ratios))]
            theta = float(ratios.min())
            w = (1.0 - theta) * w + theta * alpha
            w[kill] = 0.0
            keep = w > 0
            corral = [c for c, k in zip(corral, keep, strict=True) if k]
            w = w[keep] / w[keep].sum()
            x = z[corral].T @ w
        m = z @ x
        j = int(np.argmin(m))
        xx = float(x @ x)
        slack = 4.0 * (d + 2) * EPS * np.sqrt(xx) * rmax
        if m[j] >= xx - slack or j in corral:
            break
        corral = [*corral, j]
        w = np.concatenate([w, [0.0]])
    return corral, w, x


def support_tolerance(tol: float, gamma: float, d: int, rmax: float) -> float:
    """How far above gamma a margin may lie and still count as active (the support S).

    ``max(tol gamma, 4 (d + 2) eps rmax)``: the certificate's relative accuracy, or,
    where that is below float64's resolution, the rounding of a margin ``<ubar, z_i>``
    (:func:`rounding_floor`'s ``(d + 2) eps ||z_i||`` with the same factor 4);
    ``rmax = max_i ||z_i||``.  All at the power-of-two scale of :func:`max_margin`.
    """
    return max(tol * gamma, 4.0 * (d + 2) * EPS * rmax)


def max_margin(data: Dataset | np.ndarray, *, tol: float = 1e-12) -> MaxMargin:
    """Certified hard-margin SVM through the origin.

    ``data`` is a :class:`Dataset` (its ``z`` is used) or an ``(n, d)`` array
    whose rows are the z_i themselves (any finite scale).

    Algorithm
    ---------
    0. Separability: :func:`~invariants.core.data.separability_certificate` (the
       same LP test as :func:`~invariants.core.data.make_dataset`);
       :class:`NonSeparableError` with the Gordan certificate if it fails.
       Z is scaled by a power of two (exact) so that ``max |z_ij| in [1/2, 1)``;
       gamma is scaled back at the end, exactly.

    1. Least-distance programming by NNLS (Lawson & Hanson, *Solving Least
       Squares Problems*, ch. 23).  The primal ``min ||u|| s.t. Z u >= 1`` is
       the LDP problem; its solution is ``u* = ubar / gamma``.  Let
       ``E = [Z^T ; 1^T]`` ((d+1) x n) and ``f = e_{d+1}``, and solve
       ``lam = argmin_{lam >= 0} ||E lam - f||^2`` with ``scipy.optimize.nnls``.
       Derivation: with ``s = sum(lam)`` and ``mu = lam / s`` a probability
       vector, ``||E lam - f||^2 = s^2 ||Z^T mu||^2 + (s - 1)^2``.  For fixed s
       this is minimised by the minimum-norm point of the hull,
       ``||Z^T mu|| = gamma``; then over s, ``d/ds = 2 s gamma^2 + 2 (s - 1) = 0``
       gives ``s = 1 / (1 + gamma^2)``.  So ``mu = lam / sum(lam)`` are the
       dual weights, ``p* = Z^T mu`` is the minimum-norm point,
       ``gamma = ||p*||`` and ``ubar = p*/gamma``; the LDP recipe
       ``u = -r_{1:d} / r_{d+1}`` (r = E lam - f) gives
       ``(s p*) / (1 - s) = p* / gamma^2 = ubar / gamma`` as it should.
       (Non-separable data give gamma = 0 and a zero residual; step 0 has
       already excluded them.)  gamma is read from ``||Z^T mu||``, never from
       ``(1 - s)/s``, which cancels.

    2. Exact re-solve on the support set.  NNLS returns the passive set
       ``P = {i : lam_i > 0}`` (it keeps ``E_P`` of full column rank, so the
       z_P are affinely independent).  The minimum-norm point of the hull is
       the minimum-norm point of the *affine* hull of its support, since p* is
       orthogonal to every ``z_i - z_j``, i, j in S.  That is an unconstrained
       least-squares problem (:func:`_affine_min_norm`, SVD-based, with one
       refinement step), solved afresh instead of trusting the NNLS point.
       This runs inside Wolfe's minimum-norm-point algorithm (:func:`_wolfe`)
       started at P: if NNLS got P wrong (a weight that should be 0, or a
       missed active point), the minor/major cycles repair it.  On the final
       support set C the answer is re-solved once more
       (:func:`_best_candidate`): ubar from the equalities
       ``<u, z_i> = 1, i in C`` (minimum-norm solution, backward stable, so the
       support margins agree to rounding) and from p; duals from Wolfe's
       weights and from an NNLS fit to each direction; the combination with the
       smallest certificate residual is kept.

    3. Certificate: :func:`check_certificate` on the unscaled data; every
       residual must be ``<= tol`` or :class:`CertificateError` is raised.

    Support tolerance.  ``i in S`` iff ``dual_i > 0`` or
    ``<ubar, z_i> - gamma <= max(tol * gamma, 4 (d + 2) eps max_j ||z_j||)``
    (evaluated on the scaled data):
    the certificate's own relative tolerance, floored by the rounding error of
    a d-term dot product of a unit vector with z_j.

    Attainable accuracy.  Rounding alone puts the certificate's residuals at
    about :func:`rounding_floor` ``= 4 (d + 2) eps max||z_i|| / gamma``; the
    default ``tol = 1e-12`` therefore needs ``gamma >~ 1e-3 max||z_i||``.  For
    data with a smaller relative margin :class:`CertificateError` is raised (its
    message gives the floor); pass a tol above the floor.  The direction is
    inherently ill-conditioned when support vectors nearly coincide: eps-level
    changes of the data then move ubar by ``eps / (their distance)``, and the
    certificate (correctly) cannot tell such directions apart.

    Degenerate cases: n = 1 (``ubar = z_1/||z_1||``), duplicated points,
    collinear points, n < d, d = 1, and more than d support points (the dual
    is then not unique; a valid one is returned).
    """
    tol = _check_tol(tol)
    z = _as_z(data)
    n, d = z.shape

    sep = separability_certificate(z)
    if not sep.separable:
        raise NonSeparableError(
            non_separable_message(z, sep, escape="then call max_margin again"),
            certificate=sep.certificate,
        )

    zs, k_scale = scale_by_power_of_two(z)  # exact; max |z_ij| in [1/2, 1)
    rmax_s = float(np.max(np.linalg.norm(zs, axis=1)))

    e = np.vstack([zs.T, np.ones((1, n))])
    f = np.zeros(d + 1)
    f[-1] = 1.0
    try:
        lam, _ = nnls(e, f, maxiter=50 * (n + d + 1))
    except RuntimeError:
        lam = np.zeros(n)
    if lam.sum() > 0 and np.any(lam > 0):
        corral = [int(i) for i in np.flatnonzero(lam > 0)]
        w = lam[corral] / lam[corral].sum()
    else:  # NNLS failed: Wolfe from the shortest z_i
        corral = [int(np.argmin(np.linalg.norm(zs, axis=1)))]
        w = np.ones(1)
    corral, w, p = _wolfe(zs, corral, w, max_iter=5 * (n + d) + 10)

    if not float(np.linalg.norm(p)) > 0:
        raise CertificateError(
            "max_margin: the minimum-norm point of the hull came out as 0 although the "
            "separability LP found a separating direction; the margin is below the "
            "resolution of float64 for these data. Rescale or clean the data."
        )
    ubar, gamma_s, dual = _best_candidate(zs, corral, w, p)
    gamma = float(np.ldexp(gamma_s, k_scale))

    # The certificate is asked for ``tol`` (1e-12 by default) wherever float64
    # can deliver it, and otherwise for the derived rounding floor: below it
    # no answer, however exact, could pass (see :func:`rounding_floor`).
    # (The floor is scale-free: evaluate it on the power-of-two-scaled data.)
    cert = check_certificate(z, ubar, gamma, dual, max(tol, rounding_floor(zs, gamma_s)))
    margins = z @ ubar
    margins_s = zs @ ubar
    s_tol = support_tolerance(tol, gamma_s, d, rmax_s)
    support = np.flatnonzero((margins_s - gamma_s <= s_tol) | (dual > 0)).astype(np.intp)

    ubar.setflags(write=False)
    dual.setflags(write=False)
    margins.setflags(write=False)
    support.setflags(write=False)
    return MaxMargin(ubar, gamma, support, dual, cert, margins)


# --- directions ----------------------------------------------------------------------------------


def _unit(ubar: np.ndarray, d: int) -> np.ndarray:
    ubar = np.asarray(ubar, dtype=np.float64)
    if ubar.shape != (d,):
        raise ShapeError(f"ubar has shape {ubar.shape}; it must be ({d},) to match w.")
    if not np.all(np.isfinite(ubar)):
        raise NonFiniteError(f"ubar = {ubar} is not finite; pass a finite unit vector.")
    nrm = float(np.linalg.norm(ubar))
    if not nrm > 0:
        raise DataError("ubar is the zero vector; pass the unit max-margin direction.")
    return ubar / nrm


def perp(w: np.ndarray, ubar: np.ndarray) -> np.ndarray:
    """``w_perp = w - <w, ubar> ubar`` (on the last axis), reorthogonalised once.

    ``ubar`` is normalised first.  The second Gram-Schmidt pass
    (``w_perp -= <w_perp, ubar> ubar``) removes the rounding residue of the
    first: one pass leaves a component along ubar of order ``eps ||w||``,
    which is *not* small relative to ``w_perp`` when w is nearly parallel to
    ubar; after the second it is of order ``eps ||w_perp||`` ("twice is
    enough").  ``w`` may be (d,) or (m, d).
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] < 1:
        raise ShapeError(f"w has shape {w.shape}; it must be (d,) or (m, d).")
    u = _unit(ubar, w.shape[-1])
    # Work at unit scale (exact power-of-two scaling per row): no overflow in the
    # dot products and no underflow of the tiny second-pass residue.
    big = np.max(np.abs(w), axis=-1, keepdims=True)
    k = np.where(big > 0, np.frexp(np.where(big > 0, big, 1.0))[1], 0)
    ws = np.ldexp(w, -k)
    wp = ws - (ws @ u)[..., None] * u
    wp = wp - (wp @ u)[..., None] * u
    return np.ldexp(wp, k)


def perp_basis(ubar: np.ndarray) -> np.ndarray:
    """An orthonormal basis of ``ubar^perp``: the (d, d-1) matrix U with ``U^T ubar = 0``.

    The last d-1 columns of the complete Householder QR of ``ubar`` (LAPACK
    ``geqrf``/``orgqr``): orthonormal and orthogonal to ubar to ``~ d eps``.
    For d = 1 the result is (1, 0).
    """
    u = np.asarray(ubar, dtype=np.float64).reshape(-1, 1)
    q, _ = np.linalg.qr(u, mode="complete")
    return np.ascontiguousarray(q[:, 1:])


def sin_angle(w: np.ndarray, ubar: np.ndarray) -> float | np.ndarray:
    """``sin angle(w, ubar) = ||w_perp|| / ||w||``, in [0, 1].

    Computed from the perpendicular part (:func:`perp`), never as
    ``sqrt(1 - cos^2)`` or via ``1 - cos``: for ``w = a ubar + b v`` with
    ``|b| ~ 1``, ``1 - cos = b^2 / (2 a^2) + ...`` falls below half an ulp of
    1 (1.1e-16) once ``a > 1e8``, and ``cos`` then rounds to exactly 1, while
    ``||w_perp|| / ||w||`` keeps its full relative accuracy when ubar is
    exact (absolute error ~ d eps otherwise: the floor of float64).
    ``w`` is scaled by a power of two first so that huge or tiny norms neither
    overflow nor underflow.  A (d,) w gives a float; (m, d) gives an (m,)
    array.  w = 0 has no angle and raises :class:`DataError`.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim not in (1, 2) or w.shape[-1] < 1:
        raise ShapeError(f"w has shape {w.shape}; it must be (d,) or (m, d).")
    if not np.all(np.isfinite(w)):
        raise NonFiniteError("w contains NaN or inf; the angle is undefined. Pass a finite w.")
    big = np.max(np.abs(w), axis=-1, keepdims=True)
    if np.any(big == 0):
        raise DataError(
            "w is the zero vector (row "
            f"{int(np.flatnonzero(big.ravel() == 0)[0])}): its angle to ubar is undefined. "
            "Measure a nonzero w."
        )
    ws = np.ldexp(w, -np.frexp(big)[1])
    s = np.linalg.norm(perp(ws, ubar), axis=-1) / np.linalg.norm(ws, axis=-1)
    s = np.minimum(s, 1.0)
    return float(s) if w.ndim == 1 else s
