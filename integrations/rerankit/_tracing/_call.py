"""One rerank call: its RERANKER span (a batch's CHAIN span, with one RERANKER span per item) and
its instruments.

The span is named and attributed by OpenInference's RERANKER conventions (``reranker.model_name``,
``reranker.top_k``, ``reranker.query``, ``reranker.input_documents``/``output_documents`` flattened
with ``document.id``/``score``/``content``) and the GenAI attributes that apply
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``/``response.model``,
``gen_ai.usage.input_tokens``). The query and the documents' text are recorded only when the
reranker's ``trace_content`` is on, as OpenInference's ``OPENINFERENCE_HIDE_INPUTS`` and
``OPENINFERENCE_HIDE_OUTPUTS`` settings withhold them; the output documents' indices and scores are
always there (they are not the user's text).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from rerankit._tracing import _names as names
from rerankit._tracing._metrics import MetricsSink, record_call

BATCH_OPERATIONS = frozenset({"rerank_batch", "arerank_batch"})


class CallTrace:
    """The context of one ``Reranker`` call: enter before it, :meth:`returned` its result, exit after."""

    def __init__(
        self, otel: Any, sink: MetricsSink | None, operation: str, reranker: Any, arguments: dict[str, Any]
    ) -> None:
        self.otel, self.sink, self.operation, self.reranker = otel, sink, operation, reranker
        self.arguments = arguments
        self.batch = operation in BATCH_OPERATIONS
        self.content = bool(getattr(reranker, "trace_content", False))
        self.result: Any = None
        self._scope: Any = None

    def __enter__(self) -> CallTrace:
        self.started = time.perf_counter()
        otel = self.otel
        if otel is not None and otel.traces():
            self._scope = otel.call_span(self)
            self.span = self._scope.__enter__()
        return self

    def returned(self, result: Any) -> Any:
        self.result = result
        return result

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        seconds = time.perf_counter() - self.started
        try:
            if self._scope is not None:
                self._scope.__exit__(kind, error, traceback)
        finally:
            self._record(seconds, error)

    @property
    def backend(self) -> Any:
        """The backend tried first."""
        return self.reranker.backend

    def responses(self) -> list[Any]:
        """The responses the call returned (a batch's items that failed left out)."""
        if self.result is None:
            return []
        if self.batch:
            return [item for item in self.result if not isinstance(item, BaseException)]
        return [self.result]

    def _record(self, seconds: float, error: BaseException | None) -> None:
        otel = self.otel
        recorders = [otel.metrics] if otel is not None and otel.meters() else []
        if self.sink is not None:
            recorders.append(self.sink)
        if not recorders:
            return
        first = self.backend
        outcome = "ok" if error is None else type(error).__name__
        if self.batch or self.result is None:
            responses = self.responses()
            backend = first.name
            pairs = sum(response.usage.pairs_scored for response in responses)
            hits = sum(response.usage.cache_hits for response in responses)
            misses = sum(response.usage.cache_misses for response in responses)
        else:  # one call: its response, no sums to make
            usage, backend = self.result.usage, self.result.backend
            pairs, hits, misses = usage.pairs_scored, usage.cache_hits, usage.cache_misses
        for recorder in recorders:
            record_call(recorder, self.operation, backend, first.model, outcome, seconds, pairs, hits, misses)


def queries_and_documents(arguments: dict[str, Any], batch: bool) -> list[tuple[Any, Any]]:
    """The (query, documents) of each item of the call (one for a single call), as given."""
    if batch:
        queries, documents = arguments.get("queries"), arguments.get("documents")
        if isinstance(queries, Sequence) and isinstance(documents, Sequence):
            return list(zip(queries, documents, strict=False))
        return []
    return [(arguments.get("query"), arguments.get("documents"))]


__all__ = ["CallTrace", "names"]
