"""Flask views that stream a `Session` as Server-Sent Events (sync, driven by `Session.stream`).

    from flask import Flask, request
    from toolwire.integrations.flask import sse_response

    app = Flask(__name__)

    @app.get("/chat")
    def chat():
        return sse_response(Session(llm, tools=[get_weather]), request.args["q"])

Install with `pip install "toolwire[flask]"`. The events and their JSON are those of
`toolwire.integrations.sse`.

Disconnects: a WSGI server learns that the client has gone only when writing an event fails; it then
closes the response, which closes the generator at that event: the session loop stops there and no
further model call or tool batch starts. A sync tool that is already running is not interrupted (no
Python thread can be); it finishes (or hits `Session(tool_timeout=...)`) and its result is dropped.
Over TCP the first write after a disconnect often still succeeds, so the stop can come one event
later than the disconnect.

The generator runs after the view has returned, outside the request context. Pass
`with_request_context=True` if your tools use `flask.request`, `flask.g` or `session` (this wraps
the stream in `flask.stream_with_context`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import flask

from ..session import Session
from .sse import MEDIA_TYPE, SSE_HEADERS, stream_sse

__all__ = ["sse_response"]


def sse_response(
    session: Session,
    prompt: Any,
    *,
    headers: Mapping[str, str] | None = None,
    with_request_context: bool = False,
) -> flask.Response:
    """Stream `session.stream(prompt)` as SSE. `headers` are added to the SSE ones."""
    body: Iterator[str] = stream_sse(session, prompt)
    if with_request_context:
        body = flask.stream_with_context(body)
    return flask.Response(body, mimetype=MEDIA_TYPE, headers={**SSE_HEADERS, **(headers or {})})
