"""Anthropic Messages API (`POST /v1/messages`): pure translation functions and the provider.

Our own lean wire layer; the `anthropic` SDK is only a test oracle. What differs from Chat
Completions and is handled here:

- the system prompt is a top-level `system` field, and roles must alternate user/assistant, so
  consecutive same-role messages are merged;
- an assistant turn is a list of content blocks: thinking blocks (echoed unchanged, signature
  included, or the API rejects the follow-up), text, then one `tool_use` block per call;
- every result of a turn goes back as `tool_result` blocks in ONE user message right after the
  assistant turn (tool_result blocks first, any user text after them), `is_error` for failures;
- tool-call ids must match `^[a-zA-Z0-9_-]+$`: ids from other providers are mapped by a hash,
  identically for the `tool_use` and its `tool_result`;
- `tool_choice` is an object (`auto`/`any`/`tool`/`none`) that also carries
  `disable_parallel_tool_use`;
- streaming is named SSE events assembled by content-block index; a no-argument tool streams an
  empty `partial_json` and becomes `{}`;
- HTTP 529 `overloaded_error` is a retryable `ServerError`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._framing import SSEEvent
from .._stream_events import decode_stream_event
from ..errors import ProviderError, ResponseParseError, StreamInterruptedError
from ..tools.definition import ToolDefinition
from ..types import (
    Capability,
    FinishReason,
    GenerateResponse,
    Message,
    ResponseFormat,
    StreamChunk,
    ToolCall,
    ToolCallRequest,
    ToolResult,
    content_parts,
)
from ._common import PENALTIES, StopReasons, refuse_params, summed_usage
from .base import (
    PARSE_ERRORS,
    BaseProvider,
    ChatRequest,
    build_provider_error,
    decode_error_body,
    structured_schema,
    unexpected_shape,
)

if TYPE_CHECKING:
    from ..image import Image

__all__ = [
    "ANTHROPIC_VERSION",
    "AnthropicProvider",
    "AnthropicStreamState",
    "anthropic_body",
    "anthropic_error",
    "anthropic_messages",
    "anthropic_tool_id",
    "anthropic_tools",
    "messages_body",
    "messages_payload",
    "normalize_stop_reason",
    "normalize_usage",
    "parse_anthropic",
    "parse_message",
    "tool_choice_payload",
    "tools_payload",
]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

_STOP_REASONS: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}
# stop reasons the neutral finish_reason cannot tell apart: the raw value is kept in provider_data
_KEEP_RAW_STOP = frozenset({"pause_turn", "model_context_window_exceeded", "refusal"})
_STOP = StopReasons(_STOP_REASONS, _KEEP_RAW_STOP)

# error.type -> HTTP status, for errors that arrive inside a 200 stream (no status of their own)
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}

_THINKING_TYPES = ("thinking", "redacted_thinking")
_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]+")


# -- request ---------------------------------------------------------------------------------
def anthropic_tool_id(call_id: str) -> str:
    """An id Anthropic accepts: kept when valid, else a stable hash (same input, same output),
    so a `call_…:3` from another provider maps identically in `tool_use` and `tool_result`."""
    if call_id and _ID_PATTERN.fullmatch(call_id):
        return call_id
    digest = hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:24]
    return f"toolu_tw{digest}"


def tools_payload(tools: Sequence[ToolDefinition], *, dialect: str = "json_schema") -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        entry: dict[str, Any] = {"name": tool.name, "input_schema": tool.parameters_for(dialect)}
        if tool.description:
            entry["description"] = tool.description
        out.append(entry)
    return out


def _thinking_blocks(message: Message) -> list[dict[str, Any]]:
    data = (message.provider_data or {}).get("anthropic")
    if not isinstance(data, Mapping):
        return []
    blocks = data.get("thinking") or ()
    return [dict(b) for b in blocks if isinstance(b, Mapping) and b.get("type") in _THINKING_TYPES]


class _TurnIds:
    """`anthropic_tool_id`, with the n-th repeat of an id within one turn made distinct."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def reset(self) -> None:
        self._seen.clear()

    def map(self, call_id: str) -> str:
        n = self._seen.get(call_id, 0)
        self._seen[call_id] = n + 1
        return anthropic_tool_id(call_id if n == 0 else f"{call_id}#{n}")


