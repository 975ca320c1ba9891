"""The statement table: one row per statement of each paper, in the papers' order.

Each row gathers, over the test entries, the tests that check the statement, their
outcomes, the examples and the worst slack, the negative controls (``meta`` tests:
each passes only when its planted bug made the property fail), failures, errata and
how far a *reachable only* statement was followed; :func:`statement_status` gives the
row's status.  The list of statements is :data:`invariants.statements.STATEMENTS`, so
the table can never silently shrink: an ID no collected test names is *not checked*.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from ..statements import (
    ASSUMPTIONS,
    CATALOGUE,
    EXERCISED_FLOOR,
    PAPERS,
    QUESTIONS,
    STATEMENTS,
    SYMBOLS,
)
from .records import FAILING, merge_certified, new_certified
from .tables import REACH_SUFFIX
from .values import as_float, num, stats


def catalogue_fields(sid: str) -> dict:
    """What the catalogue says of statement ``sid``, for its row: ``paper``, ``kind``,
    ``section``, ``math``, ``words``, ``assumptions`` (a list), ``uses``, ``tolerance``,
    ``certifiable`` (:class:`invariants.statements.Statement`)."""
    s = CATALOGUE[sid]
    return {
        "paper": s.paper,
        "kind": s.kind,
        "section": s.section,
        "math": s.math,
        "words": s.words,
        "assumptions": list(s.assumptions),
        "uses": list(s.uses),
        "tolerance": s.tolerance,
        "certifiable": s.certifiable,
    }


def catalogue_sections() -> dict[str, dict]:
    """The report's ``papers``, ``assumptions``, ``notation`` and ``questions``: per paper
    key, its record, its assumptions by ID, its symbols and what its text leaves open, so
    that the report alone can draw the dependency graph and render every statement."""
    return {
        "papers": {k: asdict(p) for k, p in PAPERS.items()},
        "assumptions": {
            k: {aid: asdict(a) for aid, a in by_id.items()} for k, by_id in ASSUMPTIONS.items()
        },
        "notation": {k: [asdict(s) for s in syms] for k, syms in SYMBOLS.items()},
        "questions": {k: [asdict(q) for q in QUESTIONS if q.paper == k] for k in PAPERS},
    }


def statement_rows(tests: list[dict]) -> tuple[dict[str, dict], set[str]]:
    """The rows of every statement from the test entries, and the unknown IDs recorded."""
    rows = {
        sid: {
            "id": sid,
            "title": title,
            **catalogue_fields(sid),
            "tests": [],
            "outcomes": {},
            "examples": 0,
            "recorded": 0,
            "recorded_per_test": 0,
            "exercised": 0,
            "measures": {},
            "worst_slack": None,
            "worst_detail": "",
            "worst_test": None,
            "controls": {"tests": [], "total": 0, "failed_as_required": 0},
            "failures": [],
            "errata": 0,
            "reach": None,
            "certified": None,
        }
        for sid, title, _ in STATEMENTS
    }
    unknown: set[str] = set()
    for t in tests:
        slack_for = {s["statement"]: s for s in t["slacks"]}
        for sid in t["statements"]:
            row = rows.get(sid)
            if row is None:
                unknown.add(sid)
                continue
            if t["meta"]:
                c = row["controls"]
                c["tests"].append(t["nodeid"])
                c["total"] += 1
                # A control passes when the planted bug made the property fail.
                c["failed_as_required"] += t["outcome"] == "passed"
                continue
            row["tests"].append(t["nodeid"])
            row["outcomes"][t["outcome"]] = row["outcomes"].get(t["outcome"], 0) + 1
            if sid not in slack_for and t["outcome"] == "passed" and t.get("examples"):
                row["examples"] += int(t["examples"])
            if t["outcome"] in FAILING:
                row["failures"].append({"test": t["nodeid"], **(t["failure"] or {})})
        if t["meta"]:
            continue
        for sid, s in slack_for.items():
            row = rows.get(sid)
            if row is None:
                unknown.add(sid)
                continue
            if t["nodeid"] not in row["tests"]:
                row["tests"].append(t["nodeid"])
                row["outcomes"][t["outcome"]] = row["outcomes"].get(t["outcome"], 0) + 1
            row["examples"] += int(s["examples"])
            row["recorded"] += int(s["examples"])
            row["recorded_per_test"] = max(row["recorded_per_test"], int(s["examples"]))
            row["exercised"] += int(s.get("exercised", s["examples"]))
            for name, values in (s.get("measures") or {}).items():
                row["measures"].setdefault(name, []).extend(values)
            if s.get("certified"):
                if row["certified"] is None:
                    row["certified"] = new_certified()
                merge_certified(row["certified"], s["certified"])
            if s["ratio"] is None:
                continue
            ratio = as_float(s["ratio"])
            best = row["worst_slack"]
            if best is None or ratio > as_float(best) or math.isnan(ratio):
                row["worst_slack"] = num(ratio)
                row["worst_detail"] = s.get("detail", "")
                row["worst_test"] = t["nodeid"]
    return rows, unknown


def count_errata(rows: dict[str, dict], errata: list[dict]) -> None:
    """Count each statement's errata in its row."""
    for e in errata:
        if e["statement"] in rows:
            rows[e["statement"]]["errata"] += 1


