"""OpenTelemetry spans for model calls and tool executions, following the GenAI semantic conventions.

    import toolwire.tracing
    toolwire.tracing.instrument()                 # after configuring your TracerProvider

One CLIENT span per model call (`chat {model}`: `gen_ai.operation.name=chat`, `gen_ai.provider.name`,
`gen_ai.request.model`, sampling parameters, `gen_ai.response.*`, `gen_ai.usage.input_tokens` /
`output_tokens`, `server.address` / `server.port`, `error.type`), and one INTERNAL span per tool
execution (`execute_tool {name}`: `gen_ai.tool.name`, `gen_ai.tool.call.id`, `gen_ai.tool.type`,
`error.type`). Both carry `gen_ai.conversation.id` inside a Session.

Spans are children of whatever span is current where the call starts: wrap a Session in your own
span (e.g. `invoke_agent`) and its model calls and tools hang under it, including tools run on the
executor's thread pool (the executor runs them in a copy of the caller's context).

Message content (prompts, answers, tool arguments and results) is recorded only with
`instrument(capture_content=True)`, as the conventions require. Needs `opentelemetry-api`
(`pip install "toolwire[otel]"`); without an SDK configured, the API's tracer does nothing.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import _instrument
from .errors import ConfigurationError

if TYPE_CHECKING:
    from ._instrument import CallRecord, ToolRecord
    from .types import GenerateResponse, ToolResult

__all__ = ["TracingObserver", "instrument", "is_instrumented", "uninstrument"]

_REQUEST_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
}


def _otel() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        raise ConfigurationError(
            'OpenTelemetry tracing needs opentelemetry-api: pip install "toolwire[otel]"'
        ) from None
    return trace


def provider_name(provider: Any) -> str:
    """`gen_ai.provider.name`: what the provider instance says (its class's `otel_provider_name`)."""
    telemetry_name = getattr(provider, "telemetry_name", None)
    if callable(telemetry_name):
        return str(telemetry_name())
    return str(getattr(provider, "name", "unknown"))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class TracingObserver:
    """Turns toolwire's observation hooks into spans. Create with `instrument()`."""

    def __init__(self, tracer: Any, *, capture_content: bool = False) -> None:
        self.tracer = tracer
        self.capture_content = capture_content
        self._trace = _otel()

    # -- model calls -----------------------------------------------------------------------------
    def call_started(self, record: CallRecord) -> None:
        request = record.request
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider_name(record.provider),
            "gen_ai.request.model": request.model,
        }
        for key, attribute in _REQUEST_PARAMS.items():
            value = request.params.get(key)
            if value is not None:
                attributes[attribute] = value
        if record.conversation_id:
            attributes["gen_ai.conversation.id"] = record.conversation_id
        base_url = getattr(record.provider, "base_url", None)
        if base_url:
            parts = urlsplit(base_url)
            if parts.hostname:
                attributes["server.address"] = parts.hostname
                port = parts.port or (443 if parts.scheme == "https" else 80)
                attributes["server.port"] = port
        if self.capture_content:
            attributes["gen_ai.input.messages"] = _json([_input_message(m) for m in request.messages])
            if request.tools:
                attributes["gen_ai.tool.definitions"] = _json([t.to_dict() for t in request.tools])
        span = self.tracer.start_span(
            f"chat {request.model}",
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
            start_time=int(record.started * 1e9),
        )
        record.extra["otel_span"] = span

    def call_finished(
        self, record: CallRecord, response: GenerateResponse | None, error: BaseException | None
    ) -> None:
        span = record.extra.pop("otel_span", None)
        if span is None:
            return
        if response is not None:
            if response.model:
                span.set_attribute("gen_ai.response.model", response.model)
            if response.id:
                span.set_attribute("gen_ai.response.id", response.id)
            if response.finish_reason:
                span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason])
            usage = response.usage or {}
            if usage.get("prompt_tokens") is not None:
                span.set_attribute("gen_ai.usage.input_tokens", usage["prompt_tokens"])
            if usage.get("completion_tokens") is not None:
                span.set_attribute("gen_ai.usage.output_tokens", usage["completion_tokens"])
            if self.capture_content:
                span.set_attribute("gen_ai.output.messages", _json([_output_message(response)]))
        if error is not None:
            self._fail(span, type(error).__name__, str(error), getattr(error, "status_code", None))
        span.end()

    # -- tools -------------------------------------------------------------------------------------
    def tool_started(self, record: ToolRecord) -> None:
        call = record.call
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": call.name,
            "gen_ai.tool.call.id": call.id,
            "gen_ai.tool.type": "function",
        }
        if record.conversation_id:
            attributes["gen_ai.conversation.id"] = record.conversation_id
        if self.capture_content:
            attributes["gen_ai.tool.call.arguments"] = (
                call.raw_arguments if call.raw_arguments is not None else _json(call.arguments)
            )
        # Not made current: the executor may report start and finish from different threads or
        # tasks, and detaching a context elsewhere than it was attached would corrupt it.
        span = self.tracer.start_span(
            f"execute_tool {call.name}",
            kind=self._trace.SpanKind.INTERNAL,
            attributes=attributes,
            start_time=int(record.started * 1e9),
        )
        record.extra["otel_span"] = span

    def tool_finished(self, record: ToolRecord, result: ToolResult) -> None:
        span = record.extra.pop("otel_span", None)
        if span is None:
            return
        if self.capture_content:
            try:
                span.set_attribute("gen_ai.tool.call.result", result.output_text())
            except Exception:
                pass
        if result.error is not None:
            self._fail(span, "tool_error", result.error, None)
        span.end()

    def _fail(self, span: Any, error_type: str, message: str, status_code: int | None) -> None:
        span.set_attribute("error.type", error_type)
        if status_code is not None:
            span.set_attribute("http.response.status_code", status_code)
        from opentelemetry.trace import Status, StatusCode

        # the message is the provider's error body summary (never request headers), or the tool's error
        span.set_status(Status(StatusCode.ERROR, message[:500] if self.capture_content else error_type))


