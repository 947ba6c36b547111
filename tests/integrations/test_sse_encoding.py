"""toolwire.integrations.sse, the framework-neutral part: the encoding of each event, the error
payloads, in-band errors and closing/cancellation of the sync and async generators; and that
`import toolwire` loads none of it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from toolwire.errors import MaxTurnsExceeded, RateLimitError
from toolwire.events import SessionFinished, TextDelta, ToolCallStarted, ToolResultEvent, TurnFinished
from toolwire.integrations.sse import (
    SSE_HEADERS,
    astream_sse,
    encode_event,
    error_data,
    event_data,
    format_sse,
    stream_sse,
)
from toolwire.types import GenerateResponse, ToolCall, ToolCallRequest, ToolResult

from ._support import parse_sse

CALL = ToolCall(id="call_1", name="get_weather", arguments={"city": "Zürich"})
TOOL_TURN = GenerateResponse(
    content=None,
    tool_calls=ToolCallRequest(tool_calls=[CALL]),
    usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    finish_reason="tool_calls",
    model="m",
)
ANSWER = GenerateResponse(
    content="line one\nline two", usage={"total_tokens": 7}, finish_reason="stop", model="m"
)


def test_each_event_encodes_as_its_type_and_json_data() -> None:
    events = [
        TextDelta("a\r\nb"),
        TurnFinished(TOOL_TURN, 1),
        ToolCallStarted(CALL),
        ToolResultEvent(ToolResult(call_id="call_1", name="get_weather", output={"temp": 18}, duration=0.5)),
        ToolResultEvent(ToolResult(call_id="call_2", name="get_time", error="tool failed: boom")),
        SessionFinished(ANSWER),
    ]
    decoded = parse_sse("".join(encode_event(event) for event in events))
    assert decoded == [
        ("text_delta", {"text": "a\r\nb"}),
        (
            "turn_finished",
            {
                "turn": 1,
                "content": None,
                "finish_reason": "tool_calls",
                "usage": TOOL_TURN.usage,
                "tool_calls": 1,
            },
        ),
        (
            "tool_call_started",
            {
                "id": "call_1",
                "name": "get_weather",
                "arguments": {"city": "Zürich"},
                "arguments_error": None,
                "early": False,
            },
        ),
        (
            "tool_result",
            {
                "id": "call_1",
                "name": "get_weather",
                "output": '{"temp": 18}',
                "error": None,
                "is_error": False,
                "duration": 0.5,
                "started_at": None,
                "finished_at": None,
            },
        ),
        (
            "tool_result",
            {
                "id": "call_2",
                "name": "get_time",
                "output": "tool failed: boom",
                "error": "tool failed: boom",
                "is_error": True,
                "duration": None,
                "started_at": None,
                "finished_at": None,
            },
        ),
        (
            "session_finished",
            {
                "content": "line one\nline two",
                "finish_reason": "stop",
                "usage": {"total_tokens": 7},
                "model": "m",
            },
        ),
    ]
    assert "Zürich" in encode_event(ToolCallStarted(CALL))  # UTF-8 as is, not \\u escapes


def test_format_sse_keeps_one_data_line_and_rejects_a_broken_event_name() -> None:
    text = format_sse("x", {"s": "1\n2\r3\u2028"})
    assert text.count("\n") == 3 and json.loads(text.split("data: ", 1)[1]) == {"s": "1\n2\r3\u2028"}
    with pytest.raises(ValueError, match="line break"):
        format_sse("x\ndata: forged", {})
    with pytest.raises(TypeError, match="not a Session event"):
        event_data("text")  # type: ignore[arg-type]


def test_error_payloads() -> None:
    limited = RateLimitError("slow down", provider="openai", status_code=429, retry_after=2)
    assert error_data(limited) == {"type": "RateLimitError", "message": str(limited), "status_code": 429}
    assert error_data(MaxTurnsExceeded("too many turns")) == {
        "type": "MaxTurnsExceeded",
        "message": "too many turns",
    }
    assert error_data(ValueError("postgres://user:secret@db")) == {
        "type": "InternalError",
        "message": "the server failed while running the session",
    }
    assert SSE_HEADERS == {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ScriptedSession:
    """Stands in for Session.stream/astream: yields `events`, then raises `fail` if given, and
    records whether its generator was closed before the end."""

    def __init__(self, events: list[Any], fail: BaseException | None = None) -> None:
        self.events, self.fail = events, fail
        self.usage = {"total_tokens": 99}
        self.closed_early = False

    def stream(self, prompt: Any) -> Iterator[Any]:
        try:
            yield from self.events
            if self.fail is not None:
                raise self.fail
        except GeneratorExit:
            self.closed_early = True
            raise

    async def astream(self, prompt: Any) -> AsyncIterator[Any]:
        try:
            for event in self.events:
                yield event
                await asyncio.sleep(0)
            if self.fail is not None:
                raise self.fail
        except GeneratorExit:
            self.closed_early = True
            raise


def test_sync_stream_adds_total_usage_and_ends_on_an_error_event() -> None:
    session = ScriptedSession([TextDelta("hi"), SessionFinished(ANSWER)])
    events = parse_sse("".join(stream_sse(session, "q")))
    assert events[-1][1]["total_usage"] == {"total_tokens": 99}
    failing = ScriptedSession([TextDelta("hi")], fail=RateLimitError("slow down", status_code=429))
    assert [kind for kind, _ in parse_sse("".join(stream_sse(failing, "q")))] == ["text_delta", "error"]


def test_closing_the_sync_stream_closes_the_session_stream() -> None:
    session = ScriptedSession([TextDelta("a"), TextDelta("b"), SessionFinished(ANSWER)])
    stream = stream_sse(session, "q")
    assert next(stream).startswith("event: text_delta")
    stream.close()
    assert session.closed_early


async def test_async_stream_reports_errors_but_lets_cancellation_through() -> None:
    failing = ScriptedSession([TextDelta("hi")], fail=MaxTurnsExceeded("too many turns"))
    text = "".join([chunk async for chunk in astream_sse(failing, "q")])
    assert [kind for kind, _ in parse_sse(text)] == ["text_delta", "error"]

    cancelled = ScriptedSession([TextDelta("hi")], fail=asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        _ = [chunk async for chunk in astream_sse(cancelled, "q")]


async def test_closing_the_async_stream_closes_the_session_stream() -> None:
    session = ScriptedSession([TextDelta("a"), TextDelta("b"), SessionFinished(ANSWER)])
    stream = astream_sse(session, "q")
    assert (await stream.__anext__()).startswith("event: text_delta")
    await stream.aclose()
    assert session.closed_early


def test_import_toolwire_loads_no_integration_and_no_framework() -> None:
    code = "import sys, json, toolwire; print(json.dumps(sorted(sys.modules)))"
    modules = set(
        json.loads(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
    )
    assert not {m for m in modules if m.startswith("toolwire.integrations")}
    assert not {m.split(".")[0] for m in modules} & {
        "flask",
        "django",
        "starlette",
        "fastapi",
        "werkzeug",
        "anyio",
    }


def test_the_neutral_module_needs_no_framework() -> None:
    code = "import sys, json, toolwire.integrations.sse; print(json.dumps(sorted(sys.modules)))"
    modules = set(
        json.loads(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        )
    )
    assert not {m.split(".")[0] for m in modules} & {"flask", "django", "starlette", "fastapi"}
