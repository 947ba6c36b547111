"""Record a session's HTTP exchanges to a file, then replay them in offline tests.

    from toolwire import AbstractLLM, testing

    with testing.record("tests/cassettes/weather.json"):      # once, with a real key
        llm = AbstractLLM.create("openai", model="gpt-4o-mini")
        llm.generate("Weather in Paris?", tools=[get_weather])

    with testing.replay("tests/cassettes/weather.json") as cassette:   # in CI, offline
        llm = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="unused")
        response = llm.generate("Weather in Paris?", tools=[get_weather])
        assert cassette.requests[0].json["model"] == "gpt-4o-mini"

Both set `toolwire._transport.client_override`, so every provider created or used inside the block
sends through the recording or replaying clients, sync and async, streamed or not.

The file written by `record()` is JSON (stdlib only) so that recordings diff well::

    {"format": "toolwire-cassette", "version": 1, "interactions": [
      {"request":  {"method": "POST", "url": "https://...", "headers": {...}, "json": {...}},
       "response": {"status": 200, "headers": {...}, "json": {...}}}]}

A body is stored under exactly one of `json` (parsed, when it is JSON), `text` (UTF-8 text, e.g. a
whole SSE stream) or `base64` (anything else). Response bodies are stored decoded (no
`content-encoding`). Secrets are redacted before anything is written: the values of the
`authorization`, `api-key`, `x-api-key`, `x-goog-api-key`, `proxy-authorization` and
`x-amz-security-token` headers and of `key=` query parameters become `REDACTED`.

`replay()` (and `load_cassette()`) also read cassettes recorded by other tools: vcrpy /
pytest-recording YAML (including gzip `!!binary` bodies, the older httpx `content`/`status_code`
dialect and pydantic-ai's `parsed_body`), R `vcr` (`http_interactions`), raw response bodies
(`*.json`) and raw SSE payload lines (`*.chunks.txt`). YAML needs PyYAML.

This module imports httpx2 and is never imported by `import toolwire`.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import threading
import types
import urllib.parse
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx2

from ._scrub import BENIGN_HEADERS, MIN_SECRET, known, request_secrets, scrub_text
from ._transport import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, ClientOverride, client_override
from .errors import ConfigurationError, ToolwireError

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "Cassette",
    "CassetteFormatError",
    "CassetteMismatchError",
    "Interaction",
    "MatchMode",
    "ReceivedRequest",
    "RecordedRequest",
    "RecordedResponse",
    "Recorder",
    "RecordingTransport",
    "ReplayTransport",
    "Replayer",
    "dump_cassette",
    "load_cassette",
    "record",
    "redact_headers",
    "redact_url",
    "replay",
]

FORMAT = "toolwire-cassette"
FORMAT_VERSION = 1
REDACTED = "REDACTED"
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "api-key", "x-api-key", "x-goog-api-key", "x-amz-security-token"}
)
SECRET_QUERY_PARAMS = frozenset({"key"})

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
    """The URL with the value of every `key=` query parameter replaced by REDACTED."""
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


# -- replay ------------------------------------------------------------------------------------
def _chunks(body: bytes, sizes: Sequence[int]) -> Iterator[bytes]:
    if not sizes:
        yield body
        return
    pos, i = 0, 0
    while pos < len(body):
        size = max(1, sizes[i % len(sizes)])
        yield body[pos : pos + size]
        pos += size
        i += 1


class _ChunkedStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A body delivered in several pieces, like a socket would, to sync and async readers."""

    def __init__(self, body: bytes, sizes: Sequence[int]) -> None:
        self._body = body
        self._sizes = tuple(sizes)

    def __iter__(self) -> Iterator[bytes]:
        yield from _chunks(self._body, self._sizes)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in _chunks(self._body, self._sizes):
            yield chunk


class ReplayTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """An httpx2 transport (sync and async) that answers from a cassette and records what it got.

    match="sequence": interactions are served in order and each request must have the method and
    path (host and query ignored) of the next one. match="path": each request gets the first unused
    interaction with its method and path, in any order (concurrent requests).
    """

    def __init__(
        self,
        cassette: str | Path | Cassette,
        *,
        match: MatchMode = "sequence",
        chunk_sizes: Sequence[int] = DEFAULT_CHUNK_SIZES,
    ) -> None:
        if match not in ("sequence", "path"):
            raise ValueError(f"match must be 'sequence' or 'path', not {match!r}")
        self.cassette = _as_cassette(cassette)
        self.match = match
        self.chunk_sizes = tuple(chunk_sizes)
        self.requests: list[ReceivedRequest] = []
        self._used = [False] * len(self.cassette.interactions)
        self._cursor = 0
        self._lock = threading.Lock()

    @property
    def unused(self) -> list[Interaction]:
        """Interactions no request has consumed yet."""
        return [i for i, used in zip(self.cassette.interactions, self._used, strict=True) if not used]

    def assert_all_used(self) -> None:
        left = self.unused
        if left:
            described = ", ".join(_describe(i.request) for i in left)
            raise CassetteMismatchError(
                f"{self.cassette.name}: {len(left)} recorded interaction(s) never requested: {described}"
            )

    def _select(self, received: ReceivedRequest) -> Interaction:
        with self._lock:
            self.requests.append(received)
            number = len(self.requests)
            items = self.cassette.interactions
            if self.match == "sequence":
                if self._cursor >= len(items):
                    raise CassetteMismatchError(
                        f"{self.cassette.name}: request #{number} {received.method} {received.path} "
                        f"but all {len(items)} recorded interaction(s) were already served"
                    )
                interaction = items[self._cursor]
                if not _matches(interaction.request, received):
                    raise CassetteMismatchError(
                        f"{self.cassette.name}: request #{number} was {received.method} {received.path}, "
                        f"expected interaction {self._cursor + 1}/{len(items)}: "
                        f"{_describe(interaction.request)}"
                    )
                self._used[self._cursor] = True
                self._cursor += 1
                return interaction
            for index, candidate in enumerate(items):
                if not self._used[index] and _matches(candidate.request, received):
                    self._used[index] = True
                    return candidate
            remaining = ", ".join(_describe(i.request) for i in self.unused) or "none"
            raise CassetteMismatchError(
                f"{self.cassette.name}: no unused interaction for request #{number} "
                f"{received.method} {received.path}; unused: {remaining}"
            )

    def _response(self, interaction: Interaction, request: httpx2.Request) -> httpx2.Response:
        recorded = interaction.response
        return httpx2.Response(
            recorded.status,
            headers=recorded.headers,
            stream=_ChunkedStream(recorded.body, self.chunk_sizes),
            request=request,
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        received = _received(request, request.read())
        return self._response(self._select(received), request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        received = _received(request, await request.aread())
        return self._response(self._select(received), request)


def _received(request: httpx2.Request, body: bytes) -> ReceivedRequest:
    return ReceivedRequest(
        method=request.method.upper(),
        url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        json=_try_json(body),
    )


def _matches(expected: RecordedRequest | None, received: ReceivedRequest) -> bool:
    if expected is None:
        return True
    return expected.method == received.method and expected.path == received.path


def _describe(request: RecordedRequest | None) -> str:
    return "<any request>" if request is None else f"{request.method} {request.path}"


# -- recording ---------------------------------------------------------------------------------
@dataclass
class _Exchange:
    request: ReceivedRequest
    status: int
    headers: list[tuple[str, str]]
    raw: bytearray = field(default_factory=bytearray)
    complete: bool = False


class _TeeStream(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """Passes the real response through untouched while keeping a copy of its bytes."""

    def __init__(self, inner: httpx2.SyncByteStream | httpx2.AsyncByteStream, exchange: _Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._inner, httpx2.SyncByteStream)
        for chunk in self._inner:
            self._exchange.raw.extend(chunk)
            yield chunk
        self._exchange.complete = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._inner, httpx2.AsyncByteStream)
        async for chunk in self._inner:
            self._exchange.raw.extend(chunk)
            yield chunk
        self._exchange.complete = True

    def close(self) -> None:
        if isinstance(self._inner, httpx2.SyncByteStream):
            self._inner.close()

    async def aclose(self) -> None:
        if isinstance(self._inner, httpx2.AsyncByteStream):
            await self._inner.aclose()


class RecordingTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Forwards to real transports and keeps every exchange, in the order the requests were sent."""

    def __init__(
        self,
        transport: httpx2.BaseTransport | None = None,
        async_transport: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self._transport = transport or httpx2.HTTPTransport()
        # No keep-alive: pooled async connections belong to one event loop, and a recording block
        # may span several asyncio.run() calls; recording is not where throughput matters.
        self._async_transport = async_transport or httpx2.AsyncHTTPTransport(
            limits=httpx2.Limits(max_keepalive_connections=0)
        )
        self._exchanges: list[_Exchange] = []
        self._lock = threading.Lock()

    @property
    def requests(self) -> list[ReceivedRequest]:
        return [e.request for e in self._exchanges]

    def _start(self, request: httpx2.Request, body: bytes, response: httpx2.Response) -> httpx2.Response:
        exchange = _Exchange(_received(request, body), response.status_code, response.headers.multi_items())
        with self._lock:
            self._exchanges.append(exchange)
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            stream=_TeeStream(response.stream, exchange),
            extensions=response.extensions,
            request=request,
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        body = request.read()
        return self._start(request, body, self._transport.handle_request(request))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        return self._start(request, body, await self._async_transport.handle_async_request(request))

    def close(self) -> None:
        self._transport.close()

    async def aclose(self) -> None:
        await self._async_transport.aclose()

    def cassette(self) -> dict[str, Any]:
        """The recording so far as a JSON-ready document, secrets already redacted."""
        with self._lock:
            exchanges = list(self._exchanges)
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "interactions": [_exchange_document(e) for e in exchanges],
        }


def _body_document(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {"text": ""}
    if "event-stream" not in content_type:
        parsed = _try_json(body)
        if parsed is not None:
            return {"json": parsed}
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}


def _joined(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _scrubbed(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {k: _scrubbed(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, secrets) for v in value]
    return value


def _exchange_document(exchange: _Exchange) -> dict[str, Any]:
    document = _raw_exchange_document(exchange)
    # Cassettes get committed to git: every value of a header not known to be harmless (a custom
    # auth header, an APIM key) is redacted, and every form of it scrubbed from bodies and
    # response headers (a server that echoes the key it got).
    rq = exchange.request
    secrets = request_secrets(rq.headers, rq.url, known())  # known(): what every provider declared
    document["request"]["headers"] = {
        k: (v if k.lower() in BENIGN_HEADERS or len(v) < MIN_SECRET else REDACTED)
        for k, v in document["request"]["headers"].items()
    }
    return _scrubbed(document, secrets)  # type: ignore[no-any-return]


def _raw_exchange_document(exchange: _Exchange) -> dict[str, Any]:
    rq = exchange.request
    request_headers = redact_headers(rq.headers)
    request: dict[str, Any] = {"method": rq.method, "url": redact_url(rq.url), "headers": request_headers}
    if rq.body:
        request.update(_body_document(rq.body, request_headers.get("content-type", "")))
    headers = _joined(exchange.headers)
    body = bytes(exchange.raw)
    encoding = headers.get("content-encoding", "").strip().lower()
    decoded = True
    if encoding and encoding != "identity":
        try:
            body = _decode_body(body, encoding)
        except (httpx2.DecodingError, ValueError):
            decoded = False  # truncated stream or unknown coding: keep the wire bytes as they are
    if decoded:
        headers = {k: v for k, v in headers.items() if k not in _WIRE_HEADERS}
    response: dict[str, Any] = {"status": exchange.status, "headers": redact_headers(headers)}
    if decoded:
        response.update(_body_document(body, headers.get("content-type", "")))
    else:
        response["base64"] = base64.b64encode(body).decode("ascii")
    if not exchange.complete:
        response["incomplete"] = True
    return {"request": request, "response": response}


def dump_cassette(document: Mapping[str, Any], path: str | Path) -> None:
    """Write a cassette document as indented JSON (one key per line, so recordings diff well)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _clients(
    transport: httpx2.BaseTransport | httpx2.AsyncBaseTransport,
) -> tuple[httpx2.Client, httpx2.AsyncClient]:
    timeout = httpx2.Timeout(DEFAULT_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)
    assert isinstance(transport, httpx2.BaseTransport) and isinstance(transport, httpx2.AsyncBaseTransport)
    return (
        httpx2.Client(transport=transport, timeout=timeout),
        httpx2.AsyncClient(transport=transport, timeout=timeout),
    )


class _OverrideBlock:
    """Installs clients as the override for a `with` or `async with` block."""

    def __init__(self, transport: RecordingTransport | ReplayTransport) -> None:
        self.transport = transport
        self.client, self.async_client = _clients(transport)
        self._token: Any = None

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request the clients sent in this block, in order (method, url, headers, body, json)."""
        return self.transport.requests

    def _enter(self) -> None:
        self._token = client_override.set(ClientOverride(self.client, self.async_client))

    def _reset(self) -> None:
        if self._token is not None:
            try:
                client_override.reset(self._token)
            except ValueError:
                # Entered in another context (e.g. a pytest fixture vs. the test's task): that
                # context is gone with its value, there is nothing to restore here.
                client_override.set(None)
            self._token = None

    def _finish(self) -> None:
        """Hook run on exit before the clients are closed."""

    def __enter__(self) -> _OverrideBlock:
        self._enter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        self._reset()
        try:
            self._finish()
        finally:
            self.client.close()

    async def __aenter__(self) -> _OverrideBlock:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: types.TracebackType | None
    ) -> None:
        try:
            self.__exit__(exc_type, exc, tb)
        finally:
            await self.async_client.aclose()


class Recorder(_OverrideBlock):
    """The object `record()` returns. The file is written when the block exits, even on error."""

    transport: RecordingTransport

    def __init__(self, path: str | Path, transport: RecordingTransport) -> None:
        super().__init__(transport)
        self.path = Path(path)

    def __enter__(self) -> Recorder:
        super().__enter__()
        return self

    async def __aenter__(self) -> Recorder:
        return self.__enter__()

    def _finish(self) -> None:
        dump_cassette(self.transport.cassette(), self.path)


class Replayer(_OverrideBlock):
    """The object `replay()` returns: `.requests`, `.unused`, `.assert_all_used()`, `.cassette`."""

    transport: ReplayTransport

    def __enter__(self) -> Replayer:
        super().__enter__()
        return self

    async def __aenter__(self) -> Replayer:
        return self.__enter__()

    @property
    def cassette(self) -> Cassette:
        return self.transport.cassette

    @property
    def unused(self) -> list[Interaction]:
        return self.transport.unused

    def assert_all_used(self) -> None:
        self.transport.assert_all_used()


def record(
    path: str | Path,
    *,
    transport: httpx2.BaseTransport | None = None,
    async_transport: httpx2.AsyncBaseTransport | None = None,
) -> Recorder:
    """Send every provider's HTTP through real transports and write the exchanges to `path` on exit.

    Use as `with record(path):` or `async with record(path):`. Secrets are redacted before writing.
    `transport`/`async_transport` replace the default httpx2 HTTP transports (proxies, custom TLS).
    """
    return Recorder(path, RecordingTransport(transport, async_transport))


def replay(
    cassette: str | Path | Cassette,
    *,
    match: MatchMode = "sequence",
    chunk_sizes: Sequence[int] = DEFAULT_CHUNK_SIZES,
) -> Replayer:
    """Answer every provider's HTTP from a cassette; an unexpected request raises CassetteMismatchError.

    Use as `with replay(path) as r:` (or `async with`); `r.requests` holds what was sent.
    """
    return Replayer(ReplayTransport(cassette, match=match, chunk_sizes=chunk_sizes))
