"""Where gradient flow goes: Theorems 1 and 2, Lemma 1 and Figure 1, far into the asymptotic regime.

Statements: S-T1, S-T2, S-L1, S-FIG1a, S-FIG1b; beyond the paper, the limit
offset of Soudry et al. (2018) (an observation).

Each drawn example integrates two flows on the same A3 data -- depth 1 and a
drawn depth L in 2..4 -- until ``||w_prod|| = 1e12`` or the float64 floor
(docs/numerics.md, "The float64 floor of ||w_prod||"), and asserts every limit
statement on them: one pair of trajectories, five statements.  The checks and
the derivation of every threshold are in :mod:`properties.ji_telgarsky_2019.claims.section2_limits`.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import limits
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from properties.ji_telgarsky_2019.claims import section2_limits


def record_run(run: section2_limits.LimitsRun, label: str, record_slack, record_observation):
    """Record one run's slacks and measured laws; return its failures, labelled."""
    for slack in run.slacks:
        record_slack(slack)
    for observation in run.observations:
        record_observation(*observation)
    return [f"[{label}] {failure}" for failure in run.failures]


# The heaviest property of the suite (two flows to ||w_prod|| = 1e12 per example): one case
# per loss, each with half the profile's examples, so that xdist can run the halves side by
# side instead of one worker running the whole property alone at the end of the main job.
HALF_THE_EXAMPLES = max(1, settings.default.max_examples // 2)


@pytest.mark.parametrize("loss", [EXPONENTIAL, LOGISTIC], ids=lambda loss: loss.name)
@settings(max_examples=HALF_THE_EXAMPLES)
@given(data=st.data())
def test_limits_of_gradient_flow(loss, data, record_slack, record_observation):
    """S-T1, S-T2, S-L1, S-FIG1a, S-FIG1b along a depth-1 and a depth-L flow on one A3 data set."""
    drawn = data.draw(strategies.a3_datasets(n=(2, 24), d=(2, 5), min_margin=1e-2), label="data")
    drawn = getattr(drawn, "drawn", drawn)
    widths = data.draw(
        strategies.architectures(drawn.d, depth=(2, 4), width=(1, 5)), label="hidden widths"
    )
    init_deep = data.draw(
        strategies.initialisations(drawn, widths, loss, kinds=strategies.A2_KINDS),
        label="init, depth L",
    )
    init_one = data.draw(
        strategies.initialisations(drawn, [], loss, kinds=strategies.A2_KINDS),
        label="init, depth 1",
    )
    mm = max_margin(drawn.data)
    deep = section2_limits.long_flow(drawn.data.z, init_deep.weights, loss)
    shallow = section2_limits.long_flow(drawn.data.z, init_one.weights, loss)
    note(
        f"n={drawn.n} d={drawn.d} gamma={mm.gamma:.3g} widths={widths} loss={loss.name} "
        f"init={init_deep.name}/{init_one.name} stop={deep.stop_reason}/{shallow.stop_reason} "
        f"steps={deep.work.steps}/{shallow.work.steps}"
    )
    failures = []
    for tr, label in ((shallow, "depth 1"), (deep, f"depth {len(widths) + 1}")):
        run = section2_limits.check_limits(tr, mm)
        failures += record_run(run, label, record_slack, record_observation)
    try:
        dec = section2_limits.check_s_fig1a(shallow, deep, mm.ubar)
        record_slack(section2_limits.fig1a_slack(dec))
    except AssertionError as exc:
        failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_figure1_runs(record_slack, record_observation):
    """S-FIG1a, S-FIG1b: the paper's Fig. 1 setting -- 2-D data, depth 1 and depth 4, logistic."""
    data = section2_limits.figure1_data()
    mm = max_margin(data)
    rng = np.random.default_rng(1)
    deep_init = [rng.normal(size=s) * 0.5 for s in [(3, 2), (3, 3), (3, 3), (1, 3)]]
    one_init = [np.zeros((1, 2))]  # logistic regression from 0 (A2 holds: S-A2a with L = 1)
    if (data.z @ np.linalg.multi_dot(deep_init[::-1]).ravel()).mean() < 0:
        deep_init[-1] = -deep_init[-1]
    deep = section2_limits.long_flow(data.z, deep_init, LOGISTIC)
    shallow = section2_limits.long_flow(data.z, one_init, LOGISTIC)
    dec = section2_limits.check_s_fig1a(shallow, deep, mm.ubar)
    record_slack(section2_limits.fig1a_slack(dec))
    record_slack(section2_limits.check_s_fig1b(deep))

    def unit_path(tr):  # w_prod / ||w_prod|| where defined (the depth-1 run starts at 0)
        wp = limits.wprod_path([c.weights for c in tr.checkpoints])
        nw = np.linalg.norm(wp, axis=1)
        return wp[nw > 0] / nw[nw > 0, None], np.log10(nw[nw > 0])

    (u1, l1), (uL, lL) = unit_path(shallow), unit_path(deep)
    record_observation(
        "fig1a",
        "S-FIG1a",
        {"depth": 4.0},
        {
            "data_x0": data.x[:, 0].tolist(),
            "data_x1": data.x[:, 1].tolist(),
            "data_y": data.y.tolist(),
            "ubar": mm.ubar.tolist(),
            "d1_u0": u1[:, 0].tolist(),
            "d1_u1": u1[:, 1].tolist(),
            "dL_u0": uL[:, 0].tolist(),
            "dL_u1": uL[:, 1].tolist(),
            "d1_log10_wprod": l1.tolist(),
            "dL_log10_wprod": lL.tolist(),
        },
    )
    ratios = np.array(
        [[1 - g for g in section2_limits.alignment_gaps(c.weights)] for c in deep.checkpoints]
    ).T
    series = {
        "s": deep.column("s").tolist(),
        "log10_wprod": np.log10(deep.wprod_norm()).tolist(),
        "log_risk": deep.column("log_risk").tolist(),
    }
    for k, r in enumerate(ratios, start=1):
        series[f"ratio_{k}"] = r.tolist()
    record_observation("fig1b", "S-FIG1b", {"depth": 4.0}, series)
