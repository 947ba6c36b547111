"""The demo: offline replay of the shipped recording through the real wire layer."""

from __future__ import annotations

import io
import json
from importlib import resources

import pytest

from toolwire import demo


@pytest.fixture(autouse=True)
def _no_live_model(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOOLWIRE_DEMO_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_demo_replays_two_parallel_calls_and_the_answer() -> None:
    out = io.StringIO()
    assert demo.main([], out=out) == 0
    text = out.getvalue()
    assert "REPLAY" in text
    assert 'get_weather(location="New York City")' in text
    assert 'get_weather(location="London")' in text
    # the tools really ran: their outputs are the results sent back
    assert "← get_weather: 25 degrees and sunny   [call_TYKLGjzizbih3K9ouYXAEwMI]" in text
    assert "← get_weather: 15 degrees and raining   [call_MKJdMkxrfGOtWqKdw7Ey0iFU]" in text
    assert "**London**: 15 degrees and raining" in text
    assert "TOOLWIRE_DEMO_BASE_URL" in text  # says how to go live


def test_shipped_recording_notes_its_source_and_has_no_secret() -> None:
    raw = resources.files("toolwire.data").joinpath(demo.RECORDING).read_text(encoding="utf-8")
    document = json.loads(raw)
    assert "elastic/elastic-otel-python-instrumentations" in document["source"]
    for interaction in document["interactions"]:
        headers = interaction["request"]["headers"]
        assert headers.get("api-key") in (None, "REDACTED")
        assert "authorization" not in headers


def test_live_configuration_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    args = argparse.Namespace(base_url=None, model=None)
    assert demo._live_llm(args) is None
    monkeypatch.setenv("TOOLWIRE_DEMO_BASE_URL", "http://127.0.0.1:9/v1")
    live = demo._live_llm(args)
    assert live is not None
    llm, description = live
    assert llm.name == "openai_compatible" and "127.0.0.1:9" in description


def test_demo_tools_are_plain_functions() -> None:
    assert demo.get_weather("London") == "15 degrees and raining"
    assert demo.get_local_time("nowhere").startswith("unknown city")
