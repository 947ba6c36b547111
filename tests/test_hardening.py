"""Issue 16: hostile or odd configuration and input become typed errors (see also test_secrets.py
and test_faults.py for the per-provider suites)."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolwire import AbstractLLM
from toolwire.errors import ConfigurationError


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://host:port/v1", "not a url", "ftp://x/v1", "http:///v1", "http://a b/v1"]
)
@pytest.mark.parametrize("name", ["openai", "openai_compatible", "anthropic", "gemini", "mistral", "ollama"])
def test_malformed_base_url_is_a_configuration_error(name: str, url: str) -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        AbstractLLM.create(name, model="m", api_key="sk-test-12345678", base_url=url)


def test_bad_toolwire_record_path_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolwire import recorder

    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(recorder, "_env_recorder", None)
    import httpx2

    sent: list[httpx2.Request] = []
    answer = httpx2.MockTransport(lambda r: (sent.append(r), httpx2.Response(500))[1])
    client = httpx2.Client(transport=answer)
    # TOOLWIRE_RECORD is read when the first call starts (not in the provider's constructor): a bad
    # path is a ConfigurationError there, before any request
    llm = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-test-12345678", http_client=client)
    monkeypatch.setenv("TOOLWIRE_RECORD", str(blocker / "sub" / "calls.db"))  # a file as a folder
    with pytest.raises(ConfigurationError, match="TOOLWIRE_RECORD"):
        llm.generate("hi")
    monkeypatch.setenv("TOOLWIRE_RECORD", str(tmp_path))  # a directory is not a database
    with pytest.raises(ConfigurationError, match="TOOLWIRE_RECORD"):
        llm.generate("hi")
    assert sent == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:11500", "http://127.0.0.1:11500/v1"),
        (":8080", "http://localhost:8080/v1"),
        ("gpu-box", "http://gpu-box:11434/v1"),
        ("https://ollama.internal", "https://ollama.internal/v1"),
        ("http://ollama.internal:11434/", "http://ollama.internal:11434/v1"),
    ],
)
def test_ollama_reads_ollama_host(value: str, expected: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_BASE_URL", raising=False)
    monkeypatch.setenv("OLLAMA_HOST", value)
    assert AbstractLLM.create("ollama", model="llama3.2").base_url == expected
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://other:1/v1")  # the explicit variable wins
    assert AbstractLLM.create("ollama", model="llama3.2").base_url == "http://other:1/v1"


# -- item 4: one JSON decoder with limits; one bad call never sinks its siblings ------------------
import asyncio  # noqa: E402
import json  # noqa: E402
from typing import Any  # noqa: E402

from support.fault_server import KITS_FOR_HOSTILE, FaultServer, Reply, fault_server, hostile_turn  # noqa: E402
from toolwire import Session, execute_tool_calls  # noqa: E402
from toolwire.types import ToolCall, parse_arguments  # noqa: E402

DEEP = "[" * 1000 + "]" * 1000
HUGE = "9" * 5000


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: the city name
    """
    return f"sunny in {city}"


def test_parse_arguments_limits_are_typed() -> None:
    for raw in (f'{{"city": {DEEP}}}', f'{{"city": {HUGE}}}', '{"a":' * 200 + "1" + "}" * 200):
        arguments, error = parse_arguments(raw)
        assert arguments == {} and error and "limit" in error
    too_deep: Any = {"v": 1}
    for _ in range(2000):
        too_deep = {"v": too_deep}
    call = ToolCall.from_raw("c1", "get_weather", too_deep)  # an Anthropic/Gemini object
    assert call.arguments == {} and call.arguments_error and "deeper" in call.arguments_error


