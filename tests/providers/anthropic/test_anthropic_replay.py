"""Every recorded Anthropic fixture replayed through the public API (sync, async, and streamed
where the recording is a stream), with the official `anthropic` SDK as the oracle.

For multi-turn recordings the follow-up is built the way a user builds it (`resp.to_message()` plus
one `Message(role="tool", tool_results=[...])`), and what WE send is compared with what the real
client sent and the real API accepted: one user message holding every tool_result, ids matching,
thinking blocks echoed with their signatures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anthropic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from test_anthropic_wire import assert_valid_anthropic_request

from support.replay import Replay, ReplayFactory, fixtures_root, load_cassette
from support.replay import replay as replay
from toolwire import AbstractLLM
from toolwire._framing import SSEDecoder
from toolwire.errors import InvalidRequestError, ResponseParseError
from toolwire.providers.anthropic import AnthropicProvider
from toolwire.tools.standardize import standardize_tool_response
from toolwire.types import GenerateResponse, Message, StreamChunk, ToolResult

DIR = "anthropic"
SYNC_MODES = ["sync", "async"]
STREAM_MODES = ["stream", "astream"]

REPLAYED = {
    "anthropic_single_tool_use_and_tool_result.yaml",
    "anthropic_parallel_four_tool_use_and_tool_results.yaml",
    "anthropic_parallel_tool_use.yaml",
    "anthropic_parallel_tool_use_stream_input_json_delta.yaml",
    "anthropic_parallel_tool_use_no_args_stream_and_tool_results.yaml",
    "anthropic_tool_use_stream_and_tool_result_stream.yaml",
    "anthropic_tool_use_with_thinking_and_tool_result.yaml",
    "anthropic_tool_result_history_request.yaml",
    "anthropic_error_400_invalid_request.yaml",
    "anthropic_error_404_model_not_found.yaml",
    "anthropic_error_400_tool_schema.json",
}


def test_every_anthropic_fixture_is_replayed_here() -> None:
    on_disk = {p.name for p in (fixtures_root() / DIR).iterdir() if p.is_file()}
    assert on_disk == REPLAYED


# -- helpers -----------------------------------------------------------------------------------
def _llm(r: Replay, model: str) -> AnthropicProvider:
    llm = AbstractLLM.create(
        "anthropic",
        model=model,
        api_key="test",
        http_client=r.client,
        async_http_client=r.async_client,
        max_retries=0,
    )
    assert isinstance(llm, AnthropicProvider)
    return llm


async def _run(
    llm: AnthropicProvider, mode: str, messages: list[Any], **kwargs: Any
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


def _sent(r: Replay, index: int) -> dict[str, Any]:
    body = r.requests[index].json
    assert isinstance(body, dict)
    return body


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b["text"] for b in content if b.get("type") == "text")


def _opening(recorded: Mapping[str, Any]) -> list[Message]:
    """The first turn of a recorded request as neutral messages (system + user text)."""
    messages = [Message(role="system", content=recorded["system"])] if recorded.get("system") else []
    for entry in recorded["messages"]:
        assert entry["role"] == "user"
        messages.append(Message(role="user", content=_text(entry["content"])))
    return messages


def _results(recorded_follow_up: Mapping[str, Any], names: Mapping[str, str]) -> Message:
    """The tool message a user would build, outputs taken from what the recording sent."""
    last = recorded_follow_up["messages"][-1]
    results = [
        ToolResult(b["tool_use_id"], names[b["tool_use_id"]], b["content"])
        for b in last["content"]
        if b["type"] == "tool_result"
    ]
    return Message(role="tool", tool_results=results)


def _normalize_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Equal meaning, equal form: string content as one text block, `is_error: false` (the
    default) dropped, whitespace-only text blocks (one client's padding) dropped."""
    out = []
    for message in messages:
        content = message["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        normalized = []
        for block in blocks:
            block = {k: v for k, v in block.items() if not (k == "is_error" and v is False)}
            if block["type"] == "text" and not block["text"].strip():
                continue
            normalized.append(block)
        out.append({"role": message["role"], "content": normalized})
    return out


def _normalize_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in t.items() if not (k == "description" and v == "")} for t in tools]


