"""Meta-tests of the report: collection, schema checks, comparison, merge, determinism.

These tests check the reporting code itself and name no statement of the paper.
Statement IDs appear below only as data.  The subprocess runs use tiny
temporary test files that load the report's pytest plugin and nothing else of
the suite (``-p invariants.report.plugin``, Hypothesis's own ``ci`` profile; a
few seconds each), so they run in CI:

- a worker killed mid-test under xdist still gives a report saying what
  crashed, what ran after the restart and what did not;
- a killed serial run (the controller itself dies) leaves report.partial.json;
- an xdist run and a serial run give the same report.json, timings aside.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from invariants.report import (
    baseline,
    benchmarks,
    cli,
    collection,
    determinism,
    failures,
    figures,
    files,
    html,
    progress,
    selection,
    summary,
)
from invariants.report.build import build_report, strip_volatile
from invariants.report.compare import compare, format_comparison
from invariants.report.files import ReportFormatError
from invariants.report.markdown import markdown
from invariants.report.merge import merge
from invariants.report.records import TestRecord
from invariants.statements import CATALOGUE, CATALOGUES, IDS, PAPERS
from properties.helpers import tiny_env, tiny_suite

PAPER_KEYS = tuple(PAPERS)

pytestmark = pytest.mark.meta

REPO = Path(__file__).resolve().parents[2]
COMPLETE = {"complete": True, "reason": "", "args": ["properties"], "shard": None}


# --- synthetic records -----------------------------------------------------------


def entry(nodeid, outcome="passed", statements=(), slacks=(), observations=(), **kw) -> dict:
    """A test entry as collection makes it (``slacks``: (statement, [ratios]) pairs)."""
    rec = TestRecord(
        nodeid,
        outcome,
        0.1,
        list(statements),
        slacks=[
            {"statement": sid, "examples": len(r), "ratio": max(r), "detail": "", "ratios": r}
            for sid, r in slacks
        ],
        observations=list(observations),
        **kw,
    )
    return rec.to_entry()


def obs(name, statement, values, series=None) -> dict:
    o = {"name": name, "statement": statement, "values": values}
    if series is not None:
        o["series"] = series
    return o


def figure_observations() -> list[dict]:
    t = [i / 20 for i in range(21)]
    fig1a = obs(
        "fig1a",
        "S-FIG1a",
        {"depth": 4},
        {
            "data_x0": [0.5, 0.2, -0.4, -0.1],
            "data_x1": [0.3, 0.6, -0.2, -0.7],
            "data_y": [1, 1, -1, -1],
            "ubar": [0.8, 0.6],
            "d1_u0": [0.0 + 0.8 * x for x in t],
            "d1_u1": [1.0 - 0.4 * x for x in t],
            "dL_u0": [1.0 - 0.2 * x for x in t],
            "dL_u1": [0.0 + 0.6 * x for x in t],
        },
    )
    fig1b = obs(
        "fig1b",
        "S-FIG1b",
        {"depth": 3},
        {
            "log10_wprod": [x * 10 for x in t],
            "log_risk": [-(10**x) for x in t],
            "ratio_1": [0.6 + 0.4 * x for x in t],
            "ratio_2": [0.7 + 0.3 * x for x in t],
            "ratio_3": [1.0 for _ in t],
        },
    )
    decays = [
        obs(
            "angle_decay",
            "S-T2",
            {"slope": -1.0 + 0.01 * k, "depth": 1 + k % 3},
            {"log10_wprod": [x * 12 for x in t], "log10_sin": [-x * 12 - k * 0.1 for x in t]},
        )
        for k in range(4)
    ]
    fig2 = [
        obs(
            "fig2",
            "S-FIG2",
            {"init": float(init), "seed": 0.0},
            {
                "step": [x * 300 for x in t],
                "risk": [2.3 * (1 - 0.9 * x) for x in t],
                "ratio_1": [0.2 + 0.1 * x for x in t],
                "floor_1": [0.125 for _ in t],
                "ratio_2": [0.15 + 0.1 * x for x in t],
                "floor_2": [0.088 for _ in t],
            },
        )
        for init in (0, 1)
    ]
    return [fig1a, fig1b, *decays, *fig2]


def full_entries() -> list[dict]:
    """Every statement checked once (the first six with slacks), every figure's data, a
    control, flow health, an erratum."""
    tests = []
    for i, sid in enumerate(IDS):
        tests.append(
            entry(
                f"properties/test_x.py::test_{i:02d}",
                statements=[sid],
                slacks=[(sid, [0.1, 0.2, 0.4])] if i < 6 else [],
                examples=None if i < 6 else 5,
                observations=[
                    obs(
                        "flow_health",
                        sid,
                        {"max_drift_rel": 1e-11 * (1 + i % 3), "log10_wprod_final": 8.0 + i % 2},
                    )
                ],
            )
        )
    tests.append(entry("properties/test_x.py::test_control", statements=[IDS[0]], meta=True))
    tests.append(
        entry(
            "properties/test_x.py::test_figures",
            observations=figure_observations(),
            errata=[{"statement": "S-EQ29", "printed": "+P", "derived": "-P", "witness": {"z": 1}}],
        )
    )
    return tests


def make_report(tests=None, selection=None, partial=False, profile="report") -> dict:
    return build_report(
        full_entries() if tests is None else tests,
        {"profile": profile, "selection": selection or COMPLETE, "partial": partial},
        None,
    )


def write(tmp_path: Path, name: str, data) -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


# --- failure text --------------------------------------------------------------


NEW_STYLE = """\
    @given(st.integers())
