"""Run every tool call of a model turn: validated first, then concurrently, results in call order.

One sans-I/O core and two drivers:

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

Timeouts: a timed-out async tool is cancelled. A timed-out *sync* tool cannot be killed (Python has
no way to stop a thread): its result is a timeout error, the executor does not wait for it, and its
pool thread is retired so later calls are not blocked by it. The thread itself lives on until the
function returns (and the interpreter waits for it at exit): give blocking tools their own
timeouts (HTTP clients, subprocess) so they end.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import difflib
import functools
import inspect
import json
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from .. import _instrument
from ..types import GenerateResponse, ToolCall, ToolCallRequest, ToolResult, serialize_output
from .definition import ToolDefinition, expand_tool_sources, is_tool_source

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

ErrorKind = Literal[
    "unknown_tool",
    "arguments_error",
    "invalid_arguments",
    "no_implementation",
    "denied",
    "exception",
    "timeout",
    "output",
]
"""Why a call failed. `unknown_tool`, `arguments_error` and `invalid_arguments` are the model's
mistakes (Session counts them against its per-tool retry budget)."""

VALIDATION_KINDS: frozenset[str] = frozenset({"unknown_tool", "arguments_error", "invalid_arguments"})

_DEFAULT_POOL_SIZE = 32


# -- approvals ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ApprovalDecision:
    """What an `approve` hook decided for one call.

    An `approve` hook may also return `True` (allow), `False` (deny) or a dict (edited arguments).
    """

    action: Literal["allow", "deny", "edit"]
    reason: str | None = None
    arguments: Mapping[str, Any] | None = None

    @classmethod
    def allow(cls) -> ApprovalDecision:
        return cls("allow")

    @classmethod
    def deny(cls, reason: str | None = None) -> ApprovalDecision:
        """Do not run the call; the model is told, with `reason` if given."""
        return cls("deny", reason=reason)

    @classmethod
    def edit(cls, arguments: Mapping[str, Any]) -> ApprovalDecision:
        """Run the call with these arguments instead (validated again before it runs)."""
        return cls("edit", arguments=dict(arguments))


ApprovalAnswer: TypeAlias = "ApprovalDecision | bool | Mapping[str, Any]"
ApproveHook: TypeAlias = "Callable[[ToolCall, ToolDefinition], ApprovalAnswer | Awaitable[ApprovalAnswer]]"
"""`approve(call, tool)`, sync or async, called before each call runs (after its arguments are
validated: `call.arguments` is what the model sent)."""


@dataclass(frozen=True)
class ExecutionOptions:
    """How one turn's calls run: what `execute_tool_calls`, `aexecute_tool_calls` and `Session`
    take as keywords, held once and passed as one object to the plan and both drivers.

    `timeout`: seconds per call (a tool's own `timeout` wins); `deadline`: seconds for the whole
    batch; `max_workers`: a private pool of that size instead of the shared one; `approve`: the
    approval hook; `max_output_chars`: the cap on one output sent to the model;
    `max_validation_retries`: how often `Session` lets the model correct a call to one tool
    (unknown tool, unreadable or invalid arguments) before raising `ToolExecutionError`.
    Frozen and hashable, so anything derived from it can be cached on it.
    """

    timeout: float | None = None
    deadline: float | None = None
    max_workers: int | None = None
    approve: ApproveHook | None = None
    max_output_chars: int | None = None
    max_validation_retries: int = 2


# -- the plan (sans-I/O) -----------------------------------------------------------------------
@dataclass
class PlannedCall:
    """A call that passed validation and may run."""

    index: int
    call: ToolCall
    tool: ToolDefinition
    kwargs: dict[str, Any]
    is_async: bool
    timeout: float | None


@dataclass
class Plan:
    """One turn's calls: `results[i]` is filled for calls that will not run; `runnable` lists the rest."""

    calls: list[ToolCall]
    results: list[ToolResult | None]
    kinds: list[ErrorKind | None]
    runnable: list[PlannedCall] = field(default_factory=list)

    def fail(self, index: int, kind: ErrorKind, message: str) -> None:
        call = self.calls[index]
        self.results[index] = ToolResult(call_id=call.id, name=call.name, error=message)
        self.kinds[index] = kind

    def collected(self) -> list[ToolResult]:
        missing = [i for i, r in enumerate(self.results) if r is None]
        if missing:  # a driver bug, not a tool failure: say so loudly
            raise RuntimeError(f"tool calls {missing} have no result")
        return [r for r in self.results if r is not None]


def coerce_tool_calls(tool_calls: Any) -> list[ToolCall]:
    """A ToolCallRequest, a GenerateResponse, a single ToolCall, or an iterable of ToolCalls/dicts."""
    if tool_calls is None:
        return []
    if isinstance(tool_calls, GenerateResponse):
        return list(tool_calls.tool_calls.tool_calls) if tool_calls.tool_calls else []
    if isinstance(tool_calls, ToolCallRequest):
        return list(tool_calls.tool_calls)
    if isinstance(tool_calls, ToolCall):
        return [tool_calls]
    calls: list[ToolCall] = []
    for item in tool_calls:
        if isinstance(item, ToolCall):
            calls.append(item)
        elif isinstance(item, Mapping):
            fn = item.get("function")
            source = fn if isinstance(fn, Mapping) else item
            call_id, name = str(item.get("id", "")), str(source.get("name", ""))
            calls.append(ToolCall.from_raw(call_id, name, source.get("arguments")))
        else:
            raise TypeError(f"cannot read a tool call from {item!r}")
    return calls


def coerce_tools(tools: Any) -> dict[str, ToolDefinition]:
    """A list of functions / ToolDefinitions / model classes / tool dicts, or a name -> tool mapping."""
    if tools is None:
        return {}
    registry: dict[str, ToolDefinition] = {}
    if isinstance(tools, Mapping) and not _looks_like_tool_dict(tools):
        for name, value in tools.items():
            definition = ToolDefinition.coerce(value)
            registry[str(name)] = definition
        return registry
    items: Iterable[Any] = [tools] if isinstance(tools, Mapping) or is_tool_source(tools) else tools
    for value in expand_tool_sources(items):
        definition = ToolDefinition.coerce(value)
        if definition.name in registry:
            raise ValueError(f"two tools are named {definition.name!r}: tool names must be unique")
        registry[definition.name] = definition
    return registry


def _looks_like_tool_dict(value: Mapping[Any, Any]) -> bool:
    return value.get("type") == "function" or ("name" in value and isinstance(value.get("name"), str))


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    while isinstance(fn, functools.partial):
        fn = fn.func
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects with an async __call__
    return call is not None and not inspect.isfunction(fn) and inspect.iscoroutinefunction(call)


def _schema_text(tool: ToolDefinition) -> str:
    return json.dumps(tool.parameters, ensure_ascii=False, separators=(",", ":"))


def _validation_summary(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            items = errors(include_url=False)
        except TypeError:
            items = errors()
        parts = []
        for item in items:
            loc = ".".join(str(p) for p in item.get("loc", ())) or "(arguments)"
            msg = item.get("msg", "invalid")
            if item.get("type") != "missing" and "input" in item:
                got = json.dumps(item["input"], ensure_ascii=False, default=str)
                if len(got) > 80:
                    got = got[:80] + "..."
                parts.append(f"{loc}: {msg} (got {got})")
            else:
                parts.append(f"{loc}: {msg}")
        if parts:
            return "; ".join(parts)
    return str(exc)


def _unknown_tool_message(name: str, registry: Mapping[str, ToolDefinition]) -> str:
    available = ", ".join(registry) or "(none)"
    message = f"Error: tool {name!r} does not exist. Available tools: {available}."
    close = difflib.get_close_matches(name, list(registry), n=1)
    if close:
        message += f" Did you mean {close[0]!r}?"
    return message


def _validate(
    plan: Plan, index: int, tool: ToolDefinition, arguments: Mapping[str, Any]
) -> dict[str, Any] | None:
    try:
        return tool.validate_arguments(arguments)
    except Exception as exc:  # pydantic.ValidationError, ValueError, TypeError from custom validators
        plan.fail(
            index,
            "invalid_arguments",
            f"Error: invalid arguments for {tool.name}: {_validation_summary(exc)}. "
            f"Expected arguments (JSON Schema): {_schema_text(tool)}. "
            "Fix the arguments and call the tool again.",
        )
        return None


def plan_calls(
    calls: Sequence[ToolCall],
    registry: Mapping[str, ToolDefinition],
    *,
    timeout: float | None = None,
) -> Plan:
    """Validate every call before anything runs. Pure: no tool is called here."""
    plan = Plan(calls=list(calls), results=[None] * len(calls), kinds=[None] * len(calls))
    for index, call in enumerate(calls):
        tool = registry.get(call.name)
        if tool is None:
            plan.fail(index, "unknown_tool", _unknown_tool_message(call.name, registry))
            continue
        if call.arguments_error is not None:
            plan.fail(
                index,
                "arguments_error",
                f"Error: the arguments for {tool.name} could not be read: {call.arguments_error}. "
                f"Expected arguments (JSON Schema): {_schema_text(tool)}. "
                "Send the arguments as one valid JSON object and call the tool again.",
            )
            continue
        if tool.function is None:
            plan.fail(
                index,
                "no_implementation",
                f"Error: tool {tool.name!r} has no implementation in this application (it was declared "
                "without a function), so it cannot be run. Do not call it again.",
            )
            continue
        kwargs = _validate(plan, index, tool, call.arguments)
        if kwargs is None:
            continue
        plan.runnable.append(
            PlannedCall(
                index=index,
                call=call,
                tool=tool,
                kwargs=kwargs,
                is_async=_is_async_callable(tool.function),
                timeout=tool.timeout if tool.timeout is not None else timeout,
            )
        )
    return plan


def apply_decision(plan: Plan, planned: PlannedCall, answer: Any) -> bool:
    """Fold an approval answer into the plan. Returns True when the call may still run."""
    if answer is True:
        return True
    if isinstance(answer, ApprovalDecision):
        decision = answer
    elif answer is False:
        decision = ApprovalDecision.deny()
    elif isinstance(answer, Mapping):
        decision = ApprovalDecision.edit(answer)
    else:
        raise TypeError(
            f"approve hook returned {answer!r} for {planned.tool.name}: return True, False, a dict of "
            "edited arguments, or an ApprovalDecision"
        )
    if decision.action == "allow":
        return True
    if decision.action == "deny":
        reason = f" Reason: {decision.reason}" if decision.reason else ""
        plan.fail(
            planned.index,
            "denied",
            f"Error: the user denied the call to {planned.tool.name}; it was not run.{reason} "
            "Do not retry it with the same arguments.",
        )
        return False
    kwargs = _validate(plan, planned.index, planned.tool, decision.arguments or {})
    if kwargs is None:
        return False
    planned.kwargs = kwargs
    return True


def _requires_hook_message(planned: PlannedCall) -> str:
    note = getattr(planned.tool, "approval_note", None)  # e.g. what changed in a pinned MCP tool
    return (
        f"Error: {planned.tool.name} requires approval and no approver is configured, so it was not run. "
        + (f"{note} " if note else "")
        + "Do not call it again."
    )


def finish_result(
    plan: Plan,
    planned: PlannedCall,
    output: Any = None,
    exc: BaseException | None = None,
    *,
    timed_out: bool = False,
    deadline: float | None = None,
    duration: float | None = None,
    max_output_chars: int | None = None,
) -> None:
    """Turn one tool's outcome into its `ToolResult` (shared by both drivers)."""
    name = planned.tool.name
    call = planned.call
    if timed_out:
        if planned.timeout is not None and (deadline is None or planned.timeout <= deadline):
            limit = f" within its {planned.timeout:g}s timeout"
        else:
            limit = " before the batch deadline" + (f" ({deadline:g}s)" if deadline is not None else "")
        plan.fail(
            planned.index,
            "timeout",
            f"Error: {name} did not finish{limit} (timed out) and its result was abandoned. "
            "Try again with a smaller request, or answer without it.",
        )
    elif exc is not None:
        try:
            detail = str(exc)
        except Exception:  # an exception whose __str__ raises still becomes an error result
            detail = ""
        plan.fail(
            planned.index,
            "exception",
            f"Error: {name} raised {type(exc).__name__}" + (f": {detail}" if detail else "") + ".",
        )
    else:
        # Serialize now, not when the next request is built: an output whose __str__ (or
        # model_dump) raises becomes this call's error result instead of sinking the next turn.
        if max_output_chars is not None or not isinstance(output, str):
            try:
                text = serialize_output(output)
            except Exception as serialize_exc:
                plan.fail(
                    planned.index,
                    "output",
                    f"Error: the output of {name} could not be serialized "
                    f"({type(serialize_exc).__name__}: {serialize_exc}).",
                )
                return
            if max_output_chars is not None and len(text) > max_output_chars:
                output = (
                    text[:max_output_chars]
                    + f"\n[output truncated: {len(text)} characters, showing the first {max_output_chars}]"
                )
        plan.results[planned.index] = ToolResult(call_id=call.id, name=call.name, output=output)
    result = plan.results[planned.index]
    if result is not None:
        result.duration = duration


ResultHook: TypeAlias = "Callable[[int, ToolResult], None]"
"""`on_result(index, result)`: called as each call of a batch finishes (`index` in the batch's call
list), so a streamed Session can emit each tool's event when that tool ends (`toolwire.tools.early`)."""


def _report_unrun(plan: Plan, on_result: ResultHook | None = None) -> None:
    """Calls that never ran (unknown tool, invalid arguments, denied) reach observers as finished at once."""
    running = {planned.index for planned in plan.runnable}
    for index, result in enumerate(plan.results):
        if result is not None and index not in running:
            _instrument.tool_finished(_instrument.tool_started(plan.calls[index]), result)
            if on_result is not None:
                on_result(index, result)


def _report(
    records: dict[int, _instrument.ToolRecord | None],
    plan: Plan,
    planned: PlannedCall,
    on_result: ResultHook | None = None,
) -> None:
    result = plan.results[planned.index]
    if result is not None:
        _instrument.tool_finished(records.pop(planned.index, None), result)
        if on_result is not None:
            on_result(planned.index, result)


# -- the shared pool -----------------------------------------------------------------------------
class _SharedPool:
    """A bounded thread pool reused across turns (thread start-up is most of a no-op call's cost).

    A timed-out sync tool keeps its thread; `retire()` swaps in a fresh pool so that thread cannot
    block later calls, and the old pool finishes on its own once its tools return.
    """

    def __init__(self, size: int = _DEFAULT_POOL_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def get(self) -> concurrent.futures.ThreadPoolExecutor:
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = concurrent.futures.ThreadPoolExecutor(
                        self._size, thread_name_prefix="toolwire-tool"
                    )
                pool = self._pool
        return pool

    def retire(self, pool: concurrent.futures.ThreadPoolExecutor) -> None:
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
            self.executor = concurrent.futures.ThreadPoolExecutor(
                max_workers, thread_name_prefix="toolwire-tool"
            )
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


async def _one_async(
    fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None, future: Future[Any]
) -> None:
    inner: asyncio.Future[Any] | None = None
    try:
        inner = asyncio.ensure_future(fn(**kwargs))
        # asyncio.wait, not wait_for: a TimeoutError the tool raises itself is an exception, not a timeout
        done, _ = await asyncio.wait({inner}, timeout=timeout)
    except asyncio.CancelledError:
        if inner is not None:
            inner.cancel()
            await asyncio.gather(inner, return_exceptions=True)
        _settle(future, exc=asyncio.CancelledError())
        raise
    except Exception as exc:  # calling the tool failed before it returned a coroutine
        _settle(future, exc=exc)
        return
    if not done:
        inner.cancel()
        await asyncio.gather(inner, return_exceptions=True)
        _settle(future, exc=_TimedOut())
    elif inner.cancelled():
        _settle(future, exc=asyncio.CancelledError())
    else:
        error = inner.exception()
        _settle(future, inner.result() if error is None else None, error)


def _run_sync_in_thread(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    result = fn(**kwargs)
    if inspect.isawaitable(result):  # a sync-looking callable that returned a coroutine
        return asyncio.run(_await(result))
    return result


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


def _approval(plan: Plan, approve: ApproveHook | None) -> Generator[Awaitable[Any], Any, None]:
    """The approval step of both drivers: asks the hook about every runnable call and folds the
    answers into the plan. An async hook's answer is yielded for the driver to await (the sync
    driver runs it to completion, the async one awaits it) and sent back in."""
    kept: list[PlannedCall] = []
    for planned in plan.runnable:
        if approve is None:
            if planned.tool.requires_approval:
                plan.fail(planned.index, "denied", _requires_hook_message(planned))
            else:
                kept.append(planned)
            continue
        answer = approve(planned.call, planned.tool)
        if inspect.isawaitable(answer):
            answer = yield answer
        if apply_decision(plan, planned, answer):
            kept.append(planned)
    plan.runnable = kept


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
            if planned.is_async:
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
                exc = future.exception()
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
            done, pending = await asyncio.wait(pending, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED)
            now = time.monotonic()
            for task in done:
                planned, began = tasks[task]
                exc = None if task.cancelled() else task.exception()
                if task.cancelled():
                    exc = asyncio.CancelledError()
                _finish_future(plan, planned, task, exc, False, now - began, options)
                _report(records, plan, planned, on_result)
            expired = []
            for task in list(pending):
                planned, began = tasks[task]
                lim = _limit(planned, start, deadline)
                if lim is not None and now >= lim:
                    pending.discard(task)
                    expired.append(task)
                    if not planned.is_async:
                        pool.abandoned = True  # its thread runs on; the pool must not wait for it
                    task.cancel()
                    finish_result(plan, planned, timed_out=True, deadline=deadline, duration=now - began)
                    _report(records, plan, planned, on_result)
            # let cancelled async tools run their cleanup before we return (no orphan tasks)
            await _drain([t for t in expired if tasks[t][0].is_async])
    except BaseException:
        # cancelled (or interrupted): cancel every task and wait for the async ones to unwind
        for task in tasks:
            task.cancel()
            if not tasks[task][0].is_async and not task.done():
                pool.abandoned = True
        await _drain([t for t in tasks if tasks[t][0].is_async])
        raise
    finally:
        pool.close()
    return plan


async def _drain(tasks: list[asyncio.Future[Any]]) -> None:
    if tasks:
        await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
