"""Build a tool's JSON Schema and its argument validator from a Python callable or a Pydantic model.

The schema produced here is the *neutral* form: plain JSON Schema (draft 2020-12 as Pydantic emits it)
with `$defs`/`$ref` for nested models, no `title` noise and no root `additionalProperties`. Each provider
dialect is derived from it by `toolwire.tools.dialects.compile_schema`.

Pydantic is imported here at module level on purpose: this module is only imported when a schema is
built, never by `import toolwire`.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

import pydantic
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from .dialects import is_nullable, strip_titles

__all__ = ["ArgumentValidator", "FunctionSchema", "function_schema", "model_schema"]

# Internal field names are synthetic so that parameter names like `json`, `schema`, `model_id` or
# `_private` never collide with BaseModel attributes or protected namespaces; the real name is the alias.
_INTERNAL = "p{}"


@dataclass
class ArgumentValidator:
    """Validates the model's arguments for one tool and returns the keyword arguments to call it with.

    The Pydantic model behind it is built once, on first use, and reused for every call.
    """

    _build: Callable[[], type[BaseModel]] = field(repr=False)
    _names: dict[str, str] = field(repr=False)  # internal field name -> real parameter name
    accepts_extra: bool = False
    model_class: type[BaseModel] | None = None
    """Set for a tool defined by a Pydantic model class: `validate` then returns its fields, and
    `validate_model` returns the instance itself."""
    null_means_default: frozenset[str] = frozenset()
    """Optional top-level arguments whose type does not admit null: OpenAI strict mode makes every
    property required and nullable, so a model sends `null` for "not given"; we drop it so the
    Python default applies."""
    _model: type[BaseModel] | None = field(default=None, init=False, repr=False)

    @property
    def model(self) -> type[BaseModel]:
        """The Pydantic model that validates the arguments (built on first access)."""
        if self._model is None:
            self._model = self._build()
        return self._model

    def validate_model(self, arguments: dict[str, Any]) -> BaseModel:
        """Validate and return the Pydantic instance (raises `pydantic.ValidationError`)."""
        return self.model.model_validate(arguments)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Validate `arguments`; return keyword arguments with nested models, dataclasses and enums
        built as real instances and defaults filled in. Raises `pydantic.ValidationError`."""
        if self.null_means_default:
            arguments = {
                k: v for k, v in arguments.items() if not (v is None and k in self.null_means_default)
            }
        instance = self.validate_model(arguments)
        if self.model_class is not None:
            # Field values as attributes (not model_dump) so nested models stay instances.
            return {name: getattr(instance, name) for name in type(instance).model_fields}
        result = {real: getattr(instance, internal) for internal, real in self._names.items()}
        if self.accepts_extra and instance.model_extra:
            result.update(instance.model_extra)
        return result


@dataclass
class FunctionSchema:
    """What a tool looks like to a model: name, description, neutral JSON Schema, and its validator."""

    name: str
    description: str
    parameters: dict[str, Any]
    validator: ArgumentValidator


def function_schema(
    func: Callable[..., Any], *, name: str | None = None, description: str | None = None
) -> FunctionSchema:
    """Describe `func` as a tool.

    Works with plain and async functions, `functools.partial`, bound methods and callable objects.
    `self`/`cls` are skipped, `*args` is ignored, `**kwargs` lets extra arguments through validation.
    A parameter without annotation accepts any JSON value (schema `{}`).
    Raises `TypeError` for a signature that cannot be a tool (positional-only parameters, only
    `*args`/`**kwargs`, a type Pydantic cannot describe).
    """
    target, hint_source = _unwrap(func)
    tool_name = name or _callable_name(func)
    doc = _docstring(func, target)
    parsed = _parse_docstring(doc)
    summary = description if description is not None else _summary(parsed)
    param_docs = (
        {p.arg_name.lstrip("*"): (p.description or "").strip() for p in parsed.params} if parsed else {}
    )

    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot read the signature of {func!r}: {exc}") from exc
    try:
        hints = typing.get_type_hints(hint_source, include_extras=True)
    except Exception as exc:  # a forward reference that cannot be resolved: name the tool
        raise TypeError(f"cannot resolve the type hints of tool {tool_name!r}: {exc}") from exc

    fields: dict[str, tuple[Any, FieldInfo]] = {}
    names: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    accepts_extra = False
    saw_varargs = False
    for index, param in enumerate(signature.parameters.values()):
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            saw_varargs = True
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            accepts_extra = True
            continue
        if param.kind is inspect.Parameter.POSITIONAL_ONLY and param.default is inspect.Parameter.empty:
            raise TypeError(
                f"tool {tool_name!r}: parameter {param.name!r} is positional-only; tools are called "
                "with keyword arguments"
            )
        if index == 0 and param.name in ("self", "cls") and param.annotation is inspect.Parameter.empty:
            continue
        annotation = hints.get(param.name, Any)
        annotation, meta_doc = _split_string_metadata(annotation)
        internal = _INTERNAL.format(len(names))
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[internal] = (annotation, Field(default, alias=param.name))
        names[internal] = param.name
        doc_text = meta_doc or param_docs.get(param.name, "")
        if doc_text:
            descriptions[param.name] = doc_text

    if not names and (saw_varargs or accepts_extra):
        raise TypeError(
            f"tool {tool_name!r} only takes *args/**kwargs: give it named, typed parameters so a "
            "model knows what to send"
        )

    model_name = _model_name(tool_name)
    config = ConfigDict(extra="allow" if accepts_extra else "forbid", populate_by_name=False)

    def build() -> type[BaseModel]:
        model: type[BaseModel] = pydantic.create_model(  # type: ignore[call-overload]
            model_name, __config__=config, **fields
        )
        return model

    validator = ArgumentValidator(_build=build, _names=names, accepts_extra=accepts_extra)
    try:
        raw = validator.model.model_json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError) as exc:
        raise TypeError(f"tool {tool_name!r}: cannot build a JSON Schema for its parameters: {exc}") from exc
    parameters = _neutral(raw)
    properties = parameters["properties"]
    for param_name, text in descriptions.items():
        prop = properties.get(param_name)
        if prop is not None and "description" not in prop:
            prop["description"] = text
    validator.null_means_default = _null_means_default(parameters)
    return FunctionSchema(name=tool_name, description=summary, parameters=parameters, validator=validator)


