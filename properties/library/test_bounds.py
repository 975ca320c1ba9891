"""Properties of :mod:`invariants.core.bounds`: the quantities of Lemma 2 (S-L2a, S-L2b, S-L2c,
S-C1).

Each function is checked against an independent reference: mpmath at 50 digits
on the very float matrices (so the reference is exact for them), or matrices
built with known singular values and vectors.  Tolerances are derived next to
each check from these rounding facts (``u = eps/2``):

* ``gamma(m) = m eps / (1 - m eps)`` bounds an m-term inner product relative
  to the sum of the absolute terms (Higham);
* LAPACK's SVD is backward stable: every computed singular value is within
  ``delta = 4 max(m, n) eps ||W||_2`` of the exact one (``invariants.core.rounding.svd_error``),
  and the top singular vectors within ``sin angle <= (||E|| + delta) / gap`` (Wedin),
  ``gap = sigma_1 - sigma_2``, for any further perturbation E of W.

The meta-tests at the bottom plant bugs into the functions the checks take.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import bounds
from invariants.core import network as net
from invariants.core.rounding import EPS, gamma, svd_error

DPS = 50

PROBLEMS = strategies.problems(scale=(1e-2, 3.0))


def log_uniform(draw, lo: float, hi: float, label: str) -> float:
    return float(lo * (hi / lo) ** draw(st.floats(0.0, 1.0), label=label))


def orthogonal(rng: np.random.Generator, m: int) -> np.ndarray:
    """A random m x m orthogonal matrix (QR of a Gaussian; float, orthonormal to ~m eps)."""
    q, r = np.linalg.qr(rng.standard_normal((m, m)))
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def orth_error(Q: np.ndarray) -> float:
    """``||Q^T Q - I||_2`` measured, plus its own rounding (``gamma(m)`` per entry).

    An orthonormal ``Q~`` with ``||Q - Q~||_2 <= ||Q^T Q - I||_2`` exists (the polar
    factor: ``Q = Q~ (Q^T Q)^(1/2)`` and ``||(Q^T Q)^(1/2) - I|| <= ||Q^T Q - I||``).
    """
    m = Q.shape[1]
    return float(np.linalg.norm(Q.T @ Q - np.eye(m), 2)) + gamma(Q.shape[0] + 2) * m


# --- mpmath references ---------------------------------------------------------------------


def mp_matrix(W: np.ndarray) -> mp.matrix:
    return mp.matrix(W.tolist())  # exact: every float is an mpf


def mp_singular_values(W: np.ndarray) -> list:
    with mp.workdps(DPS):
        return sorted(mp.svd_r(mp_matrix(W), compute_uv=False), reverse=True)


def mp_frobenius_sq(W: np.ndarray):
    with mp.workdps(DPS):
        return mp.fsum(mp.mpf(float(x)) ** 2 for x in W.ravel())


def mp_rank_deficit(W: np.ndarray):
    """``||W||_F^2 - ||W||_2^2`` at 50 digits: the naive subtraction is harmless there."""
    with mp.workdps(DPS):
        return mp_frobenius_sq(W) - mp_singular_values(W)[0] ** 2


def mp_spectral_norm_sym(A_mp: mp.matrix):
    """``||A||_2 = max |eigenvalue|`` of a symmetric mpmath matrix."""
    E, _ = mp.eigsy(A_mp)
    return max(abs(e) for e in E)


def mp_D_and_eq8(initial: net.Weights) -> tuple[mp.mpf, list]:
    """``D`` and the eq. 8 bounds of the Notation section, at 50 digits, from scratch."""
    with mp.workdps(DPS):
        Ws = [mp_matrix(W) for W in initial]
        f = [mp_frobenius_sq(W) for W in initial]
        a = []
        for k in range(len(Ws) - 1):
            A = Ws[k] * Ws[k].T - Ws[k + 1].T * Ws[k + 1]
            a.append(mp_spectral_norm_sym(A))
        D = max(f) - f[-1] + mp.fsum(a)
        eq8 = [f[k] - f[-1] + mp.fsum(a[k:]) for k in range(len(Ws))]
        return D, eq8


# --- S-L2a: the rank deficit ----------------------------------------------------------------


def deficit_tolerance(W: np.ndarray) -> float:
    """Bound on ``|rank_deficit(W) - (||W||_F^2 - ||W||_2^2)|``.

    ``rank_deficit = sum_{i>=2} sigma^_i^2`` with ``|sigma^_i - sigma_i| <= delta``, so each
    term errs by ``<= 2 (sigma^_i + delta) delta + delta^2``; the sum adds ``gamma(r)``
    relative.  The cancellation of the naive ``||W||_F^2 - sigma_1^2`` (``~ eps ||W||_F^2``)
    never enters: for nearly rank-one W this is ``~ 8 max(m, n) eps sigma_1 sigma_2``.
    """
    s = bounds.singular_values(W)
    delta = svd_error(W)
    tail = s[1:]
    return float(np.sum(2 * (tail + delta) * delta + delta**2) + gamma(s.size) * np.sum(tail**2))


def check_rank_deficit(fn: Callable[[np.ndarray], float], W: np.ndarray) -> float:
    """``fn(W)`` equals the 50-digit ``||W||_F^2 - ||W||_2^2``; returns err / tol.

    The reference itself is good to its working precision: ``1e-45 ||W||_F^2`` allowed.
    """
    got = float(fn(W))
    ref = mp_rank_deficit(W)
    tol = deficit_tolerance(W) + 1e-45 * float(np.sum(W * W))
    with mp.workdps(DPS):
        err = float(abs(mp.mpf(got) - ref))
    assert err <= tol, (
        f"rank deficit of a {W.shape} matrix: got {got!r}, want {mp.nstr(ref, 17)}, "
        f"|err| {err:.3e} > tol {tol:.3e}"
    )
    return err / tol if tol > 0 else 0.0


@st.composite
def gaussian_matrices(draw, max_dim: int = 8) -> np.ndarray:
    m = draw(st.integers(1, max_dim), label="rows")
    n = draw(st.integers(1, max_dim), label="cols")
    scale = log_uniform(draw, 1e-3, 1e3, "scale")
    rng = np.random.default_rng(draw(strategies.seeds(), label="seed"))
    return rng.standard_normal((m, n)) * scale


@st.composite
def svd_matrices(draw, max_dim: int = 8, min_gap: float = 1.5, tail: tuple = (1e-9, 0.5)):
    """``(W, U, s, V)`` with ``W = fl(U_r diag(s) V_r^T)``, U, V random orthogonal.

    ``s_1`` is log-uniform in [1e-3, 1e3]; each further ``s_i = s_1 t_i`` with
    ``t_i`` log-uniform in ``tail`` and ``<= 1 / min_gap`` (a clear top gap), sorted.
    """
    m = draw(st.integers(1, max_dim), label="rows")
    n = draw(st.integers(1, max_dim), label="cols")
    r = min(m, n)
    s1 = log_uniform(draw, 1e-3, 1e3, "sigma_1")
    hi = min(tail[1], 1.0 / min_gap)
    ts = [log_uniform(draw, tail[0], hi, f"t_{i}") for i in range(2, r + 1)]
    s = np.array([s1, *sorted((s1 * t for t in ts), reverse=True)])
    rng = np.random.default_rng(draw(strategies.seeds(), label="seed"))
    U, V = orthogonal(rng, m), orthogonal(rng, n)
    W = (U[:, :r] * s) @ V[:, :r].T
    return W, U, s, V


@given(W=gaussian_matrices())
def test_rank_deficit_matches_mpmath(W: np.ndarray) -> None:
    """Lemma 2's rank deficit ``||W_k||_F^2 - ||W_k||_2^2``, against 50 digits."""
    check_rank_deficit(bounds.rank_deficit, W)


