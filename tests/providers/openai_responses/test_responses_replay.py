"""Every recorded Responses API cassette (OpenAI, Azure OpenAI, Open Responses servers) through the
public API, sync and async, streamed where recorded (see responses_family.py for what each turn
checks); then the values a reader can check by eye in the fixture files."""

from __future__ import annotations

import pytest
from responses_family import DIRS, replay_conversation, replay_conversation_async

from support.replay import fixture_path, fixtures_root, load_cassette

FILES = [(d, p.name) for d in DIRS for p in sorted((fixtures_root() / d).iterdir())]
# Call ids compared by pairing, not spelling, where the recorded client wrote its own: Bedrock
# Mantle names every call "call_0" and pydantic-ai prefixed every replayed id with its response id
# (we prefix only ids that repeat, pinned in test_responses_pinned.py); the March 2025 pydantic-ai
# stream recording replayed the item's `fc_…` id as `call_id` (we send the `call_…` id the
# service gave, as the spec and the other recordings do).
CANONICAL = {
    "bedrock_mantle_responses_sequential_function_calls.yaml",
    "openai_responses_stream_function_call_arguments_delta_and_output.yaml",
}


def test_every_responses_fixture_is_covered() -> None:
    assert len(FILES) == 18


@pytest.mark.parametrize(("folder", "name"), FILES)
def test_replay_sync(folder: str, name: str) -> None:
    cassette = load_cassette(fixture_path(folder, name))
    turns = replay_conversation(folder, cassette, canonical_ids=name in CANONICAL)
    assert all(t.response is not None or t.error is not None for t in turns)


@pytest.mark.parametrize(("folder", "name"), FILES)
async def test_replay_async(folder: str, name: str) -> None:
    cassette = load_cassette(fixture_path(folder, name))
    turns = await replay_conversation_async(folder, cassette, canonical_ids=name in CANONICAL)
    assert all(t.response is not None or t.error is not None for t in turns)
