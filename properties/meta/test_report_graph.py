"""Meta-tests of the dependency graph (``invariants/report/graph.py``) from synthetic reports.

A synthetic report names two papers (so nothing may assume one paper or one ID prefix),
assumptions that repeat across them (``A1`` in both), a chain of proof dependencies and
one statement of each status.  The tests read the Graphviz source: every node's fill is
its status's colour, every dependency is one edge, and the statements resting (through
any chain) on a violated or unchecked one are marked undermined, and no other.  One
test renders the graph with the system's ``dot`` (the ``graphviz`` system package: a
failure under CI, where ``.ci/run`` installs it and sets
``INVARIANTS_REQUIRE_REPORT_TOOLS=1``, a named skip elsewhere); without it the report
says so and names the fix.  The IDs below are data: these tests name no statement of a paper.
"""

from __future__ import annotations

import os
import re
import shutil

import pytest

from invariants.report import graph
from invariants.report.markdown import markdown

pytestmark = pytest.mark.meta

STATUSES = {
    "P-EQ1": "held",
    "P-L1": "violated",
    "P-L2": "held",
    "P-T1": "held",
    "P-T2": "reachable only",
    "P-C1": "not checked",
    "P-F1": "vacuous",
    "P-ERR": "erratum",
    "Q-L1": "held",
    "Q-T1": "crashed",
}
USES = {
    "P-T1": ["P-L1", "P-L2", "A1"],  # rests on a violated lemma: undermined
    "P-T2": ["P-T1"],  # ... through P-T1: undermined, cause P-L1
    "P-F1": ["P-EQ1", "P-C1"],  # rests on an unchecked statement: undermined
    "P-L2": ["P-EQ1"],  # rests on held statements only
    "Q-T1": ["Q-L1", "A1"],  # the other paper's A1
    "P-ERR": ["P-NOPE"],  # a dependency the report does not know
}
KINDS = {"EQ": "equation", "L": "lemma", "T": "theorem", "C": "corollary", "F": "figure"}


def row(sid: str) -> dict:
    """A statement row with the catalogue fields the graph reads."""
    kind = KINDS.get(re.sub(r"[0-9]+$", "", sid.split("-")[1]), "erratum")
    return {
        "id": sid,
        "title": f"Statement {sid}: a claim",
        "status": STATUSES[sid],
        "kind": kind,
        "paper": "paper_p" if sid.startswith("P-") else "paper_q",
        "assumptions": {"P-L1": ["A2"], "Q-L1": ["not A1"]}.get(sid, []),
        "uses": USES.get(sid, []),
    }


def synthetic() -> dict:
    return {
        "statements": [row(sid) for sid in STATUSES],
        "papers": {
            "paper_p": {"key": "paper_p", "title": "Paper P", "prefix": "P-"},
            "paper_q": {"key": "paper_q", "title": "Paper Q", "prefix": "Q-"},
        },
        "assumptions": {
            "paper_p": {
                "A1": {"id": "A1", "title": "separable", "math": "", "words": ""},
                "A2": {"id": "A2", "title": "balanced start", "math": "", "words": ""},
            },
            "paper_q": {"A1": {"id": "A1", "title": "homogeneous", "math": "", "words": ""}},
        },
    }


def node_attrs(source: str) -> dict[str, dict[str, str]]:
    """Every node statement of a dot source: name -> its attributes."""
    out = {}
    for m in re.finditer(r'^\s*"([^"]+)" \[(.*)\]$', source, re.MULTILINE):
        out[m.group(1)] = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
    return out


def edges(source: str) -> set[tuple[str, str]]:
    """The visible edges of a dot source."""
    return {
        (a, b)
        for a, b, attrs in re.findall(r'^\s*"([^"]+)" -> "([^"]+)" (\[.*\])$', source, re.M)
        if "invis" not in attrs
    }


