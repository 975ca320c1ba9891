"""One gradient-descent step in balls, the inequalities about it, and sampled points.

The step certified is the *exact* one from a float iterate: ``W' = W - eta G`` with
``G = grad R(W)`` and ``eta`` the float step the run used, all in balls.  Each function
returns the ball of ``rhs - lhs`` of one inequality (``>= 0`` when it holds) or the
residual of an identity (``0`` when it holds); :mod:`.balls` decides them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from flint import arb, arb_mat

from ..core.losses import Loss
from . import network as bn
from .balls import ball_matrix, entries, fro2, precise

#: Interior steps sampled between the first and the last of a run, besides the worst
#: step(s) the float check found (:func:`sample_steps`).  Four keeps a run's
#: certification to a few tens of milliseconds at the suite's sizes
#: (see benchmarks/bench_certify.py).
SAMPLED_BETWEEN = 4


def sample_steps(
    count: int, worst: Iterable[int] = (), between: int = SAMPLED_BETWEEN
) -> list[int]:
    """Indices ``0 .. count-1`` to certify: the first, the last, the ``worst`` ones and
    ``between`` evenly spaced interior ones, sorted without repeats."""
    if count <= 0:
        return []
    chosen = {0, count - 1, *(int(i) for i in worst if 0 <= int(i) < count)}
    chosen.update(round(float(x)) for x in np.linspace(0, count - 1, between + 2)[1:-1])
    return sorted(chosen)


@dataclass(frozen=True)
class Step:
    """The balls of one exact GD step from a float iterate.

    ``before`` = W, ``grads`` = G = grad R(W), ``after`` = W - eta G, with the risks at
    both ends and ``grad_sq`` = ||G||^2 over all layers.
    """

    eta: arb
    before: bn.BallWeights
    grads: bn.BallWeights
    after: bn.BallWeights
    risk_before: arb
    risk_after: arb
    grad_sq: arb


@precise
def gd_step(weights: Sequence[np.ndarray], z: np.ndarray | arb_mat, loss: Loss, eta: float) -> Step:
    """The exact GD step with step size ``eta`` from the float weights (in balls)."""
    zb = z if isinstance(z, arb_mat) else ball_matrix(z)
    W = bn.ball_weights(weights)
    G = bn.layer_gradients(W, zb, loss)
    e = arb(float(eta))
    after = tuple(M - Gk * e for M, Gk in zip(W, G, strict=True))
    return Step(
        eta=e,
        before=W,
        grads=G,
        after=after,
        risk_before=bn.risk(W, zb, loss),
        risk_after=bn.risk(after, zb, loss),
        grad_sq=bn.squared_norm(G),
    )


@precise
def descent_margin(step: Step, factor: float = 0.5) -> arb:
    """``R(W) - factor * eta ||G||^2 - R(W')``: the descent inequality (``>= 0``) with
    the constant ``factor`` (1/2 in the descent lemma)."""
    return step.risk_before - arb(factor) * step.eta * step.grad_sq - step.risk_after


@precise
def norm_growth_margins(step: Step, bound: float = 1.0) -> list[arb]:
    """``||W_k||_F + bound - ||W'_k||_F`` per layer: each layer's norm grows by at most
    ``bound`` in the step (``>= 0``)."""
    return [
        fro2(a).sqrt() + bound - fro2(b).sqrt()
        for a, b in zip(step.before, step.after, strict=True)
    ]


@precise
def balancedness_residual(step: Step, k: int, sign: float = 1.0) -> list[arb]:
    """Entries of the one-step balancedness identity of the pair (k, k+1), 0-based k:

    ``(W'_{k+1}^T W'_{k+1} - W_{k+1}^T W_{k+1}) - (W'_k W'_k^T - W_k W_k^T)
      - sign * eta^2 (G_{k+1}^T G_{k+1} - G_k G_k^T)``

    which is 0 for ``sign = +1`` because ``W_{k+1}^T G_{k+1} = G_k W_k^T`` (the first-order
    terms cancel).  ``sign = -1`` is the other sign convention, non-zero in general.
    """
    Wk, Wk1 = step.before[k], step.before[k + 1]
    Ak, Ak1 = step.after[k], step.after[k + 1]
    Gk, Gk1 = step.grads[k], step.grads[k + 1]
    e2 = step.eta * step.eta * arb(sign)
    top = Ak1.transpose() * Ak1 - Wk1.transpose() * Wk1
    bottom = Ak * Ak.transpose() - Wk * Wk.transpose()
    second = (Gk1.transpose() * Gk1 - Gk * Gk.transpose()) * e2
    return entries(top - bottom - second)


@precise
def budget_margins(step: Step) -> tuple[arb, arb]:
    """The per-step terms of the summed descent: ``(eta ||G||^2 - eta^2 ||G||^2,
    2 (R(W) - R(W')) - eta ||G||^2)``, both ``>= 0`` when the step descends."""
    a = step.eta * step.eta * step.grad_sq
    b = step.eta * step.grad_sq
    return b - a, 2 * (step.risk_before - step.risk_after) - b


@precise
def norm_difference_margins(step: Step) -> list[arb]:
    """For every pair ``k < j``: ``2 (R(W) - R(W')) - |delta (||W_k||_F^2 - ||W_j||_F^2)|``,
    the step's change of the squared-norm difference within its share of the risk drop."""
    before = [fro2(M) for M in step.before]
    after = [fro2(M) for M in step.after]
    drop2 = 2 * (step.risk_before - step.risk_after)
    out = []
    for k in range(len(before)):
        for j in range(k + 1, len(before)):
            change = (after[k] - after[j]) - (before[k] - before[j])
            out.append(drop2 - abs(change))
    return out


@precise
def smoothness_constant(radius: float, depth: int, loss: Loss) -> arb:
    """``2 L^2 R^(2L-2) (beta + G)`` in balls, from the loss's float constants."""
    if loss.beta is None or loss.G is None:
        raise ValueError(f"the {loss.name} loss has no smoothness constants")
    r = arb(float(radius))
    return 2 * arb(depth) ** 2 * r ** (2 * depth - 2) * (arb(loss.beta) + arb(loss.G))


@precise
def lipschitz_margin(
    W: Sequence[np.ndarray],
    V: Sequence[np.ndarray],
    z: np.ndarray,
    loss: Loss,
    constant: arb,
) -> arb:
    """``constant^2 ||W - V||^2 - ||grad R(W) - grad R(V)||^2`` (``>= 0`` when the
    gradient is ``constant``-Lipschitz between the two points)."""
    zb = ball_matrix(z)
    Wb, Vb = bn.ball_weights(W), bn.ball_weights(V)
    gw = bn.layer_gradients(Wb, zb, loss)
    gv = bn.layer_gradients(Vb, zb, loss)
    dist2 = bn.squared_norm(bn.difference(Wb, Vb))
    return constant * constant * dist2 - bn.squared_norm(bn.difference(gw, gv))


@precise
def ball_margins(weights: Sequence[np.ndarray], radius: float) -> list[arb]:
    """``R^2 - ||W_k||_F^2`` per layer: ``W`` lies in the ball ``B(R)`` (``>= 0``)."""
    r = arb(float(radius))
    return [r * r - fro2(ball_matrix(M)) for M in weights]


@precise
def exit_margin(step: Step, radius: float) -> arb:
    """``max_k ||W'_k||_F^2 - R^2``: the exact step lands outside ``B(R)`` (``> 0``)."""
    r = arb(float(radius))
    sq = [fro2(M) for M in step.after]
    worst = sq[0]
    for x in sq[1:]:
        worst = worst.max(x)
    return worst - r * r
