"""What a document may be, and the one form backends get it in.

A document is given as:

- a string: a text document, as always;
- a :class:`~rerankit.Image` or a PIL image: an image document;
- a list of parts, text and images together, in order: strings, Images, PIL images and content
  parts as OpenAI and vLLM write them (a list of strings alone is refused: that is a nesting
  mistake, a batch passed to ``rerank``, not a document) (``{"type": "text", "text": ...}``,
  ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}``); a single part
  dict is a one-part list.

:func:`to_document` turns each into what backends score: the string itself, or a
:class:`MultimodalDocument` (the parts in order, images read and checked). A list of text parts
only is a text document (its texts joined by newlines, as vLLM joins them). Two documents are
the same document when their texts and image bytes are: dedupe and the score cache key on that,
never on a file name or URL alone. Results give back the document as it was passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rerankit._errors import InvalidInputError
from rerankit._images import (
    DEFAULT_IMAGE_OPTIONS,
    Image,
    ImageContent,
    ImageOptions,
    as_image,
    checked,
)

#: A part of a multimodal document: a text or a checked image.
Part = str | ImageContent


@dataclass(frozen=True, eq=False)
class MultimodalDocument:
    """A document that holds at least one image: its parts, in the order given.

    Equal (and hashed) by content: the texts and the images' SHA-256.

    Attributes:
        parts: Texts and :class:`~rerankit._images.ImageContent`, in order.
    """

    parts: tuple[Part, ...]

    @property
    def images(self) -> list[ImageContent]:
        """The images, in order."""
        return [part for part in self.parts if isinstance(part, ImageContent)]

    @property
    def texts(self) -> list[str]:
        """The text parts, in order."""
        return [part for part in self.parts if isinstance(part, str)]

    def key(self) -> list[Any]:
        """What the document is, as JSON-able data: ``[["text", ...], ["image", sha256], ...]``."""
        return [["text", part] if isinstance(part, str) else ["image", part.sha256] for part in self.parts]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultimodalDocument) and other.key() == self.key()

    def __hash__(self) -> int:
        return hash(tuple(map(tuple, self.key())))

    def describe(self) -> str:
        """A short description for messages: ``"2 images + text 'a caption...'"``."""
        images = len(self.images)
        text = " ".join(self.texts)
        shown = f"{images} image{'s' * (images != 1)}"
        return shown + (f" + text {text[:30]!r}" if text else "")


#: What a backend scores: a text, or text and images together.
Document = str | MultimodalDocument


def has_image(document: Document) -> bool:
    """Whether ``document`` holds an image."""
    return isinstance(document, MultimodalDocument)


def cache_form(document: Document) -> Any:
    """The document as the score cache key writes it: the text itself, or the multimodal key (a
    JSON list, so it never collides with a text)."""
    return document if isinstance(document, str) else ["multimodal", document.key()]


def describe(document: Document) -> str:
    """The document for a message: a text's first 40 characters, or what a multimodal one holds."""
    return repr(document[:40]) if isinstance(document, str) else document.describe()


def needs_fetch(documents: Sequence[Any]) -> bool:
    """Whether reading these documents may fetch a URL (so an async caller reads them in a thread)."""
    return any(not isinstance(document, str) for document in documents)


def to_document(value: Any, index: int, options: ImageOptions = DEFAULT_IMAGE_OPTIONS) -> Any:
    """The document a caller's ``value`` is: a string as it is (the text checks are the caller's),
    or a :class:`MultimodalDocument`.

    Raises:
        InvalidInputError: naming the document's index: an unreadable image, an unsupported format
            or a limit broken, an unknown part, a part list with nothing in it.

    >>> to_document([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], 0)
    'a\\nb'
    >>> to_document({"type": "audio"}, 3)
    Traceback (most recent call last):
    ...
    rerankit.InvalidInputError: document at index 3, part 0: unknown content part type 'audio'; expected 'text' or 'image_url'
    """
    if isinstance(value, (str, MultimodalDocument)):  # a text, or a document already read and checked
        return value
    where = f"document at index {index}"
    image = as_image(value)
    if image is not None:
        return MultimodalDocument((checked(image, options, where),))
    if isinstance(value, Mapping):
        value = [value]
    elif isinstance(value, (bytes, bytearray)):
        raise InvalidInputError(
            f"document text is required for rerank at index {index}: got bytes, expected str "
            "(an image's bytes go in rerankit.Image.from_bytes(...))"
        )
    elif not isinstance(value, (list, tuple)) or all(isinstance(part, str) for part in value):
        # A list of bare strings is a nesting mistake (a batch passed to rerank), not a document.
        raise InvalidInputError(
            f"document text is required for rerank at index {index}: got {type(value).__name__}, expected str"
        )
    if not value:
        raise InvalidInputError(f"{where} is an empty list of parts")
    parts: list[Part] = []
    for number, part in enumerate(value):
        parts.append(_part(part, f"{where}, part {number}", options))
    if not any(isinstance(part, ImageContent) for part in parts):
        return "\n".join(part for part in parts if isinstance(part, str))
    return MultimodalDocument(tuple(parts))


def _part(value: Any, where: str, options: ImageOptions) -> Part:
    if isinstance(value, str):
        return _text(value, where)
    image = as_image(value)
    if image is not None:
        return checked(image, options, where)
    if not isinstance(value, Mapping):
        raise InvalidInputError(
            f"{where} is a {type(value).__name__}; a part is a string, an Image or a content part dict"
        )
    kind = value.get("type")
    if kind == "text":
        text = value.get("text")
        if not isinstance(text, str):
            raise InvalidInputError(f"{where}: a text part needs a string 'text'")
        return _text(text, where)
    if kind == "image_url":
        url = value.get("image_url")
        url = url.get("url") if isinstance(url, Mapping) else url
        if not isinstance(url, str):
            raise InvalidInputError(f"{where}: an image_url part needs image_url.url, a string")
        return checked(Image.from_url(url), options, where)
    raise InvalidInputError(f"{where}: unknown content part type {kind!r}; expected 'text' or 'image_url'")


def _text(text: str, where: str) -> str:
    from rerankit._validation import is_blank

    if is_blank(text):
        raise InvalidInputError(f"{where}: a text part must not be blank")
    return text


def content_parts(document: Document) -> list[dict[str, Any]]:
    """The document as OpenAI/vLLM content parts, images as base64 data URLs.

    >>> content_parts("a text")
    [{'type': 'text', 'text': 'a text'}]
    """
    if isinstance(document, str):
        return [{"type": "text", "text": document}]
    return [
        {"type": "text", "text": part}
        if isinstance(part, str)
        else {"type": "image_url", "image_url": {"url": part.data_url()}}
        for part in document.parts
    ]


__all__ = [
    "Document",
    "MultimodalDocument",
    "Part",
    "cache_form",
    "content_parts",
    "describe",
    "has_image",
    "needs_fetch",
    "to_document",
]
