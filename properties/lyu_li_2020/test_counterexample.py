"""Theorem I.1 (the Mexican hat), the violations of the assumptions and the errata.

Statements: LL-TI.1 on reduced runs of the hat flow drawn per example (one run checks
every conclusion); LL-ERR items 1, 3 and 6 with their witnesses (recorded errata); LL-NEG,
one property per violated assumption, each a Hypothesis search for a violating problem
(the predicates say no with the assumption restored: controls/).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from invariants import strategies
from invariants.core import mexican_hat as mh
from invariants.core.homogeneous import linear_network_margins
from invariants.core.losses import EXPONENTIAL
from properties.lyu_li_2020.claims import counterexample

#: Settings of the deterministic witness searches (``hypothesis.find``) of this module.
WITNESS_SEARCH = settings(
    database=None, derandomize=True, max_examples=200, suppress_health_check=list(HealthCheck)
)


@st.composite
def hat_problems(draw) -> counterexample.HatProblem:
    """A start on ``psi = 0`` past the threshold (A4: ``h(theta0) > log n``)."""
    k = draw(st.sampled_from(mh.EXPONENTS), label="k")
    r0 = draw(st.floats(0.2, 0.9), label="r0")
    p = draw(st.integers(1, 3), label="p")
    n = draw(st.integers(1, 5), label="n")
    a0 = 1.0 / (1.0 - r0 * r0)
    floor = (np.log(n) + 0.1) / (1.0 - mh.hat(r0, a0, k))
    rho0 = max(floor, 1.0) ** (1.0 / p) * draw(st.floats(1.0, 3.0), label="rho0 factor")
    sigma_end = draw(st.floats(20.0, 40.0), label="path length")
    return counterexample.HatProblem(r0, k, p, n, float(rho0), sigma_end)


@given(problem=hat_problems())
def test_theorem_i1_margin_grows_and_direction_winds(problem, record_slack, record_observation):
    """LL-TI.1: from ``psi = 0`` the margin rises, ``r -> 1``, ``gbar -> 1`` and the
    direction winds around the equator; the model is p-homogeneous (Euler identity)."""
    model = mh.hat_margin_model(problem.theta0(), problem.n, problem.p, problem.k)
    res, allowed = counterexample.euler_residual(model)
    assert res <= allowed, f"LL-TI.1: h is not {problem.p}-homogeneous: {res} > {allowed}"
    run = counterexample.run_hat(problem)
    slack = counterexample.check_ll_ti_1(run, problem)
    record_slack(slack)
    record_observation("hat_flow", "LL-TI.1", {"k": problem.k, "a0": problem.a0, **slack.measures})


def test_err6_invariance_of_psi0_needs_exponent_3(record_erratum, record_slack):
    """LL-ERR (item 6), LL-TI.1: on the sphere ``dpsi/ds`` on ``psi = 0`` is exactly 0 with
    the exponent 3 and exactly ``A_4 E > 0`` with Absil's 4 (rational arithmetic; Arb balls
    at float radii agree).  The floating-point runs cannot decide it: the curve is
    repelling (``psi`` grows like ``exp(4 a^3 phi)``), and the k = 3 run leaves it or not
    depending on the solver's tolerance."""
    record_slack(counterexample.check_ll_err_6())
    r2 = counterexample.SAMPLE_R2[4]
    d4 = counterexample.psi_drift(r2, 4)
    record_erratum(
        "LL-ERR",
        printed="Theorem I.1: psi = phi - 1/(1-r^2) = 0 is invariant, Absil's coefficient "
        "4r^4/(4r^4 + (1-r^2)^4)",
        derived="on the sphere the radial speed gets the factor (1-r^2): psi = 0 is invariant "
        "with (1-r^2)^3; with (1-r^2)^4, dpsi/ds = A_4 e^{-1/(1-r^2)} > 0 on it",
        witness={
            "r^2": float(r2),
            "dpsi/ds / E, k=3 (exact)": float(counterexample.psi_drift(r2, 3)),
            "dpsi/ds / E, k=4 (exact)": str(d4),
            "planar flow, k=4 (exact)": float(counterexample.psi_drift(r2, 4, sphere=False)),
        },
    )


def test_err1_printed_gap_is_vacuous(record_erratum, record_slack):
    """LL-ERR (items 1-2): ``|gtil - gtil|`` is 0 at every state; the gap that
    tends to 0 is ``gbar - gtil`` (here ``log n / rho^p`` on the hat, n = 3, p = 2)."""
    problem = counterexample.HatProblem(0.5, 3, 2, 3, 3.0, 30.0)
    model = mh.hat_margin_model(problem.theta0(), problem.n, problem.p, problem.k)
    slack = counterexample.check_ll_err_1(model, EXPONENTIAL)
    record_slack(slack)
    record_erratum(
        "LL-ERR",
        printed="Theorem 4.1(3): |gtil - gtil| -> 0 (and Sec. 5: gtil approximates gtil)",
        derived="|gbar - gtil| <= log n / rho^p -> 0",
        witness={"rho": model.rho, "n": problem.n, "p": problem.p, "detail": slack.detail},
    )


