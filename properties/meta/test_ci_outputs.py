"""Meta-tests of the CI-native outputs: JUnit XML properties and Hypothesis's statistics.

These tests check the reporting code itself and name no statement of the paper;
statement IDs appear below only as data.

- The route to Hypothesis's statistics is pinned against the installed Hypothesis:
  the numbers :mod:`invariants.report.hypothesis_stats` reads must agree with the
  text Hypothesis prints for ``--hypothesis-show-statistics``, and a dictionary of
  another form is an error that names what changed, never a silent zero.
- A real pytest run of a tiny file (the report plugin and nothing else of the suite,
  as in ``test_reporting.py``), serial and under xdist, writes JUnit XML whose test
  cases carry one ``statement`` property per ID and a ``meta`` property, and a
  ``report.json`` whose tests carry the statistics (events included) and whose
  ``timings`` carry the time per example.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.statistics import collector, describe_statistics

from invariants.report import determinism, files, hypothesis_stats
from invariants.report.build import build_report
from invariants.report.hypothesis_stats import StatisticsFormatError
from invariants.report.junit import junit_properties
from invariants.report.markdown import markdown
from invariants.report.records import TestRecord
from invariants.report.summary import format_slowest, slowest_rows
from properties.helpers import tiny_env, tiny_suite

pytestmark = pytest.mark.meta

MAX_EXAMPLES = 15
REPO = Path(__file__).resolve().parents[2]
SUBSET = {"complete": False, "reason": "a test", "args": [], "shard": None}


def small_report(nodeids: list[str]) -> dict:
    """A report of passing tests that check nothing."""
    tests = [TestRecord(n, "passed", 0.0, []).to_entry() for n in nodeids]
    return build_report(tests, {"profile": "ci", "selection": SUBSET})


def _run_with_statistics(test) -> tuple[list[dict], list[dict]]:
    """Run a Hypothesis test; (our summaries, Hypothesis's raw dictionaries) of its runs."""
    raw: list[dict] = []
    ours: list[dict] = []
    with collector.with_value(raw.append), hypothesis_stats.collecting(ours):
        test()
    return ours, raw


def _printed_counts(stats: dict) -> dict[str, tuple[int, int, int]]:
    """Per phase, Hypothesis's own printed (passing, failing, invalid) counts."""
    text = describe_statistics(stats)
    out, phase = {}, None
    for line in text.splitlines():
        m = re.search(r"during (\w+) phase", line)
        if m:
            phase = m.group(1)
        m = re.search(r"(\d+) passing, (\d+) failing, and (\d+) invalid", line)
        if m and phase:
            out[phase] = tuple(int(g) for g in m.groups())
    return out


def test_statistics_agree_with_what_hypothesis_prints():
    """valid / invalid / events read from the statistics match Hypothesis's printed text.

    A property of integers rejects 0 (``assume``) and records an event per example:
    ``valid`` is ``max_examples``, the rejected examples are ``invalid``, every valid
    example has exactly one event, and the counts equal the ones
    ``describe_statistics`` (what ``--hypothesis-show-statistics`` prints) gives.
    """

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None)
    @given(st.integers(0, 1000))
    def prop(n: int) -> None:
        assume(n % 7 != 0)
        event("even" if n % 2 == 0 else "odd")

    ours, raw = _run_with_statistics(prop)
    assert len(ours) == len(raw) == 1
    s = ours[0]
    assert s["valid"] == MAX_EXAMPLES and s["failing"] == 0 and s["shrinks"] == 0
    assert s["invalid"] >= 1  # the derandomized draws include 0 (a boundary value)
    assert s["events"]["even"] + s["events"]["odd"] == s["valid"]
    assert s["events"]["even"] >= 1 and s["events"]["odd"] >= 1
    printed = _printed_counts(raw[0])
    assert sum(p[0] for p in printed.values()) == s["valid"]
    assert sum(p[2] for p in printed.values()) == s["invalid"] + s["overrun"]
    t = hypothesis_stats.times(s)
    assert t is not None and t["examples"] == s["valid"]
    assert 0 < t["mean_seconds"] <= t["max_seconds"]
    assert s["stopped_because"] == [f"settings.max_examples={MAX_EXAMPLES}"]


