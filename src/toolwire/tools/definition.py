"""`ToolDefinition`, the `@tool` decorator and `function_to_tool_definition`.

A tool is defined once, provider-neutrally (name, description, JSON Schema parameters); each provider
asks for the parameters in its own schema dialect with `parameters_for(dialect)`, compiled once and
cached on the definition.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from ..types import ToolCall

__all__ = [
    "ToolDefinition",
    "check_call_arguments",
    "expand_tool_sources",
    "function_to_tool_definition",
    "is_tool_source",
    "tool",
]

F = TypeVar("F", bound=Callable[..., Any])

_TOOL_ATTRIBUTE = "__toolwire_tool__"
_definitions: weakref.WeakKeyDictionary[Any, ToolDefinition] = weakref.WeakKeyDictionary()


@dataclass(eq=False)
class ToolDefinition:
    """A tool the model may call.

    `parameters` is a JSON Schema object. `function` (optional) is what runs when the model calls
    the tool; `strict` asks providers that support it (OpenAI, Azure) for strict schema adherence.
    `read_only` declares the tool free of side effects: a streamed `Session` turn may start it as
    soon as its call is complete in the stream, before the model's answer ends
    (`toolwire.tools.early`).
    """

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    function: Callable[..., Any] | None = None
    strict: bool | None = None
    requires_approval: bool = False
    timeout: float | None = None
    validator: Any = field(default=None, repr=False)
    read_only: bool = False
    _dialects: dict[tuple[str, bool], dict[str, Any]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError("a tool needs a non-empty name")
        if self.validator is None and isinstance(self.parameters, dict):
            # built by hand or from a tool dict: the arguments are checked against `parameters`
            # itself (functions, Pydantic models and MCP tools come with their own validator)
            from ._jsonschema import SchemaValidator

            self.validator = SchemaValidator(self.parameters)

    def to_dict(self) -> dict[str, Any]:
        """The provider-neutral form: `{"name", "description", "parameters"}`."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}

    def parameters_for(self, dialect: str, *, strict: bool | None = None) -> dict[str, Any]:
        """The parameters schema rewritten for one provider's dialect (cached)."""
        use_strict = bool(self.strict if strict is None else strict)
        key = (dialect, use_strict)
        compiled = self._dialects.get(key)
        if compiled is None:
            from .dialects import compile_schema

            compiled = compile_schema(self.parameters, dialect, strict=use_strict)
            self._dialects[key] = compiled
        return compiled

    def validate_arguments(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validate the model's arguments; return the keyword arguments to call `function` with.

        Raises `pydantic.ValidationError` (or `ValueError`) with a message meant for the model.
        """
        if self.validator is None:  # only when `validator` was cleared after creation
            return dict(arguments)
        result: dict[str, Any] = self.validator.validate(dict(arguments))
        return result

    @classmethod
    def coerce(cls, value: Any) -> ToolDefinition:
        """Accept a ToolDefinition, a function, a Pydantic model class, or a tool dict
        (OpenAI `{"type": "function", "function": {...}}`, neutral `{"name", "parameters"}`,
        or Anthropic `{"name", "input_schema"}`)."""
        if isinstance(value, ToolDefinition):
            return value
        if isinstance(value, Mapping):
            return _from_mapping(value)
        if isinstance(value, type) and hasattr(value, "model_json_schema"):
            cached = _cached(value)
            if cached is None:
                from .schema import model_schema

                spec = model_schema(value)
                cached = cls(
                    name=spec.name,
                    description=spec.description,
                    parameters=spec.parameters,
                    validator=spec.validator,
                )
                _remember(value, cached)
            return cached
        if callable(value):
            return function_to_tool_definition(value)
        raise TypeError(
            f"cannot use {value!r} as a tool: pass a function, a Pydantic model class, a "
            "ToolDefinition or a tool dict"
        )


# The prefix of an `arguments_error` that schema validation (not JSON parsing) set: the arguments
# were read, and the history sends them back as they are (`arguments_unreadable`).
SCHEMA_ERROR_PREFIX = "arguments do not match the tool's schema: "


def check_call_arguments(calls: Iterable[ToolCall], tools: Iterable[ToolDefinition]) -> None:
    """Validate each call's arguments against its tool's schema as the response is read, so
    `ToolCall.arguments_error` says why they fail it (API.md: "why parsing or schema validation
    failed"). Calls whose arguments did not parse, and calls to tools this request did not send,
    are left as they are; the executor validates again before running anything, and tells the
    model."""
    by_name = {tool.name: tool for tool in tools}
    for call in calls:
        tool = by_name.get(call.name)
        if call.arguments_error is not None or tool is None or tool.validator is None:
            continue
        try:
            tool.validate_arguments(call.arguments)
        except Exception as exc:  # pydantic.ValidationError, ValueError from a schema validator
            from .plan import _validation_summary

            call.arguments_error = SCHEMA_ERROR_PREFIX + _validation_summary(exc)


def arguments_unreadable(call: ToolCall) -> bool:
    """True when the call's arguments could not be read at all (bad JSON, not an object, past a
    limit), as opposed to read and found not to match the schema."""
    if call.arguments_error is None:
        return False
    return not call.arguments_error.startswith(SCHEMA_ERROR_PREFIX)


def is_tool_source(value: Any) -> bool:
    """A tool source stands for several tools (an MCP server): it has `__toolwire_tools__()`."""
    return hasattr(type(value), "__toolwire_tools__")


def expand_tool_sources(tools: Iterable[Any]) -> list[Any]:
    """The tool list with each tool source (e.g. `toolwire.mcp.MCPToolset`) replaced by its tools."""
    expanded: list[Any] = []
    for item in tools:
        if is_tool_source(item):
            expanded.extend(item.__toolwire_tools__())
        else:
            expanded.append(item)
    return expanded


def _from_mapping(value: Mapping[str, Any]) -> ToolDefinition:
    spec: Mapping[str, Any] = value
    if value.get("type") == "function" and isinstance(value.get("function"), Mapping):
        spec = value["function"]
    name = spec.get("name")
    if not name:
        raise ValueError(f"tool dict without a name: {dict(value)!r}")
    parameters = spec.get("parameters", spec.get("input_schema", spec.get("parameters_json_schema")))
    return ToolDefinition(
        name=str(name),
        description=str(spec.get("description") or ""),
        parameters=dict(parameters) if parameters else {"type": "object", "properties": {}},
        strict=spec.get("strict"),
    )


def _cached(obj: Any) -> ToolDefinition | None:
    found = getattr(obj, _TOOL_ATTRIBUTE, None)
    if isinstance(found, ToolDefinition):
        return found
    try:
        return _definitions.get(obj)
    except TypeError:
        return None


def _remember(obj: Any, definition: ToolDefinition) -> None:
    try:
        _definitions[obj] = definition
    except TypeError:
        pass


# (name, description, strict, requires_approval, timeout) as `function_to_tool_definition` defaults them
_DEFAULT_OPTIONS: tuple[Any, ...] = (None, None, None, False, None, False)


def function_to_tool_definition(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
    read_only: bool = False,
) -> ToolDefinition:
    """Build a `ToolDefinition` from a typed, documented function.

    Name from the function, description from the docstring's summary, parameters as JSON Schema from
    the type hints, each parameter's description from the docstring (Google, NumPy or Sphinx) or
    `Annotated[..., Field(description=...)]`, defaults, and `required`.
    """
    # Only a definition built with every option at its default is cached on the function: the
    # options as one value, compared to the defaults, instead of a hand-kept list of checks.
    options = (name, description, strict, requires_approval, timeout, read_only)
    plain = options == _DEFAULT_OPTIONS
    if plain:
        cached = _cached(func)
        if cached is not None:
            return cached
    from .schema import function_schema

    spec = function_schema(func, name=name, description=description)
    definition = ToolDefinition(
        name=spec.name,
        description=spec.description,
        parameters=spec.parameters,
        function=func,
        strict=strict,
        requires_approval=requires_approval,
        timeout=timeout,
        validator=spec.validator,
        read_only=read_only,
    )
    if plain:
        _remember(func, definition)
    return definition


@overload
def tool(func: F, /) -> F: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
    read_only: bool = False,
) -> Callable[[F], F]: ...


def tool(
    func: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
    requires_approval: bool = False,
    timeout: float | None = None,
    read_only: bool = False,
) -> F | Callable[[F], F]:
    """Mark a function as a tool. The function stays callable exactly as before.

    @tool
    def get_weather(city: str) -> str: ...

    @tool(strict=True, requires_approval=True)
    def delete_file(path: str) -> None: ...

    @tool(read_only=True)        # no side effects: may start before a streamed answer ends
    def search(query: str) -> list[str]: ...
    """

    def mark(target: F) -> F:
        definition = function_to_tool_definition(
            target,
            name=name,
            description=description,
            strict=strict,
            requires_approval=requires_approval,
            timeout=timeout,
            read_only=read_only,
        )
        try:
            setattr(target, _TOOL_ATTRIBUTE, definition)
        except (AttributeError, TypeError):
            _remember(target, definition)
        return target

    if func is not None:
        return mark(func)
    return mark
