"""One options object for running tools (`ExecutionOptions`), one approval step for both drivers,
and the public-internal drivers `execute_plan` / `aexecute_plan` that `Session` uses."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from toolwire import Session
from toolwire.tools.definition import ToolDefinition, function_to_tool_definition
from toolwire.tools.execution import (
    ApprovalDecision,
    ExecutionOptions,
    aexecute_plan,
    coerce_tools,
    execute_plan,
)
from toolwire.types import ToolCall


def shout(text: str) -> str:
    """Say it loud.

    Args:
        text: what to say
    """
    return text.upper() * 10


async def approve_async(call: ToolCall, tool: ToolDefinition) -> Any:
    await asyncio.sleep(0)
    if call.arguments["text"] == "no":
        return ApprovalDecision.deny("not that")
    return {"text": call.arguments["text"] + "!"}


def _calls() -> list[ToolCall]:
    return [ToolCall("a", "shout", {"text": "hi"}), ToolCall("b", "shout", {"text": "no"})]


def test_both_drivers_share_the_approval_step_and_the_options() -> None:
    options = ExecutionOptions(approve=approve_async, max_output_chars=5)
    registry = coerce_tools([shout])
    sync_plan = execute_plan(_calls(), registry, options)
    async_plan = asyncio.run(aexecute_plan(_calls(), registry, options))
    for plan in (sync_plan, async_plan):
        first, second = plan.collected()
        assert first.output.startswith("HI!HI")
        assert "[output truncated: 30 characters, showing the first 5]" in first.output
        assert second.error is not None and "denied" in second.error and "not that" in second.error
        assert plan.kinds == [None, "denied"]


def test_options_are_frozen_and_hashable() -> None:
    options = ExecutionOptions(timeout=1.0)
    assert hash(options) == hash(ExecutionOptions(timeout=1.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.timeout = 2.0  # type: ignore[misc]


def test_session_hands_its_settings_to_the_executor_as_one_object() -> None:
    session = Session(
        object(), [shout], tool_timeout=3.0, tool_deadline=9.0, max_output_chars=7, max_workers=2
    )
    assert session.execution_options == ExecutionOptions(
        timeout=3.0, deadline=9.0, max_workers=2, max_output_chars=7, max_validation_retries=2
    )
    session.approve = approve_async  # attributes stay assignable
    assert session.execution_options.approve is approve_async


def test_the_definition_cache_holds_only_definitions_built_with_default_options() -> None:
    def loud(text: str) -> str:
        """Loud."""
        return text

    plain = function_to_tool_definition(loud)
    assert function_to_tool_definition(loud) is plain
    timed = function_to_tool_definition(loud, timeout=1.0)
    assert timed is not plain and timed.timeout == 1.0
    assert function_to_tool_definition(loud) is plain
