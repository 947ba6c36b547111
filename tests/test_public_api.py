"""The public contract (../shared/API.md): names, import cost, factory behaviour, message coercion."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx2
import pytest

import toolwire
from toolwire import (
    AbstractLLM,
    Capability,
    ConfigurationError,
    GenerateResponse,
    Message,
    ToolCall,
    ToolCallRequest,
    ToolResult,
    UnsupportedCapabilityError,
)
from toolwire.providers.registry import register_provider

API_NAMES = [
    # creating providers and the interface
    "AbstractLLM",
    "AbstractLLMInterface",
    "BaseProvider",
    "Capability",
    "ResponseFormat",
    # responses and messages
    "GenerateResponse",
    "ToolCallRequest",
    "ToolCall",
    "Message",
    "ToolResult",
    # tools
    "ToolDefinition",
    "function_to_tool_definition",
    "tool",
    "standardize_tool_response",
    "execute_tool_calls",
    "aexecute_tool_calls",
    "Session",
    # errors
    "ToolwireError",
    "ConfigurationError",
    "UnsupportedCapabilityError",
    "ProviderError",
    "AuthenticationError",
    "RateLimitError",
    "ContentFilterError",
    "ContextLengthError",
    "ServerError",
    "ProviderTimeoutError",
    "ResponseParseError",
    "ToolExecutionError",
    "MaxTurnsExceeded",
    # Session's events, the newer sections (batch, images, MCP)
    "TextDelta",
    "ToolCallStarted",
    "ToolResultEvent",
    "TurnFinished",
    "SessionFinished",
    "batch",
    "Image",
    "mcp",
    "MCPToolset",
]


@pytest.mark.parametrize("name", API_NAMES)
def test_every_api_md_name_is_importable_from_the_top_level(name: str) -> None:
    assert name in toolwire.__all__
    assert getattr(toolwire, name) is not None


def test_all_is_sorted_and_resolvable() -> None:
    assert list(toolwire.__all__) == sorted(toolwire.__all__)
    for name in toolwire.__all__:
        getattr(toolwire, name)


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        toolwire.nope  # noqa: B018


def test_error_tree_matches_the_contract() -> None:
    from toolwire import errors

    assert issubclass(errors.UnsupportedCapabilityError, ValueError)
    for leaf in (
        errors.AuthenticationError,
        errors.RateLimitError,
        errors.ContentFilterError,
        errors.ContextLengthError,
        errors.ServerError,
        errors.ProviderTimeoutError,
    ):
        assert issubclass(leaf, errors.ProviderError)
    for direct in (
        errors.ConfigurationError,
        errors.UnsupportedCapabilityError,
        errors.ProviderError,
        errors.ResponseParseError,
        errors.ToolExecutionError,
        errors.MaxTurnsExceeded,
    ):
        assert issubclass(direct, errors.ToolwireError)
    err = errors.RateLimitError(
        "slow down", provider="openai", status_code=429, request_id="r1", retry_after=2.0
    )
    assert (err.provider, err.status_code, err.request_id, err.retry_after) == ("openai", 429, "r1", 2.0)


def _imported_modules(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_import_toolwire_stays_light() -> None:
    modules = _imported_modules("import toolwire")
    heavy = {
        "pydantic",
        "httpx2",
        "httpx",
        "openai",
        "anthropic",
        "google",
        "mistralai",
        "yaml",
        "typer",
        "rich",
    }
    assert not {m.split(".")[0] for m in modules} & heavy


def test_creating_a_provider_imports_no_sdk_and_no_other_provider() -> None:
    modules = _imported_modules(
        "import toolwire; toolwire.AbstractLLM.create('openai', api_key='k', model='m')"
    )
    roots = {m.split(".")[0] for m in modules}
    assert not roots & {"openai", "anthropic", "google", "mistralai"}
    assert "toolwire.providers.anthropic" not in modules
    assert "toolwire.providers.gemini" not in modules
    assert "pydantic" not in roots  # a call with dict tools needs no schema building


def test_unknown_provider_lists_known_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        AbstractLLM.create("nope")
    message = str(info.value)
    for known in ("azure_openai", "openai", "anthropic", "gemini", "mistral", "ollama", "openai_compatible"):
        assert known in message


def test_missing_key_names_the_parameter_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match=r"api_key=.*OPENAI_API_KEY"):
        AbstractLLM.create("openai", model="gpt-4o-mini")


def test_key_is_read_from_the_environment_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-1234567890abcd")
    llm = AbstractLLM.create("openai", model="gpt-4o-mini")
    assert "sk-from-env-1234567890abcd" not in repr(llm)
    assert "abcd" in repr(llm)


def test_unknown_option_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="temprature"):
        AbstractLLM.create("openai", api_key="k", model="m", temprature=0.2)


class _RecordingTransport(httpx2.MockTransport):
    def __init__(self) -> None:
        self.calls = 0
        super().__init__(self._handle)

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        return httpx2.Response(
            200, json={"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
        )


def test_registered_plugin_provider_is_created_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolwire.providers import registry
    from toolwire.providers.openai import OpenAICompatibleProvider

    # on a copy of the registry: "my_llm" must not reach the capabilities table of later tests
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))

    class MyProvider(OpenAICompatibleProvider):
        name = "my_llm"
        default_capabilities = frozenset({Capability.STREAMING})

    register_provider("my_llm", MyProvider)
    transport = _RecordingTransport()
    llm = AbstractLLM.create(
        "my_llm", base_url="http://127.0.0.1:1/v1", model="m", http_client=httpx2.Client(transport=transport)
    )
    assert isinstance(llm, MyProvider)
    assert "my_llm" in toolwire.available_providers()
    # no FUNCTION_CALLING: tools are refused before any request
    with pytest.raises(UnsupportedCapabilityError):
        llm.generate("hi", tools=[{"name": "f", "parameters": {"type": "object", "properties": {}}}])
    assert transport.calls == 0
    assert llm.generate("hi").content == "hi"
    assert transport.calls == 1


def test_entry_point_plugins_are_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata as metadata

    from toolwire.providers import registry

    class _EntryPoint:
        name = "entry_llm"
        value = "toolwire.providers.openai:OpenAICompatibleProvider"

    def fake_entry_points(*, group: str) -> list[Any]:
        assert group == "toolwire.providers"
        return [_EntryPoint()]

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    assert "entry_llm" in registry.available_providers()
    llm = AbstractLLM.create("entry_llm", base_url="http://127.0.0.1:1/v1", model="m")
    assert llm.name == "openai_compatible"


def test_capabilities_are_overridable_per_instance() -> None:
    llm = AbstractLLM.create("openai", api_key="k", model="o1-mini")
    assert not llm.supports_capability(Capability.FUNCTION_CALLING)
    llm.set_capability(Capability.FUNCTION_CALLING)
    assert llm.supports_capability(Capability.FUNCTION_CALLING)
    other = AbstractLLM.create("openai", api_key="k", model="gpt-4o", capability_overrides={"vision": False})
    assert Capability.VISION not in other.capabilities
    assert Capability.FUNCTION_CALLING in other.capabilities


def test_messages_accept_strings_dicts_and_openai_shapes() -> None:
    from toolwire.types import coerce_messages

    messages = coerce_messages(
        [
            {"role": "system", "content": "be brief"},
            "hello",
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        ]
    )
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[1].content == "hello"
    assert messages[2].tool_calls == [ToolCall("call_1", "f", {"x": 1}, '{"x": 1}')]
    assert messages[3].tool_results == [ToolResult("call_1", "", "42")]
    with pytest.raises(ValueError, match="role"):
        Message(role="robot")  # type: ignore[arg-type]


def test_malformed_arguments_are_never_silently_empty() -> None:
    call = ToolCall.from_raw("c1", "f", '{"city": "Par')
    assert call.arguments == {}
    assert call.raw_arguments == '{"city": "Par'
    assert call.arguments_error is not None and "not valid JSON" in call.arguments_error
    not_object = ToolCall.from_raw("c2", "f", "[1, 2]")
    assert not_object.arguments_error is not None and "JSON object" in not_object.arguments_error
    empty = ToolCall.from_raw("c3", "f", "")
    assert (empty.arguments, empty.arguments_error) == ({}, None)


def test_generate_response_to_message_keeps_every_call() -> None:
    calls = [ToolCall("a", "f", {"x": 1}), ToolCall("b", "g", {})]
    response = GenerateResponse(
        content=None, tool_calls=ToolCallRequest(calls), finish_reason="tool_calls", provider_data={"k": 1}
    )
    assert response.has_tool_calls()
    assert len(response.tool_calls or []) == 2
    message = response.to_message()
    assert message.role == "assistant"
    assert message.tool_calls == calls
    assert message.provider_data == {"k": 1}


def test_tool_result_serialization_is_predictable() -> None:
    from dataclasses import dataclass

    @dataclass
    class Point:
        x: int
        y: int

    assert ToolResult("c", "f", "plain").output_text() == "plain"
    assert ToolResult("c", "f", {"a": 1}).output_text() == '{"a": 1}'
    assert ToolResult("c", "f", Point(1, 2)).output_text() == '{"x": 1, "y": 2}'
    assert ToolResult("c", "f", None, error="Error: boom").output_text() == "Error: boom"
    assert not ToolResult("c", "f", None, error="x").success


def test_reasoning_content_of_an_openai_shaped_dict_is_kept() -> None:
    from toolwire.types import coerce_message

    message = coerce_message({"role": "assistant", "content": "", "reasoning_content": "thinking..."})
    # under the name of the Chat Completions servers that echo it (DeepSeek through openai_compatible)
    assert message.provider_data == {"openai_compatible": {"reasoning_content": "thinking..."}}


@pytest.mark.parametrize(
    ("name", "config", "expected"),
    [
        ("openai", {"api_key": "k", "model": "gpt-5-mini"}, "OpenAIResponsesProvider"),
        (
            "azure_openai",
            {"api_key": "k", "azure_endpoint": "https://x.openai.azure.com", "deployment": "gpt-5-mini"},
            "AzureOpenAIResponsesProvider",
        ),
        (
            "openai_compatible",
            {"base_url": "http://127.0.0.1:1/v1", "model": "m"},
            "OpenAICompatibleResponsesProvider",
        ),
    ],
)
def test_api_responses_selects_the_responses_wire_of_the_three_providers_api_md_names(
    name: str, config: dict[str, Any], expected: str
) -> None:
    llm = AbstractLLM.create(name, api="responses", **config)
    assert type(llm).__name__ == expected
    assert llm.name == name
    assert type(AbstractLLM.create(name, api="chat", **config)).__name__ != expected


def test_api_responses_is_refused_where_the_class_does_not_declare_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Mistral (a subclass of the OpenAI class) and a plugin subclass inherit `api_variants`; taking
    # it would swap in OpenAI's Responses class and send the caller's key to api.openai.com
    with pytest.raises(ConfigurationError, match=r"'mistral' has no api='responses'"):
        AbstractLLM.create("mistral", api_key="k", model="mistral-large-latest", api="responses")
    from toolwire.providers.openai import OpenAICompatibleProvider

    class MyServer(OpenAICompatibleProvider):
        name = "my_server"

    from toolwire.providers import registry

    monkeypatch.setattr(registry, "_registered", dict(registry._registered))  # the plugin stays here
    register_provider("my_server", MyServer)
    with pytest.raises(ConfigurationError, match="has no api='responses'"):
        AbstractLLM.create("my_server", base_url="http://127.0.0.1:1/v1", model="m", api="responses")
    with pytest.raises(ConfigurationError, match="supported: 'chat', 'responses'"):
        AbstractLLM.create("openai", api_key="k", model="m", api="realtime")


def test_the_newer_sections_import_paths() -> None:
    # API.md's code blocks, as written: `from toolwire import batch`, `from toolwire.mcp import
    # MCPToolset`, `from toolwire import Image`; the attribute path works without an import too
    from toolwire import Image, batch
    from toolwire.mcp import MCPToolset

    assert toolwire.mcp.MCPToolset is MCPToolset is toolwire.MCPToolset
    assert toolwire.batch is batch
    for name in ("run", "arun", "submit"):
        assert callable(getattr(batch, name))
    for name in ("refresh", "wait", "results"):  # `id` and `status` are set per job (test_batch_submit)
        assert callable(getattr(batch.Job, name))
    assert callable(Image.from_path) and callable(Image.from_url)


# API.md's section headings name a module: each section's names are importable from it too
SECTION_MODULES = {
    "toolwire.types": ["GenerateResponse", "ToolCallRequest", "ToolCall", "Message", "ToolResult"],
    "toolwire.tools": [
        "function_to_tool_definition",
        "tool",
        "ToolDefinition",
        "standardize_tool_response",
        "execute_tool_calls",
        "aexecute_tool_calls",
        "Session",
        "TextDelta",
        "ToolCallStarted",
        "ToolResultEvent",
        "TurnFinished",
        "SessionFinished",
    ],
    "toolwire.errors": [
        "ToolwireError",
        "ConfigurationError",
        "UnsupportedCapabilityError",
        "ProviderError",
        "AuthenticationError",
        "RateLimitError",
        "ContentFilterError",
        "ContextLengthError",
        "ServerError",
        "ProviderTimeoutError",
        "ResponseParseError",
        "ToolExecutionError",
        "MaxTurnsExceeded",
    ],
    "toolwire.batch": ["run", "arun", "submit"],
    "toolwire.mcp": ["MCPToolset"],
}


@pytest.mark.parametrize("module_name", sorted(SECTION_MODULES))
def test_each_section_s_names_are_importable_from_its_module(module_name: str) -> None:
    import importlib

    module = importlib.import_module(module_name)
    for name in SECTION_MODULES[module_name]:
        value = getattr(module, name)
        assert getattr(toolwire, name, value) is value, name  # the same object as the top level's
