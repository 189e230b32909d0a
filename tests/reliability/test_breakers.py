"""Circuit breakers and the retry budget (the retry quota).

The state machine (opening, cool-down, half-open probe, closing) runs on a fake clock; outages,
recovery and the retry budget run over loopback HTTP against servers that answer 503 to everything.
Brownouts (a share of transient faults, every option at its default) are in test_brownouts.py.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from rerankit import (
    AuthenticationError,
    CircuitOpenError,
    ConfigurationError,
    InvalidRequestError,
    Reranker,
    ServerError,
)
from rerankit._errors import MalformedResponseError, RateLimitError, RerankTimeoutError
from rerankit.backends._endpoints import (
    BreakerState,
    CallEndpoints,
    CircuitBreaker,
    EndpointRouter,
    RetryQuota,
)
from rerankit.backends._settings import TransportSettings
from tests.loopback import assert_correct, loopback_reranker

QUERY, DOCUMENTS = "what is bm25", ["bm25 is a ranking function", "an apple is a fruit", "vector search"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settings(**options) -> TransportSettings:
    """Breaker options by their public names (as a user gives them), on a loopback address."""
    chosen = {"breaker_threshold": 3, "breaker_failure_span": 0.0, "breaker_cooldown": 5.0} | options
    return TransportSettings(provider="test", base_url="http://127.0.0.1:9", **chosen)


def breaker(clock: FakeClock, rng=lambda: 0.0, **options) -> CircuitBreaker:
    return CircuitBreaker("test", settings(**options), clock=clock, rng=rng)


DOWN = ServerError("test answered HTTP 503: service unavailable", provider="test", status_code=503)


# -- the state machine, on a fake clock ------------------------------------------------------


def test_it_opens_after_threshold_consecutive_failures_and_a_success_resets_the_count() -> None:
    clock = FakeClock()
    b = breaker(clock)
    b.failed(DOWN)
    b.failed(DOWN)
    b.succeeded()  # a success between failures: they are no longer consecutive
    b.failed(DOWN)
    b.failed(DOWN)
    assert b.state is BreakerState.CLOSED and b.acquire() == "normal"
    b.failed(DOWN)
    assert b.state is BreakerState.OPEN and b.acquire() is None and not b.available()
    assert b.retry_in() == pytest.approx(5.0)
    assert b.last_error is DOWN


def test_while_open_nothing_passes_until_the_cooldown_then_exactly_one_probe() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(3):
        b.failed(DOWN)
    clock.advance(4.99)
    assert b.acquire() is None
    clock.advance(0.01)
    assert b.available()
    assert b.acquire() == "probe"
    assert b.state is BreakerState.HALF_OPEN
    assert [b.acquire() for _ in range(5)] == [None] * 5  # one probe at a time
    assert not b.available()
    b.succeeded(probe=True)
    assert b.state is BreakerState.CLOSED and b.acquire() == "normal"
    assert b.consecutive_failures == 0


def test_a_failed_probe_reopens_with_a_doubled_cooldown_capped() -> None:
    clock = FakeClock()
    b = breaker(clock, breaker_cooldown=5.0, breaker_max_cooldown=30.0)
    for _ in range(3):
        b.failed(DOWN)
    cooldowns = []
    for _ in range(5):
        cooldowns.append(b.retry_in())
        clock.advance(b.retry_in())
        assert b.acquire() == "probe"
        b.failed(DOWN, probe=True)
        assert b.state is BreakerState.OPEN
    assert cooldowns == pytest.approx([5.0, 10.0, 20.0, 30.0, 30.0])
    clock.advance(30.0)
    assert b.acquire() == "probe"
    b.succeeded(probe=True)  # closing resets the growth
    for _ in range(3):
        b.failed(DOWN)
    assert b.retry_in() == pytest.approx(5.0)


def test_failures_all_at_one_moment_do_not_open_it_until_the_run_lasts() -> None:
    clock = FakeClock()
    b = breaker(clock, breaker_threshold=3, breaker_failure_span=1.0)
    for _ in range(10):  # ten requests in flight fail together: one moment, not yet an outage
        b.failed(DOWN)
    assert b.state is BreakerState.CLOSED
    clock.advance(0.5)
    b.failed(DOWN)
    assert b.state is BreakerState.CLOSED
    clock.advance(0.5)  # still failing a second after the first failure: open
    b.failed(DOWN)
    assert b.state is BreakerState.OPEN
    clock.advance(b.retry_in())
    assert b.acquire() == "probe"
    b.succeeded(probe=True)
    for _ in range(10):
        b.failed(DOWN)
    b.succeeded()  # a success ends the run: the next failures start a new one
    clock.advance(2.0)
    b.failed(DOWN)
    b.failed(DOWN)
    b.failed(DOWN)
    assert b.state is BreakerState.CLOSED


def test_jitter_only_shortens_the_cooldown_by_at_most_a_fifth() -> None:
    clock = FakeClock()
    b = breaker(clock, rng=lambda: 1.0, breaker_cooldown=30.0)
    for _ in range(3):
        b.failed(DOWN)
    assert b.retry_in() == pytest.approx(24.0)  # 30 s less 20%: never past the 30 s cap


def test_a_cancelled_probe_is_handed_back_and_late_answers_change_nothing() -> None:
    clock = FakeClock()
    b = breaker(clock)
    for _ in range(3):
        b.failed(DOWN)
    clock.advance(5.0)
    assert b.acquire() == "probe"
    b.released()  # the probe was cancelled: no verdict
    assert b.state is BreakerState.HALF_OPEN and b.acquire() == "probe"
    b.succeeded()  # a request sent before it opened answers late: not the probe
    b.failed(DOWN)
    assert b.state is BreakerState.HALF_OPEN
    b.failed(DOWN, probe=True)
    assert b.state is BreakerState.OPEN
    b.succeeded()  # late success while open
    assert b.state is BreakerState.OPEN


def test_a_disabled_breaker_never_opens_but_still_counts() -> None:
    b = breaker(FakeClock(), circuit_breaker=False)
    for _ in range(10):
        b.failed(DOWN)
    assert b.state is BreakerState.CLOSED and b.acquire() == "normal"
    assert b.consecutive_failures == 10


def test_each_state_change_logs_one_warning(caplog) -> None:
    clock = FakeClock()
    b = breaker(clock)
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        for _ in range(5):
            b.failed(DOWN)  # opens once; the failures after it say nothing
        clock.advance(5.0)
        b.acquire()
        b.acquire()
        b.succeeded(probe=True)
        b.succeeded()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3, messages
    assert (
        "open for 5.0 s after 3 consecutive failed requests (last error: ServerError: test answered"
        in messages[0]
    )
    assert "half-open" in messages[1] and "closed" in messages[2]


def router(clock: FakeClock, urls: int = 1, **breaker_options) -> EndpointRouter:
    return EndpointRouter(
        "test",
        [f"http://127.0.0.1:{9000 + i}" for i in range(urls)],
        [None] * urls,
        breakers=settings(**{"breaker_threshold": 2} | breaker_options),
        budget=RetryQuota(),
        clock=clock,
    )


def test_each_attempt_counts_at_once_so_one_call_can_see_an_outage() -> None:
    clock = FakeClock()
    r = router(clock, breaker_threshold=3)
    route = CallEndpoints(r)
    endpoint, probe = route.start()
    route.failed(endpoint, DOWN, probe=probe)
    assert endpoint.breaker.consecutive_failures == 1  # told at once, not when the call ends
    other = CallEndpoints(r)
    endpoint, probe = other.start()
    other.succeeded(endpoint, probe=probe)  # another call's success resets the count
    assert endpoint.breaker.consecutive_failures == 0
    for _ in range(3):  # three failed attempts of one call in a row open it
        endpoint, probe = route.start()
        route.failed(endpoint, DOWN, probe=probe)
    assert r.endpoints[0].breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        route.start()


@pytest.mark.parametrize(
    ("error", "counted"),
    [
        (DOWN, True),
        (RateLimitError("429", status_code=429), True),
        (RerankTimeoutError("slow"), True),
        (MalformedResponseError("nan", status_code=200), True),
        (AuthenticationError("401", status_code=401), False),
        (InvalidRequestError("400", status_code=400), False),
    ],
)
def test_only_the_fallback_kinds_count(error, counted) -> None:
    r = router(FakeClock(), breaker_threshold=1)
    route = CallEndpoints(r)
    endpoint, probe = route.start()
    route.failed(endpoint, error, probe=probe)
    assert (r.endpoints[0].breaker.state is BreakerState.OPEN) is counted


def test_the_router_prefers_fewest_in_flight_and_skips_open_endpoints() -> None:
    clock = FakeClock()
    r = router(clock, urls=3, breaker_threshold=1)
    held = [r.choose(set())[0] for _ in range(3)]
    assert sorted(e.index for e in held) == [0, 1, 2]  # one each: fewest in flight first
    r.finished(held[0])
    assert r.choose(set())[0] is held[0]
    r.finished(held[0])
    route = CallEndpoints(r)
    # open endpoint 1, then only 0 and 2 are chosen
    one = r.endpoints[1]
    one.breaker.failed(DOWN)
    assert one.breaker.state is BreakerState.OPEN
    chosen = {r.choose(set())[0].index for _ in range(20)}
    assert chosen == {0, 2}
    assert route.start()[0].index != 1


def test_ties_are_broken_at_random() -> None:
    r = router(FakeClock(), urls=2)
    picks = []
    for _ in range(200):
        endpoint, _ = r.choose(set())
        picks.append(endpoint.index)
        r.finished(endpoint)
    assert 60 < picks.count(0) < 140


def test_a_retry_avoids_the_endpoint_it_failed_on_and_a_ready_probe_goes_first() -> None:
    clock = FakeClock()
    r = router(clock, urls=2, breaker_threshold=1)
    route = CallEndpoints(r)
    first, probe = route.start()
    route.failed(first, DOWN, probe=probe)
    assert route.has_fresh_endpoint()
    second, _ = route.start()
    assert second is not first
    assert first.breaker.state is BreakerState.OPEN
    route.succeeded(second, probe=False)
    clock.advance(5.0)
    endpoint, probe = r.choose(set())
    assert endpoint is first and probe  # the recovered candidate is probed before the other gets more


def test_when_every_breaker_is_open_the_call_fails_at_once_naming_what_and_when() -> None:
    clock = FakeClock()
    r = router(clock, urls=2, breaker_threshold=1)
    for endpoint in r.endpoints:
        endpoint.breaker.failed(DOWN)
    clock.advance(1.0)
    with pytest.raises(CircuitOpenError) as caught:
        CallEndpoints(r).start()
    error = caught.value
    assert error.provider == "test" and error.last_error is DOWN
    assert 3.0 <= error.retry_in <= 4.0  # 5 s less up to 20% jitter, 1 s ago
    assert "all 2 endpoints" in str(error) and "ServerError: test answered HTTP 503" in str(error)
    assert f"next try in {error.retry_in:.1f} s" in str(error)


def test_the_retry_budget_is_a_token_bucket_that_successes_refill() -> None:
    quota = RetryQuota()  # the AWS SDKs' figures: 500 tokens, 5 a retry, 10 after a timeout
    assert (quota.available, quota.capacity) == (500, 500)
    granted = [quota.acquire(DOWN) for _ in range(101)]
    assert granted[:100] == [5] * 100 and granted[100] is None  # an outage: 100 retries, then none
    assert quota.denied == 1 and quota.available == 0
    quota.release(None)  # a first-time success gives one token back ...
    quota.release(5)  # ... a call that succeeded on a retry gives back that retry's 5
    assert quota.available == 6
    assert quota.acquire(RerankTimeoutError("slow")) is None  # a retry after a timeout takes 10
    assert quota.acquire(DOWN) == 5 and quota.available == 1
    for _ in range(1000):
        quota.release(None)
    assert quota.available == 500  # never past its size
    disabled = RetryQuota(tokens=0, enabled=False)
    assert all(disabled.acquire(DOWN) == 5 for _ in range(1000))
    assert disabled.denied == 1000  # still counted, for health()


def test_a_brownout_that_retries_fix_does_not_drain_the_bucket() -> None:
    """At 30% transient faults (seeded draws), a call that succeeds refunds its last retry and a
    first-time success adds a token: over 10,000 calls the bucket never runs low."""
    import random

    draw = random.Random(7)
    quota, lowest = RetryQuota(), 500
    for _ in range(10_000):
        last = None
        while draw.random() < 0.3:  # this attempt failed: retry (max_retries is not the point here)
            last = quota.acquire(DOWN)
            assert last is not None, "a 30% brownout drained the retry budget"
        quota.release(last)
        lowest = min(lowest, quota.available)
    assert lowest > 100  # 204 with this seed: the walk drifts up, by about 0.06 token a call


# -- over loopback HTTP ------------------------------------------------------------------------

#: Breakers that open after 3 failed requests and cool down in half a second (or in 5 s).
QUICK_BREAKER = {
    "breaker_threshold": 3,
    "breaker_failure_span": 0,
    "breaker_cooldown": 0.5,
    "breaker_max_cooldown": 1.0,
}
SLOW_BREAKER = {"breaker_threshold": 3, "breaker_failure_span": 0, "breaker_cooldown": 5.0}


async def call(reranker: Reranker, mode: str):
    if mode == "sync":
        return reranker.rerank(QUERY, DOCUMENTS)
    return await reranker.arerank(QUERY, DOCUMENTS)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_outage_with_a_fallback_stops_reaching_the_dead_primary(mode, serve) -> None:
    primary, fallback = serve("cohere", fault_rate=1.0, faults=["503"]), serve("jina")
    reranker = Reranker(
        loopback_reranker("cohere", primary, max_retries=2, **SLOW_BREAKER).backend,
        fallbacks=[loopback_reranker("jina", fallback)],
    )
    # the first call's three failed requests open it; the call goes to the fallback
    assert (await call(reranker, mode)).backend == "jina"
    assert len(primary.requests) == 3
    assert reranker.health()[0].endpoints[0].state == "open"
    for _ in range(20):
        response = await call(reranker, mode)
        assert response.backend == "jina"
        assert_correct(response, QUERY, DOCUMENTS)
    assert len(primary.requests) == 3  # nothing more reached it while open
    assert len(fallback.requests) == 21
    await reranker.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_without_a_fallback_an_open_breaker_fails_at_once(mode, serve) -> None:
    primary = serve("cohere", fault_rate=1.0, faults=["503"])
    reranker = loopback_reranker("cohere", primary, max_retries=1, **SLOW_BREAKER)
    with pytest.raises(ServerError, match="gave up after 2 attempts"):
        await call(reranker, mode)
    with pytest.raises(CircuitOpenError):  # its first request is the third failure in a row: open
        await call(reranker, mode)
    sent = len(primary.requests)
    for _ in range(10):
        with pytest.raises(CircuitOpenError) as caught:
            await call(reranker, mode)
    assert len(primary.requests) == sent == 3
    error = caught.value
    assert error.provider == "cohere" and isinstance(error.last_error, ServerError)
    assert error.last_error.status_code == 503
    assert 3.5 < error.retry_in <= 5.0
    assert "cohere: circuit breaker open on its endpoint" in str(error)
    assert "last error: ServerError: cohere answered HTTP 503" in str(error)
    assert f"next try in {error.retry_in:.1f} s ({primary.base_url})" in str(error)
    await reranker.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_recovery_one_probe_after_the_cooldown_then_closed(mode, serve, caplog) -> None:
    primary = serve("cohere", fault_rate=1.0, faults=["503"])
    reranker = loopback_reranker("cohere", primary, max_retries=0, **QUICK_BREAKER)
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        for _ in range(3):
            with pytest.raises(ServerError):
                await call(reranker, mode)
        with pytest.raises(CircuitOpenError):
            await call(reranker, mode)
        primary.fault_rate = 0.0  # it comes back
        opened = reranker.health()[0].endpoints[0]
        assert opened.state == "open" and opened.open_until is not None
        await asyncio.sleep(opened.retry_in + 0.01)
        assert reranker.health()[0].endpoints[0].state == "half-open"
        assert_correct(await call(reranker, mode), QUERY, DOCUMENTS)  # the probe: first call after
        assert_correct(await call(reranker, mode), QUERY, DOCUMENTS)
    assert len(primary.requests) == 5
    health = reranker.health()[0].endpoints[0]
    assert health.state == "closed" and health.requests == 5 and health.failures == 3
    changes = [r.getMessage() for r in caplog.records if "circuit breaker" in r.getMessage()]
    assert len(changes) == 3 and "open" in changes[0] and "half-open" in changes[1] and "closed" in changes[2]
    await reranker.aclose()


async def test_a_failed_probe_reopens_and_sync_and_async_share_the_state(serve) -> None:
    primary = serve("cohere", fault_rate=1.0, faults=["503"])
    reranker = loopback_reranker("cohere", primary, max_retries=3, **QUICK_BREAKER)
    with pytest.raises(CircuitOpenError):
        reranker.rerank(QUERY, DOCUMENTS)  # a sync call's three failed requests open it ...
    assert len(primary.requests) == 3
    with pytest.raises(CircuitOpenError):
        await reranker.arerank(QUERY, DOCUMENTS)  # ... for async calls too
    sent = len(primary.requests)
    await asyncio.sleep(0.55)
    with pytest.raises(CircuitOpenError) as caught:
        await reranker.arerank(QUERY, DOCUMENTS)  # the probe fails: no retries against it
    assert len(primary.requests) == sent + 1
    assert caught.value.last_error.status_code == 503
    assert 0.3 < caught.value.retry_in <= 1.0  # doubled, capped at 1 s
    await reranker.aclose()


@pytest.mark.parametrize("fault", ["401", "400", "422"])
async def test_rejections_never_open_the_breaker(fault, serve) -> None:
    primary = serve("cohere", fault_rate=1.0, faults=[fault])
    reranker = loopback_reranker("cohere", primary, **QUICK_BREAKER)
    for _ in range(6):
        with pytest.raises((AuthenticationError, InvalidRequestError)):
            await reranker.arerank(QUERY, DOCUMENTS)
    assert len(primary.requests) == 6
    assert reranker.health()[0].endpoints[0].state == "closed"
    await reranker.aclose()


async def test_scheduled_retries_stop_when_the_breaker_opens(serve) -> None:
    """A call waiting 5 s (Retry-After) before its retry wakes up when other calls open the
    breaker, and fails at once instead of sending that retry."""
    server = serve("cohere", retry_after="5")
    reranker = loopback_reranker("cohere", server, max_retries=5, max_retry_wait=10, **QUICK_BREAKER)
    server.fail_next("429-retry-after", *["503"] * 18)
    started = time.perf_counter()
    waiting = asyncio.ensure_future(reranker.arerank(QUERY, DOCUMENTS))
    while not server.requests:
        await asyncio.sleep(0.01)
    with pytest.raises(CircuitOpenError):  # another call's two failed requests, the 2nd and 3rd in a row
        await reranker.arerank(QUERY, DOCUMENTS)
    with pytest.raises(CircuitOpenError) as caught:
        await waiting
    elapsed = time.perf_counter() - started
    assert isinstance(caught.value.last_error, RateLimitError)  # its own last error
    assert elapsed < 4, f"the waiting call ended after {elapsed:.2f} s, not when the breaker opened"
    assert len(server.requests) == 1 + 2  # its retry was never sent
    await reranker.aclose()


async def test_256_calls_during_an_outage_send_a_bounded_number_of_requests(serve, figures) -> None:
    primary, fallback = serve("gateway", fault_rate=1.0, faults=["503"]), serve("jina")
    reranker = Reranker(
        loopback_reranker("gateway", primary, breaker_cooldown=30).backend,
        fallbacks=[loopback_reranker("jina", fallback)],
    )
    limit = asyncio.Semaphore(64)

    async def one(i: int):
        async with limit:
            return await reranker.arerank(f"{QUERY} {i}", DOCUMENTS)

    responses = await asyncio.gather(*(one(i) for i in range(256)))
    assert all(r.backend == "jina" for r in responses)
    for i, response in enumerate(responses):
        assert_correct(response, f"{QUERY} {i}", DOCUMENTS)
    sent = len(primary.requests)
    # until 12 failed requests in a row over a second open it: the first attempts of the calls in
    # flight, their retries (immediate here), which the retry budget bounds to 100 (500 tokens, 5 a
    # retry, nothing refunded), and the first attempts of the calls that take the place of those
    # the budget ended; then nothing. The bound: 1.3 requests a call (134 to 175 seen)
    assert sent <= 1.3 * 256
    figures.append(
        f"outage/256 calls, 64 in flight: requests to the dead primary={sent} (989 before, as the issue measured)"
    )
    await reranker.aclose()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_retry_budget_bounds_requests_under_a_100_percent_fault_rate(mode, serve, figures) -> None:
    server = serve("cohere", fault_rate=1.0, faults=["503"])
    # a breaker that needs 1,000 failed requests in a row, so that only the budget stops retries
    budgeted = loopback_reranker(
        "cohere", server, max_retries=5, breaker_threshold=1000, retry_budget_tokens=50, backoff_base=0.01
    )
    calls = 60
    if mode == "sync":
        for _ in range(calls):
            with pytest.raises(ServerError):
                budgeted.rerank(QUERY, DOCUMENTS)
    else:
        outcomes = await asyncio.gather(
            *(budgeted.arerank(QUERY, DOCUMENTS) for _ in range(calls)), return_exceptions=True
        )
        assert all(isinstance(o, ServerError) for o in outcomes)
    sent = len(server.requests)
    # first attempts + the 10 retries 50 tokens pay for (nothing succeeds to refund them): not 60 x 6
    assert sent == calls + 10, sent
    health = budgeted.health()[0]
    assert health.budget_tokens == 0
    assert calls - 2 <= health.budget_denied <= calls  # each call refused once, but those that made all 5
    figures.append(
        f"retry budget/{mode}: 60 calls at 100% faults, max_retries=5: {sent} requests (360 without)"
    )
    await budgeted.aclose()


def test_health_of_a_reranker_and_its_fallbacks(serve) -> None:
    server = serve("cohere")
    reranker = Reranker(
        loopback_reranker("cohere", server).backend,
        fallbacks=[loopback_reranker("jina", serve("jina"), circuit_breaker=False)],
    )
    reranker.rerank(QUERY, DOCUMENTS)
    primary, fallback = reranker.health()
    assert (primary.backend, primary.model, primary.circuit_breaker) == ("cohere", "rerank-v3.5", True)
    assert primary.healthy and fallback.healthy and not fallback.circuit_breaker
    endpoint = primary.endpoints[0]
    assert (endpoint.url, endpoint.state, endpoint.requests, endpoint.failures, endpoint.in_flight) == (
        server.base_url,
        "closed",
        1,
        0,
        0,
    )
    assert (primary.budget_tokens, primary.budget_capacity, primary.budget_denied) == (500, 500, 0)
    assert "test-key" not in primary.model_dump_json() and "test-key" not in repr(reranker.health())
    reranker.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"breaker_threshold": 0}, "breaker_threshold must be an integer of at least 1, got 0"),
        ({"breaker_cooldown": -1}, "breaker_cooldown must be a number greater than 0, got -1"),
        ({"breaker_cooldown": 10, "breaker_max_cooldown": 5}, "breaker_max_cooldown must be at least"),
        ({"circuit_breaker": "yes"}, "circuit_breaker must be True or False, got 'yes'"),
        ({"retry_budget_tokens": -1}, "retry_budget_tokens must be an integer of at least 0, got -1"),
        ({"retry_budget_cost": 0.5}, "retry_budget_cost must be an integer"),
        ({"base_url": []}, "base_url must be an address or a non-empty list"),
        ({"base_url": ["http://a", "ftp://b"]}, "base_url entry 1 must be an http(s) address"),
        ({"base_url": ["http://a", "http://a/"]}, "base_url lists the same address twice"),
        ({"base_url": ["http://a", 3]}, "base_url entry 1 is int"),
        ({"base_url": ["http://a", "http://b"], "api_key": ["k1", "k2", "k3"]}, "api_key lists 3 keys for 2"),
        ({"api_key": []}, "api_key is an empty list"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options, message) -> None:
    settings = {"base_url": "http://127.0.0.1:9", "api_key": "k"} | options
    with pytest.raises(ConfigurationError) as caught:
        Reranker("cohere/rerank-v3.5", **settings)
    assert message in str(caught.value)


def test_an_unknown_option_lists_the_new_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Reranker("cohere/rerank-v3.5", api_key="k", breaker_treshold=3)
    for name in ("circuit_breaker", "breaker_threshold", "breaker_cooldown", "retry_budget_tokens"):
        assert name in str(caught.value)
