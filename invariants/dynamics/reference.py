"""The reference run behind ``perp_error``: a tighter, independent integration of the flow.

A run's ``w_perp`` (the part of ``w_prod`` orthogonal to ubar) is the quantity S-T2 is
about, and its accuracy is estimated here: the same time-changed field
(:class:`invariants.dynamics.flow.Field`) is integrated again by Radau at a hundredfold
tighter tolerance, read off at the run's own clock values (:func:`reference_states`),
and the distance between the two ``w_perp`` (:func:`perp_errors`), plus the rounding
of the reference's own ``w_perp`` measured in extended precision (:func:`perp_rounding`),
becomes each checkpoint's ``perp_error`` (:func:`with_perp_error`).

Statements served: S-T2.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from ..core import network as net
from ..core.maxmargin import perp
from ..core.rounding import perp_rounding_bound
from .flow import LATE_WPROD, Field
from .records import Trajectory

#: The stated accuracy of ``w_perp`` (the part of ``w_prod`` orthogonal to ubar) along a
#: default run, per band ``[lo, hi)`` of ``||w_prod||``: the largest
#: ``||w_perp - w_perp,exact|| / max(||w_perp,exact||, 1)`` promised there.  Each value is
#: four times the largest error measured in that band or any band below it (the error
#: builds up with ``||w_prod||``; one lucky band does not make a promise), rounded up to
#: one digit; properties/library/test_flow_accuracy.py asserts half of it on every drawn
#: problem.  The measurements per band, and the stress runs that broke three earlier
#: tables: docs/numerics.md, "Gradient flow: solver choice and error budget".
STATED_PERP_BANDS: tuple[tuple[float, float, float], ...] = (
    (0.0, 1e5, 7e-7),
    (1e5, 1e6, 9e-7),
    (1e6, 1e7, 4e-6),
    (1e7, 1e8, 7e-6),
    (1e8, 1e9, 8e-5),
    (1e9, LATE_WPROD, 4e-4),
    (LATE_WPROD, 1e11, 2e-3),
    (1e11, np.inf, 9e-3),
)


def stated_perp_accuracy(wprod_norm: float) -> float:
    """The stated accuracy of ``w_perp`` at ``||w_prod|| = wprod_norm`` (S-T2)."""
    for lo, hi, acc in STATED_PERP_BANDS:
        if lo <= wprod_norm < hi:
            return acc
    return np.nan


def reference_states(
    tr: Trajectory, factor: float = 100.0, method: str = "Radau"
) -> list[net.Weights | None]:
    """The weights of an independent, tighter integration at every checkpoint (S-T2).

    The same time-changed field, integrated by scipy's ``solve_ivp`` with ``method``
    (Radau by default: a different scheme from the default BDF, so the two do not share
    a truncation error), ``rtol / factor`` and ``atol / factor``, read off its dense
    output at exactly the checkpoints' clock values (the same points of the exact
    path).  Unguarded: it is a reference, not a trajectory.  Only checkpoints with
    ``||w_prod|| <= LATE_WPROD`` are integrated (None beyond, and where the reference
    stopped short): above the switch Radau at rtol 1e-12 needed more than 200 s on one
    of the six problems, and its own error there is the float64 floor's, as large as the
    run's (:data:`STATED_PERP_BANDS`).
    """
    from scipy.integrate import solve_ivp

    shapes = [W.shape for W in tr.initial]
    field_ = Field(shapes, tr.z, tr.loss, tr.clock)
    s = np.array([c.s for c in tr.checkpoints])
    n = int(np.sum(tr.wprod_norm() <= LATE_WPROD))
    out: list[net.Weights | None] = [None] * s.size
    if n == 0:
        return out
    # Never looser than 1e-12 (where Radau still integrates to the floor): a loose run's
    # reference is then much tighter than rtol / factor, and its own error negligible.
    rtol = max(min(tr.rtol / factor, 1e-12), 1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a stall near the floor is reported by status
        sol = solve_ivp(
            field_,
            (0.0, float(s[n - 1])),
            net.flatten(tr.initial),
            method=method,
            rtol=rtol,
            atol=tr.atol * rtol / tr.rtol,
            jac=field_.jac,
            t_eval=s[:n],
        )
    for j in range(sol.t.size):
        out[j] = net.unflatten(sol.y[:, j], shapes)
    return out


def reference_wprod(tr: Trajectory, factor: float = 100.0, method: str = "Radau") -> np.ndarray:
    """``w_prod`` of :func:`reference_states` at every checkpoint (NaN rows where it has none)."""
    out = np.full((len(tr.checkpoints), tr.z.shape[1]), np.nan)
    for j, W in enumerate(reference_states(tr, factor, method)):
        if W is not None:
            out[j] = net.end_to_end(W)
    return out


def perp_rounding(weights: net.Weights, ubar: np.ndarray) -> float:
    """``||P w_prod - P~ w_prod~||`` for the stored ``weights``: the rounding of their ``w_perp``.

    ``w_prod`` and its projection (:func:`~invariants.core.maxmargin.perp`) as evaluated
    in float64, against the same product and two projection passes evaluated in extended
    precision (``np.longdouble``, machine epsilon ``u_x``) on the same stored weights, plus
    the rounding bound of the extended evaluation,
    :func:`~invariants.core.rounding.perp_rounding_bound` at ``unit = u_x`` times
    ``||w_prod||`` (the bound ``with_perp_error`` applied to float64 before issue 18, now
    with ``u_x = 2^-63`` on x86 instead of ``2^-52``).  Where ``longdouble`` is plain
    double (some platforms) the extended bound is the float64 one, so the result stays a
    bound, only looser.
    """
    ux = float(np.finfo(np.longdouble).eps)
    d = weights[0].shape[1]
    u = np.asarray(ubar, dtype=np.longdouble)
    v = np.asarray(weights[-1][0], dtype=np.longdouble)
    for W in weights[-2::-1]:
        v = np.asarray(W, dtype=np.longdouble).T @ v
    p_x = v - (v @ u) * u
    p_x = p_x - (p_x @ u) * u
    p_64 = perp(net.end_to_end(weights)[None, :], ubar)[0]
    L, m = len(weights), max(max(W.shape) for W in weights)
    extended = perp_rounding_bound(L, m, d, ux) * float(np.linalg.norm(np.asarray(v, dtype=float)))
    return float(np.linalg.norm(np.asarray(p_64 - p_x, dtype=float))) + extended


def perp_errors(tr: Trajectory, ubar: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``||P w - P w_ref|| / max(||P w_ref||, 1)`` at each checkpoint, ``P = I - ubar ubar^T``.

    An *estimate* of the relative error of the computed ``w_perp``: by tolerance
    proportionality the ``factor`` times tighter reference's own error is about
    ``1/factor`` of the run's, so the difference is the run's error to within that
    fraction.  :func:`with_perp_error` adds that fraction.
    """
    w = np.array([net.end_to_end(c.weights) for c in tr.checkpoints])
    pr = perp(reference, ubar)
    num = np.linalg.norm(perp(w, ubar) - pr, axis=1)
    return num / perp_scale(pr)


