"""Validated, immutable data sets and the separability test.

The paper's setting (its Notation): n points ``x_i in R^d`` with
``||x_i|| <= 1``, labels ``y_i in {-1, +1}``, ``z_i = y_i x_i``, and the data
separable through the origin: some unit u has ``<u, z_i> > 0`` for every i.

:func:`make_dataset` checks all of it, in this order, and raises the first
failure as a specific :mod:`invariants.errors` exception:

1. shapes (:class:`ShapeError`): x is 2-D ``(n, d)`` with ``n, d >= 1``, y is
   1-D of length n;
2. finiteness (:class:`NonFiniteError`), x first, then y;
3. labels exactly in {-1, +1} (:class:`LabelError`);
4. ``||x_i|| <= 1`` up to rounding (:class:`NormError`), see
   :func:`unit_norm_slack`;
5. separability (:class:`NonSeparableError`, with a Gordan certificate), see
   :func:`separability_certificate`.

Statements served: the paper's Notation and Assumptions (every
S-... statement is about a :class:`Dataset`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog, nnls

from ..errors import (
    CertificateError,
    DataError,
    LabelError,
    NonFiniteError,
    NonSeparableError,
    NormError,
    ShapeError,
)
from .rounding import EPS

__all__ = [
    "LP_FEASIBILITY_TOL",
    "Dataset",
    "SeparabilityResult",
    "as_rows",
    "certified_margin",
    "make_dataset",
    "readonly",
    "separability_certificate",
    "unit_norm_slack",
]


#: Primal and dual feasibility tolerance handed to HiGHS in the separability LP
#: (HiGHS' own default is 1e-7; the data are O(1), so 1e-9 is comfortably
#: reachable).  It is also the separability threshold, see
#: :func:`separability_certificate`.
LP_FEASIBILITY_TOL = 1e-9


# --- read-only arrays --------------------------------------------------------------------


def _frozen_array(a: np.ndarray) -> np.ndarray:
    """A float64 copy of ``a`` that can never be made writeable again.

    ``setflags(write=False)`` on an array that owns its memory can be undone
    with ``setflags(write=True)``.  An array backed by an immutable ``bytes``
    object cannot: numpy refuses to set WRITEABLE when the ultimate owner of the
    memory is read-only.  So the copy is made through ``bytes``.
    """
    c = np.ascontiguousarray(a, dtype=np.float64)
    out = np.frombuffer(c.tobytes(), dtype=np.float64).reshape(c.shape)
    out.setflags(write=False)  # already read-only; explicit for the reader
    return out


def readonly(*arrays: np.ndarray) -> None:
    """Mark each numpy array of ``arrays`` read-only in place (other objects are skipped)."""
    for a in arrays:
        if isinstance(a, np.ndarray):
            a.setflags(write=False)


# --- the data set --------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """An immutable data set ``(x, y)`` with ``z_i = y_i x_i``.

    Build one with :func:`make_dataset`, which validates everything.  The
    constructor itself only checks the structure (shapes, ``z == y x``), copies
    the arrays to float64 and makes them permanently read-only, so a Dataset
    can be shared freely: neither the caller's arrays nor later writes can
    change it.  ``z`` may be omitted; it is then computed (exactly: multiplying
    by +-1 is exact in floating point).

    Equality compares the arrays; the hash is of their bytes.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        x = np.asarray(self.x, dtype=np.float64)
        y = np.asarray(self.y, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise ShapeError(
                f"Dataset.x has shape {x.shape}; it must be 2-D (n, d) with n >= 1, d >= 1. "
                "Use make_dataset(x, y), which explains how to fix the input."
            )
        if y.shape != (x.shape[0],):
            raise ShapeError(
                f"Dataset.y has shape {y.shape}; it must be ({x.shape[0]},) to match x of shape "
                f"{x.shape}. Use make_dataset(x, y)."
            )
        with np.errstate(invalid="ignore"):
            z_expected = y[:, None] * x
        if self.z is None:
            z = z_expected
        else:
            z = np.asarray(self.z, dtype=np.float64)
            if z.shape != x.shape or not np.array_equal(z, z_expected, equal_nan=True):
                raise ShapeError(
                    f"Dataset.z (shape {z.shape}) is not y[:, None] * x (shape {x.shape}); "
                    "omit z and it is computed for you."
                )
        object.__setattr__(self, "x", _frozen_array(x))
        object.__setattr__(self, "y", _frozen_array(y))
        object.__setattr__(self, "z", _frozen_array(z))

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        """Input dimension."""
        return int(self.x.shape[1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Dataset):
            return NotImplemented
        return bool(np.array_equal(self.x, other.x) and np.array_equal(self.y, other.y))

    def __hash__(self) -> int:
        return hash((self.x.shape, self.x.tobytes(), self.y.tobytes()))

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle / deepcopy through the constructor, so copies are frozen too.
        return (type(self), (np.array(self.x), np.array(self.y)))


# --- validation helpers ----------------------------------------------------------------------


def _as_real_array(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind == "c":
        raise DataError(
            f"{name} is complex (dtype {arr.dtype}); the data must be real. "
            f"Pass {name}.real if the imaginary part is meant to be zero."
        )
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{name} has dtype {arr.dtype}, which cannot be converted to float64 ({exc}); "
                f"pass a numeric array."
            ) from exc
    return np.asarray(arr, dtype=np.float64)


def _first_nonfinite(a: np.ndarray) -> tuple[tuple[int, ...], float] | None:
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return idx, float(a[idx])


def unit_norm_slack(d: int) -> float:
    """Rounding slack allowed on ``||x_i|| <= 1``: ``(d + 3) * eps``.

    Derivation (u = eps/2 the unit roundoff, standard model
    ``fl(a op b) = (a op b)(1 + delta)``, ``|delta| <= u``).  A caller
    normalises ``v = fl(x / s)`` with ``s = fl(||x||)``:

    * ``s = ||x|| (1 + d_s)`` with ``|d_s| <= (d/2 + 1) u``: the sum of d
      squares has relative error ``<= d u`` (recursive summation, first order;
      pairwise summation is better), the square root halves it and adds u;
    * each ``v_j = x_j / s (1 + d_j)``, ``|d_j| <= u``, so the exact norm of
      the stored v is ``||v|| <= (1 + u) / (1 - (d/2 + 1) u) = 1 + (d/2 + 2) u + O(u^2)``;
    * we compute ``||v||`` again, with relative error ``<= (d/2 + 1) u``.

    So a vector normalised in float64 can measure up to
    ``1 + (d + 3) u = 1 + (d + 3) eps / 2`` (worst case; typical errors are
    random and grow like sqrt(d)).  We allow twice that, ``(d + 3) eps``, to
    cover the O(u^2) terms and other summation orders (BLAS nrm2, fused
    multiply-add).  For d = 8 that is 2.4e-15: any genuine violation, e.g.
    ``||x|| = 1 + 1e-6``, is far outside it.
    """
    return (int(d) + 3) * EPS


def scale_by_power_of_two(a: np.ndarray) -> tuple[np.ndarray, int]:
    """``(a * 2**-k, k)`` with ``max |a| * 2**-k in [1/2, 1)`` (exact barring underflow).

    Separability, the max-margin direction and every relative residual are
    invariant under this scaling; working at unit scale keeps the LP's absolute
    tolerances meaningful and avoids overflow in norms.
    """
    amax = float(np.max(np.abs(a)))
    if amax == 0.0:
        return a.copy(), 0
    k = int(np.frexp(amax)[1])
    return np.ldexp(a, -k), k


def as_rows(data_or_z: Dataset | np.ndarray) -> np.ndarray:
    """The rows ``z_i = y_i x_i`` of a :class:`Dataset`, or a validated finite (n, d) float64
    array of them (S-L3, S-L4: theta and Lemma 4 accept either)."""
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


# --- separability -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SeparabilityResult:
    """Outcome of :func:`separability_certificate` (compared by identity).

    Attributes
    ----------
    separable
        True iff the LP found a direction whose *recomputed* box margin
        ``min_i <u, z_i>`` (``||u||_inf <= 1``) exceeds ``threshold``.
    direction
        The separating direction normalised to unit l2 norm (None if not
        separable).
    margin
        ``min_i <direction, z_i>``: a certified lower bound on the max margin
        gamma (0.0 if not separable).
    certificate
        If not separable: the Gordan/Farkas witness ``lam >= 0``,
        ``sum(lam) = 1``, ``Z^T lam ~ 0`` (the origin is in the convex hull of
        the z_i).  None if separable.
    certificate_residual
        ``||Z^T lam||_2`` for the certificate; an upper bound on gamma (NaN if
        separable).
    lp_value
        Optimal value ``t*`` of the box-normalised LP as reported by HiGHS.
    threshold
        The separability threshold on the box margin (:data:`LP_FEASIBILITY_TOL`).
    """

    separable: bool
    direction: np.ndarray | None
    margin: float
    certificate: np.ndarray | None
    certificate_residual: float
    lp_value: float
    threshold: float

    @property
    def support(self) -> np.ndarray:
        """Indices where the certificate is positive (empty if separable)."""
        if self.certificate is None:
            return np.zeros(0, dtype=np.intp)
        return np.flatnonzero(self.certificate > 0)


def _simplex_weights(lam: np.ndarray) -> np.ndarray | None:
    lam = np.where(np.isfinite(lam), np.maximum(lam, 0.0), 0.0)
    s = lam.sum()
    if not s > 0:
        return None
    return lam / s


def _polish_certificate(z: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Sharpen an approximate Gordan certificate with NNLS.

    On the points where ``lam > 0`` (then, failing that, on all points) solve
    ``min_{mu >= 0} ||Z^T mu||^2 + (sum(mu) - 1)^2`` with ``scipy.optimize.nnls``
    and keep whichever normalised candidate has the smallest ``||Z^T mu||``.
    For non-separable data the minimum is 0 and NNLS (an exact active-set
    method) reaches it to rounding; the LP dual is only accurate to HiGHS'
    tolerances.
    """
    n, d = z.shape
    best = lam
    best_res = float(np.linalg.norm(z.T @ lam))
    for subset in (np.flatnonzero(lam > 0), np.arange(n)):
        if subset.size == 0:
            continue
        e = np.vstack([z[subset].T, np.ones((1, subset.size))])
        f = np.zeros(d + 1)
        f[-1] = 1.0
        try:
            mu_s, _ = nnls(e, f, maxiter=50 * (n + d + 1))
        except RuntimeError:  # iteration limit: keep what we have
            continue
        mu = np.zeros(n)
        mu[subset] = mu_s
        cand = _simplex_weights(mu)
        if cand is None:
            continue
        res = float(np.linalg.norm(z.T @ cand))
        if res < best_res:
            best, best_res = cand, res
        if best_res <= 4 * (d + 1) * EPS * max(1.0, float(np.abs(z).max())):
            break
    return best


def separability_certificate(z: np.ndarray) -> SeparabilityResult:
    """Decide whether the rows z_i of ``z`` are separable through the origin.

    The linear program (solved by ``scipy.optimize.linprog``, HiGHS)::

        maximise  t   over (u, t) in R^d x R
        s.t.      <u, z_i> >= t        for every i      (dual variables lam_i >= 0)
                  -1 <= u_j <= 1                         (box normalisation)
                  t <= 1

    is feasible (u = 0, t = 0) and bounded, and its value ``t* >= 0``; the
    data are separable iff ``t* > 0``.  Its dual is
    ``min ||Z^T lam||_1 + mu  s.t.  lam >= 0, mu >= 0, sum(lam) + mu = 1``; when
    ``t* = 0`` (``mu = 0``) an optimal ``lam`` is a probability vector with
    ``Z^T lam = 0``: Gordan's alternative, the origin lies in the convex hull
    of the z_i.  The certificate is read from HiGHS' constraint marginals and
    then sharpened with NNLS (:func:`_polish_certificate`).

    Scale.  Separability is scale-invariant, so z is first multiplied by the
    power of two that brings ``max_ij |z_ij|`` into [1/2, 1) (exact); the LP's
    absolute tolerances then act on unit-scale data, whatever the caller's
    units.  ``lp_value`` and ``threshold`` refer to the scaled data;
    ``margin`` and ``certificate_residual`` to the data as given.

    Threshold.  HiGHS returns a point feasible to within
    ``LP_FEASIBILITY_TOL = 1e-9`` and an objective accurate to about the same,
    so a box margin at or below that level cannot be told from 0 by the LP.
    We therefore do not trust ``t*``: we recompute the box margin
    ``min_i <u, z_i>`` of the returned u ourselves (rounding error
    ``<= d eps ||z_i||_1``, far below the threshold) and declare the data
    separable iff it exceeds ``threshold = LP_FEASIBILITY_TOL``.  Consequences:

    * "separable" is never wrong: the returned direction verifiably separates
      with l2 margin ``margin > 0``;
    * "not separable" means no box margin above ~1e-9 (relative to
      ``max |z_ij|``) exists; the LP dual then has
      ``||Z^T lam||_2 <= ||Z^T lam||_1 = t* <~ 1e-9``, and after polishing,
      for genuinely non-separable data, ``||Z^T lam||`` is at rounding level.
      ``certificate_residual`` reports the value achieved.  Since the box
      margin t* lies between gamma and ``sqrt(d) gamma``, data whose l2 margin
      gamma exceeds a few times ``1e-9 max|z_ij|`` are recognised as separable.

    A point with ``z_i = 0`` (``x_i = 0``) has margin 0 in every direction, so
    the data are then not separable; the certificate is the indicator of the
    first such point (exact, no LP needed).
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ShapeError(
            f"z has shape {z.shape}; it must be 2-D (n, d) with n >= 1 and d >= 1 "
            "(rows z_i = y_i x_i)."
        )
    bad = _first_nonfinite(z)
    if bad is not None:
        raise NonFiniteError(
            f"z{list(bad[0])} = {bad[1]}: the separability test needs finite data; "
            "remove or repair that entry."
        )
    n, d = z.shape
    thr = LP_FEASIBILITY_TOL

    zero_rows = np.flatnonzero(~np.any(z != 0.0, axis=1))
    if zero_rows.size:
        lam = np.zeros(n)
        lam[zero_rows[0]] = 1.0
        return SeparabilityResult(False, None, 0.0, lam, 0.0, 0.0, thr)
    z_in = z
    z = scale_by_power_of_two(z)[0]

    c = np.zeros(d + 1)
    c[-1] = -1.0
    a_ub = np.hstack([-z, np.ones((n, 1))])
    bounds = [(-1.0, 1.0)] * d + [(None, 1.0)]
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=np.zeros(n),
        bounds=bounds,
        method="highs",
        options={
            "primal_feasibility_tolerance": LP_FEASIBILITY_TOL,
            "dual_feasibility_tolerance": LP_FEASIBILITY_TOL,
        },
    )
    if res.status != 0 or res.x is None:
        raise CertificateError(
            f"the separability LP (HiGHS) failed with status {res.status}: {res.message}. "
            f"The LP is always feasible and bounded, so this is a solver failure on data of "
            f"shape {z.shape}; check the data for extreme scales (max |z| = "
            f"{float(np.abs(z_in).max()):.3g}) and rescale them."
        )
    u = np.clip(res.x[:d], -1.0, 1.0)
    t_star = float(res.x[-1])
    box_margin = float(np.min(z @ u))
    if box_margin > thr:
        direction = u / np.linalg.norm(u)
        margin = float(np.min(z_in @ direction))
        return SeparabilityResult(True, direction, margin, None, float("nan"), t_star, thr)

    lam = _simplex_weights(-np.asarray(res.ineqlin.marginals, dtype=np.float64))
    if lam is None:  # degenerate dual; start the polish from uniform weights
        lam = np.full(n, 1.0 / n)
    lam = _polish_certificate(z, lam)
    residual = float(np.linalg.norm(z_in.T @ lam))
    return SeparabilityResult(False, None, 0.0, lam, residual, t_star, thr)


def non_separable_message(
    z: np.ndarray,
    result: SeparabilityResult,
    escape: str = "or pass require_separable=False to skip the check",
) -> str:
    """The explanation attached to :class:`NonSeparableError` (shared with maxmargin).

    ``escape`` is the caller-specific last resort appended to the advice.
    """
    n = z.shape[0]
    zero_rows = np.flatnonzero(~np.any(z != 0.0, axis=1))
    if zero_rows.size:
        shown = zero_rows[:10].tolist()
        return (
            f"the data are not separable: x_i = 0 at {zero_rows.size} index(es) {shown}"
            f"{' ...' if zero_rows.size > 10 else ''}. A zero input has margin 0 in every "
            f"direction, so no u has <u, y_i x_i> > 0 for all i. Remove those points, {escape}."
        )
    supp = result.support
    shown = supp[:10].tolist()
    return (
        f"the data are not linearly separable through the origin: no direction u separates "
        f"all {n} points z_i = y_i x_i with a margin above {result.threshold:g} * max|z_ij| "
        f"(the resolution of the LP). The origin lies in the convex hull of the "
        f"{supp.size} point(s) with indices {shown}{' ...' if supp.size > 10 else ''} "
        f"(Gordan certificate lam attached as .certificate: lam >= 0, sum(lam) = 1, "
        f"||Z^T lam|| = {result.certificate_residual:.2e}). Remove one of these points or fix "
        f"its label (label noise is the usual cause), {escape}."
    )


# --- the validating constructor ----------------------------------------------------------------


def make_dataset(
    x: Any,
    y: Any,
    *,
    require_separable: bool = True,
    norm_slack: float | None = None,
) -> Dataset:
    """Validate ``(x, y)`` and return an immutable :class:`Dataset`.

    Parameters
    ----------
    x
        ``(n, d)`` real array, ``n >= 1``, ``d >= 1``, each row of l2 norm
        ``<= 1``.  A 1-D x is rejected, never guessed: reshape to ``(n, 1)``
        for scalar inputs or to ``(1, d)`` for a single point.
    y
        ``(n,)`` labels, each exactly -1.0 or +1.0.
    require_separable
        If True (default), raise :class:`NonSeparableError` unless some unit
        u has ``<u, y_i x_i> > 0`` for all i (see
        :func:`separability_certificate`).
    norm_slack
        Allowed excess of ``||x_i||`` over 1.  Default ``None`` means
        :func:`unit_norm_slack` ``(d) = (d + 3) eps``, the rounding error of a
        float64 vector normalised to unit length.

    Raises (in this order of checking)
    ----------------------------------
    ShapeError, NonFiniteError, LabelError, NormError, NonSeparableError
    (and :class:`~invariants.errors.DataError` for complex / non-numeric input).
    """
    xa = _as_real_array(x, "x")
    ya = _as_real_array(y, "y")

    # 1. shapes
    if xa.ndim != 2:
        hint = (
            " Reshape to (n, 1) for scalar inputs (x.reshape(-1, 1)) or to (1, d) for a "
            "single point (x.reshape(1, -1))."
            if xa.ndim == 1
            else ""
        )
        raise ShapeError(
            f"x has {xa.ndim} dimension(s), shape {xa.shape}; it must be 2-D (n, d) with one "
            f"row per point.{hint}"
        )
    n, d = xa.shape
    if n < 1:
        raise ShapeError(f"x has shape {xa.shape}: no points (n = 0); pass at least one point.")
    if d < 1:
        raise ShapeError(
            f"x has shape {xa.shape}: zero features (d = 0); each point needs d >= 1 coordinates."
        )
    if ya.ndim != 1:
        hint = " Use y.ravel()." if ya.size == n else ""
        raise ShapeError(
            f"y has shape {ya.shape}; it must be 1-D of length n = {n} (one label per row of x)."
            f"{hint}"
        )
    if ya.shape[0] != n:
        raise ShapeError(
            f"y has {ya.shape[0]} labels but x has n = {n} rows; pass exactly one label per point."
        )

    # 2. finiteness
    for arr, name in ((xa, "x"), (ya, "y")):
        bad = _first_nonfinite(arr)
        if bad is not None:
            idx = ", ".join(str(i) for i in bad[0])
            raise NonFiniteError(
                f"{name}[{idx}] = {bad[1]}: the data must be finite (no NaN or inf). "
                f"Remove point {bad[0][0]} or repair the value."
            )

    # 3. labels
    bad_labels = np.flatnonzero((ya != 1.0) & (ya != -1.0))
    if bad_labels.size:
        i = int(bad_labels[0])
        hint = (
            " The labels look like {0, 1}: use y = 2 * y - 1."
            if np.all(np.isin(ya, (0.0, 1.0)))
            else ""
        )
        raise LabelError(
            f"y[{i}] = {float(ya[i])!r} ({bad_labels.size} label(s) in all are not -1 or +1): "
            f"every label must be exactly -1 or +1.{hint}"
        )

    # 4. norms
    slack = unit_norm_slack(d) if norm_slack is None else float(norm_slack)
    if not (np.isfinite(slack) and slack >= 0):
        raise DataError(f"norm_slack = {norm_slack!r}; it must be a finite number >= 0.")
    norms = np.linalg.norm(xa, axis=1)
    too_long = np.flatnonzero(norms > 1.0 + slack)
    if too_long.size:
        i = int(too_long[np.argmax(norms[too_long])])
        raise NormError(
            f"||x[{i}]|| = {float(norms[i])!r} > 1 (+ slack {slack:.2e}); {too_long.size} "
            f"point(s) lie outside the unit ball, which the paper assumes. Rescale the data, e.g. "
            f"x / {float(norms.max())!r} (the largest norm), or normalise each row."
        )

    # 5. separability
    z = ya[:, None] * xa
    if require_separable:
        result = separability_certificate(z)
        if not result.separable:
            raise NonSeparableError(
                non_separable_message(z, result), certificate=result.certificate
            )
    return Dataset(xa, ya, z)


def certified_margin(z: np.ndarray, u: np.ndarray) -> float:
    """A rigorous lower bound on ``min_i <u, z_i> / ||u||``, hence on gamma.

    Rounding (u_r = eps/2): each computed ``fl(<u, z_i>)`` errs by at most
    ``gamma_d ||u|| ||z_i|| <= d u_r (1 + O(u_r)) ||u||`` (``||z_i|| <= 1`` up to
    ``(d + 3) eps``); dividing by the computed ``||u||`` (relative error
    ``<= (d/2 + 1) u_r``) and the division itself add ``(d/2 + 2) u_r`` relative
    to a margin ``<= 1``.  Together ``<= (1.5 d + 2) u_r < (d + 2) eps``, which
    is what is subtracted.  Any unit ``u`` gives ``gamma >= min_i <u, z_i>``
    by the definition of gamma (Notation), so the result bounds gamma from
    below.
    """
    z = np.asarray(z, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    d = z.shape[1]
    return float(np.min(z @ u) / np.linalg.norm(u)) - (d + 2) * EPS
