#!/usr/bin/env python3
"""Client CPU of a streamed Chat Completions turn: toolwire beside raw httpx2, in one run.

    PYTHONPATH=src python benchmarks/bench_stream.py [--rounds 7] [--turns 150] [--profile]

Starts the shared fake OpenAI server (`../shared/bench/fake_openai_server.py`, or `--server`) on a
free loopback port. Three streams, each read to its end by both contenders:

- `text`: a text-only answer (~25 content chunks, the usage chunk, `[DONE]`);
- `tools3`: 3 parallel tool calls, arguments in token-sized fragments (the shared harness's turn);
- `tools8`: 8 parallel tool calls with 4-character fragments (a long stream of small chunks).

"raw httpx2" is the floor the project's promise is measured against: the same `httpx2.Client`
streaming the same request, `iter_lines()`, `json.loads` on every `data:` line, text joined and
tool-call fragments assembled by index, the calls' arguments parsed (as
`../shared/bench/contenders/c_raw_httpx.py` does). toolwire runs `generate(stream=True)`, iterates
the chunks and reads `stream.response` (arguments parsed, checked against the raw result).

Client CPU is `time.process_time()` around a batch of turns (the server runs in its own
process); rounds alternate which contender goes first. Figures are medians over rounds of the
per-turn mean of each batch. Compare ratios within one run. Nothing is asserted.

`--profile` runs cProfile (on process time) over toolwire's turns of each stream instead.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from toolwire import AbstractLLM

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = ROOT.parent / "shared" / "bench" / "fake_openai_server.py"
MODEL = "gpt-4o-mini"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} of a place",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
                "required": ["city", "days"],
            },
        },
    }
    for name in ("get_weather", "get_time", "get_news")
]
LONG_PROMPT = (
    "Please describe in a few plain words how the weather usually changes over a long spring day "
    "in a large coastal city"
)
# name -> (messages, tools, extra headers)
STREAMS: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]] | None, dict[str, str]]] = {
    "text": ([{"role": "user", "content": LONG_PROMPT}], None, {}),
    "tools3": ([{"role": "user", "content": "Weather, time and news in Paris?"}], TOOLS, {}),
    "tools8": (
        [{"role": "user", "content": "Everything about Paris"}],
        TOOLS,
        {"x-fake-tool-calls": "8", "x-fake-fragment-chars": "4"},
    ),
}
STREAM_OPTIONS = {"include_usage": True}
Result = tuple[str | None, list[tuple[str, str, Any]]]


# -- raw httpx2: the floor ---------------------------------------------------------------------
def raw_turn(
    client: httpx2.Client, messages: list[Any], tools: list[Any] | None, headers: dict[str, str]
) -> Result:
    body: dict[str, Any] = {
        "model": MODEL,
        "messages": messages,
        "stream": True,
        "stream_options": STREAM_OPTIONS,
    }
    if tools:
        body["tools"] = tools
    text: list[str] = []
    parts: dict[int, list[Any]] = {}
    with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                continue  # read to the end of the body, so that the connection is reused
            for choice in json.loads(data)["choices"]:
                delta = choice["delta"]
                content = delta.get("content")
                if content:
                    text.append(content)
                for call in delta.get("tool_calls") or ():
                    slot = parts.get(call["index"])
                    if slot is None:
                        slot = parts[call["index"]] = [call.get("id"), call["function"].get("name"), []]
                    slot[2].append(call["function"].get("arguments") or "")
    calls = [(p[0], p[1], json.loads("".join(p[2]))) for _, p in sorted(parts.items())]
    return ("".join(text) or None), calls


# -- toolwire ----------------------------------------------------------------------------------
def toolwire_turn(llm: Any, messages: list[Any], tools: list[Any] | None, headers: dict[str, str]) -> Result:
    stream = llm.generate(
        messages, tools=tools, stream=True, stream_options=STREAM_OPTIONS, extra_headers=headers
    )
    for _chunk in stream:
        pass
    response = stream.response
    calls = [(c.id, c.name, c.arguments) for c in response.tool_calls or ()]
    return response.content, calls


def _same(result: Result) -> Any:
    return result[0], [(c[0][:5], c[1], c[2]) for c in result[1]]  # the ids differ per request


# -- the run -----------------------------------------------------------------------------------
def start_server(script: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = Path(tempfile.mkdtemp()) / "port"
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--port-file", str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            return proc, f"http://127.0.0.1:{port_file.read_text().strip()}"
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the fake server did not start")


def batch(turn: Callable[..., Result], arguments: tuple[Any, ...], n: int) -> tuple[float, float]:
    """(client CPU µs per turn, wall µs per turn) over n turns."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        turn(*arguments)
    return (time.process_time() - cpu0) / n * 1e6, (time.perf_counter() - wall0) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--turns", type=int, default=150, help="turns per contender per stream per round")
    parser.add_argument("--server", type=Path, default=DEFAULT_SERVER)
    parser.add_argument("--streams", default=",".join(STREAMS))
    parser.add_argument("--profile", action="store_true", help="cProfile toolwire's turns instead")
    args = parser.parse_args()
    names = args.streams.split(",")
    proc, base = start_server(args.server)
    try:
        client = httpx2.Client(base_url=base, headers={"authorization": "Bearer x"})
        llm = AbstractLLM.create("openai", model=MODEL, base_url=base + "/v1", api_key="x")
        contenders: dict[str, Callable[[list[Any], list[Any] | None, dict[str, str]], Result]] = {
            "raw httpx2": lambda m, t, h: raw_turn(client, m, t, h),
            "toolwire": lambda m, t, h: toolwire_turn(llm, m, t, h),
        }
        for name in names:  # same answer from both, and warm-up
            messages, tools, headers = STREAMS[name]
            raw = raw_turn(client, messages, tools, headers)
            ours = toolwire_turn(llm, messages, tools, headers)
            if _same(raw) != _same(ours):
                raise SystemExit(f"{name}: toolwire read {ours!r}, raw httpx2 {raw!r}")
            for _ in range(20):
                raw_turn(client, messages, tools, headers)
                toolwire_turn(llm, messages, tools, headers)
        if args.profile:
            profile(llm, names, args.turns * args.rounds)
            return
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for r in range(args.rounds):
            order = list(contenders) if r % 2 == 0 else list(reversed(contenders))
            for name in names:
                messages, tools, headers = STREAMS[name]
                for who in order:
                    run = contenders[who]
                    samples.setdefault((name, who), []).append(
                        batch(run, (messages, tools, headers), args.turns)
                    )
        report(samples, names, args, base)
    finally:
        proc.terminate()
        proc.wait()


