"""The `toolwire` command, driven through typer's test runner (and once as a real console script)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.observe_support import fake_openai_server, requires_tool_hooks

pytest.importorskip("typer")

from typer.testing import CliRunner

from toolwire import _instrument
from toolwire.cli import main
from toolwire.cli.app import build_app
from toolwire.recorder import CallStore, record
from toolwire.types import ToolCall, ToolResult

runner = CliRunner()
app = build_app()

TOOLS_MODULE = '''
import time

def get_weather(city: str) -> str:
    """Current weather for a city.

    Args:
        city: The city name.
    """
    time.sleep(0.02)
    return f"sunny in {city}"

def get_time(city: str, utc: bool = False) -> str:
    """Local time in a city."""
    return "12:00"

def explode(city: str) -> str:
    """A tool that fails."""
    raise RuntimeError("kaboom")
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake"), FAKE_TOOL_CALLS="2") as url:
        yield url


@pytest.fixture
def tools_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli_tools.py"
    path.write_text(TOOLS_MODULE)
    return path


def test_help_everywhere() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("chat", "schema", "providers", "calls", "dashboard", "demo"):
        assert command in result.output
    for args in (
        ["chat"],
        ["schema"],
        ["providers"],
        ["calls"],
        ["calls", "list"],
        ["calls", "show"],
        ["dashboard"],
    ):
        sub = runner.invoke(app, [*args, "--help"])
        assert sub.exit_code == 0, (args, sub.output)
        assert "Usage:" in sub.output


def test_no_arguments_prints_usage() -> None:
    result = runner.invoke(app, [])
    assert "Usage:" in result.output
    assert result.exit_code in (0, 2)


def test_schema_in_each_dialect(tools_file: Path) -> None:
    spec = f"{tools_file}:get_time"
    openai = json.loads(runner.invoke(app, ["schema", spec]).output)
    assert openai["type"] == "function"
    assert openai["function"]["name"] == "get_time"
    assert openai["function"]["parameters"]["required"] == ["city"]
    anthropic = json.loads(runner.invoke(app, ["schema", spec, "--dialect", "anthropic"]).output)
    assert anthropic["name"] == "get_time" and anthropic["input_schema"]["type"] == "object"
    gemini = json.loads(runner.invoke(app, ["schema", spec, "-d", "gemini"]).output)
    assert gemini["name"] == "get_time" and "parameters" in gemini
    strict = json.loads(runner.invoke(app, ["schema", spec, "--strict"]).output)
    assert strict["function"]["strict"] is True
    assert strict["function"]["parameters"]["additionalProperties"] is False
    neutral = json.loads(runner.invoke(app, ["schema", spec, "-d", "neutral"]).output)
    assert set(neutral) == {"name", "description", "parameters"}


def test_schema_from_an_importable_module() -> None:
    result = runner.invoke(app, ["schema", "toolwire.demo:get_weather"])
    assert result.exit_code == 0
    assert json.loads(result.output)["function"]["parameters"]["properties"]["location"]["type"] == "string"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["schema", "no_such_module_xyz:f"], "cannot import"),
        (["schema", "toolwire.demo:nope"], "has no attribute"),
        (["schema", "justaname"], "module:function"),
        (["schema", "toolwire.demo:get_weather", "--dialect", "klingon"], "choose one of"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output


def test_providers_table_and_json() -> None:
    table = runner.invoke(app, ["providers"])
    assert table.exit_code == 0
    for name in ("openai", "azure_openai", "anthropic", "gemini", "mistral"):
        assert name in table.output
    data = json.loads(runner.invoke(app, ["providers", "--json"]).output)
    assert "function_calling" in data["openai"]
    assert "strict_tools" not in data["anthropic"]


def test_chat_runs_tools_live_and_records(server: str, tools_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    args = [
        "chat",
        "Weather in Paris?",
        "-p",
        "openai",
        "-m",
        "fake-model",
        "--base-url",
        server,
        "--api-key",
        "sk-cli-SECRET-0123456789abcdef",
        "--tool",
        f"{tools_file}:get_weather",
        "--tool",
        f"{tools_file}:get_time",
        "--record",
        "--db",
        str(db),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "→ get_weather" in out and "→ get_time" in out  # the two calls, as they start
    assert "← get_weather sunny in" in out and "← get_time 12:00" in out  # their results
    assert "Received 2 tool result(s)" in out  # the fake model's final answer
    assert f"recorded into {db}" in out
    assert sum(c["model_calls"] for c in CallStore(db).conversations()) == 2
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("calls.db*"))
    assert b"fake-model" in stored and b"SECRET-0123456789abcdef" not in stored


@requires_tool_hooks
def test_chat_records_tools_in_the_conversation(server: str, tools_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    result = runner.invoke(
        app,
        [
            "chat",
            "x",
            "-m",
            "fake-model",
            "--base-url",
            server,
            "--api-key",
            "x",
            "--db",
            str(db),
            "--tool",
            f"{tools_file}:explode",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "← explode failed: Error: explode raised RuntimeError: kaboom" in result.output
    [conversation] = CallStore(db).conversations()
    assert conversation["tool_calls"] == 2 and conversation["errors"] == 2


def test_chat_provider_error_exits_1(server: str) -> None:
    result = runner.invoke(
        app,
        [
            "chat",
            "hi",
            "-m",
            "fake-model",
            "--base-url",
            server,
            "--api-key",
            "x",
            "-H",
            "x-fake-status: 401",
        ],
    )
    assert result.exit_code == 1
    assert "error: AuthenticationError" in result.output


def test_chat_configuration_error_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(app, ["chat", "hi", "-p", "openai", "-m", "gpt-4o-mini"])
    assert result.exit_code == 2
    assert "error:" in result.output and "api_key" in result.output.lower().replace(" ", "_")
    unknown = runner.invoke(app, ["chat", "hi", "-p", "no_such_provider"])
    assert unknown.exit_code == 2


def test_chat_interactive_until_empty_line(server: str, tools_file: Path) -> None:
    result = runner.invoke(
        app,
        ["chat", "-m", "fake-model", "--base-url", server, "--api-key", "x"],
        input="first question\nsecond question\n\n",
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("you>") == 3


def _seed(db: Path) -> str:
    with record(db), _instrument.conversation("conv-abc"):
        rec = _instrument.tool_started(ToolCall.from_raw("call_1", "get_weather", '{"city": "Paris"}'))
        time.sleep(0.005)
        _instrument.tool_finished(rec, ToolResult(call_id="call_1", name="get_weather", output="sunny"))
        rec = _instrument.tool_started(ToolCall.from_raw("call_2", "explode", "{}"))
        _instrument.tool_finished(rec, ToolResult(call_id="call_2", name="explode", error="Error: kaboom"))
    return "conv-abc"


def test_calls_list_and_show(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    conversation = _seed(db)
    listed = runner.invoke(app, ["calls", "list", "--db", str(db)])
    assert listed.exit_code == 0 and conversation in listed.output
    as_json = json.loads(runner.invoke(app, ["calls", "list", "--db", str(db), "--json"]).output)
    assert as_json[0]["tool_calls"] == 2 and as_json[0]["errors"] == 1
    assert runner.invoke(app, ["calls", "list", "--db", str(db), "--no-errors"]).output.strip() == (
        "no recorded conversation matches"
    )
    shown = runner.invoke(app, ["calls", "show", conversation, "--db", str(db)])
    assert shown.exit_code == 0
    assert "get_weather" in shown.output and "explode" in shown.output and "ToolError" in shown.output
    event_id = CallStore(db).events(conversation)[1]["id"]
    one = runner.invoke(app, ["calls", "show", event_id[:8], "--db", str(db)])
    assert one.exit_code == 0
    assert "ToolError: Error: kaboom" in one.output
    detail = json.loads(runner.invoke(app, ["calls", "show", event_id, "--db", str(db), "--json"]).output)
    assert detail["name"] == "explode"


def test_calls_errors_exit_1(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["calls", "list", "--db", str(tmp_path / "none.db")])
    assert missing.exit_code == 1 and "no recorded calls" in missing.output
    db = tmp_path / "calls.db"
    _seed(db)
    unknown = runner.invoke(app, ["calls", "show", "zzzz-nothing", "--db", str(db)])
    assert unknown.exit_code == 1 and "no recorded conversation or event" in unknown.output


def test_dashboard_refuses_a_public_interface_without_expose(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    result = runner.invoke(app, ["dashboard", "--db", str(tmp_path / "x.db"), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--expose" in result.output


def test_demo_delegates_to_the_demo_module() -> None:
    result = runner.invoke(app, ["demo", "--replay"])
    assert result.exit_code == 0, result.output
    assert "get_weather" in result.output


def test_console_script_entry_point() -> None:
    code = "import sys; from toolwire.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", code, "schema", "toolwire.demo:get_weather", "-d", "anthropic"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "get_weather"
    bad = subprocess.run([sys.executable, "-c", code, "calls", "nonsense"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert main(["schema", "toolwire.demo:get_weather"]) == 0


def test_missing_extra_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_typer(name: str, *args: object, **kwargs: object) -> object:
        if name == "typer" or name.startswith("typer."):
            raise ImportError("No module named 'typer'", name="typer")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "toolwire.cli.app", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_typer)
    assert main(["providers"]) == 2
    assert 'pip install "toolwire[cli]"' in capsys.readouterr().err
