"""Properties of :mod:`invariants.core.network`: shapes, risk, closed-form gradients, Hessian.

Statements served: S-EQ1 (the risk and its gradient ``dR/dW_k``, the rank-one
matrix of the Notation section), A2 and S-A2a (``require_a2``), and the
asymptotic regime every later statement lives in (``||w_prod|| ~ 1e12``).  The
Hessian and the Jacobian of the time-changed field of :mod:`invariants.dynamics.flow`
(the implicit integrator behind every trajectory statement) are checked too.

Every comparison has a derived tolerance, written next to it.  Shared notation:

* ``eps`` machine epsilon, ``gamma(m) = m eps / (1 - m eps)`` (Higham's bound
  for an m-term inner product: ``|fl(x.y) - x.y| <= gamma(m) |x|.|y|``);
* ``nu_j = ||W_j||_F``, ``zmax = max_i ||z_i||``;
* along a direction ``V`` (unit Frobenius norm) supported on *one* layer k, the
  margins ``m_i(t) = <w_prod(W + tV), z_i>`` are *affine* in t (``w_prod`` is
  linear in each layer), with slope ``c_i = s_k^T V P_k z_i``, so
  ``|c_i| <= C_k := prod_{j != k} nu_j zmax``;
* for both losses ``|loss^(j)(m)| <= |loss'(m)| <= loss(m)`` for j = 2, 3, 4
  (exponential: all equal ``exp(-m)``; logistic: with ``s`` the sigmoid,
  ``|loss'| = s(-m) <= ln(1 + e^-m)`` since ``ln(1 + y) >= y / (1 + y)``,
  ``loss'' = s(m) s(-m) <= s(-m)``, ``|loss'''| = |s'(1 - 2s)| <= s'`` and
  ``|loss''''| = s' |(1 - 2s)^2 - 2s'| <= s'``), and ``log|loss'|`` is
  1-Lipschitz (its derivative is ``-1`` resp. ``-s(m)``), so
  ``|loss'(m + delta)| <= exp(|delta|) |loss'(m)|``.

The FD checks are functions taking the function under test, so the
meta-tests at the bottom plant bugs into exactly the code the properties run.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import network as net
from invariants.core.losses import EXPONENTIAL, LOGISTIC, Loss
from invariants.core.rounding import EPS, gamma, rounding_count
from invariants.dynamics import flow
from invariants.errors import ArchitectureError, AssumptionError
from properties.helpers import (
    GradFn,
    Scales,
    chain,
    check_layer_gradients_fd,
    my_w_prod,
    prod_except,
)

HessFn = Callable[[net.Weights, np.ndarray, Loss, float], np.ndarray]

# Depth 1..6, widths 1..8, both losses, every data family, every init kind (strategy
# defaults), at init scales up to 2 (||W_k||_F ~ 2 sqrt(d_k)): moderate norms, where the
# checks' a-priori bounds stay tight and R is representable, and well away from 0.
PROBLEMS = strategies.problems(scale=(1e-2, 2.0))
A2_PROBLEMS = strategies.problems(kinds=strategies.A2_KINDS, scale=(1e-2, 2.0))


# --- independent references ----------------------------------------------------------------


def ratio(err, tol) -> float:
    """``max err / tol`` with ``0 / 0 = 0`` (a zero tolerance is met only by a zero error)."""
    err, tol = np.broadcast_arrays(np.asarray(err, dtype=float), np.asarray(tol, dtype=float))
    r = np.divide(err, tol, out=np.where(err > 0, np.inf, 0.0), where=tol > 0)
    return float(np.max(r)) if r.size else 0.0


def my_prefix(W: net.Weights, k: int) -> np.ndarray:
    """``P_k = W_{k-1} ... W_1`` for 0-based layer index k (``d_{k-1} x d``)."""
    return chain(list(W[:k][::-1]), W[0].shape[1])


def my_suffix(W: net.Weights, k: int) -> np.ndarray:
    """``s_k`` with ``s_k^T = W_L ... W_{k+1}`` for 0-based k (length ``d_k``)."""
    return chain(list(W[k + 1 :][::-1]), 1)[0] if k < len(W) - 1 else np.ones(1)


# --- layer gradients against finite differences of log R (S-EQ1) ------------------------


@given(problem=PROBLEMS)
def test_layer_gradients_match_finite_differences(problem: strategies.Problem) -> None:
    """S-EQ1: the closed-form layer gradients are the derivative of the risk."""
    worst = check_layer_gradients_fd(net.layer_gradients, problem.weights, problem.z, problem.loss)
    note(f"worst err/tol = {worst:.3e}")


# --- the closed form is the paper's rank-one matrix -------------------------------------------


def check_closed_form(grad_fn: GradFn, weights: net.Weights, z: np.ndarray, loss: Loss) -> None:
    """``dR/dW_k`` has rank <= 1 and equals ``s_k (P_k grad R(w_prod))^T`` built here.

    Rank: the library forms ``fl(outer(s, p)) = s p^T + E`` with
    ``|E_ab| <= eps |s_a p_b|/2``, so ``sigma_2 <= ||E||_F <= eps ||G||_F``; the SVD adds
    ``4 max(m, n) eps ||G||_2`` (backward stable, invariants.core.rounding.svd_error).

    Value: both sides are products of the same float matrices in different
    orders, so each entry differs from the exact ``s_k[a] (P_k grad R)[b]`` by at
    most ``(gamma(M) + rho) |s_k|[a] (|P_k| |Z|^T |loss'|/n)[b]``, where ``|.|``
    are the entrywise-absolute chains (Higham) and ``rho`` the relative error of
    each ``|loss'(m_i)|/n``: margins err by ``delta_m`` (``|loss''/loss'| <= 1``), the
    scaled form adds ``rho_w`` and ``exp(log_scale)`` a few ulps per unit of
    ``|log_scale|``.  Twice that (two computations) is allowed.
    """
    W = tuple(np.array(w, dtype=np.float64) for w in weights)
    sg = grad_fn(W, z, loss)
    sc = Scales.of(W, z, loss)
    n = z.shape[0]
    w = my_w_prod(W)
    d1 = loss.d1(z @ w)
    grad_r = (d1 @ z) / n  # grad R(w_prod) = (1/n) sum_i loss'(<w, z_i>) z_i
    absW = tuple(np.abs(M) for M in W)
    abs_grad = (np.abs(d1) @ np.abs(z)) / n
    rho = sc.rho_w + math.expm1(2 * sc.delta_m + 8 * EPS * (1 + abs(sg.log_scale)))
    scale = math.exp(sg.log_scale)
    for k, Wk in enumerate(W):
        G = np.asarray(sg.layers[k])
        assert G.shape == Wk.shape, f"layer {k + 1}: shape {G.shape} != {Wk.shape}"
        sv = np.linalg.svd(G, compute_uv=False)
        if sv.size > 1:
            rank_tol = (1 + 4 * max(G.shape)) * EPS * float(np.linalg.norm(G))
            assert sv[1] <= rank_tol, f"layer {k + 1}: sigma_2 = {sv[1]:.3e} > {rank_tol:.3e}"
        ref = np.outer(my_suffix(W, k), my_prefix(W, k) @ grad_r)
        bound = np.outer(my_suffix(absW, k), my_prefix(absW, k) @ abs_grad)
        tol = 2 * (gamma(sc.M) + rho) * bound + 4 * EPS * np.abs(ref)
        err = np.abs(scale * G - ref)
        assert np.all(err <= tol), (
            f"layer {k + 1}: closed form differs from s_k (P_k grad R)^T by "
            f"{float(np.max(err - tol)):.3e} beyond the tolerance"
        )


@given(problem=PROBLEMS)
def test_layer_gradients_are_the_rank_one_closed_form(problem: strategies.Problem) -> None:
    """S-EQ1 (Notation): ``dR/dW_k = (W_L ... W_{k+1})^T grad R(w_prod)^T (W_{k-1} ... W_1)^T``.

    Also ``end_to_end`` against an independent product (used by the reference).
    """
    W, z, loss = problem.weights, problem.z, problem.loss
    # the plain-domain reference needs loss' representable (exponential: margins > -709)
    assume(np.all(np.isfinite(loss.d1(z @ my_w_prod(W)))))
    check_closed_form(net.layer_gradients, W, z, loss)
    sc = Scales.of(W, z, loss)
    diff = np.abs(net.end_to_end(W) - my_w_prod(W))
    # both are chains of the same matrices: each errs by gamma(M) |W_1|^T ... |W_L|^T
    absW = tuple(np.abs(M) for M in W)
    assert np.all(diff <= 2 * gamma(sc.M) * my_w_prod(absW)), diff


@given(problem=PROBLEMS)
def test_log_norm_is_the_gradient_norm(problem: strategies.Problem) -> None:
    """``log_norm = log ||grad R(W)||`` over all layers (S-EQ1), -inf iff the gradient is 0."""
    sg = net.layer_gradients(problem.weights, problem.z, problem.loss)
    sq = sum(float(np.vdot(G, G)) for G in sg.layers)
    if sq == 0:
        assert sg.log_norm == -math.inf
        return
    # log of a sum of squares of N numbers: gamma(N) relative, /2 by the sqrt, + eps |.|
    N = sum(G.size for G in sg.layers)
    expected = sg.log_scale + 0.5 * math.log(sq)
    assert abs(sg.log_norm - expected) <= gamma(N + 4) + 4 * EPS * abs(expected)


# --- Euler's identity for the L-homogeneous network -----------------------------------------


def check_euler(grad_fn: GradFn, weights: net.Weights, z: np.ndarray, loss: Loss) -> None:
    """``sum_k <W_k, dR/dW_k> = L <w_prod, grad R(w_prod)>`` (each term is ``<w, grad R>``).

    The right side is computed independently in the scaled domain:
    ``exp(-log_scale) <w, grad R(w)> = -sum_i exp(log|loss'(m_i)| - log n - log_scale) m_i``.
    Rounding: each ``<W_k, G_k>`` is a sum of ``|W_k| |G_k|`` terms (``gamma(M)`` of
    ``sum |W_k|.|G_k|``, itself ``<= S_w prod_j nu_j zmax``); the right side errs by
    ``(rho + gamma(n)) sum_i w_i |m_i|`` plus ``delta_m`` per margin.
    """
    W = tuple(np.array(w, dtype=np.float64) for w in weights)
    L = len(W)
    sg = grad_fn(W, z, loss)
    sc = Scales.of(W, z, loss)
    n = z.shape[0]
    lhs = sum(float(np.vdot(Wk, Gk)) for Wk, Gk in zip(W, sg.layers, strict=True))
    m = z @ my_w_prod(W)
    wts = np.exp(loss.log_neg_d1(m) - math.log(n) - sg.log_scale)
    rhs = -L * float(wts @ m)
    rho = sc.rho_w + math.expm1(2 * sc.delta_m + 8 * EPS * (1 + abs(sg.log_scale)))
    lhs_scale = sum(
        float(np.sum(np.abs(Wk) * np.abs(Gk))) for Wk, Gk in zip(W, sg.layers, strict=True)
    )
    tol = (
        gamma(sc.M) * (lhs_scale + L * sc.s_w * float(np.prod(sc.nu)) * sc.zmax)
        + L * (rho + gamma(n)) * float(wts @ np.abs(m))
        + L * float(np.sum(wts)) * sc.delta_m
    )
    assert abs(lhs - rhs) <= tol, (
        f"Euler: sum_k <W_k, G_k> = {lhs!r} vs L <w, g> = {rhs!r} (tol {tol:.3e})"
    )


@given(problem=PROBLEMS)
def test_euler_identity(problem: strategies.Problem) -> None:
    """S-EQ1's gradient is L-homogeneous: ``sum_k <W_k, dR/dW_k> = L <w_prod, grad R(w_prod)>``."""
    check_euler(net.layer_gradients, problem.weights, problem.z, problem.loss)


# --- the Hessian ---------------------------------------------------------------------------


def _block_bounds(sc: Scales, shapes: list[tuple[int, int]], k: int, h: float):
    """Per layer l: ``(Y_l, Bm_l)`` for a perturbation of size ``<= h`` in layer k.

    ``Y_l = prod_{j != l} nu'_j zmax`` bounds ``|d m_i / dW_l[a,b]|`` and
    ``Bm_l = prod_{j not in {k, l}} nu'_j zmax`` bounds ``|d^2 m_i / dW_l[a,b] dV|``
    for a unit direction V in layer k (0 when l = k: m is linear in each layer);
    ``nu'_k = nu_k + h``.
    """
    nu = sc.nu.copy()
    nu[k] += h
    Y = np.array([prod_except(nu, l) * sc.zmax for l in range(len(shapes))])
    Bm = np.array([0.0 if l == k else prod_except(nu, k, l) * sc.zmax for l in range(len(shapes))])
    return Y, Bm


def _per_entry(values: np.ndarray, shapes: list[tuple[int, int]]) -> np.ndarray:
    """Broadcast one value per layer to that layer's entries (flatten order)."""
    return np.concatenate([np.full(r * c, v) for v, (r, c) in zip(values, shapes, strict=True)])


def check_hessian_fd(
    hess_fn: HessFn,
    grad_fn: GradFn,
    weights: net.Weights,
    z: np.ndarray,
    loss: Loss,
    directions: Iterable[tuple[int, np.ndarray]],
) -> float:
    """``H V`` equals the central difference of the rescaled gradient along V; worst err/tol.

    ``H = scaled_hessian(W, z, loss, ls)`` with ``ls`` the gradient's log_scale at W, and
    ``F(W) = exp(-ls) grad R(W) = exp(ls(W) - ls) G(W)``, so ``H = dF/dW``.  Each V is
    (k, matrix of layer k's shape), normalised to unit Frobenius norm.

    Let ``theta_+-`` be the float points ``fl(W_k +- h V)`` and ``Delta = theta_+ - theta_-``
    (supported on layer k).  Taylor at the midpoint c gives, per component (l, a, b),
    ``|F(theta_+) - F(theta_-) - H Delta| <= K3 ||Delta||^3 / 24 + 2 errG
    + K2 ||c - W|| ||Delta|| + (H's rounding) ||Delta||``, where along the (affine-margin)
    line, with ``F_lab(t) = exp(-ls) (1/n) sum_i loss'(m_i(t)) (A_i + t B_i)``,
    ``|A_i + t B_i| <= Y_l``, ``|B_i| <= Bm_l``, ``|c_i| <= C = C_k``:

    * ``K3 = e^{hC} S_w (C^3 Y_l + 3 C^2 Bm_l)`` bounds ``|F'''|`` (Leibniz; the loss
      bounds of the module docstring; ``sum_i |loss'(m_i)|/max = S_w``);
    * ``K2 = e^{hC} S_w (C^2 Y_l + 2 C Bm_l)``; ``||c - W|| <= eps (nu_k + h)``;
    * ``errG = (gamma(M) + rho_w + 8 eps (1 + |ls|)) e^{2hC} S_w Y_l``: the gradient
      entries' rounding (see :func:`check_closed_form`) and of ``exp(ls_+- - ls)``;
    * H's rounding: ``gamma(M) S_w (Y_l C + Bm_l)`` per unit of ``||Delta||`` (the entries
      of ``|J|^T |H_r| |J| + |coupling|``), plus ``2 eps |H Delta|`` for ``fl(theta_+ - theta_-)``.

    ``h = (3 errG / K3)^(1/3)`` minimises ``h^2 K3 / 6 + errG / h``; ``h <= 1/C``.
    """
    W = tuple(np.array(w, dtype=np.float64) for w in weights)
    shapes = [w.shape for w in W]
    sg = grad_fn(W, z, loss)
    ls = sg.log_scale
    H = hess_fn(W, z, loss, ls)
    N = sum(w.size for w in W)
    assert H.shape == (N, N), f"Hessian shape {H.shape} != {(N, N)}"
    assert np.all(np.isfinite(H)), "non-finite Hessian"
    sc = Scales.of(W, z, loss)
    g_rel = gamma(sc.M) + sc.rho_w + 8 * EPS * (1 + abs(ls))
    worst = 0.0
    for k, V in directions:
        V = np.asarray(V, dtype=np.float64)
        V = V / np.linalg.norm(V)
        C = prod_except(sc.nu, k) * sc.zmax * (1 + 1e-12)
        Y0, B0 = _block_bounds(sc, shapes, k, 0.0)
        k3 = sc.s_w * float(np.max(C**3 * Y0 + 3 * C**2 * B0))
        eg = g_rel * sc.s_w * float(np.max(Y0))
        h = (3 * eg / k3) ** (1 / 3) if k3 > 0 else 1.0
        h = min(h, 1.0 / C if C > 0 else 1.0, 1.0)
        Y, Bm = _block_bounds(sc, shapes, k, h)
        grow = math.exp(h * C)
        Wp, Wm = [*W], [*W]
        Wp[k], Wm[k] = W[k] + h * V, W[k] - h * V
        gp, gm = grad_fn(tuple(Wp), z, loss), grad_fn(tuple(Wm), z, loss)
        Fp = math.exp(gp.log_scale - ls) * net.flatten(gp.layers)
        Fm = math.exp(gm.log_scale - ls) * net.flatten(gm.layers)
        assert np.all(np.isfinite(Fp)) and np.all(np.isfinite(Fm))
        delta = net.flatten(tuple(Wp)) - net.flatten(tuple(Wm))
        nd = float(np.linalg.norm(delta))
        HD = H @ delta
        err = np.abs(Fp - Fm - HD)
        K3 = grow * sc.s_w * (C**3 * Y + 3 * C**2 * Bm)
        K2 = grow * sc.s_w * (C**2 * Y + 2 * C * Bm)
        errG = g_rel * grow**2 * sc.s_w * Y
        h_round = gamma(sc.M) * sc.s_w * (Y * C + Bm)
        tol_layer = K3 * nd**3 / 24 + 2 * errG + K2 * EPS * (sc.nu[k] + h) * nd + h_round * nd
        tol = _per_entry(tol_layer, shapes) + 2 * EPS * np.abs(HD)
        bad = err > tol
        assert not np.any(bad), (
            f"direction in layer {k + 1}: H V differs from the FD of the gradient at "
            f"{np.flatnonzero(bad)[:5]}: max err/tol {ratio(err, tol):.3e} "
            f"(h={h:.2e}, |HV| max {float(np.max(np.abs(HD))) / nd:.3e})"
        )
        worst = max(worst, ratio(err, tol))
    return worst


def _coordinate_directions(W: net.Weights):
    for k, Wk in enumerate(W):
        for a, b in np.ndindex(*Wk.shape):
            E = np.zeros_like(Wk)
            E[a, b] = 1.0
            yield k, E


@given(problem=PROBLEMS)
def test_scaled_hessian_columns_match_finite_differences(problem: strategies.Problem) -> None:
    """Every column of ``scaled_hessian`` is the FD of the rescaled gradient."""
    W = problem.weights
    worst = check_hessian_fd(
        net.scaled_hessian,
        net.layer_gradients,
        W,
        problem.z,
        problem.loss,
        _coordinate_directions(W),
    )
    note(f"worst err/tol = {worst:.3e}")


@given(problem=PROBLEMS, data=st.data())
def test_hessian_vector_products_match_directional_derivative(
    problem: strategies.Problem, data: st.DataObject
) -> None:
    """``H v`` is the directional derivative of the gradient along random v (one per layer)."""
    W = problem.weights
    seed = data.draw(strategies.seeds(), label="direction seed")
    rng = np.random.default_rng(seed)
    dirs = [(k, rng.standard_normal(Wk.shape)) for k, Wk in enumerate(W)]
    check_hessian_fd(net.scaled_hessian, net.layer_gradients, W, problem.z, problem.loss, dirs)
    # linearity across layers: H (v_1 + ... + v_L) = sum_k H v_k, exact up to the sum's rounding
    ls = net.layer_gradients(W, problem.z, problem.loss).log_scale
    H = net.scaled_hessian(W, problem.z, problem.loss, ls)
    vs = []
    for k, V in dirs:
        parts = [np.zeros_like(w) for w in W]
        parts[k] = V
        vs.append(net.flatten(tuple(parts)))
    total = H @ np.sum(vs, axis=0)
    parts_sum = np.sum([H @ v for v in vs], axis=0)
    scale = np.abs(H) @ np.sum(np.abs(vs), axis=0)
    assert np.all(np.abs(total - parts_sum) <= 2 * gamma(H.shape[0] + len(W)) * scale)


def hessian_symmetry_bound(W: net.Weights, z: np.ndarray, loss: Loss) -> np.ndarray:
    """Entrywise bound on ``|H - H^T|`` for the computed scaled Hessian.

    The exact Hessian is symmetric; each computed entry errs by ``gamma(M)`` times the
    same formula in absolute values, whose (l, k) block is at most
    ``S_w (Y_l Y_k + Bm_lk)`` (``|loss''| <= |loss'|``, then as in
    :func:`check_hessian_fd`).  Twice that bounds ``|H_ij - H_ji|``.
    """
    sc = Scales.of(W, z, loss)
    L = len(W)
    Y = np.array([prod_except(sc.nu, l) * sc.zmax for l in range(L)])
    rows = []
    for l in range(L):
        row = []
        for k in range(L):
            bm = 0.0 if l == k else prod_except(sc.nu, k, l) * sc.zmax
            row.append(np.full((W[l].size, W[k].size), sc.s_w * (Y[l] * Y[k] + bm)))
        rows.append(row)
    return 2 * gamma(sc.M) * np.block(rows)


@given(problem=PROBLEMS)
def test_scaled_hessian_is_symmetric_and_scales(problem: strategies.Problem) -> None:
    W, z, loss = problem.weights, problem.z, problem.loss
    ls = net.layer_gradients(W, z, loss).log_scale
    H = net.scaled_hessian(W, z, loss, ls)
    bound = hessian_symmetry_bound(W, z, loss)
    assert np.all(np.abs(H - H.T) <= bound), float(np.max(np.abs(H - H.T) - bound))
    # The scale is a pure factor: H(ls + 1) = H(ls) / e, up to the rounding of exp(-ls)
    # in each weight (8 eps (1 + |ls|) relative) and of the products (as above).
    H1 = net.scaled_hessian(W, z, loss, ls + 1.0)
    tol = bound + 16 * EPS * (2 + abs(ls)) * np.abs(H)
    assert np.all(np.abs(H1 * math.e - H) <= tol * 1.01)


def hessian_norm_bound_formula(W: net.Weights, z: np.ndarray, loss: Loss, ls: float) -> float:
    """The documented formula of :func:`net.hessian_norm_bound`, evaluated independently.

    ``tr(Hr) sum_k ||s_k||^2 ||P_k||_F^2 + 2 sum_{k<l} ||s_l|| ||M_lk||_F ||P_k g||``
    with ``Hr = (1/n) sum_i loss''(m_i) z_i z_i^T e^{-ls}``, ``s_k`` the suffix
    vectors, ``P_k = W_{k-1}...W_1``, ``M_lk = W_{l-1}...W_{k+1}`` and
    ``g = grad R(w_prod) e^{-ls}``; products formed from scratch here.
    """
    L, d = len(W), z.shape[1]
    P = [np.eye(d)]
    for M in W[:-1]:
        P.append(M @ P[-1])
    s = [my_suffix(W, k) for k in range(L)]
    w = my_w_prod(W)
    m = z @ w
    n = z.shape[0]
    tr_hr = float(np.sum(np.exp(loss.log_d2(m) - ls) * np.sum(z * z, axis=1)) / n)
    g = -(np.exp(loss.log_neg_d1(m) - ls) @ z) / n
    total = tr_hr * sum(float(s[k] @ s[k]) * float(np.sum(P[k] ** 2)) for k in range(L))
    for k in range(L):
        for l in range(k + 1, L):
            Mlk = np.eye(W[k].shape[0])
            for j in range(k + 1, l):
                Mlk = W[j] @ Mlk
            total += 2 * np.linalg.norm(s[l]) * np.linalg.norm(Mlk) * np.linalg.norm(P[k] @ g)
    return float(total)


@given(problem=PROBLEMS)
def test_hessian_norm_bound_is_a_bound_and_its_formula(problem: strategies.Problem) -> None:
    """S-EQ1 (the flow's error budget): ``hessian_norm_bound >= ||scaled Hessian||_2``.

    It must also equal its documented formula, evaluated independently
    (:func:`hessian_norm_bound_formula`).  Tolerances: both evaluate the same
    sums of at most ``M`` products, ``gamma(M)`` relative each, plus ``8 eps (1 +
    |ls|)`` for the scaled exponentials; the spectral norm is backward stable
    (``4 N eps ||H||``) and the Hessian's own rounding is
    :func:`hessian_symmetry_bound`.
    """
    W, z, loss = problem.weights, problem.z, problem.loss
    ls = net.layer_gradients(W, z, loss).log_scale
    b = net.hessian_norm_bound(W, z, loss, ls)
    H = net.scaled_hessian(W, z, loss, ls)
    h2 = float(np.linalg.norm(H, 2))
    M = rounding_count(W, z.shape[0])
    rel = 2 * gamma(M) + 16 * EPS * (2 + abs(ls))
    slack = (
        4 * H.shape[0] * EPS * h2 + float(np.max(hessian_symmetry_bound(W, z, loss))) * H.shape[0]
    )
    assert h2 <= b * (1 + rel) + slack, f"||H||_2 = {h2:.6e} > bound {b:.6e}"
    f = hessian_norm_bound_formula(W, z, loss, ls)
    assert abs(b - f) <= rel * max(abs(b), abs(f)) * 4 + 1e-300, f"bound {b!r} != formula {f!r}"


# --- the flow's field and its Jacobian (S-INV) ------------------------------------------------


def field_rounding(W: net.Weights, z: np.ndarray, loss: Loss, clock: str):
    """``(err_f, jac_round)``: rounding bounds of one field value and of each Jacobian column.

    ``err_f`` bounds ``||fl(f(y)) - f(y)||_2`` for ``f = -rho g_hat``:
    ``||Delta G|| <= (gamma(M) + rho_w) S_w sqrt(sum_l size_l Y_l^2)`` (entrywise bound of
    :func:`check_closed_form`), so ``g_hat`` errs by ``2 ||Delta G|| / ||G|| + (N + 4) eps``;
    ``rho`` by ``(N + 8) eps`` (lognorm: a norm, log1p, exp), 0 (arclength) or
    ``expm1(2 delta + 2 ||Delta G||/||G|| + (N + 8) eps + eps |log rho|)`` (risk: ``log R``
    to ``delta``, ``log ||G||`` to the rest).  Doubled: it is used at ``y +- h e_j``,
    within ~1e-5 of the field's length scale of y.

    ``jac_round[j]`` bounds the rounding of column j of
    ``J = -rho (I - g g^T) H / ||G|| - g (grad rho)^T``: the terms are formed before they
    cancel (the projection removes the component along g), so the error is relative
    to their size, not to J's: ``16 gamma(M)`` times
    ``rho 2 ||T e_j|| / ||G|| + |grad rho|_j`` with T the a-priori entrywise bound on H
    (:func:`hessian_symmetry_bound` without its ``2 gamma``) and ``|grad rho|_j`` =
    ``|y_j| / rho`` (lognorm), 0 (arclength), ``rho (||grad log R|| + ||T e_j|| / ||G||)`` (risk).
    """
    sc = Scales.of(W, z, loss)
    sg = net.layer_gradients(W, z, loss)
    N = sum(w.size for w in W)
    Y = np.array([prod_except(sc.nu, l) * sc.zmax for l in range(len(W))])
    sizes = np.array([w.size for w in W])
    dG = (gamma(sc.M) + sc.rho_w) * sc.s_w * math.sqrt(float(np.sum(sizes * Y**2)))
    gn = float(np.linalg.norm(net.flatten(sg.layers)))
    ghat_err = 2 * dG / gn + (N + 4) * EPS
    fe = flow.evaluate(W, z, loss, clock)
    rho = math.exp(fe.log_rho)
    T = hessian_symmetry_bound(W, z, loss) / (2 * gamma(sc.M))
    t_cols = np.linalg.norm(T, axis=0)
    y = net.flatten(W)
    if clock == "lognorm":
        rho_err = (N + 8) * EPS
        grad_rho = np.abs(y) / rho
    elif clock == "arclength":
        rho_err = 0.0
        grad_rho = np.zeros(N)
    else:
        rho_err = math.expm1(
            2 * sc.log_risk_err + 2 * dG / gn + (N + 8) * EPS + EPS * abs(fe.log_rho)
        )
        grad_rho = rho * (math.exp(fe.log_grad_norm - fe.log_risk) + t_cols / gn)
    err_f = 2 * rho * (ghat_err + rho_err + 2 * EPS)
    jac_round = 16 * gamma(sc.M) * (2 * rho * t_cols / gn + grad_rho)
    return err_f, jac_round


def check_field_jacobian(
    field_fn: Callable[[np.ndarray], np.ndarray],
    jac_fn: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    err_f: float,
    jac_round: np.ndarray,
) -> float:
    """Each column of ``jac(y)`` equals the central difference of the field; worst err/tol.

    ``D(h) = (f(y + h e) - f(y - h e)) / 2h = J e + (h^2/6) f''' + O(h^4)``, so
    ``D(h) - D(2h) = -(h^2/2) f''' + O(h^4)``: the truncation of ``D(h)`` is
    ``|D(h) - D(2h)| / 3`` to leading order (Richardson), and ``|D(h) - D(2h)|`` is
    allowed (a factor 3 for the ``h^2`` term, 15 for an ``h^4`` one).  Rounding: two
    field values err by ``err_f`` each (:func:`field_rounding`): ``err_f / h``; the
    rounded points ``fl(y_j +- h)`` move the midpoint by ``eps (|y_j| + h)`` and the
    step by ``eps/2`` relative: ``2 eps (|y_j|/h + 1) ||J e||`` (J as its own scale).
    The Jacobian's own rounding is ``jac_round[j]`` (:func:`field_rounding`).

    The length scale of f is ``l = ||f|| / ||J||_2``; ``f''' ~ ||f|| / l^3`` makes
    ``h = l (err_f / ||f||)^(1/3)`` balance truncation and rounding.  ``l`` is capped
    at ``max(1, ||y||)`` (J can vanish, e.g. for d = 1 where ``g_hat`` is constant).
    """
    f0 = field_fn(y)
    J = jac_fn(y)
    N = y.size
    assert J.shape == (N, N), f"Jacobian shape {J.shape} != {(N, N)}"
    assert np.all(np.isfinite(J)) and np.all(np.isfinite(f0))
    fn = float(np.linalg.norm(f0))
    jn = float(np.linalg.norm(J, 2))
    ell = min(fn / jn if jn > 0 else np.inf, max(1.0, float(np.linalg.norm(y))))
    h = ell * max(err_f / fn, EPS) ** (1 / 3)
    worst = 0.0

    def central(j: int, step: float) -> np.ndarray:
        yp, ym = y.copy(), y.copy()
        yp[j] += step
        ym[j] -= step
        return (field_fn(yp) - field_fn(ym)) / (yp[j] - ym[j])

    for j in range(N):
        d1, d2 = central(j, h), central(j, 2 * h)
        col = J[:, j]
        cn = float(np.linalg.norm(col))
        err = float(np.linalg.norm(d1 - col))
        tol = (
            float(np.linalg.norm(d1 - d2))
            + err_f / h
            + 2 * EPS * (abs(y[j]) / h + 1) * cn
            + float(jac_round[j])
        )
        assert err <= tol, (
            f"column {j}: Jacobian vs finite difference of the field: |err| {err:.3e} > "
            f"tol {tol:.3e} (|J e| {cn:.3e}, h={h:.2e})"
        )
        worst = max(worst, err / tol)
    return worst


@pytest.mark.parametrize("clock", flow.CLOCKS)
@given(problem=A2_PROBLEMS)
def test_field_jacobian_matches_finite_differences(clock: str, problem: strategies.Problem) -> None:
    """``_Field.jac`` is the Jacobian of ``_Field.__call__`` for every clock (the time change)."""
    W, z, loss = problem.weights, problem.z, problem.loss
    field = flow.Field([w.shape for w in W], z, loss, clock)
    y = net.flatten(W)
    err_f, jac_round = field_rounding(W, z, loss, clock)
    worst = check_field_jacobian(
        lambda v: field(0.0, v), lambda v: field.jac(0.0, v), y, err_f, jac_round
    )
    note(f"worst err/tol = {worst:.3e}")


# --- the asymptotic regime -------------------------------------------------------------------

ASYMPTOTIC_NORM = 1e12


@st.composite
def asymptotic_networks(draw):
    """Separable data and a network with ``w_prod`` classifying it, scaled to ``||w_prod|| = 1e12``.

    The network is a rank-one chain ``u_k u_{k-1}^T`` with ``u_0`` the data's witness
    (``w_prod = u_0``), plus Gaussian noise small enough to keep every margin positive;
    every layer is then multiplied by ``c = (1e12 / ||w_prod||)^(1/L)``.
    """
    drawn = draw(strategies.datasets(n=(1, 30), min_margin=0.3), label="data")
    widths = draw(strategies.architectures(drawn.d), label="widths")
    loss = draw(strategies.losses(), label="loss")
    noise = draw(st.sampled_from([0.0, 1e-3, 1e-2, 0.05]), label="noise")
    rng = np.random.default_rng(draw(strategies.seeds(), label="seed"))
    shapes = net.layer_shapes(drawn.d, widths)
    us = [drawn.witness / np.linalg.norm(drawn.witness)]
    for r, _ in shapes[:-1]:
        v = rng.standard_normal(r)
        us.append(v / np.linalg.norm(v))
    us.append(np.ones(1))
    W = [
        np.outer(us[k + 1], us[k]) + noise * rng.standard_normal(sh) / math.sqrt(sh[1])
        for k, sh in enumerate(shapes)
    ]
    w = my_w_prod(tuple(W))
    margins = drawn.data.z @ w
    assume(float(np.min(margins)) > 0.5 * drawn.margin_lower_bound * float(np.linalg.norm(w)))
    c = (ASYMPTOTIC_NORM / float(np.linalg.norm(w))) ** (1 / len(W))
    return drawn, loss, net.as_weights([c * M for M in W])


def check_asymptotic(
    grad_fn: GradFn,
    log_risk_fn: Callable[[net.Weights, np.ndarray, Loss], float],
    weights: net.Weights,
    z: np.ndarray,
    loss: Loss,
) -> float:
    """At ``||w_prod|| ~ 1e12`` every quantity is finite and the direction is right.

    Returns the direction's distance over its tolerance.  Any warning or
    floating-point overflow / invalid operation / division by zero is a failure
    (underflow to 0 is the right answer in log-domain code and is allowed).

    * ``log R`` lies in ``[-m_min - log n, -m_min]`` (for m >= 1e8 both losses have
      ``log loss(m) = -m`` to far below rounding), widened by the margins' rounding
      ``2 delta_m`` (ours and the library's; ``delta_m ~ gamma(sum d) 1e12 ~ 1e-3``)
      and ``8 eps m_min``;
    * ``log_scale = -m_min - log n`` likewise; ``log_norm`` finite;
    * the unit direction of the gradient: finite, unit, a descent direction for the
      margins (``<theta, G> = L <w, g> < 0``, Euler), the one ``flow.evaluate`` uses
      for every clock, and within the derived distance of a reference built from
      50-digit weights ``exp(-(m_i - m_min))`` on our margins: both sides' weights
      differ by ``omega = expm1(4 delta_m)`` relative, so
      ``||Delta g|| <= (omega + 2 gamma(n)) zmax sum_i w_i``, mapped by
      ``A: g -> (s_k (P_k g)^T)_k`` with ``||A|| <= sqrt(sum_k prod_{j != k} nu_j^2)``,
      plus the products' rounding ``2 gamma(M)`` on the same scale; the unit vectors
      differ by at most ``2 ||Delta G|| / ||G_ref||``.
    """
    W = net.as_weights(weights)
    n = z.shape[0]
    L = len(W)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                lr = log_risk_fn(W, z, loss)
                sg = grad_fn(W, z, loss)
                evals = {clock: flow.evaluate(W, z, loss, clock) for clock in flow.CLOCKS}
    except (FloatingPointError, RuntimeWarning) as exc:
        raise AssertionError(f"floating-point trouble at ||w_prod|| ~ 1e12: {exc}") from exc
    sc = Scales.of(W, z, loss)
    m = z @ my_w_prod(W)
    m_min = float(np.min(m))
    assert m_min > 1e8, m_min
    slack = 2 * sc.delta_m + 8 * EPS * m_min
    assert math.isfinite(lr), lr
    assert -m_min - math.log(n) - slack <= lr <= -m_min + slack, (lr, m_min)
    assert math.isfinite(sg.log_scale) and math.isfinite(sg.log_norm), sg
    assert abs(sg.log_scale - (-m_min - math.log(n))) <= slack, (sg.log_scale, m_min)
    assert all(np.all(np.isfinite(G)) for G in sg.layers)
    flat = net.flatten(sg.layers)
    fnorm = float(np.linalg.norm(flat))
    assert fnorm > 0 and math.isfinite(fnorm), fnorm
    direction = flat / fnorm
    assert abs(float(np.linalg.norm(direction)) - 1) <= 4 * gamma(flat.size)
    assert float(net.flatten(W) @ direction) < 0, "gradient must point to smaller margins"
    for clock, fe in evals.items():
        assert np.all(np.isfinite(fe.direction)) and math.isfinite(fe.log_rho), clock
        assert np.allclose(fe.direction, direction, rtol=0, atol=8 * gamma(flat.size)), clock
    # the reference direction
    with mp.workdps(50):
        wts = np.array([float(mp.exp(-(mp.mpf(float(mi)) - mp.mpf(m_min)))) for mi in m])
    g_ref = -(wts @ z)
    G_ref = net.flatten(tuple(np.outer(my_suffix(W, k), my_prefix(W, k) @ g_ref) for k in range(L)))
    omega = math.expm1(4 * sc.delta_m)
    a_norm = math.sqrt(sum(prod_except(sc.nu, k) ** 2 for k in range(L)))
    dG = a_norm * sc.zmax * float(np.sum(wts)) * (omega + 2 * gamma(n) + 2 * gamma(sc.M))
    angle_tol = 2 * dG / float(np.linalg.norm(G_ref))
    dist = float(np.linalg.norm(direction - G_ref / np.linalg.norm(G_ref)))
    assert angle_tol < 1.0, "the tolerance would be vacuous: the construction is too loose"
    assert dist <= angle_tol, f"direction off the reference by {dist:.3e} > {angle_tol:.3e}"
    return dist / angle_tol


@given(case=asymptotic_networks())
def test_asymptotic_regime_is_finite_and_directed(case) -> None:
    """Far into the asymptotic regime the log-domain risk and gradient stay exact."""
    drawn, loss, W = case
    r = check_asymptotic(net.layer_gradients, net.log_risk, W, drawn.data.z, loss)
    note(f"direction distance / tolerance = {r:.3e}")


# --- input errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "kwargs", "words"),
    [
        ([], {}, ["depth", "at least one layer"]),
        ([np.ones((3, 2)), np.ones((1, 4))], {}, ["do not chain", "W_2", "4 columns", "3 rows"]),
        ([np.ones((2, 3))], {}, ["output layer", "one row", "(2, 3)"]),
        ([np.ones((2, 3)), np.ones((2, 2))], {}, ["output layer", "one row"]),
        ([np.ones(3)], {}, ["W_1", "2-D"]),
        ([np.ones((2, 3)), np.ones((1, 2, 1))], {}, ["W_2", "2-D"]),
        ([np.array([[1.0, np.nan]])], {}, ["W_1", "NaN"]),
        ([np.ones((2, 2)), np.array([[np.inf, 1.0]])], {}, ["W_2", "inf"]),
        ([np.ones((1, 3))], {"d": 4}, ["3 columns", "d = 4"]),
    ],
    ids=["depth0", "chain", "two-row-output", "two-row-output-L2", "1-D", "3-D", "nan", "inf", "d"],
)
def test_as_weights_rejects_bad_layers(layers, kwargs, words) -> None:
    with pytest.raises(ArchitectureError) as info:
        net.as_weights(layers, **kwargs)
    msg = str(info.value)
    for word in words:
        assert word in msg, f"{word!r} missing from {msg!r}"
    assert isinstance(info.value, ValueError)


