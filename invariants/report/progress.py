"""Progress lines of long tests: what a test checks and how many test cases it has run.

A test running longer than :data:`PROGRESS_AFTER` seconds gets one line every
:data:`PROGRESS_EVERY` seconds: what it checks and how many Hypothesis test cases
it has run of its ``max_examples``.  Short tests print nothing.  Each process
(serial run or xdist worker) writes its current test to a small JSON file in a
run-scoped directory (inherited by the workers through the environment variable
:data:`PROGRESS_ENV`); a daemon thread of the controller reads them.  The count
is of every executed test case (generated, replayed or shrunk): Hypothesis's own
per-case entry point is wrapped, so no test function and no derandomized seed
changes.  The plugin (:mod:`invariants.report.plugin`) drives it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PROGRESS_AFTER = 30.0
PROGRESS_EVERY = 30.0
PROGRESS_ENV = "INVARIANTS_PROGRESS_DIR"
_CURRENT: dict = {}  # this process's current test


def _write_current() -> None:
    directory = os.environ.get(PROGRESS_ENV)
    if not directory or not _CURRENT:
        return
    path = Path(directory) / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(_CURRENT))
        tmp.replace(path)
    except OSError:
        pass  # the controller has finished and removed the directory
    _CURRENT["written"] = time.monotonic()


def count_test_cases() -> None:
    """Wrap Hypothesis's per-test-case entry point to count this process's test cases."""
    from hypothesis import core

    cls = getattr(core, "StateForActualGivenExecution", None)
    original = getattr(cls, "_execute_once_for_engine", None)
    if original is None or getattr(cls, "_invariants_progress", False):
        return  # another Hypothesis version: progress shows elapsed time only

    def counted(self, data):
        if _CURRENT:
            _CURRENT["cases"] += 1
            if time.monotonic() - _CURRENT.get("written", 0.0) > 1.0:
                _write_current()
        return original(self, data)

    cls._execute_once_for_engine = counted
    cls._invariants_progress = True


def active() -> bool:
    """Whether the run shows progress (the controller has made the directory)."""
    return bool(os.environ.get(PROGRESS_ENV))


@contextmanager
def tracking(nodeid: str, statements: list[str], max_examples: int | None) -> Iterator[None]:
    """Publish this process's current test while the block runs (nothing when inactive)."""
    if not active():
        yield
        return
    _CURRENT.clear()
    _CURRENT.update(
        nodeid=nodeid,
        statements=statements,
        started=time.time(),
        cases=0,
        max_examples=max_examples,
    )
    _write_current()
    try:
        yield
    finally:
        _CURRENT.clear()
        (Path(os.environ[PROGRESS_ENV]) / f"{os.getpid()}.json").unlink(missing_ok=True)


def progress_lines(directory: Path, now: float, after: float = PROGRESS_AFTER) -> list[str]:
    """One line per test that has run longer than ``after`` seconds (the controller's view)."""
    lines = []
    for path in sorted(directory.glob("*.json")):
        try:
            cur = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced or removed
        elapsed = now - float(cur.get("started", now))
        if elapsed < after:
            continue
        total = cur.get("max_examples")
        cases = f"{cur.get('cases', 0)} test cases" + (f" (max_examples {total})" if total else "")
        ids = " ".join(cur.get("statements") or []) or "no statement"
        minutes, seconds = divmod(int(elapsed), 60)
        lines.append(f"[running {minutes}m{seconds:02d}s] {cur['nodeid']} ({ids}): {cases}")
    return lines


class ProgressThread(threading.Thread):
    """The controller's daemon thread: every PROGRESS_EVERY seconds, the long tests' lines."""

    def __init__(self, directory: Path, write_line: Callable[[str], None] | None) -> None:
        super().__init__(daemon=True, name="invariants-progress")
        self.directory, self.write_line, self.stop = directory, write_line, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(PROGRESS_EVERY):
            lines = progress_lines(self.directory, time.time())
            if self.write_line is not None and lines:
                self.write_line("")
                for line in lines:
                    self.write_line(line)


def start(write_line: Callable[[str], None] | None) -> ProgressThread:
    """Make the run's progress directory (inherited by xdist workers) and start the thread."""
    directory = Path(tempfile.mkdtemp(prefix="invariants-progress-"))
    os.environ[PROGRESS_ENV] = str(directory)  # inherited by the xdist workers
    count_test_cases()
    thread = ProgressThread(directory, write_line)
    thread.start()
    return thread


def stop(thread: ProgressThread) -> None:
    """Stop the thread and remove the progress directory."""
    thread.stop.set()
    shutil.rmtree(thread.directory, ignore_errors=True)
    os.environ.pop(PROGRESS_ENV, None)
