"""Chat Completions responses and streams: a `ChatCompletion` body (or Ollama's native `/api/chat`
answer) → `GenerateResponse`, and the stream state that assembles `chat.completion.chunk` events.

Split out of `providers/openai.py` (which re-exports every name here).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._framing import SSEEvent
from .._provider_data import ProviderData, keyed
from .._stream_events import decode_stream_event, stream_error_from_event
from ..errors import ProviderError, ResponseParseError, StreamInterruptedError
from ..types import (
    FinishReason,
    GenerateResponse,
    StreamChunk,
    ToolCall,
    ToolCallDelta,
    ToolCallRequest,
)

# The usage-count and generated-id helpers are shared by every parser: they live in `_common`.
from ._common import generated_call_id as generated_call_id
from ._common import is_token_count as is_token_count
from ._common import token_count as token_count
from ._common import turn_seed as turn_seed
from .base import (
    PARSE_ERRORS,
    build_provider_error,
    decode_error_body,
    unexpected_shape,
)

if TYPE_CHECKING:
    pass

_FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "end_turn": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
}

# Reasoning models take max_completion_tokens and reject max_tokens.


# -- response --------------------------------------------------------------------------------
def normalize_finish_reason(reason: Any, has_tool_calls: bool) -> FinishReason | None:
    if has_tool_calls and reason in (None, "stop", "tool_calls", "function_call", "eos", "end_turn"):
        # Ollama/vLLM say "stop" for a turn that called tools; some servers say nothing.
        return "tool_calls"
    if reason is None:
        return None
    # A server's own word (llama.cpp, vLLM "abort") ended the turn: "stop", raw kept by the caller.
    return _FINISH_REASONS.get(str(reason).lower(), "stop")


def raw_finish_data(reason: Any, provider: str) -> dict[str, Any] | None:
    """`{provider: {"finish_reason": raw}}` when the raw reason is not one the normalizer knows,
    so a server-specific reason stays readable after normalizing to "stop"."""
    if reason is None or str(reason).lower() in _FINISH_REASONS:
        return None
    return {provider: {"finish_reason": reason}}


def own_data(own: dict[str, Any], reason: Any, provider: str) -> ProviderData | None:
    """A turn's `provider_data`: everything under the provider's name (filter results, reasoning,
    a finish reason the normalizer does not know), the old top-level reads forwarded with a warning."""
    raw = raw_finish_data(reason, provider)
    if raw:
        own = {**own, **raw[provider]}
    return keyed({provider: own}, provider) if own else None


def normalize_usage(usage: Any) -> dict[str, int] | None:
    if not isinstance(usage, Mapping):
        return None
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    total = usage.get("total_tokens")
    if prompt is None and completion is None and total is None:
        return None
    prompt_i = token_count(prompt)
    completion_i = token_count(completion)
    return {
        "prompt_tokens": prompt_i,
        "completion_tokens": completion_i,
        "total_tokens": token_count(total) if is_token_count(total) else prompt_i + completion_i,
    }


def _text(content: Any) -> str | None:
    # "" (Ollama, Hugging Face, Mistral beside tool calls) and null mean the same: no text. A
    # streamed turn assembles to None too, and one turn must look the same streamed or not.
    if content is None or isinstance(content, str):
        return content or None
    if isinstance(content, list):
        return "".join(_part_texts(content)) or None
    return str(content)


def _part_texts(parts: list[Any]) -> list[str]:
    # content parts ({"type": "text", "text": ...}); anything else in the list carries no text
    return [p["text"] for p in parts if isinstance(p, Mapping) and isinstance(p.get("text"), str)]


def _delta_text(content: Any) -> str:
    """A streamed `delta.content` as text: a string, or the text of content parts. Anything else
    is not text and is dropped, so the assembled turn is always a string."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_part_texts(content))
    return ""


