"""The one small HTTP transport every provider shares (on httpx2).

What lives here and nowhere else: connection pooling (one client per provider instance, reused by
every call, streamed or not: streams are drained before their connection goes back to the pool),
timeouts, the retry policy (one place, so a request is never retried twice over), SSE parsing and
the mapping of transport failures onto the toolwire error tree. What a provider's body or error
looks like is not known here: the provider passes a function that turns a failed response into a
`ProviderError`.

httpx2 rather than httpx: same API, but its connection pool does not degrade with concurrency
(encode/httpx#3215); at 64 requests in flight it ran 7x the async throughput of httpx 0.28 in
../shared/research/perf-baseline.md. It is what the openai SDK 3.x runs on.
"""

from __future__ import annotations

import asyncio
import contextvars
import email.utils
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

import httpx2

from .errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
)

logger = logging.getLogger("toolwire.transport")
retry_logger = logging.getLogger("toolwire.retry")

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
DEFAULT_TIMEOUT = 600.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2

ErrorMapper = Callable[[int, Mapping[str, str], bytes], ProviderError]


@dataclass
class ClientOverride:
    """Clients every provider uses instead of its own while set (see `toolwire.testing`)."""

    client: httpx2.Client
    async_client: httpx2.AsyncClient


# Set by toolwire.testing.record()/replay(): reroutes every provider's HTTP for the duration.
client_override: contextvars.ContextVar[ClientOverride | None] = contextvars.ContextVar(
    "toolwire_client_override", default=None
)


