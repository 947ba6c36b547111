#!/usr/bin/env python3
"""Many tool-calling sessions against a rate-limited server: toolwire's batch.run beside a
hand-written asyncio loop over the openai SDK (its default retries) and, when litellm is installed
(`pip install litellm`; optional, not a toolwire dependency), litellm's Router with the limit as its
`rpm`.

The server (tests/batch/ratelimited_server.py, its own process) enforces a sliding window of
LIMIT requests per WINDOW seconds, announced in the headers as the per-minute figure (100 per 1 s
= 6,000 requests/minute) and answers each session in two turns: one call to each of the two tools,
then the answer. Each contender runs in its own process, with a fresh server:

    python benchmarks/bench_batch.py --sessions 2500 --limit 100 --window 1 --concurrency 200

Reported per contender: wall time and its ratio to the limit's minimum ((requests - LIMIT) /
LIMIT * WINDOW: the first window may be spent at once), 429s as a share of requests, sessions
answered / lost, peak RSS and (peak - RSS before the run) / concurrency as the memory per
in-flight session (an upper bound: it includes the results list).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "batch" / "ratelimited_server.py"


def lookup(key: str) -> str:
    """Look a key up."""
    return f"value-of-{key}"


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_toolwire(base_url: str, sessions: int, concurrency: int) -> dict[str, Any]:
    from toolwire import AbstractLLM, batch

    llm = AbstractLLM.create("openai", model="m", api_key="k", base_url=base_url)
    before = _current_rss_mib()
    start = time.monotonic()
    results = batch.run(
        llm, (f"q{i}" for i in range(sessions)), tools=[lookup, add], concurrency=concurrency, progress=False
    )
    wall = time.monotonic() - start
    ok = sum(
        1
        for i, r in enumerate(results)
        if getattr(r, "content", None) == f"answer to q{i} using value-of-x, 4"
    )
    errors = sorted({type(r).__name__ for r in results if isinstance(r, Exception)})
    return {"wall": wall, "answered": ok, "errors": errors, "rss_before": before, "rss_peak": _rss_mib()}


_OPENAI_TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a key up.",
            "parameters": {
                "type": "object",
                "properties": {"key": {"type": "string"}},
                "required": ["key"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
            },
        },
    },
]


def run_openai_sdk(base_url: str, sessions: int, concurrency: int) -> dict[str, Any]:
    import openai

    tools = _OPENAI_TOOLS
    functions = {"lookup": lookup, "add": add}

    async def one(client: Any, semaphore: asyncio.Semaphore, i: int) -> str | None:
        async with semaphore:
            messages: list[dict[str, Any]] = [{"role": "user", "content": f"q{i}"}]
            try:
                for _ in range(10):
                    response = await client.chat.completions.create(model="m", messages=messages, tools=tools)
                    message = response.choices[0].message
                    if not message.tool_calls:
                        return message.content  # type: ignore[no-any-return]
                    messages.append(message.model_dump(exclude_none=True))
                    for call in message.tool_calls:
                        output = functions[call.function.name](**json.loads(call.function.arguments))
                        messages.append({"role": "tool", "tool_call_id": call.id, "content": str(output)})
            except openai.APIError:
                return None  # retries (default 2) spent: this session is lost
            return None

    async def main() -> list[str | None]:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="k")
        semaphore = asyncio.Semaphore(concurrency)
        try:
            return await asyncio.gather(*(one(client, semaphore, i) for i in range(sessions)))
        finally:
            await client.close()

    before = _current_rss_mib()
    start = time.monotonic()
    answers = asyncio.run(main())
    wall = time.monotonic() - start
    ok = sum(1 for i, a in enumerate(answers) if a == f"answer to q{i} using value-of-x, 4")
    return {"wall": wall, "answered": ok, "rss_before": before, "rss_peak": _rss_mib()}


def run_litellm_router(base_url: str, sessions: int, concurrency: int) -> dict[str, Any]:
    """litellm's Router with the limit as its `rpm` (optional: only when litellm is installed).

    `rpm` is enforced by the usage-based routing strategy (a per-minute counter, which refuses a
    call over it rather than spacing calls out); retries as the openai SDK's default (2)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no model-price download
    import litellm

    litellm.suppress_debug_info = True
    rpm = int(os.environ["BENCH_RPM"])
    router = litellm.Router(
        model_list=[
            {
                "model_name": "m",
                "litellm_params": {"model": "openai/m", "api_base": base_url, "api_key": "k", "rpm": rpm},
            }
        ],
        routing_strategy="usage-based-routing-v2",
        num_retries=2,
    )
    functions = {"lookup": lookup, "add": add}

    async def one(semaphore: asyncio.Semaphore, i: int) -> str | None:
        async with semaphore:
            messages: list[dict[str, Any]] = [{"role": "user", "content": f"q{i}"}]
            try:
                for _ in range(10):
                    response = await router.acompletion(model="m", messages=messages, tools=_OPENAI_TOOLS)
                    message = response.choices[0].message
                    if not message.tool_calls:
                        return message.content  # type: ignore[no-any-return]
                    calls = [
                        {"id": c.id, "type": "function", "function": {"name": c.function.name,
                                                                      "arguments": c.function.arguments}}
                        for c in message.tool_calls
                    ]
                    messages.append({"role": "assistant", "content": None, "tool_calls": calls})
                    for call in message.tool_calls:
                        output = functions[call.function.name](**json.loads(call.function.arguments))
                        messages.append({"role": "tool", "tool_call_id": call.id, "content": str(output)})
            except Exception:  # litellm's RateLimitError and the others: this session is lost
                return None
            return None

    async def main() -> list[str | None]:
        semaphore = asyncio.Semaphore(concurrency)
        return await asyncio.gather(*(one(semaphore, i) for i in range(sessions)))

    before = _current_rss_mib()
    start = time.monotonic()
    answers = asyncio.run(main())
    wall = time.monotonic() - start
    ok = sum(1 for i, a in enumerate(answers) if a == f"answer to q{i} using value-of-x, 4")
    return {"wall": wall, "answered": ok, "rss_before": before, "rss_peak": _rss_mib()}


