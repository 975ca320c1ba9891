"""One test's records: the entry the report is built from, and the slack recorder.

Collection (:mod:`invariants.report.plugin`) turns every pytest test report into
one :class:`TestRecord`: its outcome, the statement IDs its docstring names, the
slack, observations and errata it recorded through the shared fixtures
(``record_slack``, ``record_observation``, ``record_erratum``), the number of
Hypothesis test cases it ran, its Hypothesis statistics
(:mod:`invariants.report.hypothesis_stats`), and for a failure the Hypothesis
reproduction parsed out of the longrepr (:mod:`invariants.report.failures`).  These records
travel in ``user_properties``, which pytest-xdist ships from workers to the
controller, so a parallel run loses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import hypothesis_stats
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
    # Hypothesis's statistics (:func:`.hypothesis_stats.summarise`, runs combined)
    hypothesis: dict | None = None

    def to_entry(self, light: bool = False) -> dict:
        """The JSON test entry (without the duration, which goes to ``timings``).

        ``light``: without series and per-example slack ratios.
        """
        failure = None
        if self.outcome in FAILING and self.longrepr:
            failure = parse_failure(self.longrepr)
        slacks = []
        for s in sorted(self.slacks, key=lambda s: s["statement"]):
            examples = int(s.get("examples", 1))
            entry = {
                "statement": s["statement"],
                "examples": examples,
                "exercised": int(s.get("exercised", examples)),
                "ratio": None if s.get("ratio") is None else num(s["ratio"]),
                "detail": str(s.get("detail", "")),
            }
            default = [] if s.get("ratio") is None else [s["ratio"]]
            ratios = [] if light else s.get("ratios", default)[:MAX_RATIOS]
            entry["ratios"] = [num(r) for r in ratios]
            measures = s.get("measures") or {}
            entry["measures"] = {
                str(k): [num(x) for x in v][:MAX_RATIOS] for k, v in sorted(measures.items())
            }
            if s.get("certified"):
                entry["certified"] = clean_certified(s["certified"])
            slacks.append(entry)
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "statements": list(self.statements),
            "meta": bool(self.meta),
            "examples": self.examples,
            "hypothesis": hypothesis_stats.counts(self.hypothesis),
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

    Called with any object with ``statement``, ``ratio``, ``detail``, ``exercised`` and
    ``measures`` (``invariants.statements.Slack``).  Per statement it keeps the number of
    examples, how many of them *exercised* the statement (could have failed it), the
    worst ratio over the examples that asserted one (``None`` when none did), every
    example's ratio (up to ``MAX_RATIOS``, in example order, for the slack histograms)
    and every example's trend measures by name.  ``on_record(slack)`` is called after
    each record (the plugin uses it for Hypothesis's ``event()`` statistics).
    """

    def __init__(self, on_record: Callable[[Any], None] | None = None) -> None:
        self.worst: dict[str, dict] = {}
        self._on_record = on_record

    def __call__(self, slack: Any) -> None:
        entry = self.worst.setdefault(
            slack.statement,
            {
                "statement": slack.statement,
                "examples": 0,
                "exercised": 0,
                "ratio": None,
                "ratios": [],
                "measures": {},
                "detail": "",
            },
        )
        entry["examples"] += 1
        exercised = bool(slack.exercised)
        entry["exercised"] += exercised
        for name, value in dict(getattr(slack, "measures", {}) or {}).items():
            values = entry["measures"].setdefault(str(name), [])
            if len(values) < MAX_RATIOS:
                values.append(float(value))
        # The worst slack and the histograms are over the examples that exercised the
        # statement: on the others the bound could not fail and its ratio says nothing
        # (a ratio past 1 is kept whatever the flag: it is a failure).
        ratio = None if slack.ratio is None else float(slack.ratio)
        if ratio is not None and (exercised or not ratio <= 1.0):
            if len(entry["ratios"]) < MAX_RATIOS:
                entry["ratios"].append(ratio)
            worst = entry["ratio"]
            if worst is None or ratio > worst or math.isnan(ratio):
                entry["ratio"] = ratio
                entry["detail"] = slack.detail
        elif entry["ratio"] is None:
            entry["detail"] = slack.detail
        certificate = getattr(slack, "certificate", None)
        if certificate is not None:
            count_certificate(entry.setdefault("certified", new_certified()), certificate)
        if self._on_record is not None:
            self._on_record(slack)


def new_certified() -> dict:
    """Empty counts of certified verdicts: examples with a certificate, proved (TRUE),
    refuted (FALSE), undecided, the points decided, the worst margin of the proved ones
    (the smallest lower bound of an exact ``rhs - lhs``) and the first non-proved witness."""
    return {
        "examples": 0,
        "proved": 0,
        "refuted": 0,
        "undecided": 0,
        "points": 0,
        "worst_margin": None,
        "witness": "",
    }


def count_certificate(counts: dict, certificate: Any) -> None:
    """Add one example's certificate to ``counts`` (:func:`new_certified`)."""
    counts["examples"] += 1
    counts["points"] += int(certificate.points)
    if certificate.decided is True:
        counts["proved"] += 1
        margin = float(certificate.lower)
        if counts["worst_margin"] is None or margin < counts["worst_margin"]:
            counts["worst_margin"] = margin
        return
    counts["refuted" if certificate.decided is False else "undecided"] += 1
    if not counts["witness"] or certificate.decided is False:
        counts["witness"] = str(certificate.witness)


def merge_certified(into: dict, more: dict) -> None:
    """Add the counts ``more`` to ``into`` (both as :func:`new_certified`)."""
    for key in ("examples", "proved", "refuted", "undecided", "points"):
        into[key] += int(more.get(key, 0))
    m = more.get("worst_margin")
    if m is not None and (into["worst_margin"] is None or float(m) < float(into["worst_margin"])):
        into["worst_margin"] = float(m)
    if more.get("witness") and (not into["witness"] or more.get("refuted")):
        into["witness"] = str(more["witness"])


def clean_certified(counts: dict) -> dict:
    """The JSON form of :func:`new_certified` counts."""
    out = {
        k: int(counts.get(k, 0)) for k in ("examples", "proved", "refuted", "undecided", "points")
    }
    m = counts.get("worst_margin")
    out["worst_margin"] = None if m is None else num(m)
    out["witness"] = str(counts.get("witness", ""))
    return out
