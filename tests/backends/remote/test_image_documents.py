"""Image documents over real HTTP: the gateway sends vLLM's content parts, Jina sends
jina-reranker-m0's ``{"image"}`` documents, every other provider refuses before sending."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest

from rerankit import Image, InvalidInputError, Reranker
from rerankit.testing.servers import RerankServer, expected_score, stand_in_text
from tests.loopback import SPECS


def png(color: str, size: tuple[int, int] = (40, 30)) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


RED, BLUE = png("red"), png("blue")
QUERY = "a red chart of revenue"


def documents() -> list:
    return [
        "BM25 is a ranking function",
        Image.from_bytes(RED),
        [Image.from_bytes(BLUE), "revenue chart"],
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(RED).decode()},
        },
    ]


#: What the loopback servers score each of documents() as.
STAND_INS = [
    "BM25 is a ranking function",
    stand_in_text([], [RED]),
    stand_in_text(["revenue chart"], [BLUE]),
    stand_in_text([], [RED]),
]


def by_index(response) -> list[float]:
    return [result.relevance_score for result in sorted(response.results, key=lambda r: r.index)]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_gateway_sends_image_documents_as_vllm_content_parts(mode: str) -> None:
    given = documents()
    with RerankServer("vllm", api_key=None) as server:
        reranker = Reranker("gateway/Qwen/Qwen3-VL-Reranker-2B", base_url=server.base_url)
        if mode == "sync":
            response = reranker.rerank(QUERY, given)
        else:
            response = asyncio.run(reranker.arerank(QUERY, given))
        sent = server.requests[0].json["documents"]
    assert by_index(response) == pytest.approx([expected_score(QUERY, text) for text in STAND_INS])
    # the same image twice (bytes, then a data URL part) is sent once
    assert response.usage.pairs_scored == 3 and len(sent) == 3
    assert sent[0] == "BM25 is a ranking function"
    assert sent[1] == {
        "content": [
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64," + base64.b64encode(RED).decode()},
            }
        ]
    }
    assert sent[2]["content"][1] == {"type": "text", "text": "revenue chart"}
    assert base64.b64decode(sent[2]["content"][0]["image_url"]["url"].partition(",")[2]) == BLUE
    assert [given[r.index] is r.document for r in response.results] == [True] * 4


def test_jina_m0_sends_images_in_jina_s_documented_shape() -> None:
    with RerankServer("jina") as server:
        reranker = Reranker("jina/jina-reranker-m0", base_url=server.base_url, api_key="test-key")
        response = reranker.rerank(QUERY, documents())
        sent = server.requests[0].json["documents"]
    assert by_index(response) == pytest.approx([expected_score(QUERY, text) for text in STAND_INS])
    assert sent == [
        "BM25 is a ranking function",
        {"image": base64.b64encode(RED).decode()},
        {"image": base64.b64encode(BLUE).decode(), "text": "revenue chart"},
    ]


def test_jina_m0_refuses_two_images_in_one_document_before_sending() -> None:
    with RerankServer("jina") as server:
        reranker = Reranker("jina/jina-reranker-m0", base_url=server.base_url, api_key="test-key")
        with pytest.raises(
            InvalidInputError, match=r"index 1: jina-reranker-m0 takes one image per document"
        ):
            reranker.rerank(QUERY, ["text", [Image.from_bytes(RED), Image.from_bytes(BLUE)]])
        assert server.requests == []


TEXT_ONLY = {
    **{provider: spec for provider, spec in SPECS.items() if provider != "gateway"},
    "jina": "jina/jina-reranker-v2-base-multilingual",
}


@pytest.mark.parametrize("provider", sorted(TEXT_ONLY))
def test_providers_that_take_no_images_refuse_before_sending_naming_provider_and_index(provider: str) -> None:
    server_provider = provider
    with RerankServer(server_provider) as server:
        options = {"base_url": server.base_url, "api_key": "test-key"}
        if provider == "pinecone":
            options["api_key"] = "test-key"
        reranker = Reranker(TEXT_ONLY[provider], **options)
        with pytest.raises(InvalidInputError) as caught:
            reranker.rerank(QUERY, ["a text", "another", Image.from_bytes(RED)])
        assert server.requests == []
    assert caught.value.provider == provider
    assert f"document at index 2 holds an image, and backend {provider!r}" in caught.value.message


def test_a_text_only_fallback_is_never_sent_image_documents() -> None:
    with (
        RerankServer("vllm", api_key=None) as vllm,
        RerankServer("cohere", fault_rate=1.0, faults=["503"]) as down,
    ):
        cohere = Reranker("cohere/rerank-v3.5", base_url=down.base_url, api_key="test-key", max_retries=0)
        reranker = Reranker("gateway/m", base_url=vllm.base_url, fallbacks=[cohere])
        assert reranker.rerank(QUERY, documents()).backend == "gateway"
        primary = Reranker("cohere/rerank-v3.5", base_url=down.base_url, api_key="test-key")
        with pytest.raises(InvalidInputError, match="takes text documents only"):
            Reranker(primary.backend, fallbacks=[reranker]).rerank(QUERY, documents())
        assert down.requests == []
