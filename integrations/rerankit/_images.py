"""Images as documents: :class:`Image`, the checked bytes behind it, and the limits on both.

A document is a string, an image, or text and images together. An image is given as a
:class:`Image` (``from_path``, ``from_bytes``, ``from_url``, ``from_pil``) or a PIL image; text and
images together as a list of parts (see :mod:`rerankit._documents`). Before anything is sent, every
image is read once and checked (:meth:`Image.content`): its bytes within ``max_image_bytes``, a
format rerankers take (PNG, JPEG, WebP, GIF, BMP, TIFF), at most ``max_image_pixels`` pixels, and
decodable. What comes out is an :class:`ImageContent`: the bytes, their MIME type and SHA-256,
which dedupe and the score cache key on (never a URL alone).

An image URL is fetched only with ``Reranker(..., fetch_image_urls=True)``, and then within
``image_fetch_timeout`` seconds and ``max_image_bytes`` bytes, so a document cannot make the
process fetch an address on its own. Pillow is needed only when images are used
(``pip install 'rerankit[images]'``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from rerankit._errors import ConfigurationError, InvalidInputError
from rerankit._image_fetch import read_url
from rerankit._options_base import Options

#: The image formats rerankit sends, by Pillow's name, with their MIME types (what the vision
#: rerankers' processors and the hosted APIs decode).
IMAGE_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
#: The first bytes of those formats (WebP: ``RIFF....WEBP``, checked apart).
IMAGE_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/\r\n]+={0,2}")


class ImageOptions(Options):
    """``Reranker``'s limits on image documents."""

    fetch_image_urls: bool = Field(
        default=False,
        description="Fetch images given by http(s) URL; off, a URL image is refused, so a document "
        "cannot make the process fetch an address.",
    )
    max_image_bytes: int = Field(
        default=20_000_000, ge=1, description="The largest image file accepted, in bytes (fetched or not)."
    )
    max_image_pixels: int = Field(
        default=40_000_000, ge=1, description="The most pixels (width x height) an image may have."
    )
    image_fetch_timeout: float = Field(
        default=10.0, gt=0, description="Seconds one image URL fetch may take, connect to last byte."
    )


DEFAULT_IMAGE_OPTIONS = ImageOptions()


def _pil() -> Any:
    try:
        import PIL.Image
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ConfigurationError("image documents need Pillow: pip install 'rerankit[images]'") from exc
    return PIL.Image


def is_pil_image(value: Any) -> bool:
    """Whether ``value`` is a PIL image (without importing Pillow when nobody has)."""
    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(value, module.Image)


@dataclass(frozen=True)
class ImageContent:
    """A checked image: its bytes, format and size. Equal when the bytes are.

    Attributes:
        data: The encoded image file, as given (a PIL image is encoded as PNG).
        mime_type: ``image/png``, ``image/jpeg``, ...
        sha256: The hex SHA-256 of ``data``: what dedupe and the score cache key on.
        width: Pixels across.
        height: Pixels down.
    """

    data: bytes = field(repr=False)
    mime_type: str
    sha256: str
    width: int
    height: int

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageContent) and other.sha256 == self.sha256

    def __hash__(self) -> int:
        return hash(self.sha256)

    def data_url(self) -> str:
        """``data:<mime>;base64,...``: the image as OpenAI-style content parts carry it."""
        return f"data:{self.mime_type};base64,{self.base64()}"

    def base64(self) -> str:
        """The bytes, base64-encoded (Jina's ``{"image": ...}``)."""
        return base64.b64encode(self.data).decode("ascii")

    def to_pil(self) -> Any:
        """The decoded ``PIL.Image.Image`` (a new one per call)."""
        image = _pil().open(io.BytesIO(self.data))
        image.load()
        return image


