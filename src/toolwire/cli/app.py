"""The typer application behind `toolwire` (imported only when the command runs).

Exit codes: 0 success; 1 the provider or a tool failed (the error is printed on stderr);
2 bad usage or configuration (unknown provider, missing key, bad --tool, missing extra);
130 interrupted.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import ConfigurationError, ToolwireError

__all__ = ["build_app", "load_callable"]

NEUTRAL = "neutral"


def _out() -> Console:
    # created per command so test runners that swap sys.stdout see the output
    return Console(highlight=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    _err().print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Library errors become one readable line and the exit codes a shell user expects."""
    try:
        yield
    except ConfigurationError as exc:
        raise _fail(str(exc), 2) from None
    except ToolwireError as exc:
        raise _fail(f"{type(exc).__name__}: {exc}", 1) from None
    except KeyboardInterrupt:
        _err().print("interrupted")
        raise typer.Exit(130) from None


def load_callable(spec: str) -> Callable[..., Any]:
    """`package.module:function` or `path/to/file.py:function` (the current directory is importable)."""
    module_name, sep, attr = spec.rpartition(":")
    if not sep or not module_name or not attr:
        raise typer.BadParameter(f"{spec!r}: expected module:function or path/to/file.py:function")
    try:
        if module_name.endswith(".py") or os.sep in module_name:
            path = Path(module_name).resolve()
            if not path.exists():
                raise typer.BadParameter(f"{spec!r}: no file {path}")
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            if module_spec is None or module_spec.loader is None:
                raise typer.BadParameter(f"{spec!r}: cannot import {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules.setdefault(path.stem, module)
            module_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except typer.BadParameter:
        raise
    except Exception as exc:
        raise typer.BadParameter(
            f"{spec!r}: cannot import {module_name} ({type(exc).__name__}: {exc})"
        ) from exc
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise typer.BadParameter(f"{spec!r}: {module_name} has no attribute {attr!r}") from None
    if not callable(target) and not isinstance(target, dict):
        raise typer.BadParameter(f"{spec!r}: {attr} is not a function")
    result: Callable[..., Any] = target
    return result


def _load_tools(specs: list[str]) -> list[Any]:
    from ..tools.definition import ToolDefinition

    tools = []
    for spec in specs:
        target = load_callable(spec)
        try:
            tools.append(ToolDefinition.coerce(target))
        except Exception as exc:
            raise typer.BadParameter(f"{spec!r}: not usable as a tool ({type(exc).__name__}: {exc})") from exc
    return tools


def _headers(values: list[str]) -> dict[str, str]:
    headers = {}
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip():
            raise typer.BadParameter(f"{value!r}: expected NAME:VALUE", param_hint="--header")
        headers[name.strip()] = content.strip()
    return headers


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- chat ----------------------------------------------------------------------------------------
def chat(
    prompt: Annotated[
        str | None,
        typer.Argument(help="What to ask. Without it, an interactive chat (empty line or Ctrl-D ends)."),
    ] = None,
    provider: Annotated[
        str, typer.Option("--provider", "-p", help="Provider name (see `toolwire providers`).")
    ] = ("openai"),
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model or deployment name.")] = None,
    api: Annotated[
        str | None,
        typer.Option("--api", help="Wire format: chat (default) or responses (OpenAI, Azure, compatible)."),
    ] = None,
    tool: Annotated[
        list[str] | None,
        typer.Option("--tool", "-t", help="A tool as module:function or file.py:function (repeatable)."),
    ] = None,
    mcp: Annotated[
        list[str] | None,
        typer.Option(
            "--mcp",
            help='An MCP server\'s tools: a command ("python server.py") or an http(s) URL (repeatable).',
        ),
    ] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="Server URL (OpenAI-compatible, Azure...).")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", help="API key (prefer the provider's environment variable).", show_default=False
        ),
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="Extra request header NAME:VALUE.")
    ] = None,
    max_turns: Annotated[int, typer.Option("--max-turns", min=1, help="Model turns before giving up.")] = 10,
    temperature: Annotated[float | None, typer.Option("--temperature")] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Record calls for `toolwire calls` / the dashboard.")
    ] = False,
    db: Annotated[
        Path | None, typer.Option("--db", help="Recorder database (default: ~/.local/share/toolwire).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Log request/response summaries on stderr.")] = False,
) -> None:
    """Chat with a model; tool calls run automatically and are shown live."""
    from ..providers.registry import AbstractLLM
    from ..session import Session

    tools = _load_tools(tool or [])
    extra_headers = _headers(header or [])
    out, err = _out(), _err()
    with _errors():
        if debug:
            from ..logs import enable_debug_logging

            enable_debug_logging()
        recorder = _start_recorder(record, db)
        config: dict[str, Any] = {}
        if model:
            config["model"] = model
        if base_url:
            config["base_url"] = base_url
        if api_key:
            config["api_key"] = api_key
        if api:
            config["api"] = api
        llm = AbstractLLM.create(provider, **config)
        kwargs: dict[str, Any] = {}
        if extra_headers:
            kwargs["extra_headers"] = extra_headers
        if temperature is not None:
            kwargs["temperature"] = temperature
        stack = ExitStack()  # MCP servers live as long as the chat
        session: Any = None
        try:
            servers = [stack.enter_context(open_mcp(spec)) for spec in mcp or []]
            session = Session(
                llm, tools=[*servers, *tools], system_prompt=system, max_turns=max_turns, **kwargs
            )
            if prompt is not None:
                _run_turn(session, prompt, out, err)
            else:
                _interactive(session, out, err)
        finally:
            stack.close()
            if recorder is not None:
                recorder.stop()
                conversation = getattr(session, "conversation_id", None)
                where = f" (conversation {conversation})" if conversation else ""
                err.print(f"[dim]recorded into {recorder.path}{where}[/]")


