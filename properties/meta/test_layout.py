"""Meta-tests of the layout of ``properties/`` (its README says where a test goes).

- **Folders.**  At the top: ``helpers.py``, ``library/`` (one unit-property file per
  library module, ``test_<module>[_<aspect>].py``), ``meta/`` (the suite's own
  machinery) and one folder per paper.
- **One stem per section.**  A paper folder holds ``claims/<stem>.py``,
  ``test_<stem>.py`` and ``controls/test_<stem>_controls.py`` for the same stems,
  besides its bug catalogue (``controls/bug_catalogue.py``, ``planted.py``,
  ``test_bug_catalogue.py``), ``problems.py`` and ``unit/`` (unit properties of
  its claim modules).  Every controls module is marked ``meta``; claim modules are
  imported under their own names (no ``import ... as``).
- **The statement table.**  A test checks the statement IDs its docstring names
  (the report attributes them the same way, :func:`invariants.statements.named_in`).
  The table in the paper's README lists, per ID, the files whose tests name it; it
  is compared with a scan of the source, so it cannot go stale.

Negative controls: synthetic trees with a missing pairing, an unmarked control,
an aliased claim import and a stale table are each reported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from invariants.report import catalogue_doc
from invariants.statements import ID_PATTERN, IDS

PROPERTIES = Path(__file__).resolve().parents[1]
PAPERS = ("ji_telgarsky_2019",)
TOP_LEVEL = {"README.md", "__init__.py", "helpers.py", "library", "meta", "__pycache__", *PAPERS}
PAPER_EXTRAS = {"README.md", "__init__.py", "problems.py", "claims", "controls", "unit"}
CONTROL_EXTRAS = {"__init__.py", "bug_catalogue.py", "planted.py", "test_bug_catalogue.py"}
#: Claim modules that serve several sections rather than one (no test_<stem>.py of their
#: own; the section checks call them): ``certified``, the ball-arithmetic certificates the
#: checks attach to their slacks.  Their controls are ``controls/test_<module>_controls.py``.
SHARED_CLAIMS = {"certified"}
LIBRARY = PROPERTIES.parent / "invariants"
TABLE_ROW = re.compile(r"^\|\s*(" + ID_PATTERN.pattern + r")\s*\|(.*)\|\s*$")


def statement_files(root: Path) -> dict[str, list[str]]:
    """ID -> the test files under ``root`` (relative paths) whose test docstrings name it
    (:func:`invariants.report.catalogue_doc.statement_files`, the scan docs/statements.md
    shows too)."""
    return catalogue_doc.statement_files(root)


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


def stem_problems(paper: Path) -> list[str]:
    """What breaks the one-stem rule in one paper folder (empty: none)."""
    problems = []
    names = lambda folder, pattern: {p.name for p in (paper / folder).glob(pattern)}  # noqa: E731
    claims = {n[:-3] for n in names("claims", "*.py")} - {"__init__"} - SHARED_CLAIMS
    tests = {n[5:-3] for n in names(".", "test_*.py")}
    controls = {n[5:-12] for n in names("controls", "test_*_controls.py")} - SHARED_CLAIMS
    for stem in sorted(claims | tests | controls):
        missing = [
            where
            for where, stems in (
                (f"claims/{stem}.py", claims),
                (f"test_{stem}.py", tests),
                (f"controls/test_{stem}_controls.py", controls),
            )
            if stem not in stems
        ]
        if missing:
            problems.append(f"stem {stem!r} lacks {', '.join(missing)}")
    extras = {p.name for p in paper.iterdir()} - PAPER_EXTRAS - {"__pycache__"}
    extras -= {f"test_{t}.py" for t in tests}
    problems += [
        f"{paper.name}/{e}: not a claim test, folder or helper of the paper" for e in extras
    ]
    shared = {f"test_{c}_controls.py" for c in SHARED_CLAIMS}
    stray = names("controls", "*.py") - CONTROL_EXTRAS - shared
    stray -= {f"test_{c}_controls.py" for c in controls}
    problems += [f"controls/{e}: not test_<stem>_controls.py" for e in sorted(stray)]
    for path in sorted((paper / "controls").glob("test_*.py")):
        if "pytestmark = pytest.mark.meta" not in path.read_text():
            problems.append(f"controls/{path.name}: not marked meta (pytestmark)")
    return problems


def aliased_claim_imports(root: Path) -> list[str]:
    """``from <paper>.claims import x as y`` under ``root``: claim modules keep their names."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(".claims"):
                out += [
                    f"{path.relative_to(root)}:{node.lineno} imports {a.name} as {a.asname}"
                    for a in node.names
                    if a.asname
                ]
    return out


