"""Load and cancellation over loopback HTTP.

Load: many async reranks, 64 in flight, against a gateway that splits every call into parts and
injects 30% transient faults. No call is lost, duplicated or mixed with another (each call's query
and documents are unique, and every score is checked against its own document), the pool's
connections stay bounded, and traced memory stays flat across the run.

Cancellation: an ``arerank`` cancelled mid-flight leaves no stray task and no connection in use,
and the next call works.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import sys
import time
import tracemalloc
from collections import Counter

import pytest

from rerankit import Reranker
from rerankit.testing.servers import RerankServer
from tests.loopback import (
    PROVIDERS,
    TRANSIENT_FAULTS,
    assert_correct,
    client_connections,
    loopback_reranker,
    random_call,
)

IN_FLIGHT = 64


#: The load mix: every transient fault but stalls (a stall holds one of the pool's connections for
#: a whole timeout, so a few would starve the run; stalls are covered in test_faults.py).
LOAD_FAULTS = tuple(fault for fault in TRANSIENT_FAULTS if fault != "stall")


async def run_load(
    provider: str,
    calls: int,
    *,
    batches: int = 10,
    traced_batches: int = 6,
    split: int = 4,
    max_documents: int = 8,
    fault_rate: float = 0.3,
    seed: int = 0,
) -> dict[str, object]:
    """``calls`` async reranks, ``IN_FLIGHT`` at a time, in ``batches``; checks every answer.

    Each call has 1 to ``max_documents`` documents; the gateway splits them in parts of ``split``.

    Returns the figures: calls, requests, parts, faults by kind, retries logged, peak OS connections
    to the server, and the traced memory after each of the last ``traced_batches`` batches (tracing
    starts once the pool and caches are warm, so it shows what each later batch leaves behind).
    """
    rng = random.Random(seed)
    # Retries are counted here and kept from pytest's log capture, whose stored records would
    # otherwise show up as growing memory.
    retry_log = _RetryCounter()
    rerankit_logger = logging.getLogger("rerankit")
    rerankit_logger.addHandler(retry_log)
    rerankit_logger.propagate = False
    limit = asyncio.Semaphore(IN_FLIGHT)
    faults: Counter = Counter()
    requests = parts = peak_server = 0
    peak = {"os": 0}
    memory: list[int] = []
    server = RerankServer(provider, fault_rate=fault_rate, faults=LOAD_FAULTS, seed=seed, retry_after="0")
    server.latency = lambda request: rng.random() * 0.002
    options = {"max_documents_per_request": split} if provider == "gateway" else {}
    with server:
        # 16 connections for 64 calls in flight: two pools of 8, and a bound the calls must queue for.
        # A patient client; the retry budget and the breaker at their defaults.
        reranker = loopback_reranker(
            provider, server, max_retries=15, timeout=5, max_connections=16, **options
        )

        async def one(call: tuple[str, list[str]]):
            async with limit:
                return await reranker.arerank(*call)

        async def watch_connections() -> None:
            while True:
                peak["os"] = max(peak["os"], client_connections(server.port) or 0)
                await asyncio.sleep(0.05)  # reading /proc/net/tcp takes a few ms

        watcher = asyncio.ensure_future(watch_connections())
        try:
            for batch in range(batches):
                batch_calls = [
                    random_call(rng, f"{provider}-{batch}-{i}", max_documents)
                    for i in range(calls // batches)
                ]
                responses = await asyncio.gather(*map(one, batch_calls), return_exceptions=True)
                lost = [r for r in responses if isinstance(r, BaseException)]
                assert not lost, f"{len(lost)} calls failed, first: {lost[0]!r}"
                for (query, documents), response in zip(batch_calls, responses, strict=True):
                    assert_correct(response, query, documents)
                    parts += response.usage.requests
                faults += Counter(r.fault for r in server.requests if r.fault)
                requests += len(server.requests)
                peak_server = max(peak_server, server.max_in_flight)
                server.reset()  # forget what it recorded, so only what the client keeps is measured
                del responses, batch_calls
                gc.collect()
                if tracemalloc.is_tracing():
                    memory.append(tracemalloc.get_traced_memory()[0])
                elif batch + 1 >= batches - traced_batches:
                    tracemalloc.start()  # tracing slows everything down: only the last batches
        finally:
            tracemalloc.stop()
            watcher.cancel()
            rerankit_logger.removeHandler(retry_log)
            rerankit_logger.propagate = True
        pool_limit = reranker.backend.transport.settings.max_connections
        await reranker.aclose()
        open_after_close = client_connections(server.port)
    return {
        "calls": calls,
        "batches": batches,
        "requests": requests,
        "parts": parts,
        "faults": faults,
        "retries": retry_log.count,
        "pool_limit": pool_limit,
        "peak_os": peak["os"],
        "peak_server_in_flight": peak_server,
        "open_after_close": open_after_close,
        "memory": memory,
    }


class _RetryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "retrying in" in record.getMessage()


def _slope(values: list[int]) -> float:
    """The least-squares slope of ``values`` over their positions 0, 1, 2, ..."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return covariance / sum((x - mean_x) ** 2 for x in range(n))


