"""Lemma 5 (S-L5: smoothness beta(R) on the ball B(R)) and Lemma 6 (S-L6: a constant
step leaves the ball in bounded time), as checks returning :class:`Slack`.

Each tolerance is derived in the docstring of its check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from invariants.core import network as net
from invariants.core.losses import Loss
from invariants.core.rounding import EPS
from invariants.dynamics import gd
from invariants.statements import Slack
from properties.ji_telgarsky_2019.claims import certified

#: Compute budget of :func:`check_s_l6`, in GD steps.  It is a cap on the work,
#: not a tolerance: Lemma 6 only says "eventually", and its explicit bound
#: (:func:`exit_time_bound`) is usually far beyond anything simulable (it grows
#: like ``1/(delta gamma)^2``).  Measured before this test was fixed: 1000
#: random draws from :data:`L6_PROBLEMS` left ``B(R)`` after 1 to 1815 steps
#: (median 38); the budget is 11 times the largest (the regime's choice is
#: explained beside :data:`L6_PROBLEMS`).  A failure on the budget reports the
#: norm reached; it is not to be "fixed" by raising the budget without saying
#: so in the report.
L6_BUDGET = 20_000


def full_gradient(weights: net.Weights, z: np.ndarray, loss: Loss) -> np.ndarray:
    """``grad R(W)`` over ``flatten(W)``: the layer gradients GD uses, unscaled.

    ``dR/dW_k = exp(log_scale) * layers[k]`` (:func:`invariants.core.network.layer_gradients`,
    looked up on the module so that the meta-tests can plant a bug in it).
    """
    g = net.layer_gradients(weights, z, loss)
    return float(np.exp(g.log_scale)) * net.flatten(g.layers)


def l5_rounding(weights: net.Weights, z: np.ndarray, loss: Loss, radius: float) -> float:
    """Bound on ``||computed grad R(W) - grad R(W)||`` for ``W in B(R)``.

    With ``m`` the largest layer dimension, ``u = eps``, every ``||W_k||_2 <= R``
    and ``||z_i|| <= 1``:

    * the prefix products ``P_k = W_{k-1}...W_1``, the suffixes ``s_k`` and
      ``w_prod`` are products of at most L matrices: each carries an error of
      at most ``L m u`` relative to ``prod ||W_j||_F`` (the usual ``gamma_{Lm}``
      of a chain of matrix products);
    * so each margin ``<w_prod, z_i>`` errs by ``(L m + d) u R^L``; ``loss'`` moves
      by ``beta`` times that, i.e. ``|loss'|`` by at most
      ``beta (L m + d) u R^L`` absolutely (relative: ``|loss''/loss'| <= 1`` for
      the logistic loss); exp/log of the log-domain weights add ``8 u`` relative;
    * ``grad R(w) = (1/n) sum_i loss'(m_i) z_i`` adds ``(n + d) u G``;
    * the outer product ``s_k (P_k g)^T`` with ``||s_k|| ||P_k|| <= R^(L-1)``
      adds ``2 L m u`` relative, and there are L layers (``sqrt(L)`` in norm).

    Total: ``sqrt(L) R^(L-1) [G (n + d + 2 L m + 8) u + beta (L m + d) u R^L]``,
    doubled for the second-order terms and the constants of the ``gamma_k``
    bounds.
    """
    L = len(weights)
    m = max(max(W.shape) for W in weights)
    n, d = z.shape
    beta = float(loss.beta)
    G = float(loss.G)
    per = G * (n + d + 2 * L * m + 8) * EPS + beta * (L * m + d) * EPS * radius**L
    return 2.0 * math.sqrt(L) * radius ** (L - 1) * per


def l5_ratio(
    z: np.ndarray, W: net.Weights, V: net.Weights, loss: Loss, radius: float
) -> tuple[float, float]:
    """``(ratio, allowed)``: the S-L5 ratio and the ratio the rounding allows.

    ``ratio = ||g(W) - g(V)|| / (beta(R) ||W - V||)`` with ``beta(R)`` looked up
    as ``gd.beta_of_radius`` (planted bugs monkeypatch it).  Exactly,
    ``ratio <= 1``; computed, the gradient difference carries both gradients'
    rounding (:func:`l5_rounding`) and ``||W - V||`` its own ``(p + 2) u``
    relative error (``p`` parameters: the subtraction and the 2-norm).
    """
    L = len(W)
    b = gd.beta_of_radius(radius, L, loss)
    diff = float(np.linalg.norm(full_gradient(W, z, loss) - full_gradient(V, z, loss)))
    dw = net.flatten(W) - net.flatten(V)
    dist = float(np.linalg.norm(dw))
    if dist == 0.0:
        return 0.0, 1.0
    rnd = l5_rounding(W, z, loss, radius) + l5_rounding(V, z, loss, radius)
    allowed = (1.0 + rnd / (b * dist)) * (1.0 + (dw.size + 2) * EPS)
    return diff / (b * dist), allowed


def check_s_l5(z: np.ndarray, W: net.Weights, V: net.Weights, loss: Loss, radius: float) -> Slack:
    """S-L5: ``||grad R(W) - grad R(V)|| <= beta(R) ||W - V||`` for ``W, V in B(R)``."""
    for name, X in (("W", W), ("V", V)):
        assert gd.in_ball(X, radius), f"test bug: {name} is not in B({radius})"
    ratio, allowed = l5_ratio(z, W, V, loss, radius)
    assert ratio <= allowed, (
        f"S-L5: ||grad R(W) - grad R(V)|| / (beta(R) ||W - V||) = {ratio:.6g} > {allowed:.6g} "
        f"(R = {radius:.6g}, L = {len(W)}, beta(R) = {gd.beta_of_radius(radius, len(W), loss):.4g})"
    )
    # Exercised: W and V differ, so the Lipschitz quotient was formed (W = V is 0 <= 0).
    slack = Slack(
        "S-L5",
        ratio,
        f"R={radius:.4g} L={len(W)} ||W-V||={np.linalg.norm(net.flatten(W) - net.flatten(V)):.3g}",
        exercised=bool(np.any(net.flatten(W) != net.flatten(V))),
    )
    return certified.certified_slack(slack, certified.certify_s_l5(z, W, V, loss, radius))


@dataclass(frozen=True)
class ExitBound:
    """Lemma 6's bound on the exit step, made explicit, evaluated from step ``t``."""

    t: int
    bound: float  # first exit step <= bound (inf when the bound is not available at t)
    delta: float  # loss(0) - R(W(t)), certified lower bound
    eps_grad: float  # lower bound on ||grad R|| on B(R) below the risk R(W(t))


