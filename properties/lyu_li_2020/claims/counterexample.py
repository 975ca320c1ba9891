"""Theorem I.1 (the Mexican-hat counterexample), the violations of the assumptions, the errata.

- LL-TI.1: :func:`check_ll_ti_1` on a reduced run (:mod:`invariants.core.mexican_hat`):
  the margin grows, ``r -> 1``, ``gbar -> 1``, and the direction winds without bound.
- LL-ERR item 6 (which exponent makes ``psi = 0`` invariant): :func:`psi_drift` in exact
  rational arithmetic (python-flint's ``fmpq``) and in Arb balls; :func:`check_ll_err_6`.
- LL-ERR items 1-2 (Theorem 4.1(3) prints ``|gtil - gtil| -> 0``): :func:`check_ll_err_1`;
  item 3 (a rate bounded by a level): :func:`check_ll_err_3`.
- LL-NEG: one predicate per violated assumption, each saying no when the assumption is
  restored (:func:`a4_gtil_nonpositive`, :func:`a2_breaks_euler`, :func:`s5_first_rise`,
  :func:`gbar_falls_while_gtil_rises`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from flint import arb, fmpq

from invariants.core import mexican_hat as mh
from invariants.core.homogeneous import (
    MarginModel,
    linear_network_margins,
    log_loss_sum,
    normalized_margin,
    nu_over_loss,
    sandwich_gap,
    scaled_gradient,
    smoothed_margin,
)
from invariants.core.losses import EXPONENTIAL, Loss
from invariants.core.rounding import gamma
from invariants.statements import Slack

# --- LL-TI.1 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HatProblem:
    """One run of Theorem I.1: start ``r0`` on ``psi = 0``, exponent ``k``, order ``p``,
    ``n`` copies of the margin ``h``, the start's ``rho0`` and the path length."""

    r0: float
    k: int
    p: int
    n: int
    rho0: float
    sigma_end: float
    sin_term: bool = True

    @property
    def a0(self) -> float:
        """``a = 1/(1 - r0^2)``."""
        return 1.0 / (1.0 - self.r0 * self.r0)

    def theta0(self) -> np.ndarray:
        """``rho0`` times the unit vector at ``(r0, phi = a0)`` (so ``psi = 0``)."""
        return self.rho0 * mh.sphere_point(self.a0, self.a0)


def run_hat(problem: HatProblem, rtol: float = 1e-8) -> mh.ReducedRun:
    """The reduced flow of ``problem`` (LL-TI.1), 100 saved states."""
    return mh.reduced_flow(
        problem.a0, problem.k, problem.sigma_end, saves=100, rtol=rtol, sin_term=problem.sin_term
    )


def log_hat_gradient(a: float, chi: float, k: int) -> tuple[float, float]:
    """``(d log f/da, d log f/dchi)`` at ``(a, chi = psi - pi/2)`` (LL-TI.1), from
    ``log f = -a + log(1 - A cos chi)``: ``d/dchi = A sin chi / (1 - A cos chi)`` and
    ``d/da = -1 - (dA/dr)(dr/da) cos chi / (1 - A cos chi)`` with ``dr/da = 1/(2 r a^2)``."""
    r = mh.radius_of(a)
    A = mh.coefficient(r, k)
    den = mh.coefficient_complement(r, k) + 2.0 * A * float(np.sin(0.5 * chi)) ** 2
    dA_da = mh.coefficient_derivative(r, k) / (2.0 * r * a * a)
    return -1.0 - dA_da * float(np.cos(chi)) / den, A * float(np.sin(chi)) / den


#: The turns the direction must still make in the last quarter of a run, in radians of
#: ``phi``: pi/2.  Derivation: past the start the flow sits in the valley ``psi ~ pi/2``
#: (or on ``psi = 0``), where ``phi - a`` is nearly constant, so ``dphi = da``; the path
#: length per radian of ``phi`` tends to 1 (``r -> 1``), so the last quarter of a run of
#: path length ``sigma_end >= 20`` turns ``phi`` by about ``sigma_end / 4 >= 5`` rad.  A
#: direction that converges turns by 0 there (the control without sin term).
LAST_QUARTER_TURN = 0.5 * np.pi


