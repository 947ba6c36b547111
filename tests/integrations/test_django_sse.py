"""toolwire.integrations.django: examples/django_sse.py through Django's test Client (sync view) and
AsyncClient (async view) against the fake OpenAI server; disconnects through Django's own ASGI
handler (which cancels the response on `http.disconnect`) and by closing the sync response (what a
WSGI server does when the client has gone)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("django")

from support.observe_support import fake_openai_server, make_llm

from ._support import (
    PROMPT,
    ASGIDriver,
    AsyncBlocker,
    SyncGate,
    check_complete_run,
    check_sse_headers,
    get_local_time,
    load_example,
    parse_sse,
    reset,
    stats,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake"), FAKE_TOOL_CALLS="2") as url:
        yield url


@pytest.fixture
def example(server: str) -> Iterator[Any]:
    module = load_example("django_sse")
    config = dict(module.config)
    module.config["llm_factory"] = lambda: make_llm(server)
    reset(server)
    yield module
    module.config.update(config)


def _text(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


async def _atext(response: Any) -> str:
    return b"".join([chunk async for chunk in response.streaming_content]).decode()


def test_sync_view_streams_a_whole_run(example: Any) -> None:
    from django.test import Client

    response = Client().get("/chat", {"q": PROMPT})
    assert response.status_code == 200 and response.streaming
    check_sse_headers(response.headers)
    check_complete_run(parse_sse(_text(response)), {"get_weather", "get_local_time"})


async def test_async_view_streams_a_whole_run(example: Any) -> None:
    from django.test import AsyncClient

    response = await AsyncClient().get("/achat", {"q": PROMPT})
    assert response.status_code == 200 and response.is_async
    check_sse_headers(response.headers)
    check_complete_run(parse_sse(await _atext(response)), {"get_weather", "get_local_time"})


async def test_async_view_reports_a_provider_error_in_band(example: Any, server: str) -> None:
    from django.test import AsyncClient

    example.config["llm_factory"] = lambda: make_llm(server.replace("/v1", "/nope"), max_retries=0)
    response = await AsyncClient().get("/achat", {"q": PROMPT})
    assert response.status_code == 200
    [(kind, data)] = parse_sse(await _atext(response))
    assert kind == "error" and data["status_code"] == 404


def test_sync_view_reports_a_provider_error_in_band(example: Any, server: str) -> None:
    from django.test import Client

    example.config["llm_factory"] = lambda: make_llm(server, default_headers={"x-fake-status": "503"})
    response = Client().get("/chat", {"q": PROMPT})
    [(kind, data)] = parse_sse(_text(response))
    assert kind == "error" and data["type"] == "ServerError" and data["status_code"] == 503


def test_missing_question_is_a_plain_400(example: Any) -> None:
    from django.test import Client

    assert Client().get("/chat").status_code == 400


def test_closing_the_sync_response_stops_the_session(example: Any, server: str) -> None:
    from django.test import Client

    gate = SyncGate()
    gate.release.set()
    example.config["tools"] = [gate.tool(), get_local_time]
    response = Client().get("/chat", {"q": PROMPT})
    kinds = []
    for chunk in response.streaming_content:
        kinds.append(chunk.decode().split("\n", 1)[0])
        if kinds[-1] == "event: tool_result":
            break
    response.close()  # Django's close() closes the generator (the WSGI server calls it)
    assert gate.calls == 1
    assert stats(server)["chat_requests"] == 1
    with pytest.raises(StopIteration):  # closed for good: nothing more comes out
        next(iter(response.streaming_content))


async def test_disconnect_through_the_asgi_handler_cancels_the_running_tool(
    example: Any, server: str
) -> None:
    blocker = AsyncBlocker()
    example.config["tools"] = [blocker.tool(), get_local_time]
    driver = ASGIDriver(example.asgi_application, "/achat", f"q={PROMPT}")
    run = asyncio.create_task(driver.run())
    await asyncio.wait_for(blocker.started.wait(), 20)
    assert "event: tool_call_started" in driver.body()
    driver.disconnect()
    await asyncio.wait_for(run, 20)
    assert blocker.cancelled.is_set()
    # the fast tool's result may be sent already (each result as its tool finishes); the blocked one's never
    assert '"name":"get_weather","output"' not in driver.body()
    assert stats(server)["chat_requests"] == 1
