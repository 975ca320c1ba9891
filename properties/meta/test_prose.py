"""The prose names only what exists: repository paths, modules, options and sections.

A pointer in a docstring, a comment or a document that names a file which has moved,
or an option which was renamed, sends the reader nowhere.  This meta-test reads the
prose of the repository and fails on every stale reference, naming ``file:line``, the
reference and what to do.

What is read:

- Python files: docstrings and comments only (``ast`` and ``tokenize``), never string
  literals that are code;
- ``README.md``, ``docs/*.md`` and ``properties/README.md``, whole;
- ``pyproject.toml``, ``Makefile`` and ``.ci/run``, whole.

What is checked:

- paths that start with a top-level folder of the repository (``ROOTS``) must exist;
  a glob (``*``, or a ``<placeholder>``) must match at least one file; paths that runs
  generate are listed in ``GENERATED``.  In a document, a path may also start with a
  folder beside the document (``library/...`` in ``properties/README.md``);
- dotted references to the repository's packages (``invariants.core.maxmargin``,
  ``properties.helpers``, ``benchmarks.bench_flow``) must name a module file, or a
  name defined at the top level of one;
- long options must be registered: by pytest and its plugins (``pytest --help``, run
  once), by an ``add_argument`` / ``addoption`` call anywhere in the repository, or be
  an option of an external tool the prose runs (``EXTERNAL_OPTIONS``);
- a pointer of the form ``docs/<file>.md, "<title>"`` (or ``README.md, "<title>"``,
  ``the README's "<title>"``, and ``(see "<title>")`` inside a document) must name a
  heading of that file.

The negative controls at the end write a document with one stale reference of each
kind and call the checker's functions on it.
"""

from __future__ import annotations

import ast
import functools
import io
import re
import subprocess
import sys
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Top-level folders and files of the repository that a path reference starts with.
ROOTS = (
    "invariants",
    "properties",
    "tools",
    "benchmarks",
    "reports",
    "docs",
    ".ci",
    "conftest.py",
    "Makefile",
    "pyproject.toml",
    "README.md",
)

#: Paths that a run creates and the repository does not hold (prefixes).
GENERATED = (
    "reports/runs",  # every report folder: make report, stress, fuzz, merge, shards
)

#: Options of external programs that the prose shows being run.
EXTERNAL_OPTIONS = frozenset(
    {
        "--quiet",  # pip install (Makefile)
        "--upgrade",  # pip install (Makefile)
        "--check",  # ruff format --check (Makefile)
        "--bind",  # redis-server (docs/profiles.md, the shared database recipe)
        "--protected-mode",  # redis-server
        "--appendonly",  # redis-server
        "--dir",  # redis-server
        "--requirepass",  # redis-server
        "--cached",  # git ls-files (tools/mutation.py copies the working tree)
        "--others",  # git ls-files
        "--exclude-standard",  # git ls-files
        "--all",  # mutmut results --all true (tools/mutation.py)
    }
)

#: Words that stand for a name in a path (``reports/NAME.json``): matched as a glob ``*``.
PLACEHOLDERS = ("NAME", "DIR", "FILE", "PATH")

#: Dotted names a run generates: mutmut's mutant ids (``module.x_function__mutmut_3``).
GENERATED_NAMES = re.compile(r"__mutmut_\d+$")

#: Packages of this repository whose dotted names are checked.
PACKAGES = ("invariants", "properties", "benchmarks")

#: Folders never read (environments, caches, generated trees).
SKIP_DIRS = frozenset({"__pycache__", "mutants", "build", "dist", "node_modules"})

_PATH = re.compile(
    r"(?<![\w./-])((?:" + "|".join(re.escape(r) for r in ROOTS) + r")(?:/[A-Za-z0-9_.*<>{},\-]*)*)"
)
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
_MODULE = re.compile(
    r"(?<![\w./-])((?:" + "|".join(PACKAGES) + r")(?:\.[A-Za-z_]\w*)+)(?![\w/]|\.\w)"
)
_SECTION = re.compile(
    r"((?:docs/[\w./-]+|properties/README|README)\.md),\s+\"([^\"]+)\""
    r"|(README)'s\s+\"([^\"]+)\""
)
_SEE = re.compile(r"\(see\s+\"([^\"]+)\"")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    """One stale reference: where it is, what it names, and what to do."""

    file: str
    line: int
    reference: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reference!r} {self.problem}"


