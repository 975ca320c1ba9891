"""``index.html``: the report as one self-contained page, made from ``report.json`` alone.

The page works offline: its style and script are inline, the dependency graph's SVG is
inline (each node links to its statement's card), the figures are ``data:`` URIs and the
mathematics is MathML written by ``latex2mathml`` (no JavaScript renders it).  Nothing on
the page is fetched: :func:`external_references` lists anything that would be, and the
meta-test asserts there is nothing.

Contents, in order: the run (outcome, profile, selection, problems); the graph with its
legend; a filter by status (checkboxes; a click on a graph node shows its card even when
the filter hides it); one card per statement (``id`` = the statement ID): its
mathematics, words, status, exercised count, worst slack and the histogram of its
per-example slacks, measures, tolerance, assumptions and proof dependencies (and whether
one undermines it), the failing examples with their ``@reproduce_failure`` lines, tests
and controls; the assumptions; the notation; the figures; errata; looseness; measured
laws.
"""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path
from typing import Any

from latex2mathml.converter import convert

from ..statements import NEGATION
from .graph import ASSUMPTION_COLOUR, STATUS_COLOURS, UNDERMINING, legend_items, status_of
from .summary import exercised_cell, paper_title, problem_lines, rows_by_paper, status_counts
from .values import as_float, fmt_slack, fmt_value

INDEX_HTML = "index.html"
HISTOGRAM_BINS = 20

STYLE = """
body { font-family: system-ui, Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1200px;
  padding: 0 1em 4em; color: #1d1d1d; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
nav a { margin-right: 1em; }
.ok { color: #1b7a33; font-weight: bold; } .failed { color: #b00020; font-weight: bold; }
#graph { overflow-x: auto; border: 1px solid #ddd; padding: 4px; background: #fff; }
#graph svg { max-width: 100%; height: auto; }
#graph.full svg { max-width: none; }
.legend span.swatch { display: inline-block; width: 1em; height: 1em; border: 1px solid #777;
  vertical-align: middle; margin-right: 0.3em; }
.legend li { display: inline-block; margin-right: 1.2em; }
#filter { position: sticky; top: 0; background: #fafafa; border: 1px solid #ddd; padding: 0.4em;
  z-index: 2; }
#filter label { margin-right: 1em; white-space: nowrap; }
.card { border: 1px solid #bbb; border-left: 10px solid #999; border-radius: 4px; margin: 1em 0;
  padding: 0.3em 1em 0.8em; background: #fff; scroll-margin-top: 4em; }
.card[hidden] { display: none; }
.card.pinned, .card:target { outline: 3px solid #1565c0; }
.card h3 { margin: 0.4em 0; } .card .kind { color: #666; font-weight: normal; font-size: 0.85em; }
.badge { display: inline-block; padding: 0 0.5em; border-radius: 3px; border: 1px solid #777;
  font-size: 0.85em; }
.undermined { color: #b00020; font-weight: bold; }
.math { overflow-x: auto; padding: 0.3em 0; font-size: 1.1em; }
.card .body { display: flex; flex-wrap: wrap; gap: 0.5em 2em; align-items: flex-start; }
.card .body dl.facts { flex: 1 1 30em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; margin: 0; }
dl.facts dt { color: #555; } dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.15em 0.5em; text-align: left; vertical-align: top; }
pre { background: #f5f5f5; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
figure img { max-width: 100%; border: 1px solid #ddd; }
code { font-size: 0.9em; }
"""

