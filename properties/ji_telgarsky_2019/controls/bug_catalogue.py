"""A catalogue of planted bugs, and the probes that must catch each one (issue 6).

A property suite is worth the bugs it catches.  Each :class:`Bug` is a
realistic mistake in one part of the library -- the losses, the data and max
margin, the network gradients, the flow integrator, the GD step rule, the
bound formulas -- planted by monkeypatching (nothing in the library knows about
it).  Each :class:`Probe` runs the *same* check functions the property suite
runs, on a small fixed problem, and raises :class:`AssertionError` (or one of
the library's own guard or certificate errors) when something is wrong.

``properties/ji_telgarsky_2019/controls/test_bug_catalogue.py`` plants every bug in turn and
asserts that
at least one probe fails; a bug no probe catches is a failing meta-test.  The
report lists the catalogue with the probes that caught each bug.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from invariants.core import bounds, limits, maxmargin
from invariants.core import lemma4 as l4
from invariants.core import network as net
from invariants.core import theta as th
from invariants.core.data import as_rows, make_dataset
from invariants.core.losses import EXPONENTIAL, LOGISTIC, Loss
from invariants.core.rounding import EPS
from invariants.dynamics import flow, gd
from invariants.errors import CertificateError, InvariantsError
from properties.helpers import assert_valid, check_layer_gradients_fd
from properties.ji_telgarsky_2019 import problems
from properties.ji_telgarsky_2019.claims import (
    lemma3_4,
    run_checks,
    section2_flow,
    section2_limits,
    section3_gd,
)
from properties.ji_telgarsky_2019.claims.section3_smoothness import check_s_l5
from properties.ji_telgarsky_2019.controls import planted

#: What counts as "caught": a failed assertion of a property, or the library's
#: own guards and certificates refusing the result (each names its statement).
CAUGHT = (AssertionError, InvariantsError)


# --- probes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One group of property checks on a small fixed problem (cheapest first)."""

    name: str
    statements: tuple[str, ...]
    run: Callable[[], None]


def probe_losses() -> None:
    """Loss forms against closed forms at exact points, and d1 against a central difference."""
    for loss in (EXPONENTIAL, LOGISTIC):
        for m in (-3.0, -0.5, 0.0, 0.7, 4.0, 40.0):
            if loss.name == "exponential":
                want = {"value": math.exp(-m), "d1": -math.exp(-m), "log_neg_d1": -m}
            else:
                want = {
                    "value": math.log1p(math.exp(-m)),
                    "d1": -1.0 / (1.0 + math.exp(m)),
                    "log_neg_d1": -math.log1p(math.exp(m)),
                }
            for form, v in want.items():
                got = float(getattr(loss, form)(m))
                assert math.isclose(got, v, rel_tol=1e-13, abs_tol=1e-300), (
                    f"{loss.name}.{form}({m}) = {got!r}, closed form {v!r}"
                )
            # log_neg_d1 must be log(-d1): both forms are checked against each other too
            assert math.isclose(
                math.exp(float(loss.log_neg_d1(m))), -float(loss.d1(m)), rel_tol=1e-12
            ), f"{loss.name}: exp(log_neg_d1) != -d1 at {m}"


def probe_gradients() -> None:
    """Layer gradients against central differences of log R (the network tests' check)."""

    data = problems.small_data(seed=2)
    for loss in (EXPONENTIAL, LOGISTIC):
        W = problems.a2_equal_frobenius_init(data.z, [3, 3], seed=5, norm=1.3)
        W[1] = W[1] + 0.3 * np.eye(3)  # a square, non-symmetric middle layer
        check_layer_gradients_fd(net.layer_gradients, tuple(W), data.z, loss)


def probe_max_margin() -> None:
    """The max-margin answer against an independent KKT certificate and a support-set re-solve."""

    data = problems.small_data(seed=4, n=15, d=3)
    mm = maxmargin.max_margin(data)
    assert_valid(mm, data.z)


def probe_theta() -> None:
    """S-L3 on data with a known closed-form theta (A3 by construction)."""
    z, ubar, gamma, want = _a3_triangle()
    mm = maxmargin.max_margin(z)
    assert abs(mm.gamma - gamma) <= 1e-12 and np.linalg.norm(mm.ubar - ubar) <= 1e-12
    t = th.theta(z, mm)
    lemma3_4.check_s_l3(z, mm, t)
    assert abs(t.value - want) <= 1e-12, f"S-L3: theta = {t.value!r}, closed form {want!r}"