def exit_time_bound(
    t: int, log_risk: float, radius: float, depth: int, loss: Loss, gamma: float, rho: float
) -> ExitBound:
    """Lemma 6's proof with its constants: if ``W(0..t)`` lie in ``B(R)``, GD leaves by step ``T*``.

    For ``W in B(R)`` with ``R(W) <= R(W(t)) = loss(0) - delta``, ``delta > 0``
    (A1-A2, logistic loss, ``||z_i|| <= 1``, max margin ``gamma``):

    1. convexity of the risk in ``w = w_prod``:
       ``R(w) >= R(0) + <grad R(0), w> >= loss(0) - |loss'(0)| ||w||``,
       so ``||w|| >= delta / |loss'(0)|``;
    2. ``w = W_1^T s_1`` with ``s_1^T = W_L ... W_2`` and ``||W_1||_2 <= R``:
       ``||s_1|| >= ||w|| / R``;
    3. every margin satisfies ``|m_i| <= ||w|| <= R^L``, and ``|loss'|`` is
       decreasing, so ``||grad R(w)|| >= <-grad R(w), ubar> >= gamma |loss'(R^L)|``;
    4. ``dR/dW_1 = s_1 grad R(w)^T`` (rank one), so
       ``||grad R(W)|| >= eps := delta gamma |loss'(R^L)| / (|loss'(0)| R)``.
    5. Lemma 5 with ``eta = 1/beta(R)`` (the descent lemma on the convex set
       ``B(R)``): while ``W(s), W(s+1) in B(R)``,
       ``R(W(s+1)) <= R(W(s)) - eps^2 / (2 beta(R))`` and the risk keeps
       falling, so ``delta`` only grows and ``eps`` stays valid.  The risk on
       ``B(R)`` is at least ``loss(R^L)``.  The computed iterate differs from
       the exact step from the computed ``W(s)``; ``rho`` bounds what that moves
       the risk by per step (:func:`l6_rounding`) and is charged against the
       decrease.

    Hence at most ``(R(W(t)) - loss(R^L)) / (eps^2/(2 beta) - rho)`` further
    steps stay in ``B(R)``, and the first exit step is at most ``T* = t + that + 1``.
    ``delta`` is the computed ``loss(0) - R(W(t))`` less the rounding of
    ``exp(log R)`` (``16 u`` relative); ``T* = inf`` when ``delta <= 0`` (e.g. at
    ``t = 0`` for ``W_1(0) = 0``) or the decrease does not beat ``rho``.
    """
    L = depth
    risk = math.exp(log_risk)
    loss0 = float(loss.value(0.0))
    delta = loss0 - risk - 16 * EPS * loss0
    if delta <= 0 or gamma <= 0:
        return ExitBound(t, math.inf, delta, 0.0)
    top = radius**L
    # |loss'(R^L)| = exp(log_neg_d1), finite in log-domain; may underflow -> no bound.
    log_eps = math.log(delta * gamma / (abs(float(loss.d1(0.0))) * radius)) + float(
        loss.log_neg_d1(top)
    )
    if log_eps < -300:
        return ExitBound(t, math.inf, delta, 0.0)
    eps_grad = math.exp(log_eps)
    beta = gd.beta_of_radius(radius, L, loss)
    decrease = eps_grad**2 / (2 * beta) - rho
    if decrease <= 0:
        return ExitBound(t, math.inf, delta, eps_grad)
    floor_risk = float(loss.value(top))
    steps_inside = risk * (1 + 16 * EPS) - floor_risk
    return ExitBound(t, t + steps_inside / decrease + 1, delta, eps_grad)


