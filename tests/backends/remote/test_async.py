"""The async path: native httpx.AsyncClient end to end, concurrent calls, loops, closing."""

from __future__ import annotations

import asyncio
import gc

import pytest

from rerankit import RateLimitError
from rerankit.testing.servers import RerankServer, expected_score
from tests.loopback import client_connections, make_reranker

QUERY = "what is bm25"
DOCUMENTS = ["bm25 is a ranking function", "a banana is a fruit", "bm25 weighs term frequency"]


def assert_correct(response, documents=DOCUMENTS) -> None:
    assert sorted(r.index for r in response.results) == list(range(len(documents)))
    for result in response.results:
        assert result.relevance_score == expected_score(QUERY, documents[result.index])


async def test_arerank_matches_rerank(server: RerankServer) -> None:
    async with make_reranker(server) as reranker:
        async_response = await reranker.arerank(QUERY, DOCUMENTS, top_n=2)
        sync_response = reranker.rerank(QUERY, DOCUMENTS, top_n=2)
    assert async_response == sync_response
    assert server.requests[0].json == server.requests[1].json


@pytest.mark.parametrize("connections", [4, 12])
async def test_concurrent_calls_share_bounded_pools(shared_servers, connections) -> None:
    server = shared_servers["jina"]
    server.reset()
    server.latency = 0.1
    async with make_reranker(server, max_connections=connections) as reranker:
        documents = [[f"{text} {n}" for text in DOCUMENTS] for n in range(16)]
        responses = await asyncio.gather(*(reranker.arerank(QUERY, docs) for docs in documents))
        open_after_calls = client_connections(server.port)
    open_after_close = client_connections(server.port)
    server.latency = 0.0
    for docs, response in zip(documents, responses, strict=True):
        assert_correct(response, docs)
    # 12 connections are two pools (8 + 4): all are used, and never more than max_connections; they
    # stay open (kept alive) between calls and close with the reranker.
    if open_after_calls is not None:  # the OS's count, read from /proc/net/tcp on Linux
        assert (open_after_calls, open_after_close) == (connections, 0)
    assert server.max_in_flight == connections
    assert len({request.client_port for request in server.requests}) == connections


async def test_async_retries_and_errors(shared_servers) -> None:
    server = shared_servers["deepinfra"]
    server.reset()
    server.fail_next("429", "drop", "503")
    async with make_reranker(server) as reranker:
        assert_correct(await reranker.arerank(QUERY, DOCUMENTS))
        server.fail_next("429", "429")
        with pytest.raises(RateLimitError) as caught:
            await make_reranker(server, max_retries=1).arerank(QUERY, DOCUMENTS)
    assert caught.value.status_code == 429
    assert len(server.requests) == 6


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_one_backend_used_from_two_event_loops(shared_servers) -> None:
    """asyncio.run twice: the second loop gets its own client instead of the first loop's dead one.

    (The first loop's connections cannot be closed once that loop is gone: hence the warnings
    ignored here; close with ``aclose()`` inside the loop to avoid them.)
    """
    server = shared_servers["cohere"]
    server.reset()
    reranker = make_reranker(server)
    for _ in range(2):
        assert_correct(asyncio.run(reranker.arerank(QUERY, DOCUMENTS)))
    asyncio.run(reranker.aclose())
    gc.collect()  # the abandoned first-loop pool is finalized here, under this test's filters
    assert len(server.requests) == 2
    assert len({request.client_port for request in server.requests}) == 2


async def test_aclose_then_reuse(shared_servers) -> None:
    server = shared_servers["gateway"]
    server.reset()
    reranker = make_reranker(server)
    await reranker.arerank(QUERY, DOCUMENTS)
    await reranker.aclose()
    assert_correct(await reranker.arerank(QUERY, DOCUMENTS))
    await reranker.aclose()
    first, second = server.requests
    assert first.client_port != second.client_port
