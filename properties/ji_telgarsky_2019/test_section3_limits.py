"""Theorem 4 (S-T4) for gradient descent under A5: what a reachable run shows.

A5's step ``1/beta(R)`` with ``beta(R) = 2 L^2 R^(2L-2) (beta + G)`` collapses
as the weights grow (docs/numerics.md, "Gradient descent under the step rule
A5"): at depth 2-3 a few thousand steps move ``||w_prod||`` by a factor of a
few, nowhere near the asymptotic regime where the direction converges (the
sine is not even monotone there).  So S-T4 is *followed only as far as
reachable*, and the run is recorded as such (observation ``S-T4_reach``).
What is asserted is exact at every step:

* **the sign** (Theorem 4's "the sign that classifies correctly"): once
  ``R(W(t)) < loss(0)/n``, every margin is positive, and stays so.  Each
  ``loss(m_i) <= n R < loss(0)`` forces ``m_i > 0``; under A5 the risk never
  rises (S-EQ4), so it persists;
* **the engine of the proof**: write ``Phi(t) = ||W_1(t) P_perp||_F^2`` (the
  first layer's part orthogonal to ubar).  ``G_1 = a g^T`` with
  ``a = (W_L...W_2)^T``, ``g = grad R(w_prod)``, so one GD step gives
  ``Phi(t+1) - Phi(t) = -2 eta <w_prod_perp, g> + eta^2 ||G_1 P_perp||_F^2``.
  Whenever Lemma 4's hypothesis holds at ``w_prod(t)`` (``<w, ubar> >= 0``,
  ``||w_perp|| >= K``), the sign condition makes the first term ``<= 0``, so
  ``Phi`` can grow by at most ``eta^2 ||G_1||_F^2``: the perpendicular part
  stays bounded while ``||w_prod||`` grows, which is how the direction
  converges.  Half the drawn starts put ``||w_prod_perp||`` beyond K so that
  the hypothesis actually holds along the run.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, note
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import lemma4 as l4
from invariants.core import limits
from invariants.core import theta as th
from invariants.core.losses import LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.dynamics import gd
from properties.ji_telgarsky_2019.claims.section3_limits import check_s_t4
from properties.ji_telgarsky_2019.problems import perp_heavy_start

STEPS = 1500


@given(data=st.data())
def test_s_t4_reachable_gd_under_a5(data, record_slack, record_observation):
    """S-T4 (GD, A5, logistic, A3): the sign and the Lemma 4 engine, exactly, as far as reached."""
    a3 = data.draw(strategies.a3_datasets(n=(2, 12), d=(2, 4), min_margin=0.05), label="data")
    drawn = a3.drawn
    z = drawn.data.z
    n, d = z.shape
    widths = data.draw(
        strategies.architectures(d, depth=(1, 3), width=(1, 4)), label="hidden widths"
    )
    mm = max_margin(drawn.data)
    t = th.theta(z, mm)
    K = l4.lemma4_threshold(LOGISTIC, n, t.value)
    heavy = data.draw(st.booleans(), label="start beyond K")
    if heavy:
        scale_r = data.draw(st.floats(1.0, 3.0), label="||w_perp(0)|| / K")
        W0 = perp_heavy_start(z, mm, t.value, widths, scale_r)
    else:
        init = data.draw(
            strategies.initialisations(drawn, widths, LOGISTIC, kinds=strategies.A2_KINDS),
            label="init",
        )
        W0 = list(init.weights)
    tr = gd.gradient_descent(z, W0, LOGISTIC, STEPS, rule="A5")
    wp = limits.wprod_path(tr.weights)
    note(f"n={n} d={d} widths={widths} theta={t.value:.3g} K={K:.3g} heavy={heavy}")

    slack, applied = check_s_t4(tr, mm, K)
    sines = limits.path_sines(wp, mm.ubar)
    nw = np.linalg.norm(wp, axis=1)
    record_slack(slack)
    record_observation(
        "S-T4_reach",
        "S-T4",
        {
            "steps": float(tr.steps),
            "depth": float(len(W0)),
            "log10_wprod_start": float(np.log10(max(nw[0], 1e-300))),
            "log10_wprod_end": float(np.log10(nw[-1])),
            "sin_end": float(sines[-1]),
            "log_risk_end": float(tr.log_risk[-1]),
            "eta_end": float(tr.eta[-1]),
            "steps_under_lemma4": float(applied),
        },
    )
