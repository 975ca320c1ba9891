"""The numbered statements of every paper the suite checks, read from its catalogue.

Each paper has one catalogue, ``invariants/catalogues/<paper key>.toml`` (shipped with
the package): its bibliographic record, its notation, its assumptions and, in the
paper's order, one entry per numbered statement with its mathematics (LaTeX), its
meaning in words, the assumptions it needs, what its proof uses, how its check's
tolerance is derived and whether ball arithmetic could decide it at a point.
``docs/statements.md`` is generated from them (``python -m invariants.report
statements``) and ``properties/meta/test_catalogue.py`` checks them: every ID once,
every dependency known, no cycle.

The report's statement table is built from :data:`STATEMENTS`, so it can never
silently shrink: an ID here that no collected test names is reported as unchecked.
Nothing here assumes one paper or one ID prefix: each catalogue declares its own.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

#: The kinds of statement a catalogue may declare.
KINDS = ("equation", "lemma", "theorem", "corollary", "figure", "derived", "erratum")
#: An ``assumptions`` entry ``"not A2"`` says the statement holds when A2 *fails*: a
#: counterexample showing that the assumption is needed.
NEGATION = "not "


@dataclass(frozen=True)
class Paper:
    """A paper's record: ``key`` (its catalogue's file stem), citation, and ID ``prefix``."""

    key: str
    title: str
    authors: str
    venue: str
    prefix: str


@dataclass(frozen=True)
class Assumption:
    """An assumption of a paper (``A1`` ...): its math (LaTeX) and meaning in words."""

    id: str
    title: str
    math: str
    words: str
    paper: str


@dataclass(frozen=True)
class Symbol:
    """A piece of a paper's notation: the symbols (LaTeX), their definition and words."""

    name: str
    math: str
    words: str
    paper: str


@dataclass(frozen=True)
class Statement:
    """One numbered statement of a paper, as its catalogue describes it.

    ``assumptions`` are what the report lists for it (``"not A2"``: it holds when A2
    fails); ``uses`` are the statement and assumption IDs its proof in the paper uses;
    ``tolerance`` says in one line how its check's tolerance is derived;
    ``certifiable``: a finite-dimensional inequality or identity at one point or step,
    which ball arithmetic can decide (not a limit, a rate or the continuous path).
    """

    id: str
    title: str
    kind: str
    section: str
    math: str
    words: str
    assumptions: tuple[str, ...]
    uses: tuple[str, ...]
    tolerance: str
    certifiable: bool
    paper: str

    @property
    def assumption_ids(self) -> tuple[str, ...]:
        """The assumption IDs :attr:`assumptions` names, negated or not."""
        return tuple(a.removeprefix(NEGATION) for a in self.assumptions)


@dataclass(frozen=True)
class Catalogue:
    """One paper's catalogue, parsed: statements in the paper's order."""

    paper: Paper
    assumptions: tuple[Assumption, ...]
    statements: tuple[Statement, ...]
    symbols: tuple[Symbol, ...] = ()


def _fields(entry: Mapping[str, Any], names: Iterable[str], where: str) -> dict[str, Any]:
    """``entry``'s values of ``names``; a missing or extra field raises ValueError."""
    names = tuple(names)
    missing = [n for n in names if n not in entry]
    extra = sorted(set(entry) - set(names))
    if missing or extra:
        raise ValueError(f"{where}: missing fields {missing}, unknown fields {extra}")
    return {n: entry[n] for n in names}


def parse_catalogue(data: Mapping[str, Any], where: str = "catalogue") -> Catalogue:
    """A catalogue from its TOML tables (``tomllib.loads``'s result); ``where`` names it
    in errors.  Checks the shape only (fields and types); :func:`catalogue_problems`
    checks the content."""
    paper = Paper(**_fields(data["paper"], ("key", "title", "authors", "venue", "prefix"), where))
    key = paper.key
    assumptions = tuple(
        Assumption(
            **_fields(a, ("id", "title", "math", "words"), f"{where}: assumption"), paper=key
        )
        for a in data.get("assumption", [])
    )
    symbols = tuple(
        Symbol(**_fields(s, ("name", "math", "words"), f"{where}: symbol"), paper=key)
        for s in data.get("symbol", [])
    )
    names = [f.name for f in Statement.__dataclass_fields__.values() if f.name != "paper"]
    statements = []
    for entry in data.get("statement", []):
        values = _fields(entry, names, f"{where}: statement {entry.get('id', '?')}")
        for name in ("assumptions", "uses"):
            if not isinstance(values[name], list):
                raise ValueError(f"{where}: {values['id']}.{name} is not a list")
            values[name] = tuple(values[name])
        if not isinstance(values["certifiable"], bool):
            raise ValueError(f"{where}: {values['id']}.certifiable is not true or false")
        statements.append(Statement(**values, paper=key))
    return Catalogue(paper, assumptions, tuple(statements), symbols)


