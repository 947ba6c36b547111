"""The Bedrock request path's shortcuts say exactly what the plain path says: the body text with the
cached tool JSON equals `json.dumps` of the body, the cache follows the tools (and nothing else),
SigV4 with the cached canonical headers equals botocore's signature whatever changes between two
requests (credentials, token, headers, URL, second), and stream events decode as `json.loads`."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import json
from typing import Any

import botocore.auth
import botocore.credentials
import httpx2
import pydantic
import pytest
from bedrock_oracle import event
from botocore.awsrequest import AWSRequest

from toolwire import AbstractLLM
from toolwire._eventstream import EventStreamDecoder, aiter_eventstream, iter_eventstream
from toolwire.providers._body_json import ToolJson, dumps, with_last
from toolwire.providers.bedrock import BedrockProvider
from toolwire.providers.bedrock_auth import AwsCredentials, sigv4_headers
from toolwire.providers.bedrock_response import _event_json
from toolwire.types import Message, ToolCall, ToolResult

SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
LLAMA = "meta.llama3-1-70b-instruct-v1:0"
TOOLS = [
    {
        "name": name,
        "description": f"{name} for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    for name in ("get_weather", "get_time")
]


class Answer(pydantic.BaseModel):
    city: str


def _llm(model: str = SONNET_45) -> BedrockProvider:
    llm = AbstractLLM.create(
        "bedrock",
        model=model,
        region="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="hot-path-secret-0000",
    )
    assert isinstance(llm, BedrockProvider)
    return llm


def _request(llm: BedrockProvider, messages: Any = "hi", **kw: Any) -> Any:
    return llm._prepare(
        messages,
        model=kw.pop("model", None),
        stream=False,
        tools=kw.pop("tools", TOOLS),
        tool_choice=kw.pop("tool_choice", None),
        parallel_tool_calls=None,
        response_format=kw.pop("response_format", None),
        sampling=kw.pop("sampling", {}),
        kwargs=kw,
    )


def _plain(llm: BedrockProvider, request: Any) -> str:
    return json.dumps(llm.build_body(request), separators=(",", ":"), ensure_ascii=False)


HISTORY = [
    Message(role="user", content="weather?"),
    Message(role="assistant", tool_calls=[ToolCall("call_1", "get_weather", {"city": "Paris"})]),
    Message(role="tool", tool_results=[ToolResult("call_1", "get_weather", {"temp": 21})]),
]


@pytest.mark.parametrize(
    "case",
    [
        {},
        {"tool_choice": "auto"},
        {"tool_choice": "required"},
        {"tool_choice": "get_time"},
        {"tool_choice": "none"},
        {"tools": None},
        {"response_format": Answer},
        {"response_format": Answer, "model": LLAMA, "tools": None},
        {"messages": HISTORY},
        {"messages": HISTORY, "tool_choice": "none"},
        {"messages": [Message(role="system", content="brief"), Message(role="user", content="é ☃ \u2028")]},
        {"sampling": {"temperature": 0.2, "max_tokens": 50}, "stop": ["END"]},
        {"thinking": {"type": "enabled", "budget_tokens": 1024}},  # a key after toolConfig
        {"additionalModelRequestFields": {"top_k": 5}, "tool_choice": "get_time"},
        {"toolConfig": None},  # the caller removes it
    ],
)
def test_the_body_text_is_json_dumps_of_the_body(case: dict[str, Any]) -> None:
    llm = _llm(case.get("model", SONNET_45))
    for _ in range(2):  # the first request fills the cache, the second reads it
        request = _request(llm, **dict(case))
        assert llm.body_json(request) == _plain(llm, request)
        assert llm._http_call(request, {}).body == _plain(llm, request).encode()


def test_the_cached_tool_text_follows_the_tools() -> None:
    llm = _llm()
    first = _request(llm)
    llm.body_json(first)
    assert len(llm._tool_json._entries) == 1
    # other tools (a new list, as a caller passes): their own entry, their own text
    other = [{**TOOLS[0], "description": "changed"}]
    request = _request(llm, tools=other)
    assert '"description":"changed"' in llm.body_json(request)
    assert llm.body_json(request) == _plain(llm, request)
    assert '"description":"changed"' not in llm.body_json(first)
    # the same tools again: the translation and its text are reused, not rebuilt
    again = _request(llm)
    assert again.tool_payload is first.tool_payload
    assert llm.body_json(again) == _plain(llm, again)
    assert len(llm._tool_json._entries) == 2


def test_tool_json_only_answers_for_the_exact_items() -> None:
    cache = ToolJson()
    payload = [{"toolSpec": {"name": "a"}}, {"toolSpec": {"name": "b"}}]
    assert cache.text(list(payload), payload) == dumps(payload)
    assert cache.text([payload[0]], payload) is None  # fewer items
    assert cache.text([payload[1], payload[0]], payload) is None  # other order
    assert cache.text([dict(payload[0]), payload[1]], payload) is None  # an equal copy is not the item
    assert cache.text(list(payload), None) is None
    assert cache.text("tools", payload) is None
    for _ in range(40):  # bounded: filling it past its size starts it afresh
        cache.text([payload[0]], [payload[0]])
    assert len(cache._entries) <= 32


@pytest.mark.parametrize(
    "body",
    [{"a": 1, "k": [1]}, {"k": {"x": "é"}}, {"a": [{"b": None}], "c": 1.5, "k": []}],
)
def test_with_last_splices_the_last_key_only(body: dict[str, Any]) -> None:
    text = with_last(body, "k", dumps(body["k"]))
    if list(body)[-1] == "k":
        assert text == dumps(body)
    else:
        assert text is None


def _botocore_signature(
    url: str, headers: dict[str, str], body: bytes, creds: AwsCredentials, now: datetime.datetime
) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, headers=dict(headers), data=body)
    keys = botocore.credentials.Credentials(creds.access_key, creds.secret_key, creds.token)
    signer = botocore.auth.SigV4Auth(keys, "bedrock", "us-east-1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", lambda: now.replace(tzinfo=None))
        signer.add_auth(request)
    return dict(request.headers)


def test_sigv4_stays_botocores_as_everything_between_requests_changes() -> None:
    url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5%3A0/converse"
    base = datetime.datetime(2026, 12, 6, 23, 59, 59, tzinfo=datetime.timezone.utc)
    steps: list[tuple[str, dict[str, str], AwsCredentials, datetime.datetime]] = [
        (url, {"content-type": "application/json"}, AwsCredentials("AKID1", "secret-1"), base),
        # the same again (the cached canonical headers), a second later: the next day
        (
            url,
            {"content-type": "application/json"},
            AwsCredentials("AKID1", "secret-1"),
            base.replace(day=7, hour=0, minute=0, second=0),
        ),
        # refreshed credentials with a session token, then a new token only
        (url, {"content-type": "application/json"}, AwsCredentials("AKID2", "secret-2", "token-a"), base),
        (url, {"content-type": "application/json"}, AwsCredentials("AKID2", "secret-2", "token-b"), base),
        # another header set, another URL
        (
            url,
            {"content-type": "application/json", "accept": "application/vnd.amazon.eventstream"},
            AwsCredentials("AKID2", "secret-2", "token-b"),
            base,
        ),
        (
            url.replace("/converse", "/converse-stream"),
            {"x-extra": " a  b "},
            AwsCredentials("AKID1", "secret-1"),
            base,
        ),
    ]
    for target, headers, creds, now in steps:
        body = json.dumps({"messages": [], "at": now.isoformat()}).encode()
        ours = sigv4_headers("POST", target, headers, body, creds, region="us-east-1", now=now)
        theirs = _botocore_signature(target, headers, body, creds, now)
        assert ours["authorization"] == theirs["Authorization"]
        assert ours["x-amz-date"] == theirs["X-Amz-Date"]
        assert ours.get("x-amz-security-token") == theirs.get("X-Amz-Security-Token")


def test_refreshed_credentials_sign_the_next_request_and_leave_no_trace() -> None:
    seen: list[httpx2.Request] = []
    answer = {
        "output": {"message": {"role": "assistant", "content": [{"text": "ok"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=answer)

    class Rotating:
        def __init__(self) -> None:
            self.current = AwsCredentials("AKIDOLD", "old-secret-value-1", "old-token-value-1")

        def get_frozen_credentials(self) -> AwsCredentials:
            return self.current

    source = Rotating()
    transport = httpx2.MockTransport(handler)
    llm = AbstractLLM.create(
        "bedrock", model=SONNET_45, region="us-east-1", credentials=source,
        http_client=httpx2.Client(transport=transport),
    )  # fmt: skip
    llm.generate("hi", tools=TOOLS)
    source.current = AwsCredentials("AKIDNEW", "new-secret-value-2", "new-token-value-2")
    llm.generate("hi", tools=TOOLS)
    first, second = seen
    assert "Credential=AKIDOLD/" in first.headers["authorization"]
    assert "Credential=AKIDNEW/" in second.headers["authorization"]
    assert second.headers["x-amz-security-token"] == "new-token-value-2"
    for request, creds in ((first, AwsCredentials("AKIDOLD", "old-secret-value-1", "old-token-value-1")),
                           (second, source.current)):  # fmt: skip
        date = datetime.datetime.strptime(request.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
        signed = {k: request.headers[k] for k in ("content-type", "accept")}
        theirs = _botocore_signature(str(request.url), signed, request.content, creds, date)
        assert request.headers["authorization"] == theirs["Authorization"]
    for request in seen:  # the secret key is never sent, in any header or the body
        text = repr(request.headers.raw) + request.content.decode()
        assert "secret-value" not in text
    assert "new-secret-value-2" in llm.secret_values()
    assert "secret-value" not in repr(llm)


@pytest.mark.parametrize(
    "data",
    [
        b'{"contentBlockIndex":0,"delta":{"text":"hi"}}',
        b' {"a":1} ',
        b'{"a":1}\n',
        b'{"a":1}x',
        b"x",
        b"[1,2]",
        b'{"a":NaN,"b":-Infinity}',
        "\ufeff{}".encode(),
        '{"é":"\\u00fc ☃"}'.encode(),
        b'{"a":{"b":[1,2.5e3,null,true,false]}}',
        b"\xff",
    ],
)
def test_stream_events_decode_as_json_loads(data: bytes) -> None:
    def outcome(decode: Any) -> tuple[str, str]:
        try:
            return "value", repr(decode())
        except Exception as exc:  # the same error, with the same message
            return type(exc).__name__, str(exc)

    assert outcome(lambda: _event_json(data)) == outcome(lambda: json.loads(data.decode()))


class _Chunks(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body arriving in pieces that cut frames anywhere."""

    def __init__(self, data: bytes, size: int) -> None:
        self._parts = [data[i : i + size] for i in range(0, len(data), size)]

    def __iter__(self) -> Any:
        yield from self._parts

    async def __aiter__(self) -> Any:
        for part in self._parts:
            yield part


@pytest.mark.parametrize("encoding", [None, "gzip", "identity"])
def test_an_event_stream_reads_the_same_raw_or_decoded(encoding: str | None) -> None:
    body = b"".join(
        event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"w{i}"}}) for i in range(5)
    )
    expected = [(m.headers, m.payload) for m in EventStreamDecoder().feed(body)]
    sent = gzip.compress(body) if encoding == "gzip" else body
    headers = {"content-encoding": encoding} if encoding else {}

    def response() -> httpx2.Response:
        return httpx2.Response(200, headers=headers, stream=_Chunks(sent, 7))

    assert [(m.headers, m.payload) for m in iter_eventstream(response())] == expected

    async def collect() -> list[tuple[Any, bytes]]:
        return [(m.headers, m.payload) async for m in aiter_eventstream(response())]

    assert asyncio.run(collect()) == expected


def test_an_event_stream_already_read_in_memory_is_served_from_it() -> None:
    body = event("messageStop", {"stopReason": "end_turn"})
    response = httpx2.Response(200, content=body)  # what a MockTransport answer looks like
    expected = [m.payload for m in EventStreamDecoder().feed(body)]
    assert [m.payload for m in iter_eventstream(response)] == expected
