"""LLM rerankers with the shared prompt computed once per query, against full recomputation and peers.

rerankit's default (``reuse_prefix=True``) runs the prefix a query's pairs share once and scores the
documents against its keys and values; ``reuse_prefix=False`` is the full recomputation the model
cards, sentence-transformers and FlagEmbedding do. Both run the same token ids through the same
token-budget batches, so the ratio between them is what the reuse saves.

The checkpoints are random decoders built offline, one per format, each with its family's real
prompt, chat template, special and score tokens, and a byte-level BPE tokenizer trained on the
prompts and the documents' vocabulary (a word is one token, as in the real tokenizers, so the
Qwen3-Reranker prefix is ~70 tokens, as the issue counts it). Sizes (``--size``):

- ``bench`` (the default; what the tables in docs/performance.md use): Qwen3-Reranker-0.6B's shape
  scaled so a 2-core CPU finishes the grid in minutes: hidden 256, 6 layers, MLP 768 (3x),
  4 query / 2 key-value heads of 64 (GQA 2:1 as in the 0.6B), fp32. 4.7M parameters outside the
  embeddings, ~9.4 MFLOP per token: a 4096-token forward pass takes ~1 s here against ~2 ms of
  Python per pass, so compute dominates. The gemma checkpoint is bge-reranker-v2-gemma's (gemma-2b)
  shape at the same scale: hidden 256, 6 layers, MLP 2048 (8x), 2 heads, 1 key-value head of 128.
- ``full``: the real configs (Qwen3-Reranker-0.6B: hidden 1024, 28 layers, MLP 3072, 16/8 heads of
  128; gemma-2b: hidden 2048, 18 layers, MLP 16384, 8/1 heads of 256), for a GPU.

Parts (``--parts``):

- ``qwen3``: 20/50/200 documents of ~100 tokens and 50 documents of ~50/100/400 tokens, one query:
  rerankit with reuse, rerankit without, sentence-transformers' ``CrossEncoder.predict`` on the
  ST-converted copy of the same checkpoint (``CrossEncoder(plain).save_pretrained``, with the
  pair-aware chat template, as ``cross-encoder-testing/Qwen3-Reranker-0.6B-STv54``; batch 32), and
  rerankit on that ST copy (its LogitScore pipeline, reuse on).
- ``formats``: 50 documents of ~100 tokens for each format (qwen3-reranker, zerank, mxbai-rerank-v2,
  bge-reranker-v2-gemma): reuse against full recomputation, and how many tokens the pairs share.
- ``flag``: the bge-reranker-v2-gemma checkpoint against FlagEmbedding's ``FlagLLMReranker``
  (``compute_score(pairs, normalize=True)``, batch 32, max_length 512). FlagEmbedding 1.4.2 needs
  transformers 4, so run this part in the authors' environment that ``.ci/run`` builds.

Timing: one torch thread by default (``--threads``): on a machine shared with other jobs, two
threads spin-wait for each other and their CPU time swings by 2x between identical calls, while one
thread's CPU time counts the work. Each table gives the medians, the median of the per-round
ratios to full recomputation (see ``harness.py``) and the ratio of the best (least) CPU times of
the rounds, the least disturbed measure of the work on a busy machine.

Peak memory is what the call allocates above what was allocated before it: on CPU the torch
profiler's allocation records (``profile_memory=True``, summed in time order), on CUDA
``torch.cuda.max_memory_allocated``; measured in one untimed call per contender.

Reproduce (numbers in docs/performance.md; ~15 minutes on 2 cores, then ~3 for ``flag``)::

    python benchmarks/llm_prefix.py                        # --parts qwen3,formats --repeats 5
    python .ci/accel_venv.py /tmp/authors && /tmp/authors/bin/pip install "transformers>=4.56,<4.58" \\
        "sentence-transformers>=5.4,<6" "huggingface_hub<1" "datasets>=2.19,<4" FlagEmbedding==1.4.2 \\
        torch==2.13.0 && /tmp/authors/bin/python benchmarks/llm_prefix.py --parts flag
    python benchmarks/llm_prefix.py --device cuda --size full --repeats 5   # on a GPU
"""

from __future__ import annotations

import argparse
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import harness

