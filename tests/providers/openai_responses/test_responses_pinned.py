"""Values a reader can check by eye in the recorded Responses fixtures (the generic replay in
test_responses_replay.py checks every file turn by turn; these pin what each file is about)."""

from __future__ import annotations

import json

import openai.types.responses as oair
import pytest
from openai._models import construct_type
from responses_family import replay_conversation, replay_conversation_async

from support.replay import fixture_path, load_cassette
from toolwire import standardize_tool_response
from toolwire.errors import AuthenticationError, InvalidRequestError, RateLimitError
from toolwire.providers.responses_wire import WIRE, parse_response_body


def _turns(folder: str, name: str, **kwargs: bool) -> list:  # type: ignore[type-arg]
    return replay_conversation(folder, load_cassette(fixture_path(folder, name)), **kwargs)


def test_two_parallel_calls_then_outputs_only_with_previous_response_id() -> None:
    turns = _turns("openai_responses", "openai_responses_parallel_function_calls_previous_response_id.yaml")
    first = turns[0].response
    assert [(c.id, c.name, c.arguments) for c in first.tool_calls] == [
        ("call_J7YUFuqJu49gxvGhUKpb3qQL", "get_temperature", {"location": "San Francisco"}),
        ("call_bppU66GAgtTnCo1NPkNe3801", "get_humidity", {"location": "San Francisco"}),
    ]
    assert first.finish_reason == "tool_calls" and first.content is None
    assert first.usage == {"prompt_tokens": 149, "completion_tokens": 48, "total_tokens": 197}
    sent = turns[1].sent
    assert sent["previous_response_id"] == "resp_0401f348de3b68550069d6f97bea1081a2b6482c17b3205c9a"
    assert sent["input"] == [
        {"type": "function_call_output", "call_id": "call_J7YUFuqJu49gxvGhUKpb3qQL", "output": "72°F"},
        {"type": "function_call_output", "call_id": "call_bppU66GAgtTnCo1NPkNe3801", "output": "65%"},
    ]
    assert turns[1].response.content.startswith("The weather in San Francisco is as follows:")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_encrypted_reasoning_replayed_verbatim_before_its_call(mode: str) -> None:
    name = "openai_responses_reasoning_encrypted_content_store_false_replay.yaml"
    cassette = load_cassette(fixture_path("openai_responses", name))
    turns = (
        replay_conversation("openai_responses", cassette)
        if mode == "sync"
        else await replay_conversation_async("openai_responses", cassette)
    )
    reasoning = turns[0].response.raw_response["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"].startswith("gAAAAABp-rIa")
    for turn in turns:
        assert turn.sent["store"] is False and turn.sent["include"] == ["reasoning.encrypted_content"]
    second, third = turns[1].sent["input"], turns[2].sent["input"]
    assert second[1] == reasoning  # byte for byte, right before the call it produced
    assert [i.get("type") for i in second] == [None, "reasoning", "function_call", "function_call_output"]
    assert [i.get("type") for i in third][1:] == [
        "reasoning",
        "function_call",
        "function_call_output",
        "function_call",
        "function_call_output",
    ]
    assert [i["call_id"] for i in third if i.get("type") == "function_call"] == [
        "call_uy7tfNVokIN7NjFF6k7OtLyl",
        "call_jwY8kllWAsnoSXtjXZQ5KR6i",
    ]
    final = turns[2].response
    assert final.content == "Pundora has a population of 123,124 — and yes, it can have dragons."
    assert final.raw_response["usage"]["output_tokens_details"]["reasoning_tokens"] == 0
    assert turns[0].response.raw_response["usage"]["output_tokens_details"]["reasoning_tokens"] == 63


