"""Mutation testing of the library (issue 6; the whole library: issue 18). Not part of CI.

Two runs. The *full run* (below) mutates four modules of ``invariants.core`` exhaustively. The
*sampled run* (``--sample N``, see "the sampled run over the whole library" further down)
measures every other package -- the rest of core, dynamics, strategies, the report's status
and regression logic, relu/errors/database/statements, and properties/ji_telgarsky_2019/claims --
on a seeded
uniform sample of N mutants per package, with a Wilson 95% interval per package::

    python tools/mutation.py --sample 16 --seed 1 --budget-minutes 36 --max-children 1

It writes reports/mutation-sampled.{json,md} and the per-package section of
reports/mutation.{json,md}. ``--rerun MUTANT...`` (with ``--resume``) runs named mutants
again (after a new test); ``--check-sampled`` validates the map and
tools/mutation_sampled_verdicts.toml; ``--interval K N`` and ``--draw N SEED PACKAGE`` print
the interval and the sample (for the meta-tests).

Command (from the repository root, in the dev environment, with mutmut 3 installed there:
``python -m pip install mutmut``)::

    python tools/mutation.py

A full run (losses, bounds, network, maxmargin: 1,695 mutants) took 51 min of wall time
with ``--max-children 2`` on the 2-core dev machine while other test jobs shared the cores
(23 min on 2026-11-27 with one other job), plus ~2.5 min to read the diffs of the ~210
mutants not killed. Timeouts grow with the load; each needs a hand check (see Counting).
Options:

    --max-children N     mutmut worker processes (default 2: one per core of the dev machine)
    --modules M [M ...]  restrict the run to some of the mutated modules (mutants of the
                         others are generated but not run, and left out)
    --workdir DIR        scratch directory (default: $TMPDIR/invariants-mutation)
    --resume             keep DIR's mutmut state: re-test only mutants of changed functions
    --summarise-only     do not run mutmut; rebuild the reports from DIR's last run
    --report NAME        write reports/NAME.json and reports/NAME.md (default: mutation); a
                         re-run of some modules goes beside the full run, e.g.
                         ``--modules maxmargin --report mutation-rerun-maxmargin``
    --verdicts FILE      the verdicts file (default: tools/mutation_verdicts.toml)
    --check-verdicts     validate the verdicts file (and [tool.mutmut]) and exit: 0 if it is
                         well formed, 1 with every malformed entry named
    --classify NAME STATUS LINE
                         print the verdict (JSON) for mutant NAME with mutmut status STATUS
                         whose mutated line is LINE, and exit (what the report would say)

Where things are. The mutated modules live in the package ``PACKAGE`` below (today
``invariants.core``); which of its modules are mutated and which tests run against each
mutant is pyproject.toml's ``[tool.mutmut]`` (``only_mutate``,
``pytest_add_cli_args_test_selection``), which this tool reads and checks against
``PACKAGE``. When the modules move, change ``PACKAGE`` and ``[tool.mutmut]``: the verdicts
are keyed by module-relative names (``losses.x_fn__mutmut_3``) and do not change.

What it does:

1. Copies the working tree (the files ``git ls-files --cached --others --exclude-standard``
   lists, so uncommitted edits count) to the scratch directory: mutmut writes a
   ``mutants/`` tree and its state beside the sources, which must not happen in the
   checkout.
2. Runs ``mutmut run --max-children N`` there. The ``[tool.mutmut]`` section of
   pyproject.toml says what is mutated (``only_mutate``: the four modules) and which tests
   run against each mutant: ``properties/library/test_{losses,bounds,network,maxmargin}.py``
   with ``--invariants-profile ci -n 0 -x -q -p no:cacheprovider`` (mutmut 3 does not work
   under xdist, hence ``-n 0``; its parallelism is ``--max-children``). mutmut runs against
   each mutant only those tests that call the mutated function.
3. Reads ``mutmut results --all true`` and, for every mutant that was not killed,
   ``mutmut show NAME``; classifies each with the verdicts file
   (``tools/mutation_verdicts.toml``, its header says the format) and writes
   ``reports/mutation.json`` (schema ``invariants.mutation/1``) and ``reports/mutation.md``
   in the checkout (or ``reports/NAME.*`` with ``--report NAME``). Verdicts that a full run
   did not use (the mutant is now killed, or its line changed) are listed in the JSON report
   (``stale_verdicts``) and on the console.

Counting. ``killed``: a test failed. ``timeout``: the tests ran more than mutmut's limit
(15 x (their normal time + 1 s)); each timeout in the verdicts was examined and is a mutant
that makes an iteration run (nearly) forever or fails and then shrinks for long, so the
suite would not pass: they count as detected. ``survived``: every selected test passed.
``no tests``: no test of the subset calls the function. A survivor or no-tests mutant is
either *equivalent* (no observable change of behaviour that matters: a message text, a
bound that only gets looser where the tightness is not a claim, a branch that cannot be
reached; the reason is given per mutant) or a *gap* (a property that would kill it is
named). ``score = (killed + timeout) / (total - equivalent)``; ``score_killed_only`` leaves
the timeouts out of the numerator.

The classifications were made by reading each mutant's diff. Each verdict records a
fingerprint of the mutated line, so when the source of a function changes and mutmut's
numbering with it, a stale verdict is not applied: the mutant is reported as *unclassified*
(counted as a gap) until someone looks at it and updates the verdicts file.
"""

from __future__ import annotations

import argparse
import ast
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

# The package whose modules are mutated: the one place to change when they move (with
# pyproject.toml's [tool.mutmut], which load_config checks against it).
PACKAGE = "invariants.core"
PACKAGE_DIR = PACKAGE.replace(".", "/")

SCHEMA = "invariants.mutation/1"
VERDICTS_SCHEMA = "invariants.mutation-verdicts/1"
REPO = Path(__file__).resolve().parent.parent
VERDICTS_FILE = Path(__file__).resolve().with_name("mutation_verdicts.toml")
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "invariants-mutation"

# mutmut's status words (mutmut.stats.status_by_exit_code).
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}
RUN_INFO = ".invariants-mutation-run.json"  # in the work directory: wall time of the last run


# --- configuration: what is mutated, which tests run ----------------------------------------------


@dataclass(frozen=True)
class Config:
    """``[tool.mutmut]`` of pyproject.toml, checked against :data:`PACKAGE`."""

    modules: tuple[str, ...]  # module names inside PACKAGE, in only_mutate's order
    tests: tuple[str, ...]  # pytest_add_cli_args_test_selection
    pytest_args: str  # pytest_add_cli_args, joined

    def path(self, module: str) -> str:
        return f"{PACKAGE_DIR}/{module}.py"


def load_config(pyproject: Path = REPO / "pyproject.toml") -> Config:
    """Read ``[tool.mutmut]``; every ``only_mutate`` path must be a module of PACKAGE."""
    try:
        section = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["mutmut"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"{pyproject}: no readable [tool.mutmut] section ({exc!r})") from exc
    modules = []
    for path in section.get("only_mutate", []):
        m = re.fullmatch(rf"{re.escape(PACKAGE_DIR)}/(\w+)\.py", path)
        if m is None:
            raise SystemExit(
                f"{pyproject}: [tool.mutmut] only_mutate has {path!r}, not a module of "
                f"{PACKAGE} ({PACKAGE_DIR}/NAME.py): change PACKAGE in tools/mutation.py, or "
                "only_mutate, so that they agree"
            )
        modules.append(m.group(1))
    if not modules:
        raise SystemExit(f"{pyproject}: [tool.mutmut] only_mutate lists no module")
    tests = tuple(section.get("pytest_add_cli_args_test_selection", []))
    missing = [t for t in tests if not (pyproject.parent / t).is_file()]
    if not tests or missing:
        raise SystemExit(
            f"{pyproject}: [tool.mutmut] pytest_add_cli_args_test_selection: "
            + (f"missing test files {missing}" if missing else "lists no test file")
        )
    return Config(tuple(modules), tests, " ".join(section.get("pytest_add_cli_args", [])))


# --- verdicts: tools/mutation_verdicts.toml -------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    kind: str  # "E" (equivalent) or "G" (gap)
    fingerprint: str  # fingerprint() of the mutated line(s); "" for a no-tests verdict
    reason: str


@dataclass(frozen=True)
class Verdicts:
    notes: tuple[str, ...]
    timeout_note: str
    survivors: dict[str, Verdict]  # module-relative mutant name -> verdict
    timeouts: dict[str, tuple[str, str]]  # name -> (fingerprint, the test that fails)
    no_tests: dict[str, Verdict]  # "module.x_function" -> verdict on its no-tests mutants


class VerdictsError(ValueError):
    """A malformed verdicts file; the message names every bad entry."""


_MUTANT = re.compile(r"(\w+)\.(x\S+?)__mutmut_(\d+)")
_FUNCTION = re.compile(r"(\w+)\.(x\S+)")
_FINGERPRINT = re.compile(r"[0-9a-f]{10}")
_KINDS = {"E": "equivalent", "G": "gap"}
_TOP_KEYS = {"schema", "notes", "timeout_note", "reasons", "verdicts", "timeouts", "no_tests"}
_SURVIVOR_KEYS = frozenset({"kind", "fingerprint"})  # and reason or reason_key
_TIMEOUT_KEYS = frozenset({"fingerprint", "fails"})
_NO_TESTS_KEYS = frozenset({"kind", "reason"})


