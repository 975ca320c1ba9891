"""The comparison of a run with the regression baseline: the regression rules.

:func:`compare` lists the differences between a baseline (:mod:`.baseline`) and a
report or another baseline, each a row with its verdict; :func:`format_comparison`
prints them (plain text, or markdown for ``comparison.md``).  The command line is
``python -m invariants.report compare BASELINE REPORT``, and a run compares itself
with ``--invariants-baseline FILE``.

Regression rules (each a row marked ``REGRESSION``):

- coverage: a statement checked in the baseline is not checked now (or not
  run, crashed, skipped); it is checked by fewer tests, on fewer examples, or
  by fewer negative controls; a negative control no longer fails as required;
  a held statement became *reachable only* or *vacuous*; fewer of its examples
  exercised it (could have failed it) than in the baseline;
- failure: a statement that was not violated is violated; a test that did not
  fail now fails, errors or crashes;
- slack: a worst slack that was <= 1 (or absent) is now > 1 or NaN;
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

The tolerances are the baseline's ``noise`` (:data:`.baseline.NOISE`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .baseline import CHECKED, FLOW_HEALTH, NOISE, from_report
from .files import ReportFormatError
from .records import FAILING
from .values import as_float, num

Row = Callable[[str, str, str, Any, Any, str], None]
"""Adds one row: verdict, kind, item, baseline value, current value, rule."""


def compare(base: dict, new: dict) -> dict:
    """Rows of differences between a baseline and a new report (or baseline).

    Returns ``rows`` (verdict ``REGRESSION``, ``changed`` or ``improved``, kind, item,
    baseline and current values, rule), the number of ``regressions``, whether the new
    run was a ``subset`` and the ``noise`` tolerances used.
    """
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

    _compare_statements(base, new, subset, row)
    _compare_tests(base, new, subset, row)
    _compare_health(base, new, noise, subset, row)
    _compare_figures(base, new, subset, row)
    _compare_benchmarks(base, new, noise, row)
    order = {"REGRESSION": 0, "changed": 1, "improved": 2}
    rows.sort(key=lambda r: (order.get(r["verdict"], 3), r["kind"], r["item"]))
    return {
        "rows": rows,
        "regressions": sum(r["verdict"] == "REGRESSION" for r in rows),
        "subset": subset,
        "noise": noise,
    }


def _compare_statements(base: dict, new: dict, subset: bool, row: Row) -> None:
    """Each statement of the baseline (:func:`_compare_statement`); statements now added."""
    for sid, b in base["statements"].items():
        _compare_statement(sid, b, new["statements"].get(sid), subset, row)
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


def _compare_statement(sid: str, b: dict, n: dict | None, subset: bool, row: Row) -> None:
    """One statement: status, coverage (tests, examples, controls) and worst slack."""
    if n is None:
        row("REGRESSION", "statement", sid, b["status"], "absent", "statement vanished")
        return
    if subset and n["tests"] == 0 and n["controls"] == 0:
        return
    if b["status"] in CHECKED and n["status"] not in CHECKED:
        row("REGRESSION", "coverage", sid, b["status"], n["status"], "lost coverage")
    elif b["status"] != "violated" and n["status"] == "violated":
        row("REGRESSION", "failure", sid, b["status"], n["status"], "new failure")
    elif b["status"] == "held" and n["status"] in ("reachable only", "vacuous"):
        row(
            "REGRESSION",
            "coverage",
            sid,
            b["status"],
            n["status"],
            f"held became {n['status']}",
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
    _compare_exercise(sid, b, n, subset, row)
    bs, ns = b["worst_slack"], n["worst_slack"]
    over = ns is not None and not as_float(ns) <= 1.0
    was_over = bs is not None and not as_float(bs) <= 1.0
    if over and not was_over:
        row("REGRESSION", "slack", sid, bs, ns, "worst slack moved past its bound (> 1)")
    elif bs is not None and ns is not None and num(bs) != num(ns):  # "nan" == "nan"
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


def _compare_exercise(sid: str, b: dict, n: dict, subset: bool, row: Row) -> None:
    """Exercised examples (``k of n``) and the medians of a trend statement's measures."""
    # Only between runs whose statement kept its status: a statement that failed, crashed
    # or lost its tests already has its row (no second row for the same loss).
    if "exercised" in b and not subset and b["status"] == n["status"]:
        bk, nk = b["exercised"], n.get("exercised", 0)
        if nk < bk:
            row(
                "REGRESSION",
                "coverage",
                f"{sid} exercised",
                f"{bk} of {b.get('recorded', 0)}",
                f"{nk} of {n.get('recorded', 0)}",
                "exercised on fewer examples",
            )
        elif nk > bk:
            row(
                "improved",
                "coverage",
                f"{sid} exercised",
                f"{bk} of {b.get('recorded', 0)}",
                f"{nk} of {n.get('recorded', 0)}",
                "exercised on more examples",
            )
    for name, old in (b.get("measures") or {}).items():
        now = (n.get("measures") or {}).get(name)
        if old is None or now is None:
            if old != now and not subset:
                row("changed", "measure", f"{sid} {name}", old, now, "measure appeared/vanished")
            continue
        if as_float(old) == as_float(now):
            continue
        rel = _rel_change(as_float(old), as_float(now))
        if rel is None or abs(rel) > 0.01:
            row("changed", "measure", f"{sid} {name}", old, now, "median measure changed")


