"""`client.send(request, stream=True)` for a plain httpx2 client, without the layers the transport
never uses: the same response, for less CPU per request.

httpx2's `Client.send` runs an auth flow (a generator, even with no auth), a redirect loop, the event
hooks, a mount lookup and two context managers around the connection pool; `HTTPTransport` then
converts the request for httpcore2 and wraps its answer. For a client as toolwire creates it (no
auth, no redirects followed, no hooks, no proxy mount, the stock transport) all of that reduces to:
convert, ask the pool, wrap, and the bookkeeping `Client.send` does on every response (request,
elapsed-time stream, cookies, default encoding, its log line, `next_request` of a redirect). That
is what `send` / `asend` do here, with httpx2's own exception mapping and wrappers. An unstreamed
call's answer is also read here when its bytes are its content (no content-encoding): straight from
the pool's stream, without the four iterator layers of `Response.iter_bytes()`.

Whenever a client could behave differently (a subclass, a mocked or recording transport, auth,
`follow_redirects=True`, event hooks, a proxy for the URL, a closed client, a request without its
timeout, credentials in the URL, a patched or instrumented `send` or `handle_request`), or this
httpx2 does not have the internals used here, the call goes through `client.send` unchanged.
tests/test_direct_send.py checks both give equal responses and errors.
"""

from __future__ import annotations

import datetime
import os
import time
import types
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import httpcore2
import httpx2

try:  # internals of httpx2 (the same in 2.14, for Python 3.10, and 2.17); without them: client.send
    from httpx2._client import BoundAsyncStream, BoundSyncStream, ClientState
    from httpx2._client import logger as _httpx_logger
    from httpx2._transports.default import AsyncResponseStream, ResponseStream, map_httpcore_exceptions
except ImportError:  # pragma: no cover - a future httpx2 that moved them
    _AVAILABLE = False
else:
    _AVAILABLE = True

__all__ = ["asend", "send"]

_PLAIN = (httpx2.Client, httpx2.AsyncClient)

# The methods a request passes through in httpx2: when one of them has been replaced (on the class
# by `mock.patch("httpx2.Client.send")`, an instrumentation wrapping `HTTPTransport.handle_request`
# as OpenTelemetry's and Sentry's httpx integrations do; or on the instance), the caller expects
# toolwire's requests to pass through it, so the call goes through `client.send`.
_CLIENT_PATH = ("send", "_send_handling_auth", "_send_handling_redirects", "_send_single_request")
_HTTPX2_DIR = os.path.dirname(httpx2.__file__)


def _genuine(fn: object) -> bool:
    return (
        type(fn) is types.FunctionType
        and not hasattr(fn, "__wrapped__")
        and fn.__code__.co_filename.startswith(_HTTPX2_DIR + os.sep)
    )


def _originals(cls: type, names: tuple[str, ...]) -> dict[str, object] | None:
    found = {name: getattr(cls, name, None) for name in names}
    return found if all(map(_genuine, found.values())) else None


_ORIGINALS: dict[type, dict[str, object] | None] = {
    httpx2.Client: _originals(httpx2.Client, _CLIENT_PATH),
    httpx2.AsyncClient: _originals(httpx2.AsyncClient, _CLIENT_PATH),
    httpx2.HTTPTransport: _originals(httpx2.HTTPTransport, ("handle_request",)),
    httpx2.AsyncHTTPTransport: _originals(httpx2.AsyncHTTPTransport, ("handle_async_request",)),
}


def _unpatched(obj: object) -> bool:
    """`obj`'s class still has httpx2's own methods on the request's path, and the instance none
    of its own."""
    originals = _ORIGINALS.get(type(obj))
    if originals is None:
        return False
    own = getattr(obj, "__dict__", {})
    cls = type(obj)
    return all(getattr(cls, name) is fn and name not in own for name, fn in originals.items())


def _direct(
    client: httpx2.Client | httpx2.AsyncClient, request: httpx2.Request, stock: type, stream: type
) -> Any:
    """The client's pool when `client.send` would do nothing but ask it (see the module doc), else
    None."""
    if not _AVAILABLE or type(client) not in _PLAIN or client._state is ClientState.CLOSED:
        return None  # a subclass may override send(); a closed client raises there
    if not isinstance(request.stream, stream):
        return None
    if client._auth is not None or client.follow_redirects or request.url.userinfo:
        return None
    hooks = client._event_hooks
    if hooks["request"] or hooks["response"] or "timeout" not in request.extensions:
        return None
    transport = client._transport_for_url(request.url)
    if transport is not client._transport or type(transport) is not stock:
        return None
    if not (_unpatched(client) and _unpatched(transport)):
        return None  # a patched or instrumented send / handle_request must see the request
    return transport._pool  # type: ignore[union-attr]


