"""S-FIG2 on a bias-free ReLU network trained by SGD on 8x8 digits (:mod:`invariants.relu`).

Statements: S-FIG2 (the paper's Fig. 2: the dense layers' ``||W_k||_2/||W_k||_F``
rises far above its floor while the risk falls, with the default and with the
equal-Frobenius initialisation), the exact gradients it rests on, and
balancedness in ReLU networks (Du, Hu & Lee 2018), named S-FIG2 here.

**Why S-FIG2 and not S-EQ3 for balancedness.**  S-EQ3 is the paper's claim
about *linear* networks and is checked on them elsewhere; naming it here
would let a ReLU result stand in for (or a ReLU failure count against) the
linear statement.  Du et al.'s conservation law is what the paper invokes for
Fig. 2 ("the norm preservation property in the analysis" motivates Fig. 2b's
equal-Frobenius initialisation), so it belongs to the Fig. 2 experiment.

**Sizes (read from ``request.config.invariants_profile``).**  The ``report``
and ``stress`` profiles run the full experiment: all 1797 digits, 2000 SGD
steps (about 36 epochs) for S-FIG2, 1000 steps for balancedness, 10 fixed
seeds per init for the across-seed test.  Every other profile (``ci``,
``dev``, ``triage``) runs a small one: a stratified subset of 400 digits, 300
SGD steps (24 epochs), 200 steps for balancedness, 6 fixed seeds.  Both:
widths 64 -> 128 -> 128 -> 10, minibatch 32, fixed step 0.1 (balancedness
draws the step from {0.02, 0.05, 0.1, 0.2}), seeds drawn by Hypothesis
(deterministic under ``ci``/``report``) or fixed.

**The S-FIG2 threshold, derived.**  The trained ratio must exceed the
random-matrix value ``1/sqrt(m) + 1/sqrt(n)`` (:func:`relu.gaussian_ratio`) plus three
sds of the init's own ratio (:func:`relu.init_ratio_spread`), for the hidden dense layers;
the classifier layer W_3 falls back towards neural collapse's ``1/sqrt(C - 1)``, so its
rise is asserted across fixed seeds (:func:`check_classifier_rise`).  The per-layer
thresholds, the measured end ratios over 40 seeds, the He-normal finding and the
balancedness drifts are in docs/numerics.md, "Fig. 2: the ReLU experiment measured".
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from invariants import relu
from properties.ji_telgarsky_2019.claims.fig2 import (
    BATCH,
    ETA,
    FULL,
    INITS,
    SMALL,
    SPREAD_SEEDS,
    Size,
    check_classifier_rise,
    check_gradients_fd,
    check_homogeneity,
    check_relu_balance,
    check_s_fig2,
    fig2_end_values,
    fig2_run,
    fig2_series,
    sample_coords,
    spread_values,
)

SEEDS = st.integers(0, 2**31 - 1)


def size_for(config: pytest.Config) -> Size:
    """The full experiment under the ``report``/``stress`` profiles, the small one otherwise."""
    profile = getattr(config, "invariants_profile", "dev")
    return FULL if profile in ("report", "stress") else SMALL


# --- S-FIG2 -------------------------------------------------------------------------------


@pytest.mark.parametrize("init", INITS)
@given(seed=SEEDS)
def test_fig2_dense_layers_align(init, seed, request, record_slack, record_observation):
    """S-FIG2: SGD on digits; ratios rise, hidden layers end far above floor, risk falls."""
    size = size_for(request.config)
    run = fig2_run(init, seed, size)
    note(f"init={init} seed={seed} ratios {run.ratios[0]} -> {run.ratios[-1]} risk {run.risk[-1]}")
    record_slack(check_s_fig2(run))
    record_observation(
        "fig2", "S-FIG2", {"init": relu.INITS[init], "seed": seed}, series=fig2_series(run)
    )
    record_observation(f"fig2_end_{init}", "S-FIG2", fig2_end_values(run))


@pytest.mark.parametrize("init", INITS)
def test_fig2_spread_across_seeds(init, request, record_slack, record_observation):
    """S-FIG2 across fixed seeds: the seed spread, and the classifier layer's mean rise."""
    size = size_for(request.config)
    count = SPREAD_SEEDS["full" if size is FULL else "small"]
    runs = [fig2_run(init, seed, size) for seed in range(count)]
    record_slack(check_classifier_rise(runs))
    values, _, _ = spread_values(runs)
    record_observation(f"fig2_spread_{init}", "S-FIG2", values)


# --- exact gradients ----------------------------------------------------------------------


@given(
    seed=SEEDS,
    init=st.sampled_from(INITS),
    trained=st.integers(0, 60),
    batch=st.integers(4, 48),
)
def test_relu_backprop_matches_central_differences(seed, init, trained, batch, record_slack):
    """S-FIG2: exact gradients of the ReLU network, at init or after some SGD steps."""
    data = relu.load_digits(200, seed=seed)
    W = relu.init_weights(init, relu.DIGITS_WIDTHS, seed)
    if trained:
        W = relu.train_sgd(data, W, trained, ETA, BATCH, seed, record_every=trained).final
    rng = np.random.default_rng(seed)
    idx = rng.choice(data.n, size=batch, replace=False)
    X, y = data.X[idx], data.y[idx]
    record_slack(check_gradients_fd(W, X, y, sample_coords(W, rng, per_layer=4)))


# --- balancedness (Du, Hu & Lee 2018) -----------------------------------------------------


@given(seed=SEEDS, init=st.sampled_from(INITS), eta=st.sampled_from([0.02, 0.05, 0.1, 0.2]))
def test_relu_balancedness_exact_under_sgd(
    seed, init, eta, request, record_slack, record_observation
):
    """S-FIG2 (Du et al.): ReLU homogeneity and the exact one-step balancedness identity."""
    size = size_for(request.config)
    data = relu.load_digits(size.n, seed=seed)
    W0 = relu.init_weights(init, relu.DIGITS_WIDTHS, seed)
    run = relu.train_sgd(
        data, W0, size.balance_steps, eta, BATCH, seed, record_every=size.balance_steps, init=init
    )
    record_slack(check_homogeneity(run))
    record_slack(check_relu_balance(run))
    drift = relu.relative_drift(run)
    growth = relu.relative_growth(run)
    record_observation(
        "relu_balance_drift",
        "S-FIG2",
        {
            "relative_drift": float(drift.max()),
            "relative_norm_change": float(growth.max()),
            "eta": eta,
            "steps": run.steps,
            "init": relu.INITS[init],
        },
    )
