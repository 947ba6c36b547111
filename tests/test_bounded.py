"""The sync client's socket wrapper (toolwire._bounded): reads within the attempt's deadline,
the request head and body in one write, and its installation on the clients toolwire creates."""

from __future__ import annotations

from typing import Any

import httpcore2
import httpx2
import pytest

from toolwire import AbstractLLM
from toolwire._bounded import _FLUSH_AT, _Backend, _Stream, attempt_deadline, bounded


class Recorder(httpcore2.NetworkStream):
    def __init__(self) -> None:
        self.writes: list[tuple[bytes, float | None]] = []
        self.reads: list[float | None] = []

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.reads.append(timeout)
        return b"HTTP/1.1 200 OK\r\n"

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writes.append((bytes(buffer), timeout))

    def close(self) -> None:
        pass

    def get_extra_info(self, info: str) -> Any:
        return "inner:" + info


def test_writes_go_out_together_at_the_next_read() -> None:
    inner = Recorder()
    stream = _Stream(inner)
    stream.write(b"POST / HTTP/1.1\r\n\r\n", timeout=5.0)
    stream.write(b"")
    stream.write(b"{}", timeout=5.0)
    assert inner.writes == []  # held: the response is always read after the request is written
    stream.read(10, timeout=7.0)
    assert inner.writes == [(b"POST / HTTP/1.1\r\n\r\n{}", 5.0)]
    assert inner.reads == [7.0]
    assert stream.get_extra_info("socket") == "inner:socket"


def test_a_large_body_is_not_held() -> None:
    inner = Recorder()
    stream = _Stream(inner)
    stream.write(b"head")
    stream.write(b"x" * _FLUSH_AT)
    assert inner.writes == [(b"head" + b"x" * _FLUSH_AT, None)]


def test_reads_wait_no_longer_than_the_attempt_has_left() -> None:
    inner = Recorder()
    stream = _Stream(inner)
    now = [100.0]
    token = attempt_deadline.set((102.5, lambda: now[0]))
    try:
        stream.read(10, timeout=30.0)
        stream.read(10, timeout=None)
        stream.read(10, timeout=1.0)
        now[0] = 102.5
        with pytest.raises(httpcore2.ReadTimeout):
            stream.read(10, timeout=30.0)
    finally:
        attempt_deadline.reset(token)
    stream.read(10, timeout=30.0)  # outside an attempt (a stream being iterated): per read
    assert inner.reads == [2.5, 2.5, 1.0, 30.0]


def test_the_clients_toolwire_creates_are_bounded() -> None:
    llm = AbstractLLM.create(
        "openai", model="gpt-4o-mini", api_key="sk-test-0000000000", base_url="http://127.0.0.1:9"
    )
    pool = llm.transport.client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool._network_backend, _Backend)  # fails if httpx2 moves its pool: see bounded()
    assert bounded(httpx2.Client()) is True


def test_a_substituted_transport_is_left_alone() -> None:
    mock = httpx2.MockTransport(lambda request: httpx2.Response(200))
    assert bounded(httpx2.Client(transport=mock)) is False
    own = httpx2.Client()
    llm = AbstractLLM.create(
        "openai",
        model="gpt-4o-mini",
        api_key="sk-test-0000000000",
        base_url="http://127.0.0.1:9",
        http_client=own,
    )
    assert llm.transport.client is own
    assert not isinstance(own._transport._pool._network_backend, _Backend)  # type: ignore[attr-defined]
