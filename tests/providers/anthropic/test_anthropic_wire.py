"""The Anthropic Messages wire layer, offline: request bodies, stream assembly, error mapping.

Request bodies are checked against the official `anthropic` SDK's own request TypedDicts
(`MessageCreateParams*`): every key we send must be a key the SDK declares, every required key
present, every `type` literal one the SDK knows. The SDK is a test-only oracle.
"""

from __future__ import annotations

import itertools
import json
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

import httpx2
import pydantic
import pytest
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)

from toolwire import AbstractLLM
from toolwire._framing import SSEEvent
from toolwire.errors import (
    AuthenticationError,
    ContextLengthError,
    InvalidRequestError,
    RateLimitError,
    ResponseParseError,
    ServerError,
    StreamInterruptedError,
)
from toolwire.providers.anthropic import (
    AnthropicProvider,
    AnthropicStreamState,
    anthropic_error,
    anthropic_tool_id,
    normalize_usage,
    parse_message,
    tool_choice_payload,
)
from toolwire.providers.base import ChatRequest
from toolwire.types import Message, ToolCall, ToolResult

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME = {
    "name": "get_time",
    "description": "Time in a zone.",
    "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
}


# -- the SDK oracle for request bodies ---------------------------------------------------------
def _strip(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    while origin is typing.Annotated or (
        origin is not None and getattr(origin, "__name__", "") in ("Required", "NotRequired", "Annotated")
    ):
        tp = typing.get_args(tp)[0]
        origin = typing.get_origin(tp)
    return tp


def _is_required(hint: Any, owner: Any, key: str) -> bool:
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _is_required(typing.get_args(hint)[0], owner, key)
    if getattr(origin, "__name__", "") == "Required":
        return True
    if getattr(origin, "__name__", "") == "NotRequired":
        return False
    return _declaring_total(owner, key)


def _declaring_total(owner: Any, key: str) -> bool:
    # A key inherited from a total=False base stays optional in a total=True subclass.
    for base in getattr(owner, "__orig_bases__", ()):
        if _is_typeddict(base) and key in typing.get_type_hints(base):
            return _declaring_total(base, key)
    return bool(getattr(owner, "__total__", True))


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _errors(value: Any, tp: Any, path: str) -> list[str]:
    """Why `value` does not fit the SDK type `tp` ([] when it fits)."""
    tp = _strip(tp)
    if tp is Any or tp is object:
        return []
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        options = typing.get_args(tp)
        results = [_errors(value, option, path) for option in options]
        if any(not r for r in results):
            return []
        return min(results, key=len)
    if origin is typing.Literal:
        return [] if value in typing.get_args(tp) else [f"{path}: {value!r} not in {typing.get_args(tp)}"]
    if tp is type(None):
        return [] if value is None else [f"{path}: expected null"]
    if _is_typeddict(tp):
        if not isinstance(value, Mapping):
            return [f"{path}: expected an object for {tp.__name__}"]
        hints = typing.get_type_hints(tp, include_extras=True)
        problems = [f"{path}.{k}: unknown key for {tp.__name__}" for k in value if k not in hints]
        # the SDK's modules use postponed annotations, so Required[...] is only visible in the hints
        required = {k for k, h in hints.items() if _is_required(h, tp, k)}
        problems += [f"{path}: {tp.__name__} needs {k!r}" for k in sorted(required) if k not in value]
        for key, item in value.items():
            if key in hints:
                problems += _errors(item, hints[key], f"{path}.{key}")
        return problems
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return [] if isinstance(value, Mapping) else [f"{path}: expected an object"]
    if origin is not None and isinstance(origin, type) and issubclass(origin, Iterable) and origin is not str:
        if isinstance(value, (str, Mapping)) or not isinstance(value, list):
            return [f"{path}: expected a list"]
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        return [p for i, item in enumerate(value) for p in _errors(item, item_tp, f"{path}[{i}]")]
    if isinstance(tp, type) and issubclass(tp, pydantic.BaseModel):
        # response models accepted as params (e.g. echoing a TextBlock): validate with pydantic
        try:
            tp.model_validate(value)
        except pydantic.ValidationError as exc:
            return [f"{path}: {exc.errors()[0]['msg']}"]
        return []
    if tp is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a bool"]
    if tp in (int, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number"]
    if tp is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string"]
    if isinstance(tp, type):
        return [] if isinstance(value, tp) else [f"{path}: expected {tp.__name__}"]
    return []


_SAMPLING = ("temperature", "top_p", "top_k")


def assert_valid_anthropic_request(body: Mapping[str, Any]) -> None:
    """The body fits the SDK's request params, roles alternate starting with the user, and
    every tool_use is answered by a tool_result in the very next (user) message, results first."""
    params = MessageCreateParamsStreaming if body.get("stream") else MessageCreateParamsNonStreaming
    # anthropic 2.12's params no longer declare the sampling fields, but the API accepted them in
    # the recordings (temperature 1.0 in April 2026): checked here as numbers, not by the SDK.
    sampling = {k: body[k] for k in _SAMPLING if k in body}
    assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sampling.values())
    problems = _errors({k: v for k, v in body.items() if k not in _SAMPLING}, params, "body")
    assert not problems, problems
    messages = body["messages"]
    assert messages and messages[0]["role"] == "user"
    for previous, current in itertools.pairwise(messages):
        assert previous["role"] != current["role"], "roles must alternate"
    for i, message in enumerate(messages):
        if message["role"] != "assistant" or isinstance(message["content"], str):
            continue
        ids = [b["id"] for b in message["content"] if b["type"] == "tool_use"]
        if not ids:
            continue
        assert i + 1 < len(messages), "a tool_use needs a tool_result after it"
        reply = messages[i + 1]["content"]
        answered = [b["tool_use_id"] for b in reply if b["type"] == "tool_result"]
        assert sorted(answered) == sorted(ids)
        kinds = [b["type"] for b in reply]
        assert kinds[: len(answered)] == ["tool_result"] * len(answered), "tool_result blocks lead"


def test_the_oracle_rejects_what_the_api_rejects() -> None:
    # The checker above must be able to fail, or every test using it proves nothing.
    good = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
    assert_valid_anthropic_request(good)
    with pytest.raises(AssertionError):
        assert_valid_anthropic_request({**good, "frequency_penalty": 1})
    with pytest.raises(AssertionError):
        assert_valid_anthropic_request({**good, "tool_choice": {"type": "required"}})
    with pytest.raises(AssertionError):
        assert_valid_anthropic_request({"model": "m", "messages": good["messages"]})
    bad_block = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "is_error": "x"}]}]
    with pytest.raises(AssertionError):
        assert_valid_anthropic_request({**good, "messages": bad_block})
    unanswered = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "text", "text": "no result"}]},
    ]
    with pytest.raises(AssertionError):
        assert_valid_anthropic_request({**good, "messages": unanswered})


