"""NNCF int8 variants of the benchmark's fitted MiniLM, each measured on agreement only.

    RERANKIT_BENCH_CACHE=/tmp/bench python benchmarks/onnx_int8_variants.py baseline sq_off ffn_out_fp32

For each named variant: quantize the fp32 ``onnx/model.onnx`` that ``local_onnx.py`` exports (the
head kept fp32, as ``export-onnx --quantize int8`` does), with that variant's NNCF options, then
score the 26 held-out demo questions (60 passages each) on ONNX Runtime and OpenVINO and print
Kendall tau and top-10 overlap against torch fp32 (mean and worst question), one JSON line per
variant. Calibration uses the training questions only (``local_onnx.py``'s 260 pairs, or
``wide60``: 60 passages per training question, judged ones first); the held-out questions are
never seen. Options are NNCF's (https://openvinotoolkit.github.io/nncf/, "Post-training
quantization": preset, model_type, ignored_scope, SmoothQuant alpha, subset_size,
fast_bias_correction).
"""

from __future__ import annotations

import json
import random
import re
import sys
import time

import harness
import numpy as np
from local_onnx import agreement, exported, in_order
from onnx_signal import demo_split, held_out_candidates, signal_checkpoint


def _namespace(node) -> str:
    return next((p.value for p in node.metadata_props if p.key == "namespace"), "")


def select(network, pattern: str) -> list[str]:
    """The MatMul/Gemm nodes whose module path matches ``pattern``."""
    return [
        n.name
        for n in network.graph.node
        if n.op_type in ("MatMul", "Gemm") and re.search(pattern, _namespace(n))
    ]


def embedding_tables(network) -> list[str]:
    """The ``Gather`` nodes that look up a 2-d weight table (word, position, token type embeddings)."""
    tables = {t.name for t in network.graph.initializer if len(t.dims) == 2}
    return [n.name for n in network.graph.node if n.op_type == "Gather" and n.input[0] in tables]


def wide_pairs(per_question: int) -> list[tuple[str, str]]:
    """Per training question its judged passages, then others drawn with a fixed seed."""
    train, _, data = demo_split()
    ids = sorted(data.corpus)
    rng = random.Random(1)
    pairs = []
    for query_id, text in train:
        judged = sorted(data.qrels.get(query_id, {}))
        others = rng.sample([i for i in ids if i not in judged], max(0, per_question - len(judged)))
        pairs += [(text, data.corpus[i].content) for i in (judged + others)[:per_question]]
    return pairs


def variants(network) -> dict[str, dict]:
    """Name -> NNCF keyword options (``ignored`` names nodes kept fp32 beside the head)."""
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters as Advanced
    from nncf.quantization.advanced_parameters import AdvancedSmoothQuantParameters as Smooth

    # sq_0.5, bias_correction and attention_matmuls_fp32 were not run for docs/performance.md (time)
    return {
        "baseline": {},
        "wide60": {"calibration": "wide60"},
        "sq_off": {"advanced_parameters": Advanced(smooth_quant_alphas=Smooth(matmul=-1))},
        "sq_0.5": {"advanced_parameters": Advanced(smooth_quant_alphas=Smooth(matmul=0.5))},
        "bias_correction": {"fast_bias_correction": False},
        "last_layer_fp32": {"ignored": select(network, r"layer\.5\.")},
        "last_two_layers_fp32": {"ignored": select(network, r"layer\.[45]\.")},
        "ffn_out_fp32": {"ignored": select(network, r"layer\.\d\.output\.dense")},
        "embeddings_fp32": {"ignored": embedding_tables(network)},
        "attention_matmuls_fp32": {"ignored": select(network, r"scaled_dot_product_attention")},
    }


def main(names: list[str]) -> None:
    import nncf
    import onnx

    from rerankit import Reranker
    from rerankit.backends._onnx import _quantize
    from rerankit.backends._onnx._model import OnnxModel

    checkpoint = signal_checkpoint()
    directory = exported(checkpoint)
    fp32 = OnnxModel(
        str(directory), runtime="onnxruntime", model_file=None, max_length=None, threads=None, revision=None
    )
    network = onnx.load(str(fp32.files.model_path))
    _, _, data = demo_split()
    questions = held_out_candidates()
    reference_model = Reranker(f"local/{checkpoint}", device="cpu")
    reference = [
        in_order(reference_model, q, [data.corpus[i].content for i in ids]) for _, q, ids in questions
    ]
    table = variants(network)
    for name in names:
        options = dict(table[name])
        kind = options.pop("calibration", "bench")
        pairs = (
            _quantize.read_calibration_pairs(directory.parent / "minilm-l6-calibration.jsonl")
            if kind == "bench"
            else wide_pairs(int(kind[4:]))
        )
        batches = _quantize._calibration_batches(fp32, pairs)
        ignored = _quantize.head_nodes(network) + options.pop("ignored", [])
        start = time.perf_counter()
        quantized = nncf.quantize(
            network,
            nncf.Dataset(batches),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(batches),
            ignored_scope=nncf.IgnoredScope(names=ignored, validate=False),
            **options,
        )
        seconds = time.perf_counter() - start
        onnx.save(quantized, str(directory / "onnx" / f"variant_{name}.onnx"))
        row: dict = {"variant": name, "kept fp32": len(ignored), "quantize s": round(seconds)}
        for runtime in ("onnxruntime", "openvino"):
            reranker = Reranker(f"onnx/{directory}", runtime=runtime, model_file=f"onnx/variant_{name}.onnx")
            values = [
                agreement(in_order(reranker, q, [data.corpus[i].content for i in ids]), reference[k])
                for k, (_, q, ids) in enumerate(questions)
            ]
            taus, overlaps = [t for t, _ in values], [o for _, o in values]
            row[runtime] = {
                "tau": round(float(np.mean(taus)), 3),
                "worst tau": round(min(taus), 3),
                "top-10": round(float(np.mean(overlaps)), 3),
                "worst top-10": min(overlaps),
            }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    print(harness.machine())
    main(sys.argv[1:] or ["baseline"])
