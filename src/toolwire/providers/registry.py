"""`AbstractLLM.create(name, ...)`: the provider registry, built-ins plus entry-point plugins.

Built-in providers are registered by import path, so creating an `openai` provider never imports
the Anthropic or Gemini modules. Third-party packages register under the entry-point group
`toolwire.providers`:

    [project.entry-points."toolwire.providers"]
    my_llm = "my_package.provider:MyProvider"     # a BaseProvider subclass
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError
from ..types import Capability

__all__ = ["AbstractLLM", "available_providers", "provider_capabilities", "register_provider"]

ENTRY_POINT_GROUP = "toolwire.providers"

_BUILTIN: dict[str, str] = {
    "openai": "toolwire.providers.openai:OpenAIProvider",
    "openai_compatible": "toolwire.providers.openai:OpenAICompatibleProvider",
    "ollama": "toolwire.providers.openai:OllamaProvider",
    "azure_openai": "toolwire.providers.azure_openai:AzureOpenAIProvider",
    "anthropic": "toolwire.providers.anthropic:AnthropicProvider",
    "gemini": "toolwire.providers.gemini:GeminiProvider",
    "mistral": "toolwire.providers.mistral:MistralProvider",
    "fallback": "toolwire.providers.fallback:FallbackProvider",
    "bedrock": "toolwire.providers.bedrock:BedrockProvider",
}
_ALIASES = {
    "azure": "azure_openai",
    "google": "gemini",
    "vllm": "openai_compatible",
    "llamacpp": "openai_compatible",
    "aws_bedrock": "bedrock",
}

_registered: dict[str, Callable[..., Any] | str] = {}
_entry_points_loaded = False


def register_provider(name: str, factory: Callable[..., Any] | str) -> None:
    """Register a provider class (or `"module:Class"` path) under `name`."""
    _registered[name] = factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        _registered.setdefault(entry.name, entry.value)


def _known() -> dict[str, Callable[..., Any] | str]:
    _load_entry_points()
    return {**_BUILTIN, **_registered}


def available_providers() -> list[str]:
    """Every provider name `AbstractLLM.create` accepts (built-in and plugins)."""
    return sorted(_known())


def _resolve(target: Callable[..., Any] | str, name: str) -> Callable[..., Any]:
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if (exc.name and module_name.startswith(exc.name)) or (exc.name or "").startswith("toolwire"):
            raise ConfigurationError(
                f"provider {name!r} is registered as {target!r} but cannot be imported: {exc}"
            ) from exc
        raise
    return getattr(module, attribute)  # type: ignore[no-any-return]


def provider_class(name: str) -> Callable[..., Any]:
    known = _known()
    key = _ALIASES.get(name, name)
    if key not in known:
        raise ConfigurationError(f"unknown provider {name!r}; known providers: {', '.join(sorted(known))}")
    return _resolve(known[key], key)


def provider_capabilities(name: str | None = None, model: str | None = None) -> dict[str, list[Capability]]:
    """The default capabilities of each provider (or one), optionally for one model name."""
    names = [name] if name else [n for n in available_providers() if n != "fallback"]
    table: dict[str, list[Capability]] = {}
    for provider_name in names:
        try:
            cls = provider_class(provider_name)
        except ConfigurationError:
            continue
        capabilities_of = getattr(cls, "default_capabilities_for", None)
        if capabilities_of is not None:
            table[provider_name] = capabilities_of(model)
    return table


class AbstractLLM:
    """The factory: `AbstractLLM.create("azure_openai", deployment=..., ...)`."""

    @staticmethod
    def create(provider: str, **config: Any) -> Any:
        """Create a provider by name. Missing settings are read from the usual environment
        variables; what is still missing raises `ConfigurationError` naming the parameter."""
        return provider_class(provider)(**config)

    @staticmethod
    def providers() -> list[str]:
        return available_providers()
