"""Argument validation of the strategies: bad arguments raise when a strategy is built.

Style after ``data-apis/array-api-tests`` (``hypothesis_helpers``): every public strategy
validates its arguments eagerly, so an invalid argument raises
:class:`hypothesis.errors.InvalidArgument` when the strategy is built, not when it is
drawn from.  These are the shared checks (integer ranges, choices among named kinds,
floats, scale ranges); they draw nothing.  Serves no statement directly: it guards every
strategy of :mod:`invariants.strategies`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis.errors import InvalidArgument

#: An int or an inclusive ``(lo, hi)`` range of ints, as the strategies accept them.
IntRange = int | tuple[int, int]


def int_range(value: IntRange, name: str, minimum: int) -> tuple[int, int]:
    """``value`` as an inclusive ``(lo, hi)`` with ``minimum <= lo <= hi``."""
    if isinstance(value, bool):
        raise InvalidArgument(f"{name}={value!r} must be an int or a (lo, hi) pair of ints")
    if isinstance(value, int):
        lo = hi = value
    else:
        try:
            lo, hi = value
        except (TypeError, ValueError):
            raise InvalidArgument(
                f"{name}={value!r} must be an int or a (lo, hi) pair of ints"
            ) from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi)):
        raise InvalidArgument(f"{name}={value!r} must hold ints")
    if not minimum <= lo <= hi:
        raise InvalidArgument(f"{name}={value!r} needs {minimum} <= lo <= hi")
    return int(lo), int(hi)


def choices(value: str | Sequence[str] | None, allowed: tuple[str, ...], name: str) -> tuple:
    """Normalise a single name / list of names / None (= all) and validate it."""
    if value is None:
        chosen = allowed
    elif isinstance(value, str):
        chosen = (value,)
    else:
        chosen = tuple(value)
    if not chosen:
        raise InvalidArgument(f"{name} must name at least one of {allowed}")
    unknown = [c for c in chosen if c not in allowed]
    if unknown:
        raise InvalidArgument(f"unknown {name} {unknown}; valid: {allowed}")
    return tuple(dict.fromkeys(chosen))  # de-duplicated, order kept


def float_value(value: float, name: str) -> float:
    """``value`` as a float; an int is accepted, a bool or a non-number is not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{name}={value!r} must be a float")
    return float(value)


def scale_range(scale: tuple[float, float]) -> tuple[float, float]:
    """``scale`` as floats with ``0 < lo <= hi < inf``."""
    try:
        lo, hi = (float(v) for v in scale)
    except (TypeError, ValueError):
        raise InvalidArgument(f"scale={scale!r} must be a (lo, hi) pair of floats") from None
    if not (0.0 < lo <= hi < math.inf):
        raise InvalidArgument(f"scale={scale!r} needs 0 < lo <= hi < inf")
    return lo, hi
