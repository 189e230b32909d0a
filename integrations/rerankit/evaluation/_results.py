"""What an evaluation returns: a row per system (quality, latency, cost) and the whole comparison."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rerankit._types import Usage

if TYPE_CHECKING:
    from matplotlib.figure import Figure


class RankedDocument(BaseModel):
    """One document of a ranking: its corpus id and the score that placed it."""

    model_config = ConfigDict(frozen=True)

    id: str
    score: float


class LatencyStats(BaseModel):
    """Per-query latency of one stage, in milliseconds."""

    model_config = ConfigDict(frozen=True)

    p50_ms: float
    p95_ms: float
    mean_ms: float
    total_s: float = Field(description="Sum over all queries, in seconds.")


class SystemResult(BaseModel):
    """One row of the comparison: the BM25 first stage, or one reranker over its candidates."""

    name: str = Field(description="'bm25' for the first stage, else the reranker's spec.")
    stage: Literal["first-stage", "rerank"]
    backend: str
    model: str
    metrics: dict[str, float] = Field(description="Mean over the evaluated queries, computed by ranx.")
    per_query: dict[str, dict[str, float]] = Field(description="query id -> metric -> value.")
    latency: LatencyStats
    documents_per_second: float | None = Field(
        default=None, description="Documents reranked per second of rerank time (rerank rows only)."
    )
    usage: Usage | None = Field(default=None, description="Usage totals the backend reported (rerank rows).")
    load_seconds: float | None = Field(default=None, description="Time to build the reranker (model load).")
    rankings: dict[str, list[RankedDocument]] = Field(
        default_factory=dict, repr=False, description="query id -> documents best first."
    )


class EvalResult(BaseModel):
    """What :func:`evaluate` returns: the first stage and every reranker, measured the same way."""

    data: str
    split: str
    k: int
    queries: int
    documents: int
    metrics: list[str]
    first_stage: SystemResult
    rerankers: list[SystemResult]

    @property
    def systems(self) -> list[SystemResult]:
        """The first stage, then the rerankers in the order given."""
        return [self.first_stage, *self.rerankers]

    def summary(self) -> list[dict[str, Any]]:
        """One flat dict per system (no per-query data): handy for ``pandas.DataFrame(result.summary())``.

        Returns:
            Per system: its name, its mean metrics, p50/p95 latency, documents per second and the
            usage totals (``None`` for the first stage).
        """
        rows = []
        for system in self.systems:
            usage = system.usage
            rows.append(
                {
                    "system": system.name,
                    **system.metrics,
                    "p50_ms": system.latency.p50_ms,
                    "p95_ms": system.latency.p95_ms,
                    "docs_per_s": system.documents_per_second,
                    "documents": usage.documents if usage else None,
                    "requests": usage.requests if usage else None,
                    "tokens": usage.tokens if usage else None,
                    "search_units": usage.search_units if usage else None,
                }
            )
        return rows

    def to_json(self, *, rankings: bool = False, indent: int | None = 2) -> str:
        """The result as JSON.

        Args:
            rankings: Include every system's per-query rankings (they are large). Defaults to
                ``False``.
            indent: JSON indentation; ``None`` for one line. Defaults to 2.

        Returns:
            The JSON text.
        """
        exclude = None if rankings else {"first_stage": {"rankings"}, "rerankers": {"__all__": {"rankings"}}}
        return self.model_dump_json(indent=indent, exclude=exclude)

    def plot(self, path: str | Path | None = None, *, metric: str = "ndcg@10") -> Figure:
        """Quality against latency; see :func:`plot_quality_latency`.

        Args:
            path: Where to save the picture. Defaults to ``None``: not saved.
            metric: The quality metric on the y axis. Defaults to ``"ndcg@10"``.

        Returns:
            The matplotlib figure.
        """
        from rerankit.evaluation._plot import plot_quality_latency

        return plot_quality_latency(self, path, metric=metric)
