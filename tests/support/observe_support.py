"""Shared by the observability tests (recorder, tracing, CLI, dashboard, browser): the fake
OpenAI server of ../shared/bench, started on 127.0.0.1 with a free port, and a stopwatch-free way
to build a provider against it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

SHARED = Path(os.environ.get("TOOLWIRE_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
SERVER = SHARED / "bench" / "fake_openai_server.py"


@contextmanager
def fake_openai_server(tmp: Path, **env: str) -> Iterator[str]:
    """Yields the base URL (`http://127.0.0.1:PORT/v1`); the server is stopped by its pid on exit."""
    if not SERVER.exists():
        pytest.skip(f"{SERVER} not found (../shared beside the clone, or TOOLWIRE_SHARED)")
    port_file = tmp / f"fake-port-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [
            sys.executable,
            str(SERVER),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--quiet",
            "--no-uvloop",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    try:
        for _ in range(200):
            if port_file.exists() and port_file.read_text().strip():
                break
            if process.poll() is not None:
                raise RuntimeError(f"fake server exited with {process.returncode}")
            time.sleep(0.05)
        else:
            raise RuntimeError("fake server did not start")
        yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def make_llm(base_url: str, api_key: str = "x", model: str = "fake-model", **config: Any) -> Any:
    from toolwire import AbstractLLM

    return AbstractLLM.create("openai", base_url=base_url, api_key=api_key, model=model, **config)


class _Probe:
    def __init__(self) -> None:
        self.tools = 0
        self.conversations: set[str | None] = set()

    def call_started(self, record: Any) -> None:
        self.conversations.add(record.conversation_id)

    def call_finished(self, record: Any, response: Any, error: Any) -> None:
        pass

    def tool_started(self, record: Any) -> None:
        self.tools += 1
        self.conversations.add(record.conversation_id)

    def tool_finished(self, record: Any, result: Any) -> None:
        pass


def executor_reports_tools() -> bool:
    """Whether the tool executor calls the observation hooks (the seam this feature subscribes to)."""
    from toolwire import _instrument
    from toolwire.tools.execution import execute_tool_calls
    from toolwire.types import ToolCall

    def ping() -> str:
        return "pong"

    probe = _Probe()
    _instrument.add_observer(probe)
    try:
        execute_tool_calls([ToolCall.from_raw("c1", "ping", "{}")], [ping])
    finally:
        _instrument.remove_observer(probe)
    return probe.tools == 1


requires_tool_hooks = pytest.mark.skipif(
    not executor_reports_tools(),
    reason="toolwire.tools.execution does not call _instrument.tool_started/tool_finished yet",
)


def slow_weather(city: str) -> str:
    """Weather for a city (slow, so parallel runs visibly overlap)."""
    time.sleep(0.15)
    return f"sunny in {city}"


def slow_time(city: str) -> str:
    """Local time in a city (slow too)."""
    time.sleep(0.15)
    return "12:00"


def broken_tool(city: str) -> str:
    """A tool that always fails."""
    raise RuntimeError(f"sensor offline in {city}")


def record_session(db: Path, base_url: str) -> str:
    """One Session against the fake server: a turn with three parallel tool calls (two slow ones
    and one that raises), then the final answer, recorded into `db`. Returns the conversation id."""
    from toolwire import Session
    from toolwire.recorder import CallStore, record

    session = Session(
        make_llm(base_url, model="fake-model"),
        tools=[slow_weather, slow_time, broken_tool],
        extra_headers={"x-fake-tool-calls": "3"},
    )
    with record(db):
        session.generate("Weather and time in Paris?")
    conversation_id: str = CallStore(db).conversations()[0]["conversation_id"]
    return conversation_id
