"""A toolset opened with `async with` keeps its connection on the caller's own event loop
(`_loop.CallerLoop`): async calls await the SDK there (no thread), sync callers on other threads
still reach it, a sync call on that loop's thread is refused with a clear error, and the lifecycle
guarantees of the background loop hold (restart, re-established session, timeouts, nothing left)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from mcp_support import DEMO, children_of, free_port, http_server, open_fds, zombies_of

from toolwire import ToolCall, aexecute_tool_calls, execute_tool_calls
from toolwire.errors import MCPConnectionError, MCPToolChangedError
from toolwire.mcp import MCPToolset
from toolwire.mcp._loop import BackgroundLoop, CallerLoop

pytest.importorskip("mcp")


def call(name: str, arguments: dict[str, Any], call_id: str = "c1") -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments)


def _mcp_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("toolwire-mcp")]


async def test_async_with_runs_on_the_callers_loop_without_a_thread() -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        assert isinstance(server._loop, CallerLoop) and server._loop.loop is asyncio.get_running_loop()
        assert not _mcp_threads()
        assert server._conn is not None and server._conn.task in asyncio.all_tasks()
        assert await server.acall("add", {"a": 2, "b": 3}) == {"result": 5}
        [result] = await aexecute_tool_calls([call("add", {"a": 1, "b": 1})], server)
        assert result.output == {"result": 2}


def test_with_still_runs_on_a_background_loop() -> None:
    with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        assert isinstance(server._loop, BackgroundLoop)
        assert server.call("add", {"a": 2, "b": 3}) == {"result": 5}


async def test_sync_callers_on_other_threads_reach_the_callers_loop() -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        assert await asyncio.to_thread(server.call, "add", {"a": 2, "b": 2}) == {"result": 4}
        [result] = await asyncio.to_thread(execute_tool_calls, [call("add", {"a": 3, "b": 3})], server)
        assert result.output == {"result": 6}
        # two calls of one turn, concurrently, through the sync driver's batch path
        results = await asyncio.to_thread(
            execute_tool_calls,
            [call("add", {"a": 1, "b": 0}, "x"), call("add", {"a": 2, "b": 0}, "y")],
            server,
        )
        assert [r.output for r in results] == [{"result": 1}, {"result": 2}]


async def test_an_async_caller_on_another_loop_hops_to_the_toolsets_loop() -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:

        async def elsewhere() -> Any:
            return await server.acall("add", {"a": 5, "b": 5})

        assert await asyncio.to_thread(asyncio.run, elsewhere()) == {"result": 10}


async def test_a_sync_call_on_the_loops_own_thread_is_a_clear_error() -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        with pytest.raises(RuntimeError, match=r"opened with `async with` on this thread's event loop"):
            server.call("add", {"a": 1, "b": 1})
        with pytest.raises(RuntimeError, match="use the async API"):
            server.refresh()
        # the sync executor on this thread: the programmer's error, raised, not the model's; nothing hangs
        with pytest.raises(RuntimeError, match=r"opened with `async with` on this thread's event loop"):
            execute_tool_calls([call("add", {"a": 1, "b": 1})], server)
        with pytest.raises(RuntimeError, match="use the async API"):  # beside another call, too
            execute_tool_calls([call("add", {"a": 1, "b": 1}), call("add", {"a": 2, "b": 2})], server)
        assert await server.acall("add", {"a": 1, "b": 1}) == {"result": 2}  # still usable


async def test_a_stale_list_read_on_the_loops_thread_is_refreshed_behind_it(tmp_path: Any) -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        before = server.tools
        reads: list[int] = []
        real = server._refresh

        async def counted() -> None:
            reads.append(1)
            await real()

        server._refresh = counted  # type: ignore[method-assign]
        server._stale = True  # as after a list_changed: `tools` cannot wait on its own loop
        assert [t.name for t in server.tools] == [t.name for t in before]
        assert [t.name for t in server.tools] == [t.name for t in before]  # one re-read at a time
        deadline = time.monotonic() + 10
        while server._stale:
            assert time.monotonic() < deadline, "the stale list was never read again"
            await asyncio.sleep(0.01)
        assert reads == [1]


async def test_a_changed_tool_is_refused_on_the_callers_loop() -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        assert await server.acall("rug_pull") == {"result": "changed"}
        deadline = time.monotonic() + 10
        while not any(t.name == "add" and t.pin_change for t in await server.alist_tools()):
            assert time.monotonic() < deadline, "the toolset never saw list_changed"
            await asyncio.sleep(0.02)
        with pytest.raises(MCPToolChangedError, match="id_rsa"):
            await server.acall("add", {"a": 1, "b": 2})


async def test_a_crashed_stdio_server_is_restarted_on_the_callers_loop() -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        [crashed] = await aexecute_tool_calls([call("crash", {})], server)
        assert crashed.error is not None and "MCPConnectionError" in crashed.error
        assert await server.acall("add", {"a": 2, "b": 3}) == {"result": 5}
        assert server.restarts == 1
        assert server._conn is not None and server._conn.task in asyncio.all_tasks()


async def test_a_restarted_http_server_gets_a_new_session_on_the_callers_loop() -> None:
    port = free_port()
    with http_server(port=port) as url:
        async with MCPToolset.http(url, mode="legacy") as server:
            assert await server.acall("add", {"a": 1, "b": 2}) == {"result": 3}
            _kill_servers_on(port)
            with pytest.raises(MCPConnectionError, match="restarted on next use"):
                await server.acall("add", {"a": 1, "b": 2})
            with http_server(port=port):
                assert await server.acall("add", {"a": 2, "b": 2}) == {"result": 4}
            assert server.restarts == 1


def _kill_servers_on(port: int) -> None:
    for pid in children_of(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(DEMO).encode() in cmdline and str(port).encode() in cmdline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)


async def test_a_timeout_cancels_the_call_on_the_callers_loop() -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        started = time.monotonic()
        [late] = await aexecute_tool_calls([call("slow", {"seconds": 30})], server, timeout=0.3)
        assert late.error is not None and "timed out" in late.error
        assert time.monotonic() - started < 10
        # the SDK's request was cancelled on this loop: no task of it is left waiting for the answer
        await asyncio.sleep(0.1)
        assert await server.acall("add", {"a": 1, "b": 1}) == {"result": 2}
        # and from a sync caller on another thread, through the toolset's loop
        [late] = await asyncio.to_thread(
            execute_tool_calls, [call("slow", {"seconds": 30})], server, timeout=0.3
        )
        assert late.error is not None and "timed out" in late.error


def test_a_sync_close_on_the_loops_thread_closes_as_soon_as_the_loop_runs() -> None:
    before = set(children_of(os.getpid()))

    async def run() -> None:
        server = await MCPToolset.stdio(sys.executable, [str(DEMO)]).aopen()
        assert set(children_of(os.getpid())) - before  # the server process
        server.close()  # cannot wait on its own loop: the close runs when the loop runs next
        deadline = time.monotonic() + 20
        while set(children_of(os.getpid())) - before:
            assert time.monotonic() < deadline, "the server process outlived close()"
            await asyncio.sleep(0.05)

    asyncio.run(run())
    assert not zombies_of(os.getpid())


def test_a_toolset_left_open_ends_with_its_loop() -> None:
    before = set(children_of(os.getpid()))

    async def run() -> MCPToolset:
        server = await MCPToolset.stdio(sys.executable, [str(DEMO)]).aopen()
        assert await server.acall("add", {"a": 1, "b": 1}) == {"result": 2}
        return server  # never closed: asyncio.run cancels its tasks, which end the process

    server = asyncio.run(run())
    deadline = time.monotonic() + 20
    while set(children_of(os.getpid())) - before:
        assert time.monotonic() < deadline, "the server process outlived its event loop"
        time.sleep(0.05)
    with pytest.raises(RuntimeError, match="no longer running"):
        server.call("add", {"a": 1, "b": 1})
    server.close()  # still idempotent


def test_async_cycles_leave_nothing_behind() -> None:
    with http_server("--json") as url:

        async def cycle(i: int) -> None:
            async with MCPToolset.http(url) as server:
                assert await server.acall("add", {"a": i, "b": 1}) == {"result": i + 1}

        asyncio.run(cycle(0))  # warm up (imports, httpx2 pools)
        fds, threads = open_fds(), threading.active_count()
        for i in range(20):
            asyncio.run(cycle(i))
        assert threading.active_count() == threads
        assert open_fds() <= fds
    before = set(children_of(os.getpid()))
    for i in range(2):
        asyncio.run(_stdio_cycle(i))
    assert set(children_of(os.getpid())) <= before
    assert not zombies_of(os.getpid())


async def _stdio_cycle(i: int) -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        assert await server.acall("add", {"a": i, "b": 1}) == {"result": i + 1}
