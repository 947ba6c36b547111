"""Validate the request bodies we send against the published OpenAPI specs.

OpenAI: `CreateChatCompletionRequest` in ../shared/specs/openai/openapi.yaml (OpenAPI 3.1, so the
schemas are JSON Schema 2020-12 apart from a few OpenAPI 3.0 leftovers such as `nullable`).
Azure: `createChatCompletionRequest` in ../shared/specs/azure_openai/stable-2024-10-21/inference.json
(OpenAPI 3.0: `nullable` everywhere, which plain JSON Schema does not know).

`$ref`s resolve inside the spec document through a `referencing` registry. Both specs leave the
request object open (no additionalProperties: false), so `unknown_request_keys` also reports
top-level keys the spec does not declare: a misspelt parameter would otherwise pass unnoticed.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
OPENAI_SPEC = SPECS / "openai" / "openapi.yaml"
AZURE_SPEC = SPECS / "azure_openai" / "stable-2024-10-21" / "inference.json"

_OPENAI_URI = "urn:toolwire:openai-openapi"
_AZURE_URI = "urn:toolwire:azure-openai-inference"


def _convert_nullable(node: Any) -> Any:
    """OpenAPI 3.0 `nullable: true` → JSON Schema (type list, or anyOf with null)."""
    if isinstance(node, list):
        return [_convert_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _convert_nullable(value) for key, value in node.items()}
    if out.pop("nullable", False) is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        elif isinstance(kind, list):
            if "null" not in kind:
                out["type"] = [*kind, "null"]
        else:
            return {"anyOf": [out, {"type": "null"}]}
    return out


@lru_cache(maxsize=1)
def _openai_document() -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with OPENAI_SPEC.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=loader)
    return _convert_nullable(document)  # type: ignore[no-any-return]


@lru_cache(maxsize=1)
def _azure_document() -> dict[str, Any]:
    document = _convert_nullable(json.loads(AZURE_SPEC.read_text(encoding="utf-8")))
    # Known defect of this spec: ResponseFormatJsonSchema.json_schema lists "type" as required
    # although it declares no such property and the service (and every SDK) never sends it.
    inner = document["components"]["schemas"]["ResponseFormatJsonSchema"]["properties"]["json_schema"]
    inner["required"] = [name for name in inner["required"] if name != "type"]
    return document  # type: ignore[no-any-return]


# which → the request schema: "openai" (Chat Completions), "responses" (`POST /responses`, also
# what Azure's /openai/v1/responses and Open Responses servers take), "azure" (dated Azure chat)
_OPENAI_SCHEMAS = {"openai": "CreateChatCompletionRequest", "responses": "CreateResponse"}


@lru_cache(maxsize=4)
def _validator(which: str) -> jsonschema.protocols.Validator:
    if which in _OPENAI_SCHEMAS:
        uri, document, name = _OPENAI_URI, _openai_document(), _OPENAI_SCHEMAS[which]
    else:
        uri, document, name = _AZURE_URI, _azure_document(), "createChatCompletionRequest"
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{uri}#/components/schemas/{name}"}
    return _OpenAPIValidator(schema, registry=registry)


# OpenAPI reads `oneOf` as a tagged union: the branch is picked by its discriminator, and a value
# that fits two branches is not an error. JSON Schema's `oneOf` rejects such a value, and the
# Responses spec has overlapping branches (a user message with a content list fits both
# EasyInputMessage and InputMessage in InputItem), so `oneOf` is checked as `anyOf` here.
_OpenAPIValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {"oneOf": jsonschema.Draft202012Validator.VALIDATORS["anyOf"]},
)


def _declared_properties(schema: dict[str, Any], document: dict[str, Any]) -> set[str]:
    """Top-level property names of a schema, following $ref and allOf."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part]
        return _declared_properties(target, document)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", ()):
        names |= _declared_properties(part, document)
    return names


def request_schema_errors(body: dict[str, Any], which: str = "openai") -> list[str]:
    """Every violation of the spec's request schema ("openai", "responses" or "azure")."""
    validator = _validator(which)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message[:300]}"
        for error in sorted(validator.iter_errors(copy.deepcopy(body)), key=lambda e: list(e.path))
    ]


def unknown_request_keys(body: dict[str, Any], which: str = "openai") -> set[str]:
    if which in _OPENAI_SCHEMAS:
        document = _openai_document()
        schema = document["components"]["schemas"][_OPENAI_SCHEMAS[which]]
    else:
        document = _azure_document()
        schema = document["components"]["schemas"]["createChatCompletionRequest"]
    return set(body) - _declared_properties(schema, document)


def assert_valid_request(
    body: dict[str, Any], which: str = "openai", *, allow: frozenset[str] | set[str] = frozenset()
) -> None:
    errors = request_schema_errors(body, which)
    assert not errors, f"request body violates the {which} spec:\n" + "\n".join(errors)
    unknown = unknown_request_keys(body, which) - set(allow)
    assert not unknown, f"request body has keys the {which} spec does not declare: {sorted(unknown)}"
