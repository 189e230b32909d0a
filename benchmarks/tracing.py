"""Tracing overhead per call on the remote loopback path: on (SDK, no-op exporter) vs off vs not
installed vs rerankit before tracing existed.

Each contender runs in a process of its own (what it imports differs), against one Cohere-format
loopback server in another process (``loopback_server.py``), 20 mixed-length documents per call:

* ``before tracing``: rerankit's source at the commit before ``rerankit/_tracing`` was added
  (``git archive``), OpenTelemetry importable: what the hooks' cost is measured against;
* ``not installed``: this tree, ``opentelemetry`` made unimportable (every hook sees ``None``);
* ``installed, off``: this tree with the OpenTelemetry API and no SDK set up (its no-op tracer and
  meter: what an application that has the API but did not configure tracing gets);
* ``on, no-op exporter``: an SDK ``TracerProvider`` with a ``BatchSpanProcessor`` and an SDK
  ``MeterProvider`` with a periodic reader, both exporting to exporters that drop everything (the
  cost of making and recording every span and instrument, not of shipping them).

The SDK's own floor, what it does for one call with no rerankit around it (``tracing_floor.py``: the
same four nested spans with the same attributes, the ``traceparent`` injected, the same three
instrument records, every dict built in advance, on the same SDK set-up), is measured twice:

* ``SDK floor beside an untraced call``: a contender, rerankit before tracing with the floor made
  after each call (timed with it), so the SDK's work runs among the call's as it does when traced;
* ``SDK floor alone, tight loop`` (a row, in the ``on`` process and round): the floor by itself,
  its caches warm, as a share of a call before tracing: a lower bound.

``on: rerankit over the floor`` is ``on`` minus the first (paired by round): rerankit's own share.

Rounds are interleaved (A B C D, D C B A, ...), each process making ``--calls`` sync ``rerank``
calls, then as many ``arerank`` calls; the table gives p50 and p90 per call, the median over rounds
of each round's p50 ratio to ``before tracing`` (paired, so machine drift cancels), and the client
process's CPU time per call (steadier than wall time on a shared machine: it is the work tracing
adds, not the time waited for a core).

Reproduce (about two minutes)::

    flock /tmp/rerankit-bench.lock python benchmarks/tracing.py     # --rounds 12 --calls 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import harness
from loopback_server import ServerProcess

WORKER = """
import asyncio, importlib.abc, json, sys, time
MODE, BASE_URL, SOURCE = sys.argv[1], sys.argv[2], sys.argv[3]
if MODE == "not installed":
    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(name)
            return None
    sys.meta_path.insert(0, Missing())
if MODE in ("on, no-op exporter", "SDK floor beside an untraced call"):
    import otel_noop

    otel_noop.install(5_000)

import rerankit
from rerankit import Reranker
assert rerankit.__file__.startswith(SOURCE), (rerankit.__file__, SOURCE)  # before harness touches sys.path
import harness

documents = harness.mixed_documents(20, seed=3)
reranker = Reranker("cohere/rerank-v3.5", base_url=BASE_URL, api_key="test-key")
if MODE not in ("before tracing", "SDK floor beside an untraced call"):
    import rerankit._tracing as tracing
    loaded = tracing.enabled()
    assert loaded == (MODE != "not installed"), (MODE, loaded)
    recording = loaded and tracing._otel.tracer.start_span("probe").is_recording()
    assert recording == (MODE == "on, no-op exporter"), (MODE, recording)

async def arerank_calls(count):
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await reranker.arerank(harness.QUERY, documents)
        if beside is not None:
            beside()
        times.append(time.perf_counter() - start)
    return times

floor = beside = None
if MODE in ("on, no-op exporter", "SDK floor beside an untraced call"):
    from tracing_floor import floor_call
    floor = floor_call()
if MODE == "SDK floor beside an untraced call":  # each call is followed by the SDK's floor, made directly
    beside = floor

def floor_calls(count):
    if floor is None:
        return [], 0.0
    times, cpu = [], time.process_time()
    for _ in range(count):
        start = time.perf_counter()
        floor()
        times.append(time.perf_counter() - start)
    return times, (time.process_time() - cpu) / count

loop = asyncio.new_event_loop()
print("ready", flush=True)
for line in sys.stdin:
    count = int(line)
    times, cpu = [], time.process_time()
    for _ in range(count):
        start = time.perf_counter()
        reranker.rerank(harness.QUERY, documents)
        if beside is not None:
            beside()
        times.append(time.perf_counter() - start)
    cpu, acpu = (time.process_time() - cpu) / count, time.process_time()
    atimes = loop.run_until_complete(arerank_calls(count))
    acpu = (time.process_time() - acpu) / count
    ftimes, fcpu = floor_calls(count) if beside is None else ([], 0.0)
    print(json.dumps([times, cpu, atimes, acpu, ftimes, fcpu]), flush=True)
