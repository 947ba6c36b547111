"""Unit tests of openai.py's pure functions and stream assembly edge cases."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pydantic
import pytest

from support.openapi_validation import assert_valid_request
from toolwire import AbstractLLM, Message, ToolCall
from toolwire._framing import SSEEvent
from toolwire.errors import ContentFilterError, ProviderError, StreamInterruptedError
from toolwire.providers.mistral import MistralStreamState
from toolwire.providers.mistral import parse_chat_completion as parse_mistral
from toolwire.providers.openai import (
    ChatCompletionStreamState,
    chat_messages,
    normalize_finish_reason,
    normalize_usage,
    openai_error,
    parse_chat_completion,
    token_count,
)

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
STRICT_TOOL = {"type": "function", "function": {**TOOL["function"], "strict": True}}  # type: ignore[dict-item]


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> SSEEvent:
    payload: dict[str, Any] = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m", **extra}
    if delta is not None or finish is not None:
        payload["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}]
    elif "choices" not in payload:
        payload["choices"] = []
    return SSEEvent(None, json.dumps(payload))


def _tc(
    index: int | None = None, id: str | None = None, name: str | None = None, args: Any = None
) -> dict[str, Any]:
    call: dict[str, Any] = {}
    if index is not None:
        call["index"] = index
    if id is not None:
        call["id"] = id
        call["type"] = "function"
    function: dict[str, Any] = {}
    if name is not None:
        function["name"] = name
    if args is not None:
        function["arguments"] = args
    if function:
        call["function"] = function
    return call


def _assemble(*events: SSEEvent, done: bool = True) -> ChatCompletionStreamState:
    state = ChatCompletionStreamState("openai")
    for event in events:
        state.feed(event)
    if done:
        state.feed(SSEEvent(None, "[DONE]"))
    return state


# -- stream assembly ----------------------------------------------------------------------------


def test_parallel_calls_all_at_index_0_with_distinct_ids() -> None:
    state = _assemble(
        _chunk({"tool_calls": [_tc(0, "call_a", "get_weather", '{"city": "Paris"}')]}),
        _chunk({"tool_calls": [_tc(0, "call_b", "get_weather", '{"city": "Rome"}')]}),
        _chunk(finish="tool_calls"),
    )
    calls = list(state.result().tool_calls or [])
    assert [(c.id, c.arguments) for c in calls] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"city": "Rome"}),
    ]


def test_empty_string_arguments_are_no_arguments() -> None:
    state = _assemble(_chunk({"tool_calls": [_tc(0, "call_a", "now", "")]}), _chunk(finish="tool_calls"))
    call = state.result().tool_calls[0]  # type: ignore[index]
    assert (call.arguments, call.arguments_error, call.raw_arguments) == ({}, None, "")


def test_id_arriving_after_the_name() -> None:
    state = _assemble(
        _chunk({"tool_calls": [_tc(0, None, "get_weather", '{"ci')]}),
        _chunk({"tool_calls": [_tc(0, "call_late", None, 'ty": "Oslo"}')]}),
        _chunk(finish="tool_calls"),
    )
    calls = list(state.result().tool_calls or [])
    assert [(c.id, c.name, c.arguments) for c in calls] == [("call_late", "get_weather", {"city": "Oslo"})]


def test_openrouter_repeats_id_and_name_with_braces() -> None:
    state = _assemble(
        _chunk({"tool_calls": [_tc(0, "0", "llm_version", "")]}),
        _chunk({"tool_calls": [_tc(0, "0", "llm_version", "{}")]}),
        _chunk(finish="tool_calls"),
    )
    calls = list(state.result().tool_calls or [])
    assert [(c.id, c.name, c.arguments, c.raw_arguments) for c in calls] == [("0", "llm_version", {}, "{}")]


def test_azure_empty_choices_first_chunk_and_usage_only_last() -> None:
    filters = [
        {"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}}}
    ]
    state = ChatCompletionStreamState("azure_openai")
    assert (
        state.feed(
            SSEEvent(
                None, json.dumps({"id": "", "created": 0, "choices": [], "prompt_filter_results": filters})
            )
        )
        == []
    )
    state.feed(_chunk({"content": "Hi"}))
    state.feed(_chunk(finish="stop"))
    usage = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    last = state.feed(_chunk(usage=usage))
    assert [c.usage for c in last] == [usage]
    state.feed(SSEEvent(None, "[DONE]"))
    resp = state.result()
    assert resp.id == "chatcmpl-1" and resp.usage == usage and resp.content == "Hi"
    assert resp.provider_data == {"azure_openai": {"prompt_filter_results": filters}}


def test_cut_stream_keeps_text_and_complete_calls_only() -> None:
    state = _assemble(
        _chunk({"content": "Let me check. "}),
        _chunk({"tool_calls": [_tc(0, "call_a", "get_weather", '{"city": "Paris"}')]}),
        _chunk({"tool_calls": [_tc(1, "call_b", "get_weather", '{"city": "Ro')]}),
        done=False,
    )
    with pytest.raises(StreamInterruptedError) as info:
        state.result()
    assert info.value.partial_content == "Let me check. "
    assert [c.id for c in info.value.tool_calls] == ["call_a"]


def test_malformed_arguments_never_silently_empty() -> None:
    state = _assemble(
        _chunk({"tool_calls": [_tc(0, "call_a", "get_weather", '{"city": "Par')]}), _chunk(finish="length")
    )
    resp = state.result()
    call = resp.tool_calls[0]  # type: ignore[index]
    assert call.arguments == {} and call.raw_arguments == '{"city": "Par'
    assert call.arguments_error is not None and "not valid JSON" in call.arguments_error
    assert resp.finish_reason == "length"
    body = {"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}}]}}]}  # fmt: skip  # noqa: E501
    parsed = parse_chat_completion(body).tool_calls[0]  # type: ignore[index]
    assert parsed.arguments == {} and parsed.arguments_error and parsed.raw_arguments == "[1, 2]"


def test_a_malformed_call_is_sent_back_as_the_model_wrote_it() -> None:
    call = ToolCall.from_raw("c1", "f", '{"a": 1')
    out = chat_messages([Message(role="assistant", tool_calls=[call])])
    assert out[0]["tool_calls"][0]["function"]["arguments"] == '{"a": 1'


def test_refusal_streamed() -> None:
    state = _assemble(_chunk({"refusal": "I can't"}), _chunk({"refusal": " help."}), _chunk(finish="stop"))
    resp = state.result()
    assert resp.refusal == "I can't help." and resp.content is None


def test_error_event_inside_a_200_stream() -> None:
    state = ChatCompletionStreamState("openai_compatible")
    with pytest.raises(ProviderError) as info:
        state.feed(SSEEvent("error", json.dumps({"error": {"message": "bad", "code": "tool_use_failed"}})))
    assert info.value.code == "tool_use_failed"


# -- pure helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "calls", "expected"),
    [("stop", True, "tool_calls"), ("stop", False, "stop"), (None, True, "tool_calls"), ("length", True, "length"),  # noqa: E501
     ("content_filter", False, "content_filter"), ("function_call", False, "tool_calls"), (None, False, None)],  # noqa: E501
)  # fmt: skip
def test_finish_reason(reason: str | None, calls: bool, expected: str | None) -> None:
    assert normalize_finish_reason(reason, calls) == expected


def test_usage_without_total() -> None:
    assert normalize_usage({"prompt_tokens": 2, "completion_tokens": 3}) == {
        "prompt_tokens": 2,
        "completion_tokens": 3,
        "total_tokens": 5,
    }
    assert normalize_usage(None) is None


def test_azure_prompt_filter_error_body() -> None:
    body = {"error": {"message": "filtered", "code": "content_filter", "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {"hate": {"filtered": True}}}}}  # fmt: skip  # noqa: E501
    error = openai_error(400, {}, json.dumps(body).encode(), provider="azure_openai", request_id="r1")
    assert isinstance(error, ContentFilterError) and error.filter_results == {"hate": {"filtered": True}}


# -- request bodies through the public API ------------------------------------------------------


def _capture(stream_body: bytes | None = None) -> tuple[Any, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    reply = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o", "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "{\"city\": \"Paris\", \"country\": \"France\"}"}}]}  # fmt: skip  # noqa: E501

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        if stream_body is not None:
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=stream_body)
        return httpx2.Response(200, json=reply)

    transport = httpx2.MockTransport(handler)
    llm = AbstractLLM.create(
        "openai", model="gpt-4o", api_key="sk-test", http_client=httpx2.Client(transport=transport)
    )
    return llm, sent


def test_parallel_tool_calls_never_without_tools() -> None:
    llm, sent = _capture()
    llm.generate("hi", parallel_tool_calls=True)
    assert "parallel_tool_calls" not in sent[0] and "tools" not in sent[0]
    assert_valid_request(sent[0])


def test_strict_tools_ask_for_one_call_at_a_time_unless_set() -> None:
    llm, sent = _capture()
    llm.generate("hi", tools=[STRICT_TOOL])
    llm.generate("hi", tools=[STRICT_TOOL], parallel_tool_calls=True)
    llm.generate("hi", tools=[TOOL])
    assert sent[0]["parallel_tool_calls"] is False
    assert sent[1]["parallel_tool_calls"] is True
    assert "parallel_tool_calls" not in sent[2]
    assert sent[0]["tools"][0]["function"]["strict"] is True
    for body in sent:
        assert_valid_request(body)


@pytest.mark.parametrize(
    ("choice", "wire"),
    [("auto", "auto"), ("none", "none"), ("required", "required"), ("any", "required"),
     ("get_weather", {"type": "function", "function": {"name": "get_weather"}}),
     ({"type": "function", "function": {"name": "get_weather"}}, {"type": "function", "function": {"name": "get_weather"}})],  # noqa: E501
)  # fmt: skip
def test_tool_choice_translation(choice: Any, wire: Any) -> None:
    llm, sent = _capture()
    llm.generate("hi", tools=[TOOL], tool_choice=choice)
    assert sent[0]["tool_choice"] == wire
    assert_valid_request(sent[0])


def test_tool_choice_unknown_name_rejected_before_sending() -> None:
    llm, sent = _capture()
    with pytest.raises(ValueError, match="not one of the tools"):
        llm.generate("hi", tools=[TOOL], tool_choice="nope")
    assert sent == []


class City(pydantic.BaseModel):
    city: str
    country: str


def test_response_format_json_and_pydantic() -> None:
    llm, sent = _capture()
    resp = llm.generate("hi", response_format="json")
    assert sent[0]["response_format"] == {"type": "json_object"}
    assert resp.parsed is None
    resp = llm.generate("hi", response_format=City)
    rf = sent[1]["response_format"]
    assert (
        rf["type"] == "json_schema"
        and rf["json_schema"]["name"] == "City"
        and rf["json_schema"]["strict"] is True
    )
    assert rf["json_schema"]["schema"]["required"] == ["city", "country"]
    assert rf["json_schema"]["schema"]["additionalProperties"] is False
    assert resp.parsed == City(city="Paris", country="France")
    for body in sent:
        assert_valid_request(body)


def test_reasoning_models_get_max_completion_tokens() -> None:
    llm, sent = _capture()
    llm.generate("hi", model="o3-mini", max_tokens=10)
    llm.generate("hi", max_tokens=10)
    assert sent[0]["max_completion_tokens"] == 10 and "max_tokens" not in sent[0]
    assert sent[1]["max_tokens"] == 10


def test_history_with_tool_results_is_valid() -> None:
    llm, sent = _capture()
    history = [
        {"role": "user", "content": "weather?"},
        Message(role="assistant", tool_calls=[ToolCall.from_raw("call_1", "get_weather", '{"city": "Paris"}'), ToolCall.from_raw("call_2", "get_weather", '{"city": "Rome"}')]),  # noqa: E501
        Message(role="tool", tool_results=[{"call_id": "call_1", "name": "get_weather", "output": {"t": 20}}, {"call_id": "call_2", "name": "get_weather", "error": "timeout"}]),  # noqa: E501
    ]  # fmt: skip
    llm.generate(history, tools=[TOOL])
    messages = sent[0]["messages"]
    assert messages[1]["content"] is None
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": '{"t": 20}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "Error: the tool get_weather failed: timeout"},
    ]
    assert_valid_request(sent[0])


# -- connection reuse after a stream ------------------------------------------------------------


class _Body(httpx2.SyncByteStream):
    """A network-like body: one pass over the chunks, however many times it is iterated."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)
        self.read = 0
        self.closed = False

    def __iter__(self) -> Any:
        for chunk in self._chunks:
            self.read += 1
            yield chunk

    def close(self) -> None:
        self.closed = True


