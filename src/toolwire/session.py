"""`Session`: the automatic tool loop (model → tools → model) with sync, async and streamed drivers.

    session = Session(llm, tools=[get_weather], system_prompt="Be brief.")
    answer = session.generate("Weather in Paris and Rome?")   # or: await session.agenerate(...)
    session.messages   # system, user, assistant(tool_calls), tool(results), assistant(answer)
    session.usage      # tokens summed over every turn

All four drivers share `_Run`, which holds the loop's state and rules (when to commit to the history,
the per-tool retry budget, `max_turns`); the drivers only do the I/O (provider call, tool batch).

History rules: the history only ever holds complete steps. The prompt is committed together with the
first model answer; each assistant turn with tool calls is committed together with its tool results.
A provider call that fails therefore leaves `session.messages` exactly as it was before that call.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from . import _instrument
from .errors import MaxTurnsExceeded, ToolExecutionError
from .events import (
    SessionEvent,
    SessionFinished,
    TextDelta,
    ToolCallStarted,
    ToolResultEvent,
    TurnFinished,
)
from .tools.definition import ToolDefinition
from .tools.early import AsyncEarlyStarts, EarlyStarts
from .tools.execution import (
    VALIDATION_KINDS,
    ApproveHook,
    ExecutionOptions,
    Plan,
    aexecute_plan,
    coerce_tools,
    execute_plan,
)
from .types import GenerateResponse, Message, ToolCall, coerce_messages

__all__ = [
    "Session",
    "SessionEvent",
    "SessionFinished",
    "TextDelta",
    "ToolCallStarted",
    "ToolResultEvent",
    "TurnFinished",
]


class Session:
    """A conversation that runs the model's tool calls automatically until it answers.

    `tools`: functions, ToolDefinitions, Pydantic model classes or tool dicts (or a name -> tool
    mapping). `max_turns`: model calls per prompt before `MaxTurnsExceeded`. `approve`: hook called
    before each tool runs (see `toolwire.tools.execution.ApprovalDecision`). `tool_timeout`: seconds
    per tool call; `tool_deadline`: seconds per batch. `max_validation_retries`: how many times per
    prompt the model may send unusable arguments to one tool name before the loop stops with
    `ToolExecutionError` (the meaning `max_validation_retries` has on `generate`, corrections after
    a failed validation, applied to tool calls). `max_output_chars`: cap on one tool output sent to
    the model. Other keyword arguments (`temperature`, `tool_choice`, `model`, ...) go to every
    `generate` call, except that a forcing `tool_choice` (`"required"`, a tool name) applies to the
    first model turn of each prompt only, so the model can answer once the tools ran; pass
    `tool_choice_every_turn=True` to force every turn.

    `session.llm` is public: assign another provider to continue the same conversation with it
    (the history is provider-neutral and is translated for whichever provider sends the next turn).
    """

    def __init__(
        self,
        llm: Any,
        tools: Any = (),
        system_prompt: str | None = None,
        max_turns: int = 10,
        *,
        approve: ApproveHook | None = None,
        tool_timeout: float | None = None,
        tool_deadline: float | None = None,
        max_validation_retries: int = 2,
        max_output_chars: int | None = None,
        max_workers: int | None = None,
        tool_choice_every_turn: bool = False,
        **generate_kwargs: Any,
    ) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        if max_validation_retries < 0:
            raise ValueError("max_validation_retries must be 0 or more")
        if "stream" in generate_kwargs or "tools" in generate_kwargs:
            raise TypeError("pass tools= as Session(tools=...) and use session.stream() to stream")
        self.llm = llm
        local, hosted = _split_hosted(tools)
        self._registry: dict[str, ToolDefinition] = coerce_tools(local)
        # one list object for every turn: the provider translates a tool set once and caches it;
        # hosted tools (`{"type": "web_search"}`) go to the model as given and are never run here
        self._tool_list: list[Any] = [*self._registry.values(), *hosted]
        self.system_prompt = system_prompt
        self.max_turns = max_turns
        self.approve = approve
        self.tool_timeout = tool_timeout
        self.tool_deadline = tool_deadline
        self.max_validation_retries = max_validation_retries
        self.max_output_chars = max_output_chars
        self.max_workers = max_workers
        self.generate_kwargs = generate_kwargs
        self.tool_choice_every_turn = tool_choice_every_turn
        self._messages: list[Message] = []
        self._usage: dict[str, int] = {}
        self.reset()

    # -- state ---------------------------------------------------------------------------------
    @property
    def messages(self) -> list[Message]:
        """The whole history, provider-neutral (system prompt first)."""
        return self._messages

    @property
    def usage(self) -> dict[str, int]:
        """Token usage summed over every model turn of this session (since the last `reset()`)."""
        return dict(self._usage)

    @property
    def tools(self) -> list[ToolDefinition]:
        """The tools this session runs (hosted tool dicts are sent to the model but not listed)."""
        return list(self._registry.values())

    def reset(self) -> None:
        """Forget the conversation (the system prompt stays) and the usage."""
        self._messages = [Message(role="system", content=self.system_prompt)] if self.system_prompt else []
        self._usage = {}
        # groups this conversation's model calls and tool runs in the recorder, logs and traces
        self.conversation_id = uuid.uuid4().hex

    def _add_usage(self, response: GenerateResponse) -> None:
        for key, value in (response.usage or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                self._usage[key] = self._usage.get(key, 0) + value

    def _request_kwargs(self, run: _Run | None = None) -> dict[str, Any]:
        kwargs = dict(self.generate_kwargs)
        if self._tool_list:
            kwargs["tools"] = self._tool_list
        if (
            run is not None
            and run.turn > 0
            and not self.tool_choice_every_turn
            and kwargs.get("tool_choice") not in (None, "auto", "none")
        ):
            # forced on every turn, the model could never answer: MaxTurnsExceeded (issue 16 item 21)
            kwargs["tool_choice"] = "auto"
        return kwargs

    @property
    def execution_options(self) -> ExecutionOptions:
        """How this session runs tools, as the executor takes it (read from the attributes, which
        stay assignable: `session.approve = hook` applies from the next turn)."""
        return ExecutionOptions(
            timeout=self.tool_timeout,
            deadline=self.tool_deadline,
            max_workers=self.max_workers,
            approve=self.approve,
            max_output_chars=self.max_output_chars,
            max_validation_retries=self.max_validation_retries,
        )

    def _early_starts(self) -> EarlyStarts:
        return EarlyStarts(self._registry, self._batch_options(), self.approve, self.conversation_id)

    def _aearly_starts(self) -> AsyncEarlyStarts:
        return AsyncEarlyStarts(self._registry, self._batch_options(), self.approve, self.conversation_id)

    def _batch_options(self) -> ExecutionOptions:
        # the early-start scheduler asks the approval hook itself, once per call
        return replace(self.execution_options, approve=None)

    # -- sync ----------------------------------------------------------------------------------
    def generate(self, prompt: Any) -> GenerateResponse:
        """Send `prompt`, run tool calls until the model answers without any; return that answer."""
        run = _Run(self, prompt)
        with _instrument.conversation(self.conversation_id):
            while True:
                messages = run.request_messages()
                response: GenerateResponse = self.llm.generate(messages, **self._request_kwargs(run))
                calls = run.on_response(response)
                if calls is None:
                    return response
                run.on_results(execute_plan(calls, self._registry, self.execution_options))

    def stream(self, prompt: Any) -> Iterator[SessionEvent]:
        """Like `generate`, streamed: yields typed events (see `toolwire.events`)."""
        run = _Run(self, prompt)
        while True:
            with _instrument.conversation(self.conversation_id):
                stream = self.llm.generate(run.request_messages(), stream=True, **self._request_kwargs(run))
            early = self._early_starts()
            try:
                try:
                    for chunk in stream:
                        if chunk.content:
                            yield TextDelta(chunk.content)
                        if chunk.completed_calls:  # read-only tools start here (toolwire.tools.early)
                            early.offer(chunk.completed_calls)
                    response = stream.response
                finally:
                    stream.close()
                calls = run.on_response(response)
                yield TurnFinished(response, run.turn)
                if calls is None:
                    early.discard()
                    yield SessionFinished(response)
                    return
                for call, started in zip(calls, early.settle(response, calls), strict=True):
                    yield ToolCallStarted(call, started)
                for done in early.finish(response, calls):
                    yield ToolResultEvent(done.result, done.started_at, done.finished_at)
            finally:
                early.discard()  # a no-op once finish() used them
            assert early.plan is not None
            run.on_results(early.plan)

    # -- async ---------------------------------------------------------------------------------
    async def agenerate(self, prompt: Any) -> GenerateResponse:
        """The async twin of `generate`: async tools run as tasks, sync tools in the thread pool."""
        run = _Run(self, prompt)
        with _instrument.conversation(self.conversation_id):
            while True:
                response: GenerateResponse = await self.llm.agenerate(
                    run.request_messages(), **self._request_kwargs(run)
                )
                calls = run.on_response(response)
                if calls is None:
                    return response
                run.on_results(await aexecute_plan(calls, self._registry, self.execution_options))

    async def astream(self, prompt: Any) -> AsyncIterator[SessionEvent]:
        """The async twin of `stream`."""
        run = _Run(self, prompt)
        while True:
            with _instrument.conversation(self.conversation_id):
                messages = run.request_messages()
                stream = await self.llm.agenerate(messages, stream=True, **self._request_kwargs(run))
            early = self._aearly_starts()
            try:
                try:
                    async for chunk in stream:
                        if chunk.content:
                            yield TextDelta(chunk.content)
                        if chunk.completed_calls:  # read-only tools start here (toolwire.tools.early)
                            await early.offer(chunk.completed_calls)
                    response = await stream.aresponse()
                finally:
                    await stream.aclose()
                calls = run.on_response(response)
                yield TurnFinished(response, run.turn)
                if calls is None:
                    await early.discard()
                    yield SessionFinished(response)
                    return
                for call, started in zip(calls, early.settle(response, calls), strict=True):
                    yield ToolCallStarted(call, started)
                async for done in early.finish(response, calls):
                    yield ToolResultEvent(done.result, done.started_at, done.finished_at)
            finally:
                await early.discard()  # cancels what still runs unused; a no-op once finish() used them
            assert early.plan is not None
            run.on_results(early.plan)

    def __repr__(self) -> str:
        names = ", ".join(self._registry)
        return f"Session(llm={self.llm!r}, tools=[{names}], messages={len(self._messages)})"


class _Run:
    """The state of one `generate(prompt)` run: pure bookkeeping, no I/O."""

    def __init__(self, session: Session, prompt: Any) -> None:
        self.session = session
        self.pending: list[Message] = _prompt_messages(prompt)
        self.turn = 0
        self.failures: dict[str, int] = {}
        self._response: GenerateResponse | None = None

    def request_messages(self) -> list[Message]:
        return [*self.session.messages, *self.pending]

    def on_response(self, response: GenerateResponse) -> list[ToolCall] | None:
        """Record a model answer; return the calls to run, or None when it is the final answer."""
        self.turn += 1
        self.session._add_usage(response)
        if not response.has_tool_calls():
            self._commit(response.to_message())
            return None
        self._response = response
        assert response.tool_calls is not None
        return list(response.tool_calls.tool_calls)

    def on_results(self, plan: Plan) -> None:
        """Commit the assistant turn with its results; enforce the retry budget and `max_turns`."""
        assert self._response is not None
        results = plan.collected()
        self._commit(self._response.to_message(), Message(role="tool", tool_results=results))
        self._response = None
        for result, kind in zip(results, plan.kinds, strict=True):
            if kind not in VALIDATION_KINDS:
                continue
            count = self.failures[result.name] = self.failures.get(result.name, 0) + 1
            if count > self.session.max_validation_retries:
                raise ToolExecutionError(
                    f"the model sent unusable calls to {result.name!r} {count} times in this run "
                    f"(max_validation_retries={self.session.max_validation_retries}); last error: "
                    f"{result.error}",
                    tool_name=result.name,
                    call_id=result.call_id,
                )
        if self.turn >= self.session.max_turns:
            raise MaxTurnsExceeded(
                f"the model still called tools after {self.turn} turns (max_turns={self.session.max_turns}); "
                "the history is kept in session.messages and on this error",
                messages=list(self.session.messages),
                max_turns=self.session.max_turns,
            )

    def _commit(self, *messages: Message) -> None:
        self.session._messages.extend([*self.pending, *messages])
        self.pending = []


def _prompt_messages(prompt: Any) -> list[Message]:
    if isinstance(prompt, (str, Message, Mapping)):
        return coerce_messages(prompt)
    if isinstance(prompt, Sequence):
        return coerce_messages(prompt)
    raise TypeError(f"prompt must be a str, a Message, a dict or a list of them, got {type(prompt).__name__}")


def _split_hosted(tools: Any) -> tuple[Any, list[Mapping[str, Any]]]:
    """(tools run here, provider-hosted tool dicts). A tool dict whose `type` is not "function"
    (the Responses API's `web_search`, `file_search`, ...) runs on the provider's side: it is
    sent with the request, and its output items stay in the history as the provider returned them."""
    if not isinstance(tools, (list, tuple)):
        return tools, []
    hosted = [t for t in tools if isinstance(t, Mapping) and t.get("type") not in (None, "function")]
    if not hosted:
        return tools, []
    return [t for t in tools if not any(t is h for h in hosted)], hosted