def test_nodes_are_filled_by_status_and_shaped_by_kind():
    """Each statement node has its status's colour, its kind's shape and a link to its card."""
    nodes = node_attrs(graph.dot_source(synthetic()))
    for sid, status in STATUSES.items():
        a = nodes[sid]
        assert a["fillcolor"] == graph.STATUS_COLOURS[status][0], (sid, a)
        assert a["shape"] == graph.SHAPES[row(sid)["kind"]], (sid, a)
        assert a["URL"] == f"#{sid}" and a["id"] == f"node-{sid}"
        assert status in a["tooltip"]
    # One node per assumption and paper: the two papers' A1 are two nodes.
    assert {"paper_p:A1", "paper_p:A2", "paper_q:A1"} <= set(nodes)
    assert nodes["paper_q:A1"]["URL"] == "#assumption-paper_q-A1"
    assert len({c for c, _ in graph.STATUS_COLOURS.values()}) == len(graph.STATUS_COLOURS)


def test_every_dependency_is_one_edge():
    """An edge from each assumption (negated ones marked) and each used statement to the
    statement using it."""
    source = graph.dot_source(synthetic())
    got = edges(source)
    expected = {("paper_p:A2", "P-L1"), ("paper_q:A1", "Q-L1"), ("P-NOPE", "P-ERR")}
    for sid, deps in USES.items():
        paper = row(sid)["paper"]
        for d in deps:
            expected.add((f"{paper}:{d}" if d.startswith("A") else d, sid))
    assert got == expected
    # "not A1": the statement holds when A1 fails: a dashed red edge labelled "not".
    negated = re.search(r'"paper_q:A1" -> "Q-L1" \[(.*)\]', source)
    assert negated and 'label="not"' in negated.group(1) and "dashed" in negated.group(1)


def test_undermined_statements_are_exactly_those_resting_on_a_failure():
    """Violated or unchecked dependencies undermine, through chains; held ones do not."""
    report = synthetic()
    assert graph.undermined(report["statements"]) == {
        "P-T1": ["P-L1"],
        "P-T2": ["P-L1"],
        "P-F1": ["P-C1"],
    }
    nodes = node_attrs(graph.dot_source(report))
    for sid in ("P-T1", "P-T2", "P-F1"):
        assert "dashed" in nodes[sid]["style"] and "undermined" in nodes[sid]["tooltip"]
    for sid in ("P-L2", "P-EQ1", "Q-T1", "P-L1"):
        assert "dashed" not in nodes[sid]["style"], sid
    # Negative control: with the lemma and the corollary held, nothing is undermined.
    for r in report["statements"]:
        if r["id"] in ("P-L1", "P-C1"):
            r["status"] = "held"
    assert graph.undermined(report["statements"]) == {}
    nodes = node_attrs(graph.dot_source(report))
    assert not any("dashed" in nodes[sid].get("style", "") for sid in STATUSES)


def test_an_unknown_dependency_is_drawn_not_dropped():
    """A dependency the report does not know is a red plain node with its own tooltip."""
    nodes = node_attrs(graph.dot_source(synthetic()))
    assert nodes["P-NOPE"]["shape"] == "plaintext"
    assert "not in the report" in nodes["P-NOPE"]["tooltip"]


def test_isolated_statements_are_stacked_not_spread():
    """Statements with no edge are chained by invisible edges in columns."""
    report = synthetic()
    report["statements"] += [
        {**row("P-EQ1"), "id": f"P-X{i}", "uses": [], "assumptions": []} for i in range(6)
    ]
    iso = graph.isolated(report["statements"], {r["id"] for r in report["statements"]}, {})
    assert iso == [f"P-X{i}" for i in range(6)]
    invis = re.findall(r'"(P-X\d)" -> "(P-X\d)" \[style="invis"\]', graph.dot_source(report))
    assert len(invis) == 6 - 6 // graph.ISOLATED_COLUMN - (6 % graph.ISOLATED_COLUMN > 0)


def _require_dot() -> str:
    program = graph.dot_program()
    if program is None:
        if os.environ.get("INVARIANTS_REQUIRE_REPORT_TOOLS") or os.environ.get("CI"):
            pytest.fail("Graphviz's dot is missing (CI installs graphviz in .ci/run)")
        pytest.skip("Graphviz's dot is missing (apt-get install graphviz)")
    return program


