"""Tools that start before the model's answer ends, and tool events as each tool finishes.

A streamed `Session` turn (`session.stream` / `astream`) hands every call that is complete in the
stream (`StreamChunk.completed_calls`, set by each provider's stream state on its own "this call is
done" signal) to an `EarlyStarts` scheduler. A call starts at once when:

- its tool is declared free of side effects (`@tool(read_only=True)`, `ToolDefinition.read_only`),
- its arguments parse and validate (the same `plan_calls` step as the batch), and
- it is approved: the `approve` hook is asked *before* the start, and a denied call never starts
  (a tool with `requires_approval=True` and no hook never starts early either). The answer is kept
  and reused at the end of the turn, so nobody is asked twice for one call.

When the turn ends, `finish()` decides. The early results are used only if the turn ends asking for
tools (`finish_reason == "tool_calls"`) and the finished turn holds the same call (same id, name and
arguments). Otherwise (length cut, content filter, an error, a stream that breaks, a call that
changed) they are discarded, the running early tools are cancelled where they can be, and the turn
is handled exactly as it would be without early starts: its calls run as one batch at the end.
Every other call starts when the turn ends, as one batch (as `execute_tool_calls` runs it).

Each `ToolResultEvent` is emitted when its tool finishes (a fast tool's before a slow one's), with
`started_at` / `finished_at` (wall-clock seconds, `time.time()`); `ToolCallStarted.early` says
which calls started before the answer ended. `session.messages` still holds results in call order.

Cancellation: an async tool is cancelled (`Task.cancel()` in `astream`; the sync driver runs async
tools on a private loop whose task it cannot reach, so there the result is only dropped). The turn
does not wait for a discarded tool to unwind: it is left to end in the background, referenced until
it does (`_background.abandon`), so a slow clean-up or a tool that ignores cancellation never holds
the session. A sync tool cannot be stopped (Python has no way to stop a thread): a discarded one
runs to its end in its pool thread (a daemon thread: it does not hold the interpreter at exit) and
its result is dropped. This is why only tools without side effects start early.

Timeouts: `tool_timeout` counts from each call's own start; the batch `tool_deadline` counts from
the end of the turn for the batch and from its own start for an early call.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import queue
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .. import _instrument
from ..types import GenerateResponse, ToolCall, ToolResult
from ._background import abandon
from .definition import ToolDefinition
from .execution import (
    ApproveHook,
    ErrorKind,
    ExecutionOptions,
    Plan,
    aexecute_plan,
    apply_decision,
    execute_plan,
    plan_calls,
)

__all__ = ["AsyncEarlyStarts", "EarlyStarts", "FinishedCall"]


@dataclass(frozen=True)
class FinishedCall:
    """One call's result as it finished: `index` in the turn's call list."""

    index: int
    result: ToolResult
    started_at: float
    finished_at: float


@dataclass(eq=False)
class _Early:
    """A call started before the end of the turn."""

    call: ToolCall
    started_at: float
    handle: Any = None  # threading.Thread (sync) or asyncio.Task (async)
    plan: Plan | None = None
    result: ToolResult | None = None
    finished_at: float | None = None
    discarded: bool = False


@dataclass
class _Turn:
    """Sans-I/O bookkeeping shared by both drivers: admission, approvals, matching, the final plan."""

    registry: Mapping[str, ToolDefinition]
    options: ExecutionOptions
    approve: ApproveHook | None
    conversation_id: str | None = None
    early: dict[str, _Early] = field(default_factory=dict)
    answers: dict[str, tuple[ToolCall, Any]] = field(default_factory=dict)
    used: dict[int, _Early] | None = None

    def settle(self, response: GenerateResponse, calls: list[ToolCall]) -> list[bool]:
        """Once the turn is assembled: which calls' early results it uses (True) and which early
        runs are discarded (every other one). Returns one flag per call, in call order."""
        if self.used is None:
            self.used = self.matched(response, calls)
        return [index in self.used for index in range(len(calls))]

    def context(self) -> contextvars.Context:
        """The context tools run in: the caller's (tracing parent) with this conversation's id."""
        if self.conversation_id is None:
            return contextvars.copy_context()
        with _instrument.conversation(self.conversation_id):
            return contextvars.copy_context()

    def candidate(self, call: ToolCall) -> ToolDefinition | None:
        """The tool to start early, or None: read-only, not yet seen, arguments valid."""
        tool = self.registry.get(call.name)
        if tool is None or not tool.read_only or call.id in self.early or call.id in self.answers:
            return None
        if not plan_calls([call], self.registry, timeout=self.options.timeout).runnable:
            return None  # unusable arguments: the batch at the end reports them as usual
        if self.approve is None and tool.requires_approval:
            return None  # denied at the end, as without early starts
        return tool

    def approved(self, call: ToolCall, tool: ToolDefinition, answer: Any) -> bool:
        """Keep the hook's answer for the end of the turn; True when the call may start now."""
        self.answers[call.id] = (call, answer)
        scratch = plan_calls([call], self.registry, timeout=self.options.timeout)
        return bool(scratch.runnable) and apply_decision(scratch, scratch.runnable[0], answer)

    def batch_approve(self) -> ApproveHook | None:
        """The hook for the end-of-turn batch: the answer given early for the same call, else the
        application's hook (None stays None, so `requires_approval` keeps its meaning)."""
        hook = self.approve
        if hook is None:
            return None
        answers = self.answers

        def approve(call: ToolCall, tool: ToolDefinition) -> Any:
            kept = answers.get(call.id)
            if kept is not None and _same(kept[0], call):
                return kept[1]
            return hook(call, tool)

        return approve

    def kwargs(self, approve: ApproveHook | None = None) -> ExecutionOptions:
        """The session's execution options with this batch's approval hook."""
        return replace(self.options, approve=approve)

    def matched(self, response: GenerateResponse, calls: list[ToolCall]) -> dict[int, _Early]:
        """Early runs whose results the turn uses; every other early run is marked discarded."""
        used: dict[int, _Early] = {}
        if response.finish_reason == "tool_calls":
            for index, call in enumerate(calls):
                run = self.early.get(call.id)
                taken = any(other is run for other in used.values())  # a repeated id uses it once
                if run is not None and not run.discarded and not taken and _same(run.call, call):
                    used[index] = run
        for run in self.early.values():
            if not any(other is run for other in used.values()):
                run.discarded = True
        return used

    @staticmethod
    def final_plan(
        calls: list[ToolCall], used: dict[int, _Early], late: list[int], batch: Plan | None
    ) -> Plan:
        """One plan for the whole turn, in call order (what `Session` commits to the history)."""
        results: list[ToolResult | None] = [None] * len(calls)
        kinds: list[ErrorKind | None] = [None] * len(calls)
        for index, run in used.items():
            assert run.plan is not None
            results[index], kinds[index] = run.plan.results[0], run.plan.kinds[0]
        if batch is not None:
            for position, index in enumerate(late):
                results[index], kinds[index] = batch.results[position], batch.kinds[position]
        return Plan(calls=list(calls), results=results, kinds=kinds)


