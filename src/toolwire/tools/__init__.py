"""Tools: definitions from Python functions, schema dialects, normalization and execution."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .definition import ToolDefinition, function_to_tool_definition, tool
    from .standardize import standardize_tool_response

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
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'toolwire.tools' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
