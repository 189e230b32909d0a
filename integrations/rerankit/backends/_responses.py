"""Reading provider answers defensively: a score is never attached to the wrong document.

Successful answers: providers disagree on the shape of a rerank answer (see the wire-format
reference): the list is under ``results``, ``data``, or is the body itself; each item's score is
``relevance_score`` or ``score``; the echoed document is a string or an object; DeepInfra sends bare
``scores`` in input order. :func:`parse_scores` accepts all of them and checks everything it can:
indices are integers, in range and unique; every document sent is back;
scores are finite numbers; an echoed document text matches the one sent at that index. Anything
else raises :class:`~rerankit.MalformedResponseError` quoting the status and request id.

Error answers: :func:`provider_message` reads the provider's own message from every error body
shape the providers document, and :func:`request_id` the request id from headers or body; which
error of the family a status becomes is :mod:`rerankit.backends._error_policy`.
"""

from __future__ import annotations

import email.utils
import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import httpx

from rerankit._errors import (
    MalformedResponseError,
)
from rerankit.backends._provider import AnswerFields

#: Response headers that carry a request id, most specific first.
REQUEST_ID_HEADERS = (
    "x-request-id",
    "request-id",
    "x-trace-id",
    "x-debug-trace-id",
    "x-amzn-requestid",
    "x-pinecone-request-id",  # pinecone-python-client _internal/http_client.py _extract_request_id
)


@dataclass(frozen=True)
class ProviderReply:
    """A successful (2xx) answer: its parsed JSON body plus what errors about it should quote."""

    provider: str
    status_code: int
    payload: Any
    request_id: str | None
    headers: Mapping[str, str] = field(repr=False, default_factory=dict)

    def malformed(self, problem: str) -> MalformedResponseError:
        """The error for a body that cannot be trusted, quoting the status and request id."""
        return MalformedResponseError(
            f"{self.provider} answered HTTP {self.status_code} with a malformed body: {problem}",
            provider=self.provider,
            status_code=self.status_code,
            request_id=self.request_id,
        )


#: The public name, ``rerankit.backends.Reply`` (pinned by tests/test_exported_members.py).
Reply = ProviderReply

#: Keys under which providers put the list of ranked results.
RESULT_LIST_KEYS = ("results", "data")
#: Keys under which providers put a result's score, in order of preference.
SCORE_KEYS = ("relevance_score", "score")


def parse_scores(
    reply: ProviderReply, texts: Sequence[str], fields: AnswerFields | None = None
) -> dict[int, float]:
    """Each document's score by its index in ``texts``, after checking the answer can be trusted.

    ``texts`` are the documents sent, in order; every one of them must come back.

    Args:
        reply: The provider's 2xx answer.
        texts: The documents sent, in order.
        fields: The provider's field names (its :class:`~rerankit.backends.ProviderSpec`'s
            ``answer``): then only they are read, and a missing one is an error naming it.
            ``None``: every known shape is accepted (a gateway in front of several providers).

    Returns:
        Document index -> score, in the order the answer lists them.

    Raises:
        MalformedResponseError: The answer has no result list, an index out of range or listed
            twice, a document without a score, a score that is not a finite number, or an echoed
            document that is not the one sent at its index.

    >>> reply = Reply("demo", 200, {"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "score": 0.1}]}, None)
    >>> parse_scores(reply, ["a", "b"])
    {1: 0.9, 0: 0.1}
    >>> parse_scores(reply, ["a", "b"], AnswerFields(score="score"))
    Traceback (most recent call last):
    ...
    rerankit.MalformedResponseError: demo answered HTTP 200 with a malformed body: result 0 (index 1) has no 'score' field (provider=demo, status=200)
    """
    if fields is not None:
        return _declared_scores(reply, texts, fields)
    payload = reply.payload
    if isinstance(payload, dict) and "scores" in payload and not _result_list(payload):
        scores = _positional_scores(reply, payload["scores"], len(texts))
    else:
        items = _result_list(payload)
        if items is None:
            raise reply.malformed(f"no result list ({_describe_shape(payload)})")
        if items and all(_is_number(item) for item in items):
            scores = _positional_scores(reply, items, len(texts))
        else:
            scores = _indexed_scores(reply, items, texts)
    return _all_back(reply, scores, texts)


