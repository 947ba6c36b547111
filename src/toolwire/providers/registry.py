"""`AbstractLLM.create(name, ...)`: the provider registry, built-ins plus entry-point plugins.

A provider is one module plus one row here. Everything else about it (aliases, tracing name, schema
dialect, response parser, environment variables, capabilities) lives on its class, and the CLI,
tracing and `standardize_tool_response` ask the class. Built-ins are registered by import path, so
creating an `openai` provider never imports the Anthropic or Gemini modules. Third-party packages
register once, under the entry-point group `toolwire.providers`:

    [project.entry-points."toolwire.providers"]
    my_llm = "my_package.provider:MyProvider"     # a BaseProvider subclass
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from ..errors import ConfigurationError
from ..types import Capability

if TYPE_CHECKING:
    from .anthropic import AnthropicProvider
    from .azure_openai import AzureOpenAIProvider
    from .base import BaseProvider
    from .bedrock import BedrockProvider
    from .fallback import FallbackProvider
    from .gemini import GeminiProvider
    from .mistral import MistralProvider
    from .openai import OllamaProvider, OpenAICompatibleProvider, OpenAIProvider

__all__ = [
    "AbstractLLM",
    "available_providers",
    "provider_capabilities",
    "provider_class",
    "provider_classes",
    "register_provider",
]

ENTRY_POINT_GROUP = "toolwire.providers"

# One row per built-in provider: its name and where its class lives.
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

_registered: dict[str, Callable[..., Any] | str] = {}
_entry_points_loaded = False
_aliases: dict[str, str] | None = None


def register_provider(name: str, factory: Callable[..., Any] | str) -> None:
    """Register a provider class (or `"module:Class"` path) under `name`."""
    global _aliases
    _registered[name] = factory
    _aliases = None


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
    """Every provider name `AbstractLLM.create` accepts (built-in and plugins), aliases excluded."""
    return sorted(_known())


def resolve_import_path(target: Callable[..., Any] | str, name: str) -> Callable[..., Any]:
    """The object a `"module:attribute"` registration points at (objects pass through)."""
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


def _alias_table() -> dict[str, str]:
    """alias -> provider name, read from the classes' `aliases` (imports every provider once; only
    a name that is not a registered one gets here)."""
    global _aliases
    if _aliases is None:
        table: dict[str, str] = {}
        for name, target in _known().items():
            try:
                cls = resolve_import_path(target, name)
            except (ConfigurationError, ImportError):
                continue  # a broken plugin must not hide the built-ins' aliases
            # declared on the class itself: a subclass (a plugin) does not inherit its parent's names
            for alias in vars(cls).get("aliases", ()) if isinstance(cls, type) else ():
                table.setdefault(alias, name)
        _aliases = table
    return _aliases


def canonical_name(name: str) -> str:
    """The registered name for `name` or one of its aliases (raises for unknown names)."""
    known = _known()
    if name in known:
        return name
    target = _alias_table().get(name)
    if target is None:
        aliases = ", ".join(sorted(_alias_table()))
        raise ConfigurationError(
            f"unknown provider {name!r}; known providers: {', '.join(sorted(known))} (aliases: {aliases})"
        )
    return target


def provider_class(name: str) -> Callable[..., Any]:
    """The class registered under `name` (or an alias of it)."""
    key = canonical_name(name)
    return resolve_import_path(_known()[key], key)


def provider_classes() -> dict[str, Any]:
    """Every provider class that imports, by registered name (for the CLI and docs)."""
    classes: dict[str, Any] = {}
    for name in available_providers():
        try:
            classes[name] = provider_class(name)
        except (ConfigurationError, ImportError):
            continue
    return classes


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

    @overload
    @staticmethod
    def create(provider: Literal["openai"], **config: Any) -> OpenAIProvider: ...
    @overload
    @staticmethod
    def create(provider: Literal["azure_openai", "azure"], **config: Any) -> AzureOpenAIProvider: ...
    @overload
    @staticmethod
    def create(
        provider: Literal["openai_compatible", "vllm", "llamacpp"], **config: Any
    ) -> OpenAICompatibleProvider: ...
    @overload
    @staticmethod
    def create(provider: Literal["ollama"], **config: Any) -> OllamaProvider: ...
    @overload
    @staticmethod
    def create(provider: Literal["anthropic"], **config: Any) -> AnthropicProvider: ...
    @overload
    @staticmethod
    def create(provider: Literal["gemini", "google"], **config: Any) -> GeminiProvider: ...
    @overload
    @staticmethod
    def create(provider: Literal["mistral"], **config: Any) -> MistralProvider: ...
    @overload
    @staticmethod
    def create(provider: Literal["bedrock", "aws_bedrock"], **config: Any) -> BedrockProvider: ...
    @overload
    @staticmethod
    def create(provider: Literal["fallback"], **config: Any) -> FallbackProvider: ...
    @overload
    @staticmethod
    def create(provider: str, **config: Any) -> BaseProvider: ...
    @staticmethod
    def create(provider: str, **config: Any) -> Any:
        """Create a provider by name. Missing settings are read from the usual environment
        variables; what is still missing raises `ConfigurationError` naming the parameter.

        `api=` picks the wire format of providers that speak more than one ("chat", the default,
        or a key of the class's `api_variants`, e.g. "responses")."""
        cls = provider_class(provider)
        api = config.pop("api", None) or "chat"
        if api != "chat":
            # declared on the class itself, as `aliases` are: a subclass that inherited its parent's
            # variants (Mistral from OpenAI, a plugin) would be swapped for the parent's Responses
            # class, with the parent's base URL, and the caller's key sent there
            own = vars(cls).get("api_variants") if isinstance(cls, type) else None
            variants: dict[str, str] = own or {}
            if api not in variants:
                supported = ", ".join(repr(a) for a in ("chat", *variants))
                raise ConfigurationError(f"provider {provider!r} has no api={api!r}; supported: {supported}")
            cls = resolve_import_path(variants[api], provider)
        return cls(**config)

    @staticmethod
    def providers() -> list[str]:
        return available_providers()
