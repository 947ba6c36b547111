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
  (with a small margin). The reset headers say when the limit is back to *full* capacity, and
  limits refill linearly (`refill_time`): when what is left will not do for the next request
  (`remaining: 0`, or fewer tokens than it needs), every call waits for that much to refill, not
  for the whole reset. A 429 pauses everything sharing the pacer for `retry-after` (or a growing
  backoff) and slows the pace, which then recovers a little with each success.

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
# At or below this share of the request limit left, the next request is about to be refused:
# new starts wait for one request's worth of the limit (60 / limit s) to come free.
NEARLY_OUT = 0.01
# A request that wakes more than this many intervals after its booked start books again (once):
# a few late ones going together fit the headroom LEARNED_MARGIN leaves (3 of every 100).
LATE = 3.0
MINUTE = 60.0  # the shortest window a provider's announced limit counts over
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
    # the window the limit counts over, when the server says it (Azure's
    # `x-ratelimit-renewalperiod-*`, in seconds; recorded in fixtures/recorded/azure_openai/)
    window: float | None = None


# Anthropic also limits input and output tokens separately (anthropic-ratelimit-input-tokens-*,
# anthropic-ratelimit-output-tokens-*; docs.anthropic.com/en/api/rate-limits, and recorded in
# fixtures/recorded/anthropic/*): each is a kind of its own, paced beside `tokens`.
KINDS = ("requests", "tokens", "input_tokens", "output_tokens")


def read_limits(headers: Mapping[str, str], *, wall: float) -> dict[str, LimitReading]:
    """`{"requests": ..., "tokens": ..., "input_tokens": ..., "output_tokens": ...}` (those present)
    from OpenAI/Azure or Anthropic rate-limit headers."""
    found: dict[str, LimitReading] = {}
    # one pass over the names first: most answers (Bedrock, Gemini, local servers) carry none of
    # these headers, and each lookup below is a scan of its own
    if not any("ratelimit" in name.lower() for name in headers):
        return found
    for kind in KINDS:
        reading = LimitReading(None, None, None)
        if kind in ("requests", "tokens"):
            # OpenAI / Azure: x-ratelimit-limit-requests, x-ratelimit-remaining-tokens, ...
            reading = LimitReading(
                _number(headers, f"x-ratelimit-limit-{kind}"),
                _number(headers, f"x-ratelimit-remaining-{kind}"),
                parse_reset(headers.get(f"x-ratelimit-reset-{kind}"), wall=wall),
                _number(headers, f"x-ratelimit-renewalperiod-{kind}") or None,
            )
        if reading.limit is None and reading.remaining is None:
            # Anthropic: anthropic-ratelimit-input-tokens-limit, ...-remaining, ...-reset (RFC 3339)
            prefix = f"anthropic-ratelimit-{kind.replace('_', '-')}-"
            reading = LimitReading(
                _number(headers, prefix + "limit"),
                _number(headers, prefix + "remaining"),
                parse_reset(headers.get(prefix + "reset"), wall=wall),
            )
        if reading.limit is not None or reading.remaining is not None:
            found[kind] = reading
    return found


