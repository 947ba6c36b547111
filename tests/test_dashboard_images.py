"""The dashboard's images (issue 18 item 4): served by hash with their real type, behind the same
host and token checks as every endpoint; conversations carry thumbnail references; the CLI shows
an image as a one-line summary, never its bytes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.observe_support import fake_openai_server, requires_tool_hooks
from test_recorder_images import B64, IMAGE, PNG, run_session

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient
from typer.testing import CliRunner

from toolwire.cli.app import build_app
from toolwire.dashboard import create_app

LOCAL = "http://127.0.0.1"
SHA = IMAGE.sha256 or ""


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    tmp = tmp_path_factory.mktemp("dash-images")
    db = tmp / "calls.db"
    with fake_openai_server(tmp) as url:
        yield db, run_session(url, db)


@requires_tool_hooks
def test_image_served_by_hash_with_its_type(recorded: tuple[Path, str]) -> None:
    db, _ = recorded
    with TestClient(create_app(db), base_url=LOCAL) as client:
        response = client.get(f"/api/images/{SHA}")
        assert response.status_code == 200
        assert response.content == PNG
        assert response.headers["content-type"] == "image/png"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert client.get("/api/images/" + "0" * 64).status_code == 404
        assert client.get("/api/images/not-a-hash").status_code == 404
        assert client.get("/api/images/" + SHA.upper()).status_code == 404


@requires_tool_hooks
def test_conversation_json_carries_thumbnail_references(recorded: tuple[Path, str]) -> None:
    db, conversation_id = recorded
    with TestClient(create_app(db), base_url=LOCAL) as client:
        response = client.get(f"/api/conversations/{conversation_id}")
        events = response.json()["events"]
        one = client.get(f"/api/events/{events[1]['id']}").json()
        page = client.get("/static/app.js").text
    assert B64 not in response.text
    thumb = {"sha256": SHA, "media_type": "image/png", "size": len(PNG), "src": f"api/images/{SHA}"}
    for event in events:  # the first request holds the user's image; every tool returned it
        assert event["images"] == [thumb], event["kind"]
    assert one["images"] == [thumb]
    assert "thumbnails(e.images" in page and 'class: "thumb"' in page


@requires_tool_hooks
def test_image_endpoint_keeps_the_host_and_token_checks(recorded: tuple[Path, str]) -> None:
    db, _ = recorded
    with TestClient(create_app(db), base_url="http://evil.example") as other:
        assert other.get(f"/api/images/{SHA}").status_code == 400
    app = create_app(db, token="s3cret-token", local_only=False)
    with TestClient(app, base_url="http://10.0.0.5") as anonymous:
        assert anonymous.get(f"/api/images/{SHA}").status_code == 401
        wrong = {"authorization": "Bearer wrong"}
        assert anonymous.get(f"/api/images/{SHA}", headers=wrong).status_code == 401
    with TestClient(app, base_url="http://10.0.0.5") as browser:
        browser.get("/?token=s3cret-token")  # sets the cookie an <img> request carries
        assert browser.get(f"/api/images/{SHA}").content == PNG


def test_a_stored_blob_that_is_not_an_image_is_not_served(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    from toolwire.recorder import connect

    connect(db).close()
    html = b"<html><script>alert(1)</script></html>"
    with sqlite3.connect(db) as conn:  # a row claiming to be a PNG (a tampered or foreign database)
        conn.execute("INSERT INTO images VALUES (?, 'image/png', ?, ?, 0)", ("a" * 64, len(html), html))
        conn.execute("INSERT INTO images VALUES (?, 'text/html', ?, ?, 0)", ("b" * 64, len(PNG), PNG))
    with TestClient(create_app(db), base_url=LOCAL) as client:
        assert client.get("/api/images/" + "a" * 64).status_code == 415
        assert client.get("/api/images/" + "b" * 64).status_code == 415


@requires_tool_hooks
def test_cli_shows_an_image_as_a_summary(recorded: tuple[Path, str]) -> None:
    db, conversation_id = recorded
    from toolwire.recorder import CallStore

    tool = next(e for e in CallStore(db).events(conversation_id) if e["kind"] == "tool")
    result = CliRunner().invoke(build_app(), ["calls", "show", tool["id"], "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"[image image/png {len(PNG)} B sha256:{SHA[:12]}…]" in result.output
    assert B64[:40] not in result.output
