"""Tiny exported cross-encoders in each layout the hub ships, for the ``onnx/`` backend's tests.

Building needs torch, transformers, onnx and onnxruntime (the main environment); reading them
needs only ``rerankit[onnx]``, so ``.ci/run`` builds them once with the main environment's
Python and the torch-free environment's tests read them (``RERANKIT_ONNX_CHECKPOINTS``).
:func:`build_onnx_checkpoints` also writes ``reference.json``: the scores
``sentence_transformers.CrossEncoder.predict`` gives for :data:`REFERENCE_PAIRS` on each
checkpoint's torch weights, what the ONNX networks must reproduce.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

#: The pairs the reference scores are computed on: short, long (past every window), repeated words.
REFERENCE_QUERY = "which passage explains reranking"
REFERENCE_DOCUMENTS = [
    "a cross-encoder reads the query and the passage together",
    "paris is the capital of france",
    "rerankers " * 300,
    "bm25 scores documents by term frequency",
    "short",
    "retrieval then reranking then generation, and the capital of france is paris",
]
#: The hub repository id the hub-cache layout is filed under.
HUB_REPO = "rerankit-tests/tiny-bert-reranker"
HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def build_onnx_cross_encoder(
    path: str | Path, *, architecture: str = "bert", quantize: str | None = None, seed: int = 0
) -> Path:
    """A tiny random cross-encoder exported by ``rerankit export-onnx`` into ``path``.

    Args:
        path: The directory to write (the checkpoint's config and tokenizer, ``onnx/model.onnx``).
        architecture: ``"bert"``, ``"bert2"`` (two labels), ``"xlmr"`` or ``"modernbert"``.
        quantize: ``"int8"``: also ``onnx/model_qint8_static.onnx``.
        seed: The weights' seed.
    """
    from rerankit.backends._onnx._export import export_onnx

    with tempfile.TemporaryDirectory() as scratch:
        source = _build_torch(Path(scratch) / architecture, architecture, seed)
        export_onnx(str(source), path, quantize=quantize)
    return Path(path)


def _build_torch(path: Path, architecture: str, seed: int) -> Path:
    from rerankit.testing._encoder_models import (
        build_bert_cross_encoder,
        build_modernbert_cross_encoder,
        build_xlmr_cross_encoder,
    )

    if architecture == "bert":
        return build_bert_cross_encoder(path, seed=seed)
    if architecture == "bert2":
        return build_bert_cross_encoder(path, num_labels=2, seed=seed + 1)
    if architecture == "xlmr":
        return build_xlmr_cross_encoder(path, seed=seed)
    if architecture == "modernbert":
        return build_modernbert_cross_encoder(path, seed=seed)
    raise ValueError(f"unknown architecture {architecture!r}")


def _reference_scores(source: Path) -> list[float]:
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(source), device="cpu")
    scores = model.predict(
        [(REFERENCE_QUERY, d) for d in REFERENCE_DOCUMENTS], apply_softmax=model.num_labels == 2
    )
    return [float(row[-1]) if getattr(row, "ndim", 0) else float(row) for row in scores]


def _dynamic_int8(network: Path, target: Path) -> None:
    """sentence-transformers' and transformers.js' int8 files: dynamic quantization of the fp32 network."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(network), str(target), weight_type=QuantType.QInt8, per_channel=True)


def _external_data(directory: Path) -> None:
    """Move the network's weights into ``onnx/model.onnx_data``, as the hub's > 2 GB networks have them."""
    import onnx

    path = directory / "onnx" / "model.onnx"
    model = onnx.load(str(path))
    onnx.save_model(model, str(path), save_as_external_data=True, location="model.onnx_data")


def _openvino_ir(directory: Path) -> None:
    """sentence-transformers' ``openvino/openvino_model.xml`` (+ ``.bin``), converted from the ONNX file."""
    import openvino as ov

    (directory / "openvino").mkdir(exist_ok=True)
    # fp32 weights, as optimum-intel saves them for sentence-transformers (save_model's default is fp16)
    ov.save_model(
        ov.convert_model(str(directory / "onnx" / "model.onnx")),
        str(directory / "openvino" / "openvino_model.xml"),
        compress_to_fp16=False,
    )


def build_onnx_checkpoints(root: str | Path) -> Path:
    """Every layout the ``onnx/`` backend reads, under ``root``, with ``reference.json``.

    - ``bert``: sentence-transformers' layout: ``onnx/model.onnx``,
      ``onnx/model_qint8_avx512_vnni.onnx`` (dynamic int8), ``onnx/model_qint8_static.onnx``
      (``export-onnx --quantize int8``) and ``openvino/openvino_model.xml``;
    - ``bert2``: a two-label classifier (scores are the relevant class's softmax probability);
    - ``xlmr``: an XLM-RoBERTa network with its weights in ``onnx/model.onnx_data``;
    - ``modernbert``: transformers.js' layout: ``onnx/model.onnx``, ``onnx/model_quantized.onnx``;
    - ``optimum``: ``model.onnx`` at the top, as ``optimum-cli export onnx`` writes it;
    - ``hub``: a Hugging Face cache (``HF_HUB_CACHE``) holding the ``bert`` layout as
      :data:`HUB_REPO` at commit :data:`HUB_COMMIT`, for loading by hub id offline.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    reference: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("bert", "bert2", "xlmr", "modernbert"):
            source = _build_torch(Path(scratch) / name, name, 0)
            reference[name] = _reference_scores(source)
            from rerankit.backends._onnx._export import export_onnx

            export_onnx(str(source), root / name, quantize="int8" if name == "bert" else None)
    bert = root / "bert"
    _dynamic_int8(bert / "onnx" / "model.onnx", bert / "onnx" / "model_qint8_avx512_vnni.onnx")
    _openvino_ir(bert)
    _external_data(root / "xlmr")
    modernbert = root / "modernbert"
    _dynamic_int8(modernbert / "onnx" / "model.onnx", modernbert / "onnx" / "model_quantized.onnx")
    optimum = root / "optimum"
    shutil.copytree(bert, optimum, ignore=shutil.ignore_patterns("onnx", "openvino"))
    shutil.copy2(bert / "onnx" / "model.onnx", optimum / "model.onnx")
    reference["optimum"] = reference["bert"]
    repo = root / "hub" / ("models--" + HUB_REPO.replace("/", "--"))
    shutil.copytree(bert, repo / "snapshots" / HUB_COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(HUB_COMMIT)
    (root / "reference.json").write_text(
        json.dumps(
            {"query": REFERENCE_QUERY, "documents": REFERENCE_DOCUMENTS, "scores": reference}, indent=1
        )
    )
    return root


__all__ = [
    "HUB_COMMIT",
    "HUB_REPO",
    "REFERENCE_DOCUMENTS",
    "REFERENCE_QUERY",
    "build_onnx_checkpoints",
    "build_onnx_cross_encoder",
]
