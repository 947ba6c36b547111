"""`toolwire.Image`: where images come from, what they really are, and how they show in logs."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import pytest

from toolwire.image import Image, ImageError, sniff_media_type


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, decodable PNG (RGB, all black): no fixture file needed."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + payload))
        return struct.pack(">I", len(payload)) + kind + payload + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00\x00\x00" * width for _ in range(height))
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
GIF = b"GIF89a" + b"\x00" * 20
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 20
HEIC = b"\x00\x00\x00\x18ftypheic" + b"\x00" * 20


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (png_bytes(), "image/png"),
        (JPEG, "image/jpeg"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
        (HEIC, "image/heic"),
    ],
)
def test_the_type_comes_from_the_bytes(data: bytes, media_type: str) -> None:
    assert sniff_media_type(data) == media_type
    image = Image(data=data)
    assert image.media_type == media_type
    assert image.size == len(data)


def test_a_declared_type_must_match_the_bytes() -> None:
    assert Image(data=JPEG, media_type="image/jpg").media_type == "image/jpeg"
    with pytest.raises(ImageError, match="declared as image/png but the bytes are image/jpeg"):
        Image(data=JPEG, media_type="image/png")


def test_bytes_that_are_not_an_image_are_refused() -> None:
    with pytest.raises(ImageError, match="not a PNG, JPEG, GIF, WebP or HEIC image"):
        Image(data=b"%PDF-1.7 not an image")
    with pytest.raises(ImageError, match="exactly one of"):
        Image()
    with pytest.raises(ImageError, match="must be bytes"):
        Image(data="a string")  # type: ignore[arg-type]


def test_from_path_reads_and_checks_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    path.write_bytes(png_bytes())
    image = Image.from_path(path)
    assert image.media_type == "image/png"
    liar = tmp_path / "photo.jpg"
    liar.write_bytes(png_bytes())
    with pytest.raises(ImageError, match=r"photo\.jpg.*declared as image/jpeg but the bytes are image/png"):
        Image.from_path(liar)
    with pytest.raises(ImageError, match="cannot read image"):
        Image.from_path(tmp_path / "missing.png")


def test_urls_and_data_urls() -> None:
    remote = Image.from_url("https://example.com/x.jpg")
    assert remote.data is None and remote.size is None and remote.url == "https://example.com/x.jpg"
    encoded = base64.b64encode(png_bytes()).decode()
    inline = Image.from_url(f"data:image/png;base64,{encoded}")
    assert inline.data == png_bytes() and inline.media_type == "image/png"
    assert inline.data_url() == f"data:image/png;base64,{encoded}"
    with pytest.raises(ImageError, match="http"):
        Image(url="file:///etc/passwd")
    with pytest.raises(ImageError, match="not valid base64"):
        Image.from_url("data:image/png;base64,@@@")
    with pytest.raises(ImageError, match="not been downloaded"):
        remote.base64()


def test_size_limits_name_the_provider() -> None:
    image = Image(data=png_bytes(64, 64))
    image.check_size(10_000_000, provider="bedrock")
    with pytest.raises(ImageError, match=r"anthropic accepts images up to 0\.00 MB"):
        image.check_size(10, provider="anthropic")


def test_repr_and_dict_never_need_the_bytes() -> None:
    data = png_bytes()
    image = Image(data=data)
    assert "\\x89" not in repr(image) and "PNG" not in repr(image)
    assert repr(image).startswith("Image(media_type='image/png', size=")
    light = image.to_dict(include_data=False)
    assert "data" not in light and light["sha256"] == image.sha256
    assert Image.from_dict(image.to_dict()) == image
    assert Image.from_dict({"url": "https://e.com/a.png"}).url == "https://e.com/a.png"
    assert len({Image(data=data), Image(data=bytes(data))}) == 1
