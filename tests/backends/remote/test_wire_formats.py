"""Each backend sends exactly its provider's documented request and reads its documented answer."""

from __future__ import annotations

import pytest

from rerankit import Reranker
from rerankit.testing.servers import (
    FORMATS,
    RerankServer,
    expected_score,
    expected_search_units,
    expected_tokens,
)
from tests.loopback import PROVIDER_SPECS, PROVIDERS, auth_headers, make_reranker

QUERY = "what is bm25"
DOCUMENTS = [
    "bm25 is a ranking function",
    "a banana is a fruit",
    "what bm25 weighs is term frequency",
    "paris",
]


def documented_request(provider: str, query: str, documents: list[str]) -> tuple[str, dict]:
    """The path and body the provider's API reference shows, as its loopback format writes them
    down (a format module is written from the reference, independently of the backend)."""
    return FORMATS[provider].documented_request(query, documents)


def test_every_provider_format_shows_its_documented_request() -> None:
    missing = []
    for provider in PROVIDERS:
        try:
            documented_request(provider, QUERY, DOCUMENTS)
        except NotImplementedError:
            missing.append(FORMATS[provider].__name__)
    assert missing == [], f"these loopback formats show no documented request: {missing}"


def test_request_has_the_documented_path_body_and_auth_header(server: RerankServer) -> None:
    with make_reranker(server) as reranker:
        reranker.rerank(QUERY, DOCUMENTS)
    [request] = server.requests
    assert request.method == "POST"
    path, body = documented_request(server.provider, QUERY, DOCUMENTS)
    assert request.path == path
    assert request.json == body
    for name, value in auth_headers(server.provider).items():
        assert request.headers[name] == value
    if PROVIDER_SPECS[server.provider].auth_header.lower() != "authorization":  # Pinecone's Api-Key
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
    if PROVIDER_SPECS[server.provider].search_units_at:  # billed in search units (Pinecone's rerank_units)
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
    path, body = documented_request(provider, QUERY, ["a"])
    body = {**body, "unexpected": True}
    answer = httpx.post(server.base_url + path, json=body, headers=auth_headers(provider))
    assert answer.status_code in (400, 422)
    assert "unexpected" in answer.text


def test_tei_server_ignores_unknown_fields_but_not_wrong_types(shared_servers) -> None:
    """TEI's serde RerankRequest ignores unknown fields; a wrong type is axum's plain-text 422."""
    import httpx

    server = shared_servers["tei"]
    body = {**documented_request("tei", QUERY, ["a"])[1], "unexpected": True}
    headers = auth_headers("tei")
    assert httpx.post(server.base_url + "/rerank", json=body, headers=headers).status_code == 200
    answer = httpx.post(server.base_url + "/rerank", json={**body, "texts": "a"}, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text.startswith("Failed to deserialize the JSON body into the target type: texts")
