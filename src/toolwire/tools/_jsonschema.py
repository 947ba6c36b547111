"""Arguments checked against a tool's own JSON Schema, for tools that have no Pydantic validator: a
`ToolDefinition` built by hand (`name`, `parameters`, `function`) or from a tool dict. API.md: the
arguments are "validated against the schema first", and `ToolCall.arguments_error` says why they
fail it.

The validation keywords of JSON Schema 2020-12 that tool schemas use (type, enum, const,
properties / required / additionalProperties / patternProperties, items / prefixItems, the
combinators, $ref into the document, the numeric, string and size bounds), with its rules: 2.0 is an
integer, `true` is not `1`. `format` is an annotation (2020-12's default), unknown keywords are
ignored, so a schema this does not understand is never a reason to refuse a call. Core toolwire
has no `jsonschema` dependency; tests/test_jsonschema_check.py holds this to that library's verdicts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeGuard

__all__ = ["JSONSchemaValidator"]

_MAX_ERRORS = 5
_Error = tuple[tuple[Any, ...], str]  # (where in the arguments, what is wrong)


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`, `1` is `1.0`, containers compare member by member."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and bool(a == b)


class JSONSchemaValidator:
    """`validate(arguments)` returns the arguments (optional properties that are `null` where the
    schema does not admit null dropped, as OpenAI strict mode sends them) or raises `ValueError`
    naming each problem (`path: message`)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = dict(schema)
        required = self.schema.get("required")
        properties = self.schema.get("properties")
        required_names = set(required) if isinstance(required, list) else set()
        self._null_means_absent = frozenset(
            name
            for name, sub in (properties.items() if isinstance(properties, dict) else ())
            if name not in required_names and not self._admits_null(sub)
        )
        self._fast = _FastCheck.of(self.schema)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        cleaned = {k: v for k, v in arguments.items() if not (v is None and k in self._null_means_absent)}
        if self._fast is not None and self._fast.passes(cleaned):
            return cleaned  # certainly valid; anything else gets the full walk and its messages
        problems = []
        for path, message in self._errors(self.schema, cleaned, ()):
            problems.append(f"{'.'.join(map(str, path)) or '(arguments)'}: {message}")
            if len(problems) == _MAX_ERRORS:
                break
        if problems:
            raise ValueError("; ".join(problems))
        return cleaned

    # -- the walk ----------------------------------------------------------------------------------
    def _resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return True  # a remote reference cannot be fetched here: not a reason to refuse
        node: Any = self.schema
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return True
        return node

    def _admits_null(self, schema: Any, depth: int = 0) -> bool:
        return depth > 32 or not any(self._errors(schema, None, (), depth))

    def _valid(self, schema: Any, value: Any, depth: int) -> bool:
        return not any(self._errors(schema, value, (), depth))

    def _errors(self, schema: Any, value: Any, path: tuple[Any, ...], depth: int = 0) -> Iterator[_Error]:
        if schema is False:
            yield path, "no value is allowed here"
            return
        if not isinstance(schema, dict) or depth > 64:
            return  # `true`, or a node that is not a schema: anything goes
        if "$ref" in schema and isinstance(schema["$ref"], str):
            yield from self._errors(self._resolve(schema["$ref"]), value, path, depth + 1)
        yield from self._type_errors(schema, value, path)
        yield from self._combinator_errors(schema, value, path, depth)
        if isinstance(value, dict):
            yield from self._object_errors(schema, value, path, depth)
        elif isinstance(value, list):
            yield from self._array_errors(schema, value, path, depth)
        elif isinstance(value, str):
            yield from self._string_errors(schema, value, path)
        elif _is_number(value):
            yield from self._number_errors(schema, value, path)

    def _type_errors(self, schema: dict[str, Any], value: Any, path: tuple[Any, ...]) -> Iterator[_Error]:
        kind = schema.get("type")
        kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else None
        if kinds is not None and not any(_TYPES.get(k, lambda v: True)(value) for k in kinds):
            yield path, f"expected {' or '.join(map(str, kinds))}, got {_describe(value)}"
        options = schema.get("enum")
        if isinstance(options, list) and not any(_equal(value, option) for option in options):
            yield path, f"must be one of {schema['enum']!r}, got {_describe(value)}"
        if "const" in schema and not _equal(value, schema["const"]):
            yield path, f"must be {schema['const']!r}, got {_describe(value)}"

    def _combinator_errors(
        self, schema: dict[str, Any], value: Any, path: tuple[Any, ...], depth: int
    ) -> Iterator[_Error]:
        for sub in schema.get("allOf") or ():
            yield from self._errors(sub, value, path, depth + 1)
        options = schema.get("anyOf")
        if isinstance(options, list) and not any(self._valid(o, value, depth + 1) for o in options):
            yield path, f"matches none of the allowed shapes (anyOf), got {_describe(value)}"
        options = schema.get("oneOf")
        if isinstance(options, list):
            matched = sum(self._valid(o, value, depth + 1) for o in options)
            if matched != 1:
                yield path, f"must match exactly one of the allowed shapes (oneOf), matches {matched}"
        if "not" in schema and self._valid(schema["not"], value, depth + 1):
            yield path, "matches a shape that is not allowed (not)"
        if "if" in schema:
            branch = "then" if self._valid(schema["if"], value, depth + 1) else "else"
            if branch in schema:
                yield from self._errors(schema[branch], value, path, depth + 1)

    def _object_errors(
        self, schema: dict[str, Any], value: dict[str, Any], path: tuple[Any, ...], depth: int
    ) -> Iterator[_Error]:
        properties = _mapping(schema.get("properties"))
        for name in schema.get("required") or ():
            if name not in value:
                yield (*path, name), "required property missing"
        patterns = _mapping(schema.get("patternProperties"))
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            matched = False
            if name in properties:
                matched = True
                yield from self._errors(properties[name], item, (*path, name), depth + 1)
            for pattern, sub in patterns.items():
                if re.search(pattern, name):
                    matched = True
                    yield from self._errors(sub, item, (*path, name), depth + 1)
            if not matched:
                if extra is False:
                    yield (*path, name), "unexpected property (the schema allows no others)"
                else:
                    yield from self._errors(extra, item, (*path, name), depth + 1)
        yield from _size_errors(schema, len(value), path, "minProperties", "maxProperties", "properties")

    def _array_errors(
        self, schema: dict[str, Any], value: list[Any], path: tuple[Any, ...], depth: int
    ) -> Iterator[_Error]:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # draft 7's tuple form
            prefix, items = items, schema.get("additionalItems")
        prefix = prefix if isinstance(prefix, list) else []
        for index, item in enumerate(value):
            sub = prefix[index] if index < len(prefix) else items
            if sub is not None:
                yield from self._errors(sub, item, (*path, index), depth + 1)
        yield from _size_errors(schema, len(value), path, "minItems", "maxItems", "items")
        if schema.get("uniqueItems") is True:
            for i, item in enumerate(value):
                if any(_equal(item, other) for other in value[:i]):
                    yield path, "items must be unique"
                    break

    def _string_errors(self, schema: dict[str, Any], value: str, path: tuple[Any, ...]) -> Iterator[_Error]:
        yield from _size_errors(schema, len(value), path, "minLength", "maxLength", "characters")
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                found = re.search(pattern, value)
            except re.error:
                return  # a pattern Python's engine does not read (ECMA-only syntax): not checked
            if found is None:
                yield path, f"does not match the pattern {pattern!r}"

    def _number_errors(self, schema: dict[str, Any], value: float, path: tuple[Any, ...]) -> Iterator[_Error]:
        for keyword, sign in _BOUNDS:
            bound = schema.get(keyword)
            if _is_number(bound) and not _holds(value, sign, bound):
                yield path, f"must be {sign} {bound}, got {value}"
        step = schema.get("multipleOf")
        if _is_number(step) and step > 0:
            quotient = value / step
            if not (math.isfinite(quotient) and math.isclose(quotient, round(quotient), abs_tol=1e-9)):
                yield path, f"must be a multiple of {step}, got {value}"