def _tool_call(raw: Mapping[str, Any], index: int, seed: str | None, provider: str) -> ToolCall:
    function = raw.get("function")
    if not isinstance(function, Mapping):
        function = raw
    name = str(function.get("name") or "")
    call_id = raw.get("id") or generated_call_id(seed, index, name)
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, (str, Mapping)):
        arguments = json.dumps(arguments)
    extra = _extra_content(raw, None)
    data = {provider: extra} if extra else None
    return ToolCall.from_raw(str(call_id), name, arguments, provider_data=data)


def _extra_content(raw: Mapping[str, Any], kept: dict[str, Any] | None) -> dict[str, Any] | None:
    """A tool call's `extra_content`, merged into what a stream kept so far. Gemini's
    OpenAI-compatible endpoint puts the call's `google.thought_signature` there; Gemini 3 answers
    400 when it is not sent back on that call (ai.google.dev/gemini-api/docs/thought-signatures)."""
    extra = raw.get("extra_content")
    if not isinstance(extra, Mapping) or not extra:
        return kept
    merged = dict((kept or {}).get("extra_content") or {})
    for vendor, value in extra.items():
        old = merged.get(vendor)
        merged[vendor] = (
            {**old, **value} if isinstance(old, Mapping) and isinstance(value, Mapping) else value
        )
    return {"extra_content": merged}


# The keys of a plain delta (text, tool calls): only a delta with other keys is searched for a
# refusal, a legacy `function_call`, reasoning text or Gemini's `extra_content`.
_PLAIN_DELTA_KEYS = frozenset({"role", "content", "tool_calls"})
_FILTER_KEYS = ("prompt_filter_results", "prompt_annotations", "content_filter_results")
_REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")


def parse_chat_completion(payload: Any, *, provider: str = "openai") -> GenerateResponse:
    """A Chat Completions response body → `GenerateResponse` (every tool call of the turn)."""
    try:
        return _parse_chat_completion(payload, provider)
    except PARSE_ERRORS as exc:
        raise unexpected_shape(provider, "chat completion", payload, exc) from exc


def _parse_chat_completion(payload: Any, provider: str) -> GenerateResponse:
    if not isinstance(payload, Mapping):
        raise ResponseParseError(
            f"{provider}: expected a JSON object, got {type(payload).__name__}",
            provider=provider,
            body=payload,
        )
    choices = payload.get("choices")
    if isinstance(payload.get("error"), (Mapping, str)) and not choices:
        # An error body behind a success status (proxies; Azure's prompt filter as recorded by
        # openllmetry): read it like any error so a filtered prompt is a ContentFilterError.
        status = payload["error"].get("status") if isinstance(payload["error"], Mapping) else None
        raise openai_error(
            status if isinstance(status, int) and status >= 400 else 200,
            {},
            json.dumps(payload).encode(),
            provider=provider,
            request_id=None,
        )
    if choices is None and isinstance(payload.get("message"), Mapping):
        return _parse_ollama_native(payload, provider)
    if not isinstance(choices, list) or not choices:
        raise ResponseParseError(f"{provider}: the response has no choices", provider=provider, body=payload)
    choice = choices[0]
    message = choice.get("message") or {}
    seed = payload.get("id")
    turn = turn_seed(seed)
    calls = [_tool_call(raw, i, turn, provider) for i, raw in enumerate(message.get("tool_calls") or ())]
    legacy = message.get("function_call")
    if not calls and isinstance(legacy, Mapping):
        calls = [_tool_call({"function": legacy}, 0, turn, provider)]
    content = _text(message.get("content"))
    own: dict[str, Any] = {}
    for key in _FILTER_KEYS:
        if payload.get(key):
            own[key] = payload[key]
    if choice.get("content_filter_results"):
        own["content_filter_results"] = choice["content_filter_results"]
    # Kept under the server's own field name: DeepSeek requires `reasoning_content` back on the
    # assistant turn that called tools, while Groq rejects that field (it sends `reasoning`).
    for key in _REASONING_KEYS:
        if message.get(key):
            own[key] = message[key]
    own.update(_extra_content(message, None) or {})  # Gemini's signature on the turn
    return GenerateResponse(
        content=content,
        tool_calls=ToolCallRequest(calls, content) if calls else None,
        usage=normalize_usage(payload.get("usage")),
        model=payload.get("model"),
        finish_reason=normalize_finish_reason(choice.get("finish_reason"), bool(calls)),
        raw_response=payload,
        refusal=message.get("refusal"),
        id=seed,
        provider_data=own_data(own, choice.get("finish_reason"), provider),
    )