# -- helpers -----------------------------------------------------------------------------------
def _provider(**options: Any) -> AnthropicProvider:
    llm = AbstractLLM.create("anthropic", model="claude-test", api_key="test-key", **options)
    assert isinstance(llm, AnthropicProvider)
    return llm


def _body(llm: AnthropicProvider, messages: Any, **kwargs: Any) -> dict[str, Any]:
    """The body `generate` would send (same preparation path, no network)."""
    request: ChatRequest = llm._prepare(
        messages,
        model=None,
        stream=kwargs.pop("stream", False),
        tools=kwargs.pop("tools", None),
        tool_choice=kwargs.pop("tool_choice", None),
        parallel_tool_calls=kwargs.pop("parallel_tool_calls", None),
        response_format=kwargs.pop("response_format", None),
        sampling={
            k: kwargs.pop(k, None) for k in ("temperature", "max_tokens", "top_p", "frequency_penalty")
        },
        kwargs=kwargs,
    )
    body = llm.build_body(request)
    json.dumps(body)  # must be serializable as is
    return body


def _sse(events: list[dict[str, Any]]) -> list[SSEEvent]:
    return [SSEEvent(e["type"], json.dumps(e)) for e in events]


def _feed_all(state: AnthropicStreamState, events: list[dict[str, Any]]) -> list[Any]:
    chunks = []
    for event in _sse(events):
        chunks.extend(state.feed(event))
    return chunks


