"""MCP open/close cycles: after a thousand, no thread, file descriptor or process is left.

    python benchmarks/cycles_mcp.py [--cycles 1000] [--transports stdio,http] [--every 100]

For each transport, `--cycles` open/close cycles of an `MCPToolset` on the demo server
(tests/mcp/servers/demo_server.py, the official SDK's `MCPServer`), alternating sync (`with`) and
async (`async with`, each in its own `asyncio.run`); each cycle lists the tools and makes one call.
stdio starts (and must end) one server process per cycle; HTTP talks to one server started here
(stateful SSE, the SDK's default) and opens a new session per cycle.

Counted before (after a few warm-up cycles: imports, lazily created pools) and every `--every`
cycles: this process's threads (`/proc/self/task`, Python or not), open file descriptors
(`/proc/self/fd`), live child processes and zombie children (`/proc/*/stat`). Exit code 1 when
any count ends above its baseline. The in-suite tests (tests/mcp/test_mcp_http.py) run a few
cycles of each kind; this script is the thousand, run by hand (a stdio cycle starts a Python
process: about 1 s on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "mcp"))

from mcp_support import DEMO, http_server  # noqa: E402

from toolwire.mcp import MCPToolset  # noqa: E402


def _children() -> tuple[int, int]:
    """(live, zombie) child processes of this process."""
    live = zombies = 0
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            if fields[0] == "Z":
                zombies += 1
            else:
                live += 1
    return live, zombies


def counts() -> dict[str, int]:
    live, zombies = _children()
    return {
        "threads": len(os.listdir("/proc/self/task")),
        "fds": len(os.listdir("/proc/self/fd")),
        "children": live,
        "zombies": zombies,
    }


def _sync_cycle(make: Callable[[], MCPToolset], i: int) -> None:
    with make() as server:
        assert any(t.name == "add" for t in server.tools)
        assert server.call("add", {"a": i, "b": 1}) == {"result": i + 1}


async def _async_cycle(make: Callable[[], MCPToolset], i: int) -> None:
    async with make() as server:
        assert any(t.name == "add" for t in await server.alist_tools())
        assert await server.acall("add", {"a": i, "b": 1}) == {"result": i + 1}


def run(transport: str, make: Callable[[], MCPToolset], cycles: int, every: int) -> bool:
    for i in range(4):  # warm up both kinds
        _sync_cycle(make, i) if i % 2 == 0 else asyncio.run(_async_cycle(make, i))
    base = counts()
    peak = dict(base)
    print(f"\n{transport}: {cycles} cycles (sync and async alternating); baseline {base}", flush=True)
    print("| cycles | threads | fds | children | zombies | s/cycle |")
    print("|---:|---:|---:|---:|---:|---:|")
    started = time.monotonic()
    for i in range(1, cycles + 1):
        _sync_cycle(make, i) if i % 2 == 0 else asyncio.run(_async_cycle(make, i))
        now = counts()
        peak = {k: max(peak[k], now[k]) for k in now}
        if i % every == 0 or i == cycles:
            rate = (time.monotonic() - started) / i
            row = [i, now["threads"], now["fds"], now["children"], now["zombies"], f"{rate:.3f}"]
            print("| " + " | ".join(map(str, row)) + " |", flush=True)
    end = counts()
    grown = {k: (base[k], end[k]) for k in end if end[k] > base[k]}
    print(f"{transport}: end {end}, peak between cycles {peak}; grown: {grown or 'nothing'}")
    return not grown


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=1000, help="open/close cycles per transport")
    parser.add_argument("--transports", default="stdio,http")
    parser.add_argument("--every", type=int, default=100, help="print the counts every N cycles")
    options = parser.parse_args()
    ok = True
    transports = options.transports.split(",")
    if "http" in transports:
        with http_server() as url:
            ok &= run("http", lambda: MCPToolset.http(url), options.cycles, options.every)
    if "stdio" in transports:
        stdio = lambda: MCPToolset.stdio(sys.executable, [str(DEMO)])  # noqa: E731
        ok &= run("stdio", stdio, options.cycles, options.every)
    print("\nOK: nothing left behind" if ok else "\nFAILED: something grew")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
