"""The Bedrock wire layer against botocore as the reference: SigV4 signatures, event-stream framing,
request translation (validated against the Converse input shape), stream assembly, typed errors,
configuration and credentials."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import botocore.auth
import botocore.credentials
import httpx2
import pydantic
import pytest
from bedrock_oracle import event, exception
from botocore.awsrequest import AWSRequest
from botocore.eventstream import EventStreamBuffer

from support.bedrock_shapes import converse_input_problems
from support.replay import fixture_path, load_cassette
from toolwire import AbstractLLM
from toolwire._eventstream import EventStreamDecoder, EventStreamError
from toolwire.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextLengthError,
    InvalidRequestError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from toolwire.providers.bedrock import BedrockProvider, bedrock_error, bedrock_tool_id
from toolwire.providers.bedrock_auth import AwsCredentials, sigv4_headers
from toolwire.types import Capability, GenerateResponse, Message, ToolCall, ToolResult

SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOW = datetime.datetime(2026, 12, 6, 5, 0, 7, tzinfo=datetime.timezone.utc)


def get_weather(city: str) -> str:
    """Weather in a city.

    Args:
        city: the city
    """
    return "sunny"


Handler = Callable[[httpx2.Request], httpx2.Response]


def _llm(handler: Handler, model: str = SONNET_45, **kw: Any) -> tuple[BedrockProvider, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return handler(request)

    transport = httpx2.MockTransport(record)
    config: dict[str, Any] = {
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": "wire-secret-key-0000",
    }
    config.update(kw)
    llm = AbstractLLM.create(
        "bedrock",
        model=model,
        region="us-east-1",
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
        **config,
    )
    llm.transport.sleep = lambda _s: None
    return llm, seen


def _json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    return lambda _r: httpx2.Response(status, json=body, headers=headers or {})


def _body(request: httpx2.Request) -> dict[str, Any]:
    body = json.loads(request.content)
    stream = request.url.path.endswith("converse-stream")
    model = request.url.path.split("/")[2]
    assert converse_input_problems(model, body, stream=stream) == []
    return body  # type: ignore[no-any-return]


TEXT_ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "done"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
    "metrics": {"latencyMs": 1},
}


# -- SigV4 against botocore.auth.SigV4Auth ---------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse",
        "https://bedrock-runtime.eu-west-3.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-west-3%3A123456789012"
        "%3Ainference-profile%2Feu.amazon.nova-pro-v1%3A0/converse-stream",
        "http://127.0.0.1:8765/proxy/model/meta.llama3-1-70b-instruct-v1%3A0/converse?trace=1&a=b%20c",
        "https://bedrock-runtime.us-east-1.amazonaws.com:443/model/x/converse",
    ],
)
@pytest.mark.parametrize("token", [None, "session-token-0000/+="])
def test_sigv4_signature_equals_botocore(
    monkeypatch: pytest.MonkeyPatch, url: str, token: str | None
) -> None:
    region = url.split(".")[1] if "amazonaws" in url else "us-west-2"
    headers = {
        "content-type": "application/json",
        "accept": "application/vnd.amazon.eventstream",
        "x-custom": " a  b ",
    }
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "héllo"}]}]}).encode()
    creds = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    ours = sigv4_headers("POST", url, headers, body, creds, region=region, now=NOW)

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    request = AWSRequest(method="POST", url=url, headers=dict(headers), data=body)
    botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(creds.access_key, creds.secret_key, token), "bedrock", region
    ).add_auth(request)
    assert ours["authorization"] == request.headers["Authorization"]
    assert ours["x-amz-date"] == request.headers["X-Amz-Date"]
    assert ours.get("x-amz-security-token") == request.headers.get("X-Amz-Security-Token")


def test_the_request_we_send_carries_botocores_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    llm, seen = _llm(_json(TEXT_ANSWER), aws_session_token="session-token-1111")
    llm.generate("hi", tools=[get_weather])
    sent = seen[0]
    date = datetime.datetime.strptime(sent.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: date)
    signed = {k: v for k, v in sent.headers.items() if k in ("content-type", "accept")}
    request = AWSRequest(method="POST", url=str(sent.url), headers=signed, data=sent.content)
    creds = botocore.credentials.Credentials("AKIDEXAMPLE", "wire-secret-key-0000", "session-token-1111")
    botocore.auth.SigV4Auth(creds, "bedrock", "us-east-1").add_auth(request)
    assert sent.headers["authorization"] == request.headers["Authorization"]
    assert sent.headers["x-amz-security-token"] == "session-token-1111"


# -- event-stream framing against botocore.eventstream ---------------------------------------------
STREAM_FILES = [
    "bedrock_converse_stream_tool_use_and_tool_result_stream.yaml",
    "bedrock_converse_stream_tool_use_fragmented_args_and_tool_result.yaml",
]


def _recorded_streams() -> list[bytes]:
    return [
        i.response.body for f in STREAM_FILES for i in load_cassette(fixture_path("bedrock", f)).interactions
    ]


@pytest.mark.parametrize("piece", [1, 5, 64, 10_000])
def test_decoder_reads_recorded_streams_like_botocore(piece: int) -> None:
    for body in _recorded_streams():
        theirs = EventStreamBuffer()
        theirs.add_data(body)
        expected = [(dict(m.headers), m.payload) for m in theirs]
        decoder = EventStreamDecoder()
        ours = [m for i in range(0, len(body), piece) for m in decoder.feed(body[i : i + piece])]
        assert [(m.headers, m.payload) for m in ours] == expected
        assert decoder.pending == 0 and len(ours) > 5


def test_decoder_reads_every_header_type_like_botocore() -> None:
    import struct
    import uuid
    import zlib

    def header(name: str, kind: int, value: bytes) -> bytes:
        return bytes([len(name)]) + name.encode() + bytes([kind]) + value

    blob = b"\x00\x01\xff"
    uid = uuid.UUID("12345678-1234-5678-1234-567812345678")
    headers = b"".join(
        [
            header("t", 0, b""), header("f", 1, b""), header("b", 2, b"\xfe"),
            header("s", 3, struct.pack(">h", -2)),
            header("i", 4, struct.pack(">i", 70000)), header("l", 5, struct.pack(">q", -(2**40))),
            header("y", 6, struct.pack(">H", 3) + blob), header("str", 7, struct.pack(">H", 2) + b"ok"),
            header("ts", 8, struct.pack(">q", 1_700_000_000_000)), header("u", 9, uid.bytes),
        ]
    )  # fmt: skip
    prelude = struct.pack(">II", 12 + len(headers) + 2 + 4, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + b"{}"
    message += struct.pack(">I", zlib.crc32(message))
    (ours,) = EventStreamDecoder().feed(message)
    theirs = EventStreamBuffer()
    theirs.add_data(message)
    (reference,) = list(theirs)
    for name in ("t", "f", "b", "s", "i", "l", "y", "str"):
        assert ours.headers[name] == reference.headers[name], name
    assert ours.headers["u"] == uid and ours.payload == b"{}"


@pytest.mark.parametrize("where", ["prelude", "payload", "message crc"])
def test_a_damaged_frame_is_refused(where: str) -> None:
    body = bytearray(_recorded_streams()[0])
    position = {"prelude": 5, "payload": 90, "message crc": 0x90 - 1}[where]
    body[position] ^= 0x01
    with pytest.raises(EventStreamError, match="CRC"):
        EventStreamDecoder().feed(bytes(body))


# -- streams: exception events, cut bodies, and the same response as Converse -----------------------
def _stream(frames: list[bytes]) -> Handler:
    body = b"".join(frames)
    return lambda _r: httpx2.Response(
        200, content=body, headers={"content-type": "application/vnd.amazon.eventstream"}
    )


TEXT_FRAMES = [
    event("messageStart", {"role": "assistant"}),
    event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
]


@pytest.mark.parametrize(
    ("kind", "expected", "retryable"),
    [
        ("throttlingException", RateLimitError, True),
        ("serviceUnavailableException", ServerError, True),
        ("internalServerException", ServerError, True),
        ("modelStreamErrorException", ServerError, True),
        ("validationException", InvalidRequestError, False),
        ("modelTimeoutException", ProviderTimeoutError, True),
    ],
)
def test_an_exception_event_mid_stream_is_its_typed_error(kind: str, expected: type, retryable: bool) -> None:
    llm, seen = _llm(_stream([*TEXT_FRAMES, exception(kind, f"{kind} happened")]), max_retries=2)
    stream = llm.generate("hi", stream=True)
    chunks = []
    with pytest.raises(expected) as info:
        for chunk in stream:
            chunks.append(chunk)
    assert [c.content for c in chunks] == ["Hel"]  # what arrived before the exception reached the caller
    assert f"{kind} happened" in str(info.value) and info.value.retryable is retryable
    assert len(seen) == 1  # after a chunk reached the caller a stream is never re-sent


async def test_a_retryable_exception_before_any_chunk_is_retried() -> None:
    frames = [event("messageStart", {"role": "assistant"}), exception("throttlingException", "slow down")]
    answers = iter([_stream(frames), _stream(_events_for(TEXT_ANSWER))])
    llm, seen = _llm(lambda r: next(answers)(r), max_retries=1)

    async def no_wait(_s: float) -> None:
        return None

    llm.transport.asleep = no_wait
    stream = await llm.agenerate("hi", stream=True)
    assert (await stream.aresponse()).content == "done"
    assert len(seen) == 2


def test_a_stream_cut_inside_a_frame_keeps_what_arrived() -> None:
    frames = [*TEXT_FRAMES, event("contentBlockStop", {"contentBlockIndex": 0})]
    cut = b"".join(frames) + event("messageStop", {"stopReason": "end_turn"})[:20]
    llm, _ = _llm(lambda _r: httpx2.Response(200, content=cut), max_retries=0)
    stream = llm.generate("hi", stream=True)
    with pytest.raises(StreamInterruptedError) as info:
        list(stream)
    assert info.value.partial_content == "Hel"


def _events_for(body: dict[str, Any]) -> list[bytes]:
    """A Converse response body re-told as the ConverseStream events the service sends for it."""
    frames = [event("messageStart", {"role": "assistant", "p": "abc"})]
    for index, block in enumerate(body["output"]["message"]["content"]):
        if "text" in block:
            text = block["text"]
            for part in (text[: len(text) // 2], text[len(text) // 2 :]):
                frames.append(
                    event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": part}})
                )
        elif "toolUse" in block:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            frames.append(event("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            raw = json.dumps(use["input"])
            for part in (raw[:3], raw[3:]):
                delta = {"toolUse": {"input": part}}
                frames.append(event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        elif "reasoningContent" in block:
            text = block["reasoningContent"]["reasoningText"]
            delta: dict[str, Any] = {"reasoningContent": {"text": text["text"]}}
            frames.append(event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
            delta = {"reasoningContent": {"signature": text["signature"]}}
            frames.append(event("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        frames.append(event("contentBlockStop", {"contentBlockIndex": index}))
    frames.append(event("messageStop", {"stopReason": body["stopReason"]}))
    frames.append(event("metadata", {"usage": body["usage"], "metrics": body["metrics"]}))
    return frames


CONVERSE_FILES = [
    "bedrock_converse_single_tool_use_and_tool_result.yaml",
    "bedrock_converse_parallel_two_tool_use_and_tool_results.yaml",
    "bedrock_converse_reasoning_content_tool_use_and_tool_result.yaml",
]


def _fields(resp: GenerateResponse) -> tuple[Any, ...]:
    calls = [c.to_dict() for c in resp.tool_calls or ()]
    return (
        resp.content,
        calls,
        resp.usage,
        resp.finish_reason,
        resp.model,
        resp.provider,
        resp.provider_data,
    )


@pytest.mark.parametrize("name", CONVERSE_FILES)
def test_stream_response_equals_the_converse_response(name: str) -> None:
    for interaction in load_cassette(fixture_path("bedrock", name)).interactions:
        body = interaction.response.json()
        plain, _ = _llm(_json(body))
        streamed, _ = _llm(_stream(_events_for(body)))
        expected = plain.generate("hi")
        stream = streamed.generate("hi", stream=True)
        list(stream)
        assert _fields(stream.response) == _fields(expected)


# -- request translation -----------------------------------------------------------------------------
def test_model_ids_profiles_and_arns_are_encoded_in_the_path() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"
    for model, path in [
        (
            "anthropic.claude-3-haiku-20240307-v1:0",
            "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        ),
        (SONNET_45, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"),
        (
            arn,
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3/converse",
        ),
    ]:
        llm, seen = _llm(_json(TEXT_ANSWER), model=model)
        llm.generate("hi")
        assert seen[0].url.raw_path.decode() == path
        assert seen[0].url.host == "bedrock-runtime.us-east-1.amazonaws.com"


def test_tool_choice_mapping_and_descriptions() -> None:
    llm, seen = _llm(_json(TEXT_ANSWER))
    blank = {"name": "lookup", "description": "  ", "parameters": {"type": "object", "properties": {}}}
    for choice in ("auto", "required", "get_weather", None):
        llm.generate("hi", tools=[get_weather, blank], tool_choice=choice)
    configs = [_body(r)["toolConfig"] for r in seen]
    assert [c.get("toolChoice") for c in configs] == [
        {"auto": {}}, {"any": {}}, {"tool": {"name": "get_weather"}}, None,
    ]  # fmt: skip
    specs = [t["toolSpec"] for t in configs[0]["tools"]]
    assert specs[0]["description"] == "Weather in a city."
    assert specs[1]["description"] == "The lookup tool."  # never empty: the service refuses it


def _history(first_id: str = "call_abc:3") -> list[Message]:
    return [
        Message(role="user", content="weather?"),
        Message(
            role="assistant", content=None, tool_calls=[ToolCall(first_id, "get_weather", {"city": "Paris"})]
        ),
        Message(role="tool", tool_results=[ToolResult(first_id, "get_weather", "sunny")]),
    ]


def test_tool_choice_none_withholds_tools_but_keeps_tool_config_for_the_history() -> None:
    llm, seen = _llm(_json(TEXT_ANSWER))
    llm.generate("hi", tools=[get_weather], tool_choice="none")
    assert "toolConfig" not in _body(seen[0])
    llm.generate(_history(), tools=[get_weather], tool_choice="none")
    config = _body(seen[1])["toolConfig"]
    assert [t["toolSpec"]["name"] for t in config["tools"]] == ["get_weather"] and "toolChoice" not in config
    llm.generate(_history())  # no tools at all: a spec is still written for the history's tool
    assert _body(seen[2])["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["type"] == "object"


def test_foreign_ids_are_mapped_the_same_for_call_and_result() -> None:
    llm, seen = _llm(_json(TEXT_ANSWER))
    long_id = "x" * 80
    history = [*_history(), Message(role="user", content="and Rome?")]
    history += _history(long_id)[1:]
    llm.generate(history, tools=[get_weather])
    messages = _body(seen[0])["messages"]
    uses = [b["toolUse"]["toolUseId"] for m in messages for b in m["content"] if "toolUse" in b]
    results = [b["toolResult"]["toolUseId"] for m in messages for b in m["content"] if "toolResult" in b]
    assert uses == results == [bedrock_tool_id("call_abc:3"), bedrock_tool_id(long_id)]
    assert all(1 <= len(i) <= 64 for i in uses) and bedrock_tool_id("call_abc:3") == bedrock_tool_id(
        "call_abc:3"
    )
    assert bedrock_tool_id("tooluse_ok-1") == "tooluse_ok-1"
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]


class Forecast(pydantic.BaseModel):
    city: str
    degrees: int


def test_results_json_for_objects_text_otherwise_and_error_status() -> None:
    calls = [ToolCall(f"t{i}", "get_weather", {}) for i in range(5)]
    results = [
        ToolResult("t0", "get_weather", {"temp": 20}),
        ToolResult("t1", "get_weather", [1, 2]),
        ToolResult("t2", "get_weather", '{"looks": "like json"}'),
        ToolResult("t3", "get_weather", Forecast(city="Paris", degrees=20)),
        ToolResult("t4", "get_weather", None, error="ValueError: no such city"),
    ]
    history = [
        Message(role="user", content="x"),
        Message(role="assistant", tool_calls=calls),
        Message(role="tool", tool_results=results),
    ]
    for model, with_status in [(SONNET_45, True), ("meta.llama3-1-70b-instruct-v1:0", False)]:
        llm, seen = _llm(_json(TEXT_ANSWER), model=model)
        llm.generate(history, tools=[get_weather])
        (turn,) = [m for m in _body(seen[0])["messages"][2:]]
        blocks = [b["toolResult"] for b in turn["content"]]
        assert [b["content"] for b in blocks] == [
            [{"json": {"temp": 20}}], [{"text": "[1, 2]"}], [{"text": '{"looks": "like json"}'}],
            [{"json": {"city": "Paris", "degrees": 20}}], [{"text": "ValueError: no such city"}],
        ]  # fmt: skip
        statuses = [b.get("status") for b in blocks]
        assert statuses == (["success"] * 4 + ["error"] if with_status else [None] * 5)


def test_sampling_stop_and_refused_parameters() -> None:
    llm, seen = _llm(_json(TEXT_ANSWER))
    llm.generate("hi", temperature=0.2, top_p=0.9, max_tokens=100, stop=["END"], system_prompt=None)
    assert _body(seen[0])["inferenceConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxTokens": 100,
        "stopSequences": ["END"],
    }
    with pytest.raises(ValueError, match="frequency_penalty"):
        llm.generate("hi", frequency_penalty=0.5)


def test_structured_output_native_where_the_model_has_it() -> None:
    answer = json.loads(json.dumps(TEXT_ANSWER))
    answer["output"]["message"]["content"] = [{"text": '{"city": "Paris", "degrees": 21}'}]
    llm, seen = _llm(_json(answer))
    resp = llm.generate("forecast?", response_format=Forecast)
    assert resp.parsed == Forecast(city="Paris", degrees=21)
    text_format = _body(seen[0])["outputConfig"]["textFormat"]
    schema = json.loads(text_format["structure"]["jsonSchema"]["schema"])
    assert text_format["type"] == "json_schema" and schema["additionalProperties"] is False


@pytest.mark.parametrize(
    "model", ["us.anthropic.claude-3-7-sonnet-20250219-v1:0", "mistral.mistral-large-2407-v1:0"]
)
def test_structured_output_as_a_forced_tool_elsewhere(model: str) -> None:
    answer = json.loads(json.dumps(TEXT_ANSWER))
    answer["output"]["message"]["content"] = [
        {"toolUse": {"toolUseId": "tooluse_1", "name": "Forecast", "input": {"city": "Rome", "degrees": 25}}}
    ]
    answer["stopReason"] = "tool_use"
    llm, seen = _llm(_json(answer), model=model)
    resp = llm.generate("forecast?", response_format=Forecast)
    assert (
        resp.parsed == Forecast(city="Rome", degrees=25)
        and resp.finish_reason == "stop"
        and resp.tool_calls is None
    )
    config = _body(seen[0])["toolConfig"]
    expected = {"tool": {"name": "Forecast"}} if "anthropic" in model else {"any": {}}
    assert config["toolChoice"] == expected and "outputConfig" not in _body(seen[0])


@pytest.mark.parametrize(
    ("reason", "finish"),
    [("end_turn", "stop"), ("tool_use", "tool_calls"), ("max_tokens", "length"), ("stop_sequence", "stop"),
     ("guardrail_intervened", "content_filter"), ("content_filtered", "content_filter"),
     ("model_context_window_exceeded", "length")],
)  # fmt: skip
def test_finish_reasons(reason: str, finish: str) -> None:
    answer = {**TEXT_ANSWER, "stopReason": reason}
    llm, _ = _llm(_json(answer))
    resp = llm.generate("hi")
    assert resp.finish_reason == finish
    if finish == "content_filter":
        assert resp.provider_data == {"bedrock": {"stop_reason": reason}}


def test_usage_counts_cache_reads_and_writes_as_prompt() -> None:
    usage = {
        "inputTokens": 10,
        "outputTokens": 5,
        "totalTokens": 45,
        "cacheReadInputTokens": 20,
        "cacheWriteInputTokens": 10,
    }
    llm, _ = _llm(_json({**TEXT_ANSWER, "usage": usage}))
    assert llm.generate("hi").usage == {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45}


# -- errors -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "kind", "expected", "retried"),
    [
        (429, "ThrottlingException", RateLimitError, True),
        (503, "ServiceUnavailableException", ServerError, True),
        (429, "ModelNotReadyException", ServerError, True),
        (500, "InternalServerException", ServerError, True),
        (403, "AccessDeniedException", AuthenticationError, False),
        (403, "UnrecognizedClientException", AuthenticationError, False),
        (403, "ExpiredTokenException", AuthenticationError, False),
        (400, "ValidationException", InvalidRequestError, False),
        (404, "ResourceNotFoundException", InvalidRequestError, False),
        (400, "ServiceQuotaExceededException", RateLimitError, False),
        (424, "ModelErrorException", ServerError, False),
    ],
)
def test_errors_are_typed_from_the_error_type_header(
    status: int, kind: str, expected: type, retried: bool
) -> None:
    headers = {
        "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": "r-1",
    }
    llm, seen = _llm(_json({"message": f"{kind} says no"}, status, headers), max_retries=1)
    with pytest.raises(expected) as info:
        llm.generate("hi")
    assert type(info.value) is expected and info.value.status_code == status and info.value.code == kind
    assert f"{kind} says no" in str(info.value) and info.value.request_id == "r-1"
    assert len(seen) == (2 if retried else 1)


def test_a_too_long_input_is_a_context_length_error() -> None:
    error = bedrock_error(
        400,
        {"x-amzn-errortype": "ValidationException"},
        b'{"message":"Input is too long for requested model."}',
    )
    assert isinstance(error, ContextLengthError)


# -- configuration and credentials ---------------------------------------------------------------------
@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    """No AWS setup at all, and no instance-metadata lookups (tests stay offline)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_region_is_required(no_aws: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="AWS_REGION or AWS_DEFAULT_REGION"):
        AbstractLLM.create("bedrock", model=SONNET_45, api_key="k" * 20)
    no_aws.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    llm = AbstractLLM.create("bedrock", model=SONNET_45, api_key="k" * 20)
    assert llm.base_url == "https://bedrock-runtime.eu-central-1.amazonaws.com"
    no_aws.setenv("AWS_REGION", "ap-south-1")
    assert AbstractLLM.create("bedrock", model=SONNET_45, api_key="k" * 20).region == "ap-south-1"
    assert (
        AbstractLLM.create("aws_bedrock", model=SONNET_45, api_key="k" * 20, region="us-west-2").region
        == "us-west-2"
    )
    with pytest.raises(ConfigurationError, match="not an AWS region"):
        AbstractLLM.create("bedrock", model=SONNET_45, api_key="k" * 20, region="us-east-1/../x")