@dataclass(frozen=True)
class Block:
    """A piece of prose: its text and the line of the file it starts on."""

    line: int
    text: str


# --- reading the prose ------------------------------------------------------------------------


def python_prose(source: str, tree: ast.Module | None = None) -> list[Block]:
    """Docstrings (module, class, function) and comments of one Python source.

    Consecutive comment lines form one block, so a reference wrapped over two comment
    lines is read whole.  String literals that are code are left out.
    """
    tree = ast.parse(source) if tree is None else tree
    blocks: list[Block] = []
    inside: set[int] = set()  # lines that a multi-line string covers from their start
    tails: dict[int, int] = {}  # last line of a multi-line string -> byte offset of its end
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
        ):
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                blocks.append(Block(first.lineno, first.value.value))
        elif (
            isinstance(node, ast.JoinedStr)
            or (isinstance(node, ast.Constant) and isinstance(node.value, str | bytes))
        ) and (node.end_lineno or node.lineno) > node.lineno:
            inside.update(range(node.lineno, node.end_lineno or node.lineno))
            tails[node.end_lineno or node.lineno] = node.end_col_offset or 0
    run: list[tuple[int, str]] = []
    for number, line in enumerate(source.splitlines(), start=1):
        if "#" not in line or number in inside:
            continue
        if number in tails:
            line = line.encode()[tails[number] :].decode("utf-8", "ignore")
        comment = _comment_of(line)
        if comment is None:
            continue
        if run and run[-1][0] != number - 1:
            blocks.append(Block(run[0][0], "\n".join(t for _, t in run)))
            run = []
        run.append((number, comment))
    if run:
        blocks.append(Block(run[0][0], "\n".join(t for _, t in run)))
    return blocks


def _comment_of(line: str) -> str | None:
    """The comment of one physical line outside multi-line strings, read by tokenize."""
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line.strip()).readline):
            if tok.type == tokenize.COMMENT:
                return tok.string.lstrip("#").strip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return None


@functools.cache
def _parsed(path: Path) -> tuple[str, ast.Module | None]:
    """The source of a Python file and its tree (None if it does not parse), read once."""
    source = path.read_text(encoding="utf-8")
    try:
        return source, ast.parse(source)
    except SyntaxError:
        return source, None


def prose_of(path: Path) -> list[Block]:
    """The prose of one file: a Python file's docstrings and comments, any other whole."""
    if path.suffix == ".py":
        source, tree = _parsed(path)
        return python_prose(source, tree) if tree is not None else []
    return [Block(1, path.read_text(encoding="utf-8"))]


def _skipped(rel: Path) -> bool:
    return any(p.startswith(".") or p in SKIP_DIRS or p.endswith(".egg-info") for p in rel.parts)


def prose_files(root: Path) -> list[Path]:
    """Every file whose prose is checked (see the module docstring)."""
    py = [
        p
        for p in root.rglob("*.py")
        if not _skipped(p.relative_to(root).parent)
        and not str(p.relative_to(root)).startswith(GENERATED)
    ]
    docs = [root / "README.md", root / "properties" / "README.md", *root.glob("docs/*.md")]
    whole = [root / "pyproject.toml", root / "Makefile", root / ".ci" / "run"]
    return sorted({p for p in [*py, *docs, *whole] if p.is_file()})


# --- finding references -----------------------------------------------------------------------


def _located(block: Block, pattern: re.Pattern[str]) -> Iterator[tuple[int, re.Match[str]]]:
    for m in pattern.finditer(block.text):
        yield block.line + block.text.count("\n", 0, m.start()), m


