"""examples/*.py run offline: in-process against the fake of each provider's wire (fake_model.py),
and as scripts (`python examples/x.py`) against the shared fake OpenAI server over real HTTP, configured
only through the environment variables their docstrings document."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fake_model import FakeModelTransport

from support.observe_support import fake_openai_server

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> Any:
    """The example's module namespace (not run as __main__: the test calls its main())."""
    return SimpleNamespace(**runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name=f"example_{name}"))


def test_basic_usage(offline_world: FakeModelTransport, capsys: pytest.CaptureFixture[str]) -> None:
    assert load("basic_usage").main(["Weather in Paris and Rome?"]) == 0
    out = capsys.readouterr().out
    assert out.count("tool call: get_weather({'city': 'Paris'") == 1
    assert "Received 1 tool result(s)" in out and "tokens: {" in out
    first, second = offline_world.model.bodies
    assert first["model"] == "gpt-4o-mini" and first["tools"][0]["function"]["name"] == "get_weather"
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]


def test_azure_entra_sends_a_bearer_token(
    offline_world: FakeModelTransport, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_OPENAI_API_KEY")  # Entra only: the example must not need a key
    assert load("azure_entra").main([]) == 0
    assert "tool calls: ['get_weather']" in capsys.readouterr().out
    for request in offline_world.requests:
        assert request.headers["authorization"] == "Bearer fake-entra-token"
        assert "api-key" not in request.headers
        assert str(request.url) == "https://my-resource.openai.azure.com/openai/v1/chat/completions"
    assert json.loads(offline_world.requests[0].content)["model"] == "gpt-4o-mini"


def test_parallel_tools_run_every_call_of_the_turn(
    offline_world: FakeModelTransport, capsys: pytest.CaptureFixture[str]
) -> None:
    assert load("parallel_tools").main([]) == 0
    out = capsys.readouterr().out
    assert "get_weather: 18 degrees and cloudy in Paris" in out and "get_local_time: 14:05" in out
    assert "2 tool calls" in out and "wall time:" in out
    tool_turn = offline_world.model.bodies[1]["messages"][-2:]
    assert [m["role"] for m in tool_turn] == ["tool", "tool"]  # both results in one request


def test_streaming_terminal(offline_world: FakeModelTransport) -> None:
    import io

    out = io.StringIO()
    assert load("streaming_terminal").main(["Weather?"], out=out) == 0
    text = out.getvalue()
    assert "-> get_weather({'city': 'Paris'})" in text and "<- get_weather: sunny, 21C" in text
    assert "Received 1 tool result(s)." in text and "[stop; tokens" in text
    assert all(body.get("stream") for body in offline_world.model.bodies)


def test_structured_output(offline_world: FakeModelTransport, capsys: pytest.CaptureFixture[str]) -> None:
    assert load("structured_output").main(["Paris"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"city", "country", "temperature_celsius", "summary"}
    final = offline_world.model.bodies[-1]
    assert final["response_format"]["json_schema"]["name"]  # asked for strict json_schema
    assert final["messages"][-1]["role"] == "tool"  # after the weather tool ran


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake"), FAKE_TOOL_CALLS="3") as url:
        yield url


@pytest.mark.parametrize("script", ["basic_usage", "parallel_tools", "streaming_terminal"])
def test_scripts_run_against_a_local_openai_compatible_server(script: str, fake_server: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(TOOLWIRE_PROVIDER="openai_compatible", TOOLWIRE_BASE_URL=fake_server)
    env["TOOLWIRE_MODEL"] = "fake-model"
    src = str(EXAMPLES.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env["PYTHONPATH"]]) if env.get("PYTHONPATH") else src
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{script}.py")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Received 3 tool result(s)" in done.stdout, done.stdout
