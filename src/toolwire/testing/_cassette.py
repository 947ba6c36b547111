"""The cassette model (requests, responses, interactions), its errors, redaction helpers, and the
loaders for toolwire's own format and the recorded-fixture dialects (VCR YAML, JSON, chunk files).
Public names are re-exported from `toolwire.testing`.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx2

from .._redact import CREDENTIAL_HEADERS, CREDENTIAL_QUERY_PARAMS
from ..errors import ConfigurationError, ToolwireError

FORMAT = "toolwire-cassette"
FORMAT_VERSION = 1
REDACTED = "REDACTED"
# the shared vocabulary of credential headers and query parameters (toolwire._redact)
SECRET_HEADERS = CREDENTIAL_HEADERS
SECRET_QUERY_PARAMS = CREDENTIAL_QUERY_PARAMS

MatchMode = Literal["sequence", "path"]

# The body is served decoded and may have been re-serialized (parsed_body, stored JSON), so headers
# that describe the wire bytes would lie to the client.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})
# Odd sizes, small ones first: a stream is cut inside lines, inside `data:` and inside UTF-8
# sequences, the way a network delivers it.
DEFAULT_CHUNK_SIZES: tuple[int, ...] = (1, 7, 3, 29, 64, 5, 211, 2, 97)


class CassetteMismatchError(ToolwireError, AssertionError):
    """A request did not match what the cassette expected next (or the cassette was exhausted).

    Also an AssertionError, so pytest reports it as a test failure with the message in full.
    """


class CassetteFormatError(ToolwireError, ValueError):
    """A cassette file could not be read."""


# -- model -------------------------------------------------------------------------------------
@dataclass
class RecordedRequest:
    method: str
    uri: str
    headers: dict[str, str]
    body: bytes | None
    json: Any | None = None

    @property
    def path(self) -> str:
        return _path_of(self.uri)


@dataclass
class RecordedResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def is_stream(self) -> bool:
        return "text/event-stream" in self.headers.get("content-type", "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Interaction:
    request: RecordedRequest | None  # None for body-only fixtures: matches any request
    response: RecordedResponse


@dataclass
class Cassette:
    interactions: list[Interaction]
    dialect: str  # "toolwire", "V", "Vz", "Vo", "P", "R", "J" or "C"
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.interactions)

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else "<cassette>"


@dataclass
class ReceivedRequest:
    """What the client actually sent during replay (or recording)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    json: Any | None = None

    @property
    def path(self) -> str:
        return _path_of(self.url)


# -- helpers -----------------------------------------------------------------------------------
def _path_of(url: str) -> str:
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    return path.rstrip("/") or "/"


