"""The executor's sans-I/O plan: what a model turn's tool calls become before anything runs.

`plan_calls` resolves each call to its tool, validates its arguments and splits the turn into
immediate error results and runnable calls; `apply_decision` folds an approval decision (allow /
deny / edit) back in; `finish_result` turns a tool's outcome into a `ToolResult`; `_approval` is the
one approval step both drivers share. The drivers (`execute_plan`, `aexecute_plan`,
`execute_tool_calls`, `aexecute_tool_calls`) are in `tools/execution.py`, which re-exports every name
here.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from .. import _instrument
from ..types import GenerateResponse, ToolCall, ToolCallRequest, ToolResult, serialize_output
from .definition import ToolDefinition, arguments_unreadable, expand_tool_sources, is_tool_source

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
        if arguments_unreadable(call):  # one that was read but fails the schema: `_validate` says why
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