@pytest.fixture(scope="module")
def server() -> Any:
    with fault_server() as srv:
        yield srv


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(KITS_FOR_HOSTILE))
@pytest.mark.parametrize("hostile", ["deep", "huge", "surrogate"])
def test_a_hostile_call_fails_alone_and_the_next_request_is_sent(
    server: FaultServer, name: str, mode: str, hostile: str
) -> None:
    """A model turn with one hostile call (1,000-deep JSON, a 5,000-digit integer, a lone
    surrogate) and one valid sibling: the sibling runs, the hostile call gets an error result,
    and the follow-up request goes out (issue 16 items 4 and 5)."""
    kit = KITS_FOR_HOSTILE[name]
    bad = {"deep": DEEP, "huge": HUGE, "surrogate": '"\\ud800 caf\\u00e9"'}[hostile]
    server.script = [hostile_turn(name, bad), kit.text_answer("Done.")]
    llm = kit.create(server.url, max_retries=0)
    ran: list[str] = []

    def weather(city: Any) -> str:
        """The weather.

        Args:
            city: the city
        """
        ran.append(city if isinstance(city, str) else type(city).__name__)
        return f"sunny in {city}" if isinstance(city, str) else "odd"

    weather.__name__ = "get_weather"
    session = Session(llm, tools=[weather])
    response = session.generate("go") if mode == "sync" else asyncio.run(session.agenerate("go"))
    assert response.content == "Done."
    assert "Rome" in ran
    results = session.messages[2].tool_results
    assert results is not None and len(results) == 2
    if hostile in ("deep", "huge"):  # the hostile call alone got an error result, on every wire
        assert results[0].error and ("limit" in results[0].error or "deeper" in results[0].error)
    assert len(server.seen) == 2  # the follow-up request was sent (and parsed by the server)
    if hostile == "surrogate":
        assert "\ufffd" in json.dumps(server.seen[-1].body, ensure_ascii=False)


# -- item 6: an output whose __str__ raises --------------------------------------------------------
class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_output_whose_str_raises_is_an_error_result() -> None:
    def tool(city: str) -> Any:
        """A tool.

        Args:
            city: the city
        """
        return _Unprintable()

    class _Bad(Exception):
        def __str__(self) -> str:
            raise RuntimeError("nor for me")

    def raiser(city: str) -> str:
        """A tool.

        Args:
            city: the city
        """
        raise _Bad()

    calls = [
        ToolCall.from_raw("a", "tool", '{"city": "x"}'),
        ToolCall.from_raw("b", "raiser", '{"city": "x"}'),
    ]
    first, second = execute_tool_calls(calls, [tool, raiser])
    assert first.error and "could not be serialized" in first.error
    assert second.error and "_Bad" in second.error
    assert first.output_text()  # the next request can be built


# -- item 7: ids ---------------------------------------------------------------------------------
def test_generated_ids_are_unique_per_turn_and_stable_within_it() -> None:
    from toolwire.providers.openai import parse_chat_completion

    body = {  # no response id and no call ids (some local servers)
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    ],
                },
            }
        ],
    }
    one = parse_chat_completion(body, provider="openai_compatible")
    two = parse_chat_completion(body, provider="openai_compatible")
    ids = [c.id for c in [*one.tool_calls, *two.tool_calls]]
    assert len(set(ids)) == 4, ids


