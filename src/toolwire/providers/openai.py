"""OpenAI Chat Completions: pure translation functions, and the providers that speak it.

`openai`, `openai_compatible` (vLLM, llama.cpp, LM Studio, Groq, OpenRouter, ...) and `ollama` are
this file; `azure_openai` and `mistral` reuse its functions. Everything here is a pure function of
its inputs (neutral request → JSON body; JSON body or SSE event → toolwire types), so it is tested
offline against recorded traffic and reused by `standardize_tool_response`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from .._stream_events import decode_stream_event, stream_error_from_event
from .._transport import SSEEvent
from ..errors import ProviderError, ResponseParseError, StreamInterruptedError
from ..tools.definition import ToolDefinition
from ..types import (
    Capability,
    Content,
    FinishReason,
    GenerateResponse,
    Message,
    ResponseFormat,
    StreamChunk,
    ToolCall,
    ToolCallRequest,
    ToolResult,
    content_images,
    content_text,
)
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
    "ChatCompletionStreamState",
    "OllamaProvider",
    "OpenAICompatibleProvider",
    "OpenAIProvider",
    "chat_body",
    "chat_error",
    "chat_messages",
    "chat_tools",
    "normalize_finish_reason",
    "normalize_usage",
    "openai_error",
    "parse_chat",
    "parse_chat_completion",
    "token_count",
]

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
_COMPLETION_TOKENS_MODELS = ("o1", "o3", "o4", "gpt-5")


# -- request ---------------------------------------------------------------------------------
def chat_tools(tools: Sequence[ToolDefinition], *, dialect: str = "openai") -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        function: dict[str, Any] = {
            "name": tool.name,
            # always present: llama.cpp answers 500 when a tool has no description
            "description": tool.description,
            "parameters": tool.parameters_for(dialect),
        }
        if tool.strict:
            function["strict"] = True
        out.append({"type": "function", "function": function})
    return out


def _arguments_text(call: ToolCall) -> str:
    # A call whose arguments did not parse is sent back exactly as the model wrote it.
    if call.arguments_error is not None and call.raw_arguments is not None:
        return call.raw_arguments
    return json.dumps(call.arguments, ensure_ascii=False)


def tool_content(result: ToolResult) -> str:
    """A tool message's content. Chat Completions has no error flag on a tool message (Anthropic has
    `is_error`, Gemini an `error` key): a failure must say so in words, or the model reads the
    error text as the tool's normal output."""
    if result.error is None:
        return result.output_text()
    text = result.error.strip()
    if text.lower().startswith("error"):
        return text
    return f"Error: the tool {result.name or 'call'} failed: {text}"


def image_part(image: Image) -> dict[str, Any]:
    """A Chat Completions `image_url` content part (the URL, or the bytes as a data: URL)."""
    url: dict[str, Any] = {"url": image.url if image.data is None else image.data_url()}
    if image.detail:
        url["detail"] = image.detail
    return {"type": "image_url", "image_url": url}


def chat_content(content: Content | None) -> Any:
    """Message content: text as a string; text with images as a list of content parts."""
    if content is None or isinstance(content, str):
        return content
    if not content_images(content):
        return content_text(content)
    return [{"type": "text", "text": p} if isinstance(p, str) else image_part(p) for p in content]


def tool_images_message(results: Sequence[ToolResult]) -> dict[str, Any] | None:
    """Chat Completions tool messages are text only: the images of a turn's tool results follow
    in one user message, each introduced by the call it answers."""
    parts: list[dict[str, Any]] = []
    for result in results:
        images = result.images()
        if images:
            intro = f"Images returned by tool call {result.call_id} ({result.name}):"
            parts.append({"type": "text", "text": intro})
            parts.extend(image_part(image) for image in images)
    return {"role": "user", "content": parts} if parts else None


