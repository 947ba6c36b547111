"""Bedrock with the rest of toolwire, unchanged: Session and approvals, fallback (Azure first, Bedrock
second), cross-provider history both ways, tracing (`gen_ai.provider.name` = `aws.bedrock`), the
recorder, the CLI's schema command, `standardize_tool_response`; and no AWS secret key, session
token or bearer key in any error, repr, log line, trace or recording."""

from __future__ import annotations

import json
import logging
import sqlite3
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from support.bedrock_shapes import converse_input_problems
from support.replay import ReplayFactory
from toolwire import AbstractLLM, Session, tracing
from toolwire.cli.app import build_app
from toolwire.errors import ToolwireError
from toolwire.recorder import record
from toolwire.tools.standardize import standardize_tool_response
from toolwire.types import GenerateResponse, Message, ToolResult

MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjSESSIONTOKEN0123456789abcdef"
BEARER = "ABSKQmVkcm9ja0FQSUtleS1BEARERKEY0123456789"


def get_weather(city: str) -> str:
    """Current weather in a city.

    Args:
        city: the city
    """
    return f"sunny in {city}"


def _converse(content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 12, "outputTokens": 4, "totalTokens": 16},
        "metrics": {"latencyMs": 3},
    }


TOOL_TURN = _converse(
    [
        {"text": "Checking."},
        {"toolUse": {"toolUseId": "tooluse_a1", "name": "get_weather", "input": {"city": "Oslo"}}},
    ],
    "tool_use",
)
ANSWER = _converse([{"text": "Sunny in Oslo."}], "end_turn")