def test_layer_shapes_rejects_bad_widths() -> None:
    with pytest.raises(ArchitectureError, match="d=0"):
        net.layer_shapes(0, [])
    with pytest.raises(ArchitectureError, match="width"):
        net.layer_shapes(3, [2, 0])
    assert net.layer_shapes(3, [4, 2]) == [(4, 3), (2, 4), (1, 2)]


@given(problem=PROBLEMS)
def test_as_weights_copies_and_round_trips(problem: strategies.Problem) -> None:
    W = problem.weights
    src = [w.copy() for w in W]
    out = net.as_weights(src, d=problem.drawn.d)
    src[0][...] = 7.0  # the frozen tuple holds copies
    assert all(np.array_equal(a, b) for a, b in zip(out, W, strict=True))
    assert [w.shape for w in out] == problem.shapes
    back = net.unflatten(net.flatten(out), problem.shapes)
    assert all(np.array_equal(a, b) for a, b in zip(back, out, strict=True))


def _simple_data() -> tuple[np.ndarray, np.ndarray]:
    z = np.array([[0.6, 0.2], [0.5, -0.3], [0.7, 0.1]])
    return z, np.array([1.0, 0.0])  # z and a unit vector classifying it


@pytest.mark.parametrize("loss", [EXPONENTIAL, LOGISTIC], ids=["exp", "logistic"])
def test_require_a2_constructed(loss: Loss) -> None:
    """A2 checked: zero gradient and risk above R(0) raise; S-A2a (W_1 = 0) passes."""
    z, u = _simple_data()
    # two zero layers: every dR/dW_k has a zero factor
    zeros = net.as_weights([np.zeros((2, 2)), np.zeros((2, 2)), np.ones((1, 2))])
    with pytest.raises(AssumptionError, match=r"grad R\(W\(0\)\) = 0"):
        net.require_a2(zeros, z, loss)
    # w_prod = -u: R(W(0)) > R(0)
    bad = net.as_weights([-np.outer([1.0], u)])
    with pytest.raises(AssumptionError, match=r"exceeds R\(0\)"):
        net.require_a2(bad, z, loss)
    # S-A2a: W_1 = 0, the rest nonzero: R(W(0)) = R(0) exactly and grad != 0
    ok = net.as_weights([np.zeros((2, 2)), np.array([[0.3, -0.2]])])
    net.require_a2(ok, z, loss)
    assert net.satisfies_a2(ok, z, loss)
    # L = 1 from zero (the S-A2a chain is empty)
    net.require_a2(net.as_weights([np.zeros((1, 2))]), z, loss)


