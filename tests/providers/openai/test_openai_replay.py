"""OpenAI's recorded cassettes: the values a reader can check by eye in the fixture files.

Every cassette of the folder is also replayed whole (sync, async; streamed where recorded) and
checked against the openai SDK's reading and the OpenAPI schema by the family's one parametrized
module, test_chat_completions_replay.py (helpers in tests/support/openai_family.py).
"""

from __future__ import annotations

import pydantic
import pytest

from support.openai_family import Turn, areplay_file, replay_file
from support.replay import fixture_path, load_cassette
from toolwire import AbstractLLM, Message, ToolResult
from toolwire.errors import AuthenticationError, InvalidRequestError
from toolwire.testing import ReplayTransport

DIR = "openai"


def _sync(name: str) -> list[Turn]:
    return replay_file(DIR, name)


async def _async(name: str) -> list[Turn]:
    return await areplay_file(DIR, name)


# -- pinned values ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_parallel_tool_calls_and_results(mode: str) -> None:
    name = "openai_parallel_tool_calls_and_tool_results.yaml"
    turns = _sync(name) if mode == "sync" else await _async(name)
    first = turns[0].response
    assert first is not None and first.tool_calls is not None
    assert [(c.id, c.name, c.arguments, c.raw_arguments) for c in first.tool_calls] == [
        (
            "call_PDht93e7bo48a7PyiyUcmK97",
            "get_weather",
            {"location": "New York City"},
            '{"location": "New York City"}',
        ),
        ("call_e5hauJIowS4IYEfeaiReu72o", "get_weather", {"location": "London"}, '{"location": "London"}'),
    ]
    assert first.finish_reason == "tool_calls"
    assert first.content is None
    assert first.usage == {"prompt_tokens": 57, "completion_tokens": 46, "total_tokens": 103}
    assert first.model == "gpt-4o-mini-2024-07-18"
    assert first.id == "chatcmpl-ASfaKW9DIuWmmJIEpHKl6zpB87fQk"
    assert first.provider == "openai"
    # strict tool, parallel_tool_calls not asked for: we ask for one call at a time
    assert turns[0].sent["parallel_tool_calls"] is False
    assert turns[1].built_from_previous
    sent = turns[1].sent["messages"]
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == [
        "call_PDht93e7bo48a7PyiyUcmK97",
        "call_e5hauJIowS4IYEfeaiReu72o",
    ]
    assert [m["content"] for m in sent if m["role"] == "tool"] == [
        "25 degrees and sunny",
        "15 degrees and raining",
    ]
    assert sent[2]["content"] is None and len(sent[2]["tool_calls"]) == 2
    final = turns[1].response
    assert final is not None and final.tool_calls is None
    assert (
        final.content
        == "The weather in New York City is 25 degrees and sunny. In London, it is 15 degrees and raining."
    )
    assert final.finish_reason == "stop"


def test_no_argument_calls_then_two_more_turns() -> None:
    turns = _sync("openai_parallel_tool_calls_no_args_and_tool_results.yaml")
    calls = turns[0].response.tool_calls  # type: ignore[union-attr]
    assert [(c.id, c.name, c.arguments, c.raw_arguments, c.arguments_error) for c in calls] == [
        ("call_yhGyidjUReGGf2WQsn5XKimB", "current_date", {}, "{}", None),
        ("call_iRYEuLBYtXfpVzzRpU6vqdzt", "current_month", {}, "{}", None),
    ]
    assert turns[1].response.content == "It is 2024-01-01."  # type: ignore[union-attr]
    assert turns[2].response.content == "It is February."  # type: ignore[union-attr]
    # recorded request asked for seed and temperature: both passed through untouched
    assert turns[0].sent["seed"] == 1014 and turns[0].sent["temperature"] == 0


def test_sequential_chain_gzip() -> None:
    turns = _sync("openai_sequential_tool_calls_gzip_ratelimit_headers.yaml")
    assert [(c.id, c.name, c.arguments) for c in turns[0].response.tool_calls] == [  # type: ignore[union-attr]
        ("call_TTY8UFNo7rNCaOBUNtlRSvMG", "lookup_population", {"country": "Crumpet"})
    ]
    assert [(c.id, c.name, c.arguments) for c in turns[1].response.tool_calls] == [  # type: ignore[union-attr]
        ("call_aq9UyiSFkzX6W8Ydc33DoI9Y", "can_have_dragons", {"population": 123124})
    ]
    assert turns[2].response.content == "YES"  # type: ignore[union-attr]
    assert turns[1].built_from_previous and turns[2].built_from_previous
    last = turns[2].sent["messages"]
    assert [m["tool_call_id"] for m in last if m["role"] == "tool"] == [
        "call_TTY8UFNo7rNCaOBUNtlRSvMG",
        "call_aq9UyiSFkzX6W8Ydc33DoI9Y",
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_tool_call_stream_then_result_stream(mode: str) -> None:
    name = "openai_tool_call_stream_and_tool_result_stream.yaml"
    turns = _sync(name) if mode == "sync" else await _async(name)
    first = turns[0].response
    assert first is not None
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls or []] == [
        ("call_ZR5UUuTt3pf61kjwAJIYdVMj", "get_capital", {"country": "UK"})
    ]
    assert first.usage == {"prompt_tokens": 53, "completion_tokens": 15, "total_tokens": 68}
    assert first.finish_reason == "tool_calls"
    assert turns[0].sent["stream"] is True and turns[0].sent["stream_options"] == {"include_usage": True}
    assert turns[1].built_from_previous
    assert turns[1].response.content == "The capital of the UK is London."  # type: ignore[union-attr]


