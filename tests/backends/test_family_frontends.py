"""The three new families through every front end: the LangChain compressor, the LlamaIndex
postprocessor and ``rerankit rank``; each result must carry the score the backend gives its text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from typer.testing import CliRunner

from rerankit import Reranker
from rerankit._cli import app
from rerankit.langchain import RerankCompressor
from rerankit.llama_index import RerankPostprocessor
from rerankit.testing.servers import ChatCompletionsServer

QUERY = "what is bm25"
TEXTS = [
    "value 3: BM25 is a bag of words ranking function.",
    "value 9: Bananas are yellow.",
    "value 5: Paris is the capital of France.",
    "value 1: Dense retrieval embeds passages into vectors.",
]


def value(text: str) -> int:
    return int(re.search(r"value (\d+)", text).group(1))


@pytest.fixture
def chat_server():
    with ChatCompletionsServer(relevance=value) as server:
        yield server


@pytest.fixture(params=["t5", "colbert", "listwise"])
def family(request, chat_server) -> tuple[str, dict]:
    if request.param == "t5":
        return f"t5/{request.getfixturevalue('t5_model')}", {"family": "monot5", "device": "cpu"}
    if request.param == "colbert":
        return f"colbert/{request.getfixturevalue('colbert_model')}", {"device": "cpu"}
    return "listwise/test-llm", {"base_url": chat_server.base_url, "api_key": "test-key"}


def expected_scores(spec: str, options: dict) -> dict[str, float]:
    """Each text's score from the backend itself, without the adapters or the core's sorting."""
    backend = Reranker(spec, **options).backend
    return dict(zip(TEXTS, backend.score(QUERY, TEXTS).values, strict=True))


def test_langchain_compressor(family):
    spec, options = family
    expected = expected_scores(spec, options)
    compressor = RerankCompressor(model=spec, top_n=2, **options)
    compressed = compressor.compress_documents([Document(page_content=t) for t in TEXTS], QUERY)
    best_two = sorted(TEXTS, key=expected.get, reverse=True)[:2]
    assert [d.page_content for d in compressed] == best_two
    for doc in compressed:
        assert doc.metadata["relevance_score"] == pytest.approx(expected[doc.page_content], abs=1e-5)
    assert compressor.model == spec


def test_llama_index_postprocessor(family):
    spec, options = family
    expected = expected_scores(spec, options)
    postprocessor = RerankPostprocessor(model=spec, top_n=3, **options)
    nodes = [NodeWithScore(node=TextNode(text=t), score=0.0) for t in TEXTS]
    ranked = postprocessor.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    assert [n.node.get_content() for n in ranked] == sorted(TEXTS, key=expected.get, reverse=True)[:3]
    for node in ranked:
        assert node.score == pytest.approx(expected[node.node.get_content()], abs=1e-5)


def test_cli_rank(family, tmp_path: Path):
    spec, options = family
    expected = expected_scores(spec, options)
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    flags = [part for key, val in options.items() for part in ("-o", f"{key}={val}")]
    result = CliRunner().invoke(
        app,
        ["rank", spec, "-q", QUERY, str(source), "--json", *flags],
        env={"COLUMNS": "200"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["backend"] == spec.partition("/")[0]
    assert [item["document"]["text"] for item in payload["results"]] == sorted(
        TEXTS, key=expected.get, reverse=True
    )
    for item in payload["results"]:
        assert item["relevance_score"] == pytest.approx(expected[TEXTS[item["index"]]], abs=1e-5)


def test_listwise_scores_follow_the_llms_ranking(chat_server):
    response = Reranker("listwise/test-llm", base_url=chat_server.base_url, api_key="test-key").rerank(
        QUERY, TEXTS
    )
    assert [r.document for r in response.results] == sorted(TEXTS, key=value, reverse=True)
