"""How far a gradient-flow trajectory reaches: our integrator against a naive baseline.

Run from the repository root::

    python -m benchmarks.bench_flow            # the benchmark (~1-2 min CPU)
    python -m benchmarks.bench_flow --profile  # also cProfile one depth-4 run to 1e12

Problems: depth 4 and depth 6 deep linear networks (hidden widths 5) on
n = 20, d = 5 separable data with the logistic loss, seeds 0..4.

- **Ours**: :func:`invariants.dynamics.flow.gradient_flow` with its defaults (BDF
  below ``||w_prod|| = 1e9`` and LSODA above, with solver fallbacks, ``lognorm``
  clock, rtol 1e-10, atol 1e-12, analytic Jacobian; the integrator's label is read
  from its signature, :func:`integrator`), stopped at
  ``max_k ||W_k||_F >= T`` or ``||w_prod|| >= 1e12``.  Each target T is a
  *separate* run timed with :func:`time.process_time`, so each CPU figure is
  the full cost of reaching that target from ``W(0)`` (the library records no
  per-checkpoint CPU time).  The eq. 2 drift is the trajectory's own
  ``max_drift_rel``, measured after every accepted step.
- **Baseline**: ``scipy.integrate.solve_ivp(method="RK45")`` on raw time with
  the plain field ``dW/dt = -grad R = -exp(log_scale) * G`` (which underflows
  to 0 once the margins pass ~745), rtol 1e-10, atol 1e-12, ``t_span = (0,
  1e300)``, a terminal event at ``max_k ||W_k||_F >= max(T)`` and a terminal
  CPU-budget event.  One run per seed; the CPU time at which each target is
  first crossed comes from a per-step log kept by the event function.
- **Ratio** (the figure of merit; absolute times on a shared machine are
  noise): the baseline's CPU to first reach its own maximum ``F_b = max_k
  ||W_k||_F``, over our CPU to reach ``F_b`` (a separate run of ours with
  ``max_frobenius = F_b``).

Relative eq. 2 drift: ``max_k ||I_k(W) - I_k(W(0))||_F / (||W_k||_F^2 +
||W_{k+1}||_F^2)`` with ``I_k = W_{k+1}^T W_{k+1} - W_k W_k^T``, max over
every accepted step.

Results are printed and written to ``benchmarks/results/flow.json``
(schema ``invariants.bench.flow/1``).  Every result's ``environment`` holds the sha256
of every module of this repository the run imported (:func:`environment`), so the
report marks a result measured on other code as stale.
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import json
import os
import platform
import pstats
import sys
import time
from pathlib import Path

import numpy as np
import scipy
from scipy.integrate import solve_ivp

from invariants.core import bounds
from invariants.core import network as net
from invariants.core.data import make_dataset
from invariants.core.losses import LOGISTIC
from invariants.dynamics import flow
from invariants.errors import TrajectoryError
from invariants.report.benchmarks import EDITED_KEY, SOURCE_KEY, source_hashes

SCHEMA = "invariants.bench.flow/1"
N, D, WIDTH = 20, 5, 5
MARGIN = 0.05
DEPTHS = (4, 6)
TARGETS = (10.0, 100.0, 1000.0)
MAX_WPROD = 1e12
RTOL, ATOL = 1e-10, 1e-12  # both integrators
BASELINE_T_END = 1e300
# The project issue's targets.
ISSUE_CPU = {4: 0.5, 6: 1.5}  # median CPU seconds to ||w_prod|| >= 1e12
ISSUE_DRIFT = 1e-11
RESULTS = Path(__file__).resolve().parent / "results" / "flow.json"
ROOT = Path(__file__).resolve().parents[1]  # the checkout whose code is timed
# The code as imported, before anything is timed; compared with the files after the run.
SOURCES_AT_START = source_hashes(sys.modules, ROOT)


# --- problems ------------------------------------------------------------------------------


def make_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Separable data: ``z`` (n x d) with ``<ubar, z_i> >= MARGIN``, and the unit ``ubar``.

    Points uniform in the unit ball with ``|<ubar, x>| >= MARGIN`` (rejection),
    random labels, each point reflected so that its label agrees with ubar.
    Validated by :func:`make_dataset`.
    """
    rng = np.random.default_rng(seed)
    ubar = rng.standard_normal(D)
    ubar /= np.linalg.norm(ubar)
    xs: list[np.ndarray] = []
    while len(xs) < N:
        v = rng.standard_normal(D)
        x = v / np.linalg.norm(v) * rng.random() ** (1.0 / D)
        if abs(float(x @ ubar)) >= MARGIN:
            xs.append(x)
    x = np.array(xs)
    y = rng.choice([-1.0, 1.0], size=N)
    x *= (np.sign(x @ ubar) * y)[:, None]  # now y_i <ubar, x_i> = |<ubar, x_i>| >= MARGIN
    ds = make_dataset(x, y)
    assert np.min(ds.z @ ubar) >= MARGIN
    return np.array(ds.z), ubar


