"""Meta-tests of the report on every outcome kind: status, run problems, baseline regressions.

Each test replays one synthetic run through the same code a real run goes through:
pytest reports (as the plugin receives them, also xdist's "worker crashed" report) are
folded by :class:`invariants.report.collection.RunState`, the report is built
(:func:`invariants.report.build.build_report`), written and read back as JSON, and
compared (:func:`invariants.report.compare.compare`) with the baseline of a run in
which every test passed.  The outcome kinds are those docs/report.md, "report.md"
and "The baseline", promise a status or a regression for:

- a test whose setup errors, and one that fails: its statement is *violated* (with a
  witness), the test is a new failure;
- a test whose worker crashed: its statement is *crashed*, lost coverage, the test a
  new failure;
- a test that never ran (partial report, and a finished run that stopped early): its
  statement is *not run*, lost coverage;
- a NaN and an infinite slack: the statement is *violated* and the worst slack moved
  past its bound;
- a statement that vanished from the report, and a test that vanished from the run.

The synthetic suite checks six statements, each with slacks on three examples.  These
tests name no statement of the paper; the IDs below are data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import pytest

from invariants.report import baseline, files
from invariants.report.build import build_report
from invariants.report.collection import RunState
from invariants.report.compare import compare, renamed_tests
from invariants.report.markdown import markdown
from invariants.report.records import SlackRecorder

pytestmark = pytest.mark.meta

COMPLETE = {"complete": True, "reason": "", "args": ["properties"], "shard": None}

# The synthetic suite: node ID -> the statement its docstring names (None: names none).
SUITE: dict[str, str | None] = {
    "t.py::test_setup": "S-EQ1",
    "t.py::test_fail": "S-EQ2",
    "t.py::test_crash": "S-EQ3",
    "t.py::test_late": "S-L1",
    "t.py::test_bound": "S-L2a",  # sorts before test_nonfinite: the worst slack is its
    "t.py::test_nonfinite": "S-L2a",  # 0.5 until test_nonfinite records a non-finite one
    "t.py::test_gone": "S-L2b",
    "t.py::test_plain": None,
}
RATIOS = (0.1, 0.5, 0.2)  # every test's per-example slacks in the baseline run

# The suite's source, for the statements of a test that never reported (an xdist
# controller never imports the tests: collection reads them from the file).
SOURCE = "\n".join(
    f'def {nodeid.split("::")[1]}():\n    """Checks {sid or "nothing"}."""\n'
    for nodeid, sid in SUITE.items()
)

NEW_STYLE_FAILURE = """\
>       assert x < 10
E       assert 10 < 10
E       Failing test case: test_fail(
E           x=10,
E       )
E
E       You can reproduce this test case by temporarily adding \
@reproduce_failure('6.170.17', b'AEEK') as a decorator on your test function

t.py:7: AssertionError"""

CRASH = "worker 'gw1' crashed while running 't.py::test_crash'"


# --- a synthetic run -------------------------------------------------------------


def pytest_report(
    nodeid: str, when: str, outcome: str = "passed", longrepr: str = "", props: Iterable = ()
) -> SimpleNamespace:
    """A pytest ``TestReport`` as the plugin receives it (``when == "???"``: xdist's crash)."""
    return SimpleNamespace(
        nodeid=nodeid,
        when=when,
        outcome=outcome,
        passed=outcome == "passed",
        failed=outcome == "failed",
        skipped=outcome == "skipped",
        longrepr=longrepr,
        duration=0.01,
        user_properties=list(props),
    )


def slack_props(sid: str | None, ratios: Iterable[float]) -> list[tuple[str, object]]:
    """The ``user_properties`` of a test: its statements, then its slacks (``record_slack``)."""
    if sid is None:
        return [("statements", [])]
    rec = SlackRecorder()
    for r in ratios:
        rec(SimpleNamespace(statement=sid, ratio=r, detail=f"ratio {r}", exercised=True))
    return [("statements", [sid]), *(("slack", e) for e in rec.worst.values())]


def passing(state: RunState, nodeid: str, ratios: Iterable[float] = RATIOS) -> None:
    """A test that passes: setup, call, teardown (which carries the slack records)."""
    props = slack_props(SUITE[nodeid], ratios)
    state.on_start(nodeid)
    for when in ("setup", "call", "teardown"):
        state.on_report(pytest_report(nodeid, when, props=props))


class Run:
    """A synthetic run of :data:`SUITE`: every test passes unless the case says otherwise."""

    def __init__(self, tmp_path: Path, suite: Iterable[str] = SUITE) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "t.py").write_text(SOURCE)
        self.root = tmp_path
        self.state = RunState()
        self.state.on_collected(list(suite))  # as under xdist: no statements known yet
        self.pending = list(suite)

    def take(self, nodeid: str) -> str:
        self.pending.remove(nodeid)
        return nodeid

    def report(self, final: bool = True) -> dict:
        """The report after the remaining tests passed (``final=False``: none did)."""
        if final:
            for nodeid in self.pending:
                passing(self.state, nodeid)
        entries, _ = self.state.entries(self.root, final=final)
        run = {"profile": "report", "selection": COMPLETE, "partial": not final}
        return build_report(entries, run, None)


