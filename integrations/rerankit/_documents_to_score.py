"""What one backend is sent for one call: cached documents left out, long ones cut, texts deduped.

The core's plan holds a call's distinct documents. Before a backend scores them,
:meth:`DocumentsToScore.prepare` answers what it can from the score cache, cuts every other document
into the texts actually sent (the document itself; with ``long_documents="chunk"`` its windows;
for a remote provider that rejects long documents, the document cut to its limit) and merges
identical texts across documents. After scoring, :meth:`DocumentsToScore.collapse` gives each
document the best of its windows and :meth:`DocumentsToScore.remember` stores the new scores. On
an event loop, :meth:`DocumentsToScore.blocks` says whether preparing them is worth a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rerankit import _tracing
from rerankit._chunking import LongDocuments, split_into_windows, truncate_to_budget
from rerankit._documents import Document, cache_form
from rerankit._errors import ConfigurationError
from rerankit._score_cache import CachedScore, ScoreCache, backend_fingerprint, score_key
from rerankit._types import ChunkSpan

logger = logging.getLogger("rerankit")

#: Up to this many characters, the token estimate for client-side truncation runs on the event
#: loop (a few milliseconds at most).
INLINE_ESTIMATE_CHARS = 200_000


@dataclass
class _DocumentUnits:
    """One distinct document: its cached score, or the units (text position, window) it was cut into."""

    cached: CachedScore | None
    units: list[tuple[int, ChunkSpan | None]] = field(default_factory=list)


@dataclass
class DocumentsToScore:
    """The texts one backend scores for one call, and how their scores fold back into documents."""

    query: str
    texts: list[Document]
    documents: list[_DocumentUnits]
    keys: list[str] | None = None
    cache: ScoreCache | None = None
    outcomes: list[CachedScore] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return (
            sum(document.cached is not None for document in self.documents) if self.cache is not None else 0
        )

    @property
    def misses(self) -> int:
        return len(self.documents) - self.hits if self.cache is not None else 0

    @classmethod
    @_tracing.traced_prepare
    def prepare(
        cls,
        backend: Any,
        query: str,
        distinct: Sequence[Document],
        long_documents: LongDocuments,
        cache: ScoreCache | None,
    ) -> DocumentsToScore:
        """Look the documents up in ``cache``, and cut the rest into the texts ``backend`` is sent."""
        keys = None
        found: list[CachedScore | None] = [None] * len(distinct)
        if cache is not None:
            fingerprint = backend_fingerprint(backend)
            keys = [
                score_key(fingerprint, long_documents.fingerprint(), query, cache_form(text))
                for text in distinct
            ]
            found = cache.get_many(keys)
        budget = _budget(backend, query, long_documents)
        positions: dict[Document, int] = {}
        documents = []
        for text, hit in zip(distinct, found, strict=True):
            if hit is not None:
                documents.append(_DocumentUnits(hit))
                continue
            windows: list[tuple[Document, ChunkSpan | None]]
            if not isinstance(text, str):  # an image document is scored whole: no token windows
                windows = [(text, None)]
            elif long_documents.chunked and budget is not None:
                windows = [
                    (window.text, window.span)
                    for window in split_into_windows(
                        text,
                        backend.token_offsets(text),
                        budget,
                        overlap=long_documents.overlap,
                        max_chunks=long_documents.max_chunks,
                    )
                ]
            elif long_documents.chunked:  # no known limit: the whole document is its one window
                windows = [(text, ChunkSpan(index=0, start=0, end=len(text)))]
            elif budget is not None:
                windows = [(truncate_to_budget(text, backend.token_offsets(text), budget), None)]
            else:
                windows = [(text, None)]
            units = [(positions.setdefault(piece, len(positions)), span) for piece, span in windows]
            documents.append(_DocumentUnits(None, units))
        return cls(query, list(positions), documents, keys, cache)

    @staticmethod
    def blocks(
        backend: Any, distinct: Sequence[Document], long_documents: LongDocuments, cache: ScoreCache | None
    ) -> bool:
        """Whether :meth:`prepare` blocks long enough to be worth a worker thread on an event loop:
        it tokenizes (``chunk``), estimates the tokens of much text or asks a remote cache.
        Otherwise a thread hop costs more than the work."""
        text_chars = sum(len(text) for text in distinct if isinstance(text, str))
        estimates_much = _client_truncates(backend) and text_chars > INLINE_ESTIMATE_CHARS
        return long_documents.chunked or estimates_much or (cache is not None and cache.does_io)

    def parts(self, limit: int | None, split: Any = None) -> list[list[Document]]:
        """The texts to send cut into requests of at most ``limit`` (none when all were cached),
        each then cut by ``split(query, texts)`` (a backend's ``split_request``) when given.

        Raises:
            ConfigurationError: when ``split`` loses or reorders texts (merging relies on the order).
        """
        if not self.texts:
            return []
        if not limit or len(self.texts) <= limit:
            parts = [self.texts]
        else:
            parts = [self.texts[start : start + limit] for start in range(0, len(self.texts), limit)]
        if split is None:
            return parts
        pieces = [list(piece) for part in parts for piece in split(self.query, part)]
        if [text for piece in pieces for text in piece] != self.texts:
            raise ConfigurationError("the backend's split_request lost or reordered texts")
        return pieces

    def collapse(self, scores: Sequence[float]) -> list[CachedScore]:
        """Each document's score: its cached one, or its best window's (ties: the earliest window)."""
        outcomes = []
        for document in self.documents:
            if document.cached is not None:
                outcomes.append(document.cached)
                continue
            best_position, best_span = document.units[0]
            for position, span in document.units[1:]:
                if scores[position] > scores[best_position]:
                    best_position, best_span = position, span
            outcomes.append(CachedScore(float(scores[best_position]), best_span))
        self.outcomes = outcomes
        return outcomes

    def remember(self) -> None:
        """Store the scores just computed in the cache."""
        if self.cache is None or self.keys is None:
            return
        fresh = {
            key: outcome
            for key, outcome, document in zip(self.keys, self.outcomes, self.documents, strict=True)
            if document.cached is None
        }
        self.cache.set_many(fresh)

    async def aremember(self) -> None:
        """Async :meth:`remember`, in a worker thread for a remote cache."""
        if self.cache is not None and self.cache.does_io:
            await asyncio.to_thread(self.remember)
        else:
            self.remember()


def _client_truncates(backend: Any) -> bool:
    return callable(getattr(backend, "client_truncation_budget", None))


def _budget(backend: Any, query: str, long_documents: LongDocuments) -> int | None:
    """Document tokens per text sent: a window (``chunk``), the provider's limit (remote ``truncate``)."""
    if long_documents.chunked:
        budget = backend.document_token_budget(query)
    elif _client_truncates(backend):
        budget = backend.client_truncation_budget(query)
    else:
        return None  # the model truncates the document itself (only_second), as it always did
    if budget is not None and budget < 1:
        logger.warning(
            "the query leaves no room for the document in %s/%s's window; sending one token per window",
            backend.name,
            backend.model,
        )
    return budget


__all__ = ["DocumentsToScore"]
