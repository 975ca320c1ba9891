"""Data validation and the separability test (Notation and data assumptions).

Every error type of :func:`invariants.core.data.make_dataset` is raised on the
input it is meant for, in the documented order, with a message that names the
offending index/value and says what to do.  Non-separable data come with a
Gordan certificate that is checked here independently of the solver.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from invariants.core.data import (
    Dataset,
    make_dataset,
    separability_certificate,
    unit_norm_slack,
)
from invariants.core.rounding import EPS
from invariants.errors import (
    DataError,
    LabelError,
    NonFiniteError,
    NonSeparableError,
    NormError,
    ShapeError,
)
from properties.helpers import unit

CERT_TOL = 1e-12  # ||Z^T lam|| of a Gordan certificate (measured ~1e-16)

XOR_X = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]]) / math.sqrt(2.0)
XOR_Y = np.array([1.0, 1.0, -1.0, -1.0])
SEP_X = np.array([[0.5, 0.1], [-0.4, 0.2], [0.3, -0.6]])
SEP_Y = np.array([1.0, -1.0, 1.0])


# --- strategies -------------------------------------------------------------------------


@st.composite
def separable_sets(draw: st.DrawFn, max_n: int = 40, max_d: int = 8):
    """(x, y, ubar, margin): every z_i = y_i x_i has <ubar, z_i> >= margin, ||x_i|| <= 1."""
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(1, max_n))
    ubar = unit(draw(arrays(np.float64, d, elements=st.floats(-1, 1))))
    margin = draw(st.floats(0.05, 0.95))
    t = draw(arrays(np.float64, n, elements=st.floats(0, 1)))
    a = margin + (1.0 - margin) * t
    v = draw(arrays(np.float64, (n, d), elements=st.floats(-1, 1)))
    v = v - np.outer(v @ ubar, ubar)
    nv = np.linalg.norm(v, axis=1)
    r = draw(arrays(np.float64, n, elements=st.floats(0, 1)))
    radius = r * np.sqrt(np.maximum(1.0 - a * a, 0.0)) * (1.0 - 1e-12)
    scale = np.divide(radius, nv, out=np.zeros(n), where=nv > 1e-12)
    z = a[:, None] * ubar + scale[:, None] * v
    y = draw(arrays(np.float64, n, elements=st.sampled_from([-1.0, 1.0])))
    return y[:, None] * z, y, ubar, margin


@st.composite
def non_separable_sets(draw: st.DrawFn, max_n: int = 12, max_d: int = 6):
    """(x, y): the origin lies in the convex hull of the z_i by construction.

    z_1..z_k are arbitrary; z_{k+1} = -c * (sum_i w_i z_i) with w > 0 and c > 0,
    so 0 = (c w, 1) . (z_1..z_{k+1}) / normaliser is a convex combination.
    """
    d = draw(st.integers(1, max_d))
    k = draw(st.integers(1, max_n - 1))
    z = draw(arrays(np.float64, (k, d), elements=st.floats(-1, 1)))
    w = draw(arrays(np.float64, k, elements=st.floats(0.01, 1)))
    s = -(w @ z)
    ns = float(np.linalg.norm(s))
    if ns > 0:
        s = s / ns * draw(st.floats(0.01, 1))
    norms = np.linalg.norm(z, axis=1)
    z = z / np.maximum(norms, 1.0)[:, None]
    z = np.vstack([z, s])
    y = draw(arrays(np.float64, k + 1, elements=st.sampled_from([-1.0, 1.0])))
    return y[:, None] * z, y


def assert_gordan(z: np.ndarray, lam: np.ndarray, tol: float = CERT_TOL) -> None:
    """lam >= 0, sum(lam) = 1, ||Z^T lam|| <= tol: the origin is in conv{z_i}."""
    lam = np.asarray(lam)
    assert lam.shape == (z.shape[0],)
    assert np.all(lam >= 0.0), lam
    assert abs(lam.sum() - 1.0) <= 4 * z.shape[0] * EPS
    assert np.linalg.norm(z.T @ lam) <= tol


# --- Dataset ------------------------------------------------------------------------------


@given(separable_sets())
def test_valid_data_give_a_consistent_dataset(case) -> None:
    x, y, _, _ = case
    ds = make_dataset(x, y)
    assert (ds.n, ds.d) == x.shape
    for arr in (ds.x, ds.y, ds.z):
        assert arr.dtype == np.float64
        assert not arr.flags.writeable
    np.testing.assert_array_equal(ds.x, x)
    np.testing.assert_array_equal(ds.y, y)
    np.testing.assert_array_equal(ds.z, y[:, None] * x)
    assert ds == make_dataset(x.tolist(), y.tolist())
    assert hash(ds) == hash(make_dataset(x.copy(), y.copy()))


def test_dataset_is_immutable() -> None:
    x, y = SEP_X.copy(), SEP_Y.copy()
    ds = make_dataset(x, y)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.x = x  # type: ignore[misc]
    for arr in (ds.x, ds.y, ds.z):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0.0
        with pytest.raises(ValueError):
            arr.setflags(write=True)
    # The caller's arrays are copied, not aliased.
    x[0, 0] = 0.9
    y[0] = -1.0
    assert ds.x[0, 0] == 0.5 and ds.y[0] == 1.0
    # Copies are frozen too.
    for clone in (copy.deepcopy(ds), pickle.loads(pickle.dumps(ds)), copy.copy(ds)):
        assert clone == ds
        assert not clone.x.flags.writeable and not clone.z.flags.writeable


def test_dataset_constructor_checks_structure() -> None:
    ds = Dataset(SEP_X, SEP_Y)  # z computed
    np.testing.assert_array_equal(ds.z, SEP_Y[:, None] * SEP_X)
    with pytest.raises(ShapeError, match="not y"):
        Dataset(SEP_X, SEP_Y, SEP_X)
    with pytest.raises(ShapeError, match=r"must be \(3,\)"):
        Dataset(SEP_X, SEP_Y[:2])
    with pytest.raises(ShapeError, match="2-D"):
        Dataset(SEP_X[0], SEP_Y[:1])


def test_integer_input_is_accepted() -> None:
    ds = make_dataset(np.array([[1, 0], [0, 1]]), np.array([1, 1]))
    assert ds.x.dtype == np.float64 and ds.y.dtype == np.float64


# --- errors, one per type, with useful messages --------------------------------------------


@pytest.mark.parametrize(
    ("x", "y", "pattern"),
    [
        (np.array([0.1, 0.2, 0.3]), np.ones(3), r"Reshape to \(n, 1\)"),
        (np.zeros((2, 2, 2)), np.ones(2), "3 dimension"),
        (np.zeros((0, 2)), np.ones(0), r"n = 0"),
        (np.zeros((2, 0)), np.ones(2), r"d = 0"),
        (SEP_X, np.ones(2), "2 labels but x has n = 3"),
        (SEP_X, np.ones((3, 1)), r"y\.ravel\(\)"),
        (0.5, 1.0, "0 dimension"),
    ],
)
def test_shape_errors(x, y, pattern) -> None:
    with pytest.raises(ShapeError, match=pattern):
        make_dataset(x, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x_names_the_first_bad_entry(bad: float) -> None:
    x = np.full((4, 3), 0.1)
    x[2, 1] = bad
    x[3, 0] = bad
    with pytest.raises(NonFiniteError, match=r"x\[2, 1\] = -?(nan|inf).*Remove point 2"):
        make_dataset(x, np.ones(4))


def test_non_finite_y_names_the_index() -> None:
    y = SEP_Y.copy()
    y[1] = np.nan
    with pytest.raises(NonFiniteError, match=r"y\[1\] = nan"):
        make_dataset(SEP_X, y)


@pytest.mark.parametrize(("label", "shown"), [(0.0, "0.0"), (2.0, "2.0"), (-0.5, "-0.5")])
def test_bad_labels(label: float, shown: str) -> None:
    y = SEP_Y.copy()
    y[2] = label
    with pytest.raises(LabelError, match=rf"y\[2\] = {shown}.*exactly -1 or \+1"):
        make_dataset(SEP_X, y)


def test_zero_one_labels_get_a_conversion_hint() -> None:
    with pytest.raises(LabelError, match=r"y = 2 \* y - 1"):
        make_dataset(SEP_X, np.array([1.0, 0.0, 1.0]))


def test_norm_just_above_one_is_rejected() -> None:
    x = SEP_X.copy()
    x[1] = [1.0 + 1e-6, 0.0]
    with pytest.raises(NormError, match=r"\|\|x\[1\]\|\| = 1\.000001.*Rescale"):
        make_dataset(x, SEP_Y)


@pytest.mark.parametrize("d", [1, 2, 5, 8])
def test_norm_slack_boundary(d: int) -> None:
    slack = unit_norm_slack(d)
    assert slack == (d + 3) * EPS
    e = np.zeros((1, d))
    e[0, 0] = 1.0 + 2 * EPS  # within the rounding slack
    make_dataset(e, np.ones(1))
    with pytest.raises(NormError):
        make_dataset(e, np.ones(1), norm_slack=0.0)
    e[0, 0] = 1.0 + 2 * slack  # clearly outside
    with pytest.raises(NormError):
        make_dataset(e, np.ones(1))
    with pytest.raises(DataError, match="norm_slack"):
        make_dataset(e, np.ones(1), norm_slack=-1.0)


@given(
    arrays(
        np.float64,
        st.integers(1, 256),
        elements=st.floats(-1e6, 1e6, allow_subnormal=False),
    ).filter(lambda v: np.linalg.norm(v) > 1e-6)
)
def test_float_normalised_vectors_fit_the_slack(v: np.ndarray) -> None:
    """The derivation of unit_norm_slack: every usual way of normalising passes."""
    d = v.size
    bound = 1.0 + unit_norm_slack(d)
    for u in (v / np.linalg.norm(v), v / math.sqrt(float(v @ v)), v / math.hypot(*v)):
        assert np.linalg.norm(u) <= bound
        make_dataset(u[None, :], np.ones(1))


def test_complex_and_non_numeric_input() -> None:
    with pytest.raises(DataError, match="complex"):
        make_dataset(SEP_X.astype(complex), SEP_Y)
    with pytest.raises(DataError, match="float64"):
        make_dataset(np.array([["a", "b"]]), np.ones(1))


def test_validation_order() -> None:
    """shapes, then non-finite, then labels, then norms, then separability."""
    x = XOR_X * 2.0  # too long and not separable
    y = XOR_Y.copy()
    y[0] = 3.0  # bad label
    x_nan = x.copy()
    x_nan[1, 1] = np.nan
    with pytest.raises(ShapeError):
        make_dataset(x_nan, y[:3])
    with pytest.raises(NonFiniteError):
        make_dataset(x_nan, y)
    with pytest.raises(LabelError):
        make_dataset(x, y)
    with pytest.raises(NormError):
        make_dataset(x, XOR_Y)
    with pytest.raises(NonSeparableError):
        make_dataset(XOR_X, XOR_Y)


# --- separability ----------------------------------------------------------------------------


def test_xor_is_not_separable_with_a_certificate() -> None:
    with pytest.raises(NonSeparableError, match=r"all 4 points.*label noise") as info:
        make_dataset(XOR_X, XOR_Y)
    assert_gordan(XOR_Y[:, None] * XOR_X, info.value.certificate)
    ds = make_dataset(XOR_X, XOR_Y, require_separable=False)
    assert ds.n == 4


def test_a_zero_input_makes_data_non_separable() -> None:
    x = SEP_X.copy()
    x[1] = 0.0
    with pytest.raises(NonSeparableError, match=r"x_i = 0 at 1 index\(es\) \[1\]") as info:
        make_dataset(x, SEP_Y)
    lam = info.value.certificate
    assert_gordan(SEP_Y[:, None] * x, lam, tol=0.0)
    assert lam[1] == 1.0


@given(non_separable_sets())
def test_planted_non_separable_data_get_a_valid_certificate(case) -> None:
    x, y = case
    with pytest.raises(NonSeparableError) as info:
        make_dataset(x, y)
    z = y[:, None] * x
    assert_gordan(z, info.value.certificate)
    res = separability_certificate(z)
    assert not res.separable and res.direction is None
    assert res.certificate_residual == pytest.approx(np.linalg.norm(z.T @ res.certificate))
    message = str(info.value)
    assert f"all {z.shape[0]} points" in message or "x_i = 0 at" in message


@given(separable_sets(), st.integers(-900, 900))
def test_separable_data_get_a_verified_direction(case, k: int) -> None:
    """The direction separates, at any scale (separability is scale-invariant)."""
    x, y, _, _ = case
    z = np.ldexp(y[:, None] * x, k)
    res = separability_certificate(z)
    assert res.separable and res.certificate is None
    assert abs(np.linalg.norm(res.direction) - 1.0) <= 4 * EPS
    assert res.margin == np.min(z @ res.direction) > 0.0
    assert res.support.size == 0


def test_separability_rejects_bad_z() -> None:
    with pytest.raises(ShapeError, match="2-D"):
        separability_certificate(np.ones(3))
    with pytest.raises(NonFiniteError, match=r"z\[0, 1\]"):
        separability_certificate(np.array([[1.0, np.inf]]))