def _call_input(call: ToolCall) -> dict[str, Any]:
    # A call whose arguments did not parse has `{}` in `arguments`; Anthropic needs an object, so
    # the empty object is what goes back (the tool_result carries the parse error to the model).
    return dict(call.arguments)


def image_block(image: Image) -> dict[str, Any]:
    """An Anthropic `image` block: the URL (Anthropic fetches it) or the base64 bytes."""
    if image.data is None:
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    source = {"type": "base64", "media_type": image.media_type, "data": image.base64()}
    return {"type": "image", "source": source}


def _content_blocks(message: Message) -> list[dict[str, Any]]:
    # Anthropic rejects empty text blocks: an empty string adds nothing
    return [
        {"type": "text", "text": part} if isinstance(part, str) else image_block(part)
        for part in content_parts(message.content)
        if not isinstance(part, str) or part
    ]


def _tool_result_block(result: ToolResult, tool_use_id: str | None = None) -> dict[str, Any]:
    use_id = tool_use_id if tool_use_id is not None else anthropic_tool_id(result.call_id)
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": use_id}
    text = result.output_text()
    images = result.images()
    if images:
        # a tool_result's content may hold text and image blocks
        text_blocks = [{"type": "text", "text": text}] if text else []
        block["content"] = text_blocks + [image_block(image) for image in images]
    elif text:
        block["content"] = text
    if result.error is not None:
        block["is_error"] = True
    return block


def messages_payload(messages: Sequence[Message]) -> tuple[str | None, list[dict[str, Any]]]:
    """Neutral messages → (`system` text, Anthropic `messages`), roles alternating."""
    system_parts: list[str] = []
    out: list[dict[str, Any]] = []
    # calls of one turn sharing an id (several "" from a server that gives none) get distinct
    # Anthropic ids; the n-th result for an id answers the n-th call with it
    call_ids = _TurnIds()
    result_ids = _TurnIds()
    for message in messages:
        role = message.role
        blocks: list[dict[str, Any]] = []
        if role == "system":
            if message.text:
                system_parts.append(message.text)
            continue
        if role == "tool":
            if not message.tool_results:
                raise ValueError("a tool message needs tool_results (call_id, name, output)")
            result_ids.reset()
            blocks.extend(
                _tool_result_block(result, result_ids.map(result.call_id)) for result in message.tool_results
            )
            role = "user"
        elif role == "assistant":
            call_ids.reset()
            blocks.extend(_thinking_blocks(message))
            if message.text:
                blocks.append({"type": "text", "text": message.text})
            for call in message.tool_calls or ():
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call_ids.map(call.id),
                        "name": call.name,
                        "input": _call_input(call),
                    }
                )
        else:
            blocks.extend(_content_blocks(message))
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for entry in out:
        if entry["role"] == "user":
            # tool_result blocks must lead the user turn; stable sort keeps everything else in order
            entry["content"].sort(key=lambda b: 0 if b.get("type") == "tool_result" else 1)
    system = "\n\n".join(system_parts) if system_parts else None
    return system, out


def tool_choice_payload(choice: str | None, parallel: bool | None) -> dict[str, Any] | None:
    """`tool_choice` with `disable_parallel_tool_use` folded in (it has no top-level field)."""
    if choice is None and parallel is None:
        return None
    if choice == "none":
        return {"type": "none"}
    if choice is None or choice == "auto":
        # parallel_tool_calls alone still needs a tool_choice to ride on: auto is the default
        payload: dict[str, Any] = {"type": "auto"}
    elif choice == "required":
        payload = {"type": "any"}
    else:
        payload = {"type": "tool", "name": choice}
    if parallel is False:
        payload["disable_parallel_tool_use"] = True
    return payload