# the keywords the shortcut understands, at the root and in each property
_FAST_ROOT = frozenset(
    {"type", "properties", "required", "additionalProperties", "title", "description", "$defs"}
)
_FAST_PROPERTY = frozenset({"type", "title", "description", "default", "examples", "enum"})


class _FastCheck:
    """A per-call shortcut for the common shape (an object of typed properties, as tool schemas
    mostly are): `passes` is True only for arguments the full walk certainly accepts."""

    __slots__ = ("closed", "enums", "required", "types")

    def __init__(
        self,
        types: dict[str, Callable[[Any], bool]],
        enums: dict[str, list[Any]],
        required: tuple[str, ...],
        closed: bool,
    ) -> None:
        self.types, self.enums, self.required, self.closed = types, enums, required, closed

    @classmethod
    def of(cls, schema: Mapping[str, Any]) -> _FastCheck | None:
        if not _FAST_ROOT.issuperset(schema) or schema.get("type") != "object":
            return None
        extra, required = schema.get("additionalProperties", True), schema.get("required", [])
        properties = schema.get("properties", {})
        if not isinstance(extra, bool) or not isinstance(required, list) or not isinstance(properties, dict):
            return None
        types: dict[str, Callable[[Any], bool]] = {}
        enums: dict[str, list[Any]] = {}
        for name, sub in properties.items():
            if not isinstance(sub, dict) or not _FAST_PROPERTY.issuperset(sub):
                return None
            check = _TYPES.get(sub["type"]) if isinstance(sub.get("type"), str) else None
            options = sub.get("enum")
            if check is None or (options is not None and not _plain_strings(options)):
                return None
            types[name] = check
            if options is not None:
                enums[name] = options
        return cls(types, enums, tuple(str(n) for n in required), closed=not extra)

    def passes(self, arguments: dict[str, Any]) -> bool:
        if not all(name in arguments for name in self.required):
            return False
        for name, value in arguments.items():
            check = self.types.get(name)
            if check is None:
                if self.closed:
                    return False
            elif not check(value) or (name in self.enums and value not in self.enums[name]):
                return False
        return True


def _plain_strings(options: Any) -> bool:
    # string options only: `value in options` is then JSON equality (True == 1 would not be)
    return isinstance(options, list) and all(isinstance(o, str) for o in options)


_BOUNDS = (("minimum", ">="), ("maximum", "<="), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<"))


def _holds(value: float, sign: str, bound: float) -> bool:
    if sign == ">=":
        return value >= bound
    if sign == "<=":
        return value <= bound
    return value > bound if sign == ">" else value < bound


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _size_errors(
    schema: dict[str, Any], size: int, path: tuple[Any, ...], low: str, high: str, unit: str
) -> Iterator[_Error]:
    minimum, maximum = schema.get(low), schema.get(high)
    if isinstance(minimum, int) and size < minimum:
        yield path, f"must have at least {minimum} {unit}, has {size}"
    if isinstance(maximum, int) and size > maximum:
        yield path, f"must have at most {maximum} {unit}, has {size}"


def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    text = repr(value)
    return f"{kind.get(type(value), 'null' if value is None else type(value).__name__)} {text[:60]}"