SCRIPT = """
(function () {
  "use strict";
  function cards() { return Array.prototype.slice.call(document.querySelectorAll("article.card")); }
  function applyFilter() {
    var on = {};
    document.querySelectorAll("#filter input[type=checkbox]").forEach(function (box) {
      on[box.value] = box.checked;
    });
    var shown = 0;
    cards().forEach(function (card) {
      card.classList.remove("pinned");
      card.hidden = !on[card.dataset.status];
      if (!card.hidden) { shown += 1; }
    });
    document.getElementById("shown").textContent = String(shown);
  }
  function focusCard(id) {
    var card = document.getElementById(id);
    if (!card || !card.classList.contains("card")) { return; }
    cards().forEach(function (c) { c.classList.remove("pinned"); });
    card.hidden = false;
    card.classList.add("pinned");
    card.scrollIntoView({block: "start"});
  }
  function hrefOf(link) {
    return link.getAttribute("href") || link.getAttribute("xlink:href") || "";
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a") : null;
    if (!link) { return; }
    var target = hrefOf(link);
    if (target.charAt(0) === "#") { focusCard(decodeURIComponent(target.slice(1))); }
  });
  window.addEventListener("hashchange", function () {
    focusCard(decodeURIComponent(location.hash.slice(1)));
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("#filter input[type=checkbox]").forEach(function (box) {
      box.addEventListener("change", applyFilter);
    });
    var zoom = document.getElementById("graph-zoom");
    if (zoom) {
      zoom.addEventListener("click", function () {
        document.getElementById("graph").classList.toggle("full");
      });
    }
    document.getElementById("filter-all").addEventListener("click", function () {
      document.querySelectorAll("#filter input[type=checkbox]").forEach(function (box) {
        box.checked = true;
      });
      applyFilter();
    });
    document.getElementById("filter-none").addEventListener("click", function () {
      document.querySelectorAll("#filter input[type=checkbox]").forEach(function (box) {
        box.checked = false;
      });
      applyFilter();
    });
    applyFilter();
    if (location.hash) { focusCard(decodeURIComponent(location.hash.slice(1))); }
  });
})();
"""


def esc(text: Any) -> str:
    """``text`` escaped for HTML (quotes too)."""
    return html.escape(str(text), quote=True)


def math_html(latex: str, display: str = "block") -> str:
    """``latex`` as MathML (``latex2mathml``); LaTeX that does not convert is shown as code."""
    if not latex:
        return ""
    try:
        return convert(latex, display=display)
    except Exception as exc:  # a malformed formula must not lose the page
        return f'<code title="not converted: {esc(type(exc).__name__)}">{esc(latex)}</code>'


def _short(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1]


def slack_ratios(report: dict) -> dict[str, list[float]]:
    """Per statement, every per-example slack the non-control tests recorded."""
    per: dict[str, list[float]] = {}
    for t in report["tests"]:
        if t["meta"]:
            continue
        for s in t["slacks"]:
            per.setdefault(s["statement"], []).extend(as_float(r) for r in s.get("ratios", []))
    return per


