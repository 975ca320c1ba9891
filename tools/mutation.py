"""Mutation testing of the library's core math (issue 6). Its own command, not part of CI.

Command (from the repository root, in the dev environment, with mutmut 3 installed there:
``python -m pip install mutmut``)::

    python tools/mutation.py

A full run (losses, bounds, network, maxmargin: 1,689 mutants) took 23 min of wall time
with ``--max-children 2`` on the 2-core dev machine while another test job shared the cores,
plus ~4 min to read the diffs of the ~400 mutants not killed (``--modules losses``: 4 min in
all). Options:

    --max-children N     mutmut worker processes (default 2: one per core of the dev machine)
    --modules M [M ...]  restrict the run to some of losses bounds network maxmargin
                         (mutants of the others are generated but not run, and left out)
    --workdir DIR        scratch directory (default: $TMPDIR/invariants-mutation)
    --resume             keep DIR's mutmut state: re-test only mutants of changed functions
    --summarise-only     do not run mutmut; rebuild the reports from DIR's last run
    --report NAME        write reports/NAME.json and reports/NAME.md (default: mutation); a
                         re-run of some modules goes beside the full run, e.g.
                         ``--modules maxmargin --report mutation-rerun-maxmargin``

What it does:

1. Copies the working tree (the files ``git ls-files --cached --others --exclude-standard``
   lists, so uncommitted edits count) to the scratch directory: mutmut writes a
   ``mutants/`` tree and its state beside the sources, which must not happen in the
   checkout.
2. Runs ``mutmut run --max-children N`` there. The ``[tool.mutmut]`` section of
   pyproject.toml says what is mutated (``only_mutate``: the four modules) and which tests
   run against each mutant: ``properties/test_{losses,bounds,network,maxmargin}.py`` with
   ``--invariants-profile ci -n 0 -x -q -p no:cacheprovider`` (mutmut 3 does not work
   under xdist, hence ``-n 0``; its parallelism is ``--max-children``). mutmut runs against
   each mutant only those tests that call the mutated function.
3. Reads ``mutmut results --all true`` and, for every mutant that was not killed,
   ``mutmut show NAME``; classifies each with the table ``CLASSIFIED`` below and writes
   ``reports/mutation.json`` (schema ``invariants.mutation/1``) and ``reports/mutation.md``
   in the checkout (or ``reports/NAME.*`` with ``--report NAME``).

Counting. ``killed``: a test failed. ``timeout``: the tests ran more than mutmut's limit
(15 x (their normal time + 1 s)); each timeout in the table was examined and is a mutant
that makes an iteration run (nearly) forever, so the suite would not pass: they count as
detected. ``survived``: every selected test passed. ``no tests``: no test of the subset
calls the function. A survivor or no-tests mutant is either *equivalent* (no observable
change of behaviour that matters: a message text, a bound that only gets looser where the
tightness is not a claim, a branch that cannot be reached; the reason is given per mutant)
or a *gap* (a property that would kill it is named). ``score = (killed + timeout) /
(total - equivalent)``; ``score_killed_only`` leaves the timeouts out of the numerator.

The classifications were made by reading each mutant's diff. Each entry records the
mutated line, so when the source of a function changes and mutmut's numbering with it, a
stale entry is not applied: the mutant is reported as *unclassified* (counted as a gap)
until someone looks at it and updates ``CLASSIFIED``.
"""

# ruff: noqa: E501  (the classification tables below keep one reason per line)
from __future__ import annotations

import argparse
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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SCHEMA = "invariants.mutation/1"
REPO = Path(__file__).resolve().parent.parent
MODULES = ("losses", "bounds", "network", "maxmargin")
TESTS = [f"properties/test_{m}.py" for m in MODULES]
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "invariants-mutation"

# mutmut's status words (mutmut.stats.status_by_exit_code).
DETECTED = {"killed", "timeout", "caught by type check", "segfault"}
RUN_INFO = ".invariants-mutation-run.json"  # in the work directory: wall time of the last run

NOTES = [
    "Timeouts are failures, not hangs: each was re-run by hand and its tests fail; Hypothesis "
    "then shrinks the failure for longer than mutmut allows.",
    "Hypothesis draws literal constants from every imported module of the project, so the "
    "examples depend on which test files are collected (and, under mutmut, on the mutated "
    "copies, whose source holds every mutant's constants). Four of the timeouts "
    "(maxmargin _wolfe 26 and 61, rounding_floor 8, max_margin 135) fail only when all four test "
    "files are collected, not with test_maxmargin.py alone.",
    "Lines never executed by the subset in the full run (coverage.py): maxmargin's NNLS-failure "
    "fallback and cold start, Wolfe's major cycle (adding a point), the 'p = 0' guard and the "
    "ShapeError / NonFiniteError branches of _unit, perp, sin_angle; network.hessian_norm_bound; "
    "bounds.singular_gaps and the zero-layer branch of c1_lower_bound. (The maxmargin ones run "
    "since the properties of commit 90efc4f: NNLS patched to fail, Wolfe from wrong corrals.)",
    "Equivalent includes mutants that change only an exception's message text, a rounding-level "
    "tolerance constant, an iteration cap that never binds, or Wolfe's warm start (the algorithm "
    "and its certificate then return the same answer): the reason is given for each.",
]

# The classifications (CLASSIFIED, NO_TESTS) are at the end of this file.


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


def run(workdir: Path, max_children: int, modules: list[str], resume: bool) -> float:
    """Copy the tree into ``workdir`` and run mutmut there; returns the wall time in s."""
    if workdir.exists() and not resume:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    _copy_tree(workdir)
    names = [] if set(modules) == set(MODULES) else [f"invariants.{m}.*" for m in modules]
    start = time.monotonic()
    _mutmut(workdir, "run", "--max-children", str(max_children), *names, capture=False)
    wall = time.monotonic() - start
    (workdir / RUN_INFO).write_text(json.dumps({"wall_seconds": wall, "modules": modules}))
    return wall


# --- summarising ----------------------------------------------------------------------------------

_RESULT_LINE = re.compile(r"^\s*(invariants\.(\w+)\.\S+): (.+?)\s*$")


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


def classify(name: str, status: str, now: str) -> tuple[str, str]:
    """``(kind, reason)`` of a mutant that was not killed, from the tables at the end."""
    short = name.removeprefix("invariants.")
    if status == "timeout":
        known = TIMEOUTS.get(short)
        if known and known[0] == fingerprint(now):
            return "detected", f"{TIMEOUT_NOTE} Fails: {known[1]}."
        return "detected", "timeout (not re-checked since the review)"
    if status == "no tests":
        for prefix, (kind, reason) in NO_TESTS.items():
            if short.startswith(prefix):
                return kind, reason
    known = CLASSIFIED.get(short)
    if known and known[1] == fingerprint(now):
        kind = "equivalent" if known[0] == "E" else "gap"
        return kind, REASONS.get(known[2], known[2])
    return "unclassified", (
        "not examined (new mutant, or its function changed since the review): read "
        "`mutmut show` in the work directory and add it to CLASSIFIED in tools/mutation.py"
    )