def test_a_failing_property_counts_its_failure_and_shrinks():
    """A property failing from 5 on: one failing example at least, shrinks counted apart."""

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None)
    @given(st.integers(0, 1000))
    def prop(n: int) -> None:
        assert n < 5

    def run() -> None:
        with pytest.raises(AssertionError):
            prop()

    ours, raw = _run_with_statistics(run)
    assert len(ours) == 1
    s = ours[0]
    assert s["failing"] >= 1 and s["shrinks"] >= 1
    printed = _printed_counts(raw[0])
    examples = sum(p[1] for ph, p in printed.items() if ph not in ("shrink", "explain"))
    assert examples == s["failing"]
    tried = re.search(r"Tried (\d+) shrinks", describe_statistics(raw[0]))
    assert tried is not None
    assert s["shrinks"] == int(tried.group(1)) + sum(printed.get("explain", (0, 0, 0)))


def test_several_runs_of_one_test_add_up():
    """A test that runs two properties (as a control does) gets their sum."""
    a = {"runs": 1, "valid": 3, "failing": 0, "invalid": 1, "overrun": 0, "shrinks": 0,
         "events": {"x": 2}, "stopped_because": ["a"],
         "seconds": {"total": 0.3, "examples": 3, "max": 0.2}}  # fmt: skip
    b = {"runs": 1, "valid": 2, "failing": 1, "invalid": 0, "overrun": 2, "shrinks": 7,
         "events": {"x": 1, "y": 3}, "stopped_because": ["b"],
         "seconds": {"total": 0.9, "examples": 3, "max": 0.5}}  # fmt: skip
    c = hypothesis_stats.combine([a, b])
    assert {k: c[k] for k in hypothesis_stats.COUNT_KEYS} == {
        "runs": 2, "valid": 5, "failing": 1, "invalid": 1, "overrun": 2, "shrinks": 7
    }  # fmt: skip
    assert c["events"] == {"x": 3, "y": 3} and c["stopped_because"] == ["a", "b"]
    assert hypothesis_stats.times(c) == {"examples": 6, "mean_seconds": 0.2, "max_seconds": 0.5}
    assert "seconds" not in hypothesis_stats.counts(c)


@pytest.mark.parametrize(
    ("stats", "needle"),
    [
        ({}, "no '<phase>-phase' block"),
        ({"generate-phase": {"cases": []}}, "has no 'test-cases' list"),
        ({"generate-phase": {"test-cases": [{"status": "valid"}]}}, "lacks 'status'"),
        (
            {"generate-phase": {"test-cases": [{"status": "odd", "runtime": 0, "events": []}]}},
            "unknown test-case status 'odd'",
        ),
    ],
)
def test_a_changed_statistics_format_is_an_error_naming_it(stats, needle):
    """Negative control of the pin: another form of the dictionary raises, never reads 0."""
    with pytest.raises(StatisticsFormatError, match=re.escape(needle)):
        hypothesis_stats.summarise(stats)


def test_junit_properties_are_clean():
    """One ``statement`` per ID, ``meta``, the counts; the report's records left out."""
    summary = {"runs": 1, "valid": 4, "failing": 0, "invalid": 2, "overrun": 1, "shrinks": 0,
               "events": {}, "stopped_because": [],
               "seconds": {"total": 0.5, "examples": 4, "max": 0.25}}  # fmt: skip
    props = junit_properties(
        [
            ("statements", ["S-L4", "S-T3"]),
            ("meta", True),
            ("slack", {"statement": "S-L4", "ratios": [0.1] * 1000}),
            ("observation", {"name": "x"}),
            ("erratum", {}),
            ("hypothesis_statistics", summary),
            ("mine", 3),
        ]
    )
    assert props == [
        ("statement", "S-L4"),
        ("statement", "S-T3"),
        ("hypothesis_valid", "4"),
        ("hypothesis_invalid", "2"),
        ("hypothesis_overrun", "1"),
        ("hypothesis_mean_seconds", "0.125"),
        ("hypothesis_max_seconds", "0.25"),
        ("mine", "3"),
        ("meta", "true"),
    ]
    assert junit_properties([("statements", [])]) == [("meta", "false")]
    assert junit_properties([("mine", "x")]) == [("mine", "x")]


