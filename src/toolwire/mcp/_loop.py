"""The event loop a toolset's connection lives on: its own background loop, or its caller's.

The SDK's client is built on anyio task groups that must be entered and left by the same task, and
its stdio transport owns a subprocess: both want one long-lived loop.

- `BackgroundLoop` (a toolset opened with `with`): a loop on a thread of its own. Sync callers block
  on a `concurrent.futures.Future`; async callers await a future of their own loop that the
  background loop resolves (`arun`), and a caller's cancellation (a tool timeout) cancels the call on
  the background loop too. Nothing here ever runs the caller's own loop, so calling the sync API from
  inside a running loop's thread pool cannot deadlock; only calling it *on* the background thread
  itself could, and that is refused.
- `CallerLoop` (a toolset opened with `async with`): the caller's running loop. Async calls from it
  await the SDK directly (no hop between threads); sync callers on other threads and async callers on
  other loops reach it as they reach a background loop; a sync call on its own thread is refused.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["BackgroundLoop", "CallerLoop", "ToolsetLoop"]

logger = logging.getLogger("toolwire.mcp")

T = TypeVar("T")


class SyncCallOnLoopThread(RuntimeError):
    """A sync call that could only deadlock: the toolset lives on the event loop of the thread
    that called it. The caller's mistake, not the tool's failure: the sync executor raises it to
    the programmer instead of handing it to the model as the call's error result."""

    toolwire_caller_error = True


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
        return await _hop(self.loop, coro)

    def on_own_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def spawn(self, coro: Coroutine[Any, Any, Any], key: object = None) -> None:
        """Start `coro` on the loop without waiting for it (from the loop's own thread); with a
        `key`, not while an earlier one with that key still runs (a re-read of a stale list)."""
        _spawn(self.loop, coro, key)

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


class CallerLoop:
    """The loop of an async caller that opened the toolset (`async with`), used as the toolset's own.

    The SDK session then lives on the caller's loop: an async call from that loop awaits the SDK
    directly, without the two cross-thread wake-ups of `BackgroundLoop` (over HTTP, 4-11 % of a
    call on a loaded 2-core machine, benchmarks/bench_mcp.py). Sync callers on other threads (a
    thread pool's) still reach it with `run_coroutine_threadsafe`, and async callers on other loops
    through the same hop as `BackgroundLoop.arun`. A sync call on this loop's own thread could only
    wait for itself, so it is refused with a clear error; no thread is started or stopped here.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._thread_id = threading.get_ident()

    @property
    def alive(self) -> bool:
        return self.loop.is_running() and not self.loop.is_closed()

    def on_own_thread(self) -> bool:
        """On the loop's thread while it runs (where waiting for the loop could only deadlock)."""
        return self.alive and threading.get_ident() == self._thread_id

    def idle_here(self) -> bool:
        """The loop is paused (not running, not closed) on the thread that opened the toolset and
        no other loop runs on it: a sync call can run the loop here until it is done, as
        `loop.run_until_complete` in steps does, or a sync test using a toolset that a wider-scoped
        pytest-asyncio fixture opened on its own loop (idle while the test runs)."""
        if self.loop.is_running() or self.loop.is_closed() or threading.get_ident() != self._thread_id:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return True
        return False

    def _check(self, coro: Coroutine[Any, Any, Any]) -> None:
        if not self.alive:
            coro.close()
            raise RuntimeError(_NOT_RUNNING)
        if self.on_own_thread():
            coro.close()
            raise SyncCallOnLoopThread(
                "this MCP toolset was opened with `async with` on this thread's event loop, so its "
                "sync API (call, refresh, execute_tool_calls, Session.generate) cannot wait for it "
                "here: use the async API (acall, aexecute_tool_calls, Session.agenerate), or open the "
                "toolset with `with` to run it on a background loop of its own"
            )

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if self.idle_here():
            done: concurrent.futures.Future[T] = concurrent.futures.Future()
            try:
                done.set_result(self.loop.run_until_complete(coro))
            except Exception as exc:  # the call's error, for the executor to read as any other
                done.set_exception(exc)
            return done
        self._check(coro)
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the caller's loop from another thread and block until it ends (or, the
        loop being idle on this thread, run the loop here until it ends)."""
        if self.idle_here():
            return self.loop.run_until_complete(coro)
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        if asyncio.get_running_loop() is self.loop:
            return await coro  # the common case: no hop at all
        if not self.alive:
            coro.close()
            raise RuntimeError(_NOT_RUNNING)
        return await _hop(self.loop, coro)

    def spawn(self, coro: Coroutine[Any, Any, Any], key: object = None) -> None:
        """Start `coro` on the loop without waiting for it (from the loop's own thread); with a
        `key`, not while an earlier one with that key still runs (a re-read of a stale list)."""
        _spawn(self.loop, coro, key)

    def stop(self) -> None:
        """Nothing to stop: the loop is the caller's (the toolset ends its own tasks on close)."""


ToolsetLoop = BackgroundLoop | CallerLoop

# Not running: closed, or paused while another loop runs on its thread, as a pytest-asyncio
# fixture's loop is during a test whose loop scope is narrower (a module-scoped fixture, a
# function-scoped test): its connection's tasks cannot run until that loop runs again.
_NOT_RUNNING = (
    "the event loop this MCP toolset was opened on (with `async with`) is no longer running (it "
    "closed, or it is paused while another loop runs, as a wider-scoped pytest-asyncio fixture's "
    "loop is during a test): open the toolset again on the loop that uses it, or with `with` (in "
    "async code too) for a background loop of its own"
)

# referenced until done (the loop keeps only weak references to tasks), by key
_spawned: dict[asyncio.Task[Any], object] = {}


def _spawn(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], key: object) -> None:
    if key is not None and key in _spawned.values():
        coro.close()  # the same work is already under way
        return
    task = loop.create_task(coro)
    _spawned[task] = key
    task.add_done_callback(_spawn_done)


