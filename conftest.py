"""Suite-wide configuration: Hypothesis profiles, BLAS threads, replay info.

Profiles (select with ``--hypothesis-profile NAME`` or ``INVARIANTS_PROFILE``):

- ``dev``    default; random, with the local example database.
- ``ci``     deterministic: derandomized, no database, ``print_blob``, no
             deadline.  The same commit gives the same examples and report.
- ``report`` deterministic like ``ci`` but with more examples (the main job).
- ``stress`` random, with the example database, many examples.
- ``triage`` like ``ci`` without shrinking: the first failure of each test,
             fast, for debugging long trajectories.
- ``replay`` like ``ci`` with no generation: only the examples saved in the
             example database are run (and shrunk); ``make fuzz`` reports
             its findings with it.

``INVARIANTS_DATABASE`` (or ``--invariants-database``) names a shared example
database, ``redis://host:port/db`` or a directory (invariants/database.py).
It replaces the profile's database; the deterministic profiles (ci, report,
triage, replay) read it only (ReadOnlyDatabase), so they replay what stress
and fuzz runs found and never write. Without it nothing changes.

Hypothesis registers its own "ci" profile and loads it whenever the ``CI``
environment variable is set (NUMERICS.md, Tooling).  Each profile here is
registered with an explicit parent so that ours wins, and one is always
loaded explicitly below.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

# One BLAS thread per process: xdist runs one worker per core, and
# oversubscribed BLAS threads make runs slower and timing noisy. Must happen
# before numpy is imported anywhere.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, Verbosity, settings  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402
from hypothesis.internal.reflection import function_digest  # noqa: E402

from invariants.database import describe, open_database  # noqa: E402
from invariants.errors import DatabaseUnavailableError  # noqa: E402
from invariants.report import baseline  # noqa: E402
from invariants.report.benchmarks import benchmark_metrics  # noqa: E402
from invariants.report.build import build_report, timings_of  # noqa: E402
from invariants.report.collection import RunState  # noqa: E402
from invariants.report.files import (  # noqa: E402
    PARTIAL_JSON,
    ReportFormatError,
    clear_folder,
    write_folder,
    write_json,
)
from invariants.report.records import SlackRecorder  # noqa: E402
from invariants.report.selection import parse_shard, selection_of, shard_files  # noqa: E402
from invariants.report.summary import format_table  # noqa: E402
from invariants.statements import named_in  # noqa: E402

# Hypothesis draws about 5% of its values from literal constants found in the *local* modules
# present in sys.modules at draw time (hypothesis.internal.conjecture.providers,
# _get_local_constants; test_*.py files are left out). A library module first imported
# *during* the run grows that pool on the one xdist worker that imported it: invariants.
# relu_figures (now invariants.report.fig2) was imported only by the report's figure code,
# which test_reporting.py calls, so under --dist loadfile every example drawn later on that
# worker depended on scheduling.
# Measured: 7 of 20 CI-profile runs of one commit drew a different S-T4 start (and S-L5 test
# point) than run 1. Importing every library module here, before any example is drawn,
# fixes the pool for the session. test_strategies.py checks that nothing escapes this.
PRELOADED_PACKAGES = ("invariants", "properties")


def _preload_library() -> frozenset[str]:
    """Import every non-test module of the suite's packages; return the local files loaded."""
    for package in PRELOADED_PACKAGES:
        path = importlib.import_module(package).__path__
        # walk_packages descends into subpackages (invariants.core, properties.claims, ...):
        # every library module must be loaded before any worker draws a case, or a module
        # first imported mid-run shifts Hypothesis's derandomized seeds between workers.
        for info in pkgutil.walk_packages(path, package + "."):
            if not info.name.rpartition(".")[2].startswith("test_"):
                importlib.import_module(info.name)
    root = Path(__file__).resolve().parent
    return frozenset(
        str(Path(f).resolve())
        for m in list(sys.modules.values())
        if (f := getattr(m, "__file__", None)) and Path(f).resolve().is_relative_to(root)
    )


