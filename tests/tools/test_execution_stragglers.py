"""Tools the drivers stop waiting for (`tools/execution.py`, `tools/_background.py`).

A timed-out tool's error result is due at its timeout, whatever the tool does after it is cancelled
(a long clean-up, or ignoring cancellation); the straggler then finishes in the background without
warnings, and a timed-out sync tool's thread does not keep the interpreter from exiting. And
`KeyboardInterrupt` / `SystemExit` raised by a tool reach the caller as themselves in both drivers.

No tight wall-clock asserts: a straggler here is held by an event the test sets only after the
driver returned, so a driver that waited for it would not return at all (the test then fails at its
own generous bound instead of hanging).
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from toolwire.tools._background import DaemonThreadPool, abandoned_tasks
from toolwire.tools.execution import (
    ExecutionOptions,
    aexecute_plan,
    aexecute_tool_calls,
    coerce_tools,
    execute_plan,
    execute_tool_calls,
)
from toolwire.types import ToolCall, ToolResult

Execute = Callable[..., list[ToolResult]]
SRC = Path(__file__).resolve().parents[2] / "src"
BOUND = 20.0  # seconds: far above any timeout used here, far below the stragglers' own time


def ours() -> list[asyncio.Future[Any]]:
    """The abandoned tasks of the running loop (other tests' loops are none of this test's business)."""
    loop = asyncio.get_running_loop()
    return [task for task in abandoned_tasks() if task.get_loop() is loop]


@pytest.fixture(params=["sync", "async"])
def execute(request: pytest.FixtureRequest) -> Execute:
    if request.param == "sync":
        return execute_tool_calls

    def run_async(*args: Any, **kwargs: Any) -> list[ToolResult]:
        return asyncio.run(aexecute_tool_calls(*args, **kwargs))

    return run_async


def call(call_id: str, name: str, args: dict[str, Any] | None = None) -> ToolCall:
    return ToolCall.from_raw(call_id, name, args or {})


class LoopErrors:
    """Whatever asyncio reports through the loop's exception handler ("Task was destroyed but it is
    pending!", "Task exception was never retrieved")."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def install(self) -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: self.seen.append(ctx["message"]))


# -- item 11: the async driver returns at the timeout ------------------------------------------------
async def test_the_timeout_result_does_not_wait_for_a_slow_cancellation_cleanup() -> None:
    errors = LoopErrors()
    errors.install()
    release = asyncio.Event()
    cleaned = asyncio.Event()

    async def slow_cleanup() -> str:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await release.wait()  # a clean-up that takes as long as the test wants
            cleaned.set()
            raise ValueError("clean-up failed too") from None  # nobody awaits it: never "never retrieved"
        return "late"

    async def quick() -> str:
        return "quick"

    runner = asyncio.ensure_future(
        aexecute_tool_calls(
            [call("1", "slow_cleanup"), call("2", "quick")], [slow_cleanup, quick], timeout=0.2
        )
    )
    done, _ = await asyncio.wait({runner}, timeout=BOUND)
    release.set()  # let the clean-up end either way, so a failing run does not hang
    assert done, "the driver waited for the tool's cancellation clean-up"
    results = runner.result()
    assert not cleaned.is_set()
    assert results[0].error is not None and "timed out" in results[0].error
    assert results[1].output == "quick"

    await asyncio.wait_for(cleaned.wait(), BOUND)
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    assert errors.seen == []
    assert not ours()


async def test_a_tool_that_ignores_cancellation_is_left_behind_referenced_and_silent() -> None:
    errors = LoopErrors()
    errors.install()
    stop = threading.Event()
    cancels: list[int] = []

    async def stubborn() -> str:
        while True:
            try:
                # a future nobody else references: if the task were unreferenced too, the garbage
                # collector would destroy it mid-flight ("Task was destroyed but it is pending!")
                await asyncio.get_running_loop().create_future()
            except asyncio.CancelledError:
                cancels.append(1)
                if stop.is_set():
                    raise

    async def sibling(x: int) -> int:
        await asyncio.sleep(0.05)
        return x * 2

    runner = asyncio.ensure_future(
        aexecute_tool_calls(
            [call("1", "stubborn"), call("2", "sibling", {"x": 21})], [stubborn, sibling], timeout=0.3
        )
    )
    done, _ = await asyncio.wait({runner}, timeout=BOUND)
    stop.set()
    assert done, "the driver never returned: the tool ignores cancellation"
    results = runner.result()
    assert results[0].error is not None and "timed out" in results[0].error
    assert results[1].output == 42

    gc.collect()  # the straggler survives a collection: the executor keeps it referenced
    [straggler] = ours()
    assert not straggler.done() and cancels == [1]
    straggler.cancel()  # the test's own clean-up: this time the tool gives up
    await asyncio.gather(straggler, return_exceptions=True)
    await asyncio.sleep(0)
    gc.collect()
    assert errors.seen == []
    assert not ours()


def test_the_sync_driver_also_returns_while_an_async_tool_ignores_cancellation() -> None:
    stop = threading.Event()

    async def stubborn() -> str:
        while not stop.is_set():
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue
        return "late"

    def sibling() -> str:
        return "sibling"

    box: list[list[ToolResult]] = []
    worker = threading.Thread(
        target=lambda: box.append(
            execute_tool_calls(
                [call("1", "stubborn"), call("2", "sibling")], [stubborn, sibling], timeout=0.3
            )
        ),
        daemon=True,
    )
    worker.start()
    worker.join(BOUND)
    stop.set()
    assert box, "the sync driver waited for a tool that ignores cancellation"
    [results] = box
    assert results[0].error is not None and "timed out" in results[0].error
    assert results[1].output == "sibling"


