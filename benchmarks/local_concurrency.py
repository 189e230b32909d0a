"""Local: many concurrent ``arerank`` calls merged into shared forward passes vs run one by one.

32 concurrent ``arerank`` calls, each with its own query and 10 documents of mixed length (a
retriever's top 10), on the MiniLM-L6-size checkpoint on CPU:

- merged: ``asyncio.gather(*(reranker.arerank(q, docs) for ...))``: the local backend queues the
  calls that arrive while the model is busy and runs them together, their pairs sorted by length
  and cut into batches by ``batch_size`` and the token budget;
- one by one: the same calls, each scored alone (``asyncio.to_thread(reranker.rerank, ...)``, which
  is what ``arerank`` did before merging: one forward pass per call, serialised on the device).

Both with rerankit's CPU default (4096-token budget) and with ``max_batch_tokens=None``. The script
also checks that every merged call got the scores it gets alone.

Reproduce (2-4 minutes on 2 cores)::

    python benchmarks/local_concurrency.py      # --calls 32 --documents 10 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio

import harness


def main() -> None:
    from rerankit import Reranker

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=32)
    parser.add_argument("--documents", type=int, default=10, help="documents per call")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(harness.machine())
    path = harness.minilm_checkpoint()
    pool = harness.mixed_documents(args.calls * args.documents, seed=2)
    requests = [
        (f"{harness.QUERY} (variant {i})", pool[i * args.documents : (i + 1) * args.documents])
        for i in range(args.calls)
    ]
    rerankers = {
        "default budget": Reranker(f"local/{path}", device="cpu"),
        "max_batch_tokens=None": Reranker(f"local/{path}", device="cpu", max_batch_tokens=None),
    }

    async def merged(reranker: Reranker) -> list:
        return await asyncio.gather(*(reranker.arerank(q, docs) for q, docs in requests))

    async def one_by_one(reranker: Reranker) -> list:
        return await asyncio.gather(*(asyncio.to_thread(reranker.rerank, q, docs) for q, docs in requests))

    outputs: dict[str, list] = {}
    contenders = {}
    for label, reranker in rerankers.items():
        for mode, run in (("one by one", one_by_one), ("merged", merged)):
            name = f"{mode}, {label}"
            contenders[name] = lambda name=name, run=run, reranker=reranker: outputs.__setitem__(
                name, asyncio.run(run(reranker))
            )
    timings = harness.measure(contenders, repeats=args.repeats)
    pairs = args.calls * args.documents
    rows = []
    for label in rerankers:
        baseline = f"one by one, {label}"
        wall = harness.ratios_to(timings.wall, baseline)
        cpu = harness.ratios_to(timings.cpu, baseline)
        for mode in ("one by one", "merged"):
            name = f"{mode}, {label}"
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
        f"{args.calls} concurrent arerank calls x {args.documents} documents, median of {args.repeats} rounds",
        ["mode", "wall s", "CPU s", "pairs/s", "throughput vs one by one (wall)", "(CPU)"],
        rows,
    )
    worst = 0.0
    for label in rerankers:
        for together, alone in zip(outputs[f"merged, {label}"], outputs[f"one by one, {label}"], strict=True):
            assert [r.index for r in together.results] == [r.index for r in alone.results]
            worst = max(
                worst,
                *(
                    abs(a.relevance_score - b.relevance_score)
                    for a, b in zip(together.results, alone.results, strict=True)
                ),
            )
    print(f"\nmerged vs alone: same order for all {args.calls} calls, max |score difference| {worst:.1e}")


if __name__ == "__main__":
    main()
