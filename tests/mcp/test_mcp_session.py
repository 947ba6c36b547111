"""A Session on the fake provider servers calls two tools of one MCP server and a local function in
one turn, concurrently; the results reach the model under the right call ids. Sync (OpenAI wire)
and async (Anthropic wire)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from mcp_support import DEMO, PAGED

from support.fault_server import FaultServer, Reply, fault_server
from toolwire import AbstractLLM, Session
from toolwire.mcp import MCPToolset

pytest.importorskip("mcp")


def local_stamp(label: str, seconds: float) -> str:
    """A local tool: `label started ended`, like the server's stamp tool."""
    started = time.time()
    time.sleep(seconds)
    return f"{label} {started} {time.time()}"


CALLS = [
    ("call_mcp_slow", "slow", {"seconds": 0.4}),
    ("call_mcp_stamp", "stamp", {"label": "remote", "seconds": 0.4}),
    ("call_local", "local_stamp", {"label": "local", "seconds": 0.4}),
]


def _openai_turn() -> dict[str, Any]:
    return {
        "id": "chatcmpl-mcp",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                        for i, n, a in CALLS
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _openai_text() -> dict[str, Any]:
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "done"}, "finish_reason": "stop"}
        ],
    }


def _anthropic_turn() -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [
            {"type": "tool_use", "id": i.replace("call", "toolu"), "name": n, "input": a} for i, n, a in CALLS
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def _anthropic_text() -> dict[str, Any]:
    return {
        "id": "msg_2",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [{"type": "text", "text": "done"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 20, "output_tokens": 2},
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FaultServer]:
    with fault_server() as server:
        yield server


def _intervals(outputs: dict[str, str]) -> list[tuple[float, float]]:
    slow = json.loads(outputs["slow"])
    spans = [(slow["started"], slow["ended"])]
    for key in ("stamp", "local_stamp"):
        _, started, ended = outputs[key].split()
        spans.append((float(started), float(ended)))
    return spans


def _assert_concurrent(spans: list[tuple[float, float]]) -> None:
    # every call started before any of them ended: they ran at the same time
    assert max(s for s, _ in spans) < min(e for _, e in spans), spans


def test_session_sync_two_mcp_tools_and_a_local_function(fake: FaultServer) -> None:
    fake.script = [Reply(body=_openai_turn()), Reply(body=_openai_text())]
    llm = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="k", base_url=f"{fake.url}/v1")
    with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        session = Session(llm, tools=[server, local_stamp])
        response = session.generate("stamp things")
    assert response.content == "done"
    follow_up = fake.seen[1].body
    tool_messages = {m["tool_call_id"]: m["content"] for m in follow_up["messages"] if m["role"] == "tool"}
    assert set(tool_messages) == {"call_mcp_slow", "call_mcp_stamp", "call_local"}
    sent_tools = {t["function"]["name"] for t in fake.seen[0].body["tools"]}
    assert {"slow", "stamp", "files_read", "local_stamp"} <= sent_tools
    assert tool_messages["call_mcp_stamp"].startswith("remote ")
    assert tool_messages["call_local"].startswith("local ")
    outputs = {
        "slow": tool_messages["call_mcp_slow"],
        "stamp": tool_messages["call_mcp_stamp"],
        "local_stamp": tool_messages["call_local"],
    }
    _assert_concurrent(_intervals(outputs))


async def test_session_async_two_mcp_tools_and_a_local_function(fake: FaultServer) -> None:
    fake.script = [Reply(body=_anthropic_turn()), Reply(body=_anthropic_text())]
    llm = AbstractLLM.create("anthropic", model="claude-haiku-4-5", api_key="k", base_url=fake.url)
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        session = Session(llm, tools=[server, local_stamp])
        response = await session.agenerate("stamp things")
    assert response.content == "done"
    follow_up = fake.seen[1].body
    results = {
        block["tool_use_id"]: block
        for message in follow_up["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    }
    assert set(results) == {"toolu_mcp_slow", "toolu_mcp_stamp", "toolu_local"}
    assert not any(block.get("is_error") for block in results.values())

    def text(block: dict[str, Any]) -> str:
        content = block["content"]
        return content if isinstance(content, str) else "".join(part["text"] for part in content)

    outputs = {
        "slow": text(results["toolu_mcp_slow"]),
        "stamp": text(results["toolu_mcp_stamp"]),
        "local_stamp": text(results["toolu_local"]),
    }
    _assert_concurrent(_intervals(outputs))


def _anthropic_calls(calls: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    turn = _anthropic_turn()
    turn["content"] = [{"type": "tool_use", "id": i, "name": n, "input": a} for i, n, a in calls]
    return turn


async def test_session_async_is_error_and_slow_tool_past_timeout(fake: FaultServer) -> None:
    calls = [("toolu_fail", "fail", {"reason": "disk full"}), ("toolu_slow", "slow", {"seconds": 30})]
    fake.script = [Reply(body=_anthropic_calls(calls)), Reply(body=_anthropic_text())]
    llm = AbstractLLM.create("anthropic", model="claude-haiku-4-5", api_key="k", base_url=fake.url)
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        session = Session(llm, tools=server, tool_timeout=0.5)
        response = await session.agenerate("go")
        assert await server.acall("add", {"a": 1, "b": 1}) == {"result": 2}  # still usable
    assert response.content == "done"
    blocks = {
        block["tool_use_id"]: block
        for message in fake.seen[1].body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    }
    assert blocks["toolu_fail"]["is_error"] is True and "disk full" in json.dumps(blocks["toolu_fail"])
    assert blocks["toolu_slow"]["is_error"] is True and "timed out" in json.dumps(blocks["toolu_slow"])


def test_session_sync_crash_then_pinning(fake: FaultServer) -> None:
    turn = _openai_turn()
    message = turn["choices"][0]["message"]
    message["tool_calls"] = [
        {"id": "call_crash", "type": "function", "function": {"name": "crash", "arguments": "{}"}}
    ]
    fake.script = [Reply(body=turn), Reply(body=_openai_text())]
    llm = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="k", base_url=f"{fake.url}/v1")
    with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        Session(llm, tools=[server]).generate("crash it")
        crashed = next(m for m in fake.seen[1].body["messages"] if m["role"] == "tool")
        assert crashed["tool_call_id"] == "call_crash" and "MCPConnectionError" in crashed["content"]
        server.call("rug_pull")  # the server changes `add`; the next turn's call is refused, named
        # the server announces the change (on the restarted connection's subscription) before it
        # answers; the toolset's listener task may still run just after the call returns: wait for
        # it, as the model's next turn would take far longer in a real conversation
        deadline = time.monotonic() + 5
        while not any(t.name == "add" and t.pin_change for t in server.tools):
            assert time.monotonic() < deadline, "the toolset never saw the server's list_changed"
            time.sleep(0.02)
        message["tool_calls"] = [
            {
                "id": "call_add",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
            }
        ]
        fake.script = [Reply(body=turn), Reply(body=_openai_text())]
        Session(llm, tools=[server]).generate("add")
        refused = next(m for m in fake.seen[1].body["messages"] if m["role"] == "tool")
        assert "changed since it was approved" in refused["content"] and "id_rsa" in refused["content"]
        assert server.restarts == 1


def test_session_sends_an_mcp_image_to_the_model(fake: FaultServer) -> None:
    fake.script = [
        Reply(body=_anthropic_calls([("toolu_pic", "snapshot", {})])),
        Reply(body=_anthropic_text()),
    ]
    llm = AbstractLLM.create("anthropic", model="claude-haiku-4-5", api_key="k", base_url=fake.url)
    with MCPToolset.stdio(sys.executable, [str(PAGED)]) as server:
        assert Session(llm, tools=[server]).generate("picture?").content == "done"
    [result] = [
        block
        for message in fake.seen[1].body["messages"]
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    # Anthropic: the text parts in one block, then the image (the SVG could not be sent: a note)
    assert [part["type"] for part in result["content"]] == ["text", "image"]
    assert result["content"][0]["text"].startswith("the picture:\n[image omitted: image/svg+xml")
    assert result["content"][1]["source"]["media_type"] == "image/png"
