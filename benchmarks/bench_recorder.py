"""Recorder benchmark: the writer's cost per model call at a history of 10, 100 and 1000 messages.

    PYTHONPATH=src python benchmarks/bench_recorder.py [--rounds 5] [--sizes 10,100,1000]

Each round records, into a fresh conversation, one call with the history minus its last turn (so
the writer has seen the conversation, as it has in a session) and then times the call with the whole
history: the writer's work for it (building the row from the wire body, redacting, serializing,
scrubbing, image references) plus its SQLite transaction, run synchronously in this thread. Both
paths run side by side in every round into their own database:

- `whole`: every row holds its whole body (`CallRecorder._incremental = False`), the schema-1
  recorder's way, which is the baseline (it builds the wire body again from the history, as it did);
- `history`: the history stored once (`toolwire._recorded_history`), each call writing only the
  messages it adds, the body parsed from the bytes sent instead of built again.

Messages are ~0.5 KiB (an assistant tool call, its result); the provider is OpenAI Chat Completions.
Prints the median and best per call and the ratio; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import recorder_support
from toolwire import Message, _instrument
from toolwire.providers.base import ChatRequest
from toolwire.recorder import CallRecorder, connect
from toolwire.types import GenerateResponse


def history(length: int) -> list[Message]:
    messages = [Message(role="system", content="Answer briefly."), Message(role="user", content="Go")]
    turn = 0
    while len(messages) < length:
        messages.extend(recorder_support.turn_messages(turn, width=400, odd=False))
        turn += 1
    return messages[:length]


def entry(llm: Any, messages: list[Message], conversation_id: str) -> tuple[Any, ...]:
    request = ChatRequest(messages=list(messages), model=llm.model, tools=(recorder_support.TOOL,))
    record = _instrument.CallRecord(llm, request, conversation_id)
    record.extra["recorder_id"] = f"{conversation_id}-{len(messages)}"
    # the body as the provider sent it (its cost is the call's, not the writer's, on both paths)
    record.extra["sent_body"] = llm._http_call(request, {}).body
    response = GenerateResponse(
        content="ok", model=llm.model, finish_reason="stop", usage={"total_tokens": 1}
    )
    return ("chat", record, response, None, 0.01)


def write(recorder: CallRecorder, conn: Any, item: tuple[Any, ...]) -> float:
    """The writer's work for one call, as `CallRecorder._run` does it for a batch of one."""
    began = time.perf_counter()
    blobs: dict[str, tuple[str, bytes]] = {}
    nodes: dict[str, Any] = {}
    row = recorder._row(item, blobs, nodes)
    recorder._write(conn, [row], blobs, nodes)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    llm = recorder_support.provider("openai")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"whole": Path(tmp) / "whole.db", "history": Path(tmp) / "history.db"}
        recorders, conns = {}, {}
        for name, path in paths.items():
            recorders[name] = CallRecorder(path)
            recorders[name]._incremental = name == "history"
            conns[name] = connect(path)
        print(f"writer cost per call, {args.rounds} rounds (median / best), OpenAI Chat Completions body")
        print(f"{'messages':>8} {'KiB':>7} {'whole (baseline)':>20} {'history':>20} {'ratio':>7}")
        for size in sizes:
            messages = history(size)
            kib = len(str(llm.build_body(ChatRequest(messages=messages, model=llm.model)))) / 1024
            times: dict[str, list[float]] = {"whole": [], "history": []}
            for round_ in range(args.rounds):
                for name in ("whole", "history") if round_ % 2 else ("history", "whole"):
                    conversation_id = f"{name}-{size}-{round_}"
                    write(recorders[name], conns[name], entry(llm, messages[:-2], conversation_id))
                    times[name].append(
                        write(recorders[name], conns[name], entry(llm, messages, conversation_id))
                    )
            whole, hist = (statistics.median(times[n]) for n in ("whole", "history"))
            print(
                f"{size:>8} {kib:>7.0f} {whole * 1000:>10.2f} / {min(times['whole']) * 1000:>6.2f} ms"
                f" {hist * 1000:>10.2f} / {min(times['history']) * 1000:>6.2f} ms {whole / hist:>6.1f}x"
            )
        for conn in conns.values():
            conn.close()


if __name__ == "__main__":
    main()
