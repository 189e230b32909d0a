"""RerankCompressor's own contract, on an in-process backend whose scores the tests recompute."""

from __future__ import annotations

import json
import threading

import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.documents import Document
from langchain_core.load import dumpd
from langchain_core.runnables import RunnableLambda
from langchain_core.tracers.run_collector import RunCollectorCallbackHandler

from rerankit import ConfigurationError, InvalidInputError, Reranker
from rerankit.langchain import RerankCompressor
from rerankit.testing import FakeBackend
from tests.langchain.rerank_lc_support import (
    QUERY,
    EventRecorder,
    async_calls,
    make_overlap_backend,
    overlap_score,
    sync_calls,
)


def compressor_on(backend: FakeBackend, **fields) -> RerankCompressor:
    return RerankCompressor(reranker=Reranker(backend), **fields)


def expected_order(docs: list[Document], query: str = QUERY) -> list[str]:
    """Document ids best first under ``overlap_score`` (ties by input order)."""
    scored = sorted(enumerate(docs), key=lambda p: (-overlap_score(query, p[1].page_content), p[0]))
    return [d.id for _, d in scored]


def test_returns_scored_copies_best_first_without_touching_the_input(corpus, overlap_backend):
    originals = [d.model_copy(deep=True) for d in corpus]
    compressed = compressor_on(overlap_backend, top_n=3).compress_documents(corpus, QUERY)

    assert [d.id for d in compressed] == expected_order(corpus)[:3]
    for doc in compressed:
        source = next(d for d in corpus if d.id == doc.id)
        assert doc is not source
        assert doc.page_content == source.page_content
        assert doc.metadata == {
            **source.metadata,
            "relevance_score": overlap_score(QUERY, source.page_content),
            "score_kind": "similarity",  # what the overlap fake declares
        }
        assert type(doc.metadata["relevance_score"]) is float
    assert corpus == originals  # ids, content and metadata untouched
    assert all("relevance_score" not in d.metadata for d in corpus)


def test_metadata_kept_and_custom_score_key(corpus, overlap_backend):
    corpus[1].metadata["nested"] = {"page": 3}
    compressed = compressor_on(overlap_backend, top_n=None, score_key="rerank_score").compress_documents(
        corpus, "capital of france"
    )
    paris = next(d for d in compressed if d.id == "paris")
    assert paris.metadata["title"] == "Geography"
    assert paris.metadata["nested"] == {"page": 3}
    assert paris.metadata["rerank_score"] == overlap_score("capital of france", corpus[1].page_content)
    assert "relevance_score" not in paris.metadata
    assert len(compressed) == len(corpus)  # top_n=None keeps every document


def test_score_threshold_applies_before_top_n(corpus, overlap_backend):
    threshold = 2.0  # documents sharing at least two words with the query
    passing = [d.id for d in corpus if overlap_score(QUERY, d.page_content) >= threshold]
    assert 1 < len(passing) < 4  # the corpus makes this test meaningful

    kept = compressor_on(overlap_backend, top_n=4, score_threshold=threshold).compress_documents(
        corpus, QUERY
    )
    assert sorted(d.id for d in kept) == sorted(passing)  # fewer than top_n: threshold cut first
    assert all(d.metadata["relevance_score"] >= threshold for d in kept)

    kept_one = compressor_on(overlap_backend, top_n=1, score_threshold=threshold).compress_documents(
        corpus, QUERY
    )
    assert [d.id for d in kept_one] == expected_order(corpus)[:1]


def test_empty_input_returns_empty_without_calling_the_backend(overlap_backend):
    compressor = compressor_on(overlap_backend)
    recorder = EventRecorder()
    assert compressor.compress_documents([], QUERY, callbacks=[recorder]) == []
    assert compressor.rerank([], QUERY) == []
    assert overlap_backend.requests == []
    assert recorder.events == []


async def test_async_empty_input_returns_empty_without_calling_the_backend(overlap_backend):
    compressor = compressor_on(overlap_backend)
    assert await compressor.acompress_documents([], QUERY) == []
    assert await compressor.arerank([], QUERY) == []
    assert overlap_backend.requests == []