# -- tool_choice -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        (None, None, None),
        ("auto", None, {"type": "auto"}),
        ("none", None, {"type": "none"}),
        ("required", None, {"type": "any"}),
        ("any", None, {"type": "any"}),
        ("get_weather", None, {"type": "tool", "name": "get_weather"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, True, {"type": "auto"}),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("get_weather", False, {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
    ],
)
def test_tool_choice_shapes(choice: Any, parallel: bool | None, expected: dict[str, Any] | None) -> None:
    body = _body(_provider(), "hi", tools=[WEATHER, TIME], tool_choice=choice, parallel_tool_calls=parallel)
    assert body.get("tool_choice") == expected
    assert "parallel_tool_calls" not in body  # not an Anthropic field
    assert_valid_anthropic_request(body)


def test_tool_choice_payload_without_tools_is_absent() -> None:
    body = _body(_provider(), "hi", parallel_tool_calls=False)
    assert "tool_choice" not in body and "tools" not in body
    assert tool_choice_payload(None, None) is None


def test_tools_use_input_schema() -> None:
    body = _body(_provider(), "hi", tools=[WEATHER, {"name": "no_desc"}])
    assert body["tools"][0] == {
        "name": "get_weather",
        "description": "Weather for a city.",
        "input_schema": WEATHER["parameters"],
    }
    assert body["tools"][1] == {"name": "no_desc", "input_schema": {"type": "object", "properties": {}}}
    assert_valid_anthropic_request(body)


# -- messages ----------------------------------------------------------------------------------
def test_system_messages_move_to_the_top_level_field() -> None:
    body = _body(
        _provider(),
        [
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": "Use metric units."},
            {"role": "user", "content": "hi"},
        ],
    )
    assert body["system"] == "Be brief.\n\nUse metric units."
    assert [m["role"] for m in body["messages"]] == ["user"]
    assert_valid_anthropic_request(body)


def test_consecutive_same_role_messages_are_merged() -> None:
    body = _body(
        _provider(),
        ["one", "two", {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}, "three"],
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "user", "content": [{"type": "text", "text": "three"}]},
    ]
    assert_valid_anthropic_request(body)


def test_all_results_of_a_turn_go_in_one_user_message_with_following_text() -> None:
    calls = [
        ToolCall("toolu_a", "get_weather", {"city": "Paris"}),
        ToolCall("toolu_b", "get_time", {"tz": "UTC"}),
    ]
    history = [
        Message(role="user", content="weather and time?"),
        Message(role="assistant", content="Checking.", tool_calls=calls),
        Message(
            role="tool",
            tool_results=[
                ToolResult("toolu_a", "get_weather", {"temp": 21}),
                ToolResult("toolu_b", "get_time", None, error="ValueError: bad zone"),
            ],
        ),
        Message(role="user", content="and be quick"),
    ]
    body = _body(_provider(), history, tools=[WEATHER, TIME])
    assert len(body["messages"]) == 3
    assistant, results = body["messages"][1], body["messages"][2]
    assert assistant["content"] == [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {"tz": "UTC"}},
    ]
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": '{"temp": 21}'},
            {
                "type": "tool_result",
                "tool_use_id": "toolu_b",
                "content": "ValueError: bad zone",
                "is_error": True,
            },
            {"type": "text", "text": "and be quick"},
        ],
    }
    assert_valid_anthropic_request(body)


def test_tool_results_lead_even_when_user_text_came_first() -> None:
    history = [
        Message(role="user", content="q"),
        Message(role="assistant", tool_calls=[ToolCall("toolu_a", "get_weather", {"city": "Oslo"})]),
        Message(role="user", content="(note)"),
        Message(role="tool", tool_results=[ToolResult("toolu_a", "get_weather", "snow")]),
    ]
    body = _body(_provider(), history)
    assert [b["type"] for b in body["messages"][2]["content"]] == ["tool_result", "text"]
    assert_valid_anthropic_request(body)


