"""Pacing (toolwire._pacing): smooth request and token pace, limits learned from headers, 429s that
slow every call sharing a provider, concurrency shared by threads and event loops. A fake clock and
recorded sleeps: nothing here waits on the wall clock or asserts on it."""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
import time
from typing import Any

import httpx2
import pytest

from support.fake_clock import Clock
from toolwire import AbstractLLM
from toolwire._pacing import (
    LimitReading,
    Pacer,
    Permit,
    Slots,
    estimate_tokens,
    parse_reset,
    read_limits,
    refill_time,
)
from toolwire.errors import ConfigurationError, RateLimitError
from toolwire.providers.gemini import gemini_error
from toolwire.providers.openai import openai_error

OK = {
    "id": "c",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 90, "completion_tokens": 10, "total_tokens": 100},
}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("20ms", 0.02),
        ("1h2m3.5s", 3723.5),
        ("0s", 0.0),
        ("17.5", 17.5),
        ("", None),
        ("soon", None),
        ("1x", None),
        ("-3", None),
        ("2026-12-06T05:00:30Z", 30.0),
        ("2026-12-06T04:59:00+00:00", 0.0),  # already past: no wait, not negative
    ],
)
def test_parse_reset(value: str, expected: float | None) -> None:
    wall = datetime.datetime(2026, 12, 6, 5, 0, 0, tzinfo=datetime.timezone.utc).timestamp()
    assert parse_reset(value, wall=wall) == expected


def test_read_limits_openai_and_anthropic_headers() -> None:
    openai = read_limits(
        {
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9999",
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-limit-tokens": "2000000",
            "x-ratelimit-remaining-tokens": "1999990",
            "x-ratelimit-reset-tokens": "0s",
        },
        wall=0.0,
    )
    assert openai["requests"].limit == 10000 and openai["requests"].reset == 0.006
    assert openai["tokens"].remaining == 1999990
    wall = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
    anthropic = read_limits(
        {
            "anthropic-ratelimit-requests-limit": "50",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:12Z",
        },
        wall=wall,
    )
    assert anthropic["requests"].limit == 50 and anthropic["requests"].remaining == 0
    assert anthropic["requests"].reset == 12.0
    assert "tokens" not in anthropic


def test_requests_per_minute_spaces_starts_evenly() -> None:
    clock = Clock()
    pacer = Pacer(requests_per_minute=600, clock=clock)
    starts = []
    for _ in range(5):
        pacer.acquire(b"x", clock.sleep)
        starts.append(clock.now)
    # 600/min is one every 0.1 s, starting at once: no minute-sized burst and no idle minute
    assert starts == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_tokens_per_minute_paces_on_the_estimate_and_is_corrected_by_usage() -> None:
    clock = Clock()
    pacer = Pacer(tokens_per_minute=6000, clock=clock)  # 100 tokens a second
    body = b"x" * 400  # estimated at 100 tokens
    assert estimate_tokens(body) == 100
    pacer.acquire(body, clock.sleep)
    pacer.acquire(body, clock.sleep)
    assert clock.now == pytest.approx(1.0)
    pacer.settle(100, 300)  # the call really cost 300: the next start moves 2 s later
    pacer.acquire(body, clock.sleep)
    assert clock.now == pytest.approx(4.0)
    pacer.settle(100, 50)  # cheaper than estimated: the pace gives the difference back
    pacer.acquire(body, clock.sleep)
    assert clock.now == pytest.approx(4.5)


def test_a_429_pauses_every_caller_and_slows_the_pace() -> None:
    clock = Clock()
    pacer = Pacer(requests_per_minute=600, clock=clock)
    permit = pacer.acquire(b"", clock.sleep)
    pacer.release(permit, 429, {}, retry_after=2.0)
    assert pacer.throttled == 1 and pacer.rate("requests") == pytest.approx(420)
    pacer.acquire(b"", clock.sleep)  # another caller: waits out the pause
    assert clock.now == pytest.approx(2.0)
    # the call that got the 429 was already made to wait by the retry policy: no second wait
    before = clock.now
    retry = pacer.reserve(1, ignore_pause=True)
    assert retry == pytest.approx(60 / 420)  # only the (slower) pace
    assert before == clock.now
    for _ in range(100):
        pacer.release(pacer.acquire(b"", clock.sleep), 200, {})
    assert pacer.rate("requests") == pytest.approx(600)  # recovered after successes


