"""Over loopback HTTP, each provider's response carries the kind its backend module declares, and
``normalize`` and ``score_threshold`` act on the provider's own 0-1 score."""

from __future__ import annotations

from rerankit.testing.servers import RerankServer, expected_score
from tests.loopback import SPECS, make_reranker

QUERY = "what is bm25"
DOCS = ["bm25 ranks documents", "a fruit", "bm25 is a ranking function for search", "paris"]


def test_each_provider_answers_with_its_declared_kind(server: RerankServer) -> None:
    reranker = make_reranker(server)
    declared = reranker.backend.score_scale
    response = reranker.rerank(QUERY, DOCS)
    assert (response.score_kind, response.score_range) == (declared.kind, declared.range)
    assert all(declared.range[0] <= r.relevance_score <= declared.range[1] for r in response.results)


def test_normalize_keeps_a_providers_0_1_score_and_the_threshold_applies_to_it(server: RerankServer) -> None:
    threshold = sorted(expected_score(QUERY, doc) for doc in DOCS)[2]
    response = make_reranker(server, normalize=True).rerank(QUERY, DOCS, score_threshold=threshold)
    assert [r.relevance_score for r in response.results] == sorted(
        (expected_score(QUERY, doc) for doc in DOCS if expected_score(QUERY, doc) >= threshold), reverse=True
    )
    assert SPECS[server.provider].startswith(response.backend)
