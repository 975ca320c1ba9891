"""Every exception the library raises on purpose.

Each one says what went wrong and what to do about it; callers can catch the
family (:class:`InvariantsError`) or one specific case.
"""

from __future__ import annotations

from typing import Any


class InvariantsError(Exception):
    """Root of every deliberate error raised by :mod:`invariants`."""


# --- input data -----------------------------------------------------------------


class DataError(InvariantsError, ValueError):
    """The data set is unusable as given."""


class ShapeError(DataError):
    """Arrays have the wrong number of dimensions or inconsistent sizes."""


class NonFiniteError(DataError):
    """An input contains NaN or +-inf."""


class LabelError(DataError):
    """A label is not in {-1, +1}."""


class NormError(DataError):
    """Some ``||x_i|| > 1``; the paper assumes the data lie in the unit ball."""


class NonSeparableError(DataError):
    """No unit vector u has ``<u, z_i> > 0`` for every i.

    ``certificate`` holds the Farkas/Gordan witness: a probability vector
    ``lam`` with ``||Z^T lam||`` (numerically) zero, i.e. the origin lies in
    the convex hull of the z_i.
    """

    def __init__(self, message: str, certificate: Any = None) -> None:
        super().__init__(message)
        self.certificate = certificate


# --- architecture and initialisation -------------------------------------------------


class ArchitectureError(InvariantsError, ValueError):
    """Depth < 1, a non-positive width, or layer shapes that do not chain."""


class AssumptionError(InvariantsError, ValueError):
    """A paper assumption (A1-A5) the caller relies on does not hold."""


# --- solvers ---------------------------------------------------------------------------


class CertificateError(InvariantsError, RuntimeError):
    """A solver's answer failed its own optimality certificate."""


class TrajectoryError(InvariantsError, RuntimeError):
    """An integrated path violated a guard; the partial path is attached.

    ``partial`` is the :class:`~invariants.dynamics.flow.Trajectory` recorded up to the
    last checkpoint that passed every guard, so no work is lost.
    """

    def __init__(self, message: str, partial: Any = None) -> None:
        super().__init__(message)
        self.partial = partial


class RiskIncreaseError(TrajectoryError):
    """log R rose by more than the integrator's error allows (violates S-EQ1)."""


class InvariantDriftError(TrajectoryError):
    """A conserved quantity (S-EQ2) drifted beyond the integrator's error."""


class SolverDegradedError(TrajectoryError):
    """The ODE solver failed, stalled, or returned non-finite values."""


class CriticalPointError(TrajectoryError):
    """The path ran into a zero of grad R, where the time change ``ds = c dt`` is singular.

    The exact flow approaches such a point only as ``t -> inf`` (typically when
    A2 fails, S-A2b); a normalised field would step across it onto another path.
    """


# --- run configuration ----------------------------------------------------------


class DatabaseUnavailableError(InvariantsError, RuntimeError):
    """The shared example database (``INVARIANTS_DATABASE``) cannot be used.

    Raised at configuration time, before any example is drawn: an unreachable
    Redis server, a missing ``redis`` package or a malformed URL. The message is
    one line naming the cause.
    """


class DatabaseEntrySkippedWarning(UserWarning):
    """An entry of the shared example database was skipped: malformed or not ours.

    A value that is not bytes, a value under one of Hypothesis's keys that does not decode
    as a choice sequence (truncated, or written by another project or Hypothesis version),
    or a key the server cannot read as a set (another program's key of the same name).
    One line per key and cause, once per process; the run goes on. ``pyproject.toml``
    shows this category (``default``) instead of raising it, by design: the entry belongs
    to the shared database, not to the code under test, so it must not fail a run.
    """
