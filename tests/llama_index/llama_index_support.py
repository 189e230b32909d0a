"""Helpers shared by the LlamaIndex adapter tests: corpus, index, handlers, a failing backend."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CBEventType, LlamaDebugHandler
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.schema import NodeWithScore, TextNode

from rerankit import ServerError
from rerankit.testing import FakeBackend

QUERY = "how do rerankers score a query and a document?"

CORPUS = [
    ("Rerankers score a query and a document together with full cross attention.", "guide"),
    ("BM25 is a bag of words ranking function used by search engines.", "wiki"),
    ("The quick brown fox jumps over the lazy dog near the river bank.", "pangram"),
    ("Dense retrieval embeds queries and passages into one vector space.", "paper"),
    ("Paris is the capital of France and Berlin is the capital of Germany.", "atlas"),
    ("A cross-encoder reads the query and the passage at once and outputs a relevance score.", "blog"),
]


def make_nodes() -> list[TextNode]:
    """Fresh text nodes with metadata (which the EMBED and LLM views include)."""
    return [
        TextNode(id_=f"node-{i}", text=text, metadata={"source": source})
        for i, (text, source) in enumerate(CORPUS)
    ]


def make_scored_nodes(nodes: Sequence[TextNode] | None = None) -> list[NodeWithScore]:
    """Nodes as a retriever returns them, with distinct retrieval scores."""
    nodes = make_nodes() if nodes is None else nodes
    return [NodeWithScore(node=node, score=1.0 - i / 10) for i, node in enumerate(nodes)]


def build_index(nodes: Sequence[TextNode] | None = None) -> VectorStoreIndex:
    """An in-memory index over the corpus; MockEmbedding makes every node equally similar."""
    return VectorStoreIndex(
        nodes=list(make_nodes() if nodes is None else nodes), embed_model=MockEmbedding(embed_dim=8)
    )


class EventLog(BaseEventHandler):
    """A real instrumentation event handler that keeps every event it sees."""

    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "EventLog"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)

    def of(self, *types: type) -> list[BaseEvent]:
        """The events of the given types, in the order they were dispatched."""
        return [event for event in self.events if isinstance(event, types)]


def reranking_pairs(debug_handler: LlamaDebugHandler) -> list:
    """The legacy RERANKING (start, end) event pairs the handler saw."""
    return debug_handler.get_event_pairs(CBEventType.RERANKING)


def failing_backend() -> FakeBackend:
    """A backend whose every call fails like a provider outage."""
    outage = ServerError("provider is down", provider="failing", status_code=503)
    return FakeBackend("failing", "outage-v1", max_concurrency=1, fail_with=outage)