def test_streamed_calls_sharing_an_id_are_not_merged() -> None:
    from toolwire._framing import SSEEvent
    from toolwire.providers.openai import ChatCompletionStreamState

    def chunk(delta: dict[str, Any], finish: str | None = None) -> SSEEvent:
        return SSEEvent(
            None, json.dumps({"id": "x", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )

    state = ChatCompletionStreamState("openai_compatible")
    for index, city in ((0, "Paris"), (1, "Rome")):
        fn = {"name": "get_weather", "arguments": json.dumps({"city": city})}
        state.feed(chunk({"tool_calls": [{"index": index, "id": "dup", "type": "function", "function": fn}]}))
    state.feed(chunk({}, "tool_calls"))
    state.feed(SSEEvent(None, "[DONE]"))
    calls = state.result().tool_calls
    assert [c.arguments for c in calls] == [{"city": "Paris"}, {"city": "Rome"}]


def test_calls_with_the_same_empty_id_map_to_distinct_anthropic_ids() -> None:
    from toolwire.providers.anthropic import messages_payload
    from toolwire.types import Message, ToolResult

    calls = [ToolCall.from_raw("", "f", '{"a": 1}'), ToolCall.from_raw("", "f", '{"a": 2}')]
    _system, out = messages_payload(
        [
            Message(role="user", content="go"),
            Message(role="assistant", tool_calls=calls),
            Message(
                role="tool", tool_results=[ToolResult("", "f", output="1"), ToolResult("", "f", output="2")]
            ),
        ]
    )
    uses = [b["id"] for b in out[1]["content"] if b["type"] == "tool_use"]
    results = [b["tool_use_id"] for b in out[2]["content"]]
    assert len(set(uses)) == 2 and uses == results


# -- item 9: NaN/Infinity in the recorder, non-ASCII dashboard token ------------------------------
def test_nan_from_a_model_is_stored_as_valid_json_and_served(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from toolwire.dashboard import create_app
    from toolwire.recorder import record

    db = tmp_path / "calls.db"
    with fault_server() as srv:
        kit = KITS_FOR_HOSTILE["openai"]
        srv.script = [hostile_turn("openai", "NaN"), kit.text_answer("Done.")]
        llm = kit.create(srv.url, max_retries=0)
        with record(db):
            Session(llm, tools=[get_weather], conversation_id="nan-conv").generate("go")
    import sqlite3

    with sqlite3.connect(db) as conn:
        stored = [r[0] for r in conn.execute("SELECT response FROM events WHERE response IS NOT NULL")]
    for text in stored:
        json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c} stored"))
    with TestClient(create_app(db), base_url="http://127.0.0.1") as client:
        listing = client.get("/api/conversations").json()["conversations"]
        for row in listing:
            assert client.get(f"/api/conversations/{row['conversation_id']}").status_code == 200


def test_non_ascii_dashboard_token_is_a_401(tmp_path: Path) -> None:
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from toolwire.dashboard import create_app

    app = create_app(tmp_path / "calls.db", token="s3cret-token", local_only=False)
    with TestClient(app, base_url="http://10.0.0.5") as client:
        assert client.get("/api/conversations?token=%C3%A9t%C3%A9").status_code == 401
        raw = {"authorization": "Bearer été".encode()}
        assert client.get("/api/conversations", headers=raw).status_code == 401  # type: ignore[dict-item]
        cookie = {"cookie": b"toolwire_dashboard_token=%C3%A9t%C3%A9"}
        assert client.get("/api/conversations", headers=cookie).status_code == 401  # type: ignore[dict-item]


# -- item 16: a tool error reads as an error on Chat Completions -------------------------------------
def test_tool_errors_are_worded_as_errors_for_chat_completions() -> None:
    from toolwire.providers.openai import chat_messages
    from toolwire.types import Message, ToolResult

    call = ToolCall.from_raw("call_1", "lookup", '{"q": "x"}')
    out = chat_messages(
        [
            Message(role="user", content="go"),
            Message(role="assistant", tool_calls=[call]),
            Message(role="tool", tool_results=[ToolResult("call_1", "lookup", error="no rows for x")]),
        ]
    )
    assert out[-1]["content"] == "Error: the tool lookup failed: no rows for x"


# -- item 17: a capabilities property override is honoured -----------------------------------------
def test_a_capabilities_property_override_is_honoured() -> None:
    from toolwire.errors import UnsupportedCapabilityError
    from toolwire.providers.openai import OpenAIProvider
    from toolwire.types import Capability

    class TextOnly(OpenAIProvider):
        @property
        def capabilities(self) -> list[Capability]:
            return [Capability.STREAMING]

    llm = TextOnly(model="gpt-4o-mini", api_key="sk-test-12345678")
    with pytest.raises(UnsupportedCapabilityError):
        llm.generate("hi", tools=[get_weather])


# -- item 20: misspelt generate keywords ---------------------------------------------------------
@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("temprature", "temperature"),
        ("max_token", "max_tokens"),
        ("tool_choise", "tool_choice"),
        ("top_pp", "top_p"),
    ],
)
def test_misspelt_generate_keywords_raise_with_a_suggestion(typo: str, meant: str) -> None:
    llm = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-test-12345678")
    with pytest.raises(TypeError, match=f"did you mean '{meant}'"):
        llm.generate("hi", **{typo: 0.5})


def test_unknown_but_not_misspelt_keywords_still_go_to_the_body() -> None:
    llm = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-test-12345678")
    request = llm._prepare(
        "hi",
        model=None,
        stream=False,
        tools=None,
        tool_choice=None,
        parallel_tool_calls=None,
        response_format=None,
        sampling={},
        kwargs={"top_k": 3, "min_p": 0.1, "chat_template_kwargs": {}},
    )
    assert request.extra == {"top_k": 3, "min_p": 0.1, "chat_template_kwargs": {}}


