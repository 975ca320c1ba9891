"""The run's records and the report built from them (schema ``invariants.report/1``).

Collection (``conftest.py``) turns every pytest test report into one *test
entry*: its outcome, the statement IDs its docstring names, the slack,
observations and errata it recorded through the shared fixtures
(``record_slack``, ``record_observation``, ``record_erratum``), the number of
Hypothesis test cases it ran, and for a failure the Hypothesis reproduction
(``@reproduce_failure`` blob, seed, failing example) parsed out of the
longrepr.  These records travel in ``user_properties``, which pytest-xdist
ships from workers to the controller, so a parallel run loses nothing.

:func:`build_report` turns a list of test entries (from one run, or from
several merged runs) into the report: the statement table in the paper's
order, errata, looseness of the paper's constants, measured laws, every
observation, the figures that can be drawn, and the run's *problems* (what
makes the run fail beyond a failing test).  The report is deterministic: keys
are sorted, lists are in a fixed order, and everything that varies from run to
run of the same commit and profile (durations, dates, host, worker count) is
kept apart under the two top-level keys of :data:`VOLATILE_KEYS`.

Slack is ``observed / allowed``: ``<= 1`` means the statement held with the
derived tolerance, and the nearer to 1, the closer the run came to failing.
"""

from __future__ import annotations

import ast
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .statements import IDS, STATEMENTS, named_in

SCHEMA = "invariants.report/1"
VOLATILE_KEYS = ("timings", "execution")

# Outcomes of one test, worst first (used when several records of one test meet).
OUTCOMES = ("failed", "error", "crashed", "running", "not run", "skipped", "passed")
FAILING = ("failed", "error", "crashed")

MAX_RATIOS = 10_000  # per-example slack ratios kept per (test, statement)
MAX_SERIES_POINTS = 2_000  # points kept per recorded series (evenly thinned beyond)
MAX_SERIES_EXAMPLES = 40  # examples whose series are kept, per test and observation name
MESSAGE_CHARS = 3_000

# --- conventions -------------------------------------------------------------

REACH_SUFFIX = "_reach"
"""An observation named ``<anything>_reach`` (by convention ``<ID>_reach``, e.g.
``S-T4_reach``) declares that its ``statement`` was followed only as far as a
simulation can reach: the statement's status becomes ``reachable only``, with the
observation's values (how far: ``log10_wprod``, ``max_frobenius``, ``steps`` ...)."""

# The paper's constants whose looseness the report tabulates.  ``source`` is
# either ("slack", ID): looseness = 1 / worst slack (how far the worst case found
# stays below the bound); or ("observation", name, key): the worst (smallest)
# value of ``key``, itself a ratio paper-constant / empirical.
LOOSENESS: tuple[tuple[str, str, tuple], ...] = (
    ("S-L2a", "D in the rank-deficit bound (eq. 8, per layer)", ("slack", "S-L2a")),
    ("S-L2b", "D + ||W_{k+1}(0)||^2 + ||W_k(0)||^2 in the alignment bound", ("slack", "S-L2b")),
    (
        "S-L4",
        "K = (1 + ln n)/theta (exp), 2n/(e theta) (logistic): K / K_emp",
        ("observation", "lemma4_threshold", "ratio"),
    ),
    ("S-L5", "beta(R) = 2 L^2 R^(2L-2) (beta + G)", ("slack", "S-L5")),
    ("S-EQ27", "+1 per step in ||W_k(t+1)||_F <= ||W_k(t)||_F + 1", ("slack", "S-EQ27")),
    ("S-L8a", "D + 2 R(W(0)) in the GD rank-deficit bound", ("slack", "S-L8a")),
    ("S-L8b", "constant 3 in D + 3 R(W(0)) (GD alignment)", ("slack", "S-L8b")),
)

# Measured laws: observation name -> (statement, {value key: expected value or None}).
LAWS: dict[str, tuple[str, dict[str, float | None]]] = {
    "angle_decay": ("S-T2", {"slope": -1.0, "slope_v1": None}),
    "alignment_gap_decay": ("S-FIG1b", {"slope": -2.0}),
    "soudry_offset": ("S-T2", {"rel_error_end": None, "rel_error_min": None}),
}
LAW_NOTES = {
    "angle_decay": "log-log slope of sin(angle to ubar) against ||w_prod|| (NUMERICS: -1)",
    "alignment_gap_decay": "log-log slope of 1 - ||W_k||_2/||W_k||_F against ||W_k||_F "
    "(NUMERICS: -2)",
    "soudry_offset": "relative error of the limit offset against Soudry et al. (2018)",
}

