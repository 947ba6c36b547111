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

from support.fault_server import SECRET_KEY, FaultServer, Reply, fault_server, kits
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
        "fallback",
        providers=[
            ("openai", {"api_key": SECRET_KEY, "model": "gpt-4o-mini"}),
            ("anthropic", {"api_key": SECRET_KEY, "model": "claude-haiku-4-5"}),
        ],
    )
    text = repr(llm)
    _assert_clean(text, "fallback repr")
    assert "sk-…7890" in text


# -- issue 16: every credential the provider was given, in every form, on every path ------------
APIM_KEY = "apim-SUBSCRIPTION-9f8e7d6c5b4a"
PROXY_PASSWORD = "proxy-PASSWORD-0a1b2c3d"
ALL_SECRETS = (SECRET_KEY, APIM_KEY, PROXY_PASSWORD)


def _assert_none_of(text: str, where: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text, f"{secret[:6]}… leaked in {where}: {text[:400]}"


def _stream_error_event(name: str, text: str) -> list[bytes]:
    from support.fault_server import sse

    if name == "anthropic":
        return [sse({"type": "error", "error": {"type": "invalid_request_error", "message": text}}, "error")]
    return [sse({"error": {"message": text, "code": 400, "status": "INVALID_ARGUMENT"}})]


def _echo_text() -> str:
    return f"got key={SECRET_KEY} apim={APIM_KEY} proxy=proxyuser:{PROXY_PASSWORD}"


def _hostile_cases(kit: Any) -> list[tuple[str, list[Reply], bool]]:
    text = _echo_text()
    error = kit.error(401)
    body = error.body
    if isinstance(body.get("error"), dict):
        body["error"]["message"] = text
    else:
        body["message"] = text
    echo_headers = {"x-request-id": text, "request-id": text, "apim-request-id": text}
    return [
        ("401 echoing every credential", [Reply(status=401, body=body, headers=echo_headers)], False),
        ("error event inside a 200 stream", [Reply(sse=_stream_error_event(kit.name, text))], True),
        ("non-JSON 200 body", [Reply(body=f"<html>{text}</html>".encode())], False),
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("name", sorted(KITS))
def test_every_credential_form_is_scrubbed_everywhere(
    server: FaultServer, caplog: pytest.LogCaptureFixture, name: str, mode: str
) -> None:
    kit = KITS[name]
    # a proxy password in the URL, an APIM key in default_headers, and a key read from a file
    # with its newline: none of them may come back out
    proxied = server.url.replace("http://", f"http://proxyuser:{PROXY_PASSWORD}@")
    llm = kits(key=SECRET_KEY + "\n")[name].create(
        proxied, max_retries=0, default_headers={"Ocp-Apim-Subscription-Key": APIM_KEY}
    )
    _assert_none_of(repr(llm), "provider repr")
    with caplog.at_level(logging.DEBUG):
        for label, script, stream in _hostile_cases(kit):
            server.script = script
            where = f"{name} {label} {mode}"
            with pytest.raises(ToolwireError) as info:
                if mode == "sync":
                    result = llm.generate("hi", tools=[get_weather], stream=stream)
                    if stream:
                        list(result)
                else:

                    async def run(stream: bool = stream) -> None:
                        result = await llm.agenerate("hi", tools=[get_weather], stream=stream)
                        if stream:
                            async for _ in result:
                                pass

                    asyncio.run(run())
            exc = info.value
            assert not getattr(exc, "retryable", False), where  # a 401 from a stripped key: final
            _assert_none_of(str(exc), f"str(error) {where}")
            _assert_none_of(repr(exc), f"repr(error) {where}")
            _assert_none_of(repr(getattr(exc, "body", None)), f"error.body {where}")
            _assert_none_of(repr(getattr(exc, "request_id", None)), f"error.request_id {where}")
            _assert_none_of("".join(traceback.format_exception(exc)), f"traceback {where}")
            sent = server.seen[-1].headers
            # the key went out stripped (a bearer key is replaced by the URL's Basic userinfo: httpx2)
            assert any(v in (SECRET_KEY, f"Bearer {SECRET_KEY}") or v[:6] == "Basic " for v in sent.values())
            assert not any(v.endswith("\n") for v in sent.values())
    _assert_none_of(caplog.text, "logs (incl. the HTTP library's INFO line)")
    assert "HTTP Request" in caplog.text  # httpx2's own line was captured, and is clean


def test_a_key_with_inner_whitespace_is_refused_up_front() -> None:
    from toolwire.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="whitespace") as info:
        AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-abc\ndef-1234567890")
    assert "def-1234567890" not in str(info.value)


def test_env_key_goes_only_to_its_own_service(server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolwire.errors import ConfigurationError

    monkeypatch.setenv("OPENAI_API_KEY", SECRET_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "https://gateway.example/v1")
    for alias in ("openai_compatible", "vllm", "llamacpp"):
        # OPENAI_BASE_URL is not theirs either: no base URL, so no request anywhere
        with pytest.raises(ConfigurationError, match="base URL"):
            AbstractLLM.create(alias, model="m")
        llm = AbstractLLM.create(alias, model="m", base_url=f"{server.url}/v1")
        server.script = [KITS["openai"].text_answer("ok")]
        llm.generate("hi")
        assert "authorization" not in {k.lower() for k in server.seen[-1].headers}, alias
    # openai itself: the env key goes to api.openai.com or to OPENAI_BASE_URL's host, not elsewhere
    with pytest.raises(ConfigurationError, match=r"only sent to api\.openai\.com"):
        AbstractLLM.create("openai", model="gpt-4o-mini", base_url=f"{server.url}/v1")
    assert AbstractLLM.create("openai", model="gpt-4o-mini")._api_key == SECRET_KEY
    paired = AbstractLLM.create("openai", model="gpt-4o-mini", base_url="https://gateway.example/v1")
    assert paired._api_key == SECRET_KEY
    # explicit keys go where they are told
    explicit = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="sk-x-12345678", base_url=server.url)
    assert explicit._api_key == "sk-x-12345678"


def test_cassettes_and_recorder_keep_no_credential(
    server: FaultServer, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import sqlite3

    from toolwire import testing
    from toolwire.recorder import Recorder

    proxied = server.url.replace("http://", f"http://proxyuser:{PROXY_PASSWORD}@")
    for name, kit in KITS.items():
        llm = kit.create(proxied, max_retries=0, default_headers={"X-Custom-Auth": APIM_KEY})
        reply = kit.text_answer(_echo_text())
        reply.headers = {"x-request-id": _echo_text()}
        server.script = [reply]
        cassette = tmp_path / f"{name}.json"
        with testing.record(cassette):
            llm.generate("hi")
        _assert_none_of(cassette.read_text(), f"{name} cassette")
        assert "X-Custom-Auth".lower() in cassette.read_text().lower()  # the name is kept
        db = tmp_path / f"{name}.db"
        with Recorder(db):
            llm.generate("hi", extra_headers={"X-Other-Token-Header": APIM_KEY})
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT request, response, error FROM events").fetchall()
        assert rows
        _assert_none_of(json.dumps(rows), f"{name} recorder")


def test_base_url_credentials_never_shown() -> None:
    from toolwire._scrub import redact_url

    url = f"https://proxyuser:{PROXY_PASSWORD}@gw.example/v1?key={SECRET_KEY}&api-version=1"
    for name in ("openai_compatible", "anthropic", "gemini", "mistral"):
        llm = AbstractLLM.create(name, model="m", api_key=APIM_KEY, base_url=url)
        _assert_none_of(repr(llm), f"{name} repr")
        assert set(ALL_SECRETS) <= {s for s in llm.credentials() if s in ALL_SECRETS}
    assert redact_url(url) == "https://proxyuser:***@gw.example/v1?key=***&api-version=1"
