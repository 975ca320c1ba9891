"""The numbered statements of Ji & Telgarsky (ICLR 2019), in the paper's order, with
their assumptions.

The report's statement table is built from this list, so it can never
silently shrink: an ID here that no collected test names is reported as
unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

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

    The record every claim check returns and the report consumes (invariants/report).
    """

    statement: str
    ratio: float | None
    detail: str = ""
    exercised: bool = field(kw_only=True)
    measures: Mapping[str, float] = field(default_factory=dict, kw_only=True)


def worst_ratio(*ratios: float | None) -> float | None:
    """The largest of the ratios that exist (``None`` when none does)."""
    present = [r for r in ratios if r is not None]
    return max(present) if present else None


# --- STAND-IN for the statement catalogue --------------------------------------------------
# The catalogue (one TOML file per paper, and its loader) is written on another
# branch; until it lands, these names carry the catalogue's shape with the fields this module
# can derive (kind from the title, assumptions parsed) and empty mathematics, words and
# proof dependencies.  The loader replaces this whole block.


@dataclass(frozen=True)
class Paper:
    """One paper of the catalogue (stand-in)."""

    key: str
    title: str
    authors: str
    venue: str
    prefix: str


@dataclass(frozen=True)
class Assumption:
    """One assumption of a paper (stand-in)."""

    id: str
    title: str
    math: str
    words: str


@dataclass(frozen=True)
class Statement:
    """One statement of the catalogue (stand-in)."""

    id: str
    title: str
    kind: str
    section: str
    math: str
    words: str
    assumptions: tuple[str, ...]
    uses: tuple[str, ...]
    tolerance: str
    certifiable: bool
    paper: str


def _kind(title: str) -> str:
    for prefix, kind in (
        ("eq.", "equation"),
        ("Lemma", "lemma"),
        ("Theorem", "theorem"),
        ("Fig.", "figure"),
        ("Errata", "erratum"),
    ):
        if title.startswith(prefix):
            return kind
    return "derived"


_KEY = "ji_telgarsky_2019"
PAPERS: dict[str, Paper] = {
    _KEY: Paper(
        _KEY,
        "Gradient descent aligns the layers of deep linear networks",
        "Ziwei Ji, Matus Telgarsky",
        "ICLR 2019",
        "S-",
    )
}
ASSUMPTIONS: dict[str, dict[str, Assumption]] = {
    _KEY: {f"A{i}": Assumption(f"A{i}", f"Assumption {i}", "", "") for i in range(1, 6)}
}
CATALOGUE: dict[str, Statement] = {
    sid: Statement(
        sid,
        title,
        _kind(title),
        "",
        "",
        "",
        tuple(re.findall(r"A[0-9]", assumptions)),
        (),
        "",
        False,
        _KEY,
    )
    for sid, title, assumptions in STATEMENTS
}


def paper_of(sid: str) -> str:
    """The key of the paper a statement ID belongs to."""
    return CATALOGUE[sid].paper