>   def test_fail(x):

x = 10

>       assert x < 10
E       assert 10 < 10
E       Failing test case: test_fail(
E           x=10,
E       )
E
E       You can reproduce this test case by temporarily adding \
@reproduce_failure('6.170.17', b'AEEK') as a decorator on your test function

properties/test_a.py:7: AssertionError"""

OLD_STYLE = """\
E   AssertionError: too big
E   Falsifying example: test_big(
E       problem=Problem(n=3,
E           d=[1, 2]),
E   )
E   You can reproduce this example by temporarily adding @reproduce_failure('6.100.0', \
b'AXicY2BgYAAAAAQAAQ==') as a decorator on your test case
E   You can add @seed(302934307671667531413257853548643485645) to this test or run pytest \
with --hypothesis-seed=302934307671667531413257853548643485645 to reproduce this failure."""


def test_parse_failure_new_hypothesis_text():
    """The failing example and the reproduce_failure blob come out of today's text."""
    f = failures.parse_failure(NEW_STYLE)
    assert f["falsifying_example"] == "test_fail(\n    x=10,\n)"
    assert f["reproduce_failure"] == "@reproduce_failure('6.170.17', b'AEEK')"
    assert (f["reproduce_version"], f["reproduce_blob"]) == ("6.170.17", "AEEK")
    assert f["location"] == "properties/test_a.py:7: AssertionError"
    assert f["seed"] is None
    assert "assert 10 < 10" in f["message"] and "reproduce" not in f["message"]


def test_parse_failure_old_hypothesis_text_and_seed():
    """Older Hypothesis texts ('Falsifying example', '@seed') are read too."""
    f = failures.parse_failure(OLD_STYLE)
    assert f["falsifying_example"].startswith("test_big(\n")
    assert f["falsifying_example"].endswith(")")
    assert "d=[1, 2]" in f["falsifying_example"]
    assert f["reproduce_blob"] == "AXicY2BgYAAAAAQAAQ=="
    assert f["seed"] == 302934307671667531413257853548643485645
    plain = failures.parse_failure("worker 'gw0' crashed while running 'x.py::t'")
    assert plain["falsifying_example"] is None and plain["reproduce_failure"] is None


def test_hypothesis_example_count():
    """Test cases run are read from Hypothesis's statistics, shrinking excluded."""
    text = (
        "x.py::t:\n\n  - during reuse phase (0.00 seconds):\n"
        "    - 2 passing, 0 failing, and 0 invalid test cases\n"
        "  - during generate phase (0.02 seconds):\n"
        "    - 25 passing, 1 failing, and 3 invalid test cases\n"
        "  - during shrink phase (0.1 seconds):\n"
        "    - 40 passing, 9 failing, and 0 invalid test cases\n"
    )
    assert failures.hypothesis_examples(text) == 28
    assert failures.hypothesis_examples(None) is None


# --- the report ----------------------------------------------------------------


def test_statement_table_lists_every_id_in_order_and_statuses():
    """Every ID appears, in order; held / violated / reachable only / not checked / controls."""
    tests = [
        entry("t.py::held", statements=["S-EQ2"], slacks=[("S-EQ2", [0.1, 0.3])]),
        entry("t.py::bad", "failed", statements=["S-EQ3"], longrepr=NEW_STYLE),
        entry(
            "t.py::reach",
            statements=["S-T4"],
            slacks=[("S-T4", [0.5])],
            observations=[obs("S-T4_reach", "S-T4", {"log10_wprod": 3.0})],
        ),
        entry("t.py::ctl_ok", statements=["S-EQ2"], meta=True),
        entry("t.py::ctl_bad", "failed", statements=["S-EQ2"], meta=True),
        entry("t.py::over", statements=["S-L5"], slacks=[("S-L5", [0.2, 1.5])]),
    ]
    r = make_report(tests)
    assert [row["id"] for row in r["statements"]] == list(IDS)
    rows = {row["id"]: row for row in r["statements"]}
    assert rows["S-EQ2"]["status"] == "held" and rows["S-EQ2"]["examples"] == 2
    assert rows["S-EQ2"]["worst_slack"] == 0.3
    assert rows["S-EQ2"]["controls"] == {
        "tests": ["t.py::ctl_bad", "t.py::ctl_ok"],
        "total": 2,
        "failed_as_required": 1,
        "all_failed_as_required": False,
    }
    assert rows["S-EQ3"]["status"] == "violated"
    assert rows["S-EQ3"]["failures"][0]["reproduce_blob"] == "AEEK"
    assert rows["S-T4"]["status"] == "reachable only"
    assert rows["S-L5"]["status"] == "violated"  # a slack above 1 is a violation
    assert rows["S-L1"]["status"] == "not checked"
    kinds = {(p["kind"], p["item"]): p["gating"] for p in r["problems"]}
    assert kinds[("not checked", "S-L1")] is True
    assert kinds[("slack", "S-L5")] is True
    assert not r["ok"]
    md = markdown(r)
    assert md.index("| S-EQ1 |") < md.index("| S-EQ2 |") < md.index("| S-ERR |")
    assert "reachable only" in md and "@reproduce_failure('6.170.17', b'AEEK')" in md


