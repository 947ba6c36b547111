"""Shared driver for replaying Chat Completions cassettes (openai, azure_openai, openai_compatible).

`replay_conversation` plays every interaction of a cassette through the PUBLIC API (sync `generate`
or async `agenerate`; `stream=True` where the recording is a stream), building each follow-up turn
the way a user would: `previous_response.to_message()` plus a `Message(role="tool", tool_results=...)`
carrying the recorded tool outputs. For every turn it checks:

- what we sent: valid against the OpenAPI request schema, and semantically equal to what the
  recording's client sent (roles, text, tool calls with ids/names/arguments, every tool result with
  its tool_call_id, in order; the tool names and tool_choice);
- what we returned: field by field against an independent reading of the recorded body by the
  official `openai` SDK (`ChatCompletion` / `ChatCompletionChunk`), see `expected_from_body`;
- errors: the recorded status mapped to the right exception with status, request id and body.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import openai.types.chat as oai

from support.openapi_validation import assert_valid_request
from support.replay import fixture_path, fixtures_root, load_cassette
from toolwire import AbstractLLM
from toolwire.errors import (
    AuthenticationError,
    ContentFilterError,
    InvalidRequestError,
    ProviderError,
)
from toolwire.testing import Cassette, Interaction, ReplayTransport
from toolwire.types import GenerateResponse, Message, ToolResult, coerce_messages

# -- provider construction ------------------------------------------------------------------------


def provider_for(provider_dir: str, interaction: Interaction, transport: ReplayTransport) -> Any:
    """The provider a user would configure for the recorded endpoint."""
    import httpx2

    assert interaction.request is not None
    uri = interaction.request.uri
    parts = urllib.parse.urlsplit(uri)
    clients: dict[str, Any] = {
        "http_client": httpx2.Client(transport=transport),
        "async_http_client": httpx2.AsyncClient(transport=transport),
        "max_retries": 0,
    }
    body = interaction.request.json or {}
    if provider_dir == "azure_openai":
        query = urllib.parse.parse_qs(parts.query)
        deployment = parts.path.split("/deployments/", 1)[1].split("/", 1)[0]
        return AbstractLLM.create(
            "azure_openai",
            azure_endpoint=f"{parts.scheme}://{parts.netloc}",
            deployment=deployment,
            api_version=query["api-version"][0],
            api_key="azure-test-key",
            **clients,
        )
    model = body.get("model")
    if provider_dir == "openai":
        return AbstractLLM.create("openai", model=model, api_key="sk-test", **clients)
    base_url = uri.split("/chat/completions", 1)[0]
    if parts.port == 11434:
        return AbstractLLM.create("ollama", model=model, base_url=base_url, **clients)
    return AbstractLLM.create("openai_compatible", model=model, base_url=base_url, api_key="test", **clients)


# -- recorded request → generate() arguments ------------------------------------------------------

_SAMPLING = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")
_HANDLED = {"model", "messages", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls"}


def call_kwargs(recorded: Mapping[str, Any]) -> dict[str, Any]:
    """generate() keyword arguments that ask for what the recorded request asked for."""
    kwargs: dict[str, Any] = {}
    if recorded.get("tools"):
        kwargs["tools"] = list(recorded["tools"])
        if "tool_choice" in recorded:
            kwargs["tool_choice"] = recorded["tool_choice"]
        if "parallel_tool_calls" in recorded:
            kwargs["parallel_tool_calls"] = recorded["parallel_tool_calls"]
    extra: dict[str, Any] = {}
    for key, value in recorded.items():
        if key in _HANDLED:
            continue
        if key in _SAMPLING:
            kwargs[key] = value
        elif key == "response_format" and value == {"type": "json_object"}:
            kwargs["response_format"] = "json"
        else:
            extra[key] = value
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


# -- semantic view of a request's messages --------------------------------------------------------


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return str(content)


def _args(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None or not str(raw).strip():
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return ("unparsed", raw)


def semantic_messages(messages: list[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for m in messages:
        role = m["role"]
        if role == "tool":
            out.append(("tool", m["tool_call_id"], _text(m.get("content"))))
        elif role == "assistant" and m.get("tool_calls"):
            calls = tuple(
                (
                    c["id"],
                    c["function"]["name"],
                    json.dumps(_args(c["function"].get("arguments")), sort_keys=True),
                )
                for c in m["tool_calls"]
            )
            out.append(("assistant", _text(m.get("content")), calls))
        else:
            out.append((role, _text(m.get("content"))))
    return out


def tool_names(body: Mapping[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools") or ()]


def _choice_name(choice: Any) -> Any:
    if isinstance(choice, Mapping):
        return ("function", choice["function"]["name"])
    return choice


# -- the oracle: the openai SDK's reading of the recorded response --------------------------------


@dataclass
class Expected:
    content: str | None
    refusal: str | None
    calls: list[tuple[str | None, str, Any]]
    finish_reason: str | None
    usage: dict[str, int] | None
    model: str | None
    id: str | None
    well_defined: bool = True
    notes: list[str] = field(default_factory=list)


_FINISH = {"stop": "stop", "tool_calls": "tool_calls", "length": "length", "content_filter": "content_filter"}


def _finish(reason: str | None, has_calls: bool) -> str | None:
    if has_calls and reason in (None, "stop", "tool_calls"):
        return "tool_calls"
    return _FINISH.get(reason, reason) if reason is not None else None


def _usage(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def sdk_completion(body: Mapping[str, Any]) -> oai.ChatCompletion:
    # Groq answers service_tier "on_demand", a value outside the SDK's Literal; it is not a field
    # toolwire reads, so it is left out of the oracle's input rather than weakening the check.
    data = {k: v for k, v in body.items() if k != "service_tier"}
    # Azure's content-filtered choice has no `message` at all (the SDK types require one): it is
    # read as an empty assistant message, which is what that choice means.
    data["choices"] = [
        c if "message" in c else {**c, "message": {"role": "assistant"}} for c in body.get("choices", ())
    ]
    return oai.ChatCompletion.model_validate(data)


def expected_from_completion(body: Mapping[str, Any]) -> Expected:
    completion = sdk_completion(body)
    choice = completion.choices[0]
    message = choice.message
    calls = [
        (tc.id or None, tc.function.name, _args(tc.function.arguments))
        for tc in (message.tool_calls or [])
        if tc.type == "function"
    ]
    return Expected(
        content=message.content or None,
        refusal=message.refusal,
        calls=calls,
        finish_reason=_finish(choice.finish_reason, bool(calls)),
        usage=_usage(completion.usage),
        model=completion.model,
        id=completion.id or None,
    )


def sse_payloads(text: str) -> list[tuple[str | None, str]]:
    """(event, data) pairs of an SSE body, read independently of toolwire's decoder."""
    events: list[tuple[str | None, str]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data:
            events.append((name, "\n".join(data)))
    return events


def expected_from_stream(text: str) -> Expected:
    """Accumulate the chunks with the SDK's types, by tool-call index (the SDK's own rule).

    Where a server reuses one index for calls with different ids, index-based accumulation is not
    well defined: `well_defined` is False and only the text/usage/finish are compared.
    """
    content: list[str] = []
    refusal: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    finish: str | None = None
    usage = None
    model = None
    chunk_id = None
    well_defined = True
    for event, data in sse_payloads(text):
        if data == "[DONE]" or event == "error":
            continue
        payload = json.loads(data)
        payload.pop("service_tier", None)
        if not payload.get("object"):
            # Azure's leading prompt-filter chunk: object "", id "", choices [] (nothing to accumulate)
            payload["object"] = "chat.completion.chunk"
        chunk = oai.ChatCompletionChunk.model_validate(payload)
        if chunk.model:
            model = chunk.model
        if chunk_id is None and chunk.id:
            chunk_id = chunk.id
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            if choice.delta.content:
                content.append(choice.delta.content)
            if choice.delta.refusal:
                refusal.append(choice.delta.refusal)
            for tc in choice.delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": None, "name": "", "args": []})
                if tc.id:
                    if slot["id"] is not None and slot["id"] != tc.id:
                        well_defined = False
                    slot["id"] = slot["id"] or tc.id
                if tc.function is not None:
                    if tc.function.name and not slot["name"]:
                        slot["name"] = tc.function.name
                    if tc.function.arguments:
                        slot["args"].append(tc.function.arguments)
            if choice.finish_reason:
                finish = choice.finish_reason
    assembled = [(s["id"], s["name"], _args("".join(s["args"]))) for _, s in sorted(calls.items())]
    return Expected(
        content="".join(content) or None,
        refusal="".join(refusal) or None,
        calls=assembled,
        finish_reason=_finish(finish, bool(assembled)),
        usage=_usage(usage),
        model=model,
        id=chunk_id,
        well_defined=well_defined,
    )


def assert_matches(resp: GenerateResponse, expected: Expected, *, where: str) -> None:
    assert resp.content == expected.content, where
    assert resp.refusal == expected.refusal, where
    assert resp.finish_reason == expected.finish_reason, where
    assert resp.usage == expected.usage, where
    assert resp.model == expected.model, where
    assert resp.id == expected.id, where
    calls = list(resp.tool_calls or [])
    if expected.well_defined:
        assert len(calls) == len(expected.calls), where
        for ours, (call_id, name, args) in zip(calls, expected.calls):
            if call_id is not None:
                assert ours.id == call_id, where
            else:
                assert ours.id, f"{where}: a server without ids still gets a usable id"
            assert ours.name == name, where
            assert ours.arguments == args, where
            assert ours.arguments_error is None, where
            assert _args(ours.raw_arguments) == args, where


# -- the driver -----------------------------------------------------------------------------------


@dataclass
class Turn:
    index: int
    interaction: Interaction
    sent: dict[str, Any]
    response: GenerateResponse | None = None
    error: ProviderError | None = None
    chunks: int = 0
    built_from_previous: bool = False


def expected_error_type(status: int, body: Any) -> type[ProviderError]:
    code = ""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        code = str(body["error"].get("code") or "")
    if code == "content_filter":
        return ContentFilterError
    if status in (401, 403):
        return AuthenticationError
    return InvalidRequestError


def _history(
    index: int, cassette: Cassette, turns: list[Turn], histories: list[list[Message]]
) -> tuple[list[Message], bool]:
    """Messages for turn `index`: built from our previous turn when the recording continues it."""
    recorded = cassette.interactions[index].request
    assert recorded is not None and recorded.json is not None
    messages = recorded.json["messages"]
    if index == 0 or turns[-1].response is None:
        return coerce_messages(messages), False
    previous = cassette.interactions[index - 1].request
    assert previous is not None and previous.json is not None
    before = previous.json["messages"]
    if semantic_messages(messages[: len(before)]) != semantic_messages(before):
        return coerce_messages(messages), False
    rest = messages[len(before) :]
    if not rest or rest[0]["role"] != "assistant":
        return coerce_messages(messages), False
    ours = turns[-1].response
    assert ours is not None
    recorded_calls = [c["id"] for c in rest[0].get("tool_calls") or ()]
    our_calls = [c.id for c in ours.tool_calls or ()]
    if recorded_calls != our_calls:
        # the recording client renamed the ids (pydantic-ai's "pyd_ai_..."): replay its history as is
        return coerce_messages(messages), False
    history = [*histories[-1], ours.to_message()]
    names = {c.id: c.name for c in ours.tool_calls or ()}
    position = 1
    results: list[ToolResult] = []
    while position < len(rest) and rest[position]["role"] == "tool":
        item = rest[position]
        call_id = item["tool_call_id"]
        results.append(
            ToolResult(call_id=call_id, name=names.get(call_id, ""), output=_text(item["content"]))
        )
        position += 1
    if results:
        history.append(Message(role="tool", tool_results=results))
    history.extend(coerce_messages(rest[position:]))
    return history, True


def _check_sent(turn: Turn, provider_dir: str, *, assistant_text_may_differ: bool, dated_azure: bool) -> None:
    recorded = turn.interaction.request
    assert recorded is not None and recorded.json is not None
    want = recorded.json
    sent = turn.sent
    where = f"request #{turn.index}"
    ours = semantic_messages(sent["messages"])
    theirs = semantic_messages(want["messages"])
    if assistant_text_may_differ:
        ours = [m if m[0] != "assistant" else (m[0], "", *m[2:]) for m in ours]
        theirs = [m if m[0] != "assistant" else (m[0], "", *m[2:]) for m in theirs]
    assert ours == theirs, where
    assert tool_names(sent) == tool_names(want), where
    if "tool_choice" in want and want.get("tools"):
        assert _choice_name(sent.get("tool_choice")) == _choice_name(want["tool_choice"]), where
    if not sent.get("tools"):
        assert "parallel_tool_calls" not in sent, where
    assert bool(sent.get("stream")) == turn.interaction.response.is_stream, where
    if dated_azure:
        assert "model" not in sent, "dated Azure endpoints take the deployment from the URL"
    else:
        assert sent["model"] == want["model"], where
    # every request we send must satisfy the published schema
    if dated_azure:
        # the dated route names the deployment in the URL; the OpenAI schema requires `model`
        assert_valid_request({**sent, "model": want.get("model") or "deployment"}, "openai")
        # keys the recorded client sent to this same api-version are proven accepted even where
        # the 2024-10-21 spec predates them (stream_options on 2024-12-01-preview)
        assert_valid_request(sent, "azure", allow=set(want))
    else:
        assert_valid_request(sent, "openai")


def _run_turn_sync(llm: Any, history: list[Message], kwargs: dict[str, Any], stream: bool) -> tuple[Any, int]:
    if stream:
        s = llm.generate(history, stream=True, **kwargs)
        count = sum(1 for _ in s)
        return s.response, count
    return llm.generate(history, **kwargs), 0


async def _run_turn_async(
    llm: Any, history: list[Message], kwargs: dict[str, Any], stream: bool
) -> tuple[Any, int]:
    if stream:
        s = await llm.agenerate(history, stream=True, **kwargs)
        count = 0
        async for _ in s:
            count += 1
        return await s.aresponse(), count
    return await llm.agenerate(history, **kwargs), 0


def _finish_turn(
    turn: Turn,
    outcome: tuple[Any, int] | ProviderError,
    provider_dir: str,
) -> None:
    rs = turn.interaction.response
    where = f"turn #{turn.index}"
    if isinstance(outcome, ProviderError):
        turn.error = outcome
        if rs.status >= 400:
            check_error(turn, _REQUEST_ID_HEADER.get(provider_dir))
        return
    turn.response, turn.chunks = outcome
    assert turn.response is not None
    assert rs.status < 400, f"{where}: HTTP {rs.status} did not raise"
    expected = expected_from_stream(rs.text) if rs.is_stream else expected_from_completion(rs.json())
    assert_matches(turn.response, expected, where=where)
    if rs.is_stream:
        assert turn.chunks > 0, where
        assert turn.response.raw_response is None or isinstance(turn.response.raw_response, Mapping)
    else:
        assert turn.response.raw_response == rs.json(), where


_REQUEST_ID_HEADER = {"openai": "x-request-id", "azure_openai": "apim-request-id"}


def check_error(turn: Turn, request_id_header: str | None) -> None:
    rs = turn.interaction.response
    error = turn.error
    assert error is not None, f"turn #{turn.index}: expected an error for HTTP {rs.status}"
    if rs.status >= 400:
        body = rs.json()
        assert type(error) is expected_error_type(rs.status, body), repr(error)
        assert error.status_code == rs.status
        assert error.body == body
        assert error.code == body["error"].get("code")
        assert error.message == body["error"]["message"]
        if request_id_header and request_id_header in rs.headers:
            assert error.request_id == rs.headers[request_id_header]


def _dated(llm: Any) -> bool:
    return getattr(llm, "api_version", None) is not None


def replay_conversation(
    provider_dir: str,
    cassette: Cassette,
    *,
    mode: str,
    assistant_text_may_differ: bool = False,
) -> tuple[list[Turn], ReplayTransport]:
    """Replay every interaction of `cassette` in order (sync or async via `replay_conversation_async`)."""
    assert mode == "sync"
    transport = ReplayTransport(cassette)
    llm = provider_for(provider_dir, cassette.interactions[0], transport)
    turns: list[Turn] = []
    histories: list[list[Message]] = []
    for index, interaction in enumerate(cassette.interactions):
        history, built = _history(index, cassette, turns, histories)
        assert interaction.request is not None and interaction.request.json is not None
        kwargs = call_kwargs(interaction.request.json)
        outcome: tuple[Any, int] | ProviderError
        try:
            outcome = _run_turn_sync(llm, history, kwargs, interaction.response.is_stream)
        except ProviderError as exc:
            outcome = exc
        turn = Turn(index, interaction, transport.requests[-1].json, built_from_previous=built)
        _check_sent(
            turn, provider_dir, assistant_text_may_differ=assistant_text_may_differ, dated_azure=_dated(llm)
        )
        _finish_turn(turn, outcome, provider_dir)
        turns.append(turn)
        histories.append(history)
    transport.assert_all_used()
    return turns, transport


async def replay_conversation_async(
    provider_dir: str,
    cassette: Cassette,
    *,
    assistant_text_may_differ: bool = False,
) -> tuple[list[Turn], ReplayTransport]:
    transport = ReplayTransport(cassette)
    llm = provider_for(provider_dir, cassette.interactions[0], transport)
    turns: list[Turn] = []
    histories: list[list[Message]] = []
    for index, interaction in enumerate(cassette.interactions):
        history, built = _history(index, cassette, turns, histories)
        assert interaction.request is not None and interaction.request.json is not None
        kwargs = call_kwargs(interaction.request.json)
        outcome: tuple[Any, int] | ProviderError
        try:
            outcome = await _run_turn_async(llm, history, kwargs, interaction.response.is_stream)
        except ProviderError as exc:
            outcome = exc
        turn = Turn(index, interaction, transport.requests[-1].json, built_from_previous=built)
        _check_sent(
            turn, provider_dir, assistant_text_may_differ=assistant_text_may_differ, dated_azure=_dated(llm)
        )
        _finish_turn(turn, outcome, provider_dir)
        turns.append(turn)
        histories.append(history)
    transport.assert_all_used()
    await llm.aclose()
    return turns, transport


# -- the family's fixture folders and one-file replays (shared by the replay test modules) --------

# Ollama's native /api/chat is not a Chat Completions endpoint: read with standardize_tool_response
NATIVE = {"ollama_native_api_chat_tool_call.yaml", "ollama_native_api_error_404.yaml"}
# pydantic-ai replays a gpt-oss model's reasoning as "<think>" text in the assistant message; we
# send the text the model produced (Groq rejects reasoning fields on assistant turns)
THINK_TEXT = {"groq_error_400_tool_use_failed.yaml", "groq_error_400_tool_use_failed_stream.yaml"}
# every recording of each folder, native ones included (a new file must be added to a test)
FIXTURE_COUNTS = {"openai": 13, "azure_openai": 12, "openai_compatible": 17}


def family_files(provider_dir: str) -> list[str]:
    """The Chat Completions cassettes of a fixture folder, sorted."""
    return sorted(p.name for p in (fixtures_root() / provider_dir).iterdir() if p.name not in NATIVE)


def replay_file(provider_dir: str, name: str) -> list[Turn]:
    """Every turn of one recorded conversation, replayed with `generate`."""
    cassette = load_cassette(fixture_path(provider_dir, name))
    return replay_conversation(
        provider_dir, cassette, mode="sync", assistant_text_may_differ=name in THINK_TEXT
    )[0]


async def areplay_file(provider_dir: str, name: str) -> list[Turn]:
    """Every turn of one recorded conversation, replayed with `agenerate`."""
    cassette = load_cassette(fixture_path(provider_dir, name))
    return (
        await replay_conversation_async(provider_dir, cassette, assistant_text_may_differ=name in THINK_TEXT)
    )[0]
