"""What every JSON stream state does with an event before reading it, in one place.

Stream states (`StreamState.feed`) receive framed events: SSE events for every wire format so
far, whose `data` is one JSON document. Decoding it, refusing a body that is not JSON, and turning
an error delivered inside a 200 stream into a typed error are the same for every provider; the
provider-specific reading starts with the decoded payload. Pure functions, no I/O and no httpx2,
so provider modules import this without importing the stream driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _json
from .errors import ProviderError, ResponseParseError

if TYPE_CHECKING:
    from ._framing import SSEEvent

__all__ = ["decode_stream_event", "stream_error_from_event"]


def decode_stream_event(event: SSEEvent, provider: str, *, objects_only: bool = True) -> Any:
    """The JSON payload of `event`, or None for an event without data (a keep-alive, a bare
    `event:` line). Raises `ResponseParseError` when the data is not JSON, or (with
    `objects_only`) not a JSON object. `[DONE]` is the caller's to handle first: what it means
    differs (OpenAI's end marker; nothing for Gemini)."""
    data = event.data
    if not data:
        return None
    try:
        # the one decoder with limits: a subtree too deep or an integer too long becomes a marker
        # that only the call holding it reports (toolwire._json)
        payload = _json.loads(data, max_depth=_json.BODY_MAX_DEPTH, lenient=True)
    except ValueError as exc:  # malformed, or past the decoder's limits
        reason = getattr(exc, "msg", exc)
        raise ResponseParseError(
            f"{provider}: a stream event is not JSON ({reason})", provider=provider, body=data
        ) from exc
    if objects_only and not isinstance(payload, dict):
        raise ResponseParseError(f"{provider}: a stream event is not an object", provider=provider, body=data)
    return payload


def stream_error_from_event(provider: str, payload: Any) -> ProviderError:
    """An error delivered inside a 200 stream (Groq `event: error`, OpenAI `{"error": ...}`)."""
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    message = error.get("message") if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    return ProviderError(
        f"{provider} reported an error inside the stream: {message}",
        provider=provider,
        body=payload,
        code=str(code) if code is not None else None,
    )
