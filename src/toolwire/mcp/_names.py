"""Tool names every provider accepts, and the way back to the server's own names.

OpenAI, Azure, Anthropic, Gemini, Mistral and Bedrock all accept `^[a-zA-Z0-9_-]{1,64}$` for a
function name (Gemini also allows dots and colons, OpenAI does not; Anthropic caps at 64). MCP names
may carry dots, slashes and be up to 128 characters (2025-11-25 "Tool names"), so they are rewritten
once, when the tool list is read, and calls are mapped back to the original name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from ..errors import ConfigurationError

__all__ = [
    "MAX_NAME",
    "VALID_NAME",
    "MCPToolNameCollisionError",
    "assign_names",
    "provider_name",
    "unique_by_name",
]

T = TypeVar("T")

MAX_NAME = 64
VALID_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_INVALID_CHARS = re.compile(r"[^a-zA-Z0-9_-]")


class MCPToolNameCollisionError(ConfigurationError):
    """Two tools would reach the model under the same name (after prefixing and rewriting)."""


def provider_name(name: str, prefix: str = "") -> str:
    """`prefix + name` made valid for every provider; long names keep a hash of the original."""
    full = prefix + name
    if VALID_NAME.match(full):
        return full
    cleaned = _INVALID_CHARS.sub("_", full) or "tool"
    if len(cleaned) <= MAX_NAME and cleaned != full:
        return cleaned
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{cleaned[: MAX_NAME - 9]}_{digest}"


def assign_names(originals: Iterable[str], prefix: str, server: str) -> dict[str, str]:
    """exposed name -> original name; raises `MCPToolNameCollisionError` naming both originals."""
    if prefix and not VALID_NAME.match(prefix + "x"):
        raise ConfigurationError(f"MCP prefix {prefix!r} for {server}: use letters, digits, '_' and '-' only")
    exposed: dict[str, str] = {}
    for original in originals:
        name = provider_name(original, prefix)
        other = exposed.get(name)
        if other is not None:
            raise MCPToolNameCollisionError(
                f"MCP server {server}: tools {other!r} and {original!r} would both be sent to the model "
                f"as {name!r}; give the server a prefix= or rename one of them on the server"
            )
        exposed[name] = original
    return exposed


def unique_by_name(tools: list[T]) -> list[T]:
    """Tool names are unique on a server; one listed twice means the list changed while it was paged
    (offset cursors shift), not two tools: the later copy is kept (the caller re-reads the list)."""
    by_name: dict[Any, T] = {getattr(t, "name", None): t for t in tools}
    return list(by_name.values())
