"""Every recorded Bedrock fixture replayed through the public API (sync and async; streamed for the
binary ConverseStream recordings), with boto3's `bedrock-runtime` client as the oracle.

Multi-turn recordings are continued the way a user continues them (`resp.to_message()` plus one
`Message(role="tool", tool_results=[...])`), and what WE send is compared with what the real client
sent and the service accepted; every body we send is validated against botocore's Converse input
shape, and SigV4-signed requests carry a signature for service `bedrock`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from bedrock_oracle import oracle_call, oracle_stream_events
from botocore.exceptions import ClientError

from support.bedrock_shapes import converse_input_problems
from support.replay import Replay, ReplayFactory, fixtures_root
from support.replay import replay as replay
from toolwire import AbstractLLM
from toolwire.errors import AuthenticationError, InvalidRequestError
from toolwire.providers.bedrock import BedrockProvider
from toolwire.tools.definition import ToolDefinition
from toolwire.types import GenerateResponse, Message, StreamChunk, ToolResult

DIR = "bedrock"
SYNC_MODES = ["sync", "async"]
STREAM_MODES = ["stream", "astream"]
REPLAYED = {
    "bedrock_converse_single_tool_use_and_tool_result.yaml",
    "bedrock_converse_parallel_two_tool_use_and_tool_results.yaml",
    "bedrock_converse_reasoning_content_tool_use_and_tool_result.yaml",
    "bedrock_converse_stream_tool_use_and_tool_result_stream.yaml",
    "bedrock_converse_stream_tool_use_fragmented_args_and_tool_result.yaml",
    "bedrock_converse_error_400_validation_invalid_model.yaml",
    "bedrock_converse_error_403_expired_token.yaml",
}


def test_every_bedrock_fixture_is_replayed_here() -> None:
    on_disk = {p.name for p in (fixtures_root() / DIR).iterdir() if p.is_file()}
    assert on_disk == REPLAYED


# -- helpers -----------------------------------------------------------------------------------
def _llm(r: Replay, model: str, *, bearer: bool = False) -> BedrockProvider:
    auth: dict[str, Any] = (
        {"api_key": "test-bedrock-api-key-0000"}
        if bearer
        else {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": "test-secret-key-0000"}
    )
    llm = AbstractLLM.create(
        "bedrock",
        model=model,
        region="us-east-1",
        http_client=r.client,
        async_http_client=r.async_client,
        max_retries=0,
        **auth,
    )
    assert isinstance(llm, BedrockProvider)
    return llm


async def _run(
    llm: BedrockProvider, mode: str, messages: list[Any], **kwargs: Any
) -> tuple[GenerateResponse, list[StreamChunk]]:
    if mode == "sync":
        return llm.generate(messages, **kwargs), []
    if mode == "async":
        return await llm.agenerate(messages, **kwargs), []
    if mode == "stream":
        stream = llm.generate(messages, stream=True, **kwargs)
        chunks = list(stream)
        return stream.response, chunks
    astream = await llm.agenerate(messages, stream=True, **kwargs)
    chunks = [chunk async for chunk in astream]
    return astream.response, chunks


def _recorded(r: Replay, index: int) -> dict[str, Any]:
    request = r.cassette.interactions[index].request
    assert request is not None and isinstance(request.json, dict)
    return request.json


def _sent(r: Replay, index: int, model: str) -> dict[str, Any]:
    received = r.requests[index]
    body = received.json
    assert isinstance(body, dict)
    stream = received.path.endswith("/converse-stream")
    assert converse_input_problems(model, body, stream=stream) == []
    auth = received.headers["authorization"]
    assert auth.startswith(("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", "Bearer "))
    if auth.startswith("AWS4"):
        assert "/us-east-1/bedrock/aws4_request" in auth and "x-amz-date" in received.headers
    if stream:
        assert received.headers["accept"] == "application/vnd.amazon.eventstream"
    return body


def _normalize(body: Mapping[str, Any]) -> dict[str, Any]:
    """Equal meaning, equal form: empty `system` / `inferenceConfig` / `stopSequences` dropped,
    `status: success` (the default) dropped, tool descriptions we had to write (the recorded
    client sent none) dropped."""
    out = {k: v for k, v in body.items() if v not in ([], {})}
    if "inferenceConfig" in out:
        config = {k: v for k, v in out["inferenceConfig"].items() if v != []}
        out["inferenceConfig"] = config
        if not config:
            del out["inferenceConfig"]
    messages = []
    for message in out["messages"]:
        content = []
        for block in message["content"]:
            if "toolResult" in block:
                result = {
                    k: v for k, v in block["toolResult"].items() if not (k == "status" and v == "success")
                }
                block = {"toolResult": result}
            content.append(block)
        messages.append({"role": message["role"], "content": content})
    out["messages"] = messages
    return out


def assert_same_request(ours: Mapping[str, Any], recorded: Mapping[str, Any]) -> None:
    mine, theirs = _normalize(ours), _normalize(recorded)
    assert mine["messages"] == theirs["messages"]
    for key in ("system", "inferenceConfig", "additionalModelRequestFields"):
        assert mine.get(key) == theirs.get(key), key
    recorded_tools = (theirs.get("toolConfig") or {}).get("tools", [])
    our_tools = (mine.get("toolConfig") or {}).get("tools", [])
    assert len(our_tools) == len(recorded_tools)
    for sent, accepted in zip(our_tools, recorded_tools):
        spec, spec_ok = sent["toolSpec"], accepted["toolSpec"]
        assert spec["name"] == spec_ok["name"]
        assert spec["inputSchema"] == spec_ok["inputSchema"]
        assert spec["description"] == spec_ok.get("description", f"The {spec['name']} tool.")
        assert spec.get("strict") == spec_ok.get("strict")
    assert (mine.get("toolConfig") or {}).get("toolChoice") == (theirs.get("toolConfig") or {}).get(
        "toolChoice"
    )


def _tools(recorded: Mapping[str, Any]) -> list[ToolDefinition]:
    """The tools of a recorded request as toolwire definitions (schemas as the client wrote them)."""
    out = []
    for tool in recorded["toolConfig"]["tools"]:
        spec = tool["toolSpec"]
        out.append(
            ToolDefinition(
                name=spec["name"],
                description=spec.get("description", ""),
                parameters=spec["inputSchema"]["json"],
                strict=spec.get("strict"),
            )
        )
    return out


def _opening(recorded: Mapping[str, Any]) -> list[Message]:
    messages = [Message(role="system", content=b["text"]) for b in recorded.get("system", [])]
    for entry in recorded["messages"]:
        assert entry["role"] == "user"
        messages.append(Message(role="user", content="".join(b["text"] for b in entry["content"])))
    return messages


def _results(recorded_follow_up: Mapping[str, Any], names: Mapping[str, str]) -> Message:
    """The tool message a user would build, outputs taken from what the recording sent."""
    results = []
    for block in recorded_follow_up["messages"][-1]["content"]:
        result = block["toolResult"]
        (content,) = result["content"]
        output = content["json"] if "json" in content else content["text"]
        results.append(ToolResult(result["toolUseId"], names[result["toolUseId"]], output))
    return Message(role="tool", tool_results=results)


def _calls(resp: GenerateResponse) -> list[tuple[str, str, Any]]:
    assert resp.tool_calls is not None
    for call in resp.tool_calls:
        assert call.arguments_error is None
    return [(c.id, c.name, c.arguments) for c in resp.tool_calls]


def _oracle_calls(r: Replay, index: int, model: str) -> list[tuple[str, str, Any]]:
    recorded = r.cassette.interactions[index].response
    parsed = oracle_call(model, recorded.status, recorded.headers, recorded.body)
    blocks = parsed["output"]["message"]["content"]
    return [
        (b["toolUse"]["toolUseId"], b["toolUse"]["name"], b["toolUse"]["input"])
        for b in blocks
        if "toolUse" in b
    ]


def _oracle_stream_calls(r: Replay, index: int, model: str) -> tuple[list[tuple[str, str, Any]], str, str]:
    """boto3's events for a recorded stream, accumulated: (calls, text, stopReason)."""
    import json

    recorded = r.cassette.interactions[index].response
    events = oracle_stream_events(model, recorded.headers, recorded.body)
    starts: dict[int, dict[str, Any]] = {}
    inputs: dict[int, str] = {}
    text, stop = "", ""
    for item in events:
        if "contentBlockStart" in item:
            event = item["contentBlockStart"]
            starts[event["contentBlockIndex"]] = event["start"]["toolUse"]
        elif "contentBlockDelta" in item:
            event = item["contentBlockDelta"]
            delta = event["delta"]
            if "text" in delta:
                text += delta["text"]
            elif "toolUse" in delta:
                index_ = event["contentBlockIndex"]
                inputs[index_] = inputs.get(index_, "") + delta["toolUse"]["input"]
        elif "messageStop" in item:
            stop = item["messageStop"]["stopReason"]
    calls = [
        (s["toolUseId"], s["name"], json.loads(inputs.get(i) or "{}")) for i, s in sorted(starts.items())
    ]
    return calls, text, stop


