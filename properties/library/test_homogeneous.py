"""Properties of ``invariants.core.homogeneous`` (serve LL-EQ1, LL-SW, LL-LA.5, LL-EQ6, LL-EQ7).

The margin models' Jacobians against central differences, and the smoothed minimum margin
and the sandwich gap against mpmath at 60 digits.  The assertions are helper functions, so
the meta-tests at the bottom run the same assertions on planted bugs.
"""

from __future__ import annotations

import dataclasses

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from invariants.core import homogeneous as hom
from invariants.core.losses import EXPONENTIAL, LOGISTIC, Loss
from invariants.core.network import unflatten
from invariants.core.rounding import EPS

LOSS = st.sampled_from([EXPONENTIAL, LOGISTIC])
mp.mp.dps = 60


def _exact_q(q: np.ndarray, loss: Loss) -> mp.mpf:
    """``loss^{-1}(sum_i loss(q_i))`` at 60 digits."""
    if loss.name == "exponential":
        return -mp.log(mp.fsum(mp.exp(-mp.mpf(x)) for x in q))
    total = mp.fsum(mp.log1p(mp.exp(-mp.mpf(x))) for x in q)
    return -mp.log(mp.expm1(total))


def _lse_allowance(q: np.ndarray) -> float:
    """Absolute rounding of one log-sum-exp over ``n`` terms of size ``|q|``.

    ``amax + log(sum exp(a - amax))``: the shift errs by ``eps |a|`` per term, each ``exp``
    by ``eps`` relative, the sum by ``n eps`` relative, the ``log`` by ``eps`` absolute
    beyond that relative error, and the final addition by ``eps |result|``:
    ``(n + 4) eps (max|q| + log n + 1)`` covers all of them.
    """
    n = q.size
    return (n + 4) * EPS * (float(np.max(np.abs(q))) + np.log(n) + 1.0)


def check_smoothed_min_margin(q: np.ndarray, loss: Loss, fn=hom.smoothed_min_margin) -> float:
    """``Q = loss^{-1}(Lsum)`` against mpmath; returns error / allowance.

    The logistic form adds ``log(expm1(Lsum)/Lsum)`` (a few eps absolute, or ``Lsum/2``
    with a dropped ``Lsum^2/24 < 2e-19``) to one log-sum-exp: twice the allowance.
    """
    exact = _exact_q(q, loss)
    allowed = 2 * _lse_allowance(q) + 2e-19
    err = abs(float(mp.mpf(fn(q, loss)) - exact))
    assert err <= allowed, f"Q = {fn(q, loss)!r} vs exact {mp.nstr(exact, 20)}: {err:.3e}"
    return err / allowed


def check_sandwich_gap(q: np.ndarray, loss: Loss, fn=hom.sandwich_gap) -> float:
    """``q_min - Q`` against mpmath, and inside its interval (LL-SW, LL-LA.5)."""
    exact = mp.mpf(float(np.min(q))) - _exact_q(q, loss)
    gap = fn(q, loss)
    allowed = 2 * (q.size + 4) * EPS * (np.log(q.size) + 2.0) + 2e-19
    err = abs(float(mp.mpf(gap) - exact))
    assert err <= allowed, f"gap {gap!r} vs exact {mp.nstr(exact, 20)}: {err:.3e} > {allowed:.3e}"
    return err / allowed


def check_jacobian(model_fn, theta: np.ndarray, shapes, *args, same_piece=None) -> float:
    """Every column of ``jacobian`` against a central difference of the margins.

    Along one coordinate the margins of both networks are polynomials of degree at most
    one in that coordinate (each weight appears once in each product path), so the
    central difference is exact up to rounding, as long as both ends lie on the same
    piece: ``same_piece(theta_a, theta_b)`` (the ReLU activation patterns agree) says so,
    and a column whose difference crosses a kink is skipped.
    """
    model = model_fn(unflatten(theta, shapes), *args)
    h = 2.0**-10
    worst = 0.0
    for j in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        if same_piece is not None and not (same_piece(up, theta) and same_piece(down, theta)):
            continue
        fd = (
            model_fn(unflatten(up, shapes), *args).q - model_fn(unflatten(down, shapes), *args).q
        ) / (2 * h)
        scale = np.abs(model.jacobian[:, j]) + np.abs(model.q) + 1.0
        err = np.abs(fd - model.jacobian[:, j])
        # rounding of two margin evaluations (each (D + 2) eps relative to its magnitude),
        # divided by 2h
        allowed = 2 * (theta.size + 2) * EPS * scale / (2 * h)
        assert np.all(err <= allowed), f"column {j}: fd {fd} vs jacobian {model.jacobian[:, j]}"
        worst = max(worst, float(np.max(err / allowed)))
    return worst


