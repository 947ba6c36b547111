"""`AbstractLLM.create("fallback", providers=[...])` against the loopback fault server."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from support.fault_server import FaultServer, Reply, fault_server, kits
from toolwire import AbstractLLM
from toolwire.errors import (
    AuthenticationError,
    ContextLengthError,
    InvalidRequestError,
    ServerError,
    UnsupportedCapabilityError,
)
from toolwire.providers.fallback import FallbackProvider, with_fallbacks
from toolwire.types import Capability, Message, ToolCall, ToolResult

KITS = kits()


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city name
    """
    return "sunny"


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with fault_server() as srv:
        yield srv


def _members(server: FaultServer, *names: str) -> list[Any]:
    members = []
    for name in names:
        llm = KITS[name].create(server.url, max_retries=1)
        llm.transport.sleep = lambda _s: None

        async def asleep(_s: float) -> None:
            return None

        llm.transport.asleep = asleep
        members.append(llm)
    return members


# An OpenAI-made tool turn: falling over to Anthropic must carry it, with ids mapped consistently.
HISTORY = [
    Message(role="user", content="Weather in Paris?"),
    Message(
        role="assistant",
        content=None,
        tool_calls=[ToolCall(id="call_abc", name="get_weather", arguments={"city": "Paris"})],
    ),
    Message(role="tool", tool_results=[ToolResult(call_id="call_abc", name="get_weather", output="sunny")]),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_falls_over_after_the_members_retries_and_carries_the_history(
    server: FaultServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    llm = AbstractLLM.create("fallback", providers=_members(server, "openai", "anthropic"))
    server.script = [
        KITS["openai"].error(503),
        KITS["openai"].error(503),
        KITS["anthropic"].text_answer("Sunny."),
    ]
    messages = copy.deepcopy(HISTORY)
    with caplog.at_level(logging.INFO, logger="toolwire"):
        if mode == "sync":
            response = llm.generate(messages, tools=[get_weather])
        else:
            import asyncio

            response = asyncio.run(llm.agenerate(messages, tools=[get_weather]))
    assert response.content == "Sunny."
    assert response.provider == "anthropic"
    assert response.provider_data["fallback"] == {"index": 1, "skipped": ["openai"]}
    assert messages == HISTORY  # the caller's list is untouched
    paths = [seen.path for seen in server.seen]
    assert paths == ["/v1/chat/completions", "/v1/chat/completions", "/v1/messages"]  # 1 retry, then over
    sent = server.seen[-1].body["messages"]
    use = sent[1]["content"][0]
    result = sent[2]["content"][0]
    assert use["type"] == "tool_use" and result["type"] == "tool_result"
    assert result["tool_use_id"] == use["id"]  # the OpenAI id mapped the same way for call and result
    assert "fallback: openai failed (ServerError); trying anthropic" in caplog.text
    assert "retrying openai request (attempt 2 of 2)" in caplog.text


def test_authentication_error_falls_over(server: FaultServer) -> None:
    llm = AbstractLLM.create("fallback", providers=_members(server, "azure_openai", "gemini"))
    server.script = [KITS["azure_openai"].error(401), KITS["gemini"].ok()]
    response = llm.generate("hi", tools=[get_weather])
    assert response.provider == "gemini"
    assert len(server.seen) == 2  # a 401 is never retried on its own member


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(400, None, InvalidRequestError), (400, "context_length_exceeded", ContextLengthError)],
)
def test_errors_of_the_request_itself_do_not_fall_over(
    server: FaultServer, status: int, code: str | None, expected: type[Exception]
) -> None:
    llm = AbstractLLM.create("fallback", providers=_members(server, "openai", "mistral"))
    reply = KITS["openai"].error(status)
    reply.body["error"]["code"] = code
    server.script = [reply, KITS["mistral"].ok()]
    with pytest.raises(expected):
        llm.generate("hi")
    assert len(server.seen) == 1


def test_all_failing_raises_the_last_error_with_every_error_attached(server: FaultServer) -> None:
    llm = with_fallbacks(*_members(server, "openai", "anthropic", "gemini"))
    server.script = (
        [KITS["openai"].error(500)] * 2 + [KITS["anthropic"].error(529)] * 2 + [KITS["gemini"].error(401)]
    )
    with pytest.raises(AuthenticationError) as info:
        llm.generate("hi")
    errors = info.value.errors  # type: ignore[attr-defined]
    assert [type(e).__name__ for e in errors] == ["ServerError", "ServerError", "AuthenticationError"]
    assert [e.provider for e in errors] == ["openai", "anthropic", "gemini"]
    assert len(server.seen) == 5


def test_content_filter_only_when_asked(server: FaultServer) -> None:
    filtered = KITS["openai"].text_answer("")
    filtered.body["choices"][0]["finish_reason"] = "content_filter"
    for flag, expected in ((False, "openai"), (True, "mistral")):
        llm = AbstractLLM.create(
            "fallback", providers=_members(server, "openai", "mistral"), fallback_on_content_filter=flag
        )
        server.script = [filtered, KITS["mistral"].text_answer("fine")]
        response = llm.generate("hi")
        assert response.provider == expected


def test_stream_open_failure_falls_over(server: FaultServer) -> None:
    llm = AbstractLLM.create("fallback", providers=_members(server, "openai", "mistral"))
    server.script = [
        KITS["openai"].error(500),
        KITS["openai"].error(500),
        Reply(sse=KITS["mistral"].stream()),
    ]
    stream = llm.generate("hi", tools=[get_weather], stream=True)
    chunks = [c.content for c in stream if c.content]
    assert "".join(chunks) == "Checking both."
    assert stream.response.provider == "mistral"


def test_members_from_names_and_configs_capabilities_and_repr(server: FaultServer) -> None:
    llm = AbstractLLM.create(
        "fallback",
        providers=[
            ("openai", {"model": "gpt-4o-mini", "api_key": "sk-SECRET-abcdef1234567890"}),
            ("openai", {"model": "o1-mini", "api_key": "sk-other-key-00000000"}),
        ],
    )
    assert isinstance(llm, FallbackProvider)
    # intersection: o1-mini cannot call tools, so the fallback does not advertise it
    assert Capability.FUNCTION_CALLING not in llm.capabilities
    assert Capability.STREAMING in llm.capabilities
    assert "SECRET-abcdef" not in repr(llm) and "7890" in repr(llm)
    with pytest.raises(UnsupportedCapabilityError):
        llm.providers[1].generate("hi", tools=[get_weather])
    with pytest.raises(ValueError, match="model="):
        llm.generate("hi", model="gpt-4o")


def test_non_fallback_errors_propagate_unchanged(server: FaultServer) -> None:
    llm = AbstractLLM.create("fallback", providers=_members(server, "openai", "mistral"))
    server.script = [
        KITS["openai"].error(500),
        KITS["openai"].error(500),
        KITS["mistral"].error(500),
        KITS["mistral"].error(500),
    ]
    with pytest.raises(ServerError) as info:
        llm.generate("hi")
    assert info.value.provider == "mistral"
    assert json.dumps(server.seen[0].body) == json.dumps(server.seen[1].body)
