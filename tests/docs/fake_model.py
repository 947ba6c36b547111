"""An offline stand-in for every provider the docs use, as one httpx2 transport.

The documentation's examples (and examples/*.py under test) create providers the normal way; this
transport replaces the network transports httpx2 would open, so their requests never leave the
process. It answers each wire format the way the real service shapes its responses (the recorded
exchanges in ../shared/fixtures/recorded are the reference for the shapes):

- Chat Completions (`.../chat/completions`: OpenAI, Azure OpenAI, Mistral, Ollama, any compatible
  server), JSON or SSE (`stream: true`), Anthropic Messages (`.../messages`) and Gemini
  (`...:generateContent`), JSON.
- A "model" that behaves like the one in ../shared/bench/fake_openai_server.py: with tools offered and
  no tool result yet, it calls up to two of them (one when `parallel_tool_calls` is false or a tool is
  forced), filling required parameters from the schema; after tool results, or without tools, it
  answers in text naming the results it received; with a JSON schema response format it answers a
  JSON instance of that schema.

Every request is kept in `requests` so tests can assert on what was sent.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx2

# What a user has in their environment; every value is fake, every host is answered in-process.
FAKE_ENV = {
    "AZURE_OPENAI_ENDPOINT": "https://my-resource.openai.azure.com",
    "AZURE_OPENAI_API_KEY": "azure-doc-test-key",
    "OPENAI_API_KEY": "sk-doc-test-key",
    "ANTHROPIC_API_KEY": "sk-ant-doc-test-key",
    "GEMINI_API_KEY": "gemini-doc-test-key",
    "MISTRAL_API_KEY": "mistral-doc-test-key",
}
# The only host each fake key may be sent to.
KEY_HOSTS = {
    "azure-doc-test-key": "my-resource.openai.azure.com",
    "sk-doc-test-key": "api.openai.com",
    "sk-ant-doc-test-key": "api.anthropic.com",
    "gemini-doc-test-key": "generativelanguage.googleapis.com",
    "mistral-doc-test-key": "api.mistral.ai",
}
WEATHER_ARGS = {"city": "Paris", "location": "Paris", "unit": "celsius"}


def instance(schema: dict[str, Any], defs: dict[str, Any] | None = None, name: str = "") -> Any:
    """A simple value valid for `schema` (required properties only, first enum value)."""
    defs = defs if defs is not None else schema.get("$defs", schema.get("definitions", {}))
    if "$ref" in schema:
        return instance(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, name)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return instance(options[0], defs, name)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    kind = str(kind).lower()
    if kind == "object":
        props = schema.get("properties", {})
        required = schema.get("required", list(props) if schema.get("additionalProperties") is False else [])
        return {key: instance(props[key], defs, key) for key in required if key in props}
    if kind == "array":
        return [instance(schema.get("items", {"type": "string"}), defs, name)]
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return WEATHER_ARGS.get(name, "Paris")


def _tool_schemas(body: dict[str, Any], wire: str) -> list[tuple[str, dict[str, Any]]]:
    tools: list[tuple[str, dict[str, Any]]] = []
    for tool in body.get("tools") or []:
        if wire == "chat" and tool.get("type") == "function":
            tools.append((tool["function"]["name"], tool["function"].get("parameters") or {}))
        elif wire == "anthropic" and "name" in tool:
            tools.append((tool["name"], tool.get("input_schema") or {}))
        elif wire == "gemini":
            for decl in tool.get("functionDeclarations") or tool.get("function_declarations") or []:
                params = decl.get("parametersJsonSchema") or decl.get("parameters") or {}
                tools.append((decl["name"], params))
    return tools


class FakeModel:
    """Decides what the fake model answers; wire-neutral."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.bodies: list[dict[str, Any]] = []

    def calls(
        self, tools: list[tuple[str, dict[str, Any]]], answered: int, forced: str | None, parallel: bool
    ) -> list[tuple[str, dict[str, Any]]]:
        if answered or not tools:
            return []
        if forced:
            tools = [t for t in tools if t[0] == forced] or tools[:1]
        chosen = tools[:1] if (forced or not parallel) else tools[:2]
        return [(name, instance(schema)) for name, schema in chosen]

    def text(self, answered: int, schema: dict[str, Any] | None, json_mode: bool) -> str:
        if schema is not None:
            return json.dumps(instance(schema))
        if json_mode:
            return json.dumps({"answer": "Paris"})
        if answered:
            return f"Received {answered} tool result(s). It is 18 degrees and cloudy in Paris."
        return "Hello from the fake model."


def _sse(events: list[Any]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}


class FakeModelTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Answers every provider's request from `FakeModel`, in that provider's wire format."""

    def __init__(self) -> None:
        self.model = FakeModel()
        self.counter = 0

    @property
    def requests(self) -> list[httpx2.Request]:
        return self.model.requests

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return self._answer(request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return self._answer(request)

    # -- dispatch ---------------------------------------------------------------------------------
    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:  # an upload (multipart) or other non-JSON body: no model route takes it
            body = {}
        self.model.requests.append(request)
        self.model.bodies.append(body)
        self.counter += 1
        path = request.url.path
        if path.endswith("/chat/completions"):
            return self._chat(body)
        if path.endswith("/messages"):
            return self._anthropic(body)
        if re.search(r":(stream)?[gG]enerateContent$", path):
            return self._gemini(body, path.endswith("treamGenerateContent"))
        return httpx2.Response(404, json={"error": {"message": f"fake model: no route {path}"}})

    # -- Chat Completions ------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> httpx2.Response:
        messages = body.get("messages") or []
        answered = 0
        for message in reversed(messages):
            if message.get("role") != "tool":
                break
            answered += 1
        choice = body.get("tool_choice")
        forced = choice["function"]["name"] if isinstance(choice, dict) else None
        tools = [] if choice == "none" else _tool_schemas(body, "chat")
        calls = self.model.calls(tools, answered, forced, body.get("parallel_tool_calls", True) is not False)
        fmt = body.get("response_format") or {}
        schema = fmt.get("json_schema", {}).get("schema") if fmt.get("type") == "json_schema" else None
        text = None if calls else self.model.text(answered, schema, fmt.get("type") == "json_object")
        tool_calls = [
            {"id": f"call_{self.counter}_{i}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(calls)
        ]
        finish = "tool_calls" if calls else "stop"
        model = body.get("model") or "fake-model"
        if body.get("stream"):
            return self._chat_stream(model, text, tool_calls, finish)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        payload = {
            "id": f"chatcmpl-{self.counter}", "object": "chat.completion", "created": 1767225600,
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": _usage(),
        }
        return httpx2.Response(200, json=payload)

    def _chat_stream(
        self, model: str, text: str | None, tool_calls: list[dict[str, Any]], finish: str
    ) -> httpx2.Response:
        base = {"id": f"chatcmpl-{self.counter}", "object": "chat.completion.chunk", "created": 1767225600,
                "model": model}

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

        events = [chunk({"role": "assistant", "content": ""})]
        for word in re.findall(r"\S+\s*", text or ""):
            events.append(chunk({"content": word}))
        for index, call in enumerate(tool_calls):
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}
            events.append(chunk({"tool_calls": [head]}))
            arguments = call["function"]["arguments"]
            for start in range(0, len(arguments), 7):
                part = {"index": index, "function": {"arguments": arguments[start:start + 7]}}
                events.append(chunk({"tool_calls": [part]}))
        events.append(chunk({}, finish))
        events.append({**base, "choices": [], "usage": _usage()})
        return httpx2.Response(200, content=_sse(events), headers={"content-type": "text/event-stream"})

    # -- Anthropic Messages ---------------------------------------------------------------------
    def _anthropic(self, body: dict[str, Any]) -> httpx2.Response:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        content = last.get("content")
        blocks_in = content if isinstance(content, list) else []
        answered = sum(1 for block in blocks_in if block.get("type") == "tool_result")
        choice = body.get("tool_choice") or {}
        forced = choice.get("name") if choice.get("type") == "tool" else None
        tools = [] if choice.get("type") == "none" else _tool_schemas(body, "anthropic")
        parallel = not choice.get("disable_parallel_tool_use", False)
        calls = self.model.calls(tools, answered, forced, parallel)
        blocks: list[dict[str, Any]] = [
            {"type": "tool_use", "id": f"toolu_{self.counter}{i}", "name": name, "input": args}
            for i, (name, args) in enumerate(calls)
        ]
        if not calls:
            blocks = [{"type": "text", "text": self.model.text(answered, None, False)}]
        payload = {
            "id": f"msg_{self.counter}", "type": "message", "role": "assistant",
            "model": body.get("model", "claude"), "content": blocks,
            "stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 20, "output_tokens": 10},
        }
        return httpx2.Response(200, json=payload)

    # -- Gemini generateContent ------------------------------------------------------------------
    def _gemini(self, body: dict[str, Any], stream: bool) -> httpx2.Response:
        contents = body.get("contents") or []
        parts = contents[-1].get("parts", []) if contents else []
        answered = sum(1 for part in parts if "functionResponse" in part or "function_response" in part)
        config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
        mode = str(config.get("mode", "AUTO")).upper()
        allowed = config.get("allowedFunctionNames") or []
        tools = [] if mode == "NONE" else _tool_schemas(body, "gemini")
        calls = self.model.calls(tools, answered, allowed[0] if mode == "ANY" and allowed else None, True)
        generation = body.get("generationConfig") or {}
        schema = generation.get("responseJsonSchema") or generation.get("responseSchema")
        out: list[dict[str, Any]] = [{"functionCall": {"name": name, "args": args}} for name, args in calls]
        if not calls:
            json_mode = generation.get("responseMimeType") == "application/json"
            out = [{"text": self.model.text(answered, schema, json_mode)}]
        payload = {
            "candidates": [{"content": {"role": "model", "parts": out}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 10, "totalTokenCount": 30},
            "modelVersion": "gemini-2.5-flash",
        }
        if stream:  # streamGenerateContent?alt=sse: the same candidate as one SSE event
            return httpx2.Response(
                200, content=b"data: " + json.dumps(payload).encode() + b"\r\n\r\n",
                headers={"content-type": "text/event-stream"},
            )
        return httpx2.Response(200, json=payload)

