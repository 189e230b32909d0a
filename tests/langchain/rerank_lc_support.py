"""Helpers of the LangChain tests: the corpus, a deterministic fake backend, a recording handler."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document

from rerankit.testing import FakeBackend

GATEWAY_SPEC = "gateway/cohere/rerank-v3.5"
LOOPBACK_KEY = "rk-loopback-secret-9431"  # the loopback server's key: must never show in reprs or errors
QUERY = "how does bm25 rank documents"

CORPUS = [
    Document("BM25 ranks documents by term frequency and inverse document frequency.", id="bm25"),
    Document("Paris is the capital of France.", id="paris", metadata={"title": "Geography"}),
    Document("Cross-encoders read the query and the document together.", id="cross"),
    Document("Dense retrieval embeds queries and documents in one vector space.", id="dense"),
    Document("The quick brown fox jumps over the lazy dog.", id="fox", metadata={"source": "pangram"}),
    Document("Rerankers rank documents returned by a first-stage retriever.", id="rerank"),
    Document("BM25 is a bag of words ranking function used by search engines.", id="bm25-bag"),
    Document("Berlin is the capital of Germany.", id="berlin", metadata={"title": "Geography"}),
]


def overlap_score(query: str, text: str) -> float:
    """A deterministic relevance a test can recompute: shared words, ties broken by length."""
    shared = set(query.lower().split()) & set(text.lower().rstrip(".").split())
    return len(shared) + len(text) / 1000.0


def make_overlap_backend(api_key: str | None = None) -> FakeBackend:
    """A Backend scoring with :func:`overlap_score` that records which path and thread each call took.

    ``api_key`` is kept on it as a real backend keeps its key, to check nothing dumps it.
    """
    backend = FakeBackend(
        "overlap",
        "overlap-v1",
        scores=overlap_score,
        max_concurrency=1,
        tokens_per_text=None,
        score_scale="similarity",  # a word-overlap count, unbounded
    )
    backend.api_key = api_key  # type: ignore[attr-defined]
    return backend


def sync_calls(backend: FakeBackend) -> int:
    """How many calls took the sync path."""
    return sum(not call.is_async for call in backend.calls)


def async_calls(backend: FakeBackend) -> list[tuple[int, bool]]:
    """(thread id, ran as a task of a running loop) of each call that took the async path."""
    return [(call.thread_id, call.in_task) for call in backend.calls if call.is_async]


class EventRecorder(BaseCallbackHandler):
    """A plain callback handler that records every chain and retriever event it is handed."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.events.append(("chain_start", {"inputs": inputs, **kwargs}))

    def on_chain_end(self, outputs: Any, **kwargs: Any) -> None:
        self.events.append(("chain_end", {"outputs": outputs, **kwargs}))

    def on_chain_error(self, error: BaseException, **kwargs: Any) -> None:
        self.events.append(("chain_error", {"error": error, **kwargs}))

    def on_retriever_start(self, serialized: Any, query: str, **kwargs: Any) -> None:
        self.events.append(("retriever_start", {"query": query, **kwargs}))

    def named(self, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        """Events of ``kind``; for starts, only those of the run called ``name``."""
        return [e for k, e in self.events if k == kind and (name is None or e.get("name") == name)]
