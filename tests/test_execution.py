"""The tool executor: every test runs against both drivers (`execute_tool_calls` and
`aexecute_tool_calls`), through the `execute` fixture.

Concurrency is proven by events, never by wall-clock: the test tools meet at a rendezvous that only
opens once every tool of the turn has started, so a driver that ran them one after another would
make the first tool fail (rendezvous timeout) instead of returning its output.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from toolwire.tools.definition import ToolDefinition, tool
from toolwire.tools.execution import ApprovalDecision, aexecute_tool_calls, execute_tool_calls
from toolwire.types import GenerateResponse, ToolCall, ToolCallRequest, ToolResult

Execute = Callable[..., list[ToolResult]]


@pytest.fixture(params=["sync", "async"])
def execute(request: pytest.FixtureRequest) -> Execute:
    if request.param == "sync":
        return execute_tool_calls

    def run_async(*args: Any, **kwargs: Any) -> list[ToolResult]:
        return asyncio.run(aexecute_tool_calls(*args, **kwargs))

    return run_async


def call(call_id: str, name: str, raw: str | dict[str, Any] | None = None) -> ToolCall:
    return ToolCall.from_raw(call_id, name, raw if raw is not None else {})


class Rendezvous:
    """Opens only when `n` tools have arrived; usable from threads and from any event loop."""

    def __init__(self, n: int, timeout: float = 5.0) -> None:
        self.n = n
        self.timeout = timeout
        self.arrived = 0
        self.log: list[tuple[str, str]] = []
        self._cond = threading.Condition()

    def _arrive(self, name: str) -> None:
        with self._cond:
            self.arrived += 1
            self.log.append(("start", name))
            self._cond.notify_all()

    def _leave(self, name: str) -> None:
        with self._cond:
            self.log.append(("end", name))

    def wait_sync(self, name: str) -> None:
        self._arrive(name)
        with self._cond:
            if not self._cond.wait_for(lambda: self.arrived >= self.n, timeout=self.timeout):
                raise RuntimeError(f"{name}: only {self.arrived}/{self.n} tools started: not concurrent")
        self._leave(name)

    async def wait_async(self, name: str) -> None:
        self._arrive(name)
        end = time.monotonic() + self.timeout
        while self.arrived < self.n:
            if time.monotonic() > end:
                raise RuntimeError(f"{name}: only {self.arrived}/{self.n} tools started: not concurrent")
            await asyncio.sleep(0.001)
        self._leave(name)

    def assert_all_started_before_any_finished(self) -> None:
        kinds = [kind for kind, _ in self.log]
        assert kinds == ["start"] * self.n + ["end"] * self.n, self.log


def rendezvous_tools(kinds: list[str], meet: Rendezvous) -> list[ToolDefinition]:
    definitions = []
    for i, kind in enumerate(kinds):
        name = f"{kind}_{i}"
        if kind == "sync":

            def fn(x: int, _name: str = name) -> str:
                meet.wait_sync(_name)
                return f"{_name}:{x}"

        else:

            async def fn(x: int, _name: str = name) -> str:  # type: ignore[misc]
                await meet.wait_async(_name)
                return f"{_name}:{x}"

        definitions.append(ToolDefinition(name=name, description="t", function=fn))
    return definitions


# -- concurrency and order -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kinds",
    [["sync"] * 4, ["async"] * 4, ["sync", "async", "sync", "async"], ["sync"] * 16, ["async"] * 16],
    ids=["sync4", "async4", "mixed4", "sync16", "async16"],
)
def test_every_tool_of_a_turn_starts_before_any_finishes(execute: Execute, kinds: list[str]) -> None:
    meet = Rendezvous(len(kinds))
    tools = rendezvous_tools(kinds, meet)
    calls = [call(f"c{i}", t.name, {"x": i}) for i, t in enumerate(tools)]
    results = execute(calls, tools)
    assert [r.error for r in results] == [None] * len(kinds)
    assert [r.output for r in results] == [f"{t.name}:{i}" for i, t in enumerate(tools)]
    meet.assert_all_started_before_any_finished()


def test_results_come_back_in_call_order_not_completion_order(execute: Execute) -> None:
    finished: list[str] = []
    gates = [threading.Event() for _ in range(3)]

    def step(i: int) -> int:
        # tool i waits for tool i+1 to finish: completion order is 2, 1, 0
        if i < 2:
            assert gates[i + 1].wait(5)
        finished.append(str(i))
        gates[i].set()
        return i * 10

    calls = [call(f"id{i}", "step", {"i": i}) for i in range(3)]
    results = execute(calls, [step])
    assert finished == ["2", "1", "0"]
    assert [(r.call_id, r.name, r.output) for r in results] == [
        ("id0", "step", 0),
        ("id1", "step", 10),
        ("id2", "step", 20),
    ]
    assert all(r.duration is not None and r.duration >= 0 for r in results)


def test_a_blocking_sync_tool_does_not_stall_the_async_tools(execute: Execute) -> None:
    released = threading.Event()

    def blocker() -> str:
        assert released.wait(5), "the async tool never ran while the sync tool blocked"
        return "unblocked"

    async def releaser() -> str:
        await asyncio.sleep(0.01)
        released.set()
        return "released"

    results = execute([call("a", "blocker"), call("b", "releaser")], [blocker, releaser])
    assert [r.output for r in results] == ["unblocked", "released"]


def test_accepts_a_response_a_request_and_a_name_to_tool_mapping(execute: Execute) -> None:
    def echo(text: str) -> str:
        return text

    calls = [call("1", "shout", {"text": "a"}), call("2", "shout", {"text": "b"})]
    response = GenerateResponse(tool_calls=ToolCallRequest(calls))
    for source in (response, ToolCallRequest(calls), calls):
        results = execute(source, {"shout": echo})
        assert [(r.call_id, r.output) for r in results] == [("1", "a"), ("2", "b")]
    assert execute(GenerateResponse(content="no calls"), [echo]) == []


# -- validation --------------------------------------------------------------------------------------
class Address(BaseModel):
    city: str
    zip_code: str


@dataclasses.dataclass
class Window:
    start: int
    end: int


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


def test_nested_models_dataclasses_and_enums_arrive_as_instances(execute: Execute) -> None:
    seen: dict[str, Any] = {}

    def forecast(address: Address, window: Window, unit: Unit = Unit.C) -> str:
        seen.update(address=address, window=window, unit=unit)
        return "ok"

    raw = (
        '{"address": {"city": "Paris", "zip_code": "75001"}, '
        '"window": {"start": 1, "end": 3}, "unit": "fahrenheit"}'
    )
    [result] = execute([call("1", "forecast", raw)], [forecast])
    assert result.output == "ok" and result.error is None
    assert isinstance(seen["address"], Address) and seen["address"].city == "Paris"
    assert isinstance(seen["window"], Window) and seen["window"].end == 3
    assert seen["unit"] is Unit.F


def test_unknown_tool_is_an_error_result_naming_the_available_tools(execute: Execute) -> None:
    def get_weather(city: str) -> str:
        return f"sunny in {city}"

    def get_time() -> str:
        return "noon"

    results = execute(
        [call("1", "get_wether", {"city": "Paris"}), call("2", "get_time")], [get_weather, get_time]
    )
    assert results[0].call_id == "1" and results[0].name == "get_wether" and not results[0].success
    assert results[0].error == (
        "Error: tool 'get_wether' does not exist. Available tools: get_weather, get_time. "
        "Did you mean 'get_weather'?"
    )
    assert results[1].output == "noon"


def test_unparsable_arguments_are_never_run_as_empty_arguments(execute: Execute) -> None:
    ran: list[Any] = []

    def get_weather(city: str = "nowhere") -> str:
        ran.append(city)
        return city

    bad = call("1", "get_weather", '{"city": "Par')
    assert bad.arguments_error is not None and bad.arguments == {}
    [result] = execute([bad], [get_weather])
    assert ran == []  # the default would have made a {} call "succeed"
    assert result.error is not None
    assert result.error.startswith(
        "Error: the arguments for get_weather could not be read: arguments are not valid JSON"
    )
    assert '"city"' in result.error and "call the tool again" in result.error


def test_invalid_arguments_explain_what_was_wrong_and_the_schema(execute: Execute) -> None:
    ran: list[Any] = []

    def get_weather(city: str, days: int = 1) -> str:
        ran.append((city, days))
        return "x"

    results = execute(
        [call("1", "get_weather", {"days": 2}), call("2", "get_weather", {"city": "P", "days": "many"})],
        [get_weather],
    )
    assert ran == []
    first, second = (r.error or "" for r in results)
    assert first.startswith(
        "Error: invalid arguments for get_weather: city: Field required. Expected arguments (JSON Schema): {"
    )
    assert first.endswith("Fix the arguments and call the tool again.")
    schema = json.loads(first.split("(JSON Schema): ", 1)[1].rsplit(". Fix", 1)[0])
    assert schema["required"] == ["city"]
    assert "days: Input should be a valid integer" in second and '(got "many")' in second


def test_a_tool_exception_becomes_an_error_result_and_the_others_still_run(execute: Execute) -> None:
    def explode(city: str) -> str:
        raise ValueError(f"no station in {city}")

    def fine() -> str:
        return "fine"

    results = execute([call("1", "explode", {"city": "Atlantis"}), call("2", "fine")], [explode, fine])
    assert results[0].error == "Error: explode raised ValueError: no station in Atlantis."
    assert results[1].output == "fine"


def test_async_tool_exception_too(execute: Execute) -> None:
    async def explode() -> str:
        raise KeyError("gone")

    [result] = execute([call("1", "explode")], [explode])
    assert result.error == "Error: explode raised KeyError: 'gone'."


def test_a_dict_tool_without_a_function_says_it_has_no_implementation(execute: Execute) -> None:
    declared = {
        "type": "function",
        "function": {"name": "remote", "parameters": {"type": "object", "properties": {}}},
    }
    [result] = execute([call("1", "remote")], [declared])
    assert result.error is not None and "has no implementation" in result.error


# -- timeouts ------------------------------------------------------------------------------------------
def test_a_timed_out_sync_tool_is_abandoned_not_waited_for(execute: Execute) -> None:
    release = threading.Event()
    finished = threading.Event()

    def stuck() -> str:
        release.wait(10)
        finished.set()
        return "late"

    def quick() -> str:
        return "quick"

    results = execute([call("1", "stuck"), call("2", "quick")], [stuck, quick], timeout=0.2)
    assert not finished.is_set()  # returned while the tool still runs: the executor did not wait
    assert results[0].error == (
        "Error: stuck did not finish within its 0.2s timeout (timed out) and its result was abandoned. "
        "Try again with a smaller request, or answer without it."
    )
    assert results[1].output == "quick"
    # the stuck thread does not block the next turn: 8 tools must still meet concurrently
    meet = Rendezvous(8)
    tools = rendezvous_tools(["sync"] * 8, meet)
    after = execute([call(str(i), t.name, {"x": i}) for i, t in enumerate(tools)], tools)
    assert all(r.success for r in after)
    release.set()
    assert finished.wait(5)


def test_a_timed_out_async_tool_is_cancelled(execute: Execute) -> None:
    cancelled = threading.Event()

    async def sleepy() -> str:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "late"

    [result] = execute([call("1", "sleepy")], [sleepy], timeout=0.1)
    assert result.error is not None and "timed out" in result.error
    assert cancelled.wait(5)


def test_a_tool_raising_timeout_error_itself_is_an_exception_not_a_timeout(execute: Execute) -> None:
    async def flaky() -> str:
        raise TimeoutError("upstream")

    [result] = execute([call("1", "flaky")], [flaky], timeout=5)
    assert result.error == "Error: flaky raised TimeoutError: upstream."


def test_the_tool_own_timeout_wins_and_the_deadline_bounds_the_batch(execute: Execute) -> None:
    release = threading.Event()

    @tool(timeout=0.1)
    def short() -> str:
        release.wait(10)
        return "late"

    def long() -> str:
        release.wait(10)
        return "late"

    results = execute([call("1", "short"), call("2", "long")], [short, long], timeout=30, deadline=0.3)
    release.set()
    assert "within its 0.1s timeout" in (results[0].error or "")
    assert "before the batch deadline (0.3s)" in (results[1].error or "")


# -- output ------------------------------------------------------------------------------------------
class Reading(BaseModel):
    city: str
    temp: float


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Opaque:
    def __str__(self) -> str:
        return "<opaque>"


def test_outputs_serialize_predictably(execute: Execute) -> None:
    outputs: dict[str, Any] = {
        "text": "plain",
        "mapping": {"a": 1, "ü": [1, 2]},
        "items": [1, "two"],
        "model": Reading(city="Paris", temp=21.5),
        "point": Point(1, 2),
        "other": Opaque(),
    }
    tools = [ToolDefinition(name=k, function=(lambda v=v: v)) for k, v in outputs.items()]
    results = execute([call(k, k) for k in outputs], tools)
    assert [r.output_text() for r in results] == [
        "plain",
        '{"a": 1, "ü": [1, 2]}',
        '[1, "two"]',
        '{"city": "Paris", "temp": 21.5}',
        '{"x": 1, "y": 2}',
        "<opaque>",
    ]


def test_large_outputs_are_truncated_and_say_so(execute: Execute) -> None:
    def big() -> dict[str, str]:
        return {"data": "x" * 500}

    def small() -> str:
        return "short"

    results = execute([call("1", "big"), call("2", "small")], [big, small], max_output_chars=100)
    text = results[0].output_text()
    assert text.startswith('{"data": "xxx') and len(text.split("\n")[0]) == 100
    assert text.endswith("[output truncated: 512 characters, showing the first 100]")
    assert results[1].output == "short"


# -- approval -------------------------------------------------------------------------------------------
def test_approve_can_allow_deny_and_edit(execute: Execute) -> None:
    ran: list[str] = []

    def delete_file(path: str) -> str:
        ran.append(path)
        return f"deleted {path}"

    asked: list[tuple[str, dict[str, Any]]] = []

    def approve(c: ToolCall, t: ToolDefinition) -> Any:
        asked.append((t.name, dict(c.arguments)))
        if c.arguments["path"] == "/etc/passwd":
            return ApprovalDecision.deny("system files are off limits")
        if c.arguments["path"] == "~/notes.txt":
            return {"path": "/home/me/notes.txt"}
        return c.arguments["path"] != "/tmp/b"

    paths = ["/tmp/a", "/etc/passwd", "~/notes.txt", "/tmp/b"]
    results = execute(
        [call(str(i), "delete_file", {"path": p}) for i, p in enumerate(paths)],
        [delete_file],
        approve=approve,
    )
    assert sorted(ran) == ["/home/me/notes.txt", "/tmp/a"]
    assert [a[1]["path"] for a in asked] == paths
    assert results[0].output == "deleted /tmp/a"
    assert results[1].error == (
        "Error: the user denied the call to delete_file; it was not run. Reason: system files are off limits "
        "Do not retry it with the same arguments."
    )
    assert results[2].output == "deleted /home/me/notes.txt"
    assert results[3].error is not None and results[3].error.startswith(
        "Error: the user denied the call to delete_file"
    )


def test_edited_arguments_are_validated_again(execute: Execute) -> None:
    ran: list[int] = []

    def pay(amount: int) -> str:
        ran.append(amount)
        return "paid"

    [result] = execute(
        [call("1", "pay", {"amount": 5})],
        [pay],
        approve=lambda c, t: ApprovalDecision.edit({"amount": "lots"}),
    )
    assert (
        ran == []
        and result.error is not None
        and result.error.startswith("Error: invalid arguments for pay: amount")
    )


def test_an_async_approve_hook_works_in_both_drivers(execute: Execute) -> None:
    async def approve(c: ToolCall, t: ToolDefinition) -> bool:
        await asyncio.sleep(0)
        return bool(c.arguments["n"] % 2 == 0)

    def f(n: int) -> int:
        return n

    results = execute([call(str(n), "f", {"n": n}) for n in range(4)], [f], approve=approve)
    assert [r.success for r in results] == [True, False, True, False]


def test_a_tool_requiring_approval_never_runs_without_an_approver(execute: Execute) -> None:
    ran: list[str] = []

    @tool(requires_approval=True)
    def launch() -> str:
        ran.append("launched")
        return "launched"

    [result] = execute([call("1", "launch")], [launch])
    assert ran == [] and result.error is not None and "requires approval" in result.error
    [approved] = execute([call("1", "launch")], [launch], approve=lambda c, t: t.requires_approval)
    assert approved.output == "launched"


def test_a_hook_returning_nonsense_is_the_application_bug_it_is(execute: Execute) -> None:
    def f() -> str:
        return "x"

    with pytest.raises(TypeError, match="approve hook returned None"):
        execute([call("1", "f")], [f], approve=lambda c, t: None)


def test_duplicate_tool_names_are_refused(execute: Execute) -> None:
    def f() -> str:
        return "x"

    with pytest.raises(ValueError, match="two tools are named 'f'"):
        execute([call("1", "f")], [f, ToolDefinition(name="f")])


# -- cancellation -----------------------------------------------------------------------------------------
async def test_cancelling_the_async_driver_cancels_its_tasks_and_leaves_none_behind() -> None:
    started = asyncio.Event()
    cancelled: list[str] = []

    async def forever(tag: str) -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(tag)
            raise
        return tag

    before = asyncio.all_tasks()
    runner = asyncio.ensure_future(
        aexecute_tool_calls(
            [call("1", "forever", {"tag": "a"}), call("2", "forever", {"tag": "b"})], [forever]
        )
    )
    await started.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert sorted(cancelled) == ["a", "b"]
    assert asyncio.all_tasks() - before - {asyncio.current_task()} == set()


def test_a_private_pool_bounds_concurrency(execute: Execute) -> None:
    active = 0
    peak = 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with lock:
            active -= 1
        return i

    results = execute([call(str(i), "work", {"i": i}) for i in range(6)], [work], max_workers=2)
    assert [r.output for r in results] == list(range(6))
    assert peak <= 2
