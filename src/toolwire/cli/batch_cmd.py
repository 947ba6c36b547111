"""`toolwire batch run|submit|status|results`: many requests from a JSONL file.

Each input line is a JSON string (a prompt), a list (messages) or an object of `generate` keyword
arguments with the conversation under "messages". Results are JSONL in input order, one line per
input (the checkpoint record format, see toolwire/batch/_records.py), on stdout or `--output`.
Exit code 0 when every input was answered, 1 when any failed, 2 for bad usage, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from .app import _err, _errors, _fail, _load_tools

Provider = Annotated[str, typer.Option("--provider", "-p", help="Provider name (see `toolwire providers`).")]
Model = Annotated[str | None, typer.Option("--model", "-m", help="Model or deployment name.")]
Tools = Annotated[
    list[str] | None,
    typer.Option(
        "--tools", "--tool", "-t", help="A tool as module:function or file.py:function (repeatable)."
    ),
]
BaseUrl = Annotated[str | None, typer.Option("--base-url", help="Server URL (OpenAI-compatible, Azure...).")]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key", help="API key (prefer the provider's environment variable).", show_default=False
    ),
]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write results here (default: stdout).")]


def _llm(provider: str, model: str | None, base_url: str | None, api_key: str | None, **pace: Any) -> Any:
    from ..providers.registry import AbstractLLM

    config: dict[str, Any] = {k: v for k, v in pace.items() if v is not None}
    if model:
        config["model"] = model
    if base_url:
        config["base_url"] = base_url
    if api_key:
        config["api_key"] = api_key
    return AbstractLLM.create(provider, **config)


def _inputs(path: Path) -> Iterator[Any]:
    """The input lines, read lazily (a file of any size runs in bounded memory)."""
    if not path.exists():
        raise _fail(f"no input file {path}", 2)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise _fail(f"{path} line {number} is not JSON: {exc}", 2) from None


def _write(results: list[Any], output: Path | None) -> int:
    from ..batch import _records

    failed = 0
    lines = []
    for index, result in enumerate(results):
        record = _records.record(index, "", result, None)
        record.pop("key")
        failed += not record["ok"]
        lines.append(json.dumps(record, ensure_ascii=False, default=str))
    text = "\n".join(lines) + ("\n" if lines else "")
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
    _err().print(f"{len(results) - failed} answered, {failed} failed")
    return 1 if failed else 0


def run(
    file: Annotated[Path, typer.Argument(help="JSONL inputs: prompts, message lists or generate kwargs.")],
    provider: Provider = "openai",
    model: Model = None,
    tools: Tools = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, help="Sessions at once.")] = 16,
    checkpoint: Annotated[
        Path | None, typer.Option("--checkpoint", help="Resume file (finished items are not sent again).")
    ] = None,
    max_turns: Annotated[int, typer.Option("--max-turns", min=1, help="Model turns per input.")] = 10,
    rpm: Annotated[float | None, typer.Option("--rpm", help="requests_per_minute for the provider.")] = None,
    tpm: Annotated[float | None, typer.Option("--tpm", help="tokens_per_minute for the provider.")] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")
    ] = True,
    output: Output = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Run one tool-calling session per input line, paced, with a progress bar."""
    from .. import batch

    loaded = _load_tools(tools or [])
    with _errors():
        llm = _llm(provider, model, base_url, api_key, requests_per_minute=rpm, tokens_per_minute=tpm)
        results = batch.run(
            llm,
            _inputs(file),
            tools=loaded,
            concurrency=concurrency,
            progress=progress,
            checkpoint=checkpoint,
            max_turns=max_turns,
            system_prompt=system,
        )
    raise typer.Exit(_write(results, output))


def submit(
    file: Annotated[Path, typer.Argument(help="JSONL inputs: prompts, message lists or generate kwargs.")],
    provider: Provider = "openai",
    model: Model = None,
    tools: Tools = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    max_turns: Annotated[int, typer.Option("--max-turns", min=1, help="Tool rounds per input.")] = 10,
    state: Annotated[
        Path | None, typer.Option("--state", help="Job state file (default: FILE.job.json).")
    ] = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Submit the inputs to the provider's Batch API (OpenAI, Azure OpenAI, Anthropic)."""
    from .. import batch

    loaded = _load_tools(tools or [])
    state = state or file.with_name(file.stem + ".job.json")
    with _errors():
        llm = _llm(provider, model, base_url, api_key)
        job = batch.submit(
            llm, _inputs(file), tools=loaded or None, max_turns=max_turns, system_prompt=system, state=state
        )
    typer.echo(json.dumps({"id": job.id, "status": job.status, "state": str(state)}))


def _job(
    ref: str, provider: str, model: str | None, tools: list[str], base_url: str | None, api_key: str | None
) -> Any:
    from .. import batch

    llm = _llm(provider, model, base_url, api_key)
    return batch.Job.load(llm, ref, tools=_load_tools(tools) or None)


def status(
    ref: Annotated[str, typer.Argument(help="A job state file (from submit) or a batch id.")],
    provider: Provider = "openai",
    model: Model = None,
    tools: Tools = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Poll a job once and print where it stands (a finished tool round starts the next one)."""
    with _errors():
        job = _job(ref, provider, model, tools or [], base_url, api_key).refresh()
    counts = job.batch.get("request_counts") if isinstance(job.batch, dict) else None
    typer.echo(
        json.dumps(
            {
                "id": job.id,
                "status": job.status,
                "round": job.round,
                "done": job.done,
                "request_counts": counts,
            }
        )
    )


def results(
    ref: Annotated[str, typer.Argument(help="A job state file (from submit) or a batch id.")],
    provider: Provider = "openai",
    model: Model = None,
    tools: Tools = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Poll until the job is done.")] = False,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", help="Longest wait between polls.")
    ] = 60.0,
    output: Output = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Print the results of a finished job as JSONL, in input order."""
    with _errors():
        job = _job(ref, provider, model, tools or [], base_url, api_key)
        job = job.wait(poll_interval=poll_interval) if wait else job.refresh()
        if not job.done:
            raise _fail(f"job {job.id} is {job.status}; try again later or pass --wait", 1)
        found = job.results()
    raise typer.Exit(_write(found, output))


def build() -> typer.Typer:
    app = typer.Typer(
        help="Many requests: paced sessions (run) or the providers' Batch APIs.", no_args_is_help=True
    )
    app.command("run")(run)
    app.command("submit")(submit)
    app.command("status")(status)
    app.command("results")(results)
    return app
