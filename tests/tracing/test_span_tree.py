"""The span tree of a call with a retry, a fallback, a cache hit and a chunked document is exactly the
one docs/observability.md draws, sync and async; errors carry their typed error; batches and local
forward passes have their spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from rerankit import InvalidInputError, Reranker
from tests.tracing.conftest import (
    DOCUMENTS,
    QUERY,
    TREE_KEYS,
    Providers,
    Telemetry,
    documented_reranker,
    documented_tree,
    warm_cache,
)


def test_the_documented_call_has_the_documented_tree(telemetry: Telemetry, providers: Providers) -> None:
    reranker = documented_reranker(providers)
    warm_cache(reranker, providers)
    telemetry.clear()

    response = reranker.rerank(QUERY, DOCUMENTS, top_n=2)

    assert response.backend == "jina" and response.usage.cache_hits == 1
    [root] = telemetry.roots()
    assert telemetry.tree(root, TREE_KEYS) == documented_tree()
    assert root.attributes["reranker.top_k"] == 2
    assert root.attributes["reranker.model_name"] == "rerank-v3.5"
    assert root.attributes["gen_ai.request.model"] == "rerank-v3.5"
    assert root.attributes["gen_ai.response.model"] == "jina-reranker-v2-base-multilingual"
    outputs = [
        (root.attributes[f"reranker.output_documents.{rank}.document.id"], result.index)
        for rank, result in enumerate(response.results)
    ]
    assert [found for found, _ in outputs] == [index for _, index in outputs]
    assert (
        root.attributes["reranker.output_documents.0.document.score"] == response.results[0].relevance_score
    )
    [event] = root.events
    assert event.name == "rerankit.fallback" and event.attributes["rerankit.backend"] == "jina"
    prepare = telemetry.children(telemetry.children(root)[1])[0]
    assert prepare.attributes["rerankit.windows.count"] > 2  # the long document's windows, plus one each


async def test_arerank_has_the_same_tree(telemetry: Telemetry, providers: Providers) -> None:
    reranker = documented_reranker(providers)
    warm_cache(reranker, providers)
    telemetry.clear()

    await reranker.arerank(QUERY, DOCUMENTS, top_n=2)

    [root] = telemetry.roots()
    assert telemetry.tree(root, TREE_KEYS) == documented_tree()
    assert root.attributes["rerankit.operation"] == "arerank"


def test_an_invalid_call_fails_its_span_with_the_typed_error_and_no_text(telemetry: Telemetry) -> None:
    reranker = Reranker("cohere/rerank-v3.5", api_key="k")
    with pytest.raises(InvalidInputError):
        reranker.rerank(QUERY, ["a fine document", "   "])

    [root] = telemetry.roots()
    assert root.status.status_code.name == "ERROR"
    assert root.status.description == "InvalidInputError"
    assert root.attributes["error.type"] == "InvalidInputError"
    [event] = root.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("InvalidInputError")
    assert event.attributes["exception.message"] == "InvalidInputError"
    assert not telemetry.children(root)  # nothing was sent


def test_a_batch_is_one_span_with_a_reranker_span_per_item(
    telemetry: Telemetry, providers: Providers
) -> None:
    reranker = documented_reranker(providers)
    responses = reranker.rerank_batch([QUERY, "capital of France"], [DOCUMENTS, ["Paris", "Rome"]], top_n=1)

    [root] = telemetry.roots()
    assert root.name == "rerank_batch rerank-v3.5"
    assert root.attributes["openinference.span.kind"] == "CHAIN"
    assert (root.attributes["rerankit.batch.items"], root.attributes["rerankit.batch.failed"]) == (2, 0)
    children = telemetry.children(root)
    items = [span for span in children if span.attributes.get("openinference.span.kind") == "RERANKER"]
    assert [span.attributes["rerankit.batch.item"] for span in items] == [0, 1]
    for span, response in zip(items, responses, strict=True):
        assert span.attributes["reranker.output_documents.0.document.id"] == response.results[0].index
        assert span.attributes["gen_ai.provider.name"] == "jina"
    backends = [span.name for span in children if span.name.startswith("score ")]
    assert backends == ["score cohere", "score jina"]  # each backend's pass over the batch's items


def test_local_forward_passes_have_their_size_and_tokens(telemetry: Telemetry, bert_model: Path) -> None:
    reranker = Reranker(f"local/{bert_model}", device="cpu", max_batch_tokens=64)
    texts = [
        "short one",
        "a somewhat longer document about ranking functions and search engines",
        "mid size text",
    ]
    reranker.rerank(QUERY, texts)

    [root] = telemetry.roots()
    [backend] = telemetry.children(root)
    [part] = telemetry.children(backend)
    passes = telemetry.children(part)
    assert passes and all(span.name == "rerankit.forward" for span in passes)
    assert sum(span.attributes["rerankit.forward.pairs"] for span in passes) == len(texts)
    for span in passes:
        assert (
            0 < span.attributes["rerankit.forward.tokens"] <= 64
            or span.attributes["rerankit.forward.pairs"] == 1
        )
        assert span.attributes["rerankit.device"] == "cpu"
