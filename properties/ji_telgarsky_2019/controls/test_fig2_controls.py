"""Negative controls for the Fig. 2 experiment: each S-FIG2 check fails on a planted bug.

Every control runs the same check function the property runs (imported from
:mod:`properties.ji_telgarsky_2019.claims.fig2`) on a run with one planted bug or violated
assumption, and asserts that it raises; the honest run is asserted to pass
first, so a control cannot pass because the check is broken.  Sizes: the
small configuration of :mod:`properties.ji_telgarsky_2019.claims.fig2` under every profile
(the controls need no statistics).
"""

from __future__ import annotations

import numpy as np
import pytest

from invariants import relu
from properties.ji_telgarsky_2019.claims import fig2

pytestmark = pytest.mark.meta

SEED = 11


@pytest.fixture(scope="module")
def data():
    return relu.load_digits(fig2.SMALL.n, seed=SEED)


@pytest.fixture(scope="module")
def honest(data):
    W0 = relu.init_weights("default", relu.DIGITS_WIDTHS, SEED)
    return relu.train_sgd(data, W0, fig2.SMALL.steps, fig2.ETA, fig2.BATCH, SEED, init="default")


def _noise_instead_of_gradient(weights, Xb, yb, rng):
    """Plant: every dense layer's gradient replaced by Gaussian noise of the same norm."""
    bp = relu.loss_and_gradients(weights, Xb, yb)
    grads = []
    for G in bp.grads:
        N = rng.normal(size=G.shape)
        grads.append(N * (np.linalg.norm(G) / np.linalg.norm(N)))
    return relu.Backprop(bp.loss, grads, bp.wg, bp.abs_products)


def _one_layer_off(factor: float):
    """Plant: the gradient of layer 1 is scaled by ``factor`` (a wrong learning-rate multiplier)."""

    def rule(weights, Xb, yb, rng):
        bp = relu.loss_and_gradients(weights, Xb, yb, trace=True)
        grads = [factor * bp.grads[0], *bp.grads[1:]]
        return relu.Backprop(bp.loss, grads, bp.wg, bp.abs_products)

    return rule


def _backprop_without_mask(weights, X, y):
    """Plant: backprop that forgets the ReLU derivative (no mask on the way down)."""
    A, H = relu.forward(weights, X)
    _, dA = relu.cross_entropy(A[-1], y)
    grads = [np.empty(0)] * len(weights)
    for k in range(len(weights) - 1, -1, -1):
        grads[k] = dA.T @ H[k]
        if k > 0:
            dA = dA @ weights[k]
    return grads


def test_honest_run_passes(honest):
    """The controls mean something only if the unbroken run passes every check, and each
    check is *exercised* on it (its slack says the run could have failed it: the report counts
    only exercised examples, so a check that never says so leaves S-FIG2 vacuous).  Negative
    control: ``exercised=None`` in check_homogeneity (sampled mutant fig2.check_homogeneity
    61) fails the last assertion."""
    slacks = [fig2.check_s_fig2(honest), fig2.check_relu_balance(honest)]
    slacks.append(fig2.check_homogeneity(honest))
    assert [s.exercised for s in slacks] == [True, True, True]


def test_balancedness_fails_for_tanh(data):
    """S-FIG2 (Du et al.): tanh is not homogeneous, so <W_k, G_k> differs across layers.

    The same check functions as the property, on the same data and init, with
    tanh in place of ReLU: the first-order terms no longer cancel and both the
    homogeneity check and the exact balancedness identity fail.
    """
    W0 = relu.init_weights("default", relu.DIGITS_WIDTHS, SEED)
    run = relu.train_sgd(data, W0, 50, fig2.ETA, fig2.BATCH, SEED, activation="tanh")
    with pytest.raises(AssertionError, match="S-FIG2 homogeneity"):
        fig2.check_homogeneity(run)
    with pytest.raises(AssertionError, match="S-FIG2 balancedness"):
        fig2.check_relu_balance(run)


def test_balancedness_resolves_a_one_in_a_million_gradient_error(data):
    """S-FIG2 (Du et al.): layer 1's gradient scaled by 1 + 1e-6 already breaks the identity.

    The first-order terms then cancel only up to ``2 eta 1e-6 <W_1, G_1>`` per
    step, far above the rounding bound: the tolerance is not vacuous.
    """
    W0 = relu.init_weights("default", relu.DIGITS_WIDTHS, SEED)
    run = relu.train_sgd(
        data, W0, 50, fig2.ETA, fig2.BATCH, SEED, gradient=_one_layer_off(1 + 1e-6)
    )
    with pytest.raises(AssertionError, match="S-FIG2 balancedness"):
        fig2.check_relu_balance(run)


def _noise_run(data, init: str, seed: int, **kw) -> relu.SGDRun:
    """The small Fig. 2 run with gradient-sized noise in place of the gradient."""
    W0 = relu.init_weights(init, relu.DIGITS_WIDTHS, seed)
    return relu.train_sgd(
        data, W0, fig2.SMALL.steps, fig2.ETA, fig2.BATCH, seed,
        gradient=_noise_instead_of_gradient, init=init, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def noise_runs(data):
    return [_noise_run(data, init, SEED) for init in fig2.INITS]


def test_s_fig2_fails_when_gradients_are_noise(noise_runs):
    """S-FIG2: noise of the gradient's norm instead of the gradient: no learning, no alignment.

    The weights random-walk, so each layer stays an i.i.d. random matrix: its
    ratio stays within a few init sds of the random-matrix value, below the
    threshold, and the risk does not fall.  Both inits.
    """
    for run in noise_runs:
        thr = fig2.fig2_thresholds(run)
        _, sd = relu.init_ratio_spread(run.init, tuple(run.widths))
        value = np.array([relu.gaussian_ratio(s) for s in run.shapes])
        assert np.all(np.abs(run.ratios[-1] - value) <= 2 * fig2.SPREAD_MARGIN * sd)
        assert np.all(run.ratios[-1, :-1] < thr[:-1])
        with pytest.raises(AssertionError, match="S-FIG2"):
            fig2.check_s_fig2(run)


def test_classifier_rise_fails_when_gradients_are_noise(data):
    """S-FIG2: across seeds, the classifier layer's mean rise is not significant under noise."""
    runs = [_noise_run(data, "default", seed, trace=False) for seed in range(4)]
    with pytest.raises(AssertionError, match="S-FIG2: classifier layer"):
        fig2.check_classifier_rise(runs)


def test_gradient_check_fails_on_backprop_without_relu_mask(data):
    """S-FIG2's gradients: backprop that forgets the ReLU mask fails the central differences."""
    W = relu.init_weights("default", relu.DIGITS_WIDTHS, SEED)
    X, y = data.X[:32], data.y[:32]
    rng = np.random.default_rng(SEED)
    coords = fig2.sample_coords(W, rng, per_layer=4)
    fig2.check_gradients_fd(W, X, y, coords)
    with pytest.raises(AssertionError, match="S-FIG2 gradient"):
        fig2.check_gradients_fd(W, X, y, coords, gradient=_backprop_without_mask)
