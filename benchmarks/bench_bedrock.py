"""toolwire's Bedrock provider beside boto3's `bedrock-runtime` client, in one run, against a local
fake Bedrock Runtime (Converse JSON and binary ConverseStream), both signing with SigV4.

    PYTHONPATH=src python benchmarks/bench_bedrock.py [--calls 300] [--streams 150] [--reps 5]

Measured, each library in its own fresh interpreter (so imports and caches do not leak between them):

- import: `import toolwire` + the Bedrock provider module, vs `import boto3` (median of --reps);
  plus client creation (toolwire: the provider with explicit keys; boto3: `boto3.client(...)`);
- per call: `generate(..., tools=[3 tools])` returning 2 parsed tool calls vs `client.converse(...)`
  with the same toolConfig, after warm-up; wall median and client CPU (process time) per call;
- per streamed turn: iterate the ConverseStream to the end, tool calls assembled, vs iterating
  `converse_stream(...)["stream"]` and assembling the same calls from the events;
- memory: peak RSS of the process after all calls.

The server runs in its own process (its CPU is not counted); it answers from memory, on HTTP/1.1
keep-alive, 127.0.0.1 only. The targets (issue 12): toolwire at most half of boto3's per-call client
CPU and at most a third of its import time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOOLS = [
    {
        "name": name,
        "description": f"{name.replace('_', ' ')} for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    for name in ("get_weather", "get_time", "get_population")
]
ANSWER = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [
                {"text": "Checking both."},
                {"toolUse": {"toolUseId": "tooluse_aaaaaaaaaaaaaaaaaaaaaa", "name": "get_weather", "input": {"city": "Paris"}}},  # noqa: E501
                {"toolUse": {"toolUseId": "tooluse_bbbbbbbbbbbbbbbbbbbbbb", "name": "get_time", "input": {"city": "Rome"}}},  # noqa: E501
            ],
        }
    },
    "stopReason": "tool_use",
    "usage": {"inputTokens": 420, "outputTokens": 60, "totalTokens": 480},
    "metrics": {"latencyMs": 300},
}  # fmt: skip


def _frame(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    head = b"".join(
        bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
        for k, v in headers.items()
    )
    body = json.dumps({**payload, "p": "abcdefghijklmnop"}).encode()
    prelude = struct.pack(">II", 12 + len(head) + len(body) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + body
    return message + struct.pack(">I", zlib.crc32(message))


def _stream_body() -> bytes:
    frames = [_frame("messageStart", {"role": "assistant"})]
    for word in ("Checking", " both", " cities."):
        frames.append(_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": word}}))
    frames.append(_frame("contentBlockStop", {"contentBlockIndex": 0}))
    for index, (use, name, city) in enumerate(
        [("a", "get_weather", "Paris"), ("b", "get_time", "Rome")], start=1
    ):
        start = {"toolUse": {"toolUseId": f"tooluse_{use * 22}", "name": name}}
        frames.append(_frame("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        for part in ('{"ci', 'ty": "', city, '"}'):
            delta = {"toolUse": {"input": part}}
            frames.append(_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        frames.append(_frame("contentBlockStop", {"contentBlockIndex": index}))
    frames.append(_frame("messageStop", {"stopReason": "tool_use"}))
    usage = {"inputTokens": 420, "outputTokens": 60, "totalTokens": 480}
    frames.append(_frame("metadata", {"usage": usage, "metrics": {"latencyMs": 300}}))
    return b"".join(frames)


# -- the fake server (its own process) ----------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall
    converse = json.dumps(ANSWER).encode()
    stream = _stream_body()

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if not self.headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential=AKIDBENCH/"):
            self.send_response(403)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        streaming = self.path.endswith("/converse-stream")
        body = self.stream if streaming else self.converse
        self.send_response(200)
        self.send_header(
            "content-type", "application/vnd.amazon.eventstream" if streaming else "application/json"
        )
        self.send_header("x-amzn-RequestId", "bench-request")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# -- contenders (each run in a fresh interpreter) -----------------------------------------------
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
KEYS = {"aws_access_key_id": "AKIDBENCH", "aws_secret_access_key": "bench-secret-0000"}
PROMPT = "Weather in Paris and time in Rome?"


def _toolwire(url: str) -> tuple[Any, Any, Any]:
    from toolwire import AbstractLLM

    llm = AbstractLLM.create("bedrock", model=MODEL, region="us-east-1", base_url=url, **KEYS)

    def call() -> Any:
        resp = llm.generate(PROMPT, tools=TOOLS)
        return [(c.name, c.arguments) for c in resp.tool_calls]

    def stream() -> Any:
        s = llm.generate(PROMPT, tools=TOOLS, stream=True)
        for _ in s:
            pass
        return [(c.name, c.arguments) for c in s.response.tool_calls]

    return llm, call, stream


def _boto3(url: str) -> tuple[Any, Any, Any]:
    import boto3

    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=url, **KEYS)
    tool_config = {
        "tools": [
            {
                "toolSpec": {
                    "name": t["name"],
                    "description": t["description"],
                    "inputSchema": {"json": t["parameters"]},
                }
            }
            for t in TOOLS
        ]
    }
    messages = [{"role": "user", "content": [{"text": PROMPT}]}]

    def call() -> Any:
        out = client.converse(modelId=MODEL, messages=messages, toolConfig=tool_config)
        blocks = out["output"]["message"]["content"]
        return [(b["toolUse"]["name"], b["toolUse"]["input"]) for b in blocks if "toolUse" in b]

    def stream() -> Any:
        out = client.converse_stream(modelId=MODEL, messages=messages, toolConfig=tool_config)
        names: dict[int, str] = {}
        parts: dict[int, list[str]] = {}
        for event in out["stream"]:
            if "contentBlockStart" in event:
                start = event["contentBlockStart"]
                names[start["contentBlockIndex"]] = start["start"]["toolUse"]["name"]
            elif "contentBlockDelta" in event and "toolUse" in event["contentBlockDelta"]["delta"]:
                delta = event["contentBlockDelta"]
                parts.setdefault(delta["contentBlockIndex"], []).append(delta["delta"]["toolUse"]["input"])
        return [(names[i], json.loads("".join(parts[i]))) for i in sorted(names)]

    return client, call, stream


EXPECTED = [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Rome"})]


def _per_call(fn: Any, n: int) -> dict[str, float]:
    for _ in range(20):
        assert fn() == EXPECTED
    walls, cpus = [], []
    for _ in range(n):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {"wall_median_us": statistics.median(walls) * 1e6, "cpu_mean_us": statistics.fmean(cpus) * 1e6}


def contender(name: str, url: str, calls: int, streams: int) -> None:
    t0 = time.perf_counter()
    if name == "toolwire":
        import toolwire

        library = time.perf_counter() - t0
        import toolwire.providers.bedrock  # noqa: F401  (the provider module brings the HTTP stack)
    else:
        import boto3  # noqa: F401

        library = time.perf_counter() - t0
    imported = time.perf_counter() - t0
    rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t1 = time.perf_counter()
    _, call, stream = (_toolwire if name == "toolwire" else _boto3)(url)
    created = time.perf_counter() - t1
    result = {
        "library_ms": library * 1e3,
        "import_ms": imported * 1e3,
        "create_ms": created * 1e3,
        "ready_ms": (imported + created) * 1e3,
        "rss_after_import_mib": rss_import / 1024,
        "call": _per_call(call, calls),
        "stream": _per_call(stream, streams),
        "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(result))


# -- orchestration ------------------------------------------------------------------------------
def _run(name: str, url: str, calls: int, streams: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for var in ("AWS_BEARER_TOKEN_BEDROCK", "AWS_PROFILE", "TOOLWIRE_RECORD"):
        env.pop(var, None)
    out = subprocess.run(
        [sys.executable, __file__, "--contender", name, "--url", url, "--calls", str(calls), "--streams", str(streams)],  # noqa: E501
        capture_output=True, text=True, check=True, env=env, timeout=900,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--streams", type=int, default=150)
    parser.add_argument("--reps", type=int, default=5, help="fresh processes per library (interleaved)")
    parser.add_argument("--contender")
    parser.add_argument("--url")
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.contender:
        contender(args.contender, args.url, args.calls, args.streams)
        return
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        runs: dict[str, list[dict[str, Any]]] = {"toolwire": [], "boto3": []}
        for _ in range(args.reps):
            for name in runs:  # interleaved, so machine load hits both alike
                runs[name].append(_run(name, url, args.calls, args.streams))
    finally:
        server.terminate()
        server.wait()
    print(_table(runs, args))


def _median(runs: list[dict[str, Any]], *path: str) -> float:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value[key]
        values.append(value)
    return statistics.median(values)


def _table(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    tw, b3 = runs["toolwire"], runs["boto3"]
    rows = [
        ("`import toolwire` / `import boto3`", ("library_ms",), "ms", "≤ 0.33×"),
        ("import incl. the provider module (httpx2) / `import boto3`", ("import_ms",), "ms", ""),
        ("client creation", ("create_ms",), "ms", ""),
        ("ready to call: imports + client creation", ("ready_ms",), "ms", ""),
        ("Converse call: client CPU per call", ("call", "cpu_mean_us"), "µs", "≤ 0.5×"),
        ("Converse call: wall median", ("call", "wall_median_us"), "µs", ""),
        ("ConverseStream turn: client CPU per turn", ("stream", "cpu_mean_us"), "µs", "≤ 0.5×"),
        ("ConverseStream turn: wall median", ("stream", "wall_median_us"), "µs", ""),
        ("RSS after import", ("rss_after_import_mib",), "MiB", ""),
        ("peak RSS after all calls", ("rss_peak_mib",), "MiB", ""),
    ]
    lines = [
        f"Bedrock: toolwire beside boto3 {_version('boto3')} (botocore {_version('botocore')}), "
        f"{args.reps} fresh processes each, {args.calls} calls and {args.streams} streamed turns per process; "  # noqa: E501
        "medians over processes.",
        "",
        "| figure | toolwire | boto3 | ratio | target |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, path, unit, target in rows:
        ours, theirs = _median(tw, *path), _median(b3, *path)
        fmt = "{:,.1f}" if unit in ("ms", "MiB") else "{:,.0f}"
        lines.append(
            f"| {label} | {fmt.format(ours)} {unit} | {fmt.format(theirs)} {unit} | {ours / theirs:.2f}× | {target} |"  # noqa: E501
        )
    return "\n".join(lines)


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
