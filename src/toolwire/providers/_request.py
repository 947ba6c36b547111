"""The provider-neutral request (`ChatRequest`) and the pure reading of `generate()`'s arguments into
it: `tool_choice` spellings, `response_format`, and the per-call options. `BaseProvider._prepare`
adds the capability checks (which need the provider) around these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..tools.definition import ToolDefinition
from ..types import Message, ResponseFormat
from ._checks import _check_spelling

__all__ = ["ChatRequest", "apply_call_options", "normalize_tool_choice", "read_response_format"]


@dataclass
class ChatRequest:
    """One call, provider-neutral, after validation. Translation functions read only this."""

    messages: list[Message]
    model: str
    tools: tuple[ToolDefinition, ...] = ()
    tool_payload: Any = None
    tool_choice: str | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    response_model: type[Any] | None = None
    stream: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    max_retries: int | None = None
    retry_deadline: float | None = None
    max_validation_retries: int = 1
    extra_headers: dict[str, str] | None = None


def normalize_tool_choice(choice: Any, tools: tuple[ToolDefinition, ...]) -> str | None:
    """`tool_choice` in any of the spellings users bring (OpenAI's dict, Anthropic's "any", a bare
    name) → "auto", "none", "required" or the name of one of `tools`."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice  # type: ignore[no-any-return]
    if choice == "any":
        return "required"
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else choice.get("name")
        if not name:
            raise ValueError(f"cannot read a tool name from tool_choice={dict(choice)!r}")
        choice = name
    if isinstance(choice, str):
        if not any(t.name == choice for t in tools):
            names = ", ".join(t.name for t in tools)
            raise ValueError(f"tool_choice={choice!r} is not one of the tools ({names})")
        return choice
    raise ValueError(f"tool_choice must be 'auto', 'none', 'required' or a tool name, got {choice!r}")


def read_response_format(response_format: Any) -> tuple[type[Any] | None, ResponseFormat | None]:
    """`response_format=` → (a Pydantic model class, None) or (None, a `ResponseFormat`)."""
    if isinstance(response_format, type) and hasattr(response_format, "model_json_schema"):
        return response_format, None
    try:
        return None, ResponseFormat(response_format)
    except ValueError:
        raise ValueError(
            "response_format must be ResponseFormat.TEXT, ResponseFormat.JSON or a "
            f"Pydantic model class, got {response_format!r}"
        ) from None


def apply_call_options(request: ChatRequest, kwargs: dict[str, Any]) -> None:
    """The per-call options of `generate()` onto `request`; what remains of `kwargs` (after a
    spelling check) and `extra_body` go into the body as provider-specific fields."""
    request.timeout = kwargs.pop("timeout", None)
    request.max_retries = kwargs.pop("max_retries", None)
    request.retry_deadline = kwargs.pop("retry_deadline", None)
    request.max_validation_retries = int(kwargs.pop("max_validation_retries", 1))
    request.extra_headers = kwargs.pop("extra_headers", None)
    extra_body = kwargs.pop("extra_body", None)
    _check_spelling(kwargs)
    request.extra = {**kwargs, **(extra_body or {})}
