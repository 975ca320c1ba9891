"""Mutation testing of the library's core math (issue 6). Its own command, not part of CI.

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
    env.pop("CI", None)  # Hypothesis would load its own "ci" profile (NUMERICS.md, Tooling)
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
    args = parser.parse_args(argv)
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
