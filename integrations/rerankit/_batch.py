"""Many rerank calls at once: the machinery behind ``Reranker.rerank_batch`` and ``arerank_batch``.

Each item of a batch is one ``rerank(queries[i], documents[i], ...)`` call, validated, deduped,
split and finished by the same :class:`~rerankit._RerankPlan` a single call uses, so the i-th
response is the one ``rerank`` gives (same order, ties, cut, usage and fallbacks). What the batch
changes is how the pairs reach the backend:

- a backend with ``score_requests`` (the local cross-encoder, see
  :class:`~rerankit.backends._base.RequestBatchingBackend`) scores the pairs of every item in one
  go, in shared forward passes cut by its token budget, so short pairs of one query pack with
  short pairs of another;
- any other backend (the remote APIs) gets one call per item and part, all of them concurrently,
  at most ``max_concurrency`` in flight for the whole batch.

A failure belongs to its item. If a shared pass fails, each item is scored again alone, so one bad
item never fails another; an item whose backend fails with one of ``FALLBACK_ERRORS`` is scored
again, whole, by the next backend, exactly as ``rerank`` does. Local scores agree with ``rerank``
of the same item to float rounding (about 1e-7): a pair may sit in a differently padded forward
pass, as with concurrent ``arerank`` calls.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from rerankit import _score_io as io
from rerankit import _tracing
from rerankit._documents import Document, needs_fetch
from rerankit._documents_to_score import DocumentsToScore
from rerankit._errors import InvalidInputError, MalformedResponseError, RerankError
from rerankit._flow import Flow
from rerankit._images import ImageOptions
from rerankit._rerank_plan import FALLBACK_ERRORS, PlanOptions, _log_fallback, _RerankPlan
from rerankit._types import RerankResponse, Scores
from rerankit._validation import (
    check_document,
    check_query,
    check_score_threshold,
    check_top_n,
    document_list,
)
from rerankit.backends._base import Backend, has_score_requests

Outcome = RerankResponse | Exception


@dataclass
class _Item:
    """One item of a batch: where it sits, its plan (once valid) and what came of it."""

    position: int
    plan: _RerankPlan | None = None
    outcome: Outcome | None = None
    failed_before: Exception | None = None  # the error of the backend before, when falling back


def plan_batch(
    queries: Any, documents: Any, top_n: Any, score_threshold: Any, options: PlanOptions
) -> list[_Item]:
    """Validate a batch: the shared options and containers raise at once; a bad item gets its error.

    An item's error names its position (``queries[3]: ...``, ``documents[3][7]: ...``) before the
    message a single ``rerank`` call would give.
    """
    top_n = check_top_n(top_n)
    score_threshold = check_score_threshold(score_threshold)
    queries = _as_list(queries, "queries", "a list of query strings")
    documents = _as_list(documents, "documents", "a list of document lists, one per query")
    if len(queries) != len(documents):
        raise InvalidInputError(
            f"queries and documents must have the same length: got {len(queries)} queries "
            f"and {len(documents)} document lists"
        )
    items = []
    for position, (query, texts) in enumerate(zip(queries, documents, strict=True)):
        item = _Item(position)
        try:
            checked_query = _checked_query(query, position)
            given, checked = _checked_documents(texts, position, options.images)
            item.plan = _RerankPlan.of_checked(checked_query, given, checked, top_n, score_threshold, options)
        except InvalidInputError as error:
            item.outcome = error
        items.append(item)
    return items


def _as_list(value: Any, name: str, expected: str) -> list[Any]:
    if isinstance(value, (str, bytes, bytearray, Mapping, Set)) or not isinstance(value, Sequence):
        raise InvalidInputError(f"{name} must be {expected}, got {type(value).__name__}")
    return list(value)


def _checked_query(query: Any, position: int) -> str:
    try:
        return check_query(query)
    except InvalidInputError as error:
        raise InvalidInputError(f"queries[{position}]: {error.message}") from None


def _checked_documents(
    texts: Any, position: int, images: ImageOptions | None
) -> tuple[list[Any], list[Document]]:
    """The item's documents as given and as scored; an error names the item and the document."""
    try:
        given = document_list(texts)
    except InvalidInputError as error:
        raise InvalidInputError(f"documents[{position}]: {error.message}") from None
    checked = []
    for index, text in enumerate(given):
        try:
            checked.append(check_document(text, index, images))
        except InvalidInputError as error:
            raise InvalidInputError(f"documents[{position}][{index}]: {error.message}") from None
    return given, checked


