"""toolwire against a real model: Qwen2.5-Coder-1.5B served by llama.cpp (../shared/local-llm).

The recorded fixtures prove we parse what providers sent once; these prove the whole path (request
building, HTTP, streaming assembly, argument parsing, history rendering) against a live server that
really generates tool calls. Model quirks shape the tests (../shared/local-llm/README.md):
- every request sends `max_tokens` (a confused model can otherwise fill the 8k context for minutes);
- every tool and parameter has a description (the server answers HTTP 500 without one);
- the follow-up after a tool result omits `tools` (with them the model calls the tool again);
- the model never emits two calls in one turn, so multi-call handling is tested on recorded fixtures;
- one slot, CPU only: requests run one at a time and each takes seconds, so the file keeps to
  about ten requests in all.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest

from toolwire import (
    GenerateResponse,
    Message,
    ToolCall,
    ToolDefinition,
    ToolResult,
    execute_tool_calls,
    function_to_tool_definition,
)

pytestmark = pytest.mark.local_llm

MAX_TOKENS = 128

WEATHER_PROMPT = "What's the weather like in Paris right now?"


def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Get the current weather for a city.

    Args:
        location: City name, e.g. Paris.
        unit: Temperature unit.
    """
    # An unusual reading, so the final answer can only contain it if the model read our result.
    return {"location": location, "temperature": 17, "unit": unit, "sky": "cloudy"}


def get_time(city: str) -> str:
    """Get the current local time in a city.

    Args:
        city: City name, e.g. Tokyo.
    """
    return "09:41"


def ask(llm: Any, messages: Any, **kwargs: Any) -> Any:
    """One request with the settings every local-model request needs (bounded and deterministic)."""
    kwargs.setdefault("max_tokens", MAX_TOKENS)
    kwargs.setdefault("temperature", 0)
    return llm.generate(messages, **kwargs)


def only_call(resp: GenerateResponse) -> ToolCall:
    assert resp.tool_calls is not None and len(resp.tool_calls) == 1, (resp.content, resp.tool_calls)
    call = resp.tool_calls[0]
    assert isinstance(call, ToolCall)
    return call


def assert_weather_call_for_paris(resp: GenerateResponse) -> ToolCall:
    assert resp.finish_reason == "tool_calls", resp
    assert resp.has_tool_calls()
    call = only_call(resp)
    assert call.name == "get_weather"
    assert call.id, "the server's call id must be kept (it pairs the tool result with the call)"
    assert call.arguments_error is None, call
    assert isinstance(call.arguments, dict)
    assert "paris" in str(call.arguments["location"]).lower(), call.arguments
    assert call.arguments.get("unit", "celsius") in ("celsius", "fahrenheit"), call.arguments
    # `arguments` is exactly what the model wrote, decoded.
    assert call.raw_arguments is not None and json.loads(call.raw_arguments) == call.arguments
    assert resp.usage is not None and resp.usage["completion_tokens"] > 0, resp.usage
    assert resp.usage["total_tokens"] == resp.usage["prompt_tokens"] + resp.usage["completion_tokens"]
    return call


def test_tool_call_chosen_and_arguments_parsed(llm: Any) -> None:
    resp = ask(llm, [{"role": "user", "content": WEATHER_PROMPT}], tools=[get_weather])

    assert isinstance(resp, GenerateResponse)
    assert_weather_call_for_paris(resp)
    assert resp.model, "the server reports its model alias"


def test_streamed_tool_call_is_assembled_from_deltas(llm: Any) -> None:
    stream = ask(llm, [{"role": "user", "content": WEATHER_PROMPT}], tools=[get_weather], stream=True)
    chunks = list(stream)

    # llama.cpp streams the arguments in many fragments; the response must be built from them.
    assert sum(1 for c in chunks if c.tool_call_deltas) > 1, chunks
    resp = stream.response
    assert isinstance(resp, GenerateResponse)
    assert_weather_call_for_paris(resp)


async def test_async_picks_the_right_tool_among_two(llm: Any) -> None:
    resp = await llm.agenerate(
        [{"role": "user", "content": "What time is it in Tokyo right now?"}],
        tools=[get_weather, get_time],
        max_tokens=MAX_TOKENS,
        temperature=0,
    )

    assert isinstance(resp, GenerateResponse)
    assert resp.finish_reason == "tool_calls", resp
    call = only_call(resp)
    assert call.name == "get_time", call
    assert call.arguments_error is None, call
    assert "tokyo" in str(call.arguments["city"]).lower(), call.arguments


def test_tool_choice_required_forces_a_call(llm: Any) -> None:
    # A greeting needs no tool; "required" must make the model call one anyway (grammar-constrained).
    resp = ask(
        llm,
        [{"role": "user", "content": "Hello! How are you today?"}],
        tools=[get_weather],
        tool_choice="required",
    )

    call = only_call(resp)
    assert call.name == "get_weather"
    assert call.arguments_error is None, call
    assert isinstance(call.arguments.get("location"), str), "the schema's required parameter is present"


def test_tool_choice_none_answers_in_text(llm: Any) -> None:
    resp = ask(llm, [{"role": "user", "content": WEATHER_PROMPT}], tools=[get_weather], tool_choice="none")

    assert not resp.has_tool_calls(), resp.tool_calls
    assert resp.finish_reason in ("stop", "length"), resp
    assert isinstance(resp.content, str) and resp.content.strip()


def test_round_trip_tool_result_then_final_answer(llm: Any) -> None:
    history: list[Any] = [{"role": "user", "content": WEATHER_PROMPT}]
    first = ask(llm, history, tools=[get_weather])
    call = assert_weather_call_for_paris(first)

    output = get_weather(**call.arguments)
    history.append(first.to_message())
    history.append(Message(role="tool", tool_results=[ToolResult(call.id, call.name, output)]))
    # Without `tools` on the follow-up: with them this model calls the tool again instead of answering.
    final = ask(llm, history)

    assert not final.has_tool_calls(), final.tool_calls
    assert final.finish_reason == "stop", final
    assert final.content is not None
    assert "17" in final.content, f"the answer must use the tool's result: {final.content!r}"


def test_invented_tool_name_is_rejected_by_execution(llm: Any) -> None:
    # The server does not check names against `tools`, and this model invents a function when no
    # offered tool fits (at temperature 0 it asks for `send_email` here; README: `get_math`, `say_hi`).
    resp = ask(
        llm, [{"role": "user", "content": "Send an email to Bob saying hi."}], tools=[get_weather, get_time]
    )

    call = only_call(resp)
    assert call.name not in ("get_weather", "get_time"), (
        f"the model called an offered tool, so there is no invented name to reject: {call}"
    )
    ran: list[str] = []

    def spy(offered: Any) -> ToolDefinition:
        """The offered tool's definition, with a function that records that it ran."""
        real = function_to_tool_definition(offered)

        def run(**arguments: Any) -> str:
            ran.append(real.name)
            return "ok"

        return ToolDefinition(real.name, real.description, real.parameters, function=run)

    results = execute_tool_calls(resp.tool_calls, [spy(get_weather), spy(get_time)])

    assert len(results) == 1
    result = results[0]
    assert isinstance(result, ToolResult)
    assert result.call_id == call.id and result.name == call.name
    assert result.error and not result.success, result
    assert call.name in result.error, f"the error must tell the model which name was wrong: {result.error!r}"
    assert ran == [], "no offered tool may run in place of an unknown one"
