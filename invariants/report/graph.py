"""The dependency graph of a report: statements and assumptions, coloured by the run's status.

Made from ``report.json`` alone: each statement row names the assumptions it rests on
(``assumptions``) and the statements and assumptions its proof uses (``uses``); the
report's ``assumptions`` section names every paper's assumptions.  :func:`dot_source`
writes the graph in Graphviz's language: one node per assumption and statement, shaped
by its kind (:data:`SHAPES`), filled by its status (:data:`STATUS_COLOURS`), an edge from
each dependency to the statement that uses it, one cluster per paper.  A statement
whose dependency, directly or through other statements, is violated or was not checked
(:data:`UNDERMINING`) is *undermined* (:func:`undermined`): its node gets a dashed
double border and a tooltip naming the cause.  Every statement node links to its card
in ``index.html`` (``URL="#<ID>"``).

:func:`render` lays the graph out with the system's ``dot`` (Graphviz) into
``dependency_graph.svg`` and ``.png`` beside the report and records the outcome under
the report's ``graph`` key; without ``dot`` it records why and what installs it,
and the report says so instead of failing.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from ..statements import NEGATION

#: Fill colour and legend text of each status a node can have (one line per status;
#: ``certified`` is :func:`status_of`'s refinement of ``held``).
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "certified": ("#1b9e4b", "certified: decided in ball arithmetic"),
    "held": ("#8fd694", "held on examples that could fail it"),
    "reachable only": ("#d4eeb0", "held as far as a simulation could follow it"),
    "vacuous": ("#f6e27f", "passed, but too few examples could fail it"),
    "erratum": ("#f5a55a", "the printed form fails, the derived form holds"),
    "violated": ("#ef6f6c", "violated"),
    "crashed": ("#c77dd1", "its test crashed"),
    "not run": ("#c9c9c9", "its test did not run"),
    "skipped": ("#e3e3e3", "its tests were skipped"),
    "not checked": ("#ffffff", "no collected test checks it"),
}
#: Fill of an assumption node (assumptions are premises, not checked statements).
ASSUMPTION_COLOUR = "#dbe9f6"
#: Fill of a dependency the report does not know (a catalogue error, shown, never dropped).
UNKNOWN_COLOUR = "#ffffff"

#: Edge attributes by the kind of dependency (a statement's: the default solid arrow).
EDGE_STYLES: dict[str, dict[str, str]] = {
    "assumption": {"style": "dotted", "color": "#8aa6c1"},
    "negated": {"style": "dashed", "color": "#b00020", "label": "not", "fontsize": "9"},
}

#: Graphviz shape of each kind of node (the legend names the shape in words).
SHAPES: dict[str, str] = {
    "assumption": "note",
    "equation": "ellipse",
    "lemma": "box",
    "theorem": "doubleoctagon",
    "corollary": "octagon",
    "figure": "tab",
    "derived": "hexagon",
    "erratum": "invhouse",
}

#: The statuses of a dependency that undermine every statement resting on it: the run
#: found it false, or did not check it (so what rests on it is unsupported in this run).
UNDERMINING = frozenset({"violated", "not checked", "crashed", "not run", "skipped"})

GRAPH_SVG = "dependency_graph.svg"
GRAPH_PNG = "dependency_graph.png"
DOT_MISSING = (
    "Graphviz's dot is not installed, so the dependency graph was not drawn "
    "(apt-get install graphviz)"
)


def assumption_node(paper: str, aid: str) -> str:
    """The node name of assumption ``aid`` of ``paper`` (assumption IDs repeat across papers)."""
    return f"{paper}:{aid}"


def dependencies(row: dict, known: set[str], assumptions: dict) -> list[tuple[str, str]]:
    """(node, kind) of each dependency of a statement row, in order, without repeats.

    ``kind`` is ``statement`` (an ID of the report), ``assumption`` (an assumption of the
    row's paper), ``negated`` (``not A2``: the statement holds when that assumption
    fails) or ``unknown``.  The row's ``assumptions`` come first, then ``uses``.
    """
    out: list[tuple[str, str]] = []
    own = assumptions.get(row.get("paper", ""), {})
    for dep in [*row.get("assumptions", []), *row.get("uses", [])]:
        if dep in known:
            item = (dep, "statement")
        elif dep in own:
            item = (assumption_node(row["paper"], dep), "assumption")
        elif dep.startswith(NEGATION) and dep.removeprefix(NEGATION) in own:
            item = (assumption_node(row["paper"], dep.removeprefix(NEGATION)), "negated")
        else:
            item = (dep, "unknown")
        if item not in out:
            out.append(item)
    return out


def undermined(rows: list[dict]) -> dict[str, list[str]]:
    """Per statement, the statements it rests on (directly or through others) whose
    status is in :data:`UNDERMINING`, in report order; statements resting on none are
    absent.  Only ``uses`` between statements propagate: an assumption has no status."""
    status = {r["id"]: r["status"] for r in rows}
    uses = {r["id"]: [u for u in r.get("uses", []) if u in status] for r in rows}
    order = {sid: i for i, sid in enumerate(status)}

    def causes(sid: str) -> set[str]:
        seen: set[str] = set()
        stack = list(uses[sid])
        found: set[str] = set()
        while stack:
            dep = stack.pop()
            if dep in seen:
                continue
            seen.add(dep)
            if status[dep] in UNDERMINING:
                found.add(dep)
            stack.extend(uses[dep])
        return found

    out = {}
    for sid in status:
        found = causes(sid)
        if found:
            out[sid] = sorted(found, key=order.__getitem__)
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**attrs: str | int) -> str:
    return "[" + ", ".join(f"{k}={_quote(str(v))}" for k, v in attrs.items()) + "]"


def _short_title(title: str, width: int = 26) -> str:
    """The title after its ``Lemma 4:`` prefix, cut to ``width`` characters."""
    text = title.split(":", 1)[-1].strip()
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def status_of(row: dict) -> str:
    """The status a node shows: ``certified`` for a held statement whose every certified
    example was proved in ball arithmetic (none refuted or undecided); else the row's own
    status (one without a colour shows as not checked)."""
    cert = row.get("certified") or {}
    if (
        row["status"] == "held"
        and cert.get("examples", 0) > 0
        and (cert.get("proved", 0) == cert["examples"])
    ):
        return "certified"
    return row["status"] if row["status"] in STATUS_COLOURS else "not checked"


def statement_tooltip(row: dict, causes: list[str], status: dict[str, str]) -> str:
    """The hover text of a statement node: title, status, and what undermines it."""
    text = f"{row['id']}: {row['title']} [{row['status']}]"
    if causes:
        text += "; undermined: rests on " + ", ".join(f"{c} ({status[c]})" for c in causes)
    return text


def _statement_node(row: dict, causes: list[str], status: dict[str, str]) -> str:
    fill = STATUS_COLOURS[status_of(row)][0]
    style = "filled,dashed" if causes else "filled"
    extra = {"penwidth": 2.5, "color": "#b00020"} if causes else {}
    label = f"{row['id']}\n{_short_title(row['title'])}"
    return f"    {_quote(row['id'])} " + _attrs(
        label=label,
        shape=SHAPES.get(row.get("kind", ""), "box"),
        style=style,
        fillcolor=fill,
        URL=f"#{row['id']}",
        target="_top",
        tooltip=statement_tooltip(row, causes, status),
        id=f"node-{row['id']}",
        **extra,
    )


def _assumption_node(paper: str, aid: str, a: dict) -> str:
    name = assumption_node(paper, aid)
    title = a.get("title") or aid
    return f"    {_quote(name)} " + _attrs(
        label=f"{aid}\n{_short_title(title)}" if title != aid else aid,
        shape=SHAPES["assumption"],
        style="filled",
        fillcolor=ASSUMPTION_COLOUR,
        URL=f"#assumption-{paper}-{aid}",
        target="_top",
        tooltip=f"{aid}: {title}" + (f" ({a['words']})" if a.get("words") else ""),
        id=f"node-{paper}-{aid}",
    )


#: Statements with no dependency and no dependent are stacked in columns of this many
#: (invisible edges), so that they do not stretch the graph's first rank into one long row.
ISOLATED_COLUMN = 4


def isolated(rows: list[dict], known: set[str], assumptions: dict) -> list[str]:
    """The statements that rest on nothing and that nothing rests on, in report order."""
    linked: set[str] = set()
    for row in rows:
        deps = dependencies(row, known, assumptions)
        if deps:
            linked.add(row["id"])
        linked.update(d for d, kind in deps if kind == "statement")
    return [r["id"] for r in rows if r["id"] not in linked]


def _columns(ids: list[str]) -> list[str]:
    return [
        f'    {_quote(a)} -> {_quote(b)} [style="invis"]'
        for i, (a, b) in enumerate(itertools.pairwise(ids))
        if (i + 1) % ISOLATED_COLUMN
    ]


def _paper_ids(rows: list[dict], assumptions: dict) -> list[str]:
    papers: list[str] = [p for p in assumptions]
    for r in rows:
        if r.get("paper", "") not in papers:
            papers.append(r.get("paper", ""))
    return papers


def dot_source(report: dict) -> str:
    """The Graphviz source of the report's dependency graph (see the module docstring)."""
    rows: list[dict] = report["statements"]
    assumptions: dict = report.get("assumptions") or {}
    papers: dict = report.get("papers") or {}
    known = {r["id"] for r in rows}
    status = {r["id"]: r["status"] for r in rows}
    under = undermined(rows)
    lines = [
        "digraph dependencies {",
        '    graph [rankdir="TB", ranksep="0.45", nodesep="0.25", fontname="Helvetica", '
        'tooltip="proof dependencies"];',
        '    node [fontname="Helvetica", fontsize="10", margin="0.06,0.03"];',
        '    edge [color="#555555", arrowsize="0.6"];',
    ]
    unknown: list[str] = []
    edges: list[str] = []
    for i, paper in enumerate(_paper_ids(rows, assumptions)):
        title = (papers.get(paper) or {}).get("title", paper)
        lines += [f"    subgraph cluster_{i} {{", f'    label={_quote(title)}; color="#bbbbbb";']
        own = assumptions.get(paper, {})
        if own:
            lines.append("    { rank=source;")
            lines += [_assumption_node(paper, aid, a) for aid, a in own.items()]
            lines.append("    }")
        for row in rows:
            if row.get("paper", "") != paper:
                continue
            lines.append(_statement_node(row, under.get(row["id"], []), status))
            for dep, kind in dependencies(row, known, assumptions):
                if kind == "unknown" and dep not in unknown:
                    unknown.append(dep)
                style = EDGE_STYLES.get(kind, {})
                edges.append(f"    {_quote(dep)} -> {_quote(row['id'])} {_attrs(**style)}")
        lines.append("    }")
    lines += [
        f"    {_quote(u)} "
        + _attrs(shape="plaintext", fontcolor="#b00020", tooltip=f"{u}: not in the report")
        for u in unknown
    ]
    lines += edges
    lines += _columns(isolated(rows, known, assumptions))
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_program() -> str | None:
    """The path of Graphviz's ``dot``, or ``None`` when it is not installed."""
    return shutil.which("dot")


