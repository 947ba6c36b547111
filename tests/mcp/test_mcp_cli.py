"""`toolwire tools check` (local functions, Pydantic models, MCP servers, among them the tool lists of
real public servers in data/public_servers.json) and `toolwire chat --mcp`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mcp_support import DEMO, HERE, PAGED, SERVERS

from support.observe_support import fake_openai_server

pytest.importorskip("mcp")
pytest.importorskip("typer")

from typer.testing import CliRunner

from toolwire.cli.app import build_app

runner = CliRunner()
app = build_app()

PUBLIC = HERE / "data" / "public_servers.json"
LISTING = SERVERS / "listing_server.py"

LOCAL_TOOLS = '''
from pydantic import BaseModel


def tally(counts: dict[str, int]) -> int:
    """Sum counts (an open map: fine everywhere but OpenAI strict mode)."""
    return sum(counts.values())


class Node(BaseModel):
    name: str
    children: list["Node"] = []


class Tree(BaseModel):
    """A recursive tree: Gemini cannot express it."""

    root: Node
'''


def _check(*args: str) -> tuple[int, list[dict[str, str]]]:
    result = runner.invoke(app, ["tools", "check", "--json", *args])
    try:
        verdicts = json.loads(result.stdout)
    except ValueError:
        verdicts = []
    return result.exit_code, verdicts


def _public_servers() -> list[str]:
    return [entry["server"] for entry in json.loads(PUBLIC.read_text())["servers"]]


@pytest.mark.parametrize("server", _public_servers())
def test_real_public_server_schemas_pass_openai_strict_gemini_and_anthropic(server: str) -> None:
    code, verdicts = _check("--strict", "--mcp", f"{sys.executable} {LISTING} {PUBLIC} {server}")
    assert code == 0, verdicts
    published = next(s for s in json.loads(PUBLIC.read_text())["servers"] if s["server"] == server)["tools"]
    assert {v["tool"] for v in verdicts} == {t["name"] for t in published}
    for verdict in verdicts:
        assert verdict["status"] in ("as is", "rewritten"), verdict
    columns = {v["column"] for v in verdicts}
    assert {"openai strict", "gemini", "anthropic"} <= columns


def test_mcp_server_check_names_rewrites_and_strict_refusals() -> None:
    target = f"{sys.executable} {PAGED}"
    code, verdicts = _check("--mcp", target)
    assert code == 0  # an open map only loses OpenAI strict mode
    by = {(v["tool"], v["column"]): v for v in verdicts}
    assert by[("github_create_issue", "anthropic")]["detail"] == "-$schema at root"
    assert by[("ping", "gemini")]["detail"] == "sent without parameters (no arguments)"
    assert by[("ping", "openai")]["detail"] == "+properties at root"
    assert by[("config_set", "openai strict")]["status"] == "refused"
    assert "free-form keys" in by[("config_set", "openai strict")]["detail"]
    code, _ = _check("--strict", "--mcp", target)
    assert code == 1
    result = runner.invoke(app, ["tools", "check", "--strict", "--mcp", target], env={"COLUMNS": "200"})
    assert "1 tool(s) would be refused: config_set" in result.output
    assert "github_create_issue (server: github.create_issue)" in result.output


def test_local_function_and_pydantic_model(tmp_path: Path) -> None:
    module = tmp_path / "local_tools.py"
    module.write_text(LOCAL_TOOLS)
    code, verdicts = _check(f"{module}:tally")
    assert code == 0
    assert {v["column"]: v["status"] for v in verdicts}["openai strict"] == "refused"
    code, verdicts = _check(f"{module}:tally", f"{module}:Tree")
    assert code == 1  # Gemini refuses the recursive model
    gemini = next(v for v in verdicts if v["tool"] == "Tree" and v["column"] == "gemini")
    assert gemini["status"] == "refused" and "gemini cannot express" in gemini["detail"]


def test_check_without_targets_is_a_usage_error() -> None:
    result = runner.invoke(app, ["tools", "check"])
    assert result.exit_code == 2


@pytest.fixture(scope="module")
def fake_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake"), FAKE_TOOL_CALLS="2") as url:
        yield url


def test_chat_with_an_mcp_server(fake_llm: str) -> None:
    args = ["chat", "Add and read", "-m", "fake-model", "--base-url", fake_llm, "--api-key", "x"]
    result = runner.invoke(app, [*args, "--mcp", f"{sys.executable} {DEMO}"])
    assert result.exit_code == 0, result.output
    # the fake model calls the first two tools the server lists: add and files.read
    assert "→ add" in result.output and "→ files_read" in result.output
    assert "← add" in result.output and "← files_read" in result.output
    assert "Received 2 tool result(s)" in result.output


def test_chat_with_an_unreachable_mcp_server(fake_llm: str) -> None:
    args = ["chat", "x", "-m", "fake-model", "--base-url", fake_llm, "--api-key", "x"]
    result = runner.invoke(app, [*args, "--mcp", f"{sys.executable} -c pass"])
    assert result.exit_code == 1
    assert "MCPConnectionError" in result.output
