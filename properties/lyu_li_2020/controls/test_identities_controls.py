"""Negative controls for the identities stem: each check must fail on a planted bug.

Each meta-test builds a small fixed state (a bias-free ReLU network or a deep linear
network, past t0), shows the honest state passes, then plants one bug -- a violated
assumption (biases: not homogeneous), a wrong order ``p``, the smoothed margin of the MEAN
risk (the sum-vs-mean trap), a ``nu`` of the mean, a velocity split without its
projection, mislabelled layer blocks, a GD step with a wrong order -- and asserts that the
*same* check function the property suite runs raises.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from invariants.core import homogeneous as hom
from invariants.core.losses import EXPONENTIAL, LOGISTIC, Loss
from properties.lyu_li_2020.claims import identities

pytestmark = pytest.mark.meta


def relu_data(n: int = 24, d: int = 3, widths=(6, 5), seed: int = 5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    dims = [d, *widths, 1]
    weights = [rng.normal(size=(dims[k + 1], dims[k])) for k in range(len(dims) - 1)]
    return x, weights


def separable_relu_state(loss: Loss, q_min: float = 8.0) -> identities.State:
    """A ReLU network on labels it separates, scaled so that ``q_min`` is given (past t0)."""
    x, weights = relu_data()
    phi = hom.relu_network_margins(weights, x, np.ones(len(x))).q
    keep = phi != 0
    x, phi = x[keep], phi[keep]
    y = np.sign(phi)
    scale = (q_min / float(np.min(y * phi))) ** (1 / len(weights))
    return identities.relu_state([scale * W for W in weights], x, y, loss)


def biased_relu_margins(
    weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], x: np.ndarray, y: np.ndarray
) -> hom.MarginModel:
    """A ReLU network WITH hidden biases, ``theta = (W_1..W_L, b_1..b_{L-1})``: not
    homogeneous (A2 violated), read as if it were of order L."""
    H, A = [x], []
    for k, W in enumerate(weights):
        A.append(H[-1] @ W.T + (biases[k] if k < len(biases) else 0.0))
        H.append(np.maximum(A[-1], 0.0) if k < len(weights) - 1 else A[-1])
    q = y * H[-1][:, 0]
    delta = y[:, None]
    wblocks, bblocks = [], []
    for k in range(len(weights) - 1, -1, -1):
        wblocks.append((delta[:, :, None] * H[k][:, None, :]).reshape(len(q), -1))
        if k < len(biases):
            bblocks.append(delta)
        if k:
            delta = (delta @ weights[k]) * (A[k - 1] > 0.0)
    theta = np.concatenate([W.ravel() for W in weights] + [b.ravel() for b in biases])
    J = np.hstack(wblocks[::-1] + bblocks[::-1])
    return hom.MarginModel(theta, q, J, len(weights))


def biased_state(loss: Loss) -> identities.State:
    """The separable state's layers with random hidden biases added (the labels kept)."""
    honest = separable_relu_state(loss)
    rng = np.random.default_rng(11)
    biases = [rng.normal(size=W.shape[0]) for W in honest.weights[:-1]]
    phi = hom.relu_network_margins(honest.weights, honest.x, np.ones(len(honest.x))).q
    y = np.sign(phi)

    def build(ws):
        return biased_relu_margins(ws, biases, honest.x, y)

    return identities.State(honest.weights, honest.x, build(honest.weights), loss, build)


@pytest.mark.parametrize("loss", [EXPONENTIAL, LOGISTIC], ids=lambda l: l.name)
def test_honest_states_pass(loss):
    """The controls below mean something only if the honest states pass every check of
    the stem, each exercised (no statement named: this test plants nothing)."""
    state = separable_relu_state(loss)
    for sid, thunk in identities.checks_at(state, 1.7).items():
        slack = thunk()
        assert slack.statement == sid and slack.exercised, (sid, slack)
    assert identities.check_ll_eq6_gd(state, 0.05).exercised


@pytest.mark.parametrize("loss", [EXPONENTIAL, LOGISTIC], ids=lambda l: l.name)
def test_biases_break_euler_and_eq6(loss):
    """LL-EQ1, LL-EQ6: hidden biases (A2 violated) break Euler's identity and eq. 6
    (the A2-violation family of the counterexample stem)."""
    state = biased_state(loss)
    with pytest.raises(AssertionError, match="LL-EQ1"):
        identities.check_ll_eq1(state, 1.7)
    with pytest.raises(AssertionError, match="LL-EQ6"):
        identities.check_ll_eq6(state)


