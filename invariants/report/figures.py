"""The report's figures, drawn from the series the suite recorded (PNG and SVG).

Every figure is drawn from ``report.json`` alone, so a merged or an old report
can be re-rendered (``python -m invariants.report render``).  Matplotlib runs
headless (``Agg``) with the object-oriented API (no pyplot state), and SVGs are
written without a date and with a fixed hash salt, so equal data give equal
files.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..statements import FIGURES
from .fig2 import fig2_figure
from .values import as_float, fmt_slack

matplotlib.rcParams["svg.hashsalt"] = "invariants-report"
MAX_CURVES = 40


def _arr(values) -> np.ndarray:
    return np.array([as_float(v) for v in values], dtype=float)


def _entries(report: dict, name: str, keys) -> list[tuple[str, dict]]:
    """(test, observation) pairs of ``name`` that carry every series in ``keys``."""
    return [
        (t["nodeid"], o)
        for t in report["tests"]
        for o in t["observations"]
        if o["name"] == name and all(k in o.get("series", {}) for k in keys)
    ]


def _short(nodeid: str) -> str:
    return nodeid.split("::", 1)[-1]


def _save(fig: Figure, outdir: Path, name: str) -> list[str]:
    outdir.mkdir(parents=True, exist_ok=True)
    png, svg = outdir / f"{name}.png", outdir / f"{name}.svg"
    fig.savefig(png, dpi=130, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None})
    return [png.name, svg.name]


def fig1a(report: dict) -> tuple[Figure, str]:
    """Fig. 1a: the unit direction of depth 1 and depth L over the 2-D data, and ubar."""
    keys = ("data_x0", "data_x1", "data_y", "ubar", "d1_u0", "d1_u1", "dL_u0", "dL_u1")
    nodeid, o = _entries(report, "fig1a", keys)[0]
    s = {k: _arr(v) for k, v in o["series"].items()}
    depth = o["values"].get("depth")
    depth_txt = f"{int(as_float(depth))}" if depth is not None else "L"
    fig = Figure(figsize=(6.4, 6.0), layout="constrained")
    ax = fig.add_subplot()
    pos, neg = s["data_y"] > 0, s["data_y"] <= 0
    ax.scatter(
        s["data_x0"][pos],
        s["data_x1"][pos],
        marker="+",
        s=60,
        color="tab:blue",
        label="data, y = +1",
    )
    ax.scatter(
        s["data_x0"][neg],
        s["data_x1"][neg],
        marker="o",
        s=30,
        facecolors="none",
        edgecolors="tab:red",
        label="data, y = -1",
    )
    u = s["ubar"] / np.linalg.norm(s["ubar"])
    r = 1.15 * max(1.0, float(np.max(np.hypot(s["data_x0"], s["data_x1"]))))
    ax.plot(
        [0, r * u[0]],
        [0, r * u[1]],
        color="black",
        lw=1.5,
        ls="--",
        label="max-margin direction ubar",
    )
    ax.plot(
        [-r * u[1], r * u[1]],
        [r * u[0], -r * u[0]],
        color="0.6",
        lw=1,
        ls=":",
        label="max-margin separator",
    )
    th = np.linspace(0, 2 * np.pi, 361)
    ax.plot(np.cos(th), np.sin(th), color="0.85", lw=0.8, zorder=0)
    for key, color, label, lw, alpha, end in (
        ("d1", "tab:green", "depth 1: w / ||w||", 6, 0.45, "*"),
        ("dL", "tab:purple", f"depth {depth_txt}: w_prod / ||w_prod||", 1.8, 1.0, "X"),
    ):
        x, y = s[f"{key}_u0"], s[f"{key}_u1"]
        ax.plot(x, y, color=color, lw=lw, alpha=alpha, label=label, solid_capstyle="round")
        ax.plot(x[:1], y[:1], "o", color=color, ms=7, markeredgecolor="black")
        ax.plot(x[-1:], y[-1:], end, color=color, ms=12, markeredgecolor="black")
    ax.set_aspect("equal")
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    ax.set_title(f"Fig. 1a: depth 1 and depth {depth_txt} converge to ubar")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.3)
    caption = (
        f"2-D data and the unit direction of the predictor along gradient flow (o: start; "
        f"end: * for depth 1, X for depth {depth_txt}); dashed: ubar, dotted: the max-margin "
        f"separator. Both paths end on ubar. Data: observation fig1a "
        f"recorded by {_short(nodeid)}."
    )
    return fig, caption


def fig1b(report: dict) -> tuple[Figure, str]:
    """Fig. 1b: each layer's ||W_k||_2 / ||W_k||_F and -log R along one trajectory."""
    nodeid, o = _entries(report, "fig1b", ("log_risk", "ratio_1"))[0]
    s = {k: _arr(v) for k, v in o["series"].items()}
    if "log10_wprod" in s:
        xkey, xlabel = "log10_wprod", "log10 ||w_prod||"
    elif "s" in s:
        xkey, xlabel = "s", "s (flow clock)"
    else:
        xkey, xlabel = None, "checkpoint"
    x = s[xkey] if xkey else np.arange(len(s["log_risk"]), dtype=float)
    ratios = sorted(
        (k for k in s if k.startswith("ratio_") and k[6:].isdigit()), key=lambda k: int(k[6:])
    )
    fig = Figure(figsize=(7.0, 6.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for k in ratios:
        top.plot(x, s[k], lw=1.8, label=f"layer {k[6:]}")
    top.axhline(1.0, color="black", lw=0.8, ls="--")
    top.set_ylabel("||W_k||_2 / ||W_k||_F")
    top.legend(fontsize=8, ncol=min(4, len(ratios)), loc="lower right")
    top.grid(alpha=0.3)
    top.set_title("Fig. 1b: every layer aligns (ratio -> 1) as the risk -> 0")
    neg = -s["log_risk"]
    if np.all(neg[np.isfinite(neg)] > 0):
        bottom.plot(x, neg, color="tab:red", lw=1.8)
        bottom.set_yscale("log")
        bottom.set_ylabel("-log R(W)  (log scale)")
    else:
        bottom.plot(x, s["log_risk"], color="tab:red", lw=1.8)
        bottom.set_yscale("symlog")
        bottom.set_ylabel("log R(W)  (symlog scale)")
    bottom.set_xlabel(xlabel)
    bottom.grid(alpha=0.3)
    caption = (
        f"Spectral / Frobenius norm ratio of each of the {len(ratios)} layers (top) and -log of "
        f"the risk (bottom; it grows as R -> 0) along one gradient-flow trajectory, against "
        f"{xlabel}. Data: observation "
        f"fig1b recorded by {_short(nodeid)}."
    )
    return fig, caption


def curves(report: dict, entry: dict) -> tuple[Figure, str]:
    """The generic drawer of a declared figure: ``series[1]`` against ``series[0]`` of
    every example of its observation (at most :data:`MAX_CURVES`), coloured by ``depth``
    when recorded, with the figure's ``plot`` options: axis labels, heading and a dashed
    reference line of slope ``reference_slope`` through the median end point."""
    plot = entry.get("plot") or {}
    name = entry["source"]
    xkey, ykey = entry["series"][:2]
    ref_slope = plot.get("reference_slope")
    entries = _entries(report, name, (xkey, ykey))
    shown = entries[:MAX_CURVES]
    depths = sorted(
        {
            int(as_float(o["values"]["depth"]))
            for _, o in shown
            if "depth" in o["values"] and math.isfinite(as_float(o["values"]["depth"]))
        }
    )
    cmap = matplotlib.colormaps["tab10"]
    color = {d: cmap(i % 10) for i, d in enumerate(depths)}
    fig = Figure(figsize=(7.0, 5.0), layout="constrained")
    ax = fig.add_subplot()
    labelled: set = set()
    ends = []
    for _, o in shown:
        x, y = _arr(o["series"][xkey]), _arr(o["series"][ykey])
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            continue
        d = o["values"].get("depth")
        d = int(as_float(d)) if d is not None and math.isfinite(as_float(d)) else None
        label = f"depth {d}" if d is not None and d not in labelled else None
        labelled.add(d)
        ax.plot(x[ok], y[ok], lw=1.2, alpha=0.8, color=color.get(d, "tab:blue"), label=label)
        ends.append((x[ok][-1], y[ok][-1]))
    if ends and ref_slope:
        ex, ey = np.median(np.array(ends), axis=0)
        lo = min(float(np.nanmin(_arr(o["series"][xkey]))) for _, o in shown)
        xs = np.array([max(lo, ex - 12.0 / abs(ref_slope)), ex])
        ax.plot(
            xs,
            ey + ref_slope * (xs - ex),
            color="black",
            ls="--",
            lw=1.2,
            label=f"reference slope {ref_slope:g}",
        )
    ax.set_xlabel(plot.get("xlabel", xkey))
    ax.set_ylabel(plot.get("ylabel", ykey))
    ax.set_title(plot.get("heading", entry["title"]))
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda i: (labels[i].startswith("ref"), labels[i]))
    if labels:
        ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8)
    slopes = [as_float(o["values"]["slope"]) for _, o in entries if "slope" in o["values"]]
    slope_txt = (
        f" Median fitted slope {np.median(slopes):.3f} over {len(slopes)} examples."
        if slopes
        else ""
    )
    reference = f"; dashed: slope {ref_slope:g} through the median end point" if ref_slope else ""
    caption = (
        f"{len(shown)} of {len(entries)} recorded trajectories (observation {name}), one curve "
        f"per example, coloured by depth{reference}.{slope_txt}"
    )
    return fig, caption


