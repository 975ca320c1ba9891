"""Negative controls of the multi-class checks (LL-F, LL-FIG1): each check fails on a
broken dynamic, a violated assumption or a planted constant.

Every control first asserts that the honest input passes the same check (so a control
cannot pass because the check is broken), then that the planted one raises.  They read the
cached run of seed 0, depth 3 (:func:`multiclass.digits_run`).
"""

from __future__ import annotations

import numpy as np
import pytest

from invariants.core import multiclass as mc
from properties.lyu_li_2020.claims import multiclass

pytestmark = pytest.mark.meta

SEED, DEPTH, STATE = 0, 3, 100


@pytest.fixture(scope="module")
def run() -> multiclass.DigitsRun:
    return multiclass.digits_run(SEED, DEPTH)


@pytest.fixture(scope="module")
def point(run) -> multiclass.Point:
    return multiclass.evaluate(run.loss_based.weights[STATE], run.X, run.y)


def _synthetic(s: np.ndarray) -> multiclass.Point:
    """A point given by its pair margins alone (the sandwich and the floor read only these)."""
    one = np.ones(1)
    return multiclass.Point(
        theta=one, g=-one, s=s, log_loss=mc.log_cross_entropy_sum(s), order=1,
        abs_products=one, dims=(1, 1), weights=(one[:, None],),
    )  # fmt: skip


def test_euler_fails_with_biases(run, point):
    """LL-F: biases in every layer (not homogeneous, (A2) broken) break ``<theta, -grad
    Lsum> = p nu``, already at biases of size 1e-3."""
    multiclass.check_ll_f_euler(point)
    rng = np.random.default_rng(SEED)
    W = run.loss_based.weights[STATE]
    biases = [1e-3 * rng.normal(size=M.shape[0]) for M in W]
    with pytest.raises(AssertionError, match="LL-F Euler"):
        multiclass.check_ll_f_euler(multiclass.evaluate(W, run.X, run.y, biases=biases))


def test_euler_fails_with_a_wrong_order(point):
    """LL-F: the identity with ``p - 1`` (a layer miscounted) fails."""
    wrong = multiclass.Point(**{**point.__dict__, "order": point.order - 1})
    with pytest.raises(AssertionError, match="LL-F Euler"):
        multiclass.check_ll_f_euler(wrong)


def test_sandwich_fails_without_log_c_minus_1():
    """LL-F: the sandwich width ``log n + Lsum`` (the binary one, without ``log(C-1)``) fails
    where every wrong class ties with every other (``q_min - Q`` is then ``log(C-1) + log n
    + O(Lsum)``); the derived width holds there."""
    tied = _synthetic(np.full((200, 9), 15.0))
    multiclass.check_ll_f_sandwich(tied)
    with pytest.raises(AssertionError, match="LL-F sandwich"):
        multiclass.check_ll_f_sandwich(tied, width=lambda C, n, log_l: np.log(n) + np.exp(log_l))


def test_nu_floor_fails_with_the_exponential_loss_floor():
    """LL-F: the floor ``nu >= Lsum Q`` (the exponential loss's ``f' = 1`` in place of
    ``1 - e^{-Lsum}``) fails for one example with one wrong class (``x/(1+x) < log(1+x)``);
    the derived floor holds there."""
    single = _synthetic(np.array([[0.5]]))
    multiclass.check_ll_f_nu_floor(single)
    with pytest.raises(AssertionError, match="LL-F: nu/Lsum"):
        multiclass.check_ll_f_nu_floor(single, floor=mc.smoothed_min_margin)


def test_rate_fails_for_a_velocity_with_a_tangential_drift(point):
    """LL-F: ``d log gtil/dt >= p T/V`` is a property of gradient flow; a velocity ``-g + w``
    with ``w`` orthogonal to both ``theta`` and ``g`` (a rotation added to the flow) leaves
    ``d log gtil`` and ``V`` unchanged but raises ``T`` past the bound."""
    multiclass.check_ll_f_rate(point)
    rng = np.random.default_rng(SEED)
    basis, _ = np.linalg.qr(np.stack([point.theta, point.g], axis=1))
    w = rng.normal(size=point.theta.size)
    w -= basis @ (basis.T @ w)
    w *= 3 * np.linalg.norm(point.g) / np.linalg.norm(w)
    with pytest.raises(AssertionError, match="LL-F: d log gtil/dt"):
        multiclass.check_ll_f_rate(point, velocity=-point.g + w)


class _Fixed(multiclass.Schedule):
    """``theta -= alpha g`` with a fixed ``alpha`` and no rejection (planted schedules)."""

    def __init__(self, alpha: float) -> None:
        self.fixed = alpha

    def alpha(self, log_l: float, log_l0: float) -> float:
        return self.fixed


def _first(r: multiclass.Run, steps: int) -> multiclass.Run:
    return multiclass.Run(
        r.log_loss[: steps + 1],
        r.q_min[: steps + 1],
        r.gbar_mh[: steps + 1],
        r.weights[: steps + 1],
    )


def test_fig1_fails_for_gradient_ascent(run):
    """LL-FIG1: gradient *ascent* with the loss-based step in place of descent: the loss
    rises and ``gbar_mh`` falls, so the trend check fails."""
    multiclass.check_ll_fig1(run.loss_based, run.constant)
    steps = 60
    ascent = multiclass.gd_run(
        run.loss_based.weights[0], run.X, run.y, steps, _Fixed(-multiclass.ALPHA)
    )
    with pytest.raises(AssertionError, match="LL-FIG1"):
        multiclass.check_ll_fig1(ascent, _first(run.constant, steps))


def test_fig1_fails_for_a_too_large_loss_based_step(run):
    """LL-FIG1: the loss-based step with a fixed ``alpha = 0.2`` (20 times the run's, never
    shrunk): the step ``0.2 / Lsum`` outgrows the curvature, GD leaves the fitted region
    and ``gbar_mh`` falls (outside (S5), as LL-FIG1's entry says)."""
    steps = multiclass.POST_STEPS
    big = multiclass.gd_run(run.loss_based.weights[0], run.X, run.y, steps, _Fixed(0.2))
    with pytest.raises(AssertionError, match="LL-FIG1"):
        multiclass.check_ll_fig1(big, run.constant)
