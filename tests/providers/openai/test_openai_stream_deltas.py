"""The chat stream state types each tool-call delta while merging it (providers/openai_stream.py):
a chunk's `tool_calls` must be exactly what `ToolCallDelta.from_wire` reads from the same dicts,
for every shape servers send (OpenAI fragments, ids late or repeated, no index, flat deltas,
whole argument objects), and chunks without tool calls keep `tool_calls` None."""

from __future__ import annotations

import json
from typing import Any

import pytest

from toolwire._framing import SSEEvent
from toolwire.providers.openai_stream import ChatCompletionStreamState
from toolwire.types import ToolCallDelta

DELTAS: list[list[dict[str, Any]]] = [
    # OpenAI: id, type and name first with empty arguments, then index-only fragments
    [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}],
    [{"index": 0, "function": {"arguments": '{"x": '}}],
    [{"index": 0, "function": {"arguments": "1}"}}],
    # two calls in one chunk (vLLM), the second one's id arriving after its first fragment
    [
        {"index": 1, "function": {"name": "g", "arguments": "{}"}},
        {"index": 2, "function": {"arguments": "{"}},
    ],
    [{"index": 2, "id": "call_c", "function": {"name": "h", "arguments": "}"}}],
    # no index (Mistral whole calls), a non-string id, a whole argument object (Ollama)
    [{"id": 7, "function": {"name": "m", "arguments": {"a": "é"}}}],
    # flat deltas (no `function` object): read as from_wire reads them
    [{"index": 4, "id": "call_f", "name": "flat", "arguments": '{"k": 1}'}],
    # a bool index is no index; an empty name is no name; null arguments are ""
    [{"index": True, "id": "call_b", "function": {"name": "", "arguments": None}}],
    # numbers as arguments (a broken server): JSON text, as from_wire gives it
    [{"index": 5, "id": "call_n", "function": {"name": "n", "arguments": 12}}],
]


def _chunk(deltas: list[dict[str, Any]] | None, **delta: Any) -> SSEEvent:
    if deltas is not None:
        delta["tool_calls"] = deltas
    payload = {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }
    return SSEEvent(None, json.dumps(payload))


def test_typed_deltas_are_what_from_wire_reads() -> None:
    state = ChatCompletionStreamState()
    for deltas in DELTAS:
        (chunk,) = state.feed(_chunk(deltas))
        expected = [ToolCallDelta.from_wire(d, i) for i, d in enumerate(deltas)]
        assert chunk.tool_calls == expected
        assert chunk.tool_call_deltas == deltas
    assert state.feed(SSEEvent(None, "[DONE]")) == []
    calls = state.result().tool_calls
    assert calls is not None
    # what the turn assembled is unchanged by the typing (as read before it)
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_a", "f", {"x": 1}),
        ("call_b", "g", {}),  # a bool index is looked up as index 1 (True == 1)
        ("call_c", "h", {}),
        ("7", "m", {"a": "é"}),
        ("call_f", "", {}),  # a flat delta's name and arguments are not merged into the call
        ("call_n", "n", {}),
    ]
    assert calls[5].arguments_error is not None


def test_a_text_chunk_has_no_tool_calls() -> None:
    state = ChatCompletionStreamState()
    (chunk,) = state.feed(_chunk(None, role="assistant", content="hi"))
    assert chunk.content == "hi" and chunk.tool_calls is None and chunk.tool_call_deltas is None


@pytest.mark.parametrize(
    "delta",
    [
        {"refusal": "no"},
        {"reasoning_content": "think"},
        {"function_call": {"name": "legacy", "arguments": "{}"}},
    ],
)
def test_deltas_beyond_text_and_tool_calls_are_still_read(delta: dict[str, Any]) -> None:
    state = ChatCompletionStreamState()
    state.feed(_chunk(None, **delta))
    finish = {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    state.feed(SSEEvent(None, json.dumps(finish)))
    result = state.result()
    if "refusal" in delta:
        assert result.refusal == "no"
    elif "reasoning_content" in delta:
        assert result.provider_data is not None
        assert result.provider_data["openai"]["reasoning_content"] == "think"
    else:
        assert result.tool_calls is not None and result.tool_calls.tool_calls[0].name == "legacy"