def test_slowest_table_orders_by_duration_and_shows_examples():
    """The table lists the longest tests first, with examples and time per example."""
    names = ["t.py::a", "t.py::b", "t.py::c"]
    report = small_report(names)
    report["tests"][0]["hypothesis"] = {"valid": 9, "failing": 1, "invalid": 4, "overrun": 1}
    report["timings"] = {
        "tests": {names[0]: 2.0, names[1]: 5.0, names[2]: 0.5},
        "examples": {names[0]: {"examples": 10, "mean_seconds": 0.19, "max_seconds": 0.7}},
        "statements": {},
    }
    rows = slowest_rows(report, limit=2)
    assert [r["nodeid"] for r in rows] == [names[1], names[0]]
    assert rows[1]["examples"] == 10 and rows[1]["invalid"] == 5
    assert rows[0]["examples"] is None and rows[0]["mean_seconds"] is None
    text = format_slowest(report)
    assert text.splitlines()[1].split()[0] == "5.00"
    assert "0.19" in text and "0.7" in text
    md = markdown(report)
    assert "### Slowest tests and examples" in md
    assert f"| `{names[0]}` | 2.00 | 10 | 5 | 0.19 | 0.7 |" in md
    report.pop("timings")
    assert format_slowest(report) == "" and "Slowest tests" not in markdown(report)


TINY = '''
import pytest
from types import SimpleNamespace
from hypothesis import HealthCheck, assume, given, settings, strategies as st

@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=st.integers(0, 20))
def test_drawn(x, record_slack):
    """S-EQ1 and S-L4 on an integer."""
    assume(x != 3)
    record_slack(SimpleNamespace(statement="S-EQ1", ratio=x / 40, detail="",
                                 exercised=x > 5))

@pytest.mark.meta
def test_control():
    """Control of S-L4."""

def test_plain():
    """No statement."""
'''


def _junit(path) -> dict[str, list[tuple[str, str]]]:
    """Per test name, its ``<property>`` pairs in order."""
    root = ET.parse(path).getroot()
    return {
        tc.get("name"): [(p.get("name"), p.get("value")) for p in tc.iter("property")]
        for tc in root.iter("testcase")
    }


@pytest.mark.parametrize("workers", ["0", "2"])
def test_junit_xml_and_report_statistics_of_a_real_run(tmp_path, workers):
    """``--junit-xml`` and ``--invariants-report`` of a tiny file, serial and with ``-n 2``.

    The XML names each test's statement IDs one property each and its meta flag, and
    none of the report's records; report.json carries the statistics: 12 valid
    examples, the rejected draw as invalid, the exercised / not exercised events adding
    up to the examples, the time per example under ``timings``; the terminal shows the
    slowest tests.
    """
    root = tiny_suite(tmp_path, test_tiny=TINY)
    out = root / "out"
    xml_path = out / "junit.xml"
    proc = determinism.run_pytest(
        [
            "-n",
            workers,
            "--hypothesis-profile",
            "ci",
            f"--junit-xml={xml_path}",
            "properties/test_tiny.py",
        ],
        root,
        out,
        env=tiny_env(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    props = _junit(xml_path)
    assert set(props) == {"test_drawn", "test_control", "test_plain"}
    drawn = props["test_drawn"]
    assert [v for n, v in drawn if n == "statement"] == ["S-EQ1", "S-L4"]
    assert ("meta", "false") in drawn and ("hypothesis_valid", "12") in drawn
    assert props["test_control"] == [("statement", "S-L4"), ("meta", "true")]
    assert props["test_plain"] == [("meta", "false")]
    names = {n for p in props.values() for n, _ in p}
    assert not names & {"statements", "slack", "observation", "hypothesis_statistics"}

    report = files.load(out / "report.json")
    tests = {t["nodeid"].split("::")[1]: t for t in report["tests"]}
    h = tests["test_drawn"]["hypothesis"]
    assert h["valid"] == 12 and h["failing"] == 0 and h["runs"] == 1
    assert h["invalid"] >= 1  # x == 3 is drawn by the derandomized ci profile
    assert h["events"]["S-EQ1: exercised"] + h["events"]["S-EQ1: not exercised (vacuous)"] == 12
    assert tests["test_control"]["hypothesis"] is None
    nodeid = tests["test_drawn"]["nodeid"]
    t = report["timings"]["examples"][nodeid]
    assert t["examples"] == 12 and 0 < t["mean_seconds"] <= t["max_seconds"]
    assert set(report["timings"]["examples"]) == {nodeid}
    assert "slowest tests and examples" in proc.stdout
    assert "### Slowest tests and examples" in (out / "report.md").read_text()
    raw = json.loads((out / "report.json").read_text())
    assert raw["schema"] == "invariants.report/2"
