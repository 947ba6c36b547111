"""Every recorded Gemini / Vertex AI fixture replayed through toolwire's public API.

The google-genai SDK is the oracle: it parses the same response bodies and validates the request
bodies we send (its pydantic models accept the camelCase wire names).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx2
import pytest
from google.genai import types as gtypes

from support.replay import ReplayFactory, fixture_path, fixtures_root, load_cassette
from support.replay import replay as replay
from toolwire import errors
from toolwire.providers.gemini import GeminiStreamState, gemini_error, parse_generate_content
from toolwire.providers.registry import AbstractLLM
from toolwire.testing import Cassette, ReplayTransport
from toolwire.types import GenerateResponse, Message, ToolCall, ToolResult

GEMINI = "gemini"

WEATHER = {
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}
WEATHER_LOCATION = {
    "name": "get_weather",
    "description": "Get current weather information for a given location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {
                "type": "string",
                "description": "The city and state/country for weather information",
            },
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
        },
        "required": ["location"],
    },
}
SYSTEM_WEATHER = (
    "You are a helpful assistant that can answer questions and help with tasks. Use the available "
    "tools when appropriate."
)


class FakeCredentials:
    """The google-auth Credentials surface the provider uses: token, valid, refresh(request)."""

    def __init__(self, token: str = "ya29.fake-token") -> None:
        self._next = token
        self.token: str | None = None
        self.refreshes: list[Any] = []

    @property
    def valid(self) -> bool:
        return self.token is not None

    def refresh(self, request: Any) -> None:
        self.refreshes.append(request)
        self.token = self._next


def _llm(r: Any, model: str, **config: Any) -> Any:
    config.setdefault("api_key", "test-key")
    return AbstractLLM.create(
        "gemini", model=model, http_client=r.client, async_http_client=r.async_client, **config
    )


def _body(r: Any, index: int) -> dict[str, Any]:
    body = r.requests[index].json
    assert isinstance(body, dict)
    return body


def _sdk_parts(body: Any) -> list[gtypes.Part]:
    """The oracle's reading of the first candidate's parts. Only the `Content` is validated: the
    SDK's response model forbids fields newer than itself (usageMetadata.serviceTier...)."""
    content = gtypes.Content.model_validate(body["candidates"][0]["content"])
    return list(content.parts or [])


def _sdk_calls(body: Any) -> list[gtypes.FunctionCall]:
    return [p.function_call for p in _sdk_parts(body) if p.function_call is not None]


def _sdk_signatures(body: Any) -> list[str | None]:
    out: list[str | None] = []
    for part in _sdk_parts(body):
        if part.function_call is not None:
            sig = part.thought_signature
            out.append(base64.b64encode(sig).decode() if sig else None)
    return out


def _assert_matches_oracle(resp: GenerateResponse, body: Any) -> None:
    expected = _sdk_calls(body)
    calls = list(resp.tool_calls or [])
    assert [c.name for c in calls] == [c.name for c in expected]
    assert [c.arguments for c in calls] == [dict(c.args or {}) for c in expected]
    for ours, theirs in zip(calls, expected, strict=True):
        if theirs.id:
            assert ours.id == theirs.id
            assert ours.provider_data == {
                "gemini": {
                    "thought_signature": _gemini(ours)["thought_signature"],
                    "id": theirs.id,
                }
            }
        else:
            assert ours.id.startswith("call_")
            assert (ours.provider_data or {})["gemini"]["id"] is None
    assert [(c.provider_data or {})["gemini"]["thought_signature"] for c in calls] == _sdk_signatures(body)


def _validate_request(body: dict[str, Any]) -> None:
    """The oracle accepts every piece of the request body we built."""
    for content in body["contents"]:
        gtypes.Content.model_validate(content)
        assert content["role"] in ("user", "model")
        assert content["parts"], "a content without parts is a 400"
    if "systemInstruction" in body:
        gtypes.Content.model_validate(body["systemInstruction"])
    for tool in body.get("tools", []):
        validated = gtypes.Tool.model_validate(tool)
        for declaration in validated.function_declarations or []:
            gtypes.FunctionDeclaration.model_validate(declaration.model_dump(exclude_none=True))
    config = {k: body[k] for k in ("toolConfig", "systemInstruction") if k in body}
    config.update(body.get("generationConfig", {}))
    gtypes.GenerateContentConfig.model_validate(config)
    assert set(body) <= {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}
    # turn order: a model turn with function calls follows a user turn (text or function responses)
    contents = body["contents"]
    assert contents[0]["role"] == "user"
    for i in range(1, len(contents)):
        assert contents[i]["role"] != contents[i - 1]["role"], "same-role contents are merged"


