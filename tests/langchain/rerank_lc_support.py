"""Helpers of the LangChain tests: the corpus, a deterministic test backend, a recording handler."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document

from rerankit import Scores

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


class OverlapBackend:
    """A Backend scoring with :func:`overlap_score` that records which path and thread each call took."""

    name = "overlap"
    model = "overlap-v1"
    max_documents_per_request: int | None = None
    max_concurrency = 1

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.requests: list[list[str]] = []
        self.sync_calls = 0
        self.async_calls: list[tuple[int, bool]] = []  # (thread id, ran as a task of a running loop)

    def score(self, query: str, texts: Sequence[str]) -> Scores:
        self.sync_calls += 1
        self.requests.append(list(texts))
        return Scores(values=[overlap_score(query, t) for t in texts])

    async def ascore(self, query: str, texts: Sequence[str]) -> Scores:
        self.async_calls.append((threading.get_ident(), asyncio.current_task() is not None))
        self.requests.append(list(texts))
        await asyncio.sleep(0)
        return Scores(values=[overlap_score(query, t) for t in texts])

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


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
