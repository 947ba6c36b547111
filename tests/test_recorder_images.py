"""Images in the call recorder (issue 18 item 4): each image's bytes stored once by hash in the
`images` table, rows holding only a reference; no base64 in any row; old databases still open."""

from __future__ import annotations

import base64
import json
import sqlite3
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.observe_support import fake_openai_server, make_llm, requires_tool_hooks
from toolwire import Image, Message, Session
from toolwire._recorded_images import describe, describe_all
from toolwire.errors import ToolwireError
from toolwire.recorder import CallStore, connect, record_calls
from toolwire.types import ToolCall


def tiny_png(seed: int = 0) -> bytes:
    """A valid 2x2 RGB PNG (distinct per seed), so a browser could draw the thumbnail."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes([seed % 256, 80, 160] * 2) for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = tiny_png(7)
IMAGE = Image(data=PNG)
B64 = base64.b64encode(PNG).decode()


def screenshot(page: str) -> Any:
    """Take a screenshot of a page."""
    return ["screenshot of " + page, IMAGE]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake")) as url:
        yield url


def run_session(server: str, db: Path, turns: int = 3) -> str:
    """A Session whose tool returns the same image every turn: the fake server keeps calling tools
    while the last message is not a tool message (the image follows as a user message), so the
    session stops at `max_turns` with the image in every later request body."""
    session = Session(
        make_llm(server, model="fake-model"),
        tools=[screenshot],
        max_turns=turns,
        extra_headers={"x-fake-tool-calls": "2"},
    )
    with record_calls(db):
        try:
            session.generate([Message(role="user", content=["Look at the home page", IMAGE])])
        except ToolwireError:
            pass  # max_turns reached: what was sent is recorded all the same
    conversation_id: str = CallStore(db).conversations()[0]["conversation_id"]
    return conversation_id


def rows_text(db: Path) -> str:
    """Every stored row: the events and the history messages they share."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT request, response FROM events UNION ALL SELECT message, '' FROM history")
        return "\n".join(f"{r[0]}\n{r[1]}" for r in rows)


@requires_tool_hooks
def test_one_blob_per_image_and_no_base64_in_rows(server: str, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    conversation_id = run_session(server, db)
    events = CallStore(db).events(conversation_id)
    chats = [e for e in events if e["kind"] == "chat"]
    tools = [e for e in events if e["kind"] == "tool"]
    assert len(chats) >= 2 and len(tools) >= 2
    text = rows_text(db)
    assert B64 not in text and B64[:40] not in text  # not whole, not a prefix: no base64 at all
    assert "data:image/png;base64" not in text
    assert text.count(IMAGE.sha256 or "-") >= len(tools) + 1  # each tool row and the history refer to it
    assert all(IMAGE.sha256 in json.dumps(chat["request"]) for chat in chats)  # every body, read back
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT sha256, media_type, size, data FROM images").fetchall()
    assert stored == [(IMAGE.sha256, "image/png", len(PNG), PNG)]  # one blob for every use
    ref = {"type": "image", "sha256": IMAGE.sha256, "media_type": "image/png", "size": len(PNG)}
    for tool in tools:
        assert tool["response"]["images"] == [ref]
        assert tool["response"]["output"] == "screenshot of " + tool["request"]["arguments"]["page"]
    # the wire body keeps its shape, the image part holding the reference instead of a data: URL
    first = chats[0]["request"]["body"]["messages"][0]["content"]
    assert {"type": "image_url", "image_url": {"url": ref}} in first
    assert CallStore(db).image(IMAGE.sha256 or "") == ("image/png", PNG)


def test_url_images_keep_their_url_and_store_no_blob(server: str, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    llm = make_llm(server, model="fake-model")
    with record_calls(db):
        llm.generate(
            [Message(role="user", content=["What is this?", Image.from_url("https://example.com/cat.jpg")])]
        )
    [event] = CallStore(db).recent()
    full = CallStore(db).event(event["id"])
    assert full is not None
    [part] = [p for p in full["request"]["body"]["messages"][0]["content"] if p["type"] == "image_url"]
    assert part["image_url"]["url"] == "https://example.com/cat.jpg"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM images").fetchone() == (0,)


def test_an_old_database_without_the_images_table_still_opens(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    connect(db).close()
    with sqlite3.connect(db) as conn:  # as schema 1 left it, before images were stored
        conn.execute("DROP TABLE images")
        conn.execute("DROP TABLE history")
        conn.execute("DELETE FROM schema_version WHERE version > 1")
        conn.execute(
            "INSERT INTO events (id, conversation_id, kind, started, status, recorded, response)"
            " VALUES ('e1', 'c1', 'tool', 1.0, 'ok', 2.0, '{\"output\": \"x\"}')"
        )
    store = CallStore(db)
    assert [e["id"] for e in store.events("c1")] == ["e1"]
    assert store.image("0" * 64) is None  # the table was created on open
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,), (2,)]  # migrated
    with record_calls(db) as recorder:  # and it records images from now on
        pass
    assert recorder.errors == 0


def test_describe_never_shows_bytes() -> None:
    ref = {"type": "image", "sha256": "ab" * 32, "media_type": "image/png", "size": 1234}
    assert describe(ref) == "[image image/png 1.2 KB sha256:abababababab…]"
    old_row = {
        "content": [{"type": "image", "media_type": "image/png", "data": B64}, "data:image/png;base64," + B64]
    }
    shown = str(describe_all(old_row))
    assert B64 not in shown and "[image image/png" in shown


@pytest.mark.parametrize(
    ("provider", "config"),
    [
        ("openai", {"model": "gpt-4o", "api_key": "x"}),
        ("openai", {"model": "gpt-4o", "api_key": "x", "api": "responses"}),
        ("anthropic", {"model": "claude-sonnet-4-5", "api_key": "x"}),
        ("gemini", {"model": "gemini-2.5-flash", "api_key": "x"}),
        ("mistral", {"model": "pixtral-large-latest", "api_key": "x"}),
        ("bedrock", {"model": "anthropic.claude-3-5-sonnet-20240620-v1:0", "region": "us-east-1"}),
    ],
)
def test_every_providers_wire_body_loses_its_base64(
    provider: str, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each provider puts the image in its own place (a data: URL, a base64 field): all become refs."""
    from toolwire import AbstractLLM
    from toolwire._recorded_images import ImageRefs
    from toolwire.providers.base import ChatRequest

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIexample")
    llm = AbstractLLM.create(provider, **config)
    result = Message(role="tool", tool_results=[{"call_id": "c1", "name": "shot", "output": ["page", IMAGE]}])
    request = ChatRequest(
        messages=[
            Message(role="user", content=["look", IMAGE]),
            Message(role="assistant", tool_calls=[ToolCall.from_raw("c1", "shot", "{}")]),
            result,
        ],
        model=config["model"],
    )
    body = llm.build_body(request)
    assert B64 in json.dumps(body)
    blobs: dict[str, tuple[str, bytes]] = {}
    stored = json.dumps(ImageRefs([IMAGE], blobs).replace(body))
    assert B64[:40] not in stored and "base64," not in stored
    assert stored.count(IMAGE.sha256 or "-") >= 2  # the user's image and the tool's
    assert blobs == {IMAGE.sha256: ("image/png", PNG)}