CONTENDERS = {"toolwire": run_toolwire, "openai_sdk": run_openai_sdk, "litellm_router": run_litellm_router}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _measure(name: str, args: argparse.Namespace) -> dict[str, Any]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(SERVER), str(port), str(args.limit), str(args.window)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().startswith("listening")
        rpm = str(round(args.limit * 60 / args.window))
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "BENCH_RPM": rpm}
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                name,
                "--port",
                str(port),
                "--sessions",
                str(args.sessions),
                "--concurrency",
                str(args.concurrency),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=10) as response:
            figures["server"] = json.loads(response.read())
    finally:
        server.terminate()
        server.wait(10)
    return figures


def _report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    requests = 2 * args.sessions
    minimum = max(0.0, (requests - args.limit) / args.limit * args.window)
    rpm = round(args.limit * 60 / args.window)
    lines = [
        f"{args.sessions:,} sessions x 2 model turns (two tools each) = {requests:,} answered requests; "
        f"limit {args.limit} per {args.window:g} s sliding window ({rpm:,}/min); minimum {minimum:.1f} s; "
        f"concurrency {args.concurrency}; {os.cpu_count()} CPUs; load average at the end "
        f"{os.getloadavg()[0]:.1f}",
        "",
        "| contender | wall | × minimum | requests sent | 429s | 429 share | sessions answered | lost "
        "| peak RSS | RSS per in-flight session |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in results.items():
        server = f["server"]
        share = server["throttled"] / server["requests"] if server["requests"] else 0.0
        per_session = (f["rss_peak"] - f["rss_before"]) / args.concurrency * 1024
        lines.append(
            f"| {name} | {f['wall']:.1f} s | {f['wall'] / minimum:.2f}× | {server['requests']:,} | "
            f"{server['throttled']:,} | {share:.2%} | {f['answered']:,} / {args.sessions:,} | "
            f"{args.sessions - f['answered']:,} | {f['rss_peak']:.1f} MiB | {per_session:.0f} KiB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=2500)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=200)
    optional = ",litellm_router" if importlib.util.find_spec("litellm") else ""
    parser.add_argument(
        "--contenders",
        default="toolwire,openai_sdk" + optional,
        help="comma-separated; litellm_router (optional) runs by default when litellm is installed",
    )
    parser.add_argument("--child")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    if args.child:
        figures = CONTENDERS[args.child](f"http://127.0.0.1:{args.port}/v1", args.sessions, args.concurrency)
        print(json.dumps(figures))
        return
    results = {}
    for name in args.contenders.split(","):
        results[name] = _measure(name, args)
        print(f"{name}: {json.dumps(results[name])}", file=sys.stderr)
    print(_report(results, args))


if __name__ == "__main__":
    main()
