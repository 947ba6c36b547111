"""Amazon Bedrock Runtime, Converse and ConverseStream: pure translation functions and the provider.

`POST /model/{modelId}/converse` (and `/converse-stream`) on `bedrock-runtime.{region}.amazonaws.com`.
The spec is botocore's service model for `bedrock-runtime` (the tests validate every body against
it). What differs from the other wire formats and is handled here:

- the model id is in the path, percent-encoded like botocore does (`:` of `…-v1:0` and the `/` of an
  ARN become `%3A` / `%2F`); cross-region inference profiles (`us.anthropic…`) and ARNs work as ids;
- the system prompt is a top-level `system` list; roles alternate, so consecutive same-role
  messages are merged; blank text blocks are refused by the service, so none is sent;
- tools are `toolConfig.tools[].toolSpec {name, description, inputSchema: {json}}`; an empty
  description is refused, so a sensible one is written; `toolChoice` is `auto` / `any` /
  `tool{name}` and there is no "none": the tools are withheld instead, but `toolConfig` must be
  present whenever the history holds `toolUse` / `toolResult` blocks (the service refuses the
  request otherwise), so it is then built from the tools the history used;
- every result of a turn goes back as `toolResult` blocks in ONE user message, `json` content for
  JSON objects and `text` otherwise, `status: "error"` for failed tools (on the families whose
  models accept `status`: Claude and Nova);
- `toolUseId` is kept when it is 1–64 of `[a-zA-Z0-9_-]`, else mapped by a hash, identically for
  the call and its result;
- reasoning blocks (`reasoningContent` with its signature, or `redactedContent`) ride on the
  assistant message (`provider_data["bedrock"]["reasoning"]`) and go back before the text and
  `toolUse` blocks of the same turn, unchanged (Claude refuses a tool turn without them);
- ConverseStream is the binary AWS event stream (`toolwire._eventstream`), assembled by
  `contentBlockIndex`; an exception message inside the stream is raised as its typed error;
- errors are typed by the `x-amzn-ErrorType` header (the body is only `{"message"}`).

Reading responses, streams and errors lives in `bedrock_response.py`; credentials and SigV4 in
`bedrock_auth.py`; the schema dialect in `bedrock_dialect.py`; endpoint hosts in
`bedrock_endpoints.py`; `toolUseId` mapping in `bedrock_ids.py`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._scrub import clean_key, ordered, register, secret_forms
from .._transport import HttpCall
from ..errors import ConfigurationError, ProviderError
from ..image import ImageError
from ..tools.definition import ToolDefinition
from ..types import (
    Capability,
    GenerateResponse,
    Message,
    ResponseFormat,
    ToolCallRequest,
    ToolResult,
    content_parts,
    serialize_output,
)
from ._body_json import ToolJson, dumps, with_last
from ._common import PENALTIES, refuse_params
from .base import BaseProvider, ChatRequest, first_env, mask_secret, structured_schema
from .bedrock_dialect import bedrock_schema as bedrock_schema
from .bedrock_endpoints import dns_suffix as dns_suffix
from .bedrock_endpoints import is_bedrock_runtime_host as is_bedrock_runtime_host
from .bedrock_ids import _turn_id
from .bedrock_ids import bedrock_tool_id as bedrock_tool_id
from .bedrock_ids import mistral_tool_id as mistral_tool_id
from .bedrock_response import (
    KEY,
    BedrockStreamState,
    bedrock_error,
    normalize_stop_reason,
    normalize_usage,
    parse_converse,
    stream_error,
)

if TYPE_CHECKING:
    from ..image import Image

__all__ = [
    "BedrockProvider",
    "BedrockStreamState",
    "bedrock_error",
    "bedrock_tool_id",
    "converse_body",
    "converse_messages",
    "mistral_tool_id",
    "model_path",
    "normalize_stop_reason",
    "normalize_usage",
    "parse_converse",
    "stream_error",
    "tool_choice_payload",
    "tools_payload",
]

# ImageBlock.format in the service model: png | jpeg | gif | webp
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
_INFERENCE = {"max_tokens": "maxTokens", "temperature": "temperature", "top_p": "topP"}
# families whose models take `status` on a toolResult (the service model's note on ToolResultBlock)
_STATUS_FAMILIES = ("anthropic.", "amazon.nova")


# -- request ---------------------------------------------------------------------------------
@functools.lru_cache(maxsize=128)
def model_path(model: str) -> str:
    """`/model/{modelId}` with the id percent-encoded as botocore encodes a URI label."""
    return "/model/" + urllib.parse.quote(model, safe="-_.~")


def _description(tool: ToolDefinition) -> str:
    # NonEmptyString in the service model: an empty description is a ValidationException
    text = (tool.description or "").strip()
    return text or f"The {tool.name} tool."


def tools_payload(tools: Sequence[ToolDefinition], *, dialect: str = "bedrock") -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        spec: dict[str, Any] = {
            "name": tool.name,
            "description": _description(tool),
            "inputSchema": {"json": tool.parameters_for(dialect)},
        }
        if tool.strict:
            spec["strict"] = True
        out.append({"toolSpec": spec})
    return out


def _reasoning_blocks(message: Message) -> list[dict[str, Any]]:
    data = (message.provider_data or {}).get(KEY)
    if not isinstance(data, Mapping):
        return []
    blocks = data.get("reasoning") or ()
    return [dict(b) for b in blocks if isinstance(b, Mapping) and _signed(b.get("reasoningContent"))]


def _signed(content: Any) -> bool:
    """Reasoning that goes back: Claude's, signed (or redacted). DeepSeek R1 and gpt-oss reason
    without a signature, and Bedrock refuses that back ("User messages cannot contain reasoning
    content", reported by aws-samples/bedrock-chat #845, langchain-aws #401)."""
    if not isinstance(content, Mapping):
        return False
    text = content.get("reasoningText")
    return "redactedContent" in content or (isinstance(text, Mapping) and bool(text.get("signature")))


def image_block(image: Image) -> dict[str, Any]:
    """A Converse `image` block: `format` (png|jpeg|gif|webp) and the bytes (base64 on the JSON
    wire). URL images are downloaded first: Converse takes only bytes or an S3 location."""
    if image.data is None:
        raise ValueError(f"bedrock: image {image.url!r} must be downloaded before it is sent")
    media = image.media_type or ""
    if media not in _IMAGE_FORMATS:
        raise ImageError(f"bedrock takes png, jpeg, gif or webp images, not {media}")
    return {"image": {"format": _IMAGE_FORMATS[media], "source": {"bytes": image.base64()}}}


def _user_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in content_parts(message.content):
        blocks.extend(_text_block(part) if isinstance(part, str) else [image_block(part)])
    return blocks


def _result_content(result: ToolResult, images_inside: bool = True) -> list[dict[str, Any]]:
    """`json` for a JSON object, `text` for everything else (strings stay text, as the model wrote
    them for the tool to read back); a tool's images as `image` blocks (or, where the model takes
    none in a toolResult, a note that they follow in the same user message)."""
    if result.error is not None:
        return [{"text": result.error or "the tool failed"}]
    images = result.images()
    if images:
        if not images_inside:
            return _text_block(result.output_text()) or [{"text": "(images follow in this message)"}]
        return _text_block(result.output_text()) + [image_block(image) for image in images]
    output = result.output
    if isinstance(output, Mapping):
        return [{"json": json.loads(serialize_output(output))}]
    text = serialize_output(output)
    if not isinstance(output, str) and text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):  # a Pydantic model or dataclass: its JSON object
            return [{"json": value}]
    # the service refuses blank text; an empty output is said, not dropped
    return [{"text": text if text.strip() else "(no output)"}]


