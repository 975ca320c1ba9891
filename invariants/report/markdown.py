"""``report.md``: the report rendered for a human, readable on GitHub.

:func:`markdown` writes the sections in order (:data:`SECTIONS`): the run's
outcome and problems, the statement table with each failure's replay, errata,
looseness of the paper's constants, measured laws, observations, figures, tests
not run, benchmarks and timings.
"""

from __future__ import annotations

from typing import Any

from ..statements import EXERCISED_FLOOR, LOOSENESS
from .statement_table import exercise_floor
from .summary import (
    certified_cell,
    exercised_cell,
    paper_title,
    problem_lines,
    rows_by_paper,
    slowest_rows,
    status_counts,
)
from .values import as_float, fmt_slack, fmt_value


def _esc(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(x: Any, digits: int = 3) -> str:
    return _esc(fmt_value(x, digits))


def _slack(x: Any) -> str:
    """A slack as :func:`fmt_slack`, bold above 1."""
    text = fmt_slack(x)
    return f"**{text}**" if x is not None and not as_float(x) <= 1.0 else text


def _short(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1]


def _anchor(title: str) -> str:
    keep = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return "#" + keep.replace(" ", "-")


def _status_text(row: dict) -> str:
    st = row["status"]
    n = row["examples"]
    ntests = len(row["tests"])
    if st == "held" and row.get("recorded"):
        text = f"held on {row['exercised']} examples that could fail it (of {n})"
    elif st == "held":
        text = f"held on {n} examples" if n else f"held ({ntests} test{'s' * (ntests != 1)})"
    elif st == "vacuous":
        text = (
            f"**vacuous**: exercised on {row['exercised']} of {row['recorded']} examples, "
            f"below the floor of {exercise_floor(row):g}; on the others it could not fail"
        )
    elif st == "reachable only":
        reach = row["reach"] or {}
        far = ", ".join(
            f"{k} {_fmt(v.get('median'))}" for k, v in (reach.get("values") or {}).items()
        )
        held_on = (
            f"{row['exercised']} examples that could fail it (of {n})"
            if row.get("recorded")
            else f"{n} examples"
        )
        text = f"reachable only: held on {held_on} as far as followed" + (
            f" ({far}, medians)" if far else ""
        )
    elif st == "violated":
        text = f"**violated**: [witness]({_anchor('Failures')})"
        if not row["failures"]:
            detail = f"; {_esc(row['worst_detail'])}" if row["worst_detail"] else ""
            text = (
                f"**violated**: worst slack {_slack(row['worst_slack'])} > 1 in "
                f"`{_esc(_short(row['worst_test'] or ''))}`{detail}"
            )
    elif st == "erratum":
        text = f"erratum: printed form fails, see [errata]({_anchor('2. Errata')})"
    elif st == "not checked":
        text = "**not checked**"
    elif st in ("crashed", "not run"):
        text = f"**{st}**: see [tests not run]({_anchor('Tests not run or crashed')})"
    else:
        text = st
    if row["errata"] and st != "erratum":
        text += "; erratum in print"
    return text


def _certified_text(row: dict) -> str:
    """The certified cell: ``k of n (m pts)``, the worst certified margin, and the witness
    of the first refuted or undecided example."""
    c = row.get("certified")
    cell = certified_cell(row)
    if cell == "-":
        return cell
    if c.get("worst_margin") is not None:
        cell += f", worst margin {float(c['worst_margin']):.3g}"
    if c.get("refuted"):
        cell += f"; **refuted** on {c['refuted']} ({_esc(c['witness'])})"
    elif c.get("undecided"):
        cell += f"; undecided on {c['undecided']} ({_esc(c['witness'])})"
    return cell


def _measures_cell(measures: dict) -> str:
    parts = [
        f"{_esc(name)} {_fmt(m.get('median'))} [{_fmt(m.get('min'))}, {_fmt(m.get('max'))}]"
        for name, m in measures.items()
    ]
    return "<br>".join(parts) or "-"


def _tests_cell(tests: list[str], limit: int = 3) -> str:
    names = [f"`{_esc(_short(t))}`" for t in tests[:limit]]
    if len(tests) > limit:
        names.append(f"+{len(tests) - limit} more")
    return "<br>".join(names) or "-"


def assumptions_text(assumptions: list[str] | str) -> str:
    """A row's assumptions as the table prints them: ``A1, A2``, or ``-`` for none (a
    report written before the catalogue held them as that text already)."""
    if isinstance(assumptions, str):
        return assumptions
    return ", ".join(assumptions) or "-"


def _controls_cell(c: dict) -> str:
    if not c["total"]:
        return "-"
    if c["all_failed_as_required"]:
        return f"{c['total']}, all fail as required"
    return f"**{c['total'] - c['failed_as_required']} of {c['total']} did not fail**"


def _values_block(values: dict) -> list[str]:
    lines = ["| quantity | value |", "|---|---|"]
    for k, v in sorted(values.items()):
        if isinstance(v, list):
            shown = ", ".join(repr(x) for x in v[:12]) + (" ..." if len(v) > 12 else "")
            lines.append(f"| {_esc(k)} | [{_esc(shown)}] |")
        else:
            lines.append(f"| {_esc(k)} | `{_esc(repr(v))}` |")
    return lines


def _catalogue_sections(report: dict) -> list[str]:
    """The planted-bug catalogue and the violated assumptions, from their observations.

    ``bug: <name>`` observations (``properties/ji_telgarsky_2019/controls/test_bug_catalogue.py``)
    carry
    ``caught_by`` and one ``probe: <name>`` key per probe that caught the bug;
    ``assumption: Ak`` observations (``properties/ji_telgarsky_2019/test_assumptions.py``) carry
    the numbers of the shrunk counterexample and name the broken statement.
    """
    obs = report["observations"]
    bugs = sorted(k for k in obs if k.startswith("bug: "))
    assumptions = sorted(k for k in obs if k.startswith("assumption: "))
    out = ["### Planted bugs and what caught them", ""]
    if bugs:
        out += ["| bug | caught by | probes that caught it |", "|---|---|---|"]
        for k in bugs:
            vals = obs[k]["values"]
            n = vals.get("caught_by", {}).get("median")
            probes = ", ".join(v.removeprefix("probe: ") for v in vals if v.startswith("probe: "))
            out.append(f"| {_esc(k.removeprefix('bug: '))} | {_fmt(n)} | {_esc(probes) or '-'} |")
    else:
        out.append("(no planted-bug records in this run)")
    out += ["", "### Violated assumptions: shrunk counterexamples", ""]
    if assumptions:
        out += ["| assumption | statement that breaks | counterexample |", "|---|---|---|"]
        for k in assumptions:
            vals = obs[k]["values"]
            ce = ", ".join(f"{_esc(v)} = {_fmt(s['median'])}" for v, s in vals.items())
            out.append(f"| {k.removeprefix('assumption: ')} | {obs[k]['statement']} | {ce} |")
    else:
        out.append("(no assumption records in this run)")
    return out


def _head(report: dict) -> list[str]:
    """Outcome, profile, selection, tests, database; the contents line."""
    out: list[str] = []
    run = report["run"]
    sel = run["selection"]
    gating = [p for p in report["problems"] if p["gating"]]
    outcome = "**passed**" if report["ok"] else f"**FAILED** ({len(gating)} run problems)"
    counts = ", ".join(f"{v} {k}" for k, v in run["outcomes"].items()) or "none"
    out += [
        f"- Outcome: {outcome}"
        + (" (partial report: the run has not finished)" if run["partial"] else ""),
        f"- Profile: `{run['profile']}`",
        "- Selection: "
        + ("the whole suite" if sel["complete"] else f"a subset ({_esc(sel['reason'])})")
        + f", {run['collected']} tests collected",
        f"- Tests: {counts}",
    ]
    if run.get("database"):
        out.append(f"- Example database: {_esc(run['database'])}")
    out += [
        "",
        "Contents: [statements](#1-statements) · [errata](#2-errata) · "
        "[looseness](#3-looseness-of-the-papers-constants) · [laws](#4-measured-laws) · "
        "[observations](#5-observations) · [figures](#6-figures)",
        "",
    ]
    return out


def _problems(report: dict) -> list[str]:
    """The run problems: those that fail the run, then those only listed."""
    out: list[str] = []
    gating = [p for p in report["problems"] if p["gating"]]
    if report["problems"]:
        out += ["## Run problems", ""]
        if gating:
            out += ["Each of these fails the run:", ""]
            out += [f"- {_esc(line)}" for line in problem_lines(gating)]
            out.append("")
        info = [p for p in report["problems"] if not p["gating"]]
        if info:
            out += ["Listed, not failing the run:", ""]
            out += [f"- {_esc(line)}" for line in problem_lines(info)]
            out.append("")
    return out


def _statements(report: dict) -> list[str]:
    """Section 1: the statement table (one per paper, with its status counts, when the
    report holds several), then each failure with its replay."""
    out: list[str] = [
        "## 1. Statements",
        "",
        "Every ID of the statement catalogue, in the paper's order. *Exercised* counts the "
        "examples that could have failed the statement (its bound was not vacuous, the "
        "regime was reached, the run moved beyond rounding) out of those that recorded a "
        f"check; a statement is *held* only when they number at least {EXERCISED_FLOOR:g} "
        "times the examples of its largest test (half a property's worth). "
        "*Worst slack* is always the largest observed / allowed of an inequality over every "
        "example (<= 1: held; near 1: tight; near 0: loose; '-': no inequality with a finite "
        "allowance was asserted). *Measures* are a trend or limit statement's own "
        "quantities (reach, decay ratio, growth), as median [min, max] over the examples: "
        "never a slack. *Controls* are the negative controls: each plants a bug and passes "
        "only if the property then fails. *Certified* counts the examples whose statement "
        "was proved in ball arithmetic at every sampled point (k of n examples that carried "
        "a certificate, m points decided; undecided never counts as certified), with the "
        "worst certified margin, the smallest exact rhs - lhs proved (for an identity, minus "
        "the largest radius within which every exact residual was shown to lie around 0; "
        "docs/certified.md says what a certificate proves and what it does not).",
        "",
    ]
    groups = rows_by_paper(report)
    for key, rows in groups.items():
        if len(groups) > 1:  # one table per paper; a one-paper report keeps its one table
            out += [f"### {_esc(paper_title(report, key))}", "", status_counts(rows) + ".", ""]
        out += [
            "| ID | statement | status | exercised | worst slack | certified | measures | tests "
            "| controls | assumptions |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            out.append(
                f"| {row['id']} | {_esc(row['title'])} | {_status_text(row)} | "
                f"{exercised_cell(row)} | {_slack(row['worst_slack'])} | "
                f"{_certified_text(row)} | "
                f"{_measures_cell(row.get('measures') or {})} | {_tests_cell(row['tests'])} | "
                f"{_controls_cell(row['controls'])} | "
                f"{_esc(assumptions_text(row['assumptions']))} |"
            )
        out.append("")
    failing = [t for t in report["tests"] if t["outcome"] in ("failed", "error")]
    if failing:
        out += ["### Failures", ""]
        for t in failing:
            f = t["failure"] or {}
            out += [f"#### `{t['nodeid']}` ({t['outcome']})", ""]
            if t["statements"]:
                out.append(
                    "Statements: "
                    + ", ".join(t["statements"])
                    + ("  (negative control)" if t["meta"] else "")
                )
                out.append("")
            if f.get("location"):
                out += [f"At `{f['location']}`.", ""]
            if f.get("falsifying_example"):
                out += ["Failing example:", "", "```", f["falsifying_example"], "```", ""]
            if f.get("reproduce_failure"):
                out += [
                    "Replay it by decorating the test with:",
                    "",
                    "```python",
                    f["reproduce_failure"],
                    "```",
                    "",
                ]
            if f.get("seed") is not None:
                out += [f"Seed: `--hypothesis-seed={f['seed']}`", ""]
            if f.get("message"):
                out += ["```", f["message"], "```", ""]
    return out


def _graph(report: dict) -> list[str]:
    """The dependency graph (``dependency_graph.png``), or why it was not drawn, and the
    undermined statements; the interactive page is ``index.html``."""
    entry = report.get("graph")
    if entry is None:
        return []
    out = ["### Dependency graph", ""]
    if entry["status"] == "rendered":
        png = next(f for f in entry["files"] if f.endswith(".png"))
        svg = next((f for f in entry["files"] if f.endswith(".svg")), None)
        out += [
            f"![dependency graph]({png})",
            "",
            "Proof dependencies, from what a statement rests on to the statement; fill: this "
            "run's status; dashed red border: undermined"
            + (f" ([SVG]({svg}); clickable in [index.html](index.html))" if svg else "")
            + ".",
            "",
        ]
    else:
        out += [f"Note: not drawn: {_esc(entry['reason'])}.", ""]
    under = entry.get("undermined") or {}
    if under:
        out += ["Undermined (resting on a statement violated or not checked in this run):", ""]
        out += [f"- {sid}: rests on {', '.join(causes)}" for sid, causes in under.items()]
        out.append("")
    return out


def _errata(report: dict) -> list[str]:
    """Section 2: printed against derived forms, with the minimal witness."""
    out: list[str] = ["## 2. Errata", ""]
    if not report["errata"]:
        out += ["No erratum recorded.", ""]
    for e in report["errata"]:
        out += [
            f"### {e['statement']} (recorded by `{_short(e['test'])}`)",
            "",
            f"- printed: `{_esc(e.get('printed', ''))}`",
            f"- derived: `{_esc(e.get('derived', ''))}`",
            "",
            "Minimal witness:",
            "",
            *_values_block(e.get("witness") or {}),
            "",
        ]
    return out


def _questions(report: dict) -> list[str]:
    """What the papers' texts leave undetermined (``[[question]]``), after the errata:
    open, replaced by a derived form, or resolved here; nothing when no paper has any."""
    rows = [q for qs in (report.get("questions") or {}).values() for q in qs]
    if not rows:
        return []
    out = [
        "### Questions the papers' texts leave open",
        "",
        "| statement | status | question | how the suite handles it |",
        "|---|---|---|---|",
    ]
    out += [
        f"| {q['statement']} | {q['status']} | {_esc(q['text'])} | {_esc(q['resolution'])} |"
        for q in rows
    ]
    return [*out, ""]


def _looseness_words(report: dict) -> str:
    """``, or <words>`` for each constant measured by an observation rather than a slack
    (its catalogue's ``words``; a report written before entries carried them: looked up in
    the catalogue)."""
    out: list[str] = []
    for e in report["looseness"]:
        if e["source"][0] == "slack":
            continue
        words = e.get("words")
        if words is None:
            words = next(
                (
                    d.words
                    for d in LOOSENESS
                    if d.statement == e["statement"] and list(d.source) == e["source"]
                ),
                "",
            )
        if words and words not in out:
            out.append(words)
    return "".join(f", or {w}" for w in out)


def _looseness(report: dict) -> list[str]:
    """Section 3: the paper's constants against the worst cases found."""
    out: list[str] = [
        "## 3. Looseness of the paper's constants",
        "",
        "The paper's constants against the worst case the suite found. *Looseness* is how "
        "many times larger the constant is than needed on that worst case (1 = tight): "
        f"1 / worst slack{_looseness_words(report)}.",
        "",
        "| statement | paper's constant | worst case found | looseness | examples | measure |",
        "|---|---|---|---|---|---|",
    ]
    for e in report["looseness"]:
        out.append(
            f"| {e['statement']} | {_esc(e['constant'])} | {_fmt(e['worst'])} | "
            f"{_fmt(e['looseness'])} | {e['examples']} | {_esc(e['measure'])} |"
        )
    return out


def _laws(report: dict) -> list[str]:
    """Section 4: measured laws (per depth), then planted bugs and assumptions."""
    out: list[str] = [
        "",
        "## 4. Measured laws",
        "",
        "| law | statement | value | examples | median | min | max | expected |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for law in report["laws"]:
        a = law["all"]
        cells = [_fmt(a[k], 4) for k in ("median", "min", "max")] if a else ["-", "-", "-"]
        out.append(
            f"| {law['observation']} | {law['statement']} | {law['value']} | "
            f"{a['n'] if a else 'not recorded'} | "
            + " | ".join(cells)
            + f" | {_fmt(law['expected'])} |"
        )
        for depth, s in (law["by_depth"] or {}).items():
            out.append(
                f"| ↳ depth {depth} | | {law['value']} | {s['n']} | {_fmt(s['median'], 4)} | "
                f"{_fmt(s['min'], 4)} | {_fmt(s['max'], 4)} | {_fmt(law['expected'])} |"
            )
    out.append("")
    notes = {law["observation"]: law["note"] for law in report["laws"] if law["note"]}
    out += [f"- {name}: {note}" for name, note in notes.items()]
    out += _bridges(report)
    out += ["", *_catalogue_sections(report)]
    return out


def _bridges(report: dict) -> list[str]:
    """Where the papers meet: each declared bridge's statements side by side, with its
    observation's values; nothing when no catalogue declares one."""
    out: list[str] = []
    for b in report.get("bridges") or []:
        out += [
            "",
            f"### Where the papers meet: {_esc(b['title'])}",
            "",
            f"Statements: {', '.join(b['statements'])}. {_esc(b['note'])}",
            "",
            "| value | examples | median | min | max |",
            "|---|---|---|---|---|",
        ]
        for v in b["values"]:
            a = v["all"]
            cells = [_fmt(a[k], 4) for k in ("median", "min", "max")] if a else ["-"] * 3
            out.append(
                f"| {v['value']} | {a['n'] if a else 'not recorded'} | " + " | ".join(cells) + " |"
            )
    return out


def _observations(report: dict) -> list[str]:
    """Section 5: every observation, per value: median, min, max."""
    out: list[str] = [
        "",
        "## 5. Observations",
        "",
        "Every observation the suite recorded (`record_observation`), per value: median, "
        "min and max over the examples. A name ending in `_reach` declares how far a "
        "statement was followed (its status is then *reachable only*).",
        "",
        "| name | statement | examples | value | median | min | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, agg in report["observations"].items():
        first = True
        for key, s in agg["values"].items():
            lead = f"{_esc(name)} | {agg['statement']} | {agg['examples']}" if first else " | | "
            nonfinite = f" ({s['n_nonfinite']} non-finite)" if s.get("n_nonfinite") else ""
            out.append(
                f"| {lead} | {_esc(key)}{nonfinite} | {_fmt(s['median'])} | "
                f"{_fmt(s['min'])} | {_fmt(s['max'])} |"
            )
            first = False
        if first:
            out.append(f"| {_esc(name)} | {agg['statement']} | {agg['examples']} | - | | | |")
    if not report["observations"]:
        out.append("| (none recorded) | | | | | | |")
    return out


def _figures(report: dict) -> list[str]:
    """Section 6: each figure with its caption, or why it was not rendered."""
    out: list[str] = ["", "## 6. Figures", ""]
    for f in report["figures"]:
        out += [f"### {f['title']}", ""]
        if f["status"] == "rendered" and f["files"]:
            png = next((x for x in f["files"] if x.endswith(".png")), f["files"][0])
            svg = next((x for x in f["files"] if x.endswith(".svg")), None)
            out += [
                f"![{_esc(f['title'])}]({png})",
                "",
                f.get("caption", "") + (f" ([SVG]({svg}))" if svg else ""),
                "",
            ]
        else:
            out += [f"Not rendered: {f['reason']}.", ""]
    return out


def _not_run(report: dict) -> list[str]:
    """The tests that did not run or crashed (nothing when every test ran)."""
    out: list[str] = []
    not_run = [t for t in report["tests"] if t["outcome"] in ("crashed", "not run", "running")]
    if not_run:
        out += ["## Tests not run or crashed", "", "| test | outcome | why |", "|---|---|---|"]
        out += [
            f"| `{_esc(t['nodeid'])}` | {t['outcome']} | {_esc(t['reason'])} |" for t in not_run
        ]
        out.append("")
    return out


def _benchmarks(report: dict) -> list[str]:
    """The benchmark metrics the report quotes."""
    out: list[str] = []
    bench = report.get("benchmarks")
    out += ["## Benchmarks", ""]
    if bench:
        stale = bench.get("stale") or {}
        out += [
            "From `benchmarks/results/` (the benchmark job's committed results). **STALE**: "
            "measured on other code than this checkout's (`make bench` renews it).",
            "",
            "| metric | value | better | file | code |",
            "|---|---|---|---|---|",
        ]
        out += [
            f"| {_esc(k)} | {_fmt(m['value'])} | {m['better']} | {m['file']} | "
            f"{'**STALE**' if m.get('stale') else 'current'} |"
            for k, m in bench["metrics"].items()
        ]
        out += [""] + [f"- **STALE** {f}: {_esc(why)}" for f, why in stale.items()]
        out += [f"- {_esc(n)}" for n in bench["notes"]] + [""]
    else:
        out += ["No benchmark results found.", ""]
    return out


def _timings(report: dict) -> list[str]:
    """The slowest tests and the time per statement (volatile; absent when merged)."""
    out: list[str] = []
    timings = report.get("timings")
    if timings:
        out += [
            "## Timings",
            "",
            f"Total test time {_fmt(timings.get('total_test_seconds'))} s; wall time "
            f"{_fmt(timings.get('wall_seconds'))} s.",
        ]
        out += _slowest_examples(report)
        out += ["", "### Time per statement", ""]
        out += ["| statement | seconds in the tests that check it |", "|---|---|"]
        out += [f"| {k} | {v:.2f} |" for k, v in timings.get("statements", {}).items() if v]
        out.append("")
    return out


def _slowest_examples(report: dict) -> list[str]:
    """The slowest tests with their Hypothesis examples and time per example."""
    rows = slowest_rows(report)
    if not rows:
        return []
    out = [
        "",
        "### Slowest tests and examples",
        "",
        "Hypothesis test cases: examples valid or failing, "
        "invalid ones rejected by `assume` or a filter; seconds per example over the "
        "examples.",
        "",
        "| test | seconds | examples | invalid | mean s/example | max s/example |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [r["examples"], r["invalid"], r["mean_seconds"], r["max_seconds"]]
        out.append(
            f"| `{_esc(r['nodeid'])}` | {r['seconds']:.2f} | "
            + " | ".join("-" if c is None else _fmt(c) for c in cells)
            + " |"
        )
    return out


SECTIONS = (
    _head,
    _problems,
    _statements,
    _graph,
    _errata,
    _questions,
    _looseness,
    _laws,
    _observations,
    _figures,
    _not_run,
    _benchmarks,
    _timings,
)


def markdown(report: dict) -> str:
    """``report.md``: the report for a human, readable on GitHub."""
    out: list[str] = ["# Property-suite report", ""]
    for section in SECTIONS:
        out += section(report)
    return "\n".join(out) + "\n"
