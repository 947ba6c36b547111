"""Credentials and AWS Signature Version 4 for the Bedrock provider.

Two ways to authenticate to Bedrock Runtime (its service model lists `aws.auth#sigv4` and
`smithy.api#httpBearerAuth`):

- a Bedrock API key (`api_key=` or `AWS_BEARER_TOKEN_BEDROCK`), sent as `Authorization: Bearer`;
- AWS credentials signed with SigV4 for the signing name `bedrock` (not `bedrock-runtime`, the
  endpoint prefix). The credentials come from botocore's standard chain (environment keys with
  session token, shared config/credentials profiles, SSO, container and instance roles); botocore's
  `RefreshableCredentials.get_frozen_credentials()` refreshes temporary credentials before they
  expire, so it is asked on every request.

The signature itself is computed here with hashlib/hmac (checked against `botocore.auth.SigV4Auth`
in the tests): botocore's request objects cost more per call than the rest of a Bedrock call.
botocore is imported only to resolve the credential chain, never by `import toolwire`.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ConfigurationError
from .base import mask_secret

__all__ = [
    "AwsCredentials",
    "CredentialSource",
    "StaticCredentials",
    "botocore_credentials",
    "sigv4_headers",
]

SERVICE = "bedrock"
ALGORITHM = "AWS4-HMAC-SHA256"
# botocore.auth.SIGNED_HEADERS_BLACKLIST: hop-by-hop and tracing headers a proxy may rewrite
_UNSIGNED = frozenset(
    {
        "baggage", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization",
        "te", "traceparent", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
        "authorization",
    }
)  # fmt: skip
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class AwsCredentials:
    """One frozen set of AWS credentials (what a single request is signed with)."""

    access_key: str
    secret_key: str
    token: str | None = None

    def __repr__(self) -> str:  # never the secret key or the session token
        token = "'…'" if self.token else "None"
        return f"AwsCredentials(access_key={mask_secret(self.access_key)!r}, secret_key='…', token={token})"


class CredentialSource(Protocol):
    """Anything with botocore's `get_frozen_credentials()` (Credentials, RefreshableCredentials)."""

    def get_frozen_credentials(self) -> Any: ...


class StaticCredentials:
    """Keys given to the provider directly (`aws_access_key_id=`, ...): nothing to resolve."""

    def __init__(self, access_key: str, secret_key: str, token: str | None = None) -> None:
        self._frozen = AwsCredentials(access_key, secret_key, token)

    def get_frozen_credentials(self) -> AwsCredentials:
        return self._frozen

    def __repr__(self) -> str:
        return f"StaticCredentials({self._frozen!r})"


def botocore_credentials(profile: str | None) -> CredentialSource:
    """The standard AWS chain through botocore (extra `toolwire[bedrock]`)."""
    try:
        import botocore.session
        from botocore.exceptions import BotoCoreError
    except ImportError as exc:
        raise ConfigurationError(
            "bedrock: AWS credentials need botocore (pip install 'toolwire[bedrock]'); "
            "or pass api_key=... / set AWS_BEARER_TOKEN_BEDROCK to use a Bedrock API key"
        ) from exc
    try:
        session = botocore.session.Session(profile=profile)
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        # e.g. ProfileNotFound; botocore's message names the profile, never a secret
        raise ConfigurationError(f"bedrock: cannot resolve AWS credentials: {exc}") from exc
    if credentials is None:
        raise ConfigurationError(
            "bedrock: no credentials; pass api_key=... or set AWS_BEARER_TOKEN_BEDROCK (a Bedrock API "
            "key), or configure AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / "
            "AWS_SESSION_TOKEN, AWS_PROFILE or profile=..., a container or instance role)"
        )
    return credentials  # type: ignore[no-any-return]


def frozen(source: CredentialSource) -> AwsCredentials:
    """Current credentials (botocore refreshes temporary ones here, before they expire)."""
    creds = source.get_frozen_credentials()
    if isinstance(creds, AwsCredentials):
        return creds
    return AwsCredentials(creds.access_key, creds.secret_key, creds.token or None)


def _host(url: urllib.parse.SplitResult) -> str:
    # what the HTTP client sends as Host: the port only when it is not the scheme's default
    host = url.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if url.port is not None and url.port != _DEFAULT_PORTS.get(url.scheme):
        return f"{host}:{url.port}"
    return host


