"""The run summary: what ran, per statement, with its worst slack.

A small, versioned JSON document built from the test reports (which
pytest-xdist ships from workers to the controller, so parallel runs lose
nothing).  Each test contributes the statement IDs its docstring names and
the slack records it made through the ``record_slack`` fixture.

Slack is ``observed / allowed``: ``<= 1`` means the statement held with the
derived tolerance, and the nearer to 1, the closer the run came to failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .statements import IDS, STATEMENTS

SCHEMA = "invariants.summary/1"


@dataclass
class TestRecord:
    """One test's outcome, the statements it names and the slack it recorded."""

    nodeid: str
    outcome: str
    duration: float
    statements: list[str]
    slacks: list[dict] = field(default_factory=list)
    longrepr: str = ""
    meta: bool = False  # a negative control / meta-test: it must fail a broken suite
    errata: list[dict] = field(default_factory=list)
    observations: list[dict] = field(default_factory=list)


def summarize(records: Iterable[TestRecord], profile: str) -> dict:
    """Aggregate test records into the per-statement summary (every ID of the paper)."""
    records = list(records)
    rows = {
        sid: {
            "id": sid,
            "title": t,
            "assumptions": a,
            "tests": [],
            "passed": 0,
            "failed": 0,
            "skipped": 0,
            "examples": 0,
            "worst_slack": None,
            "failures": [],
            "controls": [],
            "controls_failed": 0,
        }
        for sid, t, a in STATEMENTS
    }
    tests = []
    for r in records:
        tests.append(
            {
                "nodeid": r.nodeid,
                "outcome": r.outcome,
                "duration": round(r.duration, 3),
                "statements": r.statements,
            }
        )
        for sid in r.statements:
            row = rows[sid]
            if r.meta:
                row["controls"].append(r.nodeid)
                row["controls_failed"] += r.outcome != "passed"
                continue
            row["tests"].append(r.nodeid)
            row[r.outcome if r.outcome in ("passed", "failed", "skipped") else "failed"] += 1
            if r.outcome == "failed":
                row["failures"].append({"test": r.nodeid, "message": r.longrepr[-2000:]})
        for s in r.slacks:
            row = rows.get(s["statement"])
            if row is None:
                continue
            row["examples"] += int(s.get("examples", 1))
            ratio = float(s["ratio"])
            if row["worst_slack"] is None or ratio > row["worst_slack"]:
                row["worst_slack"] = ratio
    for row in rows.values():
        row["tests"].sort()
        row["controls"].sort()
        if row["failed"]:
            row["status"] = "violated"
        elif row["passed"]:
            row["status"] = "held"
        elif row["skipped"]:
            row["status"] = "skipped"
        else:
            row["status"] = "not checked"
    tests.sort(key=lambda t: t["nodeid"])
    errata = sorted(
        (e for r in records for e in r.errata), key=lambda e: (e["statement"], e["printed"])
    )
    for e in errata:
        rows[e["statement"]]["errata"] = rows[e["statement"]].get("errata", 0) + 1
    if errata and rows["S-ERR"]["status"] != "violated":
        rows["S-ERR"]["status"] = "erratum"
    observations: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: r.nodeid):
        for o in r.observations:
            agg = observations.setdefault(
                o["name"], {"statement": o["statement"], "tests": [], "examples": [], "series": []}
            )
            if r.nodeid not in agg["tests"]:
                agg["tests"].append(r.nodeid)
            agg["examples"].append(o["values"])
            if "series" in o:
                agg["series"].append(o["series"])
    return {
        "schema": SCHEMA,
        "observations": observations,
        "profile": profile,
        "statements": [rows[i] for i in IDS],
        "tests": tests,
        "errata": errata,
    }


def format_table(summary: dict) -> str:
    """A plain-text statement table for the terminal."""
    lines = [
        f"{'statement':9} {'status':12} {'tests':>5} {'examples':>8} {'worst slack':>11} "
        f"{'controls':>8}"
    ]
    for row in summary["statements"]:
        ws = "-" if row["worst_slack"] is None else f"{row['worst_slack']:.3g}"
        lines.append(
            f"{row['id']:9} {row['status']:12} {len(row['tests']):5d} {row['examples']:8d} "
            f"{ws:>11} {len(row['controls']):8d}"
        )
    return "\n".join(lines)


def write_summary(summary: dict, directory: str | Path) -> Path:
    """Write ``summary.json`` (sorted keys, so equal runs give equal files)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return path
