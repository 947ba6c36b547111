"""examples/mcp_tools.py runs end to end: its MCP server over stdio, a local tool, and the fake
OpenAI server of ../shared/bench as the model."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from mcp_support import ROOT

from support.observe_support import fake_openai_server, make_llm

pytest.importorskip("mcp")

EXAMPLE = ROOT / "examples" / "mcp_tools.py"


@pytest.fixture(scope="module")
def example() -> Any:
    spec = importlib.util.spec_from_file_location("mcp_tools_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake"), FAKE_TOOL_CALLS="3") as url:
        yield url


def test_example_runs(example: Any, fake: str, capsys: pytest.CaptureFixture[str]) -> None:
    answer = example.main("Count and shout", llm=make_llm(fake, model="fake-model"))
    out = capsys.readouterr().out
    assert "tool calc_add: Add two numbers." in out
    assert "tool calc_text_word_count: Count the words in a text." in out
    # the fake model calls the three tools in order, with simple values from their schemas
    assert "-> calc_add(" in out and "-> calc_text_word_count(" in out and "-> shout(" in out
    assert "<- calc_add: " in out and "<- shout: " in out
    assert "Error" not in out
    assert "Received 3 tool result(s)" in answer
