"""Azure OpenAI's recorded cassettes: pinned values, content filters, dated endpoints, errors.

Every cassette of the folder is also replayed whole (sync, async; streamed where recorded) by the
OpenAI family's parametrized module, tests/providers/openai/test_chat_completions_replay.py.
"""

from __future__ import annotations

import json

import httpx2
import pytest

from support.openai_family import Turn, areplay_file, replay_conversation, replay_file
from support.replay import fixture_path, load_cassette
from toolwire import AbstractLLM
from toolwire.errors import ContentFilterError, InvalidRequestError
from toolwire.testing import Cassette, Interaction, RecordedResponse, ReplayTransport

DIR = "azure_openai"


def _sync(name: str) -> list[Turn]:
    return replay_file(DIR, name)


async def _async(name: str) -> list[Turn]:
    return await areplay_file(DIR, name)


def test_content_filter_results_kept() -> None:
    resp = _sync("azure_chat_content_filter_results.yaml")[0].response
    assert resp is not None and resp.content == "The capital of France is **Paris**."
    assert resp.model == "gpt-4o-2024-11-20"
    assert resp.usage == {"prompt_tokens": 14, "completion_tokens": 9, "total_tokens": 23}
    data = (resp.provider_data or {})["azure_openai"]
    assert data["prompt_filter_results"][0]["content_filter_results"]["jailbreak"] == {
        "detected": False,
        "filtered": False,
    }
    assert data["content_filter_results"]["protected_material_code"] == {"detected": False, "filtered": False}
    # and it travels with the assistant message
    assert resp.to_message().provider_data == {"azure_openai": data}


