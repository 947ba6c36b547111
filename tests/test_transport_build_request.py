"""`_transport._build_request` builds the request httpx2's own `client.build_request` builds (same
method, URL, headers in the same order, content and extensions), over a grid of clients, URLs,
headers and bodies; an invalid header fails as it fails there (docs/performance.md)."""

from __future__ import annotations

import itertools
from typing import Any

import httpx2
import pytest

from toolwire._transport import HttpCall, _build_request

CLIENTS: list[dict[str, Any]] = [
    {},
    {"headers": {"User-Agent": "custom/1", "X-Team": "a"}},
    {"headers": {"accept": "application/json", "x-api-key": "client-level"}},
    {"timeout": httpx2.Timeout(3.0, connect=1.0)},
    {"cookies": {"session": "s"}},  # httpx2's own path
    {"params": {"api-version": "2024-10-21"}},  # httpx2's own path
]
URLS = [
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse",
    "https://example.test:8443/v1/chat/completions?x=1",
    "https://example.test:443/v1",
    "http://127.0.0.1:8080/openai/deployments/d/chat/completions?api-version=2024-10-21",
    "http://[::1]:9000/v1",
    "https://example.test/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fx/converse",
]
HEADERS: list[dict[str, str]] = [
    {},
    {"Content-Type": "application/json", "Authorization": "Bearer k"},
    {"content-type": "application/json", "user-agent": "ours/2", "Accept": "text/event-stream"},
    {"Host": "override.test", "Content-Length": "2"},
    {"Transfer-Encoding": "chunked"},
]
BODIES: list[bytes | None] = [b'{"a":1}', b"", None, b"x" * 70_000]


def _same(ours: httpx2.Request, theirs: httpx2.Request) -> None:
    assert ours.method == theirs.method
    assert ours.url == theirs.url
    assert ours.headers.raw == theirs.headers.raw
    assert ours.content == theirs.content
    assert ours.extensions == theirs.extensions


@pytest.mark.parametrize("client_kwargs", CLIENTS, ids=lambda k: ",".join(k) or "plain")
def test_the_request_equals_httpx2s_own(client_kwargs: dict[str, Any]) -> None:
    compared = 0
    with httpx2.Client(**client_kwargs) as client:
        for url, headers, body, timeout in itertools.product(URLS, HEADERS, BODIES, (None, 7.0)):
            extensions = None if timeout is None else {"timeout": httpx2.Timeout(timeout).as_dict()}
            call = HttpCall("POST", url, dict(headers), body)
            theirs = client.build_request("POST", url, headers=headers, content=body, extensions=extensions)
            _same(_build_request(client, call, extensions), theirs)
            compared += 1
    assert compared == len(URLS) * len(HEADERS) * len(BODIES) * 2


@pytest.mark.anyio
async def test_the_async_client_builds_the_same_request() -> None:
    async with httpx2.AsyncClient(headers={"X-Team": "a"}) as client:
        for url, headers in itertools.product(URLS, HEADERS):
            call = HttpCall("POST", url, dict(headers), b"{}")
            theirs = client.build_request("POST", url, headers=headers, content=b"{}")
            _same(_build_request(client, call, None), theirs)


@pytest.mark.parametrize("headers", [{"X-Name": "caf\u00e9"}, {"X-Bad": "a\nb"}, {"": "empty name"}])
def test_an_invalid_header_fails_as_it_fails_in_httpx2(headers: dict[str, str]) -> None:
    with httpx2.Client() as client:
        try:
            client.build_request("POST", URLS[0], headers=headers, content=b"{}")
        except Exception as exc:  # whatever httpx2 raises, ours must raise the same
            expected: Any = (type(exc), str(exc))
        else:
            expected = None
        try:
            _build_request(client, HttpCall("POST", URLS[0], dict(headers), b"{}"), None)
        except Exception as exc:
            got: Any = (type(exc), str(exc))
        else:
            got = None
        assert got == expected
