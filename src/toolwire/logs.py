"""Logging: the `toolwire` logger hierarchy, secret redaction, and the debug-summary observer.

Loggers (all children of ``toolwire``, which only has a `NullHandler`: a library never configures
logging on import):

- ``toolwire.provider.<name>`` — one summary line per model call (DEBUG) and failed calls (INFO)
- ``toolwire.tools``           — one line per tool execution (DEBUG), failed tools (INFO)
- ``toolwire.runner``          — the Session loop
- ``toolwire.retry``           — retries and their delays (INFO)
- ``toolwire.transport``       — the HTTP layer

`enable_debug_logging()` is the one call that turns on readable output (through rich when it is
installed). Applications that configure logging themselves call `install()` instead, which only
subscribes the summary observer and leaves handlers and levels alone.

Summaries carry sizes, names, status and latency — never message text, argument values, headers or
keys. `redact_headers` / `redact` / `scrub` are shared with the recorder.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from . import _instrument

if TYPE_CHECKING:
    from ._instrument import CallRecord, ToolRecord
    from .types import GenerateResponse, ToolResult

__all__ = [
    "LoggingObserver",
    "disable_debug_logging",
    "enable_debug_logging",
    "install",
    "redact",
    "redact_headers",
    "scrub",
    "uninstall",
]

ROOT = "toolwire"
logging.getLogger(ROOT).addHandler(logging.NullHandler())

REDACTED = "[redacted]"

# Header and field names whose values are credentials. Matched on the lower-cased name.
_SECRET_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "api_key",
        "apikey",
        "x-api-key",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "password",
        "client_secret",
        "access_token",
        "refresh_token",
        "id_token",
    }
)
_SECRET_NAME_RE = re.compile(
    r"secret|passw(or)?d|api[-_]?key|credential|authori[sz]ation|bearer|cookie|session[-_]?id"
    r"|(^|[-_])auth($|[-_])|(^|[-_])token$|[-_]token$|^token[-_]|subscription[-_]key"
)
# Anything shaped like a key or a bearer token that slipped into free text.
_SECRET_PATTERNS = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(sk-(?:ant-|proj-)?[A-Za-z0-9_-]{12,})"
    r"|\b(AIza[0-9A-Za-z_-]{20,})"
    r"|\b(eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,})"
)


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    if lowered in _SECRET_NAMES:
        return True
    # token counts are not secrets (max_tokens, prompt_tokens), nor is a parameter named "author"
    return _SECRET_NAME_RE.search(lowered) is not None


def redact_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Header names kept, credential values replaced (Authorization, api-key, x-api-key, cookies...)."""
    if not headers:
        return {}
    return {str(k): (REDACTED if is_secret_name(str(k)) else str(v)) for k, v in headers.items()}


def redact(value: Any, *, _depth: int = 0) -> Any:
    """A copy of a JSON-like value with credential-named fields replaced and key-shaped strings scrubbed."""
    if _depth > 64:
        return value
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) and v else redact(v, _depth=_depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v, _depth=_depth + 1) for v in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove known secrets and anything key-shaped (sk-…, AIza…, JWTs, bearer tokens) from text."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, REDACTED)

    def _sub(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1) + REDACTED
        return REDACTED

    return _SECRET_PATTERNS.sub(_sub, text)


def provider_secrets(provider: Any) -> tuple[str, ...]:
    """The credentials a provider holds, so they can be scrubbed from anything we write."""
    declared = getattr(provider, "credentials", None)
    if callable(declared):
        return tuple(declared())  # every form of every credential (toolwire._scrub)
    found = []
    for attr in ("_api_key", "_token", "_access_token"):
        value = getattr(provider, attr, None)
        if isinstance(value, str) and value:
            found.append(value)
    more = getattr(provider, "secret_values", None)  # e.g. Bedrock's AWS secret key and session token
    if callable(more):
        found.extend(v for v in more() if isinstance(v, str) and v)
    return tuple(found)


# -- summaries -----------------------------------------------------------------------------------
def _json_size(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value)
    import json

    try:
        return len(json.dumps(value, ensure_ascii=False, default=str))
    except (TypeError, ValueError):
        return len(str(value))


def request_summary(record: CallRecord) -> str:
    request = record.request
    parts = [
        f"model={request.model}",
        f"messages={len(request.messages)}",
    ]
    if request.tools:
        parts.append("tools=[" + ",".join(t.name for t in request.tools) + "]")
    if request.tool_choice is not None:
        parts.append(f"tool_choice={request.tool_choice}")
    if request.stream:
        parts.append("stream")
    if record.conversation_id:
        parts.append(f"conversation={record.conversation_id}")
    return " ".join(parts)