def test_real_render_writes_svg_and_png_with_links(tmp_path):
    """The system's dot lays the graph out: an SVG whose nodes link to their cards, a PNG."""
    program = _require_dot()
    report = synthetic()
    entry = graph.render(report, tmp_path, program)
    assert entry["status"] == "rendered", entry
    svg = (tmp_path / graph.GRAPH_SVG).read_text()
    for sid, status in STATUSES.items():
        assert f'xlink:href="#{sid}"' in svg, sid
        assert graph.STATUS_COLOURS[status][0] in svg, status
    assert (tmp_path / graph.GRAPH_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["graph"]["undermined"]["P-T2"] == ["P-L1"]


def test_without_dot_the_report_names_the_fix(tmp_path, monkeypatch):
    """No dot: nothing drawn, no crash; report.md and a non-failing run note say to
    install graphviz."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    report = synthetic()
    entry = graph.render(report, tmp_path)
    assert entry["status"] == "not rendered"
    assert "apt-get install graphviz" in entry["reason"]
    assert not (tmp_path / graph.GRAPH_SVG).exists()
    assert "apt-get install graphviz" in "\n".join(markdown_graph(report))
    notes = [p for p in report["problems"] if p["kind"] == "graph"]
    assert len(notes) == 1 and not notes[0]["gating"], report["problems"]
    assert "apt-get install graphviz" in notes[0]["message"]


def test_a_failing_dot_is_recorded(tmp_path):
    """A dot that exits non-zero is a failed drawing with its message, not a crash."""
    entry = graph.render(synthetic(), tmp_path, program=shutil.which("false") or "/bin/false")
    assert entry["status"] == "failed" and "dot failed" in entry["reason"]


def markdown_graph(report: dict) -> list[str]:
    """The graph lines of report.md for ``report`` (the section markdown writes)."""
    text = markdown(
        {
            **report,
            "run": {
                "profile": "ci",
                "partial": False,
                "collected": 0,
                "outcomes": {},
                "selection": {"complete": True, "reason": ""},
            },
            "problems": report.get("problems", []),
            "ok": True,
            "tests": [],
            "errata": [],
            "looseness": [],
            "laws": [],
            "observations": {},
            "figures": [],
            "statements": [
                {
                    **r,
                    "examples": 0,
                    "recorded": 0,
                    "exercised": 0,
                    "worst_slack": None,
                    "worst_detail": "",
                    "worst_test": None,
                    "reach": None,
                    "tests": [],
                    "controls": {"total": 0},
                    "errata": 0,
                    "failures": [],
                }
                for r in report["statements"]
            ],
        }
    )
    start = text.index("### Dependency graph")
    return text[start:].split("\n## ")[0].splitlines()


def test_report_md_embeds_the_graph_and_lists_undermined(tmp_path):
    """report.md shows the PNG and the undermined statements with their causes."""
    _require_dot()
    report = synthetic()
    graph.render(report, tmp_path)
    lines = markdown_graph(report)
    assert f"![dependency graph]({graph.GRAPH_PNG})" in lines
    assert "- P-T2: rests on P-L1" in lines and "- P-F1: rests on P-C1" in lines


def test_a_held_statement_proved_on_every_certified_example_shows_certified():
    """Certified where available: held + every certificate proved; one refuted or
    undecided example, or no certificate at all, keeps the float status."""
    row = {"id": "S-X", "status": "held"}
    proved = {"examples": 3, "proved": 3, "refuted": 0, "undecided": 0}
    assert graph.status_of({**row, "certified": proved}) == "certified"
    assert graph.status_of({**row, "certified": {**proved, "proved": 2, "undecided": 1}}) == "held"
    assert graph.status_of({**row, "certified": None}) == "held"
    assert graph.status_of({**row, "status": "violated", "certified": proved}) == "violated"
