"""Gemini: the `generateContent` wire of the Gemini API (API key) and of Vertex AI.

Pure translation functions (neutral request → `GenerateContentRequest` JSON; a
`GenerateContentResponse`, a list of them, or SSE events → toolwire types; a google.rpc error body →
`ProviderError`) and the `GeminiProvider` wiring them. No Google SDK is imported here; Vertex
credentials come from google-auth (the `vertex` extra), imported only when Vertex is used.

Wire rules this module enforces (../docs/providers/gemini.md has the why of each):
- function calls carry no id on the Gemini API (Vertex gemini-3 adds one): a call without an id
  gets a stable generated one, and only an id that *Gemini* gave is ever sent back;
- every result of a turn goes in ONE user content of `functionResponse` parts, in the order of the
  calls, named after the function (Gemini matches results by name and order);
- `thoughtSignature` is kept per call (and on the final text) and echoed unchanged;
- a function-call turn must follow a user or function-response turn: a history that starts with
  a model turn gets a minimal user turn in front.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .._stream_events import decode_stream_event
from .._transport import SSEEvent
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    ContentFilterError,
    ContextLengthError,
    ProviderError,
    RateLimitError,
    ResponseParseError,
    StreamInterruptedError,
)
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
from .openai import generated_call_id, is_token_count, token_count, turn_seed

if TYPE_CHECKING:
    from ..image import Image

__all__ = [
    "VERTEX_SCOPE",
    "GeminiProvider",
    "GeminiStreamState",
    "gemini_body",
    "gemini_contents",
    "gemini_error",
    "gemini_messages",
    "gemini_tools",
    "generate_content_body",
    "parse_gemini",
    "parse_generate_content",
]

VERTEX_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"

# Sent as the user turn in front of a history that opens with a model turn. Not empty: Vertex
# answers 400 "empty text parameter" to an empty text part.
TURN_ORDER_FILLER = "."

_FILTER_REASONS = frozenset(
    {"SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
)
_MALFORMED_REASONS = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})
_SAMPLING_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
}
_TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


# -- request ---------------------------------------------------------------------------------
def gemini_tools(tools: Sequence[ToolDefinition], *, json_schema: bool = False) -> list[dict[str, Any]]:
    """`[{"functionDeclarations": [...]}]`. With `json_schema=True` the parameters travel as full
    JSON Schema in `parametersJsonSchema` (newer models); otherwise in the OpenAPI subset
    (`parameters`), omitted for a function without arguments (Gemini rejects an empty object)."""
    declarations = []
    for tool in tools:
        declaration: dict[str, Any] = {"name": tool.name, "description": tool.description or ""}
        if json_schema:
            declaration["parametersJsonSchema"] = tool.parameters_for("json_schema")
        else:
            parameters = tool.parameters_for("gemini")
            if parameters:
                declaration["parameters"] = parameters
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}]


def _own(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The `gemini` entry of a provider_data dict (other providers' entries are ignored)."""
    if not data:
        return {}
    own = data.get("gemini")
    return own if isinstance(own, Mapping) else {}


def gemini_call_id(call: ToolCall) -> str | None:
    """The id Gemini itself gave this call, or None (generated and foreign ids are never sent)."""
    value = _own(call.provider_data).get("id")
    return str(value) if value else None


def _response_payload(result: ToolResult) -> dict[str, Any]:
    if result.error is not None:
        return {"error": result.error}
    output = result.output
    if isinstance(output, str):
        try:
            value: Any = json.loads(output)
        except ValueError:
            value = output
        return {"result": value}
    text = result.output_text()
    try:
        return {"result": json.loads(text)}
    except ValueError:
        return {"result": text}


def _call_part(call: ToolCall) -> dict[str, Any]:
    function_call: dict[str, Any] = {"name": call.name, "args": call.arguments}
    gemini_id = gemini_call_id(call)
    if gemini_id:
        function_call["id"] = gemini_id
    part: dict[str, Any] = {"functionCall": function_call}
    signature = _own(call.provider_data).get("thought_signature")
    if signature:
        part["thoughtSignature"] = signature
    return part


def inline_image_part(image: Image) -> dict[str, Any]:
    """An `inlineData` part (URL images are downloaded before translation: Gemini takes bytes)."""
    if image.data is None:
        raise ValueError(f"gemini: image {image.url!r} must be downloaded before it is sent")
    return {"inlineData": {"mimeType": image.media_type, "data": image.base64()}}


