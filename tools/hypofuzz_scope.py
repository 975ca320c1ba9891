"""HypoFuzz's coverage collector, scoped to this project's files (a patch of HypoFuzz 25.11.1).

Loaded as a pytest plugin (``PYTHONPATH=tools``, ``-p hypofuzz_scope``) into every
process of ``make fuzz`` (tools/fuzz.py): HypoFuzz's hub and each worker collect the
tests with the same pytest arguments, so the patch is in place in every worker whatever
the multiprocessing start method.

Why. HypoFuzz guides its mutations by the branches each input covers. Its collector,
``hypofuzz.coverage.CoverageCollector``, on Python 3.11 installs ``sys.settrace`` with a
*line* tracer on every frame, numpy's and scipy's Python code included, and builds a
``Location`` (a named tuple) for every line executed; on 3.12+ it uses
``sys.monitoring`` BRANCH events but rebuilds ``list(code.co_positions())`` on every
event. The property tests here spend their time in numpy and in scipy's ``solve_ivp``
(pure Python), so most of that tracing measures third-party code and costs most of the
run (``benchmarks/bench_fuzz.py`` measures it: docs/profiles.md, "Speed: the coverage collector").

What. :class:`ScopedCoverageCollector` is a subclass that

- on 3.11 (``engine = "ctracer"``, the default) runs coverage.py's C tracer
  (:func:`start_ctracer`; coverage.py is a HypoFuzz dependency) with the per-file
  decision :func:`in_scope`: events of other files end in C, unrecorded, and the
  line arcs of in-scope files are recorded in C, then turned into HypoFuzz ``Branch``
  objects once per test case through a per-file cache (:func:`arcs_to_branches`);
- with ``engine = "python"`` (kept for benchmarks/bench_fuzz.py) installs a Python
  *call* tracer that hands a line tracer only to in-scope frames, with each
  ``Location`` cached per (file, line);
- on 3.12+ returns ``sys.monitoring.DISABLE`` for code outside the scope (as stock
  HypoFuzz does for its own exclusions) and caches each code object's position table
  (written, not run here: this project runs 3.11).

A second fix rides along: :func:`fresh_request_on_enter` (a worker switching back to
a test with function-scoped fixtures died in stock HypoFuzz 25.11.1).

The scope is this repository's ``invariants/`` and ``properties/`` folders and every
test file the session collected (:func:`pytest_collection_modifyitems`: a test module
outside them, such as a planted one in a temporary folder, is in scope too).
:func:`apply` swaps the class in where HypoFuzz's provider looks it up
(``hypofuzz.provider.CoverageCollector``), after checking that the installed HypoFuzz
is :data:`PINNED` and still has the internals this relies on (:func:`problems`);
anything else is a loud error, never a silent fall-back. The upstream proposal is
docs/hypofuzz-coverage-scoping.md; properties/meta/test_hypofuzz_scope.py checks the
pin and the patch.

Never imported by the suite itself (tools/ is a script folder).
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from pathlib import Path
from typing import Any

PINNED = "25.11.1"  # the HypoFuzz release this patch was written and measured against
ROOT = Path(__file__).resolve().parent.parent
# Folders (and files) whose code the collector traces; grown by the collected test files.
SCOPE: list[str] = [str(ROOT / "invariants") + os.sep, str(ROOT / "properties") + os.sep]
_IN_SCOPE: dict[str, bool] = {}  # file name -> in scope (the per-file decision, cached)
_LOCATIONS: dict[str, dict[int, Any]] = {}  # file -> line -> hypofuzz Location (3.11)
_POSITIONS: dict[int, tuple[Any, list]] = {}  # id(code) -> (code, its co_positions) (3.12+)
_TRACE_CACHE: dict[str, Any] = {}  # file name -> coverage.py disposition (C tracer, 3.11)
_BRANCHES: dict[str, dict[int, Any]] = {}  # file -> packed arc -> hypofuzz Branch (3.11)


def add_to_scope(path: str | Path) -> None:
    """Trace ``path`` too (a file or, ending in the separator, a folder)."""
    entry = str(path)
    if entry not in SCOPE:
        SCOPE.append(entry)
        _IN_SCOPE.clear()
        _TRACE_CACHE.clear()


def in_scope(filename: str) -> bool:
    """Whether code from ``filename`` is traced: it lies in a :data:`SCOPE` entry."""
    try:
        return _IN_SCOPE[filename]
    except KeyError:
        hit = any(filename == e or (e.endswith(os.sep) and filename.startswith(e)) for e in SCOPE)
        _IN_SCOPE[filename] = hit
        return hit


def installed_version() -> str | None:
    """The installed HypoFuzz distribution's version, or None if it is not installed."""
    try:
        return importlib.metadata.version("hypofuzz")
    except importlib.metadata.PackageNotFoundError:
        return None


