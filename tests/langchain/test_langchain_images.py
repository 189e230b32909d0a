"""The LangChain compressor takes LangChain's image documents: ``page_content`` holding the image as
base64, as ``langchain_chroma.Chroma.add_images`` stores images and its retrievers return them."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from langchain_core.documents import Document

from rerankit import InvalidInputError
from rerankit.langchain import RerankCompressor
from rerankit.testing.servers import RerankServer, expected_score, stand_in_text

QUERY = "a revenue chart"


def png(color: str) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), color).save(buffer, format="PNG")
    return buffer.getvalue()


def documents() -> list[Document]:
    return [
        Document("quarterly revenue grew", id="t"),
        Document(base64.b64encode(png("red")).decode(), id="r", metadata={"title": "revenue chart"}),
        Document("data:image/png;base64," + base64.b64encode(png("blue")).decode(), id="b"),
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_base64_image_documents_are_scored_as_images(mode: str) -> None:
    with RerankServer("vllm", api_key=None) as vllm:
        compressor = RerankCompressor(
            model="gateway/Qwen/Qwen3-VL-Reranker-2B",
            base_url=vllm.base_url,
            top_n=None,
            metadata_fields=["title"],
        )
        given = documents()
        if mode == "sync":
            kept = compressor.compress_documents(given, QUERY)
        else:
            kept = asyncio.run(compressor.acompress_documents(given, QUERY))
        sent = vllm.requests[0].json["documents"]
    texts = [
        "quarterly revenue grew",
        stand_in_text(["title: revenue chart"], [png("red")]),
        stand_in_text([], [png("blue")]),
    ]
    expected = {doc_id: expected_score(QUERY, text) for doc_id, text in zip("trb", texts, strict=True)}
    assert {d.id: d.metadata["relevance_score"] for d in kept} == pytest.approx(expected)
    assert [d.page_content for d in kept if d.id == "r"] == [given[1].page_content], (
        "the copy keeps page_content"
    )
    assert sent[0] == "quarterly revenue grew"
    assert sent[1]["content"][1] == {"type": "text", "text": "title: revenue chart"}


def test_text_documents_are_unchanged_and_text_only_backends_refuse_images() -> None:
    with RerankServer("cohere") as cohere:
        compressor = RerankCompressor(
            model="cohere/rerank-v3.5", base_url=cohere.base_url, api_key="test-key"
        )
        kept = compressor.compress_documents([Document("BM25 ranks documents"), Document("a fruit")], "bm25")
        assert cohere.requests[0].json["documents"] == ["BM25 ranks documents", "a fruit"] and len(kept) == 2
        with pytest.raises(InvalidInputError, match=r"index 1 holds an image, and backend 'cohere'"):
            compressor.compress_documents(documents(), QUERY)
        assert len(cohere.requests) == 1
