"""Assertions of the limit statements along one long gradient-flow trajectory.

Statements: S-T1, S-T2, S-FIG1a, S-FIG1b, S-L1 (and the Soudry offset, an
observation).  Each ``check_*`` takes trajectories that ran far into the
asymptotic regime (``||w_prod||`` to 1e12 or the float64 floor), asserts its
statement, and returns a :class:`~invariants.statements.Slack` (<= 1: held).

Theorems 1 and 2 are limits without rates.  A finite run shows them in two
ways, both falsifiable:

1. **Certified decay.**  The Lemma 2 quantities are bounded at every point by
   functions of ``||W_k||_F`` that go to 0 (eq. 8 over ``F_k (F_k + sigma_k)``,
   S-L2b, S-C1); they are asserted along the whole run, which reaches
   ``||w_prod|| >= 1e8``.
2. **Decay over the last decade.**  The direction statements (``sin
   angle(w_prod, ubar) -> 0``, ``|<v_1, ubar>| -> 1``, depth 1 and depth L
   agreeing) have no certified rate.  The check asks for a decay that no
   *fixed wrong limit* can produce: over the last tenfold growth of
   ``||w_prod||`` the sine must shrink at least ``sqrt(10)``-fold, a log-log
   slope of at most ``-1/2``.  Towards a wrong direction at angle alpha the
   sine tends to ``sin alpha > 0`` and the slope to 0; the law measured on
   every run (recorded; docs/numerics.md, "Asymptotic laws seen") is -1.  The threshold -1/2 is the
   midpoint, half a unit from either.  Rounding is far below it: at
   ``||w_prod|| = 1e12`` the perpendicular part (order one) is resolved to
   ``eps ||w_prod|| ~ 2e-4`` relative, so a sine ratio is accurate to 1e-3.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from invariants.core import bounds, limits
from invariants.core import network as net
from invariants.core.data import Dataset, make_dataset
from invariants.core.maxmargin import MaxMargin, perp
from invariants.core.rounding import EPS, deficit_rounding, perp_rounding_bound, slack_ratio
from invariants.dynamics import flow
from invariants.statements import Slack
from properties.ji_telgarsky_2019.claims import Observation, collect, section2_flow

#: "The risk goes to 0": log R below this at the end of the run (the issue's level).
MAX_FINAL_LOG_RISK = -1e3
#: "Far into the asymptotic regime": ``||w_prod||`` at least this at the end.
MIN_FINAL_WPROD = 1e8
#: Balls B(R) in which S-L1's smallest gradient after t = 1 is recorded.
L1_RADII = (2.0, 10.0, 100.0)
#: Over the last decade of ``||w_prod||``, a converging sine shrinks at least this much.
DECADE_SHRINK = 10.0**-0.5


#: Run until ``||w_prod||`` reaches this (or the float64 floor stops the run first).
MAX_WPROD = 1e12
#: Checkpoint spacing of the lognorm clock at depth 4: about 6 checkpoints per
#: decade of ``||w_prod||`` (one decade is ``ln(10)/L`` of s).
DS = 0.1


def long_flow(z: np.ndarray, weights, loss) -> flow.Trajectory:
    """One flow far into the asymptotic regime (no Frobenius cap; ``||w_prod||`` to 1e12).

    Checkpoints every ``ln(10) / (6 L)`` of the lognorm clock (at most 0.25):
    about six per decade of ``||w_prod||`` at every depth, enough for the
    decade-based checks and the fitted slopes.
    """
    ds = min(0.25, math.log(10.0) / (6 * len(weights)))
    return flow.gradient_flow(z, weights, loss, max_frobenius=np.inf, max_wprod=MAX_WPROD, ds=ds)


def figure1_data() -> Dataset:
    """The 2-D data of the Fig. 1 runs: 12 points, A3 holds (two support vectors span R^2)."""
    rng = np.random.default_rng(2019)
    u = np.array([np.cos(0.6), np.sin(0.6)])
    perp = np.array([-u[1], u[0]])
    gamma = 0.2
    support = np.array([gamma * u + 0.5 * perp, gamma * u - 0.3 * perp])
    g = rng.uniform(gamma + 0.1, 0.8, size=10)
    r = rng.uniform(-1.0, 1.0, size=10) * np.sqrt(1 - g**2) * 0.9
    z = np.vstack([support, g[:, None] * u + r[:, None] * perp])
    y = np.where(rng.random(12) < 0.5, -1.0, 1.0)
    return make_dataset(y[:, None] * z, y)


@dataclass(frozen=True)
class Decay:
    """A sine at the end of the run and one decade of ``||w_prod||`` earlier."""

    start: float
    end: float
    slope: float  # least-squares log-log slope over the last decade (an observation)
    resolved: bool = True  # the decade's start stood above its error bar

    @property
    def ratio(self) -> float:
        """``(end / start) / 10^{-1/2}``: <= 1 iff the log-log slope is <= -1/2."""
        if self.start == 0:
            return 0.0 if self.end == 0 else math.inf
        return (self.end / self.start) / DECADE_SHRINK


def _norms(tr: flow.Trajectory) -> np.ndarray:
    return np.linalg.norm(limits.wprod_path([c.weights for c in tr.checkpoints]), axis=1)


def _last_decade(tr: flow.Trajectory, statement: str) -> int:
    nw = _norms(tr)
    j = limits.decade_before(nw)
    assert nw[j] <= nw[-1] / 10, (
        f"{statement}: the run grew ||w_prod|| from {nw[0]:.3g} to {nw[-1]:.3g}, less than "
        "one decade; nothing can be said about a limit"
    )
    return j


def _decay(norms: np.ndarray, sines: np.ndarray, j: int) -> Decay:
    slope, _ = limits.decay_slope(norms[j:], sines[j:])
    start, end = float(sines[j]), float(sines[-1])
    if not (np.isfinite(start) and np.isfinite(end)):
        raise AssertionError(f"undefined direction at the decade's ends (sines {start}, {end})")
    return Decay(start, end, slope)


# --- S-T1 -------------------------------------------------------------------------------------


def reach_ratios(final_log_risk: float, final_wprod: float) -> dict[str, float]:
    """Slack of S-T1's reach: ``-1e3 / log R`` and ``8 / log10 ||w_prod||`` (<= 1: reached)."""
    return {
        "log R": MAX_FINAL_LOG_RISK / final_log_risk if final_log_risk < 0 else math.inf,
        "||w_prod||": math.log10(MIN_FINAL_WPROD) / math.log10(max(final_wprod, 1.0 + 1e-15)),
    }


