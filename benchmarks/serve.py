"""``rerankit serve`` vs Infinity on the same model on this CPU: pairs/s and p50/p95 latency.

Both servers run side by side, each in its own process, serving the MiniLM-L6-size cross-encoder
(the real all-MiniLM-L6-v2 body with a seeded one-label head, ``harness.minilm_checkpoint()``) from
the same local directory, offline, in fp32 with batches of 32. Clients post the same requests
to ``/rerank`` (each: one query and 16 documents of mixed length, a retriever's top 16, without
echoed documents); every client is its own process, with its own HTTP connection, sending its next
request as soon as the last is answered. At 1, 8 and 32 concurrent clients each server answers
``--requests`` requests per round (shared out between the clients; pairs/s is their documents over
the time from the common start to the last answer), the servers alternating (A B, B A) over
``--rounds`` rounds, so a busy moment of the shared machine hits both; the table pools the rounds.

Infinity pins old libraries (sentence-transformers 3, transformers 4.57), so it runs from its own
virtual environment, given by ``--infinity-python``::

    python -m venv /tmp/infinity-venv
    /tmp/infinity-venv/bin/pip install torch==2.13.0          # first: the CPU build
    /tmp/infinity-venv/bin/pip install "infinity-emb[server,torch]"

Reproduce (about 3 minutes on 2 cores)::

    python benchmarks/serve.py --infinity-python /tmp/infinity-venv/bin/python
    # --requests 64 --rounds 2 --documents 16 --concurrency 1 8 32

Without ``--infinity-python`` only ``rerankit serve`` is measured.

``--overload`` measures instead what an overloaded ``rerankit serve`` (every setting at its default:
30 s deadline, 256 requests, work-based admission) still delivers. Its capacity is measured first
(32 closed-loop clients, requests of ``--documents`` documents); then requests arrive open-loop,
each sent once on schedule whatever the answers (Poisson arrivals), at 1x, 2x and 10x that capacity
for ``--seconds`` seconds each. Goodput is the requests answered 200 within the deadline per second,
as a share of the capacity; then the 429s (and how fast they came), 504s, other errors, and p50/p99
of the served; after the 10x flood, one normal request's latency::

    python benchmarks/serve.py --overload            # about 3 minutes on 2 cores
    # --seconds 15 --documents 16 --levels 1 2 10
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import harness

MODEL_NAME = "minilm-l6-cross-encoder"


class ServerProcess:
    """A rerank server in a child process: started, waited for until ``GET /health`` answers 200."""

    def __init__(self, name: str, command: list[str], base_url: str | None, env: dict[str, str]) -> None:
        self.name = name
        self.command = command
        self.base_url = base_url
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = Path(f"/tmp/bench-serve-{name}.log")

    def __enter__(self) -> ServerProcess:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=self.log.open("w"), env=self.env
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log}:\n{self.log.read_text()[-2000:]}")
            if self.base_url is None:  # rerankit serve --port 0 announces its address
                found = re.search(r"listening on (http://\S+)", self.log.read_text())
                self.base_url = found.group(1) if found else None
            if self.base_url and _healthy(self.base_url):
                return self
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become healthy; see {self.log}")

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _healthy(base_url: str) -> bool:
    import httpx

    try:
        return httpx.get(base_url + "/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_CLIENTS: dict[str, object] = {}


def _connection(url: str):
    """This worker process's HTTP client (one keep-alive connection), made on first use."""
    import httpx

    if url not in _CLIENTS:
        _CLIENTS[url] = httpx.Client(timeout=600)
    return _CLIENTS[url]


def _warm(args: tuple[str, dict]) -> None:
    """Connect with a one-document request outside the measurement; sleep so each worker takes one."""
    url, body = args
    _connection(url).post(url, json={**body, "documents": body["documents"][:1]})
    time.sleep(0.5)


def _client(args: tuple[str, list[dict], float]) -> tuple[list[float], int, int, float]:
    """One client process: from ``start``, post its requests back to back.

    Returns the latencies (s) of the answered requests, the documents they held, the count of
    non-200 answers, and when the last answer came (``time.time()``).
    """
    url, bodies, start = args
    client = _connection(url)
    latencies, documents, failures = [], 0, 0
    while time.time() < start:
        time.sleep(0.001)
    for body in bodies:
        sent = time.perf_counter()
        reply = client.post(url, json=body)
        latency = time.perf_counter() - sent
        if reply.status_code != 200:
            failures += 1
            continue
        latencies.append(latency)
        documents += len(body["documents"])
    return latencies, documents, failures, time.time()