@given(problem=strategies.problems(kinds=("zero_first", "a2_violating")))
def test_require_a2_on_drawn_inits(problem: strategies.Problem) -> None:
    """S-A2a inits pass ``require_a2``; every A2-violating init raises with its reason."""
    W, z, loss = problem.weights, problem.z, problem.loss
    if problem.init.satisfies_a2:
        assert problem.init.name == "zero_first"
        net.require_a2(W, z, loss)
        return
    with pytest.raises(AssumptionError) as info:
        net.require_a2(W, z, loss)
    msg = str(info.value)
    if "zero_gradient" in problem.init.description:
        assert "grad R(W(0)) = 0" in msg
    else:
        assert "exceeds R(0)" in msg


# --- negative controls ---------------------------------------------------------------------


def _meta_problem() -> tuple[net.Weights, np.ndarray]:
    """Fixed: d = 3, widths (3, 2) (layer 1 square), n = 5 separable points."""
    rng = np.random.default_rng(12345)
    u = np.array([0.6, 0.0, 0.8])
    q = rng.standard_normal((5, 3))
    q -= np.outer(q @ u, u)
    z = 0.3 * u + 0.5 * q / np.linalg.norm(q, axis=1, keepdims=True)
    W = net.as_weights([rng.standard_normal(s) * 0.7 for s in net.layer_shapes(3, [3, 2])])
    return W, z


