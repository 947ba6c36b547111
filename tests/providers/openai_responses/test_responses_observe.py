"""Tracing, the recorder and fallback on the Responses wire, unchanged (against the mock)."""

from __future__ import annotations

from pathlib import Path

import pytest
from responses_mock import call_item, make, message_item, response_body

from toolwire import AbstractLLM
from toolwire.errors import ServerError
from toolwire.recorder import CallStore, record

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from toolwire import tracing

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_a_responses_call_is_traced_like_a_chat_call() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument(tracer_provider=provider)
    try:
        llm, _ = make([response_body([call_item("call_1", "get_weather", '{"city":"Paris"}')])])
        response = llm.generate("weather?", tools=[WEATHER], max_tokens=50)
    finally:
        tracing.uninstrument()
    [span] = exporter.get_finished_spans()
    attrs = dict(span.attributes or {})
    assert span.name == "chat gpt-5-mini"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert attrs["gen_ai.response.id"] == response.id == "resp_1"
    assert attrs["gen_ai.usage.input_tokens"] == 10 and attrs["gen_ai.usage.output_tokens"] == 5
    assert "sk-test" not in repr(attrs)


def test_the_recorder_stores_the_responses_body(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    llm, _ = make([response_body([call_item("call_1", "get_weather", '{"city":"Paris"}')])])
    with record(db) as recorder:
        llm.generate("weather?", tools=[WEATHER], store=False)
    assert recorder.written == 1
    [event] = CallStore(db).recent()
    assert (event["provider"], event["finish_reason"], event["input_tokens"]) == ("openai", "tool_calls", 10)
    full = CallStore(db).event(event["id"])
    assert full is not None
    assert full["request"]["url"] == "https://api.openai.com/v1/responses"
    body = full["request"]["body"]
    assert body["input"] == [{"role": "user", "content": "weather?"}]
    assert body["include"] == ["reasoning.encrypted_content"] and body["tools"][0]["name"] == "get_weather"
    assert [c["id"] for c in full["response"]["tool_calls"]] == ["call_1"]
    assert b"sk-test" not in b"".join(p.read_bytes() for p in tmp_path.glob("calls.db*"))


def test_fallback_from_responses_to_chat() -> None:
    failing, _ = make([(500, {"error": {"message": "boom", "type": "server_error", "code": None}})])
    backup, server = make([response_body([message_item("from the backup")])], "azure_openai")
    llm = AbstractLLM.create("fallback", providers=[failing, backup])
    response = llm.generate("hi")
    assert response.content == "from the backup"
    assert response.provider_data["fallback"]["skipped"] == ["openai"]
    assert str(server.requests[0].url).endswith("/openai/v1/responses")
    with pytest.raises(ServerError):
        failing2, _ = make([(500, {"error": {"message": "boom", "type": "server_error", "code": None}})])
        failing2.generate("hi")