def make_init(seed: int, depth: int, z: np.ndarray) -> tuple[net.Weights, int]:
    """Gaussian init, std ``0.3 / sqrt(fan_in)``, satisfying A2 (``R(W(0)) <= log 2``).

    W_L's sign is flipped if that fixes A2; at depth 6 the product is so small
    that second-order terms can make both signs fail, and then the draw is
    repeated.  Returns the weights and the number of draws used.
    """
    rng = np.random.default_rng((seed, depth))
    shapes = net.layer_shapes(D, [WIDTH] * (depth - 1))
    for draw in range(1, 1001):
        W = [rng.standard_normal(s) * 0.3 / np.sqrt(s[1]) for s in shapes]
        if not net.satisfies_a2(tuple(W), z, LOGISTIC):
            W[-1] = -W[-1]
        if net.satisfies_a2(tuple(W), z, LOGISTIC):
            return net.as_weights(W, d=D), draw
    raise RuntimeError(f"no A2 initialisation found for seed {seed}, depth {depth}")


def max_frobenius(weights: net.Weights) -> float:
    return float(np.sqrt(np.max(bounds.frobenius_sq(weights))))


def relative_drift(initial: net.Weights, weights: net.Weights) -> float:
    """Max over k of the relative eq. 2 drift (module docstring)."""
    nn = bounds.frobenius_sq(weights)
    return float(np.max(flow.eq2_drift(initial, weights) / (nn[:-1] + nn[1:])))


# --- ours ----------------------------------------------------------------------------------


def run_ours(z: np.ndarray, W0: net.Weights, target: float, max_wprod: float = MAX_WPROD) -> dict:
    """One guarded run of :func:`flow.gradient_flow`, timed with process_time."""
    error = None
    c0 = time.process_time()
    try:
        tr = flow.gradient_flow(z, W0, LOGISTIC, max_frobenius=target, max_wprod=max_wprod)
    except TrajectoryError as exc:  # a guard tripped: report the path so far
        tr, error = exc.partial, f"{type(exc).__name__}: {exc}"
    cpu = time.process_time() - c0
    F = tr.max_frobenius()[-1]
    wprod = tr.wprod_norm()[-1]
    return {
        "target_frobenius": target if np.isfinite(target) else None,
        "max_wprod": max_wprod,
        "cpu_seconds": cpu,
        "reached": bool(F >= target or wprod >= max_wprod),
        "frobenius": float(F),
        "wprod": float(wprod),
        "drift_rel": float(tr.max_drift_rel),
        "stop_reason": tr.stop_reason,
        "error": error,
        "steps": tr.work.steps,
        "nfev": tr.work.nfev,
        "njev": tr.work.njev,
        "final_method": tr.method,
        "final_rtol": tr.rtol,
        "failures": [list(f) for f in tr.failures],
        "checkpoints": len(tr.checkpoints),
    }


# --- baseline ------------------------------------------------------------------------------