def check_load(figures: dict, label: str, lines: list[str]) -> None:
    injected = sum(figures["faults"].values())
    # Every request the server saw is either a call's part answered once or a fault retried once.
    assert figures["requests"] == figures["parts"] + injected
    assert figures["retries"] == injected
    assert injected >= 0.2 * figures["requests"]
    # Connections stay within the pool's limit however many calls are in flight, and close with it.
    limit = figures["pool_limit"]
    # (the OS's count of open TCP connections to the server, read from /proc/net/tcp on Linux)
    assert figures["peak_os"] <= limit
    if sys.platform == "linux":
        assert figures["peak_os"] >= 1
    assert figures["peak_server_in_flight"] <= limit
    assert figures["open_after_close"] in (0, None)
    # Flat memory: the traced memory after each batch grows by less than 256 bytes per call (a
    # 400-byte object leaked per call measures about 480; noise, -55 to 80). The growth is the least-squares slope over the
    # snapshots but the first: the first traced batch refills the free lists and caches that
    # objects allocated before tracing started had filled, which reads as growth that is not
    # (comparing halves, with it, measured 30 to 270 bytes per call on one unchanged build).
    memory, per_batch = figures["memory"], figures["calls"] // figures["batches"]
    per_call = _slope(memory[1:]) / per_batch
    assert per_call < 256, f"traced memory grew {per_call:.0f} bytes per call: {memory}"
    lines.append(
        f"{label}: calls={figures['calls']} in_flight={IN_FLIGHT} requests={figures['requests']} "
        f"parts={figures['parts']} faults={injected} retries={figures['retries']} lost=0 duplicated=0 "
        f"mixed=0 pool_limit={limit} peak_os_connections={figures['peak_os']} "
        f"traced_memory_kib={[m // 1024 for m in memory]} memory_growth_per_call={per_call:.0f}B "
        f"mix={dict(sorted(figures['faults'].items()))}"
    )


@pytest.mark.timeout(120)
async def test_1000_async_reranks_64_in_flight_through_30_percent_faults(figures) -> None:
    check_load(await run_load("gateway", 1000), "load/gateway (1-8 documents, parts of 4)", figures)


#: Calls per provider in the soak run (``RERANKIT_SOAK_CALLS`` to change it).
SOAK_CALLS = int(os.environ.get("RERANKIT_SOAK_CALLS", "10000"))


@pytest.mark.soak
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_soak_async_reranks_per_provider(provider, figures) -> None:
    measured = await run_load(
        provider,
        SOAK_CALLS,
        batches=20,
        traced_batches=10,
        split=3,
        max_documents=8,
        seed=PROVIDERS.index(provider) + 1,
    )
    check_load(measured, f"soak/{provider} (1-8 documents, gateway parts of 3)", figures)


