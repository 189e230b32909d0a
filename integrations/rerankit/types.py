"""The values a rerank call returns."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Usage(BaseModel):
    """What a call cost.

    ``documents`` counts the documents passed in; ``pairs_scored`` the (query, document) pairs
    actually computed after identical documents were merged; ``requests`` the backend calls
    made (one per split part, retries not counted). ``tokens`` and ``search_units`` are what
    a provider reported billing, ``None`` when it reported nothing.

    >>> Usage(documents=3, pairs_scored=2, requests=1) + Usage(tokens=10)
    Usage(documents=3, pairs_scored=2, requests=1, tokens=10, search_units=None)
    """

    model_config = ConfigDict(frozen=True)

    documents: int = 0
    pairs_scored: int = 0
    requests: int = 0
    tokens: int | None = None
    search_units: float | None = None

    def __add__(self, other: Usage) -> Usage:
        def add_optional(a: float | None, b: float | None) -> float | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Usage(
            documents=self.documents + other.documents,
            pairs_scored=self.pairs_scored + other.pairs_scored,
            requests=self.requests + other.requests,
            tokens=add_optional(self.tokens, other.tokens),  # type: ignore[arg-type]
            search_units=add_optional(self.search_units, other.search_units),
        )


class RerankResult(BaseModel):
    """One scored document: its position in the input, its score and its text."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(description="Position of the document in the input sequence.")
    relevance_score: float = Field(description="Higher is more relevant; a Python float.")
    document: str = Field(description="The document text that was scored.")


class RerankResponse(BaseModel):
    """The documents of one call, best first (ties keep input order), cut to ``top_n``.

    ``model`` is the model that scored them and ``backend`` the backend that answered (with
    fallbacks configured, the one that succeeded).
    """

    model_config = ConfigDict(frozen=True)

    results: list[RerankResult]
    model: str
    backend: str
    usage: Usage = Field(default_factory=Usage)


class Scores(BaseModel):
    """What a backend returns for one request: a score per text, in input order, and its cost."""

    model_config = ConfigDict(frozen=True)

    values: list[float]
    usage: Usage = Field(default_factory=Usage)


__all__ = ["RerankResponse", "RerankResult", "Scores", "Usage"]
