"""Tiny offline models and rerank servers over real HTTP on 127.0.0.1, shared by the serve tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rerankit.serve import BackgroundServer, ServeConfig
from rerankit.testing.models import build_bert_cross_encoder, build_qwen3_reranker

API_KEY = "serve-test-key-0123456789"
MODEL_NAME = "tiny-bert-reranker"

QUERY = "what is bm25"
DOCUMENTS = [
    "BM25 is a bag of words ranking function used by search engines.",
    "Paris is the capital of France.",
    "Rerankers score a query and a document together with full cross attention.",
    "The quick brown fox jumps over the lazy dog.",
    "Paris is the capital of France.",  # a duplicate: scored once, listed twice
]


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_bert_cross_encoder(tmp_path_factory.mktemp("serve") / "bert")


@pytest.fixture(scope="session")
def qwen3_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_qwen3_reranker(tmp_path_factory.mktemp("serve") / "qwen3")


@pytest.fixture(scope="session")
def bert_spec(bert_dir: Path) -> str:
    return f"local/{bert_dir}"


@pytest.fixture(scope="session")
def server(bert_spec: str) -> Iterator[BackgroundServer]:
    """The tiny BERT served with a key, as ``tiny-bert-reranker``, small limits to test them."""
    config = ServeConfig(
        spec=bert_spec,
        options={"device": "cpu"},
        served_model_name=MODEL_NAME,
        api_key=API_KEY,
        max_documents_per_request=50,
        max_request_bytes=20_000,
    )
    with BackgroundServer(config) as running:
        yield running
