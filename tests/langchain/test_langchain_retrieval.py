"""End to end: a real retriever feeding RerankCompressor, on a local model and over loopback HTTP."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_classic.retrievers.document_compressors import DocumentCompressorPipeline
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel
from langchain_core.load import dumpd
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler
from langchain_text_splitters import CharacterTextSplitter

from rerankit import SCORE_KINDS, AuthenticationError, Reranker
from rerankit.langchain import RerankCompressor
from rerankit.testing.servers import expected_score
from tests.langchain.rerank_lc_support import (
    GATEWAY_SPEC,
    LOOPBACK_KEY,
    QUERY,
    EventRecorder,
    async_calls,
    make_overlap_backend,
    overlap_score,
    sync_calls,
)


@pytest.fixture(params=["local", "gateway"])
def backend_case(request, local_spec) -> tuple[Callable[..., RerankCompressor], Callable[[str, str], float]]:
    """(make a compressor with the given fields, the score that backend gives (query, text))."""
    if request.param == "local":
        scorer = Reranker(local_spec, device="cpu")

        def local_score(query: str, text: str) -> float:
            return scorer.rerank(query, [text]).results[0].relevance_score

        return (lambda **fields: RerankCompressor(model=local_spec, device="cpu", **fields)), local_score
    server = request.getfixturevalue("gateway_server")

    def make(**fields) -> RerankCompressor:
        return RerankCompressor(
            model=GATEWAY_SPEC, base_url=server.base_url, api_key=LOOPBACK_KEY, backoff_base=0.01, **fields
        )

    return make, expected_score


def check_reranked(kept: list[Document], candidates: list[Document], score: Callable[[str, str], float]):
    """``kept`` are the best of ``candidates`` by ``score``, best first, each with its own score."""
    by_id = {d.id: d for d in candidates}
    expected = sorted(((score(QUERY, d.page_content), d.id) for d in candidates), key=lambda p: -p[0])
    assert [d.id for d in kept] == [doc_id for _, doc_id in expected[: len(kept)]]
    for doc in kept:
        assert type(doc.metadata["relevance_score"]) is float
        assert doc.metadata["relevance_score"] == pytest.approx(score(QUERY, doc.page_content), abs=1e-5)
        assert doc.page_content == by_id[doc.id].page_content
        assert doc.metadata["score_kind"] in SCORE_KINDS  # what the score is, next to it
        added = ("relevance_score", "score_kind")
        assert {k: v for k, v in doc.metadata.items() if k not in added} == by_id[doc.id].metadata


def test_contextual_compression_retriever_invoke(backend_case, vector_retriever):
    make, score = backend_case
    retriever = ContextualCompressionRetriever(base_compressor=make(top_n=3), base_retriever=vector_retriever)
    candidates = vector_retriever.invoke(QUERY)
    snapshot = [d.model_copy(deep=True) for d in candidates]

    kept = retriever.invoke(QUERY)

    assert len(candidates) == 6 and len(kept) == 3
    check_reranked(kept, candidates, score)
    assert candidates == snapshot


async def test_contextual_compression_retriever_ainvoke(backend_case, vector_retriever):
    make, score = backend_case
    retriever = ContextualCompressionRetriever(base_compressor=make(top_n=2), base_retriever=vector_retriever)
    kept = await retriever.ainvoke(QUERY)
    assert len(kept) == 2
    check_reranked(kept, await vector_retriever.ainvoke(QUERY), score)


async def test_retriever_ainvoke_awaits_the_backend_on_the_event_loop(vector_retriever, overlap_backend):
    compressor = RerankCompressor(reranker=Reranker(overlap_backend), top_n=3)
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=vector_retriever)
    kept = await retriever.ainvoke(QUERY)
    assert len(kept) == 3
    assert sync_calls(overlap_backend) == 0  # no executor hop into the sync path
    assert async_calls(overlap_backend) == [(threading.get_ident(), True)]


def test_retriever_run_has_the_rerank_as_child(local_spec, vector_retriever):
    collector = RunCollectorCallbackHandler()
    retriever = ContextualCompressionRetriever(
        base_compressor=RerankCompressor(model=local_spec, device="cpu", top_n=2),
        base_retriever=vector_retriever,
    )
    kept = retriever.invoke(QUERY, config={"callbacks": [collector]})

    (root,) = collector.traced_runs
    assert root.run_type == "retriever"
    rerank_runs = [run for run in root.child_runs if run.name == "RerankCompressor"]
    assert len(rerank_runs) == 1 and len(root.child_runs) == 2  # the vector search and the rerank
    (rerank,) = rerank_runs
    assert rerank.inputs == {"query": QUERY, "num_documents": 6}
    assert rerank.outputs["scores"] == [d.metadata["relevance_score"] for d in kept]
    assert rerank.error is None


def test_document_compressor_pipeline(backend_case, corpus):
    make, score = backend_case
    splitter = CharacterTextSplitter(separator=" ", chunk_size=40, chunk_overlap=0)
    pipeline = DocumentCompressorPipeline(transformers=[splitter, make(top_n=4)])
    chunks = splitter.split_documents(corpus)
    assert len(chunks) > len(corpus)

    kept = pipeline.compress_documents(corpus, QUERY)

    assert len(kept) == 4
    chunk_scores = sorted((score(QUERY, c.page_content) for c in chunks), reverse=True)
    assert [d.metadata["relevance_score"] for d in kept] == pytest.approx(chunk_scores[:4], abs=1e-5)
    assert all(d.page_content in {c.page_content for c in chunks} for d in kept)
    assert all("relevance_score" not in d.metadata for d in corpus)


async def test_document_compressor_pipeline_async(backend_case, corpus):
    make, score = backend_case
    pipeline = DocumentCompressorPipeline(transformers=[make(top_n=2)])
    kept = await pipeline.acompress_documents(corpus, QUERY)
    check_reranked(kept, corpus, score)


def format_docs(docs: list[Document]) -> str:
    return "\n".join(f"[{d.id}] {d.page_content}" for d in docs)


async def test_lcel_chain_runs(backend_case, vector_retriever):
    make, _ = backend_case
    retriever = ContextualCompressionRetriever(base_compressor=make(top_n=2), base_retriever=vector_retriever)
    prompt = ChatPromptTemplate.from_messages([("human", "Context:\n{context}\n\nQuestion: {question}")])
    chain = (
        {"context": retriever | format_docs, "question": RunnablePassthrough()}
        | prompt
        | ParrotFakeChatModel()  # answers with the prompt it was given
        | StrOutputParser()
    )
    expected = f"Context:\n{format_docs(retriever.invoke(QUERY))}\n\nQuestion: {QUERY}"

    assert chain.invoke(QUERY) == expected
    assert await chain.ainvoke(QUERY) == expected
    assert sum(line.startswith("[") for line in expected.splitlines()) == 2  # the two kept documents


def test_backend_options_and_metadata_fields_reach_the_wire(gateway_server, corpus):
    compressor = RerankCompressor(
        model=GATEWAY_SPEC,
        base_url=gateway_server.base_url,
        api_key=LOOPBACK_KEY,
        max_tokens_per_doc=256,
        metadata_fields=["title"],
        top_n=1,
    )
    kept = compressor.compress_documents(corpus[:3], "geography capital")

    body = gateway_server.requests[-1].json
    sent = [d if isinstance(d, str) else d["text"] for d in body["documents"]]
    assert body["max_tokens_per_doc"] == 256
    assert sent[1] == "title: Geography\nParis is the capital of France."
    assert [d.id for d in kept] == ["paris"]
    assert kept[0].metadata["relevance_score"] == pytest.approx(expected_score("geography capital", sent[1]))


def test_provider_failure_is_typed_and_the_key_stays_secret(gateway_server, vector_retriever):
    compressor = RerankCompressor(
        model=GATEWAY_SPEC, base_url=gateway_server.base_url, api_key=LOOPBACK_KEY, backoff_base=0.01
    )
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=vector_retriever)
    gateway_server.fail_next("401")
    with pytest.raises(AuthenticationError) as failure:
        retriever.invoke(QUERY)
    assert failure.value.status_code == 401
    dumps = (str(failure.value), repr(compressor), compressor.model_dump_json(), json.dumps(dumpd(retriever)))
    for text in dumps:
        assert LOOPBACK_KEY not in text
    assert compressor.model_dump()["model"] == GATEWAY_SPEC


def test_deep_copies_share_the_reranker_and_still_work(gateway_server, vector_retriever):
    compressor = RerankCompressor(model=GATEWAY_SPEC, base_url=gateway_server.base_url, api_key=LOOPBACK_KEY)
    retriever = ContextualCompressionRetriever(base_compressor=compressor, base_retriever=vector_retriever)

    copied = copy.deepcopy(retriever)
    variant = compressor.model_copy(deep=True, update={"top_n": 1})

    assert copied.base_compressor is not compressor
    assert copied.base_compressor.reranker is compressor.reranker  # connections are shared, not cloned
    assert variant.reranker is compressor.reranker and compressor.top_n == 3
    check_reranked(copied.invoke(QUERY), vector_retriever.invoke(QUERY), expected_score)
    assert len(variant.compress_documents(vector_retriever.invoke(QUERY), QUERY)) == 1


def test_core_options_pass_through_and_the_trace_names_the_model_that_answered(gateway_server, corpus):
    fallback = make_overlap_backend()
    compressor = RerankCompressor(
        model=GATEWAY_SPEC,
        base_url=gateway_server.base_url,
        api_key=LOOPBACK_KEY,
        max_retries=0,
        fallbacks=[fallback],
        top_n=2,
    )
    recorder = EventRecorder()
    gateway_server.fail_next("503")

    kept = compressor.compress_documents(corpus, QUERY, callbacks=[recorder])

    assert len(fallback.requests) == 1  # the gateway failed once, the fallback scored the call
    assert [d.metadata["relevance_score"] for d in kept] == sorted(
        (overlap_score(QUERY, d.page_content) for d in corpus), reverse=True
    )[:2]
    (end,) = recorder.named("chain_end")
    assert end["outputs"]["model"] == "overlap/overlap-v1"
