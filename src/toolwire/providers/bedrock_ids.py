"""`toolUseId`s Bedrock accepts, for ids from any provider, the same for a call and its result."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

__all__ = ["bedrock_tool_id", "mistral_tool_id"]

_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def bedrock_tool_id(call_id: str) -> str:
    """An id Bedrock accepts (1–64 of `[a-zA-Z0-9_-]`): kept when valid, else a stable hash, so a
    `call_…:3` from another provider maps identically in `toolUse` and `toolResult`."""
    if call_id and _ID_PATTERN.fullmatch(call_id):
        return call_id
    return "tooluse_tw" + hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:32]


def _turn_id(call_id: str, seen: dict[str, int], tool_id: Callable[[str], str] = bedrock_tool_id) -> str:
    """`tool_id(call_id)`, with the n-th repeat of an id within one turn made distinct."""
    n = seen.get(call_id, 0)
    seen[call_id] = n + 1
    return tool_id(call_id if n == 0 else f"{call_id}#{n}")


def mistral_tool_id(call_id: str) -> str:
    """Mistral models behind Converse take only ids of 9 letters or digits ("Tool call id was a but
    must be a-z, A-Z, 0-9, with a length of 9", reproduced on Bedrock in anomalyco/opencode
    #48843): Mistral's own mapping, which is also a valid toolUseId."""
    from .mistral import mistral_tool_call_id

    return mistral_tool_call_id(call_id)
