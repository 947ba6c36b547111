"""Streamed calls and pacing (toolwire._pacing with _transport.StreamHandle and _streaming):

- the `max_concurrency` slot of a streamed call is held while the stream is being read, and given
  back when it ends, is closed, or is dropped and garbage-collected: a stream is a request in flight
  until its last byte;
- the token pace, booked on the body's estimate, is corrected from the usage the stream's last
  chunk reports (OpenAI's `stream_options.include_usage`), as it is for unstreamed calls.

A fake clock and a mock transport: nothing waits on the wall clock.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
from typing import Any

import httpx2
import pytest

from support.fake_clock import Clock
from toolwire import AbstractLLM
from toolwire._pacing import estimate_tokens

USAGE = {"prompt_tokens": 250, "completion_tokens": 50, "total_tokens": 300}


def _sse() -> bytes:
    events: list[dict[str, Any]] = [
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"id": "c", "model": "m", "choices": [], "usage": USAGE},  # include_usage: the last chunk
    ]
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def _llm(clock: Clock, **config: Any) -> Any:
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = _sse() if json.loads(request.content).get("stream") else b"{}"
        return httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})

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
    llm.transport.clock = clock
    llm.transport.pacer.clock = clock
    return llm


# -- the concurrency slot ----------------------------------------------------------------------
def test_a_sync_stream_holds_its_slot_until_it_is_read_to_the_end() -> None:
    llm = _llm(Clock(), max_concurrency=1)
    slots = llm.transport.pacer.slots
    stream = llm.generate("hi", stream=True)
    assert slots.used == 1  # open, not read yet: still a request in flight
    second: list[str | None] = []

    def next_call() -> None:
        second.append(llm.generate("again", stream=True).response.content)

    waiter = threading.Thread(target=next_call)
    waiter.start()
    while slots.waiting == 0 and waiter.is_alive():
        waiter.join(0.01)
    assert slots.waiting == 1 and not second  # the next call waits for the stream's slot
    assert stream.response.content == "hi"
    waiter.join(10)
    assert second == ["hi"]
    assert slots.used == 0 and slots.waiting == 0


def test_a_closed_sync_stream_gives_its_slot_back_once() -> None:
    llm = _llm(Clock(), max_concurrency=2)
    slots = llm.transport.pacer.slots
    stream = llm.generate("hi", stream=True)
    other = llm.generate("hi", stream=True)
    assert slots.used == 2
    stream.close()
    stream.close()  # twice: still one slot given back, not two
    assert slots.used == 1
    for _ in other:
        pass
    assert slots.used == 0


def test_a_dropped_sync_stream_gives_its_slot_back_when_collected() -> None:
    llm = _llm(Clock(), max_concurrency=1)
    slots = llm.transport.pacer.slots
    llm.generate("hi", stream=True)  # never read, never closed
    gc.collect()
    assert slots.used == 0
    assert llm.generate("again", stream=True).response.content == "hi"  # would block for ever


def test_an_async_stream_holds_its_slot_until_it_is_over() -> None:
    llm = _llm(Clock(), max_concurrency=1)
    slots = llm.transport.pacer.slots

    async def run() -> None:
        stream = await llm.agenerate("hi", stream=True)
        assert slots.used == 1
        assert (await stream.aresponse()).content == "hi"
        assert slots.used == 0
        closed = await llm.agenerate("hi", stream=True)
        assert slots.used == 1
        await closed.aclose()
        assert slots.used == 0
        await llm.agenerate("hi", stream=True)  # dropped unread
        gc.collect()
        assert slots.used == 0
        again = await asyncio.wait_for(llm.agenerate("again", stream=True), 10)
        assert (await again.aresponse()).content == "hi"

    asyncio.run(run())
    assert slots.used == 0


# -- the token pace ----------------------------------------------------------------------------
def _estimate(llm: Any) -> int:
    sent: list[bytes] = []
    call = llm._http_call  # the body the pacer estimated: built the same way for each prompt

    def spy(request: Any, headers: Any) -> Any:
        built = call(request, headers)
        sent.append(built.body)
        return built

    llm._http_call = spy
    return lambda: estimate_tokens(sent[-1])  # type: ignore[return-value]


def test_a_sync_streams_usage_corrects_the_token_pace() -> None:
    clock = Clock()
    llm = _llm(clock, tokens_per_minute=6000)  # 100 tokens a second
    estimate = _estimate(llm)
    assert llm.generate("hi", stream=True).response.usage == USAGE
    assert estimate() < USAGE["total_tokens"]
    llm.generate("hi", stream=True).response  # noqa: B018 (reading it consumes the stream)
    # the first call cost 300 tokens (its last chunk said so), not its estimate: 3 s at 100/s
    assert clock.sleeps == [pytest.approx(3.0)]


def test_an_async_streams_usage_corrects_the_token_pace() -> None:
    clock = Clock()
    llm = _llm(clock, tokens_per_minute=6000)

    async def run() -> None:
        first = await llm.agenerate("hi", stream=True)
        async for _ in first:
            pass
        await (await llm.agenerate("hi", stream=True)).aresponse()

    asyncio.run(run())
    assert clock.sleeps == [pytest.approx(3.0)]


def test_a_stream_abandoned_before_its_usage_keeps_the_estimate() -> None:
    clock = Clock()
    llm = _llm(clock, tokens_per_minute=6000)
    estimate = _estimate(llm)
    llm.generate("hi", stream=True).close()  # no usage seen: the estimate stands
    booked = estimate()
    llm.generate("hi", stream=True).response  # noqa: B018
    assert clock.sleeps == [pytest.approx(booked * 60 / 6000)]


def test_a_release_from_a_finalizer_never_waits_on_the_slots_lock() -> None:
    from toolwire._pacing import Slots

    slots = Slots(1)
    slots.acquire()
    with slots._lock:  # as if the collector ran while this thread held the lock
        slots.release_soon()  # must not deadlock: handed to a short-lived thread
    for thread in [t for t in threading.enumerate() if t.name == "toolwire-slot-release"]:
        thread.join(10)
    assert slots.used == 0
    slots.acquire()
    slots.release_soon()  # uncontended: released at once
    assert slots.used == 0
