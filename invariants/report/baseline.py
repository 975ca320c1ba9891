"""The regression baseline (``reports/baseline.json``) and the comparison with it.

Command line (``python -m invariants.report ...``, :mod:`invariants.report.__main__`):

- ``compare BASELINE REPORT``: print the diff table (:func:`compare`,
  :func:`format_comparison`); exit 1 on a regression, 2 when a file is not a
  usable report or baseline.  Either argument may be a baseline or a ``report.json``.
- ``baseline REPORT BASELINE [--accept-failures] [--profile P]`` (:func:`update`):
  validate a report (whole suite, finished, same profile as the old baseline, no
  failing test unless ``--accept-failures``) and write the baseline from it.  The
  only way the baseline changes: nothing else writes it.

Regression rules (each a row marked ``REGRESSION``):

- coverage: a statement checked in the baseline is not checked now (or not
  run, crashed, skipped); it is checked by fewer tests, on fewer examples, or
  by fewer negative controls; a negative control no longer fails as required;
  a held statement became *reachable only*;
- failure: a statement that was not violated is violated; a test that did not
  fail now fails, errors or crashes;
- slack: a worst slack that was <= 1 (or absent) is now > 1;
- flow health (observation ``flow_health``): the median ``max_drift_rel``
  (over the examples with a drift, pooled) grew by more than
  ``noise.drift_decades`` decades, or the median ``log10_wprod_final`` fell
  by more than ``noise.reach_decades`` (per depth when the observation
  records ``depth``, else pooled);
- a figure rendered in the baseline is not rendered now;
- benchmarks: a ratio that is better higher fell below baseline /
  ``noise.benchmark_factor``, one better lower rose above baseline x factor,
  or an issue target that was met is missed.

A subset run (``-k``, paths) is compared only on what it selected: coverage
losses of statements it does not check are not flagged.

The noise model (``NOISE``; stored in the baseline, so each baseline carries the
tolerances it was compared with): the deterministic profiles draw the same
examples on the same commit, so the same commit reproduces every number.  What
moves between commits is the example set (a strategy change re-draws it).
The tolerances are the spread of the per-run medians over independent example
sets, measured on 8 sets of 40 Section 2 flows (the report profile's size,
depths 1-6, stopped at max ||W_k||_F = 100), with a margin; see ``NOISE`` and
the README.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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


def compare(base: dict, new: dict) -> dict:
    """Rows of differences between a baseline and a new report (or baseline)."""
    if new.get("schema", "").startswith("invariants.report/"):
        subset = not new["run"]["selection"]["complete"]
        new = from_report(new)
    else:
        subset = not new.get("selection_complete", True)
    if base["profile"] != new["profile"]:
        raise ReportFormatError(
            f"the baseline is of profile {base['profile']!r} and the run of profile "
            f"{new['profile']!r}: compare runs of one profile (make report uses 'report')"
        )
    noise = {**NOISE, **base.get("noise", {})}
    rows: list[dict] = []

    def row(verdict: str, kind: str, item: str, old: Any, now: Any, rule: str) -> None:
        rows.append(
            {
                "verdict": verdict,
                "kind": kind,
                "item": item,
                "baseline": _show(old),
                "now": _show(now),
                "rule": rule,
            }
        )

    for sid, b in base["statements"].items():
        n = new["statements"].get(sid)
        if n is None:
            row("REGRESSION", "statement", sid, b["status"], "absent", "statement vanished")
            continue
        if subset and n["tests"] == 0 and n["controls"] == 0:
            continue
        if b["status"] in CHECKED and n["status"] not in CHECKED:
            row("REGRESSION", "coverage", sid, b["status"], n["status"], "lost coverage")
        elif b["status"] != "violated" and n["status"] == "violated":
            row("REGRESSION", "failure", sid, b["status"], n["status"], "new failure")
        elif b["status"] == "held" and n["status"] == "reachable only":
            row(
                "REGRESSION",
                "coverage",
                sid,
                b["status"],
                n["status"],
                "held became reachable only",
            )
        elif b["status"] != n["status"]:
            verdict = "improved" if n["status"] in ("held", "erratum") else "changed"
            row(verdict, "status", sid, b["status"], n["status"], "status changed")
        if not subset and n["tests"] < b["tests"]:
            row(
                "REGRESSION",
                "coverage",
                f"{sid} tests",
                b["tests"],
                n["tests"],
                "fewer tests check it",
            )
        if n["examples"] < b["examples"]:
            row(
                "REGRESSION",
                "coverage",
                f"{sid} examples",
                b["examples"],
                n["examples"],
                "fewer examples",
            )
        elif n["examples"] > b["examples"]:
            row(
                "improved",
                "coverage",
                f"{sid} examples",
                b["examples"],
                n["examples"],
                "more examples",
            )
        if not subset and n["controls"] < b["controls"]:
            row(
                "REGRESSION",
                "controls",
                sid,
                b["controls"],
                n["controls"],
                "fewer negative controls",
            )
        if (
            n["controls_failed_as_required"] < n["controls"]
            and b["controls_failed_as_required"] == b["controls"]
        ):
            row(
                "REGRESSION",
                "controls",
                sid,
                f"{b['controls_failed_as_required']}/{b['controls']} fail as required",
                f"{n['controls_failed_as_required']}/{n['controls']} fail as required",
                "a negative control no longer fails",
            )
        bs, ns = b["worst_slack"], n["worst_slack"]
        over = ns is not None and not as_float(ns) <= 1.0
        was_over = bs is not None and not as_float(bs) <= 1.0
        if over and not was_over:
            row("REGRESSION", "slack", sid, bs, ns, "worst slack moved past its bound (> 1)")
        elif bs is not None and ns is not None and as_float(bs) != as_float(ns):
            rel = _rel_change(as_float(bs), as_float(ns))
            if rel is None or abs(rel) > 0.01:
                row(
                    "changed",
                    "slack",
                    sid,
                    bs,
                    ns,
                    "worst slack changed (bound still held)"
                    if not over
                    else "worst slack changed (still past the bound)",
                )
    for sid in new["statements"]:
        if sid not in base["statements"]:
            row(
                "changed",
                "statement",
                sid,
                "absent",
                new["statements"][sid]["status"],
                "new statement",
            )
    for nodeid, outcome in new["tests"].items():
        old = base["tests"].get(nodeid)
        if outcome in FAILING and old not in FAILING:
            row("REGRESSION", "test", nodeid, old or "absent", outcome, "new failure")
        elif outcome == "passed" and old in FAILING:
            row("improved", "test", nodeid, old, outcome, "fixed")
    if not subset:
        for nodeid, outcome in base["tests"].items():
            if nodeid not in new["tests"]:
                row("changed", "test", nodeid, outcome, "absent", "test removed or renamed")
    _compare_health(base, new, noise, subset, row)
    for name, status in base["figures"].items():
        now = new["figures"].get(name, "absent")
        if status == "rendered" and now != "rendered" and not subset:
            row("REGRESSION", "figure", name, status, now, "figure no longer rendered")
        elif status != "rendered" and now == "rendered":
            row("improved", "figure", name, status, now, "figure now rendered")
    factor = float(noise["benchmark_factor"])
    for metric, b in base["benchmarks"].items():
        n = new["benchmarks"].get(metric)
        if n is None:
            row("changed", "benchmark", metric, b["value"], "absent", "benchmark metric gone")
            continue
        bv, nv = b["value"], n["value"]
        if b["better"] == "pass":
            if bv and not nv:
                row("REGRESSION", "benchmark", metric, bv, nv, "issue target now missed")
            elif nv and not bv:
                row("improved", "benchmark", metric, bv, nv, "issue target now met")
            continue
        bv, nv = as_float(bv), as_float(nv)
        if b["better"] == "higher" and nv < bv / factor:
            row("REGRESSION", "benchmark", metric, bv, nv, f"ratio fell by more than x{factor}")
        elif b["better"] == "lower" and nv > bv * factor:
            row("REGRESSION", "benchmark", metric, bv, nv, f"ratio rose by more than x{factor}")
        elif bv != nv:
            row(
                "changed",
                "benchmark",
                metric,
                bv,
                nv,
                f"within x{factor} noise" if max(nv / bv, bv / nv) <= factor else "better",
            )
    order = {"REGRESSION": 0, "changed": 1, "improved": 2}
    rows.sort(key=lambda r: (order.get(r["verdict"], 3), r["kind"], r["item"]))
    return {
        "rows": rows,
        "regressions": sum(r["verdict"] == "REGRESSION" for r in rows),
        "subset": subset,
        "noise": noise,
    }


def _compare_health(base: dict, new: dict, noise: dict, subset: bool, row) -> None:
    bh, nh = base.get("flow_health") or {}, new.get("flow_health") or {}
    if not bh:
        return
    if not nh:
        if not subset:
            row(
                "REGRESSION",
                "flow health",
                FLOW_HEALTH,
                "recorded",
                "absent",
                "observation flow_health no longer recorded",
            )
        return
    minimum = int(noise["min_examples"])

    def enough(b: dict | None, n: dict | None) -> bool:
        return (
            bool(b and n)
            and min(b["n"], n["n"]) >= minimum
            and (b["median"] is not None and n["median"] is not None)
        )

    bd = (bh.get("all") or {}).get("max_drift_rel")
    nd = (nh.get("all") or {}).get("max_drift_rel")
    if enough(bd, nd) and bd["median"] > 0 and nd["median"] > 0:
        up = math.log10(nd["median"]) - math.log10(bd["median"])
        item = "median max_drift_rel"
        if up > noise["drift_decades"]:
            row(
                "REGRESSION",
                "flow health",
                item,
                bd["median"],
                nd["median"],
                f"drift grew by {up:.2f} > {noise['drift_decades']} decades",
            )
        elif up != 0:
            row(
                "changed",
                "flow health",
                item,
                bd["median"],
                nd["median"],
                f"within {noise['drift_decades']} decades" if up > 0 else "smaller drift",
            )
    depth_groups = [g for g in bh if g.startswith("depth ")]
    for g in depth_groups or ["all"]:
        br = (bh.get(g) or {}).get("log10_wprod_final")
        nr = (nh.get(g) or {}).get("log10_wprod_final")
        if not enough(br, nr):
            continue
        down = br["median"] - nr["median"]
        item = f"{g}: median log10_wprod_final"
        if down > noise["reach_decades"]:
            row(
                "REGRESSION",
                "flow health",
                item,
                br["median"],
                nr["median"],
                f"reach fell by {down:.2f} > {noise['reach_decades']} decades",
            )
        elif down != 0:
            row(
                "changed",
                "flow health",
                item,
                br["median"],
                nr["median"],
                f"within {noise['reach_decades']} decades" if down > 0 else "reaches further",
            )


def _rel_change(a: float, b: float) -> float | None:
    if not (math.isfinite(a) and math.isfinite(b)) or a == 0:
        return None
    return (b - a) / abs(a)


def _show(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float | int) and not isinstance(x, bool):
        return f"{x:.4g}" if isinstance(x, float) else str(x)
    return str(x)


def format_comparison(result: dict, base_name: str, new_name: str, markdown: bool = False) -> str:
    """The diff table (plain text, or markdown for comparison.md)."""
    head = f"comparison of {new_name} with {base_name}: " + (
        f"{result['regressions']} REGRESSION(S)" if result["regressions"] else "no regression"
    )
    if result["subset"]:
        head += " (subset run: only what it selected is compared)"
    rows = result["rows"]
    if markdown:
        lines = [f"# {head}", ""]
        if rows:
            lines += [
                "| verdict | kind | item | baseline | now | rule |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {r['verdict']} | {r['kind']} | `{r['item']}` | {r['baseline']} | "
                f"{r['now']} | {r['rule']} |"
                for r in rows
            ]
        else:
            lines.append("No differences.")
        return "\n".join(lines) + "\n"
    lines = [head]
    if rows:
        w_item = min(60, max(len(r["item"]) for r in rows))
        lines.append(
            f"{'verdict':10} {'kind':11} {'item':{w_item}} {'baseline':>16} {'now':>16}  rule"
        )
        for r in rows:
            item = r["item"] if len(r["item"]) <= w_item else "..." + r["item"][-(w_item - 3) :]
            lines.append(
                f"{r['verdict']:10} {r['kind']:11} {item:{w_item}} "
                f"{r['baseline'][:16]:>16} {r['now'][:16]:>16}  {r['rule']}"
            )
    else:
        lines.append("no differences")
    return "\n".join(lines)


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