def messages_body(request: ChatRequest, *, default_max_tokens: int = DEFAULT_MAX_TOKENS) -> dict[str, Any]:
    """The JSON body of a Messages API request."""
    system, messages = messages_payload(request.messages)
    params = dict(request.params)
    refuse_params(params, PENALTIES, "anthropic: the Messages API")
    max_tokens = params.pop("max_tokens", None)
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": int(max_tokens) if max_tokens is not None else default_max_tokens,
        "messages": messages,
    }
    if system is not None:
        body["system"] = system
    body.update(params)
    tools: list[dict[str, Any]] = list(request.tool_payload or ()) if request.tools else []
    choice = tool_choice_payload(request.tool_choice, request.parallel_tool_calls) if request.tools else None
    if request.response_model is not None:
        # Structured output as a forced tool named after the model; its input is the answer.
        name = request.response_model.__name__
        if any(t.get("name") == name for t in tools):
            raise ValueError(f"anthropic: a tool is already named {name!r}, the response model's name")
        tools.append(
            {
                "name": name,
                "description": f"Answer with a {name} object.",
                "input_schema": structured_schema(request.response_model, "json_schema", strict=False),
            }
        )
        if not request.tools:
            choice = {"type": "tool", "name": name}
        elif request.tool_choice in (None, "auto", "required"):
            # With the caller's tools too, forcing this tool would answer at once and the tools
            # would never run (a Session looped on it): "any" lets the model call its tools first
            # and end with this one (issue 16 item 18).
            choice = tool_choice_payload("required", request.parallel_tool_calls)
    elif request.response_format is ResponseFormat.JSON:
        raise ValueError("anthropic: JSON mode is not native; pass a Pydantic model as response_format")
    if tools:
        body["tools"] = tools
    if choice is not None:
        body["tool_choice"] = choice
    if request.stream:
        body["stream"] = True
    for key, value in request.extra.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# -- response --------------------------------------------------------------------------------
def normalize_stop_reason(reason: Any, has_tool_calls: bool) -> FinishReason | None:
    return _STOP.normalize(reason, has_tool_calls)


def normalize_usage(usage: Any) -> dict[str, int] | None:
    """input (+ cache creation + cache read) → prompt, output → completion."""
    prompt = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return summed_usage(usage, prompt, "output_tokens")


def _provider_data(thinking: list[dict[str, Any]], stop_reason: Any) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    if thinking:
        data["thinking"] = thinking
    raw_stop = _STOP.raw_to_keep(stop_reason)
    if raw_stop is not None:
        data["stop_reason"] = raw_stop
    return {"anthropic": data} if data else None


def _refusal(stop_reason: Any, content: str | None) -> str | None:
    if stop_reason != "refusal":
        return None
    return content or "the model declined to answer (stop_reason: refusal)"


def parse_message(payload: Any, *, provider: str = "anthropic") -> GenerateResponse:
    """A Messages API response body → `GenerateResponse` (every `tool_use` block of the turn)."""
    try:
        return _parse_message(payload, provider)
    except PARSE_ERRORS as exc:
        raise unexpected_shape(provider, "message", payload, exc) from exc


def _parse_message(payload: Any, provider: str) -> GenerateResponse:
    if not isinstance(payload, Mapping):
        raise ResponseParseError(
            f"{provider}: expected a JSON object, got {type(payload).__name__}",
            provider=provider,
            body=payload,
        )
    if payload.get("type") == "error" or ("error" in payload and "content" not in payload):
        raise ResponseParseError(
            f"{provider}: the response carries an error: {payload.get('error')!r}",
            provider=provider,
            body=payload,
        )
    blocks = payload.get("content")
    if not isinstance(blocks, list):
        raise ResponseParseError(
            f"{provider}: the message has no content list", provider=provider, body=payload
        )
    texts: list[str] = []
    calls: list[ToolCall] = []
    thinking: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            raw_input = block.get("input")
            if raw_input is not None and not isinstance(raw_input, (Mapping, str)):
                raw_input = json.dumps(raw_input)
            calls.append(ToolCall.from_raw(str(block["id"]), str(block.get("name") or ""), raw_input))
        elif kind in _THINKING_TYPES:
            thinking.append(dict(block))
    content = "".join(texts) or None
    stop_reason = payload.get("stop_reason")
    return GenerateResponse(
        content=content,
        tool_calls=ToolCallRequest(calls, content) if calls else None,
        usage=normalize_usage(payload.get("usage")),
        model=payload.get("model"),
        finish_reason=normalize_stop_reason(stop_reason, bool(calls)),
        raw_response=payload,
        refusal=_refusal(stop_reason, content),
        id=payload.get("id"),
        provider_data=_provider_data(thinking, stop_reason),
    )


# -- streaming -------------------------------------------------------------------------------
def _block_index(payload: Mapping[str, Any]) -> int:
    index = payload["index"]
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"content block index {index!r} is not an integer")
    return index


