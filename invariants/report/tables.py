"""The report's sections built from the papers' own tables, and the ``_reach`` convention.

Which constants get a looseness row, which observations are measured laws with their
expected values, and which figures the report draws from what are each paper's to
declare, in its catalogue (``[[looseness]]``, ``[[law]]``, ``[[figure]]``:
:data:`invariants.statements.LOOSENESS`, :data:`~invariants.statements.LAWS`,
:data:`~invariants.statements.FIGURES`); nothing here names a paper.
:func:`looseness`, :func:`laws` and :func:`figure_plan` turn the recorded data into
those sections; :data:`SHARED_FIGURES` are the figures of every run (the slack
histograms), drawn after the papers'.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..statements import BRIDGES, FIGURES, LAWS, LOOSENESS, Bridge, FigureSpec, Law, Looseness
from .values import as_float, num, stats

REACH_SUFFIX = "_reach"
"""An observation named ``<anything>_reach`` (by convention ``<ID>_reach``, e.g.
``S-T4_reach``) declares that its ``statement`` was followed only as far as a
simulation can reach: the statement's status becomes ``reachable only``, with the
observation's values (how far: ``log10_wprod``, ``max_frobenius``, ``steps`` ...)."""

#: Figures of every run, whatever the papers: (name, title, gating).  Drawn from the
#: slacks, not from an observation.
SHARED_FIGURES: tuple[tuple[str, str, bool], ...] = (
    ("slack_histograms", "Per-example slack, per statement", True),
)


def looseness(
    rows: dict, observations: dict, declared: Sequence[Looseness] = LOOSENESS
) -> list[dict]:
    """The papers' constants (``declared``) against the worst cases found.  A constant
    whose statement is not in ``rows`` (its paper not in the report) is left out."""
    out = []
    for decl in declared:
        sid, constant, source = decl.statement, decl.constant, decl.source
        if sid not in rows:
            continue
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
            entry["words"] = decl.words
        out.append(entry)
    return out


def laws(observations: dict, tests: list[dict], declared: Sequence[Law] = LAWS) -> list[dict]:
    """Measured laws (``declared``): the named observations' values, overall and per depth
    when recorded."""
    out = []
    for law in declared:
        name, sid, keys = law.observation, law.statement, dict(law.expected)
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
                    "note": law.note,
                    "all": agg["values"].get(key) if agg else None,
                    "by_depth": {str(d): stats(v) for d, v in sorted(groups.items())}
                    if groups
                    else None,
                }
            )
    return out


def bridges(
    observations: dict, tests: list[dict], declared: Sequence[Bridge] = BRIDGES
) -> list[dict]:
    """Where the papers meet (``declared``): each bridge with the statistics of its
    observation's ``values``, computed as for a law (:func:`laws`)."""
    out = []
    for b in declared:
        law = Law(b.observation, b.statements[0], tuple((v, None) for v in b.values), "", b.paper)
        rows = laws(observations, tests, (law,))
        out.append(
            {
                "observation": b.observation,
                "title": b.title,
                "statements": list(b.statements),
                "note": b.note,
                "values": [{"value": r["value"], "all": r["all"]} for r in rows],
            }
        )
    return out


def figure_plan(
    tests: list[dict], observations: dict, declared: Sequence[FigureSpec] = FIGURES
) -> list[dict]:
    """Which figures the recorded data allow (``files`` filled by the renderer): the
    papers' (``declared``), then :data:`SHARED_FIGURES`."""
    out = []
    for spec in declared:
        obs, keys = spec.observation, spec.series
        entry = {
            "name": spec.name,
            "title": spec.title,
            "gating": spec.gating,
            "files": [],
            "source": obs,
            "drawer": spec.drawer,
            "series": list(keys),
            "plot": dict(spec.plot),
        }
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
    for name, title, gating in SHARED_FIGURES:
        has = any(s.get("ratios") for t in tests for s in t["slacks"])
        out.append(
            {
                "name": name,
                "title": title,
                "gating": gating,
                "files": [],
                "source": None,
                "drawer": name,
                "series": [],
                "plot": {},
                "status": "rendered" if has else "not rendered",
                "reason": "" if has else "no slack recorded",
            }
        )
    return out
