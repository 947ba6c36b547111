"""Gemini request translation: neutral messages, tools and options → a `GenerateContentRequest` body.

Split out of `providers/gemini.py` (which re-exports every name here); the wire rules it enforces are
listed in that module's docstring and in docs/providers/gemini.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import AuthenticationError, ContextLengthError, ProviderError, RateLimitError
from ..tools.definition import ToolDefinition, arguments_unreadable
from ..types import (
    Message,
    ResponseFormat,
    ToolCall,
    ToolResult,
    content_parts,
)
from .base import (
    ChatRequest,
    build_provider_error,
    decode_error_body,
    structured_schema,
)

if TYPE_CHECKING:
    from ..image import Image


# Sent as the user turn in front of a history that opens with a model turn. Not empty: Vertex
# answers 400 "empty text parameter" to an empty text part.
TURN_ORDER_FILLER = "."
# the key under which a call whose arguments did not parse carries the model's text back
UNPARSED_ARGUMENTS = "unparsed_arguments"

_SAMPLING_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
}
_TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


# -- request ---------------------------------------------------------------------------------
def gemini_tools(tools: Sequence[ToolDefinition], *, json_schema: bool = False) -> list[dict[str, Any]]:
    """`[{"functionDeclarations": [...]}]`. With `json_schema=True` the parameters travel as full
    JSON Schema in `parametersJsonSchema` (newer models); otherwise in the OpenAPI subset
    (`parameters`), omitted for a function without arguments (Gemini rejects an empty object)."""
    declarations = []
    for tool in tools:
        declaration: dict[str, Any] = {"name": tool.name, "description": tool.description or ""}
        if json_schema:
            declaration["parametersJsonSchema"] = tool.parameters_for("json_schema")
        else:
            parameters = tool.parameters_for("gemini")
            if parameters:
                declaration["parameters"] = parameters
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}]


def _own(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The `gemini` entry of a provider_data dict (other providers' entries are ignored)."""
    if not data:
        return {}
    own = data.get("gemini")
    return own if isinstance(own, Mapping) else {}


def gemini_call_id(call: ToolCall) -> str | None:
    """The id Gemini itself gave this call, or None (generated and foreign ids are never sent)."""
    value = _own(call.provider_data).get("id")
    return str(value) if value else None


def _response_payload(result: ToolResult) -> dict[str, Any]:
    if result.error is not None:
        return {"error": result.error}
    output = result.output
    if isinstance(output, str):
        try:
            value: Any = json.loads(output)
        except ValueError:
            value = output
        return {"result": value}
    text = result.output_text()
    try:
        return {"result": json.loads(text)}
    except ValueError:
        return {"result": text}


def _call_args(call: ToolCall) -> dict[str, Any]:
    # `args` is an object on this wire. A call whose arguments did not parse has `{}` in
    # `arguments`; sending that back would show the model a valid call with no arguments, so it
    # sees what it wrote instead (Chat Completions and the Responses API send the raw text as is;
    # the tool's result, an error, says why it did not run).
    # (arguments that were read but fail the tool's schema go back as the object they are)
    if arguments_unreadable(call) and call.raw_arguments is not None:
        return {UNPARSED_ARGUMENTS: call.raw_arguments}
    return call.arguments


def _call_part(call: ToolCall) -> dict[str, Any]:
    function_call: dict[str, Any] = {"name": call.name, "args": _call_args(call)}
    gemini_id = gemini_call_id(call)
    if gemini_id:
        function_call["id"] = gemini_id
    part: dict[str, Any] = {"functionCall": function_call}
    signature = _own(call.provider_data).get("thought_signature")
    if signature:
        part["thoughtSignature"] = signature
    return part


def inline_image_part(image: Image) -> dict[str, Any]:
    """An `inlineData` part (URL images are downloaded before translation: Gemini takes bytes)."""
    if image.data is None:
        raise ValueError(f"gemini: image {image.url!r} must be downloaded before it is sent")
    return {"inlineData": {"mimeType": image.media_type, "data": image.base64()}}


def _user_parts(message: Message) -> list[dict[str, Any]]:
    parts = [
        {"text": part} if isinstance(part, str) else inline_image_part(part)
        for part in content_parts(message.content)
    ]
    return parts or [{"text": ""}]


