"""Secret scan: every error path, with DEBUG logging captured, never shows the key or the token.

The server is hostile on purpose: its error bodies echo the credentials it received (as some
proxies do), so the check covers what toolwire builds from responses, not only what it formats.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from fault_server import SECRET_KEY, FaultServer, Reply, fault_server, kits
from toolwire import AbstractLLM
from toolwire.errors import ToolwireError

TOKEN = "eyJ0eXAiOiJKV1QiSECRET-entra-token-abcdef"
SECRETS = (SECRET_KEY, TOKEN, SECRET_KEY[3:], TOKEN[10:])
KITS = kits()


def get_weather(city: str) -> str:
    """Weather.

    Args:
        city: the city
    """
    return "sunny"


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with fault_server() as srv:
        yield srv


def _echo(status: int, base: Reply, secret: str) -> Reply:
    """An error body that quotes the credential it received (a proxy's 401 quoting its input)."""
    text = f"bad credentials Bearer {secret} / key={secret}"
    body = base.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body["error"]["message"] = text
    elif isinstance(body, dict):
        body["message"] = text
    return Reply(status=status, body=body, headers={"retry-after": "0"})


async def _no_wait(_seconds: float) -> None:
    return None


def _providers(url: str) -> list[Any]:
    llms = [kit.create(url, max_retries=1, timeout=0.3) for kit in KITS.values()]
    llms.append(
        AbstractLLM.create(
            "azure_openai",
            deployment="gpt-4o",
            azure_endpoint=url,
            azure_ad_token_provider=lambda: TOKEN,
            max_retries=1,
            timeout=0.3,
        )
    )
    return llms


def _scripts(llm: Any) -> list[tuple[str, list[Reply], bool]]:
    kit = KITS[llm.name]
    secret = SECRET_KEY if llm._api_key else TOKEN
    return [
        (f"{status}", [_echo(status, kit.error(status), secret)], False)
        for status in (400, 401, 403, 404, 429, 500, 503, 529)
    ] + [
        ("reset", [Reply(reset=True)], False),
        ("timeout", [Reply(delay=1.0, body={})], False),
        ("bad json", [Reply(body=b"{not json")], False),
        ("stream cut", [Reply(sse=kit.stream(), drop_after=kit.mid_call)], True),
        ("stream reset", [Reply(sse=kit.stream(), drop_after=0)], True),
    ]


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret leaked in {where}: {text[:500]}"


def test_no_secret_in_errors_reprs_or_debug_logs(
    server: FaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen_errors = 0
    with caplog.at_level(logging.DEBUG):
        for llm in _providers(server.url):
            _assert_clean(repr(llm), "provider repr")
            _assert_clean(str(llm), "provider str")
            llm.transport.sleep = lambda _s: None
            llm.transport.asleep = _no_wait
            for label, script, stream in _scripts(llm):
                for mode in ("sync", "async"):
                    server.script = script
                    try:
                        if mode == "sync":
                            result = llm.generate("hi", tools=[get_weather], stream=stream)
                            if stream:
                                list(result)
                        else:

                            async def run(llm: Any = llm, stream: bool = stream) -> None:
                                result = await llm.agenerate("hi", tools=[get_weather], stream=stream)
                                if stream:
                                    async for _ in result:
                                        pass

                            asyncio.run(run())
                    except ToolwireError as exc:
                        seen_errors += 1
                        where = f"{llm.name} {label} {mode}"
                        _assert_clean(str(exc), f"str(error) {where}")
                        _assert_clean(repr(exc), f"repr(error) {where}")
                        _assert_clean(repr(getattr(exc, "body", None)), f"error.body {where}")
                        _assert_clean("".join(traceback.format_exception(exc)), f"traceback {where}")
                    else:
                        pytest.fail(f"{llm.name} {label} {mode}: expected an error")
    assert seen_errors == (len(KITS) + 1) * 13 * 2  # every kit, plus Azure with a token provider
    _assert_clean(caplog.text, "logs")
    assert "retrying" in caplog.text  # the retry path was logged (and is clean)
    # the credentials did reach the server: the scan would have seen them had they leaked
    headers = " ".join(str(seen.headers) for seen in server.seen)
    assert SECRET_KEY in headers or TOKEN in headers


def test_fallback_and_mask_show_at_most_a_hint() -> None:
    llm = AbstractLLM.create(
        "fallback", providers=[("openai", {"api_key": SECRET_KEY}), ("anthropic", {"api_key": SECRET_KEY})]
    )
    text = repr(llm)
    _assert_clean(text, "fallback repr")
    assert "sk-…7890" in text
