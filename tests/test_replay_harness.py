"""The replay helper reads every recorded fixture and serves it the way a server would."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from support.replay import (
    ReplayFactory,
    all_fixture_files,
    fixture_path,
    fixtures_root,
    load_cassette,
    replay_clients,
)
from support.replay import replay as replay
from toolwire._framing import iter_sse
from toolwire._transport import client_override
from toolwire.testing import CassetteMismatchError, ReplayTransport

FILES = all_fixture_files()
DIALECTS = {"V", "Vz", "Vo", "P", "R", "J", "C"}


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_fixture_directory_found() -> None:
    # Guards the parametrized tests below against silently collecting nothing.
    assert fixtures_root().is_dir(), f"fixtures not found at {fixtures_root()}"
    assert len(FILES) >= 70


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_every_fixture_loads(path: Path) -> None:
    cassette = load_cassette(path)
    assert cassette.dialect in DIALECTS
    assert len(cassette) >= 1
    for interaction in cassette.interactions:
        response = interaction.response
        assert 100 <= response.status < 600
        # MCP answers notifications with an empty 202, and the DELETE that ends its session with nothing
        deleting = interaction.request is not None and interaction.request.method == "DELETE"
        if response.status not in (202, 204) and not deleting:
            assert response.body, "empty response body"
        assert "content-encoding" not in response.headers
        assert "content-length" not in response.headers
        assert "transfer-encoding" not in response.headers
        assert all(k == k.lower() for k in response.headers)
        request = interaction.request
        if request is not None:
            assert request.method in {"GET", "POST", "DELETE"}  # DELETE: MCP ends its session
            assert request.uri.startswith(("http://", "https://"))
            assert "#" not in request.uri
            assert all(k == k.lower() for k in request.headers)
        if response.is_stream and response.status < 400:
            assert b"data:" in response.body
        elif "json" in response.headers.get("content-type", "") and not response.is_stream and response.body:
            response.json()  # JSON bodies are decoded, not gzip or brotli bytes


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_every_fixture_replays_through_httpx2(path: Path) -> None:
    """Sending each recorded request back gets each recorded body, byte for byte, in order."""
    cassette = load_cassette(path)
    client, _, transport = replay_clients(cassette)
    with client:
        for interaction in cassette.interactions:
            request = interaction.request
            method, url = (
                ("POST", "https://example.invalid/x") if request is None else (request.method, request.uri)
            )
            body = None if request is None else request.body
            response = client.request(method, url, content=body)
            assert response.status_code == interaction.response.status
            assert response.content == interaction.response.body
    assert transport.unused == []
    assert len(transport.requests) == len(cassette)


def test_dialect_detection() -> None:
    expected = {
        ("openai", "openai_structured_output_json_schema_refusal.yaml"): "Vz",
        ("openai", "openai_error_401_invalid_api_key.yaml"): "Vo",
        ("openai", "openai_parallel_tool_calls_no_args_and_tool_results.yaml"): "R",
        ("mistral", "mistral_single_tool_call_and_tool_result.yaml"): "P",
        ("openai", "openai_parallel_tool_calls_and_tool_results.yaml"): "V",
        ("anthropic", "anthropic_error_400_tool_schema.json"): "J",
        ("gemini", "gemini_vertex_stream_function_call_partial_args.chunks.txt"): "C",
    }
    found = {key: load_cassette(fixture_path(*key)).dialect for key in expected}
    assert found == expected


def test_vz_gzip_bodies_are_decompressed() -> None:
    cassette = load_cassette(fixture_path("openai", "openai_structured_output_json_schema_refusal.yaml"))
    assert len(cassette) == 3
    for interaction in cassette.interactions:
        body = interaction.response.json()
        message = body["choices"][0]["message"]
        assert message["content"] is None
        assert message["refusal"]


def test_vz_gzip_sse_stream_is_decompressed() -> None:
    path = fixture_path("anthropic", "anthropic_parallel_tool_use_no_args_stream_and_tool_results.yaml")
    first = load_cassette(path).interactions[0].response
    assert first.is_stream
    assert first.body.startswith(b"event: message_start")


def test_r_body_parses_without_brotli() -> None:
    path = fixture_path("openai", "openai_parallel_tool_calls_no_args_and_tool_results.yaml")
    cassette = load_cassette(path)
    client, _, _ = replay_clients(cassette)
    with client:
        request = cassette.interactions[0].request
        assert request is not None
        response = client.post(request.uri, content=request.body)
    assert "content-encoding" not in response.headers
    calls = response.json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["current_date", "current_month"]
    assert request.json is not None and request.json["model"] == "gpt-4.1-nano"


def test_p_parsed_body_round_trip() -> None:
    cassette = load_cassette(fixture_path("mistral", "mistral_single_tool_call_and_tool_result.yaml"))
    first, second = cassette.interactions
    call = first.response.json()["choices"][0]["message"]["tool_calls"][0]
    assert call["id"] == "KikbB849t"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert second.request is not None and second.request.body is not None
    sent = json.loads(second.request.body)
    assert sent == second.request.json
    tool_messages = [m for m in sent["messages"] if m["role"] == "tool"]
    assert tool_messages == [{"content": "Sunny, 22C in Paris", "role": "tool", "tool_call_id": "KikbB849t"}]


def test_p_keeps_sse_body_and_content_type() -> None:
    path = fixture_path("openai", "openai_tool_call_stream_and_tool_result_stream.yaml")
    response = load_cassette(path).interactions[0].response
    assert response.is_stream
    assert b"data: [DONE]" in response.body


def test_c_chunks_rebuilt_as_sse() -> None:
    path = fixture_path("gemini", "gemini_vertex_stream_function_call_partial_args.chunks.txt")
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    cassette = load_cassette(path)
    client, _, _ = replay_clients(cassette)
    with client, client.stream("POST", "https://aiplatform.googleapis.com/x:streamGenerateContent") as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        events = list(iter_sse(resp))
    assert len(events) == len(lines) == 8  # the last line has no trailing newline
    assert [json.loads(e.data) for e in events] == [json.loads(line) for line in lines]


@pytest.mark.parametrize(
    ("provider", "name", "status"),
    [
        ("anthropic", "anthropic_error_400_tool_schema.json", 400),
        ("gemini", "gemini_error_429_resource_exhausted.json", 429),
    ],
)
def test_j_status_from_file_name(provider: str, name: str, status: int) -> None:
    cassette = load_cassette(fixture_path(provider, name))
    (interaction,) = cassette.interactions
    assert interaction.request is None
    assert interaction.response.status == status
    assert "error" in interaction.response.json()


def test_vo_status_code_and_content() -> None:
    cassette = load_cassette(fixture_path("openai", "openai_error_401_invalid_api_key.yaml"))
    response = cassette.interactions[0].response
    assert response.status == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_uri_fragment_dropped() -> None:
    cassette = load_cassette(fixture_path("mistral", "mistral_tool_call_stream.yaml"))
    request = cassette.interactions[0].request
    assert request is not None
    assert request.uri == "https://api.mistral.ai/v1/chat/completions"


def test_stream_is_served_in_pieces_cut_mid_line() -> None:
    path = fixture_path("openai", "openai_parallel_tool_calls_stream.yaml")
    cassette = load_cassette(path)
    body = cassette.interactions[0].response.body
    client, _, _ = replay_clients(cassette)
    with client, client.stream("POST", "https://api.openai.com/v1/chat/completions") as resp:
        pieces = list(resp.iter_raw())
        # The parser must see the same events as if the body had arrived in one piece.
    assert b"".join(pieces) == body
    assert len(pieces) > 10
    assert any(not p.endswith(b"\n") for p in pieces[:-1])
    whole = httpx2.Response(200, content=body)
    chunked = httpx2.Response(200, stream=httpx2.ByteStream(b"".join(pieces)))
    assert [e.data for e in iter_sse(whole)] == [e.data for e in iter_sse(chunked)]


async def test_async_replay_streams_and_records() -> None:
    path = fixture_path("anthropic", "anthropic_tool_use_stream_and_tool_result_stream.yaml")
    _, async_client, transport = replay_clients(path)
    async with async_client:
        for _ in range(2):
            async with async_client.stream(
                "POST", "https://api.anthropic.com/v1/messages", json={"stream": True}
            ) as resp:
                chunks = [c async for c in resp.aiter_raw()]
                assert len(chunks) > 1
    assert [r.json for r in transport.requests] == [{"stream": True}, {"stream": True}]
    assert transport.unused == []


def test_sent_requests_are_kept_for_assertions() -> None:
    path = fixture_path("openai", "openai_parallel_tool_calls_and_tool_results.yaml")
    client, _, transport = replay_clients(path)
    with client:
        client.post(
            "https://api.openai.com/v1/chat/completions?x=1",
            json={"messages": []},
            headers={"Authorization": "Bearer sk-test"},
        )
    (sent,) = transport.requests
    assert sent.method == "POST"
    assert sent.path == "/v1/chat/completions"
    assert sent.url.endswith("?x=1")
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json == {"messages": []}
    assert json.loads(sent.body) == {"messages": []}


def test_mismatch_names_the_expected_request() -> None:
    client, _, _ = replay_clients(fixture_path("openai", "openai_parallel_tool_calls_and_tool_results.yaml"))
    with client, pytest.raises(AssertionError, match=r"expected interaction 1/2: POST /v1/chat/completions"):
        client.post("https://api.openai.com/v1/embeddings", json={})


def test_mismatch_is_a_toolwire_error_too() -> None:
    client, _, _ = replay_clients(fixture_path("openai", "openai_parallel_tool_calls_and_tool_results.yaml"))
    with client, pytest.raises(CassetteMismatchError, match=r"was GET /v1/chat/completions"):
        client.get("https://api.openai.com/v1/chat/completions")


def test_exhausted_cassette_raises() -> None:
    client, _, _ = replay_clients(fixture_path("openai", "openai_error_400_unsupported_value.yaml"))
    with client:
        assert client.post("https://api.openai.com/v1/chat/completions").status_code == 400
        with pytest.raises(
            AssertionError, match=r"request #2 .*all 1 recorded interaction\(s\) were already"
        ):
            client.post("https://api.openai.com/v1/chat/completions")


def test_host_and_query_are_ignored_when_matching() -> None:
    path = fixture_path("azure_openai", "azure_single_tool_call.yaml")
    request = load_cassette(path).interactions[0].request
    assert request is not None
    client, _, _ = replay_clients(path)
    path_only = request.uri.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
    with client:
        response = client.post(f"https://my-resource.openai.azure.com/{path_only}?api-version=2099-01-01")
    assert response.json()["choices"][0]["message"]["tool_calls"]


def test_path_mode_serves_same_path_in_recorded_order() -> None:
    cassette = load_cassette(fixture_path("openai_compatible", "groq_error_400_tool_use_failed.yaml"))
    transport = ReplayTransport(cassette, match="path")
    with httpx2.Client(transport=transport) as client:
        statuses = [
            client.post("https://api.groq.com/openai/v1/chat/completions").status_code for _ in range(3)
        ]
    assert statuses == [i.response.status for i in cassette.interactions] == [400, 200, 200]


def test_path_mode_picks_matching_path_and_reports_unused() -> None:
    # Two cassettes' worth of different paths in one: path mode must pick by path, not position.
    openai = load_cassette(fixture_path("openai", "openai_error_400_unsupported_value.yaml"))
    anthropic = load_cassette(fixture_path("anthropic", "anthropic_error_404_model_not_found.yaml"))
    openai.interactions.extend(anthropic.interactions)
    transport = ReplayTransport(openai, match="path")
    with httpx2.Client(transport=transport) as client:
        assert client.post("https://api.anthropic.com/v1/messages").status_code == 404
        assert len(transport.unused) == 1
        with pytest.raises(AssertionError, match=r"never requested: POST /v1/chat/completions"):
            transport.assert_all_used()
        with pytest.raises(AssertionError, match=r"no unused interaction .* POST /v1/messages"):
            client.post("https://api.anthropic.com/v1/messages")


def test_fixture_root_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "openai").mkdir()
    (tmp_path / "openai" / "x.json").write_text('{"ok": true}')
    monkeypatch.setenv("TOOLWIRE_FIXTURES", str(tmp_path))
    assert fixture_path("openai", "x.json") == tmp_path / "openai" / "x.json"
    with pytest.raises(FileNotFoundError, match="TOOLWIRE_FIXTURES"):
        fixture_path("openai", "missing.json")


def test_replay_fixture_installs_override(replay: ReplayFactory) -> None:
    session = replay("openai", "openai_error_404_model_not_found.yaml")
    override = client_override.get()
    assert override is not None and override.client is session.client
    response = override.client.post("https://api.openai.com/v1/chat/completions", json={"model": "gpt-4"})
    assert response.status_code == 404
    assert session.requests[0].json == {"model": "gpt-4"}
    session.assert_all_used()


async def test_replay_fixture_in_async_test(replay: ReplayFactory) -> None:
    session = replay("anthropic", "anthropic_error_404_model_not_found.yaml")
    override = client_override.get()
    assert override is not None
    response = await override.async_client.post("https://api.anthropic.com/v1/messages")
    assert response.json()["error"]["type"] == "not_found_error"
    assert len(session.requests) == 1
