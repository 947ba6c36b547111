"""Histories stored once in the recorder (issue 16 item 15): each call writes only its new messages,
readers get exactly the bodies they got when every row held its whole history, and call logs written
by the schema-1 recorder still read as they did."""

from __future__ import annotations

import itertools
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import recorder_support
from toolwire.recorder import SCHEMA_VERSION, CallRecorder, CallStore, record_calls

FIXTURES = Path(__file__).parent / "fixtures"
CONVERSATIONS = {
    "conv-one-provider": (["openai"], 4),
    "conv-switched": (["anthropic", "gemini", "openai"], 5),
}
# what differs between two recordings of the same calls
VOLATILE = ("id", "started", "recorded", "duration_ms", "pid")


def stable(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in event.items() if k not in VOLATILE} for event in events]


def record_all(db: Path, *, incremental: bool = True) -> None:
    recorder = CallRecorder(db)
    recorder._incremental = incremental
    with recorder:
        for conversation_id, (providers, turns) in CONVERSATIONS.items():
            recorder_support.conversation(conversation_id, providers, turns)
    assert recorder.errors == 0 and recorder.dropped == 0


def schema1_db(tmp_path: Path) -> Path:
    db = tmp_path / "schema1.db"
    conn = sqlite3.connect(db)
    conn.executescript((FIXTURES / "recorder_schema1.sql").read_text())
    conn.close()
    return db


def test_a_schema1_call_log_reads_exactly_as_it_did(tmp_path: Path) -> None:
    """recorder_schema1.sql was written, and recorder_schema1.json read, by the schema-1 toolwire."""
    expected = json.loads((FIXTURES / "recorder_schema1.json").read_text())
    db = schema1_db(tmp_path)
    store = CallStore(db)
    assert store.conversations() == expected["conversations"]
    assert store.recent(limit=100) == expected["recent"]
    for conversation_id, events in expected["events"].items():
        assert store.events(conversation_id) == events
        for event in events:
            assert store.event(event["id"]) == event
    with sqlite3.connect(db) as conn:  # opened means migrated, once
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [
            (v,) for v in range(1, SCHEMA_VERSION + 1)
        ]
    # and new calls go into it beside the old rows, which still read the same
    with record_calls(db) as recorder:
        recorder_support.conversation("conv-new", ["openai"], 3)
    assert recorder.errors == 0
    new, old = (stable(store.events(c))[:3] for c in ("conv-new", "conv-one-provider"))
    assert [dict(e, conversation_id="") for e in new] == [dict(e, conversation_id="") for e in old]
    assert store.events("conv-switched") == expected["events"]["conv-switched"]


def test_stored_histories_read_back_as_the_schema1_recorder_stored_them(tmp_path: Path) -> None:
    """The same calls recorded today: every reader gets the bodies the whole-row recorder gave."""
    expected = json.loads((FIXTURES / "recorder_schema1.json").read_text())
    db = tmp_path / "calls.db"
    record_all(db)
    store = CallStore(db)
    for conversation_id, events in expected["events"].items():
        got = store.events(conversation_id)
        assert stable(got) == stable(events)
        assert [store.event(e["id"]) for e in got] == got


def test_the_baseline_path_and_the_stored_history_give_the_same_rows(tmp_path: Path) -> None:
    record_all(tmp_path / "whole.db", incremental=False)
    record_all(tmp_path / "history.db")
    for conversation_id in CONVERSATIONS:
        whole = CallStore(tmp_path / "whole.db").events(conversation_id)
        assert stable(CallStore(tmp_path / "history.db").events(conversation_id)) == stable(whole)
    with sqlite3.connect(tmp_path / "whole.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM history").fetchone() == (0,)


def _all_bytes(db: Path) -> bytes:
    return b"".join(Path(f"{db}{s}").read_bytes() for s in ("", "-wal") if Path(f"{db}{s}").exists())


