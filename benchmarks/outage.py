"""Outages and replicas: rerankit with its circuit breakers and retry budget off (before) and on (after).

Every server is a ``rerankit.testing.servers.RerankServer`` in its own process (``loopback_server.py``),
spoken to over real loopback HTTP; all options are the defaults (``max_retries=6``,
``backoff_base=0.5``, breaker after 12 failed requests in a row with a 5 s cool-down, retry budget
a bucket of 500 tokens, 5 a retry) except where a row says otherwise. "Before" is
``circuit_breaker=False, retry_budget=False``: the transport without either.

1. A primary answering 503 to everything, with a healthy fallback (Jina format): per-call latency
   (before; after, once the breaker opened) against the fallback called directly, interleaved; the
   requests the dead primary gets while calls keep coming, per cool-down.
2. The same primary without a fallback: how long a failing call takes (after: once open).
3. Recovery: the primary heals while its breaker is open; how long until a call is answered by it
   again, against the cool-down left at that moment.
4. Two gateway replicas, one stopped after 100 of 400 async calls (16 in flight): failed calls,
   requests to the stopped one, wall time.
5. 256 async calls, 64 in flight, during the outage of 1. (with the fallback): requests to the dead
   primary and wall time, before, with the retry budget only, and after.
6. Brownouts: a gateway failing 10%, 30% or 50% of its requests transiently (429 with and without
   ``Retry-After``, 502, 503, dropped connections), no fallback, 64 calls in flight: 400 calls with
   ``max_retries=10`` and 1,000 with every option at its default; failed calls, requests per call,
   p50/p99 latency.

Reproduce (about six minutes)::

    python benchmarks/outage.py
    python benchmarks/outage.py --only brownout   # just the brownout rows
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

import harness
from loopback_server import ServerProcess

from rerankit import Reranker, RerankError

API_KEY = "test-key"
DOCUMENTS = harness.mixed_documents(20, seed=3)
BEFORE = {"circuit_breaker": False, "retry_budget": False}


class _Counter(logging.Handler):
    """Keeps the WARNINGs (retries, fallbacks, breaker changes) off the terminal, counting them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.breaker_changes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "circuit breaker" in record.getMessage():
            self.breaker_changes.append(record.getMessage())


def primary(server: ServerProcess, **options) -> Reranker:
    return Reranker("cohere/rerank-v3.5", base_url=server.base_url, api_key=API_KEY, **options)


def fallback(server: ServerProcess) -> Reranker:
    return Reranker("jina/jina-reranker-v2-base-multilingual", base_url=server.base_url, api_key=API_KEY)


def timed(reranker: Reranker) -> tuple[float, object]:
    """One sync call's seconds and its response (or the error it raised)."""
    start = time.perf_counter()
    try:
        result = reranker.rerank(harness.QUERY, DOCUMENTS)
    except RerankError as error:
        result = error
    return time.perf_counter() - start, result


def outage(calls_before: int, calls_after: int, probe_window: float) -> None:
    rows, notes = [], []
    with ServerProcess("cohere") as dead, ServerProcess("jina") as healthy:
        dead.faults(1.0, "503")
        direct = fallback(healthy)
        for options, label in ((BEFORE, "before (breaker and budget off)"), ({}, "after (defaults)")):
            with_fallback = Reranker(primary(dead, **options).backend, fallbacks=[fallback(healthy)])
            alone = Reranker(with_fallback.backend)  # the same backend: the same breaker
            dead.reset()
            opening = [timed(with_fallback)[0] for _ in range(3)]
            opened_requests = dead.stats()["requests"]
            count = calls_after if options == {} else calls_before
            ours, theirs = [], []
            for round_number in range(max(count, 20)):
                if round_number < count:
                    ours.append(timed(with_fallback)[0])
                theirs.append(timed(direct)[0])
            after_opening = dead.stats()["requests"] - opened_requests
            failing = [timed(alone) for _ in range(min(count, 50))]
            fail_ms = [seconds * 1e3 for seconds, _ in failing]
            kinds = sorted({type(result).__name__ for _, result in failing})
            rows.append(
                [
                    label,
                    harness.median(opening) * 1e3,
                    opened_requests,
                    harness.median(ours) * 1e3,
                    harness.median(theirs) * 1e3,
                    f"{harness.median(ours) / harness.median(theirs):.2f}",
                    f"{after_opening} in {count} calls",
                    harness.median(fail_ms),
                    max(fail_ms),
                    ", ".join(kinds),
                ]
            )
            if options == {}:
                notes.append(probes_per_cooldown(with_fallback, dead, probe_window))
                notes.append(recovery(with_fallback, dead))
            with_fallback.close()
        direct.close()
    harness.print_table(
        "A primary answering 503 to everything, fallback healthy (sequential calls, 20 documents)",
        [
            "transport",
            "first 3 calls, ms each",
            "requests to the primary in them",
            "then per call, ms (p50)",
            "fallback alone, ms (p50)",
            "ratio",
            "requests to the primary",
            "no fallback: failing call, ms (p50)",
            "max ms",
            "raised",
        ],
        rows,
    )
    for note in notes:
        print(f"\n{note}")