def _core_request(request: httpx2.Request) -> httpcore2.Request:
    # as HTTPTransport.handle_request converts it
    url = request.url
    return httpcore2.Request(
        method=request.method,
        url=httpcore2.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
        headers=request.headers.raw,
        content=request.stream,
        extensions=request.extensions,
    )


def _finish(
    client: httpx2.Client | httpx2.AsyncClient,
    request: httpx2.Request,
    response: httpx2.Response,
) -> httpx2.Response:
    """What `Client._send_single_request` and the redirect loop do with every response."""
    client.cookies.extract_cookies(response)
    response.default_encoding = client._default_encoding
    _httpx_logger.info(
        'HTTP Request: %s %s "%s %d %s"',
        request.method,
        request.url,
        response.http_version,
        response.status_code,
        response.reason_phrase,
    )
    if response.has_redirect_location:
        # follow_redirects=False: httpx2 says where the redirect would go
        with suppress(httpx2.RemoteProtocolError):
            response.next_request = client._build_redirect_request(request, response)
    return response


def send(
    client: httpx2.Client, request: httpx2.Request, expired: Callable[[], bool] | None = None
) -> httpx2.Response:
    """`client.send(request, stream=True)`. With `expired` (unstreamed calls), a successful answer
    that needs no decoding is also read here, as `Transport._read_within` reads it (see `_read`)."""
    pool = _direct(client, request, httpx2.HTTPTransport, httpx2.SyncByteStream)
    if pool is None:
        return client.send(request, stream=True)
    client._state = ClientState.OPENED
    start = time.perf_counter()
    try:
        with map_httpcore_exceptions():
            answer = pool.handle_request(_core_request(request))
    except httpx2.RequestError as exc:
        exc.request = request  # as httpx2's request_context does
        raise
    stream = BoundSyncStream(ResponseStream(answer.stream), start=start)
    response = httpx2.Response(
        answer.status, headers=answer.headers, stream=stream, extensions=answer.extensions, request=request
    )
    try:
        _finish(client, request, response)
        if expired is not None and _plain_body(answer):
            _read(response, answer, expired)
            stream.elapsed = datetime.timedelta(seconds=time.perf_counter() - start)
    except BaseException:
        response.close()
        raise
    return response


def _plain_body(answer: httpcore2.Response) -> bool:
    # a success whose bytes are the content: an encoded body goes through httpx2's decoders
    return answer.status < 400 and not any(k.lower() == b"content-encoding" for k, _ in answer.headers)


def _read(response: httpx2.Response, answer: httpcore2.Response, expired: Callable[[], bool]) -> None:
    """Read the whole body from the pool's stream (closed at the end: the connection goes back to
    the pool), checking the attempt's time after each chunk, and leave the response as
    `Response.read()` does: what `Transport._read_within` does through the response's iterators."""
    response.is_stream_consumed = True
    chunks: list[bytes] = []
    try:
        for chunk in _raw(answer, response.request):
            chunks.append(chunk)
            if expired():
                raise httpx2.ReadTimeout("the response was not complete within the timeout")
    finally:
        response.is_closed = True
        answer.stream.close()  # type: ignore[union-attr]
    response._content = b"".join(chunks)
    response._num_bytes_downloaded = len(response._content)


def _raw(answer: httpcore2.Response, request: httpx2.Request) -> Iterator[bytes]:
    # as ResponseStream and Response.iter_raw map and annotate a failure while reading
    try:
        with map_httpcore_exceptions():
            yield from answer.stream  # type: ignore[misc]
    except httpx2.RequestError as exc:
        exc.request = request
        raise


async def asend(client: httpx2.AsyncClient, request: httpx2.Request) -> httpx2.Response:
    """`await client.send(request, stream=True)`."""
    pool = _direct(client, request, httpx2.AsyncHTTPTransport, httpx2.AsyncByteStream)
    if pool is None:
        return await client.send(request, stream=True)
    client._state = ClientState.OPENED
    start = time.perf_counter()
    try:
        with map_httpcore_exceptions():
            answer = await pool.handle_async_request(_core_request(request))
    except httpx2.RequestError as exc:
        exc.request = request
        raise
    response = httpx2.Response(
        answer.status,
        headers=answer.headers,
        stream=BoundAsyncStream(AsyncResponseStream(answer.stream), start=start),
        extensions=answer.extensions,
        request=request,
    )
    try:
        return _finish(client, request, response)
    except BaseException:
        await response.aclose()
        raise
