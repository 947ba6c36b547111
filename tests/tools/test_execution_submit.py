"""The sync driver's `__toolwire_submit__` path: an async tool that owns a running event loop (an
MCP toolset's) takes its calls there; the driver waits on the returned future, starts no private
loop, and cancels the future at the call's timeout."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import toolwire.tools.execution as execution
from toolwire import ToolCall, ToolDefinition, execute_tool_calls


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    own = asyncio.new_event_loop()
    thread = threading.Thread(target=own.run_forever, name="tool-loop", daemon=True)
    thread.start()
    yield own
    own.call_soon_threadsafe(own.stop)
    thread.join(5)
    own.close()


def _tool(loop: asyncio.AbstractEventLoop, seconds: float, seen: list[str]) -> ToolDefinition:
    async def wait(label: str) -> str:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            seen.append(f"{label} cancelled")
            raise
        return f"{label} on {threading.current_thread().name}"

    def submit(**kwargs: Any) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(wait(**kwargs), loop)

    wait.__toolwire_submit__ = submit  # type: ignore[attr-defined]
    return ToolDefinition(
        name="wait", parameters={"type": "object", "properties": {"label": {"type": "string"}}}, function=wait
    )


def test_calls_run_on_the_tools_own_loop(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_private_loop() -> None:
        raise AssertionError("a private event loop was started")

    monkeypatch.setattr(execution, "_AsyncGroup", no_private_loop)
    seen: list[str] = []
    tool = _tool(loop, 0.01, seen)
    results = execute_tool_calls(
        [ToolCall(id=f"c{i}", name="wait", arguments={"label": str(i)}) for i in range(3)], [tool]
    )
    assert [r.output_text() for r in results] == [f"{i} on tool-loop" for i in range(3)]


def test_a_timed_out_call_is_cancelled_on_its_loop(loop: asyncio.AbstractEventLoop) -> None:
    seen: list[str] = []
    [result] = execute_tool_calls(
        [ToolCall(id="c", name="wait", arguments={"label": "late"})], [_tool(loop, 30, seen)], timeout=0.2
    )
    assert result.error is not None and "timed out" in result.error
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(5)
    assert seen == ["late cancelled"]


def test_a_submit_that_raises_is_the_calls_error_result(loop: asyncio.AbstractEventLoop) -> None:
    tool = _tool(loop, 0, [])

    def broken(**kwargs: Any) -> concurrent.futures.Future[Any]:
        raise RuntimeError("the tool's loop is gone")

    tool.function.__toolwire_submit__ = broken  # type: ignore[union-attr]
    [result] = execute_tool_calls([ToolCall(id="c", name="wait", arguments={"label": "x"})], [tool])
    assert result.error is not None and "the tool's loop is gone" in result.error
