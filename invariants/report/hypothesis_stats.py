"""Hypothesis's per-test statistics, as data: examples, invalid, time per example, events.

What ``--hypothesis-show-statistics`` prints, kept for the report instead of printed.
Hypothesis hands each finished engine run's statistics to the callback held by
:data:`hypothesis.statistics.collector` (its pytest plugin sets one around every test
call and turns the statistics into the text it prints).  The report's plugin chains a
callback of its own inside that one (:func:`collecting`), so the printed statistics are
unchanged, and reduces each run with :func:`summarise`.

Why this route and not Hypothesis's documented observability callbacks
(``add_observability_callback``): with any observability callback registered,
Hypothesis also builds a printed representation and a JSON form of every example's
arguments, and on Python 3.11 traces line coverage; on ``test_losses.py`` and
``test_network.py`` (ci profile, one core) that took the tests from 3.3 s to 11.7-13.3 s.
The statistics collector costs nothing: Hypothesis fills it on every run anyway.  Its
dictionary is not a promised format ("we DO NOT promise that this format will be
stable", ``hypothesis.statistics.describe_statistics``), so :func:`summarise` checks
the keys it reads and raises :class:`StatisticsFormatError` naming what changed, and
``properties/meta/test_ci_outputs.py`` pins it against the installed Hypothesis.

A summary has two parts: counts and events, which a deterministic profile reproduces
(:func:`counts`, stored under each test of ``report.json``), and times, which vary from
run to run (:func:`times`, stored under ``timings``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from hypothesis.statistics import collector

#: Engine phases whose test cases are examples.  ``shrink`` (and ``explain``, which
#: replays a failure's variations) try variations of a failing example; they are
#: counted apart, as ``shrinks``.  ``explicit`` examples (``@example``) never reach
#: the engine's statistics.
EXAMPLE_PHASES = ("reuse", "generate", "target")
SHRINK_PHASES = ("shrink", "explain")
#: The statuses Hypothesis gives a test case (``Status`` names, lower case).
STATUSES = ("valid", "interesting", "invalid", "overrun")
COUNT_KEYS = ("runs", "valid", "failing", "invalid", "overrun", "shrinks")


class StatisticsFormatError(RuntimeError):
    """Hypothesis's statistics dictionary no longer has the form this module reads."""


def _cases(stats: Mapping[str, Any], phase: str) -> list[Mapping[str, Any]]:
    """The test cases of one phase (``[]`` when the phase did not run)."""
    block = stats.get(f"{phase}-phase")
    if block is None:
        return []
    if not isinstance(block, Mapping) or not isinstance(block.get("test-cases"), list):
        raise StatisticsFormatError(
            f"Hypothesis statistics: '{phase}-phase' has no 'test-cases' list "
            f"(keys {sorted(block) if isinstance(block, Mapping) else type(block).__name__})"
        )
    return block["test-cases"]


def _check_case(case: Any) -> None:
    if not isinstance(case, Mapping) or not {"status", "runtime", "events"} <= set(case):
        raise StatisticsFormatError(
            "Hypothesis statistics: a test case lacks 'status', 'runtime' or 'events' "
            f"(got {sorted(case) if isinstance(case, Mapping) else type(case).__name__})"
        )
    if case["status"] not in STATUSES:
        raise StatisticsFormatError(
            f"Hypothesis statistics: unknown test-case status {case['status']!r} "
            f"(known: {', '.join(STATUSES)})"
        )


def summarise(stats: Mapping[str, Any]) -> dict:
    """One engine run's statistics, reduced: counts, events, example times.

    ``valid``, ``failing`` (Hypothesis's *interesting*), ``invalid`` (rejected by
    ``assume`` or a filter) and ``overrun`` (a draw past the size limit) count the test
    cases of :data:`EXAMPLE_PHASES`; ``shrinks`` those of :data:`SHRINK_PHASES`;
    ``events`` how many of the example test cases had each ``event()`` (its text,
    ``"name: payload"`` with a payload).  Times (seconds) are over the valid and failing
    examples: their sum, count and maximum, so that several runs combine exactly.
    """
    if not isinstance(stats, Mapping) or not any(
        f"{p}-phase" in stats for p in EXAMPLE_PHASES + SHRINK_PHASES
    ):
        raise StatisticsFormatError(
            "Hypothesis statistics: no '<phase>-phase' block "
            f"(keys {sorted(stats) if isinstance(stats, Mapping) else type(stats).__name__})"
        )
    out = {k: 0 for k in COUNT_KEYS} | {"runs": 1, "events": {}}
    total, timed, longest = 0.0, 0, 0.0
    for phase in EXAMPLE_PHASES:
        for case in _cases(stats, phase):
            _check_case(case)
            key = "failing" if case["status"] == "interesting" else case["status"]
            out[key] += 1
            for text in case["events"]:
                out["events"][str(text)] = out["events"].get(str(text), 0) + 1
            if key in ("valid", "failing"):
                runtime = float(case["runtime"])
                total, timed, longest = total + runtime, timed + 1, max(longest, runtime)
    out["shrinks"] = sum(len(_cases(stats, p)) for p in SHRINK_PHASES)
    out["events"] = dict(sorted(out["events"].items()))
    stopped = stats.get("stopped-because")
    out["stopped_because"] = [str(stopped)] if stopped else []
    out["seconds"] = {"total": total, "examples": timed, "max": longest}
    return out


def combine(runs: list[dict]) -> dict:
    """Several engine runs of one test (a control that runs inner properties): added up."""
    out = {k: 0 for k in COUNT_KEYS} | {"events": {}, "stopped_because": []}
    seconds = {"total": 0.0, "examples": 0, "max": 0.0}
    for run in runs:
        for k in COUNT_KEYS:
            out[k] += int(run[k])
        for text, n in run["events"].items():
            out["events"][text] = out["events"].get(text, 0) + int(n)
        for reason in run["stopped_because"]:
            if reason not in out["stopped_because"]:
                out["stopped_because"].append(reason)
        seconds["total"] += float(run["seconds"]["total"])
        seconds["examples"] += int(run["seconds"]["examples"])
        seconds["max"] = max(seconds["max"], float(run["seconds"]["max"]))
    out["events"] = dict(sorted(out["events"].items()))
    out["seconds"] = seconds
    return out


def counts(summary: dict | None) -> dict | None:
    """The reproducible part of a summary (everything but the times), for ``report.json``."""
    if summary is None:
        return None
    return {k: v for k, v in summary.items() if k != "seconds"}


def times(summary: dict | None) -> dict | None:
    """The time per example: ``examples`` timed, ``mean_seconds``, ``max_seconds``."""
    if summary is None or not summary["seconds"]["examples"]:
        return None
    s = summary["seconds"]
    return {
        "examples": int(s["examples"]),
        "mean_seconds": round(float(s["total"]) / int(s["examples"]), 6),
        "max_seconds": round(float(s["max"]), 6),
    }


@contextmanager
def collecting(runs: list[dict]) -> Iterator[None]:
    """Append each Hypothesis engine run's :func:`summarise` to ``runs`` while inside.

    The callback already in place (the Hypothesis pytest plugin's, which prints
    ``--hypothesis-show-statistics``) is called after ours, with the same dictionary.
    """
    outer: Callable[[Any], None] | None = collector.value

    def note(stats: Any) -> None:
        runs.append(summarise(stats))
        if outer is not None:
            outer(stats)

    with collector.with_value(note):
        yield
