#!/usr/bin/env python3
"""Responses API overhead beside Chat Completions, in one run: toolwire vs raw httpx2 doing the same
request vs the openai SDK, per call and per streamed 3-call turn.

    PYTHONPATH=src python benchmarks/bench_responses.py [--rounds 5] [--calls 300] [--streams 100]

Starts benchmarks/fake_responses_server.py on a free loopback port. Every contender sends the same
request (one user message, 3 function tools) and returns the 3 tool calls with their arguments
parsed into dicts (checked, so nobody skips work). Rounds interleave the contenders in a rotated
order so the drifts of a shared machine hit all alike; figures are medians of the pooled per-call
samples. Compare the ratios of one run, not absolute figures across runs. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai

from toolwire import AbstractLLM

HERE = Path(__file__).resolve().parent
PROMPT = "Weather and time in Paris, and 12.5 EUR in USD?"
FLAT_TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": False,
    },
    {
        "type": "function",
        "name": "get_time",
        "description": "Local time in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": False,
    },
    {
        "type": "function",
        "name": "convert",
        "description": "Convert an amount of money.",
        "parameters": {
            "type": "object",
            "properties": {"amount": {"type": "number"}, "currency": {"type": "string"}},
            "required": ["amount", "currency"],
        },
        "strict": False,
    },
]
CHAT_TOOLS = [
    {"type": "function", "function": {k: v for k, v in t.items() if k not in ("type", "strict")}}
    for t in FLAT_TOOLS
]
EXPECTED = [
    ("get_weather", {"city": "Paris"}),
    ("get_time", {"city": "Paris"}),
    ("convert", {"amount": 1.5, "currency": "Paris"}),
]
Calls = list[tuple[str, dict[str, Any]]]


# -- raw httpx2: the floor --------------------------------------------------------------------------
def raw_chat(client: httpx2.Client, base: str, stream: bool) -> Calls:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": PROMPT}],
        "tools": CHAT_TOOLS,
    }
    if not stream:
        data = client.post(
            f"{base}/chat/completions", json=body, headers={"authorization": "Bearer sk-x"}
        ).json()
        return [
            (c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in data["choices"][0]["message"]["tool_calls"]
        ]
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    calls: dict[int, list[Any]] = {}
    with client.stream(
        "POST", f"{base}/chat/completions", json=body, headers={"authorization": "Bearer sk-x"}
    ) as r:
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for choice in chunk["choices"]:
                for delta in choice["delta"].get("tool_calls") or ():
                    entry = calls.setdefault(delta["index"], ["", []])
                    entry[0] = delta.get("function", {}).get("name") or entry[0]
                    entry[1].append(delta.get("function", {}).get("arguments") or "")
    return [(name, json.loads("".join(parts))) for name, parts in (calls[i] for i in sorted(calls))]


def raw_responses(client: httpx2.Client, base: str, stream: bool) -> Calls:
    body: dict[str, Any] = {
        "model": "gpt-5-mini",
        "input": [{"role": "user", "content": PROMPT}],
        "tools": FLAT_TOOLS,
    }
    if not stream:
        data = client.post(f"{base}/responses", json=body, headers={"authorization": "Bearer sk-x"}).json()
        return [
            (i["name"], json.loads(i["arguments"])) for i in data["output"] if i["type"] == "function_call"
        ]
    body["stream"] = True
    items: dict[str, list[Any]] = {}
    with client.stream("POST", f"{base}/responses", json=body, headers={"authorization": "Bearer sk-x"}) as r:
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            kind = event["type"]
            if kind == "response.output_item.added" and event["item"]["type"] == "function_call":
                items[event["item"]["id"]] = [event["item"]["name"], []]
            elif kind == "response.function_call_arguments.delta":
                items[event["item_id"]][1].append(event["delta"])
    return [(name, json.loads("".join(parts))) for name, parts in items.values()]


# -- the openai SDK -----------------------------------------------------------------------------------
def sdk_chat(client: openai.OpenAI, stream: bool) -> Calls:
    messages: Any = [{"role": "user", "content": PROMPT}]
    if not stream:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=CHAT_TOOLS)  # type: ignore[arg-type]
        return [
            (c.function.name, json.loads(c.function.arguments))
            for c in completion.choices[0].message.tool_calls or ()
        ]  # type: ignore[union-attr]
    calls: dict[int, list[Any]] = {}
    for chunk in client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=CHAT_TOOLS,
        stream=True,
        stream_options={"include_usage": True},  # type: ignore[arg-type]
    ):
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or ():
                entry = calls.setdefault(delta.index, ["", []])
                if delta.function is not None:
                    entry[0] = delta.function.name or entry[0]
                    entry[1].append(delta.function.arguments or "")
    return [(name, json.loads("".join(parts))) for name, parts in (calls[i] for i in sorted(calls))]


def sdk_responses(client: openai.OpenAI, stream: bool) -> Calls:
    if not stream:
        response = client.responses.create(model="gpt-5-mini", input=PROMPT, tools=FLAT_TOOLS)  # type: ignore[arg-type]
        return [(i.name, json.loads(i.arguments)) for i in response.output if i.type == "function_call"]
    calls: Calls = []
    for event in client.responses.create(model="gpt-5-mini", input=PROMPT, tools=FLAT_TOOLS, stream=True):  # type: ignore[arg-type]
        if event.type == "response.output_item.done" and event.item.type == "function_call":
            calls.append((event.item.name, json.loads(event.item.arguments)))
    return calls


# -- toolwire -----------------------------------------------------------------------------------------
def toolwire_call(llm: Any, tools: list[dict[str, Any]], stream: bool) -> Calls:
    if not stream:
        response = llm.generate(PROMPT, tools=tools)
    else:
        s = llm.generate(PROMPT, tools=tools, stream=True)
        for _ in s:
            pass
        response = s.response
    return [(c.name, c.arguments) for c in response.tool_calls]


# -- the run ------------------------------------------------------------------------------------------
def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port_file = Path(tempfile.mkdtemp()) / "port"
    process = subprocess.Popen(
        [sys.executable, str(HERE / "fake_responses_server.py"), "--port", "0", "--port-file", str(port_file)]
    )
    for _ in range(200):
        if port_file.exists() and port_file.read_text():
            return process, f"http://127.0.0.1:{port_file.read_text()}/v1"
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the fake server did not start")


def contenders(base: str) -> dict[str, Callable[[bool], Calls]]:
    raw = httpx2.Client()
    sdk = openai.OpenAI(api_key="sk-x", base_url=base)
    tw_chat = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-x", base_url=base)
    tw_resp = AbstractLLM.create("openai", model="gpt-5-mini", api_key="sk-x", base_url=base, api="responses")
    return {
        "chat: raw httpx2": lambda s: raw_chat(raw, base, s),
        "chat: toolwire": lambda s: toolwire_call(tw_chat, FLAT_TOOLS, s),
        "chat: openai SDK": lambda s: sdk_chat(sdk, s),
        "responses: raw httpx2": lambda s: raw_responses(raw, base, s),
        "responses: toolwire": lambda s: toolwire_call(tw_resp, FLAT_TOOLS, s),
        "responses: openai SDK": lambda s: sdk_responses(sdk, s),
    }


def measure(fn: Callable[[bool], Calls], stream: bool, n: int) -> list[float]:
    """Per-call wall times; the batch's client CPU per call is appended last (see `split`)."""
    samples = []
    cpu = time.process_time()
    for _ in range(n):
        t0 = time.perf_counter()
        calls = fn(stream)
        samples.append(time.perf_counter() - t0)
        if calls != EXPECTED:
            raise AssertionError(f"wrong calls: {calls}")
    return [*samples, (time.process_time() - cpu) / n]


