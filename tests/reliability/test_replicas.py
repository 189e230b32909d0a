"""Several endpoints per backend (``base_url=[url, ...]``), over loopback HTTP.

Replicas share the load (fewest in flight, random ties), a dead one is skipped within a few calls
and comes back after its cool-down, a retry moves at once to another replica, the parts of a split
call spread over them, and each has its own key and its own remembered gateway path.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from rerankit import Reranker
from rerankit.testing.servers import RerankServer
from tests.loopback import FAST_RETRIES, assert_correct

QUERY, DOCUMENTS = "what is bm25", ["bm25 is a ranking function", "an apple is a fruit", "vector search"]
#: Breakers that open after 3 failed calls and probe again within 0.1-0.2 s.
QUICK_BREAKER = {
    "breaker_threshold": 3,
    "breaker_failure_span": 0,
    "breaker_cooldown": 0.1,
    "breaker_max_cooldown": 0.2,
}


def replicas(servers: list[RerankServer], **options) -> Reranker:
    return Reranker(
        "gateway/BAAI/bge-reranker-v2-m3",
        base_url=[server.base_url for server in servers],
        api_key="test-key",
        **FAST_RETRIES | QUICK_BREAKER | options,
    )


async def test_two_replicas_one_taken_down_in_the_middle_of_500_calls(figures) -> None:
    a, b = RerankServer("gateway", latency=0.01).start(), RerankServer("gateway", latency=0.01).start()
    try:
        reranker = replicas([a, b], max_retries=3)
        limit = asyncio.Semaphore(8)
        done = 0
        marks: dict[str, tuple[int, int]] = {}
        done_at: dict[str, int] = {}

        async def one(i: int):
            nonlocal done
            async with limit:
                query = f"{QUERY} {i}"
                documents = [f"{i}: {text}" for text in DOCUMENTS]
                response = await reranker.arerank(query, documents)
                assert_correct(response, query, documents)
                done += 1
                return response

        async def operator() -> None:
            while done < 150:
                await asyncio.sleep(0.005)
            await asyncio.to_thread(a.stop)  # in the middle of the calls
            marks["down"] = (len(a.requests), len(b.requests))
            done_at["down"] = done
            while done < 300:
                await asyncio.sleep(0.005)
            marks["up"] = (len(a.requests), len(b.requests))
            done_at["up"] = done
            await asyncio.to_thread(a.start)  # back, on the same port

        results = await asyncio.gather(operator(), *(one(i) for i in range(500)), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        assert not failed, f"{len(failed)} calls failed, first: {failed[0]!r}"
        end = (len(a.requests), len(b.requests))
        before, while_down, after = marks["down"], marks["up"], end
        assert min(before) > 20  # both shared the load
        assert while_down[0] == before[0]  # nothing reached the stopped replica
        # its share moved to the other: every call finished while it was down (but the 8 that may
        # have been in flight when it stopped) was answered there
        assert while_down[1] - before[1] >= done_at["up"] - done_at["down"] - 8
        assert after[0] - while_down[0] > 10  # and came back once it returned
        health = reranker.health()[0]
        assert [e.state for e in health.endpoints] == ["closed", "closed"]
        assert health.endpoints[0].failures >= 3
        await reranker.aclose()
        figures.append(
            f"replicas/500 calls, one stopped after 150 and back after 300: failed=0, requests to it "
            f"{before[0]} before, 0 while down, {after[0] - while_down[0]} after; to the other "
            f"{before[1]}, {while_down[1] - before[1]}, {after[1] - while_down[1]}; "
            f"failures seen on it={health.endpoints[0].failures}"
        )
    finally:
        a.stop()
        b.stop()


async def test_a_slow_replica_gets_less_traffic() -> None:
    with RerankServer("gateway", latency=0.5) as slow, RerankServer("gateway", latency=0.005) as fast:
        reranker = replicas([slow, fast])
        limit = asyncio.Semaphore(16)

        async def one(i: int):
            async with limit:
                return await reranker.arerank(f"{QUERY} {i}", DOCUMENTS)

        responses = await asyncio.gather(*(one(i) for i in range(200)))
        for i, response in enumerate(responses):
            assert_correct(response, f"{QUERY} {i}", DOCUMENTS)
        assert len(slow.requests) + len(fast.requests) == 200
        assert len(slow.requests) * 3 < len(fast.requests), (len(slow.requests), len(fast.requests))
        await reranker.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_parts_of_a_split_call_spread_over_the_replicas(mode) -> None:
    with RerankServer("gateway", latency=0.05) as a, RerankServer("gateway", latency=0.05) as b:
        reranker = replicas([a, b], max_documents_per_request=2, max_concurrency=8)
        documents = [f"document {i} about bm25 and ranking {i}" for i in range(16)]
        response = (
            reranker.rerank(QUERY, documents) if mode == "sync" else await reranker.arerank(QUERY, documents)
        )
        assert_correct(response, QUERY, documents)
        assert response.usage.requests == 8
        assert len(a.requests) + len(b.requests) == 8
        assert min(len(a.requests), len(b.requests)) >= 3  # fewest in flight: about half each
        await reranker.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_retry_goes_at_once_to_the_other_replica(mode, caplog) -> None:
    with RerankServer("gateway", fault_rate=1.0, faults=["503"]) as down, RerankServer("gateway") as up:
        # with a 2 s backoff, a retry that waited would show in the log
        reranker = replicas(
            [down, up], backoff_base=2.0, max_retry_wait=2.0, breaker_cooldown=30, breaker_max_cooldown=30
        )
        with caplog.at_level(logging.WARNING, logger="rerankit"):
            for _ in range(12):
                response = (
                    reranker.rerank(QUERY, DOCUMENTS)
                    if mode == "sync"
                    else await reranker.arerank(QUERY, DOCUMENTS)
                )
                assert_correct(response, QUERY, DOCUMENTS)
        retries = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
        assert retries and all("retrying in 0.00 s on another endpoint" in m for m in retries), retries
        assert len(up.requests) == 12
        assert len(retries) == len(down.requests)
        assert 1 <= len(down.requests) <= 3  # three failed calls open its breaker
        if len(down.requests) == 3:
            assert reranker.health()[0].endpoints[0].state == "open"
        await reranker.aclose()


async def test_an_endpoint_that_refuses_connections_is_skipped() -> None:
    with RerankServer("gateway") as up:
        dead = RerankServer("gateway").start()
        dead_url = dead.base_url
        dead.stop()  # nothing listens there any more
        reranker = Reranker(
            "gateway/m", base_url=[dead_url, up.base_url], api_key="test-key", **FAST_RETRIES | QUICK_BREAKER
        )
        for _ in range(20):
            assert_correct(await reranker.arerank(QUERY, DOCUMENTS), QUERY, DOCUMENTS)
        health = reranker.health()[0]
        assert health.endpoints[0].failures >= 1 and health.endpoints[1].failures == 0
        assert "could not connect" in health.endpoints[0].last_error
        await reranker.aclose()


def test_one_key_per_endpoint_or_one_for_all() -> None:
    with RerankServer("cohere", api_key="key-a") as a, RerankServer("cohere", api_key="key-b") as b:
        reranker = Reranker(
            "cohere/rerank-v3.5",
            base_url=[a.base_url, b.base_url],
            api_key=["key-a", "key-b"],
            **FAST_RETRIES,
        )
        for _ in range(20):
            assert_correct(reranker.rerank(QUERY, DOCUMENTS), QUERY, DOCUMENTS)
        assert a.requests and b.requests
        assert {r.headers["authorization"] for r in a.requests} == {"Bearer key-a"}
        assert {r.headers["authorization"] for r in b.requests} == {"Bearer key-b"}
        shown = (
            repr(reranker)
            + repr(reranker.backend.transport)
            + reranker.backend.transport.settings.model_dump_json()
        )
        assert "key-a" not in shown and "key-b" not in shown
        reranker.close()
    with RerankServer("cohere") as a, RerankServer("cohere") as b:
        shared = Reranker("cohere/rerank-v3.5", base_url=[a.base_url, b.base_url], api_key="test-key")
        for _ in range(10):
            shared.rerank(QUERY, DOCUMENTS)
        assert a.requests and b.requests
        shared.close()


def test_each_endpoint_remembers_its_own_gateway_path() -> None:
    with RerankServer("gateway", paths=["/rerank"]) as old, RerankServer("gateway") as new:
        reranker = replicas([old, new])
        for _ in range(12):
            assert_correct(reranker.rerank(QUERY, DOCUMENTS), QUERY, DOCUMENTS)
        old_paths = [r.path for r in old.requests]
        assert old_paths[:2] == ["/v1/rerank", "/rerank"] and set(old_paths[2:]) == {"/rerank"}
        assert {r.path for r in new.requests} == {"/v1/rerank"}
        assert reranker.health()[0].endpoints[0].state == "closed"  # a 404 is not an outage
        reranker.close()
