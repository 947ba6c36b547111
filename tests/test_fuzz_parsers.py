"""Fuzzing every wire format's readers with Hypothesis: malformed bodies, stream event sequences
and error bodies may only raise toolwire's typed errors (never KeyError, TypeError, ...).

Malformed inputs are built the way real breakage looks: a valid recorded-shape payload (from
tests/support/fault_server.py) with subtrees replaced by arbitrary JSON (wrong types at every level, nulls,
huge or odd numbers, empty containers), keys deleted, lists emptied; and streams with events
mutated, dropped, duplicated, reordered, cut short, interleaved with non-JSON data and `[DONE]`.

`TOOLWIRE_FUZZ_EXAMPLES` sets the examples per test (default 10,000); the counts run are checked
at the end of each test, so a smaller run can never be mistaken for the full one.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.fault_server import kits
from toolwire._eventstream import EventStreamDecoder, EventStreamMessage
from toolwire._framing import SSEDecoder, SSEEvent
from toolwire.errors import ProviderError, ToolwireError
from toolwire.providers.base import ChatRequest
from toolwire.tools.standardize import standardize_tool_response
from toolwire.types import GenerateResponse

EXAMPLES = int(os.environ.get("TOOLWIRE_FUZZ_EXAMPLES", "10000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,  # the same examples on every run: CI results are reproducible
    suppress_health_check=list(HealthCheck),
)

KITS = kits(key="fuzz-key-0000000000")
# one wire format each: azure_openai shares OpenAI's readers (same functions)
WIRES = ["openai", "anthropic", "gemini", "mistral", "bedrock"]
_PROVIDERS = {name: KITS[name].create("http://127.0.0.1:9") for name in WIRES}
_REQUEST = ChatRequest(messages=[], model="m", stream=True)


def _valid_bodies(wire: str) -> list[Any]:
    kit = KITS[wire]
    bodies = [kit.ok().body, kit.text_answer("hello").body]
    if kit.truncated_args is not None and kit.truncated_args().body is not None:
        bodies.append(kit.truncated_args().body)
    return bodies


def _valid_events(wire: str) -> list[Any]:
    if wire == "bedrock":  # binary AWS event-stream frames, not SSE
        frames = EventStreamDecoder()
        return [m for raw in KITS[wire].stream() for m in frames.feed(raw)]
    decoder = SSEDecoder()
    events = []
    for raw in KITS[wire].stream():
        for line in raw.decode().split("\n"):
            event = decoder.feed_line(line)
            if event is not None:
                events.append(event)
    return events


def _data(event: Any) -> str:
    return event.payload.decode() if isinstance(event, EventStreamMessage) else str(event.data)


def _keys(node: Any, out: set[str]) -> set[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            out.add(key)
            _keys(value, out)
    elif isinstance(node, list):
        for value in node:
            _keys(value, out)
    return out


KEYS: set[str] = set()
for _wire in WIRES:
    for _body in _valid_bodies(_wire):
        _keys(_body, KEYS)
    for _event in _valid_events(_wire):
        if _data(_event).startswith("{"):
            _keys(json.loads(_data(_event)), KEYS)
KEYS |= {"error", "message", "code", "status", "type", "details", "retryDelay", "innererror", "detail"}

# Generation is seeded by Hypothesis and done by a plain `random.Random`: a structured Hypothesis
# strategy costs ~3 ms per example in draws alone (measured), which would put 80,000 examples
# at 4+ minutes; one drawn seed per example keeps the run under a minute, and a failing example
# is printed whole by the assertion below (Hypothesis shrinks the seed, base payload and count).
ODD_STRINGS = [
    "",
    "{",
    '{"city": "Par',
    "[DONE]",
    "get_weather",
    "function",
    "tool_calls",
    "tool_use",
    "STOP",
    "MAX_TOKENS",
    "stop",
    "length",
    "content_filter",
    "text",
    "input_json_delta",
    "text_delta",
    "model",
    "user",
    "assistant",
    "call_1",
    "0",
    "-1",
    "null",
    "\u0000",
    "é" * 3,
    "x" * 300,
]
KEY_LIST = sorted(KEYS)


def _leaf(rng: random.Random) -> Any:
    kind = rng.randrange(8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, 1, -1, 2**31, -(2**63), 2**70, rng.randrange(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.0, -0.0, 1.5, 1e308, -1e-308, float("inf"), float("-inf"), float("nan")])
    if kind == 4:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(8)))
    return rng.choice(ODD_STRINGS)


def _value(rng: random.Random, budget: int = 8) -> Any:
    kind = rng.randrange(5)
    if budget <= 0 or kind < 3:
        return _leaf(rng)
    if kind == 3:
        return [_value(rng, budget // 2) for _ in range(rng.randrange(4))]
    return {
        rng.choice(KEY_LIST) if rng.random() < 0.8 else str(_leaf(rng)): _value(rng, budget // 2)
        for _ in range(rng.randrange(4))
    }


def _mutate(rng: random.Random, node: Any, depth: int = 0) -> Any:
    action = rng.choice(["replace", "descend", "descend", "descend", "delete", "empty"])
    if action == "replace" or depth > 12:
        return _value(rng)
    if isinstance(node, dict) and node:
        key = rng.choice(sorted(node))
        new = dict(node)
        if action == "delete":
            del new[key]
        elif action == "empty":
            new[key] = type(node[key])() if isinstance(node[key], (dict, list, str)) else None
        else:
            new[key] = _mutate(rng, node[key], depth + 1)
        return new
    if isinstance(node, list) and node:
        index = rng.randrange(len(node))
        new_list = list(node)
        if action == "delete":
            del new_list[index]
        elif action == "empty":
            new_list = []
        else:
            new_list[index] = _mutate(rng, node[index], depth + 1)
        return new_list
    return _value(rng)


@st.composite
def malformed_bodies(draw: Callable[[Any], Any], wire: str) -> Any:
    rng = random.Random(draw(st.integers(0, 2**64)))
    if draw(st.integers(0, 9)) == 0:
        return _value(rng)  # anything at all, even not an object
    body = draw(st.sampled_from(_valid_bodies(wire)))
    for _ in range(draw(st.integers(1, 4))):
        body = _mutate(rng, body)
    return body


def _rebuilt(event: Any, data: str, name: str | None = None, *, exception: bool = False) -> Any:
    """`event` with another payload (and event name): an SSE event, or an event-stream message
    (which may also become an exception message)."""
    if isinstance(event, EventStreamMessage):
        headers = dict(event.headers)
        if name is not None:
            headers[":event-type"] = name
        if exception:
            headers[":message-type"] = "exception"
            headers[":exception-type"] = name or "x"
        return EventStreamMessage(headers, data.encode())
    return SSEEvent(event.event if name is None else name, data)


@st.composite
def event_sequences(draw: Callable[[Any], Any], wire: str) -> list[Any]:
    rng = random.Random(draw(st.integers(0, 2**64)))
    mutation_rate = draw(st.sampled_from([0.0, 0.1, 0.3, 0.7]))
    out: list[Any] = []
    for event in _valid_events(wire):
        roll = rng.random()
        action = rng.choice(["mutate", "mutate", "drop", "dup", "junk"]) if roll < mutation_rate else "keep"
        if action == "drop":
            continue
        if action == "mutate" and _data(event).startswith("{"):
            payload = _mutate(rng, json.loads(_data(event)))
            out.append(_rebuilt(event, json.dumps(payload)))
        elif action == "junk":
            junk = rng.choice([json.dumps(_value(rng)), str(_leaf(rng)), "[DONE]"])
            name = rng.choice([None, "error", "ping", "message_delta", "x", "throttlingException"])
            out.append(_rebuilt(event, junk, name, exception=rng.random() < 0.2))
            out.append(event)
        else:
            out.append(event)
            if action == "dup":
                out.append(event)
    if draw(st.booleans()):
        out = out[: rng.randrange(len(out) + 1)]
    if len(out) > 1 and draw(st.integers(0, 4)) == 0:
        rng.shuffle(out)
    return out


COUNTS: dict[str, int] = {}


def _count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


class Failures:
    """Distinct untyped exceptions (by type and raising line), each with its first input: one run
    lists every bug instead of stopping at the first."""

    def __init__(self) -> None:
        self.found: dict[str, str] = {}

    def check(self, fn: Callable[[], Any], data: Any) -> None:
        try:
            fn()
        except ToolwireError:
            pass
        except Exception as exc:
            tb = exc.__traceback__
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}" if tb else "?"
            key = f"{type(exc).__name__} at {where.split('/src/')[-1]}"
            self.found.setdefault(key, f"{exc!r}\n    input: {data!r}"[:1500])

    def assert_none(self) -> None:
        assert not self.found, "untyped exceptions escaped:\n" + "\n".join(
            f"- {key}: {example}" for key, example in self.found.items()
        )


@pytest.mark.parametrize("wire", WIRES)
def test_malformed_responses_raise_only_typed_errors(wire: str) -> None:
    provider = _PROVIDERS[wire]
    name = f"responses:{wire}"
    COUNTS[name] = 0
    failures = Failures()

    def standardize(body: Any) -> None:
        calls = standardize_tool_response(body, wire)
        assert all(isinstance(c.arguments, dict) for c in calls)

    def error_of(status: int, body: Any) -> None:
        # the same body as an error response must map onto the error tree, never raise
        error = provider.map_error(
            status, {"retry-after": "junk", "retry-after-ms": "nan"}, json.dumps(body).encode()
        )
        assert isinstance(error, ProviderError)
        str(error)
        repr(error)

    @FUZZ
    @given(
        body=malformed_bodies(wire),
        status=st.sampled_from([400, 401, 403, 404, 408, 409, 429, 500, 503, 529]),
    )
    def run(body: Any, status: int) -> None:
        _count(name)
        failures.check(lambda: standardize(body), body)
        failures.check(lambda: provider.parse_response(body, _REQUEST), body)
        failures.check(lambda: error_of(status, body), (status, body))

    run()
    failures.assert_none()
    assert COUNTS[name] >= EXAMPLES


@pytest.mark.parametrize("wire", WIRES)
def test_malformed_streams_raise_only_typed_errors(wire: str) -> None:
    provider = _PROVIDERS[wire]
    name = f"streams:{wire}"
    COUNTS[name] = 0
    failures = Failures()

    def drive(events: list[Any]) -> None:
        state = provider.new_stream_state(_REQUEST)
        try:
            for event in events:
                state.feed(event)
                if state.done:
                    break
        except ToolwireError:
            pass
        text, calls = state.partial()  # what a StreamInterruptedError would carry: must not fail
        assert text is None or isinstance(text, str)
        assert all(c.arguments_error is None for c in calls)
        assert isinstance(state.result(), GenerateResponse)

    @FUZZ
    @given(events=event_sequences(wire))
    def run(events: list[Any]) -> None:
        _count(name)
        failures.check(lambda: drive(events), events)

    run()
    failures.assert_none()
    assert COUNTS[name] >= EXAMPLES


def test_zz_report_counts() -> None:
    """Prints the examples run per wire format (pytest -s shows it; the figures for the report)."""
    if not COUNTS:
        pytest.skip("run with the fuzz tests")
    print("\nfuzz examples:", json.dumps(COUNTS, sort_keys=True))
    assert len(COUNTS) == 2 * len(WIRES)
    assert all(count >= EXAMPLES for count in COUNTS.values())
