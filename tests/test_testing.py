"""toolwire.testing: record real HTTP exchanges (against a local server) and replay them offline."""

from __future__ import annotations

import base64
import gzip
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from support.replay import fixture_path
from toolwire._framing import iter_sse
from toolwire._transport import ClientOverride, client_override
from toolwire.errors import ConfigurationError, ToolwireError
from toolwire.testing import (
    REDACTED,
    CassetteFormatError,
    CassetteMismatchError,
    load_cassette,
    record,
    redact_url,
    replay,
)

COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-local",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
}
SSE_EVENTS = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Sun"}}]},
    {"choices": [{"index": 0, "delta": {"content": "ny in Par"}}]},
    {"choices": [{"index": 0, "delta": {"content": "is"}, "finish_reason": "stop"}]},
]
SSE_BODY = "".join(f"data: {json.dumps(e)}\n\n" for e in SSE_EVENTS) + "data: [DONE]\n\n"
SECRETS = ("sk-live-SECRET1", "azure-SECRET2", "anthropic-SECRET3", "goog-SECRET4", "query-SECRET5")


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: the SSE body ends when the connection closes, like many streaming servers.
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        if self.path.startswith("/v1/missing"):
            self._json(404, {"error": {"message": "no such route", "type": "invalid_request_error"}})
        elif payload.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            data = SSE_BODY.encode()
            for start in range(0, len(data), 40):  # several writes, cut mid-line
                self.wfile.write(data[start : start + 40])
                self.wfile.flush()
        else:
            self._json(200, COMPLETION)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        if "gzip" in self.headers.get("accept-encoding", ""):
            # Exercises the recorder's decoding: the file must hold the JSON, not gzip bytes.
            data = gzip.compress(data)
            self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


SECRET_HEADERS = {
    "Authorization": f"Bearer {SECRETS[0]}",
    "api-key": SECRETS[1],
    "X-Api-Key": SECRETS[2],
    "x-goog-api-key": SECRETS[3],
}


def _override() -> ClientOverride:
    override = client_override.get()
    assert override is not None, "record()/replay() did not install the client override"
    return override


def _record_session(base: str, path: Path) -> None:
    with record(path) as recorder:
        client = _override().client
        response = client.post(
            f"{base}/v1/chat/completions?api-version=2024-10-21&key={SECRETS[4]}",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "weather?"}]},
            headers=SECRET_HEADERS,
        )
        assert response.json() == COMPLETION
        with client.stream("POST", f"{base}/v1/chat/completions", json={"stream": True}) as stream:
            assert [e.data for e in iter_sse(stream)][-1] == "[DONE]"
        assert len(recorder.requests) == 2
    assert client_override.get() is None


def test_record_writes_readable_json_without_secrets(server: str, tmp_path: Path) -> None:
    path = tmp_path / "cassettes" / "session.json"
    _record_session(server, path)
    text = path.read_text()
    for secret in SECRETS:
        assert secret not in text
    document = json.loads(text)
    assert document["format"] == "toolwire-cassette"
    assert document["version"] == 1
    first, second = document["interactions"]
    assert first["request"]["method"] == "POST"
    assert first["request"]["url"].endswith(f"?api-version=2024-10-21&key={REDACTED}")
    headers = first["request"]["headers"]
    assert [headers[k] for k in ("authorization", "api-key", "x-api-key", "x-goog-api-key")] == [REDACTED] * 4
    assert first["request"]["json"]["messages"][0]["content"] == "weather?"
    assert "gzip" in headers["accept-encoding"]  # so the local server did answer gzip
    # gzip on the wire, parsed JSON in the file, and no header claiming otherwise
    assert first["response"]["status"] == 200
    assert first["response"]["json"] == COMPLETION
    assert "content-encoding" not in first["response"]["headers"]
    assert "content-length" not in first["response"]["headers"]
    assert second["response"]["text"] == SSE_BODY
    assert second["response"]["headers"]["content-type"] == "text/event-stream"


