"""Negative controls for Section 3: each GD property fails on a planted bug.

Every control runs the same check function the property suite runs, on a run
with one realistic bug or violated assumption, and asserts that it raises.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from invariants.core import bounds
from invariants.core import network as net
from invariants.core.losses import LOGISTIC
from invariants.dynamics import gd
from properties.ji_telgarsky_2019.claims import section3_gd
from properties.ji_telgarsky_2019.controls import planted
from properties.ji_telgarsky_2019.problems import equal_frobenius_init, small_data

pytestmark = pytest.mark.meta


@pytest.fixture(scope="module")
def problem():
    data = small_data(seed=3)
    W0 = equal_frobenius_init(data.d, [3], seed=4, norm=1.0)
    if not net.satisfies_a2(tuple(W0), data.z, LOGISTIC):
        W0[-1] = -W0[-1]
    return data, W0


def _oriented(data, W):
    """Flip W_L's sign if needed so that A2 holds (one of +-w_prod does, for these data)."""
    W = [np.array(M) for M in W]
    if not net.satisfies_a2(tuple(W), data.z, LOGISTIC):
        W[-1] = -W[-1]
    assert net.satisfies_a2(tuple(W), data.z, LOGISTIC)
    return W


@pytest.fixture(scope="module")
def grown(problem):
    """A run from a large equal-Frobenius start (norm 3), where Lemma 8's bounds bite."""
    data, _ = problem
    W0 = _oriented(data, equal_frobenius_init(data.d, [3], seed=4, norm=3.0))
    return gd.gradient_descent(data.z, W0, LOGISTIC, 50)


@pytest.fixture(scope="module")
def honest(problem):
    data, W0 = problem
    return gd.gradient_descent(data.z, W0, LOGISTIC, 400)


@pytest.fixture(scope="module")
def too_large_step(problem):
    """Fixed step 20: far above 1/beta(R) for this network."""
    data, W0 = problem
    return gd.gradient_descent(data.z, W0, LOGISTIC, 60, rule="fixed", eta=20.0)


def _one_layer_off(factor: float = 1.5):
    """Plant: the gradient of layer 1 is scaled by ``factor``."""

    def grad(weights, z, loss):
        G, gn = gd._gradient(weights, z, loss)
        return (factor * G[0], *G[1:]), gn

    return grad


@pytest.fixture(scope="module")
def layer_off(problem):
    data, W0 = problem
    return gd.gradient_descent(
        data.z, W0, LOGISTIC, 400, rule="fixed", eta=1.0, gradient=_one_layer_off()
    )


def test_honest_run_passes(honest):
    """The controls mean something only if the unbroken run passes every check."""
    section3_gd.a5_radius_consistent(honest)
    for check in (
        section3_gd.check_s_eq4,
        section3_gd.check_s_eq27,
        section3_gd.check_s_eq29,
        section3_gd.check_s_eq30,
        section3_gd.check_s_eq37,
        section3_gd.check_s_l7,
        section3_gd.check_s_l8a,
        section3_gd.check_s_l8b,
        section3_gd.check_s_l8c,
        section3_gd.check_s_t3,
    ):
        check(honest)


def test_s_eq4_fails_with_a_step_too_large(too_large_step):
    """S-EQ4: a fixed step far above 1/beta(R) makes the risk rise."""
    with pytest.raises(AssertionError, match="S-EQ4"):
        section3_gd.check_s_eq4(too_large_step)


def test_s_eq30_fails_with_a_step_too_large(too_large_step):
    """S-EQ30: without descent the sums exceed 2R(0) - 2R(t)."""
    with pytest.raises(AssertionError, match="S-EQ30"):
        section3_gd.check_s_eq30(too_large_step)


def test_s_t3_fails_on_gradient_ascent(problem):
    """S-T3: a sign bug (W + eta G) makes the risk rise."""
    data, W0 = problem

    def ascent(weights, z, loss):
        G, gn = gd._gradient(weights, z, loss)
        return tuple(-Gk for Gk in G), gn

    tr = gd.gradient_descent(data.z, W0, LOGISTIC, 50, gradient=ascent)
    with pytest.raises(AssertionError, match="S-T3"):
        section3_gd.check_s_t3(tr)