def run(rounds: int, calls: int, streams: int) -> dict[str, dict[str, list[float]]]:
    process, base = start_server()
    try:
        table = contenders(base)
        for fn in table.values():  # warm-up: connections, caches, lazy imports
            measure(fn, False, 20)
            measure(fn, True, 10)
        samples: dict[str, dict[str, list[float]]] = {
            k: {"seq": [], "stream": [], "seq_cpu": [], "stream_cpu": []} for k in table
        }
        keys = list(table)
        for r in range(rounds):
            order = keys[r % len(keys) :] + keys[: r % len(keys)]
            for key in order:
                for phase, stream, n in (("seq", False, calls), ("stream", True, streams)):
                    *wall, cpu = measure(table[key], stream, n)
                    samples[key][phase] += wall
                    samples[key][f"{phase}_cpu"].append(cpu)
        return samples
    finally:
        process.kill()
        process.wait()


def report(samples: dict[str, dict[str, list[float]]]) -> str:
    lines = [
        f"load average {os.getloadavg()[0]:.2f}, python {sys.version.split()[0]}, "
        f"openai {openai.__version__}",
        "",
        "| API | contender | call, median | × raw | client CPU/call | × raw "
        "| streamed 3-call turn, median | × raw | client CPU/turn | × raw |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for api in ("chat", "responses"):
        raw = {k: statistics.median(v) for k, v in samples[f"{api}: raw httpx2"].items()}
        for who in ("raw httpx2", "toolwire", "openai SDK"):
            own = {k: statistics.median(v) for k, v in samples[f"{api}: {who}"].items()}
            cells = [
                f"{own[p] * 1e6:,.0f} µs | {own[p] / raw[p]:.2f}×"
                for p in ("seq", "seq_cpu", "stream", "stream_cpu")
            ]
            lines.append(f"| {api} | {who} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=300, help="non-streamed calls per contender per round")
    parser.add_argument("--streams", type=int, default=100, help="streamed turns per contender per round")
    parser.add_argument("--json", type=Path, help="also write every sample here")
    args = parser.parse_args()
    samples = run(args.rounds, args.calls, args.streams)
    if args.json:
        args.json.write_text(json.dumps(samples))
    print(report(samples))


if __name__ == "__main__":
    main()
