"""Meta-tests of :mod:`invariants.strategies`: the generators keep their promises.

Every property test of the suite trusts that a drawn data set is separable with
the stated margin and that an initialisation's A2 flag is right.  These tests
check those promises independently of the code that made them:

* margins with the witness (a rigorous rounding bound) and with the max-margin
  solver;
* family structure (repeats, unit norms, rank one, sizes);
* A2 with mpmath at 60 digits and the gradient from its own closed form, not
  with :mod:`invariants.core.network`;
* the rounding bounds of the balanced and equal-Frobenius constructions,
  derived next to each assertion;
* that every family, init kind and a2_violating variant is actually drawn.

Statements served (indirectly, through the suite's generators): Notation,
A2, S-A2a, S-A2b, S-FIG2 (equal Frobenius norms), S-L2a/S-L2b (balanced, D = 0).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import Phase, event, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from invariants import strategies as S
from invariants.core.data import Dataset, certified_margin, unit_norm_slack
from invariants.core.losses import EXPONENTIAL, LOGISTIC
from invariants.core.maxmargin import max_margin
from invariants.core.network import layer_shapes
from invariants.core.rounding import EPS
from invariants.core.theta import rank_tolerance, support_radius, theta, theta_forward_tolerance

pytestmark = pytest.mark.meta


# max_margin's certificate tolerance for the cross-check.  A passing certificate
# at tol gives gamma_true <= ||Z^T dual|| <= gamma (1 + tol) (weak duality), so
# gamma >= gamma_true / (1 + tol) >= margin_lower_bound (1 - tol).  The default
# tol = 1e-12 is relative to gamma and sits at rounding level when gamma ~ 1e-3
# (eps / gamma ~ 2e-13, times the number of support vectors): the solver raises
# CertificateError on some valid small-margin data sets drawn here (reported to
# the maxmargin owner).  The witness check below is the rigorous one.
MM_TOL = 1e-9


def _settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None)


# --- independent references -----------------------------------------------------------

mp.mp.dps = 60


def _mp_w_prod(weights: tuple[np.ndarray, ...]) -> list:
    """``(W_L ... W_1)^T`` in 60-digit arithmetic from the stored float matrices."""
    v = [mp.mpf(float(a)) for a in weights[-1][0]]
    for W in weights[-2::-1]:
        v = [
            mp.fsum(mp.mpf(float(W[i, j])) * v[i] for i in range(W.shape[0]))
            for j in range(W.shape[1])
        ]
    return v


def _mp_loss(name: str, m):
    if name == "exponential":
        return mp.exp(-m)
    assert name == "logistic"
    return mp.log1p(mp.exp(-m))


def _mp_risk_excess(weights, z: np.ndarray, loss_name: str):
    """``R(W) - R(0)`` at 60 digits; exactly 0 when every margin is exactly 0."""
    w = _mp_w_prod(weights)
    m = [mp.fsum(mp.mpf(float(zij)) * wj for zij, wj in zip(zi, w, strict=True)) for zi in z]
    if all(mi == 0 for mi in m):
        return mp.mpf(0)
    return mp.fsum(_mp_loss(loss_name, mi) for mi in m) / len(m) - _mp_loss(loss_name, mp.mpf(0))


def _layer_gradients(weights, z: np.ndarray, loss_name: str) -> list[np.ndarray]:
    """``dR/dW_k = (W_L...W_{k+1})^T grad R(w)^T (W_{k-1}...W_1)^T`` (Notation), own code.

    Up to a positive factor: ``grad R(w)`` is formed from ``|loss'(m_i)| / max_j |loss'(m_j)|``
    (computed at 60 digits), so it cannot underflow to 0 however large the margins.
    """
    L = len(weights)
    w = _mp_w_prod(weights)
    m = [mp.fsum(mp.mpf(float(zij)) * wj for zij, wj in zip(zi, w, strict=True)) for zi in z]
    if loss_name == "exponential":
        log_d1 = [-mi for mi in m]  # log|loss'(m)| = -m
    else:
        log_d1 = [-mp.log1p(mp.exp(mi)) for mi in m]  # log|loss'(m)| = -softplus(m)
    top = max(log_d1)
    g = -np.array([float(mp.exp(a - top)) for a in log_d1]) @ z
    out = []
    for k in range(L):
        left = np.ones((1, 1))
        for W in weights[k + 1 :][::-1]:
            left = left @ W  # W_L ... W_{k+1}, shape (1, d_k)
        right = np.eye(weights[0].shape[1])
        for W in weights[:k]:
            right = W @ right  # W_{k-1} ... W_1, shape (d_{k-1}, d)
        out.append(np.outer(left[0], right @ g))
    return out


def _a2_truth(weights, z: np.ndarray, loss_name: str) -> tuple[bool, object, bool]:
    """(A2 holds, R(W) - R(0) at 60 digits, gradient exactly zero)."""
    excess = _mp_risk_excess(weights, z, loss_name)
    zero_grad = all(not np.any(G) for G in _layer_gradients(weights, z, loss_name))
    return (excess <= 0 and not zero_grad), excess, zero_grad


# --- data sets ----------------------------------------------------------------------------


def _check_dataset(dd: S.DrawnData, min_margin: float) -> None:
    data = dd.data
    assert isinstance(data, Dataset)
    assert dd.family in S.FAMILIES
    x, y, z = data.x, data.y, data.z
    d = data.d
    assert np.all(np.isfinite(x))
    assert np.all((y == 1.0) | (y == -1.0))
    assert np.array_equal(z, y[:, None] * x)
    # ||x_i|| <= 1 up to the rounding of a float64 normalisation (data.unit_norm_slack).
    assert np.all(np.linalg.norm(x, axis=1) <= 1.0 + unit_norm_slack(d))
    # Margin promise.  The witness bound is rigorous (certified_margin subtracts the
    # (d + 2) eps rounding of the dot products); recompute it here rather than trust it.
    lb = dd.margin_lower_bound
    assert lb >= min_margin
    u = dd.witness
    recomputed = float(np.min(z @ u) / np.linalg.norm(u)) - (d + 2) * EPS
    assert recomputed >= lb, (recomputed, lb)
    assert certified_margin(z, u) == recomputed
    try:
        mm = max_margin(data, tol=MM_TOL)
    except Exception as exc:  # the data are valid by the witness check above
        raise AssertionError(
            f"max_margin failed on a valid drawn {dd.family!r} data set (n={data.n}, d={d}, "
            f"certified margin >= {lb:.3g}): a solver bug, not a strategy bug"
        ) from exc
    assert mm.gamma >= lb * (1 - MM_TOL), (mm.gamma, lb)
    assert mm.gamma <= float(np.min(np.linalg.norm(z, axis=1))) * (1 + 1e-9)  # gamma <= min ||z_i||


@_settings(60)
@given(dd=S.datasets())
def test_datasets_keep_their_promises(dd: S.DrawnData) -> None:
    event(f"family={dd.family}")
    _check_dataset(dd, 1e-3)
    assert 1 <= dd.n <= 60 and 1 <= dd.d <= 8


@_settings(30)
@given(
    data=st.data(),
    n=st.tuples(st.integers(1, 12), st.integers(0, 12)).map(lambda t: (t[0], t[0] + t[1])),
    d=st.tuples(st.integers(1, 5), st.integers(0, 5)).map(lambda t: (t[0], t[0] + t[1])),
    min_margin=st.sampled_from([1e-6, 1e-3, 0.2, 0.7]),
)
def test_datasets_respect_ranges(data, n, d, min_margin) -> None:
    dd = data.draw(S.datasets(n=n, d=d, min_margin=min_margin))
    _check_dataset(dd, min_margin)
    assert d[0] <= dd.d <= d[1]
    assert n[0] <= dd.n <= n[1]


def _rank_one_slack(z: np.ndarray) -> float:
    """Bound on sigma_2 / sigma_1 for the collinear family.

    ``z_ij = fl(c_i a_j) = c_i a_j (1 + delta_ij)``, ``|delta| <= eps/2``, so
    ``Z = c a^T + E`` with ``||E||_2 <= ||E||_F <= (eps/2) ||c|| ||a|| = (eps/2) sigma_1``
    and, by Weyl, ``sigma_2(Z) <= (eps/2) sigma_1``.  LAPACK's SVD is backward
    stable: computed singular values are within ``p(n, d) eps sigma_1`` with a
    modest ``p``; we allow ``4 max(n, d) eps``.
    """
    n, d = z.shape
    return (0.5 + 4 * max(n, d)) * EPS


@pytest.mark.parametrize("family", S.FAMILIES)
@_settings(25)
@given(data=st.data())
def test_family_structure(family: str, data) -> None:
    dd = data.draw(S.datasets(family=family), label="drawn")
    assert dd.family == family
    _check_dataset(dd, 1e-3)
    x, z, n, d = dd.data.x, dd.data.z, dd.n, dd.d
    if family == "duplicates":
        assert n >= 2
        assert np.unique(z, axis=0).shape[0] < n  # some z_i really repeats, bit for bit
    elif family == "sphere":
        # normalised in float64: | ||x_i|| - 1 | <= (d + 3) eps (data.unit_norm_slack)
        assert np.all(np.abs(np.linalg.norm(x, axis=1) - 1.0) <= unit_norm_slack(d))
    elif family == "collinear":
        s = np.linalg.svd(z, compute_uv=False)
        if s.size > 1:
            assert s[1] <= _rank_one_slack(z) * s[0], s
        # and on one ray: every z_i is a positive multiple of the witness
        assert np.all(z @ dd.witness > 0)
    elif family == "single":
        assert n == 1
    elif family == "underdetermined":
        assert n < d


@pytest.mark.parametrize("family", S.FAMILIES)
def test_default_datasets_reach_every_family(family: str) -> None:
    found = find(
        S.datasets(),
        lambda dd: dd.family == family,
        settings=settings(max_examples=300, database=None, phases=[Phase.generate]),
    )
    assert found.family == family


def test_datasets_validate_arguments() -> None:
    for kwargs in (
        {"n": 0},
        {"n": (5, 2)},
        {"d": (1.0, 3)},
        {"min_margin": 0.0},
        {"min_margin": 0.95},
        {"family": "nope"},
        {"family": []},
        {"family": "single", "n": (2, 5)},
        {"family": "underdetermined", "d": 1},
        {"family": "duplicates", "n": 1},
    ):
        with pytest.raises(InvalidArgument):
            S.datasets(**kwargs)
    # None means "every family possible here": with n = 1 fixed that excludes duplicates
    S.datasets(n=1, family=None)


# --- architectures ------------------------------------------------------------------------


@_settings(60)
@given(
    data=st.data(),
    d=st.integers(1, 10),
    depth=st.tuples(st.integers(1, 4), st.integers(0, 4)).map(lambda t: (t[0], t[0] + t[1])),
    width=st.tuples(st.integers(1, 5), st.integers(0, 5)).map(lambda t: (t[0], t[0] + t[1])),
)
def test_architectures_in_range_and_chain(data, d, depth, width) -> None:
    widths = data.draw(S.architectures(d, depth=depth, width=width))
    assert depth[0] <= len(widths) + 1 <= depth[1]
    assert all(width[0] <= w <= width[1] for w in widths)
    shapes = layer_shapes(d, widths)
    assert len(shapes) == len(widths) + 1
    assert shapes[0][1] == d and shapes[-1][0] == 1
    assert all(shapes[k + 1][1] == shapes[k][0] for k in range(len(shapes) - 1))


def test_architectures_validate_arguments() -> None:
    for args, kwargs in (((0,), {}), ((3,), {"depth": 0}), ((3,), {"width": (3, 2)})):
        with pytest.raises(InvalidArgument):
            S.architectures(*args, **kwargs)


# --- initialisations ----------------------------------------------------------------------


def _balanced_bound(weights, k: int) -> float:
    """Bound on ``||A_{k,k+1}||_F`` for ``W_k = fl(fl(c u_k) u_{k-1}^T)`` (0-based k).

    With u = eps/2 and ``m_j = d_j``:

    * each entry of ``W_k`` is ``c u_k[a] u_{k-1}[b] (1 + e)``, ``|e| <= 2u + u^2``, so
      the exact ``W_k W_k^T = c^2 (||u_{k-1}||^2 u_k u_k^T + R_1)`` with
      ``||R_1||_F <= (4u + O(u^2)) ||u_k||^2 ||u_{k-1}||^2``; likewise ``W_{k+1}^T W_{k+1}``;
    * the float unit vectors have ``| ||u_j||^2 - 1 | <= (m_j + 4) u``
      (:func:`invariants.core.data.unit_norm_slack` derivation, squared; ``u_L = [+-1]`` exact),
      so the two main terms differ by ``<= (m_{k-1} + m_{k+1} + 8) u c^2``;
    * the computed products err by ``gamma_m |W||W^T|``, i.e.
      ``<= m_{k-1} u ||W_k||_F^2`` and ``<= m_{k+1} u ||W_{k+1}||_F^2``, and the
      subtraction by ``u`` relative to each term.

    Total ``<= (2 m_{k-1} + 2 m_{k+1} + 18) u c^2 = (m_{k-1} + m_{k+1} + 9) eps c^2``,
    and ``c^2 <= 1.01 max(||W_k||_F^2, ||W_{k+1}||_F^2)`` (the norms are ``c`` up to
    ulps).
    """
    Wk, Wk1 = weights[k], weights[k + 1]
    m_prev, m_next = Wk.shape[1], Wk1.shape[0]
    scale = max(float(np.linalg.norm(Wk)) ** 2, float(np.linalg.norm(Wk1)) ** 2)
    return (m_prev + m_next + 9) * EPS * 1.01 * scale


def _equal_frobenius_slack(weights) -> float:
    """Bound on ``max_k ||W_k||_F - min_k ||W_k||_F`` for ``W_k = fl(G_k fl(s / fl(||G_k||)))``.

    ``fl(||G||)`` has relative error ``<= (m/2 + 1) u`` (m entries); the division and
    the per-entry product add ``u`` each; a later shrink by 10 adds ``u`` per entry and
    the flip of W_L is exact.  So the exact ``||W_k||_F = s (1 + r_k)`` with
    ``|r_k| <= (m_k/2 + 4) u``, and measuring it again adds ``(m_k/2 + 1) u``:
    ``|computed - s| <= (m_k + 5) u s``.  Two layers differ by
    ``<= (m_j + m_k + 10) u s``; we allow ``(2 max m + 10) eps max_k ||W_k||_F``
    (twice that, for pairwise vs. BLAS summation orders).
    """
    m = max(W.size for W in weights)
    return (2 * m + 10) * EPS * max(float(np.linalg.norm(W)) for W in weights)


def _check_problem(p: S.Problem) -> None:
    init, z, loss_name = p.init, p.z, p.loss.name
    W = init.weights
    assert init.name in S.INIT_KINDS
    assert [w.shape for w in W] == layer_shapes(p.drawn.d, p.widths) == p.shapes
    assert all(np.all(np.isfinite(w)) for w in W)
    # The flag, recomputed independently (60-digit risk, own gradient formula).
    holds, excess, zero_grad = _a2_truth(W, z, loss_name)
    assert init.satisfies_a2 == holds, (init.name, init.description, excess, zero_grad)
    assert init.satisfies_a2 == (init.name != "a2_violating")

    if init.name == "zero_first":
        assert np.all(W[0] == 0.0)
        if len(W) >= 2:
            assert np.any(np.linalg.multi_dot([*W[:0:-1], np.eye(W[0].shape[0])]) != 0.0)
        assert excess == 0  # w_prod = 0 exactly: R(W(0)) = R(0) exactly (S-A2a)
    elif init.name == "balanced":
        for k in range(len(W) - 1):
            A = W[k] @ W[k].T - W[k + 1].T @ W[k + 1]
            assert np.linalg.norm(A) <= _balanced_bound(W, k), (k, np.linalg.norm(A))
        norms = [float(np.linalg.norm(w)) for w in W]
        assert max(norms) - min(norms) <= _equal_frobenius_slack(W) + 4 * EPS * max(norms)
    elif init.name == "equal_frobenius":
        norms = [float(np.linalg.norm(w)) for w in W]
        assert max(norms) - min(norms) <= _equal_frobenius_slack(W), norms
    elif init.name == "a2_violating":
        if zero_grad:
            assert sum(not np.any(w) for w in W) >= 2 and "zero_gradient" in init.description
        else:
            # the risk half fails, clearly: log R(W(0)) - log R(0) >= A2_VIOLATION_MARGIN
            r0 = _mp_loss(loss_name, mp.mpf(0))
            assert mp.log1p(excess / r0) >= S.A2_VIOLATION_MARGIN * (1 - 1e-9)


@_settings(100)
@given(p=S.problems())
def test_problems_keep_their_promises(p: S.Problem) -> None:
    event(f"kind={p.init.name}")
    event(f"loss={p.loss.name}")
    _check_problem(p)


@pytest.mark.parametrize("kind", S.INIT_KINDS)
@_settings(25)
@given(data=st.data())
def test_each_kind_keeps_its_promise(kind: str, data) -> None:
    p = data.draw(S.problems(kinds=kind, n=(1, 20), d=(1, 5)), label="problem")
    assert p.init.name == kind
    _check_problem(p)


@_settings(20)
@given(data=st.data(), dd=S.datasets(n=(1, 10), d=(1, 3)))
def test_initialisations_alone(data, dd: S.DrawnData) -> None:
    widths = data.draw(S.architectures(dd.d, depth=(1, 3), width=(1, 3)), label="widths")
    loss = data.draw(st.sampled_from([EXPONENTIAL, LOGISTIC, "logistic"]), label="loss")
    init = data.draw(S.initialisations(dd, widths, loss, kinds=S.A2_KINDS), label="init")
    assert init.satisfies_a2 and init.depth == len(widths) + 1
    name = loss if isinstance(loss, str) else loss.name
    assert _a2_truth(init.weights, dd.data.z, name)[0]


_FIND = settings(max_examples=300, database=None, phases=[Phase.generate])


@pytest.mark.parametrize("kind", S.INIT_KINDS)
def test_default_problems_reach_every_kind(kind: str) -> None:
    assert find(S.problems(), lambda p: p.init.name == kind, settings=_FIND).init.name == kind


@pytest.mark.parametrize("variant", ["risk_above_zero", "zero_gradient", "mirror"])
def test_a2_violating_reaches_every_variant(variant: str) -> None:
    # mirror (S-A2b) needs L = 2, d = 1, width 1: ask for such problems.
    small = variant == "mirror"
    strategy = S.problems(
        kinds="a2_violating",
        d=1 if small else (1, 8),
        depth=2 if small else (1, 6),
        width=1 if small else (1, 8),
    )
    found = find(strategy, lambda p: p.init.description.startswith(variant), settings=_FIND)
    _check_problem(found)


def test_mirror_is_the_paper_example() -> None:
    """S-A2b: w_1 = -w_2 (data z > 0) gives R(W(0)) = exp(a^2 z)-type risk > R(0)."""
    p = find(
        S.problems(kinds="a2_violating", d=1, depth=2, width=1),
        lambda p: p.init.description.startswith("mirror"),
        settings=_FIND,
    )
    w1, w2 = float(p.weights[0][0, 0]), float(p.weights[1][0, 0])
    sign_z = math.copysign(1.0, float(p.z[0, 0]))
    assert np.all(np.sign(p.z[:, 0]) == sign_z)
    assert w2 == -sign_z * w1 != 0.0
    assert not p.init.satisfies_a2


def test_initialisations_validate_arguments() -> None:
    dd = find(S.datasets(d=2), lambda _: True, settings=_FIND)
    for kwargs in ({"kinds": "nope"}, {"kinds": []}, {"scale": (0.0, 1.0)}, {"scale": (2.0, 1.0)}):
        with pytest.raises(InvalidArgument):
            S.initialisations(dd, [2], "exponential", **kwargs)
    with pytest.raises(InvalidArgument):
        S.initialisations(dd, [0], "exponential")
    with pytest.raises(InvalidArgument):
        S.initialisations(dd.data.z, [2], "exponential")


# --- determinism of the example stream -----------------------------------------------------------

# Folders whose modules are scripts (``python -m benchmarks.<name>``, ``python tools/mutation.py``):
# the suite never imports them, so they never enter Hypothesis's constant pool.
SCRIPT_FOLDERS = ("benchmarks", "tools")


def _mined_by_hypothesis(rel: Path) -> bool:
    """Hypothesis's rule for files whose literals it draws (constants_ast.is_local_module_file)."""
    return not (
        rel.stem.startswith("test_")
        or rel.stem.endswith("_test")
        or {"test", "tests"} & set(rel.parts)
    )


