"""The onnx backend imports neither torch nor transformers: checked in a fresh interpreter where
importing either (or sentence-transformers) fails, as it does in the torch-free CI environment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BLOCKER = """
import importlib.abc, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "sentence_transformers", "optimum"):
            raise ImportError(f"blocked in this test: {name}")
        return None

sys.meta_path.insert(0, Blocked())
"""


def test_scoring_through_the_core_needs_neither_torch_nor_transformers(bert_dir: Path) -> None:
    code = (
        BLOCKER
        + f"""
import json
from rerankit import Reranker
from rerankit.backends import OnnxCrossEncoder
import rerankit.langchain, rerankit.llama_index, rerankit.serve
try:
    import torch
except ImportError as exc:
    blocked = str(exc)
response = Reranker("onnx/" + {str(bert_dir)!r}).rerank("what is bm25", ["a ranking function", "a fruit"])
print(json.dumps({{
    "blocked": blocked,
    "scores": [r.relevance_score for r in response.results],
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "sentence_transformers")),
}}))
"""
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["blocked"] == "blocked in this test: torch"
    assert len(report["scores"]) == 2
    assert report["loaded"] == []