def _assert_chunks(chunks: list[StreamChunk], resp: GenerateResponse) -> None:
    assert "".join(c.content or "" for c in chunks) == (resp.content or "")
    arguments: dict[int, str] = {}
    ids: dict[int, str] = {}
    for chunk in chunks:
        for delta in chunk.tool_call_deltas or ():
            arguments[delta["index"]] = arguments.get(delta["index"], "") + delta["function"]["arguments"]
            if delta.get("id"):
                ids[delta["index"]] = delta["id"]
    calls = list(resp.tool_calls or ())
    assert [ids[i] for i in sorted(ids)] == [c.id for c in calls]
    assert [arguments[i] for i in sorted(arguments)] == [c.raw_arguments for c in calls]


# -- Converse, one call then the answer ----------------------------------------------------------
SINGLE = "bedrock_converse_single_tool_use_and_tool_result.yaml"
SINGLE_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_single_tool_use_and_result(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, SINGLE)
    llm = _llm(r, SINGLE_MODEL, bearer=mode == "async")
    first = _recorded(r, 0)
    messages = _opening(first)
    tools = _tools(first)
    resp, _ = await _run(llm, mode, messages, tools=tools, tool_choice="auto")
    assert_same_request(_sent(r, 0, SINGLE_MODEL), first)
    assert _calls(resp) == [("tooluse_8ZVLMmsdearTDSS0unN07z", "get_weather", {"city": "Paris"})]
    assert _calls(resp) == _oracle_calls(r, 0, SINGLE_MODEL)
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 560, "completion_tokens": 53, "total_tokens": 613}
    assert resp.model == SINGLE_MODEL and resp.provider == "bedrock"

    follow_up = _recorded(r, 1)
    messages += [resp.to_message(), _results(follow_up, {"tooluse_8ZVLMmsdearTDSS0unN07z": "get_weather"})]
    final, _ = await _run(llm, mode, messages, tools=tools, tool_choice="auto")
    assert_same_request(_sent(r, 1, SINGLE_MODEL), follow_up)
    assert final.tool_calls is None and final.finish_reason == "stop"
    assert final.content is not None and final.content.startswith("The weather in Paris is currently sunny")
    r.assert_all_used()


