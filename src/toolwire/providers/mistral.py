"""Mistral's Chat Completions API (`https://api.mistral.ai/v1`).

The wire is OpenAI's Chat Completions, so the translation functions of `openai.py` are reused;
this module only adds what Mistral does differently:

- tool-call ids must be exactly 9 ASCII letters or digits ("Tool call id was call_0fypS1hVX but
  must be a-z, A-Z, 0-9, with a length of 9"); ids from other providers (`call_…`, `toolu_…`,
  generated ones) are mapped deterministically, the same way for a call and for its result;
- `tool_choice` "required" is spelled "any";
- the server validates bodies with `extra_forbidden`: no `stream_options` (usage comes in the last
  chunk anyway), no `max_completion_tokens`, no `name` on user/system/assistant messages, and no
  `content` on an assistant turn that only carries tool calls (the official SDK omits it);
- tool results carry the function `name` and are sent in the order of the calls they answer;
- reasoning models (Magistral) answer with content chunks, `thinking` ones included: the text is
  joined and the thinking kept under `provider_data["mistral"]`.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ..errors import ProviderError
from ..tools.definition import ToolDefinition
from ..types import Capability, GenerateResponse, Message, StreamChunk
from .base import (
    BaseProvider,
    ChatRequest,
    build_provider_error,
    decode_error_body,
    structured_schema,
)
from .openai import ChatCompletionStreamState, OpenAIProvider, chat_body, chat_tools
from .openai import parse_chat_completion as _parse_openai_chat_completion

__all__ = [
    "MistralProvider",
    "MistralStreamState",
    "mistral_body",
    "mistral_error",
    "mistral_messages",
    "mistral_tool_call_id",
    "mistral_tools",
    "parse_chat_completion",
    "parse_mistral",
]

_VALID_ID = re.compile(r"[A-Za-z0-9]{9}")
_BASE62 = string.digits + string.ascii_letters


def mistral_tool_call_id(call_id: str) -> str:
    """The id Mistral receives for `call_id`: kept when already valid, else 9 base62 characters
    of its SHA-256 (pure, so a call and its result always map to the same id)."""
    if _VALID_ID.fullmatch(call_id):
        return call_id
    number = int.from_bytes(hashlib.sha256(call_id.encode()).digest()[:8], "big")
    chars = []
    for _ in range(9):
        number, rest = divmod(number, 62)
        chars.append(_BASE62[rest])
    return "".join(chars)


def _tool_results(messages: Sequence[Message]) -> list[tuple[str, str]]:
    return [
        (result.call_id, result.name)
        for message in messages
        if message.role == "tool"
        for result in message.tool_results or ()
    ]


def mistral_messages(messages: Sequence[dict[str, Any]], neutral: Sequence[Message]) -> list[dict[str, Any]]:
    """Rewrite Chat Completions messages (from `chat_messages(neutral)`) for Mistral."""
    results = iter(_tool_results(neutral))
    out: list[dict[str, Any]] = []
    # original id -> the mapped ids of the latest assistant turn, in call order; a list because a
    # history from a provider without ids may repeat one ("" twice): those results pair up in order
    pending: dict[str, list[str]] = {}
    call_order: list[str] = []
    tool_run: list[dict[str, Any]] = []

    def flush() -> None:
        # Results go back in the order of the calls (Mistral pairs them by position).
        rank = {mapped: i for i, mapped in enumerate(call_order)}
        tool_run.sort(key=lambda m: rank.get(m["tool_call_id"], len(rank)))
        out.extend(tool_run)
        tool_run.clear()

    for raw in messages:
        entry = dict(raw)
        role = entry.get("role")
        if role == "tool":
            original, name = next(results)
            queue = pending.get(original)
            if queue:
                mapped = queue.pop(0) if len(queue) > 1 else queue[0]
            else:
                mapped = mistral_tool_call_id(original)
            entry["tool_call_id"] = mapped
            if name:
                entry["name"] = name
            tool_run.append(entry)
            continue
        flush()
        entry.pop("name", None)  # 422 extra_forbidden on user/system/assistant messages
        if role == "assistant" and entry.get("tool_calls"):
            pending = {}
            call_order = []
            seen: dict[str, int] = {}
            calls = []
            for call in entry["tool_calls"]:
                original = str(call.get("id") or "")
                occurrence = seen.get(original, 0)
                seen[original] = occurrence + 1
                mapped = mistral_tool_call_id(original if occurrence == 0 else f"{original}\x00{occurrence}")
                pending.setdefault(original, []).append(mapped)
                call_order.append(mapped)
                calls.append({**call, "id": mapped})
            entry["tool_calls"] = calls
            if entry.get("content") is None:
                del entry["content"]
        out.append(entry)
    flush()
    return out


def mistral_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a Mistral chat completion request."""
    body = chat_body(
        request,
        max_tokens_field="max_tokens",
        include_usage=False,
        required_choice="any",
        # Mistral answers 400 to a user message right after tool messages, and takes image chunks
        # inside a tool message instead
        images_in_tool_messages=True,
    )
    body["messages"] = mistral_messages(body["messages"], request.messages)
    if request.response_model is not None and "response_format" not in request.extra:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": request.response_model.__name__,
                "schema": structured_schema(request.response_model, "json_schema_inlined", strict=False),
                "strict": True,
            },
        }
    return body


