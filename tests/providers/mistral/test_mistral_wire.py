"""Mistral's wire rules, offline: the pure translation functions and the provider through a mock
transport. `mistral_request_problems` is the request validator the replay and cross-provider tests
share: the `mistralai` SDK's request models (the oracle) plus what Mistral's server enforces and
the SDK does not (extra_forbidden on every object, 9-character ids, calls and results paired).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mistralai.client import models as mm

from support.mistral_shapes import MISTRAL_ID, mistral_request_problems, sdk_tool_calls
from toolwire._framing import SSEEvent
from toolwire.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextLengthError,
    InvalidRequestError,
    RateLimitError,
)
from toolwire.providers.mistral import (
    MistralProvider,
    MistralStreamState,
    mistral_tool_call_id,
    parse_chat_completion,
)
from toolwire.providers.registry import AbstractLLM, provider_capabilities
from toolwire.tools.standardize import standardize_tool_response
from toolwire.types import Capability, Message, ResponseFormat, ToolCall, ToolResult

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


# -- ids -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "foreign",
    ["call_abc123XYZ", "toolu_01A09q90qw90lq917835lq9", "call_0fypS1hVX", "", "a-b_c.d", "KikbB849", "é" * 9],
)
def test_foreign_ids_become_nine_alphanumerics_deterministically(foreign: str) -> None:
    mapped = mistral_tool_call_id(foreign)
    assert MISTRAL_ID.fullmatch(mapped)
    assert mapped == mistral_tool_call_id(foreign)
    assert mapped != foreign


@pytest.mark.parametrize("valid", ["KikbB849t", "EscTeQY62", "000000000", "ZZZZZZZZZ"])
def test_valid_ids_are_kept(valid: str) -> None:
    assert mistral_tool_call_id(valid) == valid


@given(st.lists(st.text(min_size=0, max_size=40), min_size=2, max_size=40, unique=True))
def test_distinct_ids_stay_distinct(ids: list[str]) -> None:
    mapped = [mistral_tool_call_id(i) for i in ids]
    assert all(MISTRAL_ID.fullmatch(m) for m in mapped)
    assert len(set(mapped)) == len(ids)


# -- a provider behind a capturing mock ----------------------------------------------------------
Handler = Callable[[httpx2.Request], httpx2.Response]


def _final_text(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200,
        json={
            "id": "cmpl1",
            "object": "chat.completion",
            "created": 1,
            "model": "mistral-large-latest",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        },
    )


def _llm(handler: Handler = _final_text, **config: Any) -> tuple[MistralProvider, list[httpx2.Request]]:
    sent: list[httpx2.Request] = []

    def capture(request: httpx2.Request) -> httpx2.Response:
        sent.append(request)
        return handler(request)

    transport = httpx2.MockTransport(capture)
    config.setdefault("model", "mistral-large-latest")
    llm = AbstractLLM.create(
        "mistral",
        api_key=config.pop("api_key", "test-key-123456"),
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
        **config,
    )
    assert isinstance(llm, MistralProvider)
    return llm, sent


def _body(request: httpx2.Request) -> dict[str, Any]:
    data = json.loads(request.content)
    assert isinstance(data, dict)
    return data


def _history(call_ids: list[str], result_order: list[int] | None = None) -> list[Message]:
    calls = [
        ToolCall(id=cid, name="get_weather", arguments={"city": f"c{i}"}) for i, cid in enumerate(call_ids)
    ]
    order = result_order if result_order is not None else list(range(len(call_ids)))
    return [
        Message(role="system", content="be brief"),
        Message(role="user", content="weather?", name="alice"),
        Message(role="assistant", content=None, tool_calls=calls),
        Message(
            role="tool",
            tool_results=[
                ToolResult(call_id=call_ids[i], name="get_weather", output=f"sunny {i}") for i in order
            ],
        ),
    ]


def test_foreign_history_ids_are_mapped_consistently_and_results_follow_call_order() -> None:
    llm, sent = _llm()
    ids = ["call_AAA", "toolu_01XyZ", "pcZFHqej8"]
    llm.generate(_history(ids, result_order=[2, 0, 1]), tools=[WEATHER])
    body = _body(sent[0])
    assert mistral_request_problems(body) == []
    assistant = body["messages"][2]
    mapped = [c["id"] for c in assistant["tool_calls"]]
    assert mapped == [mistral_tool_call_id(i) for i in ids]
    assert mapped[2] == "pcZFHqej8"  # already valid: kept
    tools = body["messages"][3:]
    assert [m["tool_call_id"] for m in tools] == mapped
    assert [m["content"] for m in tools] == ["sunny 0", "sunny 1", "sunny 2"]
    assert all(m["name"] == "get_weather" for m in tools)
    assert "content" not in assistant  # the SDK omits it for a tool-call-only turn
    assert "name" not in body["messages"][1]  # 422 extra_forbidden on a user message


def test_duplicate_foreign_ids_pair_results_in_order() -> None:
    # A history from a provider that gives no ids can repeat one: results pair up by position.
    llm, sent = _llm()
    llm.generate(_history(["", ""]), tools=[WEATHER])
    body = _body(sent[0])
    assert mistral_request_problems(body) == []
    mapped = [c["id"] for c in body["messages"][2]["tool_calls"]]
    assert len(set(mapped)) == 2
    assert [m["tool_call_id"] for m in body["messages"][3:]] == mapped
    assert [m["content"] for m in body["messages"][3:]] == ["sunny 0", "sunny 1"]


def test_the_same_foreign_id_maps_the_same_way_in_a_later_turn() -> None:
    llm, sent = _llm()
    history = _history(["call_1"])
    history += [
        Message(role="assistant", tool_calls=[ToolCall(id="call_2", name="get_weather", arguments={})]),
        Message(role="tool", tool_results=[ToolResult(call_id="call_2", name="get_weather", output="x")]),
    ]
    llm.generate(history, tools=[WEATHER])
    body = _body(sent[0])
    assert mistral_request_problems(body) == []
    assert body["messages"][5]["tool_call_id"] == mistral_tool_call_id("call_2")


def test_a_result_for_an_unknown_call_is_caught_by_the_validator() -> None:
    # The validator itself must fail on Mistral's "Unexpected tool call id" case.
    llm, sent = _llm()
    history = _history(["call_1"])
    history[3] = Message(
        role="tool", tool_results=[ToolResult(call_id="other", name="get_weather", output="x")]
    )
    llm.generate(history, tools=[WEATHER])
    problems = mistral_request_problems(_body(sent[0]))
    assert any("Unexpected tool call id" in p for p in problems)


def test_assistant_text_with_tool_calls_is_kept() -> None:
    llm, sent = _llm()
    history = _history(["KikbB849t"])
    history[2].content = "Let me check."
    llm.generate(history, tools=[WEATHER])
    body = _body(sent[0])
    assert body["messages"][2]["content"] == "Let me check."
    assert mistral_request_problems(body) == []


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("required", "any"),
        ("any", "any"),
        ("auto", "auto"),
        ("none", "none"),
        ("get_time", {"type": "function", "function": {"name": "get_time"}}),
        (
            {"type": "function", "function": {"name": "get_time"}},
            {"type": "function", "function": {"name": "get_time"}},
        ),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    llm, sent = _llm()
    llm.generate("hi", tools=[WEATHER, TIME], tool_choice=choice)
    body = _body(sent[0])
    assert body["tool_choice"] == expected
    assert mistral_request_problems(body) == []


def test_parallel_tool_calls_sampling_and_passthrough() -> None:
    llm, sent = _llm()
    llm.generate(
        "hi",
        tools=[WEATHER],
        parallel_tool_calls=False,
        max_tokens=64,
        temperature=0.2,
        top_p=0.9,
        safe_prompt=True,
        random_seed=7,
    )
    body = _body(sent[0])
    assert body["parallel_tool_calls"] is False
    assert body["max_tokens"] == 64
    assert "max_completion_tokens" not in body
    assert (body["temperature"], body["top_p"], body["safe_prompt"], body["random_seed"]) == (
        0.2,
        0.9,
        True,
        7,
    )
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert mistral_request_problems(body) == []


def test_no_parallel_tool_calls_without_tools() -> None:
    llm, sent = _llm()
    llm.generate("hi", parallel_tool_calls=True)
    assert "parallel_tool_calls" not in _body(sent[0])


def test_stream_sends_no_stream_options() -> None:
    # Mistral answers 422 extra_forbidden to stream_options; usage arrives in the last chunk anyway.
    def sse(request: httpx2.Request) -> httpx2.Response:
        lines = [
            {
                "id": "s1",
                "model": "m",
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": "he"}}],
            },
            {
                "id": "s1",
                "model": "m",
                "choices": [{"index": 0, "delta": {"content": "llo"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            },
        ]
        text = "".join(f"data: {json.dumps(x)}\n\n" for x in lines) + "data: [DONE]\n\n"
        return httpx2.Response(200, content=text.encode(), headers={"content-type": "text/event-stream"})

    llm, sent = _llm(sse)
    stream = llm.generate("hi", stream=True, max_tokens=5)
    response = stream.response
    body = _body(sent[0])
    assert body["stream"] is True
    assert "stream_options" not in body
    assert mistral_request_problems(body) == []
    assert (response.content, response.finish_reason) == ("hello", "stop")
    assert response.usage == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


class City(pydantic.BaseModel):
    city: str
    summary: str


class Trip(pydantic.BaseModel):
    origin: City
    stops: list[City]


def test_structured_output_uses_json_schema_with_inlined_refs() -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        content = json.dumps({"origin": {"city": "Paris", "summary": "s"}, "stops": []})
        return httpx2.Response(
            200,
            json={
                "id": "x",
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
            },
        )

    llm, sent = _llm(answer)
    response = llm.generate("plan", response_format=Trip)
    body = _body(sent[0])
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Trip"
    assert fmt["json_schema"]["strict"] is True
    assert "$ref" not in json.dumps(fmt["json_schema"]["schema"])
    assert mistral_request_problems(body) == []
    assert isinstance(response.parsed, Trip)
    assert response.parsed.origin.city == "Paris"


def test_json_mode() -> None:
    llm, sent = _llm()
    llm.generate("json please", response_format=ResponseFormat.JSON)
    assert _body(sent[0])["response_format"] == {"type": "json_object"}


# -- responses -----------------------------------------------------------------------------------
MAGISTRAL: dict[str, Any] = {
    "id": "m1",
    "object": "chat.completion",
    "created": 1,
    "model": "magistral-medium-latest",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": [{"type": "text", "text": "I should call the tool."}]},
                    {"type": "text", "text": "Checking."},
                ],
                "tool_calls": [
                    {"id": "Ab3dE6gH9", "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'}}
                ],
            },
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
}


def test_thinking_chunks_are_kept_apart_from_the_text() -> None:
    sdk = mm.ChatCompletionResponse.model_validate(MAGISTRAL)
    response = parse_chat_completion(MAGISTRAL)
    assert response.content == "Checking."
    assert response.provider_data == {
        "mistral": {"thinking": [[{"type": "text", "text": "I should call the tool."}]]}
    }
    assert response.tool_calls is not None
    assert sdk_tool_calls(sdk) == [(c.id, c.name, c.arguments) for c in response.tool_calls]
    assert response.raw_response is not None
    assert (
        response.raw_response["choices"][0]["message"]["content"]
        == MAGISTRAL["choices"][0]["message"]["content"]
    )


def test_thinking_is_not_echoed_back_to_mistral() -> None:
    llm, sent = _llm()
    history: list[Message] = [
        Message(role="user", content="weather in Lyon?"),
        parse_chat_completion(MAGISTRAL).to_message(),
    ]
    history.append(
        Message(
            role="tool", tool_results=[ToolResult(call_id="Ab3dE6gH9", name="get_weather", output="rain")]
        )
    )
    llm.generate(history, tools=[WEATHER])
    body = _body(sent[0])
    assert body["messages"][1]["content"] == "Checking."
    assert "thinking" not in json.dumps(body)
    assert mistral_request_problems(body) == []


def test_stream_with_thinking_chunks() -> None:
    state = MistralStreamState()
    events = [
        {
            "id": "s",
            "model": "magistral",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]}],
                    },
                }
            ],
        },
        {"id": "s", "choices": [{"index": 0, "delta": {"content": [{"type": "text", "text": "Hi"}]}}]},
        {"id": "s", "choices": [{"index": 0, "delta": {"content": " there"}, "finish_reason": "stop"}]},
    ]
    chunks = [c for e in events for c in state.feed(SSEEvent(None, json.dumps(e)))]
    state.feed(SSEEvent(None, "[DONE]"))
    assert [c.content for c in chunks if c.content] == ["Hi", " there"]
    result = state.result()
    assert result.content == "Hi there"
    assert result.provider_data == {"mistral": {"thinking": [[{"type": "text", "text": "hmm"}]]}}


def test_standardize_tool_response_reads_mistral_bodies_and_sdk_objects() -> None:
    sdk = mm.ChatCompletionResponse.model_validate(MAGISTRAL)
    for source in (MAGISTRAL, sdk):
        calls = standardize_tool_response(source, "mistral")
        assert [(c.id, c.name, c.arguments) for c in calls] == [
            ("Ab3dE6gH9", "get_weather", {"city": "Lyon"})
        ]


# -- errors --------------------------------------------------------------------------------------
def _error(status: int, payload: Any, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(status, json=payload, headers=headers or {})

    return handler


def test_422_extra_forbidden_is_an_invalid_request_naming_the_field() -> None:
    payload = {
        "object": "error",
        "message": {
            "detail": [
                {
                    "type": "extra_forbidden",
                    "loc": ["body", "stream_options", "include_usage"],
                    "msg": "Extra inputs are not permitted",
                    "input": True,
                }
            ]
        },
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    llm, _ = _llm(_error(422, payload, {"mistral-correlation-id": "corr-1"}), max_retries=0)
    with pytest.raises(InvalidRequestError) as info:
        llm.generate("hi")
    assert "body.stream_options.include_usage: Extra inputs are not permitted" in str(info.value)
    assert info.value.status_code == 422
    assert info.value.request_id == "corr-1"
    assert info.value.code == "invalid_request_error"


def test_400_unexpected_tool_call_id() -> None:
    payload = {
        "object": "error",
        "message": "Unexpected tool call id pR1CHbWdz in tool results",
        "type": "invalid_request_message_order",
        "param": None,
        "code": "3230",
    }
    llm, _ = _llm(_error(400, payload), max_retries=0)
    with pytest.raises(InvalidRequestError) as info:
        llm.generate("hi")
    assert "Unexpected tool call id pR1CHbWdz" in str(info.value)
    assert info.value.code == "3230"


def test_fastapi_detail_body() -> None:
    payload = {
        "detail": [
            {"type": "extra_forbidden", "loc": ["body", "store"], "msg": "Extra inputs are not permitted"}
        ]
    }
    llm, _ = _llm(_error(422, payload), max_retries=0)
    with pytest.raises(InvalidRequestError, match=r"body\.store: Extra inputs are not permitted"):
        llm.generate("hi")


def test_401_429_and_context_length() -> None:
    llm, _ = _llm(_error(401, {"message": "Unauthorized", "request_id": "r"}), max_retries=0)
    with pytest.raises(AuthenticationError) as auth:
        llm.generate("hi")
    assert "test-key-123456" not in str(auth.value)
    llm, _ = _llm(
        _error(
            429,
            {"object": "error", "message": "Requests rate limit exceeded", "type": "rate_limited"},
            {"retry-after": "7"},
        ),
        max_retries=0,
    )
    with pytest.raises(RateLimitError) as rate:
        llm.generate("hi")
    assert rate.value.retry_after == 7
    payload = {
        "object": "error",
        "message": (
            "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 "
            "maximum context length"
        ),
        "type": "invalid_request_error",
        "code": "3051",
    }
    llm, _ = _llm(_error(400, payload), max_retries=0)
    with pytest.raises(ContextLengthError):
        llm.generate("hi")


# -- configuration -------------------------------------------------------------------------------
def test_environment_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", "env-key-abcdef")
    monkeypatch.setenv("MISTRAL_BASE_URL", "http://127.0.0.1:9/v1/")
    llm, sent = _llm(api_key=None, model="mistral-large-latest")
    llm.generate("hi")
    assert str(sent[0].url) == "http://127.0.0.1:9/v1/chat/completions"
    assert sent[0].headers["authorization"] == "Bearer env-key-abcdef"
    assert _body(sent[0])["model"] == "mistral-large-latest"
    assert "env-key-abcdef" not in repr(llm)
    monkeypatch.delenv("MISTRAL_BASE_URL")
    llm, sent = _llm(model="mistral-small-latest")
    llm.generate("hi")
    assert str(sent[0].url) == "https://api.mistral.ai/v1/chat/completions"
    assert _body(sent[0])["model"] == "mistral-small-latest"


def test_missing_key_and_unknown_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="MISTRAL_API_KEY"):
        AbstractLLM.create("mistral", model="mistral-small-latest")
    with pytest.raises(
        ConfigurationError,
        match=r"mistral: no model; pass model=\.\.\. \(e\.g\. model='mistral-large-latest'\)",
    ):
        AbstractLLM.create("mistral", api_key="k")  # no default picked silently
    with pytest.raises(ConfigurationError, match="safe_promt"):
        AbstractLLM.create("mistral", api_key="k", safe_promt=True)


async def test_async_request_matches_sync() -> None:
    llm, sent = _llm()
    history = _history(["call_x", "call_y"])
    llm.generate(history, tools=[WEATHER], tool_choice="required")
    response = await llm.agenerate(history, tools=[WEATHER], tool_choice="required")
    assert response.content == "ok"
    assert sent[0].content == sent[1].content


def test_capabilities_per_model() -> None:
    assert Capability.FUNCTION_CALLING in provider_capabilities("mistral")["mistral"]
    assert Capability.FUNCTION_CALLING not in MistralProvider.default_capabilities_for("open-mistral-7b")
    assert Capability.VISION not in MistralProvider.default_capabilities_for("codestral-latest")
    assert Capability.VISION in MistralProvider.default_capabilities_for("pixtral-large-latest")


def test_the_validator_catches_what_mistral_rejects() -> None:
    # The validator must not be vacuous: each of these is a real 422/400 seen from Mistral.
    base = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert mistral_request_problems(base) == []
    assert mistral_request_problems({**base, "stream": True, "stream_options": {"include_usage": True}}) == [
        "body.stream_options: extra_forbidden"
    ]
    assert mistral_request_problems({**base, "max_completion_tokens": 5}) == [
        "body.max_completion_tokens: extra_forbidden"
    ]
    named = {"model": "m", "messages": [{"role": "user", "content": "hi", "name": "bob"}]}
    assert mistral_request_problems(named) == ["body.messages[0].name: extra_forbidden"]
    openai_ids = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "tool_calls": [{"id": "call_0fypS1hVX", "function": {"name": "f", "arguments": "{}"}}],
            },
            {"role": "tool", "tool_call_id": "call_0fypS1hVX", "content": "x"},
        ],
    }
    assert mistral_request_problems(openai_ids) == [
        "messages[1]: tool call id 'call_0fypS1hVX' is not 9 alphanumerics"
    ]
