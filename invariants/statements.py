"""The statements of ``STATEMENTS.md``, in the paper's order, with their assumptions.

The report's statement table is built from this list, so it can never
silently shrink: an ID here that no collected test names is reported as
unchecked.  :func:`parse_ids` re-reads the specification (when it is present
beside the repository) and the meta-tests assert the two agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ID_PATTERN = re.compile(r"S-[A-Z0-9]+[a-z]?\b")

# (ID, short title, assumptions it depends on)
STATEMENTS: tuple[tuple[str, str, str], ...] = (
    ("S-EQ1", "eq. 1: monotone risk, dR/dt = -||grad R||^2", "-"),
    ("S-EQ2", "eq. 2: balancedness W_{k+1}^T W_{k+1} - W_k W_k^T conserved", "-"),
    ("S-EQ3", "eq. 3: Frobenius differences conserved", "-"),
    ("S-L1", "Lemma 1: gradient bounded below in B(R); norms unbounded", "A1, A2"),
    ("S-L2a", "Lemma 2: rank deficit <= D (and eq. 8)", "-"),
    ("S-L2b", "Lemma 2: adjacent layer alignment lower bound", "-"),
    ("S-L2c", "Lemma 2: |<w_prod/prod F, v_1>| -> 1", "-"),
    ("S-T1", "Theorem 1: risk -> 0, norms -> inf, alignment (flow)", "A1, A2"),
    ("S-L3", "Lemma 3: theta > 0", "A3"),
    ("S-L4", "Lemma 4: sign condition <w_perp, grad R(w)> >= 0", "A3"),
    ("S-T2", "Theorem 2: convergence to ubar (flow)", "A2, A3"),
    ("S-L5", "Lemma 5: smoothness beta(R) on B(R)", "A4"),
    ("S-EQ4", "eq. 4/26: descent inequality under the step rule", "A4, A5"),
    ("S-L6", "Lemma 6: constant step leaves B(R)", "A4"),
    ("S-EQ27", "eq. 27: ||W_k(t+1)||_F <= ||W_k(t)||_F + 1", "A5"),
    ("S-L7", "Lemma 7: norms unbounded, sum eta = inf", "A4, A5"),
    ("S-EQ30", "eq. 30: sums of eta ||grad||^2 bounded by 2 R(W(0))", "A4, A5"),
    ("S-EQ29", "eq. 28-29: exact discrete balancedness", "-"),
    ("S-EQ37", "eq. 37: Frobenius differences drift <= 2 R(W(0))", "A4, A5"),
    ("S-L8a", "Lemma 8: rank deficit <= D + 2 R(W(0)) (GD)", "A4, A5"),
    ("S-L8b", "Lemma 8: alignment lower bound (GD, constant 3)", "A4, A5"),
    ("S-L8c", "Lemma 8: |<w_prod/prod F, v_1>| -> 1 (GD)", "A4, A5"),
    ("S-T3", "Theorem 3: Theorem 1 for GD", "A1, A2, A4, A5"),
    ("S-T4", "Theorem 4: Theorem 2 for GD", "A2, A3, A5"),
    ("S-A2a", "Appendix A: W_1(0) = 0 satisfies A2", "-"),
    ("S-A2b", "Appendix A: A2 is needed (w1 = -w2)", "not A2"),
    ("S-FIG1a", "Fig. 1a: depth 1 and depth 4 converge to the same direction", "A2, A3"),
    ("S-FIG1b", "Fig. 1b: ||W_k||_2/||W_k||_F -> 1 with risk -> 0", "A2"),
    ("S-FIG2", "Fig. 2: nonlinear network dense layers align", "-"),
    ("S-C1", "Derived: quantitative S-L2c", "-"),
    ("S-INV", "Derived: a time change leaves the path unchanged", "-"),
    ("S-ERR", "Errata: printed vs derived", "-"),
)

IDS: tuple[str, ...] = tuple(s[0] for s in STATEMENTS)


def parse_ids(path: str | Path) -> list[str]:
    """Every distinct statement ID defined in a STATEMENTS.md, in order of first definition."""
    seen: list[str] = []
    for line in Path(path).read_text().splitlines():
        m = re.match(r"\s*-\s+(S-[A-Z0-9]+[a-z]?)\b", line)
        if m and m.group(1) not in seen:
            seen.append(m.group(1))
    return seen


def named_in(text: str | None) -> list[str]:
    """The statement IDs a docstring names, in order, without repeats."""
    out: list[str] = []
    for sid in ID_PATTERN.findall(text or ""):
        if sid in IDS and sid not in out:
            out.append(sid)
    return out


#: A statement is *held* only when the examples that exercised it (``Slack.exercised``)
#: number at least this fraction of the largest number of examples any one of its tests
#: recorded: half a property's worth of examples that could have failed it.  Otherwise it
#: is *reachable only* (when a ``_reach`` is recorded) or *vacuous*.  Counted against one
#: test's examples, not all of them, so that checking a statement on more draws (some of
#: which cannot exercise it) never lowers its status.
EXERCISED_FLOOR = 0.5


@dataclass(frozen=True)
class Slack:
    """What one claim check measured on one example: its slack, and whether it could fail.

    * ``ratio``: the worst ``observed / allowed`` of the inequalities the check asserted,
      always in that sense: ``<= 1`` held, ``> 1`` failed, near 1 tight, near 0 loose.
      ``None`` when the example asserted no inequality with a finite allowance (a trend
      checked only for its sign).  Never a progress ratio.
    * ``exercised``: whether the example could have failed the statement -- its bound was
      not vacuous (e.g. an alignment lower bound above 0), the regime was reached, the
      run moved beyond rounding.  Each check defines it beside its assertion.  An example
      that passes without exercising the statement is counted and reported as such.
    * ``measures``: a trend or limit statement's measures under their own names (``reach``
      of a run, a ``decay_ratio`` ``R(end)/R(0)``, a ``growth`` factor), never as slack.
    * ``certificate``: the ball-arithmetic verdict of the statement at the example's sampled
      points, or None where it was not certified: an object with ``decided`` (True proved,
      False disproved, None undecided), ``lower``/``upper`` (the worst exact margin),
      ``points`` and ``witness`` (``invariants.certify.balls.Certificate``, duck-typed here).

    The record every claim check returns and the report consumes (invariants/report).
    """

    statement: str
    ratio: float | None
    detail: str = ""
    exercised: bool = field(kw_only=True)
    measures: Mapping[str, float] = field(default_factory=dict, kw_only=True)
    certificate: Any = field(default=None, kw_only=True)


def worst_ratio(*ratios: float | None) -> float | None:
    """The largest of the ratios that exist (``None`` when none does)."""
    present = [r for r in ratios if r is not None]
    return max(present) if present else None
