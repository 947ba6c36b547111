"""Zero new TCP connections per call, streamed or not, sync or async (against a real local server).

The fake server of ../shared/bench counts the connections it accepted; a library that fails to read a
stream to its end (the openai SDK's sync stream, per ../shared/research/perf-baseline.md) opens one per
streamed call.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from toolwire import AbstractLLM

SERVER = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "fake_openai_server.py"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Local time in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    },
]


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not SERVER.exists():
        pytest.skip(f"{SERVER} not found (../shared beside the clone)")
    port_file = tmp_path_factory.mktemp("fake") / "port"
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--port", "0", "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _stats(base: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{base}/_stats") as response:
        data: dict[str, int] = json.loads(response.read())
    return data


def _reset(base: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{base}/_reset", method="POST")).read()


def test_sync_calls_and_streams_reuse_one_connection(fake_server: str) -> None:
    llm = AbstractLLM.create("openai", model="gpt-4o-mini", base_url=f"{fake_server}/v1", api_key="x")
    llm.generate("warm up")
    _reset(fake_server)
    for _ in range(10):
        response = llm.generate("weather and time in Paris", tools=TOOLS)
        assert response.tool_calls is not None and len(response.tool_calls) == 3
        stream = llm.generate("weather and time in Paris", tools=TOOLS, stream=True)
        for _chunk in stream:
            pass
        assert [c.name for c in stream.response.tool_calls or []] == [
            "get_weather",
            "get_time",
            "get_weather",
        ]
    stats = _stats(fake_server)
    assert stats["chat_requests"] == 20
    assert stats["connections"] <= 1  # the /_stats request itself may open one (urllib)
    llm.close()


def test_async_calls_and_streams_reuse_connections(fake_server: str) -> None:
    llm = AbstractLLM.create("openai", model="gpt-4o-mini", base_url=f"{fake_server}/v1", api_key="x")

    async def run() -> None:
        await llm.agenerate("warm up")
        _reset(fake_server)
        for _ in range(10):
            response = await llm.agenerate("weather", tools=TOOLS)
            assert response.tool_calls is not None and len(response.tool_calls) == 3
            stream = await llm.agenerate("weather", tools=TOOLS, stream=True)
            async for _chunk in stream:
                pass
            assert len((await stream.aresponse()).tool_calls or []) == 3
        await llm.aclose()

    asyncio.run(run())
    stats = _stats(fake_server)
    assert stats["chat_requests"] == 20
    assert stats["connections"] <= 1


def test_a_burst_of_64_in_flight_keeps_its_connections(fake_server: str) -> None:
    llm = AbstractLLM.create("openai", model="gpt-4o-mini", base_url=f"{fake_server}/v1", api_key="x")

    async def burst() -> None:
        await asyncio.gather(*(llm.agenerate("weather", tools=TOOLS) for _ in range(64)))

    async def run() -> tuple[int, int]:
        await burst()  # opens up to 64 connections
        before = _stats(fake_server)["connections"]
        await burst()
        await burst()
        after = _stats(fake_server)["connections"]
        await llm.aclose()
        return before, after

    before, after = asyncio.run(run())
    assert after - before <= 2  # the two /_stats requests; no connection was dropped and reopened
