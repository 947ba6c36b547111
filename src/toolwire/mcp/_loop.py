"""One background event loop per toolset, so the async MCP SDK can be driven from sync code.

The SDK's client is built on anyio task groups that must be entered and left by the same task, and
its stdio transport owns a subprocess: both want one long-lived loop. Sync callers block on a
`concurrent.futures.Future`; async callers await it wrapped (`asyncio.wrap_future`), so a caller's
cancellation (a tool timeout) cancels the call on the background loop too. Nothing here ever runs
the caller's own loop, so calling the sync API from inside a running loop's thread pool cannot
deadlock; only calling it *on* the background thread itself could, and that is refused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["BackgroundLoop"]

T = TypeVar("T")


class BackgroundLoop:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the background loop and block until it ends (sync callers)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError(
                "an MCP toolset's sync API was called from its own event loop thread; use the async API"
            )
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # KeyboardInterrupt in the caller: do not leave the call running
            raise

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await `coro` running on the background loop; cancelling the caller cancels it there."""
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self) -> None:
        """Cancel what is left, stop the loop, join the thread, close the loop (no leaked thread)."""
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            try:
                self.submit(_cancel_others()).result(timeout=10)
            except (concurrent.futures.TimeoutError, RuntimeError):
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()


async def _cancel_others() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=5)
    await asyncio.get_running_loop().shutdown_asyncgens()
