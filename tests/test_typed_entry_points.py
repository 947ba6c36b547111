"""The first lines a user writes are typed: `AbstractLLM.create(name)` is that provider's class,
`generate` answers a `GenerateResponse` (a stream with `stream=True`), `finish_reason` is a
`FinishReason`, streamed tool calls are `ToolCallDelta`s."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from toolwire.providers.anthropic import normalize_stop_reason, parse_message
from toolwire.providers.openai import parse_chat_completion
from toolwire.types import StreamChunk, ToolCallDelta

SRC = Path(__file__).resolve().parents[1] / "src"

USER_SCRIPT = """
from typing_extensions import assert_type

from toolwire import AbstractLLM, AsyncStream, GenerateResponse, Stream
from toolwire.providers.openai import OpenAIProvider
from toolwire.types import FinishReason, ToolCallDelta


def sync_user() -> None:
    llm = AbstractLLM.create("openai", model="gpt-4o-mini")
    assert_type(llm, OpenAIProvider)
    resp = llm.generate("hi")
    assert_type(resp, GenerateResponse)
    assert_type(resp.finish_reason, FinishReason | None)
    stream = llm.generate("hi", stream=True)
    assert_type(stream, Stream)
    for chunk in stream:
        for delta in chunk.tool_calls or []:
            assert_type(delta, ToolCallDelta)
    print(resp.contnet)  # the typo mypy must report


async def async_user() -> None:
    llm = AbstractLLM.create("anthropic", model="claude-sonnet-4-5")
    assert_type(await llm.agenerate("hi"), GenerateResponse)
    assert_type(await llm.agenerate("hi", stream=True), AsyncStream)
"""

# The rest of API.md as a user with `mypy --strict` writes it: code typed against the interface, the
# message forms it promises, Session and its events, the tool helpers, batch. No error expected.
API_SCRIPT = """
from typing import Any

from toolwire import (
    AbstractLLMInterface, BaseProvider, Image, Message, Session, SessionFinished, TextDelta,
    ToolCall, ToolCallRequest, ToolCallStarted, ToolDefinition, ToolResult, ToolResultEvent,
    TurnFinished, aexecute_tool_calls, batch, execute_tool_calls, function_to_tool_definition,
    standardize_tool_response, tool,
)
from toolwire.errors import MaxTurnsExceeded, ProviderError, RateLimitError


@tool
def plain_tool(x: int) -> int:
    return x


@tool(name="other", description="d", strict=True, read_only=True)
def named_tool(x: int) -> int:
    return x


def takes_any_provider(llm: AbstractLLMInterface, base: BaseProvider, flag: bool) -> None:
    assert_type(plain_tool(1), int)
    assert_type(named_tool(1), int)
    assert_type(llm.generate("hi"), GenerateResponse)
    assert_type(llm.generate("hi", stream=True), Stream)
    assert_type(llm.generate("hi", stream=flag), GenerateResponse | Stream)
    assert_type(base.generate("hi", tools=[plain_tool]), GenerateResponse)
    assert_type(AbstractLLM.create("plugin_" + "name").generate("hi", stream=True), Stream)
    assert_type(AbstractLLM.create("openai", model="m", api="responses").generate("hi"), GenerateResponse)
    response = llm.generate("hi")
    if response.tool_calls is not None:
        first: ToolCall = response.tool_calls[0]
        count: int = len(response.tool_calls)
        every: list[ToolCall] = [call for call in response.tool_calls]
    usage: dict[str, int] | None = response.usage
    answer: Message = response.to_message()
    Message(role="tool", tool_results=[{"call_id": "c", "name": "f", "output": "x"}])
    Message(role="tool", tool_results=[ToolResult(call_id="c", name="f", output="x", error=None)])
    Message(role="user", content=["What is on this chart?", Image(data=b"x", media_type="image/png")])
    Message(role="assistant", tool_calls=response.tool_calls)
    ok: bool = ToolResult("c", "f").success
    definition: ToolDefinition = function_to_tool_definition(plain_tool)
    neutral: dict[str, Any] = definition.to_dict()
    calls: ToolCallRequest = standardize_tool_response({"choices": []}, "openai")
    results: list[ToolResult] = execute_tool_calls(calls, [plain_tool], timeout=1.0)
    session = Session(llm, tools=[plain_tool], system_prompt=None, max_turns=3, tool_timeout=1.0)
    assert_type(session.generate("hi"), GenerateResponse)
    history: list[Message] = session.messages
    for event in session.stream("hi"):
        if isinstance(event, ToolCallStarted):
            started: ToolCall = event.call
        elif isinstance(event, ToolResultEvent):
            result: ToolResult = event.result
        elif isinstance(event, TurnFinished):
            turn: int = event.turn
            turn_response: GenerateResponse = event.response
        elif isinstance(event, SessionFinished):
            final: GenerateResponse = event.response
        elif isinstance(event, TextDelta):
            pass
    session.llm = AbstractLLM.create("anthropic", model="claude-sonnet-4-5")
    outcomes = batch.run(llm, ["a", {"messages": "b", "temperature": 0.1}], tools=[plain_tool], concurrency=4)
    job = batch.submit(llm, ["a"], tools=None)
    job.refresh()
    job.wait(poll_interval=60.0, timeout=None)
    submitted = job.results()
    try:
        pass
    except RateLimitError as exc:
        wait: float | None = exc.retry_after
    except ProviderError as exc:
        details = (exc.provider, exc.status_code, exc.request_id, exc.body)
    except MaxTurnsExceeded as exc:
        kept: list[Message] = exc.messages