@given(case=svd_matrices(tail=(1e-9, 1e-2)))
def test_rank_deficit_accurate_when_nearly_rank_one(case) -> None:
    """The rank deficit stays accurate (relative ~ eps s_1 / s_2) where the subtraction cancels.

    Also against the construction: the float W is within
    ``||E|| <= (orth(U) + orth(V) (1 + orth(U)) + gamma(r + 1) sqrt(m n)) ||s||`` of an
    exact ``U~ diag(s) V~^T`` (polar factors; the product's rounding), so each
    ``sigma_i(W)`` is within ``||E||`` of ``s_i``, and the deficit within
    ``sum_{i>=2} (2 s_i + ||E||) ||E||`` of ``sum_{i>=2} s_i^2``.
    """
    W, U, s, V = case
    check_rank_deficit(bounds.rank_deficit, W)
    m, n = W.shape
    ou, ov = orth_error(U), orth_error(V)
    E = (ou + ov * (1 + ou) + gamma(min(m, n) + 1) * math.sqrt(m * n)) * float(np.linalg.norm(s))
    want = float(np.sum(s[1:] ** 2))
    tol = float(np.sum((2 * s[1:] + E) * E)) + deficit_tolerance(W) + gamma(s.size) * want
    assert abs(bounds.rank_deficit(W) - want) <= tol
    if s.size > 1 and s[1] > 1e-6 * s[0]:
        # The comparison is strong: the tolerance is ~ 8 max(m, n) eps s_1 s_2, i.e. relative
        # ~ 1e-14 s_1 / s_2 <= 1e-8 of the deficit, where the naive subtraction's error
        # eps s_1^2 would be relative eps s_1^2 / s_2^2, up to 1e-4.
        assert tol <= 1e-6 * want, (tol, want)


def test_rank_deficit_of_rank_one_and_zero() -> None:
    u, v = np.array([3.0, 4.0]) / 5.0, np.array([1.0, 0.0, 0.0])
    W = np.outer(u, v) * 7.0
    assert bounds.rank_deficit(W) <= deficit_tolerance(W)
    assert bounds.rank_deficit(np.zeros((3, 2))) == 0.0
    assert bounds.rank_deficit(np.array([[2.0, -1.0, 0.5]])) == 0.0  # a row: rank one


