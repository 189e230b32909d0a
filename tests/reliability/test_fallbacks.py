"""Fallbacks: the next backend answers when one fails with a transient or server error.

In-process backends script the failures; the loopback HTTP half lives in test_fallbacks_http.py.
"""

from __future__ import annotations

import logging

import pytest

from rerankit import (
    AuthenticationError,
    BackendError,
    CircuitOpenError,
    ConfigurationError,
    InvalidInputError,
    InvalidRequestError,
    MalformedResponseError,
    RateLimitError,
    Reranker,
    RerankTimeoutError,
    ServerError,
)
from rerankit._reranker import FALLBACK_ERRORS
from rerankit.testing import FakeBackend

DOCS = ["alpha", "beta", "gamma", "delta", "beta"]

TRANSIENT = [
    RateLimitError("rate limited", provider="primary", status_code=429),
    ServerError("bad gateway", provider="primary", status_code=502),
    RerankTimeoutError("no answer within 1.0 s", provider="primary"),
    MalformedResponseError("duplicate index 3", provider="primary", status_code=200),
]
PERMANENT = [
    AuthenticationError("bad key", provider="primary", status_code=401),
    InvalidRequestError("too many tokens", provider="primary", status_code=400),
    ConfigurationError("model not loaded"),
    BackendError("unclassified backend failure", provider="primary"),
    RuntimeError("a bug, not a provider failure"),
]


async def rerank(reranker: Reranker, mode: str, *args, **kwargs):
    if mode == "sync":
        return reranker.rerank(*args, **kwargs)
    return await reranker.arerank(*args, **kwargs)


def assert_scored_by(response, backend: FakeBackend, documents=DOCS) -> None:
    """Every result carries its own document and the score ``backend`` gives that document."""
    assert response.backend == backend.name and response.model == backend.model
    assert sorted(r.index for r in response.results) == list(range(len(documents)))
    for result in response.results:
        assert result.document == documents[result.index]
        assert result.relevance_score == backend.score_of(documents[result.index])


def test_the_documented_fallback_errors() -> None:
    assert set(FALLBACK_ERRORS) == {
        RateLimitError,
        ServerError,
        RerankTimeoutError,
        MalformedResponseError,
        CircuitOpenError,
    }


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
async def test_transient_failure_falls_back_and_the_response_names_who_answered(error, mode, caplog) -> None:
    primary = FakeBackend("primary", "p-model", fail_with=error)
    fallback = FakeBackend("fallback", "f-model")
    with caplog.at_level(logging.WARNING, logger="rerankit"):
        response = await rerank(Reranker(primary, fallbacks=[fallback]), mode, "q", DOCS, top_n=3)
    assert response.backend == "fallback" and response.model == "f-model"
    assert len(response.results) == 3
    for result in response.results:
        assert result.relevance_score == fallback.score_of(DOCS[result.index])
    assert len(primary.requests) == 1 and len(fallback.requests) == 1
    (record,) = [r for r in caplog.records if "falling back" in r.getMessage()]
    assert "primary/p-model" in record.getMessage() and "fallback/f-model" in record.getMessage()
    assert type(error).__name__ in record.getMessage()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("error", PERMANENT, ids=lambda e: type(e).__name__)
