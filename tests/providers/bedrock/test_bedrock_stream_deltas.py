"""The typed `ToolCallDelta`s a ConverseStream chunk carries are built by the stream state itself
(issue 12: no `from_wire` pass over the dicts per event); they must be exactly what `from_wire`
reads from the same dicts, for recorded streams and for hostile `toolUseId`/`name` values."""

from __future__ import annotations

from typing import Any

import pytest
from bedrock_oracle import event

from support.replay import fixture_path, load_cassette
from toolwire._eventstream import EventStreamDecoder
from toolwire.providers.bedrock_response import BedrockStreamState
from toolwire.types import StreamChunk, ToolCallDelta

RECORDED = [
    "bedrock_converse_stream_tool_use_and_tool_result_stream.yaml",
    "bedrock_converse_stream_tool_use_fragmented_args_and_tool_result.yaml",
]


def _chunks(body: bytes) -> list[StreamChunk]:
    state = BedrockStreamState()
    return [chunk for message in EventStreamDecoder().feed(body) for chunk in state.feed(message)]


def _assert_typed_as_from_wire(chunks: list[StreamChunk]) -> int:
    seen = 0
    for chunk in chunks:
        if chunk.tool_call_deltas:
            expected = [ToolCallDelta.from_wire(d, i) for i, d in enumerate(chunk.tool_call_deltas)]
            assert chunk.tool_calls == expected
            seen += 1
    return seen


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_stream_deltas_equal_from_wire(name: str) -> None:
    bodies = [i.response.body for i in load_cassette(fixture_path("bedrock", name)).interactions]
    assert sum(_assert_typed_as_from_wire(_chunks(body)) for body in bodies) >= 2


@pytest.mark.parametrize(
    ("tool_id", "tool_name"),
    [("tooluse_1", "get_weather"), (123, "f"), ("", ""), (None, 7), ("tooluse_2", None)],
)
def test_odd_ids_and_names_are_typed_as_from_wire(tool_id: Any, tool_name: Any) -> None:
    start = {"toolUse": {"toolUseId": tool_id, "name": tool_name}}
    body = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event("contentBlockStart", {"contentBlockIndex": 1, "start": start}),
            event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a": '}}}),
            event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": {"x": 1}}}}),
            event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": "1}"}}}),
            event("contentBlockStop", {"contentBlockIndex": 1}),
            event("messageStop", {"stopReason": "tool_use"}),
        ]
    )
    chunks = _chunks(body)
    assert _assert_typed_as_from_wire(chunks) == 4
    first = next(c for c in chunks if c.tool_calls)
    assert first.tool_calls is not None and first.tool_calls[0].index == 0
