"""batch.run / arun: hundreds of tool-calling sessions against a rate-limited server, results in
input order, failures at their index, the checkpoint (restore, interrupt and resume, Ctrl-C in a
real process), bounded read-ahead of an unbounded iterator, the progress callback."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from ratelimited_server import chat_answer, running

from toolwire import AbstractLLM, GenerateResponse, batch
from toolwire.batch import _records
from toolwire.errors import (
    BatchItemError,
    ConfigurationError,
    InvalidRequestError,
    MaxTurnsExceeded,
    RateLimitError,
    ToolwireError,
)
from toolwire.types import ToolCall, ToolCallRequest

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def lookup(key: str) -> str:
    """Look a key up."""
    return f"value-of-{key}"


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_300_tool_calling_sessions_under_a_rate_limit() -> None:
    # 200 requests per second, sliding window; 300 sessions x 2 model turns = 600 requests
    with running(limit=200, window=1.0) as server:
        llm = AbstractLLM.create("openai", model="m", api_key="k", base_url=server.base_url)
        seen: list[int] = []
        results = batch.run(
            llm,
            [f"q{i}" for i in range(300)],
            tools=[lookup, add],
            concurrency=48,
            progress=False,
            on_progress=lambda p: seen.append(p.finished),
        )
        stats = server.stats
    assert len(results) == 300
    for i, result in enumerate(results):
        assert isinstance(result, GenerateResponse), result
        assert result.content == f"answer to q{i} using value-of-x, 4"
    assert stats.answered == 600
    # the pacer learned the limit from the headers and kept under it: few 429s, all retried
    assert stats.throttled <= 0.03 * stats.requests, vars(stats)
    assert seen == list(range(1, 301))


def _mock_llm(handler: Any, **config: Any) -> Any:
    async def ahandler(request: httpx2.Request) -> httpx2.Response:
        return handler(request)  # type: ignore[no-any-return]

    return AbstractLLM.create(
        "openai",
        model="m",
        api_key="k",
        async_http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(ahandler)),
        **config,
    )


def _answering(request: httpx2.Request) -> httpx2.Response:
    body = json.loads(request.content)
    text = body["messages"][0]["content"]
    if "bad" in text:
        return httpx2.Response(400, json={"error": {"message": "bad input", "type": "invalid_request_error"}})
    return httpx2.Response(200, json=chat_answer(body))


def test_each_failure_is_the_result_at_its_index() -> None:
    llm = _mock_llm(_answering)
    inputs: list[Any] = [
        "q0",
        "bad q1",
        42,  # not a prompt at all
        {"messages": "q3", "temperature": 0.1},
        {"no_messages": True},
        [{"role": "user", "content": "q5"}],
    ]
    results = batch.run(llm, inputs, tools=[lookup], progress=False)
    assert isinstance(results[0], GenerateResponse) and results[0].content.startswith("answer to q0")
    assert isinstance(results[1], InvalidRequestError) and results[1].status_code == 400
    assert isinstance(results[2], BatchItemError) and results[2].reason == "exception"
    assert isinstance(results[2].__cause__, TypeError)
    assert isinstance(results[3], GenerateResponse) and results[3].content.startswith("answer to q3")
    assert isinstance(results[4], ConfigurationError) and "messages" in str(results[4])
    assert isinstance(results[5], GenerateResponse)


def test_max_turns_reaches_the_session() -> None:
    def always_tools(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        body["messages"] = body["messages"][:1]  # never sees its tool results: calls again
        return httpx2.Response(200, json=chat_answer(body))

    (result,) = batch.run(_mock_llm(always_tools), ["q"], tools=[lookup], max_turns=2, progress=False)
    assert isinstance(result, MaxTurnsExceeded) and result.max_turns == 2


def test_checkpoint_restores_finished_items_and_sends_only_the_rest(tmp_path: Path) -> None:
    sent: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content)["messages"][0]["content"])
        return _answering(request)

    class Crash(Exception):
        pass

    def crash_after_four(progress: batch.Progress) -> None:
        if progress.finished == 4:
            raise Crash

    checkpoint = tmp_path / "run.jsonl"
    inputs = [f"q{i}" for i in range(10)] + ["bad q10"]
    llm = _mock_llm(handler)
    with pytest.raises(Crash):
        batch.run(
            llm,
            inputs,
            tools=[lookup],
            concurrency=2,
            checkpoint=checkpoint,
            progress=False,
            on_progress=crash_after_four,
        )
    lines = [json.loads(x) for x in checkpoint.read_text().splitlines()]
    finished = {line["index"] for line in lines}
    # the crash surfaces after the 4th item; a session finishing meanwhile is recorded too
    assert len(lines) == len(finished) >= 4
    first_run = len(sent)
    results = batch.run(llm, inputs, tools=[lookup], concurrency=2, checkpoint=checkpoint, progress=False)
    rerun = sent[first_run:]
    assert not {f"q{i}" for i in finished} & set(rerun)  # nothing finished is sent again
    assert [r.content for r in results[:10]] == [f"answer to q{i} using value-of-x" for i in range(10)]
    assert isinstance(results[10], InvalidRequestError)
    indices = [json.loads(x)["index"] for x in checkpoint.read_text().splitlines()]
    assert sorted(indices) == list(range(11))  # each item once: nothing lost, nothing doubled
    # a third run sends nothing at all (the failure is kept), unless failures are asked for again
    before = len(sent)
    again = batch.run(llm, inputs, tools=[lookup], checkpoint=checkpoint, progress=False)
    assert len(sent) == before and isinstance(again[10], InvalidRequestError)
    assert [r.content for r in again[:10]] == [r.content for r in results[:10]]
    batch.run(llm, inputs, tools=[lookup], checkpoint=checkpoint, progress=False, rerun_failed=True)
    assert sent[before:] == ["bad q10"]


def test_a_checkpoint_from_other_inputs_is_refused(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    llm = _mock_llm(_answering)
    batch.run(llm, ["a", "b"], checkpoint=checkpoint, progress=False)
    with pytest.raises(ConfigurationError, match="different input"):
        batch.run(llm, ["a", "changed"], checkpoint=checkpoint, progress=False)


def test_a_torn_last_line_only_reruns_that_item(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    llm = _mock_llm(_answering)
    batch.run(llm, ["a", "b", "c"], checkpoint=checkpoint, progress=False)
    text = checkpoint.read_text()
    checkpoint.write_text(text[: len(text) - 20])  # a crash in the middle of the last write
    results = batch.run(llm, ["a", "b", "c"], checkpoint=checkpoint, progress=False)
    assert [r.content for r in results] == ["answer to a", "answer to b", "answer to c"]
    lines = checkpoint.read_text().splitlines()
    assert json.loads(lines[-1])["ok"] is True  # the new record starts on a line of its own


def test_records_round_trip() -> None:
    response = GenerateResponse(
        content=None,
        tool_calls=ToolCallRequest([ToolCall.from_raw("c1", "lookup", '{"key": "k"}')]),
        usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
        model="m",
        finish_reason="tool_calls",
        raw_response={"id": "x"},
        provider="openai",
        id="x",
        provider_data={"openai": {"system_fingerprint": "fp"}},
    )
    back = _records.restore(json.loads(json.dumps(_records.record(0, "k", response, None))))
    assert back == response
    error = RateLimitError(
        "slow", retry_after=2.5, provider="openai", status_code=429, request_id="r", body={"e": 1}
    )
    restored = _records.restore(json.loads(json.dumps(_records.record(0, "k", error, None))))
    assert isinstance(restored, RateLimitError)
    assert (restored.retry_after, restored.status_code, restored.request_id, restored.body) == (
        2.5,
        429,
        "r",
        {"e": 1},
    )
    assert str(restored) == str(error)
    max_turns = _records.restore(_records.record(0, "k", MaxTurnsExceeded("m", max_turns=3), None))
    assert isinstance(max_turns, MaxTurnsExceeded) and max_turns.max_turns == 3 and max_turns.messages == []


def test_structured_answers_are_parsed_again_on_restore(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class Answer(BaseModel):
        value: int

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            json={
                "id": "c",
                "model": "m",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": '{"value": 7}'},
                        "finish_reason": "stop",
                    }
                ],
            },
        )

    checkpoint = tmp_path / "s.jsonl"
    llm = _mock_llm(handler)
    first = batch.run(llm, ["a"], response_format=Answer, checkpoint=checkpoint, progress=False)
    again = batch.run(llm, ["a"], response_format=Answer, checkpoint=checkpoint, progress=False)
    assert first[0].parsed == again[0].parsed == Answer(value=7)


def test_an_unbounded_iterator_is_read_only_as_far_as_the_concurrency() -> None:
    state = {"yielded": 0, "finished": 0, "ahead": 0}

    def inputs() -> Iterator[str]:
        for i in range(200):
            state["ahead"] = max(state["ahead"], state["yielded"] - state["finished"])
            state["yielded"] += 1
            yield f"q{i}"

    def progress(p: batch.Progress) -> None:
        state["finished"] = p.finished

    results = batch.run(_mock_llm(_answering), inputs(), concurrency=8, progress=False, on_progress=progress)
    assert len(results) == 200 and state["ahead"] <= 8


def test_arun_takes_an_async_iterator_and_runs_inside_a_loop() -> None:
    async def inputs() -> AsyncIterator[str]:
        for i in range(5):
            yield f"q{i}"

    async def main() -> list[Any]:
        results = await batch.arun(_mock_llm(_answering), inputs(), progress=False)
        # the sync entry point called from inside a running loop (a notebook) still works
        nested = batch.run(_mock_llm(_answering), ["n"], progress=False)
        return [*results, *nested]

    results = asyncio.run(main())
    assert [r.content for r in results] == [f"answer to q{i}" for i in range(5)] + ["answer to n"]


def test_the_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    snapshots: list[tuple[int, int, int]] = []
    results = batch.run(
        _mock_llm(_answering),
        ["a", "bad b", "c"],
        progress=True,
        on_progress=lambda p: snapshots.append((p.done, p.failed, p.tokens)),
    )
    assert len(results) == 3
    assert snapshots[-1][:2] == (2, 1) and snapshots[-1][2] == 100  # 50 tokens per answer


def test_invalid_concurrency_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        batch.run(_mock_llm(_answering), ["a"], concurrency=0, progress=False)


CHILD = textwrap.dedent(
    """
    import sys
    from toolwire import AbstractLLM, batch

    def lookup(key: str) -> str:
        '''Look a key up.'''
        return "value-of-" + key

    llm = AbstractLLM.create("openai", model="m", api_key="k", base_url=sys.argv[1])
    batch.run(llm, [f"q{i}" for i in range(100)], tools=[lookup], concurrency=4, checkpoint=sys.argv[2],
              progress=False)
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_in_a_real_process_loses_nothing(tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.jsonl"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    with running(limit=40, window=1.0) as server:  # slow enough to interrupt mid-run
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        child = subprocess.Popen(
            [sys.executable, str(script), server.base_url, str(checkpoint)], env=env, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if checkpoint.exists() and len(checkpoint.read_text().splitlines()) >= 10:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
        assert child.returncode != 0 and b"KeyboardInterrupt" in err
        lines = [json.loads(x) for x in checkpoint.read_text().splitlines()]
        done = {line["index"] for line in lines}
        assert len(done) == len(lines) >= 10 and all(line["ok"] for line in lines)
        before = server.stats.answered
        llm = AbstractLLM.create("openai", model="m", api_key="k", base_url=server.base_url)
        results = batch.run(
            llm,
            [f"q{i}" for i in range(100)],
            tools=[lookup],
            concurrency=32,
            checkpoint=checkpoint,
            progress=False,
        )
        sent = server.stats.answered - before
    assert [r.content for r in results] == [f"answer to q{i} using value-of-x" for i in range(100)]
    assert sent == 2 * (100 - len(done))  # only the unfinished items went out again
    assert sorted(json.loads(x)["index"] for x in checkpoint.read_text().splitlines()) == list(range(100))


def test_errors_are_toolwire_errors() -> None:
    results = batch.run(_mock_llm(_answering), ["bad"], progress=False)
    assert isinstance(results[0], ToolwireError)


def test_the_first_answer_is_awaited_before_the_other_sessions_start() -> None:
    events: list[str] = []

    async def handler(request: httpx2.Request) -> httpx2.Response:
        prompt = json.loads(request.content)["messages"][0]["content"]
        events.append(f"start {prompt}")
        await asyncio.sleep(0.02)
        events.append(f"end {prompt}")
        response = _answering(request)
        response.headers["x-ratelimit-limit-requests"] = "600000"
        response.headers["x-ratelimit-remaining-requests"] = "599999"
        return response

    llm = AbstractLLM.create(
        "openai",
        model="m",
        api_key="k",
        async_http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    results = batch.run(llm, [f"q{i}" for i in range(20)], concurrency=10, progress=False)
    assert len(results) == 20
    # one session alone until the provider's first answer has told its limits, then the rest at once
    assert events[:2] == ["start q0", "end q0"]
    # the rest at once: nine more start before any of them ends (which nine, and in which order,
    # is the scheduler's: the learned pace spaces starts 0.1 ms apart, and a fast client waits)
    assert all(event.startswith("start q") for event in events[2:11]), events[:12]
    assert llm.transport.pacer.rate("requests") == pytest.approx(600000 * 0.97)
