"""examples/fastapi_sse.py in headless Chromium: the page's EventSource shows each tool call as it
starts, while the tool runs and before the model's answer exists; then the results and the answer.

Served by uvicorn on 127.0.0.1 against the fake OpenAI server; a gate holds the weather tool until the
test has seen both tool-call rows, so "before the answer" is checked without any timing. Uses Debian's
chromium driven by Playwright for Python, as test_dashboard_browser.py does (skipped when either is
missing, unless TOOLWIRE_REQUIRE_BROWSER=1). The screenshot goes to the test's temporary directory.
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

from integrations._support import SyncGate, get_local_time, load_example, reset, stats
from support.observe_support import fake_openai_server, make_llm

REQUIRED = os.environ.get("TOOLWIRE_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


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
    import fastapi  # noqa: F401
    import uvicorn
except ImportError:
    _unavailable('fastapi or uvicorn is not installed (pip install "toolwire[fastapi,dashboard]")')
if not Path(CHROMIUM).exists():
    _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake"), FAKE_TOOL_CALLS="2") as url:
        yield url


@pytest.fixture(scope="module")
def example() -> Iterator[Any]:
    module = load_example("fastapi_sse")
    state = (module.app.state.llm_factory, module.app.state.tools)
    yield module
    module.app.state.llm_factory, module.app.state.tools = state


@pytest.fixture(scope="module")
def app_url(example: Any) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(example.app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the example app did not start")
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def page(app_url: str) -> Iterator[Any]:
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            tab = browser.new_context(viewport={"width": 1000, "height": 640}).new_page()
            errors: list[str] = []
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            tab.errors = errors
            tab.goto(app_url)
            yield tab
        finally:
            browser.close()


def test_tool_calls_show_up_live_before_the_answer(
    page: Any, example: Any, fake: str, tmp_path: Path
) -> None:
    gate = SyncGate()
    example.app.state.llm_factory = lambda: make_llm(fake)
    example.app.state.tools = [gate.tool(), get_local_time]
    reset(fake)
    try:
        page.click("#ask button")
        # both rows are on screen while get_weather is still running: the answer cannot exist yet
        page.wait_for_function("document.querySelectorAll('#tools .tool-call').length === 2", timeout=15000)
        assert gate.started.wait(15)
        assert page.locator("#answer").inner_text() == ""
        # each result is sent as its tool finishes: the fast get_local_time row is done while the
        # blocked get_weather row (the first) still runs
        page.wait_for_selector("#tools .tool-call.done", timeout=15000)
        assert page.locator("#tools .tool-call.done").count() == 1
        assert "done" not in (page.locator("#tools .tool-call").nth(0).get_attribute("class") or "")
        rows = page.locator("#tools .tool-call code").all_inner_texts()
        assert rows == ['get_weather({"city":"city-1"})', 'get_local_time({"city":"city-1"})']
        assert page.locator("#status").inner_text() == "running tools…"
        page.screenshot(path=str(tmp_path / "sse-tools-running.png"))
    finally:
        gate.release.set()
    page.wait_for_selector("body[data-done='1']", timeout=15000)
    assert page.locator("#tools .tool-call.done").count() == 2
    assert page.locator("#tools .tool-call .output").all_inner_texts() == ["sunny in city-1", "14:05"]
    assert page.locator("#answer").inner_text().startswith("Received 2 tool result(s)")
    log = page.evaluate("window.toolwireLog")
    assert log.index("text_delta") > max(i for i, kind in enumerate(log) if kind.startswith("tool_"))
    assert log[-1] == "session_finished"
    assert stats(fake)["chat_requests"] == 2
    screenshot = tmp_path / "sse-done.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 5_000
    assert page.errors == []


def test_a_provider_error_shows_on_the_page(page: Any, example: Any, fake: str) -> None:
    example.app.state.llm_factory = lambda: make_llm(fake, default_headers={"x-fake-status": "401"})
    page.click("#ask button")
    page.wait_for_selector("#status.error", timeout=15000)
    assert page.locator("#status").inner_text().startswith("AuthenticationError: ")
    assert page.evaluate("window.toolwireLog") == ["error"]
    assert page.errors == []
