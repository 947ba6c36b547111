"""Tools: definitions from Python functions, schema dialects, normalization and execution."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..events import SessionFinished as SessionFinished
    from ..events import TextDelta as TextDelta
    from ..events import ToolCallStarted as ToolCallStarted
    from ..events import ToolResultEvent as ToolResultEvent
    from ..events import TurnFinished as TurnFinished
    from ..session import Session as Session
    from .definition import ToolDefinition as ToolDefinition
    from .definition import function_to_tool_definition as function_to_tool_definition
    from .definition import tool as tool
    from .dialects import compile_schema as compile_schema
    from .dialects import strict_compatible as strict_compatible
    from .execution import ApprovalDecision as ApprovalDecision
    from .execution import aexecute_tool_calls as aexecute_tool_calls
    from .execution import execute_tool_calls as execute_tool_calls
    from .standardize import standardize_tool_response as standardize_tool_response

_LAZY: dict[str, str] = {
    "ToolDefinition": "toolwire.tools.definition",
    "function_to_tool_definition": "toolwire.tools.definition",
    "tool": "toolwire.tools.definition",
    "compile_schema": "toolwire.tools.dialects",
    "standardize_tool_response": "toolwire.tools.standardize",
    "execute_tool_calls": "toolwire.tools.execution",
    "aexecute_tool_calls": "toolwire.tools.execution",
    "ApprovalDecision": "toolwire.tools.execution",
    "strict_compatible": "toolwire.tools.dialects",
    "Session": "toolwire.session",
    # Session's events: API.md lists them with Session, in this package's section
    "TextDelta": "toolwire.events",
    "ToolCallStarted": "toolwire.events",
    "ToolResultEvent": "toolwire.events",
    "TurnFinished": "toolwire.events",
    "SessionFinished": "toolwire.events",
}

__all__ = [
    "ApprovalDecision",
    "Session",
    "SessionFinished",
    "TextDelta",
    "ToolCallStarted",
    "ToolDefinition",
    "ToolResultEvent",
    "TurnFinished",
    "aexecute_tool_calls",
    "compile_schema",
    "execute_tool_calls",
    "function_to_tool_definition",
    "standardize_tool_response",
    "strict_compatible",
    "tool",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'toolwire.tools' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
