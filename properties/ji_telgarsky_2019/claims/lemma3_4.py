"""Assertions of Lemma 3 (S-L3) and Lemma 4 (S-L4), shared by the properties and their controls.

Each ``check_*`` function asserts its statement with a tolerance derived from
rounding (derivation next to it) and returns a
:class:`~invariants.statements.Slack` whose ratio ``observed / allowed`` is
<= 1 when the statement held.  The negative controls of
``test_lemma3_4_controls.py`` call the very same functions on planted bugs and
expect :class:`AssertionError`.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from invariants.core.lemma4 import L4Search, perp_gradient_sign
from invariants.core.losses import Loss
from invariants.core.maxmargin import MaxMargin, perp
from invariants.core.rounding import EPS
from invariants.core.theta import (
    Theta,
    check_theta_certificate,
    support_radius,
    theta_forward_tolerance,
)
from invariants.errors import CertificateError
from invariants.statements import Slack
from properties.ji_telgarsky_2019.claims import certified

# --- S-L3 ----------------------------------------------------------------------------------------


def check_s_l3(z: np.ndarray, mm: MaxMargin, th: Theta) -> Slack:
    """S-L3: under A3, ``theta > 0``, certified (upper-bound witness and facet lower bound).

    The certificate (:func:`invariants.core.theta.check_theta_certificate`) is
    converted to an assertion; its worst ``residual / tolerance`` is the slack.
    """
    try:
        cert = check_theta_certificate(z, mm, th)
    except CertificateError as exc:
        raise AssertionError(f"S-L3: {exc}") from exc
    assert th.a3, f"S-L3: A3 reported as failing on data built to satisfy it: {th.reason}"
    assert th.value > 0, f"S-L3: theta = {th.value!r} is not > 0 ({th.method} path): {th.reason}"
    slack = Slack(
        "S-L3",
        cert.worst_ratio,
        f"theta = {th.value:.6g} ({th.method}); worst certificate residual {cert.worst}",
        # Exercised: theta > 0 and every certificate residual are asserted on this data.
        exercised=True,
    )
    return certified.certified_slack(slack, certified.certify_s_l3(z, mm, th))


def check_s_l3_rank_deficient(z: np.ndarray, mm: MaxMargin, th: Theta) -> Slack:
    """S-L3 / A3 needed: support vectors that do not span R^d give theta = 0, detected.

    Asserted: ``a3`` is False, the value is exactly 0, and the certificate (a
    unit ``xi perp ubar`` orthogonal to every support vector) passes.
    """
    assert not th.a3, f"S-L3: A3 reported as holding on rank-deficient support: {th.reason}"
    assert th.value == 0.0 and th.method == "rank-deficient", (
        f"S-L3: theta = {th.value!r} via {th.method} on rank-deficient support vectors"
    )
    try:
        cert = check_theta_certificate(z, mm, th)
    except CertificateError as exc:
        raise AssertionError(f"S-L3: {exc}") from exc
    return Slack(
        "S-L3", cert.worst_ratio, f"rank {th.rank} < d: theta = 0 detected", exercised=True
    )


def check_s_l3_sampled(z: np.ndarray, mm: MaxMargin, th: Theta, directions: np.ndarray) -> Slack:
    """S-L3's lower bound, sampled: ``h(xi) >= theta - tol`` for unit ``xi perp ubar``.

    ``directions`` are arbitrary rows; each is projected on ``ubar^perp`` with
    :func:`~invariants.core.maxmargin.perp` (independent of theta's basis) and
    normalised (rows nearly parallel to ubar are dropped).  ``h(xi) >= theta_exact``
    holds exactly for every such xi (theta is a minimum), so only rounding is
    allowed: the forward error of theta (:func:`theta_forward_tolerance`) plus
    ``2 (d + 2) eps rho`` for computing h.  Slack: the observed deficit over the allowed one,
    ``max(0, theta - min h) / tol`` (0 when no sampled direction goes below theta).
    """
    d = np.asarray(z).shape[1]
    raw = np.asarray(directions, dtype=np.float64)
    xs = perp(raw, mm.ubar)
    nx = np.linalg.norm(xs, axis=1)
    keep = nx > 1e-6 * np.linalg.norm(raw, axis=1)  # drop rows (nearly) parallel to ubar
    xs = xs[keep] / nx[keep, None]
    hs = np.max(np.asarray(z)[np.asarray(mm.support)] @ xs.T, axis=0)
    tol = theta_forward_tolerance(z, mm, th) + 2 * (d + 2) * EPS * support_radius(z, mm)
    j = int(np.argmin(hs))
    assert hs[j] >= th.value - tol, (
        f"S-L3: h(xi) = {float(hs[j])!r} < theta - tol = {th.value!r} - {tol:.2e} at xi = "
        f"{xs[j].tolist()}: theta is not a lower bound of the support function"
    )
    return Slack(
        "S-L3",
        max(0.0, th.value - float(hs[j])) / tol,
        f"min over {xs.shape[0]} sampled directions of h = {hs[j]:.6g}, theta = {th.value:.6g}",
        # Exercised when some direction survived the projection: h(xi) below theta fails.
        exercised=xs.shape[0] > 0,
    )


def worst(*slacks: Slack) -> Slack:
    """One record per example and statement: the largest ratio of those that exercised
    the statement (of all, if none did), exercised when any of them was."""
    pool = [s for s in slacks if s.exercised] or list(slacks)
    rated = [s for s in pool if s.ratio is not None]
    top = max(rated, key=lambda s: s.ratio) if rated else pool[0]
    return replace(top, exercised=any(s.exercised for s in slacks))


# --- S-L4 ----------------------------------------------------------------------------------------


def perp_rounding(w: np.ndarray) -> float:
    """``4 (d + 2) eps ||w||``: the allowance on a computed ``||w_perp||`` (S-L4).

    :func:`~invariants.core.maxmargin.perp` is off by ``~ (d + 2) eps ||w||`` (the
    removed ubar component carries the error of ``<w, ubar>``); four times that is allowed.
    """
    w = np.asarray(w, dtype=np.float64)
    return 4 * (w.size + 2) * EPS * float(np.linalg.norm(w))


def check_s_l4_sign(w: np.ndarray, z: np.ndarray, ubar: np.ndarray, loss: Loss, K: float) -> Slack:
    """S-L4 at one w with ``||w_perp|| >= K``: ``<w_perp, grad R(w)> >= 0``.

    The hypothesis ``<w, ubar> >= 0`` is the caller's to draw (the controls
    feed a w that violates it).  ``||w_perp|| >= K`` is required up to the
    rounding of :func:`~invariants.core.maxmargin.perp`, whose output is off by
    ``~ (d + 2) eps ||w||`` (the ubar component removed carries the error of
    ``<w, ubar>``); ``4 (d + 2) eps ||w||`` is allowed.

    Slack: ``P / N = exp(-margin)``, with ``N`` and ``P`` the two sums of
    :func:`invariants.core.lemma4.perp_gradient_sign` (the parts of
    ``n <w_perp, grad R>`` that shrink and grow ``||w_perp||`` under gradient
    flow).  <= 1 iff the sign condition holds.
    """
    w = np.asarray(w, dtype=np.float64)
    rp = float(np.linalg.norm(perp(w, ubar)))
    if not rp >= K - perp_rounding(w):
        raise ValueError(f"check_s_l4_sign: ||w_perp|| = {rp!r} < K = {K!r}; S-L4 does not apply")
    margin = perp_gradient_sign(w, z, ubar, loss)
    assert margin >= 0, (
        f"S-L4 ({loss.name}): <w_perp, grad R(w)> < 0 at ||w_perp|| = {rp:.6g} >= K = {K:.6g}, "
        f"<w, ubar> = {float(w @ ubar):.6g}, ||w|| = {float(np.linalg.norm(w)):.3g}: "
        f"log N - log P = {margin:.6g}; w = {w.tolist()}"
    )
    ratio = math.exp(-margin) if margin < 700 else 0.0
    # Exercised: ``||w_perp|| >= K`` holds (checked above), the regime the lemma speaks of.
    slack = Slack(
        "S-L4",
        ratio,
        f"{loss.name}: ||w_perp||/K = {rp / K:.3g}, <w, ubar> = {float(w @ ubar):.3g}",
        exercised=True,
    )
    cert = certified.certify_s_l4(w, z, ubar, loss, K, perp_rounding(w))
    return certified.certified_slack(slack, cert)


def check_s_l4_search(
    search: L4Search, z: np.ndarray, mm: MaxMargin, loss: Loss, K: float | None = None
) -> Slack:
    """S-L4 against the targeted search: no failing w with ``<w, ubar> >= 0`` beyond K.

    The witness is re-checked independently of the search: it must have
    ``<w, ubar> >= 0``, ``||w_perp|| = K_emp`` (to the rounding of perp,
    ``4 (d + 2) eps ||w||``), and really fail the sign condition.  Then
    ``K_emp <= K`` is asserted (``K`` defaults to the printed threshold of
    the search).  Slack ``K_emp / K``.
    """
    K = search.K if K is None else float(K)
    if search.witness_w is None:
        # K_emp = 0: the search, which could have found a failing w beyond K, found none.
        return Slack(
            "S-L4", 0.0, f"{loss.name}: the search found no failing w at all", exercised=True
        )
    w = np.asarray(search.witness_w)
    rp = float(np.linalg.norm(perp(w, mm.ubar)))
    assert float(w @ mm.ubar) >= 0, "search witness has <w, ubar> < 0"
    assert abs(rp - search.K_emp) <= perp_rounding(w)
    sign = perp_gradient_sign(w, z, mm.ubar, loss)
    assert sign < 0, f"search witness does not fail the sign condition (margin {sign!r})"
    assert search.K_emp <= K, (
        f"S-L4 ({loss.name}): <w_perp, grad R(w)> < 0 (log N - log P = {sign:.4g}) at "
        f"||w_perp|| = {search.K_emp:.6g} > K = {K:.6g} with <w, ubar> = "
        f"{float(w @ mm.ubar):.6g} >= 0; witness w = {w.tolist()} (found via {search.source})"
    )
    return Slack(
        "S-L4",
        search.K_emp / K,
        f"{loss.name}: K_emp = {search.K_emp:.4g}, K = {K:.4g} (K/K_emp = {K / search.K_emp:.3g})",
        exercised=True,
    )
