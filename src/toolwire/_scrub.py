"""Credentials a request carries, in every form a server could echo them, and their removal.

The seam for every provider: a provider *declares* what it holds (`BaseProvider.credentials()`: its
API key, tokens, the values of headers it was given); the request adds what it carries (every header
whose name is not known to be harmless, `user:password@` and `?key=` in the URL). The transport,
the streams, the recorder, the cassette writer and the logs scrub those values, in each form
(as given, stripped, percent-encoded, after a `Bearer`/`Basic` scheme, Basic decoded), from
anything derived from a response. A provider with a new auth scheme (SigV4, a proxy) only has to
list its secrets in `credentials()`.

Header names are judged by an allow-list, not a deny-list: a header we do not know by name
(`Ocp-Apim-Subscription-Key`, `X-Portkey-Api-Key`, a proxy's `X-Auth`) is treated as a credential.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import urllib.parse
from collections.abc import Iterable, Mapping

from ._redact import CREDENTIAL_QUERY_PARAMS
from .errors import ConfigurationError

__all__ = [
    "BENIGN_HEADERS",
    "MIN_SECRET",
    "clean_key",
    "header_secrets",
    "redact_url",
    "scrub_text",
    "secret_forms",
    "url_secrets",
]

REDACTED = "***"
# Shorter values ("Bearer", "test", "none") are too common to scrub without mangling text.
MIN_SECRET = 8
# Headers whose values are never credentials: protocol headers and the providers' own options.
BENIGN_HEADERS = frozenset(
    {
        "accept",
        "accept-encoding",
        "anthropic-beta",
        "anthropic-version",
        "cache-control",
        "connection",
        "content-length",
        "content-type",
        "host",
        "openai-beta",
        "openai-organization",
        "openai-project",
        "user-agent",
        "x-goog-api-client",
        "x-ms-useragent",
        "x-stainless-lang",
    }
)
_SECRET_QUERY = CREDENTIAL_QUERY_PARAMS  # the shared vocabulary (toolwire._redact)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s:@]+):(?!\*\*\*@)([^/\s@]+)@")
_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:key|api[-_]?key|apikey|access_token|token|sig|signature)=)(?!REDACTED|\[redacted\]|\*\*\*)([^&#\s\"']+)"
)


def clean_key(value: str | None, provider: str, what: str = "API key") -> str | None:
    """A credential as it is sent: surrounding whitespace (a key read from a file keeps its newline)
    stripped; whitespace or control characters inside refused up front, never sent (the server
    answers 401 and the key would then be quoted in error text, with a newline that defeats a
    plain search-and-replace scrub)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigurationError(f"{provider}: the {what} must be a string, got {type(value).__name__}")
    stripped = value.strip()
    if not stripped:
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in stripped):
        raise ConfigurationError(
            f"{provider}: the {what} contains whitespace or control characters (a pasted line "
            "break?); pass the key alone"
        )
    return stripped


def secret_forms(value: str) -> set[str]:
    """Every form of one credential a server or proxy could echo back."""
    forms = {value, value.strip()}
    scheme, _, token = value.strip().partition(" ")
    if token:
        forms.add(token.strip())
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                decoded = ""
            if decoded:
                forms.add(decoded)
                forms.add(decoded.partition(":")[2])
    for form in list(forms):
        forms.add(urllib.parse.quote(form, safe=""))
        forms.add(urllib.parse.quote_plus(form))
    return {f for f in forms if len(f) >= MIN_SECRET}


def header_secrets(headers: Mapping[str, str]) -> set[str]:
    """The values of every header not known to be harmless, in each of their forms."""
    found: set[str] = set()
    for name, value in headers.items():
        if value and name.lower() not in BENIGN_HEADERS:
            found |= secret_forms(str(value))
    return found


