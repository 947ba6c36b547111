"""The one small HTTP transport every provider shares (on httpx2).

What lives here and nowhere else: connection pooling (one client per provider instance, reused by
every call, streamed or not: streams are drained before their connection goes back to the pool),
timeouts, the retry policy (one place, so a request is never retried twice over), stream handles and
the mapping of transport failures onto the toolwire error tree. What a provider's body or error
looks like is not known here: the provider passes a function that turns a failed response into a
`ProviderError`.

httpx2 rather than httpx: same API, but its connection pool does not degrade with concurrency
(encode/httpx#3215); the measurements are in docs/performance.md. It is what the openai SDK 3.x
runs on.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import email.utils
import functools
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2

from . import _direct
from ._bounded import attempt_deadline, bounded
from ._framing import (
    SSE_FRAMING,
    Framing,
)
from ._pacing import Pacer, Permit, estimate_tokens
from ._scrub import (
    header_secrets,
    install_log_filter,
    library_logs_enabled,
    ordered,
    register,
    scrub_text,
    url_secrets,
)
from .errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
)

logger = logging.getLogger("toolwire.transport")
retry_logger = logging.getLogger("toolwire.retry")

DEFAULT_TIMEOUT = 600.0
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 2
# httpx's default keeps only 20 idle connections: with more requests in flight, every burst would
# close the extra ones and open new ones (docs/performance.md). Keep as many as an agent plausibly
# runs at once, like the openai SDK does.
POOL_LIMITS = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)

E = TypeVar("E", bound=BaseException)
ErrorMapper = Callable[[int, Mapping[str, str], bytes], ProviderError]


@dataclass
class ClientOverride:
    """Clients every provider uses instead of its own while set (see `toolwire.testing`)."""

    client: httpx2.Client
    async_client: httpx2.AsyncClient


# Set by toolwire.testing.record_http()/replay(): reroutes every provider's HTTP for the duration.
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
    deadline: float | None = None  # total seconds for every attempt of this call (None: the provider's)
    secrets: tuple[str, ...] = ()  # what the provider declared it holds (`BaseProvider.credentials`)
    # called on the call before each retry: a provider whose authentication is bound to the time
    # of the request (AWS SigV4: five minutes after `x-amz-date`) signs it again
    prepare_retry: Callable[[HttpCall], None] | None = field(default=None, repr=False)


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter that honours `retry-after-ms` and `Retry-After`.

    Sans-I/O: `delay_for` decides, the sync and async drivers sleep. The jitter draws the wait
    between half and all of the exponential step, so a burst of clients that failed together does
    not come back together, while the wait still grows with each attempt.
    """

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    deadline: float | None = None  # total seconds for all attempts of one call
    jitter: Callable[[], float] = field(default=random.random, repr=False)

    def delay_for(
        self,
        attempt: int,
        error: ProviderError,
        started: float,
        *,
        now: float | None = None,
        retry_after: float | None = None,
    ) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None to give up and raise `error`.

        `retry_after` is what the failed response asked for (any status: Anthropic and Azure send
        it with 529/503 too); a rate-limit error's own `retry_after` is used when none is given.
        """
        if attempt >= self.max_retries or not error.retryable:
            return None
        if retry_after is None and isinstance(error, RateLimitError):
            retry_after = error.retry_after
        delay: float | None = None
        if retry_after is not None and retry_after > self.max_retry_after:
            # A long wait (a daily quota, a minute-plus throttle) is waited only when the caller
            # gave a deadline it fits in; otherwise the error goes up at once, with `retry_after`,
            # instead of a fast retry the server already said would fail.
            elapsed = (time.monotonic() if now is None else now) - started
            if self.deadline is None or elapsed + retry_after > self.deadline:
                if isinstance(error, RateLimitError) and error.retry_after is None:
                    error.retry_after = retry_after
                return None
            return retry_after
        if retry_after is not None:
            delay = max(0.0, retry_after)
        if delay is None:
            base = min(self.initial_delay * (2**attempt), self.max_delay)
            delay = base * (0.5 + 0.5 * self.jitter())
        if self.deadline is not None:
            elapsed = (time.monotonic() if now is None else now) - started
            if elapsed + delay > self.deadline:
                return None
        return delay

    def with_overrides(self, *, max_retries: int | None, deadline: float | None) -> RetryPolicy:
        if (max_retries is None or max_retries == self.max_retries) and (
            deadline is None or deadline == self.deadline
        ):
            return self
        return RetryPolicy(
            max_retries=self.max_retries if max_retries is None else max_retries,
            initial_delay=self.initial_delay,
            max_delay=self.max_delay,
            max_retry_after=self.max_retry_after,
            deadline=self.deadline if deadline is None else deadline,
            jitter=self.jitter,
        )


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """`retry-after-ms` (Azure/OpenAI), then `Retry-After` as seconds or an HTTP date."""
    value = headers.get("retry-after-ms")
    if value:
        try:
            millis = float(value)
        except ValueError:
            pass
        else:
            if millis == millis and millis >= 0:
                return millis / 1000.0
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None  # a malformed header must not turn a 429 into a crash
        if parsed is None:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, parsed.timestamp() - time.time())
    return seconds if seconds == seconds and seconds >= 0 else None  # NaN and negatives: ignore


def _timeout(seconds: float | None) -> httpx2.Timeout:
    total = DEFAULT_TIMEOUT if seconds is None else seconds
    return httpx2.Timeout(total, connect=min(total, DEFAULT_CONNECT_TIMEOUT))


@functools.lru_cache(maxsize=256)
def _timeout_items(seconds: float) -> tuple[tuple[str, float | None], ...]:
    # httpx2.Timeout(...).as_dict() costs ~10 µs per request; the same few values recur
    return tuple(_timeout(seconds).as_dict().items())


@functools.lru_cache(maxsize=256)
def _parsed_url(url: str) -> httpx2.URL:
    # a provider sends to the same few URLs: parse each once (httpx2.URL is immutable)
    return httpx2.URL(url)


def _transport_error(exc: Exception, provider: str) -> ProviderError:
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderTimeoutError(f"request timed out: {type(exc).__name__}", provider=provider)
    return ProviderConnectionError(
        f"connection failed: {type(exc).__name__}: {exc}".rstrip(": "), provider=provider
    )


def call_secrets(call: HttpCall) -> tuple[str, ...]:
    """The credential values one request carries, in every form, to scrub from anything derived
    from it: what the provider declared, every header not known to be harmless (an APIM key in
    `default_headers`, a proxy's credentials) and the URL's `user:password@` and `?key=`."""
    found = ordered(header_secrets(call.headers) | url_secrets(call.url) | set(call.secrets))
    register(found)
    return found


def _scrub_value(value: object, secrets: tuple[str, ...]) -> object:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
        scrubbed = _scrub_value(text, secrets)
        return scrubbed.encode() if isinstance(scrubbed, str) and scrubbed != text else value
    if isinstance(value, dict):
        return {k: _scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v, secrets) for v in value]
    return value


def scrub_error(error: E, secrets: tuple[str, ...]) -> E:
    """Remove the request's credentials from an error built from a response.

    Errors are built from response bodies, never request headers; but a server may echo what it
    received (a proxy's 401 quoting the Authorization header, a Gemini URL with `?key=` inside a
    connection error), and that must not reach a log or a traceback either.
    """
    if not secrets:
        return error
    text = getattr(error, "message", None)
    if not isinstance(text, str):
        text = error.args[0] if len(error.args) == 1 and isinstance(error.args[0], str) else None
    message = _scrub_value(text, secrets) if text is not None else None
    if message != text:
        if hasattr(error, "message"):
            error.message = message
        error.args = (message,)
    # the body, a request id from a response header (it may echo what it received), partial text
    for attr in ("body", "request_id", "partial_content", "raw_text"):
        value = getattr(error, attr, None)
        if value is not None:
            setattr(error, attr, _scrub_value(value, secrets))
    return error


_PLAIN_CLIENTS = (httpx2.Client, httpx2.AsyncClient)


def _build_request(
    client: httpx2.Client | httpx2.AsyncClient, call: HttpCall, extensions: dict[str, Any] | None
) -> httpx2.Request:
    """The request `client.build_request(...)` builds (same headers in the same order, same
    content and extensions), for a third of its cost (~35 µs of a ~500 µs call).

    httpx2 copies the headers three times and scans all of them for every header it looks up or
    replaces; here the URL is parsed once per URL and always absolute (a client's `base_url`
    cannot apply), the client's default headers are merged in one pass, and `Host` and
    `Content-Length` are added as httpx2 adds them. A client with cookies or default query
    parameters, a client class that may override `build_request`, or a body that is not plain
    bytes takes httpx2's own path.
    """
    url = _parsed_url(call.url)
    body = call.body
    if type(client) not in _PLAIN_CLIENTS or client.cookies or client.params or not body:
        return client.build_request(
            call.method, url, headers=call.headers, content=body, extensions=extensions
        )
    ours = _raw_headers(call.headers)
    replaced = {key.lower() for key, _ in ours}
    headers = [item for item in client.headers.raw if item[0].lower() not in replaced]
    headers += ours
    names = replaced.union(key.lower() for key, _ in headers)
    if b"content-length" not in names and b"transfer-encoding" not in names:
        headers.append((b"Content-Length", str(len(body)).encode()))
    if b"host" not in names and url.host:
        headers.insert(0, (b"Host", _host_header(url)))
    if extensions is None:
        extensions = {"timeout": client.timeout.as_dict()}
    request = httpx2.Request(
        call.method, url, headers=headers, stream=httpx2.ByteStream(body), extensions=extensions
    )
    request.read()  # as httpx2 does for in-memory content: `request.content` is then set
    return request


def _raw_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """The headers as httpx2 encodes them (ASCII); anything else goes through httpx2.Headers, so
    that an invalid header fails exactly as it would there."""
    try:
        return [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
    except (AttributeError, UnicodeError):
        return httpx2.Headers(headers).raw


def _host_header(url: httpx2.URL) -> bytes:
    # as httpx2 writes Host: the netloc (port only when not the default), no IPv6 zone
    netloc = url.netloc
    if netloc.startswith(b"["):
        host, bracket, port = netloc.partition(b"]")
        netloc = host.partition(b"%")[0] + bracket + port
    return netloc


@dataclass
class _Attempts:
    """Where one call stands in its retry budget (kept across a stream's re-opening)."""

    call: HttpCall
    policy: RetryPolicy
    started: float
    attempt: int = 0
    # when the current attempt must be over: `timeout` bounds the whole attempt, not each read
    attempt_ends: float | None = None
    # a stream's pacing permit: its concurrency slot is held until the stream is over
    permit: Permit | None = None
    _secrets: tuple[str, ...] | None = None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The request's credentials in every form (`call_secrets`), worked out when first needed:
        only an error (or a log line of the HTTP library) needs them, and for a SigV4-signed call
        the signature differs per request, so nothing could be cached across calls."""
        if self._secrets is None:
            self._secrets = call_secrets(self.call)
        return self._secrets


class Transport:
    """Sync and async sending for one provider instance, with retries and pooled clients.

    `sleep`, `asleep` and `clock` are injectable so that retry behaviour is tested without waiting.
    """

    def __init__(
        self,
        *,
        provider: str,
        error_mapper: ErrorMapper,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_deadline: float | None = None,
        http_client: httpx2.Client | None = None,
        async_http_client: httpx2.AsyncClient | None = None,
        retry_policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        asleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        install_log_filter()
        self.provider = provider
        self.error_mapper = error_mapper
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy(
            max_retries=DEFAULT_MAX_RETRIES if max_retries is None else max_retries,
            deadline=retry_deadline,
        )
        self.sleep: Callable[[float], None] = sleep or time.sleep
        self.asleep: Callable[[float], Awaitable[None]] = asleep or asyncio.sleep
        self.clock: Callable[[], float] = clock or time.monotonic
        # shared by every call of this provider instance, sync and async (see _pacing.py)
        self.pacer = pacer if pacer is not None else Pacer(clock=self.clock)
        self._client = http_client
        self._owns_client = http_client is None
        self._async_client = async_http_client
        self._owns_async_client = async_http_client is None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        # streams opened and maybe never read: closed with the provider, whoever owns the client
        # (issue 16 item 13); weak, so a stream dropped by the caller is not kept alive here
        self._streams: weakref.WeakSet[StreamHandle] = weakref.WeakSet()
        self._astreams: weakref.WeakSet[StreamHandle] = weakref.WeakSet()

    # -- clients -------------------------------------------------------------------------------
    @property
    def client(self) -> httpx2.Client:
        override = client_override.get()
        if override is not None:
            return override.client
        if self._client is None:
            self._client = httpx2.Client(timeout=_timeout(self.timeout), limits=POOL_LIMITS)
            bounded(self._client)  # reads on its connections honour the attempt's deadline
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
            self._async_client = httpx2.AsyncClient(timeout=_timeout(self.timeout), limits=POOL_LIMITS)
            self._async_loop = loop
        return self._async_client

    def close(self) -> None:
        """Close the sync streams still open (their connections are dropped, not pooled) and the
        client, if it is ours."""
        for handle in list(self._streams):
            handle.close()
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close every stream still open, sync and async, and the async client, if it is ours."""
        for handle in list(self._streams):
            handle.close()
        for handle in list(self._astreams):
            try:
                await handle.aclose()
            except RuntimeError:
                pass  # opened on another event loop, now closed: its connection went with it
        if self._owns_async_client and self._async_client is not None:
            await self._async_client.aclose()
            self._async_client = None

    def _start(self, call: HttpCall) -> _Attempts:
        policy = self.retry_policy.with_overrides(max_retries=call.max_retries, deadline=call.deadline)
        state = _Attempts(call, policy, self.clock())
        if library_logs_enabled():
            # the HTTP library will log this request: its log filter must know the secrets first
            state.secrets  # noqa: B018
        return state

    def _build(self, client: httpx2.Client | httpx2.AsyncClient, state: _Attempts) -> httpx2.Request:
        call = state.call
        if state.attempt and call.prepare_retry is not None:
            call.prepare_retry(call)
        # the provider's timeout applies to clients the user passed in too, not only to ours
        seconds = call.timeout if call.timeout is not None else self.timeout
        deadline = state.policy.deadline
        if deadline is not None:
            remaining = deadline - (self.clock() - state.started)
            if remaining <= 0:
                raise ProviderTimeoutError(
                    f"the retry deadline of {deadline:g}s passed before attempt {state.attempt + 1}",
                    provider=self.provider,
                )
            # one slow attempt must not outlive the whole call's deadline
            seconds = min(seconds if seconds is not None else DEFAULT_TIMEOUT, remaining)
        state.attempt_ends = self.clock() + (seconds if seconds is not None else DEFAULT_TIMEOUT)
        extensions = {"timeout": dict(_timeout_items(seconds))} if seconds is not None else None
        return _build_request(client, call, extensions)

    def _next_delay(self, state: _Attempts, error: ProviderError, retry_after: float | None) -> float | None:
        delay = state.policy.delay_for(
            state.attempt, error, state.started, now=self.clock(), retry_after=retry_after
        )
        if delay is not None:
            reason = type(error).__name__
            if error.status_code:
                reason += f" {error.status_code}"
            retry_logger.info(
                "retrying %s request (attempt %d of %d) in %.2fs after %s%s",
                self.provider,
                state.attempt + 2,
                state.policy.max_retries + 1,
                delay,
                reason,
                f" (server asked to wait {retry_after:g}s)" if retry_after is not None else "",
            )
            state.attempt += 1
        return delay

    def _paced(
        self,
        permit: Permit,
        response: httpx2.Response | None,
        error: ProviderError | None,
        retry_after: float | None,
        *,
        keep_slot: bool = False,
    ) -> None:
        """Give the attempt's pacing slot back and let the pacer learn from the response.
        `keep_slot`: an opened stream holds its slot until it is over (StreamHandle.close)."""
        self.pacer.release(
            permit,
            None if response is None else response.status_code,
            None if response is None else response.headers,
            retry_after=retry_after,
            retryable=error is None or error.retryable,
            keep_slot=keep_slot,
        )

    def _failed_response(self, response: httpx2.Response, body: bytes) -> tuple[ProviderError, float | None]:
        error = self.error_mapper(response.status_code, response.headers, body)
        return error, parse_retry_after(response.headers)

    # -- sync ----------------------------------------------------------------------------------
    def send(self, call: HttpCall) -> httpx2.Response:
        """Send and read the whole body; retry what is retryable; raise mapped errors."""
        return self._run(self._start(call), stream=False)

    def open_stream(self, call: HttpCall) -> StreamHandle:
        """Send and return the open streaming response (2xx; errors raised, retried) with its
        call's retry budget, so the stream can `reopen()` within it."""
        state = self._start(call)
        handle = StreamHandle(self, state, self._run(state, stream=True))
        self._streams.add(handle)
        return handle

    def _reopen(self, state: _Attempts, error: ProviderError) -> httpx2.Response:
        error = scrub_error(error, state.secrets)
        delay = self._next_delay(state, error, None)
        if delay is None:
            raise error
        self.sleep(delay)
        return self._run(state, stream=True)

    def _run(self, state: _Attempts, *, stream: bool) -> httpx2.Response:
        client = self.client
        while True:
            retry_after: float | None = None
            permit = self.pacer.acquire(state.call.body, self.sleep, retrying=state.attempt > 0)
            bound = None
            try:
                request = self._build(client, state)
                # the head (and, unstreamed, the body) must come within the attempt's time
                ends = state.attempt_ends
                bound = attempt_deadline.set(None if ends is None else (ends, self.clock))
                response = _direct.send(client, request, None if stream else self._expired(state))
                if not stream and response.status_code < 400 and not response.is_stream_consumed:
                    self._read_within(response, state)
            except httpx2.TransportError as exc:
                error = _transport_error(exc, self.provider)
                error.__cause__ = exc
                self._paced(permit, None, error, None)
            except BaseException:
                self._paced(permit, None, None, None)
                raise
            else:
                if response.status_code < 400:
                    self._paced(permit, response, None, None, keep_slot=stream)
                    if stream:
                        state.permit = permit
                    return response
                try:
                    body = response.read()
                except httpx2.HTTPError:
                    body = b""
                finally:
                    response.close()
                error, retry_after = self._failed_response(response, body)
                self._paced(permit, response, error, retry_after)
            finally:
                if bound is not None:
                    attempt_deadline.reset(bound)
            error = scrub_error(error, state.secrets)
            delay = self._next_delay(state, error, retry_after)
            if delay is None:
                raise error
            self.sleep(delay)

    def _expired(self, state: _Attempts) -> Callable[[], bool]:
        ends = state.attempt_ends
        return lambda: ends is not None and self.clock() > ends

    def _read_within(self, response: httpx2.Response, state: _Attempts) -> None:
        """Read the body, giving up when the attempt's time is over: httpx's read timeout bounds
        each read, so a server trickling a byte a second would hold the call for ever."""
        chunks: list[bytes] = []
        try:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if state.attempt_ends is not None and self.clock() > state.attempt_ends:
                    raise httpx2.ReadTimeout("the response was not complete within the timeout")
        except BaseException:
            response.close()
            raise
        # as Response.read() does; reading through iter_bytes is what lets us stop in between
        response._content = b"".join(chunks)

    async def _within(
        self,
        state: _Attempts,
        step: Awaitable[Any],
        request: httpx2.Request,
        response: httpx2.Response | None = None,
    ) -> Any:
        """`step` (sending, reading the body) within what is left of the attempt's time."""
        left = None if state.attempt_ends is None else max(0.0, state.attempt_ends - self.clock())
        try:
            return await asyncio.wait_for(step, left)
        except asyncio.TimeoutError:
            if response is not None:
                await response.aclose()
            message = "the response was not complete within the timeout"
            raise httpx2.ReadTimeout(message, request=request) from None

    # -- async ---------------------------------------------------------------------------------
    async def asend(self, call: HttpCall) -> httpx2.Response:
        return await self._arun(self._start(call), stream=False)

    async def aopen_stream(self, call: HttpCall) -> StreamHandle:
        state = self._start(call)
        handle = StreamHandle(self, state, await self._arun(state, stream=True))
        self._astreams.add(handle)
        return handle

    async def _areopen(self, state: _Attempts, error: ProviderError) -> httpx2.Response:
        error = scrub_error(error, state.secrets)
        delay = self._next_delay(state, error, None)
        if delay is None:
            raise error
        await self.asleep(delay)
        return await self._arun(state, stream=True)

    async def _arun(self, state: _Attempts, *, stream: bool) -> httpx2.Response:
        client = self.async_client
        while True:
            retry_after: float | None = None
            permit = await self.pacer.aacquire(state.call.body, self.asleep, retrying=state.attempt > 0)
            try:
                request = self._build(client, state)
                response: httpx2.Response = await self._within(
                    state, _direct.asend(client, request), request
                )
                if not stream and response.status_code < 400:
                    await self._within(state, response.aread(), request, response)
            except httpx2.TransportError as exc:
                error = _transport_error(exc, self.provider)
                error.__cause__ = exc
                self._paced(permit, None, error, None)
            except BaseException:
                self._paced(permit, None, None, None)
                raise
            else:
                if response.status_code < 400:
                    self._paced(permit, response, None, None, keep_slot=stream)
                    if stream:
                        state.permit = permit
                    return response
                try:
                    body = await response.aread()
                except httpx2.HTTPError:
                    body = b""
                finally:
                    await response.aclose()
                error, retry_after = self._failed_response(response, body)
                self._paced(permit, response, error, retry_after)
            error = scrub_error(error, state.secrets)
            delay = self._next_delay(state, error, retry_after)
            if delay is None:
                raise error
            await self.asleep(delay)


class StreamHandle:
    """An open streaming response and the retry budget of the call that opened it.

    What a stream needs from the transport and nothing more: the response to read, `events()` in
    the body's framing, and `reopen(error)` when the stream failed before anything reached the
    caller: the next attempt is opened within the same budget (a call is never retried twice
    over), or `error` is raised when the budget is spent. `framing` is how the body splits into
    events: SSE here; another framing (a binary event stream) plugs in as another `Framing`.
    """

    __slots__ = ("__weakref__", "_settled", "_state", "_transport", "framing", "response")

    def __init__(
        self,
        transport: Transport,
        state: _Attempts,
        response: httpx2.Response,
        framing: Framing | None = None,
    ) -> None:
        self._transport = transport
        self._state = state
        self.response = response
        self.framing = framing or SSE_FRAMING
        self._settled = False

    def release_slot(self) -> None:
        """Give the stream's `max_concurrency` slot back (once): the stream ended or was closed."""
        permit, self._state.permit = self._state.permit, None
        if permit is not None:
            self._transport.pacer.release_slot(permit)

    def settle(self, usage: Mapping[str, int] | None) -> None:
        """Correct the token pace from the usage the stream's last chunk reported (once)."""
        permit = self._state.permit
        if self._settled or usage is None:
            return
        self._settled = True
        tokens = permit.tokens if permit is not None else estimate_tokens(self._state.call.body)
        self._transport.pacer.settle_usage(tokens, usage)

    def __del__(self) -> None:
        # dropped without being read to the end or closed: the slot must not leak with it (with
        # max_concurrency=1 one forgotten stream would otherwise block every later call)
        state: _Attempts | None = getattr(self, "_state", None)
        if state is not None and state.permit is not None:
            permit, state.permit = state.permit, None
            self._transport.pacer.release_slot(permit, from_finalizer=True)

    def events(self) -> Iterator[Any]:
        return self.framing.iter(self.response)

    def aevents(self) -> AsyncIterator[Any]:
        return self.framing.aiter(self.response)

    def reopen(self, error: ProviderError) -> None:
        """Close the failed response and open the next attempt (after the policy's wait)."""
        self.response.close()
        self.release_slot()  # the next attempt waits for a slot like any other call
        self.response = self._transport._reopen(self._state, error)

    async def areopen(self, error: ProviderError) -> None:
        await self.response.aclose()
        self.release_slot()
        self.response = await self._transport._areopen(self._state, error)

    def close(self) -> None:
        try:
            self.response.close()
        finally:
            self.release_slot()

    async def aclose(self) -> None:
        try:
            await self.response.aclose()
        finally:
            self.release_slot()
