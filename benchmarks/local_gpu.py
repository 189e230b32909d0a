"""Local, GPU: pairs/s of rerankit against bare ``CrossEncoder.predict`` defaults, and concurrent calls.

Two model sizes, random weights (speed does not depend on them), built offline:

- ``minilm``: MiniLM-L6 size (the all-MiniLM-L6-v2 body with a seeded head, 6 layers, 384 hidden);
- ``xlmr-base``: bge-reranker-base size (XLM-RoBERTa, 12 layers, 768 hidden, 3072 intermediate),
  with the small offline XLM-R tokenizer of ``rerankit.testing.models`` (the vocabulary size only
  changes an embedding lookup).

At 128 and 512 tokens per pair (every document is long enough to be cut at ``max_length``):

- bare ``CrossEncoder(path, device=...).predict(pairs)``: its defaults, fp32, batch size 32;
- rerankit ``Reranker("local/<path>", device=..., max_length=...)``: its defaults (bf16 where the
  GPU supports it, else fp16; batch size 32);
- rerankit tuned: the same with ``batch_size=256, max_batch_tokens=65536``.

Each row: median seconds per call over interleaved rounds, pairs/s, the per-round ratio to bare
predict, and the share of the GPU's dense bf16 peak the forward passes reach (FLOPs counted as
``2 x parameters x tokens`` for the linear layers plus ``4 x layers x tokens^2 x hidden`` for
attention; peaks from the vendor's data sheets for the GPUs named in ``PEAK_BF16``).

Then 64 concurrent ``arerank`` calls of 20 documents each (128 tokens): merged into shared batches
by the local backend vs scored one by one, as in ``local_concurrency.py``.

Reproduce on the GPU machine (``device`` tool; about 3 minutes on an H100)::

    python benchmarks/local_gpu.py                       # --device cuda --pairs 2048 --repeats 5
    python benchmarks/local_gpu.py --device cpu --pairs 16 --repeats 1 --calls 4 --documents 4   # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
from pathlib import Path

import harness

#: Dense bf16 tensor-core peak, FLOP/s, by a substring of ``torch.cuda.get_device_name()``.
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12}
WORDS = harness.mixed_documents(50, seed=5)


def xlmr_base_checkpoint() -> Path:
    """An XLM-RoBERTa-base-size sequence classifier with random weights, built once."""
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForSequenceClassification

    from rerankit.testing.models import build_xlmr_cross_encoder

    path = harness.CACHE_DIR / "xlmr-base-cross-encoder"
    if (path / "config.json").exists():
        return path
    tiny = build_xlmr_cross_encoder(harness.CACHE_DIR / "xlmr-tiny-tokenizer")
    config = json.loads((tiny / "config.json").read_text())
    config.update(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
    torch.manual_seed(0)
    XLMRobertaForSequenceClassification(XLMRobertaConfig(**config)).eval().save_pretrained(path)
    for name in tiny.iterdir():
        if "token" in name.name or (name.name.endswith(".json") and name.name != "config.json"):
            shutil.copy(name, path / name.name)
    return path


def long_documents(count: int, seed: int) -> list[str]:
    """``count`` distinct documents, each far longer than 512 tokens."""
    import random

    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS).split()[:40] * 20) + f" {i}" for i in range(count)]


def flops_per_pair(model, tokens: int) -> float:
    """Forward FLOPs of one pair of ``tokens`` tokens: linear layers plus attention scores."""
    config = model.config
    embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" in n)
    linear = sum(p.numel() for p in model.parameters()) - embedding
    return 2 * linear * tokens + 4 * config.num_hidden_layers * tokens**2 * config.hidden_size


def peak(device: str) -> float | None:
    """The GPU's dense bf16 peak in FLOP/s, when it is one of :data:`PEAK_BF16`."""
    import torch

    if not device.startswith("cuda"):
        return None
    name = torch.cuda.get_device_name()
    return next((value for key, value in PEAK_BF16.items() if key in name), None)


