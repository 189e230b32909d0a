"""TEI: /info read once and split to, the payload limit, the model check, usage headers, its errors."""

from __future__ import annotations

import httpx
import pytest

from rerankit import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    RateLimitError,
    Reranker,
    ServerError,
)
from rerankit.testing.servers import RerankServer, expected_score, expected_tokens
from tests.loopback import make_reranker

QUERY = "which document mentions retrieval"
DOCUMENTS = [f"document {i} about {'retrieval' if i % 3 == 0 else 'cooking'}" for i in range(12)]


def assert_merged(response, documents: list[str]) -> None:
    assert sorted(result.index for result in response.results) == list(range(len(documents)))
    for result in response.results:
        assert result.document == documents[result.index]
        assert result.relevance_score == expected_score(QUERY, documents[result.index])


@pytest.fixture(scope="module")
def tei() -> RerankServer:
    with RerankServer("tei", max_documents_per_request=5) as server:  # --max-client-batch-size 5
        yield server


async def test_info_is_read_once_and_calls_split_to_its_batch_size(tei: RerankServer) -> None:
    tei.reset()
    tei.format.info_requests = 0
    with make_reranker(tei) as reranker:
        assert reranker.backend.max_documents_per_request == 32  # TEI's default, until /info is read
        response = reranker.rerank(QUERY, DOCUMENTS)
        assert reranker.backend.max_documents_per_request == 5
        assert reranker.backend.info["max_input_length"] == 512
        async_response = await reranker.arerank(QUERY, DOCUMENTS)
    assert tei.format.info_requests == 1
    assert sorted(len(request.json["texts"]) for request in tei.requests) == [2, 2, 5, 5, 5, 5]
    assert_merged(response, DOCUMENTS)
    assert async_response == response
    assert response.usage.tokens == expected_tokens(QUERY, DOCUMENTS)  # summed x-compute-tokens
    assert response.usage.requests == 3


async def test_async_first_call_reads_info_without_the_sync_client(tei: RerankServer) -> None:
    tei.reset()
    tei.format.info_requests = 0
    async with make_reranker(tei) as reranker:
        assert_merged(await reranker.arerank(QUERY, DOCUMENTS), DOCUMENTS)
        assert all(e.client is None for e in reranker.backend.transport.endpoints)  # /info went async
    assert tei.format.info_requests == 1


def test_max_client_batch_size_skips_info(tei: RerankServer) -> None:
    tei.reset()
    tei.format.info_requests = 0
    with make_reranker(tei, max_client_batch_size=4) as reranker:
        assert_merged(reranker.rerank(QUERY, DOCUMENTS), DOCUMENTS)
    assert tei.format.info_requests == 0
    assert [len(request.json["texts"]) for request in tei.requests] == [4, 4, 4]


def test_a_batch_over_the_servers_limit_is_its_validation_422(tei: RerankServer) -> None:
    tei.reset()
    with (
        make_reranker(tei, max_client_batch_size=8) as reranker,
        pytest.raises(InvalidRequestError) as caught,
    ):
        reranker.rerank(QUERY, DOCUMENTS)
    assert caught.value.status_code == 422
    assert "batch size 8 > maximum allowed batch size 5" in str(caught.value)


def test_the_payload_limit_splits_by_body_bytes(tei: RerankServer) -> None:
    tei.reset()
    documents = [f"{'retrieval ' * 20}number {i}" for i in range(5)]  # about 220 bytes each
    tei.format.payload_limit = 600  # the server's --payload-limit, as an instance setting
    try:
        with make_reranker(tei, payload_limit=600) as reranker:
            response = reranker.rerank(QUERY, documents)
        for request in tei.requests:
            assert len(httpx.Request("POST", "http://x", json=request.json).content) <= 600
        assert len(tei.requests) == 3
        assert sorted(r.index for r in response.results) == list(range(5))
        # the default 2 MB client limit would have sent one body the server refuses: axum's 413
        tei.reset()
        with make_reranker(tei) as reranker, pytest.raises(InvalidRequestError) as caught:
            reranker.rerank(QUERY, documents)
        assert caught.value.status_code == 413
        assert "length limit exceeded" in str(caught.value)
    finally:
        del tei.format.payload_limit


