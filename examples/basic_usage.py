"""Basic usage: a typed Python function becomes a tool; a Session runs the model → tools → model loop.

    pip install "toolwire @ git+https://github.com/toolwire/toolwire"
    OPENAI_API_KEY=sk-... python examples/basic_usage.py "What's the weather in Paris and in Rome?"

Another provider, from the environment:
    TOOLWIRE_PROVIDER=anthropic            (ANTHROPIC_API_KEY)
    TOOLWIRE_PROVIDER=azure_openai TOOLWIRE_MODEL=<deployment>   (AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY)
    TOOLWIRE_PROVIDER=openai_compatible TOOLWIRE_BASE_URL=http://127.0.0.1:8080/v1   (a local server)
"""

from __future__ import annotations

import os
import sys
from typing import Any

from toolwire import AbstractLLM, Session


def get_weather(city: str, unit: str = "celsius") -> str:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
        unit: "celsius" or "fahrenheit".
    """
    return f"18 degrees {unit} and cloudy in {city}"


def make_llm() -> Any:
    """The provider named by TOOLWIRE_PROVIDER (default openai), configured from the environment."""
    config: dict[str, Any] = {}
    if os.environ.get("TOOLWIRE_MODEL"):
        config["model"] = os.environ["TOOLWIRE_MODEL"]
    if os.environ.get("TOOLWIRE_BASE_URL"):
        config["base_url"] = os.environ["TOOLWIRE_BASE_URL"]
    provider = os.environ.get("TOOLWIRE_PROVIDER", "openai")
    if provider == "openai" and "model" not in config:
        config["model"] = "gpt-4o-mini"
    return AbstractLLM.create(provider, **config)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    prompt = " ".join(args) or "What's the weather in Paris and in Rome?"
    session = Session(make_llm(), tools=[get_weather])
    answer = session.generate(prompt)
    for message in session.messages:
        for call in message.tool_calls or []:
            print(f"tool call: {call.name}({call.arguments})  [{call.id}]")
    print(answer.content)
    print(f"tokens: {session.usage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
