"""Downloading URL images for services that take only bytes (Gemini, Bedrock).

A plain GET on the provider's pooled client: the provider's credentials are per request headers,
never client defaults, so nothing of ours reaches the image's host. The body is read up to the
provider's image limit and checked like any other image bytes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .image import Image, ImageError
from .types import Message

if TYPE_CHECKING:
    import httpx2

__all__ = ["adownload_images", "download_images"]

_TIMEOUT = 30.0


def _media_type(response: httpx2.Response) -> str | None:
    declared = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    # servers often say application/octet-stream: then the bytes alone decide
    return declared if declared.startswith("image/") else None


def _checked(image: Image, response: httpx2.Response, body: bytes, provider: str) -> Image:
    if response.status_code >= 400:
        status = response.status_code
        raise ImageError(f"{provider}: downloading image {image.url!r} failed with HTTP {status}")
    try:
        return image.with_data(body, _media_type(response) or None)
    except ImageError as exc:
        raise ImageError(f"{provider}: image {image.url!r}: {exc}") from None


def _too_large(image: Image, limit: int, provider: str) -> ImageError:
    return ImageError(f"{provider} accepts images up to {limit / 1_000_000:.2f} MB; {image.url!r} is larger")


def _fetch(image: Image, client: httpx2.Client, limit: int, provider: str) -> Image:
    assert image.url is not None
    try:
        with client.stream("GET", image.url, timeout=_TIMEOUT, follow_redirects=True) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    raise _too_large(image, limit, provider)
    except ImageError:
        raise
    except Exception as exc:  # the HTTP library's own errors: one typed error for the caller
        raise ImageError(f"{provider}: cannot download image {image.url!r}: {type(exc).__name__}") from exc
    return _checked(image, response, bytes(body), provider)


async def _afetch(image: Image, client: httpx2.AsyncClient, limit: int, provider: str) -> Image:
    assert image.url is not None
    try:
        async with client.stream("GET", image.url, timeout=_TIMEOUT, follow_redirects=True) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    raise _too_large(image, limit, provider)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"{provider}: cannot download image {image.url!r}: {type(exc).__name__}") from exc
    return _checked(image, response, bytes(body), provider)


def _url_images(messages: list[Message]) -> list[Image]:
    seen: dict[str, Image] = {}
    for message in messages:
        for image in message.images:
            if image.data is None and image.url is not None:
                seen.setdefault(image.url, image)
    return list(seen.values())


def _swap(value: Any, fetched: dict[str, Image]) -> Any:
    if isinstance(value, Image):
        return fetched.get(value.url or "", value) if value.data is None else value
    if isinstance(value, list):
        return [_swap(v, fetched) for v in value]
    return value


def _rebuilt(messages: list[Message], fetched: dict[str, Image]) -> list[Message]:
    out = []
    for message in messages:
        if not message.images:
            out.append(message)
            continue
        results = None
        if message.tool_results:
            results = [
                replace(r, output=_swap(r.output, fetched)) if r.images() else r for r in message.tool_results
            ]
        out.append(replace(message, content=_swap(message.content, fetched), tool_results=results))
    return out


def download_images(
    messages: list[Message], client: httpx2.Client, limit: int, provider: str
) -> list[Message]:
    """The messages with every URL image replaced by its downloaded bytes (each URL once)."""
    fetched = {image.url or "": _fetch(image, client, limit, provider) for image in _url_images(messages)}
    return _rebuilt(messages, fetched)


async def adownload_images(
    messages: list[Message], client: httpx2.AsyncClient, limit: int, provider: str
) -> list[Message]:
    fetched = {}
    for image in _url_images(messages):
        fetched[image.url or ""] = await _afetch(image, client, limit, provider)
    return _rebuilt(messages, fetched)

