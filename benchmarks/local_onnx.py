"""Local CPU without torch: the onnx/ backend (ONNX Runtime and OpenVINO, fp32 and static int8)
against torch fp32 rerankit, FlashRank on the same exported files, and fastembed's ONNX
cross-encoder path, all in one run.

    python benchmarks/local_onnx.py                      # --repeats 5 --documents 200
    python benchmarks/local_onnx.py --fastembed-python /tmp/fastembed-venv/bin/python

What it measures, on a MiniLM-L6-size cross-encoder whose scores carry signal (the shipped
all-MiniLM-L6-v2 body with its head fitted offline to the bi-encoder's cosine, see
``onnx_signal.py``), exported once by ``rerankit export-onnx`` (fp32 and ``--quantize int8``,
calibrated on the demo collection's training questions):

1. steady state: docs/s on 200 mixed-length documents (``harness.mixed_documents``), contenders
   round-robin in this process (the fastembed peer in its own process, driven round by round), with
   the speed-up over torch fp32 measured in the same round;
2. agreement with torch fp32: Kendall tau and top-10 overlap, per held-out demo question (26
   questions, each against 60 passages: its judged ones and others drawn with a fixed seed), mean
   and worst over questions, and on the 200 documents;
3. cold start: a fresh interpreter per measurement (import, load, first score of 10 documents),
   alternating torch and onnx, with the child's peak RSS after scoring the 200 documents;
4. installed size: the files of every distribution an install brings (the requirement closure of
   ``rerankit[onnx]`` and of ``rerankit[local]``, read from this environment's metadata).

Needs the main environment (torch, ``rerankit[all]``) plus ``flashrank``; fastembed pins
huggingface-hub<2, so it runs from its own venv (``--fastembed-python``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import harness
import numpy as np
from onnx_signal import demo_split, fit_quality, held_out_candidates, signal_checkpoint

FP32, INT8 = "onnx/model.onnx", "onnx/model_qint8_static.onnx"
FASTEMBED_WORKER = r"""
import json, sys, time
from fastembed.common.model_description import ModelSource
from fastembed.rerank.cross_encoder import TextCrossEncoder
directory, model_file = sys.argv[1], sys.argv[2]
TextCrossEncoder.add_custom_model("rerankit/bench", sources=ModelSource(hf="rerankit/bench"), model_file=model_file)
encoder = TextCrossEncoder("rerankit/bench", specific_model_path=directory)
for line in sys.stdin:
    query, documents = json.loads(line)
    wall, cpu = time.perf_counter(), time.process_time()
    scores = list(encoder.rerank(query, documents, batch_size=32))
    print(json.dumps([time.perf_counter() - wall, time.process_time() - cpu, [float(s) for s in scores]]), flush=True)
"""
COLD_START = r"""
import sys, time, json
start = time.perf_counter()
from rerankit import Reranker
spec, options, documents = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
reranker = Reranker(spec, **options)
reranker.rerank("how do rerankers score passages", documents[:10])
first = time.perf_counter() - start
reranker.rerank("how do rerankers score passages", documents)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps([first, peak / 1024,
      sorted(m for m in ("torch", "transformers", "onnxruntime", "openvino") if m in sys.modules)]))
"""


def exported(checkpoint: Path) -> Path:
    """The fitted checkpoint exported by rerankit export-onnx (fp32 and static int8), once."""
    from rerankit.backends._onnx._export import export_onnx

    directory = harness.CACHE_DIR / "minilm-l6-fitted-head-onnx"
    if (directory / INT8).exists():
        return directory
    train, _, data = demo_split()
    ids = sorted(data.corpus)
    calibration = directory.parent / "minilm-l6-calibration.jsonl"
    with calibration.open("w", encoding="utf-8") as out:  # the training questions: nothing held out
        for index, (_, text) in enumerate(train):
            for doc_id in ids[index::26][:10]:
                out.write(json.dumps({"query": text, "passage": data.corpus[doc_id].content}) + "\n")
    report = export_onnx(str(checkpoint), directory, quantize="int8", calibration=calibration)
    print(f"exported {report.files}; fp32 vs torch {report.max_abs_diff:.1e}; {report.notes}")
    return directory


def flashrank_cache(directory: Path, model_file: str) -> tuple[str, Path]:
    """A FlashRank cache directory whose model is our exported file (same tokenizer, same network)."""
    from flashrank.Config import model_file_map

    name = "ms-marco-MiniLM-L-12-v2"  # a name FlashRank knows; the files in it are ours
    cache = Path(tempfile.mkdtemp(prefix="flashrank-"))
    target = cache / name
    target.mkdir()
    for file in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy2(directory / file, target / file)
    settings = json.loads((directory / "tokenizer_config.json").read_text())
    special = {
        k: settings[k]
        for k in ("cls_token", "sep_token", "pad_token", "unk_token", "mask_token")
        if k in settings
    }
    (target / "special_tokens_map.json").write_text(json.dumps(special))
    os.symlink(directory / model_file, target / model_file_map[name])
    return name, cache


class FastembedPeer:
    """fastembed's TextCrossEncoder in its own interpreter, timed there one scoring pass per request."""

    def __init__(self, python: str, directory: Path, model_file: str) -> None:
        self.process = subprocess.Popen(
            [python, "-c", FASTEMBED_WORKER, str(directory), model_file],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.scores: np.ndarray | None = None

    def run(self, query: str, documents: list[str]) -> None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps([query, documents]) + "\n")
        self.process.stdin.flush()
        wall, cpu, scores = json.loads(self.process.stdout.readline())
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.scores = 1 / (1 + np.exp(-np.asarray(scores)))  # fastembed gives logits

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def in_order(reranker, query: str, documents: list[str]) -> np.ndarray:
    out = np.empty(len(documents))
    for result in reranker.rerank(query, documents).results:
        out[result.index] = result.relevance_score
    return out


