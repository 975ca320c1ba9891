"""The report folder: ``report.json``, ``report.md`` and ``figures/``; merge; checks.

Command line (``python -m invariants.report ...``):

- ``render REPORT.json [-o DIR]``: write ``report.md`` and the figures of a
  report (default: beside it).
- ``merge A.json B.json ... -o DIR [--baseline FILE]``: merge reports of one
  profile (several machines, ``--tx`` workers, shards, ``-k`` subsets,
  a partial report and a rerun) into one report folder.  Exit 1 when the
  merged run has problems (or regresses against ``--baseline``).
- ``check-determinism [PATHS...] [--profile P] [--workers N]``: run pytest on
  PATHS under xdist and serially and compare the two ``report.json`` files
  without their timing fields.

Files are plain JSON, read with a schema and version check
(:func:`load`); nothing is unpickled.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .reporting import (
    ReportFormatError,
    as_float,
    build_report,
    fmt_slack,
    format_table,
    problem_lines,
    strip_volatile,
)

REPORT_JSON = "report.json"
PARTIAL_JSON = "report.partial.json"
REPORT_MD = "report.md"

KNOWN = {
    "invariants.report": 1,
    "invariants.baseline": 1,
}
FOREIGN_HINTS = {
    "invariants.summary": (
        "it is a run summary written before report.json existed; rerun pytest with "
        "--invariants-report DIR to get a report.json"
    ),
    "invariants.bench.flow": "it is a benchmark result (benchmarks/results/), not a report",
    "invariants.bench.gd": "it is a benchmark result (benchmarks/results/), not a report",
}

# Minimal structure each kind must have: key -> type, nested dicts, [item spec] for lists.
_TEST_SPEC = {
    "nodeid": str,
    "outcome": str,
    "statements": [str],
    "meta": bool,
    "slacks": [{"statement": str, "examples": int}],
    "observations": [{"name": str, "statement": str, "values": dict}],
    "errata": [dict],
}
SPECS: dict[str, dict] = {
    "invariants.report": {
        "schema": str,
        "run": {"profile": str, "partial": bool, "selection": {"complete": bool, "reason": str}},
        "statements": [{"id": str, "status": str}],
        "tests": [_TEST_SPEC],
        "figures": [{"name": str, "status": str}],
        "problems": [{"kind": str, "message": str, "gating": bool}],
    },
    "invariants.baseline": {
        "schema": str,
        "profile": str,
        "statements": dict,
        "tests": dict,
        "observations": dict,
        "figures": dict,
        "benchmarks": dict,
        "noise": dict,
    },
}


def _type_name(t: Any) -> str:
    return {
        str: "a string",
        int: "an integer",
        bool: "true/false",
        dict: "an object",
        list: "a list",
        float: "a number",
    }.get(t, str(t))


def _check(obj: Any, spec: Any, where: str, errors: list[str]) -> None:
    if len(errors) >= 5:
        return
    if isinstance(spec, dict):
        if not isinstance(obj, dict):
            errors.append(f"{where or 'top level'}: expected an object, got {type(obj).__name__}")
            return
        for key, sub in spec.items():
            if key not in obj:
                errors.append(f"{where + '.' if where else ''}{key}: missing")
            else:
                _check(obj[key], sub, f"{where + '.' if where else ''}{key}", errors)
    elif isinstance(spec, list):
        if not isinstance(obj, list):
            errors.append(f"{where}: expected a list, got {type(obj).__name__}")
            return
        for i, item in enumerate(obj):
            _check(item, spec[0], f"{where}[{i}]", errors)
    elif spec is int:
        if isinstance(obj, bool) or not isinstance(obj, int):
            errors.append(f"{where}: expected an integer, got {obj!r:.60}")
    elif not isinstance(obj, spec):
        errors.append(f"{where}: expected {_type_name(spec)}, got {type(obj).__name__}")


def load(path: str | Path, kinds: tuple[str, ...] = ("invariants.report",)) -> dict:
    """Read and validate a report or baseline file.

    Raises :class:`ReportFormatError` naming the file and what is wrong (not
    JSON, not an object, foreign or missing schema, a newer or older version,
    missing or mistyped fields) and what to do.
    """
    p = Path(path)
    want = "an " + " or ".join(f"{k}/{KNOWN[k]}" for k in kinds)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ReportFormatError(f"{p}: no such file (expected {want} file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportFormatError(f"{p}: cannot be read as text ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportFormatError(
            f"{p}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"expected {want} file - was it truncated by a killed run? Regenerate it."
        ) from None
    if not isinstance(data, dict):
        raise ReportFormatError(
            f"{p}: the top level is a JSON {type(data).__name__}, not an object: not {want} file"
        )
    schema = data.get("schema")
    if not isinstance(schema, str) or "/" not in schema:
        raise ReportFormatError(
            f"{p}: no 'schema' field of the form 'name/version' (found {schema!r}): this is "
            f"not {want} file (foreign JSON?)"
        )
    family, _, version = schema.rpartition("/")
    if family not in kinds:
        hint = FOREIGN_HINTS.get(family)
        if family in KNOWN:
            hint = f"it is an {family} file, where {want} file is needed"
        raise ReportFormatError(
            f"{p}: schema {schema!r} is not {want}" + (f": {hint}" if hint else " (foreign JSON)")
        )
    if not version.isdigit() or int(version) != KNOWN[family]:
        newer = version.isdigit() and int(version) > KNOWN[family]
        raise ReportFormatError(
            f"{p}: {family} version {version!r}, this code reads version {KNOWN[family]}: "
            + (
                "written by a newer checkout - update this one"
                if newer
                else "regenerate the file with this checkout"
            )
            + (" (for the baseline: make baseline)" if family == "invariants.baseline" else "")
        )
    errors: list[str] = []
    _check(data, SPECS[family], "", errors)
    if errors:
        raise ReportFormatError(
            f"{p}: not a well-formed {schema} file: "
            + "; ".join(errors)
            + ". Regenerate it (it may be truncated or hand-edited)."
        )
    return data


def write_json(path: str | Path, data: dict) -> Path:
    """Write JSON atomically (sorted keys, no NaN), so a killed run never leaves half a file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n"
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, p)
    return p


