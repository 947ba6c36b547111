"""Dialect passes: every corpus schema and every recorded tool schema, compiled for every dialect and
checked against each provider's documented rules (and Gemini's own SDK model)."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from support.schema_corpus import CASES, MODEL_TOOLS, Case
from toolwire.tools.definition import ToolDefinition
from toolwire.tools.dialects import (
    DIALECTS,
    OPENAI_STRICT_FORMATS,
    available_dialects,
    compile_schema,
    strict_compatible,
    walk_schemas,
)
from toolwire.tools.schema import function_schema, model_schema

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "recorded"
IDS = [case.id for case in CASES]

# ------------------------------------------------------------------------------------------ checkers

# Written from OpenAI's Structured Outputs "Supported schemas" page, independently of dialects.py.
OPENAI_STRICT_ALLOWED = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "$ref",
    "$defs", "definitions", "description", "title", "pattern", "format", "multipleOf", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "minItems", "maxItems",
}  # fmt: skip


def check_openai_strict(schema: dict[str, Any]) -> None:
    assert schema["type"] == "object", "the root must be an object"
    assert "anyOf" not in schema, "the root must not be anyOf"
    for node in walk_schemas(schema):
        unsupported = set(node) - OPENAI_STRICT_ALLOWED
        assert not unsupported, f"unsupported keywords {unsupported} in {node}"
        if "$ref" in node:
            assert set(node) == {"$ref"}, f"$ref with siblings: {node}"
            continue
        types = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
        assert node.get("type") or "anyOf" in node or "enum" in node or "const" in node, f"untyped {node}"
        if "object" in types or "properties" in node:
            assert node.get("additionalProperties") is False, f"open object {node}"
            assert "properties" in node
            assert sorted(node.get("required", [])) == sorted(node["properties"]), f"not all required {node}"
        if "array" in types:
            assert isinstance(node.get("items"), dict) and node["items"], f"array without items {node}"
        if "format" in node:
            assert node["format"] in OPENAI_STRICT_FORMATS


GEMINI_FORBIDDEN = {
    "$ref", "$defs", "definitions", "additionalProperties", "title", "default", "const", "oneOf", "allOf",
    "$schema", "$id", "examples", "prefixItems", "uniqueItems", "exclusiveMinimum", "exclusiveMaximum",
}  # fmt: skip


def check_gemini(schema: dict[str, Any], name: str = "tool") -> None:
    if schema == {}:
        return
    from google.genai import types

    assert schema["type"] == "object" and schema["properties"]
    for node in walk_schemas(schema):
        forbidden = set(node) & GEMINI_FORBIDDEN
        assert not forbidden, f"forbidden keywords {forbidden} in {node}"
        assert not isinstance(node.get("type"), list), f"type list in {node}"
        assert node.get("type") != "null"
        assert "type" in node or "anyOf" in node, f"untyped {node}"
        if "enum" in node:
            assert node["type"] == "string" and all(isinstance(v, str) for v in node["enum"]), node
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), f"array without items {node}"
        for member in node.get("anyOf", []):
            assert member.get("type") != "null", "null members must become nullable"
    # The SDK's own model (extra="forbid") rejects any field Gemini does not know.
    parsed = types.Schema.model_validate(schema)
    types.FunctionDeclaration(name=name, description="d", parameters=parsed)


def check_mistral(schema: dict[str, Any]) -> None:
    assert schema["type"] == "object"
    serialized = json.dumps(schema)
    if "$defs" not in schema:
        assert '"$ref"' not in serialized


def check_dialect(dialect: str, compiled: dict[str, Any], strict: bool) -> None:
    if dialect == "gemini":
        check_gemini(compiled)
    elif dialect == "mistral":
        check_mistral(compiled)
    elif dialect == "openai" and strict:
        check_openai_strict(compiled)
    else:
        assert compiled["type"] == "object" and "properties" in compiled


# ------------------------------------------------------------------------------------ corpus x dialects


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_corpus_compiles_for_every_dialect(case: Case, dialect: str) -> None:
    neutral = function_schema(case.func).parameters
    before = copy.deepcopy(neutral)
    compiled = compile_schema(neutral, dialect)
    assert neutral == before, "compile_schema mutated its input"
    assert compiled is not neutral
    check_dialect(dialect, compiled, strict=False)
    if dialect == "mistral":
        jsonschema.Draft202012Validator(compiled).validate(case.valid)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_corpus_openai_strict(case: Case) -> None:
    neutral = function_schema(case.func).parameters
    before = copy.deepcopy(neutral)
    assert strict_compatible(neutral) is case.strict_ok
    if not case.strict_ok:
        with pytest.raises(ValueError, match="strict mode cannot express"):
            compile_schema(neutral, "openai", strict=True)
        return
    compiled = compile_schema(neutral, "openai", strict=True)
    assert neutral == before
    check_openai_strict(compiled)
    # What a strict model sends for "not given" (null) is accepted by the schema and by our validator,
    # which turns it back into the Python default.
    optional = set(neutral["properties"]) - set(neutral.get("required", []))
    sent = {**{name: None for name in optional}, **case.valid}
    # Only flat arguments: nested objects in the samples rely on their own defaults, which strict
    # mode would also require, and extra **kwargs cannot be sent to a closed strict object.
    flat = not any(isinstance(v, (dict, list)) and "{" in json.dumps(v) for v in case.valid.values())
    if flat and set(case.valid) <= set(compiled["properties"]):
        jsonschema.Draft202012Validator(compiled).validate(sent)
    function_schema(case.func).validator.validate(sent)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_neutral_schema_agrees_with_validator(case: Case) -> None:
    neutral = function_schema(case.func).parameters
    jsonschema.Draft202012Validator.check_schema(neutral)
    jsonschema.Draft202012Validator(neutral).validate(case.valid)


@pytest.mark.parametrize("model", MODEL_TOOLS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_model_tools_compile(model: Any, dialect: str) -> None:
    neutral = model_schema(model).parameters
    for strict in (False, True) if dialect == "openai" else (False,):
        check_dialect(dialect, compile_schema(neutral, dialect, strict=strict), strict)


# ------------------------------------------------------------------------------------ recorded tools


def _request_bodies(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    found = []
    for interaction in data.get("interactions") or data.get("http_interactions") or []:
        request = interaction.get("request", {})
        if "parsed_body" in request:
            found.append(request["parsed_body"])
            continue
        body = request.get("body")
        if isinstance(body, dict):
            body = body.get("string")
        if isinstance(body, bytes):
            try:
                body = gzip.decompress(body)
            except OSError:
                pass
            body = body.decode()
        if body:
            try:
                found.append(json.loads(body))
            except ValueError:
                pass
    return found


def _recorded_tools() -> list[tuple[str, dict[str, Any]]]:
    tools: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in sorted(FIXTURES.glob("*/*.yaml")):
        for body in _request_bodies(path):
            for entry in body.get("tools") or [] if isinstance(body, dict) else []:
                declarations = entry.get("functionDeclarations") or entry.get("function_declarations")
                specs = declarations if declarations else [entry.get("function", entry)]
                for spec in specs:
                    params = next(
                        (
                            spec[k]
                            for k in (
                                "parameters",
                                "input_schema",
                                "parameters_json_schema",
                                "parametersJsonSchema",
                            )
                            if isinstance(spec.get(k), dict)
                        ),
                        None,
                    )
                    if params is None or "name" not in spec:
                        continue
                    key = json.dumps(params, sort_keys=True)
                    tools.setdefault(key, (f"{path.parent.name}/{path.stem}:{spec['name']}", params))
    return sorted(tools.values())


RECORDED = _recorded_tools()


def test_recorded_fixtures_provide_tools_from_every_provider() -> None:
    providers = {label.split("/")[0] for label, _ in RECORDED}
    assert {"openai", "anthropic", "gemini", "mistral", "azure_openai"} <= providers
    assert len(RECORDED) >= 10


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("label", "params"), RECORDED, ids=[label for label, _ in RECORDED])
def test_recorded_tools_compile(label: str, params: dict[str, Any], dialect: str) -> None:
    before = copy.deepcopy(params)
    check_dialect(dialect, compile_schema(params, dialect), strict=False)
    if dialect == "openai" and strict_compatible(params):
        check_openai_strict(compile_schema(params, "openai", strict=True))
    assert params == before


def test_recorded_tool_dicts_coerce() -> None:
    for label, params in RECORDED:
        definition = ToolDefinition.coerce({"name": label.split(":")[-1], "parameters": params})
        assert definition.parameters_for("gemini") == compile_schema(params, "gemini")


# ------------------------------------------------------------------------------------- targeted rules


def test_unknown_dialect_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="openai, anthropic, gemini, mistral"):
        compile_schema({"type": "object", "properties": {}}, "cohere")


def test_non_object_root_is_rejected() -> None:
    with pytest.raises(ValueError, match="object schema"):
        compile_schema({"type": "string"}, "openai")


def test_root_type_and_properties_are_ensured() -> None:
    for dialect in ("openai", "anthropic", "mistral"):
        assert compile_schema({}, dialect) == {"type": "object", "properties": {}}


def test_gemini_no_parameters_means_omit() -> None:
    assert compile_schema({"type": "object", "properties": {}}, "gemini") == {}
    assert compile_schema({"type": "OBJECT", "properties": {}, "additionalProperties": False}, "gemini") == {}


RECURSIVE: dict[str, Any] = {
    "type": "object",
    "properties": {"tree": {"$ref": "#/$defs/Node"}},
    "required": ["tree"],
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["value"],
        }
    },
}


def test_gemini_rejects_recursive_schema_clearly() -> None:
    with pytest.raises(ValueError, match=r"gemini cannot express.*recursive.*#/\$defs/Node"):
        compile_schema(RECURSIVE, "gemini")


def test_recursive_schema_kept_for_mistral_and_anthropic_and_openai_strict() -> None:
    assert compile_schema(RECURSIVE, "mistral") == RECURSIVE
    assert compile_schema(RECURSIVE, "anthropic") == RECURSIVE
    strict = compile_schema(RECURSIVE, "openai", strict=True)
    check_openai_strict(strict)
    assert strict["$defs"]["Node"]["properties"]["children"] == {
        "type": ["array", "null"],
        "items": {"$ref": "#/$defs/Node"},
    }


def test_gemini_rewrites() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"const": "x", "title": "A"},
            "b": {"type": ["string", "null"], "default": None},
            "c": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "d": {"type": "integer", "enum": [1, 2]},
            "e": {"allOf": [{"$ref": "#/$defs/E"}], "description": "an e"},
            "f": {"anyOf": [{"type": "integer"}, {"type": "null"}], "description": "maybe int"},
            "g": {"type": "string", "format": "email", "examples": ["a@b.c"]},
            "h": {"type": "object", "additionalProperties": {"type": "integer"}},
            "i": {"type": ["integer", "string"]},
            "j": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}]},
        },
        "required": ["a", "zz"],
        "$defs": {"E": {"type": "object", "properties": {"x": {"type": "boolean"}}}},
    }
    out = compile_schema(schema, "gemini")
    assert out["properties"] == {
        "a": {"type": "string", "enum": ["x"]},
        "b": {"type": "string", "nullable": True},
        "c": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "d": {"type": "integer", "description": "Allowed values: 1, 2."},
        "e": {"type": "object", "properties": {"x": {"type": "boolean"}}, "description": "an e"},
        "f": {"type": "integer", "description": "maybe int", "nullable": True},
        "g": {"type": "string"},
        "h": {
            "type": "object",
            "description": "Keys are free-form strings; each value matches the JSON Schema "
            '{"type": "integer"}.',
        },
        "i": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "j": {"type": "array", "items": {"type": "string"}},
    }
    assert out["required"] == ["a"]
    check_gemini(out)


def test_openai_strict_rewrites() -> None:
    schema = {
        "type": "object",
        "properties": {
            "addr": {"$ref": "#/$defs/Addr", "description": "where"},
            "kind": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "n": {"type": "integer", "default": 3, "minimum": 1},
            "s": {"type": "string", "minLength": 2, "format": "uri"},
            "when": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        },
        "required": ["addr", "kind"],
        "$defs": {"Addr": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }
    before = copy.deepcopy(schema)
    out = compile_schema(schema, "openai", strict=True)
    assert schema == before
    assert out == {
        "type": "object",
        "properties": {
            "addr": {
                "type": "object",
                "properties": {"city": {"type": ["string", "null"]}},
                "required": ["city"],
                "additionalProperties": False,
                "description": "where",
            },
            "kind": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            "n": {"type": ["integer", "null"], "minimum": 1},
            "s": {"type": ["string", "null"]},
            "when": {"type": ["string", "null"], "format": "date-time"},
            "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        },
        "required": ["addr", "kind", "n", "s", "when", "tags"],
        "additionalProperties": False,
        "$defs": {
            "Addr": {
                "type": "object",
                "properties": {"city": {"type": ["string", "null"]}},
                "required": ["city"],
                "additionalProperties": False,
            }
        },
    }
    check_openai_strict(out)


def test_openai_strict_enum_optional_is_wrapped_with_description_outside() -> None:
    schema = {
        "type": "object",
        "properties": {"u": {"type": "string", "enum": ["a", "b"], "description": "unit"}},
    }
    out = compile_schema(schema, "openai", strict=True)
    assert out["properties"]["u"] == {
        "anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}],
        "description": "unit",
    }


@pytest.mark.parametrize(
    ("prop", "fragment"),
    [
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "free-form keys"),
        ({"type": "object"}, "free-form keys"),
        ({"type": "array"}, "array without a typed"),
        ({"description": "anything"}, "without a type"),
        ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "conflicting 'type'"),
    ],
)
def test_openai_strict_refuses_inexpressible_property(prop: dict[str, Any], fragment: str) -> None:
    schema = {"type": "object", "properties": {"bad_prop": prop}, "required": ["bad_prop"]}
    with pytest.raises(ValueError, match=fragment) as info:
        compile_schema(schema, "openai", strict=True)
    assert "bad_prop" in str(info.value)
    assert strict_compatible(schema) is False
    compile_schema(schema, "openai")  # non-strict passes it through


def test_openai_non_strict_is_a_pass_through() -> None:
    neutral = function_schema(CASES[0].func).parameters
    assert compile_schema(neutral, "openai") == neutral


def test_anthropic_keeps_refs_and_defs() -> None:
    case = next(c for c in CASES if c.id == "deeply_nested_models")
    neutral = function_schema(case.func).parameters
    assert compile_schema(neutral, "anthropic") == neutral


def test_mistral_inlines_refs_with_sibling_description() -> None:
    case = next(c for c in CASES if c.id == "dataclass_param")
    out = compile_schema(function_schema(case.func).parameters, "mistral")
    assert "$defs" not in out
    assert out["properties"]["location"]["description"] == "Where to search from."
    assert out["properties"]["location"]["properties"]["lat"] == {"type": "number"}


def test_upper_case_gemini_types_are_normalized() -> None:
    params = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}
    assert compile_schema(params, "openai", strict=True) == {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }


# -- where each dialect lives: shared ones here, a provider's own on its class -------------------

_NESTED = {
    "type": "object",
    "properties": {"a": {"$ref": "#/$defs/A"}, "n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}},
    "$defs": {"A": {"type": "object", "properties": {"x": {"type": "string", "format": "email"}}}},
}


def test_no_dialect_table_is_keyed_by_a_provider_name() -> None:
    from toolwire.tools import dialects

    assert set(dialects._COMPILERS) == {"openai", "json_schema", "json_schema_inlined"}


@pytest.mark.parametrize(
    ("provider", "shared"),
    [
        ("anthropic", "json_schema"),
        ("mistral", "json_schema_inlined"),
        ("azure_openai", "openai"),
        ("vllm", "openai"),
    ],
)
def test_a_provider_name_stands_for_the_dialect_its_class_declares(provider: str, shared: str) -> None:
    for strict in (False, True):
        assert compile_schema(_NESTED, provider, strict=strict) == compile_schema(
            _NESTED, shared, strict=strict
        )


def test_gemini_and_bedrock_dialects_live_on_their_classes() -> None:
    from toolwire.providers.bedrock import BedrockProvider, bedrock_schema
    from toolwire.providers.gemini import GeminiProvider
    from toolwire.providers.gemini_schema import gemini_schema
    from toolwire.tools.dialects import dialect_compiler

    assert GeminiProvider.schema_compiler is gemini_schema and dialect_compiler("gemini") is gemini_schema
    assert BedrockProvider.schema_compiler is bedrock_schema and dialect_compiler("bedrock") is bedrock_schema
    gemini = compile_schema(_NESTED, "gemini")
    assert gemini["properties"]["a"]["properties"]["x"] == {"type": "string"}  # no $ref, no email format
    assert gemini["properties"]["n"] == {"type": "integer", "nullable": True}
    assert compile_schema(_NESTED, "bedrock", strict=True)["properties"]["a"]["additionalProperties"] is False


def test_a_plugin_provider_brings_its_own_dialect_by_registering_once() -> None:
    from typing import ClassVar

    from toolwire.providers import registry
    from toolwire.providers.base import BaseProvider

    def upper(parameters: dict[str, Any], strict: bool) -> dict[str, Any]:
        return {"TYPE": "OBJECT", "strict": strict, "keys": sorted(parameters.get("properties", {}))}

    class _Shouting(BaseProvider):
        name: ClassVar[str] = "shouting_plugin"
        tool_dialect: ClassVar[str] = "shouting_plugin"
        schema_compiler = staticmethod(upper)

    registry.register_provider("shouting_plugin", _Shouting)
    try:
        assert compile_schema(_NESTED, "shouting_plugin", strict=True) == {
            "TYPE": "OBJECT",
            "strict": True,
            "keys": ["a", "n"],
        }
        assert "shouting_plugin" in available_dialects()
    finally:
        registry._registered.pop("shouting_plugin", None)
        registry._aliases = None
    with pytest.raises(ValueError, match="unknown schema dialect 'shouting_plugin'"):
        compile_schema(_NESTED, "shouting_plugin")
