"""The benchmark results the report quotes (``benchmarks/results/*.json``).

The benchmark job writes its results beside the code; the report reads their
ratios and issue targets (:func:`benchmark_metrics`) so the baseline comparison
can flag a ratio that moved beyond its noise.
"""

from __future__ import annotations

import json
from pathlib import Path

from .values import num

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
