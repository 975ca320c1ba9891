"""What one pytest process has seen of the run, folded into test entries.

:class:`RunState` is fed by the plugin's hooks (:mod:`invariants.report.plugin`):
the collected node IDs, test starts, and every test report (from xdist workers
too, with their ``user_properties``).  :meth:`RunState.entries` gives the test
entries of the report, including the tests that never reported (not run,
running, crashed); their statements are read from the test source with
:func:`statements_from_source`, since an xdist controller never imports the tests.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..statements import named_in
from . import hypothesis_stats
from .failures import hypothesis_examples
from .records import TestRecord


def statements_from_source(rootdir: str | Path, nodeid: str) -> tuple[list[str], bool]:
    """(statement IDs, meta) of a test that never reported, read from its source.

    Used for tests collected by an xdist worker that crashed before running
    them: the controller never imported them.  Reads the test function's
    docstring and ``meta`` marks (decorator or module ``pytestmark``) with
    :mod:`ast`; returns ``([], False)`` when the source cannot be read.
    """
    parts = nodeid.split("::")
    path = Path(rootdir) / parts[0]
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return [], False
    names = [p.split("[", 1)[0] for p in parts[1:]]

    def is_meta(node: ast.AST) -> bool:
        return "meta" in {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}

    module_meta = any(
        isinstance(n, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets)
        and is_meta(n.value)
        for n in tree.body
    )
    scope: list[ast.stmt] = tree.body
    target = None
    for name in names:
        found = None
        for node in scope:
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == name
            ):
                found = node
        if found is None:
            return [], module_meta
        target = found
        scope = found.body if isinstance(found, ast.ClassDef) else []
    if target is None:
        return [], module_meta
    meta = module_meta or any(is_meta(d) for d in target.decorator_list)
    return named_in(ast.get_docstring(target)), meta


class RunState:
    """What one pytest process (the xdist controller, or a serial run) has seen.

    Fed by the plugin hooks: the collected node IDs, test starts, and every
    test report (from workers too, with their ``user_properties``).
    """

    def __init__(self) -> None:
        self.records: dict[str, TestRecord] = {}
        self.collected: list[str] = []
        self.collected_info: dict[str, tuple[list[str], bool]] = {}
        self.running: set[str] = set()
        self.crashes = 0
        self._source_cache: dict[str, tuple[list[str], bool]] = {}
        self._entry_cache: dict[tuple[str, bool], dict] = {}

    def on_collected(self, ids: Iterable[str], info: dict | None = None) -> None:
        """Note collected node IDs (with their statements and meta flag when known)."""
        for nodeid in ids:
            if nodeid not in self.collected_info:
                self.collected.append(nodeid)
                self.collected_info[nodeid] = (info or {}).get(nodeid, ([], False))

    def on_start(self, nodeid: str) -> None:
        """Note that a test has started (it is ``running`` until its teardown)."""
        self.running.add(nodeid)

    def on_report(self, report: Any) -> TestRecord:
        """Fold one pytest ``TestReport`` (setup, call, teardown, or xdist's crash report)."""
        nodeid = report.nodeid
        self._entry_cache.pop((nodeid, True), None)
        self._entry_cache.pop((nodeid, False), None)
        rec = self.records.get(nodeid)
        if rec is None:
            stmts, meta = self.collected_info.get(nodeid, ([], False))
            rec = self.records[nodeid] = TestRecord(nodeid, "not run", 0.0, list(stmts), meta=meta)
        for key, value in getattr(report, "user_properties", ()):
            if key == "statements":
                rec.statements = list(value)
            elif key == "erratum" and value not in rec.errata:
                rec.errata.append(value)
            elif key == "meta":
                rec.meta = True
            elif key == "slack" and value not in rec.slacks:
                rec.slacks.append(value)
            elif key == "observation" and value not in rec.observations:
                rec.observations.append(value)
            elif key == "hypothesis_statistics":
                rec.hypothesis = value
        stats_text = getattr(report, "__dict__", {}).get("_hypothesis_stats")
        if stats_text:
            rec.examples = hypothesis_examples(stats_text)
        when = report.when
        if when == "???":  # pytest-xdist: "worker 'gwN' crashed while running '...'"
            rec.outcome = "crashed"
            rec.longrepr = str(report.longrepr)
            rec.reason = str(report.longrepr)
            self.crashes += 1
            self.running.discard(nodeid)
        elif when == "call" or (when == "setup" and not report.passed):
            if when == "setup" and report.failed:
                rec.outcome = "error"
            else:
                rec.outcome = report.outcome
            rec.duration += report.duration
            if report.failed:
                rec.longrepr = str(report.longrepr)
            if report.skipped:
                rec.reason = _skip_reason(report.longrepr)
        elif when == "teardown":
            rec.duration += report.duration
            if report.failed and rec.outcome == "passed":
                rec.outcome, rec.longrepr = "error", str(report.longrepr)
            self.running.discard(nodeid)
        else:
            rec.duration += report.duration
        return rec

    def example_times(self) -> dict[str, dict]:
        """Per test that ran Hypothesis examples: their number and mean/max seconds each."""
        out = {}
        for nodeid, rec in sorted(self.records.items()):
            t = hypothesis_stats.times(rec.hypothesis)
            if t is not None:
                out[nodeid] = t
        return out

    def _source(self, rootdir: str | Path, nodeid: str) -> tuple[list[str], bool]:
        if nodeid not in self._source_cache:
            self._source_cache[nodeid] = statements_from_source(rootdir, nodeid)
        return self._source_cache[nodeid]

    def entries(
        self, rootdir: str | Path, final: bool, light: bool = False
    ) -> tuple[list[dict], dict[str, float]]:
        """Test entries of every collected or reported test, and their durations.

        A collected test that never reported is ``not run`` (or ``running`` in a
        partial report, when it had started), with the reason; its statements
        are read from its source when no worker reported them (an xdist
        controller never imports the tests).  ``light`` leaves out the series and
        per-example slacks (for the partial report, rewritten as the run goes).
        """
        out, durations = [], {}
        for nodeid, rec in self.records.items():
            if not rec.statements and not rec.meta and rec.outcome in ("crashed", "not run"):
                rec.statements, rec.meta = self._source(rootdir, nodeid)
            key = (nodeid, light)
            if key not in self._entry_cache:
                self._entry_cache[key] = rec.to_entry(light=light)
            out.append(self._entry_cache[key])
            durations[nodeid] = round(rec.duration, 3)
        for nodeid in self.collected:
            if nodeid in self.records:
                continue
            stmts, meta = self.collected_info.get(nodeid) or ([], False)
            if not stmts and not meta:
                stmts, meta = self._source(rootdir, nodeid)
            if nodeid in self.running:
                outcome = "crashed" if final else "running"
                reason = (
                    "started but never finished: the run was interrupted while it ran"
                    if final
                    else "running when this partial report was written"
                )
            else:
                outcome = "not run"
                if not final:
                    reason = "not reached yet when this partial report was written"
                elif self.crashes:
                    reason = (
                        "never reported: a worker crashed and the test was not rerun "
                        "(see the crashed tests), or the session stopped early"
                    )
                else:
                    reason = "never reported: the session stopped early (-x, --maxfail, interrupt)"
            rec = TestRecord(nodeid, outcome, 0.0, list(stmts), meta=meta, reason=reason)
            out.append(rec.to_entry(light=light))
        out.sort(key=lambda e: e["nodeid"])
        return out, durations


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")
