"""A correctness audit of the Bedrock provider against botocore (its service model, its URLs and
endpoints, its error and event-stream parsers) and against what users of other providers bring:
the endpoint of every partition, where a Bedrock API key from the environment may go, errors read
the way botocore reads them, structured output beside the caller's tools, `redactedContent`
streamed in pieces, and histories from OpenAI, Anthropic and Gemini continued on Bedrock."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import boto3
import httpx2
import pydantic
import pytest
from bedrock_oracle import event, exception, oracle_stream_events
from botocore.config import Config

from support.bedrock_shapes import converse_input_problems, operation
from support.replay import fixture_path, load_cassette
from toolwire import AbstractLLM
from toolwire.errors import (
    ConfigurationError,
    InvalidRequestError,
    ProviderTimeoutError,
    RateLimitError,
    StructuredOutputError,
)
from toolwire.providers.bedrock import BedrockProvider, bedrock_error, is_bedrock_runtime_host
from toolwire.providers.bedrock_response import _ERRORS, _STOP_REASONS
from toolwire.providers.registry import provider_class
from toolwire.types import Message, ToolResult

ANSWER = {
    "output": {"message": {"role": "assistant", "content": [{"text": "done"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4},
    "metrics": {"latencyMs": 1},
}
USAGE = {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}
Handler = Callable[[httpx2.Request], httpx2.Response]


def _create(handler: Handler, **kw: Any) -> tuple[BedrockProvider, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return handler(request)

    transport = httpx2.MockTransport(record)
    options: dict[str, Any] = {"region": "us-east-1", "model": "us.anthropic.claude-3-7-sonnet-20250219-v1:0"}
    options.update(kw)
    llm = AbstractLLM.create("bedrock", http_client=httpx2.Client(transport=transport), **options)
    assert isinstance(llm, BedrockProvider)
    return llm, seen


def _json(body: dict[str, Any]) -> Handler:
    return lambda _r: httpx2.Response(200, json=body)


def _botocore_url(model: str, region: str = "us-east-1", stream: bool = False) -> str:
    """The URL boto3's own client sends `converse` / `converse_stream` to for this model id."""
    client = boto3.client(
        "bedrock-runtime",
        region_name=region,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="oracle-secret",
        config=Config(retries={"max_attempts": 1}),
    )
    urls: list[str] = []

    def stop(request: Any, **_: Any) -> None:
        urls.append(request.url)
        raise RuntimeError("sent")

    client.meta.events.register("before-send.bedrock-runtime.*", stop)
    call = client.converse_stream if stream else client.converse
    with pytest.raises(RuntimeError, match="sent"):
        call(modelId=model, messages=[{"role": "user", "content": [{"text": "x"}]}])
    return urls[0]


# -- the URL: model ids in the path, and the endpoint of each partition -----------------------------
MODEL_IDS = [
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "global.anthropic.claude-haiku-4-5-20251001-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
    "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghijkl",
    "arn:aws:bedrock:us-east-1:123456789012:prompt/PROMPT12AB:3",
    "arn:aws:sagemaker:us-east-1:123456789012:endpoint/my-endpoint",
]


@pytest.mark.parametrize("model", MODEL_IDS)
@pytest.mark.parametrize("stream", [False, True])
def test_the_url_is_the_one_botocore_sends_to(model: str, stream: bool) -> None:
    frames = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event("messageStop", {"stopReason": "end_turn"}),
            event("metadata", {"usage": USAGE, "metrics": {}}),
        ]
    )
    handler = (lambda _r: httpx2.Response(200, content=frames)) if stream else _json(ANSWER)
    llm, seen = _create(handler, model=model, api_key="bedrock-api-key-0000")
    if stream:
        list(llm.generate("hi", stream=True))
    else:
        llm.generate("hi")
    assert str(seen[0].url) == _botocore_url(model, stream=stream)


REGIONS = ["us-east-1", "us-gov-west-1", "cn-north-1", "eusc-de-east-1", "us-iso-east-1", "us-isob-east-1"]


@pytest.mark.parametrize("region", REGIONS)
def test_each_partition_has_botocores_endpoint(region: str) -> None:
    llm, seen = _create(_json(ANSWER), region=region, api_key="bedrock-api-key-0000", model="m.x-v1:0")
    llm.generate("hi")
    assert str(seen[0].url) == _botocore_url("m.x-v1:0", region=region)


