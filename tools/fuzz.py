"""``make fuzz``: HypoFuzz over the property tests for a bounded time, then a replay report.

    python tools/fuzz.py [--seconds 180] [--workers N] [--port 9999]
                         [--database SPEC] [--report reports/runs/fuzz] [-- PYTEST_ARGS]

1. The example database: ``--database`` (default ``$INVARIANTS_DATABASE``, else
   ``.hypothesis/examples``) is ``redis://host:port/db``, a directory, or the word
   ``redis``: a local ``redis-server`` started here on 127.0.0.1 with a password made
   for the run (data in ``.hypothesis/redis``, append-only file, so it survives a kill)
   and stopped at the end. An unreachable database is one line on stderr and exit
   status 2. A Redis password comes from ``INVARIANTS_DATABASE_PASSWORD(_FILE)`` or the
   URL; one in the URL is moved into the children's environment, so that no command
   line holds it, and every line printed here shows it as ``***``.
2. HypoFuzz (``hypothesis fuzz``) on ``--workers`` processes with its dashboard on
   http://localhost:PORT/, over the selected tests, with the suite's ``stress`` profile
   and ``INVARIANTS_DATABASE`` pointed at the database. HypoFuzz runs until it is
   stopped; this driver stops it after ``--seconds`` (SIGINT to its process group,
   then SIGKILL). A failure is saved the moment it is shrunk, so stopping loses none.
3. A replay run: pytest with the ``replay`` profile (no generation: only what the
   database holds) and the database read-only writes a normal report folder
   (``--report``): each failure with its shrunk example, its ``@reproduce_failure``
   blob and its statements (from the test's docstring). Exit status: the replay's.

Default selection: ``properties/ -m "hypothesis and not meta"``. HypoFuzz only fuzzes
``@given`` tests (the ``hypothesis`` marker); the meta-tests (marker ``meta``) check
the suite's own machinery (negative controls that must fail, strategy coverage,
determinism) rather than a statement of the paper, and ``test_reporting.py`` has
no ``@given`` test.

Coverage: HypoFuzz's coverage collector is scoped to this project's files
(tools/hypofuzz_scope.py, a pytest plugin loaded into every HypoFuzz process,
against the pinned HypoFuzz; a different version is one line on stderr and exit
status 2); the same plugin lets a worker switch back to a test with function-scoped
fixtures (stock HypoFuzz 25.11.1 kills the worker there). ``--stock-coverage`` keeps
HypoFuzz's own collector (the fixture fix stays), for measurements
(docs/profiles.md, "Speed: the coverage collector").

Test cases per second: every process counts its test-function executions
(tools/example_counter.py, a pytest plugin loaded into each HypoFuzz worker); the
total and each worker's count over the wall time are printed at the end, before the
replay report. ``--count-only`` runs any pytest command line with the same counter,
for the comparison with ``make stress``.

This module is a script: the suite never imports it (test_strategies.py checks).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(__file__).resolve().parent
DEFAULT_SELECTION = ["properties/", "-m", "hypothesis and not meta"]
DEFAULT_DIRECTORY = ".hypothesis/examples"
LOCAL_REDIS_DIR = ".hypothesis/redis"


def _patch_hypofuzz_for_current_hypothesis() -> None:
    """HypoFuzz 25.11.1 reads ``ConjectureResult.slice_comments``, which Hypothesis renamed.

    Without this, the first failure a worker finds kills it right after shrinking,
    before the shrunk example is saved::

        File ".../hypofuzz/hypofuzz.py", line 352, in run_one
          data.slice_comments = shrinker.shrink_target.slice_comments
        AttributeError: 'ConjectureResult' object has no attribute 'slice_comments'

    (Hypothesis 6.170 calls them ``span_comments``: the explain-phase comments.) The
    alias is applied only in the HypoFuzz process tree, and only if still missing.
    """
    from hypothesis.internal.conjecture.data import ConjectureData, ConjectureResult

    if hasattr(ConjectureResult, "slice_comments") or not hasattr(
        ConjectureResult, "span_comments"
    ):
        return
    ConjectureResult.slice_comments = property(lambda self: self.span_comments)

    def _set(self, value):
        self.span_comments = value

    ConjectureData.slice_comments = property(lambda self: self.span_comments, _set)


def _run_hypofuzz(argv: list[str]) -> None:
    """``hypothesis fuzz ARGV`` in this process, with the compatibility patch."""
    _patch_hypofuzz_for_current_hypothesis()
    from hypofuzz.entrypoint import fuzz

    fuzz.main(args=argv, prog_name="hypothesis fuzz")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rates_line(counts: dict[int, int], elapsed: float, label: str) -> str:
    """One line: total test cases and cases/s over ``elapsed`` wall seconds, and per worker.

    ``counts`` is {pid: test cases} (example_counter); processes that ran none (HypoFuzz's
    hub and dashboard, which also load the counter) are not workers and are left out.
    """
    n = sum(counts.values())
    workers = sorted((c for c in counts.values() if c > 0), reverse=True)
    per = ", ".join(f"{c / elapsed:.1f}/s" for c in workers) or "none"
    return (
        f"{label} ran {n} test cases in {elapsed:.0f} s: {n / elapsed:.1f}/s in total "
        f"(start-up included); per worker {per}"
    )


def _fail(message: str) -> None:
    print(f"make fuzz: {message}", file=sys.stderr)
    sys.exit(2)


def start_local_redis(directory: Path, password: str) -> tuple[subprocess.Popen, str]:
    """A redis-server on 127.0.0.1 (free port), data in ``directory``; its URL (no password).

    ``password`` is required (``requirepass``): any local user can reach 127.0.0.1. It is
    written to the server's standard input (``redis-server -`` reads configuration from
    there), never onto its command line, which ``ps`` shows.
    """
    server = shutil.which("redis-server")
    if server is None:
        _fail("--database redis needs redis-server (apt-get install redis-server)")
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    proc = subprocess.Popen(
        [server, "-", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--appendonly", "yes", "--save", "", "--daemonize", "no"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    proc.stdin.write(f"requirepass {password}\n".encode())
    proc.stdin.close()
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, url
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    _fail(f"the local redis-server did not start on port {port}")
    raise AssertionError("unreachable")


def stop_process_group(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM to the group (HypoFuzz's hub, dashboard and workers), then SIGKILL.

    SIGTERM rather than SIGINT: every process of HypoFuzz prints a KeyboardInterrupt
    traceback on SIGINT, and nothing is lost either way (a found failure is already saved).
    """
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _counter_env(count_dir: str, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["INVARIANTS_COUNT_DIR"] = count_dir
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TOOLS), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    return env


