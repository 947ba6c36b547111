"""The Responses wire against a capturing mock: request shapes (validated against `CreateResponse`),
history replay rules, streaming assembly, errors, and the `api=` selection."""

from __future__ import annotations

import json
import logging
from typing import Any

import pydantic
import pytest
from responses_mock import call_item, make, message_item, reasoning_item, response_body, sse

from support.openapi_validation import assert_valid_request
from toolwire import AbstractLLM, Message, Session, ToolResult, tool
from toolwire.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from toolwire.providers.openai_responses import (
    AzureOpenAIResponsesProvider,
    OpenAICompatibleResponsesProvider,
    OpenAIResponsesProvider,
)
from toolwire.providers.responses_wire import WIRE, parse_response_body, wire_call_id

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@tool
def get_weather(city: str) -> str:
    """Weather in a city."""
    return {"Paris": "18C sunny", "Oslo": "4C rain"}[city]


def _valid(body: dict[str, Any]) -> dict[str, Any]:
    assert_valid_request(body, "responses")
    return body


# -- api= selection ------------------------------------------------------------------------------
def test_api_selects_the_responses_classes() -> None:
    llm, _ = make([])
    assert type(llm) is OpenAIResponsesProvider and llm.name == "openai" and llm.api == "responses"
    azure, _ = make([], "azure_openai")
    assert type(azure) is AzureOpenAIResponsesProvider and azure.name == "azure_openai"
    compatible, _ = make([], "openai_compatible", base_url="http://127.0.0.1:1/v1")
    assert type(compatible) is OpenAICompatibleResponsesProvider
    chat = AbstractLLM.create("openai", model="gpt-4o", api_key="sk-test", api="chat")
    assert type(chat).__name__ == "OpenAIProvider"


def test_unknown_api_and_providers_without_variants_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"no api='websocket'; supported: 'chat', 'responses'"):
        AbstractLLM.create("openai", model="gpt-4o", api_key="sk-test", api="websocket")
    with pytest.raises(ConfigurationError, match=r"'anthropic' has no api='responses'; supported: 'chat'"):
        AbstractLLM.create("anthropic", model="claude-sonnet-4-0", api_key="k", api="responses")
    with pytest.raises(ConfigurationError, match="'ollama' has no api='responses'"):
        AbstractLLM.create("ollama", model="llama3.2", api="responses")


# -- request shape -------------------------------------------------------------------------------
def test_flat_tools_with_explicit_strict_and_hosted_tools_in_place() -> None:
    llm, server = make([response_body([message_item("ok")])])
    strict = {**WEATHER, "name": "strict_weather", "strict": True}
    llm.generate("hi", tools=[WEATHER, {"type": "web_search"}, strict])
    body = _valid(server.bodies()[0])
    assert [t["type"] for t in body["tools"]] == ["function", "web_search", "function"]
    assert body["tools"][1] == {"type": "web_search"}
    plain, strict_sent = body["tools"][0], body["tools"][2]
    assert plain["strict"] is False and "function" not in plain
    assert plain["name"] == "get_weather" and plain["parameters"]["required"] == ["city"]
    assert strict_sent["strict"] is True and strict_sent["parameters"]["additionalProperties"] is False
    assert "parallel_tool_calls" not in body and "tool_choice" not in body


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ("get_weather", {"type": "function", "name": "get_weather"}),
    ],
)
def test_tool_choice_and_parallel_tool_calls_flat(choice: str, sent: Any) -> None:
    llm, server = make([response_body([message_item("ok")])])
    llm.generate("hi", tools=[WEATHER], tool_choice=choice, parallel_tool_calls=False)
    body = _valid(server.bodies()[0])
    assert body["tool_choice"] == sent and body["parallel_tool_calls"] is False


