"""Fallbacks over loopback HTTP: a provider that stays down, limited, slow or garbled after its
retries hands the call to the next; one that rejects the key or the request does not."""

from __future__ import annotations

import pytest

from rerankit import (
    AuthenticationError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitError,
    Reranker,
    RerankTimeoutError,
    ServerError,
)
from rerankit.testing.servers import RerankServer
from tests.loopback import assert_correct, loopback_reranker

QUERY, DOCUMENTS = "what is bm25", ["bm25 is a ranking function", "an apple is a fruit", "vector search"]

# (fault the primary always answers, requests it gets with max_retries=2, the error it raised)
FALLS_BACK = [
    ("503", 3, ServerError),
    ("429", 3, RateLimitError),
    ("drop", 3, ServerError),
    ("stall", 3, RerankTimeoutError),
    ("html", 3, ServerError),
    ("nan", 1, MalformedResponseError),
    ("dup-index", 1, MalformedResponseError),
    ("malformed-json", 1, MalformedResponseError),
]
STAYS = [
    ("401", AuthenticationError),
    ("403", AuthenticationError),
    ("400", InvalidRequestError),
    ("422", InvalidRequestError),
]


async def call(reranker: Reranker, mode: str):
    if mode == "sync":
        return reranker.rerank(QUERY, DOCUMENTS)
    return await reranker.arerank(QUERY, DOCUMENTS)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("fault", "attempts", "error"), FALLS_BACK, ids=[f for f, _, _ in FALLS_BACK])
async def test_the_fallback_answers_when_the_primary_fails_after_its_retries(
    fault, attempts, error, mode, caplog, serve
) -> None:
    primary, fallback = serve("cohere", fault_rate=1.0, faults=[fault], stall_seconds=1.0), serve("jina")
    reranker = Reranker(
        loopback_reranker("cohere", primary, max_retries=2, timeout=0.2).backend,
        fallbacks=[loopback_reranker("jina", fallback)],
    )
    response = await call(reranker, mode)
    assert (response.backend, response.model) == ("jina", "jina-reranker-v2-base-multilingual")
    assert_correct(response, QUERY, DOCUMENTS)
    assert len(primary.requests) == attempts and len(fallback.requests) == 1
    assert any(
        error.__name__ in r.getMessage() and "falling back to jina" in r.getMessage() for r in caplog.records
    )
    await reranker.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("fault", "error"), STAYS, ids=[f for f, _ in STAYS])
async def test_no_fallback_on_a_rejected_key_or_request(fault, error, mode, serve) -> None:
    primary, fallback = serve("cohere"), serve("jina")
    reranker = Reranker(
        loopback_reranker("cohere", primary, max_retries=2).backend,
        fallbacks=[loopback_reranker("jina", fallback)],
    )
    primary.fail_next(fault)
    with pytest.raises(error) as caught:
        await call(reranker, mode)
    assert caught.value.provider == "cohere" and caught.value.status_code == int(fault)
    assert len(primary.requests) == 1 and fallback.requests == []
    await reranker.aclose()


async def test_a_primary_that_is_not_listening_falls_back() -> None:
    with RerankServer("cohere") as gone:
        unreachable = loopback_reranker("cohere", gone, max_retries=1)
    with RerankServer("deepinfra") as fallback:
        reranker = Reranker(unreachable.backend, fallbacks=[loopback_reranker("deepinfra", fallback)])
        response = await reranker.arerank(QUERY, DOCUMENTS)
        assert response.backend == "deepinfra" and response.model == "Qwen/Qwen3-Reranker-4B"
        assert_correct(response, QUERY, DOCUMENTS)
        await reranker.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_chain_of_four_providers_ends_at_the_first_healthy_one(mode, serve) -> None:
    servers = {
        "cohere": serve("cohere", fault_rate=1.0, faults=["503"]),
        "jina": serve("jina", fault_rate=1.0, faults=["429-retry-after"], retry_after="0"),
        "deepinfra": serve("deepinfra", fault_rate=1.0, faults=["nan"]),
        "gateway": serve("gateway"),
    }
    cohere, jina, deepinfra, gateway = (loopback_reranker(p, s, max_retries=1) for p, s in servers.items())
    reranker = Reranker(cohere.backend, fallbacks=[jina, deepinfra, gateway])
    response = await call(reranker, mode)
    assert (response.backend, response.model) == ("gateway", "cohere/rerank-v3.5")
    assert_correct(response, QUERY, DOCUMENTS)
    assert [len(s.requests) for s in servers.values()] == [2, 2, 1, 1]
    await reranker.aclose()
