"""Images in user messages and in tool results, in each provider's own format.

Each provider sits behind a mock transport that captures the request body; the body is checked
against the provider's own request types (the OpenAI spec, the anthropic / google-genai / mistralai
SDK models) and against where each wire format wants images: Chat Completions tool messages are
text only (the images follow in a user message naming the call), Anthropic puts them inside the
`tool_result`, Gemini next to the `functionResponse`, Mistral inside its tool message.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic.types
import httpx2
import pydantic
import pytest
from google.genai import types as gtypes

from support.mistral_shapes import mistral_request_problems
from support.openapi_validation import request_schema_errors
from support.vertex_discovery import discovery_problems
from test_cross_provider import BEDROCK_ANSWER, CANNED, FINAL, MODELS, bedrock_problems
from test_image import png_bytes
from toolwire import Session
from toolwire.errors import UnsupportedCapabilityError
from toolwire.image import Image, ImageError
from toolwire.providers.registry import AbstractLLM
from toolwire.types import Message, ToolCall, ToolResult

PNG = png_bytes()
IMAGE_URL = "https://images.example.com/chart.png"

# A first answer that calls the `screenshot` tool, per wire format.
TOOL_TURN: dict[str, dict[str, Any]] = {
    "openai": {
        "id": "chatcmpl-0",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "screenshot", "arguments": "{}"},
                        }
                    ],
                },
            }
        ],
    },
    "anthropic": {
        "id": "msg_0",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-0",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    },
    "gemini": {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"functionCall": {"name": "screenshot", "args": {}}}]},
                "finishReason": "STOP",
            }
        ]
    },
}
TOOL_TURN["mistral"] = json.loads(json.dumps(TOOL_TURN["openai"]).replace("call_1", "abcDEF123"))
TOOL_TURN["responses"] = {
    "id": "resp_0",
    "object": "response",
    "status": "completed",
    "model": "gpt-5-mini",
    "output": [
        {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "screenshot", "arguments": "{}"}
    ],
    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
}
TOOL_TURN["bedrock"] = {
    "output": {
        "message": {
            "role": "assistant",
            "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "screenshot", "input": {}}}],
        }
    },
    "stopReason": "tool_use",
    "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
}
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
RESPONSES_FINAL = {
    "id": "resp_1",
    "object": "response",
    "status": "completed",
    "model": "gpt-5-mini",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": FINAL, "annotations": []}],
        }
    ],
    "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2},
}


def screenshot() -> Image:
    """A screenshot of the page."""
    return Image(data=PNG)


def _provider(name: str, answers: list[dict[str, Any]], **config: Any) -> tuple[Any, list[httpx2.Request]]:
    sent: list[httpx2.Request] = []
    queue = list(answers)

    def answer(request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":  # an image download
            sent.append(request)
            return httpx2.Response(200, content=PNG, headers={"content-type": "image/png"})
        sent.append(request)
        final = {"responses": RESPONSES_FINAL, "bedrock": BEDROCK_ANSWER}.get(name) or CANNED[name]
        return httpx2.Response(200, json=queue.pop(0) if queue else final)

    transport = httpx2.MockTransport(answer)
    if name == "responses":
        config = {"api": "responses", "model": "gpt-5-mini", **config}
    if name == "bedrock":
        config = {"model": BEDROCK_MODEL, "region": "us-east-1", **config}
    llm = AbstractLLM.create(
        "openai" if name == "responses" else name,
        **{"model": MODELS.get(name), "api_key": "test-key", **config},
        http_client=httpx2.Client(transport=transport),
        async_http_client=httpx2.AsyncClient(transport=transport),
    )
    return llm, sent


def _body(request: httpx2.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


def _valid(name: str, body: dict[str, Any]) -> None:
    if name == "openai":
        assert request_schema_errors(body) == []
    elif name == "responses":
        assert request_schema_errors(body, "responses") == []
    elif name == "anthropic":
        for message in body["messages"]:
            pydantic.TypeAdapter(anthropic.types.MessageParam).validate_python(message)
    elif name == "gemini":
        for content in body["contents"]:
            gtypes.Content.model_validate(content)
        # the same contents as Vertex AI's discovery document describes them
        assert discovery_problems({"contents": body["contents"]}) == []
    elif name == "bedrock":
        assert bedrock_problems(BEDROCK_MODEL, body) == []
    else:
        assert mistral_request_problems(body) == []


USER = Message(role="user", content=["What is on this chart?", Image(data=PNG)])


@pytest.mark.parametrize("name", ["openai", "responses", "anthropic", "gemini", "mistral", "bedrock"])
def test_user_images_in_each_format(name: str) -> None:
    llm, sent = _provider(name, [])
    llm.generate([USER])
    body = _body(sent[-1])
    _valid(name, body)
    encoded = Image(data=PNG).base64()
    if name in ("openai", "mistral"):
        parts = body["messages"][-1]["content"]
        assert parts[0] == {"type": "text", "text": "What is on this chart?"}
        assert parts[1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}"}}
    elif name == "responses":
        parts = body["input"][-1]["content"]
        assert parts[0] == {"type": "input_text", "text": "What is on this chart?"}
        image = {"type": "input_image", "image_url": f"data:image/png;base64,{encoded}", "detail": "auto"}
        assert parts[1] == image
    elif name == "bedrock":
        blocks = body["messages"][-1]["content"]
        image_block = {"image": {"format": "png", "source": {"bytes": encoded}}}
        assert blocks == [{"text": "What is on this chart?"}, image_block]
    elif name == "anthropic":
        blocks = body["messages"][-1]["content"]
        source = {"type": "base64", "media_type": "image/png", "data": encoded}
        assert blocks[1] == {"type": "image", "source": source}
    else:
        parts = body["contents"][-1]["parts"]
        inline = {"inlineData": {"mimeType": "image/png", "data": encoded}}
        assert parts == [{"text": "What is on this chart?"}, inline]


@pytest.mark.parametrize("name", ["openai", "responses", "anthropic", "gemini", "mistral", "bedrock"])
def test_a_session_tool_returning_an_image(name: str) -> None:
    llm, sent = _provider(name, [TOOL_TURN[name]])
    response = Session(llm, tools=[screenshot]).generate("Take a screenshot and describe it.")
    assert response.content == FINAL
    body = _body(sent[-1])
    _valid(name, body)
    if name == "openai":
        tool, follow_up = body["messages"][-2:]
        assert tool["role"] == "tool" and tool["tool_call_id"] == "call_1"
        assert follow_up["role"] == "user"
        assert follow_up["content"][0]["text"] == "Images returned by tool call call_1 (screenshot):"
        assert follow_up["content"][1]["type"] == "image_url"
    elif name == "bedrock":
        [block] = body["messages"][-1]["content"]
        assert block["toolResult"]["toolUseId"] == "tooluse_1"
        assert [list(c) for c in block["toolResult"]["content"]] == [["image"]]
    elif name == "responses":
        output = body["input"][-1]
        assert output["type"] == "function_call_output" and output["call_id"] == "call_1"
        assert [item["type"] for item in output["output"]] == ["input_image"]
    elif name == "mistral":
        tool = body["messages"][-1]
        assert tool["role"] == "tool"  # no user message after tool messages: Mistral refuses it
        assert [part["type"] for part in tool["content"]] == ["text", "image_url"]
    elif name == "anthropic":
        [result] = body["messages"][-1]["content"]
        assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_1"
        assert [block["type"] for block in result["content"]] == ["image"]
    else:
        parts = body["contents"][-1]["parts"]
        assert "functionResponse" in parts[0]
        assert parts[1]["text"].startswith("Images returned by screenshot (call ")
        assert parts[2]["inlineData"]["mimeType"] == "image/png"


def test_a_model_without_vision_refuses_images_before_any_request() -> None:
    llm, sent = _provider("openai", [], model="gpt-3.5-turbo")
    with pytest.raises(UnsupportedCapabilityError, match=r"'gpt-3\.5-turbo' does not support images"):
        llm.generate([USER])
    history = [
        Message(role="user", content="look"),
        Message(role="assistant", tool_calls=[ToolCall("c1", "screenshot", {})]),
        Message(role="tool", tool_results=[ToolResult("c1", "screenshot", output=Image(data=PNG))]),
    ]
    with pytest.raises(UnsupportedCapabilityError):
        llm.generate(history)
    assert sent == []


def test_an_image_over_the_provider_limit_is_refused_before_any_request() -> None:
    llm, sent = _provider("anthropic", [])
    big = Image(data=PNG + b"\x00" * (5 * 1024 * 1024))
    with pytest.raises(ImageError, match="anthropic accepts images up to"):
        llm.generate([Message(role="user", content=["x", big])])
    assert sent == []


@pytest.mark.parametrize("name", ["openai", "anthropic"])
def test_urls_go_as_urls_where_the_service_fetches_them(name: str) -> None:
    llm, sent = _provider(name, [])
    llm.generate([Message(role="user", content=["describe", Image.from_url(IMAGE_URL)])])
    assert [r.method for r in sent] == ["POST"]
    text = sent[0].content.decode()
    assert IMAGE_URL in text


@pytest.mark.parametrize("name", ["gemini", "bedrock"])
def test_url_images_are_downloaded_without_our_credentials(name: str) -> None:
    llm, sent = _provider(name, [])
    llm.generate([Message(role="user", content=["describe", Image.from_url(IMAGE_URL)])])
    download, call = sent
    assert download.method == "GET" and str(download.url) == IMAGE_URL
    assert "x-goog-api-key" not in download.headers and "authorization" not in download.headers
    assert "test-key" not in str(download.headers)
    encoded = Image(data=PNG).base64()
    if name == "gemini":
        assert _body(call)["contents"][0]["parts"][1]["inlineData"]["data"] == encoded
    else:
        assert _body(call)["messages"][0]["content"][1]["image"]["source"]["bytes"] == encoded


async def test_gemini_downloads_url_images_async() -> None:
    llm, sent = _provider("gemini", [])
    await llm.agenerate([Message(role="user", content=["describe", Image.from_url(IMAGE_URL)])])
    assert [r.method for r in sent] == ["GET", "POST"]


def test_openai_shaped_dict_histories_keep_their_images() -> None:
    encoded = Image(data=PNG).base64()
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{encoded}", "detail": "low"}},
        ],
    }
    llm, sent = _provider("anthropic", [])
    llm.generate([message])
    blocks = _body(sent[0])["messages"][0]["content"]
    assert blocks[1]["source"]["data"] == encoded


def test_logs_and_reprs_never_hold_image_bytes() -> None:
    import io

    from toolwire.logs import disable_debug_logging, enable_debug_logging

    encoded = Image(data=PNG).base64()
    message = Message(role="user", content=["x", Image(data=PNG)])
    assert encoded not in repr(message)
    llm, _ = _provider("openai", [TOOL_TURN["openai"]])
    out = io.StringIO()
    enable_debug_logging(rich=False, stream=out)
    try:
        Session(llm, tools=[screenshot]).generate([message])
    finally:
        disable_debug_logging()
    logged = out.getvalue()
    assert "screenshot" in logged, "the session logged nothing at DEBUG"
    assert encoded not in logged and encoded[:40] not in logged


async def test_an_async_session_tool_returning_text_and_images() -> None:
    async def charts() -> list[object]:
        """Two charts."""
        return ["Found 2 charts:", Image(data=PNG), Image(data=png_bytes(3, 3))]

    turn = json.loads(json.dumps(TOOL_TURN["anthropic"]).replace("screenshot", "charts"))
    llm, sent = _provider("anthropic", [turn])
    response = await Session(llm, tools=[charts]).agenerate("Show me the charts.")
    assert response.content == FINAL
    [result] = _body(sent[-1])["messages"][-1]["content"]
    assert [block["type"] for block in result["content"]] == ["text", "image", "image"]
    assert result["content"][0]["text"] == "Found 2 charts:"
