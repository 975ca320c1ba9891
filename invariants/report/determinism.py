"""Determinism of the report: an xdist run and a serial run give the same ``report.json``.

:func:`check_determinism` runs pytest on some paths twice in subprocesses, under
xdist and serially, and lists the differences of the two reports without their
timing fields (:func:`json_diff`); ``python -m invariants.report check-determinism``
is its command line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .build import strip_volatile
from .files import REPORT_JSON, ReportFormatError, load


def json_diff(a: Any, b: Any, where: str = "", limit: int = 30) -> list[str]:
    """Paths where two JSON values differ (at most ``limit``)."""
    out: list[str] = []

    def walk(x: Any, y: Any, w: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x or k not in y:
                    out.append(f"{w}.{k}: only in {'second' if k in y else 'first'}")
                else:
                    walk(x[k], y[k], f"{w}.{k}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                out.append(f"{w}: {len(x)} vs {len(y)} items")
            for i, (p, q) in enumerate(zip(x, y, strict=False)):
                walk(p, q, f"{w}[{i}]")
        elif x != y:
            out.append(f"{w or 'top'}: {x!r:.80} != {y!r:.80}")

    walk(a, b, where)
    return out


def child_env() -> dict[str, str]:
    """The environment of a child pytest: without the PYTEST_* and HYPOTHESIS_* variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST_", "HYPOTHESIS_")) and k != "PYTEST_ADDOPTS"
    }
    return env


def run_pytest(
    args: list[str],
    cwd: str | Path,
    report_dir: str | Path,
    timeout: float = 900,
    env: dict | None = None,
) -> subprocess.CompletedProcess:
    """``python -m pytest ARGS --invariants-report DIR`` in a subprocess (no cache)."""
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        *args,
        "--invariants-report",
        str(report_dir),
    ]
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def check_determinism(
    paths: list[str],
    profile: str = "ci",
    workers: int = 2,
    cwd: str | Path = ".",
    env: dict | None = None,
    profile_option: str = "--invariants-profile",
) -> tuple[list[str], dict]:
    """Run PATHS with ``-n WORKERS`` and with ``-n 0``; the differences of the reports.

    The profile is passed as ``PROFILE_OPTION PROFILE`` (``--hypothesis-profile`` for
    a suite that loads the report plugin without this repository's ``conftest.py``).
    Returns (differences without the timing fields, {"xdist": rc, "serial": rc}).
    """
    with tempfile.TemporaryDirectory(prefix="invariants-det-") as tmp:
        rcs, reports = {}, {}
        for label, n in (("xdist", workers), ("serial", 0)):
            out = Path(tmp) / label
            args = ["-n", str(n), profile_option, profile, *paths]
            if n:
                args[2:2] = ["--dist", "loadfile"]
            proc = run_pytest(args, cwd, out, env=env)
            rcs[label] = proc.returncode
            try:
                reports[label] = strip_volatile(load(out / REPORT_JSON))
            except ReportFormatError as exc:
                raise ReportFormatError(
                    f"{label} run wrote no usable report ({exc}); pytest said:\n"
                    + proc.stdout[-3000:]
                    + proc.stderr[-2000:]
                ) from None
        return json_diff(reports["xdist"], reports["serial"]), rcs
