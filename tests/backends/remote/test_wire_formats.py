"""Each backend sends exactly its provider's documented request and reads its documented answer."""

from __future__ import annotations

import pytest

from rerankit import Reranker
from rerankit.testing.servers import RerankServer, expected_score, expected_search_units, expected_tokens
from tests.loopback import PROVIDERS, auth_headers, make_reranker

QUERY = "what is bm25"
DOCUMENTS = [
    "bm25 is a ranking function",
    "a banana is a fruit",
    "what bm25 weighs is term frequency",
    "paris",
]


def expected_body(provider: str, query: str, documents: list[str]) -> dict:
    if provider == "cohere":
        return {"model": "rerank-v3.5", "query": query, "documents": documents}
    if provider == "jina":
        return {
            "model": "jina-reranker-v2-base-multilingual",
            "query": query,
            "documents": documents,
            "return_documents": False,
        }
    if provider == "deepinfra":
        return {"queries": [query], "documents": documents}
    if provider == "tei":  # router/src/http/types.rs RerankRequest
        return {"query": query, "texts": documents, "raw_scores": False, "return_text": False}
    if provider == "voyage":  # docs.voyageai.com/reference/reranker-api
        return {"query": query, "documents": documents, "model": "rerank-2.5"}
    if provider == "zeroentropy":  # docs.zeroentropy.dev/api-reference/models/rerank
        return {"model": "zerank-2", "query": query, "documents": documents}
    if provider == "mixedbread":  # mixedbread.com/api-reference/endpoints/reranking
        return {
            "model": "mixedbread-ai/mxbai-rerank-large-v2",
            "query": query,
            "input": documents,
            "return_input": False,
        }
    if provider == "pinecone":  # pinecone-python-client client/inference.py rerank
        return {
            "model": "bge-reranker-v2-m3",
            "query": query,
            "documents": [{"text": text} for text in documents],
            "return_documents": False,
        }
    if provider == "gateway":
        return {"model": "cohere/rerank-v3.5", "query": query, "documents": documents}
    raise AssertionError(f"no expected body for provider {provider!r}: add the one its documentation shows")


EXPECTED_PATHS = {
    "cohere": "/v2/rerank",
    "jina": "/v1/rerank",
    "deepinfra": "/v1/inference/Qwen/Qwen3-Reranker-4B",
    "gateway": "/v1/rerank",
    "tei": "/rerank",
    "voyage": "/v1/rerank",
    "zeroentropy": "/v1/models/rerank",
    "mixedbread": "/v1/reranking",
    "pinecone": "/rerank",
}


def test_request_has_the_documented_path_body_and_auth_header(server: RerankServer) -> None:
    with make_reranker(server) as reranker:
        reranker.rerank(QUERY, DOCUMENTS)
    [request] = server.requests
    assert request.method == "POST"
    assert request.path == EXPECTED_PATHS[server.provider]
    assert request.json == expected_body(server.provider, QUERY, DOCUMENTS)
    for name, value in auth_headers(server.provider).items():
        assert request.headers[name] == value
    if server.provider == "pinecone":  # the key travels in Api-Key only
        assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("rerankit/")


def test_every_score_lands_on_its_document_best_first(server: RerankServer) -> None:
    with make_reranker(server) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS)
    assert sorted(result.index for result in response.results) == list(range(len(DOCUMENTS)))
    for result in response.results:
        assert result.document == DOCUMENTS[result.index]
        assert result.relevance_score == expected_score(QUERY, DOCUMENTS[result.index])
    scores = [result.relevance_score for result in response.results]
    assert scores == sorted(scores, reverse=True)
    assert response.backend == server.provider


def test_usage_is_read_from_the_provider_answer(server: RerankServer) -> None:
    with make_reranker(server) as reranker:
        usage = reranker.rerank(QUERY, DOCUMENTS).usage
    assert usage.requests == 1
    if server.provider in ("cohere", "pinecone"):  # search units; Pinecone's rerank_units
        assert usage.search_units == expected_search_units(len(DOCUMENTS))
        assert usage.tokens is None
    else:
        assert usage.tokens == expected_tokens(QUERY, DOCUMENTS)


def test_top_n_and_threshold_are_applied_by_the_core_not_sent(server: RerankServer) -> None:
    with make_reranker(server) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS, top_n=2)
    best = sorted(range(len(DOCUMENTS)), key=lambda i: expected_score(QUERY, DOCUMENTS[i]), reverse=True)
    assert [r.index for r in response.results] == best[:2]
    assert "top_n" not in server.requests[0].json