def clear_folder(directory: str | Path) -> None:
    """Remove a previous run's report files (only the files this module writes)."""
    d = Path(directory)
    for name in (REPORT_JSON, PARTIAL_JSON, REPORT_MD, "comparison.md"):
        (d / name).unlink(missing_ok=True)
    figs = d / "figures"
    if figs.is_dir():
        for f in figs.iterdir():
            if f.suffix in (".png", ".svg"):
                f.unlink()


def write_folder(report: dict, directory: str | Path, render: bool = True) -> Path:
    """Figures (when ``render``), ``report.json`` and ``report.md``; drop any partial report."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if render:
        from . import figures

        figures.render(report, d)
    else:
        for f in report["figures"]:
            if f["status"] == "rendered":
                f["status"], f["reason"] = "not rendered", "figures not drawn (--no-figures)"
    write_json(d / REPORT_JSON, report)
    (d / REPORT_MD).write_text(markdown(report))
    (d / PARTIAL_JSON).unlink(missing_ok=True)
    return d / REPORT_JSON


# --- markdown ----------------------------------------------------------------


def _esc(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    try:
        v = as_float(x)
    except (TypeError, ValueError):
        return _esc(x)
    return f"{v:.{digits}g}"


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
    if st == "held":
        text = f"held on {n} examples" if n else f"held ({ntests} test{'s' * (ntests != 1)})"
    elif st == "reachable only":
        reach = row["reach"] or {}
        far = ", ".join(
            f"{k} {_fmt(v.get('median'))}" for k, v in (reach.get("values") or {}).items()
        )
        text = f"reachable only: held on {n} examples as far as followed" + (
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


def _tests_cell(tests: list[str], limit: int = 3) -> str:
    names = [f"`{_esc(_short(t))}`" for t in tests[:limit]]
    if len(tests) > limit:
        names.append(f"+{len(tests) - limit} more")
    return "<br>".join(names) or "-"


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

    ``bug: <name>`` observations (``properties/test_bug_catalogue.py``) carry
    ``caught_by`` and one ``probe: <name>`` key per probe that caught the bug;
    ``assumption: Ak`` observations (``properties/test_assumptions.py``) carry
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


def markdown(report: dict) -> str:
    """``report.md``: the report for a human, readable on GitHub."""
    run = report["run"]
    sel = run["selection"]
    out: list[str] = ["# Property-suite report", ""]
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
    out += [
        "## 1. Statements",
        "",
        "Every ID of STATEMENTS.md, in the paper's order. *Worst slack* is the largest "
        "observed / allowed over every example (<= 1: held). *Controls* are the negative "
        "controls: each plants a bug and passes only if the property then fails.",
        "",
        "| ID | statement | status | worst slack | tests | controls | assumptions |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["statements"]:
        out.append(
            f"| {row['id']} | {_esc(row['title'])} | {_status_text(row)} | "
            f"{_slack(row['worst_slack'])} | {_tests_cell(row['tests'])} | "
            f"{_controls_cell(row['controls'])} | {_esc(row['assumptions'])} |"
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
    out += ["## 2. Errata", ""]
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
    out += [
        "## 3. Looseness of the paper's constants",
        "",
        "The paper's constants against the worst case the suite found. *Looseness* is how "
        "many times larger the constant is than needed on that worst case (1 = tight): "
        "1 / worst slack, or for Lemma 4 the smallest K / K_emp.",
        "",
        "| statement | paper's constant | worst case found | looseness | examples | measure |",
        "|---|---|---|---|---|---|",
    ]
    for e in report["looseness"]:
        out.append(
            f"| {e['statement']} | {_esc(e['constant'])} | {_fmt(e['worst'])} | "
            f"{_fmt(e['looseness'])} | {e['examples']} | {_esc(e['measure'])} |"
        )
    out += [
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
    out += ["", *_catalogue_sections(report)]
    out += [
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
    out += ["", "## 6. Figures", ""]
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
    not_run = [t for t in report["tests"] if t["outcome"] in ("crashed", "not run", "running")]
    if not_run:
        out += ["## Tests not run or crashed", "", "| test | outcome | why |", "|---|---|---|"]
        out += [
            f"| `{_esc(t['nodeid'])}` | {t['outcome']} | {_esc(t['reason'])} |" for t in not_run
        ]
        out.append("")
    bench = report.get("benchmarks")
    out += ["## Benchmarks", ""]
    if bench:
        out += [
            "From `benchmarks/results/` (the benchmark job's committed results).",
            "",
            "| metric | value | better | file |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {_esc(k)} | {_fmt(m['value'])} | {m['better']} | {m['file']} |"
            for k, m in bench["metrics"].items()
        ]
        out += [""] + [f"- {_esc(n)}" for n in bench["notes"]] + [""]
    else:
        out += ["No benchmark results found.", ""]
    timings = report.get("timings")
    if timings:
        out += [
            "## Timings",
            "",
            f"Total test time {_fmt(timings.get('total_test_seconds'))} s; wall time "
            f"{_fmt(timings.get('wall_seconds'))} s.",
            "",
            "| slowest tests | seconds |",
            "|---|---|",
        ]
        slow = sorted(timings.get("tests", {}).items(), key=lambda kv: -kv[1])[:10]
        out += [f"| `{_esc(k)}` | {v:.2f} |" for k, v in slow]
        out += ["", "| statement | seconds in the tests that check it |", "|---|---|"]
        out += [f"| {k} | {v:.2f} |" for k, v in timings.get("statements", {}).items() if v]
        out.append("")
    return "\n".join(out) + "\n"


# --- timings -----------------------------------------------------------------


def timings_of(report: dict, durations: dict[str, float], wall: float | None) -> dict:
    """The volatile ``timings`` block: per test, per statement, totals."""
    per_statement: dict[str, float] = {}
    for t in report["tests"]:
        d = durations.get(t["nodeid"], 0.0)
        for sid in t["statements"]:
            per_statement[sid] = per_statement.get(sid, 0.0) + d
    return {
        "tests": {k: round(v, 3) for k, v in sorted(durations.items())},
        "statements": {
            row["id"]: round(per_statement.get(row["id"], 0.0), 3) for row in report["statements"]
        },
        "total_test_seconds": round(sum(durations.values()), 3),
        "wall_seconds": None if wall is None else round(wall, 3),
    }


# --- merge -------------------------------------------------------------------


def merge(paths: list[str | Path]) -> dict:
    """One report from several reports (or partial reports) of one profile.

    A test seen in several sources keeps its real outcome over ``not run`` or
    ``running``; identical records are kept once (the same deterministic run
    on two machines); differing records are all kept (random profiles), so
    their examples add up.  The merged run covers the whole suite when one
    source does, or when the sources are the shards 1..N of
    ``--invariants-shard I/N``.
    """
    if not paths:
        raise ReportFormatError("merge: no report files given")
    reports = [(Path(p), load(p)) for p in paths]
    profiles = {r["run"]["profile"] for _, r in reports}
    if len(profiles) > 1:
        which = ", ".join(f"{p} ({r['run']['profile']})" for p, r in reports)
        raise ReportFormatError(
            f"merge: the reports have different profiles ({which}); merge runs of one profile"
        )
    by_id: dict[str, list[dict]] = {}
    durations: dict[str, float] = {}
    for _, r in reports:
        tdur = (r.get("timings") or {}).get("tests", {})
        for t in r["tests"]:
            group = by_id.setdefault(t["nodeid"], [])
            if t not in group:
                group.append(t)
            durations[t["nodeid"]] = durations.get(t["nodeid"], 0.0) + float(
                tdur.get(t["nodeid"], 0.0)
            )
    tests = []
    for group in by_id.values():
        real = [t for t in group if t["outcome"] not in ("not run", "running")]
        tests.extend(real or group[:1])
    sels = [r["run"]["selection"] for _, r in reports]
    complete = any(s["complete"] for s in sels)
    reason = ""
    if not complete:
        shards = [s.get("shard") for s in sels]
        counts = {s[1] for s in shards if s}
        others = [
            s
            for s in sels
            if not s.get("shard")
            or s["reason"] != (f"--invariants-shard {s['shard'][0]}/{s['shard'][1]}")
        ]
        if (
            len(counts) == 1
            and not others
            and {s[0] for s in shards if s} == set(range(1, next(iter(counts)) + 1))
        ):
            complete = True
        else:
            reason = "merged subsets: " + " + ".join(f"({s['reason']})" for s in sels)
    selection = {
        "complete": complete,
        "reason": reason,
        "args": sorted({a for s in sels for a in s.get("args", [])}),
        "shard": None,
    }
    bench = next((r.get("benchmarks") for _, r in reports if r.get("benchmarks")), None)
    report = build_report(
        tests, {"profile": profiles.pop(), "selection": selection, "partial": False}, bench
    )
    report["timings"] = timings_of(report, durations, None)
    report["execution"] = {"merged_from": [str(p) for p, _ in reports]}
    return report


# --- determinism -------------------------------------------------------------


def json_diff(a: Any, b: Any, where: str = "", limit: int = 30) -> list[str]:
    """Paths where two JSON values differ (at most ``limit``)."""
    out: list[str] = []

    def walk(x: Any, y: Any, w: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x or k not in y:
                    out.append(f"{w}.{k}: only in {'second' if k in y else 'first'}")
                else:
                    walk(x[k], y[k], f"{w}.{k}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                out.append(f"{w}: {len(x)} vs {len(y)} items")
            for i, (p, q) in enumerate(zip(x, y, strict=False)):
                walk(p, q, f"{w}[{i}]")
        elif x != y:
            out.append(f"{w or 'top'}: {x!r:.80} != {y!r:.80}")

    walk(a, b, where)
    return out


def _child_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "HYPOTHESIS_")) and k != "PYTEST_ADDOPTS"
    }
    return env


def run_pytest(
    args: list[str],
    cwd: str | Path,
    report_dir: str | Path,
    timeout: float = 900,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """``python -m pytest ARGS --invariants-report DIR`` in a subprocess (no cache)."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *args,
        "--invariants-report",
        str(report_dir),
    ]
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env or _child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_determinism(
    paths: list[str],
    profile: str = "ci",
    workers: int = 2,
    cwd: str | Path = ".",
    env: dict | None = None,
) -> tuple[list[str], dict]:
    """Run PATHS with ``-n WORKERS`` and with ``-n 0``; the differences of the reports.

    Returns (differences without the timing fields, {"xdist": rc, "serial": rc}).
    """
    with tempfile.TemporaryDirectory(prefix="invariants-det-") as tmp:
        rcs, reports = {}, {}
        for label, n in (("xdist", workers), ("serial", 0)):
            out = Path(tmp) / label
            args = ["-n", str(n), "--invariants-profile", profile, *paths]
            if n:
                args[2:2] = ["--dist", "loadfile"]
            proc = run_pytest(args, cwd, out, env=env)
            rcs[label] = proc.returncode
            try:
                reports[label] = strip_volatile(load(out / REPORT_JSON))
            except ReportFormatError as exc:
                raise ReportFormatError(
                    f"{label} run wrote no usable report ({exc}); pytest said:\n"
                    + proc.stdout[-3000:]
                    + proc.stderr[-2000:]
                ) from None
        return json_diff(reports["xdist"], reports["serial"]), rcs


