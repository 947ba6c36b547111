"""Gemini's schema dialect: the OpenAPI 3.0 subset of `FunctionDeclaration.parameters` (and of
`responseSchema`), compiled from a tool's neutral JSON Schema.

References are inlined (a recursive schema cannot be expressed: `ValueError`), null unions become
`nullable`, enums are strings (an enum of numbers or booleans lists its values in the description
instead), `dict[str, X]` is described in words, and `additionalProperties`/`title`/`default` are
dropped. A schema without properties compiles to `{}`, meaning "send no `parameters`". The class declares it
(`GeminiProvider.schema_compiler`), so `compile_schema(parameters, "gemini")` finds it through the
provider registry; the generic walking blocks come from `toolwire.tools.dialects`.

No third-party import here: this runs on every request that carries tools.
"""

from __future__ import annotations

import json
from typing import Any

from ..tools.dialects import (
    RecursiveSchemaError,
    Schema,
    inline_refs,
    merge_all_of,
    root_schema,
    schema_types,
    tuple_items,
    where,
)

__all__ = ["gemini_schema"]

# Gemini `Schema` (OpenAPI 3.0 subset) fields we emit. `title`/`default` are dropped on purpose: older
# Gemini models rejected them and they carry nothing the model needs.
_GEMINI_KEYS = frozenset(
    {
        "type", "format", "description", "nullable", "enum", "items", "properties", "required", "anyOf",
        "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern",
        "minProperties", "maxProperties", "propertyOrdering",
    }
)  # fmt: skip
# Gemini only documents these formats; anything else (email, uuid...) is a 400 on some models.
_GEMINI_FORMATS = {
    "string": frozenset({"enum", "date-time"}),
    "number": frozenset({"float", "double"}),
    "integer": frozenset({"int32", "int64"}),
}


def gemini_schema(parameters: Schema, strict: bool = False) -> Schema:
    """The `gemini` dialect (`compile_schema(parameters, "gemini")`); `strict` has no meaning here."""
    root = root_schema(parameters)
    try:
        inlined = inline_refs(root)
    except RecursiveSchemaError as exc:
        raise ValueError(f"gemini cannot express this tool schema: {exc}") from None

    def visit(node: Any, path: tuple[str, ...]) -> Schema:
        if not isinstance(node, dict):
            raise ValueError(f"gemini: {where(path)} is not a schema object ({node!r})")
        node = dict(node)
        if "oneOf" in node:
            node["anyOf"] = [*node.get("anyOf", []), *node.pop("oneOf")]
        if "allOf" in node:
            node = merge_all_of(node, inlined, path)
        if "const" in node:
            node["enum"] = [node.pop("const")]
        if "prefixItems" in node and "items" not in node:
            node["items"] = tuple_items(node["prefixItems"])
        nullable = bool(node.get("nullable"))
        types = schema_types(node)
        if "null" in types:
            nullable = True
            types = [t for t in types if t != "null"]
        if "anyOf" in node:
            real = []
            for i, member in enumerate(node.pop("anyOf")):
                if isinstance(member, dict) and schema_types(member) == ["null"]:
                    nullable = True
                    continue
                compiled = visit(member, (*path, "anyOf", str(i)))
                if compiled.pop("nullable", False):
                    nullable = True
                real.append(compiled)
            if len(real) == 1:
                for key, value in real[0].items():
                    node.setdefault(key, value)
                types = schema_types(node)
            elif real:
                node["anyOf"] = real
        if len(types) > 1:
            node["anyOf"] = [{"type": t} for t in types]
            node.pop("type", None)
            types = []
        elif types:
            node["type"] = types[0]
        else:
            node.pop("type", None)
        if "enum" in node:
            values = [v for v in node["enum"] if v is not None]
            if len(values) < len(node["enum"]):
                nullable = True
            _gemini_enum(node, values)
        _describe_open_object(node)
        if "properties" in node:
            node["properties"] = {
                name: visit(sub, (*path, "properties", name)) for name, sub in node["properties"].items()
            }
            node["required"] = [r for r in node.get("required", []) if r in node["properties"]]
            if not node["required"]:
                del node["required"]
            node.setdefault("type", "object")
        else:
            # `required` naming properties never defined (an object without `properties`): Gemini
            # answers 400 "property is not defined" (BFCL schemas have it in nested objects)
            node.pop("required", None)
        if "items" in node or node.get("type") == "array":
            items = node.get("items")
            node["items"] = visit(items if isinstance(items, dict) else {}, (*path, "items"))
            node["type"] = "array"
        if "type" not in node and "anyOf" not in node:
            # Gemini has no "any" type (an unspecified type is a 400 on newer models): such a value
            # travels as a string.
            node["type"] = "string"
        allowed = _GEMINI_FORMATS.get(node.get("type", ""), frozenset())
        if "format" in node and node["format"] not in allowed:
            del node["format"]
        if nullable:
            node["nullable"] = True
        return {k: v for k, v in node.items() if k in _GEMINI_KEYS}

    result = visit(inlined, ())
    if not result.get("properties"):
        return {}
    return result


def _gemini_enum(node: Schema, values: list[Any]) -> None:
    """Gemini's `parameters` take `enum` on strings only (the Gemini API's Schema; Vertex's also
    documents `{type: INTEGER, format: enum, enum: ["101"]}`, the Gemini API refuses it). A string
    enum of numbers would have the model answer `"2"` where the tool takes `2`, so an enum of
    numbers or booleans keeps its type and states its values in the description instead; the
    arguments are still checked against the tool's own schema before it runs."""
    kind = _enum_kind(values)
    if kind == "string":  # strings, or a mix of types: one string enum, as text
        node["enum"] = [v if isinstance(v, str) else _enum_text(v) for v in values]
        node["type"] = "string"
        return
    del node["enum"]
    node["type"] = kind
    allowed = ", ".join(json.dumps(v) for v in values)
    node["description"] = _sentence(node.get("description"), f"Allowed values: {allowed}.")


def _enum_kind(values: list[Any]) -> str:
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def _describe_open_object(node: Schema) -> None:
    """`dict[str, X]` is `additionalProperties: X`, which Gemini's `parameters` do not take (the
    Gemini API answers 400 "Unknown name additionalProperties"): an object without properties
    would reach the model as an empty object, so its description says what the keys and values
    are. (`function_schema="json_schema"` sends `parametersJsonSchema`, which keeps it as written.)"""
    extra = node.get("additionalProperties")
    if extra is None or extra is False or "object" not in (schema_types(node) or ["object"]):
        return
    others = "Other keys" if node.get("properties") else "Keys"
    if isinstance(extra, dict) and extra:
        text = f"{others} are free-form strings; each value matches the JSON Schema {_schema_text(extra)}."
    else:
        text = f"{others} are free-form strings; values may be any JSON value."
    node["type"] = "object"
    node["description"] = _sentence(node.get("description"), text)


def _schema_text(schema: Any) -> str:
    def strip(value: Any) -> Any:  # titles are noise to the model (Pydantic adds one everywhere)
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k != "title"}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(schema), ensure_ascii=False)


def _sentence(description: Any, text: str) -> str:
    if not isinstance(description, str) or not description.strip():
        return text
    head = description.rstrip()
    return f"{head} {text}" if head.endswith((".", "!", "?")) else f"{head}. {text}"


def _enum_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
