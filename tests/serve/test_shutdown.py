"""``rerankit serve`` as a real process: SIGTERM stops accepting, drains in-flight requests, exits.

After draining, uvicorn (>= 0.29) re-raises the signal it caught, so the process ends "killed by
SIGTERM" (status 143 in a shell) as supervisors expect of a process they stopped."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from rerankit.testing.servers import RerankServer, expected_score

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT = 4
UPSTREAM_LATENCY_S = 3.0


def start_server(spec: str, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "integrations"), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "rerankit", "serve", spec, "--port", "0", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=environment,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
    if not match:
        process.kill()
        pytest.fail(f"no listening line from rerankit serve: {line!r}")
    return process, match.group(1)


def wait_ready(base_url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited while loading"
        try:
            if httpx.get(base_url + "/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("the server never became ready")


def queue_depth(base_url: str) -> float:
    text = httpx.get(base_url + "/metrics").text
    return float(re.search(r"^rerankit_serve_queue_depth (\S+)$", text, re.MULTILINE).group(1))


@pytest.mark.slow
def test_sigterm_drains_in_flight_requests_then_exits() -> None:
    """The served spec is a gateway backend pointed at a loopback server that answers after 3 s, so
    the requests are surely in flight when SIGTERM comes (and the served process needs no torch)."""
    key = "shutdown-test-key-987"
    with RerankServer("gateway", api_key=None, latency=UPSTREAM_LATENCY_S) as upstream:
        process, base_url = start_server(
            "gateway/upstream-model",
            "-o",
            f"base_url={upstream.base_url}",
            "--request-timeout",
            "120",
            env={"RERANKIT_SERVE_API_KEY": key},
        )
        try:
            _drain(process, base_url, key, upstream)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _drain(process: subprocess.Popen, base_url: str, key: str, upstream: RerankServer) -> None:
    wait_ready(base_url, process)
    documents = [f"passage {i} about ranking" for i in range(8)]
    replies: list[httpx.Response | BaseException] = []

    def client() -> None:
        try:
            replies.append(
                httpx.post(
                    base_url + "/v1/rerank",
                    json={"query": "q", "documents": documents},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=120,
                )
            )
        except BaseException as exc:
            replies.append(exc)

    threads = [threading.Thread(target=client) for _ in range(IN_FLIGHT)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while queue_depth(base_url) < IN_FLIGHT:
        assert time.monotonic() < deadline, "the requests never got in flight"
        time.sleep(0.02)

    process.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    # Stopped accepting: a new connection is refused while the admitted requests still run.
    with pytest.raises(httpx.ConnectError):
        httpx.get(base_url + "/health", timeout=2)
    assert process.poll() is None, "the server exited before draining"

    for thread in threads:
        thread.join(timeout=120)
    assert len(replies) == IN_FLIGHT
    for reply in replies:
        assert isinstance(reply, httpx.Response), f"an in-flight request was lost: {reply!r}"
        assert reply.status_code == 200
        results = reply.json()["results"]
        assert sorted(r["index"] for r in results) == list(range(len(documents)))
        for result in results:
            expected = expected_score("q", documents[result["index"]])
            assert result["relevance_score"] == pytest.approx(expected, abs=1e-9)
    assert process.wait(timeout=60) == -signal.SIGTERM
    _, stderr = process.communicate(timeout=5)
    assert key not in stderr
    assert "Waiting for connections to close" in stderr
    assert len(upstream.requests) == IN_FLIGHT


def test_bad_spec_exits_2_with_a_message() -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "integrations")}
    result = subprocess.run(
        [sys.executable, "-m", "rerankit", "serve", "nosuch/model", "--port", "0"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown backend 'nosuch'" in result.stderr


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--max-documents-per-request",
            "0",
            "max_documents_per_request must be an integer of at least 1, got 0",
        ),
        ("--max-documents", "0", "max_documents_per_request must be an integer of at least 1, got 0"),
        ("--request-timeout", "0", "request_timeout must be a number greater than 0, got 0.0"),
    ],
)
def test_a_bad_limit_exits_2_naming_the_option(flag: str, value: str, message: str) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "integrations")}
    result = subprocess.run(
        [sys.executable, "-m", "rerankit", "serve", "cohere/rerank-v3.5", flag, value, "--port", "0"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())


def test_a_model_that_cannot_load_exits_1() -> None:
    # A Cohere backend without a key fails to build, as a missing local model does, minus the torch import.
    env = {name: "" for name in ("COHERE_API_KEY", "CO_API_KEY")}
    process, _ = start_server("cohere/rerank-v3.5", env=env)
    try:
        assert process.wait(timeout=60) == 1
        _, stderr = process.communicate(timeout=5)
        assert "could not load cohere/rerank-v3.5" in stderr
    finally:
        if process.poll() is None:
            process.kill()