# Figures: name -> (title, required observation or None for slacks, series keys, gating).
FIGURES: tuple[tuple[str, str, str | None, tuple[str, ...], bool], ...] = (
    (
        "fig1a",
        "Fig. 1a: depth 1 and depth L converge to the same direction",
        "fig1a",
        ("data_x0", "data_x1", "data_y", "ubar", "d1_u0", "d1_u1", "dL_u0", "dL_u1"),
        True,
    ),
    (
        "fig1b",
        "Fig. 1b: ||W_k||_2 / ||W_k||_F -> 1 while the risk -> 0",
        "fig1b",
        ("log_risk", "ratio_1"),
        True,
    ),
    (
        "angle_decay",
        "Angle to ubar against ||w_prod|| (log-log)",
        "angle_decay",
        ("log10_wprod", "log10_sin"),
        True,
    ),
    (
        "alignment_gap_decay",
        "Alignment gap against ||W_k||_F (log-log)",
        "alignment_gap_decay",
        ("log10_frobenius", "log10_gap"),
        False,
    ),
    (
        "fig2",
        "Fig. 2: dense layers of a ReLU network align (digits)",
        "fig2",
        ("step", "risk"),
        True,
    ),
    ("slack_histograms", "Per-example slack, per statement", None, (), True),
)


class ReportFormatError(ValueError):
    """A report, partial report or baseline file that cannot be used as one.

    The message names the file and what is wrong with it, and says what to do.
    """


# --- numbers -----------------------------------------------------------------


def num(x: Any) -> float | str:
    """A JSON-safe float: non-finite values become the strings 'inf', '-inf', 'nan'."""
    v = float(x)
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def as_float(x: Any) -> float:
    """Inverse of :func:`num` (also accepts plain numbers)."""
    if isinstance(x, str):
        return float(x)
    return float(x)


def fmt_slack(x: Any) -> str:
    """A slack with enough digits to tell it from 1 (1.0025 is not shown as '1')."""
    if x is None:
        return "-"
    v = as_float(x)
    digits = 3
    while digits < 17 and v != 1.0 and float(f"{v:.{digits}g}") == 1.0:
        digits += 1
    return f"{v:.{digits}g}"


def stats(values: Iterable[Any]) -> dict:
    """median / min / max / n of the finite values (n_nonfinite counts the rest)."""
    vals = [as_float(v) for v in values]
    finite = [v for v in vals if math.isfinite(v)]
    out: dict[str, Any] = {"n": len(vals)}
    if len(finite) < len(vals):
        out["n_nonfinite"] = len(vals) - len(finite)
    if finite:
        out.update(median=statistics.median(finite), min=min(finite), max=max(finite))
    else:
        out.update(median=None, min=None, max=None)
    return out


def thin(series: dict[str, list], limit: int = MAX_SERIES_POINTS) -> dict[str, list]:
    """Evenly thin series longer than ``limit`` (same indices for equal lengths, last kept)."""
    out = {}
    for key, vals in series.items():
        n = len(vals)
        if n <= limit:
            out[key] = [num(v) for v in vals]
            continue
        idx = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
        out[key] = [num(vals[i]) for i in idx]
    return out


# --- failures ----------------------------------------------------------------

_REPRO = re.compile(r"@reproduce_failure\(\s*'([^']+)'\s*,\s*b'([^']*)'\s*\)")
_REPRO2 = re.compile(r'@reproduce_failure\(\s*"([^"]+)"\s*,\s*b"([^"]*)"\s*\)')
_SEED = re.compile(r"@seed\((\d+)\)|--hypothesis-seed=(\d+)")
_EXAMPLE_HEAD = re.compile(
    r"^(Falsifying(?: explicit)? example|Failing test case|Falsifying example)\s*:?\s*(.*)$"
)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_LOCATION = re.compile(r"^(\S+\.py):(\d+): (\w[\w.]*)\s*$")


def _strip_e(line: str) -> str:
    if line.startswith("E   "):
        return line[4:].removeprefix("    ")
    if line == "E":
        return ""
    return line


