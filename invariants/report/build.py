"""The report of a run (schema ``invariants.report/2``), built from its test entries.

:func:`build_report` turns a list of test entries (from one run, or from
several merged runs) into the report: the statement table in each paper's
order, errata, looseness of the papers' constants, measured laws, every
observation, the figures that can be drawn, and the run's *problems* (what
makes the run fail beyond a failing test).  The report is deterministic: keys
are sorted, lists are in a fixed order, and everything that varies from run to
run of the same commit and profile (durations, dates, host, worker count) is
kept apart under the two top-level keys of :data:`VOLATILE_KEYS`
(:func:`timings_of` builds the ``timings`` block).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..statements import IDS
from .records import FAILING, OUTCOMES
from .statement_table import (
    catalogue_sections,
    count_errata,
    finish_rows,
    mark_reach,
    statement_rows,
)
from .tables import bridges, figure_plan, laws, looseness
from .values import as_float, stats

SCHEMA = "invariants.report/2"
VOLATILE_KEYS = ("timings", "execution")


def _outcome_rank(outcome: str) -> int:
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else 0


def build_report(
    tests: list[dict],
    run: dict,
    benchmarks: dict | None = None,
) -> dict:
    """The report of one (or several merged) runs.

    ``tests``: test entries (:meth:`.records.TestRecord.to_entry`); ``run``: ``profile``,
    ``selection`` (:func:`.selection.selection_of`), ``partial``; ``benchmarks``: the
    extracted benchmark metrics (:func:`.benchmarks.benchmark_metrics`) or ``None``.
    """
    tests = sorted(tests, key=lambda e: (e["nodeid"], _outcome_rank(e["outcome"])))
    complete = bool(run["selection"]["complete"])
    partial = bool(run.get("partial", False))
    rows, unknown = statement_rows(tests)
    errata = sorted(
        ({**e, "test": t["nodeid"]} for t in tests for e in t["errata"]),
        key=lambda e: (e["statement"], e.get("printed", ""), e["test"]),
    )
    count_errata(rows, errata)
    observations = aggregate_observations(tests)
    mark_reach(rows, observations)
    finish_rows(rows, has_errata=bool(errata))
    figures = figure_plan(tests, observations)
    if partial:
        for f in figures:
            f["status"], f["reason"] = (
                "not rendered",
                "partial report: figures are drawn at the end",
            )
    problems = _problems(rows, tests, figures, complete, partial, unknown)
    for name, why in sorted(((benchmarks or {}).get("stale") or {}).items()):
        problems.append(
            {
                "kind": "stale benchmark",
                "item": name,
                "message": f"benchmark result {name} is STALE: {why}",
                "gating": False,
            }
        )
    report = {
        "schema": SCHEMA,
        "run": {
            "profile": run["profile"],
            "selection": run["selection"],
            "partial": partial,
            # The shared example database the run replayed from (INVARIANTS_DATABASE), if any.
            "database": run.get("database"),
            "collected": len(tests),
            "outcomes": _count(t["outcome"] for t in tests),
        },
        "statements": [rows[i] for i in IDS],
        **catalogue_sections(),
        "tests": tests,
        "errata": errata,
        "observations": observations,
        "looseness": looseness(rows, observations),
        "laws": laws(observations, tests),
        "bridges": bridges(observations, tests),
        "figures": figures,
        "benchmarks": benchmarks,
        "problems": problems,
        "ok": not any(p["gating"] for p in problems),
    }
    return report


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return dict(sorted(out.items()))


def aggregate_observations(tests: list[dict]) -> dict[str, dict]:
    """Per observation name: statement, tests, examples, and per value key median/min/max."""
    raw: dict[str, dict] = {}
    for t in tests:
        for o in t["observations"]:
            agg = raw.setdefault(
                o["name"],
                {
                    "statement": o["statement"],
                    "tests": [],
                    "examples": 0,
                    "values": {},
                    "with_series": 0,
                },
            )
            if t["nodeid"] not in agg["tests"]:
                agg["tests"].append(t["nodeid"])
            agg["examples"] += 1
            agg["with_series"] += "series" in o
            for k, v in o["values"].items():
                agg["values"].setdefault(k, []).append(v)
    out = {}
    for name in sorted(raw):
        agg = raw[name]
        agg["tests"].sort()
        agg["values"] = {k: stats(v) for k, v in sorted(agg["values"].items())}
        out[name] = agg
    return out


def observation_entries(report: dict, name: str) -> list[dict]:
    """Every recorded example of observation ``name``, in test order."""
    return [o for t in report["tests"] for o in t["observations"] if o["name"] == name]


def _problems(rows, tests, figures, complete, partial, unknown) -> list[dict]:
    out = []

    def add(kind: str, item: str, message: str, gating: bool) -> None:
        out.append({"kind": kind, "item": item, "message": message, "gating": gating})

    if not complete:
        add(
            "subset",
            "selection",
            "a subset of the suite was selected: unchecked statements and missing figures "
            "are listed but do not fail the run",
            False,
        )
    if partial:
        add("partial", "run", "partial report: the run had not finished when it was written", True)
    for t in tests:
        if t["outcome"] in FAILING:
            what = "crashed" if t["outcome"] == "crashed" else "failed"
            add(
                t["outcome"],
                t["nodeid"],
                f"{t['nodeid']} {what}: "
                + (t.get("reason") or (t["failure"] or {}).get("location") or ""),
                True,
            )
        elif t["outcome"] in ("not run", "running") and not partial:
            add("not run", t["nodeid"], f"{t['nodeid']} did not run: {t['reason']}", True)
    for row in rows.values():
        if row["status"] == "not checked":
            add("not checked", row["id"], f"{row['id']}: no collected test checks it", complete)
        if row["status"] == "vacuous":
            add(
                "vacuous",
                row["id"],
                f"{row['id']}: vacuous, exercised on {row['exercised']} of {row['recorded']} "
                "examples (the strategies must be steered towards examples that can fail it)",
                False,
            )
        ws = row["worst_slack"]
        if (
            ws is not None
            and not as_float(ws) <= 1.0
            and not any(row["outcomes"].get(o) for o in FAILING)
        ):
            add(
                "slack",
                row["id"],
                f"{row['id']}: worst slack {ws} > 1 in a passing test ({row['worst_test']})",
                True,
            )
    for sid in sorted(unknown):
        add("unknown statement", sid, f"{sid} is recorded but is not in STATEMENTS", True)
    for f in figures:
        if f["status"] != "rendered":
            add(
                "figure",
                f["name"],
                f"figure {f['name']} not rendered: {f['reason']}",
                complete and f["gating"] and not partial,
            )
    return out


def strip_volatile(report: dict) -> dict:
    """The report without its run-to-run varying parts (:data:`VOLATILE_KEYS`)."""
    return {k: v for k, v in report.items() if k not in VOLATILE_KEYS}


def timings_of(
    report: dict,
    durations: dict[str, float],
    wall: float | None,
    examples: dict[str, dict] | None = None,
) -> dict:
    """The volatile ``timings`` block: per test, per statement, totals.

    ``examples``: per test, the time per Hypothesis example
    (:meth:`.collection.RunState.example_times`); kept here, not under the test,
    because it varies from run to run where the counts do not.
    """
    per_statement: dict[str, float] = {}
    for t in report["tests"]:
        d = durations.get(t["nodeid"], 0.0)
        for sid in t["statements"]:
            per_statement[sid] = per_statement.get(sid, 0.0) + d
    return {
        "tests": {k: round(v, 3) for k, v in sorted(durations.items())},
        "statements": {
            row["id"]: round(per_statement.get(row["id"], 0.0), 3) for row in report["statements"]
        },
        "examples": dict(sorted((examples or {}).items())),
        "total_test_seconds": round(sum(durations.values()), 3),
        "wall_seconds": None if wall is None else round(wall, 3),
    }