def load_catalogues() -> tuple[Catalogue, ...]:
    """Every ``catalogues/*.toml`` of the package, by file name (one per paper)."""
    folder = resources.files(__package__ or "invariants").joinpath("catalogues")
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)
    out = []
    for f in files:
        cat = parse_catalogue(tomllib.loads(f.read_text(encoding="utf-8")), f.name)
        if f"{cat.paper.key}.toml" != f.name:
            raise ValueError(f"{f.name}: [paper] key is {cat.paper.key!r}, not the file's stem")
        out.append(cat)
    return tuple(out)


def dependency_cycle(uses: Mapping[str, Sequence[str]]) -> list[str]:
    """A cycle of the graph ``node -> uses[node]`` as ``[a, b, ..., a]``; ``[]`` if none.

    Nodes absent from ``uses`` (assumptions) have no outgoing edges.  Depth-first
    search with three colours, iterative so that no catalogue can exhaust the stack.
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for root in uses:
        if root in state:
            continue
        path, stack = [root], [iter(uses.get(root, ()))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(uses.get(nxt, ())))
    return []


def catalogue_problems(catalogues: Sequence[Catalogue]) -> list[str]:
    """Everything wrong with the content of ``catalogues`` (empty: nothing).

    Every paper key and prefix once; every ID once across all papers, carrying its
    paper's prefix; every kind known; every ``assumptions`` entry an assumption of the
    same paper (``"not Ak"`` allowed); every ``uses`` entry a statement or an assumption
    of the same paper, never the statement itself; and no cycle in ``uses``.
    """
    problems: list[str] = []
    seen: dict[str, str] = {}
    for what in ("key", "prefix"):
        values = [getattr(c.paper, what) for c in catalogues]
        problems += [
            f"paper {what} {v!r} declared twice" for v in sorted(set(values)) if values.count(v) > 1
        ]
    graph: dict[str, tuple[str, ...]] = {}
    for cat in catalogues:
        key, prefix = cat.paper.key, cat.paper.prefix
        aids = [a.id for a in cat.assumptions]
        problems += [
            f"{key}: assumption {a} declared twice" for a in sorted(set(aids)) if aids.count(a) > 1
        ]
        sids = {s.id for s in cat.statements}
        for s in cat.statements:
            if s.id in seen:
                problems.append(f"{key}: {s.id} declared twice (first in {seen[s.id]})")
            seen[s.id] = key
            if not s.id.startswith(prefix):
                problems.append(f"{key}: {s.id} lacks the paper's prefix {prefix!r}")
            if s.kind not in KINDS:
                problems.append(f"{key}: {s.id} has unknown kind {s.kind!r}")
            problems += [
                f"{key}: {s.id} assumes {a!r}, not an assumption of {key}"
                for a in s.assumptions
                if a.removeprefix(NEGATION) not in aids
            ]
            problems += [
                f"{key}: {s.id} uses {u!r}, not a statement or assumption of {key}"
                for u in s.uses
                if u not in sids and u not in aids
            ]
            if s.id in s.uses:
                problems.append(f"{key}: {s.id} uses itself")
            graph[f"{key}:{s.id}"] = tuple(f"{key}:{u}" for u in s.uses)
    cycle = dependency_cycle(graph)
    if cycle:
        problems.append("dependency cycle: " + " -> ".join(c.split(":", 1)[1] for c in cycle))
    return problems


CATALOGUES: tuple[Catalogue, ...] = load_catalogues()
#: Paper key -> its record.
PAPERS: dict[str, Paper] = {c.paper.key: c.paper for c in CATALOGUES}
#: Statement ID -> its catalogue entry, every paper's, in catalogue order.
CATALOGUE: dict[str, Statement] = {s.id: s for c in CATALOGUES for s in c.statements}
#: Paper key -> assumption ID -> the assumption (IDs such as ``A1`` repeat across papers).
ASSUMPTIONS: dict[str, dict[str, Assumption]] = {
    c.paper.key: {a.id: a for a in c.assumptions} for c in CATALOGUES
}
#: Paper key -> its notation, in catalogue order.
SYMBOLS: dict[str, tuple[Symbol, ...]] = {c.paper.key: c.symbols for c in CATALOGUES}

# (ID, short title, the assumptions it depends on as the report prints them)
STATEMENTS: tuple[tuple[str, str, str], ...] = tuple(
    (s.id, s.title, ", ".join(s.assumptions) or "-") for s in CATALOGUE.values()
)

IDS: tuple[str, ...] = tuple(CATALOGUE)


def id_pattern(prefixes: Iterable[str]) -> re.Pattern[str]:
    """A statement ID of any of the papers with these ID ``prefixes``: the prefix, then
    capitals and digits, then at most one lower-case letter (``S-L2a``)."""
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return re.compile(f"(?:{alternatives})" + r"[A-Z0-9]+[a-z]?\b")


#: The IDs of every catalogued paper (:func:`id_pattern` of their prefixes).
ID_PATTERN = id_pattern(p.prefix for p in PAPERS.values())


def paper_of(sid: str) -> str:
    """The key of the paper whose catalogue holds statement ``sid`` (KeyError: none)."""
    return CATALOGUE[sid].paper


def named_in(text: str | None) -> list[str]:
    """The statement IDs a docstring names, in order, without repeats."""
    out: list[str] = []
    for sid in ID_PATTERN.findall(text or ""):
        if sid in CATALOGUE and sid not in out:
            out.append(sid)
    return out


#: A statement is *held* only when the examples that exercised it (``Slack.exercised``)
#: number at least this fraction of the largest number of examples any one of its tests
#: recorded: half a property's worth of examples that could have failed it.  Otherwise it
#: is *reachable only* (when a ``_reach`` is recorded) or *vacuous*.  Counted against one
#: test's examples, not all of them, so that checking a statement on more draws (some of
#: which cannot exercise it) never lowers its status.
EXERCISED_FLOOR = 0.5


@dataclass(frozen=True)
class Slack:
    """What one claim check measured on one example: its slack, and whether it could fail.

    * ``ratio``: the worst ``observed / allowed`` of the inequalities the check asserted,
      always in that sense: ``<= 1`` held, ``> 1`` failed, near 1 tight, near 0 loose.
      ``None`` when the example asserted no inequality with a finite allowance (a trend
      checked only for its sign).  Never a progress ratio.
    * ``exercised``: whether the example could have failed the statement -- its bound was
      not vacuous (e.g. an alignment lower bound above 0), the regime was reached, the
      run moved beyond rounding.  Each check defines it beside its assertion.  An example
      that passes without exercising the statement is counted and reported as such.
    * ``measures``: a trend or limit statement's measures under their own names (``reach``
      of a run, a ``decay_ratio`` ``R(end)/R(0)``, a ``growth`` factor), never as slack.
    * ``certificate``: the ball-arithmetic verdict of the statement at the example's sampled
      points, or None where it was not certified: an object with ``decided`` (True proved,
      False disproved, None undecided), ``lower``/``upper`` (the worst exact margin),
      ``points`` and ``witness`` (``invariants.certify.balls.Certificate``, duck-typed here).

    The record every claim check returns and the report consumes (invariants/report).
    """

    statement: str
    ratio: float | None
    detail: str = ""
    exercised: bool = field(kw_only=True)
    measures: Mapping[str, float] = field(default_factory=dict, kw_only=True)
    certificate: Any = field(default=None, kw_only=True)


def worst_ratio(*ratios: float | None) -> float | None:
    """The largest of the ratios that exist (``None`` when none does)."""
    present = [r for r in ratios if r is not None]
    return max(present) if present else None
