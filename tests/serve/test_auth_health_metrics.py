"""Keys (constant time, never logged or echoed), readiness while the model loads, and /metrics."""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rerankit.serve import BackgroundServer, ServeConfig

from .conftest import API_KEY, DOCUMENTS, QUERY

BODY = {"query": QUERY, "documents": DOCUMENTS}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-42"},
        {"Authorization": f"Basic {API_KEY}"},
        {"Authorization": API_KEY},
    ],
    ids=["none", "wrong", "basic", "no-scheme"],
)
@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank"])
def test_requests_without_the_key_are_401_and_echo_nothing(
    server: BackgroundServer, path: str, headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        reply = httpx.post(server.base_url + path, json=BODY, headers=headers)
    assert reply.status_code == 401
    text = reply.text + json.dumps(dict(reply.headers))
    assert "invalid or missing API key" in text
    assert API_KEY not in text and "wrong-key-42" not in text
    assert API_KEY not in caplog.text and "wrong-key-42" not in caplog.text


def test_right_key_any_case_of_bearer(server: BackgroundServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        for scheme in ("Bearer", "bearer"):
            reply = httpx.post(
                server.base_url + "/v1/rerank", json=BODY, headers={"Authorization": f"{scheme} {API_KEY}"}
            )
            assert reply.status_code == 200
    assert API_KEY not in caplog.text and API_KEY not in reply.text


def test_key_is_compared_in_constant_time(server: BackgroundServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import rerankit.serve._auth as auth

    compared: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def recording(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording)
    httpx.post(server.base_url + "/v1/rerank", json=BODY, headers={"Authorization": "Bearer guess"})
    assert compared == [(b"guess", API_KEY.encode())]


def test_config_never_shows_the_key(server: BackgroundServer) -> None:
    config = server.config
    for text in (repr(config), str(config), config.model_dump_json(), repr(server)):
        assert API_KEY not in text


def test_probes_and_scrapes_need_no_key(server: BackgroundServer) -> None:
    for path in ("/health", "/info", "/metrics"):
        assert httpx.get(server.base_url + path).status_code == 200


def test_health_is_503_until_the_model_is_loaded(bert_spec: str) -> None:
    gate = threading.Event()
    server = BackgroundServer(ServeConfig(spec=bert_spec, options={"device": "cpu"}), wait_ready=False)
    load = server.service.model.load
    server.service.model.load = lambda: (gate.wait(30), load())
    with server:
        loading = httpx.get(server.base_url + "/health")
        assert loading.status_code == 503 and loading.json() == {"status": "loading"}
        assert loading.headers["retry-after"] == "1"
        early = httpx.post(server.base_url + "/v1/rerank", json=BODY)
        assert early.status_code == 503 and early.headers["retry-after"] == "1"
        assert httpx.get(server.base_url + "/info").json()["ready"] is False
        gate.set()
        for _ in range(500):
            if httpx.get(server.base_url + "/health").status_code == 200:
                break
            threading.Event().wait(0.02)
        assert httpx.get(server.base_url + "/health").json()["status"] == "ok"
        assert httpx.post(server.base_url + "/v1/rerank", json=BODY).status_code == 200


def test_a_model_that_fails_to_load_is_reported(tmp_path) -> None:
    server = BackgroundServer(ServeConfig(spec=f"local/{tmp_path / 'missing'}"), wait_ready=False)
    with server:
        for _ in range(500):
            health = httpx.get(server.base_url + "/health")
            if health.json()["status"] != "loading":
                break
            threading.Event().wait(0.02)
        assert health.status_code == 503 and health.json()["status"] == "failed"
        assert "could not load local model" in health.json()["error"]


def test_metrics(bert_spec: str) -> None:
    with BackgroundServer(ServeConfig(spec=bert_spec, options={"device": "cpu"})) as server:
        for _ in range(3):
            assert httpx.post(server.base_url + "/v1/rerank", json=BODY).status_code == 200
        assert httpx.post(server.base_url + "/v2/rerank", json={"query": "q"}).status_code == 400
        reply = httpx.get(server.base_url + "/metrics")
    assert reply.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }
    ok = (("route", "/v1/rerank"), ("status", "200"))
    bad = (("route", "/v2/rerank"), ("status", "400"))
    assert samples[("rerankit_serve_requests_total", ok)] == 3
    assert samples[("rerankit_serve_requests_total", bad)] == 1
    assert samples[("rerankit_serve_errors_total", bad)] == 1
    assert ("rerankit_serve_errors_total", ok) not in samples
    assert samples[("rerankit_serve_request_duration_seconds_count", (("route", "/v1/rerank"),))] == 3
    assert samples[("rerankit_serve_queue_depth", ())] == 0
    assert samples[("rerankit_serve_queue_capacity", ())] == 256
    distinct = len(set(DOCUMENTS))
    assert samples[("rerankit_serve_pairs_scored_total", ())] == 3 * distinct
    assert samples[("rerankit_serve_documents_total", ())] == 3 * len(DOCUMENTS)
    assert samples[("rerankit_serve_pairs_per_second", ())] > 0
    assert samples[("rerankit_serve_ready", ())] == 1


def test_an_upstream_key_in_the_options_stays_hidden() -> None:
    config = ServeConfig(spec="cohere/rerank-v3.5", options={"api_key": "sk-upstream-secret"})
    for text in (repr(config), str(config), config.model_dump_json()):
        assert "sk-upstream-secret" not in text
    from rerankit import Reranker

    backend = Reranker(config.spec, **config.options).backend
    assert backend.transport.settings.api_key.get_secret_value() == "sk-upstream-secret"
