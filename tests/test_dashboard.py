"""The dashboard's ASGI app (Starlette TestClient): API, filters, static page, token and host checks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.observe_support import fake_openai_server, record_session, requires_tool_hooks

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient

from toolwire import _instrument
from toolwire.dashboard import create_app, serve
from toolwire.errors import ConfigurationError
from toolwire.providers.base import ChatRequest
from toolwire.recorder import record
from toolwire.types import ToolCall, ToolResult

LOCAL = "http://127.0.0.1"


class _Provider:
    def __init__(self, name: str) -> None:
        self.name = name

    def endpoint(self, request: Any) -> str:
        return "https://example.invalid/chat"

    def static_headers(self) -> dict[str, str]:
        return {}

    def build_body(self, request: Any) -> dict[str, Any]:
        return {"model": request.model}


def _seed(db: Path) -> None:
    with record(db):
        for conversation, provider, model, fail in (
            ("conv-ok", "openai", "gpt-x", False),
            ("conv-bad", "anthropic", "claude-y", True),
        ):
            with _instrument.conversation(conversation):
                rec = _instrument.call_started(_Provider(provider), ChatRequest(messages=[], model=model))  # type: ignore[arg-type]
                _instrument.call_finished(rec, None, RuntimeError("overloaded") if fail else None)
                tool = _instrument.tool_started(ToolCall.from_raw("call_1", "lookup", '{"q": "x"}'))
                time.sleep(0.002)
                _instrument.tool_finished(tool, ToolResult(call_id="call_1", name="lookup", output="found"))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    db = tmp_path / "calls.db"
    _seed(db)
    with TestClient(create_app(db), base_url=LOCAL) as test_client:
        yield test_client


def test_index_and_static_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="static/app.js"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "drawTimeline" in script.text
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/../__init__.py").status_code == 404


def test_conversation_list_and_filters(client: TestClient) -> None:
    data = client.get("/api/conversations").json()
    assert [c["conversation_id"] for c in data["conversations"]] == ["conv-bad", "conv-ok"]
    assert data["facets"] == {"providers": ["anthropic", "openai"], "models": ["claude-y", "gpt-x"]}

    def ids(query: str) -> list[str]:
        rows = client.get("/api/conversations" + query).json()["conversations"]
        return [c["conversation_id"] for c in rows]

    assert ids("?provider=openai") == ["conv-ok"]
    assert ids("?model=claude-y") == ["conv-bad"]
    assert ids("?errors=1") == ["conv-bad"]
    assert ids("?errors=0") == ["conv-ok"]
    assert ids("?limit=1") == ["conv-bad"]
    assert ids("?limit=nonsense") == ["conv-bad", "conv-ok"]


def test_one_conversation_and_one_event(client: TestClient) -> None:
    data = client.get("/api/conversations/conv-bad").json()
    kinds = [(e["kind"], e["status"]) for e in data["events"]]
    assert kinds == [("chat", "error"), ("tool", "ok")]
    assert data["events"][0]["error"] == "overloaded"
    assert data["events"][1]["request"]["arguments"] == {"q": "x"}
    event = client.get(f"/api/events/{data['events'][1]['id']}").json()
    assert event["response"]["output"] == "found"
    assert client.get("/api/conversations/nope").status_code == 404
    assert client.get("/api/events/nope").status_code == 404


def test_stats_for_the_chart(client: TestClient) -> None:
    points = client.get("/api/stats").json()["points"]
    assert [p["status"] for p in points] == ["ok", "error"]  # oldest first
    assert all(p["duration_ms"] >= 0 for p in points)


def test_requests_for_other_hosts_are_refused(tmp_path: Path) -> None:
    """A page on another site that resolves its own name to 127.0.0.1 (DNS rebinding) gets nothing."""
    with TestClient(create_app(tmp_path / "x.db"), base_url="http://evil.example") as other:
        assert other.get("/api/conversations").status_code == 400
    with TestClient(create_app(tmp_path / "x.db"), base_url="http://localhost:8765") as local:
        assert local.get("/api/conversations").json()["conversations"] == []


def test_token_is_required_everywhere_once_set(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    _seed(db)
    app = create_app(db, token="s3cret-token", local_only=False)
    with TestClient(app, base_url="http://10.0.0.5") as anonymous:
        assert anonymous.get("/").status_code == 401
        assert anonymous.get("/api/conversations").status_code == 401
        assert anonymous.get("/static/app.js").status_code == 401
        assert (
            anonymous.get("/api/conversations", headers={"authorization": "Bearer wrong"}).status_code == 401
        )
    with TestClient(app, base_url="http://10.0.0.5") as browser:
        page = browser.get("/?token=s3cret-token")
        assert page.status_code == 200
        assert "toolwire_dashboard_token" in page.headers["set-cookie"]
        assert "httponly" in page.headers["set-cookie"].lower()
        # the cookie now authorizes the page's own API calls
        assert len(browser.get("/api/conversations").json()["conversations"]) == 2
    with TestClient(app, base_url="http://10.0.0.5") as api:
        bearer = {"authorization": "Bearer s3cret-token"}
        assert api.get("/api/conversations", headers=bearer).status_code == 200


def test_serve_refuses_a_public_host_without_expose(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="--expose"):
        serve(db=tmp_path / "x.db", host="0.0.0.0")


@requires_tool_hooks
def test_a_recorded_session_through_the_api(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    with fake_openai_server(tmp_path) as url:
        conversation_id = record_session(db, url)
    with TestClient(create_app(db), base_url=LOCAL) as client:
        events = client.get(f"/api/conversations/{conversation_id}").json()["events"]
    assert [(e["kind"], e["name"]) for e in events] == [
        ("chat", None),
        ("tool", "slow_weather"),
        ("tool", "slow_time"),
        ("tool", "broken_tool"),
        ("chat", None),
    ]
    weather, clock, broken = events[1:4]
    assert clock["started"] < weather["started"] + weather["duration_ms"] / 1000  # overlapping
    assert broken["status"] == "error" and "sensor offline" in broken["error"]