def test_wrong_order_breaks_eq1_eq6_s5id_and_gd_step():
    """LL-EQ1, LL-EQ6 (pointwise and GD step), LL-S5.ID: the model read with order p + 1."""
    honest = separable_relu_state(EXPONENTIAL)
    model = dataclasses.replace(honest.model, order=honest.model.order + 1)
    state = dataclasses.replace(honest, model=model)
    with pytest.raises(AssertionError, match="LL-EQ1"):
        identities.check_ll_eq1(state, 1.7)
    with pytest.raises(AssertionError, match="LL-EQ6"):
        identities.check_ll_eq6(state)
    with pytest.raises(AssertionError, match=r"LL-EQ6\(b\)"):
        identities.check_ll_eq6_gd(state, 0.05)
    with pytest.raises(AssertionError, match=r"LL-S5\.ID"):
        identities.check_ll_s5_id(state)


def test_scaling_of_a_non_homogeneous_model_breaks_eq1a():
    """LL-EQ1(a): gradients at ``c theta`` of a model with biases do not scale as
    ``c^{p-1}`` even when the model at ``theta`` itself is honest."""
    honest = separable_relu_state(EXPONENTIAL)
    biased = biased_state(EXPONENTIAL)

    def build(ws):  # bias-free layers, but the biased network's margins at c theta
        full = biased.build(ws)
        return hom.MarginModel(
            full.theta[: honest.size], full.q, full.jacobian[:, : honest.size], full.order
        )

    state = dataclasses.replace(honest, build=build)
    with pytest.raises(AssertionError, match=r"LL-EQ1\(a\)"):
        identities.check_ll_eq1(state, 1.7)


def test_mean_risk_smoothed_margin_breaks_the_sandwich():
    """LL-SW, LL-LA.5: the trap ``loss^{-1}(R)`` with the mean ``R = Lsum / n`` shifts ``Q`` by
    about ``log n`` (gtil by ``log(n)/rho^p``) and the sandwich fails."""
    cases = (
        (EXPONENTIAL, identities.check_ll_sw, "LL-SW"),
        (LOGISTIC, identities.check_ll_la5, "LL-LA.5"),
    )
    for loss, check, sid in cases:
        state = separable_relu_state(loss)
        q = state.model.q
        log_mean = hom.log_loss_sum(q, loss) - np.log(q.size)
        trap = -log_mean if loss is EXPONENTIAL else -log_mean - hom.log_expm1_ratio(log_mean)
        check(q, hom.smoothed_min_margin(q, loss), loss)  # the honest Q passes
        with pytest.raises(AssertionError, match=sid):
            check(q, trap, loss)


@pytest.mark.parametrize("loss", [EXPONENTIAL, LOGISTIC], ids=lambda l: l.name)
def test_nu_of_the_mean_breaks_eq7_l51_eq5(monkeypatch, loss):
    """LL-EQ7, LL-L5.1, LL-EQ5: ``nu`` computed as a mean (``nu / n``) falls below
    ``(-loss'(Q)) Q``, and the gap identity and the inequality fail."""
    state = separable_relu_state(loss)
    honest = hom.nu_over_loss

    def planted(q, loss_):
        return honest(q, loss_) / np.size(q)

    monkeypatch.setattr(hom, "nu_over_loss", planted)
    with pytest.raises(AssertionError, match="LL-EQ7"):
        identities.check_ll_eq7(state.model.q, loss)
    with pytest.raises(AssertionError, match=r"LL-L5\.1"):
        identities.check_ll_l51(state)
    with pytest.raises(AssertionError, match="LL-EQ5"):
        identities.check_ll_eq5(state)


