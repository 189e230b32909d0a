"""Input checks for a rerank call; the messages match the gateways our users run."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from rerankit.errors import InvalidInputError


def check_query(query: Any) -> str:
    """Return ``query`` if it is a non-blank string."""
    if query is None or (isinstance(query, str) and not query.strip()):
        raise InvalidInputError("query is required for rerank")
    if not isinstance(query, str):
        raise InvalidInputError(f"query is required for rerank: got {type(query).__name__}, expected str")
    return query


def check_documents(documents: Any) -> list[str]:
    """Return ``documents`` as a list of non-blank strings, naming the index of a bad one."""
    if documents is None:
        raise InvalidInputError("documents are required for rerank")
    if isinstance(documents, (str, bytes, Mapping)) or not isinstance(documents, Iterable):
        raise InvalidInputError(f"documents must be a sequence of strings, got {type(documents).__name__}")
    texts = list(documents)
    if not texts:
        raise InvalidInputError("documents are required for rerank")
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"document text is required for rerank at index {index}: "
                f"got {type(text).__name__}, expected str"
            )
        if not text.strip():
            raise InvalidInputError(f"document text is required for rerank at index {index}")
    return texts


def check_top_n(top_n: Any) -> int | None:
    """Return ``top_n`` if it is ``None`` or an integer of at least 1 (a bool is no integer here)."""
    if top_n is None:
        return None
    if isinstance(top_n, bool) or not isinstance(top_n, numbers.Integral):
        raise InvalidInputError(f"top_n must be an integer, got {type(top_n).__name__}")
    if top_n < 1:
        raise InvalidInputError("top_n must be at least 1")
    return int(top_n)


def check_score_threshold(score_threshold: Any) -> float | None:
    """Return ``score_threshold`` as a float if it is ``None`` or a finite real number."""
    if score_threshold is None:
        return None
    if isinstance(score_threshold, bool) or not isinstance(score_threshold, numbers.Real):
        raise InvalidInputError(f"score_threshold must be a number, got {type(score_threshold).__name__}")
    if not math.isfinite(score_threshold):
        raise InvalidInputError(f"score_threshold must be a finite number, got {score_threshold}")
    return float(score_threshold)
