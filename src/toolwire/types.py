"""Provider-neutral messages and responses.

Plain dataclasses on purpose: `import toolwire` must stay light (no pydantic until a schema is built),
and these objects are created on every call, where dataclass construction is the cheapest option.
Provider-only details (Anthropic thinking blocks, Gemini thought signatures, Azure filter results)
ride in `provider_data`, keyed by provider name, so a history can move between providers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, Union

if TYPE_CHECKING:
    from .image import Image

from . import _json
from ._json import depth_error

__all__ = [
    "Capability",
    "Content",
    "FinishReason",
    "GenerateResponse",
    "Message",
    "ResponseFormat",
    "Role",
    "StreamChunk",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallRequest",
    "ToolResult",
    "coerce_message",
    "coerce_messages",
]

Role = Literal["system", "user", "assistant", "tool"]
# A message's content: text, or a list of text and images (`toolwire.Image`).
Content = Union[str, "list[str | Image]"]
# Why a turn ended, normalized across providers. A provider's own reason that maps onto none of
# these (Anthropic's `pause_turn`, Gemini's `OTHER`, a server's own word) reads as "stop", and the
# raw value is kept in `provider_data[<provider name>]` (docs/providers/README.md, "Finish reasons").
FinishReason = Literal["stop", "tool_calls", "length", "content_filter"]


class Capability(str, Enum):
    """What a provider (or one of its models) can do. Checked before any request is sent."""

    FUNCTION_CALLING = "function_calling"
    PARALLEL_TOOL_CALLS = "parallel_tool_calls"
    STREAMING = "streaming"
    STREAMING_TOOLS = "streaming_tools"
    STRUCTURED_OUTPUT = "structured_output"
    JSON_MODE = "json_mode"
    STRICT_TOOLS = "strict_tools"
    VISION = "vision"
    SYSTEM_PROMPT = "system_prompt"
    ASYNC = "async"

    def __str__(self) -> str:
        return self.value


class ResponseFormat(str, Enum):
    """Plain text or any JSON object. Pass a Pydantic model class instead for structured output."""

    TEXT = "text"
    JSON = "json"

    def __str__(self) -> str:
        return self.value


@dataclass
class ToolCall:
    """One tool call the model asked for.

    `arguments` is always a dict. When the model's arguments did not parse (truncated or garbled
    JSON), `arguments` is empty, `raw_arguments` keeps exactly what the model produced and
    `arguments_error` says why: such a call must never be run as if it had no arguments.
    """

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    raw_arguments: str | None = None
    arguments_error: str | None = None
    provider_data: dict[str, Any] | None = None

    @classmethod
    def from_raw(cls, id: str, name: str, raw: str | Mapping[str, Any] | None, **extra: Any) -> ToolCall:
        """Build a call from the model's argument text (or an already-decoded object)."""
        if raw is None or isinstance(raw, Mapping):
            arguments = dict(raw or {})
            too_deep = depth_error(arguments)
            if too_deep is not None:  # kept out of the history: it could not be sent back
                return cls(id, name, {}, None, too_deep, **extra)
            return cls(id, name, arguments, json.dumps(arguments), None, **extra)
        arguments, error = parse_arguments(raw)
        return cls(id, name, arguments, raw, error, **extra)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.raw_arguments is not None:
            data["raw_arguments"] = self.raw_arguments
        if self.arguments_error is not None:
            data["arguments_error"] = self.arguments_error
        if self.provider_data:
            data["provider_data"] = self.provider_data
        return data


def parse_arguments(raw: str) -> tuple[dict[str, Any], str | None]:
    """Decode a model's JSON argument string; never guess, never turn garbage into `{}` silently."""
    if not raw.strip():
        # Servers send "" for tools without parameters (vLLM, OpenRouter, Anthropic's empty delta).
        return {}, None
    try:
        value = _json.loads(raw)
    except json.JSONDecodeError as exc:
        return {}, f"arguments are not valid JSON ({exc.msg} at position {exc.pos}): {_clip(raw)}"
    except _json.JSONLimitError as exc:
        return {}, f"arguments are past a limit ({exc}): {_clip(raw)}"
    if not isinstance(value, dict):
        return {}, f"arguments must be a JSON object, got {type(value).__name__}: {_clip(raw)}"
    return value, None


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


