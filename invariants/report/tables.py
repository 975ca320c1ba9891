"""The paper-specific tables of the report and the sections built from them.

Which of the paper's constants get a looseness row (:data:`LOOSENESS`), which
observations are measured laws with their expected values (:data:`LAWS`), which
figures the report draws and from what (:data:`FIGURES`), and the ``_reach``
convention (:data:`REACH_SUFFIX`).  The statements themselves are
:data:`invariants.statements.STATEMENTS`.  :func:`looseness`, :func:`laws` and
:func:`figure_plan` turn the recorded data into those sections.
"""

from __future__ import annotations

import math
from typing import Any

from .values import as_float, num, stats

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
