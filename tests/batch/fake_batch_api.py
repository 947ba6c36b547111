"""In-process fakes of the OpenAI (and Azure v1) Files + Batches API and Anthropic Message Batches,
as httpx2 MockTransport handlers, shaped as the recorded flows in
../shared/fixtures/recorded/batch (object fields, status progressions, JSONL result lines).

Each batch line is answered by `answer(body)` (the rate-limited fake's chat logic, or an Anthropic
twin), so a tool-calling conversation really progresses round by round. Knobs: `drop` (custom ids
left out of both files), `fail` (custom ids answered with an error), `create_status` (the status
of the first batch creation, e.g. 500), `polls` (in_progress polls before completion), `final`
(the end status: completed, expired, cancelled), and results are written in reverse order.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
from ratelimited_server import chat_answer, first_user_text

_ids = itertools.count(1)


def anthropic_answer(params: dict[str, Any]) -> dict[str, Any]:
    """A Messages API answer: a tool_use per tool unless the last user turn carries tool results."""
    messages = params.get("messages") or []
    last = messages[-1] if messages else {}
    content = last.get("content")
    has_results = isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    )
    n = next(_ids)
    tools = params.get("tools") or []
    if tools and not has_results:
        blocks = [
            {"type": "tool_use", "id": f"toolu_{n}_{i}", "name": t["name"], "input": _inputs(t)}
            for i, t in enumerate(tools)
        ]
        stop = "tool_use"
    else:
        blocks = [{"type": "text", "text": f"answer to {first_user_text(messages)}"}]
        stop = "end_turn"
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": params.get("model"),
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 30, "output_tokens": 5},
    }


def responses_answer(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses API answer: a function_call per function tool unless results came back."""
    items = body.get("input") or []
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    first = next((i for i in items if i.get("role") == "user"), {})
    content = first.get("content")
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content or [])
    tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    n = next(_ids)
    results = [i["output"] for i in items if i.get("type") == "function_call_output"]
    if tools and not results:
        output = [
            {
                "type": "function_call",
                "id": f"fc_{n}_{k}",
                "call_id": f"call_{n}_{k}",
                "name": t["name"],
                "arguments": json.dumps(_inputs({"input_schema": t.get("parameters") or {}})),
                "status": "completed",
            }
            for k, t in enumerate(tools)
        ]
    else:
        answer = f"answer to {text}" + (" using " + ", ".join(map(str, results)) if results else "")
        output = [
            {
                "type": "message",
                "id": f"msg_{n}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": answer, "annotations": []}],
            }
        ]
    return {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": body.get("model"),
        "output": output,
        "usage": {"input_tokens": 30, "output_tokens": 5, "total_tokens": 35},
    }


def _inputs(tool: dict[str, Any]) -> dict[str, Any]:
    schema = tool.get("input_schema") or {}
    props = schema.get("properties") or {}
    return {
        k: (2 if props[k].get("type") == "integer" else "x") for k in schema.get("required", []) if k in props
    }


