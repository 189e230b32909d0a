"""What every benchmark shares: offline setup, inputs, interleaved timing and table printing.

Contenders are timed round-robin, the order reversed every other round (A B C, C B A, ...), so that
a slow moment on a shared machine hits all of them alike; the tables report the median of the
repeats, and each ratio is the median over rounds of the per-round ratio to a baseline measured in
the same round (paired, so drift in machine load cancels).
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Benchmarks never touch the Hugging Face hub: every model is built offline from a local checkpoint.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT / "integrations") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "integrations"))

#: Where built checkpoints and exports are kept between runs (rebuilt when missing).
CACHE_DIR = Path(os.environ.get("RERANKIT_BENCH_CACHE", Path.home() / ".cache" / "rerankit-bench"))

QUERY = "how do cross-encoder rerankers score retrieved passages for a question"

_VOCABULARY = (
    "the a of to and in is that for it as with was on be by this are from at or an which have not "
    "retrieval ranking query document passage score model search index vector dense sparse token "
    "encoder decoder attention layer batch latency throughput memory cache answer question context "
    "language neural network training evaluation relevance precision recall benchmark corpus chunk "
    "embedding similarity cosine transformer inference server request response client budget sort "
    "paris france river mountain history science city energy water music market policy health data "
    "because however although therefore between during through without within across against among "
    "system process method result value function number level point group problem fact case week "
    "government company student program country family place world school child research example"
)
_WORDS = _VOCABULARY.split()


def mixed_documents(count: int = 200, *, duplicate_share: float = 0.0, seed: int = 0) -> list[str]:
    """``count`` documents of mixed length (short snippets to >512-token pages), seeded.

    Lengths: 45% short (5-25 words), 45% medium (30-80), 10% long (150-600, a few cut at 512
    tokens); about 80 tokens per (query, document) pair on average. With ``duplicate_share``, that share of the list is copies of other documents in it
    (what retrieval over overlapping chunks returns), shuffled in.
    """
    rng = random.Random(seed)

    def document() -> str:
        kind = rng.random()
        low, high = (5, 25) if kind < 0.45 else (30, 80) if kind < 0.9 else (150, 600)
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(low, high))) + "."

    distinct_count = count - round(count * duplicate_share)
    documents = [document() for _ in range(distinct_count)]
    documents += [rng.choice(documents[:distinct_count]) for _ in range(count - distinct_count)]
    rng.shuffle(documents)
    return documents


def minilm_checkpoint() -> Path:
    """The MiniLM-L6-size cross-encoder (all-MiniLM-L6-v2 body, seeded head), built once."""
    from rerankit.testing.models import build_minilm_cross_encoder

    path = CACHE_DIR / "minilm-l6-cross-encoder"
    if not (path / "config.json").exists():
        build_minilm_cross_encoder(path)
    return path


@dataclass
class Timings:
    """Seconds per call of each contender, one entry per round: wall clock and this process's CPU."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]


def measure(contenders: dict[str, Callable[[], object]], *, repeats: int, warmup: int = 1) -> Timings:
    """Time each contender over ``repeats`` interleaved rounds, after ``warmup`` rounds.

    CPU time (all threads of this process) is reported beside wall time because on a shared
    machine it is far steadier: it counts the work a contender does, not the time it waited for a core.
    """
    timings = Timings({name: [] for name in contenders}, {name: [] for name in contenders})
    for round_number in range(warmup + repeats):
        order = list(contenders.items())
        for name, run in order if round_number % 2 == 0 else reversed(order):
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if round_number >= warmup:
                timings.wall[name].append(wall)
                timings.cpu[name].append(cpu)
    return timings


def median(values: list[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def print_table(title: str, headers: list[str], rows: list[list[object]]) -> None:
    """Print a Markdown table (pastes straight into docs/performance.md)."""
    print(f"\n### {title}\n")
    print("| " + " | ".join(headers) + " |")
    print("|" + "|".join("---" for _ in headers) + "|")
    for row in rows:
        print("| " + " | ".join(_cell(value) for value in row) + " |")
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def machine() -> str:
    """One line naming the machine and the libraries the numbers came from."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import sentence_transformers

        st = sentence_transformers.__version__
    except ImportError:
        st = "-"
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"sentence-transformers {st}, Python {platform.python_version()}"
    )


def ratios_to(times: dict[str, list[float]], baseline: str) -> dict[str, float]:
    """Each contender's time over the baseline's in the same round, median over rounds (<1: faster)."""
    base = times[baseline]
    return {
        name: median([value / reference for value, reference in zip(values, base, strict=True)])
        for name, values in times.items()
    }