PRELOADED_FILES = _preload_library()

_STATE = RunState()  # what this process saw of the run (the controller sees everything)
_CONFIG: list[pytest.Config] = []  # the session's config, for hooks that are not given it

_BASE = settings.get_profile("default")
# ``record_slack`` is function-scoped on purpose: it accumulates the worst slack
# over every example of one test, so it must *not* be reset between examples.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]

settings.register_profile(
    "dev",
    parent=_BASE,
    max_examples=20,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "ci",
    parent=_BASE,
    max_examples=12,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "report",
    parent=settings.get_profile("ci"),
    max_examples=40,
)
settings.register_profile(
    "triage",
    parent=settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)
# Only the examples saved in the database: explicit ones, the reuse phase, and shrinking of a
# replayed failure (so the report gets the minimal example and its blob). Derandomized like
# ``ci``: Hypothesis keeps the reuse phase under derandomize=True as long as a database is
# set (engine.reuse_existing_test_cases needs only settings.database and a database key).
settings.register_profile(
    "replay",
    parent=settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.reuse, Phase.shrink],
)
# Profiles that must give the same report for the same commit: a shared database is read-only.
DETERMINISTIC_PROFILES = ("ci", "report", "triage", "replay")
settings.register_profile(
    "stress",
    parent=_BASE,
    max_examples=400,
    deadline=None,
    print_blob=True,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    suppress_health_check=_SLOW_OK,
    phases=list(Phase),
    verbosity=Verbosity.normal,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--invariants-profile",
        default=os.environ.get("INVARIANTS_PROFILE", "dev"),
        choices=["dev", "ci", "report", "stress", "triage", "replay"],
        help="Hypothesis profile of the suite (default: $INVARIANTS_PROFILE or dev).",
    )
    parser.addoption(
        "--invariants-database",
        default=os.environ.get("INVARIANTS_DATABASE") or None,
        help="Shared example database, redis://host:port/db or a directory (default: "
        "$INVARIANTS_DATABASE; unset: the profile's own). Read-only under the deterministic "
        "profiles " + ", ".join(DETERMINISTIC_PROFILES) + "; stated in the report.",
    )

    parser.addoption(
        "--invariants-report",
        default=None,
        help="Write the report folder (report.json, report.md, figures/) into this directory; "
        "report.partial.json is kept up to date while the run goes on.",
    )
    parser.addoption(
        "--invariants-baseline",
        default=None,
        help="Compare the report with this baseline (reports/baseline.json) at the end; "
        "a regression fails the run.",
    )
    parser.addoption(
        "--invariants-shard",
        default=None,
        help="Run shard I/N of the test files (sorted by path, every N-th); merge the shards' "
        "reports with 'python -m invariants.report merge'.",
    )


def pytest_configure(config: pytest.Config) -> None:
    profile = config.getoption("--invariants-profile")
    settings.load_profile(profile)
    config.invariants_database = None  # type: ignore[attr-defined]
    spec = config.getoption("--invariants-database")
    if spec:
        read_only = profile in DETERMINISTIC_PROFILES
        try:
            db = open_database(spec, read_only=read_only)
        except DatabaseUnavailableError as exc:
            raise pytest.UsageError(str(exc)) from None
        # A child of the chosen profile with only the database replaced. derandomize is
        # inherited, not passed, so settings() accepts a database beside it.
        settings.register_profile(f"{profile}+database", parent=settings(), database=db)
        settings.load_profile(f"{profile}+database")
        config.invariants_database = describe(spec, read_only)  # type: ignore[attr-defined]
    config.invariants_profile = profile  # type: ignore[attr-defined]
    config.invariants_records = []  # type: ignore[attr-defined]
    _CONFIG.append(config)
    shard = config.getoption("--invariants-shard")
    if shard:
        try:
            parse_shard(shard)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None