def _canonical_path(path: str) -> str:
    # botocore normalizes dot segments and repeated slashes, then percent-encodes the (already
    # encoded) path once more: every service but S3 signs the double-encoded path
    parts = [p for p in path.split("/") if p and p != "."]
    normalized = "/" + "/".join(parts) + ("/" if path.endswith("/") and parts else "")
    return urllib.parse.quote(normalized, safe="/~")


def _canonical_query(query: str) -> str:
    # the query of a URL we send is already percent-encoded: pairs are sorted as they are, the
    # way botocore signs a URL that carries its own query
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{k}={v}" for k, v in pairs)


@functools.lru_cache(maxsize=256)
def _url_parts(url: str) -> tuple[str, str, str]:
    """(host, canonical path, canonical query) of a URL; a provider signs the same few URLs."""
    split = urllib.parse.urlsplit(url)
    return _host(split), _canonical_path(split.path or "/"), _canonical_query(split.query)


_key_cache: dict[tuple[str, str, str, str], bytes] = {}


def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    cache_key = (secret, day, region, service)
    key = _key_cache.get(cache_key)
    if key is None:
        key = hmac.new(f"AWS4{secret}".encode(), day.encode(), hashlib.sha256).digest()
        for part in (region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        if len(_key_cache) > 16:
            _key_cache.clear()
        _key_cache[cache_key] = key
    return key


_STAMP = "%Y%m%dT%H%M%SZ"
_stamp: tuple[int, str] = (-1, "")


def _stamp_now() -> str:
    """`x-amz-date` for now (UTC, to the second): formatted once per second, not per request."""
    global _stamp
    second = int(time.time())
    if _stamp[0] != second:
        _stamp = (second, time.strftime(_STAMP, time.gmtime(second)))
    return _stamp[1]


def sigv4_headers(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    credentials: AwsCredentials,
    *,
    region: str,
    service: str = SERVICE,
    now: datetime.datetime | None = None,
) -> dict[str, str]:
    """The headers that sign one request: `x-amz-date`, `x-amz-security-token` (temporary
    credentials), `x-amz-content-sha256`-free payload hash, and `authorization`.

    Every header of `headers` is signed except hop-by-hop ones, plus `host` (from the URL).
    """
    stamp = _stamp_now() if now is None else now.astimezone(datetime.timezone.utc).strftime(_STAMP)
    day = stamp[:8]
    added = {"x-amz-date": stamp}
    if credentials.token:
        added["x-amz-security-token"] = credentials.token
    head, tail, names = _canonical_headers(method, url, tuple(headers.items()), credentials.token)
    canonical = f"{head}x-amz-date:{stamp}\n{tail}{hashlib.sha256(body or b'').hexdigest()}"
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    # the one-shot `hmac.digest` runs in C (OpenSSL); `hmac.new` builds a Python HMAC object
    key = _signing_key(credentials.secret_key, day, region, service)
    signature = hmac.digest(key, to_sign.encode(), "sha256").hex()
    added["authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return added


@functools.lru_cache(maxsize=64)
def _canonical_headers(
    method: str, url: str, headers: tuple[tuple[str, str], ...], token: str | None
) -> tuple[str, str, str]:
    """The canonical request around its `x-amz-date` line, and the signed header names: the same
    few header sets are signed over and over, only the date and the payload change (and the
    token, with the credentials). (head up to the date line, the rest up to the payload hash,
    `SignedHeaders`)."""
    host, path, query = _url_parts(url)
    signed: dict[str, str] = {}
    items = [*headers, ("x-amz-date", "")]
    if token:
        items.append(("x-amz-security-token", token))
    for name, value in items:
        lowered = name.lower()
        if lowered not in _UNSIGNED:
            signed[lowered] = " ".join(str(value).split())
    signed["x-amz-date"] = ""  # the one line that changes per request: written by the caller
    signed.setdefault("host", host)
    names = sorted(signed)
    lines = [f"{n}:{signed[n]}\n" for n in names]
    at = names.index("x-amz-date")
    head = "\n".join([method.upper(), path, query, "".join(lines[:at])])
    tail = "".join(lines[at + 1 :]) + "\n" + ";".join(names) + "\n"
    return head, tail, ";".join(names)
