"""MCPToolset over stdio against real MCP servers written with the official SDK
(tests/mcp/servers/): listing, names, schemas, validation, results, failures, pinning."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp_support import DEMO, PAGED, UNRULY, children_of, zombies_of

from toolwire import ToolCall, aexecute_tool_calls, execute_tool_calls
from toolwire.errors import MCPConnectionError, MCPTimeoutError, MCPToolChangedError, MCPToolError
from toolwire.mcp import MCPToolDefinition, MCPToolNameCollisionError, MCPToolset
from toolwire.mcp._names import VALID_NAME, assign_names, provider_name
from toolwire.tools.dialects import DIALECTS, compile_schema
from toolwire.tools.early import _Turn
from toolwire.tools.plan import ExecutionOptions

pytest.importorskip("mcp")


def call(name: str, arguments: dict[str, Any], call_id: str = "c1") -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments=arguments)


@pytest.fixture(scope="module")
def paged() -> Iterator[MCPToolset]:
    with MCPToolset.stdio(sys.executable, [str(PAGED)], prefix="gh_", strict=True) as server:
        yield server


@pytest.fixture(scope="module")
def demo() -> Iterator[MCPToolset]:
    with MCPToolset.stdio(f"{sys.executable} {DEMO}") as server:
        yield server


# -- listing, names, schemas ---------------------------------------------------------------------
def test_every_page_is_listed_and_names_are_valid_for_every_provider(paged: MCPToolset) -> None:
    originals = {t.original_name: t for t in paged.tools if isinstance(t, MCPToolDefinition)}
    assert set(originals) == {
        "github.create_issue",
        "fs/read",
        "ping",
        "lookup",
        "config.set",
        "echo_with_a_name_far_longer_than_sixty_four_characters_allowed_by_providers",
        "snapshot",
    }  # 7 tools served 2 per page
    assert originals["github.create_issue"].name == "gh_github_create_issue"
    assert originals["fs/read"].name == "gh_fs_read"
    for tool in paged.tools:
        assert VALID_NAME.match(tool.name), tool.name
    long_one = originals["echo_with_a_name_far_longer_than_sixty_four_characters_allowed_by_providers"]
    assert len(long_one.name) == 64


def test_a_list_that_changes_while_paged_is_read_again_not_a_name_collision() -> None:
    # offset cursors: a tool inserted after page one makes page two repeat a tool (and the new one
    # is missed); the repeat is one tool, not a collision, and the list is read again on next use
    with MCPToolset.stdio(sys.executable, [str(PAGED), "--shift"]) as server:
        first = [t.name for t in server._tools]
        assert len(first) == len(set(first)) == 7 and "inserted" not in first
        assert {t.name for t in server.tools} == {*first, "inserted"}


def test_calls_reach_the_original_tool_name(paged: MCPToolset) -> None:
    [result] = execute_tool_calls([call("gh_fs_read", {"path": "/etc/motd"})], paged)
    assert result.error is None
    assert json.loads(result.output) == {"tool": "fs/read", "arguments": {"path": "/etc/motd"}}
    long_name = next(t.name for t in paged.tools if t.name.startswith("gh_echo_"))
    assert json.loads(paged.call(long_name, {"text": "hi"}))["tool"].startswith("echo_with_a_name_far")


def test_schemas_are_cleaned_and_compile_for_every_dialect(paged: MCPToolset) -> None:
    by_name = {t.name: t for t in paged.tools}
    issue = by_name["gh_github_create_issue"].parameters
    assert "$schema" not in issue
    assert by_name["gh_ping"].parameters == {"type": "object", "properties": {}}
    for tool in paged.tools:
        for dialect in DIALECTS:
            compiled = tool.parameters_for(dialect)
            assert "$schema" not in json.dumps(compiled)
    assert by_name["gh_ping"].parameters_for("gemini") == {}  # Gemini: no parameters at all


def test_strict_only_where_the_schema_is_eligible(paged: MCPToolset) -> None:
    by_name = {t.name: t for t in paged.tools}
    assert by_name["gh_lookup"].strict is True
    assert by_name["gh_config_set"].strict is None  # an open map cannot be strict
    with pytest.raises(ValueError, match="free-form keys"):
        compile_schema(by_name["gh_config_set"].parameters, "openai", strict=True)


def test_arguments_are_validated_against_the_server_schema_before_the_call(paged: MCPToolset) -> None:
    results = execute_tool_calls(
        [call("gh_lookup", {"key": 3}, "a"), call("gh_lookup", {"key": "k", "limit": 0}, "b")], paged
    )
    assert "invalid arguments for gh_lookup" in (results[0].error or "")
    assert "3 is not of type 'string'" in (results[0].error or "")
    assert "0 is less than the minimum of 1" in (results[1].error or "")
    with pytest.raises(MCPToolError, match="'key' is a required property"):
        paged.call("gh_lookup", {})


def test_strict_mode_nulls_for_optional_arguments_are_dropped(paged: MCPToolset) -> None:
    # OpenAI strict mode sends null for an optional argument it has no value for
    [result] = execute_tool_calls([call("gh_lookup", {"key": "k", "limit": None})], paged)
    assert json.loads(result.output)["arguments"] == {"key": "k"}


def test_name_collisions_are_an_error_at_start() -> None:
    assert provider_name("a.b") == "a_b"
    clash = r"'a\.b' and 'a_b' would both be sent to the model as 'a_b'"
    with pytest.raises(MCPToolNameCollisionError, match=clash):
        assign_names(["a.b", "a_b"], "", "srv")
    assert assign_names(["a.b"], "x_", "srv") == {"x_a_b": "a.b"}


def test_two_servers_need_prefixes(paged: MCPToolset) -> None:
    from toolwire.tools.execution import coerce_tools

    with (
        MCPToolset.stdio(sys.executable, [str(PAGED)], prefix="gh_") as twin,
        pytest.raises(ValueError, match="two tools are named 'gh_github_create_issue'"),
    ):
        coerce_tools([paged, twin])
    with MCPToolset.stdio(sys.executable, [str(PAGED)], prefix="other_") as other:
        assert len(coerce_tools([paged, other])) == 14


# -- results -------------------------------------------------------------------------------------
def test_text_structured_and_is_error_results(demo: MCPToolset) -> None:
    results = execute_tool_calls(
        [
            call("stamp", {"label": "x"}, "t"),
            call("weather", {"city": "Paris"}, "s"),
            call("fail", {"reason": "no disk"}, "e"),
        ],
        demo,
    )
    assert results[0].output.startswith("x ")
    weather = {"city": "Paris", "temperature_c": 21.5, "conditions": "sunny"}
    assert json.loads(results[1].output_text()) == weather
    assert results[2].error is not None and "failed on purpose: no disk" in results[2].error
    assert results[2].call_id == "e"
    with pytest.raises(MCPToolError, match="failed on purpose"):
        demo.call("fail", {})


def test_annotations_are_shown_but_not_trusted_by_default(demo: MCPToolset) -> None:
    add = next(t for t in demo.tools if t.name == "add")
    assert isinstance(add, MCPToolDefinition)
    assert add.annotations == {"readOnlyHint": True}
    assert add.annotations_trusted is False and add.read_only is False


def test_sync_api_from_a_running_loops_thread_pool(demo: MCPToolset) -> None:
    async def main() -> list[Any]:
        loop = asyncio.get_running_loop()
        jobs = [loop.run_in_executor(None, demo.call, "add", {"a": i, "b": 1}) for i in range(8)]
        return await asyncio.gather(*jobs)

    assert [r["result"] for r in asyncio.run(main())] == [i + 1 for i in range(8)]


async def test_sync_toolset_used_from_async_code(demo: MCPToolset) -> None:
    results = await aexecute_tool_calls([call("add", {"a": 1, "b": 2})], demo)
    assert json.loads(results[0].output_text()) == {"result": 3}
    assert await demo.acall("add", {"a": 2, "b": 2}) == {"result": 4}


# -- failures ------------------------------------------------------------------------------------
def test_slow_tool_past_its_timeout_sync_and_async(demo: MCPToolset) -> None:
    [result] = execute_tool_calls([call("slow", {"seconds": 30})], demo, timeout=0.5)
    assert result.error is not None and "timed out" in result.error

    async def run() -> Any:
        return await aexecute_tool_calls([call("slow", {"seconds": 30})], demo, timeout=0.5)

    [result] = asyncio.run(run())
    assert result.error is not None and "timed out" in result.error
    assert demo.call("add", {"a": 1, "b": 1}) == {"result": 2}  # the server is still usable
    assert demo.restarts == 0


def test_the_sync_executor_runs_mcp_calls_on_the_toolsets_own_loop(
    demo: MCPToolset, monkeypatch: pytest.MonkeyPatch
) -> None:
    import toolwire.tools.execution as execution

    def no_private_loop() -> None:
        raise AssertionError("an MCP call started a private event loop")

    monkeypatch.setattr(execution, "_AsyncGroup", no_private_loop)
    calls = [
        call("stamp", {"label": "a", "seconds": 0.3}, "a"),
        call("stamp", {"label": "b", "seconds": 0.3}, "b"),
    ]
    first, second = execute_tool_calls(calls, demo)
    assert first.error is None and second.error is None
    a_start, a_end = map(float, first.output_text().split()[1:])
    b_start, b_end = map(float, second.output_text().split()[1:])
    assert a_start < b_end and b_start < a_end  # concurrent on the server

    # a call past its timeout is cancelled on the toolset's loop, not left running there
    [late] = execute_tool_calls([call("slow", {"seconds": 30})], demo, timeout=0.3)
    assert late.error is not None and "timed out" in late.error

    async def calls_running() -> list[asyncio.Task[Any]]:  # runs on the toolset's loop
        return [t for t in asyncio.all_tasks() if "MCPToolset._call" in repr(t.get_coro())]

    deadline = time.monotonic() + 5
    while demo._running().run(calls_running()):
        assert time.monotonic() < deadline, "the timed-out call still runs on the toolset's loop"
        time.sleep(0.02)


def test_a_crashing_server_is_an_error_result_then_restarted(tmp_path: Path) -> None:
    with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        calls = [call("crash", {}, "x"), call("add", {"a": 1, "b": 2}, "y")]
        [crashed, added] = execute_tool_calls(calls, server)
        # the concurrent call either finished before the crash or failed with it; it never hangs
        assert added.error is None or "MCPConnectionError" in added.error
        assert crashed.error is not None and "closed the connection" in crashed.error
        assert "MCPConnectionError" in crashed.error
        assert server.call("add", {"a": 2, "b": 3}) == {"result": 5}  # a new process
        assert server.restarts == 1
        with pytest.raises(MCPConnectionError, match="restarted on next use"):
            server.call("crash", {})


async def test_a_crashing_server_async() -> None:
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        [crashed] = await aexecute_tool_calls([call("crash", {})], server)
        assert crashed.error is not None and "MCPConnectionError" in crashed.error
        assert await server.acall("add", {"a": 2, "b": 3}) == {"result": 5}
        assert server.restarts == 1


async def test_a_change_made_by_the_first_call_after_a_restart_is_seen() -> None:
    # 2026-07-28 servers announce list changes only to acknowledged `subscriptions/listen`
    # streams, without replay: a restarted connection is ready only once its subscription is
    # acknowledged, so a first call that changes the list is announced (Python 3.12+ used to
    # send that call before the subscription request and miss the change).
    async with MCPToolset.stdio(sys.executable, [str(DEMO)]) as server:
        with pytest.raises(MCPConnectionError):
            await server.acall("crash", {})
        assert await server.acall("rug_pull") == {"result": "changed"}
        assert server.restarts == 1
        deadline = asyncio.get_running_loop().time() + 5
        while not any(t.name == "add" and t.pin_change for t in await server.alist_tools()):
            assert asyncio.get_running_loop().time() < deadline, "the toolset never saw list_changed"
            await asyncio.sleep(0.02)
        with pytest.raises(MCPToolChangedError, match="id_rsa"):
            await server.acall("add", {"a": 1, "b": 2})


def test_a_server_that_cannot_start_is_a_typed_error() -> None:
    before = set(threading.enumerate())
    with pytest.raises(MCPConnectionError, match="could not be started"):
        MCPToolset.stdio(sys.executable, ["-c", "import sys; sys.exit(4)"], connect_timeout=20).open()
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("toolwire-mcp")]


# -- pinning -------------------------------------------------------------------------------------
def test_a_tool_changed_on_the_fly_is_refused_until_approved(tmp_path: Path) -> None:
    pins = tmp_path / "pins.json"
    with MCPToolset.stdio(sys.executable, [str(DEMO)], pin_file=pins, name="demo") as server:
        assert server.call("add", {"a": 1, "b": 2}) == {"result": 3}
        assert "add" in json.loads(pins.read_text())["servers"]["demo"]
        server.call("rug_pull")
        add = next(t for t in server.tools if t.name == "add")  # re-listed after list_changed
        assert isinstance(add, MCPToolDefinition)
        assert add.pin_change is not None and "new arguments: c" in add.pin_change
        assert "id_rsa" in add.pin_change
        [refused] = execute_tool_calls([call("add", {"a": 1, "b": 2})], server)
        assert refused.error is not None
        assert "changed since it was approved" in refused.error and "id_rsa" in refused.error
        with pytest.raises(MCPToolChangedError) as info:
            server.call("add", {"a": 1, "b": 2})
        assert "description changed" in info.value.change

        seen: list[Any] = []

        def approve(tool_call: ToolCall, tool: Any) -> bool:
            seen.append((tool.pin_change, tool.annotations))
            return True

        [ran] = execute_tool_calls([call("add", {"a": 1, "b": 2, "c": 3})], server, approve=approve)
        assert ran.error is None and json.loads(ran.output_text()) == {"result": 6}
        assert seen and "id_rsa" in seen[0][0]
        assert server.call("add", {"a": 1, "b": 1}) == {"result": 2}  # approved: no longer refused
        assert "id_rsa" in json.loads(pins.read_text())["servers"]["demo"]["add"]["description"]


def test_the_pin_file_flags_a_changed_tool_at_start_and_approve_updates_it(tmp_path: Path) -> None:
    pins = tmp_path / "pins.json"
    pins.write_text(
        json.dumps(
            {
                "version": 1,
                "servers": {
                    "demo": {
                        "add": {
                            "sha256": "0" * 64,
                            "description": "Add two integers, reviewed.",
                            "inputSchema": {"type": "object", "properties": {"a": {}, "b": {}}},
                        }
                    }
                },
            }
        )
    )
    with MCPToolset.stdio(sys.executable, [str(DEMO)], pin_file=pins, name="demo") as server:
        add = next(t for t in server.tools if t.name == "add")
        assert isinstance(add, MCPToolDefinition) and add.requires_approval
        assert "description changed from 'Add two integers, reviewed.'" in (add.pin_change or "")
        [refused] = execute_tool_calls([call("add", {"a": 1, "b": 2})], server)
        assert "no approver is configured" in (refused.error or "")
        assert "changed since it was approved" in (refused.error or "")
        server.approve("add")
        assert server.call("add", {"a": 1, "b": 2}) == {"result": 3}
    assert json.loads(pins.read_text())["servers"]["demo"]["add"]["description"] == "Add two integers."


def test_trusted_annotations() -> None:
    with MCPToolset.stdio(sys.executable, [str(DEMO)], trust_annotations=True, pin=False) as server:
        add = next(t for t in server.tools if t.name == "add")
        assert isinstance(add, MCPToolDefinition) and add.read_only and add.annotations_trusted
        # one source of truth: ToolDefinition.read_only, which early starts read
        assert "read_only" not in MCPToolDefinition.__annotations__
        turn = _Turn(registry={"add": add}, options=ExecutionOptions(), approve=None)
        assert turn.candidate(call("add", {"a": 1, "b": 2})) is add
        weather = next(t for t in server.tools if t.name == "weather")  # no readOnlyHint
        assert turn.candidate(call("weather", {"city": "Oslo"})) is None and not weather.read_only


def test_labels_never_show_credentials() -> None:
    server = MCPToolset.stdio("npx", ["srv", "--api-key", "sk-live-1", "--token=abc123", "--port", "80"])
    assert server.label == "stdio:npx srv --api-key *** --token=*** --port 80"
    assert "sk-live-1" not in repr(server)
    remote = MCPToolset.http(
        "https://user:pw@mcp.example.com/mcp?token=xyz", headers={"Authorization": "Bearer s"}
    )
    assert remote.label == "https://mcp.example.com/mcp"
    assert "xyz" not in repr(remote) and "pw" not in repr(remote) and "Bearer" not in repr(remote)
    with pytest.raises(MCPConnectionError, match="not open"):
        remote.call("anything")


def test_images_become_toolwire_images(paged: MCPToolset) -> None:
    from toolwire import Image

    [result] = execute_tool_calls([call("gh_snapshot", {})], paged)
    assert result.error is None
    text, image, note = result.output
    assert text == "the picture:"
    assert isinstance(image, Image) and image.media_type == "image/png" and image.size == 70
    assert note.startswith("[image omitted: image/svg+xml, ")


def test_a_server_that_ignores_stdin_eof_and_sigterm_is_killed_on_close() -> None:
    # closing stdin, then SIGTERM, then SIGKILL after the grace period: only the last one works here
    before = set(children_of(os.getpid()))
    with MCPToolset.stdio(sys.executable, [str(UNRULY), "--ignore-term"]) as server:
        assert server.call("add", {"a": 1, "b": 2}) == {"result": 3}
        [pid] = set(children_of(os.getpid())) - before
        assert (Path(f"/proc/{pid}/status").read_text().split("SigIgn:")[1].split()[0]) != "0" * 16
    assert pid not in children_of(os.getpid()) and pid not in zombies_of(os.getpid())


def test_a_server_that_hangs_in_the_handshake_is_a_timeout_without_the_close_grace(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The connection never became ready, so there is nothing to close gracefully: the timeout is
    # raised once the process is ended, not after the grace period a live connection gets (made
    # absurdly long here so that waiting it out would show). The bound is generous on purpose.
    import toolwire.mcp.toolset as toolset_module

    monkeypatch.setattr(toolset_module, "_STOP_GRACE", 600.0)
    before = set(children_of(os.getpid()))
    started = time.monotonic()
    hung = MCPToolset.stdio(sys.executable, ["-c", "import time; time.sleep(600)"], connect_timeout=1)
    with pytest.raises(MCPTimeoutError, match="did not connect within 1s"), hung:
        pass
    assert time.monotonic() - started < 120
    assert set(children_of(os.getpid())) <= before and not zombies_of(os.getpid())
    gc.collect()  # an exception left unread in the readiness future is reported when it is collected
    assert "never retrieved" not in caplog.text


def test_a_server_that_stops_answering_tools_list_is_a_typed_timeout_then_restarted() -> None:
    before = set(children_of(os.getpid()))
    with MCPToolset.stdio(sys.executable, [str(UNRULY), "--hang-list"]) as server:
        [pid] = set(children_of(os.getpid())) - before
        server.connect_timeout = 0.5  # also bounds a listing (the process started with the default)
        with pytest.raises(MCPTimeoutError, match=r"did not list its tools within 0\.5s"):
            server.refresh()
        server.connect_timeout = 30
        assert {t.name for t in server.refresh()} == {"add"}  # a new process answers its first listing
        assert server.restarts == 1 and pid not in children_of(os.getpid())