def test_no_credentials_is_a_configuration_error(no_aws: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="AWS_BEARER_TOKEN_BEDROCK"):
        AbstractLLM.create("bedrock", model=SONNET_45, region="us-east-1")


def test_bearer_key_from_the_environment(no_aws: pytest.MonkeyPatch) -> None:
    no_aws.setenv("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-from-env-0000")
    seen: list[httpx2.Request] = []
    transport = httpx2.MockTransport(lambda r: (seen.append(r), httpx2.Response(200, json=TEXT_ANSWER))[1])
    llm = AbstractLLM.create(
        "bedrock", model=SONNET_45, region="us-east-1", http_client=httpx2.Client(transport=transport)
    )
    llm.generate("hi")
    assert seen[0].headers["authorization"] == "Bearer bedrock-api-key-from-env-0000"
    assert "x-amz-date" not in seen[0].headers
    assert "bedrock-api-key-from-env" not in repr(llm)


def test_environment_keys_with_session_token_through_botocores_chain(no_aws: pytest.MonkeyPatch) -> None:
    no_aws.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    no_aws.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-key-0000")
    no_aws.setenv("AWS_SESSION_TOKEN", "env-session-token-0000")
    seen: list[httpx2.Request] = []
    transport = httpx2.MockTransport(lambda r: (seen.append(r), httpx2.Response(200, json=TEXT_ANSWER))[1])
    llm = AbstractLLM.create(
        "bedrock", model=SONNET_45, region="us-east-1", http_client=httpx2.Client(transport=transport)
    )
    llm.generate("hi")
    assert seen[0].headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDENV/")
    assert seen[0].headers["x-amz-security-token"] == "env-session-token-0000"
    assert "env-secret-key" not in repr(llm) and "env-session-token" not in repr(llm)


