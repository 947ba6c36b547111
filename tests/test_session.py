"""The Session loop, through the real `openai` provider and wire: a scripted Chat Completions server
(httpx2.MockTransport) answers each request with the next scripted turn, as JSON or as SSE
depending on the request's `stream`, and keeps every request body we sent.

Every test runs against the four drivers: generate, agenerate, stream, astream.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from toolwire.errors import InvalidRequestError, MaxTurnsExceeded, ToolExecutionError
from toolwire.events import SessionFinished, TextDelta, ToolCallStarted, ToolResultEvent, TurnFinished
from toolwire.providers.registry import AbstractLLM
from toolwire.session import Session
from toolwire.tools.definition import ToolDefinition, tool
from toolwire.tools.execution import ApprovalDecision
from toolwire.types import GenerateResponse, Message, ToolCall

# -- the scripted server -----------------------------------------------------------------------


@dataclass
class Turn:
    """One scripted model turn: text and/or tool calls `(id, name, raw_arguments)`, or an HTTP error."""

    content: str | None = None
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    usage: tuple[int, int] = (10, 5)
    status: int = 200


def _completion(turn: Turn) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if turn.calls:
        message["tool_calls"] = [
            {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in turn.calls
        ]
    prompt, completion = turn.usage
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "gpt-test",
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if turn.calls else "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _sse(turn: Turn) -> bytes:
    base = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "model": "gpt-test"}
    chunks: list[dict[str, Any]] = []
    if turn.content:
        words = turn.content.split(" ")
        for i, word in enumerate(words):
            piece = word if i == len(words) - 1 else word + " "
            chunks.append({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    for index, (call_id, name, args) in enumerate(turn.calls):
        head = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [head]}, "finish_reason": None}]})
        half = len(args) // 2
        for part in (args[:half], args[half:]):
            delta = {"tool_calls": [{"index": index, "function": {"arguments": part}}]}
            chunks.append({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    reason = "tool_calls" if turn.calls else "stop"
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": reason}]})
    prompt, completion = turn.usage
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    chunks.append({"choices": [], "usage": usage})
    lines = [f"data: {json.dumps({**base, **c})}\n\n" for c in chunks] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


class ScriptedServer:
    def __init__(self, turns: list[Turn]) -> None:
        self.turns = list(turns)
        self.bodies: list[dict[str, Any]] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        if not self.turns:
            return httpx2.Response(500, json={"error": {"message": "script exhausted"}})
        turn = self.turns.pop(0)
        if turn.status != 200:
            return httpx2.Response(
                turn.status, json={"error": {"message": "scripted failure", "code": "bad"}}
            )
        if body.get("stream"):
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=_sse(turn))
        return httpx2.Response(200, json=_completion(turn))

    def llm(self) -> Any:
        transport = httpx2.MockTransport(self.handler)
        return AbstractLLM.create(
            "openai",
            model="gpt-test",
            api_key="sk-test",
            max_retries=0,
            http_client=httpx2.Client(transport=transport),
            async_http_client=httpx2.AsyncClient(transport=transport),
        )

    def tool_messages(self, request_index: int) -> list[tuple[str, str]]:
        """(tool_call_id, content) of every tool message in one request we sent."""
        return [
            (m["tool_call_id"], m["content"])
            for m in self.bodies[request_index]["messages"]
            if m["role"] == "tool"
        ]


# -- the drivers ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    response: GenerateResponse
    events: list[Any]


Drive = Callable[[Session, Any], Outcome]


def _drive(kind: str) -> Drive:
    def run(session: Session, prompt: Any) -> Outcome:
        if kind == "generate":
            return Outcome(session.generate(prompt), [])
        if kind == "agenerate":
            return Outcome(asyncio.run(session.agenerate(prompt)), [])
        if kind == "stream":
            events = list(session.stream(prompt))
        else:

            async def collect() -> list[Any]:
                return [e async for e in session.astream(prompt)]

            events = asyncio.run(collect())
        assert isinstance(events[-1], SessionFinished)
        return Outcome(events[-1].response, events)

    return run


@pytest.fixture(params=["generate", "agenerate", "stream", "astream"])
def drive(request: pytest.FixtureRequest) -> Drive:
    return _drive(request.param)


def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city name.
    """
    return {"Paris": "sunny, 21C", "London": "rain, 14C"}.get(city, "unknown")


def get_time(city: str) -> str:
    """Local time in a city."""
    return {"Paris": "14:00", "London": "13:00"}[city]


