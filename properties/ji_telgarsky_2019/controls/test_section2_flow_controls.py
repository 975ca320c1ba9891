"""Negative controls for Section 2: each property must fail on a planted bug.

Every meta-test plants one realistic bug (in the integrator's gradient, in a
bound's formula, in a measured quantity, or in the clock) and asserts that the
*same* check function the property suite runs raises.  A property that no
planted bug can break would be a property that cannot fail.

The fixed problems are small and deterministic; where a bug makes the
integrator's own guards trip, the control also shows that, and then reruns
with ``enforce_guards=False`` so the property check itself is exercised.
"""

from __future__ import annotations

import numpy as np
import pytest

from invariants.core import bounds
from invariants.core import network as net
from invariants.core.losses import LOGISTIC
from invariants.dynamics import flow
from invariants.errors import InvariantDriftError, RiskIncreaseError
from properties.ji_telgarsky_2019.claims import section2_flow
from properties.ji_telgarsky_2019.controls import planted
from properties.ji_telgarsky_2019.problems import equal_frobenius_init, small_data

pytestmark = pytest.mark.meta


@pytest.fixture(scope="module")
def problem():
    data = small_data()
    W0 = equal_frobenius_init(data.d, [3, 3])
    if not net.satisfies_a2(tuple(W0), data.z, LOGISTIC):
        W0[-1] = -W0[-1]
    assert net.satisfies_a2(tuple(W0), data.z, LOGISTIC)
    return data, W0


@pytest.fixture(scope="module")
def honest(problem):
    data, W0 = problem
    return flow.gradient_flow(data.z, W0, LOGISTIC, max_frobenius=100.0)


def test_honest_trajectory_passes_every_check(honest):
    """The controls below are meaningful only if the unbroken run passes everything.

    Each check's slack is labelled with its own statement (``check_s_l2c`` -> ``S-L2c``): the
    report files the slack under that label (a mislabelled slack, a sampled mutation-run
    survivor, left S-C1 without its slack).
    """
    for check, sid in (
        (section2_flow.check_s_eq1, "S-EQ1"),
        (section2_flow.check_s_eq2, "S-EQ2"),
        (section2_flow.check_s_eq3, "S-EQ3"),
        (section2_flow.check_s_l2a, "S-L2a"),
        (section2_flow.check_s_l2b, "S-L2b"),
        (section2_flow.check_s_c1, "S-C1"),
        (section2_flow.check_s_l2c, "S-L2c"),
    ):
        assert check(honest).statement == sid, check.__name__


def _mis_scaled_layer(monkeypatch, layer: int = 0, factor: float = 2.0):
    """Plant: the integrator's gradient of one layer is scaled by ``factor``."""
    real = net.layer_gradients

    def buggy(weights, z, loss):
        g = real(weights, z, loss)
        layers = list(g.layers)
        layers[layer] = factor * layers[layer]
        sq = sum(float(np.vdot(G, G)) for G in layers)
        return net.ScaledGradient(g.log_scale, g.g, tuple(layers), g.log_scale + 0.5 * np.log(sq))

    monkeypatch.setattr(net, "layer_gradients", buggy)


@pytest.fixture(scope="module")
def mis_scaled(problem):
    """One run with layer 1's gradient doubled, guards off, shared by three controls."""
    data, W0 = problem
    with pytest.MonkeyPatch.context() as mp:
        _mis_scaled_layer(mp)
        return flow.gradient_flow(data.z, W0, LOGISTIC, max_frobenius=10.0, enforce_guards=False)


def test_guards_stop_a_mis_scaled_layer_gradient(problem, monkeypatch):
    """The integrator's own S-EQ1/S-EQ2 guards refuse the wrong path."""
    data, W0 = problem
    _mis_scaled_layer(monkeypatch)
    with pytest.raises((InvariantDriftError, RiskIncreaseError)) as info:
        flow.gradient_flow(data.z, W0, LOGISTIC, max_frobenius=10.0)
    assert info.value.partial is not None and len(info.value.partial.checkpoints) >= 1


def test_s_eq1_fails_on_mis_scaled_layer_gradient(mis_scaled):
    """S-EQ1: the flow no longer follows -grad R, so log R falls at the wrong rate."""
    with pytest.raises(AssertionError, match="S-EQ1"):
        section2_flow.check_s_eq1(mis_scaled)


def test_s_eq2_fails_on_mis_scaled_layer_gradient(mis_scaled):
    """S-EQ2: a layer gradient scaled by 2 breaks the conservation law."""
    with pytest.raises(AssertionError, match="S-EQ2"):
        section2_flow.check_s_eq2(mis_scaled)


def test_s_eq3_fails_on_mis_scaled_layer_gradient(mis_scaled):
    """S-EQ3: the Frobenius differences move when one layer's gradient is wrong."""
    with pytest.raises(AssertionError, match="S-EQ3"):
        section2_flow.check_s_eq3(mis_scaled)


def test_s_eq2_fails_when_the_last_layer_is_frozen(problem, monkeypatch):
    """S-EQ2: an integrator that silently skips the last layer's update."""
    _mis_scaled_layer(monkeypatch, layer=-1, factor=0.0)
    data, W0 = problem
    tr = flow.gradient_flow(data.z, W0, LOGISTIC, max_frobenius=10.0, enforce_guards=False)
    with pytest.raises(AssertionError, match="S-EQ2"):
        section2_flow.check_s_eq2(tr)