async def test_permanent_failure_is_raised_at_once_without_trying_the_fallback(error, mode) -> None:
    primary = FakeBackend("primary", fail_with=error)
    fallback = FakeBackend("fallback")
    with pytest.raises(type(error)) as caught:
        await rerank(Reranker(primary, fallbacks=[fallback]), mode, "q", DOCS)
    assert caught.value is error
    assert fallback.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_invalid_input_reaches_no_backend(mode) -> None:
    primary, fallback = FakeBackend("primary"), FakeBackend("fallback")
    with pytest.raises(InvalidInputError, match="document text is required for rerank at index 1"):
        await rerank(Reranker(primary, fallbacks=[fallback]), mode, "q", ["ok", "  "])
    assert primary.requests == [] and fallback.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_the_first_healthy_backend_in_order_answers(mode) -> None:
    first = FakeBackend("first", fail_with=ServerError("down", status_code=503))
    second = FakeBackend("second", fail_with=RateLimitError("slow down", status_code=429))
    third, fourth = FakeBackend("third"), FakeBackend("fourth")
    response = await rerank(Reranker(first, fallbacks=[second, third, fourth]), mode, "q", DOCS)
    assert_scored_by(response, third)
    assert [len(b.requests) for b in (first, second, third, fourth)] == [1, 1, 1, 0]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_when_every_backend_fails_the_last_error_is_raised_chained_to_the_earlier(mode) -> None:
    errors = [ServerError("down"), RerankTimeoutError("slow"), RateLimitError("limited")]
    backends = [FakeBackend(f"b{i}", fail_with=error) for i, error in enumerate(errors)]
    with pytest.raises(RateLimitError) as caught:
        await rerank(Reranker(backends[0], fallbacks=backends[1:]), mode, "q", DOCS)
    assert caught.value is errors[2]
    assert caught.value.__context__ is errors[1] and errors[1].__context__ is errors[0]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_split_call_chains_its_errors_too(mode) -> None:
    """Parts run concurrently (threads, tasks): the last error still chains to the one before."""
    errors = [ServerError("down"), RateLimitError("limited")]
    backends = [
        FakeBackend(f"b{i}", fail_with=error, max_documents_per_request=2, max_concurrency=4)
        for i, error in enumerate(errors)
    ]
    with pytest.raises(RateLimitError) as caught:
        await rerank(Reranker(backends[0], fallbacks=backends[1:]), mode, "q", DOCS)
    assert caught.value is errors[1] and caught.value.__context__ is errors[0]


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_permanent_error_from_a_fallback_stops_the_chain(mode) -> None:
    primary = FakeBackend("primary", fail_with=ServerError("down", status_code=500))
    bad_key = FakeBackend("bad-key", fail_with=AuthenticationError("bad key", status_code=401))
    never = FakeBackend("never")
    with pytest.raises(AuthenticationError) as caught:
        await rerank(Reranker(primary, fallbacks=[bad_key, never]), mode, "q", DOCS)
    assert isinstance(caught.value.__context__, ServerError)
    assert never.requests == []


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_split_call_failing_midway_is_rescored_whole_by_the_fallback(mode) -> None:
    """One response never mixes two models' scores, even when only one part failed."""
    documents = [f"document {i}" for i in range(10)]
    primary = FakeBackend(
        "primary", max_documents_per_request=3, max_concurrency=1, failures=[None, ServerError("down")]
    )
    fallback = FakeBackend("fallback", max_documents_per_request=4)
    response = await rerank(Reranker(primary, fallbacks=[fallback]), mode, "q", documents)
    assert_scored_by(response, fallback, documents)
    assert [len(r) for r in fallback.requests] == [4, 4, 2]
    assert response.usage.requests == 3 and response.usage.pairs_scored == 10
    assert response.usage.tokens == 10  # the fallback's usage only


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_recovered_backend_answers_again_on_the_next_call(mode) -> None:
    primary = FakeBackend("primary", failures=[ServerError("blip", status_code=502)])
    fallback = FakeBackend("fallback")
    reranker = Reranker(primary, fallbacks=[fallback])
    assert (await rerank(reranker, mode, "q", DOCS)).backend == "fallback"
    assert_scored_by(await rerank(reranker, mode, "q", DOCS), primary)


def test_fallbacks_given_as_rerankers_are_flattened_in_order() -> None:
    a, b, c = FakeBackend("a"), FakeBackend("b"), FakeBackend("c")
    reranker = Reranker(FakeBackend("primary"), fallbacks=[Reranker(a, fallbacks=[b]), c])
    assert [backend.name for backend in reranker.backends] == ["primary", "a", "b", "c"]
    assert reranker.model == "fake-model"
    assert "fallbacks=[FakeBackend('a'), FakeBackend('b'), FakeBackend('c')]" in repr(reranker)


def test_fallback_spec_strings_build_backends(bert_model) -> None:
    reranker = Reranker(
        FakeBackend("primary", fail_with=ServerError("down")), fallbacks=[f"local/{bert_model}"]
    )
    response = reranker.rerank("what is bm25", ["a ranking function", "a fruit"])
    assert response.backend == "local" and response.model == str(bert_model)
    with Reranker(f"local/{bert_model}") as direct:
        assert response.results == direct.rerank("what is bm25", ["a ranking function", "a fruit"]).results
    reranker.close()


@pytest.mark.parametrize(
    ("fallbacks", "message"),
    [
        ("cohere/rerank-v3.5", "fallbacks must be a list.*got one str"),
        (FakeBackend("one"), "fallbacks must be a list.*got one FakeBackend"),
        ([42], "fallback must be a spec string.*or a Reranker, got int"),
        ([None], "fallback must be a spec string.*got NoneType"),
        (["openai/gpt"], "unknown backend 'openai'"),
        (["cohere"], "must look like '<backend>/<model id>'"),
    ],
)
def test_bad_fallbacks_are_configuration_errors(fallbacks, message) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Reranker(FakeBackend("primary"), fallbacks=fallbacks)


def test_no_fallbacks_is_the_plain_reranker() -> None:
    for fallbacks in (None, [], ()):
        reranker = Reranker(FakeBackend("primary"), fallbacks=fallbacks)
        assert reranker.fallbacks == [] and repr(reranker) == "Reranker(FakeBackend('primary'))"
    with pytest.raises(ServerError):
        Reranker(FakeBackend("primary", fail_with=ServerError("down"))).rerank("q", DOCS)


async def test_close_and_aclose_reach_every_backend_even_when_one_fails() -> None:
    class FailingClose(FakeBackend):
        def close(self) -> None:
            super().close()
            raise OSError("socket already gone")

        async def aclose(self) -> None:
            await super().aclose()
            raise OSError("socket already gone")

    backends = [FakeBackend("a"), FailingClose("b"), FakeBackend("c")]
    reranker = Reranker(backends[0], fallbacks=backends[1:])
    with pytest.raises(OSError, match="socket already gone"):
        reranker.close()
    assert [b.closed for b in backends] == [1, 1, 1]
    with pytest.raises(OSError, match="socket already gone"):
        await reranker.aclose()
    assert [b.closed for b in backends] == [2, 2, 2]
    with Reranker(backends[0], fallbacks=[backends[2]]):
        pass
    async with Reranker(backends[0], fallbacks=[backends[2]]):
        pass
    assert backends[0].closed == 4 and backends[2].closed == 4
