"""Read-only tools that start while the model is still streaming (`toolwire.tools.early`), through
each provider's real stream parser and Session's stream/astream drivers.

The fake server pauses each tool turn right after the provider's "call 0 is complete" signal and
waits there (threading.Event, not sleeps) until the read-only tool has started, noting what had
started by then; only then does it send the rest. The tests own the clock through these events.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from tests.session.early_wire import WIRES, Call

from toolwire.events import SessionFinished, ToolCallStarted, ToolResultEvent, TurnFinished
from toolwire.providers.registry import AbstractLLM
from toolwire.session import Session
from toolwire.tools.definition import ToolDefinition, tool

WAIT = 10.0  # an upper bound for a handshake that should take microseconds; never asserted on


@dataclass
class PausingServer:
    """Streams one scripted tool turn (pausing after call 0's signal), then a text answer."""

    wire: str
    calls: list[Call]
    finish: str = "tool_calls"
    started: dict[str, threading.Event] = field(default_factory=dict)
    at_pause: dict[str, Any] = field(default_factory=dict)
    requests: int = 0

    def _parts(self) -> tuple[list[bytes], list[bytes]]:
        self.requests += 1
        _, _, script, text = WIRES[self.wire][:4]
        if self.requests == 1:
            return script(self.calls, self.finish)
        return [text("done")], []

    def _note(self) -> None:
        self.at_pause.update({name: event.is_set() for name, event in self.started.items()})
        self.at_pause["time"] = time.time()

    def _sync_body(self, head: list[bytes], tail: list[bytes], first: bool) -> Iterator[bytes]:
        yield from head
        if first:
            self.started["search"].wait(WAIT)
            self._note()
        yield from tail

    async def _async_body(self, head: list[bytes], tail: list[bytes], first: bool) -> AsyncIterator[bytes]:
        for part in head:
            yield part
        if first:
            await asyncio.to_thread(self.started["search"].wait, WAIT)
            self._note()
        for part in tail:
            yield part

    def _response(self, content: Any) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=content)

    def sync_handler(self, request: httpx2.Request) -> httpx2.Response:
        head, tail = self._parts()
        return self._response(self._sync_body(head, tail, self.requests == 1))

    def async_handler(self, request: httpx2.Request) -> httpx2.Response:
        head, tail = self._parts()
        return self._response(self._async_body(head, tail, self.requests == 1))

    def llm(self) -> Any:
        provider, options, _, _ = WIRES[self.wire]
        return AbstractLLM.create(
            provider,
            api_key="test-key",
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self.sync_handler)),
            async_http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(self.async_handler)),
            **options,
        )


def _session(server: PausingServer, tools: list[Any], **kwargs: Any) -> Session:
    if server.wire == "anthropic":
        kwargs["max_tokens"] = 256
    return Session(server.llm(), tools=tools, **kwargs)


def run_events(session: Session, mode: str) -> list[Any]:
    if mode == "stream":
        return list(session.stream("go"))

    async def collect() -> list[Any]:
        return [event async for event in session.astream("go")]

    return asyncio.run(collect())


CALLS: list[Call] = [("call_s", "search", {"query": "pelicans"}), ("call_w", "write", {"text": "hi"})]


def _tools(server: PausingServer, runs: list[str]) -> list[ToolDefinition]:
    server.started = {"search": threading.Event(), "write": threading.Event()}

    @tool(read_only=True)
    def search(query: str) -> str:
        """Search."""
        runs.append("search")
        server.started["search"].set()
        return f"found {query} (run {runs.count('search')})"

    @tool
    def write(text: str) -> str:
        """Write."""
        runs.append("write")
        server.started["write"].set()
        return f"wrote {text}"

    return [search, write]


def _tool_results(session: Session) -> list[tuple[str, Any]]:
    return [(r.call_id, r.output) for m in session.messages if m.role == "tool" for r in m.tool_results or ()]


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize("wire", list(WIRES))
def test_the_read_only_tool_starts_before_the_stream_ends_and_others_do_not(wire: str, mode: str) -> None:
    server = PausingServer(wire, CALLS)
    runs: list[str] = []
    session = _session(server, _tools(server, runs))
    events = run_events(session, mode)

    assert server.at_pause["search"] is True  # started while the stream was paused mid-answer
    assert server.at_pause["write"] is False  # a tool with side effects waits for the end
    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [(e.call.name, e.early) for e in started] == [("search", True), ("write", False)]
    results = {e.result.name: e for e in events if isinstance(e, ToolResultEvent)}
    assert (
        results["search"].started_at is not None and results["search"].started_at <= server.at_pause["time"]
    )
    assert results["write"].started_at is not None and results["write"].started_at >= server.at_pause["time"]
    assert all(e.finished_at is not None and e.finished_at >= e.started_at for e in results.values())  # type: ignore[operator]
    assert runs.count("search") == 1  # the early result was used, not run again
    assert _tool_results(session) == [("call_s", "found pelicans (run 1)"), ("call_w", "wrote hi")]
    assert isinstance(events[-1], SessionFinished) and events[-1].response.content == "done"


