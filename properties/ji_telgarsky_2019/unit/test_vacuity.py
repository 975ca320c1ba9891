"""Meta-tests of vacuity: every example says whether it could have failed its statement.

Two halves, each with its negative controls:

- **the claim checks** define *exercised* beside each assertion
  (:class:`invariants.statements.Slack`); here each definition is shown to say *no*
  on an example that cannot fail (a frozen run, a bound at or below 0, a vector
  layer, a depth-1 network) and *yes* on one that can;
- **the report** counts the exercised examples (``k of n``), calls a statement
  *held* only when ``k`` reaches :data:`invariants.statements.EXERCISED_FLOOR` of
  ``n``, and never shows a trend's progress ratio as its slack.

These tests name no statement of the paper in their docstrings (the IDs below are
data), so they add no row to the statement table.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from invariants.core.losses import LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.dynamics import gd
from invariants.report import baseline, determinism
from invariants.report.build import build_report
from invariants.report.compare import compare
from invariants.report.markdown import markdown
from invariants.report.records import SlackRecorder, TestRecord
from invariants.report.statement_table import statement_status, well_exercised
from invariants.statements import EXERCISED_FLOOR, Slack
from properties.ji_telgarsky_2019 import problems
from properties.ji_telgarsky_2019.claims import (
    alignment_slack,
    deficit_bound_exercised,
    section2_limits,
    section3_gd,
)

pytestmark = pytest.mark.meta

REPO = Path(__file__).resolve().parents[2]


# --- the claim checks' definitions ------------------------------------------------------


def test_alignment_bound_at_or_below_zero_is_not_exercised():
    """A squared alignment is >= 0, so a lower bound <= tol can fail nothing."""
    al = np.array([0.5, 0.9])
    _, exercised = alignment_slack("S-X", al, np.array([0.0, -1.0]), np.zeros(2), "")
    assert not exercised
    # The control: one bound just above its tolerance is exercised.
    tol = np.array([1e-9, 1e-9])
    _, exercised = alignment_slack("S-X", al, np.array([0.0, 2e-9]), tol, "")
    assert exercised
    _, exercised = alignment_slack("S-X", al, np.array([0.0, 1e-9]), tol, "")
    assert not exercised


def test_deficit_bound_on_a_vector_layer_is_not_exercised():
    """A vector layer's deficit is identically 0; a matrix's is at most (1 - 1/r) F^2."""
    v = np.array([[3.0, 4.0]])
    assert not deficit_bound_exercised(v, 0.0)
    M = np.diag([3.0, 4.0])  # F^2 = 25, r = 2: the largest deficit is 12.5
    assert deficit_bound_exercised(M, np.nextafter(12.5, 0))
    assert not deficit_bound_exercised(M, 12.5)


def _gd_runs():
    """Three runs on one problem: frozen, nearly frozen at the saddle, and moving."""
    data = problems.small_data(seed=3, n=10, d=3)
    moving = problems.a2_equal_frobenius_init(data.z, [3, 3], norm=0.9)
    # A constant step of 1e-300: every update is below half an ulp of every entry (all
    # nonzero), so W(t) = W(0) bit for bit.
    frozen = gd.gradient_descent(data.z, moving, LOGISTIC, 20, rule="fixed", eta=1e-300)
    # W_1 = 0 and the other layers 1e-3 (the stress profile's vanishing product): A5's
    # steps move R by ~1e-16 per step, below each step's rounding allowance.
    saddle = [np.zeros_like(moving[0]), 1e-3 * moving[1], 1e-3 * moving[2]]
    return (
        frozen,
        gd.gradient_descent(data.z, saddle, LOGISTIC, 50),
        gd.gradient_descent(data.z, moving, LOGISTIC, 50),
    )


FROZEN, SADDLE, MOVING = _gd_runs()
GD_CHECKS = list(section3_gd.CHECKS.values())  # every GD statement of the A5 property


@pytest.mark.parametrize("check", GD_CHECKS, ids=list(section3_gd.CHECKS))
def test_a_frozen_gd_run_exercises_nothing(check):
    """W(t) = W(0) bit for bit: every GD statement passes, and none is counted exercised."""
    assert all(
        np.array_equal(a, b) for a, b in zip(FROZEN.weights[-1], FROZEN.initial, strict=True)
    )
    slack = check(FROZEN)
    assert not slack.exercised, slack


@pytest.mark.parametrize(
    "check",
    [
        section3_gd.check_s_l7,
        section3_gd.check_s_t3,
        section3_gd.check_s_l8a,
        section3_gd.check_s_l8c,
    ],
)
def test_a_run_stuck_at_the_saddle_does_not_exercise_the_limits(check):
    """The issue's case: log R stays at log log 2 (each step moves R by less than its
    check's rounding allowance), max F ~ 1e-3: nothing is exercised."""
    assert not check(SADDLE).exercised


@pytest.mark.parametrize(
    "check",
    [
        section3_gd.check_s_l7,
        section3_gd.check_s_t3,
        section3_gd.check_s_eq4,
        section3_gd.check_s_eq29,
        section3_gd.check_s_eq27,
    ],
)
def test_a_moving_gd_run_exercises_its_statements(check):
    """The control of the frozen run: a run that moves exercises the same checks."""
    assert check(MOVING).exercised