def files_missing_from_pool(root: Path, preloaded: frozenset[str]) -> list[str]:
    """Local, mined ``.py`` files under ``root`` that were not loaded before the first example.

    Hidden folders (``.venv``, ``.git``) and :data:`SCRIPT_FOLDERS` are left out.
    """
    missing = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0].startswith(".") or rel.parts[0] in SCRIPT_FOLDERS:
            continue
        if _mined_by_hypothesis(rel) and str(path.resolve()) not in preloaded:
            missing.append(str(rel))
    return missing


@pytest.mark.meta
def test_hypothesis_constant_pool_is_fixed_before_any_example(tmp_path):
    """Same commit, same examples: every module Hypothesis mines is imported by conftest first.

    Hypothesis draws ~5% of values from literals of the local modules loaded
    at draw time; a module first imported mid-run changed the examples of the
    tests that ran after it on that xdist worker (conftest.py, PRELOADED_PACKAGES).
    Negative control: a new package outside the preloaded ones is reported.
    """
    import conftest

    root = Path(conftest.__file__).resolve().parent
    missing = files_missing_from_pool(root, conftest.PRELOADED_FILES)
    assert not missing, (
        f"{missing} would be mined by Hypothesis for constants but are not imported before the "
        "first example; add their package to conftest.PRELOADED_PACKAGES"
    )
    loaded_scripts = sorted(
        name for name in sys.modules if name.partition(".")[0] in SCRIPT_FOLDERS
    )
    assert not loaded_scripts, f"the suite imported script modules {loaded_scripts}"

    (tmp_path / "newpkg").mkdir()
    (tmp_path / "newpkg" / "mod.py").write_text("X = 1.5\n")
    (tmp_path / "properties").mkdir()
    (tmp_path / "properties" / "test_x.py").write_text("Y = 2.5\n")
    assert files_missing_from_pool(tmp_path, frozenset()) == ["newpkg/mod.py"]


