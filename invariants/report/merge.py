"""Merging reports of one profile into one report.

Several machines, ``--tx`` workers, shards (``--invariants-shard I/N``), ``-k``
subsets, a partial report and its rerun: :func:`merge` folds their test entries
into one report, as if one run had made them all.
"""

from __future__ import annotations

from pathlib import Path

from .build import build_report, timings_of
from .files import ReportFormatError, load


def merge(paths: list[str | Path]) -> dict:
    """One report from several reports (or partial reports) of one profile.

    A test seen in several sources keeps its real outcome over ``not run`` or
    ``running``; identical records are kept once (the same deterministic run
    on two machines); differing records are all kept (random profiles), so
    their examples add up.  The merged run covers the whole suite when one
    source does, or when the sources are the shards 1..N of
    ``--invariants-shard I/N``.
    """
    if not paths:
        raise ReportFormatError("merge: no report files given")
    reports = [(Path(p), load(p)) for p in paths]
    profiles = {r["run"]["profile"] for _, r in reports}
    if len(profiles) > 1:
        which = ", ".join(f"{p} ({r['run']['profile']})" for p, r in reports)
        raise ReportFormatError(
            f"merge: the reports have different profiles ({which}); merge runs of one profile"
        )
    by_id: dict[str, list[dict]] = {}
    durations: dict[str, float] = {}
    example_times: dict[str, dict] = {}  # the first source's, per test
    for _, r in reports:
        tdur = (r.get("timings") or {}).get("tests", {})
        for nodeid, t in ((r.get("timings") or {}).get("examples") or {}).items():
            example_times.setdefault(nodeid, t)
        for t in r["tests"]:
            group = by_id.setdefault(t["nodeid"], [])
            if t not in group:
                group.append(t)
            durations[t["nodeid"]] = durations.get(t["nodeid"], 0.0) + float(
                tdur.get(t["nodeid"], 0.0)
            )
    tests = []
    for group in by_id.values():
        real = [t for t in group if t["outcome"] not in ("not run", "running")]
        tests.extend(real or group[:1])
    sels = [r["run"]["selection"] for _, r in reports]
    complete = any(s["complete"] for s in sels)
    reason = ""
    if not complete:
        shards = [s.get("shard") for s in sels]
        counts = {s[1] for s in shards if s}
        others = [
            s
            for s in sels
            if not s.get("shard")
            or s["reason"] != (f"--invariants-shard {s['shard'][0]}/{s['shard'][1]}")
        ]
        if (
            len(counts) == 1
            and not others
            and {s[0] for s in shards if s} == set(range(1, next(iter(counts)) + 1))
        ):
            complete = True
        else:
            reason = "merged subsets: " + " + ".join(f"({s['reason']})" for s in sels)
    selection = {
        "complete": complete,
        "reason": reason,
        "args": sorted({a for s in sels for a in s.get("args", [])}),
        "shard": None,
    }
    bench = next((r.get("benchmarks") for _, r in reports if r.get("benchmarks")), None)
    report = build_report(
        tests, {"profile": profiles.pop(), "selection": selection, "partial": False}, bench
    )
    report["timings"] = timings_of(report, durations, None, example_times)
    report["execution"] = {"merged_from": [str(p) for p, _ in reports]}
    return report
