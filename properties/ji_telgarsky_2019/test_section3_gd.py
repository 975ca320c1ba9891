"""Section 3 and Appendix C: gradient descent with the step rule A5.

Statements: S-EQ4, S-EQ27, S-EQ29, S-EQ30, S-EQ37, S-L7, S-L8a, S-L8b, S-L8c,
S-T3 along GD trajectories (one run per drawn problem, every statement checked
on it), and the S-EQ29 erratum (S-ERR) with its minimal witness.

**S-L8b's constant.**  Following Lemma 2's proof for GD, eq. 2 becomes the
exact identity of S-EQ29: ``W_k W_k^T = W_{k+1}^T W_{k+1} + A_{k,k+1} + E_k``
with ``E_k = P_k - Q_{k+1}``.  Both accumulators are positive semidefinite,
so ``||E_k||_2 <= max(tr P_k, tr Q_{k+1}) <= sum eta^2 ||grad R||^2
<= 2 R(W(0))`` (eq. 30, which needs only eq. 4, not a particular step size).
The perturbation enters the alignment argument twice: through the rank
deficit (S-L8a: ``D + 2R(W(0))``) and through the eigenvalue comparison of the
pair (k, k+1), which adds ``||E_k||_2`` once more; a careful derivation along
these lines supports ``D + 4 R(W(0))`` rather than the printed 3, and the
constant does not depend on the step size beyond eq. 4.  The suite asserts
the printed form (constant 3), searches for trajectories that come closest to
violating it (``hypothesis.target``), and reports the worst slack; a
violation would be recorded as an erratum.

**S-T3 (and the finite-run statements).**  Under A5 the step collapses for
L >= 3 (eta ~ 1e-5 and smaller; docs/numerics.md, "Gradient descent under the step
rule A5"), so Theorem 3's limits are
followed only as far as :data:`STEPS` steps reach: the recorded result says
how far (log R and max ||W_k||_F at the end).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, find, given, note, settings, target
from hypothesis import strategies as st

from invariants import strategies
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.dynamics import gd
from invariants.errors import AssumptionError
from properties.ji_telgarsky_2019.claims import section3_gd
from properties.ji_telgarsky_2019.claims.section3_gd import check_all

#: Steps of each A5 run: 5000 since GD's loop and the checks got cheaper (issue 22).  The
#: file's CI-profile CPU time: 25.7 s at 2000 steps before, 10.6 s at 2000 and 15.1 s at
#: 5000 after.  On fixed draws (the first 40 of each property's strategy, generation
#: only), 2000 -> 5000 steps never lost an exercised statement and gained S-L8a 6 -> 10,
#: S-L8b 5 -> 11, S-EQ37 7 -> 12 on the general draw, S-L8b 9 -> 10, S-L8c 20 -> 21,
#: S-EQ37 25 -> 28 on the large regime; median log R(end) -0.37 -> -0.40 (general),
#: -2.07 -> -3.10 (growing), -3.01 -> -3.79 (large).  A5's step shrinks as the norms
#: grow, so reach grows slowly with steps.  The report profile's draws are steered by
#: ``target`` on what the runs reach, so they change with STEPS: counts there move both
#: ways (its large regime exercised S-L8c on 32 of 40 at 2000 steps, 19 at 5000).
STEPS = 5000

#: Settings of the deterministic witness searches (``hypothesis.find``) of this module.
WITNESS_SEARCH = settings(
    database=None, derandomize=True, max_examples=200, suppress_health_check=list(HealthCheck)
)

#: Depths of the A5 runs.
DEPTHS = (1, 5)


def a5_scale_cap(depth: int) -> float:
    """The largest initial scale drawn for an A5 run of this depth: ``4^(1/(L-1))`` (4 at L=1).

    Lemma 8's GD bounds say something only for layers well above their constants:
    S-L8b's bound is <= 0 until ``||W_{k+1}||_2^2`` exceeds ``D + 3 R(W(0)) +
    ||W_k(0)||_2^2 + ||W_{k+1}(0)||_2^2``, S-L8c's until ``||W_k||_F`` is several times
    ``sqrt(2 (D + 2 R(W(0))))``, and S-L8a's allowance ``D + 2 R(W(0)) >= 2 R(W(0))``
    (about 1.4 at a small start) exceeds every deficit of a layer of norm below ~1.7.
    Scales above 1 are needed; but A5's step ``1 / (2 L^2 R^(2L-2) (beta + G))``
    collapses as ``R^(2L-2)``.  The cap keeps ``R^(2L-2) <= 16`` at the start, so the
    first step is at least ``1 / (40 L^2)`` (logistic: ``beta + G = 5/4``) and STEPS
    steps cover a time of at least ``STEPS / (40 L^2)`` (125 / L^2 at 5000 steps):
    every depth moves.  Measured on the report profile's 40 examples at 2000 steps,
    exercised before -> after this range (the default range stops at 1): S-L8a 5 -> 7,
    S-L8b 5 -> 11, S-EQ37 5 -> 13, S-EQ29 16 -> 24.
    Lemma 8's bounds bite only where ``||W_k||_F`` is several times
    ``L sqrt(2 (D + 2 R(W(0))))``, which A5 runs reach at depth <= 3 only.
    """
    return 4.0 ** (1.0 / (depth - 1)) if depth > 1 else 4.0


@st.composite
def a5_problems(draw) -> strategies.Problem:
    """Problems for the A5 runs, the scale range drawn per depth (:func:`a5_scale_cap`)."""
    depth = draw(st.integers(*DEPTHS), label="depth")
    return draw(
        strategies.problems(
            kinds=strategies.A2_KINDS,
            loss="logistic",
            depth=depth,
            n=(1, 30),
            scale=(1e-2, a5_scale_cap(depth)),
        ),
        label="problem",
    )


PROBLEMS = a5_problems()


@given(problem=PROBLEMS)
def test_gd_statements_along_a5_run(problem: strategies.Problem, record_slack, record_observation):
    """S-EQ4, S-EQ27, S-EQ29, S-EQ30, S-EQ37, S-L7, S-L8a, S-L8b, S-L8c, S-T3 on one A5 run.

    S-L7 and S-T3 are limits (norms unbounded, risk to 0): a finite run follows them
    only as far as it reaches, recorded as ``S-L7_reach`` and ``S-T3_reach``.
    """
    tr = gd.gradient_descent(problem.z, problem.weights, problem.loss, STEPS)
    note(
        f"family={problem.drawn.family} widths={problem.widths} init={problem.init.name} "
        f"eta_end={tr.eta[-1]:.3e} R_end={tr.radius[-1]:.3g} logR_end={tr.log_risk[-1]:.4g}"
    )
    slacks = check_all(tr)
    for slack in slacks:
        record_slack(slack)
    reach = {
        "steps": float(tr.steps),
        "log_risk_end": float(tr.log_risk[-1]),
        "max_frobenius_end": gd.max_frobenius(tr.weights[-1]),
    }
    record_observation("S-T3_reach", "S-T3", reach)
    record_observation("S-L7_reach", "S-L7", {**reach, "sum_eta": float(tr.eta.sum())})
    # Steer the search towards runs that exercise the statements (progress of the risk,
    # count of exercised statements) and that come closest to violating S-L8b's printed
    # form (its slack, where its bound is above 0).
    target(float(tr.log_risk[0] - tr.log_risk[-1]), label="log R(0) - log R(end)")
    target(float(sum(s.exercised for s in slacks)), label="statements exercised")
    l8b = next(s for s in slacks if s.statement == "S-L8b")
    if l8b.exercised:
        target(float(l8b.ratio), label="S-L8b slack")


#: Lemma 8's two regimes at depth 2 (see :func:`test_gd_statements_where_lemma8_bites`).
LEMMA8_REGIMES = {
    # small starts that grow: S-L8b's bound subtracts ||W_k(0)||^2 + ||W_{k+1}(0)||^2
    "growing": strategies.problems(
        kinds=("balanced", "equal_frobenius", "small_gaussian"),
        loss="logistic",
        depth=2,
        n=(1, 30),
        scale=(0.05, 1.0),
    ),
    # large balanced starts (D = 0): S-L8c's e_k = sqrt(2 (D + 2 R(0))) / ||W_k||_F is small.
    # At most 8: a balanced depth-2 start of scale s has margins ~ s^2 gamma, and beyond ~8
    # log R(W(0)) fell to -60 .. -325, where A5's steps move no weight by more than its
    # rounding (the run is frozen: exercises nothing). Measured on 40 draws at 5000 steps:
    # scale 4..32 froze 6 runs (all at s >= 7.8) and exercised S-L8c on 19; 4..8 froze none
    # and exercised 22 (the rest were shrunk below 1 by the A2 retry of the balanced init).
    "large": strategies.problems(
        kinds="balanced", loss="logistic", depth=2, n=(1, 30), scale=(4.0, 8.0)
    ),
}


@pytest.mark.parametrize("regime", sorted(LEMMA8_REGIMES))
@given(data=st.data())
def test_gd_statements_where_lemma8_bites(regime: str, data, record_slack):
    """S-L8a, S-L8b, S-L8c (and every other GD statement) on runs built for Lemma 8's bounds.

    The bounds say something only for layers well above their constants
    (:func:`a5_scale_cap`), which the general A5 draw rarely reaches (depth >= 3 cannot
    move far under A5).  Depth 2 in two regimes, each a full property's examples:
    *growing* (starts of scale 0.05..1, which grow past S-L8b's ``||W_k(0)||^2 +
    ||W_{k+1}(0)||^2 + D + 3 R(W(0))``) and *large* (balanced starts of scale 4..32,
    ``D = 0``, where S-L8c's ``prod (1 + e_k) - 1`` is below 1; A5's step
    ``1 / (8 R^2 (5/4))`` is still 1e-3 or more).  Measured on 40 draws of each
    at 2000 steps (large then at scale 4..32): growing exercises S-L8a/b/c on
    29/36/0, large on 33/4/34 (the general draw: 7/11/1); why large stops at 8 is
    beside :data:`LEMMA8_REGIMES`.
    """
    problem = data.draw(LEMMA8_REGIMES[regime], label="problem")
    tr = gd.gradient_descent(problem.z, problem.weights, problem.loss, STEPS)
    note(f"widths={problem.widths} init={problem.init.description}")
    slacks = check_all(tr)
    for slack in slacks:
        record_slack(slack)
    target(float(sum(s.exercised for s in slacks)), label="statements exercised")


def test_a5_refuses_the_exponential_loss():
    """S-L5/A5: beta(R) needs A4; the exponential loss raises unless asked as a control."""
    z = np.array([[0.5, 0.1]])
    W0 = [np.array([[0.1, 0.0]])]
    with pytest.raises(AssumptionError, match="A4"):
        gd.gradient_descent(z, W0, EXPONENTIAL, 3)
    tr = gd.gradient_descent(z, W0, EXPONENTIAL, 3, allow_a4_violation=True)
    assert tr.steps == 3


# --- the S-EQ29 erratum -----------------------------------------------------------------


def _tiny_runs():
    """Depth 2, scalar layers: the smallest networks where S-EQ29 says anything."""

    @st.composite
    def run(draw):
        z = draw(st.floats(0.05, 1.0))
        a = draw(st.floats(-1.0, 1.0).filter(lambda v: abs(v) > 1e-3))
        b = draw(st.floats(-1.0, 1.0).filter(lambda v: abs(v) > 1e-3))
        steps = draw(st.integers(1, 3))
        W0 = [np.array([[a]]), np.array([[b]])]
        if a * b * z < 0:
            W0[1] = -W0[1]
        return np.array([[z]]), W0, steps

    return run()


def test_s_eq29_printed_signs_are_an_erratum(record_erratum, record_slack):
    """S-ERR / S-EQ29: the printed signs (+P_k - Q_{k+1}) fail; the derived ones hold.

    Hypothesis finds and shrinks a minimal witness: depth 2, scalar layers,
    one step.  The printed form's residual is ``2 ||Q_2 - P_1||``, far above
    the rounding bound, while the derived form's residual is within it.
    """

    def printed_fails(example) -> bool:
        z, W0, steps = example
        tr = gd.gradient_descent(z, W0, LOGISTIC, steps)
        res, allowed = section3_gd.eq29_residuals(tr, printed=True)
        return bool(np.any(res > allowed))

    witness = find(
        _tiny_runs(),
        printed_fails,
        settings=WITNESS_SEARCH,
    )
    z, W0, steps = witness
    tr = gd.gradient_descent(z, W0, LOGISTIC, steps)
    record_slack(section3_gd.check_s_err_eq29(tr))
    record_slack(section3_gd.check_s_eq29(tr))
    res_p, allowed = section3_gd.eq29_residuals(tr, printed=True)
    res_d, _ = section3_gd.eq29_residuals(tr)
    record_erratum(
        "S-EQ29",
        printed="W_{k+1}^T W_{k+1} - W_{k+1}(0)^T W_{k+1}(0) = W_k W_k^T - W_k(0) W_k(0)^T "
        "+ P_k - Q_{k+1}",
        derived="... = W_k W_k^T - W_k(0) W_k(0)^T + Q_{k+1} - P_k",
        witness={
            "z": float(z[0, 0]),
            "W1(0)": float(W0[0][0, 0]),
            "W2(0)": float(W0[1][0, 0]),
            "steps": int(steps),
            "eta": [float(e) for e in tr.eta],
            "printed_residual": float(res_p.max()),
            "derived_residual": float(res_d.max()),
            "rounding_bound": float(allowed.max()),
        },
    )


STEPS_SHRINK = 100


def test_norms_may_shrink_while_the_risk_falls():
    """S-L7, S-T3: neither says the norms grow monotonically, and from a large start they don't.

    Hypothesis finds a depth-2 A5 run from a start of scale 2..10 whose layers end
    *smaller* than they began (GD turns a large product that points the wrong way before
    it grows it).  The finite-run checks must pass on it: what Lemma 7 and Theorem 3
    imply is a falling risk and norms bounded below by ``loss^{-1}(R)``, not growth.
    (Until this was found, both checks asserted ``||W_k||_F(end) > ||W_k||_F(0)``.)
    """
    big = strategies.problems(
        kinds=strategies.A2_KINDS, loss="logistic", depth=2, n=(1, 30), scale=(2.0, 10.0)
    )

    def shrinks(problem) -> bool:
        tr = gd.gradient_descent(problem.z, problem.weights, problem.loss, STEPS_SHRINK)
        return any(
            np.linalg.norm(b) < np.linalg.norm(a)
            for a, b in zip(tr.weights[0], tr.weights[-1], strict=True)
        )

    problem = find(
        big,
        shrinks,
        settings=WITNESS_SEARCH,
    )
    tr = gd.gradient_descent(problem.z, problem.weights, problem.loss, STEPS_SHRINK)
    assert shrinks(problem), f"witness lost: widths={problem.widths} init={problem.init.name}"
    section3_gd.check_s_l7(tr)
    section3_gd.check_s_t3(tr)