def run_baseline(z: np.ndarray, W0: net.Weights, targets: tuple[float, ...], budget: float) -> dict:
    """RK45 on raw time with the plain (underflowing) gradient field."""
    shapes = [W.shape for W in W0]
    log_cpu: list[float] = []
    log_F: list[float] = []
    c0 = time.process_time()

    def field(t: float, y: np.ndarray) -> np.ndarray:
        g = net.layer_gradients(net.unflatten(y, shapes), z, LOGISTIC)
        return -np.exp(g.log_scale) * net.flatten(g.layers)

    def reach(t: float, y: np.ndarray) -> float:
        F = max_frobenius(net.unflatten(y, shapes))
        log_cpu.append(time.process_time() - c0)
        log_F.append(F)
        return F - max(targets)

    def out_of_budget(t: float, y: np.ndarray) -> float:
        return budget - (time.process_time() - c0)

    reach.terminal = True  # type: ignore[attr-defined]
    out_of_budget.terminal = True  # type: ignore[attr-defined]
    sol = solve_ivp(
        field,
        (0.0, BASELINE_T_END),
        net.flatten(W0),
        method="RK45",
        rtol=RTOL,
        atol=ATOL,
        events=[reach, out_of_budget],
    )
    cpu = time.process_time() - c0
    if sol.status == 1:
        stop = "max_frobenius" if sol.t_events[0].size else "cpu_budget"
    else:
        stop = "t_end" if sol.status == 0 else f"failed: {sol.message}"
    drift = max(relative_drift(W0, net.unflatten(sol.y[:, j], shapes)) for j in range(sol.t.size))
    Wend = net.unflatten(sol.y[:, -1], shapes)
    F = np.array(log_F)
    cpu_log = np.array(log_cpu)
    i_max = int(np.argmax(F))
    margins = z @ net.end_to_end(Wend)
    first = {}
    for T in targets:
        hit = np.flatnonzero(F >= T)
        first[str(T)] = float(cpu_log[hit[0]]) if hit.size else None
    return {
        "cpu_seconds": cpu,
        "cpu_budget": budget,
        "stop_reason": stop,
        "status": int(sol.status),
        "message": sol.message,
        "t_end": float(sol.t[-1]),
        "frobenius": float(F[i_max]),
        "cpu_to_max_frobenius": float(cpu_log[i_max]),
        "cpu_to_target": first,
        "wprod": float(np.linalg.norm(net.end_to_end(Wend))),
        "min_margin": float(np.min(margins)),
        "drift_rel": drift,
        "steps": int(sol.t.size - 1),
        "nfev": int(sol.nfev),
    }


# --- the benchmark -------------------------------------------------------------------------


def median(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.median(xs)) if xs else None


def fmt(x, spec: str = ".3g") -> str:
    return "-" if x is None else format(x, spec)


