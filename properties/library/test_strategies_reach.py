"""Meta-tests of :mod:`invariants.strategies`: every documented range and kind is drawn.

``test_strategies.py`` checks that every draw stays inside its bounds and keeps its
promises; this module checks the converse, *reach*: the docstring of each public
strategy is its specification, and everything it says is drawn (the ends of each
range, every value of each small range, every family, kind, variant and loss)
occurs in a deterministic sample of at most :data:`BUDGET` draws.  A strategy
whose range silently narrowed (a bound off by one, a dropped kind, a rejection
that removes one end) would still pass every bound check; it fails here, naming
what was never drawn.

Sampling: :func:`unreached` runs ``hypothesis.find`` with a condition that only
tallies the labels of each draw (:class:`Tally`), with its own settings
(derandomized, no database, generation only), so the sample is the same under
every profile; it stops at the first draw by which everything is reached (1 to
446 draws here) and the assertion is made on the whole tally.  Only data are
drawn, no trajectory.

Negative controls (:func:`test_reach_checker_reports_narrowed_strategies`): the
same checker run on deliberately narrowed strategies reports what the narrowing
removed.

Every public strategy is sampled with its defaults: seeds, losses, architectures,
datasets, problems, a3_datasets; initialisations through problems(), which calls
it with its default kinds and scale.  The documented argument ranges are sampled
at their ends (min_margin of datasets and a3_datasets; extra of a3_datasets).

Served indirectly, through the suite's generators: the Notation and the data,
architecture, loss and initialisation ranges every property test draws from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from invariants import strategies as S

pytestmark = pytest.mark.meta

#: Draw budget of a reach check.  The check stops at the first draw by which every
#: expected label has occurred (measured: 1 to 446 draws for the checks below, the
#: most for problems(), whose last label is an init scale at its top end), so the
#: budget is spent only when a reach is broken.  Derivation: over 2000 random
#: (not derandomized) draws of each strategy the rarest label has probability
#: p >= 0.004 per draw (a3_datasets at d = 6 with n at its lower end: 0.005;
#: architectures alone at depth 2: 0.004), apart from the labels of the simplest
#: example (seed 0, depth 1), which generation always tries first.  A budget of 2000
#: misses a label with probability ``(1 - p)^2000 <= e^-8 ~ 3e-4`` when a change
#: elsewhere shifts the derandomized example stream.
BUDGET = 2000

#: A draw reaches an end ``e`` of a documented continuous range when ``|x - e| <=
#: END_RTOL * e``.  Derivation: the strategies map a drawn fraction f in [0, 1] to
#: ``lo (hi/lo)^f`` (``strategies.primitives.log_uniform``); f = 0 gives lo exactly and f = 1
#: gives ``fl(lo fl(hi/lo))`` (``pow(x, 1.0) = x``), two roundings, within EPS of hi.
#: a3_datasets adds a certification buffer of 1e-12 to gamma, which is <= 1e-9
#: relative to its smallest allowed min_margin (1e-3).  1e-8 is ten times that, and
#: a genuine narrowing of a fraction range to [0, 1 - delta] misses hi by
#: ``delta ln(hi/lo) >= delta`` relative, so any delta > 1e-8 is reported.
END_RTOL = 1e-8

#: Support vectors of a "generic" data set: points whose witness margin is within
#: SUPPORT_ATOL of the smallest.  Derivation: the designed support points share one
#: float g; their computed margins <u, z_i> differ only by rounding, (d + 2) eps for
#: the entries and the dot product, plus ``r |<u, q_i>|`` for the perpendicular
#: parts, whose single Gram-Schmidt pass leaves ``<= (d + 2) eps ||v|| / ||q_raw||``
#: with ``||q_raw|| >= 1e-3`` (``strategies.primitives.perp_units``): below 1e-11 for d <= 8,
#: ||v|| <= 10.  Off-support margins exceed t by ``(top - t) U^2`` (U uniform), so an
#: off-support point falls within 1e-10 with probability ~1e-5 per point.
SUPPORT_ATOL = 1e-10


# --- the reach checker ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """One documented range or list: every value of ``expected`` is among the labels drawn.

    ``labels`` maps one draw to the labels it exhibits (e.g. ``{depth}``, or
    ``{"lo"}`` for a margin at the lower end of its range).
    """

    what: str
    labels: Callable[[Any], Iterable[Hashable]]
    expected: tuple[Hashable, ...]


class Tally:
    """The labels drawn so far for each :class:`Reach` (pure bookkeeping)."""

    def __init__(self, reaches: Sequence[Reach]) -> None:
        self.reaches = tuple(reaches)
        self.seen: list[set[Hashable]] = [set() for _ in self.reaches]
        self.draws = 0
        self.complete = False

    def add(self, x: Any) -> bool:
        """Record one draw; True once every expected label has been drawn.

        Draws after that are not recorded (``find`` replays the completing draw).
        """
        if not self.complete:
            self.draws += 1
            for reach, seen in zip(self.reaches, self.seen, strict=True):
                seen.update(reach.labels(x))
            self.complete = not self.unreached()
        return self.complete

    def unreached(self) -> list[str]:
        """One message per :class:`Reach` whose expected labels were not all drawn."""
        out = []
        for reach, seen in zip(self.reaches, self.seen, strict=True):
            missing = [v for v in reach.expected if v not in seen]
            if missing:
                drawn = sorted(map(str, seen))
                drawn = drawn if len(drawn) <= 12 else [*drawn[:12], f"... {len(drawn)} in all"]
                out.append(
                    f"{reach.what}: never drew {missing} in {self.draws} draws (drew {drawn})"
                )
        return out


def unreached(
    strategy: st.SearchStrategy[Any], reaches: Sequence[Reach], budget: int = BUDGET
) -> list[str]:
    """Draw from ``strategy`` until every reach is met or ``budget`` draws are spent.

    ``hypothesis.find`` with a condition that tallies each draw and is true once
    everything is reached: a derandomized generation run with explicit settings
    (not the profile's), so the draws are the same under dev, ci and report, and
    it stops at the first draw that completes the tally.  Returns the messages
    of what was never drawn (empty: all reached).  A strategy with fewer values
    than ``budget`` ends when they are exhausted.
    """
    tally = Tally(reaches)
    try:
        find(
            strategy,
            tally.add,
            settings=settings(
                max_examples=budget,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.generate],
            ),
        )
    except NoSuchExample:
        pass
    return tally.unreached()


def assert_reached(
    strategy: st.SearchStrategy[Any], reaches: Sequence[Reach], budget: int = BUDGET
) -> None:
    """Fail with every unreached range at once."""
    missing = unreached(strategy, reaches, budget)
    assert not missing, "\n".join(missing)


# --- labels ------------------------------------------------------------------------------------


def ends(x: float, lo: float, hi: float) -> set[str]:
    """``{"lo"}`` / ``{"hi"}`` when x is at that end of ``[lo, hi]`` (within :data:`END_RTOL`)."""
    out = set()
    if abs(x - lo) <= END_RTOL * lo:
        out.add("lo")
    if abs(x - hi) <= END_RTOL * hi:
        out.add("hi")
    return out


def decades(lo: float, hi: float) -> tuple[int, ...]:
    """Indices of the decades ``[lo 10^k, lo 10^(k+1))`` that meet ``[lo, hi)`` (at least one).

    The 1e-12 absorbs the rounding of log10 when hi/lo is a power of ten (log10(100)
    may round up past 2), so that no decade holding only the end point hi is asked for.
    """
    return tuple(range(max(1, math.ceil(math.log10(hi / lo) - 1e-12))))


def decade(x: float, lo: float) -> set[int]:
    """``{k}`` with ``lo 10^k <= x < lo 10^(k+1)``."""
    return {math.floor(math.log10(x / lo))} if x >= lo else set()


def margin_reaches(min_margin: float, what: str, get: Callable[[Any], float]) -> list[Reach]:
    """The log-uniform range ``[min_margin, max(0.5, min_margin)]``: both ends, every decade."""
    hi = max(0.5, min_margin)
    return [
        Reach(f"{what} ends of [{min_margin:g}, {hi:g}]", lambda x: ends(get(x), min_margin, hi),
              ("lo", "hi")),
        Reach(f"{what} decades above {min_margin:g}", lambda x: decade(get(x), min_margin),
              decades(min_margin, hi)),
    ]  # fmt: skip


def generic_support(dd: S.DrawnData) -> set[str]:
    """``"one"`` (a unique support vector among n >= 2) or ``"several"`` (generic family)."""
    if dd.family != "generic":
        return set()
    m = dd.data.z @ dd.witness
    k = int(np.sum(m - m.min() <= SUPPORT_ATOL))
    if k == 1:
        return {"one"} if dd.n >= 2 else set()
    return {"several"}


def duplicate_uniques(dd: S.DrawnData) -> set[str]:
    """``"1"`` or ``"n-1"`` distinct rows of z (duplicates family, n >= 3 so they differ)."""
    if dd.family != "duplicates" or dd.n < 3:
        return set()
    u = np.unique(dd.data.z, axis=0).shape[0]
    return {"1"} if u == 1 else {"n-1"} if u == dd.n - 1 else set()


def layer_scales(p: S.Problem) -> set[str]:
    """Ends of the init scale ``(1e-2, 1)``, observable where ``||W_k||_F = s``.

    balanced (``c u_k u_{k-1}^T``, unit u) and equal_frobenius layers have Frobenius
    norm s up to ``(m + 5) eps`` relative (m entries; test_strategies.py derives it),
    far inside :data:`END_RTOL`.
    """
    if p.init.name not in ("balanced", "equal_frobenius"):
        return set()
    return ends(max(float(np.linalg.norm(w)) for w in p.weights), 1e-2, 1.0)


def seed_ends(seed: int) -> set[str]:
    """``"0"`` (the shrink target) or ``"top bit"`` (a seed >= 2^31)."""
    return {"0"} if seed == 0 else {"top bit"} if seed >> 31 else set()


def variant(p: S.Problem) -> set[str]:
    """The a2_violating variant, from the description's first word."""
    if p.init.name != "a2_violating":
        return set()
    return {p.init.description.split(":")[0].split(" ")[0]}


def zero_layers(p: S.Problem) -> set[str]:
    """``"2"`` or ``"L"`` zero layers of a zero_gradient init with L >= 3 (range 2..L)."""
    if not (p.init.name == "a2_violating" and p.init.description.startswith("zero_gradient")):
        return set()
    k = sum(not np.any(w) for w in p.weights)
    if p.init.depth < 3:
        return set()
    return {"2"} if k == 2 else {"L"} if k == p.init.depth else set()


# --- the documented ranges ----------------------------------------------------------------

#: seeds(): "every 32-bit integer, shrinking to 0".  The shrink target 0, and the top
#: bit in use (a seed >= 2^31: the range is not cut to 31 bits or fewer).  The exact
#: maximum 2^32 - 1 is one seed among 2^32, drawn ~1 in 2000 (measured), and no better
#: than any other seed, so it is not asked for.  (Hypothesis favours small integers:
#: 55% of drawn seeds are below 2^16 and ~1% reach the top bit; harmless, since
#: ``default_rng`` hashes its seed through SeedSequence.)
SEED_REACH = [Reach("seed", seed_ends, ("0", "top bit"))]

#: losses(): "the paper's losses (exponential, logistic)".
LOSS_REACH = [Reach("loss", lambda loss: {loss.name}, ("exponential", "logistic"))]

#: architectures(d) defaults: L in depth = (1, 6), each hidden width in width = (1, 8).
ARCHITECTURE_REACH = [
    Reach("depth L", lambda ws: {len(ws) + 1}, tuple(range(1, 7))),
    Reach("hidden width", set, tuple(range(1, 9))),
]

#: datasets() defaults: n in (1, 60), d in (1, 8), min_margin 1e-3, every family.
DATASET_REACH = [
    Reach("family", lambda dd: {dd.family}, S.FAMILIES),
    Reach("n ends", lambda dd: {dd.n} & {1, 60}, (1, 60)),
    Reach("d", lambda dd: {dd.d}, tuple(range(1, 9))),
    Reach(
        "family at both ends of d (underdetermined: d >= 2)",
        lambda dd: {(dd.family, dd.d)},
        tuple((f, d) for f in S.FAMILIES for d in (2 if f == "underdetermined" else 1, 8)),
    ),
    *margin_reaches(1e-3, "target margin t", lambda dd: dd.margin_lower_bound),
    Reach("generic support vectors", generic_support, ("one", "several")),
    Reach("duplicates' distinct rows (1 .. n-1)", duplicate_uniques, ("1", "n-1")),
    Reach("random labels, both in one set", lambda dd: {len(set(dd.data.y.tolist()))}, (2,)),
]

#: problems() defaults: those of datasets, architectures, losses and initialisations.
PROBLEM_REACH = [
    Reach("family", lambda p: {p.drawn.family}, S.FAMILIES),
    Reach("n ends", lambda p: {p.n} & {1, 60}, (1, 60)),
    Reach("d", lambda p: {p.d}, tuple(range(1, 9))),
    Reach("depth L", lambda p: {p.init.depth}, tuple(range(1, 7))),
    Reach("hidden width", lambda p: set(p.widths), tuple(range(1, 9))),
    Reach("loss", lambda p: {p.loss.name}, ("exponential", "logistic")),
    Reach("init kind", lambda p: {p.init.name}, S.INIT_KINDS),
    Reach(
        "init kind at both ends of depth",
        lambda p: {(p.init.name, p.init.depth)},
        tuple((k, L) for k in S.INIT_KINDS for L in (1, 6)),
    ),
    Reach("init scale ends of (1e-2, 1)", layer_scales, ("lo", "hi")),
    Reach("a2_violating variants (any shape)", variant, ("risk_above_zero", "zero_gradient")),
    Reach("zero_gradient zero layers (2 .. L)", zero_layers, ("2", "L")),
]

#: The mirror variant exists only for L = 2, d = 1, width 1 (S-A2b's example).
MIRROR_REACH = [
    Reach("a2_violating variants (L=2, d=1, width 1)", variant,
          ("risk_above_zero", "zero_gradient", "mirror")),
]  # fmt: skip


def a3_reach(min_margin: float, extra: tuple[int, int]) -> list[Reach]:
    """a3_datasets(n=(2, 30), d=(2, 6), min_margin, extra): n is raised to d + extra.

    So n's lower end is ``max(2, d + extra)``, asked for at every d; its upper end 30.
    """
    lo, hi = extra
    return [
        Reach("d", lambda a: {a.d}, tuple(range(2, 7))),
        Reach(
            "d with n at its lower end max(2, d + extra)",
            lambda a: {a.d} if a.n == max(2, a.d + a.extra) else set(),
            tuple(range(2, 7)),
        ),
        Reach("n = 30", lambda a: {a.n} & {30}, (30,)),
        Reach("extra support vectors", lambda a: {a.extra}, tuple(range(lo, hi + 1))),
        Reach("support size (d + extra) ends", lambda a: {len(a.support)}, (2 + lo, 6 + hi)),
        *margin_reaches(min_margin, "gamma", lambda a: a.gamma),
    ]


# --- the tests ------------------------------------------------------------------------------


def test_seeds_reach_zero_and_the_top_bit() -> None:
    assert_reached(S.seeds(), SEED_REACH)


def test_losses_reach_both() -> None:
    assert_reached(S.losses(), LOSS_REACH)


def test_architectures_reach_every_depth_and_width() -> None:
    assert_reached(S.architectures(3), ARCHITECTURE_REACH)


def test_datasets_reach_every_family_size_and_margin() -> None:
    assert_reached(S.datasets(), DATASET_REACH)


def test_problems_reach_every_kind_loss_depth_and_width() -> None:
    assert_reached(S.problems(), PROBLEM_REACH)


def test_a2_violating_reaches_the_mirror() -> None:
    assert_reached(S.problems(kinds="a2_violating", d=1, depth=2, width=1), MIRROR_REACH)


def test_a2_kinds_reach_each() -> None:
    """kinds=A2_KINDS (what the statements assuming A2 draw): each of them is drawn."""
    reaches = [Reach("init kind", lambda p: {p.init.name}, S.A2_KINDS)]
    assert_reached(S.problems(kinds=S.A2_KINDS), reaches)


@pytest.mark.parametrize("extra", [(0, 0), (0, 3)])
def test_a3_datasets_reach_every_size_and_margin(extra: tuple[int, int]) -> None:
    assert_reached(S.a3_datasets(extra=extra), a3_reach(0.02, extra))


@pytest.mark.parametrize("min_margin", [1e-8, 0.9])
def test_datasets_reach_at_the_ends_of_min_margin(min_margin: float) -> None:
    """min_margin is documented in [1e-8, 0.9]: both ends draw, and reach their margins."""
    reaches = [
        Reach("family", lambda dd: {dd.family}, S.FAMILIES),
        *margin_reaches(min_margin, "target margin t", lambda dd: dd.margin_lower_bound),
    ]
    assert_reached(S.datasets(min_margin=min_margin), reaches)


@pytest.mark.parametrize("min_margin", [1e-3, 0.5])
def test_a3_datasets_reach_at_the_ends_of_min_margin(min_margin: float) -> None:
    """a3_datasets' min_margin is documented in [1e-3, 0.5]: both ends draw, gamma reaches both."""
    assert_reached(
        S.a3_datasets(min_margin=min_margin), margin_reaches(min_margin, "gamma", lambda a: a.gamma)
    )


#: Budget of the negative controls: the 200-500 draws of a
#: reasonable sample (each control asserts only that the narrowed label is reported).
CONTROL_BUDGET = 300


def test_reach_checker_reports_narrowed_strategies() -> None:
    """Negative controls: narrowed strategies miss exactly what was narrowed away."""
    assert unreached(S.architectures(3, depth=(1, 5)), ARCHITECTURE_REACH, CONTROL_BUDGET) == [
        f"depth L: never drew [6] in {CONTROL_BUDGET} draws (drew ['1', '2', '3', '4', '5'])"
    ]
    one_loss = unreached(S.losses(["exponential"]), LOSS_REACH)
    assert len(one_loss) == 1 and "never drew ['logistic']" in one_loss[0], one_loss
    assert unreached(S.seeds().map(lambda s: s >> 1), SEED_REACH, CONTROL_BUDGET)[0].startswith(
        "seed: never drew ['top bit']"
    )
    no_sphere = [f for f in S.FAMILIES if f != "sphere"]
    fewer = unreached(S.datasets(family=no_sphere, d=(1, 7)), DATASET_REACH, CONTROL_BUDGET)
    assert any(m.startswith("family: never drew ['sphere']") for m in fewer), fewer
    assert any(m.startswith("d: never drew [8]") for m in fewer), fewer
    # an end of a continuous range: min_margin 2e-3 never draws a target margin at 1e-3
    higher = unreached(S.datasets(min_margin=2e-3), DATASET_REACH, CONTROL_BUDGET)
    assert any(
        m.startswith("target margin t ends of [0.001, 0.5]: never drew ['lo']") for m in higher
    ), higher
