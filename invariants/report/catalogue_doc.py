"""``docs/statements.md``: every statement of every catalogue, with where it is checked.

Generated from the catalogues (:data:`invariants.statements.CATALOGUES`) and a scan of
the source, never written by hand: ``python -m invariants.report statements [--out
FILE]`` writes it, and ``properties/meta/test_catalogue.py`` fails when the committed
file differs from what this module generates.

Per paper: its notation, its assumptions, then one section per statement with its
mathematics, its meaning in words, its assumptions, what its proof uses (linked),
how its tolerance is derived, whether ball arithmetic could decide it, and where it
is checked:

- the claim checks: the functions of ``properties/<paper>/claims/*.py`` named
  ``check_<id>`` or ``check_<id>_<variant>`` (``check_s_l2a``, ``check_s_a2b_flow``),
  or any other ``check_*`` function whose docstring starts with the ID (found by
  :mod:`ast`, nothing is imported);
- the tests and the controls: the ``test_*.py`` files whose test functions' docstrings
  name the ID (:func:`statement_files`, the scan the report and the paper's README
  table use too); a file under ``controls/`` is a control.

Mathematics is written for GitHub: display math in ```` ```math ```` blocks and inline
math as ``$`...`$``, the two forms GitHub renders without Markdown touching the
backslashes and braces inside.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..statements import CATALOGUES, IDS, NEGATION, Catalogue, Statement, named_in

#: Where the generated document goes, relative to the repository.
DEFAULT_OUT = Path("docs") / "statements.md"


def statement_files(root: Path, ids: Sequence[str] = IDS) -> dict[str, list[str]]:
    """ID -> the test files under ``root`` (relative, sorted) whose test docstrings name it.

    A test function (``test_*``) checks the statement IDs its docstring names
    (:func:`invariants.statements.named_in`), as the report attributes them.
    """
    out: dict[str, set[str]] = {sid: set() for sid in ids}
    for path in sorted(root.rglob("test_*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                for sid in named_in(ast.get_docstring(node)):
                    if sid in out:
                        out[sid].add(rel)
    return {sid: sorted(files) for sid, files in out.items()}


def check_name(sid: str) -> str:
    """The claim check's function name for ``sid``: ``S-L2a`` -> ``check_s_l2a``."""
    return "check_" + re.sub(r"[^0-9a-z]+", "_", sid.lower()).strip("_")


def claim_checks(claims: Path, ids: Sequence[str] = IDS) -> dict[str, list[str]]:
    """ID -> the claim checks (``"<module>.py: <function>"``) of the folder ``claims``.

    A top-level function checks ``sid`` when it is named :func:`check_name` of it, or
    that name plus ``_<variant>``, or when it is another ``check_*`` function whose
    docstring starts with ``sid`` (``check_reach``: "S-T1's limits ...").
    """
    names = {check_name(sid): sid for sid in ids}
    out: dict[str, list[str]] = {sid: [] for sid in ids}
    for path in sorted(claims.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("check_")):
                continue
            sid = names.get(node.name) or next(
                (s for n, s in names.items() if node.name.startswith(n + "_")), None
            )
            if sid is None:
                first = named_in((ast.get_docstring(node) or "").split(" ", 1)[0])
                sid = first[0] if first else None
            if sid is not None:
                out[sid].append(f"{path.name}: {node.name}")
    return out


class Slugger:
    """GitHub's heading anchors for headings made of letters, digits, spaces and hyphens:
    lower case, spaces to hyphens, and ``-1``, ``-2`` ... for repeats."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def __call__(self, heading: str) -> str:
        base = re.sub(r"[^0-9a-z _-]", "", heading.lower()).replace(" ", "-")
        n = self.seen.get(base, 0)
        self.seen[base] = n + 1
        return base if n == 0 else f"{base}-{n}"


def display(math: str) -> list[str]:
    """A display-math block GitHub renders (```` ```math ````)."""
    return ["```math", math, "```"]


def inline(math: str) -> str:
    """Inline math GitHub renders with its braces intact (``$`...`$``)."""
    return f"$`{math}`$"


def text(prose: str) -> str:
    """Prose with Markdown's emphasis and tag characters escaped (``W_k``, ``<v, u>``)."""
    return re.sub(r"([\\*_<`])", r"\\\1", prose)


def _code_list(items: Sequence[str]) -> str:
    return ", ".join(f"`{i}`" for i in items) if items else "none"


