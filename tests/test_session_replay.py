"""Recorded multi-turn conversations (../shared/fixtures/recorded) replayed through `Session` with local
Python tools named as in the recording.

The model's side comes from the cassette; the tools really run here. The strongest check is the
follow-up request: the tool messages we sent must equal the recorded ones (same `tool_call_id`s,
same order, same content), because the real provider accepted exactly that request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from support.replay import Replay, ReplayFactory
from toolwire.events import SessionFinished, ToolCallStarted, ToolResultEvent
from toolwire.providers.registry import AbstractLLM
from toolwire.session import Session
from toolwire.types import GenerateResponse


def _tool_messages(body: Any) -> list[tuple[str, str]]:
    return [(m["tool_call_id"], m["content"]) for m in body["messages"] if m["role"] == "tool"]


def _run(session: Session, prompt: str, driver: str) -> GenerateResponse:
    if driver == "generate":
        return session.generate(prompt)
    if driver == "agenerate":
        return asyncio.run(session.agenerate(prompt))
    if driver == "stream":
        events = list(session.stream(prompt))
    else:

        async def collect() -> list[Any]:
            return [e async for e in session.astream(prompt)]

        events = asyncio.run(collect())
    final = events[-1]
    assert isinstance(final, SessionFinished)
    started = [e.call.id for e in events if isinstance(e, ToolCallStarted)]
    finished = [e.result.call_id for e in events if isinstance(e, ToolResultEvent)]
    assert sorted(started) == sorted(finished)  # results come as each tool finishes (any order)
    return final.response


def _openai(r: Replay, model: str) -> Any:
    return AbstractLLM.create(
        "openai", model=model, api_key="sk-test", http_client=r.client, async_http_client=r.async_client
    )


def _azure(r: Replay, deployment: str) -> Any:
    return AbstractLLM.create(
        "azure_openai",
        deployment=deployment,
        azure_endpoint="https://example-resource.openai.azure.com",
        api_version="2024-10-21",
        api_key="test-key",
        http_client=r.client,
        async_http_client=r.async_client,
    )


WEATHER = {"New York City": "25 degrees and sunny", "London": "15 degrees and raining"}


def get_weather(location: str) -> str:
    """Current weather at a location."""
    return WEATHER[location]


LlmFactory = Callable[[Replay], Any]


@pytest.mark.parametrize("driver", ["generate", "agenerate"])
@pytest.mark.parametrize(
    ("provider_dir", "name", "make_llm"),
    [
        ("openai", "openai_parallel_tool_calls_and_tool_results.yaml", lambda r: _openai(r, "gpt-4o-mini")),
        (
            "azure_openai",
            "azure_parallel_tool_calls_and_tool_results.yaml",
            lambda r: _azure(r, "test-azure-deployment"),
        ),
    ],
    ids=["openai", "azure_openai"],
)
def test_parallel_weather_calls_replayed(
    replay: ReplayFactory, provider_dir: str, name: str, make_llm: LlmFactory, driver: str
) -> None:
    r = replay(provider_dir, name)
    session = Session(
        make_llm(r),
        tools=[get_weather],
        system_prompt="You are a helpful assistant providing weather updates.",
    )
    response = _run(session, "What is the weather in New York City and London?", driver)
    r.assert_all_used()
    recorded_follow_up = r.cassette.interactions[1].request.json
    sent = r.requests[1].json
    assert _tool_messages(sent) == _tool_messages(recorded_follow_up)
    ids = [c["id"] for c in sent["messages"][2]["tool_calls"]]
    assert [tool_call_id for tool_call_id, _ in _tool_messages(sent)] == ids and len(ids) == 2
    assert response.content is not None and "London" in response.content
    assert [m.role for m in session.messages] == ["system", "user", "assistant", "tool", "assistant"]
    recorded_usage = [json.loads(i.response.body)["usage"] for i in r.cassette.interactions]
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert session.usage[key] == sum(u[key] for u in recorded_usage)


SEARCH_TAGS = {"one": "one", "two": "two", "three": "three"}


def parallel_local_search_one(query: str) -> str:
    """Local search tool #1."""
    return f"[one] {query}"


def parallel_local_search_two(query: str) -> str:
    """Local search tool #2."""
    return f"[two] {query}"


async def parallel_local_search_three(query: str) -> str:
    """Local search tool #3 (async: a mixed turn)."""
    await asyncio.sleep(0)
    return f"[three] {query}"


@pytest.mark.parametrize("driver", ["generate", "agenerate"])
def test_three_parallel_calls_to_three_tools_replayed(replay: ReplayFactory, driver: str) -> None:
    r = replay("azure_openai", "azure_parallel_three_tool_calls_and_tool_results.yaml")
    recorded_first = r.cassette.interactions[0].request.json
    session = Session(
        _azure(r, "gpt-5-nano"),
        tools=[parallel_local_search_one, parallel_local_search_two, parallel_local_search_three],
        system_prompt=recorded_first["messages"][0]["content"],
        tool_choice="auto",
    )
    response = _run(session, recorded_first["messages"][1]["content"], driver)
    r.assert_all_used()
    sent = r.requests[1].json
    assert _tool_messages(sent) == _tool_messages(r.cassette.interactions[1].request.json)
    assert len(_tool_messages(sent)) == 3
    assert response.finish_reason == "stop" and response.content


def current_date() -> str:
    """Return the current date"""
    return "2024-01-01"


def current_month() -> str:
    """Return the current month"""
    return "February"


@pytest.mark.parametrize("driver", ["generate", "agenerate"])
def test_parameterless_parallel_calls_then_a_second_prompt(replay: ReplayFactory, driver: str) -> None:
    r = replay("openai", "openai_parallel_tool_calls_no_args_and_tool_results.yaml")
    session = Session(
        _openai(r, "gpt-4.1-nano"),
        tools=[current_date, current_month],
        system_prompt="Always use a tool to answer. Reply with 'It is ____.'.",
    )
    first = _run(session, "What's the current date in Y-M-D format?", driver)
    assert first.content == "It is 2024-01-01."
    second = _run(session, "What month is it? Provide the full name", driver)
    assert second.content == "It is February."
    r.assert_all_used()
    for index in (1, 2):
        assert _tool_messages(r.requests[index].json) == _tool_messages(
            r.cassette.interactions[index].request.json
        )
    # the second prompt carries the whole first exchange, tool results included
    assert [m["role"] for m in r.requests[2].json["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "user",
    ]


def get_capital(country: str) -> str:
    return {"UK": "London"}[country]


@pytest.mark.parametrize("driver", ["stream", "astream"])
def test_streamed_tool_call_and_streamed_answer_replayed(replay: ReplayFactory, driver: str) -> None:
    r = replay("openai", "openai_tool_call_stream_and_tool_result_stream.yaml")
    session = Session(_openai(r, "gpt-4o-mini"), tools=[get_capital], tool_choice="auto")
    response = _run(session, "What is the capital of the UK? Use the tool, then answer.", driver)
    r.assert_all_used()
    assert r.requests[0].json["stream"] is True
    assert _tool_messages(r.requests[1].json) == _tool_messages(r.cassette.interactions[1].request.json)
    assert _tool_messages(r.requests[1].json) == [("call_ZR5UUuTt3pf61kjwAJIYdVMj", "London")]
    assert response.content is not None and "London" in response.content