def _gemini(call: ToolCall) -> dict[str, Any]:
    data = call.provider_data or {}
    own = data["gemini"]
    assert isinstance(own, dict)
    return own


def _recorded_request(r: Any, index: int) -> dict[str, Any]:
    request = r.cassette.interactions[index].request
    assert request is not None and isinstance(request.json, dict)
    return request.json


def _function_responses(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [p["functionResponse"] for p in content["parts"] if "functionResponse" in p]


def _function_calls(content: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in content["parts"] if "functionCall" in p]


# -- every fixture is covered -------------------------------------------------------------------
COVERED = {
    "gemini_error_400_api_key_invalid_stream.yaml",
    "gemini_error_404_model_not_found.yaml",
    "gemini_error_429_resource_exhausted.json",
    "gemini_function_call_stream_json_array_and_responses.yaml",
    "gemini_function_call_stream_thought_signature_and_response.yaml",
    "gemini_multi_turn_function_calls.yaml",
    "gemini_parallel_function_calls.yaml",
    "gemini_parallel_function_calls_stream_sse.yaml",
    "gemini_parallel_three_function_calls_and_responses.yaml",
    "gemini_single_function_call_and_response.yaml",
    "gemini_stream_two_function_calls_sse.yaml",
    "gemini_vertex_function_call_with_id_and_response.yaml",
    "gemini_vertex_stream_function_call_partial_args.chunks.txt",
}


def test_every_gemini_fixture_is_replayed_here() -> None:
    present = {p.name for p in (fixtures_root() / "gemini").iterdir() if p.is_file()}
    assert present == COVERED


# -- single call, sync and async ----------------------------------------------------------------
def _check_single_turn1(r: Any, resp: GenerateResponse) -> None:
    recorded = r.cassette.interactions[0].response.json()
    _assert_matches_oracle(resp, recorded)
    assert resp.content is None
    assert resp.finish_reason == "tool_calls"  # recorded finishReason is STOP
    assert resp.usage == {"prompt_tokens": 49, "completion_tokens": 15 + 48, "total_tokens": 112}
    assert resp.model == "gemini-2.5-flash"
    assert resp.id == "78F7aafeKcDVz7IPh4DK-AM"
    assert resp.provider == "gemini"
    assert resp.provider_data == {
        "gemini": {"finish_reason": "STOP", "finish_message": "Model generated function call(s)."}
    }
    (call,) = resp.tool_calls or []
    assert (call.name, call.arguments) == ("get_weather", {"city": "Paris"})
    sent = _body(r, 0)
    _validate_request(sent)
    assert sent["contents"] == [{"role": "user", "parts": [{"text": "What's the weather in Paris?"}]}]
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    (declaration,) = sent["tools"][0]["functionDeclarations"]
    assert declaration == {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    request = r.requests[0]
    assert (
        request.url
        == "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
    assert request.headers["x-goog-api-key"] == "test-key"
    assert "key=" not in request.url and "authorization" not in request.headers


def _check_single_turn2(r: Any, call: ToolCall, resp: GenerateResponse) -> None:
    assert resp.content == "The weather in Paris is sunny with a temperature of 22C."
    assert resp.tool_calls is None
    assert resp.finish_reason == "stop"
    assert resp.usage == {"prompt_tokens": 88, "completion_tokens": 15, "total_tokens": 103}
    sent = _body(r, 1)
    _validate_request(sent)
    _, model, results = sent["contents"]
    recorded_signature = r.cassette.interactions[0].response.json()["candidates"][0]["content"]["parts"][0][
        "thoughtSignature"
    ]
    assert model == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": recorded_signature,
            }
        ],
    }
    # Gemini gave no id: none is sent (pydantic-ai#4645), the result is matched by name
    assert results == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": "Sunny, 22C in Paris"}}}
        ],
    }
    # the SDK reads our echoed signature back to the same bytes the model sent
    part = gtypes.Part.model_validate(model["parts"][0])
    assert part.thought_signature == base64.b64decode(recorded_signature)