def test_invalid_input_raises_the_core_errors_naming_the_index(corpus, overlap_backend):
    compressor = compressor_on(overlap_backend)
    with pytest.raises(InvalidInputError, match="index 2"):
        compressor.compress_documents([corpus[0], corpus[1], "not a document"], QUERY)
    with pytest.raises(InvalidInputError, match="index 1"):
        compressor.compress_documents([corpus[0], Document("   ")], QUERY)
    with pytest.raises(InvalidInputError, match="query is required"):
        compressor.compress_documents(corpus, "  ")
    with pytest.raises(InvalidInputError, match="query is required"):
        compressor.compress_documents([], None)
    with pytest.raises(InvalidInputError, match="sequence of Documents"):
        compressor.compress_documents(None, QUERY)
    assert overlap_backend.requests == []


def test_invalid_configuration_is_rejected_at_construction(overlap_backend, local_spec):
    with pytest.raises(InvalidInputError, match="top_n must be at least 1"):
        compressor_on(overlap_backend, top_n=0)
    with pytest.raises(InvalidInputError, match="top_n must be an integer"):
        compressor_on(overlap_backend, top_n=True)
    with pytest.raises(InvalidInputError, match="finite"):
        compressor_on(overlap_backend, score_threshold=float("nan"))
    with pytest.raises(ConfigurationError, match="not both"):
        RerankCompressor(model=local_spec, reranker=Reranker(overlap_backend))
    with pytest.raises(ConfigurationError, match="model spec"):
        RerankCompressor()
    with pytest.raises(ConfigurationError, match="'devcie'"):
        RerankCompressor(model=local_spec, devcie="cpu")
    with pytest.raises(ConfigurationError, match="metadata_fields"):
        compressor_on(overlap_backend, metadata_fields="title")


def test_metadata_fields_are_scored_with_the_content(corpus, overlap_backend):
    compressor = compressor_on(overlap_backend, top_n=None, metadata_fields=["title", "source"])
    compressed = compressor.compress_documents(corpus[:5], "geography capital")

    sent = overlap_backend.requests[-1]
    assert sent[1] == "title: Geography\nParis is the capital of France."
    assert sent[4] == "source: pangram\nThe quick brown fox jumps over the lazy dog."
    assert sent[0] == corpus[0].page_content  # no chosen field: the content alone
    assert compressed[0].id == "paris"  # the title made it the best match
    assert compressed[0].page_content == corpus[1].page_content  # the returned content is unchanged
    assert compressed[0].metadata["relevance_score"] == overlap_score("geography capital", sent[1])


def test_rerank_returns_index_score_pairs_like_cohere_rerank(corpus, overlap_backend):
    compressor = compressor_on(overlap_backend, top_n=2)
    texts = [d.page_content for d in corpus]
    order = sorted(range(len(texts)), key=lambda i: (-overlap_score(QUERY, texts[i]), i))

    assert compressor.rerank(corpus, QUERY) == [
        {"index": i, "relevance_score": overlap_score(QUERY, texts[i])} for i in order[:2]
    ]
    everything = compressor.rerank(texts, QUERY, top_n=None)  # plain strings work too
    assert [r["index"] for r in everything] == order
    assert all(type(r["relevance_score"]) is float for r in everything)
    assert [r["index"] for r in compressor.rerank(texts, QUERY, top_n=5)] == order[:5]


async def test_async_is_native_and_never_runs_the_sync_path(corpus, overlap_backend):
    compressor = compressor_on(overlap_backend, top_n=3)
    compressed = await compressor.acompress_documents(corpus, QUERY)

    assert [d.id for d in compressed] == expected_order(corpus)[:3]
    assert sync_calls(overlap_backend) == 0
    assert async_calls(overlap_backend) == [(threading.get_ident(), True)]  # on this loop's thread
    assert await compressor.arerank(corpus, QUERY, top_n=1) == [
        {"index": 0, "relevance_score": overlap_score(QUERY, corpus[0].page_content)}
    ]
    assert sync_calls(overlap_backend) == 0


def test_serialization_never_exposes_the_api_key():
    secret = "sk-live-do-not-leak-4242"
    compressor = RerankCompressor(reranker=Reranker(make_overlap_backend(api_key=secret)), top_n=2)
    dumped = [
        repr(compressor),
        str(compressor),
        json.dumps(compressor.model_dump()),
        compressor.model_dump_json(),
        json.dumps(dumpd(compressor)),
        repr(compressor.model_copy()),
    ]
    for text in dumped:
        assert secret not in text
    assert compressor.model_dump() == {
        "model": "overlap/overlap-v1",
        "top_n": 2,
        "score_threshold": None,
        "score_key": "relevance_score",
        "metadata_fields": [],
    }


