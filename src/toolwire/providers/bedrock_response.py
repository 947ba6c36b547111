"""Amazon Bedrock Converse / ConverseStream: reading what the service answers.

A Converse body → `GenerateResponse`; the binary ConverseStream events (`toolwire._eventstream`
messages) → the same `GenerateResponse`, assembled by `contentBlockIndex`; errors typed by their
`x-amzn-ErrorType` header (or, inside a stream, the exception message's `:exception-type`).
Split from `bedrock.py` (the request side and the provider) to keep each module short.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._eventstream import EventStreamMessage
from ..errors import (
    AuthenticationError,
    ContextLengthError,
    InvalidRequestError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseParseError,
    ServerError,
    StreamInterruptedError,
)
from ..types import FinishReason, GenerateResponse, StreamChunk, ToolCall, ToolCallDelta, ToolCallRequest
from ._common import StopReasons, summed_usage
from .base import PARSE_ERRORS, build_provider_error, decode_error_body, unexpected_shape

__all__ = [
    "BedrockStreamState",
    "bedrock_error",
    "normalize_stop_reason",
    "normalize_usage",
    "parse_converse",
    "stream_error",
]

KEY = "bedrock"  # provider_data key

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "stop",
    "malformed_tool_use": "stop",
}
# stop reasons the neutral finish_reason cannot tell apart: the raw value is kept in provider_data
_KEEP_RAW_STOP = frozenset(
    {"guardrail_intervened", "content_filtered", "malformed_model_output", "malformed_tool_use",
     "model_context_window_exceeded"}
)  # fmt: skip
_STOP = StopReasons(_STOP_REASONS, _KEEP_RAW_STOP)


# -- response --------------------------------------------------------------------------------
def normalize_stop_reason(reason: Any, has_tool_calls: bool) -> FinishReason | None:
    return _STOP.normalize(reason, has_tool_calls)


def normalize_usage(usage: Any) -> dict[str, int] | None:
    """inputTokens (+ cache reads and writes) → prompt, outputTokens → completion."""
    prompt = ("inputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
    return summed_usage(usage, prompt, "outputTokens")


def _provider_data(
    reasoning: list[dict[str, Any]], stop_reason: Any, extra: Any = None
) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    if reasoning:
        data["reasoning"] = reasoning
    raw_stop = _STOP.raw_to_keep(stop_reason)
    if raw_stop is not None:
        data["stop_reason"] = raw_stop
    if isinstance(extra, Mapping) and extra:
        data["additional_fields"] = dict(extra)
    return {KEY: data} if data else None


def _tool_call(block: Mapping[str, Any]) -> ToolCall:
    raw_input = block.get("input")
    if raw_input is not None and not isinstance(raw_input, Mapping):
        raw_input = json.dumps(raw_input)  # kept as JSON text, so the call reports arguments_error
    return ToolCall.from_raw(str(block["toolUseId"]), str(block.get("name") or ""), raw_input)


def parse_converse(payload: Any, *, provider: str = "bedrock", model: str | None = None) -> GenerateResponse:
    """A Converse response body → `GenerateResponse` (every `toolUse` block of the turn, in order)."""
    try:
        return _parse_converse(payload, provider, model)
    except PARSE_ERRORS as exc:
        raise unexpected_shape(provider, "Converse response", payload, exc) from exc


def _parse_converse(payload: Any, provider: str, model: str | None) -> GenerateResponse:
    if not isinstance(payload, Mapping):
        raise ResponseParseError(
            f"{provider}: expected a JSON object, got {type(payload).__name__}",
            provider=provider,
            body=payload,
        )
    message = (payload.get("output") or {}).get("message")
    if not isinstance(message, Mapping) or not isinstance(message.get("content"), list):
        detail = payload.get("message") or payload.get("Message")
        raise ResponseParseError(
            f"{provider}: the response has no output.message.content"
            + (f" ({detail})" if isinstance(detail, str) else ""),
            provider=provider,
            body=payload,
        )
    texts: list[str] = []
    calls: list[ToolCall] = []
    reasoning: list[dict[str, Any]] = []
    for block in message["content"]:
        if "text" in block:
            text = block["text"]
            texts.append(text if isinstance(text, str) else "")
        elif "toolUse" in block:
            calls.append(_tool_call(block["toolUse"]))
        elif "reasoningContent" in block:
            reasoning.append({"reasoningContent": dict(block["reasoningContent"])})
    content = "".join(texts) or None
    stop_reason = payload.get("stopReason")
    return GenerateResponse(
        content=content,
        tool_calls=ToolCallRequest(calls, content) if calls else None,
        usage=normalize_usage(payload.get("usage")),
        model=model,
        finish_reason=normalize_stop_reason(stop_reason, bool(calls)),
        raw_response=payload,
        provider_data=_provider_data(reasoning, stop_reason, payload.get("additionalModelResponseFields")),
    )


# -- streaming -------------------------------------------------------------------------------
def _fragment(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json_fragment(value: Any) -> str:
    # a non-string input fragment is kept as JSON, so a broken call reports arguments_error
    if value is None or isinstance(value, str):
        return value or ""
    return json.dumps(value)


def _join_base64(head: str | None, tail: str) -> str:
    """Two base64 pieces of one blob (`redactedContent` is a Blob, base64 on this JSON wire): each
    delta is encoded on its own, so the bytes are joined, not the texts (a padded piece in the
    middle would not decode)."""
    if not head:
        return tail
    try:
        joined = base64.b64decode(head, validate=True) + base64.b64decode(tail, validate=True)
    except (binascii.Error, ValueError):
        return head + tail  # not base64 after all: kept as it came
    return base64.b64encode(joined).decode("ascii")


@dataclass
class _Block:
    kind: str  # "text", "toolUse", "reasoning"
    start: dict[str, Any] = field(default_factory=dict)
    parts: list[str] = field(default_factory=list)
    signature: str | None = None
    redacted: str | None = None
    stopped: bool = False
    call_index: int | None = None

    def tool_call(self) -> ToolCall:
        # a call without arguments streams no input (or ""): Converse answers the same call with
        # `input: {}`, and the streamed response must equal it
        raw = "".join(self.parts) or "{}"
        return ToolCall.from_raw(
            str(self.start.get("toolUseId") or ""), str(self.start.get("name") or ""), raw
        )

    def reasoning_block(self) -> dict[str, Any]:
        if self.redacted is not None and not self.parts:
            return {"reasoningContent": {"redactedContent": self.redacted}}
        text: dict[str, Any] = {"text": "".join(self.parts)}
        if self.signature is not None:
            text["signature"] = self.signature
        return {"reasoningContent": {"reasoningText": text}}


# json.loads(text) is decode() → raw_decode() → this C scanner, plus a whitespace regex at each end:
# for ~20 small events per turn the scanner alone, and json.loads whenever it would not say the same
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _event_json(data: bytes) -> Any:
    """`json.loads` of one event's payload (str, not bytes: loads(bytes) sniffs the encoding)."""
    text = data.decode()
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):  # whitespace around the value, trailing data, or not JSON
        return json.loads(text)
    return value


