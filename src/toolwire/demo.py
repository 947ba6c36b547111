"""`python -m toolwire.demo`: two tool calls in one turn, run concurrently, answered by the model.

With a live model configured it talks to it; otherwise it replays a real recorded Azure OpenAI
exchange (shipped in `toolwire/data/`) through the real wire layer, offline and without a key.

Live configuration, first match wins:
- `TOOLWIRE_DEMO_BASE_URL` (any OpenAI-compatible server, e.g. llama.cpp or Ollama; optional
  `TOOLWIRE_DEMO_MODEL`, `TOOLWIRE_DEMO_API_KEY`)
- `AZURE_OPENAI_ENDPOINT` + `AZURE_OPENAI_API_KEY` + `AZURE_OPENAI_DEPLOYMENT` (optional `OPENAI_API_VERSION`)
- `OPENAI_API_KEY` (model `TOOLWIRE_DEMO_MODEL`, default gpt-4o-mini)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from typing import Any, TextIO

from .types import GenerateResponse, Message

RECORDING = "demo_azure_parallel_tool_calls.json"
RECORDED_SYSTEM_PROMPT = "You are a helpful assistant providing weather updates."
RECORDED_PROMPT = "What is the weather in New York City and London?"
LIVE_PROMPT = "What is the weather and the local time in New York City and London right now?"

# Deterministic stand-in data: the demo must run offline, and the recorded answer quotes these values.
_WEATHER = {
    "new york city": "25 degrees and sunny",
    "new york": "25 degrees and sunny",
    "london": "15 degrees and raining",
    "paris": "18 degrees and cloudy",
}
_TIMEZONES = {
    "new york city": "America/New_York",
    "new york": "America/New_York",
    "london": "Europe/London",
    "paris": "Europe/Paris",
    "tokyo": "Asia/Tokyo",
}


def get_weather(location: str) -> str:
    """Get the current weather for a city.

    Args:
        location: The city name, e.g. "London".
    """
    return _WEATHER.get(location.strip().lower(), "20 degrees and clear")


def get_local_time(city: str) -> str:
    """Get the current local time in a city.

    Args:
        city: The city name, e.g. "Tokyo".
    """
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = _TIMEZONES.get(city.strip().lower())
    if name is None:
        return f"unknown city {city!r}; known: {', '.join(sorted(_TIMEZONES))}"
    try:
        return datetime.now(ZoneInfo(name)).strftime("%H:%M (%Z)")
    except ZoneInfoNotFoundError:
        return f"the time zone database has no {name}"


def _live_llm(args: argparse.Namespace) -> tuple[Any, str] | None:
    from . import AbstractLLM

    base_url = args.base_url or os.environ.get("TOOLWIRE_DEMO_BASE_URL")
    if base_url:
        model = args.model or os.environ.get("TOOLWIRE_DEMO_MODEL") or "local-model"
        llm = AbstractLLM.create(
            "openai_compatible",
            base_url=base_url,
            model=model,
            api_key=os.environ.get("TOOLWIRE_DEMO_API_KEY"),
        )
        return llm, f"OpenAI-compatible server at {base_url} (model {model})"
    azure = [
        os.environ.get(n)
        for n in ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_DEPLOYMENT")
    ]
    if all(azure):
        azure_llm = AbstractLLM.create("azure_openai")
        return azure_llm, f"Azure OpenAI deployment {azure[2]} at {azure[0]}"
    if os.environ.get("OPENAI_API_KEY"):
        model = args.model or os.environ.get("TOOLWIRE_DEMO_MODEL") or "gpt-4o-mini"
        return AbstractLLM.create("openai", model=model), f"OpenAI ({model})"
    return None


def _format_call(name: str, arguments: dict[str, Any]) -> str:
    inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in arguments.items())
    return f"{name}({inner})"


def print_exchange(messages: Sequence[Message], response: GenerateResponse, out: TextIO) -> None:
    """The conversation, readably: prompts, each tool-calling turn, each result, the answer."""
    for message in messages:
        if message.role == "system":
            out.write(f"  system    │ {message.content}\n")
        elif message.role == "user":
            out.write(f"  user      │ {message.content}\n")
        elif message.role == "assistant" and message.tool_calls:
            count = len(message.tool_calls)
            out.write(f"  assistant │ asks for {count} tool call{'s' if count != 1 else ''} in one turn:\n")
            for call in message.tool_calls:
                out.write(f"            │   → {_format_call(call.name, call.arguments)}   [{call.id}]\n")
        elif message.role == "tool":
            out.write("  tools     │ ran concurrently; results sent back in one turn:\n")
            for result in message.tool_results or ():
                status = "error: " if result.error else ""
                out.write(
                    f"            │   ← {result.name}: {status}{result.output_text()}   [{result.call_id}]\n"
                )
        elif message.role == "assistant":
            text = (message.text or "").replace("\n", "\n            │ ")
            out.write(f"  assistant │ {text}\n")
    usage = response.usage
    if usage:
        out.write(
            f"\n  finish_reason={response.finish_reason}  model={response.model}  tokens (last turn): "
            f"{usage['prompt_tokens']} in / {usage['completion_tokens']} out\n"
        )


def run_replay(out: TextIO) -> GenerateResponse:
    from . import AbstractLLM, Session, testing, tool

    recording = resources.files("toolwire.data").joinpath(RECORDING)
    document = json.loads(recording.read_text(encoding="utf-8"))
    out.write("toolwire demo: REPLAY of a real recorded Azure OpenAI exchange (offline, no key needed)\n")
    out.write(f"  recording: toolwire/data/{RECORDING}\n  source:    {document['source'].split(';')[0]}\n\n")
    with testing.replay(str(recording)):
        llm = AbstractLLM.create(
            "azure_openai",
            azure_endpoint="https://test.openai.azure.com",
            deployment="test-azure-deployment",
            api_version="2023-03-15-preview",
            api_key="replay-no-key",
        )
        # The recorded request offered one strict tool; offering the same keeps the replay honest.
        weather = tool(strict=True)(get_weather)
        session = Session(llm, tools=[weather], system_prompt=RECORDED_SYSTEM_PROMPT)
        response: GenerateResponse = session.generate(RECORDED_PROMPT)
    print_exchange(session.messages, response, out)
    out.write(
        "\nThis was a replay. To run it against a live model, set one of:\n"
        "  TOOLWIRE_DEMO_BASE_URL=http://127.0.0.1:8080/v1  (OpenAI-compatible server: llama.cpp, Ollama)\n"
        "  AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY and AZURE_OPENAI_DEPLOYMENT\n"
        "  OPENAI_API_KEY\n"
        "and run `python -m toolwire.demo` again.\n"
    )
    return response


def run_live(llm: Any, description: str, out: TextIO) -> GenerateResponse:
    from . import Session

    out.write(f"toolwire demo: LIVE against {description}\n\n")
    session = Session(
        llm,
        tools=[get_weather, get_local_time],
        system_prompt="You answer with the tools. Call every tool you need in the same turn.",
        max_tokens=512,
    )
    response: GenerateResponse = session.generate(LIVE_PROMPT)
    print_exchange(session.messages, response, out)
    return response


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m toolwire.demo",
        description="Two tool calls in one turn, run concurrently, answered by the model. "
        "Live when a model is configured (see the module docstring), otherwise a replay.",
    )
    parser.add_argument(
        "--replay", action="store_true", help="replay the recording even if a live model is configured"
    )
    parser.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1")
    parser.add_argument("--model", help="model name for a live run")
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    from .errors import ToolwireError

    try:
        live = None if args.replay else _live_llm(args)
        if live is None:
            run_replay(stream)
        else:
            run_live(*live, stream)
    except ToolwireError as exc:
        print(f"toolwire demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
