"""toolwire.integrations.flask: examples/flask_sse.py through Flask's test client against the fake
OpenAI server. A WSGI server that sees the client gone closes the response; `response.close()` on an
unbuffered test response does exactly that, at the event we choose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("flask")

import flask

from support.observe_support import fake_openai_server, make_llm
from toolwire import Session
from toolwire.integrations.flask import sse_response

from ._support import (
    PROMPT,
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
    module = load_example("flask_sse")
    config = dict(module.app.config)
    module.app.config["LLM_FACTORY"] = lambda: make_llm(server)
    reset(server)
    yield module
    module.app.config.update(config)


def test_example_streams_a_whole_run(example: Any) -> None:
    response = example.app.test_client().get("/chat", query_string={"q": PROMPT})
    assert response.status_code == 200
    check_sse_headers(response.headers)
    check_complete_run(parse_sse(response.get_data(as_text=True)), {"get_weather", "get_local_time"})


def test_events_are_written_one_by_one(example: Any) -> None:
    # unbuffered: each event is its own chunk, handed to the server as soon as it exists
    response = example.app.test_client().get("/chat", query_string={"q": PROMPT}, buffered=False)
    chunks = [chunk.decode() for chunk in response.iter_encoded()]
    response.close()
    assert all(chunk.count("\n\n") == 1 and chunk.endswith("\n\n") for chunk in chunks)
    assert [chunk.split("\n", 1)[0] for chunk in chunks[:3]] == [
        "event: turn_finished",
        "event: tool_call_started",
        "event: tool_call_started",
    ]


def test_missing_question_is_a_plain_400(example: Any) -> None:
    response = example.app.test_client().get("/chat")
    assert response.status_code == 400
    assert response.mimetype == "text/plain"


def test_a_provider_error_is_one_error_event_in_a_200(example: Any, server: str) -> None:
    example.app.config["LLM_FACTORY"] = lambda: make_llm(server, default_headers={"x-fake-status": "429"})
    response = example.app.test_client().get("/chat", query_string={"q": PROMPT})
    assert response.status_code == 200
    [(kind, data)] = parse_sse(response.get_data(as_text=True))
    assert kind == "error"
    assert data["type"] == "RateLimitError" and data["status_code"] == 429


def test_a_bug_in_the_app_is_logged_and_sent_without_its_message(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = flask.Flask("bug")

    def approve(call: Any, tool: Any) -> Any:
        raise KeyError("internal-detail-sk-123")

    @app.get("/chat")
    def chat() -> flask.Response:
        return sse_response(Session(make_llm(server), tools=[get_local_time], approve=approve), PROMPT)

    response = app.test_client().get("/chat")
    events = parse_sse(response.get_data(as_text=True))
    assert [kind for kind, _ in events] == [
        "turn_finished",
        "tool_call_started",
        "tool_call_started",
        "error",
    ]
    assert events[-1][1] == {
        "type": "InternalError",
        "message": "the server failed while running the session",
    }
    assert "internal-detail-sk-123" not in response.get_data(as_text=True)
    [record] = [r for r in caplog.records if r.name == "toolwire.integrations"]
    assert record.exc_info is not None and isinstance(record.exc_info[1], KeyError)


def test_request_context_is_kept_for_tools_when_asked(server: str) -> None:
    app = flask.Flask("ctx")

    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"{flask.request.args['unit']} in {city}"

    @app.get("/chat")
    def chat() -> flask.Response:
        session = Session(make_llm(server), tools=[get_weather, get_local_time])
        return sse_response(session, PROMPT, with_request_context=True)

    events = parse_sse(app.test_client().get("/chat?unit=celsius").get_data(as_text=True))
    outputs = {data["name"]: data["output"] for kind, data in events if kind == "tool_result"}
    assert outputs["get_weather"] == "celsius in city-1"


@pytest.mark.parametrize("stop_after", ["tool_call_started", "tool_result"])
def test_closing_the_response_stops_the_session(example: Any, server: str, stop_after: str) -> None:
    gate = SyncGate()
    gate.release.set()
    example.app.config["TOOLS"] = [gate.tool(), get_local_time]
    response = example.app.test_client().get("/chat", query_string={"q": PROMPT}, buffered=False)
    seen = []
    for chunk in response.iter_encoded():
        seen.append(chunk.decode().split("\n", 1)[0])
        if seen[-1] == f"event: {stop_after}":
            break
    response.close()  # what the WSGI server does once a write to the gone client fails
    assert stats(server)["chat_requests"] == 1  # the loop stopped: no second model call, ever
    # closed before the batch: the tools never ran; closed after a result: the batch had finished
    assert gate.calls == (0 if stop_after == "tool_call_started" else 1)


def test_a_real_disconnect_under_a_wsgi_server(example: Any, server: str) -> None:
    # End to end under Werkzeug's WSGI server: the client goes away while a sync tool runs. The tool
    # cannot be interrupted, so it finishes; writing its result then fails, the server closes the
    # response, and the session stops before the model call that would have followed.
    import socket
    import threading

    from werkzeug.serving import make_server

    gate = SyncGate()
    closed = threading.Event()
    example.app.config["TOOLS"] = [gate.tool(), get_local_time]
    app = flask.Flask("wsgi")

    @app.get("/chat")
    def chat() -> flask.Response:
        response = example.chat()
        response.call_on_close(closed.set)
        return response

    wsgi = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=wsgi.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", wsgi.server_port), timeout=20) as client:
            client.sendall(b"GET /chat?q=Weather HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            received = b""
            while b"event: tool_call_started" not in received:
                received += client.recv(65536)
            assert gate.started.wait(20)
        gate.release.set()  # the tool returns after the client has gone
        assert closed.wait(20), "the server never closed the response"
        assert gate.calls == 1
        assert stats(server)["chat_requests"] == 1  # the second model call never happened
    finally:
        gate.release.set()
        wsgi.shutdown()
        thread.join(10)
