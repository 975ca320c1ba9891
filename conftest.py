"""Suite-wide configuration: Hypothesis profiles, BLAS threads, library preload, database.

The report (options ``--invariants-report``, ``--invariants-baseline``,
``--invariants-shard``, the ``record_*`` fixtures, the run hooks and progress
lines) is the pytest plugin :mod:`invariants.report.plugin`, loaded below
through ``pytest_plugins``; it reads the profile from ``--invariants-profile``
and the database's description from ``config.invariants_database``.

Profiles (select with ``--hypothesis-profile NAME`` or ``INVARIANTS_PROFILE``):

- ``dev``    default; random, with the local example database.
- ``ci``     deterministic: derandomized, no database, ``print_blob``, no
             deadline.  The same commit gives the same examples and report.
- ``report`` deterministic like ``ci`` but with more examples (the main job).
- ``stress`` random, with the example database, many examples.
- ``triage`` like ``ci`` without shrinking: the first failure of each test,
             fast, for debugging long trajectories.
- ``replay`` like ``ci`` with no generation: only the examples saved in the
             example database are run (and shrunk); ``make fuzz`` reports
             its findings with it.

``INVARIANTS_DATABASE`` (or ``--invariants-database``) names a shared example
database, ``redis://host:port/db`` or a directory (invariants/database.py; a Redis
password comes from ``INVARIANTS_DATABASE_PASSWORD_FILE`` or
``INVARIANTS_DATABASE_PASSWORD`` and is masked wherever the database is named).
It replaces the profile's database; the deterministic profiles (ci, report,
triage, replay) read it only (ReadOnlyDatabase), so they replay what stress
and fuzz runs found and never write. Without it nothing changes.

Hypothesis registers its own "ci" profile and loads it whenever the ``CI``
environment variable is set (docs/numerics.md, "Tooling facts").  Each profile here is
registered with an explicit parent so that ours wins, and one is always
loaded explicitly below.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

# One BLAS thread per process: xdist runs one worker per core, and
# oversubscribed BLAS threads make runs slower and timing noisy. Must happen
# before numpy is imported anywhere.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

# Assertion rewriting for the claim checks, the controls' assertions and the problems: a bare
# ``assert`` in a check fails with its operands shown, as in a test module.  Registered before
# anything imports them (the preload below is the first).
pytest.register_assert_rewrite("properties")

from hypothesis import HealthCheck, Phase, Verbosity, settings  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402
from hypothesis.internal.reflection import function_digest  # noqa: E402

from invariants.database import describe, open_database  # noqa: E402
from invariants.errors import DatabaseUnavailableError  # noqa: E402

# The report: its options, fixtures and hooks (invariants/report/plugin.py).
pytest_plugins = ["invariants.report.plugin"]

# Hypothesis draws about 5% of its values from literal constants found in the *local* modules
# present in sys.modules at draw time (hypothesis.internal.conjecture.providers,
# _get_local_constants; test_*.py files are left out). A library module first imported
# *during* the run grows that pool on the one xdist worker that imported it: invariants.
# relu_figures (now invariants.report.fig2) was imported only by the report's figure code,
# which test_reporting.py calls, so under --dist loadfile every example drawn later on that
# worker depended on scheduling.
# Measured: 7 of 20 CI-profile runs of one commit drew a different S-T4 start (and S-L5 test
# point) than run 1. Importing every library module here, before any example is drawn,
# fixes the pool for the session. test_strategies.py checks that nothing escapes this.
PRELOADED_PACKAGES = ("invariants", "properties")


def _preload_library() -> frozenset[str]:
    """Import every non-test module of the suite's packages; return the local files loaded."""
    for package in PRELOADED_PACKAGES:
        path = importlib.import_module(package).__path__
        # walk_packages descends into subpackages (invariants.core,
        # properties.ji_telgarsky_2019.claims, ...):
        # every library module must be loaded before any worker draws a case, or a module
        # first imported mid-run shifts Hypothesis's derandomized seeds between workers.
        for info in pkgutil.walk_packages(path, package + "."):
            if not info.name.rpartition(".")[2].startswith("test_"):
                importlib.import_module(info.name)
    root = Path(__file__).resolve().parent
    return frozenset(
        str(Path(f).resolve())
        for m in list(sys.modules.values())
        if (f := getattr(m, "__file__", None)) and Path(f).resolve().is_relative_to(root)
    )


PRELOADED_FILES = _preload_library()

_BASE = settings.get_profile("default")
# ``record_slack`` is function-scoped on purpose: it accumulates the worst slack
# over every example of one test, so it must *not* be reset between examples.
_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]

