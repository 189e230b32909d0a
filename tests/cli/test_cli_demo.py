"""``rerankit demo``: offline two-stage retrieval on the shipped corpus, and its choice of model."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rerankit._demo_model import DEMO_MODEL, FALLBACK_MODEL, choose_demo_model


def test_demo_falls_back_to_the_shipped_bi_encoder_offline(empty_hf_cache: Path):
    spec, note = choose_demo_model()
    assert spec == FALLBACK_MODEL
    assert note is not None
    assert "HF_HUB_OFFLINE is set" in note and FALLBACK_MODEL in note


def test_demo_prefers_the_cross_encoder_when_it_is_cached(empty_hf_cache: Path):
    repo = empty_hf_cache / "models--cross-encoder--ms-marco-MiniLM-L6-v2"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    (snapshot / "config.json").write_text("{}")
    assert choose_demo_model()[0] == FALLBACK_MODEL  # config alone is no usable model
    (snapshot / "model.safetensors").write_bytes(b"")
    assert choose_demo_model() == (DEMO_MODEL, None)


@pytest.fixture
def hub_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lift the test suite's offline mode for the reachability check (nothing is downloaded)."""
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def loopback_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 standing in for the hub's endpoint."""
    from huggingface_hub import constants

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    yield endpoint
    server.shutdown()
    server.server_close()


def test_demo_downloads_the_cross_encoder_when_the_hub_answers(empty_hf_cache, hub_allowed, loopback_hub):
    spec, note = choose_demo_model(timeout=2.0)
    assert spec == DEMO_MODEL
    assert note is not None and "downloading" in note


def test_demo_falls_back_when_the_hub_does_not_answer(empty_hf_cache, hub_allowed, monkeypatch):
    from huggingface_hub import constants

    with socket.socket() as closed:  # a port nothing listens on: the connection is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    spec, note = choose_demo_model(timeout=0.5)
    assert spec == FALLBACK_MODEL
    assert note is not None and "the Hugging Face hub is unreachable" in note


def test_demo_with_a_given_model_shows_before_and_after(cli, bert_model: Path):
    result = cli("demo", "--model", f"local/{bert_model}", "--k", "5", "--show", "2", "-o", "device=cpu")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"reranked by local/{bert_model}" in out
    assert out.count("reranked top 5") == 2 and out.count("nDCG@10: ") == 2
    for text in (
        "Quality over all queries",
        "nDCG@10",
        "MRR@10",
        "Recall@5",
        "p50",
        "p95",
        "documents/s on cpu",
    ):
        assert text in out
    assert "not cached" not in out


@pytest.mark.slow
def test_demo_runs_offline_on_a_fresh_machine(cli, empty_hf_cache: Path):
    result = cli("demo", "--k", "3", "--show", "1")
    assert result.exit_code == 0, result.output
    first_line = result.stdout.splitlines()[0]
    assert "HF_HUB_OFFLINE is set" in first_line and FALLBACK_MODEL in first_line
    assert f"reranked by {FALLBACK_MODEL}" in result.stdout
    assert "✓" in result.stdout  # the side-by-side table marks the relevant passages


def test_demo_rejects_a_bad_model(cli):
    result = cli("demo", "--model", "nowhere/model")
    assert result.exit_code == 1
    assert "unknown backend 'nowhere'" in result.stderr


def test_demo_offline_never_probes_the_hub(empty_hf_cache, monkeypatch):
    import rerankit._demo_model

    def probe(timeout: float) -> bool:
        raise AssertionError("the hub was probed although HF_HUB_OFFLINE is set")

    monkeypatch.setattr(rerankit._demo_model, "_hub_reachable", probe)
    started = time.perf_counter()
    spec, note = choose_demo_model(timeout=30.0)
    assert spec == FALLBACK_MODEL and "HF_HUB_OFFLINE is set" in note
    assert time.perf_counter() - started < 1.0


def test_demo_gives_up_on_a_filtered_network_within_its_timeout(empty_hf_cache, hub_allowed, monkeypatch):
    """A resolver that never answers (a filtered network): the probe is abandoned at the timeout."""
    release = threading.Event()

    def stalled_getaddrinfo(*args: object, **kwargs: object):
        release.wait(30)
        raise socket.gaierror("name resolution stalled")

    monkeypatch.setattr(socket, "getaddrinfo", stalled_getaddrinfo)
    try:
        started = time.perf_counter()
        spec, note = choose_demo_model(timeout=0.5)
        elapsed = time.perf_counter() - started
    finally:
        release.set()
    assert spec == FALLBACK_MODEL and "unreachable" in note
    assert elapsed < 2.0


def test_demo_connects_with_a_short_timeout(empty_hf_cache, hub_allowed, monkeypatch):
    """A host that accepts connections but never answers: given up at the overall timeout."""
    from huggingface_hub import constants

    with socket.socket() as silent:  # listens (the kernel completes the handshake) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.perf_counter()
        spec, _ = choose_demo_model(timeout=0.5)
        assert spec == FALLBACK_MODEL
        assert time.perf_counter() - started < 2.0
