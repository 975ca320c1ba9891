"""Meta-tests of the statement catalogues (``invariants/catalogues/*.toml``).

- **Coverage.**  Every statement ID once across all papers, each with its paper's
  prefix; every ID a test docstring names is catalogued, and every catalogued ID is
  named by some test and checked by some claim check.
- **Dependencies.**  Every ``assumptions`` and ``uses`` entry names a statement or an
  assumption of the same paper, and the ``uses`` graph has no cycle.
- **Sections.**  Every ``section`` is a stem of the paper's folder (``claims/<stem>.py``
  and ``test_<stem>.py`` exist).
- **Mathematics.**  Every formula converts to MathML with ``latex2mathml`` (the HTML
  report renders it so, offline), leaves no command unrendered and balances its braces.
- **The document.**  ``docs/statements.md`` is exactly what
  :mod:`invariants.report.catalogue_doc` generates.

Negative controls: synthetic catalogues with an unknown dependency, an unknown
assumption, a duplicate ID, a wrong prefix, a cycle and an ID named by a test but
not catalogued are each reported; a missing field is refused when parsing; a second
paper's prefix is recognised in docstrings.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest
from latex2mathml.converter import convert

from invariants.report import catalogue_doc, figures, tables
from invariants.report.build import build_report
from invariants.report.files import write_json
from invariants.report.records import TestRecord
from invariants.statements import (
    CATALOGUE,
    CATALOGUES,
    ID_PATTERN,
    IDS,
    LAWS,
    LOOSENESS,
    STATEMENTS,
    catalogue_problems,
    dependency_cycle,
    id_pattern,
    parse_catalogue,
)

REPO = Path(__file__).resolve().parents[2]
PROPERTIES = REPO / "properties"
JT = REPO / "invariants" / "catalogues" / "ji_telgarsky_2019.toml"


def id_like_names(root: Path, pattern: re.Pattern[str] = ID_PATTERN) -> dict[str, list[str]]:
    """Every ID-shaped name in the docstrings of the test functions under ``root``, with
    the files naming it (catalogued or not: a typo such as ``S-L9`` shows up here)."""
    out: dict[str, set[str]] = {}
    for path in sorted(root.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                for sid in pattern.findall(ast.get_docstring(node) or ""):
                    out.setdefault(sid, set()).add(path.relative_to(root).as_posix())
    return {sid: sorted(files) for sid, files in out.items()}


def coverage_problems(ids: Sequence[str], named: Mapping[str, list[str]]) -> list[str]:
    """Catalogued ``ids`` against the IDs tests name: repeats, uncatalogued, unnamed."""
    problems = [f"{sid} catalogued twice" for sid in sorted(set(ids)) if ids.count(sid) > 1]
    problems += [
        f"{sid} is named by {', '.join(files)} but not catalogued"
        for sid, files in sorted(named.items())
        if sid not in ids
    ]
    problems += [f"{sid} is catalogued but no test names it" for sid in ids if sid not in named]
    return problems


def formula_problems(where: str, math: str) -> list[str]:
    """What is wrong with one formula: latex2mathml refuses it, leaves a command
    unrendered (it passes unknown ``\\commands`` through as text), or its braces do not
    balance (it closes an unclosed group silently)."""
    try:
        mathml = convert(math)
    except Exception as exc:  # latex2mathml raises its own exception classes
        return [f"{where}: latex2mathml fails: {type(exc).__name__} {exc}"]
    problems = []
    if "\\" in mathml:
        problems.append(f"{where}: unrendered command in {mathml[:120]}...")
    braces = re.sub(r"\\[{}]", "", math)
    if braces.count("{") != braces.count("}"):
        problems.append(f"{where}: unbalanced braces")
    return problems


def all_formulas() -> Iterable[tuple[str, str]]:
    """``(where, math)`` of every formula of every catalogue."""
    for cat in CATALOGUES:
        for sym in cat.symbols:
            yield f"{cat.paper.key} symbol {sym.name}", sym.math
        for a in cat.assumptions:
            yield f"{cat.paper.key} {a.id}", a.math
        for s in cat.statements:
            yield s.id, s.math


def _jt_data() -> dict:
    return tomllib.loads(JT.read_text(encoding="utf-8"))


def _with(data: dict, sid: str, **changes) -> dict:
    """A copy of catalogue ``data`` with statement ``sid``'s fields changed."""
    out = copy.deepcopy(data)
    for entry in out["statement"]:
        if entry["id"] == sid:
            entry.update(changes)
    return out