def perp_scale(perp_rows: np.ndarray) -> np.ndarray:
    """``max(||w_perp||, 1)``: the scale ``w_perp`` errors are relative to.

    ``w_perp`` tends to an offset of order one (Soudry et al.); where it is smaller (or
    zero: a start at ``w = 0``, symmetric data) an error relative to it says nothing, so
    below 1 the error is absolute.
    """
    return np.maximum(np.linalg.norm(perp_rows, axis=1), 1.0)


def with_perp_error(tr: Trajectory, ubar: np.ndarray, factor: float = 100.0) -> Trajectory:
    """``tr`` with each checkpoint's ``perp_error`` estimated against :func:`reference_states`.

    ``perp_error = d (1 + 2 / factor) + r``, relative to ``max(||w_perp,ref||, 1)``, with
    ``d`` the distance to the reference (:func:`perp_errors`) and ``r`` the rounding of the
    reference's own ``w_perp`` (:func:`perp_rounding`).  The run's rounding is in ``d``;
    the reference's truncation error, about ``d / factor``, is added with a factor 2 as a
    margin for imperfect tolerance proportionality.  That factor is not derived: BDF's
    error at rtol 1e-10 and 1e-11 differed by only 1.2x to 3x on the six problems, and
    Radau's proportionality was not measured.  NaN above ``LATE_WPROD`` and where the
    reference stopped short.  An *estimate*: the reference's own error is not in it (two
    Radau runs at rtol 1e-12, one landing on each clock value, differed by 2e-9 relative
    at ``||w_prod|| = 4.7e5`` where this said 1.1e-9).

    Before issue 18 ``r`` was the worst-case float64 bound, twice
    :func:`~invariants.core.rounding.perp_rounding_bound` times ``||w_prod||`` (both
    runs), 7 to 311 times the measured error above ``||w_prod|| = 1e8``; the rounding
    actually incurred, measured in extended precision, replaces it.
    """
    states = reference_states(tr, factor)
    ref = np.full((len(states), tr.z.shape[1]), np.nan)
    rounding = np.full(len(states), np.nan)
    for j, W in enumerate(states):
        if W is not None:
            ref[j] = net.end_to_end(W)
            rounding[j] = perp_rounding(W, ubar)
    scale = perp_scale(perp(np.nan_to_num(ref), ubar))
    est = perp_errors(tr, ubar, ref) * (1 + 2 / factor) + rounding / scale
    cps = tuple(replace(c, perp_error=float(e)) for c, e in zip(tr.checkpoints, est, strict=True))
    return replace(tr, checkpoints=cps)
