"""Meta-tests of ``make fuzz``'s patch of HypoFuzz's coverage collector (tools/hypofuzz_scope.py).

The patch is written against one HypoFuzz release, pinned in ``pyproject.toml``'s
``fuzz`` extra. These tests fail loudly when the installed HypoFuzz is another release,
when the pin and the patch disagree, or when an internal the patch replaces or calls is
gone; and they check what the patch is for: the scoped collector records the branches of
in-scope code, tells two paths through it apart, and records nothing of out-of-scope
code (which HypoFuzz's own collector, the negative control, does record).

The checks run in a subprocess: tools/ is a script folder, and importing one of its
modules here would add its literals to Hypothesis's constant pool mid-run
(library/test_strategies.py). Needs the ``fuzz`` extra; without it the tests skip with
the cause, and fail under CI (``INVARIANTS_REQUIRE_FUZZ=1``), as properties/meta/test_fuzz.py.
About 2 s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.meta

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "hypofuzz_scope.py"

# Run in a fresh interpreter: the tool's checks, its patch, and the collectors on two
# throwaway modules, one inside the scope and one outside. Prints one JSON object.
PROBE = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import hypofuzz_scope as scope

out = {"pinned": scope.PINNED, "installed": scope.installed_version(),
       "problems": scope.problems()}
cls = scope.apply()
from hypofuzz import coverage, provider
stock_cls = coverage.CoverageCollector
out["provider_uses_scoped"] = provider.CoverageCollector is cls and cls is not stock_cls

tmp = Path(tempfile.mkdtemp())
SRC = "def f(x):\n    if x:\n        y = 1\n    else:\n        y = 2\n    return y\n"
for name in ("inside", "outside"):
    (tmp / name).mkdir()
    (tmp / name / f"mod_{name}.py").write_text(SRC)
    sys.path.insert(0, str(tmp / name))
scope.add_to_scope(str(tmp / "inside") + "/")
import mod_inside, mod_outside

def seen(collector_cls, x):
    with collector_cls() as c:  # a fresh collector per case, as HypoFuzz's provider makes
        mod_inside.f(x)
        mod_outside.f(x)
    ends = [e for b in c.branches for e in (b.start, b.end)]
    files = {Path(e.filename).name for e in ends}
    lines = sorted({b.end.line for b in c.branches if b.end.filename == mod_inside.__file__})
    return {"files": sorted(files & {"mod_inside.py", "mod_outside.py"}), "lines": lines}

out["scoped"] = {str(x): seen(cls, x) for x in (True, False)}
out["stock"] = {str(x): seen(coverage.CoverageCollector, x) for x in (True, False)}

scope.installed_version = lambda: "0.0.1"  # negative control of the version check
out["other_version_problems"] = scope.problems()
try:
    scope._IN_SCOPE.clear()
    from hypofuzz import provider as p
    p.CoverageCollector = coverage.CoverageCollector
    scope.apply()
    out["other_version_applied"] = True
except RuntimeError as exc:
    out["other_version_applied"] = False
    out["other_version_error"] = str(exc)
print(json.dumps(out))
"""


# A worker switching back to a target re-enters its fixtures: once with HypoFuzz's own
# _enter_fixtures (the negative control), once patched. Prints one JSON object.
PROBE_REENTRY = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import hypofuzz_scope as scope
from hypofuzz.collection import collect_tests
from hypofuzz.hypofuzz import FailedFatally, FuzzTarget

tmp = Path(tempfile.mkdtemp())
(tmp / "none.ini").write_text("[pytest]\n")  # no project configuration
(tmp / "test_reentry.py").write_text(
    "import pytest\nfrom hypothesis import given, strategies as st\n"
    "@pytest.fixture\ndef rec():\n    yield []\n"
    "@given(st.integers())\ndef test_a(rec, x):\n    rec.append(x)\n"
)
(target,) = collect_tests(["-p", "no:cacheprovider", "-q", "--rootdir", str(tmp),
                           "-c", str(tmp / "none.ini"), str(tmp / "test_reentry.py")]).fuzz_targets

