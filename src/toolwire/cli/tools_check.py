"""`toolwire tools check`: what every provider dialect does to each tool's schema.

For each tool (a Python function, a Pydantic model, or every tool of an MCP server) and each
dialect, one verdict: accepted as is, rewritten (and what changed), or refused (and why). The exit
code is 1 when any tool would be refused, so a team can run it in CI before a provider answers 400.
OpenAI strict mode is a column of its own: a tool that cannot be strict is still sent, without
`strict`, unless `--strict` makes that a failure too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Verdict", "check_tool", "columns", "describe_rewrite"]



def columns() -> list[tuple[str, str, bool]]:
    """(column title, dialect, strict): every distinct dialect `compile_schema` knows, under its
    first name (a provider's name before a shared dialect's: "anthropic", not "json_schema"), with
    OpenAI strict mode as a column of its own."""
    from ..tools.dialects import available_dialects, dialect_compiler

    found = [("openai", "openai", False), ("openai strict", "openai", True)]
    seen = {dialect_compiler("openai")}
    for name in available_dialects():
        compiler = dialect_compiler(name)
        if compiler not in seen:
            seen.add(compiler)
            found.append((name, name, False))
    return found


@dataclass
class Verdict:
    tool: str
    column: str
    status: str  # "as is" | "rewritten" | "refused"
    detail: str = ""


def _where(path: tuple[str, ...]) -> str:
    return "/".join(path) or "root"


def _diff(before: Any, after: Any, path: tuple[str, ...]) -> Iterator[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            if key not in after:
                yield f"-{key} at {_where(path)}"
        for key in after:
            if key not in before:
                yield f"+{key} at {_where(path)}"
        for key in before:
            if key in after:
                yield from _diff(before[key], after[key], (*path, key))
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        if all(isinstance(item, dict) for item in before + after):
            for index, (old, new) in enumerate(zip(before, after)):
                yield from _diff(old, new, (*path, str(index)))
        elif before != after:
            yield f"{_where(path)} {json.dumps(before)} -> {json.dumps(after)}"
    elif before != after:
        yield f"{_where(path)} {json.dumps(before)} -> {json.dumps(after)}"


def describe_rewrite(before: dict[str, Any], after: dict[str, Any], limit: int = 4) -> str:
    """What a dialect changed in a schema, briefly ("" when nothing)."""
    if after == {} and before != {}:
        return "sent without parameters (no arguments)"
    changes = list(_diff(before, after, ()))
    shown = "; ".join(changes[:limit])
    return shown + (f"; +{len(changes) - limit} more" if len(changes) > limit else "")


def check_tool(name: str, original: dict[str, Any], parameters: dict[str, Any] | None) -> list[Verdict]:
    """Verdicts for one tool: `original` is the schema as published, `parameters` the neutral schema
    toolwire built from it (None when toolwire already refused the tool, with the reason in
    `original["__refused__"]`)."""
    from ..tools.dialects import compile_schema

    verdicts = []
    for column, dialect, strict in columns():
        if parameters is None:
            verdicts.append(Verdict(name, column, "refused", str(original.get("__refused__", ""))))
            continue
        try:
            compiled = compile_schema(parameters, dialect, strict=strict)
        except ValueError as exc:
            verdicts.append(Verdict(name, column, "refused", str(exc)))
            continue
        change = describe_rewrite(original, compiled)
        verdicts.append(Verdict(name, column, "rewritten" if change else "as is", change))
    return verdicts


def verdicts_json(verdicts: list[Verdict]) -> str:
    return json.dumps([asdict(v) for v in verdicts], indent=2, ensure_ascii=False)