def histogram_svg(ratios: list[float], width: int = 320, height: int = 110) -> str:
    """An inline SVG histogram of log10 slack (red line: the bound, slack = 1).

    Slacks that are not positive or not finite have no logarithm: they are counted in
    the caption, not drawn.
    """
    logs = [math.log10(r) for r in ratios if math.isfinite(r) and r > 0]
    other = len(ratios) - len(logs)
    if not logs:
        return f'<p class="hist">no positive finite slack to draw ({other} examples)</p>'
    lo, hi = min(logs), max(max(logs), 0.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    counts = [0] * HISTOGRAM_BINS
    for v in logs:
        counts[min(HISTOGRAM_BINS - 1, int((v - lo) / (hi - lo) * HISTOGRAM_BINS))] += 1
    top, left, bottom = max(counts), 4, height - 18
    bar = (width - 2 * left) / HISTOGRAM_BINS
    parts = [
        f'<svg class="hist" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" role="img" aria-label="histogram of log10 slack">'
    ]
    for i, c in enumerate(counts):
        h = (bottom - 6) * c / top
        parts.append(
            f'<rect x="{left + i * bar:.1f}" y="{bottom - h:.1f}" width="{bar - 1:.1f}" '
            f'height="{h:.1f}" fill="#4c78a8"><title>{c}</title></rect>'
        )
    x1 = left + (0.0 - lo) / (hi - lo) * (width - 2 * left)
    parts += [
        f'<line x1="{x1:.1f}" x2="{x1:.1f}" y1="0" y2="{bottom}" stroke="#d62728" '
        'stroke-width="2"/>',
        f'<text x="{left}" y="{height - 4}" font-size="10">{lo:.2f}</text>',
        f'<text x="{width - left}" y="{height - 4}" font-size="10" text-anchor="end">'
        f"{hi:.2f}</text>",
        f'<text x="{width / 2:.0f}" y="{height - 4}" font-size="10" text-anchor="middle">'
        "log10(observed / allowed)</text>",
        "</svg>",
    ]
    note = f" ({other} with slack &lt;= 0 or non-finite not shown)" if other else ""
    return "".join(parts) + f'<p class="hist-note">{len(ratios)} examples{note}</p>'


def status_text(row: dict) -> str:
    """The row's status in words (plain text)."""
    st = row["status"]
    if st == "held" and row.get("recorded"):
        return f"held on {row['exercised']} examples that could fail it (of {row['examples']})"
    if st == "vacuous":
        return f"vacuous: exercised on {row['exercised']} of {row['recorded']} examples"
    if st == "reachable only":
        far = ", ".join(
            f"{k} {fmt_value(v.get('median'))}"
            for k, v in ((row.get("reach") or {}).get("values") or {}).items()
        )
        return "reachable only: held as far as followed" + (f" ({far}, medians)" if far else "")
    text = st
    if row.get("errata") and st != "erratum":
        text += "; erratum in print"
    return text


def _links(ids: list[str], known: set[str], paper: str) -> str:
    """Links to the cards of statement IDs and to the paper's assumptions (``not A2``:
    the word, then the link)."""
    out = []
    for i in ids:
        neg = NEGATION if i.startswith(NEGATION) else ""
        aid = i.removeprefix(neg)
        if i in known:
            out.append(f'<a href="#{esc(i)}">{esc(i)}</a>')
        else:
            out.append(f'{esc(neg)}<a href="#assumption-{esc(paper)}-{esc(aid)}">{esc(aid)}</a>')
    return ", ".join(out) or "-"


def _facts(pairs: list[tuple[str, str]]) -> str:
    body = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs)
    return f'<dl class="facts">{body}</dl>'


def _failures(row: dict) -> str:
    out = []
    for f in row.get("failures") or []:
        parts = [f"<summary>failing test <code>{esc(_short(f.get('test', '')))}</code></summary>"]
        if f.get("location"):
            parts.append(f"<p>at <code>{esc(f['location'])}</code></p>")
        if f.get("falsifying_example"):
            parts.append(f"<p>failing example:</p><pre>{esc(f['falsifying_example'])}</pre>")
        if f.get("reproduce_failure"):
            parts.append(
                "<p>replay it by decorating the test with:</p>"
                f'<pre class="reproduce">{esc(f["reproduce_failure"])}</pre>'
            )
        if f.get("seed") is not None:
            parts.append(f"<p>seed: <code>--hypothesis-seed={esc(f['seed'])}</code></p>")
        if f.get("message"):
            parts.append(f"<pre>{esc(f['message'])}</pre>")
        out.append(f'<details class="failure" open>{"".join(parts)}</details>')
    return "".join(out)


def _measures(row: dict) -> str:
    measures = row.get("measures") or {}
    if not measures:
        return "-"
    return "<br>".join(
        f"{esc(k)} {fmt_value(m.get('median'))} "
        f"[{fmt_value(m.get('min'))}, {fmt_value(m.get('max'))}]"
        for k, m in measures.items()
    )


def _list(items: list[str]) -> str:
    if not items:
        return "-"
    return "<ul>" + "".join(f"<li><code>{esc(i)}</code></li>" for i in items) + "</ul>"