def _start_recorder(flag: bool, db: Path | None) -> Any:
    from ..recorder import install_from_env, record_calls

    if flag or db is not None:
        return record_calls(db)
    return install_from_env()


def _interactive(session: Any, out: Console, err: Console) -> None:
    err.print("[dim]interactive chat: an empty line or Ctrl-D ends it[/]")
    while True:
        try:
            line = out.input("[bold cyan]you>[/] ")
        except EOFError:
            break
        if not line.strip():
            break
        _run_turn(session, line, out, err)


def _run_turn(session: Any, prompt: str, out: Console, err: Console) -> None:
    from ..events import SessionFinished, TextDelta, ToolCallStarted, ToolResultEvent, TurnFinished

    status = err.status("[dim]waiting for the model…[/]", spinner="dots")
    status.start()
    pending = 0
    text_open = False
    used: dict[str, int] = {}  # every model turn of this prompt, not only the last
    try:
        for event in session.stream(prompt):
            if isinstance(event, TextDelta):
                status.stop()
                out.print(event.text, end="", markup=False, highlight=False)
                text_open = True
            elif isinstance(event, TurnFinished):
                for key, value in (event.response.usage or {}).items():
                    if isinstance(value, int) and not isinstance(value, bool):
                        used[key] = used.get(key, 0) + value
                if text_open:
                    out.print()
                    text_open = False
            elif isinstance(event, ToolCallStarted):
                status.stop()
                call = event.call
                out.print(
                    f"[yellow]→ {escape(call.name)}[/]({escape(_short(call.arguments))}) [dim]{call.id}[/]"
                )
                pending += 1
                status.update(f"[dim]running {pending} tool call(s)…[/]")
                status.start()
            elif isinstance(event, ToolResultEvent):
                status.stop()
                result = event.result
                took = f" [dim]{result.duration * 1000:.0f} ms[/]" if result.duration is not None else ""
                if result.error is not None:
                    out.print(f"[red]← {escape(result.name)} failed:[/] {escape(_short(result.error))}{took}")
                else:
                    out.print(
                        f"[green]← {escape(result.name)}[/] {escape(_short(result.output_text()))}{took}"
                    )
                pending -= 1
                if pending == 0:
                    status.update("[dim]waiting for the model…[/]")
                    status.start()
            elif isinstance(event, SessionFinished):
                status.stop()
                usage = used
                if usage:
                    tokens_in = usage.get("prompt_tokens", "?")
                    tokens_out = usage.get("completion_tokens", "?")
                    err.print(f"[dim]tokens: {tokens_in} in, {tokens_out} out[/]")
    finally:
        status.stop()
        if text_open:
            out.print()