# -- Converse, two parallel calls (Nova writes <thinking> text first) ----------------------------
PARALLEL = "bedrock_converse_parallel_two_tool_use_and_tool_results.yaml"
NOVA_MICRO = "amazon.nova-micro-v1:0"


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_parallel_tool_uses_and_results_in_one_message(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, PARALLEL)
    llm = _llm(r, NOVA_MICRO)
    first = _recorded(r, 0)
    messages = _opening(first)
    tools = _tools(first)
    resp, _ = await _run(llm, mode, messages, tools=tools)
    assert_same_request(_sent(r, 0, NOVA_MICRO), first)
    expected = [
        ("tooluse_tggNKJbGSrm48inRqf3Rvw", "get_current_weather", {"location": "Seattle"}),
        ("tooluse_bRV9WIcFSxyrLY6-MVkZRA", "get_current_weather", {"location": "San Francisco"}),
    ]
    assert _calls(resp) == expected == _oracle_calls(r, 0, NOVA_MICRO)
    assert resp.content is not None and resp.content.startswith("<thinking> To provide the weather")

    follow_up = _recorded(r, 1)
    names = {c[0]: c[1] for c in expected}
    messages += [resp.to_message(), _results(follow_up, names)]
    final, _ = await _run(llm, mode, messages, tools=tools)
    sent = _sent(r, 1, NOVA_MICRO)
    assert_same_request(sent, follow_up)
    # both results in ONE user message, as JSON (the outputs are JSON objects)
    (last,) = [m for m in sent["messages"][2:]]
    assert last["role"] == "user" and [list(b["toolResult"]["content"][0]) for b in last["content"]] == [
        ["json"],
        ["json"],
    ]
    assert final.finish_reason == "stop" and "70 degrees and sunny" in (final.content or "")
    r.assert_all_used()