def test_a_slack_on_an_undeclared_statement_lists_its_test():
    """A test that records a slack for an ID it does not declare is listed under that ID.

    Its outcome is counted there and its slack is the row's (not only its declared IDs'):
    otherwise the row would show examples and a worst slack but no test that checked it.
    Found by the sampled mutation run (statement_rows reading another key than the node ID).
    """
    tests = [
        entry("t.py::side", statements=["S-EQ2"], slacks=[("S-EQ2", [0.1]), ("S-EQ3", [0.2, 0.4])])
    ]
    rows = {row["id"]: row for row in make_report(tests)["statements"]}
    assert rows["S-EQ3"]["tests"] == ["t.py::side"]
    assert rows["S-EQ3"]["outcomes"] == {"passed": 1}
    assert rows["S-EQ3"]["examples"] == 2 and rows["S-EQ3"]["worst_slack"] == 0.4
    assert rows["S-EQ3"]["status"] == "held"


def test_subset_run_does_not_fail_on_unchecked_statements():
    """With -k or a path, unchecked IDs and missing figures are listed, not failures."""
    sel = {"complete": False, "reason": "-k 'x'", "args": ["properties"], "shard": None}
    r = make_report([entry("t.py::a", statements=["S-EQ1"], slacks=[("S-EQ1", [0.5])])], sel)
    assert r["ok"]
    assert any(p["kind"] == "not checked" and not p["gating"] for p in r["problems"])
    assert any(p["kind"] == "subset" for p in r["problems"])
    assert "a subset (-k 'x')" in markdown(r)


def test_looseness_laws_observations_and_errata():
    """The looseness table, measured laws (per depth), the generic table, errata."""
    tests = [
        *full_entries(),
        entry(
            "t.py::k",
            observations=[
                obs("lemma4_threshold", "S-L4", {"K": 10.0, "K_emp": k, "ratio": 10.0 / k})
                for k in (2.0, 5.0)
            ],
        ),
    ]
    r = make_report(tests)
    loose = {e["statement"]: e for e in r["looseness"]}
    assert loose["S-L2a"]["looseness"] == pytest.approx(2.5)
    assert loose["S-L4"]["looseness"] == pytest.approx(2.0)
    law = next(x for x in r["laws"] if x["observation"] == "angle_decay")
    assert law["all"]["n"] == 4 and set(law["by_depth"]) == {"1", "2", "3"}
    assert r["observations"]["flow_health"]["values"]["max_drift_rel"]["n"] == len(IDS)
    assert r["errata"][0]["statement"] == "S-EQ29"
    md = markdown(r)
    for heading in ("## 2. Errata", "## 3. Looseness", "## 4. Measured laws", "## 5. Observ"):
        assert heading in md


def test_figures_render_from_synthetic_series(tmp_path):
    """Every planned figure is drawn as PNG and SVG; the SVG is byte-reproducible."""
    r = make_report()
    assert r["ok"], r["problems"]
    files.write_folder(r, tmp_path)
    rendered = {f["name"]: f for f in r["figures"] if f["status"] == "rendered"}
    assert set(rendered) == {"fig1a", "fig1b", "angle_decay", "fig2", "slack_histograms"}
    for f in rendered.values():
        assert sorted(Path(x).suffix for x in f["files"]) == [".png", ".svg"]
        assert all((tmp_path / x).stat().st_size > 1000 for x in f["files"])
        assert f["caption"]
    fig, _ = figures.fig1a(make_report())
    figures._save(fig, tmp_path / "again", "fig1a")
    assert (tmp_path / "again/fig1a.svg").read_bytes() == (
        tmp_path / "figures/fig1a.svg"
    ).read_bytes()
    assert "![Fig. 1a" in (tmp_path / "report.md").read_text()


def test_missing_figure_data_is_a_failure_only_of_a_complete_run():
    tests = [entry("t.py::a", statements=["S-EQ1"], slacks=[("S-EQ1", [0.5])])]
    r = make_report(tests)
    fig = {f["name"]: f for f in r["figures"]}
    assert fig["fig1a"]["status"] == "not rendered"
    assert "no trajectory recorded" in fig["fig1a"]["reason"]
    gating = {p["item"] for p in r["problems"] if p["kind"] == "figure" and p["gating"]}
    assert {"fig1a", "fig1b", "angle_decay"} <= gating
    sub = make_report(tests, {**COMPLETE, "complete": False, "reason": "path"})
    assert not any(p["gating"] for p in sub["problems"] if p["kind"] == "figure")


def test_report_is_deterministic_up_to_entry_order():
    """The same entries in another order give the same JSON text."""
    tests = full_entries()
    a = json.dumps(make_report(tests), sort_keys=True)
    b = json.dumps(make_report(list(reversed(copy.deepcopy(tests)))), sort_keys=True)
    assert a == b


def test_statements_of_an_unreported_test_are_read_from_source(tmp_path):
    (tmp_path / "t.py").write_text(
        textwrap.dedent(
            '''
            import pytest
            class TestK:
                @pytest.mark.meta
                def test_m(self):
                    """Control of S-L2a."""
            def test_f(x):
                """Checks S-EQ2 and S-L5."""
            '''
        )
    )
    assert collection.statements_from_source(tmp_path, "t.py::test_f[1-2]") == (
        ["S-EQ2", "S-L5"],
        False,
    )
    assert collection.statements_from_source(tmp_path, "t.py::TestK::test_m") == (["S-L2a"], True)
    assert collection.statements_from_source(tmp_path, "missing.py::t") == ([], False)


