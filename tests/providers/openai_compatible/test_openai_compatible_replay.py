"""Every recorded OpenAI-compatible cassette (Groq, Ollama, Ollama Cloud, Gemini's compatible
endpoint, Hugging Face router, DeepSeek, Cerebras, OpenRouter, vLLM): the values pinned per server.
Every cassette is also replayed whole by the OpenAI family's parametrized module,
tests/providers/openai/test_chat_completions_replay.py.

Ollama's native /api/chat is not a Chat Completions endpoint: its body is read with
`standardize_tool_response(body, "ollama")` instead of the provider.
"""

from __future__ import annotations

import json

import pytest

from support.openai_family import Turn, areplay_file, replay_file
from support.replay import fixture_path, load_cassette
from toolwire import standardize_tool_response
from toolwire.errors import InvalidRequestError, ProviderError
from toolwire.providers.openai import OllamaProvider, parse_chat_completion

DIR = "openai_compatible"


def _sync(name: str) -> list[Turn]:
    return replay_file(DIR, name)


async def _async(name: str) -> list[Turn]:
    return await areplay_file(DIR, name)


# -- pinned values ------------------------------------------------------------------------------


def test_groq_single_call_no_content_key() -> None:
    turns = _sync("groq_single_tool_call_and_tool_result.yaml")
    call = turns[0].response.tool_calls[0]  # type: ignore[index,union-attr]
    assert (call.id, call.name, call.arguments) == ("48f5r72yf", "get_weather", {"city": "Paris"})
    assert turns[0].response.content is None  # type: ignore[union-attr]
    assert turns[1].built_from_previous
    assert turns[1].sent["messages"][-1]["tool_call_id"] == "48f5r72yf"


def test_groq_parallel() -> None:
    resp = _sync("groq_parallel_tool_calls.yaml")[0].response
    assert [(c.id, c.name) for c in resp.tool_calls or []] == [  # type: ignore[union-attr]
        ("rew01jq49", "get_weather"),
        ("gbpypqxpx", "final_result"),
    ]
    assert resp.usage == {"prompt_tokens": 779, "completion_tokens": 65, "total_tokens": 844}  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_groq_tool_use_failed_400(mode: str) -> None:
    name = "groq_error_400_tool_use_failed.yaml"
    turns = _sync(name) if mode == "sync" else await _async(name)
    error = turns[0].error
    assert isinstance(error, InvalidRequestError)
    assert error.status_code == 400 and error.code == "tool_use_failed"
    assert "get_something_by_name" in error.body["error"]["failed_generation"]  # type: ignore[index]
    assert turns[1].response.tool_calls[0].arguments == {"name": "test"}  # type: ignore[index,union-attr]
    own = (turns[2].response.provider_data or {})["openai_compatible"]  # type: ignore[union-attr]
    assert own.get("reasoning", "").startswith("We need to respond")
    # Groq rejects reasoning_content on assistant turns: never sent back
    assert all("reasoning_content" not in m for m in turns[2].sent["messages"])


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_groq_error_inside_200_stream(mode: str) -> None:
    name = "groq_error_400_tool_use_failed_stream.yaml"
    turns = _sync(name) if mode == "sync" else await _async(name)
    error = turns[0].error
    assert type(error) is ProviderError
    assert error.code == "tool_use_failed"
    assert "Tool call validation failed" in error.message
    assert turns[1].response.tool_calls[0].arguments == {"name": "example"}  # type: ignore[index,union-attr]
    assert turns[2].response.finish_reason == "stop"  # type: ignore[union-attr]


def test_deepseek_reasoning_content_echoed() -> None:
    turns = _sync("deepseek_tool_calls_with_reasoning.yaml")
    first = turns[0].response
    assert first is not None
    assert first.content == "Let me load the dice rolling capability!"
    reasoning = (first.provider_data or {})["openai_compatible"]["reasoning_content"]
    assert reasoning.startswith("The user wants to play a dice game.")
    assert [(c.id, c.arguments) for c in first.tool_calls or []] == [
        ("call_00_sXqYgMESDht75NCLLZtt9804", {"id": "DICE_ROLL"})
    ]
    # DeepSeek's thinking mode needs reasoning_content back on the assistant turn that called tools
    for turn in turns[1:]:
        sent = [m for m in turn.sent["messages"] if m["role"] == "assistant"]
        recorded = [m for m in turn.interaction.request.json["messages"] if m["role"] == "assistant"]  # type: ignore[union-attr]
        # (the recorded empty "" belongs to a turn pydantic-ai injected itself, not a model turn)
        assert [m.get("reasoning_content") or None for m in sent] == [
            m.get("reasoning_content") or None for m in recorded
        ]
    assert [(c.id, c.name) for c in turns[1].response.tool_calls or []] == [  # type: ignore[union-attr]
        ("call_00_6edlnw3Z1MgeMfey687g8451", "get_player_name"),
        ("call_01_km02sac7sHxNDPATKLZy7705", "roll_dice"),
    ]
    assert turns[2].response.content.startswith("🎉 **Congratulations, Anne!**")  # type: ignore[union-attr]


