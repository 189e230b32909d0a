"""The values a rerank call returns."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rerankit._score_kinds import ScoreKind


class Usage(BaseModel):
    """What a call cost. Usages add up with ``+`` (a provider figure stays ``None`` only if both are).

    Attributes:
        documents: The documents passed in. Defaults to 0.
        pairs_scored: The (query, document) pairs actually computed, after identical documents
            were merged. Defaults to 0.
        requests: The backend calls made: one per split part, retries not counted. Defaults to 0.
        tokens: The tokens the provider reported billing; ``None`` when it reported none.
        search_units: The search units the provider reported billing (Cohere); ``None`` when it
            reported none.
        cache_hits: With a score cache (``Reranker(..., cache=True)``), the distinct documents
            answered from the cache. Defaults to 0.
        cache_misses: With a score cache, the distinct documents scored by the backend. Defaults to 0.

    With ``long_documents="chunk"``, ``pairs_scored`` counts the (query, chunk) pairs computed.

    >>> Usage(documents=3, pairs_scored=2, requests=1) + Usage(tokens=10, cache_hits=1)
    Usage(documents=3, pairs_scored=2, requests=1, tokens=10, search_units=None, cache_hits=1, cache_misses=0)
    """

    model_config = ConfigDict(frozen=True)

    documents: int = 0
    pairs_scored: int = 0
    requests: int = 0
    tokens: int | None = None
    search_units: float | None = None
    cache_hits: int = 0
    cache_misses: int = 0

    def __add__(self, other: Usage) -> Usage:
        def add_optional(a: float | None, b: float | None) -> float | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            documents=self.documents + other.documents,
            pairs_scored=self.pairs_scored + other.pairs_scored,
            requests=self.requests + other.requests,
            tokens=add_optional(self.tokens, other.tokens),  # type: ignore[arg-type]
            search_units=add_optional(self.search_units, other.search_units),
            cache_hits=self.cache_hits + other.cache_hits,
            cache_misses=self.cache_misses + other.cache_misses,
        )


class ChunkSpan(BaseModel):
    """Which window of a long document gave its score (``Reranker(..., long_documents="chunk")``).

    ``index`` counts the document's windows from 0; ``document[start:end]`` is the window's text
    (character offsets into the document as passed in), ready for highlighting.

    >>> span = ChunkSpan(index=1, start=6, end=11)
    >>> "hello world"[span.start : span.end]
    'world'
    """

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position of the winning window among the document's windows.")
    start: int = Field(description="Character offset where the window starts in the document.")
    end: int = Field(description="Character offset just past the window's end.")


class RerankResult(BaseModel):
    """One scored document: its position in the input, its score and its text.

    Attributes:
        index: The position of the document in the ``documents`` passed in.
        relevance_score: The backend's score, a Python float; higher is more relevant.
        document: The document as it was passed in: its text, or the image document (an
            :class:`~rerankit.Image`, a PIL image, a list of content parts) itself.
        chunk: With ``long_documents="chunk"``, the window whose score is the document's score;
            ``None`` otherwise.

    >>> RerankResult(index=1, relevance_score=0.9, document="BM25 is a ranking function")
    RerankResult(index=1, relevance_score=0.9, document='BM25 is a ranking function', chunk=None)
    """

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position of the document in the input sequence.")
    relevance_score: float = Field(description="Higher is more relevant; a Python float.")
    document: Any = Field(description="The document as passed in: a text, or an image document as given.")
    chunk: ChunkSpan | None = Field(
        default=None, description="The best-scoring window, with long_documents='chunk'; else None."
    )


class RerankResponse(BaseModel):
    """The documents of one call, best first (ties keep input order), cut to ``top_n``.

    Attributes:
        results: The kept documents, best first.
        model: The model that scored them.
        backend: The backend that answered (with fallbacks configured, the one that succeeded).
        usage: What the call cost.
        score_kind: What the scores are (docs/scores.md): ``"probability"``, ``"logit"``,
            ``"similarity"``, ``"reciprocal_rank"`` or ``"relevance"`` (a provider's opaque 0-1),
            as the backend that answered declares them; with ``normalize=True`` or a calibration,
            the kind of the mapped scores. ``None`` for a backend that declares none.
        score_range: ``(low, high)`` the scores lie in; ``None`` when unbounded (or undeclared).

    >>> from rerankit import Reranker
    >>> from rerankit.testing import FakeBackend
    >>> response = Reranker(FakeBackend(scores={"a": 0.2, "b": 0.7})).rerank("q", ["a", "b"], top_n=1)
    >>> response.results, response.backend, response.usage.requests
    ([RerankResult(index=1, relevance_score=0.7, document='b', chunk=None)], 'fake', 1)
    >>> response.score_kind, response.score_range
    ('relevance', (0.0, 1.0))
    """

    model_config = ConfigDict(frozen=True)

    results: list[RerankResult]
    model: str
    backend: str
    usage: Usage = Field(default_factory=Usage)
    score_kind: ScoreKind | None = Field(default=None, description="What the scores are (docs/scores.md).")
    score_range: tuple[float, float] | None = Field(
        default=None, description="The range the scores lie in; None when unbounded."
    )


class Scores(BaseModel):
    """What a backend returns for one request: a score per text, in input order, and its cost.

    Attributes:
        values: One score per text, in the order the texts were given.
        usage: What the provider reported for this request (only ``tokens`` and ``search_units``
            are read by the core, which counts documents and requests itself).

    >>> Scores(values=[0.1, 0.8], usage=Usage(tokens=12)).values
    [0.1, 0.8]
    """

    model_config = ConfigDict(frozen=True)

    values: list[float]
    usage: Usage = Field(default_factory=Usage)


__all__ = ["ChunkSpan", "RerankResponse", "RerankResult", "Scores", "Usage"]