def check_ll_ti_1(run: mh.ReducedRun, problem: HatProblem) -> Slack:
    """LL-TI.1: along the flow of Theorem I.1 the margin grows, ``r -> 1``, ``gbar -> 1``,
    and ``phi`` keeps increasing (the direction does not converge).

    *The margin grows.*  ``gtil = g - log n rho^{-p}`` with ``g = 1 - f`` on the sphere;
    ``d log rho^p/ds = p^2 g > 0`` (module docstring of :mod:`invariants.core.mexican_hat`),
    so the second term only rises, and ``gtil`` rises iff ``log f`` falls.  Checked at the
    saved states: ``log f(j+1) <= log f(j) + e_j + e_{j+1}``, with ``e_j`` the solver's
    per-step error tolerance (``rtol (1 + |y|)`` per component, BDF's error control) carried
    through ``|grad log f|`` at state j -- a local allowance: the global error of the run
    is not estimated (the fall per save, ``~ sigma_end/100``, dwarfs it).

    *The direction winds.*  ``phi(end) - phi(3/4 of the run) >= pi/2``
    (:data:`LAST_QUARTER_TURN`).  ``r -> 1`` and ``gbar -> 1`` are limits: asserted as
    ``a`` and ``-log f`` rising over the run, measured as ``1 - r^2 = 1/a`` and
    ``1 - gbar = f`` at the end.  Exercised when A4 held at the start (``h > log n``) and
    ``log f`` fell by more than the allowance.
    """
    log_f = run.log_hat()
    e = np.array(
        [
            abs(ga) * run.rtol * (1.0 + abs(a)) + abs(gc) * run.rtol * (1.0 + abs(c))
            for a, c in zip(run.a, run.chi, strict=True)
            for ga, gc in [log_hat_gradient(a, c, run.k) if run.sin_term else (-1.0, 0.0)]
        ]
    )
    rise = np.diff(log_f)
    allowed = e[:-1] + e[1:]
    ratio = float(np.max(np.maximum(rise, 0.0) / allowed))
    assert np.all(rise <= allowed), (
        f"LL-TI.1: log f rose by {rise.max():.3g} > allowance at save {int(np.argmax(rise))}"
    )
    j = (3 * (len(run.phi) - 1)) // 4
    turn = float(run.phi[-1] - run.phi[j])
    assert turn >= LAST_QUARTER_TURN, (
        f"LL-TI.1: phi turned by {turn:.3g} rad over the last quarter (< pi/2): the direction "
        f"converges (phi(end) = {run.phi[-1]:.6g})"
    )
    assert run.a[-1] > run.a[0] and log_f[-1] < log_f[0], (
        f"LL-TI.1: r does not approach 1 (a: {run.a[0]:.4g} -> {run.a[-1]:.4g})"
    )
    h0 = problem.rho0**problem.p * (1.0 - mh.hat(problem.r0, problem.a0, problem.k))
    a4 = h0 > np.log(problem.n)
    departure = np.abs(run.psi) > 0.1
    measures = {
        "turns": float((run.phi[-1] - run.phi[0]) / (2 * np.pi)),
        "one_minus_r2": float(1.0 / run.a[-1]),
        "log10_one_minus_gbar": float(log_f[-1] / np.log(10.0)),
    }
    if departure.any():  # the a at which |psi| first exceeds 0.1 (the curve is left)
        measures["psi_departure_a"] = float(run.a[np.argmax(departure)])
    return Slack(
        "LL-TI.1",
        ratio,
        f"turns {(run.phi[-1] - run.phi[0]) / (2 * np.pi):.2f}, 1 - r^2 = {1 / run.a[-1]:.3g}",
        exercised=bool(a4 and (log_f[0] - log_f[-1]) > e[0] + e[-1]),
        measures=measures,
    )