def _is_controller(config: pytest.Config) -> bool:
    """The process that sees every report: the xdist controller, or a serial run."""
    return not hasattr(config, "workerinput")


def _report_dir(config: pytest.Config) -> Path | None:
    directory = config.getoption("--invariants-report")
    if not directory or config.option.collectonly or not _is_controller(config):
        return None
    return Path(directory)


def _share_database_key_with_hypofuzz(item: pytest.Item) -> None:
    """Give a ``@given`` test the example-database key HypoFuzz saves its failures under.

    HypoFuzz (collection.py) keys every test by ``function_digest`` of the inner test with
    the pytest node ID mixed in; Hypothesis's pytest plugin mixes the node ID in only for
    parametrized tests, so without this a failure found by ``make fuzz`` sat under a key
    no pytest run reads. The key is set as ``_hypothesis_internal_database_key`` (what
    ``find`` uses, read first by core.run_engine) rather than by mixing the node ID into
    the inner test: that would also change the derandomized seed (also a digest of the
    inner test) and so every example of the deterministic profiles.
    """
    fn = getattr(item, "obj", None)
    fn = getattr(fn, "__func__", fn)
    inner = getattr(getattr(fn, "hypothesis", None), "inner_test", None)
    if inner is None or hasattr(item, "callspec"):
        return  # parametrized: Hypothesis's plugin already keys it by node ID, as HypoFuzz does
    had = "_hypothesis_internal_add_digest" in inner.__dict__
    old = inner.__dict__.get("_hypothesis_internal_add_digest")
    inner._hypothesis_internal_add_digest = item.nodeid.encode()
    try:
        fn._hypothesis_internal_database_key = function_digest(inner)
    finally:
        if had:
            inner._hypothesis_internal_add_digest = old
        else:
            del inner._hypothesis_internal_add_digest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Attach the statement IDs each test's docstring names (shipped with its reports)."""
    for item in items:
        _share_database_key_with_hypofuzz(item)
        doc = getattr(getattr(item, "function", None), "__doc__", None)
        item.user_properties.append(("statements", named_in(doc)))
        if item.get_closest_marker("meta") is not None:
            item.user_properties.append(("meta", True))
    shard = config.getoption("--invariants-shard")
    if shard:
        index, count = parse_shard(shard)
        keep_files = shard_files((i.nodeid.split("::")[0] for i in items), index, count)
        kept = [i for i in items if i.nodeid.split("::")[0] in keep_files]
        dropped = [i for i in items if i.nodeid.split("::")[0] not in keep_files]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.hookimpl(tryfirst=True)  # before xdist starts the workers, which inherit the env
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.invariants_started = time.monotonic()  # type: ignore[attr-defined]
    if _is_controller(session.config):
        _start_progress(session.config)
    else:
        _count_test_cases()
    directory = _report_dir(session.config)
    if directory is not None:
        clear_folder(directory)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The collected set of a serial run (under xdist the workers report it, below)."""
    if not _is_controller(session.config) or not session.items:
        return
    info = {}
    for item in session.items:
        props = dict(item.user_properties)
        info[item.nodeid] = (list(props.get("statements", [])), bool(props.get("meta", False)))
    _STATE.on_collected([i.nodeid for i in session.items], info)
    _write_partial(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids: list[str]) -> None:
    """The collected set of an xdist run: every worker collects the same IDs."""
    _STATE.on_collected(ids)
    _write_partial(node.config)


def pytest_runtest_logstart(nodeid: str, location) -> None:
    _STATE.on_start(nodeid)
    _write_partial(_CONFIG[-1] if _CONFIG else None)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect each test's outcome and records (runs on the xdist controller too).

    The slack records arrive with the teardown report (the fixture that holds
    them is finalised after the call), the outcome with the call report, and
    xdist's "worker crashed" report with ``when == "???"``.
    """
    _STATE.on_report(report)
    if report.when in ("teardown", "???") or report.failed:
        _write_partial(_CONFIG[-1] if _CONFIG else None)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the report folder, compare with the baseline; a run problem fails the run."""
    config = session.config
    _stop_progress(config)
    directory = _report_dir(config)
    if directory is None:
        return
    report = _build(config, final=True)
    report["timings"] = timings_of(
        report,
        _STATE.entries(config.rootpath, final=True)[1],
        time.monotonic() - getattr(config, "invariants_started", time.monotonic()),
    )
    write_folder(report, directory)
    config.invariants_report = report  # type: ignore[attr-defined]
    failed = not report["ok"]
    baseline_path = config.getoption("--invariants-baseline")
    if baseline_path:
        try:
            result = baseline.compare(baseline.load_any(baseline_path), report)
            text = baseline.format_comparison(result, baseline_path, str(directory))
            (directory / "comparison.md").write_text(
                baseline.format_comparison(result, baseline_path, str(directory), markdown=True)
            )
            failed = failed or bool(result["regressions"])
        except ReportFormatError as exc:
            text = (
                f"baseline comparison impossible: {exc}\n"
                "(make a baseline from a whole-suite report with `make baseline`)"
            )
            failed = True
        config.invariants_comparison = text  # type: ignore[attr-defined]
    if failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _build(config: pytest.Config, final: bool) -> dict:
    # The partial report stays small: no series, no per-example slacks.
    entries, _ = _STATE.entries(config.rootpath, final=final, light=not final)
    run = {
        "profile": config.invariants_profile,  # type: ignore[attr-defined]
        "selection": selection_of(config),
        "partial": not final,
        "database": getattr(config, "invariants_database", None),
    }
    report = build_report(entries, run, benchmark_metrics(config.rootpath / "benchmarks/results"))
    report["execution"] = {
        "workers": int(getattr(config.option, "numprocesses", 0) or 0),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    return report


def _write_partial(config: pytest.Config | None) -> None:
    if config is None:
        return
    directory = _report_dir(config)
    if directory is None:
        return
    report = _build(config, final=False)
    write_json(directory / PARTIAL_JSON, report)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if not _is_controller(config):
        return
    report = getattr(config, "invariants_report", None)
    if report is None:
        report = _build(config, final=True)
    terminalreporter.section("statement summary")
    terminalreporter.write_line(format_table(report))
    directory = _report_dir(config)
    if directory is not None:
        terminalreporter.write_line(f"report written to {directory / 'report.md'} (and .json)")
    comparison = getattr(config, "invariants_comparison", None)
    if comparison:
        terminalreporter.section("comparison with the baseline")
        terminalreporter.write_line(comparison)


def pytest_report_header(config: pytest.Config) -> str:
    header = f"invariants: hypothesis profile '{config.invariants_profile}'"  # type: ignore[attr-defined]
    database = getattr(config, "invariants_database", None)
    return header + (f", example database {database}" if database else "")


# --- progress of long tests ------------------------------------------------------------------
# A test running longer than PROGRESS_AFTER seconds gets one line every PROGRESS_EVERY seconds:
# what it checks and how many Hypothesis test cases it has run of its max_examples. Short tests
# print nothing. Each process (serial run or xdist worker) writes its current test to a small
# JSON file in a run-scoped directory (inherited by the workers through the environment); a
# daemon thread of the controller reads them. The count is of every executed test case
# (generated, replayed or shrunk): Hypothesis's own per-case entry point is wrapped, so no
# test function and no derandomized seed changes.
PROGRESS_AFTER = 30.0
PROGRESS_EVERY = 30.0
_PROGRESS_ENV = "INVARIANTS_PROGRESS_DIR"
_CURRENT: dict = {}


def _write_current() -> None:
    directory = os.environ.get(_PROGRESS_ENV)
    if not directory or not _CURRENT:
        return
    path = Path(directory) / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(_CURRENT))
        tmp.replace(path)
    except OSError:
        pass  # the controller has finished and removed the directory
    _CURRENT["written"] = time.monotonic()


def _count_test_cases() -> None:
    from hypothesis import core

    cls = getattr(core, "StateForActualGivenExecution", None)
    original = getattr(cls, "_execute_once_for_engine", None)
    if original is None or getattr(cls, "_invariants_progress", False):
        return  # another Hypothesis version: progress shows elapsed time only

    def counted(self, data):
        if _CURRENT:
            _CURRENT["cases"] += 1
            if time.monotonic() - _CURRENT.get("written", 0.0) > 1.0:
                _write_current()
        return original(self, data)

    cls._execute_once_for_engine = counted
    cls._invariants_progress = True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    if not os.environ.get(_PROGRESS_ENV):
        yield
        return
    fn = getattr(item, "obj", None)
    own = getattr(fn, "_hypothesis_internal_use_settings", None)
    _CURRENT.clear()
    _CURRENT.update(
        nodeid=item.nodeid,
        statements=list(dict(item.user_properties).get("statements", [])),
        started=time.time(),
        cases=0,
        max_examples=own.max_examples if own is not None else None,
    )
    _write_current()
    try:
        yield
    finally:
        _CURRENT.clear()
        (Path(os.environ[_PROGRESS_ENV]) / f"{os.getpid()}.json").unlink(missing_ok=True)


def progress_lines(directory: Path, now: float, after: float = PROGRESS_AFTER) -> list[str]:
    """One line per test that has run longer than ``after`` seconds (the controller's view)."""
    lines = []
    for path in sorted(directory.glob("*.json")):
        try:
            cur = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced or removed
        elapsed = now - float(cur.get("started", now))
        if elapsed < after:
            continue
        total = cur.get("max_examples")
        cases = f"{cur.get('cases', 0)} test cases" + (f" (max_examples {total})" if total else "")
        ids = " ".join(cur.get("statements") or []) or "no statement"
        minutes, seconds = divmod(int(elapsed), 60)
        lines.append(f"[running {minutes}m{seconds:02d}s] {cur['nodeid']} ({ids}): {cases}")
    return lines


class _ProgressThread(threading.Thread):
    def __init__(self, config: pytest.Config, directory: Path) -> None:
        super().__init__(daemon=True, name="invariants-progress")
        self.config, self.directory, self.stop = config, directory, threading.Event()

    def run(self) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        while not self.stop.wait(PROGRESS_EVERY):
            lines = progress_lines(self.directory, time.time())
            if reporter is not None and lines:
                reporter.write_line("")
                for line in lines:
                    reporter.write_line(line)


def _start_progress(config: pytest.Config) -> None:
    if not _is_controller(config) or config.option.collectonly:
        return
    directory = Path(tempfile.mkdtemp(prefix="invariants-progress-"))
    os.environ[_PROGRESS_ENV] = str(directory)  # inherited by the xdist workers
    _count_test_cases()
    thread = _ProgressThread(config, directory)
    thread.start()
    config.invariants_progress = thread  # type: ignore[attr-defined]


def _stop_progress(config: pytest.Config) -> None:
    thread = getattr(config, "invariants_progress", None)
    if thread is None:
        return
    thread.stop.set()
    shutil.rmtree(thread.directory, ignore_errors=True)
    os.environ.pop(_PROGRESS_ENV, None)
    config.invariants_progress = None  # type: ignore[attr-defined]


@pytest.fixture
def record_erratum(request: pytest.FixtureRequest):
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
def record_observation(request: pytest.FixtureRequest):
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


@pytest.fixture
def record_slack(request: pytest.FixtureRequest):
    """Record each statement's worst slack on the test report (merged by the report job).

    Stored in ``user_properties``, which pytest-xdist ships from workers to the
    controller, so a parallel run loses nothing.
    """
    rec = SlackRecorder()
    yield rec
    for entry in rec.worst.values():
        request.node.user_properties.append(("slack", entry))
