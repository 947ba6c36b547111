"""An MCP tool's input schema as a toolwire tool schema, the validator of its arguments, and its
result as what the model reads.

MCP servers publish JSON Schema 2020-12 (`inputSchema`), often with a `$schema` key and, for
tools without arguments, a bare `{"type": "object"}`. Both are provider 400s in practice (OpenAI
rejects an object without `properties` in strict mode, Gemini rejects `$schema`), so the neutral
schema drops `$schema`/`$id` and gains `properties: {}`; everything else is the dialect compiler's
job (`toolwire.tools.dialects`), exactly as for a local function.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from ..tools._jsonschema import SchemaValidator

__all__ = ["SchemaRefused", "SchemaValidator", "neutral_schema", "result_output"]

_ROOT_ONLY = ("$schema", "$id")


class SchemaRefused(ValueError):
    """The tool's input schema cannot be a function's parameters (its root is not an object)."""


def neutral_schema(input_schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """The server's `inputSchema` as toolwire's neutral parameters schema (a new dict)."""
    schema = {k: v for k, v in dict(input_schema or {}).items() if k not in _ROOT_ONLY}
    kind = schema.get("type", "object")
    if isinstance(kind, list) and "object" in kind and len([k for k in kind if k != "null"]) == 1:
        kind = "object"  # ["object", "null"]: arguments are always an object
    if kind != "object":
        raise SchemaRefused(
            f"its inputSchema has type {kind!r} at the root; a tool's arguments must be a JSON object"
        )
    schema["type"] = "object"
    schema.setdefault("properties", {})
    return schema


def result_output(result: Any) -> Any:
    """A `CallToolResult` as the output the model reads.

    Text parts are joined by newlines. `structuredContent` (the typed result of a server with an
    `outputSchema`) wins over its own text rendering, as a JSON object. Images become
    `toolwire.Image`s: the output is then a list of text and images, which each provider receives in
    its own format (docs/images.md); an image toolwire cannot send (an unsupported type, bad data)
    and audio become a note saying what was left out.
    """
    structured = getattr(result, "structured_content", None)
    blocks = list(getattr(result, "content", None) or [])
    images = [b for b in blocks if getattr(b, "type", None) == "image"]
    if structured is not None and not images:
        return structured
    parts: list[Any] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            parts.append(block.text)
        elif kind == "image":
            parts.append(_image(block))
        elif kind == "audio":
            parts.append(f"[audio omitted: {block.mime_type}, {_decoded_size(block.data)} bytes]")
        elif kind == "resource_link":
            parts.append(f"[resource: {block.uri}" + (f" ({block.name})" if block.name else "") + "]")
        elif kind == "resource":
            resource = block.resource
            text = getattr(resource, "text", None)
            parts.append(text if text is not None else f"[binary resource: {resource.uri}]")
        else:
            parts.append(f"[{kind} content omitted]")
    if not any(not isinstance(part, str) for part in parts):
        return "\n".join(parts)
    if structured is not None:
        parts.insert(0, json.dumps(structured, ensure_ascii=False))
    return parts


def _image(block: Any) -> Any:
    from ..image import Image, ImageError

    try:
        return Image.from_base64(block.data, media_type=block.mime_type)
    except ImageError as exc:
        return f"[image omitted: {block.mime_type}, {_decoded_size(block.data)} bytes: {exc}]"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)