@dataclass
class HttpCall:
    """One request, fully built by a provider's pure translation functions."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None
    timeout: float | None = None
    max_retries: int | None = None


@dataclass
class SSEEvent:
    event: str | None
    data: str


@dataclass
class RetryPolicy:
    """Exponential backoff with full jitter that honours `retry-after-ms` and `Retry-After`.

    Sans-I/O: `delay_for` decides, the sync and async drivers sleep.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    deadline: float | None = None  # total seconds for all attempts of one call
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def delay_for(self, attempt: int, error: ProviderError, started: float) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up and raise `error`."""
        if attempt >= self.max_retries or not error.retryable:
            return None
        delay: float | None = None
        retry_after = error.retry_after if isinstance(error, RateLimitError) else None
        if retry_after is not None and retry_after <= self.max_retry_after:
            delay = max(0.0, retry_after)
        if delay is None:
            base = min(self.initial_delay * (2**attempt), self.max_delay)
            delay = base * (0.5 + 0.5 * self.jitter())
        if self.deadline is not None and time.monotonic() - started + delay > self.deadline:
            return None
        return delay


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` (Azure/OpenAI), then `Retry-After` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def _timeout(seconds: float | None) -> httpx2.Timeout:
    total = DEFAULT_TIMEOUT if seconds is None else seconds
    return httpx2.Timeout(total, connect=min(total, DEFAULT_CONNECT_TIMEOUT))


def _transport_error(exc: Exception, provider: str) -> ProviderError:
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderTimeoutError(f"request timed out: {type(exc).__name__}", provider=provider)
    return ProviderConnectionError(
        f"connection failed: {type(exc).__name__}: {exc}".rstrip(": "), provider=provider
    )


class Transport:
    """Sync and async sending for one provider instance, with retries and pooled clients."""

    def __init__(
        self,
        *,
        provider: str,
        error_mapper: ErrorMapper,
        timeout: float | None = None,
        max_retries: int | None = None,
        http_client: httpx2.Client | None = None,
        async_http_client: httpx2.AsyncClient | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.provider = provider
        self.error_mapper = error_mapper
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy(
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries
        )
        self._client = http_client
        self._owns_client = http_client is None
        self._async_client = async_http_client
        self._owns_async_client = async_http_client is None
        self._async_loop: asyncio.AbstractEventLoop | None = None

    # -- clients -------------------------------------------------------------------------------
    @property
    def client(self) -> httpx2.Client:
        override = client_override.get()
        if override is not None:
            return override.client
        if self._client is None:
            self._client = httpx2.Client(timeout=_timeout(self.timeout))
        return self._client

    @property
    def async_client(self) -> httpx2.AsyncClient:
        override = client_override.get()
        if override is not None:
            return override.async_client
        loop = asyncio.get_running_loop()
        if self._async_client is None or (self._owns_async_client and self._async_loop is not loop):
            # Pooled connections belong to the loop that opened them: a new loop (e.g. a second
            # asyncio.run) gets a new client instead of dead connections.
            self._async_client = httpx2.AsyncClient(timeout=_timeout(self.timeout))
            self._async_loop = loop
        return self._async_client

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._owns_async_client and self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    def _policy(self, call: HttpCall) -> RetryPolicy:
        if call.max_retries is None or call.max_retries == self.retry_policy.max_retries:
            return self.retry_policy
        return RetryPolicy(
            max_retries=call.max_retries,
            initial_delay=self.retry_policy.initial_delay,
            max_delay=self.retry_policy.max_delay,
            deadline=self.retry_policy.deadline,
        )

    def _build(self, client: httpx2.Client | httpx2.AsyncClient, call: HttpCall) -> httpx2.Request:
        extensions = None
        if call.timeout is not None:
            extensions = {"timeout": _timeout(call.timeout).as_dict()}
        return client.build_request(
            call.method, call.url, headers=call.headers, content=call.body, extensions=extensions
        )

    def _log_retry(self, attempt: int, error: ProviderError, delay: float) -> None:
        retry_logger.info(
            "retrying %s request (attempt %d) in %.2fs after %s%s",
            self.provider,
            attempt + 2,
            delay,
            type(error).__name__,
            f" {error.status_code}" if error.status_code else "",
        )

    # -- sync ----------------------------------------------------------------------------------
    def send(self, call: HttpCall) -> httpx2.Response:
        """Send and read the whole body; retry what is retryable; raise mapped errors."""
        return self._send(call, stream=False)

    def open_stream(self, call: HttpCall) -> httpx2.Response:
        """Send and return an open streaming response with a 2xx status (errors raised, retried)."""
        return self._send(call, stream=True)

    def _send(self, call: HttpCall, *, stream: bool) -> httpx2.Response:
        policy = self._policy(call)
        started = time.monotonic()
        attempt = 0
        client = self.client
        while True:
            try:
                response = client.send(self._build(client, call), stream=stream)
            except httpx2.TransportError as exc:
                error = _transport_error(exc, self.provider)
                error.__cause__ = exc
            else:
                if response.status_code < 400:
                    return response
                body = response.read()
                response.close()
                error = self.error_mapper(response.status_code, response.headers, body)
            delay = policy.delay_for(attempt, error, started)
            if delay is None:
                raise error
            self._log_retry(attempt, error, delay)
            time.sleep(delay)
            attempt += 1

    # -- async ---------------------------------------------------------------------------------
    async def asend(self, call: HttpCall) -> httpx2.Response:
        return await self._asend(call, stream=False)

    async def aopen_stream(self, call: HttpCall) -> httpx2.Response:
        return await self._asend(call, stream=True)

    async def _asend(self, call: HttpCall, *, stream: bool) -> httpx2.Response:
        policy = self._policy(call)
        started = time.monotonic()
        attempt = 0
        client = self.async_client
        while True:
            try:
                response = await client.send(self._build(client, call), stream=stream)
            except httpx2.TransportError as exc:
                error = _transport_error(exc, self.provider)
                error.__cause__ = exc
            else:
                if response.status_code < 400:
                    return response
                body = await response.aread()
                await response.aclose()
                error = self.error_mapper(response.status_code, response.headers, body)
            delay = policy.delay_for(attempt, error, started)
            if delay is None:
                raise error
            self._log_retry(attempt, error, delay)
            await asyncio.sleep(delay)
            attempt += 1


# -- SSE ---------------------------------------------------------------------------------------
class SSEDecoder:
    """Incremental Server-Sent Events decoder over text lines (sans-I/O)."""

    __slots__ = ("_data", "_event")

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []

    def feed_line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            event = SSEEvent(self._event, "\n".join(self._data))
            self._event = None
            self._data = []
            return event
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def flush(self) -> SSEEvent | None:
        return self.feed_line("")


def iter_sse(response: httpx2.Response) -> Iterator[SSEEvent]:
    decoder = SSEDecoder()
    for line in response.iter_lines():
        event = decoder.feed_line(line.rstrip("\r"))
        if event is not None:
            yield event
    tail = decoder.flush()
    if tail is not None:
        yield tail


async def aiter_sse(response: httpx2.Response) -> AsyncIterator[SSEEvent]:
    decoder = SSEDecoder()
    async for line in response.aiter_lines():
        event = decoder.feed_line(line.rstrip("\r"))
        if event is not None:
            yield event
    tail = decoder.flush()
    if tail is not None:
        yield tail


def drain_and_close(response: httpx2.Response) -> None:
    """Read what is left of a stream so its connection goes back to the pool, then close it."""
    try:
        for _ in response.iter_raw():
            pass
    except (httpx2.HTTPError, httpx2.StreamError):
        pass
    finally:
        response.close()


async def adrain_and_close(response: httpx2.Response) -> None:
    try:
        async for _ in response.aiter_raw():
            pass
    except (httpx2.HTTPError, httpx2.StreamError):
        pass
    finally:
        await response.aclose()


TokenProvider = Callable[[], "str | Awaitable[str]"]
