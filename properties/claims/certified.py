"""Certified verdicts of the statements that are inequalities at a point or a step.

The float checks of :mod:`.section3` and :mod:`.smoothness` assert each statement with a
derived rounding allowance; here the same statements are decided in ball arithmetic
(:mod:`invariants.certify`) at sampled points of the same run, with no allowance at all.
What is certified (docs/certified.md): the inequality holds in exact real arithmetic at
the float inputs; for a GD step, for the exact step ``W(t) - eta_t grad R(W(t))`` taken
from the float iterate ``W(t)`` with the run's float ``eta_t``.

Per statement, at a step from ``W = W(t)`` to the exact ``W'``:

* S-EQ4: ``R(W') <= R(W) - (eta_t / 2) ||grad R(W)||^2``;
* S-EQ27: ``||W'_k||_F <= ||W_k||_F + 1`` for every layer;
* S-EQ29: the one-step identity whose sum over the steps is eq. 29,
  ``delta(W_{k+1}^T W_{k+1}) - delta(W_k W_k^T) = eta^2 (G_{k+1}^T G_{k+1} - G_k G_k^T)``,
  entrywise: every residual ball contains 0 (TRUE) or one excludes it (FALSE);
* S-EQ30: the step's summands, ``eta^2 ||g||^2 <= eta ||g||^2 <= 2 (R(W) - R(W'))``; summed
  over an exact chain of steps they are eq. 30 (the float run is not an exact chain, so the
  sums themselves are not certified);
* S-EQ37: ``|delta(||W_k||_F^2 - ||W_j||_F^2)| <= 2 (R(W) - R(W'))`` for every pair: the
  step's share of the budget ``2 R(W(0))`` (summed, eq. 37);
* S-L5: ``||grad R(W) - grad R(V)|| <= beta(R) ||W - V||`` at the drawn pair;
* S-L6: the exact constant step from the last float iterate inside ``B(R)`` lands outside.

A FALSE certificate where the float check passed is a failure of the suite
(:func:`require_consistent`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from invariants.certify import balls, steps
from invariants.certify.balls import Certificate
from invariants.core import network as net
from invariants.core.losses import Loss
from invariants.dynamics import gd

#: The GD statements certified at sampled steps of an A5 run.
GD_STATEMENTS = ("S-EQ4", "S-EQ27", "S-EQ29", "S-EQ30", "S-EQ37")


def _point(certificates: Sequence[Certificate], where: str) -> Certificate:
    """Several inequalities at one point decided together, counted as one point."""
    c = balls.combine(certificates)
    return dataclasses.replace(c, points=1, witness=f"{where}: {c.witness}" if c.witness else "")


def step_certificates(step: steps.Step, depth: int, where: str) -> dict[str, Certificate]:
    """The five GD statements at one exact step (S-EQ4, S-EQ27, S-EQ29, S-EQ30, S-EQ37)."""
    out = {
        "S-EQ4": _point([balls.nonnegative(steps.descent_margin(step))], where),
        "S-EQ27": _point([balls.nonnegative(m) for m in steps.norm_growth_margins(step)], where),
        "S-EQ30": _point([balls.nonnegative(m) for m in steps.budget_margins(step)], where),
    }
    if depth > 1:
        out["S-EQ29"] = _point(
            [
                balls.zero(steps.balancedness_residual(step, k), f"pair {k + 1}")
                for k in range(depth - 1)
            ],
            where,
        )
        out["S-EQ37"] = _point(
            [balls.nonnegative(m) for m in steps.norm_difference_margins(step)], where
        )
    return out


def worst_steps(tr: gd.GDTrajectory) -> list[int]:
    """The steps where the float checks were tightest: the smallest computed descent
    beyond ``(eta/2) ||g||^2`` (S-EQ4, S-EQ30) and the largest norm growth (S-EQ27)."""
    if tr.steps == 0:
        return []
    R = np.exp(tr.log_risk)
    excess = (R[1:] - R[:-1]) + 0.5 * tr.eta * tr.grad_norm**2
    F = np.array([[np.linalg.norm(M) for M in W] for W in tr.weights])
    grow = np.max(F[1:] - F[:-1], axis=1)
    return [int(np.argmax(excess)), int(np.argmax(grow))]


def certify_gd_run(
    tr: gd.GDTrajectory, between: int = steps.SAMPLED_BETWEEN
) -> dict[str, Certificate]:
    """The GD statements certified at the sampled steps of one run
    (:func:`invariants.certify.steps.sample_steps`: first, last, worst and ``between``)."""
    depth = len(tr.initial)
    per_statement: dict[str, list[Certificate]] = {}
    for t in steps.sample_steps(tr.steps, worst_steps(tr), between):
        step = steps.gd_step(tr.weights[t], tr.z, tr.loss, float(tr.eta[t]))
        for sid, c in step_certificates(step, depth, f"step {t}").items():
            per_statement.setdefault(sid, []).append(c)
    return {sid: balls.combine(cs) for sid, cs in per_statement.items()}


def certify_s_l5(
    z: np.ndarray, W: net.Weights, V: net.Weights, loss: Loss, radius: float
) -> Certificate:
    """S-L5 at the pair ``(W, V)``: ``beta(R)^2 ||W - V||^2 - ||grad R(W) - grad R(V)||^2 >= 0``
    with ``beta(R)`` in balls from the loss's constants."""
    constant = steps.smoothness_constant(radius, len(W), loss)
    margin = steps.lipschitz_margin(W, V, z, loss, constant)
    return _point([balls.nonnegative(margin)], f"R = {radius:.6g}")


def certify_s_l6_exit(
    z: np.ndarray, inside: net.Weights, loss: Loss, radius: float, eta: float
) -> Certificate:
    """S-L6's exit: the exact step ``eta`` from the last float iterate inside ``B(R)``
    lands outside, ``max_k ||W'_k||_F^2 - R^2 > 0``."""
    step = steps.gd_step(inside, z, loss, eta)
    return _point(
        [balls.nonnegative(steps.exit_margin(step, radius), strict=True)], f"R = {radius:.6g}"
    )


def require_consistent(statement: str, certificate: Certificate) -> Certificate:
    """Fail when ball arithmetic decided the statement FALSE: the float check, which held,
    is then contradicted by a proof (both are shown).  Returns the certificate."""
    assert certificate.decided is not False, (
        f"{statement}: the float check held but ball arithmetic proves it false at "
        f"{certificate.witness} (exact margin in [{certificate.lower:.6e}, "
        f"{certificate.upper:.6e}])"
    )
    return certificate