def assert_same_request(ours: Mapping[str, Any], recorded: Mapping[str, Any]) -> None:
    """Our body says what the recorded (accepted) body said."""
    assert_valid_anthropic_request(ours)
    assert _normalize_messages(ours["messages"]) == _normalize_messages(recorded["messages"])
    assert _normalize_tools(ours.get("tools", [])) == _normalize_tools(recorded.get("tools", []))
    for key in ("model", "max_tokens", "system", "tool_choice", "thinking", "temperature"):
        assert ours.get(key) == recorded.get(key), key
    assert bool(ours.get("stream")) == bool(recorded.get("stream"))


def _sdk_calls(body: Any) -> list[tuple[str, str, Any]]:
    message = anthropic.types.Message.model_validate(body)
    return [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]


def _sdk_stream(body: bytes) -> anthropic.types.Message:
    """The SDK's own accumulation of a recorded SSE body into a Message."""
    decoder = SSEDecoder()
    snapshot: Any = None
    buffers: dict[int, bytes] = {}
    for line in [*body.decode().splitlines(), ""]:
        event = decoder.feed_line(line.rstrip("\r"))
        if event is None or not event.data:
            continue
        payload = json.loads(event.data)
        if payload.get("type") in ("ping", "error"):
            continue
        snapshot = accumulate_event(event=payload, current_snapshot=snapshot, json_bufs=buffers)
    return anthropic.types.Message.model_validate(snapshot.to_dict())


def _calls(resp: GenerateResponse) -> list[tuple[str, str, Any]]:
    assert resp.tool_calls is not None
    for call in resp.tool_calls:
        assert call.arguments_error is None
    return [(c.id, c.name, c.arguments) for c in resp.tool_calls]


def _names(resp: GenerateResponse) -> dict[str, str]:
    return {c.id: c.name for c in resp.tool_calls or ()}


def _body(r: Replay, index: int) -> Any:
    return r.cassette.interactions[index].response.json()


def _assert_stream_chunks(chunks: list[StreamChunk], resp: GenerateResponse) -> None:
    """The chunks a caller saw add up to the assembled response."""
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
    assert [json.loads(arguments[i] or "{}") for i in sorted(arguments)] == [c.arguments for c in calls]
    finishes = [c.finish_reason for c in chunks if c.finish_reason]
    assert finishes[-1] == resp.finish_reason


