"""`toolwire._direct`: the transport's shortcut past httpx2's `Client.send` gives the response and the
errors `client.send(request, stream=True)` gives, and is not taken whenever the client could behave
differently. Against a loopback server (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import gzip
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest

from toolwire import _direct
from toolwire._bounded import bounded
from toolwire._transport import HttpCall, Transport, _build_request
from toolwire.errors import ProviderError

# path → (status, headers, body)
_ANSWERS: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {
    "/json": (200, [("content-type", "application/json"), ("x-amzn-RequestId", "r-1")], b'{"a": 1}'),
    "/gzip": (200, [("content-type", "text/plain"), ("content-encoding", "gzip")], gzip.compress(b"zipped")),
    "/latin": (200, [("content-type", "text/plain")], "café".encode("latin-1")),
    "/redirect": (302, [("location", "/json")], b""),
    "/cookie": (200, [("set-cookie", "session=abc; Path=/")], b"ok"),
    "/error": (503, [("retry-after", "1"), ("content-type", "application/json")], b'{"message": "busy"}'),
    "/empty": (204, [], b""),
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        status, headers, body = _ANSWERS[self.path.partition("?")[0]]
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status != 204:
            self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _request(client: httpx2.Client | httpx2.AsyncClient, url: str) -> httpx2.Request:
    call = HttpCall("POST", url, {"content-type": "application/json", "authorization": "Bearer k"}, b"{}")
    return _build_request(client, call, {"timeout": httpx2.Timeout(5.0).as_dict()})


def _facts(response: httpx2.Response, request: httpx2.Request) -> dict[str, Any]:
    """Everything a caller can read from a response, read to the end."""
    body = response.read()
    response.close()
    return _after_read(response, request, body)


async def _afacts(response: httpx2.Response, request: httpx2.Request) -> dict[str, Any]:
    body = await response.aread()
    await response.aclose()
    return _after_read(response, request, body)


def _after_read(response: httpx2.Response, request: httpx2.Request, body: bytes) -> dict[str, Any]:
    nxt = response.next_request
    return {
        "status": response.status_code,
        "reason": response.reason_phrase,
        "version": response.http_version,
        "headers": [(k, v) for k, v in response.headers.raw if k.lower() != b"date"],
        "body": body,
        "text": response.text,
        "encoding": response.encoding,
        "request": response.request is request,
        "next": None if nxt is None else (nxt.method, str(nxt.url)),
        "history": response.history,
        "closed": response.is_closed,
        "elapsed": response.elapsed.total_seconds() >= 0,
        "extensions": sorted(response.extensions),
    }


@pytest.mark.parametrize("path", sorted(_ANSWERS))
def test_the_direct_path_answers_as_client_send(base: str, path: str) -> None:
    for encoding in ("utf-8", "latin-1"):
        full, ours = httpx2.Client(default_encoding=encoding), httpx2.Client(default_encoding=encoding)
        with full, ours:
            bounded(ours)  # as the transport's own clients are
            expected_request = _request(full, base + path)
            expected = _facts(full.send(expected_request, stream=True), expected_request)
            request = _request(ours, base + path)
            assert _direct._direct(ours, request, httpx2.HTTPTransport, httpx2.SyncByteStream) is not None
            assert _facts(_direct.send(ours, request), request) == expected
            assert dict(ours.cookies) == dict(full.cookies)
            if path == "/cookie":
                assert dict(ours.cookies) == {"session": "abc"}
            # the connection went back to the pool: the next request reuses it
            again = _request(ours, base + "/json")
            assert _facts(_direct.send(ours, again), again)["status"] == 200


@pytest.mark.parametrize("path", ["/json", "/gzip", "/redirect", "/cookie", "/error"])
def test_the_async_direct_path_answers_as_client_send(base: str, path: str) -> None:
    async def run() -> None:
        async with httpx2.AsyncClient() as full, httpx2.AsyncClient() as ours:
            expected_request = _request(full, base + path)
            expected = await _afacts(await full.send(expected_request, stream=True), expected_request)
            request = _request(ours, base + path)
            assert _direct._direct(ours, request, httpx2.AsyncHTTPTransport, httpx2.AsyncByteStream)
            assert await _afacts(await _direct.asend(ours, request), request) == expected
            assert dict(ours.cookies) == dict(full.cookies)

    asyncio.run(run())


def test_connection_errors_are_httpx2s_with_the_request_attached() -> None:
    dead = "http://127.0.0.1:9/json"  # discard port: nothing listens there
    with httpx2.Client() as full, httpx2.Client() as ours:
        expected_request = _request(full, dead)
        with pytest.raises(httpx2.TransportError) as expected:
            full.send(expected_request, stream=True)
        request = _request(ours, dead)
        with pytest.raises(httpx2.TransportError) as raised:
            _direct.send(ours, request)
    assert type(raised.value) is type(expected.value)
    assert str(raised.value) == str(expected.value)
    assert raised.value.request is request


def test_the_log_line_is_httpx2s(base: str, caplog: pytest.LogCaptureFixture) -> None:
    with httpx2.Client() as full, httpx2.Client() as ours, caplog.at_level(logging.INFO, "httpx2"):
        _facts(full.send(r := _request(full, base + "/json"), stream=True), r)
        _facts(_direct.send(ours, r2 := _request(ours, base + "/json")), r2)
    lines = [record.getMessage() for record in caplog.records if record.name == "httpx2"]
    assert len(lines) == 2 and lines[0] == lines[1]
    assert lines[0].startswith("HTTP Request: POST ") and lines[0].endswith('"HTTP/1.1 200 OK"')


class _Spy(httpx2.Client):
    """A subclass: the direct path must not be taken (it could override send)."""


def _clients(base: str) -> dict[str, httpx2.Client]:
    def hook(request: httpx2.Request) -> None:
        pass

    mock = httpx2.MockTransport(lambda request: httpx2.Response(200, content=b"mocked"))
    return {
        "auth": httpx2.Client(auth=("user", "pass")),
        "redirects": httpx2.Client(follow_redirects=True),
        "request hook": httpx2.Client(event_hooks={"request": [hook]}),
        "response hook": httpx2.Client(event_hooks={"response": [hook]}),
        "mounted": httpx2.Client(mounts={base: httpx2.HTTPTransport()}),
        "proxied": httpx2.Client(proxy="http://127.0.0.1:9"),
        "mock transport": httpx2.Client(transport=mock),
        "subclass": _Spy(),
    }


KINDS = ["auth", "redirects", "request hook", "response hook", "mounted", "proxied", "mock transport"]
KINDS += ["subclass"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_client_that_could_behave_differently_goes_through_client_send(
    base: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clients = _clients(base)
    client = clients[kind]
    request = _request(client, base + "/json")
    assert _direct._direct(client, request, httpx2.HTTPTransport, httpx2.SyncByteStream) is None
    sent: list[httpx2.Request] = []
    original = client.send

    def spy(request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
        sent.append(request)
        return original(request, **kwargs)

    monkeypatch.setattr(client, "send", spy)
    if kind != "proxied":  # nothing listens at the proxy's address
        _direct.send(client, request).close()
        assert sent == [request]
    for each in clients.values():
        each.close()


def test_requests_the_direct_path_does_not_take(base: str) -> None:
    with httpx2.Client() as client:
        no_timeout = client.build_request("GET", base + "/json")
        no_timeout.extensions = {}
        assert _direct._direct(client, no_timeout, httpx2.HTTPTransport, httpx2.SyncByteStream) is None
        userinfo = _request(client, base.replace("http://", "http://user:pw@") + "/json")
        assert _direct._direct(client, userinfo, httpx2.HTTPTransport, httpx2.SyncByteStream) is None
        response = _direct.send(client, userinfo)  # client.send: Basic auth from the URL
        assert response.request.headers["authorization"].startswith("Basic ")
        response.close()


def test_a_closed_client_fails_as_client_send_does(base: str) -> None:
    client = httpx2.Client()
    request = _request(client, base + "/json")
    client.close()
    with pytest.raises(RuntimeError, match="client has been closed"):
        _direct.send(client, request)


@pytest.mark.parametrize("path", sorted(_ANSWERS))
def test_an_unstreamed_answer_is_read_as_response_read_leaves_it(base: str, path: str) -> None:
    with httpx2.Client() as full, httpx2.Client() as ours:
        expected_request = _request(full, base + path)
        expected_response = full.send(expected_request, stream=True)
        expected_response.read()
        request = _request(ours, base + path)
        response = _direct.send(ours, request, lambda: False)
        # read here when the bytes are the content (below 400, as the transport reads, not encoded)
        assert response.is_stream_consumed == (path not in ("/gzip", "/error"))
        response.read()
        for each in (expected_response, response):
            assert each.is_closed and each.is_stream_consumed
        assert _after_read(response, request, response.content) == _after_read(
            expected_response, expected_request, expected_response.content
        )
        assert response.num_bytes_downloaded == expected_response.num_bytes_downloaded
        assert dict(ours.cookies) == dict(full.cookies)
        again = _request(ours, base + "/json")  # the connection went back to the pool
        assert _direct.send(ours, again, lambda: False).content == b'{"a": 1}'


def test_an_unstreamed_read_gives_up_when_the_attempt_is_over(base: str) -> None:
    with httpx2.Client() as client:
        request = _request(client, base + "/json")
        with pytest.raises(httpx2.ReadTimeout, match="not complete within the timeout"):
            _direct.send(client, request, lambda: True)
        assert _direct.send(client, _request(client, base + "/json"), lambda: False).content == b'{"a": 1}'


def test_without_the_internals_it_uses_is_every_call_goes_through_client_send(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_direct, "_AVAILABLE", False)
    with httpx2.Client() as client:
        request = _request(client, base + "/json")
        assert _direct._direct(client, request, httpx2.HTTPTransport, httpx2.SyncByteStream) is None
        assert _direct.send(client, request, lambda: False).read() == b'{"a": 1}'


def _transport(**kw: Any) -> Transport:
    def mapper(status: int, headers: Any, body: bytes) -> ProviderError:
        return ProviderError(f"HTTP {status}", status_code=status)

    return Transport(provider="test", error_mapper=mapper, max_retries=0, **kw)


def test_the_transport_takes_the_direct_path_with_its_own_client(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pools: list[Any] = []
    original = _direct._direct

    def spy(*args: Any) -> Any:
        pools.append(original(*args))
        return pools[-1]

    transport = _transport()
    monkeypatch.setattr(_direct, "_direct", spy)
    call = HttpCall("POST", base + "/json", {"content-type": "application/json"}, b"{}")
    assert transport.send(call).json() == {"a": 1}
    handle = transport.open_stream(call)
    assert handle.response.read() == b'{"a": 1}'
    handle.close()
    transport.close()
    assert len(pools) == 2 and None not in pools


def _seen_by(seen: list[str]) -> Any:
    """A wrapper as `mock.patch(..., wraps=...)` or an httpx instrumentation puts around a method."""

    def wrap(method: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen.append(method.__name__)
            return method(*args, **kwargs)

        return wrapper

    return wrap


@pytest.mark.parametrize(
    ("cls", "name"),
    [
        (httpx2.Client, "send"),
        (httpx2.Client, "_send_single_request"),
        (httpx2.HTTPTransport, "handle_request"),
    ],
)
def test_a_patched_or_instrumented_httpx2_sees_the_transports_requests(
    base: str, monkeypatch: pytest.MonkeyPatch, cls: type, name: str
) -> None:
    # before the direct send, `mock.patch("httpx2.Client.send")` or an instrumentation of
    # HTTPTransport.handle_request (OpenTelemetry's, Sentry's httpx integrations) saw every request
    seen: list[str] = []
    monkeypatch.setattr(cls, name, _seen_by(seen)(getattr(cls, name)))
    transport = _transport()
    call = HttpCall("POST", base + "/json", {"content-type": "application/json"}, b"{}")
    assert transport.send(call).json() == {"a": 1}
    handle = transport.open_stream(call)
    assert handle.response.read() == b'{"a": 1}'
    handle.close()
    transport.close()
    assert seen == [name, name]


def test_an_instrumented_transport_instance_sees_the_transports_requests(base: str) -> None:
    # OpenTelemetry's instrument_client(client) wraps the client's transport's handle_request
    seen: list[str] = []
    client = httpx2.Client()
    inner = client._transport
    inner.handle_request = _seen_by(seen)(inner.handle_request)  # type: ignore[method-assign]
    transport = _transport(http_client=client)
    call = HttpCall("POST", base + "/json", {"content-type": "application/json"}, b"{}")
    assert transport.send(call).json() == {"a": 1}
    assert seen == ["handle_request"]
    client.close()


def test_a_patched_async_httpx2_sees_the_transports_requests(
    base: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    cls = httpx2.AsyncHTTPTransport
    original = cls.handle_async_request

    async def wrapper(self: Any, request: httpx2.Request) -> httpx2.Response:
        seen.append("handle_async_request")
        return await original(self, request)

    monkeypatch.setattr(cls, "handle_async_request", wrapper)

    async def run() -> None:
        transport = _transport()
        call = HttpCall("POST", base + "/json", {"content-type": "application/json"}, b"{}")
        assert (await transport.asend(call)).json() == {"a": 1}
        await transport.aclose()

    asyncio.run(run())
    assert seen == ["handle_async_request"]


def test_a_callers_client_with_hooks_still_runs_them(base: str) -> None:
    seen: list[str] = []
    client = httpx2.Client(event_hooks={"response": [lambda r: seen.append(str(r.status_code))]})
    transport = _transport(http_client=client)
    call = HttpCall("POST", base + "/json", {"content-type": "application/json"}, b"{}")
    assert transport.send(call).json() == {"a": 1}
    assert seen == ["200"]
    client.close()