def test_sampling_system_prompt_and_passthrough_keywords() -> None:
    llm, server = make([response_body([message_item("ok")])])
    llm.generate(
        [Message(role="system", content="Be brief."), Message(role="user", content="hi")],
        max_tokens=64,
        temperature=0.2,
        reasoning={"effort": "low"},
        store=True,
        metadata={"run": "1"},
    )
    body = _valid(server.bodies()[0])
    assert body["input"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert body["max_output_tokens"] == 64 and "max_tokens" not in body
    assert body["temperature"] == 0.2 and body["reasoning"] == {"effort": "low"}
    assert body["store"] is True and "include" not in body
    assert body["metadata"] == {"run": "1"}


def test_store_false_asks_for_encrypted_reasoning_once() -> None:
    llm, server = make([response_body([message_item("ok")])] * 2)
    llm.generate("hi", store=False)
    llm.generate("hi", store=False, include=["reasoning.encrypted_content", "message.output_text.logprobs"])
    first, second = (_valid(b) for b in server.bodies())
    assert first["store"] is False and first["include"] == ["reasoning.encrypted_content"]
    assert second["include"] == ["reasoning.encrypted_content", "message.output_text.logprobs"]


# -- history replay ---------------------------------------------------------------------------------
def test_reasoning_and_hosted_items_go_back_in_their_original_order() -> None:
    # reasoning → web search → reasoning → two parallel calls: each opaque item right before the
    # item it produced ("Item 'rs_…' of type 'reasoning' was provided without its required following item")
    output = [
        reasoning_item("rs_a", "gAAAA-a"),
        {
            "id": "ws_1",
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "query": "x"},
        },
        reasoning_item("rs_b", "gAAAA-b"),
        call_item("call_p", "get_weather", '{"city":"Paris"}'),
        call_item("call_o", "get_weather", '{"city": "Oslo"}'),
    ]
    llm, server = make(
        [response_body(output), response_body([message_item("Paris 18C, Oslo 4C")], id="resp_2")]
    )
    first = llm.generate("weather?", tools=[get_weather], store=False)
    assert [(c.id, c.arguments) for c in first.tool_calls] == [
        ("call_p", {"city": "Paris"}),
        ("call_o", {"city": "Oslo"}),
    ]
    assert first.finish_reason == "tool_calls"
    results = [
        ToolResult(call_id=c.id, name=c.name, output=get_weather(**c.arguments)) for c in first.tool_calls
    ]
    history = ["weather?", first.to_message(), Message(role="tool", tool_results=results)]
    second = llm.generate(history, tools=[get_weather], store=False)
    sent = _valid(server.bodies()[1])["input"]
    assert sent[1:4] == output[:3]  # verbatim, encrypted_content included
    assert sent[4:] == [
        {
            "type": "function_call",
            "call_id": "call_p",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {
            "type": "function_call",
            "call_id": "call_o",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
        {"type": "function_call_output", "call_id": "call_p", "output": "18C sunny"},
        {"type": "function_call_output", "call_id": "call_o", "output": "4C rain"},
    ]
    assert second.content == "Paris 18C, Oslo 4C" and second.finish_reason == "stop"


def test_an_assistant_text_item_is_replayed_verbatim_after_its_reasoning() -> None:
    output = [reasoning_item("rs_1", "gAAAA-1"), message_item("Paris.", id="msg_9")]
    llm, server = make([response_body(output), response_body([message_item("Yes.")], id="resp_2")])
    first = llm.generate("capital of France?")
    llm.generate(["capital of France?", first.to_message(), "sure?"])
    sent = server.bodies()[1]["input"]
    assert sent == [
        {"role": "user", "content": "capital of France?"},
        *output,
        {"role": "user", "content": "sure?"},
    ]


def test_foreign_and_long_call_ids_are_mapped_the_same_way_for_call_and_output() -> None:
    long_id = "get_weather__thought__" + "A" * 900  # a signature smuggled in an id (litellm#41534)
    history = [
        Message(role="user", content="weather?"),
        Message(role="assistant", tool_calls=[tool_call(long_id), tool_call("toolu_01XyZ")]),
        Message(
            role="tool",
            tool_results=[
                ToolResult(call_id=long_id, name="get_weather", output="18C"),
                ToolResult(call_id="toolu_01XyZ", name="get_weather", output="4C"),
            ],
        ),
    ]
    llm, server = make([response_body([message_item("ok")])] * 2)
    llm.generate(history, tools=[WEATHER])
    llm.generate(history, tools=[WEATHER])
    first, again = server.bodies()
    _valid(first)
    ids = [i["call_id"] for i in first["input"][1:]]
    assert ids[0] == ids[2] == wire_call_id(long_id) and len(ids[0]) <= 64
    assert ids[1] == ids[3] == "toolu_01XyZ"
    assert first == again  # deterministic


def tool_call(call_id: str) -> Any:
    from toolwire.types import ToolCall

    return ToolCall(call_id, "get_weather", {"city": "Paris"}, '{"city":"Paris"}')


def test_previous_response_id_sends_only_what_the_service_does_not_hold() -> None:
    output = [call_item("call_1", "get_weather", '{"city":"Paris"}')]
    llm, server = make(
        [response_body(output, id="resp_A"), response_body([message_item("18C")], id="resp_B")]
    )
    first = llm.generate("weather in Paris?", tools=[WEATHER])
    history = [
        "weather in Paris?",
        first.to_message(),
        Message(role="tool", tool_results=[ToolResult(call_id="call_1", name="get_weather", output="18C")]),
    ]
    llm.generate(history, tools=[WEATHER], previous_response_id=first.id)
    body = _valid(server.bodies()[1])
    assert body["previous_response_id"] == "resp_A"
    assert body["input"] == [{"type": "function_call_output", "call_id": "call_1", "output": "18C"}]


def test_invalid_encrypted_content_drops_it_and_retries_once(caplog: pytest.LogCaptureFixture) -> None:
    refused = (
        400,
        {
            "error": {
                "message": "The encrypted content for item rs_1 could not be verified.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_encrypted_content",
            }
        },
    )
    history = [
        "q",
        Message(
            role="assistant",
            content="a",
            provider_data={
                WIRE: {"id": "resp_0", "output": [reasoning_item("rs_1", "gAAAA-x"), message_item("a")]}
            },
        ),
        "q2",
    ]
    llm, server = make([refused, response_body([message_item("fine")])])
    with caplog.at_level(logging.WARNING, logger="toolwire.provider.responses"):
        response = llm.generate(history, store=False)
    assert response.content == "fine"
    first, retry = server.bodies()
    assert [i.get("type") for i in first["input"]] == [None, "reasoning", "message", None]
    assert [i.get("type") for i in retry["input"]] == [None, "message", None]
    assert "invalid_encrypted_content" in caplog.text and "retrying once" in caplog.text
    # a second refusal is not retried again, and other 400s are never retried
    llm, server = make([refused, refused])
    with pytest.raises(InvalidRequestError) as info:
        llm.generate(history, store=False)
    assert info.value.code == "invalid_encrypted_content" and len(server.requests) == 2


# -- responses ------------------------------------------------------------------------------------
def test_usage_is_normalized_and_the_raw_usage_kept() -> None:
    llm, _ = make([response_body([message_item("ok")])])
    response = llm.generate("hi")
    assert response.usage == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    assert response.raw_response["usage"]["output_tokens_details"]["reasoning_tokens"] == 3
    assert response.raw_response["usage"]["input_tokens_details"]["cached_tokens"] == 4


@pytest.mark.parametrize(
    ("reason", "finish"), [("max_output_tokens", "length"), ("content_filter", "content_filter")]
)
def test_incomplete_responses(reason: str, finish: str) -> None:
    body = response_body([message_item("Par")], status="incomplete", incomplete_details={"reason": reason})
    assert parse_response_body(body).finish_reason == finish


class City(pydantic.BaseModel):
    city: str
    country: str


def test_structured_output_and_refusal() -> None:
    refusal = {
        "id": "msg_r",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "refusal", "refusal": "I can't help with that."}],
    }
    llm, server = make(
        [response_body([message_item('{"city":"Paris","country":"France"}')]), response_body([refusal])]
    )
    parsed = llm.generate("largest city of France?", response_format=City)
    assert parsed.parsed == City(city="Paris", country="France")
    fmt = _valid(server.bodies()[0])["text"]["format"]
    assert (fmt["type"], fmt["name"], fmt["strict"]) == ("json_schema", "City", True)
    assert fmt["schema"]["additionalProperties"] is False
    refused = llm.generate("something bad", response_format=City)
    assert refused.refusal == "I can't help with that." and refused.parsed is None and refused.content is None


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (
            401,
            {
                "message": "Incorrect API key provided",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            },
            AuthenticationError,
        ),
        (
            429,
            {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"},
            RateLimitError,
        ),
        (
            400,
            {
                "message": "The requested model 'x' does not exist.",
                "type": "invalid_request_error",
                "param": "model",
                "code": "model_not_found",
            },
            InvalidRequestError,
        ),
    ],
)
def test_http_errors_are_typed(status: int, error: dict[str, Any], kind: type[Exception]) -> None:
    llm, _ = make([(status, {"error": error})])
    with pytest.raises(kind) as info:
        llm.generate("hi")
    assert info.value.status_code == status and info.value.request_id == "req_1"
    assert error["message"] in str(info.value)


