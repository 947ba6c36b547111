"""The MCP argument validator's shortcut for simple schemas (`_FastCheck`) never accepts what the
full JSON Schema 2020-12 validator refuses, and `SchemaValidator.validate` answers exactly as the
full validator does: same cleaned arguments, same error messages."""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolwire.tools._jsonschema import SchemaValidator, _FastCheck

TYPES = ["string", "integer", "number", "boolean", "null", "object", "array"]

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner, max_size=2),
    max_leaves=4,
)
names = st.sampled_from(["a", "b", "c", "d"])


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    properties = {
        name: {"type": draw(st.sampled_from(TYPES)), "title": name.upper()}
        for name in draw(st.lists(names, max_size=3, unique=True))
    }
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    required = draw(st.lists(names, max_size=3, unique=True))
    if required:
        schema["required"] = required
    extra = draw(st.sampled_from([None, True, False]))
    if extra is not None:
        schema["additionalProperties"] = extra
    return schema


def outcome(validator: SchemaValidator, arguments: dict[str, Any]) -> Any:
    try:
        return ("ok", validator.validate(arguments))
    except ValueError as exc:
        return ("error", str(exc))


@settings(max_examples=400, deadline=None)
@given(schemas(), st.dictionaries(names, values, max_size=4))
def test_shortcut_agrees_with_the_full_validator(schema: dict[str, Any], arguments: dict[str, Any]) -> None:
    fast = _FastCheck.of(schema)
    assert fast is not None
    full = jsonschema.Draft202012Validator(schema)
    if fast.passes(arguments):
        assert full.is_valid(arguments)
    with_shortcut = SchemaValidator(schema)
    without = SchemaValidator(schema)
    without._fast = None
    assert outcome(with_shortcut, arguments) == outcome(without, arguments)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}},
        {"type": "object", "properties": {"a": {"type": ["string", "null"]}}},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/x"}}, "$defs": {"x": {"type": "string"}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "properties": {"a": {"enum": [1, 2]}}},
        {"type": "object", "properties": {"a": {"type": "string", "format": "email"}}},
    ],
)
def test_anything_beyond_the_simple_shape_takes_the_full_validator(schema: dict[str, Any]) -> None:
    assert _FastCheck.of(schema) is None


def test_integral_float_is_still_an_integer() -> None:
    """2.0 is an integer for JSON Schema 2020-12: the shortcut declines it, the full validator accepts it."""
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert SchemaValidator(schema).validate({"n": 2.0}) == {"n": 2.0}
    with pytest.raises(ValueError, match="is not of type 'integer'"):
        SchemaValidator(schema).validate({"n": True})