@pytest.mark.meta
def test_the_catalogue_holds_every_statement_id_once_and_nothing_else():
    """Every catalogued ID once; every ID a test names catalogued; every one named."""
    ids = [s.id for c in CATALOGUES for s in c.statements]
    assert tuple(ids) == IDS == tuple(CATALOGUE) == tuple(row[0] for row in STATEMENTS)
    assert coverage_problems(ids, id_like_names(PROPERTIES)) == []


@pytest.mark.meta
def test_every_dependency_names_a_known_statement_or_assumption_and_there_is_no_cycle():
    """``uses`` and ``assumptions`` name IDs of the same paper; the proof graph is acyclic."""
    assert catalogue_problems(CATALOGUES) == []


@pytest.mark.meta
def test_every_section_is_a_stem_of_its_paper():
    """A statement's ``section`` has ``claims/<stem>.py`` and ``test_<stem>.py``."""
    missing = [
        f"{s.id}: {path.relative_to(REPO)}"
        for s in CATALOGUE.values()
        for path in (
            PROPERTIES / s.paper / "claims" / f"{s.section}.py",
            PROPERTIES / s.paper / f"test_{s.section}.py",
        )
        if not path.is_file()
    ]
    assert missing == []


@pytest.mark.meta
def test_every_statement_has_a_claim_check():
    """Some ``check_*`` function of the paper's claims serves each statement."""
    for cat in CATALOGUES:
        ids = [s.id for s in cat.statements]
        checks = catalogue_doc.claim_checks(PROPERTIES / cat.paper.key / "claims", ids)
        assert [sid for sid, found in checks.items() if not found] == []


@pytest.mark.meta
def test_every_formula_converts_to_mathml():
    """latex2mathml converts every formula, renders every command and no brace is loose."""
    formulas = list(all_formulas())
    assert len(formulas) > len(IDS)
    assert [p for where, math in formulas for p in formula_problems(where, math)] == []


@pytest.mark.meta
def test_docs_statements_md_is_what_the_generator_writes():
    """``docs/statements.md`` equals :func:`invariants.report.catalogue_doc.render`."""
    path = REPO / catalogue_doc.DEFAULT_OUT
    expected = catalogue_doc.render(REPO)
    assert path.is_file() and path.read_text(encoding="utf-8") == expected, (
        f"{catalogue_doc.DEFAULT_OUT} is stale: run `python -m invariants.report statements` "
        "from the repository's root and commit the result"
    )
    for sid in IDS:
        assert f"\n#### {sid}\n" in expected and CATALOGUE[sid].math in expected


@pytest.mark.meta
def test_the_report_carries_the_catalogue(tmp_path):
    """report.json's rows carry each statement's catalogue fields, and the report its
    papers, assumptions and notation: the HTML report and the graph need nothing else."""
    selection = {"complete": True, "reason": "", "args": ["properties"], "shard": None}
    built = build_report([], {"profile": "ci", "selection": selection}, None)
    report = json.loads(write_json(tmp_path / "report.json", built).read_text())
    for row in report["statements"]:
        s = CATALOGUE[row["id"]]
        assert (row["math"], row["uses"], row["certifiable"]) == (
            s.math,
            list(s.uses),
            s.certifiable,
        )
        assert row["assumptions"] == list(s.assumptions) and row["paper"] == s.paper
        for a in (u.removeprefix("not ") for u in [*row["uses"], *row["assumptions"]]):
            assert a in report["assumptions"][row["paper"]] or a in CATALOGUE
    assert set(report["papers"]) == {c.paper.key for c in CATALOGUES}
    assert report["papers"]["ji_telgarsky_2019"]["prefix"] == "S-"
    assert report["notation"]["ji_telgarsky_2019"][0]["math"] == CATALOGUES[0].symbols[0].math


