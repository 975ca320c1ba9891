"""Numbers in the report: JSON-safe floats, slack formatting, summary statistics, thinning.

Slack is ``observed / allowed``: ``<= 1`` means the statement held with the
derived tolerance, and the nearer to 1, the closer the run came to failing.
JSON has no infinity or NaN, so non-finite values are stored as the strings
``'inf'``, ``'-inf'`` and ``'nan'`` (:func:`num`) and read back with
:func:`as_float`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any

MAX_SERIES_POINTS = 2_000  # points kept per recorded series (evenly thinned beyond)


def num(x: Any) -> float | str:
    """A JSON-safe float: non-finite values become the strings 'inf', '-inf', 'nan'."""
    v = float(x)
    if math.isfinite(v):
        return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")


def as_float(x: Any) -> float:
    """Inverse of :func:`num` (also accepts plain numbers)."""
    if isinstance(x, str):
        return float(x)
    return float(x)


def fmt_slack(x: Any) -> str:
    """A slack with enough digits to tell it from 1 (1.0025 is not shown as '1')."""
    if x is None:
        return "-"
    v = as_float(x)
    digits = 3
    while digits < 17 and v != 1.0 and float(f"{v:.{digits}g}") == 1.0:
        digits += 1
    return f"{v:.{digits}g}"


def stats(values: Iterable[Any]) -> dict:
    """median / min / max / n of the finite values (n_nonfinite counts the rest)."""
    vals = [as_float(v) for v in values]
    finite = [v for v in vals if math.isfinite(v)]
    out: dict[str, Any] = {"n": len(vals)}
    if len(finite) < len(vals):
        out["n_nonfinite"] = len(vals) - len(finite)
    if finite:
        out.update(median=statistics.median(finite), min=min(finite), max=max(finite))
    else:
        out.update(median=None, min=None, max=None)
    return out


def thin(series: dict[str, list], limit: int = MAX_SERIES_POINTS) -> dict[str, list]:
    """Evenly thin series longer than ``limit`` (same indices for equal lengths, last kept)."""
    out = {}
    for key, vals in series.items():
        n = len(vals)
        if n <= limit:
            out[key] = [num(v) for v in vals]
            continue
        idx = sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})
        out[key] = [num(vals[i]) for i in idx]
    return out


def fmt_value(x: Any, digits: int = 3) -> str:
    """A table cell's number as text: ``-`` for None, yes/no, integers as they are, other
    numbers to ``digits`` significant digits, anything else as ``str`` (unescaped)."""
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    try:
        return f"{as_float(x):.{digits}g}"
    except (TypeError, ValueError):
        return str(x)
