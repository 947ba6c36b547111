"""A tool's arguments checked against its own JSON Schema before the call, for tools that have no
Pydantic validator: MCP tools, a `ToolDefinition` built by hand (`name`, `parameters`, `function`) and
tool dicts. API.md: the arguments are "validated against the schema first", and
`ToolCall.arguments_error` says why they fail it.

The check is the `jsonschema` library's (the reference implementation of JSON Schema 2020-12),
imported and built on the first call that needs it, so creating a tool stays cheap and `import
toolwire` does not load it. The common shape (an object of typed properties, as SDKs generate from a
function's signature) takes a shortcut that only ever answers "certainly valid".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .dialects import is_nullable

__all__ = ["SchemaValidator"]

_MAX_ERRORS = 5


class SchemaValidator:
    """Validates a model's arguments against a tool's JSON Schema (2020-12 unless `$schema` says
    otherwise); `validate` returns the arguments or raises `ValueError` naming each problem
    (`path: message`).

    OpenAI strict mode sends `null` for an optional property it has no value for; such nulls are
    dropped when the schema does not admit null there (the tool then sees the property as absent,
    as it would from any other provider).
    """

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = dict(schema)
        required = self.schema.get("required")
        properties = self.schema.get("properties")
        required_names = set(required) if isinstance(required, list) else set()
        self._null_means_absent = frozenset(
            name
            for name, sub in (properties.items() if isinstance(properties, dict) else ())
            if name not in required_names and isinstance(sub, dict) and not is_nullable(sub, self.schema)
        )
        self._fast = _FastCheck.of(self.schema)
        self._validator: Any = None

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        cleaned = {k: v for k, v in arguments.items() if not (v is None and k in self._null_means_absent)}
        if self._fast is not None and self._fast.passes(cleaned):
            return cleaned  # certainly valid; anything else gets the full validator and its messages
        errors = sorted(self._full().iter_errors(cleaned), key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            parts = []
            for error in errors[:_MAX_ERRORS]:
                where = ".".join(str(p) for p in error.absolute_path) or "(arguments)"
                parts.append(f"{where}: {error.message}")
            raise ValueError("; ".join(parts))
        return cleaned

    def _full(self) -> Any:
        if self._validator is None:
            import jsonschema  # type: ignore[import-untyped]

            cls = jsonschema.validators.validator_for(self.schema, default=jsonschema.Draft202012Validator)
            try:
                cls.check_schema(self.schema)
            except jsonschema.SchemaError:
                cls = jsonschema.Draft202012Validator  # validate what can be validated
            self._validator = cls(self.schema)
        return self._validator


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
_PROPERTY_KEYS = frozenset({"type", "title", "description", "default", "examples", "enum"})


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
            if "enum" in sub:
                check = _string_choice(sub["enum"]) if check is _TYPE_CHECKS["string"] else None
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


def _string_choice(options: Any) -> Callable[[Any], bool] | None:
    """The check for a string property with an `enum` of strings (a Literal or an Enum in the
    signature); other enums are left to the full validator (JSON equality differs from Python's:
    `1`, `1.0` and `true` are not all equal there)."""
    if not isinstance(options, list) or not all(isinstance(option, str) for option in options):
        return None
    allowed = frozenset(options)
    return lambda v: isinstance(v, str) and v in allowed

