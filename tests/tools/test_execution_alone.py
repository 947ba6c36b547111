"""The drivers' path for a turn of one call without a time limit (`_execute_submitted` for the sync
driver, `_aexecute_inline` for the async one): the same results, events and errors as the batch
path, which every other turn takes (each case runs both, the batch path forced by `_runs_alone`)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import toolwire.tools.execution as execution
from toolwire import ToolCall, ToolDefinition, ToolResult, _instrument
from toolwire.tools.execution import ExecutionOptions, aexecute_plan, execute_plan

needs_inline = pytest.mark.skipif(sys.version_info < (3, 11), reason="the inline path needs Python 3.11+")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    own = asyncio.new_event_loop()
    thread = threading.Thread(target=own.run_forever, name="tool-loop", daemon=True)
    thread.start()
    yield own
    own.call_soon_threadsafe(own.stop)
    thread.join(5)
    own.close()


class Events:
    """An observer keeping what the executor reports, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, Any]] = []

    def call_started(self, record: Any) -> None:
        pass

    def call_finished(self, record: Any, response: Any, error: Any) -> None:
        pass

    def tool_started(self, record: _instrument.ToolRecord) -> None:
        self.seen.append(("started", record.call.id, None))

    def tool_finished(self, record: _instrument.ToolRecord, result: ToolResult) -> None:
        self.seen.append(("finished", record.call.id, (result.output, result.error)))


def _tool(loop: asyncio.AbstractEventLoop, behave: Callable[[dict[str, Any]], Any]) -> ToolDefinition:
    """A tool like an MCP toolset's: its work runs on `loop`; `submit` for the sync driver, the
    coroutine (marked inline) for the async one."""

    async def work(**kwargs: Any) -> Any:
        await asyncio.sleep(0)
        return behave(kwargs)

    async def remote(**kwargs: Any) -> Any:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work(**kwargs), loop))

    def submit(**kwargs: Any) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(work(**kwargs), loop)

    remote.__toolwire_submit__ = submit  # type: ignore[attr-defined]
    remote.__toolwire_inline__ = True  # type: ignore[attr-defined]
    return ToolDefinition(
        name="remote",
        parameters={"type": "object", "properties": {"x": {"type": "integer"}}},
        function=remote,
    )


def _raise(error: BaseException) -> Callable[[dict[str, Any]], Any]:
    def behave(kwargs: dict[str, Any]) -> Any:
        raise error

    return behave


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


BEHAVIOURS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "text": lambda kw: f"x={kw['x']}",
    "json": lambda kw: {"result": kw["x"] * 2, "items": [1, 2]},
    "flat json": lambda kw: {"result": kw["x"] * 2, "ok": True, "note": None, "ratio": 0.5},
    "flat json, long": lambda kw: {"text": "z" * 500},
    "long": lambda kw: "y" * 500,
    "none": lambda kw: None,
    "raises": _raise(ValueError("disk full")),
    "raises unprintable": _raise(_Unprintable()),
    "raises CancelledError": _raise(asyncio.CancelledError()),
    "unserializable": lambda kw: _BadOutput(),
}


class _BadOutput:
    def __str__(self) -> str:
        raise RuntimeError("cannot print me")