def probes_per_cooldown(reranker: Reranker, dead: ServerProcess, window: float) -> str:
    """Calls keep coming every 10 ms for ``window`` seconds while the primary stays dead."""
    counter = _Counter()
    logging.getLogger("rerankit").addHandler(counter)
    dead.reset()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < window:
        assert reranker.rerank(harness.QUERY, DOCUMENTS).backend == "jina"
        calls += 1
        time.sleep(0.01)
    logging.getLogger("rerankit").removeHandler(counter)
    reopened = [m.split("open for ")[1].split(" s")[0] for m in counter.breaker_changes if "open for" in m]
    return (
        f"While it stays dead, {calls} calls over {window:.0f} s sent {dead.stats()['requests']} request(s) "
        f"to it: one probe per cool-down (re-opened for {', '.join(reopened) or '-'} s)."
    )


def recovery(reranker: Reranker, dead: ServerProcess) -> str:
    """The primary heals while open; calls every 10 ms until one is answered by it."""
    health = reranker.health()[0].endpoints[0]
    dead.faults(0.0, "503")
    healed, left = time.perf_counter(), health.retry_in
    calls = 0
    while reranker.rerank(harness.QUERY, DOCUMENTS).backend != "cohere":
        calls += 1
        time.sleep(0.01)
    back = time.perf_counter() - healed
    dead.faults(1.0, "503")
    return (
        f"Recovery: healed with {left:.2f} s of cool-down left; back on it after {back:.2f} s "
        f"({calls} calls went to the fallback meanwhile), state now {reranker.health()[0].endpoints[0].state.value}."
    )


def replicas(calls: int, stop_after: int) -> None:
    rows = []
    for options, label in ((BEFORE, "before (breaker and budget off)"), ({}, "after (defaults)")):
        with ServerProcess("gateway", latency=0.005) as a, ServerProcess("gateway", latency=0.005) as b:
            reranker = Reranker(
                "gateway/BAAI/bge-reranker-v2-m3",
                base_url=[a.base_url, b.base_url],
                api_key=API_KEY,
                **options,
            )

            async def run(reranker: Reranker = reranker, a: ServerProcess = a) -> tuple[list, float, int]:
                limit, done, stopped_at = asyncio.Semaphore(16), 0, [0]

                async def one(i: int):
                    nonlocal done
                    async with limit:
                        try:
                            return await reranker.arerank(f"{harness.QUERY} {i}", DOCUMENTS)
                        finally:
                            done += 1

                async def operator() -> None:
                    while done < stop_after:
                        await asyncio.sleep(0.002)
                    await asyncio.to_thread(a.stop_serving)
                    stopped_at[0] = reranker.health()[0].endpoints[0].requests

                start = time.perf_counter()
                results = await asyncio.gather(operator(), *map(one, range(calls)), return_exceptions=True)
                return results[1:], time.perf_counter() - start, stopped_at[0]

            results, seconds, at_stop = asyncio.run(run())
            failed = sum(isinstance(r, BaseException) for r in results)
            after_stop = reranker.health()[0].endpoints[0].requests - at_stop  # attempts, refused
            rows.append([label, calls, failed, after_stop, b.stats()["requests"], seconds * 1e3])
            a.start_serving()
    harness.print_table(
        f"Two replicas, one stopped after {stop_after} of {calls} async calls (16 in flight)",
        [
            "transport",
            "calls",
            "failed calls",
            "attempts at the stopped one after",
            "to the other",
            "wall ms",
        ],
        rows,
    )