def test_a_keyword_found_no_typo_is_not_compared_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # difflib costs ~100 µs per unknown keyword: paid once per keyword, not on every call
    import difflib

    from toolwire.providers import _checks

    calls: list[str] = []
    real = difflib.get_close_matches

    def counting(word: str, *args: Any, **kwargs: Any) -> list[str]:
        calls.append(word)
        return real(word, *args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counting)
    monkeypatch.setattr(_checks, "_CHECKED", set(_checks._KNOWN_KEYWORDS))
    for _ in range(3):
        _checks._check_spelling({"min_p": 0.1, "stream_options": {}, "temperature": 0.5})
    assert calls == ["min_p"]  # stream_options and temperature are known; min_p checked once
    with pytest.raises(TypeError, match="did you mean 'stream_options'"):
        _checks._check_spelling({"stream_option": {}})
    with pytest.raises(TypeError, match="did you mean 'stream_options'"):
        _checks._check_spelling({"stream_option": {}})  # a typo is never remembered as fine


@pytest.mark.parametrize("name", ["openai", "anthropic", "gemini", "mistral"])
def test_create_without_a_model_fails_at_create(name: str) -> None:
    with pytest.raises(ConfigurationError, match=r"no model; pass model=\.\.\. \(e\.g\."):
        AbstractLLM.create(name, api_key="sk-test-12345678")


# -- item 22: semconv parts in traces; the recorder's accept header for streams -----------------
def test_trace_input_messages_use_the_semconv_parts_schema() -> None:
    from toolwire import tracing
    from toolwire.types import Message, ToolResult

    call = ToolCall.from_raw("call_1", "lookup", '{"q": "x"}')
    shaped = [
        tracing._input_message(m)
        for m in (
            Message(role="system", content="be terse"),
            Message(role="user", content="hello"),
            Message(role="assistant", content=None, tool_calls=[call]),
            Message(role="tool", tool_results=[ToolResult("call_1", "lookup", output="found")]),
        )
    ]
    assert shaped == [
        {"role": "system", "parts": [{"type": "text", "content": "be terse"}]},
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]},
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": {"q": "x"}}],
        },
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "found"}]},
    ]


def test_recorder_stores_the_stream_accept_header(tmp_path: Path) -> None:
    import sqlite3

    from toolwire.recorder import record

    kit = KITS_FOR_HOSTILE["openai"]
    with fault_server() as srv:
        srv.script = [Reply(sse=kit.stream())]
        llm = kit.create(srv.url, max_retries=0)
        with record(tmp_path / "calls.db"):
            list(llm.generate("hi", stream=True))
        assert srv.seen[-1].headers.get("accept") == "text/event-stream"
    with sqlite3.connect(tmp_path / "calls.db") as conn:
        [(request,)] = conn.execute("SELECT request FROM events WHERE kind = 'chat'").fetchall()
    assert json.loads(request)["headers"]["accept"] == "text/event-stream"


# -- item 21: tool_choice forcing applies to the first turn; session.llm can be switched -------------
@pytest.mark.parametrize("every_turn", [False, True])
def test_session_tool_choice_required_forces_the_first_turn_only(
    server: FaultServer, every_turn: bool
) -> None:
    from toolwire.errors import MaxTurnsExceeded

    kit = KITS_FOR_HOSTILE["openai"]
    server.script = [kit.ok(), kit.text_answer("Done.")]
    session = Session(
        kit.create(server.url, max_retries=0),
        tools=[get_weather],
        tool_choice="required",
        max_turns=2,
        tool_choice_every_turn=every_turn,
    )
    if every_turn:
        server.script = [kit.ok()]
        with pytest.raises(MaxTurnsExceeded):
            session.generate("go")
        assert [s.body["tool_choice"] for s in server.seen] == ["required", "required"]
        return
    assert session.generate("go").content == "Done."
    assert [s.body.get("tool_choice") for s in server.seen] == ["required", "auto"]


def test_session_llm_can_be_switched_mid_conversation(server: FaultServer) -> None:
    openai, anthropic = KITS_FOR_HOSTILE["openai"], KITS_FOR_HOSTILE["anthropic"]
    session = Session(openai.create(server.url, max_retries=0), tools=[get_weather])
    server.script = [openai.ok(), openai.text_answer("Sunny.")]
    session.generate("Paris?")
    session.llm = anthropic.create(server.url, max_retries=0)
    server.script = [anthropic.text_answer("Still sunny.")]
    assert session.generate("And now?").content == "Still sunny."
    sent = server.seen[-1].body
    assert sent["messages"][1]["content"][-1]["type"] == "tool_use"  # the history, in Anthropic's form