@pytest.mark.parametrize("loss", [EXPONENTIAL, LOGISTIC], ids=lambda l: l.name)
def test_floor_at_the_largest_margin_breaks_eq7_and_the_l51_inequality(monkeypatch, loss):
    """LL-EQ7, LL-L5.1, LL-EQ5: the floor ``(-loss'(Q)) Q`` evaluated at the LARGEST margin
    in place of ``Q`` (a smoothed max for a smoothed min) exceeds ``nu``: EQ7 and the
    inequalities fail while the gap identities (in which the floor cancels) still hold."""
    state = separable_relu_state(loss)
    q_max = float(np.max(state.model.q))

    def planted(q, loss_):
        return q_max * float(np.exp(loss_.log_neg_d1(q_max) - loss_.log_value(q_max)))

    monkeypatch.setattr(hom, "eq7_floor_over_loss", planted)
    with pytest.raises(AssertionError, match="LL-EQ7: nu/Lsum"):
        identities.check_ll_eq7(state.model.q, loss)
    with pytest.raises(AssertionError, match=r"LL-L5\.1: d log gtil/dt - p T/V"):
        identities.check_ll_l51(state)
    with pytest.raises(AssertionError, match="LL-EQ5: d log gtil_mh/dt falls"):
        identities.check_ll_eq5(state)


def test_split_without_projection_breaks_s5id(monkeypatch):
    """LL-S5.ID: a tangential part formed without removing the radial part."""
    state = separable_relu_state(LOGISTIC)

    def planted(theta, velocity):
        return float(theta @ velocity) / float(np.linalg.norm(theta)), velocity

    monkeypatch.setattr(hom, "radial_tangential", planted)
    with pytest.raises(AssertionError, match=r"LL-S5\.ID"):
        identities.check_ll_s5_id(state)


def test_mislabelled_layers_break_eq6a_and_eq5(monkeypatch):
    """LL-EQ6(a), LL-EQ5: layer blocks cut from the shapes read last to first (a layout bug):
    the per-layer rates are no longer ``nu`` each."""
    state = separable_relu_state(EXPONENTIAL)
    honest = hom.layer_slices

    def planted(shapes):
        return honest(list(shapes)[::-1])

    monkeypatch.setattr(hom, "layer_slices", planted)
    with pytest.raises(AssertionError, match=r"LL-EQ6\(a\)"):
        identities.check_ll_eq6(state)
    with pytest.raises(AssertionError, match="LL-EQ5"):
        identities.check_ll_eq5(state)


def test_before_t0_is_not_exercised():
    """At a point before t0 (random labels, ``Q < 0``) the checks of Lemma 5.1, eq. 5, eq. 7
    and Lemma A.5 pass without counting the example as exercised (what counts as
    exercised; no statement named: nothing is planted)."""
    x, weights = relu_data()
    y = np.where(np.arange(len(x)) % 2 == 0, 1.0, -1.0)
    state = identities.relu_state(weights, x, y, LOGISTIC)
    assert hom.smoothed_min_margin(state.model.q, LOGISTIC) < 0
    assert not identities.check_ll_l51(state).exercised
    assert not identities.check_ll_eq5(state).exercised
    assert not identities.check_ll_eq7(state.model.q, LOGISTIC).exercised
    assert not identities.check_ll_la5(
        state.model.q, hom.smoothed_min_margin(state.model.q, LOGISTIC), LOGISTIC
    ).exercised


def test_certificate_of_a_planted_loss_is_false(monkeypatch):
    """LL-EQ7, LL-L5.1: ball arithmetic with the loss counted ten times (``Lsum`` ten times
    too large, so ``Q`` about ``log 10`` too small and the floor ``(-loss'(Q)) Q`` about ten
    times ``nu``) proves eq. 7 false at a deep linear state past t0, and the certified path
    check fails (a FALSE certificate is a failure of the suite)."""
    from invariants.certify import network

    rng = np.random.default_rng(3)
    u = np.array([1.0, 0.5, -0.2])
    z = rng.normal(size=(12, 3))
    z *= np.sign(z @ u)[:, None]
    weights = [4.0 * np.outer(np.ones(2), u), 4.0 * np.ones((1, 2))]
    honest = network.loss_value
    assert identities.certify_path([weights], z, LOGISTIC)["LL-EQ7"].certified

    def planted(loss, m):
        return 10 * honest(loss, m)

    monkeypatch.setattr(network, "loss_value", planted)
    with pytest.raises(AssertionError, match="LL-EQ7: the float check held but ball"):
        identities.certify_path([weights], z, LOGISTIC)