def _same(a: ToolCall, b: ToolCall) -> bool:
    return a.id == b.id and a.name == b.name and a.arguments == b.arguments and a.arguments_error is None


# -- sync driver ---------------------------------------------------------------------------------
class EarlyStarts:
    """The scheduler of one streamed turn in `Session.stream` (sync).

    `offer(calls)` for each chunk's `completed_calls`; then `finish(response, calls)` yields each
    call's `FinishedCall` as it ends and leaves the turn's plan in `.plan`; or `discard()` when the
    turn ends without running tools (or fails).
    """

    def __init__(
        self,
        registry: Mapping[str, ToolDefinition],
        options: ExecutionOptions,
        approve: ApproveHook | None,
        conversation_id: str | None = None,
    ) -> None:
        self._turn = _Turn(registry, options, approve, conversation_id)
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.plan: Plan | None = None

    def offer(self, calls: list[ToolCall]) -> None:
        for call in calls:
            tool = self._turn.candidate(call)
            if tool is None:
                continue
            approve = None
            if self._turn.approve is not None:
                answer = self._turn.approve(call, tool)
                if inspect.isawaitable(answer):
                    answer = asyncio.run(_await(answer))
                if not self._turn.approved(call, tool, answer):
                    continue
                approve = self._turn.batch_approve()
            run = _Early(call, time.time())
            self._turn.early[call.id] = run
            run.handle = self._spawn(("early", call.id), [call], self._turn.kwargs(approve))

    def _spawn(
        self, token: tuple[str, Any], calls: list[ToolCall], options: ExecutionOptions
    ) -> threading.Thread:
        put = self._queue.put

        def on_result(index: int, result: ToolResult) -> None:
            put(("result", token, index, result, time.time()))

        def work() -> None:
            try:
                put(("end", token, execute_plan(calls, self._turn.registry, options, on_result), None))
            except BaseException as exc:  # the application's own (approve hook raising, interrupt)
                put(("end", token, None, exc))

        ctx = self._turn.context()  # tracing parent and conversation id, as the pool does
        thread = threading.Thread(target=ctx.run, args=(work,), name="toolwire-early", daemon=True)
        thread.start()
        return thread

    def settle(self, response: GenerateResponse, calls: list[ToolCall]) -> list[bool]:
        """Decide which early results the turn uses (see `_Turn.settle`)."""
        return self._turn.settle(response, calls)

    def discard(self) -> None:
        """The turn ends without using early results: drop them (sync tools cannot be stopped)."""
        used = self._turn.used or {}
        for run in self._turn.early.values():
            if run not in used.values():
                run.discarded = True

    def finish(self, response: GenerateResponse, calls: list[ToolCall]) -> Iterator[FinishedCall]:
        turn = self._turn
        turn.settle(response, calls)
        assert turn.used is not None
        used = turn.used
        late = [i for i in range(len(calls)) if i not in used]
        began = time.time()
        if late:
            self._spawn(("late", None), [calls[i] for i in late], turn.kwargs(turn.batch_approve()))
        by_id = {run.call.id: index for index, run in used.items()}
        waiting = len(used) + (1 if late else 0)
        batch: Plan | None = None
        while waiting:
            kind, token, value, *rest = self._queue.get()
            if kind == "end":
                if token[0] == "early" and token[1] not in by_id:
                    continue  # a discarded early run
                if rest[0] is not None:
                    self.discard()
                    raise rest[0]
                waiting -= 1
                if token[0] == "late":
                    batch = value
                else:
                    used[by_id[token[1]]].plan = value
                continue
            result, finished = rest
            if token[0] == "late":
                yield FinishedCall(late[value], result, began, finished)
            elif token[1] in by_id:
                index = by_id[token[1]]
                yield FinishedCall(index, result, used[index].started_at, finished)
        self.plan = turn.final_plan(calls, used, late, batch)


