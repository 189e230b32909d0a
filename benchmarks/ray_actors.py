"""Ray Data: rows/s through ``rerankit.ray.rerank_dataset`` with 1 and 2 actors on this machine.

A local Ray cluster (``ray.init(num_cpus=2)``); rows of one query and ``--documents`` mixed-length
candidates each, reranked on the MiniLM-L6-size cross-encoder (``--model tiny``: the 2-layer test
model) with ``batch_size`` rows per ``rerank_batch`` call. Each actor reserves 1 CPU, so torch runs
1 thread in it. Two figures per pool size:

- end to end: rows over the whole run's wall time, actor start and model load included;
- steady: rows after the first block came out over the time until the last one did (the rate once
  the actors are up, which is what a long job sees).

Reproduce (a few minutes on 2 cores)::

    python benchmarks/ray_actors.py      # --rows 256 --documents 10 --model minilm
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import harness


def run(ds, spec: str, num_actors: int, batch_size: int) -> tuple[float, float, int]:
    from rerankit.ray import rerank_dataset

    started = time.perf_counter()
    arrivals: list[tuple[float, int]] = []
    ranked = rerank_dataset(ds, spec, top_n=5, num_actors=num_actors, batch_size=batch_size, device="cpu")
    for batch in ranked.iter_batches(batch_size=None, batch_format="pyarrow"):
        arrivals.append((time.perf_counter(), batch.num_rows))
    total = sum(rows for _, rows in arrivals)
    wall = arrivals[-1][0] - started
    steady_rows = total - arrivals[0][1]
    steady_seconds = arrivals[-1][0] - arrivals[0][0]
    return total / wall, (steady_rows / steady_seconds if steady_seconds > 0 else float("nan")), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--documents", type=int, default=10, help="candidates per row")
    parser.add_argument("--batch-size", type=int, default=16, help="rows per rerank_batch call")
    parser.add_argument("--model", choices=["minilm", "tiny"], default="minilm")
    args = parser.parse_args()
    print(harness.machine())
    if args.model == "minilm":
        path = harness.minilm_checkpoint()
    else:
        from rerankit.testing.models import build_bert_cross_encoder

        path = harness.CACHE_DIR / "tiny-bert-cross-encoder"
        if not (path / "config.json").exists():
            build_bert_cross_encoder(path)
    # Ray's workers inherit the environment: make them import this checkout's rerankit.
    source = str(Path(harness.REPO_ROOT) / "integrations")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    pool = harness.mixed_documents(args.rows * args.documents, seed=5)
    rows = [
        {
            "qid": f"q{i}",
            "query": f"{harness.QUERY} ({i})",
            "documents": pool[i * args.documents : (i + 1) * args.documents],
        }
        for i in range(args.rows)
    ]
    blocks = max(4, args.rows // args.batch_size)
    results = []
    for num_actors in (1, 2):
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        end_to_end, steady, total = run(ds, f"local/{path}", num_actors, args.batch_size)
        assert total == args.rows
        results.append(
            [f"{num_actors}", end_to_end, steady, end_to_end * args.documents, steady * args.documents]
        )
    ray.shutdown()
    one = results[0][2]
    for row in results:
        row.append(f"{row[2] / one:.2f}x")
    harness.print_table(
        f"{args.rows} rows x {args.documents} documents, {args.model}, batch_size {args.batch_size}",
        [
            "actors",
            "rows/s end to end",
            "rows/s steady",
            "pairs/s end to end",
            "pairs/s steady",
            "steady vs 1 actor",
        ],
        results,
    )

    print(f"load average at the end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
