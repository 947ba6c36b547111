"""Server-Sent Events framing (toolwire._framing): the bulk byte decoder against the spec's line
rules (html.spec.whatwg.org, "Parsing an event stream": lines end at CRLF, LF or CR, nothing else),
over every way a body can be cut into network chunks, and through httpx2 responses (plain and
gzip-coded bodies, sync and async)."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import re
from collections.abc import AsyncIterator, Iterator

import httpx2
import pytest

from toolwire._framing import SSEDecoder, SSEEvent, aiter_sse, iter_sse


def reference(body: str) -> list[SSEEvent]:
    """The spec's algorithm, line by line, on the whole decoded text."""
    lines = re.split(r"\r\n|\r|\n", body)
    if re.search(r"(\r\n|\r|\n)$", body):
        lines.pop()  # the text after the last line end is empty
    lines.append("")  # the end of the body dispatches what is pending
    events, data, name = [], [], None
    for line in lines:
        if not line:
            if data or name is not None:
                events.append(SSEEvent(name, "\n".join(data)))
            data, name = [], None
            continue
        if line[0] == ":":
            continue
        field, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    return events


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


PIECES = [
    "data: ",
    "data:",
    "data",
    "event: tool",
    ": keep-alive",
    "id: 7",
    "\n",
    "\n\n",
    "\r",
    "\r\n",
    "x",
    "é",
    "€",
    "\u2028",
    "\x85",
    "\x0c",
    '{"a": 1}',
    " ",
    'data: {"choices": []}\n\n',
    "data: [DONE]\n\n",
]


def test_any_cut_of_any_body_decodes_as_the_spec_says() -> None:
    rng = random.Random(20261206)
    for _ in range(4000):
        body = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 30)))
        raw = body.encode()
        cuts = sorted(rng.sample(range(len(raw) + 1), min(len(raw) + 1, rng.randint(0, 6))))
        chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
        assert decode(chunks) == reference(body), (body, cuts)


def test_every_single_byte_cut_of_a_model_stream() -> None:
    body = (
        'data: {"id":"c","choices":[{"index":0,"delta":{"content":"caf\\u00e9 é"}}]}\r\n\r\n'
        ": ping\r\n\r\n"
        'event: error\ndata: {"error": {"message": "x"}}\n\n'
        "data: [DONE]\r\r"
    )
    raw = body.encode()
    for cut in range(len(raw) + 1):
        assert decode([raw[:cut], raw[cut:]]) == reference(body), cut
    assert decode([bytes([b]) for b in raw]) == reference(body)


def test_unicode_line_separators_inside_json_stay_in_the_event() -> None:
    # JSON carries U+2028, U+0085 and form feeds unescaped inside strings; str.splitlines (what
    # httpx2's iter_lines uses) cut the event there, and its data was no longer JSON
    content = "one\u2028two\x85three\x0cfour"
    line = json.dumps({"choices": [{"delta": {"content": content}}]}, ensure_ascii=False)
    events = decode([f"data: {line}\n\n".encode()])
    assert [json.loads(e.data)["choices"][0]["delta"]["content"] for e in events] == [content]


def test_a_character_cut_between_chunks_decodes_whole_and_bad_bytes_are_replaced() -> None:
    raw = "data: é€\n\n".encode()
    assert decode([raw[:7], raw[7:9], raw[9:]]) == [SSEEvent(None, "é€")]
    assert decode([b"data: \xff\n\n"]) == [SSEEvent(None, "\ufffd")]


def test_a_byte_order_mark_opening_the_stream_is_dropped() -> None:
    assert decode([b"\xef\xbb\xbfdata: 1\n\n"]) == [SSEEvent(None, "1")]
    assert decode([b"data: \xef\xbb\xbf1\n\n"]) == [SSEEvent(None, "\ufeff1")]  # only at the start


def test_the_last_event_without_a_line_end_is_kept() -> None:
    assert decode([b"data: a\n\ndata: b"]) == [SSEEvent(None, "a"), SSEEvent(None, "b")]
    assert decode([b"event: done\n"]) == [SSEEvent("done", "")]


def test_feed_line_still_reads_text_lines() -> None:
    decoder = SSEDecoder()
    assert decoder.feed_line("event: e") is None
    assert decoder.feed_line("data: 1") is None
    assert decoder.feed_line("") == SSEEvent("e", "1")
    assert decoder.feed_line("data: 2") is None
    assert decoder.flush() == SSEEvent(None, "2")


BODY = 'data: {"n": 1}\n\n: keep-alive\n\ndata: {"n": "\u2028"}\r\n\r\nevent: end\ndata: [DONE]\n\n'
EXPECTED = reference(BODY)


class Chunks(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, data: bytes, size: int) -> None:
        self.parts = [data[i : i + size] for i in range(0, len(data), size)]

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part


def _response(coded: bool, size: int) -> httpx2.Response:
    data = gzip.compress(BODY.encode()) if coded else BODY.encode()
    headers = {"content-type": "text/event-stream"}
    if coded:
        headers["content-encoding"] = "gzip"
    return httpx2.Response(200, headers=headers, stream=Chunks(data, size))


@pytest.mark.parametrize("coded", [False, True])
@pytest.mark.parametrize("size", [1, 7, 4096])
def test_responses_are_framed_alike_plain_or_gzip_sync_or_async(coded: bool, size: int) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return _response(coded, size)

    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    with client, client.stream("GET", "http://127.0.0.1/sse") as response:
        assert list(iter_sse(response)) == EXPECTED

    async def run() -> list[SSEEvent]:
        async def ahandler(request: httpx2.Request) -> httpx2.Response:
            return _response(coded, size)

        client = httpx2.AsyncClient(transport=httpx2.MockTransport(ahandler))
        async with client, client.stream("GET", "http://127.0.0.1/sse") as response:
            return [event async for event in aiter_sse(response)]

    assert asyncio.run(run()) == EXPECTED


def test_a_response_read_already_is_framed_from_its_content() -> None:
    response = httpx2.Response(200, content=BODY.encode())
    assert list(iter_sse(response)) == EXPECTED