# -- item 12 (a): an abandoned thread does not hold the interpreter at exit ------------------------
SCRIPTS = {
    "sync driver, sync tool": """
        from toolwire import execute_tool_calls
        def slow() -> str:
            time.sleep(60)
            return "late"
        [result] = execute_tool_calls([ToolCall.from_raw("1", "slow", {})], [slow], timeout=0.5)
    """,
    "async driver, sync tool": """
        from toolwire.tools.execution import aexecute_tool_calls
        def slow() -> str:
            time.sleep(60)
            return "late"
        [result] = asyncio.run(
            aexecute_tool_calls([ToolCall.from_raw("1", "slow", {})], [slow], timeout=0.5)
        )
    """,
    "sync driver, async tool ignoring cancellation": """
        from toolwire import execute_tool_calls
        async def slow() -> str:
            end = time.monotonic() + 60
            while time.monotonic() < end:
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    pass
            return "late"
        [result] = execute_tool_calls([ToolCall.from_raw("1", "slow", {})], [slow], timeout=0.5)
    """,
}


@pytest.mark.parametrize("case", list(SCRIPTS))
def test_the_interpreter_exits_while_a_timed_out_tool_still_runs(case: str) -> None:
    script = "import asyncio, time\nfrom toolwire.types import ToolCall\n" + textwrap.dedent(SCRIPTS[case])
    script += 'assert "timed out" in result.error, result\nprint("returned")\n'
    began = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,  # the tool would hold the process for 60 s
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: the interpreter waited for the abandoned tool at exit")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "returned\n"
    assert time.monotonic() - began < 30


def test_the_daemon_pool_is_bounded_reuses_threads_and_runs_queued_work_after_shutdown() -> None:
    pool = DaemonThreadPool(2, thread_name_prefix="t")
    gate = threading.Event()
    names: list[str] = []

    def work(i: int) -> int:
        gate.wait(BOUND)
        names.append(threading.current_thread().name)
        assert threading.current_thread().daemon
        return i

    futures = [pool.submit(work, i) for i in range(5)]
    pool.shutdown(wait=False)  # queued work still runs, as ThreadPoolExecutor does
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(work, 9)
    gate.set()
    assert [f.result(BOUND) for f in futures] == [0, 1, 2, 3, 4]
    assert set(names) <= {"t_0", "t_1"}
    pool.shutdown(wait=True)

    cancelling = DaemonThreadPool(1)
    hold = threading.Event()
    first = cancelling.submit(hold.wait, BOUND)
    queued = cancelling.submit(lambda: "never")
    cancelling.shutdown(wait=False, cancel_futures=True)
    hold.set()
    assert first.result(BOUND) is True and queued.cancelled()


# -- item 12 (b): KeyboardInterrupt / SystemExit reach the caller as themselves --------------------
@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
def test_a_fatal_exception_from_an_async_tool_propagates_as_itself(
    execute: Execute, fatal: type[BaseException]
) -> None:
    async def boom() -> str:
        await asyncio.sleep(0)
        raise fatal("from the tool")

    async def innocent() -> str:
        await asyncio.sleep(30)
        return "never"

    def also_innocent() -> str:
        return "fine"

    began = time.monotonic()
    with pytest.raises(fatal) as caught:
        execute(
            [call("1", "innocent"), call("2", "boom"), call("3", "also_innocent")],
            [boom, innocent, also_innocent],
        )
    assert str(caught.value) == "from the tool"
    assert time.monotonic() - began < BOUND  # the innocent sibling was cancelled, not waited for


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
def test_no_sibling_is_reported_as_cancelled_before_a_fatal_exception(fatal: type[BaseException]) -> None:
    started = threading.Event()

    async def boom() -> str:
        assert started.wait(BOUND)
        raise fatal("stop")

    async def innocent() -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    heard: list[tuple[int, ToolResult]] = []
    with pytest.raises(fatal):
        execute_plan(
            [call("1", "innocent"), call("2", "boom")],
            coerce_tools([boom, innocent]),
            ExecutionOptions(),
            lambda index, result: heard.append((index, result)),
        )
    assert heard == []


def test_an_ordinary_exception_is_the_tool_error_and_siblings_complete(execute: Execute) -> None:
    async def broken() -> str:
        await asyncio.sleep(0)
        raise ValueError("no such city")

    async def slow_sibling() -> str:
        await asyncio.sleep(0.1)
        return "async ok"

    def sync_sibling() -> str:
        return "sync ok"

    results = execute(
        [call("1", "broken"), call("2", "slow_sibling"), call("3", "sync_sibling")],
        [broken, slow_sibling, sync_sibling],
    )
    assert results[0].error == "Error: broken raised ValueError: no such city."
    assert [r.output for r in results[1:]] == ["async ok", "sync ok"]


@pytest.mark.parametrize("fatal", [KeyboardInterrupt, SystemExit])
def test_the_async_driver_hears_no_cancelled_sibling_before_a_fatal_exception(
    fatal: type[BaseException],
) -> None:
    # the reference behaviour the sync driver mirrors: the interrupt leaves the event loop itself
    async def boom() -> str:
        raise fatal("stop")

    async def innocent() -> str:
        await asyncio.sleep(30)
        return "never"

    heard: list[int] = []
    with pytest.raises(fatal):
        asyncio.run(
            aexecute_plan(
                [call("1", "innocent"), call("2", "boom")],
                coerce_tools([boom, innocent]),
                ExecutionOptions(),
                lambda index, result: heard.append(index),
            )
        )
    assert heard == []
