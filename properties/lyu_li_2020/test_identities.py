"""The identities and pointwise bounds of Lyu & Li (Sections 3-5, App. G) at every state.

Statements: LL-EQ1, LL-SW, LL-LA.5, LL-EQ6, LL-EQ7, LL-S5.ID, LL-L5.1, LL-EQ5.

Three kinds of states: every checkpoint of one gradient flow on a drawn deep linear problem
(the first paper's driver; both losses), random bias-free ReLU networks on data they
separate, scaled past t0 (``Lsum < loss(0)``), and arbitrary points (random labels,
before t0) where the statements that need no threshold still apply.  At each state one
GD step (LL-EQ6(b)) is taken with a drawn step.  Every tolerance is derived in
:mod:`properties.lyu_li_2020.claims.identities`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import homogeneous as hom
from invariants.core.losses import get_loss
from invariants.dynamics import flow
from properties.helpers import collect
from properties.lyu_li_2020.claims import identities

#: The flow runs until ``max_k ||W_k||_F >= 20``: far enough that most checkpoints are past
#: t0 (``Lsum < loss(0)``, needed by LL-L5.1, LL-EQ5, LL-LA.5 and for LL-EQ7's floor to be
#: positive) and that the margins reach 1e2..1e5, where LL-EQ7's rounding (``eps q^2``)
#: is still far below the bounds' slack.
MAX_FROBENIUS = 20.0

#: Half the profile's examples per loss: the two halves run side by side under xdist.
HALF_THE_EXAMPLES = max(1, settings.default.max_examples // 2)


def gd_step(state: identities.State, frac: float) -> float:
    """The scaled GD step ``h = eta Lsum`` that moves ``theta`` by ``frac rho`` (LL-EQ6(b))."""
    G = float(np.linalg.norm(hom.scaled_gradient(state.model, state.loss)))
    return frac * state.model.rho / G if G > 0 else frac  # a dead network does not move


def check_state(state: identities.State, c: float, frac: float) -> tuple[list, list[str]]:
    """Every statement of the stem at one state, plus one GD step; (slacks, failures)."""
    thunks = identities.checks_at(state, c)
    thunks["LL-EQ6 (GD step)"] = lambda: identities.check_ll_eq6_gd(state, gd_step(state, frac))
    results, failures = collect(thunks)
    return list(results.values()), failures


def record_all(
    slacks: list, record_slack, statements=identities.STATEMENTS, certificates=None
) -> dict:
    """Record each statement's worst slack over the states, with its certificate if any."""
    combined = {sid: identities.combine(sid, slacks) for sid in statements}
    for sid, cert in (certificates or {}).items():
        if sid in combined:
            combined[sid] = dataclasses.replace(combined[sid], certificate=cert)
    for sid, slack in combined.items():
        if any(s.statement == sid for s in slacks):
            record_slack(slack)
    return combined


@pytest.mark.parametrize("loss", ["exponential", "logistic"])
@settings(max_examples=HALF_THE_EXAMPLES)
@given(data=st.data())
def test_identities_along_flow(loss: str, data, record_slack, record_observation):
    """LL-EQ1, LL-SW, LL-LA.5, LL-EQ6, LL-EQ7, LL-S5.ID, LL-L5.1, LL-EQ5 at every checkpoint
    of one gradient flow on a drawn deep linear problem (depth 2-4, n >= 2)."""
    problem = data.draw(
        strategies.problems(kinds=strategies.A2_KINDS, loss=loss, depth=(2, 4), n=(2, 40)),
        label="problem",
    )
    c = data.draw(st.floats(0.1, 10.0), label="c (LL-EQ1 scaling)")
    frac = data.draw(st.floats(1e-3, 1.0), label="GD step / rho")
    tr = flow.gradient_flow(problem.z, problem.weights, problem.loss, max_frobenius=MAX_FROBENIUS)
    note(
        f"n={problem.drawn.n} d={problem.drawn.d} widths={problem.widths} init={problem.init.name} "
        f"checkpoints={len(tr.checkpoints)} stop={tr.stop_reason}"
    )
    slacks, failures = [], []
    for cp in tr.checkpoints:
        state = identities.linear_state(cp.weights, problem.z, problem.loss)
        s, f = check_state(state, c, frac)
        slacks += s
        failures += [f"s = {cp.s:.3g}: {msg}" for msg in f]
    assert not failures, "\n".join(failures)
    certificates = identities.certify_path(
        [cp.weights for cp in tr.checkpoints], problem.z, problem.loss
    )
    combined = record_all(slacks, record_slack, certificates=certificates)
    tight = [s.measures["tightness"] for s in slacks if "tightness" in s.measures]
    if len(tight) >= 2:
        last = tr.checkpoints[-1]
        record_observation(
            "eq7_tightness",
            "LL-EQ7",
            {
                "first": tight[0],
                "last": tight[-1],
                "log10_rho_last": float(
                    np.log10(np.linalg.norm(np.concatenate([W.ravel() for W in last.weights])))
                ),
            },
        )
    note(str({sid: (s.ratio, s.exercised) for sid, s in combined.items()}))