# --- D and eq. 8 (S-L2a) ----------------------------------------------------------------------


def d_tolerances(initial: net.Weights) -> tuple[float, np.ndarray]:
    """Bounds on ``|D - D_exact|`` and ``|eq8_k - eq8_k,exact|`` for the computed values.

    * ``f_k = ||W_k||_F^2`` (vdot of ``size_k`` terms): ``gamma(size_k) f_k``;
    * ``A_k = W_k W_k^T - W_{k+1}^T W_{k+1}``: each Gram product errs entrywise by
      ``gamma(m) |W||W|^T`` (inner dimension m), in Frobenius norm ``<= gamma(m) f``,
      plus the subtraction ``u``: ``||Delta A_k||_2 <= gamma(m_k + 1) (f_k + f_{k+1})``,
      ``m_k = max(d_{k-1}, d_{k+1})``; its 2-norm by SVD adds ``4 d_k eps ||A_k||``;
    * the sums and differences: ``gamma(L + 2) (max f + f_L + sum a)``.
    """
    f = bounds.frobenius_sq(initial)
    L = len(initial)
    a = np.array([float(np.linalg.norm(A, 2)) for A in bounds.balance_matrices(initial)] + [0.0])
    err_f = np.array([gamma(W.size) * fk for W, fk in zip(initial, f, strict=True)])
    err_a = np.zeros(L)
    for k in range(L - 1):
        m = max(initial[k].shape[1], initial[k + 1].shape[0])
        dk = initial[k].shape[0]
        err_a[k] = gamma(m + 1) * (f[k] + f[k + 1]) + 4 * dk * EPS * a[k]
    # + the 50-digit reference's own precision (1e-45 relative)
    summation = (gamma(L + 2) + 1e-45) * (float(np.max(f)) + f[-1] + float(np.sum(a)))
    tol_D = float(np.max(err_f) + err_f[-1] + np.sum(err_a)) + summation
    tail_err = np.cumsum(err_a[::-1])[::-1]
    tol_eq8 = err_f + err_f[-1] + tail_err + summation
    return tol_D, tol_eq8


def check_d_and_eq8(
    d_fn: Callable[[net.Weights], float],
    eq8_fn: Callable[[net.Weights], np.ndarray],
    initial: net.Weights,
) -> None:
    """D and eq. 8 equal their definitions, and ``eq8_k <= D`` for every k (Lemma 2's proof).

    ``eq8_k <= D``: ``||W_k(0)||_F^2 <= max_j ||W_j(0)||_F^2`` and the partial sum of the
    nonnegative ``||A_j||_2`` is at most the full one.  The computed values come from
    the same ``f`` and ``a`` arrays, summed in different orders: each sum is within
    ``gamma(L + 2) (max f + f_L + sum a)`` of its exact value, so twice that is allowed.
    ``eq8_L = f_L - f_L + (empty sum)`` is exactly 0.
    """
    D_got = float(d_fn(initial))
    eq8_got = np.asarray(eq8_fn(initial), dtype=float)
    L = len(initial)
    assert eq8_got.shape == (L,), eq8_got.shape
    assert eq8_got[-1] == 0.0, f"eq. 8 for layer L must be exactly 0, got {eq8_got[-1]!r}"
    D_ref, eq8_ref = mp_D_and_eq8(initial)
    tol_D, tol_eq8 = d_tolerances(initial)
    with mp.workdps(DPS):
        errD = float(abs(mp.mpf(D_got) - D_ref))
        pairs = zip(eq8_got, eq8_ref, strict=True)
        err8 = np.array([float(abs(mp.mpf(float(g)) - r)) for g, r in pairs])
    assert errD <= tol_D, f"D = {D_got!r}, definition gives {mp.nstr(D_ref, 17)} (tol {tol_D:.3e})"
    assert np.all(err8 <= tol_eq8), (
        f"eq. 8 bounds {eq8_got.tolist()} vs definition "
        f"{[mp.nstr(r, 12) for r in eq8_ref]} (tol {tol_eq8.tolist()})"
    )
    f = bounds.frobenius_sq(initial)
    a = sum(float(np.linalg.norm(A, 2)) for A in bounds.balance_matrices(initial))
    order = 2 * gamma(L + 2) * (float(np.max(f)) + f[-1] + a)
    assert np.all(eq8_got <= D_got + order), (
        f"eq. 8 bound exceeds D: {eq8_got.tolist()} > {D_got!r}"
    )


@given(problem=PROBLEMS)
def test_d_and_eq8_match_definition(problem: strategies.Problem) -> None:
    """Lemma 2's D and per-layer eq. 8 bounds match their definitions; eq8_k <= D."""
    check_d_and_eq8(bounds.D, bounds.eq8_bounds, problem.weights)


