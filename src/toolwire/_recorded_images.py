"""Images in recorded rows: each one replaced by a small reference, its bytes kept once by hash.

The recorder stores the wire body of every model call, and a body carries every image of the
history in the provider's own shape (OpenAI `data:` URLs, Anthropic/Gemini/Bedrock base64 fields).
`ImageRefs` knows the images of one request and swaps each of their encodings, wherever it sits,
for `{"type": "image", "sha256", "media_type", "size"}`; any other inline image (a `data:image/…`
URL, an `Image.to_dict()` with data) is caught too, so no row holds image bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .image import Image, ImageError, sniff_media_type

__all__ = [
    "ImageRefs",
    "collect",
    "describe",
    "describe_all",
    "image_ref",
    "is_image_ref",
    "message_dict",
    "tool_output",
]

# sha256 -> (media_type, bytes): what the writer puts in the `images` table, once per hash
Blobs = dict[str, tuple[str, bytes]]


def image_ref(image: Image) -> dict[str, Any]:
    """The stored stand-in for an image: its hash, type and size (a URL image: its URL)."""
    if image.data is None:
        return {"type": "image", "url": image.url, "media_type": image.media_type}
    return {"type": "image", "sha256": image.sha256, "media_type": image.media_type, "size": image.size}


def is_image_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "image" and "data" not in value


class ImageRefs:
    """Replaces the known images of one request (and any other inline image) by references,
    collecting their bytes into `blobs`."""

    def __init__(self, images: Iterable[Image], blobs: Blobs) -> None:
        self.blobs = blobs
        self._encoded: dict[str, Image] = {}
        for image in images:
            if image.data is not None:
                self._encoded[image.base64()] = image
                self._encoded[image.data_url()] = image

    def ref(self, image: Image) -> dict[str, Any]:
        if image.data is not None and image.sha256 and image.media_type:
            self.blobs.setdefault(image.sha256, (image.media_type, image.data))
        return image_ref(image)

    def replace(self, value: Any, _depth: int = 0) -> Any:
        if _depth > 64:
            return value
        if isinstance(value, Image):
            return self.ref(value)
        if isinstance(value, str):
            return self._string(value)
        if isinstance(value, (bytes, bytearray)):
            return self._bytes(bytes(value))
        if isinstance(value, Mapping):
            if value.get("type") == "image" and isinstance(value.get("data"), str):
                try:  # Image.to_dict() with its base64 (a message in the fallback request form)
                    return self.ref(Image.from_dict(value))
                except ImageError:
                    pass
            return {k: self.replace(v, _depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.replace(v, _depth + 1) for v in value]
        return value

    def _string(self, text: str) -> Any:
        known = self._encoded.get(text)
        if known is not None:
            return self.ref(known)
        if text.startswith("data:image/") and ";base64," in text[:64]:
            try:  # an image we were not told about (a downloaded URL image, a raw part)
                return self.ref(Image.from_url(text))
            except ImageError:
                return "data:image/…(not a valid image, not stored)"
        return text

    def _bytes(self, data: bytes) -> Any:
        if sniff_media_type(data) is not None:
            try:
                return self.ref(Image(data=data))
            except ImageError:
                pass
        return data


def message_dict(message: Any) -> Any:
    """A message as recorded when the wire body could not be built: its images as references
    (the caller's `ImageRefs.replace` turns the inline ones into references)."""
    to_dict = getattr(message, "to_dict", None)
    if not callable(to_dict):
        return message
    data = to_dict()
    results = getattr(message, "tool_results", None) or ()
    for stored, result in zip(data.get("tool_results") or (), results):
        images = result.images()
        if images:  # to_dict keeps a result's text only: name its images too
            stored["images"] = [image_ref(image) for image in images]
    return data


def tool_output(result: Any, output: Any, refs: ImageRefs) -> dict[str, Any]:
    """A tool result as recorded: its text, its error, and its images as references."""
    stored: dict[str, Any] = {"output": output, "error": result.error}
    images = result.images()
    if images:  # output_text() is the text parts only: the images go beside it, as references
        stored["images"] = [refs.ref(image) for image in images]
    return stored


def _size(size: int) -> str:
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


def describe(ref: Mapping[str, Any]) -> str:
    """`[image image/png 1.2 KB sha256:abcd1234ef56…]`: how a log or the CLI shows an image."""
    media = ref.get("media_type") or "image/?"
    if ref.get("sha256"):
        size = ref.get("size")
        shown = f" {_size(size)}" if isinstance(size, int) else ""
        return f"[image {media}{shown} sha256:{str(ref['sha256'])[:12]}…]"
    return f"[image {media} {ref.get('url') or '(no data)'}]"


def describe_all(value: Any, _depth: int = 0) -> Any:
    """A copy of recorded JSON with every image reference (or inline image) as its `describe` text."""
    if _depth > 64:
        return value
    if isinstance(value, Mapping):
        if value.get("type") == "image" and ("sha256" in value or "url" in value or "data" in value):
            ref = dict(value)
            if isinstance(ref.get("data"), str):  # an older row with the base64 inline
                ref.pop("data")
                ref.setdefault("sha256", "(inline)")
            return describe(ref)
        return {k: describe_all(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [describe_all(v, _depth + 1) for v in value]
    if isinstance(value, str) and value.startswith("data:image/") and ";base64," in value[:64]:
        return f"[image {value[5:].split(';', 1)[0]} inline, {len(value)} characters of base64]"
    return value


def collect(
    value: Any, found: dict[str, dict[str, Any]] | None = None, _depth: int = 0
) -> list[dict[str, Any]]:
    """The image references in recorded JSON, in order, once each (by hash or URL)."""
    found = {} if found is None else found
    if _depth <= 64:
        if isinstance(value, Mapping):
            if is_image_ref(value) and (value.get("sha256") or value.get("url")):
                key = str(value.get("sha256") or value.get("url"))
                found.setdefault(
                    key, {k: value[k] for k in ("sha256", "url", "media_type", "size") if k in value}
                )
            else:
                for item in value.values():
                    collect(item, found, _depth + 1)
        elif isinstance(value, list):
            for item in value:
                collect(item, found, _depth + 1)
    return list(found.values())
