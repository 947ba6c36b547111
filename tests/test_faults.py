"""Fault injection against a loopback server, for every wire format toolwire speaks.

Each scenario scripts what the server answers attempt by attempt (tests/support/fault_server.py), runs one
call (sync or async) with the retry sleeps recorded instead of slept, and checks three things:
the outcome (survived, or the documented typed error), how many attempts reached the server, and
that nothing was lost (the caller's messages are unchanged, every attempt sent the same body,
and an interrupted stream keeps its partial text and complete tool calls).

`benchmarks/fault_table.py` runs the same scenarios and prints the fault x provider table.
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from support.fault_server import FaultServer, Kit, Reply, fault_server, hostile_turn, kits
from toolwire import Session
from toolwire.errors import (
    AuthenticationError,
    InvalidRequestError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
    ToolwireError,
)
from toolwire.types import Message


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city name
    """
    return f"sunny in {city}"


def boom(city: str) -> str:
    """Always fails.

    Args:
        city: the city name
    """
    raise RuntimeError("the weather service is down")


def slow_weather(city: str) -> str:
    """Takes too long.

    Args:
        city: the city name
    """
    time.sleep(2)
    return "late"


HISTORY: list[Any] = [
    Message(role="system", content="You are terse."),
    {"role": "user", "content": "Weather in Paris and Rome?"},
]


@dataclass
class Outcome:
    survived: bool
    error: str | None
    attempts: int
    detail: str = ""

    def label(self) -> str:
        if self.survived:
            return f"survived ({self.attempts} request{'s' if self.attempts != 1 else ''}{self.detail})"
        return f"{self.error} ({self.attempts} request{'s' if self.attempts != 1 else ''}{self.detail})"


class Run:
    """One scenario run: a provider on the server, retry sleeps recorded, sync or async."""

    def __init__(self, kit: Kit, server: FaultServer, mode: str, **create: Any) -> None:
        self.kit = kit
        self.server = server
        self.mode = mode
        self.llm = kit.create(server.url, **create)
        self.sleeps: list[float] = []

        async def asleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        self.llm.transport.sleep = self.sleeps.append
        self.llm.transport.asleep = asleep

    def call(self, messages: list[Any], **kwargs: Any) -> Any:
        if self.mode == "sync":
            result = self.llm.generate(messages, **kwargs)
            if kwargs.get("stream"):
                for _ in result:
                    pass
                return result.response
            return result

        async def run() -> Any:
            result = await self.llm.agenerate(messages, **kwargs)
            if kwargs.get("stream"):
                async for _ in result:
                    pass
                return await result.aresponse()
            return result

        return asyncio.run(run())

    def session(self, prompt: str, tools: list[Any], **kwargs: Any) -> tuple[Session, Any]:
        session = Session(self.llm, tools=tools, tool_timeout=0.3, **kwargs)
        if self.mode == "sync":
            return session, session.generate(prompt)
        return session, asyncio.run(session.agenerate(prompt))


def _attempt(run: Run, script: list[Reply], *, stream: bool = False, **kwargs: Any) -> tuple[Outcome, Any]:
    run.server.script = script
    messages = copy.deepcopy(HISTORY)
    before = copy.deepcopy(messages)
    try:
        result: Any = run.call(messages, tools=[get_weather], stream=stream, **kwargs)
        error: BaseException | None = None
    except ToolwireError as exc:
        result, error = None, exc
    # nothing lost: the caller's list is untouched and every attempt sent the same conversation
    assert messages == before
    bodies = [json.dumps(seen.body, sort_keys=True) for seen in run.server.seen]
    assert len(set(bodies)) <= 1, "a retry sent a different body"
    attempts = len(run.server.seen)
    if error is None:
        return Outcome(True, None, attempts), result
    return Outcome(False, type(error).__name__, attempts), error


# -- scenarios -----------------------------------------------------------------------------------
# Each takes (kit, server, mode), asserts what must hold, and returns the outcome for the table.
Scenario = Callable[[Kit, FaultServer, str], Outcome | None]


