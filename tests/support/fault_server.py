"""A scripted loopback HTTP server for fault injection, and per-wire-format response kits.

Every request pops the next `Reply` from the server's script (the last one repeats), so a test
says exactly what each attempt sees: `[Reply(status=429, headers={"retry-after": "2"}), kit.ok()]`.
A reply can delay before its headers, reset the connection before answering, or write only the
first N SSE events of a stream and then reset the connection (chunked encoding, so the client
sees a truncated body, never a clean end).

The kits give, for each wire format toolwire speaks (OpenAI Chat Completions incl. Azure,
Anthropic Messages, Gemini generateContent, Mistral, Bedrock Converse), a provider pointed at the
server plus the bodies of a successful tool-calling turn, its stream, an error and a truncated tool
call. The bodies are minimal but shaped as the recorded traffic in ../shared/fixtures/recorded is.

Used by tests/test_faults.py and benchmarks/fault_table.py. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from toolwire import AbstractLLM

SECRET_KEY = "sk-SECRET-abcdef1234567890"


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON-able, or bytes
    sse: list[bytes] | None = None  # complete SSE events ("data: ...\n\n"), sent chunked
    delay: float = 0.0  # seconds before the status line
    reset: bool = False  # reset the connection instead of answering
    drop_after: int | None = None  # with sse: reset after this many events
    trickle: float = 0.0  # seconds between single bytes of the body (a server that trickles)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reset(self) -> None:
        # SO_LINGER 0: close sends RST, which the client sees as a connection error
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        reply = self.server.next_reply(Seen(self.path, dict(self.headers.items()), body))
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            self._reset()
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.sse is not None:
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for i, event in enumerate(reply.sse):
                if reply.drop_after is not None and i >= reply.drop_after:
                    self.wfile.flush()
                    self._reset()
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if reply.trickle:
            try:
                for i in range(len(payload)):
                    self.wfile.write(payload[i : i + 1])
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            except OSError:
                pass  # the client gave up: what the trickle test wants
            return
        self.wfile.write(payload)
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.script: list[Reply] = []
        self.seen: list[Seen] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (timeout test) makes our late write fail: expected

    def next_reply(self, seen: Seen) -> Reply:
        with self.lock:
            self.seen.append(seen)
            if len(self.script) > 1:
                return self.script.pop(0)
            return self.script[0] if self.script else Reply(status=500, body={"error": "no script"})


class FaultServer:
    """`with fault_server() as server: server.script = [...]; server.url`."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"

    @property
    def script(self) -> list[Reply]:
        return self._server.script

    @script.setter
    def script(self, replies: list[Reply]) -> None:
        with self._server.lock:
            self._server.script = list(replies)
            self._server.seen = []

    @property
    def seen(self) -> list[Seen]:
        return self._server.seen


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FaultServer(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- wire kits ---------------------------------------------------------------------------------
def sse(data: Any, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


@dataclass
class Kit:
    """One wire format: how to build the provider, and what its server says."""

    name: str
    create: Callable[..., Any]
    ok: Callable[[], Reply]
    stream: Callable[[], list[bytes]]
    # events of `stream()` to send so that the text is complete and a tool call started, not ended
    mid_call: int
    # events to send so that the first tool call is complete and the second one has started
    after_first_call: int
    error: Callable[[int], Reply]
    truncated_args: Callable[[], Reply] | None  # a finished turn whose tool arguments are cut JSON
    text_answer: Callable[[str], Reply]


def _openai_ok(model: str = "gpt-4o-mini") -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _openai_text(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }


def _openai_stream() -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    def call(index: int, call_id: str | None, name: str | None, args: str) -> bytes:
        fn: dict[str, Any] = {"arguments": args}
        if name:
            fn["name"] = name
        entry: dict[str, Any] = {"index": index, "function": fn}
        if call_id:
            entry.update(id=call_id, type="function")
        return chunk({"tool_calls": [entry]})

    return [
        chunk({"role": "assistant", "content": "Checking "}),  # 0
        chunk({"content": "both."}),  # 1
        call(0, "call_1", "get_weather", ""),  # 2
        call(0, None, None, '{"city": '),  # 3
        call(0, None, None, '"Paris"}'),  # 4
        call(1, "call_2", "get_weather", '{"city": '),  # 5
        call(1, None, None, '"Rome"}'),  # 6
        chunk({}, "tool_calls"),  # 7
        sse("[DONE]"),
    ]


def _openai_error(status: int) -> Reply:
    kinds = {429: "rate_limit_exceeded", 401: "invalid_api_key", 400: "invalid_request_error"}
    return Reply(
        status=status,
        body={
            "error": {"message": f"fake {status}", "type": kinds.get(status, "server_error"), "code": None}
        },
    )


def _openai_truncated() -> Reply:
    body = _openai_ok()
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"city": "Par'
    body["choices"][0]["finish_reason"] = "length"
    return Reply(body=body)


def _openai_kit(name: str, create: Callable[..., Any]) -> Kit:
    return Kit(
        name=name,
        create=create,
        ok=lambda: Reply(body=_openai_ok()),
        stream=_openai_stream,
        mid_call=4,
        after_first_call=6,
        error=_openai_error,
        truncated_args=_openai_truncated,
        text_answer=lambda text: Reply(body=_openai_text(text)),
    )


def _anthropic_ok() -> dict[str, Any]:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def _anthropic_text(text: str) -> dict[str, Any]:
    body = _anthropic_ok()
    body["content"] = [{"type": "text", "text": text}]
    body["stop_reason"] = "end_turn"
    return body


def _anthropic_events(args_parts: list[list[str]], stop: str = "tool_use") -> list[bytes]:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-haiku-4-5",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    }
    events = [
        sse(start, "message_start"),
        sse(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        ),
        sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking "}},
            "content_block_delta",
        ),
        sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "both."}},
            "content_block_delta",
        ),
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
    ]
    for n, parts in enumerate(args_parts, start=1):
        events.append(
            sse(
                {
                    "type": "content_block_start",
                    "index": n,
                    "content_block": {
                        "type": "tool_use",
                        "id": f"toolu_{n}",
                        "name": "get_weather",
                        "input": {},
                    },
                },
                "content_block_start",
            )
        )
        for part in parts:
            events.append(
                sse(
                    {
                        "type": "content_block_delta",
                        "index": n,
                        "delta": {"type": "input_json_delta", "partial_json": part},
                    },
                    "content_block_delta",
                )
            )
        events.append(sse({"type": "content_block_stop", "index": n}, "content_block_stop"))
    events.append(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 20},
            },
            "message_delta",
        )
    )
    events.append(sse({"type": "message_stop"}, "message_stop"))
    return events