def euler_residual(model: MarginModel) -> tuple[float, float]:
    """``max_i |<theta, grad q_i> - p q_i|`` and its rounding allowance (LL-NEG, LL-TI.1).

    Allowance: the dot product of D terms is within ``gamma(D) |theta| . |grad q_i|``, and
    ``q_i`` and ``grad q_i`` each carry relative errors of a few ``gamma(m)`` of the model's
    evaluation; ``gamma(D + 32)`` times ``|theta| . |grad q_i| + p |q_i|`` covers both for
    the models here (at most 30 flops per entry before the dot product).
    """
    dots = model.jacobian @ model.theta
    scale = np.abs(model.jacobian) @ np.abs(model.theta) + model.order * np.abs(model.q)
    allowed = gamma(model.theta.size + 32) * scale
    res = np.abs(dots - model.order * model.q)
    i = int(np.argmax(res / allowed))
    return float(res[i]), float(allowed[i])


# --- LL-ERR item 6: the invariance of psi = 0 ------------------------------------------------


def psi_drift(r2, k: int, *, sphere: bool = True):
    """``dpsi/ds / E`` on ``psi = 0`` at ``r^2 = r2``, exactly, in the number type of ``r2``
    (``fmpq``: exact; ``arb``: a ball; float) (LL-TI.1, LL-ERR item 6).

    The general rate (``sin psi = 0``, ``cos psi = 1``, so the bracket is ``1 - A``):
    ``dpsi/ds / E = A/r^2 - c a'^2 (1 - A)`` with ``a' = 2 r a^2``, ``a'^2 = 4 r^2 a^4``
    and ``c = 1 - r^2 = 1/a`` on the sphere (``c = 1`` for Absil's planar flow,
    ``sphere=False``).  Everything is rational in ``r^2``: no simplification is assumed.
    """
    one = r2 / r2
    eps = one - r2
    a = one / eps
    A = 4 * r2 * r2 / (4 * r2 * r2 + eps**k)
    da2 = 4 * r2 * a**4
    c = eps if sphere else one
    return A / r2 - c * da2 * (one - A)


#: The sample radii of the exact invariance verdict (LL-ERR item 6): r^2 = j/10.
SAMPLE_R2 = tuple(fmpq(j, 10) for j in range(1, 10))


def check_ll_err_6(r2s: Sequence = SAMPLE_R2, *, sphere: bool = True) -> Slack:
    """LL-ERR item 6: on the sphere the curve ``psi = 0`` is invariant with exponent 3 and
    not with Absil's 4: ``dpsi/ds`` on it is exactly 0 for k = 3 and exactly positive (equal
    to ``A_4 E``) for k = 4, at every sample ``r^2`` (exact rationals), and the Arb ball at
    the float ``sqrt`` of each sample agrees (k = 4: the ball lies above 0).
    """
    for r2 in r2s:
        d3, d4 = psi_drift(r2, 3, sphere=sphere), psi_drift(r2, 4, sphere=sphere)
        assert d3 == 0, f"LL-ERR 6: k = 3 drifts off psi = 0 at r^2 = {r2}: {d3}"
        assert d4 > 0, f"LL-ERR 6: k = 4 does not drift at r^2 = {r2}: {d4}"
        rf = float(np.sqrt(float(r2.p) / float(r2.q)))
        ball = psi_drift(arb(rf) * arb(rf), 4, sphere=sphere)
        assert ball > 0, f"LL-ERR 6: the k = 4 ball {ball} is not certified positive"
    return Slack("LL-ERR", 0.0, "psi = 0 invariant iff k = 3 (exact)", exercised=True)


# --- LL-ERR items 1-3 ------------------------------------------------------------------------


