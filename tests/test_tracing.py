"""OpenTelemetry spans (GenAI semantic conventions), checked with the SDK's in-memory exporter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from support.observe_support import fake_openai_server, make_llm, requires_tool_hooks

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from toolwire import _instrument, tracing
from toolwire.errors import InvalidRequestError
from toolwire.types import ToolCall, ToolResult

SECRET = "sk-proj-TRACESECRET0123456789abcdef"
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake")) as url:
        yield url


@pytest.fixture
def spans() -> Iterator[tuple[InMemorySpanExporter, TracerProvider]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument(tracer_provider=provider)
    try:
        yield exporter, provider
    finally:
        tracing.uninstrument()


def _attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def test_chat_span_attributes(server: str, spans: tuple[InMemorySpanExporter, TracerProvider]) -> None:
    exporter, _ = spans
    llm = make_llm(server, api_key=SECRET, model="fake-model")
    response = llm.generate("hello there", tools=[TOOL], temperature=0.2, max_tokens=50)
    [span] = exporter.get_finished_spans()
    assert span.name == "chat fake-model"
    assert span.kind == SpanKind.CLIENT
    attrs = _attrs(span)
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "fake-model"
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert response.usage is not None
    assert attrs["gen_ai.usage.input_tokens"] == response.usage["prompt_tokens"]
    assert attrs["gen_ai.usage.output_tokens"] == response.usage["completion_tokens"]
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["server.address"] == "127.0.0.1"
    assert "gen_ai.input.messages" not in attrs  # content only when asked for
    assert SECRET not in repr(attrs) and "hello there" not in repr(attrs)
    assert span.status.status_code == StatusCode.UNSET


def test_error_span(server: str, spans: tuple[InMemorySpanExporter, TracerProvider]) -> None:
    exporter, _ = spans
    with pytest.raises(InvalidRequestError):
        make_llm(server, max_retries=0).generate("x", extra_headers={"x-fake-status": "400"})
    [span] = exporter.get_finished_spans()
    assert _attrs(span)["error.type"] == "InvalidRequestError"
    assert _attrs(span)["http.response.status_code"] == 400
    assert span.status.status_code == StatusCode.ERROR


def test_streamed_call_span_ends_with_the_stream(
    server: str, spans: tuple[InMemorySpanExporter, TracerProvider]
) -> None:
    exporter, _ = spans
    stream = make_llm(server).generate("x", stream=True)
    assert exporter.get_finished_spans() == ()  # still open while the stream is read
    for _ in stream:
        pass
    [span] = exporter.get_finished_spans()
    assert "gen_ai.request.stream" not in _attrs(span)  # not a GenAI convention attribute
    assert "gen_ai.usage.output_tokens" in _attrs(span)


def test_content_capture_is_opt_in(server: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument(tracer_provider=provider, capture_content=True)
    try:
        make_llm(server).generate("hello there", tools=[TOOL])
        rec = _instrument.tool_started(ToolCall.from_raw("call_1", "lookup", '{"q": "x"}'))
        _instrument.tool_finished(rec, ToolResult(call_id="call_1", name="lookup", output="found it"))
    finally:
        tracing.uninstrument()
    chat, tool = exporter.get_finished_spans()
    assert "hello there" in _attrs(chat)["gen_ai.input.messages"]
    assert '"tool_call"' in _attrs(chat)["gen_ai.output.messages"]
    assert "lookup" in _attrs(chat)["gen_ai.tool.definitions"]
    assert _attrs(tool)["gen_ai.tool.call.arguments"] == '{"q": "x"}'
    assert _attrs(tool)["gen_ai.tool.call.result"] == "found it"


def test_tool_spans(spans: tuple[InMemorySpanExporter, TracerProvider]) -> None:
    exporter, _ = spans
    with _instrument.conversation("conv-7"):
        ok = _instrument.tool_started(ToolCall.from_raw("call_1", "lookup", '{"q": "x"}'))
        _instrument.tool_finished(ok, ToolResult(call_id="call_1", name="lookup", output="found"))
        bad = _instrument.tool_started(ToolCall.from_raw("call_2", "lookup", "{}"))
        _instrument.tool_finished(bad, ToolResult(call_id="call_2", name="lookup", error="Error: boom"))
    first, second = exporter.get_finished_spans()
    assert first.name == "execute_tool lookup" and first.kind == SpanKind.INTERNAL
    assert _attrs(first) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "lookup",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": "conv-7",
    }
    assert _attrs(second)["error.type"] == "tool_error"
    assert second.status.status_code == StatusCode.ERROR
    assert second.status.description == "tool_error"  # the error text is content: not without opt-in


def test_instrument_is_idempotent_and_uninstrument_stops(
    spans: tuple[InMemorySpanExporter, TracerProvider],
) -> None:
    exporter, provider = spans
    tracing.instrument(tracer_provider=provider)
    assert sum(isinstance(o, tracing.TracingObserver) for o in _instrument.observers()) == 1
    tracing.uninstrument()
    assert not tracing.is_instrumented()
    rec = _instrument.tool_started(ToolCall.from_raw("c", "t", "{}"))
    _instrument.tool_finished(rec, ToolResult(call_id="c", name="t", output=1))
    assert exporter.get_finished_spans() == ()


def test_provider_names() -> None:
    from toolwire import AbstractLLM

    def create(name: str, **config: Any) -> Any:
        return AbstractLLM.create(name, api_key="k", model="m", **config)

    azure = create("azure_openai", azure_endpoint="https://r.openai.azure.com")
    assert tracing.provider_name(azure) == "azure.ai.openai"
    assert tracing.provider_name(create("gemini")) == "gcp.gemini"
    assert tracing.provider_name(create("gemini", vertexai=True)) == "gcp.vertex_ai"
    assert tracing.provider_name(create("mistral")) == "mistral_ai"

    class P:  # an object that is not a provider class: its name is used as is
        name = "my_server"

    assert tracing.provider_name(P()) == "my_server"


def _session_tree(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, list[ReadableSpan]]:
    finished = exporter.get_finished_spans()
    [root] = [s for s in finished if s.name == "invoke_agent test"]
    children = sorted((s for s in finished if s is not root), key=lambda s: s.start_time or 0)
    return root, children


def _assert_turn_tree(
    root: ReadableSpan, children: list[ReadableSpan], conversation_id: str, messages: list[Any]
) -> None:
    assert [s.name for s in children] == [
        "chat fake-model",
        "execute_tool slow_a",
        "execute_tool slow_b",
        "chat fake-model",
    ]
    for span in children:
        assert span.parent is not None and span.parent.span_id == root.context.span_id
        assert span.context.trace_id == root.context.trace_id
        assert _attrs(span)["gen_ai.conversation.id"] == conversation_id
    chat1, tool_a, tool_b, chat2 = children
    # the two tools ran in parallel: their intervals overlap, and both sit between the model turns
    assert tool_a.start_time is not None and tool_b.start_time is not None
    assert tool_a.end_time is not None and tool_b.end_time is not None
    assert tool_b.start_time < tool_a.end_time and tool_a.start_time < tool_b.end_time
    assert chat1.end_time is not None and chat2.start_time is not None
    assert chat1.end_time <= min(tool_a.start_time, tool_b.start_time)
    assert max(tool_a.end_time, tool_b.end_time) <= chat2.start_time
    [assistant] = [m for m in messages if m.tool_calls]
    assert [_attrs(tool_a)["gen_ai.tool.call.id"], _attrs(tool_b)["gen_ai.tool.call.id"]] == [
        c.id for c in assistant.tool_calls or []
    ]


def slow_a(city: str) -> str:
    """Slow tool A."""
    time.sleep(0.1)
    return f"A {city}"


def slow_b(city: str) -> str:
    """Slow tool B."""
    time.sleep(0.1)
    return f"B {city}"


@requires_tool_hooks
def test_one_session_turn_with_two_parallel_tools(
    server: str, spans: tuple[InMemorySpanExporter, TracerProvider]
) -> None:
    from toolwire import Session

    exporter, provider = spans
    session = Session(make_llm(server), tools=[slow_a, slow_b], extra_headers={"x-fake-tool-calls": "2"})
    with provider.get_tracer("app").start_as_current_span("invoke_agent test"):
        session.generate("Weather?")
    root, children = _session_tree(exporter)
    _assert_turn_tree(root, children, session.conversation_id, session.messages)  # type: ignore[attr-defined]


@requires_tool_hooks
async def test_async_session_turn_with_two_parallel_tools(
    server: str, spans: tuple[InMemorySpanExporter, TracerProvider]
) -> None:
    from toolwire import Session

    exporter, provider = spans
    session = Session(make_llm(server), tools=[slow_a, slow_b], extra_headers={"x-fake-tool-calls": "2"})
    with provider.get_tracer("app").start_as_current_span("invoke_agent test"):
        await session.agenerate("Weather?")
    root, children = _session_tree(exporter)
    _assert_turn_tree(root, children, session.conversation_id, session.messages)  # type: ignore[attr-defined]
