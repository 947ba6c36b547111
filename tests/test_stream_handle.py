"""The stream driver and its handle: the transport gives a stream its response, its framing and
its call's retry budget (`StreamHandle.reopen`), and the JSON preamble of every stream state
lives once (`_stream_events.decode_stream_event`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest

from test_retries import Clock, _llm
from toolwire._framing import SSE_FRAMING, SSEEvent
from toolwire._stream_events import decode_stream_event, stream_error_from_event
from toolwire._transport import HttpCall, StreamHandle, Transport
from toolwire.errors import ProviderConnectionError, ResponseParseError

GOOD = (
    b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}\n\n'
    b'data: {"id":"c","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)


def sse(body: bytes) -> Callable[[httpx2.Request], httpx2.Response]:
    return lambda _r: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})


def cut(_r: httpx2.Request) -> httpx2.Response:
    # the body ends cleanly before any chunk: the same as a dropped connection
    return httpx2.Response(200, content=b": keep-alive\n\n", headers={"content-type": "text/event-stream"})


def test_a_stream_cut_before_its_first_chunk_is_reopened_within_the_calls_budget() -> None:
    clock = Clock()
    llm, seen = _llm([cut, sse(GOOD)], clock, max_retries=1)
    stream = llm.generate("hi", stream=True)
    assert isinstance(stream._handle, StreamHandle)
    assert [c.content for c in stream if c.content] == ["hi"]
    assert stream.response.content == "hi"
    assert len(seen) == 2 and len(clock.sleeps) == 1


def test_the_reopen_budget_is_the_calls_budget_not_a_second_one() -> None:
    clock = Clock()
    llm, seen = _llm([cut, cut, cut, sse(GOOD)], clock, max_retries=1)
    with pytest.raises(ProviderConnectionError, match="ended before any chunk"):
        list(llm.generate("hi", stream=True))
    assert len(seen) == 2  # one attempt and one retry, shared by opening and re-opening


def test_the_async_driver_reopens_through_the_same_handle() -> None:
    clock = Clock()
    llm, seen = _llm([cut, sse(GOOD)], clock, max_retries=2)

    async def run() -> str | None:
        stream = await llm.agenerate("hi", stream=True)
        return (await stream.aresponse()).content

    assert asyncio.run(run()) == "hi"
    assert len(seen) == 2


def test_a_handle_reads_its_framing_and_raises_when_the_budget_is_spent() -> None:
    transport = Transport(
        provider="p",
        error_mapper=lambda status, headers, body: ProviderConnectionError("x", provider="p"),
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(sse(GOOD))),
    )
    handle = transport.open_stream(HttpCall("POST", "http://127.0.0.1/x", {}, b"{}"))
    assert handle.framing is SSE_FRAMING
    events = list(handle.events())
    assert events[-1] == SSEEvent(None, "[DONE]")
    error = ProviderConnectionError("dropped", provider="p")
    with pytest.raises(ProviderConnectionError, match="dropped"):
        handle.reopen(error)


def test_decode_stream_event_is_the_one_json_preamble() -> None:
    assert decode_stream_event(SSEEvent(None, ""), "p") is None
    assert decode_stream_event(SSEEvent("message", '{"a": 1}'), "p") == {"a": 1}
    with pytest.raises(ResponseParseError, match="p: a stream event is not JSON"):
        decode_stream_event(SSEEvent(None, "{"), "p")
    with pytest.raises(ResponseParseError, match="not an object"):
        decode_stream_event(SSEEvent(None, "[1]"), "p")
    assert decode_stream_event(SSEEvent(None, "[1]"), "p", objects_only=False) == [1]
    error = stream_error_from_event("groq", {"error": {"message": "over capacity", "code": 503}})
    assert error.code == "503" and "over capacity" in str(error)


def test_a_stream_state_names_its_framing_and_the_handle_reads_it() -> None:
    import json as _json

    from toolwire._framing import FRAMINGS, Framing, framing_for, register_framing

    def iter_lines(response: httpx2.Response) -> Iterator[Any]:
        for line in response.iter_lines():
            if line:
                yield SSEEvent(None, line)

    async def aiter_lines(response: httpx2.Response) -> AsyncIterator[Any]:
        async for line in response.aiter_lines():
            if line:
                yield SSEEvent(None, line)

    ndjson = Framing("ndjson-test", iter_lines, aiter_lines)
    register_framing(ndjson)
    try:

        class Named:
            framing = "ndjson-test"

        assert framing_for(Named()) is ndjson
        assert framing_for(object()) is SSE_FRAMING
        with pytest.raises(ValueError, match="unknown stream framing"):
            framing_for(type("Odd", (), {"framing": "nope"})())
        body = b"\n".join(_json.dumps({"n": i}).encode() for i in range(3))
        transport = Transport(
            provider="p",
            error_mapper=lambda status, headers, body: ProviderConnectionError("x", provider="p"),
            http_client=httpx2.Client(transport=httpx2.MockTransport(sse(body))),
        )
        handle = transport.open_stream(HttpCall("POST", "http://127.0.0.1/x", {}, b"{}"))
        handle.framing = framing_for(Named())
        assert [e.data for e in handle.events()] == ['{"n": 0}', '{"n": 1}', '{"n": 2}']
    finally:
        FRAMINGS.pop("ndjson-test", None)
