"""A `Session` run as Server-Sent Events, independent of any web framework.

The framework modules (`starlette`/`fastapi`, `flask`, `django`) only wrap these generators in their
own streaming response. Wire format (WHATWG HTML, "Server-sent events"): one event is an
`event: <name>` line, one `data: <json>` line and a blank line. `json.dumps` escapes newlines inside
strings, so a single `data:` line always carries the whole payload and the browser's
`JSON.parse(event.data)` gets it back intact.

Events, in the order `Session.stream` yields them (see `toolwire.events`):

| event               | data                                                                        |
|---------------------|-----------------------------------------------------------------------------|
| `text_delta`        | `{"text"}`                                                                  |
| `turn_finished`     | `{"turn", "content", "finish_reason", "usage", "tool_calls"}` (a count)     |
| `tool_call_started` | `{"id", "name", "arguments", "arguments_error"}`                            |
| `tool_result`       | `{"id", "name", "output", "error", "is_error", "duration"}`                 |
| `session_finished`  | `{"content", "finish_reason", "usage", "model", "total_usage"}`             |
| `error`             | `{"type", "message"}` (+ `"status_code"` for provider errors)               |

Errors are in-band: once the `200` and its headers are sent, a failure can only be reported inside
the stream, so every failure ends the stream with one `error` event (never a stream that just stops).
A `ToolwireError` is sent with its type and message (they never hold credentials); any other exception
is logged on the server (logger `toolwire.integrations`) and sent as `InternalError` without its
message, which could hold anything.

Client disconnects: the async generator is cancelled by the framework (the tools the session is
running are cancelled with it, `Session.astream` semantics); the sync generator is closed by the WSGI
server at the `yield` where it noticed the disconnect, which stops the session loop there: no further
model call or tool batch starts. A sync tool that is already running cannot be interrupted (Python
cannot stop a thread): the server only learns of the disconnect when it fails to write the next event,
i.e. after that tool returns (or hits `Session(tool_timeout=...)`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from ..errors import ProviderError, ToolwireError
from ..events import (
    SessionEvent,
    SessionFinished,
    TextDelta,
    ToolCallStarted,
    ToolResultEvent,
    TurnFinished,
)

if TYPE_CHECKING:
    from ..session import Session

__all__ = [
    "MEDIA_TYPE",
    "SSE_HEADERS",
    "astream_sse",
    "encode_event",
    "error_data",
    "event_data",
    "format_sse",
    "stream_sse",
]

logger = logging.getLogger("toolwire.integrations")

MEDIA_TYPE = "text/event-stream"
# no-cache: an event stream must never be served from a cache. X-Accel-Buffering: nginx (and proxies
# that copy it) would otherwise buffer the response and deliver every event at the end.
# No `Connection: keep-alive`: it is a hop-by-hop header that WSGI forbids and HTTP/2 rejects.
SSE_HEADERS: Mapping[str, str] = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event_data(event: SessionEvent) -> dict[str, Any]:
    """The JSON-ready payload of one Session event: what a browser needs, not the raw objects."""
    if isinstance(event, TextDelta):
        return {"text": event.text}
    if isinstance(event, ToolCallStarted):
        call = event.call
        return {
            "id": call.id,
            "name": call.name,
            "arguments": call.arguments,
            "arguments_error": call.arguments_error,
            "early": event.early,  # started while the model was still answering (tools.early)
        }
    if isinstance(event, ToolResultEvent):
        result = event.result
        return {
            "id": result.call_id,
            "name": result.name,
            "output": result.output_text(),
            "error": result.error,
            "is_error": result.error is not None,
            "duration": result.duration,
            "started_at": event.started_at,
            "finished_at": event.finished_at,
        }
    if isinstance(event, TurnFinished):
        response = event.response
        calls = response.tool_calls.tool_calls if response.tool_calls else []
        return {
            "turn": event.turn,
            "content": response.content,
            "finish_reason": response.finish_reason,
            "usage": response.usage,
            "tool_calls": len(calls),
        }
    if isinstance(event, SessionFinished):
        response = event.response
        return {
            "content": response.content,
            "finish_reason": response.finish_reason,
            "usage": response.usage,
            "model": response.model,
        }
    raise TypeError(f"not a Session event: {type(event).__name__}")


def error_data(exc: BaseException) -> dict[str, Any]:
    """The payload of the `error` event for `exc` (see the module docstring for what is exposed)."""
    if not isinstance(exc, ToolwireError):
        return {"type": "InternalError", "message": "the server failed while running the session"}
    data: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ProviderError) and exc.status_code is not None:
        data["status_code"] = exc.status_code
    return data


def format_sse(event: str, data: Any) -> str:
    """One SSE event: `event: <event>`, one `data:` line of JSON, and the blank line that ends it."""
    if "\n" in event or "\r" in event:
        raise ValueError("an SSE event name cannot contain a line break")
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"event: {event}\ndata: {payload}\n\n"


def encode_event(event: SessionEvent) -> str:
    """A Session event as one SSE event, named after `event.type`."""
    return format_sse(event.type, event_data(event))


def _finished(event: SessionFinished, session: Session) -> str:
    return format_sse(event.type, {**event_data(event), "total_usage": session.usage})


def _error(exc: Exception) -> str:
    if not isinstance(exc, ToolwireError):
        logger.error("session stream failed", exc_info=exc)
    return format_sse("error", error_data(exc))


def stream_sse(session: Session, prompt: Any) -> Iterator[str]:
    """`session.stream(prompt)` as SSE text, for sync views (Flask, Django under WSGI).

    Closing this generator (what a WSGI server does when the client has gone) closes the session's
    stream at the same point: no further model call or tool batch is started.
    """
    # Session.stream is a generator function: it can be closed
    events = cast(Generator[SessionEvent, None, None], session.stream(prompt))
    try:
        for event in events:
            if isinstance(event, SessionFinished):
                yield _finished(event, session)
            else:
                yield encode_event(event)
    except Exception as exc:  # the 200 is already sent: report in-band, then end the stream cleanly
        yield _error(exc)
    finally:
        # closed at a yield (client gone): stop the session there. Not inside the `try`, so a failure
        # while closing surfaces to the server instead of being "reported" to a client that is gone.
        events.close()


async def astream_sse(session: Session, prompt: Any) -> AsyncIterator[str]:
    """`session.astream(prompt)` as SSE text, for async views (Starlette/FastAPI, Django under ASGI).

    Cancelling the task that iterates this generator (what the integrations do when the client
    disconnects) cancels the session run, including its running async tools.
    """
    events = cast(AsyncGenerator[SessionEvent, None], session.astream(prompt))
    try:
        async for event in events:
            if isinstance(event, SessionFinished):
                yield _finished(event, session)
            else:
                yield encode_event(event)
    except Exception as exc:  # cancellation is a BaseException and propagates
        yield _error(exc)
    finally:
        await events.aclose()
