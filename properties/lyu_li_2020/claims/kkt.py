"""The max-margin problem (P) and its KKT points: LL-P, LL-LC.8, LL-T4.4, LL-C4.5, LL-DL1,
LL-DL2.

The math is :mod:`invariants.core.kkt` (rescaling, residuals, the proof's and the optimal
multipliers, the closed-form deep-linear KKT point, the tangent-kernel SVM) on top of
:mod:`invariants.core.homogeneous`.  Here each statement is a ``check_<id>`` returning a
:class:`~invariants.statements.Slack`, its tolerance derived beside it.

Rounding notation: ``EPS`` the unit roundoff of float64 (2^-52 here, an upper bound on the
relative error of one correctly rounded operation; ``pow`` is charged 2 EPS), ``gamma(m) =
m EPS / (1 - m EPS)`` the bound on ``m`` accumulated roundings (Higham, Lemma 3.1), ``D`` the
number of parameters, ``n`` the number of examples.

Along a run, ``t0`` is the first saved state with ``Lsum = n R < loss(0)`` (the threshold of
A4/B4); only states from ``t0`` on are checked (:func:`states_from_t0`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from invariants.core import homogeneous as hom
from invariants.core import kkt
from invariants.core import network as net
from invariants.core.losses import Loss
from invariants.core.maxmargin import MaxMargin, sin_angle
from invariants.core.rounding import EPS, gamma
from invariants.core.theta import rank_tolerance
from invariants.statements import Slack, worst_ratio
from properties.helpers import collect

# --- states -----------------------------------------------------------------------------------


def linear_model(weights: Sequence[np.ndarray], z: np.ndarray) -> hom.MarginModel:
    """The depth-p linear network at ``weights`` as a :class:`MarginModel` (LL-EQ1)."""
    return hom.linear_network_margins(weights, z)


def states_from_t0(trajectory) -> list[net.Weights]:
    """The saved weights from ``t0`` on: ``log Lsum = log n + log R < log loss(0)`` (LL-T4.4).

    ``loss(0)`` is 1 (exponential) or ``log 2`` (logistic); its log is ``loss.log_value(0)``.
    """
    n = trajectory.z.shape[0]
    threshold = float(trajectory.loss.log_value(np.zeros(1))[0])
    return [cp.weights for cp in trajectory.checkpoints if np.log(n) + cp.log_risk < threshold]


# --- LL-P -------------------------------------------------------------------------------------


def ll_p_tolerance(D: int) -> float:
    """Relative allowance of ``(1/2)||theta~||^2 = (1/2) gbar^{-2/p}`` (LL-P (a)).

    Left side: ``c = q_min^{1/p}`` (2 EPS), ``theta_j / c`` (1 EPS) so each entry of theta~
    carries 3 EPS, its square 6 EPS, the D-term sum ``gamma(D)``: ``gamma(D) + 6 EPS``.
    Right side: ``rho = sqrt(sum theta_j^2)``: ``gamma(D)/2 + EPS``; ``rho^p``: p times that
    plus 2 EPS; ``gbar = q_min / rho^p``: 1 EPS more; ``gbar^{-2/p}``: ``2/p`` times that plus
    2 EPS, so ``gamma(D) + 2 EPS + 6 EPS / p + 2 EPS <= gamma(D) + 10 EPS``.  Both sides:
    ``2 gamma(D) + 16 EPS <= 2 gamma(D + 2) + 16 EPS``.
    """
    return 2.0 * gamma(D + 2) + 16.0 * EPS


def check_ll_p(model: hom.MarginModel) -> Slack:
    """LL-P (a): ``theta~ = theta / q_min^{1/p}`` is feasible with ``min q_i(theta~) = 1``, and
    ``(1/2)||theta~||^2 = (1/2) gbar^{-2/p}`` to rounding (:func:`ll_p_tolerance`).

    Feasibility is read from the rescaled margins ``q / q_min`` (homogeneity), whose minimum
    is 1 to one division.  Exercised whenever ``q_min > 0``: both sides are computed
    independently (the norm of the rescaled vector against the normalised margin).
    """
    q_min = float(np.min(model.q))
    assert q_min > 0.0, f"LL-P: theta~ needs q_min > 0, got {q_min:.3e}"
    tilde = kkt.rescaled(model)
    lhs = 0.5 * float(tilde.theta @ tilde.theta)
    gbar = hom.normalized_margin(model.q, model.rho, model.order)
    rhs = 0.5 * gbar ** (-2.0 / model.order)
    tol = ll_p_tolerance(model.theta.size)
    rel = abs(lhs - rhs) / rhs
    assert rel <= tol, (
        f"LL-P: (1/2)||theta~||^2 = {lhs:.17g} but (1/2) gbar^(-2/p) = {rhs:.17g} "
        f"(p = {model.order}): relative gap {rel:.3e} > {tol:.3e}"
    )
    feasible = float(np.min(tilde.q))
    assert abs(feasible - 1.0) <= 2.0 * EPS, f"LL-P: min q_i(theta~) = {feasible!r}, not 1"
    return Slack(
        "LL-P",
        rel / tol,
        f"half norm^2 {lhs:.6g}",
        exercised=True,
        measures={"half_norm_sq": lhs, "gbar": gbar},
    )


# --- LL-LC.8 ----------------------------------------------------------------------------------


def lc8_tolerance(n: int, D: int, kappa: float) -> float:
    """Absolute allowance of the eps identity, in units of ``||theta~||`` (LL-LC.8).

    The identity ``theta~ - J~^T lam = q_min^{-1/p} (theta - rho v / ||v||)`` holds for any
    weights ``w`` behind ``v = J^T w``, so the rounding of ``w`` cancels; what remains:

    * left side: theta~ entries (3 EPS each: ``<= 3 EPS ||theta~||``); the products
      ``J~^T lam`` recompute ``J^T w`` scaled (n-term sums: ``gamma(n)``, the scalings 9 EPS,
      ``||v||`` ``gamma(D)``), each error at most ``|J~|^T lam``, of norm ``kappa ||theta~||``;
      the computed ``v`` used by the right side differs from the exact one by another
      ``gamma(n) kappa``: ``(2 gamma(n) + gamma(D) + 9 EPS) kappa ||theta~||``; the final
      subtraction and norm ``EPS (1 + kappa) ||theta~|| + gamma(D) * lhs`` with ``lhs <= 2
      ||theta~||``;
    * right side ``||theta~|| ||u_hat|| sqrt(2 / (1 + beta))``: ``||theta~||`` ``gamma(D) + 4
      EPS``, ``u = v - <theta_hat, v> theta_hat`` ``gamma(D + 3) ||v||`` twice (the
      projection and theta_hat), the square root's factor ``<= sqrt 2``.

    Summing: ``(2 gamma(n) + gamma(D) + 9 EPS) kappa + (6.3 D + 30) EPS``, which is at most
    ``gamma(2 n + 4 D + 32) (2 + kappa)``.
    """
    return gamma(2 * n + 4 * D + 32) * (2.0 + kappa)


def check_ll_lc_8(model: hom.MarginModel, loss: Loss) -> Slack:
    """LL-LC.8 at one state past t0: with the proof's multipliers ``lam`` and ``h_i = grad
    q_i(theta~)``,

    * ``||theta~ - sum lam_i h_i|| = gbar^{-1/p} sqrt(2 (1 - beta))`` to rounding
      (:func:`lc8_tolerance`); the right side is formed from the tangential velocity;
    * per constraint ``lam_i (q_i(theta~) - 1) <= gbar^{-2/p} c / (e p q_min)`` (``c = 1``
      exponential, ``1 + e^{-q_min}`` logistic: :func:`invariants.core.kkt.delta_bound`), and
      the sum at most n times that;
    * ``eps* <= eps`` for the NNLS optimum ``eps*`` (the proof's ``lam`` are feasible for it).

    Exercised when the right side of the identity exceeds its allowance (otherwise both
    sides are rounding noise and the identity could not fail).
    """
    n, D = model.jacobian.shape
    tilde = kkt.rescaled(model)
    pm = kkt.proof_multipliers(model, loss)
    scale = tilde.rho
    lhs = kkt.stationarity_residual(tilde, pm.lam)
    rhs = kkt.eps_identity(model, pm.beta, pm.tangential)
    tol = lc8_tolerance(n, D, pm.kappa) * scale
    eps_ratio = abs(lhs - rhs) / tol
    assert eps_ratio <= 1.0, (
        f"LL-LC.8: ||theta~ - sum lam h|| = {lhs:.17g} but gbar^(-1/p) sqrt(2(1-beta)) = "
        f"{rhs:.17g}: gap {abs(lhs - rhs):.3e} > allowance {tol:.3e} (beta = {pm.beta!r})"
    )
    per, summed = kkt.complementarity(tilde, pm.lam)
    bound = kkt.delta_bound(model, loss)
    # Rounding of the left side: lam (gamma(n + 2D + 16)(1 + kappa), as above, plus the
    # weights' exponent error 2 EPS |q| <= 4 EPS q_max relative), q_i/q_min - 1 (2 EPS q~_i
    # absolute); of the bound gamma(D) + 10 EPS, inside the same gamma.
    q_max = float(np.max(model.q))
    rel = gamma(n + 2 * D + 24) * (1.0 + pm.kappa) + 4.0 * EPS * q_max
    slop = 2.0 * EPS * float(np.max(pm.lam * tilde.q))
    allowed = bound * (1.0 + rel) + slop
    assert per <= allowed, (
        f"LL-LC.8: max_i lam_i (q_i(theta~) - 1) = {per:.6e} > gbar^(-2/p)/(e p q_min) bound "
        f"{bound:.6e} (allowed {allowed:.6e}; q_min = {np.min(model.q):.6g}, loss {loss.name})"
    )
    assert summed <= n * allowed, (
        f"LL-LC.8: sum_i lam_i (q_i(theta~) - 1) = {summed:.6e} > n x bound {n * allowed:.6e}"
    )
    opt = kkt.optimal_multipliers(tilde)
    # The NNLS residual is one more evaluation of ||theta~ - J~^T lam*||: its rounding is
    # gamma(n + D + 4) (||theta~|| + || |J~|^T lam* ||).
    nnls_slop = gamma(n + D + 4) * (scale + float(np.linalg.norm(opt.lam @ np.abs(tilde.jacobian))))
    assert opt.upper <= lhs + tol + nnls_slop, (
        f"LL-LC.8: eps* = {opt.upper:.6e} (NNLS) > eps = {lhs:.6e} + {tol + nnls_slop:.3e}: the "
        "proof's multipliers are feasible for the NNLS, so eps* <= eps"
    )
    return Slack(
        "LL-LC.8",
        worst_ratio(eps_ratio, per / allowed),
        f"eps {lhs:.3e} vs identity {rhs:.3e}; delta {per:.3e} <= {bound:.3e}",
        exercised=rhs > tol,
        measures={
            "eps_rel": lhs / scale,
            "eps_star_rel": opt.upper / scale,
            "nnls_gap_rel": opt.gap / scale,
            "delta": per,
            "delta_sum": summed,
            "delta_bound": bound,
            "beta": pm.beta,
        },
    )


# --- the trace along a run (LL-T4.4, LL-DL2, LL-C4.5) ----------------------------------------


@dataclass(frozen=True)
class KKTTrace:
    """Measures of each state from t0 on (LL-T4.4, LL-DL2), relative where a scale exists.

    ``eps``, ``eps_star``: the stationarity residuals of theta~ with the proof's and the NNLS
    multipliers, over ``||theta~||``; ``floor``: their rounding (:func:`lc8_tolerance`), in
    the same units; ``sin_prod``: ``sin angle(w_prod, ubar)``; ``gbar_gap``:
    ``1 - gbar / gbar*``; ``mh_gap``: ``1 - gbar_mh / gamma``; ``balance``:
    ``max_k |p ||W_k||_F^2 / rho^2 - 1|``; ``mult``: ``||lam - gamma^{-2/p} dual||_1 /
    gamma^{-2/p}``, the proof's multipliers against the closed form, and ``mult_floor`` its
    rounding: the multipliers' relative error (as in :func:`check_ll_lc_8`, dominated late by
    the weights' exponent error ``4 EPS q_max``) times ``1 + ||lam||_1 / gamma^{-2/p}``, plus
    ``gamma(n)`` for the sum; ``log_rho``.
    """

    log_rho: np.ndarray
    eps: np.ndarray
    eps_star: np.ndarray
    floor: np.ndarray
    sin_prod: np.ndarray
    gbar_gap: np.ndarray
    mh_gap: np.ndarray
    balance: np.ndarray
    mult: np.ndarray
    mult_floor: np.ndarray

    def __len__(self) -> int:
        return len(self.log_rho)


def kkt_trace(states: Sequence[net.Weights], z: np.ndarray, loss: Loss, mm: MaxMargin) -> KKTTrace:
    """Evaluate :class:`KKTTrace` at every state (LL-T4.4, LL-DL2); states need ``q_min > 0``."""
    rows: list[tuple[float, ...]] = []
    for weights in states:
        model = linear_model(weights, z)
        p = model.order
        n, D = model.jacobian.shape
        tilde = kkt.rescaled(model)
        pm = kkt.proof_multipliers(model, loss)
        scale = tilde.rho
        eps = kkt.stationarity_residual(tilde, pm.lam) / scale
        eps_star = kkt.optimal_multipliers(tilde).upper / scale
        wprod = net.end_to_end(tuple(weights))
        gbar = hom.normalized_margin(model.q, model.rho, p)
        frob = np.array([float(np.sum(W * W)) for W in weights])
        mh = float(np.min(model.q)) / float(np.prod(np.sqrt(frob)))
        closed = kkt.linear_kkt_multipliers(mm, p)
        rows.append(
            (
                np.log(model.rho),
                eps,
                eps_star,
                lc8_tolerance(n, D, pm.kappa),
                float(sin_angle(wprod, mm.ubar)),
                1.0 - gbar / kkt.optimal_linear_margin(mm.gamma, p),
                1.0 - mh / mm.gamma,
                float(np.max(np.abs(p * frob / model.rho**2 - 1.0))),
                float(np.sum(np.abs(pm.lam - closed))) / mm.gamma ** (-2.0 / p),
                (gamma(n + 2 * D + 24) * (1.0 + pm.kappa) + 4.0 * EPS * float(np.max(model.q)))
                * (1.0 + float(np.sum(pm.lam)) / mm.gamma ** (-2.0 / p))
                + gamma(n),
            )
        )
    cols = np.array(rows, dtype=np.float64).T if rows else np.zeros((10, 0))
    return KKTTrace(*cols)


def dual_is_unique(z: np.ndarray, mm: MaxMargin) -> bool:
    """Whether the SVM dual (so the KKT multipliers of LL-DL1 (d)) is unique (LL-DL2).

    The support vectors lie on the hyperplane ``<ubar, z> = gamma``, which misses the
    origin, so ``sum_S lam_i z_i = c ubar`` has one solution exactly when ``Z_S`` has full
    row rank; rank by the A3 test's threshold (:func:`invariants.core.theta.rank_tolerance`).
    """
    z_s = np.asarray(z, dtype=np.float64)[np.asarray(mm.support, dtype=np.intp)]
    sigma = np.linalg.svd(z_s, compute_uv=False)
    return bool(z_s.shape[0] <= z_s.shape[1] and sigma[-1] > rank_tolerance(z_s))


#: Rounding floor of the relative DL2 measures (sines, margin gaps, balance).  Each is one
#: chain of operations on order-one normalised quantities: a normalisation and a dot product
#: over at most D parameters, a minimum over n margins each a dot product of length d <= D,
#: and at most four further operations (a square root, a ratio, a subtraction from 1, a
#: product), so its relative rounding is at most ``gamma(D + n + 4)``; with the drawn sizes
#: D <= 60 and n <= 20 that is ``gamma(84)``, still far below every start value judged.
TREND_FLOOR = gamma(60 + 20 + 4)


def _falls(name: str, start: float, end: float, floor: float) -> tuple[bool, str | None]:
    """Whether a trend measure can be judged (start above its floor) and, if so, whether it
    fell by more than the floor; returns ``(judged, failure message or None)``."""
    if not start > 2.0 * floor:
        return False, None
    if end <= start - floor:
        return True, None
    return (
        True,
        f"{name} did not fall: {start:.6e} at t0 -> {end:.6e} at the end (floor {floor:.1e})",
    )


def check_ll_t4_4(trace: KKTTrace) -> Slack:
    """LL-T4.4 (a trend): the distance of theta~ from stationarity with the best
    non-negative multipliers (``eps*``, NNLS) falls from t0 to the end of the run by more
    than its rounding (:func:`lc8_tolerance`); with the proof's multipliers (``eps``) the
    decay is measured, not asserted.

    Why ``eps*`` and not ``eps``: the theorem says every limit direction is a KKT direction,
    so the best residual of the direction tends to 0 when the direction converges (deep
    linear networks, LL-DL2).  The proof's multipliers certify this only along times where
    ``beta -> 1`` (Lemmas C.8, C.12): ``eps = gbar^{-1/p} sqrt(2(1 - beta))`` may rise in a
    transient while the direction turns, and did on a drawn example (two nearly parallel
    points: ``eps`` rose from 1.0e-4 at t0 to 2.6e-3 and was back at 1.4e-4 at
    ``||w_prod|| = 1e4``, while ``eps*`` fell monotonically from 1.9e-5 to 2.0e-9).

    Exercised when the run has at least two states past t0, the norm grew, and ``eps*`` at
    t0 lies above twice its floor (so that a failure to fall is visible).
    """
    assert len(trace) >= 2, "LL-T4.4: fewer than two states past t0; the trend is undefined"
    floor = float(max(trace.floor[0], trace.floor[-1]))
    judged, msg = _falls("eps*", float(trace.eps_star[0]), float(trace.eps_star[-1]), floor)
    assert msg is None, f"LL-T4.4: {msg}"
    grew = float(trace.log_rho[-1] - trace.log_rho[0])
    return Slack(
        "LL-T4.4",
        None,
        f"eps {trace.eps[0]:.3e} -> {trace.eps[-1]:.3e}, eps* {trace.eps_star[0]:.3e} -> "
        f"{trace.eps_star[-1]:.3e}",
        exercised=judged and grew > 0.0,
        measures={
            "decay_ratio": float(trace.eps[-1] / trace.eps[0]),
            "eps_star_decay_ratio": float(trace.eps_star[-1] / max(trace.eps_star[0], 1e-300)),
            "eps_end": float(trace.eps[-1]),
            "log_rho_growth": grew,
        },
    )


def check_ll_dl2(trace: KKTTrace, *, unique_dual: bool) -> Slack:
    """LL-DL2 (a trend): from t0 to the end, ``sin angle(w_prod, ubar)``, ``1 - gbar/gbar*``,
    ``1 - gbar_mh/gamma`` and ``max_k |p ||W_k||^2/rho^2 - 1|`` fall by more than
    :data:`TREND_FLOOR`; so does the distance of the proof's multipliers to the closed form
    ``gamma^{-2/p} dual`` when the SVM dual is unique (``unique_dual``; otherwise the limit
    may be another dual solution and it is only measured).

    Each measure is judged only when its t0 value is above twice the floor (a balanced start
    has balance 0 already).  Exercised when the direction and the margin were both judged.
    """
    assert len(trace) >= 2, "LL-DL2: fewer than two states past t0; the trend is undefined"
    columns = {
        "sin(w_prod, ubar)": trace.sin_prod,
        "1 - gbar/gbar*": trace.gbar_gap,
        "1 - gbar_mh/gamma": trace.mh_gap,
        "balance": trace.balance,
    }
    if unique_dual:
        columns["multipliers - closed form"] = trace.mult
    floors = dict.fromkeys(columns, TREND_FLOOR)
    floors["multipliers - closed form"] = float(max(trace.mult_floor[0], trace.mult_floor[-1]))
    failures, judged = [], {}
    for name, col in columns.items():
        ok, msg = _falls(name, float(col[0]), float(col[-1]), floors[name])
        judged[name] = ok
        if msg:
            failures.append(msg)
    assert not failures, "LL-DL2: " + "; ".join(failures)
    return Slack(
        "LL-DL2",
        None,
        f"sin {trace.sin_prod[0]:.3e} -> {trace.sin_prod[-1]:.3e}, 1 - gbar/gbar* "
        f"{trace.gbar_gap[0]:.3e} -> {trace.gbar_gap[-1]:.3e}",
        exercised=judged["sin(w_prod, ubar)"] and judged["1 - gbar/gbar*"],
        measures={
            "decay_ratio": float(trace.sin_prod[-1] / trace.sin_prod[0]),
            "sin_end": float(trace.sin_prod[-1]),
            "gbar_gap_end": float(trace.gbar_gap[-1]),
            "mh_gap_end": float(trace.mh_gap[-1]),
            "balance_end": float(trace.balance[-1]),
            "mult_end": float(trace.mult[-1]),
        },
    )


# --- LL-DL1 -----------------------------------------------------------------------------------


def certificate_allowance(mm: MaxMargin, units: Sequence[np.ndarray], order: int) -> float:
    """Relative KKT residual that the max-margin solver's certified inaccuracy allows (LL-DL1).

    With ``m_i = <ubar, z_i>``, block k >= 2 of ``theta* - J^T lam`` is ``gamma^{-1/p}
    u_k u_{k-1}^T (1 - gamma^{-1} sum dual_i m_i)`` (times the products of ``||u_j||^2``), and
    ``|1 - gamma^{-1} sum dual_i m_i| <= |sum dual - 1| + sum_i dual_i |m_i - gamma| / gamma <=
    dual_feas + n cs``; block 1 is ``gamma^{-1/p} u_1 (ubar - Z^T dual / gamma)^T``, at most
    ``kkt_stationarity`` relatively.  ``q_min = m_min / gamma`` is within ``|gap| + infeas +
    kkt_stationarity + unit_norm`` of 1.  The hidden unit vectors enter through
    ``||u_j||^2``: at most p of them in any product, each within ``| ||u_j||^2 - 1 |``.
    The sum of all these bounds each of the DL1 residuals (relative to its scale).
    """
    c = mm.certificate
    units_dev = sum(abs(float(u @ u) - 1.0) for u in units) + 2.0 * c.unit_norm
    return (
        abs(c.duality_gap_rel)
        + c.primal_infeas
        + c.kkt_stationarity
        + len(mm.dual) * c.complementary_slackness
        + c.dual_feas
        + c.unit_norm
        + (order + 2) * units_dev
    )


def product_rounding(weights: Sequence[np.ndarray], z: np.ndarray) -> int:
    """The count m of roundings in one entry of the margins or the Jacobian rows (LL-DL1).

    Every entry is a product chain through the layers: at most ``sum_k d_k`` (the inner
    dimensions) plus ``p`` multiplications; ``|fl(AB) - AB| <= gamma(m) |A||B|`` chains, so the
    error of each entry is at most ``gamma(m)`` times the same entry of the network with
    ``|W_k|`` and ``|z|`` (:func:`invariants.core.homogeneous.linear_network_margins` on them).
    """
    return int(z.shape[1] + sum(W.shape[0] for W in weights) + len(weights) + 2)


def check_ll_dl1(z: np.ndarray, mm: MaxMargin, units: Sequence[np.ndarray]) -> Slack:
    """LL-DL1 at the constructed point ``W_k = gamma^{-1/p} u_k u_{k-1}^T`` with multipliers
    ``lam = gamma^{-2/p} dual``: stationarity ``theta* = sum lam_i grad q_i(theta*)``,
    complementarity ``lam_i (q_i - 1) = 0``, feasibility, balance ``W_k W_k^T = W_{k+1}^T
    W_{k+1}``, ``||W_k||_F^2 = gamma^{-2/p}`` and ``gbar(theta*) = gamma p^{-p/2}``.

    Allowance of each (relative to ``||theta*||``, ``Lambda = gamma^{-2/p}``, ``||W_k||_F^2``,
    ``gbar*``): :func:`certificate_allowance` plus the rounding ``gamma(m)`` of the products
    (:func:`product_rounding`) times the magnitude network's values over the scale, plus
    ``gamma(D + 4)`` for the norms and sums.  Always exercised: every residual is computed
    from the network's own margins and gradients, not from the construction's algebra.
    """
    weights = kkt.linear_kkt_point(mm, units)
    p = len(weights)
    model = linear_model(weights, z)
    n, D = model.jacobian.shape
    lam = kkt.linear_kkt_multipliers(mm, p)
    cert = certificate_allowance(mm, units, p)
    m = product_rounding(weights, z)
    absm = linear_model([np.abs(W) for W in weights], np.abs(z))
    Lam = mm.gamma ** (-2.0 / p)
    ratios = {}
    # stationarity, relative to ||theta*||
    stat = kkt.stationarity_residual(model, lam) / model.rho
    mag = float(np.linalg.norm(lam @ absm.jacobian)) / model.rho
    ratios["stationarity"] = stat / (cert + gamma(m + n) * (1.0 + mag) + gamma(D + 4))
    # complementarity and feasibility, relative to Lambda
    slack_q = np.abs(model.q - 1.0)
    comp = float(np.max(lam * slack_q)) / Lam
    ratios["complementarity"] = comp / (cert + gamma(m) * float(np.max(absm.q)) + 2 * EPS)
    infeas = max(0.0, 1.0 - float(np.min(model.q)))
    ratios["feasibility"] = infeas / (cert + gamma(m) * float(np.max(absm.q)) + 2 * EPS)
    # balance and layer norms, relative to ||W_k||_F^2 = Lambda
    wmax = max(max(W.shape) for W in weights)
    bal = (
        max(
            float(np.linalg.norm(weights[k] @ weights[k].T - weights[k + 1].T @ weights[k + 1]))
            for k in range(p - 1)
        )
        if p > 1
        else 0.0
    )
    ratios["balance"] = (bal / Lam) / (cert + 2.0 * gamma(wmax + 4))
    frob = max(abs(float(np.sum(W * W)) / Lam - 1.0) for W in weights)
    ratios["layer norms"] = frob / (cert + gamma(D + 4) + 8.0 * EPS)
    # the normalised margin
    gbar = hom.normalized_margin(model.q, model.rho, p)
    target = kkt.optimal_linear_margin(mm.gamma, p)
    gap = abs(gbar / target - 1.0)
    ratios["gbar"] = gap / (
        cert
        + gamma(m) * float(np.max(absm.q)) / float(np.min(model.q))
        + p * gamma(D + 4)
        + 8 * EPS
    )
    bad = {k: v for k, v in ratios.items() if v > 1.0}
    assert not bad, (
        f"LL-DL1: at the constructed KKT point (p = {p}, gamma = {mm.gamma:.6g}) these exceed "
        f"their allowance (observed/allowed): {bad}; stationarity {stat:.3e}, "
        f"complementarity {comp:.3e}, gbar/gbar* - 1 = {gbar / target - 1.0:.3e}"
    )
    return Slack(
        "LL-DL1",
        max(ratios.values()),
        f"stationarity {stat:.2e}, gbar/gbar* - 1 {gbar / target - 1.0:.2e}",
        exercised=True,
        measures={"stationarity_rel": stat, "complementarity_rel": comp},
    )


# --- LL-C4.5 ----------------------------------------------------------------------------------


def c45_tolerance(model: hom.MarginModel, lam: np.ndarray, svm: MaxMargin) -> float:
    """Allowed ``sin angle(w_Q, theta*)`` at an approximate KKT point of (P) (LL-C4.5).

    ``(Q): min (1/2)||w||^2 s.t. J w >= 1`` has the dual ``G(mu) = sum mu - (1/2)||J^T
    mu||^2``.  Take ``w0 = theta*/p``, ``mu = lam/p`` and ``r = w0 - J^T mu``.  Euler
    (``<h_i, theta*> = p q_i``) gives ``||w0||^2 = sum mu_i q_i + <w0, r>``, so the duality
    gap is exactly ``P(w0) - G(mu) = sum mu_i (q_i - 1) + ||r||^2 / 2``.  If ``q_min < 1``,
    ``w0 / q_min`` is feasible and adds ``(1/2)||w0||^2 (1/q_min^2 - 1)``.  Strong convexity
    (``(1/2)||w - w_opt||^2 <= P(w) - P(w_opt) <= P(w) - G(mu)``) puts the feasible point
    within ``sqrt(2 gap)`` of the optimum: an angle of at most ``sqrt(2 gap) / (||w0|| -
    sqrt(2 gap))``.  ``r`` is computed with error ``gamma(n + m) || |J|^T mu ||`` (m the
    Jacobian's own roundings, :func:`product_rounding`; charged with the magnitudes of the
    computed ``|J|``, a first-order bound), added to ``||r||``.  The solver's direction is
    certified to ``sqrt(2 (|gap_Q| + infeas_Q))`` (maxmargin module doc); the sines add.
    """
    p = model.order
    n, D = model.jacobian.shape
    w0 = model.theta / p
    mu = lam / p
    r_norm = float(np.linalg.norm(w0 - mu @ model.jacobian))
    r_norm += gamma(n + D + 2 * p + 4) * float(np.linalg.norm(mu @ np.abs(model.jacobian)))
    nw = float(np.linalg.norm(w0))
    q_min = float(np.min(model.q))
    gap = float(np.sum(mu * np.abs(model.q - 1.0))) + 0.5 * r_norm**2
    gap += 0.5 * nw**2 * max(0.0, 1.0 / q_min**2 - 1.0)
    dist = float(np.sqrt(2.0 * gap))
    c = svm.certificate
    solver = float(np.sqrt(2.0 * (abs(c.duality_gap_rel) + c.primal_infeas)))
    return dist / max(nw - dist, 0.0) + solver + 8.0 * EPS


def check_ll_c4_5(z: np.ndarray, mm: MaxMargin, units: Sequence[np.ndarray]) -> Slack:
    """LL-C4.5 at the constructed deep-linear KKT point: the tangent-kernel SVM solution
    (features ``grad q_i(theta*)``) is parallel to ``theta*``, to :func:`c45_tolerance`.

    Always exercised: the SVM is solved afresh over the Jacobian rows.
    """
    weights = kkt.linear_kkt_point(mm, units)
    model = linear_model(weights, z)
    lam = kkt.linear_kkt_multipliers(mm, model.order)
    svm = kkt.tangent_kernel_svm(model)
    s = float(sin_angle(svm.ubar, model.theta))
    tol = c45_tolerance(model, lam, svm)
    assert s <= tol, (
        f"LL-C4.5: sin angle(w_Q, theta*) = {s:.3e} > {tol:.3e} at the constructed KKT point "
        f"(p = {model.order})"
    )
    return Slack(
        "LL-C4.5", s / tol, f"sin(w_Q, theta*) {s:.2e}", exercised=True, measures={"sin": s}
    )


def tangent_sin(weights: net.Weights, z: np.ndarray) -> float:
    """``sin angle(w_Q, theta)`` with w_Q the tangent-kernel SVM at ``theta`` (LL-C4.5)."""
    model = linear_model(weights, z)
    return float(sin_angle(kkt.tangent_kernel_svm(model).ubar, model.theta))


def check_ll_c4_5_along(first: net.Weights, last: net.Weights, z: np.ndarray) -> Slack:
    """LL-C4.5 along a run (a trend): ``sin angle(w_Q, theta)`` falls from t0 to the end by
    more than :data:`TREND_FLOOR` (and the solver's certified direction accuracy, ~1e-6 at
    worst, is not the floor: the solver's measured residuals are at rounding).  Exercised
    when its t0 value is above twice the floor.
    """
    start, end = tangent_sin(first, z), tangent_sin(last, z)
    ok, msg = _falls("sin(w_Q, theta)", start, end, TREND_FLOOR)
    assert msg is None, f"LL-C4.5: {msg}"
    return Slack(
        "LL-C4.5",
        None,
        f"sin(w_Q, theta) {start:.3e} -> {end:.3e}",
        exercised=ok,
        measures={"decay_ratio": end / start if start > 0 else 0.0, "sin_end": end},
    )


# --- one run, every statement -----------------------------------------------------------------


def worst_of(slacks: Sequence[Slack]) -> Slack:
    """One example's verdict from per-state slacks: the worst ratio among the exercised
    states (any state's when none was), exercised when any state was."""
    exercised = [s for s in slacks if s.exercised]
    pool = exercised or list(slacks)
    worst = max(pool, key=lambda s: -1.0 if s.ratio is None else s.ratio)
    return Slack(
        worst.statement,
        worst.ratio,
        f"{len(exercised)} of {len(slacks)} states exercised; worst: {worst.detail}",
        exercised=bool(exercised),
        measures=worst.measures,
    )


def check_run(
    states: Sequence[net.Weights],
    z: np.ndarray,
    loss: Loss,
    mm: MaxMargin,
    *,
    certify: bool = False,
) -> list[Slack]:
    """LL-P and LL-LC.8 at every state from t0 on, LL-T4.4, LL-DL2 and LL-C4.5 (trend) over
    them; every check runs, and one error names every statement that failed.  With
    ``certify``, LL-P and LL-LC.8's delta bound are also decided in ball arithmetic at
    sampled states (:func:`certify_states`, run after the float checks held) and the
    certificates attached to their Slacks."""
    models = [linear_model(w, z) for w in states]
    trace = kkt_trace(states, z, loss, mm)
    results, failures = collect(
        {
            "LL-P": lambda: worst_of([check_ll_p(m) for m in models]),
            "LL-LC.8": lambda: worst_of([check_ll_lc_8(m, loss) for m in models]),
            "LL-T4.4": lambda: check_ll_t4_4(trace),
            "LL-DL2": lambda: check_ll_dl2(trace, unique_dual=dual_is_unique(z, mm)),
            "LL-C4.5": lambda: check_ll_c4_5_along(states[0], states[-1], z),
        }
    )
    if failures:
        raise AssertionError("\n".join(failures))
    out = list(results.values())
    if certify:
        certs = certify_states(states, z, loss)
        out = [
            dataclasses.replace(sl, certificate=certs[sl.statement])
            if sl.statement in certs
            else sl
            for sl in out
        ]
    return out


# --- certificates (ball arithmetic, python-flint) ---------------------------------------------

#: The statements certified at sampled states of the flow from t0 on.
CERTIFIED = ("LL-P", "LL-LC.8")


def certify_state(weights: net.Weights, z: np.ndarray, loss: Loss, data=None) -> dict:
    """Ball-arithmetic verdicts at the float layers of one state past t0 (LL-P, LL-LC.8).

    Margins ``q_j`` of the distinct rows in balls, ``q_min = q_{j*}`` at the smallest
    midpoint (``q_min > 0`` decided strictly first), ``c = q_min^{1/p}``:

    * LL-P: the identity ``(1/2)||theta / c||^2 = (1/2) (q_min / rho^p)^{-2/p}`` (both sides
      by different routes: entrywise squares of the rescaled layers against the normalised
      margin; TRUE when the residual's ball contains 0), and feasibility with ``min = 1``
      from the margins of the rescaled layers (``q_{j*}(theta~) - 1`` contains 0, every
      other ``q_j(theta~) - 1 >= 0``);
    * LL-LC.8's delta bound: per constraint ``lam_i (q_i/q_min - 1) <= (q_min/rho^p)^{-2/p}
      c_l / (e p q_min)`` with the proof's ``lam_i = rho q_min^{1-2/p} (-loss'(q_i)) /
      ||grad Lsum||`` formed in balls (``c_l = 1`` exponential, ``1 + e^{-q_min}``
      logistic), and the sum at most n times the bound.

    Returns a :class:`~invariants.certify.balls.Certificate` per statement, each one point.
    """
    from invariants.certify import balls, smoothed

    data = data if data is not None else smoothed.distinct_rows(z)
    return balls.refine(
        lambda: _certify_state(weights, loss, data),
        lambda verdicts: any(c.decided is None for c in verdicts.values()),
    )


def ball_normalized_margin(q_min, rho, order: int):
    """``gbar = q_min / rho^p`` in balls (LL-P, LL-LC.8)."""
    return q_min / rho**order


def ball_delta_bound(gbar, q_min, order: int, loss: Loss):
    """LL-LC.8's per-constraint bound ``gbar^{-2/p} c_l / (e p q_min)`` in balls (``c_l = 1``
    exponential, ``1 + e^{-q_min}`` logistic; :func:`invariants.core.kkt.delta_bound`)."""
    from flint import arb

    factor = arb(1) if loss.name == "exponential" else 1 + (-q_min).exp()
    return gbar ** (arb(-2) / order) * factor / (arb(1).exp() * order * q_min)


def _certify_state(weights: net.Weights, loss: Loss, data) -> dict:
    """:func:`certify_state` at the enclosing working precision (LL-P, LL-LC.8)."""
    from flint import arb

    from invariants.certify import balls, smoothed
    from invariants.certify import network as bn

    p = len(weights)
    with balls.working_precision():
        pt = smoothed.dual_point(weights, data, loss)
        q_min = pt.q[pt.star]
        positive = balls.nonnegative(q_min, "q_min", strict=True)
        if positive.decided is not True:
            return {"LL-P": positive, "LL-LC.8": positive}
        rho = pt.rho2.sqrt()
        c = q_min ** (arb(1) / p)
        gbar = ball_normalized_margin(q_min, rho, p)
        # LL-P
        scaled = tuple(M / c for M in pt.layers)
        half_lhs = bn.squared_norm(scaled) / 2
        half_rhs = gbar ** (arb(-2) / p) / 2
        q_t = bn.margins(bn.end_to_end(scaled), data.rows)
        ll_p = [balls.zero([half_lhs - half_rhs], "(1/2)||theta~||^2 - (1/2) gbar^(-2/p)")]
        ll_p.append(balls.zero([q_t[pt.star] - 1], "min q(theta~) - 1"))
        ll_p += [
            balls.nonnegative(x - 1, f"q_{j}(theta~) - 1")
            for j, x in enumerate(q_t)
            if j != pt.star
        ]
        # LL-LC.8's delta bound
        bound = ball_delta_bound(gbar, q_min, p, loss)
        coef = rho * q_min ** (1 - arb(2) / p) / pt.speed2.sqrt()
        lc8, total = [], arb(0)
        for j, (cj, wj, qj) in enumerate(zip(data.counts, pt.w, pt.q, strict=True)):
            gap = arb(0) if j == pt.star else (qj - q_min) / q_min
            term = coef * wj / cj * gap
            total += cj * term
            lc8.append(balls.nonnegative(bound - term, f"delta bound at row {j}"))
        lc8.append(balls.nonnegative(data.n * bound - total, "summed delta bound"))
    return {"LL-P": balls.combine(ll_p), "LL-LC.8": balls.combine(lc8)}


def require_consistent(statement: str, certificate) -> None:
    """A FALSE certificate where the float check held is a failure of the suite (LL-P,
    LL-LC.8): the float check is then contradicted by a proof."""
    assert certificate.decided is not False, (
        f"{statement}: the float check held but ball arithmetic proves it false at "
        f"{certificate.witness} (exact margin in [{certificate.lower:.6e}, "
        f"{certificate.upper:.6e}])"
    )


def certify_states(states: Sequence[net.Weights], z: np.ndarray, loss: Loss) -> dict:
    """The verdicts of :func:`certify_state` at sampled states from t0 (the first, the last
    and :data:`~invariants.certify.steps.SAMPLED_BETWEEN` between), combined per statement
    and required consistent with the float checks (LL-P, LL-LC.8)."""
    from invariants.certify import balls, smoothed, steps

    data = smoothed.distinct_rows(z)
    per: dict[str, list] = {}
    for i in steps.sample_steps(len(states)):
        for sid, cert in certify_state(states[i], z, loss, data).items():
            where = f"state {i}: {cert.witness}" if cert.witness else ""
            per.setdefault(sid, []).append(dataclasses.replace(cert, points=1, witness=where))
    out = {sid: balls.combine(certs) for sid, certs in per.items()}
    for sid, cert in out.items():
        require_consistent(sid, cert)
    return out


# --- bias-free ReLU networks (LL-LC.8, LL-T4.4) ------------------------------------------------


def residual_trace(models: Sequence[hom.MarginModel], loss: Loss) -> KKTTrace:
    """The KKT residuals of theta~ at each state of any homogeneous model (LL-T4.4, LL-LC.8).

    Fills the columns of :class:`KKTTrace` that :func:`check_ll_t4_4` reads (``log_rho``,
    ``eps``, ``eps_star``, ``floor``); the deep-linear columns (LL-DL2: the direction against
    ``ubar``, the margin against ``gbar*``, the balance, the closed-form multipliers) have no
    meaning for a ReLU network and are nan.  The residuals and their floor are formed exactly
    as in :func:`kkt_trace`: the identity behind :func:`lc8_tolerance` is algebra on the
    computed Jacobian (it holds for any rows ``h_i``, so for a ReLU network's
    ``grad q_i`` with ``relu'(0) := 0``), and the rounding counts are the same product chains
    with exact masks added.
    """
    rows = []
    for model in models:
        n, D = model.jacobian.shape
        tilde = kkt.rescaled(model)
        pm = kkt.proof_multipliers(model, loss)
        scale = tilde.rho
        rows.append(
            (
                np.log(model.rho),
                kkt.stationarity_residual(tilde, pm.lam) / scale,
                kkt.optimal_multipliers(tilde).upper / scale,
                lc8_tolerance(n, D, pm.kappa),
            )
        )
    cols = np.array(rows, dtype=np.float64).T if rows else np.zeros((4, 0))
    nan = np.full(cols.shape[1], np.nan)
    return KKTTrace(cols[0], cols[1], cols[2], cols[3], nan, nan, nan, nan, nan, nan)


def relu_states_from_t0(tr) -> list[hom.MarginModel]:
    """The accepted states of a ReLU run (:class:`invariants.dynamics.relu_flow.ReluTrajectory`)
    from t0 on, as margin models: ``log Lsum < log loss(0)`` and ``q_min > 0`` (LL-T4.4)."""
    threshold = float(tr.loss.log_value(np.zeros(1))[0])
    models = [hom.relu_network_margins(tr.weights(j), tr.x, tr.y) for j in range(len(tr.tau))]
    return [
        m for m in models if float(np.min(m.q)) > 0.0 and hom.log_loss_sum(m.q, tr.loss) < threshold
    ]


def check_ll_t4_4_relu(models: Sequence[hom.MarginModel], loss: Loss, *, slid: bool) -> Slack:
    """LL-T4.4 along a bias-free ReLU flow (a trend, as :func:`check_ll_t4_4`): the residuals
    of theta~ with the proof's and the NNLS multipliers fall from t0 to the end.

    ``slid``: the run was cut in a sliding mode (:data:`invariants.dynamics.relu_flow.
    MAX_CROSSINGS`).  There the flow's velocity is a convex combination of the one-sided
    gradients (a Filippov solution), not the computed selection ``relu'(0) := 0``, so the
    residuals formed from the selection are not the theorem's: they are measured, not
    asserted, and the run is not exercised.
    """
    trace = residual_trace(models, loss)
    if slid:
        return Slack(
            "LL-T4.4",
            None,
            f"sliding mode: eps {trace.eps[0]:.3e} -> {trace.eps[-1]:.3e} (not asserted)",
            exercised=False,
            measures={
                "decay_ratio": float(trace.eps[-1] / trace.eps[0]),
                "eps_end": float(trace.eps[-1]),
                "slid": 1.0,
            },
        )
    slack = check_ll_t4_4(trace)
    return Slack(
        "LL-T4.4",
        slack.ratio,
        "ReLU: " + slack.detail,
        exercised=slack.exercised,
        measures={**slack.measures, "slid": 0.0},
    )


def check_relu_run(models: Sequence[hom.MarginModel], loss: Loss, *, slid: bool) -> list[Slack]:
    """LL-LC.8 at every ReLU state from t0 on and LL-T4.4 (trend) over them; every check
    runs, and one error names every statement that failed."""
    results, failures = collect(
        {
            "LL-LC.8": lambda: worst_of([check_ll_lc_8(m, loss) for m in models]),
            "LL-T4.4": lambda: check_ll_t4_4_relu(models, loss, slid=slid),
        }
    )
    if failures:
        raise AssertionError("\n".join(failures))
    return list(results.values())


def late_rise(models: Sequence[hom.MarginModel], loss: Loss) -> float:
    """How much ``gbar`` rose over the last decade of ``S = log(1/Lsum)`` of a run, relative
    to its final value (LL-T4.4: the motion left at the end of the run).  From the last state
    with ``S <= S_end / 10`` to the end; the whole run when it spans less than a decade."""
    s = np.array([-hom.log_loss_sum(m.q, loss) for m in models])
    g = np.array([hom.normalized_margin(m.q, m.rho, m.order) for m in models])
    k = max(0, int(np.searchsorted(s, s[-1] / 10.0, side="right")) - 1)
    return float((g[-1] - g[k]) / g[-1])


def check_global_limit(
    relu_gbar: Sequence[float],
    relu_rise: Sequence[float],
    linear_gbar: Sequence[float],
    gbar_star: float,
) -> dict[str, float]:
    """The multiplicity of KKT directions on ReLU networks (LL-T4.4's limits need not be
    global optima of (P)): on one data set, the final normalised margins of several ReLU runs
    spread (relative to the largest) by more than

    * every run's own rise over its last decade of ``S`` (``relu_rise``, :func:`late_rise`):
      the runs have all but stopped moving (``gtil`` is non-decreasing, LL-T4.1, so they
      only rise), yet sit at different values;
    * every linear run's distance to the linear optimum ``gbar* = gamma p^{-p/2}``: for the
      linear network every run's limit is ``gbar*`` (LL-DL1, LL-DL2) and ``gbar <= gbar*``
      always (AM-GM on the layer norms), so ``max_j (1 - gbar_j / gbar*)`` is how far runs
      of the same kind still are from a common limit.

    This is evidence, not a proof, that the ReLU runs head for different KKT directions (a
    run's remaining rise is not bounded by its last decade's).  Returns the observation's
    values; raises, naming LL-T4.4, when the spread does not exceed both -- the verdict for
    runs that share one limit, as the linear network's do.
    """
    r = np.asarray(relu_gbar, dtype=np.float64)
    lin = np.asarray(linear_gbar, dtype=np.float64)
    # gbar <= gbar* exactly; computed, each side carries the relative rounding of a DL2
    # margin measure, at most TREND_FLOOR (its derivation above).
    assert np.all(lin <= gbar_star * (1.0 + TREND_FLOOR)), (
        f"LL-T4.4: a linear run's gbar {lin.max():.9g} exceeds the optimum {gbar_star:.9g}"
    )
    relu_spread = float((r.max() - r.min()) / r.max())
    rise = float(np.max(relu_rise))
    linear_gap = float(np.max(1.0 - lin / gbar_star))
    linear_spread = float((lin.max() - lin.min()) / lin.max())
    assert relu_spread > max(rise, linear_gap), (
        f"LL-T4.4 (multiplicity): the final gbar of the runs spread by {relu_spread:.3e} "
        f"(relative), not more than their last-decade rise {rise:.3e} or the linear runs' "
        f"distance to gbar* {linear_gap:.3e}: no evidence of distinct limits"
    )
    return {
        "relu_spread": relu_spread,
        "relu_late_rise": rise,
        "linear_spread": linear_spread,
        "linear_gap": linear_gap,
        "relu_min": float(r.min()),
        "relu_max": float(r.max()),
        "gbar_star": float(gbar_star),
        "relu_runs": float(r.size),
    }
