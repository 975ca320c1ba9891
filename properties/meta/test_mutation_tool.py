"""Meta-tests of the mutation tool's verdicts file (tools/mutation_verdicts.toml).

``tools/mutation.py`` classifies every mutant that mutmut does not kill by a verdict
(equivalent or gap, with a reason) tied to the mutated line by a fingerprint.  The suite
never imports modules of ``tools/`` (the determinism meta-test in test_strategies.py), so
the tool runs here as a subprocess: ``--check-verdicts`` validates the file and
``--classify NAME STATUS LINE`` prints the verdict the report would give.  The schema is
also read directly with :mod:`tomllib`.  Negative controls: a verdict is not applied to a
mutant whose mutated line changed, and malformed files are rejected with the entry named.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "mutation.py"
VERDICTS = ROOT / "tools" / "mutation_verdicts.toml"

pytestmark = pytest.mark.meta


def _package() -> str:
    """The mutated package, as [tool.mutmut] only_mutate places it (``invariants.core``)."""
    section = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    parents = {str(Path(p).parent) for p in section["tool"]["mutmut"]["only_mutate"]}
    assert len(parents) == 1, parents
    return parents.pop().replace("/", ".")


def _tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOL), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fingerprint(line: str) -> str:
    return hashlib.sha1(line.encode()).hexdigest()[:10]


def test_verdicts_file_schema() -> None:
    """Every verdict has kind E or G, a fingerprint and a non-empty reason; the tool agrees."""
    data = tomllib.loads(VERDICTS.read_text(encoding="utf-8"))
    reasons = data["reasons"]
    assert data["verdicts"], "no verdicts"
    for name, entry in data["verdicts"].items():
        assert re.fullmatch(r"\w+\.x\S+__mutmut_\d+", name), name
        assert entry["kind"] in {"E", "G"}, name
        assert re.fullmatch(r"[0-9a-f]{10}", entry["fingerprint"]), name
        reason = reasons[entry["reason_key"]] if "reason_key" in entry else entry["reason"]
        assert reason.strip(), name
    for name, entry in data["timeouts"].items():
        assert re.fullmatch(r"\w+\.x\S+__mutmut_\d+", name), name
        assert re.fullmatch(r"[0-9a-f]{10}", entry["fingerprint"]), name
        assert entry["fails"].strip(), name
    for name, entry in data.get("no_tests", {}).items():
        assert entry["kind"] in {"E", "G"} and entry["reason"].strip(), name

    proc = _tool("--check-verdicts")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(data['verdicts'])} verdicts" in proc.stdout


_FAKE = "losses.x_planted__mutmut_1"
_LINE = "return 2.0 * m"


def _verdicts_file(tmp_path: Path, kind: str = "E", body: str | None = None) -> Path:
    body = body or (
        f'[verdicts."{_FAKE}"]\nkind = "{kind}"\nfingerprint = "{_fingerprint(_LINE)}"\n'
        'reason = "planted verdict"\n\n'
        f'[timeouts."losses.x_planted__mutmut_2"]\nfingerprint = "{_fingerprint(_LINE)}"\n'
        'fails = "test_losses.py::planted"\n'
    )
    path = tmp_path / "verdicts.toml"
    path.write_text(
        'schema = "invariants.mutation-verdicts/1"\nnotes = []\ntimeout_note = "Hand-checked."\n'
        + body,
        encoding="utf-8",
    )
    return path


def _classify(path: Path, short: str, status: str, line: str) -> dict:
    proc = _tool("--verdicts", str(path), "--classify", f"{_package()}.{short}", status, line)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("kind, expected", [("E", "equivalent"), ("G", "gap")])
def test_classify_applies_a_verdict_only_when_its_fingerprint_matches(
    tmp_path: Path, kind: str, expected: str
) -> None:
    """The planted verdict classifies its mutant; the same name on a changed line does not."""
    path = _verdicts_file(tmp_path, kind)
    hit = _classify(path, _FAKE, "survived", _LINE)
    assert hit == {
        "kind": expected,
        "reason": "planted verdict",
        "fingerprint": _fingerprint(_LINE),
    }
    # Negative controls: the mutated line changed (mutmut renumbered the function), or the
    # mutant has no verdict at all.
    assert _classify(path, _FAKE, "survived", "return 3.0 * m")["kind"] == "unclassified"
    assert _classify(path, "losses.x_planted__mutmut_3", "survived", _LINE)["kind"] == (
        "unclassified"
    )
    # A timeout is detected either way; its hand-check is cited only on the matching line.
    timeout = "losses.x_planted__mutmut_2"
    assert "Fails: test_losses.py::planted" in _classify(path, timeout, "timeout", _LINE)["reason"]
    stale = _classify(path, timeout, "timeout", "return 3.0 * m")
    assert stale["kind"] == "detected" and "Fails" not in stale["reason"]


@pytest.mark.parametrize(
    "body, message",
    [
        (f'[verdicts."{_FAKE}"]\nkind = "X"\nfingerprint = "0123456789"\nreason = "r"\n', "kind"),
        (f'[verdicts."{_FAKE}"]\nkind = "E"\nreason = "r"\n', "missing key(s) ['fingerprint']"),
        (f'[verdicts."{_FAKE}"]\nkind = "E"\nfingerprint = "0123456789"\n', "exactly one of"),
        (f'[verdicts."{_FAKE}"]\nkind = "E"\nfingerprint = "012345"\nreason = "r"\n', "hex"),
        (f'[verdicts."{_FAKE}"]\nkind = "E"\nfingerprint = "0123456789"\nreason = " "\n', "empty"),
        (
            f'[verdicts."{_FAKE}"]\nkind = "E"\nfingerprint = "0123456789"\nreason_key = "NO"\n',
            "not a key of [reasons]",
        ),
        (
            '[verdicts."nomodule.x_f__mutmut_1"]\nkind = "E"\nfingerprint = "0123456789"\n'
            'reason = "r"\n',
            "not mutated",
        ),
    ],
)
def test_malformed_verdicts_are_rejected_naming_the_entry(
    tmp_path: Path, body: str, message: str
) -> None:
    path = _verdicts_file(tmp_path, body=body)
    proc = _tool("--verdicts", str(path), "--check-verdicts")
    assert proc.returncode == 1
    entry = re.match(r'(\[verdicts\."[^"]+"\])', body).group(1)
    assert entry in proc.stderr and message in proc.stderr, proc.stderr
    # The report path refuses the file too, before any mutmut run.
    proc = _tool("--verdicts", str(path), "--summarise-only", "--workdir", str(tmp_path / "w"))
    assert proc.returncode != 0 and entry in proc.stderr, proc.stderr


def test_unreadable_verdicts_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "verdicts.toml"
    path.write_text('schema = "unterminated\n', encoding="utf-8")
    proc = _tool("--verdicts", str(path), "--check-verdicts")
    assert proc.returncode == 1 and "not valid TOML" in proc.stderr, proc.stderr


# --- the sampled run over the whole library (tools/mutation.py --sample) ------------------------


def _tool_json(*args: str, stdin: str = "") -> object:
    proc = subprocess.run(
        [sys.executable, str(TOOL), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # Newcombe, "Two-sided confidence intervals for the single proportion: comparison of
        # seven methods", Stat. Med. 17 (1998) 857-872, Table I, method 3 (Wilson score, no
        # continuity correction), given to 4 decimals.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # All detected: the lower end is n / (n + z^2) in closed form (z = 1.959964).
        (16, 16, 16 / (16 + 1.959964**2), 1.0),
    ],
)
def test_sampled_score_interval_is_wilson(k: int, n: int, lo: float, hi: float) -> None:
    """The per-package interval is Wilson's 95% score interval (published values).

    Tolerance 5e-5: the published values are rounded to 4 decimals (half a unit of the last
    place); the closed-form row is exact to the 7 digits of z (relative 1e-7).  Negative
    control: the Wald interval p +- z sqrt(p (1 - p) / n), the planted bug, gives
    (0.2522, 0.3638) for 81/263 and (0, 0) for 0/20, off by more than 2e-3.
    """
    got = _tool_json("--interval", str(k), str(n))
    assert got == pytest.approx([lo, hi], abs=5e-5)


def test_sampled_draw_is_seeded_uniform_and_reproducible() -> None:
    """The sample: min(N, population) distinct mutants of the population, the same for the
    same seed and package, different for another seed or package (its own generator)."""
    names = [f"invariants.core.theta.x_f__mutmut_{i}" for i in range(1, 201)]
    stdin = "\n".join(reversed(names))  # input order must not matter: the pool is sorted
    a = _tool_json("--draw", "16", "1", "core", stdin=stdin)
    assert len(a) == len(set(a)) == 16 and set(a) <= set(names)
    assert a == _tool_json("--draw", "16", "1", "core", stdin="\n".join(names))
    assert a != _tool_json("--draw", "16", "2", "core", stdin=stdin)
    assert a != _tool_json("--draw", "16", "1", "dynamics", stdin=stdin)
    assert sorted(_tool_json("--draw", "500", "1", "core", stdin=stdin)) == sorted(names)


def test_sampled_map_and_verdicts_are_well_formed(tmp_path: Path) -> None:
    """--check-sampled passes on the repository: every mapped module and test file exists and
    has a measured time, and the sampled verdicts file is valid.  Negative control: a verdict
    on a module outside the map, or with a bad kind, is rejected with its entry named."""
    ok = _tool("--check-sampled")
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'schema = "invariants.mutation-sampled-verdicts/1"\n'
        '[verdicts."invariants.nowhere.x_f__mutmut_1"]\n'
        'kind = "E"\nfingerprint = "0123456789"\nreason = "r"\n'
        '[verdicts."invariants.dynamics.gd.x_f__mutmut_2"]\n'
        'kind = "X"\nfingerprint = "0123456789"\nreason = "r"\n',
        encoding="utf-8",
    )
    proc = _tool("--check-sampled", str(bad))
    assert proc.returncode == 1
    assert "invariants.nowhere.x_f__mutmut_1" in proc.stderr
    assert "invariants.dynamics.gd.x_f__mutmut_2" in proc.stderr and "'X'" in proc.stderr
