"""The onnx backend declares its score kind from the activation the checkpoint's config names, as
the local backend does (docs/scores.md), so ``normalize`` and thresholds mean the same on both."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rerankit import Reranker


def test_the_kind_follows_the_declared_activation(checkpoints: Path, reference: dict[str, Any]) -> None:
    query, documents = reference["query"], reference["documents"]
    response = Reranker(f"onnx/{checkpoints / 'bert'}").rerank(query, documents)
    # no activation in its config: sentence-transformers' default for one label, the sigmoid
    assert (response.score_kind, response.score_range) == ("probability", (0.0, 1.0))
    assert all(0.0 < result.relevance_score < 1.0 for result in response.results)


def test_normalize_refuses_nothing_and_keeps_a_probability_as_it_is(
    checkpoints: Path, reference: dict[str, Any]
) -> None:
    query, documents = reference["query"], reference["documents"]
    raw = Reranker(f"onnx/{checkpoints / 'bert'}").rerank(query, documents)
    normalized = Reranker(f"onnx/{checkpoints / 'bert'}", normalize=True).rerank(query, documents)
    assert [r.index for r in normalized.results] == [r.index for r in raw.results]
    for got, want in zip(normalized.results, raw.results, strict=True):
        assert math.isclose(got.relevance_score, want.relevance_score, abs_tol=1e-7)
