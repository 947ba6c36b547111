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


@dataclass
class SSEEvent:
    event: str | None
    data: str


# -- SSE ---------------------------------------------------------------------------------------
class SSEDecoder:
    """Incremental Server-Sent Events decoder over text lines (sans-I/O)."""

    __slots__ = ("_data", "_event")

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []

    def feed_line(self, line: str) -> SSEEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            event = SSEEvent(self._event, "\n".join(self._data))
            self._event = None
            self._data = []
            return event
        if line[0] == ":":
            return None
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def flush(self) -> SSEEvent | None:
        return self.feed_line("")


def iter_sse(response: httpx2.Response) -> Iterator[SSEEvent]:
    decoder = SSEDecoder()
    for line in response.iter_lines():
        event = decoder.feed_line(line.rstrip("\r"))
        if event is not None:
            yield event
    tail = decoder.flush()
    if tail is not None:
        yield tail


async def aiter_sse(response: httpx2.Response) -> AsyncIterator[SSEEvent]:
    decoder = SSEDecoder()
    async for line in response.aiter_lines():
        event = decoder.feed_line(line.rstrip("\r"))
        if event is not None:
            yield event
    tail = decoder.flush()
    if tail is not None:
        yield tail


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
