"""A Session on the Responses API with a hosted tool beside a local function: the hosted tool goes
to the service as given (never run here), the function runs, and the hosted tool's output item
stays in the history untouched for the next request."""

from __future__ import annotations

import json
from typing import Any

import httpx2

from support.openapi_validation import request_schema_errors
from toolwire import AbstractLLM, Session

SEARCH_ITEM = {
    "type": "web_search_call",
    "id": "ws_1",
    "status": "completed",
    "action": {"type": "search", "query": "x"},
}
CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup", "arguments": "{}"}
FIRST = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-5-mini",
    "output": [
        SEARCH_ITEM,
        CALL,
    ],
}
FINAL = {
    "id": "resp_2",
    "object": "response",
    "status": "completed",
    "model": "gpt-5-mini",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "done", "annotations": []}],
        }
    ],
}


def lookup(key: str = "") -> str:
    """Look a key up."""
    return f"value-of-{key}"


def test_hosted_tools_pass_through_a_session() -> None:
    sent: list[dict[str, Any]] = []
    answers = [FIRST, FINAL]

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return httpx2.Response(200, json=answers.pop(0))

    llm = AbstractLLM.create(
        "openai", api="responses", model="gpt-5-mini", api_key="sk-test-12345678",
        http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
    )  # fmt: skip
    session = Session(llm, tools=[lookup, {"type": "web_search"}])
    assert [t.name for t in session.tools] == ["lookup"]
    assert session.generate("find a").content == "done"
    first, second = sent
    assert {"type": "web_search"} in first["tools"]
    assert any(t.get("name") == "lookup" for t in first["tools"])
    assert SEARCH_ITEM in second["input"]  # the hosted tool's output item, as the service sent it
    outputs = [i for i in second["input"] if i.get("type") == "function_call_output"]
    assert outputs == [{"type": "function_call_output", "call_id": "call_1", "output": "value-of-"}]
    for body in sent:
        assert request_schema_errors(body, "responses") == []
