"""Pacing: how many requests one provider instance sends, and how fast (sans-I/O where it can be).

One `Pacer` per provider instance, shared by every call made through it, sync (threads) and async
(any event loop) alike:

- `max_concurrency`: requests in flight at once. One counter under a `threading.Lock`; waiters are
  `threading.Event`s (sync) or futures woken with `call_soon_threadsafe` (async), so a thread pool
  and an event loop sharing one provider share one limit.
- `requests_per_minute` / `tokens_per_minute`: a reservation scheduler (GCRA): each request books
  the next free start time, one interval after the previous one. Requests leave evenly spaced
  rather than 60 at second 0 and none for the rest of the minute, which is what a sliding-window
  limiter (OpenAI, Azure, Anthropic's continuously refilled buckets) rewards. Tokens are estimated
  before the call from the body size and corrected from `usage` after it (`settle`).
- Adaptive: every response's rate-limit headers are read (`x-ratelimit-*` from OpenAI and Azure,
  `anthropic-ratelimit-*`). A limit the server announces becomes the pace when none was configured
  (with a small margin); `remaining: 0` pauses every call until the announced reset; a 429 pauses
  everything sharing the pacer for `retry-after` (or a growing backoff) and slows the pace, which
  then recovers a little with each success.

The waiting itself is done by the caller with the transport's injectable `sleep` / `asleep` and
`clock`, so tests run on a fake clock.
"""

from __future__ import annotations

import asyncio
import datetime
import math
import re
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from .errors import ConfigurationError

__all__ = ["Pacer", "estimate_tokens", "parse_reset"]

# Learned limits are paced slightly below the limit: a smooth pace at exactly N per minute can
# still put N+1 starts in one sliding 60-second window.
LEARNED_MARGIN = 0.97
# After a 429 the pace drops to this fraction, and climbs back by RECOVERY per success.
SLOWDOWN = 0.7
MIN_FACTOR = 0.1
RECOVERY = 0.01
# A 429 without retry-after pauses everyone for this long, doubling per consecutive 429.
BASE_PAUSE = 0.5
MAX_PAUSE = 30.0
# Below this share of the limit left, the remaining requests are spread over the time to reset.
LOW_REMAINING = 0.1
CHARS_PER_TOKEN = 4  # OpenAI's own rule of thumb for English text; JSON bodies are close to it

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def estimate_tokens(body: bytes | None) -> int:
    """Tokens a request will count against a token limit, estimated before sending it."""
    return max(1, math.ceil(len(body or b"") / CHARS_PER_TOKEN))


