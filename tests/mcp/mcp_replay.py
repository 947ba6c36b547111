"""A loopback server that answers an MCP client with the responses recorded in
../shared/fixtures/recorded/mcp/ (vcrpy cassettes of real Streamable HTTP traffic).

Each POST is matched to the recorded exchange by its JSON-RPC method (and, for `tools/call`, the
tool name); the recorded status, `content-type`, `mcp-session-id` and body are sent back verbatim,
except that the JSON-RPC `id` in the body is set to the id the client used (the recorded client
numbered its requests differently). Requests the recording does not have (the 2026 `server/discover`
probe) are answered as a 2025 server answers an unknown method: JSON-RPC error -32601. Every
request is kept in `seen` for assertions. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml


@dataclass
class Recorded:
    method: str
    tool: str | None
    request: dict[str, Any]
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class SeenRequest:
    method: str  # HTTP method
    headers: dict[str, str]
    body: Any


def _header(headers: dict[str, Any], name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value[0] if isinstance(value, list) else value
    return None


def load(path: Path, endpoint: str = "/mcp") -> list[Recorded]:
    """The MCP exchanges of one cassette (its other interactions, e.g. OpenAI calls, are skipped)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        if not request["uri"].split("?")[0].endswith(endpoint):
            continue
        raw = request.get("body")
        body = request.get("parsed_body") if raw is None else raw
        parsed = json.loads(body) if isinstance(body, str) and body else (body or {})
        method = parsed.get("method", request["method"]) if isinstance(parsed, dict) else request["method"]
        tool = (parsed.get("params") or {}).get("name") if method == "tools/call" else None
        headers = {
            k.lower(): (v[0] if isinstance(v, list) else v)
            for k, v in (response.get("headers") or {}).items()
            if k.lower() in ("content-type", "mcp-session-id")
        }
        text = (response.get("body") or {}).get("string", "")
        out.append(Recorded(method, tool, parsed, response["status"]["code"], headers, text))
    return out


_ID = re.compile(r'("id":)\s*\d+')


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # the optional standalone SSE stream: the recordings have none
        self.server.seen.append(SeenRequest("GET", {k.lower(): v for k, v in self.headers.items()}, None))
        self._answer(405, {}, b"")

    def do_DELETE(self) -> None:
        self.server.seen.append(SeenRequest("DELETE", {k.lower(): v for k, v in self.headers.items()}, None))
        found = self.server.find("DELETE", None)
        if found is None:
            self._answer(405, {}, b"")
        else:
            self._answer(found.status, found.headers, found.body.encode())

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        message = json.loads(raw)
        self.server.seen.append(SeenRequest("POST", {k.lower(): v for k, v in self.headers.items()}, message))
        method = message.get("method")
        tool = (message.get("params") or {}).get("name") if method == "tools/call" else None
        found = self.server.find(method, tool)
        if found is None:
            error = {
                "jsonrpc": "2.0",
                "id": message.get("id"),
                "error": {"code": -32601, "message": "Method not found"},
            }
            self._answer(200, {"content-type": "application/json"}, json.dumps(error).encode())
            return
        body = found.body
        if "id" in message:
            body = _ID.sub(lambda m: f"{m.group(1)}{json.dumps(message['id'])}", body)
        self._answer(found.status, found.headers, body.encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, recorded: list[Recorded]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.recorded = recorded
        self.seen: list[SeenRequest] = []
        self.lock = threading.Lock()

    def find(self, method: str | None, tool: str | None) -> Recorded | None:
        with self.lock:
            for item in self.recorded:
                if item.method == method and item.tool == tool:
                    return item
        return None


@dataclass
class ReplayServer:
    url: str
    recorded: list[Recorded]
    seen: list[SeenRequest] = field(default_factory=list)


@contextmanager
def replay_server(path: Path) -> Iterator[ReplayServer]:
    recorded = load(path)
    server = _Server(recorded)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        replay = ReplayServer(f"http://127.0.0.1:{server.server_address[1]}/mcp", recorded)
        replay.seen = server.seen
        yield replay
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