def bench_depth(depth: int, seeds: list[int], budget: float) -> dict:
    per_seed = []
    for seed in seeds:
        z, _ = make_data(seed)
        W0, draws = make_init(seed, depth, z)
        ours = [run_ours(z, W0, T) for T in TARGETS]
        # Time to ||w_prod|| >= 1e12: the largest-target run if it got there,
        # else a dedicated run without a Frobenius stop.
        to_wprod = ours[-1]
        if to_wprod["wprod"] < MAX_WPROD:
            to_wprod = run_ours(z, W0, np.inf)
        base = run_baseline(z, W0, TARGETS, budget)
        at_base = run_ours(z, W0, base["frobenius"])
        ratio = (
            base["cpu_to_max_frobenius"] / at_base["cpu_seconds"]
            if at_base["frobenius"] >= base["frobenius"]
            else None
        )
        per_seed.append(
            {
                "seed": seed,
                "init_draws": draws,
                "ours": ours,
                "ours_to_wprod": to_wprod,
                "baseline": base,
                "ours_at_baseline_frobenius": at_base,
                "ratio": ratio,
            }
        )
    summary = {
        "targets": [
            {
                "target_frobenius": T,
                "reached_frobenius": sum(s["ours"][i]["frobenius"] >= T for s in per_seed),
                "stopped_by_wprod": sum(
                    s["ours"][i]["stop_reason"] == "max_wprod" for s in per_seed
                ),
                "median_cpu_seconds": median(s["ours"][i]["cpu_seconds"] for s in per_seed),
                "median_frobenius": median(s["ours"][i]["frobenius"] for s in per_seed),
                "median_wprod": median(s["ours"][i]["wprod"] for s in per_seed),
                "max_drift_rel": max(s["ours"][i]["drift_rel"] for s in per_seed),
                "median_steps": median(s["ours"][i]["steps"] for s in per_seed),
                "stop_reasons": sorted({s["ours"][i]["stop_reason"] for s in per_seed}),
                "solver_fallbacks": sum(len(s["ours"][i]["failures"]) for s in per_seed),
            }
            for i, T in enumerate(TARGETS)
        ],
        "to_wprod": {
            "reached": sum(s["ours_to_wprod"]["wprod"] >= MAX_WPROD for s in per_seed),
            "median_cpu_seconds": median(s["ours_to_wprod"]["cpu_seconds"] for s in per_seed),
        },
        "baseline": {
            "median_frobenius": median(s["baseline"]["frobenius"] for s in per_seed),
            "median_wprod": median(s["baseline"]["wprod"] for s in per_seed),
            "median_cpu_seconds": median(s["baseline"]["cpu_seconds"] for s in per_seed),
            "median_cpu_to_max_frobenius": median(
                s["baseline"]["cpu_to_max_frobenius"] for s in per_seed
            ),
            "max_drift_rel": max(s["baseline"]["drift_rel"] for s in per_seed),
            "median_steps": median(s["baseline"]["steps"] for s in per_seed),
            "stop_reasons": sorted({s["baseline"]["stop_reason"] for s in per_seed}),
            "reached": {
                str(T): sum(s["baseline"]["cpu_to_target"][str(T)] is not None for s in per_seed)
                for T in TARGETS
            },
        },
        "ours_at_baseline_frobenius": {
            "median_cpu_seconds": median(
                s["ours_at_baseline_frobenius"]["cpu_seconds"] for s in per_seed
            ),
        },
        "median_ratio": median(s["ratio"] for s in per_seed),
        "ratios": [s["ratio"] for s in per_seed],
    }
    return {
        "depth": depth,
        "shapes": [list(s) for s in net.layer_shapes(D, [WIDTH] * (depth - 1))],
        "seeds": per_seed,
        "summary": summary,
    }


def issue_targets(problems: list[dict]) -> list[dict]:
    out = []
    for p in problems:
        tw = p["summary"]["to_wprod"]
        n = len(p["seeds"])
        # Unreached seeds count as infinitely slow, so a median over them is honest.
        runs = [s["ours_to_wprod"] for s in p["seeds"]]
        cpus = [r["cpu_seconds"] if r["wprod"] >= MAX_WPROD else np.inf for r in runs]
        med = float(np.median(cpus))
        lim = ISSUE_CPU[p["depth"]]
        out.append(
            {
                "name": f"depth {p['depth']}: ||w_prod|| >= 1e12 in <= {lim} s CPU (median)",
                "limit": lim,
                "value": med if np.isfinite(med) else None,
                "detail": f"{tw['reached']}/{n} seeds reached 1e12",
                "pass": bool(med <= lim),
            }
        )
    worst = max(
        r["drift_rel"]
        for p in problems
        for s in p["seeds"]
        for r in [*s["ours"], s["ours_to_wprod"], s["ours_at_baseline_frobenius"]]
    )
    out.append(
        {
            "name": f"relative eq. 2 drift <= {ISSUE_DRIFT:.0e} throughout (every run of ours)",
            "limit": ISSUE_DRIFT,
            "value": worst,
            "detail": "max over every accepted step of every run",
            "pass": bool(worst <= ISSUE_DRIFT),
        }
    )
    return out