# -- Converse with extended thinking: reasoningContent echoed before the toolUse -----------------
REASONING = "bedrock_converse_reasoning_content_tool_use_and_tool_result.yaml"
CLAUDE_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_reasoning_content_is_echoed_with_its_signature(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, REASONING)
    llm = _llm(r, CLAUDE_37)
    first = _recorded(r, 0)
    thinking = first["additionalModelRequestFields"]["thinking"]
    messages = _opening(first)
    tools = _tools(first)
    resp, _ = await _run(llm, mode, messages, tools=tools, thinking=thinking)
    assert_same_request(_sent(r, 0, CLAUDE_37), first)
    assert _calls(resp) == [("tooluse_W9DaUFg4Tj2cRPpndqxWSg", "get_user_country", {})]
    assert _calls(resp) == _oracle_calls(r, 0, CLAUDE_37)
    assert resp.content == "I'll need to check what country you're from to answer that question."
    reasoning = resp.provider_data["bedrock"]["reasoning"]  # type: ignore[index]
    assert reasoning[0]["reasoningContent"]["reasoningText"]["signature"].startswith("ErcBCkgIBhAB")

    follow_up = _recorded(r, 1)
    messages += [
        resp.to_message(),
        _results(follow_up, {"tooluse_W9DaUFg4Tj2cRPpndqxWSg": "get_user_country"}),
    ]
    final, _ = await _run(llm, mode, messages, tools=tools, thinking=thinking)
    assert_same_request(_sent(r, 1, CLAUDE_37), follow_up)
    assert final.content is not None and "Mexico City" in final.content
    r.assert_all_used()


# -- ConverseStream: binary event stream, text then a toolUse, then the streamed answer ----------
STREAM = "bedrock_converse_stream_tool_use_and_tool_result_stream.yaml"
NOVA_PROFILE = "us.amazon.nova-micro-v1:0"


@pytest.mark.parametrize("mode", STREAM_MODES)
async def test_stream_tool_use_and_streamed_answer(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, STREAM)
    llm = _llm(r, NOVA_PROFILE, bearer=mode == "astream")
    first = _recorded(r, 0)
    messages = _opening(first)
    tools = _tools(first)
    resp, chunks = await _run(llm, mode, messages, tools=tools, top_p=0.5)
    assert_same_request(_sent(r, 0, NOVA_PROFILE), first)
    calls, text, stop = _oracle_stream_calls(r, 0, NOVA_PROFILE)
    assert _calls(resp) == calls == [("tooluse_lAG_zP8QRHmSYOwZzzaCqA", "get_temperature", {"city": "Paris"})]
    assert resp.content == text and stop == "tool_use" and resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 471, "completion_tokens": 91, "total_tokens": 562}
    _assert_chunks(chunks, resp)

    follow_up = _recorded(r, 1)
    messages += [
        resp.to_message(),
        _results(follow_up, {"tooluse_lAG_zP8QRHmSYOwZzzaCqA": "get_temperature"}),
    ]
    final, chunks = await _run(llm, mode, messages, tools=tools, top_p=0.5)
    assert_same_request(_sent(r, 1, NOVA_PROFILE), follow_up)
    assert final.content == "The current temperature in Paris, the capital of France, is 30°C."
    assert final.finish_reason == "stop" and final.tool_calls is None
    _assert_chunks(chunks, final)
    r.assert_all_used()


