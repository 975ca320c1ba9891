"""A3 data: data sets where assumption A3 holds by construction, with ubar, gamma, theta known.

A3 asks that the support vectors span R^d.  :func:`a3_datasets` (and :func:`build_a3`, its
body, usable with a fixed generator) builds the max-margin solution first: a unit ubar, a
margin gamma, and d support vectors ``z_i = gamma ubar + q_i`` whose perpendicular parts
form a simplex around the origin of ``ubar^perp`` with barycentric weights ``lam``; the
other points lie a clear gap (:data:`A3_GAP`) above the margin.  So the max-margin
direction, the margin, the support set, the dual weights and (without extra support
vectors) theta of Lemma 3 are known in closed form, and a draw is an :class:`A3Data`.

Statements served: S-L3 and S-L4 (theta of Lemma 3, and the Lemma 4 bound that needs
A3), and every property that needs A3 to hold on its data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ..core.data import certified_margin, make_dataset
from .arguments import IntRange, float_value, int_range
from .data import DrawnData, OnDrawnData
from .primitives import INSIDE, MARGIN_BUFFER, log_uniform, perp_units, seeds, unit_vector

#: Non-support points of :func:`a3_datasets` have margin at least ``gamma + A3_GAP``
#: times ``max(gamma, 0.05)``: a clear gap, far above the max-margin solver's support
#: tolerance (``~4 (d + 2) eps``), so the designed support set is the computed one.
A3_GAP = 0.1

#: Barycentric weights of the simplex support vectors are ``>= A3_MIN_WEIGHT / d`` before
#: normalisation's rescaling (``lambda_i = (A3_MIN_WEIGHT + U(0, 1)) / sum``).
A3_MIN_WEIGHT = 0.2

#: The ``d - 1`` free simplex vertices are redrawn until their perpendicular parts have
#: ``sigma_min / sigma_max >= A3_MIN_SPREAD`` (no nearly flat simplex, so theta is not tiny).
A3_MIN_SPREAD = 0.05


@dataclass(frozen=True, eq=False)
class A3Data(OnDrawnData):
    """A drawn data set where A3 holds by construction, with its max-margin solution known.

    Attributes
    ----------
    drawn
        The :class:`DrawnData` (family ``"a3"``; ``witness = ubar``).
    ubar, gamma
        The max-margin direction and margin, exact for the construction
        (the stored z_i are its float64 rounding).
    lam
        (d,) barycentric weights of the d simplex support vectors
        (``sum lam_i z_i = gamma ubar``); they are the dual weights.
    simplex
        (d,) row indices of those support vectors, in the order of ``lam``.
    support
        Sorted row indices of every support vector (``simplex`` plus the
        ``extra`` ones placed exactly on the margin).
    extra
        Number of extra support vectors (0: the support is exactly the simplex).
    theta
        theta of Lemma 3 in closed form (``min_j lam_j dist(q_j, aff{q_i : i != j})``,
        computed from the construction's perpendicular parts ``q_i``) when
        ``extra == 0``; None otherwise (the hull is then not a simplex).
    q
        (|support|, d) perpendicular parts ``q_i = z_i - gamma ubar`` of the
        support vectors as constructed (before rounding), rows in ``support`` order.
    """

    drawn: DrawnData
    ubar: np.ndarray
    gamma: float
    lam: np.ndarray
    simplex: np.ndarray
    support: np.ndarray
    extra: int
    theta: float | None
    q: np.ndarray

    def __repr__(self) -> str:
        return (
            f"A3Data(n={self.n}, d={self.d}, gamma={self.gamma!r}, extra={self.extra}, "
            f"theta={self.theta!r}, lam={self.lam.tolist()!r}, simplex={self.simplex.tolist()!r}, "
            f"ubar={self.ubar.tolist()!r}, drawn={self.drawn!r})"
        )


def _affine_distance(point: np.ndarray, others: np.ndarray) -> float:
    """Distance from ``point`` to the affine hull of the rows of ``others`` (least squares)."""
    base = others[0]
    if others.shape[0] == 1:
        return float(np.linalg.norm(point - base))
    m = (others[1:] - base).T
    coef = np.linalg.lstsq(m, point - base, rcond=None)[0]
    return float(np.linalg.norm(point - base - m @ coef))


def build_a3(
    rng: np.random.Generator,
    n: int,
    d: int,
    gamma: float,
    *,
    extra: int = 0,
    spread: float = 1.0,
) -> A3Data:
    """Build A3 data from a generator (the body of :func:`a3_datasets`, usable with a fixed seed).

    ``n >= d + extra``, ``d >= 2``, ``0 < gamma <= 0.5`` (plus the 1e-12 buffer
    :func:`a3_datasets` adds so that ``min_margin = 0.5`` certifies), ``spread in (0, 1]`` (the
    largest perpendicular part of a support vector is ``spread sqrt(1 - gamma^2)``).
    See :func:`a3_datasets` for the construction and why it is correct.
    """
    if d < 2 or n < d + extra or not 0 < gamma <= 0.5 + MARGIN_BUFFER or not 0 < spread <= 1:
        raise ValueError(
            f"build_a3: need d >= 2, n >= d + extra, 0 < gamma <= 0.5; got {n, d, gamma}"
        )
    ubar = unit_vector(rng, d)
    lam = A3_MIN_WEIGHT + rng.random(d)
    lam = lam / lam.sum()
    for _ in range(1000):
        free = perp_units(rng, ubar, d - 1) * (0.3 + 0.7 * rng.random(d - 1))[:, None]
        sv = np.linalg.svd(free, compute_uv=False)
        if sv[-1] >= A3_MIN_SPREAD * sv[0]:
            break
    last = -(lam[:-1] @ free) / lam[-1]
    q = np.vstack([free, last[None, :]])
    if extra:
        q = np.vstack([q, perp_units(rng, ubar, extra) * rng.random(extra)[:, None]])
    q = q * (spread * math.sqrt(1.0 - gamma**2) * INSIDE / float(np.max(np.linalg.norm(q, axis=1))))
    # Second Gram-Schmidt pass: perp_units' single pass leaves a ubar-component of
    # ~eps |q_raw| / |q_perp| (up to ~1e-14 when the raw draw is nearly parallel to
    # ubar); after this one it is ~eps |q|, so every support margin is gamma to ~(d+2) eps.
    q = q - np.outer(q @ ubar, ubar)
    z_sup = gamma * ubar[None, :] + q
    n_off = n - d - extra
    g = (
        gamma
        + A3_GAP * max(gamma, 0.05)
        + (INSIDE - gamma - A3_GAP * max(gamma, 0.05)) * rng.random(n_off)
    )
    r = np.sqrt(np.maximum(0.0, 1.0 - g**2)) * rng.random(n_off) * INSIDE
    z_off = g[:, None] * ubar[None, :] + r[:, None] * perp_units(rng, ubar, n_off)
    z = np.vstack([z_sup, z_off])
    order = rng.permutation(n)  # row order[k] of the output is row k of z... inverted below
    inv = np.argsort(order)
    z = z[order]
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    data = make_dataset(y[:, None] * z, y)
    simplex = inv[:d].astype(np.intp)
    support_rows = inv[: d + extra]
    srt = np.argsort(support_rows)
    support = support_rows[srt].astype(np.intp)
    q_sorted = q[srt]
    theta = None
    if extra == 0:
        theta = min(
            float(lam[j]) * _affine_distance(q[j], np.delete(q, j, axis=0)) for j in range(d)
        )
    lb = certified_margin(data.z, ubar)
    for a in (ubar, lam, simplex, support, q_sorted):
        a.setflags(write=False)
    drawn = DrawnData(data=data, family="a3", margin_lower_bound=lb, witness=ubar)
    return A3Data(drawn, ubar, float(gamma), lam, simplex, support, int(extra), theta, q_sorted)


@st.composite
def _a3_datasets(draw, n, d, min_margin, extra) -> A3Data:
    dd = draw(st.integers(*d), label="d")
    k = draw(st.integers(*extra), label="extra support vectors")
    nn = draw(st.integers(max(n[0], dd + k), max(n[1], dd + k)), label="n")
    frac = draw(st.floats(0.0, 1.0), label="gamma (log-fraction)")
    gamma = log_uniform(min_margin, max(0.5, min_margin), frac) + MARGIN_BUFFER
    # Capped at 0.5, but never below min_margin + buffer: at min_margin = 0.5 (the top of
    # the documented range) a cap at 0.5 left the certified margin ~1e-15 short of 0.5.
    gamma = min(gamma, max(0.5, min_margin + MARGIN_BUFFER))
    spread = draw(st.floats(0.2, 1.0), label="spread of the support vectors")
    seed = draw(seeds(), label="data seed")
    out = build_a3(np.random.default_rng(seed), nn, dd, gamma, extra=k, spread=spread)
    # Internal consistency: a failure here is a bug of this module, never of the suite.
    if not out.drawn.margin_lower_bound >= min_margin:
        raise AssertionError(
            f"a3: certified margin {out.drawn.margin_lower_bound!r} < {min_margin}"
        )
    return out


def a3_datasets(
    *,
    n: IntRange = (2, 30),
    d: IntRange = (2, 6),
    min_margin: float = 0.02,
    extra: IntRange = 0,
) -> st.SearchStrategy[A3Data]:
    """Data where A3 holds by construction and ubar, gamma, theta are known (S-L3, S-L4).

    Construction (:func:`build_a3`): a random unit ubar; gamma log-uniform in
    ``[min_margin, 0.5]``; barycentric weights ``lam_i > 0`` bounded away from 0
    (:data:`A3_MIN_WEIGHT`); ``d - 1`` random ``q_i perp ubar`` (not nearly
    flat: :data:`A3_MIN_SPREAD`) and ``q_d = -(sum_{i<d} lam_i q_i) / lam_d``, so
    ``sum lam_i q_i = 0``; all scaled so ``||z_i|| < 1`` for the support vectors
    ``z_i = gamma ubar + q_i``.  ``extra`` more support vectors may be put
    exactly on the margin (``gamma ubar + q``, any ``q perp ubar``).  The other
    points have margin ``>= gamma + A3_GAP max(gamma, 0.05)`` (a clear gap) and
    norm < 1.  Rows are shuffled, labels random, ``x = y z`` (exact).

    Why (ubar, gamma) is the max-margin solution (KKT): ``gamma ubar = sum lam_i z_i``
    lies in ``conv{z_i}`` and every ``<ubar, z_i> >= gamma``, so
    ``gamma <= min_{p in conv} ||p|| <= ||gamma ubar|| = gamma`` and gamma ubar is
    the minimum-norm point.  A3 holds: the d simplex vertices ``q_i`` are
    affinely independent in ``ubar^perp`` (the free ones are linearly
    independent; the matrix taking them to the edge vectors is
    ``I + 1 mu^T`` with ``det = 1 + sum mu > 0``), so the ``z_i`` span R^d.
    theta (no extras) is ``min_j lam_j h_j`` with ``h_j`` the distance of ``q_j``
    from the opposite facet: the origin's barycentric coordinates are the
    ``lam_j``, and a barycentric coordinate is the ratio of heights above that
    facet.

    ``n`` is raised to ``d + extra`` when the drawn n is smaller.  Shrinks
    towards small n, d, gamma = min_margin, and seed 0.
    """
    nr = int_range(n, "n", 1)
    dr = int_range(d, "d", 2)
    er = int_range(extra, "extra", 0)
    margin = float_value(min_margin, "min_margin")
    if not 1e-3 <= margin <= 0.5:
        # Below ~1e-3 the max-margin certificate (1e-12, relative) meets the rounding floor.
        raise InvalidArgument(f"min_margin={min_margin!r} must lie in [1e-3, 0.5]")
    return _a3_datasets(nr, dr, margin, er)
