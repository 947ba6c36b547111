"""`BaseProvider`: what every provider shares; the provider-specific parts are pure translation hooks.

A call goes: neutral arguments → `ChatRequest` (capability checks, tools coerced and translated once
per tool set) → `build_body` / `endpoint` / headers (the provider's pure translation) → the shared
transport → `parse_response` or a stream state fed with SSE events → `GenerateResponse`.
`generate` and `agenerate` differ only in the transport call and the auth-header hook.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, overload

from .. import _instrument, _json
from .._framing import SSEEvent
from .._pacing import Pacer, estimate_tokens
from .._provider_data import find_entry
from .._scrub import (
    clean_key,
    header_secrets,
    ordered,
    redact_url,
    register,
    request_secrets,
    secret_forms,
    url_secrets,
)
from .._transport import HttpCall, Transport, scrub_error
from ..errors import (
    ConfigurationError,
    ContentFilterError,
    ResponseParseError,
    StructuredOutputError,
    UnsupportedCapabilityError,
)
from ..interface import AbstractLLMInterface
from ..tools.definition import ToolDefinition, check_call_arguments, expand_tool_sources, is_tool_source
from ..types import (
    Capability,
    GenerateResponse,
    Message,
    ResponseFormat,
    StreamChunk,
    ToolCall,
    coerce_messages,
)
from ._body_json import dumps as body_dumps
from ._checks import _host, check_base_url, encode_body, env_key_goes_to

# The error-building, structured-output and secret helpers live in `_common`; re-exported here for the
# provider modules and plugins that import them from `base` (`X as X` marks the re-export).
from ._common import PARSE_ERRORS as PARSE_ERRORS
from ._common import build_provider_error as build_provider_error
from ._common import decode_error_body as decode_error_body
from ._common import first_env as first_env
from ._common import mask_secret as mask_secret
from ._common import parse_structured as parse_structured
from ._common import structured_schema as structured_schema
from ._common import unexpected_shape as unexpected_shape

# The neutral request and the pure reading of generate()'s arguments live in `_request`.
from ._request import ChatRequest as ChatRequest
from ._request import apply_call_options, normalize_tool_choice, read_response_format

if TYPE_CHECKING:
    import httpx2

    from .._streaming import AsyncStream, Stream


__all__ = ["BaseProvider", "ChatRequest", "StreamState", "mask_secret"]

_CAPABILITY_ORDER = {cap: i for i, cap in enumerate(Capability)}
_TOOL_CACHE_SIZE = 64


class StreamState(Protocol):
    """Assembles one streamed turn from SSE events (sans-I/O; one per stream)."""

    done: bool

    def feed(self, event: SSEEvent) -> list[StreamChunk]: ...

    def result(self) -> GenerateResponse: ...

    def partial(self) -> tuple[str | None, list[ToolCall]]: ...


class BaseProvider(AbstractLLMInterface):
    """Shared behaviour of every provider. Subclasses set the class attributes and implement the
    translation hooks (`build_body`, `endpoint`, `translate_tools`, `parse_response`,
    `new_stream_state`, `map_error`, `auth_headers`)."""

    name: ClassVar[str] = ""
    # Other names `AbstractLLM.create` accepts for this provider ("azure" for "azure_openai").
    aliases: ClassVar[tuple[str, ...]] = ()
    # `gen_ai.provider.name` of the OpenTelemetry GenAI conventions ("" = the provider's name).
    otel_provider_name: ClassVar[str] = ""
    default_capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # (fnmatch pattern on the model name, capabilities added, capabilities removed), applied in order
    model_capability_rules: ClassVar[
        tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...]
    ] = ()
    api_key_env: ClassVar[tuple[str, ...]] = ()
    requires_api_key: ClassVar[bool] = True
    base_url_env: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str | None] = None
    default_model: ClassVar[str | None] = None
    tool_dialect: ClassVar[str] = "openai"
    # A dialect of the provider's own: `staticmethod((parameters, strict) -> schema)`, and then
    # `tool_dialect` is the provider's name, which `compile_schema` resolves through the registry.
    # None: `tool_dialect` names a dialect several providers share. (Typed Any: `staticmethod[...]`
    # does not evaluate at runtime before Python 3.12.)
    schema_compiler: ClassVar[Any] = None
    request_id_headers: ClassVar[tuple[str, ...]] = ("x-request-id",)
    # True where every endpoint is the user's own resource (Azure): the environment key goes to
    # whichever endpoint is named. Otherwise see `env_key_goes_to`.
    env_key_any_host: ClassVar[bool] = False
    # Hosted services with many models and no sensible default: create() without a model fails.
    requires_model: ClassVar[bool] = False
    example_model: ClassVar[str | None] = None
    # Images: the largest one the service takes, and whether it fetches http(s) URLs itself (when
    # it does not, toolwire downloads the image and sends its bytes).
    max_image_bytes: ClassVar[int] = 20_000_000
    fetches_image_urls: ClassVar[bool] = True

    def __init__(
        self,
        *,
        model: str | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        http_client: httpx2.Client | None = None,
        async_http_client: httpx2.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        capabilities: Iterable[Capability | str] | None = None,
        capability_overrides: Mapping[Capability | str, bool] | None = None,
        raise_on_content_filter: bool = False,
        retry_deadline: float | None = None,
        max_concurrency: int | None = None,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        **options: Any,
    ) -> None:
        # what the caller passed, before environment defaults: `configure` may need to tell them apart
        self._given_api_key = api_key
        self._given_base_url = base_url
        self.model = model or self.default_model
        env_url = self.base_url_from_env()
        resolved_url = base_url or env_url or self.default_base_url
        self.base_url = check_base_url(resolved_url, self.name).rstrip("/") if resolved_url else None
        self._env_key_withheld: str | None = None
        if api_key is None:
            api_key = first_env(self.api_key_env)
            if api_key and not (
                self.env_key_any_host or env_key_goes_to(self.default_base_url, env_url, base_url)
            ):
                # a key from the environment is for its own service only (issue 16 item 1)
                self._env_key_withheld, api_key = _host(base_url), None
        self._api_key = clean_key(api_key, self.name)
        self.default_headers = dict(default_headers or {})
        self.raise_on_content_filter = raise_on_content_filter
        self._capabilities = (
            frozenset(Capability(c) for c in capabilities) if capabilities is not None else None
        )
        self._capability_overrides: dict[Capability, bool] = {
            Capability(k): bool(v) for k, v in (capability_overrides or {}).items()
        }
        self._tool_cache: dict[tuple[int, ...], tuple[tuple[Any, ...], tuple[ToolDefinition, ...], Any]] = {}
        self.configure(**options)
        self._check_model()
        self._check_credentials()
        self.transport = Transport(
            provider=self.name,
            error_mapper=self.map_error,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
            async_http_client=async_http_client,
            retry_deadline=retry_deadline,
            pacer=Pacer(
                max_concurrency=max_concurrency,
                requests_per_minute=requests_per_minute,
                tokens_per_minute=tokens_per_minute,
            ),
        )

    # -- configuration hooks -------------------------------------------------------------------
    @classmethod
    def base_url_from_env(cls) -> str | None:
        """The base URL the environment names for this provider (`base_url_env`, first set)."""
        return first_env(cls.base_url_env)

    def configure(self, **options: Any) -> None:
        """Provider-specific options. The base accepts none: a typo must not pass silently."""
        if options:
            names = ", ".join(sorted(options))
            raise ConfigurationError(f"{self.name}: unknown option(s) {names}")

    def _check_model(self) -> None:
        if self.requires_model and not self.model:
            # said at create(), not at the first generate() (issue 16 item 20)
            example = f" (e.g. model={self.example_model!r})" if self.example_model else ""
            raise ConfigurationError(f"{self.name}: no model; pass model=...{example} to create()")

    def _check_credentials(self) -> None:
        if self.requires_api_key and not self._api_key:
            env = " or ".join(self.api_key_env) or "an environment variable"
            if self._env_key_withheld:
                raise ConfigurationError(
                    f"{self.name}: no API key for {self._env_key_withheld}: {env} is only sent to "
                    f"{_host(self.default_base_url)} (or to its base-URL variable's host); pass "
                    "api_key=... to send a key to another server"
                )
            raise ConfigurationError(f"{self.name}: no API key; pass api_key=... or set {env}")
        if self.base_url is None:
            env = " or ".join(self.base_url_env)
            hint = f" or set {env}" if env else ""
            raise ConfigurationError(f"{self.name}: no base URL; pass base_url=...{hint}")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, base_url={self.safe_base_url()!r}, "
            f"api_key={mask_secret(self._api_key)!r})"
        )

    def safe_base_url(self) -> str | None:
        """`base_url` with a `user:password@` and credential query values redacted (for display)."""
        return redact_url(self.base_url) if self.base_url else None

    def credentials(self) -> tuple[str, ...]:
        """Every form of every credential this provider holds: its key, tokens it was handed, the
        values of its `default_headers` not known to be harmless, its base URL's userinfo and
        `?key=`. The transport, streams, recorder and logs scrub these; a provider with another
        auth scheme extends this list."""
        key = (self._api_key, tuple(self.default_headers.items()), self.base_url)
        cached = self.__dict__.get("_credentials_cache")
        if cached is not None and cached[0] == key:
            return cached[1]  # type: ignore[no-any-return]
        found: set[str] = set()
        for value in (self._api_key, getattr(self, "_token", None), getattr(self, "_access_token", None)):
            if isinstance(value, str) and value:
                found |= secret_forms(value)
        found |= header_secrets(self.default_headers) | url_secrets(self.base_url)
        result = ordered(found)
        register(result)  # so the HTTP library's own log lines are scrubbed of them too
        self.__dict__["_credentials_cache"] = (key, result)
        return result

    # -- capabilities --------------------------------------------------------------------------
    @property
    def capabilities(self) -> list[Capability]:
        return self.capabilities_for(self.model)

    @classmethod
    def default_capabilities_for(cls, model: str | None = None) -> list[Capability]:
        """The class's declared capabilities, with its per-model rules applied."""
        caps = set(cls.default_capabilities)
        for pattern, added, removed in cls.model_capability_rules:
            if fnmatchcase(model or "", pattern):
                caps |= added
                caps -= removed
        return sorted(caps, key=_CAPABILITY_ORDER.__getitem__)

    def capabilities_for(self, model: str | None = None) -> list[Capability]:
        if self._capabilities is not None:
            caps = set(self._capabilities)
        else:
            caps = set(self.default_capabilities_for(model or self.model))
        for capability, enabled in self._capability_overrides.items():
            if enabled:
                caps.add(capability)
            else:
                caps.discard(capability)
        return sorted(caps, key=_CAPABILITY_ORDER.__getitem__)

    def set_capability(self, capability: Capability | str, enabled: bool = True) -> None:
        """Override one capability for this instance (e.g. a fine-tuned model that does call tools)."""
        self._capability_overrides[Capability(capability)] = enabled

    def supports_capability(self, capability: Capability | str, *, model: str | None = None) -> bool:
        return Capability(capability) in self._reported_capabilities(model or self.model)

    def _reported_capabilities(self, model: str | None) -> list[Capability]:
        """What the instance reports for `model`: a subclass overriding the `capabilities` property
        (the founding design) is asked for its own model; every check reads this (API.md)."""
        if type(self).capabilities is not BaseProvider.capabilities and model == self.model:
            return list(self.capabilities)
        return self.capabilities_for(model)

    def _require(self, capability: Capability, model: str, what: str) -> None:
        if capability not in self._reported_capabilities(model):
            raise UnsupportedCapabilityError(
                f"{self.name} model {model!r} does not support {what} (capability "
                f"{capability.value!r}); if it does, enable it with "
                f"capability_overrides={{Capability.{capability.name}: True}} or "
                f"llm.set_capability(Capability.{capability.name})",
                provider=self.name,
                capability=capability,
            )

    # -- class facts read by the registry, the CLI, tracing and standardize_tool_response --------
    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        """A raw response body (parsed JSON) of this wire format, normalized; what
        `standardize_tool_response(payload, name)` uses."""
        raise NotImplementedError(f"{cls.name}: no standalone response parser")

    @classmethod
    def tools_payload(cls, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        """The tool definitions as this provider receives them (one entry per tool); what
        `toolwire schema --dialect NAME` prints."""
        raise NotImplementedError(f"{cls.name}: no standalone tool translation")

    def telemetry_name(self) -> str:
        """`gen_ai.provider.name` for this instance (Gemini on Vertex AI answers differently)."""
        return self.otel_provider_name or self.name

    # -- translation hooks (pure) --------------------------------------------------------------
    def translate_tools(self, tools: tuple[ToolDefinition, ...]) -> Any:
        return self.tools_payload(tools)

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        raise NotImplementedError

    def endpoint(self, request: ChatRequest) -> str:
        raise NotImplementedError

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        raise NotImplementedError

    def new_stream_state(self, request: ChatRequest) -> StreamState:
        raise NotImplementedError

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> Any:
        raise NotImplementedError

    def auth_headers(self) -> dict[str, str]:
        """Per-request auth headers (sync path)."""
        return {}

    async def aauth_headers(self) -> dict[str, str]:
        """Per-request auth headers (async path); token providers may be coroutines here."""
        return self.auth_headers()

    def static_headers(self) -> dict[str, str]:
        return {"content-type": "application/json", "accept": "application/json"}

    def request_id(self, headers: Mapping[str, str]) -> str | None:
        for name in self.request_id_headers:
            value = headers.get(name)
            if value:
                return value
        return None

    # -- request preparation (shared by sync and async) ----------------------------------------
    def _translated_tools(self, tools: Sequence[Any]) -> tuple[tuple[ToolDefinition, ...], Any]:
        """Coerce and translate a tool list once per tool set: a hot loop calling generate() with
        the same list pays a dict lookup, not a schema walk."""
        if any(is_tool_source(t) for t in tools):  # an MCP toolset stands for its (current) tools
            tools = expand_tool_sources(tools)
        key = tuple(map(id, tools))
        hit = self._tool_cache.get(key)
        if hit is not None and len(hit[0]) == len(tools) and all(a is b for a, b in zip(hit[0], tools)):
            return hit[1], hit[2]
        definitions = tuple(ToolDefinition.coerce(t) for t in tools)
        seen: set[str] = set()
        for definition in definitions:
            if definition.name in seen:
                raise ValueError(f"two tools are named {definition.name!r}: tool names must be unique")
            seen.add(definition.name)
        payload = self.translate_tools(definitions)
        if len(self._tool_cache) >= _TOOL_CACHE_SIZE:
            self._tool_cache.clear()
        self._tool_cache[key] = (tuple(tools), definitions, payload)
        return definitions, payload

    def _prepare(
        self,
        messages: Any,
        *,
        model: str | None,
        stream: bool,
        tools: Sequence[Any] | None,
        tool_choice: Any,
        parallel_tool_calls: bool | None,
        response_format: Any,
        sampling: dict[str, Any],
        kwargs: dict[str, Any],
    ) -> ChatRequest:
        use_model = model or self.model
        if not use_model:
            raise ConfigurationError(f"{self.name}: no model; pass model=... to create() or generate()")
        request = ChatRequest(messages=coerce_messages(messages), model=use_model, stream=stream)
        self._check_images(request.messages, use_model)
        if tools:
            self._require(Capability.FUNCTION_CALLING, use_model, "tools (function calling)")
            request.tools, request.tool_payload = self._translated_tools(tools)
            if stream:
                self._require(Capability.STREAMING_TOOLS, use_model, "tools while streaming")
            request.tool_choice = normalize_tool_choice(tool_choice, request.tools)
            request.parallel_tool_calls = parallel_tool_calls
        elif tool_choice not in (None, "none", "auto"):
            raise ValueError(f"tool_choice={tool_choice!r} needs tools")
        if stream:
            self._require(Capability.STREAMING, use_model, "streaming")
        if response_format is not None:
            request.response_model, request.response_format = read_response_format(response_format)
            if request.response_model is not None:
                self._require(Capability.STRUCTURED_OUTPUT, use_model, "structured output")
            elif request.response_format is ResponseFormat.JSON:
                self._require(Capability.JSON_MODE, use_model, "JSON mode")
        request.params = {k: v for k, v in sampling.items() if v is not None}
        apply_call_options(request, kwargs)
        return request

    def _check_images(self, messages: Sequence[Message], model: str) -> None:
        """Images go only to a model that sees them, and only within the service's size limit:
        both are refused here, before any request."""
        images = [image for message in messages for image in message.images]
        if not images:
            return
        self._require(Capability.VISION, model, "images (vision)")
        for image in images:
            image.check_size(self.max_image_bytes, provider=self.name)

    def _inline_image_urls(self, request: ChatRequest) -> ChatRequest:
        """For a service that cannot fetch image URLs: the same request with each URL image
        downloaded (no credential of ours goes to the image's host)."""
        if self.fetches_image_urls or not _has_url_images(request.messages):
            return request
        from .._image_fetch import download_images

        messages = download_images(request.messages, self.transport.client, self.max_image_bytes, self.name)
        return replace(request, messages=messages)

    async def _ainline_image_urls(self, request: ChatRequest) -> ChatRequest:
        if self.fetches_image_urls or not _has_url_images(request.messages):
            return request
        from .._image_fetch import adownload_images

        client = self.transport.async_client
        messages = await adownload_images(request.messages, client, self.max_image_bytes, self.name)
        return replace(request, messages=messages)

    def _http_call(self, request: ChatRequest, auth: dict[str, str]) -> HttpCall:
        headers = self.static_headers()
        if self.default_headers:
            headers.update(self.default_headers)
        headers.update(auth)
        if request.extra_headers:
            headers.update(request.extra_headers)
        if request.stream:
            headers["accept"] = "text/event-stream"
        return HttpCall(
            "POST",
            self.endpoint(request),
            headers,
            encode_body(self.body_json(request)),
            timeout=request.timeout,
            max_retries=request.max_retries,
            deadline=request.retry_deadline,
            secrets=self.credentials(),
        )

    def body_json(self, request: ChatRequest) -> str:
        """The request body as JSON text: `build_body`, serialized compactly (a provider may reuse
        text it serialized for an earlier request, e.g. its tool definitions)."""
        return body_dumps(self.build_body(request))

    def _decode(self, response: httpx2.Response) -> Any:
        try:
            # limits: a body nested past them or with an over-long integer is a typed error
            return _json.loads(response.content, max_depth=_json.BODY_MAX_DEPTH, lenient=True)
        except (ValueError, UnicodeDecodeError) as exc:
            error = ResponseParseError(
                f"{self.name} answered HTTP {response.status_code} with a body that is not JSON: {exc}",
                provider=self.name,
                body=response.content[:2000],
            )
            # a proxy's HTML page may quote the request it received
            sent = response.request
            secrets = request_secrets(sent.headers, str(sent.url), self.credentials())
            raise scrub_error(error, secrets) from exc

    def finish(self, request: ChatRequest, response: GenerateResponse) -> GenerateResponse:
        """Shared post-processing of a parsed (or assembled) response."""
        response.provider = self.name
        if response.tool_calls and request.tools:
            check_call_arguments(response.tool_calls, request.tools)  # sets arguments_error (API.md)
        if (
            request.response_model is not None
            and response.content
            and response.refusal is None
            and not response.tool_calls  # a tool-calling turn is not the structured answer yet
        ):
            response.parsed = parse_structured(request.response_model, response.content, self.name)
        if self.raise_on_content_filter and response.finish_reason == "content_filter":
            raise ContentFilterError(
                f"{self.name}: the completion was stopped by a content filter",
                provider=self.name,
                model=response.model,
                filter_results=find_entry(response.provider_data, self.name, "content_filter_results"),
                response=response,
            )
        return response

    # -- the interface -------------------------------------------------------------------------
    # Overloads on `stream`: a type checker sees a GenerateResponse, or a stream to iterate.
    @overload
    def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: Literal[False] = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse: ...
    @overload
    def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: Literal[True],
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Stream: ...
    @overload
    def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | Stream: ...
    def generate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | Stream:
        request = self._prepare(
            messages,
            model=model,
            stream=stream,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format,
            sampling={
                "temperature": temperature,
                "max_tokens": max_tokens,
                "top_p": top_p,
                "frequency_penalty": frequency_penalty,
                "presence_penalty": presence_penalty,
            },
            kwargs=kwargs,
        )
        request = self._inline_image_urls(request)
        attempt = 1
        while True:
            record = _instrument.call_started(self, request)
            try:
                call = self._http_call(request, self.auth_headers())
                _instrument.call_sent(record, call.body)
                if stream:
                    from .._streaming import Stream

                    return Stream(self, request, self.transport.open_stream(call), record)
                response = self.transport.send(call)
                result = self.finish(request, self.parse_response(self._decode(response), request))
                self._settle_tokens(call, result)
            except StructuredOutputError as exc:
                _instrument.call_finished(record, None, exc)
                request = self._reask_or_raise(request, exc, attempt)
                attempt += 1
                continue
            except BaseException as exc:
                _instrument.call_finished(record, None, exc)
                raise
            _instrument.call_finished(record, result)
            return result

    @overload
    async def agenerate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: Literal[False] = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse: ...
    @overload
    async def agenerate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: Literal[True],
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> AsyncStream: ...
    @overload
    async def agenerate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | AsyncStream: ...
    async def agenerate(
        self,
        messages: Any,
        *,
        model: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_p: float | None = None,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        response_format: Any = None,
        stream: bool = False,
        tools: Sequence[Any] | None = None,
        tool_choice: Any = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | AsyncStream:
        request = self._prepare(
            messages,
            model=model,
            stream=stream,
            tools=tools,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format,
            sampling={
                "temperature": temperature,
                "max_tokens": max_tokens,
                "top_p": top_p,
                "frequency_penalty": frequency_penalty,
                "presence_penalty": presence_penalty,
            },
            kwargs=kwargs,
        )
        request = await self._ainline_image_urls(request)
        attempt = 1
        while True:
            record = _instrument.call_started(self, request)
            try:
                call = self._http_call(request, await self.aauth_headers())
                _instrument.call_sent(record, call.body)
                if stream:
                    from .._streaming import AsyncStream

                    return AsyncStream(self, request, await self.transport.aopen_stream(call), record)
                response = await self.transport.asend(call)
                result = self.finish(request, self.parse_response(self._decode(response), request))
                self._settle_tokens(call, result)
            except StructuredOutputError as exc:
                _instrument.call_finished(record, None, exc)
                request = self._reask_or_raise(request, exc, attempt)
                attempt += 1
                continue
            except BaseException as exc:
                _instrument.call_finished(record, None, exc)
                raise
            _instrument.call_finished(record, result)
            return result

    def _settle_tokens(self, call: HttpCall, result: GenerateResponse) -> None:
        """Tell the pacer what the call really cost (it paced on an estimate from the body size)."""
        self.transport.pacer.settle_usage(estimate_tokens(call.body), result.usage)

    def _reask_or_raise(
        self, request: ChatRequest, error: StructuredOutputError, attempt: int
    ) -> ChatRequest:
        """The validation re-ask (its own budget, apart from transport retries): the same request
        with the invalid answer and the error appended, on a copy of the message list so the
        caller's history is untouched. Raises `error` when the budget is spent."""
        error.attempts = attempt
        if attempt > request.max_validation_retries:
            raise error
        model = request.response_model.__name__ if request.response_model else "the schema"
        correction = Message(
            role="user",
            content=(
                f"Your answer did not match the JSON schema of {model}: {error.validation_error}\n"
                "Answer again with only the JSON object, matching the schema exactly."
            ),
        )
        answer = Message(role="assistant", content=error.raw_text or "")
        return replace(request, messages=[*request.messages, answer, correction])

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self.transport.close()

    async def aclose(self) -> None:
        await self.transport.aclose()

    def __enter__(self) -> BaseProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> BaseProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _has_url_images(messages: Sequence[Message]) -> bool:
    return any(image.data is None for message in messages for image in message.images)