@dataclass
class ToolCallRequest:
    """Every tool call of one model turn, in the order the model produced them."""

    tool_calls: list[ToolCall] = field(default_factory=list)
    content: str | None = None

    def __iter__(self) -> Iterator[ToolCall]:
        return iter(self.tool_calls)

    def __len__(self) -> int:
        return len(self.tool_calls)

    def __getitem__(self, index: int) -> ToolCall:
        return self.tool_calls[index]


@dataclass
class ToolResult:
    """The outcome of one tool call, paired to it by `call_id` (and `name`, for Gemini)."""

    call_id: str
    name: str
    output: Any = None
    error: str | None = None
    duration: float | None = None

    @property
    def success(self) -> bool:
        return self.error is None

    def output_text(self) -> str:
        """What the model receives as text: the error message, or the output serialized (the text
        parts only, when the tool returned images too)."""
        if self.error is not None:
            return self.error
        if _has_image(self.output):
            return "\n".join(p for p in _parts(self.output) if isinstance(p, str))
        return serialize_output(self.output)

    def images(self) -> list[Image]:
        """The images the tool returned (an `Image`, or `Image`s in a list), in order."""
        if self.error is not None or not _has_image(self.output):
            return []
        return [p for p in _parts(self.output) if not isinstance(p, str)]

    @classmethod
    def coerce(cls, value: ToolResult | Mapping[str, Any]) -> ToolResult:
        if isinstance(value, ToolResult):
            return value
        try:
            call_id = value.get("call_id", value.get("tool_call_id"))
            return cls(
                call_id=str(call_id),
                name=str(value.get("name", "")),
                output=value.get("output", value.get("content")),
                error=value.get("error"),
            )
        except AttributeError as exc:
            raise TypeError(f"a tool result must be a ToolResult or a dict, got {value!r}") from exc


def _is_image(value: Any) -> bool:
    return type(value).__name__ == "Image" and hasattr(value, "media_type") and hasattr(value, "sha256")


def _has_image(output: Any) -> bool:
    if _is_image(output):
        return True
    return isinstance(output, (list, tuple)) and any(_is_image(p) for p in output)


def _parts(output: Any) -> list[Any]:
    """A tool output or message content as a list of str and Image (other items as JSON text)."""
    if output is None:
        return []
    if isinstance(output, str) or _is_image(output):
        return [output]
    return [p if isinstance(p, str) or _is_image(p) else serialize_output(p) for p in output]


def content_parts(content: Content | None) -> list[str | Image]:
    """Text and images of a message's content, in order."""
    return _parts(content)


def content_text(content: Content | None) -> str | None:
    """The text of a message's content (text parts joined by newlines; None when there is none)."""
    if content is None or isinstance(content, str):
        return content
    texts = [p for p in content if isinstance(p, str)]
    return "\n".join(texts) if texts else None


def content_images(content: Content | None) -> list[Image]:
    """The images of a message's content, in order."""
    if content is None or isinstance(content, str):
        return []
    return [p for p in content if not isinstance(p, str)]