def test_cli_prints_the_tokens_of_every_turn(server: FaultServer, tmp_path: Path) -> None:
    pytest.importorskip("typer")
    from typer.testing import CliRunner

    from toolwire.cli.app import build_app

    app = build_app()

    tools = tmp_path / "weather_tools.py"
    tools.write_text(
        'def get_weather(city: str) -> str:\n    """Weather.\n\n    Args:\n'
        '        city: the city\n    """\n    return "sunny"\n'
    )
    from support.fault_server import sse

    def turn(delta: dict[str, Any], finish: str, tokens: tuple[int, int]) -> Reply:
        def chunk(choices: list[Any], usage: Any = None) -> bytes:
            return sse({"id": "c", "model": "gpt-4o-mini", "choices": choices, "usage": usage})

        usage = {"prompt_tokens": tokens[0], "completion_tokens": tokens[1], "total_tokens": sum(tokens)}
        events = [
            chunk([{"index": 0, "delta": delta, "finish_reason": None}]),
            chunk([{"index": 0, "delta": {}, "finish_reason": finish}]),
            chunk([], usage),
            sse("[DONE]"),
        ]
        return Reply(sse=events)

    call: dict[str, Any] = {"index": 0, "id": "call_1", "type": "function"}
    call["function"] = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    server.script = [
        turn({"role": "assistant", "tool_calls": [call]}, "tool_calls", (10, 5)),
        turn({"role": "assistant", "content": "Sunny."}, "stop", (7, 3)),
    ]
    args = [
        "chat",
        "Paris?",
        "-m",
        "gpt-4o-mini",
        "--base-url",
        f"{server.url}/v1",
        "--api-key",
        "sk-x-12345678",
    ]
    result = CliRunner().invoke(app, [*args, "--tool", f"{tools}:get_weather"])
    assert result.exit_code == 0, result.output
    assert "tokens: 17 in, 8 out" in result.output


# -- item 10: `timeout` bounds the whole attempt, head and body, sync and async -------------------
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("part", ["head", "body"])
def test_a_server_trickling_a_byte_a_second_is_cut_at_the_deadline(
    server: FaultServer, part: str, mode: str
) -> None:
    """The issue's own case: one byte a second, `timeout=3, retry_deadline=5`. Before, the sync
    path bounded the head per read only, and the call was held for the whole head (20+ s)."""
    import time

    from toolwire.errors import ProviderTimeoutError

    kit = KITS_FOR_HOSTILE["openai"]
    llm = kit.create(server.url, timeout=3, retry_deadline=5)
    slow = kit.ok()
    if part == "head":
        slow.trickle_head = 1.0
    else:
        slow.trickle = 1.0
    server.script = [slow]
    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError):
        if mode == "sync":
            llm.generate("hi", tools=[get_weather])
        else:
            asyncio.run(llm.agenerate("hi", tools=[get_weather]))
    took = time.monotonic() - started
    assert took < 8.0, f"held for {took:.1f}s"  # the 5 s deadline plus a read's slack


# -- item 13: a stream never iterated is closed on garbage collection ----------------------------
def test_streams_never_iterated_are_closed_on_gc(server: FaultServer) -> None:
    import gc

    kit = KITS_FOR_HOSTILE["openai"]
    llm = kit.create(server.url, max_retries=0)
    server.script = [Reply(sse=kit.stream())]
    stream = llm.generate("hi", stream=True)
    http = stream.http_response
    assert not http.is_closed
    del stream
    gc.collect()
    assert http.is_closed

    async def run() -> Any:
        astream = await llm.agenerate("hi", stream=True)
        response = astream.http_response
        del astream
        gc.collect()
        await asyncio.sleep(0.05)  # the close was scheduled on this loop
        return response

    assert asyncio.run(run()).is_closed


# -- item 13: ... and on provider close (`close()`, `with`, `aclose()`, `async with`) ---------------
def _stream_kit() -> Any:
    return KITS_FOR_HOSTILE["openai"]


@pytest.mark.parametrize("how", ["close", "with", "own client"])
def test_streams_never_iterated_are_released_on_provider_close(how: str) -> None:
    import httpx2

    kit = _stream_kit()
    with fault_server() as srv:  # its own server: it counts only this test's connections
        own = httpx2.Client() if how == "own client" else None
        llm = kit.create(srv.url, max_retries=0, http_client=own)
        srv.script = [Reply(sse=kit.stream())]
        if how == "with":
            with llm:
                streams = [llm.generate("hi", stream=True) for _ in range(3)]
                assert srv.wait_connections(3) == 3  # each holds its connection
        else:
            streams = [llm.generate("hi", stream=True) for _ in range(3)]
            assert srv.wait_connections(3) == 3
            llm.close()
        assert srv.wait_connections(0) == 0, "the server still holds the streams' connections"
        assert all(s.http_response.is_closed for s in streams)
        if own is not None:
            assert not own.is_closed  # a client the caller passed in stays theirs to close
            own.close()


