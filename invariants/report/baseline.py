"""The regression baseline (``reports/baseline.json``, schema ``invariants.baseline/1``).

:func:`from_report` makes the baseline of a report: what later runs are compared
with (:mod:`.compare`), without series or timings.  :func:`update` is the only way
the committed baseline changes: ``python -m invariants.report baseline REPORT
BASELINE [--accept-failures] [--profile P]`` (``make baseline``) validates a report
(whole suite, finished, same profile as the old baseline, no failing test unless
``--accept-failures``) and writes the baseline from it.

The noise model (``NOISE``; stored in the baseline, so each baseline carries the
tolerances it was compared with): the deterministic profiles draw the same
examples on the same commit, so the same commit reproduces every number.  What
moves between commits is the example set (a strategy change re-draws it).
The tolerances are the spread of the per-run medians over independent example
sets, measured on 8 sets of 40 Section 2 flows (the report profile's size,
depths 1-6, stopped at max ||W_k||_F = 100), with a margin; see ``NOISE`` and
docs/report.md, "The baseline".
"""

from __future__ import annotations

import math
from pathlib import Path

from .files import ReportFormatError, load, write_json
from .records import FAILING
from .values import as_float, stats

SCHEMA = "invariants.baseline/1"

NOISE = {
    # max_drift_rel: median over the examples with a drift (> 0; a depth-1 flow has no
    # eq. 2 invariant), pooled over depths.  Its log10 spread over 8 independent example
    # sets of 40 flows was 0.37 decades; tolerance about 2.7x that.
    "drift_decades": 1.0,
    # log10_wprod_final: median per depth when the observation records 'depth' (spread
    # over the 8 sets at most 0.29 decades), else pooled; tolerance about 1.7x that.
    "reach_decades": 0.5,
    # benchmark ratios: the per-seed spread of the flow speed-up is about +-15%.
    "benchmark_factor": 1.25,
    # a median is compared only over at least this many examples on both sides
    "min_examples": 3,
}

CHECKED = ("held", "reachable only", "erratum", "violated")
FLOW_HEALTH = "flow_health"


def from_report(report: dict) -> dict:
    """The baseline of a report: what later runs are compared with (no series, no timings)."""
    health = _health(report)
    return {
        "schema": SCHEMA,
        "profile": report["run"]["profile"],
        "selection_complete": report["run"]["selection"]["complete"],
        "partial": report["run"]["partial"],
        "statements": {
            row["id"]: {
                "status": row["status"],
                "examples": row["examples"],
                "worst_slack": row["worst_slack"],
                "recorded": row.get("recorded", 0),
                "exercised": row.get("exercised", 0),
                "measures": {k: m.get("median") for k, m in (row.get("measures") or {}).items()},
                "tests": len(row["tests"]),
                "controls": row["controls"]["total"],
                "controls_failed_as_required": row["controls"]["failed_as_required"],
            }
            for row in report["statements"]
        },
        "tests": {t["nodeid"]: t["outcome"] for t in report["tests"]},
        "observations": {name: agg["values"] for name, agg in report["observations"].items()},
        "flow_health": health,
        "figures": {f["name"]: f["status"] for f in report["figures"]},
        "benchmarks": {
            k: {"value": m["value"], "better": m["better"]}
            for k, m in ((report.get("benchmarks") or {}).get("metrics") or {}).items()
        },
        "noise": dict(NOISE),
    }


def _health(report: dict) -> dict:
    """``flow_health`` statistics: drift pooled over depths, reach pooled and per depth.

    Returns {"all": {key: stats}, "depth L": {"log10_wprod_final": stats}, ...};
    zero drifts (depth-1 flows, which have no eq. 2 invariant) are left out.
    """
    groups: dict[str, dict[str, list]] = {}
    for t in report["tests"]:
        for o in t["observations"]:
            if o["name"] != FLOW_HEALTH:
                continue
            v = o["values"]
            if "max_drift_rel" in v and as_float(v["max_drift_rel"]) > 0:
                groups.setdefault("all", {}).setdefault("max_drift_rel", []).append(
                    v["max_drift_rel"]
                )
            if "log10_wprod_final" in v:
                for g in ("all", _depth_key(v)):
                    if g:
                        groups.setdefault(g, {}).setdefault("log10_wprod_final", []).append(
                            v["log10_wprod_final"]
                        )
    return {g: {k: stats(vals) for k, vals in sorted(d.items())} for g, d in sorted(groups.items())}


def _depth_key(values: dict) -> str | None:
    if "depth" not in values:
        return None
    d = as_float(values["depth"])
    return f"depth {int(d)}" if math.isfinite(d) else None


def load_any(path: str | Path) -> dict:
    """A baseline from a baseline file or a report file (validated)."""
    data = load(path, kinds=("invariants.baseline", "invariants.report"))
    return data if data["schema"] == SCHEMA else from_report(data)


def validate_for_baseline(report: dict, path: str, accept_failures: bool) -> list[str]:
    """Reasons a report cannot become the baseline (empty: it can)."""
    reasons = []
    run = report["run"]
    if run["partial"]:
        reasons.append("it is a partial report (the run did not finish)")
    if not run["selection"]["complete"]:
        reasons.append(f"it covers a subset of the suite ({run['selection']['reason']})")
    failing = [t["nodeid"] for t in report["tests"] if t["outcome"] in FAILING]
    not_run = [t["nodeid"] for t in report["tests"] if t["outcome"] in ("not run", "running")]
    if not_run:
        reasons.append(f"{len(not_run)} tests did not run (e.g. {not_run[0]})")
    if failing and not accept_failures:
        reasons.append(
            f"{len(failing)} tests failed or crashed (e.g. {failing[0]}); pass "
            "--accept-failures (make baseline ACCEPT_FAILURES=1) to record them as known"
        )
    return reasons


def update(
    report_path: str, baseline_path: str, accept_failures: bool = False, profile: str | None = None
) -> dict:
    """Validate ``report_path`` and write the baseline from it; return the baseline."""
    report = load(report_path)
    reasons = validate_for_baseline(report, report_path, accept_failures)
    want = profile
    if want is None and Path(baseline_path).exists():
        try:
            want = load(baseline_path, kinds=("invariants.baseline",))["profile"]
        except ReportFormatError:
            want = None  # an unreadable old baseline is replaced
    if want and report["run"]["profile"] != want:
        reasons.append(f"its profile is {report['run']['profile']!r}, the baseline's {want!r}")
    if reasons:
        raise ReportFormatError(
            f"{report_path}: not recorded as the baseline: " + "; ".join(reasons)
        )
    baseline = from_report(report)
    write_json(baseline_path, baseline)
    return baseline
