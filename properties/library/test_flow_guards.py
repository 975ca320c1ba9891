"""The gradient flow's guards at their thresholds, and its error budget against the solver.

Every guard of :mod:`invariants.dynamics.flow` is a comparison of a computed quantity
with an allowance.  Each test below puts the quantity exactly on the allowance and one
ulp (``np.nextafter``) to either side: one ulp is the smallest perturbation a float
comparison can see, so the pair pins both the allowance and the strictness of the
comparison (``>`` against ``>=``).  Where the compared quantity comes out of a run
(a norm at a checkpoint, a step count), the threshold is read off a first run and the
second run is deterministic, so it sees the same value.

- per step (pure functions called by the flow's guard): the critical-point guard
  (:func:`~invariants.dynamics.flow.check_direction`), the S-EQ1 risk-rise guard
  (:func:`~invariants.dynamics.flow.check_risk_rise` with
  :func:`~invariants.dynamics.flow.risk_rise_allowance` and
  :func:`~invariants.dynamics.flow.grad_log_risk_bound`), the S-EQ2 drift guard
  (:func:`~invariants.dynamics.flow.check_eq2_drift`); a spy shows the flow calls them
  with the quantities their definitions give, and that ``enforce_guards=False`` skips
  only the last two; the ``exp(709)`` cap of :func:`~invariants.dynamics.flow.sensitivities`;
- per run: the step budget ``max_steps``, the stall limit ``SEGMENT_STEPS``, the
  tolerance ceiling ``max_rtol``, the solver switch ``late_wprod`` (at explicit checkpoints,
  and on the uniform grid, where the live solver must be dropped), the float64 floor
  (:func:`~invariants.dynamics.flow.at_float64_floor`, and its effect: a failing run ends
  there instead of raising) and the stopping rules ``max_frobenius``, ``max_wprod``,
  ``s_max``, each with its ``stop_reason``;
- the error budget (:func:`~invariants.dynamics.flow.local_error_bound`) against the
  acceptance test of scipy's BDF, recomputed from its documented formula on the flow's
  own steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from scipy.integrate import BDF

from invariants.core import network as net
from invariants.core.data import make_dataset
from invariants.core.losses import LOGISTIC
from invariants.core.rounding import EPS
from invariants.dynamics import flow
from invariants.errors import (
    CriticalPointError,
    InvariantDriftError,
    RiskIncreaseError,
    SolverDegradedError,
)

UP, DOWN = np.inf, -np.inf


def ulp(x: float, toward: float) -> float:
    """The float next to ``x`` toward ``toward``: the smallest step a comparison can see."""
    return float(np.nextafter(x, toward))


def tiny_problem() -> tuple[np.ndarray, net.Weights]:
    """Four points in the plane, a depth-2 network of width 2 with A2 (~0.1 s CPU per unit of s)."""
    x = np.array([[0.6, 0.2], [0.5, -0.3], [-0.4, -0.5], [-0.7, 0.1]])
    z = make_dataset(x, np.array([1.0, 1.0, -1.0, -1.0])).z
    W = (np.array([[0.3, -0.2], [0.1, 0.4]]), np.array([[0.5, 0.3]]))
    assert net.satisfies_a2(W, z, LOGISTIC)
    return z, W


def run(**kw) -> flow.Trajectory:
    """The flow of :func:`tiny_problem` (deterministic: the same ``kw``, the same floats)."""
    z, W = tiny_problem()
    return flow.gradient_flow(z, W, LOGISTIC, **kw)


class Partial:
    """Stands in for the flow's ``partial(why)``: records why, returns itself."""

    def __init__(self) -> None:
        self.why: list[str] = []

    def __call__(self, why: str) -> Partial:
        self.why.append(why)
        return self


# --- per-step guards ----------------------------------------------------------------------