def _controls(c: dict) -> str:
    if not c["total"]:
        return "-"
    verdict = (
        "all fail as required"
        if c.get("all_failed_as_required", c["failed_as_required"] == c["total"])
        else f'<span class="failed">{c["total"] - c["failed_as_required"]} did not fail</span>'
    )
    return f"{c['total']}, {verdict}" + _list(c["tests"])


def card(row: dict, known: set[str], used_by: list[str], causes: list[str], ratios: list) -> str:
    """One statement's card (``<article id=ID class=card data-status=STATUS>``)."""
    sid, status = row["id"], row["status"]
    colour = STATUS_COLOURS.get(status, STATUS_COLOURS["not checked"])[0]
    paper = row.get("paper", "")
    under = (
        '<p class="undermined">undermined: rests on '
        + ", ".join(f'<a href="#{esc(c)}">{esc(c)}</a>' for c in causes)
        + " (violated or not checked in this run)</p>"
        if causes
        else ""
    )
    worst = fmt_slack(row.get("worst_slack"))
    if row.get("worst_test"):
        worst += f" in <code>{esc(_short(row['worst_test']))}</code>"
    if row.get("worst_detail"):
        worst += f" ({esc(row['worst_detail'])})"
    facts = [
        (
            "status",
            f'<span class="badge" style="background:{colour}">{esc(status)}</span> '
            + esc(status_text(row)),
        ),
        ("exercised", esc(exercised_cell(row))),
        ("examples", esc(row.get("examples", 0))),
        ("worst slack", worst),
        ("measures", _measures(row)),
        ("tolerance", esc(row.get("tolerance") or "-")),
        ("certifiable", fmt_value(row.get("certifiable"))),
        ("assumptions", _links(list(row.get("assumptions") or []), known, paper)),
        ("uses", _links(list(row.get("uses") or []), known, paper)),
        ("used by", _links(used_by, known, paper)),
        ("tests", _list(row.get("tests") or [])),
        ("controls", _controls(row["controls"])),
    ]
    hist = histogram_svg(ratios) if ratios else ""
    return (
        f'<article class="card" id="{esc(sid)}" data-status="{esc(status)}" '
        f'style="border-left-color:{colour}">'
        f'<h3>{esc(sid)} <span class="kind">{esc(row.get("kind", ""))}</span> '
        f"{esc(row['title'])}</h3>"
        f'<div class="math">{math_html(row.get("math") or "")}</div>'
        f"<p>{esc(row.get('words') or '')}</p>{under}"
        f'<div class="body">{_facts(facts)}<div class="hist-box">{hist}</div></div>'
        f"{_failures(row)}"
        "</article>"
    )


def _used_by(rows: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {r["id"]: [] for r in rows}
    for r in rows:
        for u in r.get("uses") or []:
            if u in out and r["id"] not in out[u]:
                out[u].append(r["id"])
    return out


def _head(report: dict) -> str:
    run = report["run"]
    sel = run["selection"]
    gating = [p for p in report["problems"] if p["gating"]]
    info = [p for p in report["problems"] if not p["gating"]]
    outcome = (
        '<span class="ok">passed</span>'
        if report["ok"]
        else f'<span class="failed">FAILED</span> ({len(gating)} run problems)'
    )
    counts = ", ".join(f"{v} {k}" for k, v in run["outcomes"].items()) or "none"
    papers = "; ".join(
        f"{esc(p.get('title', k))} ({esc(_authors(p))}, {esc(p.get('venue', ''))})"
        for k, p in (report.get("papers") or {}).items()
    )
    out = [
        "<ul>",
        f"<li>Outcome: {outcome}" + (" (partial report)" if run["partial"] else "") + "</li>",
        f"<li>Profile: <code>{esc(run['profile'])}</code></li>",
        "<li>Selection: "
        + ("the whole suite" if sel["complete"] else f"a subset ({esc(sel['reason'])})")
        + f", {esc(run['collected'])} tests collected</li>",
        f"<li>Tests: {esc(counts)}</li>",
        (f"<li>Papers: {papers}</li>" if papers else ""),
        "</ul>",
    ]
    if gating:
        out.append("<p>Each of these fails the run:</p>" + _list(problem_lines(gating)))
    if info:
        out.append("<p>Listed, not failing the run:</p>" + _list(problem_lines(info)))
    return "".join(out)


def _authors(paper: dict) -> str:
    a = paper.get("authors", "")
    return ", ".join(a) if isinstance(a, list) else str(a)


def inline_svg(text: str) -> str:
    """An SVG file's text, ready to sit inside HTML: no XML prolog, DOCTYPE or comments."""
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.DOTALL)
    return re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL).strip()