# --- command line ------------------------------------------------------------


def _cmd_render(ns: argparse.Namespace) -> int:
    report = load(ns.report)
    out = Path(ns.output) if ns.output else Path(ns.report).parent
    if Path(ns.report).name == PARTIAL_JSON and not ns.output:
        out = out / "partial"
    for f in report["figures"]:
        f["files"] = []
    write_folder(report, out)
    print(f"report written to {out}")
    print(format_table(report))
    return 0 if report["ok"] else 1


def _cmd_merge(ns: argparse.Namespace) -> int:
    report = merge(ns.reports)
    path = write_folder(report, ns.output, render=not ns.no_figures)
    print(format_table(report))
    print(f"merged report of {len(ns.reports)} files written to {path.parent}")
    rc = 0 if report["ok"] else 1
    if ns.baseline:
        from . import baseline

        result = baseline.compare(baseline.load_any(ns.baseline), report)
        print(baseline.format_comparison(result, ns.baseline, str(path)))
        rc = max(rc, 1 if result["regressions"] else 0)
    return rc


def _cmd_determinism(ns: argparse.Namespace) -> int:
    paths = ns.paths or ["properties/test_losses.py", "properties/test_section3_gd.py"]
    diffs, rcs = check_determinism(paths, ns.profile, ns.workers)
    print(f"pytest exit codes: {rcs}")
    if diffs:
        print(f"report.json differs between -n {ns.workers} and -n 0 (timings aside):")
        print("\n".join(f"  {d}" for d in diffs))
        return 1
    print(
        f"report.json identical under -n {ns.workers} and -n 0 (timings aside) for "
        + ", ".join(paths)
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m invariants.report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("render", help="write report.md and figures of a report.json")
    p.add_argument("report")
    p.add_argument("-o", "--output", help="folder (default: beside the report)")
    p.set_defaults(func=_cmd_render)
    p = sub.add_parser("merge", help="merge report.json files into one report folder")
    p.add_argument("reports", nargs="+")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--baseline", help="compare the merged report with this baseline")
    p.add_argument("--no-figures", action="store_true", help="write report.json/.md only")
    p.set_defaults(func=_cmd_merge)
    p = sub.add_parser("check-determinism", help="xdist and serial runs give the same report")
    p.add_argument("paths", nargs="*")
    p.add_argument("--profile", default="ci")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=_cmd_determinism)
    ns = parser.parse_args(argv)
    try:
        return ns.func(ns)
    except ReportFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
