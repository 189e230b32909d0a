"""The exported checkpoints the onnx tests read: built here when torch is installed, else read from
``RERANKIT_ONNX_CHECKPOINTS`` (``.ci/run`` builds them once with the main environment's Python for
the torch-free environment, whose point is that it cannot build them)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rerankit import Reranker

CHECKPOINTS_VARIABLE = "RERANKIT_ONNX_CHECKPOINTS"


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory :func:`rerankit.testing.models.build_onnx_checkpoints` writes."""
    given = os.environ.get(CHECKPOINTS_VARIABLE)
    if given:
        root = Path(given)
        if not (root / "reference.json").is_file():
            raise pytest.UsageError(f"{CHECKPOINTS_VARIABLE}={given} holds no reference.json")
        return root
    if importlib.util.find_spec("torch") is None:
        raise pytest.UsageError(
            f"torch is not installed here, so the onnx checkpoints cannot be built: build them where it "
            f"is (python -c 'from rerankit.testing.models import build_onnx_checkpoints; "
            f'build_onnx_checkpoints("DIR")\') and set {CHECKPOINTS_VARIABLE}=DIR'
        )
    from rerankit.testing.models import build_onnx_checkpoints

    return build_onnx_checkpoints(tmp_path_factory.mktemp("onnx-checkpoints"))


@pytest.fixture(scope="session")
def reference(checkpoints: Path) -> dict[str, Any]:
    """``query``, ``documents`` and per checkpoint the scores ``CrossEncoder.predict`` gave."""
    return json.loads((checkpoints / "reference.json").read_text())


@pytest.fixture(scope="session")
def bert_dir(checkpoints: Path) -> Path:
    """The tiny BERT in sentence-transformers' layout (fp32, dynamic and static int8, OpenVINO IR)."""
    return checkpoints / "bert"


def scores_of(reranker: Reranker, query: str, documents: list[str]) -> np.ndarray:
    """Scores in input order, through the core."""
    out = np.full(len(documents), np.nan)
    for result in reranker.rerank(query, documents).results:
        out[result.index] = result.relevance_score
    return out
