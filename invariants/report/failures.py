"""A failing test's text, read for the report: message, location, Hypothesis's replay.

:func:`parse_failure` takes pytest's longrepr and returns the error lines, the
failing example, the ``@reproduce_failure`` decorator (with its version and
blob) and a printed seed; :func:`hypothesis_examples` reads the number of test
cases from Hypothesis's statistics.
"""

from __future__ import annotations

import re

MESSAGE_CHARS = 3_000

_REPRO = re.compile(r"@reproduce_failure\(\s*'([^']+)'\s*,\s*b'([^']*)'\s*\)")
_REPRO2 = re.compile(r'@reproduce_failure\(\s*"([^"]+)"\s*,\s*b"([^"]*)"\s*\)')
_SEED = re.compile(r"@seed\((\d+)\)|--hypothesis-seed=(\d+)")
_EXAMPLE_HEAD = re.compile(
    r"^(Falsifying(?: explicit)? example|Failing test case|Falsifying example)\s*:?\s*(.*)$"
)
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_LOCATION = re.compile(r"^(\S+\.py):(\d+): (\w[\w.]*)\s*$")


def _strip_e(line: str) -> str:
    if line.startswith("E   "):
        return line[4:].removeprefix("    ")
    if line == "E":
        return ""
    return line


def parse_failure(longrepr: str) -> dict:
    """The useful parts of a failure's text.

    ``message``: the error lines (pytest's ``E`` lines) without Hypothesis's
    reproduction boilerplate; ``location``: ``file:line: Error``;
    ``falsifying_example``: Hypothesis's failing example (``test(x=..., )``);
    ``reproduce_failure``: the decorator that replays it, with its
    ``reproduce_version`` and ``reproduce_blob``; ``seed``: a ``@seed(N)`` /
    ``--hypothesis-seed=N`` Hypothesis printed (random profiles).  Missing
    parts are ``None``.  Works for Hypothesis's older ("Falsifying example",
    "You can reproduce this example") and newer ("Failing test case") texts.
    """
    # Object addresses differ from run to run: the report must not.
    text = _ADDRESS.sub(" at 0x...", longrepr or "")
    lines = text.splitlines()
    e_lines = [_strip_e(ln) for ln in lines if ln.startswith("E ") or ln == "E"]
    body = e_lines if e_lines else lines
    examples: list[str] = []
    i = 0
    while i < len(body):
        m = _EXAMPLE_HEAD.match(body[i].strip())
        if not m:
            i += 1
            continue
        chunk = [m.group(2)] if m.group(2) else []
        i += 1
        depth = sum(c in "([{" for c in "".join(chunk)) - sum(c in ")]}" for c in "".join(chunk))
        while i < len(body) and (depth > 0 or not chunk):
            chunk.append(body[i])
            depth += sum(c in "([{" for c in body[i]) - sum(c in ")]}" for c in body[i])
            i += 1
        examples.append("\n".join(chunk).strip())
    m = _REPRO.search(text) or _REPRO2.search(text)
    seed = _SEED.search(text)
    location = None
    for ln in reversed(lines):
        lm = _LOCATION.match(ln.strip())
        if lm:
            location = ln.strip()
            break
    drop = ("You can reproduce this", "You can add @seed", "@reproduce_failure(")
    message_lines = [ln for ln in body if not any(d in ln for d in drop)]
    message = "\n".join(message_lines).strip()
    if len(message) > MESSAGE_CHARS:
        message = "...\n" + message[-MESSAGE_CHARS:]
    return {
        "message": message,
        "location": location,
        "falsifying_example": "\n\n".join(examples) if examples else None,
        "reproduce_failure": m.group(0) if m else None,
        "reproduce_version": m.group(1) if m else None,
        "reproduce_blob": m.group(2) if m else None,
        "seed": int(seed.group(1) or seed.group(2)) if seed else None,
    }


_PHASE = re.compile(r"during (\w+) phase")
_COUNTS = re.compile(r"(\d+) passing(?: examples| test cases)?, (\d+) failing")


def hypothesis_examples(stats_text: str | None) -> int | None:
    """Test cases Hypothesis ran (passing + failing, every phase but shrinking)."""
    if not stats_text:
        return None
    total, seen, phase = 0, False, ""
    for line in stats_text.splitlines():
        pm = _PHASE.search(line)
        if pm:
            phase = pm.group(1)
        cm = _COUNTS.search(line)
        if cm and phase != "shrink":
            total += int(cm.group(1)) + int(cm.group(2))
            seen = True
    return total if seen else None
