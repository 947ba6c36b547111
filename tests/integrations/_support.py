"""Shared by the web-framework integration tests: load an example app, run the fake OpenAI server
(../shared/bench, through tests/support/observe_support.py), read its request counters, parse an SSE body,
drive an ASGI app by hand (to send `http.disconnect` at a chosen moment), and tools that block."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PROMPT = "Weather and time in Paris?"


def load_example(name: str) -> Any:
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    module_name = f"toolwire_example_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def parse_sse(text: str) -> list[tuple[str, Any]]:
    """(event, JSON data) pairs; checks the framing: `event:` + exactly one `data:` line per event."""
    events = []
    assert text.endswith("\n\n"), f"the stream did not end on an event boundary: {text[-80:]!r}"
    for block in text[:-2].split("\n\n"):
        lines = block.split("\n")
        assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        events.append((lines[0][len("event: ") :], json.loads(lines[1][len("data: ") :])))
    return events


def stats(base_url: str) -> dict[str, Any]:
    """The fake server's counters (`chat_requests`: model calls received)."""
    data: dict[str, Any] = httpx.get(base_url.replace("/v1", "/_stats"), timeout=10).json()
    return data


def reset(base_url: str) -> None:
    httpx.post(base_url.replace("/v1", "/_reset"), timeout=10).raise_for_status()


def check_complete_run(events: list[tuple[str, Any]], tool_names: set[str]) -> None:
    """The event sequence of one prompt answered after one turn of two tool calls."""
    kinds = [kind for kind, _ in events]
    assert kinds[:5] == ["turn_finished", *["tool_call_started"] * 2, *["tool_result"] * 2], kinds
    assert kinds[-2:] == ["turn_finished", "session_finished"], kinds
    assert set(kinds[5:-2]) == {"text_delta"}, kinds
    started = [data for kind, data in events if kind == "tool_call_started"]
    results = [data for kind, data in events if kind == "tool_result"]
    # results are sent as each tool finishes (toolwire.tools.early): each call once, in any order
    assert sorted(s["id"] for s in started) == sorted(r["id"] for r in results)
    assert {s["name"] for s in started} == tool_names
    assert all(s["arguments"] == {"city": "city-1"} for s in started)
    assert all(r["is_error"] is False and r["error"] is None and r["output"] for r in results)
    final = events[-1][1]
    streamed = "".join(data["text"] for kind, data in events if kind == "text_delta")
    assert final["content"] == streamed and final["content"].startswith("Received 2 tool result(s)")
    assert final["finish_reason"] == "stop" and final["model"] == "fake-model"
    first_usage, last_usage = events[0][1]["usage"], final["usage"]
    assert final["total_usage"]["total_tokens"] == first_usage["total_tokens"] + last_usage["total_tokens"]


def check_sse_headers(headers: Any) -> None:
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"


class SyncGate:
    """A sync tool that blocks until released (bounded, so a failing test cannot hang forever)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def tool(self) -> Callable[[str], str]:
        def get_weather(city: str) -> str:
            """Current weather for a city."""
            self.calls += 1
            self.started.set()
            assert self.release.wait(20), "the test never released the tool"
            return f"sunny in {city}"

        return get_weather


class AsyncBlocker:
    """An async tool that waits until it is cancelled, and records that it was."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()

    def tool(self) -> Callable[[str], Awaitable[str]]:
        async def get_weather(city: str) -> str:
            """Current weather for a city."""
            self.started.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
            return "the client never went away"

        return get_weather


def get_local_time(city: str) -> str:
    """Current local time in a city."""
    return "14:05"


class ASGIDriver:
    """One GET through an ASGI app, with the client's `http.disconnect` sent when `disconnect()`."""

    def __init__(self, app: Any, path: str, query: str, spec_version: str = "2.3") -> None:
        self.app, self.path, self.query, self.spec_version = app, path, query, spec_version
        self.messages: list[dict[str, Any]] = []
        self._gone = asyncio.Event()
        self._asked = False

    def disconnect(self) -> None:
        self._gone.set()

    def body(self) -> str:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        ).decode()

    async def run(self) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": self.spec_version},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "root_path": "",
            "query_string": self.query.encode(),
            "headers": [(b"host", b"testserver"), (b"accept", b"text/event-stream")],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        await self.app(scope, self._receive, self._send)

    async def _receive(self) -> dict[str, Any]:
        if not self._asked:
            self._asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
