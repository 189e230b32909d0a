"""Property-based tests of the core: for any inputs, the output is the right ranking of them.

A deterministic in-process backend with limits drawn per example (so calls split into many
parts) scores with a coarse function of the text, so ties and duplicates are common.
"""

from __future__ import annotations

import asyncio
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rerankit import Reranker, Usage
from rerankit.testing import FakeBackend


def coarse_score(text: str) -> float:
    """Few distinct values (ties between different texts are frequent), negative ones included."""
    return (sum(map(ord, text)) % 7 - 2) / 4


def limited_backend(limit: int | None, concurrency: int) -> FakeBackend:
    """Scores with ``coarse_score``; records every request; reports one token per text."""
    return FakeBackend(
        "limited",
        "coarse-v1",
        scores=lambda query, text: coarse_score(text),
        max_documents_per_request=limit,
        max_concurrency=concurrency,
    )


# A small alphabet makes duplicate documents common; any non-blank text is valid.
texts = st.text(alphabet="ab cé\u05d0😀", min_size=1, max_size=4).filter(str.strip)
calls = st.fixed_dictionaries(
    {
        "documents": st.lists(texts, min_size=1, max_size=40),
        "top_n": st.none() | st.integers(min_value=1, max_value=50),
        "score_threshold": st.none() | st.sampled_from([-0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0]),
        "limit": st.none() | st.integers(min_value=1, max_value=7),
        "concurrency": st.integers(min_value=1, max_value=4),
    }
)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_response(call: dict, response, backend: FakeBackend) -> None:
    documents, top_n, threshold = call["documents"], call["top_n"], call["score_threshold"]
    indices = [r.index for r in response.results]

    # A permutation of a subset of the input indices, each carrying its own document and score.
    assert len(set(indices)) == len(indices) and all(0 <= i < len(documents) for i in indices)
    for result in response.results:
        assert result.document == documents[result.index]
        assert type(result.relevance_score) is float
        assert result.relevance_score == coarse_score(documents[result.index])

    # Sorted best first; equal scores keep input order.
    keys = [(-r.relevance_score, r.index) for r in response.results]
    assert keys == sorted(keys)

    # The threshold applies first, then top_n cuts: exactly the best of the passing documents.
    passing = [i for i, d in enumerate(documents) if threshold is None or coarse_score(d) >= threshold]
    assert len(indices) == (len(passing) if top_n is None else min(top_n, len(passing)))
    left_out = set(passing) - set(indices)
    if left_out and indices:
        worst_kept = max((-coarse_score(documents[i]), i) for i in indices)
        assert all((-coarse_score(documents[i]), i) > worst_kept for i in left_out)

    # Each distinct text scored exactly once, in requests within the backend's limit.
    distinct = list(dict.fromkeys(documents))
    sent = [text for request in backend.requests for text in request]
    assert sorted(sent) == sorted(distinct)
    limit = call["limit"]
    assert all(1 <= len(request) <= (limit or math.inf) for request in backend.requests)
    expected_requests = 1 if limit is None else math.ceil(len(distinct) / limit)

    # Usage counts what happened.
    assert response.usage == Usage(
        documents=len(documents), pairs_scored=len(distinct), requests=expected_requests, tokens=len(distinct)
    )
    assert len(backend.requests) == expected_requests
    assert (response.backend, response.model) == ("limited", "coarse-v1")


@PROPERTY_SETTINGS
@given(call=calls)
def test_sync_rerank_is_the_ranking_of_its_inputs(call: dict) -> None:
    backend = limited_backend(call["limit"], call["concurrency"])
    response = Reranker(backend).rerank(
        "q", call["documents"], top_n=call["top_n"], score_threshold=call["score_threshold"]
    )
    check_response(call, response, backend)


@PROPERTY_SETTINGS
@given(call=calls)
def test_async_rerank_is_the_ranking_of_its_inputs_and_equals_sync(call: dict) -> None:
    backend = limited_backend(call["limit"], call["concurrency"])
    options = {"top_n": call["top_n"], "score_threshold": call["score_threshold"]}
    response = asyncio.run(Reranker(backend).arerank("q", call["documents"], **options))
    check_response(call, response, backend)
    assert Reranker(limited_backend(call["limit"], 1)).rerank("q", call["documents"], **options) == response


@settings(max_examples=200, deadline=None)
@given(documents=st.lists(texts, min_size=1, max_size=30), top_n=st.integers(min_value=1, max_value=40))
def test_duplicates_share_one_score_and_all_are_listed(documents: list[str], top_n: int) -> None:
    backend = limited_backend(limit=2, concurrency=2)
    response = Reranker(backend).rerank("q", documents)
    score_of: dict[str, float] = {}
    for result in response.results:
        assert score_of.setdefault(result.document, result.relevance_score) == result.relevance_score
    assert len(response.results) == len(documents)
    cut = Reranker(limited_backend(limit=3, concurrency=1)).rerank("q", documents, top_n=top_n)
    assert cut.results == response.results[:top_n]
