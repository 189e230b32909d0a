"""Work-based, deadline-aware admission: on a fake clock, then over HTTP.

What cannot be answered before its deadline is refused at once (429 with the estimated wait as
Retry-After); admitted requests wait their turn in order; a request answered 504, or whose client
hung up, leaves the queue and is never scored.
"""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from rerankit.serve import BackgroundServer, ServeConfig
from rerankit.serve._admission import Admission, DeadlineExceeded, Overloaded, within_deadline
from rerankit.serve._throughput import ThroughputMeter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_throughput_counts_busy_time_only() -> None:
    clock = FakeClock()
    meter = ThroughputMeter(clock=clock)
    assert meter.rate is None
    meter.started()
    meter.started()  # two requests in service at once: one busy period
    clock.now += 2.0
    meter.scored(60)
    meter.finished()
    meter.scored(40)
    meter.finished()
    clock.now += 100.0  # idle
    assert meter.rate == pytest.approx(50.0)
    meter.started()
    clock.now += 1.0
    meter.scored(20)
    meter.finished()
    assert meter.rate == pytest.approx(120 / 3)


async def test_admission_refuses_at_once_what_cannot_be_answered_in_time() -> None:
    clock = FakeClock()
    admission = Admission(max_queue=100, deadline=10.0, clock=clock)
    release = asyncio.Event()

    async def model():
        await release.wait()
        return "scored"

    # measure: 100 pairs in 1 s of busy time
    first = asyncio.ensure_future(admission.run(100, model))
    await asyncio.sleep(0)
    clock.now += 1.0
    release.set()
    assert await first == "scored"
    assert admission.throughput.rate == pytest.approx(100.0)
    release.clear()
    # 400 pairs in service or waiting: 4 s of work, under half the 10 s deadline
    running = [asyncio.ensure_future(admission.run(200, model)) for _ in range(2)]
    await asyncio.sleep(0)
    assert admission.queued_pairs == 400 and admission.depth == 2
    with pytest.raises(Overloaded) as refused:  # 400 + 200 pairs: 6 s > 5 s
        await admission.run(200, model)
    assert refused.value.retry_after == 1  # 1 s over: the estimated wait beyond the budget
    assert "600 pairs are queued" not in refused.value.message  # the refused one is not counted
    assert "400 pairs are queued, about 6.0 s of work" in refused.value.message
    assert admission.depth == 2 and admission.refused == 1
    small = asyncio.ensure_future(admission.run(50, model))  # 4.5 s: fits
    await asyncio.sleep(0)
    assert admission.depth == 3
    release.set()
    await asyncio.gather(*running, small)
    assert admission.depth == 0 and admission.queued_pairs == 0


async def test_a_request_cancelled_while_waiting_is_never_scored() -> None:
    admission = Admission(max_queue=10, deadline=30.0)
    started: list[str] = []
    release = asyncio.Event()

    def model(name: str):
        async def work():
            started.append(name)
            await release.wait()

        return work

    first = asyncio.ensure_future(admission.run(10, model("first")))
    await asyncio.sleep(0)
    waiting = asyncio.ensure_future(admission.run(10, model("waiting")))  # no throughput yet: one at a time
    await asyncio.sleep(0)
    assert started == ["first"] and admission.depth == 2
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert admission.depth == 1 and admission.queued_pairs == 10
    release.set()
    await first
    await asyncio.sleep(0)
    assert started == ["first"]  # the cancelled one never reached the model
    assert admission.depth == 0


async def test_a_full_queue_by_count_still_refuses_with_the_configured_retry_after() -> None:
    admission = Admission(max_queue=1, deadline=30.0, retry_after=3)
    release = asyncio.Event()
    held = asyncio.ensure_future(admission.run(1, release.wait))
    await asyncio.sleep(0)
    with pytest.raises(Overloaded) as refused:
        await admission.run(1, release.wait)
    assert refused.value.retry_after == 3 and "1 requests are queued" in refused.value.message
    release.set()
    await held


async def test_when_throughput_falls_waiting_requests_that_cannot_make_it_are_shed() -> None:
    clock = FakeClock()
    admission = Admission(max_queue=100, deadline=10.0, clock=clock)
    release = asyncio.Event()

    async def model():
        await release.wait()

    # nothing measured yet: everything is admitted, one request at a time in service
    tasks = [asyncio.ensure_future(admission.run(100, model)) for _ in range(5)]
    await asyncio.sleep(0)
    assert admission.depth == 5
    clock.now += 4.0  # the first took 4 s: 25 pairs/s; the others' 400 pairs need 16 s
    release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    shed = [o for o in outcomes if isinstance(o, Overloaded)]
    assert outcomes[0] is None and outcomes[1] is None  # 100 pairs, 4 s: before its deadline
    # the next fits (done at 108 s, deadline 110 s); the three behind it would end at 112 s: shed
    assert len(shed) == 3 and admission.shed == 3
    assert all(o.retry_after >= 1 for o in shed)
    assert admission.depth == 0


