"""Planted bugs shared by the negative controls, and the shared check runner.

Each planted function is a realistic bug in a measured quantity; the controls
of Section 2 (flow) and Section 3 (GD) plant the same ones, so they live here
once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from invariants.core import bounds
from invariants.core import network as net


def run_checks(checks: Mapping[str, Callable], trajectory) -> list:
    """Run every check on one trajectory; raise one error naming all statements that failed.

    One failing statement must not hide another, so all run before raising.
    """
    slacks, failures = [], []
    for statement, check in checks.items():
        try:
            slacks.append(check(trajectory))
        except AssertionError as exc:
            failures.append(f"{statement}: {exc}")
    if failures:
        raise AssertionError("\n".join(failures))
    return slacks


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