def load_verdicts(path: Path = VERDICTS_FILE, modules: tuple[str, ...] | None = None) -> Verdicts:
    """Read and validate the verdicts file; raises :class:`VerdictsError` naming every bad entry.

    With ``modules``, a verdict on a mutant of a module not in the list is an error too.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VerdictsError(f"{path}: cannot read the verdicts file ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise VerdictsError(f"{path}: not valid TOML: {exc}") from exc
    errors: list[str] = []

    def text(where: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{where}: must be a non-empty string, not {value!r}")
            return ""
        return value

    def table(
        where: str,
        value: object,
        keys: frozenset[str] | None = None,
        one_of: frozenset[str] = frozenset(),
    ) -> dict:
        """``value`` as a table; with ``keys``, exactly these keys (and one of ``one_of``).

        An entry with wrong keys is reported once and then skipped (``{}``).
        """
        if not isinstance(value, dict):
            errors.append(f"{where}: must be a table, not {value!r}")
            return {}
        if keys is None:
            return value
        unknown = set(value) - keys - one_of
        missing = keys - set(value)
        given = one_of & set(value)
        before = len(errors)
        if unknown:
            errors.append(f"{where}: unknown key(s) {sorted(unknown)}")
        if missing:
            errors.append(f"{where}: missing key(s) {sorted(missing)}")
        if one_of and len(given) != 1:
            errors.append(f"{where}: needs exactly one of {sorted(one_of)}, has {sorted(given)}")
        return value if len(errors) == before else {}

    def module_ok(where: str, module: str) -> None:
        if modules is not None and module not in modules:
            errors.append(f"{where}: module {module!r} is not mutated (only_mutate: {modules})")

    def kind(where: str, value: object) -> str:
        if value not in _KINDS:
            errors.append(f"{where}: kind must be 'E' (equivalent) or 'G' (gap), not {value!r}")
        return str(value)

    def fingerprint_of(where: str, value: object) -> str:
        if not isinstance(value, str) or not _FINGERPRINT.fullmatch(value):
            errors.append(f"{where}: fingerprint must be 10 lower-case hex digits, not {value!r}")
            return ""
        return value

    unknown = set(data) - _TOP_KEYS
    if unknown:
        errors.append(f"unknown top-level key(s) {sorted(unknown)} (known: {sorted(_TOP_KEYS)})")
    if data.get("schema") != VERDICTS_SCHEMA:
        errors.append(f"schema: must be {VERDICTS_SCHEMA!r}, not {data.get('schema')!r}")
    notes = data.get("notes", [])
    if not isinstance(notes, list):
        errors.append(f"notes: must be a list of strings, not {notes!r}")
        notes = []
    notes = [text(f"notes[{i}]", n) for i, n in enumerate(notes)]
    timeout_note = text("timeout_note", data.get("timeout_note"))
    reasons = table("[reasons]", data.get("reasons", {}))
    for key, value in reasons.items():
        text(f"[reasons] {key}", value)
    used: set[str] = set()

    survivors: dict[str, Verdict] = {}
    for name, entry in table("[verdicts]", data.get("verdicts", {})).items():
        where = f'[verdicts."{name}"]'
        m = _MUTANT.fullmatch(name)
        if m is None:
            errors.append(f"{where}: not a module-relative mutant name (MODULE.x_FN__mutmut_N)")
            continue
        module_ok(where, m.group(1))
        entry = table(where, entry, _SURVIVOR_KEYS, frozenset({"reason", "reason_key"}))
        if not entry:
            continue
        if "reason_key" in entry:
            key = entry["reason_key"]
            if key not in reasons:
                errors.append(f"{where}: reason_key {key!r} is not a key of [reasons]")
            used.add(key)
            reason = reasons.get(key, "")
        else:
            reason = text(f"{where} reason", entry.get("reason"))
        survivors[name] = Verdict(
            kind(where, entry.get("kind")),
            fingerprint_of(where, entry.get("fingerprint")),
            reason,
        )
    for key in sorted(set(reasons) - used):
        errors.append(f"[reasons] {key}: used by no verdict (delete it)")

    timeouts: dict[str, tuple[str, str]] = {}
    for name, entry in table("[timeouts]", data.get("timeouts", {})).items():
        where = f'[timeouts."{name}"]'
        m = _MUTANT.fullmatch(name)
        if m is None:
            errors.append(f"{where}: not a module-relative mutant name (MODULE.x_FN__mutmut_N)")
            continue
        module_ok(where, m.group(1))
        entry = table(where, entry, _TIMEOUT_KEYS)
        if entry:
            timeouts[name] = (
                fingerprint_of(where, entry.get("fingerprint")),
                text(f"{where} fails", entry.get("fails")),
            )

    no_tests: dict[str, Verdict] = {}
    for name, entry in table("[no_tests]", data.get("no_tests", {})).items():
        where = f'[no_tests."{name}"]'
        m = _FUNCTION.fullmatch(name)
        if m is None or "__mutmut_" in name:
            errors.append(f"{where}: not a module-relative function name (MODULE.x_FN)")
            continue
        module_ok(where, m.group(1))
        entry = table(where, entry, _NO_TESTS_KEYS)
        if entry:
            no_tests[name] = Verdict(
                kind(where, entry.get("kind")), "", text(f"{where} reason", entry.get("reason"))
            )

    if errors:
        raise VerdictsError(
            f"{path}: {len(errors)} error(s) in the verdicts file:\n"
            + "\n".join(f"  {e}" for e in errors)
        )
    return Verdicts(tuple(notes), timeout_note, survivors, timeouts, no_tests)


def missing_functions(verdicts: Verdicts, config: Config, root: Path = REPO) -> list[str]:
    """Verdict names whose function is no longer in its module's source (stale entries)."""
    defined: dict[str, set[str]] = {}
    for module in config.modules:
        tree = ast.parse((root / config.path(module)).read_text(encoding="utf-8"))
        names = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(f"x_{node.name}")
            elif isinstance(node, ast.ClassDef):
                names |= {
                    f"xǁ{node.name}ǁ{f.name}"
                    for f in node.body
                    if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
                }
        defined[module] = names
    stale = []
    for name in [*verdicts.survivors, *verdicts.timeouts]:
        module, fn, _ = _MUTANT.fullmatch(name).groups()
        if fn not in defined.get(module, set()):
            stale.append(name)
    for name in verdicts.no_tests:
        module, fn = _FUNCTION.fullmatch(name).groups()
        if fn not in defined.get(module, set()):
            stale.append(name)
    return stale


# --- running ------------------------------------------------------------------------------------


def _copy_tree(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        rel = Path(os.fsdecode(raw))
        src = REPO / rel
        if not src.is_file():  # deleted but still in the index
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _mutmut(workdir: Path, *args: str, capture: bool = True) -> str:
    env = dict(os.environ)
    # Hypothesis would load its own "ci" profile (docs/numerics.md, "Tooling facts").
    env.pop("CI", None)
    proc = subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=workdir,
        env=env,
        text=True,
        capture_output=capture,
    )
    if proc.returncode != 0:
        out = (proc.stdout or "") + (proc.stderr or "") if capture else ""
        raise SystemExit(f"mutmut {' '.join(args)} failed (exit {proc.returncode})\n{out[-4000:]}")
    return proc.stdout if capture else ""


def run(
    workdir: Path, max_children: int, modules: list[str], config: Config, resume: bool
) -> float:
    """Copy the tree into ``workdir`` and run mutmut there; returns the wall time in s."""
    if workdir.exists() and not resume:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    _copy_tree(workdir)
    names = [] if set(modules) == set(config.modules) else [f"{PACKAGE}.{m}.*" for m in modules]
    start = time.monotonic()
    _mutmut(workdir, "run", "--max-children", str(max_children), *names, capture=False)
    wall = time.monotonic() - start
    (workdir / RUN_INFO).write_text(json.dumps({"wall_seconds": wall, "modules": modules}))
    return wall


# --- summarising ----------------------------------------------------------------------------------

_RESULT_LINE = re.compile(rf"^\s*({re.escape(PACKAGE)}\.(\w+)\.\S+): (.+?)\s*$")


def short_name(name: str) -> str:
    """``invariants.core.losses.x_f__mutmut_3`` -> ``losses.x_f__mutmut_3`` (the verdicts' key)."""
    if not name.startswith(PACKAGE + "."):
        raise ValueError(f"{name!r} is not a mutant of {PACKAGE}")
    return name.removeprefix(PACKAGE + ".")


def module_of(name: str) -> str:
    return short_name(name).split(".", 1)[0]


def results(workdir: Path, modules: list[str]) -> dict[str, str]:
    out = {}
    for line in _mutmut(workdir, "results", "--all", "true").splitlines():
        m = _RESULT_LINE.match(line)
        if m and m.group(2) in modules:
            out[m.group(1)] = m.group(3)
    return out


def diff_of(workdir: Path, name: str) -> tuple[str, str, str]:
    """``(diff, original line, mutated line)`` of one mutant (lines stripped, joined by ' / ')."""
    text = _mutmut(workdir, "show", name)
    diff = text.split("\n", 1)[1] if text.startswith("#") else text
    was = [
        ln[1:].strip()
        for ln in diff.splitlines()
        if ln.startswith("-") and not ln.startswith("---")
    ]
    now = [
        ln[1:].strip()
        for ln in diff.splitlines()
        if ln.startswith("+") and not ln.startswith("+++")
    ]
    return diff.strip(), " / ".join(was), " / ".join(now)


def fingerprint(now: str) -> str:
    """Short hash of a mutant's mutated line(s): ties a classification to the code it read."""
    return hashlib.sha1(now.encode()).hexdigest()[:10]