def _planted(transform: Callable[[net.ScaledGradient, np.ndarray], net.ScaledGradient]) -> GradFn:
    def grad_fn(W, z, loss):
        return transform(net.layer_gradients(W, z, loss), z)

    return grad_fn


def _transposed(sg, z):
    return dataclasses.replace(sg, layers=(sg.layers[0].T, *sg.layers[1:]))


def _transposed_last(sg, z):
    return dataclasses.replace(sg, layers=(*sg.layers[:-1], sg.layers[-1].T))


def _misscaled(sg, z):
    return dataclasses.replace(sg, layers=(sg.layers[0], 2.0 * sg.layers[1], *sg.layers[2:]))


def _dropped_one_over_n(sg, z):
    return dataclasses.replace(sg, log_scale=sg.log_scale + math.log(z.shape[0]))


PLANTED = {
    "transposed": _transposed,
    "transposed-shape": _transposed_last,
    "misscaled-by-2": _misscaled,
    "dropped-1/n": _dropped_one_over_n,
}


@pytest.mark.meta
@pytest.mark.parametrize("loss", [EXPONENTIAL, LOGISTIC], ids=["exp", "logistic"])
@pytest.mark.parametrize("bug", PLANTED)
def test_meta_fd_check_catches_planted_gradient_bugs(bug: str, loss: Loss) -> None:
    W, z = _meta_problem()
    check_layer_gradients_fd(net.layer_gradients, W, z, loss)  # the real one passes
    with pytest.raises(AssertionError):
        check_layer_gradients_fd(_planted(PLANTED[bug]), W, z, loss)