def round_trip(tmp_path: Path, name: str, report: dict) -> dict:
    """The report as a later reader sees it: written to JSON and loaded back."""
    return files.load(files.write_json(tmp_path / f"{name}.json", report))


def baseline_of(tmp_path: Path) -> dict:
    """The baseline of the run in which every test passed, read back from its file."""
    base = Run(tmp_path / "base")
    report = round_trip(tmp_path, "base-report", base.report())
    path = tmp_path / "baseline.json"
    baseline.update(str(tmp_path / "base-report.json"), str(path))
    assert {r["id"]: r["status"] for r in report["statements"] if r["tests"]} == {
        sid: "held" for sid in SUITE.values() if sid
    }
    return files.load(path, kinds=("invariants.baseline",))


def row(report: dict, sid: str) -> dict:
    return next(r for r in report["statements"] if r["id"] == sid)


def regressions(base: dict, new: dict) -> set[tuple[str, str, str]]:
    """(kind, item, rule) of every REGRESSION row of the comparison."""
    rows = compare(base, new)["rows"]
    return {(r["kind"], r["item"], r["rule"]) for r in rows if r["verdict"] == "REGRESSION"}


def new_gating(base_dir: Path, new: dict) -> set[tuple[str, str]]:
    """(kind, item) of the run problems that fail the run and the baseline run did not have."""
    old = files.load(base_dir / "base-report.json")
    had = {(p["kind"], p["item"]) for p in old["problems"] if p["gating"]}
    return {(p["kind"], p["item"]) for p in new["problems"] if p["gating"]} - had


# --- the outcome kinds -------------------------------------------------------------


def test_setup_error_violates_its_statement_and_is_a_new_failure(tmp_path):
    """A fixture that raises in setup: outcome *error*, statement *violated* with the error
    as its witness, a gating run problem; against the baseline a new failure of the
    statement and of the test, and fewer examples (none ran).

    Negative control by construction: the baseline run of the same suite has none of it.
    """
    base = baseline_of(tmp_path)
    run = Run(tmp_path / "run")
    node = run.take("t.py::test_setup")
    props = slack_props(SUITE[node], [])
    run.state.on_start(node)
    error = "E   RuntimeError: fixture broke\n\nt.py:3: RuntimeError"
    run.state.on_report(pytest_report(node, "setup", "failed", error, props))
    run.state.on_report(pytest_report(node, "teardown", props=props))
    new = round_trip(tmp_path, "new", run.report())

    test = next(t for t in new["tests"] if t["nodeid"] == node)
    assert test["outcome"] == "error"
    r = row(new, "S-EQ1")
    assert r["status"] == "violated"
    assert [f["test"] for f in r["failures"]] == [node]
    assert r["failures"][0]["location"] == "t.py:3: RuntimeError"
    assert new_gating(tmp_path, new) == {("error", node)}
    assert regressions(base, new) == {
        ("failure", "S-EQ1", "new failure"),
        ("coverage", "S-EQ1 examples", "fewer examples"),
        ("test", node, "new failure"),
    }
    md = markdown(new)
    assert "| S-EQ1 | " in md and "**violated**: [witness](#failures)" in md
    assert f"#### `{node}` (error)" in md


def test_failed_test_violates_its_statement_with_its_replay(tmp_path):
    """A Hypothesis test that fails after recording slacks: statement *violated*, the
    witness carries the ``@reproduce_failure`` blob; a new failure of the statement and
    of the test, and no coverage lost (its examples were recorded).
    """
    base = baseline_of(tmp_path)
    run = Run(tmp_path / "run")
    node = run.take("t.py::test_fail")
    props = slack_props(SUITE[node], RATIOS)
    run.state.on_start(node)
    run.state.on_report(pytest_report(node, "setup", props=props))
    run.state.on_report(pytest_report(node, "call", "failed", NEW_STYLE_FAILURE, props))
    run.state.on_report(pytest_report(node, "teardown", props=props))
    new = round_trip(tmp_path, "new", run.report())

    r = row(new, "S-EQ2")
    assert r["status"] == "violated" and r["outcomes"] == {"failed": 1}
    assert r["failures"][0]["reproduce_blob"] == "AEEK"
    assert new_gating(tmp_path, new) == {("failed", node)}
    assert regressions(base, new) == {
        ("failure", "S-EQ2", "new failure"),
        ("test", node, "new failure"),
    }
    assert "@reproduce_failure('6.170.17', b'AEEK')" in markdown(new)


