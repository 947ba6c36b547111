"""`Stream` and `AsyncStream`: iterate text/tool-call chunks, then read `.response`.

Both drive the same provider stream state (sans-I/O); they differ only in how SSE events are read.
A stream that fails before any chunk reached the caller (the connection dropped before the first
byte, the first read timed out, a retryable error event came first, the body ended empty) is
re-opened by the transport within the call's one retry budget; once a chunk was handed out, a
failure raises `StreamInterruptedError` with the partial text and every complete tool call.
Whatever happens (normal end, early break, error), the HTTP body is drained and closed so the
connection returns to the pool: the openai SDK's sync stream does not, and pays a new TCP (and TLS)
connection per streamed call (docs/performance.md).

The transport hands a stream a `StreamHandle` (the open response, its framing, the call's retry
budget and `reopen()`): this module never reaches back into the provider's transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import httpx2

from . import _instrument
from ._framing import framing_for
from ._scrub import request_secrets
from ._stream_events import stream_error_from_event
from ._transport import StreamHandle, _transport_error, scrub_error
from .errors import ProviderConnectionError, ProviderError, StreamInterruptedError, ToolwireError
from .types import GenerateResponse, StreamChunk

if TYPE_CHECKING:
    from ._instrument import CallRecord
    from .providers.base import BaseProvider, ChatRequest

__all__ = ["AsyncStream", "Stream", "stream_error_from_event"]


class _StreamBase:
    def __init__(
        self,
        provider: BaseProvider,
        request: ChatRequest,
        handle: StreamHandle,
        record: CallRecord | None = None,
    ) -> None:
        self._record = record
        self._provider = provider
        self._request = request
        self._handle = handle
        self._state = provider.new_stream_state(request)
        # the state says how its events are framed (SSE unless it names another framing)
        handle.framing = framing_for(self._state)
        self._response: GenerateResponse | None = None
        self._consumed = False
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None

    @property
    def http_response(self) -> httpx2.Response:
        return self._handle.response

    def _failed(self, exc: BaseException) -> None:
        # an error event inside a 200 stream may quote the credentials the server received
        if isinstance(exc, ToolwireError):
            sent = self._handle.response.request
            scrub_error(exc, request_secrets(sent.headers, str(sent.url), self._provider.credentials()))
        record, self._record = self._record, None
        _instrument.call_finished(record, None, exc)

    def _interrupted(self, exc: BaseException) -> StreamInterruptedError:
        content, calls = self._state.partial()
        return StreamInterruptedError(
            f"{self._provider.name}: the stream was cut before its end ({type(exc).__name__}: {exc}); "
            f"kept {len(content or '')} characters of text and {len(calls)} complete tool call(s)",
            partial_content=content,
            tool_calls=calls,
            provider=self._provider.name,
            cause=exc,
        )

    def _retryable(self, exc: BaseException) -> ProviderError | None:
        """The error to retry with when `exc` ended a stream before anything reached the caller."""
        if isinstance(exc, httpx2.HTTPError):
            return _transport_error(exc, self._provider.name)
        if isinstance(exc, StreamInterruptedError):
            # the body ended (cleanly) before the stream's end: same as a dropped connection
            return ProviderConnectionError(
                f"the stream ended before any chunk: {exc}", provider=self._provider.name
            )
        if isinstance(exc, ProviderError) and exc.retryable:
            return exc  # e.g. Anthropic's `overloaded_error` as the first event
        return None

    def _retry_error_or_raise(self, exc: Exception, yielded: bool) -> ProviderError:
        """Streams are retried only while nothing has reached the caller: after the first chunk a
        dropped connection is a `StreamInterruptedError` (keeping what arrived); before it, the
        error to retry with, or `exc` itself when it is not retryable."""
        if yielded:
            if isinstance(exc, httpx2.HTTPError):
                raise self._interrupted(exc) from exc
            raise exc
        retry_with = self._retryable(exc)
        if retry_with is None:
            raise exc
        return retry_with

    def _restart(self) -> None:
        """A fresh state for the re-opened response (nothing of the failed one reached the caller)."""
        self._state = self._provider.new_stream_state(self._request)

    def _complete(self, assembled: GenerateResponse) -> None:
        self._consumed = True
        try:
            self._response = self._provider.finish(self._request, assembled)
        except BaseException as exc:
            self._failed(exc)
            raise
        # the token pace was booked on an estimate: the usage in the stream's last chunk corrects it
        self._handle.settle(assembled.usage)
        record, self._record = self._record, None
        _instrument.call_finished(record, self._response)


class Stream(_StreamBase):
    """A streamed turn: `for chunk in stream: ...`, then `stream.response`."""

    def __iter__(self) -> Iterator[StreamChunk]:
        if self._consumed:
            return
        yielded = False
        try:
            while True:
                events = self._handle.events()
                try:
                    for event in events:
                        for chunk in self._state.feed(event):
                            yielded = True
                            yield chunk
                        if self._state.done:
                            break
                    assembled = self._state.result()
                except (httpx2.HTTPError, ToolwireError) as exc:
                    self._handle.reopen(self._retry_error_or_raise(exc, yielded))
                    self._restart()
                    continue
                # Read to the end of the body (past [DONE]): only a fully read response can hand
                # its connection back to the pool (iter_raw cannot drain a response whose lines
                # were being iterated). The turn is complete: a failure here loses nothing.
                try:
                    for _ in events:
                        pass
                except httpx2.HTTPError:
                    pass
                break
        except ToolwireError as exc:
            self._failed(exc)
            raise
        finally:
            # an abandoned stream is closed, which stops the generation the caller no longer wants
            self._handle.close()
        self._complete(assembled)

    @property
    def response(self) -> GenerateResponse:
        """The assembled response. Reading it before the end consumes the rest of the stream."""
        if self._response is None:
            for _ in self:
                pass
        assert self._response is not None
        return self._response

    def close(self) -> None:
        """Stop the stream. What was not read is dropped with its connection, which also stops the
        generation; a stream read to its end has already returned its connection to the pool."""
        self._handle.close()

    def __del__(self) -> None:
        # a stream created and never iterated (nor closed) must not keep its socket and pool slot
        # for the life of the process (issue 16 item 13)
        handle = self.__dict__.get("_handle")
        http = handle.response if handle is not None else None
        if http is not None and not http.is_closed:
            try:
                http.close()
            except Exception:
                pass

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncStream(_StreamBase):
    """The async twin: `async for chunk in stream: ...`, then `stream.response`."""

    def __aiter__(self) -> AsyncIterator[StreamChunk]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[StreamChunk]:
        if self._consumed:
            return
        yielded = False
        try:
            while True:
                events = self._handle.aevents()
                try:
                    async for event in events:
                        for chunk in self._state.feed(event):
                            yielded = True
                            yield chunk
                        if self._state.done:
                            break
                    assembled = self._state.result()
                except (httpx2.HTTPError, ToolwireError) as exc:
                    await self._handle.areopen(self._retry_error_or_raise(exc, yielded))
                    self._restart()
                    continue
                try:
                    async for _ in events:  # to the end of the body: see Stream.__iter__
                        pass
                except httpx2.HTTPError:
                    pass
                break
        except ToolwireError as exc:
            self._failed(exc)
            raise
        finally:
            await self._handle.aclose()
        self._complete(assembled)

    @property
    def response(self) -> GenerateResponse:
        if self._response is None:
            raise ToolwireError(
                "consume the stream first (async for chunk in stream), or await stream.aresponse()"
            )
        return self._response

    async def aresponse(self) -> GenerateResponse:
        """Consume what is left and return the assembled response."""
        if self._response is None:
            async for _ in self:
                pass
        assert self._response is not None
        return self._response

    async def aclose(self) -> None:
        await self._handle.aclose()

    def __del__(self) -> None:
        # never iterated nor closed: close it on its loop (a finalizer cannot await)
        handle = self.__dict__.get("_handle")
        http = handle.response if handle is not None else None
        loop = self.__dict__.get("_loop")
        if http is None or http.is_closed or loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(lambda: loop.create_task(http.aclose()))
        except RuntimeError:
            pass  # the loop is shutting down: its connections go with it

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
