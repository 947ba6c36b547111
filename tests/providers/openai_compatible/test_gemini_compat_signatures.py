"""Gemini's OpenAI-compatible endpoint (issue 16 item 19): the thought signature it returns in
`extra_content.google.thought_signature` is kept and sent back, as Gemini 3 requires on function
calls (https://ai.google.dev/gemini-api/docs/thought-signatures); OpenAI itself never gets it."""

from __future__ import annotations

import json
from typing import Any

from support.openai_family import replay_conversation
from support.replay import fixture_path, load_cassette
from toolwire import AbstractLLM, Message
from toolwire._framing import SSEEvent
from toolwire.providers.base import ChatRequest
from toolwire.providers.openai import ChatCompletionStreamState, parse_chat_completion
from toolwire.types import ToolResult

SIGNATURE = "CiQBcsjafF2gE3xYv0nAJ1s1z9Vw5v2fN0Uu1l2g4JgQm9A+Zr8="
# the documented shape: each tool call of a Gemini 3 turn carries its own signature
RESPONSE = {
    "id": "resp-1",
    "model": "gemini-3-flash-preview",
    "choices": [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "message": {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "function-call-1",
                        "type": "function",
                        "function": {"name": "check_flight", "arguments": '{"flight": "AA100"}'},
                        "extra_content": {"google": {"thought_signature": SIGNATURE}},
                    }
                ],
            },
        }
    ],
}


def compatible() -> Any:
    return AbstractLLM.create(
        "openai_compatible",
        base_url="https://generativelanguage.googleapis.com/v1beta/openai",
        api_key="AIza-test",
        model="gemini-3-flash-preview",
    )


def next_request(llm: Any, assistant: Message) -> dict[str, Any]:
    history = [
        Message(role="user", content="Is AA100 on time?"),
        assistant,
        Message(
            role="tool",
            tool_results=[
                ToolResult(call_id=c.id, name=c.name, output="on time") for c in assistant.tool_calls or []
            ],
        ),
    ]
    body: dict[str, Any] = llm.build_body(ChatRequest(messages=history, model=llm.model))
    return body


def test_a_tool_call_signature_is_kept_and_sent_back() -> None:
    response = parse_chat_completion(RESPONSE, provider="openai_compatible")
    [call] = response.tool_calls or []
    assert call.provider_data == {
        "openai_compatible": {"extra_content": {"google": {"thought_signature": SIGNATURE}}}
    }
    body = next_request(compatible(), response.to_message())
    [sent] = body["messages"][1]["tool_calls"]
    assert sent["extra_content"] == {"google": {"thought_signature": SIGNATURE}}
    assert sent["id"] == "function-call-1" and json.loads(sent["function"]["arguments"]) == {
        "flight": "AA100"
    }


def test_openai_never_receives_the_field() -> None:
    response = parse_chat_completion(RESPONSE, provider="openai_compatible")
    openai = AbstractLLM.create("openai", api_key="sk-test", model="gpt-4.1")
    body = next_request(openai, response.to_message())
    assert "extra_content" not in json.dumps(body)
    opted_out = AbstractLLM.create(
        "openai_compatible", base_url="http://127.0.0.1:9/v1", model="m", echo_extra_content=False
    )
    assert "extra_content" not in json.dumps(next_request(opted_out, response.to_message()))


def test_a_streamed_signature_is_kept_too() -> None:
    state = ChatCompletionStreamState("openai_compatible")
    chunks = [
        {"id": "s1", "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"index": 0, "id": "function-call-1", "type": "function",
             "function": {"name": "check_flight", "arguments": '{"flight": '},
             "extra_content": {"google": {"thought_signature": SIGNATURE}}}]}}]},
        {"id": "s1", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"arguments": '"AA100"}'}}]}}]},
        {"id": "s1", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    ]  # fmt: skip
    for chunk in chunks:
        state.feed(SSEEvent(None, json.dumps(chunk)))
    state.feed(SSEEvent(None, "[DONE]"))
    response = state.result()
    [call] = response.tool_calls or []
    assert call.arguments == {"flight": "AA100"}
    assert call.provider_data == {
        "openai_compatible": {"extra_content": {"google": {"thought_signature": SIGNATURE}}}
    }
    [sent] = next_request(compatible(), response.to_message())["messages"][1]["tool_calls"]
    assert sent["extra_content"]["google"]["thought_signature"] == SIGNATURE


def test_the_recorded_turn_level_signature_goes_back_on_the_assistant_turn() -> None:
    """Recorded traffic (Gemini 2.5 through the compatible endpoint): the signature rode on the
    message, not on the call; the next request carries it back on that assistant turn."""
    cassette = load_cassette(
        fixture_path("openai_compatible", "gemini_openai_compat_tool_call_empty_id.yaml")
    )
    turns, _ = replay_conversation("openai_compatible", cassette, mode="sync")
    recorded = cassette.interactions[0].response.json()
    assert isinstance(recorded, dict)
    signature = recorded["choices"][0]["message"]["extra_content"]["google"]["thought_signature"]
    first = turns[0].response
    assert first is not None and first.provider_data is not None
    kept = first.provider_data["openai_compatible"]["extra_content"]
    assert kept["google"]["thought_signature"] == signature
    assistant = next_request(compatible(), first.to_message())["messages"][1]
    assert assistant["extra_content"]["google"] == {"thought": True, "thought_signature": signature}
