"""FastAPI endpoints that stream a `Session` as Server-Sent Events.

FastAPI returns Starlette responses, so this is `toolwire.integrations.starlette` under the name
FastAPI users look for:

    from fastapi import FastAPI
    from toolwire.integrations.fastapi import SSEResponse, sse_response

    app = FastAPI()

    @app.get("/chat", response_class=SSEResponse)
    async def chat(q: str) -> SSEResponse:
        return sse_response(Session(llm, tools=[get_weather]), q)

Install with `pip install "toolwire[fastapi]"`.
"""

from __future__ import annotations

from .starlette import SSEResponse, sse_response

__all__ = ["SSEResponse", "sse_response"]
