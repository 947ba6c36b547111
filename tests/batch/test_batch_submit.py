"""batch.submit / Job over the providers' Batch APIs: the recorded flows replayed, every uploaded
line checked against the OpenAI spec and the official SDKs' types, tool loops as rounds, results
matched by custom_id in any order, missing and failed requests typed at their index, no automatic
re-creation after a 5xx, polling backoff, and picking a job up again in another process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fake_batch_api import FakeBatchAPI

from support.openapi_validation import assert_valid_request
from toolwire import AbstractLLM, GenerateResponse, batch
from toolwire.errors import (
    BatchItemError,
    ConfigurationError,
    InvalidRequestError,
    MaxTurnsExceeded,
    ProviderTimeoutError,
    ServerError,
    ToolwireError,
)

AZURE = {"azure_endpoint": "https://res.openai.azure.com"}
PROVIDERS = [("openai", "openai", {}), ("azure_openai", "openai", AZURE), ("anthropic", "anthropic", {})]


def lookup(key: str) -> str:
    """Look a key up.

    Args:
        key: What to look up.
    """
    return f"value-of-{key}"


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def _llm(name: str, fake: FakeBatchAPI, sleeps: list[float] | None = None, **extra: Any) -> Any:
    llm = AbstractLLM.create(
        name, model="gpt-4o-mini", api_key="sk-test-123456789", http_client=fake.client(), **extra
    )
    record = sleeps if sleeps is not None else []
    clock = {"now": 0.0}

    def sleep(seconds: float) -> None:
        record.append(seconds)
        clock["now"] += seconds

    llm.transport.sleep = sleep
    llm.transport.clock = lambda: clock["now"]
    return llm


@pytest.mark.parametrize(("name", "kind", "extra"), PROVIDERS)
def test_tool_loops_run_as_rounds_and_results_keep_input_order(
    name: str, kind: str, extra: dict[str, Any]
) -> None:
    api = FakeBatchAPI(kind=kind, drop={"3"}, fail={"1"})
    llm = _llm(name, api, **extra)
    job = batch.submit(llm, [f"q{i}" for i in range(6)], tools=[lookup, add])
    assert job.status in ("validating", "in_progress") and job.id
    results = job.wait(poll_interval=30).results()
    assert len(results) == 6
    assert isinstance(results[1], InvalidRequestError) and results[1].status_code == 400
    assert isinstance(results[3], BatchItemError) and results[3].reason == "missing" and results[3].index == 3
    for i in (0, 2, 4, 5):
        assert isinstance(results[i], GenerateResponse)
        assert results[i].content.startswith(f"answer to q{i}")
    # round 1 asked for both tools, round 2 carried their local results back
    assert len(api.uploads) == 2 and len(job.batch_ids) == 2
    assert {line["custom_id"] for line in api.uploads[1]} == {"0", "2", "4", "5"}
    if kind == "openai":
        assert results[0].content == "answer to q0 using value-of-x, 4"
        tool_messages = [m for m in api.uploads[1][0]["body"]["messages"] if m["role"] == "tool"]
        assert [m["content"] for m in tool_messages] == ["value-of-x", "4"]
    else:
        blocks = api.uploads[1][0]["params"]["messages"][-1]["content"]
        assert [b["content"] for b in blocks if b["type"] == "tool_result"] == ["value-of-x", "4"]


@pytest.mark.parametrize(
    ("name", "extra", "which"), [("openai", {}, "openai"), ("azure_openai", AZURE, "openai")]
)
def test_every_uploaded_line_matches_the_openai_spec_and_sdk_types(
    name: str, extra: dict[str, Any], which: str
) -> None:
    from openai.types.chat.completion_create_params import CompletionCreateParamsNonStreaming
    from pydantic import TypeAdapter

    api = FakeBatchAPI(kind="openai")
    llm = _llm(name, api, **extra)
    inputs: list[Any] = [
        "plain prompt",
        [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        {"messages": "with options", "temperature": 0.2, "max_tokens": 50, "tool_choice": "required"},
    ]
    batch.submit(llm, inputs, tools=[lookup, add]).wait()
    sdk = TypeAdapter(CompletionCreateParamsNonStreaming)
    lines = [line for upload in api.uploads for line in upload]
    assert len(lines) == 6  # 3 requests, then the 3 tool-result follow-ups
    for line in lines:
        assert set(line) == {"custom_id", "method", "url", "body"}
        assert line["method"] == "POST" and line["url"] == "/v1/chat/completions"
        assert "stream" not in line["body"] and line["body"]["model"] == "gpt-4o-mini"
        assert_valid_request(line["body"], which)
        sdk.validate_python(line["body"])
    create = next(r for r in api.requests if r.url.path.endswith("/batches") and r.method == "POST")
    payload = json.loads(create.content)
    assert payload["endpoint"] == "/v1/chat/completions" and payload["completion_window"] == "24h"
    upload = next(r for r in api.requests if r.url.path.endswith("/files"))
    assert b'name="purpose"\r\n\r\nbatch' in upload.content
    if name == "azure_openai":
        assert all(
            r.url.host == "res.openai.azure.com" and r.url.path.startswith("/openai/v1/")
            for r in api.requests
        )
        assert all(r.headers["api-key"] == "sk-test-123456789" for r in api.requests)


def test_anthropic_lines_validate_against_the_sdk_request_type() -> None:
    from anthropic.types.messages.batch_create_params import Request
    from anthropic.types.messages.message_batch import MessageBatch
    from pydantic import TypeAdapter

    api = FakeBatchAPI(kind="anthropic")
    llm = _llm("anthropic", api)
    job = batch.submit(
        llm, ["a", {"messages": "b", "temperature": 0.5}], tools=[lookup], system_prompt="terse"
    )
    job.wait()
    adapter = TypeAdapter(Request)
    for upload in api.uploads:
        for line in upload:
            adapter.validate_python(line)
            assert line["params"]["system"] == "terse" and line["params"]["max_tokens"] > 0
    # the fake speaks what the SDK reads (so these tests exercise the real shapes)
    MessageBatch.model_validate(
        {
            **next(iter(api.batches.values())),
            "created_at": "2025-01-12T09:42:37Z",
            "expires_at": "2025-01-13T09:42:37Z",
            "archived_at": None,
            "cancel_initiated_at": None,
            "ended_at": None,
        }
    )
    results = next(r for r in api.requests if r.url.path.endswith("/results"))
    assert results.headers["x-api-key"] == "sk-test-123456789"


def test_the_fakes_objects_parse_with_the_openai_sdk() -> None:
    from openai.types import Batch, FileObject

    api = FakeBatchAPI(kind="openai")
    llm = _llm("openai", api)
    batch.submit(llm, ["a"]).wait()
    for body in api.batches.values():
        Batch.model_validate({**body, "created_at": 0, "expires_at": 1})
    upload = next(r for r in api.requests if r.url.path.endswith("/files"))
    assert upload.method == "POST"
    FileObject.model_validate(
        {
            "id": "file-1",
            "object": "file",
            "bytes": 1,
            "created_at": 0,
            "filename": "batch.jsonl",
            "purpose": "batch",
            "status": "processed",
        }
    )


@pytest.mark.parametrize(("name", "kind", "extra"), PROVIDERS)
def test_a_5xx_on_create_is_never_retried_automatically(name: str, kind: str, extra: dict[str, Any]) -> None:
    api = FakeBatchAPI(kind=kind, create_status=500)
    llm = _llm(name, api, **extra)
    with pytest.raises(ServerError) as caught:
        batch.submit(llm, ["a", "b"])
    assert api.creates == 1  # the transport retries 5xx elsewhere, never a creation
    job = caught.value.job  # type: ignore[attr-defined]
    with pytest.raises(ToolwireError, match="may exist"):
        job.refresh()
    job.resubmit().wait()
    assert api.creates == 2 and [r.content for r in job.results()] == ["answer to a", "answer to b"]


def test_expired_and_cancelled_requests_are_typed_errors_at_their_index() -> None:
    api = FakeBatchAPI(kind="openai", drop={"0", "2"}, final="expired")
    job = batch.submit(_llm("openai", api), ["a", "b", "c"]).wait()
    results = job.results()
    assert [type(r).__name__ for r in results] == ["BatchItemError", "GenerateResponse", "BatchItemError"]
    assert results[0].reason == "expired" and results[2].index == 2
    api = FakeBatchAPI(kind="anthropic", final="expired")
    results = batch.submit(_llm("anthropic", api), ["a", "b"]).wait().results()
    assert all(isinstance(r, BatchItemError) and r.reason == "expired" for r in results)


def test_max_turns_ends_a_conversation_that_keeps_calling_tools() -> None:
    api = FakeBatchAPI(kind="openai")
    job = batch.submit(_llm("openai", api), ["a"], tools=[lookup], max_turns=1).wait()
    (result,) = job.results()
    assert isinstance(result, MaxTurnsExceeded) and result.messages[-1].role == "tool"


def test_polling_backs_off_and_honours_retry_after() -> None:
    sleeps: list[float] = []
    api = FakeBatchAPI(kind="openai", polls=6)
    batch.submit(_llm("openai", api, sleeps), ["a"]).wait(poll_interval=30)
    assert sleeps == [5, 10, 20, 30, 30, 30]
    sleeps.clear()
    api = FakeBatchAPI(kind="anthropic", polls=3)
    batch.submit(_llm("anthropic", api, sleeps), ["a"]).wait(poll_interval=60)
    assert sleeps == [10, 10, 20]  # retry-after: 10 is longer than the first 5 s wait


def test_wait_timeout_raises_and_the_job_can_wait_again() -> None:
    api = FakeBatchAPI(kind="openai", polls=10)
    job = batch.submit(_llm("openai", api), ["a"])
    with pytest.raises(ProviderTimeoutError, match="still in_progress"):
        job.wait(poll_interval=10, timeout=20)
    assert job.wait(poll_interval=10).results()[0].content == "answer to a"


def test_results_before_the_end_is_an_error() -> None:
    job = batch.submit(_llm("openai", FakeBatchAPI(kind="openai")), ["a"])
    with pytest.raises(ToolwireError, match=r"call job\.wait"):
        job.results()


def test_a_later_process_picks_the_job_up_from_its_state_file(tmp_path: Path) -> None:
    api = FakeBatchAPI(kind="openai", fail={"2"})
    state = tmp_path / "job.json"
    job = batch.submit(_llm("openai", api), ["a", "b", "c"], tools=[lookup, add], state=state)
    job.refresh()  # still in progress; this process ends here
    saved = json.loads(state.read_text())
    assert saved["id"] == job.id and "sk-test" not in state.read_text()
    with pytest.raises(ToolwireError, match="tools again"):
        batch.Job.load(_llm("openai", api), state)
    again = batch.Job.load(_llm("openai", api), state, tools=[lookup, add]).wait()
    results = again.results()
    assert [getattr(r, "content", None) for r in results[:2]] == [
        "answer to a using value-of-x, 4",
        "answer to b using value-of-x, 4",
    ]
    assert isinstance(results[2], InvalidRequestError)


def test_a_job_without_tools_is_picked_up_by_its_batch_id() -> None:
    api = FakeBatchAPI(kind="openai", drop={"1"})
    job = batch.submit(_llm("openai", api), ["a", "b", "c"])
    other = batch.Job.load(_llm("openai", api), str(job.id)).wait()
    results = other.results()
    assert results[0].content == "answer to a" and results[2].content == "answer to c"
    assert isinstance(results[1], BatchItemError) and results[1].reason == "missing"


def test_providers_without_a_batch_api_are_refused() -> None:
    llm = AbstractLLM.create("mistral", model="m", api_key="k")
    with pytest.raises(ConfigurationError, match=r"batch\.run"):
        batch.submit(llm, ["a"])


def test_an_input_that_cannot_be_translated_fails_alone() -> None:
    api = FakeBatchAPI(kind="openai")
    results = (
        batch.submit(_llm("openai", api), ["a", {"messages": "b", "tool_choice": "nope"}]).wait().results()
    )
    assert isinstance(results[0], GenerateResponse)
    assert isinstance(results[1], BatchItemError) and results[1].reason == "exception"
    assert "tool_choice='nope' needs tools" in str(results[1])
    assert len(api.uploads[0]) == 1  # only the input that could be translated was sent


# -- the recorded flows --------------------------------------------------------------------------
def test_recorded_openai_batch_flow_replays(replay: Any) -> None:
    r = replay("batch", "batch_openai_upload_create_poll_download_output.yaml", match="path")
    llm = AbstractLLM.create("openai", model="gpt-3.5-turbo", api_key="sk-test", http_client=r.client)
    llm.transport.sleep = lambda s: None
    job = batch.submit(llm, ["Spagetti", "Sushi", "Ramen"])
    assert job.id == "batch_6780bb2f8f6c8190a6c0abfb8502bba6" and job.status == "validating"
    results = job.wait().results()
    assert [type(x).__name__ for x in results] == ["GenerateResponse"] * 3
    assert results[0].content.startswith("Spaghetti is a type of pasta")
    assert results[0].model == "gpt-3.5-turbo-0125" and results[0].usage["total_tokens"] > 0
    sent = next(req for req in r.requests if req.url.endswith("/v1/files"))
    lines = [json.loads(x) for x in sent.body.split(b"\r\n\r\n", 2)[2].split(b"\r\n--")[0].splitlines()]
    assert [x["custom_id"] for x in lines] == ["0", "1", "2"]
    assert lines[1]["body"]["messages"] == [{"role": "user", "content": "Sushi"}]


def test_recorded_anthropic_batch_flow_replays(replay: Any) -> None:
    from anthropic.types.messages.message_batch_individual_response import MessageBatchIndividualResponse

    r = replay("batch", "batch_anthropic_create_poll_results_jsonl.yaml", match="path")
    llm = AbstractLLM.create(
        "anthropic", model="claude-3-5-sonnet-20241022", api_key="sk-ant-test", http_client=r.client
    )
    sleeps: list[float] = []
    llm.transport.sleep = sleeps.append
    job = batch.submit(llm, ["Spagetti", "Sushi", "Ramen"], max_tokens=8192)
    results = job.wait(poll_interval=60).results()
    assert job.status == "completed" and all(isinstance(x, GenerateResponse) for x in results)
    assert results[0].content.startswith("Here's a basic spaghetti recipe")
    assert sleeps[0] == 10  # the polls' retry-after: 10
    body = json.loads(r.requests[0].body)
    # the recorded client sent the string form of the content; toolwire's translation sends the
    # equivalent block list, exactly as its live calls do
    assert body["requests"][0] == {
        "custom_id": "0",
        "params": {
            "model": "claude-3-5-sonnet-20241022",
            "max_tokens": 8192,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Spagetti"}]}],
        },
    }
    # the recorded result lines are what the SDK reads too
    raw = r.cassette.interactions[-1].response.body
    for line in raw.decode().splitlines():
        MessageBatchIndividualResponse.model_validate_json(line)


def test_recorded_anthropic_create_only(replay: Any) -> None:
    r = replay("batch", "batch_anthropic_create.yaml", match="path")
    llm = AbstractLLM.create(
        "anthropic", model="claude-sonnet-4-5", api_key="sk-ant-test", http_client=r.client
    )
    job = batch.submit(llm, ["hello"])
    assert job.id and job.id.startswith("msgbatch_") and job.status == "in_progress"


@pytest.mark.parametrize(("name", "extra"), [("openai", {}), ("azure_openai", AZURE)])
def test_responses_api_lines_and_tool_rounds(name: str, extra: dict[str, Any]) -> None:
    api = FakeBatchAPI(kind="openai", fail={"2"})
    llm = _llm(name, api, api="responses", **extra)
    results = batch.submit(llm, ["q0", "q1", "q2"], tools=[lookup, add], store=False).wait().results()
    assert [r.content for r in results[:2]] == [
        "answer to q0 using value-of-x, 4",
        "answer to q1 using value-of-x, 4",
    ]
    assert isinstance(results[2], InvalidRequestError)
    for upload in api.uploads:
        for line in upload:
            assert line["url"] == "/v1/responses" and line["body"]["model"] == "gpt-4o-mini"
            assert_valid_request(line["body"], "responses")
    create = next(r for r in api.requests if r.url.path.endswith("/batches") and r.method == "POST")
    assert json.loads(create.content)["endpoint"] == "/v1/responses"
    # round 2 carries the function_call items and their outputs
    items = api.uploads[1][0]["body"]["input"]
    assert [i["output"] for i in items if i.get("type") == "function_call_output"] == ["value-of-x", "4"]


def test_recorded_responses_batch_submission_replays(replay: Any) -> None:
    r = replay("batch", "batch_openai_responses_endpoint_upload_and_create.yaml", match="path")
    llm = AbstractLLM.create(
        "openai", model="gpt-4.1", api_key="sk-test", http_client=r.client, api="responses"
    )
    job = batch.submit(llm, ["What's the capital of France?", "What's the capital of Germany?"], store=False)
    assert job.id == "batch_6955b415634481908ded45de11a2531a" and job.status == "validating"
    r.assert_all_used()
    sent = r.requests[0].body
    lines = [json.loads(x) for x in sent.split(b"\r\n\r\n", 2)[2].split(b"\r\n--")[0].splitlines()]
    recorded = r.cassette.interactions[0].request.body
    recorded_lines = [
        json.loads(x) for x in recorded.split(b"\r\n\r\n", 2)[2].split(b"\r\n--")[0].splitlines() if x.strip()
    ]
    for ours, theirs in zip(lines, recorded_lines, strict=True):
        assert ours["url"] == theirs["url"] == "/v1/responses"
        # chatlas sent input_text parts, toolwire the equivalent string content (as its live calls do)
        assert [_text(i) for i in ours["body"]["input"]] == [_text(i) for i in theirs["body"]["input"]]
        assert ours["body"]["model"] == theirs["body"]["model"] and ours["body"]["store"] is False
        assert_valid_request(ours["body"], "responses")
    assert json.loads(r.requests[1].body)["endpoint"] == "/v1/responses"


def _text(item: dict[str, Any]) -> tuple[str, str]:
    content = item["content"]
    text = content if isinstance(content, str) else "".join(p["text"] for p in content)
    return item["role"], text


def test_the_state_file_keeps_no_header_secret(tmp_path: Path) -> None:
    state = tmp_path / "job.json"
    api = FakeBatchAPI(kind="openai")
    headers = {"x-gateway-key": "gw-SECRET-0123456789"}
    batch.submit(
        _llm("openai", api), ["a"], tools=[lookup], extra_headers=headers, temperature=0.3, state=state
    )
    text = state.read_text()
    assert "gw-SECRET" not in text and "sk-test" not in text
    assert json.loads(text)["conversations"][0]["kwargs"] == {"temperature": 0.3}