@pytest.mark.meta
@pytest.mark.parametrize("bug", ["misscaled-by-2", "dropped-1/n", "transposed"])
def test_meta_closed_form_and_euler_catch_planted_bugs(bug: str) -> None:
    W, z = _meta_problem()
    check_closed_form(net.layer_gradients, W, z, LOGISTIC)
    check_euler(net.layer_gradients, W, z, LOGISTIC)
    with pytest.raises(AssertionError):
        check_closed_form(_planted(PLANTED[bug]), W, z, LOGISTIC)
    if bug != "transposed":  # <W_1, G_1^T> = <W_1^T, G_1>: Euler is blind to it
        with pytest.raises(AssertionError):
            check_euler(_planted(PLANTED[bug]), W, z, LOGISTIC)


def _hessian_without_coupling(W, z, loss, log_scale):
    """The Gauss-Newton part only: drops ``sum_j (grad r)_j Hess (w_prod)_j``."""
    P = net.prefix_products(W)
    s = net.suffix_vectors(W)
    w = W[-1][0] @ P[-1]
    J = np.concatenate(
        [np.einsum("a,bi->abi", s[k], P[k]).reshape(-1, w.size) for k in range(len(W))]
    ).T
    return J.T @ net.scaled_hessian_vec(w, z, loss, log_scale) @ J


