"""The SQLite call recorder: what it stores, that it never stores secrets, that it never blocks a
call on the disk, and that threads, event loops and processes can record into one file at once."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.observe_support import fake_openai_server, make_llm, requires_tool_hooks
from toolwire import _instrument
from toolwire.errors import ConfigurationError, InvalidRequestError
from toolwire.recorder import (
    SCHEMA_VERSION,
    CallStore,
    Recorder,
    connect,
    default_db_path,
    install_from_env,
    record,
)
from toolwire.types import ToolCall, ToolResult

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SECRET_KEY = "sk-proj-TOPSECRETkey0123456789abcdefXYZ"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake")) as url:
        yield url


def _all_bytes(db: Path) -> bytes:
    """The database file and its WAL/SHM side files, raw: what an attacker reading the disk sees."""
    data = b""
    for suffix in ("", "-wal", "-shm"):
        side = Path(str(db) + suffix)
        if side.exists():
            data += side.read_bytes()
    return data


def test_records_a_call_with_request_response_tokens_and_timing(server: str, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    llm = make_llm(server, model="fake-model")
    with record(db) as recorder:
        response = llm.generate(
            "Weather in Paris?", tools=[WEATHER_TOOL], extra_headers={"x-fake-tool-calls": "2"}
        )
    assert recorder.written == 1 and recorder.dropped == 0
    [event] = CallStore(db).recent()
    assert event["kind"] == "chat" and event["status"] == "ok"
    assert event["provider"] == "openai" and event["model"] == "fake-model"
    assert event["finish_reason"] == "tool_calls"
    assert response.usage is not None
    assert event["input_tokens"] == response.usage["prompt_tokens"]
    assert event["output_tokens"] == response.usage["completion_tokens"]
    assert event["duration_ms"] > 0
    assert event["conversation_id"] == f"call-{event['id']}"  # outside a Session: a conversation of one
    full = CallStore(db).event(event["id"][:10])  # a unique prefix is enough
    assert full is not None
    body = full["request"]["body"]
    assert body["messages"] == [{"role": "user", "content": "Weather in Paris?"}]
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert full["request"]["headers"]["x-fake-tool-calls"] == "2"
    assert [c["name"] for c in full["response"]["tool_calls"]] == ["get_weather", "get_weather"]
    assert [c["id"] for c in full["response"]["tool_calls"]] == [c.id for c in response.tool_calls or []]


def test_errors_are_recorded_with_their_type(server: str, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    llm = make_llm(server, max_retries=0)
    with record(db), pytest.raises(InvalidRequestError):
        llm.generate("hi", extra_headers={"x-fake-status": "400"})
    [event] = CallStore(db).recent()
    assert event["status"] == "error"
    assert event["error_type"] == "InvalidRequestError"
    assert "400" in event["error"]
    assert CallStore(db).conversations(errors=True)[0]["errors"] == 1
    assert CallStore(db).conversations(errors=False) == []


def test_streamed_calls_are_recorded_when_the_stream_ends(server: str, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    llm = make_llm(server)
    with record(db) as recorder:
        stream = llm.generate(
            "hi", tools=[WEATHER_TOOL], stream=True, extra_headers={"x-fake-tool-calls": "3"}
        )
        for _ in stream:
            pass
        recorder.flush()
        [event] = CallStore(db).recent()
    assert event["stream"] == 1 and event["status"] == "ok"
    full = CallStore(db).event(event["id"])
    assert full is not None and len(full["response"]["tool_calls"]) == 3


def test_no_secret_reaches_the_database(server: str, tmp_path: Path) -> None:
    """The key, a bearer token in a header and a key-shaped string in a passthrough field: none stored."""
    db = tmp_path / "calls.db"
    llm = make_llm(server, api_key=SECRET_KEY)
    bearer = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0b29sd2lyZS10ZXN0In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
    with record(db):
        llm.generate(
            "hi",
            extra_headers={
                "authorization": f"Bearer {bearer}",
                "x-api-key": SECRET_KEY,
                "x-trace": "visible",
            },
            user=f"someone {SECRET_KEY}",
        )
        with pytest.raises(InvalidRequestError):
            make_llm(server, api_key=SECRET_KEY, max_retries=0).generate(
                "hi", extra_headers={"x-fake-status": "400", "api-key": SECRET_KEY}
            )
    raw = _all_bytes(db)
    assert raw  # the check below reads real data
    for secret in (SECRET_KEY, bearer, SECRET_KEY[-12:], bearer[-20:]):
        assert secret.encode() not in raw
    event = CallStore(db).recent(errors=False)[0]
    full = CallStore(db).event(event["id"])
    assert full is not None
    headers = full["request"]["headers"]
    assert headers["authorization"] == "[redacted]" and headers["x-api-key"] == "[redacted]"
    assert headers["x-trace"] == "visible"  # ordinary headers stay readable


def test_tool_executions_are_recorded_in_their_conversation(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    with record(db), _instrument.conversation("conv-1"):
        ok = _instrument.tool_started(ToolCall.from_raw("call_1", "get_weather", '{"city": "Paris"}'))
        time.sleep(0.01)
        _instrument.tool_finished(ok, ToolResult(call_id="call_1", name="get_weather", output={"temp": 18}))
        bad = _instrument.tool_started(ToolCall.from_raw("call_2", "explode", "{}"))
        _instrument.tool_finished(bad, ToolResult(call_id="call_2", name="explode", error="Error: boom"))
    store = CallStore(db)
    events = store.events("conv-1")
    assert [(e["name"], e["status"]) for e in events] == [("get_weather", "ok"), ("explode", "error")]
    assert events[0]["request"]["arguments"] == {"city": "Paris"}
    assert events[0]["response"]["output"] == '{"temp": 18}'
    assert events[0]["duration_ms"] >= 10
    assert events[1]["error"] == "Error: boom"
    [conversation] = store.conversations()
    assert conversation["tool_calls"] == 2 and conversation["errors"] == 1


async def test_concurrent_async_calls_are_all_recorded(server: str, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    llm = make_llm(server)
    with record(db) as recorder:
        await asyncio.gather(*(llm.agenerate(f"question {i}") for i in range(40)))
    assert recorder.written == 40
    conversations = CallStore(db).conversations(limit=1000)
    assert len(conversations) == 40


def test_threads_record_concurrently(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    with record(db) as recorder:

        def work(n: int) -> None:
            with _instrument.conversation(f"thread-{n}"):
                for i in range(50):
                    rec = _instrument.tool_started(ToolCall.from_raw(f"c{i}", "t", "{}"))
                    _instrument.tool_finished(rec, ToolResult(call_id=f"c{i}", name="t", output=i))

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert recorder.written == 400
    assert sorted(c["tool_calls"] for c in CallStore(db).conversations()) == [50] * 8


def _child(path: str, n: int, count: int) -> None:
    recorder = record(path)
    with _instrument.conversation(f"process-{n}"):
        for i in range(count):
            rec = _instrument.tool_started(ToolCall.from_raw(f"c{i}", "t", "{}"))
            _instrument.tool_finished(rec, ToolResult(call_id=f"c{i}", name="t", output=i))
    recorder.stop()
    assert recorder.written == count, recorder


def test_several_processes_write_one_database(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters, as separate programs would be
    processes = [ctx.Process(target=_child, args=(str(db), n, 150)) for n in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    conversations = CallStore(db).conversations()
    assert sorted(c["conversation_id"] for c in conversations) == [f"process-{n}" for n in range(4)]
    assert all(c["tool_calls"] == 150 for c in conversations)
    pids = {row[0] for row in sqlite3.connect(db).execute("SELECT DISTINCT pid FROM events")}
    assert len(pids) == 4


def test_a_locked_database_never_blocks_the_call(tmp_path: Path) -> None:
    """Another process holding the write lock for a while: hooks return at once, rows land later."""
    db = tmp_path / "calls.db"
    recorder = record(db)
    try:
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        began = time.perf_counter()
        for i in range(200):
            rec = _instrument.tool_started(ToolCall.from_raw(f"c{i}", "t", "{}"))
            _instrument.tool_finished(rec, ToolResult(call_id=f"c{i}", name="t", output=i))
        elapsed = time.perf_counter() - began
        time.sleep(0.3)  # the writer is now waiting on the lock
        assert recorder.written == 0
        blocker.execute("COMMIT")
        blocker.close()
        assert recorder.flush(20)
    finally:
        recorder.stop()
    assert elapsed < 0.5, f"200 recorded events took {elapsed:.3f}s on the caller's side"
    assert recorder.written == 200


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    recorder = Recorder(db, max_queue=5).start()
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        for i in range(50):
            rec = _instrument.tool_started(ToolCall.from_raw(f"c{i}", "t", "{}"))
            _instrument.tool_finished(rec, ToolResult(call_id=f"c{i}", name="t", output=i))
        assert recorder.dropped >= 40
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        recorder.stop()
    assert recorder.written + recorder.dropped == 50


def test_database_is_wal_and_versioned(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    conn = connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(ConfigurationError, match="newer toolwire"):
        Recorder(db)


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    with record(db), _instrument.conversation("c"):
        _instrument.tool_finished(
            _instrument.tool_started(ToolCall.from_raw("a", "t", "{}")),
            ToolResult(call_id="a", name="t", output=1),
        )
    connect(db).close()
    versions = sqlite3.connect(db).execute("SELECT version FROM schema_version").fetchall()
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]  # each migration once
    assert len(CallStore(db).events("c")) == 1


def test_default_path_and_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOOLWIRE_HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / "calls.db"
    monkeypatch.delenv("TOOLWIRE_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "toolwire" / "calls.db"

    import toolwire.recorder as recorder_module

    monkeypatch.setattr(recorder_module, "_env_recorder", None)
    monkeypatch.setenv("TOOLWIRE_RECORD", "0")
    assert install_from_env() is None
    monkeypatch.setenv("TOOLWIRE_RECORD", str(tmp_path / "env.db"))
    rec = install_from_env()
    try:
        assert rec is not None and rec.path == tmp_path / "env.db"
        assert install_from_env() is rec  # once per process
        assert rec in _instrument.observers()
    finally:
        assert rec is not None
        rec.stop()
    assert rec not in _instrument.observers()


def test_store_filters_and_missing_database(tmp_path: Path) -> None:
    assert CallStore(tmp_path / "nothing.db").conversations() == []
    assert CallStore(tmp_path / "nothing.db").event("x") is None
    assert not (tmp_path / "nothing.db").exists()  # reading never creates a database
    db = tmp_path / "calls.db"

    class FakeProvider:
        name = "anthropic"

        def endpoint(self, request: Any) -> str:
            return "https://example.invalid/v1/messages"

        def static_headers(self) -> dict[str, str]:
            return {}

        def build_body(self, request: Any) -> dict[str, Any]:
            return {"model": request.model}

    from toolwire.providers.base import ChatRequest

    with record(db):
        for conv, model in (("a", "claude-x"), ("b", "claude-y")):
            with _instrument.conversation(conv):
                rec = _instrument.call_started(FakeProvider(), ChatRequest(messages=[], model=model))  # type: ignore[arg-type]
                _instrument.call_finished(rec, None, RuntimeError("nope") if conv == "b" else None)
    store = CallStore(db)
    assert [c["conversation_id"] for c in store.conversations(model="claude-x")] == ["a"]
    assert [c["conversation_id"] for c in store.conversations(errors=True)] == ["b"]
    assert store.conversations(provider="openai") == []
    assert store.facets() == {"providers": ["anthropic"], "models": ["claude-x", "claude-y"]}


@requires_tool_hooks
def test_a_session_turn_with_two_tools_is_one_conversation(server: str, tmp_path: Path) -> None:
    from toolwire import Session

    def get_weather(city: str) -> str:
        """Weather for a city."""
        time.sleep(0.05)
        return "sunny"

    db = tmp_path / "calls.db"
    session = Session(make_llm(server), tools=[get_weather], extra_headers={"x-fake-tool-calls": "2"})
    with record(db):
        session.generate("Weather in Paris and Rome?")
    [conversation] = CallStore(db).conversations()
    assert conversation["model_calls"] == 2 and conversation["tool_calls"] == 2
    events = CallStore(db).events(conversation["conversation_id"])
    assert [e["kind"] for e in events] == ["chat", "tool", "tool", "chat"]
    first, second = events[1], events[2]
    # run concurrently: the two tool intervals overlap
    assert second["started"] < first["started"] + first["duration_ms"] / 1000