BATCH_SIZE = 32
SIZES = {
    "bench": {
        "qwen": {
            "hidden_size": 256,
            "num_hidden_layers": 6,
            "intermediate_size": 768,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 64,
        },
        "gemma": {
            "hidden_size": 256,
            "num_hidden_layers": 6,
            "intermediate_size": 2048,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 128,
        },
    },
    "full": {  # Qwen/Qwen3-Reranker-0.6B and BAAI/bge-reranker-v2-gemma (gemma-2b) config.json
        "qwen": {
            "hidden_size": 1024,
            "num_hidden_layers": 28,
            "intermediate_size": 3072,
            "num_attention_heads": 16,
            "num_key_value_heads": 8,
            "head_dim": 128,
        },
        "gemma": {
            "hidden_size": 2048,
            "num_hidden_layers": 18,
            "intermediate_size": 16384,
            "num_attention_heads": 8,
            "num_key_value_heads": 1,
            "head_dim": 256,
        },
    },
}
#: family -> (rerankit format, architecture, score tokens, chat template name)
FAMILIES = {
    "qwen3": ("qwen3-reranker", "Qwen3", ["yes", "no"], "QWEN3_CHAT_TEMPLATE"),
    "zerank": ("zerank", "Qwen3", ["Yes", "No"], "QWEN3_CHAT_TEMPLATE"),
    "mxbai": ("mxbai-rerank-v2", "Qwen2", [], "QWEN2_CHAT_TEMPLATE"),
    "gemma": ("bge-reranker-v2-gemma", "Gemma", ["Yes", "No"], None),
}
_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<bos>", "<eos>", "<pad>"]


def _corpus() -> list[str]:
    from rerankit.backends import LLM_FORMATS

    rng = random.Random(0)
    prompts = []
    for fmt in LLM_FORMATS.values():
        prompts += [fmt.prefix, fmt.body, fmt.suffix, fmt.task_prompt, fmt.default_instruction or ""]
    sentences = [" ".join(rng.choice(harness._WORDS) for _ in range(30)) for _ in range(400)]
    return [*(prompts * 20), harness.QUERY, *sentences]