@pytest.mark.parametrize("mode", ["stream", "astream"])
@pytest.mark.parametrize("wire", list(WIRES))
def test_a_turn_cut_by_length_discards_the_early_result(wire: str, mode: str) -> None:
    server = PausingServer(wire, CALLS, finish="length")
    runs: list[str] = []
    session = _session(server, _tools(server, runs))
    events = run_events(session, mode)

    assert server.at_pause["search"] is True  # it did start early...
    turn = next(e for e in events if isinstance(e, TurnFinished))
    assert turn.response.finish_reason == "length"
    # ...but the turn is handled exactly as without early starts: every call runs at the end
    assert [e.early for e in events if isinstance(e, ToolCallStarted)] == [False, False]
    assert runs.count("search") == 2
    assert _tool_results(session) == [("call_s", "found pelicans (run 2)"), ("call_w", "wrote hi")]


def test_a_discarded_async_tool_is_cancelled() -> None:
    server = PausingServer("chat_completions", CALLS, finish="length")
    server.started = {"search": threading.Event()}
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
                raise
        return "second run"

    @tool
    def write(text: str) -> str:
        """Write."""
        return "ok"

    session = _session(server, [search, write])
    run_events(session, "astream")
    assert cancelled.is_set()
    assert _tool_results(session) == [("call_s", "second run"), ("call_w", "ok")]


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_each_result_event_comes_when_its_tool_finishes(mode: str) -> None:
    server = PausingServer("chat_completions", CALLS)
    server.started = {"search": threading.Event()}
    write_done = threading.Event()

    @tool(read_only=True)
    def search(query: str) -> str:
        """Slow search: ends only after `write` ended."""
        server.started["search"].set()
        write_done.wait(WAIT)
        return "slow"

    @tool
    def write(text: str) -> str:
        """Fast write."""
        return "fast"

    def note_done(event: Any) -> None:
        if isinstance(event, ToolResultEvent) and event.result.name == "write":
            write_done.set()

    session = _session(server, [search, write])
    events: list[Any] = []
    if mode == "stream":
        for event in session.stream("go"):
            events.append(event)
            note_done(event)
    else:

        async def collect() -> None:
            async for event in session.astream("go"):
                events.append(event)
                note_done(event)

        asyncio.run(collect())
    order = [e.result.name for e in events if isinstance(e, ToolResultEvent)]
    assert order == ["write", "search"]  # the fast tool's event first
    assert _tool_results(session) == [("call_s", "slow"), ("call_w", "fast")]  # history in call order


@pytest.mark.parametrize("mode", ["stream", "astream"])
def test_approval_comes_first_and_a_denied_call_never_starts(mode: str) -> None:
    calls: list[Call] = [
        ("call_t", "search", {"query": "y"}),
        ("call_s", "search", {"query": "x"}),
        ("call_w", "write", {"text": "z"}),
    ]
    server = PausingServer("chat_completions", calls)
    ran: list[str] = []
    asked: list[str] = []
    server.started = {"search": threading.Event()}

    @tool(read_only=True)
    def search(query: str) -> str:
        """Search."""
        ran.append(query)
        server.started["search"].set()
        return query

    @tool
    def write(text: str) -> str:
        """Write."""
        return text

    def approve(call: Any, definition: ToolDefinition) -> bool:
        asked.append(call.id)
        return call.arguments.get("query") != "x"

    # call_t (allowed) is complete first and starts during the pause; call_s (denied) is complete
    # when call_w opens, after the pause: it is asked then, and never starts
    session = _session(server, [search, write], approve=approve)
    events = run_events(session, mode)
    assert server.at_pause["search"] is True
    assert "x" not in ran and ran == ["y"]
    assert sorted(asked) == ["call_s", "call_t", "call_w"]  # each call asked exactly once
    results = {e.result.call_id: e.result for e in events if isinstance(e, ToolResultEvent)}
    assert results["call_s"].error is not None and "denied" in results["call_s"].error
    assert [e.early for e in events if isinstance(e, ToolCallStarted)] == [True, False, False]