def serialize_output(output: Any) -> str:
    """str as is; dict/list/Pydantic/dataclass as JSON; anything else through str()."""
    if isinstance(output, str):
        return output
    if output is None:
        return ""
    dump = getattr(output, "model_dump", None)
    if callable(dump):
        output = dump(mode="json")
    elif hasattr(output, "__dataclass_fields__") and not isinstance(output, type):
        from dataclasses import asdict

        output = asdict(output)
    if isinstance(output, (dict, list, tuple, int, float, bool)):
        try:
            return json.dumps(output, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(output)
    return str(output)


@dataclass
class Message:
    """One message of a conversation, in the provider-neutral form.

    A tool turn is `Message(role="tool", tool_results=[...])`: one message may carry every result of
    a turn, and each provider receives them in its own format (one `tool` message per result for
    OpenAI, one user message of `tool_result` blocks for Anthropic, `functionResponse` parts for
    Gemini).
    """

    role: Role
    content: Content | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_results: list[ToolResult] | None = None
    provider_data: dict[str, Any] | None = None

    if TYPE_CHECKING:
        # What the constructor accepts (API.md: tool results as `ToolResult`s or dicts, a turn's
        # `ToolCallRequest` as its calls); `__post_init__` normalizes them, so the attributes keep
        # their narrow types. Type checkers only: at runtime the dataclass `__init__` is used.
        def __init__(
            self,
            role: Role,
            content: str | Sequence[str | Image | Mapping[str, Any]] | None = None,
            name: str | None = None,
            tool_calls: list[ToolCall] | ToolCallRequest | None = None,
            tool_results: Sequence[ToolResult | Mapping[str, Any]] | None = None,
            provider_data: dict[str, Any] | None = None,
        ) -> None: ...

    def __post_init__(self) -> None:
        if self.role not in ("system", "user", "assistant", "tool"):
            raise ValueError(f"unknown message role {self.role!r}: use system, user, assistant or tool")
        if isinstance(self.content, (list, tuple)):
            self.content = [_content_part(p) for p in self.content]
        if self.tool_results is not None:
            self.tool_results = [ToolResult.coerce(r) for r in self.tool_results]
        if self.tool_calls is not None and isinstance(self.tool_calls, ToolCallRequest):
            self.tool_calls = list(self.tool_calls.tool_calls)

    @property
    def text(self) -> str | None:
        """The text of `content` (its text parts joined, when it also holds images)."""
        return content_text(self.content)

    @property
    def images(self) -> list[Image]:
        """The images in `content` and in the tool results, in order."""
        found = content_images(self.content)
        for result in self.tool_results or ():
            found.extend(result.images())
        return found

    def to_dict(self) -> dict[str, Any]:
        content: Any = self.content
        if isinstance(content, list):
            content = [p if isinstance(p, str) else p.to_dict() for p in content]
        data: dict[str, Any] = {"role": self.role, "content": content}
        if self.name is not None:
            data["name"] = self.name
        if self.tool_calls:
            data["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        if self.tool_results:
            data["tool_results"] = [
                {"call_id": r.call_id, "name": r.name, "output": r.output_text(), "error": r.error}
                for r in self.tool_results
            ]
        if self.provider_data:
            data["provider_data"] = self.provider_data
        return data


def _content_part(part: Any) -> Any:
    """One item of a content list: a str, an `Image`, or a part dict in OpenAI's, Anthropic's or
    our own shape (`{"type": "text"|"image_url"|"image", ...}`)."""
    if isinstance(part, str) or _is_image(part):
        return part
    if isinstance(part, Mapping):
        kind = part.get("type")
        if kind in ("text", "input_text") or (kind is None and "text" in part):
            return str(part.get("text", ""))
        from .image import Image

        if kind in ("image_url", "input_image"):
            nested = part.get("image_url")
            url = nested.get("url") if isinstance(nested, Mapping) else nested
            detail = part.get("detail") or (nested.get("detail") if isinstance(nested, Mapping) else None)
            if isinstance(url, str):
                return Image.from_url(url, detail=detail)
        if kind == "image":
            source = part.get("source")
            if isinstance(source, Mapping) and source.get("type") == "base64":
                return Image.from_base64(str(source.get("data", "")), media_type=source.get("media_type"))
            if isinstance(source, Mapping) and source.get("type") == "url":
                return Image.from_url(str(source.get("url", "")))
            return Image.from_dict(part)
    raise TypeError(f"message content parts must be str or toolwire.Image, got {part!r:.80}")


def coerce_message(value: Message | Mapping[str, Any] | str) -> Message:
    """Accept a `Message`, a plain string (a user message), or a dict.

    Dicts may be neutral (`tool_results`, `tool_calls` with `arguments`) or OpenAI-shaped
    (`tool_calls[].function`, `{"role": "tool", "tool_call_id": ...}`), so histories written for the
    openai SDK work unchanged.
    """
    if isinstance(value, Message):
        return value
    if isinstance(value, str):
        return Message(role="user", content=value)
    if not isinstance(value, Mapping):
        raise TypeError(f"a message must be a Message, a dict or a str, got {type(value).__name__}")
    role = value.get("role")
    if role is None:
        raise ValueError(f"message dict without a 'role': {dict(value)!r}")
    content = value.get("content")
    if isinstance(content, list):
        parts = [_content_part(part) for part in content]
        # text parts only: plain text, as before
        content = "".join(parts) if all(isinstance(p, str) for p in parts) else parts
    tool_calls = value.get("tool_calls") or None
    calls: list[ToolCall] | None = None
    if tool_calls:
        calls = []
        for raw in tool_calls:
            if isinstance(raw, ToolCall):
                calls.append(raw)
                continue
            fn = raw.get("function")
            if isinstance(fn, Mapping):
                calls.append(
                    ToolCall.from_raw(str(raw.get("id", "")), fn.get("name", ""), fn.get("arguments"))
                )
            else:
                calls.append(
                    ToolCall.from_raw(str(raw.get("id", "")), raw.get("name", ""), raw.get("arguments"))
                )
    results = value.get("tool_results")
    if role == "tool" and results is None and "tool_call_id" in value:
        results = [
            ToolResult(call_id=str(value["tool_call_id"]), name=str(value.get("name") or ""), output=content)
        ]
        content = None
    provider_data = value.get("provider_data")
    reasoning = value.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        # DeepSeek needs its reasoning back on tool-calling turns: keep it from OpenAI-shaped dicts,
        # under the Chat Completions servers' provider name (the one that echoes it).
        own = (provider_data or {}).get("openai_compatible")
        own = {**(own if isinstance(own, Mapping) else {}), "reasoning_content": reasoning}
        provider_data = {**(provider_data or {}), "openai_compatible": own}
    return Message(
        role=role,
        content=content,
        name=value.get("name") if role != "tool" else None,
        tool_calls=calls,
        tool_results=results,
        provider_data=provider_data,
    )


def coerce_messages(
    messages: str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any] | str],
) -> list[Message]:
    if isinstance(messages, (str, Message, Mapping)):
        return [coerce_message(messages)]
    return [coerce_message(m) for m in messages]