def _erratum_run(errata: list[dict]) -> dict[str, str]:
    """Statuses of a synthetic run: every statement passes once, ``errata`` recorded."""
    tests = [
        TestRecord(f"properties/test_x.py::test_{i}", "passed", 0.1, [sid], examples=5).to_entry()
        for i, sid in enumerate(IDS)
    ]
    tests[0]["errata"] = errata
    selection = {"complete": True, "reason": "", "args": ["properties"], "shard": None}
    report = build_report(tests, {"profile": "ci", "selection": selection}, None)
    return {row["id"]: row["status"] for row in report["statements"]}


@pytest.mark.meta
def test_the_erratum_status_goes_to_the_statement_of_kind_erratum():
    """With errata recorded, the statement of kind ``erratum`` (no fixed ID) is *erratum*;
    without, it is held like any other; no other statement changes."""
    kinds = {sid: s.kind for sid, s in CATALOGUE.items()}
    witness = [{"statement": "S-EQ29", "printed": "+P", "derived": "-P", "witness": {}}]
    with_errata, without = _erratum_run(witness), _erratum_run([])
    assert (
        {sid for sid, st in with_errata.items() if st == "erratum"}
        == {sid for sid, k in kinds.items() if k == "erratum"}
        != set()
    )
    assert set(without.values()) == {"held"}


@pytest.mark.meta
def test_negative_control_broken_catalogues_are_reported():
    """An unknown dependency, an unknown assumption, a duplicate, a bad prefix, a cycle."""
    data = _jt_data()
    parse = parse_catalogue
    assert catalogue_problems([parse(data)]) == []
    unknown = parse(_with(data, "S-T2", uses=["S-T1", "S-L99"]))
    assert catalogue_problems([unknown]) == [
        "ji_telgarsky_2019: S-T2 uses 'S-L99', not a statement or assumption of ji_telgarsky_2019"
    ]
    negated = parse(_with(data, "S-A2b", assumptions=["not A9"]))
    assert catalogue_problems([negated]) == [
        "ji_telgarsky_2019: S-A2b assumes 'not A9', not an assumption of ji_telgarsky_2019"
    ]
    cycle = parse(_with(data, "S-L2a", uses=["S-EQ2", "S-C1"]))
    assert catalogue_problems([cycle]) == ["dependency cycle: S-L2a -> S-C1 -> S-L2a"]
    dup = copy.deepcopy(data)
    dup["statement"].append({**dup["statement"][0], "title": "again"})
    dup["statement"].append({**dup["statement"][1], "id": "X-EQ2"})
    assert catalogue_problems([parse(dup)]) == [
        "ji_telgarsky_2019: S-EQ1 declared twice (first in ji_telgarsky_2019)",
        "ji_telgarsky_2019: X-EQ2 lacks the paper's prefix 'S-'",
    ]
    assert catalogue_problems([parse(data), parse(data)])[:2] == [
        "paper key 'ji_telgarsky_2019' declared twice",
        "paper prefix 'S-' declared twice",
    ]
    kind = parse(_with(data, "S-C1", kind="remark"))
    assert catalogue_problems([kind]) == ["ji_telgarsky_2019: S-C1 has unknown kind 'remark'"]


@pytest.mark.meta
def test_negative_control_missing_and_extra_ids_are_reported():
    """An ID a test names but the catalogue lacks, one no test names, one catalogued twice."""
    named = {"S-EQ1": ["a.py"], "S-EQ2": ["b.py"]}
    assert coverage_problems(["S-EQ1", "S-EQ2"], named) == []
    assert coverage_problems(["S-EQ1", "S-EQ1", "S-EQ3"], named) == [
        "S-EQ1 catalogued twice",
        "S-EQ2 is named by b.py but not catalogued",
        "S-EQ3 is catalogued but no test names it",
    ]