def check_ll_err_1(
    model: MarginModel,
    loss: Loss,
    gap_fn: Callable[[np.ndarray, Loss], float] = sandwich_gap,
) -> Slack:
    """LL-ERR items 1-2: the printed ``|gtil - gtil|`` is identically 0 (vacuous), while
    the intended ``gbar - gtil`` is positive and at most ``log n / rho^p`` (exponential
    loss; LL-SW), so it is the quantity that tends to 0.

    Allowance: ``sandwich_gap`` is an LSE of n terms, within ``gamma(2n + 4)`` relative of
    the exact gap; the bound ``log n`` is exact to one rounding.  Exercised when ``n >= 2``
    (else the gap is 0 and the two forms agree).  ``gap_fn`` replaces the sandwich
    (planted bugs of the controls).
    """
    gtil = smoothed_margin(model.q, model.rho, model.order, loss)
    printed = abs(gtil - gtil)
    gap = gap_fn(model.q, loss)
    n = model.q.size
    bound = np.log(n) * (1.0 + gamma(2 * n + 4))
    assert printed == 0.0, f"LL-ERR 1: |gtil - gtil| = {printed} is not 0"
    assert 0.0 <= gap <= bound, f"LL-ERR 1: rho^p (gbar - gtil) = {gap} not in [0, {bound}]"
    return Slack(
        "LL-ERR",
        float(gap / bound) if n >= 2 else None,
        f"printed 0, derived gap {gap / model.rho**model.order:.3g}",
        exercised=bool(n >= 2 and gap > 0.0),
    )


def err3_sides(model: MarginModel, loss: Loss) -> tuple[float, float, float]:
    """``(d log rho/dt, printed (1/p) log log(1/Lsum), derived (1/p) d/dt log log(1/Lsum))``,
    each divided by Lsum (the scaled clock; LL-ERR item 3; exponential loss).

    ``d log rho/dt = <theta, -grad Lsum>/rho^2 = p nu/rho^2`` and ``d/dt log log(1/Lsum) =
    ||grad Lsum||^2 / (Lsum log(1/Lsum))``.  The printed level is divided by Lsum too: the
    printed form compares a rate with a level, so no clock makes it right.
    """
    p, rho = model.order, model.rho
    log_l = log_loss_sum(model.q, loss)
    lhs = p * nu_over_loss(model.q, loss) / rho**2
    g = scaled_gradient(model, loss)
    derived = float(g @ g) / (-log_l) / p
    # the printed level log log(1/Lsum) is undefined (taken as -inf) before the threshold
    printed = float(np.log(-log_l)) / p / float(np.exp(log_l)) if log_l < 0.0 else -np.inf
    return lhs, printed, derived


def check_ll_err_3(model: MarginModel, loss: Loss) -> Slack:
    """LL-ERR item 3: past t0 ``d log rho/dt <= (1/p) d/dt log log(1/Lsum)`` (the rate form,
    LL-L5.1 for the exponential loss) holds, and the printed ``(1/p) log log(1/Lsum)``
    fails wherever ``e^{-1} < Lsum < 1`` (a negative level below a positive rate).

    Allowance of the derived form: ``gamma(4 D + 16)`` relative on each side (a Jacobian
    product, a norm, an LSE).  Exercised when ``Lsum`` is in ``(e^{-1}, 1)``.
    """
    lhs, printed, derived = err3_sides(model, loss)
    tol = gamma(4 * model.theta.size + 16) * (abs(lhs) + abs(derived))
    assert lhs <= derived + tol, f"LL-ERR 3: the rate form fails: {lhs} > {derived}"
    log_l = log_loss_sum(model.q, loss)
    return Slack(
        "LL-ERR",
        float(lhs / (derived + tol)),
        f"rate {lhs:.3g} <= derived {derived:.3g}; printed level {printed:.3g}",
        exercised=bool(-1.0 < log_l < 0.0 and lhs > printed),
    )


# --- LL-NEG ----------------------------------------------------------------------------------


def a4_gtil_nonpositive(model: MarginModel, loss: Loss) -> bool:
    """LL-NEG (not A4): ``gtil <= 0`` at this state: ``Lsum >= loss(0)``.  A misclassified
    point (``q_min < 0``) forces it, whatever the scale: ``Q <= q_min``."""
    return smoothed_margin(model.q, model.rho, model.order, loss) <= 0.0