def _both(run: Callable[[], tuple[list[ToolResult], list[Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the turn alone, then through the batch path: equal results (but durations) and events."""
    alone = run()
    with monkeypatch.context() as patch:
        patch.setattr(execution, "_runs_alone", lambda plan, deadline: None)
        batch = run()
    strip = [[(r.call_id, r.name, r.output, r.error) for r in results] for results, _ in (alone, batch)]
    assert strip[0] == strip[1]
    assert alone[1] == batch[1]
    assert [r.duration is None for r in alone[0]] == [r.duration is None for r in batch[0]]


def _observed(turn: Callable[[Callable[[int, ToolResult], None]], Any]) -> tuple[list[ToolResult], list[Any]]:
    events = Events()
    heard: list[tuple[int, str | None]] = []
    _instrument.add_observer(events)
    try:
        plan = turn(lambda index, result: heard.append((index, result.error)))
    finally:
        _instrument.remove_observer(events)
    return plan.collected(), [*events.seen, *heard]


@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_sync_driver_one_submitted_call_matches_the_batch_path(
    behaviour: str, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = _tool(loop, BEHAVIOURS[behaviour])
    options = ExecutionOptions(max_output_chars=100)

    def run() -> tuple[list[ToolResult], list[Any]]:
        calls = [ToolCall(id="c1", name="remote", arguments={"x": 4})]
        return _observed(lambda hook: execute_plan(calls, {"remote": tool}, options, hook))

    _both(run, monkeypatch)


@needs_inline
@pytest.mark.parametrize("behaviour", sorted(BEHAVIOURS))
def test_async_driver_one_inline_call_matches_the_batch_path(
    behaviour: str, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = _tool(loop, BEHAVIOURS[behaviour])
    options = ExecutionOptions(max_output_chars=100)

    def run() -> tuple[list[ToolResult], list[Any]]:
        calls = [ToolCall(id="c1", name="remote", arguments={"x": 4})]
        return _observed(lambda hook: asyncio.run(aexecute_plan(calls, {"remote": tool}, options, hook)))

    _both(run, monkeypatch)


def test_the_sync_driver_takes_no_pool_for_one_submitted_call(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pool(max_workers: int | None) -> None:
        raise AssertionError("the batch path ran")

    monkeypatch.setattr(execution, "_Pool", no_pool)
    tool = _tool(loop, BEHAVIOURS["text"])
    plan = execute_plan(
        [ToolCall(id="c", name="remote", arguments={"x": 1})], {"remote": tool}, ExecutionOptions()
    )
    assert plan.collected()[0].output == "x=1"


@needs_inline
async def test_the_async_driver_creates_no_task_for_one_inline_call(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = _tool(loop, BEHAVIOURS["text"])
    before = len(asyncio.all_tasks())
    seen: list[int] = []
    real = tool.function
    assert real is not None

    async def counting(**kwargs: Any) -> Any:
        seen.append(len(asyncio.all_tasks()))
        return await real(**kwargs)

    counting.__toolwire_inline__ = True  # type: ignore[attr-defined]
    tool.function = counting
    plan = await aexecute_plan(
        [ToolCall(id="c", name="remote", arguments={"x": 2})], {"remote": tool}, ExecutionOptions()
    )
    assert plan.collected()[0].output == "x=2"
    assert seen == [before]


@needs_inline
async def test_cancelling_the_caller_cancels_the_inline_call(loop: asyncio.AbstractEventLoop) -> None:
    cancelled = threading.Event()

    async def slow() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    async def remote() -> str:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(slow(), loop))

    remote.__toolwire_inline__ = True  # type: ignore[attr-defined]
    tool = ToolDefinition(name="remote", function=remote)
    turn = asyncio.ensure_future(
        aexecute_plan([ToolCall(id="c", name="remote", arguments={})], {"remote": tool}, ExecutionOptions())
    )
    await asyncio.sleep(0.05)
    turn.cancel()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert await asyncio.to_thread(cancelled.wait, 5)


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_a_timeout_or_a_second_call_takes_the_batch_path(
    driver: str, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[str] = []
    monkeypatch.setattr(execution, "_execute_submitted", lambda *a: taken.append("alone"))
    monkeypatch.setattr(execution, "_aexecute_inline", lambda *a: taken.append("alone"))
    tool = _tool(loop, BEHAVIOURS["text"])
    one = [ToolCall(id="c", name="remote", arguments={"x": 1})]
    two = [*one, ToolCall(id="d", name="remote", arguments={"x": 2})]
    for calls, options in (
        (one, ExecutionOptions(timeout=5)),
        (one, ExecutionOptions(deadline=5)),
        (two, ExecutionOptions()),
    ):
        if driver == "sync":
            plan = execute_plan(calls, {"remote": tool}, options)
        else:
            plan = asyncio.run(aexecute_plan(calls, {"remote": tool}, options))
        assert [r.output for r in plan.collected()] == [f"x={c.arguments['x']}" for c in calls]
    assert taken == []


@needs_inline
@pytest.mark.parametrize("path", ["alone", "batch"])
def test_a_keyboard_interrupt_in_the_inline_call_reaches_the_caller(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted() -> None:
        raise KeyboardInterrupt

    interrupted.__toolwire_inline__ = True  # type: ignore[attr-defined]
    if path == "batch":
        monkeypatch.setattr(execution, "_runs_alone", lambda plan, deadline: None)
    tool = ToolDefinition(name="interrupted", function=interrupted)
    calls = [ToolCall(id="c", name="interrupted", arguments={})]
    with pytest.raises(KeyboardInterrupt):
        asyncio.run(aexecute_plan(calls, {"interrupted": tool}, ExecutionOptions()))


def test_an_approval_hook_still_decides(loop: asyncio.AbstractEventLoop) -> None:
    tool = _tool(loop, BEHAVIOURS["text"])
    calls = [ToolCall(id="c", name="remote", arguments={"x": 1})]
    denied = execute_plan(calls, {"remote": tool}, ExecutionOptions(approve=lambda call, tool: False))
    assert "denied" in (denied.collected()[0].error or "")
    edited = asyncio.run(
        aexecute_plan(calls, {"remote": tool}, ExecutionOptions(approve=lambda call, tool: {"x": 9}))
    )
    assert edited.collected()[0].output == "x=9"
    tool.requires_approval = True
    refused = asyncio.run(aexecute_plan(calls, {"remote": tool}, ExecutionOptions()))
    assert "requires approval" in (refused.collected()[0].error or "")


@pytest.mark.parametrize("suppresses", [False, True])
async def test_cancelling_the_caller_of_one_local_async_call(suppresses: bool) -> None:
    # the async driver waits for a turn's one task on a single waiter (`_first_done`): cancelling
    # the caller still cancels the tool and raises CancelledError, even when the tool swallows it
    seen: list[str] = []
    release = asyncio.Event()

    async def tool() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            seen.append("cancelled")
            if not suppresses:
                raise
            await release.wait()
        return "finished"

    definition = ToolDefinition(name="tool", function=tool)
    turn = asyncio.ensure_future(
        aexecute_plan([ToolCall(id="c", name="tool", arguments={})], {"tool": definition}, ExecutionOptions())
    )
    await asyncio.sleep(0.05)
    turn.cancel()
    await asyncio.sleep(0.05)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await turn
    assert seen == ["cancelled"]


def test_a_flat_json_result_skips_only_the_serialization_check() -> None:
    import enum

    from toolwire.tools.plan import _flat_json

    class Level(enum.IntEnum):
        LOW = 1

    assert _flat_json({"a": 1, "b": "x", "c": None, "d": 0.5, "e": False})
    assert not _flat_json({"a": [1]})  # nested: serialized to be sure
    assert not _flat_json({"a": Level.LOW})  # a subclass may serialize its own way
    assert not _flat_json({1: "a"})
    assert not _flat_json([1, 2])