def parse_failure(longrepr: str) -> dict:
    """The useful parts of a failure's text.

    ``message``: the error lines (pytest's ``E`` lines) without Hypothesis's
    reproduction boilerplate; ``location``: ``file:line: Error``;
    ``falsifying_example``: Hypothesis's failing example (``test(x=..., )``);
    ``reproduce_failure``: the decorator that replays it, with its
    ``reproduce_version`` and ``reproduce_blob``; ``seed``: a ``@seed(N)`` /
    ``--hypothesis-seed=N`` Hypothesis printed (random profiles).  Missing
    parts are ``None``.  Works for Hypothesis's older ("Falsifying example",
    "You can reproduce this example") and newer ("Failing test case") texts.
    """
    # Object addresses differ from run to run: the report must not.
    text = _ADDRESS.sub(" at 0x...", longrepr or "")
    lines = text.splitlines()
    e_lines = [_strip_e(ln) for ln in lines if ln.startswith("E ") or ln == "E"]
    body = e_lines if e_lines else lines
    examples: list[str] = []
    i = 0
    while i < len(body):
        m = _EXAMPLE_HEAD.match(body[i].strip())
        if not m:
            i += 1
            continue
        chunk = [m.group(2)] if m.group(2) else []
        i += 1
        depth = sum(c in "([{" for c in "".join(chunk)) - sum(c in ")]}" for c in "".join(chunk))
        while i < len(body) and (depth > 0 or not chunk):
            chunk.append(body[i])
            depth += sum(c in "([{" for c in body[i]) - sum(c in ")]}" for c in body[i])
            i += 1
        examples.append("\n".join(chunk).strip())
    m = _REPRO.search(text) or _REPRO2.search(text)
    seed = _SEED.search(text)
    location = None
    for ln in reversed(lines):
        lm = _LOCATION.match(ln.strip())
        if lm:
            location = ln.strip()
            break
    drop = ("You can reproduce this", "You can add @seed", "@reproduce_failure(")
    message_lines = [ln for ln in body if not any(d in ln for d in drop)]
    message = "\n".join(message_lines).strip()
    if len(message) > MESSAGE_CHARS:
        message = "...\n" + message[-MESSAGE_CHARS:]
    return {
        "message": message,
        "location": location,
        "falsifying_example": "\n\n".join(examples) if examples else None,
        "reproduce_failure": m.group(0) if m else None,
        "reproduce_version": m.group(1) if m else None,
        "reproduce_blob": m.group(2) if m else None,
        "seed": int(seed.group(1) or seed.group(2)) if seed else None,
    }


_PHASE = re.compile(r"during (\w+) phase")
_COUNTS = re.compile(r"(\d+) passing(?: examples| test cases)?, (\d+) failing")


def hypothesis_examples(stats_text: str | None) -> int | None:
    """Test cases Hypothesis ran (passing + failing, every phase but shrinking)."""
    if not stats_text:
        return None
    total, seen, phase = 0, False, ""
    for line in stats_text.splitlines():
        pm = _PHASE.search(line)
        if pm:
            phase = pm.group(1)
        cm = _COUNTS.search(line)
        if cm and phase != "shrink":
            total += int(cm.group(1)) + int(cm.group(2))
            seen = True
    return total if seen else None


# --- collection --------------------------------------------------------------


@dataclass
class TestRecord:
    """One test's outcome, the statements it names and what it recorded."""

    __test__ = False  # not a pytest test class

    nodeid: str
    outcome: str
    duration: float
    statements: list[str]
    slacks: list[dict] = field(default_factory=list)
    longrepr: str = ""
    meta: bool = False  # a negative control / meta-test: it must fail a broken suite
    errata: list[dict] = field(default_factory=list)
    observations: list[dict] = field(default_factory=list)
    examples: int | None = None  # Hypothesis test cases run
    reason: str = ""  # why it crashed / did not run / was skipped

    def to_entry(self, light: bool = False) -> dict:
        """The JSON test entry (without the duration, which goes to ``timings``).

        ``light``: without series and per-example slack ratios.
        """
        failure = None
        if self.outcome in FAILING and self.longrepr:
            failure = parse_failure(self.longrepr)
        slacks = []
        for s in sorted(self.slacks, key=lambda s: s["statement"]):
            entry = {
                "statement": s["statement"],
                "examples": int(s.get("examples", 1)),
                "ratio": num(s["ratio"]),
                "detail": str(s.get("detail", "")),
            }
            ratios = [] if light else s.get("ratios", [s["ratio"]])[:MAX_RATIOS]
            entry["ratios"] = [num(r) for r in ratios]
            slacks.append(entry)
        return {
            "nodeid": self.nodeid,
            "outcome": self.outcome,
            "statements": list(self.statements),
            "meta": bool(self.meta),
            "examples": self.examples,
            "slacks": slacks,
            "observations": self._observations(light),
            "errata": list(self.errata),
            "failure": failure,
            "reason": self.reason,
        }

    def _observations(self, light: bool) -> list[dict]:
        seen: dict[str, int] = {}
        out = []
        for o in self.observations:
            seen[o["name"]] = seen.get(o["name"], 0) + 1
            out.append(_clean_observation(o, light or seen[o["name"]] > MAX_SERIES_EXAMPLES))
        return out


