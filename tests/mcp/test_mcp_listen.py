"""The 2026-07-28 `subscriptions/listen` stream of an MCP connection: opened again when it ends
while the connection lives (closed by the server, dropped), with bounded backoff; a server that
never acknowledges it does not hang `open`; while no stream is acknowledged the tool list is
re-read before each use. Real SDK servers (tests/mcp/servers/listen_server.py), stdio and HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from mcp_support import LISTEN, http_server

from toolwire.mcp import MCPToolset, _watch
from toolwire.mcp._watch import ListWatch

pytest.importorskip("mcp")

from mcp_types import SubscriptionFilter


@pytest.fixture
def fast_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_watch, "RETRY_FIRST", 0.01)
    monkeypatch.setattr(_watch, "RETRY_MAX", 0.05)


def names(server: MCPToolset) -> set[str]:
    return {t.name for t in server.tools}


def wait_for_tool(server: MCPToolset, name: str) -> None:
    # The server queues the change on the listen stream behind its ack, but may answer the call
    # that made it first: wait for the toolset to read the announcement (a model's next turn takes
    # far longer). Before re-listening was fixed, the change was never announced at all.
    deadline = time.monotonic() + 10
    while name not in names(server):
        assert time.monotonic() < deadline, f"the change that added {name} never reached the toolset"
        time.sleep(0.01)


def background_tasks(server: MCPToolset) -> Counter[str]:
    """The live tasks on the toolset's loop, by coroutine."""

    async def tasks() -> Counter[str]:
        live = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        return Counter(getattr(t.get_coro(), "__qualname__", "?") for t in live)

    assert server._loop is not None
    return server._loop.run(tasks())


@pytest.mark.parametrize("end", ["end_listen", "drop_listen"])
def test_a_listen_stream_that_ends_is_opened_again_and_changes_are_seen(end: str, fast_retry: None) -> None:
    with MCPToolset.stdio(sys.executable, [str(LISTEN)]) as server:
        assert server.call("listens", {"acked": 1}) == {"acked": 1, "requested": 1}
        before = background_tasks(server)
        for round_ in (2, 3):
            assert server.call(end) in ("closed", "dropped")  # the server ends the stream, graceful or not
            # the server acknowledged a new listen request from the toolset (it waits up to 10 s for it)
            assert server.call("listens", {"acked": round_}) == {"acked": round_, "requested": round_}
            extra = server.call("change")  # announced only to acknowledged listeners
            wait_for_tool(server, extra)
        assert server._conn is not None and server._conn.announces  # no longer re-read on every use
        # the same tasks as with the first stream (one watcher, one listen driver): nothing leaked
        assert background_tasks(server) == before


def test_the_list_is_re_read_while_no_stream_is_acknowledged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_watch, "RETRY_FIRST", 30.0)  # the gap lasts for the whole test
    with MCPToolset.stdio(sys.executable, [str(LISTEN)]) as server:
        server.call("end_listen")
        extra = server.call("quiet_change")  # made in the gap: nobody is told
        assert extra in names(server)
        extra = server.call("quiet_change")
        assert extra in names(server)
        assert server.call("listens") == {"acked": 1, "requested": 1}


def test_re_listening_is_bounded_then_the_list_is_re_read_on_use(
    fast_retry: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_watch, "RETRY_LIMIT", 3)
    with MCPToolset.stdio(sys.executable, [str(LISTEN), "--refuse"]) as server:
        assert server._conn is not None and server._conn.watch is not None
        watch = server._conn.watch
        assert server._loop is not None
        server._loop.run(asyncio.wait_for(asyncio.shield(watch.task), 10))  # type: ignore[arg-type]
        assert watch.gave_up and watch.attempts == 4
        assert server.call("listens")["requested"] == 4  # the first request and three retries, no more
        extra = server.call("quiet_change")
        assert extra in names(server)


def test_an_acknowledgment_without_tool_changes_means_the_list_is_re_read() -> None:
    # The server acknowledges the stream but honors none of the requested notifications (the spec
    # asks clients to check the honored filter): no change will be announced.
    with MCPToolset.stdio(sys.executable, [str(LISTEN), "--honor-nothing"]) as server:
        extra = server.call("change")
        assert extra in names(server)
        extra = server.call("quiet_change")
        assert extra in names(server)
        assert server.call("listens") == {"acked": 1, "requested": 1}  # and no re-listening storm