def library_strays(library: Path, package: Path) -> list[str]:
    """Test files of ``library/`` not named after a module or package of the library."""
    modules = {p.stem for p in package.rglob("*.py")} | {
        p.name for p in package.rglob("*") if p.is_dir()
    }
    out = []
    for path in sorted(library.glob("test_*.py")):
        stem = path.stem[5:]
        if not any(stem == m or stem.startswith(m + "_") for m in modules):
            out.append(f"library/{path.name}: no module {stem.split('_')[0]!r} in the library")
    return out


@pytest.mark.meta
def test_top_level_holds_the_shared_folders_and_the_papers():
    """properties/ holds helpers.py, library/, meta/ and the paper folders only."""
    assert {p.name for p in PROPERTIES.iterdir()} - TOP_LEVEL == set()


@pytest.mark.meta
@pytest.mark.parametrize("paper", PAPERS)
def test_each_section_has_one_stem_in_claims_tests_and_controls(paper: str):
    """claims/<stem>.py, test_<stem>.py and controls/test_<stem>_controls.py go together."""
    assert stem_problems(PROPERTIES / paper) == []


@pytest.mark.meta
def test_claim_modules_are_imported_under_their_own_names():
    """No ``import ... as`` of a claim module (the old aliases ``fc``, ``lc`` meant two things)."""
    assert aliased_claim_imports(PROPERTIES) == []


@pytest.mark.meta
def test_library_tests_are_named_after_library_modules():
    """library/test_<module>[_<aspect>].py: one home per library module."""
    assert library_strays(PROPERTIES / "library", LIBRARY) == []


@pytest.mark.meta
@pytest.mark.parametrize("paper", PAPERS)
def test_readme_statement_table_matches_the_tests(paper: str):
    """Every statement's row in the paper's README names exactly the files that check it."""
    actual = statement_files(PROPERTIES)
    unchecked = [sid for sid, files in actual.items() if not files]
    assert not unchecked, f"statements no test docstring names: {unchecked}"
    listed = readme_table(PROPERTIES / paper / "README.md")
    assert listed == actual, (
        f"properties/{paper}/README.md's statement table is stale; replace it with:\n\n"
        + render_table(actual)
    )


@pytest.mark.meta
@pytest.mark.parametrize("paper", PAPERS)
def test_every_claim_test_checks_a_statement(paper: str):
    """Each ``test_<stem>.py`` of a paper is a claim file: some test in it names an ID."""
    actual = statement_files(PROPERTIES)
    named = {f for files in actual.values() for f in files}
    tops = sorted(f"{paper}/{p.name}" for p in (PROPERTIES / paper).glob("test_*.py"))
    assert [f for f in tops if f not in named] == []


@pytest.mark.meta
def test_negative_control_layout_breaks_are_reported(tmp_path):
    """A stem without controls, a stray control, an unmarked control, an alias, a stray test."""
    paper = tmp_path / "paper"
    for folder in ("claims", "controls"):
        (paper / folder).mkdir(parents=True)
    (paper / "claims" / "alpha.py").write_text("")
    (paper / "claims" / "beta.py").write_text("")
    (paper / "test_alpha.py").write_text("")
    (paper / "test_beta.py").write_text("")
    (paper / "controls" / "test_alpha_controls.py").write_text("pytestmark = pytest.mark.meta\n")
    (paper / "controls" / "test_gamma.py").write_text("")
    (paper / "test_x.py").write_text("from paper.claims import alpha as a\n")
    problems = stem_problems(paper)
    assert "stem 'beta' lacks controls/test_beta_controls.py" in problems
    assert any("controls/test_gamma.py" in p and "not test_<stem>_controls" in p for p in problems)
    assert "controls/test_gamma.py: not marked meta (pytestmark)" in problems
    assert any("stem 'x' lacks claims/x.py" in p for p in problems)
    assert aliased_claim_imports(tmp_path) == ["paper/test_x.py:1 imports alpha as a"]
    lib, pkg = tmp_path / "lib", tmp_path / "pkg"
    lib.mkdir(), pkg.mkdir()
    (pkg / "flow.py").write_text("")
    (lib / "test_flow_guards.py").write_text("")
    (lib / "test_vacuity.py").write_text("")
    assert library_strays(lib, pkg) == [
        "library/test_vacuity.py: no module 'vacuity' in the library"
    ]


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