# -- streaming -------------------------------------------------------------------------------------
def _interleaved_stream() -> str:
    a = call_item("call_a", "get_weather", "", id="fc_a")
    b = call_item("call_b", "get_weather", "", id="fc_b")
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": response_body([], status="in_progress", usage=None)},
        {"type": "response.output_item.added", "output_index": 0, "item": {**a, "status": "in_progress"}},
        {"type": "response.output_item.added", "output_index": 1, "item": {**b, "status": "in_progress"}},
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_b",
            "output_index": 1,
            "delta": '{"city":',
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_a",
            "output_index": 0,
            "delta": '{"city":',
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_a",
            "output_index": 0,
            "delta": '"Paris"}',
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": "fc_b",
            "output_index": 1,
            "delta": '"Oslo"}',
        },
        {
            "type": "response.function_call_arguments.done",
            "item_id": "fc_a",
            "output_index": 0,
            "arguments": '{"city":"Paris"}',
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**a, "arguments": '{"city":"Paris"}'},
        },
        {
            "type": "response.function_call_arguments.done",
            "item_id": "fc_b",
            "output_index": 1,
            "arguments": '{"city":"Oslo"}',
        },
        {
            "type": "response.output_item.done",
            "output_index": 1,
            "item": {**b, "arguments": '{"city":"Oslo"}'},
        },
    ]
    final = response_body([{**a, "arguments": '{"city":"Paris"}'}, {**b, "arguments": '{"city":"Oslo"}'}])
    events.append({"type": "response.completed", "response": final})
    return sse(events)


