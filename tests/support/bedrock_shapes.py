"""Validate a Converse request body against botocore's own service model for `bedrock-runtime`.

A small walker over the shape model (the spec the AWS SDKs are generated from): required members,
unknown members, types, enums, string/list lengths and patterns, and unions (exactly one member).
`Document` members (tool schemas, `toolUse.input`, `json` tool results) are free-form JSON.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, Shape

__all__ = ["converse_input_problems", "operation"]


@cache
def operation(name: str = "Converse") -> OperationModel:
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return model.operation_model(name)


def converse_input_problems(model_id: str, body: dict[str, Any], *, stream: bool = False) -> list[str]:
    """Every way `{"modelId": model_id, **body}` breaks the Converse (or ConverseStream) input shape."""
    shape = operation("ConverseStream" if stream else "Converse").input_shape
    problems: list[str] = []
    _check(shape, {"modelId": model_id, **body}, "$", problems)
    return problems


def _check(shape: Shape, value: Any, where: str, problems: list[str]) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if meta.get("document"):
        return  # free-form JSON
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected an object, got {type(value).__name__}")
            return
        members = shape.members
        for name in value:
            if name not in members:
                problems.append(f"{where}: unknown member {name!r}")
        for name in getattr(shape, "required_members", []):
            if name not in value:
                problems.append(f"{where}: missing required member {name!r}")
        if shape.metadata.get("union") and len([k for k in value if k in members]) != 1:
            problems.append(f"{where}: a union needs exactly one member, got {sorted(value)}")
        for name, sub in value.items():
            if name in members:
                _check(members[name], sub, f"{where}.{name}", problems)
    elif kind == "list":
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list, got {type(value).__name__}")
            return
        _length(meta, len(value), where, problems)
        for i, item in enumerate(value):
            _check(shape.member, item, f"{where}[{i}]", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a map")
            return
        for key, item in value.items():
            _check(shape.key, key, f"{where}.<key>", problems)
            _check(shape.value, item, f"{where}.{key}", problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(f"{where}: expected a string, got {type(value).__name__}")
            return
        if shape.enum and value not in shape.enum:
            problems.append(f"{where}: {value!r} is not one of {shape.enum}")
        _length(meta, len(value), where, problems)
        pattern = meta.get("pattern")
        # Smithy patterns are unanchored; the service applies them to the whole value (a tool
        # named "a b" is refused), so the stricter full match is what is checked
        if pattern and not re.fullmatch(pattern, value):
            problems.append(f"{where}: {value!r} does not match {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{where}: expected an integer, got {value!r}")
            return
        _range(meta, value, where, problems)
    elif kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{where}: expected a number, got {value!r}")
            return
        _range(meta, value, where, problems)
    elif kind == "boolean" and not isinstance(value, bool):
        problems.append(f"{where}: expected a boolean, got {value!r}")
    elif kind == "blob" and not isinstance(value, (str, bytes)):
        problems.append(f"{where}: expected base64 text, got {type(value).__name__}")
    # "document" (and timestamps, unused by Converse input): free-form


def _length(meta: dict[str, Any], size: int, where: str, problems: list[str]) -> None:
    if "min" in meta and size < meta["min"]:
        problems.append(f"{where}: length {size} < min {meta['min']}")
    if "max" in meta and size > meta["max"]:
        problems.append(f"{where}: length {size} > max {meta['max']}")


def _range(meta: dict[str, Any], number: float, where: str, problems: list[str]) -> None:
    if "min" in meta and number < meta["min"]:
        problems.append(f"{where}: {number} < min {meta['min']}")
    if "max" in meta and number > meta["max"]:
        problems.append(f"{where}: {number} > max {meta['max']}")
