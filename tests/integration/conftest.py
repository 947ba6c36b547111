"""Fixtures for the integration tests against a real model (../shared/local-llm, llama.cpp + Qwen).

Opt-in: the `local_llm` tests are skipped unless TOOLWIRE_LOCAL_LLM_URL points at the server's
OpenAI-compatible base URL (e.g. http://127.0.0.1:8091/v1). Once the variable is set, an unreachable
server is a failure, not a skip: CI sets it only after `serve.sh --daemon` reported ready, so a
silent skip there would hide a broken step.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import pytest

URL_VARIABLE = "TOOLWIRE_LOCAL_LLM_URL"
# A request on 2 busy cores took up to 21 s when measured; five minutes means something is wedged.
REQUEST_TIMEOUT = 300.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get(URL_VARIABLE):
        return
    skip = pytest.mark.skip(
        reason=f"{URL_VARIABLE} is not set: start ../shared/local-llm/serve.sh (see docs/local-llm.md)"
    )
    for item in items:
        if item.get_closest_marker("local_llm") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def local_llm_url() -> str:
    url = os.environ.get(URL_VARIABLE, "").rstrip("/")
    if not url:
        pytest.skip(f"{URL_VARIABLE} is not set")
    return url


@pytest.fixture(scope="session")
def local_llm_model(local_llm_url: str) -> str:
    """The model id the server reports (its alias); also proves the server answers at all."""
    try:
        with urllib.request.urlopen(f"{local_llm_url}/models", timeout=10) as reply:
            body: dict[str, Any] = json.loads(reply.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        pytest.fail(f"{URL_VARIABLE}={local_llm_url} is set but the server does not answer: {exc}")
    model = body["data"][0]["id"]
    assert isinstance(model, str) and model
    return model


@pytest.fixture
def llm(local_llm_url: str, local_llm_model: str) -> Any:
    """A fresh provider per test, so async tests never reuse a client bound to another event loop."""
    from toolwire import AbstractLLM

    return AbstractLLM.create(
        "openai_compatible",
        base_url=local_llm_url,
        api_key="local",
        model=local_llm_model,
        timeout=REQUEST_TIMEOUT,
        # A retry of a timed-out CPU-bound request would queue behind the first one and double the
        # wait; a failure here should show at once.
        max_retries=0,
    )