def _config(tmp_path: Path, args, **options) -> SimpleNamespace:
    opt = SimpleNamespace(
        keyword="", markexpr="", deselect=None, ignore=None, ignore_glob=None, lf=False
    )
    opt.stepwise, opt.invariants_shard = False, None
    for k, v in options.items():
        setattr(opt, k, v)
    (tmp_path / "properties").mkdir(exist_ok=True)
    return SimpleNamespace(
        option=opt,
        rootpath=tmp_path,
        invocation_params=SimpleNamespace(dir=tmp_path),
        getini=lambda name: ["properties"],
        args=args,
    )


def test_selection_detects_subsets(tmp_path):
    sel = selection.selection_of
    assert sel(_config(tmp_path, ["properties"]))["complete"]
    assert sel(_config(tmp_path, ["."]))["complete"]
    assert not sel(_config(tmp_path, ["properties/test_a.py"]))["complete"]
    assert not sel(_config(tmp_path, ["properties/test_a.py::test_x"]))["complete"]
    assert "-k 'flow'" in sel(_config(tmp_path, ["properties"], keyword="flow"))["reason"]
    assert not sel(_config(tmp_path, ["properties"], markexpr="not slow"))["complete"]
    shard = sel(_config(tmp_path, ["properties"], invariants_shard="2/3"))
    assert shard["shard"] == [2, 3] and not shard["complete"]
    by_id = sel(_config(tmp_path, ["properties"], invariants_statement=["S-L4,S-L5", "S-L4"]))
    assert not by_id["complete"] and by_id["reason"] == "--statement S-L4,S-L5"


def test_shards_partition_the_files():
    paths = [f"properties/test_{c}.py" for c in "abcdefg"]
    parts = [selection.shard_files(paths, i, 3) for i in (1, 2, 3)]
    assert set().union(*parts) == set(paths)
    assert sum(len(p) for p in parts) == len(paths)
    with pytest.raises(ValueError, match="I/N"):
        selection.parse_shard("4/3")


def test_statement_option_values():
    """--statement is repeatable and comma-separated; an unknown ID names the known ones."""
    assert selection.split_statement_option(None) == []
    assert selection.split_statement_option(["S-L4, S-L5", "S-L4", ","]) == ["S-L4", "S-L5"]
    selection.check_statement_ids(["S-L4", "S-L5"], IDS)
    with pytest.raises(ValueError, match=r"unknown statement ID S-X;.* S-EQ1, S-EQ2"):
        selection.check_statement_ids(["S-L4", "S-X"], IDS)
    with pytest.raises(ValueError, match="no statement ID given"):
        selection.check_statement_ids([], IDS)
    assert selection.checks_any(["S-L3", "S-L4"], ["S-L4"])
    assert not selection.checks_any(["S-L3"], ["S-L4"]) and not selection.checks_any([], ["S-L4"])


def test_progress_lines_name_only_the_long_tests(tmp_path):
    """A test past the threshold gets one line (statements, test cases); a short one none."""
    now = 1000.0
    for pid, started, cases in ((1, now - 95.0, 7), (2, now - 5.0, 3)):
        (tmp_path / f"{pid}.json").write_text(
            json.dumps(
                {
                    "nodeid": f"t.py::test_{pid}",
                    "statements": ["S-L4"],
                    "started": started,
                    "cases": cases,
                    "max_examples": 40,
                }
            )
        )
    (tmp_path / "3.json").write_text("{half a file")
    assert progress.progress_lines(tmp_path, now, after=30.0) == [
        "[running 1m35s] t.py::test_1 (S-L4): 7 test cases (max_examples 40)"
    ]


# --- files: schema and version -------------------------------------------------


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level is a JSON list"),
        ('{"a": 1}', "no 'schema' field"),
        ('{"schema": "someone.else/3"}', "foreign JSON"),
        ('{"schema": "invariants.summary/1"}', "rerun pytest with --invariants-report"),
        ('{"schema": "invariants.bench.gd/1"}', "benchmark result"),
        ('{"schema": "invariants.report/3"}', "newer checkout"),
        ('{"schema": "invariants.report/1"}', "regenerate"),
        ('{"schema": "invariants.baseline/1"}', "where an invariants.report/2 file is needed"),
    ],
)
def test_load_rejects_malformed_and_foreign_files(tmp_path, content, needle):
    p = write(tmp_path, "x.json", content)
    with pytest.raises(ReportFormatError) as info:
        files.load(p)
    assert str(p) in str(info.value)
    assert needle in str(info.value)


def test_load_names_the_bad_field(tmp_path):
    r = make_report()
    r["tests"][3]["slacks"] = "oops"
    del r["run"]["profile"]
    p = write(tmp_path, "report.json", r)
    with pytest.raises(ReportFormatError, match=r"run\.profile: missing.*tests\[3\]\.slacks"):
        files.load(p)


