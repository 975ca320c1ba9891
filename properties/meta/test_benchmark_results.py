"""Meta-tests of the benchmark results the report quotes: they cannot go stale silently.

A benchmark records the sha256 of every module of this repository it ran
(:func:`invariants.report.benchmarks.source_hashes` over ``sys.modules``); the report
recomputes them from its checkout and marks a result measured on other code as STALE
(:func:`invariants.report.benchmarks.stale_reason`), in ``report.json``, ``report.md``
and as a note of the run.  Checked here: the hashed set holds ``core/`` and ``dynamics/``
(in this process and in the real benchmark's environment), an edit of either makes a
result stale, and a current result is not marked.  These tests name no statement.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy
import pytest

import invariants.dynamics.flow  # the flow's modules are what is hashed below
from invariants.report import benchmarks, files
from invariants.report.benchmarks import EDITED_KEY, SOURCE_KEY
from invariants.report.build import build_report
from invariants.report.markdown import markdown

pytestmark = pytest.mark.meta

REPO = Path(__file__).resolve().parents[2]
COMPLETE = {"complete": True, "reason": "", "args": ["properties"], "shard": None}

# A small copy of the layout: the files a flow benchmark runs, and one it does not hash.
TREE = {
    "invariants/__init__.py": "",
    "invariants/core/network.py": "def product(ws):\n    return ws\n",
    "invariants/dynamics/flow.py": "METHOD = 'BDF'\n",
    "invariants/report/values.py": "# the report: never hashed\n",
    "benchmarks/bench_flow.py": "import invariants.dynamics.flow\n",
}


def tree(root: Path) -> dict[str, SimpleNamespace]:
    """Write :data:`TREE` under ``root``; its modules as ``sys.modules`` would hold them."""
    modules = {}
    for rel, text in TREE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        name = rel.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        modules[name] = SimpleNamespace(__file__=str(path))
    modules["numpy"] = SimpleNamespace(__file__=numpy.__file__)  # outside the repository
    modules["sys"] = SimpleNamespace()  # built in: no file
    return modules


def environment(root: Path, modules: dict) -> dict:
    """A result's ``environment`` block as the benchmarks write it."""
    return {SOURCE_KEY: benchmarks.source_hashes(modules, root), EDITED_KEY: []}


def test_hashes_cover_core_and_dynamics_and_change_with_them(tmp_path):
    """Every module of ``invariants/`` and ``benchmarks/`` is hashed by content (the
    report's own modules and everything outside the checkout are not); editing a
    ``core/`` or a ``dynamics/`` file, or removing one, makes the recorded code stale,
    and the reason names the file.
    """
    modules = tree(tmp_path)
    env = environment(tmp_path, modules)
    assert sorted(env[SOURCE_KEY]) == [
        "benchmarks/bench_flow.py",
        "invariants/__init__.py",
        "invariants/core/network.py",
        "invariants/dynamics/flow.py",
    ]
    assert benchmarks.stale_reason(env, tmp_path) is None
    for rel in ("invariants/core/network.py", "invariants/dynamics/flow.py"):
        path = tmp_path / rel
        original = path.read_text()
        path.write_text(original + "# one comment more\n")
        assert environment(tmp_path, modules)[SOURCE_KEY][rel] != env[SOURCE_KEY][rel]
        reason = benchmarks.stale_reason(env, tmp_path)
        assert reason == f"1 of the 4 source files it ran differ now: {rel}"
        path.write_text(original)
        assert benchmarks.stale_reason(env, tmp_path) is None
    (tmp_path / "invariants/core/network.py").unlink()
    assert "invariants/core/network.py (gone)" in benchmarks.stale_reason(env, tmp_path)


def test_old_empty_and_edited_records_are_stale(tmp_path):
    """A result without source hashes (the old ``library_sha256`` of top-level files
    only), with none, or whose files changed while it ran is stale, whatever its code.
    """
    modules = tree(tmp_path)
    env = environment(tmp_path, modules)
    old = {"library_sha256": {"flow.py": env[SOURCE_KEY]["invariants/dynamics/flow.py"][:16]}}
    assert "only the top-level files" in benchmarks.stale_reason(old, tmp_path)
    assert benchmarks.stale_reason({}, tmp_path) == "it records no hash of the code it ran"
    assert benchmarks.stale_reason(None, tmp_path) == "it records no hash of the code it ran"
    assert benchmarks.stale_reason({SOURCE_KEY: {}}, tmp_path) == "it records no source file"
    edited = {**env, EDITED_KEY: ["invariants/dynamics/flow.py"]}
    assert "edited while it ran" in benchmarks.stale_reason(edited, tmp_path)


