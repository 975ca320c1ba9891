"""The HTML report (``index.html``), opened in a real browser: headless Chromium via Selenium.

A synthetic run (held, violated with a Hypothesis replay line, vacuous, reachable-only
and unchecked statements, a negative control, one statement resting on the violated
one) is written as a report folder by the same code a real run uses
(:func:`invariants.report.files.write_folder`), and its page is checked by
:func:`check_page` with the network switched off (Chrome DevTools' offline emulation):
no console error, nothing fetched, a card for every statement ID, a click on a graph
node shows and scrolls to its card even when the filter hides it, and the status filter
shows exactly the cards of the ticked statuses.  A screenshot is written beside the page
(its path is printed).  The negative control runs the same check on the page with one
card removed and an image from the network added: both are reported.

Needs the ``selenium`` package (the ``test`` extra), Chromium and its driver (the
``chromium`` and ``chromium-driver`` system packages) and Graphviz (``graphviz``).  When
one is missing the test fails with the cause under CI (``.ci/run`` installs them and
sets ``INVARIANTS_REQUIRE_REPORT_TOOLS=1``; ``CI`` set does the same) and skips naming
it elsewhere.  About 5 s.  The IDs are data: these tests name no statement.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from invariants.report import files, graph, html
from invariants.report.build import build_report
from invariants.report.records import TestRecord
from invariants.statements import IDS

pytestmark = pytest.mark.meta

COMPLETE = {"complete": True, "reason": "", "args": ["properties"], "shard": None}
FAILURE = """\
>       assert x < 10
E       assert 10 < 10
E       Failing test case: test_fail(
E           x=10,
E       )
E
E       You can reproduce this test case by temporarily adding \
@reproduce_failure('6.170.17', b'AEEK') as a decorator on your test function

t.py:7: AssertionError"""
HELD, VIOLATED, VACUOUS, REACHED, UNDERMINED, REMOVED = 0, 6, 7, 8, 9, 3
MATH = r"\forall t \ge 0:\ \|W_{k}(t)\|_F \le \frac{1}{2}\sum_{i=1}^{n} x_i^2"
OUTSIDE = "https://example.invalid/pixel.png"


def _entry(nodeid: str, sid: str, outcome: str = "passed", **kw: Any) -> dict:
    return TestRecord(nodeid, outcome, 0.1, [sid], **kw).to_entry()


def _slack(sid: str, ratios: list[float], exercised: int | None = None) -> dict:
    n = len(ratios)
    return {
        "statement": sid,
        "examples": n,
        "exercised": n if exercised is None else exercised,
        "ratio": max(ratios),
        "detail": "",
        "ratios": ratios,
    }


def synthetic_report() -> dict:
    """A finished run with one statement of each status (the rest not checked)."""
    tests = [
        _entry(f"t.py::test_{i:02d}", IDS[i], slacks=[_slack(IDS[i], [0.1, 0.25, 0.5])])
        for i in range(HELD, VIOLATED)
    ]
    tests += [
        _entry("t.py::test_fail", IDS[VIOLATED], "failed", longrepr=FAILURE),
        _entry("t.py::test_vacuous", IDS[VACUOUS], slacks=[_slack(IDS[VACUOUS], [0.3], 0)]),
        _entry(
            "t.py::test_reach",
            IDS[REACHED],
            slacks=[_slack(IDS[REACHED], [0.2, 0.3])],
            observations=[
                {"name": f"{IDS[REACHED]}_reach", "statement": IDS[REACHED], "values": {"x": 3}}
            ],
        ),
        _entry("t.py::test_uses", IDS[UNDERMINED], slacks=[_slack(IDS[UNDERMINED], [0.9])]),
        _entry("t.py::test_control", IDS[HELD], meta=True),
    ]
    report = build_report(tests, {"profile": "ci", "selection": COMPLETE, "partial": False})
    for row in report["statements"]:
        row["math"], row["words"] = MATH, f"In words: {row['id']} holds."
    report["statements"][UNDERMINED]["uses"] = [IDS[VIOLATED], IDS[HELD]]
    return report


def statuses_of(report: dict) -> dict[str, str]:
    return {r["id"]: r["status"] for r in report["statements"]}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The synthetic run's report folder (report.json, report.md, graph, index.html)."""
    d = tmp_path_factory.mktemp("html-report")
    report = synthetic_report()
    files.write_folder(report, d)
    return d, report