def classify(name: str, status: str, now: str, verdicts: Verdicts) -> tuple[str, str]:
    """``(kind, reason)`` of a mutant that was not killed, from the verdicts file.

    ``kind`` is ``detected`` (a timeout), ``equivalent``, ``gap`` or ``unclassified`` (no
    verdict, or one whose fingerprint does not match the mutated line ``now``).
    """
    short = short_name(name)
    if status == "timeout":
        known = verdicts.timeouts.get(short)
        if known and known[0] == fingerprint(now):
            return "detected", f"{verdicts.timeout_note} Fails: {known[1]}."
        return "detected", "timeout (not re-checked since the review)"
    if status == "no tests":
        function = short.rpartition("__mutmut_")[0]
        verdict = verdicts.no_tests.get(function)
        if verdict is not None:
            return _KINDS[verdict.kind], verdict.reason
    verdict = verdicts.survivors.get(short)
    if verdict is not None and verdict.fingerprint == fingerprint(now):
        return _KINDS[verdict.kind], verdict.reason
    return "unclassified", (
        "not examined (new mutant, or its function changed since the review): read "
        "`mutmut show` in the work directory and add it to tools/mutation_verdicts.toml"
    )


def stale_verdicts(
    verdicts: Verdicts, modules: list[str], status: dict[str, str], nows: dict[str, str]
) -> dict[str, list[str]]:
    """Verdicts of ``modules`` that this run did not apply, by why (for the next review).

    ``changed``: the mutant was not killed but its mutated line no longer matches;
    ``not_needed``: the mutant is detected now, or no longer exists.
    """
    changed, not_needed = [], []
    entries = [(n, v.fingerprint, "survivor") for n, v in verdicts.survivors.items()]
    entries += [(n, fp, "timeout") for n, (fp, _) in verdicts.timeouts.items()]
    for short, fp, which in entries:
        if short.split(".", 1)[0] not in modules:
            continue
        name = f"{PACKAGE}.{short}"
        s = status.get(name)
        wanted = s == "timeout" if which == "timeout" else s is not None and s not in DETECTED
        if not wanted:
            not_needed.append(short)
        elif fingerprint(nows[name]) != fp:
            changed.append(short)
    for function in verdicts.no_tests:
        if function.split(".", 1)[0] not in modules:
            continue
        prefix = f"{PACKAGE}.{function}__mutmut_"
        if not any(n.startswith(prefix) and s == "no tests" for n, s in status.items()):
            not_needed.append(function)
    return {"changed": sorted(changed), "not_needed": sorted(not_needed)}


def summarise(
    workdir: Path,
    modules: list[str],
    wall_s: float | None,
    max_children: int,
    config: Config,
    verdicts: Verdicts,
    report_name: str = "mutation",
) -> dict:
    status = results(workdir, modules)
    if not status:
        raise SystemExit(f"no mutmut results in {workdir}: run without --summarise-only first")
    unchecked = sorted(n for n, s in status.items() if s == "not checked")
    if unchecked:
        raise SystemExit(f"{len(unchecked)} mutants not checked yet (e.g. {unchecked[0]}): rerun")
    counts: dict[str, int] = {}
    per_module: dict[str, dict[str, int]] = {m: {} for m in modules}
    for name, s in status.items():
        counts[s] = counts.get(s, 0) + 1
        mod = module_of(name)
        per_module[mod][s] = per_module[mod].get(s, 0) + 1
    equivalent, gaps, timeouts = [], [], []
    todo = sorted(n for n, s in status.items() if s not in DETECTED or s == "timeout")
    with ThreadPoolExecutor(max_workers=max(1, max_children)) as pool:
        diffs = dict(zip(todo, pool.map(lambda n: diff_of(workdir, n), todo), strict=True))
    for name in todo:
        s = status[name]
        diff, was, now = diffs[name]
        entry = {"mutant": name, "status": s, "was": was, "now": now}
        kind, reason = classify(name, s, now, verdicts)
        entry["reason"] = reason
        if s == "timeout":
            timeouts.append(entry)
            continue
        entry["kind"] = kind
        if kind == "unclassified":
            entry["diff"] = diff
            entry["fingerprint"] = fingerprint(now)
        (equivalent if kind == "equivalent" else gaps).append(entry)
    total = len(status)
    killed = counts.get("killed", 0)
    timeout = counts.get("timeout", 0)
    other_detected = sum(counts.get(s, 0) for s in DETECTED - {"killed", "timeout"})
    denominator = total - len(equivalent)
    detected = killed + timeout + other_detected
    full = set(modules) == set(config.modules)
    return {
        "schema": SCHEMA,
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "tool": f"mutmut {_mutmut_version()}",
        "command": "python tools/mutation.py"
        + ("" if full else f" --modules {' '.join(modules)}")
        + (f" --max-children {max_children}" if max_children != 2 else "")
        + (f" --report {report_name}" if report_name != "mutation" else ""),
        "modules": [config.path(m) for m in modules],
        "tests": list(config.tests),
        "pytest_args": config.pytest_args,
        "wall_seconds": None if wall_s is None else round(wall_s),
        "max_children": max_children,
        "total": total,
        "killed": killed,
        "timeout": timeout,
        "survived": counts.get("survived", 0),
        "no_tests": counts.get("no tests", 0),
        "suspicious": counts.get("suspicious", 0),
        "other": {
            k: v
            for k, v in counts.items()
            if k not in {"killed", "timeout", "survived", "no tests", "suspicious"}
        },
        "per_module": per_module,
        "equivalent_count": len(equivalent),
        "gap_count": len(gaps),
        "unclassified_count": sum(1 for g in gaps if g["kind"] == "unclassified"),
        "score": round(detected / denominator, 4) if denominator else None,
        "score_killed_only": round((killed + other_detected) / denominator, 4)
        if denominator
        else None,
        "score_definition": "(killed + timeout) / (total - equivalent)",
        "notes": list(verdicts.notes),
        "stale_verdicts": stale_verdicts(
            verdicts, modules, status, {n: d[2] for n, d in diffs.items()}
        ),
        "timeouts": timeouts,
        "equivalent": equivalent,
        "gaps": gaps,
    }


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _compress(names: list[str]) -> str:
    """``a.f__mutmut_1, a.f__mutmut_2, a.f__mutmut_5`` -> ``a.f`` 1-2, 5 (for the tables)."""
    by_fn: dict[str, list[int]] = {}
    for n in names:
        fn, _, num = n.rpartition("__mutmut_")
        by_fn.setdefault(fn, []).append(int(num))
    parts = []
    for fn, nums in by_fn.items():
        nums.sort()
        runs, start = [], nums[0]
        for a, b in zip(nums, [*nums[1:], None], strict=True):
            if b != a + 1:
                runs.append(f"{start}" if start == a else f"{start}-{a}")
                start = b
        parts.append(f"`{fn}` {', '.join(runs)}")
    return "; ".join(parts)


def _grouped(entries: list[dict]) -> list[str]:
    """One row per reason: how many mutants, which, and the reason (for a gap: the property)."""
    if not entries:
        return ["(none)"]
    groups: dict[str, list[str]] = {}
    for e in entries:
        groups.setdefault(e["reason"], []).append(short_name(e["mutant"]))
    rows = ["| # | mutants | reason |", "| ---: | --- | --- |"]
    for reason, names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[1][0])):
        rows.append(f"| {len(names)} | {_md_cell(_compress(names))} | {_md_cell(reason)} |")
    return rows


