"""An MCP server (official SDK) over stdio that misbehaves on request, for toolwire's tests.

    python unruly_server.py --ignore-term   # ignores SIGTERM and keeps running after stdin closes
    python unruly_server.py --hang-list     # answers the first tools/list, never another

Only SIGKILL ends the first (the client's last resort); the second is a server that hangs.
"""

from __future__ import annotations

import signal
import sys
import time

import anyio
from mcp.server.mcpserver import MCPServer

server = MCPServer("toolwire-unruly")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if "--hang-list" in sys.argv:
    original = server._lowlevel_server._request_handlers["tools/list"]

    listed = 0

    async def hang(ctx: object, params: object) -> object:
        global listed
        listed += 1
        if listed > 1:
            await anyio.sleep_forever()
        return await original.handler(ctx, params)

    server._lowlevel_server.add_request_handler("tools/list", original.params_type, hang)


if __name__ == "__main__":
    if "--ignore-term" in sys.argv:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server.run()  # returns when stdin closes
    if "--ignore-term" in sys.argv:
        while True:  # and then the process stays, until killed
            time.sleep(3600)
