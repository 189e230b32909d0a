"""ZeroEntropy's ``POST /v1/models/rerank`` (docs.zeroentropy.dev/api-reference/models/rerank; zeroentropy-python)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Literal

from rerankit.backends._zeroentropy import BYTES_PER_DOCUMENT, PAYLOAD_LIMIT, PROVIDER
from rerankit.testing.servers._format import Call, ProviderFormat, Rejected, Strict


def payload_bytes(query: str, documents: list[str]) -> int:
    """The API reference's count: ``sum(150 + query.encode('utf-8') + d.encode('utf-8') for d in documents)``."""
    query_bytes = len(query.encode("utf-8"))
    return sum(BYTES_PER_DOCUMENT + query_bytes + len(document.encode("utf-8")) for document in documents)


class ZeroEntropyRequest(Strict):
    # model_rerank_params.py: documents, model, query required; latency, top_n optional
    model: str
    query: str
    documents: list[str]
    top_n: int | None = None
    latency: Literal["fast", "slow"] | None = None


class ZeroEntropyFormat(ProviderFormat):
    """Bearer key; FastAPI-style ``{"detail"}`` errors; a 5,000,000-byte payload limit, no count limit."""

    provider = PROVIDER
    max_documents_per_request = 1_000_000  # no document count is documented: the limit is bytes
    request_model = ZeroEntropyRequest

    #: The fast-mode rate limit in bytes per minute (``None``: unlimited). Past it a call is served
    #: in slow mode, or answered 429 when it asked for ``latency: "fast"`` (API reference).
    fast_bytes_per_minute: int | None = None

    @classmethod
    def documented_request(cls, query: str, documents: list[str]) -> tuple[str, dict[str, Any]]:
        # docs.zeroentropy.dev/api-reference/models/rerank
        return "/v1/models/rerank", {"model": "zerank-2", "query": query, "documents": documents}

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self._spent: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()

    def latency_mode(self, call: Call) -> str:
        """The mode a call is served in, spending its bytes from the fast-mode budget."""
        if self.fast_bytes_per_minute is None:
            return call.request.latency or "fast"
        now, size = time.monotonic(), payload_bytes(call.query, call.texts)
        with self._lock:
            while self._spent and now - self._spent[0][0] > 60:
                self._spent.popleft()
            if sum(spent for _, spent in self._spent) + size <= self.fast_bytes_per_minute:
                self._spent.append((now, size))
                return call.request.latency or "fast"
        if call.request.latency == "fast":
            raise Rejected(429, "Rate limit exceeded: the fast-mode bytes per minute are spent")
        return "slow"

    def call(self, parsed: Any, path_params: Mapping[str, str]) -> Call:
        return Call(parsed.query, list(parsed.documents), parsed.top_n, False, parsed.model, parsed)

    def check_call(self, call: Call) -> None:
        super().check_call(call)
        size = payload_bytes(call.query, call.texts)
        if size > PAYLOAD_LIMIT:
            raise Rejected(
                413,
                f"Request payload of {size} bytes exceeds the maximum of {PAYLOAD_LIMIT} bytes per request",
            )

    def answer(self, call: Call, scores: list[float], fault: str | None, request_id: str) -> Any:
        # API reference response fields
        mode = self.latency_mode(call)
        return {
            "results": self.results(call, scores, fault),
            "total_bytes": payload_bytes(call.query, call.texts),
            "total_tokens": self.tokens(call),
            "actual_latency_mode": mode,
            "e2e_latency": 0.01,
            "inference_latency": 0.01,
        }

    def error_body(self, status: int, rejected: Rejected, request_id: str) -> Any:
        return {"detail": rejected.detail if rejected.detail is not None else rejected.message}


__all__ = ["ZeroEntropyFormat", "ZeroEntropyRequest", "payload_bytes"]
