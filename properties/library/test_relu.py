"""Unit properties of ``invariants.relu`` (the Fig. 2 network's numerics) outside the claims.

The claim checks of properties/ji_telgarsky_2019/claims/fig2.py use
:func:`invariants.relu.cross_entropy_rounding`
as the rounding allowance of a computed loss; here the allowance is checked against the actual
rounding error, from exact (50-digit mpmath) values, on logits of every scale -- the tiny ones
included, where ``max|z| + |loss|`` is below 1 and only the bound's ``+ 1`` keeps it positive.
:func:`invariants.relu.train_sgd`'s record (the steps and risks the Fig. 2 series plot) is
checked against a recomputation, the He-normal initialisation's variance against 2 / fan-in,
and :func:`invariants.relu.weight_gradient_products` against its last-layer identity.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from invariants import relu


def _exact_loss(z: np.ndarray, y: np.ndarray) -> float:
    """Mean softmax cross-entropy of the float64 logits ``z``, in 50-digit arithmetic."""
    with mp.workdps(50):
        total = mp.mpf(0)
        for row, label in zip(z.tolist(), y.tolist(), strict=True):
            total += mp.log(mp.fsum(mp.exp(mp.mpf(v)) for v in row)) - mp.mpf(row[label])
        return float(total / len(y))


@pytest.mark.parametrize(
    ("scale", "n", "classes"),
    [(1e-3, 4, 2), (1e-8, 3, 2), (0.5, 5, 3), (5.0, 6, 10), (60.0, 8, 10)],
)
def test_cross_entropy_rounding_covers_the_rounding_error(scale: float, n: int, classes: int):
    """``|cross_entropy(z) - exact| <= cross_entropy_rounding(z, loss)`` (the bound's own
    derivation, in its docstring, is the tolerance: nothing is added).

    The tiny scales (1e-3, 1e-8 with two classes: loss ~ log 2, max|z| + loss < 1) are where a
    bound without its ``+ 1`` term goes negative.  Negative control: that bound (the sampled
    mutation run's survivor ``- 1.0``) fails on them.
    """
    rng = np.random.default_rng(int(scale * 1e9) % 2**32 + n)
    z = scale * rng.standard_normal((n, classes))
    y = rng.integers(0, classes, size=n)
    loss, _ = relu.cross_entropy(z, y)
    err = abs(loss - _exact_loss(z, y))
    assert err <= relu.cross_entropy_rounding(z, loss), (err, relu.cross_entropy_rounding(z, loss))


def test_train_sgd_records_at_the_stated_steps():
    """``record_steps`` are ``0, record_every, 2 record_every, ...`` and the last step, and the
    risk recorded at step ``t`` is the risk of the weights after ``t`` updates (step 0: the
    initial weights, the last: the final ones), recomputed here by :func:`relu.risk` -- the
    same float operations, so equality is exact.  Negative control: recording the initial
    weights as step 1 (sampled mutant relu.train_sgd 50, ``record(1)``) fails the first
    assertion; the Fig. 2 series plot ``risk`` against these steps."""
    data = relu.load_digits(40, seed=3)
    W0 = relu.init_weights("default", relu.DIGITS_WIDTHS, 3)
    run = relu.train_sgd(data, W0, 25, 0.01, 8, 3, record_every=10, trace=False)
    assert run.record_steps.tolist() == [0, 10, 20, 25]
    assert run.risk[0] == relu.risk(W0, data, "relu")
    assert run.risk[-1] == relu.risk(run.final, data, "relu")


def test_he_normal_init_has_variance_two_over_fan_in():
    """``he_normal``: each entry of ``W_k`` is ``N(0, 2 / d_{k-1})`` (d_{k-1} = the layer's
    columns).  The mean of the squared entries of an ``m x n`` layer estimates the variance
    with relative standard deviation ``sqrt(2 / (m n))`` (chi-square with ``m n`` degrees of
    freedom); 6 of those (a miss has probability < 2e-9; the seed is fixed, so the draw is too)
    is the allowance, 0.24 on the smallest layer (10 x 128).  Negative control: the variance
    ``3 / d_{k-1}`` (sampled mutant relu.he_normal_init 7) is off by 0.5 on every layer."""
    for k, W in enumerate(relu.init_weights("he_normal", relu.DIGITS_WIDTHS, 5)):
        rel = float(np.mean(W**2)) / (2.0 / W.shape[1]) - 1.0
        assert abs(rel) <= 6 * np.sqrt(2.0 / W.size), (k, W.shape, rel)


def test_weight_gradient_products_last_layer_identity():
    """``<W_L, G_L> = <dA_L, A_L>``: with ``G_L = dA_L^T H`` and ``A_L = H W_L^T`` both are the
    triple sum ``sum_{b,j,i} dA_bj H_bi W_ji`` (b over the n points, j the C classes, i the h
    inputs of the last layer), associated differently.  Each computed value carries at most
    ``gamma_m S`` of rounding, m the factors per term's nested sums (n + C h for the first,
    h + n C for the second) and ``S = <|dA|, |H| |W_L|^T>`` (Higham, nested dot products);
    their sum is the allowance.  Negative control: ``np.vdot(A_L)`` (sampled mutant
    relu.weight_gradient_products 29, the function had no caller) raises TypeError."""
    from invariants.core.rounding import gamma

    data = relu.load_digits(30, seed=4)
    W = relu.init_weights("default", relu.DIGITS_WIDTHS, 4)
    wg, dAA = relu.weight_gradient_products(W, data.X, data.y)
    A, H = relu.forward(W, data.X)
    _, dA = relu.cross_entropy(A[-1], data.y)
    n, (C, h) = data.X.shape[0], W[-1].shape
    S = float(np.vdot(np.abs(dA), np.abs(H[-1]) @ np.abs(W[-1]).T))
    assert abs(wg[-1] - dAA) <= (gamma(n + C * h) + gamma(h + n * C)) * S, (wg[-1], dAA, S)
    assert wg.shape == (len(W),)