def _clean_observation(o: dict, light: bool = False) -> dict:
    out = {
        "name": str(o["name"]),
        "statement": str(o.get("statement", "")),
        "values": {k: num(v) for k, v in sorted(o.get("values", {}).items())},
    }
    if o.get("series") is not None and not light:
        out["series"] = thin(dict(sorted(o["series"].items())))
    return out


def statements_from_source(rootdir: str | Path, nodeid: str) -> tuple[list[str], bool]:
    """(statement IDs, meta) of a test that never reported, read from its source.

    Used for tests collected by an xdist worker that crashed before running
    them: the controller never imported them.  Reads the test function's
    docstring and ``meta`` marks (decorator or module ``pytestmark``) with
    :mod:`ast`; returns ``([], False)`` when the source cannot be read.
    """
    parts = nodeid.split("::")
    path = Path(rootdir) / parts[0]
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return [], False
    names = [p.split("[", 1)[0] for p in parts[1:]]

    def is_meta(node: ast.AST) -> bool:
        return "meta" in {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}

    module_meta = any(
        isinstance(n, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets)
        and is_meta(n.value)
        for n in tree.body
    )
    scope: list[ast.stmt] = tree.body
    target = None
    for name in names:
        found = None
        for node in scope:
            if (
                isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == name
            ):
                found = node
        if found is None:
            return [], module_meta
        target = found
        scope = found.body if isinstance(found, ast.ClassDef) else []
    if target is None:
        return [], module_meta
    meta = module_meta or any(is_meta(d) for d in target.decorator_list)
    return named_in(ast.get_docstring(target)), meta


class RunState:
    """What one pytest process (the xdist controller, or a serial run) has seen.

    Fed by the conftest hooks: the collected node IDs, test starts, and every
    test report (from workers too, with their ``user_properties``).
    """

    def __init__(self) -> None:
        self.records: dict[str, TestRecord] = {}
        self.collected: list[str] = []
        self.collected_info: dict[str, tuple[list[str], bool]] = {}
        self.running: set[str] = set()
        self.crashes = 0
        self._source_cache: dict[str, tuple[list[str], bool]] = {}
        self._entry_cache: dict[tuple[str, bool], dict] = {}

    def on_collected(self, ids: Iterable[str], info: dict | None = None) -> None:
        for nodeid in ids:
            if nodeid not in self.collected_info:
                self.collected.append(nodeid)
                self.collected_info[nodeid] = (info or {}).get(nodeid, ([], False))

    def on_start(self, nodeid: str) -> None:
        self.running.add(nodeid)

    def on_report(self, report: Any) -> TestRecord:
        """Fold one pytest ``TestReport`` (setup, call, teardown, or xdist's crash report)."""
        nodeid = report.nodeid
        self._entry_cache.pop((nodeid, True), None)
        self._entry_cache.pop((nodeid, False), None)
        rec = self.records.get(nodeid)
        if rec is None:
            stmts, meta = self.collected_info.get(nodeid, ([], False))
            rec = self.records[nodeid] = TestRecord(nodeid, "not run", 0.0, list(stmts), meta=meta)
        for key, value in getattr(report, "user_properties", ()):
            if key == "statements":
                rec.statements = list(value)
            elif key == "erratum" and value not in rec.errata:
                rec.errata.append(value)
            elif key == "meta":
                rec.meta = True
            elif key == "slack" and value not in rec.slacks:
                rec.slacks.append(value)
            elif key == "observation" and value not in rec.observations:
                rec.observations.append(value)
        stats_text = getattr(report, "__dict__", {}).get("_hypothesis_stats")
        if stats_text:
            rec.examples = hypothesis_examples(stats_text)
        when = report.when
        if when == "???":  # pytest-xdist: "worker 'gwN' crashed while running '...'"
            rec.outcome = "crashed"
            rec.longrepr = str(report.longrepr)
            rec.reason = str(report.longrepr)
            self.crashes += 1
            self.running.discard(nodeid)
        elif when == "call" or (when == "setup" and not report.passed):
            if when == "setup" and report.failed:
                rec.outcome = "error"
            else:
                rec.outcome = report.outcome
            rec.duration += report.duration
            if report.failed:
                rec.longrepr = str(report.longrepr)
            if report.skipped:
                rec.reason = _skip_reason(report.longrepr)
        elif when == "teardown":
            rec.duration += report.duration
            if report.failed and rec.outcome == "passed":
                rec.outcome, rec.longrepr = "error", str(report.longrepr)
            self.running.discard(nodeid)
        else:
            rec.duration += report.duration
        return rec

    def _source(self, rootdir: str | Path, nodeid: str) -> tuple[list[str], bool]:
        if nodeid not in self._source_cache:
            self._source_cache[nodeid] = statements_from_source(rootdir, nodeid)
        return self._source_cache[nodeid]

    def entries(
        self, rootdir: str | Path, final: bool, light: bool = False
    ) -> tuple[list[dict], dict[str, float]]:
        """Test entries of every collected or reported test, and their durations.

        A collected test that never reported is ``not run`` (or ``running`` in a
        partial report, when it had started), with the reason; its statements
        are read from its source when no worker reported them (an xdist
        controller never imports the tests).  ``light`` leaves out the series and
        per-example slacks (for the partial report, rewritten as the run goes).
        """
        out, durations = [], {}
        for nodeid, rec in self.records.items():
            if not rec.statements and not rec.meta and rec.outcome in ("crashed", "not run"):
                rec.statements, rec.meta = self._source(rootdir, nodeid)
            key = (nodeid, light)
            if key not in self._entry_cache:
                self._entry_cache[key] = rec.to_entry(light=light)
            out.append(self._entry_cache[key])
            durations[nodeid] = round(rec.duration, 3)
        for nodeid in self.collected:
            if nodeid in self.records:
                continue
            stmts, meta = self.collected_info.get(nodeid) or ([], False)
            if not stmts and not meta:
                stmts, meta = self._source(rootdir, nodeid)
            if nodeid in self.running:
                outcome = "crashed" if final else "running"
                reason = (
                    "started but never finished: the run was interrupted while it ran"
                    if final
                    else "running when this partial report was written"
                )
            else:
                outcome = "not run"
                if not final:
                    reason = "not reached yet when this partial report was written"
                elif self.crashes:
                    reason = (
                        "never reported: a worker crashed and the test was not rerun "
                        "(see the crashed tests), or the session stopped early"
                    )
                else:
                    reason = "never reported: the session stopped early (-x, --maxfail, interrupt)"
            rec = TestRecord(nodeid, outcome, 0.0, list(stmts), meta=meta, reason=reason)
            out.append(rec.to_entry(light=light))
        out.sort(key=lambda e: e["nodeid"])
        return out, durations