def test_direction_guard_at_zero() -> None:
    """S-A2b: ``<g_old, g_new> = 0`` passes; the smallest negative inner product raises."""
    old = np.array([1.0, 0.0])
    p = Partial()
    flow.check_direction(old, np.array([0.0, 1.0]), 7, 0.5, -0.3, p)
    flow.check_direction(old, np.array([ulp(0.0, UP), 1.0]), 7, 0.5, -0.3, p)
    assert p.why == []
    with pytest.raises(CriticalPointError, match=r"direction reversed within step 7") as exc:
        flow.check_direction(old, np.array([ulp(0.0, DOWN), 1.0]), 7, 0.5, -0.3, p)
    assert exc.value.partial is p and p.why == ["critical point"]


def test_risk_guard_at_its_allowance() -> None:
    """S-EQ1: a rise equal to the allowance passes, one ulp above raises RiskIncreaseError.

    The allowance ``||grad log R|| e + rounding_new + rounding_old`` is built from dyadic
    numbers, so its exact value ``3/4 + 3 * 2^-41`` is representable and asserted as such.
    """
    allowance = flow.risk_rise_allowance(3.0, 0.25, 2.0**-40, 2.0**-41)
    assert allowance == 0.75 + 3 * 2.0**-41
    p = Partial()
    for rise in (allowance, ulp(allowance, DOWN), -1.0):
        flow.check_risk_rise(rise, allowance, 3, 1.5, p)
    assert p.why == []
    with pytest.raises(RiskIncreaseError, match=r"log R rose by 7\.500e-01 .* at step 3") as exc:
        flow.check_risk_rise(ulp(allowance, UP), allowance, 3, 1.5, p)
    assert exc.value.partial is p and p.why == ["risk increase"]


def field_eval(log_risk: float, log_grad_norm: float) -> flow.FieldEval:
    """A FieldEval carrying only what :func:`flow.grad_log_risk_bound` reads."""
    return flow.FieldEval(log_risk, log_grad_norm, 0.0, np.zeros(1), None)  # type: ignore[arg-type]


def test_grad_log_risk_bound_takes_the_larger_end_and_its_cap() -> None:
    """S-EQ1: ``||grad log R||`` of a step is the larger end's; capped at ``exp(709)`` exactly.

    At the cap ``x = 709`` the value is ``exp(709)``; one ulp above it stays there (and
    far above, no overflow warning, which the test config would turn into an error); one
    ulp below it is smaller.
    """
    a, b = field_eval(-2.0, -1.0), field_eval(-5.0, -1.5)  # log ratios 1.0 and 3.5
    assert flow.grad_log_risk_bound(a, b) == flow.grad_log_risk_bound(b, a) == np.exp(3.5)
    cap = float(np.exp(709.0))
    at = flow.grad_log_risk_bound(a, field_eval(0.0, 709.0))
    above = flow.grad_log_risk_bound(a, field_eval(0.0, ulp(709.0, UP)))
    below = flow.grad_log_risk_bound(a, field_eval(0.0, ulp(709.0, DOWN)))
    assert at == above == flow.grad_log_risk_bound(a, field_eval(-1e300, 0.0)) == cap
    assert below < cap


def test_drift_guard_at_its_bound() -> None:
    """S-EQ2: drift equal to its bound passes; one ulp above raises, naming that invariant."""
    bound = np.array([1.0, 2.0, 3.0])
    p = Partial()
    flow.check_eq2_drift(bound.copy(), bound, 4, 2.0, p)
    flow.check_eq2_drift(np.array([ulp(b, DOWN) for b in bound]), bound, 4, 2.0, p)
    assert p.why == []
    drift = bound.copy()
    drift[1] = ulp(2.0, UP)
    with pytest.raises(InvariantDriftError, match=r"invariant I_2 drifted .* at step 4") as exc:
        flow.check_eq2_drift(drift, bound, 4, 2.0, p)
    assert exc.value.partial is p and p.why == ["invariant drift"]
    drift[2] = 3.5  # the larger excess is the one named
    with pytest.raises(InvariantDriftError, match=r"invariant I_3 drifted by 3\.500e\+00"):
        flow.check_eq2_drift(drift, bound, 4, 2.0, p)