# -- non-streamed, two turns -------------------------------------------------------------------
@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_single_tool_use_then_tool_result(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_single_tool_use_and_tool_result.yaml")
    first = _recorded(r, 0)
    llm = _llm(r, first["model"])
    messages = _opening(first)
    resp, _ = await _run(llm, mode, messages, tools=first["tools"], tool_choice="auto")
    assert resp.content is None
    assert _calls(resp) == [("toolu_01WN4AuToBnJyXNQXwQBBebj", "get_weather", {"city": "Paris"})]
    assert _calls(resp) == _sdk_calls(_body(r, 0))
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 572, "completion_tokens": 53, "total_tokens": 625}
    assert resp.model == "claude-sonnet-4-5-20250929"
    assert resp.id == "msg_0157RbBMVd2po91eocfMnSDy"
    assert resp.provider == "anthropic" and resp.provider_data is None and resp.refusal is None
    assert_same_request(_sent(r, 0), first)

    messages += [resp.to_message(), _results(_recorded(r, 1), _names(resp))]
    final, _ = await _run(llm, mode, messages, tools=first["tools"], tool_choice="auto")
    assert_same_request(_sent(r, 1), _recorded(r, 1))
    assert final.content == _body(r, 1)["content"][0]["text"]
    assert final.tool_calls is None and final.finish_reason == "stop"
    assert final.usage == {"prompt_tokens": 646, "completion_tokens": 31, "total_tokens": 677}
    headers = r.requests[0].headers
    assert headers["x-api-key"] == "test" and headers["anthropic-version"] == "2023-06-01"
    r.assert_all_used()


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_four_parallel_tool_uses_answered_in_one_user_message(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_parallel_four_tool_use_and_tool_results.yaml")
    first = _recorded(r, 0)
    llm = _llm(r, first["model"])
    messages = _opening(first)
    resp, _ = await _run(llm, mode, messages, tools=first["tools"], tool_choice="auto")
    assert resp.content == _body(r, 0)["content"][0]["text"]
    assert [(c[1], c[2]) for c in _calls(resp)] == [
        ("retrieve_entity_info", {"name": n}) for n in ("Alice", "Bob", "Charlie", "Daisy")
    ]
    assert _calls(resp) == _sdk_calls(_body(r, 0))
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 423, "completion_tokens": 202, "total_tokens": 625}
    assert _sent(r, 0)["system"] == first["system"]

    messages += [resp.to_message(), _results(_recorded(r, 1), _names(resp))]
    final, _ = await _run(llm, mode, messages, tools=first["tools"], tool_choice="auto")
    sent = _sent(r, 1)
    assert_same_request(sent, _recorded(r, 1))
    assert len(sent["messages"]) == 3
    results = sent["messages"][2]["content"]
    assert [b["type"] for b in results] == ["tool_result"] * 4
    assert [b["tool_use_id"] for b in results] == [c.id for c in resp.tool_calls or ()]
    assert final.content is not None and "Daisy" in final.content
    assert final.finish_reason == "stop"
    r.assert_all_used()


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_text_then_two_different_tool_uses(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_parallel_tool_use.yaml")
    first = _recorded(r, 0)
    llm = _llm(r, first["model"])
    resp, _ = await _run(llm, mode, _opening(first), tools=first["tools"], max_tokens=first["max_tokens"])
    assert resp.content == "Sure! Let me fetch the current weather and time in New York simultaneously!"
    assert resp.tool_calls is not None and resp.tool_calls.content == resp.content
    assert _calls(resp) == [
        ("toolu_01VLL6XYAAGrtc7CDpmpKZMB", "get_weather", {"location": "New York, NY"}),
        ("toolu_01FZuC4jLWM67hKreLMKCLRe", "get_time", {"timezone": "America/New_York"}),
    ]
    assert _calls(resp) == _sdk_calls(_body(r, 0))
    assert resp.usage == {"prompt_tokens": 721, "completion_tokens": 112, "total_tokens": 833}
    assert resp.finish_reason == "tool_calls"
    assert_same_request(_sent(r, 0), first)


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_thinking_block_is_sent_back_with_its_signature(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_tool_use_with_thinking_and_tool_result.yaml")
    first = _recorded(r, 0)
    llm = _llm(r, first["model"])
    messages = _opening(first)
    kwargs: dict[str, Any] = {"tools": first["tools"], "tool_choice": "auto", "thinking": first["thinking"]}
    resp, _ = await _run(llm, mode, messages, **kwargs)
    recorded_thinking = _body(r, 0)["content"][0]
    assert resp.provider_data == {"anthropic": {"thinking": [recorded_thinking]}}
    assert recorded_thinking["signature"].startswith("EqEECkYI")
    assert _calls(resp) == [("toolu_01YGzqpRE16Vricda3Aqcejo", "get_user_country", {})]
    assert _calls(resp) == _sdk_calls(_body(r, 0))
    assert resp.content == _body(r, 0)["content"][1]["text"]
    assert resp.usage == {"prompt_tokens": 398, "completion_tokens": 155, "total_tokens": 553}

    messages += [resp.to_message(), _results(_recorded(r, 1), _names(resp))]
    final, _ = await _run(llm, mode, messages, **kwargs)
    sent = _sent(r, 1)
    assert_same_request(sent, _recorded(r, 1))
    assistant = sent["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["thinking", "text", "tool_use"]
    assert assistant[0] == recorded_thinking
    assert final.content is not None and "Mexico City" in final.content
    assert final.provider_data is None and final.finish_reason == "stop"
    r.assert_all_used()


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_history_with_tool_use_and_tool_result(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_tool_result_history_request.yaml")
    recorded = _recorded(r, 0)
    assistant = recorded["messages"][1]["content"]
    use = assistant[1]
    history: list[Any] = [
        Message(role="user", content=recorded["messages"][0]["content"]),
        {
            "role": "assistant",
            "content": assistant[0]["text"],
            "tool_calls": [{"id": use["id"], "name": use["name"], "arguments": use["input"]}],
        },
        {
            "role": "tool",
            "tool_call_id": use["id"],
            "content": recorded["messages"][2]["content"][0]["content"],
        },
    ]
    llm = _llm(r, recorded["model"])
    resp, _ = await _run(llm, mode, history, tools=recorded["tools"], max_tokens=recorded["max_tokens"])
    assert_same_request(_sent(r, 0), recorded)
    assert _calls(resp) == [
        ("toolu_01K5KhMEdg2McN7dAkB4Y4hi", "get_time", {"timezone": "America/Los_Angeles"})
    ]
    assert _calls(resp) == _sdk_calls(_body(r, 0))
    assert resp.content is None and resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 568, "completion_tokens": 58, "total_tokens": 626}


# -- streamed ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", STREAM_MODES)
async def test_stream_text_and_two_tool_uses_from_input_json_deltas(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_parallel_tool_use_stream_input_json_delta.yaml")
    first = _recorded(r, 0)
    llm = _llm(r, first["model"])
    resp, chunks = await _run(
        llm, mode, _opening(first), tools=first["tools"], max_tokens=first["max_tokens"]
    )
    oracle = _sdk_stream(r.cassette.interactions[0].response.body)
    assert resp.content == "".join(b.text for b in oracle.content if b.type == "text")
    assert (
        resp.content == "I'll check both the current weather and time in New York simultaneously right away!"
    )
    assert _calls(resp) == [(b.id, b.name, b.input) for b in oracle.content if b.type == "tool_use"]
    assert [(c[1], c[2]) for c in _calls(resp)] == [
        ("get_weather", {"location": "New York, NY"}),
        ("get_time", {"timezone": "America/New_York"}),
    ]
    assert resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 721, "completion_tokens": 113, "total_tokens": 834}
    assert resp.id == oracle.id and resp.model == oracle.model
    _assert_stream_chunks(chunks, resp)
    sent = _sent(r, 0)
    assert sent["stream"] is True and r.requests[0].headers["accept"] == "text/event-stream"
    assert_same_request(sent, first)


@pytest.mark.parametrize("mode", STREAM_MODES)
async def test_stream_no_argument_tools_then_results(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_parallel_tool_use_no_args_stream_and_tool_results.yaml")
    first = _recorded(r, 0)
    llm = _llm(r, first["model"])
    kwargs: dict[str, Any] = {
        "tools": first["tools"],
        "max_tokens": first["max_tokens"],
        "temperature": first["temperature"],
    }
    messages = _opening(first)
    resp, chunks = await _run(llm, mode, messages, **kwargs)
    oracle = _sdk_stream(r.cassette.interactions[0].response.body)
    assert _calls(resp) == [(b.id, b.name, b.input) for b in oracle.content if b.type == "tool_use"]
    assert _calls(resp) == [
        ("toolu_01LtHJmixrs9NcWQkK8hu8hj", "pelican_name_generator", {}),
        ("toolu_01N8a4jWyf116qKTMqKKmjyt", "pelican_name_generator", {}),
    ]
    assert resp.content is None and resp.finish_reason == "tool_calls"
    assert resp.usage == {"prompt_tokens": 542, "completion_tokens": 62, "total_tokens": 604}
    _assert_stream_chunks(chunks, resp)
    assert_same_request(_sent(r, 0), first)

    messages += [resp.to_message(), _results(_recorded(r, 1), _names(resp))]
    final, chunks = await _run(llm, mode, messages, **kwargs)
    assert_same_request(_sent(r, 1), _recorded(r, 1))
    assert final.content is not None and "**Charles**" in final.content and "**Sammy**" in final.content
    assert final.content == _sdk_stream(r.cassette.interactions[1].response.body).content[0].text  # type: ignore[union-attr]
    assert final.finish_reason == "stop"
    assert final.usage == {"prompt_tokens": 678, "completion_tokens": 82, "total_tokens": 760}
    _assert_stream_chunks(chunks, final)
    r.assert_all_used()


@pytest.mark.parametrize("mode", STREAM_MODES)
async def test_stream_tool_use_then_streamed_answer(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_tool_use_stream_and_tool_result_stream.yaml")
    first = _recorded(r, 0)
    llm = _llm(r, first["model"])
    messages = _opening(first)
    resp, chunks = await _run(llm, mode, messages, tools=first["tools"])
    oracle = _sdk_stream(r.cassette.interactions[0].response.body)
    assert _calls(resp) == [(b.id, b.name, b.input) for b in oracle.content if b.type == "tool_use"]
    assert _calls(resp) == [
        ("toolu_01Lfr3kUnHMZApePPRWMv1uS", "get_current_temperature", {"city": "San Francisco"})
    ]
    assert resp.content == oracle.content[0].text  # type: ignore[union-attr]
    assert resp.usage == {"prompt_tokens": 351, "completion_tokens": 85, "total_tokens": 436}
    _assert_stream_chunks(chunks, resp)
    assert_same_request(_sent(r, 0), first)

    messages += [resp.to_message(), _results(_recorded(r, 1), _names(resp))]
    final, chunks = await _run(llm, mode, messages, tools=first["tools"])
    assert_same_request(_sent(r, 1), _recorded(r, 1))
    assert final.content is not None and final.content.startswith(
        "The current temperature in San Francisco is 72°F."
    )
    assert final.finish_reason == "stop" and final.tool_calls is None
    assert final.usage == {"prompt_tokens": 457, "completion_tokens": 33, "total_tokens": 490}
    _assert_stream_chunks(chunks, final)
    r.assert_all_used()


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_error_400_invalid_request(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_error_400_invalid_request.yaml")
    recorded = _recorded(r, 0)
    llm = _llm(r, recorded["model"])
    with pytest.raises(InvalidRequestError) as info:
        await _run(llm, mode, _opening(recorded), output_config=recorded["output_config"])
    error = info.value
    assert error.status_code == 400 and error.code == "invalid_request_error"
    assert (
        error.message
        == "This model does not support effort level 'xhigh'. Supported levels: high, low, max, medium."
    )
    assert error.request_id == "req_011Ca7jT9AHpgXgdv8igm4z9"
    assert error.provider == "anthropic" and not error.retryable
    assert_same_request(_sent(r, 0), recorded)
    assert _sent(r, 0)["output_config"] == {"effort": "xhigh"}


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_error_404_model_not_found(replay: ReplayFactory, mode: str) -> None:
    r = replay(DIR, "anthropic_error_404_model_not_found.yaml")
    recorded = _recorded(r, 0)
    llm = _llm(r, recorded["model"])
    with pytest.raises(InvalidRequestError) as info:
        await _run(llm, mode, _opening(recorded))
    error = info.value
    assert error.status_code == 404 and error.code == "not_found_error"
    assert error.message == "model: claude-sonet-4-5"
    assert error.request_id == "req_011CdufXo8Y2LVfY2veyuQWG"
    assert_same_request(_sent(r, 0), recorded)


@pytest.mark.parametrize("mode", SYNC_MODES)
async def test_error_400_tool_schema_body(replay: ReplayFactory, mode: str) -> None:
    # Body-only fixture (no request recorded): served to whatever we send, as HTTP 400.
    r = replay(DIR, "anthropic_error_400_tool_schema.json")
    assert r.cassette.interactions[0].response.status == 400
    llm = _llm(r, "claude-sonnet-4-5")
    with pytest.raises(InvalidRequestError) as info:
        await _run(llm, mode, [Message(role="user", content="hi")], tools=[{"name": "f", "input_schema": {}}])
    assert info.value.message == "tools.0.custom.input_schema.type: Field required"
    assert info.value.code == "invalid_request_error"
    assert info.value.request_id == "req_011CfKWrFbXEEXnGHy3m6XDe"


def test_tool_schema_error_body_through_map_error_and_standardize() -> None:
    path = fixtures_root() / DIR / "anthropic_error_400_tool_schema.json"
    body = path.read_bytes()
    error = AbstractLLM.create("anthropic", model="m", api_key="test").map_error(400, {}, body)
    assert isinstance(error, InvalidRequestError)
    assert error.message == "tools.0.custom.input_schema.type: Field required"
    with pytest.raises(ResponseParseError):
        standardize_tool_response(json.loads(body), "anthropic")


# -- standardize_tool_response over every recorded non-streamed body ---------------------------
_BODIES = [
    (name, i)
    for name in sorted(REPLAYED)
    if name.endswith(".yaml")
    for i, interaction in enumerate(load_cassette(fixtures_root() / DIR / name).interactions)
    if interaction.response.status == 200 and not interaction.response.is_stream
]


@pytest.mark.parametrize(("name", "index"), _BODIES, ids=[f"{n}#{i}" for n, i in _BODIES])
def test_standardize_matches_the_sdk(name: str, index: int) -> None:
    body = load_cassette(fixtures_root() / DIR / name).interactions[index].response.json()
    request = standardize_tool_response(body, "anthropic")
    assert [(c.id, c.name, c.arguments) for c in request] == _sdk_calls(body)
    # an SDK object is accepted as well as the JSON body
    sdk_object = anthropic.types.Message.model_validate(body)
    again = standardize_tool_response(sdk_object, "anthropic")
    assert [(c.id, c.name, c.arguments) for c in again] == _sdk_calls(body)
