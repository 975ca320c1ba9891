"""Lemma 4 (S-L4): the threshold K and the sign of ``<w_perp, grad R(w)>``.

Lemma 4: :func:`lemma4_threshold` is the printed threshold K;
:func:`perp_gradient_sign` decides the sign of ``<w_perp, grad R(w)>`` in the
log domain (exact for ``||w||`` up to 1e13 and beyond: no overflow, no
cancellation of the huge common part of the margins); and
:func:`l4_empirical_threshold` searches, deterministically, for the largest
``||w_perp||`` at which the sign condition fails with ``<w, ubar> >= 0``: an
empirical threshold ``K_emp`` to set against K.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from ..errors import CertificateError, NonFiniteError, ShapeError
from .data import Dataset, as_rows, readonly
from .losses import EXPONENTIAL, LOGISTIC, Loss, get_loss
from .maxmargin import MaxMargin, perp
from .rounding import EPS, two_prod, two_sum
from .theta import Theta

__all__ = [
    "L4Search",
    "l4_empirical_threshold",
    "lemma4_threshold",
    "perp_gradient_sign",
]


# --- Lemma 4 -------------------------------------------------------------------------------------


def _loss(loss: Loss | str) -> Loss:
    return get_loss(loss) if isinstance(loss, str) else loss


def lemma4_threshold(loss: Loss | str, n: int, theta_value: float) -> float:
    """K of Lemma 4 (S-L4) as the paper prints it.

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
    p, s = two_prod(z[:, 0], np.full(z.shape[0], ws[0]))
    for j in range(1, z.shape[1]):
        h, r = two_prod(z[:, j], np.full(z.shape[0], ws[j]))
        p, q = two_sum(p, h)
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
    z = as_rows(z)
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
    z = as_rows(z)
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
    readonly(xi, w)
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