def spy(monkeypatch: pytest.MonkeyPatch, name: str, calls: list) -> None:
    """Replace ``flow.<name>`` by a wrapper that records its arguments and calls through."""
    real: Callable = getattr(flow, name)

    def wrapper(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(flow, name, wrapper)


def test_the_flow_calls_each_guard_with_its_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    """S-EQ1, S-EQ2: on every accepted step the flow's guard calls the three checks above with
    the quantities their definitions give, recomputed here from the step's two states.

    - direction: the unit gradients of the two states (:func:`flow.evaluate`);
    - risk: ``rise = log R(W_new) - log R(W_old)`` and allowance
      ``||grad log R|| e + rounding(W_new) + rounding(W_old)``, ``e`` the step's
      :func:`flow.local_error_bound`, ``||grad log R||`` from ``net.layer_gradients``;
    - drift: :func:`flow.eq2_drift` against the running sum of the per-step budgets
      ``2 (n_k + n_{k+1}) e + 2 e^2`` (``n`` the larger Frobenius norm of the two ends)
      plus :func:`flow.eq2_rounding`.

    Equalities are exact where the same float operations are repeated.  The drift budget
    is recomputed with LAPACK norms where the flow takes ``sqrt`` of a ``vdot``: each norm
    of at most 4 entries is within ``(4/2 + 1) eps`` of exact, so two of them differ by
    ``<= 6 eps``, and the increment's own products and sum add ``2 eps``: ``8 eps`` of
    each (positive) increment, hence of their sum; the two running sums of ``i + 1``
    positive terms each round by ``<= (i + 1) eps / 2`` relative.
    """
    local_error_bound = flow.local_error_bound  # the real one, before the spy replaces it
    steps, dirs, risks, drifts = [], [], [], []
    spy(monkeypatch, "local_error_bound", steps)
    spy(monkeypatch, "check_direction", dirs)
    spy(monkeypatch, "check_risk_rise", risks)
    spy(monkeypatch, "check_eq2_drift", drifts)
    tr = run(checkpoints=[0.5])
    z, W0 = tiny_problem()
    shapes = [M.shape for M in W0]
    n = tr.work.steps
    assert len(steps) == len(dirs) == len(risks) == len(drifts) == n > 50
    budget = np.zeros(len(W0) - 1)
    for i, ((y_old, y_new, rtol, atol), d, r, dr) in enumerate(
        zip(steps, dirs, risks, drifts, strict=True)
    ):
        Wo, Wn = net.unflatten(y_old, shapes), net.unflatten(y_new, shapes)
        go, gn = (net.flatten(net.layer_gradients(W, z, LOGISTIC).layers) for W in (Wo, Wn))
        assert np.array_equal(d[0], go / np.linalg.norm(go))
        assert np.array_equal(d[1], gn / np.linalg.norm(gn)) and d[2] == i + 1
        lo, ln = net.log_risk(Wo, z, LOGISTIC), net.log_risk(Wn, z, LOGISTIC)
        e = local_error_bound(y_old, y_new, rtol, atol)
        g = max(
            np.exp(net.layer_gradients(W, z, LOGISTIC).log_norm - lr)
            for W, lr in ((Wo, lo), (Wn, ln))
        )
        allow = g * e + flow.evaluation_rounding(Wn, z) + flow.evaluation_rounding(Wo, z)
        assert r[0] == ln - lo and r[2] == i + 1
        assert r[1] == allow
        nrm = np.maximum([np.linalg.norm(M) for M in Wo], [np.linalg.norm(M) for M in Wn])
        budget = budget + 2 * (nrm[:-1] + nrm[1:]) * e + 2 * e * e
        assert np.array_equal(dr[0], flow.eq2_drift(W0, Wn))
        want = budget + flow.eq2_rounding(W0, Wn)
        assert np.all(np.abs(dr[1] - want) <= (8 + i + 1) * EPS * want)


# --- per-run thresholds ---------------------------------------------------------------------


def test_step_budget_at_its_threshold() -> None:
    """``max_steps``: a run needing exactly N accepted steps passes with N, raises with N - 1."""
    ref = run(checkpoints=[0.5])
    n = ref.work.steps
    assert ref.failures == () and ref.work.discarded_steps == 0
    same = run(checkpoints=[0.5], max_steps=n)
    assert same.work.steps == n and np.array_equal(same.final.weights[0], ref.final.weights[0])
    with pytest.raises(SolverDegradedError, match=rf"step budget {n - 1} exhausted") as exc:
        run(checkpoints=[0.5], max_steps=n - 1)
    assert exc.value.partial.stop_reason == "max_steps"


def test_stall_limit_at_its_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """``SEGMENT_STEPS``: an interval of M steps passes at limit M; at M - 1 it stalls and is
    redone by the next solver (recorded in ``failures``)."""
    ref = run(checkpoints=[0.5])
    m = ref.work.steps
    monkeypatch.setattr(flow, "SEGMENT_STEPS", m)
    assert run(checkpoints=[0.5]).failures == ()
    monkeypatch.setattr(flow, "SEGMENT_STEPS", m - 1)
    tr = run(checkpoints=[0.5])
    assert tr.failures[0] == (
        0.0,
        "BDF",
        ref.rtol,
        f"stalled: {m - 1} steps without reaching s=0.5",
    )
    assert tr.work.discarded_steps >= m


def test_tolerance_ceiling_at_its_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """``max_rtol``: every solver stalls (limit 0 steps); with ``max_rtol = 10 rtol`` the
    tolerance is raised once before the run gives up, one ulp below it is never raised.  The
    raise loosens ``rtol`` and ``atol`` both tenfold (the partial path carries the tolerances
    its budget used; ``atol *= 11``, sampled mutant flow._Guard.escalate 6, fails it)."""
    monkeypatch.setattr(flow, "SEGMENT_STEPS", 0)
    rtol, atol = 1e-10, 1e-12
    with pytest.raises(
        SolverDegradedError, match=r"every solver failed .* even at rtol=1e-09"
    ) as raised:
        run(checkpoints=[0.5], rtol=rtol, atol=atol, max_rtol=rtol * 10)
    loosened = raised.value.partial
    assert (loosened.rtol, loosened.atol) == (rtol * 10, atol * 10)
    assert [r for _, r in loosened.escalations] == [rtol * 10]
    with pytest.raises(SolverDegradedError, match=r"even at rtol=1e-10") as exc:
        run(checkpoints=[0.5], rtol=rtol, max_rtol=ulp(rtol * 10, DOWN))
    assert exc.value.partial.escalations == ()


def test_solver_switch_at_late_wprod() -> None:
    """``late_wprod``: the next interval runs ``late_method`` iff ``||w_prod||`` of the last
    checkpoint is ``>= late_wprod`` (explicit checkpoints restart the solver at each, so
    the path up to the switch is the same in every run)."""
    cps = [0.25, 0.5, 0.75]
    ref = run(checkpoints=cps, late_wprod=np.inf)
    wn = ref.wprod_norm()
    assert ref.method == "BDF" and np.all(np.diff(wn) > 0)
    at = run(checkpoints=cps, late_wprod=float(wn[-2]))
    above = run(checkpoints=cps, late_wprod=ulp(float(wn[-2]), UP))
    assert at.method == "LSODA" and above.method == "BDF"
    assert np.array_equal(at.checkpoints[-2].weights[0], ref.checkpoints[-2].weights[0])


def test_solver_switch_on_the_uniform_grid(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the uniform grid the live solver runs across checkpoints, so the switch to
    ``late_method`` must drop it: after the checkpoint whose ``||w_prod||`` reaches
    ``late_wprod`` a ``late_method`` solver is built (and none before, nor in a run whose
    ``late_wprod`` is one ulp above every checkpoint's).  Negative control: keeping the BDF
    solver alive at the switch (``live["SOLVER"] = None``, sampled mutant
    flow.gradient_flow 143) builds no LSODA solver and fails the first assertion."""
    built: list[float] = []

    class CountingLSODA(flow.SOLVERS["LSODA"]):  # type: ignore[misc, valid-type]
        def __init__(self, fun, t0, *args, **kwargs) -> None:
            built.append(float(t0))
            super().__init__(fun, t0, *args, **kwargs)

    monkeypatch.setitem(flow.SOLVERS, "LSODA", CountingLSODA)
    ref = run(ds=0.25, s_max=0.75, late_wprod=np.inf)
    wn = ref.wprod_norm()
    assert ref.method == "BDF" and built == [] and np.all(np.diff(wn) > 0)
    at = run(ds=0.25, s_max=0.75, late_wprod=float(wn[-2]))
    assert at.method == "LSODA" and len(built) == 1, built
    assert built[0] == at.checkpoints[-2].s  # built at the checkpoint that crossed late_wprod
    run(ds=0.25, s_max=0.75, late_wprod=ulp(float(wn[-1]), UP))
    assert len(built) == 1


def test_float64_floor_at_both_thresholds() -> None:
    """:func:`flow.at_float64_floor` on exact inputs: ``w_prod = (3, 4)``, ``||w_prod|| = 5``,
    ``min_i <w_prod, z_i> = 1``, so the stiffness proxy ``||w||^2 / min`` is exactly 25."""
    W = (np.array([[3.0, 4.0]]),)
    z = np.array([[0.0, 0.25], [1.0, 0.0]])
    assert flow.at_float64_floor(W, z, 5.0, np.inf)
    assert not flow.at_float64_floor(W, z, ulp(5.0, UP), np.inf)
    assert flow.at_float64_floor(W, z, np.inf, 25.0)
    assert not flow.at_float64_floor(W, z, np.inf, ulp(25.0, UP))
    assert not flow.at_float64_floor(W, -z, np.inf, 0.0)  # no positive margin: no proxy


def test_stopping_rules_at_their_thresholds() -> None:
    """``max_frobenius`` and ``max_wprod`` stop at the first checkpoint where the value is
    ``>=`` the limit; ``s_max`` keeps a grid point equal to it and drops it one ulp below."""
    cps = [0.25, 0.5, 0.75]
    ref = run(checkpoints=cps)
    fro, wn = float(ref.max_frobenius()[2]), float(ref.wprod_norm()[2])
    for name, limit in (("max_frobenius", fro), ("max_wprod", wn)):
        at = run(checkpoints=cps, **{name: limit})
        assert (at.stop_reason, len(at.checkpoints)) == (name, 3)
        assert len(run(checkpoints=cps, **{name: ulp(limit, UP)}).checkpoints) == 4
    assert ref.stop_reason == "checkpoints"
    grid = run(ds=0.25, s_max=0.75)
    assert (grid.stop_reason, len(grid.checkpoints)) == ("s_max", 4)
    assert len(run(ds=0.25, s_max=ulp(0.75, DOWN)).checkpoints) == 3


# --- the error budget against the solver's own acceptance test ------------------------------

# scipy's BDF is the NDF family of Shampine & Reichelt ("The MATLAB ODE Suite", SIAM J. Sci.
# Comput. 18, 1997, Table 1): order k has the modification kappa_k, and its local error
# estimate is C_k d with C_k = kappa_k gamma_k + 1 / (k + 1), gamma_k = sum_{j<=k} 1/j, where
# d = y_new - y_predict is the correction to the order-k extrapolation of the past steps.
NDF_KAPPA = (0.0, -0.1850, -1 / 9, -0.0823, -0.0415, 0.0)
NEWTON_MAXITER = 4  # scipy's BDF: at most 4 Newton iterations build y_new and d


def ndf_error_constant(order: int) -> float:
    """``C_k = kappa_k gamma_k + 1 / (k + 1)`` (Shampine & Reichelt 1997)."""
    return NDF_KAPPA[order] * sum(1.0 / j for j in range(1, order + 1)) + 1.0 / (order + 1)


def recording_bdf(log: list) -> type[BDF]:
    """scipy's BDF, appending ``(order, y_predict, y_old, y_new)`` for each accepted step.

    ``y_predict`` is read off the public dense output of the previous step: BDF's
    predictor is that interpolating polynomial (of the current order) evaluated at the
    new time, and scipy's step-size changes (``change_D``) re-express the same polynomial
    on a new grid.  The first step (no dense output yet) is not recorded.
    """

    class RecordingBDF(BDF):
        def step(self):
            order, y_old = self.order, self.y.copy()
            predictor = self.dense_output() if self.t_old is not None else None
            msg = super().step()
            if self.status != "failed" and predictor is not None:
                log.append((order, predictor(self.t), y_old, self.y.copy()))
            return msg

    return RecordingBDF


def rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(v * v)))


def test_error_budget_bounds_the_accepted_bdf_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """S-EQ1, S-EQ2: the flow's per-step budget :func:`flow.local_error_bound` bounds the local
    error estimate of every step scipy's BDF accepted on the flow's own path.

    The relation.  BDF accepts a step iff ``rms(err / sc) <= 1`` with ``err = C_k d`` and
    ``sc = atol + rtol |y_new|`` (its documented NDF estimate, recomputed here from the
    predictor and the constants above, not read from the solver).  Then
    ``||err||_2 <= sqrt(N) max_i sc_i <= sqrt(N) max_i (atol + rtol max(|y_old_i|,
    |y_new_i|))``, which is :func:`flow.local_error_bound` minus its rounding term
    ``eps ||y_new||``: the budget bounds the solver's *estimate*; the true local error
    equals it only to leading order in the step (the estimate is asymptotically correct).

    Tolerance of the recomputation: ``d`` is rebuilt as ``y_new - y_predict`` from the
    dense output, while scipy accumulates ``y_new`` and ``d`` over up to 4 Newton updates;
    the two differ per component by ``<= 2 (4 + MAX_ORDER + 2) eps (|y_new| + |d|)`` (each
    Newton addition, the polynomial's ``<= 5`` terms and the subtraction, on each of
    the two vectors), which enters the norms times ``C_k``.

    Measured on this path (83 steps, orders 1 to 5): the recomputed acceptance norm is at
    most 0.50 and ``||err||_2`` at most 0.28 of the budget; a one-off comparison with the
    values scipy's own ``norm`` returned inside each step agreed to 2e-5 relative.

    Control: with the constant predictor ``y_old`` (order 0) the "estimate" is the whole
    step and fails the acceptance test: the recomputation is not vacuously small.
    """
    log: list = []
    monkeypatch.setitem(flow.SOLVERS, "BDF", recording_bdf(log))
    tr = run(checkpoints=[0.5])
    assert tr.method == "BDF" and tr.failures == () and len(log) == tr.work.steps - 1 > 50
    rtol, atol = tr.rtol, tr.atol
    ratios, naive = [], []
    for order, y_pred, y_old, y_new in log:
        c = ndf_error_constant(order)
        d = y_new - y_pred
        err, sc = c * d, atol + rtol * np.abs(y_new)
        rnd = c * 2 * (NEWTON_MAXITER + 5 + 2) * EPS * (np.abs(y_new) + np.abs(d))
        assert rms(err / sc) <= 1 + rms(rnd / sc)  # scipy's acceptance test, recomputed
        budget = flow.local_error_bound(y_old, y_new, rtol, atol) - EPS * np.linalg.norm(y_new)
        assert np.linalg.norm(err) <= budget + np.linalg.norm(rnd)
        ratios.append(np.linalg.norm(err) / budget)
        naive.append(rms(c * (y_new - y_old) / sc))
    assert max(naive) > 1


def test_unenforced_guards_skip_only_risk_and_drift(monkeypatch: pytest.MonkeyPatch) -> None:
    """``enforce_guards=False`` (negative controls only) lets the S-EQ1 and S-EQ2 checks go
    uncalled, while the critical-point guard still runs on every step."""
    dirs, risks, drifts = [], [], []
    spy(monkeypatch, "check_direction", dirs)
    spy(monkeypatch, "check_risk_rise", risks)
    spy(monkeypatch, "check_eq2_drift", drifts)
    tr = run(checkpoints=[0.25], enforce_guards=False)
    assert risks == drifts == [] and len(dirs) == tr.work.steps > 0


def test_float64_floor_ends_the_run_only_at_its_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed interval that starts at the float64 floor ends the run (``float64_floor``, the
    path so far returned); one ulp below the floor the same failure raises.  Every solver is
    made to fail (stall limit 0) and ``max_rtol = rtol`` forbids loosening, so the floor
    test is the only difference; ``floor_wprod`` is set to the start's ``||w_prod||``."""
    monkeypatch.setattr(flow, "SEGMENT_STEPS", 0)
    start = float(np.linalg.norm(net.end_to_end(tiny_problem()[1])))
    kw = dict(checkpoints=[0.5], max_rtol=1e-10, floor_stiffness=np.inf)
    tr = run(floor_wprod=start, **kw)
    assert tr.stop_reason == "float64_floor" and len(tr.checkpoints) == 1
    assert [f[1] for f in tr.failures] == ["BDF", "LSODA", "Radau"] and tr.escalations == ()
    with pytest.raises(SolverDegradedError, match=r"every solver failed .* at rtol=1e-10"):
        run(floor_wprod=ulp(start, UP), **kw)


def with_log_ratio(fe: flow.FieldEval, x: float) -> flow.FieldEval:
    """``fe`` with ``log_risk`` moved so that ``log_grad_norm - log_risk`` is exactly ``x``
    (searched over the few floats around ``log_grad_norm - x``)."""
    lr = fe.log_grad_norm - x
    for _ in range(8):
        if fe.log_grad_norm - lr == x:
            return replace(fe, log_risk=lr)
        lr = ulp(lr, UP if fe.log_grad_norm - lr > x else DOWN)
    raise AssertionError(f"no float log_risk gives the ratio {x!r} exactly")


def test_sensitivity_cap_at_709() -> None:
    """S-EQ1, S-INV: :func:`flow.sensitivities` turns ``||grad log R|| = exp(x)`` into +inf
    from ``x = 709`` on (no overflow warning) and keeps it finite one ulp below."""
    z, W = tiny_problem()
    fe = flow.evaluate(W, z, LOGISTIC, "lognorm")
    at, below = with_log_ratio(fe, 709.0), with_log_ratio(fe, ulp(709.0, DOWN))
    assert flow.sensitivities(W, z, LOGISTIC, "lognorm", at)[0] == np.inf
    assert np.isfinite(flow.sensitivities(W, z, LOGISTIC, "lognorm", below)[0])
    assert flow.sensitivities(W, z, LOGISTIC, "risk", at)[1] == np.inf
    assert np.isfinite(flow.sensitivities(W, z, LOGISTIC, "risk", below)[1])


def test_a_guard_failing_on_every_solver_is_what_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """S-EQ1: a risk guard that trips on every solver's first step (allowance ``-inf``, a
    planted bug) is redone with each solver in turn and then raised as the guard's own
    RiskIncreaseError, not as a generic solver failure, with the path so far attached."""
    monkeypatch.setattr(flow, "risk_rise_allowance", lambda *args: -np.inf)
    with pytest.raises(RiskIncreaseError, match=r"every solver failed .* guard: log R rose") as exc:
        run(checkpoints=[0.5], max_rtol=1e-10)
    assert [f[1] for f in exc.value.partial.failures] == ["BDF", "LSODA", "Radau"]
    assert len(exc.value.partial.checkpoints) == 1
