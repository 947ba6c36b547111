"""boto3's `bedrock-runtime` client as a test-only oracle: it reads a recorded response body (JSON or
binary event stream) through a stubbed HTTP layer, so what the official SDK makes of a recording
can be compared with what toolwire makes of it. Also event-stream frame writers for tests."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from support.fault_server import aws_frame

__all__ = ["aws_frame", "event", "exception", "oracle_call", "oracle_stream_events"]


class _Raw:
    """What botocore reads a response body from (urllib3-like `stream()`)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, amt: int = 1024, decode_content: bool = True) -> Iterator[bytes]:
        for start in range(0, len(self._body), 37):  # odd pieces, as a socket delivers them
            yield self._body[start : start + 37]

    def read(self, amt: int | None = None) -> bytes:
        return self._body


def _client(status: int, headers: Mapping[str, str], body: bytes) -> Any:
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="oracle-secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, status, dict(headers), _Raw(body))

    client.meta.events.register("before-send.bedrock-runtime.*", send)
    return client


def oracle_call(model: str, status: int, headers: Mapping[str, str], body: bytes) -> Any:
    """`client.converse(...)` answered by the recorded response (raises ClientError on errors)."""
    client = _client(status, headers, body)
    return client.converse(modelId=model, messages=[{"role": "user", "content": [{"text": "x"}]}])


def oracle_stream_events(model: str, headers: Mapping[str, str], body: bytes) -> list[dict[str, Any]]:
    """Every event `client.converse_stream(...)` yields for the recorded event-stream body."""
    client = _client(200, {"content-type": "application/vnd.amazon.eventstream", **headers}, body)
    response = client.converse_stream(modelId=model, messages=[{"role": "user", "content": [{"text": "x"}]}])
    return list(response["stream"])


def event(kind: str, payload: Mapping[str, Any]) -> bytes:
    return aws_frame(
        {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}, payload
    )


def exception(kind: str, message: str) -> bytes:
    return aws_frame(
        {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"},
        {"message": message},
    )
