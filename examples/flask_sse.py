"""Stream a toolwire Session to a browser as Server-Sent Events, from a Flask app (sync).

    pip install "toolwire[flask]"
    OPENAI_API_KEY=... flask --app examples/flask_sse.py run
    curl -N 'http://127.0.0.1:5000/chat?q=Weather+in+Paris'

Each Session event becomes one SSE event (see docs/integrations.md). The view is a sync generator
over `Session.stream`: when the client goes away the WSGI server closes it and the session stops
before its next model call. Set TOOLWIRE_PROVIDER / TOOLWIRE_MODEL / TOOLWIRE_BASE_URL to use another
provider or an OpenAI-compatible server.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

from toolwire import AbstractLLM, Session
from toolwire.integrations.flask import sse_response


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


@functools.cache
def shared_llm(factory: Callable[[], Any]) -> Any:
    """One provider per process (per factory): it holds the connection pool, so every request reuses
    the open connections instead of opening (and leaking) a pool of its own."""
    return factory()


app = Flask(__name__)
app.config["LLM_FACTORY"] = make_llm  # swapped by the tests for a provider on a local fake server
app.config["TOOLS"] = [get_weather, get_local_time]


@app.get("/chat")
def chat() -> Response:
    question = request.args.get("q")
    if not question:
        return Response("the q parameter is required\n", status=400, mimetype="text/plain")
    session = Session(shared_llm(app.config["LLM_FACTORY"]), tools=app.config["TOOLS"])
    return sse_response(session, question)
