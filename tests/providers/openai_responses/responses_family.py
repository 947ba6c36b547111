"""Shared driver for replaying recorded Responses API cassettes (openai_responses/,
azure_openai_responses/, open_responses/ under ../shared/fixtures/recorded) through the public API.

`replay_conversation` plays every interaction of a cassette with `generate` / `agenerate`
(`stream=True` where the recording is a stream), building each follow-up turn as a user would:
`previous.to_message()` plus a `Message(role="tool", tool_results=...)` carrying the recorded tool
outputs (and any new user message the recorded client added). For every turn it checks:

- what we sent: valid against `CreateResponse` in the OpenAI spec, and equal to what the recorded
  client sent in what the service checks (`semantic_items`: the items in order, call ids and their
  pairing, names, arguments, outputs, opaque items such as reasoning with `encrypted_content`
  verbatim), the tools and tool_choice;
- what we returned: against the official `openai` SDK's reading of the same body
  (`openai.types.responses.Response`): every function_call in order, the text;
- streams: `stream.response` equals the response read from the stream's `response.completed`;
- errors: the recorded status mapped to the right exception.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai.types.responses as oair
import pydantic
from openai._models import construct_type

from support.openapi_validation import assert_valid_request
from toolwire import AbstractLLM
from toolwire.errors import AuthenticationError, InvalidRequestError, ProviderError, RateLimitError
from toolwire.providers.responses_wire import parse_response_body
from toolwire.testing import Cassette, Interaction, ReplayTransport
from toolwire.types import GenerateResponse, Message, ToolResult

_OUTPUT = pydantic.TypeAdapter(list[oair.ResponseOutputItem])
DIRS = ("openai_responses", "azure_openai_responses", "open_responses")
_ERRORS: dict[int, type[ProviderError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    429: RateLimitError,
}


# -- provider construction --------------------------------------------------------------------
def provider_for(provider_dir: str, interaction: Interaction, transport: ReplayTransport) -> Any:
    """The provider a user would configure for the recorded endpoint (`api="responses"`)."""
    clients: dict[str, Any] = {
        "http_client": httpx2.Client(transport=transport),
        "async_http_client": httpx2.AsyncClient(transport=transport),
        "max_retries": 0,
        "api": "responses",
    }
    request = interaction.request
    body = (request.json if request is not None else None) or {}
    model = body.get("model") or "recorded-model"
    if request is None:  # body-only fixtures: the provider of the folder, default endpoint
        if provider_dir == "azure_openai_responses":
            return AbstractLLM.create(
                "azure_openai",
                azure_endpoint="https://example.openai.azure.com",
                deployment=model,
                api_key="azure-test-key",
                **clients,
            )
        if provider_dir == "open_responses":
            return AbstractLLM.create(
                "openai_compatible", base_url="http://127.0.0.1:1234/v1", model=model, **clients
            )
        return AbstractLLM.create("openai", model=model, api_key="sk-test", **clients)
    parts = urllib.parse.urlsplit(request.uri)
    if provider_dir == "azure_openai_responses":
        query = urllib.parse.parse_qs(parts.query)
        return AbstractLLM.create(
            "azure_openai",
            azure_endpoint=f"{parts.scheme}://{parts.netloc}",
            deployment=model,
            api_version=query["api-version"][0] if "api-version" in query else None,
            api_key="azure-test-key",
            **clients,
        )
    if provider_dir == "openai_responses":
        return AbstractLLM.create("openai", model=model, api_key="sk-test", **clients)
    base_url = request.uri.split("?", 1)[0].rsplit("/responses", 1)[0]
    return AbstractLLM.create("openai_compatible", model=model, base_url=base_url, api_key="test", **clients)


# -- recorded request → generate() arguments --------------------------------------------------
_HANDLED = {"model", "input", "stream", "tools", "tool_choice", "parallel_tool_calls", "text"}
_SAMPLING = {"temperature": "temperature", "top_p": "top_p", "max_output_tokens": "max_tokens"}
_JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": float, "boolean": bool}


def response_model(fmt: Mapping[str, Any]) -> type[pydantic.BaseModel]:
    """A Pydantic model with the recorded json_schema's (flat) properties."""
    schema = fmt["schema"]
    fields: dict[str, Any] = {
        name: (_JSON_TYPES[prop["type"]], ...) for name, prop in schema["properties"].items()
    }
    return pydantic.create_model(fmt["name"], **fields)