def before_threshold(z: np.ndarray, W0: Sequence[np.ndarray], eta: float, steps: int) -> dict:
    """LL-NEG (not A4): a fixed-step GD run (exponential loss, ``eta`` on the sum) from a
    start that misclassifies a point: the first step with ``Lsum < 1`` (t0) and how
    ``gtil``, ``gbar`` moved before it."""
    series = gd_series(z, W0, eta, steps)
    gt, gb = series[:, 1], series[:, 2]
    below = np.nonzero(series[:, 0] < 0.0)[0]
    t0 = int(below[0]) if below.size else steps + 1
    pre_t, pre_b = gt[: max(t0, 1)], gb[: max(t0, 1)]
    return {
        "t0": t0,
        "gtil_max_before": float(pre_t.max()),
        "gtil_falls_before": float(np.sum(np.diff(pre_t) < 0)),
        "gbar_falls_before": float(np.sum(np.diff(pre_b) < 0)),
        "gbar_min_before": float(pre_b.min()),
    }


def biased_linear_margins(
    weights: Sequence[np.ndarray], b: float, x: np.ndarray, y: np.ndarray
) -> MarginModel:
    """A depth-L linear network with an output bias, ``q_i = y_i(<w_prod, x_i> + b)``
    (LL-NEG, not A2): the parameters are ``(W_1..W_L, b)``, the order is taken as L, and
    ``<theta, grad q_i> = L q_i - (L - 1) y_i b``: not homogeneous unless ``b = 0``."""
    y = np.asarray(y, dtype=np.float64)
    base = linear_network_margins(weights, y[:, None] * np.asarray(x, dtype=np.float64))
    return MarginModel(
        np.append(base.theta, b), base.q + y * b, np.hstack([base.jacobian, y[:, None]]), base.order
    )


def a2_breaks_euler(model: MarginModel, loss: Loss) -> bool:
    """LL-NEG (not A2): the Euler identity (LL-EQ1(b)) or eq. 6 (``<theta, -grad Lsum> =
    p nu``, scaled by Lsum) misses by more than its rounding allowance."""
    res, allowed = euler_residual(model)
    lhs = float(model.theta @ -scaled_gradient(model, loss))
    rhs = model.order * nu_over_loss(model.q, loss)
    scale = float(np.abs(model.theta) @ np.abs(scaled_gradient(model, loss))) + abs(rhs)
    return bool(res > allowed or abs(lhs - rhs) > gamma(model.theta.size + 32) * scale)


def rounding_allowance(values: np.ndarray, d_params: int) -> np.ndarray:
    """Rounding allowance of a per-iterate quantity of :func:`margins_along`:
    ``gamma(4 D + 16)`` relative (a product of layers, an LSE, a norm) per iterate."""
    return gamma(4 * d_params + 16) * (np.abs(values) + 1e-300)


def gd_series(z: np.ndarray, W0: Sequence[np.ndarray], eta: float, steps: int) -> np.ndarray:
    """``(log Lsum, gtil, gbar)`` along constant-step GD on the *summed* exponential loss,
    ``theta <- theta - eta Lsum (grad Lsum / Lsum)`` (LL-NEG), stopping early at the first
    step where ``Lsum`` rises (beyond it a large step can overflow)."""
    W = [np.asarray(M, dtype=np.float64) for M in W0]
    sizes = np.cumsum([M.size for M in W])[:-1]
    rows = []
    for _ in range(steps + 1):
        m = linear_network_margins(W, z)
        log_l = log_loss_sum(m.q, EXPONENTIAL)
        rows.append(
            (
                log_l,
                smoothed_margin(m.q, m.rho, m.order, EXPONENTIAL),
                normalized_margin(m.q, m.rho, m.order),
            )
        )
        if len(rows) > 1 and rows[-1][0] > rows[-2][0]:
            break
        step = eta * float(np.exp(log_l)) * scaled_gradient(m, EXPONENTIAL)
        W = [M - G.reshape(M.shape) for M, G in zip(W, np.split(step, sizes), strict=True)]
    return np.array(rows)