def check_reach(final_log_risk: float, final_wprod: float) -> dict[str, float]:
    """S-T1's limits in a finite run: ``log R <= -1e3`` and ``||w_prod|| >= 1e8`` at the end.

    Takes plain numbers so that flow and GD runs (and the S-A2b control) share it.
    """
    problems = []
    if not final_log_risk <= MAX_FINAL_LOG_RISK:
        problems.append(f"the risk did not go to 0: log R = {final_log_risk:.6g} > -1e3 at the end")
    if not final_wprod >= MIN_FINAL_WPROD:
        problems.append(f"||w_prod|| = {final_wprod:.3g} < 1e8 at the end: the run did not go far")
    assert not problems, "S-T1: " + "; ".join(problems)
    return reach_ratios(final_log_risk, final_wprod)


def t1_power_rounding(L: int, dmax: int) -> float:
    """``(L + 2 d_max) eps``: relative rounding of ``||w_prod||^(2/L)`` and the squared
    Frobenius norms compared with it in S-T1 (a product of L layers, norms of up to
    ``d_max``-wide layers)."""
    return (L + 2 * dmax) * EPS


def check_s_t1(tr: flow.Trajectory) -> Slack:
    """S-T1: risk -> 0, every ``||W_k||_F -> inf``, the layers align, ``||w_prod|| -> inf``.

    * risk: ``log R <= -1e3`` at the end;
    * ``||w_prod|| >= 1e8`` at the end (the run reached the asymptotic regime);
    * every layer grows: ``||W_k||_F`` rose over the last decade of
      ``||w_prod||``, and quantitatively ``min_k ||W_k||_F^2 >= ||w_prod||^{2/L}
      - Delta - charge``, because ``||w_prod|| <= prod_k ||W_k||_F <=
      max_k ||W_k||_F^L`` and, by S-EQ3, the squared norms keep their initial
      differences (spread ``Delta``) up to the eq. 2 drift charge
      ``sum_k (1 + sqrt(d_k)) drift_bound_k``; the computed powers and norms
      carry a relative rounding below ``(L + 2 d_max) eps``, charged too (the
      inequality becomes an equality in the limit, so it is not counted as slack);
    * alignment: the S-L2a, S-L2b and S-C1 bounds hold at every checkpoint of
      this long run (their right-hand sides decay like ``||W_k||_F^{-2}``,
      which is what makes them limit statements).
    """
    cps = tr.checkpoints
    final = cps[-1]
    nw = _norms(tr)
    L = len(final.weights)
    problems: list[str] = []
    ratios = reach_ratios(final.log_risk, nw[-1])
    try:
        check_reach(final.log_risk, nw[-1])
    except AssertionError as exc:
        problems.append(str(exc).removeprefix("S-T1: "))
    f2 = np.array([bounds.frobenius_sq(c.weights) for c in cps])
    j = limits.decade_before(nw)
    if not np.all(f2[-1] > f2[j]):
        problems.append(
            f"some ||W_k||_F did not grow over the last decade: {np.sqrt(f2[j])} -> "
            f"{np.sqrt(f2[-1])}"
        )
    shapes = [W.shape for W in final.weights]
    charge = float(np.sum(section2_flow._eq2_charge(final, shapes))) if L > 1 else 0.0
    delta = float(np.ptp(f2[0]))
    dmax = max(max(s) for s in shapes)
    lower = nw[-1] ** (2.0 / L) * (1 - t1_power_rounding(L, dmax)) - delta - charge
    # Not a slack: ||w_prod|| <= prod_k ||W_k||_F is attained in the limit (that is the
    # alignment), so this ratio tends to 1 by design and says nothing about the margin.
    if np.min(f2[-1]) < lower:
        problems.append(
            f"min_k ||W_k||_F^2 = {np.min(f2[-1]):.6g} < ||w_prod||^(2/L) - Delta - charge = "
            f"{lower:.6g}"
        )
    for check in (section2_flow.check_s_l2a, section2_flow.check_s_l2b, section2_flow.check_s_c1):
        try:
            s = check(tr)
            ratios[s.statement] = s.ratio
        except AssertionError as exc:
            problems.append(str(exc))
    worst = max(ratios, key=lambda k: ratios[k])
    assert not problems, "S-T1: " + "; ".join(problems)
    # Exercised on every run: the reach inequalities (log R <= -1e3, ||w_prod|| >= 1e8) and
    # the growth of every layer are asserted on the run's end, and a flow that stalled,
    # shrank a layer or stopped short fails them.
    return Slack("S-T1", ratios[worst], f"worst part: {worst}", exercised=True)


