"""Stream a toolwire Session to a browser as Server-Sent Events, from a FastAPI endpoint.

    pip install toolwire fastapi uvicorn
    OPENAI_API_KEY=... uvicorn examples.fastapi_sse:app
    curl -N 'http://127.0.0.1:8000/chat?q=Weather+in+Paris'

Each Session event becomes one SSE event (`event: text_delta|turn_finished|tool_call_started|
tool_result|session_finished|error`, `data:` JSON). Set TOOLWIRE_PROVIDER / TOOLWIRE_MODEL /
TOOLWIRE_BASE_URL to use another provider or an OpenAI-compatible server.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import StreamingResponse

from toolwire import AbstractLLM, Session, ToolwireError
from toolwire.events import SessionFinished, TextDelta, ToolCallStarted, ToolResultEvent, TurnFinished


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city name, e.g. "Paris".
    """
    return f"18 degrees and cloudy in {city}"


def get_local_time(city: str) -> str:
    """Current local time in a city."""
    return "14:05"


def make_llm() -> Any:
    config: dict[str, Any] = {}
    if os.environ.get("TOOLWIRE_MODEL"):
        config["model"] = os.environ["TOOLWIRE_MODEL"]
    if os.environ.get("TOOLWIRE_BASE_URL"):
        config["base_url"] = os.environ["TOOLWIRE_BASE_URL"]
    return AbstractLLM.create(os.environ.get("TOOLWIRE_PROVIDER", "openai"), **config)


def event_payload(event: Any) -> dict[str, Any]:
    """A Session event as JSON-ready data (what the browser needs, not the raw objects)."""
    if isinstance(event, TextDelta):
        return {"text": event.text}
    if isinstance(event, ToolCallStarted):
        return {"id": event.call.id, "name": event.call.name, "arguments": event.call.arguments}
    if isinstance(event, ToolResultEvent):
        result = event.result
        return {
            "id": result.call_id,
            "name": result.name,
            "output": result.output_text(),
            "error": result.error,
        }
    if isinstance(event, (TurnFinished, SessionFinished)):
        response = event.response
        return {"content": response.content, "finish_reason": response.finish_reason, "usage": response.usage}
    return {}


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def stream_session(session: Session, prompt: str) -> AsyncIterator[str]:
    try:
        async for event in session.astream(prompt):
            yield sse(event.type, event_payload(event))
    except ToolwireError as exc:  # reported in-band: the 200 and its headers are already sent
        yield sse("error", {"type": type(exc).__name__, "message": str(exc)})


app = FastAPI(title="toolwire SSE example")


@app.get("/chat")
async def chat(q: str = Query(..., description="The user's message")) -> StreamingResponse:
    session = Session(app.state.llm_factory(), tools=[get_weather, get_local_time])
    return StreamingResponse(
        stream_session(session, q),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


app.state.llm_factory = make_llm