@pytest.mark.meta
def test_meta_hessian_check_catches_missing_coupling() -> None:
    W, z = _meta_problem()
    dirs = list(_coordinate_directions(W))
    check_hessian_fd(net.scaled_hessian, net.layer_gradients, W, z, EXPONENTIAL, dirs)
    with pytest.raises(AssertionError):
        check_hessian_fd(_hessian_without_coupling, net.layer_gradients, W, z, EXPONENTIAL, dirs)
    with pytest.raises(AssertionError):  # a Hessian at the wrong scale (factor e)
        check_hessian_fd(
            lambda *a: net.scaled_hessian(*a[:3], a[3] + 1.0),
            net.layer_gradients,
            W,
            z,
            EXPONENTIAL,
            dirs,
        )


@pytest.mark.meta
@pytest.mark.parametrize("clock", flow.CLOCKS)
def test_meta_field_jacobian_check_catches_dropped_terms(clock: str) -> None:
    W, z = _meta_problem()
    field = flow.Field([w.shape for w in W], z, LOGISTIC, clock)
    y = net.flatten(W)
    err_f, jac_round = field_rounding(W, z, LOGISTIC, clock)

    def f(v):
        return field(0.0, v)

    check_field_jacobian(f, lambda v: field.jac(0.0, v), y, err_f, jac_round)

    def no_projection(v):  # forgets the normalisation's (I - g g^T)
        fe = flow.evaluate(net.unflatten(v, field.shapes), z, LOGISTIC, clock)
        gn = np.linalg.norm(net.flatten(fe.grad.layers))
        H = net.scaled_hessian(net.unflatten(v, field.shapes), z, LOGISTIC, fe.grad.log_scale)
        rho = math.exp(fe.log_rho)
        return field.jac(0.0, v) - rho * np.outer(fe.direction, fe.direction @ H) / gn

    with pytest.raises(AssertionError):
        check_field_jacobian(f, no_projection, y, err_f, jac_round)
    with pytest.raises(AssertionError):  # a Jacobian off by 1 %
        check_field_jacobian(f, lambda v: 1.01 * field.jac(0.0, v), y, err_f, jac_round)