# --- the page without a browser -------------------------------------------------------


def test_the_page_has_a_card_per_statement_and_fetches_nothing(folder):
    """Every ID has one card with its MathML; the replay line is on the failing card."""
    d, _ = folder
    page = (d / html.INDEX_HTML).read_text()
    assert html.external_references(page) == []
    for sid in IDS:
        assert len(re.findall(rf'<article class="card" id="{re.escape(sid)}"', page)) == 1, sid
    cards = dict(re.findall(r'<article class="card" id="([^"]+)"(.*?)</article>', page, re.S))
    assert all("<math" in c for c in cards.values())
    assert "@reproduce_failure(&#x27;6.170.17&#x27;, b&#x27;AEEK&#x27;)" in cards[IDS[VIOLATED]]
    assert "undermined: rests on" in cards[IDS[UNDERMINED]]
    assert "undermined" not in cards[IDS[HELD]]
    assert '<svg class="hist"' in cards[IDS[HELD]] and '<svg class="hist"' not in cards[IDS[-1]]


def test_external_references_are_found():
    """Negative control: an image, a script, a style sheet and a CSS url() from outside."""
    page = (
        f'<img src="{OUTSIDE}"><script src="http://x.invalid/a.js"></script>'
        '<link rel="stylesheet" href="//cdn.invalid/a.css"><style>a{background:url('
        '"https://y.invalid/b.png")}</style><a href="#S-1">ok</a><img src="data:image/png;,">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"></math>'
    )
    assert html.external_references(page) == [
        OUTSIDE,
        "http://x.invalid/a.js",
        "//cdn.invalid/a.css",
        "https://y.invalid/b.png",
    ]


def test_malformed_latex_is_shown_as_code_not_lost():
    """A formula latex2mathml cannot convert is shown as its LaTeX."""
    assert html.math_html(r"\frac{a}{").startswith("<code")
    assert html.math_html(MATH).startswith("<math")


def test_render_command_writes_the_page(folder, tmp_path):
    """``python -m invariants.report render`` writes index.html and the graph too."""
    from invariants.report import cli

    d, _ = folder
    assert cli.main(["render", str(d / files.REPORT_JSON), "-o", str(tmp_path)]) in (0, 1)
    assert (tmp_path / html.INDEX_HTML).is_file()
    if graph.dot_program():
        assert (tmp_path / graph.GRAPH_SVG).is_file()


# --- the page in a browser ----------------------------------------------------------


def chromium_paths() -> tuple[str | None, str | None]:
    """The Chromium binary and its driver on PATH (``None`` each when missing)."""
    browser = next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))),
        None,
    )
    return browser, shutil.which("chromedriver")


def missing_for_browser() -> list[str]:
    """What the browser tests need and this machine lacks."""
    browser, driver = chromium_paths()
    out = []
    if importlib.util.find_spec("selenium") is None:
        out.append("the selenium package (pip install -e '.[test]')")
    if browser is None:
        out.append("Chromium (apt-get install chromium)")
    if driver is None:
        out.append("chromedriver (apt-get install chromium-driver)")
    if graph.dot_program() is None:
        out.append("Graphviz's dot, to draw the graph (apt-get install graphviz)")
    return out


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """Headless Chromium with its console log kept and the network switched off."""
    missing = missing_for_browser()
    if missing:
        message = "the browser test of the HTML report needs " + ", ".join(missing)
        if os.environ.get("INVARIANTS_REQUIRE_REPORT_TOOLS") or os.environ.get("CI"):
            pytest.fail(message + " (CI installs them in .ci/run)")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, chromedriver = chromium_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1800",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=options, service=Service(chromedriver))
    drv.set_page_load_timeout(30)
    drv.execute_cdp_cmd("Network.enable", {})
    drv.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    try:
        yield drv
    finally:
        drv.quit()


SHOWN_CARDS = (
    "return Array.prototype.slice.call(document.querySelectorAll('article.card'))"
    ".filter(function (c) { return c.getClientRects().length > 0; })"
    ".map(function (c) { return c.id; });"
)
CARD_IN_VIEW = (
    "var c = document.getElementById(arguments[0]); if (!c) { return false; }"
    "var r = c.getBoundingClientRect();"
    "return r.height > 0 && r.top >= -1 && r.top < window.innerHeight;"
)