def _a3_triangle():
    """2-D data with known ubar = e_2, gamma = 0.3 and theta = 0.25.

    Support vectors (0.5, 0.3) and (-0.25, 0.3): gamma ubar = (1/3) z_1 + (2/3) z_2
    is in their hull, and every other margin exceeds 0.3, so (KKT) ubar and
    gamma are the max margin.  On ubar-perp the support vectors sit at 0.5 and
    -0.25, so theta = min(0.5, 0.25).  The point (-0.6, 0.7) lies beyond the
    support on the short side: theta over *all* points would be 0.5.
    """
    ubar = np.array([0.0, 1.0])
    z = np.array([[0.5, 0.3], [-0.25, 0.3], [0.1, 0.8], [-0.6, 0.7]])
    return z, ubar, 0.3, 0.25


def probe_lemma4() -> None:
    """S-L4: no failure of the sign condition beyond K (targeted search), both losses."""
    z, _ubar, _gamma, _ = _a3_triangle()
    mm = maxmargin.max_margin(z)
    t = th.theta(z, mm)
    for loss in (EXPONENTIAL, LOGISTIC):
        K = l4.lemma4_threshold(loss, z.shape[0], t.value)
        search = l4.l4_empirical_threshold(z, mm, t, loss)
        lemma3_4.check_s_l4_search(search, z, mm, loss, K)


def probe_sine() -> None:
    """``sin angle(w, ubar)`` keeps its relative accuracy at ||w|| = 1e10 (S-T2)."""
    u = np.array([0.6, 0.8])
    v = np.array([-0.8, 0.6])
    for a in (1e2, 1e6, 1e10):
        w = a * u + v
        got = maxmargin.sin_angle(w, u)
        want = 1.0 / math.hypot(a, 1.0)
        # w's entries are rounded to eps ||w||, so its perpendicular part (size 1)
        # is known to 2 eps a relatively; the sine inherits that, plus a few eps.
        tol = (4 * a + 8) * EPS
        assert abs(got - want) <= tol * want, f"sin angle at ||w|| = {a:g}: {got!r} vs {want!r}"


def probe_flow() -> None:
    """Section 2 along one guarded flow: S-EQ1, S-EQ2, S-EQ3, S-L2a, S-L2b, S-C1."""
    data = problems.small_data()
    W0 = problems.a2_equal_frobenius_init(data.z, [3, 3])
    # As in probe_limits: few steps per interval, no escalation (fast refusal).
    tr = flow.gradient_flow(
        data.z, W0, LOGISTIC, max_frobenius=30.0, max_steps=2000, max_rtol=1e-10
    )

    checks = {k: v for k, v in section2_flow.CHECKS.items() if k != "S-L2c"}  # S-L2c needs F >= 100
    run_checks(checks, tr)


def probe_gd() -> None:
    """Section 3 along one A5 GD run: every check of ``test_section3_gd`` (S-EQ4 ... S-T3)."""
    data = problems.small_data(seed=3)
    W0 = problems.a2_equal_frobenius_init(data.z, [3], seed=4, norm=1.0)
    tr = gd.gradient_descent(data.z, W0, LOGISTIC, 150)

    section3_gd.check_all(tr)  # the Section 3 property's own checks, A5 bookkeeping first


def probe_smoothness() -> None:
    """S-L5 at its known worst cases and at a misclassified point (Lemma 5's beta(R))."""

    for z, R, W, V in problems.l5_worst_cases():
        check_s_l5(z, W, V, LOGISTIC, R)
    # The constructed worst case of test_section3_smoothness.scalar_chains at L = 6, R = 4:
    # z = e_1, W_1 = (0, R) at margin 0, W_2..W_L = R, V moves W_1 by 1e-4 R along z.
    z = make_dataset(np.array([[1.0, 0.0]]), np.array([1.0])).z
    R = 4.0 * (1 - 1e-12)
    W = (np.array([[0.0, R]]), *(np.array([[R]]) for _ in range(5)))
    V0 = W[0] + np.array([[1e-4 * R, 0.0]])
    V = (V0 * (R / np.linalg.norm(V0)), *W[1:])
    check_s_l5(z, W, V, LOGISTIC, 4.0)


def probe_clocks() -> None:
    """S-INV: two clocks, one path, one physical time."""
    data = problems.small_data()
    W0 = problems.a2_equal_frobenius_init(data.z, [3, 3])
    section2_flow.check_s_inv(data.z, W0, LOGISTIC, max_frobenius=10.0)


