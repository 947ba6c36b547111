"""A loopback OpenAI Chat Completions fake that enforces a sliding-window rate limit.

Standard library only, asyncio, HTTP/1.1 keep-alive, 127.0.0.1. Like OpenAI's API it sends
`x-ratelimit-{limit,remaining,reset}-requests` on every answer and, when a request would exceed
the limit, a 429 with `code: "rate_limit_exceeded"`, those headers and `retry-after-ms`
(the wait until the oldest request leaves the window; Azure sends it, OpenAI sends `retry-after`).
The reset is what OpenAI documents: "the time until the rate limit resets to its initial state",
here until every request counted now has left the window (not until the next one may go, which
is what `retry-after-ms` says).

The window can be shorter than a minute to keep tests quick: `limit` requests per `window` seconds
is announced as the per-minute figure it amounts to (`limit * 60 / window`), as a real service
announces its per-minute limit.

A chat request with tools whose last message is not a tool result gets one call to each tool
(arguments filled from the schema); otherwise a text answer naming the first user message, so a
test can check that every answer belongs to its input. Used by tests/batch and
benchmarks/bench_batch.py (which runs it as a subprocess: `python ratelimited_server.py PORT LIMIT
WINDOW`).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

_ids = itertools.count()


def _value(schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        return 2
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return "x"


def _arguments(tool: dict[str, Any]) -> str:
    params = tool.get("function", {}).get("parameters") or {}
    props = params.get("properties") or {}
    return json.dumps({name: _value(props[name]) for name in params.get("required", []) if name in props})


def first_user_text(messages: list[dict[str, Any]]) -> str:
    for message in messages:
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
    return ""


def chat_answer(body: dict[str, Any]) -> dict[str, Any]:
    """The completion this fake gives for one Chat Completions request body."""
    messages = body.get("messages") or []
    tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    n = next(_ids)
    usage = {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50}
    base = {"id": f"chatcmpl-{n}", "object": "chat.completion", "created": 0, "model": body.get("model")}
    if tools and messages and messages[-1].get("role") != "tool":
        calls = [
            {
                "id": f"call_{n}_{i}",
                "type": "function",
                "function": {"name": t["function"]["name"], "arguments": _arguments(t)},
            }
            for i, t in enumerate(tools)
        ]
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": calls}
        finish = "tool_calls"
    else:
        results = [m.get("content") for m in messages if m.get("role") == "tool"]
        text = f"answer to {first_user_text(messages)}"
        if results:
            text += " using " + ", ".join(map(str, results))
        message, finish = {"role": "assistant", "content": text}, "stop"
    base["choices"] = [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}]
    base["usage"] = usage
    return base


@dataclass
class Stats:
    requests: int = 0
    throttled: int = 0
    answered: int = 0
    started: float = field(default_factory=time.monotonic)


class SlidingWindow:
    """At most `limit` accepted requests in any `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.times: collections.deque[float] = collections.deque()

    def admit(self, now: float) -> float | None:
        """None when admitted (and counted), else the seconds until a slot frees."""
        while self.times and self.times[0] <= now - self.window:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return self.times[0] + self.window - now
        self.times.append(now)
        return None

    def headers(self, now: float) -> dict[str, str]:
        remaining = max(0, self.limit - len(self.times))
        # back to its initial state once the newest request has left the window
        reset = (self.times[-1] + self.window - now) if self.times else 0.0
        scale = 60 / self.window  # every figure per minute, as the real headers are
        return {
            "x-ratelimit-limit-requests": str(round(self.limit * scale)),
            "x-ratelimit-remaining-requests": str(round(remaining * scale)),
            "x-ratelimit-reset-requests": f"{max(0, round(reset * 1000))}ms",
        }


class RateLimitedServer:
    def __init__(self, limit: int, window: float, port: int = 0) -> None:
        self.limiter = SlidingWindow(limit, window)
        self.port = port
        self.stats = Stats()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every open connection (their handlers end cleanly)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()  # the handler's read then ends with IncompleteReadError, cleanly
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        if tasks:
            await asyncio.wait(tasks, timeout=2)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status, extra, payload = self.handle(method, path, body)
                data = json.dumps(payload).encode()
                out = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Too Many Requests'}"]
                out += [f"{k}: {v}" for k, v in extra.items()]
                out += ["content-type: application/json", f"content-length: {len(data)}", "", ""]
                writer.write("\r\n".join(out).encode() + data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and path == "/_stats":
            return 200, {}, vars(self.stats)
        self.stats.requests += 1
        now = time.monotonic()
        wait = self.limiter.admit(now)
        headers = self.limiter.headers(now)
        if wait is not None:
            self.stats.throttled += 1
            headers["retry-after-ms"] = str(max(1, round(wait * 1000)))
            limit = self.limiter.limit
            error = {
                "message": f"Rate limit reached for requests on model in organization org-fake: "
                f"Limit {limit}, Used {limit}, Requested 1. Please try again in {round(wait * 1000)}ms.",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
            return 429, headers, {"error": error}
        self.stats.answered += 1
        return 200, headers, chat_answer(json.loads(body))


@contextmanager
def running(limit: int, window: float) -> Iterator[RateLimitedServer]:
    """The server on its own event loop in a daemon thread, for the length of the block."""
    server = RateLimitedServer(limit, window)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=main, daemon=True, name="ratelimited-server")
    thread.start()
    ready.wait(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


if __name__ == "__main__":  # python ratelimited_server.py PORT LIMIT WINDOW
    port, limit, window = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

    async def serve() -> None:
        server = RateLimitedServer(limit, window, port)
        await server.start()
        print(f"listening {server.port}", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve())
