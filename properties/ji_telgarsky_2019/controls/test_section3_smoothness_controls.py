"""Negative controls for Lemmas 5 and 6 (S-L5, S-L6): planted bugs each check must catch.

The checks are :func:`properties.ji_telgarsky_2019.claims.section3_smoothness.check_s_l5`
and ``check_s_l6``; the properties that pass on honest gradients are in
``properties/ji_telgarsky_2019/test_section3_smoothness.py``.  Each control also records
a bug the check *cannot* see, and which statement catches it instead.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import find, settings
from hypothesis import strategies as st

from invariants.core import network as net
from invariants.core.data import make_dataset
from invariants.core.losses import EXPONENTIAL, LOGISTIC, Loss
from invariants.dynamics import gd
from properties.ji_telgarsky_2019.claims.section3_smoothness import check_s_l5, check_s_l6
from properties.ji_telgarsky_2019.problems import into_ball, l5_worst_cases

pytestmark = pytest.mark.meta

# --- S-L5 --------------------------------------------------------------------


def _beta_exponent_l_minus_1(radius: float, depth: int, loss: Loss) -> float:
    """Planted: ``beta(R) = 2 L^2 R^(L-1) (beta + G)`` (exponent L-1 instead of 2L-2)."""
    return 2.0 * depth**2 * radius ** (depth - 1) * (loss.beta + loss.G)


@st.composite
def scalar_chains(draw):
    """``(z, R, W, V)``: the worst case of S-L5 for deep networks, by construction.

    One data point ``z = (1, 0)``; ``W_1 = (0, R)`` (orthogonal to z, so the
    margin is 0 where ``loss'' = beta`` is largest), ``W_2 = ... = W_L = R``
    (every layer on the boundary of ``B(R)``), and ``V`` moves ``W_1`` by
    ``delta R`` towards z.  The gradient of layer 1 then changes at rate
    ``~ beta R^(2L-2)``: the ratio to the true ``beta(R)`` is ``~ 1/(2.5 * 4 L^2)``
    but to the planted ``R^(L-1)`` form it is ``R^(L-1)`` times larger.
    """
    L = draw(st.integers(1, 6), label="L")
    R = draw(st.floats(1.0, 4.0), label="R")
    delta = 10.0 ** draw(st.floats(-6.0, -2.0), label="log10 delta")
    z = make_dataset(np.array([[1.0, 0.0]]), np.array([1.0])).z
    first = into_ball(np.array([[0.0, R]]), R, R)
    W = (first, *(into_ball(np.array([[R]]), R, R) for _ in range(L - 1)))
    V0 = W[0] + np.array([[delta * R, 0.0]])
    V = (into_ball(V0, float(np.linalg.norm(V0)), R), *W[1:])
    return z, R, W, V


def _violates_l5(example) -> bool:
    z, R, W, V = example
    try:
        check_s_l5(z, W, V, LOGISTIC, R)
    except AssertionError:
        return True
    return False


def test_s_l5_fails_with_beta_exponent_l_minus_1(monkeypatch):
    """S-L5: a ``beta(R)`` with ``R^(L-1)`` instead of ``R^(2L-2)`` is violated; search finds it.

    ``hypothesis.find`` searches the constructed family :func:`scalar_chains`
    for a pair the planted constant does not cover and shrinks it (to L = 5 or 6,
    R near 4: the planted constant is short by ``R^(L-1)``, which must beat the
    true constant's slack of ~40-360).  The honest ``beta(R)`` holds on the same
    pair.  (The general strategy of the property rarely draws this needle: a
    deep rank-one chain at margin 0, every layer on the boundary, perturbed
    along the Hessian's top direction.)
    """
    monkeypatch.setattr(gd, "beta_of_radius", _beta_exponent_l_minus_1)
    example = find(
        scalar_chains(),
        _violates_l5,
        settings=settings(max_examples=500, database=None, derandomize=True),
    )
    z, R, W, V = example
    with pytest.raises(AssertionError, match="S-L5"):
        check_s_l5(z, W, V, LOGISTIC, R)
    monkeypatch.undo()
    assert check_s_l5(z, W, V, LOGISTIC, R).ratio < 0.1


def _one_layer_doubled(monkeypatch, layer: int = 0):
    """Plant: ``dR/dW_layer`` is returned twice too large (the gradient GD would use)."""
    real = net.layer_gradients

    def buggy(weights, z, loss):
        g = real(weights, z, loss)
        layers = list(g.layers)
        layers[layer] = 2.0 * layers[layer]
        sq = sum(float(np.vdot(G, G)) for G in layers)
        return net.ScaledGradient(g.log_scale, g.g, tuple(layers), g.log_scale + 0.5 * np.log(sq))

    monkeypatch.setattr(net, "layer_gradients", buggy)


def test_s_l5_fails_when_the_gradient_uses_the_exponential_derivative(monkeypatch):
    """S-L5: a gradient built with the exponential loss's ``loss'`` (the wrong Loss passed).

    First, why not the obvious bug: *one layer's gradient doubled does not
    break S-L5*.  Doubling one block at most doubles the gradient's Lipschitz
    constant, and the largest ratio known (search, and the constructed cases
    of :func:`properties.ji_telgarsky_2019.problems.l5_worst_cases`) is about 0.11, so the buggy
    gradient still meets
    Lemma 5's bound -- asserted below, as a record of what the check cannot see
    (S-EQ29 and S-EQ37 catch that bug, ``test_section3_controls``).

    The planted bug: ``loss'' = exp(-m)`` is unbounded, so at a misclassified
    point the gradient changes far faster than ``beta(R)`` allows: L = 2 scalar
    layers, ``R = 2``, margin ``w_1 w_2 = -4``: ``||Hess|| ~ e^4 R^2 = 218``
    against ``beta(2) = 40``.
    """
    for z, R, W, V in l5_worst_cases():
        honest = check_s_l5(z, W, V, LOGISTIC, R).ratio
        with monkeypatch.context() as mp:
            _one_layer_doubled(mp)
            doubled = check_s_l5(z, W, V, LOGISTIC, R).ratio  # does not raise
        assert honest < doubled <= 2 * honest * (1 + 1e-9) < 1

    real = net.layer_gradients
    z = make_dataset(np.array([[1.0]]), np.array([1.0])).z
    R = 2.0
    W = (np.array([[-R * (1 - 1e-12)]]), np.array([[R * (1 - 1e-12)]]))
    V = (np.array([[-R * (1 - 1e-12) + 1e-5]]), W[1])
    assert check_s_l5(z, W, V, LOGISTIC, R).ratio < 1
    monkeypatch.setattr(net, "layer_gradients", lambda w, zz, loss: real(w, zz, EXPONENTIAL))
    with pytest.raises(AssertionError, match="S-L5"):
        check_s_l5(z, W, V, LOGISTIC, R)


def _l6_example(n: int = 16):
    """n copies of one point ``z = 0.9`` (gamma = 0.9), depth 1, ``W(0) = 0.5``: exits at step 4."""
    data = make_dataset(np.full((n, 1), 0.9), np.ones(n))
    return data.z, (np.array([[0.5]]),), 0.9


def _ascent(weights, z, loss):
    """Plant: the sign of the update flipped (gradient ascent)."""
    g = net.layer_gradients(weights, z, loss)
    return tuple(-float(np.exp(g.log_scale)) * M for M in g.layers), float(np.exp(g.log_norm))


def _averaged_twice(weights, z, loss):
    """Plant: the gradient divided by n once more (the mean over the data taken twice)."""
    g = net.layer_gradients(weights, z, loss)
    n = z.shape[0]
    return tuple(float(np.exp(g.log_scale)) / n * M for M in g.layers), float(
        np.exp(g.log_norm)
    ) / n


def test_s_l6_fails_when_the_gradient_is_averaged_twice():
    """S-L6: a gradient divided by n once more (mean taken twice) breaks Lemma 6's bound.

    The unbroken run leaves ``B(R)`` at step 4, inside the bound (about 16).
    Why not the sign bug: *gradient ascent does not break S-L6* -- it drives
    the margins negative, where ``|loss'| -> G``, and the norms grow just the
    same (Lemma 6 is about norms, not direction): the float check passes it, and
    only the certificate of the exit sees it -- the exact GD step from the last
    iterate inside ``B(R)`` stays inside (margin -0.46), so the exit was not a GD
    step (S-EQ4 and S-T3 catch ascent too).

    The planted bug: the descent lemma promises a risk drop of
    ``eps^2/(2 beta)`` per step; a gradient 16x too small drops it 256x slower,
    so GD is still inside ``B(R)`` after the bound's ``T*`` (about 58 steps).
    The failure comes from the bound, not from the compute budget.
    """
    z, W0, gamma = _l6_example()
    assert check_s_l6(z, W0, LOGISTIC, gamma).ratio <= 1
    with pytest.raises(AssertionError, match="ball arithmetic proves it false"):
        check_s_l6(z, W0, LOGISTIC, gamma, gradient=_ascent)
    with pytest.raises(AssertionError, match="Lemma 6's bound"):
        check_s_l6(z, W0, LOGISTIC, gamma, gradient=_averaged_twice)


def test_s_l6_fails_when_the_step_is_too_small_for_the_budget(monkeypatch):
    """S-L6: ``beta(R)`` a million times too large: the step never leaves within the budget.

    The explicit bound scales with ``beta`` too (it stays valid for any
    constant >= the true one), so this failure comes from the compute budget:
    it exercises the other branch of the check, whose message gives the norm
    reached.
    """
    z, W0, gamma = _l6_example()
    real = gd.beta_of_radius
    monkeypatch.setattr(gd, "beta_of_radius", lambda R, L, loss: 1e6 * real(R, L, loss))
    with pytest.raises(AssertionError, match=r"within the budget.*reached 0\.5"):
        check_s_l6(z, W0, LOGISTIC, gamma, budget=2000)