@given(problem=PROBLEMS)
def test_rank_deficit_within_eq8_at_time_zero(problem: strategies.Problem) -> None:
    """S-L2a at t = 0: ``||W_k||_F^2 - ||W_k||_2^2 <= eq8_k <= D`` for every network.

    At t = 0 the bound reads ``sigma_k^2 >= f_L - sum_{j>=k} ||A_j||_2``, which holds for
    any W: ``sigma_j^2 = ||W_j W_j^T||_2 >= ||W_{j+1}^T W_{j+1}||_2 - ||A_j||_2 = sigma_{j+1}^2
    - ||A_j||_2`` and ``sigma_L^2 = f_L`` (one row).  Tolerance: the deficit's
    (:func:`deficit_tolerance`) plus eq. 8's (:func:`d_tolerances`).
    """
    W = problem.weights
    eq8 = bounds.eq8_bounds(W)
    D = bounds.D(W)
    _, tol8 = d_tolerances(W)
    for k, Wk in enumerate(W):
        deficit = bounds.rank_deficit(Wk)
        assert deficit <= eq8[k] + tol8[k] + deficit_tolerance(Wk), (k, deficit, eq8[k])
        assert deficit <= D + tol8[k] + deficit_tolerance(Wk) + 2 * gamma(len(W) + 2) * D


def balanced_d_bound(W: net.Weights) -> float:
    """Bound on D for the ``balanced`` kind ``W_k = fl(fl(c u_k) u_{k-1}^T)``.

    * ``||A_k||_2 <= ||A_k||_F <= 1.01 (d_{k-1} + d_{k+1} + 9) eps max(f_k, f_{k+1})``
      (derived in ``test_strategies._balanced_bound``, which also charges the
      computed Gram products) and the 2-norm by SVD adds ``4 d_k eps ||A_k||``;
    * ``f_k = c^2 ||u_k||^2 ||u_{k-1}||^2 (1 + e)^2`` with ``| ||u||^2 - 1 | <= (m + 4) u``
      (``u_L = [+-1]`` exact) and ``|e| <= 2.01 u`` (two roundings per entry), and the
      vdot adds ``gamma(size_k)``: ``|f_k / c^2 - 1| <= (d_k + d_{k-1} + size_k + 13) u``,
      so ``max f - f_L <= 2.02 c^2 max_k (d_k + d_{k-1} + size_k + 13) u``, ``c^2 <= 1.01 f_L``;
    * the final sum: ``gamma(L + 2)`` of the same.
    """
    f = bounds.frobenius_sq(W)
    L = len(W)
    fmax = float(np.max(f))
    spread = 2.02 * 1.01 * fmax * max(w.shape[0] + w.shape[1] + w.size + 13 for w in W) * EPS / 2
    a = sum(
        1.01 * (W[k].shape[1] + W[k + 1].shape[0] + 9) * EPS * 1.01 * max(f[k], f[k + 1])
        for k in range(L - 1)
    )
    return (spread + a) * (1 + gamma(L + 2)) + gamma(L + 2) * 2 * fmax


@given(problem=strategies.problems(kinds="balanced", scale=(1e-2, 3.0)))
def test_balanced_initialisations_have_zero_D(problem: strategies.Problem) -> None:
    """A balanced init (``A_{k,k+1} = 0``, equal norms) has D = 0 up to rounding."""
    W = problem.weights
    D = bounds.D(W)
    assert 0 <= D <= balanced_d_bound(W), (D, balanced_d_bound(W))
    assert np.all(bounds.eq8_bounds(W) <= balanced_d_bound(W))


# --- alignments and ratios on constructed matrices ----------------------------------------------


def construction_error(U: np.ndarray, V: np.ndarray, s: np.ndarray) -> float:
    """``||W_float - U~ diag(s) V~^T||_2`` for exactly orthonormal U~, V~.

    As in the nearly rank-one test: the polar factors of the float U, V, and the
    product's rounding ``gamma(r + 1) |U| |S| |V^T|``.
    """
    m, n = U.shape[0], V.shape[0]
    ou, ov = orth_error(U), orth_error(V)
    r = s.size
    return (ou + ov * (1 + ou) + gamma(r + 1) * math.sqrt(m * n)) * float(np.linalg.norm(s))


def vector_error(W: np.ndarray, U: np.ndarray, V: np.ndarray, s: np.ndarray) -> float:
    """Distance (up to sign) between the computed top singular vectors of W and ``U e_1, V e_1``.

    Wedin: ``sin angle <= (||E|| + delta) / gap`` with E the construction error,
    delta the SVD's backward error and ``gap = s_1 - s_2`` reduced by ``||E||``; a unit
    vector at angle ``phi <= pi/2`` is within ``sqrt(2) sin phi`` of the other (up to
    sign); the float ``U e_1`` is within ``orth(U)`` of the orthonormal one.
    """
    E = construction_error(U, V, s)
    gap = s[0] - (s[1] if s.size > 1 else 0.0) - 2 * E
    if gap <= 0:
        return 2.0
    sin = min(1.0, (E + svd_error(W)) / gap)
    return math.sqrt(2) * sin + max(orth_error(U), orth_error(V))