def test_429_without_retry_after_backs_off_exponentially_for_everyone() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    for expected in (0.5, 1.0, 2.0):
        pacer.release(pacer.acquire(b"", clock.sleep), 429, {})
        start = clock.now
        pacer.acquire(b"", clock.sleep)
        assert clock.now - start == pytest.approx(expected)


def test_a_non_retryable_429_does_not_pause_anyone() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock)
    pacer.release(pacer.acquire(b"", clock.sleep), 429, {}, retryable=False)
    pacer.acquire(b"", clock.sleep)
    assert clock.now == 0.0 and pacer.throttled == 0


def test_limits_from_headers_set_the_pace_and_remaining_zero_pauses_for_one_requests_refill() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    permit = pacer.acquire(b"", clock.sleep)
    pacer.release(permit, 200, {"x-ratelimit-limit-requests": "600", "x-ratelimit-remaining-requests": "590"})
    assert pacer.rate("requests") == pytest.approx(600 * 0.97)
    permit = pacer.acquire(b"", clock.sleep)
    pacer.release(
        permit,
        200,
        {
            "x-ratelimit-limit-requests": "600",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1m0s",  # the whole limit is back in a minute
        },
    )
    # the limit refills linearly: one request's worth (60 s / 600) comes back in 0.1 s; the
    # reset is the time until all 600 are back (it used to be waited out whole)
    assert pacer.pause_left() == pytest.approx(0.1)
    start = clock.now
    pacer.acquire(b"", clock.sleep)
    assert clock.now - start == pytest.approx(60 / (600 * 0.97))  # the learned pace is longer


def test_a_reset_longer_than_a_minute_is_a_longer_window() -> None:
    # 600 used, all back in 6 minutes: 600 per 6 minutes, one every 0.6 s (not a 360 s pause)
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    headers = {
        "x-ratelimit-limit-requests": "600",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "6m0s",
    }
    pacer.release(pacer.acquire(b"", clock.sleep), 200, headers)
    assert pacer.pause_left() == pytest.approx(0.6)


def test_a_per_day_limit_waits_for_its_own_refill() -> None:
    # OpenAI's RPD: recorded answers show 10000 requests with 15 used and 2m2.445s to the full
    # reset (fixtures/recorded/openai/openai_parallel_tool_calls_and_tool_results.yaml): a day's
    # window, so with none left one request takes 8.64 s to come back
    reading = read_limits(
        {
            "x-ratelimit-limit-requests": "10000",
            "x-ratelimit-remaining-requests": "9985",
            "x-ratelimit-reset-requests": "2m2.445s",
        },
        wall=0.0,
    )["requests"]
    assert refill_time(reading) == pytest.approx(122.445 / 15)
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    headers = {
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "24h0m0s",
    }
    pacer.release(pacer.acquire(b"", clock.sleep), 200, headers)
    assert pacer.pause_left() == pytest.approx(8.64)


@pytest.mark.parametrize(
    ("limit", "remaining", "reset", "seconds"),
    [
        # as recorded (fixtures/recorded/openai*/): one request's or a few tokens' worth of a minute
        ("15000", "14999", "4ms", 60 / 15000),
        ("500", "499", "120ms", 60 / 500),
        ("200000", "199973", "8ms", 60 / 200000),
        ("150000000", "149999993", "0s", 60 / 150000000),
        ("600", "0", "1m0s", 0.1),
        ("600", "600", "0s", 0.1),  # nothing used: the window is taken as a minute
    ],
)
def test_refill_time_is_one_units_share_of_the_window(
    limit: str, remaining: str, reset: str, seconds: float
) -> None:
    headers = {
        "x-ratelimit-limit-requests": limit,
        "x-ratelimit-remaining-requests": remaining,
        "x-ratelimit-reset-requests": reset,
    }
    assert refill_time(read_limits(headers, wall=0.0)["requests"]) == pytest.approx(seconds)


