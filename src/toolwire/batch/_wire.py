"""The providers' Batch APIs on the wire: OpenAI, Azure OpenAI (Global Batch, v1 routes), Anthropic.

Every request line (`/v1/chat/completions`, or `/v1/responses` for `api="responses"`) is built by
the provider's own translation (`_prepare` + `build_body`, the same
code `generate` runs), so a batch sends exactly what a live call would, tools included. HTTP goes
through the provider's transport (its auth, timeouts, retries and pacing), except that creating a
batch is never retried: after a 5xx the batch may exist, and a second one would run (and bill)
every request twice.

Shapes, from ../shared/fixtures/recorded/batch and the providers' references:
- OpenAI: `POST /v1/files` (multipart, `purpose=batch`, JSONL `{custom_id, method, url, body}`),
  `POST /v1/batches {input_file_id, endpoint, completion_window: "24h", metadata}`, `GET
  /v1/batches/{id}` (`validating` → `in_progress` → `finalizing` → `completed`, or `failed`,
  `expired`, `cancelling`, `cancelled`), `GET /v1/files/{id}/content` for `output_file_id` and
  `error_file_id`: JSONL `{id, custom_id, response: {status_code, request_id, body}, error}`.
- Azure OpenAI: the same under `{endpoint}/openai/v1/`, the deployment name as `model`.
- Anthropic: `POST /v1/messages/batches {requests: [{custom_id, params}]}`, `GET
  /v1/messages/batches/{id}` (`processing_status` `in_progress` → `canceling` → `ended`, polls
  carry `retry-after`), results JSONL `{custom_id, result: {type: succeeded|errored|canceled|
  expired, message | error}}` from `results_url`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlsplit

from .._transport import HttpCall, parse_retry_after
from ..errors import BatchItemError, ConfigurationError, ResponseParseError, ToolwireError

_SAMPLING = ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty")

# Normalized job states (OpenAI's names; Anthropic's `ended` is `completed`)
DONE_STATES = frozenset({"completed", "failed", "expired", "cancelled"})


def prepare(llm: Any, messages: Any, tools: Sequence[Any] | None, kwargs: Mapping[str, Any]) -> Any:
    """The provider's `ChatRequest` for one conversation, exactly as `generate` would build it."""
    rest = dict(kwargs)
    return llm._prepare(
        messages,
        model=rest.pop("model", None),
        stream=False,
        tools=tools or None,
        tool_choice=rest.pop("tool_choice", None),
        parallel_tool_calls=rest.pop("parallel_tool_calls", None),
        response_format=rest.pop("response_format", None),
        sampling={name: rest.pop(name, None) for name in _SAMPLING},
        kwargs=rest,
    )