def _fragment(value: Any) -> str:
    # Streamed text, thinking and signature fragments are strings on the wire; anything else is
    # dropped here, as partial() and result() join them outside the shape guard.
    return value if isinstance(value, str) else ""


def _json_fragment(value: Any) -> str:
    # A non-string partial_json is kept as its JSON, as the non-streamed reader keeps a non-object
    # `input`: dropping it would turn a broken call into a valid call with `{}` arguments.
    if value is None or isinstance(value, str):
        return value or ""
    return json.dumps(value)


@dataclass
class _Block:
    kind: str
    start: dict[str, Any]
    parts: list[str] = field(default_factory=list)
    signature: str | None = None
    stopped: bool = False
    call_index: int | None = None

    def tool_call(self) -> ToolCall:
        # input_json_delta fragments, or the start block's input when no delta came at all
        if self.parts:
            raw: str | Mapping[str, Any] | None = "".join(self.parts)
        else:
            raw = self.start.get("input") if isinstance(self.start.get("input"), Mapping) else None
        return ToolCall.from_raw(str(self.start.get("id") or ""), str(self.start.get("name") or ""), raw)

    def thinking_block(self) -> dict[str, Any]:
        block = dict(self.start)
        if self.kind == "thinking":
            block["thinking"] = str(block.get("thinking") or "") + "".join(self.parts)
            if self.signature is not None:
                block["signature"] = self.signature
        return block


class AnthropicStreamState:
    """Assembles a streamed Messages API turn from its named SSE events, by content-block index."""

    def __init__(self, provider: str = "anthropic") -> None:
        self.provider = provider
        self.done = False
        self._blocks: dict[int, _Block] = {}
        self._order: list[int] = []
        self._calls = 0
        self._id: str | None = None
        self._model: str | None = None
        self._usage_raw: dict[str, Any] = {}
        self._stop_reason: Any = None
        self._stopped = False
        self._events = 0

    def feed(self, event: SSEEvent) -> list[StreamChunk]:
        payload = decode_stream_event(event, self.provider)
        if payload is None:
            return []
        kind = str(payload.get("type") or event.event or "")
        if kind == "error" or event.event == "error":
            raise stream_error(self.provider, payload)
        self._events += 1
        try:
            return self._feed(kind, payload)
        except PARSE_ERRORS as exc:
            raise unexpected_shape(self.provider, "stream event", payload, exc) from exc

    def _feed(self, kind: str, payload: dict[str, Any]) -> list[StreamChunk]:
        if kind == "message_start":
            message = payload.get("message") or {}
            self._id = message.get("id") or self._id
            self._model = message.get("model") or self._model
            self._merge_usage(message.get("usage"))
            return []
        if kind == "content_block_start":
            index = _block_index(payload)
            start = dict(payload.get("content_block") or {})
            if "text" in start:
                start["text"] = _fragment(start["text"])
            block = _Block(str(start.get("type")), start)
            if index not in self._blocks:
                self._order.append(index)  # a repeated start replaces its block, never doubles it
            self._blocks[index] = block
            if block.kind == "text" and start.get("text"):
                return [StreamChunk(content=start["text"], raw=payload)]
            if block.kind == "tool_use":
                block.call_index = self._calls
                self._calls += 1
                delta = self._call_delta(block, "", with_header=True)
                return [StreamChunk(tool_call_deltas=[delta], raw=payload)]
            return []
        if kind == "content_block_delta":
            block = self._blocks[_block_index(payload)]
            delta = payload.get("delta") or {}
            delta_type = delta.get("type")
            if delta_type == "text_delta":
                text = _fragment(delta.get("text"))
                block.parts.append(text)
                return [StreamChunk(content=text, raw=payload)] if text else []
            if delta_type == "input_json_delta":
                fragment = _json_fragment(delta.get("partial_json"))
                block.parts.append(fragment)
                if not fragment:
                    return []
                return [StreamChunk(tool_call_deltas=[self._call_delta(block, fragment)], raw=payload)]
            if delta_type == "thinking_delta":
                block.parts.append(_fragment(delta.get("thinking")))
            elif delta_type == "signature_delta":
                block.signature = (block.signature or "") + _fragment(delta.get("signature"))
            return []
        if kind == "content_block_stop":
            block = self._blocks[_block_index(payload)]
            block.stopped = True
            if block.kind == "tool_use":  # the call's input_json is complete
                return [StreamChunk(completed_calls=[block.tool_call()], raw=payload)]
            return []
        if kind == "message_delta":
            delta = payload.get("delta") or {}
            if delta.get("stop_reason") is not None:
                self._stop_reason = delta["stop_reason"]
            self._merge_usage(payload.get("usage"))
            finish = normalize_stop_reason(self._stop_reason, self._calls > 0)
            return [StreamChunk(finish_reason=finish, usage=self._usage(), raw=payload)]
        if kind == "message_stop":
            self._stopped = True
            self.done = True
            return []
        return []  # ping, and event types added later

    def _merge_usage(self, usage: Any) -> None:
        # message_delta usage is cumulative; later values replace earlier ones key by key
        if isinstance(usage, Mapping):
            for key, value in usage.items():
                if value is not None:
                    self._usage_raw[key] = value

    def _usage(self) -> dict[str, int] | None:
        return normalize_usage(self._usage_raw)

    @staticmethod
    def _call_delta(block: _Block, fragment: str, *, with_header: bool = False) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": fragment}
        delta: dict[str, Any] = {"index": block.call_index, "type": "function", "function": function}
        if with_header:
            delta["id"] = block.start.get("id")
            function["name"] = block.start.get("name")
        return delta

    def _ordered(self) -> list[_Block]:
        return [self._blocks[i] for i in sorted(self._order)]

    def _text(self) -> str | None:
        parts = [
            _fragment(b.start.get("text")) + "".join(b.parts) for b in self._ordered() if b.kind == "text"
        ]
        return "".join(parts) or None

    def partial(self) -> tuple[str | None, list[ToolCall]]:
        calls = []
        for block in self._ordered():
            if block.kind == "tool_use" and block.stopped:
                call = block.tool_call()
                if call.arguments_error is None:
                    calls.append(call)
        return self._text(), calls

    def result(self) -> GenerateResponse:
        if not self._stopped and self._stop_reason is None:
            content, calls = self.partial()
            raise StreamInterruptedError(
                f"{self.provider}: the stream ended without message_delta/message_stop "
                f"after {self._events} event(s)",
                partial_content=content,
                tool_calls=calls,
                provider=self.provider,
            )
        blocks = self._ordered()
        calls = [b.tool_call() for b in blocks if b.kind == "tool_use"]
        thinking = [b.thinking_block() for b in blocks if b.kind in _THINKING_TYPES]
        content = self._text()
        return GenerateResponse(
            content=content,
            tool_calls=ToolCallRequest(calls, content) if calls else None,
            usage=self._usage(),
            model=self._model,
            finish_reason=normalize_stop_reason(self._stop_reason, bool(calls)),
            raw_response=None,
            refusal=_refusal(self._stop_reason, content),
            id=self._id,
            provider_data=_provider_data(thinking, self._stop_reason),
        )


