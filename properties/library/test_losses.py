"""Properties of the two losses (serve S-EQ1, S-L4, S-L5; assumptions A1 and A4).

Accuracy is checked against mpmath at 50 digits; the checks are plain helper
functions so the meta-tests at the bottom exercise the same assertions on
planted bugs.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from invariants.core.losses import EXPONENTIAL, LOGISTIC, LOSSES, Loss, get_loss
from invariants.core.rounding import EPS, TINY

FORMS = ("value", "d1", "d2", "log_value", "log_neg_d1", "log_d2")
LOG_FORMS = FORMS[3:]
PLAIN_DERIVATIVE = {"value": "d1", "d1": "d2"}  # form -> form that is its derivative
SUBNORMAL = float(np.finfo(np.float64).smallest_subnormal)
LOG_VALUE_ZERO = float(-mp.log(mp.e - 1))  # logistic log_value crosses 0 here: ~ -0.5413

# Backward-stable accuracy. If the computed answer is exactly f(m (1 + d)) with |d| <= RTOL,
# then computed - f(m) = f'(m) m d + O(d^2), i.e. |err| <= RTOL |m f'(m)|; a forward error
# of RTOL |f(m)| is allowed too. So |err| <= RTOL max(|f|, |m f'|). Pure relative error
# |err|/|f| is ill-conditioned where f crosses 0 (log_value at LOG_VALUE_ZERO, the exponential's
# log forms at 0): there even a correctly rounded answer can have relative error 1, while
# |m f'| stays a fixed scale. Below 2.2e-308 floats are subnormal, spaced SUBNORMAL apart, so
# no float is nearer the truth than that; allow 2 spacings absolute (log_neg_d1, m < -708).
RTOL = 1e-13
FLOOR = 2 * SUBNORMAL
NORMAL_RANGE = (1e-300, 1e300)  # plain forms are compared to mpmath only inside this range

EXAMPLES = (0.0, 1e-8, -1e-8, LOG_VALUE_ZERO, 36.0, -36.0, 37.0, -37.0, 709.0, -709.0)
EXAMPLES += (710.0, -710.0, 745.0, -745.0, 746.0, -746.0, 1e5, -1e5)


def with_examples(*margins: float) -> Callable:
    """Apply ``@example(m=...)`` for each margin."""

    def decorate(test: Callable) -> Callable:
        for m in margins:
            test = example(m=m)(test)
        return test

    return decorate


# --- mpmath reference -----------------------------------------------------------------


def reference(loss_name: str, form: str, m: float) -> tuple[mp.mpf, mp.mpf]:
    """(f(m), f'(m)) at 50 digits; no cancellation (log1p, tanh) so tiny values are exact."""
    with mp.workdps(50):
        x = mp.mpf(m)  # exact: every float is an mpf
        if loss_name == "exponential":
            e = mp.exp(-x)
            table = {"value": (e, -e), "d1": (-e, e), "d2": (e, -e)}
            table |= {name: (-x, mp.mpf(-1)) for name in LOG_FORMS}
            return table[form]
        p, q = 1 / (1 + mp.exp(x)), 1 / (1 + mp.exp(-x))  # sigmoid(-x), sigmoid(x)
        v, w = mp.log1p(mp.exp(-x)), mp.log1p(mp.exp(x))  # softplus(-x), softplus(x)
        th = mp.tanh(x / 2)  # = q - p
        table = {
            "value": (v, -p),
            "d1": (-p, p * q),
            "d2": (p * q, -p * q * th),
            "log_value": (mp.log(v), -p / v),
            "log_neg_d1": (-w, -q),
            "log_d2": (-w - v, -th),
        }
        return table[form]


Ref = Callable[[float], tuple[mp.mpf, mp.mpf]]


def _backward_error_ok(c: float, r: mp.mpf, dr: mp.mpf, m: float) -> tuple[bool, float]:
    with mp.workdps(50):
        err = abs(mp.mpf(c) - r)
        tol = RTOL * max(abs(r), abs(mp.mpf(m) * dr)) + FLOOR
        return bool(err <= tol), float(err)


def check_log_form_accuracy(fn: Callable, ref: Ref, m: float) -> None:
    """A log form is finite and within the backward-stable tolerance of mpmath."""
    c = float(fn(m))
    assert math.isfinite(c), f"log form not finite at m={m!r}: {c!r}"
    r, dr = ref(m)
    ok, err = _backward_error_ok(c, r, dr, m)
    assert ok, f"m={m!r}: got {c!r}, want {mp.nstr(r, 20)}, |err|={err:.3e}"


def check_plain_form_accuracy(fn: Callable, ref: Ref, m: float) -> None:
    """A plain form matches mpmath in the normal range and saturates (0 or inf) outside it."""
    c = float(fn(m))
    assert not math.isnan(c), f"NaN at m={m!r}"
    r, dr = ref(m)
    lo, hi = NORMAL_RANGE
    if abs(r) > hi:  # not representable (or barely): must overflow with the right sign
        assert abs(c) >= hi / 10 and np.sign(c) == mp.sign(r), f"m={m!r}: got {c!r}"
    elif abs(r) < lo:  # underflow to 0 is fine
        assert abs(c) <= lo * 10 and np.sign(c) * mp.sign(r) >= 0, f"m={m!r}: got {c!r}"
    else:
        ok, err = _backward_error_ok(c, r, dr, m)
        assert ok, f"m={m!r}: got {c!r}, want {mp.nstr(r, 20)}, |err|={err:.3e}"


# Every derivative of order 2..4 of either loss is bounded on [m - h, m + h] by:
#   exponential: |loss^(k)| = exp(-x) <= exp(-(m - h));
#   logistic: loss'' = s'(x) with s the sigmoid, loss''' = -s'', loss'''' = s''', and
#   s'' = s'(1 - 2s), s''' = s'(1 - 6 s') with |1 - 2s| <= 1, |1 - 6s'| <= 1 (s' <= 1/4),
#   so |loss^(k)| <= s'(x) <= min(1/4, exp(-|x|)) <= min(1/4, exp(h - |m|)).
def higher_derivative_bound(loss: Loss, m: float, h: float) -> float:
    if loss.name == "exponential":
        return math.exp(h - m)
    return min(0.25, math.exp(h - abs(m)))


def check_derivative_consistency(f: Callable, df: Callable, m: float, bound: float) -> None:
    """df(m) equals the central difference of f at m, to a derived tolerance.

    (f(m + h) - f(m - h)) / 2h = f'(m) + (h^2/6) f'''(xi): truncation <= h^2 bound / 6.
    Each evaluation of f or df is accurate to ULPS * EPS relative (the forms are measured to
    < 5 ulp against mpmath above), which the difference quotient amplifies by 1 / 2h.
    """
    ulps = 16
    xp, xm = m + 1e-5 * max(1.0, abs(m)), m - 1e-5 * max(1.0, abs(m))
    step = xp - xm  # the step actually taken (xp, xm are rounded)
    fp, fm, dfm = float(f(xp)), float(f(xm)), float(df(m))
    fd = (fp - fm) / step
    trunc = (step / 2) ** 2 / 6 * bound
    rounding = ulps * EPS * ((abs(fp) + abs(fm)) / step + abs(dfm))
    assert abs(fd - dfm) <= trunc + rounding, (
        f"m={m!r}: finite difference {fd!r} vs derivative {dfm!r} (tol {trunc + rounding:.3e})"
    )


def check_a4_constants(loss: Loss) -> None:
    """beta = sup |loss''| (attained at 0), G = sup |loss'| (approached at -inf)."""
    assert loss.satisfies_a4 and loss.beta is not None and loss.G is not None
    grid = np.concatenate([np.linspace(-60.0, 60.0, 240_001), [0.0]])
    d2, d1 = loss.d2(grid), loss.d1(grid)
    assert float(loss.d2(0.0)) == loss.beta, "sup |loss''| must be attained at 0"
    assert float(np.max(np.abs(d2))) == loss.beta
    assert float(np.max(np.abs(d1))) <= loss.G
    assert float(np.max(np.abs(d1))) >= loss.G * (1 - EPS), "sup |loss'| must be approached"
    assert float(np.max(loss.log_neg_d1(grid))) <= math.log(loss.G)


# --- properties -----------------------------------------------------------------------


@pytest.mark.parametrize("form", LOG_FORMS)
@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
@settings(deadline=None)
@given(m=st.floats(-1e5, 1e5))
@with_examples(*EXAMPLES)
def test_log_forms_match_mpmath(loss: Loss, form: str, m: float) -> None:
    ref = functools.partial(reference, loss.name, form)
    check_log_form_accuracy(getattr(loss, form), ref, m)


@pytest.mark.parametrize("form", FORMS[:3])
@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
@settings(deadline=None)
@given(m=st.floats(-1e5, 1e5))
@with_examples(*EXAMPLES)
def test_plain_forms_match_mpmath(loss: Loss, form: str, m: float) -> None:
    ref = functools.partial(reference, loss.name, form)
    check_plain_form_accuracy(getattr(loss, form), ref, m)


@pytest.mark.parametrize("form", PLAIN_DERIVATIVE)
@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
@given(m=st.floats(-30, 30))
@with_examples(0.0, 1e-8, -1e-8, LOG_VALUE_ZERO, 30.0, -30.0)
def test_derivatives_are_consistent(loss: Loss, form: str, m: float) -> None:
    f, df = getattr(loss, form), getattr(loss, PLAIN_DERIVATIVE[form])
    check_derivative_consistency(f, df, m, higher_derivative_bound(loss, m, 1e-5 * max(1, abs(m))))


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
@given(m=st.floats(allow_nan=False, allow_infinity=False))
@with_examples(*EXAMPLES, 1.7e308, -1.7e308, 5e-324)
def test_finite_everywhere_and_a1(loss: Loss, m: float) -> None:
    """A1: loss' < 0, loss > 0; log forms finite for every finite m, plain forms never NaN."""
    logs = [float(getattr(loss, form)(m)) for form in LOG_FORMS]
    assert all(map(math.isfinite, logs)), logs  # loss, -loss', loss'' > 0 in the log domain
    value, d1, d2 = (float(getattr(loss, form)(m)) for form in FORMS[:3])
    assert not any(map(math.isnan, (value, d1, d2)))
    assert value >= 0 and d1 <= 0 and d2 >= 0
    if loss.log_neg_d1(m) > math.log(TINY):
        assert d1 < 0  # strictly negative wherever representable


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
@given(a=st.floats(-1e5, 1e5), b=st.floats(-1e5, 1e5))
def test_a1_monotone(loss: Loss, a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert loss.log_value(lo) >= loss.log_value(hi)
    assert loss.value(lo) >= loss.value(hi)


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
def test_a1_limits(loss: Loss) -> None:
    """loss -> 0 at +inf (loss(m) <= exp(-m)), loss -> inf at -inf (loss(m) >= -m)."""
    ms = np.geomspace(1.0, 1e300, 301)
    assert np.all(loss.log_value(ms) <= -ms + 1e-15 * ms)
    assert np.all(loss.log_value(-ms) >= np.log(ms))
    assert loss.value(1e5) == 0.0 and loss.log_value(-1e300) > 690


def test_a4_logistic() -> None:
    assert LOGISTIC.beta == 0.25 and LOGISTIC.G == 1.0
    check_a4_constants(LOGISTIC)


@given(a=st.floats(-50, 50), b=st.floats(-50, 50))
def test_a4_logistic_lipschitz(a: float, b: float) -> None:
    """loss' is beta-Lipschitz and loss is G-Lipschitz (up to 16 ulp of rounding)."""
    assert LOGISTIC.beta is not None and LOGISTIC.G is not None
    for f, const in ((LOGISTIC.d1, LOGISTIC.beta), (LOGISTIC.value, LOGISTIC.G)):
        fa, fb = float(f(a)), float(f(b))
        assert abs(fa - fb) <= const * abs(a - b) + 16 * EPS * (abs(fa) + abs(fb))


def test_exponential_fails_a4() -> None:
    assert not EXPONENTIAL.satisfies_a4 and EXPONENTIAL.beta is None and EXPONENTIAL.G is None
    assert EXPONENTIAL.d2(-50.0) > 1e20 and -EXPONENTIAL.d1(-50.0) > 1e20
    assert EXPONENTIAL.log_d2(-1e5) == 1e5  # loss'' unbounded, still finite in the log domain


@pytest.mark.parametrize("loss", LOSSES.values(), ids=LOSSES.keys())
@pytest.mark.parametrize("form", FORMS)
def test_vectorised_and_special_inputs(loss: Loss, form: str) -> None:
    fn = getattr(loss, form)
    ms = np.array(EXAMPLES).reshape(2, -1)
    out = fn(ms)
    assert out.shape == ms.shape and out.dtype == np.float64
    assert np.array_equal(out, np.vectorize(lambda x: float(fn(x)))(ms))
    assert isinstance(fn(1.0), np.floating) and isinstance(fn(1), np.floating)
    assert math.isnan(fn(math.nan))  # propagates, no warning (warnings are errors)
    assert not np.isnan(fn(np.array([np.inf, -np.inf]))).any()


def test_get_loss() -> None:
    assert get_loss("logistic") is LOGISTIC and get_loss("exponential") is EXPONENTIAL
    assert set(LOSSES) == {"logistic", "exponential"}
    with pytest.raises(ValueError, match=r"exponential.*logistic"):
        get_loss("hinge")


# --- negative controls: the checks above catch planted bugs ------------------------------


def _naive_logistic_log_value(m: float) -> float:
    with np.errstate(all="ignore"):
        return np.log(np.log1p(np.exp(-np.float64(m))))


@pytest.mark.meta
def test_meta_accuracy_check_catches_naive_log_value() -> None:
    ref = functools.partial(reference, "logistic", "log_value")
    check_log_form_accuracy(LOGISTIC.log_value, ref, 800.0)  # the real one passes
    check_log_form_accuracy(_naive_logistic_log_value, ref, 1.0)  # naive is fine here...
    with pytest.raises(AssertionError, match="not finite"):
        check_log_form_accuracy(_naive_logistic_log_value, ref, 800.0)  # ...not here
    with pytest.raises(AssertionError, match="err"):  # the asymptote -m used too early
        check_log_form_accuracy(lambda m: -m, ref, 5.0)


@pytest.mark.meta
def test_meta_plain_check_catches_nan_and_wrong_values() -> None:
    ref = functools.partial(reference, "exponential", "value")
    with pytest.raises(AssertionError, match="NaN"):
        check_plain_form_accuracy(lambda m: math.nan, ref, 800.0)
    with pytest.raises(AssertionError):  # a value that saturates to 0 instead of inf
        check_plain_form_accuracy(lambda m: 0.0, ref, -800.0)


@pytest.mark.meta
def test_meta_derivative_check_catches_wrong_sign() -> None:
    bound = higher_derivative_bound(LOGISTIC, 0.3, 1e-5)
    check_derivative_consistency(LOGISTIC.value, LOGISTIC.d1, 0.3, bound)
    with pytest.raises(AssertionError, match="finite difference"):
        check_derivative_consistency(LOGISTIC.value, lambda m: -LOGISTIC.d1(m), 0.3, bound)
    with pytest.raises(AssertionError, match="finite difference"):  # d2 off by 1 %
        check_derivative_consistency(LOGISTIC.d1, lambda m: 1.01 * LOGISTIC.d2(m), 0.3, bound)


@pytest.mark.meta
@pytest.mark.parametrize("beta", [0.125, 1.0])
def test_meta_a4_check_catches_wrong_beta(beta: float) -> None:
    with pytest.raises(AssertionError):
        check_a4_constants(dataclasses.replace(LOGISTIC, beta=beta))