_C = b'data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,'
STREAM = [
    _C + b'"delta":{"content":"Hi"},"finish_reason":null}]}\n\n',
    _C + b'"delta":{},"finish_reason":"stop"}]}\n\n',
    b"data: [DONE]\n\n",
    b": trailing comment after DONE\n\n",
]


def _stream_llm(bodies: list[_Body]) -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = _Body(list(STREAM))
        bodies.append(body)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    return AbstractLLM.create(
        "openai",
        model="gpt-4o",
        api_key="sk-test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def test_stream_body_fully_read_and_closed() -> None:
    """A consumed stream is read to its end (past [DONE]), so its connection can go back to the pool."""
    bodies: list[_Body] = []
    stream = _stream_llm(bodies).generate("hi", stream=True)
    assert [c.content for c in stream if c.content] == ["Hi"]
    assert stream.response.content == "Hi" and stream.response.finish_reason == "stop"
    assert bodies[0].closed and bodies[0].read == len(STREAM)


def test_abandoned_stream_is_closed_not_drained() -> None:
    """Breaking out of a stream closes it without reading the rest: draining would keep paying for
    a generation the caller no longer wants (the connection is dropped instead of pooled)."""
    bodies: list[_Body] = []
    llm = _stream_llm(bodies)
    stream = llm.generate("hi", stream=True)
    for _ in stream:
        break
    stream.close()
    assert bodies[0].closed and bodies[0].read < len(STREAM)
    # the provider stays usable
    again = llm.generate("hi", stream=True)
    assert again.response.content == "Hi"
    # the same client serves the next call
    assert llm.generate("again", stream=True).response.content == "Hi"


# -- malformed counts and fragments (found by tests/test_fuzz_parsers.py) -------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (12, 12),
        (12.0, 12),
        (0, 0),
        (None, 0),
        (float("inf"), 0),
        (float("-inf"), 0),
        (float("nan"), 0),
        (True, 0),
        ("12", 0),
        ({"tokens": 3}, 0),
        ([1], 0),
    ],
)
def test_token_count_takes_finite_numbers_only(value: Any, expected: int) -> None:
    assert token_count(value) == expected


