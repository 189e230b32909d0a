"""Fault injection over loopback HTTP, for every remote backend.

Under a 30% mix of transient faults every call succeeds with each score on its own document,
and the client made exactly one retry per fault; permanent faults raise the right typed error
after one request; retries end by the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import pytest

from rerankit import (
    AuthenticationError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitError,
    RerankTimeoutError,
    ServerError,
)
from rerankit.testing.servers import RerankServer
from tests.loopback import (
    PROVIDERS,
    TRANSIENT_FAULTS,
    assert_correct,
    fault_counts,
    loopback_reranker,
    random_call,
)

pytestmark = pytest.mark.timeout(60)


def retries_logged(caplog: pytest.LogCaptureFixture, provider: str) -> int:
    """Retries this provider's calls logged (a record of another test's backend, still retrying in
    a thread of the same process, is not this test's)."""
    return sum(
        "retrying in" in record.getMessage() and getattr(record, "provider", None) == provider
        for record in caplog.records
    )


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_patient_client_gets_through_30_percent_transient_faults(provider, caplog, figures) -> None:
    rng = random.Random(provider)
    calls = [random_call(rng, f"{provider}-{i}") for i in range(60)]
    with RerankServer(provider, fault_rate=0.3, faults=TRANSIENT_FAULTS, seed=7, retry_after="0") as server:
        server.stall_seconds = 2.0
        # A patient client (the retry budget and the breaker at their defaults). The timeout ends a
        # stall early yet leaves a loaded machine's slow answer room (at 0.25 s one counted as one
        # more retry than the faults injected).
        reranker = loopback_reranker(provider, server, max_retries=12, timeout=0.75)
        with caplog.at_level(logging.WARNING, logger="rerankit"):
            for query, documents in calls[:20]:  # one at a time, on the sync client
                assert_correct(reranker.rerank(query, documents), query, documents)
            responses = await asyncio.gather(*(reranker.arerank(q, d) for q, d in calls[20:]))
        for (query, documents), response in zip(calls[20:], responses, strict=True):
            assert_correct(response, query, documents)
            assert response.backend == provider and response.usage.requests == 1
        await reranker.aclose()
        faults = fault_counts(server)
        injected = sum(faults.values())
        # Nothing absorbed, nothing lost: one answered request per call, one retry per fault.
        assert len(server.requests) == len(calls) + injected
        assert retries_logged(caplog, provider) == injected
        assert injected >= 20 and len(faults) >= 8  # the mix really was mixed (the count is seeded)
    figures.append(
        f"faults/{provider}: calls={len(calls)} requests={len(server.requests)} faults={injected} "
        f"retries={injected} lost=0 mix={dict(sorted(faults.items()))}"
    )


# (fault, error, status): a fault no retry can fix, raised after the first request.
PERMANENT = [
    ("401", AuthenticationError, 401),
    ("403", AuthenticationError, 403),
    ("400", InvalidRequestError, 400),
    ("404", InvalidRequestError, 404),
    ("422", InvalidRequestError, 422),
    ("402", InvalidRequestError, 402),
    ("501", ServerError, 501),
    ("redirect", InvalidRequestError, 307),
    ("malformed-json", MalformedResponseError, 200),
    ("html-200", MalformedResponseError, 200),
    ("bad-index", MalformedResponseError, 200),
    ("dup-index", MalformedResponseError, 200),
    ("missing", MalformedResponseError, 200),
    ("nan", MalformedResponseError, 200),
    ("string-score", MalformedResponseError, 200),
]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_permanent_faults_raise_the_typed_error_after_one_request(provider, serve) -> None:
    documents = ["bm25 is a ranking function", "an apple is a fruit", "vector search"]
    server = serve(provider)
    reranker = loopback_reranker(provider, server, max_retries=5)
    for mode in ("sync", "async"):
        for fault, error, status in PERMANENT:
            if provider == "gateway" and fault in ("404", "501"):
                continue  # the gateway's /rerank path fallback answers those: see the next test
            server.reset()
            server.fail_next(fault)
            with pytest.raises(error) as caught:
                if mode == "sync":
                    reranker.rerank("what is bm25", documents)
                else:
                    await reranker.arerank("what is bm25", documents)
            assert len(server.requests) == 1, (fault, mode)
            assert caught.value.provider == provider and caught.value.status_code == status, fault
            if fault != "malformed-json":
                assert caught.value.request_id == server.requests[0].request_id, fault
            assert "gave up" not in str(caught.value)
    await reranker.aclose()


async def test_the_gateway_tries_rerank_once_when_v1_rerank_is_missing() -> None:
    with RerankServer("gateway", paths=["/rerank"]) as server:
        reranker = loopback_reranker("gateway", server, max_retries=5)
        response = await reranker.arerank("what is bm25", ["bm25 ranks", "fruit"])
        assert_correct(response, "what is bm25", ["bm25 ranks", "fruit"])
        assert [r.path for r in server.requests] == ["/v1/rerank", "/rerank"]
        await reranker.aclose()


# (fault, error, status) when every attempt gets the same transient fault.
EXHAUSTED = [
    ("429", RateLimitError, 429),
    ("429-retry-after", RateLimitError, 429),
    ("503", ServerError, 503),
    ("504", ServerError, 504),
    ("html", ServerError, 502),
    ("drop", ServerError, None),
    ("stall", RerankTimeoutError, None),
]


@pytest.mark.parametrize(("fault", "error", "status"), EXHAUSTED, ids=[f for f, _, _ in EXHAUSTED])
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_fault_that_never_clears_raises_after_max_retries(fault, error, status, mode, serve) -> None:
    server = serve("cohere", retry_after="0")
    server.stall_seconds = 1.0
    reranker = loopback_reranker("cohere", server, max_retries=2, timeout=0.2)
    server.fail_next(*[fault] * 3)
    with pytest.raises(error, match="gave up after 3 attempts") as caught:
        if mode == "sync":
            reranker.rerank("q", ["a", "b"])
        else:
            await reranker.arerank("q", ["a", "b"])
    assert caught.value.status_code == status and caught.value.provider == "cohere"
    assert len(server.requests) == 3 and server.pending_faults == []
    assert_correct(await reranker.arerank("q", ["a", "b"]), "q", ["a", "b"])  # and it recovers
    await reranker.aclose()


@pytest.mark.parametrize("fault", ["503", "stall"])
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_retries_end_by_the_deadline(fault, mode, serve) -> None:
    deadline = 0.6
    server = serve("jina", fault_rate=1.0, faults=[fault])
    server.stall_seconds = 5.0
    reranker = loopback_reranker(
        "jina",
        server,
        max_retries=1000,
        deadline=deadline,
        timeout=10,
        backoff_base=0.05,
        max_retry_wait=0.1,
    )
    started = time.monotonic()
    with pytest.raises((RerankTimeoutError, ServerError)) as caught:
        if mode == "sync":
            reranker.rerank("q", ["a", "b"])
        else:
            await reranker.arerank("q", ["a", "b"])
    elapsed = time.monotonic() - started
    assert elapsed < deadline + 0.5, f"{elapsed:.2f} s for a {deadline} s deadline"
    if fault == "stall":
        assert isinstance(caught.value, RerankTimeoutError)
        assert "deadline of 0.6 s" in str(caught.value)
    else:
        assert len(server.requests) >= 3  # it did retry until the deadline
    await reranker.aclose()