def summarise(
    workdir: Path,
    modules: list[str],
    wall_s: float | None,
    max_children: int,
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
        mod = name.split(".")[1]
        per_module[mod][s] = per_module[mod].get(s, 0) + 1
    equivalent, gaps, timeouts = [], [], []
    todo = sorted(n for n, s in status.items() if s not in DETECTED or s == "timeout")
    with ThreadPoolExecutor(max_workers=max(1, max_children)) as pool:
        diffs = dict(zip(todo, pool.map(lambda n: diff_of(workdir, n), todo), strict=True))
    for name in todo:
        s = status[name]
        diff, was, now = diffs[name]
        entry = {"mutant": name, "status": s, "was": was, "now": now}
        kind, reason = classify(name, s, now)
        entry["reason"] = reason
        if s == "timeout":
            timeouts.append(entry)
            continue
        entry["kind"] = kind
        if kind == "unclassified":
            entry["diff"] = diff
        (equivalent if kind == "equivalent" else gaps).append(entry)
    total = len(status)
    killed = counts.get("killed", 0)
    timeout = counts.get("timeout", 0)
    other_detected = sum(counts.get(s, 0) for s in DETECTED - {"killed", "timeout"})
    denominator = total - len(equivalent)
    detected = killed + timeout + other_detected
    return {
        "schema": SCHEMA,
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "tool": f"mutmut {_mutmut_version()}",
        "command": "python tools/mutation.py"
        + (f" --modules {' '.join(modules)}" if set(modules) != set(MODULES) else "")
        + (f" --max-children {max_children}" if max_children != 2 else "")
        + (f" --report {report_name}" if report_name != "mutation" else ""),
        "modules": [f"invariants/{m}.py" for m in modules],
        "tests": TESTS,
        "pytest_args": "--invariants-profile ci -n 0 -x -q -p no:cacheprovider",
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
        "notes": NOTES,
        "timeouts": timeouts,
        "equivalent": equivalent,
        "gaps": gaps,
    }


def _mutmut_version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _short(name: str) -> str:
    return name.removeprefix("invariants.")


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
        groups.setdefault(e["reason"], []).append(_short(e["mutant"]))
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
        + f" with `{report['pytest_args']}`.",
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
        eq = sum(1 for e in report["equivalent"] if e["mutant"].split(".")[1] == mod)
        gp = sum(1 for e in report["gaps"] if e["mutant"].split(".")[1] == mod)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--modules", nargs="+", choices=MODULES, default=list(MODULES))
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--summarise-only", action="store_true")
    parser.add_argument("--report", default="mutation", metavar="NAME")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    if workdir == REPO or REPO in workdir.parents:
        raise SystemExit("--workdir must be outside the checkout")
    if args.summarise_only:
        info = workdir / RUN_INFO
        wall = json.loads(info.read_text())["wall_seconds"] if info.exists() else None
    else:
        wall = run(workdir, args.max_children, args.modules, args.resume)
    if not re.fullmatch(r"[\w.-]+", args.report):
        raise SystemExit(f"--report {args.report!r}: a plain file name without extension")
    report = summarise(workdir, args.modules, wall, args.max_children, args.report)
    (REPO / "reports").mkdir(exist_ok=True)
    (REPO / f"reports/{args.report}.json").write_text(json.dumps(report, indent=2) + "\n")
    (REPO / f"reports/{args.report}.md").write_text(markdown(report))
    print(
        f"mutation score {report['score']} ({report['killed']} killed + {report['timeout']} "
        f"timeout of {report['total']} - {report['equivalent_count']} equivalent; "
        f"{report['gap_count']} gaps) -> reports/{args.report}.md"
    )
    return 0


# --- classifications ------------------------------------------------------------------------
# Reviewed from the run of 2026-11-27 (mutmut 3.8.1): every mutant that was not killed was read
# (`mutmut show`) and classified.  CLASSIFIED: short name -> (E = equivalent | G = gap,
# fingerprint of the mutated line, reason or a key of REASONS).  A gap's reason names the
# property that would kill it.

REASONS = {
    "MSG": (
        "changes only the text of an exception message (type and trigger unchanged); no test "
        "matches this wording"
    ),
    "RCOND": (
        "numpy >= 2 lstsq's default rcond is None already: dropping rcond=None is the same call"
    ),
    "F32": (
        "float32 input is then computed in float32 (integers stay integers): property 'every "
        "public entry point given float32 (and int) arrays returns exactly the float64 answer "
        "of their float64 cast' (docstrings promise float64 work)"
    ),
    "WOLFE_MAJOR": (
        "Wolfe's major cycle (adding a violating point, lines 'corral = [*corral, j]' ...) "
        "never runs on the test data (coverage: never executed), because the NNLS warm start "
        "already has the right support: property 'private _wolfe(zs, corral, w, max_iter) "
        "started from a wrong corral (e.g. the single shortest z_i, or a non-support point) "
        "returns the minimum-norm point of the hull (gamma and ubar equal max_margin's to "
        "1e-12 relative)'"
    ),
    "WOLFE_MINOR": (
        "Wolfe's minor cycle (the drop step when an affine weight is <= 0) is exercised only "
        "lightly and its result is repaired or masked by _best_candidate: property '_wolfe "
        "from a cold or wrong start keeps w a probability vector (w >= 0, sum 1), ||x|| "
        "non-increasing over cycles, and ends at the min-norm point' (unit test of the "
        "private function, with corrals that force drops)"
    ),
    "WOLFE_PATH": (
        "changes only the path of Wolfe's drop step (theta, which point is dropped, the "
        "number of minor passes, or the renormalisation of w): the next minor pass re-solves "
        "the affine problem from the corral alone and the major cycles re-add any point "
        "dropped wrongly, so the returned corral, w and x (and the certified answer) are the "
        "same from every start tried (cold, every point, random subsets: "
        "test_wolfe_from_a_wrong_corral_reaches_the_certified_answer); only the path differs. "
        "Property that would kill it: an instrumented _wolfe (e.g. a trace of every minor "
        "pass through a patched _affine_min_norm) asserting the textbook invariants after each "
        "drop: w >= 0 with exactly the killed weight set to 0, x on the segment [x_old, y], "
        "||x|| non-increasing"
    ),
    "COLD0": (
        "the cold start begins at z_0 instead of the shortest z_i: Wolfe's major cycles reach "
        "the same minimum-norm point from any single point (what "
        "test_nnls_failure_still_gives_the_certified_answer and "
        "test_wolfe_from_a_wrong_corral_reaches_the_certified_answer check); the shortest "
        "point only saves cycles"
    ),
    "SCALE_EXACT": (
        "rows with max |w_i| <= 1 are computed unscaled (or at half scale) instead of in [1/2, "
        "1): floating-point arithmetic commutes with power-of-two scaling barring over/"
        "underflow, so the results are bit-identical except where the second pass's residue "
        "underflows (rows below ~2^-1000), where the subnormal resolution 2^-1074 is the "
        "accuracy limit either way"
    ),
    "F32_EXACT": (
        "float32 w is kept as float32 only until its first operation with the float64 unit "
        "ubar (abs, max, frexp and ldexp are exact in float32): the answer is bit-identical "
        "(test_float32_input_is_computed_in_float64 checks it)"
    ),
    "WOLFE_DUP": (
        "only matters in the documented 'denominator 0' case (a point with zero weight in "
        "both w and alpha, e.g. exactly duplicated support vectors inside the corral), which "
        "the tests never reach (NNLS never puts both duplicates in the corral): property "
        "'_wolfe started from a corral holding an exact duplicate pair returns the min-norm "
        "point without warnings'"
    ),
    "WARM": (
        "changes only Wolfe's warm start (or forces the cold-start fallback): Wolfe then "
        "repairs the corral and the certificate (tol 1e-12) guarantees the same answer; the "
        "test answers are unchanged (speed only)"
    ),
    "CAP": (
        "iteration cap never binding on these small problems (or a RuntimeError that only "
        "drops one candidate / falls back to the cold start): output unchanged"
    ),
    "ROUND_TOL": (
        "rounding-level tolerance constant (changes a floor of order (d+2) eps ||z||, by a "
        "bounded factor): decides only exact ties at rounding level, which the test data do "
        "not contain and the certificate does not resolve"
    ),
    "NNLS_DUAL": (
        "the NNLS-fitted dual (_fit_dual) is one of two dual candidates in _best_candidate; "
        "Wolfe's affine weights always win or also pass, so a wrong fit is masked: property "
        "'_fit_dual(zc, ubar, gamma) returns a probability vector with ||zc^T mu - gamma "
        "ubar|| <= 1e-12 gamma' on support sets with more than d+1 points (dual not unique, "
        "Wolfe weights not enough)"
    ),
    "PRIMAL_CAND": (
        "the primal-direction candidate (_primal_on_support) is masked by the p-direction "
        "candidate on well-conditioned test data: property 'max_margin at tol 1e-12 on data "
        "with a small relative margin (gamma ~ 1e-3 max||z_i||, where the docstring says only "
        "the primal candidate certifies)', or '_primal_on_support(zc) solves zc @ u == 1 to "
        "rounding'"
    ),
    "AFFINE": (
        "_affine_min_norm's contract (sum alpha = 1, a^T alpha = p, p orthogonal to a_i - "
        "a_0) is not checked directly and a wrong alpha is masked by the NNLS dual candidate: "
        "property 'for random a (k <= d+1 affinely independent rows), _affine_min_norm(a) "
        "returns alpha summing to 1 with a.T @ alpha == p and (a[1:] - a[0]) @ p == 0 to "
        "rounding'"
    ),
    "REFINE": (
        "one step of iterative refinement changed by O(eps cond): invisible on the "
        "well-conditioned test data; property 'max_margin on ill-conditioned supports "
        "(near-duplicate support vectors, gamma ~ 1e-3 max||z||) matches an mpmath/SLSQP "
        "reference to the rounding floor'"
    ),
    "RESID_SCALE": (
        "a residual divided by gamma became multiplied by gamma: pass/fail of the planted "
        "answers unchanged, but the residual values are wrong: property 'certificate "
        "residuals are invariant under z -> c z, gamma -> c gamma for any c > 0 (not only "
        "powers of two), and equal the documented formulas on a hand-made triple'"
    ),
    "RESID_MAX": (
        "max_residual omits one residual, but every planted wrong answer violates two "
        "conditions: property 'cert.max_residual == max(abs(v) for v in "
        "cert.as_dict().values())' or planted answers that break one condition only"
    ),
    "FLOOR": (
        "the value of the public rounding_floor is never checked (max_margin only takes "
        "max(tol, floor), and tol dominates on the test data): property 'rounding_floor(z, "
        "gamma) == 4 (d + 2) eps max_i ||z_i|| / gamma on a few exact inputs'"
    ),
    "SCALE": (
        "perp's per-row power-of-two scaling is not exercised (sin_angle pre-scales w to "
        "[1/2, 1), and perp is not tested on its own at other scales): property 'perp(w, u) "
        "== w - <w, u> u to rounding for w of any scale (rows 1e-300 .. 1e300 in one batch), "
        "and perp(2^k w, u) == 2^k perp(w, u) exactly'"
    ),
    "SHAPE0": (
        "validation of the input's shape is not tested: property 'perp / sin_angle raise "
        "ShapeError for 0-d and 3-d w'"
    ),
    "ASDICT": (
        "the key names of as_dict() appear only in the CertificateError text (the only test "
        "use reads the values): message-only"
    ),
    "LATER": (
        "survived this run, killed by the properties added right after it (commit 98775d2: "
        "perp orthogonal relative to ||w_perp||, perp / sin_angle at the ends of the float "
        "range and on batches of rows 2^+-990 apart, max_residual on near-tie planted "
        "answers); checked by hand against this run's mutant (MUTANT_UNDER_TEST=... pytest "
        "properties/library/test_maxmargin.py fails). Counted as a gap here because this run predates them"
    ),
    "NOTREACH": (
        "unreachable defensive branch (the guarded condition cannot occur: see the one-line reason)"
    ),
}

CLASSIFIED: dict[str, tuple[str, str, str]] = {
    "losses.x_sigmoid__mutmut_11": (
        "E",
        "e114b99b34",
        "at x = 0 both branches give 0.5 exactly (e = 1), so > and >= agree everywhere",
    ),
    "losses.x_exp_value__mutmut_1": (
        "G",
        "c225dfac30",
        "exp_value returns exp(709.78) = 1.8e308 instead of inf for m < -709.78; the plain-form check accepts any |c| >= 1e299 there. Property: 'EXPONENTIAL.value(m) == inf and EXPONENTIAL.d1(m) == -inf exactly for m < -log(float max) (e.g. -710, -1e5), as the docstring promises'",
    ),
    "losses.x_exp_value__mutmut_7": (
        "G",
        "ecf7d7689c",
        "at exactly m = -log(float max) = -709.7827128933840 the true value 1.797e308 is finite but the mutant returns inf. Property: '@example boundary: EXPONENTIAL.value(-_LOG_MAX) == exp(_LOG_MAX) (finite)'",
    ),
    "losses.x_logistic_log_value__mutmut_15": (
        "G",
        "916e45b060",
        "sign of the series correction t/2 flipped: error t = exp(-m) <= 9.4e-14 for m > 30, i.e. up to ~26 ulp, inside the suite's RTOL = 1e-13 backward tolerance. Property: 'LOGISTIC.log_value(m) within 2 ulp of the mpmath value for m in (30, 36]', where the series term is above rounding",
    ),
    "losses.x_logistic_log_value__mutmut_18": (
        "G",
        "881b7b6619",
        "series coefficient 0.5 -> 1.5: error t = exp(-m) for m > 30, inside RTOL = 1e-13. Killed by the same property: 'LOGISTIC.log_value within 2 ulp of mpmath for m in (30, 36]'",
    ),
    "losses.x_logistic_log_value__mutmut_27": (
        "E",
        "0b0014a4a8",
        "at m = 30 exactly both branches are accurate to rounding (the series error there is < 1e-26), so < and <= give the same float",
    ),
    "losses.x__as_f64__mutmut_2": ("G", "0bd3d2a88c", "F32"),
    "losses.x__as_f64__mutmut_4": ("G", "e08cab62f2", "F32"),
    "losses.xǁLossǁ_eval__mutmut_1": (
        "G",
        "e2d50620c5",
        "errstate(under=None) keeps the caller's setting; numpy's default ignores underflow, so nothing changes unless a caller turned underflow reporting on. Property: 'inside np.errstate(under=\"raise\"), LOGISTIC.d2(800.0) == 0 and EXPONENTIAL.value(800.0) == 0 without FloatingPointError' (what the errstate is there for)",
    ),
    "losses.xǁLossǁ_eval__mutmut_5": (
        "E",
        "706b9d785f",
        "every form returns float64 for the float64 input _as_f64 makes, so dropping the dtype of the final cast changes nothing",
    ),
    "losses.xǁLossǁ_eval__mutmut_7": (
        "E",
        "d20f00501b",
        "every form returns float64 for the float64 input _as_f64 makes, so dropping the dtype of the final cast changes nothing",
    ),
    "bounds.x_singular_values__mutmut_2": (
        "E",
        "687809b3a0",
        "compute_uv=None is falsy: the same call as compute_uv=False",
    ),
    "bounds.x_top_singular_vectors__mutmut_3": (
        "E",
        "bb2d8756c3",
        "only U[:, 0], Vt[0] and s are used, which full_matrices does not change",
    ),
    "bounds.x_top_singular_vectors__mutmut_5": (
        "E",
        "21c3422b22",
        "only U[:, 0], Vt[0] and s are used, which full_matrices does not change",
    ),
    "bounds.x_top_singular_vectors__mutmut_6": (
        "E",
        "f857a28df5",
        "only U[:, 0], Vt[0] and s are used, which full_matrices does not change",
    ),
    "bounds.x_product_alignment__mutmut_4": (
        "E",
        "e7fc68fd73",
        'float("NAN") is nan, like float("nan")',
    ),
    "bounds.x_c1_lower_bound__mutmut_2": (
        "G",
        "9613aae9bc",
        "c1_lower_bound with a zero layer raises TypeError instead of returning -inf. Property: 'c1_lower_bound(weights with some W_k = 0, d) == -inf' (documented; test_bounds has the analogue only for l2b_lower_bounds)",
    ),
    "bounds.x_c1_lower_bound__mutmut_3": (
        "G",
        "d246bad9be",
        "c1_lower_bound with a zero layer raises ValueError instead of returning -inf. Same property: 'c1_lower_bound(weights with a zero layer, d) == -inf'",
    ),
    "bounds.x_c1_lower_bound__mutmut_4": (
        "E",
        "3db42f4166",
        'float("-INF") is -inf, like float("-inf")',
    ),
    "network.x_as_weights__mutmut_4": ("E", "46d475382a", "MSG"),
    "network.x_as_weights__mutmut_5": ("E", "deaad046c1", "MSG"),
    "network.x_as_weights__mutmut_7": ("E", "6134254efb", "MSG"),
    "network.x_as_weights__mutmut_8": ("E", "9da130bb4e", "MSG"),
    "network.x_as_weights__mutmut_9": ("E", "519731a604", "MSG"),
    "network.x_as_weights__mutmut_18": ("G", "5bd0bf0171", "F32"),
    "network.x_as_weights__mutmut_20": ("G", "56b297ca40", "F32"),
    "network.x_layer_gradients__mutmut_43": (
        "G",
        "dfd5415947",
        "ScaledGradient.g is returned as None; nothing in the library reads .g (only two test controls copy it). Property: 'layer_gradients(W, z, loss).g == scaled_gradient_vec(end_to_end(W), z, loss)[1]' (the documented scaled grad R(w_prod))",
    ),
    "network.x_scaled_hessian__mutmut_43": (
        "E",
        "563ca25d6b",
        "einsum accepts upper-case subscripts: the same contraction with renamed labels",
    ),
    "network.x_scaled_hessian__mutmut_84": (
        "E",
        "9f1e70b8c6",
        "einsum accepts upper-case subscripts: the same contraction with renamed labels",
    ),
    "network.x_scaled_hessian__mutmut_45": (
        "E",
        "7ef6f1b44e",
        "reshape treats any negative size as the inferred dimension (numpy 2.4 accepts -2 silently): the same shape",
    ),
    "network.x_satisfies_a2__mutmut_1": (
        "G",
        "0625494934",
        "the default rtol becomes 1.0, so satisfies_a2 accepts R(W(0)) up to e R(0); the subset only asserts a True case. Property: 'with the default rtol, satisfies_a2 is False for an initialisation with 0 < log R(W(0)) - log loss(0) < 1 (e.g. W_L scaled slightly in the A2-violating direction)'",
    ),
    "network.x_require_a2__mutmut_11": ("E", "477004c062", "MSG"),
    "network.x_require_a2__mutmut_14": ("E", "172e9da38a", "MSG"),
    "network.x_require_a2__mutmut_15": ("E", "5d7a533736", "MSG"),
    "network.x_require_a2__mutmut_16": ("E", "bf4553dd63", "MSG"),
    "network.x_require_a2__mutmut_22": ("E", "fe87d08a1f", "MSG"),
    "network.x_require_a2__mutmut_23": ("E", "c5e5d3b7cc", "MSG"),
    "network.x_require_a2__mutmut_24": ("E", "4d20d275ad", "MSG"),
    "network.x_require_a2__mutmut_17": (
        "E",
        "6369cb4030",
        "differs only when the log-ratio equals 8 eps exactly; the 8 eps is a rounding allowance, not a claim, and its both sides (S-A2a passes, a clear violation raises) are tested",
    ),
    "network.x_require_a2__mutmut_19": (
        "E",
        "8be46ee866",
        "rounding allowance 8 eps -> 9 eps: only loosens the few-ulp slack for R(W(0)) = R(0); the claimed behaviour (S-A2a passes, a real violation raises) is asserted",
    ),
    "maxmargin.x__as_z__mutmut_2": (
        "E",
        "9ecaba9e09",
        "Dataset.z is already float64 (Dataset.__post_init__ casts it), so the dtype argument is a no-op here",
    ),
    "maxmargin.x__as_z__mutmut_4": (
        "E",
        "7e4decdc1d",
        "Dataset.z is already float64 (Dataset.__post_init__ casts it), so the dtype argument is a no-op here",
    ),
    "maxmargin.x__as_z__mutmut_22": ("E", "af487d011c", "MSG"),
    "maxmargin.x__as_z__mutmut_23": ("E", "6e304c1b70", "MSG"),
    "maxmargin.x__as_z__mutmut_24": ("E", "193d3e4360", "MSG"),
    "maxmargin.x__as_z__mutmut_28": ("E", "b29f507658", "MSG"),
    "maxmargin.x_rounding_floor__mutmut_3": (
        "E",
        "197f16a773",
        "float32 rounding of max||z_i|| moves this order-of-magnitude floor by ~1e-7 relative: no effect on any decision",
    ),
    "maxmargin.x_rounding_floor__mutmut_5": (
        "E",
        "3708463556",
        "float32 rounding of max||z_i|| moves this order-of-magnitude floor by ~1e-7 relative: no effect on any decision",
    ),
    "maxmargin.x_check_certificate__mutmut_29": ("E", "36137d9c36", "MSG"),
    "maxmargin.x_check_certificate__mutmut_30": ("E", "57bb554ad7", "MSG"),
    "maxmargin.x_check_certificate__mutmut_31": ("E", "519ce635c9", "MSG"),
    "maxmargin.x_check_certificate__mutmut_46": ("E", "79e2c4cbd7", "MSG"),
    "maxmargin.x_check_certificate__mutmut_47": ("E", "5e60358294", "MSG"),
    "maxmargin.x_check_certificate__mutmut_71": (
        "E",
        "edf9049728",
        "'failing' only selects which residuals the message lists",
    ),
    "maxmargin.x_check_certificate__mutmut_72": ("E", "4730cd9261", "MSG"),
    "maxmargin.x_check_certificate__mutmut_74": ("E", "c61f28a6ee", "MSG"),
    "maxmargin.x_check_certificate__mutmut_75": ("E", "33d95b36ac", "MSG"),
    "maxmargin.x_check_certificate__mutmut_89": ("E", "96d7a8cf79", "MSG"),
    "maxmargin.x_check_certificate__mutmut_90": ("E", "a5e0dd5569", "MSG"),
    "maxmargin.x_check_certificate__mutmut_91": ("E", "1b6e32e8fd", "MSG"),
    "maxmargin.x_check_certificate__mutmut_92": ("E", "113c7ac722", "MSG"),
    "maxmargin.x_check_certificate__mutmut_93": ("E", "9f71285fa5", "MSG"),
    "maxmargin.x_check_certificate__mutmut_94": ("E", "792999a222", "MSG"),
    "maxmargin.x_check_certificate__mutmut_95": ("E", "7cfd6337ac", "MSG"),
    "maxmargin.x_check_certificate__mutmut_96": ("E", "dc6f8aec96", "MSG"),
    "maxmargin.x_check_certificate__mutmut_97": ("E", "c089f7845a", "MSG"),
    "maxmargin.x_check_certificate__mutmut_98": ("E", "b78d0afec0", "MSG"),
    "maxmargin.x_check_certificate__mutmut_99": ("E", "d59856d763", "MSG"),
    "maxmargin.x_check_certificate__mutmut_100": ("E", "92c756605d", "MSG"),
    "maxmargin.x_check_certificate__mutmut_101": ("E", "e1bfd9f196", "MSG"),
    "maxmargin.x_check_certificate__mutmut_102": ("E", "8a37f6b0a4", "MSG"),
    "maxmargin.x_check_certificate__mutmut_103": ("E", "784fccf617", "MSG"),
    "maxmargin.x_check_certificate__mutmut_109": ("E", "3b627bd786", "MSG"),
    "maxmargin.x_check_certificate__mutmut_110": ("E", "14b3798e55", "MSG"),
    "maxmargin.x_check_certificate__mutmut_111": ("E", "18144180d1", "MSG"),
    "maxmargin.x_check_certificate__mutmut_112": ("E", "3c502c21dd", "MSG"),
    "maxmargin.x_check_certificate__mutmut_113": ("E", "ce7adbb967", "MSG"),
    "maxmargin.x_check_certificate__mutmut_114": ("E", "0ca0bcc0a3", "MSG"),
    "maxmargin.x_check_certificate__mutmut_115": ("E", "5df64bb963", "MSG"),
    "maxmargin.x_check_certificate__mutmut_116": ("E", "1d329dc61b", "MSG"),
    "maxmargin.x_check_certificate__mutmut_117": ("E", "85185d31d7", "MSG"),
    "maxmargin.x_check_certificate__mutmut_118": ("E", "4f50f3aad9", "MSG"),
    "maxmargin.x__affine_min_norm__mutmut_1": (
        "E",
        "6aa9f4b14c",
        "with k = None the general path runs for one row too and gives the same answer (M has no columns, beta is empty, alpha = [1], p = a[0])",
    ),
    "maxmargin.x__affine_min_norm__mutmut_2": (
        "E",
        "7436139ae8",
        "k = d differs from the row count only by taking the general path (same answer, as above) or, when d = 1, the one-row shortcut; in 1-D the corral always has one point (NNLS keeps E_P of full column rank and the major cycle never adds), so the shortcut is right",
    ),
    "maxmargin.x__affine_min_norm__mutmut_18": ("E", "5e85455163", "RCOND"),
    "maxmargin.x__affine_min_norm__mutmut_29": ("E", "46267ba798", "RCOND"),
    "maxmargin.x__affine_min_norm__mutmut_19": ("G", "05aff2cc57", "REFINE"),
    "maxmargin.x__affine_min_norm__mutmut_24": ("G", "7cd1aa65db", "REFINE"),
    "maxmargin.x__affine_min_norm__mutmut_30": ("G", "db45c7ab6f", "REFINE"),
    "maxmargin.x__primal_on_support__mutmut_9": ("E", "1dd2b4b9f6", "RCOND"),
    "maxmargin.x__primal_on_support__mutmut_17": ("E", "f23c8b4b57", "RCOND"),
    "maxmargin.x__fit_dual__mutmut_13": ("E", "f568b53c96", "CAP"),
    "maxmargin.x__fit_dual__mutmut_16": ("E", "d223c3c0a5", "CAP"),
    "maxmargin.x__fit_dual__mutmut_18": ("E", "41e50c1a75", "CAP"),
    "maxmargin.x__fit_dual__mutmut_19": ("E", "c67134ade5", "CAP"),
    "maxmargin.x__fit_dual__mutmut_21": ("E", "ae73f0776b", "CAP"),
    "maxmargin.x__best_candidate__mutmut_22": (
        "E",
        "44ebc4df43",
        "the loop renormalises every candidate direction (ubar / ||ubar||), so p * ||p|| gives the same unit vector",
    ),
    "maxmargin.x__best_candidate__mutmut_25": (
        "E",
        "cfb5dc9314",
        "both candidate directions are already unit vectors here; multiplying by their norm (1 to rounding) instead of dividing changes ubar by an ulp",
    ),
    "maxmargin.x__best_candidate__mutmut_28": (
        "E",
        "2e5c73e5e8",
        "Wolfe's weights already sum to 1 (affine weights, or renormalised after a drop), so w * sum(w) = w / sum(w) to rounding",
    ),
    "maxmargin.x__best_candidate__mutmut_52": (
        "E",
        "6c5245c602",
        "on a tie in score either candidate has the same (certified) residual",
    ),
    "maxmargin.x__best_candidate__mutmut_56": (
        "E",
        "5a7551e829",
        "MSG (and unreachable: the p-direction candidate always exists)",
    ),
    "maxmargin.x__best_candidate__mutmut_57": (
        "E",
        "cee29b2990",
        "MSG (and unreachable: the p-direction candidate always exists)",
    ),
    "maxmargin.x__best_candidate__mutmut_58": (
        "E",
        "678a16241f",
        "MSG (and unreachable: the p-direction candidate always exists)",
    ),
    "maxmargin.x__wolfe__mutmut_7": ("E", "e8a59f1ada", "ROUND_TOL"),
    "maxmargin.x__wolfe__mutmut_9": ("E", "b82a6389f3", "ROUND_TOL"),
    "maxmargin.x__wolfe__mutmut_11": (
        "E",
        "3fa0527b28",
        "the initial x is overwritten by the first minor cycle, which always runs (range(len(corral) + 1) >= 2 and max_iter >= 20)",
    ),
    "maxmargin.x__wolfe__mutmut_15": (
        "E",
        "cdc136d0e3",
        "the minor loop always exits through 'all(alpha > 0)' before len(corral) + 1 passes (each pass drops a point; one point has alpha = [1]), so a larger cap is never reached",
    ),
    "maxmargin.x__wolfe__mutmut_36": (
        "E",
        "dd81910cf1",
        "denom = w - alpha with w >= 0 >= alpha is 0 only when w = 0, and then the ratio is 0 either way",
    ),
    "maxmargin.x__wolfe__mutmut_47": (
        "E",
        "a038652c59",
        "the inner fallback value is used only where denom <= 0, and there the outer where returns 0 anyway",
    ),
    "maxmargin.x__wolfe__mutmut_60": (
        "E",
        "c433e0480b",
        "w[kill] = nan is dropped by 'keep = w > 0' (nan > 0 is False) exactly like w[kill] = 0",
    ),
    "maxmargin.x__wolfe__mutmut_68": (
        "E",
        "f2d3f05b79",
        "zip's strict only matters when the lengths differ; keep always has len(corral) entries",
    ),
    "maxmargin.x__wolfe__mutmut_71": (
        "E",
        "2240bda542",
        "zip's strict only matters when the lengths differ; keep always has len(corral) entries",
    ),
    "maxmargin.x__wolfe__mutmut_72": (
        "E",
        "51fda94351",
        "zip's strict only matters when the lengths differ; keep always has len(corral) entries",
    ),
    "maxmargin.x__wolfe__mutmut_75": (
        "E",
        "3fa0527b28",
        "x set to None after a drop is always overwritten: the minor loop ends through the 'all(alpha > 0)' branch (a single point has alpha = [1]), which sets x",
    ),
    "maxmargin.x__wolfe__mutmut_83": ("E", "78523de789", "ROUND_TOL"),
    "maxmargin.x__wolfe__mutmut_86": ("E", "9330a01a2d", "ROUND_TOL"),
    "maxmargin.x__wolfe__mutmut_87": ("E", "f6ef3a9587", "ROUND_TOL"),
    "maxmargin.x__wolfe__mutmut_88": ("E", "7775d133b5", "ROUND_TOL"),
    "maxmargin.x__wolfe__mutmut_89": ("E", "19cff492ce", "ROUND_TOL"),
    "maxmargin.x__wolfe__mutmut_92": ("E", "5c202f00ee", "ROUND_TOL"),
    "maxmargin.x__wolfe__mutmut_93": (
        "E",
        "2ee64666b4",
        "at the optimum the argmin is a corral point, so the 'j in corral' clause stops the loop either way; a tie outside the corral only costs an extra cycle",
    ),
    "maxmargin.x_max_margin__mutmut_20": ("E", "44fca50f8c", "MSG"),
    "maxmargin.x_max_margin__mutmut_28": ("E", "fd2cdb2f7e", "ROUND_TOL"),
    "maxmargin.x_max_margin__mutmut_30": ("E", "530ebc9033", "ROUND_TOL"),
    "maxmargin.x_max_margin__mutmut_41": ("E", "1fb849e2a9", "WARM"),
    "maxmargin.x_max_margin__mutmut_42": ("E", "5e7b164fef", "WARM"),
    "maxmargin.x_max_margin__mutmut_43": (
        "E",
        "2115024654",
        "f = 2 e_{d+1} scales the NNLS solution by 2; the warm start uses lam / sum(lam), unchanged",
    ),
    "maxmargin.x_max_margin__mutmut_47": ("E", "5f8ec1e724", "CAP"),
    "maxmargin.x_max_margin__mutmut_50": ("E", "f2935ddb85", "CAP"),
    "maxmargin.x_max_margin__mutmut_52": ("E", "85971bf8cb", "CAP"),
    "maxmargin.x_max_margin__mutmut_53": ("E", "a9da21d7bc", "CAP"),
    "maxmargin.x_max_margin__mutmut_54": ("E", "a372baaab1", "WARM"),
    "maxmargin.x_max_margin__mutmut_55": ("E", "7ad8aeafae", "CAP"),
    "maxmargin.x_max_margin__mutmut_58": (
        "E",
        "d05867286d",
        "lam >= 0, so sum(lam) > 0 iff any(lam > 0): 'and' and 'or' agree",
    ),
    "maxmargin.x_max_margin__mutmut_59": (
        "E",
        "6bd398d010",
        "lam >= 0: the condition reduces to any(lam > 0) either way",
    ),
    "maxmargin.x_max_margin__mutmut_60": ("E", "938434f02c", "WARM"),
    "maxmargin.x_max_margin__mutmut_61": ("E", "37cc94d44b", "WARM"),
    "maxmargin.x_max_margin__mutmut_62": (
        "E",
        "6a6c142288",
        "lam >= 0, so any(lam >= 0) is always true and the condition is sum(lam) > 0, which is any(lam > 0)",
    ),
    "maxmargin.x_max_margin__mutmut_63": ("E", "6b8442db19", "WARM"),
    "maxmargin.x_max_margin__mutmut_67": ("E", "954888b2c8", "WARM"),
    "maxmargin.x_max_margin__mutmut_70": ("E", "b96c33506f", "WARM"),
    "maxmargin.x_max_margin__mutmut_91": ("E", "e5eff05d39", "CAP"),
    "maxmargin.x_max_margin__mutmut_93": ("E", "d4b761bb88", "CAP"),
    "maxmargin.x_max_margin__mutmut_95": ("E", "17eaef0016", "CAP"),
    "maxmargin.x_max_margin__mutmut_102": ("E", "338a75a9eb", "MSG"),
    "maxmargin.x_max_margin__mutmut_104": ("E", "f2a991cb54", "MSG"),
    "maxmargin.x_max_margin__mutmut_105": ("E", "bf1f4ddff2", "MSG"),
    "maxmargin.x_max_margin__mutmut_106": ("E", "6e668ebbf8", "MSG"),
    "maxmargin.x_max_margin__mutmut_107": ("E", "3a8b47a384", "MSG"),
    "maxmargin.x_max_margin__mutmut_108": ("E", "0372134054", "MSG"),
    "maxmargin.x_max_margin__mutmut_109": ("E", "52ff2443fc", "MSG"),
    "maxmargin.x_max_margin__mutmut_152": ("E", "21e695a49a", "ROUND_TOL"),
    "maxmargin.x_max_margin__mutmut_154": ("E", "ee5c98734e", "ROUND_TOL"),
    "maxmargin.x_max_margin__mutmut_155": ("E", "141695e2c9", "ROUND_TOL"),
    "maxmargin.x_max_margin__mutmut_156": ("E", "af933875e9", "ROUND_TOL"),
    "maxmargin.x_max_margin__mutmut_157": ("E", "6b93e275a0", "ROUND_TOL"),
    "maxmargin.x_max_margin__mutmut_163": (
        "E",
        "6f8f3da72d",
        "differs only when margin - gamma equals the tolerance exactly (measure zero)",
    ),
    "maxmargin.x__unit__mutmut_11": ("E", "e17582174a", "MSG"),
    "maxmargin.x__unit__mutmut_19": ("E", "6b81803c5c", "MSG"),
    "maxmargin.x_perp__mutmut_40": (
        "E",
        "1ed9fbb352",
        "a zero row gets k = 1 instead of 0; ldexp(0, -1) and ldexp(0, 1) are 0 either way",
    ),
    "maxmargin.x_perp__mutmut_49": (
        "E",
        "b5b1649e39",
        "the inner where only guards frexp for zero rows, whose k the outer where sets to 0 anyway",
    ),
    "maxmargin.x_perp__mutmut_51": (
        "E",
        "946aee07f6",
        "the inner where only guards frexp for zero rows, whose k the outer where sets to 0 anyway",
    ),
    "maxmargin.x_perp__mutmut_53": (
        "E",
        "af7d7217dc",
        "a zero row gets k = 1 instead of 0; its perp is 0 either way",
    ),
    "maxmargin.x_sin_angle__mutmut_18": ("E", "e17582174a", "MSG"),
    "maxmargin.x_sin_angle__mutmut_19": ("E", "d60080c4ab", "MSG"),
    "maxmargin.x_sin_angle__mutmut_20": ("E", "3bbd2099cd", "MSG"),
    "maxmargin.x_sin_angle__mutmut_21": ("E", "f1b2c80787", "MSG"),
    "maxmargin.x_sin_angle__mutmut_37": ("E", "f99e4dc3d8", "MSG"),
    "maxmargin.x_sin_angle__mutmut_44": ("E", "6adcdb9864", "MSG"),
    "maxmargin.x_sin_angle__mutmut_45": ("E", "bb9a576dbd", "MSG"),
    "maxmargin.x_sin_angle__mutmut_46": ("E", "3ab8fafb9e", "MSG"),
    # Re-run of maxmargin after the properties of 90efc4f (tools/mutation.py --modules maxmargin):
    "maxmargin.x__best_candidate__mutmut_15": (
        "E",
        "6c5fb320ba",
        "u * nu instead of u / nu: the same direction, since the loop renormalises every candidate (ubar / ||ubar||), and gamma = 1 / nu is unchanged",
    ),
    "maxmargin.x__fit_dual__mutmut_4": (
        "E",
        "1b7f5daeba",
        "the first block's row scale 1 / gamma becomes gamma: on the corral the candidate direction has margins Z_C ubar = gamma 1 (to rounding: it solves these equalities), so the normal equations (c^2 Z_C Z_C^T + 1 1^T) mu = (c gamma + 1) 1 are solved by a multiple of the true dual for any row scale c; normalised by its sum, the same fit",
    ),
    "maxmargin.x__fit_dual__mutmut_27": (
        "E",
        "c44191ce8b",
        "mu * s instead of mu / s: whenever a certifying dual exists for the candidate, [Z_C^T / gamma; 1^T] mu = [ubar; 1] is consistent and NNLS returns s = sum(mu) = 1 to rounding, so both give the same dual; otherwise the candidate fails the certificate either way",
    ),
    "maxmargin.x__primal_on_support__mutmut_12": ("G", "0ddfa86c8c", "REFINE"),
    "maxmargin.x__residuals__mutmut_61": ("G", "8c86d916f2", "LATER"),
    "maxmargin.x__residuals__mutmut_66": ("G", "9f4031222c", "LATER"),
    "maxmargin.x__residuals__mutmut_64": (
        "G",
        "016be3b4f7",
        "max_residual omits complementary slackness, which is never strictly the largest residual in the tests (stationarity >= slackness whenever a planted weight sits off the margin). Property: 'a planted dual weight eps on a point z_j = (gamma + t) ubar (then |gap| = stationarity = slackness = eps t / gamma, a near tie decided by rounding) keeps max_residual == max(abs(v) for v in as_dict().values())'",
    ),
    "maxmargin.x__wolfe__mutmut_14": ("G", "061c27098f", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_28": ("G", "bf3bbea910", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_38": ("G", "a27a7da957", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_39": ("G", "704d6117cc", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_46": ("G", "c233c6a419", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_48": ("G", "ff0077908f", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_51": ("G", "0f22cc7085", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_57": ("G", "85fe1cfe47", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_58": ("G", "e0b3250d7f", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_74": ("G", "7c7720971b", "WOLFE_PATH"),
    "maxmargin.x__wolfe__mutmut_84": (
        "G",
        "a06d348561",
        "Wolfe's slack eps sqrt(xx) rmax becomes eps rmax / sqrt(xx): larger by 1 / gamma_s^2, harmless for the test data (gamma_s >~ 0.05) but for small margins it lets Wolfe stop at a corral that misses support points. Property: 'with NNLS patched to fail (cold start), max_margin on data with gamma ~ 1e-4 max||z_i|| (tol above the rounding floor) returns the certified answer'",
    ),
    "maxmargin.x__wolfe__mutmut_99": (
        "G",
        "510b867cee",
        "a point entering the corral gets weight 1 instead of 0: the next minor pass re-solves alpha from the corral alone, so it matters only when the iteration cap binds right after a major cycle (then w sums to 2). Property: '_wolfe on data where the cap binds (more than d + 1 support ties, the every-point start of test_wolfe_from_a_wrong_corral_reaches_the_certified_answer; a fixed example) returns w summing to 1'",
    ),
    "maxmargin.x_max_margin__mutmut_73": ("E", "74a50e715d", "COLD0"),
    "maxmargin.x_max_margin__mutmut_75": ("E", "494e5d1522", "COLD0"),
    "maxmargin.x_max_margin__mutmut_77": ("E", "85f6635a3a", "COLD0"),
    "maxmargin.x_max_margin__mutmut_135": (
        "G",
        "c377bcc676",
        "the certificate is asked for the default 1e-12 instead of max(tol, rounding floor): differs only on data whose rounding floor exceeds tol (gamma <~ 1e-3 max||z_i||), where max_margin would raise instead of returning a floor-certified answer (a timeout in the full run, via test_adding_a_point's rare tiny margins). Property: 'max_margin on separable data with gamma ~ 1e-5 max||z_i|| returns an answer that check_certificate accepts at rounding_floor(z, gamma)'",
    ),
    "maxmargin.x_perp__mutmut_3": ("E", "e45bdd61b7", "F32_EXACT"),
    "maxmargin.x_perp__mutmut_5": ("E", "85043bb47e", "F32_EXACT"),
    "maxmargin.x_perp__mutmut_41": ("E", "3515c25c0e", "SCALE_EXACT"),
    "maxmargin.x_perp__mutmut_50": ("E", "a039f79893", "SCALE_EXACT"),
    "maxmargin.x_perp__mutmut_34": ("G", "aab0ba8401", "LATER"),
    "maxmargin.x_perp__mutmut_43": ("G", "0325ea4a80", "LATER"),
    "maxmargin.x_perp__mutmut_61": ("G", "03f7dba280", "LATER"),
    "maxmargin.x_perp__mutmut_64": ("G", "41e4e6fa0b", "LATER"),
    "maxmargin.x_sin_angle__mutmut_24": ("G", "7f6715f844", "LATER"),
    "maxmargin.x_sin_angle__mutmut_27": ("G", "6edf0e7868", "LATER"),
}

TIMEOUT_NOTE = (
    "Checked by hand: run directly with the four test files collected, the mutant's tests fail; "
    "Hypothesis then shrinks the failure (an ExceptionGroup), which outlasts mutmut's limit of "
    "15 x (normal time + 1 s), hence 'timeout'. Counted as detected."
)

TIMEOUTS: dict[str, tuple[str, str]] = {
    "bounds.x_l2b_lower_bounds__mutmut_18": (
        "0de10e371d",
        "test_bounds.py::test_l2b_lower_bounds_formula (shape mismatch)",
    ),
    "bounds.x_l2b_lower_bounds__mutmut_22": (
        "547a0aa525",
        "test_bounds.py::test_l2b_lower_bounds_formula (shape mismatch)",
    ),
    "maxmargin.x__affine_min_norm__mutmut_3": (
        "8fd31e3c9e",
        "test_maxmargin.py::test_adding_a_point",
    ),
    "maxmargin.x__affine_min_norm__mutmut_4": (
        "e6e9d3b1dd",
        "test_maxmargin.py::test_adding_a_point",
    ),
    "maxmargin.x__wolfe__mutmut_26": (
        "eb061280c2",
        "test_maxmargin.py::test_permutation_invariance (CertificateError)",
    ),
    "maxmargin.x__wolfe__mutmut_31": (
        "0440cbb190",
        "test_maxmargin.py::test_answer_passes_its_certificate (TypeError)",
    ),
    "maxmargin.x__wolfe__mutmut_61": (
        "71e72a3f27",
        "test_maxmargin.py::test_planted_wrong_answers_fail_the_certificate",
    ),
    "maxmargin.x__wolfe__mutmut_65": (
        "e543c25f2c",
        "test_maxmargin.py::test_answer_passes_its_certificate",
    ),
    "maxmargin.x_rounding_floor__mutmut_8": (
        "f8a1061a14",
        "test_maxmargin.py::test_adding_a_point",
    ),
    "maxmargin.x_max_margin__mutmut_135": (
        "c377bcc676",
        "test_maxmargin.py::test_adding_a_point (CertificateError)",
    ),
    "maxmargin.x_sin_angle__mutmut_28": (
        "c3383b204d",
        "test_maxmargin.py::test_sin_angle_batches_and_scales",
    ),
    "maxmargin.x_sin_angle__mutmut_32": (
        "edd35ea233",
        "test_maxmargin.py::test_sin_angle_batches_and_scales",
    ),
    # maxmargin re-run (tests of 90efc4f): checked with test_maxmargin.py alone, profile 'triage'
    # (no shrinking), in the run's mutants/ tree with MUTANT_UNDER_TEST set.
    "maxmargin.x__fit_dual__mutmut_9": (
        "7e704dc3b9",
        "test_maxmargin.py::test_best_candidate_repairs_wrong_weights_and_an_inaccurate_p; checked with this file alone, triage profile",
    ),
    "maxmargin.x__fit_dual__mutmut_25": (
        "ce58e69ff3",
        "test_maxmargin.py::test_best_candidate_repairs_wrong_weights_and_an_inaccurate_p; checked with this file alone, triage profile",
    ),
    "maxmargin.x__residuals__mutmut_25": (
        "49c8844f3d",
        "test_maxmargin.py::test_certificate_residuals_are_their_formulas_and_scale_free; checked with this file alone, triage profile",
    ),
    "maxmargin.x_check_certificate__mutmut_14": (
        "6dcfbe8b84",
        "test_maxmargin.py::test_float32_input_is_computed_in_float64; checked with this file alone, triage profile",
    ),
    "maxmargin.x_check_certificate__mutmut_16": (
        "bea7dbb6a5",
        "test_maxmargin.py::test_float32_input_is_computed_in_float64; checked with this file alone, triage profile",
    ),
    "maxmargin.x_perp__mutmut_59": (
        "b8bf2e9ec6",
        "test_maxmargin.py::test_perp_at_any_scale; checked with this file alone, triage profile",
    ),
    "maxmargin.xǁMaxMarginCertificateǁas_dict__mutmut_9": (
        "d2fb39a3f3",
        "test_maxmargin.py::test_certificate_residuals_are_their_formulas_and_scale_free (KeyError); checked with this file alone, triage profile",
    ),
    "maxmargin.xǁMaxMarginCertificateǁas_dict__mutmut_11": (
        "39cc4d02ba",
        "test_maxmargin.py::test_certificate_residuals_are_their_formulas_and_scale_free (KeyError); checked with this file alone, triage profile",
    ),
    "maxmargin.xǁMaxMarginCertificateǁas_dict__mutmut_12": (
        "076607e96b",
        "test_maxmargin.py::test_certificate_residuals_are_their_formulas_and_scale_free (KeyError); checked with this file alone, triage profile",
    ),
}

# Mutants that no test of the subset reaches ('no tests'), by function.
NO_TESTS: dict[str, tuple[str, str]] = {
    "network.x_hessian_norm_bound__mutmut_": (
        "gap",
        "no test of the subset calls hessian_norm_bound (only flow.rate_sensitivity uses it, in the "
        "flow's S-EQ1 error budget; not checked whether the flow tests kill these). Property: "
        "'hessian_norm_bound(W, z, loss, s) >= ||scaled_hessian(W, z, loss, s)||_2 (soundness), and "
        "it equals an independent evaluation of its documented formula tr(Hr) ||J||_F^2 + 2 sum_{k<l} "
        "||s_l|| ||M_lk||_F ||P_k g|| (for L = 1: tr(Hr) d)'",
    ),
    "bounds.x_singular_gaps__mutmut_": (
        "gap",
        "dead code: singular_gaps is called nowhere in the library or the tests (its docstring says "
        "the S-L2b / S-C1 tolerances use it; they do not). Delete it, or add the property "
        "'singular_gaps(W)[k] == s1 - s2 of np.linalg.svd(W_k), s1 for a vector layer'",
    ),
}


if __name__ == "__main__":
    sys.exit(main())