def test_parallel_stream_two_recordings() -> None:
    turns = _sync("openai_parallel_tool_calls_stream.yaml")
    assert [(c.id, c.arguments) for c in turns[0].response.tool_calls] == [  # type: ignore[union-attr]
        ("call_cCPjAyfwTzboEKjVlqFrArNF", {"location": "San Francisco"}),
        ("call_Zi4He1Ns0mozwT6f85nW1BOW", {"location": "Boston"}),
    ]
    assert [(c.id, c.arguments) for c in turns[1].response.tool_calls] == [  # type: ignore[union-attr]
        ("call_u0T52evs3Y0byXDiUv5Al8dG", {"location": "San Francisco"}),
        ("call_iXfR9wmFaDTHUw5YaVxD1uFH", {"location": "Boston"}),
    ]
    # no include_usage in these recordings' streams: no usage chunk, and none invented
    assert turns[0].response.usage is None  # type: ignore[union-attr]


def test_vcrpy_stream_multiply() -> None:
    turns = _sync("openai_tool_call_stream_and_tool_result_vcrpy.yaml")
    call = turns[0].response.tool_calls[0]  # type: ignore[index,union-attr]
    assert (call.id, call.name, call.arguments) == (
        "call_1EYWDzueHEp8OsB8jJSEp7WB",
        "multiply",
        {"a": 1231, "b": 2331},
    )
    assert turns[1].response.usage == {"prompt_tokens": 87, "completion_tokens": 26, "total_tokens": 113}  # type: ignore[union-attr]


class Location(pydantic.BaseModel):
    city: str
    country: str


def _model_replay(name: str) -> tuple[ReplayTransport, object]:
    cassette = load_cassette(fixture_path(DIR, name))
    transport = ReplayTransport(cassette)
    import httpx2

    llm = AbstractLLM.create(
        "openai",
        model=cassette.interactions[0].request.json["model"],  # type: ignore[union-attr]
        api_key="sk-test",
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
    )
    return transport, llm


def test_structured_output_with_tool_parsed() -> None:
    from support.openapi_validation import assert_valid_request

    name = "openai_structured_output_json_schema_with_tool.yaml"
    transport, llm = _model_replay(name)
    recorded = load_cassette(fixture_path(DIR, name)).interactions[0].request.json
    tools = recorded["tools"]  # type: ignore[index]
    messages = [Message(role="user", content=recorded["messages"][-1]["content"])]  # type: ignore[index]
    first = llm.generate(messages, tools=tools, response_format=Location)  # type: ignore[attr-defined]
    assert first.parsed is None and first.tool_calls[0].name == "get_user_country"
    call = first.tool_calls[0]
    follow = [
        *messages,
        first.to_message(),
        Message(role="tool", tool_results=[ToolResult(call.id, call.name, "Mexico")]),
    ]
    final = llm.generate(follow, tools=tools, response_format=Location)  # type: ignore[attr-defined]
    assert final.parsed == Location(city="Mexico City", country="Mexico")
    sent = transport.requests[0].json
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert sent["response_format"]["json_schema"]["schema"]["additionalProperties"] is False
    assert transport.requests[1].json["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "Mexico",
    }
    for request in transport.requests:
        assert_valid_request(request.json, "openai")


def test_structured_output_refusal_surfaces() -> None:
    name = "openai_structured_output_json_schema_refusal.yaml"
    transport, llm = _model_replay(name)
    recorded = load_cassette(fixture_path(DIR, name)).interactions[0].request.json
    for _ in range(3):
        resp = llm.generate(recorded["messages"], response_format=Location)  # type: ignore[attr-defined,index]
        assert resp.refusal is not None and resp.refusal.startswith("I'm very sorry, but I can't")
        assert resp.content is None and resp.parsed is None
        assert resp.finish_reason == "stop"
    transport.assert_all_used()


# -- errors ---------------------------------------------------------------------------------------


def test_401_is_authentication_error_without_our_key() -> None:
    turns = _sync("openai_error_401_invalid_api_key.yaml")
    error = turns[0].error
    assert isinstance(error, AuthenticationError)
    assert error.status_code == 401 and error.code == "invalid_api_key"
    assert error.request_id == "55f4f12fef392b7fbc0c647e97a8e6b2"
    assert "sk-test" not in str(error) and "sk-test" not in repr(error)


def test_404_model_not_found() -> None:
    error = _sync("openai_error_404_model_not_found.yaml")[0].error
    assert isinstance(error, InvalidRequestError)
    assert error.status_code == 404 and error.code == "model_not_found"
    assert (
        error.body["error"]["message"]
        == "The model `gpt-5.2-proo` does not exist or you do not have access to it."
    )  # type: ignore[index]


def test_400_then_retry_without_the_parameter() -> None:
    turns = _sync("openai_error_400_unsupported_parameter_then_retry.yaml")
    error = turns[0].error
    assert isinstance(error, InvalidRequestError)
    assert (error.status_code, error.code, error.request_id) == (
        400,
        "unsupported_parameter",
        "req_7be4715c3ee32aa406eacb68c7cc966e",
    )
    assert turns[0].sent["stop"] == ["stop"] and "stop" not in turns[1].sent
    assert turns[1].response.content == "The capital of France is **Paris**."  # type: ignore[union-attr]


def test_400_unsupported_value() -> None:
    error = _sync("openai_error_400_unsupported_value.yaml")[0].error
    assert isinstance(error, InvalidRequestError) and error.code == "unsupported_value"
    assert not error.retryable
