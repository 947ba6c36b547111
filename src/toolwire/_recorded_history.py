"""Conversation histories in the recorder, stored once: each call writes only its new messages.

A model call's wire body carries the whole history (`messages`, Gemini's `contents`, the Responses
API's `input`), so storing every body whole costs O(history) per call: ~85 µs per KiB to redact,
serialize and scrub, 60 ms a call late in a long conversation (issue 16 item 15). Instead the
history list is stored as a chain of content-addressed nodes in the `history` table, one row per
message: a node's id hashes its parent's id and its own stored JSON, so a prefix shared by every
later call of a conversation (or by two conversations) is one chain, written once. The call's row
keeps the body with `{"$toolwire_history": <last node id>, "length": n}` in the list's place, and
`CallStore` puts the list back when reading, so readers see exactly the body that was sent.

The writer remembers, per conversation and provider, the wire items it stored last time with their
node ids; a call whose first k items are equal to those reuses their nodes and serializes only the
rest. An item that differs (Anthropic moving `cache_control`, a history trimmed or edited, another
provider's shape) starts a new branch from there, so what is read back is always what was sent.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["HISTORY_KEYS", "MARKER", "HistoryCache", "Nodes", "expand", "history_key"]

# where a provider's wire body keeps the conversation: Chat Completions, Anthropic, Mistral and
# Bedrock `messages`, Gemini `contents`, the Responses API `input` (a list; a bare string stays inline)
HISTORY_KEYS = ("messages", "contents", "input")
MARKER = "$toolwire_history"
# the depth of a history item inside the recorded payload ({"body": {"messages": [item]}}), so that
# redaction and image references apply their depth limits exactly as they did to the whole payload
ITEM_DEPTH = 3

TABLE = """
    CREATE TABLE IF NOT EXISTS history (
        id       TEXT PRIMARY KEY,
        parent   TEXT,
        position INTEGER NOT NULL,
        message  TEXT NOT NULL
    )
"""
INSERT = "INSERT OR IGNORE INTO history (id, parent, position, message) VALUES (?, ?, ?, ?)"
# node id -> (parent id, position, stored JSON): what one write transaction adds
Nodes = dict[str, tuple[str | None, int, str]]


def history_key(body: Any) -> str | None:
    """The key of `body` that holds the history list, or None (no list to store apart)."""
    if not isinstance(body, dict):
        return None
    for key in HISTORY_KEYS:
        if isinstance(body.get(key), list) and body[key]:
            return key
    return None


def _node_id(parent: str | None, text: str) -> str:
    digest = hashlib.sha256()
    digest.update((parent or "").encode())
    digest.update(b"\n")
    digest.update(text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


class HistoryCache:
    """The writer's memory of the last history stored per (conversation, provider): its wire
    items (parsed JSON, compared with `==`: 0.2 ms for 1,000 messages, where hashing each one's
    JSON takes 8 ms) and their node ids. An LRU bounded by conversations and by the size of the
    bodies it holds; a conversation evicted pays one whole write on its next call.

    Only the writer thread uses it. `clear()` after a failed write: the nodes it remembers may
    not have reached the database, and a later row must never point at a missing node.
    """

    def __init__(self, max_conversations: int = 64, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_conversations = max_conversations
        self.max_bytes = max_bytes  # of request bodies as sent; parsed, they take ~3 times that
        self._lists: OrderedDict[tuple[Any, ...], list[tuple[Any, str]]] = OrderedDict()
        self._sizes: dict[tuple[Any, ...], int] = {}
        self._held = 0

    def store(
        self,
        key: tuple[Any, ...] | None,
        items: list[Any],
        serialize: Callable[[Any], str],
        nodes: Nodes,
        size: int = 0,
    ) -> dict[str, Any]:
        """Add `items`' new nodes to `nodes`; return the marker that stands for the list in the row."""
        cached = self._lists.get(key) if key is not None else None
        entries: list[tuple[Any, str]] = []
        parent: str | None = None
        same = cached is not None
        for position, item in enumerate(items):
            if same and cached is not None and position < len(cached):
                old_item, old_node = cached[position]
                # `==` on the wire dicts runs in C, far below the cost of redacting and serializing
                if old_item is item or old_item == item:
                    entries.append((old_item, old_node))
                    parent = old_node
                    continue
            same = False
            text = serialize(item)
            node = _node_id(parent, text)
            nodes[node] = (parent, position, text)
            entries.append((item, node))
            parent = node
        if key is not None:
            self._forget(key)
            self._lists[key] = entries
            self._sizes[key] = size
            self._held += size
            while len(self._lists) > self.max_conversations or (
                self._held > self.max_bytes and len(self._lists) > 1
            ):
                self._forget(next(iter(self._lists)))
        return {MARKER: parent, "length": len(items)}

    def _forget(self, key: tuple[Any, ...]) -> None:
        if self._lists.pop(key, None) is not None:
            self._held -= self._sizes.pop(key, 0)

    def clear(self) -> None:
        self._lists.clear()
        self._sizes.clear()
        self._held = 0


_CHAIN = """
    WITH RECURSIVE chain(id, parent, position, message) AS (
        SELECT id, parent, position, message FROM history WHERE id = ?
        UNION ALL
        SELECT h.id, h.parent, h.position, h.message FROM history h JOIN chain c ON h.id = c.parent
    )
    SELECT position, message FROM chain
"""


def _load(text: str) -> Any:
    try:
        # as CallStore reads whole rows: NaN/Infinity as strings, for strict JSON readers
        return json.loads(text, parse_constant=str)
    except (ValueError, RecursionError):
        return text


def expand(conn: sqlite3.Connection, request: Any) -> Any:
    """Put the stored history back into a decoded request payload (in place); older rows, with
    the list inline, are returned as they are."""
    body = request.get("body") if isinstance(request, dict) else None
    if not isinstance(body, dict):
        return request
    for key in HISTORY_KEYS:
        marker = body.get(key)
        if isinstance(marker, dict) and MARKER in marker:
            tail = marker[MARKER]
            rows = conn.execute(_CHAIN, (tail,)).fetchall() if tail else []
            rows.sort(key=lambda row: int(row[0]))
            body[key] = [_load(str(row[1])) for row in rows]
    return request
