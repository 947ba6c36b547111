"""The recorded MCP Streamable HTTP exchanges (../shared/fixtures/recorded/mcp/, see its README)
replayed against MCPToolset's HTTP client: the 2025 handshake, `Mcp-Session-Id` echoed on every
request and on the closing DELETE, SSE answers with `: ping` comments and log notifications before
the result."""

from __future__ import annotations

import json

import pytest
from mcp_replay import Recorded, replay_server
from mcp_support import RECORDED

from toolwire import ToolCall, execute_tool_calls
from toolwire.mcp import MCPToolDefinition, MCPToolset
from toolwire.tools.dialects import DIALECTS

pytest.importorskip("mcp")

DEEPWIKI = RECORDED / "mcp_streamable_http_deepwiki_initialize_list_call.yaml"
SESSION = RECORDED / "mcp_streamable_http_session_id_call_and_delete.yaml"

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason="../shared/fixtures/recorded/mcp not present")


def _final_result(recorded: Recorded) -> dict[str, object]:
    """The JSON-RPC result at the end of a recorded SSE body."""
    lines = [line for line in recorded.body.splitlines() if line.startswith("data: ")]
    result: dict[str, object] = json.loads(lines[-1][len("data: ") :])["result"]
    return result


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_deepwiki_initialize_list_and_call(mode: str) -> None:
    with replay_server(DEEPWIKI) as replay:
        with MCPToolset.http(
            replay.url, headers={"Authorization": "Bearer sk-secret-123"}, mode=mode
        ) as server:
            names = [t.name for t in server.tools]
            assert names == ["read_wiki_structure", "read_wiki_contents", "ask_question"]
            for tool in server.tools:
                for dialect in DIALECTS:
                    tool.parameters_for(dialect)  # every schema compiles for every dialect
            recorded_call = next(r for r in replay.recorded if r.method == "tools/call")
            arguments = recorded_call.request["params"]["arguments"]
            [result] = execute_tool_calls(
                [ToolCall(id="c", name="ask_question", arguments=arguments)], server
            )
            assert "secret" not in repr(server)
        assert result.error is None
        expected = _final_result(recorded_call)
        assert result.output == expected["structuredContent"]
        assert str(result.output["result"]).startswith("Pydantic AI is a Python framework")  # type: ignore[index]
        posts = [s for s in replay.seen if s.method == "POST"]
        methods = [s.body.get("method") for s in posts]
        assert methods[-4:] == ["initialize", "notifications/initialized", "tools/list", "tools/call"]
        if mode == "auto":
            assert methods[0] == "server/discover"  # answered "method not found": fell back to 2025
        call = posts[-1]
        assert call.body["params"]["name"] == "ask_question"
        assert call.body["params"]["arguments"] == arguments
        for seen in posts:
            assert seen.headers.get("authorization") == "Bearer sk-secret-123"
            assert "text/event-stream" in seen.headers.get("accept", "")
        for seen in posts[-3:]:
            assert seen.headers.get("mcp-protocol-version") == "2025-11-25"


def test_session_id_is_echoed_and_deleted_on_close() -> None:
    with replay_server(SESSION) as replay:
        session_id = next(r.headers["mcp-session-id"] for r in replay.recorded if r.method == "initialize")
        with MCPToolset.http(replay.url, mode="legacy") as server:
            tool = server.tools[0]
            assert isinstance(tool, MCPToolDefinition)
            assert tool.name == "get_current_date"
            assert tool.parameters == {
                "properties": {},
                "title": "get_current_dateArguments",
                "type": "object",
            }
            assert tool.parameters_for("gemini") == {}
            assert server.call("get_current_date") == "2024-01-01"
        initialize, *later = [s for s in replay.seen if s.method != "GET"]
        assert initialize.body["method"] == "initialize"
        assert "mcp-session-id" not in {k.lower() for k in initialize.headers}
        assert [s.headers.get("mcp-session-id") for s in later] == [session_id] * len(later)
        assert later[-1].method == "DELETE"
        assert [s.body["method"] for s in later[:-1]] == [
            "notifications/initialized",
            "tools/list",
            "tools/call",
        ]


def test_a_tool_with_a_non_object_schema_is_refused_by_name() -> None:
    # Not recorded: the recorded tools/list with one more tool whose inputSchema root is a string
    # (the SDK refuses such a page whole; toolwire reads it raw and refuses only that tool).
    with replay_server(SESSION) as replay:
        listing = next(r for r in replay.recorded if r.method == "tools/list")
        bad = {"name": "scalar", "description": "bad", "inputSchema": {"type": "string"}}
        listing.body = listing.body.replace('"tools":[', '"tools":[' + json.dumps(bad) + ",")
        with MCPToolset.http(replay.url, mode="legacy") as server:
            assert [t.name for t in server.tools] == ["get_current_date"]
            assert server.refused == {
                "scalar": "scalar: its inputSchema has type 'string' at the root; "
                "a tool's arguments must be a JSON object"
            }
            assert server.call("get_current_date") == "2024-01-01"
