"""Stream a Session to the terminal: text as it arrives, each tool call as it starts and ends.

    OPENAI_API_KEY=sk-... python examples/streaming_terminal.py "Weather in Paris and Rome?"

Same provider settings as basic_usage.py (TOOLWIRE_PROVIDER, TOOLWIRE_MODEL, TOOLWIRE_BASE_URL).
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from toolwire import AbstractLLM, Session, SessionFinished, TextDelta, ToolCallStarted, ToolResultEvent


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
    """
    return {"Paris": "sunny, 21C", "Rome": "clear, 24C"}.get(city, "unknown city")


def make_llm() -> Any:
    config: dict[str, Any] = {}
    if os.environ.get("TOOLWIRE_MODEL"):
        config["model"] = os.environ["TOOLWIRE_MODEL"]
    if os.environ.get("TOOLWIRE_BASE_URL"):
        config["base_url"] = os.environ["TOOLWIRE_BASE_URL"]
    provider = os.environ.get("TOOLWIRE_PROVIDER", "openai")
    if provider == "openai" and "model" not in config:
        config["model"] = "gpt-4o-mini"
    return AbstractLLM.create(provider, **config)


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = sys.argv[1:] if argv is None else argv
    prompt = " ".join(args) or "Weather in Paris and Rome?"
    session = Session(make_llm(), tools=[get_weather])
    for event in session.stream(prompt):
        if isinstance(event, TextDelta):
            out.write(event.text)
            out.flush()
        elif isinstance(event, ToolCallStarted):
            out.write(f"\n  -> {event.call.name}({event.call.arguments})\n")
        elif isinstance(event, ToolResultEvent):
            out.write(f"  <- {event.result.name}: {event.result.output_text()}\n")
        elif isinstance(event, SessionFinished):
            out.write(f"\n[{event.response.finish_reason}; tokens {session.usage}]\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