class BatchWire:
    """One provider's Batch API. Subclasses know the URLs and the shapes."""

    kind = ""

    def __init__(self, llm: Any) -> None:
        self.llm = llm

    # -- HTTP ------------------------------------------------------------------------------------
    def _headers(self, content_type: str | None = "application/json") -> dict[str, str]:
        headers: dict[str, str] = self.llm.static_headers()
        headers.update(self.llm.default_headers)
        headers.update(self.llm.auth_headers())
        if content_type is None:
            headers.pop("content-type", None)
        else:
            headers["content-type"] = content_type
        return headers

    def _send(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        *,
        content_type: str | None = None,
        retries: int | None = None,
    ) -> Any:
        headers = self._headers(content_type if body is not None else None)
        return self.llm.transport.send(HttpCall(method, url, headers, body, max_retries=retries))

    def _json(self, method: str, url: str, payload: Any = None, *, retries: int | None = None) -> Any:
        body = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        response = self._send(method, url, body, content_type="application/json", retries=retries)
        return self.llm._decode(response), response.headers

    # -- to implement ------------------------------------------------------------------------------
    def line(self, custom_id: str, request: Any) -> dict[str, Any]:
        raise NotImplementedError

    def create(self, lines: list[dict[str, Any]], metadata: dict[str, str]) -> dict[str, Any]:
        raise NotImplementedError

    def get(self, batch_id: str) -> tuple[dict[str, Any], float | None]:
        raise NotImplementedError

    def cancel(self, batch_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def state(self, batch: Mapping[str, Any]) -> str:
        raise NotImplementedError

    def total(self, batch: Mapping[str, Any]) -> int | None:
        raise NotImplementedError

    def outcomes(self, batch: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
        """(custom_id, the provider's response payload or a ToolwireError) for every result line."""
        raise NotImplementedError

    def parse(self, payload: Any, request: Any) -> Any:
        """A result payload → `GenerateResponse` via the provider's own parser (and `finish`)."""
        return self.llm.finish(request, self.llm.parse_response(payload, request))

    def error_from(self, status: int, body: Any, custom_id: str) -> ToolwireError:
        """A failed request's status and body → the same typed error a live call would raise."""
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
        error: ToolwireError = self.llm.map_error(status, {}, raw.encode() if isinstance(raw, str) else raw)
        return error


def _lines(text: str, what: str) -> Iterator[dict[str, Any]]:
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ResponseParseError(f"{what} line {number} is not JSON: {exc}", body=raw[:2000]) from exc
        if isinstance(line, dict):
            yield line


class OpenAIBatchWire(BatchWire):
    """OpenAI's Batch API over `/v1/files` and `/v1/batches` (Chat Completions lines)."""

    kind = "openai"

    @property
    def endpoint(self) -> str:
        """The batch's endpoint: the wire the provider instance speaks (`api="responses"` or chat)."""
        return "/v1/responses" if getattr(self.llm, "api", "chat") == "responses" else "/v1/chat/completions"

    @property
    def root(self) -> str:
        return str(self.llm.base_url)

    def _url(self, path: str) -> str:
        return f"{self.root}{path}"

    def line(self, custom_id: str, request: Any) -> dict[str, Any]:
        body = self.llm.build_body(request)
        body.setdefault("model", request.model)  # Azure's dated Chat Completions route leaves it out
        return {"custom_id": custom_id, "method": "POST", "url": self.endpoint, "body": body}

    def upload(self, lines: list[dict[str, Any]]) -> str:
        boundary = uuid.uuid4().hex
        content = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'.encode(),
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="batch.jsonl"\r\n'
                "Content-Type: application/jsonl\r\n\r\n"
            ).encode(),
            content,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
        response = self._send(
            "POST",
            self._url("/files"),
            b"".join(parts),
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        return str(self.llm._decode(response)["id"])

    def create(self, lines: list[dict[str, Any]], metadata: dict[str, str]) -> dict[str, Any]:
        file_id = self.upload(lines)
        payload = {
            "input_file_id": file_id,
            "endpoint": self.endpoint,
            "completion_window": "24h",
            "metadata": metadata,
        }
        batch, _ = self._json("POST", self._url("/batches"), payload, retries=0)
        return batch  # type: ignore[no-any-return]

    def get(self, batch_id: str) -> tuple[dict[str, Any], float | None]:
        batch, headers = self._json("GET", self._url(f"/batches/{batch_id}"))
        return batch, parse_retry_after(headers)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        batch, _ = self._json("POST", self._url(f"/batches/{batch_id}/cancel"), retries=0)
        return batch  # type: ignore[no-any-return]

    def state(self, batch: Mapping[str, Any]) -> str:
        return str(batch.get("status") or "validating")

    def total(self, batch: Mapping[str, Any]) -> int | None:
        counts = batch.get("request_counts") or {}
        total = counts.get("total")
        return int(total) if isinstance(total, int) and total > 0 else None

    def _file(self, file_id: str) -> str:
        response = self._send("GET", self._url(f"/files/{file_id}/content"))
        return str(response.content.decode("utf-8"))

    def outcomes(self, batch: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
        for key in ("output_file_id", "error_file_id"):
            file_id = batch.get(key)
            if not file_id:
                continue
            for line in _lines(self._file(str(file_id)), key):
                custom_id = str(line.get("custom_id"))
                yield custom_id, self._outcome(line, custom_id)

    def _outcome(self, line: Mapping[str, Any], custom_id: str) -> Any:
        response = line.get("response")
        if isinstance(response, Mapping) and isinstance(response.get("status_code"), int):
            status = response["status_code"]
            if 200 <= status < 300:
                return response.get("body")
            error = self.error_from(status, response.get("body"), custom_id)
            if getattr(error, "request_id", "") is None:
                error.request_id = response.get("request_id")  # type: ignore[attr-defined]
            return error
        error_info = line.get("error") or {}
        code = error_info.get("code") if isinstance(error_info, Mapping) else None
        message = error_info.get("message") if isinstance(error_info, Mapping) else None
        return BatchItemError(
            f"batch request {custom_id} failed: {message or code or 'no response and no error given'}",
            reason="errored",
            custom_id=custom_id,
            code=str(code) if code else None,
        )


class AzureOpenAIBatchWire(OpenAIBatchWire):
    """Azure OpenAI Global Batch on the v1 routes: `{endpoint}/openai/v1/files|batches`; the
    deployment name is the lines' `model` (a Global Batch deployment)."""

    kind = "azure_openai"

    @property
    def root(self) -> str:
        return f"{self.llm.azure_endpoint}/openai/v1"

    def _url(self, path: str) -> str:
        query = getattr(self.llm, "_v1_query", None)
        return f"{self.root}{path}" + (f"?api-version={query}" if query else "")


class AnthropicBatchWire(BatchWire):
    """Anthropic Message Batches (`/v1/messages/batches`)."""

    kind = "anthropic"
    # results[].result.error.type → the HTTP status a live call would have had
    _ERROR_STATUS: ClassVar[dict[str, int]] = {
        "invalid_request_error": 400,
        "authentication_error": 401,
        "billing_error": 402,
        "permission_error": 403,
        "not_found_error": 404,
        "request_too_large": 413,
        "rate_limit_error": 429,
        "api_error": 500,
        "overloaded_error": 529,
    }

    def _url(self, path: str = "") -> str:
        return f"{self.llm.base_url}/v1/messages/batches{path}"

    def line(self, custom_id: str, request: Any) -> dict[str, Any]:
        return {"custom_id": custom_id, "params": self.llm.build_body(request)}

    def create(self, lines: list[dict[str, Any]], metadata: dict[str, str]) -> dict[str, Any]:
        batch, _ = self._json("POST", self._url(), {"requests": lines}, retries=0)
        return batch  # type: ignore[no-any-return]

    def get(self, batch_id: str) -> tuple[dict[str, Any], float | None]:
        batch, headers = self._json("GET", self._url(f"/{batch_id}"))
        return batch, parse_retry_after(headers)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        batch, _ = self._json("POST", self._url(f"/{batch_id}/cancel"), retries=0)
        return batch  # type: ignore[no-any-return]

    def state(self, batch: Mapping[str, Any]) -> str:
        status = str(batch.get("processing_status") or "in_progress")
        return {"ended": "completed", "canceling": "cancelling"}.get(status, status)

    def total(self, batch: Mapping[str, Any]) -> int | None:
        counts = batch.get("request_counts") or {}
        total = sum(v for v in counts.values() if isinstance(v, int))
        return total or None

    def _results_url(self, batch: Mapping[str, Any]) -> str:
        url = batch.get("results_url")
        own = self._url(f"/{batch.get('id')}/results")
        # the key goes only to the host it belongs to: a results_url elsewhere is not followed
        if isinstance(url, str) and urlsplit(url).netloc == urlsplit(own).netloc:
            return url
        return own

    def outcomes(self, batch: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
        response = self._send("GET", self._results_url(batch))
        for line in _lines(response.content.decode("utf-8"), "results"):
            custom_id = str(line.get("custom_id"))
            yield custom_id, self._outcome(line.get("result") or {}, custom_id)

    def _outcome(self, result: Mapping[str, Any], custom_id: str) -> Any:
        kind = result.get("type")
        if kind == "succeeded":
            return result.get("message")
        if kind == "errored":
            error = result.get("error") or {}
            nested = error.get("error")
            inner: Mapping[str, Any] = nested if isinstance(nested, Mapping) else error
            status = self._ERROR_STATUS.get(str(inner.get("type")), 400)
            body = error if "error" in error else {"type": "error", "error": inner}
            return self.error_from(status, body, custom_id)
        reason = "canceled" if kind == "canceled" else "expired" if kind == "expired" else "errored"
        return BatchItemError(f"batch request {custom_id} was {reason}", reason=reason, custom_id=custom_id)


def wire_for(llm: Any) -> BatchWire:
    """The Batch API of `llm`'s provider (OpenAI, Azure OpenAI or Anthropic)."""
    from ..providers.anthropic import AnthropicProvider
    from ..providers.azure_openai import AzureOpenAIProvider
    from ..providers.openai import OpenAIProvider

    if isinstance(llm, AzureOpenAIProvider):
        return AzureOpenAIBatchWire(llm)
    if isinstance(llm, AnthropicProvider):
        return AnthropicBatchWire(llm)
    if isinstance(llm, OpenAIProvider) and getattr(llm, "api", "chat") in ("chat", "responses"):
        return OpenAIBatchWire(llm)
    raise ConfigurationError(
        f"batch.submit supports the Batch APIs of openai (Chat Completions or Responses), azure_openai and "
        f"anthropic; {getattr(llm, 'name', type(llm).__name__)!r} has none here. Use batch.run instead."
    )