def test_each_call_writes_only_the_messages_it_adds(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    turns = 30
    with record_calls(db):
        recorder_support.conversation("long", ["openai"], turns)
    events = CallStore(db).events("long")
    sent = [len(e["request"]["body"]["messages"]) for e in events]
    assert sent[0] == 2 and all(b > a for a, b in itertools.pairwise(sent))  # the whole history, each time
    with sqlite3.connect(db) as conn:
        nodes = conn.execute("SELECT COUNT(*) FROM history").fetchone()[0]
        request_bytes = conn.execute("SELECT SUM(LENGTH(request)) FROM events").fetchone()[0]
        images = conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    assert nodes == sent[-1]  # each message once, not once per later call (sum(sent) is ~30x more)
    assert request_bytes < 2000 * turns  # rows hold the tools and settings, not the history
    assert images == 1  # one blob for the image every body carries
    data = _all_bytes(db)
    assert all(key.encode() not in data for key in recorder_support.KEYS.values())
    assert b"HISTORYsecret" not in data


def test_a_failed_write_never_leaves_a_row_pointing_at_missing_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer remembers what it stored; if a batch did not reach the disk it must forget it."""
    db = tmp_path / "calls.db"
    real = CallRecorder._write
    failures = [sqlite3.OperationalError("disk I/O error")]

    def flaky(*args: Any) -> None:
        if failures:
            raise failures.pop()
        real(*args)

    monkeypatch.setattr(CallRecorder, "_write", staticmethod(flaky))
    llm = recorder_support.provider("openai")
    history = recorder_support.turn_messages(0)
    with record_calls(db) as recorder:
        from toolwire import _instrument

        with _instrument.conversation("c"):
            recorder_support.chat(llm, history, 0)  # lost: the write fails
            assert recorder.flush()
            history += recorder_support.turn_messages(1)
            recorder_support.chat(llm, history, 1)
    assert recorder.errors == 1
    [event] = CallStore(db).events("c")
    assert len(event["request"]["body"]["messages"]) == len(history)


def _wait_until_taken(recorder: Any) -> None:
    deadline = time.monotonic() + 10.0
    while recorder._queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # past its batch collection, into the write that waits on the lock


def test_a_writer_far_behind_does_not_hold_every_body_sent(tmp_path: Path) -> None:
    """Queued calls keep a reference to the body they sent only while the queue is short; past
    that the writer builds the body again, and what is read back is the same."""
    from toolwire import _instrument
    from toolwire.recorder import _KEEP_BODIES

    db = tmp_path / "calls.db"
    recorder = record_calls(db)
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the disk is stuck: everything stays queued
    llm = recorder_support.provider("openai")
    history = recorder_support.turn_messages(0)
    try:
        with _instrument.conversation("behind"):
            for turn in range(_KEEP_BODIES * 2):
                recorder_support.chat(llm, history, turn)
                history = history + recorder_support.turn_messages(turn + 1)
                if turn == 0:
                    # the writer takes this first call and then waits on the locked database:
                    # the calls after it stay queued, however the threads are scheduled
                    _wait_until_taken(recorder)
        queued = [item for item in list(recorder._queue.queue) if isinstance(item, tuple)]
        held = sum("sent_body" in item[1].extra for item in queued)
        assert len(queued) > _KEEP_BODIES + 1 and held <= _KEEP_BODIES + 1
    finally:
        blocker.execute("COMMIT")
        blocker.close()
        recorder.stop()
    assert recorder.written == _KEEP_BODIES * 2 and recorder.errors == 0
    sent = [len(e["request"]["body"]["messages"]) for e in CallStore(db).events("behind")]
    assert sent == [2 + 2 * turn for turn in range(_KEEP_BODIES * 2)]


def test_the_writer_memory_is_bounded_and_an_evicted_conversation_is_written_whole() -> None:
    from toolwire._recorded_history import MARKER, HistoryCache

    cache = HistoryCache(max_conversations=3, max_bytes=1000)
    serialized: list[Any] = []

    def serialize(item: Any) -> str:
        serialized.append(item)
        return json.dumps(item)

    nodes: dict[str, Any] = {}
    first = cache.store(("a",), [{"m": 1}, {"m": 2}], serialize, nodes, size=400)
    again = cache.store(("a",), [{"m": 1}, {"m": 2}, {"m": 3}], serialize, nodes, size=450)
    assert serialized == [{"m": 1}, {"m": 2}, {"m": 3}]  # the known prefix is not redone
    assert again["length"] == 3 and first[MARKER] == nodes[again[MARKER]][0]  # its chain continues
    cache.store(("b",), [{"m": 1}], serialize, nodes, size=400)
    cache.store(("c",), [{"m": 1}], serialize, nodes, size=400)  # 1250 bytes held: "a" goes
    serialized.clear()
    cache.store(("a",), [{"m": 1}, {"m": 2}, {"m": 3}, {"m": 4}], serialize, nodes, size=500)
    assert len(serialized) == 4  # written whole once more, to the same nodes
    cache.store(("d",), [{"m": 9}], serialize, nodes, size=10)
    cache.store(("e",), [{"m": 9}], serialize, nodes, size=10)
    assert len(cache._lists) <= 3 and cache._held <= 1000
    # an item that differs (a trimmed or edited history) starts a new branch from there
    serialized.clear()
    edited = cache.store(("e",), [{"m": 8}], serialize, nodes)
    assert serialized == [{"m": 8}] and edited[MARKER] in nodes
