"""Recording real exchanges into a cassette (`RecordingTransport`, `dump_cassette`) and the context
managers that reroute every provider's HTTP (`record_http`, `replay`). Re-exported from
`toolwire.testing`.
"""

from __future__ import annotations

import base64
import json
import threading
import types
import warnings
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from .._scrub import BENIGN_HEADERS, MIN_SECRET, known, request_secrets, scrub_text
from .._transport import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, ClientOverride, client_override
from ._cassette import (
    _WIRE_HEADERS,
    DEFAULT_CHUNK_SIZES,
    FORMAT,
    FORMAT_VERSION,
    REDACTED,
    Cassette,
    Interaction,
    MatchMode,
    ReceivedRequest,
    _decode_body,
    _try_json,
    redact_headers,
    redact_url,
)
from ._replay import ReplayTransport, _received


# -- recording ---------------------------------------------------------------------------------
@dataclass
class _Exchange:
    request: ReceivedRequest
    status: int
    headers: list[tuple[str, str]]
    raw: bytearray = field(default_factory=bytearray)
    complete: bool = False


class _TeeStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Passes the real response through untouched while keeping a copy of its bytes."""

    def __init__(self, inner: httpx2.SyncByteStream | httpx2.AsyncByteStream, exchange: _Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._inner, httpx2.SyncByteStream)
        for chunk in self._inner:
            self._exchange.raw.extend(chunk)
            yield chunk
        self._exchange.complete = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._inner, httpx2.AsyncByteStream)
        async for chunk in self._inner:
            self._exchange.raw.extend(chunk)
            yield chunk
        self._exchange.complete = True

    def close(self) -> None:
        if isinstance(self._inner, httpx2.SyncByteStream):
            self._inner.close()

    async def aclose(self) -> None:
        if isinstance(self._inner, httpx2.AsyncByteStream):
            await self._inner.aclose()


class RecordingTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Forwards to real transports and keeps every exchange, in the order the requests were sent."""

    def __init__(
        self,
        transport: httpx2.BaseTransport | None = None,
        async_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._transport = transport or httpx2.HTTPTransport()
        # No keep-alive: pooled async connections belong to one event loop, and a recording block
        # may span several asyncio.run() calls; recording is not where throughput matters.
        self._async_transport = async_transport or httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(max_keepalive_connections=0)
        )
        self._exchanges: list[_Exchange] = []
        self._lock = threading.Lock()

    @property
    def requests(self) -> list[ReceivedRequest]:
        return [e.request for e in self._exchanges]

    def _start(self, request: httpx2.Request, body: bytes, response: httpx2.Response) -> httpx2.Response:
        exchange = _Exchange(_received(request, body), response.status_code, response.headers.multi_items())
        with self._lock:
            self._exchanges.append(exchange)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_TeeStream(response.stream, exchange),
            extensions=response.extensions,
            request=request,
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        return self._start(request, body, self._transport.handle_request(request))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        return self._start(request, body, await self._async_transport.handle_async_request(request))

    def close(self) -> None:
        self._transport.close()

    async def aclose(self) -> None:
        await self._async_transport.aclose()

    def cassette(self) -> dict[str, Any]:
        """The recording so far as a JSON-ready document, secrets already redacted."""
        with self._lock:
            exchanges = list(self._exchanges)
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "interactions": [_exchange_document(e) for e in exchanges],
        }


def _body_document(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {"text": ""}
    if "event-stream" not in content_type:
        parsed = _try_json(body)
        if parsed is not None:
            return {"json": parsed}
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}


