"""Gemini: the `generateContent` wire of the Gemini API (API key) and of Vertex AI.

Pure translation functions (neutral request → `GenerateContentRequest` JSON; a
`GenerateContentResponse`, a list of them, or SSE events → toolwire types; a google.rpc error body →
`ProviderError`) and the `GeminiProvider` wiring them. The translation lives in `gemini_wire`
(request and error body), `gemini_stream` (response and stream assembly) and `gemini_auth` (Vertex
credentials); every name is re-exported here. No Google SDK is imported here; Vertex
credentials come from google-auth (the `vertex` extra), imported only when Vertex is used.

Wire rules this module enforces (../docs/providers/gemini.md has the why of each):
- function calls carry no id on the Gemini API (Vertex gemini-3 adds one): a call without an id
  gets a stable generated one, and only an id that *Gemini* gave is ever sent back;
- every result of a turn goes in ONE user content of `functionResponse` parts, in the order of the
  calls, named after the function (Gemini matches results by name and order);
- `thoughtSignature` is kept per call (and on the final text) and echoed unchanged;
- a function-call turn must follow a user or function-response turn: a history that starts with
  a model turn gets a minimal user turn in front.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import (
    ConfigurationError,
    ProviderError,
)
from ..tools.definition import ToolDefinition
from ..types import (
    Capability,
    GenerateResponse,
)
from .base import (
    BaseProvider,
    ChatRequest,
    first_env,
    mask_secret,
)

# The request translation, the stream assembly and the Vertex credentials live in their own modules;
# every name stays importable from here (`X as X` marks the re-export).
from .gemini_auth import VERTEX_SCOPE as VERTEX_SCOPE
from .gemini_auth import _auth_request as _auth_request
from .gemini_auth import _default_credentials as _default_credentials
from .gemini_schema import gemini_schema
from .gemini_stream import GeminiStreamState as GeminiStreamState
from .gemini_stream import normalize_finish_reason as normalize_finish_reason
from .gemini_stream import parse_generate_content as parse_generate_content
from .gemini_wire import TURN_ORDER_FILLER as TURN_ORDER_FILLER
from .gemini_wire import gemini_call_id as gemini_call_id
from .gemini_wire import gemini_contents as gemini_contents
from .gemini_wire import gemini_error as gemini_error
from .gemini_wire import gemini_tools as gemini_tools
from .gemini_wire import generate_content_body as generate_content_body
from .gemini_wire import inline_image_part as inline_image_part

if TYPE_CHECKING:
    pass

__all__ = [
    "VERTEX_SCOPE",
    "GeminiProvider",
    "GeminiStreamState",
    "gemini_body",
    "gemini_contents",
    "gemini_error",
    "gemini_messages",
    "gemini_tools",
    "generate_content_body",
    "parse_gemini",
    "parse_generate_content",
]

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"

# -- provider --------------------------------------------------------------------------------
_GEMINI_CAPABILITIES = frozenset(
    {
        Capability.FUNCTION_CALLING,
        Capability.PARALLEL_TOOL_CALLS,
        Capability.STREAMING,
        Capability.STREAMING_TOOLS,
        Capability.STRUCTURED_OUTPUT,
        Capability.JSON_MODE,
        Capability.VISION,
        Capability.SYSTEM_PROMPT,
        Capability.ASYNC,
    }
)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


class GeminiProvider(BaseProvider):
    """Gemini models through the Gemini API (`x-goog-api-key`) or Vertex AI (`vertexai=True`:
    google-auth credentials, or an API key in express mode)."""

    name: ClassVar[str] = "gemini"
    aliases: ClassVar[tuple[str, ...]] = ("google",)
    otel_provider_name: ClassVar[str] = "gcp.gemini"
    default_capabilities: ClassVar[frozenset[Capability]] = _GEMINI_CAPABILITIES
    requires_model: ClassVar[bool] = True
    example_model: ClassVar[str | None] = "gemini-2.5-flash"
    api_key_env: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    base_url_env: ClassVar[tuple[str, ...]] = ("GEMINI_BASE_URL",)
    default_base_url: ClassVar[str | None] = GEMINI_BASE_URL
    tool_dialect: ClassVar[str] = "gemini"
    schema_compiler = staticmethod(gemini_schema)  # its own dialect: `compile_schema(..., "gemini")`
    # inline data: "the total request size limit is 20 MB" (ai.google.dev, Image understanding);
    # http(s) URLs are not fetched by generateContent, so toolwire downloads them
    max_image_bytes: ClassVar[int] = 20_000_000
    fetches_image_urls: ClassVar[bool] = False
    request_id_headers: ClassVar[tuple[str, ...]] = ("x-request-id", "x-goog-request-id")

    def configure(
        self,
        *,
        vertexai: bool | None = None,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        api_version: str | None = None,
        function_schema: str = "parameters",
        **options: Any,
    ) -> None:
        if function_schema not in ("parameters", "json_schema"):
            raise ConfigurationError(
                f"gemini: function_schema must be 'parameters' or 'json_schema', not {function_schema!r}"
            )
        self.function_schema = function_schema
        self.vertexai = _truthy(os.environ.get("GOOGLE_GENAI_USE_VERTEXAI")) if vertexai is None else vertexai
        self.project = project
        self.location = location
        self._credentials = credentials
        self._express = False
        if self.vertexai:
            self.project = project or first_env(("GOOGLE_CLOUD_PROJECT",))
            self.location = location or first_env(("GOOGLE_CLOUD_LOCATION",)) or "global"
            # An explicit key without project or credentials is Vertex express mode.
            self._express = self._given_api_key is not None and credentials is None and project is None
            if not self._express:
                if self._credentials is None:
                    self._credentials, default_project = _default_credentials()
                    self.project = self.project or default_project
                if not self.project:
                    raise ConfigurationError(
                        "gemini (Vertex AI): no project; pass project=... or set GOOGLE_CLOUD_PROJECT"
                    )
                self._api_key = None  # never send an environment API key beside Vertex credentials
            if self._given_base_url is None:
                host = (
                    "aiplatform.googleapis.com"
                    if self.location == "global"
                    else f"{self.location}-aiplatform.googleapis.com"
                )
                self.base_url = f"https://{host}"
        self.api_version = api_version or ("v1" if self.vertexai else "v1beta")
        super().configure(**options)

    def _check_credentials(self) -> None:
        if self.vertexai and not self._express:
            return
        if not self._api_key:
            raise ConfigurationError(
                "gemini: no API key; pass api_key=... or set GEMINI_API_KEY (or GOOGLE_API_KEY); "
                "for Vertex AI pass vertexai=True with project=... and google-auth credentials "
                '(pip install "toolwire[vertex]")'
            )

    def __repr__(self) -> str:
        if self.vertexai:
            auth = "express api_key" if self._express else "credentials"
            return (
                f"GeminiProvider(model={self.model!r}, vertexai=True, project={self.project!r}, "
                f"location={self.location!r}, auth={auth!r}, api_key={mask_secret(self._api_key)!r})"
            )
        return (
            f"GeminiProvider(model={self.model!r}, base_url={self.safe_base_url()!r}, "
            f"api_key={mask_secret(self._api_key)!r})"
        )

    # -- wire ----------------------------------------------------------------------------------
    @classmethod
    def parse_raw_response(cls, payload: Any) -> GenerateResponse:
        return parse_generate_content(payload, provider=cls.name)

    @classmethod
    def tools_payload(cls, tools: Sequence[ToolDefinition]) -> list[dict[str, Any]]:
        # one function declaration per tool (the request wraps them in one `tools` entry)
        declarations: list[dict[str, Any]] = gemini_tools(tools)[0]["functionDeclarations"] if tools else []
        return declarations

    def telemetry_name(self) -> str:
        return "gcp.vertex_ai" if self.vertexai else self.otel_provider_name

    def translate_tools(self, tools: tuple[ToolDefinition, ...]) -> Any:
        return gemini_tools(tools, json_schema=self.function_schema == "json_schema")

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        return generate_content_body(request)

    def endpoint(self, request: ChatRequest) -> str:
        model = request.model
        if model.startswith("models/"):
            model = model[len("models/") :]
        if self.vertexai:
            if self._express:
                prefix = f"{self.base_url}/{self.api_version}/publishers/google/models/{model}"
            else:
                prefix = (
                    f"{self.base_url}/{self.api_version}/projects/{self.project}/locations/{self.location}"
                    f"/publishers/google/models/{model}"
                )
        else:
            prefix = f"{self.base_url}/{self.api_version}/models/{model}"
        return f"{prefix}:streamGenerateContent?alt=sse" if request.stream else f"{prefix}:generateContent"

    def auth_headers(self) -> dict[str, str]:
        if self.vertexai and not self._express:
            return {"authorization": f"Bearer {self._token()}"}
        return {"x-goog-api-key": self._api_key or ""}

    async def aauth_headers(self) -> dict[str, str]:
        if self.vertexai and not self._express and not self._credentials_valid():
            # google-auth refreshes synchronously: keep the event loop free while it does
            return {"authorization": f"Bearer {await asyncio.to_thread(self._token)}"}
        return self.auth_headers()

    def _credentials_valid(self) -> bool:
        credentials = self._credentials
        return bool(getattr(credentials, "valid", False)) and bool(getattr(credentials, "token", None))

    def _token(self) -> str:
        credentials = self._credentials
        if not self._credentials_valid():
            credentials.refresh(_auth_request())
        token = getattr(credentials, "token", None)
        if not token:
            raise ConfigurationError("gemini (Vertex AI): the credentials produced no access token")
        return str(token)

    def parse_response(self, payload: Any, request: ChatRequest) -> GenerateResponse:
        return parse_generate_content(payload, provider=self.name)

    def new_stream_state(self, request: ChatRequest) -> GeminiStreamState:
        return GeminiStreamState(self.name)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return gemini_error(status, headers, body, provider=self.name, request_id=self.request_id(headers))


# The wire functions under the one naming scheme of provider modules: `<wire>_body`,
# `<wire>_messages`, `<wire>_tools`, `<wire>_error`, `parse_<wire>` (the names above stay).
gemini_body = generate_content_body
gemini_messages = gemini_contents
parse_gemini = parse_generate_content
