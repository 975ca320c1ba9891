"""Unit properties of :mod:`invariants.database`: the password stays secret, bad entries skipped.

1. The password. However it reaches the suite (in the URL, ``INVARIANTS_DATABASE_PASSWORD``,
   ``INVARIANTS_DATABASE_PASSWORD_FILE``), nothing the suite prints contains it: ``mask``,
   ``describe`` (the report's run info), the one-line errors, ``tools/fuzz.py``'s output,
   and, end to end against a password-protected ``redis-server``, a pytest run's output
   and every file of its report.
2. Malformed or foreign entries (a truncated value, a non-bytes value, another program's
   key of the same name) are skipped with one ``DatabaseEntrySkippedWarning`` line per key
   and cause; the run goes on, and the entry stays in place. The negative controls show the
   database is read at all: a valid stored failure, replayed, fails the test.

The Redis tests need the ``redis`` client (the ``fuzz`` extra) and ``redis-server``; without
them they skip, naming what is missing, and in CI (``INVARIANTS_REQUIRE_FUZZ`` or ``CI``
set, as ``.ci/run`` does) they fail instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    InMemoryExampleDatabase,
    ReadOnlyDatabase,
    choices_to_bytes,
)

from invariants import database as D
from invariants.errors import DatabaseEntrySkippedWarning, DatabaseUnavailableError

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "rediss://fuzzer:{}@dbhost.example:6379/0"
TEMPLATE_TEXT = TEMPLATE.format("")
MAGIC = 123_456_789  # the one input that fails the planted property


def leaks(text: str, password: str) -> bool:
    """Whether ``text`` shows ``password``, as typed or percent-encoded."""
    return password in text or quote(password, safe="") in text


passwords = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=4, max_size=40
).filter(lambda p: not any(p in s or quote(p, safe="") in s for s in (TEMPLATE_TEXT, D.MASK)))


# --- 1. the password --------------------------------------------------------------------


@given(password=passwords)
def test_mask_hides_a_url_password_and_keeps_the_rest(password):
    """``mask`` shows ``***`` for the URL's password; user, host, port and db stay readable."""
    spec = TEMPLATE.format(quote(password, safe=""))
    assert leaks(spec, password)  # control: the check sees a password where there is one
    assert D.url_password(spec) == password
    masked = D.mask(spec)
    assert not leaks(masked, password)
    assert masked == TEMPLATE.format(D.MASK)
    assert D.strip_password(spec) == "rediss://fuzzer@dbhost.example:6379/0"
    assert D.url_password(D.strip_password(spec)) is None


def test_mask_forms():
    """The other places a password sits, and the specs without one (returned unchanged)."""
    assert D.mask("unix:///run/redis.sock?db=0&password=s3cret") == (
        "unix:///run/redis.sock?db=0&password=***"
    )
    assert D.strip_password("unix:///run/redis.sock?db=0&password=s3cret") == (
        "unix:///run/redis.sock?db=0"
    )
    assert D.mask("redis://dbhost:6379/0") == "redis://dbhost:6379/0"
    assert D.mask("redis://dbhost:6379/0", has_password=True) == "redis://:***@dbhost:6379/0"
    assert D.mask("redis://ops@dbhost:6379/0", has_password=True) == "redis://ops:***@dbhost:6379/0"
    assert D.mask(".hypothesis/examples", has_password=True) == ".hypothesis/examples"


@given(password=passwords)
def test_describe_masks_a_password_from_the_environment(password):
    """The report's run info names the database and the password's source, never the value."""
    env = {D.PASSWORD_ENV: password}
    text = D.describe("redis://dbhost.example:6379/0", read_only=True, environ=env)
    assert text == (
        "Redis redis://:***@dbhost.example:6379/0 "
        f"(password from {D.PASSWORD_ENV}; read-only: replayed, never written)"
    )
    spec = TEMPLATE.format(quote(password, safe=""))
    assert not leaks(D.describe(spec, read_only=False, environ={}), password)


