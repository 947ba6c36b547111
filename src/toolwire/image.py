"""`Image`: a picture in a message or a tool result, as bytes with a checked media type or as a URL.

Providers take images in different shapes (OpenAI `image_url` parts, Anthropic `image` blocks,
Gemini `inlineData`, Bedrock `image` blocks...) and with different limits; each provider module
translates an `Image` itself. This module only knows images: where they come from, what they are
(sniffed from their magic bytes, never trusted from a file name), and how to show them in a log
without printing their bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ToolwireError

__all__ = ["SUPPORTED_MEDIA_TYPES", "Image", "ImageError", "sniff_media_type"]

# What every provider we speak accepts (Bedrock: png|jpeg|gif|webp; OpenAI, Anthropic, Gemini and
# Mistral take at least these); HEIC/HEIF are Gemini-only and are refused elsewhere by the provider.
SUPPORTED_MEDIA_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "image/heif")
_EXTENSIONS = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".heic": "image/heic",
    ".heif": "image/heif",
}
_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx")
_HEIF_BRANDS = (b"mif1", b"msf1")


class ImageError(ToolwireError, ValueError):
    """An image that cannot be sent: unknown format, a media type that lies, too large, unreadable."""


def sniff_media_type(data: bytes) -> str | None:
    """The media type the bytes really have (PNG, JPEG, GIF, WebP, HEIC/HEIF), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _HEIF_BRANDS:
            return "image/heif"
    return None


def _normalize(media_type: str) -> str:
    media_type = media_type.split(";", 1)[0].strip().lower()
    return "image/jpeg" if media_type == "image/jpg" else media_type


@dataclass(frozen=True, eq=False)
class Image:
    """An image: `Image(data=png_bytes, media_type="image/png")`, `Image.from_path("chart.png")` or
    `Image.from_url("https://…/x.jpg")`.

    Bytes are checked when the image is made: their real type (from the magic bytes) must be a
    supported one and match `media_type` when one is given. A URL image has no bytes until a
    provider that cannot fetch URLs downloads it (`fetch_bytes`)."""

    data: bytes | None = None
    media_type: str | None = None
    url: str | None = None
    # OpenAI's `detail` ("low", "high", "auto"); other providers ignore it.
    detail: str | None = None
    _sha256: str = field(default="", init=False, repr=False)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.url is None):
            raise ImageError("an Image needs exactly one of data= (bytes) or url=")
        if self.data is not None:
            if not isinstance(self.data, (bytes, bytearray, memoryview)):
                raise ImageError(f"Image data must be bytes, got {type(self.data).__name__}")
            data = bytes(self.data)
            object.__setattr__(self, "data", data)
            object.__setattr__(self, "media_type", _checked_media_type(data, self.media_type))
            object.__setattr__(self, "_sha256", hashlib.sha256(data).hexdigest())
        else:
            assert self.url is not None
            if not self.url.startswith(("http://", "https://")):
                raise ImageError("Image.url must be an http(s) URL; use Image.from_url for data: URLs")
            if self.media_type is not None:
                object.__setattr__(self, "media_type", _normalize(self.media_type))

    # -- constructors ---------------------------------------------------------------------------
    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, detail: str | None = None) -> Image:
        """Read an image file; its type comes from its bytes (the extension must agree)."""
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise ImageError(f"cannot read image {os.fspath(path)!r}: {exc.strerror or exc}") from exc
        declared = _EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower())
        try:
            return cls(data=data, media_type=declared, detail=detail)
        except ImageError as exc:
            raise ImageError(f"{os.fspath(path)!r}: {exc}") from None

    @classmethod
    def from_url(cls, url: str, *, media_type: str | None = None, detail: str | None = None) -> Image:
        """An image at an http(s) URL (sent as a URL where the provider fetches it), or a
        `data:image/...;base64,` URL (decoded to bytes here)."""
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            if ";base64" not in header:
                raise ImageError("only base64 data: URLs are supported for images")
            declared = header[5:].split(";", 1)[0] or media_type
            return cls.from_base64(payload, media_type=declared, detail=detail)
        return cls(url=url, media_type=media_type, detail=detail)

    @classmethod
    def from_base64(cls, data: str, *, media_type: str | None = None, detail: str | None = None) -> Image:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ImageError(f"image data is not valid base64: {exc}") from None
        return cls(data=raw, media_type=media_type, detail=detail)

    # -- views ----------------------------------------------------------------------------------
    @property
    def size(self) -> int | None:
        """Bytes of image data (None for a URL image not yet downloaded)."""
        return len(self.data) if self.data is not None else None

    @property
    def sha256(self) -> str | None:
        """Hex digest of the bytes: how the recorder stores an image once, whatever its uses."""
        return self._sha256 or None

    def base64(self) -> str:
        return base64.b64encode(self._bytes()).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.media_type};base64,{self.base64()}"

    def check_size(self, limit: int, *, provider: str) -> None:
        """Raise `ImageError` before any request when the image is over a provider's limit."""
        if self.data is not None and len(self.data) > limit:
            raise ImageError(
                f"{provider} accepts images up to {_megabytes(limit)}; this {self.media_type} image is "
                f"{_megabytes(len(self.data))} (resize or compress it first)"
            )

    def with_data(self, data: bytes, media_type: str | None = None) -> Image:
        """The same image with its bytes (after a download), checked like any other."""
        return Image(data=data, media_type=media_type or self.media_type, detail=self.detail)

    def to_dict(self, *, include_data: bool = True) -> dict[str, Any]:
        """A JSON-safe form (`{"type": "image", ...}`); without data, the hash stands for the bytes."""
        out: dict[str, Any] = {"type": "image", "media_type": self.media_type}
        if self.url is not None:
            out["url"] = self.url
        if self.data is not None:
            out["sha256"] = self.sha256
            out["size"] = len(self.data)
            if include_data:
                out["data"] = self.base64()
        if self.detail is not None:
            out["detail"] = self.detail
        return out

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Image:
        if value.get("data") is not None:
            media_type, detail = value.get("media_type"), value.get("detail")
            return cls.from_base64(value["data"], media_type=media_type, detail=detail)
        if value.get("url"):
            return cls.from_url(value["url"], media_type=value.get("media_type"), detail=value.get("detail"))
        raise ImageError("an image dict needs 'data' (base64) or 'url'")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Image):
            return NotImplemented
        return (self.sha256, self.url, self.media_type, self.detail) == (
            other.sha256,
            other.url,
            other.media_type,
            other.detail,
        )

    def __hash__(self) -> int:
        return hash((self.sha256, self.url, self.media_type))

    def __repr__(self) -> str:
        # Never the bytes: an image in a log line is its type, size and hash.
        if self.data is None:
            return f"Image(url={self.url!r}, media_type={self.media_type!r})"
        return f"Image(media_type={self.media_type!r}, size={len(self.data)}, sha256={self._sha256[:12]!r})"

    def _bytes(self) -> bytes:
        if self.data is None:
            raise ImageError(f"image {self.url!r} has not been downloaded")
        return self.data


def _checked_media_type(data: bytes, declared: str | None) -> str:
    sniffed = sniff_media_type(data)
    if sniffed is None:
        head = data[:8].hex(" ")
        raise ImageError(
            f"not a PNG, JPEG, GIF, WebP or HEIC image (first bytes: {head or 'none'}); "
            f"supported: {', '.join(SUPPORTED_MEDIA_TYPES)}"
        )
    if declared is not None and _normalize(declared) != sniffed:
        raise ImageError(f"declared as {_normalize(declared)} but the bytes are {sniffed}")
    return sniffed


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"
