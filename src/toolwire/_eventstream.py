"""The AWS event-stream framing (`application/vnd.amazon.eventstream`), sans-I/O, stdlib only.

Bedrock's ConverseStream answers in binary frames, not SSE. Each frame (message) is:

    total length (uint32) | headers length (uint32) | prelude CRC32 (uint32)
    headers | payload | message CRC32 (uint32, over everything before it)

all big-endian; a header is name length (uint8), name, value type (uint8), value. Both CRCs are
checked: a frame whose bytes were damaged in transit is refused, never half-read. The layout is the
one botocore's `botocore.eventstream.EventStreamBuffer` reads (the test suite uses it as the oracle);
ours is a few dozen lines over `zlib.crc32`, so streaming from Bedrock does not import botocore.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._framing import Framing, register_framing
from .errors import ResponseParseError

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "EventStreamDecoder",
    "EventStreamError",
    "EventStreamMessage",
    "aiter_eventstream",
    "iter_eventstream",
]

_PRELUDE = 12
_MAX_HEADERS = 128 * 1024
# botocore.eventstream's limits (payload 24 MiB, headers 128 KiB): a longer frame is damage, not data
_MAX_PAYLOAD = 24 * 1024 * 1024
_PRELUDE_STRUCT = struct.Struct(">III")
_CRC = struct.Struct(">I")


class EventStreamError(ResponseParseError):
    """A frame of an event stream is damaged (bad CRC, impossible lengths, unknown header type)."""


@dataclass
class EventStreamMessage:
    """One decoded frame: its headers (`:event-type`, `:message-type`, ...) and raw payload."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def message_type(self) -> str:
        return str(self.headers.get(":message-type") or "event")

    @property
    def event_type(self) -> str | None:
        value = self.headers.get(":event-type") or self.headers.get(":exception-type")
        return str(value) if value is not None else None


def _header_value(kind: int, data: bytes, pos: int) -> tuple[Any, int]:
    """One header value of wire type `kind` at `pos` → (value, next position)."""
    if kind == 0:
        return True, pos
    if kind == 1:
        return False, pos
    fixed = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}
    if kind in fixed:
        fmt = struct.Struct(fixed[kind])
        (value,) = fmt.unpack_from(data, pos)
        return value, pos + fmt.size
    if kind in (6, 7):  # byte array / string: uint16 length, then the bytes
        (length,) = struct.unpack_from(">H", data, pos)
        raw = data[pos + 2 : pos + 2 + length]
        if len(raw) != length:
            raise EventStreamError("event stream: a header value runs past its frame")
        return (raw.decode("utf-8") if kind == 7 else raw), pos + 2 + length
    if kind == 9:
        raw = data[pos : pos + 16]
        if len(raw) != 16:
            raise EventStreamError("event stream: a uuid header runs past its frame")
        return uuid.UUID(bytes=raw), pos + 16
    raise EventStreamError(f"event stream: unknown header value type {kind}")


_seen_headers: dict[bytes, dict[str, Any]] = {}


def _headers(data: bytes) -> dict[str, Any]:
    # A stream repeats the same few header blocks (`:event-type` contentBlockDelta, ...) in every
    # frame: each distinct block is decoded once.
    known = _seen_headers.get(data)
    if known is None:
        known = _decode_headers(data)
        if len(_seen_headers) >= 256:
            _seen_headers.clear()
        _seen_headers[data] = known
    return dict(known)


def _decode_headers(data: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    pos = 0
    try:
        while pos < len(data):
            size = data[pos]
            name = data[pos + 1 : pos + 1 + size].decode("utf-8")
            pos += 1 + size
            value, pos = _header_value(data[pos], data, pos + 1)
            headers[name] = value
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise EventStreamError(f"event stream: damaged headers ({type(exc).__name__}: {exc})") from exc
    return headers


class EventStreamDecoder:
    """Feed bytes as they arrive (any split), get back every complete, CRC-checked message."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a whole frame (non-zero at the end: a cut stream)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[EventStreamMessage]:
        self._buffer += data
        out: list[EventStreamMessage] = []
        while len(self._buffer) >= _PRELUDE:
            total, headers_length, prelude_crc = _PRELUDE_STRUCT.unpack_from(self._buffer, 0)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                raise EventStreamError("event stream: prelude CRC mismatch (the frame is damaged)")
            payload_length = total - headers_length - _PRELUDE - 4
            if payload_length > _MAX_PAYLOAD or headers_length > _MAX_HEADERS or payload_length < 0:
                raise EventStreamError(f"event stream: impossible frame lengths ({total}, {headers_length})")
            if len(self._buffer) < total:
                break
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            (message_crc,) = _CRC.unpack_from(frame, total - 4)
            if zlib.crc32(frame[:-4]) != message_crc:
                raise EventStreamError("event stream: message CRC mismatch (the frame is damaged)")
            headers = _headers(frame[_PRELUDE : _PRELUDE + headers_length])
            out.append(EventStreamMessage(headers, frame[_PRELUDE + headers_length : -4]))
        return out


def _decoded(response: httpx2.Response) -> bool:
    # without a content-encoding, iter_bytes() yields what iter_raw() does, through a decoder and a
    # chunker that change nothing (~12 µs of a streamed turn); an encoded body is decoded as usual,
    # and a body already read in memory (a test transport's answer) is served by iter_bytes()
    return response.is_stream_consumed or "content-encoding" in response.headers


def iter_eventstream(response: httpx2.Response) -> Iterator[EventStreamMessage]:
    decoder = EventStreamDecoder()
    for data in response.iter_bytes() if _decoded(response) else response.iter_raw():
        yield from decoder.feed(data)
    # A body cut inside a frame just ends here: the stream state, which knows what it has
    # assembled, turns a missing messageStop into StreamInterruptedError with the partial turn.


async def aiter_eventstream(response: httpx2.Response) -> AsyncIterator[EventStreamMessage]:
    decoder = EventStreamDecoder()
    async for data in response.aiter_bytes() if _decoded(response) else response.aiter_raw():
        for message in decoder.feed(data):
            yield message


# Bedrock's stream states name this framing (`framing = "eventstream"`); the stream handle reads it.
EVENTSTREAM_FRAMING = Framing("eventstream", iter_eventstream, aiter_eventstream)
register_framing(EVENTSTREAM_FRAMING)
