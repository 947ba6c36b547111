"""An MCP server (official SDK `MCPServer`) whose `subscriptions/listen` streams the tests control.

    python listen_server.py [--no-ack | --refuse | --close-at-once | --honor-nothing]   # stdio
    python listen_server.py --http PORT [...]                         # Streamable HTTP on 127.0.0.1

The listen handler is the SDK's own `ListenHandler`, wrapped so that the tools below can end its
streams (every tool is async: it runs on the server's event loop, beside the listen handler).
Tools: add, change (adds a tool, then publishes tools list_changed to the listeners),
quiet_change (adds a tool and tells nobody), end_listen (the server closes every listen stream
gracefully, as on shutdown), drop_listen (the listen requests fail with an error: the stream ends
abruptly), listens (how many listen streams were acknowledged and requested; waits until at least
`acked` were acknowledged, for up to `wait` seconds).

Flags: --no-ack (listen requests are accepted and never acknowledged), --refuse (listen requests
are refused with a JSON-RPC error), --close-at-once (every stream is acknowledged, then closed
gracefully at once), --honor-nothing (every stream is acknowledged with an empty filter: no
tools list_changed).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.exceptions import MCPError
from mcp_types import INTERNAL_ERROR, SubscriptionFilter, SubscriptionsListenRequestParams

FLAGS = set(sys.argv[1:])
bus = InMemorySubscriptionBus()
server = MCPServer("toolwire-listen", subscriptions=bus)
sdk_handler = ListenHandler(bus)
state: dict[str, Any] = {"requested": 0, "acked": 0, "extra": 0, "scopes": set()}
acked_changed = anyio.Event()


async def listen(ctx: Any, params: SubscriptionsListenRequestParams) -> Any:
    global acked_changed
    state["requested"] += 1
    if "--refuse" in FLAGS:
        raise MCPError(INTERNAL_ERROR, "listen refused by the test server")
    if "--no-ack" in FLAGS:
        await anyio.sleep_forever()
    state["acked"] += 1  # the SDK handler sends the ack as its first frame, right below
    acked_changed.set()
    acked_changed = anyio.Event()
    if "--close-at-once" in FLAGS:
        asyncio.get_running_loop().call_soon(sdk_handler.close)
    if "--honor-nothing" in FLAGS:  # acknowledge, with none of the requested notifications honored
        params = SubscriptionsListenRequestParams(notifications=SubscriptionFilter())
    with anyio.CancelScope() as scope:
        state["scopes"].add(scope)
        try:
            return await sdk_handler(ctx, params)
        finally:
            state["scopes"].discard(scope)
    raise MCPError(INTERNAL_ERROR, "listen stream dropped by the test server")


server._lowlevel_server.add_request_handler("subscriptions/listen", SubscriptionsListenRequestParams, listen)


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool(structured_output=False)  # text content only
async def change(ctx: Context) -> str:
    """Add a tool and announce it to the listeners."""
    name = _add_extra()
    await ctx.notify_tools_changed()
    return name


@server.tool(structured_output=False)  # text content only
async def quiet_change() -> str:
    """Add a tool and tell nobody."""
    return _add_extra()


@server.tool(structured_output=False)  # text content only
async def end_listen() -> str:
    """Close every listen stream gracefully (the spec's final result frame)."""
    sdk_handler.close()
    return "closed"


@server.tool(structured_output=False)  # text content only
async def drop_listen() -> str:
    """End every listen stream abruptly (the listen request fails with an error)."""
    for scope in list(state["scopes"]):
        scope.cancel()
    return "dropped"


@server.tool()
async def listens(acked: int = 0, wait: float = 10.0) -> dict[str, int]:
    """Listen streams acknowledged and requested so far; waits up to `wait` s for `acked` acks."""
    with anyio.move_on_after(wait):
        while state["acked"] < acked:
            await acked_changed.wait()
    return {"acked": state["acked"], "requested": state["requested"]}


def _add_extra() -> str:
    state["extra"] += 1
    name = f"extra_{state['extra']}"

    def extra() -> str:
        return name

    server.add_tool(extra, name=name, description="Added while the server runs.")
    return name


if __name__ == "__main__":
    if "--http" in FLAGS:
        port = int(sys.argv[sys.argv.index("--http") + 1])
        asyncio.run(server.run_streamable_http_async(host="127.0.0.1", port=port))
    else:
        server.run()