def response_summary(
    record: CallRecord, response: GenerateResponse | None, error: BaseException | None
) -> str:
    latency_ms = (time.perf_counter() - record.started_monotonic) * 1000
    if error is not None:
        status = getattr(error, "status_code", None)
        return (
            f"status=error error={type(error).__name__}"
            + (f" http={status}" if status is not None else "")
            + f" latency={latency_ms:.0f}ms"
        )
    assert response is not None
    parts = ["status=ok", f"model={response.model}", f"finish={response.finish_reason}"]
    if response.tool_calls:
        calls = ",".join(
            f"{c.name}({_json_size(c.raw_arguments if c.raw_arguments is not None else c.arguments)}B)"
            for c in response.tool_calls
        )
        parts.append(f"tool_calls=[{calls}]")
    if response.content:
        parts.append(f"text={len(response.content)}ch")
    if response.usage:
        usage = response.usage
        parts.append(f"tokens={usage.get('prompt_tokens', '?')}+{usage.get('completion_tokens', '?')}")
    parts.append(f"latency={latency_ms:.0f}ms")
    return " ".join(parts)


class LoggingObserver:
    """Writes one summary line per model call and per tool execution; cheap when DEBUG is off."""

    def __init__(self) -> None:
        self._tools = logging.getLogger(f"{ROOT}.tools")

    @staticmethod
    def _provider_logger(record: CallRecord) -> logging.Logger:
        return logging.getLogger(f"{ROOT}.provider.{record.provider.name}")

    def call_started(self, record: CallRecord) -> None:
        log = self._provider_logger(record)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("→ %s request %s", record.provider.name, request_summary(record))

    def call_finished(
        self, record: CallRecord, response: GenerateResponse | None, error: BaseException | None
    ) -> None:
        log = self._provider_logger(record)
        level = logging.INFO if error is not None else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level, "← %s response %s", record.provider.name, response_summary(record, response, error)
            )

    def tool_started(self, record: ToolRecord) -> None:
        if self._tools.isEnabledFor(logging.DEBUG):
            call = record.call
            size = _json_size(call.raw_arguments if call.raw_arguments is not None else call.arguments)
            self._tools.debug("→ tool %s id=%s arguments=%dB", call.name, call.id, size)

    def tool_finished(self, record: ToolRecord, result: ToolResult) -> None:
        level = logging.DEBUG if result.error is None else logging.INFO
        if self._tools.isEnabledFor(level):
            duration = result.duration
            if duration is None:
                duration = time.perf_counter() - record.started_monotonic
            if result.error is None:
                outcome = f"ok output={_json_size(result.output)}B"
            else:
                outcome = f"error={scrub(result.error)[:200]!r}"
            self._tools.log(
                level,
                "← tool %s id=%s %s latency=%.0fms",
                result.name,
                result.call_id,
                outcome,
                duration * 1000,
            )


_observer: LoggingObserver | None = None
_handler: logging.Handler | None = None
_lock = threading.Lock()


def install() -> LoggingObserver:
    """Subscribe the summary observer (idempotent). Handlers and levels stay the application's."""
    global _observer
    with _lock:
        if _observer is None:
            _observer = LoggingObserver()
        _instrument.add_observer(_observer)
        return _observer


def uninstall() -> None:
    global _observer
    with _lock:
        if _observer is not None:
            _instrument.remove_observer(_observer)
            _observer = None


def _make_handler(use_rich: bool | None, stream: TextIO | None) -> logging.Handler:
    if use_rich is not False:
        try:
            from rich.console import Console
            from rich.logging import RichHandler
        except ImportError:
            if use_rich:
                from .errors import ConfigurationError

                raise ConfigurationError(
                    'rich output needs the rich package: pip install "toolwire[cli]"'
                ) from None
        else:
            console = Console(file=stream, stderr=stream is None)
            handler: logging.Handler = RichHandler(
                console=console, show_path=False, rich_tracebacks=True, markup=False, log_time_format="%X"
            )
            handler.setFormatter(logging.Formatter("%(name)s  %(message)s"))
            return handler
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s", "%H:%M:%S"))
    return handler


def enable_debug_logging(
    level: int | str = logging.DEBUG, *, rich: bool | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Show toolwire's request/response/tool summaries on stderr (or `stream`).

    Uses rich when it is installed (`rich=False` forces plain lines, `rich=True` requires it).
    Only the ``toolwire`` logger is touched; calling again replaces the previous handler.
    Returns the handler so an application can remove it.
    """
    global _handler
    install()
    handler = _make_handler(rich, stream)
    root = logging.getLogger(ROOT)
    with _lock:
        if _handler is not None:
            root.removeHandler(_handler)
        _handler = handler
        root.addHandler(handler)
        root.setLevel(level)
    return handler


def disable_debug_logging() -> None:
    """Undo `enable_debug_logging()`: remove its handler, reset the level, unsubscribe."""
    global _handler
    root = logging.getLogger(ROOT)
    with _lock:
        if _handler is not None:
            root.removeHandler(_handler)
            _handler = None
        root.setLevel(logging.NOTSET)
    uninstall()
