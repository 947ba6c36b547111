"""The executor's own time per call for a tool shaped like an MCP one, without the server.

    python benchmarks/bench_executor_own.py [--calls 10000] [--runs 5]

The tool: `add(a, b)` validated by the MCP toolset's own `SchemaValidator`, returning a dict (an MCP
structured result), whose work runs elsewhere: the async function is marked `__toolwire_inline__`
and carries `__toolwire_submit__` as MCP tools do, but both answer at once (a completed future, a
coroutine that returns), so what is timed is the executor alone. Figure: process time of `--calls`
turns of one call through `aexecute_tool_calls` / `execute_tool_calls`, minus the same number of
direct calls of the function, per call; best of `--runs` (process time, so other jobs on a shared
machine count less). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import Any

from toolwire import ToolCall, aexecute_tool_calls, execute_tool_calls
from toolwire.mcp._schema import SchemaValidator, neutral_schema
from toolwire.tools.definition import ToolDefinition

SCHEMA = neutral_schema(
    {
        "type": "object",
        "properties": {"a": {"type": "integer", "title": "A"}, "b": {"type": "integer", "title": "B"}},
        "required": ["a", "b"],
        "title": "addArguments",
    }
)


async def add(**arguments: Any) -> dict[str, int]:
    return {"result": arguments["a"] + arguments["b"]}


def submit(**arguments: Any) -> concurrent.futures.Future[dict[str, int]]:
    future: concurrent.futures.Future[dict[str, int]] = concurrent.futures.Future()
    future.set_result({"result": arguments["a"] + arguments["b"]})
    return future


add.__toolwire_submit__ = submit  # type: ignore[attr-defined]
add.__toolwire_inline__ = True  # type: ignore[attr-defined]
TOOL = ToolDefinition(name="add", parameters=SCHEMA, function=add, validator=SchemaValidator(SCHEMA))


class Source:
    """A tool source, as an MCPToolset is (`tools=[server]`)."""

    def __toolwire_tools__(self) -> list[ToolDefinition]:
        return [TOOL]


def _process_time(fn: Callable[[], None]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    n, source = options.calls, Source()
    call = ToolCall(id="c", name="add", arguments={"a": 2, "b": 3})

    async def turns() -> None:
        for _ in range(n):
            await aexecute_tool_calls([call], source)

    async def direct() -> None:
        for _ in range(n):
            await add(a=2, b=3)

    def sync_turns() -> None:
        for _ in range(n):
            execute_tool_calls([call], source)

    def sync_direct() -> None:
        for _ in range(n):
            submit(a=2, b=3).result()

    cases = {
        "aexecute_tool_calls": (lambda: asyncio.run(turns()), lambda: asyncio.run(direct())),
        "execute_tool_calls": (sync_turns, sync_direct),
    }
    print(f"executor's own time per call, MCP-shaped tool ({n:,} calls, best of {options.runs})")
    for name, (through, alone) in cases.items():
        per_call = [(_process_time(through) - _process_time(alone)) / n for _ in range(options.runs)]
        runs = ", ".join(f"{x * 1e6:.1f}" for x in per_call)
        print(f"{name:<20} {min(per_call) * 1e6:6.1f} µs  (runs: {runs})")


if __name__ == "__main__":
    main()
