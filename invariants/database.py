"""The example database shared by stress, fuzz and replay runs (``INVARIANTS_DATABASE``).

One setting selects it, a string read by :func:`open_database`:

- ``redis://HOST:PORT/DB``: Hypothesis's :class:`~hypothesis.extra.redis.RedisExampleDatabase`
  on that server (the ``redis`` client comes with the ``fuzz`` extra);
- anything else: a directory, :class:`~hypothesis.database.DirectoryBasedExampleDatabase`.

Every machine pointed at one Redis shares one database: a failure found by any
fuzz or stress worker is replayed first by every later run that reads it.

The Redis password. It comes from ``INVARIANTS_DATABASE_PASSWORD`` or from the file
named by ``INVARIANTS_DATABASE_PASSWORD_FILE`` (so that it is never typed into a
command line, where ``ps`` and the shell history show it), and is handed to the client
apart from the URL. A password written in the URL (``redis://:PASSWORD@host``) works
too. Whatever prints the database (the report's run info, the pytest header, errors,
``tools/fuzz.py``) prints :func:`mask`'s form, ``redis://:***@host:6379/0``.

Malformed or foreign entries (:class:`TolerantDatabase`): a value that is not bytes, a
value under one of Hypothesis's keys that is no choice sequence, or a key the server
cannot read (another program's key of the same name) is skipped with one
:class:`~invariants.errors.DatabaseEntrySkippedWarning` line and left in place; the run
goes on.

The ``redis`` package is imported lazily: ``conftest.py`` preloads this module
in every run (PRELOADED_PACKAGES), and runs that do not use Redis must neither
need the package nor see its import-time warnings.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    ExampleDatabase,
    ReadOnlyDatabase,
    choices_from_bytes,
    choices_to_bytes,
)

from invariants.errors import DatabaseEntrySkippedWarning, DatabaseUnavailableError

# A connect timeout short enough that an unreachable host fails the run at once instead of
# hanging it; the operation timeout bounds a server that stops answering mid-run.
CONNECT_TIMEOUT_S = 3.0
OPERATION_TIMEOUT_S = 30.0
REDIS_SCHEMES = ("redis", "rediss", "unix")

PASSWORD_ENV = "INVARIANTS_DATABASE_PASSWORD"
PASSWORD_FILE_ENV = "INVARIANTS_DATABASE_PASSWORD_FILE"
MASK = "***"

# The key under which DirectoryBasedExampleDatabase lists its keys (its values are keys, not
# choice sequences); library/test_database.py checks it against Hypothesis's.
DIRECTORY_METAKEYS = b".hypothesis-keys"
# HypoFuzz keeps reports, observations and its corpus under keys containing this; it
# decodes (and tolerates) those values itself.
HYPOFUZZ_KEY_MARK = b"hypofuzz"

_QUERY_PASSWORD = re.compile(r"(^|&)(password=)[^&]*")


def is_redis(spec: str) -> bool:
    return urlsplit(spec).scheme in REDIS_SCHEMES


# --- the password ------------------------------------------------------------------


@dataclass(frozen=True)
class Password:
    """A Redis password and where it came from (``source`` is safe to print; ``value`` not)."""

    value: str
    source: str


def url_password(spec: str) -> str | None:
    """The password written in a Redis URL (``redis://[user]:PW@host``, or ``?password=PW``)."""
    parts = urlsplit(spec)
    if parts.password:
        return unquote(parts.password)
    for item in parts.query.split("&"):
        name, _, value = item.partition("=")
        if name == "password" and value:
            return unquote(value)
    return None


def strip_password(spec: str) -> str:
    """``spec`` without its password (user name, host, port and db kept)."""
    parts = urlsplit(spec)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username = userinfo.partition(":")[0]
    netloc = f"{username}@{hostport}" if username else hostport
    query = "&".join(i for i in parts.query.split("&") if i and not i.startswith("password="))
    return _with(spec, netloc, query)


def _with(spec: str, netloc: str, query: str) -> str:
    """``spec`` with its network location and query replaced (``unix:///path`` kept whole,
    which :func:`urllib.parse.urlunsplit` shortens to ``unix:/path``)."""
    parts = urlsplit(spec)
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def mask(spec: str, has_password: bool = False) -> str:
    """``spec`` with its password shown as ``***``; ``has_password``: one comes from elsewhere.

    ``redis://:s3cret@host:6379/0`` -> ``redis://:***@host:6379/0``; with ``has_password``,
    ``redis://host:6379/0`` reads the same, so the report shows that a password is in use.
    A spec without a password (a directory, an open Redis) is returned unchanged.
    """
    if not is_redis(spec):
        return spec
    parts = urlsplit(spec)
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username, _, secret = userinfo.partition(":")
    netloc = parts.netloc
    if secret or (has_password and url_password(spec) is None):
        netloc = f"{username}:{MASK}@{hostport}"
    query = _QUERY_PASSWORD.sub(rf"\g<1>\g<2>{MASK}", parts.query)
    return _with(spec, netloc, query)


def environment_password(environ: Mapping[str, str]) -> Password | None:
    """The password set by ``INVARIANTS_DATABASE_PASSWORD`` or ``..._PASSWORD_FILE``, if any.

    The file's content is the password, one trailing newline dropped. Both set, an empty
    password or an unreadable file raise :class:`DatabaseUnavailableError` (naming the
    variable or the file, never the password).
    """
    value = environ.get(PASSWORD_ENV)
    path = environ.get(PASSWORD_FILE_ENV)
    if value is not None and path is not None:
        raise DatabaseUnavailableError(
            f"both {PASSWORD_ENV} and {PASSWORD_FILE_ENV} are set: unset one"
        )
    if path is not None:
        try:
            text = Path(path).expanduser().read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise DatabaseUnavailableError(
                f"{PASSWORD_FILE_ENV}={path} cannot be read: {type(exc).__name__}"
            ) from None
        value = text[:-1] if text.endswith("\n") else text
        source = PASSWORD_FILE_ENV
    else:
        source = PASSWORD_ENV
    if value is None:
        return None
    if not value or "\n" in value:
        raise DatabaseUnavailableError(f"{source} gives an empty or multi-line password")
    return Password(value, source)


def database_password(spec: str, environ: Mapping[str, str]) -> Password | None:
    """The password to connect to ``spec`` with: the URL's or the environment's, not both."""
    if not is_redis(spec):
        return None
    from_url = url_password(spec)
    from_env = environment_password(environ)
    if from_url is not None and from_env is not None:
        raise DatabaseUnavailableError(
            f"{mask(spec)} has a password and {from_env.source} gives one too: keep one"
        )
    return Password(from_url, "the URL") if from_url is not None else from_env


def describe(spec: str, read_only: bool, environ: Mapping[str, str] | None = None) -> str:
    """One line for the report's run info: which database (password masked), and whether the
    run may write it."""
    environ = os.environ if environ is None else environ
    mode = "read-only: replayed, never written" if read_only else "read-write"
    if not is_redis(spec):
        return f"directory {spec} ({mode})"
    try:
        password = database_password(spec, environ)
    except DatabaseUnavailableError:
        password = None
    source = f"password from {password.source}; " if password else ""
    return f"Redis {mask(spec, password is not None)} ({source}{mode})"


# --- malformed and foreign entries -----------------------------------------------------


def holds_choices(key: bytes) -> bool:
    """Whether Hypothesis reads the values under ``key`` as choice sequences.

    Its own keys do (a test's key, ``.secondary``, ``.pareto``); HypoFuzz's keys hold JSON
    as well, which HypoFuzz checks itself, and the directory database's key list holds keys.
    """
    return HYPOFUZZ_KEY_MARK not in key and key != DIRECTORY_METAKEYS


def key_label(key: bytes) -> str:
    """A short printable name of a key: ASCII as it is; else its first 8 bytes in hex and
    its readable ``.suffix``, ``c8c9cacbcccdcecf...secondary`` (a test's key and its
    ``.secondary`` key then differ)."""
    if key.isascii() and key.decode("ascii").isprintable():
        return key.decode("ascii")
    start = len(key)
    while start > 0 and 0x20 < key[start - 1] < 0x7F:
        start -= 1
    dot = key.find(b".", max(start, 8))
    suffix = key[dot + 1 :].decode("ascii") if dot >= 0 else ""
    return key[:8].hex() + ("..." if len(key) > 8 else "") + suffix


def value_problem(key: bytes, value: object) -> str | None:
    """Why ``value`` under ``key`` cannot be used, or None when it can."""
    if not isinstance(value, bytes):
        return f"a {type(value).__name__} value, not bytes"
    if holds_choices(key) and not is_choice_sequence(value):
        return (
            "a value that is no Hypothesis choice sequence "
            "(truncated, or another project's or Hypothesis version's)"
        )
    return None


def is_choice_sequence(value: bytes) -> bool:
    """Whether ``value`` is a choice sequence as Hypothesis writes it: it decodes, and encodes
    back to the same bytes.

    Decoding alone accepts most truncated values: Hypothesis's decoder slices each element's
    payload without checking its length, so a value cut inside an element reads as another,
    shorter one. Re-encoding gives the element's true length, and the bytes differ. (A value
    cut exactly between elements is a valid shorter sequence, and is replayed as one.)
    """
    choices = choices_from_bytes(value)
    return choices is not None and choices_to_bytes(choices) == value


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception's message on one line, at most ``limit`` characters.

    A Redis pipeline's error repeats the command, arguments (values) included, before
    ``caused error:``; only the server's reason after it is kept.
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.rpartition("caused error: ")[2]
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TolerantDatabase(ExampleDatabase):
    """A database that skips what it cannot use, with one warning line, instead of crashing.

    ``fetch`` drops values for which :func:`value_problem` names a problem, and a key whose
    read raises one of ``entry_errors`` (the backend's per-entry errors: Redis's
    ``ResponseError``, e.g. WRONGTYPE for another program's string at our key) yields
    nothing. ``save``, ``delete`` and ``move`` that raise one of ``entry_errors`` are
    dropped the same way. Nothing is deleted: a value this process cannot read may be
    another machine's newer format. Each (key, cause) is warned once per process,
    :class:`~invariants.errors.DatabaseEntrySkippedWarning`, naming ``label`` (a masked
    spec). Connection errors are not entry errors: they still stop the run.
    """

    def __init__(
        self,
        db: ExampleDatabase,
        label: str,
        entry_errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        super().__init__()
        self._wrapped = db
        self._label = label
        self._entry_errors = entry_errors
        self._warned: set[tuple[bytes, str]] = set()

    def __repr__(self) -> str:
        return f"TolerantDatabase({self._wrapped!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TolerantDatabase) and self._wrapped == other._wrapped

    def _skip(self, key: bytes, what: str, cause: str) -> None:
        if (key, cause) in self._warned:
            return
        self._warned.add((key, cause))
        warnings.warn(
            f"example database {self._label}: skipped {what} under key {key_label(key)}: {cause}",
            DatabaseEntrySkippedWarning,
            stacklevel=3,
        )

    def fetch(self, key: bytes) -> Iterable[bytes]:
        try:
            values = list(self._wrapped.fetch(key))
        except self._entry_errors as exc:
            self._skip(key, "the entry", f"unreadable ({one_line(exc)})")
            return
        problems: Counter[str] = Counter()
        for value in values:
            if isinstance(value, (bytearray, memoryview)):
                value = bytes(value)
            problem = value_problem(key, value)
            if problem is None:
                yield value
            else:
                problems[problem] += 1
        for problem, n in sorted(problems.items()):
            self._skip(key, f"{n} value{'s' if n > 1 else ''}", problem)

    def _write(self, what: str, key: bytes, call) -> None:
        try:
            call()
        except self._entry_errors as exc:
            self._skip(key, f"a {what}", f"the server refused it ({one_line(exc)})")

    def save(self, key: bytes, value: bytes) -> None:
        self._write("save", key, lambda: self._wrapped.save(key, value))

    def delete(self, key: bytes, value: bytes) -> None:
        self._write("delete", key, lambda: self._wrapped.delete(key, value))

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        self._write("move", src, lambda: self._wrapped.move(src, dest, value))

    def _start_listening(self) -> None:
        self._wrapped.add_listener(self._broadcast_change)

    def _stop_listening(self) -> None:
        self._wrapped.remove_listener(self._broadcast_change)


# --- opening ---------------------------------------------------------------------------


def _redis_database(spec: str, password: Password | None) -> ExampleDatabase:
    shown = mask(spec, password is not None)
    try:
        import redis  # optional: `pip install -e '.[fuzz]'`
        from hypothesis.extra.redis import RedisExampleDatabase
    except ImportError as exc:
        raise DatabaseUnavailableError(
            f"INVARIANTS_DATABASE={shown} needs the redis client: pip install -e '.[fuzz]' ({exc})"
        ) from None
    try:
        client = redis.Redis.from_url(
            spec,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=OPERATION_TIMEOUT_S,
            **({"password": password.value} if password else {}),
        )
        client.ping()
    except (redis.RedisError, ValueError, OSError) as exc:
        cause = one_line(exc, limit=400)
        if password:
            cause = cause.replace(password.value, MASK)
        if "auth" in cause.lower() or "password" in cause.lower():
            cause += f" (the password comes from {PASSWORD_FILE_ENV} or {PASSWORD_ENV})"
        raise DatabaseUnavailableError(
            f"example database {shown} is unreachable: {cause}"
        ) from None
    return TolerantDatabase(RedisExampleDatabase(client), shown, (redis.ResponseError,))


_OPENED: dict[tuple[str, bool, Password | None], ExampleDatabase] = {}


def open_database(
    spec: str, *, read_only: bool = False, environ: Mapping[str, str] | None = None
) -> ExampleDatabase:
    """The database named by ``spec``; checked now (a Redis server is pinged).

    A Redis password comes from the URL or from ``environ`` (default ``os.environ``):
    :func:`database_password`. The database is a :class:`TolerantDatabase`.

    ``read_only`` wraps it in :class:`~hypothesis.database.ReadOnlyDatabase`:
    the deterministic profiles replay from it and never write to it.

    One object per spec and process: HypoFuzz configures pytest twice in a process
    (collection, then each worker) and fuzzes only tests whose database *equals* the
    current default; two Redis clients of one server compare unequal (their connection
    pools differ), so a second object made every test "differing_database".
    """
    spec = spec.strip()
    password = database_password(spec, os.environ if environ is None else environ)
    key = (spec, read_only, password)
    if key not in _OPENED:
        _OPENED[key] = _open(spec, read_only, password)
    return _OPENED[key]


def _open(spec: str, read_only: bool, password: Password | None) -> ExampleDatabase:
    if not spec:
        raise DatabaseUnavailableError("INVARIANTS_DATABASE is empty")
    if is_redis(spec):
        db = _redis_database(spec, password)
    else:
        path = Path(spec)
        if path.exists() and not path.is_dir():
            raise DatabaseUnavailableError(
                f"example database {spec} is a file, not a directory (or a redis:// URL)"
            )
        db = TolerantDatabase(DirectoryBasedExampleDatabase(path), spec)
    return ReadOnlyDatabase(db) if read_only else db