def _graph(report: dict, directory: Path | None) -> str:
    entry = report.get("graph") or {}
    svg = None
    if entry.get("status") == "rendered" and directory is not None:
        path = directory / next(f for f in entry["files"] if f.endswith(".svg"))
        if path.is_file():
            svg = inline_svg(path.read_text())
    legend = "".join(
        f'<li><span class="swatch" style="background:{c}"></span>{esc(s)}: {esc(m)}</li>'
        for s, c, m in legend_items(status_of(r) for r in report["statements"])
    )
    legend += (
        f'<li><span class="swatch" style="background:{ASSUMPTION_COLOUR}"></span>'
        "assumption</li><li>dashed red border: undermined (rests on a statement that is "
        + ", ".join(sorted(UNDERMINING))
        + ")</li>"
    )
    body = (
        f'<div id="graph">{svg}</div>'
        if svg
        else f'<p class="note">The dependency graph was not drawn: '
        f"{esc(entry.get('reason') or 'the report folder was not written')}.</p>"
    )
    return (
        "<p>Proof dependencies: an arrow goes from what a statement rests on to the "
        "statement. Click a node to see its card. "
        '<button type="button" id="graph-zoom">fit width / full size</button></p>'
        f'{body}<ul class="legend">{legend}</ul>'
    )


def _filter(report: dict) -> str:
    counts: dict[str, int] = {}
    for r in report["statements"]:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    order = [s for s in STATUS_COLOURS if s in counts] + sorted(
        s for s in counts if s not in STATUS_COLOURS
    )
    boxes = "".join(
        f'<label><input type="checkbox" value="{esc(s)}" checked> {esc(s)} ({counts[s]})</label>'
        for s in order
    )
    return (
        f'<div id="filter">Show: {boxes}<button type="button" id="filter-all">all</button> '
        '<button type="button" id="filter-none">none</button> '
        f'(<span id="shown">{len(report["statements"])}</span> shown)</div>'
    )


def _assumptions(report: dict) -> str:
    out = []
    for paper, by_id in (report.get("assumptions") or {}).items():
        for aid, a in by_id.items():
            out.append(
                f'<article class="assumption" id="assumption-{esc(paper)}-{esc(aid)}">'
                f"<h3>{esc(aid)} {esc(a.get('title', ''))}</h3>"
                f'<div class="math">{math_html(a.get("math") or "")}</div>'
                f"<p>{esc(a.get('words') or '')}</p></article>"
            )
    return "".join(out) or "<p>No assumption in the report.</p>"


def _questions(report: dict) -> str:
    rows = [
        [
            f'<a href="#{esc(q["statement"])}">{esc(q["statement"])}</a>',
            esc(q["status"]),
            esc(q["text"]),
            esc(q["resolution"]),
        ]
        for qs in (report.get("questions") or {}).values()
        for q in qs
    ]
    header = ["statement", "status", "question", "how the suite handles it"]
    return _table(header, rows) if rows else "<p>No open question recorded.</p>"