def path_references(block: Block, roots: Iterable[str] = ROOTS) -> list[tuple[int, str]]:
    """``(line, path)`` for every token of ``block`` that starts with one of ``roots``."""
    pattern = _PATH
    roots = tuple(roots)
    if roots != ROOTS:
        pattern = re.compile(
            r"(?<![\w./-])((?:"
            + "|".join(re.escape(r) for r in roots)
            + r")(?:/[A-Za-z0-9_.*<>{},\-]*)*)"
        )
    out = []
    for line, m in _located(block, pattern):
        token = m.group(1).rstrip(".,")
        if "/" not in token and token not in ROOTS:
            continue  # a bare word that merely begins like a root ("docstring", "tools")
        if "/" not in token:
            continue  # a top-level file or folder named alone always exists
        if token.endswith("/.") or "..." in m.group(1):
            continue  # an elided path ("reports/runs/...")
        out.append((line, token))
    return out


def option_references(block: Block) -> list[tuple[int, str]]:
    """``(line, option)`` for every long option named in ``block``."""
    return [(line, m.group(1)) for line, m in _located(block, _OPTION)]


def module_references(block: Block) -> list[tuple[int, str]]:
    """``(line, dotted.name)`` for every dotted reference to one of ``PACKAGES``."""
    return [(line, m.group(1)) for line, m in _located(block, _MODULE)]


def section_references(block: Block, own: str | None = None) -> list[tuple[int, str, str]]:
    """``(line, document, title)`` for every pointer to a section of a document.

    The forms: ``docs/<file>.md, "<title>"`` (also ``README.md`` and
    ``properties/README.md``), ``the README's "<title>"``, and, inside the document
    ``own``, ``(see "<title>")``.  A ``<title>`` in angle brackets is a placeholder.
    """
    out = [
        (line, m.group(1) or "README.md", m.group(2) or m.group(4))
        for line, m in _located(block, _SECTION)
    ]
    if own is not None:
        out += [(line, own, m.group(1)) for line, m in _located(block, _SEE)]
    return out


# --- checking references ----------------------------------------------------------------------


def expand_braces(token: str) -> list[str]:
    """``a.{json,md}`` -> ``[a.json, a.md]`` (the shell's brace expansion, nested too)."""
    m = re.search(r"\{([^{}]*)\}", token)
    if m is None:
        return [token]
    return [
        t
        for alt in m.group(1).split(",")
        for t in expand_braces(token[: m.start()] + alt + token[m.end() :])
    ]


def path_problem(token: str, root: Path, base: Path | None = None) -> str | None:
    """Why ``token`` (relative to ``root``, or to ``base`` when given) names nothing, or None.

    Braces expand (each alternative must exist); ``<placeholder>`` and the words of
    ``PLACEHOLDERS`` are globs.
    """
    if token.startswith(GENERATED):
        return None
    for alternative in expand_braces(token):
        problem = _single_path_problem(alternative, root, base)
        if problem:
            return problem if alternative == token else f"(as {alternative}) {problem}"
    return None


def _single_path_problem(token: str, root: Path, base: Path | None) -> str | None:
    pattern = re.sub(r"<[^<>]*>", "*", token).rstrip("/")
    pattern = re.sub(r"\b(?:" + "|".join(PLACEHOLDERS) + r")\b", "*", pattern)
    where = base if base is not None else root
    if any(c in pattern for c in "*?["):
        if any(where.glob(pattern)):
            return None
        return "matches no file: correct the pattern, or point it at the files' current place"
    if "<" in pattern or ">" in pattern:
        return None  # an unbalanced placeholder is prose, not a path
    if (where / pattern).exists():
        return None
    found = sorted(str(p.relative_to(root)) for p in root.rglob(Path(pattern).name))
    found = [f for f in found if not _skipped(Path(f).parent)]
    hint = f" (a file of that name is at {', '.join(found[:3])})" if found else ""
    return (
        f"does not exist{hint}: point it at the current path, or add it to GENERATED "
        "if a run creates it"
    )


