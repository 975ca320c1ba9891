"""Fig. 2 redrawn from the suite's "fig2" observations (PNG and SVG).

:func:`render_fig2` takes the recorded entries (``{"values": ..., "series":
...}`` as the ``record_observation`` fixture stores them) and draws the
paper's two panels: default initialisation (``values["init"] == 0``) and
equal Frobenius norms (``== 1``).  Each panel shows ``||W_k||_2/||W_k||_F``
per dense layer against the SGD step with its floor ``1/sqrt(min(d_k,
d_{k-1}))`` dashed in the same colour, and the training risk on a twin axis.
When several seeds were recorded, the lowest seed is drawn solid and the
others thin and faint.  Headless (``Agg``), object-oriented API (no pyplot
state), SVGs without a date and with a fixed hash salt, as in
:mod:`invariants.report.figures`.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

matplotlib.rcParams["svg.hashsalt"] = "invariants-report"

PANELS = ((0.0, "(a) default initialisation"), (1.0, "(b) equal Frobenius norms"))
COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink")
RISK_COLOR = "0.25"
MAX_SEEDS = 12


def _layers(series: dict) -> list[int]:
    return sorted(int(m.group(1)) for k in series if (m := re.fullmatch(r"ratio_(\d+)", k)))


def _arr(values) -> np.ndarray:
    return np.asarray([float(v) for v in values], dtype=float)


def _panel(ax, entries: list[dict], title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("SGD step")
    ax.set_ylabel(r"$\|W_k\|_2 / \|W_k\|_F$")
    ax.grid(True, alpha=0.3)
    if not entries:
        ax.text(0.5, 0.5, "no run recorded", ha="center", va="center", transform=ax.transAxes)
        return
    recorded = len(entries)
    entries = sorted(entries, key=lambda e: float(e["values"].get("seed", 0.0)))[:MAX_SEEDS]
    risk_ax = ax.twinx()
    risk_ax.set_ylabel("training risk (cross-entropy)", color=RISK_COLOR)
    risk_ax.tick_params(axis="y", colors=RISK_COLOR)
    top = 0.0
    for n, entry in enumerate(entries):
        s = entry["series"]
        step = _arr(s["step"])
        main = n == 0
        lw, alpha = (1.8, 1.0) if main else (0.7, 0.3)
        for k in _layers(s):
            color = COLORS[(k - 1) % len(COLORS)]
            ratio = _arr(s[f"ratio_{k}"])
            top = max(top, float(np.nanmax(ratio)))
            ax.plot(step, ratio, color=color, lw=lw, alpha=alpha)
            if main and f"floor_{k}" in s:
                ax.plot(step, _arr(s[f"floor_{k}"]), color=color, lw=1.2, ls="--")
        risk_ax.plot(step, _arr(s["risk"]), color=RISK_COLOR, lw=lw * 0.8, ls=":", alpha=alpha)
    ax.set_ylim(0.0, max(0.6, 1.1 * top))
    risk_ax.set_ylim(bottom=0.0)
    seeds = [int(float(e["values"].get("seed", 0))) for e in entries]
    extra = f", {len(seeds) - 1} more faint" if len(seeds) > 1 else ""
    if recorded > len(seeds):
        extra += f" ({recorded} runs recorded)"
    ax.set_title(f"{title}\nseed {seeds[0]}{extra}", fontsize=10)


def _legend(fig: Figure, layers: list[int]) -> None:
    handles = [Line2D([], [], color=COLORS[(k - 1) % len(COLORS)], lw=1.8) for k in layers]
    labels = [f"$W_{k}$" for k in layers]
    handles += [
        Line2D([], [], color="0.4", lw=1.2, ls="--"),
        Line2D([], [], color=RISK_COLOR, lw=1.4, ls=":"),
    ]
    labels += [r"floor $1/\sqrt{\min(d_k, d_{k-1})}$ (same colour)", "training risk (right axis)"]
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=8)


def fig2_figure(entries: list[dict]) -> Figure:
    """The Fig. 2 figure (two panels) from "fig2" observations; see :func:`render_fig2`."""
    usable = [
        e
        for e in entries
        if "step" in e.get("series", {}) and "risk" in e["series"] and _layers(e["series"])
    ]
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (init, title) in zip(axes, PANELS, strict=True):
        chosen = [e for e in usable if float(e.get("values", {}).get("init", -1.0)) == init]
        _panel(ax, chosen, title)
    layers = sorted({k for e in usable for k in _layers(e["series"])})
    if layers:
        _legend(fig, layers)
    fig.suptitle(
        "S-FIG2: alignment of the dense layers of a bias-free ReLU net (digits, SGD)", fontsize=11
    )
    return fig


def render_fig2(entries: list[dict], out_stem: Path) -> list[Path]:
    """Draw Fig. 2 from "fig2" observations; write ``out_stem``.png and .svg; return the paths.

    ``entries``: dicts with ``values`` (``init``: 0.0 default / 1.0 equal
    Frobenius, ``seed``) and ``series`` (``step``, ``risk``, ``ratio_k`` and
    ``floor_k`` for each dense layer k).  Entries of another init value or
    without those series are ignored.
    """
    out_stem = Path(out_stem)
    fig = fig2_figure(entries)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    png = out_stem.with_name(out_stem.name + ".png")
    svg = out_stem.with_name(out_stem.name + ".svg")
    fig.savefig(png, dpi=130, metadata={"Software": None})
    fig.savefig(svg, metadata={"Date": None})
    return [png, svg]
