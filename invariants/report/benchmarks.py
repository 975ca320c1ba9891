"""The benchmark results the report quotes (``benchmarks/results/*.json``), and their staleness.

The benchmark job writes its results beside the code; the report reads their
ratios and issue targets (:func:`benchmark_metrics`) so the baseline comparison
can flag a ratio that moved beyond its noise.

A result is only worth quoting for the code that produced it.  Each benchmark
records, under ``environment.source_sha256``, the sha256 of the file of every module
of this repository (``invariants/``, ``benchmarks/``; ``tools/`` and ``properties/`` for
the fuzzing benchmark, which times property tests under a tool's patch) that was imported when it
finished (:func:`source_hashes` over ``sys.modules``): the modules it actually ran,
``core/`` and ``dynamics/`` included, found without a hand-kept list.  A module that a
later change starts to import can only come in through an edit of a module already
hashed, so the set cannot silently miss code.  Hashing file contents (not ``git``
state) works in any checkout, worktree or unpacked copy.  The report recomputes the
hashes from the files of its own checkout (:func:`stale_reason`) and marks a result
whose code differs, or that records no such hashes, as *stale*.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .values import num

SOURCE_KEY = "source_sha256"  # environment key: {repo-relative path: sha256 of the file}
EDITED_KEY = "sources_edited_during_run"  # environment key: paths whose file changed mid-run
# The repository's code a benchmark can run (bench_fuzz runs property tests and tools/).
HASHED_DIRS = ("invariants", "benchmarks", "tools", "properties")
# The report itself: a benchmark imports it only to hash, it times none of it.
NOT_HASHED = ("invariants/report/",)


def file_sha256(path: str | Path) -> str:
    """The sha256 (hex) of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def source_files(modules: Mapping[str, Any], root: str | Path) -> list[str]:
    """Repository-relative paths of the modules among ``modules`` that are this code.

    ``modules`` is ``sys.modules`` (or any name -> module mapping); a module counts when
    its ``__file__`` lies in one of :data:`HASHED_DIRS` under ``root`` (``__main__``,
    the benchmark script itself, included) and not in :data:`NOT_HASHED`.
    """
    base = Path(root).resolve()
    out = set()
    for module in list(modules.values()):
        name = getattr(module, "__file__", None)
        if not name:
            continue
        try:
            rel = Path(name).resolve().relative_to(base).as_posix()
        except ValueError:  # outside the repository: numpy, scipy, the standard library
            continue
        if rel.split("/", 1)[0] in HASHED_DIRS and not rel.startswith(NOT_HASHED):
            out.add(rel)
    return sorted(out)


def source_hashes(modules: Mapping[str, Any], root: str | Path) -> dict[str, str]:
    """{repository-relative path: sha256} of every module of :func:`source_files`."""
    return {rel: file_sha256(Path(root) / rel) for rel in source_files(modules, root)}


def stale_reason(environment: Any, root: str | Path) -> str | None:
    """Why a result's recorded code is not the code under ``root`` (None: it is).

    ``environment`` is the result's ``environment`` block.  Stale: no
    :data:`SOURCE_KEY` (an older result: its ``library_sha256`` covered only the
    top-level files of ``invariants/``), no file in it, a file edited while the
    benchmark ran (:data:`EDITED_KEY`), or a file that is now different or gone.
    """
    env = environment if isinstance(environment, dict) else {}
    recorded = env.get(SOURCE_KEY)
    if not isinstance(recorded, dict):
        if "library_sha256" in env:
            return (
                "its library hash covers only the top-level files of invariants/ (not core/ "
                "or dynamics/), so it cannot be matched with this code"
            )
        return "it records no hash of the code it ran"
    if not recorded:
        return "it records no source file"
    edited = env.get(EDITED_KEY) or []
    if edited:
        return f"its code was edited while it ran ({', '.join(map(str, edited[:3]))})"
    changed = []
    for rel, digest in sorted(recorded.items()):
        path = Path(root) / rel
        if not path.is_file():
            changed.append(f"{rel} (gone)")
        elif file_sha256(path) != digest:
            changed.append(rel)
    if not changed:
        return None
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    return (
        f"{len(changed)} of the {len(recorded)} source files it ran differ now: "
        + ", ".join(changed[:3])
        + more
    )


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
    "invariants.bench.certify/1": (
        (
            "certify.ratio_total",
            "ratio_total",
            "lower",
            "cost of the claim checks with their certificates / without (ball arithmetic)",
        ),
    ),
    "invariants.bench.fuzz/1": (
        (
            "fuzz.ratio_scoped_over_bare",
            "ratio_scoped_over_bare",
            "lower",
            "HypoFuzz coverage collector as make fuzz runs it (scoped), CPU / no collector, "
            "fixed corpus",
        ),
        (
            "fuzz.ratio_stock_over_bare",
            "ratio_stock_over_bare",
            "lower",
            "HypoFuzz's own coverage collector, CPU / no collector, fixed corpus",
        ),
    ),
}


def benchmark_metrics(directory: str | Path, root: str | Path | None = None) -> dict | None:
    """The benchmark ratios of ``benchmarks/results/*.json``, or ``None`` if there are none.

    Each metric has a ``value``, the direction that is ``better`` ("higher",
    "lower", or "pass" for an issue target met / missed), its ``file``, a
    ``description`` and whether it is ``stale``: measured on other code than the
    checkout ``root`` (default: the folder two levels above ``directory``), with the
    reason per file in ``stale`` (:func:`stale_reason`).  Files of a schema this code
    does not know are listed in ``notes`` and not compared.
    """
    files = sorted(Path(directory).glob("*.json"))
    if not files:
        return None
    root = Path(directory).resolve().parents[1] if root is None else Path(root)
    metrics: dict[str, dict] = {}
    notes: list[str] = []
    stale: dict[str, str] = {}
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
        reason = stale_reason(data.get("environment"), root)
        if reason is not None:
            stale[f.name] = reason
    for m in metrics.values():
        m["stale"] = m["file"] in stale
    return {
        "files": [f.name for f in files],
        "metrics": dict(sorted(metrics.items())),
        "notes": notes,
        "stale": stale,
    }