@pytest.mark.meta
def test_negative_control_a_missing_field_or_a_bad_formula_is_refused():
    """Parsing names the missing field; the formula check names each kind of defect."""
    data = _jt_data()
    del data["statement"][3]["uses"]
    with pytest.raises(ValueError, match=r"S-L1: missing fields \['uses'\]"):
        parse_catalogue(data)
    assert formula_problems("x", r"x^")[0].startswith("x: latex2mathml fails")
    unknown = formula_problems("x", r"\lVrt x")
    assert len(unknown) == 1 and "unrendered command" in unknown[0]
    assert formula_problems("x", r"\frac{a}{b") == ["x: unbalanced braces"]
    assert formula_problems("x", r"\{ a \}") == []


@pytest.mark.meta
def test_negative_control_a_bad_question_is_refused():
    """A ``[[question]]`` with an unknown status is refused when parsed; one naming a
    statement of no paper of its own is reported (QUESTION_STATUSES)."""
    data = _jt_data()
    good = {"statement": "S-T2", "text": "t", "status": "open", "resolution": "r"}
    data["question"] = [dict(good, status="unsure")]
    with pytest.raises(ValueError, match="status 'unsure' is not one of"):
        parse_catalogue(data)
    data["question"] = [dict(good, statement="LL-T4.1")]
    assert catalogue_problems([parse_catalogue(data)]) == [
        "ji_telgarsky_2019: question names 'LL-T4.1', not a statement of ji_telgarsky_2019"
    ]
    data["question"] = [good]
    cat = parse_catalogue(data)
    assert catalogue_problems([cat]) == [] and cat.questions[0].status == "open"


@pytest.mark.meta
def test_negative_control_a_bridge_to_nowhere_is_reported():
    """A ``[[bridge]]`` naming a statement no catalogue holds is reported; one naming
    statements of two papers is accepted (Bridge)."""
    data = _jt_data()
    bridge = {"observation": "o", "title": "t", "values": ["v"], "note": "n"}
    data["bridge"] = [dict(bridge, statements=["S-T2", "XX-T9"])]
    assert catalogue_problems([parse_catalogue(data)]) == [
        "ji_telgarsky_2019: bridge 'o' names 'XX-T9', a statement of no catalogue"
    ]
    data["bridge"] = [dict(bridge, statements=["S-T2", "LL-DL2"])]
    assert catalogue_problems([*CATALOGUES[1:], parse_catalogue(data)]) == []


@pytest.mark.meta
def test_cycles_are_found_and_a_second_paper_is_recognised(tmp_path):
    """:func:`dependency_cycle` on small graphs; IDs of a second prefix are found in text,
    and a test naming one is seen by the coverage scan."""
    assert dependency_cycle({"a": ["b"], "b": ["c"], "c": []}) == []
    assert dependency_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]
    assert dependency_cycle({"a": ["a"]}) == ["a", "a"]
    assert dependency_cycle({"a": ["x"], "b": ["c", "a"], "c": ["b"]}) == ["b", "c", "b"]
    both = id_pattern(["S-", "LL-"])
    assert both.findall("LL-T1 rests on S-L2a and LL-L3b's bound") == ["LL-T1", "S-L2a", "LL-L3b"]
    (tmp_path / "test_x.py").write_text('def test_a():\n    """LL-T1 and S-EQ1."""\n')
    assert id_like_names(tmp_path, both) == {"LL-T1": ["test_x.py"], "S-EQ1": ["test_x.py"]}


@pytest.mark.meta
def test_dotted_ids_are_read_whole_and_no_id_is_found_inside_another():
    """The one ID pattern reads dotted IDs whole, leaves a sentence's final period out,
    and finds no shorter prefix inside a longer paper's ID.  Negative control: the
    previous pattern (no dotted parts, no look-behind) cuts a dotted ID at its dot and
    finds a one-letter prefix inside another paper's ID."""
    both = id_pattern(["S-", "LL-"])
    text = "LL-T4.1 and LL-LA.5; LL-S5.ID (LL-LC.8) rests on S-L2a. See LL-T4.1."
    assert both.findall(text) == ["LL-T4.1", "LL-LA.5", "LL-S5.ID", "LL-LC.8", "S-L2a", "LL-T4.1"]
    for sid in ("LL-T4.1", "LL-LA.5", "LL-S5.ID", "LL-LC.8", "LL-EQ1", "LL-SW", "S-FIG1a"):
        assert both.fullmatch(sid), sid
    assert id_pattern(["S-"]).findall("LL-S5.ID, XS-L2, S-T4_reach") == []
    assert id_pattern(["L-", "LL-"]).findall("LL-S5.ID") == ["LL-S5.ID"]
    assert id_pattern(["L-"]).findall("LL-S5.ID") == []
    old = re.compile(r"(?:LL-|S-|L-)[A-Z0-9]+[a-z]?\b")
    assert old.findall("LL-T4.1 LL-S5.ID") != ["LL-T4.1", "LL-S5.ID"]
    assert old.findall("L-S5 in LL-S5") != []  # the inner prefix the new pattern refuses