def reads_images(documents: Any) -> bool:
    """Whether planning a batch of these document lists reads documents other than texts."""
    return isinstance(documents, (list, tuple)) and any(
        isinstance(texts, (list, tuple)) and needs_fetch(texts) for texts in documents
    )


def results_of(items: list[_Item], return_exceptions: bool) -> list[Any]:
    """The outcomes in input order; without ``return_exceptions`` the first failure is raised."""
    if not return_exceptions:
        for item in items:
            if isinstance(item.outcome, Exception):
                raise _named(item.outcome, item.position)
    return [item.outcome for item in items]


def _named(error: Exception, position: int) -> Exception:
    """The error as raised for the batch: it says which item failed, and keeps its type."""
    if isinstance(error, InvalidInputError):
        return error  # its message already starts with the position
    note = f"in rerank_batch item {position} (queries[{position}], documents[{position}])"
    if hasattr(error, "add_note"):  # Python 3.11+
        error.add_note(note)
    if isinstance(error, RerankError) and not error.message.startswith("item "):
        error.message = f"item {position}: {error.message}"
    return error


# -- the call: one flow (rerankit._flow), driven sync or async --------------------------------


def batch_flow(
    backends: list[Backend],
    queries: Any,
    documents: Any,
    top_n: Any,
    score_threshold: Any,
    return_exceptions: bool,
    options: PlanOptions,
) -> Flow[io.Action, list[Any]]:
    """One ``rerank_batch`` call: validate the batch (:func:`plan_batch`), score every valid item
    on the first backend, items failing with FALLBACK_ERRORS on the next; the outcomes
    (:func:`results_of`). Without ``return_exceptions`` an invalid item fails the call unscored.
    ``Reranker.rerank_batch`` drives it with :func:`rerankit._score_io.do`, ``arerank_batch``
    with :func:`~rerankit._score_io.ado`."""
    check = functools.partial(plan_batch, queries, documents, top_n, score_threshold, options)
    items: list[_Item] = yield io.Validate(check, reads_images(documents))
    if return_exceptions or all(item.outcome is None for item in items):
        yield from _batch(backends, items)
    return results_of(items, return_exceptions)


def _batch(backends: list[Backend], items: list[_Item]) -> Flow[io.Action, None]:
    pending = [item for item in items if item.outcome is None]
    for index, backend in enumerate(backends):
        if not pending:
            return
        if (yield from _limits_failed(backend, pending)):
            pass
        elif has_score_requests(backend) and len(pending) > 1:
            yield from _score_shared(backend, pending)
        else:
            yield from _score_concurrently(backend, pending)
        pending = _for_fallback(pending, backends, index)


def _for_fallback(items: list[_Item], backends: list[Backend], index: int) -> list[_Item]:
    """The items the next backend scores again: those that failed with one of FALLBACK_ERRORS."""
    if index + 1 >= len(backends):
        return []
    retry = [item for item in items if isinstance(item.outcome, FALLBACK_ERRORS)]
    for item in retry:
        _log_fallback(backends[index], backends[index + 1], item.outcome)  # type: ignore[arg-type]
        item.failed_before, item.outcome = item.outcome, None  # type: ignore[assignment]
    return retry


def _settle(item: _Item, outcome: Outcome) -> None:
    previous = item.failed_before
    if isinstance(outcome, Exception) and previous is not None and outcome is not previous:
        outcome.__context__ = previous  # as rerank chains a fallback's error to the one before
    item.outcome = outcome


def _limits_failed(backend: Backend, items: list[_Item]) -> Flow[io.Action, bool]:
    """Let the backend learn its server's limits once (TEI's ``/info``); if that fails, every item
    fails with its error, as a single call would."""
    try:
        yield io.LoadLimits(backend)
    except Exception as error:
        for item in items:
            _settle(item, error)
        return True
    return False


@dataclass(frozen=True)
class BackendRequests:
    """What one backend is sent for some items."""

    #: The items still in play (an item whose documents cannot be sent has failed alone).
    items: list[_Item]
    #: Each item's documents to score: cache lookups done, long documents cut.
    units: list[DocumentsToScore]
    #: Each item's parts: its texts split to the backend's per-request limit.
    parts: list[list[list[str]]]
    #: The flat (query, texts) requests, the items' parts in order.
    requests: list[tuple[str, list[str]]]