def _single_followup(resp: GenerateResponse) -> list[Any]:
    (call,) = resp.tool_calls or []
    return [
        Message(role="user", content="What's the weather in Paris?"),
        resp.to_message(),
        Message(role="tool", tool_results=[ToolResult(call.id, call.name, "Sunny, 22C in Paris")]),
    ]


def test_single_function_call_and_response_sync(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_single_function_call_and_response.yaml")
    llm = _llm(r, "gemini-2.5-flash")
    resp = llm.generate("What's the weather in Paris?", tools=[WEATHER], tool_choice="auto")
    _check_single_turn1(r, resp)
    final = llm.generate(_single_followup(resp), tools=[WEATHER], tool_choice="auto")
    _check_single_turn2(r, resp.tool_calls[0], final)
    r.assert_all_used()


async def test_single_function_call_and_response_async(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_single_function_call_and_response.yaml")
    llm = _llm(r, "gemini-2.5-flash")
    resp = await llm.agenerate("What's the weather in Paris?", tools=[WEATHER], tool_choice="auto")
    _check_single_turn1(r, resp)
    final = await llm.agenerate(_single_followup(resp), tools=[WEATHER], tool_choice="auto")
    _check_single_turn2(r, resp.tool_calls[0], final)
    r.assert_all_used()


# -- parallel calls -------------------------------------------------------------------------------
def _weather_messages() -> list[Message]:
    return [
        Message(role="system", content=SYSTEM_WEATHER),
        Message(role="user", content="What is the weather like in Boston & new Delhi?"),
    ]


def _check_two_weather_calls(resp: GenerateResponse) -> None:
    calls = list(resp.tool_calls or [])
    assert [(c.name, c.arguments) for c in calls] == [
        ("get_weather", {"location": "Boston"}),
        ("get_weather", {"location": "New Delhi"}),
    ]
    assert calls[0].id != calls[1].id  # no ids on the wire: generated, distinct
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 64, "completion_tokens": 11, "total_tokens": 75}
    assert resp.model == "gemini-2.0-flash"


def _check_weather_request(body: dict[str, Any]) -> None:
    _validate_request(body)
    assert body["systemInstruction"] == {"role": "user", "parts": [{"text": SYSTEM_WEATHER}]}
    (declaration,) = body["tools"][0]["functionDeclarations"]
    assert declaration["parameters"] == {
        "type": "object",
        "properties": {
            "location": {
                "type": "string",
                "description": "The city and state/country for weather information",
            },
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
        },
        "required": ["location"],
    }
    assert "toolConfig" not in body  # tool_choice not given


def test_parallel_function_calls_sync(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_parallel_function_calls.yaml")
    llm = _llm(r, "gemini-2.0-flash")
    resp = llm.generate(_weather_messages(), tools=[WEATHER_LOCATION], parallel_tool_calls=True)
    _check_two_weather_calls(resp)
    _assert_matches_oracle(resp, r.cassette.interactions[0].response.json())
    body = _body(r, 0)
    _check_weather_request(body)
    assert "parallel_tool_calls" not in json.dumps(body)  # not a Gemini parameter
    # the generated ids are stable: the same body parsed again gives the same ids
    again = parse_generate_content(r.cassette.interactions[0].response.json())
    assert [c.id for c in again.tool_calls or []] == [c.id for c in resp.tool_calls or []]
    r.assert_all_used()


def test_parallel_function_calls_stream_sse_sync(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_parallel_function_calls_stream_sse.yaml")
    llm = _llm(r, "gemini-2.0-flash")
    stream = llm.generate(_weather_messages(), tools=[WEATHER_LOCATION], stream=True)
    chunks = list(stream)
    resp = stream.response
    _check_two_weather_calls(resp)
    # both calls arrive whole in ONE event
    (chunk,) = [c for c in chunks if c.tool_call_deltas]
    assert [d["name"] for d in chunk.tool_call_deltas or []] == ["get_weather", "get_weather"]
    assert [json.loads(d["arguments"]) for d in chunk.tool_call_deltas or []] == [
        {"location": "Boston"},
        {"location": "New Delhi"},
    ]
    assert [d["id"] for d in chunk.tool_call_deltas or []] == [c.id for c in resp.tool_calls or []]
    assert chunk.finish_reason == "tool_calls"
    request = r.requests[0]
    assert request.url.endswith("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse")
    assert request.headers["accept"] == "text/event-stream"
    _check_weather_request(_body(r, 0))
    # oracle: the SDK reads the single event's calls the same way
    event = json.loads(r.cassette.interactions[0].response.text.split("data: ", 1)[1])
    _assert_matches_oracle(resp, event)
    r.assert_all_used()


async def test_stream_two_function_calls_sse_async(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_stream_two_function_calls_sse.yaml")
    llm = _llm(r, "gemini-2.0-flash")
    tool = {
        "name": "get_current_temperature",
        "description": "Get the current temperature in a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The name of the city to get the temperature for."}
            },
            "required": ["city"],
        },
    }
    stream = await llm.agenerate("What is the temperature in Paris and London?", tools=[tool], stream=True)
    deltas = [d async for chunk in stream for d in chunk.tool_call_deltas or []]
    resp = await stream.aresponse()
    calls = list(resp.tool_calls or [])
    assert [(c.name, c.arguments) for c in calls] == [
        ("get_current_temperature", {"city": "Paris"}),
        ("get_current_temperature", {"city": "London"}),
    ]
    assert len({c.id for c in calls}) == 2  # same function twice: still two distinct, stable ids
    assert [d["index"] for d in deltas] == [0, 1]
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 37, "completion_tokens": 14, "total_tokens": 51}
    assert resp.id == "h99baZTLOoSShMIPgYaAgQw"
    _validate_request(_body(r, 0))
    r.assert_all_used()