def test_trend_statements_report_measures_not_progress_as_slack():
    """Lemma 7 has no slack; Theorem 3's is its alignment inequality's.  Progress is a measure."""
    l7 = section3_gd.check_s_l7(MOVING)
    assert l7.measures["growth"] > 1 and 0 < l7.measures["decay_ratio"] < 1
    assert l7.measures["norm_floor"] > 0  # the norms a risk below loss(0) forces
    assert l7.ratio is None
    t3 = section3_gd.check_s_t3(MOVING)
    assert 0 < t3.measures["decay_ratio"] < 1
    assert math.isclose(
        t3.measures["decay_ratio"], math.exp(MOVING.log_risk[-1] - MOVING.log_risk[0])
    )
    assert t3.ratio is None or t3.ratio != t3.measures["decay_ratio"]


def test_depth_one_has_no_layer_pairs_to_exercise():
    """eq. 29 and eq. 37 relate layer pairs; depth 1 has none."""
    data = problems.small_data(seed=1, n=6, d=2)
    W0 = [np.array([[0.3, -0.2]])]
    if not data.z.mean(axis=0) @ W0[0][0] > 0:
        W0 = [-W0[0]]
    tr = gd.gradient_descent(data.z, W0, LOGISTIC, 5)
    for check in (section3_gd.check_s_eq29, section3_gd.check_s_eq37):
        s = check(tr)
        assert s.ratio is None and not s.exercised
    # The product alignment of one layer is 1 identically: the GD bound cannot fail, even
    # on a large layer whose bound 1 - sqrt(2 (D + 2 R(0))) / ||W_1||_F is well above 0.
    ubar = max_margin(data).ubar  # a separator: R(20 ubar) < R(0), so A2 holds
    big = gd.gradient_descent(data.z, [20.0 * ubar[None, :]], LOGISTIC, 5)
    assert not section3_gd.check_s_l8c(big).exercised


def test_unresolved_fig1a_decade_is_not_exercised():
    """No resolved decade: agreement within 2 error bars, ratio worst / 2, not exercised."""
    s = section2_limits.fig1a_slack(section2_limits.Decay(1.5, 1.5, float("nan"), resolved=False))
    assert s.ratio == 0.75 and not s.exercised
    s = section2_limits.fig1a_slack(section2_limits.Decay(1e-3, 1e-4, float("nan")))
    assert s.exercised and math.isclose(s.ratio, 0.1 / 10**-0.5)


# --- the report -------------------------------------------------------------------------


def test_recorder_counts_exercised_and_keeps_their_slack_only():
    """Worst slack and histogram are over exercised examples; a ratio past 1 is kept anyway."""
    rec = SlackRecorder()
    rec(Slack("S-X", 0.9, "vacuous", exercised=False))
    rec(Slack("S-X", 0.2, "real", exercised=True))
    rec(Slack("S-X", None, "no inequality", exercised=True, measures={"growth": 2.0}))
    e = rec.worst["S-X"]
    assert (e["examples"], e["exercised"], e["ratio"], e["ratios"]) == (3, 2, 0.2, [0.2])
    assert e["measures"] == {"growth": [2.0]}
    rec(Slack("S-X", 1.5, "a failure", exercised=False))
    assert rec.worst["S-X"]["ratio"] == 1.5


def _row(recorded: int, exercised: int, reach: bool = False) -> dict:
    return {
        "id": "S-X",
        "outcomes": {"passed": 1},
        "worst_slack": 0.5,
        "recorded": recorded,
        "recorded_per_test": recorded,
        "exercised": exercised,
        "reach": {"values": {}} if reach else None,
    }


def test_held_needs_the_floor_of_exercised_examples():
    """k >= floor n: held; one example fewer: vacuous; none exercised: vacuous even with reach."""
    n = 40
    k = math.ceil(EXERCISED_FLOOR * n)
    assert statement_status(_row(n, k), False) == "held"
    assert statement_status(_row(n, k - 1), False) == "vacuous"
    assert statement_status(_row(n, k - 1, reach=True), False) == "reachable only"
    assert statement_status(_row(n, 0, reach=True), False) == "vacuous"
    assert well_exercised(_row(0, 0))  # nothing recorded: judged by outcomes alone
    # The floor is half of one test's examples, not of all: a second test of 40 draws that
    # cannot exercise the statement does not make 20 real checks vacuous.
    two_tests = {**_row(2 * n, k), "recorded_per_test": n}
    assert statement_status(two_tests, False) == "held"
    assert statement_status({**two_tests, "exercised": k - 1}, False) == "vacuous"