def test_interleaved_parallel_calls_are_assembled_by_item() -> None:
    llm, _ = make([_interleaved_stream()])
    stream = llm.generate("weather?", tools=[WEATHER], stream=True)
    deltas = [d for chunk in stream for d in chunk.tool_call_deltas or ()]
    assert [(d["index"], d.get("id")) for d in deltas if d.get("id")] == [(0, "call_a"), (1, "call_b")]
    response = stream.response
    assert [(c.id, c.arguments) for c in response.tool_calls] == [
        ("call_a", {"city": "Paris"}),
        ("call_b", {"city": "Oslo"}),
    ]
    assert response.finish_reason == "tool_calls"
    unstreamed = parse_response_body(response.raw_response)
    assert (unstreamed.tool_calls, unstreamed.usage, unstreamed.id) == (
        response.tool_calls,
        response.usage,
        response.id,
    )


async def test_interleaved_parallel_calls_async() -> None:
    llm, _ = make([_interleaved_stream()])
    stream = await llm.agenerate("weather?", tools=[WEATHER], stream=True)
    response = await stream.aresponse()
    assert [c.arguments["city"] for c in response.tool_calls] == ["Paris", "Oslo"]


def test_encrypted_reasoning_is_taken_from_output_item_done() -> None:
    added = reasoning_item("rs_1", "gAAAA-partial")
    done = reasoning_item("rs_1", "gAAAA-complete")
    events = [
        {"type": "response.output_item.added", "output_index": 0, "item": added},
        {"type": "response.output_item.done", "output_index": 0, "item": done},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {**message_item(""), "content": []},
        },
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "delta": "hi"},
        {"type": "response.output_item.done", "output_index": 1, "item": message_item("hi")},
        {"type": "response.completed", "response": response_body([done, message_item("hi")])},
    ]
    llm, _ = make([sse(events)])
    stream = llm.generate("hi", stream=True, store=False)
    assert [c.content for c in stream if c.content] == ["hi"]
    assert stream.response.provider_data[WIRE]["output"][0]["encrypted_content"] == "gAAAA-complete"


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (
            {
                "type": "error",
                "code": "rate_limit_exceeded",
                "message": "slow down",
                "param": None,
                "sequence_number": 3,
            },
            RateLimitError,
        ),
        (
            {
                "type": "response.failed",
                "sequence_number": 3,
                "response": response_body(
                    [],
                    status="failed",
                    error={"code": "server_error", "message": "The model failed to generate a response."},
                ),
            },
            ServerError,
        ),
    ],
)
def test_errors_inside_a_200_stream_are_typed(event: dict[str, Any], kind: type[Exception]) -> None:
    events = [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message_item(""), "content": []},
        },
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": "Hel"},
        event,
    ]
    llm, _ = make([sse(events)])
    stream = llm.generate("hi", stream=True)
    with pytest.raises(kind) as info:
        for _ in stream:
            pass
    message = event.get("message") or event["response"]["error"]["message"]
    assert message in str(info.value)