def load(pool, url: str, bodies: list[dict], clients: int) -> dict:
    """``clients`` processes sending ``bodies`` between them; pooled latencies and pairs/s."""
    pool.map(_warm, [(url, bodies[n % len(bodies)]) for n in range(clients)], chunksize=1)
    start = time.time() + 1.0  # every task handed to its worker before the clock starts
    shares = [bodies[n::clients] for n in range(clients)]
    results = pool.map(_client, [(url, share, start) for share in shares], chunksize=1)
    return {
        "latencies": [latency for result in results for latency in result[0]],
        "documents": sum(result[1] for result in results),
        "failures": sum(result[2] for result in results),
        "seconds": max(result[3] for result in results) - start,
    }


def overload_server(path: Path, env: dict[str, str]) -> ServerProcess:
    """``rerankit serve`` with its defaults (only the device and dtype said, the name to reach it by)."""
    command = [sys.executable, "-m", "rerankit", "serve", f"local/{path}", "--port", "0"]
    command += ["--served-model-name", MODEL_NAME, "-o", "device=cpu", "-o", "dtype=float32"]
    return ServerProcess("rerankit-overload", [*command, "--log-level", "warning"], None, env)


async def _open_loop(url: str, bodies: list[dict], rate: float, seconds: float, deadline: float) -> list:
    """Send ``rate`` requests per second (Poisson arrivals) for ``seconds``, each once, not waiting
    for answers; (status, latency s) of each, status 0 for a client-side failure."""
    import asyncio
    import random

    import httpx

    rng = random.Random(7)
    outcomes: list[tuple[int, float]] = []
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=2000)
    async with httpx.AsyncClient(timeout=deadline + 30, limits=limits) as client:

        async def one(body: dict) -> None:
            sent = time.perf_counter()
            try:
                status = (await client.post(url, json=body)).status_code
            except httpx.HTTPError:
                status = 0
            outcomes.append((status, time.perf_counter() - sent))

        tasks, start, at, n = [], time.perf_counter(), 0.0, 0
        while at < seconds:
            delay = start + at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(bodies[n % len(bodies)])))
            n += 1
            at += rng.expovariate(rate)
        await asyncio.gather(*tasks)
    return outcomes


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def _drain(base_url: str) -> None:
    import httpx

    while True:
        text = httpx.get(base_url + "/metrics", timeout=10).text
        if re.search(r"^rerankit_serve_queue_depth 0(\.0)?$", text, re.MULTILINE):
            return
        time.sleep(0.5)