# -- response --------------------------------------------------------------------------------
def _split_chunks(content: Any) -> tuple[Any, list[Any]]:
    """Content chunks → (joined text or the content as is, thinking chunks)."""
    if not isinstance(content, list):
        return content, []
    texts: list[str] = []
    thinking: list[Any] = []
    for chunk in content:
        if not isinstance(chunk, Mapping):
            continue
        if chunk.get("type") == "thinking":
            thinking.append(chunk.get("thinking"))
        elif isinstance(chunk.get("text"), str):
            texts.append(chunk["text"])
    return ("".join(texts) or None), thinking


def _with_thinking(response: GenerateResponse, thinking: list[Any]) -> GenerateResponse:
    if thinking:
        # a copy of the same kind: a ProviderData keeps forwarding its deprecated keys
        data: dict[str, Any] = response.provider_data.copy() if response.provider_data is not None else {}
        data["mistral"] = {**data.get("mistral", {}), "thinking": thinking}
        response.provider_data = data
    return response


def parse_chat_completion(payload: Any, *, provider: str = "mistral") -> GenerateResponse:
    """A Mistral chat completion body → `GenerateResponse` (ids kept as Mistral sent them)."""
    thinking: list[Any] = []
    choices = payload.get("choices") if isinstance(payload, Mapping) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        message = choices[0].get("message")
        if isinstance(message, Mapping) and isinstance(message.get("content"), list):
            text, thinking = _split_chunks(message["content"])
            payload = {
                **payload,
                "choices": [{**choices[0], "message": {**message, "content": text}}, *choices[1:]],
            }
            response = _parse_openai_chat_completion(payload, provider=provider)
            response.raw_response = {**payload, "choices": choices}
            return _with_thinking(response, thinking)
    return _parse_openai_chat_completion(payload, provider=provider)


class MistralStreamState(ChatCompletionStreamState):
    """Chat Completions stream assembly, with Mistral's chunked (thinking + text) deltas."""

    def __init__(self, provider: str = "mistral") -> None:
        super().__init__(provider)
        self._thinking: list[Any] = []

    def _feed(self, payload: dict[str, Any]) -> list[StreamChunk]:
        for choice in payload.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), list):
                text, thinking = _split_chunks(delta["content"])
                delta["content"] = text
                self._thinking.extend(thinking)
        return super()._feed(payload)

    def result(self) -> GenerateResponse:
        return _with_thinking(super().result(), self._thinking)


# -- errors ----------------------------------------------------------------------------------
def _detail_text(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = ".".join(str(p) for p in item.get("loc") or ())
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def mistral_error(
    status: int, headers: Mapping[str, str], body: bytes, *, provider: str, request_id: str | None
) -> ProviderError:
    """Mistral's error bodies: `{"object": "error", "message": str | {"detail": [...]}, "type",
    "code"}`, or FastAPI's `{"detail": [...]}` for 422 validation errors."""
    payload: Any = decode_error_body(body)
    message = ""
    code: str | None = None
    if isinstance(payload, Mapping):
        error = payload.get("error")
        source = error if isinstance(error, Mapping) else payload
        raw = source.get("message")
        if isinstance(raw, Mapping) and "detail" in raw:
            message = _detail_text(raw["detail"])
        elif isinstance(raw, list):
            message = _detail_text(raw)
        elif raw:
            message = str(raw)
        elif "detail" in source:
            message = _detail_text(source["detail"])
        raw_code = source.get("code") or source.get("type")
        code = str(raw_code) if raw_code is not None else None
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
    )


