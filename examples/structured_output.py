"""Structured output: the answer validated into a Pydantic model, after the tools have run.

    OPENAI_API_KEY=sk-... python examples/structured_output.py "Paris"

Same provider settings as basic_usage.py (TOOLWIRE_PROVIDER, TOOLWIRE_MODEL, TOOLWIRE_BASE_URL).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pydantic import BaseModel, Field

from toolwire import AbstractLLM, Session, StructuredOutputError


class CityReport(BaseModel):
    """What the model must answer with."""

    city: str
    country: str
    temperature_celsius: float = Field(description="Current temperature, from the weather tool")
    summary: str = Field(description="One sentence for a traveller")


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: City name, e.g. "Paris".
    """
    return f"18 degrees celsius and cloudy in {city}"


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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    city = " ".join(args) or "Paris"
    session = Session(make_llm(), tools=[get_weather], response_format=CityReport)
    try:
        answer = session.generate(f"Write a short weather report for {city}.")
    except StructuredOutputError as exc:
        print(f"no valid report after {exc.attempts} attempts: {exc.validation_error}", file=sys.stderr)
        return 1
    report = answer.parsed
    assert isinstance(report, CityReport)
    print(report.model_dump_json(indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
