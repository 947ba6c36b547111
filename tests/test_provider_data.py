"""`provider_data` keyed by provider name: the new place, the deprecated top-level reads, and
histories recorded in the old shape (src/toolwire/_provider_data.py)."""

from __future__ import annotations

import copy
import json
import pickle
import warnings
from typing import Any

import pytest

from toolwire import GenerateResponse, Message, ToolCall
from toolwire._framing import SSEEvent
from toolwire._provider_data import ProviderData, keyed
from toolwire.logs import redact
from toolwire.providers.base import ChatRequest
from toolwire.providers.fallback import FallbackProvider
from toolwire.providers.openai import (
    ChatCompletionStreamState,
    OpenAICompatibleProvider,
    OpenAIProvider,
    parse_chat_completion,
)
from toolwire.types import coerce_message

FILTERS = {"hate": {"filtered": False, "severity": "safe"}}
PROMPT_FILTERS = [{"prompt_index": 0, "content_filter_results": FILTERS}]


def _body(**message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "m",
        "prompt_filter_results": PROMPT_FILTERS,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi", **message},
                "finish_reason": "stop",
                "content_filter_results": FILTERS,
            }
        ],
    }


def _no_deprecation() -> warnings.catch_warnings[Any]:
    guard = warnings.catch_warnings()
    guard.__enter__()
    warnings.simplefilter("error", DeprecationWarning)
    return guard


def test_openai_family_entries_sit_under_the_provider_name() -> None:
    resp = parse_chat_completion(_body(reasoning_content="hm"), provider="azure_openai")
    assert resp.provider_data == {
        "azure_openai": {
            "prompt_filter_results": PROMPT_FILTERS,
            "content_filter_results": FILTERS,
            "reasoning_content": "hm",
        }
    }
    # nothing at the top level but provider names
    assert set(dict(resp.provider_data or {})) == {"azure_openai"}


def test_an_unknown_finish_reason_joins_the_same_entry() -> None:
    body = _body(reasoning="r")
    body["choices"][0]["finish_reason"] = "eos"
    resp = parse_chat_completion(body, provider="openai_compatible")
    own = (resp.provider_data or {})["openai_compatible"]
    assert own["finish_reason"] == "eos" and own["reasoning"] == "r"
    assert own["content_filter_results"] == FILTERS


def test_a_streamed_turn_has_the_same_shape() -> None:
    state = ChatCompletionStreamState("openai_compatible")
    for payload in (
        {"id": "c", "choices": [], "prompt_filter_results": PROMPT_FILTERS},
        {"id": "c", "choices": [{"index": 0, "delta": {"reasoning_content": "a"}, "finish_reason": None}]},
        {"id": "c", "choices": [{"index": 0, "delta": {"reasoning_content": "b"}, "finish_reason": None}]},
        {
            "id": "c",
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": "x"},
                    "finish_reason": "stop",
                    "content_filter_results": FILTERS,
                }
            ],
        },
    ):
        state.feed(SSEEvent(None, json.dumps(payload)))
    state.feed(SSEEvent(None, "[DONE]"))
    assert state.result().provider_data == {
        "openai_compatible": {
            "prompt_filter_results": PROMPT_FILTERS,
            "reasoning_content": "ab",
            "content_filter_results": FILTERS,
        }
    }


@pytest.mark.parametrize("key", ["prompt_filter_results", "content_filter_results", "reasoning_content"])
def test_the_old_top_level_key_still_reads_with_a_warning_naming_the_new_place(key: str) -> None:
    data = parse_chat_completion(_body(reasoning_content="hm"), provider="azure_openai").provider_data
    assert isinstance(data, ProviderData)
    expected = data["azure_openai"][key]
    new_place = rf'read provider_data\["azure_openai"\]\["{key}"\]'
    with pytest.warns(DeprecationWarning, match=new_place):
        assert data[key] == expected
    with pytest.warns(DeprecationWarning, match=new_place):
        assert data.get(key) == expected
    with pytest.warns(DeprecationWarning, match=new_place):
        assert key in data


def test_keys_that_were_never_there_behave_as_in_a_dict() -> None:
    data = parse_chat_completion(_body(), provider="openai")
    assert data.provider_data is not None
    guard = _no_deprecation()
    try:
        assert data.provider_data.get("reasoning_content") is None  # the turn had none
        assert "reasoning" not in data.provider_data
        assert data.provider_data.get("nope", 1) == 1
        with pytest.raises(KeyError):
            data.provider_data["reasoning_content"]
        with pytest.raises(KeyError):
            data.provider_data["anything"]
        assert data.provider_data["openai"]["content_filter_results"] == FILTERS  # the new place: silent
    finally:
        guard.__exit__(None, None, None)


