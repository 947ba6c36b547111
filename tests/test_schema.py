"""The schema builder: signatures and models → neutral JSON Schema + argument validator."""

from __future__ import annotations

import enum
import inspect
import subprocess
import sys
from typing import Annotated, Any

import pydantic
import pytest
from pydantic import BaseModel, Field

from support.schema_corpus import CASES, MODEL_TOOLS, Address, Case, Order, Reminder, get_weather
from toolwire.tools.definition import ToolDefinition, function_to_tool_definition, tool
from toolwire.tools.dialects import compile_schema
from toolwire.tools.schema import function_schema, model_schema

IDS = [case.id for case in CASES]


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_neutral_schema(case: Case) -> None:
    spec = function_schema(case.func)
    assert spec.parameters == case.expected
    assert spec.description == case.description
    assert spec.name == (case.name or case.func.__name__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_validator_accepts_valid_arguments(case: Case) -> None:
    kwargs = function_schema(case.func).validator.validate(dict(case.valid))
    if case.expected_kwargs is not None:
        assert kwargs == case.expected_kwargs
        for key, value in case.expected_kwargs.items():
            assert type(kwargs[key]) is type(value), key
    # The keyword arguments really fit the callable.
    inspect.signature(case.func).bind(**kwargs)


@pytest.mark.parametrize("case", [c for c in CASES if c.invalid], ids=[c.id for c in CASES if c.invalid])
def test_validator_rejects_invalid_arguments(case: Case) -> None:
    validator = function_schema(case.func).validator
    for bad in case.invalid:
        with pytest.raises(pydantic.ValidationError):
            validator.validate(dict(bad))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_title_noise(case: Case) -> None:
    from toolwire.tools.dialects import walk_schemas

    params = function_schema(case.func).parameters
    assert all("title" not in node for node in walk_schemas(params))
    assert "additionalProperties" not in params


def test_validator_model_is_built_once() -> None:
    validator = function_schema(get_weather).validator
    first = validator.model
    validator.validate({"city": "a"})
    validator.validate({"city": "b"})
    assert validator.model is first


def test_validator_does_not_mutate_input() -> None:
    args: dict[str, Any] = {"city": "Paris"}
    function_schema(get_weather).validator.validate(args)
    assert args == {"city": "Paris"}


def test_validation_error_names_the_field() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        function_schema(get_weather).validator.validate({"city": "Paris", "unit": "kelvin"})
    assert "unit" in str(info.value)


def test_parameter_names_that_shadow_basemodel_attributes() -> None:
    def lookup(json: str, schema: int = 1, model_config: bool = False, copy: str | None = None) -> None:
        """Look up."""

    spec = function_schema(lookup)
    assert list(spec.parameters["properties"]) == ["json", "schema", "model_config", "copy"]
    assert spec.validator.validate({"json": "x", "copy": "y"}) == {
        "json": "x",
        "schema": 1,
        "model_config": False,
        "copy": "y",
    }


def test_name_and_description_overrides() -> None:
    spec = function_schema(get_weather, name="weather", description="Custom.")
    assert (spec.name, spec.description) == ("weather", "Custom.")


def test_only_var_args_is_rejected() -> None:
    def anything(*args: Any, **kwargs: Any) -> None:
        """Anything."""

    with pytest.raises(TypeError, match=r"\*args/\*\*kwargs"):
        function_schema(anything)


def test_positional_only_is_rejected() -> None:
    def pos(a: int, /) -> None:
        """Positional."""

    with pytest.raises(TypeError, match="positional-only"):
        function_schema(pos)


def test_var_args_ignored_when_named_parameters_exist() -> None:
    def tagged(name: str, *rest: str) -> None:
        """Tagged."""

    assert function_schema(tagged).parameters == {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
    }


class Opaque:
    pass


def test_unresolvable_forward_reference_names_the_tool() -> None:
    def later(x: NotDefinedAnywhere) -> None:  # type: ignore[name-defined]  # noqa: F821
        """Refers to a missing name."""

    with pytest.raises(TypeError, match="later"):
        function_schema(later)


def test_unsupported_type_raises_type_error_naming_the_tool() -> None:
    def takes(o: Opaque) -> None:
        """Takes an opaque object."""

    with pytest.raises(TypeError, match="takes"):
        function_schema(takes)


def test_annotated_field_description_wins_over_docstring() -> None:
    def f(x: Annotated[int, Field(description="from Field")]) -> None:
        """F.

        Args:
            x: from docstring
        """

    assert function_schema(f).parameters["properties"]["x"]["description"] == "from Field"


def test_property_named_title_survives() -> None:
    def publish(title: str, body: str) -> None:
        """Publish a post."""

    assert function_schema(publish).parameters["properties"]["title"] == {"type": "string"}


def test_sphinx_docstring_with_types() -> None:
    def f(a: int, b: str) -> None:
        """Do f.

        :param a: The a.
        :type a: int
        :param b: The b.
        :type b: str
        :returns: nothing
        """

    props = function_schema(f).parameters["properties"]
    assert props["a"]["description"] == "The a."
    assert props["b"]["description"] == "The b."


def test_google_multiline_parameter_description() -> None:
    def f(a: int) -> None:
        """Summary line.

        Args:
            a: First line
                continues here.

        Returns:
            Nothing.
        """

    spec = function_schema(f)
    assert spec.description == "Summary line."
    assert spec.parameters["properties"]["a"]["description"] == "First line\ncontinues here."


# ------------------------------------------------------------------------------------ model tools


def test_model_schema_description_and_fields() -> None:
    spec = model_schema(Reminder)
    assert spec.name == "Reminder"
    assert spec.description == "Create a reminder."
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "What to remind the user about."},
            "minutes": {"type": "integer", "description": "Minutes from now."},
        },
        "required": ["text", "minutes"],
    }


