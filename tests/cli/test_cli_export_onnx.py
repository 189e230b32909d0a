"""``rerankit export-onnx``: a torch checkpoint to the onnx backend's files, fp32 and static int8,
checked against ``CrossEncoder.predict`` (the authors' library) on the same weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rerankit import Reranker

QUERY = "how do rerankers score documents"
DOCUMENTS = [
    "BM25 is a bag of words ranking function.",
    "Rerankers read the query and the document together " * 30,
    "Paris is the capital of France.",
    "short",
]


def predict(model: Path) -> np.ndarray:
    from sentence_transformers import CrossEncoder

    return CrossEncoder(str(model), device="cpu").predict([(QUERY, d) for d in DOCUMENTS])


def onnx_scores(directory: Path, **options: object) -> np.ndarray:
    out = np.empty(len(DOCUMENTS))
    for result in Reranker(f"onnx/{directory}", **options).rerank(QUERY, DOCUMENTS).results:
        out[result.index] = result.relevance_score
    return out


def test_export_fp32_and_static_int8_with_a_calibration_file(cli, bert_model: Path, tmp_path: Path) -> None:
    calibration = tmp_path / "pairs.jsonl"
    calibration.write_text(
        "\n".join(json.dumps({"query": QUERY, "passage": d}) for d in DOCUMENTS * 4) + "\n", encoding="utf-8"
    )
    target = tmp_path / "exported"
    result = cli(
        "export-onnx", str(bert_model), str(target), "--quantize", "int8", "--calibration", str(calibration)
    )
    assert result.exit_code == 0, result.output
    assert "onnx/model.onnx, onnx/model_qint8_static.onnx" in result.stdout
    assert "calibrated on 16 pairs" in result.stdout
    assert {"config.json", "tokenizer.json", "tokenizer_config.json"} <= {p.name for p in target.iterdir()}
    reference = predict(bert_model)
    np.testing.assert_allclose(onnx_scores(target), reference, atol=1e-4, rtol=0)
    int8 = onnx_scores(target, model_file="onnx/model_qint8_static.onnx")
    assert not np.allclose(int8, reference, atol=1e-7)
    assert np.abs(int8 - reference).max() < 0.2


def test_export_refuses_other_shapes_and_bad_flags(cli, tiny_models: dict[str, Path], tmp_path: Path) -> None:
    result = cli("export-onnx", str(tiny_models["qwen3"]), str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "Qwen3ForCausalLM" in result.stderr and "BertForSequenceClassification" in result.stderr
    result = cli("export-onnx", str(tiny_models["bert"]), str(tmp_path / "out"), "--quantize", "int4")
    assert result.exit_code == 2 and "--quantize must be int8" in result.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "q"}\n', encoding="utf-8")
    result = cli(
        "export-onnx",
        str(tiny_models["bert"]),
        str(tmp_path / "out"),
        "--quantize",
        "int8",
        "--calibration",
        str(bad),
    )
    assert result.exit_code == 1 and "calibration line 1 must be an object" in result.stderr
