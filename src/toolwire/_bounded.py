"""The sync HTTP client's sockets, made to honour a whole-attempt deadline and to send a request in
one write.

httpx2's timeouts bound each socket read: a server that trickles a byte a second never trips a 3 s
read timeout, and a sync call cannot be cancelled from outside the way an asyncio one is (the async
path bounds each step with `asyncio.wait_for`). So every read of the sync client's connections
asks `attempt_deadline` first: while the transport sends a request and reads its body it sets when
the attempt must be over, and a read then waits at most until that moment and fails with a
`ReadTimeout` once it has passed. Outside such a window (a stream the caller iterates at their own
pace) reads keep httpx2's per-read timeout, as docs/errors.md says.

The second job is smaller: httpcore2 writes a request's head and its body with two `send` calls;
here they go out in one, as http.client (and so boto3) sends them. That is one system call less
per request, and one TCP segment instead of two. A write is held until the next read (the response
is always read after the request is written) or until 64 KiB are pending.

Only the connections of clients this package creates go through here (`bounded`); a client the
caller passes in is used as it is.
"""

from __future__ import annotations

import contextvars
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore2
import httpx2

__all__ = ["attempt_deadline", "bounded"]

# (when the attempt must be over, the clock that says so): set by the transport around one attempt
attempt_deadline: contextvars.ContextVar[tuple[float, Callable[[], float]] | None] = contextvars.ContextVar(
    "toolwire_attempt_deadline", default=None
)
_FLUSH_AT = 64 * 1024


class _Stream(httpcore2.NetworkStream):
    """One connection's socket stream: reads within the attempt's deadline, writes coalesced."""

    __slots__ = ("_inner", "_pending", "_pending_size", "_write_timeout")

    def __init__(self, inner: httpcore2.NetworkStream) -> None:
        self._inner = inner
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._write_timeout: float | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._pending:
            self._flush()
        bound = attempt_deadline.get()
        if bound is not None:
            left = bound[0] - bound[1]()
            if left <= 0:
                raise httpcore2.ReadTimeout("the response was not complete within the timeout")
            if timeout is None or left < timeout:
                timeout = left
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._pending.append(buffer)
        self._pending_size += len(buffer)
        self._write_timeout = timeout
        if self._pending_size >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        self._pending_size = 0
        self._inner.write(data, self._write_timeout)

    def close(self) -> None:
        self._pending = []
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore2.NetworkStream:
        if self._pending:
            self._flush()
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore2.NetworkBackend):
    def __init__(self, inner: httpcore2.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore2.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def bounded(client: httpx2.Client) -> bool:
    """Put the client's direct connections on the backend above; True when they are.

    httpx2 has no public way to pass a network backend, so its own transport's pool gets the
    wrapper (over the backend it already had) when the client has exactly that: a transport
    someone substituted (a test double, `transport=`) is left as it is, and its head is then
    bounded per read only. tests/test_bounded.py pins that a plain client is wrapped.
    """
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if type(pool) is httpcore2.ConnectionPool and type(backend) is httpcore2.SyncBackend:
        pool._network_backend = _Backend(backend)
        return True
    return False
