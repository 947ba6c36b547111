"""`toolwire.tools._jsonschema`: the arguments of a tool without a Pydantic validator (built by hand,
or from a tool dict) are checked against its JSON Schema by the `jsonschema` library; the shortcut
for the common shape and the dropping of strict mode's nulls must give that library's verdicts
(Draft 2020-12, `format` as an annotation)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from support.schema_corpus import CASES
from toolwire import AbstractLLM, ToolCall, ToolDefinition, execute_tool_calls
from toolwire.tools._jsonschema import SchemaValidator
from toolwire.tools.schema import function_schema

DEFS = {"$defs": {"Unit": {"enum": ["c", "f"], "type": "string"}}}
TABLE: list[tuple[dict[str, Any], list[Any]]] = [
    (  # the common shape, which takes the shortcut (SchemaValidator._fast)
        {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        [
            {"city": "x"},
            {"city": "x", "unit": "f"},
            {"city": "x", "unit": "k"},
            {"unit": "c"},
            {"city": 1},
            {"city": "x", "other": 1},
        ],
    ),
    (
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "number"}},
            "required": ["a"],
        },
        [
            {"a": 1},
            {"a": 1.0},
            {"a": 1.5},
            {"a": True},
            {"a": "1"},
            {},
            {"a": 1, "b": False},
            {"a": 1, "b": 2.5},
        ],
    ),
    (
        {
            "type": "object",
            "properties": {"u": {"$ref": "#/$defs/Unit"}},
            "additionalProperties": False,
            **DEFS,
        },
        [{"u": "c"}, {"u": "k"}, {"u": "c", "x": 1}, {}],
    ),
    (
        {
            "type": "object",
            "properties": {
                "t": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True}
            },
        },
        [{"t": ["a"]}, {"t": []}, {"t": ["a", "a"]}, {"t": ["a", 1]}, {"t": "a"}],
    ),
    (
        {
            "type": "object",
            "properties": {
                "v": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "w": {"oneOf": [{"type": "integer"}, {"type": "number"}]},
            },
        },
        [{"v": None}, {"v": "x"}, {"v": 1}, {"w": 1}, {"w": 1.5}],
    ),
    (
        {
            "type": "object",
            "properties": {
                "s": {"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-z]+$"},
                "n": {"type": "number", "minimum": 0, "exclusiveMaximum": 10, "multipleOf": 0.5},
                "k": {"const": 1},
                "e": {"enum": [1, "one", None, [1]]},
            },
        },
        [
            {"s": "ab"},
            {"s": "a"},
            {"s": "abcd"},
            {"s": "AB"},
            {"n": 0},
            {"n": 10},
            {"n": 9.5},
            {"n": 0.3},
            {"n": -1},
            {"k": 1},
            {"k": 1.0},
            {"k": True},
            {"e": None},
            {"e": [1]},
            {"e": True},
            {"e": "two"},
        ],
    ),
    (
        {
            "type": "object",
            "properties": {
                "m": {"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 2},
                "p": {
                    "type": "object",
                    "patternProperties": {"^x_": {"type": "string"}},
                    "additionalProperties": False,
                },
            },
        },
        [
            {"m": {"a": 1}},
            {"m": {"a": "1"}},
            {"m": {"a": 1, "b": 2, "c": 3}},
            {"p": {"x_a": "s"}},
            {"p": {"x_a": 1}},
            {"p": {"y": "s"}},
        ],
    ),
    (
        {
            "type": "object",
            "properties": {
                "t": {
                    "type": "array",
                    "prefixItems": [{"type": "string"}, {"type": "integer"}],
                    "items": False,
                }
            },
            "allOf": [{"not": {"required": ["forbidden"]}}],
            "if": {"properties": {"kind": {"const": "a"}}, "required": ["kind"]},
            "then": {"required": ["t"]},
        },
        [
            {"t": ["a", 1]},
            {"t": ["a", "b"]},
            {"t": ["a", 1, 2]},
            {"forbidden": 1},
            {"kind": "a"},
            {"kind": "b"},
        ],
    ),
    (
        {
            "type": "object",
            "properties": {"d": {"type": "string", "format": "date-time"}, "x": True, "y": False},
        },
        [{"d": "not a date"}, {"x": [1]}, {"y": 1}, {}],
    ),
]


def _oracle(schema: dict[str, Any], value: Any) -> bool:
    return jsonschema.Draft202012Validator(schema).is_valid(value)


def _ours(schema: dict[str, Any], value: dict[str, Any]) -> bool:
    try:
        SchemaValidator(schema).validate(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("schema", "values"), TABLE)
def test_the_verdicts_are_jsonschemas(schema: dict[str, Any], values: list[Any]) -> None:
    seen = set()
    for value in values:
        verdict = _ours(schema, value)
        assert verdict == _oracle(schema, value), (schema, value)
        seen.add(verdict)
    assert seen == {True, False}  # every row holds both kinds


def _json(value: Any) -> Any | None:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None


def test_the_schema_corpus_gives_the_same_verdicts() -> None:
    compared = 0
    for case in CASES:
        schema = function_schema(case.func).parameters
        for arguments in [case.valid, *case.invalid]:
            value = _json(arguments)
            if value is None:
                continue
            assert _ours(schema, value) == _oracle(schema, value), (case.id, value)
            compared += 1
    assert compared >= 40


def test_nulls_for_optional_properties_are_dropped_as_strict_mode_sends_them() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": ["string", "null"]}},
        "required": ["a"],
    }
    validator = SchemaValidator(schema)
    assert validator.validate({"a": 1, "b": None, "c": None}) == {"a": 1, "c": None}
    with pytest.raises(ValueError, match=r"a: None is not of type 'integer'"):
        validator.validate({"a": None})


def test_a_hand_built_tool_is_validated_before_it_runs() -> None:
    # API.md: `ToolDefinition` (`name`, `description`, `parameters`, `function`); the executor
    # validates the arguments against the schema first
    ran: list[Any] = []

    def record(**kwargs: Any) -> str:
        ran.append(kwargs)
        return "ok"

    parameters = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    definition = ToolDefinition(name="record", description="d", parameters=parameters, function=record)
    calls = [
        ToolCall("1", "record", {"city": 7}),
        ToolCall("2", "record", {}),
        ToolCall("3", "record", {"city": "x"}),
    ]
    results = execute_tool_calls(calls, [definition])
    assert ran == [{"city": "x"}]
    assert results[0].error is not None and "city: 7 is not of type 'string'" in results[0].error
    assert results[1].error is not None and "(arguments): 'city' is a required property" in results[1].error
    assert results[2].output == "ok"


def test_a_tool_dict_gives_arguments_error_when_the_response_is_read() -> None:
    import httpx2

    call = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 3}'}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    body = {
        "id": "x",
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
    }
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=body))
    llm = AbstractLLM.create(
        "openai", api_key="k", model="gpt-4o", http_client=httpx2.Client(transport=transport)
    )
    tool = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
    }
    [parsed] = llm.generate("hi", tools=[tool]).tool_calls or []
    assert parsed.arguments == {"q": 3}
    assert (
        parsed.arguments_error
        == "arguments do not match the tool's schema: q: 3 is not of type 'string'"
    )


def test_the_common_shape_takes_the_shortcut_and_others_do_not() -> None:
    simple, with_ref = TABLE[0][0], TABLE[2][0]
    assert SchemaValidator(simple)._fast is not None
    assert SchemaValidator(with_ref)._fast is None


@pytest.mark.parametrize("value", ["c", "f", "k", "C", 1, 1.5, True, ["c"], {"c": 1}])
def test_a_string_enum_takes_the_shortcut_and_agrees_with_jsonschema(value: Any) -> None:
    schema = {"type": "object", "properties": {"unit": {"type": "string", "enum": ["c", "f"]}}}
    validator = SchemaValidator(schema)
    assert validator._fast is not None
    oracle = jsonschema.Draft202012Validator(schema).is_valid({"unit": value})
    assert validator._fast.passes({"unit": value}) == oracle
    if oracle:
        assert validator.validate({"unit": value}) == {"unit": value}
    else:
        with pytest.raises(ValueError, match=r"^unit: "):
            validator.validate({"unit": value})
