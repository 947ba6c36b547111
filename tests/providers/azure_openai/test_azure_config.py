"""Azure OpenAI configuration: URLs, auth (key, Entra token providers, azure-identity), env, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from toolwire import AbstractLLM
from toolwire.errors import ConfigurationError

SECRET = "azure-secret-key-0123456789"
REPLY = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "OPENAI_API_VERSION",
        "AZURE_OPENAI_API_VERSION",
        "AZURE_OPENAI_DEPLOYMENT",
    ):
        monkeypatch.delenv(name, raising=False)


def _azure(**options: Any) -> tuple[Any, list[httpx2.Request]]:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=REPLY)

    transport = httpx2.MockTransport(handler)
    options.setdefault("azure_endpoint", "https://res.openai.azure.com")
    options.setdefault("deployment", "my-gpt4o")
    llm = AbstractLLM.create(
        "azure_openai",
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
        **options,
    )
    return llm, seen


def test_v1_endpoint_model_is_the_deployment_and_no_api_version() -> None:
    llm, seen = _azure(api_key=SECRET)
    llm.generate("hi")
    assert str(seen[0].url) == "https://res.openai.azure.com/openai/v1/chat/completions"
    assert json.loads(seen[0].content)["model"] == "my-gpt4o"
    assert seen[0].headers["api-key"] == SECRET and "authorization" not in seen[0].headers


def test_dated_endpoint() -> None:
    llm, seen = _azure(
        api_key=SECRET, api_version="2024-10-21", azure_endpoint="https://res.openai.azure.com/"
    )
    llm.generate("hi")
    assert str(seen[0].url) == (
        "https://res.openai.azure.com/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
    )
    assert "model" not in json.loads(seen[0].content)


def test_token_provider_called_per_request() -> None:
    tokens = iter(["tok-1", "tok-2"])
    llm, seen = _azure(azure_ad_token_provider=lambda: next(tokens))
    llm.generate("hi")
    llm.generate("again")
    assert [r.headers["authorization"] for r in seen] == ["Bearer tok-1", "Bearer tok-2"]
    assert "api-key" not in seen[0].headers


async def test_async_token_provider_in_agenerate() -> None:
    async def provider() -> str:
        return "async-tok"

    llm, seen = _azure(azure_ad_token_provider=provider)
    await llm.agenerate("hi")
    assert seen[0].headers["authorization"] == "Bearer async-tok"
    with pytest.raises(ConfigurationError, match="agenerate"):
        llm.generate("hi")


class FakeCredential:
    """Duck-typed azure-identity credential: get_bearer_token_provider calls get_token(scope)."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken(f"entra-{len(self.scopes)}", 4_102_444_800)


def test_credential_through_azure_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.identity

    used: list[Any] = []
    real = azure.identity.get_bearer_token_provider

    def spy(credential: Any, *scopes: str) -> Any:
        used.append((credential, scopes))
        return real(credential, *scopes)

    monkeypatch.setattr(azure.identity, "get_bearer_token_provider", spy)
    credential = FakeCredential()
    llm, seen = _azure(credential=credential)
    llm.generate("hi")
    assert used == [(credential, ("https://cognitiveservices.azure.com/.default",))]
    assert credential.scopes[0] == ("https://cognitiveservices.azure.com/.default",)
    assert seen[0].headers["authorization"].startswith("Bearer entra-")
    assert "entra-1" not in repr(llm) and "entra_id" in repr(llm)


def test_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://env.openai.azure.com")
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
    seen: list[httpx2.Request] = []
    client = httpx2.Client(
        transport=httpx2.MockTransport(lambda r: seen.append(r) or httpx2.Response(200, json=REPLY))
    )
    llm = AbstractLLM.create("azure_openai", deployment="dep", http_client=client)
    llm.generate("hi")
    assert (
        str(seen[0].url)
        == "https://env.openai.azure.com/openai/deployments/dep/chat/completions?api-version=2024-06-01"
    )
    assert seen[0].headers["api-key"] == SECRET


@pytest.mark.parametrize(
    ("options", "parameter", "env"),
    [
        ({"deployment": "d", "api_key": SECRET}, "azure_endpoint", "AZURE_OPENAI_ENDPOINT"),
        (
            {"deployment": "d", "azure_endpoint": "https://r.openai.azure.com"},
            "api_key",
            "AZURE_OPENAI_API_KEY",
        ),
        (
            {"azure_endpoint": "https://r.openai.azure.com", "api_key": SECRET},
            "deployment",
            "AZURE_OPENAI_DEPLOYMENT",
        ),
    ],
)
def test_missing_config_names_parameter_and_env(options: dict[str, Any], parameter: str, env: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        AbstractLLM.create("azure_openai", **options)
    assert parameter in str(info.value) and env in str(info.value)
    assert SECRET not in str(info.value)


def test_old_api_version_rejects_parallel_tool_calls() -> None:
    llm, seen = _azure(api_key=SECRET, api_version="2024-02-01")
    with pytest.raises(ConfigurationError, match="parallel_tool_calls") as info:
        llm.generate("hi", tools=[TOOL], parallel_tool_calls=False)
    assert "2024-08-01-preview" in str(info.value) and seen == []
    llm.generate("hi", tools=[TOOL])  # tools themselves are fine on old versions
    assert "parallel_tool_calls" not in json.loads(seen[0].content)


def test_repr_masks_key_and_errors_never_carry_it() -> None:
    llm, _ = _azure(api_key=SECRET)
    assert SECRET not in repr(llm) and "azure-secret" not in repr(llm)
    error = llm.map_error(
        401,
        {"apim-request-id": "r"},
        json.dumps(
            {"error": {"code": "401", "message": "Access denied due to invalid subscription key."}}
        ).encode(),
    )
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert error.request_id == "r"