def markdown(report: dict) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    wall = report["wall_seconds"]
    lines = [
        "# Mutation score",
        "",
        f"`{report['command']}` ({report['tool']}, `--max-children {report['max_children']}`"
        + (f", {wall / 60:.0f} min wall" if wall else "")
        + f"; generated {report['generated']}).",
        "",
        "Mutated: " + ", ".join(f"`{m}`" for m in report["modules"]) + ". Tests run against "
        "each mutant (those of them that call the mutated function): "
        + ", ".join(f"`{t}`" for t in report["tests"])
        + f" with `{report['pytest_args']}`. Verdicts: `tools/mutation_verdicts.toml`.",
        "",
        f"**Score {pct(report['score'])}** = (killed + timeout) / (total - equivalent) = "
        f"({report['killed']} + {report['timeout']}) / ({report['total']} - "
        f"{report['equivalent_count']}); killed only: {pct(report['score_killed_only'])}. "
        f"Not killed and not equivalent: {report['gap_count']} gaps"
        + (
            f" ({report['unclassified_count']} unclassified)"
            if report["unclassified_count"]
            else ""
        )
        + ".",
        "",
        "| module | total | killed | timeout | survived | no tests | equivalent | gaps | score |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mod, c in report["per_module"].items():
        eq = sum(1 for e in report["equivalent"] if module_of(e["mutant"]) == mod)
        gp = sum(1 for e in report["gaps"] if module_of(e["mutant"]) == mod)
        tot = sum(c.values())
        det = c.get("killed", 0) + c.get("timeout", 0)
        lines.append(
            f"| {mod} | {tot} | {c.get('killed', 0)} | {c.get('timeout', 0)} | "
            f"{c.get('survived', 0)} | {c.get('no tests', 0)} | {eq} | {gp} | "
            f"{pct(det / (tot - eq) if tot > eq else None)} |"
        )
    lines += [
        f"| **all** | {report['total']} | {report['killed']} | {report['timeout']} | "
        f"{report['survived']} | {report['no_tests']} | {report['equivalent_count']} | "
        f"{report['gap_count']} | {pct(report['score'])} |",
        "",
        "## Gaps: the property that would kill them",
        "",
    ]
    lines += _grouped(report["gaps"])
    lines += ["", "## Equivalent mutants", "", *_grouped(report["equivalent"])]
    lines += ["", "## Timeouts (counted as detected)", "", *_grouped(report["timeouts"])]
    if report.get("notes"):
        lines += ["", "## Notes", "", *(f"- {n}" for n in report["notes"])]
    text = "\n".join(lines) + "\n"
    if report.get("sampled"):  # the sampled run over the rest of the library, one level down
        s = report["sampled"]["packages"]
        summary = ", ".join(
            f"{k} {100 * v['score']:.0f}% [{100 * v['interval95'][0]:.0f}, "
            f"{100 * v['interval95'][1]:.0f}]"
            for k, v in s.items()
            if v["score"] is not None
        )
        text = text.replace(
            "\n\n",
            f"\n\nThe rest of the library, sampled (score, 95% interval): {summary}; "
            "see the last section.\n\n",
            1,
        )
        section = markdown_sampled(report["sampled"], report).replace("\n#", "\n##")
        text += "\n#" + section
    return text


# --- the sampled run over the whole library (issue 18, item 3) ------------------------------------
#
# The full run above mutates four modules of invariants.core exhaustively (1,694 mutants, 51 min
# on 2 cores). The rest of the library (dynamics, strategies, the report's status and regression
# logic, the other core modules, relu/errors/database/statements) and
# properties/ji_telgarsky_2019/claims are
# measured on a seeded uniform sample of mutants per package, with a 95% Wilson interval on each
# package's score:
#
#     python tools/mutation.py --sample 25 --seed 1 --max-children 1
#
# writes reports/mutation-sampled.{json,md} (or --report NAME) and the ``packages`` section of
# reports/mutation.{json,md} (the full run's part is kept). mutmut 3 only generates the mutants
# (its trampolines choose the mutant from MUTANT_UNDER_TEST at each call); this tool runs them:
# each sampled mutant gets one ``python -m pytest`` in the work directory's mutants/ tree on the
# test files SAMPLED_PACKAGES maps its module to, with SAMPLED_PYTEST_ARGS (the CI profile,
# -n 0, -x) and Hypothesis's shrink phase off (see _NOSHRINK_PLUGIN: shrinking only minimises
# a failure already found, so killed/survived is unchanged and a kill costs no shrink time).
# Results are stored per mutant in the work directory: a re-run with --resume skips mutants
# already run whose mutated source is unchanged (incremental). Survivors are classified by
# tools/mutation_sampled_verdicts.toml (keys: full mutant names; fingerprint as above).

# Package -> {module path: the test files run against each of its mutants}. The tests of a module
# are those that import it (directly, or through the claim module they check) and exercise it:
# the direct importers among properties/ (the four full-run modules' files for core.rounding, the
# claim module's own test file and its negative controls for a claim module). test_fuzz.py (a
# time budget, not a property), test_layering.py and test_layout.py (source text, not behaviour)
# and test_mutation_tool.py are never run against a mutant. Each module's files are listed
# cheapest first (MEASURED_SECONDS), so under -x a kill by a cheap file costs little. The library
# tests that call a module's functions directly (test_flow_guards, test_gd_bookkeeping,
# test_estimators, test_tolerances, test_report_outcomes, test_vacuity, test_strategies_reach) are
# mapped to each module they call (not to one whose names they only import, e.g. errors.py's
# exception classes, or invariants/core/maxmargin.py of the full run).
SAMPLED_PACKAGES: dict[str, dict[str, tuple[str, ...]]] = {
    "core": {
        "invariants/core/theta.py": (
            "properties/library/test_theta.py",
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_lemma3_4_controls.py",
            "properties/ji_telgarsky_2019/test_assumptions.py",
            "properties/ji_telgarsky_2019/test_lemma3_4.py",
        ),
        "invariants/core/lemma4.py": (
            "properties/library/test_lemma4.py",
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/ji_telgarsky_2019/controls/test_lemma3_4_controls.py",
            "properties/ji_telgarsky_2019/test_assumptions.py",
            "properties/ji_telgarsky_2019/test_lemma3_4.py",
        ),
        "invariants/core/limits.py": (
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/ji_telgarsky_2019/controls/test_section2_limits_controls.py",
            "properties/ji_telgarsky_2019/test_section3_limits.py",
            "properties/ji_telgarsky_2019/test_section2_limits.py",
        ),
        "invariants/core/rounding.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/library/test_gd_bookkeeping.py",
            "properties/library/test_data.py",
            "properties/library/test_losses.py",
            "properties/library/test_bounds.py",
            "properties/library/test_network.py",
            "properties/library/test_maxmargin.py",
        ),
        "invariants/core/a2.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/library/test_network.py",
            "properties/library/test_strategies.py",
            "properties/library/test_flow_accuracy.py",
        ),
        "invariants/core/data.py": (
            "properties/library/test_gd_bookkeeping.py",
            "properties/library/test_data.py",
            "properties/library/test_flow_guards.py",
            "properties/library/test_strategies.py",
        ),
    },
    "dynamics": {
        "invariants/dynamics/flow.py": (
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/library/test_gd_bookkeeping.py",
            "properties/library/test_flow_guards.py",
            "properties/ji_telgarsky_2019/controls/test_section2_flow_controls.py",
            "properties/library/test_flow_accuracy.py",
            "properties/ji_telgarsky_2019/test_section2_flow.py",
        ),
        # The guard's allowances, carved out of flow.py (issue 19): the guard's tests.
        "invariants/dynamics/budget.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/library/test_flow_guards.py",
            "properties/ji_telgarsky_2019/controls/test_section2_flow_controls.py",
            "properties/ji_telgarsky_2019/test_section2_flow.py",
        ),
        # flow.py's three leaves (issue 19): the files that exercised them inside flow.py.
        "invariants/dynamics/records.py": (
            "properties/library/test_gd_bookkeeping.py",
            "properties/library/test_flow_guards.py",
            "properties/ji_telgarsky_2019/controls/test_section2_flow_controls.py",
            "properties/ji_telgarsky_2019/test_section2_flow.py",
        ),
        "invariants/dynamics/quadrature.py": (
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/library/test_gd_bookkeeping.py",
            "properties/ji_telgarsky_2019/controls/test_section2_flow_controls.py",
            "properties/library/test_flow_accuracy.py",
            "properties/ji_telgarsky_2019/test_section2_flow.py",
        ),
        "invariants/dynamics/reference.py": (
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/library/test_flow_accuracy.py",
        ),
        "invariants/dynamics/gd.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/library/test_gd_bookkeeping.py",
            "properties/ji_telgarsky_2019/controls/test_section3_gd_controls.py",
            "properties/ji_telgarsky_2019/unit/test_vacuity.py",
            "properties/ji_telgarsky_2019/test_section3_gd.py",
        ),
    },
    "strategies": {
        # The package's modules; test_strategies.py also checks a3_datasets' own promises
        # (S-L3's ubar, gamma, support, theta), which rest on a3 and on its primitives.
        "invariants/strategies/arguments.py": (
            "properties/library/test_strategies_reach.py",
            "properties/library/test_strategies.py",
        ),
        "invariants/strategies/primitives.py": (
            "properties/library/test_strategies_reach.py",
            "properties/library/test_strategies.py",
        ),
        "invariants/strategies/data.py": (
            "properties/library/test_strategies_reach.py",
            "properties/library/test_strategies.py",
        ),
        "invariants/strategies/networks.py": (
            "properties/library/test_strategies_reach.py",
            "properties/library/test_strategies.py",
        ),
        "invariants/strategies/a3.py": (
            "properties/library/test_strategies_reach.py",
            "properties/library/test_strategies.py",
        ),
    },
    "report": {
        "invariants/report/statement_table.py": (
            "properties/meta/test_report_outcomes.py",
            "properties/ji_telgarsky_2019/unit/test_vacuity.py",
            "properties/meta/test_reporting.py",
        ),
        "invariants/report/compare.py": (
            "properties/meta/test_report_outcomes.py",
            "properties/ji_telgarsky_2019/unit/test_vacuity.py",
            "properties/meta/test_reporting.py",
        ),
        "invariants/report/baseline.py": (
            "properties/meta/test_report_outcomes.py",
            "properties/ji_telgarsky_2019/unit/test_vacuity.py",
            "properties/meta/test_reporting.py",
        ),
    },
    "claims": {
        "properties/ji_telgarsky_2019/claims/section2_flow.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_section2_flow_controls.py",
            "properties/ji_telgarsky_2019/test_section2_flow.py",
        ),
        "properties/ji_telgarsky_2019/claims/section2_limits.py": (
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/unit/test_vacuity.py",
            "properties/ji_telgarsky_2019/controls/test_section2_limits_controls.py",
            "properties/ji_telgarsky_2019/test_section2_limits.py",
        ),
        "properties/ji_telgarsky_2019/claims/section3_gd.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_section3_gd_controls.py",
            "properties/ji_telgarsky_2019/unit/test_vacuity.py",
            "properties/ji_telgarsky_2019/test_section3_gd.py",
        ),
        "properties/ji_telgarsky_2019/claims/section3_limits.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_section3_limits_controls.py",
            "properties/ji_telgarsky_2019/test_section3_limits.py",
        ),
        "properties/ji_telgarsky_2019/claims/section3_smoothness.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_section3_smoothness_controls.py",
            "properties/ji_telgarsky_2019/test_section3_smoothness.py",
        ),
        "properties/ji_telgarsky_2019/claims/lemma3_4.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_lemma3_4_controls.py",
            "properties/ji_telgarsky_2019/test_lemma3_4.py",
        ),
        "properties/ji_telgarsky_2019/claims/appendix_a.py": (
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_appendix_a_controls.py",
            "properties/ji_telgarsky_2019/test_appendix_a.py",
        ),
        "properties/ji_telgarsky_2019/claims/assumptions.py": (
            "properties/ji_telgarsky_2019/controls/test_assumptions_controls.py",
            "properties/ji_telgarsky_2019/test_assumptions.py",
        ),
        "properties/ji_telgarsky_2019/claims/fig2.py": (
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_fig2_controls.py",
            "properties/ji_telgarsky_2019/test_fig2.py",
        ),
    },
    # The certified verdicts (docs/certified.md): the ball arithmetic and its claim glue, run
    # against their unit tests and controls (a mutant that makes a certificate wrong either
    # breaks an enclosure of test_certify or a refutation of test_certified_controls).
    "certify": {
        **{
            f"invariants/certify/{name}.py": (
                "properties/ji_telgarsky_2019/controls/test_certified_controls.py",
                "properties/library/test_certify.py",
            )
            for name in ("balls", "network", "steps", "spectral", "geometry")
        },
        "properties/ji_telgarsky_2019/claims/certified.py": (
            "properties/ji_telgarsky_2019/controls/test_certified_controls.py",
            "properties/library/test_certify.py",
        ),
    },
    "other": {
        "invariants/relu.py": (
            "properties/library/test_relu.py",
            "properties/ji_telgarsky_2019/unit/test_estimators.py",
            "properties/ji_telgarsky_2019/unit/test_tolerances.py",
            "properties/ji_telgarsky_2019/controls/test_fig2_controls.py",
            "properties/ji_telgarsky_2019/test_fig2.py",
        ),
        "invariants/errors.py": (
            "properties/library/test_data.py",
            "properties/library/test_network.py",
            "properties/library/test_maxmargin.py",
        ),
        "invariants/database.py": ("properties/meta/test_reporting.py",),
        "invariants/statements.py": (
            "properties/meta/test_report_outcomes.py",
            "properties/ji_telgarsky_2019/unit/test_vacuity.py",
            "properties/meta/test_reporting.py",
        ),
    },
}
# The forked children import pytest's plugins (hypothesis) before pytest.main can rewrite their
# asserts; pytest's warning about it would be an error (filterwarnings = error), so it alone is
# ignored. Every other warning stays an error.
SAMPLED_PYTEST_ARGS = (
    "-W",
    "ignore::pytest.PytestAssertRewriteWarning",
    "--invariants-profile",
    "ci",
    "-n",
    "0",
    "-x",
    "-q",
    "-p",
    "no:cacheprovider",
)
SAMPLED_SCHEMA = "invariants.mutation-sampled/1"
SAMPLED_VERDICTS_SCHEMA = "invariants.mutation-sampled-verdicts/1"
SAMPLED_VERDICTS_FILE = VERDICTS_FILE.with_name("mutation_sampled_verdicts.toml")
SAMPLED_RESULTS = ".invariants-mutation-sampled.json"  # in the work directory
# Seconds of each test file (setup + call, wall) in one `pytest -n 0 --invariants-profile ci
# --durations=0` run of the whole suite on 2026-12-05 15:00-15:11 UTC, the 2 cores shared with
# ~5 other test jobs (that run: 680 s wall, 187 s CPU). The timeout of a mutant's run is
# TIMEOUT_FACTOR x the sum over its test files + TIMEOUT_SLACK_S: a mutant that leaves the
# tests' work unchanged takes about that sum (a kill under -x, less); the factor 2 covers a load
# twice that of the measurement and the slack pytest's collection in the forked child. A run
# beyond it is a mutant that makes an iteration run (nearly) forever, which CI would not pass
# either: counted as detected, and listed.
MEASURED_SECONDS: dict[str, float] = {
    "properties/ji_telgarsky_2019/test_section2_limits.py": 235.8,
    "properties/ji_telgarsky_2019/test_section2_flow.py": 106.4,
    "properties/meta/test_reporting.py": 105.3,
    "properties/library/test_flow_accuracy.py": 59.0,
    "properties/ji_telgarsky_2019/test_section3_limits.py": 31.9,
    "properties/ji_telgarsky_2019/test_section3_gd.py": 28.4,
    "properties/ji_telgarsky_2019/test_lemma3_4.py": 25.4,
    "properties/ji_telgarsky_2019/test_fig2.py": 18.5,
    "properties/library/test_strategies.py": 10.6,
    "properties/ji_telgarsky_2019/test_section3_smoothness.py": 10.3,
    "properties/ji_telgarsky_2019/test_assumptions.py": 9.2,
    "properties/ji_telgarsky_2019/controls/test_section2_limits_controls.py": 5.0,
    "properties/library/test_maxmargin.py": 4.6,
    "properties/ji_telgarsky_2019/controls/test_section2_flow_controls.py": 4.6,
    "properties/ji_telgarsky_2019/test_appendix_a.py": 3.9,
    "properties/ji_telgarsky_2019/controls/test_fig2_controls.py": 3.6,
    "properties/library/test_network.py": 2.7,
    "properties/ji_telgarsky_2019/controls/test_lemma3_4_controls.py": 1.1,
    "properties/ji_telgarsky_2019/controls/test_section3_gd_controls.py": 0.9,
    "properties/library/test_bounds.py": 0.8,
    "properties/library/test_losses.py": 0.6,
    "properties/library/test_data.py": 0.4,
    # Added after that run (measured alone, 2026-12-05 16:20 UTC, 5 tests in 0.06 s).
    "properties/library/test_relu.py": 0.1,
    # The library tests that landed after it (one `pytest -n 0 --invariants-profile ci
    # --durations=0` run of the eight files, 2026-12-05 16:23 UTC, load ~3: 162 tests, 13.9 s).
    "properties/library/test_strategies_reach.py": 8.6,
    "properties/ji_telgarsky_2019/unit/test_vacuity.py": 2.1,
    "properties/library/test_flow_guards.py": 1.6,
    "properties/library/test_gd_bookkeeping.py": 0.3,
    "properties/meta/test_report_outcomes.py": 0.2,
    "properties/ji_telgarsky_2019/unit/test_estimators.py": 0.1,
    "properties/ji_telgarsky_2019/unit/test_tolerances.py": 0.1,
    # Split out of test files by issue 19 (their tests' share of the parent's seconds above:
    # the parents keep their old figure, an overestimate, so timeouts only grow).
    "properties/library/test_theta.py": 2.0,
    "properties/library/test_lemma4.py": 3.0,
    "properties/ji_telgarsky_2019/controls/test_section3_smoothness_controls.py": 1.0,
    "properties/ji_telgarsky_2019/controls/test_section3_limits_controls.py": 2.0,
    "properties/ji_telgarsky_2019/controls/test_appendix_a_controls.py": 0.1,
    "properties/ji_telgarsky_2019/controls/test_assumptions_controls.py": 0.5,
    # The certified verdicts' tests (one `pytest -n 0 --invariants-profile ci` run each,
    # 2026-12-05 17:55 UTC: 16 tests in 0.53 s, 5 tests in 0.11 s).
    "properties/library/test_certify.py": 0.5,
    "properties/ji_telgarsky_2019/controls/test_certified_controls.py": 0.1,
}
TIMEOUT_FACTOR = 2.0
TIMEOUT_SLACK_S = 30.0
# A pytest plugin (written into the mutants/ tree) that loads the chosen profile without the
# shrink phase, after the root conftest has loaded it.
_NOSHRINK_PLUGIN = '''\
"""Written by tools/mutation.py: the loaded Hypothesis profile without the shrink phase."""

import pytest
from hypothesis import Phase, settings


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    phases = [p for p in settings.default.phases if p is not Phase.shrink]
    settings.register_profile("mutation-noshrink", parent=settings.default, phases=phases)
    settings.load_profile("mutation-noshrink")
'''
_NOSHRINK_MODULE = "_invariants_mutation_noshrink"


