"""Vertex AI credentials for Gemini: google-auth (the `vertex` extra), imported only when Vertex is used,
refreshing tokens over httpx2 so neither `requests` nor urllib3 is needed.

Split out of `providers/gemini.py` (which re-exports every name here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import (
    ConfigurationError,
)

if TYPE_CHECKING:
    pass

VERTEX_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


# -- Vertex credentials ----------------------------------------------------------------------
class _AuthRequest:
    """google-auth's transport callable (`google.auth.transport.Request`) over httpx2, so token
    refresh needs neither `requests` nor urllib3."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        import httpx2

        try:
            response = httpx2.request(
                method, url, content=body, headers=dict(headers or {}), timeout=timeout or 60.0
            )
        except httpx2.HTTPError as exc:
            from google.auth import exceptions

            raise exceptions.TransportError(str(exc)) from exc  # type: ignore[no-untyped-call]
        return _AuthResponse(response.status_code, dict(response.headers), response.content)


@dataclass
class _AuthResponse:
    status: int
    headers: dict[str, str]
    data: bytes


def _auth_request() -> Any:
    """A google-auth transport request; subclasses google-auth's abstract Request when present."""
    try:
        from google.auth import transport
    except ImportError as exc:
        raise ConfigurationError(
            'gemini (Vertex AI): credentials need google-auth: pip install "toolwire[vertex]"'
        ) from exc

    class AuthRequest(_AuthRequest, transport.Request):
        pass

    return AuthRequest()


def _default_credentials() -> tuple[Any, str | None]:
    try:
        import google.auth
        from google.auth import exceptions
    except ImportError as exc:
        raise ConfigurationError(
            "gemini (Vertex AI): Application Default Credentials need google-auth: "
            'pip install "toolwire[vertex]"'
        ) from exc
    try:
        credentials, project = google.auth.default(scopes=[VERTEX_SCOPE])
    except exceptions.DefaultCredentialsError as exc:
        raise ConfigurationError(
            f"gemini (Vertex AI): no Google credentials found ({exc}); run `gcloud auth application-default "
            "login`, set GOOGLE_APPLICATION_CREDENTIALS, or pass credentials=..."
        ) from exc
    return credentials, project