def test_no_argument_call_after_reasoning_with_store_default() -> None:
    turns = _turns(
        "openai_responses", "openai_responses_reasoning_function_call_encrypted_content_replay.yaml"
    )
    call = turns[0].response.tool_calls[0]
    assert (call.id, call.name, call.arguments, call.raw_arguments) == (
        "call_cp3x6W9eeyMIryJUNhgMaP5w",
        "get_meaning_of_life",
        {},
        "{}",
    )
    assert [i.get("type") for i in turns[1].sent["input"]] == [
        None,
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert turns[1].response.content == "42"


@pytest.mark.parametrize(
    "name",
    [
        "openai_responses_stream_function_call_arguments_delta_and_output.yaml",
        "openai_responses_stream_function_call_store_false.yaml",
    ],
)
def test_streamed_call_then_streamed_answer(name: str) -> None:
    turns = _turns("openai_responses", name, canonical_ids=True)
    first, second = turns[0].response, turns[1].response
    assert len(first.tool_calls) == 1 and first.finish_reason == "tool_calls"
    assert first.tool_calls[0].id.startswith("call_")  # the call_id, never the fc_ item id
    assert turns[1].sent["input"][-1]["call_id"] == first.tool_calls[0].id
    assert second.finish_reason == "stop" and second.content == "".join(turns[1].stream_text)
    if "store_false" in name:
        assert first.tool_calls[0].arguments == {"a": 1231, "b": 2331}
        assert second.content == "1231 × 2331 = **2,869,461**"
    else:
        assert first.tool_calls[0].arguments == {"country": "France"}
        assert second.content == "The capital of France is Paris."


def test_structured_output_with_a_tool() -> None:
    turns = _turns("openai_responses", "openai_responses_structured_output_json_schema_with_tool.yaml")
    assert turns[0].response.parsed is None and turns[0].response.tool_calls[0].name == "get_user_country"
    assert turns[1].response.parsed.model_dump() == {"city": "Mexico City", "country": "Mexico"}


@pytest.mark.parametrize(
    ("name", "kind", "code"),
    [
        ("openai_responses_error_400_model_not_found.yaml", InvalidRequestError, "model_not_found"),
        ("openai_responses_error_401_invalid_api_key.yaml", AuthenticationError, "invalid_api_key"),
        ("openai_responses_error_429_insufficient_quota.json", RateLimitError, "insufficient_quota"),
    ],
)
def test_recorded_errors(name: str, kind: type[Exception], code: str) -> None:
    error = _turns("openai_responses", name)[0].error
    assert isinstance(error, kind) and error.code == code
    if kind is RateLimitError:
        assert error.retryable is False  # an empty balance does not refill by waiting


def test_azure_stream_takes_encrypted_content_from_output_item_done() -> None:
    name = "azure_responses_api_version_stream_store_false.yaml"
    turn = _turns("azure_openai_responses", name)[0]
    text = turn.interaction.response.text
    done = next(
        json.loads(line[5:])["item"]
        for line in text.splitlines()
        if line.startswith("data:") and "output_item.done" in line and '"reasoning"' in line
    )
    ours = turn.response.provider_data[WIRE]["output"][0]
    assert ours["encrypted_content"] == done["encrypted_content"]
    added = next(
        json.loads(line[5:])["item"]
        for line in text.splitlines()
        if line.startswith("data:") and "output_item.added" in line and '"reasoning"' in line
    )
    assert added["encrypted_content"] != done["encrypted_content"]  # .added is not the final text
    assert turn.response.content == "2"


def test_azure_v1_content_filters_and_hosted_tool() -> None:
    turn = _turns("azure_openai_responses", "azure_responses_v1_web_search_tool_content_filters.yaml")[0]
    assert turn.sent["tools"] == [{"type": "web_search_preview"}]
    assert turn.response.content == "2 + 2 = 4."
    filters = turn.response.provider_data[WIRE]["content_filter_results"]
    assert [f["source_type"] for f in filters] == ["prompt", "completion"]
    reasoning = _turns(
        "azure_openai_responses", "azure_responses_v1_reasoning_encrypted_content_content_filters.yaml"
    )[0]
    assert reasoning.response.content == "Paris"
    assert reasoning.response.provider_data[WIRE]["output"][0]["encrypted_content"].startswith("gAAAAABqZ3Ej")


def test_body_only_fixtures_through_standardize() -> None:
    # standardize_tool_response(body, "openai" | "azure_openai" | "openai_compatible") reads a
    # Responses body too: the provider is the service, the body says which wire
    for folder, name, provider, expected in [
        (
            "azure_openai_responses",
            "azure_responses_function_call.json",
            "azure_openai",
            ("call_YunNGbIwdVJ2i0y0Mybva4Pw", "weather"),
        ),
        (
            "open_responses",
            "lmstudio_responses_function_call.json",
            "openai_compatible",
            ("call_2866856768160095", "weather"),
        ),
    ]:
        body = load_cassette(fixture_path(folder, name)).interactions[0].response.json()
        calls = standardize_tool_response(body, provider)
        assert [(c.id, c.name, c.arguments) for c in calls] == [(*expected, {"location": "San Francisco"})]
        # the SDK object a user holds (read as the SDK client reads a body)
        sdk = construct_type(type_=oair.Response, value=body)
        assert standardize_tool_response(sdk, "openai").tool_calls == calls.tool_calls


def test_bedrock_mantle_repeated_call_ids_are_disambiguated_consistently() -> None:
    name = "bedrock_mantle_responses_sequential_function_calls.yaml"
    turns = _turns("open_responses", name, canonical_ids=True)
    assert [t.response.tool_calls[0].id for t in turns[:2]] == ["call_0", "call_0"]
    second_ids = [i["call_id"] for i in turns[1].sent["input"] if "call_id" in i]
    assert second_ids == ["call_0", "call_0"]  # one call so far: nothing to tell apart
    third = [i["call_id"] for i in turns[2].sent["input"] if "call_id" in i]
    recorded = [i["call_id"] for i in turns[2].interaction.request.json["input"] if "call_id" in i]
    assert (
        third
        == recorded
        == [
            "resp_2vmnquymsguw3uup3fg2bsvkq3joan3ebjhg2hhvviozugqqmufa:call_0",
            "resp_2vmnquymsguw3uup3fg2bsvkq3joan3ebjhg2hhvviozugqqmufa:call_0",
            "resp_c6npxt3zfnuohdeovuudcjrpqsm6aixyo3ttvu7s2ur6kjwwo65q:call_0",
            "resp_c6npxt3zfnuohdeovuudcjrpqsm6aixyo3ttvu7s2ur6kjwwo65q:call_0",
        ]
    )
    assert turns[3].response.content == "OK"


def test_deepseek_plain_text_reasoning_goes_back_with_its_call() -> None:
    turns = _turns("open_responses", "deepseek_responses_reasoning_function_call_and_output.yaml")
    reasoning = turns[1].sent["input"][1]
    assert reasoning["type"] == "reasoning" and reasoning["id"] == "76f8b89e-4a41-46fb-86ae-546cc1e4ba6c"
    assert reasoning["content"][0]["text"].startswith("The user asks for the temperature in Tokyo.")
    assert turns[0].response.tool_calls[0].id == "call_00_iD0U8IMtyIljI0ET7GLz1318"
    assert turns[1].response.content == "The current temperature in Tokyo is 21.0°C."


def test_openrouter_stream_with_comment_and_done() -> None:
    turn = _turns("open_responses", "openrouter_responses_stream_reasoning_text.yaml")[0]
    assert turn.response.content == "4" and turn.response.finish_reason == "stop"
    # the streamed reasoning item (output_item.done) wins over the completed event's renamed copy
    assert turn.response.provider_data[WIRE]["output"][0]["id"] == "rs_tmp_2kbe7x16sax"
    assert parse_response_body(turn.response.raw_response).content == "4"