@st.composite
def aligned_chains(draw, rank_one: bool = False):
    """A chain ``W_k = U_k diag(s_k) V_k^T`` with ``v_{k+1} = cos t_k u_k + sin t_k q_k``.

    Returns ``(weights, parts)`` with ``parts[k] = (U_k, s_k, V_k)``; the alignment
    ``|<v_{k+1}, u_k>|`` is ``|cos t_k|`` by construction (t_k drawn).  Every layer
    has a top gap ``s_1 >= 1.5 s_2``; ``rank_one`` keeps only ``s_1``.
    """
    d = draw(st.integers(1, 6), label="d")
    widths = draw(strategies.architectures(d, depth=(1, 5), width=(1, 6)), label="widths")
    shapes = net.layer_shapes(d, widths)
    rng = np.random.default_rng(draw(strategies.seeds(), label="seed"))
    parts = []
    V = orthogonal(rng, shapes[0][1])
    for k, (rows, cols) in enumerate(shapes):
        if k > 0:
            u_prev = parts[-1][0][:, 0]
            t = draw(st.floats(0.0, 1.5), label=f"angle t_{k}")
            M = rng.standard_normal((cols, cols))
            M[:, 0] = u_prev
            Q = orthogonal_from(M)
            if cols >= 2:
                v = math.cos(t) * Q[:, 0] + math.sin(t) * Q[:, 1]
                M2 = rng.standard_normal((cols, cols))
                M2[:, 0] = v
                V = orthogonal_from(M2)
            else:
                V = Q
        r = min(rows, cols)
        s1 = log_uniform(draw, 0.1, 10.0, f"sigma_1 of W_{k + 1}")
        ts = [draw(st.floats(0.0, 1 / 1.5), label=f"ratio {i}") for i in range(1, r)]
        s = np.array([s1, *sorted((s1 * t for t in ts), reverse=True)])
        if rank_one:
            s = s[:1]
        U = orthogonal(rng, rows)
        parts.append((U, s, V))
    weights = net.as_weights([(U[:, : s.size] * s) @ V[:, : s.size].T for U, s, V in parts])
    return weights, parts


def orthogonal_from(M: np.ndarray) -> np.ndarray:
    """QR of M with the sign fixed so that the first column is ``+M[:, 0] / ||M[:, 0]||``."""
    q, r = np.linalg.qr(M)
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


def check_alignment(fn: Callable[[net.Weights], np.ndarray], weights, parts) -> None:
    """``fn(W)[k] = |<v_{k+1}, u_k>|`` of the constructed singular vectors, to Wedin's bound."""
    got = np.asarray(fn(weights))
    assert got.shape == (len(weights) - 1,), got.shape
    for k in range(len(weights) - 1):
        (Uk, sk, Vk), (Uk1, sk1, Vk1) = parts[k], parts[k + 1]
        want = abs(float(Vk1[:, 0] @ Uk[:, 0]))
        tol = (
            vector_error(weights[k], Uk, Vk, sk)
            + vector_error(weights[k + 1], Uk1, Vk1, sk1)
            + gamma(Uk.shape[0] + 2)
        )
        assert abs(got[k] - want) <= tol, (
            f"k={k + 1}: alignment {got[k]!r} vs {want!r} (tol {tol:.2e})"
        )


@given(case=aligned_chains())
def test_alignment_on_constructed_chains(case) -> None:
    """``alignment``: ``|<v_{k+1}, u_k>|`` recovered from matrices with known singular vectors."""
    check_alignment(bounds.alignment, *case)


@given(case=svd_matrices(tail=(1e-3, 1.0), min_gap=1.0))
def test_spectral_ratio_known_singular_values(case) -> None:
    """``spectral_ratio`` (Fig. 1b's quantity): ``||W||_2 / ||W||_F = s_1 / ||s||``.

    Both norms of the float W are within ``||E||`` (construction error; ``||E||_F <=
    sqrt(r) ||E||_2`` for the Frobenius norm) of those of ``diag(s)``, the SVD adds
    ``delta`` and the Frobenius sum ``gamma(r)``; with ratio <= 1,
    ``|Delta ratio| <= (Delta sigma_1 + Delta F) / F``.
    """
    W, U, s, V = case
    E = construction_error(U[:, : s.size], V[:, : s.size], s)
    F = float(np.linalg.norm(s))
    want = s[0] / F
    tol = (E + svd_error(W) + math.sqrt(s.size) * E + gamma(s.size + 2) * F) / (F - 2 * E)
    assert abs(bounds.spectral_ratio(W) - want) <= tol + 4 * EPS
    assert 1 / math.sqrt(s.size) - tol - 4 * EPS <= bounds.spectral_ratio(W) <= 1 + 4 * EPS


