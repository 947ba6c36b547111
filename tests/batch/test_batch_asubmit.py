"""`batch.asubmit` and the async `Job` methods (`arefresh`, `await_`, `acancel`): the same jobs as
tests/batch/test_batch_submit.py, driven from an event loop. The blocking wire runs in a worker
thread, the polling sleeps on the loop (the transport's `asleep`)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from fake_batch_api import FakeBatchAPI
from test_batch_submit import AZURE, add

from toolwire import AbstractLLM, GenerateResponse, batch
from toolwire.errors import BatchItemError, ProviderTimeoutError

PROVIDERS = [("openai", "openai", {}), ("azure_openai", "openai", AZURE), ("anthropic", "anthropic", {})]


def _llm(name: str, fake: FakeBatchAPI, sleeps: list[float], **extra: Any) -> Any:
    llm = AbstractLLM.create(
        name, model="gpt-4o-mini", api_key="sk-test-123456789", http_client=fake.client(), **extra
    )
    clock = {"now": 0.0}

    def sleep(seconds: float) -> None:  # the sync path must not be the one polling
        raise AssertionError(f"a blocking sleep of {seconds}s on the async path")

    async def asleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock["now"] += seconds

    llm.transport.sleep = sleep
    llm.transport.asleep = asleep
    llm.transport.clock = lambda: clock["now"]
    return llm


@pytest.mark.parametrize(("name", "kind", "extra"), PROVIDERS)
def test_asubmit_runs_tool_rounds_and_keeps_input_order(name: str, kind: str, extra: dict[str, Any]) -> None:
    api = FakeBatchAPI(kind=kind, drop={"2"}, polls=3)
    sleeps: list[float] = []
    llm = _llm(name, api, sleeps, **extra)
    tool_threads: list[str] = []

    def lookup(key: str) -> str:
        """Look a key up."""
        tool_threads.append(threading.current_thread().name)
        return f"value-of-{key}"

    async def run() -> list[Any]:
        job = await batch.asubmit(llm, [f"q{i}" for i in range(4)], tools=[lookup, add])
        assert job.id and len(api.uploads) == 1
        await job.await_(poll_interval=30)
        return job.results()

    results = asyncio.run(run())
    assert len(results) == 4
    assert isinstance(results[2], BatchItemError) and results[2].index == 2
    for i in (0, 1, 3):
        assert isinstance(results[i], GenerateResponse) and results[i].content.startswith(f"answer to q{i}")
    assert len(api.uploads) == 2  # a second round carried the tool results back
    assert tool_threads and "MainThread" not in tool_threads  # tools ran off the event loop's thread
    assert sleeps and sleeps[0] == (10 if kind == "anthropic" else 5)  # the same backoff as wait()


def test_await_timeout_raises_and_the_job_can_await_again() -> None:
    api = FakeBatchAPI(kind="openai", polls=10)
    sleeps: list[float] = []
    llm = _llm("openai", api, sleeps)

    async def run() -> str | None:
        job = await batch.asubmit(llm, ["a"])
        with pytest.raises(ProviderTimeoutError, match=r"await job\.await_\(\)"):
            await job.await_(poll_interval=10, timeout=20)
        refreshed = await job.arefresh()
        assert refreshed is job and not job.done
        result = (await job.await_(poll_interval=10)).results()[0]
        assert isinstance(result, GenerateResponse)
        return result.content

    assert asyncio.run(run()) == "answer to a"
    assert sleeps[:2] == [5, 10]


def test_acancel_asks_the_provider_to_stop() -> None:
    api = FakeBatchAPI(kind="openai", polls=10)
    llm = _llm("openai", api, [])

    async def run() -> str:
        job = await batch.asubmit(llm, ["a", "b"])
        await job.acancel()
        return job.status

    assert asyncio.run(run()) == "cancelling"
    assert api.requests[-1].url.path.endswith("/cancel")
