"""Per-band accuracy of the default flow against independent references (issue 18, item 5).

Run from the repository root::

    python -m benchmarks.bench_accuracy [--late 1e9 1e10] [--max-wprod 1e12]

Problems: the six of issue 12 (docs/numerics.md, "Gradient flow: solver choice and error budget"):
n = 20, d = 5, hidden widths 5, depths 1, 2, 4, 6 with the logistic loss and 2, 4 with
the exponential loss; data and initialisation of :mod:`benchmarks.bench_flow` (the
first seed whose data satisfy A3, so that Soudry's offset exists).

For each problem and each switch point ``late_wprod`` (BDF below it, LSODA above), one
default run to ``||w_prod|| = max_wprod``, and two references:

- **Radau** at rtol 1e-12 (atol 1e-14) landing exactly on every checkpoint of the run
  (a guarded :func:`flow.gradient_flow` with explicit checkpoints), as far as it gets
  within ``--ref-budget`` CPU seconds;
- at depth 1, **Soudry's exact limit** ``p`` (:func:`limits.soudry_offset`): there
  ``w_perp(t) - p`` decays like ``t^(-delta)``, ``log t ~ gamma ||w||``, so above
  ``||w|| = 1e5`` the limit is exact to far below float64.

Per decade band of ``||w_prod||``: the largest relative ``w_perp`` error
``||P w - P w_ref|| / max(||P w_ref||, 1)``, the largest eq. 2 relative drift of the
run's checkpoints, and the ratios of the run's error bars to the measured errors
(``log_time_error`` against ``|log t - log t_ref|``; ``perp_error`` of
:func:`reference.with_perp_error`, below ``--perp-limit``, against the Radau distance).
Printed, and written as JSON to ``benchmarks/results/accuracy.json`` (the switch at 1e9,
1e10, 1e11, measured before issue 18 changed the library).  ``results/accuracy_perp_error.json``
is ``--late 1e10 --perp-limit 1e10 --ref-limit 1.2e10 --only 0 1 4`` after it: the ratio of
:func:`reference.with_perp_error` to the measured error per band (``perp_ratio_*``).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from benchmarks.bench_flow import make_data, make_init
from invariants.core import bounds, limits
from invariants.core import network as net
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin, perp
from invariants.dynamics import flow, reference

PROBLEMS = (
    (1, LOGISTIC),
    (2, LOGISTIC),
    (4, LOGISTIC),
    (6, LOGISTIC),
    (2, EXPONENTIAL),
    (4, EXPONENTIAL),
)
RESULTS = Path(__file__).resolve().parent / "results" / "accuracy.json"


def a3_problem(depth: int, loss) -> tuple[np.ndarray, net.Weights, int]:
    """The first seed whose data have exactly d support vectors of positive dual weight."""
    for seed in range(50):
        z, _ = make_data(seed)
        mm = max_margin(z)
        try:
            limits.soudry_offset(z, mm)
        except Exception:
            continue
        W0, _ = make_init(seed, depth, z)
        if not net.satisfies_a2(W0, z, loss):
            W0 = (*W0[:-1], -W0[-1])
        if net.satisfies_a2(W0, z, loss):
            return z, W0, seed
    raise RuntimeError("no A3 seed")


def band_of(x: float) -> int:
    return math.floor(math.log10(x)) if x > 0 else -99


def radau_reference(
    runs: list[flow.Trajectory], budget: float, limit: float
) -> flow.Trajectory | None:
    """Radau rtol 1e-12 landing on every run's checkpoints up to ``||w_prod|| <= limit``."""
    s = sorted(
        {
            c.s
            for tr in runs
            for c, x in zip(tr.checkpoints[1:], tr.wprod_norm()[1:], strict=True)
            if x <= limit
        }
    )
    tr = runs[0]
    t0 = time.process_time()
    try:
        return flow.gradient_flow(
            tr.z,
            tr.initial,
            tr.loss,
            method="Radau",
            late_method=None,
            rtol=1e-12,
            atol=1e-14,
            checkpoints=s,
            max_wprod=np.inf,
            max_frobenius=np.inf,
            stop_when=lambda c: time.process_time() - t0 > budget,
        )
    except Exception as exc:
        return getattr(exc, "partial", None)


def run(depth: int, loss, late: float, args) -> tuple[flow.Trajectory, float]:
    z, W0, _ = a3_problem(depth, loss)
    c0 = time.process_time()
    tr = flow.gradient_flow(
        z, W0, loss, max_frobenius=np.inf, max_wprod=args.max_wprod, late_wprod=late
    )
    return tr, time.process_time() - c0