def wilson_interval(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion k/n (95% for the default z).

    ``(lo, hi)`` with ``centre = (k + z^2/2) / (n + z^2)`` and half-width
    ``z sqrt(k (n - k) / n + z^2 / 4) / (n + z^2)``; ``(0, 1)`` when n = 0.
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return 0.0, 1.0
    z2 = z * z
    centre = (k + z2 / 2) / (n + z2)
    half = z * ((k * (n - k) / n + z2 / 4) ** 0.5) / (n + z2)
    return max(0.0, centre - half), min(1.0, centre + half)


def module_name(path: str) -> str:
    """``invariants/core/theta.py`` -> ``invariants.core.theta`` (the mutants' name prefix)."""
    return path.removesuffix(".py").replace("/", ".")


def package_of(mutant: str) -> tuple[str, str]:
    """``(package, module path)`` of a full mutant name, from SAMPLED_PACKAGES."""
    module = mutant.rsplit(".", 1)[0]
    for package, modules in SAMPLED_PACKAGES.items():
        for path in modules:
            if module_name(path) == module:
                return package, path
    raise ValueError(f"{mutant!r} is not a mutant of a module in SAMPLED_PACKAGES")


def draw_sample(names: list[str], n: int, seed: int, package: str) -> list[str]:
    """A seeded uniform sample (without replacement) of ``n`` of a package's mutants.

    The generator is seeded with ``f"{seed}:{package}"`` (a string seed is hashed with SHA-512 by
    random.Random, independent of PYTHONHASHSEED) over the sorted names, so the same seed and the
    same mutants give the same sample, and one package's sample does not depend on another's.
    The order is the draw's: every prefix is itself a uniform sample (a run stopped early is
    still one).
    """
    import random

    pool = sorted(names)
    return random.Random(f"{seed}:{package}").sample(pool, min(n, len(pool)))


def _sampled_config(workdir: Path) -> None:
    """Point the work directory's [tool.mutmut] at every module of SAMPLED_PACKAGES."""
    pyproject = workdir / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    start = text.index("[tool.mutmut]")
    end = text.find("\n[", start + 1)
    paths = [p for modules in SAMPLED_PACKAGES.values() for p in modules]
    section = (
        "[tool.mutmut]\n"
        'source_paths = ["invariants/", "properties/"]\n'
        f"only_mutate = {json.dumps(paths)}\n"
        'also_copy = ["conftest.py", "pyproject.toml"]\n'
        'pytest_add_cli_args_test_selection = ["properties/library/test_data.py"]\n'
    )
    pyproject.write_text(text[:start] + section + (text[end:] if end != -1 else ""))


_GENERATE = (
    "from mutmut.__main__ import create_mutants\n"
    "from mutmut.mutation.trampoline import set_mutant_under_test\n"
    "from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir\n"
    "set_mutant_under_test('mutant_generation')\n"
    "copy_src_dir()\ncopy_also_copy_files()\nprint(create_mutants(1))\n"
)


def generate(workdir: Path, resume: bool) -> dict[str, list[str]]:
    """Copy the tree, let mutmut 3 write the mutants/ tree; the mutant names per module path."""
    if workdir.exists() and not resume:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    _copy_tree(workdir)
    _sampled_config(workdir)
    # mutmut copies a file into mutants/ only if it is not there yet: drop every unmutated
    # Python file of an earlier run so that edited tests (and modules) are copied afresh.
    mutated = {p for modules in SAMPLED_PACKAGES.values() for p in modules}
    for old in (workdir / "mutants").rglob("*.py"):
        if old.relative_to(workdir / "mutants").as_posix() not in mutated:
            old.unlink()
    env = dict(os.environ)
    env.pop("CI", None)
    subprocess.run(
        [sys.executable, "-c", _GENERATE], cwd=workdir, env=env, check=True, capture_output=True
    )
    (workdir / "mutants" / f"{_NOSHRINK_MODULE}.py").write_text(_NOSHRINK_PLUGIN)
    names: dict[str, list[str]] = {}
    for modules in SAMPLED_PACKAGES.values():
        for path in modules:
            meta = json.loads((workdir / "mutants" / f"{path}.meta").read_text(encoding="utf-8"))
            names[path] = sorted(meta["exit_code_by_key"])
    return names


# The runner, written into the mutants/ tree and started once per run: it imports the heavy
# dependencies and the mutated library once, then forks one child per mutant, which sets
# MUTANT_UNDER_TEST (mutmut's trampolines read it at every call) and runs pytest.main on the
# mutant's test files; the parent kills a child that outlives its timeout. A fresh
# ``python -m pytest`` per mutant cost ~50 s of start-up here (a 10 s test file, measured) --
# mostly the import of the mutated modules -- which this pays once. One mutant at a time.
_RUNNER = '''\
"""Written by tools/mutation.py: run mutants in forked children (one JSON line per mutant)."""

import importlib
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.getcwd())
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
import pytest  # noqa: E402

for line in sys.stdin:
    job = json.loads(line)
    log = job["log"]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ["MUTANT_UNDER_TEST"] = job["mutant"]
        try:
            code = int(pytest.main(["-p", job["plugin"], *job["args"], *job["tests"]]))
        except BaseException:  # noqa: BLE001 - any escape is a failure of the run
            import traceback

            traceback.print_exc()
            code = 3
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    status = None
    while time.monotonic() - start < job["timeout"]:
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
            break
        time.sleep(0.05)
    if status is None:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    seconds = time.monotonic() - start
    print(json.dumps({"mutant": job["mutant"], "exit": status, "seconds": seconds}), flush=True)
'''
_RUNNER_MODULE = "_invariants_mutation_runner"
_PROBE_TESTS = ("properties/library/test_losses.py", "properties/library/test_data.py")


class Runner:
    """The forking runner (``_RUNNER``) in ``workdir/mutants``; ``run`` one mutant at a time."""

    def __init__(self, workdir: Path, preload: list[str]) -> None:
        self.dir = workdir / "mutants"
        self.logs = workdir / "logs"
        self.logs.mkdir(exist_ok=True)
        env = dict(os.environ)
        # Hypothesis would load its own "ci" profile (docs/numerics.md, "Tooling facts").
        env.pop("CI", None)
        env["MUTANT_UNDER_TEST"] = ""
        # Tests that start a pytest or python subprocess (test_reporting.py) must import the
        # mutated tree too, not the installed package; MUTANT_UNDER_TEST is inherited.
        env["PYTHONPATH"] = os.pathsep.join([str(self.dir), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        self.proc = subprocess.Popen(
            [sys.executable, f"{_RUNNER_MODULE}.py", json.dumps(preload)],
            cwd=self.dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, mutant: str, tests: tuple[str, ...], timeout: float) -> dict:
        """``{"status": killed|survived|timeout, "seconds", "failed": first FAILED line}``."""
        log = self.logs / f"{mutant or 'clean'}.log"
        job = {
            "mutant": mutant,
            "tests": list(tests),
            "args": list(SAMPLED_PYTEST_ARGS),
            "plugin": _NOSHRINK_MODULE,
            "timeout": timeout,
            "log": str(log),
        }
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"the mutation runner died (see {log})")
        out = json.loads(line)
        text = log.read_text(errors="replace") if log.exists() else ""
        lines = text.splitlines()
        failed = next((ln for ln in lines if ln.startswith(("FAILED", "ERROR"))), "")
        if not failed and out["exit"] not in (0, None):
            failed = f"exit {out['exit']}: " + next(
                (ln for ln in reversed(lines) if ln.strip()), "(no output)"
            )
        if out["exit"] is None:
            status = "timeout"
        elif out["exit"] == 0:
            status = "survived"
        elif out["exit"] in (1, 2, 3):  # tests failed, collection errors, internal error
            status = "killed"  # (each fails a CI run just as well; the log says which)
        else:  # 4, 5: a usage error or no tests collected: the setup, not the mutant
            raise SystemExit(f"pytest exit {out['exit']} on {mutant!r}: see {log}\n{text[-3000:]}")
        return {"status": status, "seconds": round(out["seconds"], 1), "failed": failed[:300]}

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def run_sampled(
    workdir: Path,
    per_package: int,
    seed: int,
    resume: bool,
    packages: list[str],
    budget_s: float | None = None,
    rerun: tuple[str, ...] = (),
    timeout_factor: float = TIMEOUT_FACTOR,
) -> dict:
    """Generate, draw the sample, run it one mutant at a time (packages interleaved).

    A mutant already run (same mutated line) is not run again unless named in ``rerun`` (after
    a new test, or a change of its module's test files in SAMPLED_PACKAGES).

    With ``budget_s``, no mutant is started after that many seconds: the mutants run are then
    a prefix of each package's draw, itself a uniform sample (the rest is reported 'not run').
    """
    start = time.monotonic()
    names = generate(workdir, resume)
    (workdir / "mutants" / f"{_RUNNER_MODULE}.py").write_text(_RUNNER)
    store = workdir / SAMPLED_RESULTS
    done = json.loads(store.read_text()) if resume and store.exists() else {}
    sample: dict[str, list[str]] = {}
    population: dict[str, int] = {}
    for package in packages:
        pool = [n for path in SAMPLED_PACKAGES[package] for n in names[path]]
        population[package] = len(pool)
        sample[package] = draw_sample(pool, per_package, seed, package)
    preload = [module_name(p) for package in packages for p in SAMPLED_PACKAGES[package]]
    runner = Runner(workdir, ["numpy", "scipy", "hypothesis", "pytest", *preload])
    # Controls of the runner itself: with no mutant active the tests pass, and (mutmut's forced
    # fail check) with every trampoline raising they fail (at start-up already: the root
    # conftest calls the library).
    probe = runner.run("", _PROBE_TESTS, 600)
    if probe["status"] != "survived":
        raise SystemExit(f"the clean run of {_PROBE_TESTS} did not pass: {probe}")
    probe = runner.run("fail", _PROBE_TESTS, 600)
    if probe["status"] != "killed":
        raise SystemExit(f"MUTANT_UNDER_TEST=fail did not fail a test: {probe}")
    order = [m for group in zip_longest(*sample.values()) for m in group if m is not None]
    if rerun:  # only the named mutants (the rest of the sample keeps its results, or stays unrun)
        unknown = sorted(set(rerun) - set(order))
        if unknown:
            raise SystemExit(f"--rerun: not in the sample: {unknown}")
        order = [m for m in order if m in rerun]
    try:
        for mutant in order:
            if budget_s is not None and time.monotonic() - start > budget_s:
                print(f"budget of {budget_s:.0f} s spent: the rest of the sample is not run")
                break
            package, path = package_of(mutant)
            tests = SAMPLED_PACKAGES[package][path]
            fp = fingerprint(_mutated_line(workdir, mutant))
            if done.get(mutant, {}).get("fingerprint") == fp and mutant not in rerun:
                continue
            timeout = timeout_factor * sum(MEASURED_SECONDS[t] for t in tests) + TIMEOUT_SLACK_S
            result = runner.run(mutant, tests, timeout)
            done[mutant] = {**result, "fingerprint": fp}
            store.write_text(json.dumps(done, indent=1))
            print(f"{result['status']:9} {result['seconds']:6.1f} s  {mutant}", flush=True)
    finally:
        runner.close()
    return {
        "wall_seconds": round(time.monotonic() - start),
        "seed": seed,
        "per_package": per_package,
        "budget_seconds": budget_s,
        "population": population,
        "sample": sample,
        "results": {m: done[m] for ms in sample.values() for m in ms if m in done},
    }


def _functions(source: str) -> dict[str, str]:
    """Every function definition's source in a mutated module, by name (methods included)."""
    lines = source.splitlines()
    return {
        node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


_FUNCTION_CACHE: dict[Path, dict[str, str]] = {}


def sampled_diff(workdir: Path, mutant: str) -> tuple[str, str, str]:
    """``(diff, original line(s), mutated line(s))`` of a mutant, from the mutants/ tree.

    The mutant's function against mutmut's copy of the original (``NAME__mutmut_orig``), the
    ``def`` line left out (its name differs); lines stripped and joined by ' / ' as in
    :func:`diff_of`, so :func:`fingerprint` means the same.
    """
    import difflib

    _, path = package_of(mutant)
    file = workdir / "mutants" / path
    if file not in _FUNCTION_CACHE:
        _FUNCTION_CACHE[file] = _functions(file.read_text(encoding="utf-8"))
    functions = _FUNCTION_CACHE[file]
    short = mutant.rsplit(".", 1)[1]
    orig = functions[short.rpartition("__mutmut_")[0] + "__mutmut_orig"].splitlines()[1:]
    new = functions[short].splitlines()[1:]
    diff = [ln for ln in difflib.unified_diff(orig, new, lineterm="", n=1)][2:]
    was = [ln[1:].strip() for ln in diff if ln.startswith("-")]
    now = [ln[1:].strip() for ln in diff if ln.startswith("+")]
    return "\n".join(diff), " / ".join(was), " / ".join(now)


def _mutated_line(workdir: Path, mutant: str) -> str:
    return sampled_diff(workdir, mutant)[2]


@dataclass(frozen=True)
class SampledVerdict:
    kind: str  # "E" or "G"
    fingerprint: str
    reason: str


def load_sampled_verdicts(path: Path = SAMPLED_VERDICTS_FILE) -> dict[str, SampledVerdict]:
    """``[verdicts."FULL.MUTANT.NAME"]`` entries (kind, fingerprint, reason); errors all named."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VerdictsError(f"{path}: {exc}") from exc
    errors = []
    if data.get("schema") != SAMPLED_VERDICTS_SCHEMA:
        errors.append(f"schema: must be {SAMPLED_VERDICTS_SCHEMA!r}, not {data.get('schema')!r}")
    out = {}
    for name, entry in data.get("verdicts", {}).items():
        where = f'[verdicts."{name}"]'
        try:
            package_of(name)
        except ValueError:
            errors.append(f"{where}: not a mutant of a module in SAMPLED_PACKAGES")
            continue
        if not isinstance(entry, dict) or set(entry) != {"kind", "fingerprint", "reason"}:
            errors.append(f"{where}: needs exactly kind, fingerprint, reason")
            continue
        if entry["kind"] not in _KINDS:
            errors.append(f"{where}: kind must be 'E' or 'G', not {entry['kind']!r}")
        if not isinstance(entry["fingerprint"], str) or not _FINGERPRINT.fullmatch(
            entry["fingerprint"]
        ):
            errors.append(f"{where}: fingerprint must be 10 lower-case hex digits")
        if not isinstance(entry["reason"], str) or not entry["reason"].strip():
            errors.append(f"{where}: reason must be a non-empty string")
        out[name] = SampledVerdict(entry["kind"], entry["fingerprint"], entry["reason"])
    if errors:
        raise VerdictsError(
            f"{path}: {len(errors)} error(s):\n" + "\n".join(f"  {e}" for e in errors)
        )
    return out


def sampled_notes(path: Path = SAMPLED_VERDICTS_FILE) -> list[str]:
    """The ``notes`` list of the sampled verdicts file (shown under Notes in the report)."""
    try:
        notes = tomllib.loads(path.read_text(encoding="utf-8")).get("notes", [])
    except FileNotFoundError:
        return []
    return [" ".join(str(n).split()) for n in notes]


def package_score(results: list[dict]) -> dict:
    """Score of one package's sample: ``(killed + timeout) / (n - equivalent)`` and its interval.

    ``results``: one dict per sampled mutant with ``status`` and, for a survivor, ``kind``
    (equivalent, gap or unclassified). The Wilson 95% interval treats the sampled non-equivalent
    mutants as a uniform sample of the package's non-equivalent ones (the equivalent fraction is
    estimated from the same sample).
    """
    # A timeout counts as detected unless a verdict (read by hand: slow under load, not a hang)
    # says equivalent or gap.
    detected = sum(
        1 for r in results if r["status"] in DETECTED and r.get("kind", "detected") == "detected"
    )
    equivalent = sum(1 for r in results if r.get("kind") == "equivalent")
    n = len(results) - equivalent
    lo, hi = wilson_interval(detected, n)
    return {
        "sampled": len(results),
        "killed": sum(1 for r in results if r["status"] == "killed"),
        "timeout": sum(1 for r in results if r["status"] == "timeout"),
        "survived": sum(1 for r in results if r["status"] == "survived"),
        "equivalent": equivalent,
        "gaps": sum(1 for r in results if r.get("kind") in ("gap", "unclassified")),
        "unclassified": sum(1 for r in results if r.get("kind") == "unclassified"),
        "score": round(detected / n, 4) if n else None,
        "interval95": [round(lo, 4), round(hi, 4)],
    }


def summarise_sampled(workdir: Path, raw: dict, verdicts: dict[str, SampledVerdict]) -> dict:
    """The sampled report: per package, the score with its interval; every survivor's verdict."""
    per_package = {}
    survivors = []
    for package, mutants in raw["sample"].items():
        rows = []
        for mutant in mutants:
            if mutant not in raw["results"]:  # a run stopped early: the rest of the draw
                continue
            r = dict(raw["results"][mutant], mutant=mutant)
            if r["status"] in ("survived", "timeout"):
                diff, was, now = sampled_diff(workdir, mutant)
                v = verdicts.get(mutant)
                if v is not None and v.fingerprint == fingerprint(now):
                    r["kind"], r["reason"] = _KINDS[v.kind], v.reason
                elif r["status"] == "timeout":
                    r["kind"] = "detected"
                    r["reason"] = "timeout, counted as detected (not re-checked by hand)"
                else:
                    r["kind"] = "unclassified"
                    r["reason"] = "not examined: add it to tools/mutation_sampled_verdicts.toml"
                    r["diff"] = diff
                r.update(package=package, was=was, now=now, fingerprint=fingerprint(now))
                survivors.append(r)
            rows.append(r)
        per_package[package] = package_score(rows)
        per_package[package]["population"] = raw["population"][package]
        per_package[package]["modules"] = {
            path: list(tests) for path, tests in SAMPLED_PACKAGES[package].items()
        }
    return {
        "schema": SAMPLED_SCHEMA,
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "tool": f"mutmut {_mutmut_version()} (generation only; runner: tools/mutation.py)",
        "command": f"python tools/mutation.py --sample {raw['per_package']} --seed {raw['seed']} "
        + (
            ""
            if raw.get("budget_seconds") is None
            else f"--budget-minutes {raw['budget_seconds'] / 60:g} "
        )
        + "--max-children 1",
        "seed": raw["seed"],
        "per_package_sample": raw["per_package"],
        "wall_seconds": raw["wall_seconds"],
        "wall_history": raw.get("wall_history", [raw["wall_seconds"]]),
        "pytest_args": " ".join(SAMPLED_PYTEST_ARGS) + " (Hypothesis shrink phase off)",
        "timeout_rule": f"{TIMEOUT_FACTOR} x the measured seconds of its tests + "
        f"{TIMEOUT_SLACK_S} s",
        "not_run": {
            p: len(m) - sum(1 for x in m if x in raw["results"]) for p, m in raw["sample"].items()
        },
        "score_definition": "(killed + timeout) / (sampled - equivalent), Wilson 95% interval",
        "packages": per_package,
        "sample": raw["sample"],
        "results": raw["results"],
        "survivors": survivors,
        "notes": sampled_notes(),
    }


def markdown_sampled(report: dict, full: dict | None) -> str:
    """reports/mutation-sampled.md, and the per-package section of reports/mutation.md."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    lines = [
        "# Mutation score per package (sampled)",
        "",
        f"`{report['command']}` ({report['tool']}; wall on one core "
        + " + ".join(f"{w / 60:.1f} min" for w in report["wall_history"])
        + f" (the run, then re-runs of single mutants); generated {report['generated']}). "
        f"A seeded uniform sample of {report['per_package_sample']} mutants per package "
        f"(seed {report['seed']}; the sample is "
        "listed in the JSON report), each run against its module's test files "
        "(tools/mutation.py SAMPLED_PACKAGES) with "
        f"`{report['pytest_args']}`; timeout {report['timeout_rule']}. Score = "
        f"{report['score_definition']}. Verdicts: `tools/mutation_sampled_verdicts.toml`.",
        "",
        "| package | mutants | sampled | killed | timeout | survived | equivalent | gaps | "
        "score | 95% interval |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    if full is not None:
        lines.append(
            f"| core: {', '.join(m.rsplit('/', 1)[1].removesuffix('.py') for m in full['modules'])}"
            f" (full run) | {full['total']} | {full['total']} | {full['killed']} | "
            f"{full['timeout']} | {full['survived'] + full['no_tests']} | "
            f"{full['equivalent_count']} | {full['gap_count']} | {pct(full['score'])} | exact |"
        )
    for package, p in report["packages"].items():
        mods = ", ".join(m.rsplit("/", 1)[1].removesuffix(".py") for m in p["modules"])
        lo, hi = p["interval95"]
        lines.append(
            f"| {package}: {mods} | {p['population']} | {p['sampled']} | {p['killed']} | "
            f"{p['timeout']} | {p['survived']} | {p['equivalent']} | {p['gaps']} | "
            f"{pct(p['score'])} | {pct(lo)} - {pct(hi)} |"
        )
    lines += ["", "## Survivors and timeouts of the sample (each read)", ""]
    if not report["survivors"]:
        lines.append("(none)")
    else:
        lines += [
            "| package | mutant | mutated to | verdict | reason |",
            "| --- | --- | --- | --- | --- |",
        ]
        for s in report["survivors"]:
            lines.append(
                f"| {s['package']} | `{s['mutant']}` | `{_md_cell(s['now'])[:90]}` | "
                f"{s['kind']} | {_md_cell(s['reason'])} |"
            )
    if report.get("notes"):
        lines += ["", "## Notes", "", *(f"- {n}" for n in report["notes"])]
    lines += [
        "",
        "## Which tests run against which module's mutants",
        "",
        "| package | module | test files |",
        "| --- | --- | --- |",
    ]
    for package, p in report["packages"].items():
        for path, tests in p["modules"].items():
            lines.append(f"| {package} | `{path}` | {', '.join(f'`{t}`' for t in tests)} |")
    return "\n".join(lines) + "\n"


def check_verdicts(path: Path) -> int:
    """``--check-verdicts``: validate the file (and [tool.mutmut]); 0 if well formed."""
    config = load_config()
    try:
        verdicts = load_verdicts(path, config.modules)
    except VerdictsError as exc:
        print(exc, file=sys.stderr)
        return 1
    kinds = [v.kind for v in verdicts.survivors.values()]
    print(
        f"{path}: ok: {len(kinds)} verdicts ({kinds.count('E')} equivalent, {kinds.count('G')} "
        f"gaps), {len(verdicts.timeouts)} timeouts, {len(verdicts.no_tests)} no-tests "
        f"functions; package {PACKAGE}, modules {', '.join(config.modules)}"
    )
    gone = missing_functions(verdicts, config)
    if gone:
        print(
            f"warning: {len(gone)} verdict(s) name a function no longer in its module "
            f"(stale; a full run lists them under stale_verdicts): {', '.join(gone)}"
        )
    return 0


def check_sampled(path: Path) -> int:
    """``--check-sampled [FILE]``: SAMPLED_PACKAGES names existing files, every test file has a
    measured time, and the sampled verdicts file is well formed; 0 if so, 1 naming each fault."""
    errors = []
    for package, modules in SAMPLED_PACKAGES.items():
        for module, tests in modules.items():
            if not (REPO / module).is_file():
                errors.append(f"{package}: module {module} does not exist")
            for test in tests:
                if not (REPO / test).is_file():
                    errors.append(f"{package}: {module}: test file {test} does not exist")
                if test not in MEASURED_SECONDS:
                    errors.append(f"{package}: {module}: {test} has no MEASURED_SECONDS")
    try:
        verdicts = load_sampled_verdicts(path)
    except VerdictsError as exc:
        errors.append(str(exc))
        verdicts = {}
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    print(f"{path}: ok: {len(verdicts)} verdicts; {len(SAMPLED_PACKAGES)} packages")
    return 0


def main_sampled(args: argparse.Namespace) -> int:
    """``--sample N``: the sampled run; writes reports/mutation-sampled.* and mutation.*."""
    if args.sample < 1:
        raise SystemExit("--sample N: N >= 1 mutants per package")
    verdicts = load_sampled_verdicts()
    workdir = (
        args.workdir
        if args.workdir != DEFAULT_WORKDIR
        else DEFAULT_WORKDIR.with_name("invariants-mutation-sampled")
    ).resolve()
    if workdir == REPO or REPO in workdir.parents:
        raise SystemExit("--workdir must be outside the checkout")
    raw_file = workdir / ".invariants-mutation-sampled-run.json"
    if args.summarise_only:
        raw = json.loads(raw_file.read_text())
    else:
        raw = run_sampled(
            workdir,
            args.sample,
            args.seed,
            args.resume,
            args.packages or list(SAMPLED_PACKAGES),
            None if args.budget_minutes is None else 60 * args.budget_minutes,
            tuple(args.rerun),
            args.timeout_factor,
        )
        if args.resume and raw_file.exists():  # keep the walls of the earlier (partial) runs
            old = json.loads(raw_file.read_text())
            raw["wall_history"] = [*old.get("wall_history", [old["wall_seconds"]])]
            if raw.get("budget_seconds") is None:  # the budget of the run, not of a re-run
                raw["budget_seconds"] = old.get("budget_seconds")
        raw["wall_history"] = [*raw.get("wall_history", []), raw["wall_seconds"]]
        raw_file.write_text(json.dumps(raw, indent=1))
    report = summarise_sampled(workdir, raw, verdicts)
    name = "mutation-sampled" if args.report == "mutation" else args.report
    full_json = REPO / "reports/mutation.json"
    full = json.loads(full_json.read_text()) if full_json.exists() else None
    (REPO / "reports").mkdir(exist_ok=True)
    (REPO / f"reports/{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (REPO / f"reports/{name}.md").write_text(markdown_sampled(report, full))
    if full is not None and args.report == "mutation":
        full["sampled"] = {k: v for k, v in report.items() if k not in ("results",)}
        full_json.write_text(json.dumps(full, indent=2) + "\n")
        (REPO / "reports/mutation.md").write_text(markdown(full))
    for package, p in report["packages"].items():
        lo, hi = p["interval95"]
        print(
            f"{package:10} {p['score']} [{lo}, {hi}] of {p['sampled']} sampled "
            f"({p['gaps']} gaps, {p['unclassified']} unclassified)"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--modules", nargs="+")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--summarise-only", action="store_true")
    parser.add_argument("--report", default="mutation", metavar="NAME")
    parser.add_argument("--verdicts", type=Path, default=VERDICTS_FILE, metavar="FILE")
    parser.add_argument("--check-verdicts", action="store_true")
    parser.add_argument("--classify", nargs=3, metavar=("NAME", "STATUS", "LINE"))
    parser.add_argument("--sample", type=int, metavar="N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget-minutes", type=float)
    parser.add_argument("--rerun", nargs="+", default=(), metavar="MUTANT")
    # A timeout re-checked by hand: run it again with a longer limit (the load differs).
    parser.add_argument("--timeout-factor", type=float, default=TIMEOUT_FACTOR)
    parser.add_argument("--interval", nargs=2, type=int, metavar=("K", "N"))
    parser.add_argument("--draw", nargs=3, metavar=("N", "SEED", "PACKAGE"))
    parser.add_argument(
        "--check-sampled", nargs="?", const=SAMPLED_VERDICTS_FILE, type=Path, metavar="FILE"
    )
    parser.add_argument("--packages", nargs="+", choices=list(SAMPLED_PACKAGES))
    args = parser.parse_args(argv)
    if args.interval:
        print(json.dumps(wilson_interval(*args.interval)))
        return 0
    if args.draw:
        n, seed, package = args.draw
        names = sys.stdin.read().split()
        print(json.dumps(draw_sample(names, int(n), int(seed), package)))
        return 0
    if args.check_sampled:
        return check_sampled(args.check_sampled)
    if args.sample is not None:
        return main_sampled(args)
    if args.check_verdicts:
        return check_verdicts(args.verdicts)
    config = load_config()
    try:
        verdicts = load_verdicts(args.verdicts, config.modules)
    except VerdictsError as exc:
        raise SystemExit(str(exc)) from exc
    if args.classify:
        name, status, now = args.classify
        try:
            kind, reason = classify(name, status, now, verdicts)
        except ValueError as exc:
            parser.error(f"--classify: {exc}")
        print(json.dumps({"kind": kind, "reason": reason, "fingerprint": fingerprint(now)}))
        return 0
    modules = args.modules or list(config.modules)
    unknown = sorted(set(modules) - set(config.modules))
    if unknown:
        parser.error(f"--modules: {unknown} not mutated (choose from {list(config.modules)})")
    if not re.fullmatch(r"[\w.-]+", args.report):
        raise SystemExit(f"--report {args.report!r}: a plain file name without extension")
    workdir = args.workdir.resolve()
    if workdir == REPO or REPO in workdir.parents:
        raise SystemExit("--workdir must be outside the checkout")
    if args.summarise_only:
        info = workdir / RUN_INFO
        wall = json.loads(info.read_text())["wall_seconds"] if info.exists() else None
    else:
        wall = run(workdir, args.max_children, modules, config, args.resume)
    report = summarise(workdir, modules, wall, args.max_children, config, verdicts, args.report)
    (REPO / "reports").mkdir(exist_ok=True)
    previous = REPO / f"reports/{args.report}.json"
    if previous.exists():  # keep the sampled run's section (written by --sample)
        sampled = json.loads(previous.read_text()).get("sampled")
        if sampled:
            report["sampled"] = sampled
    (REPO / f"reports/{args.report}.json").write_text(json.dumps(report, indent=2) + "\n")
    (REPO / f"reports/{args.report}.md").write_text(markdown(report))
    stale = report["stale_verdicts"]
    if stale["changed"] or stale["not_needed"]:
        print(
            f"verdicts not applied: {len(stale['changed'])} whose mutated line changed "
            f"({', '.join(stale['changed']) or '-'}), {len(stale['not_needed'])} no longer "
            "needed (mutant detected or gone): see stale_verdicts in the JSON report"
        )
    print(
        f"mutation score {report['score']} ({report['killed']} killed + {report['timeout']} "
        f"timeout of {report['total']} - {report['equivalent_count']} equivalent; "
        f"{report['gap_count']} gaps, {report['unclassified_count']} unclassified) "
        f"-> reports/{args.report}.md"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