def _checked_where(
    s: Statement, folder: str, checks: Mapping[str, list[str]], files: Mapping[str, list[str]]
) -> list[str]:
    """The 'checked by' lines of one statement: claim checks (by file), tests, controls."""
    by_file: dict[str, list[str]] = {}
    for c in checks[s.id]:
        module, function = c.split(": ")
        by_file.setdefault(f"{folder}/claims/{module}", []).append(f"`{function}`")
    claims = [f"`{path}`: {', '.join(funcs)}" for path, funcs in by_file.items()]
    tests = [f"properties/{f}" for f in files[s.id] if "/controls/" not in f]
    controls = [f"properties/{f}" for f in files[s.id] if "/controls/" in f]
    return [
        f"- claim checks: {'; '.join(claims) if claims else 'none'}",
        f"- tests: {_code_list(tests)}",
        f"- controls: {_code_list(controls)}",
    ]


def _paper_section(
    cat: Catalogue,
    slug: Slugger,
    checks: Mapping[str, list[str]],
    files: Mapping[str, list[str]],
) -> list[str]:
    """The document's section of one paper."""
    p = cat.paper
    folder = f"properties/{p.key}"
    out = [
        f"## {p.title}",
        "",
        f"{text(p.authors)}, {text(p.venue)}. Catalogue: `invariants/catalogues/",
    ]
    out[-1] += f"{p.key}.toml`; claims, tests and controls in `{folder}/`."
    out += [""]
    slug(p.title)
    if cat.symbols:
        out += ["### Notation", ""]
        slug("Notation")
        for sym in cat.symbols:
            out += [*display(sym.math), "", text(sym.words), ""]
    out += ["### Assumptions", ""]
    slug("Assumptions")
    anchors: dict[str, str] = {}
    for a in cat.assumptions:
        anchors[a.id] = slug(a.id)
        out += [
            f"#### {a.id}",
            "",
            f"**{text(a.title)}**",
            "",
            *display(a.math),
            "",
            text(a.words),
            "",
        ]
    out += ["### Statements", ""]
    slug("Statements")
    for s in cat.statements:
        anchors[s.id] = slug(s.id)
    links = {k: f"[{k}](#{v})" for k, v in anchors.items()}

    def ref(entry: str) -> str:
        aid = entry.removeprefix(NEGATION)
        return entry.replace(aid, links.get(aid, aid))

    for s in cat.statements:
        head = f"**{text(s.title)}** ({s.kind}; section `{s.section}`)"
        out += [f"#### {s.id}", "", head, "", *display(s.math), ""]
        out += [text(s.words), ""]
        out += [
            f"- assumptions: {', '.join(ref(a) for a in s.assumptions) or 'none'}",
            f"- uses: {', '.join(ref(u) for u in s.uses) or 'nothing numbered'}",
            f"- tolerance: {text(s.tolerance)}",
            f"- certifiable: {'yes' if s.certifiable else 'no'}",
            *_checked_where(s, folder, checks, files),
            "",
        ]
    return out


def render(repo: Path, catalogues: Sequence[Catalogue] = CATALOGUES) -> str:
    """The text of ``docs/statements.md`` for the repository at ``repo``."""
    properties = repo / "properties"
    ids = [s.id for c in catalogues for s in c.statements]
    files = statement_files(properties, ids)
    out = [
        "# The statements, their mathematics and where each is checked",
        "",
        "Generated from `invariants/catalogues/*.toml` by `python -m invariants.report "
        "statements`; do not edit by hand (`properties/meta/test_catalogue.py` compares "
        "this file with the generator's output).",
        "",
        "Each statement: its mathematics, its meaning in words, the assumptions it needs "
        "(`not A2`: it holds when A2 fails), what the paper's proof uses, how the "
        "tolerance of its check is derived, whether ball arithmetic could decide it at "
        "one point or step (*certifiable*), and the claim checks, tests and controls "
        "that check it.",
        "",
    ]
    slug = Slugger()
    slug(out[0][2:])
    for cat in catalogues:
        checks = claim_checks(properties / cat.paper.key / "claims", ids)
        out += _paper_section(cat, slug, checks, files)
    return "\n".join(out).rstrip("\n") + "\n"


def write(repo: Path, out: Path) -> Path:
    """Write :func:`render` of ``repo`` to ``out`` (relative: to ``repo``)."""
    path = out if out.is_absolute() else repo / out
    path.write_text(render(repo), encoding="utf-8")
    return path