@given(
    drawn=strategies.datasets(n=(2, 6), d=(1, 3), min_margin=0.05),
    depth=st.integers(1, 3),
    excess=st.floats(0.05, 0.95),
)
def test_err3_rate_against_level(drawn, depth, excess, record_slack):
    """LL-ERR (item 3): at a state with ``e^{-1} < Lsum < 1`` the rate form
    ``d log rho/dt <= (1/p) d/dt log log(1/Lsum)`` holds, the printed level form fails."""
    z, u = drawn.data.z, drawn.witness
    base = [u[None, :]] + [np.ones((1, 1))] * (depth - 1)
    m1 = linear_network_margins(base, z)
    # scale c of every layer: Lsum(c) = sum e^{-c^p q_i}; solve Lsum = e^{-excess} by bisection
    lo, hi = 0.0, 1.0
    while np.exp(-(hi**depth) * m1.q).sum() > np.exp(-excess):
        hi *= 2.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.exp(-(mid**depth) * m1.q).sum() > np.exp(-excess) else (lo, mid)
    model = linear_network_margins([hi * W for W in base], z)
    slack = counterexample.check_ll_err_3(model, EXPONENTIAL)
    lhs, printed, _ = counterexample.err3_sides(model, EXPONENTIAL)
    assert lhs > printed, "LL-ERR 3: the printed level form held"
    record_slack(slack)


# --- LL-NEG ------------------------------------------------------------------------------


def _aligned_start(z: np.ndarray, u: np.ndarray, c: float) -> list[np.ndarray]:
    """A depth-2 start ``W1 = c u^T``, ``W2 = c``: margins ``c^2 <u, z_i>``."""
    return [c * u[None, :], np.array([[c]])]


@st.composite
def a4_violations(draw):
    """Separable data and a depth-2 start ``W1 = c v^T``, ``W2 = c`` along a drawn ``v``."""
    drawn = draw(strategies.datasets(n=(2, 5), d=(2, 3), min_margin=0.05))
    z, u = drawn.data.z, drawn.witness
    v = np.array([draw(st.floats(-1.0, 1.0)) for _ in range(z.shape[1])])
    return z, _aligned_start(z, v, draw(st.floats(0.5, 2.0))), u


def test_not_a4_gtil_nonpositive_before_threshold(record_slack, record_observation):
    """LL-NEG (not A4): from a start that misclassifies a point of separable data
    ``gtil <= 0``; GD (constant step 0.5 on the sum) is followed to the threshold and how
    ``gtil`` and ``gbar`` moved before it recorded."""
    z, W0, u = find(
        a4_violations(),
        lambda zwu: bool(np.min(linear_network_margins(zwu[1], zwu[0]).q) < 0.0),
        settings=WITNESS_SEARCH,
    )
    # restored: the start along the separator u, scaled past the threshold (Lsum < 1)
    q = linear_network_margins(_aligned_start(z, u, 1.0), z).q
    c = float(np.sqrt((np.log(z.shape[0]) + 1.0) / q.min()))  # depth 2: margins scale c^2
    restored = linear_network_margins(_aligned_start(z, u, c), z)
    record_slack(
        counterexample.check_ll_neg(
            "A4",
            counterexample.a4_gtil_nonpositive(linear_network_margins(W0, z), EXPONENTIAL),
            counterexample.a4_gtil_nonpositive(restored, EXPONENTIAL),
        )
    )
    record_observation("not_a4", "LL-NEG", counterexample.before_threshold(z, W0, 0.5, 2000))


def test_not_a2_bias_breaks_euler_and_eq6(record_slack, record_observation):
    """LL-NEG (not A2): an output bias breaks the Euler identity and eq. 6."""

    @st.composite
    def biased(draw):
        drawn = draw(strategies.datasets(n=(1, 4), d=(1, 3), min_margin=0.05))
        b = draw(st.floats(-1.0, 1.0))
        return drawn, b

    drawn, b = find(
        biased(),
        lambda db: counterexample.a2_breaks_euler(
            counterexample.biased_linear_margins(
                _aligned_start(db[0].data.z, db[0].witness, 1.5), db[1], db[0].data.x, db[0].data.y
            ),
            EXPONENTIAL,
        ),
        settings=WITNESS_SEARCH,
    )
    model = counterexample.biased_linear_margins(
        _aligned_start(drawn.data.z, drawn.witness, 1.5), b, drawn.data.x, drawn.data.y
    )
    res, allowed = counterexample.euler_residual(model)
    unbiased = counterexample.biased_linear_margins(
        _aligned_start(drawn.data.z, drawn.witness, 1.5), 0.0, drawn.data.x, drawn.data.y
    )
    record_slack(
        counterexample.check_ll_neg(
            "A2",
            counterexample.a2_breaks_euler(model, EXPONENTIAL),
            counterexample.a2_breaks_euler(unbiased, EXPONENTIAL),
        )
    )
    record_observation("not_a2", "LL-NEG", {"bias": b, "euler_residual": res, "allowed": allowed})


