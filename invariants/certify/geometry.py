"""Enclosures of the max-margin solution, of theta, and of the perpendicular gradient sign.

For rows ``z_i`` (``n x d``), a float direction ``ubar`` and float convex weights ``mu``:

* **margin** (weak duality, exact at the float inputs): for the unit ``u = ubar / ||ubar||``
  and the probability vector ``mu / sum mu``, ``lo = min_i <u, z_i> <= gamma <= ||Z^T mu|| = hi``.
  The minimum-norm point ``p*`` of the hull satisfies ``<p*, p - p*> >= 0`` for every ``p``
  of the hull, so ``||p - p*||^2 <= ||p||^2 - ||p*||^2 <= hi^2 - lo^2`` for ``p = Z^T mu``,
  and the true direction ``p*/||p*||`` lies within ``||u - p/||p|| || + 2 sqrt(hi^2 - lo^2) / lo``
  of ``u``.
* **theta** ``= min_{||xi|| = 1, xi perp u} max_{i in S} <xi, z_i>``: when ``d`` points of
  ``S`` are such that ``u = sum_i lambda_i z_i`` with every ``lambda_i > 0`` (the origin is
  inside the simplex of their projections on ``u^perp``), theta of that simplex is its
  smallest facet distance ``min_j 1 / ||a_j||``, with ``a_j perp u`` and ``<a_j, z_i> = 1``
  for the other ``i``; adding points only grows the hull, so it is a lower bound of theta
  for ``S`` (and equal to it when ``|S| = d``).  The linear systems are solved in balls
  (Arb's certified solver).
* **perpendicular gradient**: ``<w_perp, grad R(w)> = (1/n) sum_i loss'(<w, z_i>) <w_perp, z_i>``
  with ``w_perp = w - (<w, u> / <u, u>) u`` exact in balls.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from flint import arb, arb_mat

from ..core.losses import Loss
from . import network as bn
from .balls import ball_matrix, fro2, precise

#: At most this many d-subsets of the support are tried for theta's lower bound (all of
#: them when |S| = d: one).  A bound from any subset is valid; more only tighten it.
MAX_SUBSETS = 64


@dataclass(frozen=True)
class MarginEnclosure:
    """``gamma in [lo, hi]`` and the radius of a ball about ``ubar`` holding the true one."""

    lo: arb
    hi: arb
    direction_radius: arb


@precise
def max_margin_enclosure(z: np.ndarray, ubar: np.ndarray, dual: np.ndarray) -> MarginEnclosure:
    """Weak-duality enclosure of the max margin and its direction (module docstring)."""
    zb = ball_matrix(z)
    u = ball_matrix(ubar)
    u = u * (1 / fro2(u).sqrt())
    margins = list((zb * u).entries())
    lo = margins[0]
    for m in margins[1:]:
        lo = lo.min(m)
    mu = np.maximum(np.asarray(dual, dtype=np.float64), 0.0)
    if not mu.sum() > 0:
        raise ValueError("the dual weights are all <= 0: no point of the hull")
    mub = ball_matrix(mu)
    p = zb.transpose() * mub * (1 / sum(mub.entries(), arb(0)))
    hi = fro2(p).sqrt()
    to_p = fro2(p * (1 / hi) - u).sqrt()
    radius = to_p + 2 * (hi * hi - lo * lo).max(arb(0)).sqrt() / lo
    return MarginEnclosure(lo, hi, radius)


def _column(values) -> arb_mat:
    vals = list(values)
    return arb_mat(len(vals), 1, vals)


def _simplex_theta(zs: arb_mat, u: arb_mat) -> arb | None:
    """theta of the d points (rows of ``zs``, ``d x d``) about ``u``, or None when the origin
    is not certainly inside their projected simplex (or the systems are singular)."""
    d = zs.nrows()
    try:
        lam = zs.transpose().solve(u)
    except ZeroDivisionError:
        return None
    signs = list(lam.entries())
    if not (all(x > 0 for x in signs) or all(x < 0 for x in signs)):
        return None
    best = None
    for j in range(d):
        rows = [[zs[i, c] for c in range(d)] for i in range(d) if i != j]
        rows.append([u[c, 0] for c in range(d)])
        rhs = _column([1] * (d - 1) + [0])
        try:
            a = arb_mat(rows).solve(rhs)
        except ZeroDivisionError:
            return None
        dist = 1 / fro2(a).sqrt()
        best = dist if best is None else best.min(dist)
    return best


@precise
def theta_lower_bound(z: np.ndarray, ubar: np.ndarray, support: np.ndarray) -> arb | None:
    """A ball whose every point is ``<=`` theta (equal to theta when ``|S| = d``), from the
    best certified d-subset of the support; None when no subset certifies the origin
    inside (then theta > 0 is not proved here)."""
    z = np.asarray(z, dtype=np.float64)
    d = z.shape[1]
    S = [int(i) for i in np.asarray(support)]
    if d < 2 or len(S) < d:
        return None
    u = ball_matrix(ubar)
    best = None
    for subset in itertools.islice(itertools.combinations(S, d), MAX_SUBSETS):
        t = _simplex_theta(ball_matrix(z[list(subset)]), u)
        if t is not None and (best is None or t.lower() > best.lower()):
            best = t
    return best


@precise
def perp_gradient_inner(w: np.ndarray, z: np.ndarray, ubar: np.ndarray, loss: Loss) -> arb:
    """``<w_perp, grad R(w)>`` in balls (``>= 0`` is the sign condition)."""
    wb, u, zb = ball_matrix(w), ball_matrix(ubar), ball_matrix(z)
    wp = wb - u * (((wb.transpose() * u)[0, 0]) / fro2(u))
    return (wp.transpose() * bn.gradient_vec(wb, zb, loss))[0, 0]


@precise
def perp_norm_squared(w: np.ndarray, ubar: np.ndarray) -> arb:
    """``||w_perp||^2`` in balls."""
    wb, u = ball_matrix(w), ball_matrix(ubar)
    return fro2(wb - u * (((wb.transpose() * u)[0, 0]) / fro2(u)))