def print_report(problems: list[dict], targets: list[dict], budget: float) -> None:
    print(
        f"gradient flow reach: n={N}, d={D}, hidden widths {WIDTH}, logistic loss, "
        f"margin >= {MARGIN}; rtol={RTOL:.0e}, atol={ATOL:.0e}"
    )
    print(f"ours: gradient_flow ({integrator()}, lognorm clock), one run per target")
    print(
        f"baseline: solve_ivp RK45 on raw t in (0, {BASELINE_T_END:.0e}), plain field, "
        f"CPU budget {budget:g} s"
    )
    for p in problems:
        sm = p["summary"]
        n = len(p["seeds"])
        print(f"\n== depth {p['depth']}  ({n} seeds; medians unless marked max) ==")
        print(
            "  (CPU s: median over all seeds of the run's CPU, to its target or to its stop;"
            " reached: seeds with max_k|W_k|F >= target)"
        )
        print(
            f"{'ours: target F':>15} {'reached':>8} {'CPU s':>8} {'max_k|W_k|F':>12} "
            f"{'|w_prod|':>10} {'max drift':>10} {'steps':>7} {'fallbk':>6}  stop"
        )
        for t in sm["targets"]:
            reached = f"{t['reached_frobenius']}/{n}"
            print(
                f"{t['target_frobenius']:>15g} {reached:>8} {fmt(t['median_cpu_seconds']):>8} "
                f"{fmt(t['median_frobenius'], '.4g'):>12} {fmt(t['median_wprod'], '.3e'):>10} "
                f"{fmt(t['max_drift_rel'], '.2e'):>10} {fmt(t['median_steps'], '.0f'):>7} "
                f"{t['solver_fallbacks']:>6}  {','.join(t['stop_reasons'])}"
            )
        tw = sm["to_wprod"]
        print(f"{'|w_prod|>=1e12':>15} {tw['reached']}/{n:<6} {fmt(tw['median_cpu_seconds']):>8}")
        b = sm["baseline"]
        reached = ", ".join(f"F>={float(T):g}: {c}/{n}" for T, c in b["reached"].items())
        print(
            f"baseline RK45: max_k|W_k|F {fmt(b['median_frobenius'], '.4g')}, |w_prod| "
            f"{fmt(b['median_wprod'], '.3e')}, CPU {fmt(b['median_cpu_seconds'])} s "
            f"(to its max F {fmt(b['median_cpu_to_max_frobenius'])} s), max drift "
            f"{fmt(b['max_drift_rel'], '.2e')}, steps {fmt(b['median_steps'], '.0f')}, "
            f"stop {','.join(b['stop_reasons'])}; targets {reached}"
        )
        ours_b = sm["ours_at_baseline_frobenius"]["median_cpu_seconds"]
        print(
            f"ours to the baseline's max F: CPU {fmt(ours_b)} s;  ratio baseline/ours "
            f"median {fmt(sm['median_ratio'], '.1f')}x  (per seed: "
            f"{', '.join(fmt(r, '.1f') for r in sm['ratios'])})"
        )
        print("per seed: seed | CPU s to F>=10/100/1000 | |w_prod| end | base F, CPU | ratio")
        for s in p["seeds"]:
            o = s["ours"]
            print(
                f"  {s['seed']} | "
                + " / ".join(fmt(r["cpu_seconds"]) for r in o)
                + f" | {o[-1]['wprod']:.3e} ({o[-1]['stop_reason']})"
                + f" | {s['baseline']['frobenius']:.4g}, {s['baseline']['cpu_seconds']:.3g}"
                + f" | {fmt(s['ratio'], '.1f')}"
            )
    print("\n== project issue targets ==")
    for t in targets:
        verdict = "PASS" if t["pass"] else "MISS"
        value = "inf (unreached seeds count as inf)" if t["value"] is None else fmt(t["value"])
        print(f"{verdict}  {t['name']}: {value}  ({t['detail']})")


