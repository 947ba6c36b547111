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


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed")
def test_mypy_strict_sees_the_types_of_a_user_script(tmp_path: Path) -> None:
    script = tmp_path / "user_script.py"
    script.write_text(textwrap.dedent(USER_SCRIPT))
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