def test_tracing_run_is_a_child_of_the_callbacks_passed_in(corpus, overlap_backend):
    compressor = compressor_on(overlap_backend, top_n=2)
    collector = RunCollectorCallbackHandler()
    recorder = EventRecorder()

    def parent(query: str) -> list[Document]:
        return list(compressor.compress_documents(corpus, query))  # no callbacks: taken from context

    compressed = RunnableLambda(parent, name="parent").invoke(
        QUERY, config={"callbacks": [collector, recorder]}
    )

    (root,) = collector.traced_runs
    (child,) = root.child_runs
    assert child.name == "RerankCompressor"
    assert child.parent_run_id == root.id
    assert child.inputs == {"query": QUERY, "num_documents": len(corpus)}
    assert child.outputs == {
        "indices": [next(i for i, d in enumerate(corpus) if d.id == c.id) for c in compressed],
        "scores": [c.metadata["relevance_score"] for c in compressed],
        "model": "overlap/overlap-v1",
        "score_kind": "similarity",
    }
    assert child.extra["metadata"]["rerankit_model"] == "overlap/overlap-v1"
    (start,) = recorder.named("chain_start", "RerankCompressor")
    (end,) = [e for e in recorder.named("chain_end") if e["run_id"] == start["run_id"]]
    assert end["outputs"]["scores"] == child.outputs["scores"]


def test_tracing_records_the_error_of_a_failed_rerank(corpus, overlap_backend):
    recorder = EventRecorder()
    with pytest.raises(InvalidInputError, match="index 1"):
        compressor_on(overlap_backend).compress_documents(
            [corpus[0], Document(" ", id="blank")], QUERY, callbacks=[recorder]
        )
    (start,) = recorder.named("chain_start", "RerankCompressor")
    (error,) = recorder.named("chain_error")
    assert error["run_id"] == start["run_id"]
    assert isinstance(error["error"], InvalidInputError)
    assert recorder.named("chain_end") == []


class AsyncRecorder(AsyncCallbackHandler):
    """An async handler: events must reach it from the native async path."""

    def __init__(self) -> None:
        self.starts: list[dict] = []
        self.ends: list[dict] = []

    async def on_chain_start(self, serialized, inputs, **kwargs) -> None:
        self.starts.append({"inputs": inputs, **kwargs})

    async def on_chain_end(self, outputs, **kwargs) -> None:
        self.ends.append({"outputs": outputs, **kwargs})


async def test_async_tracing_reaches_async_handlers(corpus, overlap_backend):
    handler = AsyncRecorder()
    compressed = await compressor_on(overlap_backend, top_n=3).acompress_documents(
        corpus, QUERY, callbacks=[handler]
    )
    (start,) = handler.starts
    (end,) = handler.ends
    assert start["name"] == "RerankCompressor"
    assert start["inputs"] == {"query": QUERY, "num_documents": len(corpus)}
    assert end["run_id"] == start["run_id"]
    assert end["outputs"]["scores"] == [d.metadata["relevance_score"] for d in compressed]


def test_normalize_and_the_threshold_act_on_the_mapped_score(corpus) -> None:
    """A logit model thresholded at 0.5 after normalize=True keeps the documents whose logit >= 0."""
    logits = {d.page_content: float(i) - 2.5 for i, d in enumerate(corpus)}  # -2.5, -1.5, ...
    backend = FakeBackend("logits", "logit-model", scores=logits, score_scale="logit")
    compressor = RerankCompressor(reranker=Reranker(backend, normalize=True), top_n=None, score_threshold=0.5)
    kept = compressor.compress_documents(corpus, QUERY)
    assert {d.page_content for d in kept} == {text for text, logit in logits.items() if logit >= 0}
    assert all(
        d.metadata["score_kind"] == "probability" and 0.5 <= d.metadata["relevance_score"] < 1 for d in kept
    )
    built = RerankCompressor(model="cohere/rerank-v3.5", api_key="k", normalize=True)  # a Reranker option
    assert built.reranker.score_mapping.normalize is True
