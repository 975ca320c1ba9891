"""Planted bugs shared by the negative controls, and the shared check runner.

Each planted function is a realistic bug in a measured quantity; the controls
of Section 2 (flow) and Section 3 (GD) plant the same ones, so they live here
once.
"""

from __future__ import annotations

import numpy as np

from invariants.core import bounds
from invariants.core import network as net


def off_by_one_alignment(weights: net.Weights) -> np.ndarray:
    """Bug: ``<v_k, u_k>`` (same layer) instead of ``<v_{k+1}, u_k>``."""
    uv = [bounds.top_singular_vectors(W) for W in weights]
    out = []
    for k in range(len(weights) - 1):
        u, v = uv[k][0], uv[k][1]
        m = min(u.size, v.size)
        out.append(abs(float(u[:m] @ v[:m])))
    return np.array(out)


def second_singular_vector_alignment(weights: net.Weights) -> float:
    """Bug: ``v_1`` taken as the *second* right singular vector of ``W_1`` (index bug)."""
    w = net.end_to_end(weights)
    f = np.sqrt(bounds.frobenius_sq(weights))
    _, _, Vt = np.linalg.svd(weights[0])
    return abs(float(w @ Vt[1])) / float(np.prod(f))