def _anthropic_error(status: int) -> Reply:
    kinds = {
        429: "rate_limit_error",
        500: "api_error",
        503: "api_error",
        529: "overloaded_error",
        401: "authentication_error",
        400: "invalid_request_error",
    }
    return Reply(
        status=status,
        body={
            "type": "error",
            "error": {"type": kinds.get(status, "api_error"), "message": f"fake {status}"},
        },
    )


def _gemini_ok() -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Checking."},
                        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }


def _gemini_text(text: str) -> dict[str, Any]:
    body = _gemini_ok()
    body["candidates"][0]["content"]["parts"] = [{"text": text}]
    return body


def _gemini_stream() -> list[bytes]:
    def part(parts: list[dict[str, Any]], finish: str | None = None) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        payload: dict[str, Any] = {
            "candidates": [candidate],
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-1",
        }
        if finish:
            payload["usageMetadata"] = {
                "promptTokenCount": 10,
                "candidatesTokenCount": 5,
                "totalTokenCount": 15,
            }
        return sse(payload)

    return [
        part([{"text": "Checking "}]),  # 0
        part([{"text": "both."}]),  # 1
        part([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]),  # 2
        part([{"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}], "STOP"),  # 3
    ]


def _gemini_error(status: int) -> Reply:
    statuses = {
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
        529: "UNAVAILABLE",
        401: "UNAUTHENTICATED",
        400: "INVALID_ARGUMENT",
    }
    return Reply(
        status=status,
        body={
            "error": {"code": status, "message": f"fake {status}", "status": statuses.get(status, "INTERNAL")}
        },
    )


def _mistral_ok() -> dict[str, Any]:
    body = _openai_ok("mistral-small-latest")
    body["choices"][0]["message"]["tool_calls"][0]["id"] = "D681PevKs"
    return body


def _mistral_stream() -> list[bytes]:
    # Mistral sends each tool call whole, in one delta
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse(
            {
                "id": "cmpl-1",
                "object": "chat.completion.chunk",
                "model": "mistral-small-latest",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    def call(call_id: str, city: str) -> dict[str, Any]:
        return {
            "id": call_id,
            "type": "function",
            "index": 0,
            "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
        }

    return [
        chunk({"role": "assistant", "content": "Checking "}),  # 0
        chunk({"content": "both."}),  # 1
        chunk({"tool_calls": [call("D681PevKs", "Paris")]}),  # 2
        chunk({"tool_calls": [call("E792QfwLt", "Rome")]}),  # 3
        chunk({}, "tool_calls"),  # 4
        sse("[DONE]"),
    ]


def _mistral_error(status: int) -> Reply:
    return Reply(
        status=status,
        body={
            "object": "error",
            "message": f"fake {status}",
            "type": "api_error",
            "param": None,
            "code": str(status),
        },
    )


def _mistral_truncated() -> Reply:
    body = _mistral_ok()
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = '{"city": "Par'
    body["choices"][0]["finish_reason"] = "length"
    return Reply(body=body)


# -- Bedrock Converse: JSON bodies, binary AWS event-stream frames for ConverseStream -------------
def aws_frame(headers: dict[str, str], payload: Any) -> bytes:
    """One `application/vnd.amazon.eventstream` message (string headers, both CRCs)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    head = b"".join(
        bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v.encode())) + v.encode()
        for k, v in headers.items()
    )
    prelude = struct.pack(">II", 12 + len(head) + len(body) + 4, len(head))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + head + body
    return message + struct.pack(">I", zlib.crc32(message))


def aws_event(kind: str, payload: dict[str, Any]) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return aws_frame(headers, payload)


def _bedrock_ok() -> dict[str, Any]:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"text": "Checking."},
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},  # noqa: E501
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
        "metrics": {"latencyMs": 10},
    }


def _bedrock_text(text: str) -> dict[str, Any]:
    body = _bedrock_ok()
    body["output"]["message"]["content"] = [{"text": text}]
    body["stopReason"] = "end_turn"
    return body


def _bedrock_events(args_parts: list[list[str]], stop: str = "tool_use") -> list[bytes]:
    events = [
        aws_event("messageStart", {"role": "assistant", "p": "abc"}),
        aws_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Checking "}, "p": "ab"}),
        aws_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "both."}, "p": "a"}),
        aws_event("contentBlockStop", {"contentBlockIndex": 0, "p": "abcd"}),
    ]
    for n, parts in enumerate(args_parts, start=1):
        start = {"toolUse": {"toolUseId": f"tooluse_{n}", "name": "get_weather"}}
        events.append(aws_event("contentBlockStart", {"contentBlockIndex": n, "start": start, "p": "x"}))
        for part in parts:
            delta = {"toolUse": {"input": part}}
            events.append(aws_event("contentBlockDelta", {"contentBlockIndex": n, "delta": delta, "p": "xy"}))
        events.append(aws_event("contentBlockStop", {"contentBlockIndex": n, "p": "xyz"}))
    events.append(aws_event("messageStop", {"stopReason": stop, "p": "ab"}))
    usage = {"inputTokens": 10, "outputTokens": 20, "totalTokens": 30}
    events.append(aws_event("metadata", {"usage": usage, "metrics": {"latencyMs": 5}, "p": "a"}))
    return events


_BEDROCK_ERRORS = {
    400: "ValidationException",
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
    529: "ServiceUnavailableException",
}


def _bedrock_error(status: int) -> Reply:
    kind = _BEDROCK_ERRORS.get(status, "InternalServerException")
    return Reply(
        status=status,
        body={"message": f"fake {status}"},
        headers={"x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"},
    )


def kits(key: str = SECRET_KEY) -> dict[str, Kit]:
    """Every wire format, each building its provider against `url` with `key`."""

    def openai(url: str, **kw: Any) -> Any:
        return AbstractLLM.create("openai", model="gpt-4o-mini", api_key=key, base_url=f"{url}/v1", **kw)

    def azure(url: str, **kw: Any) -> Any:
        return AbstractLLM.create("azure_openai", deployment="gpt-4o", azure_endpoint=url, api_key=key, **kw)

    def anthropic(url: str, **kw: Any) -> Any:
        return AbstractLLM.create("anthropic", model="claude-haiku-4-5", api_key=key, base_url=url, **kw)

    def gemini(url: str, **kw: Any) -> Any:
        return AbstractLLM.create("gemini", model="gemini-2.5-flash", api_key=key, base_url=url, **kw)

    def mistral(url: str, **kw: Any) -> Any:
        return AbstractLLM.create(
            "mistral", model="mistral-small-latest", api_key=key, base_url=f"{url}/v1", **kw
        )

    def bedrock(url: str, **kw: Any) -> Any:
        return AbstractLLM.create(
            "bedrock", model="us.anthropic.claude-haiku-4-5-20251001-v1:0", api_key=key, region="us-east-1",
            base_url=url, **kw,
        )  # fmt: skip

    return {
        "bedrock": Kit(
            name="bedrock",
            create=bedrock,
            ok=lambda: Reply(body=_bedrock_ok()),
            stream=lambda: _bedrock_events([['{"city": ', '"Paris"}'], ['{"city": ', '"Rome"}']]),
            mid_call=6,  # text block done, first toolUse started with half its JSON
            after_first_call=9,  # first toolUse stopped, second started
            error=_bedrock_error,
            truncated_args=lambda: Reply(sse=_bedrock_events([['{"city": ', '"Par']], stop="max_tokens")),
            text_answer=lambda text: Reply(body=_bedrock_text(text)),
        ),
        "openai": _openai_kit("openai", openai),
        "azure_openai": _openai_kit("azure_openai", azure),
        "anthropic": Kit(
            name="anthropic",
            create=anthropic,
            ok=lambda: Reply(body=_anthropic_ok()),
            stream=lambda: _anthropic_events([['{"city": ', '"Paris"}'], ['{"city": ', '"Rome"}']]),
            mid_call=7,  # text block done, first tool_use started with half its JSON
            after_first_call=10,  # first tool_use stopped, second started
            error=_anthropic_error,
            truncated_args=lambda: Reply(sse=_anthropic_events([['{"city": ', '"Par']], stop="max_tokens")),
            text_answer=lambda text: Reply(body=_anthropic_text(text)),
        ),
        "gemini": Kit(
            name="gemini",
            create=gemini,
            ok=lambda: Reply(body=_gemini_ok()),
            stream=_gemini_stream,
            mid_call=2,  # text sent; no call yet (a Gemini call arrives whole)
            after_first_call=3,
            error=_gemini_error,
            truncated_args=None,  # arguments are JSON objects on this wire: they cannot be cut
            text_answer=lambda text: Reply(body=_gemini_text(text)),
        ),
        "mistral": Kit(
            name="mistral",
            create=mistral,
            ok=lambda: Reply(body=_mistral_ok()),
            stream=_mistral_stream,
            mid_call=2,
            after_first_call=3,
            error=_mistral_error,
            truncated_args=_mistral_truncated,
            text_answer=lambda text: Reply(body={**_openai_text(text), "model": "mistral-small-latest"}),
        ),
    }


# -- hostile model output (issue 16) -------------------------------------------------------------
KITS_FOR_HOSTILE = kits()
_BAD = '"__HOSTILE__"'


def hostile_turn(name: str, bad: str) -> Reply:
    """A finished tool-calling turn of `name`'s wire with two calls: `get_weather` whose `city` is
    the raw JSON text `bad` (1,000-deep nesting, a 5,000-digit integer, a lone surrogate escape,
    NaN) and a valid sibling `get_weather(city="Rome")`. The bytes are written by hand: `bad` is
    what a hostile model sends, which a JSON library would not produce."""
    if name in ("openai", "azure_openai", "mistral"):
        body = _mistral_ok() if name == "mistral" else _openai_ok()
        first = body["choices"][0]["message"]["tool_calls"][0]
        first["function"]["arguments"] = '{"city": ' + bad + "}"
        second = json.loads(json.dumps(first))
        second["id"] = "E792QfwLt" if name == "mistral" else "call_2"
        second["function"]["arguments"] = '{"city": "Rome"}'
        body["choices"][0]["message"]["tool_calls"].append(second)
        return Reply(body=json.dumps(body).encode())
    if name == "bedrock":
        body = _bedrock_ok()
        content = body["output"]["message"]["content"]
        content[1]["toolUse"]["input"] = {"city": "__HOSTILE__"}
        rome = {"toolUseId": "tooluse_2", "name": "get_weather", "input": {"city": "Rome"}}
        content.append({"toolUse": rome})
    elif name == "anthropic":
        body = _anthropic_ok()
        body["content"][1]["input"] = {"city": "__HOSTILE__"}
        body["content"].append(
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}}
        )
    else:
        body = _gemini_ok()
        body["candidates"][0]["content"]["parts"][1]["functionCall"]["args"] = {"city": "__HOSTILE__"}
        body["candidates"][0]["content"]["parts"].append(
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}
        )
    return Reply(body=json.dumps(body).replace(_BAD, bad).encode())
