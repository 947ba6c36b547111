"""Gemini translation rules, one by one (pure functions and the provider over a mock transport).

The google-genai SDK's pydantic models validate the request pieces we build.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import httpx2
import pydantic
import pytest
from google.genai import types as gtypes

from toolwire import errors
from toolwire._framing import SSEEvent
from toolwire.providers.base import ChatRequest
from toolwire.providers.gemini import (
    TURN_ORDER_FILLER,
    GeminiProvider,
    GeminiStreamState,
    gemini_contents,
    gemini_error,
    gemini_tools,
    generate_content_body,
    parse_generate_content,
)
from toolwire.providers.registry import AbstractLLM
from toolwire.tools.definition import ToolDefinition
from toolwire.tools.standardize import standardize_tool_response
from toolwire.types import Message, ResponseFormat, ToolCall, ToolResult, coerce_messages

ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMINI_BASE_URL", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*ENV, "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)


def _answer(*parts: dict[str, Any], finish: str = "STOP", **extra: Any) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": list(parts)}, "finishReason": finish, "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
        **extra,
    }


class Recorder:
    """A mock transport answering fixed bodies and keeping what was sent."""

    def __init__(self, *bodies: Any, status: int = 200, sse: bool = False) -> None:
        self.bodies = list(bodies)
        self.status = status
        self.sse = sse
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        body = self.bodies.pop(0)
        if self.sse:
            text = "".join(f"data: {json.dumps(event)}\r\n\r\n" for event in body)
            return httpx2.Response(self.status, headers={"content-type": "text/event-stream"}, text=text)
        return httpx2.Response(self.status, json=body)

    def sent(self, index: int = -1) -> dict[str, Any]:
        body = json.loads(self.requests[index].content)
        assert isinstance(body, dict)
        return body


def _provider(recorder: Recorder, **config: Any) -> Any:
    transport = httpx2.MockTransport(recorder)
    config.setdefault("api_key", "AIza-test-key-123456")
    config.setdefault("model", "gemini-2.5-flash")
    return AbstractLLM.create(
        "google",
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
        **config,
    )


def _request(messages: Any, **fields: Any) -> ChatRequest:
    return ChatRequest(messages=coerce_messages(messages), model="gemini-2.5-flash", **fields)


# -- tools ----------------------------------------------------------------------------------------
def test_tools_use_the_gemini_dialect_and_omit_empty_parameters() -> None:
    nested = ToolDefinition(
        name="book",
        description="Book a trip.",
        parameters={
            "type": "object",
            "$defs": {
                "City": {"type": "object", "title": "City", "properties": {"name": {"type": "string"}}}
            },
            "properties": {
                "city": {"$ref": "#/$defs/City"},
                "nights": {
                    "anyOf": [{"type": "integer"}, {"type": "null"}],
                    "default": None,
                    "title": "Nights",
                },
                "kind": {"const": "hotel"},
                "stars": {"enum": [3, 4, 5]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    )
    ping = ToolDefinition(name="ping", description="", parameters={"type": "object", "properties": {}})
    (tool,) = gemini_tools([nested, ping])
    book, no_args = tool["functionDeclarations"]
    assert no_args == {"name": "ping", "description": ""}  # no `parameters` at all
    assert book["parameters"] == {
        "type": "object",
        "properties": {
            "city": {"type": "object", "properties": {"name": {"type": "string"}}},
            "nights": {"type": "integer", "nullable": True},
            "kind": {"type": "string", "enum": ["hotel"]},
            # an integer enum stays integer (the model answers 4, not "4"), its values described
            "stars": {"type": "integer", "description": "Allowed values: 3, 4, 5."},
        },
        "required": ["city"],
    }
    text = json.dumps(book)
    for banned in ("$ref", "$defs", "additionalProperties", "title", "default", "const", "anyOf"):
        assert banned not in text
    validated = gtypes.Tool.model_validate(tool)  # the SDK's Schema model accepts it
    assert [d.name for d in validated.function_declarations or []] == ["book", "ping"]


def test_json_schema_mode_sends_parameters_json_schema() -> None:
    tool = ToolDefinition(
        name="f",
        description="d",
        parameters={"type": "object", "properties": {"x": {"type": ["string", "null"]}}},
    )
    (payload,) = gemini_tools([tool], json_schema=True)
    declaration = payload["functionDeclarations"][0]
    assert declaration["parametersJsonSchema"]["properties"]["x"] == {"type": ["string", "null"]}
    assert "parameters" not in declaration
    gtypes.Tool.model_validate(payload)


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        ("get_weather", {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    recorder = Recorder(_answer({"text": "ok"}))
    _provider(recorder).generate("hi", tools=[_weather_tool()], tool_choice=choice)
    body = recorder.sent()
    assert body["toolConfig"] == {"functionCallingConfig": config}
    gtypes.ToolConfig.model_validate(body["toolConfig"])


def _weather_tool() -> ToolDefinition:
    return ToolDefinition(
        name="get_weather",
        description="Weather.",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )


def test_parallel_tool_calls_is_not_sent() -> None:
    for value in (True, False):
        recorder = Recorder(_answer({"text": "ok"}))
        _provider(recorder).generate("hi", tools=[_weather_tool()], parallel_tool_calls=value)
        assert set(recorder.sent()) == {"contents", "tools"}


# -- generation config, structured output ---------------------------------------------------------
def test_sampling_and_json_mode_go_to_generation_config() -> None:
    recorder = Recorder(_answer({"text": '{"a": 1}'}))
    resp = _provider(recorder).generate(
        "json please",
        temperature=0.2,
        top_p=0.9,
        max_tokens=128,
        frequency_penalty=0.1,
        presence_penalty=0.3,
        response_format=ResponseFormat.JSON,
    )
    config = recorder.sent()["generationConfig"]
    assert config == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 128,
        "frequencyPenalty": 0.1,
        "presencePenalty": 0.3,
        "responseMimeType": "application/json",
    }
    gtypes.GenerateContentConfig.model_validate(config)
    assert resp.content == '{"a": 1}'


class City(pydantic.BaseModel):
    name: str
    population: int | None = None


def test_response_model_sends_response_schema_and_parses() -> None:
    recorder = Recorder(_answer({"text": '{"name": "Paris", "population": 2100000}'}))
    resp = _provider(recorder).generate("a city", response_format=City)
    config = recorder.sent()["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "population": {"type": "integer", "nullable": True}},
        "required": ["name"],
    }
    gtypes.GenerateContentConfig.model_validate(config)
    assert resp.parsed == City(name="Paris", population=2100000)


def test_extra_body_merges_into_generation_config() -> None:
    recorder = Recorder(_answer({"text": "ok"}))
    _provider(recorder).generate(
        "hi",
        temperature=0.5,
        extra_body={"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}, "safetySettings": []},
    )
    body = recorder.sent()
    assert body["generationConfig"] == {"temperature": 0.5, "thinkingConfig": {"thinkingBudget": 0}}
    assert body["safetySettings"] == []


# -- contents: roles, merging, turn order ------------------------------------------------------------
def test_system_messages_become_system_instruction() -> None:
    system, contents = gemini_contents(
        coerce_messages(
            [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Be kind."}, "hi"]
        )
    )
    assert system == {"role": "user", "parts": [{"text": "Be brief."}, {"text": "Be kind."}]}
    assert contents == [{"role": "user", "parts": [{"text": "hi"}]}]


def test_history_starting_with_a_model_turn_gets_a_user_turn_in_front() -> None:
    call = ToolCall("c1", "get_weather", {"city": "Paris"})
    _, contents = gemini_contents(
        [
            Message(role="system", content="sys"),
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_results=[ToolResult("c1", "get_weather", "sunny")]),
        ]
    )
    assert contents[0] == {"role": "user", "parts": [{"text": TURN_ORDER_FILLER}]}
    assert TURN_ORDER_FILLER.strip()  # Vertex rejects an empty text part
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    for content in contents:
        gtypes.Content.model_validate(content)


def test_consecutive_same_role_contents_are_merged() -> None:
    call = ToolCall("c1", "get_weather", {"city": "Paris"})
    _, contents = gemini_contents(
        [
            Message(role="user", content="one"),
            Message(role="user", content="two"),
            Message(role="assistant", content="Let me check."),
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_results=[ToolResult("c1", "get_weather", "sunny")]),
            Message(role="user", content="and tomorrow?"),
        ]
    )
    assert contents == [
        {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Let me check."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
                {"text": "and tomorrow?"},
            ],
        },
    ]


def test_results_shapes_json_text_and_errors() -> None:
    calls = [ToolCall("a", "f", {}), ToolCall("b", "g", {}), ToolCall("c", "h", {}), ToolCall("d", "k", {})]
    _, contents = gemini_contents(
        [
            Message(role="user", content="go"),
            Message(role="assistant", tool_calls=calls),
            Message(
                role="tool",
                tool_results=[
                    ToolResult("a", "f", {"temp": 21}),
                    ToolResult("b", "g", "plain text, not JSON"),
                    ToolResult("c", "h", None, error="ValueError: city not found"),
                    ToolResult("d", "k", "[1, 2]"),
                ],
            ),
        ]
    )
    responses = [p["functionResponse"]["response"] for p in contents[-1]["parts"]]
    assert responses == [
        {"result": {"temp": 21}},
        {"result": "plain text, not JSON"},
        {"error": "ValueError: city not found"},
        {"result": [1, 2]},
    ]


def test_cross_provider_openai_history_translates() -> None:
    """An OpenAI-shaped history: `call_...` ids, two parallel calls, tool messages without names."""
    history = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_Paris00000000000000000000", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                {"id": "call_Rome000000000000000000000", "type": "function",
                 "function": {"name": "get_time", "arguments": '{"city": "Rome"}'}},
            ],
        },
        # answered out of order, without names
        {"role": "tool", "tool_call_id": "call_Rome000000000000000000000", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_Paris00000000000000000000", "content": '{"temp": 18}'},
        {"role": "assistant", "content": "Paris is 18C; it is noon in Rome.",
         "provider_data": {"anthropic": {"thinking": [{"signature": "x"}]}}},
        {"role": "user", "content": "Thanks"},
    ]  # fmt: skip
    body = generate_content_body(_request(history))
    system = body["systemInstruction"]
    _, model, results, answer, thanks = body["contents"]
    assert system == {"role": "user", "parts": [{"text": "You are helpful."}]}
    assert model == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "get_time", "args": {"city": "Rome"}}},
        ],
    }
    # one user content, results in call order, named after the calls they answer, no foreign id
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": {"temp": 18}}}},
            {"functionResponse": {"name": "get_time", "response": {"result": "12:00"}}},
        ],
    }
    assert answer == {"role": "model", "parts": [{"text": "Paris is 18C; it is noon in Rome."}]}
    assert thanks["parts"] == [{"text": "Thanks"}]
    assert "call_" not in json.dumps(body) and "anthropic" not in json.dumps(body)
    for content in body["contents"]:
        gtypes.Content.model_validate(content)


def test_only_gemini_ids_are_echoed() -> None:
    ours = ToolCall(
        "vcyiitct", "f", {}, provider_data={"gemini": {"id": "vcyiitct", "thought_signature": "sig"}}
    )
    generated = ToolCall(
        "call_abc", "g", {}, provider_data={"gemini": {"id": None, "thought_signature": None}}
    )
    foreign = ToolCall("toolu_01", "h", {}, provider_data={"anthropic": {"id": "toolu_01"}})
    _, contents = gemini_contents(
        [
            Message(role="user", content="go"),
            Message(role="assistant", tool_calls=[ours, generated, foreign]),
            Message(
                role="tool",
                tool_results=[
                    ToolResult("vcyiitct", "f", "1"),
                    ToolResult("call_abc", "g", "2"),
                    ToolResult("toolu_01", "h", "3"),
                ],
            ),
        ]
    )
    assert contents[1]["parts"] == [
        {"functionCall": {"name": "f", "args": {}, "id": "vcyiitct"}, "thoughtSignature": "sig"},
        {"functionCall": {"name": "g", "args": {}}},
        {"functionCall": {"name": "h", "args": {}}},
    ]
    assert [p["functionResponse"].get("id") for p in contents[2]["parts"]] == ["vcyiitct", None, None]


def test_result_without_name_or_call_is_an_error() -> None:
    with pytest.raises(ValueError, match="by function name"):
        gemini_contents(
            [
                Message(role="user", content="x"),
                Message(role="tool", tool_results=[ToolResult("zz", "", "1")]),
            ]
        )


# -- responses ------------------------------------------------------------------------------------
def test_generated_ids_are_stable_and_distinct() -> None:
    payload = _answer(
        {"functionCall": {"name": "f", "args": {"a": 1}}}, {"functionCall": {"name": "f", "args": {"a": 2}}}
    )
    first = parse_generate_content(payload)
    second = parse_generate_content(json.loads(json.dumps(payload)))
    ids = [c.id for c in first.tool_calls or []]
    assert ids == [c.id for c in second.tool_calls or []]
    assert len(set(ids)) == 2
    other = parse_generate_content({**payload, "responseId": "resp-2"})
    assert [c.id for c in other.tool_calls or []] != ids


def test_standardize_tool_response_reads_gemini_bodies_and_sdk_objects() -> None:
    payload = _answer({"functionCall": {"name": "f", "args": {"a": 1}, "id": "g1"}})
    calls = standardize_tool_response(payload, "google")
    assert [(c.id, c.name, c.arguments) for c in calls] == [("g1", "f", {"a": 1})]
    sdk = gtypes.GenerateContentResponse.model_validate(payload)
    assert [(c.id, c.name) for c in standardize_tool_response(sdk, "gemini")] == [("g1", "f")]


def test_thought_parts_are_not_content() -> None:
    resp = parse_generate_content(
        _answer({"text": "thinking...", "thought": True}, {"text": "Answer.", "thoughtSignature": "c2ln"})
    )
    assert resp.content == "Answer."
    assert resp.provider_data == {
        "gemini": {"finish_reason": "STOP", "thought_signature": "c2ln", "thoughts": "thinking..."}
    }


@pytest.mark.parametrize(
    ("reason", "normalized"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons(reason: str, normalized: str) -> None:
    assert parse_generate_content(_answer({"text": "x"}, finish=reason)).finish_reason == normalized


def test_max_tokens_with_a_call_keeps_length() -> None:
    resp = parse_generate_content(_answer({"functionCall": {"name": "f", "args": {}}}, finish="MAX_TOKENS"))
    assert resp.finish_reason == "length"


def test_completion_safety_block_can_raise() -> None:
    ratings = [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}]
    body = {"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": ratings}]}
    resp = parse_generate_content(body)
    assert resp.finish_reason == "content_filter" and resp.content is None
    assert (resp.provider_data or {})["gemini"]["content_filter_results"] == ratings
    with pytest.raises(errors.ContentFilterError) as info:
        _provider(Recorder(body), raise_on_content_filter=True).generate("x")
    assert info.value.filter_results == ratings


def test_blocked_prompt_raises_content_filter_error() -> None:
    ratings = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]
    body = {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": ratings}, "modelVersion": "m"}
    with pytest.raises(errors.ContentFilterError) as info:
        _provider(Recorder(body)).generate("x")
    assert info.value.filter_results == ratings
    assert info.value.code == "SAFETY"
    state = GeminiStreamState()
    assert state.feed(SSEEvent("message", json.dumps(body))) == []
    with pytest.raises(errors.ContentFilterError):
        state.result()


def test_malformed_function_call_is_a_readable_error() -> None:
    body = {
        "candidates": [
            {
                "finishReason": "MALFORMED_FUNCTION_CALL",
                "finishMessage": "Malformed function call: f(",
                "index": 0,
            }
        ]
    }
    with pytest.raises(errors.ResponseParseError, match="MALFORMED_FUNCTION_CALL: Malformed function call"):
        parse_generate_content(body)


def test_unexpected_shapes_raise_response_parse_error() -> None:
    bodies: list[Any] = [{"candidates": []}, "nope", {"candidates": [{"content": {"parts": "x"}}]}]
    for body in bodies:
        with pytest.raises(errors.ResponseParseError):
            parse_generate_content(body)


# -- streaming ------------------------------------------------------------------------------------
def test_stream_text_then_calls_sync_and_usage() -> None:
    events = [
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Checking "}]}, "index": 0}],
            "responseId": "s1",
        },
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"text": "both."},
                            {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": "c2ln"},
                            {"functionCall": {"name": "f", "args": {"x": 2}}},
                        ],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 4,
                "candidatesTokenCount": 6,
                "thoughtsTokenCount": 2,
                "totalTokenCount": 12,
            },
        },
    ]
    recorder = Recorder(events, sse=True)
    stream = _provider(recorder).generate("go", tools=[_weather_tool()], stream=True)
    chunks = list(stream)
    assert [c.content for c in chunks] == ["Checking ", "both."]
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].usage == {"prompt_tokens": 4, "completion_tokens": 8, "total_tokens": 12}
    resp = stream.response
    assert resp.content == "Checking both."
    assert [c.arguments for c in resp.tool_calls or []] == [{"x": 1}, {"x": 2}]
    assert (resp.tool_calls or [])[0].provider_data == {"gemini": {"thought_signature": "c2ln", "id": None}}
    assert str(recorder.requests[0].url).endswith(":streamGenerateContent?alt=sse")


def test_stream_without_finish_reason_is_interrupted() -> None:
    events = [
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]},
                    "index": 0,
                }
            ]
        }
    ]
    stream = _provider(Recorder(events, sse=True)).generate("go", stream=True)
    with pytest.raises(errors.StreamInterruptedError) as info:
        list(stream)
    assert [c.name for c in info.value.tool_calls] == ["f"]


def test_partial_args_assembles_nested_paths_and_types() -> None:
    state = GeminiStreamState()
    pieces: list[dict[str, Any]] = [
        {"name": "plan", "willContinue": True},
        {
            "partialArgs": [{"jsonPath": "$.trip.city", "stringValue": "New ", "willContinue": True}],
            "willContinue": True,
        },
        {"partialArgs": [{"jsonPath": "$.trip.city", "stringValue": "York"}], "willContinue": True},
        {
            "partialArgs": [
                {"jsonPath": "$.days[0]", "numberValue": 3},
                {"jsonPath": "$.days[1]", "numberValue": 4.5},
            ],
            "willContinue": True,
        },
        {
            "partialArgs": [
                {"jsonPath": "$.flexible", "boolValue": True},
                {"jsonPath": "$['odd key']", "nullValue": "NULL_VALUE"},
            ],
            "willContinue": True,
        },
        {},
    ]
    for i, call in enumerate(pieces):
        event: dict[str, Any] = {
            "candidates": [{"content": {"role": "model", "parts": [{"functionCall": call}]}, "index": 0}]
        }
        if i == len(pieces) - 1:
            event["candidates"][0]["finishReason"] = "STOP"
        state.feed(SSEEvent("message", json.dumps(event)))
    (assembled,) = state.result().tool_calls or []
    assert assembled.arguments == {
        "trip": {"city": "New York"},
        "days": [3, 4.5],
        "flexible": True,
        "odd key": None,
    }


# -- errors ---------------------------------------------------------------------------------------
def _rpc(code: int, status: str, message: str = "m", details: list[Any] | None = None) -> bytes:
    return json.dumps(
        {"error": {"code": code, "message": message, "status": status, "details": details or []}}
    ).encode()


TOO_LONG = "The input token count (2000000) exceeds the maximum number of tokens allowed (1048576)."


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (403, _rpc(403, "PERMISSION_DENIED"), errors.AuthenticationError),
        (401, _rpc(401, "UNAUTHENTICATED"), errors.AuthenticationError),
        (400, _rpc(400, "INVALID_ARGUMENT", "Invalid JSON payload"), errors.InvalidRequestError),
        (400, _rpc(400, "INVALID_ARGUMENT", TOO_LONG), errors.ContextLengthError),
        (404, _rpc(404, "NOT_FOUND"), errors.InvalidRequestError),
        (429, _rpc(429, "RESOURCE_EXHAUSTED"), errors.RateLimitError),
        (500, _rpc(500, "INTERNAL"), errors.ServerError),
        (503, _rpc(503, "UNAVAILABLE", "The model is overloaded."), errors.ServerError),
        (502, b"<html>bad gateway</html>", errors.ServerError),
    ],
)
def test_error_mapping(status: int, body: bytes, kind: type[Exception]) -> None:
    error = gemini_error(status, {}, body)
    assert type(error) is kind
    assert error.status_code == status


def test_error_in_a_json_array_and_retry_after_header_fallback() -> None:
    body = b"[" + _rpc(429, "RESOURCE_EXHAUSTED", "quota") + b"]"
    error = gemini_error(429, {"retry-after": "7"}, body)
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == 7.0 and error.message == "quota"


# -- configuration, auth, endpoints ---------------------------------------------------------------
def test_api_key_from_env_goes_in_a_header_never_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIza-env-key-0000")
    recorder = Recorder(_answer({"text": "ok"}))
    _provider(recorder, api_key=None, model="models/gemini-2.5-flash").generate("hi")
    request = recorder.requests[0]
    assert request.headers["x-goog-api-key"] == "AIza-env-key-0000"
    assert (
        str(request.url)
        == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    llm = _provider(recorder, api_key="AIza-secret-value-9999")
    assert "secret" not in repr(llm) and "9999" in repr(llm)


def test_base_url_env_and_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.ConfigurationError, match="GEMINI_API_KEY"):
        GeminiProvider(model="m")
    monkeypatch.setenv("GEMINI_BASE_URL", "http://127.0.0.1:9/gem/")
    assert (
        GeminiProvider(model="m", api_key="k").endpoint(_request("x"))
        == "http://127.0.0.1:9/gem/v1beta/models/gemini-2.5-flash:generateContent"
    )


class FakeCredentials:
    def __init__(self) -> None:
        self.token: str | None = None
        self.requests: list[Any] = []

    @property
    def valid(self) -> bool:
        return self.token is not None

    def refresh(self, request: Any) -> None:
        self.requests.append(request)
        self.token = f"token-{len(self.requests)}"


def test_vertex_regional_endpoint_and_token_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-must-not-be-sent")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "my-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1")
    credentials = FakeCredentials()
    recorder = Recorder(_answer({"text": "a"}), _answer({"text": "b"}))
    llm = _provider(recorder, api_key=None, vertexai=True, credentials=credentials)
    llm.generate("hi")
    llm.generate("again")
    assert str(recorder.requests[0].url) == (
        "https://us-central1-aiplatform.googleapis.com/v1/projects/my-proj/locations/us-central1/"
        "publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert [r.headers["authorization"] for r in recorder.requests] == ["Bearer token-1", "Bearer token-1"]
    assert all("x-goog-api-key" not in r.headers for r in recorder.requests)
    import google.auth.transport

    (request,) = credentials.requests
    assert isinstance(request, google.auth.transport.Request)
    credentials.token = None  # expired
    recorder.bodies.append(_answer({"text": "c"}))
    llm.generate("third")
    assert recorder.requests[-1].headers["authorization"] == "Bearer token-2"


async def test_vertex_async_refresh_and_global_host() -> None:
    credentials = FakeCredentials()
    recorder = Recorder(_answer({"text": "a"}))
    llm = _provider(recorder, api_key=None, vertexai=True, project="p", credentials=credentials)
    resp = await llm.agenerate("hi")
    assert resp.content == "a"
    assert str(recorder.requests[0].url).startswith(
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/"
    )
    assert recorder.requests[0].headers["authorization"] == "Bearer token-1"


def test_vertex_express_mode_uses_the_key() -> None:
    recorder = Recorder(_answer({"text": "a"}))
    _provider(recorder, api_key="AIza-express", vertexai=True).generate("hi")
    request = recorder.requests[0]
    assert (
        str(request.url)
        == "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert request.headers["x-goog-api-key"] == "AIza-express"


def test_vertex_needs_a_project(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.ConfigurationError, match="GOOGLE_CLOUD_PROJECT"):
        GeminiProvider(model="m", vertexai=True, credentials=FakeCredentials())
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    provider = GeminiProvider(model="m", credentials=FakeCredentials())
    assert provider.vertexai and provider.project == "env-proj" and provider.location == "global"


def test_missing_google_auth_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("google.auth"):
            raise ImportError("No module named 'google.auth'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(errors.ConfigurationError, match=r'pip install "toolwire\[vertex\]"'):
        GeminiProvider(model="m", vertexai=True, project="p")
    provider = GeminiProvider(model="m", vertexai=True, project="p", credentials=FakeCredentials())
    with pytest.raises(errors.ConfigurationError, match=r"toolwire\[vertex\]"):
        provider.auth_headers()


class _TokenHandler(BaseHTTPRequestHandler):
    seen: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        _TokenHandler.seen.append(self.rfile.read(length))
        payload = json.dumps(
            {"access_token": "ya29.local", "expires_in": 3600, "token_type": "Bearer"}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_server() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _TokenHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token"
    server.shutdown()
    server.server_close()


def test_real_google_auth_refresh_through_our_httpx_transport(token_server: str) -> None:
    """A genuine google-auth user credential refreshes over our adapter (no `requests` involved)."""
    from google.oauth2.credentials import Credentials

    credentials = Credentials(  # type: ignore[no-untyped-call]
        token=None, refresh_token="1//refresh", token_uri=token_server, client_id="cid", client_secret="cs"
    )
    recorder = Recorder(_answer({"text": "ok"}))
    _provider(recorder, api_key=None, vertexai=True, project="p", credentials=credentials).generate("hi")
    assert recorder.requests[0].headers["authorization"] == "Bearer ya29.local"
    assert b"refresh_token=1%2F%2Frefresh" in _TokenHandler.seen[-1]


def test_error_object_inside_a_stream_is_mapped() -> None:
    state = GeminiStreamState()
    event = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    with pytest.raises(errors.ServerError, match="overloaded"):
        state.feed(SSEEvent("message", json.dumps(event)))


def test_module_imports_no_google_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys, toolwire.providers.gemini as g; "
        "g.GeminiProvider(model='m', api_key='k'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('google', 'requests', 'pydantic')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- malformed counts, reasons and paths (found by tests/test_fuzz_parsers.py) -------------------
def _candidate_body(parts: list[dict[str, Any]], finish: Any = "STOP", **extra: Any) -> dict[str, Any]:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}], **extra}


def test_usage_with_infinite_counts_parses() -> None:
    usage = {"promptTokenCount": float("inf"), "candidatesTokenCount": 2, "thoughtsTokenCount": float("nan")}
    body = _candidate_body([{"text": "hi"}], usageMetadata={**usage, "totalTokenCount": float("-inf")})
    response = parse_generate_content(body)
    assert response.content == "hi"
    # a total that is not a count falls back to the sum, as when it is missing
    assert response.usage == {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 2}
    state = GeminiStreamState()
    state.feed(SSEEvent("message", json.dumps(body)))
    assert state.result().usage == response.usage


def test_stream_non_string_thought_and_finish_reason() -> None:
    state = GeminiStreamState()
    first = _candidate_body([{"text": {"not": "text"}, "thought": True}, {"text": "Hi"}], finish={"odd": 1})
    state.feed(SSEEvent("message", json.dumps(first)))
    # an object is not a finishReason: the turn is still open
    assert not state.done
    assert state.partial() == ("Hi", [])
    state.feed(SSEEvent("message", json.dumps(_candidate_body([{"text": "!", "thought": True}]))))
    response = state.result()
    assert response.content == "Hi"
    assert response.provider_data == {"gemini": {"finish_reason": "STOP", "thoughts": "!"}}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (429, errors.RateLimitError),
        ("429", errors.RateLimitError),
        (float("inf"), errors.ServerError),
        (True, errors.ServerError),
        ("9" * 5000, errors.ServerError),
    ],
)
def test_error_code_inside_a_body_is_checked(code: Any, expected: type[Exception]) -> None:
    body = {"error": {"code": code, "message": "slow down"}}
    with pytest.raises(expected):
        parse_generate_content(body)


def test_far_out_streamed_argument_index_is_an_arguments_error() -> None:
    piece = {"jsonPath": "$.cities[99999999999]", "stringValue": "Paris"}
    call = {"functionCall": {"name": "get_weather", "partialArgs": [piece], "willContinue": True}}
    state = GeminiStreamState()
    state.feed(SSEEvent("message", json.dumps({"candidates": [{"content": {"parts": [call]}}]})))
    state.feed(SSEEvent("message", json.dumps(_candidate_body([{"functionCall": {}}]))))
    assert state.partial()[1] == []
    calls = state.result().tool_calls
    assert calls is not None
    assert calls[0].name == "get_weather"
    assert calls[0].arguments_error is not None
    assert "far beyond" in calls[0].arguments_error
