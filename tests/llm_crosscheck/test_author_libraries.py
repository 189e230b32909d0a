"""The LLM formats against their authors' own libraries: FlagEmbedding and mxbai-rerank.

tests/test_llm_formats.py holds rerankit to the model cards' code written out with ``transformers``;
this file runs the authors' packages themselves on the same tiny checkpoints. Both packages need
transformers 4 (FlagEmbedding 1.4.2 imports ``transformers.modeling_attn_mask_utils``, which
transformers 5 removed), so CI runs this file in a separate environment (``.ci/run``, "authors'
libraries"); in the main environment it is skipped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FlagEmbedding = pytest.importorskip(
    "FlagEmbedding",
    reason="needs FlagEmbedding==1.4.2 with transformers<5; .ci/run runs this file in its own environment",
)
mxbai_rerank = pytest.importorskip("mxbai_rerank", reason="needs mxbai-rerank; .ci/run runs this file")

import torch  # noqa: E402

from rerankit import Reranker  # noqa: E402

QUERY = "how does a cross-encoder rerank passages"
DOCS = [
    "A cross-encoder reads the query and the passage together and outputs one relevance score.",
    "Paris is the capital of France.",
    "BM25 ranks documents by term frequency, " * 3,
    "short",
    "retrieval augmented generation reranks passages " * 40,  # cut when max_length is small
]


def by_index(response) -> np.ndarray:
    out = np.empty(len(response.results))
    for result in response.results:
        out[result.index] = result.relevance_score
    return out


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from rerankit.testing.models import build_bge_reranker_v2_gemma, build_mxbai_rerank_v2

    root = tmp_path_factory.mktemp("authors")
    return {
        "gemma": build_bge_reranker_v2_gemma(root / "bge-reranker-v2-gemma"),
        "mxbai": build_mxbai_rerank_v2(root / "mxbai-rerank-base-v2"),
    }


@pytest.mark.parametrize(
    ("prompt", "max_length"), [(None, 512), ("Is the passage about search?", 512), (None, 120)]
)
def test_bge_reranker_v2_gemma_equals_flagembedding(checkpoints, prompt, max_length) -> None:
    from FlagEmbedding import FlagLLMReranker

    path = checkpoints["gemma"]
    flag = FlagLLMReranker(str(path), use_fp16=False, devices="cpu", batch_size=2, max_length=max_length)
    expected = flag.compute_score(
        [(QUERY, d) for d in DOCS], normalize=True, prompt=prompt, max_length=max_length
    )
    options = {"instruction": prompt} if prompt else {}
    got = by_index(Reranker(f"local/{path}", max_length=max_length, **options).rerank(QUERY, DOCS))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    assert np.ptp(expected) > 1e-3


@pytest.mark.parametrize(
    ("instruction", "max_length"), [(None, 8192), ("Find the best code snippet", 8192), (None, 200)]
)
def test_mxbai_rerank_v2_equals_mxbai_rerank(checkpoints, instruction, max_length) -> None:
    from mxbai_rerank import MxbaiRerankV2

    path = checkpoints["mxbai"]
    reranker = MxbaiRerankV2(str(path), device="cpu", torch_dtype=torch.float32, max_length=max_length)
    logits = reranker.predict([QUERY] * len(DOCS), DOCS, instruction=instruction)
    expected = torch.sigmoid(logits.float()).numpy()  # rerankit's 0-1 score of the package's logit
    options = {"instruction": instruction} if instruction else {}
    got = by_index(Reranker(f"local/{path}", max_length=max_length, **options).rerank(QUERY, DOCS))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    assert np.ptp(expected) > 1e-3