async def takes_any_provider_async(llm: AbstractLLMInterface) -> None:
    assert_type(await llm.agenerate("hi"), GenerateResponse)
    stream = await llm.agenerate("hi", stream=True)
    assert_type(stream, AsyncStream)
    async for chunk in stream:
        text: str | None = chunk.content
    assert_type(stream.response, GenerateResponse)
    results: list[ToolResult] = await aexecute_tool_calls([], [plain_tool], timeout=None)
    session = Session(llm, tools=[plain_tool])
    assert_type(await session.agenerate("hi"), GenerateResponse)
    async for event in session.astream("hi"):
        pass
    outcomes = await batch.arun(llm, ["a"])
"""


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_strict_sees_the_types_of_a_user_script(tmp_path: Path) -> None:
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(USER_SCRIPT) + textwrap.dedent(API_SCRIPT))
    env = {**os.environ, "MYPYPATH": str(SRC), "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            os.devnull,
            "--python-version",
            f"{sys.version_info.major}.{sys.version_info.minor}",
            str(script),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    # exactly one error: the misspelt attribute; every assert_type held
    assert len(errors) == 1, result.stdout + result.stderr
    assert '"GenerateResponse" has no attribute "contnet"' in errors[0]


def test_stream_chunks_carry_typed_tool_call_deltas() -> None:
    function = {"name": "f", "arguments": ""}
    openai_shaped = {"index": 1, "id": "call_1", "type": "function", "function": function}
    flat = {"index": 0, "id": "c0", "name": "g", "arguments": '{"a": 1}'}
    fragment = {"index": 1, "function": {"arguments": '{"x"'}}
    chunk = StreamChunk(tool_call_deltas=[openai_shaped, flat, fragment])
    assert chunk.tool_calls == [
        ToolCallDelta(index=1, id="call_1", name="f", arguments=""),
        ToolCallDelta(index=0, id="c0", name="g", arguments='{"a": 1}'),
        ToolCallDelta(index=1, id=None, name=None, arguments='{"x"'),
    ]
    # the deprecated dicts stay as the provider sent them, for one release
    assert chunk.tool_call_deltas == [openai_shaped, flat, fragment]
    # Mistral-style whole calls without an index take their position; Ollama's argument objects
    # become their JSON text
    whole = StreamChunk(tool_call_deltas=[{"id": "a", "function": {"name": "h", "arguments": {"k": "v"}}}])
    assert whole.tool_calls == [ToolCallDelta(index=0, id="a", name="h", arguments='{"k": "v"}')]
    assert StreamChunk(content="x").tool_calls is None


def _completion(reason: str) -> dict[str, object]:
    return {
        "id": "chatcmpl-1",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": reason}],
    }


def test_an_unknown_finish_reason_reads_stop_and_keeps_the_raw_value() -> None:
    resp = parse_chat_completion(_completion("abort"), provider="openai_compatible")
    assert resp.finish_reason == "stop"
    assert resp.provider_data == {"openai_compatible": {"finish_reason": "abort"}}
    known = parse_chat_completion(_completion("max_tokens"), provider="openai")
    assert known.finish_reason == "length"
    assert known.provider_data is None


def test_an_unknown_anthropic_stop_reason_reads_stop_and_keeps_the_raw_value() -> None:
    assert normalize_stop_reason("some_future_reason", False) == "stop"
    assert normalize_stop_reason("some_future_reason", True) == "tool_calls"
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": "some_future_reason",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    resp = parse_message(message)
    assert resp.finish_reason == "stop"
    assert resp.provider_data == {"anthropic": {"stop_reason": "some_future_reason"}}