def renamed_tests(gone: list[str], added: list[str]) -> dict[str, str]:
    """Old node ID -> new, for tests that moved: the same ``name[params]`` after ``::``.

    Among the tests of one name that left and arrived, those whose files share a base
    name pair first (a file moved to another folder); then, if exactly one of each is
    left, those two (a file renamed).  Anything else is ambiguous and stays removed /
    added.
    """

    def by_name(ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for nodeid in ids:
            out.setdefault(nodeid.partition("::")[2], []).append(nodeid)
        return out

    def base(nodeid: str) -> str:
        return nodeid.partition("::")[0].rsplit("/", 1)[-1]

    old, now = by_name(gone), by_name(added)
    pairs: dict[str, str] = {}
    for name, left in old.items():
        arrived = list(now.get(name, ()))
        if not name or not arrived:
            continue
        left = list(left)
        for nodeid in list(left):
            same = [n for n in arrived if base(n) == base(nodeid)]
            if len(same) == 1 and sum(base(o) == base(nodeid) for o in left) == 1:
                pairs[nodeid] = same[0]
                left.remove(nodeid)
                arrived.remove(same[0])
        if len(left) == 1 and len(arrived) == 1:
            pairs[left[0]] = arrived[0]
    return pairs


def _compare_tests(base: dict, new: dict, subset: bool, row: Row) -> None:
    """New failures, fixed tests, renamed, removed and added tests."""
    for nodeid, outcome in new["tests"].items():
        old = base["tests"].get(nodeid)
        if outcome in FAILING and old not in FAILING:
            row("REGRESSION", "test", nodeid, old or "absent", outcome, "new failure")
        elif outcome == "passed" and old in FAILING:
            row("improved", "test", nodeid, old, outcome, "fixed")
        elif old is not None and outcome != old:  # e.g. passed -> not run, skipped
            row("changed", "test", nodeid, old, outcome, "outcome changed")
    if not subset:
        gone = [t for t in base["tests"] if t not in new["tests"]]
        added = [t for t in new["tests"] if t not in base["tests"]]
        moved = renamed_tests(gone, added)
        for old_id, new_id in moved.items():
            row("changed", "test", old_id, "", new_id, "test renamed (moved)")
        for nodeid in gone:
            if nodeid not in moved:
                row("changed", "test", nodeid, base["tests"][nodeid], "absent", "test removed")
        arrived = set(moved.values())
        for nodeid in added:
            if nodeid not in arrived:
                row("changed", "test", nodeid, "absent", new["tests"][nodeid], "test added")


def _compare_figures(base: dict, new: dict, subset: bool, row: Row) -> None:
    """Figures no longer (or now) rendered."""
    for name, status in base["figures"].items():
        now = new["figures"].get(name, "absent")
        if status == "rendered" and now != "rendered" and not subset:
            row("REGRESSION", "figure", name, status, now, "figure no longer rendered")
        elif status != "rendered" and now == "rendered":
            row("improved", "figure", name, status, now, "figure now rendered")


def _compare_benchmarks(base: dict, new: dict, noise: dict, row: Row) -> None:
    """Benchmark ratios beyond the noise factor; issue targets missed or met."""
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


def _compare_health(base: dict, new: dict, noise: dict, subset: bool, row: Row) -> None:
    """The flow_health medians: drift (pooled) and reach (per depth) against the noise."""
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