"""

FLOOR = "SDK floor beside an untraced call"
CONTENDERS = ("before tracing", "not installed", "installed, off", FLOOR, "on, no-op exporter")
KINDS = ("rerank", "arerank")


def source_before_tracing(directory: Path) -> Path:
    """``integrations/`` as it was at the commit before ``rerankit/_tracing`` was added."""
    added = subprocess.run(
        ["git", "log", "--diff-filter=A", "--format=%H", "--", "integrations/rerankit/_tracing/__init__.py"],
        capture_output=True,
        text=True,
        check=True,
        cwd=harness.REPO_ROOT,
    ).stdout.split()[-1]
    archive = directory / "before.tar"
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), f"{added}^", "integrations"],
        check=True,
        cwd=harness.REPO_ROOT,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(directory, filter="data")
    return directory / "integrations"


class Worker:
    """One contender's process: ``run(n)`` makes n sync then n async calls, returns their seconds."""

    def __init__(self, mode: str, base_url: str, integrations: Path) -> None:
        benchmarks = str(Path(__file__).resolve().parent)
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(integrations), benchmarks])}
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, mode, base_url, str(integrations)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=environment,
        )
        assert self.process.stdout.readline().strip() == "ready", f"{mode} did not start"

    def run(self, calls: int) -> list[Any]:
        """Seconds per sync call, CPU seconds per sync call; the same for the async calls, then for
        as many SDK floor calls (``on, no-op exporter`` only; else none and 0)."""
        self.process.stdin.write(f"{calls}\n")
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--calls", type=int, default=100, help="sync calls (and as many async) per round")
    args = parser.parse_args()
    print(harness.machine())
    with tempfile.TemporaryDirectory() as scratch, ServerProcess("cohere") as server:
        sources = {mode: harness.REPO_ROOT / "integrations" for mode in CONTENDERS}
        sources["before tracing"] = sources[FLOOR] = source_before_tracing(Path(scratch))
        workers = {mode: Worker(mode, server.base_url, sources[mode]) for mode in CONTENDERS}
        for worker in workers.values():
            worker.run(20)  # warm up: pools, imports, code paths
        walls: dict[str, dict[str, list[list[float]]]] = {
            kind: {mode: [] for mode in CONTENDERS} for kind in KINDS
        }
        cpus: dict[str, dict[str, list[float]]] = {kind: {mode: [] for mode in CONTENDERS} for kind in KINDS}
        floor_walls: list[list[float]] = []
        floor_cpus: list[float] = []
        for round_number in range(args.rounds):
            order = CONTENDERS if round_number % 2 == 0 else tuple(reversed(CONTENDERS))
            for mode in order:
                sync, cpu, asynchronous, acpu, floor, fcpu = workers[mode].run(args.calls)
                walls["rerank"][mode].append(sync)
                walls["arerank"][mode].append(asynchronous)
                cpus["rerank"][mode].append(cpu)
                cpus["arerank"][mode].append(acpu)
                if floor:
                    floor_walls.append(floor)
                    floor_cpus.append(fcpu)
        for worker in workers.values():
            worker.close()
    for kind in KINDS:
        rows = []
        for mode in CONTENDERS:
            every = [t for times in walls[kind][mode] for t in times]
            wall_ratio = statistics.median(
                statistics.median(mine) / statistics.median(base)
                for mine, base in zip(walls[kind][mode], walls[kind]["before tracing"], strict=True)
            )
            cpu_ratio = statistics.median(
                mine / base for mine, base in zip(cpus[kind][mode], cpus[kind]["before tracing"], strict=True)
            )
            rows.append(
                [
                    mode,
                    statistics.median(every) * 1e3,
                    percentile(every, 0.9) * 1e3,
                    f"{(wall_ratio - 1) * 100:+.1f}%",
                    statistics.median(cpus[kind][mode]) * 1e6,
                    f"{(cpu_ratio - 1) * 100:+.1f}%",
                ]
            )
        rows += floor_rows(walls[kind], cpus[kind], floor_walls, floor_cpus)
        harness.print_table(
            f"`{kind}`, 20 documents, loopback Cohere server ({args.rounds} rounds x {args.calls} calls)",
            ["tracing", "p50 ms", "p90 ms", "p50 vs before", "client CPU µs/call", "CPU vs before"],
            rows,
        )


def floor_rows(
    walls: dict[str, list[list[float]]],
    cpus: dict[str, list[float]],
    floor_walls: list[list[float]],
    floor_cpus: list[float],
) -> list[list[Any]]:
    """Two rows beside :data:`FLOOR`'s: the SDK's floor alone in a tight loop (in the ``on``
    process and round), as a share of a call before tracing; and what ``on`` adds over
    :data:`FLOOR` (the same SDK work made beside an untraced call), rerankit's own share."""
    before, on = "before tracing", "on, no-op exporter"
    every = [t for times in floor_walls for t in times]
    wall_share = statistics.median(
        statistics.median(floor) / statistics.median(base)
        for floor, base in zip(floor_walls, walls[before], strict=True)
    )
    cpu_share = statistics.median(floor / base for floor, base in zip(floor_cpus, cpus[before], strict=True))
    over_wall = statistics.median(
        (statistics.median(mine) - statistics.median(floor)) / statistics.median(base)
        for mine, floor, base in zip(walls[on], walls[FLOOR], walls[before], strict=True)
    )
    over_cpu = statistics.median(
        (mine - floor) / base for mine, floor, base in zip(cpus[on], cpus[FLOOR], cpus[before], strict=True)
    )
    return [
        [
            "SDK floor alone, tight loop",
            statistics.median(every) * 1e3,
            percentile(every, 0.9) * 1e3,
            f"{wall_share * 100:+.1f}%",
            statistics.median(floor_cpus) * 1e6,
            f"{cpu_share * 100:+.1f}%",
        ],
        [
            "on: rerankit over the floor",
            "",
            "",
            f"{over_wall * 100:+.1f}%",
            (statistics.median(cpus[on]) - statistics.median(cpus[FLOOR])) * 1e6,
            f"{over_cpu * 100:+.1f}%",
        ],
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
