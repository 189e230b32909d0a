"""ONNX Runtime / OpenVINO runtimes of the local backend, and the ``model_file`` option that picks an export."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from rerankit import ConfigurationError, Reranker

QUERY = "which passage explains reranking"
DOCUMENTS = [
    "a cross-encoder reads the query and the passage together",
    "paris is the capital of france",
    "rerankers " * 40,
    "bm25 scores documents by term frequency",
    "short",
    "retrieval then reranking then generation",
]
ACCEL_ENV = (
    "needs rerankit[accel] ({}), which pins transformers<4.58 and so lives in its own environment; "
    ".ci/run runs these tests there (see docs/performance.md)"
)


def scores(reranker: Reranker) -> np.ndarray:
    out = np.empty(len(DOCUMENTS))
    for result in reranker.rerank(QUERY, DOCUMENTS).results:
        out[result.index] = result.relevance_score
    return out


def test_model_file_needs_an_exported_runtime(bert_model: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"model_file.*backend='onnx' or backend='openvino'"):
        Reranker(f"local/{bert_model}", model_file="onnx/model.onnx")


@pytest.mark.parametrize("value", ["", "  ", 3])
def test_model_file_must_be_a_path(bert_model: Path, value) -> None:
    with pytest.raises(ConfigurationError, match="model_file must be a non-blank path"):
        Reranker(f"local/{bert_model}", backend="onnx", model_file=value)


def test_a_missing_model_file_lists_the_exports_that_exist(bert_model: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(bert_model, model)
    (model / "onnx").mkdir()
    (model / "onnx" / "model_qint8_avx2.onnx").write_bytes(b"")
    with pytest.raises(
        ConfigurationError, match=r"'onnx/model_O4\.onnx' is not in .*onnx/model_qint8_avx2\.onnx"
    ):
        Reranker(f"local/{model}", backend="onnx", model_file="onnx/model_O4.onnx")
    with pytest.raises(ConfigurationError, match="none \\(export one first"):
        Reranker(f"local/{model}", backend="openvino", model_file="openvino/openvino_model.xml")


def test_onnx_fp32_and_int8_exports_load_through_the_backend_option(bert_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("optimum.onnxruntime", reason=ACCEL_ENV.format("optimum-onnx[onnxruntime]"))
    from sentence_transformers import CrossEncoder
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    model = tmp_path / "model"
    shutil.copytree(bert_model, model)
    exported = CrossEncoder(str(model), backend="onnx", device="cpu")  # offline export of the checkpoint
    exported.save_pretrained(str(model))
    export_dynamic_quantized_onnx_model(exported, "avx2", str(model))
    # avx2 exports unsigned int8 (model_quint8_avx2.onnx); other targets export model_qint8_<isa>.onnx
    (int8_file,) = (model / "onnx").glob("model_*int8_avx2.onnx")

    reference = scores(Reranker(f"local/{bert_model}", device="cpu"))
    onnx = scores(Reranker(f"local/{model}", device="cpu", backend="onnx", model_file="onnx/model.onnx"))
    np.testing.assert_allclose(onnx, reference, atol=1e-5)
    int8 = Reranker(f"local/{model}", device="cpu", backend="onnx", model_file=f"onnx/{int8_file.name}")
    assert int8_file.name in repr(int8.backend)
    quantized = scores(int8)
    assert not np.allclose(quantized, reference, atol=1e-7), "the int8 file was not the one loaded"
    assert np.corrcoef(quantized, reference)[0, 1] > 0.9


def test_openvino_export_scores_like_torch(bert_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("optimum.intel.openvino", reason=ACCEL_ENV.format("optimum-intel[openvino]"))
    model = tmp_path / "model"
    shutil.copytree(bert_model, model)
    reference = scores(Reranker(f"local/{bert_model}", device="cpu"))
    openvino = scores(Reranker(f"local/{model}", device="cpu", backend="openvino"))  # exported on load
    # OpenVINO runs bf16 by default on CPUs with AVX512-BF16 or AMX, fp32 elsewhere: close, not equal.
    np.testing.assert_allclose(openvino, reference, atol=0.03)
    assert np.corrcoef(openvino, reference)[0, 1] > 0.99
