"""Every tool call of a turn runs concurrently: three slow tools cost one tool's time, not three.

    OPENAI_API_KEY=sk-... python examples/parallel_tools.py

The tools below each take 0.5 s (one async, two blocking); the model asks for several in one turn
and toolwire runs them at once (async tools as tasks, blocking ones in a thread pool), then sends
every result back in one request. Same provider settings as basic_usage.py (TOOLWIRE_PROVIDER, ...).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from toolwire import AbstractLLM, Session, ToolResultEvent


async def get_weather(city: str) -> str:
    """Current weather for a city (an async tool: a network call in real life).

    Args:
        city: City name, e.g. "Paris".
    """
    await asyncio.sleep(0.5)
    return f"18 degrees and cloudy in {city}"


def get_local_time(city: str) -> str:
    """Current local time in a city (a blocking tool: runs in a worker thread).

    Args:
        city: City name, e.g. "Tokyo".
    """
    time.sleep(0.5)
    return "14:05"


def get_population(city: str) -> int:
    """Number of inhabitants of a city (blocking).

    Args:
        city: City name.
    """
    time.sleep(0.5)
    return 2_102_650


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


async def run(prompt: str) -> int:
    session = Session(make_llm(), tools=[get_weather, get_local_time, get_population])
    results = []
    async for event in session.astream(prompt):
        if isinstance(event, ToolResultEvent):
            results.append(event.result)
            print(f"{event.result.name}: {event.result.output_text()}  ({event.result.duration:.2f}s)")
    # the results of one turn are reported together; their durations overlap
    if results:
        total = sum(r.duration or 0.0 for r in results)
        print(f"{len(results)} tool calls, {total:.2f}s of tool time")
    print(session.messages[-1].content)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    prompt = " ".join(args) or "Weather, local time and population of Paris?"
    started = time.perf_counter()
    code = asyncio.run(run(prompt))
    print(f"wall time: {time.perf_counter() - started:.2f}s")
    return code


if __name__ == "__main__":
    sys.exit(main())
