"""The names rerankit's spans and instruments carry, written once (docs/observability.md lists them).

Attribute keys that a convention defines are not written here: :mod:`rerankit._tracing._spans` takes
them from the conventions' own packages (``openinference-semantic-conventions`` for the RERANKER span,
``opentelemetry-semantic-conventions`` for the GenAI, HTTP, server, URL and error attributes). Here
are what rerankit adds, under its own ``rerankit.`` prefix, and the instrument names, which
``rerankit serve``'s Prometheus page shares (so this module imports nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``gen_ai.operation.name`` of a rerank. The GenAI registry has no well-known value for it (its
#: list: chat, embeddings, retrieval, execute_tool, ...; the proposal to add ``rerank`` is
#: open-telemetry/semantic-conventions-genai#253), and the registry says a custom value MAY then be
#: used: this is the one that proposal names.
RERANK_OPERATION = "rerank"

# Span names. The call's follows the GenAI rule "{gen_ai.operation.name} {gen_ai.request.model}";
# an HTTP attempt's the HTTP client rule "{method} {target}".
SCORE_SPAN = "score {backend}"
PREPARE_SPAN = "rerankit.prepare"
PART_SPAN = "rerankit.part"
FORWARD_SPAN = "rerankit.forward"

# rerankit's own attributes.
OPERATION = "rerankit.operation"  # rerank, arerank, rerank_batch, arerank_batch
BACKEND = "rerankit.backend"
DOCUMENTS = "rerankit.documents"
PAIRS_SCORED = "rerankit.pairs_scored"
REQUESTS = "rerankit.requests"
SEARCH_UNITS = "rerankit.search_units"
SCORE_THRESHOLD = "rerankit.score_threshold"
CACHE_HITS = "rerankit.cache.hits"
CACHE_MISSES = "rerankit.cache.misses"
FALLBACK = "rerankit.fallback"  # on a backend's span: it was tried because the one before failed
FALLBACK_AFTER = "rerankit.fallback.after"  # the backend that failed, and how
FALLBACK_REASON = "rerankit.fallback.reason"
FALLBACK_EVENT = "rerankit.fallback"
TEXTS = "rerankit.texts"  # texts a backend is sent (windows, cut documents)
WINDOWS_DOCUMENTS = "rerankit.windows.documents"  # documents cut into more than one window
WINDOWS = "rerankit.windows.count"  # windows of the documents scored by their windows
PART_INDEX = "rerankit.part.index"
PART_COUNT = "rerankit.part.count"
PART_TEXTS = "rerankit.part.texts"
ATTEMPT = "rerankit.attempt"
RETRY_REASON = "rerankit.retry.reason"
ENDPOINT = "rerankit.endpoint"
BREAKER_STATE = "rerankit.breaker.state"
BREAKER = "rerankit.breaker"
BREAKER_EVENT = "rerankit.breaker.transition"
FORWARD_PAIRS = "rerankit.forward.pairs"
FORWARD_TOKENS = "rerankit.forward.tokens"
DEVICE = "rerankit.device"
BATCH_ITEMS = "rerankit.batch.items"
BATCH_ITEM = "rerankit.batch.item"
BATCH_FAILED = "rerankit.batch.failed"
MODEL = "rerankit.model"  # on instruments: the model asked for
OUTCOME = "rerankit.outcome"  # on instruments: "ok" or the error's type
REASON = "rerankit.reason"  # on the retries instrument
STATE = "rerankit.state"  # on the breaker transitions instrument


@dataclass(frozen=True)
class Instrument:
    """One metric: its OpenTelemetry name and unit, and the name a Prometheus page shows it under.

    The Prometheus name is what OpenTelemetry's Prometheus exporters (and the Collector's) make of
    the OpenTelemetry name: dots become underscores, the unit is appended, a counter ends in
    ``_total``; ``rerankit serve``'s page uses the same, so both read alike.
    """

    name: str
    kind: str  # counter, histogram or gauge
    unit: str
    description: str
    #: The attributes every measurement carries (the Prometheus labels, dots made underscores).
    attributes: tuple[str, ...] = ()

    @property
    def prometheus_name(self) -> str:
        """The name on a Prometheus page (without ``_total``, which prometheus-client appends).

        >>> CALL_DURATION.prometheus_name, CALLS.prometheus_name
        ('rerankit_call_duration_seconds', 'rerankit_calls')
        """
        suffix = {"s": "_seconds", "1": "_ratio"}.get(self.unit, "")
        base = self.name.replace(".", "_")
        return base if base.endswith(suffix) else base + suffix


CALL_ATTRIBUTES = (OPERATION, BACKEND, MODEL, OUTCOME)
CALLS = Instrument(
    "rerankit.calls",
    "counter",
    "{call}",
    "Rerank calls (a rerank_batch is one), by operation, the backend that answered, model and outcome.",
    CALL_ATTRIBUTES,
)
CALL_DURATION = Instrument(
    "rerankit.call.duration",
    "histogram",
    "s",
    "Time a rerank call took, validation to response, fallbacks included.",
    CALL_ATTRIBUTES,
)
PAIRS = Instrument(
    "rerankit.pairs_scored",
    "counter",
    "{pair}",
    "(query, document) pairs scored (identical documents in a call count once), by backend.",
    (BACKEND,),
)
RETRIES = Instrument(
    "rerankit.retries",
    "counter",
    "{retry}",
    "HTTP attempts that retried a failed one, by backend and the reason of the failure.",
    (BACKEND, REASON),
)
BREAKER_TRANSITIONS = Instrument(
    "rerankit.breaker.transitions",
    "counter",
    "{transition}",
    "Circuit breaker state changes, by breaker (backend at endpoint) and the state entered.",
    (BREAKER, STATE),
)
CACHE_HIT_COUNT = Instrument(
    "rerankit.cache.hits",
    "counter",
    "{document}",
    "Documents whose score came from the score cache, by backend.",
    (BACKEND,),
)
CACHE_MISS_COUNT = Instrument(
    "rerankit.cache.misses",
    "counter",
    "{document}",
    "Documents looked up in the score cache and scored, by backend.",
    (BACKEND,),
)
CACHE_HIT_RATIO = Instrument(
    "rerankit.cache.hit_ratio",
    "gauge",
    "1",
    "Share of the documents looked up in a score cache that were found, since the process started.",
)

#: Every instrument, in the order docs/observability.md lists them.
INSTRUMENTS: tuple[Instrument, ...] = (
    CALLS,
    CALL_DURATION,
    PAIRS,
    RETRIES,
    BREAKER_TRANSITIONS,
    CACHE_HIT_COUNT,
    CACHE_MISS_COUNT,
    CACHE_HIT_RATIO,
)

#: Call latency buckets, in seconds: from a few short pairs on a GPU to long lists on a CPU.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