def test_spectral_ratio_extremes() -> None:
    assert bounds.spectral_ratio(np.zeros((3, 2))) == 0.0
    assert bounds.spectral_ratio(np.eye(4)) == pytest.approx(0.5, rel=4 * EPS)
    assert bounds.spectral_ratio(np.outer([1.0, 2.0], [3.0, 4.0, 5.0])) == pytest.approx(
        1.0, rel=8 * EPS
    )


def mp_product_alignment(weights: net.Weights):
    """``|<w_prod, v_1>| / prod_k ||W_k||_F`` at 50 digits, v_1 from mpmath's SVD of W_1."""
    with mp.workdps(DPS):
        Ws = [mp_matrix(W) for W in weights]
        prod = Ws[-1]
        for M in Ws[-2::-1]:
            prod = prod * M  # 1 x d: w_prod^T
        _, S, Vt = mp.svd_r(Ws[0])
        i = max(range(len(S)), key=lambda j: S[j])
        v1 = [Vt[i, c] for c in range(Vt.cols)]
        dot = mp.fsum(prod[0, c] * v1[c] for c in range(len(v1)))
        norms = mp.fprod(mp.sqrt(mp_frobenius_sq(W)) for W in weights)
        return abs(dot) / norms


@given(case=aligned_chains())
def test_product_alignment_against_mpmath(case) -> None:
    """``product_alignment``: ``|<w_prod / prod_k ||W_k||_F, v_1>|`` against 50 digits.

    The computed ``w_prod`` errs by ``gamma(sum d) |W_L| ... |W_1|`` (a chain), v_1 by
    Wedin's ``sqrt(2) delta / gap_1`` (W_1 is exact here: the reference uses the same
    float matrix), the norms' product by ``gamma(sum size + L)`` relative.
    """
    W, _ = case
    got = bounds.product_alignment(W)
    ref = mp_product_alignment(W)
    inner = sum(w.shape[1] for w in W) + 2
    abs_w = np.abs(W[-1][0])
    for M in W[-2::-1]:
        abs_w = np.abs(M).T @ abs_w
    norms = math.prod(float(np.linalg.norm(M)) for M in W)
    s = bounds.singular_values(W[0])
    gap = s[0] - (s[1] if s.size > 1 else 0.0)
    wn = float(np.linalg.norm(net.end_to_end(W)))
    tol = (
        gamma(inner) * float(np.linalg.norm(abs_w)) / norms
        + wn / norms * math.sqrt(2) * min(1.0, svd_error(W[0]) / gap)
        + gamma(sum(w.size for w in W) + 2 * len(W)) * float(ref)
    )
    with mp.workdps(DPS):
        err = float(abs(mp.mpf(got) - ref))
    assert err <= tol, (got, mp.nstr(ref, 17), tol)


@given(case=aligned_chains(rank_one=True))
def test_product_alignment_of_rank_one_chain(case) -> None:
    """``product_alignment`` of rank-one layers.

    Then ``w_prod = prod_k s_k prod_k <v_{k+1}, u_k> u_L v_1``.

    So ``|<w_prod / prod ||W_k||_F, v_1>| = prod_k |<v_{k+1}, u_k>|`` (``||W_k||_F = s_k``).
    Each factor differs from the computed alignment by the alignment check's tolerance;
    products of numbers in [0, 1] pass the errors additively.
    """
    W, parts = case
    pa = bounds.product_alignment(W)
    al = bounds.alignment(W)
    want = math.prod(
        abs(float(parts[k + 1][2][:, 0] @ parts[k][0][:, 0])) for k in range(len(W) - 1)
    )
    tol = sum(
        vector_error(W[k], parts[k][0], parts[k][2], parts[k][1])
        + vector_error(W[k + 1], parts[k + 1][0], parts[k + 1][2], parts[k + 1][1])
        for k in range(len(W) - 1)
    ) + gamma(sum(w.size for w in W) + 4 * len(W))
    tol += vector_error(W[0], parts[0][0], parts[0][2], parts[0][1])
    assert abs(pa - want) <= tol, (pa, want, tol)
    assert abs(float(np.prod(al)) - want) <= tol


def test_product_alignment_nan_for_zero_layer() -> None:
    W = net.as_weights([np.zeros((2, 3)), np.ones((1, 2))])
    assert math.isnan(bounds.product_alignment(W))
    assert bounds.has_zero_layer(W)


# --- S-C1 and S-L2b right-hand sides ------------------------------------------------------------


def test_c1_lower_bound_is_one_for_depth_one_with_d_zero() -> None:
    """``c1_lower_bound`` for L = 1, D = 0: the empty product minus ``prod(1 + 0) - 1`` is 1."""
    W = net.as_weights([np.array([[0.3, -0.4, 1.2]])])
    assert bounds.c1_lower_bound(W, 0.0) == 1.0
    assert bounds.c1_lower_bound(W, -1e-18) == 1.0  # a rounding-negative D is clipped to 0


