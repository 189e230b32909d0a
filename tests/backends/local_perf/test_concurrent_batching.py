"""Concurrent ``arerank`` calls on a local model share forward passes; no score lands on another call."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from rerankit import Reranker
from rerankit.backends._local._batching import ConcurrentBatcher

WORDS = [
    "retrieval",
    "ranking",
    "passage",
    "vector",
    "paris",
    "river",
    "energy",
    "model",
    "token",
    "cache",
    "answer",
    "budget",
]


def request(seed: int) -> tuple[str, list[str]]:
    """A distinct query and 3-12 documents of mixed length, one repeated (deduped by the core)."""
    rng = np.random.default_rng(seed)
    query = f"question {seed}: " + " ".join(rng.choice(WORDS, size=4))
    documents = [
        f"doc {seed}.{i} " + " ".join(rng.choice(WORDS, size=int(rng.integers(2, 60))))
        for i in range(int(rng.integers(3, 12)))
    ]
    return query, [*documents, documents[0]]


def count_runs(reranker: Reranker) -> list[int]:
    """Record how many requests each model run takes (must be patched before the first ``arerank``)."""
    backend = reranker.backend
    runs: list[int] = []
    score_requests = backend.score_requests

    def recording(requests):
        runs.append(len(requests))
        return score_requests(requests)

    backend.score_requests = recording
    return runs


def as_pairs(response) -> list[tuple[int, str, float]]:
    return [(r.index, r.document, r.relevance_score) for r in response.results]


@pytest.mark.parametrize("max_batch_tokens", ["auto", None, 64])
async def test_concurrent_calls_share_one_run_and_each_gets_its_own_scores(
    bert_model: Path, max_batch_tokens
) -> None:
    reranker = Reranker(f"local/{bert_model}", max_batch_tokens=max_batch_tokens, batch_size=8)
    runs = count_runs(reranker)
    requests = [request(seed) for seed in range(16)]
    merged = await asyncio.gather(*(reranker.arerank(q, docs) for q, docs in requests))
    assert runs == [16], "the 16 concurrent calls were not merged into one model run"
    for (query, documents), response in zip(requests, merged, strict=True):
        alone = reranker.rerank(query, documents)
        assert [r.index for r in response.results] == [r.index for r in alone.results]
        for got, expected in zip(as_pairs(response), as_pairs(alone), strict=True):
            assert got[:2] == expected[:2]
            assert got[2] == pytest.approx(expected[2], abs=1e-6)
        assert response.usage == alone.usage


async def test_a_score_from_another_query_would_be_noticed(bert_model: Path) -> None:
    # The check above can fail: the same document scores differently under different queries.
    reranker = Reranker(f"local/{bert_model}")
    document = "a passage about retrieval and ranking"
    first, second = await asyncio.gather(
        reranker.arerank("question one", [document]), reranker.arerank("another question", [document])
    )
    assert abs(first.results[0].relevance_score - second.results[0].relevance_score) > 1e-4


async def test_calls_arriving_during_a_run_go_into_the_next_run_together(bert_model: Path) -> None:
    reranker = Reranker(f"local/{bert_model}")
    runs = count_runs(reranker)
    first = asyncio.ensure_future(reranker.arerank(*request(100)))
    await asyncio.sleep(0)  # the first call finds the model idle and runs alone
    later = [asyncio.ensure_future(reranker.arerank(*request(seed))) for seed in range(101, 109)]
    await asyncio.gather(first, *later)
    assert runs == [1, 8]
    for seed, task in zip(range(101, 109), later, strict=True):
        alone = reranker.rerank(*request(seed))
        assert [r.index for r in task.result().results] == [r.index for r in alone.results]


async def test_queries_with_different_truncation_are_batched_apart(bert_model: Path) -> None:
    reranker = Reranker(f"local/{bert_model}", max_length=16)
    long_query = "a query far too long to fit sixteen tokens " * 4
    short = ("short query", ["retrieval " * 30, "ranking passage"])
    long = (long_query, ["retrieval " * 30, "ranking passage"])
    merged = await asyncio.gather(reranker.arerank(*short), reranker.arerank(*long))
    for (query, documents), response in zip([short, long], merged, strict=True):
        alone = reranker.rerank(query, documents)
        for got, expected in zip(as_pairs(response), as_pairs(alone), strict=True):
            assert got[:2] == expected[:2]
            assert got[2] == pytest.approx(expected[2], abs=1e-6)


async def test_the_backend_works_on_successive_event_loops(bert_model: Path) -> None:
    reranker = Reranker(f"local/{bert_model}")
    expected = reranker.rerank(*request(7))

    def on_a_fresh_loop():
        return asyncio.run(reranker.arerank(*request(7)))

    assert await asyncio.to_thread(on_a_fresh_loop) == expected
    assert await reranker.arerank(*request(7)) == expected


def fake_scores(requests):
    if any(query == "boom" for query, _ in requests):
        raise RuntimeError("the model failed on 'boom'")
    return [[float(len(text)) for text in texts] for _, texts in requests]


async def test_a_failing_request_fails_alone() -> None:
    batcher = ConcurrentBatcher(fake_scores)
    good = asyncio.ensure_future(batcher.submit("fine", ["a", "bbb"]))
    bad = asyncio.ensure_future(batcher.submit("boom", ["cc"]))
    other = asyncio.ensure_future(batcher.submit("also fine", ["dddd"]))
    results = await asyncio.gather(good, bad, other, return_exceptions=True)
    assert results[0] == [1.0, 3.0]
    assert isinstance(results[1], RuntimeError) and "boom" in str(results[1])
    assert results[2] == [4.0]


async def test_a_cancelled_caller_does_not_disturb_the_others() -> None:
    batcher = ConcurrentBatcher(fake_scores)
    first = asyncio.ensure_future(batcher.submit("first", ["x"]))
    cancelled = asyncio.ensure_future(batcher.submit("cancelled", ["yy"]))
    kept = asyncio.ensure_future(batcher.submit("kept", ["zzz"]))
    await asyncio.sleep(0)  # all three queued
    cancelled.cancel()
    assert await first == [1.0]
    assert await kept == [3.0]
    assert cancelled.cancelled()
    assert await asyncio.wait_for(batcher.submit("after", ["abcd"]), timeout=5) == [4.0]
