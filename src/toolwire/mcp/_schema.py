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
from collections.abc import Callable, Mapping
from typing import Any

from ..tools.dialects import is_nullable

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


class SchemaValidator:
    """Validates the model's arguments against the server's own schema before the call.

    OpenAI strict mode sends `null` for an optional property it has no value for; such nulls are
    dropped when the server's schema does not admit null there (the server then sees the property
    as absent, as it would from any other provider).
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        import jsonschema  # type: ignore[import-untyped]  # a dependency of the mcp SDK

        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            cls.check_schema(schema)
        except jsonschema.SchemaError:
            cls = jsonschema.Draft202012Validator  # validate what can be validated
        self._validator = cls(schema)
        required = set(schema.get("required", []))
        properties = schema.get("properties", {})
        self._null_means_absent = frozenset(
            name
            for name, sub in properties.items()
            if name not in required and isinstance(sub, dict) and not is_nullable(sub, schema)
        )
        self._fast = _FastCheck.of(schema) if cls is jsonschema.Draft202012Validator else None

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        cleaned = {k: v for k, v in arguments.items() if not (v is None and k in self._null_means_absent)}
        if self._fast is not None and self._fast.passes(cleaned):
            return cleaned  # certainly valid; anything else gets the full validator and its messages
        errors = sorted(self._validator.iter_errors(cleaned), key=lambda e: list(e.absolute_path))
        if errors:
            parts = []
            for error in errors[:5]:
                where = ".".join(str(p) for p in error.absolute_path) or "(arguments)"
                parts.append(f"{where}: {error.message}")
            raise ValueError("; ".join(parts))
        return cleaned


# What the common schema shape (an object of typed properties, as SDKs generate from a function's
# signature) needs checked, by JSON Schema 2020-12's type rules; a value these do not accept (a
# float 2.0 for "integer", say) is left to the full validator, which may still accept it.
_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}
_ROOT_KEYS = frozenset({"type", "properties", "required", "additionalProperties", "title", "description"})
_PROPERTY_KEYS = frozenset({"type", "title", "description", "default", "examples"})


class _FastCheck:
    """A per-call shortcut for simple schemas: `passes` is True only for arguments the full
    validator certainly accepts (the jsonschema walk costs ~15 µs per call even for two integers)."""

    __slots__ = ("closed", "required", "types")

    def __init__(
        self, types: dict[str, Callable[[Any], bool]], required: tuple[str, ...], closed: bool
    ) -> None:
        self.types = types
        self.required = required
        self.closed = closed

    @classmethod
    def of(cls, schema: Mapping[str, Any]) -> _FastCheck | None:
        """The shortcut for `schema`, or None when it uses anything beyond the simple shape."""
        if not _ROOT_KEYS.issuperset(schema) or schema.get("type") != "object":
            return None
        extra = schema.get("additionalProperties", True)
        required = schema.get("required", [])
        properties = schema.get("properties", {})
        if not isinstance(extra, bool) or not isinstance(required, list) or not isinstance(properties, dict):
            return None
        if not all(isinstance(name, str) for name in required):
            return None
        types: dict[str, Callable[[Any], bool]] = {}
        for name, sub in properties.items():
            if not isinstance(sub, dict) or not _PROPERTY_KEYS.issuperset(sub):
                return None
            check = _TYPE_CHECKS.get(sub["type"]) if isinstance(sub.get("type"), str) else None
            if check is None:
                return None
            types[name] = check
        return cls(types, tuple(required), closed=not extra)

    def passes(self, arguments: dict[str, Any]) -> bool:
        for name in self.required:
            if name not in arguments:
                return False
        for name, value in arguments.items():
            check = self.types.get(name)
            if check is None:
                if self.closed:
                    return False
            elif not check(value):
                return False
        return True


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