def test_model_tool_validator_returns_fields_and_instance() -> None:
    spec = model_schema(Order)
    args = {
        "customer_id": "c1",
        "items": [{"sku": "x", "quantity": 1}],
        "shipping": {"street": "1 Main", "city": "X"},
    }
    kwargs = spec.validator.validate(args)
    assert kwargs["shipping"] == Address(street="1 Main", city="X")
    assert kwargs["express"] is False
    assert set(kwargs) == set(Order.model_fields)
    instance = spec.validator.validate_model(args)
    assert isinstance(instance, Order)
    assert Order(**kwargs) == instance
    with pytest.raises(pydantic.ValidationError):
        spec.validator.validate({"customer_id": "c1"})


def test_model_schema_rejects_non_models() -> None:
    with pytest.raises(TypeError):
        model_schema(dict)  # type: ignore[arg-type]


def test_coerce_model_class_is_cached() -> None:
    first = ToolDefinition.coerce(Order)
    assert first is ToolDefinition.coerce(Order)
    assert first.name == "Order"
    assert first.description == "Place an order for a customer."
    assert first.parameters["required"] == ["customer_id", "items", "shipping"]
    assert first.validate_arguments(
        {"customer_id": "c", "items": [], "shipping": {"street": "s", "city": "c"}}
    )["shipping"] == Address(street="s", city="c")


# ------------------------------------------------------------------------- through definition.py


def test_tool_decorator_keeps_function_callable() -> None:
    @tool
    def add(a: int, b: int = 2) -> int:
        """Add numbers.

        Args:
            a: First.
            b: Second.
        """
        return a + b

    assert add(1) == 3
    definition = ToolDefinition.coerce(add)
    assert definition.name == "add"
    assert definition.parameters["properties"]["a"] == {"type": "integer", "description": "First."}
    assert definition.validate_arguments({"a": "4"}) == {"a": 4, "b": 2}


def test_tool_decorator_with_options() -> None:
    @tool(name="remove", strict=True, requires_approval=True)
    def delete_file(path: str, force: bool = False) -> None:
        """Delete a file."""

    definition = ToolDefinition.coerce(delete_file)
    assert (definition.name, definition.strict, definition.requires_approval) == ("remove", True, True)
    compiled = definition.parameters_for("openai")
    assert compiled["additionalProperties"] is False
    assert compiled["required"] == ["path", "force"]
    assert compiled["properties"]["force"] == {"type": ["boolean", "null"]}


async def test_async_function_tool() -> None:
    from support.schema_corpus import fetch_url

    definition = function_to_tool_definition(fetch_url)
    kwargs = definition.validate_arguments({"url": "u"})
    assert await fetch_url(**kwargs) == "u"


def test_function_to_tool_definition_caches_plain_conversions() -> None:
    first = function_to_tool_definition(get_weather)
    assert function_to_tool_definition(get_weather) is first
    assert function_to_tool_definition(get_weather, name="w") is not first
    assert first.to_dict()["name"] == "get_weather"


def test_parameters_for_caches_per_dialect() -> None:
    definition = function_to_tool_definition(get_weather)
    assert definition.parameters_for("gemini") is definition.parameters_for("gemini")
    assert definition.parameters_for("gemini") != definition.parameters_for("openai", strict=True)


class Size(enum.Enum):
    S = "s"
    L = "l"


def test_enum_default_is_a_member() -> None:
    def order(size: Size = Size.S) -> None:
        """Order."""

    assert function_schema(order).validator.validate({}) == {"size": Size.S}


# --------------------------------------------------------------------------- OpenAI SDK cross-check


