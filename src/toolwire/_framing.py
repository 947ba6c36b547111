"""How a streamed body splits into events: Server-Sent Events (sans-I/O decoder, sync and async
iterators over a response) and the registry of other framings (AWS's binary event stream registers
itself from `toolwire._eventstream` when a Bedrock stream first needs it).

Split out of `_transport.py`, which re-exports these names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2

__all__ = [
    "FRAMINGS",
    "SSE_FRAMING",
    "Framing",
    "SSEDecoder",
    "SSEEvent",
    "aiter_sse",
    "framing_for",
    "iter_sse",
    "register_framing",
]


@dataclass(slots=True)
class SSEEvent:
    event: str | None
    data: str


# -- SSE ---------------------------------------------------------------------------------------
class SSEDecoder:
    """Incremental Server-Sent Events decoder (sans-I/O): over body bytes in bulk (`feed`,
    `close`), or over text lines (`feed_line`, `flush`).

    Lines end at CRLF, LF or CR and nothing else (html.spec.whatwg.org, "Parsing an event
    stream"): splitting the decoded text with `str.splitlines`, as `httpx2.Response.iter_lines`
    does, also cut a line at U+2028, U+0085 or a form feed, which JSON carries unescaped inside a
    string. The bytes are split in bulk, one `split` per network chunk instead of a Python step
    per line, and only complete lines are decoded (UTF-8, invalid bytes replaced, as the spec
    says), so a character split across two chunks decodes whole.
    """

    __slots__ = ("_cr", "_data", "_event", "_plain", "_started", "_tail")

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []
        self._tail = b""  # the bytes of a line not yet ended
        self._cr = False  # the last chunk ended on CR: a LF opening the next one ends no line
        self._started = False
        self._plain = False  # no line waits for its end, no CR, the stream has begun: `feed`'s fast path

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """The events that `chunk`, the next bytes of the body, completes."""
        if self._plain and chunk[-1:] == b"\n" and b"\r" not in chunk:
            # whole LF-ended lines after whole lines: what a model's server writes
            text = chunk.decode("utf-8", "replace")
            if (
                text[:6] == "data: "
                and text.count("\n") == 2
                and text[-2:] == "\n\n"
                and not self._data
                and self._event is None
            ):
                return [SSEEvent(None, text[6:-2])]  # one event of one data line
            lines = text.split("\n")
            lines.pop()
            return self._lines(lines)
        return self._feed_split(chunk)

    def _feed_split(self, chunk: bytes) -> list[SSEEvent]:
        if not self._started:
            if not chunk:
                return []
            self._started = True
            if chunk[:3] == b"\xef\xbb\xbf":  # a byte order mark opening the stream is dropped
                chunk = chunk[3:]
        if self._cr:
            self._cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if self._tail:
            chunk = self._tail + chunk
        end = chunk.rfind(b"\n")
        has_cr = b"\r" in chunk
        if has_cr:
            end = max(end, chunk.rfind(b"\r"))
        if end < 0:
            self._tail = chunk
            self._plain = False
            return []
        self._tail = chunk[end + 1 :]
        text = chunk[: end + 1].decode("utf-8", "replace")
        if has_cr:
            self._cr = end == len(chunk) - 1 and chunk[end] == 13  # ends on "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        # the next chunk takes the fast path when nothing of this one waits for it
        self._plain = not self._tail and not self._cr
        lines = text.split("\n")
        lines.pop()  # what follows the last line end: kept in `_tail`
        return self._lines(lines)

    def close(self) -> list[SSEEvent]:
        """The end of the body: its last line even without a line end, and the pending event."""
        tail, self._tail = self._tail, b""
        lines = [tail.decode("utf-8", "replace"), ""] if tail else [""]
        return self._lines(lines)

    def _lines(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:  # a blank line dispatches the event
                if data or self._event is not None:
                    events.append(SSEEvent(self._event, "\n".join(data)))
                    data = []
                    self._event = None
            elif line[:6] == "data: ":  # nearly every line of a model's stream
                data.append(line[6:])
            elif line[0] != ":":  # ":" opens a comment (a keep-alive)
                name, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    data.append(value)
                elif name == "event":
                    self._event = value
        self._data = data
        return events

    def feed_line(self, line: str) -> SSEEvent | None:
        """One line of text, without its line end (for callers that split lines themselves)."""
        events = self._lines([line])
        return events[0] if events else None

    def flush(self) -> SSEEvent | None:
        return self.feed_line("")


def _undecoded(response: httpx2.Response) -> bool:
    """Whether the body can be read as it arrives (`iter_raw`): not read already, and with no
    content coding for `iter_bytes` to undo. Saves a generator layer and two no-op decoder
    steps per network chunk."""
    return not response.is_stream_consumed and "content-encoding" not in response.headers


def iter_sse(response: httpx2.Response) -> Iterator[SSEEvent]:
    decoder = SSEDecoder()
    for chunk in response.iter_raw() if _undecoded(response) else response.iter_bytes():
        events = decoder.feed(chunk)
        if events:
            yield from events
    yield from decoder.close()


async def aiter_sse(response: httpx2.Response) -> AsyncIterator[SSEEvent]:
    decoder = SSEDecoder()
    async for chunk in response.aiter_raw() if _undecoded(response) else response.aiter_bytes():
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


@dataclass(frozen=True)
class Framing:
    """How a streamed body splits into the events a `StreamState.feed` reads (sync and async)."""

    name: str
    iter: Callable[[httpx2.Response], Iterator[Any]]
    aiter: Callable[[httpx2.Response], AsyncIterator[Any]]


SSE_FRAMING = Framing("sse", iter_sse, aiter_sse)

# Framings by name. A stream state names the one its body uses (`framing = "sse"`, the default);
# a provider module whose wire is framed otherwise (AWS event streams) registers its own.
FRAMINGS: dict[str, Framing] = {SSE_FRAMING.name: SSE_FRAMING}
# built-in framings whose module registers them when imported (the binary decoder only when used)
_FRAMING_MODULES = {"eventstream": "toolwire._eventstream"}


def register_framing(framing: Framing) -> None:
    FRAMINGS[framing.name] = framing


def framing_for(state: object) -> Framing:
    """The framing a stream state reads: its `framing` attribute (a name or a `Framing`), else SSE."""
    declared = getattr(state, "framing", None)
    if declared is None:
        return SSE_FRAMING
    if isinstance(declared, Framing):
        return declared
    if declared not in FRAMINGS and declared in _FRAMING_MODULES:
        import importlib

        importlib.import_module(_FRAMING_MODULES[declared])
    try:
        return FRAMINGS[declared]
    except KeyError:
        raise ValueError(f"unknown stream framing {declared!r}; known: {', '.join(FRAMINGS)}") from None
