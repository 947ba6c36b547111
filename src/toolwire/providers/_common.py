"""What every provider module shares beside `BaseProvider`: error building (an HTTP failure → the typed
error tree), the parse-error net, structured-output helpers, secret masking, environment lookup, and the
usage-count and generated-call-id helpers every parser uses.

Split out of `providers/base.py` and `providers/openai.py`; both still re-export these names.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import (
    AuthenticationError,
    ContentFilterError,
    ContextLengthError,
    InvalidRequestError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseParseError,
    ServerError,
    StructuredOutputError,
)

if TYPE_CHECKING:
    from ..types import FinishReason

# What a parser hits when a provider's JSON has an unexpected shape; mapped to ResponseParseError
# so callers only ever see toolwire's typed errors (the fuzz suite holds every parser to this).
PARSE_ERRORS = (KeyError, TypeError, AttributeError, ValueError, IndexError, OverflowError, RecursionError)


def unexpected_shape(provider: str, what: str, payload: Any, exc: Exception) -> ResponseParseError:
    return ResponseParseError(
        f"{provider}: unexpected {what} shape ({type(exc).__name__}: {exc})", provider=provider, body=payload
    )


def decode_error_body(body: bytes) -> Any:
    """An error response body: its JSON, else its text (clipped), else None."""
    try:
        return json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return body[:2000].decode("utf-8", "replace")


def mask_secret(secret: str | None) -> str | None:
    """`sk-…abcd`: enough to tell keys apart in a repr, never enough to use one."""
    if not secret:
        return None
    if len(secret) <= 8:
        return "…"
    return f"{secret[:3]}…{secret[-4:]}"


def first_env(names: Iterable[str]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


# Chat Completions' penalties, which the Messages, Converse and (OpenAI's, Azure's) Responses APIs
# do not have: sending them is a 400 from the service, so those wires refuse them before sending
PENALTIES = ("frequency_penalty", "presence_penalty")


def refuse_params(params: Mapping[str, Any], names: Iterable[str], api: str) -> None:
    """A `ValueError` naming the first of `names` in `params` (`"{api} has no {name} parameter"`)."""
    for name in names:
        if name in params:
            raise ValueError(f"{api} has no {name} parameter")


_model_schemas: dict[type[Any], Any] = {}


def parse_structured(model: type[Any], content: str, provider: str) -> Any:
    """Validate a structured-output answer into the requested Pydantic model."""
    import pydantic

    try:
        return model.model_validate_json(content)  # type: ignore[attr-defined]
    except pydantic.ValidationError as exc:
        raise StructuredOutputError(
            f"{provider}: the answer does not match {model.__name__}: {exc}",
            raw_text=content,
            validation_error=exc,
            provider=provider,
        ) from exc


def structured_schema(model: type[Any], dialect: str, *, strict: bool) -> dict[str, Any]:
    """The JSON Schema of a response model for one dialect (cached per model class)."""
    key = (model, dialect, strict)
    schema = _model_schemas.get(key)  # type: ignore[call-overload]
    if schema is None:
        from ..tools.dialects import compile_schema

        schema = compile_schema(model.model_json_schema(), dialect, strict=strict)  # type: ignore[attr-defined]
        _model_schemas[key] = schema  # type: ignore[index]
    return schema  # type: ignore[no-any-return]


def build_provider_error(
    status: int,
    message: str,
    *,
    provider: str,
    headers: Mapping[str, str],
    body: Any,
    request_id: str | None = None,
    code: str | None = None,
    filter_results: Any = None,
    model: str | None = None,
) -> ProviderError:
    """Map an HTTP failure onto the error tree by meaning (status, then the provider's error code).

    Providers read their own error body shape and call this with what they found.
    """
    from .._transport import parse_retry_after

    kwargs: dict[str, Any] = {
        "provider": provider,
        "status_code": status,
        "request_id": request_id,
        "body": body,
        "model": model,
        "code": code,
    }
    lowered = (code or "").lower()
    text = message or f"HTTP {status}"
    if filter_results is not None or lowered in ("content_filter", "content_policy_violation", "safety"):
        return ContentFilterError(text, filter_results=filter_results, **kwargs)
    if lowered in ("context_length_exceeded", "string_above_max_length") or (
        status == 400 and ("maximum context length" in text or "prompt is too long" in text)
    ):
        return ContextLengthError(text, **kwargs)
    error: ProviderError
    if status in (401, 403):
        error = AuthenticationError(text, **kwargs)
    elif status == 429:
        error = RateLimitError(text, retry_after=parse_retry_after(headers), **kwargs)
        if lowered == "insufficient_quota":
            error.retryable = False  # an empty balance does not refill by waiting
    elif status == 408:
        error = ProviderTimeoutError(text, **kwargs)
    elif status >= 500 or status == 409:
        error = ServerError(text, **kwargs)
    else:
        error = InvalidRequestError(text, **kwargs)
    return error


def is_token_count(value: Any) -> bool:
    """A finite JSON number (bool is an int to Python, never a count)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def token_count(value: Any) -> int:
    """A usage count as an int: a finite number, else 0. Usage is bookkeeping: a proxy's odd
    count (null, "12", inf, an object) must not fail the turn the model answered."""
    if type(value) is int:  # what every server sends: finite, no check needed
        return value
    return int(value) if is_token_count(value) else 0


def turn_seed(response_id: Any, nonce: str | None = None) -> str:
    """The seed for the ids generated in one turn: the response id (the same body gives the same
    ids), or, when the server gives none, a random one: without it every turn of a server that
    gives no ids at all got the same ids, and one history must never carry an id twice."""
    if isinstance(response_id, str) and response_id:
        return response_id
    return f"turn-{nonce or uuid.uuid4().hex[:12]}"


def generated_call_id(seed: str | None, index: int, name: str) -> str:
    """A stable id for servers that give none (Gemini's compatible endpoint sends "")."""
    digest = hashlib.sha1(f"{seed}:{index}:{name}".encode()).hexdigest()
    return f"call_{digest[:24]}"


def summed_usage(usage: Any, prompt_keys: tuple[str, ...], completion_key: str) -> dict[str, int] | None:
    """Usage whose prompt is split in parts (input + cache reads and writes, as Anthropic and
    Bedrock count it), normalized; None when the payload carries none of the keys."""
    if not isinstance(usage, Mapping):
        return None
    parts = [usage.get(k) for k in prompt_keys]
    completion_value = usage.get(completion_key)
    if completion_value is None and parts.count(None) == len(parts):
        return None
    prompt = sum(map(token_count, parts))
    completion = token_count(completion_value)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class StopReasons:
    """A provider's stop-reason table: the neutral `finish_reason`, and which raw values to keep.

    Anthropic and Bedrock end a turn with the same kind of `stop_reason`, each with its own names; a
    reason newer than the table ends the turn as "stop" and its raw value is kept in provider_data,
    as are the reasons the neutral value cannot tell apart (`keep_raw`)."""

    __slots__ = ("keep_raw", "table")

    def __init__(self, table: Mapping[str, FinishReason], keep_raw: Iterable[str] = ()) -> None:
        self.table = dict(table)
        self.keep_raw = frozenset(keep_raw)

    def normalize(self, reason: Any, has_tool_calls: bool) -> FinishReason | None:
        if reason is None:
            return "tool_calls" if has_tool_calls else None
        normalized = self.table.get(str(reason), "stop")
        if has_tool_calls and normalized == "stop":
            return "tool_calls"
        return normalized

    def raw_to_keep(self, reason: Any) -> str | None:
        """The raw reason when provider_data should carry it (unknown, or ambiguous once normalized)."""
        if isinstance(reason, str) and (reason in self.keep_raw or reason not in self.table):
            return reason
        return None