def refill_time(reading: LimitReading) -> float | None:
    """Seconds for one unit (a request, a token) of a limit to come back, or None when the
    reading cannot tell (no limit, no remaining, no reset).

    The reset headers give the time until the limit is back to its *full* capacity, not until the
    next request may go: OpenAI's `x-ratelimit-reset-*` is "the time until the rate limit resets
    to its initial state" (platform.openai.com/docs/guides/rate-limits), Anthropic's
    `anthropic-ratelimit-*-reset` "the time when the rate limit will be fully replenished", its
    limits "continuously replenished up to your maximum" (docs.anthropic.com/en/api/rate-limits).
    Both refill linearly: recorded OpenAI answers carry limit 15000, remaining 14999, reset 4ms
    (one request's worth of a minute, 60/15000 s) and limit 200000 tokens, remaining 199973,
    reset 8ms (27 tokens' worth). So the used part (limit - remaining) comes back over `reset`,
    and the window the limit is counted over is `reset * limit / (limit - remaining)`: a minute
    for RPM/TPM, a day for OpenAI's RPD/TPD. Never taken as shorter than a minute: the limits
    are per minute at the shortest, and a near-full bucket's reset is rounded (`1s` on Anthropic).

    Azure names its window (`x-ratelimit-renewalperiod-requests: 60`), and that is used instead:
    its resets are bare numbers whose unit is not documented (recorded: limit 120, remaining 119,
    reset `500`, which is one request's worth of a minute in milliseconds).
    """
    limit, remaining, reset = reading.limit, reading.remaining, reading.reset
    if not limit or remaining is None or reset is None:
        return None
    if reading.window:
        return reading.window / limit
    window = MINUTE
    if remaining < limit and reset > 0:
        window = max(window, reset * limit / (limit - remaining))
    return window / limit


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
            self._release_locked()

    def release_soon(self) -> None:
        """`release` from a finalizer: the garbage collector may run it on a thread that holds
        `_lock` already (a non-reentrant lock would deadlock), so when the lock is taken the
        release is left to a short-lived thread instead."""
        if self._lock.acquire(blocking=False):
            try:
                self._release_locked()
            finally:
                self._lock.release()
        else:
            threading.Thread(target=self.release, name="toolwire-slot-release", daemon=True).start()

    def _release_locked(self) -> None:
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
class Booking:
    """One request's booked start: when, in which pause epoch, at what pace (its interval), and
    whether it was already booked again for waking late (that happens once)."""

    due: float
    epoch: int
    interval: float
    late: bool = False


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
        # per kind (KINDS): the earliest start that kind's pace allows
        self._next: dict[str, float] = dict.fromkeys(KINDS, -math.inf)
        self._paused_until = -math.inf
        self._epoch = 0  # counts pauses: a booking made in an earlier epoch is void (`recheck`)
        self._learned: dict[str, float] = {}  # limits the server announced, per minute
        self._factor = 1.0
        self._last_output = 1  # output tokens of the last answer: what the next one may need
        self._throttled_in_row = 0
        self.requests = 0
        self.rebooked = 0
        self.throttled = 0
        self.waited = 0.0
        self.responses = 0  # answers seen (any status): the limits they announced are known

    # -- the pace --------------------------------------------------------------------------------
    def rate(self, kind: str) -> float | None:
        """The pace now in use for `requests` or `tokens`, per minute (None: not paced)."""
        # called several times per attempt: plain branches, no per-call dict or list
        configured = (
            self.requests_per_minute
            if kind == "requests"
            else self.tokens_per_minute
            if kind == "tokens"
            else None
        )
        learned = self._learned.get(kind)
        if learned:
            rate = learned * LEARNED_MARGIN
            if configured and configured < rate:
                rate = configured
        elif configured:
            rate = configured
        else:
            return None
        return rate * self._factor

    def _interval(self, kind: str, amount: float, now: float) -> float:
        rate = self.rate(kind)
        return amount * 60.0 / rate if rate else 0.0

    def reserve(self, tokens: int, *, ignore_pause: bool = False) -> float:
        """Book the next start for a request of `tokens`; return the seconds to wait for it."""
        with self._lock:
            return self._book(tokens, ignore_pause=ignore_pause)[0]

    def _book(self, tokens: int, *, ignore_pause: bool, rebook: bool = False) -> tuple[float, int]:
        """(seconds to wait, the pause epoch booked in). Called with `_lock` held."""
        wait, booking = self._booking(tokens, ignore_pause=ignore_pause, rebook=rebook)
        return wait, booking.epoch

    def _booking(self, tokens: int, *, ignore_pause: bool, rebook: bool = False) -> tuple[float, Booking]:
        now = self.clock()
        start = max(now, *self._next.values())
        if not ignore_pause:
            start = max(start, self._paused_until)
        # the body's estimate counts against `tokens` and `input_tokens`; output tokens are
        # unknown before the answer and are booked when its usage is settled. A re-booking
        # (see `recheck`) takes a new request slot only: its tokens are booked already.
        kinds: tuple[tuple[str, int], ...] = (("requests", 1),)
        if not rebook:
            kinds += (("tokens", tokens), ("input_tokens", tokens))
        for kind, amount in kinds:
            self._next[kind] = start + self._interval(kind, amount, now)
        if not rebook:
            self.requests += 1
        else:
            self.rebooked += 1
        wait = start - now
        self.waited += wait
        return wait, Booking(start, self._epoch, self._interval("requests", 1, now))

    def recheck(self, tokens: int, epoch: int) -> tuple[float, int]:
        """`wake` for a booking known by its epoch only: (the wait left, the epoch now)."""
        booking = Booking(self.clock(), epoch, 0.0)
        return self.wake(tokens, booking), booking.epoch

    def wake(self, tokens: int, booking: Booking) -> float:
        """A request woke at its booked start: the wait left (0: go now); `booking` is updated.

        Woken well after its start (the process was stalled: a long garbage collection, no CPU
        on a loaded machine), it books again once instead of going at once: every request whose
        start passed during the stall would otherwise go out together, and a sliding window that
        holds that bunch refuses the requests that follow it on time, about a window later.

        A 429 since the booking voids it: with `concurrency` sessions waiting, the schedule is
        booked seconds ahead at the old pace, and keeping it would send every one of those
        requests at the old pace into a window the server has just said is full (each one a 429
        again). A start that falls inside a pause (`remaining: 0`, a 429) is void too: kept, every
        such request would go out the moment the pause ends, all at once. Either way the request
        books again behind the pause, at the pace now in force; other bookings stand."""
        with self._lock:
            now = self.clock()
            late = now - booking.due > LATE * booking.interval > 0 and not booking.late
            if booking.epoch == self._epoch and now >= self._paused_until and not late:
                return 0.0
            wait, fresh = self._booking(tokens, ignore_pause=False, rebook=True)
            fresh.late = booking.late or late
            booking.due, booking.epoch, booking.interval, booking.late = (
                fresh.due,
                fresh.epoch,
                fresh.interval,
                fresh.late,
            )
            return wait

    def pause_left(self) -> float:
        with self._lock:
            return max(0.0, self._paused_until - self.clock())

    def _pause(self, until: float, *, slower: bool = False) -> None:
        """Pause every start until `until` (`_lock` held). `slower`: the pace has just been cut
        (a 429), so every booking made before is void (see `recheck`)."""
        if slower:
            self._epoch += 1
            # the voided bookings take their turns again from the end of the pause
            self._next["requests"] = min(self._next["requests"], max(until, self._paused_until))
        self._paused_until = max(self._paused_until, until)

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
            with self._lock:
                wait, booking = self._booking(tokens, ignore_pause=retrying)
            while wait > 0:
                sleep(wait)
                # a 429 or `remaining: 0` that came in meanwhile, or a stall (the retried call
                # itself has waited out its own 429 already)
                wait = 0.0 if retrying else self.wake(tokens, booking)
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
            with self._lock:
                wait, booking = self._booking(tokens, ignore_pause=retrying)
            while wait > 0:
                await asleep(wait)
                wait = 0.0 if retrying else self.wake(tokens, booking)
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
        keep_slot: bool = False,
    ) -> None:
        """The attempt is over: free its slot and learn from the response (None: no response).
        `keep_slot`: a stream that opened keeps its slot until it is over (`release_slot`)."""
        if not keep_slot:
            self.release_slot(permit)
        if status is None:
            return
        with self._lock:
            now = self.clock()
            self.responses += 1
            if headers is not None and self.adaptive:
                self._learn(headers, now, permit.tokens)
            if status == 429 and retryable:
                self._throttled(now, retry_after)
            elif status < 400:
                self._throttled_in_row = 0
                self._factor = min(1.0, self._factor + RECOVERY)

    def release_slot(self, permit: Permit, *, from_finalizer: bool = False) -> None:
        """Give the permit's concurrency slot back, once."""
        if permit.slot and self.slots is not None:
            permit.slot = False
            if from_finalizer:
                self.slots.release_soon()
            else:
                self.slots.release()

    def settle(
        self, estimated: int, actual: int, *, prompt: int | None = None, completion: int | None = None
    ) -> None:
        """Correct the token pace once a response's `usage` says what the call really cost:
        `actual` (total) against `tokens`, and, where the server limits them apart (Anthropic),
        `prompt` against `input_tokens` and `completion` against `output_tokens`."""
        with self._lock:
            corrections = [("tokens", actual - estimated)]
            if prompt is not None:
                corrections.append(("input_tokens", prompt - estimated))
            if completion is not None:
                corrections.append(("output_tokens", completion))
                self._last_output = max(1, completion)
            for kind, amount in corrections:
                rate = self.rate(kind)
                if rate and amount:
                    # a kind not booked yet (-inf) starts its debt from now
                    self._next[kind] = max(self._next[kind], self.clock()) + amount * 60.0 / rate

    def settle_usage(self, estimated: int, usage: Mapping[str, int] | None) -> None:
        """`settle` from a response's normalized usage (`prompt_tokens`, `completion_tokens`,
        `total_tokens`); nothing when the response did not say."""
        usage = usage or {}
        total = usage.get("total_tokens")
        if not isinstance(total, int) or total <= 0:
            return
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        self.settle(
            estimated,
            total,
            prompt=prompt if isinstance(prompt, int) else None,
            completion=completion if isinstance(completion, int) else None,
        )

    def _throttled(self, now: float, retry_after: float | None) -> None:
        self.throttled += 1
        if now < self._paused_until:
            # one overshoot answers every request that was in flight with a 429: those are one
            # episode, already paused for; compounding them would stall the run for minutes
            if retry_after is not None:
                self._pause(now + retry_after)
            return
        self._throttled_in_row += 1
        if retry_after is None:
            retry_after = min(BASE_PAUSE * 2 ** (self._throttled_in_row - 1), MAX_PAUSE)
        self._factor = max(MIN_FACTOR, self._factor * SLOWDOWN)
        self._pause(now + retry_after, slower=True)

    def _learn(self, headers: Mapping[str, str], now: float, tokens: int = 1) -> None:
        """Learn the limits a response announced, and hold new starts when what is left will not
        do for the next request (`tokens`: this request's estimate, taken for the next one's)."""
        for kind, reading in read_limits(headers, wall=self.wall()).items():
            if reading.limit:
                self._learned[kind] = reading.limit
            unit = refill_time(reading)
            if unit is None:
                if reading.remaining is not None and reading.remaining < 1 and reading.reset is not None:
                    # nothing left and no limit to measure the refill by: the reset is all we know
                    self._pause(now + reading.reset)
                continue
            limit, remaining, reset = reading.limit or 0.0, reading.remaining or 0.0, reading.reset or 0.0
            # what the next request takes from this limit: its body's estimate for (input) tokens;
            # for output tokens, what the last answer wrote (Anthropic books `max_tokens` at the
            # start and corrects it at the end)
            need = (
                tokens
                if kind in ("tokens", "input_tokens")
                else self._last_output
                if kind == "output_tokens"
                else 1
            )
            if remaining < need:
                # not enough left for the next request: wait until the refill covers it, not for
                # the whole limit to come back (which is what the reset says; see `refill_time`)
                self._pause(now + min(reset, (need - remaining) * unit))
            elif kind == "requests" and remaining <= limit * NEARLY_OUT:
                # One or two left: the smooth pace runs close to the limit (LEARNED_MARGIN), so a
                # few requests that arrive bunched (a stalled process on either side sends or
                # stamps them at once) fill the window, and the requests already on their way
                # meet a 429. Waiting for one request's worth of the limit to refill keeps that
                # last room free.
                self._pause(now + min(reset, unit))
            # Little left but enough (under a tenth of the limit) no longer slows the pace: it used
            # to be cut to "what is left over the time to the reset", as if nothing came back
            # before it (a hundredfold slower at 1 % left). The bucket gives back what the learned
            # pace takes; when others share the key, their 429s cut the pace (SLOWDOWN) instead.

    def stats(self) -> dict[str, float]:
        with self._lock:
            return {
                "requests": self.requests,
                "throttled": self.throttled,
                "rebooked": self.rebooked,
                "waited": round(self.waited, 3),
                "factor": round(self._factor, 3),
                "in_flight": (self.slots.used if self.slots is not None else -1),
            }