def _input_message(message: Any) -> dict[str, Any]:
    """One message in the GenAI semantic conventions' `parts` schema (gen-ai-input-messages.json):
    text, `tool_call` and `tool_call_response` parts, as `gen_ai.output.messages` uses."""
    parts: list[dict[str, Any]] = []
    if getattr(message, "role", None) == "tool":
        for result in message.tool_results or ():
            try:
                response: Any = result.output_text()
            except Exception as exc:  # an output that cannot be serialized: say so, do not fail
                response = f"<unserializable output: {type(exc).__name__}>"
            parts.append({"type": "tool_call_response", "id": result.call_id, "response": response})
        return {"role": "tool", "parts": parts}
    content = getattr(message, "content", None)
    if content:
        parts.append({"type": "text", "content": content if isinstance(content, str) else str(content)})
    for call in getattr(message, "tool_calls", None) or ():
        parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
    return {"role": str(getattr(message, "role", "user")), "parts": parts}


def _output_message(response: GenerateResponse) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if response.content:
        parts.append({"type": "text", "content": response.content})
    if response.tool_calls:
        for call in response.tool_calls:
            parts.append({"type": "tool_call", "id": call.id, "name": call.name, "arguments": call.arguments})
    return {"role": "assistant", "parts": parts, "finish_reason": response.finish_reason}


_lock = threading.Lock()
_current: TracingObserver | None = None


def instrument(*, capture_content: bool = False, tracer_provider: Any = None) -> TracingObserver:
    """Emit OpenTelemetry spans for every model call and tool execution (idempotent: calling again
    replaces the previous settings). `tracer_provider` defaults to the global one."""
    global _current
    trace = _otel()
    from ._version import __version__

    tracer = trace.get_tracer("toolwire", __version__, tracer_provider=tracer_provider)
    observer = TracingObserver(tracer, capture_content=capture_content)
    with _lock:
        if _current is not None:
            _instrument.remove_observer(_current)
        _current = observer
        _instrument.add_observer(observer)
    return observer


def uninstrument() -> None:
    global _current
    with _lock:
        if _current is not None:
            _instrument.remove_observer(_current)
            _current = None


def is_instrumented() -> bool:
    return _current is not None