def test_this_process_hashes_the_flow_modules():
    """In a real process (this one imported the flow), the hashed set is the flow's
    modules from ``core/`` and ``dynamics/`` by their files, and no report module (and,
    for the fuzzing benchmark, the loaded modules of ``properties/``).
    """
    hashes = benchmarks.source_hashes(sys.modules, REPO)
    for rel in ("invariants/dynamics/flow.py", "invariants/core/network.py"):
        assert hashes[rel] == benchmarks.file_sha256(REPO / rel)
    assert not [rel for rel in hashes if rel.startswith("invariants/report/")]
    assert all(
        rel.split("/")[0] in ("invariants", "benchmarks", "tools", "properties") for rel in hashes
    )
    # properties/ is hashed too (bench_fuzz times property tests): this module is loaded.
    assert "properties/meta/test_benchmark_results.py" in hashes


def test_the_flow_benchmark_records_the_code_it_runs():
    """The environment ``benchmarks/bench_flow.py`` writes (in a fresh process, after
    importing what it runs) hashes its ``core/`` and ``dynamics/`` modules and itself,
    matches this checkout, and labels the flow's default integrator from its signature.
    """
    code = (
        "import json, benchmarks.bench_flow as b; "
        "print(json.dumps({'env': b.environment(), 'integrator': b.integrator()}))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    recorded = out["env"][SOURCE_KEY]
    for rel in (
        "benchmarks/bench_flow.py",
        "invariants/core/network.py",
        "invariants/core/losses.py",
        "invariants/core/data.py",
        "invariants/dynamics/flow.py",
    ):
        assert rel in recorded
    assert out["env"][EDITED_KEY] == []
    assert benchmarks.stale_reason(out["env"], REPO) is None
    defaults = inspect.signature(invariants.dynamics.flow.gradient_flow).parameters
    method, late = defaults["method"].default, defaults["late_method"].default
    assert out["integrator"].startswith(f"{method} below ||w_prod|| = ")
    assert f", {late} above" in out["integrator"]


def results(root: Path, flow_env: dict, gd_env: dict) -> Path:
    """A ``benchmarks/results`` folder under ``root`` with a flow and a GD result."""
    folder = root / "benchmarks" / "results"
    folder.mkdir(parents=True)
    flow = {
        "schema": "invariants.bench.flow/1",
        "environment": flow_env,
        "problems": [{"depth": 4, "summary": {"median_ratio": 4.0}}],
        "issue_targets": [{"name": "depth 4 fast", "limit": 0.5, "pass": False}],
    }
    gd = {"schema": "invariants.bench.gd/1", "environment": gd_env, "ratio_a5_over_plain": 4.0}
    (folder / "flow.json").write_text(json.dumps(flow))
    (folder / "gd.json").write_text(json.dumps(gd))
    return folder


def test_report_marks_a_stale_result_and_not_a_current_one(tmp_path):
    """Of two results recorded on the same code, the one whose ``dynamics/`` file then
    changed is STALE in report.json (each metric, and why per file), in report.md (its
    rows, and the reason) and as a note that does not fail the run; the other is current.
    """
    modules = tree(tmp_path)
    flow_env = environment(tmp_path, modules)
    folder = results(tmp_path, flow_env, environment(tmp_path, modules))
    current = benchmarks.benchmark_metrics(folder)
    assert current["stale"] == {}
    assert not any(m["stale"] for m in current["metrics"].values())

    # A GD result that ran no file of dynamics/ here: the edit below leaves it current.
    gd_env = {SOURCE_KEY: {k: v for k, v in flow_env[SOURCE_KEY].items() if "dynamics" not in k}}
    (folder / "gd.json").write_text(
        json.dumps(
            {"schema": "invariants.bench.gd/1", "environment": gd_env, "ratio_a5_over_plain": 4.0}
        )
    )
    (tmp_path / "invariants/dynamics/flow.py").write_text("METHOD = 'LSODA'\n")
    metrics = benchmarks.benchmark_metrics(folder)
    assert set(metrics["stale"]) == {"flow.json"}
    assert "invariants/dynamics/flow.py" in metrics["stale"]["flow.json"]
    assert {k: m["stale"] for k, m in metrics["metrics"].items()} == {
        "flow.depth4.speedup_vs_rk45": True,
        "flow.target: depth 4 fast": True,
        "gd.ratio_a5_over_plain": False,
    }

    run = {"profile": "report", "selection": COMPLETE, "partial": False}
    report = build_report([], run, metrics)
    loaded = files.load(files.write_json(tmp_path / "report.json", report))
    assert loaded["benchmarks"] == metrics
    notes = [p for p in loaded["problems"] if p["kind"] == "stale benchmark"]
    assert [(p["item"], p["gating"]) for p in notes] == [("flow.json", False)]
    md = markdown(loaded)
    assert "| flow.depth4.speedup_vs_rk45 | 4 | higher | flow.json | **STALE** |" in md
    assert "| gd.ratio_a5_over_plain | 4 | lower | gd.json | current |" in md
    assert "- **STALE** flow.json: 1 of the 4 source files it ran differ now" in md
