"""Count test-function executions in every process of a run (``make fuzz`` measurements).

Loaded as a pytest plugin (``PYTHONPATH=tools``, ``-p example_counter``) into the
stress run and into every HypoFuzz worker (HypoFuzz collects with the same
pytest arguments), it counts each call of Hypothesis's
``StateForActualGivenExecution._execute_once_for_engine``: one per test case,
whether generated, replayed or shrunk, valid or not. HypoFuzz runs its inputs
through the same method, so both engines are counted alike. Each process
writes its count to ``$INVARIANTS_COUNT_DIR/<pid>.count`` at most once a
second, and at exit. Inactive without ``INVARIANTS_COUNT_DIR``.

Never imported by the suite itself (tools/ is a script folder).
"""

from __future__ import annotations

import atexit
import os
import time
from pathlib import Path

from hypothesis import core

_DIR = os.environ.get("INVARIANTS_COUNT_DIR")
_STATE = {"n": 0, "written": 0.0}


def _write() -> None:
    path = Path(_DIR) / f"{os.getpid()}.count"  # type: ignore[arg-type]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(_STATE["n"]))
    tmp.replace(path)
    _STATE["written"] = time.monotonic()


if _DIR and not getattr(core.StateForActualGivenExecution, "_invariants_counted", False):
    _original = core.StateForActualGivenExecution._execute_once_for_engine

    def _counted(self, data):
        _STATE["n"] += 1
        if time.monotonic() - _STATE["written"] > 1.0:
            _write()
        return _original(self, data)

    core.StateForActualGivenExecution._execute_once_for_engine = _counted
    core.StateForActualGivenExecution._invariants_counted = True
    atexit.register(_write)


def counts(directory: str | Path) -> dict[int, int]:
    """{pid: its last written count} of every process that wrote one."""
    return {int(p.stem): int(p.read_text() or 0) for p in Path(directory).glob("*.count")}


def total(directory: str | Path) -> int:
    """The sum of every process's last written count."""
    return sum(counts(directory).values())