def mark_reach(rows: dict[str, dict], observations: dict[str, dict]) -> None:
    """Attach each ``<ID>_reach`` observation to its statement's row (*reachable only*)."""
    for name, agg in observations.items():
        sid = agg["statement"]
        if name.endswith(REACH_SUFFIX) and sid in rows:
            rows[sid]["reach"] = {
                "observation": name,
                "tests": agg["tests"],
                "values": agg["values"],
            }


def finish_rows(rows: dict[str, dict], has_errata: bool) -> None:
    """Sort each row's tests and controls and set its status."""
    for row in rows.values():
        row["measures"] = {k: stats(v) for k, v in sorted(row["measures"].items())}
        row["tests"] = sorted(set(row["tests"]))
        row["controls"]["tests"].sort()
        row["controls"]["all_failed_as_required"] = (
            row["controls"]["failed_as_required"] == row["controls"]["total"]
        )
        row["status"] = statement_status(row, has_errata)


def exercise_floor(row: dict) -> float:
    """How many exercising examples *held* needs: :data:`EXERCISED_FLOOR` times the most
    examples any one test of the row recorded."""
    return EXERCISED_FLOOR * row.get("recorded_per_test", row["recorded"])


def well_exercised(row: dict) -> bool:
    """The row's exercising examples reach :func:`exercise_floor`.

    A row whose tests record no slack (unit properties, a fixed witness) has nothing
    to count and is judged by its outcomes alone.
    """
    return row["recorded"] == 0 or row["exercised"] >= exercise_floor(row)


def statement_status(row: dict, has_errata: bool) -> str:
    """The row's status: violated, crashed, not run, erratum, held, reachable only, vacuous ...

    *held* needs the row's examples to have exercised it (:func:`well_exercised`);
    otherwise a passing statement is *reachable only* when a ``_reach`` was recorded
    (it was followed as far as a simulation can), else *vacuous*.  A statement that no
    recorded example exercised is *vacuous* whatever its reach.  The statement of kind
    ``erratum`` (the catalogue's) is *erratum* when the run recorded errata.
    """
    o = row["outcomes"]
    ws = row["worst_slack"]
    over = ws is not None and not as_float(ws) <= 1.0
    refuted = bool((row.get("certified") or {}).get("refuted"))  # proved false somewhere
    if o.get("failed") or o.get("error") or over or refuted:
        return "violated"
    if o.get("crashed"):
        return "crashed"
    if o.get("not run") or o.get("running"):
        return "not run"
    if row.get("kind") == "erratum" and has_errata:  # the catalogue's errata statement
        return "erratum"
    if o.get("passed"):
        if row["recorded"] and not row["exercised"]:
            return "vacuous"
        if row["reach"]:
            return "reachable only"
        return "held" if well_exercised(row) else "vacuous"
    if o.get("skipped"):
        return "skipped"
    return "not checked"