def test_dated_endpoint_url_and_body() -> None:
    cassette = load_cassette(fixture_path(DIR, "azure_single_tool_call.yaml"))
    turns, transport = replay_conversation(DIR, cassette, mode="sync")
    request = transport.requests[0]
    assert request.url == (
        "https://test.openai.azure.com/openai/deployments/test-azure-deployment/chat/completions"
        "?api-version=2024-08-01-preview"
    )
    assert request.headers["api-key"] == "azure-test-key" and "authorization" not in request.headers
    assert "model" not in request.json  # type: ignore[operator]
    call = turns[0].response.tool_calls[0]  # type: ignore[index,union-attr]
    assert (call.id, call.name, call.arguments) == (
        "call_U0QYBadhpy4pBO6jYPm09KvZ",
        "get_delivery_date",
        {"order_id": "order_12345"},
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_old_api_version_parallel_calls_and_results(mode: str) -> None:
    name = "azure_parallel_tool_calls_and_tool_results.yaml"
    turns = _sync(name) if mode == "sync" else await _async(name)
    assert [(c.id, c.arguments) for c in turns[0].response.tool_calls] == [  # type: ignore[union-attr]
        ("call_TYKLGjzizbih3K9ouYXAEwMI", {"location": "New York City"}),
        ("call_MKJdMkxrfGOtWqKdw7Ey0iFU", {"location": "London"}),
    ]
    # 2023-03-15-preview predates parallel_tool_calls: never sent, although the tool is strict
    assert "parallel_tool_calls" not in turns[0].sent
    assert turns[1].built_from_previous
    assert [m["tool_call_id"] for m in turns[1].sent["messages"] if m["role"] == "tool"] == [
        "call_TYKLGjzizbih3K9ouYXAEwMI",
        "call_MKJdMkxrfGOtWqKdw7Ey0iFU",
    ]
    assert turns[1].response.content.startswith("The current weather is as follows")  # type: ignore[union-attr]


def test_three_parallel_calls_reasoning_model() -> None:
    turns = _sync("azure_parallel_three_tool_calls_and_tool_results.yaml")
    calls = turns[0].response.tool_calls  # type: ignore[union-attr]
    assert [c.name for c in calls] == [  # type: ignore[union-attr]
        "parallel_local_search_one",
        "parallel_local_search_two",
        "parallel_local_search_three",
    ]
    assert turns[0].response.usage == {"prompt_tokens": 343, "completion_tokens": 666, "total_tokens": 1009}  # type: ignore[union-attr]
    assert [m["tool_call_id"] for m in turns[1].sent["messages"] if m["role"] == "tool"] == [
        c.id for c in calls
    ]  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stream_with_prompt_filter_first_chunk(mode: str) -> None:
    name = "azure_tool_call_stream_prompt_filter_first_chunk.yaml"
    turns = _sync(name) if mode == "sync" else await _async(name)
    resp = turns[0].response
    assert resp is not None
    assert [(c.id, c.name, c.arguments) for c in resp.tool_calls or []] == [
        ("call_A6XpaIHt5uNwiDqVxyvKoXMa", "get_current_temperature", {"city": "San Francisco"})
    ]
    assert resp.usage == {"prompt_tokens": 66, "completion_tokens": 17, "total_tokens": 83}
    assert resp.finish_reason == "tool_calls"
    assert resp.id and resp.id.startswith("chatcmpl-")  # not the "" of the leading filter chunk
    assert (resp.provider_data or {})["azure_openai"]["prompt_filter_results"][0]["prompt_index"] == 0


def test_stream_text_with_filters() -> None:
    turns = _sync("azure_stream_text_prompt_filter_results.yaml")
    for turn in turns:
        assert turn.response is not None and turn.response.finish_reason == "stop"
        assert "prompt_filter_results" in (turn.response.provider_data or {})["azure_openai"]
    assert turns[0].response.content.startswith("Why did the Opentelemetry developer bring a ladder")  # type: ignore[union-attr]
    # api-version 2024-02-01 predates stream_options: not sent
    assert "stream_options" not in turns[0].sent


def test_stream_include_usage() -> None:
    resp = _sync("azure_stream_include_usage.yaml")[0].response
    assert resp is not None and resp.content == "Atlantic Ocean"
    assert resp.usage == {"prompt_tokens": 24, "completion_tokens": 2, "total_tokens": 26}


def test_completion_filtered_finish_reason() -> None:
    turns = _sync("azure_content_filter_finish_reason_EDITED.yaml")
    resp = turns[0].response
    assert resp is not None and resp.finish_reason == "content_filter" and resp.content is None
    filters = resp.provider_data["azure_openai"]["content_filter_results"]  # type: ignore[index]
    assert filters["hate"] == {"filtered": True, "severity": "high"}


def test_completion_filtered_raises_when_asked() -> None:
    cassette = load_cassette(fixture_path(DIR, "azure_content_filter_finish_reason_EDITED.yaml"))
    transport = ReplayTransport(cassette)
    llm = AbstractLLM.create(
        "azure_openai",
        azure_endpoint="https://traceloop-stg.openai.azure.com",
        deployment="openllmetry-testing",
        api_version="2024-02-01",
        api_key="k" * 32,
        raise_on_content_filter=True,
        http_client=httpx2.Client(transport=transport),
    )
    with pytest.raises(ContentFilterError) as info:
        llm.generate("Tell me a joke about opentelemetry")
    assert info.value.filter_results["hate"]["filtered"] is True  # type: ignore[attr-defined]


def test_prompt_filter_error_as_recorded_status_200() -> None:
    error = _sync("azure_prompt_content_filter_error_EDITED.yaml")[0].error
    assert isinstance(error, ContentFilterError)
    assert error.filter_results["hate"] == {"filtered": True, "severity": "high"}  # type: ignore[attr-defined]
    assert error.code == "content_filter"


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_prompt_filter_error_served_as_the_real_400(mode: str) -> None:
    recorded = load_cassette(fixture_path(DIR, "azure_prompt_content_filter_error_EDITED.yaml")).interactions[
        0
    ]
    real = Cassette(
        [
            Interaction(
                recorded.request, RecordedResponse(400, recorded.response.headers, recorded.response.body)
            )
        ],
        dialect="V",
    )
    transport = ReplayTransport(real)
    llm = AbstractLLM.create(
        "azure_openai",
        azure_endpoint="https://traceloop-stg.openai.azure.com",
        deployment="openllmetry-testing",
        api_version="2024-02-01",
        api_key="secret-azure-key-123456",
        max_retries=0,
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
    )
    with pytest.raises(ContentFilterError) as info:
        if mode == "sync":
            llm.generate("Tell me a joke about opentelemetry")
        else:
            await llm.agenerate("Tell me a joke about opentelemetry")
    error = info.value
    assert error.status_code == 400
    assert error.request_id == "6624fbc0-526e-4c5f-b98c-fb96daf3c582"
    assert error.filter_results["violence"] == {"filtered": True, "severity": "medium"}  # type: ignore[attr-defined]
    assert "secret-azure-key" not in str(error) and "secret-azure-key" not in repr(error)


def test_deployment_not_found() -> None:
    error = _sync("azure_error_404_deployment_not_found.yaml")[0].error
    assert isinstance(error, InvalidRequestError)
    assert error.status_code == 404 and error.code == "DeploymentNotFound"
    assert error.request_id == "a9022d64-309b-4b6b-a425-a797f00b6cff"
    assert error.message.startswith("The API deployment for this resource does not exist")


def test_structured_output_with_tool_on_azure() -> None:
    turns = _sync("azure_structured_output_with_tool_and_tool_result.yaml")
    assert [(c.name, c.arguments) for c in turns[0].response.tool_calls] == [
        ("add_numbers", {"a": 15, "b": 27})
    ]  # type: ignore[union-attr]
    assert json.loads(turns[1].response.content)["result"] == 42  # type: ignore[arg-type,union-attr]
    assert turns[0].sent["response_format"]["type"] == "json_schema"