def test_it_serializes_pickles_copies_and_compares_as_a_plain_dict() -> None:
    data = parse_chat_completion(_body(reasoning_content="hm"), provider="azure_openai").provider_data
    assert isinstance(data, ProviderData)
    plain = json.loads(json.dumps(data))
    assert plain == data and data == plain and isinstance(plain, dict)
    assert "content_filter_results" not in plain  # only the new shape is written
    for clone in (pickle.loads(pickle.dumps(data)), copy.deepcopy(data), copy.copy(data), data.copy()):
        assert clone == plain and type(clone) is ProviderData
        with pytest.warns(DeprecationWarning):
            assert clone["reasoning_content"] == "hm"  # still forwards after the round trip
    assert redact(data) == plain  # the recorder's and the logs' copy


def test_the_assistant_message_keeps_the_forwarding_and_the_recorder_stores_the_new_shape() -> None:
    from toolwire._recorded_images import message_dict
    from toolwire.recorder import _dumps

    resp = parse_chat_completion(_body(reasoning_content="hm"), provider="openai_compatible")
    message = resp.to_message()
    assert isinstance(message.provider_data, ProviderData)
    with pytest.warns(DeprecationWarning, match="openai_compatible"):
        assert message.provider_data["reasoning_content"] == "hm"
    stored = json.loads(_dumps(message_dict(message)) or "null")
    assert stored["provider_data"] == {
        "openai_compatible": {
            "prompt_filter_results": PROMPT_FILTERS,
            "content_filter_results": FILTERS,
            "reasoning_content": "hm",
        }
    }


def _sent_reasoning(provider: Any, history: list[Message]) -> list[Any]:
    body = provider.build_body(ChatRequest(messages=history, model="m"))
    return [m.get("reasoning_content") for m in body["messages"] if m["role"] == "assistant"]


_CALL = ToolCall("call_1", "roll", {})


def test_deepseek_reasoning_echo_reads_the_new_place_and_old_shape_histories() -> None:
    provider = OpenAICompatibleProvider(base_url="http://127.0.0.1:9/v1")
    new = Message(
        "assistant", None, tool_calls=[_CALL], provider_data={"openai_compatible": {"reasoning_content": "n"}}
    )
    # a history saved before provider_data was keyed by name, passed back in as JSON
    old = coerce_message(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "roll", "arguments": "{}"}}
            ],
            "provider_data": {"reasoning_content": "o"},
        }
    )
    foreign = Message("assistant", "x", provider_data={"anthropic": {"reasoning_content": "f"}})
    guard = _no_deprecation()  # reading the user's own old history is not the user's mistake
    try:
        assert _sent_reasoning(provider, [Message("user", "go"), new, old, foreign]) == ["n", "o", None]
    finally:
        guard.__exit__(None, None, None)
    # OpenAI itself rejects the field: never echoed, whatever the shape
    openai = OpenAIProvider(api_key="k", model="m")
    assert _sent_reasoning(openai, [new, old]) == [None, None]


def test_a_round_trip_through_a_saved_history_sends_the_same_body() -> None:
    provider = OpenAICompatibleProvider(base_url="http://127.0.0.1:9/v1")
    body = _body(reasoning_content="think", content=None)
    body["choices"][0]["message"]["tool_calls"] = [
        {"id": "call_1", "type": "function", "function": {"name": "roll", "arguments": "{}"}}
    ]
    turn = provider.finish(
        ChatRequest(messages=[], model="m"), provider.parse_response(body, ChatRequest([], "m"))
    )
    saved = json.loads(json.dumps([turn.to_message().to_dict()]))
    restored = [coerce_message(m) for m in saved]
    assert _sent_reasoning(provider, restored) == _sent_reasoning(provider, [turn.to_message()]) == ["think"]


def test_content_filter_error_reads_the_new_place() -> None:
    from toolwire.errors import ContentFilterError

    provider = OpenAIProvider(api_key="k", model="m", raise_on_content_filter=True)
    body = _body()
    body["choices"][0]["finish_reason"] = "content_filter"
    request = ChatRequest(messages=[], model="m")
    with pytest.raises(ContentFilterError) as info:
        provider.finish(request, provider.parse_response(body, request))
    assert info.value.filter_results == FILTERS


def test_fallback_adds_its_entry_without_losing_the_forwarding() -> None:
    resp = GenerateResponse(content="x", provider_data=keyed({"openai": {"reasoning": "r"}}, "openai"))
    fallback = FallbackProvider.__new__(FallbackProvider)
    answered = fallback._answered(resp, 1, ["azure_openai"])
    assert answered.provider_data == {
        "openai": {"reasoning": "r"},
        "fallback": {"index": 1, "skipped": ["azure_openai"]},
    }
    with pytest.warns(DeprecationWarning):
        assert answered.provider_data["reasoning"] == "r"
