"""The two losses of the paper, in plain and log-domain forms.

Used by S-EQ1 (risk and its gradient), S-L4 (exp / logistic gradient sign) and
S-L5 (the A4 constants beta and G). A1 holds for both losses; A4 only for the
logistic (loss'' <= 1/4 = beta, |loss'| <= 1 = G).

Every function takes a float or an array of margins m and works elementwise in
float64. The log forms are finite and accurate for every finite m. The plain
forms are ``exp`` of the log forms (the logistic ones by equally accurate closed
forms); for the exponential loss they are +-inf at m < -709.78, where the true
value is not representable, so code in the asymptotic regime must use the log
forms. Plain forms may underflow to 0.
No function emits a floating-point warning; NaN input gives NaN output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Form = Callable[[FloatArray], FloatArray]

# Above this margin log(log1p(exp(-m))) = -m + log(log1p(t)/t), t = exp(-m) < 1e-13,
# and log(log1p(t)/t) = -t/2 + 5t^2/24 - ...: dropping t^2 costs < 1e-26 absolute.
_SERIES_FROM = 30.0
_LOG_MAX = float(np.log(np.finfo(np.float64).max))  # 709.78...: exp(x) is finite iff x <= this


def softplus(x: FloatArray) -> FloatArray:
    """``ln(1 + exp(x))`` without overflow: ``max(x, 0) + log1p(exp(-|x|))``."""
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def sigmoid(x: FloatArray) -> FloatArray:
    """``1 / (1 + exp(-x))`` without overflow (both branches use ``exp(-|x|) <= 1``)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# --- exponential loss: loss(m) = exp(-m); all three log forms equal -m ----------------


def exp_log_form(m: FloatArray) -> FloatArray:
    """log loss = log(-loss') = log loss'' = -m for the exponential loss (exact)."""
    return -m


def exp_value(m: FloatArray) -> FloatArray:
    """exp(-m); inf for m < -709.78, where it is not representable (use exp_log_form).

    The inf is set explicitly rather than by letting exp overflow, so not even the
    floating-point overflow flag is raised (an errstate would leave the flag set, which
    an enclosing ufunc such as np.vectorize then reports).
    """
    return np.where(m < -_LOG_MAX, np.inf, np.exp(-np.maximum(m, -_LOG_MAX)))


def exp_d1(m: FloatArray) -> FloatArray:
    """loss'(m) = -exp(-m); -inf for m < -709.78."""
    return -exp_value(m)


# --- logistic loss: loss(m) = ln(1 + exp(-m)) ------------------------------------------


def logistic_value(m: FloatArray) -> FloatArray:
    """ln(1 + exp(-m)) = softplus(-m)."""
    return softplus(-m)


def logistic_d1(m: FloatArray) -> FloatArray:
    """loss'(m) = -1 / (1 + exp(m)) = -sigmoid(-m)."""
    return -sigmoid(-m)


def logistic_d2(m: FloatArray) -> FloatArray:
    """loss''(m) = sigmoid(m) sigmoid(-m) = e / (1 + e)^2 with e = exp(-|m|); max 1/4 at 0."""
    e = np.exp(-np.abs(m))
    return e / (1.0 + e) ** 2


def logistic_log_value(m: FloatArray) -> FloatArray:
    """log ln(1 + exp(-m)).

    For m <= 30 this is ``log(softplus(-m))`` (softplus(-m) >= 9e-14, no underflow).
    For m > 30 it is ``-m + log(log1p(t)/t)`` with t = exp(-m), evaluated by the
    series ``-m - t/2`` (t may underflow to 0: the correction is then 0).
    """
    near = np.log(softplus(-np.minimum(m, _SERIES_FROM)))
    far_m = np.maximum(m, _SERIES_FROM)
    far = -far_m - 0.5 * np.exp(-far_m)
    return np.where(m <= _SERIES_FROM, near, far)


