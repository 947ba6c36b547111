"""Stream a toolwire Session to a browser as Server-Sent Events, from a one-file Django project.

    pip install "toolwire[django]" uvicorn
    OPENAI_API_KEY=... python examples/django_sse.py runserver          # WSGI: the sync view /chat
    OPENAI_API_KEY=... uvicorn examples.django_sse:asgi_application     # ASGI: the async view /achat
    curl -N 'http://127.0.0.1:8000/achat?q=Weather+in+Paris'

`/chat` is a sync generator over `Session.stream` (serve it with WSGI), `/achat` an async one over
`Session.astream` (serve it with ASGI: a client disconnect then cancels the run and its tools). See
docs/integrations.md. Set TOOLWIRE_PROVIDER / TOOLWIRE_MODEL / TOOLWIRE_BASE_URL to use another
provider or an OpenAI-compatible server.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any

from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "toolwire-example-not-secret"),
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost", "testserver"],
        MIDDLEWARE=[],  # no GZipMiddleware: a compressor would hold the events back
        INSTALLED_APPS=[],
        DATABASES={},
    )

from django.core.asgi import get_asgi_application  # after settings.configure: Django reads them on import
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.urls import path

from toolwire import AbstractLLM, Session
from toolwire.integrations.django import asse_response, sse_response


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


# swapped by the tests for a provider pointed at a local fake server, and for their own tools
config: dict[str, Any] = {"llm_factory": make_llm, "tools": [get_weather, get_local_time]}


def _session() -> Session:
    return Session(shared_llm(config["llm_factory"]), tools=config["tools"])


def chat(request: HttpRequest) -> HttpResponse:
    question = request.GET.get("q")
    if not question:
        return HttpResponseBadRequest("the q parameter is required\n")
    return sse_response(_session(), question)  # type: ignore[no-any-return]


async def achat(request: HttpRequest) -> HttpResponse:
    question = request.GET.get("q")
    if not question:
        return HttpResponseBadRequest("the q parameter is required\n")
    return asse_response(_session(), question)  # type: ignore[no-any-return]


urlpatterns = [path("chat", chat), path("achat", achat)]
application = get_wsgi_application()
asgi_application = get_asgi_application()

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