def test_a_server_that_never_acknowledges_does_not_hang_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_watch, "ACK_WAIT", 0.2)
    before = set(threading.enumerate())
    # before the bounded wait, open waited for the ack until connect_timeout and failed
    with MCPToolset.stdio(sys.executable, [str(LISTEN), "--no-ack"], connect_timeout=5) as server:
        assert server.call("add", {"a": 1, "b": 2}) == {"result": 3}
        extra = server.call("quiet_change")
        assert extra in names(server)  # nothing is announced: the list is re-read on use
        extra = server.call("change")
        assert extra in names(server)
        assert server.call("listens") == {"acked": 0, "requested": 1}  # one pending request, no retries
    assert set(threading.enumerate()) <= before


async def test_a_server_that_never_acknowledges_async(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_watch, "ACK_WAIT", 0.2)
    async with MCPToolset.stdio(sys.executable, [str(LISTEN), "--no-ack"], connect_timeout=5) as server:
        extra = await server.acall("quiet_change")
        assert extra in {t.name for t in await server.alist_tools()}


@pytest.fixture(scope="module")
def listen_url() -> Iterator[str]:
    with http_server(script=LISTEN) as url:
        yield url


@pytest.mark.parametrize("end", ["end_listen", "drop_listen"])
def test_http_listen_stream_that_ends_is_opened_again(listen_url: str, end: str, fast_retry: None) -> None:
    with MCPToolset.http(listen_url) as server:
        acked = server.call("listens", {"acked": 1})["acked"]  # the module's server counts every client
        server.call(end)
        assert server.call("listens", {"acked": acked + 1})["acked"] == acked + 1
        extra = server.call("change")
        wait_for_tool(server, extra)


# -- the backoff itself, against a client whose listen requests the test scripts --------------------
class _Client:
    def __init__(self, *, ack: bool, attempts_wanted: int = 0) -> None:
        self.ack = ack
        self.calls = 0
        self.enough = asyncio.Event()
        self.attempts_wanted = attempts_wanted

    @contextlib.asynccontextmanager
    async def listen(self, **_: Any) -> AsyncIterator[_Subscription]:
        self.calls += 1
        if self.calls >= self.attempts_wanted:
            self.enough.set()
        if not self.ack:
            raise RuntimeError("refused")
        yield _Subscription()  # acknowledged, then closed gracefully at once


class _Subscription:
    honored = SubscriptionFilter(tools_list_changed=True)

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> object:
        raise StopAsyncIteration


def _delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [
        float(r.getMessage().rsplit(" ", 1)[1].rstrip("s")) for r in caplog.records if "again in" in r.message
    ]


async def test_backoff_doubles_up_to_the_cap_then_gives_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_watch, "RETRY_FIRST", 0.001)
    monkeypatch.setattr(_watch, "RETRY_MAX", 0.004)
    monkeypatch.setattr(_watch, "RETRY_LIMIT", 5)
    caplog.set_level(logging.DEBUG, logger="toolwire.mcp")
    changes: list[None] = []
    watch = ListWatch(_Client(ack=False), "test", lambda: changes.append(None))
    await watch.start(asyncio.Event(), ack_wait=1)
    assert watch.task is not None
    await asyncio.wait_for(watch.task, 10)
    assert watch.attempts == 6 and watch.gave_up and not watch.watching
    assert _delays(caplog) == [0.001, 0.002, 0.004, 0.004, 0.004]
    assert len(changes) == 6  # every end marks the list stale


async def test_a_stream_that_stayed_open_long_enough_resets_the_backoff(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_watch, "RETRY_FIRST", 0.001)
    monkeypatch.setattr(_watch, "RETRY_LIMIT", 2)
    monkeypatch.setattr(_watch, "HEALTHY", 0.0)  # every stream counts as healthy
    caplog.set_level(logging.DEBUG, logger="toolwire.mcp")
    client = _Client(ack=True, attempts_wanted=6)
    watch = ListWatch(client, "test", lambda: None)
    await watch.start(asyncio.Event(), ack_wait=1)
    await asyncio.wait_for(client.enough.wait(), 10)
    await watch.close()
    assert not watch.gave_up and client.calls >= 6
    assert set(_delays(caplog)) == {0.001}
    assert watch.task is None