def throughput(path: Path, device: str, pairs_count: int, repeats: int) -> None:
    """The pairs/s table for one model at 128 and 512 tokens."""
    import torch
    from sentence_transformers import CrossEncoder

    from rerankit import Reranker

    top = peak(device)
    rows = []
    for tokens in (128, 512):
        documents = long_documents(pairs_count, seed=tokens)
        bare = CrossEncoder(str(path), device=device, max_length=tokens)
        default = Reranker(f"local/{path}", device=device, max_length=tokens)
        tuned = Reranker(
            f"local/{path}", device=device, max_length=tokens, batch_size=256, max_batch_tokens=65536
        )
        per_pair = flops_per_pair(bare.model, tokens)

        def synced(call):
            def run() -> None:
                call()
                if device.startswith("cuda"):
                    torch.cuda.synchronize()

            return run

        pairs = [(harness.QUERY, d) for d in documents]
        contenders = {
            "bare predict (fp32, batch 32)": synced(
                lambda model=bare, pairs=pairs: model.predict(pairs, show_progress_bar=False)
            ),
            f"rerankit default ({default.backend.dtype}, batch 32)": synced(
                lambda reranker=default, texts=documents: reranker.rerank(harness.QUERY, texts)
            ),
            f"rerankit tuned ({tuned.backend.dtype}, batch 256)": synced(
                lambda reranker=tuned, texts=documents: reranker.rerank(harness.QUERY, texts)
            ),
        }
        timings = harness.measure(contenders, repeats=repeats)
        ratios = harness.ratios_to(timings.wall, "bare predict (fp32, batch 32)")
        for name in contenders:
            seconds = harness.median(timings.wall[name])
            rate = pairs_count / seconds
            share = f"{rate * per_pair / top:.0%}" if top else "-"
            rows.append([f"{tokens}", name, seconds, rate, f"{1 / ratios[name]:.2f}x", share])
    harness.print_table(
        f"{path.name} on {device}: {pairs_count} pairs per call, median of {repeats} rounds",
        ["tokens", "contender", "s per call", "pairs/s", "speed-up over bare", "of bf16 peak"],
        rows,
    )


def concurrency(path: Path, device: str, repeats: int, calls: int, documents: int) -> None:
    """Concurrent ``arerank`` calls merged into shared batches vs one by one."""
    from rerankit import Reranker

    reranker = Reranker(f"local/{path}", device=device, max_length=128, batch_size=256)
    pool = long_documents(calls * documents, seed=7)
    requests = [(f"{harness.QUERY} {i}", pool[i * documents : (i + 1) * documents]) for i in range(calls)]

    async def merged() -> None:
        await asyncio.gather(*(reranker.arerank(q, docs) for q, docs in requests))

    async def one_by_one() -> None:
        await asyncio.gather(*(asyncio.to_thread(reranker.rerank, q, docs) for q, docs in requests))

    timings = harness.measure(
        {"one by one": lambda: asyncio.run(one_by_one()), "merged": lambda: asyncio.run(merged())},
        repeats=repeats,
    )
    ratios = harness.ratios_to(timings.wall, "one by one")
    rows = [
        [
            name,
            harness.median(timings.wall[name]),
            calls * documents / harness.median(timings.wall[name]),
            f"{1 / ratios[name]:.2f}x",
        ]
        for name in ("one by one", "merged")
    ]
    harness.print_table(
        f"{path.name} on {device}: {calls} concurrent arerank calls x {documents} documents, 128 tokens",
        ["mode", "s per burst", "pairs/s", "throughput vs one by one"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--pairs", type=int, default=2048, help="pairs per call")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--sizes", nargs="+", default=["minilm", "xlmr-base"], choices=["minilm", "xlmr-base"]
    )
    parser.add_argument("--calls", type=int, default=64, help="concurrent arerank calls")
    parser.add_argument("--documents", type=int, default=20, help="documents per concurrent call")
    args = parser.parse_args()
    print(harness.machine())
    if args.device.startswith("cuda"):
        import torch

        print(f"GPU: {torch.cuda.get_device_name()}, bf16 peak {peak(args.device) or 'unknown'} FLOP/s")
    paths = {"minilm": harness.minilm_checkpoint, "xlmr-base": xlmr_base_checkpoint}
    for size in args.sizes:
        throughput(paths[size](), args.device, args.pairs, args.repeats)
    concurrency(paths[args.sizes[-1]](), args.device, args.repeats, args.calls, args.documents)


if __name__ == "__main__":
    main()