def reenter():
    try:
        for _ in range(2):
            target._enter_fixtures()
            target._exit_fixtures()
        return "ok"
    except (FailedFatally, AssertionError) as exc:  # pytest: "fixture value ... not available"
        target._exit_fixtures()
        return "torn-down fixture" if "not available" in str(exc) else repr(exc)

out = {"stock": reenter()}
scope.apply()
out["patched"] = reenter()
print(json.dumps(out))
"""


def probe_env() -> dict[str, str]:
    """The probes' environment, without ``CI``: with it set Hypothesis loads its own "ci"
    profile (derandomize=True), and HypoFuzz does not collect a derandomized test, so the
    probe's one target would not exist (found by .ci/run, which sets CI)."""
    return {k: v for k, v in os.environ.items() if k != "CI"}


def _require_hypofuzz() -> None:
    if importlib.util.find_spec("hypofuzz") is not None:
        return
    message = "the HypoFuzz patch tests need hypofuzz (the fuzz extra)"
    if os.environ.get("INVARIANTS_REQUIRE_FUZZ") or os.environ.get("CI"):
        pytest.fail(message + " (CI installs it in .ci/run)")
    pytest.skip(message + " (pip install -e '.[fuzz]')")


def run_probe(script: str) -> dict:
    """Run a probe script in a fresh interpreter (tools/ never enters this process, so not
    Hypothesis's constant pool); return the JSON of its last line."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(ROOT / "tools")],
        cwd=ROOT,
        env=probe_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def probe() -> dict:
    _require_hypofuzz()
    return run_probe(PROBE)


def test_a_worker_can_switch_back_to_a_target_with_function_fixtures():
    """Re-entering a target's function-scoped fixtures works once patched (stock: it kills).

    HypoFuzz 25.11.1 reuses the item's torn-down FixtureRequest on re-entry; a worker
    switching back to such a test died (fresh_request_on_enter in tools/hypofuzz_scope.py).
    """
    _require_hypofuzz()
    out = run_probe(PROBE_REENTRY)
    assert out == {"stock": "torn-down fixture", "patched": "ok"}, out


def pinned_in_pyproject() -> str | None:
    """The version ``==``-pinned for hypofuzz in pyproject's ``fuzz`` extra (None: not pinned)."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["fuzz"]
    for requirement in extra:
        m = re.fullmatch(r"hypofuzz\s*==\s*([\w.]+)", requirement.strip())
        if m:
            return m.group(1)
    return None


def test_installed_hypofuzz_is_the_pinned_one(probe):
    """The installed HypoFuzz, pyproject's pin and the patch's PINNED are one release."""
    assert probe["problems"] == [], (
        "tools/hypofuzz_scope.py cannot patch the installed HypoFuzz: "
        + "; ".join(probe["problems"])
        + ". Re-read the patched internals against the new release, re-run "
        "benchmarks/bench_fuzz.py, and move PINNED and pyproject's pin together."
    )
    assert probe["installed"] == probe["pinned"] == pinned_in_pyproject(), probe


def test_the_patch_is_what_hypofuzz_runs(probe):
    """After apply(), HypoFuzz's provider builds the scoped collector for every test case."""
    assert probe["provider_uses_scoped"]


def test_scoped_collector_sees_in_scope_paths_and_nothing_else(probe):
    """Branches of the in-scope module only, and its two paths differ; stock sees both files."""
    scoped, stock = probe["scoped"], probe["stock"]
    for x in ("True", "False"):
        assert scoped[x]["files"] == ["mod_inside.py"], scoped
        # Negative control: the out-of-scope module ran and HypoFuzz's own collector saw it.
        assert stock[x]["files"] == ["mod_inside.py", "mod_outside.py"], stock
    # if-branch (line 3) against else-branch (line 5): the guidance signal survives.
    assert 3 in scoped["True"]["lines"] and 3 not in scoped["False"]["lines"], scoped
    assert 5 in scoped["False"]["lines"] and 5 not in scoped["True"]["lines"], scoped


def test_another_hypofuzz_release_is_refused_loudly(probe):
    """Negative control of the pin check: another version is named, and apply() raises."""
    assert any("0.0.1" in p for p in probe["other_version_problems"]), probe
    assert probe["other_version_applied"] is False, probe
    assert "0.0.1" in probe["other_version_error"], probe
