"""Which part of the suite a pytest invocation runs: whole suite, subset, shard, statement.

:func:`selection_of` says whether the run covers the whole suite and, if not, why
(a subset's report lists unchecked statements and missing figures without
failing on them).  ``--invariants-shard I/N`` takes every N-th test file
(:func:`shard_files`); ``--statement ID`` keeps the tests that name one of the
given statement IDs (:func:`split_statement_option`, :func:`checks_any`); ``--paper KEY``
keeps the tests that name a statement of one of the given papers (:func:`check_paper_keys`,
:func:`checks_paper`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any


def selection_of(config: Any) -> dict:
    """Whether this pytest invocation selects the whole suite, and if not, why.

    The whole suite is selected when every configured ``testpaths`` directory
    is covered by an argument given without ``::``, and nothing narrows the
    selection: no ``-k``, ``-m``, ``--deselect``, ``--ignore``/``--ignore-glob``,
    ``--lf``, ``--sw``, ``--invariants-shard``, ``--statement`` or ``--paper``.
    """
    opt = config.option
    reasons = []
    keyword = getattr(opt, "keyword", "") or ""
    markexpr = getattr(opt, "markexpr", "") or ""
    if keyword:
        reasons.append(f"-k {keyword!r}")
    if markexpr:
        reasons.append(f"-m {markexpr!r}")
    for name, flag in (
        ("deselect", "--deselect"),
        ("ignore", "--ignore"),
        ("ignore_glob", "--ignore-glob"),
    ):
        if getattr(opt, name, None):
            reasons.append(flag)
    if getattr(opt, "lf", False):
        reasons.append("--lf")
    if getattr(opt, "stepwise", False):
        reasons.append("--sw")
    shard = None
    shard_opt = getattr(opt, "invariants_shard", None)
    if shard_opt:
        shard = parse_shard(shard_opt)
        reasons.append(f"--invariants-shard {shard[0]}/{shard[1]}")
    statements = split_statement_option(getattr(opt, "invariants_statement", None))
    if statements:
        reasons.append("--statement " + ",".join(statements))
    papers = split_statement_option(getattr(opt, "invariants_paper", None))
    if papers:
        reasons.append("--paper " + ",".join(papers))
    root = Path(config.rootpath)
    invocation = Path(config.invocation_params.dir)
    testpaths = [root / t for t in (config.getini("testpaths") or [])] or [root]
    args = [str(a) for a in config.args]
    narrowed = [a for a in args if "::" in a]
    if narrowed:
        reasons.append("node IDs " + ", ".join(narrowed))
    plain = [(invocation / a).resolve() for a in args if "::" not in a]
    for tp in testpaths:
        tp = tp.resolve()
        if not any(tp == p or p in tp.parents for p in plain):
            rel = [_rel(p, root) for p in plain] or ["(none)"]
            reasons.append(f"paths {', '.join(rel)} do not cover {_rel(tp, root)}")
            break
    return {
        "complete": not reasons,
        "reason": "; ".join(reasons),
        "args": sorted(
            _rel((invocation / a.split("::")[0]).resolve(), root)
            + (("::" + a.split("::", 1)[1]) if "::" in a else "")
            for a in args
        ),
        "shard": list(shard) if shard else None,
    }


def _rel(p: Path, root: Path) -> str:
    try:
        return str(p.relative_to(root.resolve())) or "."
    except ValueError:
        return str(p)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 1 <= I <= N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ValueError(f"--invariants-shard wants I/N with 1 <= I <= N, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def shard_files(files: Iterable[str], index: int, count: int) -> set[str]:
    """The test files of shard ``index`` of ``count``: every count-th file, sorted by path."""
    ordered = sorted(set(files))
    return {f for i, f in enumerate(ordered) if i % count == index - 1}


def split_statement_option(values: Iterable[str] | None) -> list[str]:
    """The values of ``--statement`` or ``--paper`` (repeatable, each comma-separated), in
    order, without repeats."""
    out: list[str] = []
    for value in values or ():
        for sid in str(value).split(","):
            sid = sid.strip()
            if sid and sid not in out:
                out.append(sid)
    return out


def check_statement_ids(ids: list[str], known: Collection[str]) -> None:
    """Raise ``ValueError`` unless ``ids`` is non-empty and every ID is in ``known``."""
    unknown = [sid for sid in ids if sid not in known]
    if not ids or unknown:
        what = f"unknown statement ID {', '.join(unknown)}" if unknown else "no statement ID given"
        raise ValueError(f"--statement: {what}; the known IDs are {', '.join(known)}")


def checks_any(statements: Iterable[str], wanted: Collection[str]) -> bool:
    """Whether a test that names ``statements`` checks one of ``wanted``."""
    return any(sid in wanted for sid in statements)


def check_paper_keys(keys: list[str], known: Collection[str]) -> None:
    """Raise ``ValueError`` unless ``keys`` is non-empty and every key is a known paper's."""
    unknown = [k for k in keys if k not in known]
    if not keys or unknown:
        what = f"unknown paper {', '.join(unknown)}" if unknown else "no paper key given"
        raise ValueError(f"--paper: {what}; the known papers are {', '.join(known)}")


def checks_paper(
    statements: Iterable[str], papers: Collection[str], paper_of: Mapping[str, str]
) -> bool:
    """Whether a test that names ``statements`` checks a statement of one of ``papers``
    (``paper_of``: statement ID -> its paper's key; an ID it lacks belongs to none)."""
    return any(paper_of.get(sid) in papers for sid in statements)