def probe_limits() -> None:
    """S-T1, S-T2, S-FIG1a on the Fig. 1 data: depth 1 and depth 2 flows to ||w_prod|| = 1e12."""
    data = section2_limits.figure1_data()
    mm = maxmargin.max_margin(data)
    rng = np.random.default_rng(3)
    deep0 = [0.5 * rng.normal(size=s) for s in [(2, 2), (1, 2)]]
    if not net.satisfies_a2(tuple(deep0), data.z, LOGISTIC):
        deep0[-1] = -deep0[-1]
    # Few steps per checkpoint interval and no tolerance escalation: an honest
    # run needs a handful of steps per interval; a broken field is refused fast.
    kw = dict(
        max_frobenius=np.inf, max_wprod=1e10, ds=section2_limits.DS, max_steps=5000, max_rtol=1e-10
    )
    shallow = flow.gradient_flow(data.z, [np.zeros((1, 2))], LOGISTIC, **kw)
    deep = flow.gradient_flow(data.z, deep0, LOGISTIC, **kw)
    for tr in (shallow, deep):
        section2_limits.check_s_t1(tr)
        section2_limits.check_s_t2(tr, mm)
    section2_limits.check_s_fig1a(shallow, deep, mm.ubar)


PROBES: tuple[Probe, ...] = (
    Probe("losses vs closed forms", ("S-EQ1",), probe_losses),
    Probe("sine accuracy", ("S-T2",), probe_sine),
    Probe("max-margin certificate", ("S-T2", "S-L3"), probe_max_margin),
    Probe("theta closed form", ("S-L3",), probe_theta),
    Probe("gradients vs finite differences", ("S-EQ1",), probe_gradients),
    Probe("S-L5 worst cases", ("S-L5",), probe_smoothness),
    Probe("GD statements (Section 3)", ("S-EQ4", "S-EQ27", "S-EQ29", "S-L8a"), probe_gd),
    Probe("flow statements (Section 2)", ("S-EQ1", "S-EQ2", "S-L2a", "S-L2b"), probe_flow),
    Probe("S-L4 targeted search", ("S-L4",), probe_lemma4),
    Probe("S-INV clocks", ("S-INV",), probe_clocks),
    Probe("limits (S-T1, S-T2, S-FIG1a)", ("S-T1", "S-T2", "S-FIG1a"), probe_limits),
)


# --- the bugs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bug:
    """One planted bug: where it lives, what it does, and how to plant it."""

    name: str
    area: str
    description: str
    plant: Callable[[pytest.MonkeyPatch], None]


def _patch_gradients(mp: pytest.MonkeyPatch, edit: Callable) -> None:
    """Edit the layer gradients by ``edit(weights, layers, log_scale)``.

    Planted in ``net.layer_gradients_into``, the one implementation behind
    ``net.layer_gradients`` and gradient descent's steps.
    """
    real = net.layer_gradients_into

    def buggy(weights, z, loss, out):
        log_scale, g, _ = real(weights, z, loss, out)
        layers = edit(weights, [np.array(G) for G in out], log_scale)
        for G, bad in zip(out, layers, strict=True):
            G[...] = bad
        sq = sum(float(np.vdot(G, G)) for G in out)
        log_norm = log_scale + 0.5 * np.log(sq) if sq > 0 else -np.inf
        return log_scale, g, float(log_norm)

    mp.setattr(net, "layer_gradients_into", buggy)


def plant_layer_doubled(mp):
    def edit(W, layers, log_scale):
        layers[0] = 2.0 * layers[0]
        return layers

    _patch_gradients(mp, edit)


def plant_layer_transposed(mp):
    def edit(W, layers, log_scale):
        for k, G in enumerate(layers):
            if G.shape[0] == G.shape[1] and G.shape[0] > 1:
                layers[k] = G.T.copy()
        return layers

    _patch_gradients(mp, edit)


def plant_last_layer_skipped(mp):
    def edit(W, layers, log_scale):
        layers[-1] = np.zeros_like(layers[-1])
        return layers

    _patch_gradients(mp, edit)


def plant_weight_decay(mp):
    def edit(W, layers, log_scale):
        k = math.exp(min(-log_scale, 700.0))
        return [G + 1e-2 * k * M for G, M in zip(layers, W, strict=True)]

    _patch_gradients(mp, edit)


def plant_drop_one_over_n(mp):
    """``grad R`` computed as a sum, not a mean: the 1/n dropped (risk value untouched)."""
    real = net.scaled_gradient_vec

    def buggy(w, z, loss):
        log_scale, g = real(w, z, loss)
        return log_scale + math.log(z.shape[0]), g

    mp.setattr(net, "scaled_gradient_vec", buggy)  # layer_gradients looks it up here


