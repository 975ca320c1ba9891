"""The summed exponential loss of a deep linear network in balls, in the log domain.

``Lsum(W) = sum_i exp(-q_i)`` with ``q_i = <w, z_i>`` (``w`` the end-to-end vector of
:mod:`.network`), read through ``u = log(1/Lsum)`` and written relative to the smallest
enclosed margin ``q*`` without cancellation: ``d_j = q_j - q*``, ``S = sum_j c_j e^{-d_j} -
1`` over the distinct rows ``z_j`` with multiplicities ``c_j``, so that ``Lsum = e^{-q*} (1 +
S)`` and ``u = q* - log1p(S)``.  The scaled gradient ``grad Lsum / Lsum`` (of order one
however small ``Lsum`` is) has end-to-end part ``-sum_j c_j e^{-d_j} z_j / (1 + S)``; the
*scaled step* from ``W`` with the float ``s = eta Lsum`` is the exact point
``W - s grad Lsum / Lsum`` (= ``W - eta grad Lsum`` with ``eta = s / Lsum(W)`` exact).

Every function takes ball matrices (:func:`.balls.ball_matrix`) and must be called inside
:func:`.balls.working_precision` (the decorated ones set it themselves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from flint import arb, arb_mat

from . import network as bn
from .balls import ball_matrix, precise


@dataclass(frozen=True)
class Data:
    """The distinct rows of ``z`` as an exact ball matrix, with their multiplicities."""

    rows: arb_mat
    counts: tuple[int, ...]

    @property
    def n(self) -> int:
        return sum(self.counts)


def distinct_rows(z: np.ndarray) -> Data:
    """The data as distinct exact rows and counts (a tie between copies is then exact)."""
    rows, counts = np.unique(np.asarray(z, dtype=np.float64), axis=0, return_counts=True)
    return Data(ball_matrix(rows), tuple(int(c) for c in counts))


@dataclass(frozen=True)
class ExpPoint:
    """The exponential loss at one ball point ``W``.

    ``q`` the distinct rows' margins, ``star`` the index of the smallest midpoint,
    ``d[j] = q_j - q*`` (``d[star]`` is exactly 0), ``S`` as in the module docstring,
    ``gap = log1p(S) = q* - u``, ``u = log(1/Lsum)`` and ``rho2 = ||W||^2``.
    """

    layers: bn.BallWeights
    q: list[arb]
    star: int
    d: list[arb]
    S: arb
    gap: arb
    u: arb
    rho2: arb


def exp_point(layers: bn.BallWeights, data: Data) -> ExpPoint:
    """:class:`ExpPoint` at ``layers`` (inside a working precision)."""
    q = bn.margins(bn.end_to_end(layers), data.rows)
    star = int(np.argmin([float(x.mid()) for x in q]))
    d = [arb(0) if j == star else q[j] - q[star] for j in range(len(q))]
    S = arb(data.counts[star] - 1) + sum(
        (
            c * (-dj).exp()
            for j, (c, dj) in enumerate(zip(data.counts, d, strict=True))
            if j != star
        ),
        arb(0),
    )
    gap = S.log1p()
    return ExpPoint(layers, q, star, d, S, gap, q[star] - gap, bn.squared_norm(layers))


def scaled_gradient(point: ExpPoint, data: Data) -> bn.BallWeights:
    """``grad Lsum / Lsum`` at the point, layer by layer: ``s_k (P_k g)^T`` with the
    end-to-end ``g = -sum_j c_j e^{-d_j} z_j / (1 + S)``."""
    W = point.layers
    weights = [
        -(c * (-dj).exp()) / (1 + point.S) for c, dj in zip(data.counts, point.d, strict=True)
    ]
    g = data.rows.transpose() * arb_mat(len(weights), 1, weights)
    P = bn.prefix_products(W)
    s = bn.suffix_vectors(W)
    return tuple(s[k] * (P[k] * g).transpose() for k in range(len(W)))


@dataclass(frozen=True)
class ScaledStep:
    """The exact scaled step from a float iterate: both end points and the gradient."""

    before: ExpPoint
    grads: bn.BallWeights
    after: ExpPoint
    scaled: arb


@precise
def scaled_step(weights: Sequence[np.ndarray], data: Data, s: float) -> ScaledStep:
    """The exact step ``W - s grad Lsum / Lsum`` from the float layers ``weights`` with the
    float scaled step ``s`` (in balls)."""
    before = exp_point(bn.ball_weights(weights), data)
    G = scaled_gradient(before, data)
    sb = arb(float(s))
    after = tuple(M - Gk * sb for M, Gk in zip(before.layers, G, strict=True))
    return ScaledStep(before, G, exp_point(after, data), sb)


@precise
def point_at(weights: Sequence[np.ndarray], data: Data) -> ExpPoint:
    """:class:`ExpPoint` at float layers."""
    return exp_point(bn.ball_weights(weights), data)


def log_smoothed(point: ExpPoint, u0: arb, order: int) -> arb:
    """``log u - u0/u - p log rho``: the log of ``e^{phi(Lsum)} / rho^p`` when ``phi(x) =
    log log(1/x) - u0 / log(1/x)`` (inside a working precision)."""
    return point.u.log() - u0 / point.u - arb(order) * point.rho2.log() / 2


@dataclass(frozen=True)
class DualPoint:
    """A loss's dual weights and velocity at one ball point ``W`` (any loss with a ball
    form in :mod:`.network`; nothing underflows in Arb, so the weights are formed directly).

    ``q`` the distinct rows' margins, ``star`` the smallest midpoint's index, ``w[j] = c_j
    (-loss'(q_j)) / Lsum`` (multiplicity included), ``velocity = -grad Lsum / Lsum =
    sum_j w_j grad q_j`` layer by layer, ``speed2 = ||velocity||^2``, ``rho2 = ||W||^2``.
    """

    layers: bn.BallWeights
    q: list[arb]
    star: int
    w: list[arb]
    velocity: bn.BallWeights
    speed2: arb
    rho2: arb


@precise
def dual_point(weights: Sequence[np.ndarray], data: Data, loss) -> DualPoint:
    """:class:`DualPoint` at the float layers ``weights``."""
    W = bn.ball_weights(weights)
    q = bn.margins(bn.end_to_end(W), data.rows)
    star = int(np.argmin([float(x.mid()) for x in q]))
    total = sum((c * bn.loss_value(loss, x) for c, x in zip(data.counts, q, strict=True)), arb(0))
    w = [c * -bn.loss_d1(loss, x) / total for c, x in zip(data.counts, q, strict=True)]
    g = data.rows.transpose() * arb_mat(len(w), 1, w)
    P, s = bn.prefix_products(W), bn.suffix_vectors(W)
    V = tuple(s[k] * (P[k] * g).transpose() for k in range(len(W)))
    return DualPoint(W, q, star, w, V, bn.squared_norm(V), bn.squared_norm(W))