def _naive_log_risk(W, z, loss):
    """log of the plain-domain mean loss: underflows to log(0) at large margins."""
    return float(np.log(np.mean(loss.value(z @ net.end_to_end(W)))))


def _naive_gradient(W, z, loss):
    """Unscaled plain-domain gradient: loss' underflows to 0, so the direction is lost."""
    P, s = net.prefix_products(W), net.suffix_vectors(W)
    g = (loss.d1(z @ net.end_to_end(W)) @ z) / z.shape[0]
    layers = tuple(np.outer(s[k], P[k] @ g) for k in range(len(W)))
    sq = sum(float(np.vdot(G, G)) for G in layers)
    return net.ScaledGradient(0.0, g, layers, 0.5 * math.log(sq) if sq > 0 else -math.inf)


@pytest.mark.meta
@pytest.mark.parametrize("loss", [EXPONENTIAL, LOGISTIC], ids=["exp", "logistic"])
def test_meta_asymptotic_check_catches_plain_domain_code(loss: Loss) -> None:
    z, u = _simple_data()
    c = (ASYMPTOTIC_NORM / math.sqrt(2)) ** (1 / 3)
    W = net.as_weights([c * np.eye(2), c * np.eye(2), c * u[None, :] + c * np.array([[0, 0.1]])])
    check_asymptotic(net.layer_gradients, net.log_risk, W, z, loss)
    with pytest.raises(AssertionError, match="floating-point"):
        check_asymptotic(net.layer_gradients, _naive_log_risk, W, z, loss)
    with pytest.raises(AssertionError):
        check_asymptotic(_naive_gradient, net.log_risk, W, z, loss)