def build_checkpoint(family: str, size: str) -> Path:
    """A random decoder of ``family``'s shape with its tokenizer, built once into the bench cache."""
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from rerankit.testing import models as testing_models

    _, architecture, extra_tokens, template = FAMILIES[family]
    path = (
        harness.CACHE_DIR / f"llm-prefix-{family}-{size}-transformers{transformers.__version__.split('.')[0]}"
    )
    if (path / "config.json").exists():
        return path
    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=4000, special_tokens=_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    raw.train_from_iterator(_corpus(), trainer=trainer)
    raw.add_tokens(extra_tokens)
    gemma = architecture == "Gemma"
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<bos>" if gemma else None,
        eos_token="<eos>" if gemma else "<|im_end|>",
        pad_token="<pad>" if gemma else "<|endoftext|>",
        model_max_length=32768,
        padding_side="left",
    )
    tokenizer.chat_template = getattr(testing_models, template) if template else None
    config_class = getattr(transformers, f"{architecture}Config")
    model_class = getattr(transformers, f"{architecture}ForCausalLM")
    dims = SIZES[size]["gemma" if gemma else "qwen"]
    torch.manual_seed(0)
    config = config_class(
        vocab_size=len(tokenizer),
        **dims,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **({"bos_token_id": tokenizer.bos_token_id} if gemma else {}),
    )
    model_class(config).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def sentence_transformers_copy(path: Path) -> Path:
    """The ST-converted copy of a qwen3 checkpoint: pair-aware template, ``modules.json``, LogitScore."""
    from sentence_transformers import CrossEncoder
    from transformers import AutoTokenizer

    from rerankit.testing.models import QWEN3_RERANKER_CHAT_TEMPLATE

    target = path.with_name(path.name + "-st")
    if (target / "modules.json").exists():
        return target
    plain = path.with_name(path.name + "-pair-aware")
    shutil.copytree(path, plain, dirs_exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(plain)
    tokenizer.chat_template = QWEN3_RERANKER_CHAT_TEMPLATE
    tokenizer.save_pretrained(plain)
    CrossEncoder(str(plain)).save_pretrained(str(target))
    return target


def documents(count: int, tokens: int, seed: int) -> list[str]:
    """``count`` documents of about ``tokens`` tokens (one token a word), lengths within +-20%."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(harness._WORDS) for _ in range(rng.randint(int(tokens * 0.8), int(tokens * 1.2))))
        for _ in range(count)
    ]


def peak_memory_mb(run: Callable[[], object], device: str) -> float:
    """What ``run`` allocates at its peak above what was allocated before it, in MB."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 1e6
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        run()
    records = [e for e in profiler.profiler.kineto_results.events() if e.name() == "[memory]"]
    total = peak = 0
    for record in sorted(records, key=lambda e: e.start_ns()):
        total += record.nbytes()
        peak = max(peak, total)
    return peak / 1e6


def _scores(output: object) -> list[float]:
    if hasattr(output, "results"):
        by_index = {r.index: r.relevance_score for r in output.results}
        return [by_index[i] for i in range(len(by_index))]
    return [float(value) for value in output]  # predict / compute_score: input order


def compare(
    label: str, contenders: dict[str, Callable[[], object]], baseline: str, device: str, repeats: int
) -> dict[str, float]:
    """Time the contenders (interleaved), measure their peak memory, print a table; the speed-ups."""
    outputs: dict[str, object] = {}
    timed = {
        name: (lambda name=name, run=run: outputs.__setitem__(name, run()))
        for name, run in contenders.items()
    }
    timings = harness.measure(timed, repeats=repeats)
    cpu = harness.ratios_to(timings.cpu, baseline)
    wall = harness.ratios_to(timings.wall, baseline)
    reference = _scores(outputs[baseline])
    best = {name: min(values) for name, values in timings.cpu.items()}
    rows = []
    for name, run in contenders.items():
        difference = max(abs(a - b) for a, b in zip(_scores(outputs[name]), reference, strict=True))
        rows.append(
            [
                name,
                harness.median(timings.wall[name]),
                harness.median(timings.cpu[name]),
                best[name],
                f"{1 / wall[name]:.2f}x",
                f"{1 / cpu[name]:.2f}x",
                f"{best[baseline] / best[name]:.2f}x",
                f"{peak_memory_mb(run, device):.0f}",
                f"{difference:.0e}",
            ]
        )
    headers = [
        "contender",
        "wall s",
        "CPU s",
        "best CPU s",
        "speed-up (wall)",
        "speed-up (CPU)",
        "speed-up (best CPU)",
        "peak MB",
        "max |score diff|",
    ]
    harness.print_table(f"{label}, median of {repeats} rounds; speed-up over {baseline}", headers, rows)
    return {name: best[baseline] / best[name] for name in contenders}


def shared_tokens(reranker, query: str, texts: list[str]) -> tuple[int, float]:
    """Tokens the pairs share (what is computed once) and the mean pair length, as rerankit builds them."""
    from rerankit.backends._local._prefix_reuse import shared_prefixes

    backend = reranker.backend
    pairs = [(query, text) for text in texts]
    if backend.llm is not None:
        encoded = backend.llm.encode_pairs(pairs, backend.instruction)
    else:
        encoded = backend._logit_score.encode(pairs, {"prompt": backend.instruction})
    groups, _ = shared_prefixes([query] * len(encoded), encoded)
    return (len(groups[0].ids) if groups else 0), sum(map(len, encoded)) / len(encoded)


def grid(
    args: argparse.Namespace,
    path: Path,
    format_name: str,
    peers: Callable[[list[tuple[str, str]]], dict[str, Callable[[], object]]],
) -> None:
    """20/50/200 documents of ~100 tokens and 50 of each ``--tokens`` length: rerankit with and
    without reuse on ``path``, and the ``peers`` made for each input."""
    from rerankit import Reranker

    options = {"device": args.device, "llm_format": format_name}
    ours = Reranker(f"local/{path}", **options)
    full = Reranker(f"local/{path}", reuse_prefix=False, **options)
    shapes = [(count, 100) for count in args.documents] + [(50, t) for t in args.tokens if t != 100]
    for count, tokens in shapes:
        texts = documents(count, tokens, seed=count * 1000 + tokens)
        shared, mean = shared_tokens(ours, harness.QUERY, texts)
        compare(
            f"{format_name}, {count} documents of ~{tokens} tokens ({shared} shared + "
            f"{mean - shared:.0f} own tokens per pair)",
            {
                "rerankit reuse_prefix=False": lambda texts=texts: full.rerank(harness.QUERY, texts),
                "rerankit (reuse, default)": lambda texts=texts: ours.rerank(harness.QUERY, texts),
                **peers([(harness.QUERY, text) for text in texts]),
            },
            "rerankit reuse_prefix=False",
            args.device,
            args.repeats,
        )


def qwen3_part(args: argparse.Namespace) -> None:
    import torch
    from sentence_transformers import CrossEncoder

    from rerankit import Reranker

    path = build_checkpoint("qwen3", args.size)
    st_path = sentence_transformers_copy(path)
    ours_st = Reranker(f"local/{st_path}", device=args.device)
    half = {"model_kwargs": {"dtype": torch.bfloat16}} if args.device.startswith("cuda") else {}
    predict = CrossEncoder(str(st_path), device=args.device, **half)
    grid(
        args,
        path,
        "qwen3-reranker",
        lambda pairs: {
            "CrossEncoder.predict, ST checkpoint": lambda: predict.predict(
                pairs, batch_size=BATCH_SIZE, show_progress_bar=False
            ),
            "rerankit, ST checkpoint (reuse)": lambda: ours_st.rerank(harness.QUERY, [d for _, d in pairs]),
        },
    )


def formats_part(args: argparse.Namespace) -> None:
    from rerankit import Reranker

    texts = documents(50, 100, seed=50100)
    rows = []
    for family, (name, *_) in FAMILIES.items():
        path = build_checkpoint(family, args.size)
        ours = Reranker(f"local/{path}", device=args.device, llm_format=name)
        full = Reranker(f"local/{path}", device=args.device, llm_format=name, reuse_prefix=False)
        shared, mean = shared_tokens(ours, harness.QUERY, texts)
        speedups = compare(
            f"{name}, 50 documents of ~100 tokens ({shared} shared + {mean - shared:.0f} own tokens per pair)",
            {
                "rerankit reuse_prefix=False": lambda full=full: full.rerank(harness.QUERY, texts),
                "rerankit (reuse, default)": lambda ours=ours: ours.rerank(harness.QUERY, texts),
            },
            "rerankit reuse_prefix=False",
            args.device,
            args.repeats,
        )
        rows.append([name, shared, f"{mean:.0f}", f"{speedups['rerankit (reuse, default)']:.2f}x"])
    harness.print_table(
        "Per format, 50 documents of ~100 tokens",
        ["format", "shared tokens", "tokens per pair", "speed-up (best CPU)"],
        rows,
    )


def flag_part(args: argparse.Namespace) -> None:
    from FlagEmbedding import FlagLLMReranker

    path = build_checkpoint("gemma", args.size)
    devices = args.device if args.device.startswith("cuda") else "cpu"
    flag = FlagLLMReranker(
        str(path), use_bf16=devices != "cpu", devices=devices, batch_size=BATCH_SIZE, max_length=512
    )
    grid(
        args,
        path,
        "bge-reranker-v2-gemma",
        lambda pairs: {"FlagLLMReranker.compute_score": lambda: flag.compute_score(pairs, normalize=True)},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="qwen3,formats", help="qwen3, formats, flag (comma-separated)")
    parser.add_argument("--size", choices=sorted(SIZES), default="bench")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads on CPU (0: torch's default); see the docstring"
    )
    parser.add_argument("--documents", type=lambda s: [int(x) for x in s.split(",")], default=[20, 50, 200])
    parser.add_argument("--tokens", type=lambda s: [int(x) for x in s.split(",")], default=[50, 100, 400])
    args = parser.parse_args()
    if args.threads and not args.device.startswith("cuda"):
        import torch

        torch.set_num_threads(args.threads)
    print(harness.machine())
    parts = {"qwen3": qwen3_part, "formats": formats_part, "flag": flag_part}
    for part in args.parts.split(","):
        parts[part](args)


if __name__ == "__main__":
    main()
