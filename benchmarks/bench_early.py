#!/usr/bin/env python3
"""Tools that start before the answer ends: a streamed 3-call turn, with and without early starts,
beside pydantic-ai and openai-agents doing the same turn against the same local server.

    PYTHONPATH=src python benchmarks/bench_early.py [--rounds 3] [--out benchmarks/results/x.md]

The fake Chat Completions server (standard library, 127.0.0.1, started here) streams 3 tool calls,
spending PER_CALL seconds on each call's arguments (4 fragments, evenly spaced), then the finish
chunk; a request that carries tool results gets a short text answer. The tools sleep 1.0, 0.2 and
0.2 s. Figure: seconds from the request to the moment the last tool result exists (the latest end
time the tools themselves record, so every contender is measured the same way). Ideal: the max
over calls of (call complete + its tool time) = max(0.4+1.0, 0.8+0.2, 1.2+0.2) = 1.4 s; a turn that
runs its tools after the last byte takes 1.2 + 1.0 = 2.2 s. Medians over rounds, rounds interleave
the contenders. Nothing is asserted: the table is the output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PER_CALL = 0.4
FRAGMENTS = 4
CALLS = [
    ("call_a", "search_web", {"query": "pelicans"}, 1.0),
    ("call_b", "get_weather", {"city": "Paris"}, 0.2),
    ("call_c", "get_time", {"city": "Paris"}, 0.2),
]
IDEAL = max((i + 1) * PER_CALL + cost for i, (_, _, _, cost) in enumerate(CALLS))
SERIAL = len(CALLS) * PER_CALL + max(cost for *_, cost in CALLS)
PROMPT = "Search pelicans, and the weather and time in Paris."


# -- the fake server ---------------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # push each SSE chunk at once, as streaming servers do (else Nagle's algorithm holds a
        # small write behind the previous one's delayed ACK, ~40 ms at a time on Linux)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        has_results = any(m.get("role") == "tool" for m in body.get("messages", []))
        if not body.get("stream"):
            self._json(body, has_results)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": "gpt-bench"}

        def send(delta: dict[str, Any], finish: str | None = None) -> None:
            payload = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            self._chunk(f"data: {json.dumps(payload)}\n\n".encode())

        if has_results:
            send({"role": "assistant", "content": "Done."})
            send({}, "stop")
        else:
            for index, (call_id, name, args, _) in enumerate(CALLS):
                head = {
                    "index": index,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
                send({"role": "assistant", "tool_calls": [head]})
                text = json.dumps(args)
                step = -(-len(text) // FRAGMENTS)
                for start in range(0, len(text), step):
                    time.sleep(PER_CALL / FRAGMENTS)
                    send(
                        {
                            "tool_calls": [
                                {"index": index, "function": {"arguments": text[start : start + step]}}
                            ]
                        }
                    )
            send({}, "tool_calls")
        usage = {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90}
        self._chunk(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, body: dict[str, Any], has_results: bool) -> None:
        if has_results:
            message: dict[str, Any] = {"role": "assistant", "content": "Done."}
            finish = "stop"
        else:
            time.sleep(len(CALLS) * PER_CALL)
            calls = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                for i, n, a, _ in CALLS
            ]
            message, finish = {"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls"
        payload = json.dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": 0,
                "model": "gpt-bench",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


# -- the tools (each records when it ends) -------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.ends: list[float] = []
        self.lock = threading.Lock()

    def done(self) -> None:
        with self.lock:
            self.ends.append(time.perf_counter())


def sync_tools(clock: Clock) -> list[Callable[..., str]]:
    def search_web(query: str) -> str:
        """Search the web."""
        time.sleep(1.0)
        clock.done()
        return f"results for {query}"

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        time.sleep(0.2)
        clock.done()
        return f"sunny in {city}"

    def get_time(city: str) -> str:
        """Local time in a city."""
        time.sleep(0.2)
        clock.done()
        return f"12:00 in {city}"

    return [search_web, get_weather, get_time]


def async_tools(clock: Clock) -> list[Callable[..., Any]]:
    async def search_web(query: str) -> str:
        """Search the web."""
        await asyncio.sleep(1.0)
        clock.done()
        return f"results for {query}"

    async def get_weather(city: str) -> str:
        """Current weather in a city."""
        await asyncio.sleep(0.2)
        clock.done()
        return f"sunny in {city}"

    async def get_time(city: str) -> str:
        """Local time in a city."""
        await asyncio.sleep(0.2)
        clock.done()
        return f"12:00 in {city}"

    return [search_web, get_weather, get_time]


# -- contenders: each returns (seconds to all results, seconds to the end of the run) ---------------
def run_toolwire(url: str, *, early: bool, driver: str) -> tuple[float, float]:
    from toolwire import AbstractLLM, Session
    from toolwire.tools.definition import function_to_tool_definition

    clock = Clock()
    make = sync_tools if driver == "stream" else async_tools
    tools = [function_to_tool_definition(f, read_only=early) for f in make(clock)]
    import httpx2

    # clients made before the clock starts, as the peers' SDK clients are (an httpx2 client builds
    # its TLS context when created; toolwire otherwise creates it lazily, on the first request)
    client, aclient = httpx2.Client(), httpx2.AsyncClient()
    llm = AbstractLLM.create(
        "openai",
        model="gpt-bench",
        api_key="sk-bench",
        base_url=url + "/v1",
        http_client=client,
        async_http_client=aclient,
    )
    session = Session(llm, tools=tools)
    start = time.perf_counter()
    if driver == "stream":
        for _ in session.stream(PROMPT):
            pass
    else:

        async def drive() -> float:
            async for _ in session.astream(PROMPT):
                pass
            done = time.perf_counter()
            await aclient.aclose()  # on its own loop (asyncio.run closes it afterwards)
            return done

        end = asyncio.run(drive())
    if driver == "stream":
        end = time.perf_counter()
    client.close()
    assert len(clock.ends) == 3, clock.ends
    return max(clock.ends) - start, end - start


def run_pydantic_ai(url: str) -> tuple[float, float]:
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    clock = Clock()
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=url + "/v1", api_key="sk-bench")
    model = OpenAIChatModel("gpt-bench", provider=OpenAIProvider(openai_client=client))
    agent = Agent(model, tools=async_tools(clock))

    async def drive() -> None:
        async def handler(ctx: Any, events: Any) -> None:  # asks pydantic-ai to stream the model
            async for _ in events:
                pass

        await agent.run(PROMPT, event_stream_handler=handler)
        await client.close()  # on its own loop (asyncio.run closes it afterwards)

    start = time.perf_counter()
    asyncio.run(drive())
    end = time.perf_counter()
    assert len(clock.ends) == 3, clock.ends
    return max(clock.ends) - start, end - start


def run_openai_agents(url: str) -> tuple[float, float]:
    from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    clock = Clock()
    client = AsyncOpenAI(base_url=url + "/v1", api_key="sk-bench")
    model = OpenAIChatCompletionsModel("gpt-bench", openai_client=client)
    agent = Agent(
        name="bench",
        instructions="Use the tools.",
        model=model,
        tools=[function_tool(f) for f in async_tools(clock)],
    )

    async def drive() -> None:
        result = Runner.run_streamed(agent, PROMPT)
        async for _ in result.stream_events():
            pass
        await client.close()

    start = time.perf_counter()
    asyncio.run(drive())
    end = time.perf_counter()
    assert len(clock.ends) == 3, clock.ends
    return max(clock.ends) - start, end - start


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    contenders: dict[str, Callable[[], tuple[float, float]]] = {
        "toolwire stream, early starts (read_only=True)": lambda: run_toolwire(
            url, early=True, driver="stream"
        ),
        "toolwire stream, no early starts": lambda: run_toolwire(url, early=False, driver="stream"),
        "toolwire astream, early starts (read_only=True)": lambda: run_toolwire(
            url, early=True, driver="astream"
        ),
        "toolwire astream, no early starts": lambda: run_toolwire(url, early=False, driver="astream"),
    }
    notes: list[str] = []
    for label, module, fn in (
        ("pydantic-ai {v} (agent.run, streamed model)", "pydantic-ai-slim", run_pydantic_ai),
        ("openai-agents {v} (Runner.run_streamed)", "openai-agents", run_openai_agents),
    ):
        version = _version(module)
        if version is None:
            notes.append(f"{module}: not installed, skipped")
            continue
        contenders[label.format(v=version)] = lambda fn=fn: fn(url)  # type: ignore[misc]

    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    names = list(contenders)
    for round_ in range(args.rounds):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            try:
                samples[name].append(contenders[name]())
            except Exception as exc:  # a peer that cannot do the turn is reported, not hidden
                notes.append(f"{name}: failed ({type(exc).__name__}: {exc})")
                samples[name] = []
                names = [n for n in names if n != name]
    server.shutdown()

    lines = [
        f"Streamed 3-call turn, {PER_CALL * 1000:.0f} ms per call's arguments, tools 1.0 / 0.2 / 0.2 s; "
        f"ideal (max over calls of call complete + tool time) {IDEAL:.2f} s, tools after the last byte "
        f"{SERIAL:.2f} s; median of {args.rounds} rounds, Python {sys.version.split()[0]}.",
        "",
        "| contender | request → all tool results (s) | × ideal | whole run incl. 2nd model call (s) |",
        "|---|---:|---:|---:|",
    ]
    for name, runs in samples.items():
        if not runs:
            continue
        results = statistics.median(r[0] for r in runs)
        whole = statistics.median(r[1] for r in runs)
        lines.append(f"| {name} | {results:.3f} | {results / IDEAL:.2f} | {whole:.3f} |")
    lines += [f"\n- {note}" for note in dict.fromkeys(notes)]
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(table + "\n")


if __name__ == "__main__":
    main()
