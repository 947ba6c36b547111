"""MCP tools start early only when the user trusts that server's annotations (`readOnlyHint`):
`MCPToolset(trust_annotations=True)` makes a `readOnlyHint: true` tool `read_only`; by default the
hint is shown to `approve` hooks but never acted on."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from tests.session.test_early_starts import PausingServer, _session, run_events

from toolwire import _instrument
from toolwire.events import ToolCallStarted
from toolwire.tools.definition import tool

pytest.importorskip("mcp")
from toolwire.mcp import MCPToolset

DEMO = Path(__file__).resolve().parents[1] / "mcp" / "servers" / "demo_server.py"


class _StartedAdd:
    """An observer that notes when the MCP `add` tool starts (it runs in the server process)."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def call_started(self, record: Any) -> None: ...

    def call_finished(self, record: Any, response: Any, error: Any) -> None: ...

    def tool_started(self, record: Any) -> None:
        if record.call.name == "add":
            self.event.set()

    def tool_finished(self, record: Any, result: Any) -> None: ...


@pytest.mark.parametrize("trusted", [True, False])
def test_read_only_hint_counts_only_when_trusted(trusted: bool) -> None:
    server = PausingServer(
        "chat_completions", [("c1", "add", {"a": 1, "b": 2}), ("c2", "write", {"text": "x"})]
    )
    started = threading.Event()
    server.started = {"search": started}  # what the server waits for at the pause

    @tool
    def write(text: str) -> str:
        """Write."""
        return text

    observer = _StartedAdd(started)
    _instrument.add_observer(observer)
    try:
        with MCPToolset.stdio(sys.executable, [str(DEMO)], trust_annotations=trusted, pin=False) as mcp:
            add = next(t for t in mcp.tools if t.name == "add")
            session = _session(server, [add, write])
            if not trusted:
                server.started = {"search": threading.Event()}  # nothing will start: do not wait long
                server.started["search"].set()
            events = run_events(session, "stream")
    finally:
        _instrument.remove_observer(observer)
    early = {e.call.name: e.early for e in events if isinstance(e, ToolCallStarted)}
    assert early == {"add": trusted, "write": False}
    results = [r for m in session.messages if m.role == "tool" for r in m.tool_results or ()]
    assert [(r.name, r.error) for r in results] == [("add", None), ("write", None)]
    if trusted:
        assert server.at_pause["search"] is True