def _click(drv: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    drv.find_element(By.CSS_SELECTOR, css).click()


def check_page(drv: Any, url: str, statuses: dict[str, str], node: str) -> list[str]:
    """Everything wrong with the page at ``url`` for a report with ``statuses``.

    Checks: no console error; nothing fetched but ``data:``; a card per ID; each status
    alone in the filter shows exactly its cards, and ``all`` shows every card; with
    every card filtered out, a click on ``node``'s graph node shows its card in view.
    """
    from selenium.webdriver.common.by import By

    drv.get(url)
    problems = [
        f"console error: {e['message']}" for e in drv.get_log("browser") if e["level"] == "SEVERE"
    ]
    fetched = drv.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
    )
    problems += [f"fetched {name}" for name in fetched if not name.startswith("data:")]
    cards = {el.get_attribute("id") for el in drv.find_elements(By.CSS_SELECTOR, "article.card")}
    problems += [f"no card for {sid}" for sid in statuses if sid not in cards]
    for status in sorted(set(statuses.values())):
        _click(drv, "#filter-none")
        _click(drv, f'#filter input[value="{status}"]')
        shown = set(drv.execute_script(SHOWN_CARDS))
        want = {sid for sid, st in statuses.items() if st == status and sid in cards}
        if shown != want:
            problems.append(f"filter {status!r} shows {sorted(shown)}, not {sorted(want)}")
    _click(drv, "#filter-all")
    if set(drv.execute_script(SHOWN_CARDS)) != cards:
        problems.append("filter 'all' does not show every card")
    _click(drv, "#filter-none")
    nodes = drv.find_elements(By.CSS_SELECTOR, f'[id="node-{node}"] a')
    if not nodes:
        problems.append(f"no graph node for {node}")
    else:
        nodes[0].click()
        if not drv.execute_script(CARD_IN_VIEW, node):
            problems.append(f"clicking the graph node of {node} does not show its card")
    return problems


def test_the_page_works_offline_in_chromium(folder, driver, capsys):
    """No console error, no fetch, every card, the filter, a graph click; a screenshot."""
    d, report = folder
    assert report["graph"]["status"] == "rendered", report["graph"]["reason"]
    url = (d / html.INDEX_HTML).as_uri()
    assert check_page(driver, url, statuses_of(report), IDS[VIOLATED]) == []
    driver.get(url)
    shot = d / "screenshot.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    with capsys.disabled():
        print(f"\nHTML report screenshot: {shot}")


def test_a_page_missing_a_card_fails_the_check(folder, driver, tmp_path):
    """Negative control: one card removed, an outside image added: both reported."""
    d, report = folder
    page = (d / html.INDEX_HTML).read_text()
    removed = re.escape(IDS[REMOVED])
    mutilated, n = re.subn(
        rf'<article class="card" id="{removed}".*?</article>', "", page, flags=re.S
    )
    assert n == 1
    mutilated = mutilated.replace("<footer>", f'<img src="{OUTSIDE}"><footer>')
    path = tmp_path / "mutilated.html"
    path.write_text(mutilated)
    problems = check_page(driver, path.as_uri(), statuses_of(report), IDS[VIOLATED])
    assert f"no card for {IDS[REMOVED]}" in problems
    assert any(OUTSIDE in p for p in problems), problems
    assert html.external_references(mutilated) == [OUTSIDE]


def test_a_page_without_its_script_fails_the_filter_check(folder, driver, tmp_path):
    """Negative control: with the inline script gone the filter hides nothing: reported."""
    d, report = folder
    page = (d / html.INDEX_HTML).read_text()
    stripped, n = re.subn(r"<script>.*?</script>", "", page, flags=re.S)
    assert n == 1
    path = tmp_path / "no-script.html"
    path.write_text(stripped)
    problems = check_page(driver, path.as_uri(), statuses_of(report), IDS[VIOLATED])
    statuses = set(statuses_of(report).values())
    assert {p.split("'")[1] for p in problems if p.startswith("filter '")} == statuses, problems