def _report(exercised: int, decay: float = 0.5) -> dict:
    """A report through build_report: one passing test, 4 examples, ``exercised`` of them,
    each with the trend measure ``decay_ratio = decay``."""
    rec = SlackRecorder()
    for i in range(4):
        measures = {"decay_ratio": decay}
        rec(Slack("S-EQ1", 0.1 * (i + 1), "", exercised=i < exercised, measures=measures))
    entry = TestRecord(
        "t.py::test_x", "passed", 0.0, ["S-EQ1"], slacks=list(rec.worst.values()), examples=4
    ).to_entry()
    run = {
        "profile": "ci",
        "selection": {"complete": True, "reason": "", "args": [], "shard": None},
        "partial": False,
    }
    return build_report([entry], run, None)


def _row_of(report: dict) -> dict:
    return next(r for r in report["statements"] if r["id"] == "S-EQ1")


def test_report_shows_k_of_n_and_a_vacuous_status():
    """2 of 4 is held (floor 1/2), 1 of 4 vacuous; report.md says k of n; measures by name."""
    held, thin = _row_of(_report(2)), _row_of(_report(1))
    assert (held["status"], held["exercised"], held["recorded"]) == ("held", 2, 4)
    assert (thin["status"], thin["exercised"], thin["recorded"]) == ("vacuous", 1, 4)
    # the worst slack is over the exercised examples only (0.1 and 0.2, not 0.4)
    assert held["worst_slack"] == 0.2 and thin["worst_slack"] == 0.1
    assert held["measures"]["decay_ratio"]["median"] == 0.5
    md = markdown(_report(1))
    assert "exercised on 1 of 4" in md and "| 1 of 4 |" in md
    assert "decay_ratio 0.5" in md


def test_held_becoming_vacuous_or_less_exercised_is_a_regression():
    """The baseline comparison flags a status gone vacuous and fewer exercised examples."""
    base = baseline.from_report(_report(3))
    rows = compare(base, _report(1))["rows"]
    assert ("REGRESSION", "coverage", "S-EQ1") in {
        (r["verdict"], r["kind"], r["item"]) for r in rows
    }
    rows = compare(base, _report(2))["rows"]
    assert ("REGRESSION", "coverage", "S-EQ1 exercised") in {
        (r["verdict"], r["kind"], r["item"]) for r in rows
    }
    assert compare(base, _report(3))["regressions"] == 0


def test_trend_measures_are_compared_by_their_medians():
    """A trend statement's median measure against the baseline's: the same median gives no
    row, one moved by 2% a 'changed' measure row, one moved by 0.8% none (the rule's 1%).
    Negative control: reading the new report's measures from a wrong key (sampled mutant
    compare._compare_exercise 95, ``n.get(None)``) reports the unchanged measure as vanished."""
    base = baseline.from_report(_report(3))
    assert compare(base, _report(3))["rows"] == []
    moved = compare(base, _report(3, decay=0.51))["rows"]
    assert [(r["verdict"], r["kind"], r["item"], r["rule"]) for r in moved] == [
        ("changed", "measure", "S-EQ1 decay_ratio", "median measure changed")
    ]
    assert compare(base, _report(3, decay=0.504))["rows"] == []


def test_every_statement_row_has_the_same_keys():
    """A statement without slacks has the row of one with them (``worst_detail`` ''), so a
    reader of report.json finds every field on every row.  Negative control: a misspelt
    initial key (sampled mutant statement_table.statement_rows 28) gives the rows without
    slacks a different key set."""
    rows = _report(2)["statements"]
    assert len({tuple(sorted(r)) for r in rows}) == 1
    assert {r["worst_detail"] for r in rows if r["worst_slack"] is None} == {""}


def test_a_changed_test_outcome_is_a_changed_test_row():
    """A test skipped in the baseline and passing now is one 'changed' row of kind 'test'.
    Negative control: kind None (sampled mutant compare._compare_tests 58) fails it."""
    base = baseline.from_report(_report(3))
    base["tests"] = dict.fromkeys(base["tests"], "skipped")
    rows = compare(base, _report(3))["rows"]
    assert [(r["verdict"], r["kind"], r["item"], r["rule"]) for r in rows] == [
        ("changed", "test", "t.py::test_x", "outcome changed")
    ]


TINY = '''
from types import SimpleNamespace
from hypothesis import HealthCheck, given, settings, strategies as st

@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(x=st.integers(0, 9))
def test_half(x, record_slack):
    """S-EQ1 on an integer: exercised when it is odd."""
    record_slack(SimpleNamespace(statement="S-EQ1", ratio=0.5, detail="", exercised=x % 2 == 1))
'''


def test_hypothesis_statistics_show_the_exercised_split(tmp_path):
    """``--hypothesis-show-statistics`` lists the record_slack events of each test."""
    root = tmp_path / "suite"
    (root / "properties").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\ntestpaths = ["properties"]\n'
        'addopts = "-p invariants.report.plugin"\nfilterwarnings = ["error"]\n'
    )
    (root / "properties" / "test_tiny.py").write_text(TINY)
    env = determinism.child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
           "--hypothesis-profile", "ci", "--hypothesis-show-statistics"]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    # (The run itself fails: the tiny suite leaves the paper's other statements unchecked.)
    assert "1 passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "S-EQ1: exercised" in proc.stdout
    assert "S-EQ1: not exercised (vacuous)" in proc.stdout
