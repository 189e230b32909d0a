"""``rerankit.testing.FakeBackend``: scores as configured, records calls, fails on demand, declares limits."""

from __future__ import annotations

import asyncio
import threading

import pytest

from rerankit import Backend, Reranker, ServerError, Usage
from rerankit.testing import FakeBackend, hashed_score


def test_it_is_a_backend_with_the_limits_it_declares() -> None:
    backend = FakeBackend("acme", "acme-v1", max_documents_per_request=2, max_concurrency=1)
    assert isinstance(backend, Backend)
    response = Reranker(backend).rerank("q", ["a", "b", "c", "d", "e"])
    assert backend.requests == [["a", "b"], ["c", "d"], ["e"]]
    assert backend.max_in_flight == 1
    assert response.backend == "acme" and response.model == "acme-v1"
    assert response.usage == Usage(documents=5, pairs_scored=5, requests=3, tokens=5)


def test_default_scores_are_a_hash_of_name_and_text() -> None:
    one, other = FakeBackend("one"), FakeBackend("other")
    assert one.score("q", ["x"]).values == [hashed_score("x", "one")] == [one.score_of("x")]
    assert one.score_of("x") != other.score_of("x")


def test_scores_from_a_function_of_query_and_text_or_a_mapping() -> None:
    by_function = FakeBackend(scores=lambda query, text: len(query) + len(text), tokens_per_text=None)
    scored = by_function.score("abc", ["x", "yyyy"])
    assert scored.values == [4.0, 7.0] and scored.usage == Usage()
    by_mapping = FakeBackend(scores={"good": 0.9, "bad": 0.1})
    assert [r.document for r in Reranker(by_mapping).rerank("q", ["bad", "good"]).results] == ["good", "bad"]
    with pytest.raises(KeyError, match="has no score for text 'unknown'"):
        by_mapping.score("q", ["unknown"])


def test_fail_with_fails_every_call_until_cleared_and_failures_script_the_next_calls() -> None:
    down = ServerError("down", status_code=503)
    backend = FakeBackend(fail_with=down)
    for _ in range(2):
        with pytest.raises(ServerError, match="down"):
            backend.score("q", ["a"])
    backend.fail_with = None
    assert len(backend.score("q", ["a"]).values) == 1
    scripted = FakeBackend(failures=[None, down])
    scripted.score("q", ["a"])
    with pytest.raises(ServerError):
        scripted.score("q", ["a"])
    scripted.score("q", ["a"])
    assert len(scripted.calls) == 3  # failed calls are recorded too


async def test_async_calls_are_recorded_with_their_thread_and_task_and_run_concurrently() -> None:
    backend = FakeBackend(max_documents_per_request=1, max_concurrency=3, delay=0.02)
    await Reranker(backend).arerank("q", ["a", "b", "c", "d", "e", "f"])
    assert all(call.is_async and call.in_task for call in backend.calls)
    assert {call.thread_id for call in backend.calls} == {threading.get_ident()}
    assert backend.max_in_flight == 3 and backend.in_flight == 0
    with pytest.raises(ServerError):
        await FakeBackend(fail_with=ServerError("down")).ascore("q", ["a"])


def test_close_and_aclose_are_counted() -> None:
    backend = FakeBackend()
    with Reranker(backend):
        pass
    asyncio.run(backend.aclose())
    assert backend.closed == 2
    assert repr(backend) == "FakeBackend('fake')"
