"""The core's instruments: recorded on OpenTelemetry's meter in a client process, and shown by
``rerankit serve``'s Prometheus page under the very names (and labels, and values) that
OpenTelemetry's Prometheus exporter gives them."""

from __future__ import annotations

import httpx
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rerankit import Reranker
from rerankit._tracing import _names
from rerankit.serve import BackgroundServer, ServeConfig
from tests.loopback import SPECS
from tests.tracing.conftest import CACHED, FRESH, KEY, QUERY, Providers, Telemetry

OTHER = "Berlin is the capital of Germany."


def core_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of the core's instruments on a Prometheus page: (name, labels) -> value."""
    found = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("rerankit_") or family.name.startswith("rerankit_serve_"):
            continue
        for sample in family.samples:
            if sample.name.endswith(("_created", "_bucket")):
                continue
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if not k.startswith("otel_")))
            found[(sample.name, labels)] = sample.value
    return found


def test_serve_shows_the_core_instruments_as_opentelemetry_names_them(
    telemetry: Telemetry, providers: Providers
) -> None:
    jina = Reranker(SPECS["jina"], base_url=providers.jina.base_url, api_key=KEY)
    options = {
        "base_url": providers.down.base_url,
        "api_key": KEY,
        "max_retries": 1,
        "backoff_base": 0.01,
        # Cohere's one failed call (two failed requests: the first and its retry) opens its
        # breaker: a transition; at once, not only after a run of failures lasting 1 s
        "breaker_threshold": 2,
        "breaker_failure_span": 0.0,
        "fallbacks": [jina],
        "cache": True,
    }
    with BackgroundServer(ServeConfig(spec=SPECS["cohere"], options=options)) as server:
        for documents in (
            [CACHED, FRESH],
            [CACHED, OTHER],
        ):  # the second: one cache hit, Cohere's breaker open
            reply = httpx.post(
                server.base_url + "/v1/rerank", json={"query": QUERY, "documents": documents}, timeout=30
            )
            assert reply.status_code == 200
        page = httpx.get(server.base_url + "/metrics", timeout=30).text

    served = core_samples(page)
    exported = core_samples(generate_latest(telemetry.prometheus).decode())
    assert served == exported
    backend = (("rerankit_backend", "jina"),)
    call = (
        ("rerankit_backend", "jina"),
        ("rerankit_model", "rerank-v3.5"),
        ("rerankit_operation", "arerank"),
        ("rerankit_outcome", "ok"),
    )
    assert served[("rerankit_calls_total", call)] == 2
    assert served[("rerankit_call_duration_seconds_count", call)] == 2
    assert served[("rerankit_pairs_scored_total", backend)] == 3
    assert (
        served[("rerankit_retries_total", (("rerankit_backend", "cohere"), ("rerankit_reason", "HTTP 503")))]
        == 1
    )
    breaker = f"cohere at {providers.down.base_url}"
    assert (
        served[
            (
                "rerankit_breaker_transitions_total",
                (("rerankit_breaker", breaker), ("rerankit_state", "open")),
            )
        ]
        == 1
    )
    assert served[("rerankit_cache_hits_total", backend)] == 1
    assert served[("rerankit_cache_misses_total", backend)] == 3
    assert served[("rerankit_cache_hit_ratio", ())] == 0.25
    assert {name.removesuffix("_total").removesuffix("_count") for name, _ in served} >= {
        instrument.prometheus_name for instrument in _names.INSTRUMENTS if instrument.kind != "histogram"
    }


def test_a_client_process_records_the_instruments_on_its_meter(
    telemetry: Telemetry, providers: Providers
) -> None:
    reranker = Reranker(SPECS["jina"], base_url=providers.jina.base_url, api_key=KEY, backoff_base=0.01)
    providers.jina.fail_next("503")
    reranker.rerank(QUERY, [CACHED, FRESH, CACHED])

    metrics = telemetry.metrics()
    [calls] = metrics["rerankit.calls"]
    assert calls.value == 1 and calls.attributes["rerankit.operation"] == "rerank"
    [pairs] = metrics["rerankit.pairs_scored"]
    assert pairs.value == 2  # the duplicate is scored once
    [retries] = metrics["rerankit.retries"]
    assert (retries.value, retries.attributes["rerankit.reason"]) == (1, "HTTP 503")
    [duration] = metrics["rerankit.call.duration"]
    assert duration.count == 1 and duration.explicit_bounds == _names.LATENCY_BUCKETS
