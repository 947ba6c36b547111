"""The OpenAI Responses API (`api="responses"`) for OpenAI, Azure OpenAI and Open Responses servers.

`AbstractLLM.create("openai" | "azure_openai" | "openai_compatible", ..., api="responses")` picks
these classes through the chat classes' `api_variants`. Each is its Chat Completions class (same
name, configuration, auth, error envelope, capabilities) with the translation hooks of the
Responses wire (`responses_wire.py`): the body, the endpoint, the response and stream readers.

Azure serves Responses at `{endpoint}/openai/v1/responses` with the deployment name as `model`
(no api-version); a dated `api_version` works only from 2025-03-01-preview on, at
`/openai/responses?api-version=…` ("Azure OpenAI Responses API is enabled only for api-version
2025-03-01-preview and later", aider#4029), so an older one is refused before any request.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import ConfigurationError, InvalidRequestError
from ..tools.definition import ToolDefinition
from ..types import GenerateResponse, coerce_messages
from ._common import PENALTIES, refuse_params
from .azure_openai import AzureOpenAIProvider
from .base import ChatRequest
from .openai import OpenAICompatibleProvider, OpenAIProvider
from .responses_wire import (
    ResponsesStreamState,
    is_hosted_tool,
    parse_response_body,
    responses_body,
    responses_tools,
    strip_encrypted,
)

__all__ = [
    "AzureOpenAIResponsesProvider",
    "OpenAICompatibleResponsesProvider",
    "OpenAIResponsesProvider",
    "ResponsesMixin",
]

logger = logging.getLogger("toolwire.provider.responses")

# the first dated Azure api-version that serves /openai/responses
AZURE_RESPONSES_SINCE = "2025-03-01"


class ResponsesMixin:
    """The Responses wire on top of an OpenAI-family provider class (put it first in the bases)."""

    api: ClassVar[str] = "responses"
    name: ClassVar[str]
    tool_dialect: ClassVar[str]
    base_url: str | None

    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        return parse_response_body(payload, provider=cls.name)

    @classmethod
    def tools_payload(cls, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        return responses_tools(tools, dialect=cls.tool_dialect)

    def translate_tools(self, tools: tuple[ToolDefinition, ...]) -> Any:
        return responses_tools(tools, dialect=self.tool_dialect)

    def _translated_tools(self, tools: Sequence[Any]) -> tuple[tuple[ToolDefinition, ...], Any]:
        """Hosted tools (`{"type": "web_search"}`, ...) go through as given, in their place; the
        function tools are coerced and translated (cached) as on every provider."""
        if not any(is_hosted_tool(t) for t in tools):
            return super()._translated_tools(tools)  # type: ignore[misc, no-any-return]
        functions = [t for t in tools if not is_hosted_tool(t)]
        definitions, payload = (
            super()._translated_tools(functions) if functions else ((), [])  # type: ignore[misc]
        )
        translated = iter(payload)
        merged = [dict(t) if is_hosted_tool(t) else next(translated) for t in tools]
        return definitions, merged

    # OpenAI's and Azure's CreateResponse has no penalties (the OpenAPI spec); Open Responses
    # servers may take them, so only those two classes refuse them before sending
    refused_params: ClassVar[tuple[str, ...]] = ()

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        refuse_params(request.params, self.refused_params, f"{self.name}: the Responses API")
        return responses_body(request)

    def endpoint(self, request: ChatRequest) -> str:
        return f"{self.base_url}/responses"

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_response_body(payload, provider=self.name)

    def new_stream_state(self, request: ChatRequest) -> Any:  # a StreamState (the chat class narrows it)
        return ResponsesStreamState(self.name)

    # -- encrypted reasoning from another organisation ---------------------------------------
    def _without_foreign_reasoning(self, error: InvalidRequestError, messages: Any) -> Any:
        """The history to retry with when the service refused replayed encrypted reasoning
        (`invalid_encrypted_content`: it is bound to the organisation that produced it, e.g. a
        history made on OpenAI continued on Azure, pydantic-ai#4608), else None."""
        if error.code != "invalid_encrypted_content":
            return None
        stripped, dropped = strip_encrypted(coerce_messages(messages))
        if not dropped:
            return None
        logger.warning(
            "%s refused the encrypted reasoning of %d replayed item(s) (invalid_encrypted_content, "
            "produced by another organisation or deployment); retrying once without them",
            self.name,
            dropped,
        )
        return stripped

    def generate(self, messages: Any, **kwargs: Any) -> Any:
        try:
            return super().generate(messages, **kwargs)  # type: ignore[misc]
        except InvalidRequestError as exc:
            retry = self._without_foreign_reasoning(exc, messages)
            if retry is None:
                raise
            return super().generate(retry, **kwargs)  # type: ignore[misc]

    async def agenerate(self, messages: Any, **kwargs: Any) -> Any:
        try:
            return await super().agenerate(messages, **kwargs)  # type: ignore[misc]
        except InvalidRequestError as exc:
            retry = self._without_foreign_reasoning(exc, messages)
            if retry is None:
                raise
            return await super().agenerate(retry, **kwargs)  # type: ignore[misc]


class OpenAIResponsesProvider(ResponsesMixin, OpenAIProvider):
    """OpenAI's Responses API (`POST https://api.openai.com/v1/responses`)."""

    refused_params = PENALTIES


class OpenAICompatibleResponsesProvider(ResponsesMixin, OpenAICompatibleProvider):
    """A server speaking Open Responses (`POST {base_url}/responses`): DeepSeek, OpenRouter,
    LM Studio, Bedrock Mantle (`https://bedrock-mantle.{region}.api.aws/openai/v1`), ..."""


class AzureOpenAIResponsesProvider(ResponsesMixin, AzureOpenAIProvider):
    """Azure OpenAI's Responses API (`/openai/v1/responses`, deployment name as `model`)."""

    refused_params = PENALTIES

    def configure(self, **options: Any) -> None:
        super().configure(**options)
        if self.api_version is not None and self.api_version[:10] < AZURE_RESPONSES_SINCE:
            raise ConfigurationError(
                f"azure_openai: api_version {self.api_version} does not serve the Responses API "
                f"(Azure enables it from {AZURE_RESPONSES_SINCE}-preview on); leave api_version unset "
                "for the v1 endpoint (/openai/v1/responses), or pass 2025-03-01-preview or later"
            )

    def endpoint(self, request: ChatRequest) -> str:
        if self.api_version is None:
            url = f"{self.azure_endpoint}/openai/v1/responses"
            return f"{url}?api-version={self._v1_query}" if self._v1_query else url
        # the body is the mixin's: the deployment goes in `model` on both routes (unlike dated Chat
        # Completions URLs)
        return f"{self.azure_endpoint}/openai/responses?api-version={self.api_version}"

    def __repr__(self) -> str:
        return super().__repr__().replace("AzureOpenAIProvider(", "AzureOpenAIResponsesProvider(", 1)
