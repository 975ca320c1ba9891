"""One test's records: the entry the report is built from, and the slack recorder.

Collection (:mod:`invariants.report.plugin`) turns every pytest test report into
one :class:`TestRecord`: its outcome, the statement IDs its docstring names, the
slack, observations and errata it recorded through the shared fixtures
(``record_slack``, ``record_observation``, ``record_erratum``), the number of
Hypothesis test cases it ran, and for a failure the Hypothesis reproduction
parsed out of the longrepr (:mod:`invariants.report.failures`).  These records
travel in ``user_properties``, which pytest-xdist ships from workers to the
controller, so a parallel run loses nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .failures import parse_failure
from .values import num, thin

# Outcomes of one test, worst first (used when several records of one test meet).
OUTCOMES = ("failed", "error", "crashed", "running", "not run", "skipped", "passed")
FAILING = ("failed", "error", "crashed")

MAX_RATIOS = 10_000  # per-example slack ratios kept per (test, statement)
MAX_SERIES_EXAMPLES = 40  # examples whose series are kept, per test and observation name


@dataclass
class TestRecord:
    """One test's outcome, the statements it names and what it recorded."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    duration: float
    statements: list[str]
    slacks: list[dict] = field(default_factory=list)
    longrepr: str = ""
    meta: bool = False  # a negative control / meta-test: it must fail a broken suite
    errata: list[dict] = field(default_factory=list)
    observations: list[dict] = field(default_factory=list)
    examples: int | None = None  # Hypothesis test cases run
    reason: str = ""  # why it crashed / did not run / was skipped

    def to_entry(self, light: bool = False) -> dict:
        """The JSON test entry (without the duration, which goes to ``timings``).

        ``light``: without series and per-example slack ratios.
        """
        failure = None
        if self.outcome in FAILING and self.longrepr:
            failure = parse_failure(self.longrepr)
        slacks = []
        for s in sorted(self.slacks, key=lambda s: s["statement"]):
            entry = {
                "statement": s["statement"],
                "examples": int(s.get("examples", 1)),
                "ratio": num(s["ratio"]),
                "detail": str(s.get("detail", "")),
            }
            ratios = [] if light else s.get("ratios", [s["ratio"]])[:MAX_RATIOS]
            entry["ratios"] = [num(r) for r in ratios]
            slacks.append(entry)
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "statements": list(self.statements),
            "meta": bool(self.meta),
            "examples": self.examples,
            "slacks": slacks,
            "observations": self._observations(light),
            "errata": list(self.errata),
            "failure": failure,
            "reason": self.reason,
        }

    def _observations(self, light: bool) -> list[dict]:
        seen: dict[str, int] = {}
        out = []
        for o in self.observations:
            seen[o["name"]] = seen.get(o["name"], 0) + 1
            out.append(_clean_observation(o, light or seen[o["name"]] > MAX_SERIES_EXAMPLES))
        return out


def _clean_observation(o: dict, light: bool = False) -> dict:
    out = {
        "name": str(o["name"]),
        "statement": str(o.get("statement", "")),
        "values": {k: num(v) for k, v in sorted(o.get("values", {}).items())},
    }
    if o.get("series") is not None and not light:
        out["series"] = thin(dict(sorted(o["series"].items())))
    return out


class SlackRecorder:
    """Collects, over every example of one test, each statement's worst slack.

    It also keeps every example's ratio (up to ``MAX_RATIOS`` per statement, in
    example order) for the report's slack histograms.  Called with any object
    with ``statement``, ``ratio`` and ``detail`` (``invariants.statements.Slack``).
    """

    def __init__(self) -> None:
        self.worst: dict[str, dict] = {}

    def __call__(self, slack: Any) -> None:
        entry = self.worst.setdefault(
            slack.statement,
            {"statement": slack.statement, "examples": 0, "ratio": -math.inf, "ratios": []},
        )
        entry["examples"] += 1
        ratio = float(slack.ratio)
        if len(entry["ratios"]) < MAX_RATIOS:
            entry["ratios"].append(ratio)
        if ratio > entry["ratio"] or math.isnan(ratio):
            entry["ratio"] = ratio
            entry["detail"] = slack.detail