def _skip_reason(longrepr: Any) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr or "")


# --- selection ---------------------------------------------------------------


def selection_of(config: Any) -> dict:
    """Whether this pytest invocation selects the whole suite, and if not, why.

    The whole suite is selected when every configured ``testpaths`` directory
    is covered by an argument given without ``::``, and nothing narrows the
    selection: no ``-k``, ``-m``, ``--deselect``, ``--ignore``/``--ignore-glob``,
    ``--lf``, ``--sw``, or ``--invariants-shard``.
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


# --- the report --------------------------------------------------------------


def _outcome_rank(outcome: str) -> int:
    return OUTCOMES.index(outcome) if outcome in OUTCOMES else 0


def build_report(
    tests: list[dict],
    run: dict,
    benchmarks: dict | None = None,
) -> dict:
    """The report of one (or several merged) runs.

    ``tests``: test entries (:meth:`TestRecord.to_entry`); ``run``: ``profile``,
    ``selection`` (:func:`selection_of`), ``partial``; ``benchmarks``: the
    extracted benchmark metrics (:func:`benchmark_metrics`) or ``None``.
    """
    tests = sorted(tests, key=lambda e: (e["nodeid"], _outcome_rank(e["outcome"])))
    complete = bool(run["selection"]["complete"])
    partial = bool(run.get("partial", False))
    rows = {
        sid: {
            "id": sid,
            "title": title,
            "assumptions": assumptions,
            "tests": [],
            "outcomes": {},
            "examples": 0,
            "worst_slack": None,
            "worst_detail": "",
            "worst_test": None,
            "controls": {"tests": [], "total": 0, "failed_as_required": 0},
            "failures": [],
            "errata": 0,
            "reach": None,
        }
        for sid, title, assumptions in STATEMENTS
    }
    unknown: set[str] = set()
    for t in tests:
        slack_for = {s["statement"]: s for s in t["slacks"]}
        for sid in t["statements"]:
            row = rows.get(sid)
            if row is None:
                unknown.add(sid)
                continue
            if t["meta"]:
                c = row["controls"]
                c["tests"].append(t["nodeid"])
                c["total"] += 1
                # A control passes when the planted bug made the property fail.
                c["failed_as_required"] += t["outcome"] == "passed"
                continue
            row["tests"].append(t["nodeid"])
            row["outcomes"][t["outcome"]] = row["outcomes"].get(t["outcome"], 0) + 1
            if sid not in slack_for and t["outcome"] == "passed" and t.get("examples"):
                row["examples"] += int(t["examples"])
            if t["outcome"] in FAILING:
                row["failures"].append({"test": t["nodeid"], **(t["failure"] or {})})
        if t["meta"]:
            continue
        for sid, s in slack_for.items():
            row = rows.get(sid)
            if row is None:
                unknown.add(sid)
                continue
            if t["nodeid"] not in row["tests"]:
                row["tests"].append(t["nodeid"])
                row["outcomes"][t["outcome"]] = row["outcomes"].get(t["outcome"], 0) + 1
            row["examples"] += int(s["examples"])
            ratio = as_float(s["ratio"])
            best = row["worst_slack"]
            if best is None or ratio > as_float(best) or math.isnan(ratio):
                row["worst_slack"] = num(ratio)
                row["worst_detail"] = s.get("detail", "")
                row["worst_test"] = t["nodeid"]
    errata = sorted(
        ({**e, "test": t["nodeid"]} for t in tests for e in t["errata"]),
        key=lambda e: (e["statement"], e.get("printed", ""), e["test"]),
    )
    for e in errata:
        if e["statement"] in rows:
            rows[e["statement"]]["errata"] += 1
    observations = aggregate_observations(tests)
    for name, agg in observations.items():
        sid = agg["statement"]
        if name.endswith(REACH_SUFFIX) and sid in rows:
            rows[sid]["reach"] = {
                "observation": name,
                "tests": agg["tests"],
                "values": agg["values"],
            }
    for row in rows.values():
        row["tests"] = sorted(set(row["tests"]))
        row["controls"]["tests"].sort()
        row["controls"]["all_failed_as_required"] = (
            row["controls"]["failed_as_required"] == row["controls"]["total"]
        )
        row["status"] = _status(row, has_errata=bool(errata))
    figures = figure_plan(tests, observations)
    if partial:
        for f in figures:
            f["status"], f["reason"] = (
                "not rendered",
                "partial report: figures are drawn at the end",
            )
    problems = _problems(rows, tests, figures, complete, partial, unknown)
    report = {
        "schema": SCHEMA,
        "run": {
            "profile": run["profile"],
            "selection": run["selection"],
            "partial": partial,
            # The shared example database the run replayed from (INVARIANTS_DATABASE), if any.
            "database": run.get("database"),
            "collected": len(tests),
            "outcomes": _count(t["outcome"] for t in tests),
        },
        "statements": [rows[i] for i in IDS],
        "tests": tests,
        "errata": errata,
        "observations": observations,
        "looseness": looseness(rows, observations),
        "laws": laws(observations, tests),
        "figures": figures,
        "benchmarks": benchmarks,
        "problems": problems,
        "ok": not any(p["gating"] for p in problems),
    }
    return report


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return dict(sorted(out.items()))


def _status(row: dict, has_errata: bool) -> str:
    o = row["outcomes"]
    ws = row["worst_slack"]
    over = ws is not None and not as_float(ws) <= 1.0
    if o.get("failed") or o.get("error") or over:
        return "violated"
    if o.get("crashed"):
        return "crashed"
    if o.get("not run") or o.get("running"):
        return "not run"
    if row["id"] == "S-ERR" and has_errata:
        return "erratum"
    if o.get("passed"):
        return "reachable only" if row["reach"] else "held"
    if o.get("skipped"):
        return "skipped"
    return "not checked"


def aggregate_observations(tests: list[dict]) -> dict[str, dict]:
    """Per observation name: statement, tests, examples, and per value key median/min/max."""
    raw: dict[str, dict] = {}
    for t in tests:
        for o in t["observations"]:
            agg = raw.setdefault(
                o["name"],
                {
                    "statement": o["statement"],
                    "tests": [],
                    "examples": 0,
                    "values": {},
                    "with_series": 0,
                },
            )
            if t["nodeid"] not in agg["tests"]:
                agg["tests"].append(t["nodeid"])
            agg["examples"] += 1
            agg["with_series"] += "series" in o
            for k, v in o["values"].items():
                agg["values"].setdefault(k, []).append(v)
    out = {}
    for name in sorted(raw):
        agg = raw[name]
        agg["tests"].sort()
        agg["values"] = {k: stats(v) for k, v in sorted(agg["values"].items())}
        out[name] = agg
    return out


def observation_entries(report: dict, name: str) -> list[dict]:
    """Every recorded example of observation ``name``, in test order."""
    return [o for t in report["tests"] for o in t["observations"] if o["name"] == name]


def looseness(rows: dict, observations: dict) -> list[dict]:
    """The paper's constants against the worst cases found."""
    out = []
    for sid, constant, source in LOOSENESS:
        entry: dict[str, Any] = {"statement": sid, "constant": constant, "source": list(source)}
        if source[0] == "slack":
            ws = rows[sid]["worst_slack"]
            entry["examples"] = rows[sid]["examples"]
            entry["worst"] = ws
            wsf = None if ws is None else as_float(ws)
            entry["looseness"] = None if wsf is None else num(math.inf if wsf <= 0 else 1.0 / wsf)
            entry["measure"] = "worst slack = observed / bound"
        else:
            _, name, key = source
            agg = observations.get(name)
            vals = agg["values"].get(key) if agg else None
            entry["examples"] = agg["examples"] if agg else 0
            entry["worst"] = vals["min"] if vals else None
            entry["looseness"] = vals["min"] if vals else None
            entry["median"] = vals["median"] if vals else None
            entry["measure"] = f"observation {name}.{key} (paper constant / empirical)"
        out.append(entry)
    return out


