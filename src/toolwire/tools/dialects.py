"""Rewrite a neutral JSON Schema (a tool's parameters) into what one provider accepts.

`compile_schema(parameters, dialect, strict=...)` is pure: it never mutates its input and returns a
new dict. The dialects here are the ones several providers share, named by what they are:

- ``"openai"`` (OpenAI, Azure OpenAI, OpenAI-compatible servers, Ollama, the Responses API): JSON
  Schema as is; with ``strict=True`` the Structured Outputs subset (every object closed, every
  property required, optional properties made nullable, unsupported keywords removed).
- ``"json_schema"`` (Anthropic, Gemini's ``parametersJsonSchema``): JSON Schema as written
  (``$ref``/``$defs`` allowed); only the root is normalized.
- ``"json_schema_inlined"`` (Mistral): JSON Schema with references inlined (a recursive schema is
  sent as written).

A provider's name is a dialect too: it stands for the dialect its class declares (`tool_dialect`),
so ``"anthropic"`` is ``"json_schema"``, ``"mistral"`` is ``"json_schema_inlined"``, ``"azure_openai"``
is ``"openai"``. A dialect only one provider speaks lives with that provider, as its class's
`schema_compiler`: ``"gemini"`` (the OpenAPI 3.0 subset, `providers/gemini_schema.py`) and
``"bedrock"`` (`providers/bedrock.py`). `register_dialect` adds a named dialect of a plugin's own.

No third-party import here: this runs on every request that carries tools.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "DIALECTS",
    "available_dialects",
    "compile_schema",
    "dialect_compiler",
    "is_nullable",
    "register_dialect",
    "strict_compatible",
    "strip_titles",
    "walk_schemas",
]

# The dialect names the schema corpus is checked against (the provider names stand for their
# classes' dialects, see the module docstring); `available_dialects()` lists all.
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


class _Recursive(ValueError):
    pass


SchemaCompiler = Callable[[Schema, bool], Schema]


def compile_schema(parameters: Schema, dialect: str, *, strict: bool = False) -> Schema:
    """Return a new schema for `dialect`: ``openai``, ``json_schema``, ``json_schema_inlined``, one
    registered with `register_dialect`, or a provider's name (``anthropic``, ``gemini``, ``mistral``,
    ``bedrock``, ...) for the dialect its class declares.

    Raises `ValueError` for an unknown dialect, for a schema the dialect cannot express (a recursive
    schema for Gemini; an open `dict[str, X]`, an untyped value or an untyped array in OpenAI strict
    mode), or when `parameters` is not an object schema.
    """
    return dialect_compiler(dialect)(parameters, strict)


def dialect_compiler(dialect: str) -> SchemaCompiler:
    """The compiler `compile_schema` uses for `dialect` (`ValueError` when none is known)."""
    compiler = _COMPILERS.get(dialect) or _provider_compiler(dialect)
    if compiler is None:
        known = ", ".join(available_dialects())
        raise ValueError(f"unknown schema dialect {dialect!r}; known dialects: {known}")
    return compiler


def register_dialect(name: str, compiler: SchemaCompiler) -> None:
    """Teach `compile_schema` a dialect: `compiler(parameters, strict)` returns a new schema or
    raises `ValueError` when the dialect cannot express it. (A provider's own dialect is better
    declared on its class as `schema_compiler`: then its name finds it.)"""
    _COMPILERS[name] = compiler


def available_dialects() -> list[str]:
    """Every dialect `compile_schema` knows: the built-in names (`DIALECTS`), the shared and the
    registered dialects in registration order, then every other provider's name."""
    from ..providers.registry import provider_classes

    names = list(dict.fromkeys([*DIALECTS, *_COMPILERS]))
    for name, cls in provider_classes().items():
        if name not in names and _class_compiler(cls) is not None:
            names.append(name)
    return names


def _provider_compiler(name: str) -> SchemaCompiler | None:
    """The dialect a provider's class declares, when `name` is a provider's name or alias."""
    from ..errors import ConfigurationError
    from ..providers.registry import provider_class

    try:
        cls = provider_class(name)
    except (ConfigurationError, ImportError):
        return None
    return _class_compiler(cls)


def _class_compiler(cls: Any) -> SchemaCompiler | None:
    own = getattr(cls, "schema_compiler", None)
    if callable(own):
        return own  # type: ignore[no-any-return]
    dialect = getattr(cls, "tool_dialect", None)
    return _COMPILERS.get(dialect) if isinstance(dialect, str) else None


def _plain(parameters: Schema, strict: bool) -> Schema:
    # Anthropic, and Gemini's `parametersJsonSchema`, take JSON Schema as written.
    return _root(parameters)


def _openai(parameters: Schema, strict: bool) -> Schema:
    root = _root(parameters)
    return _openai_strict(root) if strict else root


def _inlined(parameters: Schema, strict: bool) -> Schema:
    root = _root(parameters)
    try:
        return _inline_refs(root)
    except _Recursive:
        # Mistral accepts JSON Schema references; a recursive model is sent as written.
        return root


# the dialects several providers share (a provider's own lives on its class: `schema_compiler`)
_COMPILERS: dict[str, SchemaCompiler] = {
    "openai": _openai,
    "json_schema": _plain,
    "json_schema_inlined": _inlined,
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


# -- building blocks for a provider's own dialect (providers/gemini_schema.py, bedrock.py, plugins);
# importable by name, outside `__all__` (the reference documents the functions above) ------------
RecursiveSchemaError = _Recursive  # a `ValueError`: a `$ref` reached again while being expanded
root_schema = _root  # the root normalized: upper-case type names lowered, `type: object`, `properties`
inline_refs = _inline_refs  # every local `$ref` replaced by its target; `$defs` removed
map_children = _map_children  # rebuild a node, visiting each direct subschema
merge_all_of = _merge_all_of  # fold `allOf` into the node (object parts merged)
schema_types = _types  # the type names of a node
tuple_items = _tuple_items  # `prefixItems` as one `items` schema
where = _where  # a path as a property path, for error messages