def _block_index(payload: Mapping[str, Any]) -> int:
    index = payload["contentBlockIndex"]
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"contentBlockIndex {index!r} is not an integer")
    return index


class BedrockStreamState:
    """Assembles a ConverseStream turn from its event-stream messages, by `contentBlockIndex`."""

    framing: ClassVar[str] = "eventstream"

    def __init__(self, provider: str = "bedrock", model: str | None = None) -> None:
        self.provider = provider
        self.model = model
        self.done = False
        self._blocks: dict[int, _Block] = {}
        self._calls = 0
        self._stop_reason: Any = None
        self._stopped = False
        self._usage: dict[str, int] | None = None
        self._extra: Any = None
        self._events = 0

    def feed(self, event: Any) -> list[StreamChunk]:
        if not isinstance(event, EventStreamMessage):
            raise ResponseParseError(
                f"{self.provider}: expected an event-stream message", provider=self.provider
            )
        kind = event.message_type
        if kind in ("exception", "error"):
            raise stream_error(self.provider, event)
        try:
            payload = _event_json(event.payload) if event.payload else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResponseParseError(
                f"{self.provider}: a stream event is not JSON ({exc})",
                provider=self.provider,
                body=event.payload,
            ) from exc
        if not isinstance(payload, dict):
            raise ResponseParseError(
                f"{self.provider}: a stream event is not an object", provider=self.provider, body=payload
            )
        self._events += 1
        try:
            return self._feed(str(event.event_type or ""), payload)
        except PARSE_ERRORS as exc:
            raise unexpected_shape(self.provider, "stream event", payload, exc) from exc

    def _block(self, index: int, kind: str) -> _Block:
        block = self._blocks.get(index)
        if block is None:
            block = self._blocks[index] = _Block(kind)
        return block

    def _feed(self, kind: str, payload: dict[str, Any]) -> list[StreamChunk]:
        if kind == "contentBlockStart":
            start = payload.get("start") or {}
            tool = start.get("toolUse")
            if not isinstance(tool, Mapping):
                return []  # image/toolResult starts: nothing of a tool-calling turn
            block = _Block("toolUse", dict(tool), call_index=self._calls)
            self._calls += 1
            self._blocks[_block_index(payload)] = block
            return [self._call_chunk(block, "", payload, with_header=True)]
        if kind == "contentBlockDelta":
            return self._delta(_block_index(payload), payload.get("delta") or {}, payload)
        if kind == "contentBlockStop":
            index = _block_index(payload)
            stopped = self._blocks.get(index)
            if stopped is None:
                return []
            stopped.stopped = True
            if stopped.kind == "toolUse":  # the call's input is complete (toolwire.tools.early)
                return [StreamChunk(completed_calls=[stopped.tool_call()], raw=payload)]
            return []
        if kind == "messageStop":
            self._stopped = True
            self._stop_reason = payload.get("stopReason")
            self._extra = payload.get("additionalModelResponseFields")
            finish = normalize_stop_reason(self._stop_reason, self._calls > 0)
            return [StreamChunk(finish_reason=finish, raw=payload)]
        if kind == "metadata":
            self._usage = normalize_usage(payload.get("usage"))
            self.done = True  # the last event of a ConverseStream
            return [StreamChunk(usage=self._usage, raw=payload)] if self._usage else []
        return []  # messageStart, and event types added later

    def _delta(self, index: int, delta: Mapping[str, Any], payload: dict[str, Any]) -> list[StreamChunk]:
        if "text" in delta:
            text = _fragment(delta["text"])
            self._block(index, "text").parts.append(text)
            return [StreamChunk(content=text, raw=payload)] if text else []
        if "toolUse" in delta:
            block = self._blocks.get(index)
            if block is None or block.kind != "toolUse":
                raise ValueError(f"toolUse delta for block {index} without its contentBlockStart")
            fragment = _json_fragment((delta["toolUse"] or {}).get("input"))
            block.parts.append(fragment)
            if not fragment:
                return []
            return [self._call_chunk(block, fragment, payload)]
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, Mapping):
            block = self._block(index, "reasoning")
            if "text" in reasoning:
                block.parts.append(_fragment(reasoning["text"]))
            if "signature" in reasoning:
                block.signature = (block.signature or "") + _fragment(reasoning["signature"])
            if "redactedContent" in reasoning:
                block.redacted = _join_base64(block.redacted, _fragment(reasoning["redactedContent"]))
        return []

    @classmethod
    def _call_chunk(
        cls, block: _Block, fragment: str, payload: dict[str, Any], *, with_header: bool = False
    ) -> StreamChunk:
        """The chunk for one tool-call delta, its typed `ToolCallDelta` built here from what is
        known (what `ToolCallDelta.from_wire` would read back from the dict, without reading it)."""
        delta = cls._call_delta(block, fragment, with_header=with_header)
        call_id = delta.get("id")
        name = delta["function"].get("name")
        typed = ToolCallDelta(
            index=block.call_index if block.call_index is not None else 0,
            id=str(call_id) if call_id else None,
            name=name if isinstance(name, str) and name else None,
            arguments=fragment,
        )
        return StreamChunk(tool_call_deltas=[delta], raw=payload, tool_calls=[typed])

    @staticmethod
    def _call_delta(block: _Block, fragment: str, *, with_header: bool = False) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": fragment}
        delta: dict[str, Any] = {"index": block.call_index, "type": "function", "function": function}
        if with_header:
            delta["id"] = block.start.get("toolUseId")
            function["name"] = block.start.get("name")
        return delta

    def _ordered(self) -> list[_Block]:
        return [self._blocks[i] for i in sorted(self._blocks)]

    def _text(self) -> str | None:
        return "".join("".join(b.parts) for b in self._ordered() if b.kind == "text") or None

    def partial(self) -> tuple[str | None, list[ToolCall]]:
        calls = []
        for block in self._ordered():
            if block.kind == "toolUse" and block.stopped:
                call = block.tool_call()
                if call.arguments_error is None:
                    calls.append(call)
        return self._text(), calls

    def result(self) -> GenerateResponse:
        if not self._stopped:
            content, calls = self.partial()
            raise StreamInterruptedError(
                f"{self.provider}: the stream ended without messageStop after {self._events} event(s)",
                partial_content=content,
                tool_calls=calls,
                provider=self.provider,
            )
        blocks = self._ordered()
        calls = [b.tool_call() for b in blocks if b.kind == "toolUse"]
        reasoning = [b.reasoning_block() for b in blocks if b.kind == "reasoning"]
        content = self._text()
        return GenerateResponse(
            content=content,
            tool_calls=ToolCallRequest(calls, content) if calls else None,
            usage=self._usage,
            model=self.model,
            finish_reason=normalize_stop_reason(self._stop_reason, bool(calls)),
            raw_response=None,
            provider_data=_provider_data(reasoning, self._stop_reason, self._extra),
        )