# -- ConverseStream: tool input in 19 fragments that split JSON tokens ----------------------------
FRAGMENTED = "bedrock_converse_stream_tool_use_fragmented_args_and_tool_result.yaml"
CLAUDE_3 = "anthropic.claude-3-sonnet-20240229-v1:0"
CITIES = [
    "Tokyo",
    "Osaka",
    "Kyoto",
    "Hiroshima",
    "Nara",
    "Yokohama",
    "Sapporo",
    "Fukuoka",
    "Sendai",
    "Nagoya",
]


@pytest.mark.parametrize("mode", STREAM_MODES)
async def test_stream_fragmented_tool_input(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, FRAGMENTED)
    llm = _llm(r, CLAUDE_3)
    first = _recorded(r, 0)
    messages = _opening(first)
    tools = _tools(first)
    resp, chunks = await _run(llm, mode, messages, tools=tools)
    assert_same_request(_sent(r, 0, CLAUDE_3), first)
    calls, _, _ = _oracle_stream_calls(r, 0, CLAUDE_3)
    assert (
        _calls(resp) == calls == [("tooluse_FQQ2AuomSWSry_S27YpRbA", "get_cities_list", {"cities": CITIES})]
    )
    assert resp.content is None
    _assert_chunks(chunks, resp)

    follow_up = _recorded(r, 1)
    messages += [
        resp.to_message(),
        _results(follow_up, {"tooluse_FQQ2AuomSWSry_S27YpRbA": "get_cities_list"}),
    ]
    second, chunks = await _run(llm, mode, messages, tools=tools)
    assert_same_request(_sent(r, 1, CLAUDE_3), follow_up)
    calls, text, _ = _oracle_stream_calls(r, 1, CLAUDE_3)
    assert (
        _calls(second) == calls == [("tooluse_wl-Hty8UR4W2IonLjtoNbw", "get_cities_list", {"cities": CITIES})]
    )
    assert second.content == text and text.endswith("Let me try again:")
    _assert_chunks(chunks, second)
    r.assert_all_used()


# -- errors: typed by x-amzn-ErrorType ------------------------------------------------------------
@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_validation_exception_is_an_invalid_request(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "bedrock_converse_error_400_validation_invalid_model.yaml")
    llm = _llm(r, "does-not-exist")
    with pytest.raises(InvalidRequestError) as info:
        await _run(llm, mode, "Say this is a test")
    error = info.value
    assert error.status_code == 400 and error.code == "ValidationException"
    assert "The provided model identifier is invalid." in str(error)
    assert error.request_id == "7fdbc480-6d28-4d1c-abbc-bd7f17c7dfec"
    assert _normalize(_sent(r, 0, "does-not-exist")) == _normalize(_recorded(r, 0))
    recorded = r.cassette.interactions[0].response
    with pytest.raises(ClientError) as oracle:
        oracle_call("does-not-exist", recorded.status, recorded.headers, recorded.body)
    assert oracle.value.response["Error"]["Code"] == error.code
    assert oracle.value.response["Error"]["Message"] == "The provided model identifier is invalid."


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_expired_token_is_an_authentication_error(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "bedrock_converse_error_403_expired_token.yaml")
    llm = _llm(r, CLAUDE_3)
    with pytest.raises(AuthenticationError) as info:
        await _run(
            llm,
            mode,
            "Explain the concept of distributed tracing in a simple way",
            temperature=0.7,
            top_p=0.9,
            max_tokens=50,
        )
    assert info.value.status_code == 403 and info.value.code == "ExpiredTokenException"
    assert "The security token included in the request is expired" in str(info.value)
    assert _normalize(_sent(r, 0, CLAUDE_3)) == _normalize(_recorded(r, 0))
    recorded = r.cassette.interactions[0].response
    with pytest.raises(ClientError) as oracle:
        oracle_call(CLAUDE_3, recorded.status, recorded.headers, recorded.body)
    assert oracle.value.response["Error"]["Code"] == info.value.code