def _result_image_parts(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    # The images a tool returned follow its functionResponse in the same user turn, each run of
    # them introduced by the call it answers (the response itself must stay a JSON object).
    parts: list[dict[str, Any]] = []
    for result in results:
        images = result.images()
        if images:
            parts.append({"text": f"Images returned by {result.name} (call {result.call_id}):"})
            parts.extend(inline_image_part(image) for image in images)
    return parts


def gemini_contents(messages: Sequence[Message]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Neutral messages → (`systemInstruction` or None, `contents`)."""
    system_parts: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    calls: dict[str, ToolCall] = {}
    turn_calls: list[str] = []
    positions: dict[int, int] = {}  # functionResponse part (by identity) -> index of its call
    image_parts: set[int] = set()  # the parts that carry tool results' images (by identity)

    def add(role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})

    for message in messages:
        if message.role == "system":
            if message.text:
                system_parts.append({"text": message.text})
            continue
        if message.role == "user":
            add("user", _user_parts(message))
            continue
        if message.role == "assistant":
            parts: list[dict[str, Any]] = []
            if message.text:
                text_part: dict[str, Any] = {"text": message.text}
                signature = _own(message.provider_data).get("thought_signature")
                if signature:
                    text_part["thoughtSignature"] = signature
                parts.append(text_part)
            turn_calls = []
            for call in message.tool_calls or ():
                calls[call.id] = call
                turn_calls.append(call.id)
                parts.append(_call_part(call))
            # an assistant message with neither text nor calls says nothing: not sent
            add("model", parts)
            continue
        # role == "tool": every result of the turn in one user content, in the order of the calls
        # (Gemini pairs responses with calls by name and position), also when the results came as
        # several tool messages (one per result, as OpenAI-shaped histories do)
        if not message.tool_results:
            raise ValueError("a tool message needs tool_results (call_id, name, output)")
        order = {call_id: i for i, call_id in enumerate(turn_calls)}
        parts = []
        for result in message.tool_results:
            answered = calls.get(result.call_id)
            name = result.name or (answered.name if answered is not None else "")
            if not name:
                raise ValueError(
                    f"tool result {result.call_id!r} has no name and answers no call in the history: "
                    "Gemini matches results to calls by function name"
                )
            function_response: dict[str, Any] = {"name": name, "response": _response_payload(result)}
            answered_id = gemini_call_id(answered) if answered is not None else None
            if answered_id:
                function_response["id"] = answered_id
            part = {"functionResponse": function_response}
            positions[id(part)] = order.get(result.call_id, len(order))
            parts.append(part)
        add("user", parts)
        last = contents[-1]["parts"]
        responses = [p for p in last if id(p) not in image_parts]
        if all(id(p) in positions for p in responses):
            # responses in call order, then the images of the turn's results
            responses.sort(key=lambda p: positions[id(p)])
            last[:] = responses + [p for p in last if id(p) in image_parts]
        extra = _result_image_parts(message.tool_results)
        image_parts.update(id(p) for p in extra)
        last.extend(extra)

    if contents and contents[0]["role"] == "model":
        # "function call turn comes immediately after a user turn or after a function response
        # turn": a history that opens with the model gets a minimal user turn in front.
        contents.insert(0, {"role": "user", "parts": [{"text": TURN_ORDER_FILLER}]})
    system = {"role": "user", "parts": system_parts} if system_parts else None
    return system, contents


def _merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if value is None:
            body.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(body.get(key), dict):
            body[key] = {**body[key], **value}
        else:
            body[key] = value


def generate_content_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body of a `generateContent` / `streamGenerateContent` request."""
    system, contents = gemini_contents(request.messages)
    body: dict[str, Any] = {"contents": contents}
    if system is not None:
        body["systemInstruction"] = system
    if request.tools:
        body["tools"] = request.tool_payload
        choice = request.tool_choice
        if choice is not None:
            mode = _TOOL_CHOICE_MODES.get(choice)
            config: dict[str, Any] = {"mode": mode or "ANY"}
            if mode is None:
                config["allowedFunctionNames"] = [choice]
            body["toolConfig"] = {"functionCallingConfig": config}
    # parallel_tool_calls has no Gemini counterpart: the model decides (documented, not sent).
    generation: dict[str, Any] = {}
    for key, value in request.params.items():
        generation[_SAMPLING_FIELDS.get(key, key)] = value
    if request.response_model is not None and request.tools:
        # Gemini refuses tools beside responseMimeType "application/json" (400: "Function calling
        # with a response mime type ... is unsupported"): the tools run first, and the schema
        # goes in the instructions; the answer is validated (and re-asked) as usual.
        schema = structured_schema(request.response_model, "gemini", strict=False)
        note = (
            "When you answer without calling a function, answer with only a JSON object (no code "
            f"fence) matching this JSON schema: {json.dumps(schema, separators=(',', ':'))}"
        )
        instruction = body.get("systemInstruction") or {}
        parts = [*(instruction.get("parts") or []), {"text": note}]
        body["systemInstruction"] = {**instruction, "parts": parts}
    elif request.response_model is not None:
        generation["responseMimeType"] = "application/json"
        schema = structured_schema(request.response_model, "gemini", strict=False)
        if schema:
            generation["responseSchema"] = schema
    elif request.response_format is ResponseFormat.JSON:
        generation["responseMimeType"] = "application/json"
    if generation:
        body["generationConfig"] = generation
    if request.extra:
        _merge_extra(body, request.extra)
    return body


# -- errors ----------------------------------------------------------------------------------
def _duration_seconds(value: Any) -> float | None:
    """google.protobuf.Duration JSON ("34.4s") → seconds."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    return None


def gemini_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    provider: str = "gemini",
    request_id: str | None = None,
) -> ProviderError:
    """A google.rpc status body `{"error": {"code", "message", "status", "details"}}` → error."""
    payload: Any = decode_error_body(body)
    if isinstance(payload, list) and payload:
        payload = payload[0]  # streamGenerateContent without alt=sse wraps the error in an array
    error = payload.get("error") if isinstance(payload, Mapping) else None
    message = ""
    rpc_status: str | None = None
    reasons: list[str] = []
    retry_delay: float | None = None
    quota_ids: list[str] = []
    if isinstance(error, Mapping):
        message = str(error.get("message") or "")
        rpc_status = str(error["status"]) if error.get("status") else None
        for detail in error.get("details") or ():
            if not isinstance(detail, Mapping):
                continue
            kind = str(detail.get("@type", ""))
            if kind.endswith("google.rpc.ErrorInfo") and detail.get("reason"):
                reasons.append(str(detail["reason"]))
            elif kind.endswith("google.rpc.RetryInfo"):
                retry_delay = _duration_seconds(detail.get("retryDelay"))
            elif kind.endswith("google.rpc.QuotaFailure"):
                violations = detail.get("violations") or ()
                quota_ids.extend(str(v.get("quotaId", "")) for v in violations if isinstance(v, Mapping))
    elif isinstance(payload, str):
        message = payload
    text = message or f"HTTP {status}"
    code = reasons[0] if reasons else rpc_status
    kwargs: dict[str, Any] = {
        "provider": provider,
        "status_code": status,
        "request_id": request_id,
        "body": payload,
        "code": code,
    }
    auth_reasons = {
        "API_KEY_INVALID",
        "API_KEY_SERVICE_BLOCKED",
        "ACCESS_TOKEN_EXPIRED",
        "CREDENTIALS_MISSING",
    }
    if any(r in auth_reasons for r in reasons) or rpc_status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return AuthenticationError(text, **kwargs)
    if status == 429 or rpc_status == "RESOURCE_EXHAUSTED":
        from .._transport import parse_retry_after

        retry_after = retry_delay if retry_delay is not None else parse_retry_after(headers)
        limited = RateLimitError(text, retry_after=retry_after, **kwargs)
        if any("PerDay" in quota for quota in quota_ids):
            # a daily quota (GenerateRequestsPerDayPerProjectPerModel...) does not come back by
            # waiting retryDelay seconds: retrying only spends the rest of the run on 429s
            limited.retryable = False
        return limited
    if status == 400 and "exceeds the maximum number of tokens" in text:
        return ContextLengthError(text, **kwargs)
    return build_provider_error(
        status, text, provider=provider, headers=headers, body=payload, request_id=request_id, code=code
    )
