"""Issue 16: hostile or odd configuration and input become typed errors (see also test_secrets.py
and test_faults.py for the per-provider suites)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolwire import AbstractLLM
from toolwire.errors import ConfigurationError


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://host:port/v1", "not a url", "ftp://x/v1", "http:///v1", "http://a b/v1"]
)
@pytest.mark.parametrize("name", ["openai", "openai_compatible", "anthropic", "gemini", "mistral", "ollama"])
def test_malformed_base_url_is_a_configuration_error(name: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        AbstractLLM.create(name, model="m", api_key="sk-test-12345678", base_url=url)


def test_bad_toolwire_record_path_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolwire import recorder

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(recorder, "_env_recorder", None)
    monkeypatch.setenv("TOOLWIRE_RECORD", str(blocker / "sub" / "calls.db"))  # a file as a folder
    with pytest.raises(ConfigurationError, match="TOOLWIRE_RECORD"):
        AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-test-12345678")
    monkeypatch.setenv("TOOLWIRE_RECORD", str(tmp_path))  # a directory is not a database
    with pytest.raises(ConfigurationError, match="TOOLWIRE_RECORD"):
        AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-test-12345678")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:11500", "http://127.0.0.1:11500/v1"),
        (":8080", "http://localhost:8080/v1"),
        ("gpu-box", "http://gpu-box:11434/v1"),
        ("https://ollama.internal", "https://ollama.internal/v1"),
        ("http://ollama.internal:11434/", "http://ollama.internal:11434/v1"),
    ],
)
def test_ollama_reads_ollama_host(value: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_BASE_URL", raising=False)
    monkeypatch.setenv("OLLAMA_HOST", value)
    assert AbstractLLM.create("ollama", model="llama3.2").base_url == expected
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://other:1/v1")  # the explicit variable wins
    assert AbstractLLM.create("ollama", model="llama3.2").base_url == "http://other:1/v1"
