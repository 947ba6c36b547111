"""The overlap is visible: an early tool's span starts inside the model call's span (OpenTelemetry),
and the recorder (what the dashboard's timeline draws) has the tool starting before the model call
ended."""

from __future__ import annotations

import threading
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from tests.session.test_early_starts import CALLS, PausingServer, _session, _tools, run_events

from toolwire import tracing
from toolwire.recorder import CallStore, record


def test_the_early_tool_span_starts_inside_the_model_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.instrument(tracer_provider=provider)
    try:
        server = PausingServer("chat_completions", CALLS)
        session = _session(server, _tools(server, []))
        run_events(session, "stream")
    finally:
        tracing.uninstrument()
    spans = exporter.get_finished_spans()
    chat = next(s for s in spans if s.name.startswith("chat"))  # the first model call
    search = next(s for s in spans if s.name == "execute_tool search")
    write = next(s for s in spans if s.name == "execute_tool write")
    assert chat.start_time is not None and chat.end_time is not None and search.start_time is not None
    assert chat.start_time <= search.start_time < chat.end_time  # inside the model span
    assert write.start_time is not None and write.start_time >= chat.end_time
    assert search.attributes is not None and write.attributes is not None
    conversation = search.attributes["gen_ai.conversation.id"]
    assert conversation == write.attributes["gen_ai.conversation.id"] == session.conversation_id


def test_the_recorder_timeline_shows_the_tool_starting_during_the_model_call(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    recorder = record(path)
    try:
        server = PausingServer("anthropic", CALLS)
        server.started = {"search": threading.Event(), "write": threading.Event()}
        session = _session(server, _tools(server, []))
        run_events(session, "astream")
    finally:
        recorder.stop()
    events = CallStore(path).events(session.conversation_id)
    chat = min((e for e in events if e["kind"] == "chat"), key=lambda e: e["started"])
    tool = next(e for e in events if e["kind"] == "tool" and e["name"] == "search")
    assert chat["started"] <= tool["started"] < chat["started"] + chat["duration_ms"] / 1000
