"""The cheap paths of :mod:`invariants.dynamics.gd` give the floats of the plain ones.

GD's loop and the Section 3 checks avoid ``np.linalg.norm`` and the allocating
``layer_gradients`` for speed (issue 22).  What they use instead must be the same
computation, not an approximation of it: the checks' tolerances and the bookkeeping of
the step rule were derived for the plain forms.

- :func:`~invariants.dynamics.gd.frobenius` equals ``np.linalg.norm`` exactly, for
  C-ordered, transposed and strided arrays;
- ``GDTrajectory.layer_norms`` is the table of those norms over a run;
- :func:`~invariants.core.network.layer_gradients_into` writes exactly what
  :func:`~invariants.core.network.layer_gradients` returns into the arrays it is given,
  and refuses arrays of the wrong shape.
"""

from __future__ import annotations

import numpy as np
import pytest

from invariants.core import network as net
from invariants.core.data import make_dataset
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.dynamics import gd


def arrays() -> list[np.ndarray]:
    """Layouts a norm may meet: C order, its transpose (F order), a strided slice, 1x1, a row."""
    rng = np.random.default_rng(7)
    M = rng.standard_normal((7, 9)) * np.exp(rng.uniform(-30, 30, (7, 9)))
    return [M, M.T, M[::2, 1::3], np.array([[-3.0]]), rng.standard_normal((1, 33))]


@pytest.mark.parametrize("i", range(5))
def test_frobenius_is_numpys_norm(i: int) -> None:
    """``frobenius(W) == np.linalg.norm(W)`` bit for bit (both: sqrt of the raveled dot)."""
    W = arrays()[i]
    assert gd.frobenius(W) == float(np.linalg.norm(W))


def problem() -> tuple[np.ndarray, net.Weights]:
    """Four points in the plane, a depth-3 network with A2."""
    x = np.array([[0.6, 0.2], [0.5, -0.3], [-0.4, -0.5], [-0.7, 0.1]])
    z = make_dataset(x, np.array([1.0, 1.0, -1.0, -1.0])).z
    W = (
        np.array([[0.3, -0.2], [0.1, 0.4], [0.2, 0.2]]),
        np.array([[0.5, 0.3, -0.1], [0.2, -0.4, 0.3]]),
        np.array([[0.7, 0.2]]),
    )
    assert net.satisfies_a2(W, z, LOGISTIC)
    return z, W


def test_layer_norms_are_the_norms_of_every_iterate() -> None:
    """``tr.layer_norms[t, k] == np.linalg.norm(tr.weights[t][k])`` for every t and k."""
    z, W = problem()
    tr = gd.gradient_descent(z, W, LOGISTIC, 30)
    want = [[float(np.linalg.norm(M)) for M in Wt] for Wt in tr.weights]
    assert tr.layer_norms.shape == (31, 3)
    assert np.array_equal(tr.layer_norms, want)


@pytest.mark.parametrize("loss", [LOGISTIC, EXPONENTIAL], ids=["logistic", "exp"])
def test_layer_gradients_into_writes_layer_gradients(loss) -> None:
    """The in-place form returns ``(log_scale, g, log_norm)`` and fills ``out`` with exactly
    the layers of :func:`~invariants.core.network.layer_gradients`."""
    z, W = problem()
    W = tuple(5.0 * M for M in W)  # margins of a few units: the scale is not 1
    out = tuple(np.full(M.shape, np.nan) for M in W)
    log_scale, g, log_norm = net.layer_gradients_into(W, z, loss, out)
    ref = net.layer_gradients(W, z, loss)
    assert (log_scale, log_norm) == (ref.log_scale, ref.log_norm) and ref.log_scale != 0.0
    assert np.array_equal(g, ref.g)
    assert all(np.array_equal(a, b) for a, b in zip(out, ref.layers, strict=True))


def test_layer_gradients_into_refuses_a_wrong_shape() -> None:
    """An ``out`` array of another layer's shape is refused, not broadcast into."""
    z, W = problem()
    out = [np.empty(M.shape) for M in W]
    out[1] = np.empty(W[1].shape[::-1])
    with pytest.raises(ValueError):
        net.layer_gradients_into(W, z, LOGISTIC, out)
