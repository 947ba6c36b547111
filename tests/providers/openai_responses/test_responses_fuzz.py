"""Fuzzing the Responses readers with Hypothesis: recorded bodies and event streams with subtrees
replaced by arbitrary JSON, keys deleted, events dropped, duplicated, reordered or cut short may
only raise toolwire's typed errors (never KeyError, TypeError, ...). Seeds: the recorded fixtures.
`TOOLWIRE_FUZZ_EXAMPLES` sets the examples per test (default here 1,000)."""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.replay import fixture_path, load_cassette
from toolwire._framing import SSEDecoder, SSEEvent
from toolwire.errors import ToolwireError
from toolwire.providers.responses_wire import ResponsesStreamState, parse_response_body

EXAMPLES = min(int(os.environ.get("TOOLWIRE_FUZZ_EXAMPLES", "1000")), 10_000)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
SOURCES = [
    ("openai_responses", "openai_responses_reasoning_encrypted_content_store_false_replay.yaml"),
    ("openai_responses", "openai_responses_parallel_function_calls_previous_response_id.yaml"),
    ("open_responses", "deepseek_responses_reasoning_function_call_and_output.yaml"),
]
BODIES = [
    it.response.json()
    for folder, name in SOURCES
    for it in load_cassette(fixture_path(folder, name)).interactions
]
STREAMS: list[list[SSEEvent]] = []
for folder, name in [
    ("openai_responses", "openai_responses_stream_function_call_store_false.yaml"),
    ("azure_openai_responses", "azure_responses_api_version_stream_store_false.yaml"),
    ("open_responses", "openrouter_responses_stream_reasoning_text.yaml"),
]:
    decoder = SSEDecoder()
    events = [
        e
        for line in load_cassette(fixture_path(folder, name)).interactions[0].response.text.split("\n")
        if (e := decoder.feed_line(line)) is not None
    ]
    STREAMS.append(events)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _mutate(body: Any, path: tuple[Any, ...], replacement: Any, delete: bool) -> Any:
    body = json.loads(json.dumps(body))
    if not path:
        return replacement
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if delete and isinstance(parent, dict):
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = replacement
    return body


@FUZZ
@given(st.data())
def test_malformed_bodies_raise_only_typed_errors(data: st.DataObject) -> None:
    body = data.draw(st.sampled_from(BODIES))
    path = data.draw(st.sampled_from(_paths(body)))
    mutated = _mutate(body, path, data.draw(JSON), data.draw(st.booleans()))
    try:
        parse_response_body(mutated)
    except ToolwireError:
        pass


@FUZZ
@given(st.data())
def test_mangled_streams_raise_only_typed_errors(data: st.DataObject) -> None:
    events = list(data.draw(st.sampled_from(STREAMS)))
    for _ in range(data.draw(st.integers(0, 3))):
        action = data.draw(st.sampled_from(["drop", "dup", "swap", "cut", "mutate", "junk"]))
        i = data.draw(st.integers(0, len(events) - 1)) if events else 0
        if not events:
            break
        if action == "drop":
            events.pop(i)
        elif action == "dup":
            events.insert(i, events[i])
        elif action == "swap":
            j = data.draw(st.integers(0, len(events) - 1))
            events[i], events[j] = events[j], events[i]
        elif action == "cut":
            events = events[:i]
        elif action == "junk":
            events.insert(i, SSEEvent(data=data.draw(st.text(max_size=20)), event=None))
        else:
            payload = json.loads(events[i].data) if events[i].data.startswith("{") else {}
            path = data.draw(st.sampled_from(_paths(payload)))
            mutated = _mutate(payload, path, data.draw(JSON), data.draw(st.booleans()))
            events[i] = SSEEvent(data=json.dumps(mutated), event=events[i].event)
    state = ResponsesStreamState()
    try:
        for event in events:
            state.feed(event)
            if state.done:
                break
        state.partial()
        state.result()
    except ToolwireError:
        pass
