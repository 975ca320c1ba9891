"""LL-F and LL-FIG1: multi-class cross-entropy on the bias-free ReLU digits network.

One cached run per ``(seed, depth)`` (:func:`multiclass.digits_run`: the fit to ``Lsum <
log 2`` by loss-based GD, then a loss-based and a constant-step run of
:data:`multiclass.POST_STEPS` steps from the fitted state).  LL-F is asserted at a drawn
state of either post-fit run, optionally scaled by ``c >= 1`` (the same direction further
out: margins times ``c^p``); LL-FIG1 compares the two runs of each ``(seed, depth)``.

**Sizes.**  Seeds 0-3 under the ``report`` and ``stress`` profiles, 0-1 otherwise (each
``(seed, depth)`` costs about 1.2 s once per process: 200 digits, width 32, depth 2 or 3,
about 400 fit steps and 2 x 300 post-fit steps).  The scale ``c`` is drawn up to 100: past
that (margins ~ 1e12 at depth 3) the floor of nu and the rate are still computed finite, but
their rounding allowance (``log_domain_error``, linear in ``max |s|``) exceeds the floor
and those checks stop being exercised.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from invariants.core import multiclass as mc
from properties.lyu_li_2020.claims import multiclass


def seeds_for(config: pytest.Config) -> tuple[int, ...]:
    """All of :data:`multiclass.SEEDS` under ``report``/``stress``, the first two otherwise."""
    profile = getattr(config, "invariants_profile", "dev")
    return multiclass.SEEDS if profile in ("report", "stress") else multiclass.SEEDS[:2]


@given(data=st.data())
def test_multiclass_lemma_f2_at_gd_states(data, request, record_slack):
    """LL-F at a state of full-batch GD on digits after the fit: Euler ``<theta, -grad
    Lsum> = p nu``, ``nu >= (1 - e^{-Lsum}) loss_log^{-1}(Lsum)``, the sandwich with
    ``log(C-1)``, and ``d log gtil/dt >= p T/V`` for the flow's velocity there."""
    seed = data.draw(st.sampled_from(seeds_for(request.config)), label="seed")
    depth = data.draw(st.sampled_from(multiclass.DEPTHS), label="depth")
    which = data.draw(st.sampled_from(["loss_based", "constant"]), label="run")
    index = data.draw(st.integers(0, multiclass.POST_STEPS), label="state")
    log10_scale = data.draw(st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0]), label="log10 c")
    run = multiclass.digits_run(seed, depth)
    weights = [W * 10.0 ** (log10_scale / depth) for W in getattr(run, which).weights[index]]
    pt = multiclass.evaluate(weights, run.X, run.y)
    note(f"log Lsum = {pt.log_loss:.6g}, q_min = {mc.multiclass_margins(pt.s).min()}")
    for slack in multiclass.check_ll_f(pt):
        record_slack(slack)


@pytest.mark.parametrize("depth", multiclass.DEPTHS)
def test_fig1_margin_grows_faster_with_loss_based_step(
    depth, request, record_slack, record_observation
):
    """LL-FIG1 on digits by full-batch GD after the fit: ``gbar_mh`` does not decrease on
    average, and the loss-based step reaches a smaller ``Lsum`` and a larger ``gbar_mh``
    than the constant step with the same first step, at equal step counts; per seed."""
    for seed in seeds_for(request.config):
        run = multiclass.digits_run(seed, depth)
        slack = multiclass.check_ll_fig1(run.loss_based, run.constant)
        record_slack(slack)
        record_observation(
            "fig1_margin_growth",
            "LL-FIG1",
            {**slack.measures, "seed": seed, "depth": depth, "fit_steps": run.fit_steps},
            series={
                "gbar_mh_loss_based": run.loss_based.gbar_mh[::10].tolist(),
                "gbar_mh_constant": run.constant.gbar_mh[::10].tolist(),
                "log_loss_loss_based": run.loss_based.log_loss[::10].tolist(),
                "log_loss_constant": run.constant.log_loss[::10].tolist(),
            },
        )
        assert np.isfinite(run.loss_based.log_loss).all()
