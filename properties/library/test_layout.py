"""Meta-tests of the layout of ``properties/``: the statement table of properties/README.md
is the one the test docstrings give, and every claim file checks a statement.

A test checks the statement IDs its docstring names (the report attributes them the
same way, :func:`invariants.statements.named_in`).  The table in properties/README.md
lists, per ID, the files whose tests name it; it is compared with a scan of the
source, so it cannot go stale.  Negative control: a synthetic tree whose README
misses a file is reported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from invariants.statements import IDS, named_in

PROPERTIES = Path(__file__).resolve().parents[1]
TABLE_ROW = re.compile(r"^\|\s*(S-[A-Z0-9]+[a-z]?)\s*\|(.*)\|\s*$")


def statement_files(root: Path) -> dict[str, list[str]]:
    """ID -> the test files under ``root`` (relative paths) whose test docstrings name it."""
    out: dict[str, set[str]] = {sid: set() for sid in IDS}
    for path in sorted(root.rglob("test_*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                for sid in named_in(ast.get_docstring(node)):
                    out[sid].add(rel)
    return {sid: sorted(files) for sid, files in out.items()}


def readme_table(readme: Path) -> dict[str, list[str]]:
    """ID -> files, as listed in the README's statement table (``| S-X | `a`, `b` |``)."""
    table = {}
    for line in readme.read_text().splitlines():
        m = TABLE_ROW.match(line)
        if m:
            table[m[1]] = sorted(re.findall(r"`([^`]+)`", m[2]))
    return table


def render_table(files: dict[str, list[str]]) -> str:
    """The README's table for ``files`` (paste it in when a test moves)."""
    rows = ["| ID | test files that check it |", "|---|---|"]
    rows += [f"| {sid} | {', '.join(f'`{f}`' for f in files[sid])} |" for sid in IDS]
    return "\n".join(rows)


@pytest.mark.meta
def test_readme_statement_table_matches_the_tests():
    """Every statement's row in properties/README.md names exactly the files that check it."""
    actual = statement_files(PROPERTIES)
    unchecked = [sid for sid, files in actual.items() if not files]
    assert not unchecked, f"statements no test docstring names: {unchecked}"
    listed = readme_table(PROPERTIES / "README.md")
    assert listed == actual, (
        "properties/README.md's statement table is stale; replace it with:\n\n"
        + render_table(actual)
    )


@pytest.mark.meta
def test_every_claim_file_checks_a_statement():
    """A test file at the top of properties/ is a claim file: some test in it names an ID."""
    actual = statement_files(PROPERTIES)
    named = {f for files in actual.values() for f in files}
    top = sorted(p.name for p in PROPERTIES.glob("test_*.py"))
    assert [f for f in top if f not in named] == []


@pytest.mark.meta
def test_negative_control_a_stale_table_is_reported(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "test_a.py").write_text('def test_x():\n    """S-L4 holds."""\n')
    (tmp_path / "sub" / "test_b.py").write_text('def test_y():\n    """S-L4 and S-T1."""\n')
    (tmp_path / "README.md").write_text("| ID | files |\n|---|---|\n| S-L4 | `test_a.py` |\n")
    actual = statement_files(tmp_path)
    assert actual["S-L4"] == ["sub/test_b.py", "test_a.py"]
    assert actual["S-T1"] == ["sub/test_b.py"]
    assert readme_table(tmp_path / "README.md") != actual
