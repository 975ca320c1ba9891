"""The properties of a test case in pytest's JUnit XML (``--junit-xml``), for CI dashboards.

pytest writes every ``(name, value)`` of a test report's ``user_properties`` as a
``<property name=... value=str(value)/>`` of its ``<testcase>``.  The report's plugin
ships its records in ``user_properties`` (:mod:`invariants.report.plugin`), so left
alone the XML would hold ``statements="['S-L4', 'S-T3']"`` and every slack and
observation record with its per-example ratios and series.  :func:`junit_properties`
gives what the XML shows instead:

- ``statement``: one property per statement ID the test's docstring names;
- ``meta``: ``true`` for a negative control or meta-test, else ``false``;
- ``hypothesis_valid``, ``hypothesis_invalid``, ``hypothesis_overrun``,
  ``hypothesis_mean_seconds``, ``hypothesis_max_seconds``: the test's Hypothesis
  statistics (:mod:`invariants.report.hypothesis_stats`), when it ran any;
- any other property (a test's own ``record_property``) unchanged.

The slack, observation and erratum records stay in ``report.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import hypothesis_stats

#: Records of the report's fixtures: in report.json, not in the XML.
REPORT_ONLY = frozenset({"slack", "observation", "erratum"})


def junit_properties(user_properties: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs a test case's JUnit ``<properties>`` should hold."""
    props = list(user_properties)
    out: list[tuple[str, str]] = []
    seen_statements = False
    meta = False
    for name, value in props:
        if name == "statements":
            seen_statements = True
            out += [("statement", str(sid)) for sid in value]
        elif name == "meta":
            meta = meta or bool(value)
        elif name == "hypothesis_statistics":
            out += _statistics(value)
        elif name not in REPORT_ONLY:
            out.append((str(name), str(value)))
    if seen_statements or meta:
        out.append(("meta", "true" if meta else "false"))
    return out


def _statistics(summary: dict) -> list[tuple[str, str]]:
    out = [(f"hypothesis_{k}", str(summary[k])) for k in ("valid", "invalid", "overrun")]
    t = hypothesis_stats.times(summary)
    if t is not None:
        out += [
            ("hypothesis_mean_seconds", f"{t['mean_seconds']:.6g}"),
            ("hypothesis_max_seconds", f"{t['max_seconds']:.6g}"),
        ]
    return out