def test_thinking_blocks_are_echoed_first_with_their_signatures() -> None:
    thinking = [
        {"type": "thinking", "thinking": "let me see", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    history = [
        Message(role="user", content="q"),
        Message(
            role="assistant",
            content="Looking.",
            tool_calls=[ToolCall("toolu_a", "get_weather", {"city": "Rome"})],
            provider_data={"anthropic": {"thinking": thinking}, "gemini": {"thought_signature": "x"}},
        ),
        Message(role="tool", tool_results=[ToolResult("toolu_a", "get_weather", "sun")]),
    ]
    body = _body(_provider(), history, thinking={"type": "enabled", "budget_tokens": 2000})
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["messages"][1]["content"][:2] == thinking
    assert [b["type"] for b in body["messages"][1]["content"]][2:] == ["text", "tool_use"]
    assert "thought_signature" not in json.dumps(body)
    assert_valid_anthropic_request(body)


def test_foreign_tool_call_ids_are_mapped_consistently() -> None:
    assert anthropic_tool_id("toolu_01ABC") == "toolu_01ABC"
    assert anthropic_tool_id("call_abc-123") == "call_abc-123"
    mapped = anthropic_tool_id("llm_version:0")
    assert mapped == anthropic_tool_id("llm_version:0")
    assert mapped != anthropic_tool_id("llm_version:1")
    for raw in ("llm_version:0", "", "a b", "ü", "call.1"):
        out = anthropic_tool_id(raw)
        assert out.replace("_", "").replace("-", "").isalnum() and out.isascii()


def test_cross_provider_history_translates_into_a_valid_request() -> None:
    # An OpenAI-shaped history (call_… ids, a colon id from OpenRouter, other providers' data).
    history: list[Any] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Paris and time in Tokyo?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_Ab12",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "llm_version:0",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"tz":"Asia/Tokyo"}'},
                },
            ],
            "provider_data": {"openai": {"refusal": None}, "gemini": {"thought_signature": "c2ln"}},
        },
        {"role": "tool", "tool_call_id": "call_Ab12", "content": "18C"},
        {"role": "tool", "tool_call_id": "llm_version:0", "content": "09:00"},
        {"role": "user", "content": "Thanks, summarise."},
    ]
    body = _body(_provider(), history, tools=[WEATHER, TIME], tool_choice="auto")
    assert_valid_anthropic_request(body)
    assert body["system"] == "You are terse."
    assistant, user = body["messages"][1], body["messages"][2]
    use_ids = [b["id"] for b in assistant["content"]]
    assert use_ids == ["call_Ab12", anthropic_tool_id("llm_version:0")]
    assert [b.get("tool_use_id") for b in user["content"][:2]] == use_ids
    assert user["content"][2] == {"type": "text", "text": "Thanks, summarise."}
    assert "thought_signature" not in json.dumps(body) and "refusal" not in json.dumps(body)


def test_max_tokens_default_option_and_explicit() -> None:
    assert _body(_provider(), "hi")["max_tokens"] == 4096
    assert _body(_provider(default_max_tokens=512), "hi")["max_tokens"] == 512
    assert _body(_provider(), "hi", max_tokens=77, temperature=0.2)["max_tokens"] == 77


def test_parameters_anthropic_lacks_are_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="frequency_penalty"):
        _body(_provider(), "hi", frequency_penalty=0.5)


def test_structured_output_is_a_forced_tool() -> None:
    class City(pydantic.BaseModel):
        name: str
        population: int

    llm = _provider()
    body = _body(llm, "Largest city of France?", response_format=City)
    assert body["tool_choice"] == {"type": "tool", "name": "City"}
    assert body["tools"][-1]["name"] == "City"
    assert set(body["tools"][-1]["input_schema"]["properties"]) == {"name", "population"}
    assert_valid_anthropic_request(body)

    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_x",
                "name": "City",
                "input": {"name": "Paris", "population": 2100000},
            }
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=answer))
    llm = _provider(http_client=httpx2.Client(transport=transport))
    resp = llm.generate("Largest city of France?", response_format=City)
    assert resp.parsed == City(name="Paris", population=2100000)
    assert resp.tool_calls is None
    assert resp.finish_reason == "stop"
    assert json.loads(resp.content or "") == {"name": "Paris", "population": 2100000}