@st.composite
def relu_points(draw, separable: bool):
    """A random bias-free ReLU network on random inputs (LL-EQ1): labels drawn at random
    (``separable=False``: any point, mostly before t0) or set to the network's own signs and
    the network scaled so its smallest margin is a drawn target above ``log n + 1`` (past
    t0 for both losses: ``Lsum <= n loss(q_min) < loss(0)``)."""
    rng = np.random.default_rng(draw(strategies.seeds(), label="seed"))
    depth = draw(st.integers(2, 4), label="depth")
    d = draw(st.integers(1, 6), label="d")
    n = draw(st.integers(2, 30), label="n")
    widths = [d] + [draw(st.integers(2, 6), label="width") for _ in range(depth - 1)] + [1]
    loss = get_loss(draw(st.sampled_from(["exponential", "logistic"]), label="loss"))
    x = rng.normal(size=(n, d))
    weights = [
        rng.normal(size=(widths[k + 1], widths[k])) / np.sqrt(widths[k]) for k in range(depth)
    ]
    if separable:
        phi = hom.relu_network_margins(weights, x, np.ones(n)).q
        # Inputs the network maps to exactly 0 (dead units) have margin 0 whatever the
        # scale: they are left out, so that the scaled network is past t0.
        keep = phi != 0.0
        assume(int(keep.sum()) >= 2)
        x, phi = x[keep], phi[keep]
        y = np.where(phi > 0, 1.0, -1.0)
        q_min = float(np.min(y * phi))
        target = draw(st.floats(np.log(n) + 1.0, 1e4), label="q_min target")
        scale = (target / q_min) ** (1.0 / depth)
        weights = [scale * W for W in weights]
    else:
        y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        scale = draw(st.floats(0.1, 10.0), label="scale")
        weights = [scale * W for W in weights]
    c = draw(st.floats(0.1, 10.0), label="c (LL-EQ1 scaling)")
    frac = draw(st.floats(1e-3, 1.0), label="GD step / rho")
    return identities.relu_state(weights, x, y, loss), c, frac


@given(point=relu_points(separable=True))
def test_identities_at_relu_points_past_t0(point, record_slack, record_observation):
    """LL-EQ1, LL-SW, LL-LA.5, LL-EQ6, LL-EQ7, LL-S5.ID, LL-L5.1, LL-EQ5 at a random bias-free
    ReLU network (p = number of layers) scaled past t0 on data it separates."""
    state, c, frac = point
    note(
        f"p={state.model.order} n={state.n} D={state.size} loss={state.loss.name} "
        f"q_min={float(np.min(state.model.q)):.4g}"
    )
    slacks, failures = check_state(state, c, frac)
    assert not failures, "\n".join(failures)
    record_all(slacks, record_slack)


@given(point=relu_points(separable=False), data=st.data())
def test_identities_at_arbitrary_points(point, data, record_slack):
    """LL-EQ1, LL-EQ6, LL-S5.ID, LL-SW at arbitrary points (random labels, mostly before t0):
    the statements that need no threshold, on the bias-free ReLU network and on a deep linear
    network with the same layers read as linear."""
    state, c, frac = point
    if data.draw(st.booleans(), label="linear"):
        state = identities.linear_state(state.weights, state.x, state.loss)
    note(f"p={state.model.order} n={state.n} D={state.size} loss={state.loss.name}")
    slacks, failures = check_state(state, c, frac)
    assert not failures, "\n".join(failures)
    record_all(slacks, record_slack, ("LL-EQ1", "LL-EQ6", "LL-S5.ID", "LL-SW"))
