"""The LlamaIndex postprocessor reranks ImageNodes (image, image_path, image_url) and mixed lists."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

import pytest
from llama_index.core.schema import ImageNode, NodeWithScore, QueryBundle, TextNode

from rerankit import InvalidInputError
from rerankit.llama_index import RerankPostprocessor
from rerankit.testing.servers import RerankServer, expected_score, stand_in_text

QUERY = "a revenue chart"


def png(color: str) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def vllm():
    with RerankServer("vllm", api_key=None) as server:
        yield server


def nodes(tmp_path: Path) -> list[NodeWithScore]:
    (tmp_path / "blue.png").write_bytes(png("blue"))
    green = "data:image/png;base64," + base64.b64encode(png("green")).decode()
    return [
        NodeWithScore(node=TextNode(text="quarterly revenue grew"), score=0.5),
        NodeWithScore(node=ImageNode(image=base64.b64encode(png("red")).decode()), score=0.4),
        NodeWithScore(node=ImageNode(image_path=str(tmp_path / "blue.png"), text="revenue chart"), score=0.3),
        NodeWithScore(node=ImageNode(image_url=green), score=0.2),
    ]


EXPECTED_TEXTS = [
    "quarterly revenue grew",
    stand_in_text([], [png("red")]),
    stand_in_text(["revenue chart"], [png("blue")]),
    stand_in_text([], [png("green")]),
]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_image_nodes_and_text_nodes_are_ranked_together(
    vllm: RerankServer, tmp_path: Path, mode: str
) -> None:
    given = nodes(tmp_path)
    rerank = RerankPostprocessor(
        model="gateway/Qwen/Qwen3-VL-Reranker-2B", base_url=vllm.base_url, top_n=None
    )
    if mode == "sync":
        reranked = rerank.postprocess_nodes(given, query_str=QUERY)
    else:
        reranked = asyncio.run(rerank.apostprocess_nodes(given, QueryBundle(QUERY)))
    expected = {i: expected_score(QUERY, text) for i, text in enumerate(EXPECTED_TEXTS)}
    order = sorted(expected, key=expected.__getitem__, reverse=True)
    # copies of the given nodes (their metadata says the score's kind), in the expected order
    assert [scored.node.node_id for scored in reranked] == [given[i].node.node_id for i in order]
    for scored in reranked:
        original = next(n.node for n in given if n.node.node_id == scored.node.node_id)
        assert scored.node is not original
        fields = ("image", "image_path", "image_url", "text")
        assert [getattr(scored.node, f, None) for f in fields] == [getattr(original, f, None) for f in fields]
        assert scored.node.metadata["score_kind"] == "relevance"
    assert [scored.score for scored in reranked] == pytest.approx([expected[i] for i in order])
    assert all(type(scored.score) is float for scored in reranked)
    sent = vllm.requests[0].json["documents"]
    assert sent[0] == "quarterly revenue grew" and sent[2]["content"][1] == {
        "type": "text",
        "text": "revenue chart",
    }


def test_an_image_url_is_fetched_only_when_the_reranker_allows_it(vllm: RerankServer) -> None:
    node = NodeWithScore(node=ImageNode(image_url="http://127.0.0.1:9/page.png"))
    rerank = RerankPostprocessor(model="gateway/m", base_url=vllm.base_url)
    with pytest.raises(InvalidInputError, match=r"index 0: it is an image URL .*fetch_image_urls=True"):
        rerank.postprocess_nodes([node], query_str=QUERY)
    assert vllm.requests == []


def test_a_text_only_backend_refuses_image_nodes_before_sending() -> None:
    with RerankServer("cohere") as cohere:
        rerank = RerankPostprocessor(model="cohere/rerank-v3.5", base_url=cohere.base_url, api_key="test-key")
        image = NodeWithScore(node=ImageNode(image=base64.b64encode(png("red")).decode()))
        with pytest.raises(
            InvalidInputError, match=r"document at index 1 holds an image, and backend 'cohere'"
        ):
            rerank.postprocess_nodes([NodeWithScore(node=TextNode(text="a")), image], query_str=QUERY)
        assert cohere.requests == []


def test_bad_base64_in_an_image_node_is_named_by_index(vllm: RerankServer) -> None:
    rerank = RerankPostprocessor(model="gateway/m", base_url=vllm.base_url)
    with pytest.raises(InvalidInputError, match=r"node at index 0 .*not valid base64"):
        rerank.postprocess_nodes([NodeWithScore(node=ImageNode(image="%%%"))], query_str=QUERY)