def test_azure_names_its_window_and_that_measures_the_refill() -> None:
    # as recorded (fixtures/recorded/azure_openai/azure_stream_text_prompt_filter_results.yaml):
    # the bare `500` is no number of seconds to wait; the renewal period says the window
    headers = {
        "x-ratelimit-limit-requests": "120",
        "x-ratelimit-remaining-requests": "119",
        "x-ratelimit-renewalperiod-requests": "60",
        "x-ratelimit-reset-requests": "500",
    }
    assert refill_time(read_limits(headers, wall=0.0)["requests"]) == pytest.approx(0.5)
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    pacer.release(pacer.acquire(b"", clock.sleep), 200, {**headers, "x-ratelimit-remaining-requests": "0"})
    assert pacer.pause_left() == pytest.approx(0.5)  # one request's refill, not 500 s


def test_refill_time_needs_a_limit_a_remaining_and_a_reset() -> None:
    assert refill_time(LimitReading(None, 0, 1.0)) is None
    assert refill_time(LimitReading(100, None, 1.0)) is None
    assert refill_time(LimitReading(100, 0, None)) is None


def test_without_a_limit_remaining_zero_still_waits_for_the_reset() -> None:
    # nothing to measure the refill by: the reset is the only time the server gave
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2s"}
    pacer.release(pacer.acquire(b"", clock.sleep), 200, headers)
    assert pacer.pause_left() == pytest.approx(2.0)


def test_anthropic_bucket_empty_waits_for_one_request_not_the_full_replenishment() -> None:
    # Anthropic: "the time when the rate limit will be fully replenished" (RFC 3339), and the
    # bucket refills continuously: 50 RPM, none left, full in 60 s -> one request in 1.2 s
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "1970-01-01T00:01:00Z",  # 60 s from the fake wall
    }
    pacer.release(pacer.acquire(b"", clock.sleep), 200, headers)
    start = clock.now
    pacer.acquire(b"", clock.sleep)
    assert clock.now - start == pytest.approx(1.2)


def test_fewer_tokens_left_than_the_next_request_needs_waits_for_the_difference() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    body = b"x" * 4000  # estimated at 1000 tokens
    headers = {
        "x-ratelimit-limit-tokens": "60000",  # 1000 tokens a second come back
        "x-ratelimit-remaining-tokens": "100",
        "x-ratelimit-reset-tokens": "59.9s",
    }
    pacer.release(pacer.acquire(body, clock.sleep), 200, headers)
    assert pacer.pause_left() == pytest.approx(0.9)  # the 900 tokens missing, not 59.9 s
    headers["x-ratelimit-remaining-tokens"] = "5000"
    clock.now += 1.0
    pacer.release(pacer.acquire(body, clock.sleep), 200, headers)
    assert pacer.pause_left() == 0.0  # enough left: no hold


def test_low_remaining_keeps_the_learned_pace() -> None:
    # 50 of 1000 left, full again in 57 s (a per-minute bucket refilling what was used): the
    # bucket gives back what the pace takes, so the pace is not slowed further (it used to be
    # cut to "50 left over 57 s", one request every 1.14 s)
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    headers = {
        "anthropic-ratelimit-requests-limit": "1000",
        "anthropic-ratelimit-requests-remaining": "50",
        "anthropic-ratelimit-requests-reset": "1970-01-01T00:00:57Z",
    }
    pacer.release(pacer.acquire(b"", clock.sleep), 200, headers)
    starts = []
    for _ in range(3):
        pacer.acquire(b"", clock.sleep)
        starts.append(clock.now)
    assert starts[2] - starts[1] == pytest.approx(60 / (1000 * 0.97))


def test_a_429_still_waits_out_retry_after_beside_a_short_refill() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    headers = {
        "x-ratelimit-limit-requests": "600",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "1m0s",
    }
    pacer.release(pacer.acquire(b"", clock.sleep), 429, headers, retry_after=20.0)
    start = clock.now
    pacer.acquire(b"", clock.sleep)
    assert clock.now - start == pytest.approx(20.0)


def test_invalid_configuration_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="requests_per_minute"):
        AbstractLLM.create("openai", model="m", api_key="k", requests_per_minute=0)


def test_slots_are_shared_by_threads_and_event_loops() -> None:
    slots = Slots(3)
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def enter() -> None:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])

    def leave() -> None:
        with lock:
            state["now"] -= 1

    def worker() -> None:
        for _ in range(20):
            slots.acquire()
            enter()
            time.sleep(0.0005)
            leave()
            slots.release()

    async def task() -> None:
        for _ in range(20):
            await slots.aacquire()
            enter()
            await asyncio.sleep(0.0005)
            leave()
            slots.release()

    async def main() -> None:
        await asyncio.gather(*(task() for _ in range(4)))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    asyncio.run(main())
    for thread in threads:
        thread.join()
    assert state["peak"] <= 3 and state["now"] == 0
    assert slots.used == 0 and slots.waiting == 0