def _bridges(report: dict) -> str:
    out = []
    for b in report.get("bridges") or []:
        rows = [
            [
                esc(v["value"]),
                *(
                    [esc(str(v["all"]["n"]))]
                    + [esc(fmt_value(v["all"][k], 4)) for k in ("median", "min", "max")]
                    if v["all"]
                    else ["not recorded", "-", "-", "-"]
                ),
            ]
            for v in b["values"]
        ]
        links = ", ".join(f'<a href="#{esc(s)}">{esc(s)}</a>' for s in b["statements"])
        out.append(
            f"<h3>{esc(b['title'])}</h3><p>Statements: {links}. {esc(b['note'])}</p>"
            + _table(["value", "examples", "median", "min", "max"], rows)
        )
    return "".join(out) or "<p>No bridge between papers declared.</p>"


def _notation(report: dict) -> str:
    rows = [
        [math_html(s.get("name", ""), "inline"), math_html(s.get("math", "")), esc(s.get("words"))]
        for symbols in (report.get("notation") or {}).values()
        for s in symbols
    ]
    return _table(["symbols", "definition", "in words"], rows) if rows else "<p>None.</p>"


def data_uri(path: Path) -> str:
    """A file as a ``data:`` URI (PNG or SVG by suffix)."""
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _figures(report: dict, directory: Path | None) -> str:
    out = []
    for f in report["figures"]:
        png = next((x for x in f.get("files", []) if x.endswith(".png")), None)
        path = directory / png if directory is not None and png else None
        if f["status"] == "rendered" and path is not None and path.is_file():
            out.append(
                f'<figure id="figure-{esc(f["name"])}"><figcaption><b>{esc(f["title"])}</b>'
                f'</figcaption><img alt="{esc(f["title"])}" src="{data_uri(path)}">'
                f"<p>{esc(f.get('caption', ''))}</p></figure>"
            )
        else:
            reason = f.get("reason") or "its file is not in the report folder"
            out.append(f"<h3>{esc(f['title'])}</h3><p>Not rendered: {esc(reason)}.</p>")
    return "".join(out)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _errata(report: dict) -> str:
    if not report["errata"]:
        return "<p>No erratum recorded.</p>"
    out = []
    for e in report["errata"]:
        witness = _table(
            ["quantity", "value"],
            [
                [esc(k), f"<code>{esc(repr(v))}</code>"]
                for k, v in sorted((e.get("witness") or {}).items())
            ],
        )
        out.append(
            f'<h3><a href="#{esc(e["statement"])}">{esc(e["statement"])}</a> (recorded by '
            f"<code>{esc(_short(e['test']))}</code>)</h3><ul>"
            f"<li>printed: <code>{esc(e.get('printed', ''))}</code></li>"
            f"<li>derived: <code>{esc(e.get('derived', ''))}</code></li></ul>"
            f"<p>Minimal witness:</p>{witness}"
        )
    return "".join(out)


def _looseness(report: dict) -> str:
    return (
        "<p>The paper's constants against the worst case the suite found: how many times "
        "larger the constant is than needed on that case (1 = tight).</p>"
        + _table(
            [
                "statement",
                "paper's constant",
                "worst case found",
                "looseness",
                "examples",
                "measure",
            ],
            [
                [
                    f'<a href="#{esc(e["statement"])}">{esc(e["statement"])}</a>',
                    esc(e["constant"]),
                    fmt_value(e["worst"]),
                    fmt_value(e["looseness"]),
                    esc(e["examples"]),
                    esc(e["measure"]),
                ]
                for e in report["looseness"]
            ],
        )
    )