def _joined(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _scrubbed(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {k: _scrubbed(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, secrets) for v in value]
    return value


def _exchange_document(exchange: _Exchange) -> dict[str, Any]:
    document = _raw_exchange_document(exchange)
    # Cassettes get committed to git: every value of a header not known to be harmless (a custom
    # auth header, an APIM key) is redacted, and every form of it scrubbed from bodies and
    # response headers (a server that echoes the key it got).
    rq = exchange.request
    secrets = request_secrets(rq.headers, rq.url, known())  # known(): what every provider declared
    document["request"]["headers"] = {
        k: (v if k.lower() in BENIGN_HEADERS or len(v) < MIN_SECRET else REDACTED)
        for k, v in document["request"]["headers"].items()
    }
    return _scrubbed(document, secrets)  # type: ignore[no-any-return]


def _raw_exchange_document(exchange: _Exchange) -> dict[str, Any]:
    rq = exchange.request
    request_headers = redact_headers(rq.headers)
    request: dict[str, Any] = {"method": rq.method, "url": redact_url(rq.url), "headers": request_headers}
    if rq.body:
        request.update(_body_document(rq.body, request_headers.get("content-type", "")))
    headers = _joined(exchange.headers)
    body = bytes(exchange.raw)
    encoding = headers.get("content-encoding", "").strip().lower()
    decoded = True
    if encoding and encoding != "identity":
        try:
            body = _decode_body(body, encoding)
        except (httpx2.DecodingError, ValueError):
            decoded = False  # truncated stream or unknown coding: keep the wire bytes as they are
    if decoded:
        headers = {k: v for k, v in headers.items() if k not in _WIRE_HEADERS}
    response: dict[str, Any] = {"status": exchange.status, "headers": redact_headers(headers)}
    if decoded:
        response.update(_body_document(body, headers.get("content-type", "")))
    else:
        response["base64"] = base64.b64encode(body).decode("ascii")
    if not exchange.complete:
        response["incomplete"] = True
    return {"request": request, "response": response}


def dump_cassette(document: Mapping[str, Any], path: str | Path) -> None:
    """Write a cassette document as indented JSON (one key per line, so recordings diff well)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _clients(
    transport: httpx2.BaseTransport | httpx2.AsyncBaseTransport,
) -> tuple[httpx2.Client, httpx2.AsyncClient]:
    timeout = httpx2.Timeout(DEFAULT_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)
    assert isinstance(transport, httpx2.BaseTransport) and isinstance(transport, httpx2.AsyncBaseTransport)
    return (
        httpx2.Client(transport=transport, timeout=timeout),
        httpx2.AsyncClient(transport=transport, timeout=timeout),
    )


class _OverrideBlock:
    """Installs clients as the override for a `with` or `async with` block."""

    def __init__(self, transport: RecordingTransport | ReplayTransport) -> None:
        self.transport = transport
        self.client, self.async_client = _clients(transport)
        self._token: Any = None

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request the clients sent in this block, in order (method, url, headers, body, json)."""
        return self.transport.requests

    def _enter(self) -> None:
        self._token = client_override.set(ClientOverride(self.client, self.async_client))

    def _reset(self) -> None:
        if self._token is not None:
            try:
                client_override.reset(self._token)
            except ValueError:
                # Entered in another context (e.g. a pytest fixture vs. the test's task): that
                # context is gone with its value, there is nothing to restore here.
                client_override.set(None)
            self._token = None

    def _finish(self) -> None:
        """Hook run on exit before the clients are closed."""

    def __enter__(self) -> _OverrideBlock:
        self._enter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        self._reset()
        try:
            self._finish()
        finally:
            self.client.close()

    async def __aenter__(self) -> _OverrideBlock:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        try:
            self.__exit__(exc_type, exc, tb)
        finally:
            await self.async_client.aclose()


class CassetteRecorder(_OverrideBlock):
    """The object `record_http()` returns. The file is written when the block exits, even on error."""

    transport: RecordingTransport

    def __init__(self, path: str | Path, transport: RecordingTransport) -> None:
        super().__init__(transport)
        self.path = Path(path)

    def __enter__(self) -> CassetteRecorder:
        super().__enter__()
        return self

    async def __aenter__(self) -> CassetteRecorder:
        return self.__enter__()

    def _finish(self) -> None:
        dump_cassette(self.transport.cassette(), self.path)


class Replayer(_OverrideBlock):
    """The object `replay()` returns: `.requests`, `.unused`, `.assert_all_used()`, `.cassette`."""

    transport: ReplayTransport

    def __enter__(self) -> Replayer:
        super().__enter__()
        return self

    async def __aenter__(self) -> Replayer:
        return self.__enter__()

    @property
    def cassette(self) -> Cassette:
        return self.transport.cassette

    @property
    def unused(self) -> list[Interaction]:
        return self.transport.unused

    def assert_all_used(self) -> None:
        self.transport.assert_all_used()


def record_http(
    path: str | Path,
    *,
    transport: httpx2.BaseTransport | None = None,
    async_transport: httpx2.AsyncBaseTransport | None = None,
) -> CassetteRecorder:
    """Send every provider's HTTP through real transports and write the exchanges to `path` on exit.

    Use as `with record(path):` or `async with record(path):`. Secrets are redacted before writing.
    `transport`/`async_transport` replace the default httpx2 HTTP transports (proxies, custom TLS).
    """
    return CassetteRecorder(path, RecordingTransport(transport, async_transport))


def record(
    path: str | Path,
    *,
    transport: httpx2.BaseTransport | None = None,
    async_transport: httpx2.AsyncBaseTransport | None = None,
) -> CassetteRecorder:
    """Deprecated name of `record_http`, kept for one release (`toolwire.record` is the SQLite
    call log, now `toolwire.record_calls`)."""
    warnings.warn(
        "toolwire.testing.record is deprecated: use toolwire.testing.record_http",
        DeprecationWarning,
        stacklevel=2,
    )
    return record_http(path, transport=transport, async_transport=async_transport)


def replay(
    cassette: str | Path | Cassette,
    *,
    match: MatchMode = "sequence",
    chunk_sizes: Sequence[int] = DEFAULT_CHUNK_SIZES,
) -> Replayer:
    """Answer every provider's HTTP from a cassette; an unexpected request raises CassetteMismatchError.

    Use as `with replay(path) as r:` (or `async with`); `r.requests` holds what was sent.
    """
    return Replayer(ReplayTransport(cassette, match=match, chunk_sizes=chunk_sizes))
