"""End to end in headless Chromium: record a Session against the local fake server, serve the
dashboard with uvicorn on 127.0.0.1, open it, and check what a developer sees.

Uses Debian's chromium (no browser download): `CHROMIUM` or /usr/bin/chromium, driven by Playwright
for Python. Skipped when either is missing; `.ci/run` installs both. Saves a screenshot to
$TOOLWIRE_SCREENSHOT, else into the test's temporary directory (the docs image is refreshed with
`TOOLWIRE_SCREENSHOT=docs/images/dashboard.png python -m pytest -m browser`).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.observe_support import executor_reports_tools, fake_openai_server, record_session

# CI sets this so a missing browser, Playwright or executor hook fails the step instead of skipping it
REQUIRED = os.environ.get("TOOLWIRE_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_ENV = os.environ.get("TOOLWIRE_SCREENSHOT")


def _unavailable(reason: str) -> None:
    if REQUIRED:
        raise RuntimeError(f"TOOLWIRE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason, allow_module_level=True)


pytestmark = pytest.mark.browser

try:
    from playwright import sync_api as playwright_sync
except ImportError:
    _unavailable("playwright is not installed (pip install playwright; never `playwright install`)")
try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError:
    _unavailable('the dashboard extra is not installed (pip install "toolwire[dashboard]")')
if not Path(CHROMIUM).exists():
    _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
if not executor_reports_tools():
    _unavailable("toolwire.tools.execution does not call _instrument.tool_started/tool_finished yet")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    import uvicorn

    from toolwire.dashboard import create_app

    tmp = tmp_path_factory.mktemp("dashboard")
    db = tmp / "calls.db"
    with fake_openai_server(tmp) as base_url:
        conversation_id = record_session(db, base_url)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the dashboard server did not start")
    try:
        yield f"http://127.0.0.1:{port}/", conversation_id
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def page(dashboard_url: tuple[str, str]) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
            tab = context.new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.on(
                "response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None
            )
            tab.on(
                "console",
                lambda msg: (
                    errors.append(msg.text)
                    if msg.type == "error" and not msg.text.startswith("Failed to load resource")
                    else None
                ),
            )
            tab.errors = errors
            yield tab
        finally:
            browser.close()


def test_list_shows_the_recorded_conversation(page: Any, dashboard_url: tuple[str, str]) -> None:
    url, conversation_id = dashboard_url
    page.goto(url)
    page.wait_for_selector("body[data-ready=list]", timeout=15000)
    row = page.locator(f"tr.conversation[data-conversation='{conversation_id}']")
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert "openai" in cells and "fake-model" in cells
    assert cells[4:7] == ["2", "3", "1"]  # model calls, tool executions, errors
    assert "has-error" in (row.get_attribute("class") or "")
    assert page.locator("#chart .latency-point").count() == 2
    assert page.errors == []


def test_timeline_shows_overlapping_tools_and_the_error(
    page: Any, dashboard_url: tuple[str, str], tmp_path: Path
) -> None:
    url, conversation_id = dashboard_url
    page.goto(url)
    page.wait_for_selector("body[data-ready=list]", timeout=15000)
    page.locator(f"tr.conversation[data-conversation='{conversation_id}']").click()
    page.wait_for_selector("body[data-ready=conversation]", timeout=15000)

    assert page.locator("#timeline .bar.chat").count() == 2
    weather = page.locator("#timeline .bar.tool[data-name=slow_weather]").bounding_box()
    clock = page.locator("#timeline .bar.tool[data-name=slow_time]").bounding_box()
    assert weather is not None and clock is not None
    # both ~150 ms tools ran at once: their bars overlap on the time axis by most of their width
    overlap = min(weather["x"] + weather["width"], clock["x"] + clock["width"]) - max(
        weather["x"], clock["x"]
    )
    assert overlap > 0.5 * min(weather["width"], clock["width"]), (weather, clock)
    assert weather["y"] != clock["y"]  # on their own rows

    error_bar = page.locator("#timeline .bar.error[data-status=error]")
    assert error_bar.count() == 1
    assert error_bar.get_attribute("data-name") == "broken_tool"
    assert page.locator("#timeline .row-label.error").text_content() == "tool · broken_tool"

    error_bar.click()
    detail = page.locator("#event-detail")
    assert "sensor offline in" in detail.locator(".err").inner_text()
    assert '"city"' in detail.locator("pre.arguments").inner_text()

    # a model turn shows its tokens; then the screenshot, with a tool selected
    page.locator("#timeline .bar.chat").first.click()
    assert " in, " in detail.inner_text() and "tokens" in detail.inner_text()
    page.locator("#timeline .bar.tool[data-name=slow_weather]").click()
    assert "sunny in" in detail.locator("pre.result").inner_text()
    screenshot = Path(SCREENSHOT_ENV) if SCREENSHOT_ENV else tmp_path / "dashboard.png"
    if not screenshot.is_absolute():
        screenshot = ROOT / screenshot
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    assert page.errors == []


def test_filters_hide_and_show_the_conversation(page: Any, dashboard_url: tuple[str, str]) -> None:
    url, conversation_id = dashboard_url
    page.goto(url)
    page.wait_for_selector("body[data-ready=list]", timeout=15000)
    row = f"tr.conversation[data-conversation='{conversation_id}']"
    page.evaluate("document.body.removeAttribute('data-ready')")
    page.select_option("#filters [name=errors]", "0")
    page.wait_for_selector("body[data-ready=list]", timeout=15000)
    assert page.locator(row).count() == 0
    page.evaluate("document.body.removeAttribute('data-ready')")
    page.select_option("#filters [name=errors]", "1")
    page.wait_for_selector("body[data-ready=list]", timeout=15000)
    assert page.locator(row).count() == 1
