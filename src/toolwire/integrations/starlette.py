"""Starlette (and FastAPI) endpoints that stream a `Session` as Server-Sent Events.

    from toolwire.integrations.starlette import sse_response

    async def chat(request):
        session = Session(llm, tools=[get_weather])
        return sse_response(session, request.query_params["q"])

Install with `pip install "toolwire[starlette]"` (or `toolwire[fastapi]`). The events and their JSON
are those of `toolwire.integrations.sse`.

Disconnects: `SSEResponse` always listens for the client's `http.disconnect` while it streams and
cancels the stream when it arrives; cancelling `Session.astream` cancels the model call or the tools
it is running. Starlette's own `StreamingResponse` stops listening for ASGI spec 2.4 servers and then
only notices a disconnect when a write fails, which for a long-running tool (no events meanwhile)
would be when the tool has finished.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ..session import Session
from .sse import MEDIA_TYPE, SSE_HEADERS, astream_sse

__all__ = ["SSEResponse", "sse_response"]


class SSEResponse(StreamingResponse):
    """A `text/event-stream` response whose stream is cancelled as soon as the client disconnects."""

    media_type = MEDIA_TYPE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                try:
                    await self.stream_response(send)
                except OSError:  # spec 2.4 servers: writing to a closed connection
                    pass
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()
        if self.background is not None:
            await self.background()


def sse_response(
    session: Session,
    prompt: Any,
    *,
    headers: Mapping[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> SSEResponse:
    """Stream `session.astream(prompt)` as SSE. `headers` are added to the SSE ones (no-cache, no
    proxy buffering)."""
    return SSEResponse(
        astream_sse(session, prompt),
        headers={**SSE_HEADERS, **(headers or {})},
        background=background,
    )
