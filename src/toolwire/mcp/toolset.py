"""`MCPToolset`: the tools of one MCP server (stdio or Streamable HTTP) as toolwire tools.

Built on the official `mcp` SDK (`mcp.Client`, which speaks both protocol generations: the 2025
`initialize` handshake with `Mcp-Session-Id`, and the stateless 2026-07-28 form it probes first with
`server/discover`). The SDK is async and its client must be entered and left by one task, so each
toolset has one event loop (`_loop`: a background loop of its own when opened with `with`, the
caller's loop when opened with `async with`) and one *owner task* per connection; sync and async
callers both submit work to that loop.

A connection that fails (the stdio process crashed, the HTTP session is gone, the server stopped
answering) is dropped: the failing call raises `MCPConnectionError` (an error result for the
model), and the next use starts a new process / opens a new session.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TextIO

from pydantic import TypeAdapter, ValidationError

from .._version import __version__
from ..errors import (
    ConfigurationError,
    MCPConnectionError,
    MCPServerError,
    MCPTimeoutError,
    MCPToolChangedError,
    MCPToolError,
)
from ..tools.definition import ToolDefinition
from . import _watch
from ._labels import _describe, _leaf, _redacted, _safe_url
from ._loop import BackgroundLoop, CallerLoop, ToolsetLoop
from ._names import assign_names, unique_by_name
from ._pins import PinStore, fingerprint
from ._schema import SchemaRefused, SchemaValidator, neutral_schema, result_output
from ._watch import ListWatch, lost_session_hook, watch_tool_list

__all__ = ["MCPToolDefinition", "MCPToolset"]

logger = logging.getLogger("toolwire.mcp")

_STOP_GRACE = 10.0  # the SDK closes stdin, waits 2 s, SIGTERMs the process group, then SIGKILLs


def _require_sdk() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the extra is installed in the test venv
        raise ConfigurationError("toolwire.mcp needs the MCP SDK: pip install 'toolwire[mcp]'") from exc


@dataclass(eq=False)
class MCPToolDefinition(ToolDefinition):
    """A tool of an MCP server. `name` is what the model sees (prefixed, made provider-valid);
    `original_name` is the server's. `annotations` (`readOnlyHint`, `destructiveHint`, ...) are
    what the server *claims*: shown to an `approve` hook, trusted only with `trust_annotations=True`
    (`annotations_trusted`; then `readOnlyHint: true` sets `read_only`, so a streamed `Session`
    turn may start the tool early, like `@tool(read_only=True)`). `pin_change` says what changed
    since the tool was pinned; while it is set the tool requires approval."""

    server: str = ""
    original_name: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    """The server's own `inputSchema`, as listed (`parameters` is its neutral form)."""
    annotations: dict[str, Any] = field(default_factory=dict)
    annotations_trusted: bool = False
    # `read_only` is ToolDefinition's own field (the one early starts read): set from a
    # `readOnlyHint: true` annotation only when the server's annotations are trusted.
    pin_change: str | None = None
    _fingerprint: dict[str, Any] = field(default_factory=dict, repr=False)
    _base_approval: bool = field(default=False, repr=False)

    @property
    def approval_note(self) -> str | None:
        """Why this call needs approval, for the model when nobody can approve it."""
        if self.pin_change is None:
            return None
        return f"The MCP tool changed since it was approved: {self.pin_change}."


@dataclass
class _Connection:
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    client: Any = None
    task: asyncio.Task[None] | None = None
    dead: bool = False
    error: BaseException | None = None
    watch: ListWatch | None = None
    """The 2026-07-28 listen stream (None: changes come as notifications, or never)."""
    session_lost: bool = False
    """The HTTP server answered 404 to a request carrying this connection's `Mcp-Session-Id`: it no
    longer knows the session (expired, or the server restarted) and never ran the request."""

    @property
    def announces(self) -> bool:
        """Whether the server's list changes reach the toolset now."""
        return self.watch is None or self.watch.watching


