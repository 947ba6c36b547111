"""Anthropic's separate input- and output-token limits in the adaptive pacing (toolwire._pacing).

Anthropic answers every call with `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
{limit,remaining,reset}` (docs.anthropic.com/en/api/rate-limits; resets in RFC 3339). The headers
here are the recorded ones from ../shared/fixtures/recorded/anthropic/
anthropic_tool_result_history_request.yaml (read from there, not copied), served through a mock
transport so the provider, its usage and the pacer run as in production. A fake clock: nothing
waits on the wall clock.
"""

from __future__ import annotations

import datetime
from typing import Any

import httpx2
import pytest

from support.fake_clock import Clock
from support.replay import fixture_path, load_cassette
from toolwire import AbstractLLM
from toolwire._pacing import LEARNED_MARGIN, Pacer, Permit, read_limits

RECORDED = ("anthropic", "anthropic_tool_result_history_request.yaml")


def _recorded() -> tuple[dict[str, str], bytes, float]:
    """The recorded answer's headers and body, and a wall clock 30 s before its requests reset."""
    response = load_cassette(fixture_path(*RECORDED)).interactions[0].response
    headers = {k.lower(): v for k, v in response.headers.items()}
    stamp = headers["anthropic-ratelimit-requests-reset"].replace("Z", "+00:00")
    reset = datetime.datetime.fromisoformat(stamp)
    return headers, response.body, reset.timestamp() - 30.0


def test_recorded_headers_give_input_and_output_token_limits() -> None:
    headers, _, wall = _recorded()
    limits = read_limits(headers, wall=wall)
    assert set(limits) == {"requests", "tokens", "input_tokens", "output_tokens"}
    assert (limits["input_tokens"].limit, limits["input_tokens"].remaining) == (400000, 400000)
    assert (limits["output_tokens"].limit, limits["output_tokens"].remaining) == (80000, 80000)
    assert limits["input_tokens"].reset == pytest.approx(30.0)
    assert limits["output_tokens"].reset == pytest.approx(31.0)  # recorded one second later
    assert limits["tokens"].limit == 480000 and limits["requests"].limit == 4000


def test_the_input_token_limit_paces_what_a_call_really_read() -> None:
    headers, body, wall = _recorded()
    clock = Clock()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=headers, content=body)

    llm = AbstractLLM.create(
        "anthropic",
        model="claude-sonnet-4-0",
        api_key="k",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    llm.transport.sleep = clock.sleep
    llm.transport.clock = clock
    llm.transport.pacer.clock = clock
    llm.transport.pacer.wall = lambda: wall
    first = llm.generate("What time is it in Los Angeles?", max_tokens=100)
    assert first.usage == {"prompt_tokens": 568, "completion_tokens": 58, "total_tokens": 626}
    pacer = llm.transport.pacer
    assert pacer.rate("input_tokens") == pytest.approx(400000 * LEARNED_MARGIN)
    assert pacer.rate("output_tokens") == pytest.approx(80000 * LEARNED_MARGIN)
    # the first call was sent before any limit was known; from the second on, each call's start is
    # booked on its estimate and corrected by its usage
    llm.generate("again", max_tokens=100)
    llm.generate("and again", max_tokens=100)
    # the tightest of the four paces after 568 input tokens is the input-token one (568 at
    # 388,000/min), tighter than the combined `tokens` pace (626 at 465,600/min)
    assert clock.sleeps[-1] == pytest.approx(568 * 60 / (400000 * LEARNED_MARGIN))


def test_output_tokens_from_usage_are_booked_against_the_output_limit() -> None:
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: 0.0)
    headers: dict[str, Any] = {
        "anthropic-ratelimit-output-tokens-limit": "600",  # 10 a second once the margin is off
        "anthropic-ratelimit-output-tokens-remaining": "600",
        "anthropic-ratelimit-output-tokens-reset": "1970-01-01T00:01:00Z",
    }
    permit = pacer.acquire(b"x" * 40, clock.sleep)
    pacer.release(permit, 200, headers)
    # the answer said: 10 read, 97 written; 97 output tokens at 582/min is 10 s of output budget
    pacer.settle_usage(permit.tokens, {"prompt_tokens": 10, "completion_tokens": 97, "total_tokens": 107})
    pacer.acquire(b"x" * 40, clock.sleep)
    assert clock.now == pytest.approx(97 * 60 / (600 * LEARNED_MARGIN))


def test_no_output_tokens_left_pauses_until_an_answers_worth_has_refilled() -> None:
    # the reset (31 s) is when the whole output-token limit is back; the bucket refills
    # continuously (80,000 a minute), so the next answer's worth comes back much sooner
    headers, _, wall = _recorded()
    headers["anthropic-ratelimit-output-tokens-remaining"] = "0"
    clock = Clock()
    pacer = Pacer(clock=clock, wall=lambda: wall)
    pacer.release(pacer.acquire(b"", clock.sleep), 200, headers)
    assert pacer.pause_left() == pytest.approx(60 / 80000)  # no answer seen yet: one token's worth
    pacer.settle(1, 1, completion=800)  # an answer wrote 800 tokens: the next may as well
    pacer.release(Permit(1, False), 200, headers)
    assert pacer.pause_left() == pytest.approx(800 * 60 / 80000)  # 0.6 s, not 31 s
