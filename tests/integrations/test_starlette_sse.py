"""toolwire.integrations.starlette / .fastapi: examples/fastapi_sse.py through Starlette's TestClient
and httpx's ASGI transport against the fake OpenAI server, and client disconnects (driven by hand:
neither test client can disconnect mid-stream) cancelling the run and its running tools."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import httpx
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from support.observe_support import fake_openai_server, make_llm
from toolwire import Session
from toolwire.integrations import fastapi as fastapi_integration
from toolwire.integrations.starlette import SSEResponse, sse_response

from ._support import (
    PROMPT,
    ASGIDriver,
    AsyncBlocker,
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
    module = load_example("fastapi_sse")
    tools = module.app.state.tools
    module.app.state.llm_factory = lambda: make_llm(server)
    reset(server)
    yield module
    module.app.state.tools = tools


def test_fastapi_module_is_the_starlette_one() -> None:
    assert fastapi_integration.sse_response is sse_response
    assert fastapi_integration.SSEResponse is SSEResponse


def test_example_streams_a_whole_run_through_the_test_client(example: Any) -> None:
    with (
        TestClient(example.app) as client,
        client.stream("GET", "/chat", params={"q": PROMPT}) as response,
    ):
        assert response.status_code == 200
        check_sse_headers(response.headers)
        body = "".join(response.iter_text())
    check_complete_run(parse_sse(body), {"get_weather", "get_local_time"})


async def test_a_plain_starlette_app_through_httpx_asgi_transport(server: str) -> None:
    async def chat(request: Request) -> SSEResponse:
        session = Session(make_llm(server), tools=[example_weather, get_local_time])
        return sse_response(session, request.query_params["q"], headers={"x-run": "1"})

    app = Starlette(routes=[Route("/chat", chat)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/chat", params={"q": PROMPT})
    assert response.status_code == 200
    check_sse_headers(response.headers)
    assert response.headers["x-run"] == "1"
    check_complete_run(parse_sse(response.text), {"example_weather", "get_local_time"})


def example_weather(city: str) -> str:
    """Current weather for a city."""
    return f"rain in {city}"


def test_a_failing_tool_arrives_as_a_tool_result_with_its_error_flag(example: Any) -> None:
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        raise RuntimeError(f"sensor offline in {city}")

    example.app.state.tools = [get_weather, get_local_time]
    with TestClient(example.app) as client:
        events = parse_sse(client.get("/chat", params={"q": PROMPT}).text)
    results = {data["name"]: data for kind, data in events if kind == "tool_result"}
    assert results["get_weather"]["is_error"] is True
    assert "sensor offline in city-1" in results["get_weather"]["error"]
    assert results["get_local_time"]["is_error"] is False
    assert events[-1][0] == "session_finished"  # the model saw the error and answered


def test_a_provider_error_is_one_error_event_in_a_200(example: Any, server: str) -> None:
    example.app.state.llm_factory = lambda: make_llm(server, default_headers={"x-fake-status": "401"})
    with TestClient(example.app) as client:
        response = client.get("/chat", params={"q": PROMPT})
    assert response.status_code == 200
    [(kind, data)] = parse_sse(response.text)
    assert kind == "error"
    assert data["type"] == "AuthenticationError" and data["status_code"] == 401
    assert "x" not in data["message"].split()  # the api key ("x") is not echoed


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
async def test_disconnect_cancels_the_running_async_tool(
    example: Any, server: str, spec_version: str
) -> None:
    # Starlette's own StreamingResponse stops listening for http.disconnect at ASGI spec 2.4; SSEResponse
    # must notice the disconnect in both cases while the tool runs (no event is written meanwhile).
    blocker = AsyncBlocker()
    example.app.state.tools = [blocker.tool(), get_local_time]
    driver = ASGIDriver(example.app, "/chat", f"q={PROMPT}", spec_version)
    run = asyncio.create_task(driver.run())
    await asyncio.wait_for(blocker.started.wait(), 20)
    assert "event: tool_call_started" in driver.body()
    driver.disconnect()
    await asyncio.wait_for(run, 20)
    assert blocker.cancelled.is_set()
    # the fast tool's result may be sent already (each result as its tool finishes); the blocked one's never
    assert '"name":"get_weather","output"' not in driver.body() and "session_finished" not in driver.body()
    assert stats(server)["chat_requests"] == 1  # no model call after the disconnect