def model_schema(model_cls: type[BaseModel]) -> FunctionSchema:
    """Describe a Pydantic model class used as a tool: name = class name, description = class docstring.

    The validator returns the validated field values (nested models as instances) as keyword
    arguments; `validator.validate_model(args)` gives the model instance itself.
    """
    if not (isinstance(model_cls, type) and issubclass(model_cls, BaseModel)):
        raise TypeError(f"model_schema expects a Pydantic model class, got {model_cls!r}")
    parsed = _parse_docstring(inspect.getdoc(model_cls) if model_cls.__doc__ else "")
    parameters = _neutral(model_cls.model_json_schema())
    field_docs = {p.arg_name: (p.description or "").strip() for p in parsed.params} if parsed else {}
    for field_name, info in model_cls.model_fields.items():
        key = info.alias or field_name
        prop = parameters["properties"].get(key)
        text = field_docs.get(field_name)
        if prop is not None and text and "description" not in prop:
            prop["description"] = text
    names = {name: name for name in model_cls.model_fields}
    validator = ArgumentValidator(
        _build=lambda: model_cls,
        _names=names,
        model_class=model_cls,
        null_means_default=_null_means_default(parameters),
    )
    return FunctionSchema(
        name=model_cls.__name__,
        description=_summary(parsed),
        parameters=parameters,
        validator=validator,
    )


def _neutral(raw: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's model schema → the neutral tool schema: `type`, `properties`, `required`, `$defs`.

    The root `description` (a model's docstring) is dropped: it is the tool's description already."""
    cleaned = strip_titles(raw)
    root = cleaned
    ref = cleaned.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        # A self-referencing model (a tree node) comes back as a bare `$ref` into `$defs`: the
        # root is that definition, and `$defs` stays for the nested references to it.
        root = cleaned.get("$defs", {}).get(ref[len("#/$defs/") :], cleaned)
    result: dict[str, Any] = {"type": "object", "properties": root.get("properties", {})}
    if root.get("required"):
        result["required"] = list(root["required"])
    if cleaned.get("$defs"):
        result["$defs"] = cleaned["$defs"]
    return result


def _null_means_default(parameters: dict[str, Any]) -> frozenset[str]:
    required = set(parameters.get("required", []))
    return frozenset(
        name
        for name, prop in parameters["properties"].items()
        if name not in required and prop != {} and not is_nullable(prop, parameters)
    )


def _unwrap(func: Callable[..., Any]) -> tuple[Callable[..., Any], Any]:
    """The function whose docstring and type hints describe `func` (for partials, methods, objects)."""
    target: Any = func
    while isinstance(target, functools.partial):
        target = target.func
    if inspect.ismethod(target):
        return target, target.__func__
    if inspect.isfunction(target) or inspect.isbuiltin(target):
        return target, target
    if not isinstance(target, type) and callable(target):
        call = type(target).__call__
        return target, call
    return target, target


def _callable_name(func: Callable[..., Any]) -> str:
    target: Any = func
    while isinstance(target, functools.partial):
        target = target.func
    name = getattr(target, "__name__", None)
    if not isinstance(name, str):
        name = type(target).__name__
    return name


def _docstring(func: Callable[..., Any], target: Any) -> str:
    if not inspect.isroutine(target) and not isinstance(target, type):
        # A callable object: its __call__ documents the tool; the class docstring is the fallback.
        call_doc = inspect.getdoc(type(target).__call__)
        return call_doc or inspect.getdoc(type(target)) or ""
    return inspect.getdoc(target) or ""


def _parse_docstring(doc: str | None) -> Any:
    if not doc:
        return None
    import docstring_parser

    try:
        return docstring_parser.parse(doc, docstring_parser.DocstringStyle.AUTO)
    except docstring_parser.ParseError:
        return None


def _summary(parsed: Any) -> str:
    if parsed is None:
        return ""
    parts = [p.strip() for p in (parsed.short_description, parsed.long_description) if p and p.strip()]
    return "\n\n".join(parts)


def _split_string_metadata(annotation: Any) -> tuple[Any, str]:
    """`Annotated[T, "doc"]` → (`Annotated[T, <other metadata>]` or `T`, "doc")."""
    if get_origin(annotation) is not Annotated:
        return annotation, ""
    base, *metadata = get_args(annotation)
    texts = [m for m in metadata if isinstance(m, str)]
    if not texts:
        return annotation, ""
    rest = [m for m in metadata if not isinstance(m, str)]
    text = " ".join(t.strip() for t in texts)
    if rest:
        metadata_args = (base, *rest)
        return Annotated.__class_getitem__(metadata_args), text
    return base, text


def _model_name(tool_name: str) -> str:
    cleaned = re.sub(r"\W", "_", tool_name) or "tool"
    return f"{cleaned}_arguments"
