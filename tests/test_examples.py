"""examples/fastapi_sse.py: a Session's events streamed as SSE, checked against the local fake server."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.observe_support import fake_openai_server, make_llm

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fastapi_sse.py"


@pytest.fixture(scope="module")
def example() -> Any:
    spec = importlib.util.spec_from_file_location("fastapi_sse_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake"), FAKE_TOOL_CALLS="2") as url:
        yield url


def _events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_session_streams_as_sse(example: Any, server: str) -> None:
    example.app.state.llm_factory = lambda: make_llm(server, model="fake-model")
    with (
        TestClient(example.app) as client,
        client.stream("GET", "/chat", params={"q": "Weather?"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = _events(body)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "turn_finished"
    assert kinds[1:3] == ["tool_call_started", "tool_call_started"]
    assert kinds[3:5] == ["tool_result", "tool_result"]
    assert kinds[-1] == "session_finished"
    started = [data for kind, data in events if kind == "tool_call_started"]
    results = [data for kind, data in events if kind == "tool_result"]
    # results come as each tool finishes (toolwire.tools.early): any order, each call once
    assert sorted(s["id"] for s in started) == sorted(r["id"] for r in results)
    assert {s["name"] for s in started} <= {"get_weather", "get_local_time"}
    assert all(r["error"] is None and r["output"] for r in results)
    final = events[-1][1]
    assert final["finish_reason"] == "stop" and "Received 2 tool result(s)" in final["content"]


def test_provider_errors_arrive_as_an_sse_error_event(example: Any, server: str) -> None:
    # a wrong base path: the fake server answers 404, after the SSE response has started
    example.app.state.llm_factory = lambda: make_llm(server.replace("/v1", "/nope"), max_retries=0)
    with TestClient(example.app) as client:
        response = client.get("/chat", params={"q": "hi"})
    assert response.status_code == 200
    [(kind, data)] = _events(response.text)
    assert kind == "error"
    assert data["type"] in {"InvalidRequestError", "ProviderError"}
