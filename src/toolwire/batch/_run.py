"""`batch.run` / `batch.arun`: many `Session` runs at once, in input order, resumable.

One asyncio engine for both: `run` drives `arun` on a fresh event loop (in a helper thread when the
caller is already inside one, as in a notebook). At most `concurrency` sessions are in flight and at
most that many inputs are read ahead, so an iterator of any length runs in bounded memory (the
result list itself grows by one entry per input). The provider's pacer (see `toolwire._pacing`)
spaces the requests of every session; `concurrency` only caps how many conversations are open.

Every finished item is appended to the checkpoint at once (one JSON line, flushed), so Ctrl-C or a
crash loses only the items in flight; a rerun with the same checkpoint restores the finished ones
and sends only the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterable, Iterable, Mapping, Sized
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigurationError, ToolwireError
from ..session import Session
from ..types import GenerateResponse
from . import _records
from ._progress import Progress, ProgressCallback, Reporter

logger = logging.getLogger("toolwire.batch")

Result = GenerateResponse | ToolwireError
DEFAULT_CONCURRENCY = 16
BATCH_MAX_RETRIES = 6  # per call inside batch.run, unless max_retries= is given
WARM_UP = 5.0  # longest wait for the first answer before the other sessions start


def run(
    llm: Any,
    inputs: Iterable[Any],
    *,
    tools: Any = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    max_turns: int = 10,
    on_progress: ProgressCallback | None = None,
    rerun_failed: bool = False,
    **session_kwargs: Any,
) -> list[Result]:
    """Run one `Session` per input; return, in input order, each final `GenerateResponse` or the
    `ToolwireError` that ended it. See `arun` for the arguments."""
    coro = arun(
        llm,
        inputs,
        tools=tools,
        concurrency=concurrency,
        progress=progress,
        checkpoint=checkpoint,
        max_turns=max_turns,
        on_progress=on_progress,
        rerun_failed=rerun_failed,
        **session_kwargs,
    )
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # called from inside an event loop (a notebook): run on a loop of our own in a helper thread
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    thread = threading.Thread(target=target, name="toolwire-batch")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


async def arun(
    llm: Any,
    inputs: Iterable[Any] | AsyncIterable[Any],
    *,
    tools: Any = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: bool = True,
    checkpoint: str | Path | None = None,
    max_turns: int = 10,
    on_progress: ProgressCallback | None = None,
    rerun_failed: bool = False,
    **session_kwargs: Any,
) -> list[Result]:
    """The async twin of `run`.

    `inputs`: prompts (`str`), message lists, or dicts of `generate` keyword arguments with the
    conversation under `"messages"` (or `"prompt"`), optionally their own `"tools"`; any iterable
    or async iterable. `concurrency`: sessions open at once. `checkpoint`: a JSONL file; finished
    items are appended as they finish and restored on a rerun (failed ones too, unless
    `rerun_failed=True`). `progress`: a rich bar on a terminal; `on_progress(Progress)` is called
    after every finished item either way. Other keyword arguments go to every `Session`
    (`system_prompt`, `temperature`, `tool_timeout`, `response_format`, ...).
    """
    if concurrency < 1:
        raise ConfigurationError(f"concurrency must be at least 1, got {concurrency}")
    engine = _Engine(llm, tools, max_turns, session_kwargs, rerun_failed)
    total = len(inputs) if isinstance(inputs, Sized) else None
    engine.progress = Progress(total=total)
    reporter = Reporter(engine.progress, show=progress, callback=on_progress)
    restored = _load(Path(checkpoint)) if checkpoint is not None else {}
    writer = _open(Path(checkpoint)) if checkpoint is not None else None
    engine.writer = writer
    running: set[asyncio.Task[None]] = set()
    try:
        async for index, item in _enumerate(inputs):
            engine.results.append(None)
            if engine.take_restored(index, item, restored.pop(index, None)):
                reporter.update()
                continue
            while len(running) >= concurrency:
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                running -= finished
                _reraise(finished)
            task = asyncio.ensure_future(engine.one(index, item, reporter))
            running.add(task)
            if len(running) == 1 and not engine.warmed:
                await engine.warm_up(task)
        while running:
            finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            _reraise(finished)
    except BaseException:
        # Ctrl-C, a cancelled caller, a bug: stop what is in flight; what finished is on disk
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        raise
    finally:
        reporter.close()
        if writer is not None:
            writer.close()
    if restored:
        logger.warning(
            "the checkpoint holds %d item(s) past the end of the inputs; they were ignored", len(restored)
        )
    return engine.results  # type: ignore[return-value]


def _reraise(finished: set[asyncio.Task[None]]) -> None:
    """An item's own failure is its result; anything escaping `one` is a bug to surface."""
    for task in finished:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _enumerate(inputs: Iterable[Any] | AsyncIterable[Any]) -> Any:
    index = 0
    if isinstance(inputs, AsyncIterable):
        async for item in inputs:
            yield index, item
            index += 1
    else:
        for item in inputs:
            yield index, item
            index += 1