def _scripted(
    *replies: httpx2.Response | dict[str, Any],
) -> tuple[httpx2.MockTransport, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []
    queue = list(replies)

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        return reply if isinstance(reply, httpx2.Response) else httpx2.Response(200, json=reply)

    return httpx2.MockTransport(answer), seen


def _bedrock(transport: httpx2.MockTransport, **kw: Any) -> Any:
    config: dict[str, Any] = {
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": SECRET_KEY,
        "aws_session_token": SESSION_TOKEN,
    }
    config.update(kw)
    return AbstractLLM.create(
        "bedrock",
        model=MODEL,
        region="us-east-1",
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
        **config,
    )


def _bodies(seen: list[httpx2.Request]) -> list[dict[str, Any]]:
    out = []
    for request in seen:
        body = json.loads(request.content)
        assert converse_input_problems(MODEL, body) == []
        out.append(body)
    return out


# -- Session, approvals ------------------------------------------------------------------------------
async def test_session_runs_the_tool_loop_sync_and_async() -> None:
    for mode in ("sync", "async"):
        transport, seen = _scripted(TOOL_TURN, ANSWER)
        session = Session(_bedrock(transport), tools=[get_weather], system_prompt="Be brief.")
        final = (
            session.generate("Weather in Oslo?")
            if mode == "sync"
            else await session.agenerate("Weather in Oslo?")
        )
        assert final.content == "Sunny in Oslo." and final.provider == "bedrock"
        second = _bodies(seen)[1]
        assert second["system"] == [{"text": "Be brief."}]
        result = second["messages"][-1]["content"][0]["toolResult"]
        assert result == {
            "toolUseId": "tooluse_a1",
            "content": [{"text": "sunny in Oslo"}],
            "status": "success",
        }


def test_a_refused_approval_reaches_the_model_as_an_error_result() -> None:
    transport, seen = _scripted(TOOL_TURN, ANSWER)
    session = Session(_bedrock(transport), tools=[get_weather], approve=lambda *_: False)
    session.generate("Weather in Oslo?")
    result = _bodies(seen)[1]["messages"][-1]["content"][0]["toolResult"]
    assert result["status"] == "error" and "sunny" not in json.dumps(result["content"])  # the tool never ran


def test_session_stream_on_bedrock() -> None:
    from support.fault_server import aws_event

    frames = [
        aws_event("messageStart", {"role": "assistant"}),
        aws_event(
            "contentBlockStart",
            {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "tooluse_s", "name": "get_weather"}}},
        ),
        aws_event(
            "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"city": "Rome"}'}}}
        ),
        aws_event("contentBlockStop", {"contentBlockIndex": 0}),
        aws_event("messageStop", {"stopReason": "tool_use"}),
        aws_event(
            "metadata", {"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}, "metrics": {}}
        ),
    ]
    answer = [
        aws_event("messageStart", {"role": "assistant"}),
        aws_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Sunny."}}),
        aws_event("contentBlockStop", {"contentBlockIndex": 0}),
        aws_event("messageStop", {"stopReason": "end_turn"}),
        aws_event(
            "metadata", {"usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}, "metrics": {}}
        ),
    ]
    transport, _ = _scripted(
        httpx2.Response(200, content=b"".join(frames)), httpx2.Response(200, content=b"".join(answer))
    )
    events = list(Session(_bedrock(transport), tools=[get_weather]).stream("Weather in Rome?"))
    names = [type(e).__name__ for e in events]
    assert "ToolCallStarted" in names and "ToolResultEvent" in names and names[-1] == "SessionFinished"
    assert events[-1].response.content == "Sunny."  # type: ignore[attr-defined]


# -- fallback, cross-provider history -------------------------------------------------------------------
def test_fallback_azure_first_then_bedrock() -> None:
    azure = httpx2.MockTransport(
        lambda r: httpx2.Response(503, json={"error": {"message": "busy", "code": "x"}})
    )
    bedrock, seen = _scripted(ANSWER)
    llm = AbstractLLM.create(
        "fallback",
        providers=[
            ("azure_openai", {"deployment": "gpt-4o", "azure_endpoint": "https://x.openai.azure.com", "api_key": "k",  # noqa: E501
                              "max_retries": 0, "http_client": httpx2.Client(transport=azure)}),
            ("bedrock", {"model": MODEL, "region": "us-east-1", "api_key": BEARER,
                         "http_client": httpx2.Client(transport=bedrock)}),
        ],
    )  # fmt: skip
    resp = llm.generate("hi", tools=[get_weather])
    assert resp.content == "Sunny in Oslo." and resp.provider == "bedrock"
    assert seen[0].headers["authorization"] == f"Bearer {BEARER}"


def test_an_openai_shaped_history_continued_on_bedrock() -> None:
    history = [
        {"role": "system", "content": "Weather bot."},
        {"role": "user", "content": "Oslo and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_PDht93e7bo48a7PyiyUcmK97", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},  # noqa: E501
            {"id": "call_e5h:2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},  # noqa: E501
        ]},
        {"role": "tool", "tool_call_id": "call_PDht93e7bo48a7PyiyUcmK97", "content": "rain"},
        {"role": "tool", "tool_call_id": "call_e5h:2", "content": '{"sky": "clear"}'},
    ]  # fmt: skip
    transport, seen = _scripted(ANSWER)
    _bedrock(transport).generate(history, tools=[get_weather])
    (body,) = _bodies(seen)
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    uses = [b["toolUse"]["toolUseId"] for b in body["messages"][1]["content"]]
    results = [b["toolResult"]["toolUseId"] for b in body["messages"][2]["content"]]
    assert uses == results and uses[0] == "call_PDht93e7bo48a7PyiyUcmK97" and uses[1].startswith("tooluse_tw")


