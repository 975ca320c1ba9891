"""Helpers shared by the tests of every folder of ``properties/``: running a paper's claim
checks (:func:`collect`, :func:`run_checks`, :class:`Observation`), assertions on the
library's own objects (a gradient against central differences, a max-margin solution
checked from scratch) and small generators (directions perpendicular to ubar).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np

from invariants.core import network as net
from invariants.core.losses import Loss
from invariants.core.maxmargin import (
    MaxMargin,
    check_certificate,
    perp,
)
from invariants.core.rounding import EPS, gamma, log_risk_rounding, rounding_count
from invariants.report import determinism

T = TypeVar("T")


# --- running claim checks (every paper's claims/ use these) -----------------------------


class Observation(NamedTuple):
    """A measured law recorded beside the verdicts (``record_observation``'s arguments)."""

    name: str
    statement: str
    measures: Mapping[str, float]
    series: Mapping[str, list[float]] | None = None


def collect(checks: Mapping[str, Callable[[], T]]) -> tuple[dict[str, T], list[str]]:
    """Run every check (a thunk per statement); return what passed and what failed.

    One failing statement must not hide another, so all run: the results of the
    checks that passed are kept (their slacks still reach the report) and each
    failure is one ``"<statement>: <message>"`` line.
    """
    results: dict[str, T] = {}
    failures: list[str] = []
    for statement, check in checks.items():
        try:
            results[statement] = check()
        except AssertionError as exc:
            failures.append(f"{statement}: {exc}")
    return results, failures


def run_checks(checks: Mapping[str, Callable], trajectory) -> list:
    """Run every check on one trajectory; raise one error naming all statements that failed."""
    results, failures = collect({sid: partial(check, trajectory) for sid, check in checks.items()})
    if failures:
        raise AssertionError("\n".join(failures))
    return list(results.values())


def check_layer_gradients_fd(grad_fn: GradFn, weights: net.Weights, z: np.ndarray, loss: Loss):
    """Every ``dR/dW_k`` entry equals the central difference of ``log R``; worst err/tol.

    Compared in the scaled domain: ``d log R / dW = (dR/dW) / R = exp(log_scale - log R) G``,
    which is order one whatever the size of R.

    Along ``W_k[a, b]`` the margins are affine with slopes ``|c_i| <= C_k``, so with
    ``f = log R`` and ``R^(j) = (1/n) sum_i loss^(j)(m_i) c_i^j``, ``|R^(j)| <= C_k^j R``
    and ``f''' = R'''/R - 3 R'' R'/R^2 + 2 (R'/R)^3`` gives ``|f'''| <= 6 C_k^3``
    *uniformly along the line*.  With half-step ``eta``:

    * truncation ``|FD - f'(mid)| <= eta^2/6 sup|f'''| <= eta^2 C_k^3``;
    * rounding: each ``log R`` errs by ``delta``
      (:func:`invariants.core.rounding.log_risk_rounding`, with ``nu_k + h``),
      so ``2 delta / (2 eta)``;
    * the perturbed entries ``fl(x +- h)`` are rounded: the midpoint moves by
      ``<= eps (|x| + h)`` and ``|f''| <= 2 C_k^2``; the step ``fl(xp - xm)``
      errs by ``eps/2`` relative (``4 eps |FD|`` allowed);
    * the gradient's own rounding: ``|d log R / dW| <= C_k``, relative error
      ``gamma(M)`` for the products plus ``expm1(4 delta)`` for the scales.

    ``h = (delta / (2 C_k^3))^(1/3)`` minimises ``h^2 C_k^3 + delta / h``.
    """
    W = tuple(np.array(w, dtype=np.float64) for w in weights)
    sg = grad_fn(W, z, loss)
    assert len(sg.layers) == len(W), f"{len(sg.layers)} layer gradients for {len(W)} layers"
    lr = net.log_risk(W, z, loss)
    assert math.isfinite(lr) and math.isfinite(sg.log_scale), (lr, sg.log_scale)
    factor = math.exp(sg.log_scale - lr)
    sc = Scales.of(W, z, loss)
    n = z.shape[0]
    worst = 0.0
    for k, Wk in enumerate(W):
        G = np.asarray(sg.layers[k])
        assert G.shape == Wk.shape, f"layer {k + 1}: gradient shape {G.shape} != {Wk.shape}"
        assert np.all(np.isfinite(G)), f"layer {k + 1}: non-finite gradient"
        expected = factor * G
        C = prod_except(sc.nu, k) * sc.zmax * (1 + 1e-12)
        h = min(1.0, (sc.log_risk_err / (2 * C**3)) ** (1 / 3)) if C > 0 else 1.0
        nu_h = sc.nu.copy()
        nu_h[k] += h
        delta = log_risk_rounding(float(np.prod(nu_h)) * sc.zmax, n, sc.M)
        grad_round = (gamma(sc.M) + math.expm1(4 * sc.log_risk_err)) * C
        for a, b in np.ndindex(*Wk.shape):
            x = float(Wk[a, b])
            xp, xm = x + h, x - h
            Wp, Wm = [*W], [*W]
            Wp[k], Wm[k] = Wk.copy(), Wk.copy()
            Wp[k][a, b], Wm[k][a, b] = xp, xm
            fd = (net.log_risk(tuple(Wp), z, loss) - net.log_risk(tuple(Wm), z, loss)) / (xp - xm)
            eta = (xp - xm) / 2
            tol = (
                eta**2 * C**3
                + delta / eta
                + EPS * (abs(x) + h) * 2 * C**2
                + grad_round
                + 4 * EPS * abs(fd)
            )
            err = abs(fd - expected[a, b])
            assert err <= tol, (
                f"dR/dW_{k + 1}[{a},{b}]: closed form {expected[a, b]!r} (scaled by R) vs "
                f"finite difference {fd!r}: |err| {err:.3e} > tol {tol:.3e} (h={h:.2e})"
            )
            worst = max(worst, err / tol)
    return worst


def assert_valid(mm: MaxMargin, z: np.ndarray) -> None:
    """Everything a MaxMargin promises, checked from scratch."""
    n, d = z.shape
    cert = check_certificate(z, mm.ubar, mm.gamma, mm.dual, TOL)
    assert cert.max_residual <= TOL
    assert mm.certificate.max_residual <= TOL
    for value in mm.certificate.as_dict().values():
        assert abs(value) <= TOL
    assert mm.ubar.shape == (d,) and mm.dual.shape == (n,) and mm.margins.shape == (n,)
    np.testing.assert_array_equal(mm.margins, z @ mm.ubar)
    assert np.all(mm.dual >= 0.0)
    assert abs(mm.dual.sum() - 1.0) <= TOL
    assert np.all(np.diff(mm.support) > 0)  # sorted, unique
    off = np.setdiff1d(np.arange(n), mm.support)
    assert np.all(mm.dual[off] == 0.0)
    assert np.all(mm.margins >= mm.gamma * (1.0 - TOL))
    rmax = float(np.max(np.linalg.norm(z, axis=1)))
    np.testing.assert_allclose(
        mm.margins[mm.support], mm.gamma, rtol=TOL, atol=4 * (d + 2) * EPS * rmax
    )


GradFn = Callable[[net.Weights, np.ndarray, Loss], net.ScaledGradient]


def prod_except(nu: np.ndarray, *skip: int) -> float:
    """``prod_{j not in skip} nu_j`` (1 for the empty product)."""
    return math.prod(float(v) for j, v in enumerate(nu) if j not in skip)


@dataclasses.dataclass(frozen=True)
class Scales:
    """A-priori magnitudes of one network on one data set (see the module docstring).

    ``delta_m`` bounds the rounding of every computed margin: any parenthesisation of
    ``W_L ... W_1 z_i`` errs by ``gamma(d_0 + ... + d_{L-1}) |W_L| ... |W_1| |z_i|``
    (Higham's componentwise bound for a product; the inner dimensions add), which is
    evaluated here (``+ 2`` in gamma for its own rounding); it is
    ``<= gamma(M) prod_j nu_j zmax`` (as ``|| |A| ||_F = ||A||_F``).
    ``s_w = sum_i |loss'(m_i)| / max_j |loss'(m_j)|`` (``<= n``), inflated by
    ``exp(2 delta_m)`` for the margins' rounding.  ``rho_w`` bounds the relative
    error of each scaled weight ``exp(a_i - a_max)`` (a = log|loss'|, 1-Lipschitz in
    m, plus a few ulps of the log form and of the exp per unit of ``|a|``).
    """

    nu: np.ndarray
    zmax: float
    M: int
    delta_m: float
    s_w: float
    rho_w: float
    log_risk_err: float

    @classmethod
    def of(cls, W: net.Weights, z: np.ndarray, loss: Loss) -> Scales:
        nu = frob(W)
        zmax = float(np.max(np.linalg.norm(z, axis=1)))
        n = z.shape[0]
        M = rounding_count(W, n)
        big = float(np.prod(nu)) * zmax
        inner = sum(w.shape[1] for w in W) + 2
        abs_w = my_w_prod(tuple(np.abs(w) for w in W))
        delta_m = gamma(inner) * float(np.max(np.abs(z) @ abs_w))
        a = loss.log_neg_d1(z @ my_w_prod(W))
        s_w = float(np.sum(np.exp(a - np.max(a)))) * math.exp(2 * delta_m) * (1 + gamma(n + 4))
        rho_w = math.expm1(2 * delta_m + 16 * EPS * (2 + big))
        return cls(nu, zmax, M, delta_m, s_w, rho_w, log_risk_rounding(big, n, M))


TOL = 1e-12  # certificate tolerance (max_margin's default)


def frob(weights: Iterable[np.ndarray]) -> np.ndarray:
    """``nu_j = ||W_j||_F``."""
    return np.array([float(np.linalg.norm(W)) for W in weights])


def my_w_prod(W: net.Weights) -> np.ndarray:
    """``w_prod = (W_L ... W_1)^T`` as one ``multi_dot``."""
    return chain(list(W[::-1]), W[0].shape[1])[0]


def chain(mats: list[np.ndarray], size: int) -> np.ndarray:
    """The product of ``mats`` (left to right), the identity of ``size`` if empty."""
    if not mats:
        return np.eye(size)
    if len(mats) == 1:
        return mats[0]
    return np.linalg.multi_dot(mats)


def unit(v: np.ndarray) -> np.ndarray:
    """v / ||v||, or e_1 when v is (nearly) zero."""
    nrm = float(np.linalg.norm(v))
    if nrm < 1e-3:
        e = np.zeros_like(v)
        e[0] = 1.0
        return e
    return v / nrm


def perp_rng(seed: int) -> np.random.Generator:
    """A generator for directions, independent of the data's ``default_rng(seed)``.

    The data strategies draw ubar first from ``default_rng(seed)``; directions
    drawn from the same stream (Hypothesis shrinks both seeds to 0) would be
    parallel to ubar, with no perpendicular part to speak of.
    """
    return np.random.default_rng([seed, 0x5EED])


def unit_perp(rng: np.random.Generator, ubar: np.ndarray) -> np.ndarray:
    """A random unit vector perpendicular to ubar (redrawn if nearly parallel)."""
    while True:
        xi = perp(rng.standard_normal(ubar.size), ubar)
        nx = float(np.linalg.norm(xi))
        if nx > 1e-3:
            return xi / nx


#: The checkout these helpers belong to (made importable in a child's environment).
REPO = Path(__file__).resolve().parents[1]


def tiny_suite(tmp_path: Path, **files: str) -> Path:
    """A suite of ``files`` whose only project code is the report plugin (no conftest.py):
    what the report and CI-output meta-tests run in a subprocess."""
    root = tmp_path / "suite"
    (root / "properties").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\ntestpaths = ["properties"]\n'
        'addopts = "-ra --strict-markers -p invariants.report.plugin"\n'
        'filterwarnings = ["error"]\nmarkers = ["meta: meta-tests"]\n'
    )
    for name, text in files.items():
        (root / "properties" / f"{name}.py").write_text(text)
    return root


def tiny_env() -> dict:
    """The child's environment: no PYTEST_* / HYPOTHESIS_*, this checkout importable."""
    env = determinism.child_env()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return env
