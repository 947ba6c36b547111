"""Gemini (issue 16 item 19): integer enums stay integers, `dict[str, X]` says what its keys and
values are, and a call whose arguments did not parse goes back as what the model wrote."""

from __future__ import annotations

from typing import Literal

from test_dialects import check_gemini
from toolwire import Message
from toolwire.providers.base import ChatRequest
from toolwire.providers.gemini_wire import UNPARSED_ARGUMENTS, gemini_tools, generate_content_body
from toolwire.tools.definition import ToolDefinition
from toolwire.tools.plan import plan_calls
from toolwire.types import ToolCall, ToolResult


def set_level(level: Literal[1, 2, 3], scores: dict[str, int]) -> str:
    """Set the level.

    Args:
        level: how loud
        scores: points per player
    """
    return f"{level!r} {scores!r}"


def declaration(tool: ToolDefinition) -> dict[str, object]:
    [entry] = gemini_tools([tool])
    [function] = entry["functionDeclarations"]
    assert isinstance(function, dict)
    return function


def test_an_integer_enum_is_sent_as_an_integer_with_its_values_described() -> None:
    tool = ToolDefinition.coerce(set_level)
    parameters = declaration(tool)["parameters"]
    assert isinstance(parameters, dict)
    level = parameters["properties"]["level"]
    assert level["type"] == "integer" and "enum" not in level
    assert "Allowed values: 1, 2, 3." in level["description"] and level["description"].startswith("how loud")
    check_gemini(parameters)  # the SDK's own Schema model takes it
    # what a model answers to an integer schema runs; the tool's own schema still holds the enum
    ok = plan_calls([ToolCall.from_raw("c1", "set_level", {"level": 2, "scores": {}})], {"set_level": tool})
    bad = plan_calls([ToolCall.from_raw("c2", "set_level", {"level": 7, "scores": {}})], {"set_level": tool})
    assert ok.results == [None] and bad.results[0] is not None and bad.results[0].error


def test_a_dict_parameter_says_its_keys_are_free_and_what_its_values_are() -> None:
    parameters = declaration(ToolDefinition.coerce(set_level))["parameters"]
    assert isinstance(parameters, dict)
    scores = parameters["properties"]["scores"]
    assert scores["type"] == "object" and "additionalProperties" not in scores
    assert scores["description"] == (
        "points per player. Keys are free-form strings; each value matches the JSON Schema "
        '{"type": "integer"}.'
    )
    check_gemini(parameters)


def test_arguments_that_did_not_parse_go_back_as_the_model_wrote_them() -> None:
    broken = ToolCall.from_raw("c1", "set_level", '{"level": 2, "scores": {')
    assert broken.arguments_error is not None and broken.arguments == {}
    history = [
        Message(role="user", content="go"),
        Message(role="assistant", tool_calls=[broken]),
        Message(
            role="tool",
            tool_results=[ToolResult(call_id="c1", name="set_level", error=broken.arguments_error)],
        ),
    ]
    body = generate_content_body(ChatRequest(messages=history, model="gemini-2.5-flash"))
    [call_part] = [p for c in body["contents"] for p in c["parts"] if "functionCall" in p]
    assert call_part["functionCall"]["args"] == {UNPARSED_ARGUMENTS: '{"level": 2, "scores": {'}
    # a call that parsed is sent as its arguments, unchanged
    fine = ToolCall.from_raw("c2", "set_level", {"level": 2, "scores": {"a": 1}})
    body = generate_content_body(
        ChatRequest(
            messages=[Message(role="user", content="go"), Message(role="assistant", tool_calls=[fine])],
            model="m",
        )
    )
    [call_part] = [p for c in body["contents"] for p in c["parts"] if "functionCall" in p]
    assert call_part["functionCall"]["args"] == {"level": 2, "scores": {"a": 1}}
