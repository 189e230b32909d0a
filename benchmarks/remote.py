"""Remote: rerankit's cost over a bare HTTP post, concurrency, splitting, and the framework peers.

Every measurement talks over real loopback HTTP to ``rerankit.testing.servers.RerankServer("cohere")``
(Cohere's ``/v2/rerank`` wire format) running in its own process (``loopback_server.py``), so the
server's work does not share the client's GIL:

1. Per-call overhead, server answering at once, 20 mixed-length documents: a bare
   ``httpx.Client.post(...).json()`` (pooled, keep-alive) vs rerankit ``Reranker("cohere/...",
   base_url=...).rerank``, LangChain's ``CohereRerank`` and LlamaIndex's ``CohereRerank`` (both
   through their ``base_url`` option, i.e. the ``cohere`` SDK's ``ClientV2``), calls interleaved; and
   ``httpx.AsyncClient.post`` vs ``arerank``.
2. 64 concurrent ``arerank`` calls against a server that takes 20 ms (then 200 ms) per request:
   bursts of 64 from one event loop, with rerankit's default (64 connections, split into pools of
   8) and with ``max_connections=8`` (one pool), against bare ``httpx.AsyncClient`` posts with one
   pool of 64 connections. Ideal = every call in flight at once for its connections:
   64 / (connections / latency) seconds.
3. 5,000 documents against a 1,000-document limit (20 ms per request): five requests, one after
   another (``max_concurrency=1``) vs concurrently (default), sync ``rerank`` and async ``arerank``.

Reproduce (about a minute)::

    python benchmarks/remote.py      # --calls 300 --bursts 10
"""

from __future__ import annotations

import argparse
import asyncio
import time

import harness
import httpx
from loopback_server import ServerProcess

MODEL = "rerank-v3.5"
API_KEY = "test-key"
HEADERS = {"authorization": f"Bearer {API_KEY}"}
LATENCY = 0.020


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def overhead_rows(timings: dict[str, list[float]], baseline: str) -> list[list[object]]:
    """p50 / p90 per call and the p50 difference to the baseline, in milliseconds."""
    base = harness.median(timings[baseline])
    return [
        [
            name,
            harness.median(values) * 1e3,
            percentile(values, 0.9) * 1e3,
            (harness.median(values) - base) * 1e3,
            f"{harness.median(values) / base:.2f}",
        ]
        for name, values in timings.items()
    ]


def per_call_overhead(calls: int) -> None:
    from langchain_cohere import CohereRerank as LangChainCohereRerank
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, TextNode
    from llama_index.postprocessor.cohere_rerank import CohereRerank as LlamaIndexCohereRerank

    from rerankit import Reranker

    documents = harness.mixed_documents(20, seed=3)
    body = {"model": MODEL, "query": harness.QUERY, "documents": documents}
    with ServerProcess("cohere") as server:
        client = httpx.Client(base_url=server.base_url, timeout=30)

        def bare() -> object:
            response = client.post("/v2/rerank", json=body, headers=HEADERS)
            response.raise_for_status()
            return response.json()

        ours = Reranker(f"cohere/{MODEL}", base_url=server.base_url, api_key=API_KEY)
        langchain = LangChainCohereRerank(
            model=MODEL, cohere_api_key=API_KEY, base_url=server.base_url, top_n=len(documents)
        )
        llama = LlamaIndexCohereRerank(
            model=MODEL, api_key=API_KEY, base_url=server.base_url, top_n=len(documents)
        )
        lc_documents = [Document(page_content=text) for text in documents]
        contenders = {
            "bare httpx.Client.post": bare,
            "rerankit rerank": lambda: ours.rerank(harness.QUERY, documents),
            "LangChain CohereRerank": lambda: langchain.compress_documents(lc_documents, harness.QUERY),
            "LlamaIndex CohereRerank": lambda: llama.postprocess_nodes(
                [NodeWithScore(node=TextNode(text=text)) for text in documents], query_str=harness.QUERY
            ),
        }
        timings = harness.measure(contenders, repeats=calls, warmup=10)
        rows = overhead_rows(timings.wall, "bare httpx.Client.post")

        async def async_calls() -> dict[str, list[float]]:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as aclient:

                async def abare() -> None:
                    response = await aclient.post("/v2/rerank", json=body, headers=HEADERS)
                    response.raise_for_status()
                    response.json()

                runs = {
                    "bare httpx.AsyncClient.post": abare,
                    "rerankit arerank": lambda: ours.arerank(harness.QUERY, documents),
                }
                times: dict[str, list[float]] = {name: [] for name in runs}
                for round_number in range(calls + 10):
                    for name, run in runs.items():
                        start = time.perf_counter()
                        await run()
                        if round_number >= 10:
                            times[name].append(time.perf_counter() - start)
                return times

        rows += overhead_rows(asyncio.run(async_calls()), "bare httpx.AsyncClient.post")
        client.close()
    harness.print_table(
        f"Per-call cost, 20 documents, server answering at once, {calls} calls each (interleaved)",
        ["client", "p50 ms", "p90 ms", "p50 over bare httpx, ms", "p50 ratio"],
        rows,
    )