async def test_within_deadline_raises_its_own_error() -> None:
    with pytest.raises(DeadlineExceeded):
        await within_deadline(asyncio.sleep(1), 0.01)


# -- over HTTP ---------------------------------------------------------------------------------


#: Seconds each pair takes on the slow server (on top of the tiny model's own time).
PAIR_SECONDS = 0.004


@pytest.fixture
def slow_server(bert_spec: str):
    """A server whose model takes at least 4 ms a pair (under 250 pairs/s), recording the queries
    it scores."""
    config = ServeConfig(spec=bert_spec, options={"device": "cpu", "batch_size": 1}, request_timeout=4.0)
    with BackgroundServer(config) as server:
        backend = server.service.model.reranker.backend
        backend.score_requests([("warm up", ["torch's first forward pass is slow"])])
        scored: list[str] = []
        original = backend.score_requests

        def recording(requests):
            for query, texts in requests:
                scored.append(query)
                time.sleep(PAIR_SECONDS * len(texts))
            return original(requests)

        backend.score_requests = recording
        server.scored = scored  # type: ignore[attr-defined]
        yield server


async def until(condition, seconds: float = 15.0) -> None:
    """Wait for ``condition()`` to hold (a test failure after ``seconds``)."""
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, "the server never got there"
        await asyncio.sleep(0.005)


def body(tag: str, documents: int) -> dict:
    return {
        "query": tag,
        "documents": [f"{tag} passage {i} about ranking and search" for i in range(documents)],
    }


async def test_overload_is_refused_early_with_the_estimated_wait(slow_server: BackgroundServer) -> None:
    url = slow_server.base_url + "/v1/rerank"
    async with httpx.AsyncClient(timeout=30) as client:
        warm = await client.post(url, json=body("warm", 8))  # the throughput is measured
        assert warm.status_code == 200
        rate = slow_server.service.admission.throughput.rate
        assert rate and rate > 0
        # far more work than a 4 s deadline allows, all at once
        flood = int(rate * 4.0 * 2)
        sent = time.perf_counter()
        replies = await asyncio.gather(
            *(client.post(url, json=body(f"f{n}", 10)) for n in range(flood // 10 + 4))
        )
    statuses = [r.status_code for r in replies]
    assert set(statuses) <= {200, 429}, statuses  # refused at once, not 504 after the deadline
    refused = [r for r in replies if r.status_code == 429]
    assert refused, statuses
    assert statuses.count(200) >= 1
    first = refused[0]
    assert int(first.headers["retry-after"]) >= 1
    assert first.json()["error"]["type"] == "rate_limit_error"
    assert "pairs are queued" in first.json()["error"]["message"]
    assert time.perf_counter() - sent < 30
    assert slow_server.service.admission.depth == 0


async def test_a_request_past_its_deadline_leaves_the_queue_unscored(slow_server: BackgroundServer) -> None:
    url = slow_server.base_url + "/v1/rerank"
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.post(url, json=body("warm", 2))).status_code == 200
        # the throughput is measured on 2 pairs; a big request first, then a small one behind it
        big = asyncio.ensure_future(client.post(url, json=body("big", 1000)))  # over 4 s of work
        await until(lambda: slow_server.service.admission.in_service > 0)
        behind = await client.post(url, json=body("behind", 3))
        big_reply = await big
    assert big_reply.status_code == 504
    assert behind.status_code in (429, 504)  # refused, or timed out while waiting its turn
    await asyncio.sleep(0.3)
    assert "behind" not in slow_server.scored  # never reached the model
    assert slow_server.service.admission.depth == 0


async def test_a_client_that_hangs_up_leaves_the_queue_unscored(slow_server: BackgroundServer) -> None:
    url = slow_server.base_url + "/v1/rerank"
    async with httpx.AsyncClient(timeout=30) as client:
        assert (await client.post(url, json=body("warm", 2))).status_code == 200
        busy = asyncio.ensure_future(client.post(url, json=body("busy", 100)))
        await until(lambda: slow_server.service.admission.in_service > 0)
        # a raw connection: send the request, then close before the answer
        host, port = slow_server.base_url.removeprefix("http://").split(":")
        payload = httpx.Request("POST", url, json=body("gone", 3))
        raw = socket.create_connection((host, int(port)))
        head = f"POST /v1/rerank HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        content = payload.read()
        raw.sendall(f"{head}content-length: {len(content)}\r\n\r\n".encode() + content)
        await until(lambda: slow_server.service.admission.depth == 2)
        raw.close()
        await until(lambda: slow_server.service.admission.depth == 1)  # it left at once
        assert (await busy).status_code == 200
    await asyncio.sleep(0.2)
    assert "gone" not in slow_server.scored
    assert slow_server.service.admission.depth == 0
    assert slow_server.service.metrics.requests.labels("/v1/rerank", "499")._value.get() == 1