@dataclass
class GenerateResponse:
    """One model turn, identical in shape whether it was streamed or not."""

    content: str | None = None
    tool_calls: ToolCallRequest | None = None
    usage: dict[str, int] | None = None
    model: str | None = None
    finish_reason: FinishReason | None = None
    raw_response: Any = None
    parsed: Any = None
    provider: str | None = None
    refusal: str | None = None
    id: str | None = None
    provider_data: dict[str, Any] | None = None

    def has_tool_calls(self) -> bool:
        return bool(self.tool_calls)

    def to_message(self) -> Message:
        """The assistant message to append to the history (with its tool calls and provider data)."""
        return Message(
            role="assistant",
            content=self.content,
            tool_calls=list(self.tool_calls.tool_calls) if self.tool_calls else None,
            # `.copy()` keeps a ProviderData's kind (its deprecated top-level reads still forward)
            provider_data=self.provider_data.copy() if self.provider_data else None,
        )


@dataclass
class ToolCallDelta:
    """News about one streamed tool call, the same shape for every provider.

    `index` is the call's position in the turn (0, 1, ...: tool calls, not content blocks); `id`
    and `name` come with the first delta of a call (providers that stream whole calls, like Gemini,
    send everything at once); `arguments` is the next fragment of the argument JSON text, to be
    concatenated in order (`stream.response` does that, and parses the result, for you).
    """

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any], position: int = 0) -> ToolCallDelta:
        """From an OpenAI-shaped delta (`{"index", "id", "function": {"name", "arguments"}}`) or a
        flat one (`{"index", "id", "name", "arguments"}`); `position` when it has no index."""
        function = raw.get("function")
        source = function if isinstance(function, Mapping) else raw
        index = raw.get("index")
        call_id = raw.get("id")
        name = source.get("name")
        arguments = source.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)  # Ollama sends whole objects
        return cls(
            index=index if isinstance(index, int) and not isinstance(index, bool) else position,
            id=str(call_id) if call_id else None,
            name=name if isinstance(name, str) and name else None,
            arguments=arguments or "",
        )


@dataclass
class StreamChunk:
    """One piece of a streamed turn: a text delta, and/or news about tool calls.

    `tool_calls` holds typed `ToolCallDelta`s. `tool_call_deltas` is the provider's own delta
    dicts (OpenAI-shaped for most, flat for Gemini): deprecated, kept for one release; read
    `tool_calls` instead. A provider may pass either; the typed list is derived from the dicts
    when only those are given.
    """

    content: str | None = None
    tool_call_deltas: list[dict[str, Any]] | None = None
    finish_reason: FinishReason | None = None
    usage: dict[str, int] | None = None
    raw: Any = None
    tool_calls: list[ToolCallDelta] | None = None
    # Calls whose arguments are complete in the stream, reported once each on the provider's own
    # "this call is done" signal (see `toolwire.tools.early`); the finished turn's calls still win.
    completed_calls: list[ToolCall] | None = None

    def __post_init__(self) -> None:
        if self.tool_calls is None and self.tool_call_deltas:
            deltas = enumerate(self.tool_call_deltas)
            self.tool_calls = [ToolCallDelta.from_wire(d, i) for i, d in deltas if isinstance(d, Mapping)]