# -- schema --------------------------------------------------------------------------------------
def schema(
    function: Annotated[str, typer.Argument(help="The tool: module:function or file.py:function.")],
    dialect: Annotated[
        str,
        typer.Option(
            "--dialect", "-d", help=f"A provider's format (any provider name, e.g. anthropic), or {NEUTRAL}."
        ),
    ] = "openai",
    strict: Annotated[bool | None, typer.Option("--strict/--no-strict", help="OpenAI strict mode.")] = None,
) -> None:
    """Print the tool definition a provider receives for a Python function."""
    dialects = _dialects()
    if dialect not in dialects:
        raise typer.BadParameter(f"{dialect!r}: choose one of {', '.join(dialects)}", param_hint="--dialect")
    [definition] = _load_tools([function])
    if strict is not None:
        import dataclasses

        definition = dataclasses.replace(definition, strict=strict)
    with _errors():
        try:
            payload = _tool_payload(definition, dialect)
        except (ValueError, NotImplementedError) as exc:
            raise _fail(f"{definition.name} cannot be expressed in the {dialect} dialect: {exc}", 1) from None
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))


def _dialects() -> dict[str, Any]:
    """Each provider's tool format, by provider name and alias (the provider classes say how)."""
    from ..providers.registry import provider_classes

    dialects: dict[str, Any] = {}
    for name, cls in provider_classes().items():
        if callable(getattr(cls, "tools_payload", None)) and name != "fallback":
            dialects[name] = cls
            for alias in getattr(cls, "aliases", ()):
                dialects.setdefault(alias, cls)
    dialects[NEUTRAL] = None
    return dialects


def _tool_payload(definition: Any, dialect: str) -> Any:
    cls = _dialects()[dialect]
    if cls is None:
        return definition.to_dict()
    return cls.tools_payload([definition])[0]


# -- MCP / tools check ---------------------------------------------------------------------------
def open_mcp(spec: str, **options: Any) -> Any:
    """An MCP toolset from `--mcp`: an http(s) URL, or a command line run over stdio."""
    from ..mcp import MCPToolset

    if spec.startswith(("http://", "https://")):
        return MCPToolset.http(spec, **options)
    import shlex

    command, *args = shlex.split(spec)
    return MCPToolset.stdio(command, args, **options)


