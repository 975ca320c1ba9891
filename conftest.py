"""Suite-wide configuration: Hypothesis profiles, BLAS threads, replay info.

Profiles (select with ``--hypothesis-profile NAME`` or ``INVARIANTS_PROFILE``):

- ``dev``    default; random, with the local example database.
- ``ci``     deterministic: derandomized, no database, ``print_blob``, no
             deadline.  The same commit gives the same examples and report.
- ``report`` deterministic like ``ci`` but with more examples (the main job).
- ``stress`` random, with the example database, many examples.
- ``triage`` like ``ci`` without shrinking: the first failure of each test,
             fast, for debugging long trajectories.

Hypothesis registers its own "ci" profile and loads it whenever the ``CI``
environment variable is set (NUMERICS.md, Tooling).  Each profile here is
registered with an explicit parent so that ours wins, and one is always
loaded explicitly below.
"""

from __future__ import annotations

import os

# One BLAS thread per process: xdist runs one worker per core, and
# oversubscribed BLAS threads make runs slower and timing noisy. Must happen
# before numpy is imported anywhere.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, Phase, Verbosity, settings  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402

from invariants.reporting import TestRecord, format_table, summarize, write_summary  # noqa: E402
from invariants.statements import named_in  # noqa: E402

_RECORDS: dict[str, TestRecord] = {}

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
        choices=["dev", "ci", "report", "stress", "triage"],
        help="Hypothesis profile of the suite (default: $INVARIANTS_PROFILE or dev).",
    )

    parser.addoption(
        "--invariants-report",
        default=None,
        help="Directory to write the run summary (summary.json) into.",
    )


def pytest_configure(config: pytest.Config) -> None:
    profile = config.getoption("--invariants-profile")
    settings.load_profile(profile)
    config.invariants_profile = profile  # type: ignore[attr-defined]
    config.invariants_records = []  # type: ignore[attr-defined]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Attach the statement IDs each test's docstring names (shipped with its reports)."""
    for item in items:
        doc = getattr(getattr(item, "function", None), "__doc__", None)
        item.user_properties.append(("statements", named_in(doc)))
        if item.get_closest_marker("meta") is not None:
            item.user_properties.append(("meta", True))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect each test's outcome and slack records (runs on the xdist controller too).

    The slack records arrive with the teardown report (the fixture that holds
    them is finalised after the call), the outcome with the call report.
    """
    rec = _RECORDS.setdefault(report.nodeid, TestRecord(report.nodeid, "not run", 0.0, [], [], ""))
    for key, value in report.user_properties:
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
    if report.when == "call" or (report.when == "setup" and not report.passed):
        rec.outcome = report.outcome
        rec.duration += report.duration
        if report.failed:
            rec.longrepr = str(report.longrepr)
    elif report.when == "teardown" and report.failed and rec.outcome == "passed":
        rec.outcome, rec.longrepr = "failed", str(report.longrepr)


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    summary = summarize(_RECORDS.values(), config.invariants_profile)  # type: ignore[attr-defined]
    terminalreporter.section("statement summary")
    terminalreporter.write_line(format_table(summary))
    directory = config.getoption("--invariants-report")
    if directory:
        path = write_summary(summary, directory)
        terminalreporter.write_line(f"summary written to {path}")


def pytest_report_header(config: pytest.Config) -> str:
    return f"invariants: hypothesis profile '{config.invariants_profile}'"  # type: ignore[attr-defined]


class SlackRecorder:
    """Collects, over every example of one test, each statement's worst slack."""

    def __init__(self) -> None:
        self.worst: dict[str, dict] = {}

    def __call__(self, slack) -> None:
        entry = self.worst.setdefault(
            slack.statement, {"statement": slack.statement, "examples": 0, "ratio": -np.inf}
        )
        entry["examples"] += 1
        if float(slack.ratio) > entry["ratio"]:
            entry["ratio"] = float(slack.ratio)
            entry["detail"] = slack.detail


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