SEARCH_TOOLS = [
    {
        "name": f"parallel_local_search_{n}",
        "description": f"Local search tool #{i} for concurrency testing.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "description": "Search query", "title": "Query"}},
            "required": ["query"],
            "additionalProperties": False,
        },
    }
    for i, n in enumerate(("one", "two", "three"), start=1)
]


def test_parallel_three_function_calls_and_responses(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_parallel_three_function_calls_and_responses.yaml")
    recorded = _recorded_request(r, 0)
    system = recorded["systemInstruction"]["parts"][0]["text"]
    task = recorded["contents"][0]["parts"][0]["text"]
    llm = _llm(r, "gemini-2.5-flash")
    history: list[Any] = [Message(role="system", content=system), Message(role="user", content=task)]
    resp = llm.generate(history, tools=SEARCH_TOOLS)
    _assert_matches_oracle(resp, r.cassette.interactions[0].response.json())
    calls = list(resp.tool_calls or [])
    assert [c.name for c in calls] == [t["name"] for t in SEARCH_TOOLS]
    assert [c.arguments["query"] for c in calls] == [
        "latest OpenAI model release notes",
        "latest Anthropic model release notes",
        "latest Gemini model release notes",
    ]
    assert resp.usage == {"prompt_tokens": 291, "completion_tokens": 70 + 67, "total_tokens": 428}
    # the dialect pass dropped title/additionalProperties
    declaration = _body(r, 0)["tools"][0]["functionDeclarations"][0]
    assert declaration["parameters"]["properties"]["query"] == {
        "type": "string",
        "description": "Search query",
    }
    # results handed back in a different order: sent in call order, all in ONE user content
    results = [
        ToolResult(c.id, c.name, f"[{c.name.rsplit('_', 1)[1]}] {c.arguments['query']}") for c in calls
    ]
    history += [resp.to_message(), Message(role="tool", tool_results=list(reversed(results)))]
    final = llm.generate(history, tools=SEARCH_TOOLS)
    sent = _body(r, 1)
    _validate_request(sent)
    _, model, user = sent["contents"]
    signatures = [p.get("thoughtSignature") for p in _function_calls(model)]
    assert signatures[0] == _gemini(calls[0])["thought_signature"]
    assert signatures[1:] == [None, None]  # only the first call of the turn carried one
    assert _function_responses(user) == [
        {
            "name": "parallel_local_search_one",
            "response": {"result": "[one] latest OpenAI model release notes"},
        },
        {
            "name": "parallel_local_search_two",
            "response": {"result": "[two] latest Anthropic model release notes"},
        },
        {
            "name": "parallel_local_search_three",
            "response": {"result": "[three] latest Gemini model release notes"},
        },
    ]
    assert final.content is not None and final.content.startswith(
        "Here is a summary of the latest model release"
    )
    assert final.finish_reason == "stop"
    # a signature on the final text part is kept, and echoed on the text when the turn is replayed
    text_signature = r.cassette.interactions[1].response.json()["candidates"][0]["content"]["parts"][0][
        "thoughtSignature"
    ]
    assert (final.provider_data or {})["gemini"]["thought_signature"] == text_signature
    from toolwire.providers.gemini import gemini_contents

    _, contents = gemini_contents([*history, final.to_message()])
    assert contents[-1] == {
        "role": "model",
        "parts": [{"text": final.content, "thoughtSignature": text_signature}],
    }
    r.assert_all_used()


# -- thought signature while streaming (gemini-3), async stream -----------------------------------
async def test_stream_thought_signature_echoed_async(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_function_call_stream_thought_signature_and_response.yaml")
    llm = _llm(r, "gemini-3-pro-preview")
    tool = {"name": "get_country", "description": "", "parameters": {"type": "object", "properties": {}}}
    prompt = "What is the capital of the user country? Call the tool"
    stream = await llm.agenerate(prompt, tools=[tool], stream=True)
    resp = await stream.aresponse()
    (call,) = resp.tool_calls or []
    assert (call.name, call.arguments) == ("get_country", {})
    event = json.loads(r.cassette.interactions[0].response.text.split("data: ")[1].strip())
    _assert_matches_oracle(resp, event)
    signature = _gemini(call)["thought_signature"]
    assert signature.startswith("EpwICpkIAXLI2nxl")
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 29, "completion_tokens": 10 + 202, "total_tokens": 241}
    first = _body(r, 0)
    _validate_request(first)
    # a function without parameters is declared without `parameters`
    assert first["tools"][0]["functionDeclarations"] == [{"name": "get_country", "description": ""}]

    history = [
        prompt,
        resp.to_message(),
        Message(role="tool", tool_results=[ToolResult(call.id, "", "Mexico")]),
    ]
    stream2 = await llm.agenerate(history, tools=[tool], stream=True)
    texts = [chunk.content async for chunk in stream2 if chunk.content]
    final = await stream2.aresponse()
    assert texts == ["The capital of Mexico", " is Mexico City."]
    assert final.content == "The capital of Mexico is Mexico City."
    assert final.finish_reason == "stop"
    assert final.usage == {"prompt_tokens": 257, "completion_tokens": 8, "total_tokens": 265}
    sent = _body(r, 1)
    _validate_request(sent)
    _, model, user = sent["contents"]
    assert model["parts"] == [
        {"functionCall": {"name": "get_country", "args": {}}, "thoughtSignature": signature}
    ]
    # the result had no name: it is taken from the call it answers
    assert _function_responses(user) == [{"name": "get_country", "response": {"result": "Mexico"}}]
    r.assert_all_used()


# -- the JSON-array (no alt=sse) mode: parsed as a merged list -------------------------------------
def _json_array_cassette() -> Cassette:
    cassette = load_cassette(
        fixture_path(GEMINI, "gemini_function_call_stream_json_array_and_responses.yaml")
    )
    for interaction in cassette.interactions:
        assert interaction.request is not None
        # we always stream with alt=sse; the array bodies are served to the non-streaming call
        interaction.request.uri = interaction.request.uri.replace(
            ":streamGenerateContent", ":generateContent"
        )
    return cassette


def test_json_array_bodies_and_three_turns(replay: ReplayFactory) -> None:
    r = replay(_json_array_cassette())
    llm = _llm(r, "gemini-2.5-flash")
    tool = {
        "name": "pelican_name_generator",
        "description": "",
        "parameters": {"type": "object", "properties": {}},
    }
    extra = {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}}
    history: list[Any] = ["Two names for a pet pelican"]
    resp = llm.generate(history, tools=[tool], extra_body=extra)
    bodies = [i.response.json() for i in r.cassette.interactions]
    (call,) = resp.tool_calls or []
    assert call.name == "pelican_name_generator" and call.arguments == {}
    # the thought part is not content; it is kept beside it
    assert resp.content is None
    assert (resp.provider_data or {})["gemini"]["thoughts"].startswith("**Generating Pelican Names**")
    assert resp.usage == {"prompt_tokens": 32, "completion_tokens": 12 + 42, "total_tokens": 86}
    oracle = [c for element in bodies[0] for c in _sdk_calls(element)]
    assert [(c.name, dict(c.args or {})) for c in oracle] == [(call.name, call.arguments)]
    first = _body(r, 0)
    _validate_request(first)
    assert first["generationConfig"] == {"thinkingConfig": {"includeThoughts": True}}

    history += [
        resp.to_message(),
        Message(role="tool", tool_results=[ToolResult(call.id, call.name, "Charles")]),
    ]
    resp2 = llm.generate(history, tools=[tool], extra_body=extra)
    (call2,) = resp2.tool_calls or []
    assert call2.id != call.id  # same function, another response: another generated id
    history += [
        resp2.to_message(),
        Message(role="tool", tool_results=[ToolResult(call2.id, call2.name, "Sammy")]),
    ]
    final = llm.generate(history, tools=[tool], extra_body=extra)
    assert final.content == "How about Charles and Sammy?"
    assert final.finish_reason == "stop"
    assert final.id == "O4pyaoO6FrXO_uMPga2X6QY"
    sent = _body(r, 2)
    _validate_request(sent)
    roles = [c["role"] for c in sent["contents"]]
    assert roles == ["user", "model", "user", "model", "user"]
    responses = [fr for c in sent["contents"] for fr in _function_responses(c)]
    assert responses == [
        {"name": "pelican_name_generator", "response": {"result": "Charles"}},
        {"name": "pelican_name_generator", "response": {"result": "Sammy"}},
    ]
    # generated ids never travel: neither on the calls nor on the responses
    assert "call_" not in json.dumps(sent)
    assert sent["contents"][1]["parts"][0]["thoughtSignature"] == _gemini(call)["thought_signature"]
    assert "thoughtSignature" not in sent["contents"][3]["parts"][0]
    r.assert_all_used()


