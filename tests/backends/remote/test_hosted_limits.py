"""Voyage, ZeroEntropy, Pinecone and Mixedbread: each documented limit split and merged by global
index (sync and async), the provider's own refusal past it, and their options."""

from __future__ import annotations

import httpx
import pytest

from rerankit import ConfigurationError, InvalidRequestError, Reranker
from rerankit.backends._voyage import estimated_tokens
from rerankit.testing.servers import RerankServer, expected_score, expected_search_units
from tests.loopback import auth_headers, make_reranker

QUERY = "which document mentions retrieval"


def documents(count: int, words: int = 1) -> list[str]:
    return [
        f"document {i} about {'retrieval' if i % 7 == 0 else 'cooking'}" + " filler" * words
        for i in range(count)
    ]


def assert_merged(response, texts: list[str]) -> None:
    assert sorted(result.index for result in response.results) == list(range(len(texts)))
    for result in response.results:
        assert result.document == texts[result.index]
        assert result.relevance_score == expected_score(QUERY, texts[result.index])
    scores = [result.relevance_score for result in response.results]
    assert scores == sorted(scores, reverse=True)


def sent_parts(server: RerankServer, field: str) -> list[list[str]]:
    """The texts of each request, in input order of their first text."""
    parts = [request.json[field] for request in server.requests]
    if parts and isinstance(parts[0][0], dict):
        parts = [[item["text"] for item in part] for part in parts]
    return parts


def fresh(shared_servers, provider: str) -> RerankServer:
    server = shared_servers[provider]
    server.latency = 0.0
    server.reset()
    return server


# -- Voyage: 1,000 documents, and the model's total tokens --------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_voyage_splits_on_1000_documents(shared_servers, mode: str) -> None:
    server = fresh(shared_servers, "voyage")
    texts = documents(1500)
    async with make_reranker(server) as reranker:
        response = reranker.rerank(QUERY, texts) if mode == "sync" else await reranker.arerank(QUERY, texts)
    assert sorted(len(part) for part in sent_parts(server, "documents")) == [500, 1000]
    assert_merged(response, texts)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_voyage_splits_on_the_models_total_tokens(shared_servers, mode: str) -> None:
    server = fresh(shared_servers, "voyage")
    texts = documents(900, words=120)  # about 900 estimated tokens each: 900 documents are ~820K > 600K
    async with make_reranker(server) as reranker:
        response = reranker.rerank(QUERY, texts) if mode == "sync" else await reranker.arerank(QUERY, texts)
    parts = sent_parts(server, "documents")
    assert len(parts) == 2
    for part in parts:  # each request within the documented limit, as the estimate counts it
        assert sum(estimated_tokens(QUERY) + estimated_tokens(text) for text in part) <= 600_000
    assert [text for part in sorted(parts, key=lambda p: texts.index(p[0])) for text in part] == texts
    assert_merged(response, texts)


def test_voyage_estimate_never_undercounts_a_byte_level_tokenizer() -> None:
    # A byte-level BPE token is at least one byte, so no tokenizer of that kind can exceed the bytes.
    for text in ["plain ascii", "naïve café", "日本語のテキスト", "emoji 🙂🙂", ""]:
        assert estimated_tokens(text) >= len(text.encode("utf-8"))


def test_voyage_refuses_a_batch_over_its_total_tokens(shared_servers) -> None:
    server = fresh(shared_servers, "voyage")
    body = {"query": "q " * 300, "documents": ["d"] * 1000, "model": "rerank-1"}  # 301K tokens > 300K
    answer = httpx.post(server.base_url + "/v1/rerank", json=body, headers=auth_headers("voyage"))
    assert answer.status_code == 400
    assert "max allowed tokens per submitted batch is 300000" in answer.json()["detail"]


def test_voyage_error_detail_is_quoted(shared_servers) -> None:
    server = fresh(shared_servers, "voyage")
    with make_reranker(server, max_total_tokens=10**9) as reranker:
        reranker.backend.model = "rerank-9"  # a model the server does not know: its 400
        with pytest.raises(InvalidRequestError) as caught:
            reranker.rerank(QUERY, ["a", "b"])
    assert caught.value.status_code == 400 and "Model rerank-9 is not supported." in str(caught.value)