# -- errors ----------------------------------------------------------------------------------
# x-amzn-ErrorType (and stream exception) names → (error class, retryable override or None).
_ERRORS: dict[str, tuple[type[ProviderError], bool | None]] = {
    "throttlingexception": (RateLimitError, None),
    "servicequotaexceededexception": (RateLimitError, False),  # a quota does not refill by waiting
    "serviceunavailableexception": (ServerError, None),
    "modelnotreadyexception": (ServerError, None),  # HTTP 429 on the wire, but it means "retry soon"
    "internalserverexception": (ServerError, None),
    "modelstreamerrorexception": (ServerError, None),
    "modelerrorexception": (ServerError, False),  # the model failed on this input (HTTP 424)
    "modeltimeoutexception": (ProviderTimeoutError, None),
    "accessdeniedexception": (AuthenticationError, None),
    "unrecognizedclientexception": (AuthenticationError, None),
    "expiredtokenexception": (AuthenticationError, None),
    "invalidsignatureexception": (AuthenticationError, None),
    "incompletesignatureexception": (AuthenticationError, None),
    "missingauthenticationtokenexception": (AuthenticationError, None),
    "validationexception": (InvalidRequestError, None),
    "resourcenotfoundexception": (InvalidRequestError, None),
}
_STATUS_OF = {RateLimitError: 429, ServerError: 503, ProviderTimeoutError: 408, AuthenticationError: 403}
_CONTEXT_HINTS = ("too long", "too many tokens", "too many input tokens", "context length", "context window")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by its lowercase name, from httpx's case-insensitive headers or a plain dict."""
    value = headers.get(name)
    if value is None and not hasattr(headers, "get_list"):
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def _error_type(value: str | None) -> str | None:
    # "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/" → "ValidationException"
    if not value:
        return None
    return value.split(":", 1)[0].strip() or None