def concurrent_calls(bursts: int, calls: int = 64, latency: float = LATENCY) -> None:
    from rerankit import Reranker

    documents = harness.mixed_documents(20, seed=3)
    with ServerProcess("cohere", latency=latency) as server:
        default = Reranker(f"cohere/{MODEL}", base_url=server.base_url, api_key=API_KEY)
        one_pool = Reranker(f"cohere/{MODEL}", base_url=server.base_url, api_key=API_KEY, max_connections=8)
        connections = default.backend.transport.settings.max_connections
        concurrency = {
            f"bare httpx.AsyncClient, one pool of {calls} connections": calls,
            f"rerankit arerank, default ({connections} connections in pools of 8)": connections,
            "rerankit arerank, max_connections=8 (one pool)": 8,
        }

        async def run_all() -> tuple[dict[str, list[float]], dict[str, int]]:
            limits = httpx.Limits(max_connections=calls, max_keepalive_connections=calls)
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as client:

                async def bare(i: int) -> None:
                    body = {"model": MODEL, "query": f"{harness.QUERY} {i}", "documents": documents}
                    (await client.post("/v2/rerank", json=body, headers=HEADERS)).raise_for_status()

                callers = dict(
                    zip(
                        concurrency,
                        [
                            bare,
                            lambda i: default.arerank(f"{harness.QUERY} {i}", documents),
                            lambda i: one_pool.arerank(f"{harness.QUERY} {i}", documents),
                        ],
                        strict=True,
                    )
                )
                times: dict[str, list[float]] = {name: [] for name in callers}
                peaks: dict[str, int] = {}
                for burst in range(bursts + 2):
                    for name, call in callers.items():
                        server.reset()
                        start = time.perf_counter()
                        await asyncio.gather(*(call(i) for i in range(calls)))
                        if burst >= 2:
                            times[name].append(time.perf_counter() - start)
                        peaks[name] = max(peaks.get(name, 0), server.stats()["max_in_flight"])
                return times, peaks

        times, peaks = asyncio.run(run_all())
    rows = []
    for name, values in times.items():
        seconds = harness.median(values)
        ideal = calls / (min(calls, concurrency[name]) / latency)
        rows.append(
            [name, seconds * 1e3, calls / seconds, ideal * 1e3, f"{ideal / seconds:.0%}", peaks[name]]
        )
    harness.print_table(
        f"{calls} concurrent calls, server {latency * 1e3:.0f} ms per request, median of {bursts} bursts",
        ["client", "ms per burst", "calls/s", "ideal ms", "of ideal", "peak in flight"],
        rows,
    )


def split_calls(repeats: int) -> None:
    from rerankit import Reranker
    from rerankit.testing.servers import expected_score

    documents = [f"doc {i}: {text[:200]}" for i, text in enumerate(harness.mixed_documents(5000, seed=4))]
    with ServerProcess("cohere", latency=LATENCY, max_documents_per_request=1000) as server:
        sequential = Reranker(f"cohere/{MODEL}", base_url=server.base_url, api_key=API_KEY, max_concurrency=1)
        concurrent = Reranker(f"cohere/{MODEL}", base_url=server.base_url, api_key=API_KEY)
        outputs = {}

        def keep(name, call):
            def run() -> None:
                outputs[name] = call()

            return run

        contenders = {
            "rerank, max_concurrency=1 (sequential)": lambda: sequential.rerank(harness.QUERY, documents),
            "rerank, default (concurrent)": lambda: concurrent.rerank(harness.QUERY, documents),
            "arerank, max_concurrency=1 (sequential)": lambda: asyncio.run(
                sequential.arerank(harness.QUERY, documents)
            ),
            "arerank, default (concurrent)": lambda: asyncio.run(
                concurrent.arerank(harness.QUERY, documents)
            ),
        }
        timings = harness.measure(
            {name: keep(name, call) for name, call in contenders.items()}, repeats=repeats
        )
    for name, response in outputs.items():
        assert len(response.results) == len(documents) and response.usage.requests == 5, name
        assert all(
            r.relevance_score == expected_score(harness.QUERY, r.document) for r in response.results
        ), name
    rows = []
    for mode in ("rerank", "arerank"):
        base = f"{mode}, max_concurrency=1 (sequential)"
        speed = harness.ratios_to(timings.wall, base)
        for name in (base, f"{mode}, default (concurrent)"):
            rows.append([name, harness.median(timings.wall[name]) * 1e3, f"{1 / speed[name]:.2f}x"])
    harness.print_table(
        f"5,000 documents, 1,000 per request (5 requests), server 20 ms per request, median of {repeats}",
        ["call", "ms per call", "speed-up over sequential"],
        rows,
    )
    print("\nall 5,000 scores checked against the server's expected_score for their document")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per contender for the overhead")
    parser.add_argument("--bursts", type=int, default=10, help="bursts of 64 concurrent calls")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the 5,000-document call")
    args = parser.parse_args()
    print(harness.machine())
    per_call_overhead(args.calls)
    concurrent_calls(args.bursts)
    concurrent_calls(max(3, args.bursts // 2), latency=0.2)
    split_calls(args.repeats)


if __name__ == "__main__":
    main()