# -- cancellation ---------------------------------------------------------------------------------


def other_tasks() -> set[asyncio.Task]:
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}


#: The connections of the rerankers the cancellation tests cancel calls of.
CONNECTIONS = 4


async def assert_clean_after_cancel(reranker: Reranker, server: RerankServer, baseline: set) -> None:
    """No stray task, no connection left in use (all ``CONNECTIONS`` take a call at once, no socket
    beyond them is open), and the next calls work."""
    await asyncio.sleep(0)  # let cancelled tasks finish unwinding
    assert other_tasks() <= baseline, f"stray tasks: {other_tasks() - baseline}"
    # The server sleeps out the cancelled requests' latency (it does not see the client go away).
    deadline = time.monotonic() + 5
    while server.in_flight and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    server.latency = 0.2
    server.reset()
    documents = ["bm25 ranks", "fruit"]
    responses = await asyncio.gather(
        *(reranker.arerank(f"what is bm25 {n}", documents) for n in range(CONNECTIONS))
    )
    assert server.max_in_flight == CONNECTIONS, "a connection was still held by the cancelled call"
    os_connections = client_connections(server.port)
    if os_connections is not None:  # the OS's count, read from /proc/net/tcp on Linux
        assert os_connections <= CONNECTIONS
    server.latency = 0.0
    for n, response in enumerate(responses):
        assert_correct(response, f"what is bm25 {n}", documents)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_cancelled_mid_request_leaves_nothing_behind(provider, serve) -> None:
    server = serve(provider, latency=2.0)
    reranker = loopback_reranker(provider, server, max_connections=CONNECTIONS)
    baseline = other_tasks()
    server.latency = 0.0
    await reranker.arerank("warm", ["the pool has one idle connection"])
    server.latency = 2.0
    started = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(reranker.arerank("q", ["a", "b"]), 0.2)
    assert time.monotonic() - started < 1.5
    await assert_clean_after_cancel(reranker, server, baseline)
    await reranker.aclose()


async def test_cancelled_split_call_cancels_every_part(serve) -> None:
    server = serve("gateway", latency=2.0)
    reranker = loopback_reranker(
        "gateway", server, max_documents_per_request=2, max_concurrency=4, max_connections=CONNECTIONS
    )
    baseline = other_tasks()
    task = asyncio.ensure_future(reranker.arerank("q", [f"doc {i}" for i in range(8)]))
    while len(server.requests) < 4:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_clean_after_cancel(reranker, server, baseline)
    await reranker.aclose()


async def test_cancelled_while_waiting_to_retry_leaves_nothing_behind(serve) -> None:
    server = serve("cohere", retry_after="30")
    reranker = loopback_reranker("cohere", server, max_retry_wait=60, max_connections=CONNECTIONS)
    baseline = other_tasks()
    server.fail_next("429-retry-after")
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(reranker.arerank("q", ["a", "b"]), 0.3)
    assert len(server.requests) == 1  # it was sleeping on Retry-After, not sending
    await assert_clean_after_cancel(reranker, server, baseline)
    await reranker.aclose()


async def test_a_sync_fallback_reranker_is_unaffected_by_async_cancellation(serve) -> None:
    """Cancelling an async call on a reranker with fallbacks leaves the fallback untried and usable."""
    slow, healthy = serve("cohere", latency=2.0), serve("jina")
    reranker = Reranker(
        loopback_reranker("cohere", slow).backend, fallbacks=[loopback_reranker("jina", healthy)]
    )
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(reranker.arerank("q", ["a", "b"]), 0.2)
    assert healthy.requests == []  # cancellation is not a failure to fall back from
    slow.latency = 0.0
    response = await reranker.arerank("q", ["a", "b"])
    assert response.backend == "cohere"
    assert_correct(response, "q", ["a", "b"])
    await reranker.aclose()
