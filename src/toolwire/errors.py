"""The toolwire error tree. Catch by meaning, not by provider.

    ToolwireError
    ├── ConfigurationError            missing key/endpoint, unknown provider, missing extra
    ├── UnsupportedCapabilityError    (also ValueError) tools to a provider without FUNCTION_CALLING
    ├── ProviderError                 provider, status_code, request_id, body
    │   ├── AuthenticationError       401/403
    │   ├── RateLimitError            429 (retry_after seconds)
    │   ├── ContentFilterError        prompt or completion filtered (filter details kept)
    │   ├── ContextLengthError        prompt too long for the model
    │   ├── InvalidRequestError       other 4xx (bad parameter, unknown model, bad schema)
    │   ├── ServerError               5xx, 529 overloaded
    │   ├── ProviderTimeoutError      the request timed out
    │   └── ProviderConnectionError   could not connect, connection dropped
    ├── ResponseParseError            the provider answered something we cannot read
    │   ├── StructuredOutputError     the answer did not validate into the requested model (raw text kept)
    │   └── StreamInterruptedError    a stream ended early (keeps the partial text and complete calls)
    ├── ToolExecutionError
    ├── MaxTurnsExceeded              the Session loop hit max_turns (keeps the history)
    └── BatchItemError                one batch item ended without an answer (expired, cancelled, ...)

No secret (API key, bearer or Entra token) ever appears in a message, a repr or a log line:
provider errors are built from the response body, never from request headers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import GenerateResponse, Message, ToolCall

__all__ = [
    "AuthenticationError",
    "BatchItemError",
    "ConfigurationError",
    "ContentFilterError",
    "ContextLengthError",
    "InvalidRequestError",
    "MCPConnectionError",
    "MCPServerError",
    "MCPTimeoutError",
    "MCPToolChangedError",
    "MCPToolError",
    "MaxTurnsExceeded",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderTimeoutError",
    "RateLimitError",
    "ResponseParseError",
    "ServerError",
    "StreamInterruptedError",
    "StructuredOutputError",
    "ToolExecutionError",
    "ToolwireError",
    "UnsupportedCapabilityError",
]


class ToolwireError(Exception):
    """Base class of every error toolwire raises."""


class ConfigurationError(ToolwireError):
    """Something the user must set or install is missing or wrong."""


class UnsupportedCapabilityError(ToolwireError, ValueError):
    """The provider (or model) lacks a capability the request needs. Raised before any request."""

    def __init__(self, message: str, *, provider: str | None = None, capability: Any = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.capability = capability


class ProviderError(ToolwireError):
    """The provider answered with an error (or could not be reached)."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
        model: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        self.model = model
        self.code = code
        # a fallback provider that gave up attaches every member's error here, in order
        self.errors: list[BaseException] = []

    def __str__(self) -> str:
        parts = [self.message]
        details = []
        if self.provider:
            details.append(f"provider={self.provider}")
        if self.status_code is not None:
            details.append(f"status={self.status_code}")
        if self.code:
            details.append(f"code={self.code}")
        if self.request_id:
            details.append(f"request_id={self.request_id}")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, provider={self.provider!r}, "
            f"status_code={self.status_code!r}, request_id={self.request_id!r})"
        )


class AuthenticationError(ProviderError):
    """The key or token was refused (401/403)."""


class RateLimitError(ProviderError):
    """Too many requests (429). `retry_after` is the wait the provider asked for, in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ContentFilterError(ProviderError):
    """The prompt or the completion was blocked by a content/safety filter.

    `filter_results` keeps the provider's details (Azure `content_filter_result(s)`, Gemini safety
    ratings); `response` holds the partial response when the completion (not the prompt) was filtered.
    """

    def __init__(
        self,
        message: str,
        *,
        filter_results: Any = None,
        response: GenerateResponse | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.filter_results = filter_results
        self.response = response


class ContextLengthError(ProviderError):
    """The conversation is longer than the model's context window."""


class InvalidRequestError(ProviderError):
    """The provider rejected the request (bad parameter, unknown model or deployment, bad schema)."""


class ServerError(ProviderError):
    """The provider failed (5xx, 529 overloaded). Retryable."""

    retryable = True


class ProviderTimeoutError(ProviderError):
    """No answer within the timeout. Retryable."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The connection could not be made or broke. Retryable."""

    retryable = True


class ResponseParseError(ToolwireError):
    """The provider's answer could not be read (malformed JSON, unexpected shape)."""

    def __init__(self, message: str, *, provider: str | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.body = body


class StructuredOutputError(ResponseParseError):
    """The model's answer did not validate into the requested Pydantic model, after `attempts`
    tries (the re-asks included). `raw_text` is the last answer as the model wrote it."""

    def __init__(
        self,
        message: str,
        *,
        raw_text: str | None,
        validation_error: Any = None,
        attempts: int = 1,
        provider: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, body=raw_text)
        self.raw_text = raw_text
        self.validation_error = validation_error
        self.attempts = attempts


class StreamInterruptedError(ResponseParseError):
    """A stream stopped before its end. Nothing is lost: the partial text and every tool call that
    was complete are kept, so the caller can show them or retry."""

    def __init__(
        self,
        message: str,
        *,
        partial_content: str | None = None,
        tool_calls: list[ToolCall] | None = None,
        provider: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, provider=provider)
        self.partial_content = partial_content
        self.tool_calls = tool_calls or []
        self.cause = cause


class ToolExecutionError(ToolwireError):
    """A tool failed in a way that cannot be returned to the model as a result."""

    def __init__(self, message: str, *, tool_name: str | None = None, call_id: str | None = None) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.call_id = call_id


class MaxTurnsExceeded(ToolwireError):
    """The Session loop reached `max_turns` without a final answer. `messages` keeps the history."""

    def __init__(self, message: str, *, messages: list[Message] | None = None, max_turns: int = 0) -> None:
        super().__init__(message)
        self.messages = messages or []
        self.max_turns = max_turns


class BatchItemError(ToolwireError):
    """One item of a batch (`toolwire.batch`) ended without an answer for a reason that is not a
    provider error: the Batch API expired or cancelled it (`reason` "expired", "canceled"), left
    it out of both result files ("missing"), reported it failed without an HTTP status
    ("errored"), or the item raised an exception that is not a toolwire error ("exception", kept as
    `__cause__`). `index` is its position in the inputs."""

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        reason: str | None = None,
        custom_id: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.reason = reason
        self.custom_id = custom_id
        self.code = code


class MCPServerError(ToolExecutionError):
    """An MCP server could not run a tool call (`toolwire.mcp`). `server` names the server (its
    command or URL without credentials). Inside a `Session` or `execute_tool_calls` these become
    error results the model reads; code calling `MCPToolset.call` gets them raised."""

    def __init__(self, message: str, *, server: str | None = None, tool_name: str | None = None) -> None:
        super().__init__(message, tool_name=tool_name)
        self.server = server


class MCPConnectionError(MCPServerError):
    """The server could not be reached, crashed or closed the connection. The next use starts the
    stdio process again / opens a new HTTP session."""


class MCPTimeoutError(MCPServerError):
    """The server did not answer in time (connecting, listing tools, or a call)."""


class MCPToolError(MCPServerError):
    """The tool ran and failed (`isError: true`), or the server refused the call (a JSON-RPC error)."""


class MCPToolChangedError(MCPServerError):
    """The tool's name, description or input schema changed since it was pinned; `change` says what.
    Approve it with `MCPToolset.approve(name)`, the `approve` hook, or the pin file."""

    def __init__(self, message: str, *, change: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.change = change
