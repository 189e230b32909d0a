"""Backpressure over HTTP: a full queue answers 429 with Retry-After and retrying clients lose
nothing; a request past its deadline answers 504; concurrent requests share forward passes."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from rerankit import Reranker
from rerankit.serve import BackgroundServer, ServeConfig

FLOOD_CLIENTS = 16
QUEUE = 2


def flood_documents(client: int) -> list[str]:
    return [f"client {client} passage {i} about ranking functions and search" for i in range(20)]


@pytest.fixture(scope="module")
def small_queue_server(bert_spec: str):
    # batch_size=1: a request of 20 documents takes 20 forward passes, long enough for a flood to queue up.
    config = ServeConfig(spec=bert_spec, options={"device": "cpu", "batch_size": 1}, max_queue=QUEUE)
    with BackgroundServer(config) as server:
        yield server


async def test_flood_gets_429_with_retry_after(small_queue_server: BackgroundServer) -> None:
    url = small_queue_server.base_url + "/v1/rerank"
    async with httpx.AsyncClient(timeout=60) as client:
        replies = await asyncio.gather(
            *[
                client.post(url, json={"query": "ranking", "documents": flood_documents(n)})
                for n in range(FLOOD_CLIENTS)
            ]
        )
    statuses = [reply.status_code for reply in replies]
    assert set(statuses) <= {200, 429}
    assert statuses.count(429) > 0, "a flood of 16 into a queue of 2 should be pushed back"
    assert statuses.count(200) >= QUEUE
    refused = next(reply for reply in replies if reply.status_code == 429)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "2 requests are queued" in refused.json()["error"]["message"]


async def test_retrying_clients_lose_nothing(small_queue_server: BackgroundServer, bert_spec: str) -> None:
    """Each client is rerankit's gateway backend, which retries a 429 after its Retry-After."""
    expected = {}
    with Reranker(bert_spec, device="cpu") as reference:
        for n in range(FLOOD_CLIENTS):
            expected[n] = reference.rerank("ranking", flood_documents(n))
    refused_before = _count_429(small_queue_server)
    model = small_queue_server.config.model_name

    async def one_client(n: int):
        async with Reranker(
            f"gateway/{model}", base_url=small_queue_server.base_url, max_retries=30, max_retry_wait=2.0
        ) as client:
            return await client.arerank("ranking", flood_documents(n))

    responses = await asyncio.gather(*[one_client(n) for n in range(FLOOD_CLIENTS)])
    for n, response in enumerate(responses):
        assert [r.index for r in response.results] == [r.index for r in expected[n].results]
        for got, want in zip(response.results, expected[n].results, strict=True):
            assert got.relevance_score == pytest.approx(want.relevance_score, abs=1e-6)
    assert _count_429(small_queue_server) > refused_before, "the clients should have been pushed back"
    assert small_queue_server.service.admission.depth == 0


def _count_429(server: BackgroundServer) -> float:
    value = server.service.metrics.requests.labels("/v1/rerank", "429")._value.get()
    return value


def test_request_past_its_deadline_is_504(bert_spec: str) -> None:
    config = ServeConfig(spec=bert_spec, options={"device": "cpu", "batch_size": 1}, request_timeout=0.02)
    with BackgroundServer(config) as server:
        documents = [f"passage {i} " + "word " * 60 for i in range(300)]
        for path, message_of in (
            ("/v1/rerank", lambda body: body["error"]["message"]),
            ("/v2/rerank", lambda body: body["message"]),
        ):
            reply = httpx.post(
                server.base_url + path, json={"query": "q", "documents": documents}, timeout=60
            )
            assert reply.status_code == 504
            assert (
                message_of(reply.json()) == "the request was not scored within the server's 0.02 s deadline"
            )
        assert server.service.admission.depth == 0


async def test_concurrent_requests_share_forward_passes(bert_spec: str) -> None:
    """The server's arerank calls reach the local backend's ConcurrentBatcher together."""
    config = ServeConfig(spec=bert_spec, options={"device": "cpu", "batch_size": 1})
    with BackgroundServer(config) as server:
        backend = server.service.model.reranker.backend
        calls: list[int] = []
        original = backend.score_requests

        def recording(requests):
            calls.append(len(requests))
            return original(requests)

        backend.score_requests = recording
        url = server.base_url + "/rerank"
        async with httpx.AsyncClient(timeout=60) as client:
            replies = await asyncio.gather(
                *[client.post(url, json={"query": "q", "documents": flood_documents(n)}) for n in range(8)]
            )
        assert all(reply.status_code == 200 for reply in replies)
        assert sum(calls) == 8
        assert max(calls) > 1, f"requests were never merged: {calls}"
