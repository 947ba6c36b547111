"""`ReplayTransport`: answers HTTP from a cassette, streaming bodies in uneven chunks.
Re-exported from `toolwire.testing`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import httpx2

from ._cassette import (
    DEFAULT_CHUNK_SIZES,
    Cassette,
    CassetteMismatchError,
    Interaction,
    MatchMode,
    ReceivedRequest,
    RecordedRequest,
    _as_cassette,
    _try_json,
)


# -- replay ------------------------------------------------------------------------------------
def _chunks(body: bytes, sizes: Sequence[int]) -> Iterator[bytes]:
    if not sizes:
        yield body
        return
    pos, i = 0, 0
    while pos < len(body):
        size = max(1, sizes[i % len(sizes)])
        yield body[pos : pos + size]
        pos += size
        i += 1


class _ChunkedStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body delivered in several pieces, like a socket would, to sync and async readers."""

    def __init__(self, body: bytes, sizes: Sequence[int]) -> None:
        self._body = body
        self._sizes = tuple(sizes)

    def __iter__(self) -> Iterator[bytes]:
        yield from _chunks(self._body, self._sizes)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in _chunks(self._body, self._sizes):
            yield chunk


class ReplayTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """An httpx2 transport (sync and async) that answers from a cassette and records what it got.

    match="sequence": interactions are served in order and each request must have the method and
    path (host and query ignored) of the next one. match="path": each request gets the first unused
    interaction with its method and path, in any order (concurrent requests).
    """

    def __init__(
        self,
        cassette: str | Path | Cassette,
        *,
        match: MatchMode = "sequence",
        chunk_sizes: Sequence[int] = DEFAULT_CHUNK_SIZES,
    ) -> None:
        if match not in ("sequence", "path"):
            raise ValueError(f"match must be 'sequence' or 'path', not {match!r}")
        self.cassette = _as_cassette(cassette)
        self.match = match
        self.chunk_sizes = tuple(chunk_sizes)
        self.requests: list[ReceivedRequest] = []
        self._used = [False] * len(self.cassette.interactions)
        self._cursor = 0
        self._lock = threading.Lock()

    @property
    def unused(self) -> list[Interaction]:
        """Interactions no request has consumed yet."""
        return [i for i, used in zip(self.cassette.interactions, self._used, strict=True) if not used]

    def assert_all_used(self) -> None:
        left = self.unused
        if left:
            described = ", ".join(_describe(i.request) for i in left)
            raise CassetteMismatchError(
                f"{self.cassette.name}: {len(left)} recorded interaction(s) never requested: {described}"
            )

    def _select(self, received: ReceivedRequest) -> Interaction:
        with self._lock:
            self.requests.append(received)
            number = len(self.requests)
            items = self.cassette.interactions
            if self.match == "sequence":
                if self._cursor >= len(items):
                    raise CassetteMismatchError(
                        f"{self.cassette.name}: request #{number} {received.method} {received.path} "
                        f"but all {len(items)} recorded interaction(s) were already served"
                    )
                interaction = items[self._cursor]
                if not _matches(interaction.request, received):
                    raise CassetteMismatchError(
                        f"{self.cassette.name}: request #{number} was {received.method} {received.path}, "
                        f"expected interaction {self._cursor + 1}/{len(items)}: "
                        f"{_describe(interaction.request)}"
                    )
                self._used[self._cursor] = True
                self._cursor += 1
                return interaction
            for index, candidate in enumerate(items):
                if not self._used[index] and _matches(candidate.request, received):
                    self._used[index] = True
                    return candidate
            remaining = ", ".join(_describe(i.request) for i in self.unused) or "none"
            raise CassetteMismatchError(
                f"{self.cassette.name}: no unused interaction for request #{number} "
                f"{received.method} {received.path}; unused: {remaining}"
            )

    def _response(self, interaction: Interaction, request: httpx2.Request) -> httpx2.Response:
        recorded = interaction.response
        return httpx2.Response(
            recorded.status,
            headers=recorded.headers,
            stream=_ChunkedStream(recorded.body, self.chunk_sizes),
            request=request,
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        received = _received(request, request.read())
        return self._response(self._select(received), request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        received = _received(request, await request.aread())
        return self._response(self._select(received), request)


def _received(request: httpx2.Request, body: bytes) -> ReceivedRequest:
    return ReceivedRequest(
        method=request.method.upper(),
        url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        json=_try_json(body),
    )


def _matches(expected: RecordedRequest | None, received: ReceivedRequest) -> bool:
    if expected is None:
        return True
    return expected.method == received.method and expected.path == received.path


def _describe(request: RecordedRequest | None) -> str:
    return "<any request>" if request is None else f"{request.method} {request.path}"
