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
    groups = rows_by_paper(report)
    if len(groups) > 1:
        lines.append("")
        lines += [f"{key or '(no paper)'}: {status_counts(rows)}" for key, rows in groups.items()]
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


def rows_by_paper(report: dict) -> dict[str, list[dict]]:
    """The statement rows per paper key, papers in the order their first row comes (a
    report written before rows named their paper: one group under ``""``)."""
    out: dict[str, list[dict]] = {}
    for row in report["statements"]:
        out.setdefault(row.get("paper", ""), []).append(row)
    return out


def status_counts(rows: list[dict]) -> str:
    """``N statements: k held, m vacuous, ...``: the rows' statuses, most frequent first."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    parts = ", ".join(f"{n} {st}" for st, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"{len(rows)} statement{'s' * (len(rows) != 1)}: {parts or 'none'}"


def paper_title(report: dict, key: str) -> str:
    """A paper's title as the report names it (its key when the report lacks it)."""
    return str((report.get("papers") or {}).get(key, {}).get("title") or key or "statements")


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


SLOWEST = 8  # rows of the "slowest tests and examples" table


def slowest_rows(report: dict, limit: int = SLOWEST) -> list[dict]:
    """The longest tests of the run, with their Hypothesis examples and time per example.

    Each row: ``nodeid``, ``seconds`` (the test's duration), ``examples`` (valid and
    failing Hypothesis test cases, ``None`` for a test without Hypothesis), ``invalid``
    (invalid and overrun), ``mean_seconds`` and ``max_seconds`` per example (``None``
    when no example was timed).  Empty without a ``timings`` block.
    """
    timings = report.get("timings") or {}
    durations = timings.get("tests") or {}
    per_example = timings.get("examples") or {}
    stats = {t["nodeid"]: t.get("hypothesis") for t in report["tests"]}
    rows = []
    for nodeid, seconds in sorted(durations.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]:
        h = stats.get(nodeid)
        t = per_example.get(nodeid) or {}
        rows.append(
            {
                "nodeid": nodeid,
                "seconds": float(seconds),
                "examples": None if h is None else h["valid"] + h["failing"],
                "invalid": None if h is None else h["invalid"] + h["overrun"],
                "mean_seconds": t.get("mean_seconds"),
                "max_seconds": t.get("max_seconds"),
            }
        )
    return rows


def _cell(x: float | int | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def format_slowest(report: dict, limit: int = SLOWEST) -> str:
    """The slowest tests as a plain-text table ('' when nothing was timed)."""
    rows = slowest_rows(report, limit)
    if not rows:
        return ""
    lines = [
        f"{'seconds':>8} {'examples':>8} {'invalid':>7} {'mean s/ex':>9} {'max s/ex':>9}  test"
    ]
    lines += [
        f"{r['seconds']:8.2f} {_cell(r['examples'], 'd'):>8} {_cell(r['invalid'], 'd'):>7} "
        f"{_cell(r['mean_seconds'], '.3g'):>9} {_cell(r['max_seconds'], '.3g'):>9}  {r['nodeid']}"
        for r in rows
    ]
    return "\n".join(lines)