def _laws(report: dict) -> str:
    rows = []
    for law in report["laws"]:
        a = law["all"] or {}
        rows.append(
            [
                esc(law["observation"]),
                f'<a href="#{esc(law["statement"])}">{esc(law["statement"])}</a>',
                esc(law["value"]),
                esc(a.get("n", "not recorded")),
                *(fmt_value(a.get(k), 4) for k in ("median", "min", "max")),
                fmt_value(law["expected"]),
            ]
        )
        for depth, s in (law["by_depth"] or {}).items():
            rows.append(
                [
                    f"↳ depth {esc(depth)}",
                    "",
                    esc(law["value"]),
                    esc(s["n"]),
                    *(fmt_value(s.get(k), 4) for k in ("median", "min", "max")),
                    fmt_value(law["expected"]),
                ]
            )
    notes = "".join(
        f"<li>{esc(law['observation'])}: {esc(law['note'])}</li>"
        for law in report["laws"]
        if law.get("note")
    )
    header = ["law", "statement", "value", "examples", "median", "min", "max", "expected"]
    return _table(header, rows) + (f"<ul>{notes}</ul>" if notes else "")


SECTIONS = (
    ("run", "The run"),
    ("dependencies", "Dependency graph"),
    ("statements", "Statements"),
    ("assumptions", "Assumptions"),
    ("notation", "Notation"),
    ("figures", "Figures"),
    ("errata", "Errata"),
    ("questions", "Open questions"),
    ("looseness", "Looseness of the paper's constants"),
    ("laws", "Measured laws"),
    ("bridges", "Where the papers meet"),
)


def page(report: dict, directory: str | Path | None = None) -> str:
    """The whole page; ``directory`` holds the graph and figure files (``None``: none)."""
    d = Path(directory) if directory is not None else None
    rows = report["statements"]
    known = {r["id"] for r in rows}
    used_by = _used_by(rows)
    causes = (report.get("graph") or {}).get("undermined") or {}
    ratios = slack_ratios(report)
    groups = rows_by_paper(report)
    cards = "".join(
        (
            f'<h3 class="paper">{esc(paper_title(report, key))}</h3>'
            f"<p>{esc(status_counts(group))}.</p>"
            if len(groups) > 1  # a heading per paper; a one-paper report has none
            else ""
        )
        + "".join(
            card(r, known, used_by[r["id"]], causes.get(r["id"], []), ratios.get(r["id"], []))
            for r in group
        )
        for key, group in groups.items()
    )
    body = {
        "run": _head(report),
        "dependencies": _graph(report, d),
        "statements": _filter(report) + cards,
        "assumptions": _assumptions(report),
        "notation": _notation(report),
        "figures": _figures(report, d),
        "errata": _errata(report),
        "questions": _questions(report),
        "looseness": _looseness(report),
        "laws": _laws(report),
        "bridges": _bridges(report),
    }
    nav = "".join(f'<a href="#section-{k}">{esc(t)}</a>' for k, t in SECTIONS)
    sections = "".join(
        f'<section id="section-{k}"><h2>{esc(t)}</h2>{body[k]}</section>' for k, t in SECTIONS
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Property-suite report</title>"
        f"<style>{STYLE}</style><script>{SCRIPT}</script></head>"
        f"<body><h1>Property-suite report</h1><nav>{nav}</nav>{sections}"
        "<footer><p>Made from report.json alone by invariants.report.html; works offline."
        "</p></footer></body></html>\n"
    )


def write(report: dict, directory: str | Path) -> Path:
    """Write ``index.html`` into ``directory`` (beside the graph and figure files)."""
    path = Path(directory) / INDEX_HTML
    path.write_text(page(report, directory), encoding="utf-8")
    return path


#: Attributes and CSS that make a browser fetch what they name.
_FETCHING = re.compile(
    r"""(?:\s(?:src|href|xlink:href|action|poster|data|srcset)=["']?\s*"""
    r"""|url\(\s*["']?|@import\s+["']?)([^"')\s>]+)""",
    re.IGNORECASE,
)


def external_references(text: str) -> list[str]:
    """Everything in ``text`` a browser would fetch from outside the page (not ``#...``
    or ``data:``).  XML namespace declarations (``xmlns=...``) are names, not fetches."""
    return [
        m.group(1) for m in _FETCHING.finditer(text) if not m.group(1).startswith(("#", "data:"))
    ]
