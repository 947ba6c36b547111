"""The one vocabulary of secrets: which header names, query parameters and field names carry
credentials, and what a key looks like in free text.

Shared by the transport (scrubbing errors of the request's credentials), the logs and the call
recorder (`toolwire.logs.redact`) and the HTTP cassettes (`toolwire.testing`), so a credential
one of them hides is hidden by all. Each keeps its own replacement marker (`***` in errors,
`[redacted]` in logs, `REDACTED` in cassettes) because users and tests read those.
"""

from __future__ import annotations

import re

__all__ = [
    "CREDENTIAL_HEADERS",
    "CREDENTIAL_QUERY_PARAMS",
    "SECRET_FIELD_NAMES",
    "SECRET_NAME_PATTERN",
    "SECRET_TEXT_PATTERN",
    "query_param_pattern",
]

# Headers whose whole value is a credential: OpenAI/Mistral/Entra bearer tokens, Azure api-key,
# Anthropic x-api-key, Gemini x-goog-api-key, a proxy's credentials, AWS temporary credentials
# (Bedrock SigV4's x-amz-security-token).
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "x-amz-security-token"}
)

# Query parameters whose value is a credential: Gemini's `?key=`, API keys in URLs, OAuth
# `access_token`, Azure SAS `sig`.
CREDENTIAL_QUERY_PARAMS = frozenset(
    {"key", "api_key", "api-key", "apikey", "access_token", "token", "sig", "signature", "code"}
)

# Header and field names (lower-cased) whose values are credentials, in headers or JSON bodies.
SECRET_FIELD_NAMES = CREDENTIAL_HEADERS | frozenset(
    {
        "api_key",
        "apikey",
        "cookie",
        "set-cookie",
        "password",
        "client_secret",
        "access_token",
        "refresh_token",
        "id_token",
    }
)

# Names that look like a credential's (but not token counts such as max_tokens, nor "author").
SECRET_NAME_PATTERN = re.compile(
    r"secret|passw(or)?d|api[-_]?key|credential|authori[sz]ation|bearer|cookie|session[-_]?id"
    r"|(^|[-_])auth($|[-_])|(^|[-_])token$|[-_]token$|^token[-_]|subscription[-_]key"
)

# Anything shaped like a key or a bearer token that slipped into free text.
SECRET_TEXT_PATTERN = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(sk-(?:ant-|proj-)?[A-Za-z0-9_-]{12,})"
    r"|\b(AIza[0-9A-Za-z_-]{20,})"
    r"|\b(eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,})"
)


def query_param_pattern(names: frozenset[str] = CREDENTIAL_QUERY_PARAMS) -> re.Pattern[str]:
    """A regex finding `?name=value` / `&name=value` for these names (group 1: the value)."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?i)[?&](?:{alternatives})=([^&#]+)")