def test_options_are_sent_as_teis_fields(tei: RerankServer) -> None:
    tei.reset()
    with make_reranker(tei, truncate=False, truncation_direction="Left", raw_scores=True) as reranker:
        reranker.rerank(QUERY, DOCUMENTS[:2])
    assert tei.requests[0].json == {
        "query": QUERY,
        "texts": DOCUMENTS[:2],
        "raw_scores": True,
        "return_text": False,
        "truncate": False,
        "truncation_direction": "Left",
    }


def test_an_input_too_long_without_truncation_is_its_422(tei: RerankServer) -> None:
    tei.reset()
    tei.format.max_input_length = 6
    try:
        with make_reranker(tei, truncate=False) as reranker, pytest.raises(InvalidRequestError) as caught:
            reranker.rerank(QUERY, ["a short one", "this document has far too many words for the limit"])
    finally:
        del tei.format.max_input_length
    assert caught.value.status_code == 422
    assert "`inputs` must have less than 6 tokens" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "error", "retried"),
    [
        ("413", InvalidRequestError, False),  # Validation before TEI 1.9
        ("422", InvalidRequestError, False),  # Validation, Tokenizer
        ("424", InvalidRequestError, False),  # Backend: inference failed, or not a reranker
        ("429", RateLimitError, True),  # Overloaded: --max-concurrent-requests
        ("503", ServerError, True),  # Unhealthy
        ("401", AuthenticationError, False),  # --api-key, an empty body
    ],
)
def test_documented_errors_become_typed_errors(
    tei: RerankServer, fault: str, error: type, retried: bool
) -> None:
    tei.reset()
    tei.fail_next(*[fault] * 3)
    with make_reranker(tei, max_retries=2) as reranker, pytest.raises(error) as caught:
        reranker.rerank(QUERY, DOCUMENTS[:2])
    assert caught.value.status_code == int(fault)
    assert len(tei.requests) == (3 if retried else 1)
    if fault == "429":
        assert "rate limit exceeded" in str(caught.value)  # TEI's {"error", "error_type"} body is read


def test_the_error_bodies_are_teis() -> None:
    with RerankServer("tei") as server:
        auth = {"authorization": "Bearer test-key"}
        empty = httpx.post(server.base_url + "/rerank", json={"query": "q", "texts": []}, headers=auth)
        assert (empty.status_code, empty.json()) == (
            400,
            {"error": "`texts` cannot be empty", "error_type": "Empty"},
        )
        wrong_key = httpx.post(server.base_url + "/rerank", json={"query": "q", "texts": ["a"]})
        assert (wrong_key.status_code, wrong_key.content) == (401, b"")
        not_json = httpx.post(server.base_url + "/rerank", content=b"{}", headers=auth)
        assert not_json.status_code == 415
        info = httpx.get(server.base_url + "/info", headers=auth).json()
        assert info["max_client_batch_size"] == 32 and info["model_type"] == {
            "reranker": {"id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0}}
        }


def test_a_server_serving_another_model_is_refused(tei: RerankServer) -> None:
    tei.reset()
    with (
        Reranker("tei/BAAI/bge-reranker-v2-m3", base_url=tei.base_url, api_key="test-key") as reranker,
        pytest.raises(ConfigurationError) as caught,
    ):
        reranker.rerank(QUERY, DOCUMENTS)
    assert "serves 'BAAI/bge-reranker-base', not 'BAAI/bge-reranker-v2-m3'" in str(caught.value)
    assert tei.requests == []  # nothing was scored by the wrong model


def test_an_embedding_server_is_refused(tei: RerankServer) -> None:
    from rerankit.backends._responses import ProviderReply

    with make_reranker(tei) as reranker:
        info = {
            "max_client_batch_size": 32,
            "model_id": "BAAI/bge-reranker-base",
            "model_type": {"embedding": {}},
        }
        with pytest.raises(ConfigurationError, match=r"serves a model of type 'embedding', not a reranker"):
            reranker.backend._apply_info(ProviderReply("tei", 200, info, None))


def test_address_is_required() -> None:
    with pytest.raises(ConfigurationError, match="RERANKIT_TEI_URL"):
        Reranker("tei/BAAI/bge-reranker-base")


@pytest.mark.parametrize(
    ("option", "value"),
    [("truncate", "yes"), ("truncation_direction", "up"), ("raw_scores", 1), ("payload_limit", 0)],
)
def test_bad_options_are_refused(option: str, value) -> None:
    with pytest.raises(ConfigurationError, match=option):
        Reranker("tei/BAAI/bge-reranker-base", base_url="http://127.0.0.1:9", **{option: value})
