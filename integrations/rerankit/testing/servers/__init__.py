"""Loopback rerank servers that speak each provider's wire format, for tests, notebooks and benchmarks.

A :class:`RerankServer` runs a real HTTP server (starlette on uvicorn, in a background thread) on a
free port of 127.0.0.1. It checks every request's shape and auth header the way the provider does,
answers with the provider's documented response and error bodies, records what it received, counts
concurrent requests, and can be told to misbehave.

>>> from rerankit import Reranker
>>> with RerankServer("cohere") as server:  # doctest: +SKIP
...     reranker = Reranker("cohere/rerank-v3.5", base_url=server.base_url, api_key="test-key")
...     response = reranker.rerank("what is bm25", ["bm25 is a ranking function", "a fruit"])
...     server.requests[0].json["documents"]
['bm25 is a ranking function', 'a fruit']

Scores are :func:`expected_score` of (query, text), so a test can check that each score landed on
the right document; token counts are :func:`expected_tokens`.

Faults (queue them with :meth:`RerankServer.fail_next`, one per request, first in first out):

==================== ==============================================================================
``"429"``            429 with the provider's error body, no ``Retry-After``
``"429-retry-after"``  429 with ``Retry-After: <server.retry_after>`` (seconds, default ``"1"``)
``"429-retry-after-date"``  429 with ``Retry-After`` as an HTTP date ``retry_after`` seconds ahead
``"NNN"``            any status code (``"400"``, ``"401"``, ``"404"``, ``"500"``, ``"503"``, ...) with the
                     provider's error body for it
``"drop"``           200 status line and headers, then the connection is closed before the body
``"stall"``          no answer for ``server.stall_seconds`` (default 10 s, ended early by ``stop()``)
``"malformed-json"`` 200 with a truncated JSON body
``"html"``           502 with an HTML error page (what a proxy or CDN in front of the API sends)
``"html-200"``       200 with an HTML page (a captive portal or a misrouted base URL)
``"redirect"``       307 to the same path on ``localhost`` (another host than ``127.0.0.1``)
``"bad-index"``      200 with one result's index out of range (DeepInfra: one score too many)
``"dup-index"``      200 with two results for the same index (DeepInfra: one score too many)
``"missing"``        200 with one result left out (DeepInfra: one score too few)
``"nan"``            200 with one score ``NaN``
``"string-score"``   200 with one score sent as a JSON string
==================== ==============================================================================

Each provider's format (request model, paths, limits, auth, answer and error bodies) is one
module of this package, a :class:`~rerankit.testing.servers._format.ProviderFormat` subclass
listed in ``_registry.py``; :data:`PROVIDERS` names them.

:class:`ChatCompletionsServer` is the same for an OpenAI-compatible ``/v1/chat/completions`` whose
"LLM" ranks the passages of a listwise prompt (for ``listwise/``).

Answer-shaping faults (the 200 ones) are taken from the queue when the request arrives and apply to
its answer if the request is valid; an invalid request gets its 4xx instead.
"""

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "rerankit.testing.servers needs starlette and uvicorn: pip install 'rerankit[serve]'"
    ) from exc

from rerankit.testing.servers._chat import ChatCompletionsServer, ChatRecord
from rerankit.testing.servers._expected_scores import (
    expected_score,
    expected_search_units,
    expected_tokens,
    stand_in_text,
)
from rerankit.testing.servers._faults import ANSWER_FAULTS, DEFAULT_RANDOM_FAULTS, TRANSPORT_FAULTS
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected
from rerankit.testing.servers._registry import (
    DEFAULT_MAX_DOCUMENTS_PER_REQUEST,
    DEFAULT_PATHS,
    FORMATS,
    PROVIDERS,
)
from rerankit.testing.servers._server import Provider, RecordedRequest, RerankServer

__all__ = [
    "ANSWER_FAULTS",
    "DEFAULT_MAX_DOCUMENTS_PER_REQUEST",
    "DEFAULT_PATHS",
    "DEFAULT_RANDOM_FAULTS",
    "FORMATS",
    "PROVIDERS",
    "TRANSPORT_FAULTS",
    "Call",
    "ChatCompletionsServer",
    "ChatRecord",
    "Provider",
    "ProviderFormat",
    "RecordedRequest",
    "Rejected",
    "RerankServer",
    "expected_score",
    "expected_search_units",
    "expected_tokens",
    "stand_in_text",
]