def agreement(scores: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau

    top = set(np.argsort(-reference)[:10].tolist())
    return float(kendalltau(scores, reference).statistic), len(
        top & set(np.argsort(-scores)[:10].tolist())
    ) / 10


def steady_state(args: argparse.Namespace, checkpoint: Path, directory: Path) -> None:
    from flashrank import Ranker, RerankRequest

    from rerankit import Reranker

    documents = harness.mixed_documents(args.documents)
    rerankers = {
        "torch fp32 (local/)": Reranker(f"local/{checkpoint}", device="cpu"),
        "onnxruntime fp32": Reranker(f"onnx/{directory}"),
        "onnxruntime int8 (static)": Reranker(f"onnx/{directory}", model_file=INT8),
        "openvino fp32": Reranker(f"onnx/{directory}", runtime="openvino"),
        "openvino int8 (static)": Reranker(f"onnx/{directory}", runtime="openvino", model_file=INT8),
    }
    flashrank = {}
    for label, model_file in (("FlashRank, same fp32 file", FP32), ("FlashRank, same int8 file", INT8)):
        name, cache = flashrank_cache(directory, model_file)
        flashrank[label] = Ranker(model_name=name, cache_dir=str(cache), max_length=512, log_level="WARNING")
    peers = {}
    if args.fastembed_python:
        for label, model_file in (("fastembed, same fp32 file", FP32), ("fastembed, same int8 file", INT8)):
            peers[label] = FastembedPeer(args.fastembed_python, directory, model_file)
    scores: dict[str, np.ndarray] = {}

    def ours(name: str):
        def run() -> None:
            scores[name] = in_order(rerankers[name], harness.QUERY, documents)

        return run

    def flash(name: str):
        def run() -> None:
            # FlashRank has no batching: one call pads every passage to the longest (512 tokens
            # here), and a call with all 200 took about 20 GB and was killed by the OOM killer on
            # this machine; so it gets 32 passages per call, in input order, as a caller would cut them
            out = np.empty(len(documents))
            for start in range(0, len(documents), 32):
                passages = [
                    {"id": i, "text": documents[i]} for i in range(start, min(start + 32, len(documents)))
                ]
                for item in flashrank[name].rerank(RerankRequest(query=harness.QUERY, passages=passages)):
                    out[item["id"]] = item["score"]
            scores[name] = out

        return run

    contenders = {name: ours(name) for name in rerankers} | {name: flash(name) for name in flashrank}
    contenders |= {
        name: (lambda peer=peer: peer.run(harness.QUERY, documents)) for name, peer in peers.items()
    }
    timings = harness.measure(contenders, repeats=args.repeats)
    for name, peer in peers.items():  # its own process's clock, not this one's
        timings.wall[name], timings.cpu[name] = peer.wall[1:], peer.cpu[1:]
        scores[name] = peer.scores  # type: ignore[assignment]
        peer.close()
    baseline = "torch fp32 (local/)"
    wall, cpu = harness.ratios_to(timings.wall, baseline), harness.ratios_to(timings.cpu, baseline)
    rows = []
    for name in contenders:
        tau, overlap = agreement(scores[name], scores[baseline])
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
        f"Steady state, {len(documents)} mixed documents, median of {args.repeats} rounds",
        [
            "contender",
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


def held_out_agreement(checkpoint: Path, directory: Path) -> None:
    from rerankit import Reranker

    _, _, data = demo_split()
    reference = Reranker(f"local/{checkpoint}", device="cpu")
    variants = {
        "onnxruntime fp32": Reranker(f"onnx/{directory}"),
        "onnxruntime int8 (static)": Reranker(f"onnx/{directory}", model_file=INT8),
        "openvino int8 (static)": Reranker(f"onnx/{directory}", runtime="openvino", model_file=INT8),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    questions = held_out_candidates()
    for _, query, ids in questions:
        passages = [data.corpus[i].content for i in ids]
        expected = in_order(reference, query, passages)
        for name, reranker in variants.items():
            results[name].append(agreement(in_order(reranker, query, passages), expected))
    rows = [
        [
            name,
            f"{np.mean([t for t, _ in values]):.3f}",
            f"{min(t for t, _ in values):.3f}",
            f"{np.mean([o for _, o in values]):.2f}",
            f"{min(o for _, o in values):.2f}",
        ]
        for name, values in results.items()
    ]
    harness.print_table(
        f"Agreement with torch fp32 on {len(questions)} held-out demo questions x {len(questions[0][2])} passages",
        ["network", "Kendall tau (mean)", "(worst question)", "top-10 overlap (mean)", "(worst question)"],
        rows,
    )


def cold_start(args: argparse.Namespace, checkpoint: Path, directory: Path) -> None:
    documents = json.dumps(harness.mixed_documents(args.documents))
    specs = {
        "torch fp32 (local/)": (f"local/{checkpoint}", {"device": "cpu"}),
        "onnxruntime fp32": (f"onnx/{directory}", {}),
        "onnxruntime int8 (static)": (f"onnx/{directory}", {"model_file": INT8}),
        "openvino int8 (static)": (f"onnx/{directory}", {"runtime": "openvino", "model_file": INT8}),
    }
    measured: dict[str, list[list]] = {name: [] for name in specs}
    environment = os.environ | {"PYTHONPATH": str(harness.REPO_ROOT / "integrations")}
    for round_number in range(args.cold_repeats):
        order = list(specs.items())
        for name, (spec, options) in order if round_number % 2 == 0 else reversed(order):
            start = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", COLD_START, spec, json.dumps(options), documents],
                capture_output=True,
                text=True,
                env=environment,
                check=True,
            )
            total = time.perf_counter() - start
            first, rss, modules = json.loads(out.stdout.strip().splitlines()[-1])
            measured[name].append([total, first, rss, modules])
    base = harness.median([m[1] for m in measured["torch fp32 (local/)"]])
    rows = []
    for name, runs in measured.items():
        first = harness.median([m[1] for m in runs])
        rows.append(
            [
                name,
                first,
                f"{first / base:.2f}x",
                harness.median([m[0] for m in runs]),
                f"{harness.median([m[2] for m in runs]):.0f}",
                ", ".join(runs[0][3]),
            ]
        )
    harness.print_table(
        f"Cold start in a fresh interpreter (import, load, first 10 documents), median of {args.cold_repeats}",
        [
            "contender",
            "cold start s (import, load, first 10)",
            "vs torch",
            "whole process s (also 200 docs, exit)",
            "peak RSS MiB (after 200 docs)",
            "modules loaded",
        ],
        rows,
    )


def _closure(requirements: list[str]) -> set[str]:
    from packaging.requirements import Requirement

    seen: set[str] = set()
    pending = [(Requirement(text), set()) for text in requirements]
    while pending:
        requirement, extras = pending.pop()
        name = re.sub(r"[-_.]+", "-", requirement.name).lower()
        if requirement.marker and not any(
            requirement.marker.evaluate({"extra": e}) for e in (extras or {""})
        ):
            continue
        key = f"{name}[{','.join(sorted(requirement.extras))}]"
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for text in distribution.requires or []:
            pending.append((Requirement(text), set(requirement.extras)))
    return {key.split("[")[0] for key in seen}


def _size(names: set[str]) -> float:
    total = 0
    for name in names:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            continue
        for file in files:
            path = file.locate()
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def installed_size() -> None:
    from rerankit import __version__

    rows = []
    core = {"rerankit"} | _closure([f"rerankit=={__version__}"])
    for label, extras in (
        ("rerankit[onnx]", "onnx"),
        ("rerankit[openvino]", "openvino"),
        ("rerankit[onnx,serve] (the Docker image's)", "onnx,serve"),
        ("rerankit[local] (torch path)", "local"),
    ):
        names = _closure([f"rerankit[{extras}]=={__version__}"]) | {"rerankit"}
        biggest = sorted(names - core, key=lambda n: -_size({n}))[:3]
        rows.append(
            [label, f"{_size(names):.0f}", len(names), ", ".join(f"{n} {_size({n}):.0f}" for n in biggest)]
        )
    harness.print_table(
        "Installed size (site-packages files of every distribution the install brings, MB)",
        ["install", "MB", "distributions", "largest beyond the core (MB)"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--fastembed-python", help="a venv's python with fastembed installed")
    parser.add_argument("--skip", nargs="*", default=[], choices=["steady", "agreement", "cold", "size"])
    parser.add_argument(
        "--fit-quality", action="store_true", help="also score the fitted head against its teacher"
    )
    args = parser.parse_args()
    print(harness.machine())
    checkpoint = signal_checkpoint()
    directory = exported(checkpoint)
    if args.fit_quality:
        print("fitted head (held-out questions):", fit_quality(checkpoint))
    if "size" not in args.skip:
        installed_size()
    if "steady" not in args.skip:
        steady_state(args, checkpoint, directory)
    if "agreement" not in args.skip:
        held_out_agreement(checkpoint, directory)
    if "cold" not in args.skip:
        cold_start(args, checkpoint, directory)


if __name__ == "__main__":
    main()
