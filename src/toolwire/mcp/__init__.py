"""MCP servers as tool sources (extra `toolwire[mcp]`, built on the official `mcp` SDK).

    from toolwire.mcp import MCPToolset

    with MCPToolset.stdio("python", ["server.py"]) as server:
        Session(llm, tools=[server, my_function]).generate("...")

Importing this package does not import the SDK; opening a toolset does.
"""

from __future__ import annotations

from ..errors import (
    MCPConnectionError,
    MCPServerError,
    MCPTimeoutError,
    MCPToolChangedError,
    MCPToolError,
)
from ._names import MCPToolNameCollisionError
from .toolset import MCPToolDefinition, MCPToolset

__all__ = [
    "MCPConnectionError",
    "MCPServerError",
    "MCPTimeoutError",
    "MCPToolChangedError",
    "MCPToolDefinition",
    "MCPToolError",
    "MCPToolNameCollisionError",
    "MCPToolset",
]
