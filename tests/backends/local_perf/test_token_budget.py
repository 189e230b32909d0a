"""Token-budget batching: every pair scored once, within the budget, with predict's scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from sentence_transformers import CrossEncoder

from rerankit import ConfigurationError, Reranker
from rerankit.backends import LocalCrossEncoder
from rerankit.backends._local._batching import CPU_MAX_BATCH_TOKENS, resolve_max_batch_tokens

QUERY = "which passage explains reranking"
DOCUMENTS = [
    "short",
    "reranking " * 40,  # longer than max_length: truncated
    "a cross-encoder reads query and passage together",
    "paris is the capital of france",
    "tokens " * 12,
    "retrieval then reranking then generation in a RAG pipeline",
    "x",
    "rerankers " * 25,
    "bm25 scores by term frequency",
]
MAX_LENGTH = 32


def test_batches_cover_every_pair_once_longest_first_within_both_limits(bert_model: Path) -> None:
    backend = LocalCrossEncoder(
        str(bert_model), device="cpu", max_length=MAX_LENGTH, batch_size=3, max_batch_tokens=70
    )
    pairs = [(QUERY, document) for document in DOCUMENTS]
    tokenizer = backend.cross_encoder.tokenizer
    tokens = [len(tokenizer(q, d, truncation=True, max_length=MAX_LENGTH)["input_ids"]) for q, d in pairs]
    batches = backend.token_budget_batches(pairs)
    assert sorted(i for batch in batches for i in batch) == list(range(len(pairs)))
    widths = [max(tokens[i] for i in batch) for batch in batches]
    assert widths == sorted(widths, reverse=True), "batches must go longest first"
    for batch, width in zip(batches, widths, strict=True):
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * width <= 70, (batch, width)
    assert max(widths) == MAX_LENGTH and len(batches) > len(pairs) / 3  # the budget did cut


@pytest.mark.parametrize("max_batch_tokens", [16, 70, 4096])
def test_budgeted_scores_equal_predict(bert_model: Path, max_batch_tokens: int) -> None:
    expected = CrossEncoder(str(bert_model), max_length=MAX_LENGTH).predict([(QUERY, d) for d in DOCUMENTS])
    backend = LocalCrossEncoder(
        str(bert_model), device="cpu", max_length=MAX_LENGTH, max_batch_tokens=max_batch_tokens
    )
    assert backend.score(QUERY, DOCUMENTS).values == pytest.approx(expected.tolist(), abs=1e-6)


def test_without_a_budget_scores_equal_predict_batch_for_batch(bert_model: Path) -> None:
    expected = CrossEncoder(str(bert_model), max_length=MAX_LENGTH).predict([(QUERY, d) for d in DOCUMENTS])
    backend = LocalCrossEncoder(str(bert_model), device="cpu", max_length=MAX_LENGTH, max_batch_tokens=None)
    # The same batches as predict's, in another forward pass: equal to float rounding, not bitwise.
    assert backend.score(QUERY, DOCUMENTS).values == pytest.approx(expected.tolist(), rel=1e-6, abs=1e-7)


def test_auto_budget_is_for_cpu_only(bert_model: Path) -> None:
    assert resolve_max_batch_tokens("auto", "cpu") == CPU_MAX_BATCH_TOKENS
    assert resolve_max_batch_tokens("auto", "cuda") is None
    assert resolve_max_batch_tokens("auto", "cuda:1") is None
    assert resolve_max_batch_tokens(8192, "cuda") == 8192
    assert resolve_max_batch_tokens(None, "cpu") is None
    assert Reranker(f"local/{bert_model}", device="cpu").backend.max_batch_tokens == CPU_MAX_BATCH_TOKENS


@pytest.mark.parametrize("value", [0, -5, True, 1.5, "big"])
def test_bad_max_batch_tokens_is_named(bert_model: Path, value) -> None:
    with pytest.raises(ConfigurationError, match="max_batch_tokens"):
        Reranker(f"local/{bert_model}", max_batch_tokens=value)