def test_voyage_options(shared_servers) -> None:
    server = fresh(shared_servers, "voyage")
    with make_reranker(server, truncation=False) as reranker:
        reranker.rerank(QUERY, ["a", "b"])
    assert server.requests[0].json == {
        "query": QUERY,
        "documents": ["a", "b"],
        "model": "rerank-2.5",
        "truncation": False,
    }
    with pytest.raises(ConfigurationError, match="max_total_tokens"):
        Reranker("voyage/rerank-9", api_key="k")
    assert Reranker("voyage/rerank-9", api_key="k", max_total_tokens=1000).backend.max_total_tokens == 1000
    assert Reranker("voyage/rerank-lite-1", api_key="k").backend.max_total_tokens == 300_000


# -- ZeroEntropy: 5,000,000 payload bytes ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_zeroentropy_splits_by_its_payload_bytes(shared_servers, mode: str) -> None:
    server = fresh(shared_servers, "zeroentropy")
    texts = [f"document {i} about retrieval " + "x" * 100_000 for i in range(60)]  # about 6 MB
    async with make_reranker(server) as reranker:
        response = reranker.rerank(QUERY, texts) if mode == "sync" else await reranker.arerank(QUERY, texts)
    parts = sent_parts(server, "documents")
    assert len(parts) == 2
    for request in server.requests:
        assert request.json and request.fault is None
    for part in parts:  # the reference's formula: sum(150 + query bytes + document bytes)
        assert sum(150 + len(QUERY.encode()) + len(text.encode()) for text in part) <= 5_000_000
    assert_merged(response, texts)


def test_zeroentropy_refuses_a_payload_over_5mb(shared_servers) -> None:
    server = fresh(shared_servers, "zeroentropy")
    body = {"model": "zerank-2", "query": "q", "documents": ["x" * 1_000_000] * 5}
    answer = httpx.post(server.base_url + "/v1/models/rerank", json=body, headers=auth_headers("zeroentropy"))
    assert answer.status_code == 413
    assert "exceeds the maximum of 5000000 bytes" in answer.json()["detail"]


def test_zeroentropy_a_document_too_large_alone_is_the_providers_error(shared_servers) -> None:
    server = fresh(shared_servers, "zeroentropy")
    with make_reranker(server) as reranker, pytest.raises(InvalidRequestError) as caught:
        reranker.rerank(QUERY, ["small", "x" * 5_000_000])
    assert caught.value.status_code == 413  # sent alone; ZeroEntropy decides
    assert [len(part) for part in sent_parts(server, "documents")] == [1, 1]


def test_zeroentropy_latency_and_usage(shared_servers) -> None:
    server = fresh(shared_servers, "zeroentropy")
    with make_reranker(server, latency="slow") as reranker:
        usage = reranker.rerank(QUERY, ["a b", "c"]).usage
    assert server.requests[0].json["latency"] == "slow"
    assert usage.tokens == 2 * len(QUERY.split()) + 3
    with pytest.raises(ConfigurationError, match="latency"):
        Reranker("zeroentropy/zerank-2", api_key="k", latency="instant")


def test_zeroentropy_byte_rate_limit_is_slow_mode_or_a_429(shared_servers) -> None:
    """Past the fast-mode bytes per minute a call is served slow, or answered 429 when it asked for fast."""
    from rerankit import RateLimitError

    server = fresh(shared_servers, "zeroentropy")
    server.format.fast_bytes_per_minute = 1000
    try:
        with make_reranker(server) as reranker:
            reranker.rerank(QUERY, ["x" * 500])  # about 690 bytes: within the budget
            reranker.rerank(QUERY, ["y" * 500])  # over it: served in slow mode
        with (
            make_reranker(server, latency="fast", max_retries=1) as reranker,
            pytest.raises(RateLimitError) as caught,
        ):
            reranker.rerank(QUERY, ["z" * 500])
    finally:
        server.format.fast_bytes_per_minute = None
    assert caught.value.status_code == 429 and "bytes per minute" in str(caught.value)
    assert [request.json.get("latency") for request in server.requests] == [None, None, "fast", "fast"]