def module_problem(name: str, root: Path = REPO) -> str | None:
    """Why the dotted ``name`` is neither a module of this repository nor a name in one.

    Read from the files, never imported: ``benchmarks`` and ``tools`` are scripts the
    suite must not import (``properties/library/test_strategies.py``).  The longest
    prefix that is a module file (``a/b.py`` or ``a/b/__init__.py``) is the module;
    the next part must be defined or imported at its top level (deeper attributes are
    not checked).
    """
    if GENERATED_NAMES.search(name):
        return None
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        base = root.joinpath(*parts[:k])
        for file in (base.with_suffix(".py"), base / "__init__.py"):
            if file.is_file():
                rest = parts[k:]
                if not rest or rest[0] in top_level_names(file):
                    return None
                return (
                    f"names nothing called {rest[0]!r} in {'.'.join(parts[:k])}: "
                    "name what it is called now"
                )
    return "is no module of the repository: name the module's current dotted path"


def top_level_names(path: Path) -> set[str]:
    """The names a module defines or imports at its top level (its submodules included)."""
    tree = _parsed(path)[1]
    names = {p.stem for p in path.parent.iterdir()} if path.name == "__init__.py" else set()
    for node in tree.body if tree is not None else []:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def option_problem(option: str, known: frozenset[str]) -> str | None:
    """Why ``option`` is not an option of pytest, its plugins, this project or a known tool."""
    if option in known or option in EXTERNAL_OPTIONS:
        return None
    close = sorted(k for k in known if k.split("-")[-1] == option.split("-")[-1])
    hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
    return (
        f"is not a registered option{hint}: name the option that exists, or register it "
        "(pytest_addoption, an argparse add_argument, or EXTERNAL_OPTIONS for another tool)"
    )


def headings(path: Path) -> set[str]:
    """The headings of a markdown file, backticks dropped and whitespace collapsed."""
    return {_normal(h) for h in _HEADING.findall(path.read_text(encoding="utf-8"))}


def _normal(text: str) -> str:
    return " ".join(text.replace("`", "").split())


def section_problem(doc: str, title: str, root: Path) -> str | None:
    """Why ``docs/<file>.md, "title"`` points nowhere, or None."""
    path = root / doc
    if title.startswith("<") and title.endswith(">"):
        return None  # a placeholder
    if not path.is_file():
        return None  # reported as a missing path
    if _normal(title) in headings(path):
        return None
    return f"is no section of {doc}: use one of its headings (or add the section)"


def registered_options(root: Path, help_text: str) -> frozenset[str]:
    """Every long option of ``pytest --help`` and of every add_argument/addoption call."""
    known = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", help_text))
    for path in root.rglob("*.py"):
        if _skipped(path.relative_to(root).parent):
            continue
        tree = _parsed(path)[1]
        if tree is None:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"add_argument", "addoption"}
            ):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and str(arg.value).startswith("--"):
                        known.add(str(arg.value))
    return frozenset(known)


def stale_references(
    root: Path, files: Iterable[Path], known_options: frozenset[str]
) -> list[Finding]:
    """Every stale path, module, option and section reference in the prose of ``files``."""
    findings: list[Finding] = []
    for path in files:
        rel = str(path.relative_to(root))
        local = (
            []
            if path.suffix == ".py"
            else sorted(
                p.name
                for p in path.parent.iterdir()
                if p.is_dir() and path.parent != root and not _skipped(Path(p.name))
            )
        )
        for block in prose_of(path):
            for line, token in path_references(block):
                problem = path_problem(token, root)
                if problem:
                    findings.append(Finding(rel, line, token, problem))
            for line, token in path_references(block, local) if local else []:
                problem = path_problem(token, root, base=path.parent)
                if problem:
                    findings.append(Finding(rel, line, token, problem))
            for line, name in module_references(block):
                problem = module_problem(name, root)
                if problem:
                    findings.append(Finding(rel, line, name, problem))
            for line, option in option_references(block):
                problem = option_problem(option, known_options)
                if problem:
                    findings.append(Finding(rel, line, option, problem))
            own = None if path.suffix == ".py" else rel
            for line, doc, title in section_references(block, own):
                problem = section_problem(doc, title, root)
                if problem:
                    findings.append(Finding(rel, line, f'{doc}, "{title}"', problem))
    return findings