def overload(args: argparse.Namespace, path: Path, bodies: list[dict], env: dict[str, str]) -> None:
    import asyncio

    import httpx

    deadline = 30.0  # ServeConfig's request_timeout default
    with overload_server(path, env) as server, multiprocessing.get_context("spawn").Pool(32) as pool:
        url = server.base_url + "/rerank"
        measured = load(pool, url, bodies, 32)
        capacity = len(measured["latencies"]) / measured["seconds"]
        print(
            f"capacity: {capacity:.2f} requests/s of {args.documents} documents "
            f"({measured['documents'] / measured['seconds']:.0f} pairs/s, 32 closed-loop clients)",
            flush=True,
        )
        rows = []
        for level in args.levels:
            _drain(server.base_url)
            outcomes = asyncio.run(_open_loop(url, bodies, level * capacity, args.seconds, deadline))
            served = [latency for status, latency in outcomes if status == 200]
            in_time = [latency for latency in served if latency <= deadline]
            refused = [latency for status, latency in outcomes if status == 429]
            statuses = [status for status, _ in outcomes]
            other = len([s for s in statuses if s not in (200, 429, 504)])
            rows.append(
                [
                    f"{level:g}x",
                    f"{level * capacity:.1f}",
                    len(outcomes),
                    len(in_time),
                    f"{len(in_time) / args.seconds / capacity:.2f}",
                    len(refused),
                    _percentile(refused, 0.95) * 1e3,
                    statuses.count(504),
                    f"{statuses.count(504) / len(outcomes):.1%}",
                    other,
                    _percentile(served, 0.5) * 1e3,
                    _percentile(served, 0.99) * 1e3,
                ]
            )
            print(rows[-1], flush=True)
        sent = time.perf_counter()
        after = httpx.post(url, json=bodies[0], timeout=120)
        after_ms = (time.perf_counter() - sent) * 1e3
    harness.print_table(
        f"rerankit serve at its defaults, offered load open-loop for {args.seconds:g} s, "
        f"{args.documents} documents per request; capacity {capacity:.2f} requests/s",
        [
            "offered",
            "requests/s",
            "sent",
            "answered in time",
            "goodput (of capacity)",
            "429",
            "429 p95 ms",
            "504",
            "504 share",
            "other errors",
            "served p50 ms",
            "served p99 ms",
        ],
        rows,
    )
    print(
        f"\nAfter the {args.levels[-1]:g}x flood, a normal request: HTTP {after.status_code} in {after_ms:.0f} ms."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--infinity-python", help="python of a venv with infinity-emb installed")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--requests", type=int, default=64, help="requests per server, level and round, shared by the clients"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--documents", type=int, default=16, help="documents per request")
    parser.add_argument("--overload", action="store_true", help="goodput at 1x, 2x, 10x capacity instead")
    parser.add_argument(
        "--levels", type=float, nargs="+", default=[1, 2, 10], help="offered load, x capacity"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of offered load per level")
    args = parser.parse_args()
    # A SIGTERM (timeout, CI) unwinds the ExitStack below, so the servers are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(harness.machine())
    path = harness.minilm_checkpoint()
    pool_docs = harness.mixed_documents(args.requests * args.documents, seed=5)
    bodies = [
        {
            "model": MODEL_NAME,
            "query": f"{harness.QUERY} (variant {i})",
            "documents": pool_docs[i * args.documents : (i + 1) * args.documents],
            "return_documents": False,
        }
        for i in range(args.requests)
    ]
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    env["PYTHONPATH"] = os.pathsep.join([str(harness.REPO_ROOT / "integrations"), env.get("PYTHONPATH", "")])
    if args.overload:
        overload(args, path, bodies, env)
        return
    servers = [
        ServerProcess(
            "rerankit",
            [
                sys.executable,
                "-m",
                "rerankit",
                "serve",
                f"local/{path}",
                "--port",
                "0",
                "--served-model-name",
                MODEL_NAME,
                "-o",
                "device=cpu",
                "-o",
                "dtype=float32",
                "-o",
                "batch_size=32",
                "--max-queue",
                "1024",
                "--log-level",
                "warning",
            ],
            None,
            env,
        )
    ]
    if args.infinity_python:
        port = _free_port()
        infinity_env = {**env, "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0"}
        infinity_env.pop("PYTHONPATH")
        servers.append(
            ServerProcess(
                "infinity",
                [
                    str(Path(args.infinity_python).parent / "infinity_emb"),
                    "v2",
                    "--model-id",
                    str(path),
                    "--served-model-name",
                    MODEL_NAME,
                    "--engine",
                    "torch",
                    "--device",
                    "cpu",
                    "--dtype",
                    "float32",
                    "--batch-size",
                    "32",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-vector-disk-cache",
                ],
                f"http://127.0.0.1:{port}",
                infinity_env,
            )
        )
    labels = {"rerankit": "rerankit serve"}
    if args.infinity_python:
        version = subprocess.run(
            [args.infinity_python, "-c", "import importlib.metadata as m; print(m.version('infinity-emb'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        labels["infinity"] = f"Infinity {version}"
    results: dict[tuple[str, int], list[dict]] = {}
    context = multiprocessing.get_context("spawn")
    from contextlib import ExitStack

    with ExitStack() as stack:
        running = [stack.enter_context(server) for server in servers]
        print(json.dumps({labels[server.name]: server.base_url for server in running}))
        with context.Pool(max(args.concurrency)) as pool:
            for clients in args.concurrency:
                for round_number in range(args.rounds):
                    order = running if round_number % 2 == 0 else list(reversed(running))
                    for server in order:
                        outcome = load(pool, server.base_url + "/rerank", bodies, clients)
                        results.setdefault((server.name, clients), []).append(outcome)
                        print(
                            f"{server.name:9s} clients={clients:3d} round={round_number}: "
                            f"{outcome['documents'] / outcome['seconds']:.0f} pairs/s, "
                            f"{len(outcome['latencies'])} requests in {outcome['seconds']:.1f} s, "
                            f"{outcome['failures']} failed",
                            flush=True,
                        )
    rows = []
    for clients in args.concurrency:
        base = None
        for server in servers:
            outcomes = results[(server.name, clients)]
            latencies = sorted(latency for outcome in outcomes for latency in outcome["latencies"])
            pairs_per_second = sum(o["documents"] for o in outcomes) / sum(o["seconds"] for o in outcomes)
            p50 = statistics.median(latencies) * 1000
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] * 1000
            base = base or pairs_per_second
            rows.append(
                [
                    clients,
                    labels[server.name],
                    pairs_per_second,
                    p50,
                    p95,
                    f"{pairs_per_second / base:.2f}x" if server.name != "rerankit" else "1.00x",
                    sum(o["failures"] for o in outcomes),
                ]
            )
    harness.print_table(
        f"rerankit serve vs Infinity, MiniLM-L6 cross-encoder, {args.documents} documents per request",
        ["clients", "server", "pairs/s", "p50 ms", "p95 ms", "pairs/s vs rerankit", "failed"],
        rows,
    )


if __name__ == "__main__":
    main()
