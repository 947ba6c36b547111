"""MCPToolset over Streamable HTTP against the SDK's own server on 127.0.0.1 (SSE and JSON answers,
stateful and stateless, both protocol generations), session re-establishment, and open/close cycles
that must leave no thread, file descriptor or process behind."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
from mcp_support import DEMO, children_of, free_port, http_server, open_fds, zombies_of

from toolwire import ToolCall, execute_tool_calls
from toolwire.errors import MCPConnectionError
from toolwire.mcp import MCPToolset

pytest.importorskip("mcp")


@pytest.fixture(scope="module")
def sse_url() -> Iterator[str]:
    with http_server() as url:
        yield url


@pytest.fixture(scope="module")
def json_url() -> Iterator[str]:
    with http_server("--json", "--stateless") as url:
        yield url


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stateful_sse_server_both_protocol_generations(sse_url: str, mode: str) -> None:
    with MCPToolset.http(sse_url, mode=mode) as server:
        version = server._conn.client.protocol_version if server._conn else None
        # auto: the 2026 stateless form (server/discover); legacy: the initialize handshake
        # with an Mcp-Session-Id, which the SDK's stateful server requires on every request
        assert (version or "").startswith("2026" if mode == "auto" else "2025"), version
        assert server.call("add", {"a": 2, "b": 3}) == {"result": 5}
        [result] = execute_tool_calls([ToolCall(id="1", name="files_read", arguments={"path": "x"})], server)
        assert result.output_text() == '{"result": "contents of x"}'


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stateless_json_server(json_url: str, mode: str) -> None:
    with MCPToolset.http(json_url, prefix="demo_", mode=mode) as server:
        version = server._conn.client.protocol_version if server._conn else None
        assert (version or "").startswith("2026" if mode == "auto" else "2025"), version
        assert "demo_add" in {t.name for t in server.tools}
        assert server.call("demo_stamp", {"label": "json"}).startswith("json ")
        with pytest.raises(Exception, match="failed on purpose"):
            server.call("demo_fail", {})


async def test_async_http(sse_url: str) -> None:
    async with MCPToolset.http(sse_url) as server:
        assert await server.acall("add", {"a": 1, "b": 1}) == {"result": 2}


def test_a_restarted_http_server_gets_a_new_session() -> None:
    port = free_port()
    with http_server(port=port) as url, MCPToolset.http(url, mode="legacy") as server:
        assert server.call("add", {"a": 1, "b": 2}) == {"result": 3}
        _stop_all_servers_on(port)
        with pytest.raises(MCPConnectionError, match="restarted on next use"):
            server.call("add", {"a": 1, "b": 2})
        with http_server(port=port):
            assert server.call("add", {"a": 2, "b": 2}) == {"result": 4}
        assert server.restarts == 1


def _stop_all_servers_on(port: int) -> None:
    for pid in children_of(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(DEMO).encode() in cmdline and str(port).encode() in cmdline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)


def _cycle(make: Callable[[], MCPToolset], i: int) -> None:
    """One open/close cycle, sync on even `i`, async (its own event loop) on odd."""
    if i % 2 == 0:
        with make() as server:
            assert server.call("add", {"a": i, "b": 1}) == {"result": i + 1}
        return

    async def run() -> None:
        async with make() as server:
            assert await server.acall("add", {"a": i, "b": 1}) == {"result": i + 1}

    asyncio.run(run())


# A few cycles of each kind here; benchmarks/cycles_mcp.py runs the thousand (too slow for the suite).
def test_open_close_cycles_leave_nothing_behind(json_url: str) -> None:
    make = partial(MCPToolset.http, json_url)
    for i in range(2):  # warm up (imports, httpx2 pools) both kinds, then count
        _cycle(make, i)
    fds, threads = open_fds(), threading.active_count()
    for i in range(20):
        _cycle(make, i)
    assert threading.active_count() == threads
    assert open_fds() <= fds


def test_stdio_cycles_leave_no_process(tmp_path: object) -> None:
    before_children = set(children_of(os.getpid()))
    fds, threads = open_fds(), threading.active_count()
    for i in range(2):
        _cycle(partial(MCPToolset.stdio, sys.executable, [str(DEMO)]), i)
    assert set(children_of(os.getpid())) <= before_children
    assert not zombies_of(os.getpid())  # every server process was waited for
    assert threading.active_count() == threads
    assert open_fds() <= fds


@pytest.mark.parametrize("what", ["call", "list"])
def test_a_session_the_server_forgot_is_re_established_and_the_request_sent_again(what: str) -> None:
    # A 2025 session: the server restarts between two calls and answers the old Mcp-Session-Id with
    # 404 "Session not found"; the client must start a new session (MCP 2025-06-18, session
    # management). The server never ran the request, so it is sent again on the new session.
    port = free_port()
    with http_server(port=port) as url, MCPToolset.http(url, mode="legacy") as server:
        assert server.call("add", {"a": 1, "b": 2}) == {"result": 3}
        _stop_all_servers_on(port)
        with http_server(port=port):
            if what == "call":
                assert server.call("add", {"a": 2, "b": 2}) == {"result": 4}
            else:
                assert "add" in {t.name for t in server.refresh()}
            assert server.restarts == 1
            assert server.call("add", {"a": 3, "b": 2}) == {"result": 5}  # and it stays usable