def test_an_initialisation_retry_after_a2_fails_shrinks_the_scale(monkeypatch) -> None:
    """When the first draw fails A2, the equal-Frobenius initialisation retries at a tenth of
    the scale (its docstring: 'every layer is shrunk by the same factor 10'), never above it.

    The first A2 certificate is planted to fail; the second is the real one.  Found by the
    sampled mutation run (the retry growing the scale ten-fold survived: equal norms and A2
    still held).  Exact: each layer is rescaled to ``||W_k||_F = s`` by one division, so the
    norms equal s / 10 to a few eps (tolerance 8 eps relative: the norm's own rounding
    gamma_m with m <= 6 entries, plus the rescaling).
    """
    real = S.networks.certifies_a2  # the initialisations' module looks it up there
    calls: list[bool] = []

    def first_fails(W, z, loss) -> bool:
        calls.append(True)
        return len(calls) > 1 and real(W, z, loss)

    monkeypatch.setattr(S.networks, "certifies_a2", first_fails)
    z = np.array([[1.0, 0.2], [0.8, -0.3], [0.9, 0.1]])
    out = S.networks._init_equal_frobenius(
        np.random.default_rng(0), z, [(2, 2), (1, 2)], LOGISTIC, 1.0, None
    )
    assert out is not None and len(calls) == 2
    norms = [float(np.linalg.norm(W)) for W in out[0]]
    assert norms == pytest.approx([0.1, 0.1], rel=8 * EPS), norms


