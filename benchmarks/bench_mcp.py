"""MCP benchmark: one tool call through toolwire vs the same call through the SDK's own
`ClientSession.call_tool`, over stdio and over Streamable HTTP, in one run.

    python benchmarks/bench_mcp.py [--calls 300] [--rounds 5]

The server is tests/mcp/servers/demo_server.py (the official SDK's `MCPServer`), its `add` tool.
Four contenders per transport, each on its own connection to the same server process:

- sdk: `await client.session.call_tool("add", ...)` on an `mcp.Client` (the baseline);
- toolwire async: `await toolset.acall("add", ...)` (arguments validated, result converted, the
  call hops to the toolset's background loop and back);
- toolwire sync: `toolset.call("add", ...)` from a plain thread;
- toolwire executor: `execute_tool_calls([call], toolset)` (what a Session does per call);
- thread hop alone: a no-op coroutine run on the toolset's background loop from a thread (the
  floor of the one-loop-per-toolset design).

Rounds alternate the contenders; each figure is the median over rounds of the median per-call
time. Ratio = contender / sdk (target for toolwire async and sync: <= 1.1x). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "mcp"))

from mcp_support import DEMO, free_port, wait_for_port  # noqa: E402

from toolwire import ToolCall, execute_tool_calls  # noqa: E402
from toolwire.mcp import MCPToolset  # noqa: E402

ARGS = {"a": 2, "b": 3}


async def _timed_async(fn: Callable[[], Awaitable[Any]], calls: int) -> float:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _timed_sync(fn: Callable[[], Any], calls: int) -> float:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _toolwire_executor(toolset: MCPToolset, calls: int) -> float:
    call = ToolCall(id="c", name="add", arguments=ARGS)
    return _timed_sync(lambda: execute_tool_calls([call], toolset), calls)


def _toolwire_sync(toolset: MCPToolset, calls: int) -> float:
    return _timed_sync(lambda: toolset.call("add", ARGS), calls)


async def _noop() -> None:
    return None


def _hop(toolset: MCPToolset, calls: int) -> float:
    """The floor of the design: a no-op round trip to the toolset's background loop and back."""
    loop = toolset._running()
    return _timed_sync(lambda: loop.run(_noop()), calls)


async def run_transport(sdk_target: Any, toolset: MCPToolset, calls: int, rounds: int) -> dict[str, float]:
    """One event loop: the SDK client is entered and left by this task (anyio requires it); the
    sync contenders run in a worker thread, as sync code calling toolwire would."""
    from mcp import Client

    results: dict[str, list[float]] = {
        "sdk": [],
        "toolwire async": [],
        "toolwire sync": [],
        "toolwire executor": [],
        "thread hop alone (sync)": [],
    }
    async with Client(sdk_target, cache=None) as client:
        session = client.session
        # list once, as toolwire does: a session that never listed re-lists on every call to find
        # the tool's output schema (ClientSession.validate_tool_result)
        await client.list_tools()

        def sdk_call() -> Awaitable[Any]:
            return session.call_tool("add", ARGS)

        def toolwire_call() -> Awaitable[Any]:
            return toolset.acall("add", ARGS)

        await toolset.aopen()
        try:
            for warmup in (True, *([False] * rounds)):
                n = 20 if warmup else calls
                figures = {
                    "sdk": await _timed_async(sdk_call, n),
                    "toolwire async": await _timed_async(toolwire_call, n),
                    "toolwire sync": await asyncio.to_thread(_toolwire_sync, toolset, n),
                    "toolwire executor": await asyncio.to_thread(_toolwire_executor, toolset, n),
                    "thread hop alone (sync)": await asyncio.to_thread(_hop, toolset, n),
                }
                if not warmup:
                    for key, value in figures.items():
                        results[key].append(value)
        finally:
            await toolset.aclose()
    return {key: statistics.median(values) for key, values in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per contender per round")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    from mcp.client.stdio import StdioServerParameters

    table: dict[str, dict[str, float]] = {}
    stdio_params = StdioServerParameters(command=sys.executable, args=[str(DEMO)])
    toolset = MCPToolset.stdio(sys.executable, [str(DEMO)])
    table["stdio"] = asyncio.run(run_transport(stdio_params, toolset, options.calls, options.rounds))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(DEMO), "--http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        url = f"http://127.0.0.1:{port}/mcp"
        toolset = MCPToolset.http(url)
        table["http"] = asyncio.run(run_transport(url, toolset, options.calls, options.rounds))
    finally:
        server.terminate()
        server.wait(10)

    print(f"MCP tool call `add`, median per call ({options.rounds} rounds x {options.calls} calls)\n")
    print("| transport | contender | per call | ratio to sdk |")
    print("|---|---|---:|---:|")
    for transport, figures in table.items():
        base = figures["sdk"]
        for contender, value in figures.items():
            print(f"| {transport} | {contender} | {value * 1e6:,.0f} µs | {value / base:.2f}× |")


if __name__ == "__main__":
    main()
