"""Local CPU acceleration: ONNX Runtime and OpenVINO, fp32 and int8, against torch fp32 in rerankit.

Every contender is ``Reranker("local/<dir>", device="cpu", backend=..., model_file=...)`` on the
same MiniLM-L6-size checkpoint and the same 200 mixed-length documents, with the same batching;
only the runtime differs. The exports are made offline from the local checkpoint, once, into a
copy of it (``$RERANKIT_BENCH_CACHE/minilm-l6-cross-encoder-accel``), with sentence-transformers'
own tools:

- ``onnx/model.onnx``: ``CrossEncoder(dir, backend="onnx")`` then ``save_pretrained(dir)``;
- ``onnx/model_qint8_<isa>.onnx``: ``export_dynamic_quantized_onnx_model`` (dynamic int8, for the
  CPU's instruction set: avx512_vnni, avx512, avx2 or arm64);
- ``openvino/openvino_model.xml``: ``CrossEncoder(dir, backend="openvino")`` then ``save_pretrained``;
- ``openvino/openvino_model_qint8_quantized.xml``: ``export_static_quantized_openvino_model``
  (static int8, calibrated on 300 local texts written to a JSON-lines folder; no hub dataset).

Agreement with torch fp32 on the same inputs: Kendall's tau over all 200 scores (scipy) and the
overlap of the top 10.

Needs ``rerankit[accel]`` (optimum-onnx[onnxruntime], optimum-intel[openvino]) plus ``datasets`` for
the OpenVINO calibration. optimum-onnx pins transformers<4.58, so this runs in its own environment
(see docs/performance.md)::

    python -m venv --system-site-packages /tmp/accel && /tmp/accel/bin/pip install \\
        "sentence-transformers>=5.4,<6" "optimum-onnx[onnxruntime]" "optimum-intel[openvino]" \\
        datasets "huggingface_hub<1" "torch==$(python -c 'import torch; print(torch.__version__.split("+")[0])')"
    /tmp/accel/bin/python benchmarks/local_accel.py      # --repeats 5; exports once (~2 min)
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import harness
import numpy as np

ONNX_INT8 = "onnx/model_qint8_{isa}.onnx"
OPENVINO_INT8 = "openvino/openvino_model_qint8_quantized.xml"


def cpu_isa() -> str:
    """The dynamic-quantization target sentence-transformers offers that this CPU runs best."""
    import platform

    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    cpuinfo = Path("/proc/cpuinfo")
    flags = set(cpuinfo.read_text().split()) if cpuinfo.exists() else set()
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    return "avx512" if "avx512f" in flags else "avx2"


def export_all(isa: str) -> Path:
    """Export the checkpoint to ONNX and OpenVINO, fp32 and int8, offline; reuse earlier exports."""
    from sentence_transformers import CrossEncoder
    from sentence_transformers.backend import (
        export_dynamic_quantized_onnx_model,
        export_static_quantized_openvino_model,
    )

    directory = harness.CACHE_DIR / "minilm-l6-cross-encoder-accel"
    if not (directory / "config.json").exists():
        shutil.copytree(harness.minilm_checkpoint(), directory, dirs_exist_ok=True)
    if not (directory / ONNX_INT8.format(isa=isa)).exists():
        onnx = CrossEncoder(str(directory), backend="onnx", device="cpu")
        onnx.save_pretrained(str(directory))
        export_dynamic_quantized_onnx_model(onnx, isa, str(directory))
    if not (directory / OPENVINO_INT8).exists():
        openvino = CrossEncoder(str(directory), backend="openvino", device="cpu")
        openvino.save_pretrained(str(directory))
        calibration = harness.CACHE_DIR / "calibration"
        calibration.mkdir(parents=True, exist_ok=True)
        with (calibration / "train.jsonl").open("w") as out:
            for text in harness.mixed_documents(300, seed=1):  # not the measured documents
                out.write(json.dumps({"text": f"{harness.QUERY} {text}"}) + "\n")
        export_static_quantized_openvino_model(
            openvino,
            None,
            str(directory),
            dataset_name=str(calibration),
            dataset_config_name="default",
            dataset_split="train",
            column_name="text",
        )
    return directory


def main() -> None:
    from scipy.stats import kendalltau

    from rerankit import Reranker

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--documents", type=int, default=200)
    args = parser.parse_args()
    print(harness.machine())
    isa = cpu_isa()
    directory = export_all(isa)
    variants = {
        "torch fp32": {},
        "onnx fp32": {"backend": "onnx", "model_file": "onnx/model.onnx"},
        f"onnx int8 ({isa}, dynamic)": {"backend": "onnx", "model_file": ONNX_INT8.format(isa=isa)},
        "openvino fp32": {"backend": "openvino", "model_file": "openvino/openvino_model.xml"},
        "openvino int8 (static)": {"backend": "openvino", "model_file": OPENVINO_INT8},
    }
    documents = harness.mixed_documents(args.documents)
    rerankers = {
        name: Reranker(f"local/{directory}", device="cpu", **options) for name, options in variants.items()
    }
    scores: dict[str, np.ndarray] = {}

    def call(name: str):
        def run() -> None:
            out = np.empty(len(documents))
            for result in rerankers[name].rerank(harness.QUERY, documents).results:
                out[result.index] = result.relevance_score
            scores[name] = out

        return run

    timings = harness.measure({name: call(name) for name in variants}, repeats=args.repeats)
    wall = harness.ratios_to(timings.wall, "torch fp32")
    cpu = harness.ratios_to(timings.cpu, "torch fp32")
    reference = scores["torch fp32"]
    top = set(np.argsort(-reference)[:10].tolist())
    rows = []
    for name in variants:
        tau = kendalltau(scores[name], reference).statistic
        overlap = len(top & set(np.argsort(-scores[name])[:10].tolist())) / 10
        seconds = harness.median(timings.wall[name])
        rows.append(
            [
                name,
                seconds,
                harness.median(timings.cpu[name]),
                len(documents) / seconds,
                f"{1 / wall[name]:.2f}x",
                f"{1 / cpu[name]:.2f}x",
                f"{tau:.3f}",
                f"{overlap:.2f}",
            ]
        )
    harness.print_table(
        f"CPU runtimes, {len(documents)} documents, median of {args.repeats} rounds",
        [
            "runtime",
            "wall s",
            "CPU s",
            "docs/s",
            "speed-up (wall)",
            "speed-up (CPU)",
            "Kendall tau",
            "top-10 overlap",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
