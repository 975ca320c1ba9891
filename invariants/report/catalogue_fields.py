"""The catalogue's fields as the report carries them: per statement row, papers, assumptions.

The report is read downstream (the HTML page, the dependency graph) from ``report.json``
alone, so each statement row carries the catalogue's description of its statement (kind,
mathematics, words, assumptions, the statements and assumptions its proof uses, how its
tolerance is derived, whether it is certifiable, its paper), and the report carries the
papers and their assumptions (:data:`invariants.statements.PAPERS`,
:data:`invariants.statements.ASSUMPTIONS`).  Tuples become lists, as JSON has them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..statements import ASSUMPTIONS, CATALOGUE, PAPERS

#: The catalogue fields a statement row carries (its ``id`` and ``title`` it has already).
STATEMENT_FIELDS = (
    "kind",
    "section",
    "math",
    "words",
    "assumptions",
    "uses",
    "tolerance",
    "certifiable",
    "paper",
)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def statement_fields(sid: str) -> dict[str, Any]:
    """The catalogue fields of statement ``sid`` (:data:`STATEMENT_FIELDS`)."""
    entry = CATALOGUE[sid]
    return {name: _plain(getattr(entry, name)) for name in STATEMENT_FIELDS}


def papers_section() -> dict[str, dict[str, Any]]:
    """Every paper of the catalogue, by key: title, authors, venue, prefix."""
    return {key: {k: _plain(v) for k, v in asdict(p).items()} for key, p in PAPERS.items()}


def assumptions_section() -> dict[str, dict[str, dict[str, Any]]]:
    """Every paper's assumptions, by paper key then assumption ID: title, math, words."""
    return {
        key: {aid: {k: _plain(v) for k, v in asdict(a).items()} for aid, a in by_id.items()}
        for key, by_id in ASSUMPTIONS.items()
    }
