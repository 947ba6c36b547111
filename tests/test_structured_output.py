"""Structured output: `response_format=Model` → `resp.parsed` on OpenAI/Azure, Gemini, Anthropic and
Mistral; the validation re-ask budget (apart from transport retries); refusals; Session ending on a
structured answer; the caller's messages never touched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel

from toolwire import AbstractLLM, Message, Session, StructuredOutputError
from toolwire.errors import ResponseParseError


class City(BaseModel):
    name: str
    population: int


def openai_answer(
    content: str | None, *, tool_calls: list[dict[str, Any]] | None = None, refusal: str | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


class Script:
    """A mock server answering scripted bodies in order and keeping every request body."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(json.loads(request.content))
        return httpx2.Response(200, json=self.answers.pop(0))

    def clients(self) -> dict[str, Any]:
        transport = httpx2.MockTransport(self)
        return {
            "http_client": httpx2.Client(transport=transport),
            "async_http_client": httpx2.AsyncClient(transport=transport),
        }


Driver = Callable[..., Any]


def run_sync(llm: Any, messages: Any, **kwargs: Any) -> Any:
    return llm.generate(messages, **kwargs)


def run_async(llm: Any, messages: Any, **kwargs: Any) -> Any:
    return asyncio.run(llm.agenerate(messages, **kwargs))


DRIVERS = pytest.mark.parametrize("drive", [run_sync, run_async], ids=["sync", "async"])


@DRIVERS
def test_openai_json_schema_strict_is_sent_and_parsed(drive: Driver) -> None:
    script = Script(openai_answer('{"name": "Paris", "population": 2100000}'))
    llm = AbstractLLM.create("openai", api_key="k", model="gpt-4o-mini", **script.clients())
    resp = drive(llm, "Biggest city of France?", response_format=City)
    assert resp.parsed == City(name="Paris", population=2100000)
    sent = script.requests[0]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True
    assert sent["json_schema"]["name"] == "City"
    assert sent["json_schema"]["schema"]["additionalProperties"] is False


@DRIVERS
def test_invalid_answer_is_reasked_with_the_error_and_the_callers_list_is_untouched(drive: Driver) -> None:
    script = Script(
        openai_answer('{"name": "Paris", "population": "lots"}'),
        openai_answer('{"name": "Paris", "population": 2100000}'),
    )
    llm = AbstractLLM.create("openai", api_key="k", model="gpt-4o-mini", **script.clients())
    history = [Message(role="user", content="Biggest city of France?")]
    resp = drive(llm, history, response_format=City)
    assert resp.parsed == City(name="Paris", population=2100000)
    assert len(history) == 1  # nothing appended to the caller's list
    second = script.requests[1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"] == '{"name": "Paris", "population": "lots"}'
    assert "did not match the JSON schema of City" in second[2]["content"]
    assert "population" in second[2]["content"]


@DRIVERS
def test_budget_spent_raises_a_typed_error_with_the_raw_text(drive: Driver) -> None:
    script = Script(openai_answer("not json"), openai_answer('{"name": 1}'))
    llm = AbstractLLM.create("openai", api_key="k", model="gpt-4o-mini", **script.clients())
    with pytest.raises(StructuredOutputError) as info:
        drive(llm, "city?", response_format=City, max_validation_retries=1)
    assert info.value.raw_text == '{"name": 1}'
    assert info.value.attempts == 2
    assert isinstance(info.value, ResponseParseError)
    assert len(script.requests) == 2


@DRIVERS
def test_no_reask_when_the_budget_is_zero(drive: Driver) -> None:
    script = Script(openai_answer("nope"))
    llm = AbstractLLM.create("openai", api_key="k", model="gpt-4o-mini", **script.clients())
    with pytest.raises(StructuredOutputError) as info:
        drive(llm, "city?", response_format=City, max_validation_retries=0)
    assert info.value.attempts == 1 and len(script.requests) == 1


@DRIVERS
def test_refusal_surfaces_and_is_not_reasked(drive: Driver) -> None:
    script = Script(openai_answer(None, refusal="I can't help with that."))
    llm = AbstractLLM.create("openai", api_key="k", model="gpt-4o-mini", **script.clients())
    resp = drive(llm, "city?", response_format=City)
    assert resp.refusal == "I can't help with that."
    assert resp.parsed is None
    assert len(script.requests) == 1


def test_streamed_structured_answer_is_parsed() -> None:
    chunks = [
        {
            "id": "c",
            "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": '{"name": "Ro'}}],
        },
        {
            "id": "c",
            "model": "m",
            "choices": [{"index": 0, "delta": {"content": 'me", "population": 2800000}'}}],
        },
        {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    transport = httpx2.MockTransport(
        lambda request: httpx2.Response(
            200, content=body.encode(), headers={"content-type": "text/event-stream"}
        )
    )
    llm = AbstractLLM.create("openai", api_key="k", model="m", http_client=httpx2.Client(transport=transport))
    stream = llm.generate("city?", response_format=City, stream=True)
    assert "".join(c.content or "" for c in stream) == '{"name": "Rome", "population": 2800000}'
    assert stream.response.parsed == City(name="Rome", population=2800000)


def test_session_uses_tools_then_ends_on_a_structured_answer() -> None:
    def lookup_population(city: str) -> int:
        """Population of a city.

        Args:
            city: The city name.
        """
        return 2100000

    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "lookup_population", "arguments": '{"city": "Paris"}'},
    }
    script = Script(
        openai_answer(None, tool_calls=[call]), openai_answer('{"name": "Paris", "population": 2100000}')
    )
    llm = AbstractLLM.create("openai", api_key="k", model="gpt-4o-mini", **script.clients())
    session = Session(llm, tools=[lookup_population], response_format=City)
    resp = session.generate("How many people live in Paris?")
    assert resp.parsed == City(name="Paris", population=2100000)
    assert script.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "2100000",
    }
    assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]


def test_gemini_response_schema_is_sent_and_parsed() -> None:
    answer = {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"text": '{"name": "Lyon", "population": 520000}'}]},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 7, "totalTokenCount": 12},
        "modelVersion": "gemini-2.5-flash",
    }
    script = Script(answer)
    llm = AbstractLLM.create("gemini", api_key="k", model="gemini-2.5-flash", **script.clients())
    resp = llm.generate("A French city?", response_format=City)
    assert resp.parsed == City(name="Lyon", population=520000)
    config = script.requests[0]["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config.get("responseSchema") or config.get("responseJsonSchema")
    assert set(schema["properties"]) == {"name", "population"}


def test_anthropic_forced_tool_answer_is_parsed() -> None:
    answer = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "City",
                "input": {"name": "Nice", "population": 340000},
            }
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 7},
    }
    script = Script(answer)
    llm = AbstractLLM.create("anthropic", api_key="k", model="claude-x", **script.clients())
    resp = llm.generate("A French city?", response_format=City)
    assert resp.parsed == City(name="Nice", population=340000)
    assert resp.tool_calls is None and resp.finish_reason == "stop"
    assert script.requests[0]["tool_choice"] == {"type": "tool", "name": "City"}


def test_mistral_json_schema_is_sent_and_parsed() -> None:
    script = Script(openai_answer('{"name": "Lille", "population": 230000}'))
    llm = AbstractLLM.create("mistral", api_key="k", model="mistral-small-latest", **script.clients())
    resp = llm.generate("A French city?", response_format=City)
    assert resp.parsed == City(name="Lille", population=230000)
    assert script.requests[0]["response_format"]["type"] == "json_schema"