class MCPToolset:
    """The tools of one MCP server. Use `MCPToolset.stdio(...)` or `MCPToolset.http(...)` with
    `with` / `async with`; pass the toolset itself or `toolset.tools` wherever tools are accepted.

    Options (keyword arguments of `stdio` and `http`): `prefix` (prepended to every tool name),
    `name` (the server's key in the pin file; default: the command line or URL), `call_timeout`
    (seconds a call may take before the server is considered hung and restarted, default 60; a
    `Session`'s `tool_timeout` still applies on top), `connect_timeout` (default 30), `strict`
    (OpenAI strict mode for every tool whose schema is eligible), `pin_file`, `pin` (default True),
    `trust_annotations`, `requires_approval` (every call of this server goes through `approve`),
    `mode` (the SDK's protocol negotiation: ``"auto"``, ``"legacy"`` or a 2026 version).
    """

    def __init__(
        self,
        *,
        label: str,
        command: str | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        url: str | None = None,
        headers: Mapping[str, str] | None = None,
        prefix: str | None = None,
        name: str | None = None,
        call_timeout: float | None = 60.0,
        connect_timeout: float = 30.0,
        strict: bool | None = None,
        pin_file: str | os.PathLike[str] | None = None,
        pin: bool = True,
        trust_annotations: bool = False,
        requires_approval: bool = False,
        mode: str = "auto",
        errlog: TextIO | None = None,
    ) -> None:
        self.label = label
        self.prefix = prefix or ""
        self.name = name or label
        self.call_timeout = call_timeout
        self.connect_timeout = connect_timeout
        self.strict = strict
        self.trust_annotations = trust_annotations
        self.requires_approval = requires_approval
        self.mode = mode
        self.restarts = 0
        """How many times a failed connection was replaced (stdio process restarted, HTTP session
        re-established)."""
        self.refused: dict[str, str] = {}
        """Tools the server lists that cannot be offered to a model: original name -> why."""
        self._command, self._args = command, list(args)
        self._env = dict(env) if env is not None else None
        self._cwd = os.fspath(cwd) if cwd is not None else None
        self._url, self._headers = url, dict(headers or {})
        self._errlog = errlog
        self._pins = PinStore(self.name, pin_file) if pin else None
        self._loop: ToolsetLoop | None = None
        self._conn: _Connection | None = None
        self._lock: asyncio.Lock | None = None
        self._tools: list[MCPToolDefinition] = []
        self._by_name: dict[str, MCPToolDefinition] = {}
        self._stale = True
        self._closed = False
        self._unreadable: dict[str, str] = {}

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        prefix: str | None = None,
        **options: Any,
    ) -> MCPToolset:
        """A server started as a subprocess, speaking MCP on its stdin/stdout.

        `env` is added to the SDK's minimal default environment (PATH, HOME, ...): the parent's
        other variables, API keys included, are not passed to the server unless listed here.
        A `command` with spaces and no `args` is split like a shell would (``"python server.py"``).
        """
        if args is None and " " in command.strip():
            command, *split = shlex.split(command)
            args = split
        arguments = list(args or [])
        label = "stdio:" + " ".join([command, *_redacted(arguments)])
        return cls(label=label, command=command, args=arguments, env=env, cwd=cwd, prefix=prefix, **options)

    @classmethod
    def http(
        cls,
        url: str,
        headers: Mapping[str, str] | None = None,
        prefix: str | None = None,
        **options: Any,
    ) -> MCPToolset:
        """A Streamable HTTP server (answers as JSON or SSE). `headers` (e.g. ``Authorization``) go
        to this URL only and never appear in errors or reprs."""
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"MCP server URL must start with http:// or https://, got {_safe_url(url)!r}"
            )
        return cls(label=_safe_url(url), url=url, headers=headers, prefix=prefix, **options)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._loop is not None else "not started")
        return f"MCPToolset({self.label!r}, prefix={self.prefix!r}, {state})"

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> MCPToolset:
        """Connect and read the tool list (what `with` does)."""
        loop = self._start()
        try:
            loop.run(self._aopen())
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """End the connection (the stdio process is terminated, then killed after a grace period;
        an HTTP session is deleted) and stop the background loop. Idempotent."""
        loop, self._loop = self._loop, None
        self._closed = True
        if loop is None:
            return
        try:
            if loop.alive and loop.on_own_thread():  # opened with `async with` on this very loop
                loop.spawn(self._aclose())  # it cannot wait for itself: closed as soon as it runs
            elif loop.alive or (isinstance(loop, CallerLoop) and loop.idle_here()):
                loop.run(self._aclose())
        finally:
            loop.stop()

    async def aopen(self) -> MCPToolset:
        """Connect and read the tool list (what `async with` does). The connection lives on the
        caller's event loop (no thread hop per call); sync callers on other threads still reach it."""
        loop = self._start(asyncio.get_running_loop())
        try:
            await loop.arun(self._aopen())
        except BaseException:
            await self.aclose()
            raise
        return self

    async def aclose(self) -> None:
        loop, self._loop = self._loop, None
        self._closed = True
        if loop is None:
            return
        try:
            if loop.alive:
                await loop.arun(self._aclose())
        finally:
            loop.stop()

    def __enter__(self) -> MCPToolset:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> MCPToolset:
        return await self.aopen()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _start(self, caller: asyncio.AbstractEventLoop | None = None) -> ToolsetLoop:
        """The loop the connection lives on: the caller's own (async open) or a background one."""
        _require_sdk()
        if self._loop is not None:
            raise RuntimeError(f"{self!r} is already open")
        self._closed = False
        if caller is not None:
            self._loop = CallerLoop(caller)
        else:
            self._loop = BackgroundLoop(f"toolwire-mcp {self.label[:40]}")
        return self._loop

    def _running(self) -> ToolsetLoop:
        if self._loop is None:
            raise MCPConnectionError(
                f"MCP toolset {self.label} is not open: use it in a `with` (or `async with`) block",
                server=self.label,
            )
        return self._loop

    async def _aopen(self) -> None:
        self._lock = asyncio.Lock()
        await self._refresh()

    async def _aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._drop(conn)

    # -- tools -------------------------------------------------------------------------------
    @property
    def tools(self) -> list[ToolDefinition]:
        """The server's tools as `ToolDefinition`s (cached; re-read after the server announces
        `notifications/tools/list_changed`)."""
        if self._stale:
            loop = self._running()
            if loop.on_own_thread():  # on the toolset's own loop (`async with`): it cannot wait here;
                loop.spawn(self._refresh(), key=(self, "refresh"))  # and every call re-reads it
            else:
                loop.run(self._refresh())
        return list(self._tools)

    async def alist_tools(self) -> list[ToolDefinition]:
        """`tools` for async code (re-reads the list on the background loop when it changed)."""
        if self._stale:
            await self._running().arun(self._refresh())
        return list(self._tools)

    def __toolwire_tools__(self) -> list[ToolDefinition]:
        """Tool lists accept a toolset in place of its tools (`tools=[server, my_function]`)."""
        return self.tools

    def __iter__(self) -> Iterator[ToolDefinition]:
        return iter(self.tools)

    def refresh(self) -> list[ToolDefinition]:
        """Read the tool list from the server again (every page)."""
        self._running().run(self._refresh())
        return list(self._tools)

    def approve(self, name: str) -> None:
        """Accept a changed tool as it is now (and record it in the pin file, if any)."""
        tool = self._lookup(name)
        if tool is None:
            raise KeyError(f"MCP server {self.label} has no tool {name!r}")
        self._accept(tool)

    def _accept(self, tool: MCPToolDefinition) -> None:
        if self._pins is not None:
            self._pins.accept(tool.original_name, tool._fingerprint)
        tool.pin_change = None
        tool.requires_approval = tool._base_approval

    def _lookup(self, name: str) -> MCPToolDefinition | None:
        found = self._by_name.get(name)
        if found is None:
            found = next((t for t in self._tools if t.original_name == name), None)
        return found

    # -- calls -------------------------------------------------------------------------------
    def call(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """Call one tool (by toolwire or server name) and return its output. Raises
        `MCPToolError` (the tool failed / arguments invalid), `MCPToolChangedError`,
        `MCPConnectionError` or `MCPTimeoutError`."""
        return self._running().run(self._direct_call(name, dict(arguments or {})))

    async def acall(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        return await self._running().arun(self._direct_call(name, dict(arguments or {})))

    async def _direct_call(self, name: str, arguments: dict[str, Any]) -> Any:
        if self._needs_refresh():
            await self._refresh()
        tool = self._lookup(name)
        if tool is None:
            raise MCPToolError(
                f"MCP server {self.label} has no tool {name!r}", server=self.label, tool_name=name
            )
        try:
            arguments = tool.validate_arguments(arguments)
        except ValueError as exc:
            raise MCPToolError(
                f"invalid arguments for {tool.name}: {exc}", server=self.label, tool_name=tool.name
            ) from None
        return await self._call(tool, arguments, approved=False)

    def _bind(self, definition: MCPToolDefinition) -> Any:
        async def call_mcp_tool(**arguments: Any) -> Any:
            # Run by the executor, which runs a tool with a pending change only after `approve`.
            return await self._running().arun(self._call(definition, arguments, approved=True))

        def submit(**arguments: Any) -> concurrent.futures.Future[Any]:
            # The sync executor waits on this future: the call runs on the toolset's own loop,
            # without the private event loop (and pool thread) it starts for other async tools.
            return self._running().submit(self._call(definition, arguments, approved=True))

        call_mcp_tool.__toolwire_submit__ = submit  # type: ignore[attr-defined]
        # it only awaits the call running on the toolset's loop: the async executor may await it
        # in its caller's task (tools/execution.py, `_aexecute_inline`)
        call_mcp_tool.__toolwire_inline__ = True  # type: ignore[attr-defined]
        call_mcp_tool.__name__ = definition.name
        call_mcp_tool.__qualname__ = f"MCPToolset.{definition.name}"
        return call_mcp_tool

    def _needs_refresh(self) -> bool:
        # A replaced connection is a new server process or session: changes made while no
        # listener was there are never replayed, so the list is read again before the call.
        return self._stale or self._conn is None or self._conn.dead

    async def _call(
        self, tool: MCPToolDefinition, arguments: dict[str, Any], *, approved: bool, retried: bool = False
    ) -> Any:
        if self._needs_refresh():
            await self._refresh()
        current = self._by_name.get(tool.name)
        if current is None or current.original_name != tool.original_name:
            raise MCPToolError(
                f"MCP server {self.label} no longer offers the tool {tool.original_name!r}",
                server=self.label,
                tool_name=tool.name,
            )
        if current.pin_change is not None:
            if approved and current is tool and tool.requires_approval:
                self._accept(tool)  # the approve hook saw `pin_change` and allowed the call
            else:
                raise MCPToolChangedError(
                    f"the MCP tool {tool.name} changed since it was approved ({current.pin_change}); "
                    "the call was refused until the user approves the change",
                    change=current.pin_change,
                    server=self.label,
                    tool_name=tool.name,
                )
        conn = await self._connection()
        try:
            result = await conn.client.call_tool(
                current.original_name, arguments, read_timeout_seconds=self.call_timeout
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failure = self._failure(conn, f"the call to {tool.name}", exc, tool.name)
            if conn.session_lost and not retried:  # the server never ran it: once more, on a new session
                return await self._call(tool, arguments, approved=approved, retried=True)
            raise failure from None
        if result.is_error:
            output = result_output(result)
            text = output if isinstance(output, str) else str(output)
            raise MCPToolError(text or "the tool reported an error", server=self.label, tool_name=tool.name)
        return result_output(result)

    def _failure(
        self, conn: _Connection, what: str, exc: BaseException, tool: str | None = None
    ) -> MCPServerError:
        """Sort an SDK failure: the server refused (keep the connection) or the connection is gone."""
        from mcp.shared.exceptions import MCPError
        from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        leaf = _leaf(exc)
        if conn.session_lost:
            self._mark_dead(conn)
            return MCPConnectionError(
                f"MCP server {self.label} no longer knows the session (HTTP 404) during {what}; "
                "a new session is opened on next use",
                server=self.label,
                tool_name=tool,
            )
        if isinstance(leaf, MCPError):
            if leaf.code == REQUEST_TIMEOUT:
                self._mark_dead(conn)  # a hung server is restarted on next use
                return MCPTimeoutError(
                    f"MCP server {self.label} did not answer {what} within {self.call_timeout:g}s; "
                    "it will be restarted on next use",
                    server=self.label,
                    tool_name=tool,
                )
            transport_gone = leaf.code == CONNECTION_CLOSED or leaf.message in (
                "Session terminated",
                "Server returned an error response",
            )
            if not transport_gone:
                return MCPToolError(
                    f"MCP server {self.label} refused {what}: {leaf.message} (JSON-RPC error {leaf.code})",
                    server=self.label,
                    tool_name=tool,
                )
        if isinstance(leaf, ValidationError):  # the server answered, but not in the protocol's shape
            return MCPToolError(
                f"MCP server {self.label} answered {what} outside the MCP protocol: "
                f"{leaf.errors()[0].get('msg', leaf)}",
                server=self.label,
                tool_name=tool,
            )
        self._mark_dead(conn)
        reason = "closed the connection" if "closed" in str(leaf).lower() else f"failed ({_describe(leaf)})"
        return MCPConnectionError(
            f"MCP server {self.label} {reason} during {what}; it will be restarted on next use",
            server=self.label,
            tool_name=tool,
        )

    # -- connection (runs on the background loop) ---------------------------------------------
    def _mark_dead(self, conn: _Connection) -> None:
        conn.dead = True
        conn.stop.set()  # the owner task leaves the SDK client: the process is stopped

    async def _connection(self) -> _Connection:
        conn = self._conn
        if conn is not None and not conn.dead:
            return conn
        if self._closed:
            raise MCPConnectionError(f"MCP toolset {self.label} is closed", server=self.label)
        assert self._lock is not None
        async with self._lock:
            if self._conn is not None and not self._conn.dead:
                return self._conn
            if self._conn is not None:
                old, self._conn = self._conn, None
                await self._drop(old)
                self.restarts += 1
            conn = _Connection()
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            conn.task = asyncio.ensure_future(self._own(conn, ready))
            try:
                await asyncio.wait_for(asyncio.shield(ready), self.connect_timeout)
            except BaseException as exc:
                # Never connected: the owner may be stuck in the handshake, where it does not watch
                # `stop`, so it is cancelled at once rather than after the close grace (the SDK still
                # ends a started process, inside a shield). `ready` is cancelled first so the owner
                # does not leave an exception in it that nobody reads.
                ready.cancel()
                conn.stop.set()
                if conn.task is not None:
                    conn.task.cancel()
                    await asyncio.gather(conn.task, return_exceptions=True)
                if isinstance(exc, asyncio.TimeoutError):
                    raise MCPTimeoutError(
                        f"MCP server {self.label} did not connect within {self.connect_timeout:g}s",
                        server=self.label,
                    ) from None
                raise
            self._conn = conn
            return conn

    async def _own(self, conn: _Connection, ready: asyncio.Future[None]) -> None:
        """The one task that enters and leaves the SDK client (anyio requires the same task)."""
        from mcp_types import Implementation

        from mcp import Client

        try:
            async with contextlib.AsyncExitStack() as stack:
                transport = await self._transport(stack, conn)
                client = Client(
                    transport,
                    mode=self.mode,
                    message_handler=self._on_message,
                    client_info=Implementation(name="toolwire", version=__version__),
                    cache=None,  # toolwire caches the tool list itself and refreshes it on list_changed
                )
                await stack.enter_async_context(client)
                conn.client = client
                # Ready once the server acknowledged (or refused) the 2026-07-28 subscription: a call
                # sent before the ack may change the list before the server has anyone to tell. A
                # server that never answers is used after a bounded wait, its list re-read on use.
                ack_wait = min(_watch.ACK_WAIT, self.connect_timeout / 2)
                conn.watch = await watch_tool_list(client, self.label, self._mark_stale, conn.stop, ack_wait)
                if not ready.done():
                    ready.set_result(None)
                try:
                    await conn.stop.wait()
                finally:
                    if conn.watch is not None:
                        await conn.watch.close()
        except asyncio.CancelledError:
            conn.error = MCPConnectionError(f"MCP toolset {self.label} was closed", server=self.label)
            raise
        except BaseException as exc:
            conn.error = exc
            logger.debug("MCP connection to %s ended: %s", self.label, _describe(exc))
        finally:
            conn.dead = True
            if not ready.done():
                error = conn.error or RuntimeError("closed")
                ready.set_exception(
                    MCPConnectionError(
                        f"MCP server {self.label} could not be started or reached ({_describe(error)})",
                        server=self.label,
                    )
                )

    async def _transport(self, stack: contextlib.AsyncExitStack, conn: _Connection) -> Any:
        if self._command is not None:
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(
                command=self._command, args=self._args, env=self._env, cwd=self._cwd
            )
            return stdio_client(params, errlog=self._server_stderr(stack))
        import httpx2
        from mcp.client.streamable_http import streamable_http_client

        assert self._url is not None
        # The SDK's recommended timeouts (30 s; 300 s read for long SSE answers) plus our headers.
        http = await stack.enter_async_context(
            httpx2.AsyncClient(
                headers=self._headers,
                timeout=httpx2.Timeout(30.0, read=300.0),
                event_hooks={"response": [lost_session_hook(partial(setattr, conn, "session_lost", True))]},
            )
        )
        return streamable_http_client(self._url, http_client=http)

    def _server_stderr(self, stack: contextlib.AsyncExitStack) -> TextIO:
        """Where the server's stderr goes: ours, when it is a real file (a test runner or a web
        framework may have replaced sys.stderr with an object the subprocess cannot write to)."""
        for candidate in (self._errlog, sys.stderr, sys.__stderr__):
            try:
                if candidate is not None and candidate.fileno() >= 0:
                    return candidate
            except (AttributeError, OSError, ValueError):
                continue
        devnull = open(os.devnull, "w")  # noqa: SIM115 - closed with the connection
        stack.callback(devnull.close)
        return devnull

    def _mark_stale(self) -> None:
        self._stale = True

    async def _on_message(self, message: Any) -> None:
        from mcp_types import ToolListChangedNotification

        if isinstance(message, ToolListChangedNotification):
            self._stale = True

    async def _drop(self, conn: _Connection) -> None:
        conn.stop.set()
        task = conn.task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=_STOP_GRACE)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- listing -----------------------------------------------------------------------------
    async def _refresh(self, *, retried: bool = False) -> None:
        conn = await self._connection()
        # a list_changed arriving while we read marks it stale again; while changes cannot reach us
        # (no acknowledged listen stream) the list stays stale: it is re-read before each use
        self._stale = not conn.announces
        try:
            listed = await asyncio.wait_for(self._list_all(conn), self.connect_timeout)
        except asyncio.TimeoutError:
            self._mark_dead(conn)
            self._stale = True
            raise MCPTimeoutError(
                f"MCP server {self.label} did not list its tools within {self.connect_timeout:g}s",
                server=self.label,
            ) from None
        except MCPServerError:
            self._stale = True
            raise
        except Exception as exc:
            self._stale = True
            failure = self._failure(conn, "tools/list", exc)
            if conn.session_lost and not retried:  # the server never ran it: once more, on a new session
                await self._refresh(retried=True)
                return
            raise failure from None
        self._install(listed)

    async def _list_all(self, conn: _Connection) -> list[Any]:
        tools: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            try:
                page = await conn.client.list_tools(cursor=cursor)
                tools.extend(page.tools)
                cursor = page.next_cursor
            except ValidationError:
                cursor = await self._list_page_leniently(conn, cursor, tools)
            if not cursor:
                unique = unique_by_name(tools)
                if len(unique) < len(tools):  # the list changed while it was paged: read it again
                    logger.info("MCP server %s listed a tool twice while paging", self.label)
                    self._stale = True
                return unique
            if cursor in seen:
                raise MCPServerError(
                    f"MCP server {self.label} returned the tools/list cursor {cursor!r} twice",
                    server=self.label,
                )
            seen.add(cursor)

    async def _list_page_leniently(
        self, conn: _Connection, cursor: str | None, into: list[Any]
    ) -> str | None:
        """The SDK refuses a whole page when one tool is malformed (most often a non-object
        `inputSchema` root); read the page raw so the other tools stay usable and the bad one is
        refused by name."""
        import mcp_types as types

        # The SDK validates every result against the protocol before any `result_type` applies, so
        # the raw page is fetched one layer down (the session's stamp, then its dispatcher).
        session = conn.client.session
        data: dict[str, Any] = {"method": "tools/list", "params": {"cursor": cursor} if cursor else {}}
        opts: dict[str, Any] = {}
        session._stamp(data, opts)
        answer = await session._dispatcher.send_raw_request("tools/list", data.get("params"), opts)
        raw = TypeAdapter(dict[str, Any]).validate_python(answer)
        readable: list[Any] = []
        for item in raw.get("tools") or []:
            name = str(item.get("name")) if isinstance(item, dict) else repr(item)
            try:
                readable.append(types.Tool.model_validate(item))
            except ValidationError as exc:
                try:
                    neutral_schema(item.get("inputSchema") if isinstance(item, dict) else None)
                    reason = f"{name}: the MCP SDK cannot read it ({exc.errors()[0]['msg']})"
                except SchemaRefused as refused:
                    reason = f"{name}: {refused}"
                self._unreadable[name] = reason
        next_cursor = str(raw["nextCursor"]) if raw.get("nextCursor") else None
        into.extend(readable)
        # let the session know the readable tools (it validates call results against their schemas)
        page = types.ListToolsResult(tools=readable, next_cursor=next_cursor)
        session._absorb_tool_listing(page, complete=cursor is None and next_cursor is None)
        return next_cursor

    def _install(self, listed: list[Any]) -> None:
        names = assign_names([t.name for t in listed], self.prefix, self.label)
        exposed_for = {original: exposed for exposed, original in names.items()}
        tools: list[MCPToolDefinition] = []
        refused, self._unreadable = self._unreadable, {}
        for raw in listed:
            try:
                tools.append(self._definition(raw, exposed_for[raw.name]))
            except SchemaRefused as exc:
                refused[raw.name] = f"{raw.name}: {exc}"
                logger.warning("MCP server %s: tool %r refused: %s", self.label, raw.name, exc)
        self._tools = tools
        self._by_name = {t.name: t for t in tools}
        self.refused = refused

    def _definition(self, raw: Any, exposed: str) -> MCPToolDefinition:
        description = raw.description or raw.title or ""
        parameters = neutral_schema(raw.input_schema)
        annotations = raw.annotations.model_dump(exclude_none=True, by_alias=True) if raw.annotations else {}
        print_ = fingerprint(raw.name, description, raw.input_schema)
        previous = self._by_name.get(exposed)
        if (
            previous is not None
            and previous._fingerprint.get("sha256") == print_["sha256"]
            and previous.annotations == annotations
        ):
            return previous  # same object: providers keep their translated tool list cached
        change = self._pins.check(raw.name, print_) if self._pins is not None else None
        definition = MCPToolDefinition(
            name=exposed,
            description=description,
            parameters=parameters,
            strict=self._strict_for(parameters),
            requires_approval=self.requires_approval or change is not None,
            validator=SchemaValidator(parameters),
            server=self.label,
            original_name=raw.name,
            input_schema=dict(raw.input_schema),
            annotations=annotations,
            annotations_trusted=self.trust_annotations,
            read_only=self.trust_annotations and annotations.get("readOnlyHint") is True,
            pin_change=change,
            _fingerprint=print_,
            _base_approval=self.requires_approval,
        )
        definition.function = self._bind(definition)
        return definition

    def _strict_for(self, parameters: dict[str, Any]) -> bool | None:
        if not self.strict:
            return None
        from ..tools.dialects import strict_compatible

        return True if strict_compatible(parameters) else None
