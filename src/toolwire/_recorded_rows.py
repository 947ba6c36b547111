"""How the recorder turns one call into stored JSON: the request payload (the wire body, headers
with credentials replaced), the response, and the redacted, scrubbed JSON text of either."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._recorded_images import message_dict
from ._scrub import BENIGN_HEADERS, MIN_SECRET, redact_url
from .logs import REDACTED, redact, redact_headers, scrub

if TYPE_CHECKING:
    from ._instrument import CallRecord
    from .types import GenerateResponse

__all__ = ["dumps", "error_text", "request_payload", "response_payload"]


def dumps(value: Any, secrets: tuple[str, ...] = (), *, depth: int = 0) -> str | None:
    if value is None:
        return None
    redacted = redact(value, _depth=depth)
    try:
        text = json.dumps(redacted, ensure_ascii=False, default=_default, allow_nan=False)
    except ValueError:  # NaN/Infinity from a model: stored as strings, so the row stays valid JSON
        text = json.dumps(_finite(redacted), ensure_ascii=False, default=_default)
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate (model output, os.fsdecode names): SQLite refuses it
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return scrub(text, secrets) if secrets else text


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return repr(value)


def _wire_body(record: CallRecord, sent: bool) -> Any:
    body = record.extra.get("sent_body") if sent else None
    if body is not None:
        try:  # parsing what was sent (C) costs a fraction of building it again from the history
            return json.loads(body)
        except (ValueError, RecursionError):
            pass
    # the wire body, as the provider built it (a pure function of the request, so safe to redo here)
    return record.provider.build_body(record.request)


def request_payload(record: CallRecord, *, sent: bool = True) -> dict[str, Any]:
    provider, request = record.provider, record.request
    payload: dict[str, Any] = {"provider": provider.name, "model": request.model, "stream": request.stream}
    try:
        payload["url"] = redact_url(provider.endpoint(request))
    except Exception:
        pass
    try:
        headers = dict(provider.static_headers())
        headers.update(request.extra_headers or {})
        if request.stream:
            headers["accept"] = "text/event-stream"  # as BaseProvider._http_call sends it
        payload["headers"] = {  # a header we do not know by name may be a credential
            k: (v if k.lower() in BENIGN_HEADERS or len(v) < MIN_SECRET else REDACTED)
            for k, v in redact_headers(headers).items()
        }
    except Exception:
        pass
    try:
        payload["body"] = _wire_body(record, sent)
    except Exception as exc:
        payload["body_error"] = f"{type(exc).__name__}: {exc}"
        payload["messages"] = [message_dict(m) for m in request.messages]
        payload["tools"] = [t.name for t in request.tools]
    return payload


def response_payload(response: GenerateResponse) -> dict[str, Any]:
    calls = []
    if response.tool_calls:
        for call in response.tool_calls:
            calls.append(
                {
                    "id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                    "raw_arguments": call.raw_arguments,
                    "arguments_error": call.arguments_error,
                }
            )
    return {
        "id": response.id,
        "model": response.model,
        "content": response.content,
        "refusal": response.refusal,
        "tool_calls": calls,
        "finish_reason": response.finish_reason,
        "usage": response.usage,
        "raw": response.raw_response,
    }


def error_text(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 4000 else text[:4000] + "…"