def logistic_log_neg_d1(m: FloatArray) -> FloatArray:
    """log(-loss'(m)) = -softplus(m)."""
    return -softplus(m)


def logistic_log_d2(m: FloatArray) -> FloatArray:
    """log loss''(m) = -softplus(m) - softplus(-m) = -|m| - 2 log1p(exp(-|m|))."""
    a = np.abs(m)
    return -a - 2.0 * np.log1p(np.exp(-a))


# --- the dataclass --------------------------------------------------------------------


def _as_f64(m: npt.ArrayLike) -> FloatArray:
    return np.asarray(m, dtype=np.float64)


@dataclass(frozen=True)
class Loss:
    """A margin loss with its A4 constants (None when A4 fails).

    ``beta`` bounds |loss''| (loss' is beta-Lipschitz), ``G`` bounds |loss'|.
    Each method takes a float or an array and returns float64 of the same shape.
    """

    name: str
    beta: float | None
    G: float | None
    satisfies_a4: bool
    value_fn: Form = field(repr=False)
    d1_fn: Form = field(repr=False)
    d2_fn: Form = field(repr=False)
    log_value_fn: Form = field(repr=False)
    log_neg_d1_fn: Form = field(repr=False)
    log_d2_fn: Form = field(repr=False)

    def _eval(self, fn: Form, m: npt.ArrayLike) -> FloatArray:
        with np.errstate(under="ignore"):  # underflow to 0 is the right answer here
            return np.asarray(fn(_as_f64(m)), dtype=np.float64)[()]

    def value(self, m: npt.ArrayLike) -> FloatArray:
        """loss(m); may overflow to inf (exponential, m < -709.78): see log_value."""
        return self._eval(self.value_fn, m)

    def d1(self, m: npt.ArrayLike) -> FloatArray:
        """loss'(m) < 0; may overflow to -inf (exponential, m < -709.78)."""
        return self._eval(self.d1_fn, m)

    def d2(self, m: npt.ArrayLike) -> FloatArray:
        """loss''(m) > 0; may overflow to inf (exponential, m < -709.78)."""
        return self._eval(self.d2_fn, m)

    def log_value(self, m: npt.ArrayLike) -> FloatArray:
        """log loss(m), finite for every finite m."""
        return self._eval(self.log_value_fn, m)

    def log_neg_d1(self, m: npt.ArrayLike) -> FloatArray:
        """log(-loss'(m)) = log|loss'(m)|, finite for every finite m."""
        return self._eval(self.log_neg_d1_fn, m)

    def log_d2(self, m: npt.ArrayLike) -> FloatArray:
        """log loss''(m), finite for every finite m."""
        return self._eval(self.log_d2_fn, m)


EXPONENTIAL = Loss(
    name="exponential",
    beta=None,  # loss'' = exp(-m) is unbounded: A4 fails
    G=None,
    satisfies_a4=False,
    value_fn=exp_value,
    d1_fn=exp_d1,
    d2_fn=exp_value,
    log_value_fn=exp_log_form,
    log_neg_d1_fn=exp_log_form,
    log_d2_fn=exp_log_form,
)

LOGISTIC = Loss(
    name="logistic",
    beta=0.25,  # sup loss'' = loss''(0) = 1/4
    G=1.0,  # sup |loss'| = lim_{m -> -inf} 1/(1 + exp(m)) = 1
    satisfies_a4=True,
    value_fn=logistic_value,
    d1_fn=logistic_d1,
    d2_fn=logistic_d2,
    log_value_fn=logistic_log_value,
    log_neg_d1_fn=logistic_log_neg_d1,
    log_d2_fn=logistic_log_d2,
)

LOSSES: dict[str, Loss] = {loss.name: loss for loss in (EXPONENTIAL, LOGISTIC)}


def get_loss(name: str) -> Loss:
    """The loss called ``name``; ValueError listing the valid names otherwise."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; valid names: {sorted(LOSSES)}") from None