def _patch_loss_form(mp, loss: Loss, form: str, fn: Callable) -> None:
    """Replace ``loss.<form>_fn`` on the (frozen) singleton, undone by ``mp``.

    Written through the instance ``__dict__``: a frozen dataclass refuses
    ``setattr``, and every user of the loss reads the field from there.
    """
    mp.setitem(loss.__dict__, f"{form}_fn", fn)


def plant_logistic_sign(mp):
    """logistic ``log|loss'(m)|`` evaluated at ``-m`` (the wrong sign argument)."""
    from invariants.core.losses import logistic_log_neg_d1

    _patch_loss_form(mp, LOGISTIC, "log_neg_d1", lambda m: logistic_log_neg_d1(-m))


def plant_exp_derivative_doubled(mp):
    """exponential ``log|loss'|`` off by log 2 (``loss' = -2 exp(-m)``)."""
    _patch_loss_form(mp, EXPONENTIAL, "log_neg_d1", lambda m: -m + math.log(2.0))


def plant_eq8_late(mp):
    real = bounds.eq8_bounds

    def buggy(initial):
        b = real(initial)
        a = np.array([np.linalg.norm(A, 2) for A in bounds.balance_matrices(initial)])
        return b - np.concatenate([a, [0.0]]) if a.size else b

    mp.setattr(bounds, "eq8_bounds", buggy)


def plant_d_without_a(mp):
    real_d = bounds.D

    def buggy(initial):
        f = bounds.frobenius_sq(initial)
        return float(np.max(f) - f[-1])

    assert real_d is not buggy
    mp.setattr(bounds, "D", buggy)


def plant_alignment_off_by_one(mp):
    mp.setattr(bounds, "alignment", planted.off_by_one_alignment)


def plant_beta_exponent(mp):
    real = gd.beta_of_radius

    def buggy(radius, depth, loss):
        real(radius, depth, loss)  # keeps the honest argument checks
        return 2 * depth**2 * radius ** (depth - 1) * (loss.beta + loss.G)

    mp.setattr(gd, "beta_of_radius", buggy)


def plant_a5_never_grows(mp):
    mp.setattr(gd, "in_ball", lambda weights, radius: True)


def plant_pq_with_eta(mp):
    """The eq. 28 accumulators summed with eta instead of eta^2."""
    real = gd.gradient_descent

    def buggy(*args, **kw):
        tr = real(*args, **kw)
        P, Q = [tr.P[0]], [tr.Q[0]]
        for t in range(tr.steps):
            scale = 1.0 / tr.eta[t]  # turns eta^2 G G^T into eta G G^T
            P.append(
                tuple(
                    p + (pn - po) * scale
                    for p, pn, po in zip(P[-1], tr.P[t + 1], tr.P[t], strict=True)
                )
            )
            Q.append(
                tuple(
                    q + (qn - qo) * scale
                    for q, qn, qo in zip(Q[-1], tr.Q[t + 1], tr.Q[t], strict=True)
                )
            )
        return dataclasses.replace(tr, P=tuple(P), Q=tuple(Q))

    mp.setattr(gd, "gradient_descent", buggy)


def plant_non_optimal_separator(mp):
    """max_margin returns a separating direction rotated off the optimum (consistent gamma)."""
    real = maxmargin.max_margin

    def buggy(data, *, tol=1e-12):
        mm = real(data, tol=tol)
        z = maxmargin._as_z(data)
        d = z.shape[1]
        if d < 2:
            return mm
        v = np.zeros(d)
        v[np.argmin(np.abs(mm.ubar))] = 1.0
        v = maxmargin.perp(v, mm.ubar)
        u = mm.ubar + 0.02 * v / np.linalg.norm(v)
        u /= np.linalg.norm(u)
        margins = z @ u
        return dataclasses.replace(mm, ubar=u, gamma=float(np.min(margins)), margins=margins)

    mp.setattr(maxmargin, "max_margin", buggy)


def plant_theta_all_points(mp):
    real = th.theta

    def buggy(data_or_z, mm=None):
        z = as_rows(data_or_z)
        mm = mm if mm is not None else maxmargin.max_margin(z)
        everyone = dataclasses.replace(mm, support=np.arange(z.shape[0]))
        return real(z, everyone)

    mp.setattr(th, "theta", buggy)