def test_password_sources(tmp_path):
    """The file's content (one trailing newline dropped) or the variable; two sources are an
    error, and no error message shows the password."""
    secret = tmp_path / "redis-password"
    secret.write_text("f00dfeed\n")
    from_file = D.database_password("redis://h:1/0", {D.PASSWORD_FILE_ENV: str(secret)})
    assert from_file == D.Password("f00dfeed", D.PASSWORD_FILE_ENV)
    assert D.database_password("redis://h:1/0", {D.PASSWORD_ENV: "x1"}).value == "x1"
    assert D.database_password("redis://h:1/0", {}) is None
    assert D.database_password(str(tmp_path), {D.PASSWORD_ENV: "x1"}) is None  # a directory
    bad = {
        "both variables": {D.PASSWORD_ENV: "f00dfeed", D.PASSWORD_FILE_ENV: str(secret)},
        "missing file": {D.PASSWORD_FILE_ENV: str(tmp_path / "none")},
        "empty": {D.PASSWORD_ENV: ""},
    }
    for case, env in bad.items():
        with pytest.raises(DatabaseUnavailableError) as info:
            D.database_password("redis://h:1/0", env)
        assert "f00dfeed" not in str(info.value), case
    with pytest.raises(DatabaseUnavailableError, match="keep one") as info:
        D.database_password("redis://:f00dfeed@h:1/0", {D.PASSWORD_ENV: "other"})
    assert "f00dfeed" not in str(info.value) and "other" not in str(info.value)


def test_unreachable_redis_error_masks_the_password():
    """The one-line error of an unreachable server (or of a missing client) shows ``***``."""
    spec = f"redis://:f00dfeed@127.0.0.1:{_free_port()}/0"  # nothing listens there
    with pytest.raises(DatabaseUnavailableError) as info:
        D.open_database(spec, environ={})
    message = str(info.value)
    assert "f00dfeed" not in message and "redis://:***@127.0.0.1" in message, message
    assert "\n" not in message


def test_fuzz_driver_prints_no_password():
    """``tools/fuzz.py`` with a password in the URL: one masked line on stderr, exit 2."""
    spec = f"redis://:f00dfeed@127.0.0.1:{_free_port()}/0"
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools/fuzz.py"), "--database", spec, "--seconds", "5"],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "f00dfeed" not in run.stdout + run.stderr
    assert run.stderr.count("\n") == 1 and "redis://:***@127.0.0.1" in run.stderr, run.stderr


# --- 2. malformed and foreign entries ---------------------------------------------------


class StubEntryError(Exception):
    """A backend's per-entry error (Redis: ResponseError, e.g. WRONGTYPE)."""


class StubBackend(InMemoryExampleDatabase):
    """In-memory values of any type, a key whose read fails, and one that loses the server."""

    def fetch(self, key):
        if key == b"foreign":
            raise StubEntryError("WRONGTYPE Operation against a key holding the wrong kind")
        if key == b"lost":
            raise ConnectionError("server went away")
        yield from self.data.get(key, ())

    def put(self, key, *values):
        self.data.setdefault(key, []).extend(values)


def _record(call):
    """Run ``call`` under the run's own warning filters (pyproject.toml's, through pytest), and
    return what it returned and the ``DatabaseEntrySkippedWarning`` lines it raised.

    The filters are kept, not replaced: if the configuration turned this category into an
    error, as it does every other warning, the call would raise instead.
    """
    with warnings.catch_warnings(record=True) as caught:
        result = call()
    lines = [str(w.message) for w in caught if issubclass(w.category, DatabaseEntrySkippedWarning)]
    assert len(lines) == len(caught), [str(w.message) for w in caught]
    return result, lines


