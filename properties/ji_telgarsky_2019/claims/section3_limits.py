"""S-T4 (Theorem 4: GD under A5 converges in direction to ubar), as far as a finite run
shows it: the sign of every margin once ``R < loss(0)/n``, and Lemma 4's engine
``Phi(t+1) - Phi(t) <= eta^2 ||G_1||_F^2`` wherever its hypothesis holds.
"""

from __future__ import annotations

import math

import numpy as np

from invariants.core import lemma4 as l4
from invariants.core import limits
from invariants.core.losses import LOGISTIC
from invariants.core.maxmargin import perp
from invariants.core.rounding import EPS
from invariants.dynamics import gd
from invariants.statements import Slack


def phi_perp(W1: np.ndarray, ubar: np.ndarray) -> float:
    """``||W_1 P_perp||_F^2``: the squared norm of W_1's rows' parts orthogonal to ubar."""
    return float(np.sum(perp(W1, ubar) ** 2))


def t4_sign_tolerance(log_thr: float, n: int) -> float:
    """Rounding of ``log R`` near ``log(loss(0) / n)`` (S-T4's sign): ``8 eps (|log_thr| +
    log n + 1)`` -- log R is computed to a few eps times ``|log R| + log n``."""
    return 8 * EPS * (abs(log_thr) + math.log(n) + 1)


def t4_engine_allowance(growth: float, d: int, p0: float, p1: float) -> float:
    """S-T4's allowed growth of ``Phi = ||W_1 P_perp||_F^2`` in one step: ``eta^2 ||G_1||^2``
    plus ``4 d eps (Phi(t) + Phi(t+1))`` (a sum of squares of sizes up to Phi, each perp'd
    with relative error ~ d eps)."""
    return growth + 4 * d * EPS * (p0 + p1)


def check_s_t4(tr: gd.GDTrajectory, mm, K: float) -> tuple[Slack, int]:
    """S-T4's finite content on one GD run: the sign, and the Lemma 4 engine (the
    derivation is in properties/ji_telgarsky_2019/test_section3_limits.py's docstring).

    Returns the slack of the engine (``(Phi(t+1) - Phi(t)) / allowed``, worst
    step) and the number of steps at which Lemma 4's hypothesis held.
    """
    z = tr.z
    n, d = z.shape
    wp = limits.wprod_path(tr.weights)
    # The sign: from the first t with log R < log(loss(0)/n), every margin > 0.
    # Rounding: log R is computed to a few eps times |log R| + log n (A2_RTOL's
    # derivation in invariants.core.a2), so the threshold is lowered by that.
    log_thr = float(np.log(LOGISTIC.value(0.0))) - math.log(n)
    below = np.flatnonzero(tr.log_risk < log_thr - t4_sign_tolerance(log_thr, n))
    if below.size:
        margins = wp[below[0] :] @ z.T
        bad = np.argwhere(margins <= 0)
        assert bad.size == 0, (
            f"S-T4: at step {below[0] + bad[0][0]} a margin is <= 0 although R < loss(0)/n "
            f"was reached at step {below[0]}"
        )

    # The engine: Phi grows by at most eta^2 ||G_1||_F^2 wherever Lemma 4 applies.
    # The worst ratio starts at -inf: a Phi that fell at every step gives a negative
    # slack (observed growth below 0 <= allowed), not a floor of 0.
    applied, worst = 0, -math.inf
    for s in range(tr.steps):
        w = wp[s]
        wperp = perp(w, mm.ubar)
        if not (w @ mm.ubar >= 0 and np.linalg.norm(wperp) >= K):
            continue
        applied += 1
        sign = l4.perp_gradient_sign(w, z, mm.ubar, LOGISTIC)
        assert sign >= 0, (
            f"S-T4/S-L4: Lemma 4's sign condition fails at step {s} (log N - log P = {sign:.3g})"
        )
        p0, p1 = phi_perp(tr.weights[s][0], mm.ubar), phi_perp(tr.weights[s + 1][0], mm.ubar)
        growth = tr.eta[s] ** 2 * tr.grad_sq_layers[s, 0]
        allowed = t4_engine_allowance(growth, d, p0, p1)
        assert p1 - p0 <= allowed, (
            f"S-T4: ||W_1 P_perp||_F^2 grew by {p1 - p0:.3e} > eta^2 ||G_1||^2 = {growth:.3e} "
            f"at step {s}, where Lemma 4 applies"
        )
        worst = max(worst, (p1 - p0) / allowed)
    # Exercised: Lemma 4's hypothesis (``<w, ubar> >= 0`` and ``||w_perp|| >= K``) held at
    # some step, so the engine's inequality was asserted; elsewhere only the sign was.
    slack = Slack(
        "S-T4",
        worst if applied else None,
        f"{applied} steps under Lemma 4 of {tr.steps}",
        exercised=applied > 0,
    )
    return slack, applied
