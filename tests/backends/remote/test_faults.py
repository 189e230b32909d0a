"""What each provider fault produces, over real HTTP: retried faults, typed errors, never a wrong score."""

from __future__ import annotations

import asyncio
import logging
import socket
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
from rerankit.testing.servers import RerankServer, expected_score
from tests.loopback import EMPTY_401, make_reranker

QUERY = "what is bm25"
DOCUMENTS = ["bm25 is a ranking function", "a banana is a fruit", "bm25 weighs term frequency"]


def assert_correct(response) -> None:
    assert sorted(r.index for r in response.results) == list(range(len(DOCUMENTS)))
    for result in response.results:
        assert result.relevance_score == expected_score(QUERY, DOCUMENTS[result.index])


def retry_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "rerankit" and "retrying in" in r.getMessage()]


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "504", "408", "409", "425", "drop", "html"])
def test_retryable_fault_is_retried_and_logged(
    server: RerankServer, fault: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.fail_next(fault)
    with caplog.at_level(logging.INFO, logger="rerankit"), make_reranker(server) as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS)
    assert_correct(response)
    assert [request.fault for request in server.requests] == [fault, None]
    [record] = retry_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.provider == server.provider
    expected_status = 502 if fault == "html" else None if fault == "drop" else int(fault)
    assert record.status_code == expected_status
    assert ("connection dropped" if fault == "drop" else f"HTTP {expected_status}") in record.getMessage()
    assert 0 <= record.retry_wait <= 0.01


@pytest.mark.parametrize(
    ("fault", "error_type", "status"),
    [
        ("429", RateLimitError, 429),
        ("503", ServerError, 503),
        ("500", ServerError, 500),
        ("408", RerankTimeoutError, 408),
        ("409", InvalidRequestError, 409),
        ("drop", ServerError, None),
        ("html", ServerError, 502),
    ],
)
def test_retries_run_out_then_a_typed_error(
    server: RerankServer, fault: str, error_type: type, status
) -> None:
    server.fail_next(*[fault] * 3)
    with make_reranker(server, max_retries=2) as reranker, pytest.raises(error_type) as caught:
        reranker.rerank(QUERY, DOCUMENTS)
    error = caught.value
    assert len(server.requests) == 3
    assert error.provider == server.provider
    assert error.status_code == status
    assert "gave up after 3 attempts" in str(error)
    if status is not None:
        assert error.request_id == server.requests[-1].request_id
    if fault == "html":
        assert "502 Bad Gateway" in str(error)
        assert "<html" not in str(error)


@pytest.mark.parametrize(
    ("fault", "error_type", "message"),
    [
        ("400", InvalidRequestError, "invalid request"),
        ("401", AuthenticationError, "invalid api token"),
        ("402", InvalidRequestError, "payment required"),
        ("403", AuthenticationError, "forbidden"),
        ("422", InvalidRequestError, "unprocessable entity"),
        ("498", InvalidRequestError, "blocked input"),
    ],
)
def test_client_errors_are_not_retried(
    server: RerankServer, fault: str, error_type: type, message: str
) -> None:
    server.fail_next(fault)
    with make_reranker(server) as reranker, pytest.raises(error_type) as caught:
        reranker.rerank(QUERY, DOCUMENTS)
    error = caught.value
    assert len(server.requests) == 1
    assert error.status_code == int(fault)
    assert error.request_id == server.requests[0].request_id
    if fault == "401" and server.provider in EMPTY_401:
        message = "Unauthorized"  # TEI's --api-key answer has no body: the status reason is all there is
    assert message in error.message  # the provider's own message, parsed from its error body
    assert "gave up" not in str(error)


@pytest.mark.parametrize("status", ["404", "501"])
def test_404_and_501_are_not_retried(shared_servers: dict[str, RerankServer], status: str) -> None:
    server = shared_servers["cohere"]
    server.reset()
    server.fail_next(status)
    with make_reranker(server) as reranker, pytest.raises((InvalidRequestError, ServerError)) as caught:
        reranker.rerank(QUERY, DOCUMENTS)
    assert caught.value.status_code == int(status)
    assert len(server.requests) == 1