def l6_rounding(
    z: np.ndarray, weights: net.Weights, loss: Loss, radius: float, eta: float
) -> float:
    """``rho``: how far one computed GD step's rounding can move the risk, on ``B(R)``.

    The computed ``W(s+1)`` differs from the exact step from the computed
    ``W(s)`` by the gradient's rounding times ``eta`` (:func:`l5_rounding`) plus
    the rounding of ``W - eta G`` (``u`` relative per entry, ``u sqrt(L) R`` in
    norm); the risk is Lipschitz with constant
    ``sup_{B(R)} ||grad R|| <= sqrt(L) R^(L-1) G`` (each ``||dR/dW_k|| <= ||s_k|| ||P_k|| G``).
    """
    L = len(weights)
    lip = math.sqrt(L) * radius ** (L - 1) * float(loss.G)
    return lip * (EPS * math.sqrt(L) * radius + eta * l5_rounding(weights, z, loss, radius))


def check_s_l6(
    z: np.ndarray,
    initial: net.Weights,
    loss: Loss,
    gamma: float,
    *,
    budget: int = L6_BUDGET,
    gradient=None,
) -> Slack:
    """S-L6: GD with the constant step ``1/beta(R)`` leaves ``B(R)``.

    ``R = max(1, max_k ||W_k(0)||_F)``, ``eta = 1/beta(R)`` (Lemma 6's setting).
    GD runs (``gd.gradient_descent(rule="fixed")``, in chunks continued from
    the last iterate) until ``max_k ||W_k(t)||_F > R (1 + (m + 2) u)`` -- a
    certified exit: the computed Frobenius norm errs by ``(m + 2) u``
    relative, ``m`` the largest layer size.  Asserted:

    * the exit comes no later than Lemma 6's explicit bound
      ``min_s T*(s)`` over the steps ``s`` spent inside (:func:`exit_time_bound`,
      ``gamma`` a certified lower bound on the max margin): a violation
      contradicts Lemma 5/6 (or the gradient GD uses is wrong);
    * and within ``budget`` steps (a compute cap; the message gives the norm
      reached).

    Returns ``Slack("S-L6", exit / min T*)``: how early GD leaves compared with
    the proof's bound.  ``gradient`` is handed to ``gradient_descent`` (planted
    bugs).
    """
    W0 = net.as_weights(initial, d=z.shape[1])
    L = len(W0)
    radius = max(1.0, gd.max_frobenius(W0))
    eta = 1.0 / gd.beta_of_radius(radius, L, loss)
    m = max(W.size for W in W0)
    out = radius * (1.0 + (m + 2) * EPS)  # computed norm above this: certainly outside
    inside = radius * (1.0 - (m + 2) * EPS)  # computed norm below this: certainly inside
    rho = l6_rounding(z, W0, loss, radius, eta)
    best = ExitBound(0, math.inf, 0.0, 0.0)
    t, W, chunk, first, peak = 0, W0, 64, True, gd.max_frobenius(W0)
    while True:
        steps = min(chunk, budget - t)
        if steps <= 0:
            break
        tr = gd.gradient_descent(
            z, W, loss, steps, rule="fixed", eta=eta, check_a2=first, gradient=gradient
        )
        first = False
        for j in range(0 if t == 0 else 1, tr.steps + 1):
            s = t + j
            F = gd.max_frobenius(tr.weights[j])
            peak = max(peak, F)
            if F > out:
                assert s <= best.bound, (
                    f"S-L6: GD left B(R) only at step {s}, after Lemma 6's bound "
                    f"T* = {best.bound:.6g} (from step {best.t}: delta = {best.delta:.3e}, "
                    f"eps = {best.eps_grad:.3e}); R = {radius:.6g}, eta = {eta:.4g}"
                )
                # Exercised: Lemma 6's bound T* was finite somewhere inside, so a late
                # exit would have failed; with T* = inf only the budget cap was asserted.
                slack = Slack(
                    "S-L6",
                    s / best.bound,
                    f"exit at step {s} (R={radius:.4g}, L={L}, eta={eta:.3g}); "
                    f"Lemma 6 bound {best.bound:.3g}",
                    exercised=math.isfinite(best.bound),
                )
                exit_cert = certified.certify_s_l6_exit(z, tr.weights[j - 1], loss, radius, eta)
                return certified.certified_slack(slack, exit_cert)
            # Inside at step s needs s <= T* - 1 (T* bounds the first step outside).
            assert s <= best.bound - 1, (
                f"S-L6: still in B(R) at step {s} >= Lemma 6's bound T* = {best.bound:.6g} "
                f"(from step {best.t}: delta = {best.delta:.3e}, eps = {best.eps_grad:.3e}); "
                f"R = {radius:.6g}, eta = {eta:.4g}, max_k ||W_k||_F = {F:.12g}"
            )
            if F <= inside:  # certainly in B(R): the bound's premise holds at s
                b = exit_time_bound(s, float(tr.log_risk[j]), radius, L, loss, gamma, rho)
                if b.bound < best.bound:
                    best = b
        t += tr.steps
        W = tr.weights[-1]
        chunk = min(2 * chunk, 4096)
    raise AssertionError(
        f"S-L6: GD with eta = 1/beta(R) = {eta:.4g} did not leave B(R), R = {radius:.6g}, "
        f"within the budget of {budget} steps: max_k ||W_k(t)||_F reached {peak:.12g} "
        f"(Lemma 6's explicit bound: {best.bound:.4g} steps)"
    )