def _typed_error(
    code: str | None,
    status: int,
    message: str,
    *,
    provider: str,
    headers: Mapping[str, str],
    body: Any,
    request_id: str | None,
) -> ProviderError:
    entry = _ERRORS.get((code or "").lower())
    if entry is None:
        return build_provider_error(
            status, message, provider=provider, headers=headers, body=body, request_id=request_id, code=code
        )
    cls, retryable = entry
    if cls is InvalidRequestError and any(h in message.lower() for h in _CONTEXT_HINTS):
        cls = ContextLengthError
    kwargs: dict[str, Any] = {
        "provider": provider,
        "status_code": status,
        "request_id": request_id,
        "body": body,
        "code": code,
    }
    if cls is RateLimitError:
        from .._transport import parse_retry_after

        error: ProviderError = RateLimitError(message, retry_after=parse_retry_after(headers), **kwargs)
    else:
        error = cls(message, **kwargs)
    if retryable is not None:
        error.retryable = retryable
    return error


def bedrock_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str = "bedrock",
    request_id: str | None = None,
) -> ProviderError:
    """`x-amzn-ErrorType` header plus `{"message": ...}` body → the error tree."""
    payload: Any = decode_error_body(body)
    message = ""
    if isinstance(payload, Mapping):
        message = str(payload.get("message") or payload.get("Message") or "")
    elif isinstance(payload, str):
        message = payload
    code = _error_type(_header(headers, "x-amzn-errortype"))
    if code is None and isinstance(payload, Mapping):
        # no header (a proxy dropped it): botocore's rest-json parser reads the body's `code`, then
        # `__type` ("com.amazon.coral.validate#ValidationException", maybe with a ":..." suffix)
        names = (payload[k] for k in ("code", "Code", "__type") if isinstance(payload.get(k), str))
        named = next(names, None)
        code = _error_type(named.rsplit("#", 1)[-1]) if named else None
    text = f"{code}: {message}" if code and message else (message or code or f"HTTP {status}")
    return _typed_error(
        code, status, text, provider=provider, headers=headers, body=payload, request_id=request_id
    )


def stream_error(provider: str, event: EventStreamMessage) -> ProviderError:
    """An exception message inside a 200 ConverseStream (`:exception-type: throttlingException`)."""
    try:
        payload: Any = json.loads(event.payload) if event.payload else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = event.payload[:2000].decode("utf-8", "replace")
    code = str(event.headers.get(":exception-type") or event.headers.get(":error-code") or "") or None
    message = ""
    if isinstance(payload, Mapping):
        message = str(payload.get("message") or payload.get("Message") or "")
    message = message or str(event.headers.get(":error-message") or "")
    if code:
        code = code[:1].upper() + code[1:]  # stream names are camelCase: throttlingException
    entry = _ERRORS.get((code or "").lower())
    status = _STATUS_OF.get(entry[0], 400) if entry else 500  # type: ignore[call-overload]
    if isinstance(payload, Mapping) and isinstance(payload.get("originalStatusCode"), int):
        status = payload["originalStatusCode"]
    return _typed_error(
        code,
        status,
        f"{provider} reported an error inside the stream: {code}: {message}",
        provider=provider,
        headers={},
        body=payload,
        request_id=None,
    )