def problems() -> list[str]:
    """Why the patch cannot be applied to the installed HypoFuzz (empty: it can)."""
    version = installed_version()
    if version is None:
        return ["HypoFuzz is not installed (pip install -e '.[fuzz]')"]
    out = []
    if version != PINNED:
        out.append(
            f"HypoFuzz {version} is installed; tools/hypofuzz_scope.py patches {PINNED} "
            "(pip install -e '.[fuzz]', or re-measure and re-pin: docs/profiles.md)"
        )
    from hypofuzz import coverage, provider

    needed = {
        "hypofuzz.coverage.CoverageCollector": getattr(coverage, "CoverageCollector", None),
        "hypofuzz.coverage.Location": getattr(coverage, "Location", None),
        "hypofuzz.coverage.Branch.make": getattr(getattr(coverage, "Branch", None), "make", None),
        "hypofuzz.provider.CoverageCollector": getattr(provider, "CoverageCollector", None),
    }
    from hypofuzz import hypofuzz as engine

    needed["hypofuzz.hypofuzz.FuzzTarget._enter_fixtures"] = getattr(
        getattr(engine, "FuzzTarget", None), "_enter_fixtures", None
    )
    import _pytest.python

    needed["_pytest.python.Function._initrequest"] = getattr(
        _pytest.python.Function, "_initrequest", None
    )
    try:
        from coverage.tracer import CFileDisposition, CTracer
    except ImportError:
        CTracer = CFileDisposition = None
    needed["coverage.tracer.CTracer"] = CTracer
    needed["coverage.tracer.CFileDisposition"] = CFileDisposition
    out += [f"{name} is gone" for name, obj in needed.items() if obj is None]
    collector = needed["hypofuzz.coverage.CoverageCollector"]
    for attr in ("__enter__", "__exit__", "trace_pre_312", "trace_branch", "branches", "last"):
        if collector is not None and not _has_attr(collector, attr):
            out.append(f"hypofuzz.coverage.CoverageCollector.{attr} is gone")
    return out


def _has_attr(cls: type, name: str) -> bool:
    """Class attribute, or an instance attribute set by ``__init__`` (branches, last)."""
    if hasattr(cls, name):
        return True
    try:
        return hasattr(cls(), name)
    except Exception:  # a constructor that now needs arguments: the internals changed
        return False


