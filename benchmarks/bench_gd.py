"""Cost of one gradient-descent step under the step rule A5, against a plain numpy loop.

Run from the repository root::

    python -m benchmarks.bench_gd

Problem: depth 4 deep linear network (hidden widths 5) on n = 20, d = 5
separable data with the logistic loss; data and initialisation from
:mod:`benchmarks.bench_flow` (``make_data(0)``, ``make_init(0, 4, z)``).

- **A5**: :func:`invariants.dynamics.gd.gradient_descent` with ``rule="A5"`` (the
  line search on ``R_t``, the S-EQ29 accumulators ``P_k``, ``Q_k``, the risk
  and every iterate recorded), ``STEPS`` steps.
- **fixed**: the same library function with ``rule="fixed"`` and the A5
  step at ``W(0)`` (same bookkeeping, no line search).  Also the reference the
  plain loop is validated against.
- **plain**: a hand-written numpy loop of the fixed-step update
  ``W_k <- W_k - eta s_k (P_k grad R(w))^T`` (margins, sigmoid weights,
  prefix products and suffix vectors; no library calls), with the same eta.

Each variant runs ``STEPS`` steps ``REPS`` times, interleaved, timed with
:func:`time.process_time`; the median per-step time is reported.  The target
(the project issue): A5 costs at most 1.5x the plain loop per step.  Then one
A5 run is profiled with cProfile (top functions by tottime).

Results are printed and written to ``benchmarks/results/gd.json``
(schema ``invariants.bench.gd/1``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_flow import WIDTH, D, N, environment, make_data, make_init
from invariants.core.losses import LOGISTIC
from invariants.dynamics import gd

SCHEMA = "invariants.bench.gd/1"
DEPTH = 4
SEED = 0
STEPS = 5000
REPS = 5
TARGET_RATIO = 1.5  # A5 per-step cost / plain loop per-step cost (the project issue)
# A bare A5 step at this size: docs/numerics.md, "Gradient descent under the step rule A5".
BASELINE_RANGE_US = (20.0, 40.0)
PROFILE_TOP = 8
RESULTS = Path(__file__).resolve().parent / "results" / "gd.json"


def plain_gd(z: np.ndarray, initial, eta: float, steps: int) -> list[np.ndarray]:
    """``steps`` fixed-step GD updates on the logistic risk, in plain numpy.

    ``w = (W_L ... W_1)^T``, margins ``m = Z w``, ``grad R(w) = -(1/n) Z^T sigma(-m)``;
    ``dR/dW_k = s_k (P_k grad R(w))^T`` with ``P_k = W_{k-1} ... W_1`` and
    ``s_k^T = W_L ... W_{k+1}``.  All layers are updated from the old weights.
    """
    W = [np.array(M, dtype=np.float64) for M in initial]
    n, d = z.shape
    L = len(W)
    eye = np.eye(d)
    one = np.ones(1)
    for _ in range(steps):
        P = [eye]
        for M in W[:-1]:
            P.append(M @ P[-1])
        w = (W[-1] @ P[-1])[0]
        m = z @ w
        weights = np.exp(-np.logaddexp(0.0, m))  # sigma(-m) = -loss'(m), no overflow
        g = -(weights @ z) / n
        s = one
        for k in range(L - 1, -1, -1):
            G = np.outer(s, P[k] @ g)
            s = W[k].T @ s  # the suffix from the old W_k, before its update
            W[k] = W[k] - eta * G
    return W


def _time(fn) -> tuple[float, object]:
    c0 = time.process_time()
    out = fn()
    return time.process_time() - c0, out


def run(steps: int = STEPS, reps: int = REPS) -> dict:
    z, _ = make_data(SEED)
    W0, draws = make_init(SEED, DEPTH, z)
    R0 = max(1.0, gd.max_frobenius(W0))
    eta = gd.a5_step(R0, DEPTH, LOGISTIC)

    variants = {
        "a5": lambda: gd.gradient_descent(z, W0, LOGISTIC, steps),
        "fixed": lambda: gd.gradient_descent(z, W0, LOGISTIC, steps, rule="fixed", eta=eta),
        "plain": lambda: plain_gd(z, W0, eta, steps),
    }
    # Warm-up: first-call costs (imports, caches) out of the timings.
    gd.gradient_descent(z, W0, LOGISTIC, 50)
    gd.gradient_descent(z, W0, LOGISTIC, 50, rule="fixed", eta=eta)
    plain_gd(z, W0, eta, 50)

    times: dict[str, list[float]] = {k: [] for k in variants}
    last: dict[str, object] = {}
    for _ in range(reps):  # interleaved, so drifts of the machine hit every variant alike
        for name, fn in variants.items():
            t, out = _time(fn)
            times[name].append(t)
            last[name] = out

    # Validation: the plain loop against the library's fixed-rule run (same eta).
    fixed_end = last["fixed"].weights[-1]
    plain_end = last["plain"]
    rel = max(
        float(np.linalg.norm(a - b) / np.linalg.norm(b))
        for a, b in zip(plain_end, fixed_end, strict=True)
    )
    a5 = last["a5"]
    us = {k: 1e6 * float(np.median(v)) / steps for k, v in times.items()}
    ratio = us["a5"] / us["plain"]
    return {
        "problem": {
            "depth": DEPTH,
            "n": N,
            "d": D,
            "width": WIDTH,
            "loss": "logistic",
            "seed": SEED,
            "init_draws": draws,
            "R0": R0,
            "eta_fixed": eta,
        },
        "steps": steps,
        "reps": reps,
        "cpu_seconds": times,
        "us_per_step_median": us,
        "ratio_a5_over_plain": ratio,
        "ratio_fixed_over_plain": us["fixed"] / us["plain"],
        "target_ratio": TARGET_RATIO,
        "pass": bool(ratio <= TARGET_RATIO),
        "validation": {
            "plain_vs_library_fixed_max_rel_diff": rel,
            "a5_final_radius": float(a5.radius[-1]),
            "a5_radius_growths": int(np.count_nonzero(np.diff(a5.radius) > 0)),
            "a5_final_eta": float(a5.eta[-1]),
            "a5_final_max_frobenius": gd.max_frobenius(a5.weights[-1]),
            "a5_final_log_risk": float(a5.log_risk[-1]),
        },
    }


def profile_a5(steps: int = STEPS, top: int = PROFILE_TOP) -> str:
    """cProfile one A5 run; the top functions by tottime."""
    z, _ = make_data(SEED)
    W0, _ = make_init(SEED, DEPTH, z)
    prof = cProfile.Profile()
    prof.enable()
    gd.gradient_descent(z, W0, LOGISTIC, steps)
    prof.disable()
    buf = io.StringIO()
    buf.write(f"cProfile: one A5 run, depth {DEPTH}, {steps} steps, top {top} by tottime\n")
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--reps", type=int, default=REPS)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    res = run(args.steps, args.reps)
    us = res["us_per_step_median"]
    p = res["problem"]
    v = res["validation"]
    print(
        f"GD step cost: depth {p['depth']}, n={p['n']}, d={p['d']}, hidden widths {p['width']}, "
        f"logistic; {res['steps']} steps x {res['reps']} reps (median, process_time)"
    )
    print(f"  A5 (library, line search + S-EQ29 accumulators): {us['a5']:8.2f} us/step")
    print(f"  fixed step (library, eta = {p['eta_fixed']:.4g}):        {us['fixed']:8.2f} us/step")
    print(f"  plain numpy loop (same eta):                      {us['plain']:8.2f} us/step")
    print(
        f"  ratio A5 / plain = {res['ratio_a5_over_plain']:.2f}x "
        f"(fixed / plain = {res['ratio_fixed_over_plain']:.2f}x)"
    )
    print(
        f"  validation: plain vs library fixed-rule final weights, max rel diff "
        f"{v['plain_vs_library_fixed_max_rel_diff']:.2e}; A5 grew R {v['a5_radius_growths']} "
        f"times to {v['a5_final_radius']:g} (final eta {v['a5_final_eta']:.3g}, "
        f"max_k ||W_k||_F {v['a5_final_max_frobenius']:.4g})"
    )
    verdict = "PASS" if res["pass"] else "MISS"
    print(
        f"{verdict}  A5 per-step cost <= {TARGET_RATIO}x the plain loop: "
        f"{res['ratio_a5_over_plain']:.2f}x"
    )
    lo, hi = BASELINE_RANGE_US
    print(
        f"note: a bare A5 step costs {lo:g}-{hi:g} us at this size (docs/numerics.md); "
        f"measured {us['a5']:.1f} us (plain loop {us['plain']:.1f} us)"
    )
    profile = profile_a5(args.steps)
    print("\n" + profile)

    result = {
        "schema": SCHEMA,
        "created_unix": time.time(),
        "environment": environment(),
        **res,
        "profile": profile,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
