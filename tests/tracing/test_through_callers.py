"""The documented span tree through every caller: ``rerankit serve`` (continuing the caller's W3C
``traceparent``, which the remote backends send on to the providers) and both adapters (nested
under the span the framework's own OpenTelemetry instrumentation made)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from llama_index.core.bridge.pydantic import ConfigDict, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.span import BaseSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.schema import NodeWithScore, TextNode
from openinference.instrumentation.langchain import LangChainInstrumentor
from openinference.instrumentation.llama_index import LlamaIndexInstrumentor
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from rerankit.langchain import RerankCompressor
from rerankit.llama_index import RerankPostprocessor
from rerankit.serve import BackgroundServer, ServeConfig
from tests.loopback import SPECS
from tests.tracing.conftest import (
    CACHED,
    DOCUMENTS,
    QUERY,
    TREE_KEYS,
    Providers,
    Telemetry,
    documented_options,
    documented_reranker,
    documented_tree,
    warm_cache,
)


def test_serve_continues_the_callers_trace_and_sends_it_to_the_providers(
    telemetry: Telemetry, providers: Providers
) -> None:
    config = ServeConfig(spec=SPECS["cohere"], options=documented_options(providers))
    with BackgroundServer(config) as server:
        httpx.post(server.base_url + "/v1/rerank", json={"query": QUERY, "documents": [CACHED]}, timeout=30)
        warm_cache_done(providers)
        telemetry.clear()
        trace_id, caller = random.getrandbits(128), random.getrandbits(64)
        reply = httpx.post(
            server.base_url + "/v1/rerank",
            json={"query": QUERY, "documents": DOCUMENTS, "top_n": 2},
            headers={"traceparent": f"00-{trace_id:032x}-{caller:016x}-01"},
            timeout=30,
        )
    assert reply.status_code == 200

    [served] = telemetry.roots()
    assert (served.name, served.kind) == ("POST /v1/rerank", SpanKind.SERVER)
    assert served.context.trace_id == trace_id
    assert served.parent is not None and served.parent.is_remote and served.parent.span_id == caller
    assert served.attributes["http.response.status_code"] == 200
    [call] = telemetry.children(served)
    assert telemetry.tree(call, TREE_KEYS) == documented_tree()

    attempts = sorted((s for s in telemetry.spans() if s.kind == SpanKind.CLIENT), key=lambda s: s.start_time)
    received = sorted(providers.down.requests + providers.jina.requests, key=lambda r: r.received_at)
    assert [r.headers["traceparent"] for r in received] == [
        f"00-{trace_id:032x}-{span.context.span_id:016x}-01" for span in attempts
    ]


def warm_cache_done(providers: Providers) -> None:
    """After a served call scored CACHED: forget the requests, and fail Jina's next attempt."""
    providers.down.reset()
    providers.jina.reset()
    providers.jina.fail_next("503")