def plant_k_times_theta(mp):
    def buggy(loss, n, theta_value):
        name = loss if isinstance(loss, str) else loss.name
        c = (1 + math.log(n)) if name == "exponential" else 2 * n / math.e
        return c * theta_value

    mp.setattr(l4, "lemma4_threshold", buggy)


def plant_clock_time_doubled(mp):
    """Physical time of the risk clock accumulated twice too fast."""
    real = flow._Guard.step

    def buggy(self, *args, **kwargs):
        real(self, *args, **kwargs)
        if self.clock == "risk":
            self.log["log_dtds"][-1] += math.log(2.0)  # dt/ds doubled from the first step on

    mp.setattr(flow._Guard, "step", buggy)


def plant_sine_from_cosine(mp):
    """``sin`` computed as ``sqrt(1 - cos^2)``.

    Never do this: docs/numerics.md, "Measuring directions".
    """

    def buggy(w, ubar):
        w = np.asarray(w, dtype=float)
        u = np.asarray(ubar, dtype=float) / np.linalg.norm(ubar)
        c = (w @ u) / np.linalg.norm(w, axis=-1)
        s = np.sqrt(np.maximum(0.0, 1.0 - c * c))
        return float(s) if w.ndim == 1 else s

    mp.setattr(maxmargin, "sin_angle", buggy)
    mp.setattr(limits, "sin_angle", buggy)


BUGS: tuple[Bug, ...] = (
    Bug(
        "layer gradient doubled", "network", "dR/dW_1 returned twice too large", plant_layer_doubled
    ),
    Bug(
        "layer gradient transposed",
        "network",
        "square layers' gradients transposed",
        plant_layer_transposed,
    ),
    Bug(
        "1/n dropped", "network", "grad R as a sum over points, R as a mean", plant_drop_one_over_n
    ),
    Bug("logistic loss' at -m", "losses", "log|loss'(m)| evaluated at -m", plant_logistic_sign),
    Bug(
        "exp loss' doubled",
        "losses",
        "exponential loss' = -2 exp(-m)",
        plant_exp_derivative_doubled,
    ),
    Bug("eq. 8 one layer late", "bounds", "the sum of ||A_j|| starts at j = k + 1", plant_eq8_late),
    Bug(
        "D without A terms", "bounds", "D = max ||W_k(0)||^2 - ||W_L(0)||^2 only", plant_d_without_a
    ),
    Bug(
        "alignment off by one",
        "bounds",
        "<v_k, u_k> instead of <v_{k+1}, u_k>",
        plant_alignment_off_by_one,
    ),
    Bug("beta(R) exponent L-1", "GD step rule", "R^(L-1) instead of R^(2L-2)", plant_beta_exponent),
    Bug(
        "A5 never grows R",
        "GD step rule",
        "the line search accepts every step",
        plant_a5_never_grows,
    ),
    Bug(
        "P/Q with eta",
        "GD step rule",
        "eq. 28 accumulators summed with eta, not eta^2",
        plant_pq_with_eta,
    ),
    Bug("last layer skipped", "flow integrator", "W_L never updated", plant_last_layer_skipped),
    Bug("weight decay left on", "flow integrator", "gradient + 0.01 W_k", plant_weight_decay),
    Bug(
        "clock time doubled",
        "flow integrator",
        "risk clock's physical time 2x",
        plant_clock_time_doubled,
    ),
    Bug(
        "non-optimal separator",
        "max margin",
        "ubar rotated by 0.02 rad, still separating",
        plant_non_optimal_separator,
    ),
    Bug(
        "theta over all points",
        "max margin",
        "theta's hull over every point, not S",
        plant_theta_all_points,
    ),
    Bug("K times theta", "bounds", "K = (1 + ln n) theta instead of / theta", plant_k_times_theta),
    Bug("sine from cosine", "measurement", "sin = sqrt(1 - cos^2)", plant_sine_from_cosine),
)


def caught_by(bug: Bug, probes=PROBES, first_only: bool = False) -> list[tuple[str, str]]:
    """Plant ``bug``, run the probes; return ``(probe, error)`` for each probe that failed."""
    out = []
    with pytest.MonkeyPatch.context() as mp:
        bug.plant(mp)
        for probe in probes:
            try:
                probe.run()
            except CAUGHT as exc:
                out.append((probe.name, f"{type(exc).__name__}: {str(exc)[:200]}"))
                if first_only:
                    break
    return out


__all__ = ["BUGS", "CAUGHT", "PROBES", "Bug", "CertificateError", "Probe", "caught_by"]