def test_a5_bookkeeping_fails_when_r_never_grows(problem):
    """S-EQ27 / A5: a step rule that never grows R leaves B(R)."""
    data, W0 = problem
    tr = gd.gradient_descent(data.z, W0, LOGISTIC, 3000, rule="A5-frozen", radius0=1.0)
    with pytest.raises(AssertionError, match="outside B"):
        section3_gd.a5_radius_consistent(tr)


def test_s_eq27_fails_with_huge_steps(problem):
    """S-EQ27: with a fixed step of 100 (no A5), a layer grows by more than 1 in one step."""
    data, W0 = problem
    tr = gd.gradient_descent(data.z, W0, LOGISTIC, 5, rule="fixed", eta=100.0)
    with pytest.raises(AssertionError, match="S-EQ27"):
        section3_gd.check_s_eq27(tr)


def test_s_eq29_fails_with_one_layer_gradient_off(layer_off):
    """S-EQ29: the identity is exact only for the true gradient."""
    with pytest.raises(AssertionError, match="S-EQ29"):
        section3_gd.check_s_eq29(layer_off)


def test_s_eq37_fails_with_one_layer_gradient_off(layer_off):
    """S-EQ37: the Frobenius differences drift beyond 2R(W(0))."""
    with pytest.raises(AssertionError, match="S-EQ37"):
        section3_gd.check_s_eq37(layer_off)


def test_s_l8a_fails_on_d_without_the_balance_terms(grown, monkeypatch):
    """S-L8a: D computed without sum ||A_{k,k+1}||_2, on an equal-Frobenius start."""
    section3_gd.check_s_l8a(grown)
    monkeypatch.setattr(
        bounds, "D", lambda W0: float(np.max(bounds.frobenius_sq(W0)) - bounds.frobenius_sq(W0)[-1])
    )
    with pytest.raises(AssertionError, match="S-L8a"):
        section3_gd.check_s_l8a(grown)


def _grown(data):
    """Norms grown to ~5 from a small start, so that Lemma 8's alignment bounds bite.

    A fixed step of 1 (descent holds here: S-EQ4 is asserted) reaches in 3000
    steps what A5's collapsing step would need millions for; the honest checks
    are asserted to pass before each bug is planted.
    """
    W0 = _oriented(data, equal_frobenius_init(data.d, [3], seed=4, norm=0.3))
    tr = gd.gradient_descent(data.z, W0, LOGISTIC, 3000, rule="fixed", eta=1.0)
    section3_gd.check_s_eq4(tr)
    return tr


def test_s_l8b_fails_on_off_by_one_singular_vectors(problem, monkeypatch):
    """S-L8b: alignment taken as <v_k, u_k> instead of <v_{k+1}, u_k>, on a grown network."""
    big = _grown(problem[0])

    section3_gd.check_s_l8b(big, every=100)
    monkeypatch.setattr(bounds, "alignment", planted.off_by_one_alignment)
    with pytest.raises(AssertionError, match="S-L8b"):
        section3_gd.check_s_l8b(big, every=100)


def test_s_l8c_fails_on_wrong_singular_vector(problem, monkeypatch):
    """S-L8c: v_1 taken as the second right singular vector (index bug)."""
    big = _grown(problem[0])
    section3_gd.check_s_l8c(big, every=100)

    monkeypatch.setattr(bounds, "product_alignment", planted.second_singular_vector_alignment)
    with pytest.raises(AssertionError, match="S-L8c"):
        section3_gd.check_s_l8c(big, every=100)


def test_s_l7_and_s_t3_fail_when_the_update_is_dropped(honest):
    """S-L7, S-T3: a loop that computes each step but never applies it (``W = new`` forgotten).

    The recorded steps and gradients are the honest run's, so the layers'
    changes are resolvable
    (``properties.ji_telgarsky_2019.claims.section3_gd.norm_change_scales``), and norms that
    stay put are caught.  (A step of 1e-300 would not do as a control: its
    updates are below float64's resolution, where no finite run can show
    growth, and the checks rightly accept unchanged norms.)
    """
    frozen = dataclasses.replace(honest, weights=(honest.weights[0],) * len(honest.weights))
    with pytest.raises(AssertionError, match="S-L7"):
        section3_gd.check_s_l7(frozen)
    with pytest.raises(AssertionError, match="S-T3"):
        section3_gd.check_s_t3(
            dataclasses.replace(frozen, log_risk=np.full_like(honest.log_risk, 0.0))
        )
    section3_gd.check_s_l7(honest)
    section3_gd.check_s_t3(honest)