@given(problem=PROBLEMS, data=st.data())
def test_c1_lower_bound_formula(problem: strategies.Problem, data: st.DataObject) -> None:
    """``c1_lower_bound = prod_k a_k - (prod_k (1 + sqrt(2 D) / ||W_k||_F) - 1)``, to 50 digits.

    Computed via ``expm1(sum log1p(e_k))``: each ``e_k`` has ``(size_k / 2 + 4) eps``
    relative error (sqrt of a sum, a division), log1p / expm1 a few ulps each, the
    sums ``gamma(L)``: altogether ``<= (max size + 4 L + 16) eps (prod (1 + e) + prod a)``.
    """
    W = problem.weights
    assume(not bounds.has_zero_layer(W))
    L = len(W)
    dv = data.draw(st.floats(0.0, 10.0), label="d_value")
    align = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=L - 1, max_size=L - 1)))
    got = bounds.c1_lower_bound(W, dv, align)
    with mp.workdps(DPS):
        e = [mp.sqrt(2 * mp.mpf(dv)) / mp.sqrt(mp_frobenius_sq(w)) for w in W]
        pa = mp.fprod(mp.mpf(float(x)) for x in align)
        pe = mp.fprod(1 + x for x in e)
        ref = pa - (pe - 1)
        tol = (max(w.size for w in W) + 4 * L + 16) * EPS * float(pe + pa)
        assert float(abs(mp.mpf(got) - ref)) <= tol, (got, mp.nstr(ref, 17))
    # with the measured alignments by default
    assert bounds.c1_lower_bound(W, dv) == bounds.c1_lower_bound(W, dv, bounds.alignment(W))


@given(problem=PROBLEMS)
def test_c1_holds_at_time_zero(problem: strategies.Problem) -> None:
    """S-C1 at t = 0 (D computed from W itself, for which S-L2a holds, see above).

    Allowance: the computed alignments carry Wedin's error ``sqrt(2) delta / gap`` per
    singular vector (two per factor, at most 1 each), the computed product alignment
    its own (:func:`test_product_alignment_against_mpmath`), and the bound's evaluation
    ``(max size + 4L + 16) eps``; D's rounding moves each ``e_k`` by
    ``tol_D / (2 sqrt(2 D) ||W_k||_F)`` at most (folded in through ``D + tol_D``).
    """
    W = problem.weights
    assume(not bounds.has_zero_layer(W))
    L = len(W)
    tol_D, _ = d_tolerances(W)
    D = bounds.D(W) + tol_D
    wedin = []
    for w in W:
        s = bounds.singular_values(w)
        gap = s[0] - (s[1] if s.size > 1 else 0.0)
        wedin.append(1.0 if gap <= 0 else min(1.0, math.sqrt(2) * svd_error(w) / gap))
    align_err = sum(wedin[k] + wedin[k + 1] for k in range(L - 1))
    abs_w = np.abs(W[-1][0])
    for M in W[-2::-1]:
        abs_w = np.abs(M).T @ abs_w
    norms = math.prod(float(np.linalg.norm(M)) for M in W)
    pa_err = (
        gamma(sum(w.shape[1] for w in W) + 2) * float(np.linalg.norm(abs_w)) / norms
        + wedin[0]
        + gamma(sum(w.size for w in W) + 2 * L)
    )
    bound = bounds.c1_lower_bound(W, D)
    slack = align_err + pa_err + (max(w.size for w in W) + 4 * L + 16) * EPS * (2 + abs(bound))
    assert bounds.product_alignment(W) >= bound - slack, (bounds.product_alignment(W), bound)


@given(problem=PROBLEMS, data=st.data())
def test_l2b_lower_bounds_formula(problem: strategies.Problem, data: st.DataObject) -> None:
    """``l2b_lower_bounds`` = ``1 - (D + s_{k+1}(0)^2 + s_k(0)^2) / s_{k+1}^2`` (or d_value for D).

    The current weights are the initial ones scaled by a drawn factor per layer, so the
    spectral norms are known multiples.  Rounding: each ``sigma`` within ``delta``
    (relative ``delta / sigma``), squared twice that, the ratio and sums a few ulps:
    relative error ``<= 4 max_k delta_k / sigma_k + 8 eps`` of the fraction.
    """
    init = problem.weights
    assume(not bounds.has_zero_layer(init))
    L = len(init)
    factors = data.draw(st.lists(st.floats(0.5, 100.0), min_size=L, max_size=L), label="factors")
    now = net.as_weights([c * w for c, w in zip(factors, init, strict=True)])
    dv = data.draw(st.none() | st.floats(0.0, 5.0), label="d_value")
    got = bounds.l2b_lower_bounds(init, now, dv)
    assert got.shape == (L - 1,)
    D = bounds.D(init) if dv is None else dv
    s0 = np.array([np.linalg.norm(w, 2) for w in init])
    rel = 4 * max(svd_error(w) / s for w, s in zip(init, s0, strict=True)) + 8 * EPS
    for k in range(L - 1):
        frac = (D + s0[k + 1] ** 2 + s0[k] ** 2) / (factors[k + 1] * s0[k + 1]) ** 2
        assert abs(got[k] - (1 - frac)) <= 2 * rel * frac + 4 * EPS, (k, got[k], 1 - frac)