async def _await(value: Any) -> Any:
    return await value


# -- async driver --------------------------------------------------------------------------------
class AsyncEarlyStarts:
    """The async twin, for `Session.astream`: early runs are tasks, cancelled when discarded."""

    def __init__(
        self,
        registry: Mapping[str, ToolDefinition],
        options: ExecutionOptions,
        approve: ApproveHook | None,
        conversation_id: str | None = None,
    ) -> None:
        self._turn = _Turn(registry, options, approve, conversation_id)
        self._queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self.plan: Plan | None = None

    def settle(self, response: GenerateResponse, calls: list[ToolCall]) -> list[bool]:
        """Decide which early results the turn uses (see `_Turn.settle`)."""
        return self._turn.settle(response, calls)

    async def offer(self, calls: list[ToolCall]) -> None:
        for call in calls:
            tool = self._turn.candidate(call)
            if tool is None:
                continue
            approve = None
            if self._turn.approve is not None:
                answer = self._turn.approve(call, tool)
                if inspect.isawaitable(answer):
                    answer = await answer
                if not self._turn.approved(call, tool, answer):
                    continue
                approve = self._turn.batch_approve()
            run = _Early(call, time.time())
            self._turn.early[call.id] = run
            run.handle = self._spawn(("early", call.id), [call], self._turn.kwargs(approve))

    def _spawn(
        self, token: tuple[str, Any], calls: list[ToolCall], options: ExecutionOptions
    ) -> asyncio.Task[None]:
        put = self._queue.put_nowait

        def on_result(index: int, result: ToolResult) -> None:
            put(("result", token, index, result, time.time()))

        async def work() -> None:
            try:
                put(
                    (
                        "end",
                        token,
                        await aexecute_plan(calls, self._turn.registry, options, on_result),
                        None,
                    )
                )
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                put(("end", token, None, exc))

        return self._turn.context().run(asyncio.ensure_future, work())

    async def discard(self) -> None:
        """Drop the early results and cancel the running early tools; they unwind in the background
        (the turn does not wait for a clean-up, nor for a tool that ignores cancellation)."""
        used = self._turn.used or {}
        for run in self._turn.early.values():
            if run in used.values() and self.plan is not None:
                continue
            run.discarded = True
            if run.handle is not None and not run.handle.done():
                run.handle.cancel()
                abandon(run.handle)

    async def finish(self, response: GenerateResponse, calls: list[ToolCall]) -> AsyncIterator[FinishedCall]:
        turn = self._turn
        turn.settle(response, calls)
        assert turn.used is not None
        used = turn.used
        await self._cancel_discarded()
        late = [i for i in range(len(calls)) if i not in used]
        began = time.time()
        tasks = [run.handle for run in used.values()]
        if late:
            tasks.append(
                self._spawn(("late", None), [calls[i] for i in late], turn.kwargs(turn.batch_approve()))
            )
        by_id = {run.call.id: index for index, run in used.items()}
        waiting = len(tasks)
        batch: Plan | None = None
        try:
            while waiting:
                kind, token, value, *rest = await self._queue.get()
                if kind == "end":
                    if token[0] == "early" and token[1] not in by_id:
                        continue
                    if rest[0] is not None:
                        raise rest[0]
                    waiting -= 1
                    if token[0] == "late":
                        batch = value
                    else:
                        used[by_id[token[1]]].plan = value
                    continue
                result, finished = rest
                if token[0] == "late":
                    yield FinishedCall(late[value], result, began, finished)
                elif token[1] in by_id:
                    index = by_id[token[1]]
                    yield FinishedCall(index, result, used[index].started_at, finished)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        self.plan = turn.final_plan(calls, used, late, batch)

    async def _cancel_discarded(self) -> None:
        for run in self._turn.early.values():
            if run.discarded and run.handle is not None and not run.handle.done():
                run.handle.cancel()
                abandon(run.handle)  # unwinds in the background: its result is not wanted