# --- S-T2 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class T2Measure:
    """What S-T2 measured on one run (the decays feed the 'measured laws' of the report)."""

    slack: Slack
    wprod: Decay
    v1: Decay
    norms: np.ndarray
    sines: np.ndarray


def sine_floor(d: int) -> float:
    """``8 (d + 2) eps``: the smallest sine :func:`~invariants.core.maxmargin.perp` resolves
    (S-T2; a unit vector's perpendicular part is computed to ``(d + 2) eps``, and
    :func:`~invariants.core.lemma4.perp_gradient_sign` treats ``4 (d + 2) eps`` as parallel)."""
    return 8 * (d + 2) * EPS


def check_s_t2(tr: flow.Trajectory, mm: MaxMargin) -> T2Measure:
    """S-T2: ``w_prod / ||w_prod|| -> ubar`` with the right sign, and ``|<v_1, ubar>| -> 1``.

    * sign: at the end ``<w_prod, ubar> > 0`` and every margin ``<w_prod, z_i> > 0``
      (the sign that classifies the data correctly);
    * ``sin angle(w_prod, ubar)`` shrinks at least ``sqrt(10)``-fold over the
      last decade of ``||w_prod||`` (module docstring), measured with the sine,
      never ``1 - cos``;
    * the same for ``sin angle(v_1, ubar)``, i.e. ``|<v_1, ubar>| -> 1``.
    """
    j = _last_decade(tr, "S-T2")
    W = [c.weights for c in tr.checkpoints]
    wp = limits.wprod_path(W)
    nw = np.linalg.norm(wp, axis=1)
    sines = limits.path_sines(wp, mm.ubar)
    v1 = np.array([limits.top_right_singular_vector(w[0]) for w in W])
    sines_v1 = limits.path_sines(v1, mm.ubar)
    dw, dv = _decay(nw, sines, j), _decay(nw, sines_v1, j)
    problems = []
    margins = tr.z @ wp[-1]
    if not (wp[-1] @ mm.ubar > 0 and np.min(margins) > 0):
        problems.append(
            f"wrong sign: <w_prod, ubar> = {wp[-1] @ mm.ubar:.3g}, min margin {np.min(margins):.3g}"
        )
    floor = sine_floor(tr.z.shape[1])
    for name, dec in (("sin(w_prod, ubar)", dw), ("sin(v_1, ubar)", dv)):
        if dec.end > max(DECADE_SHRINK * dec.start, floor):
            problems.append(
                f"{name} fell only from {dec.start:.3e} to {dec.end:.3e} over the last decade "
                f"of ||w_prod|| ({nw[j]:.3g} -> {nw[-1]:.3g}; log-log slope {dec.slope:.3f}, "
                "needs <= -1/2)"
            )
    assert not problems, "S-T2: " + "; ".join(problems)
    ratio = max(dec.end / max(DECADE_SHRINK * dec.start, floor) for dec in (dw, dv))
    # Exercised: the decade's start was resolved, ``sin / sqrt(10)`` above the floor, so a
    # sine that did not shrink would have failed; below it the check passes on rounding.
    slack = Slack(
        "S-T2",
        ratio,
        f"slope w_prod {dw.slope:.3f}, v_1 {dv.slope:.3f}",
        exercised=bool(DECADE_SHRINK * dw.start > floor),
        measures={"decay_ratio": dw.end / dw.start if dw.start > 0 else 0.0},
    )
    return T2Measure(slack, dw, dv, nw, sines)