def profile(llm: Any, names: list[str], turns: int) -> None:
    for name in names:
        messages, tools, headers = STREAMS[name]
        prof = cProfile.Profile(time.process_time)
        prof.enable()
        for _ in range(turns):
            toolwire_turn(llm, messages, tools, headers)
        prof.disable()
        print(f"\n== {name}: {turns} toolwire turns ==")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def report(
    samples: dict[tuple[str, str], list[tuple[float, float]]], names: list[str], args: Any, base: str
) -> None:
    load = os.getloadavg()[0]
    print(
        f"bench_stream: {args.rounds} rounds x {args.turns} turns per contender per stream, "
        f"python {sys.version.split()[0]}, httpx2 {httpx2.__version__}, load {load:.1f}"
    )
    columns = ("stream", "raw httpx2 CPU/turn", "toolwire CPU/turn", "ratio", "per-round ratios", "raw wall")
    print("| " + " | ".join(columns) + " | toolwire wall |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for name in names:
        raw, ours = samples[(name, "raw httpx2")], samples[(name, "toolwire")]
        raw_cpu = statistics.median(s[0] for s in raw)
        our_cpu = statistics.median(s[0] for s in ours)
        per_round = " ".join(f"{o[0] / r[0]:.2f}" for r, o in zip(raw, ours, strict=True))
        print(
            f"| {name} | {raw_cpu:,.0f} µs | {our_cpu:,.0f} µs | {our_cpu / raw_cpu:.2f}× | {per_round} "
            f"| {statistics.median(s[1] for s in raw):,.0f} µs "
            f"| {statistics.median(s[1] for s in ours):,.0f} µs |"
        )


if __name__ == "__main__":
    main()