def test_validation_error_detail_is_quoted(shared_servers: dict[str, RerankServer]) -> None:
    """A provider's FastAPI-style 422 ``detail`` list becomes a readable message."""
    server = shared_servers["deepinfra"]
    server.reset()
    with make_reranker(server, instruction="x") as reranker:
        reranker.backend.instruction = 7  # the server expects a string: it answers 422 with a detail list
        with pytest.raises(InvalidRequestError) as caught:
            reranker.rerank(QUERY, DOCUMENTS)
    assert caught.value.status_code == 422
    assert "instruction: Input should be a valid string" in str(caught.value)


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("malformed-json", "not JSON"),
        ("html-200", "not JSON"),
        ("bad-index", None),
        ("dup-index", None),
        ("missing", None),
        ("nan", "finite"),
        ("string-score", "expected a number"),
    ],
)
def test_untrustworthy_answers_raise_malformed_response(server: RerankServer, fault: str, problem) -> None:
    server.fail_next(fault)
    with make_reranker(server) as reranker, pytest.raises(MalformedResponseError) as caught:
        reranker.rerank(QUERY, DOCUMENTS)
    error = caught.value
    assert len(server.requests) == 1  # a malformed answer is not retried
    assert error.status_code == 200
    assert error.request_id == server.requests[0].request_id
    assert error.provider == server.provider
    if problem:
        assert problem in str(error)
    if fault == "bad-index" and server.provider != "deepinfra":
        assert "index 3, outside 0..2" in str(error)
    if fault == "dup-index" and server.provider != "deepinfra":
        assert "appears more than once" in str(error)
    if fault == "html-200":
        assert "Sign in" in str(error)


def test_429_retry_after_seconds_is_honoured(cohere_server: RerankServer, caplog) -> None:
    cohere_server.retry_after = "0.3"
    cohere_server.fail_next("429-retry-after")
    try:
        with caplog.at_level(logging.INFO, logger="rerankit"), make_reranker(cohere_server) as reranker:
            assert_correct(reranker.rerank(QUERY, DOCUMENTS))
    finally:
        cohere_server.retry_after = "1"
    first, second = cohere_server.requests
    assert second.received_at - first.received_at >= 0.3
    [record] = retry_records(caplog)
    assert record.retry_wait == pytest.approx(0.3)


def test_retry_after_is_capped_by_max_retry_wait(cohere_server: RerankServer, caplog) -> None:
    cohere_server.retry_after = "30"
    cohere_server.fail_next("429-retry-after")
    try:
        with (
            caplog.at_level(logging.INFO, logger="rerankit"),
            make_reranker(cohere_server, max_retry_wait=0.05) as reranker,
        ):
            assert_correct(reranker.rerank(QUERY, DOCUMENTS))
    finally:
        cohere_server.retry_after = "1"
    [record] = retry_records(caplog)
    assert record.retry_wait == 0.05


def test_retry_after_http_date_is_honoured(cohere_server: RerankServer, caplog) -> None:
    cohere_server.retry_after = "3"  # a date about 2-3 s ahead (HTTP dates have whole seconds)
    cohere_server.fail_next("429-retry-after-date")
    try:
        with (
            caplog.at_level(logging.INFO, logger="rerankit"),
            make_reranker(cohere_server, max_retry_wait=0.2) as reranker,
        ):
            assert_correct(reranker.rerank(QUERY, DOCUMENTS))
    finally:
        cohere_server.retry_after = "1"
    [record] = retry_records(caplog)
    assert record.retry_wait == 0.2  # the date, capped; the test backoff would be about 0.001 s