def _parse_ollama_native(payload: Mapping[str, Any], provider: str) -> GenerateResponse:
    """Ollama's native `/api/chat` body (arguments are objects, counts are `*_eval_count`), so
    `standardize_tool_response(body, "ollama")` reads what a user got from the ollama client."""
    prompt = payload.get("prompt_eval_count")
    completion = payload.get("eval_count")
    usage = None
    if prompt is not None or completion is not None:
        usage = normalize_usage({"prompt_tokens": prompt or 0, "completion_tokens": completion or 0})
    wrapped = {
        "id": payload.get("id"),
        "model": payload.get("model"),
        "choices": [{"message": payload["message"], "finish_reason": payload.get("done_reason")}],
    }
    parsed = _parse_chat_completion(wrapped, provider)
    parsed.usage = usage
    parsed.raw_response = payload
    return parsed


# -- streaming -------------------------------------------------------------------------------
@dataclass
class _CallBuffer:
    index: int | None
    id: str | None
    name: str = ""
    parts: list[str] = field(default_factory=list)
    arguments_object: Mapping[str, Any] | None = None
    provider_data: dict[str, Any] | None = None  # the call's `extra_content` (Gemini's signature)

    def to_call(self, position: int, seed: str | None, provider: str) -> ToolCall:
        call_id = str(self.id) if self.id else generated_call_id(seed, position, self.name)
        data = {provider: dict(self.provider_data)} if self.provider_data else None
        if self.arguments_object is not None and not self.parts:
            return ToolCall.from_raw(call_id, self.name, self.arguments_object, provider_data=data)
        return ToolCall.from_raw(call_id, self.name, "".join(self.parts), provider_data=data)


