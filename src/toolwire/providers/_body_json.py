"""Request bodies as JSON text, reusing the text of tool definitions already serialized.

An agent sends the same tools with every request; their schemas are most of a small request's
body (the Bedrock bench's three tools: 15 of 20 µs of `json.dumps` per call). The provider's
translated tool list (`ChatRequest.tool_payload`) is built once per tool set and reused, so its
JSON text can be too: it is cached by the identity of that list (held, so the id cannot be reused)
and spliced into the body's text. The result is the same text `json.dumps` writes for the whole
body (tests/providers/test_body_json.py), and anything else (a list that is not exactly the cached
items, a key that is not the body's last) is serialized whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["ToolJson", "dumps"]

_CACHE_SIZE = 32  # tool sets per provider instance; more than an agent switches between


# what json.dumps(value, separators=(",", ":"), ensure_ascii=False) builds for every call (~3 µs);
# an encoder keeps no state between calls (encode() makes its own), so one serves every thread
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> str:
    """Compact JSON, as request bodies are sent: `json.dumps(value, separators=(",", ":"),
    ensure_ascii=False)`."""
    return _ENCODER.encode(value)


class ToolJson:
    """The JSON text of translated tool lists, one entry per list object."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Sequence[Any], str]] = {}

    def text(self, tools: Any, payload: Sequence[Any] | None) -> str | None:
        """`dumps(tools)` when `tools` holds exactly the items of `payload` (the same objects, in
        order), from the cache after the first time; None when it does not."""
        if payload is None or not isinstance(tools, list) or len(tools) != len(payload):
            return None
        if any(a is not b for a, b in zip(tools, payload)):
            return None
        entry = self._entries.get(id(payload))
        if entry is not None and entry[0] is payload:
            return entry[1]
        text = dumps(tools)
        if len(self._entries) >= _CACHE_SIZE:
            self._entries.clear()
        self._entries[id(payload)] = (payload, text)
        return text


def with_last(body: dict[str, Any], key: str, value_text: str) -> str | None:
    """`dumps(body)` where `body[key]`, the body's last key, serializes to `value_text`; None when
    `key` is not the last key (its place in the text would differ)."""
    if not body or next(reversed(body)) != key:
        return None
    rest = {k: v for k, v in body.items() if k != key}
    head = dumps(rest)
    separator = "," if rest else ""
    return f"{head[:-1]}{separator}{dumps(key)}:{value_text}}}"
