"""What every loopback server answers: a deterministic score and token count per (query, text)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable

_WORD = re.compile(r"\w+")


def expected_score(query: str, text: str) -> float:
    """The score every loopback server gives ``text`` for ``query``: deterministic, in [0, 1).

    Mostly the share of the query's words found in the text, plus a small hash of both so that
    different texts almost never tie.

    >>> expected_score("what is bm25", "bm25 is a ranking function") > expected_score("what is bm25", "a fruit")
    True
    """
    query_words = {word.lower() for word in _WORD.findall(query)}
    text_words = {word.lower() for word in _WORD.findall(text)}
    overlap = len(query_words & text_words) / len(query_words) if query_words else 0.0
    digest = hashlib.sha256(f"{query}\x1f{text}".encode()).digest()
    return 0.9 * overlap + 0.1 * (int.from_bytes(digest[:8], "big") / 2**64)


def stand_in_text(texts: Iterable[str], images: Iterable[bytes]) -> str:
    """The text a loopback server scores a document holding images as: its texts, then one word
    per image naming its bytes (``image-<first 16 hex digits of the SHA-256>``), so equal images
    score alike and different ones apart.

    >>> stand_in_text(["a chart"], [b"png bytes"])
    'a chart image-d013614dc14a37ee'
    """
    words = [*texts, *(f"image-{hashlib.sha256(data).hexdigest()[:16]}" for data in images)]
    return " ".join(words)


def expected_tokens(query: str, texts: Iterable[str]) -> int:
    """The token count a loopback server reports: whitespace words of the query and each text, per text.

    >>> expected_tokens("a b", ["c", "d e"])
    7
    """
    query_tokens = len(query.split())
    return sum(query_tokens + len(text.split()) for text in texts)


def expected_search_units(document_count: int) -> int:
    """Cohere-style billing the cohere server reports: one search unit per 100 documents started."""
    return max(1, math.ceil(document_count / 100))


__all__ = ["expected_score", "expected_search_units", "expected_tokens", "stand_in_text"]
