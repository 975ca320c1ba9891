"""Meta-tests of the architecture: the one-way import rule of invariants/__init__.py.

The rule, read from the folders:

- ``invariants.errors`` and ``invariants.statements`` import nothing of the project;
- ``invariants.core`` (the paper's objects) imports only itself and ``errors``:
  the math never imports the dynamics, the strategies or the report;
- ``invariants.dynamics`` (flow, GD) imports ``core`` and ``errors``;
- ``invariants.strategies`` (Hypothesis generators, a package) imports ``core``, ``errors``
  and itself;
- ``invariants.certify`` (ball arithmetic) imports ``core``, ``errors`` and itself;
- ``invariants.relu`` (the Fig. 2 experiment) imports ``errors`` and the rounding
  vocabulary ``core.rounding``; ``invariants.database`` imports ``errors``;
- ``invariants.report`` imports only itself and ``statements``;
- nothing under ``invariants`` imports ``properties``, ``tools`` or ``benchmarks``;
- under ``properties`` no module imports a ``test_*`` module, and nothing anywhere
  imports a private (``_name``) object of another module;
- the modules of ``invariants`` form no import cycle.

The graph is read from the source with :mod:`ast` (every ``import``, also those
inside functions), so it needs no import side effects.  Negative controls: a
small synthetic tree with one violation of each kind is reported in full.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("invariants", "properties", "tools", "benchmarks")

# Layer of a module: the longest matching prefix.  Each layer may import the listed
# project prefixes (third-party and standard-library imports are not restricted here).
LAYERS: dict[str, frozenset[str]] = {
    "invariants.errors": frozenset(),
    "invariants.statements": frozenset(),
    "invariants.core": frozenset({"invariants.core", "invariants.errors"}),
    "invariants.dynamics": frozenset(
        {"invariants.core", "invariants.dynamics", "invariants.errors"}
    ),
    "invariants.strategies": frozenset(
        {"invariants.core", "invariants.errors", "invariants.strategies"}
    ),
    "invariants.certify": frozenset({"invariants.core", "invariants.certify", "invariants.errors"}),
    "invariants.relu": frozenset({"invariants.core.rounding", "invariants.errors"}),
    "invariants.database": frozenset({"invariants.errors"}),
    "invariants.report": frozenset({"invariants.report", "invariants.statements"}),
    "invariants": frozenset({"invariants"}),  # the package's own __init__
}


@dataclass(frozen=True)
class Import:
    """One import statement: ``importer`` imports ``target`` (and names ``names`` of it)."""

    importer: str
    target: str
    names: tuple[str, ...]
    line: int


def module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def imports_of(root: Path, path: Path) -> list[Import]:
    """Every import in ``path`` (relative ones resolved), at any depth of the file."""
    name = module_name(root, path)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [Import(name, a.name, (), node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, is_package, node.module, node.level)
            names = tuple(a.name for a in node.names)
            found.append(Import(name, target, names, node.lineno))
    return found


def project_imports(root: Path) -> list[Import]:
    """The imports of every module of :data:`PACKAGES` and of ``conftest.py``."""
    files = [p for pkg in PACKAGES for p in sorted((root / pkg).rglob("*.py"))]
    files += [p for p in [root / "conftest.py"] if p.exists()]
    return [imp for f in files for imp in imports_of(root, f)]


def _is_project(target: str) -> bool:
    return target.partition(".")[0] in PACKAGES


def _layer(module: str) -> str | None:
    # a top-level key ("invariants") is the package's own __init__, not a prefix
    matches = [p for p in LAYERS if module == p or ("." in p and module.startswith(p + "."))]
    return max(matches, key=len) if matches else None


def _expanded(imp: Import, modules: set[str]) -> list[str]:
    """The project modules an import reaches: ``from pkg import mod`` reaches ``pkg.mod``."""
    reached = [imp.target]
    reached += [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in modules]
    return reached


def layering_violations(imports: list[Import], modules: set[str]) -> list[str]:
    """Imports of ``invariants`` modules that break :data:`LAYERS`."""
    out = []
    for imp in imports:
        layer = _layer(imp.importer)
        if layer is None or not imp.importer.startswith("invariants"):
            continue
        for target in _expanded(imp, modules):
            if not _is_project(target):
                continue
            allowed = LAYERS[layer]
            if target == "invariants" and imp.names:
                continue  # `from invariants import x` is judged by x (expanded above)
            if not any(target == a or target.startswith(a + ".") for a in allowed):
                out.append(f"{imp.importer}:{imp.line} imports {target} (layer {layer})")
    return out


def imports_of_test_modules(imports: list[Import], modules: set[str]) -> list[str]:
    """Imports of a ``test_*`` module by anything under ``properties`` (or elsewhere)."""
    out = []
    for imp in imports:
        for target in _expanded(imp, modules):
            if _is_project(target) and target.rpartition(".")[2].startswith("test_"):
                out.append(f"{imp.importer}:{imp.line} imports the test module {target}")
    return out


def private_name_violations(imports: list[Import], modules: set[str]) -> list[str]:
    """``from project.module import _name`` across modules (dunders are public)."""
    out = []
    for imp in imports:
        if not _is_project(imp.target) or imp.target == imp.importer:
            continue
        for n in imp.names:
            if n.startswith("_") and not n.startswith("__"):
                out.append(f"{imp.importer}:{imp.line} imports the private {imp.target}.{n}")
    return out


def import_cycles(imports: list[Import], modules: set[str], prefix: str) -> list[list[str]]:
    """Strongly connected components (size > 1, or self-loops) of the import graph under
    ``prefix`` (Tarjan's algorithm); a package's ``__init__`` importing its own modules
    is not an edge back."""
    graph: dict[str, set[str]] = {m: set() for m in modules if m.startswith(prefix)}
    for imp in imports:
        if imp.importer not in graph:
            continue
        for t in _expanded(imp, modules):
            if t in graph and t != imp.importer and not t.startswith(imp.importer + "."):
                graph[imp.importer].add(t)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return cycles


def _scan(root: Path) -> tuple[list[Import], set[str]]:
    files = [p for pkg in PACKAGES for p in (root / pkg).rglob("*.py")]
    modules = {module_name(root, p) for p in files}
    return project_imports(root), modules


@pytest.mark.meta
def test_the_math_never_imports_the_dynamics_strategies_or_report():
    imports, modules = _scan(ROOT)
    unplaced = sorted(m for m in modules if m.startswith("invariants") and _layer(m) is None)
    assert not unplaced, f"modules of invariants outside every layer: {unplaced}"
    bad = layering_violations(imports, modules)
    assert not bad, "imports against the layering rule:\n" + "\n".join(bad)


@pytest.mark.meta
def test_no_module_imports_a_test_module_or_a_private_name():
    imports, modules = _scan(ROOT)
    bad = imports_of_test_modules(imports, modules) + private_name_violations(imports, modules)
    assert not bad, "\n".join(bad)


@pytest.mark.meta
def test_the_library_has_no_import_cycle():
    imports, modules = _scan(ROOT)
    cycles = import_cycles(imports, modules, "invariants")
    assert not cycles, f"import cycles in invariants: {cycles}"


@pytest.mark.meta
def test_negative_control_each_kind_of_violation_is_reported(tmp_path):
    """A synthetic tree with one violation of each kind: every one is reported."""
    files = {
        "invariants/__init__.py": "",
        "invariants/core/__init__.py": "",
        "invariants/core/losses.py": "from invariants.dynamics import flow\n",
        "invariants/dynamics/__init__.py": "",
        "invariants/dynamics/flow.py": "from ..core import losses\n",
        "invariants/report/__init__.py": "",
        "invariants/report/build.py": "def f():\n    from invariants.core import losses\n",
        "properties/__init__.py": "",
        "properties/test_a.py": "X = 1\n",
        "properties/helpers.py": "from properties.test_a import X\n"
        "from invariants.core.losses import _private\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    imports, modules = _scan(tmp_path)
    assert layering_violations(imports, modules) == [
        "invariants.core.losses:1 imports invariants.dynamics (layer invariants.core)",
        "invariants.core.losses:1 imports invariants.dynamics.flow (layer invariants.core)",
        "invariants.report.build:2 imports invariants.core (layer invariants.report)",
        "invariants.report.build:2 imports invariants.core.losses (layer invariants.report)",
    ]
    assert imports_of_test_modules(imports, modules) == [
        "properties.helpers:1 imports the test module properties.test_a"
    ]
    assert private_name_violations(imports, modules) == [
        "properties.helpers:2 imports the private invariants.core.losses._private"
    ]
    assert import_cycles(imports, modules, "invariants") == [
        ["invariants.core.losses", "invariants.dynamics.flow"]
    ]
