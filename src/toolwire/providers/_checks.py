"""Checks at the edges of a provider: configuration (`base_url`, which host an environment key may
go to), keyword spelling, and request-body encoding (issue 16)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError

_SAMPLING = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")


def encode_body(text: str) -> bytes:
    """UTF-8 of a request body. A lone surrogate (a model's `\\ud800`, an `os.fsdecode` file name
    in a tool's output) cannot be encoded: it is sent as U+FFFD instead of failing the request
    after the tools already ran."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace").encode()


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
    except ValueError:
        return None


def env_key_goes_to(default_url: str | None, env_url: str | None, base_url: str | None) -> bool:
    """Whether a key read from the environment may go to `base_url`. The rule: an environment key
    is sent only to its service's default host, or to the host the same service's base-URL
    variable names (the pair the user configured together). An explicit `base_url=` to any other
    host needs an explicit `api_key=`. A provider without a default host (Azure: every endpoint is
    the user's own resource) takes its key to the endpoint it was given."""
    if base_url is None:
        return True
    return _host(base_url) in {_host(default_url), _host(env_url)} - {None}


def check_base_url(url: str, provider: str) -> str:
    """A base URL the HTTP library will accept, or a ConfigurationError naming what is wrong
    (never the URL itself: it may carry a password)."""
    if not isinstance(url, str):
        raise ConfigurationError(f"{provider}: base_url must be a string, got {type(url).__name__}")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ConfigurationError(f"{provider}: base_url is not a valid URL ({exc})") from None
    bad_host = not parts.hostname or any(c.isspace() for c in parts.netloc)
    if parts.scheme not in ("http", "https") or bad_host:
        raise ConfigurationError(
            f"{provider}: base_url must be an http:// or https:// URL with a host, got scheme "
            f"{parts.scheme or 'none'!r}"
        )
    try:
        import httpx2

        httpx2.URL(url.strip())
    except Exception as exc:  # httpx2.InvalidURL and what its parser raises
        raise ConfigurationError(f"{provider}: base_url is not a valid URL ({type(exc).__name__})") from None
    return url.strip()


# generate()'s own keywords and the providers' common body parameters: a keyword that is close to
# one of these but not one of them is a typo (`temprature=`), not a parameter for the server.
_KNOWN_KEYWORDS = (
    *_SAMPLING,
    "model", "stream", "tools", "tool_choice", "parallel_tool_calls", "response_format", "timeout",
    "max_retries", "retry_deadline", "max_validation_retries", "extra_headers", "extra_body", "seed",
    "stop", "top_k", "max_completion_tokens", "reasoning_effort", "logprobs", "top_logprobs", "user",
    "stop_sequences", "metadata", "thinking", "safety_settings", "service_tier", "store", "n",
    "random_seed", "safe_prompt", "prediction", "modalities", "audio", "prompt_mode", "stream_options",
)  # fmt: skip
# Keywords already found to be no typo: difflib costs ~100 µs per unknown keyword, paid on every
# call that passes one (the bench harness's `stream_options=` cost a streamed turn that much).
_CHECKED: set[str] = set(_KNOWN_KEYWORDS)
_CHECKED_MAX = 512


def _check_spelling(kwargs: Mapping[str, Any]) -> None:
    for key in kwargs:
        if key in _CHECKED:
            continue
        import difflib

        close = difflib.get_close_matches(key, _KNOWN_KEYWORDS, n=1, cutoff=0.8)
        if close:
            raise TypeError(
                f"generate() got an unexpected keyword {key!r}: did you mean {close[0]!r}? (to send "
                f"a parameter the server knows by that name, pass extra_body={{{key!r}: ...}})"
            )
        if len(_CHECKED) < _CHECKED_MAX:
            _CHECKED.add(key)