def parse_reset(value: str | None, *, wall: float) -> float | None:
    """Seconds until a limit resets: `1s`, `6m0s`, `20ms`, `1h2m3.5s` (OpenAI/Azure), plain seconds,
    or an RFC 3339 time (Anthropic, against the wall clock `wall`). None when unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != math.inf else None
    if "T" in text:
        try:
            when = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return max(0.0, when.timestamp() - wall)
    total, pos = 0.0, 0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def _number(headers: Mapping[str, str], name: str) -> float | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number >= 0 and number == number else None


@dataclass
class LimitReading:
    """What one response said about one resource (requests or tokens)."""

    limit: float | None
    remaining: float | None
    reset: float | None  # seconds from now


def read_limits(headers: Mapping[str, str], *, wall: float) -> dict[str, LimitReading]:
    """`{"requests": ..., "tokens": ...}` from OpenAI/Azure or Anthropic rate-limit headers."""
    found: dict[str, LimitReading] = {}
    # one pass over the names first: most answers (Bedrock, Gemini, local servers) carry none of
    # these headers, and each lookup below is a scan of its own
    if not any("ratelimit" in name.lower() for name in headers):
        return found
    for kind in ("requests", "tokens"):
        # OpenAI / Azure: x-ratelimit-limit-requests, x-ratelimit-remaining-tokens, ...
        reading = LimitReading(
            _number(headers, f"x-ratelimit-limit-{kind}"),
            _number(headers, f"x-ratelimit-remaining-{kind}"),
            parse_reset(headers.get(f"x-ratelimit-reset-{kind}"), wall=wall),
        )
        if reading.limit is None and reading.remaining is None:
            # Anthropic: anthropic-ratelimit-requests-limit, ...-remaining, ...-reset (RFC 3339)
            prefix = f"anthropic-ratelimit-{kind}-"
            reading = LimitReading(
                _number(headers, prefix + "limit"),
                _number(headers, prefix + "remaining"),
                parse_reset(headers.get(prefix + "reset"), wall=wall),
            )
        if reading.limit is not None or reading.remaining is not None:
            found[kind] = reading
    return found


class _Waiter:
    """One call waiting for a concurrency slot: a thread (event) or a task (future on its loop)."""

    __slots__ = ("event", "future", "loop")

    def __init__(
        self,
        event: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.event = event
        self.loop = loop
        self.future = future


class Slots:
    """A counting semaphore shared by threads and event loops (max_concurrency)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.used = 0
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def acquire(self) -> None:
        with self._lock:
            if self.used < self.size:
                self.used += 1
                return
            waiter = _Waiter(event=threading.Event())
            self._waiters.append(waiter)
        assert waiter.event is not None
        try:
            waiter.event.wait()
        except BaseException:  # KeyboardInterrupt while waiting: give back a slot handed to us
            self._abandon(waiter, handed=waiter.event.is_set())
            raise

    async def aacquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self.used < self.size:
                self.used += 1
                return
            waiter = _Waiter(loop=loop, future=loop.create_future())
            self._waiters.append(waiter)
        assert waiter.future is not None
        try:
            await waiter.future
        except BaseException:
            future = waiter.future
            # handed and resolved before the cancellation landed: the slot is ours to give back;
            # a cancelled future is given back by the wake-up callback instead (see _wake)
            self._abandon(waiter, handed=future.done() and not future.cancelled())
            raise

    def _abandon(self, waiter: _Waiter, *, handed: bool) -> None:
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return
        if handed:
            self.release()

    def release(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if self._wake(waiter):
                    return  # the slot passes straight to the waiter: `used` is unchanged
            self.used -= 1

    def _wake(self, waiter: _Waiter) -> bool:
        if waiter.event is not None:
            waiter.event.set()
            return True
        assert waiter.loop is not None and waiter.future is not None
        future = waiter.future
        if future.done():
            return False

        def resolve() -> None:
            if future.cancelled():
                self.release()  # cancelled between the hand-over and this callback
            elif not future.done():
                future.set_result(None)

        try:
            waiter.loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # its loop is closed: nobody is waiting there any more
            return False
        return True


@dataclass
class Permit:
    """One request's place: released (with what the server said) when its response arrives."""

    tokens: int
    slot: bool


class Pacer:
    """The pace of one provider instance (see the module docstring)."""

    def __init__(
        self,
        *,
        max_concurrency: int | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (
            ("max_concurrency", max_concurrency),
            ("requests_per_minute", requests_per_minute),
            ("tokens_per_minute", tokens_per_minute),
        ):
            if value is not None and not value > 0:
                raise ConfigurationError(f"{name} must be a positive number, got {value!r}")
        self.max_concurrency = max_concurrency
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.adaptive = adaptive
        self.clock = clock
        self.wall = wall
        self.slots = Slots(max_concurrency) if max_concurrency else None
        self._lock = threading.Lock()
        self._next_request = -math.inf  # the earliest start the request pace allows
        self._next_token = -math.inf  # the earliest start the token pace allows
        self._paused_until = -math.inf
        self._learned: dict[str, float] = {}  # limits the server announced, per minute
        self._spread: dict[str, tuple[float, float]] = {}  # kind -> (min interval, valid until)
        self._factor = 1.0
        self._throttled_in_row = 0
        self.requests = 0
        self.throttled = 0
        self.waited = 0.0
        self.responses = 0  # answers seen (any status): the limits they announced are known

    # -- the pace --------------------------------------------------------------------------------
    def rate(self, kind: str) -> float | None:
        """The pace now in use for `requests` or `tokens`, per minute (None: not paced)."""
        configured = self.requests_per_minute if kind == "requests" else self.tokens_per_minute
        learned = self._learned.get(kind)
        rates = [r for r in (configured, learned * LEARNED_MARGIN if learned else None) if r]
        return min(rates) * self._factor if rates else None

    def _interval(self, kind: str, amount: float, now: float) -> float:
        rate = self.rate(kind)
        interval = amount * 60.0 / rate if rate else 0.0
        spread = self._spread.get(kind)
        if spread is not None:
            if now < spread[1]:
                interval = max(interval, spread[0] * amount)
            else:
                del self._spread[kind]
        return interval

    def reserve(self, tokens: int, *, ignore_pause: bool = False) -> float:
        """Book the next start for a request of `tokens`; return the seconds to wait for it."""
        with self._lock:
            now = self.clock()
            start = max(now, self._next_request, self._next_token)
            if not ignore_pause:
                start = max(start, self._paused_until)
            self._next_request = start + self._interval("requests", 1, now)
            self._next_token = start + self._interval("tokens", tokens, now)
            self.requests += 1
            wait = start - now
            self.waited += wait
            return wait

    def pause_left(self) -> float:
        with self._lock:
            return max(0.0, self._paused_until - self.clock())

    # -- around each attempt ---------------------------------------------------------------------
    def acquire(
        self, body: bytes | None, sleep: Callable[[float], None], *, retrying: bool = False
    ) -> Permit:
        """Wait (sync) for a concurrency slot and a start time. `retrying`: the transport already
        waited out this call's own 429, so the shared pause does not apply to it twice."""
        tokens = estimate_tokens(body)
        if self.slots is not None:
            self.slots.acquire()
        try:
            wait = self.reserve(tokens, ignore_pause=retrying)
            while wait > 0:
                sleep(wait)
                wait = 0.0 if retrying else self.pause_left()  # a 429 that came in meanwhile
        except BaseException:
            if self.slots is not None:
                self.slots.release()
            raise
        return Permit(tokens, self.slots is not None)

    async def aacquire(
        self, body: bytes | None, asleep: Callable[[float], Awaitable[None]], *, retrying: bool = False
    ) -> Permit:
        tokens = estimate_tokens(body)
        if self.slots is not None:
            await self.slots.aacquire()
        try:
            wait = self.reserve(tokens, ignore_pause=retrying)
            while wait > 0:
                await asleep(wait)
                wait = 0.0 if retrying else self.pause_left()
        except BaseException:
            if self.slots is not None:
                self.slots.release()
            raise
        return Permit(tokens, self.slots is not None)

    def release(
        self,
        permit: Permit,
        status: int | None,
        headers: Mapping[str, str] | None,
        *,
        retry_after: float | None = None,
        retryable: bool = True,
    ) -> None:
        """The attempt is over: free its slot and learn from the response (None: no response)."""
        if permit.slot and self.slots is not None:
            self.slots.release()
            permit.slot = False
        if status is None:
            return
        with self._lock:
            now = self.clock()
            self.responses += 1
            if headers is not None and self.adaptive:
                self._learn(headers, now)
            if status == 429 and retryable:
                self._throttled(now, retry_after)
            elif status < 400:
                self._throttled_in_row = 0
                self._factor = min(1.0, self._factor + RECOVERY)

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the token pace once a response's `usage` says what the call really cost."""
        if actual == estimated:
            return
        with self._lock:
            rate = self.rate("tokens")
            if rate:
                self._next_token += (actual - estimated) * 60.0 / rate

    def _throttled(self, now: float, retry_after: float | None) -> None:
        self.throttled += 1
        if now < self._paused_until:
            # one overshoot answers every request that was in flight with a 429: those are one
            # episode, already paused for; compounding them would stall the run for minutes
            if retry_after is not None:
                self._paused_until = max(self._paused_until, now + retry_after)
            return
        self._throttled_in_row += 1
        if retry_after is None:
            retry_after = min(BASE_PAUSE * 2 ** (self._throttled_in_row - 1), MAX_PAUSE)
        self._paused_until = max(self._paused_until, now + retry_after)
        self._factor = max(MIN_FACTOR, self._factor * SLOWDOWN)

    def _learn(self, headers: Mapping[str, str], now: float) -> None:
        for kind, reading in read_limits(headers, wall=self.wall()).items():
            if reading.limit:
                self._learned[kind] = reading.limit
            if reading.remaining is None or reading.reset is None:
                continue
            if reading.remaining < 1:
                # nothing left until the reset: starting anything earlier only collects 429s
                self._paused_until = max(self._paused_until, now + reading.reset)
            elif reading.limit and reading.remaining < reading.limit * LOW_REMAINING:
                # others share this key: spread what is left over the time to the reset
                self._spread[kind] = (reading.reset / reading.remaining, now + reading.reset)

    def stats(self) -> dict[str, float]:
        with self._lock:
            return {
                "requests": self.requests,
                "throttled": self.throttled,
                "waited": round(self.waited, 3),
                "factor": round(self._factor, 3),
                "in_flight": (self.slots.used if self.slots is not None else -1),
            }
