"""The OpenAI Responses wire format (`POST /responses`): pure translation functions.

Used by `openai_responses.py` for OpenAI, Azure OpenAI and Open Responses servers (DeepSeek,
OpenRouter, LM Studio, Bedrock Mantle). What differs from Chat Completions, and is handled here
(ground truth: ../shared/specs/openai/openapi.yaml and ../shared/fixtures/recorded/*responses*):

- tools are flat (`{"type": "function", "name", "description", "parameters", "strict"}`) and
  `strict` is always sent: left out, the service rewrites the schema into strict mode; hosted tools
  (`{"type": "web_search"}`, ...) are dicts that go through untouched;
- the conversation is a list of typed items: messages, `function_call` (its `call_id`, never the
  item's `fc_…` id, is the `ToolCall.id`), `function_call_output`, and opaque items (`reasoning`,
  hosted tool calls). Opaque items ride on the assistant `Message` under `provider_data[WIRE]` and
  go back in their original order, immediately before the item they produced: the service answers
  400 "Item 'rs_…' of type 'reasoning' was provided without its required following item" otherwise;
- `call_id` is at most 64 characters (FunctionCallOutputItemParam): longer ids (other providers'
  histories) are hashed, identically for the call and its output; a `call_id` that repeats across
  turns (Bedrock Mantle names every call `call_0`) is prefixed with its response id, as the
  recorded Mantle client did;
- there is no finish reason: `status` (+ `incomplete_details.reason`) and the output items say it;
- streaming is named events keyed by `output_index` / `item_id`; an item's final form (with the
  complete `encrypted_content`) is the one in `response.output_item.done`, not `.added`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._provider_data import keyed
from .._stream_events import decode_stream_event
from ..errors import ProviderError, ResponseParseError, StreamInterruptedError
from ..tools.definition import ToolDefinition
from ..types import (
    FinishReason,
    GenerateResponse,
    Message,
    ResponseFormat,
    StreamChunk,
    ToolCall,
    ToolCallRequest,
    ToolResult,
    content_images,
    content_parts,
)
from .base import PARSE_ERRORS, ChatRequest, build_provider_error, structured_schema, unexpected_shape
from .openai import normalize_usage

if TYPE_CHECKING:
    from ..image import Image

__all__ = [
    "ENCRYPTED_INCLUDE",
    "WIRE",
    "is_hosted_tool",
    "parse_response_body",
    "response_error",
    "responses_body",
    "responses_input",
    "responses_tools",
    "strip_encrypted",
    "wire_call_id",
]

# provider_data key of the Responses wire (shared by OpenAI, Azure and Open Responses servers)
WIRE = "openai_responses"
ENCRYPTED_INCLUDE = "reasoning.encrypted_content"
MAX_CALL_ID = 64

# error codes of ResponseErrorCode / stream `error` events → the HTTP status they stand for
_ERROR_STATUS = {
    "server_error": 500,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "vector_store_timeout": 408,
    "context_length_exceeded": 400,
    "invalid_prompt": 400,
}
_PARAM_NAMES = {"max_tokens": "max_output_tokens"}


# -- request ---------------------------------------------------------------------------------
def is_hosted_tool(tool: Any) -> bool:
    """A hosted (server-side) tool dict such as `{"type": "web_search"}`: sent as given."""
    return isinstance(tool, Mapping) and tool.get("type") not in (None, "function")


def responses_tools(tools: Sequence[ToolDefinition], *, dialect: str = "openai") -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters_for(dialect),
            # explicit: left out, Responses normalizes the schema into strict mode by itself
            "strict": bool(tool.strict),
        }
        for tool in tools
    ]


def wire_call_id(call_id: str) -> str:
    """A `call_id` the service accepts (1 to 64 characters): kept when it fits, else a stable hash."""
    if 0 < len(call_id) <= MAX_CALL_ID:
        return call_id
    return "call_tw" + hashlib.sha256(call_id.encode("utf-8")).hexdigest()[:40]


def _own(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    value = (data or {}).get(WIRE)
    return value if isinstance(value, Mapping) else {}


def _arguments_text(call: ToolCall) -> str:
    # a call whose arguments did not parse goes back exactly as the model wrote it
    if call.arguments_error is not None and call.raw_arguments is not None:
        return call.raw_arguments
    if call.raw_arguments is not None:
        try:
            if json.loads(call.raw_arguments) == call.arguments:
                return call.raw_arguments  # byte-identical to what the model produced
        except ValueError:
            pass
    return json.dumps(call.arguments, ensure_ascii=False)


def _repeated_ids(messages: Sequence[Message]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for message in messages:
        if message.role == "assistant":
            for call in message.tool_calls or ():
                (repeated if call.id in seen else seen).add(call.id)
    return repeated


def _message_text(item: Mapping[str, Any]) -> str:
    parts = item.get("content")
    if isinstance(parts, str):
        return parts
    return "".join(
        p["text"] for p in parts or () if isinstance(p, Mapping) and isinstance(p.get("text"), str)
    )


def _assistant_items(message: Message, ids: Mapping[str, str]) -> list[dict[str, Any]]:
    """One assistant turn as input items: its recorded output order when it came from this wire
    (opaque items verbatim), else its text then its calls. Neutral fields win over the recorded
    ones, so an edited call or text is sent as edited."""
    calls = {call.id: call for call in message.tool_calls or ()}
    output = _own(message.provider_data).get("output")
    recorded = [i for i in output if isinstance(i, Mapping)] if isinstance(output, list) else []
    # the message items go back verbatim (ids, phases) while their text is the message's text;
    # an edited text replaces them, at the place of the first one
    texts = [i for i in recorded if i.get("type") == "message"]
    text = message.text
    verbatim = bool(texts) and "".join(map(_message_text, texts)) == (text or "")
    items: list[dict[str, Any]] = []
    text_sent = False
    for item in recorded:
        kind = item.get("type")
        if kind == "function_call":
            call = calls.pop(str(item.get("call_id")), None)
            if call is not None:
                items.append(_call_item(call, ids))
        elif kind == "message":
            if verbatim:
                items.append(dict(item))
            elif text and not text_sent:
                items.append({"role": "assistant", "content": text})
            text_sent = True
        else:
            items.append(dict(item))
    if text and not text_sent:
        items.append({"role": "assistant", "content": text})
    items.extend(_call_item(call, ids) for call in calls.values())
    return items


def input_image(image: Image) -> dict[str, Any]:
    """An `input_image` content item: the URL, or the bytes as a data: URL (`detail` is required
    by the spec's InputImageContent; "auto" unless the image says otherwise)."""
    url = image.url if image.data is None else image.data_url()
    return {"type": "input_image", "image_url": url, "detail": image.detail or "auto"}


def _input_content(message: Message) -> Any:
    if not content_images(message.content):
        return message.text or ""
    return [
        {"type": "input_text", "text": part} if isinstance(part, str) else input_image(part)
        for part in content_parts(message.content)
    ]


def _output_payload(result: ToolResult) -> Any:
    # `function_call_output.output` takes text, or a list of input_text / input_image items
    images = result.images()
    if not images:
        return result.output_text()
    text = result.output_text()
    texts = [{"type": "input_text", "text": text}] if text else []
    return texts + [input_image(image) for image in images]


def _call_item(call: ToolCall, ids: Mapping[str, str]) -> dict[str, Any]:
    # no `id`: the `fc_…` id is not needed (and pydantic-ai, simonw/llm and the recorded 200s
    # replay without it); `call_id` pairs the call with its output
    return {
        "type": "function_call",
        "call_id": ids.get(call.id) or wire_call_id(call.id),
        "name": call.name,
        "arguments": _arguments_text(call),
    }


def responses_input(
    messages: Sequence[Message], *, previous_response_id: str | None = None
) -> list[dict[str, Any]]:
    """Neutral messages → input items (system messages stay messages: `instructions=` passes
    through as a keyword argument when wanted).

    With `previous_response_id`, the service already holds everything up to that response: only
    the messages after the assistant turn it produced are sent (all of them when no message of the
    history carries that id, i.e. the caller passed only the new messages).
    """
    start = 0
    if previous_response_id:
        for index, message in enumerate(messages):
            if message.role == "assistant" and _own(message.provider_data).get("id") == previous_response_id:
                start = index + 1
    repeated = _repeated_ids(messages)
    ids: dict[str, str] = {}
    items: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.role
        if role == "assistant":
            response_id = _own(message.provider_data).get("id")
            for call in message.tool_calls or ():
                wire = call.id
                if call.id in repeated and isinstance(response_id, str):
                    wire = f"{response_id}:{call.id}"
                ids[call.id] = wire_call_id(wire)
            if index >= start:
                items.extend(_assistant_items(message, ids))
            continue
        if index < start:
            continue
        if role == "tool":
            if not message.tool_results:
                raise ValueError("a tool message needs tool_results (call_id, name, output)")
            for result in message.tool_results:
                items.append(
                    {
                        "type": "function_call_output",
                        "call_id": ids.get(result.call_id) or wire_call_id(result.call_id),
                        "output": _output_payload(result),
                    }
                )
            continue
        entry: dict[str, Any] = {"role": role, "content": _input_content(message)}
        items.append(entry)
    return items


def responses_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a `POST /responses` request."""
    extra = request.extra
    items = responses_input(request.messages, previous_response_id=extra.get("previous_response_id"))
    body: dict[str, Any] = {"model": request.model, "input": items}
    for key, value in request.params.items():
        body[_PARAM_NAMES.get(key, key)] = value
    if request.tool_payload:
        body["tools"] = request.tool_payload
        choice = request.tool_choice
        if choice is not None:
            body["tool_choice"] = (
                choice if choice in ("auto", "none", "required") else {"type": "function", "name": choice}
            )
        # never sent without tools (Azure: "only allowed when 'tools' are specified")
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_model is not None:
        body["text"] = {
            "format": {
                "type": "json_schema",
                "name": request.response_model.__name__,
                "schema": structured_schema(request.response_model, "openai", strict=True),
                "strict": True,
            }
        }
    elif request.response_format is ResponseFormat.JSON:
        body["text"] = {"format": {"type": "json_object"}}
    if request.stream:
        body["stream"] = True
    for key, value in extra.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    if extra.get("store") is False:
        # stateless: the reasoning comes back encrypted and our echo is the only state the
        # service gets (spec `include`: "reasoning.encrypted_content")
        include = list(body.get("include") or ())
        if ENCRYPTED_INCLUDE not in include:
            include.append(ENCRYPTED_INCLUDE)
        body["include"] = include
    return body


def strip_encrypted(messages: Sequence[Message]) -> tuple[list[Message], int]:
    """The history without the output items that carry `encrypted_content` (another
    organisation's, refused with `invalid_encrypted_content`), and how many were dropped."""
    out: list[Message] = []
    dropped = 0
    for message in messages:
        own = _own(message.provider_data)
        output = own.get("output")
        if message.role != "assistant" or not isinstance(output, list):
            out.append(message)
            continue
        kept = [i for i in output if not (isinstance(i, Mapping) and i.get("encrypted_content"))]
        dropped += len(output) - len(kept)
        data = {**(message.provider_data or {}), WIRE: {**own, "output": kept}}
        out.append(
            Message(
                role=message.role,
                content=message.content,
                name=message.name,
                tool_calls=message.tool_calls,
                tool_results=message.tool_results,
                provider_data=data,
            )
        )
    return out, dropped


# -- response --------------------------------------------------------------------------------
def _finish_reason(payload: Mapping[str, Any], has_calls: bool) -> FinishReason | None:
    status = payload.get("status")
    if status == "incomplete":
        details = payload.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        if reason == "max_output_tokens":
            return "length"
        if reason == "content_filter":
            return "content_filter"
        # another reason the answer was cut: still cut ("length"); the raw reason stays in
        # raw_response["incomplete_details"] (docs/providers/README.md, "Finish reasons")
        return "length"
    if status in (None, "completed"):
        return "tool_calls" if has_calls else "stop"
    return None  # queued / in_progress (background mode): not finished


def _read_message(item: Mapping[str, Any], texts: list[str], refusals: list[str]) -> None:
    for part in item.get("content") or ():
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
            refusals.append(part["refusal"])
        elif isinstance(part.get("text"), str) and part.get("type") in ("output_text", "text", None):
            texts.append(part["text"])


def _call(item: Mapping[str, Any]) -> ToolCall:
    """A `function_call` item → `ToolCall` (id = its `call_id`, never the item's `fc_…` id)."""
    arguments = item.get("arguments")
    if arguments is not None and not isinstance(arguments, (str, Mapping)):
        arguments = json.dumps(arguments)  # kept as its JSON: the call reports an arguments_error
    return ToolCall.from_raw(str(item.get("call_id") or ""), str(item.get("name") or ""), arguments)


def parse_response_body(payload: Any, *, provider: str = "openai") -> GenerateResponse:
    """A Responses API `Response` object → `GenerateResponse` (every `function_call`, in order)."""
    try:
        return _parse(payload, provider)
    except PARSE_ERRORS as exc:
        raise unexpected_shape(provider, "response", payload, exc) from exc


def _parse(payload: Any, provider: str) -> GenerateResponse:
    if not isinstance(payload, Mapping):
        raise ResponseParseError(
            f"{provider}: expected a JSON object, got {type(payload).__name__}",
            provider=provider,
            body=payload,
        )
    if payload.get("status") == "failed" or (
        isinstance(payload.get("error"), Mapping) and "output" not in payload
    ):
        raise response_error(provider, payload.get("error") or {}, payload)
    output = payload.get("output")
    if not isinstance(output, list):
        raise ResponseParseError(
            f"{provider}: the response has no output list", provider=provider, body=payload
        )
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[ToolCall] = []
    for item in output:
        kind = item.get("type")
        if kind == "message":
            _read_message(item, texts, refusals)
        elif kind == "function_call":
            calls.append(_call(item))
    content = "".join(texts) or None
    own: dict[str, Any] = {"output": [dict(i) for i in output]}
    if payload.get("id"):
        own["id"] = payload["id"]
    if payload.get("content_filters"):
        own["content_filter_results"] = payload["content_filters"]  # Azure
    provider_data = keyed({WIRE: own}, WIRE)
    return GenerateResponse(
        content=content,
        tool_calls=ToolCallRequest(calls, content) if calls else None,
        usage=normalize_usage(payload.get("usage")),
        model=payload.get("model"),
        finish_reason=_finish_reason(payload, bool(calls)),
        raw_response=payload,
        refusal="".join(refusals) or None,
        id=payload.get("id"),
        provider_data=provider_data,
    )


def response_error(provider: str, error: Any, body: Any) -> ProviderError:
    """A failure reported inside a 200 (stream `error` event, `response.failed`, `status: failed`),
    typed by its code as the same failure would be over HTTP."""
    code: Any = None
    if isinstance(error, Mapping) and isinstance(error.get("error"), Mapping):
        error = error["error"]  # {"type": "error", "error": {"type", "code", ...}} (older stream shape)
        code = error.get("type")
    if isinstance(error, Mapping):
        code = error.get("code") or code
    message = str(error.get("message") or "") if isinstance(error, Mapping) else str(error or "")
    code_text = str(code) if code is not None else None
    status = _ERROR_STATUS.get(code_text or "", 500 if code_text in (None, "") else 400)
    return build_provider_error(
        status,
        f"{provider} reported an error inside the response: {message or code_text or 'unknown error'}",
        provider=provider,
        headers={},
        body=body,
        code=code_text,
    )


# -- streaming -------------------------------------------------------------------------------
class _Item:
    """One output item being streamed, at its `output_index`."""

    __slots__ = ("call_index", "done", "item", "parts", "refusal", "reported")

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item
        self.parts: list[str] = []  # argument fragments (function_call) or text deltas (message)
        self.refusal: list[str] = []
        self.done = False
        self.call_index: int | None = None
        self.reported = False  # announced in `completed_calls`

    def final(self) -> dict[str, Any]:
        """The item as `output_item.done` gave it, else rebuilt from what arrived."""
        if self.done:
            return self.item
        item = dict(self.item)
        if item.get("type") == "function_call" and self.parts:
            item["arguments"] = "".join(self.parts)
        elif item.get("type") == "message" and (self.parts or self.refusal):
            content: list[dict[str, Any]] = []
            if self.parts:
                content.append({"type": "output_text", "text": "".join(self.parts), "annotations": []})
            if self.refusal:
                content.append({"type": "refusal", "refusal": "".join(self.refusal)})
            item["content"] = content
        return item


def _index(payload: Mapping[str, Any]) -> int:
    index = payload["output_index"]
    if isinstance(index, bool) or not isinstance(index, int):
        raise ValueError(f"output_index {index!r} is not an integer")
    return index


def _fragment(value: Any) -> str:
    return value if isinstance(value, str) else ""


class ResponsesStreamState:
    """Assembles a streamed Responses turn from its named events, by `output_index` (parallel
    calls interleave) and `item_id`. The terminal `response.completed` / `.incomplete` carries the
    status and usage; the items are the `output_item.done` ones, so `stream.response` is the
    response the same request gives unstreamed."""

    def __init__(self, provider: str = "openai") -> None:
        self.provider = provider
        self.done = False
        self._items: dict[int, _Item] = {}
        self._by_id: dict[str, _Item] = {}
        self._calls = 0
        self._snapshot: dict[str, Any] = {}
        self._final: dict[str, Any] | None = None
        self._events = 0

    def feed(self, event: Any) -> list[Any]:
        if event.data == "[DONE]":  # OpenRouter ends with it after response.completed
            self.done = True
            return []
        payload = decode_stream_event(event, self.provider)
        if payload is None:
            return []
        kind = str(payload.get("type") or event.event or "")
        if kind == "error" or event.event == "error":
            raise response_error(self.provider, payload, payload)
        if kind == "response.failed":
            response = payload.get("response")
            error = response.get("error") if isinstance(response, Mapping) else None
            raise response_error(self.provider, error or {}, payload)
        self._events += 1
        try:
            return self._feed(kind, payload)
        except PARSE_ERRORS as exc:
            raise unexpected_shape(self.provider, "stream event", payload, exc) from exc

    def _feed(self, kind: str, payload: dict[str, Any]) -> list[Any]:
        # the many delta events first: they are most of a stream
        if kind == "response.function_call_arguments.delta":
            entry = self._entry(payload)
            fragment = _fragment(payload.get("delta"))
            entry.parts.append(fragment)
            if not fragment or entry.call_index is None:
                return []
            return [StreamChunk(tool_call_deltas=[self._delta(entry, fragment)], raw=payload)]
        if kind == "response.output_text.delta":
            text = _fragment(payload.get("delta"))
            self._entry(payload).parts.append(text)
            return [StreamChunk(content=text, raw=payload)] if text else []
        if kind in ("response.created", "response.in_progress", "response.queued"):
            response = payload.get("response")
            if isinstance(response, Mapping):
                self._snapshot = dict(response)
            return []
        if kind in ("response.completed", "response.incomplete"):
            self._final = dict(payload["response"])
            self.done = True
            finish = _finish_reason(self._final, self._calls > 0)
            return [
                StreamChunk(
                    finish_reason=finish, usage=normalize_usage(self._final.get("usage")), raw=payload
                )
            ]
        if kind == "response.output_item.added":
            entry = _Item(dict(payload["item"]))
            self._items[_index(payload)] = entry
            if entry.item.get("id"):
                self._by_id[str(entry.item["id"])] = entry
            if entry.item.get("type") == "function_call":
                entry.call_index = self._calls
                self._calls += 1
                first = _fragment(entry.item.get("arguments"))
                if first:
                    entry.parts.append(first)
                return [StreamChunk(tool_call_deltas=[self._delta(entry, first, header=True)], raw=payload)]
            return []
        if kind == "response.output_item.done":
            index = _index(payload)
            entry = self._items.get(index) or _Item({})
            entry.item, entry.done = dict(payload["item"]), True
            self._items[index] = entry
            return self._completed(entry, payload)
        if kind == "response.function_call_arguments.done":
            entry = self._entry(payload)
            if isinstance(payload.get("arguments"), str):
                entry.parts = [payload["arguments"]]  # the whole text: it wins over the fragments
            return self._completed(entry, payload)
        if kind == "response.refusal.delta":
            self._entry(payload).refusal.append(_fragment(payload.get("delta")))
            return []
        return []  # content_part.*, reasoning deltas, hosted-tool progress: the .done item has them

    @staticmethod
    def _completed(entry: _Item, payload: dict[str, Any]) -> list[Any]:
        """`function_call_arguments.done` (or, first, the call's `output_item.done`) ends a call."""
        item = entry.final()
        if entry.reported or item.get("type") != "function_call" or not item.get("call_id"):
            return []
        entry.reported = True
        return [StreamChunk(completed_calls=[_call(item)], raw=payload)]

    def _entry(self, payload: Mapping[str, Any]) -> _Item:
        item_id = payload.get("item_id")
        entry = self._by_id.get(item_id) if isinstance(item_id, str) else None
        if entry is None:
            index = _index(payload)
            entry = self._items.get(index)
            if entry is None:  # a delta before its item was announced
                entry = self._items[index] = _Item({"id": item_id})
        return entry

    @staticmethod
    def _delta(entry: _Item, fragment: str, *, header: bool = False) -> dict[str, Any]:
        function: dict[str, Any] = {"arguments": fragment}
        delta: dict[str, Any] = {"index": entry.call_index, "type": "function", "function": function}
        if header:
            delta["id"] = entry.item.get("call_id")
            function["name"] = entry.item.get("name")
        return delta

    def _output(self) -> list[dict[str, Any]]:
        return [self._items[i].final() for i in sorted(self._items)]

    def partial(self) -> tuple[str | None, list[ToolCall]]:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for index in sorted(self._items):
            entry = self._items[index]
            item = entry.final()
            if item.get("type") == "message":
                if entry.done:
                    _read_message(item, texts, [])
                else:
                    texts.extend(entry.parts)
            elif item.get("type") == "function_call" and entry.done:
                call = _call(item)
                if call.arguments_error is None:
                    calls.append(call)
        return "".join(texts) or None, calls

    def result(self) -> GenerateResponse:
        if self._final is None:
            content, calls = self.partial()
            raise StreamInterruptedError(
                f"{self.provider}: the stream ended without response.completed after {self._events} event(s)",
                partial_content=content,
                tool_calls=calls,
                provider=self.provider,
            )
        payload = {**self._snapshot, **self._final}
        streamed = self._output()
        recorded = payload.get("output")
        if isinstance(recorded, list) and len(recorded) > len(streamed):
            # items announced only in the final response (no output_item events for them)
            streamed = streamed + [dict(i) for i in recorded[len(streamed) :]]
        payload["output"] = streamed
        return parse_response_body(payload, provider=self.provider)