def test_tolerant_fetch_skips_bad_entries_once_each():
    """A stub backend with one value of each kind: the good ones come back, each bad
    (key, cause) is one warning line, once per process, naming the masked database."""
    good = choices_to_bytes((7, True))
    truncated = choices_to_bytes((MAGIC,))[:-2]  # cut inside the integer
    backend = StubBackend()
    backend.put(b"k", good, truncated, "a str", bytearray(good))
    backend.put(b"k.hypofuzz.reports", b'{"json": "HypoFuzz reads this itself"}')
    backend.put(D.DIRECTORY_METAKEYS, b"k")
    db = D.TolerantDatabase(backend, "redis://:***@dbhost:6379/0", (StubEntryError,))

    got, lines = _record(lambda: sorted(db.fetch(b"k")))
    assert got == [good, good]  # bytearray(good) is good, as bytes
    assert len(lines) == 2 and all(line.count("\n") == 0 for line in lines), lines
    assert any("a str value, not bytes" in line for line in lines)
    assert any("no Hypothesis choice sequence" in line for line in lines)
    assert all(line.startswith("example database redis://:***@dbhost") for line in lines)
    assert len(backend.data[b"k"]) == 4  # nothing deleted

    again, lines = _record(lambda: sorted(db.fetch(b"k")))
    assert again == [good, good] and lines == []  # warned once per process

    assert _record(lambda: list(db.fetch(b"k.hypofuzz.reports")))[0] != []  # not ours to judge
    assert _record(lambda: list(db.fetch(D.DIRECTORY_METAKEYS)))[0] == [b"k"]

    got, lines = _record(lambda: list(db.fetch(b"foreign")))
    assert got == [] and len(lines) == 1 and "unreadable (WRONGTYPE" in lines[0], lines
    # Control: an error that is not about one entry (the server is gone) still stops the run.
    with pytest.raises(ConnectionError):
        list(db.fetch(b"lost"))


choices = st.one_of(st.booleans(), st.integers(), st.floats(allow_nan=True), st.binary(), st.text())


@given(head=st.lists(choices, max_size=4), last=st.one_of(st.integers(), st.binary(), st.text()))
def test_choice_sequences_accepted_and_cut_ones_refused(head, last):
    """What Hypothesis writes is accepted; the same cut inside its last element is not
    (the decoder alone would read that as another, shorter value)."""
    value = choices_to_bytes((*head, last))
    assert D.is_choice_sequence(value)
    payload = len(choices_to_bytes((last,))) - 1  # the last element's bytes after its tag
    for cut in range(1, payload):
        assert not D.is_choice_sequence(value[:-cut]), (head, last, cut)


def test_key_labels():
    """A warning names a key briefly: a digest by its first bytes, with its readable suffix."""
    digest = bytes(range(200, 248))  # 48 bytes, as a sha384 test key
    assert D.key_label(digest) == "c8c9cacbcccdcecf..."
    assert D.key_label(digest + b".secondary") == "c8c9cacbcccdcecf...secondary"
    assert D.key_label(b"planted.pareto") == "planted.pareto"


def test_directory_metakeys_name_is_hypothesis_s():
    """``DIRECTORY_METAKEYS`` is the key under which Hypothesis's directory database lists
    its keys: if Hypothesis renames it, this fails, not a silent skip of every key."""
    assert D.DIRECTORY_METAKEYS == DirectoryBasedExampleDatabase._metakeys_name


def _replay_planted(db) -> Exception | None:
    """Run a planted property that fails only at MAGIC, replaying ``db`` (no generation, as
    the ``replay`` profile) after one passing explicit example; the exception it raised, or
    None."""

    @settings(
        database=db, phases=[Phase.explicit, Phase.reuse], suppress_health_check=list(HealthCheck)
    )
    @given(st.integers(0, 2**40))
    @example(0)  # one passing case, so that an empty replay is a pass, not "no test cases"
    def planted(x):
        assert x != MAGIC

    planted._hypothesis_internal_database_key = b"planted"
    try:
        planted()
    except Exception as exc:  # the failure is the result
        return exc
    return None


def test_truncated_entry_skipped_and_valid_one_replayed(tmp_path):
    """The directory database through ``open_database``, read-only as the deterministic
    profiles open it: a valid stored failure is replayed (the test fails: the control);
    the same entry truncated is skipped with one warning line, the run passes, the file stays."""
    path = tmp_path / "db"
    writer = DirectoryBasedExampleDatabase(path)
    stored = choices_to_bytes((MAGIC,))
    writer.save(b"planted", stored)
    db = D.open_database(str(path), read_only=True)
    assert isinstance(db, ReadOnlyDatabase)

    failure, lines = _record(lambda: _replay_planted(db))
    assert isinstance(failure, AssertionError) and lines == [], (failure, lines)

    (entry,) = [p for p in path.rglob("*") if p.is_file() and p.read_bytes() == stored]
    entry.write_bytes(stored[:-2])  # truncated mid-integer
    failure, lines = _record(lambda: _replay_planted(D.open_database(str(path), read_only=True)))
    assert failure is None and len(lines) == 1, (failure, lines)
    assert "no Hypothesis choice sequence" in lines[0] and str(path) in lines[0]
    assert entry.read_bytes() == stored[:-2]  # left in place


