"""Small fixed problems shared by the controls and the bug catalogue.

Each is deterministic (a fixed seed or closed form), so a control that plants a bug
into one fails the same way on every run.
"""

from __future__ import annotations

import numpy as np

from invariants.core import lemma4 as l4
from invariants.core import network as net
from invariants.core import theta as th
from invariants.core.data import make_dataset
from invariants.core.losses import LOGISTIC
from invariants.core.maxmargin import MaxMargin
from invariants.core.rounding import EPS


def l5_worst_cases():
    """The largest S-L5 ratios known, as ``(z, R, W, V)``: depth 1 at margin 0 (collinear
    unit data), and a scalar chain."""
    z1 = make_dataset(np.array([[0.0, 1.0], [0.0, 1.0]]), np.array([1.0, 1.0])).z
    W1 = (np.array([[1.0 - 1e-12, 0.0]]),)
    V1 = (np.array([[1.0 - 1e-12, 1e-6]]),)
    z2 = make_dataset(np.array([[1.0, 0.0]]), np.array([1.0])).z
    W2 = (np.array([[0.0, 1.0 - 1e-12]]), np.array([[1.0 - 1e-12]]))
    V2 = (np.array([[1e-6, 1.0 - 1e-12]]), np.array([[1.0 - 1e-12]]))
    return [(z1, 1.0, W1, V1), (z2, 1.0, W2, V2)]


def small_data(seed: int = 0, n: int = 12, d: int = 3):
    """Separable data in the unit ball with margin >= 0.2 about a random unit ``u``."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    x = rng.normal(size=(n, d))
    x /= np.linalg.norm(x, axis=1, keepdims=True) * rng.uniform(1.0, 2.0, size=(n, 1))
    y = np.where(x @ u >= 0, 1.0, -1.0)
    x = x + 0.2 * y[:, None] * u
    x /= np.maximum(1.0, np.linalg.norm(x, axis=1))[:, None] * (1 + 1e-12)
    return make_dataset(x, y)


def equal_frobenius_init(d: int, widths, seed: int = 1, norm: float = 0.8):
    """Random layers rescaled to one Frobenius norm (Fig. 2b); A2 is not arranged."""
    rng = np.random.default_rng(seed)
    W = [rng.normal(size=s) for s in net.layer_shapes(d, widths)]
    W = [norm * M / np.linalg.norm(M) for M in W]
    return W


def a2_equal_frobenius_init(z: np.ndarray, widths, seed: int = 1, norm: float = 0.8):
    """:func:`equal_frobenius_init`, with the last layer's sign chosen so that A2 holds."""
    W = equal_frobenius_init(z.shape[1], widths, seed=seed, norm=norm)
    if not net.satisfies_a2(tuple(W), z, LOGISTIC):
        W[-1] = -W[-1]
    return W


def into_ball(M: np.ndarray, norm: float, radius: float) -> np.ndarray:
    """``M`` rescaled to Frobenius norm ``min(norm, R)``, certified inside ``B(R)``.

    The computed norm errs by at most ``(size + 2) u`` relative, so the target
    is pulled in by ``4 (size + 2) u`` and the computed norm is then required
    to be ``<= R (1 - (size + 2) u)``: the exact norm is ``<= R``.
    """
    nm = float(np.linalg.norm(M))
    if nm == 0.0:
        return np.zeros_like(M)
    slack = (M.size + 2) * EPS
    out = M * (min(norm, radius) * (1.0 - 4 * slack) / nm)
    assert float(np.linalg.norm(out)) <= radius * (1.0 - slack)
    return out


def perp_heavy_start(
    z: np.ndarray, mm: MaxMargin, theta_value: float, widths, scale_r: float
) -> list[np.ndarray]:
    """Layers with ``w_prod = a ubar + r xi``, ``r = scale_r K``, A2 holding.

    ``W_1 = e_1 w^T``, the middle layers ``e_1 e_1^T`` and ``W_L = e_1^T``, so
    ``w_prod = w`` exactly.  ``xi`` is the theta minimiser's direction (the
    hardest one for Lemma 4); ``a`` makes every margin at least
    ``r |min_i <xi, z_i>|`` above zero, so ``R(W(0)) < loss(0)`` (A2).
    """
    n, d = z.shape
    K = l4.lemma4_threshold(LOGISTIC, n, theta_value)
    xi = np.asarray(th.theta(z, mm).xi, dtype=float)
    r = scale_r * K
    c = z @ xi
    g = z @ mm.ubar
    a = float(np.max((1.0 + r * np.maximum(-c, 0.0)) / g))
    w = a * mm.ubar + r * xi
    shapes = net.layer_shapes(d, list(widths))
    layers = []
    for k, (rows, cols) in enumerate(shapes):
        M = np.zeros((rows, cols))
        if k == 0:
            M[0] = w
        else:
            M[0, 0] = 1.0
        layers.append(M)
    return layers
