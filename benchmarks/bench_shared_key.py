#!/usr/bin/env python3
"""Several processes sharing one rate-limited key: how long they take and how many 429s they meet.

    PYTHONPATH=src python benchmarks/bench_shared_key.py [--processes 2] [--sessions 300]

One rate-limited fake (tests/batch/ratelimited_server.py, its own process: LIMIT requests per
WINDOW seconds, sliding, announced per minute, `x-ratelimit-reset-requests` the time until the
limit is back to full as OpenAI documents it). PROCESSES client processes each run `batch.run`
over SESSIONS two-turn tool-calling sessions against it at once, each with its own pacer: every
one learns the full limit from the headers, so together they ask for PROCESSES times what the key
allows, and the headers' `remaining` reaches 0 often. This is where reading the reset as a wait
(instead of the time to a full limit) over-pauses. Reported: wall time and its ratio to the
limit's minimum ((answered - LIMIT) / LIMIT * WINDOW), requests sent, 429s, sessions answered.
Run it with another tree's `src` on PYTHONPATH to compare. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVER = Path(__file__).resolve().parents[1] / "tests" / "batch" / "ratelimited_server.py"


def lookup(key: str) -> str:
    """Look a key up."""
    return f"value-of-{key}"


def child(base_url: str, sessions: int, concurrency: int) -> None:
    from toolwire import AbstractLLM, batch

    llm = AbstractLLM.create("openai", model="m", api_key="k", base_url=base_url)
    start = time.monotonic()
    results = batch.run(
        llm, [f"q{i}" for i in range(sessions)], tools=[lookup], concurrency=concurrency, progress=False
    )
    answered = sum(1 for r in results if not isinstance(r, BaseException))
    print(json.dumps({"wall": time.monotonic() - start, "answered": answered}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=300, help="per process")
    parser.add_argument("--concurrency", type=int, default=50, help="per process")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.sessions, args.concurrency)
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, str(SERVER), str(port), str(args.limit), str(args.window)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "listening PORT"
        base = f"http://127.0.0.1:{port}/v1"
        start = time.monotonic()
        command = [sys.executable, __file__, "--child", base, "--sessions", str(args.sessions)]
        command += ["--concurrency", str(args.concurrency)]
        kids = [
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=os.environ)
            for _ in range(args.processes)
        ]
        outs = [json.loads(kid.communicate()[0]) for kid in kids]
        wall = time.monotonic() - start
        with urllib.request.urlopen(f"{base[:-3]}/_stats") as answer:
            stats = json.loads(answer.read())
    finally:
        server.terminate()
        server.wait()
    minimum = (stats["answered"] - args.limit) / args.limit * args.window
    sessions = sum(o["answered"] for o in outs)
    print(
        f"{args.processes} processes x {args.sessions} sessions, "
        f"{args.limit} requests per {args.window:g} s: wall {wall:.1f} s "
        f"({wall / minimum:.2f}x the minimum {minimum:.1f} s), requests {stats['requests']:,}, "
        f"429s {stats['throttled']:,} ({stats['throttled'] / stats['requests']:.1%}), "
        f"sessions answered {sessions:,} / {args.processes * args.sessions:,}"
    )


if __name__ == "__main__":
    main()