# --- S-FIG1a ------------------------------------------------------------------------------------


def _perp_track(tr: flow.Trajectory, ubar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(log ||w_prod||, q)`` along a run, ``q`` the part of w_prod orthogonal to ubar."""
    wp = limits.wprod_path([c.weights for c in tr.checkpoints])
    nw = np.linalg.norm(wp, axis=1)
    keep = nw > 0
    return np.log(nw[keep]), perp(wp[keep], ubar)


def _q_at(x: np.ndarray, q: np.ndarray, at: float) -> np.ndarray:
    """``q`` at ``log ||w_prod|| = at``, linear in ``log ||w_prod||`` between checkpoints.

    ``q`` converges (to Soudry's offset), so it is smooth and slowly varying in
    ``log ||w_prod||``; linear interpolation over one checkpoint interval
    (about a sixth of a decade) is accurate to second order.
    """
    return np.array([np.interp(at, x, q[:, j]) for j in range(q.shape[1])])


def q_interp_error(x: np.ndarray, q: np.ndarray, at: float) -> float:
    """Estimated error of :func:`_q_at` at ``at``: ``(at - x_j)(x_{j+1} - at) / 2 max ||q''||``.

    The classical remainder of linear interpolation on ``[x_j, x_{j+1}]``,
    with ``q''`` estimated by twice the second divided differences of the
    checkpoints on either side of the interval (the larger of the two).  Zero
    at a checkpoint.  Needed because ``D`` compares two runs that both
    approach one offset: their interpolation errors scale with each run's own
    distance from the offset, which can exceed the distance between them
    (a stress example: ``D`` spiked to 1e-11 between checkpoints where it was
    3e-13 on both sides).
    """
    j = int(np.clip(np.searchsorted(x, at) - 1, 0, x.size - 2))
    span = (at - x[j]) * (x[j + 1] - at) / 2.0
    if span <= 0 or x.size < 3:
        return 0.0
    second = []
    for a in (j - 1, j):
        if 0 <= a and a + 2 < x.size:
            d1 = (q[a + 1] - q[a]) / (x[a + 1] - x[a])
            d2 = (q[a + 2] - q[a + 1]) / (x[a + 2] - x[a + 1])
            second.append(float(np.linalg.norm(2.0 * (d2 - d1) / (x[a + 2] - x[a]))))
    return span * max(second, default=0.0)


def fig1a_floor(deep: flow.Trajectory) -> float:
    """Resolution of ``D(N)``, the sine between the two runs at equal ``||w_prod|| = N``.

    Each run's ``w_perp`` carries the rounding of the product of its L layers of width
    <= w and of :func:`perp`, at most
    :func:`~invariants.core.rounding.perp_rounding_bound` ``(L w + d + 4) eps`` times
    ``N`` (the deeper run's shapes bound the shallower's), so the difference of the two
    perpendicular parts divided by N is resolved to twice that.  The solver's noise is
    added separately (:func:`integrator_floor`).
    """
    shapes = [W.shape for W in deep.initial]
    width = max(max(s) for s in shapes)
    d = shapes[0][1]
    return 2 * perp_rounding_bound(len(shapes), width, d)


def integrator_floor(*runs: flow.Trajectory) -> float:
    """The largest relative tolerance the solver ran at in any of ``runs`` (S-FIG1a's noise).

    The solver's error test keeps each step's local error below ``rtol`` times
    the state, so each checkpoint's direction carries a relative error of
    order ``rtol``; it does not build up across the run because the direction
    is attracted to its limit (S-T2), which damps transverse errors.  A
    stress example showed ``D`` wandering between 3e-13 and 1e-11 at rtol =
    1e-10 once the true ``D`` had fallen below that level.
    """
    return max(max([r.rtol, *(rt for _, rt in r.escalations)]) for r in runs)


def latest_resolved_decade(
    lo: float, hi: float, D: Callable[[float], float], E: Callable[[float], float]
) -> float | None:
    """End (in ``log ||w_prod||``) of the latest decade in ``[lo, hi]`` whose start is resolved.

    Steps back from ``hi`` by half a decade until ``D(end - ln 10) >= 2 E(end - ln 10)``
    (S-FIG1a, :func:`check_s_fig1a`); None when no decade inside ``[lo, hi]`` starts
    resolved.
    """
    decade = math.log(10.0)
    end = hi
    while end - decade >= lo and D(end - decade) < 2 * E(end - decade):
        end -= 0.5 * decade
    return None if end - decade < lo else end


def check_s_fig1a(shallow: flow.Trajectory, deep: flow.Trajectory, ubar: np.ndarray) -> Decay:
    """S-FIG1a: depth 1 and depth L on the same data converge to the same direction (ubar).

    Compared at equal ``||w_prod|| = N``: writing ``w = a ubar + q`` with
    ``q perp ubar``, the sine between the two runs' directions at norm N is
    ``D(N) = ||q_1(N) - q_L(N)|| / N`` to first order (the parallel parts differ
    by ``O(|q|^2 / N^2)``); ``q`` is interpolated in ``log N`` (:func:`_q_at`).
    Both runs approach one perpendicular offset (Soudry's), so ``D`` falls
    faster than ``1/N`` and soon reaches the noise of the computation.  Its
    error bar ``E(N)`` is the float64 resolution (:func:`fig1a_floor`), plus
    the solver's tolerance (:func:`integrator_floor`), plus both runs'
    interpolation errors (:func:`q_interp_error`).

    The check takes the *latest* decade ``[N/10, N]`` of the shared range
    (half-decade steps back from the end) whose start is resolved,
    ``D(N/10) >= 2 E(N/10)``, and asks, as for S-T2, that ``D`` shrink at least
    ``sqrt(10)``-fold over it, error bars included: ``D(N) - E(N) <=
    (D(N/10) + E(N/10)) / sqrt(10)`` (the returned Decay holds both sides).
    The factor 2 is what keeps the check's power: a ``D`` that does not fall
    at all passes only if ``D - E <= (D + E)/sqrt(10)``, i.e. ``D <= 1.92 E``.
    If no decade is resolved, the two runs agree to within their error bars
    over the whole shared range, and that is asserted instead.
    """
    x1, q1 = _perp_track(shallow, ubar)
    xL, qL = _perp_track(deep, ubar)
    lo, hi = max(x1[0], xL[0]), min(x1[-1], xL[-1])
    assert hi - lo >= math.log(10.0), (
        "S-FIG1a: the runs do not share a decade of ||w_prod|| to compare on"
    )
    noise = fig1a_floor(deep) + integrator_floor(shallow, deep)

    def D(x: float) -> float:
        return float(np.linalg.norm(_q_at(x1, q1, x) - _q_at(xL, qL, x))) / math.exp(x)

    def E(x: float) -> float:
        interp = q_interp_error(x1, q1, x) + q_interp_error(xL, qL, x)
        return noise + interp / math.exp(x)

    decade = math.log(10.0)
    end = latest_resolved_decade(lo, hi, D, E)
    L = len(deep.final.weights)
    if end is None:
        grid = np.linspace(lo, hi, 20)
        worst = max(D(x) / E(x) for x in grid)
        assert worst <= 2, (
            f"S-FIG1a: no resolved decade, yet the runs differ by {worst:.3g} error bars"
        )
        return Decay(worst, worst, float("nan"), resolved=False)
    d_start, d_end = D(end - decade), D(end)
    dec = Decay(d_start + E(end - decade), max(d_end - E(end), 0.0), float("nan"))
    assert dec.ratio <= 1, (
        f"S-FIG1a: depth 1 and depth {L} do not converge to one direction: at equal "
        f"||w_prod|| the sine between them went {d_start:.3e} -> {d_end:.3e} over the decade "
        f"ending at {math.exp(end):.3g} (error bars {E(end - decade):.1e}, {E(end):.1e})"
    )
    return dec


def fig1a_slack(dec: Decay) -> Slack:
    """The S-FIG1a record of :func:`check_s_fig1a`'s result.

    Exercised when a decade was resolved (its start ``D >= 2 E``): the sqrt(10)-fold
    shrink was then asserted with a ratio ``Decay.ratio``.  Otherwise the runs were only
    shown to agree within 2 error bars over the shared range (ratio ``worst / 2``), a
    limit the computation cannot resolve: not exercised.
    """
    if dec.resolved:
        return Slack("S-FIG1a", dec.ratio, f"{dec.start:.3g} -> {dec.end:.3g}", exercised=True)
    return Slack(
        "S-FIG1a", dec.end / 2, f"no resolved decade: {dec.end:.3g} error bars", exercised=False
    )


# --- S-FIG1b ------------------------------------------------------------------------------------


def alignment_gaps(weights: net.Weights) -> np.ndarray:
    """``1 - ||W_k||_2 / ||W_k||_F`` per layer, as ``deficit / (F (F + sigma))`` (S-FIG1b).

    The rank deficit ``F^2 - sigma^2`` is the tail sum of squared singular
    values, so the gap keeps full relative accuracy when it is far below eps.
    """
    out = []
    for W in weights:
        f = float(np.linalg.norm(W))
        s = bounds.singular_values(W)[0]
        out.append(bounds.rank_deficit(W) / (f * (f + s)) if f > 0 else 1.0)
    return np.array(out)


def alignment_gap_law(
    fro: np.ndarray, gaps: np.ndarray, deficit_roundings: np.ndarray
) -> float | None:
    """The log-log slope of a layer's alignment gap against ``||W_k||_F`` (S-FIG1b's law).

    Measured over the last decade of ``||W_k||_F`` (:func:`invariants.core.limits.decay_slope`)
    and only where the gap is resolved there: at every point from the decade's start
    on, the gap stays 100 times above the rounding of the rank deficit divided by
    ``F^2`` (balanced inits have D = 0 and a gap of pure noise).  None otherwise.
    """
    slope, _ = limits.decay_slope(fro, gaps)
    j = limits.decade_before(fro)
    resolved = bool(np.all(gaps[j:] > 100 * deficit_roundings[j:] / fro[j:] ** 2))
    return slope if np.isfinite(slope) and resolved else None


def check_s_fig1b(tr: flow.Trajectory) -> Slack:
    """S-FIG1b: ``||W_k||_2 / ||W_k||_F -> 1`` for each layer while the risk goes to 0.

    At every checkpoint where ``log R <= -1e3`` (the risk has gone to 0 for
    every practical purpose), each layer's gap ``1 - sigma_k/F_k`` is at most
    ``(eq8_k + charge_k + rounding_k) / (F_k (F_k + sigma_k))`` -- eq. 8 of
    S-L2a divided through, with the eq. 2 drift and SVD rounding charges of
    :func:`properties.ji_telgarsky_2019.claims.section2_flow.check_s_l2a` -- a bound that decays
    like
    ``F_k^{-2}``.  There must be such checkpoints.
    """
    eq8 = bounds.eq8_bounds(tr.initial)
    shapes = [W.shape for W in tr.initial]
    tail = [c for c in tr.checkpoints if c.log_risk <= MAX_FINAL_LOG_RISK]
    assert tail, (
        f"S-FIG1b: the risk never went below exp(-1e3) (final log R = {tr.final.log_risk:.6g})"
    )
    worst, exercised = 0.0, False
    for c in tail:
        gaps = alignment_gaps(c.weights)
        charge = np.zeros(len(shapes))
        if len(shapes) > 1:
            ch = section2_flow._eq2_charge(c, shapes)
            charge[:-1] += ch
            charge[1:] += ch
        for k, W in enumerate(c.weights):
            f = float(np.linalg.norm(W))
            s = bounds.singular_values(W)[0]
            allowed = (max(eq8[k], 0.0) + charge[k] + deficit_rounding(W)) / (f * (f + s))
            r = slack_ratio(gaps[k], allowed)
            assert r <= 1, (
                f"S-FIG1b: layer {k + 1} at log R = {c.log_risk:.4g}: 1 - sigma/F = {gaps[k]:.3e} "
                f"> {allowed:.3e} (eq. 8 / F(F + sigma))"
            )
            worst = max(worst, r)
            # Exercised: the allowance is below the largest gap a layer of this shape can
            # have, 1 - 1/sqrt(min shape) (all singular values equal); a vector layer's gap
            # is identically 0 and bounds nothing.
            exercised |= allowed < 1.0 - 1.0 / math.sqrt(min(W.shape))
    return Slack(
        "S-FIG1b", worst, f"{len(tail)} checkpoints with log R <= -1e3", exercised=exercised
    )


# --- S-L1 -----------------------------------------------------------------------------------------


def l1_log_tolerance(n: int, d: int, log_risk: float, log_grad: float) -> float:
    """Absolute rounding allowance of S-L1's ``log ||dR/dW_1||_F >= log eps(R)``.

    ``(n + d + 2) eps (|log R| + |log ||dR/dW_1|||| + log n + 1)``: the log-domain
    evaluation sums n terms of size up to the largest ``|log |loss'||`` (at most
    ``|log R| + log n``), then a d-term norm; each operation errs by eps of its operands.
    """
    return (n + d + 2) * EPS * (abs(log_risk) + abs(log_grad) + math.log(n) + 1)


def check_s_l1(tr: flow.Trajectory, mm: MaxMargin) -> tuple[Slack, float]:
    """S-L1: after t = 1, inside B(R), ``||dR/dW_1||_F >= eps(R) > 0``; max_k ||W_k||_F unbounded.

    Let ``t_a`` be the first checkpoint with physical time ``t >= 1``.  Lemma 1's
    proof needs ``R(W(t_a)) < R(0) = loss(0)``: A2 makes the gradient nonzero
    at the start, so S-EQ1 lowers the risk strictly.  That is asserted first
    (it fails when A2 does, S-A2b).  Then at every checkpoint from ``t_a`` on,
    with ``R = max_k ||W_k||_F`` there (the smallest ball holding it), the
    measured ``log ||dR/dW_1||_F`` (:func:`invariants.core.limits.layer1_gradient_log_norm`)
    must be at least ``log eps(R)`` of :func:`invariants.core.limits.l1_gradient_floor`
    with ``R(W(t_a))`` in place of ``R(W(1))`` (the proof holds from any
    ``t_a > 0``; the risk only falls after it).
    Tolerance: the log-domain evaluation sums n terms of size up to
    ``|log scale|`` (the largest ``log |loss'|``), so its absolute error is
    below ``(n + d + 2) eps (|log R| + |log ||dR/dW_1|||| + log n + 1)``; charged in log space.
    Unboundedness: ``max_k ||W_k||_F`` rose over the last decade of the run (S-T1
    asserts the reach).

    Returns the slack and, for each radius ``r0`` of :data:`L1_RADII`, the
    smallest ``log10 ||dR/dW_1||_F`` seen after t = 1 inside ``B(r0)`` (the
    empirical eps(r0) the issue asks to record).
    """
    cps = tr.checkpoints
    n, d = tr.z.shape
    L = len(tr.initial)
    after = [c for c in cps if c.log_time >= 0]
    assert after, "S-L1: the run never reached t = 1"
    log_r0 = float(np.log(tr.loss.value(0.0)))
    log_ra = after[0].log_risk
    assert log_ra < log_r0, (
        f"S-L1: at t = exp({after[0].log_time:.4g}) >= 1 the risk is not below R(0): log R = "
        f"{log_ra:.6g} >= log loss(0) = {log_r0:.6g}; without that there is no eps(R) > 0 "
        "(A2 fails?)"
    )
    worst = 0.0
    smallest = {r0: math.inf for r0 in L1_RADII}  # min log ||dR/dW_1||_F inside B(r0), t >= 1
    for c in after:
        radius = float(np.sqrt(np.max(bounds.frobenius_sq(c.weights))))
        log_eps = limits.l1_gradient_floor(tr.loss, n, mm.gamma, radius, L, log_ra)
        obs = limits.layer1_gradient_log_norm(c.weights, tr.z, tr.loss)
        tol = l1_log_tolerance(n, d, c.log_risk, obs)
        assert obs >= log_eps - tol, (
            f"S-L1: at t = exp({c.log_time:.4g}), R = {radius:.4g}: log ||dR/dW_1||_F = {obs:.6g} "
            f"< log eps(R) = {log_eps:.6g}"
        )
        worst = max(worst, math.exp(min(log_eps - obs, 700.0)))
        for r0 in L1_RADII:
            if radius <= r0:
                smallest[r0] = min(smallest[r0], obs)
    mf = tr.max_frobenius()
    j = limits.decade_before(_norms(tr))
    assert mf[-1] > mf[j], f"S-L1: max_k ||W_k||_F stopped growing ({mf[j]:.4g} -> {mf[-1]:.4g})"
    floors = {
        f"log10 min ||dR/dW_1|| in B({r0:g})": v / math.log(10.0)
        for r0, v in smallest.items()
        if math.isfinite(v)
    }
    # Exercised: eps(R) > 0 is a finite lower bound asserted at every checkpoint after t = 1
    # (there are some: asserted above); a gradient that vanished would fail it.
    return Slack("S-L1", worst, f"{len(after)} checkpoints after t = 1", exercised=True), floors


# --- beyond the paper: Soudry et al.'s offset ----------------------------------------------


def soudry_measure(tr: flow.Trajectory, mm: MaxMargin) -> dict[str, float]:
    """Distance of ``w_prod``'s perpendicular part from Soudry's predicted offset (observation).

    Returns the relative error at the end, its minimum over the run and the
    ``log10 ||w_prod||`` where the minimum occurred (rounding grows like
    ``eps ||w_prod||``, so the minimum sits before the end).
    """
    p = limits.soudry_offset(tr.z, mm)
    wp = limits.wprod_path([c.weights for c in tr.checkpoints])
    nw = np.linalg.norm(wp, axis=1)
    errs = np.array([limits.offset_error(w, mm.ubar, p) for w in wp])
    k = int(np.argmin(errs))
    return {
        "rel_error_end": float(errs[-1]),
        "rel_error_min": float(errs[k]),
        "log10_wprod_at_min": float(np.log10(nw[k])),
        "depth": float(len(tr.initial)),
    }


def angle_series(tr: flow.Trajectory, mm: MaxMargin, points: int = 60) -> dict[str, list[float]]:
    """The angle-decay curve of one run (S-T2), thinned to at most ``points`` checkpoints."""
    wp = limits.wprod_path([c.weights for c in tr.checkpoints])
    nw = np.linalg.norm(wp, axis=1)
    sn = limits.path_sines(wp, mm.ubar)
    keep = np.unique(np.linspace(0, len(nw) - 1, points).astype(int))
    keep = keep[np.nan_to_num(sn[keep]) > 0]
    return {"log10_wprod": np.log10(nw[keep]).tolist(), "log10_sin": np.log10(sn[keep]).tolist()}


def alignment_gap_observation(tr: flow.Trajectory) -> Observation | None:
    """The measured law ``1 - ||W_k||_2^2 / ||W_k||_F^2 ~ ||W_k||_F^slope`` (beside S-FIG1b).

    Taken on the least aligned layer at the end of the run, with each checkpoint's gap
    resolved against the rounding of its rank deficit (:func:`alignment_gap_law`);
    ``None`` at depth 1 (no layer to align) or when no stretch of the run is resolved.
    """
    gaps = np.array([alignment_gaps(c.weights) for c in tr.checkpoints])
    if gaps.shape[1] < 2:
        return None
    f = np.sqrt(np.array([[np.vdot(W, W) for W in c.weights] for c in tr.checkpoints]))
    k = int(np.argmax(gaps[-1]))
    rounding = np.array([deficit_rounding(c.weights[k]) for c in tr.checkpoints])
    slope = alignment_gap_law(f[:, k], gaps[:, k], rounding)
    if slope is None:
        return None
    keep = (gaps[:, k] > 0) & (f[:, k] > 0)
    series = {
        "log10_frobenius": np.log10(f[keep, k]).tolist(),
        "log10_gap": np.log10(gaps[keep, k]).tolist(),
    }
    measures = {"slope": slope, "depth": float(gaps.shape[1])}
    return Observation("alignment_gap_decay", "S-FIG1b", measures, series)


def flow_health(tr: flow.Trajectory) -> Observation:
    """How far and how cleanly one long run went (drift, final ``||w_prod||``, steps)."""
    final = float(np.log10(np.linalg.norm(limits.wprod_path([tr.final.weights]))))
    measures = {
        "max_drift_rel": tr.max_drift_rel,
        "log10_wprod_final": final,
        "steps": tr.work.steps,
        "depth": float(len(tr.initial)),
    }
    return Observation("flow_health", "S-T1", measures)


@dataclass(frozen=True)
class LimitsRun:
    """The verdicts of one long run: what passed, the laws measured, and every failure."""

    slacks: list[Slack]
    observations: list[Observation]
    failures: list[str]


def check_limits(tr: flow.Trajectory, mm: MaxMargin) -> LimitsRun:
    """S-T1, S-T2, S-L1 and S-FIG1b on one long run, plus the measured laws.

    Every check runs (:func:`collect`).  S-FIG1b is about the layers of a deep network:
    at depth 1 the only layer is a vector whose ``||W||_2 / ||W||_F`` is identically 1,
    so it is checked on deep runs only (on the depth-1 run of each pair it could fail
    nothing).
    """
    checks: dict[str, Callable] = {"S-T1": lambda: check_s_t1(tr)}
    if len(tr.initial) > 1:
        checks["S-FIG1b"] = lambda: check_s_fig1b(tr)
    checks["S-T2"] = lambda: check_s_t2(tr, mm)
    checks["S-L1"] = lambda: check_s_l1(tr, mm)
    done, failures = collect(checks)
    slacks = [done[sid] for sid in ("S-T1", "S-FIG1b") if sid in done]
    observations = []
    if "S-T2" in done:
        t2 = done["S-T2"]
        slacks.append(t2.slack)
        slopes = {"slope": t2.wprod.slope, "slope_v1": t2.v1.slope, "depth": float(len(tr.initial))}
        observations.append(Observation("angle_decay", "S-T2", slopes, angle_series(tr, mm)))
    if "S-L1" in done:
        slack, floors = done["S-L1"]
        slacks.append(slack)
        if floors:
            observations.append(Observation("s_l1_gradient_floor", "S-L1", floors))
    gap = alignment_gap_observation(tr)
    observations += [o for o in (gap, flow_health(tr)) if o is not None]
    observations.append(Observation("soudry_offset", "S-T2", soudry_measure(tr, mm)))
    return LimitsRun(slacks, observations, failures)
