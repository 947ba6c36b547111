#!/usr/bin/env python3
"""A small deterministic fake of OpenAI's Chat Completions AND Responses APIs, for the Responses
benchmark (benchmarks/bench_responses.py) and the offline CLI test. Standard library only,
loopback only, HTTP/1.1 keep-alive. The idea follows ../shared/bench/fake_openai_server.py (which
speaks Chat Completions only); nothing is copied from it.

  POST /v1/chat/completions   tools and no `tool` message last: 3 tool calls, else a text answer
  POST /v1/responses          tools and no `function_call_output` item last: 3 `function_call`
                              items (a `reasoning` item first when `reasoning` is asked), else a
                              `message` item; `stream: true` gives the event sequence OpenAI sends
                              (response.created, output_item.added, function_call_arguments.delta
                              ×n, .done, output_item.done, …, response.completed)
  GET  /_stats                {"requests": n, "connections": n}

Each call's arguments fill the tool's required parameters with simple values from its schema.
Run: python fake_responses_server.py --port 0 --port-file /tmp/port
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path
from typing import Any

CALLS = 3
STATS = {"requests": 0, "connections": 0}


def _value(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        return schema["enum"][0]
    return {"integer": 7, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(str(kind), "Paris")


def _arguments(tool: dict[str, Any]) -> str:
    params = tool.get("parameters") or (tool.get("function") or {}).get("parameters") or {}
    props = params.get("properties") or {}
    return json.dumps({name: _value(props.get(name, {})) for name in params.get("required") or props})


def _function_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body.get("tools") or () if t.get("type") == "function"]


def _name(tool: dict[str, Any]) -> str:
    return str(tool.get("name") or tool["function"]["name"])


# -- Chat Completions ------------------------------------------------------------------------------
def chat(body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    tools = _function_tools(body)
    messages = body.get("messages") or []
    wants_tools = bool(tools) and messages and messages[-1].get("role") != "tool"
    usage = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}
    base = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": body.get("model")}
    if wants_tools:
        calls = [
            {
                "id": f"call_fake{i}",
                "type": "function",
                "function": {
                    "name": _name(tools[i % len(tools)]),
                    "arguments": _arguments(tools[i % len(tools)]),
                },
            }
            for i in range(CALLS)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": calls}
        finish = "tool_calls"
    else:
        message, finish, calls = {"role": "assistant", "content": "Done."}, "stop", []
    full = {**base, "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}
    chunks: list[dict[str, Any]] = []
    chunk = {**base, "object": "chat.completion.chunk"}
    chunks.append({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
    for i, call in enumerate(calls):
        head = {
            "index": i,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        chunks.append(
            {**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [head]}, "finish_reason": None}]}
        )
        for piece in _pieces(call["function"]["arguments"]):
            delta = {"tool_calls": [{"index": i, "function": {"arguments": piece}}]}
            chunks.append({**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    if not calls:
        chunks.append(
            {**chunk, "choices": [{"index": 0, "delta": {"content": "Done."}, "finish_reason": None}]}
        )
    chunks.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    chunks.append({**chunk, "choices": [], "usage": usage})
    return full, chunks


def _pieces(text: str) -> list[str]:
    # token-like fragments, as the real service streams arguments
    return re.findall(r'[{}\[\]:,]|"[^"]*"|[^{}\[\]:,"]+', text) or [text]


# -- Responses -------------------------------------------------------------------------------------
def responses(body: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    tools = _function_tools(body)
    items = body.get("input") or []
    last = items[-1] if isinstance(items, list) and items else {}
    wants_tools = bool(tools) and last.get("type") != "function_call_output"
    output: list[dict[str, Any]] = []
    if body.get("reasoning") is not None:
        output.append(
            {"id": "rs_fake", "type": "reasoning", "summary": [], "encrypted_content": "gAAAAAfake" * 8}
        )
    if wants_tools:
        for i in range(CALLS):
            tool = tools[i % len(tools)]
            output.append(
                {
                    "id": f"fc_fake{i}",
                    "type": "function_call",
                    "status": "completed",
                    "arguments": _arguments(tool),
                    "call_id": f"call_fake{i}",
                    "name": _name(tool),
                }
            )
    else:
        text = {"type": "output_text", "annotations": [], "logprobs": [], "text": "Done."}
        output.append(
            {
                "id": "msg_fake",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [text],
            }
        )
    full = {
        "id": "resp_fake",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "model": body.get("model"),
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "usage": {
            "input_tokens": 50,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 70,
        },
    }
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": {**full, "status": "in_progress", "output": [], "usage": None},
        },
        {
            "type": "response.in_progress",
            "response": {**full, "status": "in_progress", "output": [], "usage": None},
        },
    ]
    for index, item in enumerate(output):
        if item["type"] == "function_call":
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {**item, "arguments": "", "status": "in_progress"},
                }
            )
            for piece in _pieces(item["arguments"]):
                events.append(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": item["id"],
                        "output_index": index,
                        "delta": piece,
                    }
                )
            events.append(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item["id"],
                    "output_index": index,
                    "arguments": item["arguments"],
                }
            )
        elif item["type"] == "message":
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {**item, "content": [], "status": "in_progress"},
                }
            )
            events.append(
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "content_index": 0,
                    "delta": "Done.",
                }
            )
        else:
            events.append({"type": "response.output_item.added", "output_index": index, "item": item})
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    events.append({"type": "response.completed", "response": full})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return full, events


# -- HTTP ------------------------------------------------------------------------------------------
async def _respond(writer: asyncio.StreamWriter, status: int, payload: bytes, content_type: str) -> None:
    head = (
        f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(payload)}\r\nx-request-id: req_fake\r\n\r\n"
    )
    writer.write(head.encode() + payload)
    await writer.drain()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    STATS["connections"] += 1
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            method, path, _ = line.decode().split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            raw = await reader.readexactly(int(headers.get("content-length", "0") or 0))
            STATS["requests"] += 1
            path = path.split("?", 1)[0]
            if method == "GET" and path == "/_stats":
                await _respond(writer, 200, json.dumps(STATS).encode(), "application/json")
                continue
            body = json.loads(raw or b"{}")
            if path.endswith("/responses"):
                full, events = responses(body)
                sse = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
            elif path.endswith("/chat/completions"):
                full, events = chat(body)
                sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
            else:
                await _respond(writer, 404, b'{"error":{"message":"not found"}}', "application/json")
                continue
            if body.get("stream"):
                await _respond(writer, 200, sse.encode(), "text/event-stream")
            else:
                await _respond(writer, 200, json.dumps(full).encode(), "application/json")
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def main(port: int, port_file: Path | None) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    if port_file is not None:
        port_file.write_text(str(bound))  # noqa: ASYNC240 (once, before serving)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.port_file))