@pytest.mark.meta
def test_negative_control_an_id_the_pattern_cannot_read_is_reported():
    """A catalogued ID that the ID pattern would not read whole (a trailing dot, a dotted
    part in lower case) is a catalogue problem: no docstring could ever name it."""
    data = _jt_data()
    data["statement"][0]["id"] = "S-EQ1."
    data["statement"][1]["id"] = "S-EQ2.x"
    problems = catalogue_problems([parse_catalogue(data)])
    assert any("S-EQ1. is not of the shape id_pattern reads" in p for p in problems), problems
    assert any("S-EQ2.x is not of the shape id_pattern reads" in p for p in problems), problems


@pytest.mark.meta
def test_the_report_tables_are_declared_by_the_catalogues():
    """Each paper's looseness rows, laws and figures come from its catalogue, name its
    own statements, and each figure's drawer exists; the report builds its sections from
    them alone (a paper without the tables gets none)."""
    assert catalogue_problems(CATALOGUES) == []
    for cat in CATALOGUES:
        own = {s.id for s in cat.statements}
        assert {x.statement for x in (*cat.looseness, *cat.laws)} <= own
        for fig in cat.figures:
            assert fig.drawer in figures.DRAWERS, (cat.paper.key, fig.name, fig.drawer)
    rows = {sid: {"worst_slack": 0.5, "examples": 3} for sid in IDS}
    built = tables.looseness(rows, {}, [x for c in CATALOGUES for x in c.looseness])
    assert [e["statement"] for e in built] == [x.statement for x in LOOSENESS]
    assert [e["observation"] for e in tables.laws({}, [])] == [
        law.observation for law in LAWS for _ in law.expected
    ]
    assert tables.looseness(rows, {}, ()) == [] and tables.laws({}, [], ()) == []
    plan = tables.figure_plan([], {}, ())
    assert [f["name"] for f in plan] == [name for name, _, _ in tables.SHARED_FIGURES]


@pytest.mark.meta
def test_negative_control_malformed_report_tables_are_refused():
    """Each defect of the optional tables is refused with its reason: a looseness with
    both sources, a law expecting a value it does not list, an unknown plot option, a
    statement of another paper, a figure declared twice."""
    data = _jt_data()

    def refused(change, match: str) -> None:
        broken = copy.deepcopy(data)
        change(broken)
        with pytest.raises(ValueError, match=match):
            parse_catalogue(broken)

    refused(lambda d: d["looseness"][0].update(observation="x", value="y"), "either slack")
    refused(lambda d: d["law"][0].update(expected={"nope": 1.0}), r"expected names \['nope'\]")
    refused(lambda d: d["figure"][2]["plot"].update(colour="red"), "unknown plot option")
    refused(lambda d: d["figure"][0].update(gating="yes"), "is not bool")
    refused(lambda d: d["report"].update(other=1), r"unknown fields \['other'\]")
    other = copy.deepcopy(data)
    other["law"][0]["statement"] = "S-NOPE"
    other["figure"].append(copy.deepcopy(other["figure"][0]))
    problems = catalogue_problems([parse_catalogue(other)])
    assert "ji_telgarsky_2019: law names 'S-NOPE', not a statement of ji_telgarsky_2019" in (
        problems
    )
    assert "figure 'fig1a' declared twice" in problems
