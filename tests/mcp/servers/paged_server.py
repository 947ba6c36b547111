"""A low-level MCP server (official SDK `Server`) over stdio whose tool list comes in pages of two
and carries the schema and naming quirks real servers publish, for toolwire's listing tests.

Tools: `github.create_issue` (dotted name, `$schema` key), `fs/read` (a slash), `ping` (a bare
`{"type": "object"}`), `lookup` (an optional argument), `config.set` (an open map), a name of
76 characters, and `snapshot` (text and images). With `--shift`, a tool is inserted at the front
of the list right after the first page is served (offset cursors then repeat a tool on page two).
A non-object root cannot be sent by the SDK's server (its result validation refuses it);
tests/mcp/test_mcp_replay.py serves one raw.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

LONG = "echo_with_a_name_far_longer_than_sixty_four_characters_allowed_by_providers"

TOOLS = [
    types.Tool(
        name="github.create_issue",
        description="Create an issue.",
        input_schema={
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {"repo": {"type": "string"}, "title": {"type": "string"}},
            "required": ["repo", "title"],
            "additionalProperties": False,
        },
    ),
    types.Tool(
        name="fs/read",
        description="Read a file.",
        input_schema={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
    types.Tool(name="ping", description="Ping.", input_schema={"type": "object"}),
    types.Tool(
        name="lookup",
        description="Look up a key.",
        input_schema={
            "type": "object",
            "properties": {"key": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}},
            "required": ["key"],
        },
    ),
    types.Tool(
        name="config.set",
        description="Set configuration values (an open map: not eligible for OpenAI strict mode).",
        input_schema={
            "type": "object",
            "properties": {"values": {"type": "object", "additionalProperties": {"type": "string"}}},
            "required": ["values"],
        },
    ),
    types.Tool(
        name=LONG,
        description="Echo.",
        input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    ),
]
PAGE = 2
# a 1x1 PNG, and an SVG (a type providers do not take in tool results)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
SVG = "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="
TOOLS.append(
    types.Tool(name="snapshot", description="A picture, with a caption.", input_schema={"type": "object"})
)


SHIFT = "--shift" in sys.argv  # a tool is added at the front just after the first page is served
INSERTED = types.Tool(
    name="inserted", description="Added while the list was paged.", input_schema={"type": "object"}
)


async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
    start = int(params.cursor) if params and params.cursor else 0
    end = start + PAGE
    page = types.ListToolsResult(tools=TOOLS[start:end], next_cursor=str(end) if end < len(TOOLS) else None)
    if SHIFT and start == 0 and INSERTED not in TOOLS:
        # offset cursors over a list that changed: the next page repeats the last tool of this one
        TOOLS.insert(0, INSERTED)
    return page


async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
    if params.name == "snapshot":
        return types.CallToolResult(
            content=[
                types.TextContent(text="the picture:"),
                types.ImageContent(data=PNG, mime_type="image/png"),
                types.ImageContent(data=SVG, mime_type="image/svg+xml"),
            ]
        )
    text = json.dumps({"tool": params.name, "arguments": params.arguments or {}}, sort_keys=True)
    return types.CallToolResult(content=[types.TextContent(text=text)])


server = Server("paged", on_list_tools=list_tools, on_call_tool=call_tool)


async def main() -> None:
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


if __name__ == "__main__":
    asyncio.run(main())