def url_secrets(url: str | None) -> set[str]:
    """The password (and `user:password`) of a URL's userinfo and its credential query values."""
    if not url:
        return set()
    found: set[str] = set()
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
        username = parts.username
    except ValueError:
        return found
    if password:
        found |= secret_forms(password)
        found |= secret_forms(urllib.parse.unquote(password))
        if username:
            found |= secret_forms(f"{username}:{password}")
    for name, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=False):
        if name.lower() in _SECRET_QUERY:
            found |= secret_forms(value)
    return found


def redact_url(url: str) -> str:
    """The URL with a userinfo password and credential query values replaced (for reprs and logs)."""
    url = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", url)
    return _QUERY_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", url)


def request_secrets(headers: Mapping[str, str], url: str, declared: Iterable[str] = ()) -> tuple[str, ...]:
    """Everything secret one sent request carried (its headers, its URL) plus what the provider
    declared, ordered for `scrub_text`."""
    return ordered(header_secrets(headers) | url_secrets(url) | set(declared))


def ordered(secrets: Iterable[str]) -> tuple[str, ...]:
    """Longest first, so a value that contains another is replaced whole."""
    return tuple(sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True))


def scrub_text(text: str, secrets: Iterable[str]) -> str:
    """`text` without any of `secrets` and without URL credentials."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return redact_url(text) if ("@" in text or "=" in text) else text


def _redacted_arg(arg: object) -> object:
    if isinstance(arg, (int, float)):
        return arg
    text = str(arg)
    return redact_url(text) if ("@" in text or "=" in text) else arg


# Credentials every provider in this process declared, for the HTTP library's own log lines
# (httpx2's INFO request line, httpcore2's DEBUG traces of headers), which know no provider.
# Bounded: the oldest are forgotten first (a process rarely holds more than a few keys).
_KNOWN: dict[str, None] = {}
_KNOWN_MAX = 512
_known_sorted: tuple[str, ...] = ()


def register(secrets: Iterable[str]) -> None:
    """Remember credentials so that the HTTP library's log records are scrubbed of them too."""
    global _known_sorted
    added = False
    for secret in secrets:
        if len(secret) >= MIN_SECRET and secret not in _KNOWN:
            _KNOWN[secret] = None
            added = True
    if added:
        while len(_KNOWN) > _KNOWN_MAX:
            del _KNOWN[next(iter(_KNOWN))]
        _known_sorted = ordered(_KNOWN)


def known() -> tuple[str, ...]:
    """Every credential registered so far (longest first)."""
    return _known_sorted


class RedactFilter(logging.Filter):
    """Scrubs every registered credential and URL credentials from a record of the HTTP library
    (httpx2 logs the URL with its `user:password@`; httpcore2's DEBUG traces print the headers
    sent and received, a response header may echo the key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        scrubbed = scrub_text(message, _known_sorted)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_LIBRARY_LOGGERS = (
    "httpx2",
    "httpcore2.connection",
    "httpcore2.http11",
    "httpcore2.http2",
    "httpcore2.proxy",
    "httpcore2.socks",
    "httpcore2.connection_pool",
)
_installed = False
_library_loggers: tuple[tuple[logging.Logger, int], ...] = ()


def library_logs_enabled() -> bool:
    """Whether the HTTP library would log a request now (httpx2's INFO request line, httpcore2's
    DEBUG traces): only then must a request's own secrets be registered before it is sent."""
    return any(log.isEnabledFor(level) for log, level in _library_loggers)


def install_log_filter() -> None:
    """Attach the filter to the HTTP library's loggers once (called when a transport is built).
    A logger's filters see only records logged on that logger, hence one per module logger."""
    global _installed, _library_loggers
    if not _installed:
        log_filter = RedactFilter()
        for name in _LIBRARY_LOGGERS:
            logging.getLogger(name).addFilter(log_filter)
        _library_loggers = tuple(
            (logging.getLogger(name), logging.INFO if name == "httpx2" else logging.DEBUG)
            for name in _LIBRARY_LOGGERS
        )
        _installed = True