def test_a_stream_cut_before_completed_keeps_what_arrived() -> None:
    events = [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message_item(""), "content": []},
        },
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "delta": "Hel"},
    ]
    llm, _ = make([sse(events)])
    stream = llm.generate("hi", stream=True)
    with pytest.raises(StreamInterruptedError) as info:
        for _ in stream:
            pass
    assert info.value.partial_content == "Hel"


# -- Session, Azure --------------------------------------------------------------------------------
def test_session_runs_the_tool_loop_on_responses() -> None:
    output = [reasoning_item("rs_1", "gAAAA-1"), call_item("call_1", "get_weather", '{"city":"Paris"}')]
    llm, server = make([response_body(output), response_body([message_item("18C and sunny.")], id="resp_2")])
    session = Session(llm, tools=[get_weather], store=False)
    final = session.generate("Weather in Paris?")
    assert final.content == "18C and sunny."
    second = _valid(server.bodies()[1])["input"]
    assert [i.get("type") for i in second] == [None, "reasoning", "function_call", "function_call_output"]
    assert second[3] == {"type": "function_call_output", "call_id": "call_1", "output": "18C sunny"}
    assert [m.role for m in session.messages] == ["user", "assistant", "tool", "assistant"]


def test_azure_routes_auth_and_dated_versions() -> None:
    llm, server = make([response_body([message_item("ok")])] * 3, "azure_openai")
    llm.generate("hi")
    assert str(server.requests[0].url) == "https://res.openai.azure.com/openai/v1/responses"
    assert server.requests[0].headers["api-key"] == "azure-key"
    assert json.loads(server.requests[0].content)["model"] == "gpt-5-mini"
    dated, server = make(
        [response_body([message_item("ok")])], "azure_openai", api_version="2025-04-01-preview"
    )
    dated.generate("hi")
    assert str(server.requests[0].url) == (
        "https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview"
    )
    assert json.loads(server.requests[0].content)["model"] == "gpt-5-mini"
    entra, server = make(
        [response_body([message_item("ok")])], "azure_openai", azure_ad_token_provider=lambda: "tok"
    )
    entra.generate("hi")
    assert server.requests[0].headers["authorization"] == "Bearer tok"
    assert "api-key" not in server.requests[0].headers
    with pytest.raises(ConfigurationError, match="2024-10-21 does not serve the Responses API"):
        make([], "azure_openai", api_version="2024-10-21")


def test_an_edited_text_replaces_the_recorded_message_items_in_place() -> None:
    output = [
        reasoning_item("rs_1", "gAAAA-1"),
        message_item("Let me check. ", id="msg_a"),
        reasoning_item("rs_2", "gAAAA-2"),
        message_item("Paris.", id="msg_b"),
    ]
    llm, server = make([response_body(output)] + [response_body([message_item("ok")])] * 2)
    turn = llm.generate("capital?").to_message()
    assert turn.content == "Let me check. Paris."
    llm.generate(["capital?", turn, "thanks"])
    assert server.bodies()[1]["input"][1:5] == output  # unchanged text: every item verbatim
    turn.content = "Paris."
    llm.generate(["capital?", turn, "thanks"])
    assert server.bodies()[2]["input"][1:4] == [
        output[0],
        {"role": "assistant", "content": "Paris."},
        output[2],
    ]


def test_a_429_is_retried_after_its_retry_after() -> None:
    limited = (
        429,
        {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}},
    )
    llm, server = make([limited, response_body([message_item("ok")])], max_retries=1, retry_deadline=5)
    server_answers = server.answers
    assert llm.generate("hi").content == "ok"
    assert len(server.requests) == 2 and server_answers == []
    assert server.bodies()[0] == server.bodies()[1]


@pytest.mark.parametrize("provider", ["openai", "azure_openai"])
@pytest.mark.parametrize("penalty", ["frequency_penalty", "presence_penalty"])
def test_penalties_are_refused_before_sending_where_the_responses_api_has_none(
    provider: str, penalty: str
) -> None:
    # OpenAI's CreateResponse (and Azure's) has no penalties; the service would refuse the body
    llm, server = make([response_body([message_item("ok")])], provider)
    with pytest.raises(ValueError, match=penalty):
        llm.generate("hi", **{penalty: 0.5})
    assert server.requests == []


def test_an_open_responses_server_gets_the_penalties_it_may_take() -> None:
    llm, server = make(
        [response_body([message_item("ok")])], "openai_compatible", base_url="http://127.0.0.1:1/v1"
    )
    llm.generate("hi", frequency_penalty=0.5)
    assert server.requests and json.loads(server.requests[0].content)["frequency_penalty"] == 0.5
