"""`standardize_tool_response`: any provider's raw response → `ToolCallRequest`.

Reuses each provider class's own parser (`parse_raw_response`): one reading of every wire format.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from ..errors import ConfigurationError
from ..providers.registry import resolve_import_path
from ..types import GenerateResponse, ToolCallRequest

__all__ = ["register_response_parser", "standardize_tool_response"]

# Parsers taught with the deprecated `register_response_parser`; providers declare theirs on the
# class (`parse_raw_response`), which is where everything else looks.
_LEGACY_PARSERS: dict[str, str | Callable[..., GenerateResponse]] = {}


def register_response_parser(provider: str, parser: str | Callable[..., GenerateResponse]) -> None:
    """Deprecated: give the provider class a `parse_raw_response` classmethod instead (a plugin
    registered under `toolwire.providers` then needs nothing else)."""
    warnings.warn(
        "register_response_parser is deprecated: define parse_raw_response on the provider class",
        DeprecationWarning,
        stacklevel=2,
    )
    _LEGACY_PARSERS[provider] = parser


def _parser(provider: str) -> Callable[[Any], GenerateResponse]:
    legacy = _LEGACY_PARSERS.get(provider)
    if legacy is not None:
        target = resolve_import_path(legacy, provider)
        return lambda payload: target(payload, provider=provider)  # type: ignore[no-any-return]
    from ..providers.registry import provider_class

    try:
        cls: Any = provider_class(provider)
    except ConfigurationError as exc:
        raise ConfigurationError(f"standardize_tool_response: {exc}") from None
    parse = getattr(cls, "parse_raw_response", None)
    if parse is None:
        raise ConfigurationError(f"standardize_tool_response: provider {provider!r} has no response parser")
    return parse  # type: ignore[no-any-return]


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
    try:
        parsed = _parser(provider)(_as_payload(response))
    except NotImplementedError as exc:
        raise ConfigurationError(f"standardize_tool_response: {exc}") from None
    if parsed.tool_calls is not None:
        return parsed.tool_calls
    return ToolCallRequest([], parsed.content)
