"""`toolwire batch run|submit|status|results` through typer's test runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fake_batch_api import FakeBatchAPI
from ratelimited_server import running
from typer.testing import CliRunner

from toolwire._transport import ClientOverride, client_override
from toolwire.cli.app import build_app

runner = CliRunner()
app = build_app()

TOOLS = '''
def lookup(key: str) -> str:
    """Look a key up."""
    return "value-of-" + key
'''


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    tools = tmp_path / "cli_batch_tools.py"
    tools.write_text(TOOLS)
    inputs = tmp_path / "in.jsonl"
    lines = ['"q0"', '[{"role": "user", "content": "q1"}]', '{"messages": "q2", "temperature": 0.1}', ""]
    inputs.write_text("\n".join(lines))
    return tools, inputs


def test_batch_run_writes_results_in_input_order(files: tuple[Path, Path], tmp_path: Path) -> None:
    tools, inputs = files
    out = tmp_path / "out.jsonl"
    checkpoint = tmp_path / "ck.jsonl"
    with running(limit=100, window=1.0) as server:
        args = [
            "batch",
            "run",
            str(inputs),
            "--provider",
            "openai",
            "--model",
            "m",
            "--base-url",
            server.base_url,
            "--api-key",
            "k",
            "--tools",
            f"{tools}:lookup",
            "--rpm",
            "3000",
            "--checkpoint",
            str(checkpoint),
            "--no-progress",
            "-o",
            str(out),
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert server.stats.answered == 6
        again = runner.invoke(app, args)  # everything is in the checkpoint: nothing is sent
        assert again.exit_code == 0 and server.stats.answered == 6
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["index"] for x in lines] == [0, 1, 2]
    assert [x["response"]["content"] for x in lines] == [f"answer to q{i} using value-of-x" for i in range(3)]


def test_batch_run_exit_code_and_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('"ok"\n{not json\n')
    result = runner.invoke(app, ["batch", "run", str(bad), "--api-key", "k", "--model", "m", "--no-progress"])
    assert result.exit_code == 2 and "line 2 is not JSON" in result.output
    result = runner.invoke(app, ["batch", "run", str(tmp_path / "missing.jsonl"), "--api-key", "k"])
    assert result.exit_code == 2


@pytest.fixture
def fake_api() -> Iterator[FakeBatchAPI]:
    api = FakeBatchAPI(kind="openai", polls=0, fail={"2"})
    token = client_override.set(ClientOverride(api.client(), httpx2.AsyncClient()))
    try:
        yield api
    finally:
        client_override.reset(token)


def test_batch_submit_status_results(
    files: tuple[Path, Path], tmp_path: Path, fake_api: FakeBatchAPI
) -> None:
    tools, inputs = files
    common = ["--provider", "openai", "--model", "gpt-4o-mini", "--api-key", "sk-test"]
    tool_args = ["--tools", f"{tools}:lookup"]
    submitted = runner.invoke(app, ["batch", "submit", str(inputs), *common, *tool_args])
    assert submitted.exit_code == 0, submitted.output
    info = json.loads(submitted.output)
    state = Path(info["state"])
    assert state == tmp_path / "in.job.json" and state.exists() and info["id"].startswith("batch_")
    status = runner.invoke(app, ["batch", "status", str(state), *common, *tool_args])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["round"] == 1  # round 0 done, tools ran, round 1 submitted
    out = tmp_path / "results.jsonl"
    done = runner.invoke(app, ["batch", "results", str(state), *common, *tool_args, "--wait", "-o", str(out)])
    assert done.exit_code == 1  # input 2 failed in the batch
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["response"]["content"] == "answer to q0 using value-of-x"
    assert lines[2]["ok"] is False and lines[2]["error"]["type"] == "InvalidRequestError"
    # a plain batch id works too (a job without tools)
    plain = runner.invoke(app, ["batch", "results", info["id"], *common])
    assert plain.exit_code == 1 and "answered" in plain.output