def test_replay_serves_what_was_recorded(server: str, tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    _record_session(server, path)
    with replay(path) as cassette:
        client = _override().client
        # Another host and no key: matching is on method and path only.
        response = client.post("https://api.openai.com/v1/chat/completions", json={"model": "gpt-4o-mini"})
        assert response.status_code == 200
        assert response.json() == COMPLETION
        with client.stream("POST", "https://api.openai.com/v1/chat/completions", json={"stream": True}) as s:
            pieces = list(s.iter_raw())
        assert b"".join(pieces).decode() == SSE_BODY
        assert len(pieces) > 1  # served as a stream, not one blob
        assert [r.json for r in cassette.requests] == [{"model": "gpt-4o-mini"}, {"stream": True}]
        cassette.assert_all_used()
    assert client_override.get() is None


async def test_async_record_and_replay(server: str, tmp_path: Path) -> None:
    path = tmp_path / "async.json"
    async with record(path):
        client = _override().async_client
        response = await client.post(f"{server}/v1/chat/completions", json={"n": 1}, headers=SECRET_HEADERS)
        assert response.json() == COMPLETION
        async with client.stream("POST", f"{server}/v1/chat/completions", json={"stream": True}) as stream:
            lines = [line async for line in stream.aiter_lines()]
        assert "data: [DONE]" in lines
    assert SECRETS[0] not in path.read_text()

    async with replay(path) as cassette:
        client = _override().async_client
        response = await client.post("http://elsewhere/v1/chat/completions", json={"n": 2})
        assert response.json() == COMPLETION
        async with client.stream("POST", "http://elsewhere/v1/chat/completions") as stream:
            body = "".join([chunk async for chunk in stream.aiter_text()])
        assert body == SSE_BODY
        assert cassette.requests[0].json == {"n": 2}


def test_error_responses_are_recorded_and_replayed(server: str, tmp_path: Path) -> None:
    path = tmp_path / "error.json"
    with record(path):
        assert _override().client.post(f"{server}/v1/missing", json={}).status_code == 404
    with replay(path):
        response = _override().client.post("https://x/v1/missing", json={})
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no such route"


def test_record_writes_the_file_even_when_the_block_fails(server: str, tmp_path: Path) -> None:
    path = tmp_path / "partial.json"
    with pytest.raises(RuntimeError, match="boom"), record(path):
        _override().client.post(f"{server}/v1/chat/completions", json={})
        raise RuntimeError("boom")
    assert len(json.loads(path.read_text())["interactions"]) == 1
    assert client_override.get() is None


def test_stream_abandoned_early_is_marked_incomplete(server: str, tmp_path: Path) -> None:
    path = tmp_path / "early.json"
    with (
        record(path),
        _override().client.stream("POST", f"{server}/v1/chat/completions", json={"stream": True}) as stream,
    ):
        first = next(stream.iter_raw())
    (interaction,) = json.loads(path.read_text())["interactions"]
    assert interaction["response"]["incomplete"] is True
    assert first.decode() == interaction["response"]["text"]
    assert SSE_BODY.startswith(interaction["response"]["text"])


async def test_path_mode_for_concurrent_requests(tmp_path: Path) -> None:
    import asyncio

    path = tmp_path / "two.json"
    document = {
        "format": "toolwire-cassette",
        "version": 1,
        "interactions": [
            {
                "request": {"method": "POST", "url": f"https://x/{name}", "headers": {}},
                "response": {"status": 200, "headers": {}, "json": {"route": name}},
            }
            for name in ("a", "b")
        ],
    }
    path.write_text(json.dumps(document))
    async with replay(path, match="path"):
        client = _override().async_client
        responses = await asyncio.gather(client.post("https://x/b"), client.post("https://x/a"))
    assert [r.json() for r in responses] == [{"route": "b"}, {"route": "a"}]


def test_replay_mismatch_raises_toolwire_error(server: str, tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    _record_session(server, path)
    with replay(path):
        client = _override().client
        with pytest.raises(
            CassetteMismatchError, match=r"expected interaction 1/2: POST /v1/chat/completions"
        ):
            client.post("https://api.openai.com/v1/embeddings", json={})
    assert issubclass(CassetteMismatchError, ToolwireError)


def test_replay_exhausted_raises(server: str, tmp_path: Path) -> None:
    path = tmp_path / "error.json"
    with record(path):
        _override().client.post(f"{server}/v1/missing", json={})
    with replay(path) as cassette:
        _override().client.post("https://x/v1/missing")
        with pytest.raises(CassetteMismatchError, match="already served"):
            _override().client.post("https://x/v1/missing")
    assert len(cassette.requests) == 2


def test_replay_reads_vcrpy_yaml_fixtures() -> None:
    path = fixture_path("openai", "openai_parallel_tool_calls_and_tool_results.yaml")
    with replay(path) as cassette:
        client = _override().client
        first = client.post("https://api.openai.com/v1/chat/completions", json={"turn": 1}).json()
        second = client.post("https://api.openai.com/v1/chat/completions", json={"turn": 2}).json()
    assert len(first["choices"][0]["message"]["tool_calls"]) == 2
    assert second["choices"][0]["message"]["content"]
    assert cassette.cassette.dialect == "V"


def test_yaml_without_pyyaml_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # makes `import yaml` raise ImportError
    path = fixture_path("openai", "openai_parallel_tool_calls_and_tool_results.yaml")
    with pytest.raises(ConfigurationError, match="pip install pyyaml"):
        load_cassette(path)


def test_redact_url_only_touches_key_parameters() -> None:
    url = "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?alt=sse&key=AIzaSECRET"
    assert redact_url(url) == (
        f"https://generativelanguage.googleapis.com/v1beta/models/g:generateContent?alt=sse&key={REDACTED}"
    )
    assert redact_url("https://x/y?api-version=2024-10-21") == "https://x/y?api-version=2024-10-21"
    assert redact_url("https://x/y") == "https://x/y"


def test_bad_cassettes_raise_format_errors(tmp_path: Path) -> None:
    unknown = tmp_path / "x.txt"
    unknown.write_text("hello")
    with pytest.raises(CassetteFormatError, match="unknown cassette type"):
        load_cassette(unknown)
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"format": "toolwire-cassette", "version": 99, "interactions": []}))
    with pytest.raises(CassetteFormatError, match="version 99"):
        load_cassette(future)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "toolwire-cassette", "version": 1, "interactions": [{}]}))
    with pytest.raises(CassetteFormatError, match="KeyError"):
        load_cassette(broken)