def test_command_line_errors_are_one_line_not_a_traceback(tmp_path, capsys):
    bad = write(tmp_path, "bad.json", '{"schema": "invariants.summary/1"}')
    assert cli.main(["compare", str(bad), str(bad)]) == 2
    assert cli.main(["merge", str(bad), "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.count("error: ") == 2 and "Traceback" not in err and str(bad) in err


def test_a_two_paper_report_has_a_table_per_paper_and_compares_by_id():
    """With statements of two catalogued papers, report.md and index.html give one table
    (heading, status counts) per paper and the terminal a count line per paper; the
    baseline and the comparison key by ID, so a dotted ID of the second paper is compared
    like any other.  Negative control: its failing test is a regression named by its ID."""
    assert len(CATALOGUES) >= 2, "the suite catalogues two papers"
    first, second = CATALOGUES[0].paper, CATALOGUES[1].paper
    dotted = next(s.id for s in CATALOGUES[1].statements if "." in s.id)
    tests = [*full_entries(), entry("properties/q/test_q.py::test_q", statements=[dotted])]
    report = make_report(tests)
    md = markdown(report)
    assert md.count(f"### {first.title}") == 1 and md.count(f"### {second.title}") == 1
    table_of_second = md.split(f"### {second.title}", 1)[1].split("\n\n## ", 1)[0]
    assert f"| {dotted} |" in table_of_second and "| S-" not in table_of_second
    n_second = len(CATALOGUES[1].statements)
    assert f"{n_second} statements: " in table_of_second and " held" in table_of_second
    page = html.page(report)
    assert page.count('<h3 class="paper">') == 2
    terminal = summary.format_table(report)
    assert f"\n{second.key}: {n_second} statements: " in terminal
    result = compare(baseline.from_report(report), report)
    assert result["regressions"] == 0
    failing = [*tests[:-1], {**tests[-1], "outcome": "failed"}]
    assert ("failure", dotted) in _regressions(report, make_report(failing))
    before = baseline.from_report(make_report(full_entries()))  # a baseline of the first
    before["statements"] = {  # paper only, as reports/baseline.json was made
        k: v for k, v in before["statements"].items() if CATALOGUE[k].paper == first.key
    }
    rows = compare(before, report)["rows"]
    assert any(r["item"] == dotted and r["rule"] == "new statement" for r in rows)
    assert f" {dotted} " in format_comparison(compare(before, report), "base", "new")


# --- baseline comparison -------------------------------------------------------


def test_same_report_has_no_regression():
    r = make_report()
    result = compare(baseline.from_report(r), r)
    assert result["regressions"] == 0 and result["rows"] == []


def _regressions(base: dict, new: dict) -> set[tuple[str, str]]:
    result = compare(baseline.from_report(base), new)
    return {(r["kind"], r["item"]) for r in result["rows"] if r["verdict"] == "REGRESSION"}


def test_regressions_are_found():
    base = make_report()
    tests = full_entries()
    lost = [t for t in tests if t["statements"] != ["S-L3"]]  # S-L3 loses its test
    assert ("coverage", "S-L3") in _regressions(base, make_report(lost))
    failing = copy.deepcopy(tests)
    failing[1]["outcome"] = "failed"
    reg = _regressions(base, make_report(failing))
    assert ("failure", IDS[1]) in reg and ("test", failing[1]["nodeid"]) in reg
    over = copy.deepcopy(tests)
    over[2]["slacks"][0]["ratio"] = 1.2
    assert ("slack", IDS[2]) in _regressions(base, make_report(over))
    fewer = copy.deepcopy(tests)
    fewer[4]["slacks"][0]["examples"] = 1
    assert ("coverage", f"{IDS[4]} examples") in _regressions(base, make_report(fewer))
    nofig = [
        {**t, "observations": [o for o in t["observations"] if o["name"] != "fig1a"]} for t in tests
    ]
    assert ("figure", "fig1a") in _regressions(base, make_report(nofig))


def test_held_becoming_reachable_only_is_a_regression():
    """A statement that held in the baseline and is only *reachable* now (its test passed but
    recorded a reach observation: the claim's hypothesis was not met) lost coverage: a
    regression, not a mere status change.  Found by the sampled mutation run (compare's
    'held -> reachable only' branch was never taken by the tests)."""
    base = make_report()
    sid = next(r["id"] for r in base["statements"] if r["status"] == "held")
    tests = copy.deepcopy(full_entries())
    target = next(t for t in tests if sid in t["statements"] and not t["meta"])
    target["observations"].append(obs(f"{sid}_reach", sid, {"log10_wprod": 3.0}))
    new = make_report(tests)
    assert {r["id"]: r["status"] for r in new["statements"]}[sid] == "reachable only"
    rows = compare(baseline.from_report(base), new)["rows"]
    assert {
        (r["verdict"], r["kind"], r["item"], r["rule"])
        for r in rows
        if r["item"] == sid and r["kind"] != "slack"
    } == {("REGRESSION", "coverage", sid, "held became reachable only")}


def test_a_statement_that_holds_again_is_improved():
    """A statement violated in the baseline that holds now is reported 'improved' (not merely
    'changed'), the failure of its test as fixed.  Found by the sampled mutation run (compare's
    'improved' verdict for a status change was never asserted)."""
    failing = copy.deepcopy(full_entries())
    failing[1]["outcome"] = "failed"
    base, new = make_report(failing), make_report()
    sid = IDS[1]
    assert {r["id"]: r["status"] for r in base["statements"]}[sid] == "violated"
    rows = compare(baseline.from_report(base), new)["rows"]
    status_rows = {(r["verdict"], r["item"]) for r in rows if r["kind"] == "status"}
    assert status_rows == {("improved", sid)}


def test_a_worst_slack_that_moved_within_its_bound_is_changed():
    """A worst slack that moved by more than 1% but stays <= 1 is a 'changed' slack row (the
    bound still held), not a regression.  Found by the sampled mutation run (that branch,
    and its rule text, were never reached by the tests)."""
    tests = copy.deepcopy(full_entries())
    base = make_report(tests)
    slack = tests[2]["slacks"][0]
    sid, old = slack["statement"], slack["ratio"]
    slack["ratio"] = old / 2
    rows = compare(baseline.from_report(base), make_report(tests))["rows"]
    got = {(r["verdict"], r["item"], r["rule"]) for r in rows if r["kind"] == "slack"}
    assert got == {("changed", sid, "worst slack changed (bound still held)")}


def test_flow_health_noise_model():
    """Drift may grow within the noise; beyond drift_decades (or reach falling) regresses."""
    base = make_report()
    factor = 10 ** (0.8 * baseline.NOISE["drift_decades"])

    def scaled(drift: float, reach: float) -> dict:
        tests = copy.deepcopy(full_entries())
        for t in tests:
            for o in t["observations"]:
                if o["name"] == "flow_health":
                    o["values"]["max_drift_rel"] *= drift
                    o["values"]["log10_wprod_final"] += reach
        return make_report(tests)

    assert not _regressions(base, scaled(factor, 0.0))
    assert ("flow health", "median max_drift_rel") in _regressions(base, scaled(factor**2, 0.0))
    assert not _regressions(base, scaled(1.0, -0.8 * baseline.NOISE["reach_decades"]))
    assert ("flow health", "all: median log10_wprod_final") in _regressions(
        base, scaled(1.0, -2 * baseline.NOISE["reach_decades"])
    )


def test_benchmark_ratio_that_fell_regresses():
    b = make_report()
    b["benchmarks"] = {
        "metrics": {
            "flow.depth4.speedup_vs_rk45": {"value": 5.8, "better": "higher", "file": "f"},
            "gd.ratio_a5_over_plain": {"value": 4.0, "better": "lower", "file": "g"},
        }
    }
    n = copy.deepcopy(b)
    n["benchmarks"]["metrics"]["flow.depth4.speedup_vs_rk45"]["value"] = 5.5
    assert not _regressions(b, n)
    n["benchmarks"]["metrics"]["flow.depth4.speedup_vs_rk45"]["value"] = 3.0
    n["benchmarks"]["metrics"]["gd.ratio_a5_over_plain"]["value"] = 6.0
    assert _regressions(b, n) == {
        ("benchmark", "flow.depth4.speedup_vs_rk45"),
        ("benchmark", "gd.ratio_a5_over_plain"),
    }


def test_benchmark_files_are_read(tmp_path):
    write(tmp_path, "gd.json", {"schema": "invariants.bench.gd/1", "ratio_a5_over_plain": 4.0})
    write(tmp_path, "x.json", {"schema": "other/1"})
    m = benchmarks.benchmark_metrics(tmp_path)
    assert m["metrics"]["gd.ratio_a5_over_plain"] == {
        "value": 4.0,
        "better": "lower",
        "file": "gd.json",
        "description": "GD per-step cost, A5 rule / hand-written numpy loop",
        "stale": True,  # it records no hash of the code it ran
    }
    assert "not known" in m["notes"][0]
    assert benchmarks.benchmark_metrics(tmp_path / "none") is None


def test_altered_baseline_fails_compare_with_a_diff(tmp_path, capsys):
    """The command exits 1 on a deliberately altered baseline and prints the diff rows."""
    r = make_report()
    report_path = write(tmp_path, "report.json", r)
    base = baseline.from_report(r)
    base["statements"]["S-L2b"]["examples"] += 5
    base["tests"]["properties/test_x.py::test_new"] = "passed"
    base_path = write(tmp_path, "baseline.json", base)
    assert cli.main(["compare", str(base_path), str(report_path)]) == 1
    out = capsys.readouterr().out
    assert "1 REGRESSION(S)" in out and "S-L2b examples" in out and "fewer examples" in out
    assert cli.main(["compare", str(report_path), str(report_path)]) == 0


def test_profile_mismatch_is_refused():
    with pytest.raises(ReportFormatError, match="profile"):
        compare(baseline.from_report(make_report()), make_report(profile="ci"))


def test_update_validates_the_report(tmp_path):
    out = tmp_path / "baseline.json"
    partial = write(tmp_path, "p.json", make_report(partial=True))
    with pytest.raises(ReportFormatError, match="partial report"):
        baseline.update(str(partial), str(out))
    tests = full_entries()
    tests[0]["outcome"] = "failed"
    failing = write(tmp_path, "f.json", make_report(tests))
    with pytest.raises(ReportFormatError, match="--accept-failures"):
        baseline.update(str(failing), str(out))
    baseline.update(str(failing), str(out), accept_failures=True)
    good = write(tmp_path, "g.json", make_report())
    assert cli.main(["baseline", str(good), str(out)]) == 0
    assert files.load(out, kinds=("invariants.baseline",))["profile"] == "report"
    ci = write(tmp_path, "ci.json", make_report(profile="ci"))
    with pytest.raises(ReportFormatError, match="profile is 'ci'"):
        baseline.update(str(ci), str(out))


# --- merge ---------------------------------------------------------------------


def _written(tmp_path: Path, name: str, tests, selection, partial=False) -> Path:
    r = make_report(tests, selection, partial)
    return files.write_json(tmp_path / name, r)


def test_merge_of_shards_is_the_whole_suite(tmp_path):
    tests = full_entries()
    shards = [
        _written(
            tmp_path,
            f"s{i}.json",
            tests[i - 1 :: 2],
            {
                "complete": False,
                "reason": f"--invariants-shard {i}/2",
                "args": ["properties"],
                "shard": [i, 2],
            },
        )
        for i in (1, 2)
    ]
    merged = merge(shards)
    whole = make_report(tests)
    assert strip_volatile(merged) == strip_volatile(whole)
    assert cli.main(["merge", *map(str, shards), "-o", str(tmp_path / "m"), "--no-figures"]) == 0
    assert files.load(tmp_path / "m/report.json")["run"]["selection"]["complete"]


def test_merge_of_k_subsets_partial_and_duplicates(tmp_path):
    tests = full_entries()
    sel = {"complete": False, "reason": "-k a", "args": ["properties"], "shard": None}
    part = copy.deepcopy(tests)
    for t in part[5:]:
        t["outcome"], t["reason"] = "not run", "not reached yet"
    a = _written(tmp_path, "a.json", part, {**COMPLETE}, partial=True)
    b = _written(tmp_path, "b.json", tests[3:], sel)
    merged = merge([a, b])
    assert merged["run"]["selection"]["complete"]  # a covered the whole suite
    assert merged["run"]["outcomes"] == {"passed": len(tests)}  # duplicates kept once
    subsets = merge([b, _written(tmp_path, "c.json", tests[:3], sel)])
    assert not subsets["run"]["selection"]["complete"]
    ci = _written(tmp_path, "ci.json", tests, COMPLETE)
    data = json.loads(ci.read_text())
    data["run"]["profile"] = "ci"
    ci.write_text(json.dumps(data))
    with pytest.raises(ReportFormatError, match="different profiles"):
        merge([a, ci])


# --- real pytest runs on tiny files ------------------------------------------------

TINY_A = '''
from types import SimpleNamespace
from hypothesis import given, strategies as st

@given(x=st.floats(0, 1))
def test_slack(x, record_slack, record_observation):
    """S-EQ1 and S-EQ2 on a float."""
    record_slack(SimpleNamespace(statement="S-EQ1", ratio=x / 2, detail=f"x={x}", exercised=True))
    record_slack(SimpleNamespace(statement="S-EQ2", ratio=x / 3, detail="", exercised=True))
    record_observation("flow_health", "S-EQ2", {"max_drift_rel": 1e-11 * (1 + x)},
                       {"s": [0.0, x]})

@given(n=st.integers(0, 100))
def test_fails(n):
    """S-L1 fails from 50 on."""
    assert n < 50
'''

TINY_B = '''
import pytest

@pytest.mark.meta
def test_control():
    """Control of S-EQ1."""

def test_plain():
    """S-L4 without examples."""
'''

TINY_CRASH = '''
import os

def test_before():
    """S-L2a first."""

def test_dies():
    """S-L3: the process running it is killed."""
    os._exit(3)

def test_after():
    """S-L2b after the crash."""
'''


def collect_suite(*args: str) -> subprocess.CompletedProcess:
    """``pytest --co -q ARGS`` of this repository's suite in a subprocess (ci profile)."""
    cmd = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", "-n", "0",
           "--invariants-profile", "ci", *args]  # fmt: skip
    return subprocess.run(
        cmd, cwd=REPO, env=tiny_env(), capture_output=True, text=True, timeout=600, check=False
    )


def listed_tests(stdout: str) -> list[str]:
    """The node IDs a ``--co -q`` run lists (one per line, before its summary)."""
    return [ln for ln in stdout.splitlines() if ln.startswith("properties/") and "::" in ln]


def test_statement_option_selects_exactly_the_tests_that_check_it():
    """``--statement ID --co`` lists the tests whose IDs include ID, and no other.

    The expected set is computed apart from the plugin: every test of a plain
    ``--co`` run whose docstring, read from its source with :mod:`ast`
    (``statements_from_source``, not the collected function's ``__doc__``), names
    the ID (Lemma 4's here; this docstring names none, so this test is no control
    of it).  Negative control: an unknown ID is a usage error naming the known IDs.
    """
    everything = collect_suite()
    assert everything.returncode == 0, everything.stdout[-2000:] + everything.stderr[-2000:]
    every = listed_tests(everything.stdout)
    expected = [n for n in every if "S-L4" in collection.statements_from_source(REPO, n)[0]]
    assert len(expected) >= 2 and len(every) > len(expected)
    chosen = collect_suite("--statement", "S-L4")
    assert chosen.returncode == 0, chosen.stdout[-2000:] + chosen.stderr[-2000:]
    assert listed_tests(chosen.stdout) == expected
    n, total = len(expected), len(every)
    assert f"{n}/{total} tests collected ({total - n} deselected)" in chosen.stdout
    assert "a subset of the suite was selected" in chosen.stdout

    unknown = collect_suite("--statement", "S-L4,S-NOPE")
    assert unknown.returncode == pytest.ExitCode.USAGE_ERROR
    assert "unknown statement ID S-NOPE" in unknown.stderr and "S-EQ1, S-EQ2" in unknown.stderr
    assert not listed_tests(unknown.stdout)


#: A second paper for a synthetic tree: ``conftest.py`` adds paper ``q_paper`` (prefix
#: ``Q-``, one dotted ID) to the loaded catalogue before the plugin reads its options.
SECOND_PAPER_CONFTEST = """
import dataclasses
from invariants import statements as st

first = next(iter(st.CATALOGUE.values()))
st.PAPERS["q_paper"] = dataclasses.replace(st.PAPERS[first.paper], key="q_paper", prefix="Q-")
st.CATALOGUE["Q-T1.2"] = dataclasses.replace(first, id="Q-T1.2", paper="q_paper")
st.ID_PATTERN = st.id_pattern(p.prefix for p in st.PAPERS.values())
"""
TWO_PAPERS = """
def test_first():
    \"\"\"S-L4 only.\"\"\"

def test_second():
    \"\"\"Q-T1.2 only (see Q-T1.2.)\"\"\"

def test_both():
    \"\"\"S-L4 and Q-T1.2.\"\"\"

def test_none():
    \"\"\"No statement.\"\"\"
"""


def test_paper_and_statement_options_select_on_a_two_paper_tree(tmp_path):
    """``--paper KEY`` keeps the tests that name a statement of that paper (a comma list:
    of any of them) and the report calls it a subset; with ``--statement`` (here a dotted
    ID) the tests that satisfy both.  Negative control: an unknown paper key is a usage
    error naming the known keys, and selects nothing."""
    root = tiny_suite(tmp_path, conftest=SECOND_PAPER_CONFTEST, test_two=TWO_PAPERS)

    def listed(*args: str) -> tuple[list[str], subprocess.CompletedProcess]:
        cmd = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *args]
        done = subprocess.run(
            cmd, cwd=root, env=tiny_env(), capture_output=True, text=True, timeout=120
        )
        names = [ln.split("::")[1] for ln in listed_tests(done.stdout)]
        return names, done

    second, done = listed("--paper", "q_paper")
    assert second == ["test_second", "test_both"], done.stdout + done.stderr
    assert "2/4 tests collected (2 deselected)" in done.stdout
    assert "a subset of the suite was selected" in done.stdout
    both, done = listed("--paper", f"{PAPER_KEYS[0]},", "--statement", "Q-T1.2")
    assert both == ["test_both"], done.stdout + done.stderr  # the dotted ID, and S-L4's paper
    unknown, done = listed("--paper", "q_paper,nope")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR and unknown == []
    assert "unknown paper nope" in done.stderr and ", q_paper" in done.stderr