# -- errors ----------------------------------------------------------------------------------
def _read_error(payload: Any) -> tuple[str, str | None]:
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if isinstance(error, Mapping):
        code = error.get("type")
        return str(error.get("message") or ""), str(code) if code is not None else None
    if isinstance(payload, Mapping):
        return str(payload.get("message") or payload), None
    return (str(payload) if payload else ""), None


def anthropic_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str = "anthropic",
    request_id: str | None = None,
) -> ProviderError:
    """`{"type": "error", "error": {"type", "message"}, "request_id"}` → the error tree."""
    payload: Any = decode_error_body(body)
    message, code = _read_error(payload)
    if request_id is None and isinstance(payload, Mapping) and payload.get("request_id"):
        request_id = str(payload["request_id"])
    if code == "overloaded_error" and status < 500:
        status = 529  # the meaning wins over a proxy's rewritten status
    return build_provider_error(
        status,
        message or f"HTTP {status}",
        provider=provider,
        headers=headers,
        body=payload,
        request_id=request_id,
        code=code,
    )


def stream_error(provider: str, payload: Any) -> ProviderError:
    """An `event: error` inside a 200 stream, typed by its error.type (overloaded → ServerError)."""
    message, code = _read_error(payload)
    status = _ERROR_STATUS.get(code or "", 500)
    request_id = payload.get("request_id") if isinstance(payload, Mapping) else None
    return build_provider_error(
        status,
        f"{provider} reported an error inside the stream: {message}",
        provider=provider,
        headers={},
        body=payload,
        request_id=str(request_id) if request_id else None,
        code=code,
    )