def test_a_bedrock_reasoning_turn_continued_on_anthropic_and_openai(replay: ReplayFactory) -> None:
    r = replay("bedrock", "bedrock_converse_reasoning_content_tool_use_and_tool_result.yaml", override=False)
    llm = AbstractLLM.create(
        "bedrock", model="us.anthropic.claude-3-7-sonnet-20250219-v1:0", region="us-east-1", api_key=BEARER,
        http_client=r.client,
    )  # fmt: skip
    tool = {"name": "get_user_country", "parameters": {"type": "object", "properties": {}}}
    resp: GenerateResponse = llm.generate("Largest city in my country?", tools=[tool])
    history = [
        Message(role="user", content="Largest city in my country?"),
        resp.to_message(),
        Message(role="tool", tool_results=[ToolResult(resp.tool_calls[0].id, "get_user_country", "Mexico")]),  # type: ignore[index]
    ]
    answers = {
        "anthropic": {"id": "m", "type": "message", "role": "assistant", "model": "c", "content": [{"type": "text", "text": "ok"}],  # noqa: E501
                      "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}},
        "openai": {"id": "c", "object": "chat.completion", "model": "m", "created": 1,
                   "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}]},  # noqa: E501
    }  # fmt: skip
    for name, answer in answers.items():
        transport, seen = _scripted(answer)
        target = AbstractLLM.create(
            name, model="m", api_key="k", http_client=httpx2.Client(transport=transport)
        )
        assert target.generate(history, tools=[tool]).content == "ok"
        text = seen[0].content.decode()
        assert "tooluse_W9DaUFg4Tj2cRPpndqxWSg" in text  # the id travels
        assert "ErcBCkgIBhAB" not in text and "reasoningContent" not in text  # Bedrock-only parts stay home


# -- tracing, recorder, CLI, standardize --------------------------------------------------------------
@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument(tracer_provider=provider, capture_content=True)
    try:
        yield exporter
    finally:
        tracing.uninstrument()


def test_tracing_names_the_provider_aws_bedrock(spans: InMemorySpanExporter) -> None:
    transport, _ = _scripted(TOOL_TURN)
    _bedrock(transport).generate("Weather in Oslo?", tools=[get_weather])
    [span] = spans.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert attrs["gen_ai.provider.name"] == "aws.bedrock" and attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_calls",)
    for secret in (SECRET_KEY, SESSION_TOKEN):
        assert secret not in repr(attrs)


def test_the_recorder_keeps_no_aws_secret(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    transport, _ = _scripted(TOOL_TURN)
    with record(db):
        _bedrock(transport).generate("Weather in Oslo?", tools=[get_weather])
    connection = sqlite3.connect(db)
    dump = "\n".join(connection.iterdump())
    connection.close()
    assert "tooluse_a1" in dump  # the call was recorded
    for secret in (SECRET_KEY, SESSION_TOKEN, SESSION_TOKEN[10:]):
        assert secret not in dump


def test_cli_schema_in_the_bedrock_dialect(tmp_path: Path) -> None:
    module = tmp_path / "weather_tools.py"
    module.write_text('def get_weather(city: str) -> str:\n    """Weather."""\n    return city\n')
    result = CliRunner().invoke(build_app(), ["schema", f"{module}:get_weather", "--dialect", "bedrock"])
    assert result.exit_code == 0, result.output
    spec = json.loads(result.output)["toolSpec"]
    assert spec["name"] == "get_weather" and spec["inputSchema"]["json"]["required"] == ["city"]


def test_standardize_tool_response_reads_a_converse_body() -> None:
    calls = standardize_tool_response(TOOL_TURN, "bedrock")
    assert [(c.id, c.name, c.arguments) for c in calls] == [("tooluse_a1", "get_weather", {"city": "Oslo"})]
    assert standardize_tool_response(TOOL_TURN, "aws_bedrock").tool_calls[0].id == "tooluse_a1"


# -- secrets -----------------------------------------------------------------------------------------------
def _echo(known: str) -> Any:
    """A hostile proxy: its error quotes every credential header it received, and a secret it
    should not know (the AWS secret key never travels; it is scrubbed all the same)."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        echoed = {k: v for k, v in request.headers.items() if k in ("authorization", "x-amz-security-token")}
        message = f"denied {json.dumps(echoed)} secret={known}"
        headers = {"x-amzn-ErrorType": "AccessDeniedException"}
        return httpx2.Response(403, json={"message": message}, headers=headers)

    return answer


@pytest.mark.parametrize("auth", ["sigv4", "bearer"])
async def test_no_secret_in_errors_reprs_or_logs(auth: str, caplog: pytest.LogCaptureFixture) -> None:
    transport = httpx2.MockTransport(_echo(BEARER if auth == "bearer" else SECRET_KEY))
    extra = (
        {"api_key": BEARER, "aws_access_key_id": None, "aws_secret_access_key": None}
        if auth == "bearer"
        else {}
    )
    llm = _bedrock(transport, **extra)
    secrets = (SECRET_KEY, SESSION_TOKEN, BEARER)
    with caplog.at_level(logging.DEBUG):
        for mode in ("sync", "async", "stream"):
            with pytest.raises(ToolwireError) as info:
                if mode == "sync":
                    llm.generate("hi", tools=[get_weather])
                elif mode == "async":
                    await llm.agenerate("hi")
                else:
                    list(llm.generate("hi", stream=True))
            texts = [
                str(info.value),
                repr(info.value),
                repr(info.value.body),
                "".join(traceback.format_exception(info.value)),
            ]  # type: ignore[attr-defined]
            for text in texts:
                for secret in secrets:
                    assert secret not in text, f"{secret[:6]} leaked in {mode}: {text[:300]}"
    for secret in secrets:
        assert secret not in repr(llm) and secret not in caplog.text
