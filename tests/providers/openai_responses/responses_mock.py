"""A capturing mock of `POST /responses` for the wire tests: canned bodies or SSE streams in, the
requests we sent out. Response bodies follow the shapes of the recorded fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx2

from toolwire import AbstractLLM

Answer = dict[str, Any] | str | tuple[int, dict[str, Any]]


def response_body(
    output: list[dict[str, Any]],
    *,
    id: str = "resp_1",
    status: str = "completed",
    usage: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": id,
        "object": "response",
        "created_at": 1,
        "status": status,
        "model": "gpt-5-mini-2025-08-07",
        "output": output,
        "usage": usage
        or {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 3},
            "total_tokens": 15,
        },
        "error": None,
        "incomplete_details": None,
        **extra,
    }


def call_item(call_id: str, name: str, arguments: str, *, id: str | None = None) -> dict[str, Any]:
    return {
        "id": id or f"fc_{call_id}",
        "type": "function_call",
        "status": "completed",
        "arguments": arguments,
        "call_id": call_id,
        "name": name,
    }


def message_item(text: str, *, id: str = "msg_1") -> dict[str, Any]:
    return {
        "id": id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "annotations": [], "text": text}],
    }


def reasoning_item(id: str, encrypted: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": id, "type": "reasoning", "summary": []}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return item


def sse(events: Iterable[dict[str, Any]]) -> str:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


class Server:
    """Answers each request with the next canned answer; keeps what was sent."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, str):
            return httpx2.Response(200, text=answer, headers={"content-type": "text/event-stream"})
        if isinstance(answer, tuple):
            return httpx2.Response(answer[0], json=answer[1], headers={"x-request-id": "req_1"})
        return httpx2.Response(200, json=answer)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def make(answers: list[Answer], provider: str = "openai", **config: Any) -> tuple[Any, Server]:
    server = Server(answers)
    transport = httpx2.MockTransport(server)
    defaults: dict[str, Any] = {"model": "gpt-5-mini", "api_key": "sk-test", "max_retries": 0}
    if provider == "azure_openai":
        defaults = {
            "deployment": "gpt-5-mini",
            "azure_endpoint": "https://res.openai.azure.com",
            "max_retries": 0,
        }
        if "azure_ad_token_provider" not in config:
            defaults["api_key"] = "azure-key"
    llm = AbstractLLM.create(
        provider,
        api="responses",
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
        **{**defaults, **config},
    )
    return llm, server


Factory = Callable[..., tuple[Any, Server]]
