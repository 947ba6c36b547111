"""Early tool starts (`tools/early.py`) and the tools they stop waiting for, through Session's stream
drivers and the fake streaming server of tests/session/test_early_starts.py.

- A discarded early async tool is cancelled, and the turn goes on without waiting for it to unwind.
- `KeyboardInterrupt` / `SystemExit` raised by an early tool reach the caller as themselves, in
  `stream` as in `astream`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from tests.session.test_early_starts import CALLS, PausingServer, _session, _tool_results, run_events

from toolwire.events import SessionFinished
from toolwire.tools._background import abandoned_tasks
from toolwire.tools.definition import tool

BOUND = 20.0  # seconds: a bound for the test to fail at instead of hanging; never reached on success


def ours() -> list[asyncio.Future[Any]]:
    """The abandoned tasks of the running loop (other tests' loops are none of this test's business)."""
    loop = asyncio.get_running_loop()
    return [task for task in abandoned_tasks() if task.get_loop() is loop]


def test_a_discarded_early_tool_is_not_waited_for_while_it_unwinds() -> None:
    server = PausingServer("chat_completions", CALLS, finish="length")  # the early result is discarded
    server.started = {"search": threading.Event()}
    release = threading.Event()
    cancelled = threading.Event()
    calls: list[str] = []

    @tool(read_only=True)
    async def search(query: str) -> str:
        """Search."""
        calls.append(query)
        if len(calls) == 1:
            server.started["search"].set()
            try:
                await asyncio.Event().wait()  # only cancellation ends it
            except asyncio.CancelledError:
                cancelled.set()
                await asyncio.to_thread(release.wait, BOUND)  # a clean-up as long as the test wants
                raise
        return "second run"

    @tool
    def write(text: str) -> str:
        """Write."""
        return "ok"

    session = _session(server, [search, write])

    async def scenario() -> tuple[bool, list[Any]]:
        async def collect() -> list[Any]:
            return [event async for event in session.astream("go")]

        runner = asyncio.ensure_future(collect())
        done, _ = await asyncio.wait({runner}, timeout=BOUND)
        still_unwinding = bool(ours())
        release.set()  # either way, so that a failing run ends
        events = await runner
        for task in ours():
            await asyncio.gather(task, return_exceptions=True)
        return bool(done) and still_unwinding, events

    finished_first, events = asyncio.run(scenario())
    assert cancelled.is_set()
    assert finished_first, "the session waited for the discarded tool's clean-up"
    assert isinstance(events[-1], SessionFinished)
    assert _tool_results(session) == [("call_s", "second run"), ("call_w", "ok")]


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_a_fatal_exception_from_an_early_async_tool_propagates_as_itself(
    mode: str, fatal: type[BaseException]
) -> None:
    server = PausingServer("chat_completions", CALLS)
    server.started = {"search": threading.Event()}
    wrote: list[str] = []

    @tool(read_only=True)
    async def search(query: str) -> str:
        """Search."""
        server.started["search"].set()
        raise fatal("from the early tool")

    @tool
    def write(text: str) -> str:
        """Write."""
        wrote.append(text)
        return "ok"

    session = _session(server, [search, write])
    with pytest.raises(fatal, match="from the early tool"):
        run_events(session, mode)
    # nothing of that turn reached the history as a result (no "CancelledError" answer to the model)
    assert _tool_results(session) == []
