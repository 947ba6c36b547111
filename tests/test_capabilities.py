"""The capabilities table (`toolwire.provider_capabilities`) and the ways to override it: per
instance (`capabilities=`, `capability_overrides=`, `set_capability`) and per model (a subclass's
`model_capability_rules`). A missing capability raises before any request leaves the process.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx2
import pytest
from pydantic import BaseModel

from toolwire.errors import UnsupportedCapabilityError
from toolwire.providers import registry
from toolwire.providers.mistral import MistralProvider
from toolwire.providers.registry import AbstractLLM, available_providers, provider_capabilities
from toolwire.types import Capability

# every built-in registry row (one per provider module) except the fallback combinator
BUILT_IN = sorted(name for name in registry._BUILTIN if name != "fallback")
# how this module creates each provider it checks instances of (a new provider's own tests folder
# covers its instances; the table test below covers every built-in row)
CONFIG: dict[str, dict[str, Any]] = {
    "openai": {"api_key": "k", "model": "gpt-4o"},
    "openai_compatible": {"base_url": "http://127.0.0.1:9/v1", "model": "local"},
    "ollama": {"model": "qwen2.5"},
    "azure_openai": {"api_key": "k", "azure_endpoint": "https://x.openai.azure.com", "deployment": "d"},
    "anthropic": {"api_key": "k", "model": "claude-sonnet-4-0"},
    "gemini": {"api_key": "k", "model": "gemini-2.5-flash"},
    "mistral": {"api_key": "k", "model": "mistral-large-latest"},
    "bedrock": {"api_key": "k", "region": "us-east-1", "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0"},  # noqa: E501
}
WEATHER = {"name": "get_weather", "description": "w", "parameters": {"type": "object", "properties": {}}}


def _no_network(request: httpx2.Request) -> httpx2.Response:
    pytest.fail(f"a request was sent although the capability check should have refused: {request.url}")


def _create(provider: str, **extra: Any) -> Any:
    transport = httpx2.MockTransport(_no_network)
    return AbstractLLM.create(
        provider,
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
        **{**CONFIG[provider], **extra},
    )


def test_the_table_lists_every_built_in_provider() -> None:
    assert {"anthropic", "azure_openai", "bedrock", "gemini", "mistral", "openai"} <= set(BUILT_IN)
    table = provider_capabilities()
    assert sorted(table) == BUILT_IN
    assert set(BUILT_IN) <= set(available_providers())
    for provider, capabilities in table.items():
        assert capabilities, provider
        assert all(isinstance(c, Capability) for c in capabilities)
        # the table is ordered like the enum, so it prints the same every time
        assert capabilities == sorted(capabilities, key=list(Capability).index)
        assert Capability.STREAMING in capabilities, provider


@pytest.mark.parametrize("provider", ["openai", "azure_openai", "anthropic", "gemini", "mistral"])
def test_hosted_providers_call_tools_in_parallel_and_stream_them(provider: str) -> None:
    capabilities = provider_capabilities(provider)[provider]
    for expected in (Capability.FUNCTION_CALLING, Capability.PARALLEL_TOOL_CALLS, Capability.STREAMING_TOOLS):
        assert expected in capabilities


def test_the_table_matches_what_an_instance_reports() -> None:
    for provider in CONFIG:  # the providers this module knows how to create
        llm = _create(provider)
        assert llm.capabilities == provider_capabilities(provider, llm.model)[provider], provider


def test_per_model_rules() -> None:
    table = provider_capabilities("openai", "o1-mini")["openai"]
    assert Capability.FUNCTION_CALLING not in table
    assert Capability.FUNCTION_CALLING in provider_capabilities("openai", "gpt-4o")["openai"]
    assert Capability.VISION not in provider_capabilities("mistral", "codestral-latest")["mistral"]
    assert Capability.FUNCTION_CALLING not in provider_capabilities("mistral", "open-mistral-7b")["mistral"]


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_tools_without_function_calling_raise_before_any_request(provider: str) -> None:
    model = {"openai": "o1-mini", "mistral": "open-mistral-7b"}[provider]
    llm = _create(provider, model=model)
    with pytest.raises(UnsupportedCapabilityError) as info:
        llm.generate("hi", tools=[WEATHER])
    assert info.value.capability is Capability.FUNCTION_CALLING
    assert "capability_overrides" in str(info.value)  # the message says how to override


async def test_the_async_path_checks_too() -> None:
    llm = _create("openai", model="o1-mini")
    with pytest.raises(UnsupportedCapabilityError):
        await llm.agenerate("hi", tools=[WEATHER])
    with pytest.raises(UnsupportedCapabilityError):
        await llm.agenerate("hi", tools=[WEATHER], stream=True)


@pytest.mark.parametrize("provider", sorted(CONFIG))
def test_capability_overrides_remove_one(provider: str) -> None:
    llm = _create(provider, capability_overrides={Capability.FUNCTION_CALLING: False})
    assert Capability.FUNCTION_CALLING not in llm.capabilities
    with pytest.raises(UnsupportedCapabilityError):
        llm.generate("hi", tools=[WEATHER])


def test_capability_overrides_add_one_and_accept_strings() -> None:
    llm = _create("openai", model="o1-mini", capability_overrides={"function_calling": True})
    assert Capability.FUNCTION_CALLING in llm.capabilities
    assert Capability.STREAMING_TOOLS not in llm.capabilities  # only what was overridden changes


def test_capabilities_replaces_the_whole_set() -> None:
    llm = _create("mistral", capabilities=["streaming", Capability.ASYNC])
    assert llm.capabilities == [Capability.STREAMING, Capability.ASYNC]
    with pytest.raises(UnsupportedCapabilityError):
        llm.generate("hi", tools=[WEATHER])


class Answer(BaseModel):
    text: str


def test_set_capability_per_instance() -> None:
    llm = _create("gemini")
    other = _create("gemini")
    llm.set_capability(Capability.STRUCTURED_OUTPUT, False)
    with pytest.raises(UnsupportedCapabilityError) as info:
        llm.generate("hi", response_format=Answer)
    assert info.value.capability is Capability.STRUCTURED_OUTPUT
    assert Capability.STRUCTURED_OUTPUT in other.capabilities  # other instances keep the default
    llm.set_capability("structured_output")
    assert Capability.STRUCTURED_OUTPUT in llm.capabilities


def test_streaming_tools_is_checked_separately() -> None:
    llm = _create("anthropic")
    llm.set_capability(Capability.STREAMING_TOOLS, False)
    with pytest.raises(UnsupportedCapabilityError) as info:
        llm.generate("hi", tools=[WEATHER], stream=True)
    assert info.value.capability is Capability.STREAMING_TOOLS


def test_unknown_capability_name_is_an_error() -> None:
    with pytest.raises(ValueError):
        _create("openai", capability_overrides={"teleportation": True})


class MyMistral(MistralProvider):
    """A subclass with its own per-model rules: a fine-tune that calls tools, a base model that does not."""

    model_capability_rules: ClassVar[tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...]] = (
        *MistralProvider.model_capability_rules,
        ("ft:open-mistral-7b:*", frozenset({Capability.FUNCTION_CALLING}), frozenset()),
        ("my-base-*", frozenset(), frozenset({Capability.FUNCTION_CALLING})),
    )


def test_model_capability_rules_in_a_subclass() -> None:
    assert Capability.FUNCTION_CALLING in MyMistral.default_capabilities_for("ft:open-mistral-7b:abc")
    assert Capability.FUNCTION_CALLING not in MyMistral.default_capabilities_for("my-base-1")
    assert Capability.FUNCTION_CALLING in MyMistral.default_capabilities_for("mistral-large-latest")
    transport = httpx2.MockTransport(_no_network)
    llm = MyMistral(api_key="k", model="my-base-1", http_client=httpx2.Client(transport=transport))
    with pytest.raises(UnsupportedCapabilityError):
        llm.generate("hi", tools=[WEATHER])
    # the per-call model is what is checked, not only the instance's default
    with pytest.raises(UnsupportedCapabilityError):
        _create("mistral").generate("hi", model="open-mistral-7b", tools=[WEATHER])


class _ReportsStreamingOnly(MistralProvider):
    """The founding design: a subclass overriding the `capabilities` property."""

    @property
    def capabilities(self) -> list[Capability]:
        return [Capability.STREAMING]


class _AddsFunctionCalling(MistralProvider):
    @property
    def capabilities(self) -> list[Capability]:
        return [*super().capabilities, Capability.FUNCTION_CALLING]


def test_an_overridden_capabilities_property_is_what_every_check_reads() -> None:
    # API.md: "a subclass may also override the `capabilities` property. Every check uses what the
    # instance reports" -- supports_capability included, not only the pre-request check
    transport = httpx2.MockTransport(_no_network)
    client = httpx2.Client(transport=transport)
    llm = _ReportsStreamingOnly(api_key="k", model="mistral-large-latest", http_client=client)
    assert not llm.supports_capability(Capability.FUNCTION_CALLING)
    assert llm.supports_capability("streaming")
    with pytest.raises(UnsupportedCapabilityError):
        llm.generate("hi", tools=[WEATHER])
    # a property that builds on super() (no recursion) and adds what the model can do
    base_model = _AddsFunctionCalling(api_key="k", model="open-mistral-7b")
    assert Capability.FUNCTION_CALLING not in MistralProvider.default_capabilities_for("open-mistral-7b")
    assert base_model.supports_capability(Capability.FUNCTION_CALLING)
    assert base_model.supports_capability(Capability.FUNCTION_CALLING, model="open-mistral-7b")


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd40000000049454e44ae426082"
)


@pytest.mark.parametrize("provider", sorted(CONFIG))
@pytest.mark.parametrize(
    ("capability", "call"),
    [
        (Capability.STREAMING, {"stream": True}),
        (Capability.JSON_MODE, {"response_format": "json"}),
        (Capability.STRUCTURED_OUTPUT, {"response_format": Answer}),
        (Capability.FUNCTION_CALLING, {"tools": [WEATHER]}),
        (Capability.VISION, {"image": True}),
    ],
    ids=lambda v: v.value if isinstance(v, Capability) else "",
)
async def test_each_capability_is_refused_before_any_request_sync_and_async(
    provider: str, capability: Capability, call: dict[str, Any]
) -> None:
    from toolwire import Image, Message, ResponseFormat

    llm = _create(provider, capability_overrides={capability: False})
    kwargs = dict(call)
    messages: Any = "hi"
    if kwargs.pop("image", False):
        messages = [Message(role="user", content=["What is this?", Image(data=PNG, media_type="image/png")])]
    if kwargs.get("response_format") == "json":
        kwargs["response_format"] = ResponseFormat.JSON
    with pytest.raises(UnsupportedCapabilityError) as info:
        llm.generate(messages, **kwargs)
    assert info.value.capability is capability
    with pytest.raises(UnsupportedCapabilityError):
        await llm.agenerate(messages, **kwargs)