class ChatCompletionStreamState:
    """Assembles a streamed Chat Completions turn.

    Tool-call deltas are routed by id first, then by index: a new id opens a new call even at an
    index already in use (Ollama and others give every parallel call index 0), a repeated id
    continues its call (OpenRouter repeats id and name), and a delta without id continues the call
    at its index (or the last call when there is no index, as Mistral sends whole calls).
    """

    def __init__(self, provider: str = "openai") -> None:
        self.provider = provider
        self.done = False
        self._text: list[str] = []
        self._refusal: list[str] = []
        self._calls: list[_CallBuffer] = []
        self._by_index: dict[int, _CallBuffer] = {}
        self._by_id: dict[str, _CallBuffer] = {}
        self._finish_reason: Any = None
        self._usage: dict[str, int] | None = None
        self._model: str | None = None
        self._id: str | None = None
        self._nonce = uuid.uuid4().hex[:12]
        self._own: dict[str, Any] = {}  # provider_data[provider]
        self._events = 0
        self._reported = 0  # calls already announced in `completed_calls`

    def feed(self, event: SSEEvent) -> list[StreamChunk]:
        if event.data == "[DONE]":
            self.done = True
            return []
        payload = decode_stream_event(event, self.provider)
        if payload is None:
            return []
        if event.event == "error" or ("error" in payload and not payload.get("choices")):
            raise stream_error_from_event(self.provider, payload)
        self._events += 1
        try:
            return self._feed(payload)
        except PARSE_ERRORS as exc:
            raise unexpected_shape(self.provider, "stream event", payload, exc) from exc

    def _feed(self, payload: dict[str, Any]) -> list[StreamChunk]:
        get = payload.get
        if self._id is None and get("id"):
            self._id = payload["id"]
        model = get("model")
        if model:
            self._model = model
        usage = get("usage")
        if usage:
            self._usage = normalize_usage(usage)
        if get("prompt_filter_results"):
            self._own["prompt_filter_results"] = payload["prompt_filter_results"]
        choices = get("choices")
        if not choices:
            return [StreamChunk(usage=self._usage, raw=payload)] if usage else []
        chunks = []
        for choice in choices:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            # only strings are kept: partial() and result() join them outside the shape guard
            content = delta.get("content")
            text = content if type(content) is str else _delta_text(content) if content is not None else ""
            if text:
                self._text.append(text)
            deltas = delta.get("tool_calls")
            typed: list[ToolCallDelta] | None = None
            if deltas:
                # each delta read once: merged into its call and typed for the chunk (what
                # `StreamChunk` would otherwise derive from the dicts again)
                if len(deltas) == 1:  # one fragment per chunk, as OpenAI streams them
                    typed = [self._merge(deltas[0], 0)]
                else:
                    typed = [self._merge(raw, position) for position, raw in enumerate(deltas)]
            if not delta.keys() <= _PLAIN_DELTA_KEYS:  # a refusal, reasoning text, `extra_content`
                self._read_extra(delta, bool(deltas))
            raw_finish = choice.get("finish_reason")
            finish = normalize_finish_reason(raw_finish, bool(self._calls)) if raw_finish else None
            if raw_finish:
                self._finish_reason = raw_finish
            if choice.get("content_filter_results"):
                self._own["content_filter_results"] = choice["content_filter_results"]
            # a call is complete once the next one opens, all of them at the finish
            completed = (
                self._completed_calls(bool(finish))
                if finish or len(self._calls) - 1 > self._reported
                else None
            )
            if text or deltas or finish or completed:
                chunks.append(
                    StreamChunk(
                        text or None,
                        deltas or None,
                        finish,
                        self._usage if usage else None,
                        payload,
                        typed,
                        completed,
                    )
                )
        return chunks

    def _read_extra(self, delta: Mapping[str, Any], has_tool_calls: bool) -> None:
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._refusal.append(refusal)
        if not has_tool_calls and isinstance(delta.get("function_call"), Mapping):
            self._merge({"index": 0, "function": delta["function_call"]}, 0)
        for key in _REASONING_KEYS:
            reasoning = delta.get(key)
            if isinstance(reasoning, str) and reasoning:
                self._own[key] = self._own.get(key, "") + reasoning
        self._own.update(_extra_content(delta, self._own) or {})

    def _completed_calls(self, finished: bool) -> list[ToolCall] | None:
        """Calls stream one after another: once the next call opens (or the finish chunk arrives),
        every earlier call's arguments are complete. A call that still grows after being reported
        (interleaving servers) differs from the final one, which is what the turn uses."""
        upto = len(self._calls) if finished else len(self._calls) - 1
        if upto <= self._reported:
            return None
        calls = [self._calls[i].to_call(i, self._id, self.provider) for i in range(self._reported, upto)]
        self._reported = upto
        return calls

    def _merge(self, raw: Mapping[str, Any], position: int) -> ToolCallDelta:
        """Merge one tool-call delta into its call; returns it typed, as `ToolCallDelta.from_wire`
        reads it (`position` is its place in the chunk's list, for a delta without index)."""
        index = raw.get("index")
        call_id = raw.get("id") or None
        wire_function = raw.get("function")
        function = wire_function or {}
        buffer: _CallBuffer | None = None
        if call_id is not None:
            buffer = self._by_id.get(call_id)
            if buffer is not None and index is not None and buffer.index not in (None, index):
                buffer = None  # another call reusing an id: its own call, as unstreamed
            if buffer is None:
                current = self._by_index.get(index) if index is not None else None
                if current is not None and current.id is None:
                    buffer = current  # the id arrived after the first fragment
                    buffer.id = call_id
                else:
                    buffer = self._open(index, call_id)
                self._by_id[call_id] = buffer
        elif index is not None:
            buffer = self._by_index.get(index) or self._open(index, None)
        else:
            buffer = self._calls[-1] if self._calls else self._open(None, None)
        name = function.get("name")
        if isinstance(name, str) and name and not buffer.name:
            buffer.name = name
        if "extra_content" in raw:
            buffer.provider_data = _extra_content(raw, buffer.provider_data)
        arguments = function.get("arguments")
        if type(arguments) is str:
            if arguments:
                buffer.parts.append(arguments)
        elif isinstance(arguments, Mapping):
            buffer.arguments_object = arguments  # Ollama sends whole argument objects
        elif arguments is not None:
            # not a fragment: kept as its JSON, as the non-streamed reader does, so the call
            # reports an arguments_error instead of the join failing in partial()/result()
            buffer.parts.append(json.dumps(arguments))
        if type(wire_function) is not dict and not isinstance(wire_function, Mapping):
            return ToolCallDelta.from_wire(raw, position)  # a flat delta: read as from_wire does
        if type(arguments) is not str:
            arguments = json.dumps(arguments, ensure_ascii=False) if arguments is not None else ""
        return ToolCallDelta(
            index if type(index) is int else position,
            str(call_id) if call_id else None,
            name if type(name) is str and name else None,
            arguments,
        )

    def _open(self, index: int | None, call_id: str | None) -> _CallBuffer:
        buffer = _CallBuffer(index, call_id)
        self._calls.append(buffer)
        if index is not None:
            self._by_index[index] = buffer
        return buffer

    def _tool_calls(self) -> list[ToolCall]:
        seed = turn_seed(self._id, self._nonce)  # stable within this turn, unique across turns
        return [b.to_call(i, seed, self.provider) for i, b in enumerate(self._calls)]

    def partial(self) -> tuple[str | None, list[ToolCall]]:
        calls = [c for c in self._tool_calls() if c.arguments_error is None]
        return ("".join(self._text) or None), calls

    def result(self) -> GenerateResponse:
        if not self.done and self._finish_reason is None:
            content, calls = self.partial()
            raise StreamInterruptedError(
                f"{self.provider}: the stream ended without a finish reason or [DONE] "
                f"after {self._events} event(s)",
                partial_content=content,
                tool_calls=calls,
                provider=self.provider,
            )
        calls = self._tool_calls()
        content = "".join(self._text) or None
        return GenerateResponse(
            content=content,
            tool_calls=ToolCallRequest(calls, content) if calls else None,
            usage=self._usage,
            model=self._model,
            finish_reason=normalize_finish_reason(self._finish_reason, bool(calls)),
            raw_response=None,
            refusal="".join(self._refusal) or None,
            id=self._id,
            provider_data=own_data(self._own, self._finish_reason, self.provider),
        )