def test_l2b_lower_bounds_zero_layers_give_minus_inf_without_warnings() -> None:
    """The alignment bound is vacuous (-inf) for a zero ``W_{k+1}``; no division warning."""
    init = net.as_weights([np.ones((2, 3)) * 0.1, np.ones((2, 2)) * 0.2, np.ones((1, 2)) * 0.3])
    now = net.as_weights([np.ones((2, 3)), np.zeros((2, 2)), np.ones((1, 2))])
    got = bounds.l2b_lower_bounds(init, now)
    assert got.shape == (2,)
    assert got[0] == -np.inf and np.isfinite(got[1])
    all_zero = net.as_weights([np.zeros((2, 3)), np.zeros((2, 2)), np.zeros((1, 2))])
    assert np.all(bounds.l2b_lower_bounds(init, all_zero) == -np.inf)
    assert np.all(bounds.l2b_lower_bounds(all_zero, all_zero, 0.0) == -np.inf)


def test_frobenius_helpers_and_gram_difference() -> None:
    W = net.as_weights([np.arange(6.0).reshape(2, 3), np.array([[1.0, -2.0]])])
    assert bounds.frobenius_sq(W).tolist() == [55.0, 5.0]
    assert bounds.frobenius_differences(W).tolist() == [-50.0]
    A = bounds.gram_difference(W, 1)
    assert np.array_equal(A, W[0] @ W[0].T - W[1].T @ W[1])
    assert len(bounds.balance_matrices(W)) == 1


# --- negative controls ----------------------------------------------------------------------


def _unbalanced() -> net.Weights:
    rng = np.random.default_rng(7)
    return net.as_weights([rng.standard_normal(s) for s in net.layer_shapes(3, [4, 2])])


def _d_without_a(initial: net.Weights) -> float:
    f = bounds.frobenius_sq(initial)
    return float(np.max(f) - f[-1])


def _eq8_head_sums(initial: net.Weights) -> np.ndarray:
    """Sums ``||A_j||`` over ``j < k`` instead of ``j >= k``."""
    f = bounds.frobenius_sq(initial)
    a = np.array([0.0] + [float(np.linalg.norm(A, 2)) for A in bounds.balance_matrices(initial)])
    return f - f[-1] + np.cumsum(a)


@pytest.mark.meta
def test_meta_d_check_catches_dropped_sum_of_a() -> None:
    W = _unbalanced()
    check_d_and_eq8(bounds.D, bounds.eq8_bounds, W)
    with pytest.raises(AssertionError, match="D ="):
        check_d_and_eq8(_d_without_a, bounds.eq8_bounds, W)
    with pytest.raises(AssertionError):
        check_d_and_eq8(bounds.D, _eq8_head_sums, W)


def _naive_rank_deficit(W: np.ndarray) -> float:
    return float(np.linalg.norm(W) ** 2 - np.linalg.norm(W, 2) ** 2)


@pytest.mark.meta
def test_meta_rank_deficit_check_catches_cancellation() -> None:
    rng = np.random.default_rng(3)
    U, V = orthogonal(rng, 4), orthogonal(rng, 3)
    W = (U[:, :3] * np.array([1.0, 1e-7, 3e-8])) @ V.T
    check_rank_deficit(bounds.rank_deficit, W)
    check_rank_deficit(_naive_rank_deficit, rng.standard_normal((3, 3)))  # fine when well spread
    with pytest.raises(AssertionError, match="rank deficit"):
        check_rank_deficit(_naive_rank_deficit, W)


@pytest.mark.meta
def test_meta_alignment_check_catches_wrong_vectors() -> None:
    rng = np.random.default_rng(11)
    U1, V1 = orthogonal(rng, 3), orthogonal(rng, 3)
    U2 = orthogonal(rng, 1)
    t = 0.7
    M = rng.standard_normal((3, 3))
    M[:, 0] = U1[:, 0]
    Q = orthogonal_from(M)
    V2 = orthogonal_from(np.column_stack([math.cos(t) * Q[:, 0] + math.sin(t) * Q[:, 1], Q[:, 1:]]))
    s1, s2 = np.array([3.0, 1.0, 0.5]), np.array([2.0])
    W = net.as_weights([(U1 * s1) @ V1.T, (U2 * s2) @ V2[:, :1].T])
    parts = [(U1, s1, V1), (U2, s2, V2)]
    check_alignment(bounds.alignment, W, parts)

    def right_vs_right(weights):  # <v_{k+1}, v_k>: both right singular vectors
        uv = [bounds.top_singular_vectors(w) for w in weights]
        return np.array([abs(float(uv[k + 1][1] @ uv[k][1])) for k in range(len(weights) - 1)])

    with pytest.raises(AssertionError, match="alignment"):
        check_alignment(right_vs_right, W, parts)