def test_binary_bodies_round_trip_as_base64(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    payload = bytes(range(256))
    document = {
        "format": "toolwire-cassette",
        "version": 1,
        "interactions": [
            {
                "request": {"method": "GET", "url": "https://x/blob", "headers": {}},
                "response": {
                    "status": 200,
                    "headers": {"content-type": "application/octet-stream"},
                    "base64": base64.b64encode(payload).decode(),
                },
            }
        ],
    }
    path.write_text(json.dumps(document))
    with replay(path):
        assert _override().client.get("https://x/blob").content == payload


# -- end to end through a provider -------------------------------------------------------------
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"sunny in {city}"


def test_provider_call_recorded_then_replayed(server: str, tmp_path: Path) -> None:
    from toolwire.providers.registry import AbstractLLM

    path = tmp_path / "provider.json"
    live = AbstractLLM.create("openai", model="gpt-4o-mini", api_key=SECRETS[0], base_url=f"{server}/v1")
    with record(path):
        recorded = live.generate("Weather in Paris?", tools=[get_weather])
        streamed = "".join(chunk.content or "" for chunk in live.generate("Weather?", stream=True))
    assert [(c.name, c.arguments) for c in recorded.tool_calls or []] == [("get_weather", {"city": "Paris"})]
    assert streamed == "Sunny in Paris"
    assert SECRETS[0] not in path.read_text()

    # Offline: default base URL, a dummy key; the cassette answers.
    offline = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-test")
    with replay(path) as cassette:
        replayed = offline.generate("Weather in Paris?", tools=[get_weather])
        restreamed = "".join(chunk.content or "" for chunk in offline.generate("Weather?", stream=True))
    assert replayed.tool_calls is not None
    assert [(c.id, c.name, c.arguments) for c in replayed.tool_calls] == [
        ("call_abc", "get_weather", {"city": "Paris"})
    ]
    assert restreamed == streamed
    sent = cassette.requests[0].json
    assert sent is not None
    assert sent["model"] == "gpt-4o-mini"
    assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather"]
    stream_sent = cassette.requests[1].json
    assert stream_sent is not None
    assert stream_sent["stream"] is True
    assert stream_sent["messages"] == [{"role": "user", "content": "Weather?"}]


async def test_provider_replays_recorded_fixture_async() -> None:
    from toolwire.providers.registry import AbstractLLM

    llm = AbstractLLM.create("openai", model="gpt-4o", api_key="sk-test")
    path = fixture_path("openai", "openai_parallel_tool_calls_and_tool_results.yaml")
    async with replay(path) as cassette:
        response = await llm.agenerate("What's the weather in Paris and London?", tools=[get_weather])
    assert response.tool_calls is not None
    assert len(response.tool_calls) == 2
    assert all(c.id.startswith("call_") for c in response.tool_calls)
    assert cassette.requests[0].headers["authorization"] == "Bearer sk-test"
    assert len(cassette.unused) == 1  # the follow-up turn was not requested