def test_paper_option_values():
    """The --paper values: known keys pass; an unknown or empty one is refused naming the
    known keys; a test is kept when one statement it names is of a wanted paper."""
    selection.check_paper_keys(["a", "b"], ["a", "b", "c"])
    with pytest.raises(ValueError, match=r"unknown paper x; the known papers are a, b"):
        selection.check_paper_keys(["a", "x"], ["a", "b"])
    with pytest.raises(ValueError, match="no paper key given"):
        selection.check_paper_keys([], ["a"])
    paper_of = {"S-L4": "a", "Q-T1.2": "b"}
    assert selection.checks_paper(["S-L4", "Q-T1.2"], ["b"], paper_of)
    assert not selection.checks_paper(["S-L4", "S-X"], ["b"], paper_of)
    assert not selection.checks_paper([], ["a"], paper_of)
    config = _config(Path("."), ["properties"], invariants_paper=["b,a", "b"])
    assert selection.selection_of(config)["reason"] == "--paper b,a"


def test_xdist_and_serial_runs_give_the_same_report(tmp_path):
    """Timings aside, -n 2 and -n 0 write the same report.json."""
    root = tiny_suite(tmp_path, test_a=TINY_A, test_b=TINY_B)
    diffs, rcs = determinism.check_determinism(
        ["properties"], "ci", 2, cwd=root, env=tiny_env(), profile_option="--hypothesis-profile"
    )
    assert diffs == []
    assert rcs == {"xdist": 1, "serial": 1}  # test_fails fails on purpose


