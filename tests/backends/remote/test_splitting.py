"""Lists above a provider's per-request limit are split, sent concurrently and merged by global index."""

from __future__ import annotations

import pytest

from rerankit.testing.servers import RerankServer, expected_score, expected_search_units
from tests.loopback import make_reranker

QUERY = "which document mentions retrieval"
DOCUMENTS = [f"document {i} about {'retrieval' if i % 7 == 0 else 'cooking'} number {i}" for i in range(2500)]


def assert_merged_by_global_index(response, documents: list[str]) -> None:
    assert sorted(result.index for result in response.results) == list(range(len(documents)))
    for result in response.results:
        assert result.document == documents[result.index]
        assert result.relevance_score == expected_score(QUERY, documents[result.index])
    scores = [result.relevance_score for result in response.results]
    assert scores == sorted(scores, reverse=True)


@pytest.fixture(scope="module")
def slow_cohere() -> RerankServer:
    with RerankServer("cohere", latency=0.15) as server:
        yield server


def test_2500_documents_split_against_cohere_1000_concurrently(slow_cohere: RerankServer) -> None:
    slow_cohere.reset()
    with make_reranker(slow_cohere) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS)
    sizes = sorted(len(request.json["documents"]) for request in slow_cohere.requests)
    assert sizes == [500, 1000, 1000]
    assert slow_cohere.max_in_flight > 1
    assert_merged_by_global_index(response, DOCUMENTS)
    assert response.usage.requests == 3
    assert response.usage.search_units == 2 * expected_search_units(1000) + expected_search_units(500)
    # each part is exactly its slice of the input
    parts = sorted(
        (request.json["documents"] for request in slow_cohere.requests), key=lambda d: DOCUMENTS.index(d[0])
    )
    assert [text for part in parts for text in part] == DOCUMENTS


async def test_2500_documents_split_async(slow_cohere: RerankServer) -> None:
    slow_cohere.reset()
    async with make_reranker(slow_cohere) as reranker:
        response = await reranker.arerank(QUERY, DOCUMENTS, top_n=5)
    assert len(slow_cohere.requests) == 3
    assert slow_cohere.max_in_flight > 1
    best = sorted(range(len(DOCUMENTS)), key=lambda i: expected_score(QUERY, DOCUMENTS[i]), reverse=True)[:5]
    assert [result.index for result in response.results] == best


def test_max_concurrency_bounds_requests_in_flight(slow_cohere: RerankServer) -> None:
    slow_cohere.reset()
    with make_reranker(slow_cohere, max_concurrency=1) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS)
    assert len(slow_cohere.requests) == 3
    assert slow_cohere.max_in_flight == 1
    assert_merged_by_global_index(response, DOCUMENTS)


def test_a_failing_part_is_retried_alone(slow_cohere: RerankServer) -> None:
    slow_cohere.reset()
    slow_cohere.fail_next("503")
    with make_reranker(slow_cohere) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS)
    assert len(slow_cohere.requests) == 4
    assert_merged_by_global_index(response, DOCUMENTS)


def test_a_malformed_part_fails_the_call(slow_cohere: RerankServer) -> None:
    from rerankit import MalformedResponseError

    slow_cohere.reset()
    slow_cohere.fail_next("dup-index")
    with make_reranker(slow_cohere) as reranker, pytest.raises(MalformedResponseError):
        reranker.rerank(QUERY, DOCUMENTS)


@pytest.mark.parametrize(("provider", "limit"), [("deepinfra", 1024), ("jina", 1000), ("gateway", 1000)])
def test_each_provider_declares_its_limit(provider: str, limit: int, shared_servers) -> None:
    server = shared_servers[provider]
    server.reset()
    with make_reranker(server) as reranker:
        assert reranker.backend.max_documents_per_request == limit
        response = reranker.rerank(QUERY, DOCUMENTS[: limit + 10])
    assert sorted(len(request.json["documents"]) for request in server.requests) == [10, limit]
    assert_merged_by_global_index(response, DOCUMENTS[: limit + 10])


def test_gateway_limit_is_configurable(shared_servers) -> None:
    server = shared_servers["gateway"]
    server.reset()
    with make_reranker(server, max_documents_per_request=100) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS[:250])
    assert sorted(len(request.json["documents"]) for request in server.requests) == [50, 100, 100]
    assert_merged_by_global_index(response, DOCUMENTS[:250])
