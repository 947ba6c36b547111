"""Give a model the tools of an MCP server next to a local Python function.

    pip install 'toolwire[mcp]'
    OPENAI_API_KEY=... python examples/mcp_tools.py "How many words are in 'to be or not to be', plus 2?"

The server (examples/mcp_server.py) is started as a subprocess and stopped when the `with` block
ends. Its tools are renamed with the prefix ``calc_`` (``text.word_count`` becomes
``calc_text_word_count``: dots are not valid in a function name for most providers); the model
calls them like any tool, concurrently with `shout`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from toolwire import AbstractLLM, Session
from toolwire.mcp import MCPToolset

SERVER = Path(__file__).with_name("mcp_server.py")


def shout(text: str) -> str:
    """Repeat a text in capitals.

    Args:
        text: What to shout.
    """
    return text.upper() + "!"


def main(prompt: str, llm: Any = None) -> str:
    llm = llm or AbstractLLM.create("openai", model="gpt-4o-mini")
    with MCPToolset.stdio(sys.executable, [str(SERVER)], prefix="calc_") as server:
        for tool in server.tools:
            print(f"tool {tool.name}: {tool.description}")
        session = Session(llm, tools=[server, shout], tool_timeout=30)
        for event in session.stream(prompt):
            kind = type(event).__name__
            if kind == "ToolCallStarted":
                print(f"-> {event.call.name}({event.call.arguments})")
            elif kind == "ToolResultEvent":
                print(f"<- {event.result.name}: {event.result.error or event.result.output_text()}")
        return session.messages[-1].content or ""


if __name__ == "__main__":
    print(main(" ".join(sys.argv[1:]) or "How many words are in 'to be or not to be', plus 2?"))