# --- Redis: a password-protected server, end to end -------------------------------------


def _require(what: str, available: bool) -> None:
    if available:
        return
    message = f"the Redis tests of invariants/database.py need {what}"
    if os.environ.get("INVARIANTS_REQUIRE_FUZZ") or os.environ.get("CI"):
        pytest.fail(message + " (CI installs it in .ci/run)")
    pytest.skip(message + " (pip install -e '.[fuzz]'; apt-get install redis-server)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVARIANTS_DATABASE")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return {**env, **extra}


@pytest.fixture
def protected_redis(tmp_path):
    """A throwaway ``redis-server`` on 127.0.0.1 whose password (in a mode-600 file) is fed
    to it on stdin, as in docs/profiles.md; yields (URL, password file, password)."""
    _require("the redis client (the fuzz extra)", bool(importlib.util.find_spec("redis")))
    server = shutil.which("redis-server")
    _require("redis-server", server is not None)
    import redis

    password = os.urandom(16).hex()
    secret = tmp_path / "redis-password"
    secret.touch(mode=0o600)
    secret.write_text(password + "\n")
    port = _free_port()
    proc = subprocess.Popen(
        [server, "-", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    proc.stdin.write(f"requirepass {password}\n".encode())
    proc.stdin.close()
    try:
        client = redis.Redis(port=port, password=password, socket_connect_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0", secret, password
    finally:
        proc.kill()
        proc.wait()


def test_redis_foreign_and_malformed_entries_skipped(protected_redis):
    """On a real server: another program's string at our key (WRONGTYPE) and a truncated
    value are skipped with one line each; a valid failure is replayed (the control); and
    without the password the server refuses, in one masked line that says where it goes."""
    spec, secret, password = protected_redis
    with pytest.raises(DatabaseUnavailableError, match="PASSWORD_FILE") as info:
        D.open_database(spec, environ={})
    assert password not in str(info.value)
    env = {D.PASSWORD_FILE_ENV: str(secret)}
    db = D.open_database(spec, environ=env)
    client = db._wrapped.redis
    stored = choices_to_bytes((MAGIC,))
    client.sadd(b"hypothesis-example:planted", stored)
    failure, lines = _record(
        lambda: _replay_planted(D.open_database(spec, read_only=True, environ=env))
    )
    assert isinstance(failure, AssertionError) and lines == [], (failure, lines)

    client.delete(b"hypothesis-example:planted")
    client.sadd(b"hypothesis-example:planted", stored[:-2])
    client.set(b"hypothesis-example:planted.secondary", b"another program's string")
    failure, lines = _record(
        lambda: _replay_planted(D.open_database(spec, read_only=True, environ=env))
    )
    assert failure is None, failure
    assert len(lines) == 2 and any("WRONGTYPE" in line for line in lines), lines
    assert all("redis://:***@127.0.0.1" in line and password not in line for line in lines)
    assert client.type(b"hypothesis-example:planted.secondary") == b"string"  # left alone


def test_redis_report_and_output_never_show_the_password(protected_redis, tmp_path):
    """A pytest run on the protected server, password from the file: the header and the
    report name the database as ``redis://:***@...``; no output and no report file holds
    the password."""
    spec, secret, password = protected_redis
    (tmp_path / "test_tiny.py").write_text(
        "from hypothesis import given, strategies as st\n\n"
        "@given(st.integers())\n"
        "def test_tiny(x):\n"
        "    assert x == x\n"
    )
    report = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider",
         "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path), "-p", "conftest",
         "--invariants-profile", "ci", "--invariants-database", spec,
         "--invariants-report", str(report), str(tmp_path / "test_tiny.py")],
        cwd=ROOT, env=_env(**{D.PASSWORD_FILE_ENV: str(secret)}),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    masked = spec.replace("redis://", "redis://:***@")
    assert f"example database Redis {masked}" in run.stdout, run.stdout
    assert json.loads((report / "report.json").read_text())["run"]["database"].startswith(
        f"Redis {masked} (password from {D.PASSWORD_FILE_ENV}"
    )
    files = [p for p in report.rglob("*") if p.is_file()]
    assert files and password not in run.stdout + run.stderr
    assert not [p for p in files if password.encode() in p.read_bytes()]
