"""The second paper's gradient-flow theorems, asserted along one deep-linear flow (and
LL-T4.1 also along one bias-free ReLU network's flow, :class:`ReluRun`).

Statements: LL-T4.1, LL-LB.6, LL-T4.3, LL-LC.9, LL-LC.11, LL-TA.9, LL-DL3 (and the
``alignment_and_margin`` observation, where the two papers meet).

One trajectory of :func:`invariants.dynamics.flow.gradient_flow` (mean risk, lognorm
clock) is read once into a :class:`FlowRun`: at every checkpoint the margins (a
:class:`~invariants.core.homogeneous.MarginModel`), ``S = log(1/Lsum)``, ``Q``, ``gtil``,
``gbar``, the physical time of the summed loss ``t = t_R / n`` with its stated error, and
the integrator's error ``E`` (``local_error``: the running sum of the per-step local error
bounds on the weights, the budget every guard of the flow uses).  ``t0`` is the first
checkpoint with ``Lsum < loss(0)`` (1 exponential, log 2 logistic) and ``Q`` positive
beyond its error.  Every check reads that record; the path-only claims are unchanged by
the flow's clock (S-INV), the rate claims use ``t``.

Tolerances, each derived beside its check:

* **Path error carried to a function** ``h`` of the weights: ``||grad h|| E`` at the
  computed state, to first order, as the flow's own guard carries ``E`` to ``log R``
  (:func:`invariants.dynamics.budget.risk_rise_allowance`).  Measured on the drawn runs:
  ``E / rho <= 7e-8`` and ``||grad log gtil|| E <= 2e-6``, so the neglected second-order
  term is of relative order ``1e-6`` or below.  The integrand of LL-LC.9 is evaluated on
  the computed states without carrying ``E`` (its quadrature error dominates).
* **Rounding of ``log gtil``** (:func:`log_gtil_rounding`): the margins err by at most
  ``delta_m = gamma(M) prod_k ||W_k||_F max ||z_i||`` (:mod:`invariants.core.rounding`),
  ``Q`` is 1-Lipschitz in the margins (a soft-min), the log-sum-exp adds a few ulps of
  ``|Q| + log n``, and ``rho^p`` errs by ``p gamma(D + 2)`` relative.
* **Time**: the checkpoints' ``log_time_error`` (quadrature plus path,
  :mod:`invariants.dynamics.quadrature`), in the lenient direction at both ends.
* **G**: the rigorous midpoint/trapezoid bracket of :func:`margin_rates.log_g_bracket`
  (LL-LB.6 with the run's loss's ``g``, both losses; LL-T4.3's upper rate with
  ``g(s) = s``), evaluated at ``S`` moved by its path error ``||grad log Lsum|| E`` plus
  the rounding of ``log Lsum`` (:func:`invariants.core.rounding.log_risk_rounding`).
* **ReLU flows** (:mod:`invariants.dynamics.relu_flow`, LL-T4.1 only): each accepted
  step is its own comparison, so its allowance is ``||grad log gtil||`` times that step's
  local-error bound, not an accumulated ``E``; steps that saw an activation-pattern change
  carry no error estimate and are counted, not asserted (:func:`relu_gtil_steps`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from invariants.core import bounds
from invariants.core import homogeneous as hm
from invariants.core import margin_rates as mr
from invariants.core.losses import Loss
from invariants.core.network import end_to_end
from invariants.core.rounding import EPS, gamma, log_risk_rounding, rounding_count
from invariants.dynamics import flow, relu_flow
from invariants.dynamics.quadrature import log_integral
from invariants.statements import Slack, worst_ratio
from properties.helpers import Observation

#: Stop each run at this ``||w_prod||``: six decades past a typical ``t0`` gives the laws
#: a span of ``log log t`` from about 2 to 15 at about 0.5 s of CPU per run (measured on
#: the drawn problems; the section's budget is 1.5 s per example).
MAX_WPROD = 1e8
#: The laws of LL-T4.3 and LL-DL3 are fitted on the checkpoints with ``log log t`` at least
#: this fraction of its final value (the late part, where the ``O(log log t / log t)``
#: corrections are smallest).
LATE_FRACTION = 0.5


def long_flow(z: np.ndarray, weights: Sequence[np.ndarray], loss: Loss) -> flow.Trajectory:
    """One flow to ``||w_prod|| = MAX_WPROD``, about six checkpoints per decade of
    ``||w_prod||`` (``ds = ln(10) / (6 L)`` of the lognorm clock, at most 0.25)."""
    ds = min(0.25, math.log(10.0) / (6 * len(weights)))
    return flow.gradient_flow(
        z, weights, loss, max_frobenius=np.inf, max_wprod=MAX_WPROD, ds=ds, late_method=None
    )


@dataclass(frozen=True)
class FlowRun:
    """One trajectory read at every checkpoint (module docstring).

    Arrays are indexed by checkpoint; ``j0`` is ``t0``'s index (None: the run never passed
    the threshold).  ``log_t`` is ``log`` of the summed-loss time ``t = t_R / n``.
    """

    loss: Loss
    z: np.ndarray
    order: int
    gamma_svm: float  # the data's max margin gamma (linear SVM)
    weights: tuple
    models: tuple
    log_loss: np.ndarray  # log Lsum
    Q: np.ndarray
    gtil: np.ndarray
    gbar: np.ndarray
    log_rho: np.ndarray
    log_t: np.ndarray
    log_t_err: np.ndarray
    E: np.ndarray  # integrator error budget on the weights
    kappa: np.ndarray  # ||grad log gtil|| (nan where Q <= 0)
    grad_log_loss: np.ndarray  # ||grad log Lsum||
    rnd_log_gtil: np.ndarray
    rnd_log_loss: np.ndarray
    j0: int | None

    @property
    def n(self) -> int:
        return int(self.z.shape[0])

    @property
    def xmax(self) -> float:
        return float(np.max(np.linalg.norm(self.z, axis=1)))

    def log_gtil_error(self, j: int) -> float:
        """Path plus rounding error of ``log gtil`` at checkpoint ``j``."""
        return float(self.kappa[j] * self.E[j] + self.rnd_log_gtil[j])

    def s_error(self, j: int) -> float:
        """Path plus rounding error of ``S = log(1/Lsum)`` at checkpoint ``j``."""
        return float(self.grad_log_loss[j] * self.E[j] + self.rnd_log_loss[j])

    def past(self) -> np.ndarray:
        """Indices of the checkpoints from ``t0`` on while the states stay below the
        threshold (the whole rest of a flow, whose loss never rises; a broken dynamic may
        leave it).  Empty if never past ``t0``."""
        if self.j0 is None:
            return np.zeros(0, dtype=int)
        below = np.isfinite(self.kappa[self.j0 :])
        stop = int(np.argmin(below)) if not np.all(below) else below.size
        return np.arange(self.j0, self.j0 + stop)


def margin_rounding(weights: Sequence[np.ndarray], z: np.ndarray) -> float:
    """``delta_m = gamma(M) prod_k ||W_k||_F max_i ||z_i||``: every computed margin's error
    (:func:`invariants.core.rounding.rounding_count`; ``|| |A| ||_F = ||A||_F``)."""
    big = math.prod(float(np.linalg.norm(W)) for W in weights) * float(
        np.max(np.linalg.norm(z, axis=1))
    )
    return gamma(rounding_count(weights, z.shape[0])) * big


def log_gtil_rounding(weights: Sequence[np.ndarray], z: np.ndarray, Q: float, order: int) -> float:
    """Bound on the rounding of ``log gtil = log Q - p log rho`` (module docstring)."""
    n = z.shape[0]
    dim = sum(W.size for W in weights)
    q_err = margin_rounding(weights, z) + EPS * (8 * abs(Q) + 4 * math.log(n) + n + 8)
    return q_err / Q + order * gamma(dim + 2)


def threshold(loss: Loss) -> float:
    """``log loss(0)``: t0 is the first state with ``log Lsum`` below it (A4 / B4)."""
    return float(loss.log_value(0.0))


def flow_run(tr: flow.Trajectory, gamma_svm: float) -> FlowRun:
    """Read a linear-network trajectory at every checkpoint (LL-T4.1 ... LL-DL3)."""
    z, loss = tr.z, tr.loss
    n = z.shape[0]
    models = tuple(hm.linear_network_margins(c.weights, z) for c in tr.checkpoints)
    order = models[0].order
    log_loss = np.array([hm.log_loss_sum(m.q, loss) for m in models])
    Q = np.array([hm.smoothed_min_margin(m.q, loss) for m in models])
    rho = np.array([m.rho for m in models])
    gbar = np.array([hm.normalized_margin(m.q, m.rho, order) for m in models])
    gtil = Q / rho**order
    E = tr.column("local_error")
    grad_log_loss = np.array([float(np.linalg.norm(hm.scaled_gradient(m, loss))) for m in models])
    rnd_log_loss = np.array(
        [
            log_risk_rounding(
                math.prod(float(np.linalg.norm(W)) for W in c.weights)
                * float(np.max(np.linalg.norm(z, axis=1))),
                n,
                rounding_count(c.weights, n),
            )
            for c in tr.checkpoints
        ]
    )
    kappa = np.full(len(models), np.nan)
    rnd = np.full(len(models), np.nan)
    j0 = None
    for j, (m, c) in enumerate(zip(models, tr.checkpoints, strict=True)):
        if Q[j] <= 0 or log_loss[j] >= threshold(loss):
            continue
        kappa[j] = float(np.linalg.norm(mr.grad_log_gtil(m, loss)))
        rnd[j] = log_gtil_rounding(c.weights, z, float(Q[j]), order)
        # t0: below the threshold with Q positive beyond its own error (so log gtil exists
        # at every state the checks compare, and S0 > 0 for G).
        s_err = grad_log_loss[j] * E[j] + rnd_log_loss[j]
        if j0 is None and kappa[j] * E[j] + rnd[j] < 1.0 and -log_loss[j] - s_err > 0:
            j0 = j
    log_t = np.asarray(mr.log_time_sum(tr.column("log_time"), n), dtype=float)
    return FlowRun(
        loss=loss,
        z=z,
        order=order,
        gamma_svm=gamma_svm,
        weights=tuple(c.weights for c in tr.checkpoints),
        models=models,
        log_loss=log_loss,
        Q=Q,
        gtil=gtil,
        gbar=gbar,
        log_rho=np.log(rho),
        log_t=log_t,
        log_t_err=tr.column("log_time_error"),
        E=E,
        kappa=kappa,
        grad_log_loss=grad_log_loss,
        rnd_log_gtil=rnd,
        rnd_log_loss=rnd_log_loss,
        j0=j0,
    )


# --- LL-T4.1 ---------------------------------------------------------------------------------


def sandwich_and_growth(
    models,
    weights,
    data: np.ndarray,
    loss,
    log_loss: np.ndarray,
    log_rho: np.ndarray,
    idx: np.ndarray,
    where: str,
) -> float:
    """LL-T4.1 (3)-(4) at the states ``idx`` after t0: the sandwich gap ``rho^p (gbar -
    gtil)`` lies in ``[0, log n]`` (exponential) or ``[0, log n + Lsum]`` (logistic; LL-SW,
    LL-LA.5), to the rounding of the margins and of one log-sum-exp, and ``rho`` and
    ``1/Lsum`` grew from the first to the last.  ``models[j]``/``weights(j)`` give state
    j; ``where`` names the network in messages.  Returns the worst gap over its bound."""
    n = data.shape[0]
    gap_ratio = 0.0
    for j in idx:
        gap = hm.sandwich_gap(models[j].q, loss)
        slack_m = 2 * margin_rounding(weights(j), data) + gamma(n + 4) * (math.log(n) + 1)
        extra = math.exp(log_loss[j]) if loss.name == "logistic" else 0.0
        top = math.log(n) + extra
        assert -slack_m <= gap <= top + slack_m, (
            f"LL-T4.1{where}: the gap rho^p (gbar - gtil) = {gap:.6g} at state {j} is "
            f"outside [0, {top:.6g}] (rounding {slack_m:.2e})"
        )
        gap_ratio = max(gap_ratio, gap / (top + slack_m))
    j0, jn = int(idx[0]), int(idx[-1])
    assert log_rho[jn] > log_rho[j0] and log_loss[jn] < log_loss[j0], (
        f"LL-T4.1(3){where}: rho or 1/Lsum did not grow after t0: log rho "
        f"{log_rho[j0]:.4g} -> {log_rho[jn]:.4g}, log Lsum {log_loss[j0]:.4g} -> "
        f"{log_loss[jn]:.4g}"
    )
    return gap_ratio


def gtil_steps(run: FlowRun) -> tuple[np.ndarray, np.ndarray]:
    """Per consecutive pair after t0: the change of ``log gtil`` and its allowance (the
    path and rounding errors of both ends; LL-T4.1)."""
    idx = run.past()
    if idx.size < 2:
        return np.zeros(0), np.zeros(0)
    lg = np.log(run.gtil[idx])
    err = np.array([run.log_gtil_error(j) for j in idx])
    return np.diff(lg), err[:-1] + err[1:]


def check_ll_t4_1(run: FlowRun) -> Slack:
    """LL-T4.1: after t0, ``gtil`` never falls by more than its error between saved states;
    the sandwich gap ``rho^p (gbar - gtil)`` stays in ``[0, log n (+ Lsum)]``; ``rho`` and
    ``1/Lsum`` grow.

    Exercised when some pair after t0 moved ``log gtil`` by more than its allowance (a
    fall that large would have failed).  Measures: how often ``gbar`` fell beyond its
    rounding while ``gtil`` rose (the smoothing is needed), and the final relative gap
    ``(gbar - gtil) / gtil`` (parts (3), (4): the two reach the same limit).
    """
    idx = run.past()
    if idx.size < 2:
        return Slack("LL-T4.1", None, "never past t0", exercised=False)
    dlg, allow = gtil_steps(run)
    worst_k = int(np.argmax(-dlg / allow))
    mono = max(0.0, float(-dlg[worst_k] / allow[worst_k]))
    assert np.all(-dlg <= allow), (
        f"LL-T4.1: log gtil fell by {-dlg[worst_k]:.3e} between checkpoints "
        f"{idx[worst_k]} and {idx[worst_k] + 1} after t0 (allowance {allow[worst_k]:.3e})"
    )
    gap_ratio = sandwich_and_growth(
        run.models, lambda j: run.weights[j], run.z, run.loss, run.log_loss, run.log_rho, idx, ""
    )
    j0, jn = int(idx[0]), int(idx[-1])
    dgbar = np.diff(run.gbar[idx])
    gbar_rnd = np.array(
        [2 * margin_rounding(run.weights[j], run.z) / run.Q[j] for j in idx[1:]]
    ) * np.abs(run.gbar[idx[1:]])
    falls = int(np.sum((dgbar < -gbar_rnd) & (dlg > allow)))
    exercised = bool(np.any(np.abs(dlg) > allow))
    return Slack(
        "LL-T4.1",
        worst_ratio(mono, gap_ratio),
        f"{idx.size} states after t0; worst fall/allowance {mono:.3g}",
        exercised=exercised,
        measures={
            "gbar_falls_gtil_rises": float(falls),
            "final_relative_gap": float((run.gbar[jn] - run.gtil[jn]) / run.gtil[jn]),
            "log_gtil_rise": float(math.log(run.gtil[jn] / run.gtil[j0])),
            "worst_fall_over_allowance": mono,
            "worst_gap_over_bound": gap_ratio,
        },
    )


# --- LL-LB.6 and the upper half of LL-T4.3 ---------------------------------------------------


def elapsed_bounds(run: FlowRun, j: int) -> tuple[float, float]:
    """``(lower, upper)`` of ``log(t_j - t0)`` from the stated time errors."""
    j0 = run.j0
    assert j0 is not None
    lo = mr.log_elapsed(run.log_t[j] - run.log_t_err[j], run.log_t[j0] + run.log_t_err[j0])
    hi = mr.log_elapsed(run.log_t[j] + run.log_t_err[j], run.log_t[j0] - run.log_t_err[j0])
    return lo, hi


def g_bounds(run: FlowRun, j: int, loss_name: str = "exponential") -> tuple[float, float]:
    """``(lower, upper)`` of ``log G(1/Lsum(t_j))`` over the errors of ``S`` at t0 and t_j.

    ``loss_name`` picks G's ``g`` (:func:`margin_rates.log_g_integrand`): LL-LB.6 uses the
    run's loss; LL-T4.3's upper rate is derived with ``S`` in place of ``g(S)`` and uses the
    exponential form for both losses.
    """
    j0 = run.j0
    assert j0 is not None
    s0, s = -run.log_loss[j0], -run.log_loss[j]
    e0, e = run.s_error(j0), run.s_error(j)
    lo = mr.log_g_bracket(s0 + e0, s - e, run.order, loss_name)[0]
    hi = mr.log_g_bracket(s0 - e0, s + e, run.order, loss_name)[1]
    return lo, hi


def gtil0_bounds(run: FlowRun) -> tuple[float, float]:
    """``(lower, upper)`` of ``log gtil(t0)``."""
    j0 = run.j0
    assert j0 is not None
    lg, err = math.log(run.gtil[j0]), run.log_gtil_error(j0)
    return lg - err, lg + err


def check_ll_lb_6(run: FlowRun) -> Slack:
    """LL-LB.6: ``G(1/Lsum(t)) >= p^2 gtil(t0)^{2/p} (t - t0)`` at every checkpoint after
    t0, logarithms compared, with ``G = int g'(log u)^2 / g(log u)^{2-2/p} du`` for the
    run's loss (``g(s) = s`` exponential, ``-log(expm1(e^{-s}))`` logistic).

    The lemma's derivation holds for both: ``d(1/Lsum)/dt = ||grad Lsum||^2 / Lsum^2 >=
    (p nu / (rho Lsum))^2 >= p^2 f'(Q)^2 Q^2 / rho^2`` (Euler and LL-EQ7, ``f = -log loss``),
    and ``rho^2 = (Q / gtil)^{2/p} <= (Q / gtil(t0))^{2/p}`` (LL-T4.1); with ``x = 1/Lsum``,
    ``Q = g(log x)`` and ``f'(Q) = 1 / g'(log x)``, so ``dx/dt >= p^2 gtil(t0)^{2/p}
    g(log x)^{2-2/p} / g'(log x)^2``, and separating variables gives the lemma.

    Allowed: the upper end of ``log G`` (:func:`g_bounds`, the bracket is rigorous for both
    losses: :func:`margin_rates.log_g_integrand`); observed: the lower end of the right
    side (``gtil(t0)`` and ``t - t0`` at the lenient ends of their errors).  Exercised at a
    checkpoint whose elapsed time is resolved (its lower end is positive).  A logistic run
    whose ``S(t0)`` is within its error of ``log(1/log 2)`` has no finite upper end of G
    and is not exercised.
    """
    name = run.loss.name
    if name not in ("exponential", "logistic"):
        raise ValueError(f"LL-LB.6 is checked for the exponential and logistic losses, not {name}")
    if run.j0 is not None and name == "logistic":
        if -run.log_loss[run.j0] - run.s_error(run.j0) <= mr.LOGISTIC_S_STAR:
            return Slack("LL-LB.6", None, "S(t0) within its error of s*", exercised=False)
    idx = run.past()
    worst, exercised, at = 0.0, False, -1
    lg0_lo, _ = gtil0_bounds(run) if idx.size else (0.0, 0.0)
    for j in idx[1:]:
        t_lo, _ = elapsed_bounds(run, j)
        if t_lo == -math.inf:
            continue
        exercised = True
        rhs = mr.log_lb6_rate(run.order, math.exp(lg0_lo)) + t_lo
        _, g_hi = g_bounds(run, j, name)
        assert rhs <= g_hi, (
            f"LL-LB.6: at checkpoint {j}, log G(1/Lsum) <= {g_hi:.6g} but "
            f"log(p^2 gtil0^(2/p) (t - t0)) >= {rhs:.6g}"
        )
        if math.exp(rhs - g_hi) >= worst:
            worst, at = math.exp(rhs - g_hi), int(j)
    return Slack(
        "LL-LB.6",
        worst if exercised else None,
        f"worst at checkpoint {at}",
        exercised=exercised,
    )


def check_ll_t4_3(run: FlowRun, b1: float | None = None) -> tuple[Slack, list[Observation]]:
    """LL-T4.3 with the linear network's constants: ``G(1/Lsum(t)) <= B1^2 gtil(t0)^{-(2 -
    2/p)} (t - t0)`` (:func:`margin_rates.log_upper_rate`; with LL-LB.6 the two-sided
    ``Theta``), at every checkpoint after t0, both losses; and the laws.

    ``b1``: the sphere constant (default :func:`margin_rates.linear_b1`; controls plant a
    wrong one).  Laws (observations, fitted on the late part of the run): ``loss_rate``,
    the exponent ``e`` of ``log t`` in ``Lsum t (log t)^e`` (predicted ``2 - 2/p``);
    ``norm_rate``, the exponent of ``log t`` in ``rho^p`` (predicted 1).
    """
    b1 = mr.linear_b1(run.order, run.xmax) if b1 is None else b1
    idx = run.past()
    worst, exercised = 0.0, False
    lg0_lo, _ = gtil0_bounds(run) if idx.size else (0.0, 0.0)
    for j in idx[1:]:
        _, t_hi = elapsed_bounds(run, j)
        g_lo, _ = g_bounds(run, j)
        if g_lo == -math.inf:
            continue
        exercised = True
        allowed = mr.log_upper_rate(run.order, b1, math.exp(lg0_lo)) + t_hi
        assert g_lo <= allowed, (
            f"LL-T4.3: at checkpoint {j}, log G(1/Lsum) >= {g_lo:.6g} exceeds "
            f"log(B1^2 gtil0^-(2-2/p) (t - t0)) <= {allowed:.6g} (B1 = {b1:.4g})"
        )
        worst = max(worst, math.exp(g_lo - allowed))
    observations = rate_laws(run)
    return (
        Slack("LL-T4.3", worst if exercised else None, exercised=exercised),
        observations,
    )


def late(run: FlowRun) -> np.ndarray:
    """Checkpoints after t0 with ``log t > e`` and ``log log t`` at least
    :data:`LATE_FRACTION` of its final value: where the laws are fitted (``log t`` grows
    like the margins, so a fraction of ``log log t`` keeps the last decades of
    ``||w_prod||``)."""
    idx = run.past()
    if idx.size == 0:
        return idx
    lt = run.log_t[idx]
    keep = lt > math.e
    if not np.any(keep):
        return idx[keep]
    keep &= np.log(np.where(keep, lt, math.e)) >= LATE_FRACTION * math.log(lt[-1])
    return idx[keep]


def rate_laws(run: FlowRun) -> list[Observation]:
    """The ``loss_rate`` and ``norm_rate`` laws of LL-T4.3 (see :func:`check_ll_t4_3`)."""
    idx = late(run)
    if idx.size < 3:
        return []
    loglog_t = np.log(run.log_t[idx])
    e, e_se = mr.fit_slope(loglog_t, -(run.log_loss[idx] + run.log_t[idx]))
    r, r_se = mr.fit_slope(loglog_t, run.order * run.log_rho[idx])
    depth = float(run.order)
    return [
        Observation(
            "loss_rate",
            "LL-T4.3",
            {"exponent": e, "stderr": e_se, "expected": 2 - 2 / run.order, "depth": depth},
        ),
        Observation(
            "norm_rate",
            "LL-T4.3",
            {"exponent": r, "stderr": r_se, "expected": 1.0, "depth": depth},
        ),
    ]


# --- LL-LC.9, LL-TA.9 ------------------------------------------------------------------------


def deficits(run: FlowRun, idx: np.ndarray) -> np.ndarray:
    """``beta^{-2} - 1`` at the checkpoints ``idx`` (scaled clock; LL-LC.9)."""
    out = []
    for m in (run.models[j] for j in idx):
        radial, u = hm.radial_tangential(m.theta, -hm.scaled_gradient(m, run.loss))
        out.append(mr.beta_deficit(radial, u))
    return np.array(out)


@dataclass(frozen=True)
class Windows:
    """For every pair ``i < k`` after t0 (as matrices over positions in ``run.past()``):
    the quadrature of ``int (beta^-2 - 1) d log rho`` with its error, and the right side
    ``(1/p) log(gtil_k / gtil_i)`` with its allowance (LL-LC.9)."""

    idx: np.ndarray
    integral: np.ndarray
    error: np.ndarray
    rhs: np.ndarray
    allowance: np.ndarray
    y: np.ndarray  # beta^-2 - 1 at run.past()


def windows(run: FlowRun) -> Windows | None:
    """The LL-LC.9 quadrature over every window (None when fewer than 2 states after t0
    or log rho does not increase along them).

    ``int (beta^-2 - 1) (dlog rho / dt) dt = int (beta^-2 - 1) dx`` with ``x = log rho``,
    increasing after t0 (LL-L5.1).  The exponential trapezoid rule over the checkpoints is
    :func:`invariants.dynamics.quadrature.log_integral`'s; each piece's error is the larger
    of that function's estimate (Richardson on pairs of comparable steps) and the monotone
    bound ``h |y_{k+1} - y_k|`` (the rule's worst error on a piece where ``y`` is monotone,
    whatever its shape).  Richardson alone is an estimate for smooth integrands and missed a
    sharp drop of ``beta^-2 - 1`` between two checkpoints (a threefold fall within one
    piece, found by the stress profile on a logistic depth-4 run); the monotone bound
    covers such transients.
    """
    idx = run.past()
    if idx.size < 2 or np.any(np.diff(run.log_rho[idx]) <= 0):
        return None
    y = deficits(run, idx)
    x = run.log_rho[idx]
    log_y = np.log(np.maximum(y, np.finfo(float).tiny))
    val, bnd = log_integral(x, log_y)
    cum = np.exp(val)
    richardson = np.diff(np.exp(bnd))
    monotone = np.diff(x) * np.abs(np.diff(y))
    cum_err = np.concatenate([[0.0], np.cumsum(np.maximum(richardson, monotone))])
    lg = np.log(run.gtil[idx])
    err = np.array([run.log_gtil_error(j) for j in idx])
    p = run.order
    integral = cum[None, :] - cum[:, None]
    error = cum_err[None, :] - cum_err[:, None] + 4 * EPS * cum[None, :]
    rhs = (lg[None, :] - lg[:, None]) / p
    allowance = (err[None, :] + err[:, None]) / p
    return Windows(idx, integral, error, rhs, allowance, y)


def check_ll_lc_9(run: FlowRun, factor: float = 1.0) -> Slack:
    """LL-LC.9: for every pair of states ``t0 <= t_i < t_k``, ``int_{t_i}^{t_k} (beta^-2 - 1)
    dlog rho <= (1/p) log(gtil_k / gtil_i)``: the quadrature minus its error against the
    right side plus the path and rounding errors of ``log gtil`` at both ends.

    ``factor`` multiplies the right side (1; a control plants another).  Exercised when
    some window's quadrature, less its error, is positive (a right side at or below 0
    would then have failed).
    """
    w = windows(run)
    if w is None:
        return Slack("LL-LC.9", None, "fewer than two states after t0", exercised=False)
    upper = np.triu(np.ones_like(w.integral, dtype=bool), k=1)
    observed = w.integral - w.error
    allowed = factor * w.rhs + w.allowance
    bad = upper & (observed > allowed)
    if np.any(bad):
        i, k = np.argwhere(bad)[0]
        raise AssertionError(
            f"LL-LC.9: over checkpoints {w.idx[i]}..{w.idx[k]}, int (beta^-2 - 1) dlog rho >= "
            f"{observed[i, k]:.6e} > (1/p) log(gtil ratio) + allowance = {allowed[i, k]:.6e}"
        )
    ok = upper & (observed > 0)
    ratio = float(np.max(observed[ok] / allowed[ok])) if np.any(ok) else None
    return Slack("LL-LC.9", ratio, exercised=bool(np.any(ok)))


def check_ll_ta_9(run: FlowRun) -> tuple[Slack, list[Observation]]:
    """LL-TA.9: in every window of log rho after t0, the smallest stationarity residual
    ``eps = gbar^{-1/p} sqrt(2 (1 - beta))`` of the states in it obeys
    ``min eps^2 <= 2 gtil(t0)^{-2/p} ((1/p) log(gtil ratio) + errors) / Delta``, with
    ``Delta`` the window's length in log rho.

    Derivation: ``1 - beta <= beta^-2 - 1`` and ``gbar >= gtil >= gtil(t0)`` give
    ``eps^2 <= 2 gtil(t0)^{-2/p} (beta^-2 - 1)``; the smallest sample is at most the
    trapezoid average (a convex combination of the samples), which LL-LC.9 bounds.  This
    is the theorem's ``Delta = Theta(eps^-2)`` with its constant.  Law (observation
    ``kkt_window``): the log-log slope of the best ``eps`` over windows starting at t0
    against their length (predicted ``<= -1/2``).
    """
    w = windows(run)
    if w is None:
        return Slack("LL-TA.9", None, "fewer than two states after t0", exercised=False), []
    idx, p = w.idx, run.order
    eps2 = np.array(
        [
            mr.kkt_eps(float(run.gbar[j]), p, 1.0 / math.sqrt(1.0 + y)) ** 2
            for j, y in zip(idx, w.y, strict=True)
        ]
    )
    lg0_lo, _ = gtil0_bounds(run)
    c = 2.0 * math.exp(-(2.0 / p) * lg0_lo)
    dx = run.log_rho[idx][None, :] - run.log_rho[idx][:, None]
    worst, exercised = 0.0, False
    for i in range(idx.size):
        running = np.minimum.accumulate(eps2[i:])
        for k in range(i + 1, idx.size):
            allowed = c * (w.rhs[i, k] + w.allowance[i, k] + w.error[i, k]) / dx[i, k]
            # eps2's own rounding: a few ulps relative, far below the allowance's error terms
            assert running[k - i] <= allowed * (1 + 16 * EPS), (
                f"LL-TA.9: over checkpoints {idx[i]}..{idx[k]} (Delta = {dx[i, k]:.4g}) the "
                f"smallest eps^2 is {running[k - i]:.4e} > {allowed:.4e}"
            )
            if allowed > 0:
                exercised = True
                worst = max(worst, running[k - i] / allowed)
    observations = []
    best = np.minimum.accumulate(np.sqrt(eps2))
    keep = (dx[0] > 0) & (best > 0)
    if np.sum(keep) >= 3:
        slope, se = mr.fit_slope(np.log(dx[0][keep]), np.log(best[keep]))
        observations.append(
            Observation(
                "kkt_window",
                "LL-TA.9",
                {"slope": slope, "stderr": se, "expected_at_most": -0.5, "depth": float(p)},
            )
        )
    return Slack("LL-TA.9", worst if exercised else None, exercised=exercised), observations


# --- LL-LC.11 ---------------------------------------------------------------------------------


def check_ll_lc_11(run: FlowRun, b1: float | None = None) -> Slack:
    """LL-LC.11 at every state after t0: ``||dtheta_hat/dt|| <= (B1 / (p gtil)) dlog rho/dt``
    with the linear network's ``B1`` (:func:`margin_rates.linear_b1`, or ``b1``), with the
    local ``max_i ||grad q_i(theta_hat)||``, and with ``gtil(t0)`` in place of ``gtil``.

    In the scaled clock both sides divide by ``Lsum``: ``||u|| <= B1 r / (p gtil)`` with
    ``u`` the tangential part of ``-grad Lsum / Lsum`` and ``r = p nu / (Lsum rho)`` its
    radial speed (Euler, LL-EQ6; a sum of positive terms after t0).  Rounding: ``u`` is
    formed from ``n`` rows of the Jacobian and a projection, each entry within
    ``gamma(n + D + 4)`` of the sum of absolute values (``||w|| ||J||`` bounds their
    norm); ``r`` within ``gamma(n + 4) + delta_m / Q`` relative; ``gtil`` within its
    rounding.  Exercised at every state after t0 (the local form is within a small factor
    of its bound there).
    """
    b1 = mr.linear_b1(run.order, run.xmax) if b1 is None else b1
    idx = run.past()
    if idx.size == 0:
        return Slack("LL-LC.11", None, "never past t0", exercised=False)
    p = run.order
    lg0_lo, _ = gtil0_bounds(run)
    worst = 0.0
    for j in idx:
        m = run.models[j]
        g = hm.scaled_gradient(m, run.loss)
        _, u = hm.radial_tangential(m.theta, -g)
        r = p * hm.nu_over_loss(m.q, run.loss) / m.rho
        w = hm.dual_weights(m.q, run.loss)
        dim = m.theta.size
        u_err = (
            gamma(run.n + dim + 4) * float(np.linalg.norm(w)) * float(np.linalg.norm(m.jacobian))
        )
        rel = gamma(run.n + 4) + margin_rounding(run.weights[j], run.z) / run.Q[j]
        rel += run.rnd_log_gtil[j]
        un = float(np.linalg.norm(u))
        for name, b, gt in (
            ("B1", b1, run.gtil[j]),
            ("local B1", mr.local_b1(m), run.gtil[j]),
            ("B1 with gtil(t0)", b1, math.exp(lg0_lo)),
        ):
            allowed = b * r / (p * gt) * (1 + 2 * rel) + u_err
            assert un <= allowed, (
                f"LL-LC.11 ({name} = {b:.4g}): at checkpoint {j}, ||u|| = {un:.6e} > "
                f"B1 r / (p gtil) = {allowed:.6e}"
            )
            worst = max(worst, un / allowed)
    return Slack("LL-LC.11", worst, f"{idx.size} states after t0", exercised=True)


# --- LL-DL3 and the meeting of the two papers ---------------------------------------------------


def wprod_norms(run: FlowRun, idx: np.ndarray) -> np.ndarray:
    """``||w_prod||`` at the checkpoints ``idx``."""
    return np.array([float(np.linalg.norm(end_to_end(run.weights[j]))) for j in idx])


def dl3_ratios(run: FlowRun) -> tuple[np.ndarray, np.ndarray]:
    """After t0: ``log`` of ``Lsum t S^{2-2/p} p gamma^{2/p}`` (-> 0 by LL-DL3) and of
    ``gamma ||w_prod|| / log t`` (-> 0), at the checkpoints with ``log t > 1``."""
    idx = run.past()
    idx = idx[run.log_t[idx] > 1.0] if idx.size else idx
    p = run.order
    S = -run.log_loss[idx]
    a = 2.0 - 2.0 / p
    r1 = -S + run.log_t[idx] + a * np.log(S) + math.log(p) + (2.0 / p) * math.log(run.gamma_svm)
    r2 = np.log(run.gamma_svm * wprod_norms(run, idx) / run.log_t[idx])
    return r1, r2


def check_ll_dl3(run: FlowRun, gamma_svm: float | None = None) -> tuple[Slack, list[Observation]]:
    """LL-DL3 as a trend: over the late part of the run (:func:`late`) the ratio
    ``r = Lsum t S^{2-2/p} / (1/(p gamma^{2/p}))`` must approach 1 at least as fast as the
    heuristic's correction ``c(t) = log log t / log t``:
    ``|log r(t_k)| <= |log r(mid)| c(t_k) / c(mid) + err_k`` at every later checkpoint,
    with ``mid`` the first late checkpoint and ``err_k`` the error of ``log r`` there (the
    time's stated error plus ``S``'s error times ``|d log r / dS| = |1 - (2 - 2/p)/S|``).

    A limit constant wrong by a fixed factor keeps ``|log r|`` at that factor's log, so it
    fails once ``c`` has shrunk (exercised: some allowance is below ``log 2``, so a factor
    of 2 would have failed there).  The stated time error grows late in a run (it carries
    the accumulated local error through ``kappa_time``), which is what limits this check.
    ``gamma_svm`` overrides the data's margin (controls).  Law ``dl3_ratio``: the final
    ratios of the loss and of ``gamma ||w_prod|| / log t``, with the series against
    ``log10 ||w_prod||``.
    """
    if gamma_svm is not None:
        run = replace(run, gamma_svm=gamma_svm)
    idx = run.past()
    idx = idx[run.log_t[idx] > 1.0] if idx.size else idx
    keep = late(run)
    if keep.size < 3:
        return Slack("LL-DL3", None, "too short after t0", exercised=False), []
    r1, r2 = dl3_ratios(run)
    first = int(np.searchsorted(idx, keep[0]))

    def c(log_t: float) -> float:
        return math.log(log_t) / log_t

    worst, exercised, allowed_min = 0.0, False, math.inf
    for k in range(first + 1, idx.size):
        j = int(idx[k])
        S = -run.log_loss[j]
        err = run.log_t_err[j] + run.s_error(j) * abs(1.0 - (2.0 - 2.0 / run.order) / S)
        allowed = abs(r1[first]) * c(run.log_t[j]) / c(run.log_t[idx[first]]) + err
        observed = abs(r1[k])
        assert observed <= allowed, (
            f"LL-DL3: |log(Lsum t S^(2-2/p) p gamma^(2/p))| = {observed:.4g} at checkpoint {j} "
            f"(log t = {run.log_t[j]:.4g}) > {allowed:.4g} (it was {abs(r1[first]):.4g} at "
            f"log t = {run.log_t[idx[first]]:.4g}; time error {run.log_t_err[j]:.3g})"
        )
        worst = max(worst, observed / allowed)
        allowed_min = min(allowed_min, allowed)
        exercised |= allowed < math.log(2.0)
    nw = wprod_norms(run, idx)
    measures = {
        "final_ratio": math.exp(r1[-1]),
        "final_norm_ratio": math.exp(r2[-1]),
        "mid_ratio": math.exp(r1[first]),
        "log10_wprod_final": float(np.log10(nw[-1])),
        "depth": float(run.order),
    }
    obs = Observation(
        "dl3_ratio",
        "LL-DL3",
        measures,
        {
            "log10_wprod": np.log10(nw).tolist(),
            "log_ratio": r1.tolist(),
            "log_norm_ratio": r2.tolist(),
        },
    )
    slack = Slack(
        "LL-DL3",
        worst,
        f"|log ratio| {abs(r1[first]):.3g} -> {abs(r1[-1]):.3g}; "
        f"smallest allowance {allowed_min:.3g}",
        exercised=exercised,
        measures={"final_ratio": measures["final_ratio"]},
    )
    return slack, [obs]


def alignment_and_margin(run: FlowRun) -> Observation | None:
    """The first paper's layer alignment (S-T1, :func:`invariants.core.bounds.alignment`)
    and this paper's smoothed margin on the same run (LL-T4.1), side by side."""
    idx = run.past()
    if idx.size < 2 or run.order < 2:
        return None
    align = np.array([float(np.min(bounds.alignment(run.weights[j]))) for j in idx])
    gstar = run.gamma_svm * run.order ** (-run.order / 2)
    nw = wprod_norms(run, idx)
    dlg, allow = gtil_steps(run)
    return Observation(
        "alignment_and_margin",
        "LL-T4.1",
        {
            "final_alignment_gap": float(1.0 - align[-1]),
            "final_gtil_over_gstar": float(run.gtil[idx[-1]] / gstar),
            "gtil_never_fell": float(np.all(-dlg <= allow)),
            "depth": float(run.order),
        },
        {
            "log10_wprod": np.log10(nw).tolist(),
            "alignment": align.tolist(),
            "gtil_over_gstar": (run.gtil[idx] / gstar).tolist(),
            "gbar_over_gstar": (run.gbar[idx] / gstar).tolist(),
        },
    )


