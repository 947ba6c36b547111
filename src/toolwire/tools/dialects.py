"""Rewrite a neutral JSON Schema (a tool's parameters) into what one provider accepts.

`compile_schema(parameters, dialect, strict=...)` is pure: it never mutates its input and returns a
new dict. Dialects:

- ``"openai"`` (also Azure OpenAI, OpenAI-compatible servers, Ollama): JSON Schema as is; with
  ``strict=True`` the Structured Outputs subset (every object closed, every property required,
  optional properties made nullable, unsupported keywords removed).
- ``"anthropic"``: JSON Schema as is (``$ref``/``$defs`` allowed); only the root is normalized.
- ``"gemini"``: the OpenAPI 3.0 subset of ``FunctionDeclaration.parameters``: references inlined,
  ``nullable`` instead of null unions, string enums, no ``additionalProperties``/``title``/``default``.
  A schema without properties compiles to ``{}``, meaning "send no ``parameters``".
- ``"mistral"``: JSON Schema with references inlined.
- ``"bedrock"`` (Converse ``toolSpec.inputSchema.json``, ``outputConfig`` schemas): JSON Schema with
  references inlined, since Converse hands the schema to models (Nova, Llama, Mistral) that do not
  resolve ``$ref`` (a recursive schema is sent as written, for Claude); with ``strict=True`` every
  object is closed (``additionalProperties: false``), which Bedrock's structured outputs require.

No third-party import here: this runs on every request that carries tools.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "DIALECTS",
    "available_dialects",
    "compile_schema",
    "is_nullable",
    "register_dialect",
    "strict_compatible",
    "strip_titles",
    "walk_schemas",
]

# The built-in dialects the schema corpus is checked against; `available_dialects()` lists all.
DIALECTS = ("openai", "anthropic", "gemini", "mistral", "bedrock")

Schema = dict[str, Any]
Path = tuple[str, ...]

# Keywords whose value is a map of name -> subschema, a single subschema, or a list of subschemas.
_MAP_KEYS = frozenset({"properties", "$defs", "definitions", "patternProperties", "dependentSchemas"})
_ONE_KEYS = frozenset(
    {
        "items", "additionalProperties", "not", "contains", "if", "then", "else", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "additionalItems",
    }
)  # fmt: skip
_LIST_KEYS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})

# OpenAI Structured Outputs, "Supported schemas" (platform.openai.com/docs/guides/structured-outputs):
# strings support `pattern` and `format` (the formats below), numbers `multipleOf`, `maximum`,
# `exclusiveMaximum`, `minimum`, `exclusiveMinimum`, arrays `minItems`, `maxItems`; `anyOf`, `$ref`,
# `$defs` and `enum`/`const` are allowed; `allOf`, `not`, `if/then/else`, `dependent*`, `oneOf`,
# `default`, `minLength`/`maxLength`, `uniqueItems`, `patternProperties`... are not.
_OPENAI_STRICT_KEYS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
        "$ref", "$defs", "definitions", "description", "title", "pattern", "format", "multipleOf",
        "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "minItems", "maxItems",
    }
)  # fmt: skip
OPENAI_STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)

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


class _Recursive(ValueError):
    pass


SchemaCompiler = Callable[[Schema, bool], Schema]


def compile_schema(parameters: Schema, dialect: str, *, strict: bool = False) -> Schema:
    """Return a new schema for `dialect` (``openai``, ``anthropic``, ``gemini``, ``mistral``,
    ``json_schema`` or one a provider module registered with `register_dialect`).

    Raises `ValueError` for an unknown dialect, for a schema the dialect cannot express (a recursive
    schema for Gemini; an open `dict[str, X]`, an untyped value or an untyped array in OpenAI strict
    mode), or when `parameters` is not an object schema.
    """
    compiler = _COMPILERS.get(dialect)
    if compiler is None:
        known = ", ".join(available_dialects())
        raise ValueError(f"unknown schema dialect {dialect!r}; known dialects: {known}")
    return compiler(parameters, strict)


def register_dialect(name: str, compiler: SchemaCompiler) -> None:
    """Teach `compile_schema` a dialect: `compiler(parameters, strict)` returns a new schema or
    raises `ValueError` when the dialect cannot express it. Provider modules register their own."""
    _COMPILERS[name] = compiler


def available_dialects() -> list[str]:
    """Every dialect `compile_schema` knows, built-ins first, in registration order."""
    return list(_COMPILERS)


def _plain(parameters: Schema, strict: bool) -> Schema:
    # Anthropic, and Gemini's `parametersJsonSchema`, take JSON Schema as written.
    return _root(parameters)


def _openai(parameters: Schema, strict: bool) -> Schema:
    root = _root(parameters)
    return _openai_strict(root) if strict else root


def _mistral(parameters: Schema, strict: bool) -> Schema:
    root = _root(parameters)
    try:
        return _inline_refs(root)
    except _Recursive:
        # Mistral accepts JSON Schema references; a recursive model is sent as written.
        return root


_COMPILERS: dict[str, SchemaCompiler] = {
    "openai": _openai,
    "anthropic": _plain,
    "gemini": lambda parameters, strict: _gemini(_root(parameters)),
    "mistral": _mistral,
    "json_schema": _plain,
    "bedrock": lambda parameters, strict: _bedrock(_root(parameters), strict=strict),
}


def strict_compatible(parameters: Schema) -> bool:
    """Whether `parameters` can be sent with OpenAI strict mode without losing meaning.

    False for open maps (`dict[str, X]`, bare `dict`), untyped values (`Any`, unannotated
    parameters), arrays without `items` and multi-schema `allOf`.
    """
    try:
        compile_schema(parameters, "openai", strict=True)
    except ValueError:
        return False
    return True


def strip_titles(schema: Schema) -> Schema:
    """A copy of `schema` without `title` keywords (Pydantic's auto titles), structure-aware so a
    property *named* ``title`` survives."""

    def visit(node: Any, path: Path) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        trimmed = {k: v for k, v in node.items() if not (k == "title" and isinstance(v, str))}
        return _map_children(trimmed, visit, path)

    result: Schema = visit(schema, ())
    return result


# --------------------------------------------------------------------------------------------- helpers


def _map_children(node: Schema, visit: Callable[[Any, Path], Any], path: Path) -> Schema:
    """Rebuild `node`, applying `visit` to every direct subschema and deep-copying everything else."""
    out: Schema = {}
    for key, value in node.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            out[key] = {name: visit(sub, (*path, key, name)) for name, sub in value.items()}
        elif key in _ONE_KEYS and isinstance(value, dict):
            out[key] = visit(value, (*path, key))
        elif (key in _LIST_KEYS or key == "items") and isinstance(value, list):
            out[key] = [visit(sub, (*path, key, str(i))) for i, sub in enumerate(value)]
        else:
            out[key] = copy.deepcopy(value)
    return out


def _where(path: Path) -> str:
    names = [part for i, part in enumerate(path) if i > 0 and path[i - 1] in ("properties", "$defs")]
    return ".".join(names) if names else "the root"


def _root(parameters: Schema) -> Schema:
    if not isinstance(parameters, dict):
        raise TypeError(f"tool parameters must be a JSON Schema dict, got {type(parameters).__name__}")
    root = _lower_types(parameters)
    kind = root.setdefault("type", "object")
    if kind != "object":
        raise ValueError(f"tool parameters must be an object schema (type 'object'), got type {kind!r}")
    root.setdefault("properties", {})
    return root


_TYPE_NAMES = frozenset({"string", "number", "integer", "boolean", "array", "object", "null"})


def _lower_types(schema: Schema) -> Schema:
    """A copy with Gemini/OpenAPI-style upper-case type names (``"OBJECT"``) in JSON Schema case, so a
    tool dict taken from a Gemini request compiles for every dialect."""

    def lower(kind: Any) -> Any:
        if isinstance(kind, str) and kind.lower() in _TYPE_NAMES:
            return kind.lower()
        if isinstance(kind, list):
            return [lower(k) for k in kind]
        return kind

    def visit(node: Any, path: Path) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        out = _map_children(node, visit, path)
        if "type" in out:
            out["type"] = lower(out["type"])
        return out

    result: Schema = visit(schema, ())
    return result


def _resolve(root: Schema, ref: str) -> Schema:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise ValueError(f"only local JSON Schema references are supported, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"unresolvable JSON Schema reference {ref!r}")
        node = node[part]
    if not isinstance(node, dict):
        raise ValueError(f"JSON Schema reference {ref!r} does not point to a schema")
    return node


def _inline_refs(root: Schema) -> Schema:
    """A copy of `root` with every `$ref` replaced by its target and `$defs`/`definitions` removed.

    Sibling keywords of a `$ref` (a description, say) win over the target's. Raises `_Recursive`
    (a `ValueError`) when a reference is reached again while it is being expanded."""

    def visit(node: Any, path: Path, expanding: frozenset[str]) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        if "$ref" in node:
            ref = node["$ref"]
            if ref in expanding:
                raise _Recursive(
                    f"the schema is recursive ({ref!r} refers to itself, at {_where(path)}); "
                    "inline it into a finite structure"
                )
            target = visit(_resolve(root, ref), path, expanding | {ref})
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            return {**target, **_map_children(siblings, lambda n, p: visit(n, p, expanding), path)}
        return _map_children(node, lambda n, p: visit(n, p, expanding), path)

    body = {k: v for k, v in root.items() if k not in ("$defs", "definitions")}
    result: Schema = visit(body, (), frozenset())
    return result


def _merge_all_of(node: Schema, root: Schema, path: Path) -> Schema:
    """Fold `allOf` into `node`: object parts merge their properties/required; anything else must not
    conflict with what is already there."""
    parts = node.pop("allOf")
    for part in parts:
        while isinstance(part, dict) and "$ref" in part:
            rest = {k: v for k, v in part.items() if k != "$ref"}
            part = {**_resolve(root, part["$ref"]), **rest}
        if not isinstance(part, dict):
            raise ValueError(f"allOf at {_where(path)} holds a non-schema {part!r}")
        for key, value in part.items():
            if key == "properties":
                node.setdefault("properties", {}).update(value)
            elif key == "required":
                node["required"] = list(dict.fromkeys([*node.get("required", []), *value]))
            elif key in node and node[key] != value and key not in ("title", "description"):
                raise ValueError(
                    f"allOf at {_where(path)} combines conflicting {key!r} values; this dialect "
                    "cannot express an intersection of schemas"
                )
            else:
                node.setdefault(key, copy.deepcopy(value))
    return node


def _types(node: Schema) -> list[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [k for k in kind if isinstance(k, str)]
    return []


def _tuple_items(prefix: list[Any]) -> Any:
    """`prefixItems` (a Python tuple) → one `items` schema: the positions are kept by validation on
    our side; the model sees the union of item types."""
    unique: list[Any] = []
    for sub in prefix:
        if sub not in unique:
            unique.append(sub)
    if len(unique) == 1:
        return unique[0]
    return {"anyOf": unique}


# -------------------------------------------------------------------------------------- openai strict


def is_nullable(node: Schema, root: Schema | None = None) -> bool:
    """Whether `node` admits null (following local `$ref`s into `root` when given)."""
    if "null" in _types(node) or node.get("nullable") is True:
        return True
    members: list[Any] = node.get("anyOf") or node.get("oneOf") or []
    if any(isinstance(m, dict) and is_nullable(m, root) for m in members):
        return True
    if root is not None and isinstance(node.get("$ref"), str):
        try:
            target = _resolve(root, node["$ref"])
        except ValueError:
            return False
        if target is not node and is_nullable(target):
            return True
    return None in node.get("enum", [object()]) or ("const" in node and node["const"] is None)


def _nullable(node: Schema) -> Schema:
    """`node` or null: how strict mode spells an optional property (all properties are required)."""
    if is_nullable(node):
        return node
    if "anyOf" in node:
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    kind = node.get("type")
    plain = "enum" not in node and "const" not in node and "$ref" not in node
    if isinstance(kind, str) and plain:
        return {**node, "type": [kind, "null"]}
    if isinstance(kind, list) and plain:
        return {**node, "type": [*kind, "null"]}
    outer: Schema = {}
    inner = dict(node)
    if "description" in inner:
        outer["description"] = inner.pop("description")
    return {"anyOf": [inner, {"type": "null"}], **outer}


def _openai_strict(root: Schema) -> Schema:
    defs_root = root

    def visit(node: Any, path: Path) -> Schema:
        if not isinstance(node, dict):
            raise ValueError(f"strict mode: {_where(path)} is not a schema object ({node!r})")
        node = dict(node)
        # A `$ref` with siblings is not allowed: inline the target under the siblings.
        while "$ref" in node and len(node) > 1:
            rest = {k: v for k, v in node.items() if k != "$ref"}
            node = {**_resolve(defs_root, node["$ref"]), **rest}
        if "$ref" in node:
            return {"$ref": node["$ref"]}
        if "oneOf" in node:
            if "anyOf" in node:
                raise ValueError(f"strict mode: {_where(path)} has both oneOf and anyOf")
            node["anyOf"] = node.pop("oneOf")
        if "allOf" in node:
            node = _merge_all_of(node, defs_root, path)
            return visit(node, path)
        if "prefixItems" in node and "items" not in node:
            node["items"] = _tuple_items(node["prefixItems"])
        types = _types(node)
        if "object" in types or "properties" in node:
            extra = node.get("additionalProperties")
            if "properties" not in node or extra not in (None, False, {}):
                raise ValueError(
                    f"strict mode cannot express {_where(path)}: an object with free-form keys "
                    "(dict[str, X] or dict); use a model with named fields, or strict=False"
                )
            originally = set(node.get("required", []))
            properties: Schema = {}
            for name, sub in node["properties"].items():
                compiled = visit(sub, (*path, "properties", name))
                properties[name] = compiled if name in originally else _nullable(compiled)
            node["properties"] = properties
            node["required"] = list(properties)
            node["additionalProperties"] = False
        if "array" in types:
            items = node.get("items")
            if not isinstance(items, dict) or not items:
                raise ValueError(
                    f"strict mode cannot express {_where(path)}: an array without a typed `items` "
                    "schema (use list[T])"
                )
            node["items"] = visit(items, (*path, "items"))
        if "anyOf" in node:
            node["anyOf"] = [visit(m, (*path, "anyOf", str(i))) for i, m in enumerate(node["anyOf"])]
        if not types and not any(k in node for k in ("anyOf", "enum", "const")):
            raise ValueError(
                f"strict mode cannot express {_where(path)}: a value without a type (Any or an "
                "unannotated parameter); annotate it, or use strict=False"
            )
        if node.get("format") not in (None, *OPENAI_STRICT_FORMATS):
            del node["format"]
        return {k: v for k, v in node.items() if k in _OPENAI_STRICT_KEYS}

    result = visit({k: v for k, v in root.items() if k not in ("$defs", "definitions")}, ())
    for key in ("$defs", "definitions"):
        if isinstance(root.get(key), dict):
            result[key] = {name: visit(sub, (key, name)) for name, sub in root[key].items()}
    return result


# --------------------------------------------------------------------------------------------- gemini


def _gemini(root: Schema) -> Schema:
    try:
        inlined = _inline_refs(root)
    except _Recursive as exc:
        raise ValueError(f"gemini cannot express this tool schema: {exc}") from None

    def visit(node: Any, path: Path) -> Schema:
        if not isinstance(node, dict):
            raise ValueError(f"gemini: {_where(path)} is not a schema object ({node!r})")
        node = dict(node)
        if "oneOf" in node:
            node["anyOf"] = [*node.get("anyOf", []), *node.pop("oneOf")]
        if "allOf" in node:
            node = _merge_all_of(node, inlined, path)
        if "const" in node:
            node["enum"] = [node.pop("const")]
        if "prefixItems" in node and "items" not in node:
            node["items"] = _tuple_items(node["prefixItems"])
        nullable = bool(node.get("nullable"))
        types = _types(node)
        if "null" in types:
            nullable = True
            types = [t for t in types if t != "null"]
        if "anyOf" in node:
            real = []
            for i, member in enumerate(node.pop("anyOf")):
                if isinstance(member, dict) and _types(member) == ["null"]:
                    nullable = True
                    continue
                compiled = visit(member, (*path, "anyOf", str(i)))
                if compiled.pop("nullable", False):
                    nullable = True
                real.append(compiled)
            if len(real) == 1:
                for key, value in real[0].items():
                    node.setdefault(key, value)
                types = _types(node)
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


# --------------------------------------------------------------------------------------------- bedrock


def _bedrock(root: Schema, *, strict: bool) -> Schema:
    try:
        schema = _inline_refs(root)
    except _Recursive:
        schema = root
    if not strict:
        return schema

    def close(node: Any, path: Path) -> Any:
        if not isinstance(node, dict):
            return copy.deepcopy(node)
        out = _map_children(node, close, path)
        if ("object" in _types(out) or "properties" in out) and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out

    result: Schema = close(schema, ())
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
    if extra is None or extra is False or "object" not in (_types(node) or ["object"]):
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


def walk_schemas(schema: Any) -> Iterable[Schema]:
    """Every schema node in `schema`, itself first (for checks over a compiled schema)."""
    if not isinstance(schema, dict):
        return
    yield schema
    for key, value in schema.items():
        if key in _MAP_KEYS and isinstance(value, dict):
            for sub in value.values():
                yield from walk_schemas(sub)
        elif key in _ONE_KEYS and isinstance(value, dict):
            yield from walk_schemas(value)
        elif (key in _LIST_KEYS or key == "items") and isinstance(value, list):
            for sub in value:
                yield from walk_schemas(sub)
