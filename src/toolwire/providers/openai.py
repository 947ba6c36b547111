"""OpenAI Chat Completions: pure translation functions, and the providers that speak it.

`openai`, `openai_compatible` (vLLM, llama.cpp, LM Studio, Groq, OpenRouter, ...) and `ollama` are
this file; `azure_openai` and `mistral` reuse its functions. Everything here is a pure function of
its inputs (neutral request → JSON body; JSON body or SSE event → toolwire types), so it is tested
offline against recorded traffic and reused by `standardize_tool_response`. Response parsing, the
stream state and the error mapping live in `openai_stream`; every name is re-exported here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from .._provider_data import legacy_entry, own_entry
from ..errors import ProviderError
from ..tools.definition import ToolDefinition
from ..types import (
    Capability,
    Content,
    GenerateResponse,
    Message,
    ResponseFormat,
    ToolCall,
    ToolResult,
    content_images,
    content_text,
)

# The usage-count and generated-id helpers are shared by every parser: they live in `_common`.
from ._common import generated_call_id as generated_call_id
from ._common import is_token_count as is_token_count
from ._common import token_count as token_count
from ._common import turn_seed as turn_seed
from .base import (
    BaseProvider,
    ChatRequest,
    structured_schema,
)

# Response parsing and the stream state live in `openai_stream`; every name stays importable from here.
from .openai_stream import ChatCompletionStreamState as ChatCompletionStreamState
from .openai_stream import _CallBuffer as _CallBuffer
from .openai_stream import _delta_text as _delta_text
from .openai_stream import _parse_chat_completion as _parse_chat_completion
from .openai_stream import _parse_ollama_native as _parse_ollama_native
from .openai_stream import _part_texts as _part_texts
from .openai_stream import _text as _text
from .openai_stream import _tool_call as _tool_call
from .openai_stream import normalize_finish_reason as normalize_finish_reason
from .openai_stream import normalize_usage as normalize_usage
from .openai_stream import openai_error as openai_error
from .openai_stream import parse_chat_completion as parse_chat_completion
from .openai_stream import raw_finish_data as raw_finish_data

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


def _call_entry(call: ToolCall, echo_extra_content: bool, provider: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": _arguments_text(call)},
    }
    extra = own_entry(call.provider_data, provider).get("extra_content")
    if echo_extra_content and isinstance(extra, dict) and extra:
        entry["extra_content"] = extra  # exactly as received (a thought signature is opaque)
    return entry


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
    provider: str = "openai_compatible",
    echo_extra_content: bool = False,
) -> list[dict[str, Any]]:
    """Neutral messages → Chat Completions messages (one `tool` message per tool result).

    `echo_reasoning_content`: send an assistant turn's `reasoning_content` back (DeepSeek's
    thinking mode answers 400 without it on a turn that called tools; OpenAI and Groq reject it).
    `images_in_tool_messages`: a tool's images go inside its tool message (Mistral takes content
    chunks there) instead of in a user message after the turn's tool messages.
    `provider`: whose `provider_data` entry holds the reasoning to echo (the top-level key of a
    history recorded before provider_data was keyed by name is read too).
    `echo_extra_content`: send the `extra_content` of a tool call and of an assistant turn back
    (Gemini's OpenAI-compatible endpoint puts the `google.thought_signature` there, which Gemini 3
    requires back on function calls; OpenAI rejects fields it does not know in a message).
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
                    _call_entry(call, echo_extra_content, provider) for call in message.tool_calls
                ]
            elif message.content is None:
                entry["content"] = ""
            reasoning = legacy_entry(message.provider_data, provider, "reasoning_content")
            if echo_reasoning_content and isinstance(reasoning, str):
                entry["reasoning_content"] = reasoning
            extra = own_entry(message.provider_data, provider).get("extra_content")
            if echo_extra_content and isinstance(extra, dict) and extra:
                entry["extra_content"] = extra  # Gemini: the turn's thought signature, as received
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
    provider: str = "openai_compatible",
    echo_extra_content: bool = False,
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
            provider=provider,
            echo_extra_content=echo_extra_content,
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
    echo_extra_content: ClassVar[bool] = False  # OpenAI and Azure reject unknown message fields
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
            provider=self.name,
            echo_extra_content=self.echo_extra_content,
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
        echo_extra_content: bool = True,
        **options: Any,
    ) -> None:
        super().configure(organization=organization, project=project, **options)
        # Some servers reject parameters they do not know: each can be switched off per instance.
        self.send_parallel_tool_calls = send_parallel_tool_calls  # type: ignore[misc]
        self.include_stream_usage = include_stream_usage  # type: ignore[misc]
        # Only DeepSeek-style servers produce `reasoning_content`, and they need it back.
        self.echo_reasoning_content = echo_reasoning_content  # type: ignore[misc]
        # Only servers that send a tool call's `extra_content` (Gemini's OpenAI-compatible
        # endpoint: the thought signature Gemini 3 requires back) find it in a history.
        self.echo_extra_content = echo_extra_content  # type: ignore[misc]


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