# --- LL-T4.1 on the bias-free ReLU network -------------------------------------------------

#: Stop each ReLU run at ``S = log(1/Lsum) = RELU_MAX_S``: from ``S`` about ``log n + 1``
#: that is two to three decades of the margins, 100 to 250 Radau steps, 0.1 to 0.3 s of
#: CPU (measured on the drawn problems); ``gtil`` does most of its rising in that span.
RELU_MAX_S = 1e3


def relu_long_flow(
    x: np.ndarray, y: np.ndarray, weights: Sequence[np.ndarray], loss: Loss
) -> relu_flow.ReluTrajectory:
    """One ReLU flow from ``weights`` (already past t0) to ``S = RELU_MAX_S``."""
    return relu_flow.relu_flow(x, y, weights, loss, max_s=RELU_MAX_S)


@dataclass(frozen=True)
class ReluRun:
    """A ReLU trajectory read at every accepted state (LL-T4.1): as :class:`FlowRun`, with
    ``E`` replaced by each step's own local error (``trajectory.local_error``) and with
    ``trajectory.crossed`` marking the steps that saw an activation-pattern change."""

    trajectory: relu_flow.ReluTrajectory
    models: tuple
    log_loss: np.ndarray
    Q: np.ndarray
    gtil: np.ndarray
    gbar: np.ndarray
    log_rho: np.ndarray
    kappa: np.ndarray  # ||grad log gtil|| (nan before t0)
    rnd_log_gtil: np.ndarray
    j0: int | None

    @property
    def n(self) -> int:
        return int(self.trajectory.x.shape[0])


