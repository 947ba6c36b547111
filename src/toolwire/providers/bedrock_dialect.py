"""The `bedrock` schema dialect: tool input schemas and structured-output schemas for Converse."""

from __future__ import annotations

import copy
import json
from typing import Any

from ..tools.dialects import (
    RecursiveSchemaError,
    Schema,
    inline_refs,
    map_children,
    root_schema,
    schema_types,
)

__all__ = ["bedrock_schema"]


def bedrock_schema(parameters: Schema, strict: bool = False) -> Schema:
    """The `bedrock` dialect (Converse `toolSpec.inputSchema.json`, `outputConfig` schemas): JSON
    Schema with references inlined, since Converse hands the schema to models (Nova, Llama, Mistral)
    that do not resolve `$ref` (a recursive schema is sent as written, for Claude); with
    `strict=True` every object is closed (`additionalProperties: false`), which Bedrock's structured
    outputs require, and the bounds its grammar compiler refuses are moved into the description."""
    root = root_schema(parameters)
    try:
        schema = inline_refs(root)
    except RecursiveSchemaError:
        schema = root
    if not strict:
        return schema

    def close(node: Any, path: tuple[str, ...]) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        out = map_children(node, close, path)
        if ("object" in schema_types(out) or "properties" in out) and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return _bounds_described(out)

    result: Schema = close(schema, ())
    return result


# Strict schemas (outputConfig, strict tools) are compiled into a grammar that refuses numeric,
# length and array bounds: "For 'array' type, property 'maxItems' is not supported" (measured on
# Converse, litellm #39115), "For 'integer' type, property 'minimum' is not supported" (Claude);
# `minItems` only as 0 or 1; formats only from the list below. Moved into the description instead,
# as Anthropic's SDK does; the answer is still validated against the full schema here.
_STRICT_REFUSED = (
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
    "maxItems", "uniqueItems", "minProperties", "maxProperties",
)  # fmt: skip
_STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)


def _bounds_described(node: dict[str, Any]) -> dict[str, Any]:
    moved = {k: node.pop(k) for k in _STRICT_REFUSED if k in node}
    if isinstance(node.get("minItems"), int) and node["minItems"] > 1:
        moved["minItems"] = node.pop("minItems")
    if isinstance(node.get("format"), str) and node["format"] not in _STRICT_FORMATS:
        moved["format"] = node.pop("format")
    if moved:
        note = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in moved.items()) + "}"
        described = node.get("description")
        node["description"] = f"{described}\n\n{note}" if isinstance(described, str) and described else note
    return node
