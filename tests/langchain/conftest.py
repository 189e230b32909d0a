"""Fixtures for the LangChain tests: a small corpus, a real vector-store retriever, test backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import InMemoryVectorStore

from rerankit.testing import FakeBackend
from rerankit.testing.servers import RerankServer
from tests.langchain.rerank_lc_support import CORPUS, LOOPBACK_KEY, make_overlap_backend


@pytest.fixture
def corpus() -> list[Document]:
    """Fresh copies of the corpus, so a test may compare against the originals."""
    return [d.model_copy(deep=True) for d in CORPUS]


@pytest.fixture
def vector_retriever(corpus: list[Document]) -> BaseRetriever:
    """A real first stage: an in-memory vector store with a deterministic embedding, k=6."""
    store = InMemoryVectorStore(DeterministicFakeEmbedding(size=32))
    store.add_documents(corpus)
    return store.as_retriever(search_kwargs={"k": 6})


@pytest.fixture
def overlap_backend() -> FakeBackend:
    return make_overlap_backend()


@pytest.fixture
def local_spec(bert_model) -> str:
    """The spec of the tiny offline BERT cross-encoder."""
    return f"local/{bert_model}"


@pytest.fixture(scope="module")
def gateway_server() -> Iterator[RerankServer]:
    """A loopback OpenAI-compatible rerank gateway (scores are ``expected_score``)."""
    with RerankServer("gateway", api_key=LOOPBACK_KEY) as server:
        yield server
