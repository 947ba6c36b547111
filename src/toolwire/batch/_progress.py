"""Progress of a batch: counters, the callback, and a rich bar on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Progress:
    """A snapshot passed to `on_progress` after every finished item (and once at the end)."""

    total: int | None  # None for an iterator of unknown length
    done: int = 0  # finished with an answer (including those restored from the checkpoint)
    failed: int = 0  # finished with an error
    in_flight: int = 0
    restored: int = 0  # taken from the checkpoint, not sent again
    tokens: int = 0  # total_tokens summed over every turn of this run's sessions
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Items finished per second by this run (restored items excluded)."""
        elapsed = self.elapsed
        return (self.finished - self.restored) / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None while unknown)."""
        if self.total is None or self.rate <= 0:
            return None
        return max(0.0, (self.total - self.finished) / self.rate)


ProgressCallback = Callable[[Progress], None]


class Reporter:
    """Feeds the callback and, when asked for and possible, a rich progress bar on stderr."""

    def __init__(self, progress: Progress, *, show: bool, callback: ProgressCallback | None) -> None:
        self.progress = progress
        self.callback = callback
        self._bar: Any = None
        self._task: Any = None
        if show and sys.stderr.isatty():
            self._start_bar()

    def _start_bar(self) -> None:
        try:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )
        except ImportError:  # rich is optional: the callback still reports
            return
        self._bar = RichProgress(
            TextColumn("batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._task = self._bar.add_task("batch", total=self.progress.total, detail="")
        self._bar.start()

    def update(self) -> None:
        p = self.progress
        if self._bar is not None:
            detail = (
                f"ok {p.done} · failed {p.failed} · in flight {p.in_flight} · "
                f"{p.rate:.1f}/s · {p.tokens:,} tokens"
            )
            self._bar.update(self._task, completed=p.finished, total=p.total, detail=detail)
        if self.callback is not None:
            self.callback(p)

    def close(self) -> None:
        if self._bar is not None:
            self.update()
            self._bar.stop()
            self._bar = None