def tools_check(
    targets: Annotated[
        list[str] | None,
        typer.Argument(help="Tools as module:function or module:PydanticModel (or file.py:name)."),
    ] = None,
    mcp: Annotated[
        list[str] | None, typer.Option("--mcp", help="Every tool of an MCP server: a command or a URL.")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="A tool that cannot use OpenAI strict mode fails too.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check each tool's schema against every provider dialect: accepted as is, rewritten (what), or
    refused (why). Exit code 1 when a tool would be refused."""
    from .tools_check import check_tool, verdicts_json

    if not targets and not mcp:
        raise typer.BadParameter("give at least one TARGET or --mcp")
    rows: list[tuple[str, list[Any]]] = []
    for definition in _load_tools(targets or []):
        rows.append(
            (definition.name, check_tool(definition.name, definition.parameters, definition.parameters))
        )
    with _errors():
        for spec in mcp or []:
            with open_mcp(spec, pin=False) as server:
                for tool in server.tools:
                    label = (
                        tool.name
                        if tool.name == tool.original_name
                        else f"{tool.name} (server: {tool.original_name})"
                    )
                    rows.append((label, check_tool(tool.name, tool.input_schema, tool.parameters)))
                for original, reason in server.refused.items():
                    rows.append((original, check_tool(original, {"__refused__": reason}, None)))
    verdicts = [v for _, row in rows for v in row]
    failed = [v for v in verdicts if v.status == "refused" and (strict or v.column != "openai strict")]
    if as_json:
        typer.echo(verdicts_json(verdicts))
    else:
        # one line per tool and dialect: readable in a narrow terminal or a CI log
        table = Table(title="tool schemas per provider dialect")
        for column in ("tool", "dialect", "verdict", "what / why"):
            table.add_column(column)
        style = {
            "as is": "[green]as is[/]",
            "rewritten": "[yellow]rewritten[/]",
            "refused": "[red]refused[/]",
        }
        for label, row in rows:
            for index, verdict in enumerate(row):
                name = f"[bold]{escape(label)}[/]" if index == 0 else ""
                table.add_row(name, verdict.column, style[verdict.status], escape(verdict.detail))
            table.add_section()
        _out().print(table)
    if failed:
        names = sorted({v.tool for v in failed})
        raise _fail(f"{len(names)} tool(s) would be refused: {', '.join(names)}", 1)


# -- providers -----------------------------------------------------------------------------------
def providers(
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Capabilities for this model name.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the providers and what each supports."""
    from ..providers.registry import available_providers, provider_capabilities
    from ..types import Capability

    with _errors():
        table_data = provider_capabilities(model=model)
        names = [n for n in available_providers() if n in table_data]
    if as_json:
        typer.echo(json.dumps({n: sorted(c.value for c in table_data[n]) for n in names}, indent=2))
        return
    capabilities = list(Capability)
    table = Table(title="toolwire providers" + (f" (model {model})" if model else ""))
    table.add_column("provider", style="bold", no_wrap=True)
    table.add_column("supports")
    table.add_column("lacks", style="dim")
    for name in names:
        have = set(table_data[name])
        table.add_row(
            name,
            ", ".join(c.value for c in capabilities if c in have),
            ", ".join(c.value for c in capabilities if c not in have) or "-",
        )
    _out().print(table)


# -- calls ---------------------------------------------------------------------------------------
def _store(db: Path | None) -> Any:
    from ..recorder import CallStore

    store = CallStore(db)
    if not store.path.exists():
        raise _fail(
            f"no recorded calls at {store.path} (record with `toolwire chat --record` or TOOLWIRE_RECORD=1)",
            1,
        )
    return store


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def calls_list(
    provider: Annotated[str | None, typer.Option("--provider", "-p")] = None,
    model: Annotated[str | None, typer.Option("--model", "-m")] = None,
    errors: Annotated[
        bool | None, typer.Option("--errors/--no-errors", help="Only conversations with (or without) errors.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1)] = 20,
    db: Annotated[Path | None, typer.Option("--db", help="Recorder database.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Recorded conversations, newest first."""
    store = _store(db)
    rows = store.conversations(provider=provider, model=model, errors=errors, limit=limit)
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        _err().print("no recorded conversation matches")
        return
    table = Table()
    for column in (
        "conversation",
        "started",
        "provider",
        "model",
        "calls",
        "tools",
        "errors",
        "tokens",
        "ms",
    ):
        table.add_column(
            column, justify="right" if column in {"calls", "tools", "errors", "tokens", "ms"} else "left"
        )
    for row in rows:
        table.add_row(
            row["conversation_id"],
            _when(row["started"]),
            ",".join(row["providers"]),
            ",".join(row["models"]),
            str(row["model_calls"]),
            str(row["tool_calls"]),
            f"[red]{row['errors']}[/]" if row["errors"] else "0",
            f"{row['input_tokens']}+{row['output_tokens']}",
            f"{row['duration_ms']:.0f}",
        )
    _out().print(table)


def calls_show(
    identifier: Annotated[
        str, typer.Argument(metavar="ID", help="A conversation id, or an event id (prefix).")
    ],
    db: Annotated[Path | None, typer.Option("--db", help="Recorder database.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One conversation's events, or one event in full."""
    store = _store(db)
    events = store.events(identifier)
    if not events:
        event = store.event(identifier)
        if event is None:
            raise _fail(f"no recorded conversation or event {identifier!r}", 1)
        if as_json:
            typer.echo(json.dumps(event, indent=2, default=str))
        else:
            _show_event(event)
        return
    if as_json:
        typer.echo(json.dumps(events, indent=2, default=str))
        return
    start = events[0]["started"]
    table = Table(title=f"conversation {identifier}")
    for column in ("id", "+ms", "ms", "kind", "what", "status", "tokens"):
        table.add_column(column)
    for event in events:
        what = event["model"] if event["kind"] == "chat" else event["name"]
        tokens = (
            f"{event['input_tokens']}+{event['output_tokens']}" if event["input_tokens"] is not None else ""
        )
        status = (
            "[green]ok[/]" if event["status"] == "ok" else f"[red]{escape(event['error_type'] or 'error')}[/]"
        )
        table.add_row(
            event["id"][:12],
            f"{(event['started'] - start) * 1000:.0f}",
            f"{event['duration_ms']:.0f}",
            event["kind"],
            escape(str(what)),
            status,
            tokens,
        )
    _out().print(table)


def _show_event(event: dict[str, Any]) -> None:
    out = _out()
    heading = event["model"] if event["kind"] == "chat" else event["name"]
    out.print(f"[bold]{event['kind']}[/] {escape(str(heading))}  [dim]{event['id']}[/]")
    out.print(
        f"conversation {event['conversation_id']}, {_when(event['started'])}, {event['duration_ms']:.0f} ms"
    )
    if event["status"] == "error":
        out.print(f"[red]{escape(event['error_type'] or 'error')}:[/] {escape(event['error'] or '')}")
    if event["input_tokens"] is not None:
        out.print(f"tokens: {event['input_tokens']} in, {event['output_tokens']} out")
    from .._recorded_images import describe_all

    for name in ("request", "response"):
        if event.get(name) is not None:
            out.print(f"[bold]{name}[/]")
            # an image is shown as `[image image/png 1.2 KB sha256:abcd…]`, never its bytes
            out.print_json(json.dumps(describe_all(event[name]), default=str))


# -- dashboard / demo --------------------------------------------------------------------------
def dashboard(
    db: Annotated[Path | None, typer.Option("--db", help="Recorder database.")] = None,
    host: Annotated[
        str, typer.Option("--host", help="Interface to bind (loopback unless --expose).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8765,
    expose: Annotated[
        bool, typer.Option("--expose", help="Allow a non-loopback --host (needs --token).")
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="TOOLWIRE_DASHBOARD_TOKEN", help="Require this token (?token=... or Bearer)."
        ),
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open it in a web browser.")] = False,
) -> None:
    """Serve the dashboard of recorded calls (http://127.0.0.1:8765 by default)."""
    with _errors():
        from ..dashboard import serve

        serve(db=db, host=host, port=port, token=token, expose=expose, open_browser=open_browser)


def demo(ctx: typer.Context) -> None:
    """Run the built-in demo (two tool calls in one turn); arguments go to `python -m toolwire.demo`."""
    from ..demo import main as demo_main

    raise typer.Exit(demo_main(list(ctx.args)))


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="toolwire",
        help="LLM tool calling across providers: chat, inspect tool schemas, browse recorded calls.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.command()(chat)
    app.command()(schema)
    app.command()(providers)
    calls = typer.Typer(help="Recorded calls (see `toolwire chat --record`).", no_args_is_help=True)
    calls.command("list")(calls_list)
    calls.command("show")(calls_show)
    app.add_typer(calls, name="calls")
    tools = typer.Typer(help="Inspect tools before a provider sees them.", no_args_is_help=True)
    tools.command("check")(tools_check)
    app.add_typer(tools, name="tools")
    from .batch_cmd import build as build_batch

    app.add_typer(build_batch(), name="batch")
    app.command()(dashboard)
    app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(demo)
    return app