def password_in_environment(spec: str, env: dict[str, str]) -> str:
    """``spec`` without its password, which moves into ``env`` (the children's environment).

    The replay's command line (printed, and visible in ``ps``) and HypoFuzz's
    ``INVARIANTS_DATABASE`` then hold no password; every child reads it from
    ``INVARIANTS_DATABASE_PASSWORD`` (invariants/database.py). A password given both in
    the URL and in the environment is an error, raised here in one line.
    """
    from invariants.database import (
        PASSWORD_ENV,
        PASSWORD_FILE_ENV,
        database_password,
        strip_password,
        url_password,
    )
    from invariants.errors import DatabaseUnavailableError

    try:
        database_password(spec, env)
    except DatabaseUnavailableError as exc:
        _fail(str(exc))
    password = url_password(spec)
    if password is None:
        return spec
    env.pop(PASSWORD_FILE_ENV, None)
    env[PASSWORD_ENV] = password
    return strip_password(spec)


def fuzz(args: argparse.Namespace, pytest_args: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from invariants.database import (
        PASSWORD_ENV,
        PASSWORD_FILE_ENV,
        describe,
        mask,
        open_database,
    )
    from invariants.errors import DatabaseUnavailableError

    spec = args.database or os.environ.get("INVARIANTS_DATABASE") or DEFAULT_DIRECTORY
    env = dict(os.environ)  # the children's: the database's password goes in here
    redis_proc = None
    if spec == "redis":
        env.pop(PASSWORD_FILE_ENV, None)
        env[PASSWORD_ENV] = secrets.token_hex(32)
        redis_proc, spec = start_local_redis(ROOT / LOCAL_REDIS_DIR, env[PASSWORD_ENV])
        print(
            f"make fuzz: local Redis at {mask(spec, True)} (password generated for this run), "
            f"data in {LOCAL_REDIS_DIR}/"
        )
    else:
        spec = password_in_environment(spec, env)
    shown = describe(spec, False, env)
    try:
        try:
            open_database(spec, environ=env)  # a Redis server is pinged: fail now, in one line
        except DatabaseUnavailableError as exc:
            _fail(str(exc))
        from hypofuzz_scope import problems

        found = problems()
        if found:
            _fail("; ".join(found))
        env["INVARIANTS_DATABASE"] = spec
        if args.stock_coverage:
            env["INVARIANTS_FUZZ_STOCK_COVERAGE"] = "1"
        count_dir = tempfile.mkdtemp(prefix="fuzz-count-")
        fuzz_env = _counter_env(count_dir, env)
        common = ["-p", "example_counter", "-p", "hypofuzz_scope", "-p", "no:cacheprovider"]
        cmd = [
            sys.executable, str(Path(__file__).resolve()), "_hypofuzz",
            "-n", str(args.workers), "--host", "localhost", "--port", str(args.port),
            "--", *common, "--invariants-profile", "stress", *pytest_args,
        ]  # fmt: skip
        coverage = "stock coverage" if args.stock_coverage else "coverage scoped to the project"
        print(
            f"make fuzz: HypoFuzz for {args.seconds:g} s on {args.workers} processes "
            f"({coverage}), database {shown}, dashboard http://localhost:{args.port}/",
            flush=True,
        )
        counts, elapsed = run_counted(cmd, fuzz_env, args.seconds, count_dir)
        print(f"make fuzz: {rates_line(counts, elapsed, 'HypoFuzz')}; database {shown}", flush=True)
        if args.no_replay:
            return 0
        replay = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
            "-n", str(args.workers), "--dist", "loadfile",
            "--invariants-profile", "replay", "--invariants-database", spec,
            "--invariants-report", args.report, *pytest_args,
        ]  # fmt: skip
        print("make fuzz: replaying the database's failures: " + " ".join(replay[1:]), flush=True)
        return subprocess.call(replay, cwd=ROOT, env=env)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()  # SIGTERM: redis-server flushes its append-only file
            redis_proc.wait(30)