# -- several rounds, tool_choice=required ----------------------------------------------------------
def test_multi_turn_function_calls(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_multi_turn_function_calls.yaml")
    interactions = r.cassette.interactions
    first = _recorded_request(r, 0)
    tools = [
        {"name": "generate_topic", "description": "", "parameters": {"type": "object", "properties": {}}},
        {
            "name": "final_result",
            "description": "The final response which ends this conversation",
            "parameters": {
                "type": "object",
                "properties": {"response": {"type": "array", "items": {"type": "string"}}},
                "required": ["response"],
            },
        },
    ]
    # the topics each generate_topic call returned in the recording, in order
    last = _recorded_request(r, len(interactions) - 1)
    topics = [fr["response"]["return_value"] for c in last["contents"] for fr in _function_responses(c)]
    llm = _llm(r, "gemini-3-flash-preview")
    history: list[Any] = [
        Message(role="system", content=first["systemInstruction"]["parts"][0]["text"]),
        Message(role="user", content=""),
    ]
    answered = 0
    final: GenerateResponse | None = None
    for turn, interaction in enumerate(interactions):
        resp = llm.generate(history, tools=tools, tool_choice="required")
        _assert_matches_oracle(resp, interaction.response.json())
        sent = _body(r, turn)
        _validate_request(sent)
        assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
        if turn:
            # every call of the previous turn is answered in the last user content, in order
            previous_calls = _function_calls(sent["contents"][-2])
            responses = _function_responses(sent["contents"][-1])
            assert [p["functionCall"]["name"] for p in previous_calls] == [fr["name"] for fr in responses]
            assert all("id" not in fr for fr in responses)
            assert all("id" not in p["functionCall"] for p in previous_calls)
            assert previous_calls[0]["thoughtSignature"]  # gemini-3: the signature comes back
        calls = list(resp.tool_calls or [])
        assert resp.finish_reason == "tool_calls"
        if calls[0].name == "final_result":
            final = resp
            break
        results = []
        for call in calls:
            results.append(ToolResult(call.id, call.name, topics[answered]))
            answered += 1
        history += [resp.to_message(), Message(role="tool", tool_results=results)]
    assert final is not None and final.tool_calls is not None
    jokes = final.tool_calls[0].arguments["response"]
    assert len(jokes) == 3 and "Lamborghini" in jokes[0]
    assert answered == len(topics)
    r.assert_all_used()


# -- Vertex AI: an id on the call, echoed on the response -----------------------------------------
def test_vertex_function_call_with_id_and_response(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_vertex_function_call_with_id_and_response.yaml")
    credentials = FakeCredentials()
    llm = _llm(
        r,
        "gemini-3-flash-preview",
        api_key=None,
        vertexai=True,
        project="gen-lang-client-0498264908",
        location="global",
        credentials=credentials,
        api_version="v1beta1",
        function_schema="json_schema",
    )
    tool = {
        "name": "get_user_city",
        "description": "The city the user lives in.",
        "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    }
    history: list[Any] = [
        Message(role="system", content="You are a helpful chatbot."),
        Message(
            role="user", content="Look up the city I live in, then search the web for its weather today."
        ),
    ]
    resp = llm.generate(history, tools=[tool], tool_choice="auto")
    _assert_matches_oracle(resp, r.cassette.interactions[0].response.json())
    (call,) = resp.tool_calls or []
    assert call.id == "vcyiitct"  # Vertex's own id is the call id
    assert _gemini(call)["id"] == "vcyiitct"
    request = r.requests[0]
    assert request.url == (
        "https://aiplatform.googleapis.com/v1beta1/projects/gen-lang-client-0498264908/locations/global/"
        "publishers/google/models/gemini-3-flash-preview:generateContent"
    )
    assert request.headers["authorization"] == "Bearer ya29.fake-token"
    assert "x-goog-api-key" not in request.headers
    sent0 = _body(r, 0)
    _validate_request(sent0)
    assert sent0["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }

    history += [
        resp.to_message(),
        Message(role="tool", tool_results=[ToolResult(call.id, call.name, "San Francisco")]),
    ]
    final = llm.generate(history, tools=[tool], tool_choice="auto")
    assert final.content is not None and "San Francisco" in final.content
    assert final.usage is not None and final.usage["prompt_tokens"] > 0
    sent = _body(r, 1)
    _validate_request(sent)
    _, model, user = sent["contents"]
    assert model["parts"][0]["functionCall"] == {"name": "get_user_city", "args": {}, "id": "vcyiitct"}
    assert model["parts"][0]["thoughtSignature"] == _gemini(call)["thought_signature"]
    assert _function_responses(user) == [
        {"name": "get_user_city", "response": {"result": "San Francisco"}, "id": "vcyiitct"}
    ]
    assert len(credentials.refreshes) == 1  # the token is reused while valid
    r.assert_all_used()


# -- Vertex partialArgs stream (payloads only), sync and async ------------------------------------
def _vertex_llm(r: Any) -> Any:
    return _llm(
        r, "gemini-3.1-pro-preview", api_key=None, vertexai=True, project="p", credentials=FakeCredentials()
    )


def _check_partial_args(resp: GenerateResponse) -> None:
    calls = list(resp.tool_calls or [])
    assert [(c.name, c.arguments, c.arguments_error) for c in calls] == [
        ("getWeather", {"location": "Boston"}, None),
        ("getWeather", {"location": "San Francisco"}, None),
    ]
    assert _gemini(calls[0])["thought_signature"].startswith("CiMBjz1rX25K")
    assert _gemini(calls[1])["thought_signature"] is None
    assert calls[0].id != calls[1].id
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 26, "completion_tokens": 23 + 132, "total_tokens": 181}
    assert resp.model == "gemini-3.1-pro-preview"


def test_vertex_partial_args_stream_sync(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_vertex_stream_function_call_partial_args.chunks.txt")
    tool = {
        "name": "getWeather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    }
    stream = _vertex_llm(r).generate("Weather in Boston and San Francisco?", tools=[tool], stream=True)
    chunks = list(stream)
    _check_partial_args(stream.response)
    # a call is announced once, when its last piece arrived
    deltas = [d for c in chunks for d in c.tool_call_deltas or []]
    assert [(d["index"], json.loads(d["arguments"])) for d in deltas] == [
        (0, {"location": "Boston"}),
        (1, {"location": "San Francisco"}),
    ]
    assert r.requests[0].url == (
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/"
        "gemini-3.1-pro-preview:streamGenerateContent?alt=sse"
    )


async def test_vertex_partial_args_stream_async(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_vertex_stream_function_call_partial_args.chunks.txt")
    tool = {
        "name": "getWeather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    }
    stream = await _vertex_llm(r).agenerate("Weather?", tools=[tool], stream=True)
    _check_partial_args(await stream.aresponse())
    assert r.requests[0].headers["authorization"] == "Bearer ya29.fake-token"


def test_partial_args_interrupted_keeps_complete_calls() -> None:
    lines = (
        fixture_path(GEMINI, "gemini_vertex_stream_function_call_partial_args.chunks.txt")
        .read_text()
        .splitlines()
    )
    from toolwire._framing import SSEEvent

    state = GeminiStreamState()
    for line in lines[:6]:  # cut in the middle of the second call
        state.feed(SSEEvent("message", line))
    with pytest.raises(errors.StreamInterruptedError) as info:
        state.result()
    assert [(c.name, c.arguments) for c in info.value.tool_calls] == [("getWeather", {"location": "Boston"})]


# -- errors ---------------------------------------------------------------------------------------
def test_error_400_api_key_invalid_is_authentication_error(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_error_400_api_key_invalid_stream.yaml")
    llm = _llm(r, "gemini-2.0-flash-exp", api_key="bad-key")
    with pytest.raises(errors.AuthenticationError) as info:
        stream = llm.generate("hi", stream=True)
        list(stream)
    error = info.value
    assert error.status_code == 400
    assert error.code == "API_KEY_INVALID"
    assert error.message == "API key not valid. Please pass a valid API key."
    assert "bad-key" not in str(error) and "bad-key" not in repr(error)
    assert len(r.requests) == 1  # not retried
    assert "key=" not in r.requests[0].url


async def test_error_404_model_not_found_async(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_error_404_model_not_found.yaml")
    llm = _llm(r, "gemini-3.6-flahs")
    with pytest.raises(errors.InvalidRequestError) as info:
        await llm.agenerate("hello")
    assert info.value.status_code == 404
    assert info.value.code == "NOT_FOUND"
    assert "models/gemini-3.6-flahs is not found" in info.value.message
    r.assert_all_used()


def test_error_429_resource_exhausted_retry_info(replay: ReplayFactory) -> None:
    r = replay(GEMINI, "gemini_error_429_resource_exhausted.json")
    llm = _llm(r, "gemini-2.5-flash", max_retries=0)
    with pytest.raises(errors.RateLimitError) as info:
        llm.generate("hello")
    assert info.value.retry_after == pytest.approx(34.4)
    assert info.value.code == "RESOURCE_EXHAUSTED"
    assert info.value.retryable
    body = fixture_path(GEMINI, "gemini_error_429_resource_exhausted.json").read_bytes()
    mapped = gemini_error(429, {"retry-after": "5"}, body)
    assert isinstance(mapped, errors.RateLimitError) and mapped.retry_after == pytest.approx(34.4)


def test_every_error_fixture_through_map_error() -> None:
    expected = {
        "gemini_error_400_api_key_invalid_stream.yaml": errors.AuthenticationError,
        "gemini_error_404_model_not_found.yaml": errors.InvalidRequestError,
        "gemini_error_429_resource_exhausted.json": errors.RateLimitError,
    }
    for name, kind in expected.items():
        cassette = load_cassette(fixture_path(GEMINI, name))
        for interaction in cassette.interactions:
            response = interaction.response
            error = gemini_error(response.status, response.headers, response.body)
            assert type(error) is kind, name


def test_replay_transport_serves_only_what_was_asked() -> None:
    # guard: sequence matching checks the path, so a wrong endpoint would fail the tests above
    transport = ReplayTransport(fixture_path(GEMINI, "gemini_error_404_model_not_found.yaml"))
    llm = AbstractLLM.create(
        "gemini", model="other-model", api_key="k", http_client=httpx2.Client(transport=transport)
    )
    with pytest.raises(Exception, match="expected interaction"):
        llm.generate("hello")