def _images_after_results(results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for result in results:
        images = result.images() if result.error is None else []
        if images:
            blocks.append({"text": f"Images returned by tool call {result.call_id} ({result.name}):"})
            blocks.extend(image_block(image) for image in images)
    return blocks


def _text_block(text: str | None) -> list[dict[str, Any]]:
    return [{"text": text}] if text and text.strip() else []


def converse_messages(
    messages: Sequence[Message],
    *,
    error_status: bool = True,
    images_in_results: bool = True,
    tool_id: Callable[[str], str] = bedrock_tool_id,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Neutral messages → (`system` blocks, Converse `messages`), roles alternating.

    `images_in_results`: the model takes `image` blocks inside a toolResult (the service model:
    "only supported by Amazon Nova and Anthropic Claude 3 and 4 models"); elsewhere a tool's images
    follow the results in the same user message, each run introduced by the call it answers."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    # calls of one turn sharing an id (several "" from a server that gives none) get distinct
    # toolUseIds; the n-th result for an id (in any tool message of the turn) answers the n-th call
    calls_seen: dict[str, int] = {}
    results_seen: dict[str, int] = {}
    for message in messages:
        role = message.role
        blocks: list[dict[str, Any]] = []
        if role == "system":
            system.extend(_text_block(message.text))
            continue
        if role == "tool":
            if not message.tool_results:
                raise ValueError("a tool message needs tool_results (call_id, name, output)")
            for result in message.tool_results:
                block: dict[str, Any] = {
                    "toolUseId": _turn_id(result.call_id, results_seen, tool_id),
                    "content": _result_content(result, images_in_results),
                }
                if error_status:
                    block["status"] = "error" if result.error is not None else "success"
                blocks.append({"toolResult": block})
            if not images_in_results:
                blocks.extend(_images_after_results(message.tool_results))
            role = "user"
        elif role == "assistant":
            calls_seen.clear()
            results_seen.clear()
            said = _text_block(message.text)
            if said or message.tool_calls:
                # a turn of reasoning alone is not sent (newer Claude models refuse it as a prefill)
                blocks.extend(_reasoning_blocks(message))
            blocks.extend(said)
            for call in message.tool_calls or ():
                # a call whose arguments did not parse goes back as {} (its result says why)
                blocks.append(
                    {
                        "toolUse": {
                            "toolUseId": _turn_id(call.id, calls_seen, tool_id),
                            "name": call.name,
                            "input": dict(call.arguments),
                        }
                    }
                )
        else:
            blocks.extend(_user_blocks(message))
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for entry in out:
        if entry["role"] == "user":
            # toolResult blocks lead the user turn (Claude requires it); the sort is stable
            entry["content"].sort(key=lambda b: 0 if "toolResult" in b else 1)
    return system, out


def _history_tool_names(messages: Sequence[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    has_blocks = False
    for entry in messages:
        for block in entry["content"]:
            if "toolUse" in block:
                has_blocks = True
                if block["toolUse"]["name"] not in names:
                    names.append(block["toolUse"]["name"])
            elif "toolResult" in block:
                has_blocks = True
    if has_blocks and not names:
        names.append("tool")  # results without their calls: any one spec satisfies the service
    return names


def _history_tools(names: Sequence[str], known: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """toolConfig for a request that withholds tools but whose history used some: the service
    requires it. Known definitions are reused; others get an open schema."""
    by_name = {t["toolSpec"]["name"]: t for t in known if "toolSpec" in t}
    out = []
    for name in names:
        out.append(
            by_name.get(name)
            or {
                "toolSpec": {
                    "name": name,
                    "description": "A tool used earlier in this conversation.",
                    "inputSchema": {"json": {"type": "object", "properties": {}}},
                }
            }
        )
    return out


def _thinking_on(extra: Mapping[str, Any]) -> bool:
    """Claude's extended thinking asked for (`thinking=` or in additionalModelRequestFields)."""
    fields = extra.get("additionalModelRequestFields")
    thinking = extra.get("thinking") or (fields.get("thinking") if isinstance(fields, Mapping) else None)
    return isinstance(thinking, Mapping) and thinking.get("type", "enabled") != "disabled"


def tool_choice_payload(choice: str | None) -> dict[str, Any] | None:
    if choice is None or choice == "auto":
        return {"auto": {}}
    if choice == "required":
        return {"any": {}}
    if choice == "none":
        return None
    return {"tool": {"name": choice}}


def _structured_tool(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "toolSpec": {
            "name": name,
            "description": f"Answer with a {name} object.",
            "inputSchema": {"json": schema},
        }
    }


def converse_body(
    request: ChatRequest,
    *,
    native_structured: bool = False,
    error_status: bool = True,
    named_choice: bool = True,
    any_choice: bool = True,
    tool_id: Callable[[str], str] = bedrock_tool_id,
) -> dict[str, Any]:
    """The JSON body of a Converse / ConverseStream request (the model id is in the path).

    `error_status`: the model takes `status` on toolResult blocks; `named_choice`: it takes
    toolChoice `tool` (Claude, Nova), else a single forced tool is asked for with `any`;
    `any_choice`: it takes toolChoice `any` (else the structured-output tool is only offered);
    `tool_id`: how a call's id becomes a toolUseId (`mistral_tool_id` for Mistral models)."""
    # the service model names the same families (Nova, Claude 3 and 4) for `status` and for images
    # inside a toolResult
    system, messages = converse_messages(
        request.messages, error_status=error_status, images_in_results=error_status, tool_id=tool_id
    )
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    params = dict(request.params)
    refuse_params(params, PENALTIES, "bedrock: the Converse API")
    inference = {_INFERENCE[k]: v for k, v in params.items() if k in _INFERENCE}
    if "maxTokens" in inference:
        inference["maxTokens"] = int(inference["maxTokens"])
    extra = dict(request.extra)
    stop = extra.pop("stop", None)
    if stop:
        inference["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if inference:
        body["inferenceConfig"] = inference
    tier = extra.pop("service_tier", None)
    if tier is not None:
        # Converse's `serviceTier` is {"type": priority|default|flex|reserved}; the neutral keyword
        # (which `generate` suggests for a misspelt `serviceTier=`) takes the bare name
        body["serviceTier"] = {"type": tier} if isinstance(tier, str) else tier
    tools: list[dict[str, Any]] = list(request.tool_payload or ()) if request.tools else []
    choice = request.tool_choice if request.tools else None
    forced_by_us = False  # the structured-output tool forced here, not a choice of the caller's
    if choice == "none":
        tools = []
    if request.response_model is not None:
        name = request.response_model.__name__
        if native_structured:
            schema = structured_schema(request.response_model, "bedrock", strict=True)
            body["outputConfig"] = {
                "textFormat": {
                    "type": "json_schema",
                    "structure": {"jsonSchema": {"schema": json.dumps(schema), "name": name}},
                }
            }
        else:
            # no native structured output for this model: a forced tool whose input is the answer
            if any(t["toolSpec"]["name"] == name for t in tools):
                raise ValueError(f"bedrock: a tool is already named {name!r}, the response model's name")
            schema = structured_schema(request.response_model, "bedrock", strict=False)
            with_user_tools = bool(tools)
            tools.append(_structured_tool(name, schema))
            forced_by_us = choice in (None, "auto", "required", "none")  # not a tool the caller named
            if not with_user_tools:
                choice = name
            elif choice in (None, "auto", "required"):
                # forcing this tool beside the caller's would answer at once and their tools would
                # never run (a Session loops on it): `any` lets the model call them first and end
                # with this one, as on Anthropic (issue 16 item 18)
                choice = "required"
    elif request.response_format is ResponseFormat.JSON:
        raise ValueError(
            "bedrock: JSON mode is not native to Converse; pass a Pydantic model as response_format"
        )
    if tools:
        config: dict[str, Any] = {"tools": tools}
        if not named_choice and choice not in (None, "auto", "required"):
            if len(tools) != 1:
                raise ValueError(
                    f"bedrock: {request.model} cannot be forced to one tool among several (toolChoice "
                    "`tool` is Claude and Nova only)"
                )
            choice = "required"  # the only tool, required: the same call
        if forced_by_us and (not any_choice or _thinking_on(extra)) and choice != "auto":
            # Llama (and other families) refuse toolChoice `any` / `tool` ("This model doesn't
            # support the toolConfig.toolChoice.any field"), and Claude refuses a forced tool with
            # extended thinking on: the answer tool is offered, and its call (or a JSON answer) is
            # validated all the same
            choice = None
        payload = tool_choice_payload(choice)
        if payload is not None and choice is not None:
            config["toolChoice"] = payload
        body["toolConfig"] = config
    else:
        names = _history_tool_names(messages)
        if names:
            body["toolConfig"] = {"tools": _history_tools(names, list(request.tool_payload or ()))}
    thinking = extra.pop("thinking", None)
    if thinking is not None:
        # Claude's extended thinking travels in additionalModelRequestFields on Converse
        fields = dict(extra.pop("additionalModelRequestFields", None) or {})
        fields["thinking"] = thinking
        extra["additionalModelRequestFields"] = fields
    for key, value in extra.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# -- provider --------------------------------------------------------------------------------
_CONVERSE = frozenset(
    {
        Capability.FUNCTION_CALLING,
        Capability.PARALLEL_TOOL_CALLS,
        Capability.STREAMING,
        Capability.STREAMING_TOOLS,
        Capability.STRUCTURED_OUTPUT,
        Capability.SYSTEM_PROMPT,
        Capability.ASYNC,
    }
)
_NONE: frozenset[Capability] = frozenset()
_TOOLS = frozenset(
    {
        Capability.FUNCTION_CALLING,
        Capability.PARALLEL_TOOL_CALLS,
        Capability.STREAMING_TOOLS,
        Capability.STRUCTURED_OUTPUT,
    }
)
# Bedrock user guide, "Supported models and model features" of the Converse API. The patterns match
# plain ids, cross-region profiles (us./eu./apac./global.) and ARNs alike.
_RULES: tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...] = (
    ("*anthropic.claude-3*", frozenset({Capability.VISION}), _NONE),
    ("*anthropic.claude-3-5-haiku*", _NONE, frozenset({Capability.VISION})),  # the guide's table: no vision
    ("*anthropic.claude-sonnet-4*", frozenset({Capability.VISION}), _NONE),
    ("*anthropic.claude-opus-4*", frozenset({Capability.VISION}), _NONE),
    ("*anthropic.claude-haiku-4*", frozenset({Capability.VISION}), _NONE),
    # strict tool use comes with structured outputs (Claude 4.5 and later, see NATIVE_STRUCTURED_OUTPUT)
    ("*anthropic.claude-sonnet-4-5*", frozenset({Capability.STRICT_TOOLS}), _NONE),
    ("*anthropic.claude-haiku-4-5*", frozenset({Capability.STRICT_TOOLS}), _NONE),
    ("*anthropic.claude-opus-4-5*", frozenset({Capability.STRICT_TOOLS}), _NONE),
    ("*anthropic.claude-opus-4-6*", frozenset({Capability.STRICT_TOOLS}), _NONE),
    ("*anthropic.claude-v2*", _NONE, _TOOLS),
    ("*anthropic.claude-instant*", _NONE, _TOOLS),
    ("*amazon.nova-*", frozenset({Capability.VISION}), _NONE),
    ("*amazon.nova-micro*", _NONE, frozenset({Capability.VISION})),
    ("*amazon.titan-text*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*meta.llama3-2-11b*", frozenset({Capability.VISION}), _NONE),
    ("*meta.llama3-2-90b*", frozenset({Capability.VISION}), _NONE),
    ("*meta.llama4*", frozenset({Capability.VISION}), _NONE),
    ("*mistral.pixtral*", frozenset({Capability.VISION}), _NONE),
    ("*meta.llama*", _NONE, frozenset({Capability.STREAMING_TOOLS})),
    ("*meta.llama3-8b*", _NONE, _TOOLS),
    ("*meta.llama3-70b*", _NONE, _TOOLS),
    ("*meta.llama2*", _NONE, _TOOLS),
    ("*mistral.*", _NONE, frozenset({Capability.STREAMING_TOOLS})),
    ("*mistral.mistral-7b*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*mistral.mixtral*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*cohere.command-r*", _NONE, frozenset({Capability.STREAMING_TOOLS})),
    ("*cohere.command-text*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*cohere.command-light*", _NONE, _TOOLS | {Capability.SYSTEM_PROMPT}),
    ("*deepseek.r1*", _NONE, _TOOLS),
)
# Converse `outputConfig.textFormat` (native structured output): Bedrock user guide, "Get
# validated JSON results from models"; other models get a forced tool.
NATIVE_STRUCTURED_OUTPUT = (
    "*anthropic.claude-sonnet-4-5*",
    "*anthropic.claude-haiku-4-5*",
    "*anthropic.claude-opus-4-5*",
    "*anthropic.claude-opus-4-6*",
)
# families whose Converse models take toolChoice `tool` (the service model's ToolChoice note)
_NAMED_CHOICE = ("anthropic.", "amazon.nova")
# ... and `any`: the API reference's older note ("Anthropic Claude 3 models and Mistral AI Mistral
# Large"), Nova and DeepSeek V3; Llama refuses it ("This model doesn't support the
# toolConfig.toolChoice.any field", reported by llama_index #19886, langchain-aws #620)
_ANY_CHOICE = (*_NAMED_CHOICE, "mistral.mistral-large", "deepseek.v3")


def _family(model: str, prefixes: Sequence[str]) -> bool:
    return any(p in model for p in prefixes)


class BedrockProvider(BaseProvider):
    """Amazon Bedrock Runtime's Converse / ConverseStream API."""

    name: ClassVar[str] = "bedrock"
    aliases: ClassVar[tuple[str, ...]] = ("aws_bedrock",)
    otel_provider_name: ClassVar[str] = "aws.bedrock"
    default_capabilities: ClassVar[frozenset[Capability]] = _CONVERSE
    model_capability_rules: ClassVar[tuple[tuple[str, frozenset[Capability], frozenset[Capability]], ...]] = (
        _RULES
    )
    api_key_env: ClassVar[tuple[str, ...]] = ("AWS_BEARER_TOKEN_BEDROCK",)
    requires_api_key: ClassVar[bool] = False
    base_url_env: ClassVar[tuple[str, ...]] = ()
    tool_dialect: ClassVar[str] = "bedrock"
    schema_compiler = staticmethod(bedrock_schema)  # its own dialect: `compile_schema(..., "bedrock")`
    request_id_headers: ClassVar[tuple[str, ...]] = ("x-amzn-requestid", "x-amz-request-id")
    region_env: ClassVar[tuple[str, ...]] = ("AWS_REGION", "AWS_DEFAULT_REGION")
    # "The maximum size of an image is 3.75 MB" (Converse API, ImageBlock); only bytes or an S3
    # location are accepted, so URL images are downloaded
    max_image_bytes: ClassVar[int] = 3_750_000
    fetches_image_urls: ClassVar[bool] = False

    def configure(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        credentials: Any = None,
        **options: Any,
    ) -> None:
        """`region`; credentials: `profile` (a shared-config profile), explicit keys, or any
        botocore credentials object (`credentials=`, e.g. from `boto3.Session().get_credentials()`).
        Without them, and without a Bedrock API key, the standard AWS chain is used."""
        super().configure(**options)
        given = region or first_env(self.region_env) or ""
        if not isinstance(given, str):
            raise ConfigurationError(f"bedrock: region must be a string, got {type(given).__name__}")
        resolved = given.strip()  # a value read from a file keeps its newline
        if not resolved:
            raise ConfigurationError(
                "bedrock: no region; pass region=... or set AWS_REGION or AWS_DEFAULT_REGION"
            )
        if not re.fullmatch(r"[a-z0-9-]{1,32}", resolved):
            raise ConfigurationError(f"bedrock: {resolved!r} is not an AWS region name")
        self.region: str = resolved
        if self.base_url is None:
            self.base_url = f"https://bedrock-runtime.{self.region}.{dns_suffix(self.region)}"
        elif self._env_key_withheld and is_bedrock_runtime_host(self.base_url):
            # the base class keeps an environment key from any host but the default one, which for
            # Bedrock is only known here: AWS's own Bedrock Runtime endpoints (the regional host
            # named explicitly, FIPS, a VPC interface endpoint) are where the key belongs
            self._api_key = clean_key(first_env(self.api_key_env), self.name)
            self._env_key_withheld = None
        self.profile = profile
        self._credentials: Any = credentials
        self._signed_with: Any = None
        self._tool_json = ToolJson()
        if aws_access_key_id or aws_secret_access_key:
            if not (aws_access_key_id and aws_secret_access_key):
                raise ConfigurationError("bedrock: pass both aws_access_key_id and aws_secret_access_key")
            from .bedrock_auth import StaticCredentials

            self._credentials = StaticCredentials(aws_access_key_id, aws_secret_access_key, aws_session_token)

    def _check_credentials(self) -> None:
        super()._check_credentials()
        # A Bedrock API key (bearer) wins when it was passed explicitly or no AWS credentials were
        # given; otherwise the AWS chain is resolved now, so a missing setup fails at creation.
        explicit_aws = self._credentials is not None or self.profile is not None
        if self._api_key and not explicit_aws:
            return
        self._api_key = None if explicit_aws else self._api_key
        if self._credentials is None:
            from .bedrock_auth import botocore_credentials

            try:
                self._credentials = botocore_credentials(self.profile)
            except ConfigurationError as exc:
                if not self._env_key_withheld:
                    raise
                # say why the Bedrock API key that is set was not used, rather than "no credentials"
                raise ConfigurationError(
                    f"bedrock: no credentials for {self._env_key_withheld}: AWS_BEARER_TOKEN_BEDROCK "
                    "is only sent to AWS's Bedrock Runtime endpoints; pass api_key=... to send a key to "
                    "another server, or configure AWS credentials to sign requests to it "
                    f"({str(exc).removeprefix('bedrock: ')})"
                ) from exc

    def __repr__(self) -> str:
        auth = f"api_key={mask_secret(self._api_key)!r}" if self._api_key else "auth='sigv4'"
        return f"{type(self).__name__}(model={self.model!r}, region={self.region!r}, {auth})"

    # -- facts asked of the class ---------------------------------------------------------------
    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        return parse_converse(payload, provider=cls.name)

    @classmethod
    def tools_payload(cls, tools: Sequence[Any]) -> list[dict[str, Any]]:
        """The `toolConfig.tools` entries for tools (definitions, functions, tool dicts)."""
        return tools_payload([ToolDefinition.coerce(t) for t in tools], dialect=cls.tool_dialect)

    @classmethod
    def default_capabilities_for(cls, model: str | None = None) -> list[Capability]:
        # ~20 fnmatch rules, asked up to three times per call: once per (class, model) is enough
        return list(_capabilities(cls, model))

    def native_structured_output(self, model: str) -> bool:
        from fnmatch import fnmatchcase

        return any(fnmatchcase(model, p) for p in NATIVE_STRUCTURED_OUTPUT)

    # -- translation hooks ----------------------------------------------------------------------
    def translate_tools(self, tools: tuple[ToolDefinition, ...]) -> Any:
        return tools_payload(tools, dialect=self.tool_dialect)

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        return converse_body(
            request,
            native_structured=request.response_model is not None
            and self.native_structured_output(request.model),
            error_status=_family(request.model, _STATUS_FAMILIES),
            named_choice=_family(request.model, _NAMED_CHOICE),
            any_choice=_family(request.model, _ANY_CHOICE),
            tool_id=mistral_tool_id if "mistral." in request.model else bedrock_tool_id,
        )

    def body_json(self, request: ChatRequest) -> str:
        body = self.build_body(request)
        config = body.get("toolConfig")
        if isinstance(config, dict) and list(config) in (["tools"], ["tools", "toolChoice"]):
            # the tool definitions (most of the body) as serialized for an earlier request
            tools = self._tool_json.text(config["tools"], request.tool_payload)
            if tools is not None:
                choice = f',"toolChoice":{dumps(config["toolChoice"])}' if "toolChoice" in config else ""
                text = with_last(body, "toolConfig", f'{{"tools":{tools}{choice}}}')
                if text is not None:
                    return text
        return dumps(body)

    def endpoint(self, request: ChatRequest) -> str:
        action = "converse-stream" if request.stream else "converse"
        return f"{self.base_url}{model_path(request.model)}/{action}"

    def auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    async def aauth_headers(self) -> dict[str, str]:
        refresh_needed = getattr(self._credentials, "refresh_needed", None)
        if not self._api_key and callable(refresh_needed) and refresh_needed():
            # botocore refreshes with blocking HTTP (STS, IMDS, container endpoint): off the loop
            await asyncio.to_thread(self._credentials.get_frozen_credentials)
        return self.auth_headers()

    def _http_call(self, request: ChatRequest, auth: dict[str, str]) -> HttpCall:
        call = super()._http_call(request, auth)
        if request.stream:
            call.headers["accept"] = "application/vnd.amazon.eventstream"
        if not self._api_key:
            from .bedrock_auth import frozen, sigv4_headers

            for name in [n for n in call.headers if n.lower() == "authorization"]:
                del call.headers[name]
            creds = frozen(self._credentials)
            self._signed_with = creds
            call.headers.update(
                sigv4_headers(call.method, call.url, call.headers, call.body, creds, region=self.region)
            )
            call.prepare_retry = self._sign_again
        return call

    def _sign_again(self, call: HttpCall) -> None:
        """Before a retry: AWS refuses a signature more than five minutes after its `x-amz-date`
        ("Signature expired"), which a retry after a long attempt (a model timeout, a read timeout)
        would send; and temporary credentials may have been refreshed since."""
        from .bedrock_auth import frozen, sigv4_headers

        for name in ("authorization", "x-amz-date", "x-amz-security-token"):
            call.headers.pop(name, None)
        creds = frozen(self._credentials)
        self._signed_with = creds
        call.headers.update(
            sigv4_headers(call.method, call.url, call.headers, call.body, creds, region=self.region)
        )

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_converse(payload, provider=self.name, model=request.model)

    def new_stream_state(self, request: ChatRequest) -> BedrockStreamState:
        return BedrockStreamState(self.name, request.model)

    def finish(self, request: ChatRequest, response: GenerateResponse) -> GenerateResponse:
        if request.response_model is not None and not self.native_structured_output(request.model):
            _structured_from_tool(request.response_model.__name__, response)
        return super().finish(request, response)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        error = bedrock_error(status, headers, body, provider=self.name, request_id=self.request_id(headers))
        # the transport scrubs what the request's headers carried; the AWS secret key never
        # travels, but an error must not show it even if something upstream echoed it
        from .._transport import scrub_error

        return scrub_error(error, self.secret_values())

    def credentials(self) -> tuple[str, ...]:
        """The base's declared credentials plus the AWS secret key and session token (the seam
        the transport, streams, recorder and logs scrub with: an exception event inside a stream
        or a recorded error never shows them)."""
        declared = super().credentials()
        aws = self.secret_values() if not self._api_key else ()
        if not aws:
            return declared
        cached = self.__dict__.get("_aws_secrets_cache")
        if cached is not None and cached[0] == (declared, aws):
            return cached[1]  # type: ignore[no-any-return]
        found = set(declared)
        for value in aws:
            found |= secret_forms(value)
        result = ordered(found)
        register(result)
        self.__dict__["_aws_secrets_cache"] = ((declared, aws), result)
        return result

    def secret_values(self) -> tuple[str, ...]:
        """Every credential this provider holds or last signed with, for scrubbing logs, traces
        and recordings (asked without resolving anything: no refresh, no I/O)."""
        found = [self._api_key] if self._api_key else []
        # botocore's refreshable credentials refresh on attribute access: only frozen sets are read
        static = getattr(self._credentials, "_frozen", None)
        for creds in (getattr(self, "_signed_with", None), static):
            if creds is not None:
                found += [v for v in (creds.secret_key, creds.token) if v]
        return tuple(dict.fromkeys(found))


@functools.lru_cache(maxsize=128)
def _capabilities(cls: type[BedrockProvider], model: str | None) -> tuple[Capability, ...]:
    return tuple(BaseProvider.default_capabilities_for.__func__(cls, model))  # type: ignore[attr-defined]


def _structured_from_tool(name: str, response: GenerateResponse) -> None:
    """Move the forced structured-output tool call into `content` (its JSON), so the shared
    `finish` validates it into `parsed` exactly like a native structured-output answer."""
    if response.tool_calls is None:
        return
    forced = [c for c in response.tool_calls if c.name == name]
    if not forced:
        return
    others = [c for c in response.tool_calls if c.name != name]
    call = forced[0]
    response.content = call.raw_arguments if call.arguments_error is not None else json.dumps(call.arguments)
    response.tool_calls = ToolCallRequest(others, response.content) if others else None
    if not others and response.finish_reason == "tool_calls":
        response.finish_reason = "stop"