def profile_run(seed: int = 0, depth: int = 4, top: int = 10) -> str:
    """cProfile one run of ours to ``||w_prod|| >= 1e12``; the top functions by tottime."""
    z, _ = make_data(seed)
    W0, _ = make_init(seed, depth, z)
    prof = cProfile.Profile()
    prof.enable()
    tr = flow.gradient_flow(z, W0, LOGISTIC, max_frobenius=np.inf, max_wprod=MAX_WPROD)
    prof.disable()
    buf = io.StringIO()
    buf.write(
        f"cProfile: depth {depth}, seed {seed}, to |w_prod| >= 1e12: stop {tr.stop_reason}, "
        f"{tr.work}, fallbacks {len(tr.failures)}\n"
    )
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def integrator() -> str:
    """The default integrator of :func:`flow.gradient_flow`, read from its signature."""
    params = inspect.signature(flow.gradient_flow).parameters
    method, late = params["method"].default, params["late_method"].default
    if late is None:
        return f"{method} throughout, fallbacks {'/'.join(flow.FALLBACKS)}"
    return (
        f"{method} below ||w_prod|| = {params['late_wprod'].default:.0e}, {late} above, "
        f"fallbacks {'/'.join(flow.FALLBACKS)}"
    )


def sources() -> dict:
    """The sha256 of every module of this repository imported so far, and those edited.

    Called when the run has finished, so ``sys.modules`` holds every module the
    benchmark ran (``invariants.core``, ``invariants.dynamics``, this script);
    :func:`invariants.report.benchmarks.source_hashes` explains the choice.  A file whose
    content differs from :data:`SOURCES_AT_START` was edited while the run went on:
    the timings then belong to no single version, and the report marks the result
    stale.
    """
    now = source_hashes(sys.modules, ROOT)
    edited = sorted(p for p, h in SOURCES_AT_START.items() if now.get(p) != h)
    return {SOURCE_KEY: now, EDITED_KEY: edited}


def environment() -> dict:
    """The machine, the versions and the code (:func:`sources`) of a finished run."""
    return {
        **sources(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": {v: os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    ap.add_argument("--budget", type=float, default=20.0, help="baseline CPU s per run")
    ap.add_argument("--profile", action="store_true", help="also cProfile a depth-4 run")
    ap.add_argument("--out", type=Path, default=RESULTS, help="JSON output path")
    args = ap.parse_args(argv)

    seeds = list(range(args.seeds))
    c0 = time.process_time()
    z, _ = make_data(0)  # warm-up: first-call costs (imports, solver setup) out of the timings
    run_ours(z, make_init(0, 4, z)[0], 2.0)
    problems = [bench_depth(depth, seeds, args.budget) for depth in DEPTHS]
    targets = issue_targets(problems)
    total = time.process_time() - c0
    print_report(problems, targets, args.budget)
    print(f"\ntotal benchmark CPU: {total:.1f} s")
    profile = None
    if args.profile:
        profile = profile_run()
        print("\n" + profile)

    result = {
        "schema": SCHEMA,
        "created_unix": time.time(),
        "environment": environment(),
        "config": {
            "n": N,
            "d": D,
            "width": WIDTH,
            "margin": MARGIN,
            "loss": "logistic",
            "init": "gaussian std 0.3/sqrt(fan_in), W_L sign flipped (or redrawn) for A2",
            "seeds": seeds,
            "targets_frobenius": list(TARGETS),
            "max_wprod": MAX_WPROD,
            "ours": {
                "function": "invariants.dynamics.flow.gradient_flow",
                "defaults": True,
                "integrator": integrator(),
            },
            "baseline": {
                "method": "RK45",
                "time": "raw",
                "t_end": BASELINE_T_END,
                "cpu_budget_seconds": args.budget,
            },
            "rtol": RTOL,
            "atol": ATOL,
            "timing": "time.process_time, one separate run of ours per target",
        },
        "problems": problems,
        "issue_targets": targets,
        "total_cpu_seconds": total,
        "profile": profile,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=_json_default, allow_nan=False) + "\n")
    print(f"wrote {args.out}")
    return 0


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o)}")


if __name__ == "__main__":
    raise SystemExit(main())
