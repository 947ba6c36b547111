"""Typed events of a streamed `Session` run (`session.stream(prompt)` / `session.astream(prompt)`).

In order, for each model turn: `TextDelta`s as the text arrives, `TurnFinished` once the turn is
assembled; if the model asked for tools, one `ToolCallStarted` per call (in call order; `early` is
True for a read-only tool that already started while the answer streamed) then one
`ToolResultEvent` per call as each tool finishes (a fast tool's before a slow one's; the history in
`session.messages` keeps call order). The run ends with one `SessionFinished`.

    for event in session.stream("Weather in Paris?"):
        match event:
            case TextDelta(text=text): print(text, end="")
            case ToolCallStarted(call=call): print(f"\\n-> {call.name}({call.arguments})")
            case ToolResultEvent(result=result): print(f"<- {result.output_text()[:80]}")
            case SessionFinished(response=response): print("\\ndone:", response.usage)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeAlias

from .types import GenerateResponse, ToolCall, ToolResult

__all__ = [
    "SessionEvent",
    "SessionFinished",
    "TextDelta",
    "ToolCallStarted",
    "ToolResultEvent",
    "TurnFinished",
]


@dataclass(frozen=True)
class TextDelta:
    """A piece of the model's text, as streamed."""

    text: str
    type: ClassVar[str] = "text_delta"


@dataclass(frozen=True)
class ToolCallStarted:
    """A tool call the model asked for is about to run (emitted for every call before the batch).

    `early`: the call's tool is read-only and already started while the model was still answering
    (see `toolwire.tools.early`)."""

    call: ToolCall
    early: bool = False
    type: ClassVar[str] = "tool_call_started"


@dataclass(frozen=True)
class ToolResultEvent:
    """The result of one call (`result.error` is set when it failed, was denied or timed out),
    emitted when that call finished. `started_at` / `finished_at`: wall-clock seconds
    (`time.time()`) when the tool started and ended (for a call that never ran, both are when it
    was turned down)."""

    result: ToolResult
    started_at: float | None = None
    finished_at: float | None = None
    type: ClassVar[str] = "tool_result"


@dataclass(frozen=True)
class TurnFinished:
    """One model turn is complete; `turn` counts from 1 within this run."""

    response: GenerateResponse
    turn: int
    type: ClassVar[str] = "turn_finished"


@dataclass(frozen=True)
class SessionFinished:
    """The model answered without tool calls: `response` is the final answer."""

    response: GenerateResponse
    type: ClassVar[str] = "session_finished"


SessionEvent: TypeAlias = "TextDelta | ToolCallStarted | ToolResultEvent | TurnFinished | SessionFinished"
