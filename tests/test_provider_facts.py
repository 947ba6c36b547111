"""A provider's facts live on its class: one registration gives a plugin the registry, aliases,
`standardize_tool_response`, the CLI's `schema --dialect` and its tracing name."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import pytest

from toolwire import AbstractLLM, ToolDefinition, standardize_tool_response, tracing
from toolwire.errors import ConfigurationError
from toolwire.providers import registry
from toolwire.providers.base import BaseProvider
from toolwire.types import GenerateResponse, ToolCall, ToolCallRequest

BUILT_INS = ["anthropic", "azure_openai", "gemini", "mistral", "ollama", "openai", "openai_compatible"]


def test_every_built_in_declares_its_facts() -> None:
    for name in BUILT_INS:
        cls: Any = registry.provider_class(name)
        assert cls.name == name
        assert isinstance(cls.aliases, tuple)
        assert cls.tool_dialect
        definition = ToolDefinition(
            name="f", description="d", parameters={"type": "object", "properties": {"x": {"type": "string"}}}
        )
        [payload] = cls.tools_payload([definition])
        assert "f" in json.dumps(payload)


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("azure", "azure_openai"),
        ("google", "gemini"),
        ("vllm", "openai_compatible"),
        ("llamacpp", "openai_compatible"),
    ],
)
def test_aliases_come_from_the_classes(alias: str, name: str) -> None:
    assert registry.canonical_name(alias) == name
    assert registry.provider_class(alias) is registry.provider_class(name)


def test_unknown_names_list_providers_and_aliases() -> None:
    with pytest.raises(ConfigurationError, match=r"known providers: .*openai.*aliases: .*azure"):
        AbstractLLM.create("opneai")


class _EchoProvider(BaseProvider):
    """A throwaway plugin: everything it offers is declared on the class."""

    name: ClassVar[str] = "echo_plugin"
    aliases: ClassVar[tuple[str, ...]] = ("echo",)
    otel_provider_name: ClassVar[str] = "example.echo"
    requires_api_key = False
    default_base_url = "http://127.0.0.1:9"

    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        calls = [ToolCall.from_raw(c["id"], c["tool"], json.dumps(c["args"])) for c in payload["calls"]]
        return GenerateResponse(content=payload.get("text"), tool_calls=ToolCallRequest(calls) or None)

    @classmethod
    def tools_payload(cls, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        return [{"tool": t.name, "schema": t.parameters_for("json_schema")} for t in tools]


@pytest.fixture
def echo_registered() -> Iterator[None]:
    registry.register_provider("echo_plugin", _EchoProvider)
    try:
        yield
    finally:
        registry._registered.pop("echo_plugin", None)
        registry._aliases = None


@pytest.mark.usefixtures("echo_registered")
def test_one_registration_gives_a_plugin_everything() -> None:
    llm = AbstractLLM.create("echo", model="m")
    assert isinstance(llm, _EchoProvider)
    assert tracing.provider_name(llm) == "example.echo"
    calls = standardize_tool_response({"calls": [{"id": "1", "tool": "t", "args": {"a": 1}}]}, "echo")
    assert [(c.id, c.name, c.arguments) for c in calls] == [("1", "t", {"a": 1})]

    pytest.importorskip("typer")
    from typer.testing import CliRunner

    from toolwire.cli.app import build_app

    command = ["schema", "toolwire.demo:get_weather", "--dialect", "echo_plugin"]
    result = CliRunner().invoke(build_app(), command)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["tool"] == "get_weather"


def test_register_response_parser_still_works_with_a_warning() -> None:
    from toolwire.tools import standardize

    def parse(payload: Any, *, provider: str) -> GenerateResponse:
        return GenerateResponse(content=f"{provider}:{payload['x']}")

    with pytest.warns(DeprecationWarning):
        standardize.register_response_parser("legacy_llm", parse)
    try:
        assert standardize_tool_response({"x": 1}, "legacy_llm").content == "legacy_llm:1"
    finally:
        standardize._LEGACY_PARSERS.pop("legacy_llm")


def test_a_provider_without_a_parser_says_so() -> None:
    class _Bare(BaseProvider):
        name: ClassVar[str] = "bare_plugin"

    registry.register_provider("bare_plugin", _Bare)
    try:
        with pytest.raises(ConfigurationError, match="no standalone response parser"):
            standardize_tool_response({}, "bare_plugin")
    finally:
        registry._registered.pop("bare_plugin", None)
        registry._aliases = None
