"""The plain-text statement table the terminal shows at the end of a run (and the CLI)."""

from __future__ import annotations

from .values import fmt_slack


def format_table(report: dict) -> str:
    """A plain-text statement table for the terminal."""
    lines = [
        f"{'statement':9} {'status':14} {'tests':>5} {'examples':>8} {'exercised':>12} "
        f"{'worst slack':>11} {'certified':>18} {'controls':>8}"
    ]
    for row in report["statements"]:
        ws = row["worst_slack"]
        ws = fmt_slack(ws)
        c = row["controls"]
        controls = f"{c['failed_as_required']}/{c['total']}" if c["total"] else "0"
        lines.append(
            f"{row['id']:9} {row['status']:14} {len(row['tests']):5d} {row['examples']:8d} "
            f"{exercised_cell(row):>12} {ws:>11} {certified_cell(row):>18} {controls:>8}"
        )
    gating = [p for p in report["problems"] if p["gating"]]
    info = [p for p in report["problems"] if not p["gating"]]
    if gating:
        lines.append("")
        lines.append(f"run problems ({len(gating)}, each fails the run):")
        shown = problem_lines(gating)
        lines.extend(f"  - {ln}" for ln in shown[:40])
        if len(shown) > 40:
            lines.append(f"  ... and {len(shown) - 40} more (report.md)")
    if info:
        lines.append("")
        lines.extend(f"note: {ln}" for ln in problem_lines(info))
    return "\n".join(lines)


def exercised_cell(row: dict) -> str:
    """``k of n``: examples that exercised the statement of those that recorded a check."""
    if not row.get("recorded"):
        return "-"
    return f"{row['exercised']} of {row['recorded']}"


def certified_cell(row: dict) -> str:
    """``certified on k of n (m pts)``, shortened to ``k of n (m pts)``, or ``-``.

    k: examples whose certificate was proved at every sampled point; n: examples that
    carried a certificate; m: points decided.  Undecided and refuted examples count in n,
    never in k.
    """
    c = row.get("certified")
    if not c or not c.get("examples"):
        return "-"
    return f"{c['proved']} of {c['examples']} ({c['points']} pts)"


def problem_lines(problems: list[dict]) -> list[str]:
    """One line per problem, unchecked statements grouped on one line."""
    unchecked = [p["item"] for p in problems if p["kind"] == "not checked"]
    out = []
    for p in problems:
        if p["kind"] == "not checked":
            if p["item"] == unchecked[0]:
                out.append(f"not checked by any collected test: {', '.join(unchecked)}")
            continue
        out.append(p["message"].splitlines()[0])
    return out