def _semantic(schema: dict[str, Any]) -> dict[str, Any]:
    """Only what constrains the model's output: types, properties, required, additionalProperties,
    anyOf, items, enum, refs (titles, descriptions and defaults dropped)."""
    keep = ("type", "required", "additionalProperties", "enum", "const", "$ref")
    out: dict[str, Any] = {k: schema[k] for k in keep if k in schema}
    if "properties" in schema:
        out["properties"] = {k: _semantic(v) for k, v in schema["properties"].items()}
    if isinstance(schema.get("items"), dict):
        out["items"] = _semantic(schema["items"])
    if "anyOf" in schema:
        out["anyOf"] = [_semantic(s) for s in schema["anyOf"]]
    for key in ("$defs", "definitions"):
        if key in schema:
            out[key] = {k: _semantic(v) for k, v in schema[key].items()}
    return out


class Lookup(BaseModel):
    """Find a customer."""

    email: str
    name: str | None = None
    tags: list[str]
    address: Address


class Flags(BaseModel):
    """Fields with non-null defaults."""

    verbose: bool = False
    level: int = 3


@pytest.mark.parametrize("model", [Lookup, Order, Address, *MODEL_TOOLS], ids=lambda m: m.__name__)
def test_openai_strict_matches_sdk_pydantic_function_tool(model: type[BaseModel]) -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.pydantic_function_tool(model)["function"]
    ours = ToolDefinition.coerce(model)
    assert sdk["name"] == ours.name
    assert sdk["strict"] is True
    ours_compiled = compile_schema(ours.parameters, "openai", strict=True)
    expected = _semantic(sdk["parameters"])
    actual = _semantic(ours_compiled)
    # Deliberate difference: a field with a non-None default is optional in Python, so strict mode
    # makes it nullable and our validator turns a null back into the default (docs/tools.md). The SDK
    # keeps the plain type plus a `default` the API ignores. Compare after undoing that one change.
    _undo_nullable_for_defaults(actual, ours.parameters, ours_compiled)
    assert actual == expected


def _undo_nullable_for_defaults(
    semantic: dict[str, Any], neutral: dict[str, Any], compiled: dict[str, Any]
) -> None:
    def fix(sem: dict[str, Any], src: dict[str, Any]) -> None:
        required = set(src.get("required", []))
        for name, prop in src.get("properties", {}).items():
            target = sem["properties"][name]
            if name not in required and prop.get("default", None) is not None:
                if isinstance(target.get("type"), list):
                    target["type"] = next(t for t in target["type"] if t != "null")
                elif "anyOf" in target:
                    inner = [s for s in target.pop("anyOf") if s != {"type": "null"}]
                    target.update(inner[0])

    fix(semantic, neutral)
    for name, sub in neutral.get("$defs", {}).items():
        fix(semantic["$defs"][name], sub)


def test_openai_strict_differs_from_sdk_only_by_nullable_defaults() -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.pydantic_function_tool(Flags)["function"]["parameters"]
    ours = compile_schema(model_schema(Flags).parameters, "openai", strict=True)
    assert sdk["properties"]["verbose"]["type"] == "boolean"
    assert ours["properties"]["verbose"]["type"] == ["boolean", "null"]
    assert "default" not in ours["properties"]["verbose"]
    assert ours["required"] == sdk["required"] == ["verbose", "level"]


def test_strict_null_for_optional_argument_means_default() -> None:
    definition = function_to_tool_definition(get_weather)
    compiled = definition.parameters_for("openai", strict=True)
    assert compiled["required"] == ["city", "unit"]
    assert {"type": "null"} in compiled["properties"]["unit"]["anyOf"]
    from support.schema_corpus import Unit

    assert definition.validate_arguments({"city": "x", "unit": None}) == {"city": "x", "unit": Unit.CELSIUS}
    flags = model_schema(Flags).validator
    assert flags.validate({"verbose": None, "level": None}) == {"verbose": False, "level": 3}
    # A parameter whose type admits null keeps the explicit null.
    lookup = model_schema(Lookup).validator
    address = {"street": "s", "city": "c"}
    assert lookup.validate({"email": "e", "name": None, "tags": [], "address": address})["name"] is None


def test_import_toolwire_does_not_import_pydantic() -> None:
    code = "import sys, toolwire; assert 'pydantic' not in sys.modules, 'pydantic imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


class _TreeNode(BaseModel):
    """A node of a tree."""

    value: int
    children: list[_TreeNode] = []


def test_self_referencing_model_keeps_its_root_fields() -> None:
    # Pydantic gives a self-referencing model as a bare root `$ref` into `$defs`; the tool's
    # parameters must still be the model's own fields, with `$defs` kept for the nested refs.
    definition = ToolDefinition.coerce(_TreeNode)
    assert set(definition.parameters["properties"]) == {"value", "children"}
    assert definition.parameters["required"] == ["value"]
    assert definition.parameters["properties"]["children"]["items"] == {"$ref": "#/$defs/_TreeNode"}
    assert "_TreeNode" in definition.parameters["$defs"]