# -- provider --------------------------------------------------------------------------------
_NO_TOOLS = frozenset(
    {Capability.FUNCTION_CALLING, Capability.STREAMING_TOOLS, Capability.PARALLEL_TOOL_CALLS}
)


class MistralProvider(OpenAIProvider):
    """Mistral La Plateforme (`https://api.mistral.ai/v1`); `MISTRAL_API_KEY`.

    An OpenAI-family provider (same endpoint path, bearer auth, stream driver); what Mistral does
    differently is its body, its ids, its response chunks and its errors (module docstring)."""

    name: ClassVar[str] = "mistral"
    otel_provider_name: ClassVar[str] = "mistral_ai"
    default_capabilities: ClassVar[frozenset[Capability]] = frozenset(
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
    model_capability_rules: ClassVar[tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...]] = (
        # text-only families
        ("codestral*", frozenset(), frozenset({Capability.VISION})),
        ("devstral*", frozenset(), frozenset({Capability.VISION})),
        ("open-*", frozenset(), frozenset({Capability.VISION})),
        ("ministral-*", frozenset(), frozenset({Capability.VISION})),
        ("magistral-*", frozenset(), frozenset({Capability.VISION})),
        # the first open-weight models predate function calling on La Plateforme
        ("open-mistral-7b*", frozenset(), _NO_TOOLS),
        ("open-mixtral-8x7b*", frozenset(), _NO_TOOLS),
        ("mistral-tiny*", frozenset(), _NO_TOOLS | {Capability.VISION}),
        # not chat models
        ("mistral-embed*", frozenset(), _NO_TOOLS | {Capability.VISION, Capability.STRUCTURED_OUTPUT}),
        ("mistral-moderation*", frozenset(), _NO_TOOLS | {Capability.VISION, Capability.STRUCTURED_OUTPUT}),
    )
    api_key_env: ClassVar[tuple[str, ...]] = ("MISTRAL_API_KEY",)
    base_url_env: ClassVar[tuple[str, ...]] = ("MISTRAL_BASE_URL",)
    default_base_url: ClassVar[str | None] = "https://api.mistral.ai/v1"
    # no default model: like OpenAI, Anthropic and Gemini, create() says a model is needed rather
    # than picking one silently (issue 16 item 20; API.md names no default for any provider)
    requires_model: ClassVar[bool] = True
    example_model: ClassVar[str | None] = "mistral-large-latest"
    tool_dialect: ClassVar[str] = "json_schema_inlined"
    # "image size limit: 10MB" (docs.mistral.ai, Vision)
    max_image_bytes: ClassVar[int] = 10_000_000
    request_id_headers: ClassVar[tuple[str, ...]] = (
        "mistral-correlation-id",
        "x-kong-request-id",
        "x-request-id",
    )

    def configure(self, **options: Any) -> None:
        # none of OpenAI's options (organization, project) exist on La Plateforme: a typo or a
        # copied OpenAI setting must not pass silently
        BaseProvider.configure(self, **options)
        self.organization = None
        self.project = None

    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        return parse_chat_completion(payload, provider=cls.name)

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        return mistral_body(request)

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_chat_completion(payload, provider=self.name)

    def new_stream_state(self, request: ChatRequest) -> MistralStreamState:
        return MistralStreamState(self.name)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return mistral_error(status, headers, body, provider=self.name, request_id=self.request_id(headers))


# The wire functions under the one naming scheme of provider modules: `<wire>_body`,
# `<wire>_messages`, `<wire>_tools`, `<wire>_error`, `parse_<wire>` (the names above stay).
parse_mistral = parse_chat_completion


def mistral_tools(tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
    """Tool definitions as Mistral receives them (Chat Completions tools, Mistral's schema dialect)."""
    return chat_tools(tools, dialect="mistral")