def slack_histograms(report: dict) -> tuple[Figure, str]:
    """Per statement, the histogram of log10 slack over every recorded example."""
    per: dict[str, list[float]] = {}
    for t in report["tests"]:
        if t["meta"]:
            continue
        for s in t["slacks"]:
            per.setdefault(s["statement"], []).extend(as_float(r) for r in s.get("ratios", []))
    order = [row["id"] for row in report["statements"] if per.get(row["id"])]
    order += sorted(k for k in per if k not in order and per[k])
    ncols = 4 if len(order) > 6 else max(1, min(3, len(order)))
    nrows = math.ceil(len(order) / ncols)
    fig = Figure(figsize=(3.3 * ncols, 2.7 * nrows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, sid in zip(axes, order, strict=False):
        vals = np.array(per[sid], dtype=float)
        pos = vals[np.isfinite(vals) & (vals > 0)]
        other = len(vals) - len(pos)
        if pos.size:
            lv = np.log10(pos)
            lo, hi = float(lv.min()), float(max(lv.max(), 0.0))
            if hi - lo < 1e-9:
                lo, hi = lo - 0.5, hi + 0.5
            ax.hist(lv, bins=np.linspace(lo, hi + 1e-12, 25), color="tab:blue", alpha=0.85)
        ax.axvline(0.0, color="tab:red", lw=1.2)
        worst = float(np.nanmax(vals)) if np.isfinite(vals).any() else float("nan")
        title = f"{sid}: n={len(vals)}, worst {fmt_slack(worst)}"
        if other:
            title += f"\n({other} examples with slack <= 0 not shown)"
        ax.set_title(title, fontsize=9, color="tab:red" if not worst <= 1.0 else "black")
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
        ax.set_xlabel("log10(observed / allowed)", fontsize=8)
        ax.set_ylabel("examples", fontsize=8)
    for ax in axes[len(order) :]:
        ax.set_visible(False)
    fig.suptitle("Per-example slack per statement (red line: the bound, slack = 1)", fontsize=11)
    caption = (
        "Histogram of log10 slack = observed / allowed, one count per recorded example "
        "(every checkpoint's worst per example), per statement; right of the red line is a "
        "violation. Data: the record_slack records of every non-control test."
    )
    return fig, caption


def fig2(report: dict) -> tuple[Figure, str]:
    """Fig. 2 from the fig2 observations (:func:`.fig2.fig2_figure`)."""
    entries = [o for _, o in _entries(report, "fig2", ("step", "risk"))]
    caption = (
        "||W_k||_2 / ||W_k||_F of each dense layer (solid) against its floor "
        "1/sqrt(min(d_k, d_{k-1})) (dashed), and the training risk (grey, right axis), "
        "along SGD on scikit-learn's 8x8 digits; bias-free ReLU net 64-128-128-10, "
        "(a) default (uniform +-1/sqrt(fan-in)) and (b) equal-Frobenius initialisation; "
        "lowest seed solid, other seeds faint. Data: the fig2 observations of test_fig2."
    )
    return fig2_figure(entries), caption


#: How a figure is drawn, by its ``drawer`` (a declared figure's default: ``curves``).
#: Each takes the report and the figure's entry.
DRAWERS: dict[str, Callable[[dict, dict], tuple[Figure, str]]] = {
    "fig1a": lambda report, entry: fig1a(report),
    "fig1b": lambda report, entry: fig1b(report),
    "fig2": lambda report, entry: fig2(report),
    "curves": curves,
    "slack_histograms": lambda report, entry: slack_histograms(report),
}


def declared(entry: dict) -> dict:
    """A figure entry with its ``drawer``, ``series`` and ``plot``: its own, else (a report
    written before entries carried them) its catalogue declaration's, else the drawer
    named like the figure."""
    spec = next((f for f in FIGURES if f.name == entry["name"]), None)
    defaults = {
        "drawer": spec.drawer if spec is not None else entry["name"],
        "series": list(spec.series) if spec is not None else [],
        "plot": dict(spec.plot) if spec is not None else {},
    }
    return {**defaults, **entry}


def render(report: dict, directory: str | Path) -> None:
    """Draw every figure the report plans into ``directory/figures``; update its entries.

    A drawing that raises is recorded as ``failed`` with the error (and becomes a
    run problem), so one bad series never loses the rest of the report.
    """
    outdir = Path(directory) / "figures"
    for entry in report["figures"]:
        if entry["status"] != "rendered":
            continue
        try:
            view = declared(entry)
            fig, caption = DRAWERS[view["drawer"]](report, view)
            entry["files"] = [f"figures/{f}" for f in _save(fig, outdir, entry["name"])]
            entry["caption"] = caption
        except Exception as exc:
            entry["status"] = "failed"
            entry["reason"] = f"drawing raised {type(exc).__name__}: {exc}"
            report["problems"].append(
                {
                    "kind": "figure",
                    "item": entry["name"],
                    "gating": True,
                    "message": f"figure {entry['name']} failed: {entry['reason']}",
                }
            )
            report["ok"] = False
