"""The one retry policy (toolwire._transport): what is retried, how long it waits, budgets and
deadlines, per provider and per call, on both drivers. A fake clock and recorded sleeps: no waiting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from toolwire import AbstractLLM
from toolwire._transport import RetryPolicy, parse_retry_after
from toolwire.errors import ProviderConnectionError, ProviderError, ProviderTimeoutError, ServerError

OK = {
    "id": "c",
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def _llm(
    answers: list[Callable[[httpx2.Request], httpx2.Response]], clock: Clock, **config: Any
) -> tuple[Any, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        answer = answers[min(len(seen), len(answers)) - 1]
        return answer(request)

    async def ahandler(request: httpx2.Request) -> httpx2.Response:
        return handler(request)

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
    llm.transport.clock = lambda: clock.now
    llm.transport.retry_policy.jitter = lambda: 1.0  # the top of the jitter range: exact delays
    return llm, seen


def status(code: int, headers: dict[str, str] | None = None) -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda _r: httpx2.Response(code, json={"error": {"message": f"e{code}"}}, headers=headers)


def ok(_r: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=OK)


def refused(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ConnectError("connection refused", request=request)


def timed_out(request: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("read timed out", request=request)


def run(llm: Any, mode: str, **kwargs: Any) -> Any:
    if mode == "sync":
        return llm.generate("hi", **kwargs)
    return asyncio.run(llm.agenerate("hi", **kwargs))


MODES = ["sync", "async"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("code", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses_are_retried(code: int, mode: str) -> None:
    clock = Clock()
    llm, seen = _llm([status(code), ok], clock)
    assert run(llm, mode).content == "hi"
    assert len(seen) == 2 and len(clock.sleeps) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
def test_client_errors_are_never_retried(code: int, mode: str) -> None:
    clock = Clock()
    llm, seen = _llm([status(code), ok], clock)
    with pytest.raises(ProviderError) as info:
        run(llm, mode)
    assert info.value.status_code == code and not info.value.retryable
    assert len(seen) == 1 and clock.sleeps == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("failure", "expected"), [(refused, ProviderConnectionError), (timed_out, ProviderTimeoutError)]
)
def test_connection_errors_and_timeouts_are_retried_then_raised(
    failure: Any, expected: type[Exception], mode: str
) -> None:
    clock = Clock()
    llm, seen = _llm([failure], clock)
    with pytest.raises(expected):
        run(llm, mode)
    assert len(seen) == 3  # DEFAULT_MAX_RETRIES = 2
    assert clock.sleeps == [0.5, 1.0]  # exponential: initial 0.5 s, doubled


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_headers_are_honoured(mode: str) -> None:
    clock = Clock()
    llm, _ = _llm(
        [
            status(429, {"retry-after": "3"}),
            status(503, {"retry-after-ms": "250", "retry-after": "9"}),  # -ms wins: more precise
            ok,
        ],
        clock,
    )
    run(llm, mode)
    assert clock.sleeps == [3.0, 0.25]


def test_retry_after_beyond_the_cap_is_waited_only_within_a_deadline() -> None:
    # issue 16 item 14: a long Retry-After is never replaced by a fast backoff retry
    policy = RetryPolicy(jitter=lambda: 0.0)
    error = ServerError("x")
    assert policy.delay_for(0, error, 0.0, now=0.0, retry_after=3600) is None
    assert policy.delay_for(0, error, 0.0, now=0.0, retry_after=2) == 2
    patient = RetryPolicy(jitter=lambda: 0.0, deadline=7200)
    assert patient.delay_for(0, error, 0.0, now=0.0, retry_after=3600) == 3600
    assert patient.delay_for(0, error, 0.0, now=4000.0, retry_after=3600) is None


def test_jitter_spreads_between_half_and_all_of_the_step() -> None:
    error = ServerError("x")
    low = RetryPolicy(jitter=lambda: 0.0, max_retries=10)
    high = RetryPolicy(jitter=lambda: 1.0, max_retries=10)
    assert [low.delay_for(a, error, 0.0, now=0.0) for a in range(6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert [high.delay_for(a, error, 0.0, now=0.0) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past: now
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-3"}, None),
        ({"retry-after-ms": "nan", "retry-after": "1"}, 1.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(httpx2.Headers(headers)) == expected


@pytest.mark.parametrize("mode", MODES)
def test_max_retries_per_provider_and_per_call(mode: str) -> None:
    clock = Clock()
    llm, seen = _llm([status(500)], clock, max_retries=4)
    with pytest.raises(ServerError):
        run(llm, mode)
    assert len(seen) == 5
    seen.clear()
    with pytest.raises(ServerError):
        run(llm, mode, max_retries=0)  # per call: this call only
    assert len(seen) == 1


@pytest.mark.parametrize("mode", MODES)
def test_total_deadline_stops_retrying(mode: str) -> None:
    clock = Clock()
    llm, seen = _llm([status(503, {"retry-after": "4"})], clock, max_retries=10)
    llm.transport.retry_policy.deadline = 10.0
    with pytest.raises(ServerError):
        run(llm, mode)
    assert clock.sleeps == [4.0, 4.0]  # a third wait would end past the 10 s deadline
    assert len(seen) == 3


@pytest.mark.parametrize("mode", MODES)
def test_timeout_per_provider_and_per_call_reach_the_request(mode: str) -> None:
    clock = Clock()
    llm, seen = _llm([ok], clock, timeout=12.0)
    run(llm, mode)
    run(llm, mode, timeout=3.0)
    assert [r.extensions["timeout"]["read"] for r in seen] == [12.0, 3.0]
    llm.transport.retry_policy.deadline = 5.0
    run(llm, mode)
    assert seen[-1].extensions["timeout"]["read"] == 5.0  # an attempt never outlives the deadline


def test_each_retry_is_logged_at_info_with_reason_and_delay(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    llm, _ = _llm([status(429, {"retry-after": "2"}), refused, ok], clock)
    with caplog.at_level(logging.INFO, logger="toolwire.retry"):
        run(llm, "sync")
    lines = [r.getMessage() for r in caplog.records if r.name == "toolwire.retry"]
    assert lines == [
        "retrying openai request (attempt 2 of 3) in 2.00s after RateLimitError 429"
        " (server asked to wait 2s)",
        "retrying openai request (attempt 3 of 3) in 1.00s after ProviderConnectionError",
    ]
    assert all(r.levelno == logging.INFO for r in caplog.records if r.name == "toolwire.retry")
