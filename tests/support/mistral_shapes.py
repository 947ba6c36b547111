"""Mistral request/response shape checks shared by the Mistral, cross-provider and image tests: the
official SDK's pydantic models (mistralai, a test-only oracle) read what toolwire sends. Moved out of
tests/providers/mistral/test_mistral_wire.py so tests in other folders import it by a flat name."""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic
from mistralai.client import models as mm

MISTRAL_ID = re.compile(r"[a-zA-Z0-9]{9}")


def _extra_keys(model: pydantic.BaseModel, raw: Any, path: str) -> list[str]:
    """Keys of `raw` the SDK model has no field for: Mistral's server answers 422 extra_forbidden."""
    if not isinstance(raw, dict):
        return []
    fields = type(model).model_fields
    by_key = {(info.alias or name): name for name, info in fields.items()}
    by_key.update({name: name for name in fields})
    problems = []
    for key, value in raw.items():
        if key not in by_key:
            problems.append(f"{path}.{key}: extra_forbidden")
            continue
        attr = getattr(model, by_key[key])
        if isinstance(attr, pydantic.BaseModel):
            problems += _extra_keys(attr, value, f"{path}.{key}")
        elif isinstance(attr, list) and isinstance(value, list):
            for i, (item, raw_item) in enumerate(zip(attr, value)):
                if isinstance(item, pydantic.BaseModel):
                    problems += _extra_keys(item, raw_item, f"{path}.{key}[{i}]")
    return problems


def mistral_request_problems(body: dict[str, Any]) -> list[str]:
    """Why Mistral would reject this chat completion body ([] when it is valid)."""
    model_cls = mm.ChatCompletionStreamRequest if body.get("stream") else mm.ChatCompletionRequest
    try:
        parsed = model_cls.model_validate(body)
    except pydantic.ValidationError as exc:
        return [f"SDK model rejects the body: {exc}"]
    problems = _extra_keys(parsed, body, "body")
    calls_open: list[str] = []
    previous = None
    for i, message in enumerate(body["messages"]):
        role = message["role"]
        if role == "assistant":
            if calls_open:
                problems.append(f"messages[{i}]: assistant turn while calls {calls_open} are unanswered")
            ids = [c.get("id") for c in message.get("tool_calls") or ()]
            for call_id in ids:
                if not isinstance(call_id, str) or not MISTRAL_ID.fullmatch(call_id):
                    problems.append(f"messages[{i}]: tool call id {call_id!r} is not 9 alphanumerics")
            if len(set(ids)) != len(ids):
                problems.append(f"messages[{i}]: duplicate tool call ids {ids}")
            if not ids and not message.get("content"):
                problems.append(f"messages[{i}]: assistant turn with neither content nor tool calls")
            calls_open = list(ids)
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if previous not in ("assistant", "tool"):
                problems.append(f"messages[{i}]: tool result not right after the assistant turn")
            if not calls_open or call_id != calls_open[0]:
                problems.append(
                    f"messages[{i}]: Unexpected tool call id {call_id!r} in tool results "
                    f"(expected the next of {calls_open})"
                )
            else:
                calls_open.pop(0)
        else:
            if calls_open:
                problems.append(f"messages[{i}]: {role} turn while calls {calls_open} are unanswered")
            calls_open = []
        previous = role
    return problems


def sdk_tool_calls(sdk_response: Any) -> list[tuple[str, str, Any]]:
    """(id, name, arguments) of the first choice, as the mistralai SDK reads them."""
    message = sdk_response.choices[0].message
    out = []
    for call in message.tool_calls or ():
        arguments = call.function.arguments
        out.append(
            (call.id, call.function.name, arguments if isinstance(arguments, dict) else json.loads(arguments))
        )
    return out


# -- ids -----------------------------------------------------------------------------------------