def chat_messages(
    messages: Sequence[Message],
    *,
    empty_assistant_content: Any = None,
    echo_reasoning_content: bool = False,
    images_in_tool_messages: bool = False,
) -> list[dict[str, Any]]:
    """Neutral messages → Chat Completions messages (one `tool` message per tool result).

    `echo_reasoning_content`: send an assistant turn's `reasoning_content` back (DeepSeek's
    thinking mode answers 400 without it on a turn that called tools; OpenAI and Groq reject it).
    `images_in_tool_messages`: a tool's images go inside its tool message (Mistral takes content
    chunks there) instead of in a user message after the turn's tool messages.
    """
    out: list[dict[str, Any]] = []
    answered: list[ToolResult] = []  # the current run of tool results, for their images

    def flush_images() -> None:
        follow_up = tool_images_message(answered)
        if follow_up is not None:
            out.append(follow_up)
        answered.clear()

    for message in messages:
        role = message.role
        if role == "tool":
            if not message.tool_results:
                raise ValueError("a tool message needs tool_results (call_id, name, output)")
            for result in message.tool_results:
                content: Any = tool_content(result)
                if images_in_tool_messages and result.images():
                    content = [{"type": "text", "text": content}, *map(image_part, result.images())]
                else:
                    answered.append(result)
                out.append({"role": "tool", "tool_call_id": result.call_id, "content": content})
            continue
        flush_images()
        if role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.text}
            if message.tool_calls:
                if message.content is None:
                    entry["content"] = empty_assistant_content
                entry["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": _arguments_text(call)},
                    }
                    for call in message.tool_calls
                ]
            elif message.content is None:
                entry["content"] = ""
            reasoning = (message.provider_data or {}).get("reasoning_content")
            if echo_reasoning_content and isinstance(reasoning, str):
                entry["reasoning_content"] = reasoning
        elif role == "system":
            # system messages are text only on every Chat Completions server
            entry = {"role": role, "content": message.text or ""}
        else:
            content = chat_content(message.content)
            entry = {"role": role, "content": content if content is not None else ""}
        if message.name:
            entry["name"] = message.name
        out.append(entry)
    flush_images()
    return out


def chat_body(
    request: ChatRequest,
    *,
    model: str | None = None,
    send_parallel_tool_calls: bool = True,
    max_tokens_field: str | None = None,
    include_usage: bool = True,
    required_choice: str = "required",
    empty_assistant_content: Any = None,
    echo_reasoning_content: bool = False,
    images_in_tool_messages: bool = False,
) -> dict[str, Any]:
    """The JSON body of a Chat Completions request."""
    use_model = model or request.model
    body: dict[str, Any] = {
        "model": use_model,
        "messages": chat_messages(
            request.messages,
            empty_assistant_content=empty_assistant_content,
            echo_reasoning_content=echo_reasoning_content,
            images_in_tool_messages=images_in_tool_messages,
        ),
    }
    params = request.params
    if params:
        for key, value in params.items():
            if key == "max_tokens":
                if max_tokens_field is None:
                    field_name = (
                        "max_completion_tokens"
                        if use_model.startswith(_COMPLETION_TOKENS_MODELS)
                        else "max_tokens"
                    )
                else:
                    field_name = max_tokens_field
                body[field_name] = value
            else:
                body[key] = value
    if request.tools:
        body["tools"] = request.tool_payload
        choice = request.tool_choice
        if choice is not None:
            if choice in ("auto", "none"):
                body["tool_choice"] = choice
            elif choice == "required":
                body["tool_choice"] = required_choice
            else:
                body["tool_choice"] = {"type": "function", "function": {"name": choice}}
        parallel = request.parallel_tool_calls
        if parallel is None and any(t.strict for t in request.tools):
            # OpenAI: strict schemas are not guaranteed for parallel calls; ask for one at a time.
            parallel = False
        # never sent without tools: "'parallel_tool_calls' is only allowed when 'tools' are specified"
        if parallel is not None and send_parallel_tool_calls:
            body["parallel_tool_calls"] = parallel
    if request.response_model is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.response_model.__name__,
                "schema": structured_schema(request.response_model, "openai", strict=True),
                "strict": True,
            },
        }
    elif request.response_format is ResponseFormat.JSON:
        body["response_format"] = {"type": "json_object"}
    if request.stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    if request.extra:
        for key, value in request.extra.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
    return body


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


