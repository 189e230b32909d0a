"""Real clients against ``rerankit serve`` over HTTP: rerankit's own remote backends and the
third-party Cohere clients of LangChain and LlamaIndex all get the in-process scores."""

from __future__ import annotations

import httpx
import pytest

from rerankit import Reranker
from rerankit.serve import BackgroundServer

from .conftest import API_KEY, DOCUMENTS, MODEL_NAME, QUERY


@pytest.fixture(scope="module")
def in_process(bert_spec: str) -> dict[int, float]:
    """The scores the served model gives in this process, by document index."""
    with Reranker(bert_spec, device="cpu") as reranker:
        response = reranker.rerank(QUERY, DOCUMENTS)
    return {result.index: result.relevance_score for result in response.results}


@pytest.mark.parametrize("provider", ["gateway", "cohere", "jina"])
def test_rerankit_backends_get_the_in_process_scores(
    server: BackgroundServer, in_process: dict[int, float], provider: str
) -> None:
    with Reranker(f"{provider}/{MODEL_NAME}", base_url=server.base_url, api_key=API_KEY) as client:
        response = client.rerank(QUERY, DOCUMENTS)
    assert response.backend == provider
    scores = {result.index: result.relevance_score for result in response.results}
    assert scores.keys() == in_process.keys()
    for index, score in in_process.items():
        assert scores[index] == pytest.approx(score, abs=1e-6)
    assert [r.index for r in response.results] == sorted(in_process, key=lambda i: (-in_process[i], i))


async def test_async_gateway_client_and_top_n(server: BackgroundServer, in_process: dict[int, float]) -> None:
    async with Reranker(f"gateway/{MODEL_NAME}", base_url=server.base_url, api_key=API_KEY) as client:
        response = await client.arerank(QUERY, DOCUMENTS, top_n=2)
    best = sorted(in_process, key=lambda i: (-in_process[i], i))[:2]
    assert [r.index for r in response.results] == best
    assert response.results[0].relevance_score == pytest.approx(in_process[best[0]], abs=1e-6)


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank"])
def test_answer_shape_on_every_route(
    server: BackgroundServer, in_process: dict[int, float], path: str
) -> None:
    body = {"model": MODEL_NAME, "query": QUERY, "documents": [DOCUMENTS[0], {"text": DOCUMENTS[1]}]}
    reply = httpx.post(server.base_url + path, json=body, headers={"Authorization": f"Bearer {API_KEY}"})
    assert reply.status_code == 200, reply.text
    payload = reply.json()
    assert payload["model"] == MODEL_NAME
    assert payload["id"] == reply.headers["x-request-id"]
    assert {r["index"] for r in payload["results"]} == {0, 1}
    for result in payload["results"]:
        assert result["relevance_score"] == pytest.approx(in_process[result["index"]], abs=1e-6)
    # Jina and vLLM echo documents by default; Cohere's v2 API never does.
    echoed = path != "/v2/rerank"
    assert all(("document" in r) is echoed for r in payload["results"])
    if echoed:
        assert {r["document"]["text"] for r in payload["results"]} == {DOCUMENTS[0], DOCUMENTS[1]}
    usage = payload["usage"]
    assert usage["prompt_tokens"] == usage["total_tokens"] > 0
    if path == "/v2/rerank":
        assert payload["meta"]["api_version"] == {"version": "2"}
        assert payload["meta"]["tokens"]["input_tokens"] == usage["prompt_tokens"]
    else:
        assert "meta" not in payload


def test_prompt_tokens_count_query_document_and_special_tokens(server: BackgroundServer, bert_dir) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(bert_dir)
    # The tokenizer's own pair encoding, document by document: what the model reads.
    expected = sum(len(tokenizer(QUERY, text)["input_ids"]) for text in DOCUMENTS[:3])
    reply = httpx.post(
        server.base_url + "/v1/rerank",
        json={"query": QUERY, "documents": DOCUMENTS[:3], "return_documents": False},
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert reply.json()["usage"]["prompt_tokens"] == expected
    assert all("document" not in r for r in reply.json()["results"])


def test_langchain_cohere_rerank_against_v2(server: BackgroundServer, in_process: dict[int, float]) -> None:
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document

    reranker = CohereRerank(model=MODEL_NAME, base_url=server.base_url, cohere_api_key=API_KEY, top_n=3)
    documents = [Document(page_content=text, metadata={"n": i}) for i, text in enumerate(DOCUMENTS)]
    compressed = reranker.compress_documents(documents, QUERY)
    best = sorted(in_process, key=lambda i: (-in_process[i], i))[:3]
    assert [doc.metadata["n"] for doc in compressed] == best
    for doc in compressed:
        assert doc.metadata["relevance_score"] == pytest.approx(in_process[doc.metadata["n"]], abs=1e-6)


def test_llama_index_cohere_rerank_against_v2(server: BackgroundServer, in_process: dict[int, float]) -> None:
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
    from llama_index.postprocessor.cohere_rerank import CohereRerank

    postprocessor = CohereRerank(model=MODEL_NAME, api_key=API_KEY, base_url=server.base_url, top_n=2)
    nodes = [
        NodeWithScore(node=TextNode(text=text, id_=f"n{i}"), score=0.0) for i, text in enumerate(DOCUMENTS)
    ]
    reranked = postprocessor.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    best = sorted(in_process, key=lambda i: (-in_process[i], i))[:2]
    assert [node.node.id_ for node in reranked] == [f"n{i}" for i in best]
    for node in reranked:
        assert node.score == pytest.approx(in_process[int(node.node.id_[1:])], abs=1e-6)


def test_wrong_key_from_a_third_party_client_is_refused(server: BackgroundServer) -> None:
    from cohere.errors import UnauthorizedError
    from langchain_cohere import CohereRerank

    reranker = CohereRerank(model=MODEL_NAME, base_url=server.base_url, cohere_api_key="wrong-key")
    with pytest.raises(UnauthorizedError) as caught:
        reranker.rerank(DOCUMENTS, QUERY)
    assert "wrong-key" not in str(caught.value) and API_KEY not in str(caught.value)
