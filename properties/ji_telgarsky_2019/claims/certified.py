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

At a point (a checkpoint of the flow, a drawn ``w``, the data):

* the max-margin certificate: ``gamma`` enclosed by weak duality to the float
  certificate's relative accuracy (:func:`certify_max_margin`);
* S-L3: ``theta > 0`` for the float ``(z, ubar, S)`` with theta enclosed (below);
* S-L4: the sign of ``<w_perp, grad R(w)>`` at a drawn ``w`` beyond K;
* S-L2a and S-C1's first inequality at sampled checkpoints, singular values enclosed,
  with the float check's integrator allowance taken as given.

A FALSE certificate where the float check passed is a failure of the suite
(:func:`require_consistent`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from flint import arb

from invariants.certify import balls, geometry, network, spectral, steps
from invariants.certify.balls import Certificate
from invariants.core import bounds
from invariants.core import network as net
from invariants.core.losses import Loss
from invariants.core.maxmargin import MaxMargin
from invariants.core.rounding import TINY, deficit_rounding
from invariants.core.theta import Theta
from invariants.dynamics import gd
from invariants.statements import Slack

#: The GD statements certified at sampled steps of an A5 run.
GD_STATEMENTS = ("S-EQ4", "S-EQ27", "S-EQ29", "S-EQ30", "S-EQ37")


def _open(c: Certificate | None) -> bool:
    return c is not None and c.decided is None


def _point(certificates: Sequence[Certificate], where: str) -> Certificate:
    """Several inequalities at one point decided together, counted as one point."""
    c = balls.combine(certificates)
    if c.decided is True:
        return dataclasses.replace(c, points=1, witness="")
    return dataclasses.replace(c, points=1, witness=f"{where}: {c.witness}" if c.witness else where)


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

        def at_step(t: int = t) -> dict[str, Certificate]:
            step = steps.gd_step(tr.weights[t], tr.z, tr.loss, float(tr.eta[t]))
            return step_certificates(step, depth, f"step {t}")

        certs = balls.refine(at_step, lambda cs: any(c.decided is None for c in cs.values()))
        for sid, c in certs.items():
            per_statement.setdefault(sid, []).append(c)
    return {sid: balls.combine(cs) for sid, cs in per_statement.items()}


def certify_s_l5(
    z: np.ndarray, W: net.Weights, V: net.Weights, loss: Loss, radius: float
) -> Certificate:
    """S-L5 at the pair ``(W, V)``: ``beta(R)^2 ||W - V||^2 - ||grad R(W) - grad R(V)||^2 >= 0``
    with ``beta(R)`` in balls from the loss's constants."""
    if all(np.array_equal(a, b) for a, b in zip(W, V, strict=True)):
        return Certificate(True, 0.0, 0.0, 1)  # W = V: both sides are exactly 0

    def decide() -> Certificate:
        constant = steps.smoothness_constant(radius, len(W), loss)
        margin = steps.lipschitz_margin(W, V, z, loss, constant)
        return _point([balls.nonnegative(margin)], f"R = {radius:.6g}")

    return balls.refine(decide, _open)


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


# --- points: the max margin, theta, the sign condition, checkpoints of the flow -------------

#: The relative accuracy the float max-margin certificate promises (its default ``tol``,
#: :func:`invariants.core.maxmargin.check_certificate`): certified here is
#: ``hi - lo <= KKT_TOL * lo`` for the weak-duality enclosure ``gamma in [lo, hi]``.
KKT_TOL = 1e-12


def certify_max_margin(z: np.ndarray, mm: MaxMargin) -> Certificate:
    """The max-margin KKT certificate in balls: ``gamma`` enclosed in ``[lo, hi]`` by weak
    duality at the float ``(ubar, dual)`` with ``lo > 0`` and ``hi - lo <= KKT_TOL lo``."""
    enc = geometry.max_margin_enclosure(z, mm.ubar, mm.dual)
    with balls.working_precision():
        gap = arb(KKT_TOL) * enc.lo - (enc.hi - enc.lo)
    return _point(
        [balls.nonnegative(enc.lo, "gamma", strict=True), balls.nonnegative(gap, "gap")],
        "max margin",
    )


def certify_s_l3(z: np.ndarray, mm: MaxMargin, th: Theta) -> Certificate:
    """S-L3: ``theta > 0`` at the float ``(z, ubar, S)``, from a certified simplex of the
    support (:func:`invariants.certify.geometry.theta_lower_bound`), together with the
    max-margin certificate the support set rests on (:func:`certify_max_margin`).
    Undecided when no d-subset of S certifies the origin inside its projected simplex."""
    kkt = certify_max_margin(z, mm)
    bound = geometry.theta_lower_bound(z, mm.ubar, th.support)
    if bound is None:
        theta_cert = Certificate(None, 0.0, float(th.value), 1, "theta: no certified simplex")
    else:
        theta_cert = balls.nonnegative(bound, "theta", strict=True)
    return _point([kkt, theta_cert], f"|S| = {len(th.support)}")


def certify_s_l4(
    w: np.ndarray,
    z: np.ndarray,
    ubar: np.ndarray,
    loss: Loss,
    K: float,
    allowance: float = 0.0,
) -> Certificate:
    """S-L4 at ``w``: ``<w_perp, grad R(w)> >= 0`` in balls.

    The premises are the float check's: ``||w_perp|| >= K - allowance`` and
    ``<w, ubar> >= -allowance`` with its rounding ``allowance`` (the property draws ``w``
    on the threshold ``||w_perp|| = K`` and with ``<w, ubar> = 0``, which hold only to
    rounding).  When a premise is certainly false even so, the lemma says nothing at
    ``w``: undecided, never FALSE.  Otherwise the sign is decided (:func:`balls.refine`).
    """
    with balls.working_precision():
        a = arb(float(allowance))
        reach = arb(float(K)) - a
        premise_k = geometry.perp_norm_squared(w, ubar) - reach * abs(reach)
        premise_u = (balls.ball_matrix(w).transpose() * balls.ball_matrix(ubar))[0, 0] + a
    if premise_k < 0 or premise_u < 0:
        return Certificate(None, 0.0, 0.0, 1, "premise of S-L4 false at w")
    where = f"||w|| = {float(np.linalg.norm(w)):.3g}"

    def decide() -> Certificate:
        return _point([balls.nonnegative(geometry.perp_gradient_inner(w, z, ubar, loss))], where)

    return balls.refine(decide, _open)


def sample_checkpoints(count: int, worst: Sequence[int]) -> list[int]:
    """The checkpoints to certify: first, last, worst and :data:`steps.SAMPLED_BETWEEN`."""
    return steps.sample_steps(count, worst)


def _d_ball(initial: net.Weights) -> arb:
    """``D = max_k ||W_k(0)||_F^2 - ||W_L(0)||_F^2 + sum_k ||A_{k,k+1}||_2`` in balls."""
    f = [balls.fro2(balls.ball_matrix(W)) for W in initial]
    top = f[0]
    for x in f[1:]:
        top = top.max(x)
    a = [spectral.balance_norm(initial[k], initial[k + 1]) for k in range(len(initial) - 1)]
    return top - f[-1] + sum(a, arb(0))


def _eq8_balls(initial: net.Weights) -> list[arb]:
    """eq. 8's per-layer bounds ``||W_k(0)||_F^2 - ||W_L(0)||_F^2 + sum_{j>=k} ||A_j||_2``."""
    f = [balls.fro2(balls.ball_matrix(W)) for W in initial]
    a = [spectral.balance_norm(initial[k], initial[k + 1]) for k in range(len(initial) - 1)]
    return [f[k] - f[-1] + sum(a[k:], arb(0)) for k in range(len(initial))]


def certify_deficits(
    initial: net.Weights,
    checkpoints: Sequence[net.Weights],
    charges: Sequence[Sequence[float]],
    where: Sequence[str],
) -> Certificate | None:
    """S-L2a at the given checkpoints' float weights: for every layer,
    ``||W_k||_F^2 - ||W_k||_2^2 <= eq8_k + charge_k`` and ``<= D + charge_k``, singular
    values enclosed (:mod:`invariants.certify.spectral`).  ``charge_k`` is the float
    check's allowance for the integrator (its eq. 2 / eq. 3 drift, without the rounding
    part): what the flow's error budget says the computed path may be off by, taken as
    given -- a certificate about the point, not about the integrator.  Vector layers
    (deficit identically 0) are left out; None when every layer is one."""
    with balls.working_precision():
        D = _d_ball(initial)
        e8 = _eq8_balls(initial)
        out = []
        for W, charge, label in zip(checkpoints, charges, where, strict=True):
            margins = []
            for k, M in enumerate(W):
                if min(M.shape) == 1:
                    continue  # a vector's deficit is identically 0: nothing to certify
                deficit = spectral.rank_deficit(M)
                c = arb(float(charge[k]))
                margins += [
                    balls.nonnegative(e8[k] + c - deficit, f"layer {k + 1} (eq. 8)"),
                    balls.nonnegative(D + c - deficit, f"layer {k + 1} (D)"),
                ]
            if margins:
                out.append(_point(margins, label))
    return balls.combine(out) if out else None


def certify_c1_clause(
    initial: net.Weights,
    checkpoints: Sequence[net.Weights],
    charges: Sequence[float],
    where: Sequence[str],
) -> Certificate | None:
    """S-C1's first inequality at the checkpoints: ``1 - sigma_k / ||W_k||_F <= D_eff /
    ||W_k||_F^2``, i.e. ``||W_k||_F (||W_k||_F - sigma_k) <= D_eff`` with ``D_eff = D +
    charge`` (the integrator's drift allowance of the float check), for every non-zero
    layer.  The alignment part of S-C1 needs singular *vectors*, which are not enclosed.
    None when every layer is a vector (nothing to certify)."""
    with balls.working_precision():
        D = _d_ball(initial)
        out = []
        for W, charge, label in zip(checkpoints, charges, where, strict=True):
            margins = []
            for M in W:
                if min(M.shape) == 1:
                    continue  # sigma_1 = ||M||_F for a vector: the clause is 0 <= D_eff
                F = balls.fro2(balls.ball_matrix(M)).sqrt()
                sigma = spectral.spectral_norm_squared(M).max(arb(0)).sqrt()
                margins.append(D + arb(float(charge)) - F * (F - sigma))
            if margins:
                out.append(_point([balls.nonnegative(m) for m in margins], label))
    return balls.combine(out) if out else None


def _within(value: arb, radius: arb) -> arb:
    """The ball holding every point within ``radius`` of the ball ``value``."""
    return value + radius * arb(0, 1)


def certify_c1_alignment(
    initial: net.Weights,
    checkpoints: Sequence[net.Weights],
    charges: Sequence[float],
    where: Sequence[str],
) -> Certificate | None:
    """S-C1 itself at the checkpoints, with the measured alignments:
    ``|<w_prod / prod_k ||W_k||_F, v_1>| >= prod_{k<L} |<v_{k+1}, u_k>| - (prod_k (1 + e_k) - 1)``,
    ``e_k = sqrt(2 D_eff) / ||W_k||_F``, every singular vector enclosed
    (:func:`invariants.certify.spectral.top_singular_vector`).  A checkpoint whose top
    singular gap is not certified is undecided; one with a zero layer is left out (the
    statement divides by the norms).  None when no checkpoint is left."""
    with balls.working_precision():
        D = _d_ball(initial).max(arb(0))
        out = []
        for W, charge, label in zip(checkpoints, charges, where, strict=True):
            if bounds.has_zero_layer(W):
                continue
            Wb = [balls.ball_matrix(M) for M in W]
            F = [balls.fro2(M).sqrt() for M in Wb]
            prod_f = arb(1)
            for x in F:
                prod_f = prod_f * x
            right = [spectral.top_singular_vector(M, "right") for M in W]
            left = [spectral.top_singular_vector(M, "left") for M in W]
            if any(v is None for v in right + left):
                out.append(Certificate(None, 0.0, 0.0, 1, f"{label}: singular gap"))
                continue
            w = network.end_to_end(tuple(Wb))
            norm_w = balls.fro2(w).sqrt()
            inner = abs((w.transpose() * right[0].x)[0, 0])
            observed = _within(inner, norm_w * right[0].radius) / prod_f
            aligned = arb(1)
            for k in range(len(W) - 1):
                dot = abs((right[k + 1].x.transpose() * left[k].x)[0, 0])
                aligned = aligned * _within(dot, right[k + 1].radius + left[k].radius)
            grow = arb(1)
            root = (2 * (D + arb(float(charge)))).sqrt()
            for x in F:
                grow = grow * (1 + root / x)
            margin = observed - (aligned - (grow - 1))
            out.append(_point([balls.nonnegative(margin)], label))
    return balls.combine(out) if out else None


def _flow_samples(tr, tolerances: Callable) -> tuple[list, list[np.ndarray]]:
    """The sampled checkpoints of a flow run (first, last, the float check's tightest
    deficit and :data:`steps.SAMPLED_BETWEEN`) and their integrator charges per layer:
    ``tolerances(c, shapes)`` (the float check's allowance) less its rounding part."""
    cps = tr.checkpoints
    shapes = [W.shape for W in tr.initial]
    e8 = bounds.eq8_bounds(tr.initial)
    tight = [
        max(bounds.rank_deficit(W) / max(e8[k], TINY) for k, W in enumerate(c.weights)) for c in cps
    ]
    chosen = [cps[i] for i in sample_checkpoints(len(cps), [int(np.argmax(tight))])]
    charges = [
        np.asarray(tolerances(c, shapes)) - np.array([deficit_rounding(W) for W in c.weights])
        for c in chosen
    ]
    return chosen, charges


def certify_flow_deficits(tr, tolerances: Callable) -> Certificate | None:
    """S-L2a at the sampled checkpoints of a flow run (:func:`certify_deficits`);
    ``tolerances`` is the float check's per-layer allowance function."""
    chosen, charges = _flow_samples(tr, tolerances)
    return certify_deficits(tr.initial, [c.weights for c in chosen], charges, _labels(chosen))


def certify_flow_c1(tr, tolerances: Callable) -> Certificate | None:
    """S-C1 at the sampled checkpoints: its first inequality (:func:`certify_c1_clause`) and
    the inequality itself with the measured alignments (:func:`certify_c1_alignment`), with
    the whole eq. 2 / eq. 3 charge (layer 1's tail sum) added to D as the float check does."""
    chosen, charges = _flow_samples(tr, tolerances)
    args = (tr.initial, [c.weights for c in chosen], [float(ch[0]) for ch in charges])
    parts = [
        c
        for c in (
            certify_c1_clause(*args, _labels(chosen)),
            certify_c1_alignment(*args, _labels(chosen)),
        )
        if c is not None
    ]
    if not parts:
        return None
    # Both parts decide the same checkpoints: count them once.
    return dataclasses.replace(balls.combine(parts), points=max(c.points for c in parts))


def _labels(checkpoints) -> list[str]:
    return [f"s = {c.s:.6g}" for c in checkpoints]


def attach(slacks: Sequence[Slack], certificates: Mapping[str, Certificate | None]) -> list[Slack]:
    """Each slack with its statement's certificate (:func:`require_consistent` first)."""
    out = []
    for s in slacks:
        c = certificates.get(s.statement)
        out.append(s if c is None else replace(s, certificate=require_consistent(s.statement, c)))
    return out


def certified_slack(slack: Slack, certificate: Certificate | None) -> Slack:
    """One slack with its certificate (:func:`attach` for a single check)."""
    return attach([slack], {slack.statement: certificate})[0]
