"""The gateway backend: path fallback, optional key, address from the environment."""

from __future__ import annotations

import pytest

from rerankit import ConfigurationError, InvalidRequestError, Reranker, ServerError
from rerankit.testing.servers import RerankServer, expected_score
from tests.loopback import make_reranker

QUERY = "what is bm25"
DOCUMENTS = ["bm25 is a ranking function", "a banana is a fruit"]


@pytest.mark.parametrize("status", [404, 405, 501])
def test_falls_back_to_rerank_and_remembers(status: int) -> None:
    with RerankServer("gateway", paths=["/rerank"], unknown_path_status=status) as server:
        with make_reranker(server) as reranker:
            first = reranker.rerank(QUERY, DOCUMENTS)
            reranker.rerank(QUERY, DOCUMENTS)
        paths = [request.path for request in server.requests]
    assert paths == ["/v1/rerank", "/rerank", "/rerank"]
    assert first.results[0].relevance_score == expected_score(QUERY, DOCUMENTS[first.results[0].index])


async def test_falls_back_async() -> None:
    with RerankServer("gateway", paths=["/rerank"]) as server:
        async with make_reranker(server) as reranker:
            await reranker.arerank(QUERY, DOCUMENTS)
            await reranker.arerank(QUERY, DOCUMENTS)
        assert [request.path for request in server.requests] == ["/v1/rerank", "/rerank", "/rerank"]
        assert server.requests[1].json == server.requests[0].json


def test_v1_path_that_works_is_kept(shared_servers) -> None:
    server = shared_servers["gateway"]
    server.reset()
    with make_reranker(server) as reranker:
        reranker.rerank(QUERY, DOCUMENTS)
        server.fail_next("404")  # once /v1/rerank has worked, a later 404 is an error, not a path change
        with pytest.raises(InvalidRequestError):
            reranker.rerank(QUERY, DOCUMENTS)
    assert [request.path for request in server.requests] == ["/v1/rerank", "/v1/rerank"]


@pytest.mark.parametrize(("fault", "error_type"), [("400", InvalidRequestError), ("500", ServerError)])
def test_no_fallback_on_other_statuses(shared_servers, fault: str, error_type: type) -> None:
    server = shared_servers["gateway"]
    server.reset()
    server.fail_next(fault)
    with make_reranker(server, max_retries=0) as reranker, pytest.raises(error_type):
        reranker.rerank(QUERY, DOCUMENTS)
    assert [request.path for request in server.requests] == ["/v1/rerank"]


def test_neither_path_served_names_both() -> None:
    with RerankServer("gateway", paths=["/v2/rerank"]) as server:
        with make_reranker(server) as reranker, pytest.raises(InvalidRequestError) as caught:
            reranker.rerank(QUERY, DOCUMENTS)
        assert [request.path for request in server.requests] == ["/v1/rerank", "/rerank"]
    assert "serves neither /v1/rerank (HTTP 404) nor /rerank (HTTP 404)" in str(caught.value)


def test_key_is_optional_and_no_header_is_sent_without_one() -> None:
    with RerankServer("gateway", api_key=None) as server:
        with Reranker("gateway/BAAI/bge-reranker-v2-m3", base_url=server.base_url) as reranker:
            reranker.rerank(QUERY, DOCUMENTS)
        [request] = server.requests
    assert "authorization" not in request.headers
    assert request.json["model"] == "BAAI/bge-reranker-v2-m3"


def test_address_and_key_from_the_environment(shared_servers, monkeypatch) -> None:
    server = shared_servers["gateway"]
    server.reset()
    monkeypatch.setenv("RERANKIT_GATEWAY_URL", server.base_url)
    monkeypatch.setenv("RERANKIT_GATEWAY_API_KEY", "test-key")
    with Reranker("gateway/cohere/rerank-v3.5") as reranker:
        reranker.rerank(QUERY, DOCUMENTS)
    assert server.requests[0].headers["authorization"] == "Bearer test-key"


def test_missing_address_names_the_option_and_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker("gateway/cohere/rerank-v3.5")
    assert "base_url" in str(caught.value)
    assert "RERANKIT_GATEWAY_URL" in str(caught.value)


# -- vLLM behind the gateway backend ------------------------------------------------------------------


def test_vllm_extras_are_passed_through_when_set() -> None:
    with RerankServer("vllm", api_key=None) as server:
        with Reranker(
            "gateway/Qwen/Qwen3-Reranker-0.6B",
            base_url=server.base_url,
            truncate_prompt_tokens=-1,
            instruction="Given a web search query, retrieve relevant passages that answer the query",
        ) as reranker:
            response = reranker.rerank(QUERY, DOCUMENTS)
            reranker.backend.truncate_prompt_tokens = reranker.backend.instruction = None
            reranker.rerank(QUERY, DOCUMENTS)
        first, second = server.requests
    assert first.json == {
        "model": "Qwen/Qwen3-Reranker-0.6B",
        "query": QUERY,
        "documents": DOCUMENTS,
        "truncate_prompt_tokens": -1,
        "instruction": "Given a web search query, retrieve relevant passages that answer the query",
    }
    assert second.json == {"model": "Qwen/Qwen3-Reranker-0.6B", "query": QUERY, "documents": DOCUMENTS}
    for result in response.results:  # vLLM echoes every document: the echo is checked against the index
        assert result.relevance_score == expected_score(QUERY, DOCUMENTS[result.index])
    assert response.usage.tokens is not None


def test_vllm_error_body_message_is_quoted() -> None:
    """vLLM answers ``{"error": {"message", "type", "param", "code"}}``; the message is what the user sees."""
    with RerankServer("vllm", api_key=None) as server:
        with Reranker("gateway/BAAI/bge-reranker-v2-m3", base_url=server.base_url) as reranker:
            reranker.backend.truncate_prompt_tokens = -2  # past the option check: vLLM's own 400
            with pytest.raises(InvalidRequestError) as caught:
                reranker.rerank(QUERY, DOCUMENTS)
        body = server.requests[0]
    assert body.json["truncate_prompt_tokens"] == -2
    assert caught.value.status_code == 400
    assert "truncate_prompt_tokens: Input should be greater than or equal to -1" in str(caught.value)


async def test_vllm_serves_v1_rerank_and_answers_async() -> None:
    with RerankServer("vllm", api_key=None) as server:
        async with Reranker("gateway/BAAI/bge-reranker-v2-m3", base_url=server.base_url) as reranker:
            response = await reranker.arerank(QUERY, DOCUMENTS, top_n=1)
        assert [request.path for request in server.requests] == ["/v1/rerank"]
    assert len(response.results) == 1


@pytest.mark.parametrize(
    ("option", "value"),
    [("truncate_prompt_tokens", -2), ("truncate_prompt_tokens", "all"), ("instruction", " ")],
)
def test_bad_vllm_extras_are_refused(option: str, value) -> None:
    with pytest.raises(ConfigurationError, match=option):
        Reranker("gateway/BAAI/bge-reranker-v2-m3", base_url="http://127.0.0.1:9", **{option: value})