def test_headers_endpoint_and_base_url_env(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(
            200,
            json={
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "claude-test",
                "content": [{"type": "text", "text": "ok"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
        )

    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/proxy/")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
    llm = AbstractLLM.create(
        "anthropic", model="claude-test", http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    assert llm.generate("hi").content == "ok"
    request = seen[0]
    assert str(request.url) == "http://127.0.0.1:9/proxy/v1/messages"
    assert request.headers["x-api-key"] == "env-key"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers
    assert "env-key" not in repr(llm)


# -- responses ---------------------------------------------------------------------------------
def _message(content: list[dict[str, Any]], stop_reason: str, **usage: int) -> dict[str, Any]:
    return {
        "id": "msg_x",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop_reason,
        "usage": usage or {"input_tokens": 1, "output_tokens": 1},
    }


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_stop_reasons(stop_reason: str, expected: str) -> None:
    resp = parse_message(_message([{"type": "text", "text": "x"}], stop_reason))
    assert resp.finish_reason == expected
    raw_kept = (resp.provider_data or {}).get("anthropic", {}).get("stop_reason")
    assert raw_kept == (
        stop_reason if stop_reason in ("refusal", "pause_turn", "model_context_window_exceeded") else None
    )
    assert (resp.refusal is not None) == (stop_reason == "refusal")


def test_usage_counts_cache_tokens_as_prompt() -> None:
    resp = parse_message(
        _message(
            [{"type": "text", "text": "x"}],
            "end_turn",
            input_tokens=10,
            cache_creation_input_tokens=100,
            cache_read_input_tokens=1000,
            output_tokens=7,
        )
    )
    assert resp.usage == {"prompt_tokens": 1110, "completion_tokens": 7, "total_tokens": 1117}


def test_redacted_thinking_is_kept_and_round_trips() -> None:
    blocks: list[dict[str, Any]] = [
        {"type": "redacted_thinking", "data": "EmwKAhgB"},
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Lima"}},
    ]
    resp = parse_message(_message(blocks, "tool_use"))
    assert resp.provider_data == {"anthropic": {"thinking": blocks[:2]}}
    body = _body(
        _provider(),
        [
            "q",
            resp.to_message(),
            Message(role="tool", tool_results=[ToolResult("toolu_1", "get_weather", "warm")]),
        ],
    )
    assert body["messages"][1]["content"] == blocks
    assert_valid_anthropic_request(body)


# -- streaming ---------------------------------------------------------------------------------
def _start(message_id: str = "msg_s") -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 30, "cache_read_input_tokens": 5, "output_tokens": 1},
        },
    }


def test_stream_thinking_signature_and_tool_assembly() -> None:
    state = AnthropicStreamState()
    events = [
        _start(),
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Need the "},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "weather."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQB"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "ping"},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 40}},
        {"type": "message_stop"},
    ]
    chunks = _feed_all(state, events)
    assert state.done
    deltas = [d for c in chunks for d in (c.tool_call_deltas or ())]
    assert deltas[0] == {
        "index": 0,
        "type": "function",
        "id": "toolu_9",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert "".join(d["function"]["arguments"] for d in deltas) == '{"city": "Oslo"}'
    assert chunks[-1].finish_reason == "tool_calls"
    resp = state.result()
    assert resp.provider_data == {
        "anthropic": {
            "thinking": [{"type": "thinking", "thinking": "Need the weather.", "signature": "EqQB"}]
        }
    }
    assert resp.tool_calls is not None
    assert [(c.id, c.name, c.arguments) for c in resp.tool_calls] == [
        ("toolu_9", "get_weather", {"city": "Oslo"})
    ]
    assert resp.usage == {"prompt_tokens": 35, "completion_tokens": 40, "total_tokens": 75}
    assert resp.id == "msg_s" and resp.model == "claude-test"


def test_stream_no_argument_tool_becomes_empty_object() -> None:
    state = AnthropicStreamState()
    _feed_all(
        state,
        [
            _start(),
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_n", "name": "ping", "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}},
            {"type": "message_stop"},
        ],
    )
    call = state.result().tool_calls[0]  # type: ignore[index]
    assert call.arguments == {} and call.arguments_error is None


