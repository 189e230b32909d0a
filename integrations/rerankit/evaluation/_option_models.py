"""The options of :func:`~rerankit.evaluation.evaluate`, checked by one pydantic model."""

from __future__ import annotations

from pydantic import Field

from rerankit._options_base import Options


class EvaluationOptions(Options):
    """The scalar settings of an evaluation (the models, data and metrics are checked where used).

    >>> EvaluationOptions.validated({"k": 0})
    Traceback (most recent call last):
    ...
    rerankit.ConfigurationError: k must be an integer of at least 1, got 0
    """

    k: int = Field(
        default=100, ge=1, description="First-stage depth: BM25 candidates each reranker reorders."
    )
    split: str = Field(default="test", description="Which qrels/<split>.tsv to read from a BEIR directory.")
    max_queries: int | None = Field(
        default=None, ge=1, description="Evaluate only the first n judged queries. None: all."
    )
    warmup: bool = Field(default=True, description="Make one untimed call per reranker first.")
    progress: bool = Field(default=False, description="Show rich progress bars on stderr.")


__all__ = ["EvaluationOptions"]
