"""`ToolCall.arguments_error` says why parsing or schema validation failed (API.md, "Responses and
messages"): set as the response is read, for every driver; the executor still validates before
running anything; a call that was read but fails the schema goes back in the history as the
arguments the model sent (only unreadable ones go back as raw text)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel

from toolwire import AbstractLLM, Message, ToolCall, ToolResult, execute_tool_calls
from toolwire.tools.definition import arguments_unreadable


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Lookup(BaseModel):
    """Look a word up."""

    word: str


CALLS = [
    ("call_1", "add", '{"a": "x", "b": 2}'),  # read, fails the schema
    ("call_2", "add", '{"a": 1, "b": 2}'),  # fine
    ("call_3", "add", '{"a": 1'),  # unreadable
    ("call_4", "Lookup", "{}"),  # read, a required field missing (a Pydantic model tool)
    ("call_5", "not_sent", '{"x": 1}'),  # a tool this request did not send: left to the executor
]


def _completion() -> dict[str, Any]:
    calls = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in CALLS]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    choice = {"index": 0, "message": message, "finish_reason": "tool_calls"}
    return {"id": "c", "model": "m", "choices": [choice]}


def _stream() -> str:
    deltas = [
        {"index": k, "id": i, "type": "function", "function": {"name": n, "arguments": a}}
        for k, (i, n, a) in enumerate(CALLS)
    ]
    first = {"index": 0, "delta": {"role": "assistant", "tool_calls": deltas}}
    last = {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    chunks = [{"id": "c", "model": "m", "choices": [first]}, {"id": "c", "model": "m", "choices": [last]}]
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


def _handler(request: httpx2.Request) -> httpx2.Response:
    if json.loads(request.content).get("stream"):
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, text=_stream())
    return httpx2.Response(200, json=_completion())


def _llm() -> Any:
    transport = httpx2.MockTransport(_handler)
    return AbstractLLM.create(
        "openai",
        api_key="k",
        model="gpt-4o",
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
    )


def _calls(driver: str) -> list[ToolCall]:
    llm = _llm()
    if driver == "generate":
        response = llm.generate("hi", tools=[add, Lookup])
    elif driver == "agenerate":
        response = asyncio.run(llm.agenerate("hi", tools=[add, Lookup]))
    else:
        stream = llm.generate("hi", tools=[add, Lookup], stream=True)
        for _ in stream:
            pass
        response = stream.response
    assert response.tool_calls is not None
    return list(response.tool_calls)


@pytest.mark.parametrize("driver", ["generate", "agenerate", "stream"])
def test_arguments_error_says_why_schema_validation_failed(driver: str) -> None:
    wrong, fine, unreadable, missing, unknown = _calls(driver)
    assert wrong.arguments == {"a": "x", "b": 2}  # kept as the model sent them, not coerced or dropped
    assert wrong.arguments_error is not None and "schema" in wrong.arguments_error
    assert "a: Input should be a valid integer" in wrong.arguments_error
    assert fine.arguments_error is None
    assert unreadable.arguments_error is not None and "not valid JSON" in unreadable.arguments_error
    assert missing.arguments_error is not None and "word: Field required" in missing.arguments_error
    assert unknown.arguments_error is None
    unreadable_ones = [arguments_unreadable(c) for c in (wrong, fine, unreadable, missing)]
    assert unreadable_ones == [False, False, True, False]


def test_the_executor_tells_the_model_what_was_invalid_and_runs_nothing_invalid() -> None:
    ran: list[tuple[int, int]] = []

    def counted_add(a: int, b: int) -> int:
        ran.append((a, b))
        return a + b

    wrong, fine, unreadable, _, _ = _calls("generate")
    results = execute_tool_calls([wrong, fine, unreadable], {"add": counted_add})
    assert ran == [(1, 2)]
    assert results[0].error is not None and results[0].error.startswith("Error: invalid arguments for ")
    assert "a: Input should be a valid integer" in results[0].error
    assert results[1].output == 3
    assert results[2].error is not None and "could not be read" in results[2].error


def test_a_call_that_failed_the_schema_goes_back_as_its_arguments() -> None:
    wrong, _, unreadable, _, _ = _calls("generate")
    history = [
        Message(role="user", content="hi"),
        Message(role="assistant", tool_calls=[wrong, unreadable]),
        Message(role="tool", tool_results=[ToolResult(wrong.id, "add", error="invalid")]),
        Message(role="tool", tool_results=[ToolResult(unreadable.id, "add", error="unreadable")]),
    ]
    gemini = AbstractLLM.create("gemini", api_key="k", model="gemini-2.5-flash")
    request = gemini._prepare(
        history, model=None, stream=False, tools=[add], tool_choice=None, parallel_tool_calls=None,
        response_format=None, sampling={}, kwargs={},
    )
    parts = gemini.build_body(request)["contents"][1]["parts"]
    assert parts[0]["functionCall"]["args"] == {"a": "x", "b": 2}
    assert list(parts[1]["functionCall"]["args"].values()) == ['{"a": 1']  # unreadable: the raw text
    openai = _llm()
    sent = openai.build_body(openai._prepare(
        history, model=None, stream=False, tools=[add], tool_choice=None, parallel_tool_calls=None,
        response_format=None, sampling={}, kwargs={},
    ))["messages"][1]["tool_calls"]
    assert [c["function"]["arguments"] for c in sent] == ['{"a": "x", "b": 2}', '{"a": 1']
