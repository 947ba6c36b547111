"""A tiny MCP server (official `mcp` SDK) for examples/mcp_tools.py. Speaks MCP on stdin/stdout."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("toolwire-example")


@server.tool()
def add(a: float, b: float) -> float:
    """Add two numbers."""
    return a + b


@server.tool(name="text.word_count")
def word_count(text: str) -> int:
    """Count the words in a text."""
    return len(text.split())


if __name__ == "__main__":
    server.run()
