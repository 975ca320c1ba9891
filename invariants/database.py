"""The example database shared by stress, fuzz and replay runs (``INVARIANTS_DATABASE``).

One setting selects it, a string read by :func:`open_database`:

- ``redis://HOST:PORT/DB``: Hypothesis's :class:`~hypothesis.extra.redis.RedisExampleDatabase`
  on that server (the ``redis`` client comes with the ``fuzz`` extra);
- anything else: a directory, :class:`~hypothesis.database.DirectoryBasedExampleDatabase`.

Every machine pointed at one Redis shares one database: a failure found by any
fuzz or stress worker is replayed first by every later run that reads it.

The ``redis`` package is imported lazily: ``conftest.py`` preloads this module
in every run (PRELOADED_PACKAGES), and runs that do not use Redis must neither
need the package nor see its import-time warnings.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    ExampleDatabase,
    ReadOnlyDatabase,
)

from invariants.errors import DatabaseUnavailableError

# A connect timeout short enough that an unreachable host fails the run at once instead of
# hanging it; the operation timeout bounds a server that stops answering mid-run.
CONNECT_TIMEOUT_S = 3.0
OPERATION_TIMEOUT_S = 30.0
REDIS_SCHEMES = ("redis", "rediss", "unix")


def is_redis(spec: str) -> bool:
    return urlsplit(spec).scheme in REDIS_SCHEMES


def describe(spec: str, read_only: bool) -> str:
    """One line for the report's run info: which database, and whether the run may write it."""
    kind = "Redis" if is_redis(spec) else "directory"
    return f"{kind} {spec} ({'read-only: replayed, never written' if read_only else 'read-write'})"


def _redis_database(spec: str) -> ExampleDatabase:
    try:
        import redis  # optional: `pip install -e '.[fuzz]'`
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError as exc:
        raise DatabaseUnavailableError(
            f"INVARIANTS_DATABASE={spec} needs the redis client: pip install -e '.[fuzz]' ({exc})"
        ) from None
    try:
        client = redis.Redis.from_url(
            spec,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=OPERATION_TIMEOUT_S,
        )
        client.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        cause = " ".join(str(exc).split()) or type(exc).__name__
        raise DatabaseUnavailableError(f"example database {spec} is unreachable: {cause}") from None
    return RedisExampleDatabase(client)


_OPENED: dict[tuple[str, bool], ExampleDatabase] = {}


def open_database(spec: str, *, read_only: bool = False) -> ExampleDatabase:
    """The database named by ``spec``; checked now (a Redis server is pinged).

    ``read_only`` wraps it in :class:`~hypothesis.database.ReadOnlyDatabase`:
    the deterministic profiles replay from it and never write to it.

    One object per spec and process: HypoFuzz configures pytest twice in a process
    (collection, then each worker) and fuzzes only tests whose database *equals* the
    current default; two Redis clients of one server compare unequal (their connection
    pools differ), so a second object made every test "differing_database".
    """
    spec = spec.strip()
    key = (spec, read_only)
    if key not in _OPENED:
        _OPENED[key] = _open(spec, read_only)
    return _OPENED[key]


def _open(spec: str, read_only: bool) -> ExampleDatabase:
    if not spec:
        raise DatabaseUnavailableError("INVARIANTS_DATABASE is empty")
    if is_redis(spec):
        db = _redis_database(spec)
    else:
        path = Path(spec)
        if path.exists() and not path.is_dir():
            raise DatabaseUnavailableError(
                f"example database {spec} is a file, not a directory (or a redis:// URL)"
            )
        db = DirectoryBasedExampleDatabase(path)
    return ReadOnlyDatabase(db) if read_only else db
