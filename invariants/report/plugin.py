"""The report's pytest plugin: report options, the ``record_*`` fixtures, the run hooks.

``conftest.py`` loads it (``pytest_plugins = ["invariants.report.plugin"]``); any
pytest run can load it with ``-p invariants.report.plugin``.  Profiles, the
example database and the library preload stay in ``conftest.py``: the report
reads the profile from ``--invariants-profile`` when that option exists (else
Hypothesis's ``--hypothesis-profile``) and the database's description from
``config.invariants_database`` when ``conftest.py`` set it.

- Options: ``--invariants-report DIR`` (the report folder; ``report.partial.json``
  is kept up to date while the run goes on), ``--invariants-baseline FILE`` (compare
  at the end; a regression fails the run), ``--invariants-shard I/N``, and
  ``--statement ID`` (only the tests that check ID; repeatable, comma-separated) and
  ``--paper KEY`` (only the tests that check a statement of that paper; the same).
- Collection attaches to each test the statement IDs its docstring names
  (:func:`invariants.statements.named_in`) and its ``meta`` mark, shipped in
  ``user_properties`` with its reports; ``--statement``, ``--paper`` and
  ``--invariants-shard`` then deselect (``pytest_deselected``), and the report says it
  is a subset run.
- Fixtures ``record_slack``, ``record_observation``, ``record_erratum``: their
  records travel in ``user_properties`` too, which pytest-xdist ships from the
  workers to the controller, so a parallel run loses nothing.
- Each test call keeps its Hypothesis statistics (:mod:`.hypothesis_stats`) in
  ``user_properties`` too; the controller shows pytest's ``--junit-xml`` writer the
  clean properties of :mod:`.junit` instead of the raw records.
- :class:`ReportRun` (one per process) folds every report into the run's state,
  rewrites the partial report as tests start and end (so a killed run still
  leaves one), writes the report folder and compares with the baseline at the
  end, and prints the statement table.  The controller of an xdist run (or a
  serial run) sees everything; workers only record.

PYTEST_DONT_REWRITE: the plugin has no assertions, and ``conftest.py``'s library
preload imports it before ``pytest_plugins`` could mark it for assertion rewriting.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event
from hypothesis.control import currently_in_test_context

from ..statements import CATALOGUE, PAPERS, named_in
from . import baseline, hypothesis_stats, progress
from .benchmarks import benchmark_metrics
from .build import build_report, timings_of
from .collection import RunState
from .compare import compare, format_comparison
from .files import PARTIAL_JSON, ReportFormatError, clear_folder, write_folder, write_json
from .junit import junit_properties
from .records import SlackRecorder
from .selection import (
    check_paper_keys,
    check_statement_ids,
    checks_any,
    checks_paper,
    parse_shard,
    selection_of,
    shard_files,
    split_statement_option,
)
from .summary import format_slowest, format_table

PLUGIN_NAME = "invariants-report-run"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("invariants-report", "the report of the property suite")
    group.addoption(
        "--invariants-report",
        default=None,
        help="Write the report folder (report.json, report.md, figures/) into this directory; "
        "report.partial.json is kept up to date while the run goes on.",
    )
    group.addoption(
        "--invariants-baseline",
        default=None,
        help="Compare the report with this baseline (reports/baseline.json) at the end; "
        "a regression fails the run.",
    )
    group.addoption(
        "--invariants-shard",
        default=None,
        help="Run shard I/N of the test files (sorted by path, every N-th); merge the shards' "
        "reports with 'python -m invariants.report merge'.",
    )
    group.addoption(
        "--statement",
        action="append",
        dest="invariants_statement",
        metavar="ID",
        default=None,
        help="Run only the tests that check statement ID (their docstring names it, controls "
        "included); repeatable or comma-separated. The report is then a subset run.",
    )
    group.addoption(
        "--paper",
        action="append",
        dest="invariants_paper",
        metavar="KEY",
        default=None,
        help="Run only the tests that check a statement of the paper KEY (its catalogue's "
        "key, e.g. ji_telgarsky_2019; controls included); repeatable or comma-separated. "
        "The report is then a subset run.",
    )


def pytest_configure(config: pytest.Config) -> None:
    shard = config.getoption("--invariants-shard")
    if shard:
        try:
            parse_shard(shard)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    wanted = config.getoption("invariants_statement")
    if wanted is not None:
        try:
            check_statement_ids(split_statement_option(wanted), list(CATALOGUE))
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    papers = config.getoption("invariants_paper")
    if papers is not None:
        try:
            check_paper_keys(split_statement_option(papers), PAPERS)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(ReportRun(config), PLUGIN_NAME)


def is_controller(config: pytest.Config) -> bool:
    """The process that sees every report: the xdist controller, or a serial run."""
    return not hasattr(config, "workerinput")


def report_dir(config: pytest.Config) -> Path | None:
    """The report folder, in the process that writes it (never for ``--collect-only``)."""
    directory = config.getoption("--invariants-report")
    if not directory or config.option.collectonly or not is_controller(config):
        return None
    return Path(directory)


def run_profile(config: pytest.Config) -> str:
    """The profile the report states: ``--invariants-profile``, else ``--hypothesis-profile``."""
    return (
        config.getoption("invariants_profile", None)
        or config.getoption("hypothesis_profile", None)
        or "default"
    )


def statements_of(item: pytest.Item) -> list[str]:
    """The statement IDs attached to a collected test."""
    return list(dict(item.user_properties).get("statements", []))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Attach the statement IDs each test's docstring names (shipped with its reports).

    Then keep only the shard's files (``--invariants-shard``), the tests that check
    a ``--statement`` ID and those that check a statement of a ``--paper``.
    """
    for item in items:
        doc = getattr(getattr(item, "function", None), "__doc__", None)
        item.user_properties.append(("statements", named_in(doc)))
        if item.get_closest_marker("meta") is not None:
            item.user_properties.append(("meta", True))
    shard = config.getoption("--invariants-shard")
    if shard:
        index, count = parse_shard(shard)
        keep_files = shard_files((i.nodeid.split("::")[0] for i in items), index, count)
        _keep(config, items, [i.nodeid.split("::")[0] in keep_files for i in items])
    wanted = split_statement_option(config.getoption("invariants_statement"))
    if wanted:
        _keep(config, items, [checks_any(statements_of(i), wanted) for i in items])
    papers = split_statement_option(config.getoption("invariants_paper"))
    if papers:
        paper_of = {sid: s.paper for sid, s in CATALOGUE.items()}
        _keep(config, items, [checks_paper(statements_of(i), papers, paper_of) for i in items])