@st.composite
def large_steps(draw):
    drawn = draw(strategies.datasets(n=(1, 5), d=(1, 3), min_margin=0.05))
    z, u = drawn.data.z, drawn.witness
    c = float(np.sqrt((np.log(z.shape[0]) + 1.0) / drawn.margin_lower_bound))
    eta = draw(st.floats(1.0, 100.0))
    return z, _aligned_start(z, u, c), eta


def test_not_s5_large_step_lets_loss_rise(record_slack, record_observation):
    """LL-NEG (not S5): a constant step far above H, from past t0 on a depth-2
    linear network (exponential loss): the first step where ``Lsum`` rises or ``gtil`` falls."""
    z, W0, eta = find(
        large_steps(),
        lambda zwe: counterexample.s5_first_rise(*zwe, 30) is not None,
        settings=WITNESS_SEARCH,
    )
    t, what = counterexample.s5_first_rise(z, W0, eta, 30)
    # restored: a step 1e-4 (far below H on these scales) from the same start
    record_slack(
        counterexample.check_ll_neg(
            "S5", True, counterexample.s5_first_rise(z, W0, 1e-4, 30) is not None
        )
    )
    record_observation(
        "not_s5", "LL-NEG", {"eta": eta, "first_step": t, "lsum_rose": float(what == "Lsum")}
    )


@st.composite
def small_step_runs(draw):
    drawn = draw(strategies.datasets(n=(2, 4), d=(2, 2), min_margin=0.05))
    z, u = drawn.data.z, drawn.witness
    v = np.array([draw(st.floats(-1.0, 1.0)), draw(st.floats(-1.0, 1.0))])
    W0 = [(u * draw(st.floats(1.0, 6.0)) + 0.5 * v)[None, :]]
    return z, W0


def test_gbar_can_fall_after_t0_while_gtil_rises(record_slack, record_observation):
    """LL-NEG: past t0 the normalised margin itself can fall on a step on which
    the smoothed margin rises (depth 1, exponential loss, step 0.1 on the sum)."""
    z, W0 = find(
        small_step_runs(),
        lambda zw: counterexample.gbar_falls_while_gtil_rises(zw[0], zw[1], 0.1, 200) is not None,
        settings=WITNESS_SEARCH,
    )
    t = counterexample.gbar_falls_while_gtil_rises(z, W0, 0.1, 200)
    # "restored": one point (the first), where gbar = gtil: the predicate must say no
    record_slack(
        counterexample.check_ll_neg(
            "smoothing",
            t is not None,
            counterexample.gbar_falls_while_gtil_rises(z[:1], W0, 0.1, 200) is not None,
        )
    )
    record_observation("gbar_falls_after_t0", "LL-NEG", {"n": z.shape[0], "step": t})


def test_err3_printed_level_is_an_erratum(record_erratum, record_slack):
    """LL-ERR (item 3): the witness of the erratum, on the hat (n = 3, p = 2, r = 0.5 on
    ``psi = 0``) scaled so that ``Lsum = e^{-1/2}``: the rate ``d log rho/dt`` exceeds the
    printed level (negative), and the derived rate bound holds."""
    problem = counterexample.HatProblem(0.5, 3, 2, 3, 3.0, 30.0)
    rho = np.sqrt((np.log(3.0) + 0.5) / (1.0 - mh.hat(0.5, problem.a0, 3)))
    model = mh.hat_margin_model(rho * mh.sphere_point(problem.a0, problem.a0), 3, 2, 3)
    slack = counterexample.check_ll_err_3(model, EXPONENTIAL)
    record_slack(slack)
    lhs, printed, derived = counterexample.err3_sides(model, EXPONENTIAL)
    assert lhs > printed
    record_erratum(
        "LL-ERR",
        printed="Sec. 5 proof sketch: d log rho/dt <= (1/L) log log(1/Lsum)",
        derived="d log rho/dt <= (1/L) d/dt log log(1/Lsum) (the smoothed margin's monotonicity)",
        witness={
            "Lsum": float(np.exp(-0.5)),
            "d log rho/dt / Lsum": lhs,
            "printed level / Lsum": printed,
            "derived rate / Lsum": derived,
        },
    )


@given(
    a=st.floats(1.05, 8.0),
    psi=st.floats(-np.pi, np.pi),
    k=st.sampled_from(mh.EXPONENTS),
    p=st.integers(1, 3),
)
def test_theorem_i1_reduced_field_is_the_tangential_gradient(a, psi, k, p, record_slack):
    """LL-TI.1: the reduced dynamics (the planar gradient with its radial part times
    ``1 - r^2``) is the tangential part of ``grad h``, divided by ``e^{-a}``."""
    record_slack(counterexample.check_ll_ti_1_reduction(a, psi, k, p))