def test_a_named_profile(no_aws: pytest.MonkeyPatch, tmp_path: Any) -> None:
    (tmp_path / "credentials").write_text(
        "[dev]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = profile-secret-0000\n"
    )
    llm, seen = _llm(_json(TEXT_ANSWER), aws_access_key_id=None, aws_secret_access_key=None, profile="dev")
    llm.generate("hi")
    assert "Credential=AKIDPROFILE/" in seen[0].headers["authorization"]
    with pytest.raises(ConfigurationError, match="nope"):
        AbstractLLM.create("bedrock", model=SONNET_45, region="us-east-1", profile="nope")


def test_temporary_credentials_are_refreshed_before_they_expire() -> None:
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        issued.append(f"AKIDROLE{len(issued)}")
        # five minutes left: inside botocore's mandatory refresh window, so every use refreshes
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
        return {
            "access_key": issued[-1],
            "secret_key": "role-secret-0000",
            "token": "role-token",
            "expiry_time": expiry.isoformat(),
        }

    creds = botocore.credentials.RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    llm, seen = _llm(
        _json(TEXT_ANSWER), aws_access_key_id=None, aws_secret_access_key=None, credentials=creds
    )
    llm.generate("hi")
    time.sleep(0.01)
    llm.generate("hi")
    keys = [r.headers["authorization"].split("Credential=")[1].split("/")[0] for r in seen]
    assert keys[0] != keys[1] and keys[1] == issued[-1]


