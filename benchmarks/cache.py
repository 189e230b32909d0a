"""Score cache: a workload where 70% of the (query, document) pairs were scored before.

A RAG conversation or an evaluation sweep: for each of ``--queries`` queries, ``--calls`` rerank
calls of ``--documents`` documents; the first call of a query brings all-new documents, every
later one 20% new documents and 80% documents that query already had, so that over the workload
70% of the pairs repeat (the script prints the exact share). Every run of a contender starts
with an empty cache, so each sees the same 70%.

Contenders, timed round-robin in the same run (``harness.py``):

- ``no cache``: ``Reranker(...)`` as it is by default (the baseline),
- ``memory``: ``Reranker(..., cache=MemoryScoreCache())`` (what ``cache=True`` builds),
- ``redis``: ``Reranker(..., cache="redis://127.0.0.1:<port>/0")``, a ``redis-server`` this script
  starts on a free port (skipped when ``redis-server`` is not installed).

Backends: the MiniLM-L6-size cross-encoder on CPU (``harness.minilm_checkpoint``), and a loopback
Cohere server answering after ``--latency`` seconds (a stand-in for a hosted API's round trip).

Reproduce (about 2-4 minutes on 2 idle cores)::

    python benchmarks/cache.py            # --queries 2 --calls 8 --documents 25 --repeats 3
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable

import harness

NEW_SHARE_AFTER_FIRST = 0.2
#: contender -> the pairs it sent to the model in its last run
PAIRS_SENT: dict[Callable[[], object], int] = {}


def workload(queries: int, calls: int, documents: int, seed: int = 0) -> list[tuple[str, list[str]]]:
    """The calls: per query, a first call of new documents, then 20% new and 80% seen before."""
    rng = random.Random(seed)
    pool = iter(harness.mixed_documents(queries * calls * documents, seed=seed))
    sequence = []
    for number in range(queries):
        query = f"{harness.QUERY} (topic {number})"
        seen: list[str] = []
        for call in range(calls):
            fresh = documents if call == 0 else round(documents * NEW_SHARE_AFTER_FIRST)
            new = [next(pool) for _ in range(fresh)]
            batch = new + rng.sample(seen, documents - fresh)
            rng.shuffle(batch)
            seen.extend(new)
            sequence.append((query, batch))
    return sequence


def repeat_share(calls: list[tuple[str, list[str]]]) -> float:
    seen: set[tuple[str, str]] = set()
    repeats = total = 0
    for query, documents in calls:
        for document in documents:
            repeats += (query, document) in seen
            total += 1
            seen.add((query, document))
    return repeats / total


def start_redis() -> tuple[subprocess.Popen, str, tempfile.TemporaryDirectory] | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    import redis

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    directory = tempfile.TemporaryDirectory()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory.name, "--save", ""],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}/0", directory


def contenders_for(
    make: Callable[..., object], calls: list[tuple[str, list[str]]], redis_url: str | None
) -> dict[str, Callable[[], object]]:
    from rerankit import MemoryScoreCache

    def run(cache_factory: Callable[[], object]) -> Callable[[], object]:
        def go() -> object:
            reranker = make(cache=cache_factory())
            scored = 0
            for query, documents in calls:
                scored += reranker.rerank(query, documents, top_n=10).usage.pairs_scored
            PAIRS_SENT[go] = scored
            return scored

        return go

    contenders = {"no cache": run(lambda: None), "memory": run(MemoryScoreCache)}
    if redis_url is not None:
        import redis

        def fresh_redis() -> str:
            redis.Redis.from_url(redis_url).flushdb()
            return redis_url

        contenders["redis"] = run(fresh_redis)
    return contenders


def report(title: str, contenders: dict[str, Callable[[], object]], repeats: int, pairs: int) -> None:
    timings = harness.measure(contenders, repeats=repeats, warmup=0)
    scored = {name: PAIRS_SENT[run] for name, run in contenders.items()}
    ratios = harness.ratios_to(timings.wall, "no cache")
    rows = [
        [
            name,
            harness.median(timings.wall[name]),
            harness.median(timings.cpu[name]),
            f"{scored[name]} of {pairs}",
            f"{1 / ratios[name]:.2f}x",
        ]
        for name in contenders
    ]
    harness.print_table(
        title,
        ["cache", "wall s (workload)", "CPU s", "pairs sent to the model", "speed-up vs no cache"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--documents", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per loopback API answer")
    args = parser.parse_args()

    from rerankit import Reranker
    from rerankit.testing.servers import RerankServer

    calls = workload(args.queries, args.calls, args.documents)
    pairs = sum(len(documents) for _, documents in calls)
    print(harness.machine())
    print(
        f"workload: {len(calls)} calls, {pairs} pairs, {repeat_share(calls):.0%} of them repeats; "
        f"median of {args.repeats} rounds"
    )
    redis = start_redis()
    redis_url = redis[1] if redis else None
    if redis is None:
        print("redis-server not installed: the redis row is left out")
    try:
        checkpoint = harness.minilm_checkpoint()
        report(
            "Local MiniLM-L6 cross-encoder, CPU",
            contenders_for(
                lambda cache: Reranker(f"local/{checkpoint}", device="cpu", cache=cache), calls, redis_url
            ),
            args.repeats,
            pairs,
        )
        with RerankServer("cohere", latency=args.latency) as server:
            report(
                f"Remote (loopback Cohere API, {args.latency * 1000:.0f} ms per answer)",
                contenders_for(
                    lambda cache: Reranker(
                        "cohere/rerank-v3.5", base_url=server.base_url, api_key="test-key", cache=cache
                    ),
                    calls,
                    redis_url,
                ),
                args.repeats,
                pairs,
            )
    finally:
        if redis is not None:
            redis[0].terminate()
            redis[0].wait(timeout=10)
            redis[2].cleanup()


if __name__ == "__main__":
    main()