def _spawn_done(task: asyncio.Task[Any]) -> None:
    _spawned.pop(task, None)
    if not task.cancelled() and task.exception() is not None:
        logger.debug("MCP background work failed: %r", task.exception())


async def _hop(target: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` running on `target` (another loop); cancelling the caller cancels it there.

    One wake-up each way (`call_soon_threadsafe`), no `concurrent.futures.Future` in between:
    `asyncio.wrap_future(run_coroutine_threadsafe(...))` takes its lock and chains three futures per
    call, which is most of the hop's cost for an async caller."""
    caller = asyncio.get_running_loop()
    waiter: asyncio.Future[T] = caller.create_future()
    hop = _Hop(coro, caller, waiter)
    try:
        target.call_soon_threadsafe(hop.start)
    except RuntimeError:  # the target loop is closed: the coroutine will never run
        coro.close()
        raise
    try:
        return await waiter
    except asyncio.CancelledError:
        if not target.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                target.call_soon_threadsafe(hop.cancel)
        raise


async def _cancel_others() -> None:
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=5)
    await asyncio.get_running_loop().shutdown_asyncgens()


class _Hop:
    """One `arun` call: started on the background loop, its outcome handed back to the caller's."""

    __slots__ = ("caller", "cancelled", "coro", "task", "waiter")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], caller: asyncio.AbstractEventLoop, waiter: asyncio.Future[Any]
    ) -> None:
        self.coro = coro
        self.caller = caller
        self.waiter = waiter
        self.task: asyncio.Task[Any] | None = None
        self.cancelled = False

    def start(self) -> None:  # on the background loop
        if self.cancelled:
            self.coro.close()
            return
        self.task = asyncio.ensure_future(self.coro)
        self.task.add_done_callback(self._done)

    def cancel(self) -> None:  # on the background loop, after the caller was cancelled
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()

    def _done(self, task: asyncio.Task[Any]) -> None:  # on the background loop
        # read the outcome here, so that an error is retrieved even when nobody awaits it any more
        exc = None if task.cancelled() else task.exception()
        if self.caller.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the caller's loop closed meanwhile
            self.caller.call_soon_threadsafe(self._deliver, task, exc)

    def _deliver(self, task: asyncio.Task[Any], exc: BaseException | None) -> None:  # on the caller's loop
        if self.waiter.done():
            return  # the caller was cancelled meanwhile
        if task.cancelled():
            self.waiter.cancel()
        elif exc is not None:
            self.waiter.set_exception(exc)
        else:
            self.waiter.set_result(task.result())
