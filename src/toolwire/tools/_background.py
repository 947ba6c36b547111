"""What the tool drivers leave behind when they stop waiting: timed-out tools, still running.

- `DaemonThreadPool`: the bounded thread pool sync tools run in. Its threads are daemon threads, so
  a tool abandoned at its timeout (Python has no way to stop a thread) does not hold the interpreter
  at exit. `concurrent.futures.ThreadPoolExecutor` cannot do that: since Python 3.9 its threads are
  joined by an exit hook (`threading._register_atexit`), so one `time.sleep(3600)` tool that timed
  out keeps the process alive for an hour after the program ended.
- `abandon(task)`: an asyncio task the driver cancelled and stopped waiting for (its clean-up may
  take long, or the tool may ignore cancellation). The event loop holds tasks only weakly, so an
  unreferenced pending task can be garbage-collected mid-flight ("Task was destroyed but it is
  pending!"), and an exception it ends with is logged as "Task exception was never retrieved":
  `abandon` keeps a strong reference until the task ends and then reads its outcome.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

__all__ = ["DaemonThreadPool", "abandon", "abandoned_tasks"]

_WorkItem = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(Executor):
    """A bounded pool of daemon threads, started on demand and reused while idle.

    The same contract as `ThreadPoolExecutor` for what the drivers use (`submit`, `shutdown` with
    `wait` and `cancel_futures`, also through `loop.run_in_executor`), minus the join at exit.
    """

    def __init__(self, max_workers: int, thread_name_prefix: str = "toolwire-tool") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[_WorkItem | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one release per worker waiting for work
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future: Future[Any] = Future()
            self._queue.put((future, fn, args, kwargs))
            # an idle worker takes it; otherwise start one, up to the bound (later items queue)
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._max_workers:
                thread = threading.Thread(
                    target=self._work,
                    name=f"{self._prefix}_{len(self._threads)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.put(None)  # wake the next worker too
                return
            future, fn, args, kwargs = item
            del item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # the driver decides what escapes (KeyboardInterrupt does)
                    future.set_exception(exc)
                    del exc
                else:
                    future.set_result(result)
                    del result
            del future, fn, args, kwargs  # do not keep the last call's objects alive while idle
            # after `shutdown` the work queued before it still runs; the sentinel behind it ends us
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            self._queue.put(None)
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()


_abandoned: set[asyncio.Future[Any]] = set()


def abandon(task: asyncio.Future[Any]) -> None:
    """Keep `task` alive until it ends, then read its outcome (nobody else will)."""
    if task.done():
        _consume(task)
        return
    _abandoned.add(task)
    task.add_done_callback(_forget)


def abandoned_tasks() -> frozenset[asyncio.Future[Any]]:
    """The abandoned tasks still running (for tests and for shutting down cleanly)."""
    return frozenset(_abandoned)


def _forget(task: asyncio.Future[Any]) -> None:
    _abandoned.discard(task)
    _consume(task)


def _consume(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # marks it retrieved: the driver already gave the model a timeout error
