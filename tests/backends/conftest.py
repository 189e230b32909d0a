"""Fixtures for the late-interaction, seq2seq and listwise backends: tiny offline checkpoints, built once."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def t5_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random T5ForConditionalGeneration with ▁true/▁false/▁yes/▁no in its vocabulary."""
    from rerankit.testing.models import build_t5_reranker

    return build_t5_reranker(tmp_path_factory.mktemp("t5") / "t5")


@pytest.fixture(scope="session")
def colbert_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped MiniLM converted to a MultiVectorEncoder (query expansion 16, punctuation skiplist)."""
    from rerankit.testing.models import build_minilm_colbert

    return build_minilm_colbert(tmp_path_factory.mktemp("colbert") / "colbert")