def relu_run(tr: relu_flow.ReluTrajectory) -> ReluRun:
    """Read a ReLU trajectory at every state (LL-T4.1).

    Rounding: :func:`log_gtil_rounding` with the inputs ``x`` for ``z``.  It holds for the
    ReLU network as for the linear one: the forward and backward passes are the same
    product chains (:func:`invariants.core.rounding.rounding_count` counts their inner
    dimensions) with exact operations added (``max(., 0)``, the 0/1 masks, the labels
    ``+-1``), and the absolute network bounds every margin by ``prod_k ||W_k||_F ||x_i||``
    (:func:`invariants.core.homogeneous.margin_magnitudes`).
    """
    loss = tr.loss
    models = tuple(hm.relu_network_margins(tr.weights(j), tr.x, tr.y) for j in range(len(tr.tau)))
    order = models[0].order
    log_loss = np.array([hm.log_loss_sum(m.q, loss) for m in models])
    Q = np.array([hm.smoothed_min_margin(m.q, loss) for m in models])
    rho = np.array([m.rho for m in models])
    kappa = np.full(len(models), np.nan)
    rnd = np.full(len(models), np.nan)
    j0 = None
    for j, m in enumerate(models):
        if Q[j] <= 0 or log_loss[j] >= threshold(loss):
            continue
        kappa[j] = float(np.linalg.norm(mr.grad_log_gtil(m, loss)))
        rnd[j] = log_gtil_rounding(tr.weights(j), tr.x, float(Q[j]), order)
        if j0 is None and rnd[j] < 1.0:
            j0 = j
    return ReluRun(
        trajectory=tr,
        models=models,
        log_loss=log_loss,
        Q=Q,
        gtil=Q / rho**order,
        gbar=np.array([hm.normalized_margin(m.q, m.rho, order) for m in models]),
        log_rho=np.log(rho),
        kappa=kappa,
        rnd_log_gtil=rnd,
        j0=j0,
    )


