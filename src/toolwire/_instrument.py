"""The observation seam: providers and the tool executor report here; logging, tracing and the
call recorder subscribe.

The common case is that nobody listens, so the hooks cost one truthiness check of a module-level
list per call. Observers must never break a call: their exceptions are logged and swallowed.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .providers.base import BaseProvider, ChatRequest
    from .types import GenerateResponse, ToolCall, ToolResult

__all__ = [
    "CallRecord",
    "Observer",
    "ToolRecord",
    "add_observer",
    "conversation",
    "current_conversation",
    "remove_observer",
]

logger = logging.getLogger("toolwire.instrument")

# Set by Session for the duration of a conversation, so recorded calls and spans group by it.
current_conversation: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "toolwire_conversation", default=None
)


@dataclass
class CallRecord:
    """One model call, as observers see it. Observers may attach their own state in `extra`."""

    provider: BaseProvider
    request: ChatRequest
    conversation_id: str | None
    started: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.perf_counter)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolRecord:
    """One tool execution."""

    call: ToolCall
    conversation_id: str | None
    started: float = field(default_factory=time.time)
    started_monotonic: float = field(default_factory=time.perf_counter)
    extra: dict[str, Any] = field(default_factory=dict)


class Observer(Protocol):
    def call_started(self, record: CallRecord) -> None: ...

    def call_finished(
        self, record: CallRecord, response: GenerateResponse | None, error: BaseException | None
    ) -> None: ...

    def tool_started(self, record: ToolRecord) -> None: ...

    def tool_finished(self, record: ToolRecord, result: ToolResult) -> None: ...


_observers: list[Observer] = []


def add_observer(observer: Observer) -> None:
    if observer not in _observers:
        _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def observers() -> list[Observer]:
    return list(_observers)


@contextmanager
def conversation(conversation_id: str) -> Iterator[str]:
    token = current_conversation.set(conversation_id)
    try:
        yield conversation_id
    finally:
        current_conversation.reset(token)


def _safely(method: str, *args: Any) -> None:
    for observer in tuple(_observers):
        try:
            getattr(observer, method)(*args)
        except Exception:  # an observer must never break a call
            logger.exception("toolwire observer %r failed in %s", observer, method)


def _recording_from_env() -> None:
    """`TOOLWIRE_RECORD=1` (or a path) turns the call log on for a program that never imports the
    recorder: checked where calls start, so the recorder module is imported only when it is set."""
    if os.environ.get("TOOLWIRE_RECORD"):
        from .recorder import install_from_env

        install_from_env()


def call_started(provider: BaseProvider, request: ChatRequest) -> CallRecord | None:
    _recording_from_env()
    if not _observers:
        return None
    record = CallRecord(provider, request, current_conversation.get())
    _safely("call_started", record)
    return record


def call_sent(record: CallRecord | None, body: bytes | None) -> None:
    """The request body as sent (a reference, no copy): the recorder parses it instead of building
    the whole wire body again from the history (issue 16 item 15)."""
    if record is not None and body is not None:
        record.extra["sent_body"] = body


def call_finished(
    record: CallRecord | None, response: GenerateResponse | None, error: BaseException | None = None
) -> None:
    if record is not None:
        _safely("call_finished", record, response, error)


def tool_started(call: ToolCall) -> ToolRecord | None:
    if not _observers:
        return None
    record = ToolRecord(call, current_conversation.get())
    _safely("tool_started", record)
    return record


def tool_finished(record: ToolRecord | None, result: ToolResult) -> None:
    if record is not None:
        _safely("tool_finished", record, result)
