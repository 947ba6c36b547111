"""Scripted streams for early-start tests: one tool-call turn per provider wire, split at the point
where the provider has signalled that the first call is complete, so a test can pause the stream
there (the test owns the clock through events) and then let the rest through.

A turn: `calls` = [(id, name, arguments dict)]; `finish` = "tool_calls" or "length".
Each script returns `(head, tail)` byte lists: `head` ends right after call 0's "done" signal.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Call = tuple[str, str, dict[str, Any]]
Script = Callable[[list[Call], str], tuple[list[bytes], list[bytes]]]


def _data(payload: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(payload)}\n\n".encode()


# -- Chat Completions (OpenAI, Azure, compatible servers): call 0 is done when call 1 opens ---------
def chat(calls: list[Call], finish: str) -> tuple[list[bytes], list[bytes]]:
    base = {"id": "chatcmpl-early", "object": "chat.completion.chunk", "model": "gpt-test"}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
        return _data({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]})

    parts: list[list[bytes]] = []
    for index, (call_id, name, args) in enumerate(calls):
        text = json.dumps(args)
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        parts.append(
            [
                chunk({"tool_calls": [head]}),
                chunk({"tool_calls": [{"index": index, "function": {"arguments": text[:3]}}]}),
                chunk({"tool_calls": [{"index": index, "function": {"arguments": text[3:]}}]}),
            ]
        )
    end = [chunk({}, finish), b"data: [DONE]\n\n"]
    # call 0 is reported by the chunk that opens call 1
    return parts[0] + parts[1][:1], parts[1][1:] + [p for group in parts[2:] for p in group] + end


def chat_text(text: str) -> bytes:
    base = {"id": "chatcmpl-final", "object": "chat.completion.chunk", "model": "gpt-test"}
    return b"".join(
        [
            _data({**base, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}),
            _data({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            b"data: [DONE]\n\n",
        ]
    )


# -- Mistral: whole calls in one delta each (no index), same "next call" signal ----------------------
def mistral(calls: list[Call], finish: str) -> tuple[list[bytes], list[bytes]]:
    base = {"id": "mistral-early", "object": "chat.completion.chunk", "model": "mistral-test"}

    def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
        return _data({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]})

    whole = [
        chunk({"tool_calls": [{"id": i, "function": {"name": n, "arguments": json.dumps(a)}, "index": k}]})
        for k, (i, n, a) in enumerate(calls)
    ]
    return whole[:2], [*whole[2:], chunk({}, finish), b"data: [DONE]\n\n"]


# -- Anthropic Messages: content_block_stop ends a tool_use block ---------------------------------
def _anthropic_start() -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_early",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    }
    return _data(start, "message_start")


def anthropic(calls: list[Call], finish: str) -> tuple[list[bytes], list[bytes]]:
    blocks: list[list[bytes]] = []
    for index, (call_id, name, args) in enumerate(calls):
        text = json.dumps(args)
        blocks.append(
            [
                _data(
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "tool_use", "id": call_id, "name": name, "input": {}},
                    },
                    "content_block_start",
                ),
                _data(
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": text},
                    },
                    "content_block_delta",
                ),
                _data({"type": "content_block_stop", "index": index}, "content_block_stop"),
            ]
        )
    reason = "tool_use" if finish == "tool_calls" else "max_tokens"
    end = [
        _data(
            {"type": "message_delta", "delta": {"stop_reason": reason}, "usage": {"output_tokens": 20}},
            "message_delta",
        ),
        _data({"type": "message_stop"}, "message_stop"),
    ]
    return [_anthropic_start(), *blocks[0]], [b for group in blocks[1:] for b in group] + end


def anthropic_text(text: str) -> bytes:
    return b"".join(
        [
            _anthropic_start(),
            _data(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            ),
            _data(
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
                "content_block_delta",
            ),
            _data({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _data(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn"},
                    "usage": {"output_tokens": 3},
                },
                "message_delta",
            ),
            _data({"type": "message_stop"}, "message_stop"),
        ]
    )


# -- Gemini: a functionCall part that does not continue is a complete call ------------------------
def gemini(calls: list[Call], finish: str) -> tuple[list[bytes], list[bytes]]:
    def event(parts: list[dict[str, Any]], reason: str | None) -> bytes:
        candidate: dict[str, Any] = {"index": 0, "content": {"role": "model", "parts": parts}}
        if reason:
            candidate["finishReason"] = reason
        return _data({"candidates": [candidate], "modelVersion": "gemini-test", "responseId": "resp-early"})

    events = [event([{"functionCall": {"id": i, "name": n, "args": a}}], None) for i, n, a in calls]
    reason = "STOP" if finish == "tool_calls" else "MAX_TOKENS"
    return events[:1], [*events[1:], event([], reason)]


def gemini_text(text: str) -> bytes:
    return _data(
        {
            "candidates": [
                {"index": 0, "content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
            ],
            "modelVersion": "gemini-test",
            "responseId": "resp-final",
        }
    )


# -- Responses: response.function_call_arguments.done ends a call -------------------------------------
def responses(calls: list[Call], finish: str) -> tuple[list[bytes], list[bytes]]:
    created = {
        "id": "resp_early",
        "object": "response",
        "status": "in_progress",
        "model": "gpt-test",
        "output": [],
    }
    items: list[list[bytes]] = []
    final_items = []
    for index, (call_id, name, args) in enumerate(calls):
        text = json.dumps(args)
        item = {
            "type": "function_call",
            "id": f"fc_{index}",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        done_item = {**item, "arguments": text, "status": "completed"}
        final_items.append(done_item)
        items.append(
            [
                _data({"type": "response.output_item.added", "output_index": index, "item": item}),
                _data(
                    {
                        "type": "response.function_call_arguments.delta",
                        "output_index": index,
                        "item_id": item["id"],
                        "delta": text,
                    }
                ),
                _data(
                    {
                        "type": "response.function_call_arguments.done",
                        "output_index": index,
                        "item_id": item["id"],
                        "arguments": text,
                    }
                ),
                _data({"type": "response.output_item.done", "output_index": index, "item": done_item}),
            ]
        )
    final: dict[str, Any] = {**created, "output": final_items}
    if finish == "tool_calls":
        kind, final["status"] = "response.completed", "completed"
    else:
        kind, final["status"] = "response.incomplete", "incomplete"
        final["incomplete_details"] = {"reason": "max_output_tokens"}
    final["usage"] = {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}
    head = [_data({"type": "response.created", "response": created}), *items[0][:3]]
    tail = (
        items[0][3:] + [b for group in items[1:] for b in group] + [_data({"type": kind, "response": final})]
    )
    return head, tail


def responses_text(text: str) -> bytes:
    message = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    final = {
        "id": "resp_final",
        "object": "response",
        "status": "completed",
        "model": "gpt-test",
        "output": [message],
    }
    final["usage"] = {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
    return b"".join(
        [
            _data(
                {"type": "response.output_item.added", "output_index": 0, "item": {**message, "content": []}}
            ),
            _data(
                {"type": "response.output_text.delta", "output_index": 0, "item_id": "msg_1", "delta": text}
            ),
            _data({"type": "response.output_item.done", "output_index": 0, "item": message}),
            _data({"type": "response.completed", "response": final}),
        ]
    )


# provider name, create() keyword arguments, tool-turn script, final text turn
WIRES: dict[str, tuple[str, dict[str, Any], Script, Callable[[str], bytes]]] = {
    "chat_completions": ("openai", {"model": "gpt-test"}, chat, chat_text),
    "mistral": ("mistral", {"model": "mistral-test"}, mistral, chat_text),
    "anthropic": ("anthropic", {"model": "claude-test"}, anthropic, anthropic_text),
    "gemini": ("gemini", {"model": "gemini-test"}, gemini, gemini_text),
    "responses": ("openai", {"model": "gpt-test", "api": "responses"}, responses, responses_text),
}