def _declared_scores(reply: ProviderReply, texts: Sequence[str], fields: AnswerFields) -> dict[int, float]:
    """:func:`parse_scores` reading only the fields a provider declares."""
    payload = reply.payload
    if fields.scores is not None:
        if not isinstance(payload, dict) or fields.scores not in payload:
            raise reply.malformed(f"no {fields.scores!r} field ({_describe_shape(payload)})")
        return _positional_scores(reply, payload[fields.scores], len(texts), fields.scores)
    if fields.results is None:
        items = payload if isinstance(payload, list) else None
        if items is None:
            raise reply.malformed(f"no result list ({_describe_shape(payload)}, expected a JSON list)")
    else:
        items = payload.get(fields.results) if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise reply.malformed(f"no result list {fields.results!r} ({_describe_shape(payload)})")
    scores = _indexed_scores(reply, items, texts, fields)
    return _all_back(reply, scores, texts)


def _all_back(reply: ProviderReply, scores: dict[int, float], texts: Sequence[str]) -> dict[int, float]:
    if len(scores) < len(texts):
        missing = [index for index in range(len(texts)) if index not in scores]
        raise reply.malformed(
            f"{len(scores)} scores for {len(texts)} documents; no score for document(s) {_first(missing)}"
        )
    return scores


def scores_in_input_order(
    reply: ProviderReply, texts: Sequence[str], fields: AnswerFields | None = None
) -> list[float]:
    """One score per text sent, in input order: :func:`parse_scores` as a list.

    >>> reply = Reply("demo", 200, {"results": [{"index": 1, "relevance_score": 0.9}, {"index": 0, "score": 0.1}]}, None)
    >>> scores_in_input_order(reply, ["a", "b"])
    [0.1, 0.9]
    """
    scores = parse_scores(reply, texts, fields)
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


def _positional_scores(
    reply: ProviderReply, values: Any, count: int, key: str = "scores"
) -> dict[int, float]:
    """A bare list of scores, one per document in input order, keyed by index (as :func:`parse_scores` returns)."""
    if not isinstance(values, list):
        raise reply.malformed(f"{key!r} is {type(values).__name__}, expected a list")
    if len(values) != count:
        raise reply.malformed(f"{len(values)} scores for {count} documents")
    return {index: _checked_score(reply, value, index) for index, value in enumerate(values)}


def _indexed_scores(
    reply: ProviderReply, items: list[Any], texts: Sequence[str], fields: AnswerFields | None = None
) -> dict[int, float]:
    """Result objects that each name their document's ``index``, keyed by it (by the declared
    ``fields`` when given: a missing one is named)."""
    scores: dict[int, float] = {}
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise reply.malformed(f"result {position} is {type(item).__name__}, expected an object")
        if fields is not None and fields.index not in item:
            raise reply.malformed(f"result {position} has no {fields.index!r} field")
        index = item.get(fields.index if fields is not None else "index")
        if isinstance(index, bool) or not isinstance(index, int):
            raise reply.malformed(f"result {position} has index {index!r}, expected an integer")
        if not 0 <= index < len(texts):
            raise reply.malformed(f"result {position} has index {index}, outside 0..{len(texts) - 1}")
        if index in scores:
            raise reply.malformed(f"index {index} appears more than once")
        if fields is not None:
            key = fields.score if fields.score in item else None
            if key is None:
                raise reply.malformed(f"result {position} (index {index}) has no {fields.score!r} field")
            echoed = item.get(fields.document) if fields.document is not None else None
        else:
            key = next((key for key in SCORE_KEYS if key in item), None)
            if key is None:
                raise reply.malformed(f"result {position} (index {index}) has no {' or '.join(SCORE_KEYS)}")
            echoed = item.get("document", item.get("text"))
        _check_echoed_document(reply, echoed, texts[index], index)
        scores[index] = _checked_score(reply, item[key], index)
    return scores


