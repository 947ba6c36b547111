"""Every recorded Mistral exchange (../shared/fixtures/recorded/mistral) replayed through the public
API: the request we send is compared with the recorded one and validated against Mistral's rules,
the normalized response is asserted field by field against the `mistralai` SDK's reading of the same
body (the oracle), and follow-up turns must carry every tool result with the right id.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mistralai.client import models as mm

from support.mistral_shapes import MISTRAL_ID, mistral_request_problems, sdk_tool_calls
from support.replay import Replay, ReplayFactory, fixture_path, fixtures_root
from toolwire.providers.registry import AbstractLLM
from toolwire.types import GenerateResponse, Message, ToolResult

Mode = str  # "sync" | "async"


def _llm(r: Replay, model: str) -> Any:
    return AbstractLLM.create(
        "mistral", model=model, api_key="test", http_client=r.client, async_http_client=r.async_client
    )


def _recorded_request(r: Replay, index: int) -> dict[str, Any]:
    request = r.cassette.interactions[index].request
    assert request is not None and isinstance(request.json, dict)
    return request.json


def _sent(r: Replay, index: int) -> dict[str, Any]:
    body = r.requests[index].json
    assert isinstance(body, dict)
    return body


def _tools(recorded: dict[str, Any]) -> list[dict[str, Any]]:
    # pydantic-ai recorded its tools without "type"; Mistral's SDK defaults it to "function"
    return [{"type": "function", **tool} for tool in recorded["tools"]]


async def _generate(llm: Any, mode: Mode, messages: list[Message], **kwargs: Any) -> GenerateResponse:
    if mode == "async":
        response: GenerateResponse = await llm.agenerate(messages, **kwargs)
    else:
        response = llm.generate(messages, **kwargs)
    return response


def _assert_matches_sdk(response: GenerateResponse, body: dict[str, Any]) -> None:
    sdk = mm.ChatCompletionResponse.model_validate(body)
    sdk_message = sdk.choices[0].message
    assert sdk_message is not None
    calls = [(c.id, c.name, c.arguments) for c in response.tool_calls or ()]
    assert calls == sdk_tool_calls(sdk)
    for call in response.tool_calls or ():
        assert call.arguments_error is None
        assert MISTRAL_ID.fullmatch(call.id)  # Mistral's ids are kept as sent
    # an empty text beside tool calls is normalized to None, as for every provider
    assert response.content == (sdk_message.content or None)
    assert response.id == sdk.id
    assert response.model == sdk.model
    assert response.usage == {
        "prompt_tokens": sdk.usage.prompt_tokens,
        "completion_tokens": sdk.usage.completion_tokens,
        "total_tokens": sdk.usage.total_tokens,
    }
    assert response.finish_reason == sdk.choices[0].finish_reason
    assert response.provider == "mistral"
    assert response.raw_response == body


def _assert_request_matches(sent: dict[str, Any], recorded: dict[str, Any]) -> None:
    """What we sent carries the recorded request's meaning (pydantic-ai also sent n/top_p/stream:
    false, which are its defaults, and content [] for a tool-call-only turn, which we omit)."""
    assert mistral_request_problems(sent) == []
    assert sent["model"] == recorded["model"]
    assert sent.get("tool_choice") == recorded.get("tool_choice")
    assert [t["function"] for t in sent["tools"]] == [t["function"] for t in recorded["tools"]]
    assert len(sent["messages"]) == len(recorded["messages"])
    for ours, theirs in zip(sent["messages"], recorded["messages"]):
        assert ours["role"] == theirs["role"]
        if ours["role"] == "assistant":
            assert [(c["id"], c["function"]) for c in ours["tool_calls"]] == [
                (c["id"], c["function"]) for c in theirs["tool_calls"]
            ]
        else:
            assert ours["content"] == theirs["content"]
        assert ours.get("tool_call_id") == theirs.get("tool_call_id")


ROUND_TRIPS = [
    # file, tool_choice we pass, the tool result we answer with
    ("mistral_single_tool_call_and_tool_result.yaml", "auto", "Sunny, 22C in Paris"),
    ("mistral_tools_plus_output_tool.yaml", "required", "Sunny, 22C in Paris"),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("name", "choice", "result"), ROUND_TRIPS)
async def test_tool_call_and_follow_up(
    replay: ReplayFactory, mode: Mode, name: str, choice: str, result: str
) -> None:
    r = replay("mistral", name)
    first = _recorded_request(r, 0)
    llm = _llm(r, first["model"])
    tools = _tools(first)
    prompt = first["messages"][0]["content"]
    messages = [Message(role="user", content=prompt)]

    response = await _generate(llm, mode, messages, tools=tools, tool_choice=choice)
    _assert_request_matches(_sent(r, 0), first)
    _assert_matches_sdk(response, r.cassette.interactions[0].response.json())
    assert response.finish_reason == "tool_calls"
    assert response.tool_calls is not None
    call = response.tool_calls[0]
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})

    messages += [
        response.to_message(),
        Message(role="tool", tool_results=[ToolResult(call_id=call.id, name=call.name, output=result)]),
    ]
    final = await _generate(llm, mode, messages, tools=tools, tool_choice=choice)
    sent = _sent(r, 1)
    _assert_request_matches(sent, _recorded_request(r, 1))
    assert sent["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": result,
        "name": "get_weather",
    }
    _assert_matches_sdk(final, r.cassette.interactions[1].response.json())
    r.assert_all_used()


def test_single_tool_call_final_answer_fields(replay: ReplayFactory) -> None:
    r = replay("mistral", "mistral_single_tool_call_and_tool_result.yaml")
    llm = _llm(r, "mistral-large-latest")
    tools = _tools(_recorded_request(r, 0))
    messages = [Message(role="user", content="What's the weather in Paris?")]
    first = llm.generate(messages, tools=tools, tool_choice="auto")
    assert first.content is None  # Mistral answers content "" beside tool calls
    assert first.tool_calls is not None and [c.id for c in first.tool_calls] == ["KikbB849t"]
    assert first.usage == {"prompt_tokens": 77, "completion_tokens": 12, "total_tokens": 89}
    messages += [
        first.to_message(),
        Message(role="tool", tool_results=[ToolResult("KikbB849t", "get_weather", "Sunny, 22C in Paris")]),
    ]
    final = llm.generate(messages, tools=tools, tool_choice="auto")
    assert final.content is not None and final.content.startswith("The current weather in **Paris**")
    assert final.tool_calls is None
    assert (final.finish_reason, final.id) == ("stop", "2e77662f87424f7a824dd2e9922e89da")
    assert final.usage == {"prompt_tokens": 100, "completion_tokens": 29, "total_tokens": 129}


def test_output_tool_second_turn_arguments(replay: ReplayFactory) -> None:
    r = replay("mistral", "mistral_tools_plus_output_tool.yaml")
    llm = _llm(r, "mistral-large-latest")
    tools = _tools(_recorded_request(r, 0))
    messages = [Message(role="user", content="Get weather for Paris and summarize")]
    first = llm.generate(messages, tools=tools, tool_choice="required")
    assert _sent(r, 0)["tool_choice"] == "any"
    assert first.tool_calls is not None
    messages += [
        first.to_message(),
        Message(role="tool", tool_results=[ToolResult("rHU0eZiMa", "get_weather", "Sunny, 22C in Paris")]),
    ]
    second = llm.generate(messages, tools=tools, tool_choice="any")
    assert second.tool_calls is not None
    (call,) = second.tool_calls
    assert (call.id, call.name) == ("tfn2AP3zy", "final_result")
    assert call.arguments["city"] == "Paris"
    assert call.arguments["summary"].startswith("The current weather in Paris is sunny")
    assert second.finish_reason == "tool_calls"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("choice", ["required", "any"])
async def test_tool_choice_any(replay: ReplayFactory, mode: Mode, choice: str) -> None:
    r = replay("mistral", "mistral_tool_choice_any.yaml")
    recorded = _recorded_request(r, 0)
    llm = _llm(r, recorded["model"])
    response = await _generate(
        llm,
        mode,
        [Message(role="user", content="What's the weather in Paris?")],
        tools=_tools(recorded),
        tool_choice=choice,
    )
    _assert_request_matches(_sent(r, 0), recorded)
    assert _sent(r, 0)["tool_choice"] == "any"
    _assert_matches_sdk(response, r.cassette.interactions[0].response.json())
    assert response.tool_calls is not None
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("pcZFHqej8", "get_weather", {"city": "Paris"})
    ]
    r.assert_all_used()


def _sdk_stream_calls(sse: str) -> tuple[list[tuple[str | None, str, Any]], Any]:
    """The stream as the mistralai SDK reads it: each event a CompletionChunk."""
    calls: list[tuple[str | None, str, Any]] = []
    usage = None
    for line in sse.splitlines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = mm.CompletionChunk.model_validate_json(line[len("data: ") :])
        usage = chunk.usage or usage
        for choice in chunk.choices:
            for call in choice.delta.tool_calls or ():
                arguments = call.function.arguments
                calls.append(
                    (
                        call.id,
                        call.function.name,
                        arguments if isinstance(arguments, dict) else json.loads(arguments),
                    )
                )
    return calls, usage


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_tool_call_stream(replay: ReplayFactory, mode: Mode) -> None:
    r = replay("mistral", "mistral_tool_call_stream.yaml")
    recorded = _recorded_request(r, 0)
    llm = _llm(r, recorded["model"])
    kwargs: dict[str, Any] = {
        "tools": [{"type": "function", **t} if "type" not in t else t for t in recorded["tools"]],
        "tool_choice": "required",
        "temperature": 0.7,
        "top_p": 1.0,
        "safe_prompt": False,
        "stream": True,
    }
    messages = [Message(role="user", content=recorded["messages"][0]["content"])]
    if mode == "async":
        stream = await llm.agenerate(messages, **kwargs)
        chunks = [chunk async for chunk in stream]
    else:
        stream = llm.generate(messages, **kwargs)
        chunks = list(stream)
    response = stream.response

    sent = _sent(r, 0)
    assert mistral_request_problems(sent) == []
    assert "stream_options" not in sent
    for key in ("model", "messages", "tools", "tool_choice", "temperature", "top_p", "safe_prompt", "stream"):
        assert sent[key] == recorded[key], key

    sdk_calls, sdk_usage = _sdk_stream_calls(r.cassette.interactions[0].response.text)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls or ()] == sdk_calls
    assert sdk_calls == [("EscTeQY62", "get_weather", {"city": "San Francisco"})]
    assert response.usage == {
        "prompt_tokens": sdk_usage.prompt_tokens,
        "completion_tokens": sdk_usage.completion_tokens,
        "total_tokens": sdk_usage.total_tokens,
    }
    assert response.finish_reason == "tool_calls"
    assert response.content is None
    assert (response.id, response.model) == ("8d641f96950f401892c98eff1e4335cd", "mistral-small-latest")
    assert any(c.tool_call_deltas for c in chunks)
    assert chunks[-1].finish_reason == "tool_calls"
    r.assert_all_used()


def test_every_recorded_mistral_file_is_replayed_here() -> None:
    # A new recording must get a test: fail when the directory holds a file this module never names.
    covered = {name for name, _, _ in ROUND_TRIPS} | {
        "mistral_tool_choice_any.yaml",
        "mistral_tool_call_stream.yaml",
    }
    on_disk = {p.name for p in Path(fixtures_root(), "mistral").iterdir()}
    assert on_disk == covered
    for name in covered:
        assert fixture_path("mistral", name).is_file()