class Image:
    """An image document, or the image part of one.

    Build one with a class method; nothing is read until the image is scored, and then once. A
    PIL image may also be passed as a document as it is.

    >>> import io, PIL.Image as PILImage
    >>> buffer = io.BytesIO()
    >>> PILImage.new("RGB", (64, 32), "white").save(buffer, format="PNG")
    >>> image = Image.from_bytes(buffer.getvalue())
    >>> image.content().mime_type, image.content().width
    ('image/png', 64)
    >>> Image.from_url("https://example.com/page.png")
    Image(url='https://example.com/page.png')
    """

    __slots__ = ("_content", "_data", "_path", "_pil_image", "_url")

    def __init__(self) -> None:
        self._data: bytes | None = None
        self._path: str | None = None
        self._url: str | None = None
        self._pil_image: Any = None
        self._content: ImageContent | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Image:
        """The image in the file at ``path`` (read when the image is first scored)."""
        image = cls()
        image._path = os.fspath(path)
        return image

    @classmethod
    def from_bytes(cls, data: bytes) -> Image:
        """The image encoded in ``data`` (a PNG, JPEG, ... file's bytes)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"Image.from_bytes needs bytes, got {type(data).__name__}")
        image = cls()
        image._data = bytes(data)
        return image

    @classmethod
    def from_url(cls, url: str) -> Image:
        """The image at ``url``: a ``data:image/...;base64,`` URL, or an http(s) URL that is fetched
        only with ``Reranker(..., fetch_image_urls=True)``."""
        if not isinstance(url, str):
            raise TypeError(f"Image.from_url needs a string, got {type(url).__name__}")
        image = cls()
        image._url = url
        return image

    @classmethod
    def from_pil(cls, pil_image: Any) -> Image:
        """A ``PIL.Image.Image`` (encoded as PNG, losslessly, to be hashed and sent)."""
        if not is_pil_image(pil_image):
            raise TypeError(f"Image.from_pil needs a PIL image, got {type(pil_image).__name__}")
        image = cls()
        image._pil_image = pil_image
        return image

    @property
    def source(self) -> str:
        """Where the image comes from: ``"path"``, ``"url"``, ``"bytes"`` or ``"pil"``."""
        if self._path is not None:
            return "path"
        if self._url is not None:
            return "url"
        return "pil" if self._pil_image is not None else "bytes"

    @property
    def url(self) -> str | None:
        """The URL the image was given by, if any."""
        return self._url

    @property
    def path(self) -> str | None:
        """The file the image was given by, if any."""
        return self._path

    def needs_fetch(self) -> bool:
        """Whether reading this image means fetching an http(s) URL (not yet done)."""
        return (
            self._content is None and self._url is not None and self._url.startswith(("http://", "https://"))
        )

    def content(self, options: ImageOptions = DEFAULT_IMAGE_OPTIONS) -> ImageContent:
        """Read and check the image (once; later calls reuse it, the limits checked again).

        Raises:
            ValueError: The image cannot be read, is not a supported format, or breaks a limit; the
                message says which (the core adds the document's index).
        """
        if self._content is None:
            self._content = check_image_bytes(self._read(options), options)
        content = self._content
        _check_limits(content, len(content.data), options)
        return content

    def _read(self, options: ImageOptions) -> bytes:
        if self._data is not None:
            return self._data
        if self._path is not None:
            return _read_file(self._path, options)
        if self._url is not None:
            return read_url(self._url, options)
        buffer = io.BytesIO()
        self._pil_image.save(buffer, format="PNG")
        return buffer.getvalue()

    def __repr__(self) -> str:
        if self._path is not None:
            return f"Image(path={self._path!r})"
        if self._url is not None:
            shown = self._url if not self._url.startswith("data:") else self._url[:30] + "..."
            return f"Image(url={shown!r})"
        if self._pil_image is not None:
            return f"Image(pil={self._pil_image.mode} {self._pil_image.size[0]}x{self._pil_image.size[1]})"
        return f"Image({len(self._data or b'')} bytes)"


def check_image_bytes(data: bytes, options: ImageOptions = DEFAULT_IMAGE_OPTIONS) -> ImageContent:
    """``data`` as an :class:`ImageContent`, after checking it is an image rerankers can take.

    Raises:
        ValueError: empty, too large, not an image, an unsupported format, too many pixels, or
            not decodable.
    """
    if not data:
        raise ValueError("the image is empty (0 bytes)")
    if len(data) > options.max_image_bytes:
        raise ValueError(
            f"the image is {len(data):,} bytes, over max_image_bytes={options.max_image_bytes:,}"
        )
    pil = _pil()
    try:
        with pil.open(io.BytesIO(data)) as image:
            kind = image.format
            width, height = image.size
            if kind in IMAGE_FORMATS and width * height <= options.max_image_pixels:
                image.load()  # a truncated or corrupt file fails here, not in the model
    except pil.DecompressionBombError as exc:
        raise ValueError(f"the image has too many pixels ({exc})") from None
    except pil.UnidentifiedImageError:
        raise ValueError("not a readable image: its bytes are in no image format Pillow knows") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__}: {exc})") from None
    if kind not in IMAGE_FORMATS:
        raise ValueError(f"unsupported image format {kind}; supported: {', '.join(sorted(IMAGE_FORMATS))}")
    content = ImageContent(data, IMAGE_FORMATS[kind], hashlib.sha256(data).hexdigest(), width, height)
    _check_limits(content, len(data), options)
    return content


def _check_limits(content: ImageContent, size: int, options: ImageOptions) -> None:
    if size > options.max_image_bytes:
        raise ValueError(f"the image is {size:,} bytes, over max_image_bytes={options.max_image_bytes:,}")
    pixels = content.width * content.height
    if pixels > options.max_image_pixels:
        raise ValueError(
            f"the image is {content.width}x{content.height} = {pixels:,} pixels, over "
            f"max_image_pixels={options.max_image_pixels:,}"
        )


def _read_file(path: str, options: ImageOptions) -> bytes:
    try:
        size = os.stat(path).st_size
        if size > options.max_image_bytes:
            raise ValueError(
                f"the image file {path!r} is {size:,} bytes, over max_image_bytes={options.max_image_bytes:,}"
            )
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise ValueError(f"cannot read the image file {path!r} ({exc.strerror or exc})") from None


def looks_like_image(data: bytes) -> bool:
    """Whether ``data`` starts like a file of one of :data:`IMAGE_FORMATS`."""
    return data.startswith(IMAGE_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def base64_image(text: str) -> Image | None:
    """The image a text holds as base64 (bare, as LangChain's ``Chroma.add_images`` stores images
    in ``page_content``, or a ``data:image/...;base64,`` URL), or ``None`` for any other text.

    >>> base64_image("BM25 is a ranking function") is None
    True
    >>> base64_image("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    Image(70 bytes)
    """
    content = text.strip()
    if content.startswith("data:image/") and ";base64," in content:
        content = content.partition(";base64,")[2]
    elif len(content) < 16 or not _BASE64_TEXT.fullmatch(content):
        return None
    try:
        data = base64.b64decode(content)
    except (binascii.Error, ValueError):
        return None
    return Image.from_bytes(data) if looks_like_image(data) else None


def as_image(value: Any) -> Image | None:
    """``value`` as an :class:`Image` when it is one or a PIL image; else ``None``."""
    if isinstance(value, Image):
        return value
    if is_pil_image(value):
        return Image.from_pil(value)
    return None


def checked(image: Image, options: ImageOptions, where: str) -> ImageContent:
    """``image.content(options)``, its problem reported as bad input at ``where``."""
    try:
        return image.content(options)
    except ValueError as exc:
        raise InvalidInputError(f"{where}: {exc}") from None


__all__ = [
    "DEFAULT_IMAGE_OPTIONS",
    "IMAGE_FORMATS",
    "IMAGE_SIGNATURES",
    "Image",
    "ImageContent",
    "ImageOptions",
    "as_image",
    "base64_image",
    "check_image_bytes",
    "checked",
    "is_pil_image",
    "looks_like_image",
]
