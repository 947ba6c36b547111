"""`toolwire chat --api responses`: the recorded streamed store=false conversation, offline (the
CLI streams every turn)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.replay import fixture_path
from toolwire import testing

pytest.importorskip("typer")

from typer.testing import CliRunner

from toolwire.cli.app import build_app

TOOLS = '''
def multiply(a: int, b: int) -> int:
    """Multiply two numbers."""
    return a * b
'''
FIXTURE = ("openai_responses", "openai_responses_stream_function_call_store_false.yaml")


def test_chat_with_api_responses(tmp_path: Path) -> None:
    tools = tmp_path / "multiply_tools.py"
    tools.write_text(TOOLS)
    args = ["chat", "What is 1231 * 2331? Use the multiply tool.", "-p", "openai", "-m", "gpt-5.5"]
    args += ["--api", "responses", "--api-key", "sk-test", "--tool", f"{tools}:multiply"]
    with testing.replay(fixture_path(*FIXTURE)) as cassette:
        result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "→ multiply" in result.output and "← multiply 2869461" in result.output
    assert "1231 × 2331 = **2,869,461**" in result.output
    sent = [r.json for r in cassette.requests]
    assert [r.path for r in cassette.requests] == ["/v1/responses"] * 2
    assert all(body["stream"] is True for body in sent)
    assert sent[1]["input"][1:] == [
        {
            "type": "function_call",
            "call_id": "call_sVidsfFJ6zlzRpelrPkTPlpd",
            "name": "multiply",
            "arguments": '{"a":1231,"b":2331}',
        },
        {"type": "function_call_output", "call_id": "call_sVidsfFJ6zlzRpelrPkTPlpd", "output": "2869461"},
    ]


def test_chat_with_an_unknown_api_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        build_app(), ["chat", "hi", "-p", "anthropic", "--api", "responses", "--api-key", "k"]
    )
    assert result.exit_code == 2 and "has no api='responses'" in result.output