# --- a3_datasets (the A3 data of Lemmas 3 and 4) ------------------------------------------------


@pytest.mark.meta
@given(A=S.a3_datasets(extra=(0, 2)))
def test_a3_datasets_keep_their_promises(A: S.A3Data) -> None:
    """Meta: a3_datasets keeps its promises: A3, the stated ubar/gamma/support, theta > 0.

    ubar and gamma are compared with max_margin's.  The construction puts the
    support vectors on the margin to rounding (``|<ubar, z_i> - gamma| <= 4 (d + 2) eps``,
    asserted).  Tolerance (first order): ``u = ubar / gamma`` solves
    ``Z_S u = 1`` on the d simplex support vectors; for max_margin's answer
    ``u^ = ubar^ / gamma^`` the residual is ``Z_S u^ - 1 = (m_S - gamma^) / gamma^``, and
    the stored rows differ from the exact construction by ``||E||_2 <= sqrt(d) eps max||z_i||``
    plus the margins' own rounding ``(d + 2) eps max||z_i||``.  So
    ``||u^ - u|| <= ||Z_S^{-1}|| (||m_S - gamma^|| + (sqrt(d) + d + 2) eps max||z_i||) / gamma``
    and ``||ubar^ - ubar|| <= 2 gamma ||u^ - u||``, gamma likewise relatively;
    twice that is allowed (first order).
    """
    z, d, n = A.z, A.d, A.n
    assert A.drawn.family == "a3"
    assert np.all(np.linalg.norm(A.data.x, axis=1) <= 1.0 + unit_norm_slack(d))
    assert A.drawn.margin_lower_bound >= 0.02
    assert n >= d + A.extra and 2 <= d <= 6
    assert np.all(A.lam > 0) and abs(float(A.lam.sum()) - 1.0) <= 4 * EPS
    assert np.max(np.abs(z[A.support] @ A.ubar - A.gamma)) <= 4 * (d + 2) * EPS
    mm = max_margin(A.data)
    np.testing.assert_array_equal(mm.support, A.support)
    zs = z[A.simplex]
    inv_norm = 1.0 / float(np.linalg.svd(zs, compute_uv=False)[-1])
    resid = float(np.linalg.norm(mm.margins[A.simplex] - mm.gamma))
    zmax = float(np.max(np.linalg.norm(z, axis=1)))
    tol = 4 * inv_norm * (resid + (math.sqrt(d) + d + 2) * EPS * zmax)
    assert np.linalg.norm(mm.ubar - A.ubar) <= tol
    assert abs(mm.gamma - A.gamma) <= tol * A.gamma
    # KKT of the construction itself: gamma ubar = sum lam_i z_i (to rounding).
    assert np.linalg.norm(A.lam @ zs - A.gamma * A.ubar) <= 4 * (d + 2) * EPS
    # A3: the support vectors span R^d, clearly.
    sv = np.linalg.svd(z[A.support], compute_uv=False)
    assert sv.size == d and sv[-1] > 100 * rank_tolerance(z[A.support])
    # Non-support points are clear of the margin.
    off = np.setdiff1d(np.arange(n), A.support)
    assert np.all(mm.margins[off] >= A.gamma + S.A3_GAP * max(A.gamma, 0.05) * (1 - 1e-9))
    th = theta(A.data, mm)
    assert th.a3 and th.value > 0
    if A.theta is not None:
        assert th.method == "simplex"
        # Closed-form agreement: the vertices as stored differ from the construction's by
        # (d + 2) eps rho (rounding and projection) plus rho ||d ubar|| (the tilted
        # projection); a facet distance moves by at most (1 + cond(B)) times that (see
        # invariants.core.theta.theta_forward_tolerance), plus theta's own forward error.
        rho = support_radius(z, mm)
        shift = (d + 2) * EPS * rho + rho * float(np.linalg.norm(mm.ubar - A.ubar))
        allowed = theta_forward_tolerance(z, mm, th) + 8 * shift * (1 + th.cond)
        assert abs(th.value - A.theta) <= allowed, (th.value, A.theta, allowed)


@pytest.mark.meta
def test_a3_datasets_validate_arguments() -> None:
    """Meta: a3_datasets refuses invalid arguments when the strategy is built."""
    for kwargs in ({"d": 1}, {"d": (3, 2)}, {"n": 0}, {"min_margin": 1e-4}, {"min_margin": 0.6}):
        with pytest.raises(InvalidArgument):
            S.a3_datasets(**kwargs)
    with pytest.raises(ValueError, match="build_a3"):
        S.build_a3(np.random.default_rng(0), 2, 3, 0.1)