@pytest.mark.parametrize("how", ["aclose", "async with", "own client"])
def test_async_streams_never_iterated_are_released_on_provider_aclose(how: str) -> None:
    import httpx2

    kit = _stream_kit()

    async def run(srv: FaultServer) -> list[Any]:
        own = httpx2.AsyncClient() if how == "own client" else None
        llm = kit.create(srv.url, max_retries=0, async_http_client=own)
        srv.script = [Reply(sse=kit.stream())]
        if how == "async with":
            async with llm:
                streams = [await llm.agenerate("hi", stream=True) for _ in range(3)]
                assert await asyncio.to_thread(srv.wait_connections, 3) == 3
        else:
            streams = [await llm.agenerate("hi", stream=True) for _ in range(3)]
            assert await asyncio.to_thread(srv.wait_connections, 3) == 3
            await llm.aclose()
        assert await asyncio.to_thread(srv.wait_connections, 0) == 0
        assert all(s.http_response.is_closed for s in streams)
        if own is not None:
            assert not own.is_closed
            await own.aclose()
        return streams

    with fault_server() as srv:
        asyncio.run(run(srv))


# -- item 15: a stopped and restarted recorder writes again ----------------------------------------
def test_a_restarted_recorder_writes_again(server: FaultServer, tmp_path: Path) -> None:
    import sqlite3

    from toolwire.recorder import Recorder

    kit = KITS_FOR_HOSTILE["openai"]
    llm = kit.create(server.url, max_retries=0)
    recorder = Recorder(tmp_path / "calls.db")
    for _ in range(2):
        recorder.start()
        server.script = [kit.text_answer("ok")]
        llm.generate("hi")
        recorder.stop()
    with sqlite3.connect(tmp_path / "calls.db") as conn:
        [(count,)] = conn.execute("SELECT count(*) FROM events").fetchall()
    assert count == 2 and recorder.written == 2 and recorder.dropped == 0


# -- item 18: structured output with tools: the tools run first ------------------------------------
def test_structured_output_with_tools_lets_the_tools_run_first() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Forecast(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        city: str
        sky: str

    anthropic = AbstractLLM.create("anthropic", model="claude-haiku-4-5", api_key="sk-test-12345678")
    with_tools = anthropic._prepare(
        "hi", model=None, stream=False, tools=[get_weather], tool_choice=None,
        parallel_tool_calls=None, response_format=Forecast, sampling={}, kwargs={},
    )  # fmt: skip
    body = anthropic.build_body(with_tools)
    assert body["tool_choice"] == {"type": "any"}  # not forced to Forecast: get_weather can run
    assert [t["name"] for t in body["tools"]] == ["get_weather", "Forecast"]
    alone = anthropic._prepare(
        "hi", model=None, stream=False, tools=None, tool_choice=None,
        parallel_tool_calls=None, response_format=Forecast, sampling={}, kwargs={},
    )  # fmt: skip
    assert anthropic.build_body(alone)["tool_choice"] == {"type": "tool", "name": "Forecast"}

    gemini = AbstractLLM.create("gemini", model="gemini-2.5-flash", api_key="sk-test-12345678")
    request = gemini._prepare(
        [{"role": "system", "content": "terse"}, {"role": "user", "content": "hi"}], model=None,
        stream=False, tools=[get_weather], tool_choice=None, parallel_tool_calls=None,
        response_format=Forecast, sampling={}, kwargs={},
    )  # fmt: skip
    body = gemini.build_body(request)
    assert "responseMimeType" not in body.get("generationConfig", {})
    texts = [p["text"] for p in body["systemInstruction"]["parts"]]
    assert texts[0] == "terse" and '"sky"' in texts[-1]


# -- item 19 (part): Gemini and `required` naming undefined properties in a nested object ----------
def test_gemini_drops_required_of_a_nested_object_without_properties() -> None:
    from toolwire.tools.dialects import compile_schema

    schema = {
        "type": "object",
        "properties": {"filters": {"type": "object", "required": ["year"], "description": "any filters"}},
        "required": ["filters"],
    }
    compiled = compile_schema(schema, "gemini", strict=False)
    assert compiled["required"] == ["filters"]
    assert "required" not in compiled["properties"]["filters"]
