"""Checks a request body against the Vertex AI discovery document (`../shared/specs/gemini/`):
every key must be a declared property of its schema, with the declared JSON type, recursively
(discovery `$ref`s, arrays' `items`, maps' `additionalProperties`)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "gemini" / "aiplatform.v1.json"
_TYPES = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "object": dict,
    "array": list,
}


@functools.cache
def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = json.loads(SPEC.read_text())["schemas"]
    return schemas


def discovery_problems(body: Any, schema: str = "GoogleCloudAiplatformV1GenerateContentRequest") -> list[str]:
    """Why Vertex's discovery document would not describe `body` ([] when every key is declared)."""
    problems: list[str] = []
    _check(body, {"$ref": schema}, "body", problems)
    return problems


def _check(value: Any, node: dict[str, Any], where: str, problems: list[str]) -> None:
    if "$ref" in node:
        node = _schemas()[node["$ref"]]
    kind = node.get("type")
    if kind in _TYPES and not isinstance(value, _TYPES[kind]):
        problems.append(f"{where}: expected {kind}, got {type(value).__name__}")
        return
    if kind == "array":
        for i, item in enumerate(value):
            _check(item, node.get("items", {}), f"{where}[{i}]", problems)
    elif kind == "object" and "properties" in node:
        for key, item in value.items():
            declared = node["properties"].get(key)
            if declared is None:
                problems.append(f"{where}.{key}: not a property of {node.get('id', 'the schema')}")
            else:
                _check(item, declared, f"{where}.{key}", problems)
    elif kind == "object" and isinstance(node.get("additionalProperties"), dict):
        for key, item in value.items():
            _check(item, node["additionalProperties"], f"{where}.{key}", problems)