def measure(depth: int, loss, late: float, tr, cpu, ref, args) -> dict:
    z, _W0, seed = a3_problem(depth, loss)
    mm = max_margin(z)
    ref_cp = {round(c.s, 12): c for c in (ref.checkpoints[1:] if ref else [])}
    perp_est = {}
    if args.perp_limit > 0:
        nw = tr.wprod_norm()
        keep = int(np.searchsorted(nw, args.perp_limit, side="right"))
        short = flow.Trajectory(**{**tr.__dict__, "checkpoints": tr.checkpoints[: max(keep, 2)]})
        est = reference.with_perp_error(short, mm.ubar)
        perp_est = {round(c.s, 12): c.perp_error for c in est.checkpoints}
    soudry = limits.soudry_offset(z, mm) if depth == 1 else None
    bands: dict[int, dict] = {}
    for c in tr.checkpoints[1:]:
        w = net.end_to_end(c.weights)
        x = float(np.linalg.norm(w))
        b = bands.setdefault(
            band_of(x),
            {"radau": 0.0, "soudry": 0.0, "drift": 0.0, "time_ratio": [], "perp_ratio": [], "n": 0},
        )
        b["n"] += 1
        nn = bounds.frobenius_sq(c.weights)
        if len(c.weights) > 1:
            drift = flow.eq2_drift(tr.initial, c.weights) / (nn[:-1] + nn[1:])
            b["drift"] = max(b["drift"], float(np.max(drift)))
        p = perp(w[None, :], mm.ubar)[0]
        r = ref_cp.get(round(c.s, 12))
        if r is not None:
            wr = net.end_to_end(r.weights)
            pr = perp(wr[None, :], mm.ubar)[0]
            err = float(np.linalg.norm(p - pr) / max(np.linalg.norm(pr), 1.0))
            b["radau"] = max(b["radau"], err)
            gap = abs(c.log_time - r.log_time)
            if gap > 0:
                b["time_ratio"].append(c.log_time_error / gap)
            pe = perp_est.get(round(c.s, 12))
            if pe is not None and np.isfinite(pe) and err > 0:
                b["perp_ratio"].append(pe / err)
        if soudry is not None and x >= 1e5:
            err = float(np.linalg.norm(p - soudry) / max(np.linalg.norm(soudry), 1.0))
            b["soudry"] = max(b["soudry"], err)
    out = {}
    for k in sorted(bands):
        b = bands[k]
        tr_, pr_ = b.pop("time_ratio"), b.pop("perp_ratio")
        b["time_ratio_median"] = float(np.median(tr_)) if tr_ else None
        b["time_ratio_min"] = float(np.min(tr_)) if tr_ else None
        b["perp_ratio_median"] = float(np.median(pr_)) if pr_ else None
        b["perp_ratio_min"] = float(np.min(pr_)) if pr_ else None
        out[f"1e{k}"] = b
    return {
        "depth": depth,
        "loss": loss.name,
        "seed": seed,
        "late_wprod": late,
        "cpu": cpu,
        "steps": tr.work.steps,
        "stop": tr.stop_reason,
        "final_wprod": float(tr.wprod_norm()[-1]),
        "failures": [f[1] + ": " + f[3][:60] for f in tr.failures],
        "ref_reach": float(ref.wprod_norm()[-1]) if ref else None,
        "bands": out,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--late", type=float, nargs="+", default=[1e9, 1e10])
    ap.add_argument("--max-wprod", type=float, default=1e12)
    ap.add_argument("--ref-budget", type=float, default=120.0)
    ap.add_argument("--ref-limit", type=float, default=1e12)
    ap.add_argument("--perp-limit", type=float, default=0.0)
    ap.add_argument("--only", type=int, nargs="*", default=None)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    rows = []
    for i, (depth, loss) in enumerate(PROBLEMS):
        if args.only is not None and i not in args.only:
            continue
        runs = [run(depth, loss, late, args) for late in args.late]
        ref = radau_reference([r[0] for r in runs], args.ref_budget, args.ref_limit)
        for late, (tr, cpu) in zip(args.late, runs, strict=True):
            row = measure(depth, loss, late, tr, cpu, ref, args)
            rows.append(row)
            print(
                f"depth {depth} {loss.name} late {late:.0e}: cpu {row['cpu']:.2f}s "
                f"stop {row['stop']} final {row['final_wprod']:.2e} ref to {row['ref_reach']}",
                flush=True,
            )
            for k, b in row["bands"].items():
                print(
                    f"   {k:>6}: radau {b['radau']:.2e} soudry {b['soudry']:.2e} drift "
                    f"{b['drift']:.1e} time-bar/err {b['time_ratio_median']} "
                    f"perp-bar/err {b['perp_ratio_median']} n={b['n']}",
                    flush=True,
                )
            args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
