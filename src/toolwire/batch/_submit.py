"""`batch.submit` and `Job`: the providers' Batch APIs, with tool loops run as rounds.

A job is a list of conversations. Each round sends every unfinished conversation's next request
as one provider batch; when that batch is done, answers are matched by `custom_id` (the input's
index), tools asked for are run locally, and the conversations that still need the model go into
the next round, until every one is answered or reaches `max_turns`. Requests that appear in
neither result file (expired, cancelled, lost) come back as `BatchItemError` at their index.

`job.save(path)` (automatic with `submit(..., state=path)`) writes everything needed to carry on
in another process: `Job.load(llm, path, tools=...)`. A job without tools can also be picked up by
its batch id alone: `Job.load(llm, "batch_abc123")`.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import BatchItemError, MaxTurnsExceeded, ProviderError, ProviderTimeoutError, ToolwireError
from ..tools.execution import coerce_tools, execute_tool_calls
from ..types import GenerateResponse, Message, coerce_message
from . import _records
from ._run import Result, split_input
from ._wire import DONE_STATES, BatchWire, prepare, wire_for

FIRST_POLL = 5.0  # seconds before the first poll; the wait doubles up to poll_interval


class _Conversation:
    """One input: its history, its own keyword arguments, and its outcome once it has one."""

    __slots__ = ("kwargs", "messages", "outcome", "request", "turns")

    def __init__(self, messages: list[Message], kwargs: dict[str, Any]) -> None:
        self.messages = messages
        self.kwargs = kwargs
        self.outcome: Result | None = None
        self.turns = 0
        self.request: Any = None  # the ChatRequest of the round in flight (not saved)


def submit(
    llm: Any,
    inputs: Iterable[Any],
    *,
    tools: Any = None,
    max_turns: int = 10,
    system_prompt: str | None = None,
    state: str | Path | None = None,
    metadata: Mapping[str, str] | None = None,
    **generate_kwargs: Any,
) -> Job:
    """Send `inputs` (prompts, message lists or dicts of `generate` keyword arguments) to the
    provider's Batch API as one batch and return the `Job`. With `tools`, each conversation's tool
    loop runs as rounds (one batch per round, tools run locally in between). `state`: a JSON file
    the job is saved to after every step, for `Job.load` in another process."""
    job = Job(wire_for(llm), tools=tools, max_turns=max_turns, state=state, metadata=metadata)
    for item in inputs:
        prompt, overrides, item_tools = split_input(item)
        if item_tools is not None:
            raise ToolwireError("batch.submit takes tools for the whole batch (tools=...), not per input")
        messages = [Message(role="system", content=system_prompt)] if system_prompt else []
        messages.extend(coerce_message(m) for m in _as_list(prompt))
        job.conversations.append(_Conversation(messages, {**generate_kwargs, **overrides}))
    if not job.conversations:
        raise ToolwireError("batch.submit needs at least one input")
    job._start_round()
    return job


async def asubmit(
    llm: Any,
    inputs: Iterable[Any],
    *,
    tools: Any = None,
    max_turns: int = 10,
    system_prompt: str | None = None,
    state: str | Path | None = None,
    metadata: Mapping[str, str] | None = None,
    **generate_kwargs: Any,
) -> Job:
    """The async twin of `submit` (same arguments). The upload and the batch creation run in a
    worker thread (`asyncio.to_thread`): they are a few calls per job, not worth a second wire."""
    return await asyncio.to_thread(
        submit,
        llm,
        inputs,
        tools=tools,
        max_turns=max_turns,
        system_prompt=system_prompt,
        state=state,
        metadata=metadata,
        **generate_kwargs,
    )


def _as_list(prompt: Any) -> list[Any]:
    return [prompt] if isinstance(prompt, (str, Message, Mapping)) else list(prompt)


class Job:
    """A provider batch (or a series of them, one per tool round) and its results."""

    def __init__(
        self,
        wire: BatchWire,
        *,
        tools: Any = None,
        max_turns: int = 10,
        state: str | Path | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.wire = wire
        self.llm = wire.llm
        self.registry = coerce_tools(tools) if tools else {}
        self.tools = list(self.registry.values())
        self.max_turns = max_turns
        self.state_path = Path(state) if state is not None else None
        self.metadata = dict(metadata or {})
        self.conversations: list[_Conversation] = []
        self.round = 0
        self.id: str | None = None  # the batch id of the current round
        self.batch_ids: list[str] = []
        self.batch: dict[str, Any] = {}
        self.status = "validating"
        self.retry_after: float | None = None
        self._uncertain_create: ToolwireError | None = None

    def __repr__(self) -> str:
        return (
            f"Job(id={self.id!r}, provider={self.wire.kind!r}, status={self.status!r}, "
            f"round={self.round}, items={len(self.conversations)})"
        )

    @property
    def done(self) -> bool:
        return self.status in DONE_STATES and all(c.outcome is not None for c in self.conversations)

    # -- rounds ----------------------------------------------------------------------------------
    def _pending(self) -> list[int]:
        return [i for i, c in enumerate(self.conversations) if c.outcome is None]

    def _start_round(self) -> None:
        lines = []
        for index in self._pending():
            conversation = self.conversations[index]
            try:
                conversation.request = prepare(
                    self.llm, conversation.messages, self.tools, conversation.kwargs
                )
                lines.append(self.wire.line(str(index), conversation.request))
            except (ToolwireError, ValueError, TypeError) as exc:
                # this input cannot be sent at all (bad tool_choice, unsupported capability):
                # that is its result, at its index; the others go ahead
                conversation.outcome = _records.item_error(index, exc)
        if not lines:
            self.status = "completed"
            self._save()
            return
        metadata = {**self.metadata, "toolwire_round": str(self.round)}
        try:
            self.batch = self.wire.create(lines, metadata)
        except ProviderError as exc:
            if exc.status_code is None or exc.status_code >= 500:
                # the batch may exist: never create it again on our own (it would run twice)
                self._uncertain_create = exc
                self._save()
                exc.job = self  # type: ignore[attr-defined]
            raise
        self._uncertain_create = None
        self.id = str(self.batch["id"])
        self.batch_ids.append(self.id)
        self.status = self.wire.state(self.batch)
        self._save()

    def _prepare(self, conversation: _Conversation) -> Any:
        return prepare(self.llm, conversation.messages, self.tools, conversation.kwargs)

    def resubmit(self) -> Job:
        """Create the current round's batch again after a creation that failed with a 5xx or a
        lost connection. Check first (provider dashboard or batch list) that it does not exist."""
        if self._uncertain_create is None:
            raise ToolwireError("nothing to resubmit: the current round's batch was created")
        self._start_round()
        return self

    def refresh(self) -> Job:
        """Poll the provider once; when the round's batch is done, collect it (running tools and
        starting the next round if conversations still need the model)."""
        if self._uncertain_create is not None:
            raise ToolwireError(
                f"creating the round {self.round} batch failed ({self._uncertain_create}); it may exist "
                "anyway. Check the provider's batch list, then call job.resubmit() to create it again"
            )
        if self.done or self.id is None:
            return self
        self.batch, self.retry_after = self.wire.get(self.id)
        self.status = self.wire.state(self.batch)
        if self.status in DONE_STATES:
            self._collect()
        self._save()
        return self

    def _collect(self) -> None:
        seen: set[int] = set()
        for custom_id, payload in self.wire.outcomes(self.batch):
            index = _index(custom_id, len(self.conversations))
            if index is None or index in seen or self.conversations[index].outcome is not None:
                continue
            seen.add(index)
            self._settle(index, payload)
        state = self.status
        reason = {"expired": "expired", "cancelled": "canceled"}.get(state, "missing")
        for index in self._pending():
            if index in seen:
                continue
            detail = _batch_errors(self.batch)
            self.conversations[index].outcome = BatchItemError(
                f"request {index} is in neither result file of batch {self.id} (status {state})"
                + (f": {detail}" if detail else ""),
                index=index,
                reason=reason,
                custom_id=str(index),
            )
        if self._pending():
            self.round += 1
            self._start_round()

    def _settle(self, index: int, payload: Any) -> None:
        conversation = self.conversations[index]
        if isinstance(payload, ToolwireError):
            if isinstance(payload, BatchItemError):
                payload.index = index
            conversation.outcome = payload
            return
        request = conversation.request or prepare(self.llm, conversation.messages, self.tools, {})
        try:
            response: GenerateResponse = self.wire.parse(payload, request)
        except ToolwireError as exc:
            conversation.outcome = exc
            return
        conversation.turns += 1
        if not (self.registry and response.has_tool_calls()):
            conversation.messages.append(response.to_message())
            conversation.outcome = response
            return
        assert response.tool_calls is not None
        results = execute_tool_calls(response.tool_calls.tool_calls, self.registry)
        conversation.messages.append(response.to_message())
        conversation.messages.append(Message(role="tool", tool_results=results))
        if conversation.turns >= self.max_turns:
            conversation.outcome = MaxTurnsExceeded(
                f"the model still called tools after {conversation.turns} batch rounds "
                f"(max_turns={self.max_turns})",
                messages=list(conversation.messages),
                max_turns=self.max_turns,
            )

    def wait(self, poll_interval: float = 60.0, timeout: float | None = None) -> Job:
        """Poll until every round is done. The first poll comes after a few seconds and the wait
        doubles up to `poll_interval` (or what the provider's `retry-after` asks for, if longer).
        `timeout`: give up after that many seconds with `ProviderTimeoutError` (the job goes on on
        the provider's side; call `wait` again later)."""
        transport = self.llm.transport
        started = transport.clock()
        delay = min(FIRST_POLL, poll_interval)
        while not self.refresh().done:
            pause = max(delay, self.retry_after or 0.0)
            if timeout is not None and transport.clock() - started + pause > timeout:
                raise ProviderTimeoutError(
                    f"batch {self.id} is still {self.status} after {timeout:g}s; job.wait() again "
                    "to keep waiting",
                    provider=self.wire.kind,
                )
            transport.sleep(pause)
            delay = min(delay * 2, poll_interval)
        return self

    async def arefresh(self) -> Job:
        """The async twin of `refresh` (the poll, the downloads and the tools run in a worker
        thread, so the event loop is never blocked by them)."""
        return await asyncio.to_thread(self.refresh)

    async def await_(self, poll_interval: float = 60.0, timeout: float | None = None) -> Job:
        """The async twin of `wait` (`wait` with the `a` prefix of the other twins is the keyword
        `await`, hence the trailing underscore): the same backoff, sleeping on the event loop."""
        transport = self.llm.transport
        started = transport.clock()
        delay = min(FIRST_POLL, poll_interval)
        while not (await self.arefresh()).done:
            pause = max(delay, self.retry_after or 0.0)
            if timeout is not None and transport.clock() - started + pause > timeout:
                raise ProviderTimeoutError(
                    f"batch {self.id} is still {self.status} after {timeout:g}s; await job.await_() "
                    "again to keep waiting",
                    provider=self.wire.kind,
                )
            await transport.asleep(pause)
            delay = min(delay * 2, poll_interval)
        return self

    async def acancel(self) -> Job:
        """The async twin of `cancel`."""
        return await asyncio.to_thread(self.cancel)

    def results(self) -> list[Result]:
        """One result per input, in input order: the final `GenerateResponse` or the error."""
        if not self.done:
            raise ToolwireError(f"job {self.id} is {self.status}; call job.wait() (or refresh()) first")
        return [c.outcome for c in self.conversations if c.outcome is not None]

    def cancel(self) -> Job:
        """Ask the provider to cancel the current round; finished requests still come back."""
        if self.id is not None and not self.done:
            self.batch = self.wire.cancel(self.id)
            self.status = self.wire.state(self.batch)
            self._save()
        return self

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "v": _records.VERSION,
            "provider": self.wire.kind,
            "id": self.id,
            "batch_ids": self.batch_ids,
            "round": self.round,
            "status": self.status,
            "max_turns": self.max_turns,
            "metadata": self.metadata,
            "tools": sorted(self.registry),
            "uncertain_create": str(self._uncertain_create) if self._uncertain_create else None,
            "conversations": [
                {
                    "messages": _records.messages_to_dicts(c.messages),
                    "kwargs": _saved_kwargs(c.kwargs),
                    "turns": c.turns,
                    "outcome": None if c.outcome is None else _records.record(0, "", c.outcome, None),
                }
                for c in self.conversations
            ],
        }

    def save(self, path: str | Path) -> None:
        """Write the job's state (histories, outcomes, batch ids) to `path`, atomically."""
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, target)

    def _save(self) -> None:
        if self.state_path is not None:
            self.save(self.state_path)

    @classmethod
    def load(cls, llm: Any, ref: str | Path, *, tools: Any = None, state: str | Path | None = None) -> Job:
        """Pick a job up again: `ref` is a state file written by `save` (pass the same `tools`),
        or a batch id of a job without tools (one result per request the batch counts)."""
        path = Path(ref)
        if path.suffix == ".json" or path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            job = cls(wire_for(llm), tools=tools, max_turns=int(data["max_turns"]), state=state or path)
            missing = set(data.get("tools") or ()) - set(job.registry)
            if missing:
                raise ToolwireError(
                    f"Job.load needs the job's tools again: tools=[...] with {sorted(missing)}"
                )
            job._restore(data)
            return job
        job = cls(wire_for(llm), state=state)
        job.id = str(ref)
        job.batch_ids = [job.id]
        job.batch, job.retry_after = job.wire.get(job.id)
        job.status = job.wire.state(job.batch)
        total = job.wire.total(job.batch) or 0
        job.conversations = [_Conversation([], {}) for _ in range(total)]
        if job.status in DONE_STATES:
            job._collect()
        return job

    def _restore(self, data: Mapping[str, Any]) -> None:
        self.id = data.get("id")
        self.batch_ids = list(data.get("batch_ids") or [])
        self.round = int(data.get("round", 0))
        self.status = str(data.get("status", "validating"))
        self.metadata = dict(data.get("metadata") or {})
        if data.get("uncertain_create"):
            self._uncertain_create = ToolwireError(str(data["uncertain_create"]))
        for saved in data["conversations"]:
            conversation = _Conversation(
                [coerce_message(m) for m in saved["messages"]], dict(saved["kwargs"])
            )
            conversation.turns = int(saved.get("turns", 0))
            if saved.get("outcome") is not None:
                conversation.outcome = _records.restore(saved["outcome"])
            else:
                conversation.request = prepare(
                    self.llm, conversation.messages, self.tools, conversation.kwargs
                )
            self.conversations.append(conversation)


# never written to a state file: headers may carry credentials (a gateway key, a bearer token)
_UNSAVED = frozenset({"extra_headers"})


def _saved_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments a later process needs, minus what is not JSON or may be secret
    (a Pydantic `response_format`, `extra_headers`): a loaded job sends its later rounds without them."""
    return {k: v for k, v in kwargs.items() if k not in _UNSAVED and _records._jsonable({k: v}) is not None}


def _index(custom_id: str, size: int) -> int | None:
    try:
        index = int(custom_id)
    except ValueError:
        return None
    return index if 0 <= index < size else None


def _batch_errors(batch: Mapping[str, Any]) -> str:
    errors = batch.get("errors")
    data = errors.get("data") if isinstance(errors, Mapping) else None
    if not isinstance(data, list):
        return ""
    return "; ".join(str(e.get("message") or e.get("code")) for e in data[:3] if isinstance(e, Mapping))
