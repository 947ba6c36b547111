"""Logging: nothing configured on import, one call for readable debug output, summaries without secrets."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.observe_support import fake_openai_server, make_llm
from toolwire import _instrument
from toolwire.errors import InvalidRequestError
from toolwire.logs import (
    LoggingObserver,
    disable_debug_logging,
    enable_debug_logging,
    is_secret_name,
    redact,
    redact_headers,
    scrub,
)
from toolwire.types import ToolCall, ToolResult

SECRET = "sk-proj-LOGSECRET0123456789abcdefghij"
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    },
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fake_openai_server(tmp_path_factory.mktemp("fake")) as url:
        yield url


@pytest.fixture
def debug_output() -> Iterator[io.StringIO]:
    out = io.StringIO()
    enable_debug_logging(rich=False, stream=out)
    try:
        yield out
    finally:
        disable_debug_logging()


def test_import_configures_nothing() -> None:
    code = (
        "import logging, toolwire, toolwire.logs\n"
        "root = logging.getLogger()\n"
        "tw = logging.getLogger('toolwire')\n"
        "assert root.handlers == [], root.handlers\n"
        "assert [type(h).__name__ for h in tw.handlers] == ['NullHandler'], tw.handlers\n"
        "assert tw.level == logging.NOTSET\n"
        "from toolwire import _instrument\n"
        "assert _instrument.observers() == []\n"
        "import sys\n"
        "assert 'rich' not in sys.modules and 'opentelemetry' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_debug_summaries_of_calls_and_errors(server: str, debug_output: io.StringIO) -> None:
    llm = make_llm(server, api_key=SECRET, model="fake-model", max_retries=0)
    llm.generate("a question that must not be logged", tools=[TOOL], extra_headers={"x-fake-tool-calls": "2"})
    with pytest.raises(InvalidRequestError):
        llm.generate("hi", extra_headers={"x-fake-status": "400", "authorization": f"Bearer {SECRET}"})
    text = debug_output.getvalue()
    assert "toolwire.provider.openai" in text
    assert "→ openai request model=fake-model messages=1 tools=[lookup]" in text
    assert "status=ok model=fake-model finish=tool_calls tool_calls=[lookup(" in text
    assert "latency=" in text and "tokens=" in text
    assert "status=error error=InvalidRequestError http=400" in text
    assert SECRET not in text
    assert "must not be logged" not in text  # content is never logged, only sizes


def test_tool_summaries(debug_output: io.StringIO) -> None:
    rec = _instrument.tool_started(ToolCall.from_raw("call_9", "lookup", '{"q": "x"}'))
    _instrument.tool_finished(rec, ToolResult(call_id="call_9", name="lookup", output="found"))
    rec = _instrument.tool_started(ToolCall.from_raw("call_10", "lookup", "{}"))
    _instrument.tool_finished(
        rec, ToolResult(call_id="call_10", name="lookup", error=f"Error: bad key {SECRET}")
    )
    text = debug_output.getvalue()
    assert "→ tool lookup id=call_9 arguments=10B" in text
    assert "← tool lookup id=call_9 ok output=5B" in text
    assert "INFO  toolwire.tools: ← tool lookup id=call_10 error=" in text
    assert SECRET not in text


def test_quiet_unless_enabled(caplog: pytest.LogCaptureFixture) -> None:
    observer = LoggingObserver()
    _instrument.add_observer(observer)
    try:
        with caplog.at_level(logging.INFO, logger="toolwire"):
            rec = _instrument.tool_started(ToolCall.from_raw("c", "t", "{}"))
            _instrument.tool_finished(rec, ToolResult(call_id="c", name="t", output="x"))
        assert caplog.records == []  # successes are DEBUG only
        with caplog.at_level(logging.INFO, logger="toolwire"):
            rec = _instrument.tool_started(ToolCall.from_raw("c", "t", "{}"))
            _instrument.tool_finished(rec, ToolResult(call_id="c", name="t", error="Error: x"))
        assert [r.levelname for r in caplog.records] == ["INFO"]
    finally:
        _instrument.remove_observer(observer)


def test_enable_is_idempotent_and_disable_restores() -> None:
    root = logging.getLogger("toolwire")
    before = list(root.handlers)
    enable_debug_logging(rich=False, stream=io.StringIO())
    enable_debug_logging(rich=False, stream=io.StringIO())
    assert len(root.handlers) == len(before) + 1
    assert root.level == logging.DEBUG
    disable_debug_logging()
    assert root.handlers == before and root.level == logging.NOTSET
    assert not any(isinstance(o, LoggingObserver) for o in _instrument.observers())


def test_rich_output_when_installed() -> None:
    pytest.importorskip("rich")
    out = io.StringIO()
    handler = enable_debug_logging(stream=out)
    try:
        assert type(handler).__name__ == "RichHandler"
        logging.getLogger("toolwire.runner").debug("hello from the runner")
        assert "hello from the runner" in out.getvalue()
    finally:
        disable_debug_logging()


def test_redaction_rules() -> None:
    headers = redact_headers(
        {
            "Authorization": "Bearer abc",
            "api-key": "k",
            "x-goog-api-key": "g",
            "Content-Type": "application/json",
        }
    )
    assert headers == {
        "Authorization": "[redacted]",
        "api-key": "[redacted]",
        "x-goog-api-key": "[redacted]",
        "Content-Type": "application/json",
    }
    for name in ("max_tokens", "prompt_tokens", "author", "tokenizer", "x-ms-client-request-id"):
        assert not is_secret_name(name), name
    for name in ("password", "client_secret", "access_token", "auth_token", "Ocp-Apim-Subscription-Key"):
        assert is_secret_name(name), name
    body = redact(
        {"max_tokens": 5, "nested": [{"password": "hunter2", "author": "me"}], "note": f"key {SECRET}"}
    )
    assert body == {
        "max_tokens": 5,
        "nested": [{"password": "[redacted]", "author": "me"}],
        "note": "key [redacted]",
    }
    assert scrub("Authorization: Bearer abcdefghijklmnop") == "Authorization: Bearer [redacted]"
    assert scrub("my key is supersecretvalue", ("supersecretvalue",)) == "my key is [redacted]"
    assert scrub("AIzaSyA1234567890abcdefghijklmnop") == "[redacted]"


def test_logs_module_source_imports_no_optional_package() -> None:
    source = (Path(__file__).resolve().parents[1] / "src" / "toolwire" / "logs.py").read_text()
    top_level = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in top_level if "rich" in line or "opentelemetry" in line]