@given(
    q=st.lists(st.floats(-30, 1e6), min_size=1, max_size=8).map(np.array),
    loss=LOSS,
)
def test_smoothed_min_margin_is_the_inverse_loss_of_the_sum(q, loss):
    """``Q = loss^{-1}(sum_i loss(q_i))`` to a derived rounding allowance (LL-SW, LL-LA.5)."""
    check_smoothed_min_margin(q, loss)


@given(
    q=st.lists(st.floats(-30, 1e12), min_size=1, max_size=8).map(np.array),
    loss=LOSS,
)
def test_sandwich_gap_has_no_cancellation(q, loss):
    """``q_min - Q`` to a few eps absolute even at margins of 1e12 (LL-SW, LL-LA.5)."""
    check_sandwich_gap(q, loss)


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 4))
def test_linear_network_jacobian_and_euler(seed, depth):
    """The linear network's margin gradients are the derivatives of its margins, and
    ``<theta, grad q_i> = p q_i`` (LL-EQ1)."""
    rng = np.random.default_rng(seed)
    dims = [3, *rng.integers(1, 4, size=depth - 1).tolist(), 1]
    shapes = [(dims[k + 1], dims[k]) for k in range(depth)]
    theta = rng.normal(size=sum(r * c for r, c in shapes))
    z = rng.normal(size=(5, 3))
    check_jacobian(hom.linear_network_margins, theta, shapes, z)
    model = hom.linear_network_margins(unflatten(theta, shapes), z)
    assert model.order == depth
    # <theta, grad q_i> sums D products, each a product of p weights and one z entry, and
    # q_i sums the same product paths once per layer: both err by at most
    # (D + p + 2) eps times sum_j |theta_j| |J_ij| (every path's magnitude, p times over).
    euler = model.jacobian @ model.theta
    magnitude = np.abs(model.jacobian) @ np.abs(model.theta)
    allowed = 2 * (model.theta.size + depth + 2) * EPS * magnitude
    assert np.all(np.abs(euler - depth * model.q) <= allowed), (euler, depth * model.q)


@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 4))
def test_relu_network_jacobian_and_euler(seed, depth):
    """The bias-free ReLU network's margin gradients (``relu'(0) := 0``) are the derivatives
    of its margins on each linear piece, and ``<theta, grad q_i> = p q_i`` (LL-EQ1)."""
    from invariants.relu import activation_pattern

    rng = np.random.default_rng(seed)
    dims = [3, *rng.integers(2, 5, size=depth - 1).tolist(), 1]
    shapes = [(dims[k + 1], dims[k]) for k in range(depth)]
    theta = rng.normal(size=sum(r * c for r, c in shapes))
    x, y = rng.normal(size=(6, 3)), rng.choice([-1.0, 1.0], size=6)

    def same_piece(a, b):
        pa = activation_pattern(unflatten(a, shapes), x)
        pb = activation_pattern(unflatten(b, shapes), x)
        return all(np.array_equal(u, v) for u, v in zip(pa, pb, strict=True))

    check_jacobian(hom.relu_network_margins, theta, shapes, x, y, same_piece=same_piece)
    model = hom.relu_network_margins(unflatten(theta, shapes), x, y)
    euler = model.jacobian @ model.theta
    magnitude = np.abs(model.jacobian) @ np.abs(model.theta)
    allowed = 2 * (model.theta.size + depth + 2) * EPS * magnitude
    assert np.all(np.abs(euler - depth * model.q) <= allowed), (euler, depth * model.q)


def test_negative_control_a_wrong_inverse_is_caught():
    """Planted: ``Q`` from the mean ``Lsum / n`` (the trap of the sum convention)."""

    def mean_q(q, loss):
        return hom.smoothed_min_margin(q, loss) + np.log(q.size)

    with pytest.raises(AssertionError):
        check_smoothed_min_margin(np.array([1.0, 2.0, 3.0]), EXPONENTIAL, fn=mean_q)


def test_negative_control_a_cancelling_gap_is_caught():
    """Planted: the gap as ``q_min - Q`` by subtraction loses every digit at 1e12."""

    def naive(q, loss):
        return float(np.min(q)) - hom.smoothed_min_margin(q, loss)

    with pytest.raises(AssertionError):
        check_sandwich_gap(np.array([1e12 + 0.3, 1e12 + 1.7, 1e12 + 2.9]), LOGISTIC, fn=naive)


def test_negative_control_a_wrong_jacobian_is_caught():
    """Planted: the last layer's gradient block doubled."""

    def doubled(weights, z):
        m = hom.linear_network_margins(weights, z)
        J = m.jacobian.copy()
        J[:, -weights[-1].size :] *= 2
        return dataclasses.replace(m, jacobian=J)

    rng = np.random.default_rng(1)
    shapes = [(2, 3), (1, 2)]
    with pytest.raises(AssertionError):
        check_jacobian(doubled, rng.normal(size=8), shapes, rng.normal(size=(4, 3)))
