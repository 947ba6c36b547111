"""Every recorded Chat Completions cassette of the OpenAI family (openai, azure_openai,
openai_compatible fixture folders) through the public API, sync and async, streamed where recorded.

One module parametrized over the three folders: each turn is checked against the openai SDK's own
reading of the body and each request against the OpenAPI schema (tests/support/openai_family.py),
and each non-streamed body is read by our parser, the SDK and `standardize_tool_response` alike.
The values a reader can check by eye stay in each provider's own replay module.
"""

from __future__ import annotations

import json

import pytest

from support.openai_family import (
    FIXTURE_COUNTS,
    NATIVE,
    areplay_file,
    expected_from_completion,
    family_files,
    replay_file,
    sdk_completion,
)
from support.replay import fixture_path, fixtures_root, load_cassette
from toolwire import standardize_tool_response
from toolwire.providers.openai import parse_chat_completion

DIRS = tuple(FIXTURE_COUNTS)
CASSETTES = [pytest.param(d, name, id=f"{d}/{name}") for d in DIRS for name in family_files(d)]


@pytest.mark.parametrize("provider_dir", DIRS)
def test_every_fixture_is_covered(provider_dir: str) -> None:
    every = [p.name for p in (fixtures_root() / provider_dir).iterdir()]
    assert len(every) == FIXTURE_COUNTS[provider_dir]
    assert len(family_files(provider_dir)) == len(every) - len(NATIVE.intersection(every))


@pytest.mark.parametrize(("provider_dir", "name"), CASSETTES)
def test_replay_whole_conversation_sync(provider_dir: str, name: str) -> None:
    turns = replay_file(provider_dir, name)
    assert len(turns) == len(load_cassette(fixture_path(provider_dir, name)))


@pytest.mark.parametrize(("provider_dir", "name"), CASSETTES)
async def test_replay_whole_conversation_async(provider_dir: str, name: str) -> None:
    turns = await areplay_file(provider_dir, name)
    assert len(turns) == len(load_cassette(fixture_path(provider_dir, name)))


def _bodies() -> list[object]:
    out = []
    for provider_dir in DIRS:
        for name in family_files(provider_dir):
            for i, it in enumerate(load_cassette(fixture_path(provider_dir, name)).interactions):
                # (Azure answers a filtered prompt with an error body behind a 200: not a completion)
                if (
                    it.response.status == 200
                    and not it.response.is_stream
                    and "choices" in it.response.json()
                ):
                    out.append(pytest.param(provider_dir, name, i, id=f"{provider_dir}/{name}-{i}"))
    return out


@pytest.mark.parametrize(("provider_dir", "name", "index"), _bodies())
def test_sdk_oracle_and_standardize(provider_dir: str, name: str, index: int) -> None:
    body = load_cassette(fixture_path(provider_dir, name)).interactions[index].response.json()
    ours = parse_chat_completion(body, provider=provider_dir)
    calls = list(ours.tool_calls or [])
    sdk = sdk_completion(body)
    sdk_calls = sdk.choices[0].message.tool_calls or []
    assert [(c.name, c.arguments) for c in calls] == [
        (tc.function.name, json.loads(tc.function.arguments)) for tc in sdk_calls
    ]
    assert [c.raw_arguments for c in calls] == [tc.function.arguments for tc in sdk_calls]
    for call, tc in zip(calls, sdk_calls):
        # the recorded id, exactly; Gemini's compatible endpoint sends "": a generated one instead
        assert call.id == (tc.id or call.id) and call.id
    sdk_ids = [tc.id for tc in sdk_calls]
    assert all(sdk_ids) or provider_dir == "openai_compatible"  # only there does a server omit ids
    standardized = standardize_tool_response(sdk, provider_dir)
    assert [c.to_dict() for c in standardized] == [c.to_dict() for c in calls]
    assert standardized.content == ours.content
    assert standardize_tool_response(body, provider_dir).tool_calls == standardized.tool_calls
    expected = expected_from_completion(body).calls
    assert [(i or c.id, n, a) for (i, n, a), c in zip(expected, calls)] == [
        (c.id, c.name, c.arguments) for c in calls
    ]
    assert len(expected) == len(calls)
    # the filter annotations (Azure's) are kept under the provider's name, where the body has them
    own = (ours.provider_data or {}).get(provider_dir, {})
    if body.get("prompt_filter_results"):
        assert own["prompt_filter_results"] == body["prompt_filter_results"]
    if body["choices"][0].get("content_filter_results"):
        assert own["content_filter_results"] == body["choices"][0]["content_filter_results"]