def test_gemini_compat_empty_id_gets_a_stable_id() -> None:
    turns = _sync("gemini_openai_compat_tool_call_empty_id.yaml")
    call = turns[0].response.tool_calls[0]  # type: ignore[index,union-attr]
    assert call.id.startswith("call_") and len(call.id) == 29
    assert (call.name, call.arguments) == ("get_current_time", {})
    again = _sync("gemini_openai_compat_tool_call_empty_id.yaml")[0].response.tool_calls[0]  # type: ignore[index,union-attr]
    assert again.id == call.id


def test_huggingface_and_ollama_empty_content_is_none() -> None:
    hf = _sync("huggingface_router_parallel_tool_calls.yaml")[0].response
    assert hf is not None and hf.content is None
    assert [c.id for c in hf.tool_calls or []] == [
        "call_c67bb6b901354ca19bd1b70d",
        "call_1113747bb7de47ce8bffe3e9",
    ]
    ollama = _sync("ollama_openai_compat_single_tool_call.yaml")[0].response
    assert ollama is not None and ollama.content is None and ollama.provider == "ollama"
    assert ollama.tool_calls[0].id == "call_ww759p36"  # type: ignore[index]
    assert ollama.finish_reason == "tool_calls"


def test_ollama_cloud_reasoning_kept() -> None:
    turns = _sync("ollama_cloud_tool_call_with_reasoning.yaml")
    assert turns[0].response.content == "Paris."  # type: ignore[union-attr]
    assert "reasoning" in (turns[0].response.provider_data or {})["openai_compatible"]  # type: ignore[union-attr]
    assert turns[1].response.tool_calls[0].arguments == {"city": "Paris", "country": "France"}  # type: ignore[index,union-attr]


def test_cerebras_text_then_call() -> None:
    turns = _sync("cerebras_qwen_tool_call.yaml")
    assert turns[0].response.tool_calls is None and turns[0].response.finish_reason == "stop"  # type: ignore[union-attr]
    call = turns[1].response.tool_calls[0]  # type: ignore[index,union-attr]
    assert (call.id, call.arguments) == ("b8847f144", {"city": "Paris", "country": "France"})


def test_ollama_stream_tool_call_as_text_is_text() -> None:
    resp = _sync("ollama_openai_compat_stream_tools_emitted_as_text.yaml")[0].response
    assert resp is not None and resp.tool_calls is None
    assert resp.content is not None and resp.content.startswith('<tool_call>\n{"name": "get_weather"')


@pytest.mark.parametrize(
    ("name", "call_id"),
    [
        ("openrouter_stream_tool_call_args_empty_then_full.yaml", "0"),
        ("openrouter_stream_tool_call_args_full_first.yaml", "0"),
        ("openrouter_stream_tool_call_name_then_args.yaml", "llm_version:0"),
    ],
)
async def test_openrouter_stream_variants(name: str, call_id: str) -> None:
    for turns in (_sync(name), await _async(name)):
        resp = turns[0].response
        assert resp is not None
        assert [(c.id, c.name, c.arguments, c.arguments_error) for c in resp.tool_calls or []] == [
            (call_id, "llm_version", {}, None)
        ]
        assert turns[1].response.content.startswith("The ")  # type: ignore[union-attr]


def test_vllm_empty_tool_calls_list() -> None:
    resp = _sync("vllm_chat_completion.yaml")[0].response
    assert resp is not None and resp.tool_calls is None and resp.finish_reason == "stop"
    assert resp.usage == {"prompt_tokens": 43, "completion_tokens": 36, "total_tokens": 79}


# -- Ollama native /api/chat ----------------------------------------------------------------------


def test_ollama_native_body_standardized() -> None:
    body = (
        load_cassette(fixture_path(DIR, "ollama_native_api_chat_tool_call.yaml"))
        .interactions[0]
        .response.json()
    )
    calls = standardize_tool_response(body, "ollama")
    assert [(c.id, c.name, c.arguments, c.arguments_error) for c in calls] == [
        ("call_gsiiy8py", "get_current_weather", {"city": "Paris"}, None)
    ]
    assert json.loads(calls[0].raw_arguments or "") == {"city": "Paris"}
    parsed = parse_chat_completion(body, provider="ollama")
    assert parsed.finish_reason == "tool_calls"  # done_reason "stop" beside a call
    assert parsed.usage == {"prompt_tokens": 292, "completion_tokens": 143, "total_tokens": 435}
    assert parsed.model == "qwen3.6:latest" and parsed.content is None


def test_ollama_native_flat_error() -> None:
    recorded = load_cassette(fixture_path(DIR, "ollama_native_api_error_404.yaml")).interactions[0].response
    llm = OllamaProvider(model="x")
    error = llm.map_error(recorded.status, recorded.headers, recorded.body)
    assert isinstance(error, InvalidRequestError)
    assert error.status_code == 404
    assert error.message == "model 'nonexistent-model:latest' not found"
