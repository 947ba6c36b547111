"""A toolset in a pytest-asyncio fixture whose loop is not the test's (a module-scoped fixture, tests
on function-scoped loops): the fixture's loop is paused while a test runs on another loop.

Opened with `async with`, the toolset's connection lives on the fixture's loop (`CallerLoop`). A sync
test runs that idle loop for each call (nothing else runs on the thread); an async test's loop runs
instead, so its call fails at once with an error naming the way out (before the caller-loop change
both worked, on a background loop). Opened with `with` in the same async fixture, the toolset has a
background loop of its own and serves every test, async or sync."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from mcp_support import DEMO, children_of

from toolwire import ToolCall, aexecute_tool_calls, execute_tool_calls
from toolwire.mcp import MCPToolset

pytest.importorskip("mcp")

_WAY_OUT = r"paused while another loop runs.*with `with` \(in async code too\)"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def on_fixture_loop() -> AsyncIterator[MCPToolset]:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as toolset:
        assert await toolset.acall("add", {"a": 1, "b": 1}) == {"result": 2}  # usable on its own loop
        yield toolset


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def own_loop() -> AsyncIterator[MCPToolset]:
    with MCPToolset.stdio(sys.executable, [str(DEMO)]) as toolset:
        yield toolset


async def test_a_call_on_another_loop_says_the_toolsets_loop_is_paused(on_fixture_loop: MCPToolset) -> None:
    with pytest.raises(RuntimeError, match=_WAY_OUT):
        await on_fixture_loop.acall("add", {"a": 2, "b": 3})


def test_a_sync_test_runs_the_fixtures_idle_loop_for_its_calls(on_fixture_loop: MCPToolset) -> None:
    # no loop runs on this thread: the fixture's loop is run here until each call is done
    assert on_fixture_loop.call("add", {"a": 2, "b": 3}) == {"result": 5}
    call = ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2})
    [result] = execute_tool_calls([call], on_fixture_loop)
    assert result.output == {"result": 3}
    assert "add" in [tool.name for tool in on_fixture_loop.refresh()]


async def test_a_toolset_opened_with_with_in_an_async_fixture_serves_async_tests(
    own_loop: MCPToolset,
) -> None:
    assert await own_loop.acall("add", {"a": 2, "b": 3}) == {"result": 5}
    call = ToolCall(id="c1", name="add", arguments={"a": 1, "b": 2})
    [result] = await aexecute_tool_calls([call], own_loop)
    assert result.output == {"result": 3}


def test_a_toolset_opened_with_with_in_an_async_fixture_serves_sync_tests(own_loop: MCPToolset) -> None:
    assert own_loop.call("add", {"a": 2, "b": 3}) == {"result": 5}


def test_a_loop_run_in_steps_serves_sync_calls_and_close() -> None:
    # `loop.run_until_complete` step by step: between steps the loop is idle on this thread
    before = set(children_of(os.getpid()))
    loop = asyncio.new_event_loop()
    try:
        server = loop.run_until_complete(MCPToolset.stdio(sys.executable, [str(DEMO)]).aopen())
        assert server.call("add", {"a": 2, "b": 2}) == {"result": 4}
        assert loop.run_until_complete(server.acall("add", {"a": 1, "b": 2})) == {"result": 3}
        server.close()  # runs the loop here until the server process is stopped
        assert not set(children_of(os.getpid())) - before
    finally:
        loop.close()
