"""Test-suite conveniences over `toolwire.testing` for replaying ../shared/fixtures/recorded.

The dialect parsing and the replay transport live in `toolwire.testing` (one implementation, also
public); this module only adds fixture paths, client pairs and the `replay` pytest fixture:

    def test_parallel_calls(replay):
        r = replay("openai", "openai_parallel_tool_calls_and_tool_results.yaml")
        llm = AbstractLLM.create("openai", model="gpt-4o", api_key="sk-test",
                                 http_client=r.client, async_http_client=r.async_client)
        ...
        assert [m["tool_call_id"] for m in r.requests[1].json["messages"] if m["role"] == "tool"] == [...]

`replay(...)` also installs the clients as `toolwire._transport.client_override` for the rest of
the test, so providers created without `http_client=` are routed through the cassette too.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from toolwire._transport import ClientOverride, client_override
from toolwire.testing import (
    Cassette,
    CassetteMismatchError,
    Interaction,
    MatchMode,
    ReceivedRequest,
    RecordedRequest,
    RecordedResponse,
    ReplayTransport,
    load_cassette,
)

__all__ = [
    "Cassette",
    "CassetteMismatchError",
    "Interaction",
    "ReceivedRequest",
    "RecordedRequest",
    "RecordedResponse",
    "Replay",
    "ReplayTransport",
    "all_fixture_files",
    "fixture_path",
    "fixtures_root",
    "load_cassette",
    "replay",
    "replay_clients",
]


def fixtures_root() -> Path:
    """../shared/fixtures/recorded beside the repository (a fresh clone), or $TOOLWIRE_FIXTURES."""
    override = os.environ.get("TOOLWIRE_FIXTURES")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "recorded"


def fixture_path(provider_dir: str, name: str) -> Path:
    path = fixtures_root() / provider_dir / name
    if not path.is_file():
        raise FileNotFoundError(
            f"recorded fixture not found: {path} (set TOOLWIRE_FIXTURES to the fixtures/recorded directory)"
        )
    return path


def all_fixture_files() -> list[Path]:
    """Every cassette under the fixtures root (README excluded), sorted for stable test ids."""
    root = fixtures_root()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != "README.md")


def replay_clients(
    source: str | Path | Cassette,
    *,
    match: MatchMode = "sequence",
) -> tuple[httpx2.Client, httpx2.AsyncClient, ReplayTransport]:
    """A sync and an async httpx2 client sharing one ReplayTransport (one cassette cursor)."""
    transport = ReplayTransport(source, match=match)
    return httpx2.Client(transport=transport), httpx2.AsyncClient(transport=transport), transport


@dataclass
class Replay:
    """One cassette being replayed: clients to hand to a provider and what it received."""

    client: httpx2.Client
    async_client: httpx2.AsyncClient
    transport: ReplayTransport

    @property
    def cassette(self) -> Cassette:
        return self.transport.cassette

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self.transport.requests

    def assert_all_used(self) -> None:
        self.transport.assert_all_used()


ReplayFactory = Callable[..., Replay]


@pytest.fixture
def replay() -> Iterator[ReplayFactory]:
    """Factory: `replay(provider_dir, name, match="sequence", override=True) -> Replay`.

    Also accepts a single path or a Cassette: `replay(tmp_path / "x.json")`.
    """
    opened: list[Replay] = []
    tokens: list[contextvars.Token[ClientOverride | None]] = []

    def factory(
        *parts: str | Path | Cassette,
        match: MatchMode = "sequence",
        override: bool = True,
    ) -> Replay:
        source: str | Path | Cassette
        if len(parts) == 2:
            source = fixture_path(str(parts[0]), str(parts[1]))
        elif len(parts) == 1:
            source = parts[0]
        else:
            raise TypeError("replay(provider_dir, name) or replay(path_or_cassette)")
        client, async_client, transport = replay_clients(source, match=match)
        session = Replay(client, async_client, transport)
        opened.append(session)
        if override:
            tokens.append(client_override.set(ClientOverride(client, async_client)))
        return session

    yield factory
    for token in reversed(tokens):
        try:
            client_override.reset(token)
        except ValueError:
            # Set inside an async test's own context, which is already gone with its value.
            pass
    for session in opened:
        session.client.close()