# -- provider --------------------------------------------------------------------------------
_ANTHROPIC_CAPABILITIES = frozenset(
    {
        Capability.FUNCTION_CALLING,
        Capability.PARALLEL_TOOL_CALLS,
        Capability.STREAMING,
        Capability.STREAMING_TOOLS,
        Capability.STRUCTURED_OUTPUT,
        Capability.VISION,
        Capability.SYSTEM_PROMPT,
        Capability.ASYNC,
    }
)


def _structured_from_tool(name: str, response: GenerateResponse) -> None:
    """Move the forced structured-output tool call into `content` (its JSON), so the shared
    `finish` validates it into `parsed` exactly like a native structured-output answer."""
    if response.tool_calls is None:
        return
    forced = [c for c in response.tool_calls if c.name == name]
    if not forced:
        return
    others = [c for c in response.tool_calls if c.name != name]
    call = forced[0]
    response.content = call.raw_arguments if call.arguments_error is not None else json.dumps(call.arguments)
    response.tool_calls = ToolCallRequest(others, response.content) if others else None
    if not others and response.finish_reason == "tool_calls":
        response.finish_reason = "stop"


class AnthropicProvider(BaseProvider):
    """Anthropic's Messages API (`https://api.anthropic.com/v1/messages`)."""

    name: ClassVar[str] = "anthropic"
    otel_provider_name: ClassVar[str] = "anthropic"
    default_capabilities: ClassVar[frozenset[Capability]] = _ANTHROPIC_CAPABILITIES
    # Claude 2 and Instant predate image input (docs.anthropic.com, Models overview)
    model_capability_rules: ClassVar[tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...]] = (
        ("claude-2*", frozenset(), frozenset({Capability.VISION})),
        ("claude-instant*", frozenset(), frozenset({Capability.VISION})),
    )
    requires_model: ClassVar[bool] = True
    example_model: ClassVar[str | None] = "claude-sonnet-4-5"
    api_key_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    base_url_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_BASE_URL",)
    default_base_url: ClassVar[str | None] = "https://api.anthropic.com"
    tool_dialect: ClassVar[str] = "json_schema"
    request_id_headers: ClassVar[tuple[str, ...]] = ("request-id", "x-request-id")
    # "Maximum image size: 5MB per image" for the API (docs.anthropic.com, Vision); URL sources
    # are fetched by the service
    max_image_bytes: ClassVar[int] = 5 * 1024 * 1024

    def configure(
        self,
        *,
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
        anthropic_version: str = ANTHROPIC_VERSION,
        **options: Any,
    ) -> None:
        super().configure(**options)
        if default_max_tokens < 1:
            from ..errors import ConfigurationError

            raise ConfigurationError(f"anthropic: default_max_tokens must be >= 1, got {default_max_tokens}")
        # max_tokens is required by the Messages API; this fills it when a call gives none
        self.default_max_tokens = default_max_tokens
        self.anthropic_version = anthropic_version

    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        return parse_message(payload, provider=cls.name)

    @classmethod
    def tools_payload(cls, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        return tools_payload(tools, dialect=cls.tool_dialect)

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        return messages_body(request, default_max_tokens=self.default_max_tokens)

    def endpoint(self, request: ChatRequest) -> str:
        return f"{self.base_url}/v1/messages"

    def static_headers(self) -> dict[str, str]:
        headers = super().static_headers()
        headers["anthropic-version"] = self.anthropic_version
        return headers

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key} if self._api_key else {}

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_message(payload, provider=self.name)

    def new_stream_state(self, request: ChatRequest) -> AnthropicStreamState:
        return AnthropicStreamState(self.name)

    def finish(self, request: ChatRequest, response: GenerateResponse) -> GenerateResponse:
        if request.response_model is not None:
            _structured_from_tool(request.response_model.__name__, response)
        return super().finish(request, response)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return anthropic_error(status, headers, body, provider=self.name, request_id=self.request_id(headers))


# The wire functions under the one naming scheme of provider modules: `<wire>_body`,
# `<wire>_messages`, `<wire>_tools`, `<wire>_error`, `parse_<wire>` (the names above stay).
anthropic_body = messages_body
anthropic_messages = messages_payload
anthropic_tools = tools_payload
parse_anthropic = parse_message