def _requests_from(
    backend: Backend, items: list[_Item], units: list[DocumentsToScore | Exception]
) -> BackendRequests:
    kept, kept_units, parts = [], [], []
    split = getattr(backend, "split_request", None)
    for item, unit in zip(items, units, strict=True):
        try:
            if isinstance(unit, Exception):
                raise unit
            item_parts = unit.parts(backend.max_documents_per_request, split)
        except Exception as error:  # this item's documents cannot be sent: it fails alone
            _settle(item, error)
            continue
        kept.append(item)
        kept_units.append(unit)
        parts.append(item_parts)
    requests = [
        (unit.query, part) for unit, item_parts in zip(kept_units, parts, strict=True) for part in item_parts
    ]
    return BackendRequests(kept, kept_units, parts, requests)


def _requests_of(backend: Backend, items: list[_Item]) -> Flow[io.Action, BackendRequests]:
    units: list[DocumentsToScore | Exception] = []
    for item in items:
        try:
            units.append((yield io.Units(backend, item.plan)))  # type: ignore[arg-type]
        except Exception as error:
            units.append(error)
    return _requests_from(backend, items, units)


def _finish(
    item: _Item, unit: DocumentsToScore, item_parts: list[list[str]], scored: list[Any], backend: Backend
) -> bool:
    """Settle one item from its parts' scores; True when it succeeded (its scores may be cached)."""
    try:
        _settle(item, item.plan.finish(unit, item_parts, scored, backend))  # type: ignore[union-attr]
    except Exception as error:
        _settle(item, error)
        return False
    return True


def _finish_shared(
    backend: Backend, planned: BackendRequests, values: list[list[float]]
) -> list[DocumentsToScore]:
    """Settle the items of one shared ``score_requests`` call; the units whose scores to cache."""
    items, units, parts = planned.items, planned.units, planned.parts
    expected = sum(len(item_parts) for item_parts in parts)
    if len(values) != expected:
        for item in items:
            _settle(
                item,
                MalformedResponseError(
                    f"backend returned {len(values)} score lists for {expected} requests",
                    provider=backend.name,
                ),
            )
        return []
    start, done = 0, []
    for item, unit, item_parts in zip(items, units, parts, strict=True):
        scored = [Scores(values=v) for v in values[start : start + len(item_parts)]]
        start += len(item_parts)
        if _finish(item, unit, item_parts, scored, backend):
            done.append(unit)
    return done


def _score_shared(backend: Backend, items: list[_Item]) -> Flow[io.Action, None]:
    """All items' pairs through one ``score_requests`` call; if it fails, each item alone."""
    with _tracing.backend_span(backend):
        planned = yield from _requests_of(backend, items)
        try:
            values = (yield io.ScoreRequests(backend, planned.requests)) if planned.requests else []
        except Exception:
            for item in planned.items:  # find the item at fault; the others still get their scores
                yield from _score_concurrently(backend, [item])
            return
        yield io.Remember(_finish_shared(backend, planned, values))


def _score_concurrently(backend: Backend, items: list[_Item]) -> Flow[io.Action, None]:
    """One ``score`` call per item and part, at most ``max_concurrency`` at once for the batch."""
    with _tracing.backend_span(backend):
        planned = yield from _requests_of(backend, items)
        outcomes = yield io.ScoreEach(backend, planned.requests)
        yield io.Remember(_finish_each(backend, planned, outcomes))


def _finish_each(
    backend: Backend, planned: BackendRequests, outcomes: list[Scores | Exception]
) -> list[DocumentsToScore]:
    """Settle the items of per-part calls; the units whose scores to cache."""
    items, units, parts = planned.items, planned.units, planned.parts
    start, done = 0, []
    for item, unit, item_parts in zip(items, units, parts, strict=True):
        scored = outcomes[start : start + len(item_parts)]
        start += len(item_parts)
        failure = next((outcome for outcome in scored if isinstance(outcome, Exception)), None)
        if failure is not None:
            _settle(item, failure)
            continue
        if _finish(item, unit, item_parts, scored, backend):
            done.append(unit)
    return done