class FixedRetriever(BaseRetriever):
    """A first stage that always returns the documented call's documents."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [Document(page_content=text) for text in DOCUMENTS]


@pytest.fixture
def instrumented(telemetry: Telemetry) -> Iterator[Callable[[Any], None]]:
    """Set up a framework's OpenInference instrumentation on the test's tracer, until the test ends."""
    opened: list[Any] = []

    def instrument(instrumentor: Any) -> None:
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
        opened.append(instrumentor)

    yield instrument
    for instrumentor in opened:
        instrumentor.uninstrument()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_langchain_nests_the_call_under_the_compressors_run(
    telemetry: Telemetry, providers: Providers, instrumented: Callable[[Any], None], mode: str
) -> None:
    instrumented(LangChainInstrumentor())
    reranker = documented_reranker(providers)
    warm_cache(reranker, providers)
    retriever = ContextualCompressionRetriever(
        base_compressor=RerankCompressor(reranker=reranker, top_n=2), base_retriever=FixedRetriever()
    )
    telemetry.clear()

    found = retriever.invoke(QUERY) if mode == "sync" else await retriever.ainvoke(QUERY)

    assert len(found) == 2
    [pipeline] = telemetry.roots()
    assert pipeline.name == "ContextualCompressionRetriever"
    compressor = next(s for s in telemetry.children(pipeline) if s.name == "RerankCompressor")
    [call] = telemetry.children(compressor)
    assert telemetry.tree(call, TREE_KEYS) == documented_tree()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_llama_index_nests_the_call_under_the_postprocessors_span(
    telemetry: Telemetry, providers: Providers, instrumented: Callable[[Any], None], mode: str
) -> None:
    instrumented(LlamaIndexInstrumentor())
    reranker = documented_reranker(providers)
    warm_cache(reranker, providers)
    postprocessor = RerankPostprocessor(reranker=reranker, top_n=2)
    nodes = [NodeWithScore(node=TextNode(text=text)) for text in DOCUMENTS]
    telemetry.clear()

    if mode == "sync":
        kept = postprocessor.postprocess_nodes(nodes, query_str=QUERY)
    else:
        kept = await postprocessor.apostprocess_nodes(nodes, query_str=QUERY)

    assert len(kept) == 2
    [framework] = telemetry.roots()
    assert framework.name.startswith("RerankPostprocessor.")
    call = next(
        s
        for s in telemetry.spans()
        if s.name == "rerank rerank-v3.5" and s.attributes.get("gen_ai.operation.name") == "rerank"
    )
    assert call.parent is not None and call.parent.span_id in {
        s.context.span_id for s in telemetry.spans() if s.name.startswith("RerankPostprocessor.")
    }
    assert telemetry.tree(call, TREE_KEYS) == documented_tree()


class _DetachedSpan(BaseSpan):
    """A LlamaIndex span holding an OpenTelemetry span it never makes current (as OpenInference's
    handler did before 4.x, and as a handler of one's own may)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    otel: Any = None

    @property
    def context(self) -> Any:
        return trace.set_span_in_context(self.otel)


class _DetachedHandler(BaseSpanHandler[_DetachedSpan]):
    _tracer: Any = PrivateAttr()

    def __init__(self, tracer: Any) -> None:
        super().__init__(open_spans={}, completed_spans=[], dropped_spans=[], current_span_ids={})
        self._tracer = tracer

    def new_span(
        self,
        id_: str,
        bound_args: Any,
        instance: Any = None,
        parent_span_id: str | None = None,
        **kwargs: Any,
    ) -> _DetachedSpan:
        parent = self.open_spans.get(parent_span_id) if parent_span_id else None
        otel = self._tracer.start_span(id_.partition("-")[0], context=parent.context if parent else None)
        return _DetachedSpan(id_=id_, parent_id=parent_span_id, otel=otel)

    def prepare_to_exit_span(
        self, id_: str, bound_args: Any, instance: Any = None, result: Any = None, **kwargs: Any
    ) -> Any:
        span = self.open_spans.get(id_)
        if span is not None:
            span.otel.end()
        return span

    def prepare_to_drop_span(
        self, id_: str, bound_args: Any, instance: Any = None, err: Any = None, **kwargs: Any
    ) -> Any:
        return self.prepare_to_exit_span(id_, bound_args, instance)


def test_llama_index_nests_the_call_under_a_span_its_handler_keeps_detached(
    telemetry: Telemetry, providers: Providers
) -> None:
    handler = _DetachedHandler(telemetry.tracer_provider.get_tracer("a-llama-index-handler"))
    dispatcher = get_dispatcher()
    dispatcher.add_span_handler(handler)
    try:
        postprocessor = RerankPostprocessor(reranker=documented_reranker(providers), top_n=2)
        postprocessor.postprocess_nodes(
            [NodeWithScore(node=TextNode(text=text)) for text in DOCUMENTS], query_str=QUERY
        )
    finally:
        dispatcher.span_handlers.remove(handler)

    [framework] = telemetry.roots()
    assert framework.name.startswith("RerankPostprocessor.")
    [call] = telemetry.children(framework)
    assert call.name == "rerank rerank-v3.5"