def _keep(config: pytest.Config, items: list[pytest.Item], keep: list[bool]) -> None:
    """Deselect the items whose flag is false (through ``pytest_deselected``)."""
    dropped = [i for i, k in zip(items, keep, strict=True) if not k]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = [i for i, k in zip(items, keep, strict=True) if k]


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Keep the test's Hypothesis statistics (:mod:`.hypothesis_stats`) with its reports.

    ``trylast``: inside the Hypothesis plugin's own wrapper, whose statistics
    callback ours calls in turn.  The summary goes into ``user_properties``
    before the call's report is made, so xdist ships it to the controller.
    """
    runs: list[dict] = []
    try:
        with hypothesis_stats.collecting(runs):
            return (yield)
    finally:
        if runs:
            summary = hypothesis_stats.combine(runs)
            item.user_properties.append(("hypothesis_statistics", summary))


class ReportRun:
    """The report hooks of one pytest process and what it has seen of the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.state = RunState()
        self.started = time.monotonic()
        self.report: dict | None = None
        self.comparison: str | None = None
        self.progress: progress.ProgressThread | None = None

    @pytest.hookimpl(tryfirst=True)  # before xdist starts the workers, which inherit the env
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = time.monotonic()
        if not is_controller(self.config):
            progress.count_test_cases()
        elif not self.config.option.collectonly:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            self.progress = progress.start(reporter.write_line if reporter else None)
        directory = report_dir(self.config)
        if directory is not None:
            clear_folder(directory)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The collected set of a serial run (under xdist the workers report it, below)."""
        if not is_controller(self.config) or not session.items:
            return
        info = {}
        for item in session.items:
            props = dict(item.user_properties)
            info[item.nodeid] = (statements_of(item), bool(props.get("meta", False)))
        self.state.on_collected([i.nodeid for i in session.items], info)
        self._write_partial()

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """The collected set of an xdist run: every worker collects the same IDs."""
        self.state.on_collected(ids)
        self._write_partial()

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        self.state.on_start(nodeid)
        self._write_partial()

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_logreport(
        self, report: pytest.TestReport
    ) -> Generator[None, object, object]:
        """Collect each test's outcome and records (runs on the xdist controller too).

        The slack records arrive with the teardown report (the fixture that holds
        them is finalised after the call), the outcome with the call report, and
        xdist's "worker crashed" report with ``when == "???"``.

        A wrapper, first of all: it folds the records, then, on the controller only,
        shows the other hooks (pytest's ``--junit-xml`` writer) the report's properties
        as :func:`.junit.junit_properties` gives them, and restores them afterwards.
        A worker leaves them alone: xdist ships them to the controller.
        """
        self.state.on_report(report)
        if report.when in ("teardown", "???") or report.failed:
            self._write_partial()
        if not is_controller(self.config):
            return (yield)
        raw = report.user_properties
        report.user_properties = junit_properties(raw)
        try:
            return (yield)
        finally:
            report.user_properties = raw

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, object, object]:
        """Publish the running test for the progress lines (:mod:`.progress`)."""
        own = getattr(getattr(item, "obj", None), "_hypothesis_internal_use_settings", None)
        max_examples = own.max_examples if own is not None else None
        with progress.tracking(item.nodeid, statements_of(item), max_examples):
            return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Write the report folder, compare with the baseline; a run problem fails the run."""
        if self.progress is not None:
            progress.stop(self.progress)
            self.progress = None
        directory = report_dir(self.config)
        if directory is None:
            return
        report = self._build(final=True)
        report["timings"] = self._timings(report)
        write_folder(report, directory)
        self.report = report
        failed = not report["ok"]
        baseline_path = self.config.getoption("--invariants-baseline")
        if baseline_path:
            failed = self._compare(report, baseline_path, directory) or failed
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _compare(self, report: dict, baseline_path: str, directory: Path) -> bool:
        """Compare with the baseline, write comparison.md; whether the run regressed."""
        try:
            result = compare(baseline.load_any(baseline_path), report)
        except ReportFormatError as exc:
            self.comparison = (
                f"baseline comparison impossible: {exc}\n"
                "(make a baseline from a whole-suite report with `make baseline`)"
            )
            return True
        self.comparison = format_comparison(result, baseline_path, str(directory))
        (directory / "comparison.md").write_text(
            format_comparison(result, baseline_path, str(directory), markdown=True)
        )
        return bool(result["regressions"])

    def _build(self, final: bool) -> dict:
        # The partial report stays small: no series, no per-example slacks.
        entries, _ = self.state.entries(self.config.rootpath, final=final, light=not final)
        run = {
            "profile": run_profile(self.config),
            "selection": selection_of(self.config),
            "partial": not final,
            "database": getattr(self.config, "invariants_database", None),
        }
        results = benchmark_metrics(self.config.rootpath / "benchmarks/results")
        report = build_report(entries, run, results)
        report["execution"] = {
            "workers": int(getattr(self.config.option, "numprocesses", 0) or 0),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
        }
        return report

    def _timings(self, report: dict) -> dict:
        return timings_of(
            report,
            self.state.entries(self.config.rootpath, final=True)[1],
            time.monotonic() - self.started,
            self.state.example_times(),
        )

    def _write_partial(self) -> None:
        directory = report_dir(self.config)
        if directory is not None:
            write_json(directory / PARTIAL_JSON, self._build(final=False))

    def pytest_terminal_summary(
        self, terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
    ) -> None:
        """The statement table, where the report went, and the baseline comparison."""
        if not is_controller(config):
            return
        report = self.report if self.report is not None else self._build(final=True)
        if "timings" not in report:  # no report folder (make test): time it for the table
            report["timings"] = self._timings(report)
        slowest = format_slowest(report)
        if slowest:
            terminalreporter.section("slowest tests and examples")
            terminalreporter.write_line(slowest)
        terminalreporter.section("statement summary")
        terminalreporter.write_line(format_table(report))
        directory = report_dir(config)
        if directory is not None:
            terminalreporter.write_line(
                f"report written to {directory / 'report.md'} (and .json), the page to "
                f"{directory / 'index.html'}"
            )
        if self.comparison:
            terminalreporter.section("comparison with the baseline")
            terminalreporter.write_line(self.comparison)


@pytest.fixture
def record_erratum(request: pytest.FixtureRequest) -> Callable[[str, str, str, dict], None]:
    """Record an erratum (S-ERR): where the printed paper and a derivation disagree."""

    def _record(statement: str, printed: str, derived: str, witness: dict) -> None:
        request.node.user_properties.append(
            (
                "erratum",
                {
                    "statement": statement,
                    "printed": printed,
                    "derived": derived,
                    "witness": witness,
                },
            )
        )

    return _record


@pytest.fixture
def record_observation(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Record a measurement that is not a pass/fail bound: a law, a threshold, a series.

    ``record_observation(name, statement, values, series=None)``: ``values`` is
    a flat dict of numbers measured on one example (e.g. a fitted slope);
    ``series`` optionally holds named lists of floats (the data of a figure).
    Observations travel in ``user_properties`` like slacks, so xdist loses none;
    the report aggregates ``values`` per name over examples (median, range).
    """

    def _record(name: str, statement: str, values: dict, series: dict | None = None) -> None:
        entry = {
            "name": name,
            "statement": statement,
            "values": {k: float(v) for k, v in values.items()},
        }
        if series is not None:
            entry["series"] = {k: [float(x) for x in v] for k, v in series.items()}
        request.node.user_properties.append(("observation", entry))

    return _record


def _exercise_event(slack: Any) -> None:
    """Hypothesis ``event()``: whether this example exercised the statement.

    ``--hypothesis-show-statistics`` then shows, per test, the split between examples
    that could have failed the statement and examples on which it held trivially.
    """
    if currently_in_test_context():
        word = "exercised" if slack.exercised else "not exercised (vacuous)"
        event(f"{slack.statement}: {word}")


@pytest.fixture
def record_slack(request: pytest.FixtureRequest) -> Iterator[SlackRecorder]:
    """Record each statement's worst slack on the test report (merged by the report job).

    Stored in ``user_properties``, which pytest-xdist ships from workers to the
    controller, so a parallel run loses nothing.
    """
    rec = SlackRecorder(on_record=_exercise_event)
    yield rec
    for entry in rec.worst.values():
        request.node.user_properties.append(("slack", entry))