class _Engine:
    """The per-run state shared by the item tasks (all on one event loop: no locks needed)."""

    def __init__(
        self, llm: Any, tools: Any, max_turns: int, session_kwargs: dict[str, Any], rerun_failed: bool
    ) -> None:
        self.llm = llm
        self.tools = tools
        self.max_turns = max_turns
        self.session_kwargs = session_kwargs
        self.rerun_failed = rerun_failed
        self.results: list[Result | None] = []
        self.writer: IO[str] | None = None
        self.progress = Progress(total=None)
        self.warmed = False

    async def warm_up(self, first: asyncio.Task[None]) -> None:
        """Hold the other sessions until the provider's first answer (its rate-limit headers)
        has been seen, or WARM_UP seconds: starting `concurrency` sessions blind would send a
        burst the limit may refuse wholesale, and every refused request is a 429 to wait out."""
        self.warmed = True
        pacer = getattr(getattr(self.llm, "transport", None), "pacer", None)
        if pacer is None or not pacer.adaptive or pacer.requests_per_minute or pacer.responses:
            return
        loop = asyncio.get_running_loop()
        until = loop.time() + WARM_UP
        # the pacer counts answers from any thread, so it is polled (every 5 ms), not awaited
        while not pacer.responses and loop.time() < until:
            done, _ = await asyncio.wait({first}, timeout=0.005)
            if done:
                break

    def _response_model(self, overrides: Mapping[str, Any]) -> type[Any] | None:
        model = overrides.get("response_format", self.session_kwargs.get("response_format"))
        return model if isinstance(model, type) and hasattr(model, "model_validate_json") else None

    def take_restored(self, index: int, item: Any, line: Mapping[str, Any] | None) -> bool:
        if line is None:
            return False
        if line.get("key") != _records.fingerprint(item):
            raise ConfigurationError(
                f"the checkpoint's item {index} was made from a different input; use a new checkpoint "
                "file for new inputs (or delete this one to start over)"
            )
        if not line.get("ok") and self.rerun_failed:
            return False
        _, overrides, _ = split_input(item)
        self.results[index] = _records.restore(line, self._response_model(overrides))
        self._count(line.get("ok", False), line.get("usage"), restored=True)
        return True

    def _count(self, ok: bool, usage: Any, *, restored: bool = False) -> None:
        p = self.progress
        if ok:
            p.done += 1
        else:
            p.failed += 1
        if restored:
            p.restored += 1
        if isinstance(usage, Mapping) and isinstance(usage.get("total_tokens"), int):
            p.tokens += usage["total_tokens"]

    async def one(self, index: int, item: Any, reporter: Reporter) -> None:
        self.progress.in_flight += 1
        usage: dict[str, int] = {}
        outcome: Result
        try:
            prompt, overrides, tools = split_input(item)
            kwargs = {**self.session_kwargs, **overrides}
            kwargs.setdefault("max_turns", self.max_turns)
            # a run of thousands meets the occasional third 429 in a row for one call: give each
            # call a deeper retry budget (the pacer spaces the retries) unless the caller chose one
            if "max_retries" not in kwargs and getattr(self.llm, "transport", None) is not None:
                kwargs["max_retries"] = max(BATCH_MAX_RETRIES, self.llm.transport.retry_policy.max_retries)
            session = Session(self.llm, tools=self.tools if tools is None else tools, **kwargs)
            try:
                outcome = await session.agenerate(prompt)
            finally:
                usage = session.usage
        except asyncio.CancelledError:
            self.progress.in_flight -= 1
            raise
        except Exception as exc:  # one input's failure is its result, never the run's
            outcome = _records.item_error(index, exc)
        self.progress.in_flight -= 1
        self.results[index] = outcome
        if self.writer is not None:
            line = _records.record(index, _records.fingerprint(item), outcome, usage)
            self.writer.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            self.writer.flush()
        self._count(isinstance(outcome, GenerateResponse), usage)
        reporter.update()


def split_input(item: Any) -> tuple[Any, dict[str, Any], Any]:
    """(the prompt, per-input Session/generate keyword arguments, per-input tools or None)."""
    if isinstance(item, Mapping) and "role" not in item:
        kwargs = dict(item)
        for key in ("messages", "prompt", "input"):
            if key in kwargs:
                prompt = kwargs.pop(key)
                break
        else:
            raise ConfigurationError(
                f"a dict input needs its conversation under 'messages' (or 'prompt'); got keys {sorted(item)}"
            )
        return prompt, kwargs, kwargs.pop("tools", None)
    return item, {}, None


def _load(path: Path) -> dict[int, dict[str, Any]]:
    """The checkpoint's records by index (the last line for an index wins: a rerun of a failure)."""
    records: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return records
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
                records[int(line["index"])] = line
            except (ValueError, KeyError, TypeError):
                # a line cut short by a crash mid-write: that item simply runs again
                logger.warning("%s line %d is not a complete record; its item will run again", path, number)
    return records


def _open(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a", encoding="utf-8")
    if handle.tell() > 0:
        # a crash may have left a partial last line: start ours on a fresh one
        with path.open("rb") as check:
            check.seek(-1, 2)
            if check.read(1) != b"\n":
                handle.write("\n")
    return handle