def run_counted(
    cmd: list[str], env: dict, seconds: float, count_dir: str
) -> tuple[dict[int, int], float]:
    """Run ``cmd`` in its own process group for at most ``seconds`` (or until SIGINT), then
    stop it.

    Returns the test cases counted by ``example_counter`` in ``count_dir`` (removed
    afterwards), {pid: count}, and the wall time.
    """
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    try:
        proc.wait(seconds)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        # The budget is spent, or Ctrl-C (SIGINT) asked to stop early: either way the
        # group is stopped and the run goes on to its count and replay.
        pass
    finally:
        stop_process_group(proc)
    elapsed = time.monotonic() - started
    sys.path.insert(0, str(TOOLS))
    from example_counter import counts

    found = counts(count_dir)
    shutil.rmtree(count_dir, ignore_errors=True)
    return found, elapsed


def count_only(args: argparse.Namespace, pytest_args: list[str]) -> int:
    """Run ``pytest PYTEST_ARGS`` for at most ``--seconds`` and count its test cases."""
    count_dir = tempfile.mkdtemp(prefix="stress-count-")
    cmd = [sys.executable, "-m", "pytest", "-p", "example_counter", *pytest_args]
    counts, elapsed = run_counted(cmd, _counter_env(count_dir), args.seconds, count_dir)
    print("count: " + rates_line(counts, elapsed, "pytest"))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_hypofuzz"]:
        _run_hypofuzz(argv[1:])
        return 0
    pytest_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, pytest_args = argv[:i], argv[i + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="fuzzing time (default 180)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--port", type=int, default=9999, help="dashboard port on localhost")
    parser.add_argument(
        "--database",
        default=None,
        help="redis://host:port/db, a directory, or 'redis' (start a local server); "
        f"default $INVARIANTS_DATABASE or {DEFAULT_DIRECTORY}",
    )
    parser.add_argument("--report", default="reports/runs/fuzz", help="replay report folder")
    parser.add_argument("--no-replay", action="store_true", help="fuzz only, no replay report")
    parser.add_argument(
        "--stock-coverage",
        action="store_true",
        help="HypoFuzz's own coverage collector, not the scoped one (for measurements)",
    )
    parser.add_argument(
        "--count-only",
        action="store_true",
        help="run `pytest PYTEST_ARGS` for --seconds and count its test cases (no fuzzing)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.workers < 1:
        _fail("--seconds must be > 0 and --workers >= 1")
    if args.count_only:
        return count_only(args, pytest_args)
    return fuzz(args, pytest_args or DEFAULT_SELECTION)


if __name__ == "__main__":
    sys.exit(main())