# -- the loop --------------------------------------------------------------------------------------
def test_parallel_calls_results_go_back_in_order_with_their_ids(drive: Drive) -> None:
    server = ScriptedServer(
        [
            Turn(
                calls=[
                    ("call_a", "get_weather", '{"city": "Paris"}'),
                    ("call_b", "get_time", '{"city": "London"}'),
                    ("call_c", "get_weather", '{"city": "London"}'),
                ]
            ),
            Turn(content="Paris is sunny; London is rainy at 13:00."),
        ]
    )
    session = Session(server.llm(), tools=[get_weather, get_time], system_prompt="Be brief.")
    outcome = drive(session, "Weather and time?")
    assert outcome.response.content == "Paris is sunny; London is rainy at 13:00."
    assert server.tool_messages(1) == [("call_a", "sunny, 21C"), ("call_b", "13:00"), ("call_c", "rain, 14C")]
    follow_up = server.bodies[1]["messages"]
    assert [m["role"] for m in follow_up] == ["system", "user", "assistant", "tool", "tool", "tool"]
    assert [c["id"] for c in follow_up[2]["tool_calls"]] == ["call_a", "call_b", "call_c"]
    assert {t["function"]["name"] for t in server.bodies[1]["tools"]} == {"get_weather", "get_time"}
    roles = [m.role for m in session.messages]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert session.messages[2].tool_calls is not None and len(session.messages[2].tool_calls) == 3
    results = session.messages[3].tool_results or []
    assert [(r.call_id, r.name, r.output) for r in results] == [
        ("call_a", "get_weather", "sunny, 21C"),
        ("call_b", "get_time", "13:00"),
        ("call_c", "get_weather", "rain, 14C"),
    ]
    assert session.messages[4].content == outcome.response.content


def test_several_turns_and_usage_summed(drive: Drive) -> None:
    server = ScriptedServer(
        [
            Turn(calls=[("c1", "get_weather", '{"city": "Paris"}')], usage=(100, 10)),
            Turn(calls=[("c2", "get_time", '{"city": "Paris"}')], usage=(120, 12)),
            Turn(content="Sunny at 14:00.", usage=(140, 14)),
        ]
    )
    session = Session(server.llm(), tools=[get_weather, get_time])
    outcome = drive(session, "Paris?")
    assert outcome.response.content == "Sunny at 14:00."
    assert len(server.bodies) == 3
    assert server.tool_messages(2) == [("c1", "sunny, 21C"), ("c2", "14:00")]
    assert session.usage == {"prompt_tokens": 360, "completion_tokens": 36, "total_tokens": 396}
    # a second prompt continues the same history and keeps adding usage
    server.turns.append(Turn(content="Still sunny.", usage=(200, 20)))
    drive(session, "And now?")
    assert [m["role"] for m in server.bodies[3]["messages"]][-2:] == ["assistant", "user"]
    assert session.usage["total_tokens"] == 396 + 220
    session.reset()
    assert session.messages == [] and session.usage == {}


# -- failures become results, the loop goes on ----------------------------------------------------------
def explode(city: str) -> str:
    raise RuntimeError(f"station offline in {city}")


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (
            ("c1", "get_wether", '{"city": "Paris"}'),
            "Error: tool 'get_wether' does not exist. Available tools",
        ),
        (("c1", "get_weather", '{"city": "Par'), "Error: the arguments for get_weather could not be read"),
        (
            ("c1", "get_weather", '{"town": "Paris"}'),
            "Error: invalid arguments for get_weather: city: Field required",
        ),
        (
            ("c1", "explode", '{"city": "Paris"}'),
            "Error: explode raised RuntimeError: station offline in Paris.",
        ),
    ],
    ids=["unknown_tool", "arguments_error", "invalid_arguments", "exception"],
)
def test_each_failure_reaches_the_model_as_an_error_result(
    drive: Drive, call: tuple[str, str, str], expected: str
) -> None:
    server = ScriptedServer(
        [
            Turn(calls=[call, ("c2", "get_weather", '{"city": "London"}')]),
            Turn(content="Sorry, only London: rain."),
        ]
    )
    session = Session(server.llm(), tools=[get_weather, explode])
    outcome = drive(session, "Weather?")
    assert outcome.response.content == "Sorry, only London: rain."
    [(first_id, first_text), second] = server.tool_messages(1)
    assert first_id == "c1" and first_text.startswith(expected)
    assert second == ("c2", "rain, 14C")
    [first_result, _] = session.messages[2].tool_results or []
    assert first_result.error == first_text and not first_result.success