def test_a_cancelled_async_waiter_gives_its_slot_back() -> None:
    async def main() -> None:
        slots = Slots(1)
        await slots.aacquire()
        waiter = asyncio.ensure_future(slots.aacquire())
        await asyncio.sleep(0)
        slots.release()  # handed to the waiter...
        waiter.cancel()  # ...which is cancelled before it ran
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await asyncio.sleep(0)
        assert slots.used == 0
        await asyncio.wait_for(slots.aacquire(), 1)

    asyncio.run(main())


def _llm(handler: Any, clock: Clock, **config: Any) -> Any:
    async def ahandler(request: httpx2.Request) -> httpx2.Response:
        return handler(request)  # type: ignore[no-any-return]

    llm = AbstractLLM.create(
        "openai",
        model="m",
        api_key="k",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        async_http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(ahandler)),
        **config,
    )
    llm.transport.sleep = clock.sleep
    llm.transport.asleep = clock.asleep
    llm.transport.clock = clock
    llm.transport.pacer.clock = clock
    llm.transport.retry_policy.jitter = lambda: 1.0
    return llm


def test_provider_config_paces_sync_and_async_calls_of_one_instance() -> None:
    clock = Clock()
    seen: list[float] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(clock.now)
        return httpx2.Response(200, json=OK)

    llm = _llm(handler, clock, requests_per_minute=120, max_concurrency=4)
    assert llm.transport.pacer.max_concurrency == 4
    llm.generate("hi")
    asyncio.run(llm.agenerate("hi"))
    llm.generate("hi")
    assert seen == pytest.approx([0.0, 0.5, 1.0])


def test_usage_corrects_the_token_pace_through_generate() -> None:
    clock = Clock()
    llm = _llm(lambda r: httpx2.Response(200, json=OK), clock, tokens_per_minute=6000)
    llm.generate("hi")  # estimated from the body, cost 100 (usage.total_tokens)
    llm.generate("hi")
    assert clock.now == pytest.approx(1.0)  # 100 tokens at 100 tokens/s


def test_a_429_on_one_call_delays_the_next_call_through_the_transport() -> None:
    clock = Clock()
    answers = iter(
        [
            httpx2.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "3"}),
            httpx2.Response(200, json=OK),
            httpx2.Response(200, json=OK),
        ]
    )
    llm = _llm(lambda r: next(answers), clock)
    llm.generate("hi")  # 429, waits 3 s (retry policy), succeeds
    assert clock.sleeps == [3.0]
    assert llm.transport.pacer.throttled == 1
    llm.generate("hi")
    assert clock.sleeps == [3.0]  # the pause had passed: the next call does not wait again


def test_daily_quota_429s_are_not_retried() -> None:
    gemini_body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "You exceeded your current quota",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "40s"},
            ],
        }
    }
    daily = gemini_error(429, {}, json.dumps(gemini_body).encode())
    assert isinstance(daily, RateLimitError) and not daily.retryable
    per_minute = json.loads(json.dumps(gemini_body).replace("PerDay", "PerMinute"))
    assert gemini_error(429, {}, json.dumps(per_minute).encode()).retryable
    quota = openai_error(
        429,
        {},
        json.dumps({"error": {"message": "quota", "code": "insufficient_quota"}}).encode(),
        provider="openai",
        request_id=None,
    )
    assert isinstance(quota, RateLimitError) and not quota.retryable

    clock = Clock()
    calls: list[int] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls.append(1)
        return httpx2.Response(429, json={"error": {"message": "quota", "code": "insufficient_quota"}})

    llm = _llm(handler, clock)
    with pytest.raises(RateLimitError):
        llm.generate("hi")
    assert len(calls) == 1 and clock.sleeps == []
    assert llm.transport.pacer.throttled == 0  # nor does it slow the others down


