"""Helpers for the MCP tests: the test servers (official SDK, in tests/mcp/servers/), started over
stdio or as Streamable HTTP on 127.0.0.1, and a few assertions."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVERS = HERE / "servers"
DEMO = SERVERS / "demo_server.py"
PAGED = SERVERS / "paged_server.py"
LISTEN = SERVERS / "listen_server.py"
UNRULY = SERVERS / "unruly_server.py"
ROOT = HERE.parents[1]
RECORDED = ROOT.parent / "shared" / "fixtures" / "recorded" / "mcp"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@contextmanager
def http_server(*flags: str, port: int | None = None, script: Path = DEMO) -> Iterator[str]:
    """The demo server (or `script`) as Streamable HTTP (`--json`, `--stateless`); yields its /mcp URL."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), "--http", str(port), *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def children_of(pid: int, *, zombies: bool = False) -> list[int]:
    """Live child processes of `pid` (Linux /proc), zombies excluded (or only zombies)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and (fields[0] == "Z") == zombies:
            found.append(int(entry.name))
    return found


def zombies_of(pid: int) -> list[int]:
    """Child processes of `pid` that ended and were never waited for."""
    return children_of(pid, zombies=True)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