def is_token_count(value: Any) -> bool:
    """A finite JSON number (bool is an int to Python, never a count)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value)


def token_count(value: Any) -> int:
    """A usage count as an int: a finite number, else 0. Usage is bookkeeping: a proxy's odd
    count (null, "12", inf, an object) must not fail the turn the model answered."""
    return int(value) if is_token_count(value) else 0


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


def _tool_call(raw: Mapping[str, Any], index: int, seed: str | None) -> ToolCall:
    function = raw.get("function")
    if not isinstance(function, Mapping):
        function = raw
    name = str(function.get("name") or "")
    call_id = raw.get("id") or generated_call_id(seed, index, name)
    arguments = function.get("arguments")
    if arguments is not None and not isinstance(arguments, (str, Mapping)):
        arguments = json.dumps(arguments)
    return ToolCall.from_raw(str(call_id), name, arguments)


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
    calls = [_tool_call(raw, i, turn) for i, raw in enumerate(message.get("tool_calls") or ())]
    legacy = message.get("function_call")
    if not calls and isinstance(legacy, Mapping):
        calls = [_tool_call({"function": legacy}, 0, turn)]
    content = _text(message.get("content"))
    provider_data: dict[str, Any] = {}
    for key in _FILTER_KEYS:
        if payload.get(key):
            provider_data[key] = payload[key]
    if choice.get("content_filter_results"):
        provider_data["content_filter_results"] = choice["content_filter_results"]
    # Kept under the server's own field name: DeepSeek requires `reasoning_content` back on the
    # assistant turn that called tools, while Groq rejects that field (it sends `reasoning`).
    for key in _REASONING_KEYS:
        if message.get(key):
            provider_data[key] = message[key]
    provider_data.update(raw_finish_data(choice.get("finish_reason"), provider) or {})
    return GenerateResponse(
        content=content,
        tool_calls=ToolCallRequest(calls, content) if calls else None,
        usage=normalize_usage(payload.get("usage")),
        model=payload.get("model"),
        finish_reason=normalize_finish_reason(choice.get("finish_reason"), bool(calls)),
        raw_response=payload,
        refusal=message.get("refusal"),
        id=seed,
        provider_data=provider_data or None,
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

    def to_call(self, position: int, seed: str | None) -> ToolCall:
        call_id = str(self.id) if self.id else generated_call_id(seed, position, self.name)
        if self.arguments_object is not None and not self.parts:
            return ToolCall.from_raw(call_id, self.name, self.arguments_object)
        return ToolCall.from_raw(call_id, self.name, "".join(self.parts))


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
        self._provider_data: dict[str, Any] = {}
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
        if self._id is None and payload.get("id"):
            self._id = payload["id"]
        if payload.get("model"):
            self._model = payload["model"]
        usage = payload.get("usage")
        if usage:
            self._usage = normalize_usage(usage)
        if payload.get("prompt_filter_results"):
            self._provider_data["prompt_filter_results"] = payload["prompt_filter_results"]
        choices = payload.get("choices")
        if not choices:
            return [StreamChunk(usage=self._usage, raw=payload)] if usage else []
        chunks = []
        for choice in choices:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            # only strings are kept: partial() and result() join them outside the shape guard
            text = _delta_text(delta.get("content"))
            if text:
                self._text.append(text)
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                self._refusal.append(refusal)
            deltas = delta.get("tool_calls")
            if deltas:
                for raw in deltas:
                    self._merge(raw)
            elif isinstance(delta.get("function_call"), Mapping):
                self._merge({"index": 0, "function": delta["function_call"]})
            for key in _REASONING_KEYS:
                reasoning = delta.get(key)
                if isinstance(reasoning, str) and reasoning:
                    self._provider_data[key] = self._provider_data.get(key, "") + reasoning
            raw_finish = choice.get("finish_reason")
            finish = normalize_finish_reason(raw_finish, bool(self._calls)) if raw_finish else None
            if raw_finish:
                self._finish_reason = raw_finish
            if choice.get("content_filter_results"):
                self._provider_data["content_filter_results"] = choice["content_filter_results"]
            completed = self._completed_calls(bool(finish))
            if text or deltas or finish or completed:
                chunks.append(
                    StreamChunk(
                        content=text or None,
                        tool_call_deltas=deltas or None,
                        finish_reason=finish,
                        usage=self._usage if usage else None,
                        raw=payload,
                        completed_calls=completed,
                    )
                )
        return chunks

    def _completed_calls(self, finished: bool) -> list[ToolCall] | None:
        """Calls stream one after another: once the next call opens (or the finish chunk arrives),
        every earlier call's arguments are complete. A call that still grows after being reported
        (interleaving servers) differs from the final one, which is what the turn uses."""
        upto = len(self._calls) if finished else len(self._calls) - 1
        if upto <= self._reported:
            return None
        calls = [self._calls[i].to_call(i, self._id) for i in range(self._reported, upto)]
        self._reported = upto
        return calls

    def _merge(self, raw: Mapping[str, Any]) -> None:
        index = raw.get("index")
        call_id = raw.get("id") or None
        function = raw.get("function") or {}
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
        arguments = function.get("arguments")
        if isinstance(arguments, Mapping):
            buffer.arguments_object = arguments  # Ollama sends whole argument objects
        elif isinstance(arguments, str):
            if arguments:
                buffer.parts.append(arguments)
        elif arguments is not None:
            # not a fragment: kept as its JSON, as the non-streamed reader does, so the call
            # reports an arguments_error instead of the join failing in partial()/result()
            buffer.parts.append(json.dumps(arguments))

    def _open(self, index: int | None, call_id: str | None) -> _CallBuffer:
        buffer = _CallBuffer(index, call_id)
        self._calls.append(buffer)
        if index is not None:
            self._by_index[index] = buffer
        return buffer

    def _tool_calls(self) -> list[ToolCall]:
        seed = turn_seed(self._id, self._nonce)  # stable within this turn, unique across turns
        return [b.to_call(i, seed) for i, b in enumerate(self._calls)]

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
        self._provider_data.update(raw_finish_data(self._finish_reason, self.provider) or {})
        return GenerateResponse(
            content=content,
            tool_calls=ToolCallRequest(calls, content) if calls else None,
            usage=self._usage,
            model=self._model,
            finish_reason=normalize_finish_reason(self._finish_reason, bool(calls)),
            raw_response=None,
            refusal="".join(self._refusal) or None,
            id=self._id,
            provider_data=self._provider_data or None,
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


# -- providers -------------------------------------------------------------------------------
_OPENAI_CAPABILITIES = frozenset(
    {
        Capability.FUNCTION_CALLING,
        Capability.PARALLEL_TOOL_CALLS,
        Capability.STREAMING,
        Capability.STREAMING_TOOLS,
        Capability.STRUCTURED_OUTPUT,
        Capability.JSON_MODE,
        Capability.STRICT_TOOLS,
        Capability.VISION,
        Capability.SYSTEM_PROMPT,
        Capability.ASYNC,
    }
)


class OpenAIProvider(BaseProvider):
    """OpenAI's Chat Completions API (`https://api.openai.com/v1`)."""

    name: ClassVar[str] = "openai"
    otel_provider_name: ClassVar[str] = "openai"
    default_capabilities: ClassVar[frozenset[Capability]] = _OPENAI_CAPABILITIES
    model_capability_rules: ClassVar[tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...]] = (
        # models that predate function calling or never had it
        (
            "gpt-3.5-turbo-instruct*",
            frozenset(),
            frozenset({Capability.FUNCTION_CALLING, Capability.STREAMING_TOOLS}),
        ),
        (
            "o1-mini*",
            frozenset(),
            frozenset(
                {Capability.FUNCTION_CALLING, Capability.STREAMING_TOOLS, Capability.STRUCTURED_OUTPUT}
            ),
        ),
        (
            "o1-preview*",
            frozenset(),
            frozenset(
                {Capability.FUNCTION_CALLING, Capability.STREAMING_TOOLS, Capability.STRUCTURED_OUTPUT}
            ),
        ),
        # text-only models (platform.openai.com/docs/models: no image input)
        ("gpt-3.5*", frozenset(), frozenset({Capability.VISION})),
        ("gpt-4", frozenset(), frozenset({Capability.VISION})),
        ("gpt-4-0*", frozenset(), frozenset({Capability.VISION})),
        ("gpt-4-32k*", frozenset(), frozenset({Capability.VISION})),
        ("o1-mini*", frozenset(), frozenset({Capability.VISION})),
        ("o1-preview*", frozenset(), frozenset({Capability.VISION})),
        ("o3-mini*", frozenset(), frozenset({Capability.VISION})),
    )
    requires_model: ClassVar[bool] = True
    example_model: ClassVar[str | None] = "gpt-4o-mini"
    api_key_env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    base_url_env: ClassVar[tuple[str, ...]] = ("OPENAI_BASE_URL",)
    default_base_url: ClassVar[str | None] = "https://api.openai.com/v1"
    tool_dialect: ClassVar[str] = "openai"
    request_id_headers: ClassVar[tuple[str, ...]] = ("x-request-id",)
    send_parallel_tool_calls: ClassVar[bool] = True
    include_stream_usage: ClassVar[bool] = True
    max_tokens_field: ClassVar[str | None] = None
    echo_reasoning_content: ClassVar[bool] = False
    # other wire formats of the same service, by `create(..., api=...)` (import paths, lazy)
    api_variants: ClassVar[dict[str, str]] = {
        "responses": "toolwire.providers.openai_responses:OpenAIResponsesProvider"
    }

    def configure(
        self, *, organization: str | None = None, project: str | None = None, **options: Any
    ) -> None:
        super().configure(**options)
        self.organization = organization
        self.project = project

    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        if (
            isinstance(payload, Mapping)
            and "choices" not in payload
            and isinstance(payload.get("output"), list)
        ):
            # a Responses API body (`client.responses.create(...)`): same service, other wire
            from .responses_wire import parse_response_body

            return parse_response_body(payload, provider=cls.name)
        return parse_chat_completion(payload, provider=cls.name)

    @classmethod
    def tools_payload(cls, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        return chat_tools(tools, dialect=cls.tool_dialect)

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        return chat_body(
            request,
            send_parallel_tool_calls=self.send_parallel_tool_calls,
            max_tokens_field=self.max_tokens_field,
            include_usage=self.include_stream_usage,
            echo_reasoning_content=self.echo_reasoning_content,
        )

    def endpoint(self, request: ChatRequest) -> str:
        return f"{self.base_url}/chat/completions"

    def static_headers(self) -> dict[str, str]:
        headers = super().static_headers()
        if self.organization:
            headers["openai-organization"] = self.organization
        if self.project:
            headers["openai-project"] = self.project
        return headers

    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_chat_completion(payload, provider=self.name)

    def new_stream_state(self, request: ChatRequest) -> ChatCompletionStreamState:
        return ChatCompletionStreamState(self.name)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return openai_error(status, headers, body, provider=self.name, request_id=self.request_id(headers))


class OpenAICompatibleProvider(OpenAIProvider):
    """Any server that speaks Chat Completions: vLLM, llama.cpp, LM Studio, Groq, OpenRouter, ...

    `base_url` is required (or `OPENAI_COMPATIBLE_BASE_URL`); an API key is optional because local
    servers usually need none (or `OPENAI_COMPATIBLE_API_KEY`). It never reads `OPENAI_API_KEY` /
    `OPENAI_BASE_URL`: those are OpenAI's, and an OpenAI key must not go to another server.
    """

    name: ClassVar[str] = "openai_compatible"
    aliases: ClassVar[tuple[str, ...]] = ("vllm", "llamacpp")
    otel_provider_name: ClassVar[str] = ""
    default_capabilities = _OPENAI_CAPABILITIES - {Capability.STRICT_TOOLS}
    model_capability_rules = ()
    requires_api_key = False
    requires_model = False  # a local server often serves one model and ignores the name
    api_key_env = ("OPENAI_COMPATIBLE_API_KEY",)
    base_url_env = ("OPENAI_COMPATIBLE_BASE_URL",)
    default_base_url: ClassVar[str | None] = None
    max_tokens_field = "max_tokens"
    api_variants: ClassVar[dict[str, str]] = {
        "responses": "toolwire.providers.openai_responses:OpenAICompatibleResponsesProvider"
    }

    def configure(
        self,
        *,
        organization: str | None = None,
        project: str | None = None,
        send_parallel_tool_calls: bool = True,
        include_stream_usage: bool = True,
        echo_reasoning_content: bool = True,
        **options: Any,
    ) -> None:
        super().configure(organization=organization, project=project, **options)
        # Some servers reject parameters they do not know: each can be switched off per instance.
        self.send_parallel_tool_calls = send_parallel_tool_calls  # type: ignore[misc]
        self.include_stream_usage = include_stream_usage  # type: ignore[misc]
        # Only DeepSeek-style servers produce `reasoning_content`, and they need it back.
        self.echo_reasoning_content = echo_reasoning_content  # type: ignore[misc]


class OllamaProvider(OpenAICompatibleProvider):
    """Ollama through its OpenAI-compatible endpoint (default `http://localhost:11434/v1`)."""

    name: ClassVar[str] = "ollama"
    aliases: ClassVar[tuple[str, ...]] = ()
    otel_provider_name: ClassVar[str] = "ollama"
    base_url_env = ("OLLAMA_BASE_URL",)
    default_base_url = "http://localhost:11434/v1"
    api_key_env = ("OLLAMA_API_KEY",)
    api_variants: ClassVar[dict[str, str]] = {}  # no recorded /v1/responses traffic to build it to

    @classmethod
    def base_url_from_env(cls) -> str | None:
        """`OLLAMA_BASE_URL`, else Ollama's own `OLLAMA_HOST` (`host:port`, `:port` or a URL,
        as the ollama CLI reads it) with `/v1` added."""
        url = super().base_url_from_env()
        if url:
            return url
        host = (os.environ.get("OLLAMA_HOST") or "").strip().rstrip("/")
        if not host:
            return None
        if "://" not in host:
            host = f"http://{'localhost' if host.startswith(':') else ''}{host}"
        parts = urlsplit(host)
        if not parts.port and parts.hostname:
            host = f"{host}:11434" if parts.scheme == "http" and not parts.path else host
        return host if host.endswith("/v1") else f"{host}/v1"

# The wire functions under the one naming scheme of provider modules: `<wire>_body`,
# `<wire>_messages`, `<wire>_tools`, `<wire>_error`, `parse_<wire>` (the names above stay).
chat_error = openai_error
parse_chat = parse_chat_completion
