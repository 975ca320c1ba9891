"""Meta-tests of the layout of ``properties/`` (its README says where a test goes).

- **Folders.**  At the top: ``helpers.py``, ``library/`` (one unit-property file per
  library module, ``test_<module>[_<aspect>].py``), ``meta/`` (the suite's own
  machinery) and one folder per paper: every catalogue (``invariants/catalogues/<key>.toml``)
  has ``properties/<key>/`` with ``claims/``, ``controls/`` and a ``README.md``, and every
  other folder here is a catalogued paper's (:data:`PAPERS` is read from the catalogues).
- **One stem per section.**  A paper folder holds ``claims/<stem>.py``,
  ``test_<stem>.py`` and ``controls/test_<stem>_controls.py`` for the same stems,
  besides its bug catalogue (``controls/bug_catalogue.py``, ``planted.py``,
  ``test_bug_catalogue.py``), ``problems.py`` and ``unit/`` (unit properties of
  its claim modules).  Every controls module is marked ``meta``; claim modules are
  imported under their own names (no ``import ... as``).
- **The statement table.**  A test checks the statement IDs its docstring names
  (the report attributes them the same way, :func:`invariants.statements.named_in`).
  The table in each paper's README lists, per ID of that paper, the files whose tests
  name it; it is compared with a scan of the source, so it cannot go stale.

Negative controls: synthetic trees with a missing pairing, an unmarked control,
an aliased claim import, a stale table, a paper without its folder, README or table,
and a folder of no catalogued paper are each reported.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from invariants.report import catalogue_doc
from invariants.statements import CATALOGUES, ID_PATTERN

PROPERTIES = Path(__file__).resolve().parents[1]
#: The catalogued papers' keys: each has its folder ``properties/<key>/``.
PAPERS: tuple[str, ...] = tuple(c.paper.key for c in CATALOGUES)
#: Paper key -> its statement IDs, in catalogue order.
PAPER_IDS: dict[str, tuple[str, ...]] = {
    c.paper.key: tuple(s.id for s in c.statements) for c in CATALOGUES
}
#: What ``properties/`` holds besides the paper folders.
SHARED = {"README.md", "__init__.py", "helpers.py", "library", "meta", "__pycache__"}
#: What every paper folder must hold (folders, then files).
PAPER_FOLDERS, PAPER_FILES = ("claims", "controls"), ("README.md",)
PAPER_EXTRAS = {"README.md", "__init__.py", "problems.py", "claims", "controls", "unit"}
CONTROL_EXTRAS = {"__init__.py", "bug_catalogue.py", "planted.py", "test_bug_catalogue.py"}
#: Claim modules that serve several sections rather than one (no test_<stem>.py of their
#: own; the section checks call them): ``certified``, the ball-arithmetic certificates the
#: checks attach to their slacks.  Their controls are ``controls/test_<module>_controls.py``.
SHARED_CLAIMS = {"certified"}
LIBRARY = PROPERTIES.parent / "invariants"
TABLE_ROW = re.compile(r"^\|\s*(" + ID_PATTERN.pattern + r")\s*\|(.*)\|\s*$")


def statement_files(root: Path, ids: tuple[str, ...] | None = None) -> dict[str, list[str]]:
    """ID (of ``ids``, default every catalogued one) -> the test files under ``root``
    (relative paths) whose test docstrings name it
    (:func:`invariants.report.catalogue_doc.statement_files`, the scan docs/statements.md
    shows too)."""
    if ids is None:
        return catalogue_doc.statement_files(root)
    return catalogue_doc.statement_files(root, ids)


def folder_problems(properties: Path, papers: tuple[str, ...]) -> list[str]:
    """What is wrong with the paper folders of ``properties`` (empty: nothing): a paper
    without its folder, ``claims/``, ``controls/`` or ``README.md``; a folder or file
    that is neither shared nor a catalogued paper's."""
    problems = []
    for key in papers:
        folder = properties / key
        if not folder.is_dir():
            problems.append(f"paper {key}: no folder properties/{key}/")
            continue
        problems += [
            f"paper {key}: no {name}/" for name in PAPER_FOLDERS if not (folder / name).is_dir()
        ]
        problems += [
            f"paper {key}: no {name}" for name in PAPER_FILES if not (folder / name).is_file()
        ]
    problems += [
        f"properties/{p.name}: neither shared (library, meta, helpers.py) nor a catalogued paper"
        for p in sorted(properties.iterdir())
        if p.name not in SHARED and p.name not in papers
    ]
    return problems


