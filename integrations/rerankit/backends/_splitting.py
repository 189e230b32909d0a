"""Cutting one request's texts into requests that fit a limit that is not a document count.

Some providers limit a request by bytes (ZeroEntropy, TEI's payload limit) or by tokens (Voyage)
rather than only by how many documents it holds. A backend with such a limit gives the core a
``split_request(query, texts)`` method (see :class:`rerankit.backends._base.Backend`); this module
holds the one packing rule they share.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence


def pack_by_cost(texts: Sequence[str], cost: Callable[[str], int], budget: int) -> list[list[str]]:
    """Cut ``texts`` into consecutive parts whose summed ``cost`` stays within ``budget``.

    Order is kept and every text is in exactly one part, so the parts concatenated are ``texts``
    (the core merges scores back by that order). A text that alone costs more than ``budget``
    goes alone in its own part: the provider then decides (it may truncate it or refuse it with
    an error naming the limit), rather than this client guessing.

    >>> pack_by_cost(["aa", "bbb", "c", "dddd"], len, 4)
    [['aa'], ['bbb', 'c'], ['dddd']]
    """
    parts: list[list[str]] = []
    current: list[str] = []
    spent = 0
    for text in texts:
        price = cost(text)
        if current and spent + price > budget:
            parts.append(current)
            current, spent = [], 0
        current.append(text)
        spent += price
    if current:
        parts.append(current)
    return parts


def utf8_bytes(text: str) -> int:
    """The UTF-8 size of ``text``."""
    return len(text.encode("utf-8"))


def json_string_bytes(text: str) -> int:
    """The bytes ``text`` takes in a JSON list as httpx writes it (compact, UTF-8), with its comma.

    >>> json_string_bytes('say "hi"')
    13
    """
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) + 1


__all__ = ["json_string_bytes", "pack_by_cost", "utf8_bytes"]