def laws(observations: dict, tests: list[dict]) -> list[dict]:
    """Measured laws: the named observations' values, overall and per depth when recorded."""
    out = []
    for name, (sid, keys) in LAWS.items():
        agg = observations.get(name)
        entries = [o for t in tests for o in t["observations"] if o["name"] == name]
        for key, expected in keys.items():
            groups: dict[int, list] = {}
            for o in entries:
                if "depth" in o["values"] and key in o["values"]:
                    depth = as_float(o["values"]["depth"])
                    if math.isfinite(depth):
                        groups.setdefault(int(depth), []).append(o["values"][key])
            out.append(
                {
                    "observation": name,
                    "statement": agg["statement"] if agg else sid,
                    "value": key,
                    "expected": expected,
                    "note": LAW_NOTES.get(name, ""),
                    "all": agg["values"].get(key) if agg else None,
                    "by_depth": {str(d): stats(v) for d, v in sorted(groups.items())}
                    if groups
                    else None,
                }
            )
    return out


def figure_plan(tests: list[dict], observations: dict) -> list[dict]:
    """Which figures the recorded data allow (``files`` filled by the renderer)."""
    out = []
    for name, title, obs, keys, gating in FIGURES:
        entry = {"name": name, "title": title, "gating": gating, "files": [], "source": obs}
        if obs is None:
            has = any(s.get("ratios") for t in tests for s in t["slacks"])
            entry["status"] = "rendered" if has else "not rendered"
            entry["reason"] = "" if has else "no slack recorded"
        else:
            has = any(
                o["name"] == obs and all(k in o.get("series", {}) for k in keys)
                for t in tests
                for o in t["observations"]
            )
            entry["status"] = "rendered" if has else "not rendered"
            if has:
                entry["reason"] = ""
            elif obs in observations:
                entry["reason"] = (
                    f"no trajectory recorded: observation {obs!r} has no series " + ", ".join(keys)
                )
            else:
                entry["reason"] = f"no trajectory recorded (no observation {obs!r})"
        out.append(entry)
    return out