def test_a_timeout_reaches_the_model_and_the_loop_goes_on(drive: Drive) -> None:
    release = threading.Event()

    def slow_lookup(city: str) -> str:
        release.wait(10)
        return "late"

    server = ScriptedServer(
        [Turn(calls=[("c1", "slow_lookup", '{"city": "Paris"}')]), Turn(content="Timed out.")]
    )
    session = Session(server.llm(), tools=[slow_lookup], tool_timeout=0.1)
    try:
        outcome = drive(session, "Paris?")
    finally:
        release.set()
    assert outcome.response.content == "Timed out."
    [(call_id, text)] = server.tool_messages(1)
    assert call_id == "c1" and "did not finish within its 0.1s timeout" in text


def test_max_turns_exceeded_keeps_the_history(drive: Drive) -> None:
    server = ScriptedServer([Turn(calls=[(f"c{i}", "get_weather", '{"city": "Paris"}')]) for i in range(3)])
    session = Session(server.llm(), tools=[get_weather], max_turns=2)
    with pytest.raises(MaxTurnsExceeded) as info:
        drive(session, "Loop forever")
    assert info.value.max_turns == 2 and len(server.bodies) == 2
    roles = [m.role for m in session.messages]
    assert roles == ["user", "assistant", "tool", "assistant", "tool"]
    assert [m.role for m in info.value.messages] == roles
    # the history is complete, so the conversation can go on
    server.turns[:] = [Turn(content="Done.")]
    assert drive(session, "Stop calling tools.").response.content == "Done."
    assert [m["role"] for m in server.bodies[-1]["messages"]][-3:] == ["assistant", "tool", "user"]


def test_validation_retry_budget_per_tool_name(drive: Drive) -> None:
    bad = '{"town": "Paris"}'
    server = ScriptedServer(
        [
            Turn(calls=[("c1", "get_weather", bad)]),
            Turn(calls=[("c2", "get_weather", bad), ("c3", "get_time", '{"city": "Paris"}')]),
            Turn(calls=[("c4", "get_weather", '{"city": "Paris"}')]),
            Turn(content="Sunny."),
        ]
    )
    session = Session(server.llm(), tools=[get_weather, get_time], max_validation_retries=2)
    assert drive(session, "Paris?").response.content == "Sunny."  # two failures: within budget

    server.turns[:] = [Turn(calls=[(f"d{i}", "get_weather", bad)]) for i in range(3)] + [Turn(content="x")]
    with pytest.raises(ToolExecutionError) as info:
        drive(session, "Again")
    assert info.value.tool_name == "get_weather" and info.value.call_id == "d2"
    assert "3 times" in str(info.value)
    assert session.messages[-1].role == "tool"  # the failed turn is complete in the history
    assert len(server.turns) == 1  # the loop stopped instead of asking the model a fourth time


