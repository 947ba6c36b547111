"""Recorded conversations without a server: the recorder's observer hooks driven as a `Session`
drives them, each turn sending the whole history so far (shared by tests/test_recorder_history.py
and benchmarks/bench_recorder.py; it uses only APIs that schema-1 toolwire had, so the same code
made tests/fixtures/recorder_schema1.sql with the toolwire of that time)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from toolwire import AbstractLLM, Image, Message, _instrument
from toolwire.providers.base import ChatRequest
from toolwire.tools.definition import ToolDefinition
from toolwire.types import GenerateResponse, ToolCall, ToolCallRequest, ToolResult


def _png() -> bytes:
    """A valid 2x2 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([9, 80, 160] * 2) for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png()
KEYS = {
    "openai": "sk-proj-HISTORYsecret0123456789abcdef",
    "anthropic": "sk-ant-api03-HISTORYsecret0123456789abcdef",
    "gemini": "AIzaSyHISTORYsecret0123456789abcdefghi",
}
TOOL = ToolDefinition(
    name="lookup",
    description="Look a word up.",
    parameters={"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]},
)


def provider(name: str) -> Any:
    return AbstractLLM.create(name, api_key=KEYS[name], model=f"{name}-model")


def turn_messages(turn: int, width: int = 60, *, image: bool = False, odd: bool = True) -> list[Message]:
    """One turn's worth of history: the assistant's tool call and its result (with odd values a
    recorder must keep: NaN, a lone surrogate, the provider's key echoed back, an image; `odd=False`
    leaves out the first two, which send the whole row down the recorder's slow fallbacks)."""
    text = f"turn {turn}: " + "lorem ipsum dolor sit amet " * max(1, width // 27)
    arguments: dict[str, Any] = {"word": f"w{turn}", "score": float("nan") if odd else 0.5}
    call = ToolCall.from_raw(f"call_{turn}", "lookup", arguments)
    output: Any = {"text": text, "odd": "\ud800" if odd else "", "key": KEYS["openai"]}
    if image:
        output = [text, Image(data=PNG)]
    return [
        Message(role="assistant", content=f"thinking about {turn}", tool_calls=[call]),
        Message(role="tool", tool_results=[ToolResult(call_id=call.id, name="lookup", output=output)]),
    ]


def chat(llm: Any, history: list[Message], turn: int) -> None:
    """One model call as the recorder sees it: started, then finished with a tool call."""
    request = ChatRequest(messages=list(history), model=llm.model, tools=(TOOL,))
    record = _instrument.call_started(llm, request)
    if hasattr(_instrument, "call_sent"):  # as BaseProvider.generate hands the recorder the body it sent
        _instrument.call_sent(record, llm._http_call(request, {}).body)
    call = ToolCall.from_raw(f"call_{turn}", "lookup", {"word": f"w{turn}"})
    response = GenerateResponse(
        content=None,
        tool_calls=ToolCallRequest([call]),
        usage={"prompt_tokens": 10 * turn, "completion_tokens": 3, "total_tokens": 10 * turn + 3},
        model=llm.model,
        finish_reason="tool_calls",
        raw_response={"id": f"resp-{turn}"},
    )
    _instrument.call_finished(record, response, None)


def conversation(conversation_id: str, providers: list[str], turns: int) -> None:
    """`turns` calls in one conversation, cycling through `providers` (a history switched mid-way),
    with an image in the first user message and in one tool result."""
    llms = [provider(name) for name in providers]
    history = [
        Message(role="system", content="Answer briefly."),
        Message(role="user", content=["Look these words up", Image(data=PNG)]),
    ]
    with _instrument.conversation(conversation_id):
        for turn in range(turns):
            chat(llms[turn % len(llms)], history, turn)
            history.extend(turn_messages(turn, image=turn == 1))