def _problems(rows, tests, figures, complete, partial, unknown) -> list[dict]:
    out = []

    def add(kind: str, item: str, message: str, gating: bool) -> None:
        out.append({"kind": kind, "item": item, "message": message, "gating": gating})

    if not complete:
        add(
            "subset",
            "selection",
            "a subset of the suite was selected: unchecked statements and missing figures "
            "are listed but do not fail the run",
            False,
        )
    if partial:
        add("partial", "run", "partial report: the run had not finished when it was written", True)
    for t in tests:
        if t["outcome"] in FAILING:
            what = "crashed" if t["outcome"] == "crashed" else "failed"
            add(
                t["outcome"],
                t["nodeid"],
                f"{t['nodeid']} {what}: "
                + (t.get("reason") or (t["failure"] or {}).get("location") or ""),
                True,
            )
        elif t["outcome"] in ("not run", "running") and not partial:
            add("not run", t["nodeid"], f"{t['nodeid']} did not run: {t['reason']}", True)
    for row in rows.values():
        if row["status"] == "not checked":
            add("not checked", row["id"], f"{row['id']}: no collected test checks it", complete)
        ws = row["worst_slack"]
        if (
            ws is not None
            and not as_float(ws) <= 1.0
            and not any(row["outcomes"].get(o) for o in FAILING)
        ):
            add(
                "slack",
                row["id"],
                f"{row['id']}: worst slack {ws} > 1 in a passing test ({row['worst_test']})",
                True,
            )
    for sid in sorted(unknown):
        add("unknown statement", sid, f"{sid} is recorded but is not in STATEMENTS", True)
    for f in figures:
        if f["status"] != "rendered":
            add(
                "figure",
                f["name"],
                f"figure {f['name']} not rendered: {f['reason']}",
                complete and f["gating"] and not partial,
            )
    return out


# --- the terminal table ------------------------------------------------------