def test_cohere_extras_are_sent(cohere_server: RerankServer) -> None:
    with make_reranker(cohere_server, max_tokens_per_doc=512, priority=3) as reranker:
        reranker.rerank(QUERY, DOCUMENTS[:2])
    body = cohere_server.requests[0].json
    assert body["max_tokens_per_doc"] == 512
    assert body["priority"] == 3


def test_deepinfra_sends_the_instruction(shared_servers: dict[str, RerankServer]) -> None:
    server = shared_servers["deepinfra"]
    server.reset()
    with make_reranker(server, instruction="Given a question, find passages that answer it") as reranker:
        reranker.rerank(QUERY, DOCUMENTS[:2])
    assert server.requests[0].json == {
        "queries": [QUERY],
        "documents": DOCUMENTS[:2],
        "instruction": "Given a question, find passages that answer it",
    }


def test_gateway_passes_its_extras_through(shared_servers: dict[str, RerankServer]) -> None:
    # ``gateway_fallbacks`` is sent as the body's ``fallbacks``; Reranker(..., fallbacks=...) is
    # the client-side fallback between rerankit backends, so the two never collide.
    server = shared_servers["gateway"]
    server.reset()
    fallbacks = ["vllm/BAAI/bge-reranker-v2-m3"]
    with Reranker(
        "gateway/cohere/rerank-v3.5",
        base_url=server.base_url,
        api_key="test-key",
        max_tokens_per_doc=256,
        priority=1,
        gateway_fallbacks=fallbacks,
    ) as reranker:
        reranker.rerank(QUERY, DOCUMENTS[:2])
    assert server.requests[0].json == {
        "model": "cohere/rerank-v3.5",
        "query": QUERY,
        "documents": DOCUMENTS[:2],
        "max_tokens_per_doc": 256,
        "priority": 1,
        "fallbacks": fallbacks,
    }


def test_base_url_prefix_is_kept_before_the_documented_path() -> None:
    with RerankServer("cohere", paths=["/proxy/cohere/v2/rerank"]) as server:
        with make_reranker(server, base_url=server.base_url + "/proxy/cohere/") as reranker:
            response = reranker.rerank(QUERY, DOCUMENTS[:2])
        assert server.requests[0].path == "/proxy/cohere/v2/rerank"
    assert len(response.results) == 2


def test_pooled_connection_is_reused_across_calls(server: RerankServer) -> None:
    with make_reranker(server) as reranker:
        for _ in range(4):
            reranker.rerank(QUERY, DOCUMENTS[:2])
    ports = {request.client_port for request in server.requests}
    assert len(server.requests) == 4
    assert len(ports) == 1


def test_close_then_reuse_opens_a_new_pool(server: RerankServer) -> None:
    reranker = make_reranker(server)
    reranker.rerank(QUERY, DOCUMENTS[:2])
    reranker.close()
    reranker.rerank(QUERY, DOCUMENTS[:2])
    reranker.close()
    first, second = server.requests
    assert first.client_port != second.client_port


#: Providers whose servers ignore unknown body fields (TEI: serde's default, types.rs RerankRequest).
IGNORE_UNKNOWN_FIELDS = frozenset({"tei"})


@pytest.mark.parametrize("provider", [name for name in PROVIDERS if name not in IGNORE_UNKNOWN_FIELDS])
def test_server_rejects_a_wrong_shape(provider: str, shared_servers: dict[str, RerankServer]) -> None:
    """The loopback server is strict, so the shape checks above mean something."""
    import httpx

    server = shared_servers[provider]
    body = {**expected_body(provider, QUERY, ["a"]), "unexpected": True}
    path = EXPECTED_PATHS[provider]
    answer = httpx.post(server.base_url + path, json=body, headers=auth_headers(provider))
    assert answer.status_code in (400, 422)
    assert "unexpected" in answer.text


def test_tei_server_ignores_unknown_fields_but_not_wrong_types(shared_servers) -> None:
    """TEI's serde RerankRequest ignores unknown fields; a wrong type is axum's plain-text 422."""
    import httpx

    server = shared_servers["tei"]
    body = {**expected_body("tei", QUERY, ["a"]), "unexpected": True}
    headers = auth_headers("tei")
    assert httpx.post(server.base_url + "/rerank", json=body, headers=headers).status_code == 200
    answer = httpx.post(server.base_url + "/rerank", json={**body, "texts": "a"}, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text.startswith("Failed to deserialize the JSON body into the target type: texts")