def storm(calls: int = 256, in_flight: int = 64) -> None:
    rows = []
    configurations = (
        (BEFORE, "before (breaker and budget off)"),
        ({"circuit_breaker": False}, "retry budget only"),
        ({}, "after (defaults)"),
    )
    with ServerProcess("cohere") as dead, ServerProcess("jina") as healthy:
        dead.faults(1.0, "503")
        alone = fallback(healthy)
        start = time.perf_counter()
        asyncio.run(_burst(alone, calls, in_flight))
        rows.append(
            ["the fallback alone (reference)", calls, calls, "-", (time.perf_counter() - start) * 1e3]
        )
        alone.close()
        for options, label in configurations:
            reranker = Reranker(primary(dead, **options).backend, fallbacks=[fallback(healthy)])
            dead.reset()
            healthy.reset()

            start = time.perf_counter()
            results = asyncio.run(_burst(reranker, calls, in_flight))
            seconds = time.perf_counter() - start
            answered = sum(getattr(r, "backend", None) == "jina" for r in results)
            rows.append([label, calls, answered, dead.stats()["requests"], seconds * 1e3])
            reranker.close()
    harness.print_table(
        f"{calls} async calls, {in_flight} in flight, during the outage (fallback healthy)",
        ["transport", "calls", "answered (by the fallback)", "requests to the dead primary", "wall ms"],
        rows,
    )


async def _burst(reranker: Reranker, calls: int, in_flight: int, latencies: list | None = None) -> list:
    limit = asyncio.Semaphore(in_flight)

    async def one(i: int):
        async with limit:
            start = time.perf_counter()
            try:
                return await reranker.arerank(f"{harness.QUERY} {i}", DOCUMENTS)
            finally:
                if latencies is not None:
                    latencies.append(time.perf_counter() - start)

    return await asyncio.gather(*map(one, range(calls)), return_exceptions=True)


#: What the issue's gateway answered a share of its requests with (Retry-After: 1 s).
BROWNOUT_FAULTS = ("429", "429-retry-after", "502", "503", "drop")


def brownout(rates: tuple[float, ...] = (0.1, 0.3, 0.5), in_flight: int = 64) -> None:
    rows = []
    configurations = (
        (400, {"max_retries": 10}, "max_retries=10"),
        (1000, {}, "all defaults"),
        (400, {"max_retries": 10, **BEFORE}, "max_retries=10, breaker and budget off"),
    )
    with ServerProcess("gateway") as server:
        for rate in rates:
            for calls, options, label in configurations:
                if BEFORE.items() <= options.items() and rate != 0.3:
                    continue  # the reference row, at the 30% only
                server.faults(rate, *BROWNOUT_FAULTS)
                server.reset()
                reranker = Reranker(
                    "gateway/BAAI/bge-reranker-v2-m3", base_url=server.base_url, api_key=API_KEY, **options
                )
                latencies: list[float] = []
                start = time.perf_counter()
                results = asyncio.run(_burst(reranker, calls, in_flight, latencies))
                seconds = time.perf_counter() - start
                failed = [r for r in results if isinstance(r, BaseException)]
                kinds = sorted({type(r).__name__ for r in failed})
                health = reranker.health()[0]
                latencies.sort()
                rows.append(
                    [
                        f"{rate:.0%}",
                        label,
                        calls,
                        len(failed),
                        f"{server.stats()['requests'] / calls:.2f}",
                        harness.median(latencies) * 1e3,
                        latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1e3,
                        health.endpoints[0].state.value,
                        health.budget_tokens,
                        ", ".join(kinds) or "-",
                        seconds * 1e3,
                    ]
                )
                reranker.close()
    harness.print_table(
        f"Brownouts: a gateway failing a share of its requests transiently, {in_flight} calls in flight, no fallback",
        [
            "faults",
            "options",
            "calls",
            "failed calls",
            "requests per call",
            "p50 ms",
            "p99 ms",
            "breaker after",
            "budget tokens left",
            "raised",
            "wall ms",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--calls-before", type=int, default=2, help="calls measured after the first 3, before"
    )
    parser.add_argument("--calls-after", type=int, default=200, help="calls measured once the breaker opened")
    parser.add_argument(
        "--probe-window", type=float, default=16.0, help="seconds of calls while it stays dead"
    )
    parser.add_argument("--only", choices=["outage", "replicas", "storm", "brownout"], help="one part only")
    args = parser.parse_args()
    logging.getLogger("rerankit").addHandler(logging.NullHandler())
    logging.getLogger("rerankit").propagate = False
    print(harness.machine())
    parts = {
        "outage": lambda: outage(args.calls_before, args.calls_after, args.probe_window),
        "replicas": lambda: replicas(400, 100),
        "storm": storm,
        "brownout": brownout,
    }
    for name, part in parts.items():
        if args.only in (None, name):
            part()


if __name__ == "__main__":
    main()