def s5_first_rise(
    z: np.ndarray, W0: Sequence[np.ndarray], eta: float, steps: int
) -> tuple[int, str] | None:
    """LL-NEG (not S5): the first step of a constant-step GD run (``eta`` on the summed
    loss, exponential loss) at which ``Lsum`` rises or ``gtil`` falls, past t0, by more
    than the rounding allowance of both iterates; None if there is none."""
    series = gd_series(z, W0, eta, steps)
    D = sum(np.asarray(W).size for W in W0)
    for t in range(len(series) - 1):
        if series[t, 0] >= 0.0:
            continue
        tol_l = rounding_allowance(series[t : t + 2, 0], D).sum()
        tol_g = rounding_allowance(series[t : t + 2, 1], D).sum()
        if series[t + 1, 0] > series[t, 0] + tol_l:
            return t, "Lsum"
        if series[t + 1, 1] < series[t, 1] - tol_g:
            return t, "gtil"
    return None


def gbar_falls_while_gtil_rises(
    z: np.ndarray, W0: Sequence[np.ndarray], eta: float, steps: int
) -> int | None:
    """LL-NEG (gbar not monotone): the first GD step past t0 (``Lsum < 1``) where ``gbar``
    falls and ``gtil`` rises, each beyond the rounding allowance; None if there is none.
    With one point (n = 1) ``gbar = gtil`` and the predicate says no."""
    series = gd_series(z, W0, eta, steps)
    D = sum(np.asarray(W).size for W in W0)
    for t in range(len(series) - 1):
        if series[t, 0] >= 0.0:
            continue
        tol_g = rounding_allowance(series[t : t + 2, 1], D).sum()
        tol_b = rounding_allowance(series[t : t + 2, 2], D).sum()
        if series[t + 1, 2] < series[t, 2] - tol_b and series[t + 1, 1] > series[t, 1] + tol_g:
            return t
    return None


def check_ll_neg(assumption: str, violated: bool, restored: bool) -> Slack:
    """LL-NEG: the violation of ``assumption`` breaks its claim (``violated``: the
    predicate said yes on the violating problem) and restoring it mends it (``restored``:
    the same predicate on the problem with the assumption restored must say no), so the
    break is the assumption's doing and not a predicate that always says yes."""
    assert violated, f"LL-NEG: violating {assumption} did not break its claim"
    assert not restored, f"LL-NEG: with {assumption} restored the predicate still says yes"
    return Slack("LL-NEG", None, f"not {assumption}: broken, mended when restored", exercised=True)


def check_ll_ti_1_reduction(
    a: float,
    psi: float,
    k: int,
    p: int,
    rates_fn: Callable[[float, float, int], mh.SphereRates] = mh.sphere_rates,
) -> Slack:
    """LL-TI.1's reduction: the chart velocity of :func:`~invariants.core.mexican_hat.
    sphere_rates` is the tangential part of ``grad h`` (of
    :func:`~invariants.core.mexican_hat.homogeneous_margin`) at the unit point ``(a, phi =
    a + psi)``, divided by ``E`` (``h = 1 - f`` there, so ``tangential grad h = -grad_S f``).

    Allowance: both sides compose the same polar partials (fewer than 64 flops each); the
    componentwise bound ``gamma(64)`` times the sum of the absolute values of the terms of
    ``f_r / E`` and ``f_phi / E``, carried by the chart's largest factor ``a' = 2 r a^2``.
    """
    phi = a + psi
    x = mh.sphere_point(a, phi)
    _, grad = mh.homogeneous_margin(x, p, k)
    E = float(np.exp(-a))
    tangential = (grad - float(x @ grad) * x)[:2] / E
    rates = rates_fn(a, psi, k)
    r = mh.radius_of(a)
    da = 2.0 * r * a * a
    dr = rates.da / da
    radial, angular = np.array([np.cos(phi), np.sin(phi)]), np.array([-np.sin(phi), np.cos(phi)])
    chart = dr * radial + r * rates.dphi * angular
    A = mh.coefficient(r, k)
    terms = da * (1.0 + 2.0 * A) + abs(mh.coefficient_derivative(r, k)) + A / r
    allowed = gamma(64) * terms * (1.0 + da)
    err = float(np.max(np.abs(tangential - chart)))
    assert err <= allowed, f"LL-TI.1: the reduced field misses grad h by {err:.3g} > {allowed:.3g}"
    return Slack("LL-TI.1", err / allowed, f"reduction error {err:.2g}", exercised=True)