# --- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pytest_help() -> str:
    """``pytest --help`` with the installed plugins, run once.

    ``--noconftest`` saves the library preload (seconds); the options that
    ``conftest.py`` and the report plugin register are read from their
    ``addoption`` calls by :func:`registered_options`.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "--noconftest"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"pytest --help failed:\n{proc.stderr[-2000:]}"
    return proc.stdout


@pytest.mark.meta
def test_the_prose_names_only_what_exists(pytest_help: str) -> None:
    """Every path, module, option and section named in the prose of the repository exists."""
    known = registered_options(REPO, pytest_help)
    assert "--invariants-profile" in known and "--dist" in known, "option list not read"
    files = prose_files(REPO)
    assert REPO / "README.md" in files and REPO / "Makefile" in files
    findings = stale_references(REPO, files, known)
    assert not findings, f"{len(findings)} stale reference(s) in the prose:\n" + "\n".join(
        map(str, findings)
    )


@pytest.mark.meta
def test_negative_control_a_stale_document_is_reported(tmp_path: Path) -> None:
    """A document naming a missing path, module, option and section gets one finding each."""
    (tmp_path / "properties").mkdir()
    (tmp_path / "properties" / "test_here.py").write_text("")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.md").write_text("# Notes\n\n## A section\n")
    doc = tmp_path / "docs" / "guide.md"
    doc.write_text(
        "Run `properties/test_here.py` with `--known-option`.\n"
        "The fuzzing test is in `properties/test_gone.py`; pick a profile with\n"
        "`--no-such-option`, as in invariants.no_such_module and\n"
        'docs/notes.md, "A section" and docs/notes.md, "No such\nsection".\n'
        "Globs: `properties/test_*.py` matches, `properties/nothing_*.py` does not;\n"
        "`reports/runs/latest/report.md` is generated.\n"
        '(see "Guide") and (see "No guide section"); the README\'s "Nowhere".\n'
        "# Guide\n"
    )
    (tmp_path / "README.md").write_text("# Title\n")
    findings = stale_references(tmp_path, [doc], frozenset({"--known-option"}))
    got = {(f.line, f.reference) for f in findings}
    assert got == {
        (2, "properties/test_gone.py"),
        (3, "--no-such-option"),
        (3, "invariants.no_such_module"),
        (4, 'docs/notes.md, "No such\nsection"'),
        (6, "properties/nothing_*.py"),
        (8, 'docs/guide.md, "No guide section"'),
        (8, 'README.md, "Nowhere"'),
    }, "\n".join(map(str, findings))
    assert all(str(f).startswith("docs/guide.md:") for f in findings)


@pytest.mark.meta
def test_negative_control_python_prose_is_docstrings_and_comments_only() -> None:
    """Docstrings and comments of a Python source are read; a string that is code is not."""
    source = (
        '"""Module docstring naming properties/gone_a.py."""\n'
        "PATH = 'properties/gone_b.py'  # a comment naming properties/gone_c.py\n"
        "def f():\n"
        '    """Function docstring naming --gone-option."""\n'
        "# two comment lines naming\n"
        "# properties/gone_d.py\n"
    )
    blocks = python_prose(source)
    paths = {(line, tok) for b in blocks for line, tok in path_references(b)}
    assert paths == {
        (1, "properties/gone_a.py"),
        (2, "properties/gone_c.py"),
        (6, "properties/gone_d.py"),
    }
    options = [o for b in blocks for _, o in option_references(b)]
    assert options == ["--gone-option"]


@pytest.mark.meta
def test_negative_control_module_and_attribute_references() -> None:
    """A dotted name resolves to a module or an attribute of one, or is reported."""
    assert module_problem("invariants.core.maxmargin") is None
    assert module_problem("invariants.core.maxmargin.sin_angle") is None
    assert module_problem("invariants.core.maxmargin.no_such_function") is not None
    assert module_problem("invariants.no_such_module") is not None
