"""The transport, the breakers and the core do what the error policy's table says, rule by rule:
the error a status becomes and whether it is retried, whether a breaker counts it, whether the next
backend is tried. (docs/errors.md is checked against the same table in tests/docs.)"""

from __future__ import annotations

import httpx
import pytest

from rerankit import (
    AuthenticationError,
    BackendError,
    InvalidRequestError,
    RateLimitError,
    Reranker,
    RerankTimeoutError,
    ServerError,
)
from rerankit.backends._answers import AnswerClassifier
from rerankit.backends._endpoints import CallEndpoints, EndpointRouter, RetryQuota
from rerankit.backends._error_policy import RULES, ErrorRule, rule_for_status
from rerankit.backends._settings import TransportSettings
from rerankit.testing import FakeBackend

ERROR_STATUSES = [status for status in range(100, 600) if not 200 <= status < 300]


def reader() -> AnswerClassifier:
    return AnswerClassifier(TransportSettings(provider="test", base_url="http://127.0.0.1:9"))


@pytest.mark.parametrize(
    ("status", "error", "retried"),
    [
        (503, ServerError, True),
        (501, ServerError, False),
        (599, ServerError, False),
        (429, RateLimitError, True),
        (408, RerankTimeoutError, True),
        (425, InvalidRequestError, True),
        (401, AuthenticationError, False),
        (404, InvalidRequestError, False),
        (307, InvalidRequestError, False),
    ],
)
def test_what_a_status_means(status: int, error: type[BackendError], retried: bool) -> None:
    failure = reader().status_failure(httpx.Response(status, headers={"location": "http://elsewhere/"}), None)
    assert type(failure.error) is error and failure.retryable is retried
    assert failure.error.status_code == status


def test_every_status_is_read_by_its_rule() -> None:
    for status in ERROR_STATUSES:
        rule = rule_for_status(status)
        failure = reader().status_failure(httpx.Response(status), None)
        assert (type(failure.error), failure.retryable) == (rule.error, rule.retried), status
        assert failure.rule is rule


@pytest.mark.parametrize(
    "rule", [r for r in RULES if issubclass(r.error, BackendError)], ids=lambda r: r.answer
)
def test_the_breaker_counts_what_the_rule_says(rule: ErrorRule) -> None:
    router = EndpointRouter(
        "test",
        ["http://127.0.0.1:9"],
        [None],
        breakers=TransportSettings(
            provider="test", base_url="http://127.0.0.1:9", breaker_threshold=1, breaker_failure_span=0.0
        ),
        budget=RetryQuota(),
    )
    route = CallEndpoints(router)
    endpoint, probe = route.start()
    route.failed(endpoint, rule.error("failed", provider="test"), probe=probe)
    assert endpoint.failures == int(rule.counted)
    assert router.any_available() is not rule.counted  # threshold 1: a counted failure opens it


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.answer)
def test_the_core_falls_back_when_the_rule_says(rule: ErrorRule) -> None:
    primary = FakeBackend("primary", fail_with=rule.error("failed", provider="primary"))
    reranker = Reranker(primary, fallbacks=[FakeBackend("fallback")])
    if rule.falls_back:
        assert reranker.rerank("q", ["a", "b"]).backend == "fallback"
    else:
        with pytest.raises(rule.error):
            reranker.rerank("q", ["a", "b"])
