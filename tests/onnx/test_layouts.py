"""Every repository layout the onnx backend reads, as the hub ships it, scores as
``CrossEncoder.predict`` does on the same weights (``reference.json``, computed with
sentence-transformers from the torch checkpoint when the networks were exported)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rerankit import ConfigurationError, Reranker
from rerankit.testing.models import HUB_COMMIT, HUB_REPO
from tests.onnx.conftest import scores_of

#: fp32 agreement with CrossEncoder.predict (the project's fidelity bar).
FP32 = 1e-4


@pytest.mark.parametrize(
    ("layout", "model_file"),
    [
        ("bert", None),  # sentence-transformers': onnx/model.onnx
        ("bert2", None),  # two labels: the relevant class's softmax probability
        ("xlmr", None),  # weights in onnx/model.onnx_data beside the graph
        ("modernbert", None),  # transformers.js': onnx/model.onnx, no token_type_ids
        ("optimum", None),  # optimum-cli's model.onnx at the top
    ],
)
def test_fp32_networks_score_as_cross_encoder_predict(
    checkpoints: Path, reference: dict[str, Any], layout: str, model_file: str | None
) -> None:
    reranker = Reranker(f"onnx/{checkpoints / layout}")
    got = scores_of(reranker, reference["query"], reference["documents"])
    np.testing.assert_allclose(got, reference["scores"][layout], atol=FP32, rtol=0)
    assert reranker.backend.model_file == ("model.onnx" if layout == "optimum" else "onnx/model.onnx")


@pytest.mark.parametrize("model_file", ["onnx/model.onnx", "openvino/openvino_model.xml"])
def test_openvino_reads_the_same_onnx_file_and_its_own_ir(
    bert_dir: Path, reference: dict[str, Any], model_file: str
) -> None:
    pytest.importorskip(
        "openvino", reason="runtime='openvino' needs the openvino package (rerankit[openvino])"
    )
    reranker = Reranker(f"onnx/{bert_dir}", runtime="openvino", model_file=model_file)
    got = scores_of(reranker, reference["query"], reference["documents"])
    np.testing.assert_allclose(got, reference["scores"]["bert"], atol=FP32, rtol=0)


@pytest.mark.parametrize(
    ("layout", "model_file"),
    [
        ("bert", "onnx/model_qint8_avx512_vnni.onnx"),  # sentence-transformers' dynamic int8
        ("bert", "onnx/model_qint8_static.onnx"),  # rerankit export-onnx --quantize int8
        ("modernbert", "onnx/model_quantized.onnx"),  # transformers.js' int8
    ],
)
def test_int8_variants_load_by_model_file(
    checkpoints: Path, reference: dict[str, Any], layout: str, model_file: str
) -> None:
    reranker = Reranker(f"onnx/{checkpoints / layout}", model_file=model_file)
    assert model_file in repr(reranker.backend)
    got = scores_of(reranker, reference["query"], reference["documents"])
    expected = np.asarray(reference["scores"][layout])
    assert not np.allclose(got, expected, atol=1e-7), "the int8 file was not the one loaded"
    assert np.abs(got - expected).max() < 0.2  # a tiny random model: close, not equal


def test_a_hub_id_loads_from_the_hub_cache_offline(
    checkpoints: Path, reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(checkpoints / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    reranker = Reranker(f"onnx/{HUB_REPO}")
    assert HUB_COMMIT in str(reranker.backend.loaded.files.directory)
    got = scores_of(reranker, reference["query"], reference["documents"])
    np.testing.assert_allclose(got, reference["scores"]["bert"], atol=FP32, rtol=0)
    with pytest.raises(
        ConfigurationError, match=r"model_file 'onnx/model_O4\.onnx' is not in hub repository"
    ):
        Reranker(f"onnx/{HUB_REPO}", model_file="onnx/model_O4.onnx")
    with pytest.raises(ConfigurationError, match="could not load onnx model 'nobody/nothing'"):
        Reranker("onnx/nobody/nothing")
