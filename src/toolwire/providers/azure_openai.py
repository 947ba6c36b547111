"""Azure OpenAI: the Chat Completions wire of `openai.py`, with Azure's URLs, auth and filters.

Two endpoint styles:
- the **v1 endpoint** `{azure_endpoint}/openai/v1/chat/completions` with the deployment name as
  `model` and no api-version (the default, Microsoft's recommended path since 2025: no dated
  version gating features);
- the **dated** endpoint `{azure_endpoint}/openai/deployments/{deployment}/chat/completions
  ?api-version=...` when `api_version` (or `OPENAI_API_VERSION`) is a date.

Auth: an API key (`api-key` header), or Entra ID through `azure_ad_token_provider` (a callable
returning a bearer token, sync or async) or an azure-identity `credential` (tokens fetched and
refreshed by azure-identity's bearer token provider; never stored as a string by us).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

from ..errors import ConfigurationError
from ..types import GenerateResponse
from .base import ChatRequest, first_env, mask_secret
from .openai import OpenAIProvider, chat_body, parse_chat_completion

__all__ = ["AZURE_SCOPE", "AzureOpenAIProvider"]

AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"

# api-versions before this reject the parameter with 400 "Unrecognized request argument".
# (`tools` itself is NOT gated: a real 2023-03-15-preview deployment answered tool calls, see
# fixtures/recorded/azure_openai/azure_parallel_tool_calls_and_tool_results.yaml.)
_PARALLEL_TOOL_CALLS_SINCE = "2024-08-01"


class AzureOpenAIProvider(OpenAIProvider):
    """Azure OpenAI (and Azure AI Foundry OpenAI deployments)."""

    name: ClassVar[str] = "azure_openai"
    aliases: ClassVar[tuple[str, ...]] = ("azure",)
    otel_provider_name: ClassVar[str] = "azure.ai.openai"
    api_key_env = ("AZURE_OPENAI_API_KEY",)
    env_key_any_host = True  # every Azure endpoint is the user's own resource
    base_url_env = ()
    default_base_url = None
    request_id_headers = ("apim-request-id", "x-request-id", "x-ms-request-id")
    api_variants: ClassVar[dict[str, str]] = {
        "responses": "toolwire.providers.openai_responses:AzureOpenAIResponsesProvider"
    }

    def __init__(
        self,
        *,
        deployment: str | None = None,
        azure_endpoint: str | None = None,
        api_version: str | None = None,
        azure_ad_token_provider: Callable[[], str | Awaitable[str]] | None = None,
        credential: Any = None,
        model: str | None = None,
        base_url: str | None = None,
        **config: Any,
    ) -> None:
        self.deployment = deployment or model or first_env(("AZURE_OPENAI_DEPLOYMENT",))
        endpoint = azure_endpoint or first_env(("AZURE_OPENAI_ENDPOINT",))
        self.api_version = api_version or first_env(("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION"))
        if self.api_version in ("v1", "latest", "preview"):
            # "v1"/"latest" mean the v1 endpoint; "preview" is its preview flavour (query kept)
            self._v1_query = self.api_version if self.api_version == "preview" else None
            self.api_version = None
        else:
            self._v1_query = None
        self._token_provider = azure_ad_token_provider
        self._async_token_provider: Callable[[], Awaitable[str]] | None = None
        if credential is not None:
            self._token_provider, self._async_token_provider = _providers_from_credential(credential)
        if base_url is None:
            if not endpoint:
                raise ConfigurationError(
                    "azure_openai: no endpoint; pass azure_endpoint='https://<resource>.openai.azure.com' "
                    "or set AZURE_OPENAI_ENDPOINT"
                )
            endpoint = endpoint.rstrip("/")
            if endpoint.endswith("/openai/v1") or endpoint.endswith("/openai"):
                endpoint = endpoint.rsplit("/openai", 1)[0]
            base_url = endpoint
        self.azure_endpoint = base_url.rstrip("/")
        if not self.deployment:
            raise ConfigurationError(
                "azure_openai: no deployment; pass deployment='<deployment name>' (the name you gave "
                "the deployment in Azure, not the model id) or set AZURE_OPENAI_DEPLOYMENT"
            )
        super().__init__(model=self.deployment, base_url=base_url, **config)

    def _check_credentials(self) -> None:
        if not self._api_key and self._token_provider is None and self._async_token_provider is None:
            raise ConfigurationError(
                "azure_openai: no credentials; pass api_key=... (or set AZURE_OPENAI_API_KEY), "
                "azure_ad_token_provider=<callable returning a token>, or credential=<azure-identity "
                'credential> (pip install "toolwire[azure]")'
            )

    def __repr__(self) -> str:
        entra = self._token_provider is not None or self._async_token_provider is not None
        auth = "entra_id" if entra else f"api_key={mask_secret(self._api_key)!r}"
        return (
            f"AzureOpenAIProvider(deployment={self.deployment!r}, azure_endpoint={self.safe_base_url()!r}, "
            f"api_version={self.api_version or 'v1'!r}, {auth})"
        )

    # -- wire ----------------------------------------------------------------------------------
    def endpoint(self, request: ChatRequest) -> str:
        if self.api_version is None:
            url = f"{self.azure_endpoint}/openai/v1/chat/completions"
            return f"{url}?api-version={self._v1_query}" if self._v1_query else url
        deployment = request.model
        return (
            f"{self.azure_endpoint}/openai/deployments/{deployment}/chat/completions"
            f"?api-version={self.api_version}"
        )

    def _dated_before(self, date: str) -> bool:
        return self.api_version is not None and self.api_version[:10] < date

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        old_parallel = self._dated_before(_PARALLEL_TOOL_CALLS_SINCE)
        if old_parallel and request.parallel_tool_calls is not None:
            raise ConfigurationError(
                f"azure_openai: api_version {self.api_version} does not accept parallel_tool_calls; use "
                "2024-08-01-preview or later, or the v1 endpoint (api_version=None)"
            )
        body = chat_body(
            request,
            send_parallel_tool_calls=not old_parallel,
            include_usage=not self._dated_before("2024-09-01"),
        )
        if self.api_version is not None:
            body.pop("model", None)  # the deployment is in the URL
        return body

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_chat_completion(payload, provider=self.name)

    # -- auth ----------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        if self._token_provider is not None:
            token = self._token_provider()
            if inspect.isawaitable(token):
                close = getattr(token, "close", None)
                if close is not None:
                    close()
                raise ConfigurationError(
                    "azure_openai: azure_ad_token_provider returned an awaitable; use agenerate() or "
                    "pass a synchronous token provider for generate()"
                )
            return {"authorization": f"Bearer {token}"}
        if self._async_token_provider is not None:
            raise ConfigurationError(
                "azure_openai: an async credential (azure.identity.aio) works with agenerate(); "
                "pass a synchronous credential for generate()"
            )
        return {"api-key": self._api_key or ""}

    async def aauth_headers(self) -> dict[str, str]:
        if self._async_token_provider is not None:
            return {"authorization": f"Bearer {await self._async_token_provider()}"}
        if self._token_provider is not None:
            token = self._token_provider()
            if inspect.isawaitable(token):
                token = await token
            return {"authorization": f"Bearer {token}"}
        return {"api-key": self._api_key or ""}

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> Any:
        return super().map_error(status, headers, body)


def _providers_from_credential(
    credential: Any,
) -> tuple[Callable[[], str] | None, Callable[[], Awaitable[str]] | None]:
    """Token providers from an azure-identity credential (sync or `azure.identity.aio`)."""
    is_async = inspect.iscoroutinefunction(getattr(credential, "get_token", None))
    try:
        if is_async:
            from azure.identity.aio import get_bearer_token_provider as aio_provider

            return None, aio_provider(credential, AZURE_SCOPE)
        from azure.identity import get_bearer_token_provider

        return get_bearer_token_provider(credential, AZURE_SCOPE), None
    except ImportError as exc:
        raise ConfigurationError(
            'azure_openai: credential= needs azure-identity: pip install "toolwire[azure]"'
        ) from exc