def status_then_ok(status: int, headers: dict[str, str], expected_sleep: float | None) -> Scenario:
    def scenario(kit: Kit, server: FaultServer, mode: str) -> Outcome:
        run = Run(kit, server, mode)
        error = kit.error(status)
        error.headers.update(headers)
        outcome, response = _attempt(run, [error, kit.ok()])
        assert outcome.survived and outcome.attempts == 2
        assert response.tool_calls[0].arguments == {"city": "Paris"}
        assert len(run.sleeps) == 1
        if expected_sleep is not None:
            assert run.sleeps == [expected_sleep]  # the server's wait, not our backoff
        return outcome

    return scenario


def status_persistent(status: int, expected: type[Exception], attempts: int) -> Scenario:
    def scenario(kit: Kit, server: FaultServer, mode: str) -> Outcome:
        run = Run(kit, server, mode, max_retries=2)
        outcome, error = _attempt(run, [kit.error(status)])
        assert isinstance(error, expected), error
        assert outcome.attempts == attempts
        assert error.status_code == status
        return outcome

    return scenario


def connection_reset(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    run = Run(kit, server, mode)
    outcome, response = _attempt(run, [Reply(reset=True), kit.ok()])
    assert outcome.survived and outcome.attempts == 2
    assert response.tool_calls[0].name == "get_weather"
    return outcome


def slow_then_ok(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    run = Run(kit, server, mode, timeout=0.3)
    slow = kit.ok()
    slow.delay = 1.5
    outcome, _response = _attempt(run, [slow, kit.ok()])
    assert outcome.survived and outcome.attempts == 2
    return outcome


def slow_always(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    run = Run(kit, server, mode, timeout=0.3, max_retries=1)
    slow = kit.ok()
    slow.delay = 1.5
    outcome, error = _attempt(run, [slow])
    assert isinstance(error, ProviderTimeoutError) and error.retryable
    assert outcome.attempts == 2
    return outcome


def stream_reset_before_first_byte(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    run = Run(kit, server, mode)
    outcome, response = _attempt(
        run, [Reply(sse=kit.stream(), drop_after=0), Reply(sse=kit.stream())], stream=True
    )
    assert outcome.survived and outcome.attempts == 2
    assert response.content == "Checking both."
    assert [c.arguments for c in response.tool_calls] == [{"city": "Paris"}, {"city": "Rome"}]
    return outcome


def stream_dropped_mid_call(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    run = Run(kit, server, mode)
    outcome, error = _attempt(run, [Reply(sse=kit.stream(), drop_after=kit.mid_call)], stream=True)
    assert isinstance(error, StreamInterruptedError), error
    assert outcome.attempts == 1  # text had reached the caller: never retried
    assert error.partial_content == "Checking both."
    assert error.tool_calls == []  # the call in progress was not complete
    outcome.detail = ", partial text kept"
    return outcome


def stream_dropped_after_first_call(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    run = Run(kit, server, mode)
    outcome, error = _attempt(run, [Reply(sse=kit.stream(), drop_after=kit.after_first_call)], stream=True)
    assert isinstance(error, StreamInterruptedError), error
    assert outcome.attempts == 1
    assert error.partial_content == "Checking both."
    assert [(c.name, c.arguments) for c in error.tool_calls] == [("get_weather", {"city": "Paris"})]
    outcome.detail = ", 1 complete call kept"
    return outcome


def _session_outcome(run: Run, first: Reply, tools: list[Any], expect_error: str) -> Outcome:
    run.server.script = [first, run.kit.text_answer("Done.")]
    session, response = run.session("Weather in Paris?", tools)
    assert response.content == "Done."
    tool_turn = session.messages[2]
    assert tool_turn.role == "tool" and tool_turn.tool_results
    result = tool_turn.tool_results[0]
    assert result.error and expect_error in result.error, result.error
    # the model was told: the follow-up request carries the error text
    assert expect_error in json.dumps(run.server.seen[-1].body)
    return Outcome(True, None, len(run.server.seen), ", error sent to the model")


def truncated_arguments(kit: Kit, server: FaultServer, mode: str) -> Outcome | None:
    if kit.truncated_args is None:
        return None
    run = Run(kit, server, mode)
    first = kit.truncated_args()
    if first.sse is not None:
        # this wire sends arguments as JSON text only while streaming: the streamed turn carries
        # the error, and the executor turns it into an error result for the model
        from toolwire import execute_tool_calls

        server.script = [first]
        response = run.call(copy.deepcopy(HISTORY), tools=[get_weather], stream=True)
        call = response.tool_calls[0]
        assert call.raw_arguments == '{"city": "Par' and call.arguments_error
        [result] = execute_tool_calls(response.tool_calls, [get_weather])
        assert result.error and "not valid JSON" in result.error
        return Outcome(True, None, 1, ", error result for the model")
    return _session_outcome(run, first, [get_weather], "not valid JSON")


def _renamed(reply: Reply, new_name: str) -> Reply:
    reply.body = json.loads(json.dumps(reply.body).replace("get_weather", new_name))
    return reply


def unknown_tool(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    return _session_outcome(Run(kit, server, mode), _renamed(kit.ok(), "get_wether"), [get_weather],
                            "get_wether")


def tool_exception(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    return _session_outcome(Run(kit, server, mode), _renamed(kit.ok(), "boom"), [boom],
                            "the weather service is down")


def tool_timeout(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    return _session_outcome(Run(kit, server, mode), _renamed(kit.ok(), "slow_weather"), [slow_weather],
                            "timed out")


def long_retry_after_raises_at_once(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    """Retry-After past 60 s and no deadline it fits in: raised at once, with `retry_after`
    (issue 16 item 14; before, it was dropped and retried after ~0.3 s)."""
    run = Run(kit, server, mode, max_retries=2)
    error = kit.error(429)
    error.headers["retry-after"] = "120"
    outcome, exc = _attempt(run, [error, kit.ok()])
    assert isinstance(exc, RateLimitError) and exc.retry_after == 120.0, exc
    assert outcome.attempts == 1 and run.sleeps == []
    outcome.detail = ", retry_after=120 at once"
    return outcome


def long_retry_after_within_deadline(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    run = Run(kit, server, mode, max_retries=2, retry_deadline=300)
    error = kit.error(429)
    error.headers["retry-after"] = "120"
    outcome, _response = _attempt(run, [error, kit.ok()])
    assert outcome.survived and outcome.attempts == 2 and run.sleeps == [120.0]
    return outcome


def daily_quota_not_retried(kit: Kit, server: FaultServer, mode: str) -> Outcome | None:
    if kit.name != "gemini":
        return None  # the other wires have no per-day quota marker (OpenAI: insufficient_quota)
    run = Run(kit, server, mode, max_retries=2)
    error = kit.error(429)
    error.body["error"]["details"] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"},
    ]
    outcome, exc = _attempt(run, [error, kit.ok()])
    assert isinstance(exc, RateLimitError) and not exc.retryable
    assert outcome.attempts == 1 and run.sleeps == []
    return outcome


def trickling_server(kit: Kit, server: FaultServer, mode: str) -> Outcome:
    """A server that sends its body a byte at a time, each byte well within the read timeout:
    `timeout` bounds the whole attempt and `retry_deadline` the whole call (issue 16 item 10;
    before, a call with timeout=0.5 took as long as the trickle, ~40 s here)."""
    run = Run(kit, server, mode, timeout=0.5, max_retries=5, retry_deadline=1.2)
    slow = kit.ok()
    slow.trickle = 0.05
    started = time.monotonic()
    outcome, error = _attempt(run, [slow])
    took = time.monotonic() - started
    assert isinstance(error, ProviderTimeoutError), error
    assert took < 5.0, f"held for {took:.1f}s"  # the body alone would take {0.05 * len(body)} s
    assert outcome.attempts <= 3  # attempts of 0.5 s within the 1.2 s deadline
    return outcome


def hostile_arguments(bad: str) -> Scenario:
    """One call's arguments are hostile (issue 16 items 4-5): that call gets an error result (or,
    for a lone surrogate, runs with U+FFFD sent onward), its sibling runs, the next request goes out."""

    def scenario(kit: Kit, server: FaultServer, mode: str) -> Outcome:
        run = Run(kit, server, mode)
        ran: list[Any] = []

        def get_weather(city: Any) -> str:
            """The weather in a city.

            Args:
                city: the city name
            """
            ran.append(city)
            return "sunny"

        server.script = [hostile_turn(kit.name, bad), kit.text_answer("Done.")]
        session, response = run.session("Weather?", [get_weather])
        assert response.content == "Done."
        assert "Rome" in ran  # the valid sibling ran
        results = session.messages[2].tool_results
        assert results is not None and len(results) == 2 and results[1].error is None
        assert len(server.seen) == 2  # the follow-up request was built and sent
        return Outcome(True, None, 2, ", sibling ran")

    return scenario


FAULTS: dict[str, Scenario] = {
    "429 + Retry-After: 2": status_then_ok(429, {"retry-after": "2"}, 2.0),
    "429 + retry-after-ms: 1500": status_then_ok(429, {"retry-after-ms": "1500"}, 1.5),
    "429 every attempt": status_persistent(429, RateLimitError, 3),
    "500 once": status_then_ok(500, {}, None),
    "503 + Retry-After once": status_then_ok(503, {"retry-after": "1"}, 1.0),
    "529 once": status_then_ok(529, {}, None),
    "500 every attempt": status_persistent(500, ServerError, 3),
    "401 (never retried)": status_persistent(401, AuthenticationError, 1),
    "400 (never retried)": status_persistent(400, InvalidRequestError, 1),
    "connection reset": connection_reset,
    "slow past timeout once": slow_then_ok,
    "slow past timeout always": slow_always,
    "stream reset before 1st byte": stream_reset_before_first_byte,
    "stream dropped mid tool-call": stream_dropped_mid_call,
    "stream dropped after 1st call": stream_dropped_after_first_call,
    "truncated JSON arguments": truncated_arguments,
    "unknown tool": unknown_tool,
    "tool exception": tool_exception,
    "tool timeout": tool_timeout,
    "server trickles 1 byte / 50 ms": trickling_server,
    "429 + Retry-After: 120, no deadline": long_retry_after_raises_at_once,
    "429 + Retry-After: 120, deadline 300 s": long_retry_after_within_deadline,
    "429 per-day quota": daily_quota_not_retried,
    "1,000-deep JSON arguments": hostile_arguments("[" * 1000 + "]" * 1000),
    "5,000-digit integer argument": hostile_arguments("9" * 5000),
    "lone surrogate in arguments": hostile_arguments('"\\ud800"'),
}
KITS = kits()


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with fault_server() as srv:
        yield srv


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("provider", sorted(KITS))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault(server: FaultServer, fault: str, provider: str, mode: str) -> None:
    outcome = FAULTS[fault](KITS[provider], server, mode)
    if outcome is None:
        pytest.skip(f"{provider}: not applicable on this wire")


def fault_table(modes: tuple[str, ...] = ("sync",)) -> str:
    """The markdown table of every fault x provider (used by benchmarks/fault_table.py)."""
    names = sorted(KITS)
    lines = ["| fault | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    with fault_server() as srv:
        for fault, scenario in FAULTS.items():
            cells = []
            for name in names:
                labels = set()
                for mode in modes:
                    try:
                        outcome = scenario(KITS[name], srv, mode)
                        labels.add("n/a" if outcome is None else outcome.label())
                    except AssertionError as exc:
                        labels.add(f"FAILED: {exc}".splitlines()[0])
                cells.append(" / ".join(sorted(labels)))
            lines.append(f"| {fault} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
