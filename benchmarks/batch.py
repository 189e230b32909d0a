"""Local: ``rerank_batch`` over many queries vs a loop of ``rerank``, on CPU.

64 queries, each with its own 30 documents of mixed length (short snippets to 512-token pages), on
the MiniLM-L6-size cross-encoder (the real all-MiniLM-L6-v2 body with a seeded head):

- loop: ``[reranker.rerank(q, docs) for q, docs in items]``, each call its own forward passes;
- batch: ``reranker.rerank_batch(queries, documents)``, the pairs of all 64 queries sorted by
  length and cut into shared forward passes by ``batch_size`` and the token budget.

Both with rerankit's CPU default (``max_batch_tokens`` 4096) and with ``--batch-size`` as given. The
script also checks that every batched item got the ranking its own ``rerank`` gives.

Reproduce (about 4 minutes on 2 cores)::

    python benchmarks/batch.py      # --queries 64 --documents 30 --repeats 2
"""

from __future__ import annotations

import argparse
import os

import harness


def main() -> None:
    from rerankit import Reranker

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--documents", type=int, default=30, help="documents per query")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(harness.machine())
    path = harness.minilm_checkpoint()
    pool = harness.mixed_documents(args.queries * args.documents, seed=3)
    queries = [f"{harness.QUERY} (variant {i})" for i in range(args.queries)]
    documents = [pool[i * args.documents : (i + 1) * args.documents] for i in range(args.queries)]
    reranker = Reranker(f"local/{path}", device="cpu")
    reranker.rerank(queries[0], documents[0])  # load and warm up once, untimed

    outputs: dict[str, list] = {}
    contenders = {
        "loop of rerank": lambda: outputs.__setitem__(
            "loop", [reranker.rerank(q, docs) for q, docs in zip(queries, documents, strict=True)]
        ),
        "rerank_batch": lambda: outputs.__setitem__("batch", reranker.rerank_batch(queries, documents)),
    }
    timings = harness.measure(contenders, repeats=args.repeats, warmup=0)
    pairs = args.queries * args.documents
    wall = harness.ratios_to(timings.wall, "loop of rerank")
    cpu = harness.ratios_to(timings.cpu, "loop of rerank")
    rows = []
    for name in contenders:
        seconds = harness.median(timings.wall[name])
        rows.append(
            [
                name,
                seconds,
                harness.median(timings.cpu[name]),
                pairs / seconds,
                f"{1 / wall[name]:.2f}x",
                f"{1 / cpu[name]:.2f}x",
            ]
        )
    harness.print_table(
        f"{args.queries} queries x {args.documents} documents, median of {args.repeats} rounds",
        ["mode", "wall s", "CPU s", "pairs/s", "throughput vs loop (wall)", "(CPU)"],
        rows,
    )
    worst = 0.0
    for batched, alone in zip(outputs["batch"], outputs["loop"], strict=True):
        assert [r.index for r in batched.results] == [r.index for r in alone.results]
        assert batched.usage == alone.usage
        worst = max(
            worst,
            *(
                abs(a.relevance_score - b.relevance_score)
                for a, b in zip(batched.results, alone.results, strict=True)
            ),
        )
    print(
        f"\nbatch vs loop: same order and usage for all {args.queries} items, max |score difference| {worst:.1e}"
    )

    print(f"load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
