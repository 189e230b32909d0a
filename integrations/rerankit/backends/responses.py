"""Reading rerank answers defensively: a score is never attached to the wrong document.

Providers disagree on the shape of a rerank answer (see the wire-format reference): the list is
under ``results``, ``data``, or is the body itself; each item's score is ``relevance_score`` or
``score``; the echoed document is a string or an object; DeepInfra sends bare ``scores`` in input
order. :func:`parse_scores` accepts all of them and checks everything it can: indices are integers,
in range and unique; every document sent is back (unless ``top_n`` was sent); scores are finite
numbers; an echoed document text matches the one sent at that index. Anything else raises
:class:`~rerankit.errors.MalformedResponseError` quoting the status and request id.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rerankit.backends.http import Reply

#: Keys under which providers put the list of ranked results.
RESULT_LIST_KEYS = ("results", "data")
#: Keys under which providers put a result's score, in order of preference.
SCORE_KEYS = ("relevance_score", "score")


def parse_scores(reply: Reply, texts: Sequence[str], *, top_n: int | None = None) -> dict[int, float]:
    """Map each returned document index to its score, after checking the answer can be trusted.

    ``texts`` are the documents sent, in order; ``top_n`` the cut sent to the provider, if any
    (without it every document must come back).

    >>> reply = Reply("demo", 200, {"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "score": 0.1}]}, None)
    >>> parse_scores(reply, ["a", "b"])
    {1: 0.9, 0: 0.1}
    """
    payload = reply.payload
    if isinstance(payload, dict) and "scores" in payload and not _result_list(payload):
        scores = _scores_in_input_order(reply, payload["scores"], len(texts))
    else:
        items = _result_list(payload)
        if items is None:
            raise reply.malformed(f"no result list ({_describe_shape(payload)})")
        if items and all(_is_number(item) for item in items):
            scores = _scores_in_input_order(reply, items, len(texts))
        else:
            scores = _indexed_scores(reply, items, texts)
    expected = len(texts) if top_n is None else min(top_n, len(texts))
    if len(scores) < expected and top_n is None:
        missing = [index for index in range(len(texts)) if index not in scores]
        raise reply.malformed(
            f"{len(scores)} scores for {len(texts)} documents; no score for document(s) {_first(missing)}"
        )
    if len(scores) > expected:
        raise reply.malformed(f"{len(scores)} results for a top_n of {top_n}")
    return scores


def scores_in_input_order(reply: Reply, texts: Sequence[str]) -> list[float]:
    """One score per text sent, in input order (every text must have come back)."""
    scores = parse_scores(reply, texts)
    return [scores[index] for index in range(len(texts))]


def number_at(payload: Any, *path: str) -> float | None:
    """The finite number at ``payload[path[0]][path[1]]...``, or ``None`` (usage fields are optional).

    >>> number_at({"meta": {"billed_units": {"search_units": 2}}}, "meta", "billed_units", "search_units")
    2
    >>> number_at({"usage": {}}, "usage", "total_tokens") is None
    True
    """
    value = payload
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value if _is_number(value) and math.isfinite(value) else None


def whole_number_at(payload: Any, *path: str) -> int | None:
    """:func:`number_at` as an ``int`` (token counts)."""
    value = number_at(payload, *path)
    return int(value) if value is not None else None


def _result_list(payload: Any) -> list[Any] | None:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in RESULT_LIST_KEYS:
            if isinstance(payload.get(key), list):
                return payload[key]
    return None


def _scores_in_input_order(reply: Reply, values: Any, count: int) -> dict[int, float]:
    if not isinstance(values, list):
        raise reply.malformed(f"'scores' is {type(values).__name__}, expected a list")
    if len(values) != count:
        raise reply.malformed(f"{len(values)} scores for {count} documents")
    return {index: _checked_score(reply, value, index) for index, value in enumerate(values)}


def _indexed_scores(reply: Reply, items: list[Any], texts: Sequence[str]) -> dict[int, float]:
    scores: dict[int, float] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise reply.malformed(f"result {position} is {type(item).__name__}, expected an object")
        index = item.get("index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise reply.malformed(f"result {position} has index {index!r}, expected an integer")
        if not 0 <= index < len(texts):
            raise reply.malformed(f"result {position} has index {index}, outside 0..{len(texts) - 1}")
        if index in scores:
            raise reply.malformed(f"index {index} appears more than once")
        key = next((key for key in SCORE_KEYS if key in item), None)
        if key is None:
            raise reply.malformed(f"result {position} (index {index}) has no {' or '.join(SCORE_KEYS)}")
        _check_echoed_document(reply, item.get("document", item.get("text")), texts[index], index)
        scores[index] = _checked_score(reply, item[key], index)
    return scores


def _check_echoed_document(reply: Reply, echoed: Any, sent: str, index: int) -> None:
    """An echoed text that differs from the one sent means the indices cannot be trusted."""
    text = echoed.get("text") if isinstance(echoed, dict) else echoed
    if isinstance(text, str) and text.strip() != sent.strip():
        raise reply.malformed(f"the document echoed for index {index} is not the one sent at that index")


def _checked_score(reply: Reply, value: Any, index: int) -> float:
    if not _is_number(value):
        raise reply.malformed(f"the score for document {index} is {value!r}, expected a number")
    if not math.isfinite(value):
        raise reply.malformed(f"the score for document {index} is {value!r}, expected a finite number")
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _describe_shape(payload: Any) -> str:
    if isinstance(payload, dict):
        keys = ", ".join(sorted(map(str, payload))[:8])
        return f"an object with keys {keys}" if keys else "an empty object"
    return f"a JSON {type(payload).__name__}"


def _first(indices: list[int], limit: int = 10) -> str:
    shown = ", ".join(map(str, indices[:limit]))
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


__all__ = [
    "RESULT_LIST_KEYS",
    "SCORE_KEYS",
    "number_at",
    "parse_scores",
    "scores_in_input_order",
    "whole_number_at",
]
