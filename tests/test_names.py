"""One meaning per name: the SQLite call log is `record_calls` / `CallRecorder`, the HTTP cassette
recorder `testing.record_http` / `CassetteRecorder`; the former names warn for one release. One
vocabulary of secrets (`toolwire._redact`) for the transport, the logs and the cassettes."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolwire
from toolwire import _redact, logs, testing
from toolwire._transport import HttpCall, call_secrets
from toolwire.recorder import CallRecorder, record_calls


def test_the_call_log_has_its_own_name_and_the_old_one_warns(tmp_path: Path) -> None:
    assert toolwire.record_calls is record_calls and toolwire.CallRecorder is CallRecorder
    with pytest.warns(DeprecationWarning, match="record_calls"):
        old = toolwire.record(tmp_path / "a.db")
    try:
        assert isinstance(old, CallRecorder)
    finally:
        old.stop()
    with pytest.warns(DeprecationWarning, match="CallRecorder"):
        from toolwire.recorder import Recorder
    assert Recorder is CallRecorder


def test_the_cassette_recorder_has_its_own_name_and_the_old_one_warns(tmp_path: Path) -> None:
    with testing.record_http(tmp_path / "new.json") as recorder:
        assert isinstance(recorder, testing.CassetteRecorder)
    with pytest.warns(DeprecationWarning, match="record_http"), testing.record(tmp_path / "old.json") as old:
        assert isinstance(old, testing.CassetteRecorder)
    with pytest.warns(DeprecationWarning, match="CassetteRecorder"):
        assert testing.Recorder is testing.CassetteRecorder


def test_one_secret_vocabulary() -> None:
    headers = {name: "secret-value-123456" for name in _redact.CREDENTIAL_HEADERS}
    assert set(testing.redact_headers(headers).values()) == {testing.REDACTED}
    assert set(logs.redact_headers(headers).values()) == {logs.REDACTED}
    assert call_secrets(HttpCall("POST", "https://x/y", headers)) == ("secret-value-123456",)
    for param in _redact.CREDENTIAL_QUERY_PARAMS:
        url = f"https://x/y?alt=sse&{param}=secret-value-123456"
        assert "secret-value-123456" not in testing.redact_url(url)
        assert call_secrets(HttpCall("GET", url, {})) == ("secret-value-123456",)
    assert testing.redact_url("https://x/y?alt=sse") == "https://x/y?alt=sse"


@pytest.mark.parametrize(
    ("module", "wire"),
    [("openai", "chat"), ("anthropic", "anthropic"), ("gemini", "gemini"), ("mistral", "mistral")],
)
def test_wire_functions_follow_one_naming_scheme(module: str, wire: str) -> None:
    import importlib

    mod = importlib.import_module(f"toolwire.providers.{module}")
    for name in (f"{wire}_body", f"{wire}_messages", f"{wire}_tools", f"{wire}_error", f"parse_{wire}"):
        assert callable(getattr(mod, name)), name
        assert name in mod.__all__, name


def test_mistral_tools_are_chat_tools_in_mistrals_dialect() -> None:
    from toolwire.providers.mistral import MistralProvider, mistral_tools

    definition = toolwire.ToolDefinition(
        name="f", description="d", parameters={"type": "object", "properties": {"x": {"type": "string"}}}
    )
    assert mistral_tools([definition]) == MistralProvider.tools_payload([definition])