def call_kwargs(recorded: Mapping[str, Any], previous: GenerateResponse | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if recorded.get("tools"):
        kwargs["tools"] = list(recorded["tools"])
        if "tool_choice" in recorded:
            choice = recorded["tool_choice"]
            kwargs["tool_choice"] = choice["name"] if isinstance(choice, Mapping) else choice
        if "parallel_tool_calls" in recorded:
            kwargs["parallel_tool_calls"] = recorded["parallel_tool_calls"]
    fmt = (recorded.get("text") or {}).get("format") or {}
    if fmt.get("type") == "json_schema":
        kwargs["response_format"] = response_model(fmt)
    elif fmt.get("type") == "json_object":
        kwargs["response_format"] = "json"
    for key, value in recorded.items():
        if key in _HANDLED:
            continue
        if key in _SAMPLING:
            kwargs[_SAMPLING[key]] = value
        elif key == "previous_response_id":
            assert previous is not None and previous.id == value
            kwargs[key] = previous.id
        else:
            kwargs[key] = value  # store, include, reasoning, instructions: passed through
    return kwargs


# -- semantic view of the input items ---------------------------------------------------------
def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return str(content)


def _args(raw: Any) -> Any:
    try:
        return json.loads(raw) if isinstance(raw, str) and raw.strip() else (raw or {})
    except json.JSONDecodeError:
        return ("unparsed", raw)


def semantic_items(items: list[Mapping[str, Any]], *, canonical_ids: bool = False) -> list[tuple[Any, ...]]:
    """What the service checks in `input`: order, call ids and pairing, names, arguments,
    outputs, opaque items verbatim. Empty assistant messages (pydantic-ai sends `""` before a
    function_call) carry nothing and are left out. `canonical_ids` renames call ids by first
    appearance (c0, c1, …): the pairing is kept, the spelling is not compared."""
    names: dict[str, str] = {}

    def cid(value: Any) -> Any:
        if not canonical_ids:
            return value
        return names.setdefault(str(value), f"c{len(names)}")

    out: list[tuple[Any, ...]] = []
    for item in items:
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            text = _text(item.get("content"))
            if item.get("role") == "assistant" and not text:
                continue
            out.append(("message", item.get("role"), text))
        elif kind == "function_call":
            out.append(
                (
                    "function_call",
                    cid(item["call_id"]),
                    item["name"],
                    json.dumps(_args(item.get("arguments")), sort_keys=True),
                )
            )
        elif kind == "function_call_output":
            out.append(("function_call_output", cid(item["call_id"]), _text(item.get("output"))))
        elif kind == "reasoning":
            out.append(
                ("reasoning", item.get("id"), item.get("encrypted_content"), json.dumps(item.get("content")))
            )
        else:
            out.append((str(kind), item.get("id")))
    return out


def _untitled(value: Any) -> Any:
    """A schema without `title`s (Pydantic adds them, pydantic-ai strips them: no meaning)."""
    if isinstance(value, Mapping):
        return {k: _untitled(v) for k, v in value.items() if k != "title" or not isinstance(v, str)}
    if isinstance(value, list):
        return [_untitled(v) for v in value]
    return value


def tool_view(body: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    return [(t.get("type"), t.get("name")) for t in body.get("tools") or ()]


# -- the driver --------------------------------------------------------------------------------
@dataclass
class Turn:
    interaction: Interaction
    sent: dict[str, Any] | None = None
    response: GenerateResponse | None = None
    error: ProviderError | None = None
    stream_text: list[str] = field(default_factory=list)


def _initial_messages(recorded: Mapping[str, Any]) -> list[Message]:
    return [
        Message(role=i["role"], content=_text(i.get("content")))
        for i in recorded.get("input") or ()
        if "role" in i
    ]


def _new_items(recorded: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The trailing items the recorded client added for this turn (tool outputs, user text)."""
    items = list(recorded.get("input") or ())
    start = len(items)
    while start > 0:
        item = items[start - 1]
        if item.get("type") == "function_call_output" or (
            item.get("role") in ("user", "system", "developer") and item.get("type", "message") == "message"
        ):
            start -= 1
        else:
            break
    return items[start:]


def _follow_up(
    history: list[Message], previous: GenerateResponse, recorded: Mapping[str, Any]
) -> list[Message]:
    new = _new_items(recorded)
    outputs = [i for i in new if i.get("type") == "function_call_output"]
    calls = list(previous.tool_calls or ())
    assert len(outputs) == len(calls), f"recorded {len(outputs)} outputs for our {len(calls)} calls"
    messages = [*history, previous.to_message()]
    if calls:
        results = [
            ToolResult(call_id=c.id, name=c.name, output=_text(o["output"])) for c, o in zip(calls, outputs)
        ]
        messages.append(Message(role="tool", tool_results=results))
    messages.extend(Message(role=i["role"], content=_text(i.get("content"))) for i in new if "role" in i)
    return messages


def _check_sent(turn: Turn, received: Any, *, canonical_ids: bool) -> None:
    request = turn.interaction.request
    turn.sent = received.json
    assert isinstance(turn.sent, dict)
    assert_valid_request(turn.sent, "responses")
    if request is None:
        return
    recorded = request.json
    assert (
        received.url.split("?")[0].rstrip("/") == request.uri.split("?")[0].rstrip("/")
        or received.path == request.path
    )
    assert urllib.parse.urlsplit(received.url).query == urllib.parse.urlsplit(request.uri).query
    assert semantic_items(turn.sent["input"], canonical_ids=canonical_ids) == semantic_items(
        recorded["input"], canonical_ids=canonical_ids
    )
    assert tool_view(turn.sent) == tool_view(recorded)
    for key in ("store", "previous_response_id", "instructions", "reasoning", "text"):
        if key in recorded:
            assert _untitled(turn.sent.get(key)) == _untitled(recorded[key]), key
    assert set(recorded.get("include") or ()) <= set(turn.sent.get("include") or ())
    assert bool(turn.sent.get("stream")) == bool(recorded.get("stream"))


def check_against_sdk(body: Mapping[str, Any], ours: GenerateResponse) -> None:
    """The openai SDK's reading of the same body gives the same calls and text."""
    # The output items strictly (what we read); the envelope as the SDK client itself reads a
    # body (construct_type: lenient about fields servers add or omit, e.g. Mantle's usage).
    output = _OUTPUT.validate_python(body["output"])
    sdk = construct_type(type_=oair.Response, value={**body, "output": output})
    assert isinstance(sdk, oair.Response)
    calls = [item for item in output if isinstance(item, oair.ResponseFunctionToolCall)]
    sdk_calls = [(c.call_id, c.name, json.loads(c.arguments) if c.arguments.strip() else {}) for c in calls]
    assert [(c.id, c.name, c.arguments) for c in ours.tool_calls or ()] == sdk_calls
    assert [c.raw_arguments for c in ours.tool_calls or ()] == [c.arguments for c in calls]
    assert (ours.content or "") == sdk.output_text
    assert ours.id == sdk.id


def _completed_body(stream_text: str) -> dict[str, Any]:
    for block in stream_text.split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:") and '"response.completed"' in line:
                return json.loads(line[5:].strip())["response"]  # type: ignore[no-any-return]
    raise AssertionError("no response.completed event in the recorded stream")


def check_response(turn: Turn) -> None:
    recorded = turn.interaction.response
    ours = turn.response
    assert ours is not None
    if recorded.is_stream:
        completed = _completed_body(recorded.text)
        unstreamed = parse_response_body(completed, provider=ours.provider or "openai")
        for name in ("content", "tool_calls", "usage", "model", "finish_reason", "id", "refusal"):
            assert getattr(ours, name) == getattr(unstreamed, name), name
        assert "".join(turn.stream_text) == (ours.content or "")
        check_against_sdk({**completed, "output": ours.raw_response["output"]}, ours)
    else:
        check_against_sdk(recorded.json(), ours)


def _expect_error(turn: Turn, exc: ProviderError) -> None:
    status = turn.interaction.response.status
    assert isinstance(exc, _ERRORS[status]), (status, type(exc))
    assert exc.status_code == status
    assert exc.body == turn.interaction.response.json()
    turn.error = exc


def replay_conversation(provider_dir: str, cassette: Cassette, *, canonical_ids: bool = False) -> list[Turn]:
    transport = ReplayTransport(cassette)
    turns = [Turn(i) for i in cassette.interactions]
    llm = provider_for(provider_dir, cassette.interactions[0], transport)
    history: list[Message] = []
    previous: GenerateResponse | None = None
    for index, turn in enumerate(turns):
        recorded = (
            turn.interaction.request.json
            if turn.interaction.request is not None
            else {"input": [{"role": "user", "content": "hi"}]}
        )
        history = _initial_messages(recorded) if previous is None else _follow_up(history, previous, recorded)
        kwargs = call_kwargs(recorded, previous)
        stream = turn.interaction.response.is_stream
        try:
            result = llm.generate(history, stream=stream, **kwargs)
            if stream:
                turn.stream_text = [c.content for c in result if c.content]
                result = result.response
        except ProviderError as exc:
            _check_sent(turn, transport.requests[index], canonical_ids=canonical_ids)
            _expect_error(turn, exc)
            break
        turn.response = result
        _check_sent(turn, transport.requests[index], canonical_ids=canonical_ids)
        check_response(turn)
        previous = result
    return turns


async def replay_conversation_async(
    provider_dir: str, cassette: Cassette, *, canonical_ids: bool = False
) -> list[Turn]:
    transport = ReplayTransport(cassette)
    turns = [Turn(i) for i in cassette.interactions]
    llm = provider_for(provider_dir, cassette.interactions[0], transport)
    history: list[Message] = []
    previous: GenerateResponse | None = None
    for index, turn in enumerate(turns):
        recorded = (
            turn.interaction.request.json
            if turn.interaction.request is not None
            else {"input": [{"role": "user", "content": "hi"}]}
        )
        history = _initial_messages(recorded) if previous is None else _follow_up(history, previous, recorded)
        kwargs = call_kwargs(recorded, previous)
        stream = turn.interaction.response.is_stream
        try:
            result = await llm.agenerate(history, stream=stream, **kwargs)
            if stream:
                turn.stream_text = [c.content async for c in result if c.content]
                result = await result.aresponse()
        except ProviderError as exc:
            _check_sent(turn, transport.requests[index], canonical_ids=canonical_ids)
            _expect_error(turn, exc)
            break
        turn.response = result
        _check_sent(turn, transport.requests[index], canonical_ids=canonical_ids)
        check_response(turn)
        previous = result
    return turns
