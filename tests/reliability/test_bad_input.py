"""The bad-input catalogue, core and both adapters: each input either works correctly or is
refused with a clear error.

A refused call raises a :class:`~rerankit.RerankError` that is also a ``ValueError``, names the
problem (the type, the bad document's index, the option) and sends nothing to any backend.

Decisions: a text is blank when it shows nothing (whitespace, control or format characters
only: NUL, zero-width space/joiners, BOM); such a query or document is refused. NUL, RTL marks or
zero-width joiners inside visible text are kept as they are. Lone surrogates are refused (UTF-8
cannot carry them). Texts are not normalized: NFC and NFD spellings are different documents.
Sets and mappings are refused as ``documents`` (no order for the indices to point into).
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

import numpy as np
import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

from rerankit import ConfigurationError, InvalidInputError, Reranker, RerankError
from rerankit.langchain import RerankCompressor
from rerankit.llama_index import RerankPostprocessor
from rerankit.testing import FakeBackend

OK_DOCS = ["first document", "second document"]


def refused(id, error, match, query="q", documents=OK_DOCS, **options):
    """A core call that must raise ``error`` with a message matching ``match``."""
    return pytest.param(query, documents, options, error, match, id=id)


REFUSED_CALLS = [
    # the query
    refused("query-None", InvalidInputError, "query is required for rerank", query=None),
    refused("query-empty", InvalidInputError, "query is required for rerank", query=""),
    refused("query-whitespace", InvalidInputError, "query is required for rerank", query=" \t\n\u3000"),
    refused("query-bytes", InvalidInputError, "got bytes, expected str", query=b"what is bm25"),
    refused("query-int", InvalidInputError, "got int, expected str", query=42),
    refused("query-list", InvalidInputError, "got list, expected str", query=["what", "is"]),
    refused("query-NUL-only", InvalidInputError, r"query is required.*U\+0000", query="\x00\x00"),
    refused("query-zero-width-only", InvalidInputError, r"query is required.*U\+200B", query="\u200b\u200d"),
    refused(
        "query-lone-surrogate", InvalidInputError, r"query is not valid Unicode.*U\+D800", query="bm\ud800"
    ),
    # the documents as a whole
    refused("documents-None", InvalidInputError, "documents are required for rerank", documents=None),
    refused("documents-empty", InvalidInputError, "documents are required for rerank", documents=[]),
    refused("documents-str", InvalidInputError, "sequence of strings, got str", documents="one document"),
    refused("documents-bytes", InvalidInputError, "sequence of strings, got bytes", documents=b"doc"),
    refused("documents-dict", InvalidInputError, "sequence of strings, got dict", documents={"a": "b"}),
    refused("documents-set", InvalidInputError, "got set .unordered", documents={"a", "b"}),
    refused("documents-int", InvalidInputError, "sequence of strings, got int", documents=7),
    # one bad document, named by its index
    refused("document-bytes", InvalidInputError, "at index 1: got bytes", documents=["a", b"b"]),
    refused("document-None", InvalidInputError, "at index 2: got NoneType", documents=["a", "b", None]),
    refused("document-float", InvalidInputError, "at index 0: got float", documents=[3.5, "b"]),
    refused("document-nested-list", InvalidInputError, "at index 1: got list", documents=["a", ["b", "c"]]),
    refused(
        "document-langchain", InvalidInputError, "at index 1: got Document", documents=["a", Document("b")]
    ),
    refused("document-empty", InvalidInputError, "required for rerank at index 1$", documents=["a", ""]),
    refused(
        "document-unicode-spaces", InvalidInputError, "at index 1$", documents=["a", "\xa0\u2003\u3000\n"]
    ),
    refused("document-zero-width", InvalidInputError, r"at index 1 .*U\+200B", documents=["a", "\u200b"]),
    refused("document-bom", InvalidInputError, r"at index 0 .*U\+FEFF", documents=["\ufeff ", "a"]),
    refused(
        "document-surrogate", InvalidInputError, r"index 1 is not valid.*U\+DC80", documents=["a", "x\udc80"]
    ),
    # top_n and score_threshold
    refused("top_n-negative", InvalidInputError, "top_n must be at least 1", top_n=-3),
    refused("top_n-zero", InvalidInputError, "top_n must be at least 1", top_n=0),
    refused("top_n-str", InvalidInputError, "top_n must be an integer, got str", top_n="3"),
    refused("top_n-float", InvalidInputError, "top_n must be an integer, got float", top_n=2.0),
    refused("top_n-bool", InvalidInputError, "top_n must be an integer, got bool", top_n=True),
    refused(
        "threshold-NaN",
        InvalidInputError,
        "score_threshold must be a finite number",
        score_threshold=math.nan,
    ),
    refused("threshold-inf", InvalidInputError, "finite number, got -inf", score_threshold=-math.inf),
    refused("threshold-str", InvalidInputError, "must be a number, got str", score_threshold="0.5"),
    refused("threshold-bool", InvalidInputError, "must be a number, got bool", score_threshold=False),
    refused(
        "threshold-Decimal",
        InvalidInputError,
        "must be a number, got Decimal",
        score_threshold=Decimal("0.5"),
    ),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("query", "documents", "options", "error", "match"), REFUSED_CALLS)
def test_bad_call_is_refused_naming_the_problem(query, documents, options, error, match, mode) -> None:
    backend = FakeBackend()
    reranker = Reranker(backend)
    with pytest.raises(error, match=match) as caught:
        if mode == "sync":
            reranker.rerank(query, documents, **options)
        else:
            asyncio.run(reranker.arerank(query, documents, **options))
    assert isinstance(caught.value, RerankError) and isinstance(caught.value, ValueError)
    assert backend.requests == []


def assert_ranked(response, documents, backend: FakeBackend, top_n=None) -> None:
    """All (or the best ``top_n``) documents, each exactly as given and with its own score."""
    assert len(response.results) == min(len(documents), top_n or len(documents))
    assert len({r.index for r in response.results}) == len(response.results)
    for result in response.results:
        assert result.document is documents[result.index] or result.document == documents[result.index]
        assert result.relevance_score == backend.score_of(documents[result.index])
    scores = [r.relevance_score for r in response.results]
    assert scores == sorted(scores, reverse=True)


WORKING_DOCUMENTS = [
    pytest.param(["a\x00b", "plain"], id="NUL-inside-text"),
    pytest.param(["\u202eright-to-left override", "مرحبا بالعالم", "\u200fשלום"], id="RTL-text-and-marks"),
    pytest.param(["👩\u200d👩\u200d👧 family", "🔥", "\U0001f600"], id="emoji-and-ZWJ-sequences"),
    pytest.param(["caf\u00e9", "cafe\u0301"], id="NFC-and-NFD-are-different-documents"),
    pytest.param(["\U00010348 gothic", "\U0010fffd private use"], id="astral-plane"),
    pytest.param(("tuple", "of", "strings"), id="tuple"),
    pytest.param(np.array(["numpy", "strings"]), id="numpy-array-of-str"),
]


@pytest.mark.parametrize("documents", WORKING_DOCUMENTS)
def test_unusual_but_valid_documents_work(documents) -> None:
    backend = FakeBackend()
    response = Reranker(backend).rerank("q", documents)
    assert_ranked(response, list(documents), backend)
    assert sorted(t for r in backend.requests for t in r) == sorted(set(documents))


def test_a_generator_of_documents_is_consumed_once_and_works() -> None:
    backend = FakeBackend()
    documents = [f"doc {i}" for i in range(5)]
    assert_ranked(Reranker(backend).rerank("q", (d for d in documents), top_n=2), documents, backend, top_n=2)


def test_numpy_numbers_and_huge_top_n_work() -> None:
    backend = FakeBackend()
    reranker = Reranker(backend)
    assert_ranked(reranker.rerank("q", OK_DOCS, top_n=np.int64(1)), OK_DOCS, backend, top_n=1)
    assert_ranked(reranker.rerank("q", OK_DOCS, top_n=10**12), OK_DOCS, backend)
    kept = reranker.rerank("q", OK_DOCS, score_threshold=np.float32(0.0))
    assert_ranked(kept, OK_DOCS, backend)
    assert reranker.rerank("q", OK_DOCS, score_threshold=1e308).results == []


def test_a_huge_document_is_passed_through_whole() -> None:
    backend = FakeBackend()
    huge = "word " * 2_000_000  # 10 MB
    response = Reranker(backend).rerank("q", ["short", huge])
    assert backend.requests == [["short", huge]]
    assert_ranked(response, ["short", huge], backend)


async def test_100k_documents_are_all_ranked_over_many_requests() -> None:
    backend = FakeBackend(max_documents_per_request=1000, max_concurrency=8)
    documents = [f"document number {i}" for i in range(100_000)]
    response = await Reranker(backend).arerank("q", documents)
    assert len(backend.requests) == 100 and all(len(r) == 1000 for r in backend.requests)
    assert sorted(r.index for r in response.results) == list(range(100_000))
    for result in response.results[::997]:
        assert result.relevance_score == backend.score_of(documents[result.index])
    assert response.usage.documents == 100_000 and response.usage.requests == 100


REFUSED_CONSTRUCTIONS = [
    pytest.param(
        lambda: Reranker("openai/gpt-4o"), r"unknown backend 'openai'.*valid backends", id="unknown-prefix"
    ),
    pytest.param(
        lambda: Reranker("cohere"), "must look like '<backend>/<model id>'", id="spec-without-model"
    ),
    pytest.param(lambda: Reranker(""), "must look like '<backend>/<model id>'", id="empty-spec"),
    pytest.param(lambda: Reranker("local/"), "must look like '<backend>/<model id>'", id="spec-empty-model"),
    pytest.param(lambda: Reranker(None), "spec string.*got NoneType", id="model-None"),
    pytest.param(lambda: Reranker(b"local/x"), "spec string.*got bytes", id="model-bytes"),
    pytest.param(
        lambda: Reranker("local/some-model", temperature=0.2),
        r"unknown option\(s\) 'temperature' for backend 'local'; valid options: device",
        id="unknown-option-local",
    ),
    pytest.param(
        lambda: Reranker(FakeBackend(), device="cpu"), "cannot be applied", id="options-on-a-backend"
    ),
    pytest.param(
        lambda: Reranker("cohere/rerank-v3.5", api_key="k", temprature=0),
        r"unknown option\(s\) 'temprature' for backend 'cohere'; valid options: base_url, api_key",
        id="unknown-option-remote",
    ),
    pytest.param(
        lambda: Reranker("cohere/rerank-v3.5"),
        "cohere needs an API key: pass api_key=... or set COHERE_API_KEY or CO_API_KEY",
        id="missing-key",
    ),
    pytest.param(lambda: Reranker("jina/m", api_key="  "), "api_key is empty", id="blank-key"),
    pytest.param(lambda: Reranker("jina/m", api_key=123), "api_key must be a string", id="key-int"),
    pytest.param(lambda: Reranker("gateway/m"), "gateway needs an address", id="gateway-without-address"),
    pytest.param(lambda: Reranker("jina/m", api_key="k", timeout=-1), "timeout", id="negative-timeout"),
    pytest.param(
        lambda: Reranker("jina/m", api_key="k", max_retries="3"), "max_retries", id="max_retries-str"
    ),
    pytest.param(lambda: Reranker("jina/m", api_key="k", deadline=math.nan), "deadline", id="deadline-NaN"),
    pytest.param(
        lambda: Reranker("jina/m", api_key="k", base_url="ftp://example.com"), "base_url", id="base_url-ftp"
    ),
    pytest.param(
        lambda: Reranker("jina/m", api_key="k", max_concurrency=0),
        "max_concurrency",
        id="max_concurrency-zero",
    ),
]


@pytest.mark.parametrize(("build", "match"), REFUSED_CONSTRUCTIONS)
def test_bad_configuration_is_refused_naming_the_problem(build, match, monkeypatch) -> None:
    for variable in ("COHERE_API_KEY", "CO_API_KEY", "RERANKIT_GATEWAY_URL"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigurationError, match=match) as caught:
        build()
    assert isinstance(caught.value, ValueError)


# -- the adapters -----------------------------------------------------------------------------------


def nodes(*texts: str) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=text, id_=f"node-{i}"), score=0.5) for i, text in enumerate(texts)
    ]


def lc(**options):
    return lambda reranker: RerankCompressor(reranker=reranker, **options)


def li(**options):
    return lambda reranker: RerankPostprocessor(reranker=reranker, **options)


# (use(reranker), error, message): each must raise a ValueError (most a RerankError) naming the problem.
ADAPTER_CASES = [
    # LangChain RerankCompressor
    pytest.param(lc(top_n="3"), InvalidInputError, "top_n must be an integer, got str", id="lc-top_n-str"),
    pytest.param(lc(top_n=-1), InvalidInputError, "top_n must be at least 1", id="lc-top_n-negative"),
    pytest.param(lc(score_threshold=math.nan), InvalidInputError, "finite number", id="lc-threshold-NaN"),
    pytest.param(
        lc(score_key=""), ConfigurationError, "score_key must be a non-empty string", id="lc-score_key"
    ),
    pytest.param(
        lc(metadata_fields="title"), ConfigurationError, "metadata_fields must be a list", id="lc-fields-str"
    ),
    pytest.param(
        lc(temperature=1),
        ConfigurationError,
        "not both .got reranker and temperature",
        id="lc-unknown-option",
    ),
    pytest.param(lambda r: RerankCompressor(), ConfigurationError, "needs a model spec", id="lc-no-model"),
    pytest.param(
        lambda r: RerankCompressor(model="nope/x"),
        ConfigurationError,
        "unknown backend 'nope'",
        id="lc-bad-spec",
    ),
    pytest.param(
        lambda r: RerankCompressor(model="local/m", temperature=1),
        ConfigurationError,
        "unknown option.*'temperature' for backend 'local'",
        id="lc-unknown-backend-option",
    ),
    pytest.param(
        lambda r: RerankCompressor(reranker="cohere/x"), ConfigurationError, "got str", id="lc-reranker-str"
    ),
    pytest.param(
        lambda r: lc()(r).compress_documents(None, "q"),
        InvalidInputError,
        "got NoneType",
        id="lc-documents-None",
    ),
    pytest.param(
        lambda r: lc()(r).compress_documents(["text"], "q"),
        InvalidInputError,
        "index 0 must be a Document, got str",
        id="lc-documents-of-str",
    ),
    pytest.param(
        lambda r: lc()(r).compress_documents([Document("a"), Document(" \u200b")], "q"),
        InvalidInputError,
        "at index 1",
        id="lc-blank-document",
    ),
    pytest.param(
        lambda r: lc()(r).compress_documents([Document("a\udc80")], "q"),
        InvalidInputError,
        "index 0 is not valid Unicode",
        id="lc-surrogate-document",
    ),
    pytest.param(
        lambda r: lc()(r).compress_documents([Document("a")], None),
        InvalidInputError,
        "query is required",
        id="lc-query-None",
    ),
    pytest.param(
        lambda r: lc()(r).compress_documents([], ""),
        InvalidInputError,
        "query is required",
        id="lc-empty-both",
    ),
    pytest.param(
        lambda r: lc()(r).rerank(["a", None], "q"),
        InvalidInputError,
        "index 1 must be a Document or a string, got NoneType",
        id="lc-rerank-None-item",
    ),
    pytest.param(
        lambda r: lc()(r).rerank(["a", "b"], "q", top_n=0),
        InvalidInputError,
        "at least 1",
        id="lc-rerank-top_n-0",
    ),
    # LlamaIndex RerankPostprocessor
    pytest.param(li(top_n="3"), ValueError, "top_n must be an integer, got str", id="li-top_n-str"),
    pytest.param(li(top_n=0), ValueError, "top_n must be at least 1", id="li-top_n-zero"),
    pytest.param(li(score_threshold=math.inf), ValueError, "finite number", id="li-threshold-inf"),
    pytest.param(li(score_threshold="high"), ValueError, "must be a number, got str", id="li-threshold-str"),
    pytest.param(li(metadata_mode="bogus"), ValueError, "metadata_mode", id="li-metadata-mode"),
    pytest.param(lambda r: RerankPostprocessor(), ConfigurationError, "needs a model spec", id="li-no-model"),
    pytest.param(
        lambda r: RerankPostprocessor(model="x/y"),
        ConfigurationError,
        "unknown backend 'x'",
        id="li-bad-spec",
    ),
    pytest.param(
        lambda r: RerankPostprocessor(reranker=r, api_key="k"),
        ConfigurationError,
        "not both",
        id="li-reranker-and-options",
    ),
    pytest.param(
        lambda r: li()(r).postprocess_nodes(nodes("a")), ValueError, "needs a query", id="li-no-query"
    ),
    pytest.param(
        lambda r: li()(r).postprocess_nodes(nodes("a"), query_str="  "),
        InvalidInputError,
        "query is required",
        id="li-blank-query",
    ),
    pytest.param(
        lambda r: li()(r).postprocess_nodes(nodes("a", ""), query_str="q"),
        InvalidInputError,
        "node at index 1 .node_id='node-1'. has no text",
        id="li-empty-node",
    ),
    pytest.param(
        lambda r: li()(r).postprocess_nodes(nodes("a", "\ufeff"), query_str="q"),
        InvalidInputError,
        r"at index 1 .*U\+FEFF",
        id="li-invisible-node",
    ),
    pytest.param(
        lambda r: li()(r).postprocess_nodes(None, query_str="q"),
        InvalidInputError,
        "nodes must be a list of NodeWithScore, got NoneType",
        id="li-nodes-None",
    ),
    pytest.param(
        lambda r: li()(r).postprocess_nodes([TextNode(text="a")], query_str="q"),
        InvalidInputError,
        "node at index 0 is a TextNode, not a NodeWithScore",
        id="li-bare-TextNode",
    ),
]


@pytest.mark.parametrize(("use", "error", "match"), ADAPTER_CASES)
def test_bad_adapter_input_is_refused_naming_the_problem(use, error, match) -> None:
    backend = FakeBackend()
    with pytest.raises(error, match=match) as caught:
        use(Reranker(backend))
    assert isinstance(caught.value, ValueError)
    assert backend.requests == []


def test_adapters_pass_unusual_but_valid_text_through() -> None:
    texts = ["a\x00b", "مرحبا", "👩\u200d👩\u200d👧", "cafe\u0301"]
    backend = FakeBackend()
    compressed = RerankCompressor(reranker=Reranker(backend), top_n=None).compress_documents(
        [Document(t) for t in texts], "q"
    )
    assert sorted(d.page_content for d in compressed) == sorted(texts)
    for document in compressed:
        assert document.metadata["relevance_score"] == backend.score_of(document.page_content)
    reranked = RerankPostprocessor(reranker=Reranker(backend), top_n=None).postprocess_nodes(
        nodes(*texts), query_str="q"
    )
    assert sorted(n.node.get_content() for n in reranked) == sorted(texts)
    for node in reranked:
        assert node.score == backend.score_of(node.node.get_content())
