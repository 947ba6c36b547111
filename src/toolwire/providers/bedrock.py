"""Amazon Bedrock Runtime, Converse and ConverseStream: pure translation functions and the provider.

`POST /model/{modelId}/converse` (and `/converse-stream`) on `bedrock-runtime.{region}.amazonaws.com`.
The spec is botocore's service model for `bedrock-runtime` (the tests validate every body against
it). What differs from the other wire formats and is handled here:

- the model id is in the path, percent-encoded like botocore does (`:` of `…-v1:0` and the `/` of an
  ARN become `%3A` / `%2F`); cross-region inference profiles (`us.anthropic…`) and ARNs work as ids;
- the system prompt is a top-level `system` list; roles alternate, so consecutive same-role
  messages are merged; blank text blocks are refused by the service, so none is sent;
- tools are `toolConfig.tools[].toolSpec {name, description, inputSchema: {json}}`; an empty
  description is refused, so a sensible one is written; `toolChoice` is `auto` / `any` /
  `tool{name}` and there is no "none": the tools are withheld instead, but `toolConfig` must be
  present whenever the history holds `toolUse` / `toolResult` blocks (the service refuses the
  request otherwise), so it is then built from the tools the history used;
- every result of a turn goes back as `toolResult` blocks in ONE user message, `json` content for
  JSON objects and `text` otherwise, `status: "error"` for failed tools (on the families whose
  models accept `status`: Claude and Nova);
- `toolUseId` is kept when it is 1–64 of `[a-zA-Z0-9_-]`, else mapped by a hash, identically for
  the call and its result;
- reasoning blocks (`reasoningContent` with its signature, or `redactedContent`) ride on the
  assistant message (`provider_data["bedrock"]["reasoning"]`) and go back before the text and
  `toolUse` blocks of the same turn, unchanged (Claude refuses a tool turn without them);
- ConverseStream is the binary AWS event stream (`toolwire._eventstream`), assembled by
  `contentBlockIndex`; an exception message inside the stream is raised as its typed error;
- errors are typed by the `x-amzn-ErrorType` header (the body is only `{"message"}`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._eventstream import EventStreamMessage
from .._transport import HttpCall
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ContextLengthError,
    InvalidRequestError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseParseError,
    ServerError,
    StreamInterruptedError,
)
from ..tools.definition import ToolDefinition
from ..types import (
    Capability,
    GenerateResponse,
    Message,
    ResponseFormat,
    StreamChunk,
    ToolCall,
    ToolCallRequest,
    ToolResult,
    serialize_output,
)
from .base import (
    PARSE_ERRORS,
    BaseProvider,
    ChatRequest,
    build_provider_error,
    decode_error_body,
    first_env,
    mask_secret,
    structured_schema,
    unexpected_shape,
)
from .openai import token_count

__all__ = [
    "BedrockProvider",
    "BedrockStreamState",
    "bedrock_error",
    "bedrock_tool_id",
    "converse_body",
    "converse_messages",
    "model_path",
    "normalize_stop_reason",
    "normalize_usage",
    "parse_converse",
    "tool_choice_payload",
    "tools_payload",
]

KEY = "bedrock"  # provider_data key

_STOP_REASONS = {
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

_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
# Converse has no penalties: sending them would be a ValidationException, so refuse early
_UNSUPPORTED_PARAMS = ("frequency_penalty", "presence_penalty")
_INFERENCE = {"max_tokens": "maxTokens", "temperature": "temperature", "top_p": "topP"}
# families whose models take `status` on a toolResult (the service model's note on ToolResultBlock)
_STATUS_FAMILIES = ("anthropic.", "amazon.nova")


# -- request ---------------------------------------------------------------------------------
def model_path(model: str) -> str:
    """`/model/{modelId}` with the id percent-encoded as botocore encodes a URI label."""
    return "/model/" + urllib.parse.quote(model, safe="-_.~")


def bedrock_tool_id(call_id: str) -> str:
    """An id Bedrock accepts (1–64 of `[a-zA-Z0-9_-]`): kept when valid, else a stable hash, so a
    `call_…:3` from another provider maps identically in `toolUse` and `toolResult`."""
    if call_id and _ID_PATTERN.fullmatch(call_id):
        return call_id
    return "tooluse_tw" + hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:32]


def _description(tool: ToolDefinition) -> str:
    # NonEmptyString in the service model: an empty description is a ValidationException
    text = (tool.description or "").strip()
    return text or f"The {tool.name} tool."


def tools_payload(tools: Sequence[ToolDefinition], *, dialect: str = "bedrock") -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        spec: dict[str, Any] = {
            "name": tool.name,
            "description": _description(tool),
            "inputSchema": {"json": tool.parameters_for(dialect)},
        }
        if tool.strict:
            spec["strict"] = True
        out.append({"toolSpec": spec})
    return out


def _reasoning_blocks(message: Message) -> list[dict[str, Any]]:
    data = (message.provider_data or {}).get(KEY)
    if not isinstance(data, Mapping):
        return []
    blocks = data.get("reasoning") or ()
    return [dict(b) for b in blocks if isinstance(b, Mapping) and "reasoningContent" in b]


def _result_content(result: ToolResult) -> list[dict[str, Any]]:
    """`json` for a JSON object, `text` for everything else (strings stay text, as the model wrote
    them for the tool to read back)."""
    if result.error is not None:
        return [{"text": result.error or "the tool failed"}]
    output = result.output
    if isinstance(output, Mapping):
        return [{"json": json.loads(serialize_output(output))}]
    text = serialize_output(output)
    if not isinstance(output, str) and text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):  # a Pydantic model or dataclass: its JSON object
            return [{"json": value}]
    # the service refuses blank text; an empty output is said, not dropped
    return [{"text": text if text.strip() else "(no output)"}]


def _text_block(text: str | None) -> list[dict[str, Any]]:
    return [{"text": text}] if text and text.strip() else []


def converse_messages(
    messages: Sequence[Message], *, error_status: bool = True
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Neutral messages → (`system` blocks, Converse `messages`), roles alternating."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for message in messages:
        role = message.role
        blocks: list[dict[str, Any]] = []
        if role == "system":
            system.extend(_text_block(message.content))
            continue
        if role == "tool":
            if not message.tool_results:
                raise ValueError("a tool message needs tool_results (call_id, name, output)")
            for result in message.tool_results:
                block: dict[str, Any] = {
                    "toolUseId": bedrock_tool_id(result.call_id),
                    "content": _result_content(result),
                }
                if error_status:
                    block["status"] = "error" if result.error is not None else "success"
                blocks.append({"toolResult": block})
            role = "user"
        elif role == "assistant":
            blocks.extend(_reasoning_blocks(message))
            blocks.extend(_text_block(message.content))
            for call in message.tool_calls or ():
                # a call whose arguments did not parse goes back as {} (its result says why)
                blocks.append(
                    {"toolUse": {"toolUseId": bedrock_tool_id(call.id), "name": call.name, "input": dict(call.arguments)}}
                )
        else:
            blocks.extend(_text_block(message.content))
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for entry in out:
        if entry["role"] == "user":
            # toolResult blocks lead the user turn (Claude requires it); the sort is stable
            entry["content"].sort(key=lambda b: 0 if "toolResult" in b else 1)
    return system, out


def _history_tool_names(messages: Sequence[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    has_blocks = False
    for entry in messages:
        for block in entry["content"]:
            if "toolUse" in block:
                has_blocks = True
                if block["toolUse"]["name"] not in names:
                    names.append(block["toolUse"]["name"])
            elif "toolResult" in block:
                has_blocks = True
    if has_blocks and not names:
        names.append("tool")  # results without their calls: any one spec satisfies the service
    return names


def _history_tools(names: Sequence[str], known: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """toolConfig for a request that withholds tools but whose history used some: the service
    requires it. Known definitions are reused; others get an open schema."""
    by_name = {t["toolSpec"]["name"]: t for t in known if "toolSpec" in t}
    out = []
    for name in names:
        out.append(
            by_name.get(name)
            or {
                "toolSpec": {
                    "name": name,
                    "description": "A tool used earlier in this conversation.",
                    "inputSchema": {"json": {"type": "object", "properties": {}}},
                }
            }
        )
    return out


def tool_choice_payload(choice: str | None) -> dict[str, Any] | None:
    if choice is None or choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    if choice == "none":
        return None
    return {"tool": {"name": choice}}


def _structured_tool(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "toolSpec": {
            "name": name,
            "description": f"Answer with a {name} object.",
            "inputSchema": {"json": schema},
        }
    }


def converse_body(
    request: ChatRequest,
    *,
    native_structured: bool = False,
    error_status: bool = True,
    named_choice: bool = True,
) -> dict[str, Any]:
    """The JSON body of a Converse / ConverseStream request (the model id is in the path).

    `error_status`: the model takes `status` on toolResult blocks; `named_choice`: it takes
    toolChoice `tool` (Claude, Nova), else a single forced tool is asked for with `any`."""
    system, messages = converse_messages(request.messages, error_status=error_status)
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    params = dict(request.params)
    for name in _UNSUPPORTED_PARAMS:
        if name in params:
            raise ValueError(f"bedrock: the Converse API has no {name} parameter")
    inference = {_INFERENCE[k]: v for k, v in params.items() if k in _INFERENCE}
    if "maxTokens" in inference:
        inference["maxTokens"] = int(inference["maxTokens"])
    extra = dict(request.extra)
    stop = extra.pop("stop", None)
    if stop:
        inference["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if inference:
        body["inferenceConfig"] = inference
    tools: list[dict[str, Any]] = list(request.tool_payload or ()) if request.tools else []
    choice = request.tool_choice if request.tools else None
    if choice == "none":
        tools = []
    if request.response_model is not None:
        name = request.response_model.__name__
        if native_structured:
            schema = structured_schema(request.response_model, "bedrock", strict=True)
            body["outputConfig"] = {
                "textFormat": {
                    "type": "json_schema",
                    "structure": {"jsonSchema": {"schema": json.dumps(schema), "name": name}},
                }
            }
        else:
            # no native structured output for this model: a forced tool whose input is the answer
            if any(t["toolSpec"]["name"] == name for t in tools):
                raise ValueError(f"bedrock: a tool is already named {name!r}, the response model's name")
            schema = structured_schema(request.response_model, "bedrock", strict=False)
            tools.append(_structured_tool(name, schema))
            choice = name
    elif request.response_format is ResponseFormat.JSON:
        raise ValueError("bedrock: JSON mode is not native to Converse; pass a Pydantic model as response_format")
    if tools:
        config: dict[str, Any] = {"tools": tools}
        if not named_choice and choice not in (None, "auto", "required"):
            if len(tools) != 1:
                raise ValueError(
                    f"bedrock: {request.model} cannot be forced to one tool among several (toolChoice "
                    "`tool` is Claude and Nova only)"
                )
            choice = "required"  # the only tool, required: the same call
        payload = tool_choice_payload(choice)
        if payload is not None and choice is not None:
            config["toolChoice"] = payload
        body["toolConfig"] = config
    else:
        names = _history_tool_names(messages)
        if names:
            body["toolConfig"] = {"tools": _history_tools(names, list(request.tool_payload or ()))}
    thinking = extra.pop("thinking", None)
    if thinking is not None:
        # Claude's extended thinking travels in additionalModelRequestFields on Converse
        fields = dict(extra.pop("additionalModelRequestFields", None) or {})
        fields["thinking"] = thinking
        extra["additionalModelRequestFields"] = fields
    for key, value in extra.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# -- response --------------------------------------------------------------------------------
def normalize_stop_reason(reason: Any, has_tool_calls: bool) -> str | None:
    if reason is None:
        return "tool_calls" if has_tool_calls else None
    normalized = _STOP_REASONS.get(str(reason), str(reason))
    if has_tool_calls and normalized == "stop":
        return "tool_calls"
    return normalized


def normalize_usage(usage: Any) -> dict[str, int] | None:
    """inputTokens (+ cache reads and writes) → prompt, outputTokens → completion."""
    if not isinstance(usage, Mapping):
        return None
    keys = ("inputTokens", "cacheReadInputTokens", "cacheWriteInputTokens", "outputTokens")
    if not any(usage.get(k) is not None for k in keys):
        return None
    prompt = sum(token_count(usage.get(k)) for k in keys[:3])
    completion = token_count(usage.get("outputTokens"))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _provider_data(
    reasoning: list[dict[str, Any]], stop_reason: Any, extra: Any = None
) -> dict[str, Any] | None:
    data: dict[str, Any] = {}
    if reasoning:
        data["reasoning"] = reasoning
    if isinstance(stop_reason, str) and stop_reason in _KEEP_RAW_STOP:
        data["stop_reason"] = stop_reason
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
            f"{provider}: expected a JSON object, got {type(payload).__name__}", provider=provider, body=payload
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
        raw = "".join(self.parts)
        return ToolCall.from_raw(str(self.start.get("toolUseId") or ""), str(self.start.get("name") or ""), raw)

    def reasoning_block(self) -> dict[str, Any]:
        if self.redacted is not None and not self.parts:
            return {"reasoningContent": {"redactedContent": self.redacted}}
        text: dict[str, Any] = {"text": "".join(self.parts)}
        if self.signature is not None:
            text["signature"] = self.signature
        return {"reasoningContent": {"reasoningText": text}}


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
            raise ResponseParseError(f"{self.provider}: expected an event-stream message", provider=self.provider)
        kind = event.message_type
        if kind in ("exception", "error"):
            raise stream_error(self.provider, event)
        try:
            payload = json.loads(event.payload) if event.payload else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ResponseParseError(
                f"{self.provider}: a stream event is not JSON ({exc})", provider=self.provider, body=event.payload
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
            return [StreamChunk(tool_call_deltas=[self._call_delta(block, "", with_header=True)], raw=payload)]
        if kind == "contentBlockDelta":
            return self._delta(_block_index(payload), payload.get("delta") or {}, payload)
        if kind == "contentBlockStop":
            index = _block_index(payload)
            if index in self._blocks:
                self._blocks[index].stopped = True
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
            return [StreamChunk(tool_call_deltas=[self._call_delta(block, fragment)], raw=payload)]
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, Mapping):
            block = self._block(index, "reasoning")
            if "text" in reasoning:
                block.parts.append(_fragment(reasoning["text"]))
            if "signature" in reasoning:
                block.signature = (block.signature or "") + _fragment(reasoning["signature"])
            if "redactedContent" in reasoning:
                block.redacted = (block.redacted or "") + _fragment(reasoning["redactedContent"])
        return []

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
    kwargs: dict[str, Any] = {"provider": provider, "status_code": status, "request_id": request_id, "body": body, "code": code}
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
    code = _error_type(headers.get("x-amzn-errortype"))
    if code is None and isinstance(payload, Mapping) and isinstance(payload.get("__type"), str):
        code = payload["__type"].rsplit("#", 1)[-1]
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


# -- provider --------------------------------------------------------------------------------
_CONVERSE = frozenset(
    {
        Capability.FUNCTION_CALLING,
        Capability.PARALLEL_TOOL_CALLS,
        Capability.STREAMING,
        Capability.STREAMING_TOOLS,
        Capability.STRUCTURED_OUTPUT,
        Capability.SYSTEM_PROMPT,
        Capability.ASYNC,
    }
)
_NONE: frozenset[Capability] = frozenset()
_TOOLS = frozenset(
    {Capability.FUNCTION_CALLING, Capability.PARALLEL_TOOL_CALLS, Capability.STREAMING_TOOLS, Capability.STRUCTURED_OUTPUT}
)
# Bedrock user guide, "Supported models and model features" of the Converse API. The patterns match
# plain ids, cross-region profiles (us./eu./apac./global.) and ARNs alike.
_RULES: tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...] = (
    ("*anthropic.claude-3*", frozenset({Capability.VISION}), _NONE),
    ("*anthropic.claude-*4*", frozenset({Capability.VISION, Capability.STRICT_TOOLS}), _NONE),
    ("*anthropic.claude-v2*", _NONE, _TOOLS),
    ("*anthropic.claude-instant*", _NONE, _TOOLS),
    ("*amazon.nova-*", frozenset({Capability.VISION}), _NONE),
    ("*amazon.nova-micro*", _NONE, frozenset({Capability.VISION})),
    ("*amazon.titan-text*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*meta.llama3-2-11b*", frozenset({Capability.VISION}), _NONE),
    ("*meta.llama3-2-90b*", frozenset({Capability.VISION}), _NONE),
    ("*meta.llama*", _NONE, frozenset({Capability.STREAMING_TOOLS})),
    ("*meta.llama3-8b*", _NONE, _TOOLS),
    ("*meta.llama3-70b*", _NONE, _TOOLS),
    ("*meta.llama2*", _NONE, _TOOLS),
    ("*mistral.*", _NONE, frozenset({Capability.STREAMING_TOOLS})),
    ("*mistral.mistral-7b*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*mistral.mixtral*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*cohere.command-r*", _NONE, frozenset({Capability.STREAMING_TOOLS})),
    ("*cohere.command-text*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*cohere.command-light*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*deepseek.r1*", _NONE, _TOOLS),
)
# Converse `outputConfig.textFormat` (native structured output): Bedrock user guide, "Get
# validated JSON results from models"; other models get a forced tool.
NATIVE_STRUCTURED_OUTPUT = (
    "*anthropic.claude-sonnet-4-5*",
    "*anthropic.claude-haiku-4-5*",
    "*anthropic.claude-opus-4-5*",
    "*anthropic.claude-opus-4-6*",
)
# families whose Converse models take toolChoice `tool` (the service model's ToolChoice note)
_NAMED_CHOICE = ("anthropic.", "amazon.nova")


def _family(model: str, prefixes: Sequence[str]) -> bool:
    return any(p in model for p in prefixes)


class BedrockProvider(BaseProvider):
    """Amazon Bedrock Runtime's Converse / ConverseStream API."""

    name: ClassVar[str] = "bedrock"
    aliases: ClassVar[tuple[str, ...]] = ("aws_bedrock",)
    otel_provider_name: ClassVar[str] = "aws.bedrock"
    default_capabilities: ClassVar[frozenset[Capability]] = _CONVERSE
    model_capability_rules: ClassVar[
        tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...]
    ] = _RULES
    api_key_env: ClassVar[tuple[str, ...]] = ("AWS_BEARER_TOKEN_BEDROCK",)
    requires_api_key: ClassVar[bool] = False
    base_url_env: ClassVar[tuple[str, ...]] = ()
    tool_dialect: ClassVar[str] = "bedrock"
    request_id_headers: ClassVar[tuple[str, ...]] = ("x-amzn-requestid", "x-amz-request-id")
    region_env: ClassVar[tuple[str, ...]] = ("AWS_REGION", "AWS_DEFAULT_REGION")

    def configure(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        credentials: Any = None,
        **options: Any,
    ) -> None:
        """`region`; credentials: `profile` (a shared-config profile), explicit keys, or any
        botocore credentials object (`credentials=`, e.g. from `boto3.Session().get_credentials()`).
        Without them, and without a Bedrock API key, the standard AWS chain is used."""
        super().configure(**options)
        self.region = region or first_env(self.region_env)
        if not self.region:
            raise ConfigurationError(
                "bedrock: no region; pass region=... or set AWS_REGION or AWS_DEFAULT_REGION"
            )
        if not re.fullmatch(r"[a-z0-9-]{1,32}", self.region):
            raise ConfigurationError(f"bedrock: {self.region!r} is not an AWS region name")
        if self.base_url is None:
            self.base_url = f"https://bedrock-runtime.{self.region}.amazonaws.com"
        self.profile = profile
        self._credentials: Any = credentials
        self._signed_with: Any = None
        if aws_access_key_id or aws_secret_access_key:
            if not (aws_access_key_id and aws_secret_access_key):
                raise ConfigurationError("bedrock: pass both aws_access_key_id and aws_secret_access_key")
            from .bedrock_auth import StaticCredentials

            self._credentials = StaticCredentials(aws_access_key_id, aws_secret_access_key, aws_session_token)

    def _check_credentials(self) -> None:
        super()._check_credentials()
        # A Bedrock API key (bearer) wins when it was passed explicitly or no AWS credentials were
        # given; otherwise the AWS chain is resolved now, so a missing setup fails at creation.
        explicit_aws = self._credentials is not None or self.profile is not None
        if self._api_key and not explicit_aws:
            return
        self._api_key = None if explicit_aws else self._api_key
        if self._credentials is None:
            from .bedrock_auth import botocore_credentials

            self._credentials = botocore_credentials(self.profile)

    def __repr__(self) -> str:
        auth = f"api_key={mask_secret(self._api_key)!r}" if self._api_key else "auth='sigv4'"
        return f"{type(self).__name__}(model={self.model!r}, region={self.region!r}, {auth})"

    # -- facts asked of the class ---------------------------------------------------------------
    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        return parse_converse(payload, provider=cls.name)

    @classmethod
    def tools_payload(cls, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        return tools_payload(tools, dialect=cls.tool_dialect)

    def native_structured_output(self, model: str) -> bool:
        from fnmatch import fnmatchcase

        return any(fnmatchcase(model, p) for p in NATIVE_STRUCTURED_OUTPUT)

    # -- translation hooks ----------------------------------------------------------------------
    def translate_tools(self, tools: tuple[ToolDefinition, ...]) -> Any:
        return tools_payload(tools, dialect=self.tool_dialect)

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        return converse_body(
            request,
            native_structured=request.response_model is not None and self.native_structured_output(request.model),
            error_status=_family(request.model, _STATUS_FAMILIES),
            named_choice=_family(request.model, _NAMED_CHOICE),
        )

    def endpoint(self, request: ChatRequest) -> str:
        action = "converse-stream" if request.stream else "converse"
        return f"{self.base_url}{model_path(request.model)}/{action}"

    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    async def aauth_headers(self) -> dict[str, str]:
        refresh_needed = getattr(self._credentials, "refresh_needed", None)
        if not self._api_key and callable(refresh_needed) and refresh_needed():
            # botocore refreshes with blocking HTTP (STS, IMDS, container endpoint): off the loop
            await asyncio.to_thread(self._credentials.get_frozen_credentials)
        return self.auth_headers()

    def _http_call(self, request: ChatRequest, auth: dict[str, str]) -> HttpCall:
        call = super()._http_call(request, auth)
        if request.stream:
            call.headers["accept"] = "application/vnd.amazon.eventstream"
        if not self._api_key:
            from .bedrock_auth import frozen, sigv4_headers

            for name in [n for n in call.headers if n.lower() == "authorization"]:
                del call.headers[name]
            creds = frozen(self._credentials)
            self._signed_with = creds
            call.headers.update(
                sigv4_headers(call.method, call.url, call.headers, call.body, creds, region=self.region)
            )
        return call

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_converse(payload, provider=self.name, model=request.model)

    def new_stream_state(self, request: ChatRequest) -> BedrockStreamState:
        return BedrockStreamState(self.name, request.model)

    def finish(self, request: ChatRequest, response: GenerateResponse) -> GenerateResponse:
        if request.response_model is not None and not self.native_structured_output(request.model):
            _structured_from_tool(request.response_model.__name__, response)
        return super().finish(request, response)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return bedrock_error(status, headers, body, provider=self.name, request_id=self.request_id(headers))

    def secret_values(self) -> tuple[str, ...]:
        """Every credential this provider holds or last signed with, for scrubbing logs, traces
        and recordings (asked without resolving anything: no refresh, no I/O)."""
        found = [self._api_key] if self._api_key else []
        # botocore's refreshable credentials refresh on attribute access: only frozen sets are read
        static = getattr(self._credentials, "_frozen", None)
        for creds in (getattr(self, "_signed_with", None), static):
            if creds is not None:
                found += [v for v in (creds.secret_key, creds.token) if v]
        return tuple(dict.fromkeys(found))


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
