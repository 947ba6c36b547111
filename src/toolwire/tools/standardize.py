"""`standardize_tool_response`: any provider's raw response → `ToolCallRequest`.

Reuses each provider module's own parser, so there is exactly one reading of every wire format.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError
from ..types import GenerateResponse, ToolCallRequest

__all__ = ["register_response_parser", "standardize_tool_response"]

# provider name -> "module:function" taking (payload, provider=name) and returning GenerateResponse
_PARSERS: dict[str, str | Callable[..., GenerateResponse]] = {
    "openai": "toolwire.providers.openai:parse_chat_completion",
    "azure_openai": "toolwire.providers.openai:parse_chat_completion",
    "openai_compatible": "toolwire.providers.openai:parse_chat_completion",
    "ollama": "toolwire.providers.openai:parse_chat_completion",
    "anthropic": "toolwire.providers.anthropic:parse_message",
    "gemini": "toolwire.providers.gemini:parse_generate_content",
    "mistral": "toolwire.providers.mistral:parse_chat_completion",
    "bedrock": "toolwire.providers.bedrock:parse_converse",
}
_ALIASES = {"azure": "azure_openai", "google": "gemini", "aws_bedrock": "bedrock"}


def register_response_parser(provider: str, parser: str | Callable[..., GenerateResponse]) -> None:
    """Teach `standardize_tool_response` a plugin provider's response format."""
    _PARSERS[provider] = parser


def _parser(provider: str) -> Callable[..., GenerateResponse]:
    key = _ALIASES.get(provider, provider)
    target = _PARSERS.get(key)
    if target is None:
        raise ConfigurationError(
            f"standardize_tool_response: unknown provider {provider!r}; known: {', '.join(sorted(_PARSERS))}"
        )
    if isinstance(target, str):
        module_name, _, name = target.partition(":")
        target = getattr(importlib.import_module(module_name), name)
        _PARSERS[key] = target
    return target  # type: ignore[return-value]


def _as_payload(response: Any) -> Any:
    """SDK objects (openai, anthropic, google-genai, mistralai are pydantic models) → dicts."""
    if isinstance(response, (dict, list)):
        return response
    dump = getattr(response, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", by_alias=True, exclude_none=True)
        except TypeError:
            return dump()
    to_dict = getattr(response, "to_dict", None) or getattr(response, "to_json_dict", None)
    if callable(to_dict):
        return to_dict()
    return response


def standardize_tool_response(response: Any, provider: str) -> ToolCallRequest:
    """Every tool call of a provider's raw response (its JSON body as a dict, or an SDK object)."""
    parsed = _parser(provider)(_as_payload(response), provider=_ALIASES.get(provider, provider))
    if parsed.tool_calls is not None:
        return parsed.tool_calls
    return ToolCallRequest([], parsed.content)