# -- where a Bedrock API key from the environment goes ---------------------------------------------
@pytest.fixture
def env_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    """AWS_BEARER_TOKEN_BEDROCK set, no other AWS setup (and no instance-metadata lookups)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ROLE_ARN",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", ENV_KEY)
    return monkeypatch


ENV_KEY = "ABSKenvironmentBedrockKey0123456789"
AWS_HOSTS = [
    "https://bedrock-runtime.us-east-1.amazonaws.com",
    "https://bedrock-runtime.us-east-1.amazonaws.com/",
    "https://bedrock-runtime-fips.us-east-1.amazonaws.com",
    "https://bedrock-runtime.eu-west-3.amazonaws.com",
    "https://vpce-0a1b2c3d4e5f-abcd1234.bedrock-runtime.us-east-1.vpce.amazonaws.com",
    "https://bedrock-runtime.cn-north-1.amazonaws.com.cn",
    "https://bedrock-runtime.us-east-1.api.aws",  # dual-stack (IPv6)
]
OTHER_HOSTS = [
    "https://proxy.example.com",
    "http://127.0.0.1:8765/bedrock",
    "http://bedrock-runtime.us-east-1.amazonaws.com",  # not TLS: the key would travel in clear
    "https://bedrock-runtime.us-east-1.amazonaws.com.example.com",
    "https://my-api.execute-api.us-east-1.amazonaws.com",  # anyone's API Gateway: not Bedrock
    "https://bucket.s3.amazonaws.com",
]


@pytest.mark.parametrize("base_url", AWS_HOSTS)
def test_the_environment_key_goes_to_aws_bedrock_endpoints_named_explicitly(
    env_key: pytest.MonkeyPatch, base_url: str
) -> None:
    llm, seen = _create(_json(ANSWER), base_url=base_url)
    llm.generate("hi")
    assert seen[0].headers["authorization"] == f"Bearer {ENV_KEY}"
    assert seen[0].url.host == httpx2.URL(base_url).host


@pytest.mark.parametrize("base_url", OTHER_HOSTS)
def test_the_environment_key_never_goes_to_another_host(env_key: pytest.MonkeyPatch, base_url: str) -> None:
    assert not is_bedrock_runtime_host(base_url)
    with pytest.raises(ConfigurationError) as info:
        _create(_json(ANSWER), base_url=base_url)
    message = str(info.value)
    assert "AWS_BEARER_TOKEN_BEDROCK is only sent to" in message and "api_key=" in message
    assert ENV_KEY not in message
    # an explicit key goes where it is told
    llm, seen = _create(_json(ANSWER), base_url=base_url, api_key="explicit-key-0000")
    llm.generate("hi")
    assert seen[0].headers["authorization"] == "Bearer explicit-key-0000"
    # AWS credentials sign for any endpoint (like boto3's endpoint_url): the secret never travels
    env_key.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    env_key.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-key-0000")
    llm, seen = _create(_json(ANSWER), base_url=base_url)
    llm.generate("hi")
    sent = seen[0]
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDENV/")
    text = repr(dict(sent.headers)) + str(sent.url) + sent.content.decode()
    assert ENV_KEY not in text and "env-secret-key-0000" not in text


# -- errors, read the way botocore's rest-json parser reads them -------------------------------------
@pytest.mark.parametrize(
    ("headers", "body", "expected", "code"),
    [
        ({"X-Amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/coral/"}, {"message": "slow"},
         RateLimitError, "ThrottlingException"),
        ({"x-amzn-errortype": "ModelTimeoutException"}, {"Message": "late"}, ProviderTimeoutError,
         "ModelTimeoutException"),
        ({}, {"code": "ThrottlingException", "message": "slow"}, RateLimitError, "ThrottlingException"),
        ({}, {"__type": "com.amazon.coral.validate#ValidationException", "message": "bad"},
         InvalidRequestError, "ValidationException"),
        ({}, {"__type": "ValidationException:http://internal.amazon.com/coral/", "message": "bad"},
         InvalidRequestError, "ValidationException"),
    ],
)  # fmt: skip
def test_error_type_from_a_plain_dict_header_or_the_body(
    headers: dict[str, str], body: dict[str, str], expected: type, code: str
) -> None:
    error = bedrock_error(400, headers, json.dumps(body).encode())
    assert type(error) is expected and error.code == code


def test_every_error_of_the_service_model_is_typed() -> None:
    """Each exception Converse / ConverseStream declare (and the stream's exception events) has a
    row in the error table; none falls to the status-only fallback."""
    names = set()
    for op in ("Converse", "ConverseStream"):
        model = operation(op)
        names |= {shape.name for shape in model.error_shapes}
    stream = operation("ConverseStream").output_shape.members["stream"]
    names |= {m[:1].upper() + m[1:] for m, s in stream.members.items() if s.metadata.get("exception")}
    assert names and {n.lower() for n in names} <= set(_ERRORS)


def test_every_stop_reason_of_the_service_model_is_mapped() -> None:
    shape = operation("Converse").output_shape.members["stopReason"]
    assert set(shape.enum) <= set(_STOP_REASONS)


# -- structured output beside the caller's tools -----------------------------------------------------
class Forecast(pydantic.BaseModel):
    city: str
    degrees: int


def get_weather(city: str) -> str:
    """Weather in a city.

    Args:
        city: the city
    """
    return "sunny"


@pytest.mark.parametrize(
    ("model", "alone", "beside"),
    [
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", {"tool": {"name": "Forecast"}}, {"any": {}}),
        ("us.amazon.nova-pro-v1:0", {"tool": {"name": "Forecast"}}, {"any": {}}),
        ("mistral.mistral-large-2407-v1:0", {"any": {}}, {"any": {}}),
        # Llama refuses toolChoice `any` and `tool`: the answer tool is offered, not forced
        ("meta.llama3-1-70b-instruct-v1:0", None, None),
        ("us.meta.llama4-maverick-17b-instruct-v1:0", None, None),
    ],
)
def test_a_forced_structured_tool_lets_the_callers_tools_run_first(
    model: str, alone: dict[str, Any] | None, beside: dict[str, Any] | None
) -> None:
    answer = json.loads(json.dumps(ANSWER))
    answer["stopReason"] = "tool_use"
    answer["output"]["message"]["content"] = [
        {"toolUse": {"toolUseId": "tooluse_f", "name": "Forecast", "input": {"city": "Rome", "degrees": 25}}}
    ]
    llm, seen = _create(_json(answer), model=model, api_key="bedrock-api-key-0000")
    assert llm.generate("forecast?", response_format=Forecast).parsed == Forecast(city="Rome", degrees=25)
    llm.generate("forecast?", response_format=Forecast, tools=[get_weather])
    llm.generate("forecast?", response_format=Forecast, tools=[get_weather], tool_choice="none")
    bodies = [json.loads(r.content) for r in seen]
    for body in bodies:
        assert converse_input_problems(model, body) == []
    choices = [b["toolConfig"].get("toolChoice") for b in bodies]
    names = [[t["toolSpec"]["name"] for t in b["toolConfig"]["tools"]] for b in bodies]
    # alone: forced where the model can be; beside get_weather: any tool, so get_weather can run first
    assert choices == [alone, beside, alone]
    assert names == [["Forecast"], ["get_weather", "Forecast"], ["Forecast"]]


@pytest.mark.parametrize("thinking", [{"type": "enabled", "budget_tokens": 2048}, None])
def test_structured_output_with_extended_thinking_offers_the_answer_tool(thinking: Any) -> None:
    """Claude refuses a forced tool (`any` / `tool`) while extended thinking is on."""
    llm, seen = _create(_json(ANSWER), api_key="bedrock-api-key-0000")
    fields = {"additionalModelRequestFields": {"thinking": thinking}} if thinking else {}
    with pytest.raises(StructuredOutputError):  # the answer is "done", not a Forecast
        llm.generate("forecast?", response_format=Forecast, thinking=thinking)
    with pytest.raises(StructuredOutputError):
        llm.generate("forecast?", response_format=Forecast, **fields)
    bodies = [json.loads(r.content) for r in seen]
    expected = None if thinking else {"tool": {"name": "Forecast"}}
    assert bodies and [b["toolConfig"].get("toolChoice") for b in bodies] == [expected] * len(bodies)
    if thinking:
        assert all(b["additionalModelRequestFields"]["thinking"] == thinking for b in bodies)


# -- redactedContent streamed in pieces ---------------------------------------------------------------
def test_redacted_reasoning_in_several_deltas_is_echoed_as_botocore_reads_it() -> None:
    pieces = [b"\x00secret-reasoning-1", b"\xffpart two!"]  # lengths not multiples of 3: padded base64
    encoded = [base64.b64encode(p).decode() for p in pieces]
    frames = [event("messageStart", {"role": "assistant"})]
    for piece in encoded:
        delta = {"reasoningContent": {"redactedContent": piece}}
        frames.append(event("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta}))
    frames += [
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"text": "ok"}}),
        event("contentBlockStop", {"contentBlockIndex": 1}),
        event("messageStop", {"stopReason": "end_turn"}),
        event("metadata", {"usage": USAGE, "metrics": {}}),
    ]
    body = b"".join(frames)
    theirs = b"".join(
        e["contentBlockDelta"]["delta"]["reasoningContent"]["redactedContent"]
        for e in oracle_stream_events("m", {}, body)
        if "contentBlockDelta" in e and "reasoningContent" in e["contentBlockDelta"]["delta"]
    )
    assert theirs == b"".join(pieces)
    answers = iter([httpx2.Response(200, content=body), httpx2.Response(200, json=ANSWER)])
    llm, seen = _create(lambda _r: next(answers), api_key="bedrock-api-key-0000")
    stream = llm.generate("hi", stream=True)
    list(stream)
    turn = stream.response.to_message()
    llm.generate([Message(role="user", content="hi"), turn, Message(role="user", content="and?")])
    echoed = json.loads(seen[1].content)["messages"][1]["content"][0]["reasoningContent"]["redactedContent"]
    assert base64.b64decode(echoed) == theirs


# -- histories from other providers continued on Bedrock -----------------------------------------------
HISTORIES = [
    ("openai", "openai_parallel_tool_calls_and_tool_results.yaml"),
    ("openai", "openai_parallel_tool_calls_no_args_and_tool_results.yaml"),
    ("anthropic", "anthropic_tool_use_with_thinking_and_tool_result.yaml"),
    ("anthropic", "anthropic_parallel_four_tool_use_and_tool_results.yaml"),
    ("gemini", "gemini_parallel_function_calls.yaml"),
    ("gemini", "gemini_parallel_three_function_calls_and_responses.yaml"),
    ("gemini", "gemini_vertex_function_call_with_id_and_response.yaml"),
]


@pytest.mark.parametrize(("provider", "name"), HISTORIES)
@pytest.mark.parametrize("model", ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "meta.llama3-1-70b-v1:0"])
@pytest.mark.parametrize("choice", [None, "none"])
def test_a_recorded_turn_of_another_provider_continues_on_bedrock(
    provider: str, name: str, model: str, choice: str | None
) -> None:
    payload = load_cassette(fixture_path(provider, name)).interactions[0].response.json()
    turn = provider_class(provider).parse_raw_response(payload)
    assert turn.tool_calls
    results = [
        ToolResult(c.id, c.name, {"n": i} if i % 2 else f"result {i}", error="boom" if i == 2 else None)
        for i, c in enumerate(turn.tool_calls)
    ]
    history = [Message(role="user", content="go"), turn.to_message()]
    history.append(Message(role="tool", tool_results=results))
    llm, seen = _create(_json(ANSWER), model=model, api_key="bedrock-api-key-0000")
    llm.generate(history, tool_choice=choice)
    body = json.loads(seen[0].content)
    assert converse_input_problems(model, body) == []
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    uses = [b["toolUse"]["toolUseId"] for b in body["messages"][1]["content"] if "toolUse" in b]
    results_sent = [b["toolResult"] for b in body["messages"][2]["content"]]
    assert uses == [r["toolUseId"] for r in results_sent] and len(set(uses)) == len(uses)
    assert [b["toolUse"]["name"] for b in body["messages"][1]["content"] if "toolUse" in b] == [
        c.name for c in turn.tool_calls
    ]
    assert "toolChoice" not in body["toolConfig"]  # the history's tools, none forced
    for i, sent in enumerate(results_sent):
        expected = [{"json": {"n": i}}] if i % 2 else [{"text": f"result {i}"}]
        assert sent["content"] == ([{"text": "boom"}] if i == 2 else expected)


# -- the AWS secret key and session token are declared credentials ----------------------------------
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYAUDITSECRET"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjAUDITSESSIONTOKEN0123456789"


@pytest.mark.parametrize("chain", ["explicit", "botocore"])
def test_an_exception_event_quoting_aws_secrets_is_scrubbed(chain: str) -> None:
    import botocore.credentials

    from toolwire.logs import provider_secrets

    quoted = f"request signed by {SECRET_KEY} with token {SESSION_TOKEN}"
    body = event("messageStart", {"role": "assistant"}) + exception("validationException", quoted)
    keys: dict[str, Any] = (
        {
            "aws_access_key_id": "AKIDEXAMPLE",
            "aws_secret_access_key": SECRET_KEY,
            "aws_session_token": SESSION_TOKEN,
        }
        if chain == "explicit"
        else {"credentials": botocore.credentials.Credentials("AKIDEXAMPLE", SECRET_KEY, SESSION_TOKEN)}
    )
    llm, _ = _create(lambda _r: httpx2.Response(200, content=body), max_retries=0, **keys)
    with pytest.raises(InvalidRequestError) as info:
        list(llm.generate("hi", stream=True))
    text = str(info.value) + repr(info.value) + repr(info.value.body)
    assert "request signed by" in text and SECRET_KEY not in text and SESSION_TOKEN not in text
    declared = provider_secrets(llm)  # what the recorder and the logs scrub with
    assert SECRET_KEY in declared and SESSION_TOKEN in declared


def test_service_tier_and_the_newer_request_members_pass_as_the_service_model_has_them() -> None:
    llm, seen = _create(_json(ANSWER), api_key="bedrock-api-key-0000")
    llm.generate("hi", service_tier="flex")
    llm.generate("hi", service_tier={"type": "priority"})
    llm.generate(
        "hi",
        performanceConfig={"latency": "optimized"},
        additionalModelResponseFieldPaths=["/stop_sequence"],
        requestMetadata={"team": "a"},
    )
    bodies = [json.loads(r.content) for r in seen]
    assert [b.get("serviceTier") for b in bodies] == [{"type": "flex"}, {"type": "priority"}, None]
    assert bodies[2]["performanceConfig"] == {"latency": "optimized"}
    for body in bodies:
        assert converse_input_problems(llm.model or "", body) == []


@pytest.mark.parametrize("deltas", [[], [""]])
def test_a_streamed_call_without_arguments_equals_the_converse_one(deltas: list[str]) -> None:
    use = {"toolUseId": "tooluse_n", "name": "get_time"}
    plain = json.loads(json.dumps(ANSWER))
    plain["stopReason"] = "tool_use"
    plain["output"]["message"]["content"] = [{"toolUse": {**use, "input": {}}}]
    frames = [event("messageStart", {"role": "assistant"})]
    frames.append(event("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": use}}))
    for piece in deltas:
        frames.append(
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}})
        )
    frames += [
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "tool_use"}),
        event("metadata", {"usage": ANSWER["usage"], "metrics": {}}),
    ]
    answers = iter([httpx2.Response(200, json=plain), httpx2.Response(200, content=b"".join(frames))])
    llm, _ = _create(lambda _r: next(answers), api_key="bedrock-api-key-0000")
    expected = llm.generate("time?")
    stream = llm.generate("time?", stream=True)
    list(stream)
    got = stream.response
    assert [c.to_dict() for c in got.tool_calls or ()] == [c.to_dict() for c in expected.tool_calls or ()]
    assert (got.finish_reason, got.usage, got.content) == (
        expected.finish_reason,
        expected.usage,
        expected.content,
    )


# -- the AWS chain end to end: a container role and a credential_process profile, refreshed ---------
def _expiry(minutes: float) -> str:
    import datetime

    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_id(request: httpx2.Request) -> str:
    return request.headers["authorization"].split("Credential=")[1].split("/")[0]


def test_a_container_role_is_used_and_refreshed_before_it_expires(env_key: pytest.MonkeyPatch) -> None:
    import http.server
    import threading

    issued: list[str] = []

    class Role(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert self.headers.get("Authorization") == "container-auth-token-0000"
            issued.append(f"ASIACONTAINER{len(issued)}")
            body = json.dumps(
                {
                    "AccessKeyId": issued[-1],
                    "SecretAccessKey": "container-secret-0000",
                    "Token": f"container-session-{len(issued)}",
                    "Expiration": _expiry(5),  # inside botocore's mandatory refresh window
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Role)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env_key.delenv("AWS_BEARER_TOKEN_BEDROCK")
        env_key.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{server.server_port}/role")
        env_key.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token-0000")
        llm, seen = _create(_json(ANSWER))
        llm.generate("hi")
        llm.generate("hi")
    finally:
        server.shutdown()
        server.server_close()
    assert [_key_id(r) for r in seen] == issued[-2:] and len(set(issued)) >= 2
    assert seen[-1].headers["x-amz-security-token"] == f"container-session-{len(issued)}"


def test_a_credential_process_profile_is_used_and_refreshed(
    env_key: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import sys

    counter = tmp_path / "count"
    script = tmp_path / "creds.py"
    script.write_text(
        "import json, pathlib, sys\n"
        f"p = pathlib.Path({str(counter)!r})\n"
        "n = int(p.read_text()) + 1 if p.exists() else 1\n"
        "p.write_text(str(n))\n"
        "print(json.dumps({'Version': 1, 'AccessKeyId': f'ASIAPROCESS{n}',"
        " 'SecretAccessKey': 'process-secret',"
        f" 'SessionToken': f'process-token-{{n}}', 'Expiration': {_expiry(5)!r}}}))\n"
    )
    (tmp_path / "config").write_text(f"[profile dev]\ncredential_process = {sys.executable} {script}\n")
    env_key.delenv("AWS_BEARER_TOKEN_BEDROCK")
    llm, seen = _create(_json(ANSWER), profile="dev")
    llm.generate("hi")
    llm.generate("hi")
    ids = [_key_id(r) for r in seen]
    assert ids[0].startswith("ASIAPROCESS") and ids[0] != ids[1]
    assert seen[1].headers["x-amz-security-token"] == f"process-token-{ids[1].removeprefix('ASIAPROCESS')}"


# -- a tool's images where the model takes none inside a toolResult ---------------------------------
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.mark.parametrize(
    ("model", "inside"),
    [
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", True),
        ("us.amazon.nova-pro-v1:0", True),
        ("us.meta.llama4-maverick-17b-instruct-v1:0", False),
        ("mistral.pixtral-large-2502-v1:0", False),
    ],
)
def test_tool_images_go_inside_the_result_only_where_the_model_takes_them(model: str, inside: bool) -> None:
    from toolwire import Image
    from toolwire.types import ToolCall

    shot = ToolResult("t1", "screenshot", ["the screen", Image(data=PNG, media_type="image/png")])
    plain = ToolResult("t2", "get_weather", "sunny")
    history = [
        Message(role="user", content="look"),
        Message(
            role="assistant", tool_calls=[ToolCall("t1", "screenshot", {}), ToolCall("t2", "get_weather", {})]
        ),
        Message(role="tool", tool_results=[shot, plain]),
    ]
    llm, seen = _create(_json(ANSWER), model=model, api_key="bedrock-api-key-0000")
    llm.generate(history)
    body = json.loads(seen[0].content)
    assert converse_input_problems(model, body) == []
    turn = body["messages"][2]
    kinds = [next(iter(b)) for b in turn["content"]]
    result = turn["content"][0]["toolResult"]
    png = base64.b64encode(PNG).decode()
    if inside:
        assert kinds == ["toolResult", "toolResult"]
        assert result["content"] == [
            {"text": "the screen"},
            {"image": {"format": "png", "source": {"bytes": png}}},
        ]
    else:
        assert kinds == ["toolResult", "toolResult", "text", "image"]
        assert result["content"] == [{"text": "the screen"}]
        assert turn["content"][2] == {"text": "Images returned by tool call t1 (screenshot):"}
        assert turn["content"][3] == {"image": {"format": "png", "source": {"bytes": png}}}


def test_region_from_the_environment_is_stripped_and_checked(env_key: pytest.MonkeyPatch) -> None:
    env_key.setenv("AWS_REGION", " eu-west-3\n")
    llm, seen = _create(_json(ANSWER), region=None)
    llm.generate("hi")
    assert llm.region == "eu-west-3" and seen[0].url.host == "bedrock-runtime.eu-west-3.amazonaws.com"
    with pytest.raises(ConfigurationError, match="must be a string"):
        _create(_json(ANSWER), region=1)


@pytest.mark.parametrize(("size", "readable"), [(17 * 1024 * 1024, True), (24 * 1024 * 1024 + 1, False)])
def test_frame_size_limits_are_botocores(size: int, readable: bool) -> None:
    from botocore.eventstream import EventStreamBuffer, InvalidPayloadLength

    from support.fault_server import aws_frame
    from toolwire._eventstream import EventStreamDecoder, EventStreamError

    frame = aws_frame({":event-type": "contentBlockDelta", ":message-type": "event"}, b"x" * size)
    theirs = EventStreamBuffer()
    theirs.add_data(frame)
    if readable:
        (expected,) = list(theirs)
        (ours,) = EventStreamDecoder().feed(frame)
        assert ours.payload == expected.payload and len(ours.payload) == size
    else:
        with pytest.raises(InvalidPayloadLength):
            list(theirs)
        with pytest.raises(EventStreamError):
            EventStreamDecoder().feed(frame)


# -- a retry is signed again --------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True])
def test_a_retry_is_signed_again_with_a_fresh_date_and_refreshed_credentials(
    monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    """AWS refuses a signature five minutes after its x-amz-date: a retry after a long attempt
    (here the clock moves 400 s during a ModelTimeoutException) carries a new one, made with the
    credentials botocore refreshed in between."""
    import datetime

    import botocore.auth
    import botocore.credentials
    from botocore.awsrequest import AWSRequest

    from toolwire.providers import bedrock_auth

    clock = [datetime.datetime(2026, 12, 6, 5, 0, 0, tzinfo=datetime.timezone.utc)]
    monkeypatch.setattr(bedrock_auth, "_stamp_now", lambda: clock[0].strftime("%Y%m%dT%H%M%SZ"))
    issued: list[str] = []

    def refresh() -> dict[str, str]:
        issued.append(f"ASIAROLE{len(issued)}")
        return {
            "access_key": issued[-1],
            "secret_key": f"role-secret-{len(issued)}",
            "token": f"role-token-{len(issued)}",
            "expiry_time": _expiry(5),  # inside the mandatory refresh window: every use refreshes
        }

    creds = botocore.credentials.RefreshableCredentials.create_from_metadata(refresh(), refresh, "test")
    frames = b"".join(
        [
            event("messageStart", {"role": "assistant"}),
            event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "done"}}),
            event("messageStop", {"stopReason": "end_turn"}),
            event("metadata", {"usage": USAGE, "metrics": {}}),
        ]
    )

    def answer(request: httpx2.Request) -> httpx2.Response:
        if len(seen) == 1:
            clock[0] += datetime.timedelta(seconds=400)
            headers = {"x-amzn-ErrorType": "ModelTimeoutException"}
            return httpx2.Response(408, json={"message": "took too long"}, headers=headers)
        return httpx2.Response(200, content=frames) if stream else httpx2.Response(200, json=ANSWER)

    llm, seen = _create(answer, credentials=creds, max_retries=1)
    llm.transport.sleep = lambda _s: None
    if stream:
        list(llm.generate("hi", stream=True))
    else:
        llm.generate("hi")
    first, second = seen
    assert (
        first.headers["x-amz-date"] == "20261206T050000Z"
        and second.headers["x-amz-date"] == "20261206T050640Z"
    )
    assert _key_id(first) != _key_id(second) == issued[-1]
    assert second.headers["x-amz-security-token"] == f"role-token-{len(issued)}"
    # the new signature is the one botocore computes for that request, time and credentials
    signed = {k: v for k, v in second.headers.items() if k in ("content-type", "accept")}
    reference = AWSRequest(method="POST", url=str(second.url), headers=signed, data=second.content)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: clock[0].replace(tzinfo=None))
    botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(
            issued[-1], f"role-secret-{len(issued)}", f"role-token-{len(issued)}"
        ),
        "bedrock",
        "us-east-1",
    ).add_auth(reference)
    assert second.headers["authorization"] == reference.headers["Authorization"]


# -- strict schemas without the bounds Bedrock's grammar compiler refuses -----------------------------
class Basket(pydantic.BaseModel):
    count: int = pydantic.Field(ge=1, le=5, description="how many")
    tags: list[str] = pydantic.Field(min_length=2, max_length=4)
    code: str = pydantic.Field(pattern="^[A-Z]{3}$", min_length=3)
    minimum: int  # a property named like a keyword stays a property


_REFUSED = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
            "maxLength", "maxItems", "uniqueItems", "minProperties", "maxProperties"}  # fmt: skip


def _keywords(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {k for k in node if k != "properties"}
        for key, value in node.items():
            children = value.values() if key == "properties" and isinstance(value, dict) else [value]
            for child in children:
                found |= _keywords(child)
        return found
    if isinstance(node, list):
        return set().union(*(_keywords(v) for v in node)) if node else set()
    return set()


def test_native_structured_output_schema_moves_refused_bounds_into_descriptions() -> None:
    answer = json.loads(json.dumps(ANSWER))
    answer["output"]["message"]["content"] = [
        {"text": '{"count": 9, "tags": ["a", "b"], "code": "ABC", "minimum": 0}'}
    ]
    llm, seen = _create(_json(answer), model="us.anthropic.claude-sonnet-4-5-20250929-v1:0", api_key="k" * 20)
    with pytest.raises(StructuredOutputError):  # 9 > 5: the bound is still enforced on the answer
        llm.generate("basket?", response_format=Basket, max_validation_retries=0)
    fmt = json.loads(seen[0].content)["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
    schema = json.loads(fmt["schema"])
    assert not _keywords(schema) & _REFUSED and "minItems" not in _keywords(schema)
    props = schema["properties"]
    assert props["count"]["description"] == "how many\n\n{minimum: 1, maximum: 5}"
    assert props["tags"]["description"] == "{maxItems: 4, minItems: 2}"
    assert props["code"]["pattern"] == "^[A-Z]{3}$" and "minimum" in props
    # a strict tool gets the same schema; a plain one keeps its bounds
    strict = BedrockProvider.tools_payload(
        [{"name": "b", "parameters": Basket.model_json_schema(), "strict": True}]
    )
    plain = BedrockProvider.tools_payload([{"name": "b", "parameters": Basket.model_json_schema()}])
    assert not _keywords(strict[0]["toolSpec"]["inputSchema"]["json"]) & _REFUSED
    assert plain[0]["toolSpec"]["inputSchema"]["json"]["properties"]["count"]["maximum"] == 5


@pytest.mark.parametrize("ids", [["", ""], ["call_0", "call_0"]])
@pytest.mark.parametrize("split", [False, True])
def test_calls_of_one_turn_sharing_an_id_get_distinct_tool_use_ids(ids: list[str], split: bool) -> None:
    """A server that gives no ids (or the same one twice) in a turn: each call and its result
    still pair up, in order, whether the results come in one tool message or one each."""
    from toolwire.types import ToolCall

    calls = [ToolCall(i, "get_weather", {"city": c}) for i, c in zip(ids, ("Oslo", "Rome"))]
    results = [ToolResult(i, "get_weather", f"sunny in {c}") for i, c in zip(ids, ("Oslo", "Rome"))]
    tool_turns = (
        [Message(role="tool", tool_results=[r]) for r in results]
        if split
        else [Message(role="tool", tool_results=results)]
    )
    history = [
        Message(role="user", content="weather?"),
        Message(role="assistant", tool_calls=calls),
        *tool_turns,
    ]
    history += [
        Message(role="assistant", content="Both sunny."),
        Message(role="user", content="again?"),
        Message(role="assistant", tool_calls=calls[:1]),
        Message(role="tool", tool_results=results[:1]),
    ]
    llm, seen = _create(_json(ANSWER), api_key="bedrock-api-key-0000")
    llm.generate(history, tools=[get_weather])
    body = json.loads(seen[0].content)
    assert converse_input_problems(llm.model or "", body) == []
    turns = body["messages"]
    uses = [b["toolUse"]["toolUseId"] for b in turns[1]["content"] if "toolUse" in b]
    answered = [(b["toolResult"]["toolUseId"], b["toolResult"]["content"]) for b in turns[2]["content"]]
    assert len(set(uses)) == 2 and [a[0] for a in answered] == uses
    assert [a[1] for a in answered] == [[{"text": "sunny in Oslo"}], [{"text": "sunny in Rome"}]]
    # a later turn starts counting again: its first call keeps the first mapping
    later = [b["toolUse"]["toolUseId"] for b in turns[-2]["content"] if "toolUse" in b]
    assert later == uses[:1] and turns[-1]["content"][0]["toolResult"]["toolUseId"] == uses[0]


# -- which reasoning goes back ------------------------------------------------------------------------
def _turn(content: list[dict[str, Any]]) -> dict[str, Any]:
    answer = json.loads(json.dumps(ANSWER))
    answer["output"]["message"]["content"] = content
    return answer


def test_only_signed_or_redacted_reasoning_goes_back() -> None:
    """DeepSeek R1 / gpt-oss reason without a signature and Bedrock refuses that back ("User
    messages cannot contain reasoning content"); Claude's signed and redacted reasoning is required
    back with its turn; a turn of reasoning alone is not sent at all."""
    unsigned = {"reasoningContent": {"reasoningText": {"text": "Let me think."}}}
    signed = {"reasoningContent": {"reasoningText": {"text": "Hmm.", "signature": "sig-123"}}}
    redacted = {"reasoningContent": {"redactedContent": base64.b64encode(b"opaque").decode()}}
    turns = [
        _turn([unsigned, {"text": "Paris."}]),
        _turn([signed, redacted, {"text": "Rome."}]),
        _turn([signed]),  # reasoning alone
    ]
    answers = iter([*turns, ANSWER])
    llm, seen = _create(lambda _r: httpx2.Response(200, json=next(answers)), api_key="bedrock-api-key-0000")
    history: list[Message] = []
    for question in ("capital of France?", "of Italy?", "hm?"):
        history.append(Message(role="user", content=question))
        history.append(llm.generate(history).to_message())
    history.append(Message(role="user", content="thanks"))
    llm.generate(history)
    body = json.loads(seen[-1].content)
    assert converse_input_problems(llm.model or "", body) == []
    assistant = [m["content"] for m in body["messages"] if m["role"] == "assistant"]
    assert assistant == [[{"text": "Paris."}], [signed, redacted, {"text": "Rome."}]]
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "assistant", "user"]


@pytest.mark.parametrize(
    "model",
    [
        "mistral.mistral-large-2402-v1:0",
        "us.mistral.pixtral-large-2502-v1:0",
        "mistral.mistral-small-2402-v1:0",
    ],
)
def test_mistral_models_get_nine_character_tool_ids(model: str) -> None:
    """Mistral behind Converse refuses a short id ("Tool call id was a but must be a-z, A-Z, 0-9,
    with a length of 9"): every id of the history becomes 9 letters or digits, the same for the
    call and its result; other families keep theirs."""
    import re

    from toolwire.types import ToolCall

    ids = ["a", "vcyiitct", "call_0", "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "AbCdE1234"]
    calls = [ToolCall(i, "get_weather", {"city": "Oslo"}) for i in ids]
    results = [ToolResult(i, "get_weather", "sunny") for i in ids]
    history = [
        Message(role="user", content="weather?"),
        Message(role="assistant", tool_calls=calls),
        Message(role="tool", tool_results=results),
    ]
    for name, nine in ((model, True), ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", False)):
        llm, seen = _create(_json(ANSWER), model=name, api_key="bedrock-api-key-0000")
        llm.generate(history, tools=[get_weather])
        body = json.loads(seen[0].content)
        assert converse_input_problems(name, body) == []
        uses = [b["toolUse"]["toolUseId"] for b in body["messages"][1]["content"]]
        answered = [b["toolResult"]["toolUseId"] for b in body["messages"][2]["content"]]
        assert uses == answered and len(set(uses)) == len(ids)
        if nine:
            assert all(re.fullmatch(r"[A-Za-z0-9]{9}", u) for u in uses) and uses[-1] == "AbCdE1234"
        else:
            assert uses[0] == "a" and uses[3] == ids[3]


def test_claude_3_5_haiku_takes_no_images_on_converse() -> None:
    """The user guide's "Supported models and model features": Claude 3.5 Haiku, Vision "No"."""
    from toolwire.types import Capability

    assert Capability.VISION not in BedrockProvider.default_capabilities_for(
        "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    )
    assert Capability.VISION in BedrockProvider.default_capabilities_for(
        "anthropic.claude-3-haiku-20240307-v1:0"
    )


def test_an_instance_role_from_instance_metadata_is_used(env_key: pytest.MonkeyPatch) -> None:
    """The EC2 instance role, through botocore's IMDSv2 client pointed at a loopback fake
    (`AWS_EC2_METADATA_SERVICE_ENDPOINT`): token, role name, then the role's credentials."""
    import http.server
    import threading

    paths: list[str] = []

    class Metadata(http.server.BaseHTTPRequestHandler):
        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self) -> None:
            paths.append(f"PUT {self.path}")
            self._answer(b"imds-session-token")

        def do_GET(self) -> None:
            paths.append(f"GET {self.path}")
            assert self.headers.get("X-aws-ec2-metadata-token") == "imds-session-token"
            if self.path.endswith("/security-credentials/"):
                self._answer(b"bedrock-role")
            else:
                creds = {
                    "Code": "Success",
                    "AccessKeyId": "ASIAINSTANCE",
                    "SecretAccessKey": "instance-secret-0000",
                    "Token": "instance-session-token",
                    "Expiration": _expiry(60),
                }
                self._answer(json.dumps(creds).encode())

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env_key.delenv("AWS_BEARER_TOKEN_BEDROCK")
        env_key.delenv("AWS_EC2_METADATA_DISABLED")
        env_key.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://127.0.0.1:{server.server_port}/")
        llm, seen = _create(_json(ANSWER))
        llm.generate("hi")
    finally:
        server.shutdown()
        server.server_close()
    assert _key_id(seen[0]) == "ASIAINSTANCE"
    assert seen[0].headers["x-amz-security-token"] == "instance-session-token"
    assert "PUT /latest/api/token" in paths and any(p.endswith("/bedrock-role") for p in paths)
