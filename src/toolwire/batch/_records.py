"""How a finished batch item is written to a checkpoint line and read back.

A line is one JSON object: `{"v": 1, "index": 3, "key": "<input fingerprint>", "ok": true,
"response": {...}, "usage": {...}}` or `{..., "ok": false, "error": {"type": "RateLimitError",
"message": ..., "attrs": {...}}}`. The response keeps every field of `GenerateResponse` except
`parsed`, which is rebuilt from `content` when the run asks for a Pydantic model again, and
`raw_response`, kept only when it is JSON (an SDK object is not).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any

from .. import errors as _errors
from ..errors import BatchItemError, ProviderError, ToolwireError
from ..types import GenerateResponse, Message, ToolCall, ToolCallRequest

VERSION = 1
# attributes an error class sets in __init__ that a restored error must have, even if not JSON
_ERROR_DEFAULTS: dict[str, Any] = {
    "errors": list,
    "messages": list,
    "tool_calls": list,
    "response": lambda: None,
    "filter_results": lambda: None,
    "validation_error": lambda: None,
    "cause": lambda: None,
    "body": lambda: None,
}


def _jsonable(value: Any) -> Any:
    """`value` if it survives a JSON round trip unchanged in kind, else None."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return value


def _default(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, type) or callable(value):
        # a Pydantic model class or a tool function: its qualified name, not its address
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__name__)}"
    return repr(value)


def fingerprint(item: Any) -> str:
    """A stable digest of one input, so a checkpoint is never applied to different inputs."""
    text = json.dumps(item, sort_keys=True, default=_default, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def response_to_dict(response: GenerateResponse) -> dict[str, Any]:
    data: dict[str, Any] = {
        "content": response.content,
        "tool_calls": [c.to_dict() for c in response.tool_calls] if response.tool_calls else None,
        "usage": response.usage,
        "model": response.model,
        "finish_reason": response.finish_reason,
        "provider": response.provider,
        "refusal": response.refusal,
        "id": response.id,
        "provider_data": _jsonable(response.provider_data),
    }
    raw = _jsonable(response.raw_response)
    if raw is not None:
        data["raw_response"] = raw
    return data


def response_from_dict(data: Mapping[str, Any], response_model: type[Any] | None = None) -> GenerateResponse:
    calls = data.get("tool_calls")
    response = GenerateResponse(
        content=data.get("content"),
        tool_calls=ToolCallRequest([_call(c) for c in calls], data.get("content")) if calls else None,
        usage=data.get("usage"),
        model=data.get("model"),
        finish_reason=data.get("finish_reason"),
        raw_response=data.get("raw_response"),
        provider=data.get("provider"),
        refusal=data.get("refusal"),
        id=data.get("id"),
        provider_data=data.get("provider_data"),
    )
    if response_model is not None and response.content and not response.tool_calls:
        response.parsed = response_model.model_validate_json(response.content)  # type: ignore[attr-defined]
    return response


def _call(data: Mapping[str, Any]) -> ToolCall:
    return ToolCall(
        id=str(data["id"]),
        name=str(data["name"]),
        arguments=dict(data.get("arguments") or {}),
        raw_arguments=data.get("raw_arguments"),
        arguments_error=data.get("arguments_error"),
        provider_data=data.get("provider_data"),
    )


def error_to_dict(error: BaseException) -> dict[str, Any]:
    attrs = {
        k: v
        for k, v in vars(error).items()
        if isinstance(v, (str, int, float, bool)) or (v is None and k not in _ERROR_DEFAULTS)
    }
    body = _jsonable(getattr(error, "body", None))
    if body is not None:
        attrs["body"] = body
    return {"type": type(error).__name__, "message": _message(error), "attrs": attrs}


def _message(error: BaseException) -> str:
    message = getattr(error, "message", None)
    return message if isinstance(message, str) else str(error)


def error_from_dict(data: Mapping[str, Any]) -> ToolwireError:
    """The same error type with the same attributes (a type this version does not know: ToolwireError)."""
    cls = getattr(_errors, str(data.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, ToolwireError)):
        cls = ToolwireError
    error = cls.__new__(cls)
    message = str(data.get("message", ""))
    Exception.__init__(error, message)
    for name, make in _ERROR_DEFAULTS.items():
        setattr(error, name, make())
    if isinstance(error, ProviderError):
        ProviderError.__init__(error, message)
    attrs = data.get("attrs")
    if isinstance(attrs, Mapping):
        vars(error).update(attrs)
    return error


def item_error(index: int, exc: BaseException) -> ToolwireError:
    """What a batch result holds for an item that raised: toolwire errors as they are."""
    if isinstance(exc, ToolwireError):
        return exc
    wrapped = BatchItemError(
        f"input {index} raised {type(exc).__name__}: {exc}", index=index, reason="exception"
    )
    wrapped.__cause__ = exc
    return wrapped


def record(index: int, key: str, outcome: GenerateResponse | BaseException, usage: Any) -> dict[str, Any]:
    line: dict[str, Any] = {"v": VERSION, "index": index, "key": key}
    if isinstance(outcome, GenerateResponse):
        line["ok"] = True
        line["response"] = response_to_dict(outcome)
    else:
        line["ok"] = False
        line["error"] = error_to_dict(outcome)
    if usage:
        line["usage"] = usage
    return line


def restore(
    line: Mapping[str, Any], response_model: type[Any] | None = None
) -> GenerateResponse | ToolwireError:
    if line.get("ok"):
        return response_from_dict(line["response"], response_model)
    return error_from_dict(line["error"])


def messages_to_dicts(messages: list[Message]) -> list[dict[str, Any]]:
    """A history as JSON (tool outputs as the text the model saw)."""
    return [m.to_dict() for m in messages]