def _check_echoed_document(reply: ProviderReply, echoed: Any, sent: Any, index: int) -> None:
    """An echoed text that differs from the one sent means the indices cannot be trusted.

    A document holding images is not checked: providers echo it in shapes of their own (vLLM's
    ``multi_modal`` parts), and its index is checked like every other.
    """
    if not isinstance(sent, str):
        return
    text = echoed.get("text") if isinstance(echoed, dict) else echoed
    if isinstance(text, str) and text.strip() != sent.strip():
        raise reply.malformed(f"the document echoed for index {index} is not the one sent at that index")


def _checked_score(reply: ProviderReply, value: Any, index: int) -> float:
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


# -- error answers ---------------------------------------------------------------------------


def provider_message(response: httpx.Response) -> str:
    """The provider's own error message, from any of the error body shapes providers document.

    Handles ``{"message"}`` (Cohere), ``{"detail": str | {"error"} | [{"loc", "msg"}]}`` (Jina,
    DeepInfra, FastAPI servers), ``{"error": {"message"}}`` / ``{"error": str}`` (OpenAI-style
    gateways, vLLM, Infinity) and HTML or text pages (proxies), falling back to the status reason.
    """
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = None
    message = _message_from(payload) if payload is not None else None
    if not message:
        message = text_snippet(response.text) if response.content else ""
    return message or response.reason_phrase or "no error message"


def _message_from(payload: Any, depth: int = 0) -> str | None:
    if depth > 4:
        return None
    if isinstance(payload, str):
        return payload.strip() or None
    if isinstance(payload, list):
        messages = [m for m in (_message_from(item, depth + 1) for item in payload[:5]) if m]
        return "; ".join(messages) or None
    if isinstance(payload, dict):
        if "msg" in payload:  # a FastAPI/pydantic validation error item
            location = ".".join(str(part) for part in payload.get("loc", []) if part != "body")
            return f"{location}: {payload['msg']}" if location else str(payload["msg"])
        for key in ("message", "error", "detail", "errors", "error_message", "title"):
            if key in payload:
                message = _message_from(payload[key], depth + 1)
                if message:
                    return message
    return None


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def text_snippet(text: str, limit: int = 200) -> str:
    """A short, single-line view of a text or HTML body (an HTML page's title when it has one)."""
    title = _TITLE.search(text)
    plain = title.group(1) if title else _TAG.sub(" ", text)
    plain = _SPACE.sub(" ", html.unescape(plain)).strip()
    return plain if len(plain) <= limit else plain[: limit - 3] + "..."


def request_id(response: httpx.Response) -> str | None:
    """The request id an answer carries: a request-id header, else a ``request_id``/``id`` body field."""
    for name in REQUEST_ID_HEADERS:
        if response.headers.get(name):
            return response.headers[name]
    try:
        payload = json.loads(response.content) if response.content else None
    except ValueError:
        return None
    if isinstance(payload, dict):
        for key in ("request_id", "id"):
            if isinstance(payload.get(key), str):
                return payload[key]
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if absent or bad.

    >>> parse_retry_after("3")
    3.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc))
    5.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    if seconds != seconds or seconds == float("inf"):  # NaN or infinity
        return None
    return max(0.0, seconds)


__all__ = [
    "REQUEST_ID_HEADERS",
    "RESULT_LIST_KEYS",
    "SCORE_KEYS",
    "ProviderReply",
    "Reply",
    "number_at",
    "parse_retry_after",
    "parse_scores",
    "provider_message",
    "request_id",
    "scores_in_input_order",
    "text_snippet",
    "whole_number_at",
]
