"""Watching a 2026-07-28 connection's tool list through its `subscriptions/listen` stream.

At 2026-07-28 a server announces `notifications/tools/list_changed` only on `subscriptions/listen`
streams it has acknowledged, and never replays: a change made while no stream was acknowledged is
lost, and a client that re-listens must refetch (SEP-2575; the SDK's `Client.listen` says the same).
A stream can end while the connection lives: the server closes it gracefully (the listen request's
result, e.g. on a server-side restart of its subscription layer) or it drops (an error, a network
hiccup on the long-lived SSE answer). So `ListWatch` keeps one stream open for the whole connection:
it re-listens after an end with exponential backoff, gives up after a bounded number of short-lived
attempts, and says at every moment whether changes can reach the toolset (`watching`). While they
cannot (before the first ack, in a gap between streams, after giving up, or with a server that
never acknowledges) the toolset re-reads the list before each use instead of trusting its cache.

`lost_session_hook` notices the other way a connection's view goes stale: a 2025 HTTP session the
server no longer knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ._labels import _describe

__all__ = ["ListWatch", "lost_session_hook", "watch_tool_list"]

logger = logging.getLogger("toolwire.mcp")

ACK_WAIT = 5.0
"""Seconds a new connection waits for the server to acknowledge its listen stream before it is
used anyway (a server acknowledges first thing; one that never does must not hang `open`)."""
RETRY_FIRST = 0.5
"""Seconds before the first re-listen after a stream ended; doubled after each short-lived stream."""
RETRY_MAX = 30.0
"""The longest wait between two listen attempts."""
RETRY_LIMIT = 8
"""Consecutive short-lived streams (refused, dropped or closed within `HEALTHY` seconds) after which
the toolset stops re-listening for this connection and re-reads the list before each use."""
HEALTHY = 60.0
"""A stream that stayed open this long was not a failure: the backoff starts again from the first."""


class ListWatch:
    """One connection's listen stream, re-opened when it ends. Runs on the toolset's loop."""

    def __init__(self, client: Any, label: str, on_change: Callable[[], None]) -> None:
        self._client = client
        self._label = label
        self._on_change = on_change
        self.watching = False
        """An acknowledged stream is open: list changes reach the toolset."""
        self.attempts = 0
        """Listen requests sent on this connection."""
        self.gave_up = False
        self.task: asyncio.Task[None] | None = None
        self._settled = asyncio.Event()  # the first request was acknowledged, refused or ended

    async def start(self, stop: asyncio.Event, ack_wait: float) -> None:
        """Send the first listen request and return once the server acknowledged or refused it,
        after `ack_wait` seconds without an answer (the request stays open: a late ack still
        counts), or when `stop` is set (the connection is being dropped)."""
        self.task = asyncio.ensure_future(self._run())
        waiters = {asyncio.ensure_future(self._settled.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waiters, timeout=ack_wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if not self._settled.is_set() and not stop.is_set():
            logger.warning(
                "MCP server %s did not acknowledge subscriptions/listen within %gs; its tool list is "
                "re-read before each use until it does",
                self._label,
                ack_wait,
            )

    async def close(self) -> None:
        task, self.task = self.task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.watching = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            opened: float | None = None
            self.attempts += 1
            try:
                async with self._client.listen(tools_list_changed=True) as subscription:
                    if not getattr(subscription.honored, "tools_list_changed", False):
                        # acknowledged without tool-list changes: the server will not announce them
                        # (the spec asks clients to check the honored filter); no point re-listening
                        self.gave_up = True
                        logger.warning(
                            "MCP server %s does not announce tool list changes on subscriptions/listen; "
                            "its tool list is re-read before each use",
                            self._label,
                        )
                        return
                    opened = loop.time()
                    self.watching = True
                    self._on_change()  # no replay: whatever changed before this ack is refetched
                    self._settled.set()
                    async for _event in subscription:
                        self._on_change()
                ending = "closed by the server"
            except Exception as exc:  # refused, dropped (SubscriptionLost), or the connection failed
                ending = _describe(exc)
            finally:
                self.watching = False
                self._on_change()  # changes from now until the next ack would be missed
                self._settled.set()
            if opened is not None and loop.time() - opened >= HEALTHY:
                failures = 0
            failures += 1
            if failures > RETRY_LIMIT:
                self.gave_up = True
                logger.warning(
                    "MCP server %s: subscriptions/listen ended %d times in a row (last: %s); its tool "
                    "list is re-read before each use on this connection",
                    self._label,
                    failures,
                    ending,
                )
                return
            delay = min(RETRY_MAX, RETRY_FIRST * 2 ** (failures - 1))
            logger.debug(
                "MCP server %s: subscriptions/listen %s; listening again in %gs", self._label, ending, delay
            )
            await asyncio.sleep(delay)


async def watch_tool_list(
    client: Any, label: str, on_change: Callable[[], None], stop: asyncio.Event, ack_wait: float
) -> ListWatch | None:
    """A started `ListWatch` for a 2026-07-28 connection whose server announces list changes; None
    when changes come as plain notifications (2025 handshake) or the server announces none."""
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    capability = getattr(client.server_capabilities, "tools", None)
    if not getattr(capability, "list_changed", False):
        return None
    if client.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return None
    watch = ListWatch(client, label, on_change)
    try:
        await watch.start(stop, ack_wait)
    except BaseException:
        with contextlib.suppress(Exception):
            await watch.close()
        raise
    return watch


def lost_session_hook(mark: Callable[[], object]) -> Callable[[Any], Awaitable[None]]:
    """An httpx response hook calling `mark` when the server no longer knows the session.

    A 404 to a POST carrying `Mcp-Session-Id` means the session is gone and the client MUST start a
    new one (MCP 2025-06-18 and 2025-11-25, Streamable HTTP, session management). The SDK reports it
    as the server's JSON-RPC error ("Session not found": -32600 from the Python SDK's server, -32001
    from the TypeScript one), which reads like a refusal, so the status is taken from the response."""

    async def on_response(response: Any) -> None:
        request = response.request
        if response.status_code == 404 and request.method == "POST" and "mcp-session-id" in request.headers:
            mark()

    return on_response
