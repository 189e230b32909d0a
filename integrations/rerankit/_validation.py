"""Input checks for a rerank call; the messages match the gateways our users run."""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Mapping, Set
from typing import Any

from rerankit._documents import Document, to_document
from rerankit._errors import InvalidInputError
from rerankit._images import DEFAULT_IMAGE_OPTIONS, ImageOptions

#: Unicode categories that show nothing: controls (NUL, ...) and formats (zero-width space, BOM, ...).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf"})
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def is_blank(text: str) -> bool:
    """True when ``text`` shows nothing: only whitespace and invisible control or format characters.

    Args:
        text: The string to look at.

    Returns:
        Whether every character is whitespace, a control character or a format character
        (zero-width space, BOM, ...).

    >>> is_blank(" \\t\\u200b\\ufeff"), is_blank("\\u200bx")
    (True, False)
    """
    return all(char.isspace() or unicodedata.category(char) in INVISIBLE_CATEGORIES for char in text)


def _blank_reason(text: str) -> str:
    return "" if not text.strip() else f" (only invisible characters such as U+{ord(text.strip()[0]):04X})"


def _check_encodable(text: str, what: str) -> None:
    """Refuse lone surrogates: no provider or tokenizer can take a string UTF-8 cannot encode."""
    surrogate = LONE_SURROGATE.search(text)
    if surrogate:
        raise InvalidInputError(
            f"{what} is not valid Unicode: lone surrogate U+{ord(surrogate.group()):04X} "
            f"at character {surrogate.start()} cannot be encoded as UTF-8"
        )


def check_query(query: Any) -> str:
    """Return ``query`` if it is a non-blank string UTF-8 can encode.

    Args:
        query: The query of a rerank call.

    Returns:
        ``query`` unchanged.

    Raises:
        InvalidInputError: ``query`` is missing, not a string, blank, or holds a lone surrogate.

    >>> check_query("what is BM25?")
    'what is BM25?'
    >>> check_query("\\u200b")
    Traceback (most recent call last):
    ...
    rerankit.InvalidInputError: query is required for rerank (only invisible characters such as U+200B)
    """
    if query is None:
        raise InvalidInputError("query is required for rerank")
    if not isinstance(query, str):
        raise InvalidInputError(f"query is required for rerank: got {type(query).__name__}, expected str")
    if is_blank(query):
        raise InvalidInputError(f"query is required for rerank{_blank_reason(query)}")
    _check_encodable(query, "query")
    return query


def check_documents(documents: Any, images: ImageOptions | None = None) -> list[Document]:
    """Return ``documents`` in the form backends score, naming the index of a bad one.

    Any ordered iterable is accepted; a set or mapping is not (result indices would point into an
    order the caller does not know). Each document is a non-blank string, an image, or text and
    images together (see :mod:`rerankit._documents`); images are read and checked against
    ``images`` (the limits of ``Reranker(...)``; default: no URL fetching).

    Args:
        documents: The documents of a rerank call.
        images: The image limits. Defaults to ``None``: the defaults of
            :class:`~rerankit._images.ImageOptions`.

    Returns:
        A new list: each text as it is, each document with an image as a
        :class:`~rerankit._documents.MultimodalDocument`.

    Raises:
        InvalidInputError: ``documents`` is missing, empty, a single string, unordered, or holds a
            document that is blank, unencodable, of an unknown kind, or an image that cannot be
            read or breaks a limit (the message names its index).

    >>> check_documents(text for text in ["a", "b"])
    ['a', 'b']
    >>> check_documents(["a", "  "])
    Traceback (most recent call last):
    ...
    rerankit.InvalidInputError: document text is required for rerank at index 1
    """
    return [check_document(item, index, images) for index, item in enumerate(document_list(documents))]


def document_list(documents: Any) -> list[Any]:
    """``documents`` as a new list, after the checks on the container itself (see :func:`check_documents`)."""
    if documents is None:
        raise InvalidInputError("documents are required for rerank")
    if isinstance(documents, (str, bytes, bytearray, Mapping, Set)) or not isinstance(documents, Iterable):
        raise InvalidInputError(
            f"documents must be a sequence of strings, got {type(documents).__name__}"
            + (" (unordered: result indices would be meaningless)" if isinstance(documents, Set) else "")
        )
    given = list(documents)
    if not given:
        raise InvalidInputError("documents are required for rerank")
    return given


def check_document(item: Any, index: int, images: ImageOptions | None = None) -> Document:
    """One document of a call in the form backends score (see :func:`check_documents`)."""
    document = to_document(item, index, images or DEFAULT_IMAGE_OPTIONS)
    if isinstance(document, str):
        if is_blank(document):
            raise InvalidInputError(
                f"document text is required for rerank at index {index}{_blank_reason(document)}"
            )
        _check_encodable(document, f"document text at index {index}")
    return document


def check_top_n(top_n: Any) -> int | None:
    """Return ``top_n`` if it is ``None`` or an integer of at least 1 (a bool is no integer here).

    Args:
        top_n: How many results a call keeps.

    Returns:
        ``top_n`` as an ``int``, or ``None``.

    Raises:
        InvalidInputError: ``top_n`` is not an integer, or is below 1.

    >>> check_top_n(3), check_top_n(None)
    (3, None)
    """
    if top_n is None:
        return None
    if isinstance(top_n, bool) or not isinstance(top_n, numbers.Integral):
        raise InvalidInputError(f"top_n must be an integer, got {type(top_n).__name__}")
    if top_n < 1:
        raise InvalidInputError("top_n must be at least 1")
    return int(top_n)


def check_score_threshold(score_threshold: Any) -> float | None:
    """Return ``score_threshold`` as a float if it is ``None`` or a finite real number.

    Args:
        score_threshold: The lowest score a call keeps.

    Returns:
        ``score_threshold`` as a ``float``, or ``None``.

    Raises:
        InvalidInputError: ``score_threshold`` is not a number, or is NaN or infinite.

    >>> check_score_threshold(1)
    1.0
    """
    if score_threshold is None:
        return None
    if isinstance(score_threshold, bool) or not isinstance(score_threshold, numbers.Real):
        raise InvalidInputError(f"score_threshold must be a number, got {type(score_threshold).__name__}")
    if not math.isfinite(score_threshold):
        raise InvalidInputError(f"score_threshold must be a finite number, got {score_threshold}")
    return float(score_threshold)