def test_usage_with_infinite_or_nan_counts_parses() -> None:
    usage = normalize_usage(
        {"prompt_tokens": 10, "completion_tokens": float("inf"), "total_tokens": float("nan")}
    )
    # a total that is not a count falls back to the sum, as when it is missing
    assert usage == {"prompt_tokens": 10, "completion_tokens": 0, "total_tokens": 10}
    body = {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": float("inf"), "completion_tokens": 2, "total_tokens": 7},
    }
    response = parse_chat_completion(body)
    assert response.content == "hi"
    assert response.usage == {"prompt_tokens": 0, "completion_tokens": 2, "total_tokens": 7}


def test_stream_with_non_string_fragments_still_assembles() -> None:
    state = ChatCompletionStreamState()
    state.feed(_chunk({"role": "assistant", "content": {"not": "text"}}))
    state.feed(_chunk({"content": "Hel", "refusal": 5, "reasoning": ["x"]}))
    state.feed(_chunk({"content": [{"type": "text", "text": "lo"}, {"text": 3}]}))
    state.feed(_chunk({"tool_calls": [_tc(0, "call_a", "get_weather", '{"city": "Paris"}')]}))
    state.feed(_chunk({"tool_calls": [_tc(1, "call_b", "get_weather", 7)]}))
    state.feed(_chunk(finish="tool_calls", usage={"prompt_tokens": 1, "completion_tokens": float("nan")}))
    text, complete = state.partial()
    assert text == "Hello"
    # the call whose arguments were a number is not complete: it reports its error instead
    assert [c.id for c in complete] == ["call_a"]
    response = state.result()
    assert response.content == "Hello"
    assert response.refusal is None
    assert response.provider_data is None
    assert response.usage == {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}
    calls = response.tool_calls
    assert calls is not None
    assert calls[0].arguments == {"city": "Paris"}
    assert calls[1].raw_arguments == "7"
    assert calls[1].arguments_error is not None


def test_stream_whole_argument_objects_are_still_read() -> None:
    # Ollama streams each call whole with an arguments object: a legitimate non-string
    state = ChatCompletionStreamState("ollama")
    state.feed(_chunk({"tool_calls": [_tc(0, "call_a", "get_weather", {"city": "Paris"})]}))
    state.feed(_chunk(finish="stop"))
    calls = state.result().tool_calls
    assert calls is not None
    assert calls[0].arguments == {"city": "Paris"}
    assert calls[0].arguments_error is None


def test_mistral_stream_and_body_with_odd_counts_and_content() -> None:
    state = MistralStreamState()
    state.feed(_chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "hm"}]}]}))
    state.feed(_chunk({"content": 42}))
    state.feed(_chunk({"content": "ok"}, finish="stop", usage={"prompt_tokens": float("-inf")}))
    assert state.partial() == ("ok", [])
    response = state.result()
    assert response.content == "ok"
    assert response.usage == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    body = {
        "id": "x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "a"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": float("inf"), "total_tokens": float("inf")},
    }
    assert parse_mistral(body).usage == {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}