settings.register_profile(
    "dev",
    parent=_BASE,
    max_examples=20,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "ci",
    parent=_BASE,
    max_examples=12,
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=_SLOW_OK,
)
settings.register_profile(
    "report",
    parent=settings.get_profile("ci"),
    max_examples=40,
)
settings.register_profile(
    "triage",
    parent=settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)
# Only the examples saved in the database: explicit ones, the reuse phase, and shrinking of a
# replayed failure (so the report gets the minimal example and its blob). Derandomized like
# ``ci``: Hypothesis keeps the reuse phase under derandomize=True as long as a database is
# set (engine.reuse_existing_test_cases needs only settings.database and a database key).
settings.register_profile(
    "replay",
    parent=settings.get_profile("ci"),
    phases=[Phase.explicit, Phase.reuse, Phase.shrink],
)
# Profiles that must give the same report for the same commit: a shared database is read-only.
DETERMINISTIC_PROFILES = ("ci", "report", "triage", "replay")
settings.register_profile(
    "stress",
    parent=_BASE,
    max_examples=400,
    deadline=None,
    print_blob=True,
    database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
    suppress_health_check=_SLOW_OK,
    phases=list(Phase),
    verbosity=Verbosity.normal,
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--invariants-profile",
        default=os.environ.get("INVARIANTS_PROFILE", "dev"),
        choices=["dev", "ci", "report", "stress", "triage", "replay"],
        help="Hypothesis profile of the suite (default: $INVARIANTS_PROFILE or dev).",
    )
    parser.addoption(
        "--invariants-database",
        default=os.environ.get("INVARIANTS_DATABASE") or None,
        help="Shared example database, redis://host:port/db or a directory (default: "
        "$INVARIANTS_DATABASE; unset: the profile's own); a Redis password from "
        "$INVARIANTS_DATABASE_PASSWORD_FILE or $INVARIANTS_DATABASE_PASSWORD. Read-only under "
        "the deterministic profiles " + ", ".join(DETERMINISTIC_PROFILES) + "; stated in the "
        "report, password masked.",
    )


def pytest_configure(config: pytest.Config) -> None:
    profile = config.getoption("--invariants-profile")
    settings.load_profile(profile)
    config.invariants_database = None  # type: ignore[attr-defined]
    spec = config.getoption("--invariants-database")
    if spec:
        read_only = profile in DETERMINISTIC_PROFILES
        try:
            db = open_database(spec, read_only=read_only)
        except DatabaseUnavailableError as exc:
            raise pytest.UsageError(str(exc)) from None
        # A child of the chosen profile with only the database replaced. derandomize is
        # inherited, not passed, so settings() accepts a database beside it.
        settings.register_profile(f"{profile}+database", parent=settings(), database=db)
        settings.load_profile(f"{profile}+database")
        config.invariants_database = describe(spec, read_only)  # type: ignore[attr-defined]
    config.invariants_profile = profile  # type: ignore[attr-defined]


def _share_database_key_with_hypofuzz(item: pytest.Item) -> None:
    """Give a ``@given`` test the example-database key HypoFuzz saves its failures under.

    HypoFuzz (collection.py) keys every test by ``function_digest`` of the inner test with
    the pytest node ID mixed in; Hypothesis's pytest plugin mixes the node ID in only for
    parametrized tests, so without this a failure found by ``make fuzz`` sat under a key
    no pytest run reads. The key is set as ``_hypothesis_internal_database_key`` (what
    ``find`` uses, read first by core.run_engine) rather than by mixing the node ID into
    the inner test: that would also change the derandomized seed (also a digest of the
    inner test) and so every example of the deterministic profiles.
    """
    fn = getattr(item, "obj", None)
    fn = getattr(fn, "__func__", fn)
    inner = getattr(getattr(fn, "hypothesis", None), "inner_test", None)
    if inner is None or hasattr(item, "callspec"):
        return  # parametrized: Hypothesis's plugin already keys it by node ID, as HypoFuzz does
    had = "_hypothesis_internal_add_digest" in inner.__dict__
    old = inner.__dict__.get("_hypothesis_internal_add_digest")
    inner._hypothesis_internal_add_digest = item.nodeid.encode()
    try:
        fn._hypothesis_internal_database_key = function_digest(inner)
    finally:
        if had:
            inner._hypothesis_internal_add_digest = old
        else:
            del inner._hypothesis_internal_add_digest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Key each ``@given`` test's examples as HypoFuzz does (the report's hook is the plugin's)."""
    for item in items:
        _share_database_key_with_hypofuzz(item)


def pytest_report_header(config: pytest.Config) -> str:
    header = f"invariants: hypothesis profile '{config.invariants_profile}'"  # type: ignore[attr-defined]
    database = getattr(config, "invariants_database", None)
    return header + (f", example database {database}" if database else "")