def test_a_crashed_worker_still_leaves_a_report(tmp_path):
    """xdist's crash report marks the test crashed; the rest ran on a fresh worker."""
    root = tiny_suite(tmp_path, test_crash=TINY_CRASH)
    out = root / "out"
    proc = determinism.run_pytest(
        ["-n", "2", "--hypothesis-profile", "ci"], root, out, env=tiny_env()
    )
    assert proc.returncode == 1, proc.stdout
    r = files.load(out / "report.json")
    assert r["run"]["profile"] == "ci"  # from --hypothesis-profile: no conftest.py here
    outcome = {t["nodeid"].split("::")[1]: t for t in r["tests"]}
    assert outcome["test_dies"]["outcome"] == "crashed"
    assert (
        "crashed while running 'properties/test_crash.py::test_dies'"
        in (outcome["test_dies"]["reason"])
    )
    assert outcome["test_dies"]["statements"] == ["S-L3"]  # read from the source
    assert outcome["test_before"]["outcome"] == outcome["test_after"]["outcome"] == "passed"
    rows = {row["id"]: row["status"] for row in r["statements"]}
    assert rows["S-L3"] == "crashed" and rows["S-L2b"] == "held"
    assert not (out / "report.partial.json").exists()
    assert "crashed" in (out / "report.md").read_text()


def test_a_killed_serial_run_leaves_a_partial_report(tmp_path):
    """When the controller itself dies, report.partial.json says what ran and what did not."""
    root = tiny_suite(tmp_path, test_crash=TINY_CRASH)
    out = root / "out"
    proc = determinism.run_pytest(
        ["-n", "0", "--hypothesis-profile", "ci"], root, out, env=tiny_env()
    )
    assert proc.returncode == 3  # the test's os._exit(3) ended pytest
    assert not (out / "report.json").exists()
    r = files.load(out / "report.partial.json")
    assert r["run"]["partial"] and not r["ok"]
    outcome = {t["nodeid"].split("::")[1]: t["outcome"] for t in r["tests"]}
    assert outcome == {"test_before": "passed", "test_dies": "running", "test_after": "not run"}