def test_a_burst_of_429s_from_one_overshoot_is_one_episode() -> None:
    clock = Clock()
    pacer = Pacer(requests_per_minute=600, clock=clock)
    permits = [pacer.acquire(b"", clock.sleep) for _ in range(5)]
    for permit in permits:  # every request that was in flight is refused at once
        pacer.release(permit, 429, {})
    assert pacer.throttled == 5
    assert pacer.rate("requests") == pytest.approx(420)  # slowed once, not 0.7 ** 5
    start = clock.now
    pacer.acquire(b"", clock.sleep)
    assert clock.now - start == pytest.approx(0.5, abs=0.11)  # the first pause, not a doubled one


def test_bookings_made_before_a_429_are_spread_again_not_released_at_once() -> None:
    """With many sessions waiting, the schedule is booked ahead; a 429 voids those bookings: each
    request, waking at its old start, books again behind the pause at the slowed pace, instead
    of all of them going out the moment the pause ends (each one a 429 again)."""
    clock = Clock()
    pacer = Pacer(requests_per_minute=600, clock=clock)  # one every 0.1 s
    booked = []
    for _ in range(5):  # five sessions waiting for their turn: 0.0, 0.1, ... 0.4
        with pacer._lock:
            booked.append(pacer._book(1, ignore_pause=False))
    assert [wait for wait, _ in booked] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    clock.now = 0.05
    pacer.release(Permit(1, False), 429, {}, retry_after=0.5)  # the first one is refused
    starts = []
    for wait, epoch in booked[1:]:
        clock.now = max(clock.now, wait)  # each wakes at its booked start ...
        left, epoch = pacer.recheck(1, epoch)
        starts.append(clock.now + left)  # ... and learns when it may really go
    interval = 60 / 420  # the pace slowed to 70 % by the 429
    assert starts == pytest.approx([0.55, 0.55 + interval, 0.55 + 2 * interval, 0.55 + 3 * interval])
    assert pacer.rebooked == 4


def test_a_booking_made_after_the_pause_began_stands() -> None:
    clock = Clock()
    pacer = Pacer(requests_per_minute=600, clock=clock)
    pacer.release(Permit(1, False), 429, {}, retry_after=1.0)
    with pacer._lock:
        wait, epoch = pacer._book(1, ignore_pause=False)
    assert wait == pytest.approx(1.0)
    clock.now = 1.0
    assert pacer.recheck(1, epoch) == (0.0, epoch) and pacer.rebooked == 0


def test_nearly_no_requests_left_holds_starts_for_one_requests_worth() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    headers = {
        "x-ratelimit-limit-requests": "6000",  # one request every 10 ms
        "x-ratelimit-remaining-requests": "40",  # under 1 % left: the next ones meet a 429
        "x-ratelimit-reset-requests": "25ms",
    }
    pacer.release(pacer.acquire(b"", clock.sleep), 200, headers)
    assert pacer.pause_left() == pytest.approx(0.01)  # one request's worth, not the whole reset
    clock.now += 1.0
    headers["x-ratelimit-remaining-requests"] = "600"  # 10 % left: no hold
    pacer.release(pacer.acquire(b"", clock.sleep), 200, headers)
    assert pacer.pause_left() == 0.0


def test_requests_woken_late_by_a_stall_are_spaced_again_not_sent_together() -> None:
    clock = Clock()
    pacer = Pacer(requests_per_minute=600, clock=clock)  # one every 0.1 s
    with pacer._lock:
        bookings = [pacer._booking(1, ignore_pause=False)[1] for _ in range(3)]  # 0.0, 0.1, 0.2
    clock.now = 0.6  # the process stalled: the last two wake 0.5 s and 0.4 s late
    starts = []
    for booking in bookings[1:]:
        starts.append(clock.now + pacer.wake(1, booking))
    # spaced at the pace from now on, instead of both going at 0.6
    assert starts == pytest.approx([0.6, 0.7])
    assert pacer.rebooked == 2
    # woken late a second time, a request goes: re-booking happens once, so a starved process
    # cannot keep pushing its requests back
    late_again = bookings[2]
    clock.now = late_again.due + 1.0
    assert pacer.wake(1, late_again) == 0.0
    on_time = pacer._booking(1, ignore_pause=False)[1]
    clock.now = on_time.due + 0.25  # a little late (under three intervals): goes as booked
    assert pacer.wake(1, on_time) == 0.0 and pacer.rebooked == 2
