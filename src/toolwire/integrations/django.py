"""Django views that stream a `Session` as Server-Sent Events.

    from django.http import HttpRequest, StreamingHttpResponse
    from toolwire.integrations.django import asse_response, sse_response

    def chat(request: HttpRequest) -> StreamingHttpResponse:          # WSGI (sync view)
        return sse_response(Session(llm, tools=[get_weather]), request.GET["q"])

    async def achat(request: HttpRequest) -> StreamingHttpResponse:   # ASGI (async view)
        return asse_response(Session(llm, tools=[get_weather]), request.GET["q"])

Install with `pip install "toolwire[django]"` (Django 5.0 or later: that is the release whose ASGI
handler cancels the response when the client disconnects). The events and their JSON are those of
`toolwire.integrations.sse`.

Pick the view for the server: `sse_response` (a sync generator over `Session.stream`) under WSGI,
`asse_response` (an async generator over `Session.astream`) under ASGI. Django serves a sync
streaming response under ASGI by reading it *whole* in a thread before sending anything (it warns
about it), which defeats streaming.

Disconnects: under ASGI, Django cancels the response task when the client disconnects, which cancels
`Session.astream` and the async tools it is running. Under WSGI the server closes the response when a
write fails, which closes the generator at that event: no further model call or tool batch starts,
and a sync tool already running finishes (it cannot be interrupted) with its result dropped.

Compression: `GZipMiddleware` also compresses streaming responses, and its compressor holds small
writes back, so events would arrive late and in bursts: keep these views out of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import StreamingHttpResponse

from ..session import Session
from .sse import MEDIA_TYPE, SSE_HEADERS, astream_sse, stream_sse

__all__ = ["asse_response", "sse_response"]


def sse_response(
    session: Session, prompt: Any, *, headers: Mapping[str, str] | None = None
) -> StreamingHttpResponse:
    """For sync views (WSGI): stream `session.stream(prompt)` as SSE in a `StreamingHttpResponse`."""
    return _response(stream_sse(session, prompt), headers)


def asse_response(
    session: Session, prompt: Any, *, headers: Mapping[str, str] | None = None
) -> StreamingHttpResponse:
    """For async views (ASGI): stream `session.astream(prompt)` as SSE in a `StreamingHttpResponse`."""
    return _response(astream_sse(session, prompt), headers)


def _response(content: Any, headers: Mapping[str, str] | None) -> StreamingHttpResponse:
    return StreamingHttpResponse(content, content_type=MEDIA_TYPE, headers={**SSE_HEADERS, **(headers or {})})