def scoped_collector_class() -> type:
    """:class:`ScopedCoverageCollector`, built on the installed HypoFuzz's collector."""
    from hypofuzz.coverage import Branch, CoverageCollector, Location

    class ScopedCoverageCollector(CoverageCollector):
        """HypoFuzz's collector, tracing only the files :func:`in_scope` accepts."""

        engine = "ctracer"  # on 3.11: coverage.py's C tracer; "python": the tracers below

        def __enter__(self) -> ScopedCoverageCollector:
            if sys.version_info[:2] >= (3, 12):
                return super().__enter__()  # sys.monitoring, with trace_branch below
            self.last = None
            self.branches = set()
            self.prev_trace = sys.gettrace()
            if self.engine == "ctracer":
                self._ctracer = start_ctracer()
            else:
                sys.settrace(self._trace_call)
            return self

        def __exit__(self, *exc: object) -> None:
            if sys.version_info[:2] < (3, 12) and self.engine == "ctracer":
                self._ctracer.stop()
                sys.settrace(self.prev_trace)
                self.branches = arcs_to_branches(self._ctracer.data, Branch, Location)
                return
            super().__exit__(*exc)

        def _trace_call(self, frame: Any, event: str, arg: Any) -> Any:
            """The global tracer (call events): a line tracer for in-scope frames only."""
            return self._trace_line if in_scope(frame.f_code.co_filename) else None

        def _trace_line(self, frame: Any, event: str, arg: Any) -> Any:
            """Stock ``trace_pre_312`` on an in-scope frame, with cached Locations."""
            if event == "line":
                fname = frame.f_code.co_filename
                lines = _LOCATIONS.get(fname)
                if lines is None:
                    lines = _LOCATIONS[fname] = {}
                line = frame.f_lineno
                this = lines.get(line)
                if this is None:
                    this = lines[line] = Location(fname, line, None)
                if self.last is not None:
                    self.branches.add(Branch.make(self.last, this))
                self.last = this
            return self._trace_line

        def trace_branch(self, code: Any, source_offset: int, dest_offset: int) -> Any:
            """Stock ``trace_branch`` (3.12+), scoped, with the position table cached."""
            if not in_scope(code.co_filename):
                return sys.monitoring.DISABLE  # type: ignore[attr-defined]
            entry = _POSITIONS.get(id(code))
            if entry is None or entry[0] is not code:
                entry = _POSITIONS[id(code)] = (code, list(code.co_positions()))
            positions = entry[1]
            s_line, _, s_col, _ = positions[source_offset // 2]
            d_line, _, d_col, _ = positions[dest_offset // 2]
            if s_line is None or d_line is None or s_col is None or d_col is None:
                return sys.monitoring.DISABLE  # type: ignore[attr-defined]
            self.branches.add(
                Branch.make(
                    Location(code.co_filename, s_line, s_col),
                    Location(code.co_filename, d_line, d_col),
                )
            )
            return None

    return ScopedCoverageCollector


def _should_trace(filename: str, frame: Any) -> Any:
    """coverage.py's per-file decision (its C tracer caches it per file name): :func:`in_scope`."""
    from coverage.disposition import disposition_init
    from coverage.tracer import CFileDisposition

    disp = disposition_init(CFileDisposition, filename)
    if in_scope(filename):
        disp.trace = True
        disp.source_filename = filename
    return disp


def start_ctracer() -> Any:
    """coverage.py's C tracer recording line arcs of in-scope files, started on this thread.

    Set up as ``coverage.collector.Collector._start_tracer`` sets it up, with no plug-ins,
    contexts or threads. Its per-file decisions are cached in ``_TRACE_CACHE``.
    """
    from coverage.tracer import CTracer

    tracer = CTracer()
    tracer.data = {}
    tracer.lock_data = tracer.unlock_data = _nothing
    tracer.trace_arcs = True
    tracer.should_trace = _should_trace
    tracer.should_trace_cache = _TRACE_CACHE
    tracer.warn = _nothing
    tracer.concur_id_func = None
    tracer.file_tracers = {}
    tracer.check_include = None
    tracer.should_start_context = None
    tracer.switch_context = None
    tracer.disable_plugin = _nothing
    tracer.start()
    return tracer


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


def unpack_arc(packed: int) -> tuple[int, int]:
    """coverage.py's packed arc (C tracer, ``CTracer_record_pair``) as (from line, to line).

    Negative lines are a function's entry and exit (``-co_firstlineno``), as coverage.py
    records them: see ``coverage.collector.Collector.flush_data``.
    """
    l1 = packed & 0xFFFFFFF
    l2 = (packed >> 28) & 0xFFFFFFF
    if packed & (1 << 56):
        l1 = -l1
    if packed & (1 << 57):
        l2 = -l2
    return l1, l2


def arcs_to_branches(data: dict[str, set[int]], branch: Any, location: Any) -> set:
    """HypoFuzz ``Branch`` objects for the C tracer's packed arcs ({file: {packed}}), cached."""
    out = set()
    for fname, packeds in data.items():
        known = _BRANCHES.get(fname)
        if known is None:
            known = _BRANCHES[fname] = {}
        for packed in packeds:
            br = known.get(packed)
            if br is None:
                l1, l2 = unpack_arc(packed)
                br = known[packed] = branch.make(
                    location(fname, l1, None), location(fname, l2, None)
                )
            out.add(br)
    return out


def fresh_request_on_enter(enter: Any) -> Any:
    """``FuzzTarget._enter_fixtures`` that first gives the pytest item a new FixtureRequest.

    HypoFuzz 25.11.1 tears a target's fixtures down when a worker switches to another
    target, and sets them up again when it switches back, through the item's *old*
    request: its cache still holds the torn-down function-scoped fixtures, and
    ``getfixturevalue`` then fails ("The fixture value for "record_slack" is not
    available ... already been torn down"), which kills the worker process. Measured
    before this fix: one of the two workers of a 150 s ``make fuzz`` died that way.
    pytest itself calls ``item._initrequest()`` before re-running an item
    (``_pytest.runner.runtestprotocol``); so does this.
    """

    def _enter_fixtures(self: Any) -> None:
        item = self.pytest_item
        if item is not None and hasattr(item, "_initrequest"):
            item._initrequest()
        enter(self)

    _enter_fixtures._invariants_fresh_request = True
    return _enter_fixtures


def apply(scoped: bool = True) -> type:
    """Make HypoFuzz's provider use the scoped collector (unless not ``scoped``); returns
    the collector class the provider now uses.

    Also makes a worker's re-entry into a target's fixtures safe
    (:func:`fresh_request_on_enter`).

    Raises RuntimeError, naming every problem, when the installed HypoFuzz is not
    :data:`PINNED` or lacks an internal the patch relies on.
    """
    found = problems()
    if found:
        raise RuntimeError("the HypoFuzz coverage patch cannot be applied: " + "; ".join(found))
    from hypofuzz import provider

    if scoped and not getattr(provider.CoverageCollector, "_invariants_scoped", False):
        cls = scoped_collector_class()
        cls._invariants_scoped = True
        provider.CoverageCollector = cls
    from hypofuzz.hypofuzz import FuzzTarget

    if not getattr(FuzzTarget._enter_fixtures, "_invariants_fresh_request", False):
        FuzzTarget._enter_fixtures = fresh_request_on_enter(FuzzTarget._enter_fixtures)
    return provider.CoverageCollector


def pytest_configure(config: Any) -> None:
    """Apply the patch in every process that loads this plugin (hub and workers).

    With ``INVARIANTS_FUZZ_STOCK_COVERAGE=1`` (``tools/fuzz.py --stock-coverage``) HypoFuzz
    keeps its own collector and only the fixture fix is applied: a measurement of the
    collector alone.
    """
    apply(scoped=not os.environ.get("INVARIANTS_FUZZ_STOCK_COVERAGE"))


def pytest_collection_modifyitems(config: Any, items: list) -> None:
    """Trace every collected test file (it may lie outside ``properties/``)."""
    for item in items:
        add_to_scope(str(Path(str(item.path)).resolve()))