# -- human in the loop ------------------------------------------------------------------------------
def test_approve_denies_and_edits_and_the_model_is_told(drive: Drive) -> None:
    deleted: list[str] = []

    @tool(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        deleted.append(path)
        return f"deleted {path}"

    async def approve(call: ToolCall, definition: ToolDefinition) -> Any:
        if call.arguments["path"].startswith("/etc"):
            return ApprovalDecision.deny("protected path")
        return {"path": call.arguments["path"].replace("~", "/home/me")}

    server = ScriptedServer(
        [
            Turn(
                calls=[
                    ("c1", "delete_file", '{"path": "/etc/hosts"}'),
                    ("c2", "delete_file", '{"path": "~/tmp.txt"}'),
                ]
            ),
            Turn(content="Deleted one, the other was refused."),
        ]
    )
    session = Session(server.llm(), tools=[delete_file], approve=approve)
    drive(session, "Clean up")
    assert deleted == ["/home/me/tmp.txt"]
    [(id1, text1), (id2, text2)] = server.tool_messages(1)
    assert (
        id1 == "c1"
        and text1.startswith("Error: the user denied the call to delete_file")
        and "protected path" in text1
    )
    assert (id2, text2) == ("c2", "deleted /home/me/tmp.txt")


# -- history integrity on provider failure ------------------------------------------------------------
def test_a_failed_first_call_leaves_the_history_exactly_as_it_was(drive: Drive) -> None:
    server = ScriptedServer([Turn(content="Hello.")])
    session = Session(server.llm(), tools=[get_weather], system_prompt="sys")
    drive(session, "Hi")
    before = [m.to_dict() for m in session.messages]
    usage = session.usage
    server.turns[:] = [Turn(status=400)]
    with pytest.raises(InvalidRequestError):
        drive(session, "This one fails")
    assert [m.to_dict() for m in session.messages] == before
    assert session.usage == usage


def test_a_failure_after_tools_ran_keeps_only_complete_steps(drive: Drive) -> None:
    server = ScriptedServer([Turn(calls=[("c1", "get_weather", '{"city": "Paris"}')]), Turn(status=400)])
    session = Session(server.llm(), tools=[get_weather])
    with pytest.raises(InvalidRequestError):
        drive(session, "Paris?")
    assert [m.role for m in session.messages] == ["user", "assistant", "tool"]
    assert (session.messages[2].tool_results or [])[0].output == "sunny, 21C"
    server.turns[:] = [Turn(content="Sunny.")]
    assert drive(session, "Retry please").response.content == "Sunny."


# -- concurrency through the session -----------------------------------------------------------------------
def test_the_tools_of_one_turn_run_concurrently(drive: Drive) -> None:
    arrived: list[str] = []
    cond = threading.Condition()

    def meet(name: str) -> None:
        with cond:
            arrived.append(name)
            cond.notify_all()
            if not cond.wait_for(lambda: len(arrived) >= 3, timeout=5):
                raise RuntimeError("not concurrent")

    def sync_tool(tag: str) -> str:
        meet(tag)
        return tag

    async def async_tool(tag: str) -> str:
        await asyncio.to_thread(meet, tag)
        return tag

    server = ScriptedServer(
        [
            Turn(
                calls=[
                    ("c1", "sync_tool", '{"tag": "a"}'),
                    ("c2", "async_tool", '{"tag": "b"}'),
                    ("c3", "sync_tool", '{"tag": "c"}'),
                ]
            ),
            Turn(content="ok"),
        ]
    )
    session = Session(server.llm(), tools=[sync_tool, async_tool])
    drive(session, "go")
    assert server.tool_messages(1) == [("c1", "a"), ("c2", "b"), ("c3", "c")]


# -- streaming events ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["stream", "astream"])
def test_stream_events_come_in_a_documented_order(kind: str) -> None:
    server = ScriptedServer(
        [
            Turn(
                content="Let me check.",
                calls=[
                    ("c1", "get_weather", '{"city": "Paris"}'),
                    ("c2", "get_weather", '{"city": "London"}'),
                ],
            ),
            Turn(content="Paris sunny, London rain."),
        ]
    )
    session = Session(server.llm(), tools=[get_weather])
    events = _drive(kind)(session, "Weather?").events
    shape = [type(e).__name__ for e in events]
    assert shape == [
        "TextDelta",
        "TextDelta",
        "TextDelta",
        "TurnFinished",
        "ToolCallStarted",
        "ToolCallStarted",
        "ToolResultEvent",
        "ToolResultEvent",
        "TextDelta",
        "TextDelta",
        "TextDelta",
        "TextDelta",
        "TurnFinished",
        "SessionFinished",
    ]
    assert "".join(e.text for e in events[:3] if isinstance(e, TextDelta)) == "Let me check."
    started = [e.call for e in events if isinstance(e, ToolCallStarted)]
    assert [(c.id, c.arguments) for c in started] == [("c1", {"city": "Paris"}), ("c2", {"city": "London"})]
    # each result event comes when its tool finishes (toolwire.tools.early), so two instant tools
    # may finish in either order; the history below keeps call order
    results = [e.result for e in events if isinstance(e, ToolResultEvent)]
    assert sorted((r.call_id, r.output) for r in results) == [("c1", "sunny, 21C"), ("c2", "rain, 14C")]
    turns = [e for e in events if isinstance(e, TurnFinished)]
    assert [t.turn for t in turns] == [1, 2] and turns[0].response.has_tool_calls()
    assert server.bodies[0]["stream"] is True
    assert server.tool_messages(1) == [("c1", "sunny, 21C"), ("c2", "rain, 14C")]
    assert session.usage["total_tokens"] == 30


def test_session_arguments_are_checked() -> None:
    server = ScriptedServer([])
    with pytest.raises(ValueError, match="max_turns"):
        Session(server.llm(), tools=[get_weather], max_turns=0)
    with pytest.raises(ValueError, match="two tools are named"):
        Session(server.llm(), tools=[get_weather, get_weather])
    with pytest.raises(TypeError, match=r"session\.stream"):
        Session(server.llm(), tools=[get_weather], stream=True)


def test_prompt_may_be_messages(drive: Drive) -> None:
    server = ScriptedServer([Turn(content="Noted.")])
    session = Session(server.llm())
    drive(session, [Message(role="user", content="a"), {"role": "user", "content": "b"}])
    assert [m["content"] for m in server.bodies[0]["messages"]] == ["a", "b"]
    assert "tools" not in server.bodies[0]
