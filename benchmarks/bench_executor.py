"""Executor benchmark: concurrency of one turn's tool calls, and the executor's own cost per call.

    python benchmarks/bench_executor.py [--repeat 3]

1. N in {1, 4, 16} tools that each sleep 200 ms (sync tools: time.sleep; async tools: asyncio.sleep),
   run through both drivers: turn wall time next to the sequential sum (N x 200 ms), and the ratio to
   the slowest single tool (target: <= 1.1x).
2. Overhead per call for a no-op tool: (time of a batch - time of calling the same functions
   directly) / calls, best of several rounds (target: <= 50 us), for batches of 1 and 16 calls.

Prints one table per part; nothing is asserted (timing belongs here, not in the test suite).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from toolwire.tools.definition import ToolDefinition
from toolwire.tools.execution import aexecute_tool_calls, coerce_tools, execute_tool_calls
from toolwire.types import ToolCall

SLEEP = 0.2


def sleep_sync(i: int) -> int:
    time.sleep(SLEEP)
    return i


async def sleep_async(i: int) -> int:
    await asyncio.sleep(SLEEP)
    return i


def noop_sync() -> str:
    return "ok"


async def noop_async() -> str:
    return "ok"


def _calls(name: str, n: int, args: dict[str, Any] | None = None) -> list[ToolCall]:
    return [
        ToolCall(id=f"call_{i}", name=name, arguments=dict(args or {}), raw_arguments="{}") for i in range(n)
    ]


def _run(driver: str, calls: list[ToolCall], tools: dict[str, ToolDefinition]) -> float:
    start = time.perf_counter()
    if driver == "sync":
        results = execute_tool_calls(calls, tools)
    else:
        results = asyncio.run(aexecute_tool_calls(calls, tools))
    elapsed = time.perf_counter() - start
    failed = [r.error for r in results if r.error]
    if failed:
        raise SystemExit(f"benchmark tool failed: {failed[0]}")
    return elapsed


def concurrency_table(repeat: int) -> list[str]:
    rows = [
        f"Part 1: N tools sleeping 200 ms each, one turn (median of {repeat} runs)",
        f"{'driver':<7} {'tools':<6} {'N':>3} {'sequential sum':>15} {'turn wall':>10} "
        f"{'speed-up':>9} {'wall / slowest':>15}",
    ]
    tools = coerce_tools([sleep_sync, sleep_async])
    for driver in ("sync", "async"):
        for kind in ("sync", "async"):
            for n in (1, 4, 16):
                calls = []
                for i, c in enumerate(_calls(f"sleep_{kind}", n)):
                    c.arguments = {"i": i}
                    calls.append(c)
                _run(driver, calls, tools)  # warm the pool and the validators
                walls = [_run(driver, calls, tools) for _ in range(repeat)]
                wall = statistics.median(walls)
                sequential = n * SLEEP
                rows.append(
                    f"{driver:<7} {kind:<6} {n:>3} {sequential * 1000:>12.0f} ms {wall * 1000:>7.1f} ms "
                    f"{sequential / wall:>8.1f}x {wall / SLEEP:>14.3f}x"
                )
    return rows


def _direct(fn: Callable[[], Any], n: int, is_async: bool) -> float:
    start = time.perf_counter()
    if is_async:

        async def all_() -> None:
            for _ in range(n):
                await fn()

        asyncio.run(all_())
    else:
        for _ in range(n):
            fn()
    return time.perf_counter() - start


def overhead_table(rounds: int = 200) -> list[str]:
    rows = [
        f"Part 2: executor overhead per no-op call (best of {rounds} batches, minus direct calls)",
        f"{'driver':<7} {'tools':<6} {'calls/batch':>11} {'batch':>10} {'direct':>9} {'overhead/call':>14}",
    ]
    tools = coerce_tools([noop_sync, noop_async])
    for driver in ("sync", "async"):
        for kind, fn in (("sync", noop_sync), ("async", noop_async)):
            for n in (1, 16):
                calls = _calls(f"noop_{kind}", n)
                is_async = kind == "async"
                if driver == "sync":
                    for _ in range(20):
                        execute_tool_calls(calls, tools)
                    batch = min(_timed(execute_tool_calls, calls, tools) for _ in range(rounds))
                    direct = min(_direct(fn, n, is_async) for _ in range(rounds))
                else:
                    batch, direct = asyncio.run(_async_overhead(calls, tools, fn, n, is_async, rounds))
                per_call = (batch - direct) / n
                rows.append(
                    f"{driver:<7} {kind:<6} {n:>11} {batch * 1e6:>7.1f} us {direct * 1e6:>6.1f} us "
                    f"{per_call * 1e6:>11.1f} us"
                )
    return rows


def _timed(fn: Callable[..., Any], *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


async def _async_overhead(
    calls: list[ToolCall],
    tools: dict[str, ToolDefinition],
    fn: Callable[[], Any],
    n: int,
    is_async: bool,
    rounds: int,
) -> tuple[float, float]:
    # one event loop for the whole measurement: asyncio.run's own start-up is not the executor's cost
    for _ in range(20):
        await aexecute_tool_calls(calls, tools)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        await aexecute_tool_calls(calls, tools)
        best = min(best, time.perf_counter() - start)
    direct = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            result = fn()
            if is_async:
                await result
        direct = min(direct, time.perf_counter() - start)
    return best, direct


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per concurrency row (median)")
    args = parser.parse_args()
    import os
    import platform

    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print()
    print("\n".join(concurrency_table(args.repeat)))
    print()
    print("\n".join(overhead_table()))


if __name__ == "__main__":
    main()
