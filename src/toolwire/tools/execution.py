"""Run every tool call of a model turn: validated first, then concurrently, results in call order.

One sans-I/O core (`tools/plan.py`, re-exported here) and two drivers (this module):

- `plan_calls` (pure): resolve each call to its tool, validate its arguments, and split the turn
  into immediate error results (unknown tool, unparsable or invalid arguments, no implementation)
  and runnable calls. `apply_decision` folds an approval decision (allow / deny / edit) back in.
  `finish_result` turns a tool's outcome into a `ToolResult` (serialization, size cap).
- `execute_tool_calls` (sync driver): sync tools in a bounded thread pool, async tools each on a
  private event loop in a pool thread.
- `aexecute_tool_calls` (async driver): async tools as tasks, sync tools in the same bounded pool
  (never on the event loop, so a blocking tool cannot stall it).

Failures never raise: each becomes a `ToolResult` whose `error` is written for the model to correct
itself. Only the application's own exceptions escape (an `approve` hook that raises, cancellation).

Timeouts: the timeout error result is returned at the timeout, whatever the tool does. A timed-out
async tool is cancelled and left to unwind in the background (`_background.abandon`: its clean-up
does not hold the caller, and a tool that ignores cancellation never returns to us). A timed-out
*sync* tool cannot be killed (Python has no way to stop a thread): the executor does not wait for
it, and its pool is retired so later calls are not blocked by it. The thread lives on until the
function returns; it is a daemon thread (`_background.DaemonThreadPool`), so it does not keep the
interpreter from exiting. Give blocking tools their own timeouts (HTTP clients, subprocess) so
they end.

`KeyboardInterrupt` / `SystemExit` raised by a tool propagate to the caller as themselves, in both
drivers (the rest of the batch is cancelled); any other exception is that tool's error result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from typing import Any

from .. import _instrument
from ..types import ToolCall, ToolResult
from ._background import DaemonThreadPool, abandon
from .definition import ToolDefinition
from .plan import VALIDATION_KINDS as VALIDATION_KINDS
from .plan import ApprovalAnswer as ApprovalAnswer
from .plan import ApprovalDecision as ApprovalDecision
from .plan import ApproveHook as ApproveHook

# The pure plan lives in `plan`; every name stays importable from here (`X as X` marks the re-export).
from .plan import ErrorKind as ErrorKind
from .plan import ExecutionOptions as ExecutionOptions
from .plan import Plan as Plan
from .plan import PlannedCall as PlannedCall
from .plan import ResultHook as ResultHook
from .plan import _approval as _approval
from .plan import _is_async_callable as _is_async_callable
from .plan import _looks_like_tool_dict as _looks_like_tool_dict
from .plan import _report as _report
from .plan import _report_unrun as _report_unrun
from .plan import _requires_hook_message as _requires_hook_message
from .plan import _schema_text as _schema_text
from .plan import _unknown_tool_message as _unknown_tool_message
from .plan import _validate as _validate
from .plan import _validation_summary as _validation_summary
from .plan import apply_decision as apply_decision
from .plan import coerce_tool_calls as coerce_tool_calls
from .plan import coerce_tools as coerce_tools
from .plan import finish_result as finish_result
from .plan import plan_calls as plan_calls

__all__ = [
    "ApprovalDecision",
    "ApproveHook",
    "ErrorKind",
    "ExecutionOptions",
    "Plan",
    "PlannedCall",
    "aexecute_plan",
    "aexecute_tool_calls",
    "apply_decision",
    "coerce_tool_calls",
    "coerce_tools",
    "execute_plan",
    "execute_tool_calls",
    "finish_result",
    "plan_calls",
]

_DEFAULT_POOL_SIZE = 32


# -- the shared pool -----------------------------------------------------------------------------
class _SharedPool:
    """A bounded thread pool reused across turns (thread start-up is most of a no-op call's cost).

    A timed-out sync tool keeps its thread; `retire()` swaps in a fresh pool so that thread cannot
    block later calls, and the old pool finishes on its own once its tools return.
    """

    def __init__(self, size: int = _DEFAULT_POOL_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._pool: DaemonThreadPool | None = None

    def get(self) -> DaemonThreadPool:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = DaemonThreadPool(self._size, thread_name_prefix="toolwire-tool")
                pool = self._pool
        return pool

    def retire(self, pool: DaemonThreadPool) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False)


_shared_pool = _SharedPool()


class _Pool:
    """The pool one batch uses: the shared one, or a private one when `max_workers` is given."""

    def __init__(self, max_workers: int | None) -> None:
        self.private = max_workers is not None
        if max_workers is not None:
            if max_workers < 1:
                raise ValueError("max_workers must be at least 1")
            self.executor = DaemonThreadPool(max_workers, thread_name_prefix="toolwire-tool")
        else:
            self.executor = _shared_pool.get()
        self.abandoned = False

    def close(self) -> None:
        if self.private:
            # never wait: an abandoned tool thread must not hold the caller
            self.executor.shutdown(wait=False, cancel_futures=True)
        elif self.abandoned:
            _shared_pool.retire(self.executor)


class _AsyncGroup:
    """The async tools of one sync-driver batch, run as tasks on one private event loop in one pool
    thread (one loop per batch, not per call: starting a loop costs more than a no-op tool).

    Each call reports through its own `concurrent.futures.Future`, so the driver waits on them like
    on sync calls; `cancel(index)` cancels one task from the driver's thread, `cancel()` all of them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[int, asyncio.Future[Any]] = {}
        self._cancelled: set[int] = set()
        self._all_cancelled = False
        self.items: list[tuple[int, Callable[..., Any], dict[str, Any], float | None, Future[Any]]] = []

    def add(
        self, index: int, fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None
    ) -> Future[Any]:
        future: Future[Any] = Future()
        self.items.append((index, fn, kwargs, timeout, future))
        return future

    def cancel(self, index: int | None = None) -> None:
        with self._lock:
            if index is None:
                self._all_cancelled = True
                targets = list(self._tasks.values())
            else:
                self._cancelled.add(index)
                targets = [t for i, t in self._tasks.items() if i == index]
            loop = self._loop
        if loop is not None and targets:
            try:
                loop.call_soon_threadsafe(_cancel_all, targets)
            except RuntimeError:  # the loop already closed: its tools are finished
                pass

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        with self._lock:
            self._loop = asyncio.get_running_loop()
            for index, fn, kwargs, timeout, future in self.items:
                task = asyncio.ensure_future(_one_async(fn, kwargs, timeout, future))
                self._tasks[index] = task
                if self._all_cancelled or index in self._cancelled:
                    task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


def _cancel_all(tasks: list[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()


def _settle(future: Future[Any], value: Any = None, exc: BaseException | None = None) -> None:
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(value)
    except InvalidStateError:  # the driver gave up on it (cancelled while pending)
        pass


class _Fatal(Exception):
    """A `KeyboardInterrupt` / `SystemExit` raised by an async tool on the sync driver's private loop.

    Raised as itself inside a task it would stop that loop (asyncio re-raises both from the task
    step), `asyncio.run` would then cancel every sibling and the driver would see only
    CancelledErrors; wrapped, it reaches the driver, which re-raises the original as the async driver
    does."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(repr(error))
        self.error = error


async def _guarded(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    try:
        return await fn(**kwargs)
    except (KeyboardInterrupt, SystemExit) as exc:
        raise _Fatal(exc) from None


async def _one_async(
    fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None, future: Future[Any]
) -> None:
    inner: asyncio.Future[Any] | None = None
    try:
        inner = asyncio.ensure_future(_guarded(fn, kwargs))
        # asyncio.wait, not wait_for: a TimeoutError the tool raises itself is an exception, not a timeout
        done, _ = await asyncio.wait({inner}, timeout=timeout)
    except asyncio.CancelledError:
        if inner is not None:
            inner.cancel()
            await asyncio.gather(inner, return_exceptions=True)
        _settle(future, exc=asyncio.CancelledError())
        raise
    if not done:
        inner.cancel()
        await asyncio.gather(inner, return_exceptions=True)
        _settle(future, exc=_TimedOut())
    elif inner.cancelled():
        _settle(future, exc=asyncio.CancelledError())
    else:
        error = inner.exception()
        if isinstance(error, _Fatal):
            error = error.error
        _settle(future, inner.result() if error is None else None, error)


def _run_sync_in_thread(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    result = fn(**kwargs)
    if inspect.isawaitable(result):  # a sync-looking callable that returned a coroutine
        return asyncio.run(_await(result))
    return result


def _submitted(submit: Callable[..., Future[Any]], kwargs: dict[str, Any]) -> Future[Any]:
    """An async tool that already owns a running event loop (an MCP toolset's background loop)
    may carry `__toolwire_submit__`: it starts the call there and returns a `concurrent.futures.Future`
    (cancelling it cancels the call). The sync driver then waits on that future directly instead
    of starting a private event loop in a pool thread for it."""
    try:
        return submit(**kwargs)
    except Exception as exc:  # the tool could not be started: its error result, as for any tool
        if getattr(exc, "toolwire_caller_error", False):
            raise  # ...unless no call could ever start from here (a sync call that would deadlock)
        failed: Future[Any] = Future()
        failed.set_exception(exc)
        return failed


async def _await(value: Awaitable[Any]) -> Any:
    return await value


class _TimedOut(Exception):
    """An async tool run by the sync driver outlived its time on its private loop."""


def _limit(planned: PlannedCall, start: float, deadline: float | None) -> float | None:
    """Absolute monotonic time at which this call is abandoned."""
    ends = []
    if planned.timeout is not None:
        ends.append(start + planned.timeout)
    if deadline is not None:
        ends.append(start + deadline)
    return min(ends) if ends else None


# -- one call, no time limit (the common turn) ----------------------------------------------------
# What most turns are: one call, no timeout. The drivers' batch machinery (a wait set and its waiter,
# the pool, a task per async call) is then pure overhead, ~15-35 us per call; these two paths skip it
# for the tools that run on a loop of their own (an MCP toolset's), with the same results, events
# and errors (tests/tools/test_execution_alone.py holds them to the batch path).

# The inline path tells a cancelled caller from a tool that raised CancelledError by
# `Task.cancelling()` (Python 3.11+); on 3.10 every call takes the batch path.
_INLINE = sys.version_info >= (3, 11)


def _runs_alone(plan: Plan, deadline: float | None) -> PlannedCall | None:
    """The turn's only runnable call, when it has no time limit (no timeout, no deadline)."""
    if len(plan.runnable) != 1 or deadline is not None:
        return None
    planned = plan.runnable[0]
    return planned if planned.timeout is None else None


def _execute_submitted(
    plan: Plan,
    planned: PlannedCall,
    submit: Callable[..., Future[Any]],
    options: ExecutionOptions,
    on_result: ResultHook | None,
) -> None:
    """The sync driver for one `__toolwire_submit__` call without a time limit: it waits on the
    call's own future (no pool, no `concurrent.futures.wait` and its waiter)."""
    records = {planned.index: _instrument.tool_started(planned.call)}
    began = time.monotonic()
    future = _submitted(submit, planned.kwargs)
    try:
        exc = future.exception()  # blocks until the call ends
    except concurrent.futures.CancelledError:  # the tool's loop cancelled the call (it is closing)
        exc = asyncio.CancelledError()
    except BaseException:
        future.cancel()  # KeyboardInterrupt in the caller: do not leave the call running
        raise
    _finish_future(plan, planned, future, exc, False, time.monotonic() - began, options)
    _report(records, plan, planned, on_result)


async def _aexecute_inline(
    plan: Plan, planned: PlannedCall, options: ExecutionOptions, on_result: ResultHook | None
) -> None:
    """The async driver for one call without a time limit of a tool marked `__toolwire_inline__`
    (its coroutine only awaits work done elsewhere and sets no context variable: an MCP call):
    awaited in the caller's task, without a task of its own and the `asyncio.wait` around it (two
    loop iterations and a waiter per call). Cancelling the caller cancels the call, as on the batch
    path; a CancelledError the tool raises on its own is its error result, as there."""
    fn = planned.tool.function
    assert fn is not None
    records = {planned.index: _instrument.tool_started(planned.call)}
    began = time.monotonic()
    error: BaseException
    try:
        output = await fn(**planned.kwargs)
    except asyncio.CancelledError as exc:
        task = asyncio.current_task()
        if task is None or task.cancelling():  # type: ignore[attr-defined]  # 3.11+ (_INLINE)
            raise
        error = exc
    except Exception as exc:
        error = exc
    else:
        duration = time.monotonic() - began
        finish_result(plan, planned, output, duration=duration, max_output_chars=options.max_output_chars)
        _report(records, plan, planned, on_result)
        return
    finish_result(plan, planned, exc=error, duration=time.monotonic() - began)
    _report(records, plan, planned, on_result)


# -- sync driver ---------------------------------------------------------------------------------
def execute_tool_calls(
    tool_calls: Any,
    tools: Any,
    *,
    timeout: float | None = None,
    deadline: float | None = None,
    max_workers: int | None = None,
    approve: ApproveHook | None = None,
    max_output_chars: int | None = None,
) -> list[ToolResult]:
    """Run every call of a turn concurrently; return one `ToolResult` per call, in call order.

    `timeout`: seconds per call (a tool's own `timeout` wins); `deadline`: seconds for the whole
    batch; `max_workers`: a private pool of that size instead of the shared one (32 threads);
    `approve`: hook called before each call runs (see `ApprovalDecision`); `max_output_chars`:
    truncate longer outputs (and say so in the output).
    """
    options = ExecutionOptions(
        timeout=timeout,
        deadline=deadline,
        max_workers=max_workers,
        approve=approve,
        max_output_chars=max_output_chars,
    )
    return execute_plan(coerce_tool_calls(tool_calls), coerce_tools(tools), options).collected()


def _approve_sync(plan: Plan, approve: ApproveHook | None) -> None:
    step = _approval(plan, approve)
    try:
        pending = next(step)
        while True:
            pending = step.send(asyncio.run(_await(pending)))
    except StopIteration:
        pass


def execute_plan(
    calls: list[ToolCall],
    registry: Mapping[str, ToolDefinition],
    options: ExecutionOptions,
    on_result: ResultHook | None = None,
) -> Plan:
    """Plan, approve and run one turn's calls (the sync driver); the `Plan` keeps each result's
    error kind, which `Session` reads to count the model's mistakes. `on_result` hears of each
    result as its tool finishes (before the batch ends)."""
    deadline = options.deadline
    plan = plan_calls(calls, registry, timeout=options.timeout)
    _approve_sync(plan, options.approve)
    _report_unrun(plan, on_result)
    if not plan.runnable:
        return plan
    alone = _runs_alone(plan, deadline)
    submit = getattr(alone.tool.function, "__toolwire_submit__", None) if alone and alone.is_async else None
    if alone is not None and submit is not None:
        _execute_submitted(plan, alone, submit, options, on_result)
        return plan
    pool = _Pool(options.max_workers)
    start = time.monotonic()
    futures: dict[Future[Any], tuple[PlannedCall, _AsyncGroup | None, float]] = {}
    group: _AsyncGroup | None = None
    records: dict[int, _instrument.ToolRecord | None] = {}
    try:
        for planned in plan.runnable:
            fn = planned.tool.function
            assert fn is not None
            records[planned.index] = _instrument.tool_started(planned.call)
            limit = _limit(planned, start, deadline)
            submit = getattr(fn, "__toolwire_submit__", None) if planned.is_async else None
            if submit is not None:  # the tool runs on its own event loop: no private loop, no thread
                futures[_submitted(submit, planned.kwargs)] = (planned, None, time.monotonic())
            elif planned.is_async:
                group = group or _AsyncGroup()
                remaining = None if limit is None else max(0.0, limit - time.monotonic())
                futures[group.add(planned.index, fn, planned.kwargs, remaining)] = (planned, group, start)
            else:
                ctx = contextvars.copy_context()
                future = pool.executor.submit(ctx.run, _run_sync_in_thread, fn, planned.kwargs)
                futures[future] = (planned, None, time.monotonic())
        if group is not None:
            pool.executor.submit(contextvars.copy_context().run, group.run)
        pending = set(futures)
        while pending:
            limits = [lim for f in pending if (lim := _limit(futures[f][0], start, deadline)) is not None]
            wait_for = max(0.0, min(limits) - time.monotonic()) if limits else None
            done, pending = concurrent.futures.wait(
                pending, timeout=wait_for, return_when=concurrent.futures.FIRST_COMPLETED
            )
            now = time.monotonic()
            for future in done:
                planned, handle, began = futures[future]
                # a submitted call its own loop cancelled is that call's error, as on the async driver
                exc = asyncio.CancelledError() if future.cancelled() else future.exception()
                timed_out = isinstance(exc, _TimedOut)
                _finish_future(plan, planned, future, exc, timed_out, now - began, options)
                _report(records, plan, planned, on_result)
            for future in list(pending):
                planned, handle, began = futures[future]
                lim = _limit(planned, start, deadline)
                if lim is not None and now >= lim:
                    pending.discard(future)
                    if handle is not None:
                        handle.cancel(planned.index)
                        # a tool that ignores cancellation keeps the loop's pool thread for good
                        pool.abandoned = True
                    elif not future.cancel():
                        pool.abandoned = True
                    finish_result(plan, planned, timed_out=True, deadline=deadline, duration=now - began)
                    _report(records, plan, planned, on_result)
    except BaseException:
        # KeyboardInterrupt or similar: stop what has not started, cancel async tools, never wait
        if group is not None:
            group.cancel()
        for future, (_, handle, _) in futures.items():
            if handle is None and not future.cancel() and not future.done():
                pool.abandoned = True
        raise
    finally:
        pool.close()
    return plan


def _finish_future(
    plan: Plan,
    planned: PlannedCall,
    future: concurrent.futures.Future[Any] | asyncio.Future[Any],
    exc: BaseException | None,
    timed_out: bool,
    duration: float,
    options: ExecutionOptions,
) -> None:
    if timed_out:
        finish_result(plan, planned, timed_out=True, deadline=options.deadline, duration=duration)
    elif exc is not None:
        if not isinstance(exc, Exception) and not isinstance(exc, asyncio.CancelledError):
            raise exc  # KeyboardInterrupt / SystemExit raised inside a tool: not the model's business
        finish_result(plan, planned, exc=exc, duration=duration)
    else:
        finish_result(
            plan, planned, future.result(), duration=duration, max_output_chars=options.max_output_chars
        )


# -- async driver --------------------------------------------------------------------------------
async def aexecute_tool_calls(
    tool_calls: Any,
    tools: Any,
    *,
    timeout: float | None = None,
    deadline: float | None = None,
    max_workers: int | None = None,
    approve: ApproveHook | None = None,
    max_output_chars: int | None = None,
) -> list[ToolResult]:
    """The async twin of `execute_tool_calls`: async tools as tasks, sync tools in the thread pool."""
    options = ExecutionOptions(
        timeout=timeout,
        deadline=deadline,
        max_workers=max_workers,
        approve=approve,
        max_output_chars=max_output_chars,
    )
    plan = await aexecute_plan(coerce_tool_calls(tool_calls), coerce_tools(tools), options)
    return plan.collected()


async def _approve_async(plan: Plan, approve: ApproveHook | None) -> None:
    step = _approval(plan, approve)
    try:
        pending = next(step)
        while True:
            pending = step.send(await pending)
    except StopIteration:
        pass


async def _call_async(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return await fn(**kwargs)


async def aexecute_plan(
    calls: list[ToolCall],
    registry: Mapping[str, ToolDefinition],
    options: ExecutionOptions,
    on_result: ResultHook | None = None,
) -> Plan:
    """The async driver of `execute_plan`."""
    deadline = options.deadline
    plan = plan_calls(calls, registry, timeout=options.timeout)
    await _approve_async(plan, options.approve)
    _report_unrun(plan, on_result)
    if not plan.runnable:
        return plan
    alone = _runs_alone(plan, deadline)
    if alone is not None and _INLINE and getattr(alone.tool.function, "__toolwire_inline__", False):
        await _aexecute_inline(plan, alone, options, on_result)
        return plan
    loop = asyncio.get_running_loop()
    pool = _Pool(options.max_workers)
    start = time.monotonic()
    tasks: dict[asyncio.Future[Any], tuple[PlannedCall, float]] = {}
    records: dict[int, _instrument.ToolRecord | None] = {}
    try:
        for planned in plan.runnable:
            fn = planned.tool.function
            assert fn is not None
            records[planned.index] = _instrument.tool_started(planned.call)
            task: asyncio.Future[Any]
            if planned.is_async:
                task = asyncio.ensure_future(_call_async(fn, planned.kwargs))
            else:
                ctx = contextvars.copy_context()
                task = loop.run_in_executor(pool.executor, ctx.run, _run_sync_in_thread, fn, planned.kwargs)
            tasks[task] = (planned, time.monotonic())
        pending: set[asyncio.Future[Any]] = set(tasks)
        while pending:
            limits = [lim for t in pending if (lim := _limit(tasks[t][0], start, deadline)) is not None]
            wait_for = max(0.0, min(limits) - time.monotonic()) if limits else None
            done, pending = await _first_done(pending, wait_for)
            now = time.monotonic()
            for task in done:
                planned, began = tasks[task]
                exc = None if task.cancelled() else task.exception()
                if task.cancelled():
                    exc = asyncio.CancelledError()
                _finish_future(plan, planned, task, exc, False, now - began, options)
                _report(records, plan, planned, on_result)
            for task in list(pending):
                planned, began = tasks[task]
                lim = _limit(planned, start, deadline)
                if lim is not None and now >= lim:
                    pending.discard(task)
                    if not planned.is_async:
                        pool.abandoned = True  # its thread runs on; the pool must not wait for it
                    task.cancel()
                    if planned.is_async:
                        # the result is due now: its clean-up (or a tool ignoring cancellation) must
                        # not hold the caller; kept referenced and its outcome read when it ends
                        abandon(task)
                    finish_result(plan, planned, timed_out=True, deadline=deadline, duration=now - began)
                    _report(records, plan, planned, on_result)
    except BaseException:
        # cancelled (or interrupted): cancel every task and wait for the async ones to unwind
        for task in tasks:
            task.cancel()
            if tasks[task][0].is_async:
                abandon(task)  # referenced even if this wait is cancelled in turn
            elif not task.done():
                pool.abandoned = True
        await _drain([t for t in tasks if tasks[t][0].is_async])
        raise
    finally:
        pool.close()
    return plan


async def _first_done(
    pending: set[asyncio.Future[Any]], timeout: float | None
) -> tuple[set[asyncio.Future[Any]], set[asyncio.Future[Any]]]:
    """`asyncio.wait(pending, timeout, FIRST_COMPLETED)`; for one task without a timeout (a turn of
    one call) a single waiter future instead (asyncio.wait's bookkeeping is a third of a no-op
    call's cost). Cancelling the caller leaves the task running, as with asyncio.wait."""
    if len(pending) != 1 or timeout is not None:
        done, still = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        return done, still
    [task] = pending
    if not task.done():
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake(_: asyncio.Future[Any]) -> None:
            if not waiter.done():
                waiter.set_result(None)

        task.add_done_callback(wake)
        try:
            await waiter
        finally:
            task.remove_done_callback(wake)
    return {task}, set()


async def _drain(tasks: list[asyncio.Future[Any]]) -> None:
    if tasks:
        await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
