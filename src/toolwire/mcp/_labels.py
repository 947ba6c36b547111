"""How an MCP server and its failures are named in messages, logs, reprs and pin files: without the
credentials a command line or URL may carry, and with the innermost cause of an SDK failure."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["_describe", "_leaf", "_redacted", "_safe_url"]


def _safe_url(url: str) -> str:
    """The URL without userinfo, query or fragment (tokens travel there): for messages and reprs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_SECRET_WORDS = re.compile(r"key|token|secret|passw|auth|credential", re.IGNORECASE)


def _redacted(args: list[str]) -> list[str]:
    """Command-line arguments for messages: a value after (or in) a flag named like a credential
    (`--api-key X`, `--token=X`) is masked, so the label can appear in errors, logs and pin files."""
    shown: list[str] = []
    for index, arg in enumerate(args):
        flag, sep, _ = arg.partition("=")
        if arg.startswith("-") and sep and _SECRET_WORDS.search(flag):
            shown.append(f"{flag}=***")
        elif (
            index
            and args[index - 1].startswith("-")
            and "=" not in args[index - 1]
            and _SECRET_WORDS.search(args[index - 1])
        ):
            shown.append("***")
        else:
            shown.append(arg)
    return shown


def _leaf(exc: BaseException) -> BaseException:
    # an anyio task group raises an exception group (BaseExceptionGroup on 3.11+, a backport on 3.10)
    inner = getattr(exc, "exceptions", None)
    while isinstance(inner, (list, tuple)) and inner and isinstance(inner[0], BaseException):
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return exc


def _describe(exc: BaseException) -> str:
    leaf = _leaf(exc)
    text = str(leaf)
    return f"{type(leaf).__name__}: {text}" if text else type(leaf).__name__