def test_stream_cut_mid_call_keeps_text_and_complete_calls_only() -> None:
    state = AnthropicStreamState()
    _feed_all(
        state,
        [
            _start(),
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "On it."}},
            {"type": "content_block_stop", "index": 0},
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"city":"Rome"}'},
            },
            {"type": "content_block_stop", "index": 1},
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
            },
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"tz":"Eu'},
            },
        ],
    )
    text, calls = state.partial()
    assert text == "On it."
    assert [(c.id, c.arguments) for c in calls] == [("toolu_1", {"city": "Rome"})]
    with pytest.raises(StreamInterruptedError) as info:
        state.result()
    assert info.value.partial_content == "On it."
    assert [c.id for c in info.value.tool_calls] == ["toolu_1"]


@pytest.mark.parametrize(
    ("error_type", "error_class", "retryable"),
    [
        ("overloaded_error", ServerError, True),
        ("api_error", ServerError, True),
        ("rate_limit_error", RateLimitError, True),
        ("invalid_request_error", InvalidRequestError, False),
    ],
)
def test_stream_error_event_is_typed(error_type: str, error_class: type[Exception], retryable: bool) -> None:
    state = AnthropicStreamState()
    _feed_all(state, [_start()])
    event = SSEEvent(
        "error", json.dumps({"type": "error", "error": {"type": error_type, "message": "Overloaded"}})
    )
    with pytest.raises(error_class) as info:
        state.feed(event)
    assert type(info.value) is error_class
    assert info.value.retryable is retryable  # type: ignore[attr-defined]
    assert info.value.code == error_type  # type: ignore[attr-defined]


# -- errors ------------------------------------------------------------------------------------
def _error_body(kind: str, message: str) -> bytes:
    return json.dumps(
        {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_body"}
    ).encode()


@pytest.mark.parametrize(
    ("status", "kind", "message", "error_class"),
    [
        (400, "invalid_request_error", "messages: roles must alternate", InvalidRequestError),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            ContextLengthError,
        ),
        (401, "authentication_error", "invalid x-api-key", AuthenticationError),
        (403, "permission_error", "no access to this model", AuthenticationError),
        (404, "not_found_error", "model: claude-nope", InvalidRequestError),
        (413, "request_too_large", "Request exceeds the maximum size", InvalidRequestError),
        (429, "rate_limit_error", "Number of request tokens has exceeded your rate limit", RateLimitError),
        (500, "api_error", "Internal server error", ServerError),
        (529, "overloaded_error", "Overloaded", ServerError),
    ],
)
def test_error_mapping(status: int, kind: str, message: str, error_class: type[Exception]) -> None:
    error = anthropic_error(status, {"retry-after": "7"}, _error_body(kind, message))
    assert type(error) is error_class
    assert error.status_code == status and error.code == kind and error.message == message
    assert error.request_id == "req_body"
    if error_class is RateLimitError:
        assert error.retry_after == 7.0  # type: ignore[attr-defined]
    assert error.retryable is (status in (429, 500, 529))


def test_error_request_id_header_wins_and_non_json_body() -> None:
    llm = _provider()
    error = llm.map_error(529, {"request-id": "req_header"}, _error_body("overloaded_error", "Overloaded"))
    assert isinstance(error, ServerError) and error.request_id == "req_header"
    html = llm.map_error(502, {}, b"<html>Bad gateway</html>")
    assert isinstance(html, ServerError) and "Bad gateway" in html.message