def table_problems(properties: Path, paper: str, ids: tuple[str, ...]) -> list[str]:
    """What is wrong with ``paper``'s README statement table against the tests under
    ``properties`` (empty: nothing): a statement of the paper no test names, or a table
    that differs from the scan (the message carries the table to paste in)."""
    readme = properties / paper / "README.md"
    if not readme.is_file():
        return [f"paper {paper}: no README.md, so no statement table"]
    actual = statement_files(properties, ids)
    problems = [f"{paper}: no test docstring names {sid}" for sid, f in actual.items() if not f]
    listed = readme_table(readme)
    if not listed:
        problems.append(f"properties/{paper}/README.md has no statement table")
    if listed != actual:
        problems.append(
            f"properties/{paper}/README.md's statement table is stale; replace it with:\n\n"
            + render_table(actual)
        )
    return problems


def readme_table(readme: Path) -> dict[str, list[str]]:
    """ID -> files, as listed in the README's statement table (``| S-X | `a`, `b` |``)."""
    table = {}
    for line in readme.read_text().splitlines():
        m = TABLE_ROW.match(line)
        if m:
            table[m[1]] = sorted(re.findall(r"`([^`]+)`", m[2]))
    return table


def render_table(files: dict[str, list[str]]) -> str:
    """The README's table for ``files`` (ID -> files, in order; paste it in when a test
    moves)."""
    rows = ["| ID | test files that check it |", "|---|---|"]
    rows += [f"| {sid} | {', '.join(f'`{f}`' for f in paths)} |" for sid, paths in files.items()]
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
    """properties/ holds helpers.py, library/, meta/ and the folder of each catalogued
    paper (with claims/, controls/ and README.md) only."""
    assert PAPERS and folder_problems(PROPERTIES, PAPERS) == []


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
    problems = table_problems(PROPERTIES, paper, PAPER_IDS[paper])
    assert not problems, "\n".join(problems)


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


@pytest.mark.meta
def test_negative_control_paper_folders_are_checked_against_the_catalogues(tmp_path):
    """A catalogued paper without its folder, without controls/ or README.md, a folder of
    no catalogued paper, and a README without a table or with another paper's row are
    each reported; a complete tree is not."""
    for name in ("library", "meta"):
        (tmp_path / name).mkdir()
    (tmp_path / "helpers.py").write_text("")
    for folder in ("p/claims", "p/controls", "q/claims", "stray"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "q" / "README.md").write_text("# q\n")
    problems = folder_problems(tmp_path, ("p", "q", "r"))
    assert problems == [
        "paper p: no README.md",
        "paper q: no controls/",
        "paper r: no folder properties/r/",
        "properties/stray: neither shared (library, meta, helpers.py) nor a catalogued paper",
    ]
    (tmp_path / "p" / "test_a.py").write_text('def test_x():\n    """S-L4 holds."""\n')
    assert (
        table_problems(tmp_path, "p", ("S-L4",))[0]
        == "paper p: no README.md, so no statement table"
    )
    readme = tmp_path / "p" / "README.md"
    readme.write_text("# p\n")
    assert any("has no statement table" in p for p in table_problems(tmp_path, "p", ("S-L4",)))
    good = "| ID | files |\n|---|---|\n| S-L4 | `p/test_a.py` |\n"
    readme.write_text(good)
    assert table_problems(tmp_path, "p", ("S-L4",)) == []
    readme.write_text(good + "| S-T1 | `p/test_a.py` |\n")  # a row of another paper's ID
    assert any("is stale" in p for p in table_problems(tmp_path, "p", ("S-L4",)))
    assert table_problems(tmp_path, "p", ("S-L4", "S-T1"))[0] == "p: no test docstring names S-T1"
    (tmp_path / "q" / "controls").mkdir()
    (tmp_path / "r" / "claims").mkdir(parents=True)
    (tmp_path / "r" / "controls").mkdir()
    (tmp_path / "r" / "README.md").write_text("")
    (tmp_path / "stray").rmdir()
    assert folder_problems(tmp_path, ("p", "q", "r")) == []
