"""A low-level MCP server (official SDK) over stdio that publishes the tool definitions in a JSON
file (tests/mcp/data/public_servers.json: real servers' tools) and echoes calls.

    python listing_server.py FILE SERVER
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server


def load(path: str, name: str) -> list[types.Tool]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    [entry] = [s for s in data["servers"] if s["server"] == name]
    tools = []
    for raw in entry["tools"]:
        fields = {k: v for k, v in raw.items() if not k.startswith("_")}
        tools.append(types.Tool.model_validate(fields))
    return tools


def main(path: str, name: str) -> None:
    tools = load(path, name)

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(text=json.dumps(params.arguments or {}))])

    server = Server(name, on_list_tools=list_tools, on_call_tool=call_tool)

    async def run() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