def test_backoff_grows_without_retry_after(cohere_server: RerankServer, caplog) -> None:
    cohere_server.fail_next("429", "429", "429")
    with (
        caplog.at_level(logging.INFO, logger="rerankit"),
        make_reranker(cohere_server, backoff_base=0.01) as reranker,
    ):
        assert_correct(reranker.rerank(QUERY, DOCUMENTS))
    waits = [record.retry_wait for record in retry_records(caplog)]
    # backoff_base * 2**n plus up to backoff_base of jitter
    assert 0.01 <= waits[0] <= 0.02
    assert 0.02 <= waits[1] <= 0.03
    assert 0.04 <= waits[2] <= 0.05


def test_slow_answer_past_the_timeout_is_a_timeout_error() -> None:
    with RerankServer("jina", stall_seconds=3) as server:
        server.fail_next("stall")
        with (
            make_reranker(server, timeout=0.2, max_retries=0) as reranker,
            pytest.raises(RerankTimeoutError) as caught,
        ):
            reranker.rerank(QUERY, DOCUMENTS)
        assert "within 0.2 s (read timeout)" in str(caught.value)
        assert caught.value.provider == "jina"
        # retried like any timeout: a stall then an answer succeeds
        server.fail_next("stall")
        with make_reranker(server, timeout=0.2) as reranker:
            assert_correct(reranker.rerank(QUERY, DOCUMENTS))


def test_deadline_bounds_the_whole_call_sync_and_async() -> None:
    async def call(reranker) -> None:
        await reranker.arerank(QUERY, DOCUMENTS)

    with RerankServer("cohere", latency=3.0) as server, make_reranker(server, deadline=0.15) as reranker:
        started = time.monotonic()
        with pytest.raises(RerankTimeoutError, match=r"deadline of 0\.15 s"):
            reranker.rerank(QUERY, DOCUMENTS)
        assert time.monotonic() - started < 2.0  # not the server's 3 s
        with pytest.raises(RerankTimeoutError, match=r"deadline of 0\.15 s"):
            asyncio.run(call(reranker))


def test_deadline_stops_retries_that_would_wait_past_it(cohere_server: RerankServer) -> None:
    cohere_server.fail_next("429-retry-after")  # asks for 1 s; the deadline leaves 0.3 s
    with make_reranker(cohere_server, deadline=0.3) as reranker, pytest.raises(RateLimitError) as caught:
        reranker.rerank(QUERY, DOCUMENTS)
    assert len(cohere_server.requests) == 1
    assert "gave up after 1 attempt" in str(caught.value)


def test_connection_refused_is_a_server_error_after_retries(caplog) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with caplog.at_level(logging.INFO, logger="rerankit"):
        reranker = make_reranker_for_url(f"http://127.0.0.1:{port}")
        with reranker, pytest.raises(ServerError) as caught:
            reranker.rerank(QUERY, DOCUMENTS)
    assert "could not connect" in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)
    assert [r.getMessage().split(" on attempt")[0] for r in retry_records(caplog)] == [
        "cohere: connect error"
    ] * 2


def make_reranker_for_url(url: str):
    from rerankit import Reranker

    return Reranker("cohere/rerank-v3.5", base_url=url, api_key="k", backoff_base=0.001, max_retries=2)


def test_redirect_is_not_followed(server: RerankServer) -> None:
    server.fail_next("redirect")
    with make_reranker(server) as reranker, pytest.raises(InvalidRequestError) as caught:
        reranker.rerank(QUERY, DOCUMENTS)
    assert caught.value.status_code == 307
    assert "http://localhost:" in str(caught.value)
    assert "redirects are not followed" in str(caught.value)
    assert len(server.requests) == 1  # nothing was sent to the other host


def test_random_fault_mix_still_gives_correct_scores() -> None:
    with RerankServer("gateway", fault_rate=0.4, seed=7) as server:
        # a patient client, the retry budget and the breaker at their defaults
        with make_reranker(server, max_retries=8) as reranker:
            for _ in range(15):
                assert_correct(reranker.rerank(QUERY, DOCUMENTS))
        faults = [request.fault for request in server.requests if request.fault]
    assert len(faults) >= 3  # the mix really misbehaved
    assert len(server.requests) == 15 + len(faults)