def run_dot(source: str, fmt: str, program: str) -> bytes:
    """``source`` laid out by ``dot`` in format ``fmt`` (``svg``, ``png``)."""
    done = subprocess.run(
        [program, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"dot -T{fmt} exited {done.returncode}: {done.stderr.decode()[:500]}")
    return done.stdout


def render(
    report: dict, directory: str | Path, program: str | None = None, draw: bool = True
) -> dict:
    """Draw the graph into ``directory`` and record the outcome as ``report["graph"]``.

    The entry has ``status`` (``rendered``, ``not rendered``, ``failed``), ``files``
    (paths relative to ``directory``), ``reason`` and ``undermined`` (per statement, its
    causes).  A missing ``dot`` is not an error: the reason names the fix, and a run
    problem that does not fail the run (a note in the terminal and report.md) says so.
    ``draw`` false (figures not drawn) records the undermined statements only.
    """
    program = program or dot_program()
    entry: dict = {
        "status": "not rendered",
        "files": [],
        "reason": "",
        "undermined": undermined(report["statements"]),
    }
    if not draw:
        entry["reason"] = "figures not drawn (--no-figures)"
    elif program is None:
        entry["reason"] = DOT_MISSING
    else:
        source = dot_source(report)
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        try:
            (d / GRAPH_SVG).write_bytes(run_dot(source, "svg", program))
            (d / GRAPH_PNG).write_bytes(run_dot(source, "png", program))
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
            entry["status"], entry["reason"] = "failed", f"dot failed: {exc}"
        else:
            entry["status"], entry["files"] = "rendered", [GRAPH_SVG, GRAPH_PNG]
    report["graph"] = entry
    if draw and entry["status"] != "rendered":
        report.setdefault("problems", []).append(
            {
                "kind": "graph",
                "item": "dependency_graph",
                "message": f"dependency graph not drawn: {entry['reason']}",
                "gating": False,
            }
        )
    return entry


#: The shapes of :data:`SHAPES` in words, for a legend.
SHAPE_WORDS = {
    "note": "folded note",
    "ellipse": "ellipse",
    "box": "box",
    "doubleoctagon": "double octagon",
    "octagon": "octagon",
    "tab": "tab",
    "hexagon": "hexagon",
    "invhouse": "inverted house",
}


def legend_items(statuses: Iterable[str]) -> list[tuple[str, str, str]]:
    """(status, colour, meaning) of each status among ``statuses``, in table order."""
    present = set(statuses)
    return [(s, c, m) for s, (c, m) in STATUS_COLOURS.items() if s in present]
