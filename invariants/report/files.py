"""The report folder's files: ``report.json``, ``report.partial.json``, ``report.md``, figures.

Files are plain JSON, read with a schema and version check (:func:`load`, which
also reads the baseline's ``invariants.baseline/1``); nothing is unpickled.
JSON is written atomically (:func:`write_json`), so a killed run never leaves
half a file; :func:`write_folder` writes a finished report's folder and
:func:`clear_folder` removes a previous run's files.  A file that cannot be used
raises :class:`ReportFormatError`, the report's own error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from . import html
from .figures import render as draw_figures
from .graph import GRAPH_PNG, GRAPH_SVG
from .graph import render as draw_graph
from .markdown import markdown


class ReportFormatError(ValueError):
    """A report, partial report or baseline file that cannot be used as one.

    The message names the file and what is wrong with it, and says what to do.
    """


REPORT_JSON = "report.json"
PARTIAL_JSON = "report.partial.json"
REPORT_MD = "report.md"

KNOWN = {
    "invariants.report": 2,
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
    for name in (
        REPORT_JSON,
        PARTIAL_JSON,
        REPORT_MD,
        html.INDEX_HTML,
        GRAPH_SVG,
        GRAPH_PNG,
        "comparison.md",
    ):
        (d / name).unlink(missing_ok=True)
    figs = d / "figures"
    if figs.is_dir():
        for f in figs.iterdir():
            if f.suffix in (".png", ".svg"):
                f.unlink()


def write_folder(report: dict, directory: str | Path, render: bool = True) -> Path:
    """Figures and the dependency graph (when ``render``), ``report.json``, ``report.md``
    and ``index.html``; drop any partial report."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if render:
        draw_figures(report, d)
        draw_graph(report, d)
    else:
        for f in report["figures"]:
            if f["status"] == "rendered":
                f["status"], f["reason"] = "not rendered", "figures not drawn (--no-figures)"
        draw_graph(report, d, draw=False)
    write_json(d / REPORT_JSON, report)
    (d / REPORT_MD).write_text(markdown(report))
    html.write(report, d)
    (d / PARTIAL_JSON).unlink(missing_ok=True)
    return d / REPORT_JSON
