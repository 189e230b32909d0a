"""The shared answer parser and error-message reader, on every shape providers are known to send."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import httpx
import pytest

from rerankit import ConfigurationError, MalformedResponseError, Reranker
from rerankit.backends._responses import (
    ProviderReply,
    parse_retry_after,
    provider_message,
    scores_in_input_order,
)

TEXTS = ["alpha", "beta", "gamma"]


def reply(payload) -> ProviderReply:
    return ProviderReply("demo", 200, payload, "req-42")


@pytest.mark.parametrize(
    "payload",
    [
        {
            "results": [
                {"index": 2, "relevance_score": 0.3},
                {"index": 0, "relevance_score": 0.1},
                {"index": 1, "relevance_score": 0.2},
            ]
        },
        {
            "data": [
                {"index": 1, "relevance_score": 0.2},
                {"index": 2, "relevance_score": 0.3},
                {"index": 0, "relevance_score": 0.1},
            ]
        },
        [{"index": 0, "score": 0.1, "text": "alpha"}, {"index": 2, "score": 0.3}, {"index": 1, "score": 0.2}],
        {"scores": [0.1, 0.2, 0.3]},
        [0.1, 0.2, 0.3],
        {
            "results": [
                {"index": 1, "relevance_score": 0.2, "document": "beta"},
                {"index": 0, "relevance_score": 0.1, "document": {"text": "alpha"}},
                {"index": 2, "relevance_score": 0.3, "document": {"id": "x"}},
            ]
        },
    ],
    ids=["cohere", "voyage-data", "tei-bare-list", "deepinfra-scores", "bare-scores", "echoed-documents"],
)
def test_every_documented_shape_gives_scores_in_input_order(payload) -> None:
    assert scores_in_input_order(reply(payload), TEXTS) == [0.1, 0.2, 0.3]


def test_integer_scores_become_floats() -> None:
    values = scores_in_input_order(reply({"scores": [0, 1, 0]}), TEXTS)
    assert values == [0.0, 1.0, 0.0]
    assert all(type(value) is float for value in values)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (
            {"results": [{"index": 0, "relevance_score": 0.1}, {"index": 1, "relevance_score": 0.2}]},
            "no score for document(s) 2",
        ),
        (
            {
                "results": [
                    {"index": 0, "relevance_score": 0.1},
                    {"index": 0, "relevance_score": 0.2},
                    {"index": 1, "relevance_score": 0.3},
                ]
            },
            "index 0 appears more than once",
        ),
        ({"results": [{"index": 3, "relevance_score": 0.1}]}, "index 3, outside 0..2"),
        ({"results": [{"index": -1, "relevance_score": 0.1}]}, "index -1, outside 0..2"),
        ({"results": [{"index": "0", "relevance_score": 0.1}]}, "expected an integer"),
        ({"results": [{"index": True, "relevance_score": 0.1}]}, "expected an integer"),
        ({"results": [{"index": 0}]}, "has no relevance_score or score"),
        ({"results": [{"index": 0, "relevance_score": None}]}, "expected a number"),
        ({"results": [{"index": 0, "relevance_score": math.inf}]}, "expected a finite number"),
        (
            {"results": [{"index": 0, "relevance_score": 0.5, "document": {"text": "beta"}}]},
            "not the one sent",
        ),
        ({"results": ["alpha"]}, "expected an object"),
        ({"scores": [0.1, 0.2]}, "2 scores for 3 documents"),
        ({"scores": [0.1, 0.2, math.nan]}, "finite"),
        ({"scores": "0.1"}, "expected a list"),
        ({"output": []}, "no result list (an object with keys output)"),
        ("ok", "no result list (a JSON str)"),
    ],
)
def test_untrustworthy_shapes_are_malformed(payload, problem) -> None:
    with pytest.raises(MalformedResponseError) as caught:
        scores_in_input_order(reply(payload), TEXTS)
    assert problem in str(caught.value)
    assert caught.value.status_code == 200
    assert caught.value.request_id == "req-42"
    assert "request_id=req-42" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ({"message": "invalid request: too many documents"}, "json", "invalid request: too many documents"),
        ({"detail": "User is not authorized"}, "json", "User is not authorized"),
        ({"detail": {"error": "Model is not available"}}, "json", "Model is not available"),
        (
            {"detail": [{"type": "value_error", "loc": ["body", "documents", 0], "msg": "field required"}]},
            "json",
            "documents.0: field required",
        ),
        (
            {"error": {"message": "model X is currently overloaded", "type": "overloaded"}},
            "json",
            "model X is currently overloaded",
        ),
        ({"object": "error", "message": "top_n must be at least 1"}, "json", "top_n must be at least 1"),
        ({"error": "bad key"}, "json", "bad key"),
        (
            "<html><head><title>503 Service Temporarily Unavailable</title></head><body>x</body></html>",
            "html",
            "503 Service Temporarily Unavailable",
        ),
        (
            "upstream connect error or disconnect/reset before headers",
            "text",
            "upstream connect error or disconnect/reset before headers",
        ),
        ("", "text", "Service Unavailable"),
    ],
)
def test_provider_message_from_every_error_shape(body, content_type, message) -> None:
    response = httpx.Response(503, json=body) if content_type == "json" else httpx.Response(503, text=body)
    assert provider_message(response) == message


def test_retry_after_forms() -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0  # in the past: now
    assert parse_retry_after("-3") == 0.0
    for bad in (None, "", "soon", "nan", "inf"):
        assert parse_retry_after(bad) is None


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"deadline": 0}, "deadline"),
        ({"max_retry_wait": -1}, "max_retry_wait"),
        ({"backoff_base": -0.1}, "backoff_base"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "https://example.com/?key=1"}, "base_url"),
        ({"priority": 1000}, "priority"),
        ({"max_tokens_per_doc": 0}, "max_tokens_per_doc"),
        ({"top_k": 3}, "unknown option(s) 'top_k'"),
        ({"timeout": True}, "timeout"),
        ({"api_key": 123}, "api_key must be a string"),
    ],
)
def test_bad_options_name_the_option(options, problem) -> None:
    """(cohere/ is the example; every remote backend shares the transport options.)"""
    settings = {"api_key": "k", **options}
    with pytest.raises(ConfigurationError) as caught:
        Reranker("cohere/rerank-v3.5", **settings)
    assert problem in str(caught.value)


@pytest.mark.parametrize("value", [0, -5, 2.5, True])
def test_gateway_documents_limit_must_be_a_positive_integer(value) -> None:
    with pytest.raises(ConfigurationError, match="max_documents_per_request"):
        Reranker("gateway/m", base_url="http://127.0.0.1:1", max_documents_per_request=value)