def test_crashed_test_makes_its_statement_crashed_and_lose_coverage(tmp_path):
    """A crash: xdist's "worker crashed" report (``when == "???"``, its message the
    reason), or a test that started and never finished in a run that ended (the
    controller was interrupted).  Outcome *crashed*, its statement read from the source;
    the statement is *crashed* (listed under the tests not run or crashed); against the
    baseline it lost coverage and examples, and the test is a new failure; the report
    becomes a baseline only with ``--accept-failures``.
    """
    base = baseline_of(tmp_path)
    node = "t.py::test_crash"
    xdist = Run(tmp_path / "xdist")
    xdist.take(node)
    xdist.state.on_start(node)
    xdist.state.on_report(pytest_report(node, "???", "failed", CRASH))
    interrupted = Run(tmp_path / "interrupted")
    interrupted.take(node)
    interrupted.state.on_start(node)
    for name, run, reason in (
        ("xdist", xdist, CRASH),
        ("interrupted", interrupted, "started but never finished: the run was interrupted "),
    ):
        new = round_trip(tmp_path, name, run.report())
        test = next(t for t in new["tests"] if t["nodeid"] == node)
        assert (test["outcome"], test["statements"]) == ("crashed", ["S-EQ3"])
        assert test["reason"].startswith(reason)
        assert row(new, "S-EQ3")["status"] == "crashed"
        assert new_gating(tmp_path, new) == {("crashed", node)}
        assert regressions(base, new) == {
            ("coverage", "S-EQ3", "lost coverage"),
            ("coverage", "S-EQ3 examples", "fewer examples"),
            ("test", node, "new failure"),
        }
        md = markdown(new)
        assert "**crashed**: see [tests not run](#tests-not-run-or-crashed)" in md
        assert f"| `{node}` | crashed | {reason}" in md
        with pytest.raises(files.ReportFormatError, match="failed or crashed"):
            baseline.update(str(tmp_path / f"{name}.json"), str(tmp_path / "refused.json"))


def test_not_run_tests_make_their_statement_not_run(tmp_path):
    """A test that never reported.  In a partial report (the run still going, or killed)
    it is *not run* ("not reached yet"), or *running* when it had started, and the
    partial report fails the run; in a finished run that stopped early it is *not run*,
    a run problem of its own.  Each way its statement is *not run* and lost coverage
    against the baseline, the comparison shows the test's outcome change, and the
    report cannot become the baseline.
    """
    base = baseline_of(tmp_path)
    late = "t.py::test_late"
    runs = {}
    for name in ("partial", "running"):
        runs[name] = Run(tmp_path / name)
        for nodeid in SUITE:
            if nodeid != late:
                passing(runs[name].state, nodeid)
    runs["running"].state.on_start(late)
    runs["early"] = Run(tmp_path / "early")
    runs["early"].take(late)
    for name, outcome, reason in (
        ("partial", "not run", "not reached yet when this partial report was written"),
        ("running", "running", "running when this partial report was written"),
        ("early", "not run", "never reported: the session stopped early"),
    ):
        final = name == "early"
        new = round_trip(tmp_path, name, runs[name].report(final=final))
        test = next(t for t in new["tests"] if t["nodeid"] == late)
        assert (test["outcome"], test["statements"]) == (outcome, ["S-L1"])
        assert test["reason"].startswith(reason)
        assert row(new, "S-L1")["status"] == "not run"
        gating = ("not run", late) if final else ("partial", "run")
        assert new_gating(tmp_path, new) == {gating}
        # A partial report draws no figure (they are drawn at the end): each figure
        # the baseline rendered is no longer rendered.
        figures = {("figure", "slack_histograms", "figure no longer rendered")}
        assert regressions(base, new) == {
            ("coverage", "S-L1", "lost coverage"),
            ("coverage", "S-L1 examples", "fewer examples"),
            *(set() if final else figures),
        }
        rows = compare(base, new)["rows"]
        assert [(r["verdict"], r["baseline"], r["now"]) for r in rows if r["item"] == late] == [
            ("changed", "passed", outcome)
        ]
        with pytest.raises(files.ReportFormatError, match="did not run"):
            baseline.update(str(tmp_path / f"{name}.json"), str(tmp_path / "refused.json"))


