"""`Stream` and `AsyncStream`: iterate text/tool-call chunks, then read `.response`.

Both drive the same provider stream state (sans-I/O); they differ only in how SSE events are read.
Whatever happens (normal end, early break, error), the HTTP body is drained and closed so the
connection returns to the pool: the openai SDK's sync stream does not, and pays a new TCP (and TLS)
connection per streamed call (../shared/research/perf-baseline.md, "Surprises" 1).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx2

from . import _instrument
from ._transport import adrain_and_close, aiter_sse, drain_and_close, iter_sse
from .errors import ProviderError, StreamInterruptedError, ToolwireError
from .types import GenerateResponse, StreamChunk

if TYPE_CHECKING:
    from ._instrument import CallRecord
    from .providers.base import BaseProvider, ChatRequest

__all__ = ["AsyncStream", "Stream"]


class _StreamBase:
    def __init__(
        self,
        provider: BaseProvider,
        request: ChatRequest,
        response: httpx2.Response,
        record: CallRecord | None = None,
    ) -> None:
        self._record = record
        self._provider = provider
        self._request = request
        self._http = response
        self._state = provider.new_stream_state(request)
        self._response: GenerateResponse | None = None
        self._consumed = False

    @property
    def http_response(self) -> httpx2.Response:
        return self._http

    def _failed(self, exc: BaseException) -> None:
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

    def _complete(self) -> None:
        self._consumed = True
        try:
            self._response = self._provider.finish(self._request, self._state.result())
        except BaseException as exc:
            self._failed(exc)
            raise
        record, self._record = self._record, None
        _instrument.call_finished(record, self._response)


class Stream(_StreamBase):
    """A streamed turn: `for chunk in stream: ...`, then `stream.response`."""

    def __iter__(self) -> Iterator[StreamChunk]:
        if self._consumed:
            return
        state = self._state
        events = iter_sse(self._http)
        try:
            for event in events:
                yield from state.feed(event)
                if state.done:
                    break
            # Read to the end of the body (past [DONE]): only a fully read response can hand its
            # connection back to the pool. An abandoned stream is closed instead, which stops the
            # generation the caller no longer wants.
            for _ in events:
                pass
        except httpx2.HTTPError as exc:
            error = self._interrupted(exc)
            self._failed(error)
            raise error from exc
        except ToolwireError as exc:
            self._failed(exc)
            raise
        finally:
            self._http.close()
        self._complete()

    @property
    def response(self) -> GenerateResponse:
        """The assembled response. Reading it before the end consumes the rest of the stream."""
        if self._response is None:
            for _ in self:
                pass
        assert self._response is not None
        return self._response

    def close(self) -> None:
        drain_and_close(self._http)

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
        state = self._state
        events = aiter_sse(self._http)
        try:
            async for event in events:
                for chunk in state.feed(event):
                    yield chunk
                if state.done:
                    break
            async for _ in events:  # to the end of the body: see Stream.__iter__
                pass
        except httpx2.HTTPError as exc:
            error = self._interrupted(exc)
            self._failed(error)
            raise error from exc
        except ToolwireError as exc:
            self._failed(exc)
            raise
        finally:
            await self._http.aclose()
        self._complete()

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
        await adrain_and_close(self._http)

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def stream_error_from_event(provider: str, payload: Any) -> ProviderError:
    """An error delivered inside a 200 stream (Groq `event: error`, OpenAI `{"error": ...}`)."""
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    message = error.get("message") if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    return ProviderError(
        f"{provider} reported an error inside the stream: {message}",
        provider=provider,
        body=payload,
        code=str(code) if code is not None else None,
    )