def test_overloaded_529_is_retried_then_succeeds() -> None:
    answers = [
        httpx2.Response(
            529, json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        ),
        httpx2.Response(200, json=_message([{"type": "text", "text": "fine"}], "end_turn")),
    ]
    transport = httpx2.MockTransport(lambda request: answers.pop(0))
    llm = _provider(http_client=httpx2.Client(transport=transport), max_retries=1)
    assert llm.generate("hi").content == "fine"
    assert answers == []

    failing = httpx2.MockTransport(
        lambda request: httpx2.Response(
            529, json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        )
    )
    llm = _provider(http_client=httpx2.Client(transport=failing), max_retries=0)
    with pytest.raises(ServerError) as info:
        llm.generate("hi")
    assert info.value.status_code == 529 and info.value.retryable
    assert "test-key" not in str(info.value) and "test-key" not in repr(info.value)


def test_tool_id_with_a_trailing_newline_is_remapped() -> None:
    from toolwire.providers.anthropic import anthropic_tool_id

    assert anthropic_tool_id("abc\n") != "abc\n"
    assert anthropic_tool_id("abc\n").startswith("toolu_tw")
    assert anthropic_tool_id("toolu_01AbC-_9") == "toolu_01AbC-_9"


# -- malformed counts, indexes and fragments (found by tests/test_fuzz_parsers.py) ---------------
def test_usage_with_infinite_or_object_counts_parses() -> None:
    usage = {"input_tokens": float("inf"), "cache_read_input_tokens": {"n": 1}, "output_tokens": 4}
    assert normalize_usage(usage) == {"prompt_tokens": 0, "completion_tokens": 4, "total_tokens": 4}
    body = {
        "id": "msg_1",
        "type": "message",
        "model": "m",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": float("nan")},
    }
    assert parse_message(body).usage == {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}


@pytest.mark.parametrize("index", [float("inf"), 0.5, "0", True, None, [0]])
def test_stream_block_index_must_be_an_integer(index: Any) -> None:
    state = AnthropicStreamState()
    event = {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
    with pytest.raises(ResponseParseError, match="index"):
        _feed_all(state, [event])
    assert state.partial() == (None, [])
    with pytest.raises(StreamInterruptedError):
        state.result()


def test_stream_with_non_string_fragments_still_assembles() -> None:
    state = AnthropicStreamState()
    _feed_all(
        state,
        [
            {"type": "message_start", "message": {"id": "msg_1", "model": "m", "usage": {"input_tokens": 5}}},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": ""},
            },
            {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": [1]}},
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "hm"},
            },
            {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": 9}},
            {"type": "content_block_stop", "index": 0},
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": 7}},
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": True}},
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}},
            {"type": "content_block_stop", "index": 1},
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "t1", "name": "f"},
            },
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": {"a": 1}},
            },
            {"type": "content_block_stop", "index": 2},
            {
                "type": "content_block_start",
                "index": 3,
                "content_block": {"type": "tool_use", "id": "t2", "name": "f"},
            },
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
            },
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "input_json_delta", "partial_json": 5.5},
            },
            {
                "type": "content_block_delta",
                "index": 3,
                "delta": {"type": "input_json_delta", "partial_json": "}"},
            },
            {"type": "content_block_stop", "index": 3},
            {
                "type": "message_delta",
                "delta": {"stop_reason": {"odd": 1}},
                "usage": {"output_tokens": float("inf")},
            },
        ],
    )
    text, complete = state.partial()
    assert text == "Hi"
    assert [c.arguments for c in complete] == [{"a": 1}, {"a": 5.5}]
    response = state.result()
    assert response.content == "Hi"
    assert response.usage == {"prompt_tokens": 5, "completion_tokens": 0, "total_tokens": 5}
    assert response.provider_data == {
        "anthropic": {"thinking": [{"type": "thinking", "thinking": "hm", "signature": ""}]}
    }


def test_stream_repeated_block_start_does_not_double_the_text() -> None:
    start = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}
    state = AnthropicStreamState()
    _feed_all(state, [start, start, delta, {"type": "message_stop"}])
    assert state.result().content == "Hi"