@dataclass
class FakeBatchAPI:
    kind: str = "openai"  # or "anthropic"
    drop: set[str] = field(default_factory=set)
    fail: set[str] = field(default_factory=set)
    create_status: int | None = None
    polls: int = 1
    final: str = "completed"
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: list[list[dict[str, Any]]] = field(default_factory=list)
    creates: int = 0
    requests: list[httpx2.Request] = field(default_factory=list)
    _lines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _polled: dict[str, int] = field(default_factory=dict)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        path = request.url.path
        if self.kind == "anthropic":
            return self._anthropic(request, path)
        return self._openai(request, path)

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self.handler))

    # -- OpenAI --------------------------------------------------------------------------------
    def _openai(self, request: httpx2.Request, path: str) -> httpx2.Response:
        if request.method == "POST" and path.endswith("/files"):
            content = _multipart_file(request)
            lines = [json.loads(x) for x in content.decode().splitlines() if x.strip()]
            self.uploads.append(lines)
            file_id = f"file-{next(_ids)}"
            self.files[file_id] = content
            return httpx2.Response(
                200,
                json={
                    "object": "file",
                    "id": file_id,
                    "purpose": "batch",
                    "filename": "batch.jsonl",
                    "bytes": len(content),
                    "status": "processed",
                },
            )
        if request.method == "POST" and path.endswith("/batches"):
            self.creates += 1
            if self.create_status is not None and self.creates == 1:
                return httpx2.Response(self.create_status, json={"error": {"message": "upstream failure"}})
            body = json.loads(request.content)
            batch_id = f"batch_{next(_ids)}"
            self._lines[batch_id] = [
                json.loads(x) for x in self.files[body["input_file_id"]].decode().splitlines()
            ]
            self.batches[batch_id] = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body["endpoint"],
                "errors": None,
                "input_file_id": body["input_file_id"],
                "completion_window": "24h",
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "metadata": body.get("metadata"),
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
            }
            return httpx2.Response(200, json=self.batches[batch_id])
        match = re.search(r"/batches/([^/]+)$", path)
        if request.method == "GET" and match:
            return httpx2.Response(200, json=self._advance_openai(match.group(1)))
        match = re.search(r"/batches/([^/]+)/cancel$", path)
        if request.method == "POST" and match:  # OpenAI: `cancelling`, then `cancelled`
            self.batches[match.group(1)]["status"] = "cancelling"
            return httpx2.Response(200, json=self.batches[match.group(1)])
        match = re.search(r"/files/([^/]+)/content$", path)
        if request.method == "GET" and match:
            return httpx2.Response(
                200, content=self.files[match.group(1)], headers={"content-type": "application/octet-stream"}
            )
        return httpx2.Response(404, json={"error": {"message": f"no route {path}"}})

    def _advance_openai(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        lines = self._lines[batch_id]
        seen = self._polled[batch_id] = self._polled.get(batch_id, 0) + 1
        batch["request_counts"]["total"] = len(lines)
        if seen <= self.polls:
            batch["status"] = "in_progress"
            return batch
        batch["status"] = self.final
        out, err = [], []
        for line in reversed(lines):  # any order: matched by custom_id
            cid = line["custom_id"]
            if cid in self.drop:
                continue
            if cid in self.fail:
                err.append(
                    {
                        "id": f"batch_req_{cid}",
                        "custom_id": cid,
                        "response": {
                            "status_code": 400,
                            "request_id": f"req_{cid}",
                            "body": {
                                "error": {
                                    "message": "Invalid 'messages'",
                                    "type": "invalid_request_error",
                                    "param": "messages",
                                    "code": None,
                                }
                            },
                        },
                        "error": None,
                    }
                )
                continue
            out.append(
                {
                    "id": f"batch_req_{cid}",
                    "custom_id": cid,
                    "response": {
                        "status_code": 200,
                        "request_id": f"req_{cid}",
                        "body": _answer(line),
                    },
                    "error": None,
                }
            )
        for key, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                file_id = f"file-{next(_ids)}"
                self.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                batch[key] = file_id
        batch["request_counts"].update(completed=len(out), failed=len(err))
        return batch

    # -- Anthropic -----------------------------------------------------------------------------
    def _anthropic(self, request: httpx2.Request, path: str) -> httpx2.Response:
        if request.method == "POST" and path.endswith("/v1/messages/batches"):
            self.creates += 1
            if self.create_status is not None and self.creates == 1:
                return httpx2.Response(
                    self.create_status,
                    json={
                        "type": "error",
                        "error": {"type": "api_error", "message": "Internal server error"},
                    },
                )
            requests = json.loads(request.content)["requests"]
            self.uploads.append(requests)
            batch_id = f"msgbatch_{next(_ids)}"
            self._lines[batch_id] = requests
            self.batches[batch_id] = {
                "id": batch_id,
                "type": "message_batch",
                "processing_status": "in_progress",
                "request_counts": {
                    "processing": len(requests),
                    "succeeded": 0,
                    "errored": 0,
                    "canceled": 0,
                    "expired": 0,
                },
                "results_url": None,
            }
            return httpx2.Response(200, json=self.batches[batch_id])
        match = re.search(r"/v1/messages/batches/([^/]+)$", path)
        if request.method == "GET" and match:
            batch_id = match.group(1)
            seen = self._polled[batch_id] = self._polled.get(batch_id, 0) + 1
            batch = self.batches[batch_id]
            if seen > self.polls:
                batch["processing_status"] = "ended"
                batch["results_url"] = f"https://api.anthropic.com/v1/messages/batches/{batch_id}/results"
                return httpx2.Response(200, json=batch)
            return httpx2.Response(200, json=batch, headers={"retry-after": "10"})
        match = re.search(r"/v1/messages/batches/([^/]+)/results$", path)
        if request.method == "GET" and match:
            rows = []
            for line in reversed(self._lines[match.group(1)]):
                cid = line["custom_id"]
                if cid in self.drop:
                    continue
                if cid in self.fail:
                    result: dict[str, Any] = {
                        "type": "errored",
                        "error": {
                            "type": "error",
                            "error": {"type": "invalid_request_error", "message": "messages: bad"},
                        },
                    }
                elif self.final == "expired":
                    result = {"type": "expired"}
                else:
                    result = {"type": "succeeded", "message": anthropic_answer(line["params"])}
                rows.append({"custom_id": cid, "result": result})
            return httpx2.Response(200, content="".join(json.dumps(r) + "\n" for r in rows).encode())
        return httpx2.Response(
            404, json={"type": "error", "error": {"type": "not_found_error", "message": path}}
        )


def _answer(line: dict[str, Any]) -> dict[str, Any]:
    """The answer for one OpenAI batch line, by its endpoint."""
    if line["url"] == "/v1/responses":
        return responses_answer(line["body"])
    return chat_answer(line["body"])


def _multipart_file(request: httpx2.Request) -> bytes:
    """The `file` part of a multipart/form-data body."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    for part in request.content.split(b"--" + boundary):
        head, _, body = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return body[:-2] if body.endswith(b"\r\n") else body
    raise AssertionError("no file part in the upload")


Answer = Callable[[dict[str, Any]], dict[str, Any]]