# -- Pinecone: per-model document limits, the version header -------------------------------------------


@pytest.mark.parametrize(
    ("model", "sizes"), [("bge-reranker-v2-m3", [50, 100, 100]), ("cohere-rerank-3.5", [50, 200])]
)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_pinecone_splits_to_each_models_limit(shared_servers, model: str, sizes, mode: str) -> None:
    server = fresh(shared_servers, "pinecone")
    server.max_documents_per_request = 1000  # let each model's own limit apply
    texts = documents(250)
    try:
        async with Reranker(f"pinecone/{model}", base_url=server.base_url, api_key="test-key") as reranker:
            response = (
                reranker.rerank(QUERY, texts) if mode == "sync" else await reranker.arerank(QUERY, texts)
            )
    finally:
        server.max_documents_per_request = 100
    assert sorted(len(part) for part in sent_parts(server, "documents")) == sizes
    assert_merged(response, texts)
    assert response.usage.search_units == sum(expected_search_units(size) for size in sizes)  # rerank_units


def test_pinecone_refuses_more_than_a_models_limit(shared_servers) -> None:
    server = fresh(shared_servers, "pinecone")
    server.max_documents_per_request = 1000
    try:
        with (
            make_reranker(server, max_documents_per_request=150) as reranker,
            pytest.raises(InvalidRequestError) as caught,
        ):
            reranker.rerank(QUERY, documents(150))
    finally:
        server.max_documents_per_request = 100
    assert caught.value.status_code == 400
    assert "exceeds the maximum of 100 for bge-reranker-v2-m3" in str(caught.value)


def test_pinecone_errors_are_its_error_objects(shared_servers) -> None:
    server = fresh(shared_servers, "pinecone")
    body = {"model": "bge-reranker-v2-m3", "query": "q", "documents": [{"text": "a"}]}
    answer = httpx.post(server.base_url + "/rerank", json=body, headers={"api-key": "test-key"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "INVALID_ARGUMENT"  # no version
    body["model"] = "no-such-model"
    answer = httpx.post(server.base_url + "/rerank", json=body, headers=auth_headers("pinecone"))
    assert answer.status_code == 404 and answer.json() == {
        "error": {"code": "NOT_FOUND", "message": "Model 'no-such-model' not found"},
        "status": 404,
    }


def test_pinecone_options(shared_servers) -> None:
    server = fresh(shared_servers, "pinecone")
    with make_reranker(server, parameters={"truncate": "END"}, api_version="2025-04") as reranker:
        reranker.rerank(QUERY, ["a"])
    [request] = server.requests
    assert request.json["parameters"] == {"truncate": "END"}
    assert request.headers["x-pinecone-api-version"] == "2025-04"
    with pytest.raises(ConfigurationError, match="max_documents_per_request"):
        Reranker("pinecone/some-new-model", api_key="k")
    assert (
        Reranker(
            "pinecone/some-new-model", api_key="k", max_documents_per_request=7
        ).backend.max_documents_per_request
        == 7
    )
    with pytest.raises(ConfigurationError, match="api_version"):
        Reranker("pinecone/bge-reranker-v2-m3", api_key="k", api_version=" ")


# -- Mixedbread: 1,000 inputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_mixedbread_splits_on_1000_inputs(shared_servers, mode: str) -> None:
    server = fresh(shared_servers, "mixedbread")
    texts = documents(1200)
    async with make_reranker(server) as reranker:
        response = reranker.rerank(QUERY, texts) if mode == "sync" else await reranker.arerank(QUERY, texts)
    assert sorted(len(part) for part in sent_parts(server, "input")) == [200, 1000]
    assert_merged(response, texts)


def test_mixedbread_refuses_more_than_1000_inputs(shared_servers) -> None:
    server = fresh(shared_servers, "mixedbread")
    body = {"model": "mixedbread-ai/mxbai-rerank-large-v2", "query": "q", "input": ["a"] * 1001}
    answer = httpx.post(server.base_url + "/v1/reranking", json=body, headers=auth_headers("mixedbread"))
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "input"]
