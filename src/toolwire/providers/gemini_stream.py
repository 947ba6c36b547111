"""Gemini response and stream assembly: a `GenerateContentResponse`, a list of them, or SSE events →
toolwire types, with the JSON-path writer that rebuilds Vertex's streamed `partialArgs`.

Split out of `providers/gemini.py` (which re-exports every name here).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._framing import SSEEvent
from .._provider_data import keyed
from .._stream_events import decode_stream_event
from ..errors import (
    ContentFilterError,
    ResponseParseError,
    StreamInterruptedError,
)
from ..types import (
    FinishReason,
    GenerateResponse,
    StreamChunk,
    ToolCall,
    ToolCallRequest,
)
from ._common import generated_call_id, is_token_count, token_count, turn_seed
from .base import (
    PARSE_ERRORS,
    unexpected_shape,
)

if TYPE_CHECKING:
    pass
from .gemini_wire import gemini_error

_FILTER_REASONS = frozenset(
    {"SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY", "LANGUAGE"}
)
_MALFORMED_REASONS = frozenset({"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"})


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
        finish = normalize_finish_reason(self.finish, bool(calls))
        if finish == "content_filter":
            own["content_filter_results"] = self.safety or {"finish_reason": self.finish}
        provider_data = keyed({"gemini": own}, "gemini") if own else None
        return GenerateResponse(
            content=content,
            tool_calls=ToolCallRequest(calls, content) if calls else None,
            usage=self.usage,
            model=self.model,
            finish_reason=finish,
            raw_response=raw,
            id=self.id,
            provider_data=provider_data,
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