def _user_parts(message: Message) -> list[dict[str, Any]]:
    parts = [
        {"text": part} if isinstance(part, str) else inline_image_part(part)
        for part in content_parts(message.content)
    ]
    return parts or [{"text": ""}]


def _result_image_parts(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    # The images a tool returned follow its functionResponse in the same user turn, each run of
    # them introduced by the call it answers (the response itself must stay a JSON object).
    parts: list[dict[str, Any]] = []
    for result in results:
        images = result.images()
        if images:
            parts.append({"text": f"Images returned by {result.name} (call {result.call_id}):"})
            parts.extend(inline_image_part(image) for image in images)
    return parts


def gemini_contents(messages: Sequence[Message]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Neutral messages → (`systemInstruction` or None, `contents`)."""
    system_parts: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    calls: dict[str, ToolCall] = {}
    turn_calls: list[str] = []
    positions: dict[int, int] = {}  # functionResponse part (by identity) -> index of its call
    image_parts: set[int] = set()  # the parts that carry tool results' images (by identity)

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for message in messages:
        if message.role == "system":
            if message.text:
                system_parts.append({"text": message.text})
            continue
        if message.role == "user":
            add("user", _user_parts(message))
            continue
        if message.role == "assistant":
            parts: list[dict[str, Any]] = []
            if message.text:
                text_part: dict[str, Any] = {"text": message.text}
                signature = _own(message.provider_data).get("thought_signature")
                if signature:
                    text_part["thoughtSignature"] = signature
                parts.append(text_part)
            turn_calls = []
            for call in message.tool_calls or ():
                calls[call.id] = call
                turn_calls.append(call.id)
                parts.append(_call_part(call))
            # an assistant message with neither text nor calls says nothing: not sent
            add("model", parts)
            continue
        # role == "tool": every result of the turn in one user content, in the order of the calls
        # (Gemini pairs responses with calls by name and position), also when the results came as
        # several tool messages (one per result, as OpenAI-shaped histories do)
        if not message.tool_results:
            raise ValueError("a tool message needs tool_results (call_id, name, output)")
        order = {call_id: i for i, call_id in enumerate(turn_calls)}
        parts = []
        for result in message.tool_results:
            answered = calls.get(result.call_id)
            name = result.name or (answered.name if answered is not None else "")
            if not name:
                raise ValueError(
                    f"tool result {result.call_id!r} has no name and answers no call in the history: "
                    "Gemini matches results to calls by function name"
                )
            function_response: dict[str, Any] = {"name": name, "response": _response_payload(result)}
            answered_id = gemini_call_id(answered) if answered is not None else None
            if answered_id:
                function_response["id"] = answered_id
            part = {"functionResponse": function_response}
            positions[id(part)] = order.get(result.call_id, len(order))
            parts.append(part)
        add("user", parts)
        last = contents[-1]["parts"]
        responses = [p for p in last if id(p) not in image_parts]
        if all(id(p) in positions for p in responses):
            # responses in call order, then the images of the turn's results
            responses.sort(key=lambda p: positions[id(p)])
            last[:] = responses + [p for p in last if id(p) in image_parts]
        extra = _result_image_parts(message.tool_results)
        image_parts.update(id(p) for p in extra)
        last.extend(extra)

    if contents and contents[0]["role"] == "model":
        # "function call turn comes immediately after a user turn or after a function response
        # turn": a history that opens with the model gets a minimal user turn in front.
        contents.insert(0, {"role": "user", "parts": [{"text": TURN_ORDER_FILLER}]})
    system = {"role": "user", "parts": system_parts} if system_parts else None
    return system, contents


def _merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if value is None:
            body.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value


def generate_content_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a `generateContent` / `streamGenerateContent` request."""
    system, contents = gemini_contents(request.messages)
    body: dict[str, Any] = {"contents": contents}
    if system is not None:
        body["systemInstruction"] = system
    if request.tools:
        body["tools"] = request.tool_payload
        choice = request.tool_choice
        if choice is not None:
            mode = _TOOL_CHOICE_MODES.get(choice)
            config: dict[str, Any] = {"mode": mode or "ANY"}
            if mode is None:
                config["allowedFunctionNames"] = [choice]
            body["toolConfig"] = {"functionCallingConfig": config}
    # parallel_tool_calls has no Gemini counterpart: the model decides (documented, not sent).
    generation: dict[str, Any] = {}
    for key, value in request.params.items():
        generation[_SAMPLING_FIELDS.get(key, key)] = value
    if request.response_model is not None and request.tools:
        # Gemini refuses tools beside responseMimeType "application/json" (400: "Function calling
        # with a response mime type ... is unsupported"): the tools run first, and the schema
        # goes in the instructions; the answer is validated (and re-asked) as usual.
        schema = structured_schema(request.response_model, "gemini", strict=False)
        note = (
            "When you answer without calling a function, answer with only a JSON object (no code "
            f"fence) matching this JSON schema: {json.dumps(schema, separators=(',', ':'))}"
        )
        instruction = body.get("systemInstruction") or {}
        parts = [*(instruction.get("parts") or []), {"text": note}]
        body["systemInstruction"] = {**instruction, "parts": parts}
    elif request.response_model is not None:
        generation["responseMimeType"] = "application/json"
        schema = structured_schema(request.response_model, "gemini", strict=False)
        if schema:
            generation["responseSchema"] = schema
    elif request.response_format is ResponseFormat.JSON:
        generation["responseMimeType"] = "application/json"
    if generation:
        body["generationConfig"] = generation
    if request.extra:
        _merge_extra(body, request.extra)
    return body


# -- response --------------------------------------------------------------------------------
def _usage(metadata: Any) -> dict[str, int] | None:
    if not isinstance(metadata, Mapping):
        return None
    prompt = metadata.get("promptTokenCount")
    candidates = metadata.get("candidatesTokenCount")
    thoughts = metadata.get("thoughtsTokenCount")
    total = metadata.get("totalTokenCount")
    if prompt is None and candidates is None and total is None:
        return None
    prompt_i = token_count(prompt)
    # thinking tokens are billed as output: count them with the completion
    completion_i = token_count(candidates) + token_count(thoughts)
    return {
        "prompt_tokens": prompt_i,
        "completion_tokens": completion_i,
        "total_tokens": token_count(total) if is_token_count(total) else prompt_i + completion_i,
    }


def normalize_finish_reason(reason: str | None, has_calls: bool) -> FinishReason | None:
    if reason is None:
        return "tool_calls" if has_calls else None
    if reason in _FILTER_REASONS:
        return "content_filter"
    if reason == "MAX_TOKENS":
        return "length"
    if has_calls:
        return "tool_calls"  # Gemini says STOP for a turn that called functions
    return "stop"


_PATH_TOKEN = re.compile(
    r"\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\[\"((?:[^\"\\]|\\.)*)\"\]"
)


def _json_path(path: str) -> list[str | int]:
    """`$.a.b[0]['c d']` → ["a", "b", 0, "c d"] (the RFC 9535 subset Vertex streams)."""
    if not path.startswith("$"):
        raise ValueError(f"not a JSON path: {path!r}")
    keys: list[str | int] = []
    pos = 1
    while pos < len(path):
        match = _PATH_TOKEN.match(path, pos)
        if match is None:
            raise ValueError(f"unsupported JSON path {path!r} at position {pos}")
        name, index, single, double = match.groups()
        if index is not None:
            keys.append(int(index))
        else:
            keys.append(name if name is not None else (single if single is not None else double))
        pos = match.end()
    return keys


def _assign(root: dict[str, Any], keys: list[str | int], value: Any, append: bool) -> None:
    if not keys:
        raise ValueError("a partial argument must name a field below $")
    node: Any = root
    for key, following in zip(keys, [*keys[1:], None]):
        container_for_next: Any = [] if isinstance(following, int) else {}
        if following is None:
            if append and isinstance(value, str):
                current = node[key] if _has(node, key) else ""
                value = (current if isinstance(current, str) else "") + value
            _set(node, key, value)
            return
        if not _has(node, key):
            _set(node, key, container_for_next)
        node = node[key]


def _has(node: Any, key: str | int) -> bool:
    if isinstance(key, int):
        return isinstance(node, list) and key < len(node)
    return isinstance(node, dict) and key in node


_MAX_INDEX_GAP = 10_000


def _set(node: Any, key: str | int, value: Any) -> None:
    if isinstance(key, int):
        if not isinstance(node, list):
            raise ValueError("an index into something that is not an array")
        if key - len(node) > _MAX_INDEX_GAP:
            # pieces fill arrays in order: `$.a[99999999999]` is corrupt, not a reason to pad
            # memory with nulls until the process dies
            raise ValueError(f"array index {key} far beyond the {len(node)} element(s) so far")
        while len(node) <= key:
            node.append(None)
        node[key] = value
    else:
        if not isinstance(node, dict):
            raise ValueError("a field of something that is not an object")
        node[key] = value


def _partial_value(piece: Mapping[str, Any]) -> Any:
    if "stringValue" in piece:
        return piece["stringValue"]
    if "numberValue" in piece:
        number = piece["numberValue"]
        return int(number) if isinstance(number, float) and number.is_integer() else number
    if "boolValue" in piece:
        return bool(piece["boolValue"])
    return None  # nullValue


def _error_status(code: Any) -> int:
    """The HTTP status of an error body inside a 200 (google.rpc `code`), 500 when it is not one."""
    if isinstance(code, str) and len(code) == 3 and code.isascii() and code.isdigit():
        code = int(code)
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return 500


@dataclass
class _Call:
    name: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    thought_signature: str | None = None
    open: bool = False  # a Vertex partialArgs call still receiving pieces
    error: str | None = None


class _Assembler:
    """Builds one turn from a sequence of `GenerateContentResponse` objects (one for a plain
    response; one per SSE event or JSON-array element when streaming)."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.text_signature: str | None = None
        self.calls: list[_Call] = []
        self.finish: str | None = None
        self.finish_message: str | None = None
        self.safety: Any = None
        self.usage: dict[str, int] | None = None
        self.model: str | None = None
        self.id: str | None = None
        self._nonce = uuid.uuid4().hex[:12]  # generated ids: stable in this turn, unique across turns
        self.prompt_feedback: Any = None
        self.candidates_seen = False
        self.citations: list[Any] = []

    def add(self, payload: Any) -> tuple[str, list[dict[str, Any]]]:
        """Merge one response object; returns (new text, deltas of the calls it completed)."""
        if not isinstance(payload, Mapping):
            raise ResponseParseError(
                f"{self.provider}: expected a GenerateContentResponse object, got {type(payload).__name__}",
                provider=self.provider,
                body=payload,
            )
        if "error" in payload and not payload.get("candidates"):
            code = payload["error"].get("code") if isinstance(payload["error"], Mapping) else None
            raise gemini_error(
                _error_status(code),
                {},
                json.dumps(payload).encode(),
                provider=self.provider,
            )
        self.model = payload.get("modelVersion") or self.model
        self.id = self.id or payload.get("responseId")
        usage = _usage(payload.get("usageMetadata"))
        if usage is not None:
            self.usage = usage
        if payload.get("promptFeedback"):
            self.prompt_feedback = payload["promptFeedback"]
        candidates = payload.get("candidates") or []
        text = ""
        completed: list[dict[str, Any]] = []
        for candidate in candidates:
            if candidate.get("index", 0) != 0:
                continue
            self.candidates_seen = True
            content = candidate.get("content") or {}
            for part in content.get("parts") or ():
                text += self._part(part, completed)
            finish = candidate.get("finishReason")
            if isinstance(finish, str) and finish:
                # an enum name on the wire; anything else is no finish (the stream is not done)
                self.finish = finish
            if candidate.get("finishMessage"):
                self.finish_message = candidate["finishMessage"]
            if candidate.get("safetyRatings"):
                self.safety = candidate["safetyRatings"]
            if candidate.get("citationMetadata"):
                self.citations.append(candidate["citationMetadata"])
        return text, completed

    def _part(self, part: Mapping[str, Any], completed: list[dict[str, Any]]) -> str:
        signature = part.get("thoughtSignature")
        if "functionCall" in part:
            self._function_call(part["functionCall"] or {}, signature, completed)
            return ""
        text = part.get("text")
        if part.get("thought"):
            if isinstance(text, str) and text:
                self.thoughts.append(text)
            return ""
        if signature:
            self.text_signature = signature
        if isinstance(text, str) and text:
            self.text.append(text)
            return text
        return ""

    def _function_call(
        self, raw: Mapping[str, Any], signature: str | None, completed: list[dict[str, Any]]
    ) -> None:
        current = self.calls[-1] if self.calls and self.calls[-1].open else None
        partial = raw.get("partialArgs")
        will_continue = bool(raw.get("willContinue"))
        if current is None and (raw.get("name") or not (partial or will_continue)):
            current = _Call(name=str(raw.get("name") or ""), id=str(raw["id"]) if raw.get("id") else None)
            if isinstance(raw.get("args"), Mapping):
                current.args = dict(raw["args"])
            self.calls.append(current)
        if current is None:
            raise ResponseParseError(
                f"{self.provider}: streamed function-call arguments without a function call",
                provider=self.provider,
                body=dict(raw),
            )
        if signature and current.thought_signature is None:
            current.thought_signature = signature
        if raw.get("id") and current.id is None:
            current.id = str(raw["id"])
        for piece in partial or ():
            try:
                keys = _json_path(str(piece.get("jsonPath", "")))
                _assign(current.args, keys, _partial_value(piece), append=True)
            except ValueError as exc:
                current.error = f"could not assemble streamed arguments: {exc}"
        # A call streamed in pieces ends with a functionCall part that does not continue.
        current.open = will_continue
        if not current.open:
            index = len(self.calls) - 1
            completed.append(
                {
                    "index": index,
                    "id": self._call_id(current, index),
                    "name": current.name,
                    "arguments": json.dumps(current.args, ensure_ascii=False),
                }
            )

    def _call_id(self, call: _Call, index: int) -> str:
        return call.id or generated_call_id(turn_seed(self.id, self._nonce), index, call.name)

    def tool_calls(self, *, complete_only: bool = False) -> list[ToolCall]:
        out = []
        for index, call in enumerate(self.calls):
            if complete_only and (call.open or call.error):
                continue
            tool_call = ToolCall.from_raw(
                self._call_id(call, index),
                call.name,
                call.args,
                provider_data={"gemini": {"thought_signature": call.thought_signature, "id": call.id}},
            )
            if call.error is not None:
                tool_call.arguments_error = call.error
            out.append(tool_call)
        return out

    def result(self, raw: Any) -> GenerateResponse:
        if not self.candidates_seen:
            feedback = self.prompt_feedback if isinstance(self.prompt_feedback, Mapping) else {}
            reason = feedback.get("blockReason")
            if reason:
                message = str(feedback.get("blockReasonMessage") or "")
                raise ContentFilterError(
                    f"{self.provider}: the prompt was blocked ({reason}){': ' + message if message else ''}",
                    provider=self.provider,
                    model=self.model,
                    code=str(reason),
                    filter_results=feedback.get("safetyRatings") or dict(feedback),
                    body=raw,
                )
            raise ResponseParseError(
                f"{self.provider}: the response has no candidates", provider=self.provider, body=raw
            )
        calls = self.tool_calls()
        content = "".join(self.text) or None
        if self.finish in _MALFORMED_REASONS and not calls and content is None:
            detail = self.finish_message or "the model's function call could not be parsed"
            raise ResponseParseError(
                f"{self.provider}: {self.finish}: {detail}", provider=self.provider, body=raw
            )
        own: dict[str, Any] = {}
        if self.finish:
            own["finish_reason"] = self.finish
        if self.finish_message:
            own["finish_message"] = self.finish_message
        if self.text_signature:
            own["thought_signature"] = self.text_signature
        if self.thoughts:
            own["thoughts"] = "".join(self.thoughts)
        if self.safety:
            own["safety_ratings"] = self.safety
        if self.citations:
            own["citation_metadata"] = self.citations
        if self.prompt_feedback:
            own["prompt_feedback"] = self.prompt_feedback
        provider_data: dict[str, Any] = {"gemini": own} if own else {}
        finish = normalize_finish_reason(self.finish, bool(calls))
        if finish == "content_filter":
            provider_data["content_filter_results"] = self.safety or {"finish_reason": self.finish}
        return GenerateResponse(
            content=content,
            tool_calls=ToolCallRequest(calls, content) if calls else None,
            usage=self.usage,
            model=self.model,
            finish_reason=finish,
            raw_response=raw,
            id=self.id,
            provider_data=provider_data or None,
        )


def parse_generate_content(payload: Any, *, provider: str = "gemini") -> GenerateResponse:
    """A `GenerateContentResponse` body (or the JSON array `streamGenerateContent` returns without
    `alt=sse`, merged in order) → `GenerateResponse`."""
    try:
        assembler = _Assembler(provider)
        for item in payload if isinstance(payload, list) else [payload]:
            assembler.add(item)
        return assembler.result(payload)
    except PARSE_ERRORS as exc:
        raise unexpected_shape(provider, "generateContent", payload, exc) from exc


# -- streaming -------------------------------------------------------------------------------
class GeminiStreamState:
    """Assembles a `streamGenerateContent?alt=sse` turn: each event is a whole
    `GenerateContentResponse`; function calls arrive whole (several per event) or, on Vertex with
    streamed arguments, as `partialArgs` pieces closed by a part that does not continue. There is
    no `[DONE]`: the turn is complete once a candidate has a `finishReason`."""

    def __init__(self, provider: str = "gemini") -> None:
        self.provider = provider
        self.done = False
        self._assembler = _Assembler(provider)
        self._events = 0

    def feed(self, event: SSEEvent) -> list[StreamChunk]:
        if event.data == "[DONE]":
            return []
        # not only objects: a non-object event is reported by the shape guard below
        payload = decode_stream_event(event, self.provider, objects_only=False)
        if payload is None:
            return []
        self._events += 1
        try:
            text, completed = self._assembler.add(payload)
        except PARSE_ERRORS as exc:
            raise unexpected_shape(self.provider, "stream event", payload, exc) from exc
        finish = self._assembler.finish
        if finish is not None:
            self.done = True
        if not (text or completed or finish):
            return []
        # a functionCall part that does not continue is a complete call (whole, or its last piece)
        calls = self._assembler.tool_calls() if completed else []
        return [
            StreamChunk(
                content=text or None,
                tool_call_deltas=completed or None,
                finish_reason=normalize_finish_reason(finish, bool(self._assembler.calls))
                if finish
                else None,
                usage=self._assembler.usage if finish else None,
                raw=payload,
                completed_calls=[calls[d["index"]] for d in completed] or None,
            )
        ]

    def partial(self) -> tuple[str | None, list[ToolCall]]:
        return ("".join(self._assembler.text) or None), self._assembler.tool_calls(complete_only=True)

    def result(self) -> GenerateResponse:
        if not self.done:
            if not self._assembler.candidates_seen and self._assembler.prompt_feedback:
                return self._assembler.result(None)  # raises ContentFilterError for a blocked prompt
            content, calls = self.partial()
            raise StreamInterruptedError(
                f"{self.provider}: the stream ended before a finishReason after {self._events} event(s)",
                partial_content=content,
                tool_calls=calls,
                provider=self.provider,
            )
        return self._assembler.result(None)


# -- errors ----------------------------------------------------------------------------------
def _duration_seconds(value: Any) -> float | None:
    """google.protobuf.Duration JSON ("34.4s") → seconds."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    return None


def gemini_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str = "gemini",
    request_id: str | None = None,
) -> ProviderError:
    """A google.rpc status body `{"error": {"code", "message", "status", "details"}}` → error."""
    payload: Any = decode_error_body(body)
    if isinstance(payload, list) and payload:
        payload = payload[0]  # streamGenerateContent without alt=sse wraps the error in an array
    error = payload.get("error") if isinstance(payload, Mapping) else None
    message = ""
    rpc_status: str | None = None
    reasons: list[str] = []
    retry_delay: float | None = None
    quota_ids: list[str] = []
    if isinstance(error, Mapping):
        message = str(error.get("message") or "")
        rpc_status = str(error["status"]) if error.get("status") else None
        for detail in error.get("details") or ():
            if not isinstance(detail, Mapping):
                continue
            kind = str(detail.get("@type", ""))
            if kind.endswith("google.rpc.ErrorInfo") and detail.get("reason"):
                reasons.append(str(detail["reason"]))
            elif kind.endswith("google.rpc.RetryInfo"):
                retry_delay = _duration_seconds(detail.get("retryDelay"))
            elif kind.endswith("google.rpc.QuotaFailure"):
                violations = detail.get("violations") or ()
                quota_ids.extend(str(v.get("quotaId", "")) for v in violations if isinstance(v, Mapping))
    elif isinstance(payload, str):
        message = payload
    text = message or f"HTTP {status}"
    code = reasons[0] if reasons else rpc_status
    kwargs: dict[str, Any] = {
        "provider": provider,
        "status_code": status,
        "request_id": request_id,
        "body": payload,
        "code": code,
    }
    auth_reasons = {
        "API_KEY_INVALID",
        "API_KEY_SERVICE_BLOCKED",
        "ACCESS_TOKEN_EXPIRED",
        "CREDENTIALS_MISSING",
    }
    if any(r in auth_reasons for r in reasons) or rpc_status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return AuthenticationError(text, **kwargs)
    if status == 429 or rpc_status == "RESOURCE_EXHAUSTED":
        from .._transport import parse_retry_after

        retry_after = retry_delay if retry_delay is not None else parse_retry_after(headers)
        limited = RateLimitError(text, retry_after=retry_after, **kwargs)
        if any("PerDay" in quota for quota in quota_ids):
            # a daily quota (GenerateRequestsPerDayPerProjectPerModel...) does not come back by
            # waiting retryDelay seconds: retrying only spends the rest of the run on 429s
            limited.retryable = False
        return limited
    if status == 400 and "exceeds the maximum number of tokens" in text:
        return ContextLengthError(text, **kwargs)
    return build_provider_error(
        status, text, provider=provider, headers=headers, body=payload, request_id=request_id, code=code
    )


# -- Vertex credentials ----------------------------------------------------------------------
class _AuthRequest:
    """google-auth's transport callable (`google.auth.transport.Request`) over httpx2, so token
    refresh needs neither `requests` nor urllib3."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        import httpx2

        try:
            response = httpx2.request(
                method, url, content=body, headers=dict(headers or {}), timeout=timeout or 60.0
            )
        except httpx2.HTTPError as exc:
            from google.auth import exceptions

            raise exceptions.TransportError(str(exc)) from exc  # type: ignore[no-untyped-call]
        return _AuthResponse(response.status_code, dict(response.headers), response.content)


@dataclass
class _AuthResponse:
    status: int
    headers: dict[str, str]
    data: bytes


# -- provider --------------------------------------------------------------------------------
_GEMINI_CAPABILITIES = frozenset(
    {
        Capability.FUNCTION_CALLING,
        Capability.PARALLEL_TOOL_CALLS,
        Capability.STREAMING,
        Capability.STREAMING_TOOLS,
        Capability.STRUCTURED_OUTPUT,
        Capability.JSON_MODE,
        Capability.VISION,
        Capability.SYSTEM_PROMPT,
        Capability.ASYNC,
    }
)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


class GeminiProvider(BaseProvider):
    """Gemini models through the Gemini API (`x-goog-api-key`) or Vertex AI (`vertexai=True`:
    google-auth credentials, or an API key in express mode)."""

    name: ClassVar[str] = "gemini"
    aliases: ClassVar[tuple[str, ...]] = ("google",)
    otel_provider_name: ClassVar[str] = "gcp.gemini"
    default_capabilities: ClassVar[frozenset[Capability]] = _GEMINI_CAPABILITIES
    requires_model: ClassVar[bool] = True
    example_model: ClassVar[str | None] = "gemini-2.5-flash"
    api_key_env: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env: ClassVar[tuple[str, ...]] = ("GEMINI_BASE_URL",)
    default_base_url: ClassVar[str | None] = GEMINI_BASE_URL
    tool_dialect: ClassVar[str] = "gemini"
    # inline data: "the total request size limit is 20 MB" (ai.google.dev, Image understanding);
    # http(s) URLs are not fetched by generateContent, so toolwire downloads them
    max_image_bytes: ClassVar[int] = 20_000_000
    fetches_image_urls: ClassVar[bool] = False
    request_id_headers: ClassVar[tuple[str, ...]] = ("x-request-id", "x-goog-request-id")

    def configure(
        self,
        *,
        vertexai: bool | None = None,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        api_version: str | None = None,
        function_schema: str = "parameters",
        **options: Any,
    ) -> None:
        if function_schema not in ("parameters", "json_schema"):
            raise ConfigurationError(
                f"gemini: function_schema must be 'parameters' or 'json_schema', not {function_schema!r}"
            )
        self.function_schema = function_schema
        self.vertexai = _truthy(os.environ.get("GOOGLE_GENAI_USE_VERTEXAI")) if vertexai is None else vertexai
        self.project = project
        self.location = location
        self._credentials = credentials
        self._express = False
        if self.vertexai:
            self.project = project or first_env(("GOOGLE_CLOUD_PROJECT",))
            self.location = location or first_env(("GOOGLE_CLOUD_LOCATION",)) or "global"
            # An explicit key without project or credentials is Vertex express mode.
            self._express = self._given_api_key is not None and credentials is None and project is None
            if not self._express:
                if self._credentials is None:
                    self._credentials, default_project = _default_credentials()
                    self.project = self.project or default_project
                if not self.project:
                    raise ConfigurationError(
                        "gemini (Vertex AI): no project; pass project=... or set GOOGLE_CLOUD_PROJECT"
                    )
                self._api_key = None  # never send an environment API key beside Vertex credentials
            if self._given_base_url is None:
                host = (
                    "aiplatform.googleapis.com"
                    if self.location == "global"
                    else f"{self.location}-aiplatform.googleapis.com"
                )
                self.base_url = f"https://{host}"
        self.api_version = api_version or ("v1" if self.vertexai else "v1beta")
        super().configure(**options)

    def _check_credentials(self) -> None:
        if self.vertexai and not self._express:
            return
        if not self._api_key:
            raise ConfigurationError(
                "gemini: no API key; pass api_key=... or set GEMINI_API_KEY (or GOOGLE_API_KEY); "
                "for Vertex AI pass vertexai=True with project=... and google-auth credentials "
                '(pip install "toolwire[vertex]")'
            )

    def __repr__(self) -> str:
        if self.vertexai:
            auth = "express api_key" if self._express else "credentials"
            return (
                f"GeminiProvider(model={self.model!r}, vertexai=True, project={self.project!r}, "
                f"location={self.location!r}, auth={auth!r}, api_key={mask_secret(self._api_key)!r})"
            )
        return (
            f"GeminiProvider(model={self.model!r}, base_url={self.safe_base_url()!r}, "
            f"api_key={mask_secret(self._api_key)!r})"
        )

    # -- wire ----------------------------------------------------------------------------------
    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        return parse_generate_content(payload, provider=cls.name)

    @classmethod
    def tools_payload(cls, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        # one function declaration per tool (the request wraps them in one `tools` entry)
        declarations: list[dict[str, Any]] = gemini_tools(tools)[0]["functionDeclarations"] if tools else []
        return declarations

    def telemetry_name(self) -> str:
        return "gcp.vertex_ai" if self.vertexai else self.otel_provider_name

    def translate_tools(self, tools: tuple[ToolDefinition, ...]) -> Any:
        return gemini_tools(tools, json_schema=self.function_schema == "json_schema")

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        return generate_content_body(request)

    def endpoint(self, request: ChatRequest) -> str:
        model = request.model
        if model.startswith("models/"):
            model = model[len("models/") :]
        if self.vertexai:
            if self._express:
                prefix = f"{self.base_url}/{self.api_version}/publishers/google/models/{model}"
            else:
                prefix = (
                    f"{self.base_url}/{self.api_version}/projects/{self.project}/locations/{self.location}"
                    f"/publishers/google/models/{model}"
                )
        else:
            prefix = f"{self.base_url}/{self.api_version}/models/{model}"
        return f"{prefix}:streamGenerateContent?alt=sse" if request.stream else f"{prefix}:generateContent"

    def auth_headers(self) -> dict[str, str]:
        if self.vertexai and not self._express:
            return {"authorization": f"Bearer {self._token()}"}
        return {"x-goog-api-key": self._api_key or ""}

    async def aauth_headers(self) -> dict[str, str]:
        if self.vertexai and not self._express and not self._credentials_valid():
            # google-auth refreshes synchronously: keep the event loop free while it does
            return {"authorization": f"Bearer {await asyncio.to_thread(self._token)}"}
        return self.auth_headers()

    def _credentials_valid(self) -> bool:
        credentials = self._credentials
        return bool(getattr(credentials, "valid", False)) and bool(getattr(credentials, "token", None))

    def _token(self) -> str:
        credentials = self._credentials
        if not self._credentials_valid():
            credentials.refresh(_auth_request())
        token = getattr(credentials, "token", None)
        if not token:
            raise ConfigurationError("gemini (Vertex AI): the credentials produced no access token")
        return str(token)

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_generate_content(payload, provider=self.name)

    def new_stream_state(self, request: ChatRequest) -> GeminiStreamState:
        return GeminiStreamState(self.name)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return gemini_error(status, headers, body, provider=self.name, request_id=self.request_id(headers))


def _auth_request() -> Any:
    """A google-auth transport request; subclasses google-auth's abstract Request when present."""
    try:
        from google.auth import transport
    except ImportError as exc:
        raise ConfigurationError(
            'gemini (Vertex AI): credentials need google-auth: pip install "toolwire[vertex]"'
        ) from exc

    class AuthRequest(_AuthRequest, transport.Request):
        pass

    return AuthRequest()


def _default_credentials() -> tuple[Any, str | None]:
    try:
        import google.auth
        from google.auth import exceptions
    except ImportError as exc:
        raise ConfigurationError(
            "gemini (Vertex AI): Application Default Credentials need google-auth: "
            'pip install "toolwire[vertex]"'
        ) from exc
    try:
        credentials, project = google.auth.default(scopes=[VERTEX_SCOPE])
    except exceptions.DefaultCredentialsError as exc:
        raise ConfigurationError(
            f"gemini (Vertex AI): no Google credentials found ({exc}); run `gcloud auth application-default "
            "login`, set GOOGLE_APPLICATION_CREDENTIALS, or pass credentials=..."
        ) from exc
    return credentials, project


# The wire functions under the one naming scheme of provider modules: `<wire>_body`,
# `<wire>_messages`, `<wire>_tools`, `<wire>_error`, `parse_<wire>` (the names above stay).
gemini_body = generate_content_body
gemini_messages = gemini_contents
parse_gemini = parse_generate_content
