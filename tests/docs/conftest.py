"""Fixtures shared by the doc-example and examples/ tests: an offline world for code written as a user
would write it (providers created from the environment, no http_client= anywhere)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_model import FAKE_ENV, FakeModelTransport

CLEARED_ENV = (
    "OPENAI_BASE_URL", "OPENAI_API_VERSION", "AZURE_OPENAI_DEPLOYMENT", "GOOGLE_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI", "TOOLWIRE_RECORD", "TOOLWIRE_PROVIDER", "TOOLWIRE_MODEL",
    "TOOLWIRE_BASE_URL", "TOOLWIRE_HOME", "TOOLWIRE_DEMO_BASE_URL", "ANTHROPIC_BASE_URL", "GEMINI_BASE_URL",
    "MISTRAL_BASE_URL", "OLLAMA_BASE_URL", "OLLAMA_API_KEY",
)


class FakeEntraCredential:
    """Stands in for azure.identity.DefaultAzureCredential: a token without a login."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.scopes: list[tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: object) -> object:
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken("fake-entra-token", 4_102_444_800)

    def get_token_info(self, *scopes: str, options: object = None) -> object:
        from azure.core.credentials import AccessTokenInfo

        self.scopes.append(scopes)
        return AccessTokenInfo("fake-entra-token", 4_102_444_800)

    def close(self) -> None:
        pass


@pytest.fixture
def offline_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeModelTransport]:
    """Fake keys in the environment, a fake model behind every provider, a scratch cwd and HOME."""
    import httpx2

    for name in CLEARED_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / ".local" / "share"))
    # Pages are written for a reader in a clone (`examples/x.py`, `docs/images/...`, `../shared/...`):
    # the same layout, read-only parts linked, in a scratch directory, so what a page writes stays there.
    clone = tmp_path / "toolwire"
    clone.mkdir()
    root = Path(__file__).resolve().parents[2]
    for name in ("docs", "examples", "src", "README.md", "pyproject.toml"):
        (clone / name).symlink_to(root / name)
    if (root.parent / "shared").exists():
        (tmp_path / "shared").symlink_to(root.parent / "shared")
    monkeypatch.chdir(clone)
    monkeypatch.setattr("builtins.input", lambda prompt="": "n")  # approvals answer "no"
    # pages may register providers (register_provider): on a copy of the registry, dropped afterwards
    from toolwire.providers import registry

    monkeypatch.setattr(registry, "_registered", dict(registry._registered))
    monkeypatch.setattr(registry, "_aliases", None)
    transport = FakeModelTransport()
    # Every network transport httpx2 would open is the fake one: clients toolwire makes itself and
    # testing.record()'s. A page that passes its own http_client= (a test transport) keeps it.
    import httpx2._client

    for module in (httpx2, httpx2._client):
        monkeypatch.setattr(module, "HTTPTransport", lambda *a, **k: transport)
        monkeypatch.setattr(module, "AsyncHTTPTransport", lambda *a, **k: transport)
    try:
        import azure.identity

        monkeypatch.setattr(azure.identity, "DefaultAzureCredential", FakeEntraCredential)
    except ImportError:  # pragma: no cover - the dev extra installs azure-identity
        pass
    try:
        yield transport
    finally:
        _reset_global_observers()


def _reset_global_observers() -> None:
    """Pages may switch on process-wide logging, tracing or recording: switch them off again."""
    import toolwire.logs
    import toolwire.tracing

    toolwire.logs.disable_debug_logging()
    toolwire.tracing.uninstrument()
    recorder = sys.modules.get("toolwire.recorder")
    if recorder is not None:
        for active in recorder.active_recorders():
            active.stop()
