"""The core's contract, on an in-process backend that records what it was asked to score."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from rerankit import (
    ConfigurationError,
    InvalidInputError,
    MalformedResponseError,
    Reranker,
    RerankError,
    RerankResponse,
    RerankResult,
    Scores,
    Usage,
)
from rerankit.backends import parse_spec
from rerankit.testing import FakeBackend


def length_score(query: str, text: str) -> float:
    """A deterministic score that differs per text: the test can recompute it for any document."""
    return (len(text) * 7919 % 1000) / 1000.0


def recording_backend(limit: int | None = None, concurrency: int = 4, delay: float = 0.0) -> FakeBackend:
    """A Backend that scores with ``length_score`` and records every request (and overlap)."""
    return FakeBackend(
        "recording",
        "length-v1",
        scores=length_score,
        max_documents_per_request=limit,
        max_concurrency=concurrency,
        delay=delay,
    )


DOCS = ["a", "bbb", "cc", "dddd", "eeeee", "ff"]


def expected_order(documents: list[str]) -> list[int]:
    scores = [length_score("q", d) for d in documents]
    return sorted(range(len(documents)), key=lambda i: (-scores[i], i))


def test_results_best_first_with_python_float_scores_on_the_right_documents() -> None:
    response = Reranker(recording_backend()).rerank("q", DOCS)
    assert isinstance(response, RerankResponse)
    assert [r.index for r in response.results] == expected_order(DOCS)
    for result in response.results:
        assert isinstance(result, RerankResult)
        assert type(result.relevance_score) is float
        assert result.document == DOCS[result.index]
        assert result.relevance_score == length_score("q", DOCS[result.index])
    assert response.model == "length-v1" and response.backend == "recording"


def test_ties_keep_input_order() -> None:
    docs = ["xx", "yy", "a", "zz"]  # three texts of length 2 share one score
    response = Reranker(recording_backend()).rerank("q", docs)
    tied = [r.index for r in response.results if r.relevance_score == length_score("q", "xx")]
    assert tied == [0, 1, 3]


@pytest.mark.parametrize("top_n", [1, 3, 6, 100])
def test_top_n_cuts_and_larger_than_input_returns_all(top_n: int) -> None:
    response = Reranker(recording_backend()).rerank("q", DOCS, top_n=top_n)
    assert [r.index for r in response.results] == expected_order(DOCS)[:top_n]


def test_score_threshold_applies_before_top_n() -> None:
    scores = {i: length_score("q", d) for i, d in enumerate(DOCS)}
    threshold = sorted(scores.values())[2]  # keeps the 4 best
    response = Reranker(recording_backend()).rerank("q", DOCS, top_n=3, score_threshold=threshold)
    kept = [i for i in expected_order(DOCS) if scores[i] >= threshold]
    assert [r.index for r in response.results] == kept[:3]
    # A threshold above every score returns nothing rather than the top_n best below it.
    assert Reranker(recording_backend()).rerank("q", DOCS, top_n=3, score_threshold=2.0).results == []


def test_identical_documents_are_scored_once_and_all_listed() -> None:
    backend = recording_backend()
    docs = ["same text", "other", "same text", "same text", "third"]
    response = Reranker(backend).rerank("q", docs)
    assert backend.requests == [["same text", "other", "third"]]
    assert sorted(r.index for r in response.results) == list(range(5))
    same = {r.relevance_score for r in response.results if r.document == "same text"}
    assert len(same) == 1
    assert response.usage == Usage(documents=5, pairs_scored=3, requests=1, tokens=3)


def test_split_over_the_backend_limit_runs_parts_concurrently_and_merges_by_global_index() -> None:
    backend = recording_backend(limit=10, concurrency=4, delay=0.05)
    docs = [f"document number {i} " + "x" * (i % 17) for i in range(45)]
    response = Reranker(backend).rerank("q", docs)
    assert [len(part) for part in backend.requests] == [10, 10, 10, 10, 5]
    assert backend.max_in_flight > 1
    assert [r.index for r in response.results] == expected_order(docs)
    assert all(r.document == docs[r.index] for r in response.results)
    assert response.usage.requests == 5 and response.usage.tokens == 45


async def test_async_split_is_bounded_and_equal_to_sync() -> None:
    backend = recording_backend(limit=7, concurrency=2, delay=0.02)
    docs = [f"doc {i} " + "y" * (i % 11) for i in range(40)]
    async_response = await Reranker(backend).arerank("q", docs, top_n=9)
    assert 1 < backend.max_in_flight <= 2
    assert async_response == Reranker(recording_backend(limit=7)).rerank("q", docs, top_n=9)


async def test_async_split_failure_cancels_the_other_parts() -> None:
    class FailingSecondPart(FakeBackend):
        async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
            if texts[0] == "doc 5":
                raise MalformedResponseError("broken part", provider="recording")
            await asyncio.sleep(10)
            raise AssertionError("a sibling part should have been cancelled")

    backend = FailingSecondPart("recording", max_documents_per_request=5, max_concurrency=4)
    started = time.perf_counter()
    with pytest.raises(MalformedResponseError, match="broken part"):
        await Reranker(backend).arerank("q", [f"doc {i}" for i in range(20)])
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    ("query", "documents", "top_n", "message"),
    [
        ("", ["a"], None, "query is required for rerank"),
        ("   \n", ["a"], None, "query is required for rerank"),
        (None, ["a"], None, "query is required for rerank"),
        ("q", [], None, "documents are required for rerank"),
        ("q", None, None, "documents are required for rerank"),
        ("q", ["a", "  "], None, "document text is required for rerank at index 1"),
        ("q", ["a", "b", None], None, "document text is required for rerank at index 2"),
        ("q", ["a", 3], None, "document text is required for rerank at index 1"),
        ("q", ["a"], 0, "top_n must be at least 1"),
        ("q", ["a"], -2, "top_n must be at least 1"),
        ("q", ["a"], "3", "top_n must be an integer"),
        ("q", "just one string", None, "documents must be a sequence of strings"),
    ],
)
def test_invalid_input_messages(query, documents, top_n, message) -> None:
    backend = recording_backend()
    with pytest.raises(InvalidInputError, match=message) as caught:
        Reranker(backend).rerank(query, documents, top_n=top_n)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, RerankError)
    assert backend.requests == []  # nothing reached the backend


async def test_invalid_input_raises_the_same_in_async() -> None:
    with pytest.raises(InvalidInputError, match="document text is required for rerank at index 0"):
        await Reranker(recording_backend()).arerank("q", [""])


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), "0.5"])
def test_bad_score_threshold(threshold) -> None:
    with pytest.raises(InvalidInputError, match="score_threshold must be"):
        Reranker(recording_backend()).rerank("q", ["a"], score_threshold=threshold)


@pytest.mark.parametrize("bad", [[0.1], [0.1, float("nan")], [0.1, "0.2"]])
def test_backend_returning_wrong_count_or_non_finite_scores_is_malformed(bad) -> None:
    class Broken(FakeBackend):
        def score(self, query: str, texts: Sequence[str]) -> Scores:
            return Scores.model_construct(values=bad, usage=Usage())

    with pytest.raises(MalformedResponseError):
        Reranker(Broken()).rerank("q", ["a", "b"])


def test_spec_parsing_and_unknown_prefix() -> None:
    assert parse_spec("local/BAAI/bge-reranker-base") == ("local", "BAAI/bge-reranker-base")
    assert parse_spec("local//abs/path") == ("local", "/abs/path")
    assert parse_spec("local/./rel/path") == ("local", "./rel/path")
    assert parse_spec("gateway/cohere/rerank-v3.5") == ("gateway", "cohere/rerank-v3.5")
    with pytest.raises(ConfigurationError, match=r"unknown backend 'openai'.*valid backends: .*cohere"):
        Reranker("openai/some-model")
    with pytest.raises(ConfigurationError, match="must look like '<backend>/<model id>'"):
        Reranker("local")
    with pytest.raises(ConfigurationError, match="spec string"):
        Reranker(42)  # type: ignore[arg-type]


def test_options_are_refused_with_a_ready_backend() -> None:
    with pytest.raises(ConfigurationError, match="cannot be applied"):
        Reranker(recording_backend(), device="cpu")


async def test_close_and_context_managers_reach_the_backend() -> None:
    backend = recording_backend()
    with Reranker(backend) as reranker:
        reranker.rerank("q", ["a"])
    assert backend.closed
    backend = recording_backend()
    async with Reranker(backend) as reranker:
        await reranker.arerank("q", ["a"])
    assert backend.closed
