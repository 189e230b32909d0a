"""The onnx backend behind both framework adapters, ``rerankit rank`` and ``rerankit serve``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from rerankit._cli import app
from rerankit.backends import OnnxCrossEncoder

QUERY = "what is bm25"
DOCUMENTS = [
    "BM25 is a bag of words ranking function used by search engines.",
    "Paris is the capital of France.",
    "Rerankers score a query and a document together.",
    "Paris is the capital of France.",  # a duplicate: scored once, listed twice
]


@pytest.fixture(scope="module")
def expected(bert_dir: Path) -> list[float]:
    """The backend's own scores, in input order, without the core."""
    return OnnxCrossEncoder(str(bert_dir)).score(QUERY, DOCUMENTS).values


def test_langchain_compressor(bert_dir: Path, expected: list[float]) -> None:
    pytest.importorskip("langchain_core", reason="the LangChain adapter needs rerankit[langchain]")
    from langchain_core.documents import Document

    from rerankit.langchain import RerankCompressor

    compressor = RerankCompressor(model=f"onnx/{bert_dir}", top_n=3)
    documents = [Document(page_content=text, id=str(i)) for i, text in enumerate(DOCUMENTS)]
    out = compressor.compress_documents(documents, QUERY)
    assert len(out) == 3
    for document in out:
        assert document.metadata["relevance_score"] == pytest.approx(expected[int(document.id)], abs=1e-6)
    assert [d.metadata["relevance_score"] for d in out] == sorted(expected, reverse=True)[:3]


async def test_llama_index_postprocessor(bert_dir: Path, expected: list[float]) -> None:
    pytest.importorskip("llama_index.core", reason="the LlamaIndex adapter needs rerankit[llama-index]")
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from rerankit.llama_index import RerankPostprocessor

    rerank = RerankPostprocessor(model=f"onnx/{bert_dir}", top_n=2)
    nodes = [
        NodeWithScore(node=TextNode(text=text, id_=str(i)), score=0.0) for i, text in enumerate(DOCUMENTS)
    ]
    out = await rerank.apostprocess_nodes(nodes, QueryBundle(QUERY))
    assert len(out) == 2
    for node in out:
        assert node.score == pytest.approx(expected[int(node.node.node_id)], abs=1e-6)


def test_rerankit_rank(bert_dir: Path, tmp_path: Path, expected: list[float]) -> None:
    source = tmp_path / "docs.txt"
    source.write_text("\n".join(DOCUMENTS) + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["rank", f"onnx/{bert_dir}", "--query", QUERY, str(source), "--json", "-o", "batch_size=2"]
    )
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert sorted(item["index"] for item in results) == [0, 1, 2, 3]
    for item in results:
        assert item["relevance_score"] == pytest.approx(expected[item["index"]], abs=1e-6)


def test_rerankit_serve(bert_dir: Path, expected: list[float]) -> None:
    pytest.importorskip("uvicorn", reason="rerankit serve needs rerankit[serve]")
    from rerankit.serve import BackgroundServer, ServeConfig

    config = ServeConfig(spec=f"onnx/{bert_dir}", served_model_name="tiny-onnx")
    with BackgroundServer(config) as server:
        answer = httpx.post(
            f"{server.base_url}/v1/rerank",
            json={"model": "tiny-onnx", "query": QUERY, "documents": DOCUMENTS, "top_n": 4},
            timeout=60,
        )
        info = httpx.get(f"{server.base_url}/info", timeout=10).json()
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    got = np.empty(len(DOCUMENTS))
    for item in results:
        got[item["index"]] = item["relevance_score"]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert "onnx" in json.dumps(info)