def relu_gtil_steps(run: ReluRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per accepted step ``j -> j + 1`` with both ends after t0: the change of ``log gtil``,
    its allowance ``||grad log gtil(theta_{j+1})|| e_j`` plus the rounding at both ends,
    and whether the step kept one activation pattern (LL-T4.1).

    The allowance is the one-step argument: the exact flow from the computed
    ``theta_j`` (itself past t0, where LL-T4.1 applies to the flow from it) does not lower
    ``gtil``, and the computed ``theta_{j+1}`` is within the local error ``e_j`` of that
    flow's state, so ``log gtil`` differs from it by at most ``||grad log gtil|| e_j`` to
    first order.  No error accumulates between steps, and a pattern change spoils only its
    own step.
    """
    tr = run.trajectory
    j0 = run.j0
    if j0 is None:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    past = np.isfinite(run.kappa)
    steps = np.arange(j0, len(tr.local_error))
    steps = steps[past[steps] & past[steps + 1]]
    lg = np.log(np.where(np.isfinite(run.kappa), run.gtil, 1.0))
    dlg = lg[steps + 1] - lg[steps]
    allow = (
        run.kappa[steps + 1] * tr.local_error[steps]
        + run.rnd_log_gtil[steps]
        + run.rnd_log_gtil[steps + 1]
    )
    return dlg, allow, ~tr.crossed[steps]


def check_ll_t4_1_relu(run: ReluRun) -> Slack:
    """LL-T4.1 along a bias-free ReLU network's flow: after t0, across every accepted step
    that kept one activation pattern, ``log gtil`` falls by at most its allowance
    (:func:`relu_gtil_steps`); at every state after t0 the sandwich gap ``rho^p (gbar -
    gtil)`` lies in ``[0, log n (+ Lsum)]``; ``rho`` and ``1/Lsum`` grow.

    Steps that crossed a pattern change are not asserted (the integrator's error estimate
    is not a bound there; :mod:`invariants.dynamics.relu_flow`) and are counted
    (``pattern_steps``).  Exercised when some single-pattern step after t0 moved
    ``log gtil`` by more than its allowance.
    """
    tr = run.trajectory
    dlg, allow, smooth = relu_gtil_steps(run)
    if run.j0 is None or dlg.size == 0:
        return Slack("LL-T4.1", None, "never past t0", exercised=False)
    ratio = np.where(smooth, -dlg / allow, -np.inf)
    k = int(np.argmax(ratio))
    mono = max(0.0, float(ratio[k]))
    assert np.all(~smooth | (-dlg <= allow)), (
        f"LL-T4.1 (ReLU): log gtil fell by {-dlg[k]:.3e} across step {run.j0 + k} after t0 "
        f"within one activation pattern (allowance {allow[k]:.3e})"
    )
    idx = np.flatnonzero(np.isfinite(run.kappa))
    idx = idx[idx >= run.j0]
    gap_ratio = sandwich_and_growth(
        run.models, tr.weights, tr.x, tr.loss, run.log_loss, run.log_rho, idx, " (ReLU)"
    )
    j0, jn = int(idx[0]), int(idx[-1])
    moved = smooth & (np.abs(dlg) > allow)
    rel_err = float(np.max(tr.local_error / np.exp(run.log_rho[1:])))
    return Slack(
        "LL-T4.1",
        worst_ratio(mono, gap_ratio),
        f"{dlg.size} steps after t0, {int(np.sum(~smooth))} across a pattern change; "
        f"worst fall/allowance {mono:.3g}",
        exercised=bool(np.any(moved)),
        measures={
            "pattern_steps": float(np.sum(~smooth)),
            "exercised_steps": float(np.sum(moved)),
            "log_gtil_rise": float(math.log(run.gtil[jn] / run.gtil[j0])),
            "final_relative_gap": float((run.gbar[jn] - run.gtil[jn]) / run.gtil[jn]),
            "worst_fall_over_allowance": mono,
            "worst_gap_over_bound": gap_ratio,
            "max_step_error_over_rho": rel_err,
        },
    )