# -- errors ----------------------------------------------------------------------------------
def openai_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str,
    request_id: str | None,
) -> ProviderError:
    """An error response in the OpenAI shape (also llama.cpp, vLLM, Ollama, Groq, Azure)."""
    payload: Any = decode_error_body(body)
    message = ""
    code: str | None = None
    filter_results: Any = None
    error = payload.get("error") if isinstance(payload, Mapping) else None
    if isinstance(error, Mapping):
        message = str(error.get("message") or "")
        raw_code = error.get("code") or error.get("type")
        code = str(raw_code) if raw_code is not None else None
        inner = error.get("innererror")
        if isinstance(inner, Mapping):
            if inner.get("code") == "ResponsibleAIPolicyViolation":
                code = "content_filter"
            filter_results = inner.get("content_filter_result") or inner.get("content_filter_results")
        if code == "content_filter" and filter_results is None:
            filter_results = error.get("content_filter_result") or {}
    elif isinstance(error, str):
        message = error
    elif isinstance(payload, Mapping):
        message = str(payload.get("message") or payload.get("detail") or payload)
    elif payload:
        message = str(payload)
    return build_provider_error(
        status,
        message or f"HTTP {status}",
        provider=provider,
        headers=headers,
        body=payload,
        request_id=request_id,
        code=code,
        filter_results=filter_results,
    )