def format_table(report: dict) -> str:
    """A plain-text statement table for the terminal."""
    lines = [
        f"{'statement':9} {'status':14} {'tests':>5} {'examples':>8} {'worst slack':>11} "
        f"{'controls':>8}"
    ]
    for row in report["statements"]:
        ws = row["worst_slack"]
        ws = fmt_slack(ws)
        c = row["controls"]
        controls = f"{c['failed_as_required']}/{c['total']}" if c["total"] else "0"
        lines.append(
            f"{row['id']:9} {row['status']:14} {len(row['tests']):5d} {row['examples']:8d} "
            f"{ws:>11} {controls:>8}"
        )
    gating = [p for p in report["problems"] if p["gating"]]
    info = [p for p in report["problems"] if not p["gating"]]
    if gating:
        lines.append("")
        lines.append(f"run problems ({len(gating)}, each fails the run):")
        shown = problem_lines(gating)
        lines.extend(f"  - {ln}" for ln in shown[:40])
        if len(shown) > 40:
            lines.append(f"  ... and {len(shown) - 40} more (report.md)")
    if info:
        lines.append("")
        lines.extend(f"note: {ln}" for ln in problem_lines(info))
    return "\n".join(lines)


def problem_lines(problems: list[dict]) -> list[str]:
    """One line per problem, unchecked statements grouped on one line."""
    unchecked = [p["item"] for p in problems if p["kind"] == "not checked"]
    out = []
    for p in problems:
        if p["kind"] == "not checked":
            if p["item"] == unchecked[0]:
                out.append(f"not checked by any collected test: {', '.join(unchecked)}")
            continue
        out.append(p["message"].splitlines()[0])
    return out


def strip_volatile(report: dict) -> dict:
    """The report without its run-to-run varying parts (:data:`VOLATILE_KEYS`)."""
    return {k: v for k, v in report.items() if k not in VOLATILE_KEYS}


# --- benchmarks --------------------------------------------------------------

_BENCH_DIRECTION = {
    # schema -> list of (metric name template, getter, better, description)
    "invariants.bench.gd/1": (
        (
            "gd.ratio_a5_over_plain",
            "ratio_a5_over_plain",
            "lower",
            "GD per-step cost, A5 rule / hand-written numpy loop",
        ),
        (
            "gd.ratio_fixed_over_plain",
            "ratio_fixed_over_plain",
            "lower",
            "GD per-step cost, library fixed step / hand-written numpy loop",
        ),
    ),
}


def benchmark_metrics(directory: str | Path) -> dict | None:
    """The benchmark ratios of ``benchmarks/results/*.json``, or ``None`` if there are none.

    Each metric has a ``value``, the direction that is ``better`` ("higher",
    "lower", or "pass" for an issue target met / missed), its ``file`` and a
    ``description``.  Files of a schema this code does not know are listed in
    ``notes`` and not compared.
    """
    import json

    files = sorted(Path(directory).glob("*.json"))
    if not files:
        return None
    metrics: dict[str, dict] = {}
    notes: list[str] = []
    for f in files:
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError) as exc:
            notes.append(f"{f.name}: unreadable ({exc}); not compared")
            continue
        schema = data.get("schema") if isinstance(data, dict) else None
        try:
            if schema == "invariants.bench.flow/1":
                for p in data.get("problems", []):
                    r = (p.get("summary") or {}).get("median_ratio")
                    if r is not None:
                        metrics[f"flow.depth{p['depth']}.speedup_vs_rk45"] = {
                            "value": num(r),
                            "better": "higher",
                            "file": f.name,
                            "description": f"depth {p['depth']}: median over seeds of RK45's "
                            "CPU time / ours, to RK45's own final F",
                        }
            elif schema in _BENCH_DIRECTION:
                for name, key, better, description in _BENCH_DIRECTION[schema]:
                    if key in data:
                        metrics[name] = {
                            "value": num(data[key]),
                            "better": better,
                            "file": f.name,
                            "description": description,
                        }
            else:
                notes.append(f"{f.name}: schema {schema!r} not known to the report; not compared")
                continue
            for t in data.get("issue_targets", []) or []:
                metrics[f"{f.stem}.target: {t['name']}"] = {
                    "value": bool(t["pass"]),
                    "better": "pass",
                    "file": f.name,
                    "description": f"issue target (limit {t.get('limit')})",
                }
            if "pass" in data and "target_ratio" in data:
                metrics[f"{f.stem}.target: ratio <= {data['target_ratio']}"] = {
                    "value": bool(data["pass"]),
                    "better": "pass",
                    "file": f.name,
                    "description": "issue target",
                }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            notes.append(f"{f.name}: unexpected layout ({exc!r}); not compared")
    return {
        "files": [f.name for f in files],
        "metrics": dict(sorted(metrics.items())),
        "notes": notes,
    }