def _try_json(body: bytes | None) -> Any | None:
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _header_value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _headers(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    return {str(k).lower(): _header_value(v) for k, v in raw.items()}


def _dumps(value: Any) -> bytes:
    # default=str: YAML may have turned an unquoted timestamp into a datetime.
    return json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with every secret value replaced by REDACTED (names compared case-insensitively)."""
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    """The URL with the value of every credential query parameter (`key=`, `access_token=`,
    `sig=`, ...) replaced by REDACTED."""
    parts = urllib.parse.urlsplit(url)
    if not parts.query:
        return url
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    if not any(name.lower() in SECRET_QUERY_PARAMS for name, _ in pairs):
        return url
    query = urllib.parse.urlencode(
        [(n, REDACTED if n.lower() in SECRET_QUERY_PARAMS else v) for n, v in pairs], safe=":/"
    )
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _decode_body(body: bytes, encoding: str) -> bytes:
    """Undo a content-encoding httpx2 knows (gzip, deflate); raises on a truncated body."""
    response = httpx2.Response(200, headers={"content-encoding": encoding}, content=body)
    return response.read()


def _response_headers(headers: dict[str, str], body: bytes) -> dict[str, str]:
    out = {k: v for k, v in headers.items() if k not in _WIRE_HEADERS}
    if "content-type" not in out and body:
        # pydantic-ai's serializer drops most headers; without a content type an SSE body would
        # not be recognised as a stream.
        head = body.lstrip()[:6]
        if head.startswith((b"data:", b"event:")):
            out["content-type"] = "text/event-stream"
        elif _try_json(body) is not None:
            out["content-type"] = "application/json"
    return out


# -- loading -----------------------------------------------------------------------------------
def load_cassette(path: str | Path) -> Cassette:
    """Read any supported cassette dialect into one uniform model (bodies decoded to bytes)."""
    p = Path(path)
    try:
        if p.name.endswith(".chunks.txt"):
            return _load_chunks(p)
        if p.suffix == ".json":
            return _load_json_file(p)
        if p.suffix in {".yaml", ".yml"}:
            return _load_yaml(p)
    except CassetteFormatError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CassetteFormatError(f"cannot read cassette {p}: {type(exc).__name__}: {exc}") from exc
    raise CassetteFormatError(f"unknown cassette type {p.name!r} (expected .json, .yaml, .yml, .chunks.txt)")


def _load_chunks(p: Path) -> Cassette:
    lines = [line for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    body = "".join(f"data: {line}\n\n" for line in lines).encode("utf-8")
    response = RecordedResponse(200, {"content-type": "text/event-stream"}, body)
    return Cassette([Interaction(None, response)], "C", p)


_STATUS_IN_NAME = re.compile(r"error_(\d{3})")


def _load_json_file(p: Path) -> Cassette:
    raw = p.read_bytes()
    data = _try_json(raw)
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return _load_native(data, p)
    match = _STATUS_IN_NAME.search(p.name)
    status = int(match.group(1)) if match else 200
    response = RecordedResponse(status, {"content-type": "application/json"}, raw)
    return Cassette([Interaction(None, response)], "J", p)


def _native_body(entry: Mapping[str, Any]) -> bytes | None:
    if "json" in entry:
        return _dumps(entry["json"])
    if "text" in entry:
        return str(entry["text"]).encode("utf-8")
    if "base64" in entry:
        return base64.b64decode(entry["base64"])
    return None


def _load_native(data: Mapping[str, Any], p: Path | None) -> Cassette:
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise CassetteFormatError(f"{p}: unsupported toolwire cassette version {version!r}")
    interactions = []
    for item in data["interactions"]:
        rq, rs = item["request"], item["response"]
        body = _native_body(rq)
        request = RecordedRequest(
            method=str(rq["method"]).upper(),
            uri=str(rq["url"]),
            headers=_headers(rq.get("headers")),
            body=body,
            json=rq["json"] if "json" in rq else _try_json(body),
        )
        response_body = _native_body(rs) or b""
        response = RecordedResponse(
            int(rs["status"]), _response_headers(_headers(rs.get("headers")), response_body), response_body
        )
        interactions.append(Interaction(request, response))
    return Cassette(interactions, "toolwire", p)


def _yaml_load(p: Path) -> Any:
    try:
        yaml = importlib.import_module("yaml")
    except ImportError as exc:
        raise ConfigurationError(
            f"reading the YAML cassette {p.name} needs PyYAML: pip install pyyaml"
        ) from exc
    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    with p.open("rb") as fh:
        return yaml.load(fh, Loader=loader)


def _load_yaml(p: Path) -> Cassette:
    data = _yaml_load(p)
    if not isinstance(data, Mapping):
        raise CassetteFormatError(f"{p}: not a cassette (top level is {type(data).__name__})")
    if "http_interactions" in data:
        items, dialect = data["http_interactions"], "R"
    elif "interactions" in data:
        items, dialect = data["interactions"], "V"
    else:
        raise CassetteFormatError(f"{p}: no 'interactions' or 'http_interactions' key")
    interactions: list[Interaction] = []
    seen: set[str] = set()
    for item in items:
        interaction, kind = _yaml_interaction(item["request"], item["response"])
        interactions.append(interaction)
        seen.add(kind)
    if dialect == "V":
        # The most telling marker wins: one parsed_body makes the file pydantic-ai's dialect.
        for marker in ("P", "Vz", "Vo"):
            if marker in seen:
                dialect = marker
                break
    return Cassette(interactions, dialect, p)


def _yaml_body(container: Mapping[str, Any]) -> tuple[bytes | None, bool, bool]:
    """(body, was_binary, was_parsed) of a vcrpy request/response mapping."""
    if "parsed_body" in container:
        return _dumps(container["parsed_body"]), False, True
    body = container.get("body")
    if isinstance(body, Mapping) and set(body) <= {"string", "encoding", "file"}:
        body = body.get("string")
    elif isinstance(body, (Mapping, list)):
        # Some serializers store a JSON request body as a YAML mapping under `body`.
        return _dumps(body), False, True
    if body is None:
        return None, False, False
    if isinstance(body, bytes):
        return body, True, False
    return str(body).encode("utf-8"), False, False


def _yaml_interaction(rq: Mapping[str, Any], rs: Mapping[str, Any]) -> tuple[Interaction, str]:
    kind = "V"
    req_body, _, req_parsed = _yaml_body(rq)
    uri = str(rq["uri"]).split("#", 1)[0]  # a source project appended `#stream`
    request = RecordedRequest(
        method=str(rq.get("method", "GET")).upper(),
        uri=uri,
        headers=_headers(rq.get("headers")),
        body=req_body,
        json=_try_json(req_body),
    )
    headers = _headers(rs.get("headers"))
    if "content" in rs and "body" not in rs:  # older vcrpy httpx dialect
        kind = "Vo"
        content = rs["content"]
        body: bytes | None = content if isinstance(content, bytes) else str(content or "").encode("utf-8")
        binary = isinstance(content, bytes)
    else:
        body, binary, parsed = _yaml_body(rs)
        if parsed or req_parsed:
            kind = "P"
    body = body or b""
    encoding = headers.get("content-encoding", "").strip().lower()
    if binary and encoding and encoding != "identity":
        # Bodies kept as `!!binary` are the wire bytes: decode them so the client gets plain
        # content. Text bodies were stored decoded already (R vcr keeps a stale `br` header).
        body = _decode_body(body, encoding)
        if kind == "V":
            kind = "Vz"
    status_raw = rs.get("status", rs.get("status_code", 200))
    status = int(status_raw["code"]) if isinstance(status_raw, Mapping) else int(status_raw)
    response = RecordedResponse(status, _response_headers(headers, body), body)
    return Interaction(request, response), kind


def _as_cassette(source: str | Path | Cassette) -> Cassette:
    return source if isinstance(source, Cassette) else load_cassette(source)
