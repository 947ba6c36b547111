"""Each provider's "this call is complete" signal (`StreamChunk.completed_calls`), read from recorded
streams (../shared/fixtures/recorded, see its README for sources): every call of the turn is reported
exactly once, equal to the call the finished turn holds, and no later than the turn's finish; where
the recording streams calls one after another, the first is reported before the stream ends.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.replay import fixture_path
from toolwire._eventstream import EventStreamDecoder
from toolwire._framing import SSEDecoder
from toolwire.providers.anthropic import AnthropicStreamState
from toolwire.providers.bedrock_response import BedrockStreamState
from toolwire.providers.gemini import GeminiStreamState
from toolwire.providers.mistral import MistralStreamState
from toolwire.providers.openai import ChatCompletionStreamState
from toolwire.providers.responses_wire import ResponsesStreamState
from toolwire.testing import load_cassette

CASES: list[tuple[str, str, Any, bool]] = [
    # (provider dir, fixture, state factory, first call reported strictly before the finish)
    ("openai", "openai_parallel_tool_calls_stream.yaml", ChatCompletionStreamState, True),
    ("azure_openai", "azure_tool_call_stream.yaml", ChatCompletionStreamState, False),
    ("anthropic", "anthropic_parallel_tool_use_stream_input_json_delta.yaml", AnthropicStreamState, True),
    (
        "anthropic",
        "anthropic_parallel_tool_use_no_args_stream_and_tool_results.yaml",
        AnthropicStreamState,
        True,
    ),
    ("gemini", "gemini_stream_two_function_calls_sse.yaml", GeminiStreamState, False),
    ("gemini", "gemini_parallel_function_calls_stream_sse.yaml", GeminiStreamState, False),
    ("mistral", "mistral_tool_call_stream.yaml", MistralStreamState, False),
    (
        "openai_responses",
        "openai_responses_stream_function_call_arguments_delta_and_output.yaml",
        ResponsesStreamState,
        True,
    ),
    (
        "openai_responses",
        "openai_responses_stream_function_call_store_false.yaml",
        ResponsesStreamState,
        True,
    ),
    # ConverseStream: contentBlockStop comes before messageStop
    ("bedrock", "bedrock_converse_stream_tool_use_and_tool_result_stream.yaml", BedrockStreamState, True),
    (
        "bedrock",
        "bedrock_converse_stream_tool_use_fragmented_args_and_tool_result.yaml",
        BedrockStreamState,
        True,
    ),
]


def _events(body: bytes) -> list[Any]:
    if not body.startswith(b"data:") and not body.startswith(b"event:"):
        return list(EventStreamDecoder().feed(body))  # Bedrock's binary event stream
    decoder, events = SSEDecoder(), []
    for line in body.decode("utf-8").splitlines():
        event = decoder.feed_line(line.rstrip("\r"))
        if event is not None:
            events.append(event)
    last = decoder.flush()
    return events + ([last] if last is not None else [])


def _first_stream(provider_dir: str, name: str) -> bytes:
    cassette = load_cassette(fixture_path(provider_dir, name))
    for interaction in cassette.interactions:
        content_type = interaction.response.headers.get("content-type", "")
        if interaction.response.is_stream or "eventstream" in content_type:
            return interaction.response.body
    raise AssertionError(f"{name} holds no stream")


@pytest.mark.parametrize(
    ("provider_dir", "name", "factory", "strictly_before"), CASES, ids=[c[1] for c in CASES]
)
def test_every_call_is_reported_once_when_complete(
    provider_dir: str, name: str, factory: Any, strictly_before: bool
) -> None:
    state = factory()
    reported: list[tuple[int, Any]] = []
    finish_at: int | None = None
    position = 0
    for event in _events(_first_stream(provider_dir, name)):
        for chunk in state.feed(event):
            position += 1
            for call in chunk.completed_calls or ():
                reported.append((position, call))
            if chunk.finish_reason is not None and finish_at is None:
                finish_at = position
        if state.done:
            break
    response = state.result()
    assert response.tool_calls, "the recording asks for tools"
    final = [(c.id, c.name, c.arguments) for c in response.tool_calls]
    assert [(c.id, c.name, c.arguments) for _, c in reported] == final
    assert all(c.arguments_error is None for _, c in reported)
    assert finish_at is not None
    assert all(at <= finish_at for at, _ in reported)
    if strictly_before:
        assert reported[0][0] < finish_at