async def test_async_refresh_happens_off_the_event_loop() -> None:
    import threading

    threads: list[str] = []

    def refresh() -> dict[str, str]:
        threads.append(threading.current_thread().name)
        expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
        return {
            "access_key": "AKIDASYNC",
            "secret_key": "s" * 20,
            "token": "t",
            "expiry_time": expiry.isoformat(),
        }

    creds = botocore.credentials.RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    threads.clear()
    llm, seen = _llm(
        _json(TEXT_ANSWER), aws_access_key_id=None, aws_secret_access_key=None, credentials=creds
    )
    await llm.agenerate("hi")
    assert threads and threads[0] != threading.current_thread().name
    assert "Credential=AKIDASYNC/" in seen[0].headers["authorization"]


def test_capabilities_per_model_family() -> None:
    def caps(model: str) -> set[Capability]:
        return set(BedrockProvider.default_capabilities_for(model))

    assert {Capability.FUNCTION_CALLING, Capability.STREAMING_TOOLS, Capability.VISION} <= caps(SONNET_45)
    assert Capability.STRICT_TOOLS in caps(SONNET_45)
    assert Capability.STRICT_TOOLS not in caps("anthropic.claude-3-haiku-20240307-v1:0")  # "4" in its date
    assert Capability.VISION not in caps("amazon.nova-micro-v1:0") and Capability.VISION in caps(
        "us.amazon.nova-pro-v1:0"
    )
    assert Capability.FUNCTION_CALLING not in caps("mistral.mistral-7b-instruct-v0:2")
    assert Capability.SYSTEM_PROMPT not in caps("mistral.mixtral-8x7b-instruct-v0:1")
    assert Capability.STREAMING_TOOLS not in caps("meta.llama3-1-70b-instruct-v1:0")
    assert Capability.FUNCTION_CALLING in caps("meta.llama3-1-70b-instruct-v1:0")
    assert Capability.FUNCTION_CALLING not in caps("us.deepseek.r1-v1:0")
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"  # noqa: E501
    assert caps(arn) == caps("anthropic.claude-3-7-sonnet-20250219-v1:0")


@pytest.mark.parametrize(
    "code",
    [
        "import toolwire, sys; assert 'botocore' not in sys.modules",
        "import sys, toolwire; toolwire.AbstractLLM.create('openai', model='m', api_key='k');"
        "assert 'botocore' not in sys.modules",
        "import sys, toolwire;"
        "toolwire.AbstractLLM.create('bedrock', model='m', api_key='k', region='us-east-1');"
        "assert 'botocore' not in sys.modules, 'a Bedrock API key needs no botocore'",
    ],
)
def test_botocore_is_imported_only_for_the_aws_chain(code: str) -> None:
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
