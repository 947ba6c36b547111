"""`BackgroundLoop.arun`: an async caller's hop to the toolset's loop and back (result, error,
cancellation both ways), without a `concurrent.futures.Future` in between."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from toolwire.mcp._loop import BackgroundLoop


@pytest.fixture
def background() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop("test-hop")
    yield loop
    loop.stop()


def test_result_and_thread(background: BackgroundLoop) -> None:
    async def where() -> str:
        return threading.current_thread().name

    assert asyncio.run(background.arun(where())) == "test-hop"


def test_error_reaches_the_caller(background: BackgroundLoop) -> None:
    async def fail() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        asyncio.run(background.arun(fail()))


def test_cancelled_caller_cancels_the_call_there(background: BackgroundLoop) -> None:
    started = threading.Event()
    ended: list[str] = []

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    async def caller() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(background.arun(slow()), 0.2)

    asyncio.run(caller())
    assert started.is_set()
    background.run(asyncio.sleep(0.05))  # let the background loop run the cancellation
    assert ended == ["cancelled"]


def test_call_cancelled_there_cancels_the_caller(background: BackgroundLoop) -> None:
    async def cancelled_there() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(background.arun(cancelled_there()))


def test_cancelled_before_start_never_runs() -> None:
    background = BackgroundLoop("test-hop-blocked")
    gate = threading.Event()
    ran: list[bool] = []
    background.loop.call_soon_threadsafe(gate.wait)  # the background loop is busy

    async def never() -> None:
        ran.append(True)

    async def caller() -> None:
        task = asyncio.ensure_future(background.arun(never()))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(caller())
        gate.set()
        background.run(asyncio.sleep(0.05))
        assert ran == []
    finally:
        gate.set()
        background.stop()


def test_closed_loop_refuses_and_closes_the_coroutine() -> None:
    background = BackgroundLoop("test-hop-closed")
    background.stop()

    async def never() -> None:
        raise AssertionError("ran")

    coro = never()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(background.arun(coro))
    assert coro.cr_frame is None  # closed, so no "never awaited" warning
