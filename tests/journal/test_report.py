"""The HTML run report in a real headless browser (Debian's chromium, driven by Playwright).

Each test saves a screenshot in its output directory (pytest's tmp_path).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corral.events import Event, HostFinished, OutputLine
from corral.journal import Journal, JournalSettings, RunDetail
from corral.journal.report import render_report
from corral.journal.sample import sample_run
from corral.testing.fleet import SSHDFleet

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOSTILE = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
HOSTILE_HOST = '<b onmouseover="window.__pwned=3">evil</b>'


def _missing(reason: str) -> None:
    if os.environ.get("CI"):  # CI installs chromium (scripts/install): a skip would hide it
        pytest.fail(f"the report tests need a browser in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium from Debian's package (never a downloaded browser)."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        _missing(f"{CHROMIUM} is not installed (scripts/install installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (it is in corral's test extra)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


def _run(tmp_path: Path, events: list[Event]) -> RunDetail:
    journal = Journal(JournalSettings(path=tmp_path / "journal.db"))
    consume = journal.consumer()
    for event in events:
        consume(event)
    journal.close()
    return journal.run()


def _hostile_run(tmp_path: Path) -> RunDetail:
    events = sample_run("20261201T205533Z-3f2a9c", hosts=12, failures=2, start=time.time() - 60)
    end = events[-1].time
    events[-1:-1] = [
        OutputLine(events[0].run_id, end - 0.02, host="web001", text=HOSTILE),
        OutputLine(events[0].run_id, end - 0.02, host=HOSTILE_HOST, stream="stderr", text="x"),
        HostFinished(
            events[0].run_id,
            end - 0.01,
            host=HOSTILE_HOST,
            status="failed",
            exit_code=1,
            error_type="UnexpectedExit",
            error=f"</pre></div>{HOSTILE}",
            duration=0.5,
        ),
    ]
    return _run(tmp_path, events)


def _open(browser: Any, tmp_path: Path, run: RunDetail, name: str = "report") -> Any:
    path = tmp_path / f"{name}.html"
    path.write_text(render_report(run), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.requests, page.errors = requests, errors  # for the assertions below
    return page


def _visible_hosts(page: Any) -> list[str]:
    names: list[str] = page.eval_on_selector_all(
        "details.host", "els => els.filter(e => !e.hidden).map(e => e.dataset.name)"
    )
    return names


def test_the_report_shows_the_counts_and_the_failures_first(browser: Any, tmp_path: Path) -> None:
    run = _hostile_run(tmp_path)
    page = _open(browser, tmp_path, run)
    try:
        assert page.inner_text("#run-status") == "failed"
        assert page.inner_text("#run-id") == run.run_id
        assert page.inner_text("#count-all b") == "13"
        assert page.inner_text("#count-ok b") == "10"
        assert page.inner_text("#count-failed b") == "3"
        assert page.inner_text("#count-skipped b") == "0"
        failed = [h.host for h in run.failures()]
        articles = page.eval_on_selector_all(
            "#failures article", "els => els.map(e => e.dataset.host)"
        )
        assert articles == failed
        first = page.locator(f'#failures article[data-host="{failed[0]}"]')
        assert "exit 75" in first.inner_text()
        assert "UnexpectedExit" in first.inner_text()
        assert "app: port 8080 in use" in first.locator("pre").inner_text()
        hosts = _visible_hosts(page)
        assert hosts[:3] == failed  # failures lead the host list too
        assert page.locator("#timeline-svg rect").count() == 13
        assert page.locator(f'rect[data-host="{failed[0]}"]').get_attribute("class") == "bar-failed"
        assert "+replicas = 3" in page.inner_text("#changes")
        assert page.inner_text("#shown") == "13 of 13 hosts"
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert page.errors == []
        assert page.requests == [(tmp_path / "report.html").as_uri()]  # nothing else loaded
    finally:
        page.close()


def test_the_search_box_filters_hosts_by_name_and_output(browser: Any, tmp_path: Path) -> None:
    run = _hostile_run(tmp_path)
    page = _open(browser, tmp_path, run)
    try:
        page.fill("#search", "web007")
        assert _visible_hosts(page) == ["web007"]
        assert page.inner_text("#shown") == "1 of 13 hosts"
        page.fill("#search", "port 8080 in use")  # output only the failed hosts printed
        failed = [h.host for h in run.failures() if h.exit_code == 75]
        assert sorted(_visible_hosts(page)) == sorted(failed)
        page.fill("#search", "no such text anywhere")
        assert _visible_hosts(page) == []
        page.fill("#search", "")
        assert len(_visible_hosts(page)) == 13
        page.click("#count-failed")  # the counts filter by status
        assert sorted(_visible_hosts(page)) == sorted(h.host for h in run.failures())
        page.fill("#search", "web")
        assert sorted(_visible_hosts(page)) == sorted(failed)
        page.click("#count-all")
        page.fill("#search", "")
        assert len(_visible_hosts(page)) == 13
        page.fill("#search", "web00")
        page.screenshot(path=str(tmp_path / "search.png"), full_page=False)
        assert page.errors == []
    finally:
        page.close()


def test_hostile_output_host_names_and_errors_render_as_text(browser: Any, tmp_path: Path) -> None:
    page = _open(browser, tmp_path, _hostile_run(tmp_path))
    try:
        page.hover(f"#failures article[data-host={json.dumps(HOSTILE_HOST)}]")
        page.click(f"details.host[data-name={json.dumps(HOSTILE_HOST)}] > summary")
        assert page.evaluate("window.__pwned") is None
        assert page.locator("main img").count() == 0
        assert page.locator("main b[onmouseover]").count() == 0
        web001 = page.locator('details.host[data-name="web001"] pre')
        assert HOSTILE in web001.text_content()  # (closed <details>: not rendered, still text)
        evil = page.locator(f"#failures article[data-host={json.dumps(HOSTILE_HOST)}]")
        assert HOSTILE_HOST in evil.inner_text()
        assert f"</pre></div>{HOSTILE}" in evil.locator(".error").inner_text()
        page.fill("#search", "window.__pwned = 1")  # the search finds it as the text it is
        assert _visible_hosts(page) == ["web001"]
        page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
    finally:
        page.close()


def test_the_report_of_a_1000_host_run_draws_every_host(browser: Any, tmp_path: Path) -> None:
    run = _run(tmp_path, sample_run("big", hosts=1000, failures=37, start=time.time() - 600))
    page = _open(browser, tmp_path, run)
    try:
        assert page.locator("#timeline-svg rect").count() == 1000
        assert page.inner_text("#count-failed b") == "37"
        assert page.locator("#failures article").count() == 37
        page.fill("#search", "web1000")
        assert _visible_hosts(page) == ["web1000"]
        page.fill("#search", "web999")
        assert _visible_hosts(page) == ["web999"]
        page.screenshot(path=str(tmp_path / "big.png"), full_page=False)
        assert page.errors == []
    finally:
        page.close()


def test_the_report_of_a_real_corral_run_in_chromium(
    browser: Any, tmp_path: Path, fleet: SSHDFleet
) -> None:
    """A real `corral -P` run on the sshd fleet (one host fails), then `corral report`."""
    failing = fleet.hosts[1]
    command = (
        'set -- $SSH_CONNECTION; echo "release 42 on $3"; '
        f'if [ "$3" = {failing.address} ]; then echo "disk full on $3" >&2; exit 7; fi'
    )
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    hosts = ",".join(h.alias for h in fleet.hosts)
    ran = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path), "-H", hosts,
         "-P", "--", command],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert ran.returncode == 7, ran.stderr
    target = tmp_path / "run.html"
    made = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "report", "latest", "-o", str(target)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(target.as_uri())
        page.wait_for_load_state("load")
        assert page.inner_text("#run-status") == "failed"
        assert page.inner_text("#count-all b") == "3"
        assert page.inner_text("#count-ok b") == "2"
        assert page.inner_text("#count-failed b") == "1"
        article = page.locator(f'#failures article[data-host="{failing.alias}"]')
        assert "exit 7" in article.inner_text() and "UnexpectedExit" in article.inner_text()
        assert f"disk full on {failing.address}" in article.locator("pre").inner_text()
        assert page.locator("#timeline-svg rect").count() == 3
        rect = page.locator(f'rect[data-host="{failing.alias}"]')
        assert rect.get_attribute("class") == "bar-failed"
        page.fill("#search", fleet.hosts[2].address)  # what that host printed
        assert _visible_hosts(page) == [fleet.hosts[2].alias]
        page.fill("#search", "")
        assert len(_visible_hosts(page)) == 3
        page.screenshot(path=str(tmp_path / "real-run.png"), full_page=True)
        assert requests == [target.as_uri()]  # nothing else loaded
    finally:
        page.close()
