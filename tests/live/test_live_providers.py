"""Live tests against the real provider APIs. Opt-in: they run only with `-m live` AND the provider's
key in the environment (never in CI, which has no network but the package registries).

    OPENAI_API_KEY=... python -m pytest -m live tests/live
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from toolwire import AbstractLLM, Session

pytestmark = pytest.mark.live

# provider -> (environment variables that must be set, create() arguments)
PROVIDERS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "openai": (("OPENAI_API_KEY",), {"model": os.environ.get("TOOLWIRE_LIVE_OPENAI_MODEL", "gpt-4o-mini")}),
    "azure_openai": (("AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_DEPLOYMENT"), {}),
    "anthropic": (
        ("ANTHROPIC_API_KEY",),
        {"model": os.environ.get("TOOLWIRE_LIVE_ANTHROPIC_MODEL", "claude-3-5-haiku-latest")},
    ),
    "gemini": (
        ("GEMINI_API_KEY",),
        {"model": os.environ.get("TOOLWIRE_LIVE_GEMINI_MODEL", "gemini-2.5-flash")},
    ),
    "mistral": (
        ("MISTRAL_API_KEY",),
        {"model": os.environ.get("TOOLWIRE_LIVE_MISTRAL_MODEL", "mistral-small-latest")},
    ),
}


def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    return {"paris": "18 degrees and cloudy", "rome": "24 degrees and sunny"}.get(city.lower(), "20 degrees")


def _llm(name: str) -> Any:
    required, config = PROVIDERS[name]
    missing = [v for v in required if not os.environ.get(v)]
    if missing:
        pytest.skip(f"live {name}: set {', '.join(missing)}")
    return AbstractLLM.create(name, **config)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_parallel_tool_calls_round_trip(name: str) -> None:
    session = Session(_llm(name), tools=[get_weather], max_turns=4)
    response = session.generate("What is the weather in Paris and in Rome? Use the tool for each city.")
    calls = [c for m in session.messages if m.tool_calls for c in m.tool_calls]
    assert {c.arguments.get("city", "").lower() for c in calls} >= {"paris", "rome"}
    assert response.content and "18" in response.content and "24" in response.content


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_streamed_tool_call(name: str) -> None:
    llm = _llm(name)
    stream = llm.generate(
        "Weather in Paris? Use the tool.", tools=[get_weather], tool_choice="required", stream=True
    )
    for _chunk in stream:
        pass
    calls = stream.response.tool_calls
    assert calls and calls[0].name == "get_weather" and calls[0].arguments_error is None
    assert stream.response.finish_reason == "tool_calls"