@pytest.mark.parametrize("bad", [math.nan, math.inf], ids=["nan", "inf"])
def test_non_finite_slack_is_a_violation_and_a_regression(tmp_path, bad):
    """A passing test whose slack recorder saw a NaN (or infinite) ratio between finite
    ones: the statement's worst slack is that value (a NaN is never "<= 1"), the
    statement is *violated*, a gating slack problem; against the baseline a new
    failure and a worst slack past its bound.  The value survives the JSON round trip
    (as the string "nan" / "inf"), and a report compared with its own baseline shows
    no difference, NaN included.
    """
    base = baseline_of(tmp_path)
    run = Run(tmp_path / "run")
    node = run.take("t.py::test_nonfinite")
    passing(run.state, node, (0.2, bad, 0.1))
    new = round_trip(tmp_path, "new", run.report())

    r = row(new, "S-L2a")
    assert r["worst_slack"] == str(bad) and r["worst_test"] == node
    assert r["status"] == "violated" and not r["failures"]
    assert new_gating(tmp_path, new) == {("slack", "S-L2a")}
    assert regressions(base, new) == {
        ("failure", "S-L2a", "new failure"),
        ("slack", "S-L2a", "worst slack moved past its bound (> 1)"),
    }
    assert f"worst slack **{bad}** > 1 in `test_nonfinite`" in markdown(new)
    assert compare(baseline.from_report(new), new)["rows"] == []


def test_statement_that_vanished_from_the_report_regresses(tmp_path):
    """A statement of the baseline absent from the new report (its ID left STATEMENTS):
    a regression, "statement vanished", even where its test still ran.
    """
    base = baseline_of(tmp_path)
    new = Run(tmp_path / "run").report()
    new["statements"] = [r for r in new["statements"] if r["id"] != "S-L2b"]
    new = round_trip(tmp_path, "new", new)
    assert regressions(base, new) == {("statement", "S-L2b", "statement vanished")}


def test_test_that_vanished_from_the_run_is_shown(tmp_path):
    """A test of the baseline that is no longer collected (removed or renamed) is a
    difference the comparison shows; when it was the only test of a statement, that
    statement lost coverage (not checked, fewer tests, fewer examples).  A test that
    checks no statement is only shown.  In a subset run neither is compared.
    """
    base = baseline_of(tmp_path)
    for gone, expected in (
        (
            "t.py::test_gone",
            {
                ("coverage", "S-L2b", "lost coverage"),
                ("coverage", "S-L2b tests", "fewer tests check it"),
                ("coverage", "S-L2b examples", "fewer examples"),
            },
        ),
        ("t.py::test_plain", set()),
    ):
        new = Run(tmp_path / gone, [n for n in SUITE if n != gone]).report()
        new = round_trip(tmp_path, "new", new)
        rows = compare(base, new)["rows"]
        assert [(r["verdict"], r["rule"]) for r in rows if r["item"] == gone] == [
            ("changed", "test removed")
        ]
        assert regressions(base, new) == expected
        new["run"]["selection"] = {**COMPLETE, "complete": False, "reason": "-k x"}
        assert not [r for r in compare(base, new)["rows"] if r["item"] == gone]


def test_a_moved_test_is_shown_as_renamed_not_removed():
    """A test whose file moved (same ``name[params]`` after ``::``) is one "renamed" row;
    a name that left or arrived twice is ambiguous and stays removed / added."""
    gone = ["properties/test_a.py::test_x[1]", "properties/test_a.py::test_y", "p/t.py::test_z"]
    added = [
        "properties/paper/test_a.py::test_x[1]",
        "properties/paper/test_b.py::test_y",
        "properties/paper/test_c.py::test_y",
        "properties/paper/test_d.py::test_w",
    ]
    assert renamed_tests(gone, added) == {
        "properties/test_a.py::test_x[1]": "properties/paper/test_a.py::test_x[1]"
    }
    assert renamed_tests(["a.py::test_x"], ["b.py::test_x[1]"]) == {}
    # Two files with a test of one name: paired by base name, then the one left over.
    gone = ["p/c/test_fig2_controls.py::test_ok", "p/c/test_section3_controls.py::test_ok"]
    added = ["p/j/c/test_fig2_controls.py::test_ok", "p/j/c/test_section3_gd_controls.py::test_ok"]
    assert renamed_tests(gone, added) == dict(zip(gone, added, strict=True))
