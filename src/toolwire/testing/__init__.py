"""Record a session's HTTP exchanges to a file, then replay them in offline tests.

    from toolwire import AbstractLLM, testing

    with testing.record_http("tests/cassettes/weather.json"):      # once, with a real key
        llm = AbstractLLM.create("openai", model="gpt-4o-mini")
        llm.generate("Weather in Paris?", tools=[get_weather])

    with testing.replay("tests/cassettes/weather.json") as cassette:   # in CI, offline
        llm = AbstractLLM.create("openai", model="gpt-4o-mini", api_key="unused")
        response = llm.generate("Weather in Paris?", tools=[get_weather])
        assert cassette.requests[0].json["model"] == "gpt-4o-mini"

Both set `toolwire._transport.client_override`, so every provider created or used inside the block
sends through the recording or replaying clients, sync and async, streamed or not.

The file written by `record_http()` is JSON (stdlib only) so that recordings diff well::

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

This package imports httpx2 and is never imported by `import toolwire`.
"""

from __future__ import annotations

import warnings
from typing import Any

# The package splits along the module's old seams: the cassette model and loaders (`_cassette`),
# replay (`_replay`), recording and the context managers (`_record`).
from ._cassette import DEFAULT_CHUNK_SIZES as DEFAULT_CHUNK_SIZES
from ._cassette import FORMAT as FORMAT
from ._cassette import FORMAT_VERSION as FORMAT_VERSION
from ._cassette import REDACTED as REDACTED
from ._cassette import SECRET_HEADERS as SECRET_HEADERS
from ._cassette import SECRET_QUERY_PARAMS as SECRET_QUERY_PARAMS
from ._cassette import Cassette as Cassette
from ._cassette import CassetteFormatError as CassetteFormatError
from ._cassette import CassetteMismatchError as CassetteMismatchError
from ._cassette import Interaction as Interaction
from ._cassette import MatchMode as MatchMode
from ._cassette import ReceivedRequest as ReceivedRequest
from ._cassette import RecordedRequest as RecordedRequest
from ._cassette import RecordedResponse as RecordedResponse
from ._cassette import load_cassette as load_cassette
from ._cassette import redact_headers as redact_headers
from ._cassette import redact_url as redact_url
from ._record import CassetteRecorder as CassetteRecorder
from ._record import RecordingTransport as RecordingTransport
from ._record import Replayer as Replayer
from ._record import dump_cassette as dump_cassette
from ._record import record as record
from ._record import record_http as record_http
from ._record import replay as replay
from ._replay import ReplayTransport as ReplayTransport

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "Cassette",
    "CassetteFormatError",
    "CassetteMismatchError",
    "CassetteRecorder",
    "Interaction",
    "MatchMode",
    "ReceivedRequest",
    "RecordedRequest",
    "RecordedResponse",
    "RecordingTransport",
    "ReplayTransport",
    "Replayer",
    "dump_cassette",
    "load_cassette",
    "record",
    "record_http",
    "redact_headers",
    "redact_url",
    "replay",
]


def __getattr__(name: str) -> Any:
    if name == "Recorder":
        warnings.warn(
            "toolwire.testing.Recorder is deprecated: use CassetteRecorder", DeprecationWarning, stacklevel=2
        )
        return CassetteRecorder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