def test_s_l2a_fails_on_eq8_sum_starting_one_layer_late(honest, monkeypatch):
    """S-L2a (eq. 8): the sum over ||A_{j,j+1}|| started at j = k + 1 instead of k."""

    def late(initial):
        f = bounds.frobenius_sq(initial)
        a = np.array([float(np.linalg.norm(A, 2)) for A in bounds.balance_matrices(initial)])
        a = np.concatenate([a, [0.0]])
        tail = np.concatenate([np.cumsum(a[::-1])[::-1][1:], [0.0]])
        return f - f[-1] + tail

    monkeypatch.setattr(bounds, "eq8_bounds", late)
    with pytest.raises(AssertionError, match="S-L2a"):
        section2_flow.check_s_l2a(honest)


def test_s_l2a_fails_on_d_without_the_balance_terms(honest, monkeypatch):
    """S-L2a: D computed without sum_k ||A_{k,k+1}||_2 (and eq. 8 alike)."""

    def no_a(initial):
        f = bounds.frobenius_sq(initial)
        return float(np.max(f) - f[-1])

    monkeypatch.setattr(bounds, "D", no_a)
    monkeypatch.setattr(bounds, "eq8_bounds", lambda W0: np.full(len(W0), no_a(W0)))
    with pytest.raises(AssertionError, match="S-L2a"):
        section2_flow.check_s_l2a(honest)


def test_s_l2b_fails_on_off_by_one_singular_vectors(honest, monkeypatch):
    """S-L2b: alignment computed as <v_k, u_k> (same layer) instead of <v_{k+1}, u_k>."""

    monkeypatch.setattr(bounds, "alignment", planted.off_by_one_alignment)
    with pytest.raises(AssertionError, match="S-L2b"):
        section2_flow.check_s_l2b(honest)


def _second_singular_vector(monkeypatch):
    """Plant: v_1 taken as the *second* right singular vector of W_1 (index bug)."""
    monkeypatch.setattr(bounds, "product_alignment", planted.second_singular_vector_alignment)


def test_s_c1_fails_on_wrong_singular_vector(honest, monkeypatch):
    """S-C1: the quantitative alignment bound catches an index bug in v_1."""
    _second_singular_vector(monkeypatch)
    with pytest.raises(AssertionError, match="S-C1"):
        section2_flow.check_s_c1(honest)


def test_s_l2c_fails_on_wrong_singular_vector(honest, monkeypatch):
    """S-L2c: the same index bug leaves the gap at ~1 instead of shrinking."""
    _second_singular_vector(monkeypatch)
    with pytest.raises(AssertionError, match="S-L2c"):
        section2_flow.check_s_l2c(honest)


def test_s_l2c_fails_on_a_constant_alignment_deficit(honest, monkeypatch):
    """S-L2c (ii): an alignment 10% short of the computed one at every checkpoint.

    The gap then stays >= 0.1 and never grows (part (iii) holds), but the a-priori bound
    ``1 - b_apr`` falls below 0.1 as the norms grow, so only the per-checkpoint bound (ii)
    can catch it.  Found by the sampled mutation run: with (ii) loosened to ``2 - b_apr``
    every control above still failed through (i) or (iii).
    """
    real = bounds.product_alignment
    monkeypatch.setattr(bounds, "product_alignment", lambda W: 0.9 * real(W))
    with pytest.raises(AssertionError, match=r"S-L2c: gap .* exceeds the a-priori bound"):
        section2_flow.check_s_l2c(honest)


def test_s_l2c_fails_when_the_norms_never_grow(problem):
    """S-L2c: a run that stops at max ||W_k||_F ~ 3 cannot witness the limit."""
    data, W0 = problem
    short = flow.gradient_flow(data.z, W0, LOGISTIC, max_frobenius=3.0)
    with pytest.raises(AssertionError, match="S-L2c"):
        section2_flow.check_s_l2c(short, min_frobenius=100.0)


def _clock_off_by_constant(factor: float):
    """Plant: the second clock's physical time is off by a constant factor."""

    def runner(*args, **kw):
        tr = flow.gradient_flow(*args, **kw)
        if kw.get("clock") != "risk":
            return tr
        shifted = tuple(
            flow.Checkpoint(**{**c.__dict__, "log_time": c.log_time + np.log(factor)})
            for c in tr.checkpoints
        )
        return flow.Trajectory(**{**tr.__dict__, "checkpoints": shifted})

    return runner


def test_s_inv_fails_on_clock_off_by_constant_factor(problem):
    """S-INV: physical time recovered from the risk clock is 2x too large."""
    data, W0 = problem
    with pytest.raises(AssertionError, match="S-INV: physical time"):
        section2_flow.check_s_inv(data.z, W0, LOGISTIC, runner=_clock_off_by_constant(2.0))


def test_s_inv_fails_on_a_path_changing_clock(problem, monkeypatch):
    """S-INV: a 'clock' that also rescales one layer's velocity changes the path."""
    data, W0 = problem
    real = flow.Field.__call__

    def warped(self, s, y):
        out = real(self, s, y)
        if self.clock == "risk":
            n0 = self.shapes[0][0] * self.shapes[0][1]
            out[:n0] *= 1.5
        return out

    monkeypatch.setattr(flow.Field, "__call__", warped)
    with pytest.raises(AssertionError, match="S-INV"):
        section2_flow.check_s_inv(
            data.z,
            W0,
            LOGISTIC,
            runner=lambda *a, **k: flow.gradient_flow(*a, enforce_guards=False, **k),
        )
